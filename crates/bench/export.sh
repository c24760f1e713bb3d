#!/bin/sh
# Bulk export benchmark (docs/bench/export.md): a synthetic data folder is exported offline
# (`crosscare export`, under /usr/bin/time -v for the peak RSS) and over HTTP (`$export` on a
# `crosscare serve --insecure-no-auth` on loopback, timed from kick-off to the complete manifest;
# peak memory of the server sampled every 20 ms from /proc: RssAnon, the memory the server holds,
# and VmHWM, which also counts the pages of the memory-mapped database file it touched).
#
#   crates/bench/export.sh [PATIENTS] [WORKDIR]      (PATIENTS=100 gives ~101,585 resources)
#
# Needs a release build (`cargo build --release -p crosscare-cli`), curl and python3.
set -eu
PATIENTS=${1:-100}
WORK=${2:-/tmp/crosscare-export-bench}
BIN=${CROSSCARE_BIN:-$(cd "$(dirname "$0")/../.." && pwd)/target/release/crosscare}
PORT=${PORT:-18080}
mkdir -p "$WORK"
cd "$WORK"
if [ ! -d "data$PATIENTS" ]; then
  "$BIN" synth --patients "$PATIENTS" --seed 7 --out "synth$PATIENTS" >/dev/null
  "$BIN" import --data "data$PATIENTS" "synth$PATIENTS" | tail -1
  rm -rf "synth$PATIENTS"
fi
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2), load: $(cut -d' ' -f1-3 /proc/loadavg)"

for run in 1 2 3; do
  rm -rf out
  /usr/bin/time -v "$BIN" export --data "data$PATIENTS" --out out 2>&1 \
    | grep -E 'resources/s|Maximum resident' | tr -s ' \t\n' ' '
  echo
done
rm -rf out

"$BIN" serve --data "data$PATIENTS" --listen "127.0.0.1:$PORT" --export-dir exports \
  --insecure-no-auth >/dev/null 2>&1 &
PID=$!
# Peak RssAnon of the server, sampled every 20 ms while it runs.
( peak=0
  while [ -r "/proc/$PID/status" ]; do
    v=$(awk '/^RssAnon:/{print $2}' "/proc/$PID/status" 2>/dev/null || echo 0)
    [ "${v:-0}" -gt "$peak" ] && peak=$v && echo "$peak" > rssanon.peak
    sleep 0.02
  done ) &
SAMPLER=$!
trap 'kill $PID $SAMPLER 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.1; done
for run in 1 2 3; do
  START=$(date +%s.%N)
  LOC=$(curl -si -H 'Prefer: respond-async' "http://127.0.0.1:$PORT/fhir/\$export" \
    | tr -d '\r' | awk -F': ' 'tolower($1)=="content-location"{print $2}')
  while [ "$(curl -s -o /dev/null -w '%{http_code}' "$LOC")" = "202" ]; do sleep 0.05; done
  END=$(date +%s.%N)
  COUNT=$(curl -s "$LOC" | python3 -c 'import json,sys; print(sum(o["count"] for o in json.load(sys.stdin)["output"]))')
  python3 -c "print(f'HTTP \$export: {$COUNT} resources in {$END-$START:.2f} s = {$COUNT/($END-$START):.0f} resources/s')"
  curl -s -X DELETE "$LOC" >/dev/null
done
echo "server peak memory: RssAnon $(cat rssanon.peak) kB, $(grep VmHWM /proc/$PID/status)"
