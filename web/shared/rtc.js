// The page's one RTCPeerConnection to the server, signaled over /ws.
//
// The page offers first: its camera and microphone, plus receive-only
// lines for the programme. After that the server may renegotiate (the
// chair's tiles are added as endpoints join; an ICE restart): its offers
// are answered here. If both sides offer at once the page gives way (it is
// the "polite" peer): it rolls its own offer back and answers the server's.
//
// Which remote track is what comes from the server, either in a `tracks`
// message (mid → slot and endpoint) or in the stream id of the track
// (`chair`, `floor`, `content`, `tile-<code>`). Both are read; see `slotOf`.
//
// The lines, in the order the server maps its slots onto them: the audio
// lines (the microphone's first), then the camera's video line, the floor's,
// and a third video line for the `content` slot (a presentation). On a page
// that may present, that line is `sendrecv` from the start with no track:
// the page puts its shared screen on it with `replaceTrack` and takes it
// off again, never renegotiating, and receives the others' presentations
// on the same line. The server reads the second video line a client sends
// on as its presentation, so a page without a camera still keeps a
// sending camera line (empty) ahead of it.

import { Status } from './signaling.js';

const STATS_EVERY_MS = 2000;
// How long the first offer waits for the browser's own candidates. On a
// LAN this is a few milliseconds; a slow STUN server is not waited for.
const GATHER_WAIT_MS = 1500;
// A `failed` connection gets an ICE restart; one that stays broken this
// long after it is rebuilt from scratch.
const RESTART_GRACE_MS = 8000;
// An offer that got no answer this long after it left (lost on a socket
// that was closing, refused for a moment) is made again from scratch:
// otherwise the page would sit without media until the user reloads it.
const ANSWER_WAIT_MS = 10000;

