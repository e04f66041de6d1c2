//! Tests of `validate()`, and a property test that no typed view panics.

use super::*;
use crate::message::{Message, Request};
use crate::parse::ParseErrorKind;

const VIA: &str = "Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds\r\n";
const FROM: &str = "From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n";
const TO: &str = "To: Bob <sip:bob@biloxi.com>\r\n";
const CALL_ID: &str = "Call-ID: a84b4c76e66710@pc33.atlanta.com\r\n";
const CSEQ: &str = "CSeq: 314159 INVITE\r\n";
const MF: &str = "Max-Forwards: 70\r\n";

fn parse(text: String) -> Message {
    Message::parse(bytes::Bytes::from(text)).unwrap()
}

/// An INVITE with the standard headers, `replace` swapping some of them out (each pair:
/// the standard line to drop, the line to add in its place; empty to drop only).
fn invite(replace: &[(&str, &str)], extra: &str, body: &str) -> Message {
    let mut head = String::from("INVITE sip:bob@biloxi.com SIP/2.0\r\n");
    for std_line in [VIA, MF, FROM, TO, CALL_ID, CSEQ] {
        match replace.iter().find(|(old, _)| *old == std_line) {
            Some((_, new)) => head.push_str(new),
            None => head.push_str(std_line),
        }
    }
    head.push_str(extra);
    head.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    parse(head)
}

fn req(m: &Message) -> &Request {
    m.as_request().unwrap()
}

#[test]
fn valid_invite_passes_both_roles() {
    let m = invite(&[], "Contact: <sip:alice@pc33.atlanta.com>\r\n", "");
    assert_eq!(req(&m).validate(&[]), Ok(()));
    assert_eq!(req(&m).validate_as(ElementRole::Uas, &[]), Ok(()));
}

#[test]
fn missing_headers() {
    for (line, id) in [
        (VIA, HeaderId::Via),
        (FROM, HeaderId::From),
        (TO, HeaderId::To),
        (CALL_ID, HeaderId::CallId),
        (CSEQ, HeaderId::CSeq),
    ] {
        let m = invite(&[(line, "")], "", "");
        let e = req(&m).validate(&[]).unwrap_err();
        assert_eq!(e, ValidationError::MissingHeader(id));
        assert_eq!(e.status_code(), StatusCode::BAD_REQUEST);
    }
    // Max-Forwards is not required of what a proxy receives (RFC 3261 §16.3 step 3).
    let m = invite(&[(MF, "")], "", "");
    assert_eq!(req(&m).validate(&[]), Ok(()));
}

#[test]
fn too_many_hops_only_for_a_proxy() {
    let m = invite(&[(MF, "Max-Forwards: 0\r\n")], "", "");
    let e = req(&m).validate(&[]).unwrap_err();
    assert_eq!(e, ValidationError::TooManyHops);
    assert_eq!(e.status_code(), StatusCode::TOO_MANY_HOPS);
    assert_eq!(req(&m).validate_as(ElementRole::Uas, &[]), Ok(()));
    let m = invite(&[(MF, "Max-Forwards: 256\r\n")], "", "");
    assert!(matches!(
        req(&m).validate(&[]),
        Err(ValidationError::Malformed(_))
    ));
}

#[test]
fn multiple_values_in_single_value_headers() {
    let m = invite(&[], "Call-ID: other@host\r\n", "");
    assert_eq!(
        req(&m).validate(&[]),
        Err(ValidationError::MultipleValues(HeaderId::CallId))
    );
    let m = invite(&[(TO, "To: <sip:a@b>, <sip:c@d>\r\n")], "", "");
    assert_eq!(
        req(&m).validate(&[]),
        Err(ValidationError::MultipleValues(HeaderId::To))
    );
    let m = invite(&[], "f: <sip:x@y>;tag=2\r\n", "");
    assert_eq!(
        req(&m).validate(&[]),
        Err(ValidationError::MultipleValues(HeaderId::From))
    );
    let m = invite(&[], "Expires: 1\r\nExpires: 2\r\n", "");
    assert_eq!(
        req(&m).validate(&[]),
        Err(ValidationError::MultipleValues(HeaderId::Expires))
    );
    // A quoted comma is not a second value.
    let m = invite(&[(TO, "To: \"Bob, B.\" <sip:bob@biloxi.com>\r\n")], "", "");
    assert_eq!(req(&m).validate(&[]), Ok(()));
    // Several Via lines are fine.
    let m = invite(&[], "Via: SIP/2.0/TCP 192.0.2.9;branch=z9hG4bK2\r\n", "");
    assert_eq!(req(&m).validate(&[]), Ok(()));
}

