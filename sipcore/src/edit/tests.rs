use bytes::{Bytes, BytesMut};

use super::*;
use crate::message::{HeaderId, NewVia};
use crate::parse::parse_datagram;

mod prop;

const SDP: &str = "v=0\r\no=alice 2890844526 2890844526 IN IP4 pc33.atlanta.example.com\r\n\
s=-\r\nc=IN IP4 192.0.2.101\r\nt=0 0\r\nm=audio 49172 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

/// A realistic INVITE as a proxy receives it: two Via values on one line and one more
/// in compact form, a Route list over two lines, a Record-Route, compact headers, a body.
fn invite_text() -> String {
    format!(
        "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
         Via: SIP/2.0/UDP proxy1.example.com;branch=z9hG4bK.p1;received=192.0.2.10, SIP/2.0/TCP pc33.atlanta.example.com:5061;branch=z9hG4bK.uac\r\n\
         v: SIP/2.0/UDP origin.example.org;branch=z9hG4bK.orig\r\n\
         Max-Forwards: 69\r\n\
         Route: <sip:proxy.example.com;lr>, <sip:edge.example.net;lr>\r\n\
         Route: <sip:core.example.net;lr>\r\n\
         Record-Route: <sip:proxy1.example.com;lr>\r\n\
         f: \"Alice, A.\" <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n\
         t: Bob <sip:bob@biloxi.example.com>\r\n\
         i: 3848276298220188511@atlanta.example.com\r\n\
         CSeq: 314159 INVITE\r\n\
         m: <sip:alice@pc33.atlanta.example.com;transport=tcp>\r\n\
         Subject: lunch\r\n\
         X-Custom: one\r\n\
         x-custom: two\r\n\
         c: application/sdp\r\n\
         l: {}\r\n\r\n{SDP}",
        SDP.len()
    )
}

fn invite() -> Message {
    parse(Bytes::from(invite_text()))
}

fn parse(b: Bytes) -> Message {
    match parse_datagram(b.clone()) {
        Ok(m) => m,
        Err(e) => panic!("{e}: {}", String::from_utf8_lossy(&b)),
    }
}

/// Applies, checks the output length is what `output_len` said, and re-parses.
fn applied(e: &Edits<'_>) -> Message {
    let out = e.apply().unwrap();
    assert_eq!(out.len(), e.output_len().unwrap());
    parse(out)
}

fn branches(m: &Message) -> Vec<String> {
    m.vias()
        .map(|v| v.unwrap().branch().unwrap().to_owned())
        .collect()
}

fn routes(m: &Message, id: HeaderId) -> Vec<String> {
    m.values(id)
        .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
        .collect()
}

#[test]
fn no_edits_copy_the_message() {
    let m = invite();
    let e = Edits::new(&m);
    assert!(e.is_empty());
    assert_eq!(&e.apply().unwrap()[..], m.as_bytes());
    // Leading CRLFs and trailing datagram octets are not copied.
    let m = parse(Bytes::from_static(
        b"\r\n\r\nOPTIONS sip:a@b SIP/2.0\r\nContent-Length: 2\r\n\r\nhijunk",
    ));
    let out = Edits::new(&m).apply().unwrap();
    assert_eq!(
        &out[..],
        b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 2\r\n\r\nhi"
    );
}

#[test]
fn prepend_via() {
    let m = invite();
    let mut e = Edits::new(&m);
    e.prepend_via(
        NewVia::new("TLS", "proxy.example.com", "z9hG4bK.new")
            .port(5061)
            .rport(),
    )
    .unwrap();
    let out = applied(&e);
    assert_eq!(
        branches(&out),
        ["z9hG4bK.new", "z9hG4bK.p1", "z9hG4bK.uac", "z9hG4bK.orig"]
    );
    let top = out.top_via().unwrap();
    assert_eq!(
        (top.transport, top.host, top.port),
        ("TLS", "proxy.example.com", Some(5061))
    );
    assert!(out.as_bytes().starts_with(
        b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
          Via: SIP/2.0/TLS proxy.example.com:5061;branch=z9hG4bK.new;rport\r\n\
          Via: SIP/2.0/UDP proxy1.example.com;"
    ));

    let mut e = Edits::new(&m);
    e.prepend_via("SIP/2.0/UDP raw.example.com;branch=z9hG4bK.raw")
        .unwrap();
    assert_eq!(branches(&applied(&e))[0], "z9hG4bK.raw");
    assert_eq!(
        e.prepend_via("SIP/2.0/UDP x\r\nX-Injected: 1").unwrap_err(),
        EditError::Invalid("Via value")
    );
}

