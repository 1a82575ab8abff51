// The alert list: a line whenever a link's health gets worse (or recovers),
// a link goes or comes back, or the session reports a site dropped. Newest
// first, capped so a flapping link cannot grow the page without bound.

import { $, h } from '../shared/dom.js';
import { t, timeOfDay } from '../shared/i18n.js';
import { health } from './links.js';

const MAX_ALERTS = 200;
const RANK = { good: 0, warn: 1, bad: 2 };

export class Alerts {
  constructor() {
    this.list = $('#alerts');
    this.count = $('#alert-count');
    this.items = [];
    this.last = new Map(); // link id -> {level, state, who}
    // The first reading only sets the baseline: opening the console in the
    // middle of a session must not list every link as news.
    this.primed = false;
    document.addEventListener('langchange', () => this.render());
  }

  /** Compares the new readings with the previous ones. */
  observe(links, now) {
    const seen = new Set();
    for (const l of links) {
      seen.add(l.id);
      const who = l.code ? `${l.code} · ${l.name}` : t('monitor.viewer');
      const { level, metrics } = health(l);
      const before = this.last.get(l.id);
      this.last.set(l.id, { level, state: l.state, who });
      if (!before) {
        if (this.primed) this.add(now, 'good', 'alert.link_up', { who });
        else if (level !== 'good') this.add(now, level, 'alert.degraded', { who, why: t(`health.${level}`) });
        continue;
      }
      if (before.state !== l.state && (l.state === 'failed' || l.state === 'disconnected')) {
        this.add(now, 'bad', 'alert.state', { who, state: t(`link.${l.state}`) });
      } else if (RANK[level] > RANK[before.level]) {
        const why = Object.entries(metrics)
          .filter(([, v]) => v === level)
          .map(([k]) => t(`monitor.metric.${k}`))
          .join(', ');
        this.add(now, level, 'alert.degraded', { who, why: why || t(`link.${l.state}`) });
      } else if (RANK[level] < RANK[before.level] && level === 'good') {
        this.add(now, 'good', 'alert.recovered', { who });
      }
    }
    for (const [id, before] of this.last) {
      if (!seen.has(id)) {
        this.last.delete(id);
        this.add(now, 'bad', 'alert.link_gone', { who: before.who });
      }
    }
    this.primed = true;
  }

  /** A session event worth a line of its own. */
  event(ev, nameOf) {
    const who = ev.endpoint ? `${ev.endpoint} · ${nameOf(ev.endpoint)}` : '';
    if (ev.event === 'endpoint_dropped') this.add(ev.at, 'bad', 'alert.dropped', { who });
    else if (ev.event === 'drop_grace_expired') this.add(ev.at, 'bad', 'alert.grace_expired', { who });
    else if (ev.event === 'endpoint_left') this.add(ev.at, 'warn', 'alert.left', { who });
  }

  add(at, level, key, vars) {
    this.items.unshift({ at, level, key, vars });
    if (this.items.length > MAX_ALERTS) this.items.length = MAX_ALERTS;
    this.render();
  }

  render() {
    this.list.replaceChildren(
      ...this.items.map((a) =>
        h('li', { dataset: { level: a.level } }, h('span', { class: 'when', text: timeOfDay(a.at) }), h('span', { text: t(a.key, a.vars) })),
      ),
    );
    const open = this.items.filter((a) => a.level !== 'good').length;
    this.count.textContent = open ? `(${open})` : '';
  }
}
