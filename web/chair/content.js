// Presentations on the chair's console: who presents, with the button
// that takes it back; the sites waiting to present, each allowed or
// declined; and the presentation itself on the programme's stage, the
// floor holder's picture going small in its corner meanwhile. The chair's
// own room presents with the same control as a site (shared/present.js).

import { $, h } from '../shared/dom.js';
import { clock, t } from '../shared/i18n.js';
import { attach, detach } from '../shared/media.js';
import { contentOf, siteName } from '../shared/present.js';
import { chairCode } from '../shared/session.js';

export class ContentPanel {
  constructor({ feed, run }) {
    this.feed = feed;
    this.run = run;
    this.stage = $('#stage');
    this.video = $('#content-video');
    this.name = $('#presenter-name');
    this.revoke = $('#content-revoke');
    this.box = $('#content-requests-box');
    this.list = $('#content-requests');
    this.stream = null;
    this.presenter = null;
    this.revoke.addEventListener('click', () => {
      if (this.presenter) this.run({ command: 'revoke_content', endpoint: this.presenter });
    });
    setInterval(() => this.refreshWaits(), 1000);
  }

  /** The server's content slot (the presenter's screen). */
  setStream(stream) {
    this.stream = stream;
    if (stream) attach(this.video, stream);
    else detach(this.video);
    this.show();
  }

  render(state) {
    const { presenter, pending } = contentOf(state);
    this.presenter = presenter ? presenter.endpoint : null;
    this.name.textContent = presenter ? t('present.by', { name: siteName(state, presenter.endpoint) }) : t('present.none');
    this.name.dataset.endpoint = this.presenter || '';
    this.revoke.hidden = !presenter;
    const live = !!state && state.phase === 'live';
    const rules = (state && state.spec && state.spec.rules) || {};
    const floor = (state && state.floor) || {};
    const holders = new Set((floor.holders || []).map((id) => floor.requests && floor.requests[id] && floor.requests[id].endpoint));
    this.box.hidden = pending.length === 0;
    this.list.replaceChildren(
      ...pending.map((r) => {
        // While a presentation ends with the floor, only a floor holder can
        // be allowed: the server would refuse the others.
        const needsFloor = rules.content_ends_with_floor !== false && r.endpoint !== chairCode(state) && !holders.has(r.endpoint);
        return h(
          'li',
          { dataset: { endpoint: r.endpoint } },
          h('span', { class: 'who' }, h('strong', { text: siteName(state, r.endpoint) }), ' ', h('span', { class: 'wait muted', dataset: { since: r.requested_at } })),
          h(
            'span',
            { class: 'actions' },
            h('button', {
              type: 'button',
              class: 'primary grant',
              text: t('chair.content_grant'),
              disabled: !live || needsFloor,
              title: needsFloor ? t('chair.content_needs_floor') : '',
              onclick: () => this.run({ command: 'grant_content', endpoint: r.endpoint }),
            }),
            h('button', { type: 'button', class: 'deny', text: t('chair.content_deny'), disabled: !live, onclick: () => this.run({ command: 'revoke_content', endpoint: r.endpoint }) }),
          ),
        );
      }),
    );
    this.refreshWaits();
    this.show();
  }

  /** The presentation on the stage while another site presents (the chair does not get its own back). */
  show() {
    const state = this.feed.state;
    const on = !!this.presenter && this.presenter !== chairCode(state) && !!this.stream;
    this.video.hidden = !on;
    this.stage.classList.toggle('has-content', on);
  }

  refreshWaits() {
    const now = this.feed.now();
    for (const el of this.list.querySelectorAll('.wait')) {
      const since = Number(el.dataset.since);
      el.textContent = since ? clock((now - since) / 1000) : '';
    }
  }
}
