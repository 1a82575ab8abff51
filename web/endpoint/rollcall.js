// The roll-call prompt: while the chair's roll call runs and this site has
// not answered, a banner with the time left and one confirm button.

import { $ } from '../shared/dom.js';
import { clock, t } from '../shared/i18n.js';
import { lastRollCall } from '../shared/session.js';

export class RollCallPrompt {
  constructor({ feed, run, me }) {
    this.feed = feed;
    this.me = me;
    this.banner = $('#rollcall');
    this.left = $('#rollcall-left');
    this.done = $('#rollcall-done');
    this.call = null;
    $('#rollcall-confirm').addEventListener('click', () => run({ command: 'confirm_roll_call', endpoint: me() }));
    setInterval(() => this.tick(), 500);
  }

  render(state) {
    const call = lastRollCall(state);
    const me = this.me();
    const answered = !!(call && (call.confirmed || []).includes(me));
    const running = !!(call && !call.closed);
    this.call = running ? call : null;
    this.banner.hidden = !(running && !answered && me);
    this.done.hidden = !(call && answered);
    if (call && answered) this.done.textContent = t('endpoint.rollcall_done', { round: call.round });
    this.tick();
  }

  tick() {
    if (!this.call) return;
    const left = (this.call.deadline - this.feed.now()) / 1000;
    this.left.textContent = t('rollcall.left', { time: clock(Math.max(0, left)) });
  }
}
