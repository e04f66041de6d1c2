#!/usr/bin/env bash
# idle-conns.sh - what N idle TCP connections cost sipcore-proxy (issue 18).
#
# Starts the proxy (release build) on 127.0.0.1:$PORT (UDP and TCP, next hop the
# sipp UAS on $UAS_PORT), then:
#   1. sipp calls through it over TCP with 0 idle connections (CPS baseline);
#   2. its idle CPU over IDLE_SECS with 0 connections;
#   3. opens N idle connections from 127.0.0.2, 127.0.0.3, ... (port 0, 20,000
#      per source address), each sending one double-CRLF keep-alive ping and
#      waiting for the pong (sipcore-tcp/examples/idle_clients.rs);
#   4. userland memory per connection: the proxy's RSS and PSS
#      (/proc/PID/smaps_rollup) after minus before, divided by the pongs;
#   5. its idle CPU over IDLE_SECS with the N connections open (on-CPU time of
#      all its threads from /proc/PID/task/*/schedstat, in ns);
#   6. the same sipp run with the N connections open.
# It raises ulimit -n (hard and soft, as root) for N connections on each side; if
# fewer open, the figures are for the number that did and the output says so.
#
# Usage: benches/scripts/idle-conns.sh [N] (default 100000)
# Environment: RATE (sipp cps, 1000), CALLS (10000), TRANSPORT (tcp), IDLE_SECS (10),
#   PORT (15060), UAS_PORT (15070), UAC_PORT (15090), OUT (result file, none),
#   PROXY (binary; default target/release/sipcore-proxy, built if missing),
#   CLIENTS (binary; default target/release/examples/idle_clients, built if missing).
# The last line on stdout is "bench=idle-conns key=value ...".
set -u -o pipefail

N=${1:-100000}
RATE=${RATE:-1000} CALLS=${CALLS:-10000} TRANSPORT=${TRANSPORT:-tcp} IDLE_SECS=${IDLE_SECS:-10}
PORT=${PORT:-15060} UAS_PORT=${UAS_PORT:-15070} UAC_PORT=${UAC_PORT:-15090}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BENCH=${BENCH:-$ROOT/../../shared/bench}
[ -x "$BENCH/sipp-proxy.sh" ] || BENCH=/work/shared/bench
PROXY=${PROXY:-$ROOT/target/release/sipcore-proxy}
CLIENTS=${CLIENTS:-$ROOT/target/release/examples/idle_clients}
WORK=$(mktemp -d /tmp/idle-conns.XXXXXX)

note() { echo "idle-conns: $*" >&2; }
die() { note "error: $*"; exit 2; }

[ -x "$BENCH/sipp-proxy.sh" ] || die "no sipp-proxy.sh (set BENCH=dir of the shared bench)"
command -v sipp >/dev/null || die "sipp is not installed"
if [ ! -x "$PROXY" ] || [ ! -x "$CLIENTS" ]; then
	note "building the release binaries"
	(cd "$ROOT" && CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-1} cargo build --release \
		-p sipcore-examples --bin sipcore-proxy -p sipcore-tcp --example idle_clients) >&2 ||
		die "build failed"
fi

# Each side holds N descriptors: raise the hard limit (root) and the soft one.
WANT=$((N + 4096))
ulimit -Hn "$WANT" 2>/dev/null || ulimit -Hn "$(cat /proc/sys/fs/nr_open)" 2>/dev/null
ulimit -n "$(ulimit -Hn)" 2>/dev/null
note "ulimit -n $(ulimit -n) (wanted $WANT)"
WANTED=$N
HARD=$(ulimit -n)
if [ "$HARD" != unlimited ] && [ "$WANT" -gt "$HARD" ]; then
	# Without CAP_SYS_RESOURCE the hard limit stays: the largest N that fits on both
	# sides (the proxy's other descriptors and the clients' stdio are the 1024).
	N=$((HARD - 1024))
	note "the file limit $HARD caps N: $N connections instead of $WANTED"
fi

cat >"$WORK/proxy.toml" <<EOF
[log]
level = "warn"
[server]
listen = ["127.0.0.1:$PORT"]
next_hop = "127.0.0.1:$UAS_PORT"
rate_limit = 0
[registrar]
enabled = false
[acl]
trusted = ["127.0.0.1"]
[tcp]
max_connections = $((N + 4096))
max_inbound = $((N + 2048))
backlog = 4096
idle_timeout_secs = 3600
EOF

"$PROXY" --config "$WORK/proxy.toml" >"$WORK/proxy.log" 2>&1 &
PROXY_PID=$!
CLIENTS_PID=
cleanup() {
	[ -n "$CLIENTS_PID" ] && kill "$CLIENTS_PID" 2>/dev/null
	kill "$PROXY_PID" 2>/dev/null
	wait 2>/dev/null
}
trap cleanup EXIT
for _ in $(seq 100); do
	ss -ltn "sport = :$PORT" | grep -q LISTEN && break
	sleep 0.1
done
ss -ltn "sport = :$PORT" | grep -q LISTEN || die "the proxy did not listen: $(cat "$WORK/proxy.log")"

