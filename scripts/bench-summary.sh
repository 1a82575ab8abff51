#!/usr/bin/env bash
# Medians over the runs that scripts/bench.sh left in a directory, one
# block per endpoint count: each target's figures, then the medians of the
# per-run ratios (bridge ÷ relay). Needs jq.
#
#   scripts/bench-summary.sh DIR
set -euo pipefail
DIR=${1:?usage: bench-summary.sh DIR}

shopt -s nullglob
files=("$DIR"/run-*.json)
[ ${#files[@]} -gt 0 ] || { echo "no run-*.json in $DIR" >&2; exit 1; }

jq -rs '
  def median: map(select(. != null)) | sort
    | if length == 0 then null
      elif length % 2 == 1 then .[length / 2 | floor]
      else (.[length / 2 - 1] + .[length / 2]) / 2 end;
  def fmt: if . == null then "-" else (. * 1000 | round / 1000 | tostring) end;
  def row($name; f): "  \($name): \(map(f) | median | fmt)  (runs: \(map(f | fmt) | join(", ")))";
  group_by(.runs[0].endpoints)[]
  | . as $group
  | "== \($group[0].runs[0].endpoints) endpoints, \($group | length) runs",
    ( [$group[].runs[]] | group_by(.target)[]
      | "\(.[0].target)",
        row("programme on all receivers (ms)"; .programme_all_ms),
        row("receivers with chair video"; .programme_receivers_with_chair),
        row("floor → keyframe median (ms)"; .floor_keyframe_median_ms),
        row("floor → keyframe max (ms)"; .floor_keyframe_max_ms),
        row("grants complete"; .grants_complete),
        row("grants"; .grants),
        row("latency p50 (ms)"; .latency.p50_ms),
        row("latency p99 (ms)"; .latency.p99_ms),
        row("latency p99.9 (ms)"; .latency.p999_ms),
        row("loss (%)"; .loss.fraction * 100),
        row("packets forwarded"; .forwarded_packets),
        row("server CPU (s)"; .server.cpu_seconds),
        row("server CPU per packet (us)"; .server.cpu_us_per_forwarded_packet),
        row("server peak RSS (MiB)"; .server.peak_rss_mib),
        row("generator CPU (s)"; .generator_cpu_seconds),
        row("generator late ticks"; .generator_late_ticks),
        row("join or grant errors"; .join_error_count),
        "  load average (start → end): \(map("\(.load_average[0]) → \(.load_average[1])") | join("; "))"
    ),
    "ratios (bridge ÷ relay)",
    ( $group | map(.ratios) | map(select(. != null))
      | row("latency p50"; .latency_p50),
        row("latency p99"; .latency_p99),
        row("CPU per forwarded packet"; .cpu_per_packet),
        row("peak RSS"; .peak_rss),
        row("programme time"; .programme_time),
        row("floor → keyframe median"; .floor_keyframe_median)
    ),
    ""
' "${files[@]}"
