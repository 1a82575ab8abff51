// "Test my link": while the session is `open`, before it starts, the site
// measures its own link for a few seconds (RTT, loss both ways, the bit
// rate it achieves) and gets the server's verdict. Meanwhile the server
// sends the site's own picture back on the floor slot, so people in the
// room see the return path working. The result is read from
// `GET .../link-tests` (an endpoint sees its own tests only): endpoints
// get no monitor events on their socket.

import { sessionPath } from '../shared/api.js';
import { $, h, replaceChildren, toast } from '../shared/dom.js';
import { bitrate, t, timeOfDay } from '../shared/i18n.js';

const POLL_MS = 1000;
// How long past the test's end to keep asking for its result.
const RESULT_GRACE_MS = 20000;

export class SelfTest extends EventTarget {
  constructor({ api, feed, me }) {
    super();
    this.api = api;
    this.feed = feed;
    this.me = me;
    this.panel = $('#selftest');
    this.button = $('#selftest-start');
    this.seconds = $('#selftest-seconds');
    this.stateEl = $('#selftest-state');
    this.resultEl = $('#selftest-result');
    this.run = null;
    this.result = null;
    this.loadedFor = null;
    this.timer = null;
    this.button.addEventListener('click', () => this.start());
    setInterval(() => this.renderState(), 500);
    document.addEventListener('langchange', () => this.render(this.feed.state));
  }

  get allowed() {
    const s = this.feed.state;
    return !!(s && s.phase === 'open' && this.me());
  }

  get running() {
    return !!this.run;
  }

  render(state) {
    this.panel.hidden = !this.allowed;
    const id = state && state.spec && state.spec.id;
    // A test started from the technicians' console shows here too.
    if (this.allowed && id && this.loadedFor !== id) {
      this.loadedFor = id;
      this.load().catch((err) => console.warn('link tests unavailable', err));
    }
    this.renderState();
    this.renderResult();
  }

  async load() {
    const id = this.feed.id;
    if (!id) return null;
    const data = await this.api.get(sessionPath(id, '/link-tests'));
    const mine = (list) => (list || []).filter((r) => r.endpoint === this.me());
    const done = mine(data && data.done);
    const running = mine(data && data.running)[0] || null;
    const last = done[done.length - 1] || null;
    if (last && (!this.result || last.ended_at >= this.result.ended_at)) this.result = last;
    if (running && !this.run) this.follow(running);
    this.renderState();
    this.renderResult();
    return { done, running };
  }

  async start() {
    const id = this.feed.id;
    const code = this.me();
    if (!id || !code || this.run) return;
    this.button.disabled = true;
    try {
      const run = await this.api.post(sessionPath(id, `/endpoints/${encodeURIComponent(code)}/link-test`), {
        seconds: Number(this.seconds.value) || 10,
      });
      this.follow(run);
    } catch (err) {
      toast(t('linktest.failed', { message: err.message }), 'error', 8000);
      this.renderState();
    }
  }

  /** Waits for the result of `run`, asking once a second, for a bounded time. */
  follow(run) {
    this.run = run;
    this.emit();
    this.renderState();
    const giveUpAt = Date.now() + Math.max(0, run.ends_at - this.feed.now()) + RESULT_GRACE_MS;
    clearTimeout(this.timer);
    const ask = async () => {
      let found = null;
      try {
        const { done } = (await this.load()) || { done: [] };
        found = done.find((r) => r.started_at === run.started_at) || null;
      } catch (err) {
        console.warn('link test result unavailable', err);
      }
      if (found) {
        this.result = found;
        this.finish();
      } else if (Date.now() > giveUpAt) {
        toast(t('linktest.no_result'), 'warn', 8000);
        this.finish();
      } else {
        this.timer = setTimeout(ask, POLL_MS);
      }
    };
    this.timer = setTimeout(ask, Math.min(POLL_MS, Math.max(0, run.ends_at - this.feed.now())));
  }

  finish() {
    this.run = null;
    this.emit();
    this.renderState();
    this.renderResult();
  }

  renderState() {
    const run = this.run;
    this.button.disabled = !!run || !this.allowed;
    this.seconds.disabled = !!run;
    this.panel.dataset.state = run ? 'running' : this.result ? 'done' : 'idle';
    if (!run) {
      this.stateEl.hidden = true;
      return;
    }
    const left = Math.max(0, Math.ceil((run.ends_at - this.feed.now()) / 1000));
    this.stateEl.hidden = false;
    this.stateEl.textContent = left > 0 ? t('linktest.running', { left }) : t('linktest.finishing');
  }

  renderResult() {
    const r = this.result;
    this.resultEl.hidden = !r;
    if (!r) return;
    const avg = (f) => (f && typeof f.avg === 'number' ? f.avg : null);
    const rtt = avg(r.rtt_ms);
    const loss = Math.max(avg(r.loss_up_pct) ?? 0, avg(r.loss_down_pct) ?? 0);
    this.resultEl.dataset.verdict = r.verdict;
    const row = (label, value, cls) => [h('dt', { text: label }), h('dd', { class: cls, text: value })];
    replaceChildren(
      this.resultEl,
      h('div', { class: 'verdict', id: 'selftest-verdict', dataset: { verdict: r.verdict }, text: t(`verdict.${r.verdict}`) }),
      h(
        'dl',
        {},
        row(t('linktest.rtt'), rtt === null ? '–' : `${rtt.toFixed(0)} ms`),
        row(t('linktest.loss'), `${loss.toFixed(1)} %`),
        row(t('linktest.up'), bitrate(avg(r.bitrate_in_bps)), 'selftest-up'),
        row(t('linktest.down'), bitrate(avg(r.bitrate_out_bps))),
      ),
      h('p', { class: 'muted', text: t('linktest.when', { time: timeOfDay(r.ended_at) }) }),
    );
    const up = $('.selftest-up', this.resultEl);
    up.id = 'selftest-bitrate';
    up.dataset.bps = String(Math.round(avg(r.bitrate_in_bps) ?? 0));
  }

  emit() {
    this.dispatchEvent(new CustomEvent('running', { detail: this.running }));
  }
}
