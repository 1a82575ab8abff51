// The consoles' pure helpers, run in Node without a browser or a server:
// translation tables, slot labels, ordering by administrative code, link
// health. Fast checks that run before the browser scenarios.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { repoRoot } from './lib/server.js';
import { vi } from '../../web/shared/lang-vi.js';
import { en } from '../../web/shared/lang-en.js';
import { MediaLink, parseStreamId } from '../../web/shared/rtc.js';
import { contentOf, presenterOf } from '../../web/shared/present.js';
import { describeRecording, fileSize, recordingOf } from '../../web/shared/recording.js';
import { compareCodes, endpointsOf, queueOf, tally } from '../../web/shared/session.js';
import { codeOfLink, health, normalize } from '../../web/monitor/links.js';
import { describe, eventTime } from '../../web/monitor/events.js';
import { DEFAULT_HEALTH, grade } from '../../web/endpoint/quality.js';
import { refreshDelay } from '../../web/shared/token.js';

const web = path.join(repoRoot, 'web');

async function sources(dir) {
  const out = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory() && entry.name !== 'vendor') out.push(...(await sources(p)));
    else if (/\.(js|html)$/.test(entry.name)) out.push(p);
  }
  return out;
}

test('Vietnamese and English have the same keys and the same placeholders', () => {
  assert.deepEqual(Object.keys(en).sort(), Object.keys(vi).sort());
  for (const key of Object.keys(vi)) {
    const names = (s) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
    assert.deepEqual(names(en[key]), names(vi[key]), `placeholders of ${key}`);
  }
});

