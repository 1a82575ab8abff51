// The history plot of one link: bit rate in and out, loss and RTT over the
// last minutes, drawn with uPlot (vendored in web/vendor/uplot, loaded as a
// classic script that defines `window.uPlot`).

import { $ } from '../shared/dom.js';
import { t } from '../shared/i18n.js';

/** How much history is kept and shown per link. */
export const WINDOW_SECS = 10 * 60;

export class History {
  constructor() {
    this.series = new Map(); // id -> {t:[], in:[], out:[], loss:[], rtt:[]}
  }

  add(link, atMs) {
    let s = this.series.get(link.id);
    if (!s) {
      s = { t: [], in: [], out: [], loss: [], rtt: [] };
      this.series.set(link.id, s);
    }
    const ts = atMs / 1000;
    if (s.t.length && ts <= s.t[s.t.length - 1]) return;
    s.t.push(ts);
    s.in.push(link.in / 1000);
    s.out.push(link.out / 1000);
    s.loss.push(link.loss);
    s.rtt.push(link.rtt);
    trim(s, ts - WINDOW_SECS);
  }

  /** Merges samples from `GET /api/links/{id}/history` (older than ours). */
  merge(id, samples) {
    const mine = this.series.get(id) || { t: [], in: [], out: [], loss: [], rtt: [] };
    const first = mine.t.length ? mine.t[0] : Infinity;
    const older = { t: [], in: [], out: [], loss: [], rtt: [] };
    for (const p of samples) {
      const at = p.at ?? p.t ?? p.time ?? p.timestamp;
      if (typeof at !== 'number') continue;
      const ts = at > 1e11 ? at / 1000 : at;
      if (ts >= first) continue;
      older.t.push(ts);
      older.in.push((p.bitrate_in ?? 0) / 1000);
      older.out.push((p.bitrate_out ?? 0) / 1000);
      older.loss.push(p.loss_pct ?? Math.max(p.loss_up ?? 0, p.loss_down ?? 0, p.loss ?? 0) * 100);
      older.rtt.push(p.rtt_ms ?? p.rtt ?? null);
    }
    for (const k of Object.keys(mine)) mine[k] = older[k].concat(mine[k]);
    this.series.set(id, mine);
  }

  get(id) {
    return this.series.get(id) || null;
  }
}

function trim(s, from) {
  let n = 0;
  while (n < s.t.length && s.t[n] < from) n++;
  if (n) for (const k of Object.keys(s)) s[k].splice(0, n);
}

export class LinkChart {
  constructor() {
    this.box = $('#chart');
    this.hint = $('#chart-hint');
    this.plot = null;
    this.id = null;
    this.panel = this.box.closest('section');
    // The selected site's picture sits beside the plot while it plays.
    this.beside = $('#link-video-box');
    const watch = new ResizeObserver(() => this.resize());
    watch.observe(this.panel);
    watch.observe(this.beside);
    document.addEventListener('langchange', () => {
      if (this.id && this.last) this.show(this.id, this.last, true);
    });
  }

  size() {
    const panel = this.panel.getBoundingClientRect();
    const beside = this.beside.hidden ? 0 : this.beside.getBoundingClientRect().width + 10;
    // The link's log takes the lower part of the panel.
    return { width: Math.max(200, panel.width - 24 - beside), height: Math.max(120, panel.height * 0.62 - 90) };
  }

  resize() {
    if (this.plot) this.plot.setSize(this.size());
  }

  /** Shows (or refreshes) the plot of link `id` with its series. */
  show(id, s, rebuild = false) {
    this.last = s;
    const data = [s.t, s.in, s.out, s.loss, s.rtt];
    if (this.plot && this.id === id && !rebuild) {
      this.plot.setData(data);
      return;
    }
    this.id = id;
    if (this.plot) this.plot.destroy();
    this.hint.hidden = true;
    if (typeof window.uPlot !== 'function') {
      this.hint.hidden = false;
      this.hint.textContent = t('monitor.no_chart_lib');
      return;
    }
    const axis = { stroke: '#8b9aa8', grid: { stroke: '#2c3a47' }, ticks: { stroke: '#2c3a47' } };
    this.plot = new window.uPlot(
      {
        ...this.size(),
        scales: { x: { time: true }, kbps: {}, pct: { range: [0, 10] }, ms: {} },
        series: [
          {},
          { label: t('monitor.series.in'), scale: 'kbps', stroke: '#3b82c4', width: 2 },
          { label: t('monitor.series.out'), scale: 'kbps', stroke: '#2fa46a', width: 2 },
          { label: t('monitor.series.loss'), scale: 'pct', stroke: '#d9534f', width: 1.5 },
          { label: t('monitor.series.rtt'), scale: 'ms', stroke: '#e0b341', width: 1.5 },
        ],
        axes: [
          axis,
          { ...axis, scale: 'kbps', label: 'kb/s' },
          { ...axis, scale: 'pct', side: 1, label: '%', grid: { show: false } },
          { ...axis, scale: 'ms', side: 1, label: 'ms', grid: { show: false } },
        ],
      },
      data,
      this.box,
    );
  }
}
