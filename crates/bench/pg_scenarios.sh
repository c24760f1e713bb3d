#!/usr/bin/env bash
# The load scenarios one at a time against a PostgreSQL database that holds a territory, with
# the CPU each request cost PostgreSQL and the server (docs/bench/postgres.md, "Page order").
#
#   crates/bench/pg_scenarios.sh BIN_DIR PGDATA DATABASE_URL PORT OUT.md
#
# BIN_DIR holds `crosscare` and `crosscare-bench`; PGDATA is the cluster's data folder (its
# postmaster and that postmaster's children are the PostgreSQL CPU counted: other clusters on
# the machine are not). Each scenario runs 5 s at 16 connections; CPU is summed from
# /proc/<pid>/stat (utime + stime) around each run, so it includes the three sampling searches
# each `crosscare-bench load` starts with. The 1-minute load average is taken before and after.
set -euo pipefail
BIN=$1; PGDATA=$2; URL=$3; PORT=$4; OUT=$5
DATA=$(mktemp -d)
"$BIN/crosscare" serve --insecure-no-auth --listen "127.0.0.1:$PORT" --data "$DATA" \
  --database "$URL" > "$DATA/serve.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; rm -rf "$DATA"' EXIT
for _ in $(seq 600); do curl -sf "http://127.0.0.1:$PORT/fhir/metadata" >/dev/null && break; sleep 1; done
POSTMASTER=$(head -1 "$PGDATA/postmaster.pid")
HZ=$(getconf CLK_TCK)
ticks() {
  local pg=0 s p
  for p in $POSTMASTER $(pgrep -P "$POSTMASTER"); do
    s=$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0); pg=$((pg + s))
  done
  echo "$pg $(awk '{print $14 + $15}' "/proc/$SERVER/stat")"
}
echo "| scenario | req/s | p50 ms | p99 ms | PostgreSQL CPU ms/req | server CPU ms/req | load 1-min before → after |" > "$OUT"
echo "|---|---:|---:|---:|---:|---:|---:|" >> "$OUT"
for kw in "Patient by id" "Observation by id" "search token" "search string" "search date" \
  "search reference" "search chained" "search _include" "search _revinclude" "search sort" \
  "everything" "search count" "search _has"; do
  before=$(cut -d' ' -f1 /proc/loadavg)
  read -r pg0 sv0 < <(ticks)
  res=$("$BIN/crosscare-bench" load --url "http://127.0.0.1:$PORT/fhir" --seconds 5 --only "$kw" 2>/dev/null | grep '^| ' | tail -1)
  read -r pg1 sv1 < <(ticks)
  after=$(cut -d' ' -f1 /proc/loadavg)
  # The name may hold `|` (system|code): the figures are the last columns.
  echo "$res" | awk -F'|' -v pg=$((pg1 - pg0)) -v sv=$((sv1 - sv0)) -v hz="$HZ" -v la="$before → $after" '{
    name = $2; for (i = 3; i <= NF - 5; i++) name = name "\\|" $i
    n = $(NF - 4) * 5
    printf "|%s| %d | %s | %s | %.2f | %.2f | %s |\n", name, $(NF - 4), $(NF - 3), $(NF - 2), pg * 1000 / hz / n, sv * 1000 / hz / n, la
  }' >> "$OUT"
done