# Proxy RSS and PSS in kB.
mem() { awk '/^Rss:/ { r = $2 } /^Pss:/ { p = $2 } END { print r, p }' "/proc/$PROXY_PID/smaps_rollup"; }
# On-CPU ns of all the proxy's threads.
oncpu() { cat /proc/"$PROXY_PID"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%d\n", s }'; }
# Per cent of one core over IDLE_SECS.
idle_cpu() {
	local a b
	a=$(oncpu)
	sleep "$IDLE_SECS"
	b=$(oncpu)
	awk -v a="$a" -v b="$b" -v s="$IDLE_SECS" 'BEGIN { printf "%.3f\n", (b - a) / 1e9 / s * 100 }'
}
# One sipp run through the proxy; prints its result line.
sipp_run() {
	(cd "$BENCH" && ./sipp-proxy.sh --proxy-pid "$PROXY_PID" --proxy-addr "127.0.0.1:$PORT" \
		--uas-port "$UAS_PORT" --uac-port "$UAC_PORT" -t "$TRANSPORT" -r "$RATE" -m "$CALLS" \
		--settle 2 --out "$WORK/sipp-$1" --label "$1") 2>"$WORK/sipp-$1.err" | tail -n 1
}
kv() { echo "$1" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k { print $2 }'; }

note "sipp with 0 idle connections ($TRANSPORT, $RATE cps x $CALLS)"
R0=$(sipp_run conns-0)
sleep 2
note "idle CPU with 0 connections (${IDLE_SECS}s)"
CPU0=$(idle_cpu)
read -r RSS0 PSS0 < <(mem)

note "opening $N idle connections"
mkfifo "$WORK/hold"
"$CLIENTS" --to "127.0.0.1:$PORT" -n "$N" <"$WORK/hold" >"$WORK/clients.out" 2>"$WORK/clients.err" &
CLIENTS_PID=$!
exec 3>"$WORK/hold" # holds the clients' stdin open
for _ in $(seq 1200); do
	grep -q '^ready' "$WORK/clients.out" 2>/dev/null && break
	kill -0 "$CLIENTS_PID" 2>/dev/null || break
	sleep 0.5
done
read -r _ OPENED PONGS <"$WORK/clients.out" || die "the clients did not get ready: $(tail -n 3 "$WORK/clients.err")"
tail -n 2 "$WORK/clients.err" >&2
[ "$PONGS" -gt 0 ] || die "no connection was answered"
sleep 2
read -r RSS1 PSS1 < <(mem)
note "idle CPU with $PONGS connections (${IDLE_SECS}s)"
CPU1=$(idle_cpu)
note "sipp with $PONGS idle connections"
R1=$(sipp_run "conns-$PONGS")
ALIVE=$(ss -tn state established "sport = :$PORT" | tail -n +2 | wc -l)

RATE0=$(kv "$R0" rate_achieved) RATE1=$(kv "$R1" rate_achieved)
US0=$(kv "$R0" proxy_cpu_us_per_call) US1=$(kv "$R1" proxy_cpu_us_per_call)
RESULT=$(awk -v want="$WANTED" -v n="$N" -v o="$OPENED" -v p="$PONGS" -v alive="$ALIVE" \
	-v r0="$RSS0" -v r1="$RSS1" -v p0="$PSS0" -v p1="$PSS1" -v c0="$CPU0" -v c1="$CPU1" \
	-v q0="$RATE0" -v q1="$RATE1" -v u0="$US0" -v u1="$US1" \
	-v f0="$(kv "$R0" failed)" -v f1="$(kv "$R1" failed)" -v p99a="$(kv "$R0" rtd_p99_below_ms)" -v p99b="$(kv "$R1" rtd_p99_below_ms)" \
	-v tr="$TRANSPORT" -v rate="$RATE" -v calls="$CALLS" -v secs="$IDLE_SECS" 'BEGIN {
	printf "bench=idle-conns wanted=%d tried=%d opened=%d answered=%d established_after=%d", want, n, o, p, alive
	printf " rss_kb=%d->%d pss_kb=%d->%d", r0, r1, p0, p1
	printf " rss_bytes_per_conn=%.0f pss_bytes_per_conn=%.0f", (r1 - r0) * 1024 / p, (p1 - p0) * 1024 / p
	printf " idle_cpu_pct_0=%s idle_cpu_pct_n=%s idle_secs=%d", c0, c1, secs
	printf " sipp=%s/%dcps/%dcalls cps_0=%s cps_n=%s cps_ratio=%.3f", tr, rate, calls, q0, q1, (q0 > 0 ? q1 / q0 : 0)
	printf " cpu_us_per_call_0=%s cpu_us_per_call_n=%s failed_0=%s failed_n=%s rtd_p99_below_ms_0=%s rtd_p99_below_ms_n=%s\n", u0, u1, f0, f1, p99a, p99b
}')
echo "$R0"
echo "$R1"
echo "$RESULT"
if [ -n "${OUT:-}" ]; then
	{
		echo "# benches/scripts/idle-conns.sh $N  ($(date -u +%FT%TZ), $(git -C "$ROOT" rev-parse --short HEAD), $(nproc) cores)"
		echo "$R0"
		echo "$R1"
		echo "$RESULT"
	} >>"$OUT"
fi
exec 3>&-
