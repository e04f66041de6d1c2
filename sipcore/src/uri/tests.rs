//! Table-driven tests of the URI grammar and equality, and property tests.

use std::net::{Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;

use super::escape::{decode, encode, Component};
use super::*;
use crate::message::Method;

fn sip(s: &str) -> SipUri<'_> {
    match Uri::parse(s.as_bytes()) {
        Ok(Uri::Sip(u)) => u,
        other => panic!("{s}: {other:?}"),
    }
}

/// (uri, user, password, host, port, params, headers)
type SipCase = (
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    &'static str,
    Option<u16>,
    &'static str,
    &'static str,
);

const VALID_SIP: &[SipCase] = &[
    ("sip:service@127.0.0.1:5060", Some("service"), None, "127.0.0.1", Some(5060), "", ""),
    ("sip:sipp@127.0.0.1:5061;transport=UDP", Some("sipp"), None, "127.0.0.1", Some(5061), ";transport=UDP", ""),
    // RFC 3261 §19.1.3
    ("sip:alice@atlanta.com", Some("alice"), None, "atlanta.com", None, "", ""),
    ("sip:alice:secretword@atlanta.com;transport=tcp", Some("alice"), Some("secretword"), "atlanta.com", None, ";transport=tcp", ""),
    ("sips:alice@atlanta.com?subject=project%20x&priority=urgent", Some("alice"), None, "atlanta.com", None, "", "subject=project%20x&priority=urgent"),
    ("sip:+1-212-555-1212:1234@gateway.com;user=phone", Some("+1-212-555-1212"), Some("1234"), "gateway.com", None, ";user=phone", ""),
    ("sips:1212@gateway.com", Some("1212"), None, "gateway.com", None, "", ""),
    ("sip:alice@192.0.2.4", Some("alice"), None, "192.0.2.4", None, "", ""),
    ("sip:atlanta.com;method=REGISTER?to=alice%40atlanta.com", None, None, "atlanta.com", None, ";method=REGISTER", "to=alice%40atlanta.com"),
    ("sip:alice;day=tuesday@atlanta.com", Some("alice;day=tuesday"), None, "atlanta.com", None, "", ""),
    // RFC 3261 §19.1.4
    ("SIP:ALICE@AtLanTa.CoM;Transport=udp", Some("ALICE"), None, "AtLanTa.CoM", None, ";Transport=udp", ""),
    ("sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com", None, None, "biloxi.com", None, ";transport=tcp;method=REGISTER", "to=sip:bob%40biloxi.com"),
    ("sip:bob@biloxi.com:6000;transport=tcp", Some("bob"), None, "biloxi.com", Some(6000), ";transport=tcp", ""),
    // RFC 5118
    ("sip:[2001:db8::10]:5070", None, None, "[2001:db8::10]", Some(5070), "", ""),
    ("sip:[2001:db8::10:5070]", None, None, "[2001:db8::10:5070]", None, "", ""),
    ("sip:user@[2001:db8::10]", Some("user"), None, "[2001:db8::10]", None, "", ""),
    ("sips:[2001:db8::9:255];lr", None, None, "[2001:db8::9:255]", None, ";lr", ""),
    ("sip:[::ffff:192.0.2.10]:19823", None, None, "[::ffff:192.0.2.10]", Some(19823), "", ""),
    // RFC 4475 §3.1.1
    ("sip:vivekg@chair-dnrc.example.com;unknownparam", Some("vivekg"), None, "chair-dnrc.example.com", None, ";unknownparam", ""),
    (
        "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com",
        Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"),
        Some("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"),
        "example.com",
        None,
        "",
        "",
    ),
    ("sip:sips%3Auser%40example.com@example.net", Some("sips%3Auser%40example.com"), None, "example.net", None, "", ""),
    ("sip:I%20have%20spaces@example.net", Some("I%20have%20spaces"), None, "example.net", None, "", ""),
    ("sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31", Some("cal%6Cer"), None, "host5.example.net", None, ";%6C%72;n%61me=v%61lue%25%34%31", ""),
    ("sip:null-%00-null@example.com", Some("null-%00-null"), None, "example.com", None, "", ""),
    ("sip:user;par=u%40example.net@example.com", Some("user;par=u%40example.net"), None, "example.com", None, "", ""),
    ("sip:user@example.com?Route=%3Csip:example.com%3E", Some("user"), None, "example.com", None, "", "Route=%3Csip:example.com%3E"),
    ("sip:user@host129.example.com;transport=sctp;maddr=239.255.255.1;ttl=15", Some("user"), None, "host129.example.com", None, ";transport=sctp;maddr=239.255.255.1;ttl=15", ""),
    // Edges of the grammar.
    ("sip:example.com.", None, None, "example.com.", None, "", ""),
    ("sip:alice:@atlanta.com", Some("alice"), Some(""), "atlanta.com", None, "", ""),
    ("sip:a@b.com?subject=", Some("a"), None, "b.com", None, "", "subject="),
    ("sip:a@3com.com:0", Some("a"), None, "3com.com", Some(0), "", ""),
    ("sip:a@b.com:065535", Some("a"), None, "b.com", Some(65535), "", ""),
    ("sip:a@b.com;p=[x]/:&+$", Some("a"), None, "b.com", None, ";p=[x]/:&+$", ""),
    ("sip:a@b.com?h=[]/?:+$", Some("a"), None, "b.com", None, "", "h=[]/?:+$"),
];

