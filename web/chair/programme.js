// The programme area: the floor holder large, with the speaking-time
// countdown (or the time spoken when there is no limit), the mute and
// revoke buttons and the speaking-limit setting.

import { $, h, replaceChildren } from '../shared/dom.js';
import { clock, t } from '../shared/i18n.js';
import { icon } from '../shared/icons.js';
import { attach, detach } from '../shared/media.js';
import { attendanceOf, holdersOf, isMuted } from '../shared/session.js';

export class Programme {
  constructor({ feed, grid, run }) {
    this.feed = feed;
    this.grid = grid;
    this.run = run;
    this.video = $('#stage-video');
    this.empty = $('#stage-empty');
    this.name = $('#holder-name');
    this.countdown = $('#countdown');
    this.revoke = $('#revoke');
    this.mute = $('#mute-holder');
    this.holderMuted = false;
    this.floorStream = null;
    this.shown = null;
    this.holder = null;
    this.limitTouched = false;
    this.revoke.addEventListener('click', () => {
      if (this.holder) this.run({ command: 'revoke_floor', endpoint: this.holder.endpoint });
    });
    this.mute.addEventListener('click', () => {
      if (this.holder) this.run({ command: 'set_muted', endpoint: this.holder.endpoint, muted: !this.holderMuted });
    });
    const secs = $('#limit-secs');
    const auto = $('#limit-auto');
    secs.addEventListener('input', () => (this.limitTouched = true));
    $('#limit-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const n = Number(secs.value);
      this.limitTouched = false;
      this.run({ command: 'set_speaking_limit', seconds: secs.value === '' || n <= 0 ? null : n, auto_revoke: auto.checked });
    });
    setInterval(() => this.tick(), 250);
  }

  /** The server's floor slot, when it sends one to the chair. */
  setFloorStream(stream) {
    this.floorStream = stream;
    this.pick();
  }

  render(state) {
    const holders = holdersOf(state);
    this.holder = holders[holders.length - 1] || null;
    const a = this.holder ? attendanceOf(state, this.holder.endpoint) : null;
    this.holderMuted = !!this.holder && isMuted(state, this.holder.endpoint);
    replaceChildren(
      this.name,
      this.holder ? t('chair.holder', { name: a ? a.name : this.holder.endpoint }) : '',
      this.holderMuted ? h('span', { class: 'muted-mark', title: t('chair.muted') }, ' ', icon('micOff', t('chair.muted'))) : null,
    );
    this.name.title = this.holder && this.holder.topic ? this.holder.topic : '';
    this.revoke.hidden = !this.holder;
    this.mute.hidden = !this.holder;
    this.mute.disabled = !state || state.phase === 'ended';
    this.mute.setAttribute('aria-pressed', String(this.holderMuted));
    replaceChildren(this.mute, icon(this.holderMuted ? 'micOff' : 'mic'), ' ', t(this.holderMuted ? 'chair.unmute_short' : 'chair.mute_short'));
    this.empty.hidden = !!this.holder;
    if (!this.limitTouched && state && state.floor) {
      const secs = $('#limit-secs');
      if (document.activeElement !== secs) secs.value = state.floor.speaking_limit_secs ?? '';
      $('#limit-auto').checked = !!state.floor.auto_revoke;
    }
    this.pick();
    this.tick();
  }

  /** Shows the floor slot if the server sends one, else the holder's tile. */
  pick() {
    const stream = this.holder ? this.floorStream || this.grid.streamOf(this.holder.endpoint) : null;
    if (stream === this.shown) return;
    this.shown = stream;
    if (stream) attach(this.video, stream);
    else detach(this.video);
  }

  tick() {
    const r = this.holder;
    if (!r) {
      this.countdown.textContent = '';
      delete this.countdown.dataset.level;
      return;
    }
    const now = this.feed.now();
    if (r.expires_at) {
      const left = (r.expires_at - now) / 1000;
      this.countdown.textContent = left > 0 ? clock(left) : `−${clock(-left)}`;
      this.countdown.dataset.level = left <= 0 ? 'up' : r.warned || left <= 30 ? 'warn' : 'ok';
      this.countdown.title = t('chair.time_left');
    } else if (r.granted_at) {
      this.countdown.textContent = clock((now - r.granted_at) / 1000);
      this.countdown.dataset.level = 'ok';
      this.countdown.title = t('chair.time_spoken');
    }
  }
}
