#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::*;
use crate::message::{Credentials, Message, Request, Response};

fn parse_req(b: &Bytes) -> Request {
    match Message::parse(b.clone()).unwrap() {
        Message::Request(r) => r,
        _ => panic!(),
    }
}

fn reply(req: &Request, status: &str, extra: &str) -> Response {
    let via = std::str::from_utf8(req.header(crate::message::HeaderId::Via).unwrap()).unwrap();
    let from = std::str::from_utf8(req.header(crate::message::HeaderId::From).unwrap()).unwrap();
    let to = std::str::from_utf8(req.header(crate::message::HeaderId::To).unwrap()).unwrap();
    let cseq = req.cseq().unwrap().seq;
    let s = format!(
        "SIP/2.0 {status}\r\nVia: {via}\r\nFrom: {from}\r\nTo: {to};tag=reg\r\nCall-ID: {}\r\nCSeq: {cseq} REGISTER\r\n{extra}Content-Length: 0\r\n\r\n",
        req.call_id().unwrap()
    );
    match Message::parse(Bytes::from(s)).unwrap() {
        Message::Response(r) => r,
        _ => panic!(),
    }
}

fn cfg() -> RegisterConfig {
    let mut c = RegisterConfig::new(
        "sip:example.com",
        "sip:alice@example.com",
        "sip:alice@192.0.2.1:5062",
    );
    c.credentials = Some(DigestCredentials::new("alice", "secret"));
    c.expires = 600;
    c
}

const VIA: &str = "SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bKx";

#[test]
fn challenge_answered_once_then_registered_and_refreshed() {
    let t0 = Instant::now();
    let mut reg = Registration::new(cfg(), "c1", "t1", t0);
    let first = parse_req(&reg.poll(t0, VIA).unwrap());
    assert!(reg.poll(t0, VIA).is_none(), "one REGISTER at a time");
    let ch = reply(&first, "401 Unauthorized", "WWW-Authenticate: Digest realm=\"example.com\", nonce=\"n1\", qop=\"auth\", algorithm=SHA-256\r\n");
    assert_eq!(reg.on_response(&ch, t0), RegistrationEvent::Retry);
    let second = parse_req(&reg.poll(t0, VIA).unwrap());
    assert_eq!(second.cseq().unwrap().seq, 2);
    assert_eq!(second.call_id().unwrap(), "c1");
    let creds: Vec<Credentials<'_>> = second.authorization().flatten().collect();
    assert_eq!(creds[0].username().as_deref(), Some("alice"));
    assert_eq!(creds[0].uri().as_deref(), Some("sip:example.com"));
    // Granted 300 s of the 600 asked: refreshed at 80 % of it.
    let ok = reply(
        &second,
        "200 OK",
        "Contact: <sip:alice@192.0.2.1:5062>;expires=300\r\n",
    );
    assert_eq!(reg.on_response(&ok, t0), RegistrationEvent::Registered(300));
    assert_eq!(reg.deadline(), Some(t0 + Duration::from_secs(240)));
    assert!(reg.poll(t0 + Duration::from_secs(239), VIA).is_none());
    let refresh = parse_req(&reg.poll(t0 + Duration::from_secs(240), VIA).unwrap());
    assert_eq!(refresh.cseq().unwrap().seq, 3);
    // A second challenge in a row for the same credentials is a failure.
    let ch = reply(
        &refresh,
        "401 Unauthorized",
        "WWW-Authenticate: Digest realm=\"example.com\", nonce=\"n2\"\r\n",
    );
    assert_eq!(reg.on_response(&ch, t0), RegistrationEvent::Retry);
    let again = parse_req(&reg.poll(t0, VIA).unwrap());
    let ch = reply(
        &again,
        "401 Unauthorized",
        "WWW-Authenticate: Digest realm=\"example.com\", nonce=\"n3\"\r\n",
    );
    assert_eq!(reg.on_response(&ch, t0), RegistrationEvent::Failed(401));
    assert_eq!(reg.state(), RegistrationState::Failed(401));
    assert_eq!(reg.deadline(), Some(t0 + Duration::from_secs(60)));
}

#[test]
fn interval_too_brief_takes_min_expires_and_unregister_sends_expires_0() {
    let t0 = Instant::now();
    let mut c = cfg();
    c.outbound = Some(("urn:uuid:00000000-0000-0000-0000-000000000001".into(), 1));
    let mut reg = Registration::new(c, "c2", "t2", t0);
    let first = parse_req(&reg.poll(t0, VIA).unwrap());
    let text = String::from_utf8(first.bytes().to_vec()).unwrap();
    assert!(
        text.contains(
            ";+sip.instance=\"<urn:uuid:00000000-0000-0000-0000-000000000001>\";reg-id=1"
        ),
        "{text}"
    );
    let brief = reply(&first, "423 Interval Too Brief", "Min-Expires: 1800\r\n");
    assert_eq!(reg.on_response(&brief, t0), RegistrationEvent::Retry);
    let second = parse_req(&reg.poll(t0, VIA).unwrap());
    assert_eq!(second.expires().unwrap(), Some(1800));
    let ok = reply(&second, "200 OK", "Expires: 1800\r\n");
    assert_eq!(
        reg.on_response(&ok, t0),
        RegistrationEvent::Registered(1800)
    );
    reg.unregister(t0);
    let bye = parse_req(&reg.poll(t0, VIA).unwrap());
    assert_eq!(bye.expires().unwrap(), Some(0));
    assert_eq!(reg.state(), RegistrationState::Unregistering);
    let ok = reply(&bye, "200 OK", "");
    assert_eq!(reg.on_response(&ok, t0), RegistrationEvent::Unregistered);
    assert_eq!(reg.deadline(), None);
}