#[test]
fn remove_top_via_takes_one_value_at_a_time() {
    let m = invite();
    let mut e = Edits::new(&m);
    e.remove_top_via().unwrap();
    let out = applied(&e);
    assert_eq!(branches(&out), ["z9hG4bK.uac", "z9hG4bK.orig"]);
    // The comma and the first value are gone, the rest of the line is kept.
    assert_eq!(
        out.slice(out.headers()[0].line()),
        b"Via: SIP/2.0/TCP pc33.atlanta.example.com:5061;branch=z9hG4bK.uac\r\n"
    );
    e.remove_top_via().unwrap();
    assert_eq!(branches(&applied(&e)), ["z9hG4bK.orig"]);
    e.remove_top_via().unwrap();
    let out = applied(&e);
    assert_eq!(out.vias().count(), 0);
    assert_eq!(out.count(HeaderId::Via), 0);
    assert_eq!(
        e.remove_top_via().unwrap_err(),
        EditError::Missing(HeaderId::Via)
    );
    assert_eq!(out.count(HeaderId::Route), 2, "the rest is untouched");
}

#[test]
fn set_request_uri() {
    let m = invite();
    let mut e = Edits::new(&m);
    e.set_request_uri("sips:bob@192.0.2.4:5061;transport=tls")
        .unwrap();
    let out = applied(&e);
    assert_eq!(
        out.as_request().unwrap().uri_bytes(),
        b"sips:bob@192.0.2.4:5061;transport=tls"
    );
    for bad in ["", "sip:a b", "<sip:a>", "nocolon", "sip:a\r\n"] {
        assert_eq!(
            Edits::new(&m).set_request_uri(bad).unwrap_err(),
            EditError::Invalid("Request-URI"),
            "{bad:?}"
        );
    }
    let resp = parse(Bytes::from_static(b"SIP/2.0 200 OK\r\n\r\n"));
    assert_eq!(
        Edits::new(&resp).set_request_uri("sip:a@b").unwrap_err(),
        EditError::NotARequest
    );
}

#[test]
fn remove_top_route_takes_one_value_at_a_time() {
    let m = invite();
    let mut e = Edits::new(&m);
    e.remove_top_route().unwrap();
    let out = applied(&e);
    assert_eq!(
        routes(&out, HeaderId::Route),
        ["<sip:edge.example.net;lr>", "<sip:core.example.net;lr>"]
    );
    e.remove_top_route().unwrap();
    assert_eq!(
        routes(&applied(&e), HeaderId::Route),
        ["<sip:core.example.net;lr>"]
    );
    e.remove_top_route().unwrap();
    assert_eq!(applied(&e).count(HeaderId::Route), 0);
    assert_eq!(
        e.remove_top_route().unwrap_err(),
        EditError::Missing(HeaderId::Route)
    );
    // The failed call changed nothing.
    assert_eq!(applied(&e).count(HeaderId::Route), 0);
}

#[test]
fn insert_record_route_on_top() {
    let m = invite();
    let mut e = Edits::new(&m);
    e.insert_record_route("<sip:proxy.example.com;lr>").unwrap();
    let out = applied(&e);
    assert_eq!(
        routes(&out, HeaderId::RecordRoute),
        ["<sip:proxy.example.com;lr>", "<sip:proxy1.example.com;lr>"]
    );
    // Without a Record-Route: right after the last Via line.
    let m = parse(Bytes::from_static(
        b"BYE sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\nv: SIP/2.0/UDP b;branch=z9hG4bK2\r\nCSeq: 1 BYE\r\n\r\n",
    ));
    let mut e = Edits::new(&m);
    e.insert_record_route("<sip:p;lr>").unwrap();
    let out = applied(&e);
    let ids: Vec<_> = out.headers().iter().map(|h| h.id).collect();
    assert_eq!(
        ids,
        [
            HeaderId::Via,
            HeaderId::Via,
            HeaderId::RecordRoute,
            HeaderId::CSeq
        ]
    );
    // Without any Via: at the top of the headers.
    let m = parse(Bytes::from_static(
        b"BYE sip:b@h SIP/2.0\r\nCSeq: 1 BYE\r\n\r\n",
    ));
    let mut e = Edits::new(&m);
    e.insert_record_route("<sip:p;lr>").unwrap();
    assert_eq!(applied(&e).headers()[0].id, HeaderId::RecordRoute);
    assert!(e.insert_record_route("").is_err());
    assert!(e.insert_record_route("<sip:p>\n").is_err());
}

