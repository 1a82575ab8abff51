// One link as the console shows it, read from a `GET /api/links` record.
// Health is the server's judgement (its thresholds live in its config, with
// hysteresis): the console never grades figures itself, so it cannot
// disagree with the alerts the server raises.

const num = (...values) => {
  for (const v of values) if (typeof v === 'number' && Number.isFinite(v)) return v;
  return null;
};

const LEVELS = ['good', 'warn', 'bad'];
const RANK = { good: 0, warn: 1, bad: 2 };

// Which table column an alert reason points at.
const METRIC_OF = {
  high_rtt: 'rtt',
  high_loss_up: 'loss',
  high_loss_down: 'loss',
  high_jitter: 'jitter',
  no_media: 'in',
};

/** The link record, flattened to what the table, chart and alerts need. */
export function normalize(raw, names, seenAt) {
  const code = raw.endpoint ?? null;
  return {
    id: String(raw.id ?? raw.peer ?? code ?? ''),
    code,
    name: code ? names.get(code) || code : null,
    session: raw.session ?? null,
    state: raw.state || 'new',
    candidate: raw.candidate_type ?? null,
    rtt: num(raw.rtt_ms),
    loss: num(raw.loss_pct, raw.loss_up_pct, raw.loss_down_pct) ?? 0,
    jitter: Math.max(num(raw.jitter_up_ms) ?? 0, num(raw.jitter_down_ms) ?? 0),
    in: num(raw.bitrate_in) ?? 0,
    out: num(raw.bitrate_out) ?? 0,
    // Of `in`, the site's presentation (its second video).
    content: num(raw.content_bitrate_in) ?? 0,
    fps: num(raw.frame_rate),
    changed: num(raw.state_since),
    serverHealth: LEVELS.includes(raw.health) ? raw.health : null,
    alerts: Array.isArray(raw.alerts) ? raw.alerts : [],
    seenAt,
  };
}

/**
 * `good`, `warn` or `bad` as the server says, and which columns its active
 * alerts point at (for colouring the cells). A record without a health
 * (an older server) is judged by its connection state only.
 */
export function health(link) {
  const metrics = {};
  for (const a of link.alerts || []) {
    const m = METRIC_OF[a.reason];
    const level = LEVELS.includes(a.level) ? a.level : 'warn';
    if (m && RANK[level] > RANK[metrics[m] ?? 'good']) metrics[m] = level;
  }
  let level = link.serverHealth;
  if (!level) {
    if (link.state === 'connected') level = 'good';
    else if (link.state === 'new' || link.state === 'connecting') level = 'warn';
    else level = 'bad';
  }
  return { level, metrics };
}

/** The endpoint code in a link id (`<session>/<code>`), or null for a viewer's peer id. */
export function codeOfLink(id) {
  const s = String(id ?? '');
  const i = s.lastIndexOf('/');
  return i >= 0 ? s.slice(i + 1) : null;
}
