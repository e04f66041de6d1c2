//! sipcore's registration client (`sipcore::client::Registration`) against the
//! proxy's registrar over UDP: digest answered, bound, refreshed, unregistered — the
//! driver here is a plain socket loop.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

mod common;

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use bytes::Bytes;
use sipcore::client::{DigestCredentials, RegisterConfig, Registration, RegistrationEvent};
use sipcore::message::Message;

fn exchange(
    reg: &mut Registration,
    s: &UdpSocket,
    to: std::net::SocketAddr,
    now: Instant,
    n: &mut u32,
) -> RegistrationEvent {
    loop {
        *n += 1;
        let me = s.local_addr().unwrap();
        let req = reg
            .poll(now, &format!("SIP/2.0/UDP {me};branch=z9hG4bKreg{n}"))
            .expect("a REGISTER due");
        s.send_to(&req, to).unwrap();
        let mut buf = vec![0u8; 8192];
        let resp = loop {
            let (len, _) = s.recv_from(&mut buf).expect("an answer");
            match Message::parse(Bytes::copy_from_slice(&buf[..len])).unwrap() {
                Message::Response(r) if !r.status().is_provisional() => break r,
                _ => continue,
            }
        };
        let ev = reg.on_response(&resp, now);
        if ev != RegistrationEvent::Retry {
            return ev;
        }
    }
}

#[test]
fn registers_with_digest_refreshes_and_unregisters() {
    let px = common::proxy(
        "[server]\nlisten = [\"udp:127.0.0.1:0\"]\n[auth]\nregister = true\n\
         [[auth.users]]\nusername = \"alice\"\npassword = \"wonder\"\n",
    );
    let p = px.udp[0];
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let me = s.local_addr().unwrap();
    let mut cfg = RegisterConfig::new(
        &format!("sip:{p}"),
        "sip:alice@127.0.0.1",
        &format!("sip:alice@{me}"),
    );
    cfg.credentials = Some(DigestCredentials::new("alice", "wonder"));
    cfg.expires = 120;
    let t0 = Instant::now();
    let mut reg = Registration::new(cfg, "client-reg-1", "ct1", t0);
    let mut n = 0;
    assert_eq!(
        exchange(&mut reg, &s, p, t0, &mut n),
        RegistrationEvent::Registered(120)
    );
    let registrar = px.proxy.registrar.as_ref().unwrap();
    assert_eq!(registrar.lookup("alice", Instant::now()).len(), 1);
    // The refresh, when due (the registrar's nonce is reused with a fresh challenge).
    let due = reg.deadline().unwrap();
    assert_eq!(
        exchange(&mut reg, &s, p, due, &mut n),
        RegistrationEvent::Registered(120)
    );
    reg.unregister(due);
    assert_eq!(
        exchange(&mut reg, &s, p, due, &mut n),
        RegistrationEvent::Unregistered
    );
    assert!(registrar.lookup("alice", Instant::now()).is_empty());
    // Wrong password: a failure, not a loop.
    let mut cfg = RegisterConfig::new(
        &format!("sip:{p}"),
        "sip:alice@127.0.0.1",
        &format!("sip:alice@{me}"),
    );
    cfg.credentials = Some(DigestCredentials::new("alice", "guess"));
    let mut bad = Registration::new(cfg, "client-reg-2", "ct2", t0);
    assert!(matches!(
        exchange(&mut bad, &s, p, t0, &mut n),
        RegistrationEvent::Failed(403 | 401)
    ));
}
