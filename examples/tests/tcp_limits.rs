//! `[tcp]` reaches the proxy's connection manager: its inbound limit closes the
//! accept beyond it, and the stats say why.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::io::Read;
use std::net::TcpStream;
use std::time::Duration;

use sipcore_examples::config::Config;
use sipcore_examples::server;

/// Reads until EOF (the proxy closed it) or the generous bound (it did not).
fn closed_by_proxy(s: &mut TcpStream) -> bool {
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = [0u8; 256];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

#[test]
fn tcp_section_limits_the_proxys_accepts() {
    let cfg = Config::parse(
        r#"
        [server]
        listen = ["tcp:127.0.0.1:0"]
        [tcp]
        max_inbound = 1
        idle_timeout_secs = 600
        "#,
    )
    .unwrap();
    let running = server::start(&cfg).unwrap();
    let tcp = running.tcp.clone().unwrap();
    let addr = tcp.listeners()[0];
    let _first = TcpStream::connect(addr).unwrap();
    let mut second = TcpStream::connect(addr).unwrap();
    assert!(closed_by_proxy(&mut second), "beyond max_inbound");
    let s = tcp.stats();
    assert_eq!((s.accepted, s.accept_refused, s.inbound_open), (1, 1, 1));
    running.shutdown();
}