#[test]
fn valid_sip_uris() {
    for &(s, user, password, host, port, params, headers) in VALID_SIP {
        let u = sip(s);
        assert_eq!(u.user(), user, "{s}");
        assert_eq!(u.password(), password, "{s}");
        assert_eq!(u.host().as_str(), host, "{s}");
        assert_eq!(u.port(), port, "{s}");
        assert_eq!(u.params_raw(), params, "{s}");
        assert_eq!(u.headers_raw(), headers, "{s}");
        assert_eq!(u.to_string(), s);
        assert!(u.uri_eq(&u), "{s}");
    }
}

#[test]
fn sip_accessors() {
    let u = sip("sips:alice@atlanta.com?subject=project%20x&priority=urgent");
    assert_eq!(u.scheme(), Scheme::Sips);
    assert_eq!(u.port_or_default(), 5061);
    let hs: Vec<_> = u.headers().map(|h| (h.name, h.value)).collect();
    assert_eq!(hs, [("subject", "project%20x"), ("priority", "urgent")]);
    assert_eq!(u.header("SUBJECT").as_deref(), Some("project x"));
    assert_eq!(u.header("to"), None);

    let u = sip("sip:+1-212-555-1212:1234@gateway.com;user=phone");
    assert_eq!(u.user_param(), Some("phone"));
    assert_eq!(u.port_or_default(), 5060);

    let u = sip("sip:atlanta.com;method=REGISTER?to=alice%40atlanta.com");
    assert_eq!(u.method(), Some(Method::Register));
    assert_eq!(u.header("to").as_deref(), Some("alice@atlanta.com"));

    let u = sip("sip:user@host129.example.com;transport=sctp;maddr=239.255.255.1;ttl=15;lr");
    assert_eq!(u.transport(), Some("sctp"));
    assert_eq!(u.ttl(), Some(15));
    assert_eq!(
        u.maddr().and_then(|h| h.ip()),
        Some(Ipv4Addr::new(239, 255, 255, 1).into())
    );
    assert!(u.lr());
    assert_eq!(u.params().count(), 4);

    let u = sip("sip:a@b.com;ttl=256;maddr=-x;transport");
    assert_eq!(u.ttl(), None);
    assert_eq!(u.maddr(), None);
    assert_eq!(u.transport(), None);
    assert!(!u.lr());

    // RFC 4475 esc01: escaped parameter names and values.
    let u = sip("sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31");
    assert_eq!(u.user_decoded().as_deref(), Some("caller"));
    assert!(u.lr());
    let p = u.param("name").unwrap();
    assert_eq!(p.name_decoded(), "name");
    assert_eq!(p.value_decoded().as_deref(), Some("value%41"));

    let u = sip("sip:null-%00-null@example.com");
    assert_eq!(u.user_decoded().as_deref(), Some("null-\0-null"));
    let u = sip("sip:alice:secret@atlanta.com");
    assert!(matches!(
        u.user_decoded(),
        Some(std::borrow::Cow::Borrowed("alice"))
    ));
    assert_eq!(u.password_decoded().as_deref(), Some("secret"));
}

