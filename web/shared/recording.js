// Recording the programme, as every console shows it: a red "Đang ghi hình"
// badge in the header while the session records (everyone in the meeting
// must be able to see that they are being recorded), and the texts for
// the recording's events. The chair starts and stops it (chair/records.js);
// the server's state (`recording`) is the only truth the badge follows.

import { t } from './i18n.js';

/**
 * What the badge says of a session state: `live` (the programme is being
 * written), `armed` (recording is on, but the server writes only once the
 * meeting is live), or null (not recording).
 */
export function recordingOf(state) {
  if (!state || !state.recording) return null;
  return state.phase === 'live' ? 'live' : 'armed';
}

/**
 * Wires a `.rec-badge` element (a `.rec-dot` and a `.rec-text` inside) to
 * the session feed: shown while the session records, hidden otherwise.
 */
export function recordingBadge(el, feed) {
  const text = el.querySelector('.rec-text') || el;
  const render = () => {
    const what = recordingOf(feed.state);
    el.hidden = !what;
    el.dataset.recording = what || 'off';
    if (!what) return;
    text.textContent = t(what === 'live' ? 'recording.badge' : 'recording.armed');
    el.title = t(what === 'live' ? 'recording.badge_detail' : 'recording.armed_detail');
  };
  feed.addEventListener('change', render);
  feed.addEventListener('nosession', render);
  document.addEventListener('langchange', render);
  render();
  return render;
}

/**
 * The line a `recording_started` or `recording_stopped` event reads as:
 * `{level, text}` (level `good`, `warn` or `bad`), or null for another event.
 */
export function describeRecording(ev) {
  if (!ev) return null;
  if (ev.event === 'recording_started') {
    return { level: 'good', text: t(ev.by_chair === false ? 'recording.started_auto' : 'recording.started') };
  }
  if (ev.event !== 'recording_stopped') return null;
  switch (ev.reason) {
    case 'failed':
      return { level: 'bad', text: failureText(ev) };
    case 'session_ended':
      return { level: 'good', text: t('recording.stopped_ended') };
    default:
      return { level: 'warn', text: t('recording.stopped_chair') };
  }
}

/** "Ghi hình đã dừng: …" with the server's reason. */
export function failureText(ev) {
  const detail = ev && typeof ev.detail === 'string' && ev.detail.trim() ? ev.detail.trim() : t('recording.no_detail');
  return t('recording.failed', { detail });
}

/** A file size for people: 0 B, 12 KB, 3.4 MB, 1.25 GB (decimal units; the page's decimal mark). */
export function fileSize(bytes, lang = 'vi') {
  const n = Number(bytes);
  if (!Number.isFinite(n) || n < 0) return '–';
  const locale = lang === 'vi' ? 'vi-VN' : 'en-GB';
  const units = [
    [1e9, 'GB', 2],
    [1e6, 'MB', 1],
    [1e3, 'KB', 0],
  ];
  for (const [size, unit, digits] of units) {
    if (n >= size) {
      const v = n / size;
      return `${v.toLocaleString(locale, { maximumFractionDigits: v >= 100 ? 0 : digits })} ${unit}`;
    }
  }
  return `${n} B`;
}
