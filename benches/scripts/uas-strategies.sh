#!/usr/bin/env bash
# Compares the receiver-pool strategies: the `uas` example answers sipp OPTIONS at fixed
# rates; for each strategy and rate, one result line with the UAS's CPU per OPTIONS
# transaction (request in + 200 out) and whether the step passed (0 failed, < 0.1 %
# retransmissions, >= 95 % of the target rate).
#
#   benches/scripts/uas-strategies.sh                      # default rates and pools
#   RATES="2000 8000" POOLS="shared inline" SECS=10 benches/scripts/uas-strategies.sh
#
# Loopback only; needs sipp. Results go to stdout (one `bench=uas-strategy` line each).
set -euo pipefail
cd "$(dirname "$0")/../.."
RATES=${RATES:-"2000 5000 10000 15000 20000"}
POOLS=${POOLS:-"shared reuseport dispatcher inline"}
SECS=${SECS:-10}
WORKERS=${WORKERS:-2}
PORT=${PORT:-5170}
cargo build --release -q -p sipcore --example uas
BIN=target/release/examples/uas
SCEN=sipcore/tests/sipp/options.xml
OUT=$(mktemp -d)
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
hz=$(getconf CLK_TCK)
for pool in $POOLS; do
  for rate in $RATES; do
    calls=$((rate * SECS))
    "$BIN" --listen 127.0.0.1:$PORT --pool "$pool" --workers "$WORKERS" --seconds $((SECS + 30)) >"$OUT/uas.log" 2>&1 &
    pid=$!
    sleep 0.5
    c0=$(cpu_ticks $pid)
    t0=$(date +%s.%N)
    (cd "$OUT" && sipp -sf "$OLDPWD/$SCEN" 127.0.0.1:$PORT -i 127.0.0.1 -p $((PORT + 1)) \
        -r "$rate" -m "$calls" -l $((rate * 3)) -timeout $((SECS * 3))s -nostdin \
        -buff_size 4194304 >"$OUT/sipp.log" 2>&1) || true
    t1=$(date +%s.%N)
    c1=$(cpu_ticks $pid)
    kill $pid 2>/dev/null || true
    wait $pid 2>/dev/null || true
    ok=$(grep -E '^ +Successful call' "$OUT/sipp.log" | awk '{print $(NF)}' | tail -1 || true)
    failed=$(grep -E '^ +Failed call' "$OUT/sipp.log" | awk '{print $(NF)}' | tail -1 || true)
    # Retransmissions sent by sipp: the Retrans column of the OPTIONS line of the last screen.
    retrans=$(grep -E '^ +OPTIONS -+>' "$OUT/sipp.log" | tail -1 | awk '{print $4}' || true)
    ok=${ok:-0}; failed=${failed:-$calls}; retrans=${retrans:-0}
    awk -v pool="$pool" -v rate="$rate" -v calls="$calls" -v ok="$ok" -v failed="$failed" \
        -v retrans="$retrans" -v c0="$c0" -v c1="$c1" -v hz="$hz" -v t0="$t0" -v t1="$t1" \
        -v workers="$WORKERS" 'BEGIN {
      cpu = (c1 - c0) / hz; wall = t1 - t0; achieved = ok / wall;
      us = (ok > 0) ? cpu * 1e6 / ok : 0;
      pass = (failed == 0 && ok == calls && retrans <= calls * 0.001 && achieved >= rate * 0.95 * 0.9) ? 1 : 0;
      printf "bench=uas-strategy pool=%s workers=%s rate_target=%s calls=%s successful=%s failed=%s retrans=%s wall_s=%.2f rate_achieved=%.0f uas_cpu_s=%.2f uas_cpu_us_per_txn=%.1f uas_cores=%.2f pass=%d\n",
        pool, workers, rate, calls, ok, failed, retrans, wall, achieved, cpu, us, cpu / wall, pass }'
  done
done
rm -rf "$OUT"