test('every literal key the pages use has a translation', async () => {
  const missing = [];
  for (const file of await sources(web)) {
    const text = await readFile(file, 'utf8');
    const keys = [
      ...[...text.matchAll(/\bt\('([a-z_]+\.[a-z_.]+)'/g)].map((m) => m[1]),
      ...[...text.matchAll(/data-i18n(?:-[a-z]+)?="([a-z_]+\.[a-z_.]+)"/g)].map((m) => m[1]),
    ];
    for (const key of keys) if (!(key in vi)) missing.push(`${path.relative(web, file)}: ${key}`);
  }
  assert.deepEqual(missing, []);
});

test('every status, phase, mode and link state the server sends has a translation', () => {
  const families = {
    attendance: ['absent', 'connected', 'present', 'dropped', 'left'],
    phase: ['scheduled', 'open', 'live', 'ended'],
    mode: ['lecture', 'chaired', 'open'],
    link: ['new', 'connecting', 'connected', 'disconnected', 'failed', 'closed'],
    status: ['connecting', 'open', 'reconnecting', 'stopped'],
    quality: ['good', 'fair', 'poor', 'down'],
    health: ['good', 'warn', 'bad'],
    'alert.reason': ['high_rtt', 'high_loss_up', 'high_loss_down', 'high_jitter', 'link_down', 'no_media'],
    verdict: ['good', 'warn', 'bad', 'no_link'],
  };
  for (const [family, values] of Object.entries(families)) {
    for (const v of values) assert.ok(`${family}.${v}` in vi, `${family}.${v}`);
  }
});

test('stream ids name the programme slots and the chair tiles', () => {
  assert.deepEqual(parseStreamId('chair'), { slot: 'chair', endpoint: null });
  assert.deepEqual(parseStreamId('floor'), { slot: 'floor', endpoint: null });
  assert.deepEqual(parseStreamId('content'), { slot: 'content', endpoint: null });
  assert.deepEqual(parseStreamId('tile-30'), { slot: 'tile', endpoint: '30' });
  assert.deepEqual(parseStreamId('tile:01'), { slot: 'tile', endpoint: '01' });
  assert.deepEqual(parseStreamId('{a1b2-random}'), { slot: null, endpoint: null });
});

test('sites are ordered by administrative code, the central room first', () => {
  const state = {
    spec: {
      endpoints: [
        { code: '79', name: 'Hồ Chí Minh', role: 'provincial' },
        { code: '01', name: 'Hà Nội', role: 'provincial' },
        { code: '00', name: 'Trụ sở Chính phủ', role: 'central' },
        { code: '8', name: 'Tuyên Quang', role: 'provincial' },
      ],
    },
  };
  assert.deepEqual(endpointsOf(state).map((e) => e.code), ['00', '01', '8', '79']);
  assert.ok(compareCodes('2', '10') < 0);
});

test('the queue keeps its order with 1-based positions; the tally counts provinces only', () => {
  const state = {
    spec: {
      endpoints: [
        { code: '00', name: 'C', role: 'central' },
        { code: '30', name: 'Hải Dương', role: 'provincial' },
        { code: '31', name: 'Hải Phòng', role: 'provincial' },
      ],
    },
    attendance: { '00': { status: 'connected' }, 30: { status: 'present' }, 31: { status: 'dropped' } },
    floor: { requests: { 4: { id: 4, endpoint: '31' }, 2: { id: 2, endpoint: '30' } }, queue: [4, 2], holders: [] },
  };
  assert.deepEqual(queueOf(state).map((r) => [r.id, r.position]), [[4, 1], [2, 2]]);
  const n = tally(state);
  assert.equal(n.total, 2);
  assert.equal(n.present, 1);
  assert.equal(n.dropped, 1);
});

test("link health is the server's, and its alerts colour the figures they name", () => {
  const names = new Map([['30', 'Hải Dương']]);
  const base = { id: 's1/30', endpoint: '30', state: 'connected', health: 'good', alerts: [], rtt_ms: 20, loss_pct: 0, bitrate_in: 1e6, bitrate_out: 1e6 };
  const l = normalize(base, names, 0);
  assert.equal(l.name, 'Hải Dương');
  assert.equal(health(l).level, 'good');
  // Figures past the usual thresholds do not change the level: the server judges.
  assert.equal(health(normalize({ ...base, rtt_ms: 900 }, names, 0)).level, 'good');
  const alerted = normalize({ ...base, health: 'bad', alerts: [{ link: 's1/30', reason: 'high_loss_down', level: 'bad' }, { link: 's1/30', reason: 'high_rtt', level: 'warn' }] }, names, 0);
  assert.deepEqual(health(alerted), { level: 'bad', metrics: { loss: 'bad', rtt: 'warn' } });
  assert.equal(health(normalize({ ...base, health: undefined, state: 'disconnected' }, names, 0)).level, 'bad');
  assert.equal(codeOfLink('s1/30'), '30');
  // The presentation's share of the incoming rate, 0 when there is none (or an older server).
  assert.equal(normalize({ ...base, content_bitrate_in: 1.2e6 }, names, 0).content, 1.2e6);
  assert.equal(normalize({ ...base, content_bitrate_in: null }, names, 0).content, 0);
  assert.equal(normalize(base, names, 0).content, 0);
});

test('the presenter and the waiting requests read from the session state', () => {
  assert.deepEqual(contentOf(null), { presenter: null, pending: [] });
  assert.equal(presenterOf({ content: { presenter: null, pending: [] } }), null);
  const state = { content: { presenter: { endpoint: '30', since: 5, by_chair: false }, pending: [{ endpoint: '48', requested_at: 7 }] } };
  assert.equal(presenterOf(state), '30');
  assert.deepEqual(contentOf(state).pending.map((r) => r.endpoint), ['48']);
});

test('monitor events read as lines with a level', () => {
  assert.deepEqual(describe({ event: 'alert_cleared', link: 's1/30', reason: 'high_rtt', at: 1 }).level, 'good');
  assert.equal(describe({ event: 'alert_raised', link: 's1/30', reason: 'link_down', level: 'bad', at: 1, message: 'x' }).level, 'bad');
  assert.equal(describe({ event: 'health_changed', link: 's1/30', from: 'good', to: 'warn', at: 1 }).level, 'warn');
  const test = { event: 'link_test_done', link: 's1/30', verdict: 'good', ended_at: 5, bitrate_in_bps: { avg: 1.5e6, min: 1e6, max: 2e6 } };
  assert.equal(describe(test).level, 'good');
  assert.match(describe(test).text, /1\.50 Mb\/s/);
  assert.equal(eventTime(test), 5);
  assert.equal(describe({ event: 'something_new' }), null);
});

test("a site's quality indicator grades by the server's thresholds", () => {
  assert.equal(grade({ rtt_ms: 20, loss: 0 }), 'good');
  assert.equal(grade({ rtt_ms: 200, loss: 0 }), 'fair');
  assert.equal(grade({ rtt_ms: null, loss: 0.1 }), 'poor');
  // An operator who tolerates 5 % loss before a warning: 3 % is still good.
  const lenient = { ...DEFAULT_HEALTH, loss_warn_pct: 5, loss_bad_pct: 15 };
  assert.equal(grade({ rtt_ms: 20, loss: 0.03 }), 'fair');
  assert.equal(grade({ rtt_ms: 20, loss: 0.03 }, lenient), 'good');
  assert.equal(grade({ rtt_ms: 20, loss: 0.1 }, lenient), 'fair');
});

test('a token is renewed once less than a quarter of its lifetime is left', () => {
  const jwt = (claims) => `e30.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.sig`;
  // An 8-hour token issued at t=1000 s: renewed 6 hours in.
  const token = jwt({ role: 'chair', iat: 1000, exp: 1000 + 8 * 3600 });
  assert.equal(refreshDelay(token, 1000 * 1000), 6 * 3600 * 1000);
  assert.equal(refreshDelay(token, (1000 + 3600) * 1000), 5 * 3600 * 1000);
  // Inside the last quarter, or past the expiry: now.
  assert.equal(refreshDelay(token, (1000 + 7 * 3600) * 1000), 0);
  assert.equal(refreshDelay(token, (1000 + 9 * 3600) * 1000), 0);
  // A 3-second token: at 2.25 s.
  assert.equal(refreshDelay(jwt({ iat: 10, exp: 13 }), 10000), 2250);
  // Nothing to go by: no plan.
  assert.equal(refreshDelay(jwt({ role: 'chair' }), 0), null);
  assert.equal(refreshDelay('not a token', 0), null);
});

test('the recording badge follows the state; its events read as lines; sizes read for people', () => {
  assert.equal(recordingOf(null), null);
  assert.equal(recordingOf({ phase: 'live', recording: false }), null);
  assert.equal(recordingOf({ phase: 'live', recording: true }), 'live');
  // On before the meeting is live: nothing is written yet.
  assert.equal(recordingOf({ phase: 'open', recording: true }), 'armed');
  assert.deepEqual(describeRecording({ event: 'recording_started', by_chair: true }), { level: 'good', text: vi['recording.started'] });
  assert.equal(describeRecording({ event: 'recording_started', by_chair: false }).text, vi['recording.started_auto']);
  assert.equal(describeRecording({ event: 'recording_stopped', reason: 'chair' }).level, 'warn');
  assert.equal(describeRecording({ event: 'recording_stopped', reason: 'session_ended' }).level, 'good');
  const failed = describeRecording({ event: 'recording_stopped', reason: 'failed', detail: 'No space left on device' });
  assert.deepEqual(failed, { level: 'bad', text: 'Ghi hình đã dừng: No space left on device' });
  assert.match(describeRecording({ event: 'recording_stopped', reason: 'failed' }).text, /^Ghi hình đã dừng: \S/);
  assert.equal(describeRecording({ event: 'floor_granted' }), null);
  assert.equal(fileSize(0), '0 B');
  assert.equal(fileSize(999), '999 B');
  assert.equal(fileSize(12_345), '12 KB');
  assert.equal(fileSize(3_456_789, 'vi'), '3,5 MB');
  assert.equal(fileSize(3_456_789, 'en'), '3.5 MB');
  assert.equal(fileSize(1_250_000_000, 'en'), '1.25 GB');
  assert.equal(fileSize(undefined), '–');
});

test('an offer that gets no answer is made again, with a fresh connection', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'] });
  // Just enough of a browser peer connection for a page's first offer.
  const made = [];
  class FakePeerConnection {
    constructor() {
      this.signalingState = 'stable';
      this.iceGatheringState = 'complete';
      this.connectionState = 'new';
      this.localDescription = null;
      made.push(this);
    }
    addTransceiver() {
      return { sender: { setParameters: async () => {} } };
    }
    async createOffer() {
      return { type: 'offer', sdp: `v=0 offer ${made.length}` };
    }
    async setLocalDescription(d) {
      this.localDescription = d;
      this.signalingState = 'have-local-offer';
    }
    async getStats() {
      return new Map();
    }
    close() {
      this.signalingState = 'closed';
    }
  }
  const previous = globalThis.RTCPeerConnection;
  globalThis.RTCPeerConnection = FakePeerConnection;
  t.after(() => {
    globalThis.RTCPeerConnection = previous;
  });
  // The first offer goes out on a socket that is closing: lost.
  const sent = [];
  const signaling = {
    status: 'closing',
    on: () => () => {},
    send(m) {
      if (m.type !== 'offer') return true;
      sent.push(m);
      return sent.length > 1;
    },
  };
  const link = new MediaLink(signaling, { relayOnly: false });
  await link.start();
  assert.equal(sent.length, 1);
  t.mock.timers.tick(9_999);
  await Promise.resolve();
  assert.equal(sent.length, 1, 'not yet: the server may still answer');
  t.mock.timers.tick(1);
  for (let i = 0; i < 5; i++) await Promise.resolve();
  assert.equal(sent.length, 2, 'offered again');
  assert.equal(sent[1].type, 'offer');
  assert.equal(made.length, 2, 'on a new peer connection');
  assert.equal(made[0].signalingState, 'closed');
  link.close();
});
