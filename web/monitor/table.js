// The link table: one row per link, coloured by health, sortable by any
// column (click a header; again to reverse). Rows are keyed by link id and
// updated in place so a selection survives each refresh.

import { $, h } from '../shared/dom.js';
import { bitrate, t, timeOfDay } from '../shared/i18n.js';
import { compareCodes } from '../shared/session.js';
import { health } from './links.js';

const HEALTH_RANK = { bad: 0, warn: 1, good: 2 };

export class LinkTable extends EventTarget {
  /** `extraCell(link)` builds the last cell of a row (the link test's). */
  constructor({ extraCell } = {}) {
    super();
    this.extraCell = extraCell || (() => h('td'));
    this.table = $('#links');
    this.body = this.table.querySelector('tbody');
    this.empty = $('#links-empty');
    this.sort = { key: 'endpoint', dir: 1 };
    this.selected = null;
    this.links = [];
    for (const th of this.table.querySelectorAll('th[data-sort]')) {
      th.addEventListener('click', () => {
        const key = th.dataset.sort;
        this.sort = { key, dir: this.sort.key === key ? -this.sort.dir : 1 };
        this.render(this.links);
      });
    }
  }

  select(id) {
    this.selected = id;
    for (const tr of this.body.rows) tr.setAttribute('aria-selected', String(tr.dataset.id === id));
    this.dispatchEvent(new CustomEvent('select', { detail: id }));
  }

  render(links) {
    this.links = links;
    const rows = [...links].sort((a, b) => this.compare(a, b));
    for (const th of this.table.querySelectorAll('th[data-sort]')) {
      if (th.dataset.sort === this.sort.key) th.setAttribute('aria-sort', this.sort.dir > 0 ? 'ascending' : 'descending');
      else th.removeAttribute('aria-sort');
    }
    this.body.replaceChildren(...rows.map((l) => this.row(l)));
    this.empty.hidden = links.length > 0;
  }

  row(l) {
    const { level, metrics } = health(l);
    const cls = (m) => (metrics[m] && metrics[m] !== 'good' ? `num metric-${metrics[m]}` : 'num');
    const who = l.code ? `${l.code} · ${l.name}` : t('monitor.viewer');
    return h(
      'tr',
      {
        dataset: { id: l.id, code: l.code || '', health: level },
        'aria-selected': String(l.id === this.selected),
        title: t(`health.${level}`),
        onclick: () => this.select(l.id),
      },
      h('td', { text: who }),
      h('td', { text: t(`link.${l.state}`) }),
      h('td', { text: l.candidate || '–' }),
      h('td', { class: cls('rtt'), text: l.rtt === null ? '–' : l.rtt.toFixed(1) }),
      h('td', { class: cls('loss'), text: l.loss.toFixed(1) }),
      h('td', { class: cls('jitter'), text: l.jitter.toFixed(1) }),
      h(
        'td',
        { class: `${cls('in')} bitrate-in`, dataset: { bps: l.in } },
        bitrate(l.in),
        l.content > 0 ? h('small', { class: 'content-rate', dataset: { bps: l.content }, text: t('monitor.content_rate', { rate: bitrate(l.content) }) }) : null,
      ),
      h('td', { class: 'num bitrate-out', dataset: { bps: l.out }, text: bitrate(l.out) }),
      h('td', { class: 'num', text: l.fps === null ? '–' : l.fps.toFixed(0) }),
      h('td', { text: l.changed ? timeOfDay(l.changed) : '' }),
      this.extraCell(l),
    );
  }

  compare(a, b) {
    const key = this.sort.key;
    let d;
    if (key === 'endpoint') d = compareCodes(a.code ?? '~', b.code ?? '~');
    else if (key === 'state') d = HEALTH_RANK[health(a).level] - HEALTH_RANK[health(b).level] || a.state.localeCompare(b.state);
    else if (key === 'candidate') d = String(a.candidate ?? '').localeCompare(String(b.candidate ?? ''));
    else d = (a[key] ?? -1) - (b[key] ?? -1);
    return d * this.sort.dir || compareCodes(a.code ?? '~', b.code ?? '~');
  }
}
