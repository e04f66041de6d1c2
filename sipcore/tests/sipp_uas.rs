//! The `uas` example driven by real sipp over loopback, for every pool strategy.
//! sipp is required: when it is missing these tests fail (the test script installs it).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

#[allow(dead_code)]
#[path = "../examples/uas.rs"]
mod uas;

use std::net::UdpSocket;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn sipp() -> Command {
    let found = Command::new("sipp").arg("-v").output();
    assert!(
        found.is_ok(),
        "sipp is not installed: run ./scripts/test.sh, which installs it (apt-get install sip-tester)"
    );
    Command::new("sipp")
}

/// Runs the UAS on a fresh port for `seconds` and sipp against it with `args`.
fn run(pool: &str, scenario_args: &[&str], calls: u32) {
    let port = free_udp_port();
    let listen = format!("127.0.0.1:{port}");
    let argv: Vec<String> = [
        "--listen",
        &listen,
        "--pool",
        pool,
        "--workers",
        "2",
        "--seconds",
        "6",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let server = std::thread::spawn(move || uas::run(argv).map_err(|e| e.to_string()));
    std::thread::sleep(Duration::from_millis(300));
    let local = free_udp_port().to_string();
    let out = sipp()
        .args(scenario_args)
        .args([
            &listen,
            "-i",
            "127.0.0.1",
            "-p",
            &local,
            "-m",
            &calls.to_string(),
            "-r",
            "50",
            "-timeout",
            "10s",
            "-timeout_error",
            "-nostdin",
            "-trace_screen",
        ])
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{pool}: sipp failed ({:?}):\n{report}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    server.join().unwrap().unwrap();
}

fn options_scenario() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/sipp/options.xml")
        .display()
        .to_string()
}

#[test]
fn sipp_calls_shared_socket() {
    run("shared", &["-sn", "uac"], 50);
}

#[test]
fn sipp_calls_reuseport() {
    run("reuseport", &["-sn", "uac"], 50);
}

#[test]
fn sipp_calls_dispatcher() {
    run("dispatcher", &["-sn", "uac"], 50);
}

#[test]
fn sipp_options_inline() {
    run("inline", &["-sf", &options_scenario()], 100);
}
