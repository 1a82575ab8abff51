// The chair's console: wires the session feed, the media link and the
// panels together. Every action is a control command sent over the socket;
// the page never changes its own state, it waits for the server's events.

import { sessionPath } from '../shared/api.js';
import { boot } from '../shared/boot.js';
import { $, h, show, toast } from '../shared/dom.js';
import { t } from '../shared/i18n.js';
import { attach } from '../shared/media.js';
import { MediaLink } from '../shared/rtc.js';
import { offerTakeOver } from '../shared/takeover.js';
import { PresentControl } from '../shared/present.js';
import { recordingBadge } from '../shared/recording.js';
import { chairCode, holdersOf, tally } from '../shared/session.js';
import { ContentPanel } from './content.js';
import { Grid } from './grid.js';
import { Programme } from './programme.js';
import { Queue } from './queue.js';
import { RecordButton, RecordingAlert, RecordsPanel } from './records.js';
import { RollCallPanel } from './rollcall.js';
import { watchSpeakers } from './speakers.js';

function start({ api, signaling, feed }) {
  const run = async (command) => {
    try {
      await signaling.command(command);
      return true;
    } catch (err) {
      toast(t('error.command', { message: err.message }), 'error');
      return false;
    }
  };
  const grid = new Grid($('#grid'), {
    onCallOn: (code) => run({ command: 'grant_floor', target: { endpoint: code } }),
    onMute: (code, muted) => run({ command: 'set_muted', endpoint: code, muted }),
  });
  const programme = new Programme({ feed, grid, run });
  const queue = new Queue({ feed, run });
  const rollcall = new RollCallPanel({ feed, run });
  const header = new Header({ api, feed, run });
  const content = new ContentPanel({ feed, run });
  const record = new RecordButton({ feed, run });
  const records = new RecordsPanel({ api, feed });
  new RecordingAlert({ feed });
  recordingBadge($('#rec-badge'), feed);
  const media = new ChairMedia({ signaling, feed, grid, programme, content });
  // The chair's own room presents like a site.
  const present = new PresentControl({ feed, run, me: () => chairCode(feed.state), link: () => media.link, container: $('#present-body'), quiet: true });
  media.contentTrack = () => present.track;
  // A handle for operators' debugging in the browser console (and the browser tests).
  window.diemcau = { signaling, feed, media, present, records };

  const render = () => {
    const state = feed.state;
    const hasSession = !!state;
    show($('#create'), !hasSession && feed.welcome && feed.welcome.role === 'chair');
    show($('#grid'), hasSession);
    show(document.querySelector('.side'), hasSession);
    header.render(state);
    record.render(state);
    records.render(state);
    if (!hasSession) return;
    grid.render(state);
    programme.render(state);
    content.render(state);
    queue.render(state);
    rollcall.render(state);
  };
  feed.addEventListener('change', render);
  feed.addEventListener('nosession', render);
  feed.addEventListener('welcome', (e) => {
    if (e.detail.session) media.join(e.detail);
  });
  feed.addEventListener('event', (e) => announce(e.detail, feed));
  document.addEventListener('langchange', () => {
    grid.relabel();
    render();
  });

  $('#create-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const title = $('#create-name').value.trim();
    if (!title) return;
    try {
      const created = await api.post('/api/sessions', { title });
      const id = created && ((created.spec && created.spec.id) || created.id);
      if (id) signaling.session = id;
      signaling.reconnect(0);
    } catch (err) {
      toast(t('error.command', { message: err.message }), 'error');
    }
  });
  render();
  signaling.start();
}

/** The top bar: title, phase, attendance summary, mode, lifecycle, CSV (the record button is records.js's). */
class Header {
  constructor({ api, feed, run }) {
    this.api = api;
    this.feed = feed;
    this.run = run;
    this.armedEnd = null;
    for (const b of document.querySelectorAll('#modes button')) {
      b.setAttribute('role', 'radio');
      b.addEventListener('click', () => run({ command: 'set_mode', mode: b.dataset.mode }));
    }
    $('#lifecycle').addEventListener('click', () => this.lifecycle());
    $('#csv').addEventListener('click', () => this.csv());
  }

  render(state) {
    const title = $('#session-title');
    const phase = $('#phase');
    const summary = $('#summary');
    const life = $('#lifecycle');
    if (!state) {
      title.textContent = '';
      phase.hidden = summary.hidden = life.hidden = true;
      $('#csv').disabled = true;
      for (const b of document.querySelectorAll('#modes button')) b.disabled = true;
      return;
    }
    title.textContent = state.spec.title;
    document.title = `${state.spec.title} · ${t('chair.brand')}`;
    phase.hidden = summary.hidden = life.hidden = false;
    phase.dataset.phase = state.phase;
    phase.textContent = t(`phase.${state.phase}`);
    const n = tally(state);
    summary.textContent = t('chair.summary', { n: n.present + n.connected, total: n.total });
    summary.title = t('chair.summary_detail', n);
    $('#csv').disabled = false;
    for (const b of document.querySelectorAll('#modes button')) {
      b.disabled = state.phase === 'ended';
      b.setAttribute('aria-checked', String(b.dataset.mode === state.mode));
    }
    const next = { scheduled: 'open', open: 'start', live: 'end' }[state.phase];
    life.hidden = !next;
    life.dataset.next = next || '';
    life.className = next === 'end' ? 'danger' : 'primary';
    life.textContent = this.armedEnd ? t('chair.confirm_end') : t(`chair.do_${next || 'end'}`);
  }