#[test]
fn max_forwards() {
    let m = invite();
    let mut e = Edits::new(&m);
    e.decrement_max_forwards().unwrap();
    assert_eq!(applied(&e).max_forwards().unwrap(), Some(68));
    let mut e = Edits::new(&m);
    e.set_max_forwards(5).unwrap();
    assert_eq!(applied(&e).max_forwards().unwrap(), Some(5));

    let none = parse(Bytes::from_static(
        b"OPTIONS sip:a@b SIP/2.0\r\nCSeq: 1 OPTIONS\r\n\r\n",
    ));
    let mut e = Edits::new(&none);
    e.decrement_max_forwards().unwrap();
    assert_eq!(applied(&e).max_forwards().unwrap(), Some(70));

    let zero = parse(Bytes::from_static(
        b"OPTIONS sip:a@b SIP/2.0\r\nMax-Forwards: 0\r\n\r\n",
    ));
    assert_eq!(
        Edits::new(&zero).decrement_max_forwards().unwrap_err(),
        EditError::TooManyHops
    );
    let bad = parse(Bytes::from_static(
        b"OPTIONS sip:a@b SIP/2.0\r\nMax-Forwards: 300\r\n\r\n",
    ));
    let err = Edits::new(&bad).decrement_max_forwards().unwrap_err();
    match err {
        EditError::Malformed(err) => assert_eq!(err.offset(), 39),
        other => panic!("{other:?}"),
    }
}

#[test]
fn add_remove_replace_headers() {
    let m = invite();
    let mut e = Edits::new(&m);
    e.add_header("X-Proxy", "p1").unwrap();
    e.remove_header(HeaderId::Subject).unwrap();
    e.remove_header_named("X-CUSTOM").unwrap();
    let out = applied(&e);
    assert_eq!(
        out.headers().last().map(|h| out.slice(h.value())),
        Some(&b"p1"[..])
    );
    assert_eq!(out.count(HeaderId::Subject), 0);
    assert_eq!(out.header_by_name("x-custom"), None);
    assert_eq!(out.body(), SDP.as_bytes());

    let mut e = Edits::new(&m);
    e.replace_header(HeaderId::Subject, "dinner").unwrap();
    e.replace_header_named("X-Custom", "three").unwrap();
    e.replace_header(HeaderId::UserAgent, "sipcore").unwrap();
    e.replace_header_named("i", "new-call-id").unwrap();
    let out = applied(&e);
    assert_eq!(out.header(HeaderId::Subject), Some(&b"dinner"[..]));
    assert_eq!(
        out.headers()
            .iter()
            .filter(|h| out.slice(h.name()).eq_ignore_ascii_case(b"x-custom"))
            .count(),
        1
    );
    assert_eq!(out.header_by_name("X-Custom"), Some(&b"three"[..]));
    assert_eq!(out.header(HeaderId::UserAgent), Some(&b"sipcore"[..]));
    assert_eq!(out.call_id().unwrap(), "new-call-id");

    // Compact and long names are the same header.
    let mut e = Edits::new(&m);
    e.remove_header_named("Via").unwrap();
    assert_eq!(applied(&e).count(HeaderId::Via), 0);

    let mut e = Edits::new(&m);
    assert_eq!(
        e.add_header("X Bad", "v").unwrap_err(),
        EditError::Invalid("header name")
    );
    assert!(e.add_header("X-Ok", "a\r\nX-Injected: 1").is_err());
    assert!(e.replace_header(HeaderId::Other, "v").is_err());
    assert!(e.remove_header(HeaderId::Other).is_err());
    assert!(e.is_empty());
}