#[test]
fn content_length_twice() {
    let text = format!("INVITE sip:bob@biloxi.com SIP/2.0\r\n{VIA}{MF}{FROM}{TO}{CALL_ID}{CSEQ}Content-Length: 0\r\nl: 4\r\n\r\n");
    let m = parse(text);
    let e = req(&m).validate(&[]).unwrap_err();
    assert_eq!(e, ValidationError::ConflictingContentLength);
    assert_eq!(e.status_code(), StatusCode::BAD_REQUEST);
    let text = format!("INVITE sip:bob@biloxi.com SIP/2.0\r\n{VIA}{MF}{FROM}{TO}{CALL_ID}{CSEQ}Content-Length: 0\r\nContent-Length: 00\r\n\r\n");
    let m = parse(text);
    assert_eq!(
        req(&m).validate(&[]),
        Err(ValidationError::MultipleValues(HeaderId::ContentLength))
    );
}

#[test]
fn cseq_method_mismatch_is_checked_by_validate() {
    let m = invite(&[(CSEQ, "CSeq: 1 BYE\r\n")], "", "");
    let e = req(&m).validate(&[]).unwrap_err();
    assert_eq!(e, ValidationError::CSeqMethodMismatch);
    assert_eq!(e.status_code(), StatusCode::BAD_REQUEST);
    // Methods are case-sensitive: `invite` is not INVITE.
    let m = invite(&[(CSEQ, "CSeq: 1 invite\r\n")], "", "");
    assert_eq!(
        req(&m).validate(&[]),
        Err(ValidationError::CSeqMethodMismatch)
    );
}

#[test]
fn unknown_uri_scheme() {
    let text =
        format!("INVITE im:bob@biloxi.com SIP/2.0\r\n{VIA}{MF}{FROM}{TO}{CALL_ID}{CSEQ}\r\n");
    let m = parse(text);
    let e = req(&m).validate(&[]).unwrap_err();
    assert_eq!(e, ValidationError::UnsupportedUriScheme);
    assert_eq!(e.status_code(), StatusCode::UNSUPPORTED_URI_SCHEME);
    assert_eq!(
        req(&m).validate_as(ElementRole::Uas, &[]),
        Err(ValidationError::UnsupportedUriScheme)
    );
    for ok in ["SIPS:bob@biloxi.com", "tel:+15551234567"] {
        let text = format!("INVITE {ok} SIP/2.0\r\n{VIA}{MF}{FROM}{TO}{CALL_ID}{CSEQ}\r\n");
        assert_eq!(req(&parse(text)).validate(&[]), Ok(()), "{ok}");
    }
}

#[test]
fn proxy_require_at_a_proxy() {
    let m = invite(
        &[],
        "Proxy-Require: sec-agree, Foo\r\nProxy-Require: bar, foo\r\nRequire: ignored-by-proxy\r\n",
        "",
    );
    let e = req(&m).validate(&["Sec-Agree"]).unwrap_err();
    assert_eq!(
        e,
        ValidationError::BadExtension {
            header: HeaderId::ProxyRequire,
            unsupported: vec!["Foo".into(), "bar".into()],
        }
    );
    assert_eq!(e.status_code(), StatusCode::BAD_EXTENSION);
    assert_eq!(
        e.to_string(),
        "unsupported extension(s) in Proxy-Require: Foo, bar"
    );
    assert_eq!(req(&m).validate(&["sec-agree", "foo", "BAR"]), Ok(()));
}

#[test]
fn require_at_a_uas() {
    let m = invite(
        &[],
        "Require: 100rel, timer\r\nProxy-Require: ignored-by-uas\r\n",
        "",
    );
    let e = req(&m)
        .validate_as(ElementRole::Uas, &["timer"])
        .unwrap_err();
    assert_eq!(
        e,
        ValidationError::BadExtension {
            header: HeaderId::Require,
            unsupported: vec!["100rel".into()],
        }
    );
    assert_eq!(
        req(&m).validate_as(ElementRole::Uas, &["100rel", "timer"]),
        Ok(())
    );
}

#[test]
fn require_ignored_in_ack_and_cancel() {
    let text = format!("CANCEL sip:bob@biloxi.com SIP/2.0\r\n{VIA}{MF}{FROM}{TO}{CALL_ID}CSeq: 314159 CANCEL\r\nRequire: foo\r\nProxy-Require: foo\r\n\r\n");
    let m = parse(text);
    assert_eq!(req(&m).validate(&[]), Ok(()));
    assert_eq!(req(&m).validate_as(ElementRole::Uas, &[]), Ok(()));
}

