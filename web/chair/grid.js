// The grid of sites: one tile per provincial endpoint, ordered by
// administrative code, with its live thumbnail, status colour, speaking
// indicator, floor-request badge and mute toggle (always shown while the
// site is muted, on hover otherwise). Tiles are made once per session and
// updated in place, so a video never restarts because a badge changed.

import { h } from '../shared/dom.js';
import { icon } from '../shared/icons.js';
import { t } from '../shared/i18n.js';
import { attach, detach } from '../shared/media.js';
import { attendanceOf, endpointsOf, holdersOf, isMuted, queueOf } from '../shared/session.js';

const TILE_ASPECT = 16 / 10;

export class Grid {
  constructor(container, { onCallOn, onMute }) {
    this.el = container;
    this.onCallOn = onCallOn;
    this.onMute = onMute;
    this.tiles = new Map();
    this.streams = new Map();
    this.speaking = new Set();
    this.specKey = '';
    new ResizeObserver(() => this.fit()).observe(container);
  }

  /** Picks the column count that makes the tiles largest for this box. */
  fit() {
    const n = this.tiles.size;
    if (!n) return;
    const { width, height } = this.el.getBoundingClientRect();
    let best = 1;
    let bestSize = 0;
    for (let cols = 1; cols <= n; cols++) {
      const rows = Math.ceil(n / cols);
      const w = width / cols;
      const hh = height / rows;
      const size = Math.min(w, hh * TILE_ASPECT);
      if (size > bestSize) {
        bestSize = size;
        best = cols;
      }
    }
    this.el.style.setProperty('--cols', String(best));
    this.el.style.gridTemplateRows = `repeat(${Math.ceil(n / best)}, minmax(0, 1fr))`;
  }

  render(state) {
    const sites = endpointsOf(state).filter((e) => e.role !== 'central');
    const key = sites.map((e) => e.code).join(',');
    if (key !== this.specKey) this.rebuild(sites);
    const queue = new Map(queueOf(state).map((r) => [r.endpoint, r.position]));
    const holders = new Set(holdersOf(state).map((r) => r.endpoint));
    const live = state && state.phase !== 'ended';
    for (const [code, tile] of this.tiles) {
      const a = attendanceOf(state, code);
      const status = (a && a.status) || 'absent';
      this.showMuted(tile, isMuted(state, code));
      tile.mute.disabled = !live;
      tile.el.dataset.status = status;
      tile.el.title = tooltip(a, status, tile.muted);
      tile.status.title = t(`attendance.${status}`);
      const pos = queue.get(code);
      tile.badge.hidden = !pos;
      tile.badge.replaceChildren(...(pos ? [icon('hand'), String(pos)] : []));
      tile.badge.title = pos ? t('chair.queue_position', { pos }) : '';
      tile.el.classList.toggle('is-holder', holders.has(code));
      this.showSpeaking(code, tile, holders.has(code));
      tile.call.disabled = !live || holders.has(code) || !(a && (status === 'connected' || status === 'present'));
    }
  }

  rebuild(sites) {
    for (const code of this.tiles.keys()) detach(this.tiles.get(code).video);
    this.tiles.clear();
    this.el.replaceChildren();
    for (const site of sites) {
      const video = h('video', { autoplay: true, playsinline: true, muted: true });
      video.muted = true;
      const status = h('span', { class: 'dot' });
      const badge = h('span', { class: 'badge', hidden: true });
      const speak = h('span', { class: 'speaking', hidden: true }, icon('speaker'));
      const call = h('button', {
        class: 'call',
        type: 'button',
        text: t('chair.call_on'),
        onclick: () => this.onCallOn(site.code),
      });
      // The page asks; the tile changes only when the server's event comes back.
      const mute = h('button', {
        class: 'mute',
        type: 'button',
        onclick: () => {
          const tile = this.tiles.get(site.code);
          if (tile) this.onMute(site.code, !tile.muted);
        },
      });
      const el = h(
        'div',
        { class: 'tile', dataset: { code: site.code, status: 'absent' } },
        video,
        speak,
        badge,
        call,
        h('div', { class: 'label' }, status, h('span', { class: 'code', text: site.code }), h('span', { class: 'name', text: site.name }), mute),
      );
      const tile = { el, video, status, badge, speak, call, mute, muted: null, name: site.name };
      this.showMuted(tile, false);
      this.tiles.set(site.code, tile);
      this.el.appendChild(el);
      const stream = this.streams.get(site.code);
      if (stream) attach(video, stream);
    }
    this.specKey = sites.map((e) => e.code).join(',');
    this.fit();
  }

  relabel() {
    for (const tile of this.tiles.values()) {
      tile.call.textContent = t('chair.call_on');
      tile.mute.title = t(tile.muted ? 'chair.unmute' : 'chair.mute');
    }
  }

  /** The muted mark and the toggle's face; touched only when it changes. */
  showMuted(tile, muted) {
    if (tile.muted === muted) return;
    tile.muted = muted;
    tile.el.classList.toggle('is-muted', muted);
    tile.mute.replaceChildren(icon(muted ? 'micOff' : 'mic'));
    tile.mute.setAttribute('aria-pressed', String(muted));
    tile.mute.title = t(muted ? 'chair.unmute' : 'chair.mute');
  }

  /** The endpoint's thumbnail stream (from the server's tile slot). */
  setStream(code, stream) {
    this.streams.set(code, stream);
    const tile = this.tiles.get(code);
    if (tile) attach(tile.video, stream);
  }

  removeStream(code) {
    this.streams.delete(code);
    const tile = this.tiles.get(code);
    if (tile) detach(tile.video);
  }

  streamOf(code) {
    return this.streams.get(code) || null;
  }

  /** Audio-level speaking flag, from the chair's audio receivers. */
  setSpeaking(code, on) {
    if (on) this.speaking.add(code);
    else this.speaking.delete(code);
    const tile = this.tiles.get(code);
    if (tile) this.showSpeaking(code, tile, tile.el.classList.contains('is-holder'));
  }

  showSpeaking(code, tile, holder) {
    const loud = this.speaking.has(code);
    tile.el.classList.toggle('is-speaking', loud);
    // A muted holder is not heard: no speaker mark for holding the floor.
    tile.speak.hidden = !(loud || (holder && !tile.muted));
    tile.speak.title = t('chair.speaking');
  }
}

function tooltip(a, status, muted) {
  const lines = [`${a ? a.name : ''} — ${t(`attendance.${status}`)}`];
  if (muted) lines.push(t('chair.muted'));
  if (a && a.representative && a.representative.name) {
    lines.push(`${a.representative.name}${a.representative.title ? `, ${a.representative.title}` : ''}`);
  }
  if (a && a.headcount) lines.push(t('chair.headcount', { n: a.headcount }));
  return lines.join('\n');
}
