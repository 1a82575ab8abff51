#!/usr/bin/env bash
# A server restart under load: the load generator's N sites (default 63)
# and the chair join a fresh `diemcau serve`; after KILL_AFTER the server is
# killed with SIGKILL and started again on the same ports and data dir; the
# generator's peers join again as pages do (`--rejoin`), and its report
# gives each receiver's longest wait for the programme, which is the time
# from the kill until that site had the chair's picture back.
#
#   scripts/restart-bench.sh [N]
#
# Environment: RUNS (default 3), DURATION (traffic time, default 40s),
# PARALLEL (peers joining at once, default all of them),
# KILL_AFTER (seconds after the generator starts, default 20), PORT (HTTP,
# default 18480; the media port is PORT+1), OUT (directory for the reports),
# BIN (default target/release; build with `cargo build --release --workspace --bins`).
#
# Loopback only. Ports are fixed because a restarted server must be found
# where its clients left it.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
BIN=${BIN:-$ROOT/target/release}
RUNS=${RUNS:-3}
DURATION=${DURATION:-40s}
KILL_AFTER=${KILL_AFTER:-20}
PORT=${PORT:-18480}
MEDIA_PORT=$((PORT + 1))
OUT=${OUT:-$(mktemp -d -t diemcau-restart.XXXXXX)}
N=${1:-63}
# In the field every site's pages join again on their own machines, all at
# once after a restart; the generator's join gate (8 by default) would make
# them queue, and measure that queue instead of the server.
PARALLEL=${PARALLEL:-$((2 * N + 1))}
SESSION=loadgen
# shellcheck source=scripts/bench-tokens.sh
. "$ROOT/scripts/bench-tokens.sh"
export DIEMCAU_SECRET=${DIEMCAU_SECRET:-loadgen-bench-secret-not-for-production}

for b in diemcau diemcau-loadgen; do
  [ -x "$BIN/$b" ] || { echo "missing $BIN/$b: cargo build --release --workspace --bins" >&2; exit 1; }
done
mkdir -p "$OUT"

SERVER_PID=
LOADGEN_PID=
stop() {
  for pid in $SERVER_PID $LOADGEN_PID; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  SERVER_PID=
  LOADGEN_PID=
}
trap stop EXIT

# Waits (at most 30 s) until the server at 127.0.0.1:$PORT answers /healthz.
healthy() {
  for _ in $(seq 300); do
    if curl -fsS -o /dev/null "http://127.0.0.1:$PORT/healthz" 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  echo "the server on port $PORT did not answer within 30 s" >&2
  return 1
}

start_server() {
  "$BIN/diemcau" serve --config "$1/diemcau.toml" --data "$1/data" \
    >> "$1/serve.out" 2>> "$1/serve.log" &
  SERVER_PID=$!
  healthy
}

for run in $(seq "$RUNS"); do
  work=$OUT/work-$run
  mkdir -p "$work/data"
  # The load generator's sites each pair a WHIP publisher with a WHEP
  # viewer on one viewer token, so the viewer limits are raised here.
  cat > "$work/diemcau.toml" <<TOML
listen = "127.0.0.1:$PORT"
data_dir = "$work/data"
registry = "$ROOT/config/endpoints-63.toml"
[media]
udp_port = $MEDIA_PORT
bind_ip = "127.0.0.1"
max_viewers_per_session = 500
max_connections_per_token = 500
TOML
  bench_tokens "$work"

  start_server "$work"
  echo "run $run: $N endpoints, server pid $SERVER_PID, SIGKILL after ${KILL_AFTER}s" >&2
  "$BIN/diemcau-loadgen" \
    --server "http://127.0.0.1:$PORT" --diemcau --session "$SESSION" --tokens "$work/tokens.csv" \
    --endpoints "$N" --duration "$DURATION" --rejoin --parallel "$PARALLEL" \
    --json > "$OUT/restart-$run.json" 2> "$work/loadgen.log" &
  LOADGEN_PID=$!
  sleep "$KILL_AFTER"
  kill -KILL "$SERVER_PID"
  wait "$SERVER_PID" 2>/dev/null || true
  echo "run $run: killed at $(date +%T.%N | cut -c1-12), starting again" >&2
  start_server "$work"
  echo "run $run: answering again at $(date +%T.%N | cut -c1-12)" >&2
  wait "$LOADGEN_PID" || echo "run $run: the load generator failed, see $work/loadgen.log" >&2
  LOADGEN_PID=
  stop
  python3 - "$OUT/restart-$run.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["runs"][0]
print(f"  programme on all {r['programme_receivers']} receivers first: {r['programme_all_ms']} ms; "
      f"longest gap: worst receiver {r['programme_gap_max_ms']} ms, median {r['programme_gap_median_ms']} ms; "
      f"peers that joined again: {r['rejoins']}; join errors: {r['join_error_count']}")
PY
done
echo "$OUT"
