// The selected link's log under its chart: the `events` of
// `GET /api/links/{id}/history`, then what the socket adds while it is
// shown. Newest first, capped like the server's own log.

import { $, h } from '../shared/dom.js';
import { t, timeOfDay } from '../shared/i18n.js';
import { describe, eventTime } from './events.js';

const MAX_EVENTS = 300;

export class LinkLog {
  constructor() {
    this.list = $('#link-log');
    this.events = new Map(); // link id -> events, oldest first
    this.id = null;
    document.addEventListener('langchange', () => this.render());
  }

  /** The server's log of a link, replacing what this console had. */
  set(id, events) {
    const mine = (this.events.get(id) || []).filter((e) => (eventTime(e) ?? 0) > lastTime(events));
    this.events.set(id, trim([...(events || []), ...mine]));
    if (id === this.id) this.render();
  }

  /** A live event about one link. */
  add(ev) {
    if (!ev || !ev.link) return;
    const list = this.events.get(ev.link) || [];
    list.push(ev);
    this.events.set(ev.link, trim(list));
    if (ev.link === this.id) this.render();
  }

  show(id) {
    this.id = id;
    this.render();
  }

  render() {
    const events = this.id ? this.events.get(this.id) || [] : [];
    const lines = [];
    for (let i = events.length - 1; i >= 0; i--) {
      const line = describe(events[i]);
      if (line) lines.push(h('li', { dataset: { level: line.level, event: events[i].event }, title: line.title || '' }, h('span', { class: 'when', text: timeOfDay(eventTime(events[i])) }), h('span', { text: line.text })));
    }
    if (!lines.length && this.id) lines.push(h('li', { class: 'muted none', text: t('monitor.no_events') }));
    this.list.replaceChildren(...lines);
  }
}

function lastTime(events) {
  let last = 0;
  for (const e of events || []) last = Math.max(last, eventTime(e) ?? 0);
  return last;
}

function trim(list) {
  return list.length > MAX_EVENTS ? list.slice(list.length - MAX_EVENTS) : list;
}
