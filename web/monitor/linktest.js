// Pre-session link tests from the technicians' console: while the session
// is `open`, any site's link can be measured for a few seconds
// (`POST .../endpoints/{code}/link-test`). Results arrive as `monitor`
// events on the socket; `GET .../link-tests` is read when the console
// opens and, while a test runs, with every refresh in case the socket
// missed the end.

import { sessionPath } from '../shared/api.js';
import { $, h, toast } from '../shared/dom.js';
import { t, timeOfDay } from '../shared/i18n.js';
import { testSummary, verdictLevel } from './events.js';

/** How long after a test's end the console keeps saying it runs before it asks again. */
const LATE_MS = 3000;

export class LinkTests extends EventTarget {
  constructor({ api, feed }) {
    super();
    this.api = api;
    this.feed = feed;
    this.running = new Map(); // code -> run
    this.results = new Map(); // code -> latest result
    this.starting = new Set();
    this.controls = $('#test-controls');
    this.secondsSelect = $('#test-seconds');
  }

  /** Whether a test may start now: only while the session is open, before it starts. */
  get allowed() {
    return !!(this.feed.state && this.feed.state.phase === 'open');
  }

  /** Shows the length picker only while tests are allowed. */
  renderControls() {
    this.controls.hidden = !this.allowed;
  }

  /** Reads the running tests and the finished ones from the server. */
  async load() {
    const id = this.feed.id;
    if (!id) return;
    try {
      const data = await this.api.get(sessionPath(id, '/link-tests'));
      this.running = new Map(((data && data.running) || []).map((r) => [r.endpoint, r]));
      for (const r of (data && data.done) || []) this.keep(r);
      this.changed();
    } catch (err) {
      console.warn('link tests unavailable', err);
    }
  }

  /** Reads again while a test should be over but no result came. */
  refreshIfLate() {
    const now = this.feed.now();
    for (const run of this.running.values()) {
      if (now > run.ends_at + LATE_MS) return this.load();
    }
    return null;
  }

  /** A `link_test_done` monitor event. */
  done(result) {
    if (!result || !result.endpoint) return;
    this.running.delete(result.endpoint);
    this.keep(result);
    this.changed();
  }

  keep(r) {
    const before = this.results.get(r.endpoint);
    if (!before || (r.ended_at ?? 0) >= (before.ended_at ?? 0)) this.results.set(r.endpoint, r);
  }

  async start(code) {
    const id = this.feed.id;
    if (!id || this.starting.has(code)) return;
    const seconds = Number(this.secondsSelect.value) || 10;
    this.starting.add(code);
    this.changed();
    try {
      const run = await this.api.post(sessionPath(id, `/endpoints/${encodeURIComponent(code)}/link-test`), { seconds });
      if (run && run.endpoint) this.running.set(run.endpoint, run);
    } catch (err) {
      toast(t('linktest.failed', { message: err.message }), 'error', 8000);
    } finally {
      this.starting.delete(code);
      this.changed();
    }
  }

  /** The table cell of one link: its test's state or result, and the button. */
  cell(link) {
    const code = link.code;
    if (!code) return h('td', { class: 'linktest' });
    const run = this.running.get(code);
    const result = this.results.get(code);
    const parts = [];
    if (run || this.starting.has(code)) {
      const left = run ? Math.max(0, Math.ceil((run.ends_at - this.feed.now()) / 1000)) : null;
      parts.push(h('span', { class: 'test-running', text: left === null ? t('linktest.starting') : t('linktest.running', { left }) }));
    } else if (this.allowed) {
      parts.push(
        h('button', {
          type: 'button',
          class: 'test-start',
          text: t('linktest.start'),
          onclick: (e) => {
            e.stopPropagation();
            this.start(code);
          },
        }),
      );
    }
    if (result && !run) {
      parts.push(
        h('span', {
          class: 'test-result',
          dataset: { verdict: result.verdict, level: verdictLevel(result.verdict), bps: Math.round((result.bitrate_in_bps && result.bitrate_in_bps.avg) || 0) },
          title: t('linktest.when', { time: timeOfDay(result.ended_at) }),
          text: testSummary(result),
        }),
      );
    }
    return h('td', { class: 'linktest', dataset: { state: run ? 'running' : result ? 'done' : 'none' } }, ...parts);
  }

  changed() {
    this.dispatchEvent(new Event('change'));
  }
}
