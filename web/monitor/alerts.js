// The alert panel: the server's active alerts (from the `monitor` events on
// the socket, re-read from `GET /api/alerts` when the socket is down and
// now and then to stay in step), and below them a log of what happened:
// alerts raised and cleared, changes of health, link tests, sites the
// session reports dropped or gone, and the recording started and stopped.
// Newest first, capped so a flapping link cannot grow the page without
// bound. A recording that stopped by itself (the server could not write
// it) stays among the active alerts until recording starts again.

import { $, h } from '../shared/dom.js';
import { t, timeOfDay } from '../shared/i18n.js';
import { describeRecording } from '../shared/recording.js';
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
    // The `recording_stopped` event of a recording that failed, while no new one runs.
    this.recordingFailure = null;
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
    else if (ev.event === 'recording_started' || ev.event === 'recording_stopped') {
      this.recordingFailure = ev.event === 'recording_stopped' && ev.reason === 'failed' ? ev : null;
      const line = describeRecording(ev);
      this.add(ev.at, line.level, line.text);
    }
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
    const failure = this.recordingFailure;
    if (failure) {
      this.list.prepend(
        h(
          'li',
          { class: 'recording-failed', dataset: { level: 'bad', kind: 'recording' } },
          h('span', { class: 'when', text: timeOfDay(failure.at) }),
          h('span', { text: describeRecording(failure).text }),
        ),
      );
    }
    if (!active.length && !failure) this.list.replaceChildren(h('li', { class: 'muted none', text: t('monitor.no_alerts') }));
    this.logList.replaceChildren(
      ...this.log.map((e) =>
        h('li', { dataset: { level: e.level }, title: e.title || '' }, h('span', { class: 'when', text: timeOfDay(e.at) }), h('span', { text: e.text })),
      ),
    );
    const n = active.length + (failure ? 1 : 0);
    this.count.textContent = n ? `(${n})` : '';
  }
}
