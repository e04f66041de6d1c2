//! Interop over loopback with an independent TLS implementation: OpenSSL's `s_client`
//! against our server and `s_server` against our client, TLS 1.3 and 1.2, driven with
//! `std::process::Command` and bounded waits. Skipped (with a note) when `openssl` is not
//! installed.
//!
//! sipp is not used: the installed sipp (3.6.1, built with SCTP-PCAP-RTPSTREAM) has no TLS;
//! `sipp -t l1` answers "To use a TLS transport you must compile SIPp with OpenSSL".

#![allow(clippy::disallowed_methods, clippy::unwrap_used)] // loopback tests measure real time

mod common;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;
use crossbeam_channel::{unbounded, Receiver};
use sipcore::transport::TransportKind;
use sipcore_tls::TlsVersion;

/// The interop tests need the `openssl` command: a missing one fails the test loudly
/// (the test script installs it), it never skips.
fn have_openssl() -> bool {
    let ok = Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "openssl is not installed: run ./scripts/test.sh, which installs it"
    );
    ok
}

/// A scratch directory with the PEM files an OpenSSL process reads, removed on drop.
struct Files(PathBuf);

impl Files {
    fn new(ca: &Ca, cert: &Issued) -> Files {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "sipcore-tls-interop-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("ca.pem"), &ca.pem).unwrap();
        std::fs::write(dir.join("cert.pem"), &cert.cert_pem).unwrap();
        std::fs::write(dir.join("key.pem"), &cert.key_pem).unwrap();
        Files(dir)
    }

