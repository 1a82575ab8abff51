// Presenting (trình chiếu): a site shares a screen or a window with every
// other site, on the `content` slot. The server holds the token, one
// presenter at a time: a click asks for it (`request_content`); the floor
// holder and the chair's own site get it at once, any other site waits for
// the chair. Once this site holds it, the page captures the screen
// (`getDisplayMedia`) and puts it on its content line (no renegotiation).
//
// The page sends only while it holds the token, and holds it only while it
// sends: the capture stops when the token is taken back (the chair, the
// floor lost, another presenter), and the token is given back when the
// capture ends (the user's click here or on the browser's own "stop
// sharing", or the picker closed without a choice).
//
// Used by the endpoint page and by the chair page (the central site
// presents like any other).

import { h, toast } from './dom.js';
import { t } from './i18n.js';
import { attach, detach } from './media.js';
import { attendanceOf } from './session.js';

/** The presenter and the waiting requests of a session state. */
export function contentOf(state) {
  const c = (state && state.content) || {};
  return { presenter: c.presenter || null, pending: Array.isArray(c.pending) ? c.pending : [] };
}

/** The site presenting now, or null. */
export function presenterOf(state) {
  const p = contentOf(state).presenter;
  return p ? p.endpoint : null;
}

/** A site's name, or its code. */
export function siteName(state, code) {
  const a = attendanceOf(state, code);
  return a && a.name ? a.name : code;
}

const REASON_NOTICE = {
  chair: 'notice.your_content_revoked',
  replaced: 'notice.your_content_replaced',
  floor_lost: 'notice.your_content_floor_lost',
};

export class PresentControl extends EventTarget {
  /**
   * `feed`: the session feed; `run(command)`: sends a command, resolves
   * true on `ok`; `me()`: this page's site code; `link()`: the page's
   * current MediaLink (or null); `container`: where the controls go;
   * `quiet`: say nothing of the others' presentations (a page that shows
   * them elsewhere).
   */
  constructor({ feed, run, me, link, container, quiet = false }) {
    super();
    this.quiet = quiet;
    this.feed = feed;
    this.run = run;
    this.me = me;
    this.link = link;
    this.box = container;
    this.track = null;
    this.acquiring = false;
    // The token came to this page (a grant seen here, or its own request):
    // until then a token the state says this site holds is a leftover of
    // an earlier page (a reload), given back.
    this.expecting = false;
    // Held, but the browser wants a click before it shows its picker.
    this.needsClick = false;
    // The newest of this site's own content events: a state older than it
    // (a read that left before the event) does not overrule it.
    this.seq = 0;
    this.granted = false;
    this.key = '';
    this.state = h('div', { class: 'state', id: 'present-state', dataset: { state: 'none' } });
    this.pick = h('button', { type: 'button', class: 'primary', id: 'present-pick', hidden: true, onclick: () => this.capture() });
    this.toggle = h('button', { type: 'button', class: 'primary', id: 'present-toggle', onclick: () => this.click() });
    this.preview = h('video', { id: 'present-preview', autoplay: true, playsinline: true, muted: true, hidden: true });
    this.preview.muted = true;
    this.box.replaceChildren(this.state, h('div', { class: 'row' }, this.pick, this.toggle), this.preview);
    feed.addEventListener('event', (e) => this.onEvent(e.detail));
    feed.addEventListener('change', () => this.sync());
    document.addEventListener('langchange', () => {
      this.key = '';
      this.render();
    });
    this.render();
  }

  /** What this site's presentation is at: `none`, `pending`, `granted`, `acquiring` or `presenting`. */
  phase() {
    if (this.track) return 'presenting';
    if (this.acquiring) return 'acquiring';
    if (this.granted) return 'granted';
    const me = this.me();
    const { pending } = contentOf(this.feed.state);
    return me && pending.some((r) => r.endpoint === me) ? 'pending' : 'none';
  }

  click() {
    const me = this.me();
    if (!me) return;
    const phase = this.phase();
    if (phase === 'none') {
      if (!navigator.mediaDevices || !navigator.mediaDevices.getDisplayMedia) {
        toast(t('present.unsupported'), 'error');
        return;
      }
      this.expecting = true;
      this.run({ command: 'request_content', endpoint: me }).then((ok) => {
        if (!ok) this.expecting = false;
      });
      return;
    }
    // Stop presenting, or withdraw the request.
    this.stopCapture();
    this.giveBack();
  }

  onEvent(ev) {
    const me = this.me();
    if (!ev || !me || ev.endpoint !== me || !String(ev.event || '').startsWith('content_')) return;
    this.seq = Math.max(this.seq, this.feed.seq || 0);
    switch (ev.event) {
      case 'content_granted':
        this.granted = true;
        this.expecting = true;
        this.capture();
        break;
      case 'content_revoked':
        this.granted = false;
        this.expecting = false;
        this.stopCapture();
        toast(t(REASON_NOTICE[ev.reason] || 'notice.your_content_ended'), 'warn', 8000);
        break;
      case 'content_released':
        this.granted = false;
        this.expecting = false;
        this.stopCapture();
        break;
      case 'content_request_cancelled':
        this.expecting = false;
        if (ev.reason === 'chair') toast(t('notice.your_content_denied'), 'warn');
        break;
      default:
    }
    this.render();
  }

