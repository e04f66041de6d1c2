use bytes::{Bytes, BytesMut};

use super::*;
use crate::message::{HeaderId, Message, StatusCode};
use crate::parse::{parse_datagram, ParseErrorKind};
use crate::transaction::stateless::response_for_error;

fn parse(b: Bytes) -> Message {
    match parse_datagram(b.clone()) {
        Ok(m) => m,
        Err(e) => panic!("{e}: {}", String::from_utf8_lossy(&b)),
    }
}

const INVITE: &[u8] = b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP proxy2.example.com;branch=z9hG4bK.p2, SIP/2.0/UDP proxy1.example.com;branch=z9hG4bK.p1\r\n\
v: SIP/2.0/TCP pc33.atlanta.example.com;branch=z9hG4bK.uac;received=192.0.2.1\r\n\
Max-Forwards: 68\r\n\
Record-Route: <sip:proxy2.example.com;lr>, <sip:proxy1.example.com;lr>\r\n\
f: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n\
t: Bob <sip:bob@biloxi.example.com>\r\n\
i: 3848276298220188511@atlanta.example.com\r\n\
CSeq: 314159 INVITE\r\n\
Timestamp: 54.2 0.1\r\n\
Content-Length: 0\r\n\r\n";

fn invite() -> Message {
    parse(Bytes::from_static(INVITE))
}

#[test]
fn request_builder_round_trip() {
    let sdp = b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n";
    let out = RequestBuilder::new(Method::Invite, "sip:bob@biloxi.example.com;transport=tcp")
        .via(
            NewVia::new("UDP", "192.0.2.1", "z9hG4bK.top")
                .port(5062)
                .rport(),
        )
        .via("SIP/2.0/TCP [2001:db8::1]:5061;branch=z9hG4bK.second")
        .max_forwards(10)
        .route("<sip:p1.example.com;lr>")
        .route("<sip:p2.example.com;lr>")
        .from("Alice <sip:alice@atlanta.example.com>;tag=1928301774")
        .to("Bob <sip:bob@biloxi.example.com>")
        .call_id("a84b4c76e66710@pc33.atlanta.example.com")
        .cseq(4711)
        .contact("<sip:alice@192.0.2.1:5062>")
        .header("Subject", "lunch")
        .header("X-Extra", b"raw bytes")
        .body("application/sdp", sdp)
        .build();
    let m = parse(out);
    let req = m.as_request().unwrap();
    assert_eq!(req.method(), Method::Invite);
    assert_eq!(req.uri_bytes(), b"sip:bob@biloxi.example.com;transport=tcp");
    let vias: Vec<_> = m.vias().map(|v| v.unwrap()).collect();
    assert_eq!(vias.len(), 2);
    assert_eq!((vias[0].host, vias[0].port), ("192.0.2.1", Some(5062)));
    assert_eq!(vias[0].branch(), Some("z9hG4bK.top"));
    assert_eq!(vias[0].rport(), Some(None));
    assert_eq!(vias[1].host, "[2001:db8::1]");
    assert_eq!(m.max_forwards().unwrap(), Some(10));
    let routes: Vec<_> = m.values(HeaderId::Route).map(|(_, v)| v).collect();
    assert_eq!(
        routes,
        [&b"<sip:p1.example.com;lr>"[..], b"<sip:p2.example.com;lr>"]
    );
    assert_eq!(m.from_().unwrap().tag(), Some("1928301774"));
    assert_eq!(m.to().unwrap().tag(), None);
    assert_eq!(
        m.call_id().unwrap(),
        "a84b4c76e66710@pc33.atlanta.example.com"
    );
    let cseq = m.cseq().unwrap();
    assert_eq!((cseq.seq, cseq.method), (4711, Method::Invite));
    assert_eq!(
        m.header(HeaderId::Contact),
        Some(&b"<sip:alice@192.0.2.1:5062>"[..])
    );
    assert_eq!(m.header(HeaderId::Subject), Some(&b"lunch"[..]));
    assert_eq!(m.header_by_name("x-extra"), Some(&b"raw bytes"[..]));
    assert_eq!(
        m.header(HeaderId::ContentType),
        Some(&b"application/sdp"[..])
    );
    assert_eq!(m.content_length().unwrap(), Some(sdp.len() as u64));
    assert_eq!(m.body(), sdp);
}