#[test]
fn valid_tel_and_other_uris() {
    for (s, number, global, params) in [
        (
            "tel:+358-555-1234567;postd=pp22",
            "+358-555-1234567",
            true,
            ";postd=pp22",
        ),
        ("tel:+1-201-555-0123", "+1-201-555-0123", true, ""),
        ("TEL:+1(212)555.1212", "+1(212)555.1212", true, ""),
        (
            "tel:7042;phone-context=example.com",
            "7042",
            false,
            ";phone-context=example.com",
        ),
        (
            "tel:863-1234;phone-context=+1-914-555",
            "863-1234",
            false,
            ";phone-context=+1-914-555",
        ),
        (
            "tel:*21#;phone-context=+1",
            "*21#",
            false,
            ";phone-context=+1",
        ),
        (
            "tel:+1-212-555-1212;ext=1234;isub=a%20b:c",
            "+1-212-555-1212",
            true,
            ";ext=1234;isub=a%20b:c",
        ),
        ("tel:+1;flag;x-y=%41", "+1", true, ";flag;x-y=%41"),
    ] {
        let u = Uri::parse(s.as_bytes()).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(u.scheme(), Scheme::Tel);
        let t = u.as_tel().unwrap();
        assert_eq!(t.number(), number, "{s}");
        assert_eq!(t.is_global(), global, "{s}");
        assert_eq!(t.params_raw(), params, "{s}");
        assert_eq!(u.to_string(), s);
        assert!(u.uri_eq(&u));
    }
    let t = TelUri::parse(b"tel:+1-212-555-1212;ext=1234;isub=a%20b:c").unwrap();
    assert_eq!(t.ext(), Some("1234"));
    assert_eq!(t.isub(), Some("a%20b:c"));
    assert_eq!(t.digits().collect::<String>(), "12125551212");

    for (s, scheme, rest) in [
        ("xmpp:user@example.com", "xmpp", "user@example.com"),
        (
            "nobodyKnowsThisScheme:totallyopaquecontent",
            "nobodyKnowsThisScheme",
            "totallyopaquecontent",
        ),
        ("isbn:2983792873", "isbn", "2983792873"),
        (
            "soap.beep://192.0.2.103:3002",
            "soap.beep",
            "//192.0.2.103:3002",
        ),
        ("mailto:jj@gnu.org", "mailto", "jj@gnu.org"),
        ("urn:service:sos", "urn", "service:sos"),
        ("http://[::1]:80/a%20b?y=z", "http", "//[::1]:80/a%20b?y=z"),
    ] {
        let u = Uri::parse(s.as_bytes()).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(u.scheme(), Scheme::Other);
        assert_eq!(u.scheme_str(), scheme);
        let o = u.as_opaque().unwrap();
        assert_eq!((o.scheme(), o.rest()), (scheme, rest));
        assert_eq!(u.to_string(), s);
    }
    assert!(SipUri::parse(b"tel:+1").is_err());
    assert!(TelUri::parse(b"sip:a@b").is_err());
}

