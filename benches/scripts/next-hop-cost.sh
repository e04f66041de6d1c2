#!/usr/bin/env bash
# Instructions per proxied request (OPTIONS forwarded, its 200 relayed) with a numeric
# next hop and with a host-name next hop answered from the DNS cache (issue 13's "resolution
# must not move the CPU figures"), counted with valgrind cachegrind: a run of N minus a run
# of 0, so start-up and the first (resolving) request cancel out. Repeatable on a busy
# machine. Needs valgrind, dnsmasq, and
#   cargo build --release -p sipcore-examples --example next_hop_cost
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=target/release/examples/next_hop_cost
n=${N:-2000}
ir() {
    valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null "$bin" "$@" 2>&1 >/dev/null |
        awk '/I *refs/ { gsub(",", "", $NF); print $NF }'
}
for mode in numeric name; do
    a=$(ir "$mode" "$n")
    b=$(ir "$mode" 0)
    echo "next_hop=$mode insn_per_request=$(( (a - b) / n ))"
done