/** Whether the page's link asks for the TURN relay only (`#…&relay=1`). */
export function relayOnlyFromLink(hash = globalThis.location ? location.hash : '') {
  return new URLSearchParams(hash.replace(/^#/, '')).get('relay') === '1';
}

export class MediaLink extends EventTarget {
  /**
   * @param {Signaling} signaling
   * @param {object} opts
   *   `iceServers`: from the server's `welcome`;
   *   `stream`: the local MediaStream to send (or null to only receive);
   *   `receive`: `{audio, video}` how many lines of each kind may receive;
   *   the line that sends our own track counts as one;
   *   `relayOnly`: use the TURN relay only (default: a join link that
   *   ends `&relay=1`, for a room whose network lets nothing else through);
   *   `content`: the direction of the content line, `sendrecv` on a page
   *   that may present, `recvonly` (default) on one that only watches;
   *   `presentation`: `{bitrate_kbps, max_fps}` from the server's `welcome`,
   *   the limits of what the page presents.
   */
  constructor(signaling, opts = {}) {
    super();
    this.signaling = signaling;
    this.iceServers = opts.iceServers || [];
    this.stream = opts.stream || null;
    this.receive = opts.receive || { audio: 1, video: 1 };
    this.relayOnly = opts.relayOnly ?? relayOnlyFromLink();
    this.contentDirection = opts.content || 'recvonly';
    this.presentation = opts.presentation || null;
    // The shared screen, kept across a rebuilt connection.
    this.contentTrack = null;
    this.contentTransceiver = null;
    this.pc = null;
    this.slots = new Map(); // mid -> {slot, endpoint, kind}
    this.tracks = new Map(); // mid -> {track, stream, transceiver}
    this.queuedCandidates = [];
    this.statsTimer = null;
    this.restartTimer = null;
    this.answerTimer = null;
    this.statsAccepted = true;
    this.lastStatsSentAt = 0;
    this.chain = Promise.resolve();
    this.offs = [
      signaling.on('answer', (m) => this.serial(() => this.onAnswer(m))),
      signaling.on('offer', (m) => this.serial(() => this.onOffer(m))),
      signaling.on('candidate', (m) => this.serial(() => this.onCandidate(m))),
      signaling.on('tracks', (m) => this.onTracks(m)),
      signaling.on('replaced', () => this.onReplaced()),
      signaling.on('error', (m) => this.onServerError(m)),
    ];
  }

  /**
   * Runs the server's signaling messages one after another. The server
   * sends its own offer (new tiles) right after its answer; applied side by
   * side, the offer would roll back a local offer whose answer is still
   * being applied, and the connection would end in a state neither expects.
   */
  serial(step) {
    const run = this.chain.then(step);
    this.chain = run.catch(() => {});
    return run;
  }

  /** Starts (or restarts from scratch) the peer connection. */
  async start() {
    this.closePc();
    this.chain = Promise.resolve();
    const pc = new RTCPeerConnection({
      iceServers: this.iceServers,
      iceTransportPolicy: this.relayOnly ? 'relay' : 'all',
      bundlePolicy: 'max-bundle',
      rtcpMuxPolicy: 'require',
    });
    this.pc = pc;
    this.slots.clear();
    this.tracks.clear();
    this.queuedCandidates = [];
    // Candidates found before the offer leaves travel inside it; later ones
    // trickle. Either kind of server then has what it needs.
    let offerSent = false;
    pc.onicecandidate = (e) => {
      if (e.candidate && this.pc === pc && offerSent) {
        this.signaling.send({ type: 'candidate', candidate: e.candidate.toJSON() });
      }
    };
    pc.ontrack = (e) => this.onTrack(e);
    pc.onconnectionstatechange = () => this.onState(pc);
    this.addLines(pc);
    this.makingOffer = true;
    try {
      await pc.setLocalDescription(await pc.createOffer());
      await gathered(pc, GATHER_WAIT_MS);
      if (this.pc !== pc) return;
      if (!this.signaling.send({ type: 'offer', sdp: pc.localDescription.sdp })) {
        console.warn('the offer could not be sent: the signaling socket is not open');
      }
      offerSent = true;
    } finally {
      this.makingOffer = false;
    }
    clearTimeout(this.answerTimer);
    this.answerTimer = setTimeout(() => {
      if (this.pc === pc && pc.signalingState === 'have-local-offer') {
        console.warn(`no answer to the offer in ${ANSWER_WAIT_MS} ms; offering again`);
        this.start();
      }
    }, ANSWER_WAIT_MS);
    this.emit('state', { state: pc.connectionState });
    this.startStats();
  }

  addLines(pc) {
    const local = this.stream ? this.stream.getTracks() : [];
    const presents = this.contentDirection === 'sendrecv';
    for (const kind of ['audio', 'video']) {
      let wanted = this.receive[kind] || 0;
      const track = local.find((t) => t.kind === kind);
      if (track) {
        const direction = wanted > 0 ? 'sendrecv' : 'sendonly';
        pc.addTransceiver(track, { direction, streams: [this.stream] });
        wanted -= 1;
      } else if (kind === 'video' && presents && wanted > 0) {
        // No camera (yet): an empty sending line in its place, so the
        // content line stays the second video the page sends on, and a
        // camera picked later goes out with `replaceStream`.
        pc.addTransceiver('video', { direction: 'sendrecv' });
        wanted -= 1;
      }
      for (let i = 0; i < wanted; i++) pc.addTransceiver(kind, { direction: 'recvonly' });
    }
    const init = { direction: this.contentDirection };
    if (presents) {
      const encoding = this.contentEncoding();
      if (encoding) init.sendEncodings = [encoding];
    }
    this.contentTransceiver = pc.addTransceiver(presents && this.contentTrack ? this.contentTrack : 'video', init);
  }

  /** The content sender's encoding limits, from `welcome`'s `presentation`. */
  contentEncoding() {
    const p = this.presentation;
    if (!p) return null;
    const encoding = {};
    if (p.bitrate_kbps > 0) encoding.maxBitrate = p.bitrate_kbps * 1000;
    if (p.max_fps > 0) encoding.maxFramerate = p.max_fps;
    return encoding;
  }

  /**
   * Puts `track` (a shared screen or window) on the content line, or takes
   * it off (`null`), without renegotiating. The track is kept: a
   * connection rebuilt later (`start`) sends it from its first offer.
   * Resolves false when the connection has no line to present on (a
   * watching page, or a server that turned the line down).
   */
  async present(track) {
    this.contentTrack = track || null;
    if (this.contentDirection !== 'sendrecv') return !track;
    const t = this.contentTransceiver;
    if (!this.pc || !t) return true;
    if (t.stopped || t.currentDirection === 'inactive' || t.currentDirection === 'recvonly') return !track;
    await t.sender.replaceTrack(this.contentTrack);
    if (track) await this.applyContentLimits(t.sender);
    return true;
  }

  async applyContentLimits(sender) {
    const encoding = this.contentEncoding();
    if (!encoding) return;
    try {
      const params = sender.getParameters();
      if (!params.encodings || !params.encodings.length) params.encodings = [{}];
      Object.assign(params.encodings[0], encoding);
      await sender.setParameters(params);
    } catch (err) {
      // The limits set when the line was made still hold.
      console.warn('could not set the presentation limits', err);
    }
  }

  /** Swaps the camera or microphone without renegotiating (never onto the content line). */
  async replaceStream(stream) {
    this.stream = stream;
    if (!this.pc) return;
    for (const t of this.pc.getTransceivers()) {
      if (t.direction === 'recvonly' || t.stopped || t === this.contentTransceiver) continue;
      const kind = t.receiver.track && t.receiver.track.kind;
      const track = stream ? stream.getTracks().find((x) => x.kind === kind) : null;
      if (track) await t.sender.replaceTrack(track);
    }
  }

  async onAnswer(m) {
    const pc = this.pc;
    if (!pc || pc.signalingState !== 'have-local-offer') return;
    try {
      await pc.setRemoteDescription({ type: 'answer', sdp: m.sdp });
      await this.flushCandidates();
      this.sweep();
    } catch (err) {
      console.error('bad answer from the server', err);
      this.emit('failure', { reason: 'answer' });
    }
  }

  async onOffer(m) {
    const pc = this.pc;
    if (!pc) return;
    try {
      if (this.makingOffer || pc.signalingState !== 'stable') {
        await pc.setLocalDescription({ type: 'rollback' });
      }
      await pc.setRemoteDescription({ type: 'offer', sdp: m.sdp });
      await this.flushCandidates();
      await pc.setLocalDescription(await pc.createAnswer());
      this.signaling.send({ type: 'answer', sdp: pc.localDescription.sdp });
      this.sweep();
    } catch (err) {
      console.error('could not answer the server', err);
      this.emit('failure', { reason: 'offer' });
    }
  }

  async onCandidate(m) {
    if (!this.pc || !m.candidate) return;
    let c = m.candidate;
    if (typeof c === 'string') {
      try {
        c = JSON.parse(c);
      } catch {
        c = { candidate: c, sdpMid: '0', sdpMLineIndex: 0 };
      }
    }
    if (!this.pc.remoteDescription) {
      this.queuedCandidates.push(c);
      return;
    }
    try {
      await this.pc.addIceCandidate(c);
    } catch (err) {
      console.warn('ignored a server candidate', err);
    }
  }

  async flushCandidates() {
    const list = this.queuedCandidates;
    this.queuedCandidates = [];
    for (const c of list) {
      try {
        await this.pc.addIceCandidate(c);
      } catch (err) {
        console.warn('ignored a server candidate', err);
      }
    }
  }

  onTracks(m) {
    for (const t of m.tracks || []) {
      if (t.mid === undefined || t.mid === null) continue;
      this.slots.set(String(t.mid), { slot: t.slot, endpoint: t.endpoint || null, kind: t.kind });
    }
    for (const [mid, info] of this.tracks) this.announce(mid, info);
  }

  onTrack(e) {
    const mid = e.transceiver && e.transceiver.mid;
    const stream = e.streams[0] || new MediaStream([e.track]);
    const info = { track: e.track, stream, transceiver: e.transceiver };
    this.tracks.set(String(mid), info);
    this.announce(String(mid), info);
  }

  announce(mid, info) {
    const where = this.slotOf(mid, info);
    this.emit('track', { mid, ...where, kind: info.track.kind, track: info.track, stream: info.stream });
  }

  /**
   * What a remote track carries: `{slot: 'chair'|'floor'|'content'|'tile'|null, endpoint}`.
   * A `tracks` message wins; otherwise the stream id (msid) is read.
   */
  slotOf(mid, info) {
    const told = this.slots.get(mid);
    if (told) return { slot: told.slot, endpoint: told.endpoint };
    return parseStreamId(info.stream ? info.stream.id : '');
  }

  /** Drops tracks whose line the server made inactive (an endpoint that left). */
  sweep() {
    if (!this.pc) return;
    for (const t of this.pc.getTransceivers()) {
      const mid = t.mid === null ? null : String(t.mid);
      if (mid === null || !this.tracks.has(mid)) continue;
      const dir = t.currentDirection;
      if (t.stopped || dir === 'inactive' || dir === 'sendonly') {
        const info = this.tracks.get(mid);
        this.tracks.delete(mid);
        this.emit('trackgone', { mid, kind: info.track.kind, ...this.slotOf(mid, info) });
      }
    }
  }

  onState(pc) {
    if (pc !== this.pc) return;
    const state = pc.connectionState;
    this.emit('state', { state });
    clearTimeout(this.restartTimer);
    if (state === 'failed' || state === 'disconnected') {
      if (state === 'failed') this.signaling.send({ type: 'ice_restart' });
      this.restartTimer = setTimeout(() => {
        if (this.pc === pc && pc.connectionState !== 'connected') this.start();
      }, RESTART_GRACE_MS);
    }
  }

  /**
   * Another page or machine of this site took over. The connection is
   * closed and stays closed, with no automatic restart: two pages that
   * each reconnected on losing the site would take it from each other in
   * turn. The page offers its user to take the site back (`start`).
   */
  onReplaced() {
    this.closePc();
    this.emit('replaced', {});
  }

  onServerError(m) {
    // A server without a `stats` handler answers it with an id-less error;
    // stop sending so the socket is not closed for bad messages in a row.
    if (!m.id && Date.now() - this.lastStatsSentAt < 1500 && /stats/i.test(`${m.error} ${m.message}`)) {
      this.statsAccepted = false;
    }
  }

  startStats() {
    clearInterval(this.statsTimer);
    this.prevStats = null;
    this.statsTimer = setInterval(() => this.collectStats(), STATS_EVERY_MS);
  }

  async collectStats() {
    const pc = this.pc;
    if (!pc) return;
    let report;
    try {
      report = await pc.getStats();
    } catch {
      return;
    }
    const summary = summarize(report, this.prevStats, (mid) => this.slotOfMid(mid));
    this.prevStats = summary.raw;
    delete summary.raw;
    this.emit('stats', summary);
    if (this.statsAccepted && this.signaling.status === Status.OPEN) {
      this.lastStatsSentAt = Date.now();
      this.signaling.send({ type: 'stats', stats: summary });
    }
  }

  slotOfMid(mid) {
    const info = this.tracks.get(String(mid));
    return info ? this.slotOf(String(mid), info) : { slot: null, endpoint: null };
  }

  closePc() {
    this.contentTransceiver = null;
    clearInterval(this.statsTimer);
    clearTimeout(this.restartTimer);
    clearTimeout(this.answerTimer);
    if (this.pc) {
      const pc = this.pc;
      this.pc = null;
      pc.close();
    }
    for (const [mid, info] of this.tracks) {
      this.emit('trackgone', { mid, kind: info.track.kind, ...this.slotOf(mid, info) });
    }
    this.tracks.clear();
  }

  close() {
    this.closePc();
    for (const off of this.offs) off();
  }

  emit(name, detail) {
    this.dispatchEvent(new CustomEvent(name, { detail }));
  }
}

/** Resolves when ICE gathering is complete, or after `ms`. */
function gathered(pc, ms) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', check);
      resolve();
    };
    const check = () => {
      if (pc.iceGatheringState === 'complete') done();
    };
    const timer = setTimeout(done, ms);
    pc.addEventListener('icegatheringstatechange', check);
  });
}

