//! Test support shared by the workspace's integration tests: real peers started on
//! loopback the way the tests need them (bound without find-then-rebind races, ready
//! when their own output says so), stopped on drop.

#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;

/// Where Debian's dnsmasq-base installs it.
pub const DNSMASQ: &str = "/usr/sbin/dnsmasq";

/// A dnsmasq serving a zone given as its options on 127.0.0.1, killed on drop.
pub struct Dnsmasq {
    child: Child,
    /// Where it answers (UDP and TCP).
    pub addr: SocketAddr,
    log: mpsc::Receiver<String>,
}

impl Dnsmasq {
    /// Starts dnsmasq on a random port, another one if that is taken (dnsmasq binds it
    /// itself, so there is no find-then-rebind race), and returns once it has bound
    /// its sockets (it logs "started" after binding; before binding it exits).
    pub fn start(zone: &[String]) -> Dnsmasq {
        Dnsmasq::start_on(zone, random_ports()).0
    }

    /// Starts dnsmasq on the first of `ports` it can bind; also returns how many were
    /// taken.
    pub fn start_on(zone: &[String], mut ports: impl Iterator<Item = u16>) -> (Dnsmasq, usize) {
        assert!(
            std::path::Path::new(DNSMASQ).exists(),
            "{DNSMASQ} is required (Debian package dnsmasq-base; scripts/test.sh installs it)"
        );
        let mut collisions = 0;
        loop {
            let port = ports.next().expect("a port to try");
            let mut child = Command::new(DNSMASQ)
                .args([
                    "--no-daemon",
                    "--no-resolv",
                    "--no-hosts",
                    "--conf-file=/dev/null",
                    "--listen-address=127.0.0.1",
                    "--bind-interfaces",
                    "--log-facility=-",
                    &format!("--port={port}"),
                ])
                .args(zone)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn dnsmasq");
            let stderr = child.stderr.take().unwrap();
            let (tx, log) = mpsc::channel();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
            let mut seen = Vec::new();
            // each line is an event; the channel closes when dnsmasq exits
            while let Ok(line) = log.recv() {
                let started = line.contains("started, version");
                seen.push(line);
                if started {
                    let dns = Dnsmasq {
                        child,
                        addr: SocketAddr::from(([127, 0, 0, 1], port)),
                        log,
                    };
                    return (dns, collisions);
                }
            }
            let status = child.wait().unwrap();
            let in_use = seen.iter().any(|l| l.contains("Address already in use"));
            assert!(
                in_use && collisions < 20,
                "dnsmasq exited ({status}) without starting: {seen:#?}"
            );
            collisions += 1;
        }
    }
}

impl Dnsmasq {
    /// SIGHUP: dnsmasq rereads its hosts files (`--addn-hosts`) and clears its cache.
    pub fn reload(&self) {
        let ok = Command::new("kill")
            .args(["-HUP", &self.child.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill -HUP dnsmasq");
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for line in self.log.try_iter() {
            eprintln!("dnsmasq: {line}");
        }
    }
}

/// A per-process random seed.
fn random() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.finish()
}

/// Random ports in 20000..60000, a different sequence in every process (for servers
/// that bind a port they are given and say when it is taken: a taken one is simply
/// the next try, so callers never assume the first one is free).
pub fn random_ports() -> impl Iterator<Item = u16> {
    let mut seed = random() | 1;
    std::iter::repeat_with(move || {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        20_000 + ((seed >> 33) % 40_000) as u16
    })
}
