// Translations. Vietnamese is the consoles' language; English is one click
// away and the choice is remembered by the browser (localStorage).
//
// Static markup carries `data-i18n="key"` (text), `data-i18n-title` and
// `data-i18n-placeholder`; code calls `t(key, vars)` and re-renders on the
// `langchange` event of `document`.

import { vi } from './lang-vi.js';
import { en } from './lang-en.js';

const STORE_KEY = 'diemcau.lang';
const TABLES = { vi, en };

let current = load();

function load() {
  try {
    const saved = localStorage.getItem(STORE_KEY);
    if (saved && TABLES[saved]) return saved;
  } catch {
    // Storage blocked (private mode): Vietnamese, not remembered.
  }
  return 'vi';
}

export function lang() {
  return current;
}

export function setLang(code) {
  if (!TABLES[code] || code === current) return;
  current = code;
  try {
    localStorage.setItem(STORE_KEY, code);
  } catch {
    // Not remembered; still switched for this page.
  }
  document.documentElement.lang = code;
  applyI18n(document);
  document.dispatchEvent(new CustomEvent('langchange', { detail: { lang: code } }));
}

/** The text for `key`, with `{name}` placeholders filled from `vars`. */
export function t(key, vars = {}) {
  const text = TABLES[current][key] ?? TABLES.vi[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (vars[name] !== undefined ? String(vars[name]) : `{${name}}`));
}

/** Fills every `data-i18n*` element under `root`. */
export function applyI18n(root = document) {
  document.documentElement.lang = current;
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-title]')) el.title = t(el.dataset.i18nTitle);
  for (const el of root.querySelectorAll('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll('[data-i18n-aria]')) el.setAttribute('aria-label', t(el.dataset.i18nAria));
}

/** Wires a `<button class="lang-switch">`: shows the other language and switches to it. */
export function langSwitch(button) {
  const render = () => {
    const other = current === 'vi' ? 'en' : 'vi';
    button.textContent = other === 'en' ? 'English' : 'Tiếng Việt';
    button.lang = other;
    button.dataset.lang = other;
  };
  button.addEventListener('click', () => setLang(button.dataset.lang));
  document.addEventListener('langchange', render);
  render();
}

/** A duration in seconds as m:ss (or h:mm:ss). */
export function clock(totalSeconds) {
  const s = Math.max(0, Math.floor(totalSeconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** A time of day in the page's language. */
export function timeOfDay(ms) {
  if (!ms) return '';
  return new Date(ms).toLocaleTimeString(current === 'vi' ? 'vi-VN' : 'en-GB', { hour12: false });
}

/** Bits per second, human-sized. */
export function bitrate(bps) {
  if (bps === null || bps === undefined || Number.isNaN(bps)) return '–';
  if (bps >= 1e6) return `${(bps / 1e6).toFixed(2)} Mb/s`;
  if (bps >= 1e3) return `${Math.round(bps / 1e3)} kb/s`;
  return `${Math.round(bps)} b/s`;
}