#[test]
fn request_builder_minimal_and_extension_method() {
    let out = RequestBuilder::new(Method::Extension("FOO"), "sip:x@example.com").build();
    assert_eq!(
        &out[..],
        b"FOO sip:x@example.com SIP/2.0\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    );
    let m = parse(out);
    assert_eq!(m.as_request().unwrap().method(), Method::Extension("FOO"));
}

#[test]
fn builders_sanitise_values() {
    let out = RequestBuilder::new(Method::Message, "sip:a b@example.com")
        .from("<sip:a@b>;tag=1\r\nX-Injected: yes")
        .header("Bad Name", "dropped")
        .header("", "dropped too")
        .header("X-Ok", "nul\0and\rcr")
        .body("text/plain", "hi\r\nthere")
        .build();
    let m = parse(out);
    assert_eq!(
        m.as_request().unwrap().uri_bytes(),
        b"sip:a%20b@example.com"
    );
    assert_eq!(m.header_by_name("X-Injected"), None);
    assert_eq!(
        m.header(HeaderId::From),
        Some(&b"<sip:a@b>;tag=1  X-Injected: yes"[..])
    );
    assert_eq!(
        m.headers()
            .iter()
            .filter(|h| m.slice(h.value()) == b"dropped")
            .count(),
        0
    );
    assert_eq!(m.header_by_name("X-Ok"), Some(&b"nul and cr"[..]));
    // The body is not touched.
    assert_eq!(m.body(), b"hi\r\nthere");
}

#[test]
fn response_copies_vias_in_order_and_tags_once() {
    let req = invite();
    let req = req.as_request().unwrap();
    let out = response_to(req, StatusCode::BUSY_HERE)
        .to_tag("8321234356")
        .build();
    let m = parse(out);
    let resp = m.as_response().unwrap();
    assert_eq!(resp.status(), StatusCode::BUSY_HERE);
    assert_eq!(resp.reason(), b"Busy Here");
    let branches: Vec<_> = m.vias().map(|v| v.unwrap().branch().unwrap()).collect();
    assert_eq!(branches, ["z9hG4bK.p2", "z9hG4bK.p1", "z9hG4bK.uac"]);
    assert_eq!(m.header(HeaderId::From), req.header(HeaderId::From));
    assert_eq!(m.header(HeaderId::CallId), req.header(HeaderId::CallId));
    assert_eq!(m.header(HeaderId::CSeq), req.header(HeaderId::CSeq));
    assert_eq!(
        m.header(HeaderId::To),
        Some(&b"Bob <sip:bob@biloxi.example.com>;tag=8321234356"[..])
    );
    assert_eq!(m.header(HeaderId::Timestamp), None);
    assert_eq!(m.header(HeaderId::RecordRoute), None);
    assert_eq!(m.content_length().unwrap(), Some(0));

    // The response's To has the tag now; answering a request that has one keeps it.
    let again = RequestBuilder::new(Method::Bye, "sip:bob@192.0.2.4")
        .via("SIP/2.0/UDP h;branch=z9hG4bK.b")
        .to(m.header(HeaderId::To).unwrap())
        .build();
    let bye = parse(again);
    let out = response_to(bye.as_request().unwrap(), StatusCode::OK)
        .to_tag("other")
        .build();
    let m = parse(out);
    assert_eq!(m.to().unwrap().tag(), Some("8321234356"));
    assert_eq!(
        m.to().unwrap().params.filter(|p| p.name == "tag").count(),
        1
    );
}

#[test]
fn trying_copies_timestamp_and_record_route_on_request() {
    let req = invite();
    let req = req.as_request().unwrap();
    let m = parse(response_to(req, StatusCode::TRYING).build());
    assert_eq!(m.header(HeaderId::Timestamp), Some(&b"54.2 0.1"[..]));
    assert_eq!(m.to().unwrap().tag(), None);
    let m = parse(
        response_to(req, StatusCode::OK)
            .to_tag("x1")
            .record_route()
            .header("Contact", "<sip:bob@192.0.2.4>")
            .body("application/sdp", "v=0\r\n")
            .build(),
    );
    assert_eq!(m.header(HeaderId::Timestamp), None);
    let rr: Vec<_> = m.values(HeaderId::RecordRoute).map(|(_, v)| v).collect();
    assert_eq!(
        rr,
        [
            &b"<sip:proxy2.example.com;lr>"[..],
            b"<sip:proxy1.example.com;lr>"
        ]
    );
    assert_eq!(m.content_length().unwrap(), Some(5));
    assert_eq!(
        m.header(HeaderId::ContentType),
        Some(&b"application/sdp"[..])
    );
}

#[test]
fn reason_phrase_is_sanitised() {
    let req = invite();
    let b =
        response_to(req.as_request().unwrap(), StatusCode::FORBIDDEN).reason("No\r\nX-Injected: 1");
    assert_eq!(b.status(), StatusCode::FORBIDDEN);
    let m = parse(b.build());
    assert_eq!(m.as_response().unwrap().reason(), b"No  X-Injected: 1");
    assert_eq!(m.header_by_name("X-Injected"), None);
}

#[test]
fn build_into_appends_to_a_scratch_buffer() {
    let req = invite();
    let req = req.as_request().unwrap();
    let mut scratch = BytesMut::with_capacity(4096);
    let n = response_to(req, StatusCode::RINGING)
        .to_tag("t")
        .build_into(&mut scratch);
    assert_eq!(n, scratch.len());
    let first = scratch.split().freeze();
    assert_eq!(
        first,
        response_to(req, StatusCode::RINGING).to_tag("t").build()
    );
    let n2 = RequestBuilder::new(Method::Ack, "sip:a@b").build_into(&mut scratch);
    assert_eq!(n2, scratch.len());
    parse(first);
    parse(scratch.split().freeze());
}

fn error_answer(raw: &'static [u8]) -> Option<Message> {
    let err = match parse_datagram(Bytes::from_static(raw)) {
        Ok(m) => m
            .cseq()
            .and_then(|_| m.from_())
            .map(|_| ())
            .expect_err("the test message must fail somewhere"),
        Err(e) => e,
    };
    response_for_error(raw, err).map(parse)
}

#[test]
fn error_answer_to_unsupported_version() {
    let raw = b"OPTIONS sip:bob@example.com SIP/2.1\r\n\
                Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK.v;rport\r\n\
                From: <sip:alice@example.com>;tag=a\r\n\
                To: <sip:bob@example.com>\r\n\
                Call-ID: c1@192.0.2.1\r\n\
                CSeq: 9 OPTIONS\r\n\r\n";
    let m = error_answer(raw).unwrap();
    let resp = m.as_response().unwrap();
    assert_eq!(resp.status(), StatusCode::VERSION_NOT_SUPPORTED);
    assert!(resp
        .reason()
        .starts_with(b"Version Not Supported (expected SIP/2.0"));
    assert_eq!(m.top_via().unwrap().branch(), Some("z9hG4bK.v"));
    assert_eq!(m.cseq().unwrap().seq, 9);
    assert_eq!(m.call_id().unwrap(), "c1@192.0.2.1");
    assert_eq!(m.from_().unwrap().tag(), Some("a"));
    let tag = m.to().unwrap().tag().unwrap().to_owned();
    assert_eq!(tag.len(), 16);
    // Deterministic: a retransmission gets the same answer.
    let again = error_answer(raw).unwrap();
    assert_eq!(again.to().unwrap().tag(), Some(tag.as_str()));
    assert_eq!(again.as_bytes(), m.as_bytes());
}

#[test]
fn error_answer_from_a_head_that_does_not_parse() {
    // A header line without a colon, compact names, a folded header, a broken To.
    let raw = b"INVITE sip:bob@example.com SIP/2.0\r\n\
                v: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK.a, SIP/2.0/UDP 192.0.2.9;branch=z9hG4bK.b\r\n\
                Subject: folded\r\n continued\r\n\
                this line is broken\r\n\
                f: <sip:alice@example.com>;tag=a\r\n\
                t: <sip:bob@example.com\r\n\
                i: c2@192.0.2.1\r\n\
                CSeq: 1 INVITE\r\n\r\n";
    let m = error_answer(raw).unwrap();
    let resp = m.as_response().unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(
        resp.reason().starts_with(b"Bad Request (expected"),
        "{:?}",
        resp.reason()
    );
    let branches: Vec<_> = m.vias().map(|v| v.unwrap().branch().unwrap()).collect();
    assert_eq!(branches, ["z9hG4bK.a", "z9hG4bK.b"]);
    assert_eq!(
        m.header(HeaderId::To),
        None,
        "an unparseable To is left out"
    );
    assert_eq!(m.call_id().unwrap(), "c2@192.0.2.1");
    assert_eq!(m.header(HeaderId::Subject), None);
}

#[test]
fn error_answer_when_a_view_fails() {
    // The head parses; the CSeq does not: it is left out, the rest is copied.
    let raw = b"REGISTER sip:example.com SIP/2.0\r\n\
                Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK.r\r\n\
                Via: SIP/2.0/UDP bad host;branch=z9hG4bK.x\r\n\
                From: <sip:alice@example.com>;tag=a\r\n\
                To: <sip:alice@example.com>;tag=kept\r\n\
                Call-ID: c3\r\n\
                CSeq: many REGISTER\r\n\
                Content-Length: 0\r\n\r\n";
    let m = error_answer(raw).unwrap();
    assert_eq!(m.as_response().unwrap().status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        m.vias().count(),
        1,
        "Vias up to the first that does not parse"
    );
    assert_eq!(m.header(HeaderId::CSeq), None);
    assert_eq!(m.to().unwrap().tag(), Some("kept"));
}

#[test]
fn error_answer_to_a_short_datagram() {
    let raw = b"MESSAGE sip:bob@example.com SIP/2.0\r\n\
                Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK.m\r\n\
                CSeq: 2 MESSAGE\r\n\
                Content-Length: 500\r\n\r\nshort";
    let err = parse_datagram(Bytes::from_static(raw)).unwrap_err();
    assert_eq!(err.kind(), ParseErrorKind::Incomplete);
    let m = parse(response_for_error(raw, err).unwrap());
    assert_eq!(m.as_response().unwrap().status(), StatusCode::BAD_REQUEST);
    assert_eq!(m.cseq().unwrap().seq, 2);
}

#[test]
fn no_error_answer_without_via_or_to_responses_and_acks() {
    let err = crate::parse::ParseError::malformed(0, "x");
    let no_via = b"INVITE sip:a@b SIP/2.0\r\nFrom: <sip:a@b>\r\nCSeq: 1 INVITE\r\n\r\n";
    assert_eq!(response_for_error(no_via, err), None);
    let bad_via = b"INVITE sip:a@b SIP/2.0\r\nVia: nonsense\r\nCSeq: 1 INVITE\r\n\r\n";
    assert_eq!(response_for_error(bad_via, err), None);
    let resp = b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\r\n";
    assert_eq!(response_for_error(resp, err), None);
    let ack = b"ACK sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\r\n";
    assert_eq!(response_for_error(ack, err), None);
    assert_eq!(response_for_error(b"", err), None);
    assert_eq!(response_for_error(b"\x00\x01garbage", err), None);
}

#[test]
fn new_via_validity() {
    assert!(NewVia::new("UDP", "h.example.com", "z9hG4bK1").is_valid());
    assert!(NewVia::new("UDP", "[2001:db8::1]", "").is_valid());
    assert!(!NewVia::new("UDP", "", "z9hG4bK1").is_valid());
    assert!(!NewVia::new("UDP", "h", "z9hG4bK1\r\n").is_valid());
    assert!(!NewVia::new("U P", "h", "b").is_valid());
    assert!(!NewVia::new("UDP", "h", "b").params(";x\n").is_valid());
    assert!(ViaValue::from("SIP/2.0/UDP h").is_valid());
    assert!(!ViaValue::from(&b""[..]).is_valid());
}

#[test]
fn decimals() {
    for n in [0u32, 7, 10, 99, 100, 4_294_967_295] {
        let mut out = BytesMut::new();
        put_u32(&mut out, n);
        assert_eq!(&out[..], n.to_string().as_bytes());
    }
}

mod prop {
    use bytes::Bytes;
    use proptest::prelude::*;

    use super::super::*;
    use crate::message::{Method, StatusCode};
    use crate::parse::parse_datagram;
    use crate::transaction::stateless::response_for_error;

    fn bytes() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(any::<u8>(), 0..24)
    }

    proptest! {
        /// Whatever the values, a built request or response parses and keeps its body.
        #[test]
        fn built_messages_parse(
            values in prop::collection::vec(bytes(), 6),
            name in "[ -~]{0,6}",
            reason in "\\PC{0,12}|[\\x00-\\x1f]{1,3}",
            body in bytes(),
        ) {
            let out = RequestBuilder::new(Method::Invite, "sip:bob@example.com")
                .via(values[0].as_slice())
                .from(&values[1])
                .to(&values[2])
                .call_id(&values[3])
                .cseq(1)
                .route(&values[4])
                .header(name.as_str(), &values[5])
                .body("application/octet-stream", &body)
                .build();
            let req = parse_datagram(out.clone());
            prop_assert!(req.is_ok(), "{:?}", String::from_utf8_lossy(&out));
            let req = req.unwrap();
            prop_assert_eq!(req.body(), &body[..]);
            let resp = response_to(req.as_request().unwrap(), StatusCode::NOT_FOUND)
                .reason(&reason)
                .to_tag(&name)
                .header(name.as_str(), &values[0])
                .body("text/plain", &body)
                .build();
            let resp = parse_datagram(resp);
            prop_assert!(resp.is_ok());
            let resp = resp.unwrap();
            prop_assert_eq!(resp.body(), &body[..]);
        }

        /// Damaged requests: the answer, when there is one, is a response that parses.
        #[test]
        fn error_answers_parse(
            damage in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        ) {
            let mut raw = super::INVITE.to_vec();
            for (at, b) in damage {
                let k = at.index(raw.len());
                raw[k] = b;
            }
            if let Err(err) = parse_datagram(Bytes::from(raw.clone())) {
                if let Some(out) = response_for_error(&raw, err) {
                    let m = parse_datagram(out.clone());
                    prop_assert!(m.is_ok(), "{:?}", String::from_utf8_lossy(&out));
                    let m = m.unwrap();
                    prop_assert!(!m.is_request());
                    prop_assert!(m.top_via().is_ok());
                }
            }
        }

        #[test]
        fn error_answers_never_panic(raw in prop::collection::vec(any::<u8>(), 0..200)) {
            let err = crate::parse::ParseError::malformed(0, "x");
            if let Some(out) = response_for_error(&raw, err) {
                prop_assert!(parse_datagram(out).is_ok());
            }
        }
    }
}