/** `chair` / `floor` / `content` / `tile-30` / `tile:30` / `30` → what the stream carries. */
export function parseStreamId(id) {
  const s = String(id || '');
  if (s === 'chair' || s === 'floor' || s === 'content') return { slot: s, endpoint: null };
  const m = /^(?:tile|ep|endpoint)[-:_](.+)$/.exec(s);
  if (m) return { slot: 'tile', endpoint: m[1] };
  if (/^[0-9]{1,4}$/.test(s)) return { slot: 'tile', endpoint: s };
  return { slot: null, endpoint: null };
}

/**
 * A small summary of `getStats()` for the server and the link indicator:
 * per inbound and outbound RTP stream, and the selected candidate pair.
 * Bit rates come from the byte counters' difference since the last call.
 */
export function summarize(report, prev, slotOfMid) {
  const raw = new Map();
  const inbound = [];
  const outbound = [];
  let pair = null;
  const byId = new Map();
  report.forEach((s) => byId.set(s.id, s));
  const rate = (s, bytes) => {
    raw.set(s.id, { bytes, ts: s.timestamp });
    const p = prev && prev.get(s.id);
    if (!p || s.timestamp <= p.ts) return 0;
    return Math.max(0, Math.round(((bytes - p.bytes) * 8 * 1000) / (s.timestamp - p.ts)));
  };
  report.forEach((s) => {
    if (s.type === 'inbound-rtp') {
      const where = slotOfMid(s.mid);
      const jbDelay = s.jitterBufferEmittedCount ? (s.jitterBufferDelay / s.jitterBufferEmittedCount) * 1000 : null;
      inbound.push({
        kind: s.kind,
        mid: s.mid ?? null,
        slot: where.slot,
        endpoint: where.endpoint,
        bytes: s.bytesReceived || 0,
        bitrate: rate(s, s.bytesReceived || 0),
        packets_lost: s.packetsLost || 0,
        packets: s.packetsReceived || 0,
        jitter_ms: s.jitter !== undefined ? Math.round(s.jitter * 1000) : null,
        jitter_buffer_ms: jbDelay !== null ? Math.round(jbDelay) : null,
        frames_per_second: s.framesPerSecond ?? null,
        width: s.frameWidth ?? null,
        height: s.frameHeight ?? null,
        frames_decoded: s.framesDecoded ?? null,
        concealed_samples: s.concealedSamples ?? null,
        total_samples: s.totalSamplesReceived ?? null,
      });
    } else if (s.type === 'outbound-rtp') {
      outbound.push({
        kind: s.kind,
        mid: s.mid ?? null,
        bytes: s.bytesSent || 0,
        bitrate: rate(s, s.bytesSent || 0),
        frames_per_second: s.framesPerSecond ?? null,
        width: s.frameWidth ?? null,
        height: s.frameHeight ?? null,
      });
    } else if (s.type === 'candidate-pair' && (s.nominated || s.selected) && s.state === 'succeeded') {
      pair = s;
    } else if (s.type === 'transport' && s.selectedCandidatePairId) {
      pair = byId.get(s.selectedCandidatePairId) || pair;
    }
  });
  const local = pair && byId.get(pair.localCandidateId);
  const lossOf = (list) => {
    const lost = list.reduce((n, s) => n + Math.max(0, s.packets_lost), 0);
    const got = list.reduce((n, s) => n + s.packets, 0);
    return got + lost > 0 ? lost / (got + lost) : 0;
  };
  return {
    raw,
    rtt_ms: pair && pair.currentRoundTripTime !== undefined ? Math.round(pair.currentRoundTripTime * 1000) : null,
    candidate_type: local ? local.candidateType : null,
    bitrate_in: inbound.reduce((n, s) => n + s.bitrate, 0),
    bitrate_out: outbound.reduce((n, s) => n + s.bitrate, 0),
    loss: lossOf(inbound),
    inbound,
    outbound,
  };
}
