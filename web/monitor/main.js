// The technicians' console: every link's health, refreshed every two
// seconds from `GET /api/links`, the selected link's history, log and live
// picture, and the alerts the server raises (live from the socket's
// `monitor` events, re-read over REST when the socket is down).

import { ApiError } from '../shared/api.js';
import { boot } from '../shared/boot.js';
import { $ } from '../shared/dom.js';
import { t, timeOfDay } from '../shared/i18n.js';
import { recordingBadge } from '../shared/recording.js';
import { Status } from '../shared/signaling.js';
import { Alerts } from './alerts.js';
import { History, LinkChart } from './chart.js';
import { LinkLog } from './linklog.js';
import { LinkTests } from './linktest.js';
import { codeOfLink, normalize } from './links.js';
import { SiteVideo } from './sitevideo.js';
import { LinkTable } from './table.js';

const POLL_MS = 2000;
// The socket's events keep the alerts current; a full re-read this often
// repairs anything a lagging socket skipped.
const ALERTS_RESYNC_MS = 30000;

function start({ api, signaling, feed }) {
  const tests = new LinkTests({ api, feed });
  const table = new LinkTable({ extraCell: (l) => tests.cell(l) });
  const chart = new LinkChart();
  const history = new History();
  const names = new Map();
  const whoOf = (linkId) => {
    const code = codeOfLink(linkId);
    return code ? `${code} · ${names.get(code) || code}` : t('monitor.viewer');
  };
  const alerts = new Alerts(whoOf);
  const linkLog = new LinkLog();
  const siteVideo = new SiteVideo(signaling);
  recordingBadge($('#rec-badge'), feed);
  // A handle for operators' debugging in the browser console (and the browser tests).
  window.diemcau = { signaling, feed, history, alerts, linkLog, tests, siteVideo };
  const changes = new Map();
  let links = [];
  let alertsReadAt = 0;
  let shownPhase = null;

  const showChart = () => {
    const id = table.selected;
    const s = id && history.get(id);
    if (!s) return;
    const l = links.find((x) => x.id === id);
    $('#chart-title').textContent = l ? `— ${l.code ? `${l.code} · ${l.name}` : t('monitor.viewer')}` : '';
    chart.show(id, s);
  };

  table.addEventListener('select', async (e) => {
    const id = e.detail;
    linkLog.show(id);
    const code = codeOfLink(id);
    siteVideo.show(code, code && (names.get(code) || code));
    try {
      const data = await api.get(`/api/links/${encodeURIComponent(id)}/history`);
      history.merge(id, (data && data.samples) || []);
      linkLog.set(id, (data && data.events) || []);
    } catch (err) {
      // No history kept on the server yet: the plot grows from now.
      if (!(err instanceof ApiError)) console.warn(err);
    }
    showChart();
  });

  const loadNames = async () => {
    try {
      const list = await api.get('/api/endpoints');
      for (const e of list || []) names.set(e.code, e.name);
    } catch (err) {
      console.warn('endpoint names unavailable', err);
    }
  };

  const readAlerts = async () => {
    try {
      alerts.setActive(await api.get('/api/alerts'));
      alertsReadAt = Date.now();
    } catch (err) {
      console.warn('alerts unavailable', err);
    }
  };

  const poll = async () => {
    if (signaling.status !== Status.OPEN || Date.now() - alertsReadAt >= ALERTS_RESYNC_MS) readAlerts();
    tests.refreshIfLate();
    let raw;
    try {
      raw = await api.get('/api/links');
    } catch (err) {
      $('#updated').textContent = t('monitor.poll_failed', { message: err.message });
      return;
    }
    const now = Date.now();
    const list = Array.isArray(raw) ? raw : [];
    const sid = feed.id;
    links = list.map((r) => normalize(r, names, now)).filter((l) => !sid || !l.session || l.session === sid);
    for (const l of links) {
      // The server's time of the last state change when it sends one,
      // else when this console first saw the link in its current state.
      const seen = changes.get(l.id);
      if (!seen || seen.state !== l.state) changes.set(l.id, { state: l.state, at: now });
      if (!l.changed) l.changed = changes.get(l.id).at;
    }
    for (const l of links) history.add(l, now);
    table.render(links);
    const up = links.filter((l) => l.state === 'connected').length;
    $('#counts').textContent = t('monitor.counts', { up, total: links.length });
    $('#updated').textContent = t('monitor.updated', { time: timeOfDay(now) });
    showChart();
  };

  feed.addEventListener('change', () => {
    const s = feed.state;
    $('#session-title').textContent = s ? s.spec.title : '';
    if (s && s.spec) for (const e of s.spec.endpoints) names.set(e.code, e.name);
    const phase = s ? s.phase : null;
    if (phase !== shownPhase) {
      shownPhase = phase;
      tests.renderControls();
      table.render(links);
    }
  });
  tests.addEventListener('change', () => table.render(links));
  feed.addEventListener('event', (e) => alerts.sessionEvent(e.detail, (code) => names.get(code) || code));
  signaling.on('monitor', (m) => {
    const ev = m && m.event;
    if (!ev || typeof ev.event !== 'string') return;
    alerts.monitorEvent(ev);
    linkLog.add(ev);
    if (ev.event === 'link_test_done') tests.done(ev);
    if (ev.event === 'link_removed') {
      links = links.filter((l) => l.id !== ev.link);
      table.render(links);
    }
  });
  // Alerts raised while the socket was away are only in the REST list.
  signaling.on('welcome', () => readAlerts());
  feed.addEventListener('welcome', (e) => {
    if (e.detail.session) siteVideo.join(e.detail);
  });
  // The session id is known once its snapshot is in.
  signaling.on('snapshot', () => setTimeout(() => tests.load(), 0));
  document.addEventListener('langchange', () => table.render(links));

  loadNames().then(poll);
  // A bounded chain rather than setInterval: a slow server never gets a
  // second request stacked on the first.
  const loop = async () => {
    await poll();
    setTimeout(loop, POLL_MS);
  };
  setTimeout(loop, POLL_MS);
  signaling.start();
}

// Last, so every class above is defined before it runs.
const ctx = boot();
if (ctx) start(ctx);