    fn path(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An OpenSSL process, killed on drop; its stdout arrives on a channel.
struct Proc {
    child: Child,
    stdin: Option<ChildStdin>,
    out: Receiver<Vec<u8>>,
    seen: Vec<u8>,
}

impl Proc {
    fn spawn(args: &[&str]) -> Proc {
        let mut child = Command::new("openssl")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let mut stdout = child.stdout.take().unwrap();
        let (tx, out) = unbounded();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Proc {
            child,
            stdin,
            out,
            seen: Vec::new(),
        }
    }

    fn write(&mut self, data: &[u8]) {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(data).unwrap();
        stdin.flush().unwrap();
    }

    /// Waits until stdout has shown `needle`.
    fn expect(&mut self, needle: &str) {
        let end = Instant::now() + WAIT;
        while !String::from_utf8_lossy(&self.seen).contains(needle) {
            let left = end.saturating_duration_since(Instant::now());
            match self.out.recv_timeout(left) {
                Ok(chunk) => self.seen.extend_from_slice(&chunk),
                Err(_) => panic!(
                    "openssl never printed {needle:?}; it printed {:?}",
                    String::from_utf8_lossy(&self.seen)
                ),
            }
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether process `pid` listens on 127.0.0.1:`port` (Linux `/proc/net/tcp` and the
/// process's descriptors), without connecting.
fn listening_by(pid: u32, port: u16) -> bool {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    let want = format!("0100007F:{port:04X}");
    let inodes: Vec<String> = table
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() > 9 && f[1] == want && f[3] == "0A").then(|| format!("socket:[{}]", f[9]))
        })
        .collect();
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    !inodes.is_empty()
        && fds.flatten().any(|fd| {
            std::fs::read_link(fd.path())
                .is_ok_and(|l| inodes.iter().any(|i| l.as_os_str() == i.as_str()))
        })
}

/// A port for `s_server` (it binds its own): random, below the kernel's ephemeral
/// range; the caller tries another when it is taken.
fn random_port() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    20_000 + (h.finish() % 12_000) as u16
}

/// Starts `openssl s_server` on a port of its own (another one when the port is taken:
/// it then exits at once) and returns once it listens.
fn s_server(extra: &[&str]) -> (Proc, u16) {
    for _ in 0..50 {
        let port = random_port();
        let accept = format!("127.0.0.1:{port}");
        let mut args = vec!["s_server", "-accept", &accept];
        args.extend_from_slice(extra);
        let mut server = Proc::spawn(&args);
        let end = Instant::now() + WAIT;
        loop {
            if listening_by(server.child.id(), port) {
                return (server, port);
            }
            if server.child.try_wait().unwrap().is_some() {
                break; // port taken
            }
            assert!(Instant::now() < end, "s_server did not listen");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    panic!("no free port for s_server after 50 tries");
}

fn s_client_talks_to_our_server(version_flag: &str, want: TlsVersion) {
    let ca = Ca::new("interop");
    let cert = ca.issue(&["sip.example.com"]);
    let files = Files::new(&ca, &cert);
    let server = start_echo(server_config(&cert, &ca));
    let connect = server.addr().to_string();
    let ca_file = files.path("ca.pem");
    let mut args = vec![
        "s_client",
        "-connect",
        &connect,
        "-servername",
        "sip.example.com",
        "-verify_hostname",
        "sip.example.com",
        "-CAfile",
        &ca_file,
        "-verify_return_error",
        "-quiet",
        "-nocommands",
    ];
    if !version_flag.is_empty() {
        args.push(version_flag);
    }
    let mut client = Proc::spawn(&args);
    client.write(&request("osslc", ""));
    client.expect("SIP/2.0 200 OK");
    client.expect("Call-ID: osslc\r\n");
    let got = server.recv();
    assert_eq!(call_id_of(&got.data).unwrap(), "osslc");
    assert_eq!(got.source.transport, TransportKind::Tls);
    let who = server.tls.peer_identity(&got.source.addr).unwrap();
    assert_eq!(who.version, want);
    assert_eq!(who.server_name.as_deref(), Some("sip.example.com"));
    // A CRLF keep-alive from OpenSSL is answered inside TLS too.
    client.write(b"\r\n\r\n");
    assert!(wait_for(|| server.tls.stats().pings_received == 1));
    assert_eq!(server.tls.stats().failures(), 0);
}

#[test]
fn openssl_s_client_tls13_talks_to_our_server() {
    if have_openssl() {
        s_client_talks_to_our_server("", TlsVersion::Tls13);
    }
}

#[test]
fn openssl_s_client_tls12_talks_to_our_server() {
    if have_openssl() {
        s_client_talks_to_our_server("-tls1_2", TlsVersion::Tls12);
    }
}

fn our_client_talks_to_s_server(version_flag: &str, want: TlsVersion) {
    let ca = Ca::new("interop");
    let cert = ca.issue(&["sip.example.com"]);
    let files = Files::new(&ca, &cert);
    let (cert_file, key_file) = (files.path("cert.pem"), files.path("key.pem"));
    let mut args = vec!["-cert", &cert_file, "-key", &key_file, "-quiet"];
    if !version_flag.is_empty() {
        args.push(version_flag);
    }
    let (mut server, port) = s_server(&args);
    let accept = format!("127.0.0.1:{port}");

    let client = start(client_config(&ca));
    let addr: SocketAddr = accept.parse().unwrap();
    client
        .tls
        .send_to(addr, Some("sip.example.com"), request("osslsrv", ""))
        .unwrap();
    server.expect("Call-ID: osslsrv\r\n");
    server.expect("Content-Length: 0\r\n\r\n");
    // s_server sends what it reads on stdin: our answer goes back over its TLS.
    server.write(&response("osslsrv"));
    let back = client.recv();
    assert_eq!(call_id_of(&back.data).unwrap(), "osslsrv");
    let who = client
        .tls
        .peer_identity_named(&addr, "sip.example.com")
        .unwrap();
    assert_eq!(who.version, want);
    assert!(who.verified);
    assert_eq!(who.end_entity().unwrap().as_ref(), cert.der.as_slice());
    assert_eq!(client.tls.stats().failures(), 0);
    client.tls.shutdown();
    // Our close_notify ends OpenSSL's session cleanly (it goes back to accepting).
    std::thread::sleep(Duration::from_millis(50));
}

#[test]
fn our_client_tls13_talks_to_openssl_s_server() {
    if have_openssl() {
        our_client_talks_to_s_server("", TlsVersion::Tls13);
    }
}

#[test]
fn our_client_tls12_talks_to_openssl_s_server() {
    if have_openssl() {
        our_client_talks_to_s_server("-tls1_2", TlsVersion::Tls12);
    }
}
