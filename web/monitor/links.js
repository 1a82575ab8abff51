// One link as the console shows it, read from a `GET /api/links` record,
// and its health. The server's own `health` wins when it sends one; the
// thresholds here are the server's defaults ([health] in the config).

export const THRESHOLDS = {
  rtt_warn_ms: 150,
  rtt_bad_ms: 400,
  loss_warn_pct: 2,
  loss_bad_pct: 8,
};

const num = (...values) => {
  for (const v of values) if (typeof v === 'number' && Number.isFinite(v)) return v;
  return null;
};

/** The link record, flattened to what the table, chart and alerts need. */
export function normalize(raw, names, seenAt) {
  const code = raw.endpoint ?? raw.code ?? null;
  const lossFrac = Math.max(num(raw.loss_up, 0), num(raw.loss_down, 0), num(raw.loss, 0));
  const lossPct = num(raw.loss_pct) ?? lossFrac * 100;
  return {
    id: String(raw.id ?? raw.peer ?? code ?? ''),
    code,
    name: code ? names.get(code) || code : null,
    session: raw.session ?? null,
    state: raw.state || 'new',
    candidate: raw.candidate_type ?? raw.candidate ?? null,
    rtt: num(raw.rtt_ms, raw.rtt),
    loss: lossPct,
    jitter: Math.max(num(raw.jitter_up_ms, 0), num(raw.jitter_down_ms, 0), num(raw.jitter_ms, 0)),
    in: num(raw.bitrate_in, raw.bitrate_in_bps, 0),
    out: num(raw.bitrate_out, raw.bitrate_out_bps, 0),
    fps: num(raw.frame_rate, raw.fps, raw.frames_per_second),
    changed: num(raw.last_change, raw.state_since, raw.changed_at),
    serverHealth: typeof raw.health === 'string' ? raw.health : raw.health && raw.health.level,
    seenAt,
  };
}

/** `good`, `warn` or `bad`, and which metric made it so. */
export function health(link, th = THRESHOLDS) {
  const metrics = {};
  if (link.rtt !== null) metrics.rtt = link.rtt >= th.rtt_bad_ms ? 'bad' : link.rtt >= th.rtt_warn_ms ? 'warn' : 'good';
  metrics.loss = link.loss >= th.loss_bad_pct ? 'bad' : link.loss >= th.loss_warn_pct ? 'warn' : 'good';
  let level;
  if (link.serverHealth && ['good', 'warn', 'bad'].includes(link.serverHealth)) level = link.serverHealth;
  else if (link.state === 'failed' || link.state === 'disconnected' || link.state === 'closed') level = 'bad';
  else if (link.state !== 'connected') level = 'warn';
  else level = worst(Object.values(metrics));
  return { level, metrics };
}

function worst(levels) {
  if (levels.includes('bad')) return 'bad';
  if (levels.includes('warn')) return 'warn';
  return 'good';
}
