//! Requests the proxy answers itself, driven with raw UDP: 416 for an unsupported URI
//! scheme, 420 with Unsupported for an unknown Proxy-Require, 482 for a loop, 403 from
//! the ACL, 405-free OPTIONS to itself with Allow.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::UdpSocket;
use std::time::Duration;

use common::*;

struct Uac {
    s: UdpSocket,
    proxy: u16,
}

impl Uac {
    fn new(proxy: u16) -> Uac {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        Uac { s, proxy }
    }

    /// Sends a request with `start` as request line and `extra` headers; returns the
    /// first final response.
    fn ask(&self, method: &str, uri: &str, extra: &str, call: &str) -> String {
        let local = self.s.local_addr().unwrap();
        let msg = format!(
            "{method} {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK{call}\r\n\
             From: <sip:a@127.0.0.1>;tag=f\r\nTo: <sip:b@127.0.0.1>\r\nCall-ID: {call}\r\n\
             CSeq: 1 {method}\r\nMax-Forwards: 70\r\n{extra}Content-Length: 0\r\n\r\n"
        );
        self.s
            .send_to(msg.as_bytes(), ("127.0.0.1", self.proxy))
            .unwrap();
        let mut buf = [0u8; 4096];
        loop {
            let (n, _) = self.s.recv_from(&mut buf).expect("a response");
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            if !text.starts_with("SIP/2.0 1") {
                return text;
            }
        }
    }
}

#[test]
fn checks_of_rfc3261_16_3() {
    let px = proxy("[server]\nlisten = [\"udp:127.0.0.1:0\"]\n");
    let p = port_of(&px, "udp");
    let uac = Uac::new(p);
    let r = uac.ask("INVITE", "xmpp:bob@example.com", "", "c416");
    assert!(r.starts_with("SIP/2.0 416"), "{r}");
    let r = uac.ask(
        "OPTIONS",
        &format!("sip:bob@127.0.0.1:{p}"),
        "Proxy-Require: foo, bar\r\n",
        "c420",
    );
    assert!(r.starts_with("SIP/2.0 420"), "{r}");
    assert!(r.contains("Unsupported: foo, bar\r\n"), "{r}");
    let r = uac.ask("OPTIONS", &format!("sip:127.0.0.1:{p}"), "", "copt");
    assert!(
        r.starts_with("SIP/2.0 200") && r.contains("Allow: INVITE, ACK, CANCEL"),
        "{r}"
    );
}

#[test]
fn a_request_looping_back_gets_482() {
    // The next hop sends the request straight back to the proxy, unchanged.
    let hop = UdpSocket::bind("127.0.0.1:0").unwrap();
    hop.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let px = proxy(&format!(
        "[server]\nlisten = [\"udp:127.0.0.1:0\"]\nnext_hop = \"{}\"\n[acl]\ntrusted = [\"127.0.0.1\"]\n",
        hop.local_addr().unwrap()
    ));
    let p = port_of(&px, "udp");
    // Everything the proxy sends it goes back: the relayed request, and the 482 the
    // proxy answers it with (sent to the request's source, the hop), which the proxy
    // then relays to the caller.
    let bounce = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok((n, _)) = hop.recv_from(&mut buf) {
            hop.send_to(&buf[..n], ("127.0.0.1", p)).unwrap();
            if buf[..n].starts_with(b"SIP/2.0 482") {
                return;
            }
        }
        panic!("no 482 reached the hop");
    });
    let uac = Uac::new(p);
    let r = uac.ask("OPTIONS", &format!("sip:bob@127.0.0.1:{p}"), "", "cloop");
    bounce.join().unwrap();
    assert!(r.starts_with("SIP/2.0 482"), "{r}");
}

#[test]
fn acl_refuses_other_sources() {
    let px = proxy(
        "[server]\nlisten = [\"udp:127.0.0.1:0\"]\nnext_hop = \"127.0.0.1:9\"\n[acl]\nallow = [\"10.0.0.0/8\"]\n",
    );
    let p = port_of(&px, "udp");
    let uac = Uac::new(p);
    let r = uac.ask("INVITE", &format!("sip:bob@127.0.0.1:{p}"), "", "cacl");
    assert!(r.starts_with("SIP/2.0 403"), "{r}");
}
