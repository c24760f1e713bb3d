#!/bin/sh
# A/B of reads by id (docs/benchmarks.md, "Reads: the stored text"): two `crosscare` binaries
# serve the same data folder in turn (3 rounds), each loaded for 6 s by `crosscare-bench load`
# (reads of Patient and Observation, 16 connections) after a 2 s warm-up; prints req/s, p99 and
# the server CPU time per read from /proc (user + system), which other load disturbs far less.
#
#   crates/bench/ab_reads.sh DATA_FOLDER BINARY_A BINARY_B
set -eu
BENCH=${CROSSCARE_BENCH:-$(cd "$(dirname "$0")/../.." && pwd)/target/release/crosscare-bench}
DATA=$1; shift
HZ=$(getconf CLK_TCK)
for round in 1 2 3; do
  for bin in "$@"; do
    "$bin" serve --data "$DATA" --listen 127.0.0.1:18095 --insecure-no-auth >/dev/null 2>&1 &
    PID=$!
    for _ in $(seq 1 100); do curl -sf http://127.0.0.1:18095/health >/dev/null && break; sleep 0.1; done
    # warm-up
    "$BENCH" load --url http://127.0.0.1:18095/fhir --seconds 2 --only "read Observation" >/dev/null 2>&1
    T0=$(awk '{print $14 + $15}' /proc/$PID/stat)
    OUT=$("$BENCH" load --url http://127.0.0.1:18095/fhir --seconds 6 --only "read Patient,read Observation" 2>&1 | grep "read ")
    T1=$(awk '{print $14 + $15}' /proc/$PID/stat)
    kill $PID; wait $PID 2>/dev/null || true
    echo "$OUT" | python3 -c "
import sys
rows=[l.split('|') for l in sys.stdin if l.startswith('|')]
rates=[float(r[2]) for r in rows]; p99=[r[4].strip() for r in rows]
total=sum(rates)*6
cpu=($T1-$T0)/$HZ
print(f'round $round $(basename $bin): ' + ', '.join(f'{r:.0f} req/s p99 {p}' for r,p in zip(rates,p99)) + f'; server CPU {cpu/total*1e6:.0f} µs/read; load $(cut -d' ' -f1 /proc/loadavg)')
"
  done
done
