// The site's floor panel: ask for the floor with a topic, see the place in
// the queue, cancel; while holding it, the time left and "finish speaking".

import { $, h } from '../shared/dom.js';
import { clock, t } from '../shared/i18n.js';
import { queueOf } from '../shared/session.js';

export class FloorPanel {
  constructor({ feed, run, me }) {
    this.feed = feed;
    this.run = run;
    this.me = me;
    this.body = $('#floor-body');
    this.topic = h('input', { id: 'floor-topic', maxlength: 200, placeholder: t('endpoint.topic_hint') });
    this.countdown = null;
    this.held = null;
    this.key = '';
    setInterval(() => this.tick(), 250);
    document.addEventListener('langchange', () => {
      this.topic.placeholder = t('endpoint.topic_hint');
      this.key = '';
      this.render(this.feed.state);
    });
  }

  render(state) {
    const me = this.me();
    const floor = (state && state.floor) || {};
    const reqs = floor.requests || {};
    const held = (floor.holders || []).map((id) => reqs[id]).find((r) => r && r.endpoint === me) || null;
    const pending = queueOf(state).find((r) => r.endpoint === me) || null;
    const live = state && state.phase === 'live';
    this.held = held;
    // Rebuild only when what is shown changes, so typing a topic is not interrupted.
    const key = JSON.stringify([held && held.id, pending && pending.id, pending && pending.position, live, !!me]);
    if (key === this.key) return;
    this.key = key;
    if (held) {
      this.countdown = h('div', { class: 'countdown', id: 'floor-countdown' });
      this.body.replaceChildren(
        h('div', { class: 'state', id: 'floor-state', dataset: { state: 'granted' } }, h('strong', { text: t('endpoint.you_have_floor') })),
        this.countdown,
        h('div', { class: 'row' }, h('button', { type: 'button', class: 'danger', id: 'floor-release', text: t('endpoint.release'), onclick: () => this.run({ command: 'release_floor', endpoint: me }) })),
      );
    } else if (pending) {
      this.countdown = null;
      this.body.replaceChildren(
        h('div', { class: 'state', id: 'floor-state', dataset: { state: 'pending', position: pending.position } }, t('endpoint.queued', { pos: pending.position })),
        pending.topic ? h('div', { class: 'muted', text: pending.topic }) : null,
        h('div', { class: 'row' }, h('button', { type: 'button', id: 'floor-cancel', text: t('endpoint.cancel'), onclick: () => this.run({ command: 'cancel_floor_request', request: pending.id }) })),
      );
    } else {
      this.countdown = null;
      const form = h(
        'form',
        {
          onsubmit: (e) => {
            e.preventDefault();
            this.run({ command: 'request_floor', endpoint: me, topic: this.topic.value.trim() }).then((ok) => {
              if (ok) this.topic.value = '';
            });
          },
        },
        this.topic,
        h('button', { type: 'submit', class: 'primary', id: 'floor-request', text: t('endpoint.request'), disabled: !live || !me }),
      );
      this.body.replaceChildren(h('div', { class: 'state muted', id: 'floor-state', dataset: { state: 'none' } }, live ? t('endpoint.can_request') : t('endpoint.not_live')), form);
    }
    this.tick();
  }

  tick() {
    const r = this.held;
    if (!r || !this.countdown) return;
    const now = this.feed.now();
    if (r.expires_at) {
      const left = (r.expires_at - now) / 1000;
      this.countdown.textContent = left > 0 ? t('endpoint.time_left', { time: clock(left) }) : t('endpoint.time_up');
      this.countdown.dataset.level = left <= 0 ? 'up' : r.warned || left <= 30 ? 'warn' : 'ok';
    } else if (r.granted_at) {
      this.countdown.textContent = clock((now - r.granted_at) / 1000);
      this.countdown.dataset.level = 'ok';
    }
  }
}