#[test]
fn malformed_extension_list() {
    let m = invite(&[], "Proxy-Require: a b\r\n", "");
    let e = req(&m).validate(&[]).unwrap_err();
    assert!(matches!(e, ValidationError::Malformed(_)));
}

#[test]
fn unsupported_list_is_bounded() {
    let tags: Vec<String> = (0..100).map(|k| format!("x{k}")).collect();
    let m = invite(&[], &format!("Proxy-Require: {}\r\n", tags.join(",")), "");
    match req(&m).validate(&[]) {
        Err(ValidationError::BadExtension { unsupported, .. }) => {
            assert_eq!(unsupported.len(), MAX_REPORTED_TAGS);
            assert_eq!(unsupported[0], "x0");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn malformed_required_views() {
    for (line, bad) in [
        (VIA, "Via: SIP/2.0/UDP\r\n"),
        (FROM, "From: Alice Smith@home <sip:a@b>\r\n"),
        (TO, "To: <sip:bob@biloxi.com\r\n"),
        (CALL_ID, "Call-ID: a b\r\n"),
        (CSEQ, "CSeq: 99999999999 INVITE\r\n"),
        (MF, "Max-Forwards: lots\r\n"),
    ] {
        let m = invite(&[(line, bad)], "", "");
        let e = req(&m).validate(&[]).unwrap_err();
        match e {
            ValidationError::Malformed(p) => {
                assert_eq!(p.kind(), ParseErrorKind::Malformed);
                assert!(p.offset() > 0 && p.offset() < m.as_bytes().len(), "{bad}");
            }
            other => panic!("{bad}: {other:?}"),
        }
        assert_eq!(e.status_code(), StatusCode::BAD_REQUEST);
    }
    // A malformed second Via is caught too.
    let m = invite(&[], "Via: SIP/2.0/UDP host;branch=\r\n", "");
    assert!(matches!(
        req(&m).validate(&[]),
        Err(ValidationError::Malformed(_))
    ));
}

#[test]
fn route_checked_by_a_proxy_only() {
    let m = invite(&[], "Route: sip:p1.example.com;lr\r\n", "");
    assert!(matches!(
        req(&m).validate(&[]),
        Err(ValidationError::Malformed(_))
    ));
    assert_eq!(req(&m).validate_as(ElementRole::Uas, &[]), Ok(()));
}

#[test]
fn content_type_for_a_uas() {
    let m = invite(&[], "", "v=0\r\n");
    assert_eq!(
        req(&m).validate_as(ElementRole::Uas, &[]),
        Err(ValidationError::MissingHeader(HeaderId::ContentType))
    );
    assert_eq!(req(&m).validate(&[]), Ok(()));
    let m = invite(&[], "c: application/sdp\r\n", "v=0\r\n");
    assert_eq!(req(&m).validate_as(ElementRole::Uas, &[]), Ok(()));
    let m = invite(&[], "Content-Type: application\r\n", "v=0\r\n");
    assert!(matches!(
        req(&m).validate_as(ElementRole::Uas, &[]),
        Err(ValidationError::Malformed(_))
    ));
}

#[test]
fn response_validate() {
    let ok = format!("SIP/2.0 200 OK\r\n{VIA}{FROM}{TO}{CALL_ID}{CSEQ}Content-Length: 0\r\n\r\n");
    assert_eq!(parse(ok).as_response().unwrap().validate(), Ok(()));
    let no_cseq = format!("SIP/2.0 200 OK\r\n{VIA}{FROM}{TO}{CALL_ID}\r\n");
    assert_eq!(
        parse(no_cseq).as_response().unwrap().validate(),
        Err(ValidationError::MissingHeader(HeaderId::CSeq))
    );
    let two_to = format!("SIP/2.0 200 OK\r\n{VIA}{FROM}{TO}{TO}{CALL_ID}{CSEQ}\r\n");
    assert_eq!(
        parse(two_to).as_response().unwrap().validate(),
        Err(ValidationError::MultipleValues(HeaderId::To))
    );
    // A response's CSeq method is not compared with anything here.
    let any = format!("SIP/2.0 486 Busy Here\r\n{VIA}{FROM}{TO}{CALL_ID}CSeq: 1 BYE\r\n\r\n");
    assert_eq!(parse(any).as_response().unwrap().validate(), Ok(()));
}

#[test]
fn errors_display() {
    assert_eq!(
        ValidationError::MissingHeader(HeaderId::CallId).to_string(),
        "missing Call-ID header"
    );
    let e: ValidationError = ParseError::malformed(7, "token").into();
    assert_eq!(e.to_string(), "malformed: expected token at byte 7");
}

mod never_panic {
    use crate::message::{Contacts, ElementRole, Message};
    use proptest::prelude::*;

    /// Header names whose views are exercised, compact forms included.
    const NAMES: &[&str] = &[
        "Via",
        "v",
        "From",
        "f",
        "To",
        "t",
        "Call-ID",
        "i",
        "CSeq",
        "Contact",
        "m",
        "Max-Forwards",
        "Content-Length",
        "l",
        "Content-Type",
        "c",
        "Route",
        "Record-Route",
        "Path",
        "Service-Route",
        "Expires",
        "Min-Expires",
        "Require",
        "Proxy-Require",
        "Supported",
        "k",
        "Unsupported",
        "Authorization",
        "Proxy-Authorization",
        "WWW-Authenticate",
        "Proxy-Authenticate",
        "Retry-After",
    ];

    /// Bytes a header value may hold (anything but CR, LF and NUL), biased towards SIP
    /// punctuation so the parsers get past their first byte.
    fn value() -> impl Strategy<Value = Vec<u8>> {
        let byte = prop_oneof![
            4 => prop::sample::select(b"<>\"\\;,=:@*()/ \t?[]0123456789.-sipSIPDgst".to_vec()),
            1 => (1u8..=255).prop_filter("no CR/LF", |b| *b != b'\r' && *b != b'\n'),
        ];
        prop::collection::vec(byte, 0..60)
    }

    fn exercise(m: &Message) {
        let _ = m.top_via();
        m.vias().for_each(drop);
        let _ = (
            m.cseq(),
            m.from_(),
            m.to(),
            m.call_id(),
            m.max_forwards(),
            m.content_length(),
        );
        if let Ok(Contacts::List(l)) = m.contacts() {
            for c in l.flatten() {
                let _ = (c.display_name(), c.q(), c.expires(), c.tag(), c.uri());
            }
        }
        m.routes().for_each(drop);
        m.record_routes().for_each(drop);
        m.paths().for_each(drop);
        m.service_routes().for_each(drop);
        if let Ok(Some(t)) = m.content_type() {
            let _ = t.param("charset");
        }
        let _ = (m.expires(), m.min_expires(), m.retry_after());
        m.require().for_each(drop);
        m.proxy_require().for_each(drop);
        m.supported().for_each(drop);
        m.unsupported().for_each(drop);
        for c in m.authorization().chain(m.proxy_authorization()).flatten() {
            let _ = (
                c.username(),
                c.realm(),
                c.nonce(),
                c.uri(),
                c.response(),
                c.nc(),
            );
            let _ = (c.algorithm(), c.cnonce(), c.opaque(), c.qop(), c.userhash());
            c.params.for_each(drop);
        }
        for c in m.www_authenticate().chain(m.proxy_authenticate()).flatten() {
            let _ = (
                c.realm(),
                c.domain(),
                c.nonce(),
                c.stale(),
                c.offers_qop("auth"),
            );
            c.params.for_each(drop);
        }
        if let Some(r) = m.as_request() {
            let _ = r.validate(&["100rel"]);
            let _ = r.validate_as(ElementRole::Uas, &[]);
        }
        if let Some(r) = m.as_response() {
            let _ = r.validate();
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn arbitrary_values_never_panic_a_view(
            headers in prop::collection::vec((prop::sample::select(NAMES), value()), 1..6),
            response in any::<bool>(),
        ) {
            let mut text: Vec<u8> = if response {
                b"SIP/2.0 401 Unauthorized\r\n".to_vec()
            } else {
                b"INVITE sip:bob@biloxi.com SIP/2.0\r\n".to_vec()
            };
            for (name, v) in &headers {
                text.extend_from_slice(name.as_bytes());
                text.extend_from_slice(b": ");
                text.extend_from_slice(v);
                text.extend_from_slice(b"\r\n");
            }
            text.extend_from_slice(b"\r\n");
            if let Ok(m) = Message::parse(bytes::Bytes::from(text)) {
                exercise(&m);
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic_the_value_parsers(v in prop::collection::vec(any::<u8>(), 0..80)) {
            use crate::message::*;
            let _ = (parse_contact(&v), parse_route(&v), MediaType::parse(&v), RetryAfter::parse(&v));
            let _ = (Credentials::parse(&v), Challenge::parse(&v), parse_option_tag(&v));
        }
    }
}
