// The link-quality indicator: four bars and a word, from what this browser
// measures of its own connection (round trip, loss, incoming bit rate).
// Thresholds follow the server's defaults for link health.

import { $ } from '../shared/dom.js';
import { bitrate, t } from '../shared/i18n.js';

const RTT_WARN_MS = 150;
const RTT_BAD_MS = 400;
const LOSS_WARN = 0.02;
const LOSS_BAD = 0.08;

export class Quality {
  constructor() {
    this.el = $('#quality');
    this.text = $('#quality-text');
    this.state = 'new';
    this.stats = null;
    this.prevLost = null;
    document.addEventListener('langchange', () => this.render());
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
    const s = this.stats;
    if (!s) return 'fair';
    if ((s.rtt_ms ?? 0) >= RTT_BAD_MS || s.loss >= LOSS_BAD) return 'poor';
    if ((s.rtt_ms ?? 0) >= RTT_WARN_MS || s.loss >= LOSS_WARN) return 'fair';
    return 'good';
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