  /** Follows the session state: it says who holds the token. */
  sync() {
    const state = this.feed.state;
    const me = this.me();
    if (state && (state.events || 0) >= this.seq) {
      const holds = !!me && presenterOf(state) === me;
      if (holds && !this.granted && !this.expecting && !this.track && !this.acquiring) {
        // Held from before this page (a reload): nothing is sent, so the
        // other sites would watch an empty slot. Given back.
        this.run({ command: 'release_content', endpoint: me });
      } else if (!holds && this.granted) {
        this.granted = false;
        this.stopCapture();
      } else if (holds) {
        this.granted = true;
      }
    }
    this.render();
  }

  /** Captures a screen or window and sends it, once the token is here. */
  async capture() {
    if (this.track || this.acquiring || !this.granted) return;
    const activation = navigator.userActivation;
    if (activation && !activation.isActive) {
      // The grant came long after the click: the browser shows its picker
      // only right after one, so ask for another.
      this.needsClick = true;
      this.render();
      return;
    }
    this.needsClick = false;
    this.acquiring = true;
    this.render();
    let stream = null;
    try {
      stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
    } catch (err) {
      this.acquiring = false;
      if (err && err.name === 'InvalidStateError') {
        this.needsClick = true;
      } else {
        // The picker closed without a choice, or capture is not allowed.
        if (!err || err.name !== 'NotAllowedError') toast(t('present.failed', { message: err ? err.message : '' }), 'error');
        this.giveBack();
      }
      this.render();
      return;
    }
    this.acquiring = false;
    const track = stream.getVideoTracks()[0];
    if (!track) {
      this.giveBack();
      this.render();
      return;
    }
    if (!this.granted) {
      // Taken back while the picker was open.
      track.stop();
      this.render();
      return;
    }
    // Text and fine lines: keep the resolution, let the frame rate give.
    track.contentHint = 'detail';
    track.addEventListener('ended', () => {
      if (this.track !== track) return;
      this.stopCapture();
      this.giveBack();
    });
    this.track = track;
    attach(this.preview, new MediaStream([track]));
    this.render();
    const link = this.link();
    let sent = false;
    try {
      sent = link ? await link.present(track) : false;
    } catch (err) {
      console.warn('could not present', err);
    }
    if (!sent && this.track === track) {
      toast(t('present.no_line'), 'error', 8000);
      this.stopCapture();
      this.giveBack();
    }
  }

  /** Takes the screen off the line and stops the capture. */
  stopCapture() {
    const track = this.track;
    this.track = null;
    this.needsClick = false;
    detach(this.preview);
    const link = this.link();
    if (link) link.present(null).catch(() => {});
    if (track) track.stop();
    this.render();
  }

  /** Gives the token back (or withdraws the request) if the state still says this site has it. */
  giveBack() {
    const me = this.me();
    const { presenter, pending } = contentOf(this.feed.state);
    const holds = this.granted || (presenter && presenter.endpoint === me);
    const waits = pending.some((r) => r.endpoint === me);
    this.granted = false;
    this.expecting = false;
    if (me && (holds || waits)) this.run({ command: 'release_content', endpoint: me });
    this.render();
  }

  render() {
    const state = this.feed.state;
    const me = this.me();
    const live = !!state && state.phase === 'live';
    const phase = this.phase();
    const other = presenterOf(state);
    const key = JSON.stringify([phase, live, !!me, other, this.needsClick, other && siteName(state, other)]);
    if (key === this.key) return;
    this.key = key;
    let text;
    if (phase === 'presenting') text = t('present.presenting');
    else if (phase === 'acquiring') text = t('present.picking');
    else if (phase === 'granted') text = t('present.granted');
    else if (phase === 'pending') text = t('present.waiting');
    else if (!live) text = t('present.not_live');
    else if (other && other !== me) text = t('present.by', { name: siteName(state, other) });
    else text = t('present.none');
    this.state.textContent = text;
    this.state.dataset.state = phase;
    this.state.hidden = this.quiet && phase === 'none';
    this.pick.hidden = !(phase === 'granted' && this.needsClick);
    this.pick.textContent = t('present.pick');
    const stop = phase !== 'none';
    this.toggle.textContent = t(phase === 'pending' ? 'present.withdraw' : stop ? 'present.stop' : 'present.start');
    this.toggle.className = stop ? 'danger' : 'primary';
    this.toggle.dataset.action = stop ? 'stop' : 'start';
    this.toggle.disabled = !me || (!stop && !live);
    this.preview.hidden = phase !== 'presenting';
    this.dispatchEvent(new CustomEvent('change', { detail: { phase } }));
  }
}
