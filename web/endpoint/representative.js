// Who presides at the site, their title and how many are in the room:
// filled from the session's record, saved with one command.

import { $ } from '../shared/dom.js';
import { t } from '../shared/i18n.js';
import { attendanceOf } from '../shared/session.js';

export class RepresentativeForm {
  constructor({ run, me }) {
    this.me = me;
    this.name = $('#rep-name');
    this.title = $('#rep-title');
    this.headcount = $('#rep-headcount');
    this.touched = false;
    for (const el of [this.name, this.title, this.headcount]) el.addEventListener('input', () => (this.touched = true));
    $('#rep-form').addEventListener('submit', async (e) => {
      e.preventDefault();
      const n = this.headcount.value === '' ? null : Number(this.headcount.value);
      const ok = await run({
        command: 'set_representative',
        endpoint: me(),
        name: this.name.value.trim(),
        title: this.title.value.trim(),
        headcount: Number.isFinite(n) ? n : null,
      });
      if (ok) this.touched = false;
    });
    this.button = $('#rep-form button');
    this.saved = t('endpoint.save');
  }

  render(state) {
    const a = state && this.me() ? attendanceOf(state, this.me()) : null;
    this.button.disabled = !a || state.phase === 'ended';
    // Never overwrite what someone is typing.
    if (!a || this.touched) return;
    const rep = a.representative || {};
    this.name.value = rep.name || '';
    this.title.value = rep.title || '';
    this.headcount.value = a.headcount ?? '';
  }
}
