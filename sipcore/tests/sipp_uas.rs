//! The `uas` example driven by real sipp over loopback, for every pool strategy.
//! sipp is required: when it is missing these tests fail (the test script installs it).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

#[allow(dead_code)]
#[path = "../examples/uas.rs"]
mod uas;

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A port for sipp (it binds its own): random, below the kernel's ephemeral range; the
/// caller tries another when sipp finds it taken.
fn sipp_port() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    20_000 + (h.finish() % 12_000) as u16
}

fn sipp() -> Command {
    let found = Command::new("sipp").arg("-v").output();
    assert!(
        found.is_ok(),
        "sipp is not installed: run ./scripts/test.sh, which installs it (apt-get install sip-tester)"
    );
    Command::new("sipp")
}

/// Runs the UAS on a port the kernel picks and sipp against it with `args`; the UAS
/// stops once sipp is done.
fn run(pool: &str, scenario_args: &[&str], calls: u32) {
    let argv: Vec<String> = ["--listen", "127.0.0.1:0", "--pool", pool, "--workers", "2"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = std::sync::mpsc::channel();
    let server = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let ready = move |a| {
                let _ = tx.send(a);
            };
            uas::run_until(argv, &ready, &stop).map_err(|e| e.to_string())
        })
    };
    let listen = match rx.recv() {
        Ok(addr) => addr.to_string(),
        Err(_) => panic!("the UAS did not start: {:?}", server.join()),
    };
    let mut out = None;
    for _ in 0..50 {
        let o = sipp()
            .args(scenario_args)
            .args([
                &listen,
                "-i",
                "127.0.0.1",
                "-p",
                &sipp_port().to_string(),
                "-m",
                &calls.to_string(),
                "-r",
                "50",
                "-timeout",
                "60s",
                "-timeout_error",
                "-nostdin",
                "-trace_screen",
            ])
            .current_dir(std::env::temp_dir())
            .output()
            .unwrap();
        let in_use = String::from_utf8_lossy(&o.stderr).contains("errno = 98");
        out = Some(o);
        if !in_use {
            break;
        }
    }
    stop.store(true, Ordering::Release);
    let out = out.unwrap();
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
