#!/usr/bin/env bash
# Runs the load generator against a fresh `diemcau serve` and a fresh
# `udp-relay`, in the same invocation, for each endpoint count and run.
#
#   scripts/bench.sh [N ...]          (default: 8 32 63)
#
# Environment: RUNS (default 3), DURATION (20s), FLOOR_EVERY (3s),
# OUT (directory for the JSON reports and logs; default a new temp dir),
# BIN (default target/release; build with `cargo build --release --workspace --bins`),
# PIN=1 to give the bridge and the relay CPU 0 and the generator CPU 1
# (taskset), so that on a 2-core machine the two sides stop taking turns
# on the same core; SERVER_CPUS (default 0) gives the bridge other CPUs
# instead, e.g. SERVER_CPUS=0,1 to let it send from two threads (the
# relay stays on CPU 0). THREADS sets the bridge's `[media] threads`
# (unset: the default, one sending thread per CPU it may use). RECORD=1 has the server record the programme during
# each run (the cost of recording).
#
# Everything stays on loopback. Each run gets its own server, data dir and
# relay, so the peak RSS and CPU figures are that run's alone. Tokens come
# from the server's own CLI (`diemcau invite --format csv`, plus a chair
# token from `diemcau token` that may create the session), signed with a
# fixed secret shared through DIEMCAU_SECRET.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
BIN=${BIN:-$ROOT/target/release}
RUNS=${RUNS:-3}
DURATION=${DURATION:-20s}
FLOOR_EVERY=${FLOOR_EVERY:-3s}
OUT=${OUT:-$(mktemp -d -t diemcau-bench.XXXXXX)}
SESSION=loadgen
COUNTS=("$@")
SERVER_CPU=()
RELAY_CPU=()
LOADGEN_CPU=()
RECORD_ARGS=()
[ "${RECORD:-0}" = 1 ] && RECORD_ARGS=(--record)
if [ "${PIN:-0}" = 1 ]; then
  SERVER_CPU=(taskset -c "${SERVER_CPUS:-0}")
  RELAY_CPU=(taskset -c 0)
  LOADGEN_CPU=(taskset -c 1)
fi
[ ${#COUNTS[@]} -gt 0 ] || COUNTS=(8 32 63)
# shellcheck source=scripts/bench-tokens.sh
. "$ROOT/scripts/bench-tokens.sh"
export DIEMCAU_SECRET=${DIEMCAU_SECRET:-loadgen-bench-secret-not-for-production}

for b in diemcau diemcau-loadgen udp-relay; do
  [ -x "$BIN/$b" ] || { echo "missing $BIN/$b: cargo build --release --workspace --bins" >&2; exit 1; }
done
mkdir -p "$OUT"

SERVER_PID=
RELAY_PID=
stop() {
  for pid in $SERVER_PID $RELAY_PID; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  SERVER_PID=
  RELAY_PID=
}
trap stop EXIT

# Waits (at most 30 s) for a line matching $2 in file $1 and prints its last word.
address_in() {
  for _ in $(seq 300); do
    if line=$(grep -m1 "$2" "$1" 2>/dev/null); then
      echo "${line##* }"
      return 0
    fi
    sleep 0.1
  done
  echo "no '$2' in $1 after 30 s" >&2
  return 1
}

for n in "${COUNTS[@]}"; do
  for run in $(seq "$RUNS"); do
    tag=$n-$run
    work=$OUT/work-$tag
    mkdir -p "$work/data"
    cat > "$work/diemcau.toml" <<EOF
listen = "127.0.0.1:0"
data_dir = "$work/data"
registry = "$ROOT/config/endpoints-63.toml"
[media]
udp_port = 0
bind_ip = "127.0.0.1"
# Each generated site pairs a WHIP publisher with a WHEP viewer, and the
# viewers share one token.
max_viewers_per_session = 500
max_connections_per_token = 500
${THREADS:+threads = $THREADS}
EOF
    bench_tokens "$work"

    "${SERVER_CPU[@]}" "$BIN/diemcau" serve --config "$work/diemcau.toml" --data "$work/data" \
      --listen 127.0.0.1:0 --media-port 0 > "$work/serve.out" 2> "$work/serve.log" &
    SERVER_PID=$!
    "${RELAY_CPU[@]}" "$BIN/udp-relay" --listen 127.0.0.1:0 --duration 1h > "$work/relay.out" &
    RELAY_PID=$!
    server=$(address_in "$work/serve.out" "diemcau listening on")
    relay=$(address_in "$work/relay.out" "udp-relay listening on")

    echo "run $tag: $n endpoints, server $server (pid $SERVER_PID), relay $relay (pid $RELAY_PID)" >&2
    "${LOADGEN_CPU[@]}" "$BIN/diemcau-loadgen" \
      --server "$server" --diemcau --session "$SESSION" --tokens "$work/tokens.csv" \
      --server-pid "$SERVER_PID" \
      --baseline-relay "$relay" --relay-pid "$RELAY_PID" \
      --endpoints "$n" --duration "$DURATION" --floor-every "$FLOOR_EVERY" "${RECORD_ARGS[@]}" \
      --json > "$OUT/run-$tag.json" 2> "$work/loadgen.log" \
      || echo "run $tag: the load generator failed, see $work/loadgen.log" >&2
    stop
  done
done
echo "$OUT"
