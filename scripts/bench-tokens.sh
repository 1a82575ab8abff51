# Sourced by the benchmark scripts: bench_tokens WORK writes WORK/tokens.csv
# for the load generator from the server's own CLI, for the config and data
# dir in WORK: `diemcau invite --format csv`, plus a chair token bound to no
# session. The invite's chair link is bound to the session, which does not
# exist yet, and creating it takes a chair token bound to none (a later
# chair row replaces the earlier one). Needs BIN and SESSION.
bench_tokens() {
  local work=$1 chair
  "$BIN/diemcau" invite --session "$SESSION" --format csv \
    --config "$work/diemcau.toml" --data "$work/data" > "$work/tokens.csv"
  chair=$("$BIN/diemcau" token --role chair --config "$work/diemcau.toml" --data "$work/data")
  printf 'chair,,session owner,#token=%s\r\n' "$chair" >> "$work/tokens.csv"
}
