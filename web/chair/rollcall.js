// The roll-call panel: start a round with a deadline, watch the tally as
// sites confirm, close it early, and see who did not answer.

import { $, h } from '../shared/dom.js';
import { clock, t } from '../shared/i18n.js';
import { attendanceOf, endpointsOf, lastRollCall } from '../shared/session.js';

export class RollCallPanel {
  constructor({ feed, run }) {
    this.feed = feed;
    this.run = run;
    this.body = $('#rollcall-body');
    this.state = null;
    this.deadlineEl = null;
    this.secs = null;
    setInterval(() => this.tick(), 500);
  }

  render(state) {
    this.state = state;
    const sites = endpointsOf(state).filter((e) => e.role !== 'central');
    const call = lastRollCall(state);
    const running = call && !call.closed;
    const live = state && (state.phase === 'live' || state.phase === 'open');
    const parts = [];
    if (running) {
      const confirmed = (call.confirmed || []).length;
      this.deadlineEl = h('span', { class: 'deadline muted' });
      parts.push(
        h('div', { class: 'row' }, h('strong', { text: t('rollcall.round', { round: call.round }) }), this.deadlineEl),
        h('div', { class: 'tally', id: 'rollcall-tally', text: t('rollcall.tally', { n: confirmed, total: sites.length }) }),
        h('div', { class: 'row' }, h('button', { type: 'button', id: 'rollcall-close', text: t('rollcall.close'), onclick: () => this.run({ command: 'close_roll_call' }) })),
      );
    } else {
      this.deadlineEl = null;
      if (!this.secs) {
        this.secs = h('input', { type: 'number', min: 5, max: 3600, step: 5, id: 'rollcall-secs' });
        this.secs.value = (state && state.spec && state.spec.rules && state.spec.rules.roll_call_secs) || 60;
      }
      parts.push(
        h(
          'div',
          { class: 'row' },
          h('button', {
            type: 'button',
            class: 'primary',
            id: 'rollcall-start',
            text: call ? t('rollcall.rerun') : t('rollcall.start'),
            disabled: !live,
            onclick: () => {
              const n = Number(this.secs.value);
              this.run({ command: 'start_roll_call', deadline_secs: n > 0 ? n : null });
            },
          }),
          h('label', { class: 'row' }, this.secs, h('span', { class: 'muted', text: t('rollcall.seconds') })),
        ),
      );
      if (call) {
        const present = sites.length - (call.missing || []).length;
        parts.push(h('div', { class: 'tally', id: 'rollcall-tally', text: t('rollcall.result', { round: call.round, n: present, total: sites.length }) }));
      }
    }
    const missing = call ? (running ? sites.filter((s) => !(call.confirmed || []).includes(s.code)).map((s) => s.code) : call.missing || []) : [];
    if (call && missing.length) {
      const names = missing.map((code) => {
        const a = attendanceOf(state, code);
        return a ? a.name : code;
      });
      parts.push(h('div', { class: 'missing' }, h('span', { text: t(running ? 'rollcall.waiting_for' : 'rollcall.missing') }), ' ', names.join(', ')));
    }
    this.body.replaceChildren(...parts);
    this.tick();
  }

  tick() {
    if (!this.deadlineEl || !this.state) return;
    const call = lastRollCall(this.state);
    if (!call || call.closed) return;
    const left = (call.deadline - this.feed.now()) / 1000;
    this.deadlineEl.textContent = t('rollcall.left', { time: clock(Math.max(0, left)) });
  }
}
