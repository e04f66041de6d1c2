#!/usr/bin/env bash
# Goodput under overload: the proxy capped to a CPU quota (cgroup v1 cpu controller,
# only the proxy's process moved into the group, so sipp on the other cores can offer
# more than the proxy can serve), then offered FACTOR times its capped capacity.
#
#   benches/scripts/overload.sh [--proxy CMD] [--quota PCT] [--capacity CPS] [--factor F] [--seconds S] [--label L]
#
# CAPACITY is the capped proxy's capacity in calls/s (measure it with
# ../shared/bench/sipp-ramp.sh under the same quota, or give it); the script runs the
# bench's sipp-proxy.sh at FACTOR*CAPACITY for S seconds and prints
#   bench=overload label=L quota=PCT capacity=C offered=R successful=N goodput_pct=G ...
# with goodput = successful calls per second / capacity. Needs root (cgroup) and the
# bench in ../shared/bench. Loopback only.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
BENCH="${BENCH:-$HERE/../../../shared/bench}"
PROXY="${PROXY:-$HERE/../../target/release/sipcore-proxy --listen 127.0.0.1:5060 --next-hop 127.0.0.1:5070 --trusted 127.0.0.1}"
QUOTA=15 CAPACITY=1750 FACTOR=3 DURATION=20 LABEL=sipcore
while [ $# -gt 0 ]; do
    case "$1" in
        --proxy) PROXY="$2"; shift 2 ;;
        --quota) QUOTA="$2"; shift 2 ;;
        --capacity) CAPACITY="$2"; shift 2 ;;
        --factor) FACTOR="$2"; shift 2 ;;
        --seconds) DURATION="$2"; shift 2 ;;
        --label) LABEL="$2"; shift 2 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
CG=/sys/fs/cgroup/cpu/sipcore-overload-$$
mkdir -p "$CG"
echo 100000 > "$CG/cpu.cfs_period_us"
echo $((QUOTA * 1000)) > "$CG/cpu.cfs_quota_us"
OUT=$(mktemp -d /tmp/overload.XXXXXX)
bash -c "exec $PROXY" > "$OUT/proxy.log" 2>&1 &
PID=$!
cleanup() { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; rmdir "$CG" 2>/dev/null || true; }
trap cleanup EXIT
echo "$PID" > "$CG/cgroup.procs"
for _ in $(seq 1 100); do ss -lun | grep -q '127.0.0.1:5060 ' && break; sleep 0.1; done
RATE=$(awk -v c="$CAPACITY" -v f="$FACTOR" 'BEGIN { printf "%d", c * f }')
CALLS=$((RATE * DURATION))
LINE=$(cd "$BENCH" && ./sipp-proxy.sh --proxy-pid "$PID" -t udp -r "$RATE" -m "$CALLS" \
    --max-time $((DURATION + 40)) --recv-timeout 10 --settle 2 --idle-sample 1 --label "$LABEL" --out "$OUT/run" 2>&1 | grep '^bench=sipp-proxy' || true)
echo "$LINE" > "$OUT/result.txt"
OK=$(echo "$LINE" | tr ' ' '\n' | awk -F= '$1=="successful"{print $2}')
ELAPSED=$(echo "$LINE" | tr ' ' '\n' | awk -F= '$1=="elapsed_s"{print $2}')
PSS0=$(echo "$LINE" | tr ' ' '\n' | awk -F= '$1=="proxy_pss_idle_kb"{print $2}')
PSS1=$(echo "$LINE" | tr ' ' '\n' | awk -F= '$1=="proxy_pss_after_kb"{print $2}')
GOOD=$(awk -v ok="${OK:-0}" -v s="$DURATION" -v c="$CAPACITY" 'BEGIN { printf "%.0f", 100 * ok / s / c }')
echo "bench=overload label=$LABEL quota=$QUOTA capacity=$CAPACITY offered=$RATE seconds=$DURATION successful=${OK:-0} elapsed_s=${ELAPSED:-?} goodput_pct=$GOOD pss_growth_kb=$(( ${PSS1:-0} - ${PSS0:-0} )) out=$OUT"
echo "$LINE"
