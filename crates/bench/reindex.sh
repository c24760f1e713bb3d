#!/bin/sh
# Online reindex benchmark (docs/benchmarks.md, "Reindex"): a synthetic data folder is served
# (`crosscare serve --insecure-no-auth` on loopback), a custom SearchParameter on Observation is
# written, and `Observation/$reindex` is timed from kick-off to its result, with the server's
# CPU time over the job (user + system, from /proc). While the job runs, reads by id keep
# being answered: one `curl` per 100 ms measures their latency. The job's own wait (twice
# --search-params-refresh-ms) is set to 2 × 50 ms and subtracted.
#
#   crates/bench/reindex.sh [PATIENTS] [WORKDIR]     (PATIENTS=100 gives ~101,585 resources)
#
# Needs a release build (`cargo build --release -p crosscare-cli`), curl and python3.
set -eu
PATIENTS=${1:-100}
WORK=${2:-/tmp/crosscare-reindex-bench}
BIN=${CROSSCARE_BIN:-$(cd "$(dirname "$0")/../.." && pwd)/target/release/crosscare}
PORT=${PORT:-18081}
mkdir -p "$WORK"
cd "$WORK"
if [ ! -d "data$PATIENTS" ]; then
  "$BIN" synth --patients "$PATIENTS" --seed 7 --out "synth$PATIENTS" >/dev/null
  "$BIN" import --data "data$PATIENTS" "synth$PATIENTS" | tail -1
  rm -rf "synth$PATIENTS"
fi
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2), load: $(cut -d' ' -f1-3 /proc/loadavg)"
"$BIN" serve --data "data$PATIENTS" --listen "127.0.0.1:$PORT" --insecure-no-auth \
  --search-params-refresh-ms 50 >serve.log 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
BASE="http://127.0.0.1:$PORT/fhir"
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.1; done
OBS=$(curl -s "$BASE/Observation?_count=1&_elements=id" | python3 -c 'import json,sys; print(json.load(sys.stdin)["entry"][0]["resource"]["id"])')
ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
HZ=$(getconf CLK_TCK)
for run in 1 2 3; do
  # A new version of the parameter each run: pending again, so each run is a full reindex.
  curl -sf -X PUT -H 'Content-Type: application/fhir+json' "$BASE/SearchParameter/bench-value" -d "{
    \"resourceType\": \"SearchParameter\", \"id\": \"bench-value\", \"status\": \"active\",
    \"url\": \"https://crosscare.dev/bench/SearchParameter/observation-value-unit\",
    \"name\": \"valueunit\", \"description\": \"run $run\", \"code\": \"value-unit\",
    \"base\": [\"Observation\"], \"type\": \"token\",
    \"expression\": \"Observation.value.ofType(Quantity).code\"}" >/dev/null
  CPU0=$(ticks)
  START=$(date +%s.%N)
  LOC=$(curl -si -X POST -H 'Prefer: respond-async' "$BASE/Observation/\$reindex" \
    | tr -d '\r' | awk -F': ' 'tolower($1)=="content-location"{print $2}')
  : > reads.txt
  while [ "$(curl -s -o /dev/null -w '%{http_code}' "$LOC")" = "202" ]; do
    curl -s -o /dev/null -w '%{time_total}\n' "$BASE/Observation/$OBS" >> reads.txt
    sleep 0.1
  done
  END=$(date +%s.%N)
  CPU1=$(ticks)
  SCANNED=$(curl -s "$LOC" | python3 -c 'import json,sys; print([p["valueInteger"] for p in json.load(sys.stdin)["parameter"] if p["name"]=="scanned"][0])')
  python3 - "$SCANNED" "$START" "$END" "$CPU0" "$CPU1" "$HZ" <<'PY'
import sys
n, start, end, c0, c1, hz = int(sys.argv[1]), *map(float, sys.argv[2:])
wall = end - start - 0.1
cpu = (c1 - c0) / hz
reads = sorted(float(l) * 1000 for l in open("reads.txt") if l.strip())
p = lambda q: reads[min(len(reads) - 1, int(q * len(reads)))] if reads else float("nan")
print(f"reindex: {n} Observations in {wall:.2f} s = {n / wall:,.0f} res/s; server CPU {cpu:.2f} s "
      f"= {cpu / n * 1e6:.0f} µs/resource; reads during it: {len(reads)}, p50 {p(0.5):.1f} ms, max {reads[-1] if reads else 0:.1f} ms")
PY
  curl -s "$BASE/Observation?value-unit=kg&_summary=count" | python3 -c 'import json,sys; b=json.load(sys.stdin); print("  search after:", b.get("total", b))'
done