/// (input, error offset, what was expected)
const INVALID: &[(&str, usize, &str)] = &[
    ("", 0, "URI scheme"),
    ("sip", 3, "':' after the URI scheme"),
    ("1sip:a@b.com", 0, "URI scheme"),
    (" sip:alice@atlanta.com", 0, "URI scheme"),
    ("<sip:user@example.com>", 0, "URI scheme"), // RFC 4475 ltgtruri
    ("sip:", 4, "host"),
    ("sip:alice@", 10, "host"),
    ("sip:@atlanta.com", 4, "user"),
    ("sip::pw@atlanta.com", 4, "user"),
    ("sip:alice @atlanta.com", 9, "user character, ':' or '@'"),
    (
        "sip:alice:pass:word@host.com",
        14,
        "password character or '@'",
    ),
    ("sip:al%4ice@atlanta.com", 6, "escaped character (%HH)"),
    ("sip:al%zzice@atlanta.com", 6, "escaped character (%HH)"),
    ("sip:alice%4@atlanta.com", 9, "escaped character (%HH)"),
    ("sip:alice@atlanta.com;", 22, "parameter name"),
    ("sip:alice@atlanta.com;=x", 22, "parameter name"),
    ("sip:alice@atlanta.com;;lr", 22, "parameter name"),
    ("sip:alice@atlanta.com;a=", 24, "parameter value"),
    ("sip:alice@atlanta.com;a=%4", 24, "escaped character (%HH)"),
    ("sip:alice@atlanta.com;transport=tcp;", 36, "parameter name"),
    ("sip:alice@atlanta.com;a=b=c", 25, "';', '?' or end of URI"),
    ("sip:user@example.com; lr", 21, "parameter name"), // RFC 4475 lwsruri
    ("sip:alice@atlanta.com ", 21, "':', ';', '?' or end of URI"),
    (
        "sip:alice@atlanta.com\r\n",
        21,
        "':', ';', '?' or end of URI",
    ),
    ("sip:alice@atlanta.com:", 22, "port"),
    ("sip:alice@atlanta.com:65536", 22, "port"),
    ("sip:alice@atlanta.com:99999999999999999999", 22, "port"),
    ("sip:alice@atlanta.com:50a", 24, "';', '?' or end of URI"),
    ("sip:alice@atlanta.com?", 22, "header name"),
    ("sip:alice@atlanta.com?subject", 29, "'=' after header name"),
    ("sip:alice@atlanta.com?=x", 22, "header name"),
    ("sip:alice@atlanta.com?a=b&", 26, "header name"),
    ("sip:alice@atlanta.com?a=b c", 25, "'&' or end of URI"),
    ("sip:alice@atlanta.com?a=%g0", 24, "escaped character (%HH)"),
    (
        "sip:alice@atlanta.com@biloxi.com",
        21,
        "':', ';', '?' or end of URI",
    ),
    ("sip:user@2001:db8::10", 9, "IPv4 address"), // RFC 5118 §4.2
    ("sip:[2001:db8::10", 17, "']' closing the IPv6 reference"),
    ("sip:[2001:db8::10]5060", 18, "':', ';', '?' or end of URI"),
    ("sip:[2001:db8:::10]", 5, "IPv6 address"),
    ("sip:alice@192.0.2.256", 10, "IPv4 address"),
    ("sip:alice@-atlanta.com", 10, "host name label"),
    (
        "sip:alice@atlanta.123",
        18,
        "top label starting with a letter",
    ),
    ("sip:alice@ex_ample.com", 12, "':', ';', '?' or end of URI"),
    ("sip:\u{e4}@b.com", 4, "user"),
    ("sip:a@b.com;p=\u{e4}", 14, "parameter value"),
    ("tel:", 4, "telephone number"),
    ("tel:+", 4, "telephone number"),
    ("tel:+-", 4, "telephone number"),
    ("tel:7042", 8, "';phone-context=' for a local number"),
    ("tel:+1 ", 6, "';' or end of URI"),
    ("tel:+1;", 7, "parameter name"),
    ("tel:+1;ext=", 11, "extension digits"),
    ("tel:+1;ext", 10, "'=' and a value"),
    ("tel:+1;isub=", 12, "isub value"),
    ("tel:+1;a=", 9, "parameter value"),
    ("tel:+1;a_b=1", 8, "';' or end of URI"),
    (
        "tel:1;phone-context=",
        20,
        "domain name or global number digits",
    ),
    ("tel:1;phone-context=+", 20, "global number digits"),
    ("tel:1;phone-context=ex..com", 23, "host name label"),
    ("xmpp:", 5, "URI characters"),
    ("xmpp:a b", 6, "URI character or end of URI"),
    ("xmpp:a%2", 6, "escaped character (%HH)"),
    ("x!:a", 1, "':' after the URI scheme"),
];

#[test]
fn invalid_uris() {
    for &(s, offset, expected) in INVALID {
        let e = match Uri::parse(s.as_bytes()) {
            Ok(u) => panic!("{s:?} parsed: {u:?}"),
            Err(e) => e,
        };
        assert_eq!((e.offset(), e.expected()), (offset, expected), "{s:?}");
    }
}

#[test]
fn request_uri_errors_are_absolute() {
    let msg = crate::parse::parse_datagram(bytes::Bytes::from_static(
        b"OPTIONS sip:a@b.com;=x SIP/2.0\r\nContent-Length: 0\r\n\r\n",
    ))
    .unwrap();
    let e = msg.as_request().unwrap().uri().unwrap_err();
    assert_eq!(e.offset(), 20);
}

