//! RFC 3261 §16.7 step 7: a call forked to several contacts that each challenge it
//! (different realms, 401 and 407) gets one 401/407 upstream carrying every challenge,
//! so the caller can answer them all in one retry. Raw UDP on both sides.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

mod common;

use common::responder::{headers, UdpResponder};

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

/// A UDP UAS answering every INVITE with `status` and one challenge header.
fn challenger(status: &'static str, header: &'static str, realm: &'static str) -> UdpResponder {
    UdpResponder::start(move |text, _| {
        if !text.starts_with("INVITE ") {
            return None; // the ACK of our 4xx (sent by the proxy's transaction)
        }
        let mut r = format!("SIP/2.0 {status}\r\n");
        for v in headers(text, "Via") {
            r.push_str(&format!("Via: {v}\r\n"));
        }
        r.push_str(&format!(
            "From: {}\r\nTo: {};tag={realm}\r\nCall-ID: {}\r\nCSeq: {}\r\n\
             {header}: Digest realm=\"{realm}\", nonce=\"n-{realm}\", qop=\"auth\", algorithm=MD5\r\n\
             Content-Length: 0\r\n\r\n",
            headers(text, "From")[0],
            headers(text, "To")[0],
            headers(text, "Call-ID")[0],
            headers(text, "CSeq")[0],
        ));
        Some(r)
    })
}

/// Sends `msg` to the proxy and returns the first final response.
fn ask(s: &UdpSocket, proxy: SocketAddr, msg: &str) -> String {
    s.send_to(msg.as_bytes(), proxy).unwrap();
    let mut buf = [0u8; 8192];
    loop {
        let (n, _) = s.recv_from(&mut buf).expect("a final response");
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        if !text.starts_with("SIP/2.0 1") {
            return text;
        }
    }
}

#[test]
fn challenges_of_forked_branches_are_merged() {
    let px = common::proxy("[server]\nlisten = [\"udp:127.0.0.1:0\"]\n[auth]\nregister = false\n");
    let p = px.udp[0];
    let uac = UdpSocket::bind("127.0.0.1:0").unwrap();
    uac.set_read_timeout(Some(WAIT)).unwrap();
    let me = uac.local_addr().unwrap();

    let contacts = [
        challenger("401 Unauthorized", "WWW-Authenticate", "a.example"),
        challenger("401 Unauthorized", "WWW-Authenticate", "b.example"),
        challenger(
            "407 Proxy Authentication Required",
            "Proxy-Authenticate",
            "c.example",
        ),
    ];
    for (i, c) in contacts.iter().enumerate() {
        let reg = format!(
            "REGISTER sip:{p} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKreg{i}\r\n\
             Max-Forwards: 70\r\nFrom: <sip:bob@127.0.0.1>;tag=r{i}\r\nTo: <sip:bob@127.0.0.1>\r\n\
             Call-ID: reg-{i}\r\nCSeq: 1 REGISTER\r\nContact: <sip:bob@{}>\r\nExpires: 600\r\n\
             Content-Length: 0\r\n\r\n",
            c.addr
        );
        let r = ask(&uac, p, &reg);
        assert!(r.starts_with("SIP/2.0 200"), "{r}");
    }

    let invite = format!(
        "INVITE sip:bob@{p} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKfork1\r\n\
         Max-Forwards: 70\r\nFrom: <sip:alice@127.0.0.1>;tag=a\r\nTo: <sip:bob@127.0.0.1>\r\n\
         Call-ID: fork-challenges\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
    );
    let answer = ask(&uac, p, &invite);
    assert!(
        answer.starts_with("SIP/2.0 401") || answer.starts_with("SIP/2.0 407"),
        "{answer}"
    );
    // Every challenge once, under its own header name, whichever response was chosen.
    let www = headers(&answer, "WWW-Authenticate");
    let proxy = headers(&answer, "Proxy-Authenticate");
    assert_eq!((www.len(), proxy.len()), (2, 1), "{answer}");
    for realm in ["a.example", "b.example"] {
        let v =
            format!("Digest realm=\"{realm}\", nonce=\"n-{realm}\", qop=\"auth\", algorithm=MD5");
        assert!(www.contains(&v.as_str()), "{realm}: {answer}");
    }
    assert!(proxy[0].contains("realm=\"c.example\""), "{answer}");
    // Only our Via is gone: the caller's is the one left.
    assert_eq!(headers(&answer, "Via").len(), 1, "{answer}");

    let ack = format!(
        "ACK sip:bob@{p} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKfork1\r\n\
         Max-Forwards: 70\r\nFrom: <sip:alice@127.0.0.1>;tag=a\r\nTo: {}\r\n\
         Call-ID: fork-challenges\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
        headers(&answer, "To")[0]
    );
    uac.send_to(ack.as_bytes(), p).unwrap();
    drop(contacts);
    px.shutdown();
}
