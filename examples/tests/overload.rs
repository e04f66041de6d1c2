//! Overload: near the transaction limit new INVITEs get 503 with Retry-After while the
//! calls in flight are still served (here: cancelled).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::UdpSocket;
use std::time::Duration;

use common::*;

fn invite(p: u16, local: std::net::SocketAddr, i: u32) -> String {
    format!(
        "INVITE sip:bob@127.0.0.1:{p} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKov{i}\r\n\
         From: <sip:a@127.0.0.1>;tag=f{i}\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: ov{i}\r\n\
         CSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    )
}

fn recv_status(s: &UdpSocket, call: &str) -> String {
    let mut buf = [0u8; 4096];
    loop {
        let (n, _) = s.recv_from(&mut buf).expect("a response");
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        if text.contains(&format!("Call-ID: {call}\r\n")) {
            return text;
        }
    }
}

#[test]
fn new_invites_refused_in_flight_calls_served() {
    // The next hop takes the INVITEs and never answers: the calls stay in flight.
    let hop = UdpSocket::bind("127.0.0.1:0").unwrap();
    let hop_addr = hop.local_addr().unwrap();
    let px = proxy(&format!(
        "[server]\nlisten = [\"udp:127.0.0.1:0\"]\nnext_hop = \"{hop_addr}\"\nmax_transactions = 10\n[acl]\ntrusted = [\"127.0.0.1\"]\n"
    ));
    let p = port_of(&px, "udp");
    let uac = UdpSocket::bind("127.0.0.1:0").unwrap();
    uac.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let local = uac.local_addr().unwrap();
    // 4 calls: 8 live transactions, the 80 % mark of 10.
    for i in 0..4 {
        uac.send_to(invite(p, local, i).as_bytes(), ("127.0.0.1", p))
            .unwrap();
        assert!(recv_status(&uac, &format!("ov{i}")).starts_with("SIP/2.0 100"));
    }
    uac.send_to(invite(p, local, 9).as_bytes(), ("127.0.0.1", p))
        .unwrap();
    let refused = recv_status(&uac, "ov9");
    assert!(refused.starts_with("SIP/2.0 503"), "{refused}");
    assert!(refused.contains("Retry-After: 5\r\n"), "{refused}");
    // A call in flight is still served: its CANCEL is answered 200 and the INVITE 487.
    let cancel = invite(p, local, 0)
        .replacen("INVITE sip", "CANCEL sip", 1)
        .replace("CSeq: 1 INVITE", "CSeq: 1 CANCEL");
    uac.send_to(cancel.as_bytes(), ("127.0.0.1", p)).unwrap();
    let mut got = Vec::new();
    for _ in 0..2 {
        let r = recv_status(&uac, "ov0");
        got.push(
            r.lines().next().unwrap().to_string()
                + " "
                + r.lines().find(|l| l.starts_with("CSeq")).unwrap(),
        );
    }
    got.sort();
    assert_eq!(
        got,
        [
            "SIP/2.0 200 OK CSeq: 1 CANCEL",
            "SIP/2.0 487 Request Terminated CSeq: 1 INVITE"
        ]
    );
    px.shutdown();
}