#[test]
fn set_body_fixes_content_length() {
    let m = invite();
    let mut e = Edits::new(&m);
    e.set_body(Some("text/plain"), "hello").unwrap();
    let out = applied(&e);
    assert_eq!(out.content_length().unwrap(), Some(5));
    assert_eq!(out.header(HeaderId::ContentType), Some(&b"text/plain"[..]));
    assert_eq!(out.body(), b"hello");

    // A second call replaces the first; an empty body drops the Content-Type.
    e.set_body(None, "").unwrap();
    let out = applied(&e);
    assert_eq!(out.content_length().unwrap(), Some(0));
    assert_eq!(out.count(HeaderId::ContentType), 0);
    assert!(out.body().is_empty());

    // None keeps the Content-Type of a non-empty body.
    let mut e = Edits::new(&m);
    e.set_body(None, "v=0\r\n").unwrap();
    let out = applied(&e);
    assert_eq!(
        out.header(HeaderId::ContentType),
        Some(&b"application/sdp"[..])
    );
    assert_eq!(out.body(), b"v=0\r\n");

    // Added when absent, and extra Content-Length lines removed.
    let m = parse(Bytes::from_static(
        b"MESSAGE sip:a@b SIP/2.0\r\nl: 2\r\nContent-Length: 2\r\n\r\nhi",
    ));
    let mut e = Edits::new(&m);
    e.set_body(Some("text/plain"), "longer").unwrap();
    let out = applied(&e);
    assert_eq!(out.count(HeaderId::ContentLength), 1);
    assert_eq!(out.body(), b"longer");
    let m = parse(Bytes::from_static(
        b"MESSAGE sip:a@b SIP/2.0\r\nSubject: x\r\n\r\nbody",
    ));
    let mut e = Edits::new(&m);
    e.set_body(Some("text/plain"), "new body").unwrap();
    let out = applied(&e);
    assert_eq!(out.content_length().unwrap(), Some(8));
    assert_eq!(out.body(), b"new body");
    assert!(e.set_body(Some("bad\r\n"), "").is_err());
    assert!(e.set_body(Some(""), "x").is_err());
}

#[test]
fn ensure_content_length() {
    let m = parse(Bytes::from_static(
        b"MESSAGE sip:a@b SIP/2.0\r\nSubject: x\r\n\r\nbody",
    ));
    let mut e = Edits::new(&m);
    e.ensure_content_length()
        .unwrap()
        .ensure_content_length()
        .unwrap();
    let out = applied(&e);
    assert_eq!(out.content_length().unwrap(), Some(4));
    assert_eq!(out.count(HeaderId::ContentLength), 1);
    // set_body afterwards replaces the ensured one.
    e.set_body(None, "longer").unwrap();
    let out = applied(&e);
    assert_eq!(out.count(HeaderId::ContentLength), 1);
    assert_eq!(out.content_length().unwrap(), Some(6));
    // Present already: nothing to do.
    let m = invite();
    let mut e = Edits::new(&m);
    e.ensure_content_length().unwrap();
    assert!(e.is_empty());
}

#[test]
fn a_typical_proxy_forward() {
    let m = invite();
    let mut e = Edits::new(&m);
    // Added in no particular order.
    e.remove_top_route()
        .unwrap()
        .decrement_max_forwards()
        .unwrap()
        .insert_record_route("<sip:proxy.example.com;lr>")
        .unwrap()
        .prepend_via(NewVia::new("UDP", "proxy.example.com", "z9hG4bK.fw").rport())
        .unwrap()
        .set_request_uri("sip:bob@192.0.2.4")
        .unwrap();
    assert!(e.len() <= INLINE_EDITS);
    let out = applied(&e);
    assert_eq!(out.as_request().unwrap().uri_bytes(), b"sip:bob@192.0.2.4");
    assert_eq!(
        branches(&out),
        ["z9hG4bK.fw", "z9hG4bK.p1", "z9hG4bK.uac", "z9hG4bK.orig"]
    );
    assert_eq!(out.max_forwards().unwrap(), Some(68));
    assert_eq!(
        routes(&out, HeaderId::Route),
        ["<sip:edge.example.net;lr>", "<sip:core.example.net;lr>"]
    );
    assert_eq!(
        routes(&out, HeaderId::RecordRoute)[0],
        "<sip:proxy.example.com;lr>"
    );
    assert_eq!(out.from_().unwrap().tag(), Some("9fxced76sl"));
    assert_eq!(out.cseq().unwrap().seq, 314159);
    assert_eq!(out.body(), SDP.as_bytes());
    assert_eq!(out.content_length().unwrap(), Some(SDP.len() as u64));

    // Every operation at once, body included.
    e.add_header("X-Forwarded", "yes").unwrap();
    e.remove_header_named("x-custom").unwrap();
    e.replace_header(HeaderId::Subject, "dinner").unwrap();
    e.set_body(Some("text/plain"), "bye").unwrap();
    let out = applied(&e);
    assert_eq!(out.header_by_name("X-Forwarded"), Some(&b"yes"[..]));
    assert_eq!(out.header_by_name("X-Custom"), None);
    assert_eq!(out.header(HeaderId::Subject), Some(&b"dinner"[..]));
    assert_eq!(out.body(), b"bye");
    assert_eq!(out.content_length().unwrap(), Some(3));
    assert_eq!(branches(&out)[0], "z9hG4bK.fw");
}

