#!/usr/bin/env bash
# proxy-vs-kamailio.sh - sipcore-proxy and Kamailio measured side by side, in one
# sitting, with the shared sipp bench (../shared/bench, see its README):
#   1. sipp-repeat.sh -n 3 at 1000 calls/s x 20000 calls, UDP then TCP, the two
#      proxies interleaved (kamailio, sipcore-proxy, kamailio, sipcore-proxy);
#   2. sipp-ramp.sh over UDP and TCP for both, interleaved the same way.
# Every result line goes to OUT/results.txt; the exact commands to OUT/commands.txt.
#
# usage: benches/scripts/proxy-vs-kamailio.sh OUT [RAMP_SECONDS] [RATES]
#   BENCH   path of the shared bench directory       (default ../shared/bench)
#   PROXY   path of the sipcore-proxy binary         (default target/release/sipcore-proxy)
#   PARTS   which parts to run                        (default "repeat ramp")
#   TAG     prefix of every label, e.g. "phone-" (default none)
#   EXTRA   more sipp-proxy.sh arguments, e.g. "--quiet-wait 120 --quiet-max 0.3"
#           (wait for a quiet host before each run: other work disturbs the figures)
# Build first: cargo build --release -p sipcore-examples
set -u -o pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT=${1:?usage: proxy-vs-kamailio.sh OUT [RAMP_SECONDS] [RATES]}
RAMP_SECONDS=${2:-20}
RATES=${3:-"1000 2000 3000 4000 5000 6000 7000 8000 9000 10000"}
BENCH=${BENCH:-$HERE/../shared/bench}
PROXY=${PROXY:-$HERE/target/release/sipcore-proxy}
mkdir -p "$OUT"
BENCH=$(cd "$BENCH" && pwd)
KAM="kamailio -f $BENCH/kamailio/stateful.cfg -DD -E -m 2048 -M 16 -A SHM_FORCE_ALLOC"
RUST="$PROXY --listen 127.0.0.1:5060 --next-hop 127.0.0.1:5070 --trusted 127.0.0.1"
PARTS=${PARTS:-"repeat ramp"}
TAG=${TAG:-}
read -r -a EXTRA_ARGS <<<"${EXTRA:-}"
cd "$BENCH"

run() {
	echo "$*" >>"$OUT/commands.txt"
	"$@" 2>>"$OUT/stderr.txt" | tee -a "$OUT/summary.txt" | tail -1
}

{
	echo "# $(date -u +%FT%TZ) $(uname -r) ncpu=$(nproc) $(kamailio -v 2>/dev/null | head -1) sipp $(sipp -v 2>&1 | grep -o 'v[0-9.]*' | head -1)"
	echo "# sipcore-proxy $(git -C "$HERE" rev-parse --short HEAD)"
} >>"$OUT/commands.txt"

if [[ " $PARTS " == *" repeat "* ]]; then
	for t in udp tcp; do
		run ./sipp-repeat.sh -n 3 -- --proxy-cmd "$KAM" -t "$t" -r 1000 -m 20000 \
			--label "${TAG}kamailio-$t" --out "$OUT/repeat-kamailio-$t" "${EXTRA_ARGS[@]}"
		run ./sipp-repeat.sh -n 3 -- --proxy-cmd "$RUST" -t "$t" -r 1000 -m 20000 \
			--label "${TAG}sipcore-$t" --out "$OUT/repeat-sipcore-$t" "${EXTRA_ARGS[@]}"
	done
fi
if [[ " $PARTS " == *" ramp "* ]]; then
	for t in udp tcp; do
		run ./sipp-ramp.sh --rates "$RATES" --seconds "$RAMP_SECONDS" -- --proxy-cmd "$KAM" \
			-t "$t" --label "${TAG}ramp-kamailio-$t" --out "$OUT/ramp-kamailio-$t" "${EXTRA_ARGS[@]}"
		run ./sipp-ramp.sh --rates "$RATES" --seconds "$RAMP_SECONDS" -- --proxy-cmd "$RUST" \
			-t "$t" --label "${TAG}ramp-sipcore-$t" --out "$OUT/ramp-sipcore-$t" "${EXTRA_ARGS[@]}"
	done
fi
cat "$OUT"/repeat-*/results.txt "$OUT"/ramp-*/results.txt >"$OUT/results.txt" 2>/dev/null
echo "results: $OUT/results.txt"
