//! RFC 3261 §16.7 step 7: a call forked to several contacts that each challenge it
//! (different realms, 401 and 407) gets one 401/407 upstream carrying every challenge,
//! so the caller can answer them all in one retry. Raw UDP on both sides.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

/// The values of header `name` in `msg`, in order.
fn headers<'a>(msg: &'a str, name: &str) -> Vec<&'a str> {
    msg.split("\r\n")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .filter(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
        .collect()
}

/// A UDP UAS answering every INVITE with `status` and one challenge header.
struct Challenger {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Challenger {
    fn start(status: &'static str, header: &'static str, realm: &'static str) -> Challenger {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let addr = s.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let halt = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while !halt.load(Ordering::Relaxed) {
                let Ok((n, from)) = s.recv_from(&mut buf) else {
                    continue;
                };
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                if !text.starts_with("INVITE ") {
                    continue; // the ACK of our 4xx (sent by the proxy's transaction)
                }
                let mut r = format!("SIP/2.0 {status}\r\n");
                for v in headers(&text, "Via") {
                    r.push_str(&format!("Via: {v}\r\n"));
                }
                r.push_str(&format!(
                    "From: {}\r\nTo: {};tag={realm}\r\nCall-ID: {}\r\nCSeq: {}\r\n\
                     {header}: Digest realm=\"{realm}\", nonce=\"n-{realm}\", qop=\"auth\", algorithm=MD5\r\n\
                     Content-Length: 0\r\n\r\n",
                    headers(&text, "From")[0],
                    headers(&text, "To")[0],
                    headers(&text, "Call-ID")[0],
                    headers(&text, "CSeq")[0],
                ));
                s.send_to(r.as_bytes(), from).unwrap();
            }
        });
        Challenger {
            addr,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Challenger {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
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
    let px = common::proxy("[server]\nlisten = [\"udp:127.0.0.1:0\"]\n");
    let p = px.udp[0];
    let uac = UdpSocket::bind("127.0.0.1:0").unwrap();
    uac.set_read_timeout(Some(WAIT)).unwrap();
    let me = uac.local_addr().unwrap();

    let contacts = [
        Challenger::start("401 Unauthorized", "WWW-Authenticate", "a.example"),
        Challenger::start("401 Unauthorized", "WWW-Authenticate", "b.example"),
        Challenger::start(
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