/// RFC 3261 §19.1.4: URIs that are equivalent.
const EQUAL: &[(&str, &str)] = &[
    (
        "sip:%61lice@atlanta.com;transport=TCP",
        "sip:alice@AtLanTa.CoM;Transport=tcp",
    ),
    ("sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5"),
    ("sip:carol@chicago.com", "sip:carol@chicago.com;security=on"),
    ("sip:carol@chicago.com;newparam=5", "sip:carol@chicago.com"),
    (
        "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
        "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com",
    ),
    (
        "sip:alice@atlanta.com?subject=project%20x&priority=urgent",
        "sip:alice@atlanta.com?priority=urgent&subject=project%20x",
    ),
    // Beyond the RFC's list: escapes everywhere, schemes, IPv6 forms (RFC 5118).
    ("SIP:alice@atlanta.com", "sip:alice@atlanta.com"),
    ("sip:alice@atlanta.com;%6C%72", "sip:alice@atlanta.com;lr"),
    (
        "sip:alice@atlanta.com;transport=%54CP",
        "sip:alice@atlanta.com;transport=tcp",
    ),
    (
        "sip:a@b.com?subject=project%20x",
        "sip:a@b.com?Subject=project%20%78",
    ),
    ("sip:alice:p%61ss@atlanta.com", "sip:alice:pass@atlanta.com"),
    ("sip:[2001:db8::10]", "sip:[2001:DB8:0:0:0:0:0:10]"),
    ("sip:[2001:db8::10]:5070", "sip:[2001:db8:0::10]:5070"),
    ("sip:alice@192.0.2.4", "sip:alice@192.000.002.004"),
    (
        "sip:alice@atlanta.com;lr;foo=1",
        "sip:alice@atlanta.com;foo=1;lr",
    ),
    (
        "sip:alice@atlanta.com;maddr=Example.COM",
        "sip:alice@atlanta.com;maddr=example.com",
    ),
    (
        "tel:+358-555-1234567;postd=pp22",
        "tel:+3585551234567;POSTD=PP22",
    ),
    (
        "tel:863-1234;phone-context=+1-914-555",
        "tel:8631234;phone-context=+1914555",
    ),
    (
        "tel:7042;phone-context=Example.com",
        "tel:7042;phone-context=example.com",
    ),
    (
        "tel:+1-212-555-1212;ext=12-34;isub=a",
        "tel:+12125551212;isub=a;ext=1234",
    ),
    ("xmpp:user@example.com", "XMPP:user@example.com"),
];

/// RFC 3261 §19.1.4: URIs that are not equivalent.
const NOT_EQUAL: &[(&str, &str)] = &[
    (
        "SIP:ALICE@AtLanTa.CoM;Transport=udp",
        "sip:alice@AtLanTa.CoM;Transport=UDP",
    ),
    ("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"),
    ("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"),
    (
        "sip:bob@biloxi.com",
        "sip:bob@biloxi.com:6000;transport=tcp",
    ),
    (
        "sip:carol@chicago.com",
        "sip:carol@chicago.com?Subject=next%20meeting",
    ),
    ("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"),
    // Beyond the RFC's list.
    (
        "sip:carol@chicago.com;newparam=5",
        "sip:carol@chicago.com;newparam=6",
    ),
    ("sip:alice@atlanta.com", "sips:alice@atlanta.com"),
    ("sip:alice@atlanta.com", "sip:atlanta.com"),
    ("sip:alice@atlanta.com", "sip:alice:@atlanta.com"),
    ("sip:alice:a@atlanta.com", "sip:alice:A@atlanta.com"),
    ("sip:%41lice@atlanta.com", "sip:alice@atlanta.com"),
    ("sip:alice@atlanta.com;user=phone", "sip:alice@atlanta.com"),
    ("sip:alice@atlanta.com", "sip:alice@atlanta.com;ttl=1"),
    (
        "sip:alice@atlanta.com;method=INVITE",
        "sip:alice@atlanta.com",
    ),
    (
        "sip:alice@atlanta.com",
        "sip:alice@atlanta.com;maddr=192.0.2.1",
    ),
    ("sip:alice@atlanta.com;lr", "sip:alice@atlanta.com;lr=on"),
    ("sip:a@b.com?subject=x", "sip:a@b.com?subject=X"),
    ("sip:a@b.com?subject=x&subject=y", "sip:a@b.com?subject=x"),
    ("sip:[2001:db8::10]", "sip:[2001:db8::11]"),
    ("sip:[::ffff:192.0.2.4]", "sip:192.0.2.4"),
    ("sip:alice@atlanta.com", "tel:+1"),
    ("sip:alice@atlanta.com", "xmpp:alice@atlanta.com"),
    ("tel:+1-212-555-1212", "tel:1-212-555-1212;phone-context=+1"),
    ("tel:+1-212-555-1212", "tel:+1-212-555-1213"),
    ("tel:+1-212-555-1212", "tel:+1-212-555-1212;ext=1"),
    ("tel:+1;a=1", "tel:+1;b=1"),
    ("tel:+1;ext=1", "tel:+1;ext=2"),
    ("xmpp:user@example.com", "xmpp:User@example.com"),
];

