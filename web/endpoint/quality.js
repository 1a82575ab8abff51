// The link-quality indicator: four bars and a word, from what this browser
// measures of its own connection (round trip, loss, incoming bit rate),
// graded by the thresholds the server grades links by (its `[health]`,
// sent in `welcome`), so the site and the technicians see the same verdict.

import { $ } from '../shared/dom.js';
import { bitrate, t } from '../shared/i18n.js';

/** The server's default `[health]`, until `welcome` says otherwise. */
export const DEFAULT_HEALTH = { rtt_warn_ms: 150, rtt_bad_ms: 400, loss_warn_pct: 2, loss_bad_pct: 8 };

/**
 * `good`, `fair` or `poor` for a round trip (ms, may be null) and a loss
 * fraction (0–1), by `health` thresholds (the server's field names).
 */
export function grade({ rtt_ms: rtt, loss }, health = DEFAULT_HEALTH) {
  const ms = rtt ?? 0;
  const pct = (loss ?? 0) * 100;
  if (ms >= health.rtt_bad_ms || pct >= health.loss_bad_pct) return 'poor';
  if (ms >= health.rtt_warn_ms || pct >= health.loss_warn_pct) return 'fair';
  return 'good';
}

export class Quality {
  constructor() {
    this.el = $('#quality');
    this.text = $('#quality-text');
    this.state = 'new';
    this.stats = null;
    this.prevLost = null;
    this.health = DEFAULT_HEALTH;
    document.addEventListener('langchange', () => this.render());
    this.render();
  }

  /** The server's thresholds, from `welcome` (ignored if incomplete). */
  setHealth(health) {
    const keys = Object.keys(DEFAULT_HEALTH);
    if (health && keys.every((k) => Number.isFinite(health[k]))) this.health = health;
    this.render();
  }

  setState(state) {
    this.state = state;
    this.render();
  }

  setStats(stats) {
    // Loss over the last interval, not since the call began: a bad minute an
    // hour ago must not keep the bars down.
    const lost = stats.inbound.reduce((n, s) => n + Math.max(0, s.packets_lost), 0);
    const got = stats.inbound.reduce((n, s) => n + s.packets, 0);
    let loss = 0;
    if (this.prevLost) {
      const dl = lost - this.prevLost.lost;
      const dg = got - this.prevLost.got;
      loss = dl + dg > 0 ? Math.max(0, dl) / (dl + dg) : 0;
    }
    this.prevLost = { lost, got };
    this.stats = { ...stats, loss };
    this.render();
  }

  level() {
    if (this.state !== 'connected') return 'down';
    if (!this.stats) return 'fair';
    return grade(this.stats, this.health);
  }

  render() {
    const level = this.level();
    this.el.dataset.level = level;
    this.text.textContent = t(`quality.${level}`);
    const s = this.stats;
    this.el.title = s
      ? t('quality.detail', {
          rtt: s.rtt_ms ?? '–',
          loss: (s.loss * 100).toFixed(1),
          rate: bitrate(s.bitrate_in),
        })
      : '';
  }
}