  lifecycle() {
    const next = $('#lifecycle').dataset.next;
    if (!next) return;
    if (next !== 'end') {
      this.run({ command: next });
      return;
    }
    // Ending freezes the record: a second click within a few seconds confirms.
    if (!this.armedEnd) {
      this.armedEnd = setTimeout(() => {
        this.armedEnd = null;
        this.render(this.feed.state);
      }, 5000);
      this.render(this.feed.state);
      return;
    }
    clearTimeout(this.armedEnd);
    this.armedEnd = null;
    this.run({ command: 'end' });
  }

  async csv() {
    const id = this.feed.id;
    if (!id) return;
    try {
      await this.api.download(sessionPath(id, '/attendance?format=csv'), `diem-danh-${id}.csv`);
    } catch (err) {
      toast(t('error.command', { message: err.message }), 'error');
    }
  }
}

/** The chair's media: camera and microphone out, every site's tile and the allowed audio in. */
class ChairMedia {
  constructor({ signaling, feed, grid, programme, content }) {
    this.signaling = signaling;
    this.feed = feed;
    this.grid = grid;
    this.programme = programme;
    this.content = content;
    // What the chair's room presents, kept when the connection is rebuilt.
    this.contentTrack = () => null;
    this.link = null;
    this.local = null;
    this.audio = new Map();
    this.stopSpeakers = null;
    // Another page or machine of the site took the connection over.
    this.replaced = false;
  }

  async join(welcome) {
    if (this.replaced) return;
    if (!this.local) this.local = await camera();
    if (this.local) attach($('#self-video'), this.local);
    if (this.link) this.link.close();
    const link = new MediaLink(this.signaling, {
      iceServers: welcome.ice_servers || [],
      stream: this.local,
      // The server answers with the `chair` and `floor` slots on these
      // lines, and `content` on the line after them; the tiles come later,
      // by its own offers.
      receive: { audio: 2, video: 2 },
      content: 'sendrecv',
      presentation: welcome.presentation,
    });
    this.link = link;
    const presenting = this.contentTrack();
    if (presenting) link.present(presenting);
    link.addEventListener('track', (e) => this.onTrack(e.detail));
    link.addEventListener('trackgone', (e) => this.onGone(e.detail));
    link.addEventListener('replaced', () => {
      // Only the user's click takes the connection back, not a reconnect.
      this.replaced = true;
      offerTakeOver(link, () => {
        this.replaced = false;
      });
    });
    if (this.stopSpeakers) this.stopSpeakers();
    this.stopSpeakers = watchSpeakers(link, (mid, slot, endpoint) => this.whoIs(slot, endpoint), (code, on) => this.grid.setSpeaking(code, on));
    try {
      await link.start();
    } catch (err) {
      toast(t('error.media', { message: err.message }), 'error');
    }
  }

  /** The endpoint a slot carries now (the floor slot follows the holder). */
  whoIs(slot, endpoint) {
    if (endpoint) return endpoint;
    if (slot === 'floor') {
      const holders = holdersOf(this.feed.state);
      return holders.length ? holders[holders.length - 1].endpoint : null;
    }
    if (slot === 'chair') return chairCode(this.feed.state);
    return null;
  }

  onTrack({ mid, slot, endpoint, kind, stream }) {
    if (kind === 'audio') {
      let el = this.audio.get(mid);
      if (!el) {
        el = h('audio', { autoplay: true, dataset: { mid, slot: slot || '', endpoint: endpoint || '' } });
        this.audio.set(mid, el);
        $('#audio-sink').appendChild(el);
      }
      attach(el, stream);
      return;
    }
    if (slot === 'tile' && endpoint) this.grid.setStream(endpoint, stream);
    else if (slot === 'floor') this.programme.setFloorStream(stream);
    else if (slot === 'content') this.content.setStream(stream);
    this.programme.pick();
  }

  onGone({ mid, slot, endpoint, kind }) {
    if (kind === 'audio') {
      const el = this.audio.get(mid);
      if (el) el.remove();
      this.audio.delete(mid);
      return;
    }
    if (slot === 'tile' && endpoint) this.grid.removeStream(endpoint);
    else if (slot === 'floor') this.programme.setFloorStream(null);
    else if (slot === 'content') this.content.setStream(null);
    this.programme.pick();
  }
}

async function camera() {
  try {
    return await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 1280, height: 720 } });
  } catch (err) {
    toast(t('error.camera', { message: err.message }), 'warn', 8000);
    return null;
  }
}

/** Short notices for what changed, so the chair notices requests and time warnings. */
function announce(event, feed) {
  const name = (code) => {
    const a = feed.state && feed.state.attendance && feed.state.attendance[code];
    return a ? a.name : code;
  };
  switch (event.event) {
    case 'floor_requested':
      toast(t('notice.floor_requested', { name: name(event.endpoint) }));
      break;
    case 'content_requested':
      toast(t('notice.content_requested', { name: name(event.endpoint) }));
      break;
    case 'speaking_time_warning':
      toast(t('notice.time_warning', { name: name(event.endpoint) }), 'warn');
      break;
    case 'speaking_time_up':
      toast(t('notice.time_up', { name: name(event.endpoint) }), 'warn');
      break;
    case 'endpoint_dropped':
      toast(t('notice.dropped', { name: name(event.endpoint) }), 'warn');
      break;
    default:
  }
}

// Last, so every class above is defined before it runs.
const ctx = boot();
if (ctx) start(ctx);