#[test]
fn equality_tables() {
    for &(a, b) in EQUAL {
        let (ua, ub) = (
            Uri::parse(a.as_bytes()).unwrap(),
            Uri::parse(b.as_bytes()).unwrap(),
        );
        assert!(ua.uri_eq(&ub), "{a} == {b}");
        assert!(ub.uri_eq(&ua), "{b} == {a}");
    }
    for &(a, b) in NOT_EQUAL {
        let (ua, ub) = (
            Uri::parse(a.as_bytes()).unwrap(),
            Uri::parse(b.as_bytes()).unwrap(),
        );
        assert!(!ua.uri_eq(&ub), "{a} != {b}");
        assert!(!ub.uri_eq(&ua), "{b} != {a}");
    }
}

#[test]
fn not_transitive_as_documented() {
    let a = Uri::parse(b"sip:carol@chicago.com;newparam=5").unwrap();
    let b = Uri::parse(b"sip:carol@chicago.com").unwrap();
    let c = Uri::parse(b"sip:carol@chicago.com;newparam=6").unwrap();
    assert!(a.uri_eq(&b) && b.uri_eq(&c) && !a.uri_eq(&c));
}

#[test]
fn builder_writes_parseable_uris() {
    let s = SipUriBuilder::new("atlanta.com")
        .sips(true)
        .user("alice")
        .password("p@ss")
        .build()
        .unwrap();
    assert_eq!(s, "sips:alice:p%40ss@atlanta.com");
    assert!(SipUriBuilder::new("atlanta.com").user("").build().is_err());
    assert!(SipUriBuilder::new("bad host").build().is_err());
    assert!(SipUriBuilder::new("a.com").param("", "x").build().is_err());
    let mut out = b"Contact: <".to_vec();
    SipUriBuilder::new("192.0.2.1")
        .port(5060)
        .flag("ob")
        .write_to(&mut out);
    assert_eq!(out, b"Contact: <sip:192.0.2.1:5060;ob");
}

#[test]
fn uri_is_small_and_copy() {
    fn copy<T: Copy>() {}
    copy::<Uri<'_>>();
    assert!(std::mem::size_of::<Uri<'_>>() <= 160);
}

fn label() -> impl Strategy<Value = String> {
    "[a-z0-9]([a-z0-9-]{0,6}[a-z0-9])?"
}

fn host_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        (
            proptest::collection::vec(label(), 0..3),
            "[a-zA-Z]([a-zA-Z0-9-]{0,6}[a-zA-Z0-9])?"
        )
            .prop_map(|(mut labels, top)| {
                labels.push(top);
                labels.join(".")
            }),
        any::<[u8; 4]>().prop_map(|o| Ipv4Addr::from(o).to_string()),
        any::<[u16; 8]>().prop_map(|s| format!("[{}]", Ipv6Addr::from(s))),
    ]
}

fn octets(min: usize, max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), min..max)
}

/// Every octet escaped, the most escaped spelling of a component.
fn escape_all(b: &[u8]) -> String {
    b.iter().map(|b| format!("%{b:02x}")).collect()
}

