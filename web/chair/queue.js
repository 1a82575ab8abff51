// The floor queue: pending requests in order with grant, deny and move
// up/down, and "call on" any linked site without a request.

import { $, h } from '../shared/dom.js';
import { clock, t } from '../shared/i18n.js';
import { attendanceOf, endpointsOf, holdersOf, queueOf } from '../shared/session.js';

export class Queue {
  constructor({ feed, run }) {
    this.feed = feed;
    this.run = run;
    this.list = $('#queue');
    this.count = $('#queue-count');
    this.select = $('#call-on-select');
    $('#call-on-form').addEventListener('submit', (e) => {
      e.preventDefault();
      if (this.select.value) this.callOn(this.select.value);
    });
    this.state = null;
    setInterval(() => this.refreshWaits(), 1000);
  }

  callOn(code) {
    return this.run({ command: 'grant_floor', target: { endpoint: code } });
  }

  render(state) {
    this.state = state;
    const queue = queueOf(state);
    const order = queue.map((r) => r.id);
    this.count.textContent = queue.length ? `(${queue.length})` : '';
    const live = state && state.phase !== 'ended';
    const items = queue.map((r, i) => {
      const a = attendanceOf(state, r.endpoint);
      const move = (delta) => {
        const next = [...order];
        const [id] = next.splice(i, 1);
        next.splice(i + delta, 0, id);
        this.run({ command: 'reorder_queue', order: next });
      };
      return h(
        'li',
        { dataset: { request: r.id, endpoint: r.endpoint } },
        h('span', { class: 'pos', text: r.position }),
        h(
          'span',
          { class: 'who' },
          h('strong', { text: a ? a.name : r.endpoint }),
          ' ',
          h('span', { class: 'wait muted', dataset: { since: r.requested_at } }),
          h('span', { class: 'topic', text: r.topic || t('chair.no_topic'), title: r.topic || '' }),
        ),
        h(
          'span',
          { class: 'actions' },
          h('button', { type: 'button', class: 'primary grant', text: t('chair.grant'), disabled: !live, onclick: () => this.run({ command: 'grant_floor', target: { request: r.id } }) }),
          h('button', { type: 'button', class: 'deny', text: t('chair.deny'), disabled: !live, onclick: () => this.run({ command: 'deny_floor', request: r.id }) }),
          h('button', { type: 'button', class: 'up', text: '▲', title: t('chair.move_up'), disabled: i === 0, onclick: () => move(-1) }),
          h('button', { type: 'button', class: 'down', text: '▼', title: t('chair.move_down'), disabled: i === queue.length - 1, onclick: () => move(1) }),
        ),
      );
    });
    if (!items.length) items.push(h('li', { class: 'empty', text: t('chair.queue_empty') }));
    this.list.replaceChildren(...items);
    this.refreshWaits();
    this.renderCallOn(state);
  }

  renderCallOn(state) {
    const holders = new Set(holdersOf(state).map((r) => r.endpoint));
    const keep = this.select.value;
    const options = [h('option', { value: '', text: t('chair.choose_site') })];
    for (const e of endpointsOf(state)) {
      if (e.role === 'central' || holders.has(e.code)) continue;
      const a = attendanceOf(state, e.code);
      const up = a && (a.status === 'connected' || a.status === 'present');
      if (!up) continue;
      options.push(h('option', { value: e.code, text: `${e.code} · ${e.name}` }));
    }
    this.select.replaceChildren(...options);
    if ([...this.select.options].some((o) => o.value === keep)) this.select.value = keep;
  }

  refreshWaits() {
    const now = this.feed.now();
    for (const el of this.list.querySelectorAll('.wait')) {
      const since = Number(el.dataset.since);
      el.textContent = since ? clock((now - since) / 1000) : '';
    }
  }
}
