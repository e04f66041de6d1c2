#!/usr/bin/env bash
# Instructions per iteration (valgrind cachegrind, a run of N minus a run of 0) of the
# parse bench work, sipcore and rsip, every input. Needs valgrind and
# `cargo build --release -p sipcore-benches --example parse_loop`.
# Usage: [INPUTS='a b'] benches/insn.sh [WORK...]   (default: sipcore rsip, every input)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=target/release/examples/parse_loop
n=${N:-5000}
ir() {
    valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null "$bin" "$@" 2>&1 >/dev/null |
        awk '/I *refs/ { gsub(",", "", $NF); print $NF }'
}
works=("$@")
[ ${#works[@]} -eq 0 ] && works=(sipcore rsip)
for w in "${works[@]}"; do
    for input in ${INPUTS:-sipp-invite invite-2k-sdp ok-200 register-digest compact-indialog ok-200-2via-rr bye-indialog invite-3k}; do
        a=$(ir "$w" "$input" "$n")
        b=$(ir "$w" "$input" 0)
        echo "$w $input $(( (a - b) / n ))"
    done
done
