// The endpoint's console: one provincial site. It joins the current
// session with its link and no further click, sends camera and microphone,
// plays the programme (chair and floor holder, and a site's presentation
// while there is one), and carries the site's part of the meeting: floor
// requests, presenting, roll call, who is present.
// A dropped link or a restarted server is rejoined automatically.

import { boot } from '../shared/boot.js';
import { $, h, toast } from '../shared/dom.js';
import { t } from '../shared/i18n.js';
import { icon } from '../shared/icons.js';
import { attach, detach } from '../shared/media.js';
import { MediaLink } from '../shared/rtc.js';
import { PresentControl, presenterOf, siteName } from '../shared/present.js';
import { recordingBadge } from '../shared/recording.js';
import { offerTakeOver } from '../shared/takeover.js';
import { attendanceOf, holdersOf, isMuted } from '../shared/session.js';
import { Status } from '../shared/signaling.js';
import { Devices } from './devices.js';
import { FloorPanel } from './floor.js';
import { SelfTest } from './linktest.js';
import { Quality } from './quality.js';
import { RollCallPrompt } from './rollcall.js';
import { RepresentativeForm } from './representative.js';

function start({ api, signaling, feed }) {
  const me = () => (feed.welcome && feed.welcome.endpoint) || null;
  const run = async (command) => {
    try {
      await signaling.command(command);
      return true;
    } catch (err) {
      toast(t('error.command', { message: err.message }), 'error');
      return false;
    }
  };
  const floor = new FloorPanel({ feed, run, me });
  const rollcall = new RollCallPrompt({ feed, run, me });
  const rep = new RepresentativeForm({ run, me });
  const quality = new Quality();
  const media = new EndpointMedia({ signaling, feed, quality });
  const present = new PresentControl({ feed, run, me, link: () => media.link, container: $('#present-body') });
  media.contentTrack = () => present.track;
  const selfTest = new SelfTest({ api, feed, me });
  selfTest.addEventListener('running', (e) => {
    media.loopback = e.detail;
    media.renderCaptions(feed.state);
  });
  // A handle for operators' debugging in the browser console (and the browser tests).
  window.diemcau = { signaling, feed, media, selfTest, present };
  const offline = new OfflineNotice(signaling, media);
  // Everyone at the site must see that the meeting is being recorded.
  recordingBadge($('#rec-badge'), feed);

  const render = () => {
    const state = feed.state;
    const code = me();
    const a = state && code ? attendanceOf(state, code) : null;
    $('#site').textContent = a ? `${code} · ${a.name}` : code || '';
    $('#session-title').textContent = state ? state.spec.title : t('endpoint.no_session');
    const phase = $('#phase');
    phase.hidden = !state;
    if (state) {
      phase.dataset.phase = state.phase;
      phase.textContent = t(`phase.${state.phase}`);
      document.title = `${a ? a.name : code} · ${state.spec.title}`;
    }
    // The server gates the audio; this only tells the site why nobody hears it.
    $('#muted-notice').hidden = !(state && code && isMuted(state, code));
    floor.render(state);
    rollcall.render(state);
    rep.render(state);
    selfTest.render(state);
    media.renderCaptions(state);
    offline.render();
  };
  feed.addEventListener('change', render);
  feed.addEventListener('welcome', (e) => {
    quality.setHealth(e.detail.health);
    render();
    if (e.detail.session) media.join(e.detail);
  });
  feed.addEventListener('event', (e) => {
    const ev = e.detail;
    if (ev.endpoint !== me()) return;
    if (ev.event === 'speaking_time_warning') toast(t('notice.your_time_warning'), 'warn', 8000);
    if (ev.event === 'floor_granted') toast(t('notice.your_floor'));
    if (ev.event === 'floor_denied') toast(t('notice.your_denied'), 'warn');
    if (ev.event === 'floor_revoked') toast(t('notice.your_revoked'), 'warn');
    if (ev.event === 'endpoint_muted') toast(t('notice.your_muted'), 'warn', 8000);
    if (ev.event === 'endpoint_unmuted') toast(t('notice.your_unmuted'));
  });
  document.addEventListener('langchange', render);
  $('#muted-icon').replaceChildren(icon('micOff'));
  render();
  signaling.start();
}

/** The site's media: its camera out, the programme's two slots in. */
class EndpointMedia {
  constructor({ signaling, feed, quality }) {
    this.signaling = signaling;
    this.feed = feed;
    this.quality = quality;
    this.devices = new Devices();
    this.link = null;
    this.pcState = 'new';
    this.audio = new Map();
    this.floorStream = null;
    this.contentStream = null;
    // What this site presents, kept when the connection is rebuilt.
    this.contentTrack = () => null;
    // Another page or machine of the site took the connection over.
    this.replaced = false;
    this.devices.addEventListener('stream', (e) => {
      attach($('#self-video'), e.detail);
      if (this.link) this.link.replaceStream(e.detail);
    });
    this.devices.addEventListener('error', (e) => toast(t('error.camera', { message: e.detail.message }), 'warn', 8000));
  }

