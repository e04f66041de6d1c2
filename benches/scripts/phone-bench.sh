#!/usr/bin/env bash
# phone-bench.sh - proxy-vs-kamailio.sh on phone-like traffic: the shared sipp bench
# (../shared/bench) with its UAC scenario replaced by benches/scenarios/uac-phone.xml
# (Vias with ;rport, User-Agent/Allow/Supported/Allow-Events/P-Asserted-Identity/
# Session-Expires, a five-codec SDP). Everything else (UAS, scripts, Kamailio config)
# is the shared bench's, copied into a temporary directory so the shared one is
# never modified.
#
# usage: benches/scripts/phone-bench.sh OUT [RAMP_SECONDS] [RATES]
#   the environment of proxy-vs-kamailio.sh (BENCH, PROXY, PARTS, EXTRA); labels are
#   prefixed with "phone-".
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SRC=${BENCH:-$HERE/../shared/bench}
TMP=$(mktemp -d /tmp/phone-bench.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
cp -a "$SRC"/. "$TMP"/
cp "$HERE/benches/scenarios/uac-phone.xml" "$TMP/scenarios/uac.xml"
BENCH=$TMP TAG=phone- "$HERE/benches/scripts/proxy-vs-kamailio.sh" "$@"
