// The server's monitor events (`{"type":"monitor","event":{…}}` on the
// socket, and a link's `events` in `GET /api/links/{id}/history`) as lines
// for people: a level for the colour and a text without the link's name,
// which the caller puts in front when the line is not under its link.

import { bitrate, t } from '../shared/i18n.js';

const LEVELS = ['good', 'warn', 'bad'];

/** The level a link test's verdict shows with. */
export function verdictLevel(verdict) {
  if (verdict === 'good') return 'good';
  if (verdict === 'warn') return 'warn';
  return 'bad';
}

/** A link test result in one line: verdict, achieved bit rates, RTT, loss. */
export function testSummary(r) {
  const avg = (f) => (f && typeof f.avg === 'number' ? f.avg : null);
  const rtt = avg(r.rtt_ms);
  const loss = Math.max(avg(r.loss_up_pct) ?? 0, avg(r.loss_down_pct) ?? 0);
  return t('linktest.summary', {
    verdict: t(`verdict.${r.verdict}`),
    up: bitrate(avg(r.bitrate_in_bps)),
    down: bitrate(avg(r.bitrate_out_bps)),
    rtt: rtt === null ? '–' : rtt.toFixed(0),
    loss: loss.toFixed(1),
  });
}

/** `{level, text, title}` for one monitor event, or null for one this console does not know. */
export function describe(ev) {
  if (!ev || typeof ev.event !== 'string') return null;
  const level = (l) => (LEVELS.includes(l) ? l : 'warn');
  switch (ev.event) {
    case 'alert_raised':
      return {
        level: level(ev.level),
        text: t('event.alert_raised', { what: t(`alert.reason.${ev.reason}`), level: t(`health.${level(ev.level)}`) }),
        title: ev.message || '',
      };
    case 'alert_cleared':
      return { level: 'good', text: t('event.alert_cleared', { what: t(`alert.reason.${ev.reason}`) }) };
    case 'health_changed':
      return {
        level: level(ev.to),
        text: t('event.health_changed', { from: t(`health.${level(ev.from)}`), to: t(`health.${level(ev.to)}`) }),
      };
    case 'link_test_done':
      return { level: verdictLevel(ev.verdict), text: t('event.link_test_done', { summary: testSummary(ev) }) };
    case 'link_removed':
      return { level: 'warn', text: t('event.link_removed') };
    default:
      return null;
  }
}

/** When an event happened (`at`, or a link test's end). */
export function eventTime(ev) {
  return ev.at ?? ev.ended_at ?? null;
}