type Params = Vec<(Vec<u8>, Option<Vec<u8>>)>;
type Headers = Vec<(Vec<u8>, Vec<u8>)>;

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(input in octets(0, 200)) {
        let _ = Uri::parse(&input);
    }

    #[test]
    fn uri_like_text_never_panics(
        scheme in prop_oneof![Just("sip:"), Just("sips:"), Just("tel:"), Just("x:")],
        rest in "[a-z0-9@:;=?&%+\\-.\\[\\]A-F]{0,40}",
    ) {
        let text = format!("{scheme}{rest}");
        if let Ok(u) = Uri::parse(text.as_bytes()) {
            prop_assert_eq!(u.as_str(), text.as_str());
            prop_assert!(u.uri_eq(&u));
            if let Some(s) = u.as_sip() {
                let _ = (s.params().count(), s.headers().count(), s.ttl(), s.maddr());
            }
        }
    }

    #[test]
    fn equality_is_symmetric(
        a in "sip:([a-cA-C0-9]|%6[1-3]){1,3}@[ab]\\.com(:5060)?(;(t|T|ttl|x|%78)(=([a-c0-9]|%6[1-3]){1,3})?){0,3}(\\?[a-c]=([a-c]|%6[1-3])(&[a-c]=[a-c]){0,2})?",
        b in "sip:([a-cA-C0-9]|%6[1-3]){1,3}@[ab]\\.com(:5060)?(;(t|T|ttl|x|%78)(=([a-c0-9]|%6[1-3]){1,3})?){0,3}(\\?[a-c]=([a-c]|%6[1-3])(&[a-c]=[a-c]){0,2})?",
    ) {
        if let (Ok(ua), Ok(ub)) = (Uri::parse(a.as_bytes()), Uri::parse(b.as_bytes())) {
            prop_assert_eq!(ua.uri_eq(&ub), ub.uri_eq(&ua), "{} vs {}", a, b);
            prop_assert!(ua.uri_eq(&ua));
        }
    }

    #[test]
    fn built_uris_parse_back(
        sips in any::<bool>(),
        user in proptest::option::of(octets(1, 12)),
        password in proptest::option::of(octets(0, 8)),
        host in host_strategy(),
        port in proptest::option::of(any::<u16>()),
        params in proptest::collection::vec((octets(1, 6), proptest::option::of(octets(1, 6))), 0..4),
        headers in proptest::collection::vec((octets(1, 6), octets(0, 6)), 0..3),
    ) {
        let password = password.filter(|_| user.is_some());
        let mut b = SipUriBuilder::new(&host).sips(sips);
        if let Some(u) = &user {
            b = b.user(u);
        }
        if let Some(p) = &password {
            b = b.password(p);
        }
        if let Some(p) = port {
            b = b.port(p);
        }
        for (n, v) in &params {
            b = match v {
                Some(v) => b.param(n, v),
                None => b.flag(n),
            };
        }
        for (n, v) in &headers {
            b = b.header(n, v);
        }
        let text = b.build().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let u = sip(&text);
        prop_assert_eq!(u.is_sips(), sips);
        prop_assert_eq!(u.user().map(|s| decode(s).into_owned()), user.clone());
        prop_assert_eq!(u.password().map(|s| decode(s).into_owned()), password.clone());
        prop_assert!(u.host().host_eq(&Host::parse(host.as_bytes()).unwrap()));
        prop_assert_eq!(u.port(), port);
        let got: Params = u
            .params()
            .map(|p| (decode(p.name).into_owned(), p.value.map(|v| decode(v).into_owned())))
            .collect();
        prop_assert_eq!(got, params.clone());
        let got: Headers = u
            .headers()
            .map(|h| (decode(h.name).into_owned(), decode(h.value).into_owned()))
            .collect();
        prop_assert_eq!(got, headers.clone());
        prop_assert_eq!(u.to_string(), text.clone());
        prop_assert!(u.uri_eq(&u));

        // The same URI with every octet of user, password, parameters and headers
        // escaped is equal to it.
        let mut alt = String::from(if sips { "sips:" } else { "sip:" });
        if let Some(user) = &user {
            alt += &escape_all(user);
            if let Some(p) = &password {
                alt += ":";
                alt += &escape_all(p);
            }
            alt += "@";
        }
        alt += u.host().as_str();
        if let Some(p) = port {
            alt += &format!(":{p}");
        }
        for (n, v) in &params {
            alt += ";";
            alt += &escape_all(n);
            if let Some(v) = v {
                alt += "=";
                alt += &escape_all(v);
            }
        }
        for (k, (n, v)) in headers.iter().enumerate() {
            alt += if k == 0 { "?" } else { "&" };
            alt += &encode(n, Component::Header);
            alt += "=";
            alt += &escape_all(v);
        }
        let v = sip(&alt);
        prop_assert!(u.uri_eq(&v), "{} vs {}", text, alt);
    }
}
