// The technicians' console: every link's health, refreshed every two
// seconds from `GET /api/links`, the selected link's history, and alerts.
// Read-only: it sends no commands.

import { ApiError } from '../shared/api.js';
import { boot } from '../shared/boot.js';
import { $ } from '../shared/dom.js';
import { t, timeOfDay } from '../shared/i18n.js';
import { Alerts } from './alerts.js';
import { History, LinkChart } from './chart.js';
import { normalize } from './links.js';
import { LinkTable } from './table.js';

const POLL_MS = 2000;

function start({ api, signaling, feed }) {
  const table = new LinkTable();
  const chart = new LinkChart();
  const history = new History();
  const alerts = new Alerts();
  // A handle for operators' debugging in the browser console (and the browser tests).
  window.diemcau = { signaling, feed, history };
  const names = new Map();
  const fetchedHistory = new Set();
  const changes = new Map();
  let links = [];

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
    if (!fetchedHistory.has(id)) {
      fetchedHistory.add(id);
      try {
        const data = await api.get(`/api/links/${encodeURIComponent(id)}/history`);
        const samples = Array.isArray(data) ? data : (data && (data.samples || data.history)) || [];
        history.merge(id, samples);
      } catch (err) {
        // No history kept on the server yet: the plot grows from now.
        if (!(err instanceof ApiError)) console.warn(err);
      }
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

  const poll = async () => {
    let raw;
    try {
      raw = await api.get('/api/links');
    } catch (err) {
      $('#updated').textContent = t('monitor.poll_failed', { message: err.message });
      return;
    }
    const now = Date.now();
    const list = Array.isArray(raw) ? raw : (raw && raw.links) || [];
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
    alerts.observe(links, now);
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
  });
  feed.addEventListener('event', (e) => alerts.event(e.detail, (code) => names.get(code) || code));
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
