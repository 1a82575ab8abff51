// The alert panel: the server's active alerts (from the `monitor` events on
// the socket, re-read from `GET /api/alerts` when the socket is down and
// now and then to stay in step), and below them a log of what happened:
// alerts raised and cleared, changes of health, link tests, and sites the
// session reports dropped or gone. Newest first, capped so a flapping link
// cannot grow the page without bound.

import { $, h } from '../shared/dom.js';
import { t, timeOfDay } from '../shared/i18n.js';
import { describe, eventTime } from './events.js';

const MAX_LOG = 200;
const RANK = { good: 0, warn: 1, bad: 2 };

const keyOf = (a) => `${a.link}|${a.reason}`;

export class Alerts {
  /** `whoOf(linkId)` names a link for people. */
  constructor(whoOf) {
    this.whoOf = whoOf;
    this.list = $('#alerts');
    this.logList = $('#alert-log');
    this.count = $('#alert-count');
    this.active = new Map();
    this.log = [];
    document.addEventListener('langchange', () => this.render());
  }

  /** Replaces the active alerts with the server's list (`GET /api/alerts`). */
  setActive(alerts) {
    this.active = new Map((alerts || []).filter((a) => a && a.link && a.reason).map((a) => [keyOf(a), a]));
    this.render();
  }

  /** One `monitor` event from the socket. */
  monitorEvent(ev) {
    if (ev.event === 'alert_raised') this.active.set(keyOf(ev), ev);
    else if (ev.event === 'alert_cleared') this.active.delete(keyOf(ev));
    else if (ev.event === 'link_removed') {
      for (const [k, a] of this.active) if (a.link === ev.link) this.active.delete(k);
    }
    const line = describe(ev);
    if (line) this.add(eventTime(ev), line.level, `${this.whoOf(ev.link)}: ${line.text}`, line.title);
    else this.render();
  }

  /** A session event worth a line of its own. */
  sessionEvent(ev, nameOf) {
    const who = ev.endpoint ? `${ev.endpoint} · ${nameOf(ev.endpoint)}` : '';
    if (ev.event === 'endpoint_dropped') this.add(ev.at, 'bad', t('alert.dropped', { who }));
    else if (ev.event === 'drop_grace_expired') this.add(ev.at, 'bad', t('alert.grace_expired', { who }));
    else if (ev.event === 'endpoint_left') this.add(ev.at, 'warn', t('alert.left', { who }));
  }

  add(at, level, text, title) {
    this.log.unshift({ at, level, text, title });
    if (this.log.length > MAX_LOG) this.log.length = MAX_LOG;
    this.render();
  }

  render() {
    const active = [...this.active.values()].sort((a, b) => RANK[b.level] - RANK[a.level] || (a.since ?? 0) - (b.since ?? 0));
    this.list.replaceChildren(
      ...active.map((a) =>
        h(
          'li',
          { dataset: { level: a.level, link: a.link, reason: a.reason }, title: a.message || '' },
          h('span', { class: 'when', text: timeOfDay(a.since ?? a.at) }),
          h('span', { text: `${this.whoOf(a.link)}: ${t(`alert.reason.${a.reason}`)} (${t(`health.${a.level}`)})` }),
        ),
      ),
    );
    if (!active.length) this.list.replaceChildren(h('li', { class: 'muted none', text: t('monitor.no_alerts') }));
    this.logList.replaceChildren(
      ...this.log.map((e) =>
        h('li', { dataset: { level: e.level }, title: e.title || '' }, h('span', { class: 'when', text: timeOfDay(e.at) }), h('span', { text: e.text })),
      ),
    );
    this.count.textContent = active.length ? `(${active.length})` : '';
  }
}