  async join(welcome) {
    if (this.replaced) return;
    if (!this.devices.stream) {
      const stream = await this.devices.open();
      if (stream) attach($('#self-video'), stream);
    }
    if (this.link) this.link.close();
    const link = new MediaLink(this.signaling, {
      iceServers: welcome.ice_servers || [],
      stream: this.devices.stream,
      // Two lines of each kind: the `chair` and `floor` slots; then the
      // content line, to present on and to see the others' presentations.
      receive: { audio: 2, video: 2 },
      content: 'sendrecv',
      presentation: welcome.presentation,
    });
    this.link = link;
    const presenting = this.contentTrack();
    if (presenting) link.present(presenting);
    link.addEventListener('track', (e) => this.onTrack(e.detail));
    link.addEventListener('trackgone', (e) => this.onGone(e.detail));
    link.addEventListener('state', (e) => {
      this.pcState = e.detail.state;
      this.quality.setState(e.detail.state);
      this.signaling.dispatchEvent(new CustomEvent('media', { detail: e.detail }));
    });
    link.addEventListener('stats', (e) => this.quality.setStats(e.detail));
    link.addEventListener('replaced', () => {
      this.pcState = 'closed';
      this.quality.setState('closed');
      this.signaling.dispatchEvent(new CustomEvent('media', { detail: { state: 'closed' } }));
      // A socket that reconnects later (a network blip) must not take the
      // site back either: only the user's click does.
      this.replaced = true;
      offerTakeOver(link, () => {
        this.replaced = false;
      });
    });
    try {
      await link.start();
    } catch (err) {
      toast(t('error.media', { message: err.message }), 'error');
    }
  }

  onTrack({ mid, slot, kind, stream }) {
    if (kind === 'audio') {
      let el = this.audio.get(mid);
      if (!el) {
        el = h('audio', { autoplay: true, dataset: { mid, slot: slot || '' } });
        this.audio.set(mid, el);
        $('#audio-sink').appendChild(el);
      }
      attach(el, stream);
      return;
    }
    // Without a label, the first video line is the chair and the next the floor.
    const target = slot || (this.chairTaken() ? 'floor' : 'chair');
    if (target === 'content') {
      this.contentStream = stream;
      attach($('#content-video'), stream);
      this.renderCaptions(this.feed.state);
    } else if (target === 'chair') {
      attach($('#chair-video'), stream);
      $('#slot-chair').classList.add('has-video');
      $('#slot-chair .slot-empty').hidden = true;
    } else if (target === 'floor') {
      this.floorStream = stream;
      attach($('#floor-video'), stream);
      this.renderCaptions(this.feed.state);
    }
  }

  chairTaken() {
    return !!$('#chair-video').srcObject;
  }

  onGone({ mid, slot, kind }) {
    if (kind === 'audio') {
      const el = this.audio.get(mid);
      if (el) el.remove();
      this.audio.delete(mid);
      return;
    }
    if (slot === 'floor') {
      this.floorStream = null;
      detach($('#floor-video'));
    } else if (slot === 'content') {
      this.contentStream = null;
      detach($('#content-video'));
    } else if (slot === 'chair' || !slot) {
      detach($('#chair-video'));
      $('#slot-chair .slot-empty').hidden = false;
    }
    this.renderCaptions(this.feed.state);
  }

  /**
   * The floor slot is shown while someone holds the floor (its source
   * switches server-side), and during a link test, when it brings the
   * site's own picture back. While another site presents, its
   * presentation takes the most room and the chair and the speaker go
   * small beside it; the presenter itself sees its own in its panel.
   */
  renderCaptions(state) {
    const holders = holdersOf(state);
    const holder = holders[holders.length - 1];
    const me = this.feed.welcome && this.feed.welcome.endpoint;
    const showFloor = ((!!holder && holder.endpoint !== me) || this.loopback) && !!this.floorStream;
    $('#slot-floor').hidden = !showFloor;
    const presenter = presenterOf(state);
    const showContent = !!presenter && presenter !== me && !!this.contentStream && !this.loopback;
    $('#slot-content').hidden = !showContent;
    $('#programme').classList.toggle('has-content', showContent);
    if (presenter) $('#content-caption').textContent = t('endpoint.content', { name: siteName(state, presenter) });
    if (this.loopback) {
      $('#floor-caption').textContent = t('linktest.loopback');
    } else if (holder) {
      const a = attendanceOf(state, holder.endpoint);
      $('#floor-caption').textContent = t('endpoint.speaker', { name: a ? a.name : holder.endpoint });
    }
  }
}

/** A clear notice over the programme while the link is down, and that it is being retried. */
class OfflineNotice {
  constructor(signaling, media) {
    this.signaling = signaling;
    this.media = media;
    this.el = $('#offline');
    signaling.addEventListener('status', () => this.render());
    signaling.addEventListener('media', () => this.render());
    setInterval(() => this.render(), 1000);
  }

  render() {
    const sig = this.signaling.status;
    const pc = this.media.pcState;
    let text = '';
    if (sig === Status.RECONNECTING || sig === Status.CONNECTING) text = t('endpoint.rejoining');
    else if (sig === Status.OPEN && (pc === 'disconnected' || pc === 'failed')) text = t('endpoint.media_lost');
    this.el.hidden = !text;
    this.el.textContent = text;
  }
}

// Last, so every class above is defined before it runs.
const ctx = boot();
if (ctx) start(ctx);
