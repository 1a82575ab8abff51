// Playing remote media. Browsers may refuse to start sound without a click
// on the page; the programme must be heard, so when that happens the page
// shows one clear button that starts every waiting element at once.

import { h } from './dom.js';
import { t } from './i18n.js';
import { icon } from './icons.js';

const waiting = new Set();
let gate = null;

/** Shows `stream` in `el` (a <video> or <audio>) and starts it. */
export function attach(el, stream) {
  if (el.srcObject !== stream) el.srcObject = stream;
  play(el);
}

/** Detaches whatever `el` shows. */
export function detach(el) {
  el.srcObject = null;
  waiting.delete(el);
}

function play(el) {
  const p = el.play();
  if (!p || !p.catch) return;
  p.catch((err) => {
    if (err && err.name === 'NotAllowedError') {
      waiting.add(el);
      showGate();
    }
  });
}

function showGate() {
  if (gate) {
    gate.hidden = false;
    return;
  }
  const label = h('span', { text: t('media.click_for_sound') });
  gate = h(
    'button',
    {
      class: 'sound-gate',
      type: 'button',
      onclick: () => {
        for (const el of waiting) el.play().catch(() => {});
        waiting.clear();
        gate.hidden = true;
      },
    },
    h('span', { class: 'sound-gate-icon' }, icon('speaker')),
    label,
  );
  document.addEventListener('langchange', () => {
    label.textContent = t('media.click_for_sound');
  });
  document.body.appendChild(gate);
}

/** Whether a <video> is showing moving pictures (used by the tile overlay too). */
export function isPlaying(video) {
  return video.videoWidth > 0 && !video.paused && video.readyState >= 2;
}
