//! The Prometheus endpoint: counters after a request the proxy answered itself.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::time::Duration;

use common::*;

#[test]
fn metrics_count_requests_and_refusals() {
    let px =
        proxy("[server]\nlisten = [\"udp:127.0.0.1:0\"]\n[metrics]\nlisten = \"127.0.0.1:0\"\n");
    let p = port_of(&px, "udp");
    let m = px.metrics.unwrap().port();
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let local = s.local_addr().unwrap();
    for (i, uri) in ["sip:127.0.0.1", "sip:nobody@127.0.0.1"].iter().enumerate() {
        let msg = format!(
            "OPTIONS {uri}:{p} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKm{i}\r\nFrom: <sip:t@127.0.0.1>;tag=1\r\n\
             To: <{uri}>\r\nCall-ID: m{i}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        );
        s.send_to(msg.as_bytes(), ("127.0.0.1", p)).unwrap();
        let mut buf = [0u8; 2048];
        let (n, _) = s.recv_from(&mut buf).unwrap();
        let expect: &[u8] = if i == 0 {
            b"SIP/2.0 200"
        } else {
            b"SIP/2.0 404"
        };
        assert!(
            buf[..n].starts_with(expect),
            "{}",
            String::from_utf8_lossy(&buf[..n])
        );
    }
    let mut c = TcpStream::connect(("127.0.0.1", m)).unwrap();
    c.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").unwrap();
    let mut page = String::new();
    c.read_to_string(&mut page).unwrap();
    assert!(page.starts_with("HTTP/1.0 200 OK"), "{page}");
    assert!(
        page.contains("sipcore_requests_total{method=\"OPTIONS\"} 2"),
        "{page}"
    );
    assert!(
        page.contains("sipcore_refusals_total{reason=\"not_found\"} 1"),
        "{page}"
    );
    assert!(
        page.contains("sipcore_responses_total{class=\"2xx\"} 1"),
        "{page}"
    );
    assert!(
        page.contains("sipcore_worker_messages_total{strategy=\"reuse-port\""),
        "{page}"
    );
    assert!(page.contains("sipcore_transactions "), "{page}");
    px.shutdown();
}