#[test]
fn a_response_relayed_upstream() {
    let m = parse(Bytes::from_static(
        b"SIP/2.0 200 OK\r\n\
          Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bK.fw\r\n\
          Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK.uac\r\n\
          CSeq: 1 INVITE\r\n\
          Content-Length: 0\r\n\r\n",
    ));
    let mut e = Edits::new(&m);
    e.remove_top_via().unwrap();
    let out = applied(&e);
    assert_eq!(branches(&out), ["z9hG4bK.uac"]);
    assert_eq!(out.as_response().unwrap().status().as_u16(), 200);
}

#[test]
fn overlapping_edits_are_rejected() {
    let m = invite();
    let overlap = |e: &Edits<'_>| matches!(e.apply(), Err(EditError::Overlap { .. }));

    let mut e = Edits::new(&m);
    e.remove_top_via()
        .unwrap()
        .remove_header(HeaderId::Via)
        .unwrap();
    assert!(overlap(&e));
    let mut e = Edits::new(&m);
    e.decrement_max_forwards()
        .unwrap()
        .remove_header(HeaderId::MaxForwards)
        .unwrap();
    assert!(overlap(&e));
    let mut e = Edits::new(&m);
    e.set_body(None, "x")
        .unwrap()
        .remove_header(HeaderId::ContentLength)
        .unwrap();
    assert!(overlap(&e));
    let mut e = Edits::new(&m);
    e.set_request_uri("sip:a@b")
        .unwrap()
        .set_request_uri("sip:c@d")
        .unwrap();
    assert!(overlap(&e));
    assert!(e.output_len().is_err());
    assert!(e.apply_into(&mut BytesMut::new()).is_err());

    // Inserting where a deletion starts or ends is not an overlap.
    let mut e = Edits::new(&m);
    let line = m.headers()[0].line();
    e.delete(line).unwrap();
    e.insert(line.end as usize, b"X-After: 1\r\n").unwrap();
    e.insert(line.start as usize, b"X-Before: 1\r\n").unwrap();
    let out = applied(&e);
    assert_eq!(out.headers()[0].id, HeaderId::Other);
    assert_eq!(out.slice(out.headers()[1].name()), b"X-After");
    // ... but inside one is.
    e.insert(line.start as usize + 3, b"x").unwrap();
    match e.apply() {
        Err(EditError::Overlap { first, second }) => {
            assert_eq!(first, line);
            assert_eq!(
                second,
                Span::new(line.start as usize + 3, line.start as usize + 3)
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn raw_edits_are_range_checked() {
    let m = parse(Bytes::from_static(b"\r\nOPTIONS sip:a@b SIP/2.0\r\n\r\n"));
    let mut e = Edits::new(&m);
    assert!(matches!(e.insert(0, b"x"), Err(EditError::OutOfRange(_))));
    assert!(matches!(e.insert(100, b"x"), Err(EditError::OutOfRange(_))));
    assert!(e.delete(Span::new(5, 3)).is_err());
    e.replace(Span::new(2, 9), b"INFO").unwrap();
    assert_eq!(&e.apply().unwrap()[..], b"INFO sip:a@b SIP/2.0\r\n\r\n");
}

#[test]
fn apply_into_reuses_a_scratch_buffer() {
    let m = invite();
    let mut e = Edits::new(&m);
    e.prepend_via("SIP/2.0/UDP p;branch=z9hG4bK.x").unwrap();
    let expected = e.apply().unwrap();
    let mut scratch = BytesMut::with_capacity(8192);
    for _ in 0..3 {
        let n = e.apply_into(&mut scratch).unwrap();
        assert_eq!(n, expected.len());
        let out = scratch.split().freeze();
        assert_eq!(out, expected);
    }
}

#[test]
fn folded_headers_are_copied_unfolded() {
    let m = parse(Bytes::from_static(
        b"OPTIONS sip:a@b SIP/2.0\r\n\
          Via: SIP/2.0/UDP a;branch=z9hG4bK1,\r\n SIP/2.0/UDP b;branch=z9hG4bK2\r\n\
          Subject: one\r\n\ttwo\r\n\
          Content-Length: 0\r\n\r\n",
    ));
    let mut e = Edits::new(&m);
    e.remove_top_via().unwrap();
    let out = applied(&e);
    assert_eq!(branches(&out), ["z9hG4bK2"]);
    assert_eq!(out.header(HeaderId::Subject), Some(&b"one  \ttwo"[..]));
}

#[test]
fn errors_display() {
    let e = EditError::Overlap {
        first: Span::new(1, 5),
        second: Span::new(3, 3),
    };
    assert_eq!(e.to_string(), "edits overlap: bytes 1..5 and 3..3");
    assert_eq!(
        EditError::Missing(HeaderId::Route).to_string(),
        "no Route header value to edit"
    );
}
