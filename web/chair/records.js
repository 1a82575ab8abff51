// Recording and the meeting's records on the chair's console: the record
// button (a command, like every other action: the page waits for the
// server's event before it shows the new state), a notice that stays up
// when the server could not write the recording, and the files of the
// session: its recordings so far (name and size, each downloadable) and,
// once the meeting has ended, the signed minutes (biên bản), their
// signature and the speaking log.
//
// The files are read with the page's token: a plain link cannot carry the
// Authorization header, so a click fetches the file and hands it to the
// browser as a download (Api.download).

import { sessionPath } from '../shared/api.js';
import { $, h, toast } from '../shared/dom.js';
import { lang, t } from '../shared/i18n.js';
import { failureText, fileSize } from '../shared/recording.js';

/** While the session records, the list is read this often (the current file grows). */
const POLL_MS = 5000;
/** A stopped file is closed by the server shortly after the event: read the list again then. */
const SETTLE_MS = 1500;

/** The session's documents after the meeting: where, the file name to save as, and the label. */
export function documentsOf(id) {
  return [
    { kind: 'minutes', path: sessionPath(id, '/minutes.pdf'), file: `bien-ban-${id}.pdf`, label: 'records.minutes' },
    { kind: 'signature', path: sessionPath(id, '/minutes.pdf.sig'), file: `bien-ban-${id}.pdf.sig`, label: 'records.signature' },
    { kind: 'speaking-log', path: sessionPath(id, '/speaking-log?format=csv'), file: `nhat-ky-phat-bieu-${id}.csv`, label: 'records.speaking_log' },
  ];
}

/** The header's record button. */
export class RecordButton {
  constructor({ feed, run }) {
    this.feed = feed;
    this.run = run;
    this.el = $('#record');
    this.busy = false;
    this.el.addEventListener('click', () => this.toggle());
  }

  render(state) {
    const b = this.el;
    b.hidden = !state;
    if (!state) return;
    const on = !!state.recording;
    const can = state.phase === 'open' || state.phase === 'live';
    b.disabled = !can || this.busy;
    b.dataset.recording = String(on);
    b.setAttribute('aria-pressed', String(on));
    b.className = on ? 'record danger' : 'record';
    b.replaceChildren(h('span', { class: 'rec-dot', 'aria-hidden': 'true' }), ' ', t(on ? 'recording.stop' : 'recording.start'));
    if (!can) b.title = t(state.phase === 'ended' ? 'recording.ended' : 'recording.not_yet');
    else if (!on && state.phase === 'open') b.title = t('recording.armed_detail');
    else b.title = '';
  }

  async toggle() {
    const state = this.feed.state;
    if (!state || this.busy) return;
    this.busy = true;
    this.render(state);
    await this.run({ command: state.recording ? 'stop_recording' : 'start_recording' });
    this.busy = false;
    this.render(this.feed.state);
  }
}

/** A notice that stays up when the recording stopped by itself (the server could not write it). */
export class RecordingAlert {
  constructor({ feed }) {
    this.el = $('#rec-alert');
    this.text = $('#rec-alert-text');
    this.event = null;
    $('#rec-alert-close').addEventListener('click', () => this.hide());
    feed.addEventListener('event', (e) => {
      const ev = e.detail;
      if (ev.event === 'recording_stopped' && ev.reason === 'failed') this.show(ev);
      else if (ev.event === 'recording_started') this.hide();
    });
    document.addEventListener('langchange', () => this.render());
  }

  show(ev) {
    this.event = ev;
    this.render();
  }

  hide() {
    this.event = null;
    this.render();
  }

  render() {
    this.el.hidden = !this.event;
    this.text.textContent = this.event ? failureText(this.event) : '';
  }
}

/** The session's files: recordings so far, and the minutes and speaking log once it has ended. */
export class RecordsPanel {
  constructor({ api, feed }) {
    this.api = api;
    this.feed = feed;
    this.panel = $('#records');
    this.docs = $('#records-docs');
    this.docsHint = $('#records-docs-hint');
    this.list = $('#recordings');
    this.empty = $('#recordings-empty');
    this.files = [];
    this.loading = false;
    this.again = false;
    this.shown = { id: null, recording: null, phase: null };
    this.settleTimer = null;
    feed.addEventListener('welcome', () => this.load());
    feed.addEventListener('event', (e) => {
      const ev = e.detail.event;
      if (ev === 'recording_started' || ev === 'recording_stopped' || ev === 'ended') this.loadSoon();
    });
    setInterval(() => {
      const s = this.feed.state;
      if (s && s.recording && s.phase === 'live') this.load();
    }, POLL_MS);
  }

  render(state) {
    this.panel.hidden = !state;
    if (!state) return;
    const id = state.spec.id;
    const ended = state.phase === 'ended';
    this.panel.dataset.phase = state.phase;
    const before = this.shown;
    this.shown = { id, recording: !!state.recording, phase: state.phase };
    if (before.id !== id) {
      this.files = [];
      this.load();
    } else if (before.recording !== this.shown.recording || before.phase !== this.shown.phase) {
      this.loadSoon();
    }
    this.docs.hidden = !ended;
    this.docsHint.hidden = ended;
    if (ended) this.renderDocs(id);
    this.renderFiles();
  }

  renderDocs(id) {
    this.docs.replaceChildren(
      ...documentsOf(id).map((d) =>
        h(
          'li',
          { dataset: { kind: d.kind } },
          h('a', {
            class: 'doc',
            href: d.path,
            download: d.file,
            dataset: { kind: d.kind },
            text: t(d.label),
            onclick: (e) => {
              e.preventDefault();
              this.download(d.path, d.file);
            },
          }),
        ),
      ),
    );
  }

  renderFiles() {
    const state = this.feed.state;
    const writing = !!state && state.recording && state.phase === 'live';
    this.empty.hidden = this.files.length > 0;
    this.list.replaceChildren(
      ...this.files.map((f, i) => {
        const current = writing && i === this.files.length - 1;
        return h(
          'li',
          { dataset: { name: f.name, bytes: f.bytes } },
          h('a', {
            class: 'file',
            href: f.href,
            download: f.name,
            text: f.name,
            onclick: (e) => {
              e.preventDefault();
              this.download(f.href, f.name);
            },
          }),
          h('span', { class: 'size muted', text: fileSize(f.bytes, lang()) }),
          current ? h('span', { class: 'writing', text: t('records.writing') }) : null,
        );
      }),
    );
  }

  /** Reads the list now, and once more when a stopped file has been closed. */
  loadSoon() {
    this.load();
    clearTimeout(this.settleTimer);
    this.settleTimer = setTimeout(() => this.load(), SETTLE_MS);
  }

  async load() {
    const id = this.feed.id;
    if (!id) return;
    if (this.loading) {
      this.again = true;
      return;
    }
    this.loading = true;
    try {
      const list = await this.api.get(sessionPath(id, '/recordings'));
      if (this.feed.id === id) {
        this.files = Array.isArray(list) ? list.filter((f) => f && typeof f.name === 'string' && typeof f.href === 'string') : [];
        this.renderFiles();
      }
    } catch (err) {
      console.warn('recordings unavailable', err);
    } finally {
      this.loading = false;
      if (this.again) {
        this.again = false;
        this.load();
      }
    }
  }

  async download(path, file) {
    try {
      await this.api.download(path, file);
    } catch (err) {
      const key = err.status === 404 ? 'records.not_ready' : 'error.command';
      toast(t(key, { message: err.message }), 'error', 6000);
    }
  }
}
