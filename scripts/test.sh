#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what the tests need when it is
# missing (sipp, for the end-to-end tests), then checks formatting and lints, then runs
# every test of the workspace, and sipcore's with the `hickory` feature (its DNS tests
# ask a real dnsmasq). `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v sipp >/dev/null 2>&1; then
    echo "test.sh: sipp not found, installing sip-tester" >&2
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq sip-tester >/dev/null
fi
command -v sipp >/dev/null 2>&1 || { echo "test.sh: sipp is required and could not be installed" >&2; exit 1; }
# sipcore-tls interop tests talk to `openssl s_client`/`s_server` (they fail without it).
if ! command -v openssl >/dev/null 2>&1; then
    echo "test.sh: openssl not found, installing it" >&2
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq openssl >/dev/null
fi
# sipcore's DNS integration test (tests/dns_dnsmasq.rs) runs a real dnsmasq.
if [ ! -x /usr/sbin/dnsmasq ]; then
    echo "test.sh: /usr/sbin/dnsmasq not found, installing dnsmasq-base" >&2
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq dnsmasq-base >/dev/null
fi
[ -x /usr/sbin/dnsmasq ] || { echo "test.sh: dnsmasq is required and could not be installed" >&2; exit 1; }

# The proxy's attack tests scan it with SIPVicious' svwar (Debian package sipvicious).
if ! command -v svwar >/dev/null 2>&1; then
    echo "test.sh: svwar not found, installing sipvicious" >&2
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq sipvicious >/dev/null
fi
command -v svwar >/dev/null 2>&1 || { echo "test.sh: svwar is required and could not be installed" >&2; exit 1; }

# The proxy's scale-out tests (examples/tests/scale_out.rs) run real redis-servers.
if [ ! -x /usr/bin/redis-server ]; then
    echo "test.sh: /usr/bin/redis-server not found, installing redis-server" >&2
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >/dev/null
fi
[ -x /usr/bin/redis-server ] || { echo "test.sh: redis-server is required and could not be installed" >&2; exit 1; }

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo clippy -p sipcore --features hickory --all-targets -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet
RUSTDOCFLAGS="-D warnings" cargo doc -p sipcore --features hickory --no-deps --quiet
# The fuzz targets live outside the workspace; make sure they still build.
cargo check --quiet --manifest-path fuzz/Cargo.toml
cargo test --workspace
cargo test -p sipcore --features hickory --lib --test dns_dnsmasq
