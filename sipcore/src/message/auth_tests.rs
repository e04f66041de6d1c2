//! Tests of the authentication header views.

use super::*;
use crate::message::Message;

fn msg(start: &str, headers: &str) -> Message {
    let text = format!("{start}\r\n{headers}\r\n");
    Message::parse(bytes::Bytes::from(text)).unwrap()
}

#[test]
fn rfc3261_authorization_folded() {
    let m = msg(
        "INVITE sip:bob@biloxi.com SIP/2.0",
        "Authorization: Digest username=\"Alice\", realm=\"atlanta.com\",\r\n nonce=\"84a4cc6f3082121f32b42a2187831a9e\",\r\n response=\"7587245234b3434cc3412213e5f113a5432\"\r\n",
    );
    let creds: Vec<_> = m.authorization().collect();
    assert_eq!(creds.len(), 1);
    let c = creds[0].unwrap();
    assert!(c.is_digest());
    assert_eq!(c.username().as_deref(), Some("Alice"));
    assert_eq!(c.realm().as_deref(), Some("atlanta.com"));
    assert_eq!(
        c.nonce().as_deref(),
        Some("84a4cc6f3082121f32b42a2187831a9e")
    );
    assert_eq!(
        c.response().as_deref(),
        Some("7587245234b3434cc3412213e5f113a5432")
    );
    assert_eq!(c.algorithm(), None);
    assert_eq!(c.params.count(), 4);
}

#[test]
fn rfc3261_proxy_authorization() {
    let m = msg(
        "INVITE sip:bob@biloxi.com SIP/2.0",
        "Proxy-Authorization: Digest username=\"Alice\", realm=\"atlanta.com\",\r\n nonce=\"c60f3082ee1212b402a21831ae\",\r\n response=\"245f23415f11432b3434341c022\"\r\n",
    );
    let c = m.proxy_authorization().next().unwrap().unwrap();
    assert_eq!(c.nonce().as_deref(), Some("c60f3082ee1212b402a21831ae"));
    assert_eq!(m.authorization().count(), 0);
}

#[test]
fn rfc3261_challenges() {
    let m = msg(
        "SIP/2.0 401 Unauthorized",
        "WWW-Authenticate: Digest realm=\"atlanta.com\",\r\n domain=\"sip:boxesbybob.com\", qop=\"auth\",\r\n nonce=\"f84f1cec41e6cbe5aea9c8e88d359\",\r\n opaque=\"\", stale=FALSE, algorithm=MD5\r\nProxy-Authenticate: Digest realm=\"atlanta.com\",\r\n domain=\"sip:ss1.carrier.com\", qop=\"auth\",\r\n nonce=\"f84f1cec41e6cbe5aea9c8e88d359\",\r\n opaque=\"\", stale=TRUE, algorithm=MD5\r\n",
    );
    let w = m.www_authenticate().next().unwrap().unwrap();
    assert_eq!(w.realm().as_deref(), Some("atlanta.com"));
    assert_eq!(w.domain().as_deref(), Some("sip:boxesbybob.com"));
    assert_eq!(w.opaque().as_deref(), Some(""));
    assert_eq!(w.algorithm().as_deref(), Some("MD5"));
    assert!(!w.stale());
    assert_eq!(w.qop_options().collect::<Vec<_>>(), vec!["auth"]);
    let p = m.proxy_authenticate().next().unwrap().unwrap();
    assert!(p.stale());
    assert_eq!(p.domain().as_deref(), Some("sip:ss1.carrier.com"));
}

#[test]
fn rfc7616_challenges_repeat_in_order() {
    let m = msg(
        "SIP/2.0 401 Unauthorized",
        "WWW-Authenticate: Digest\r\n    realm=\"http-auth@example.org\",\r\n    qop=\"auth, auth-int\",\r\n    algorithm=SHA-256,\r\n    nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\",\r\n    opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"\r\nWWW-Authenticate: Digest\r\n    realm=\"http-auth@example.org\",\r\n    qop=\"auth, auth-int\",\r\n    algorithm=MD5,\r\n    nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\",\r\n    opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"\r\n",
    );
    let cs: Vec<_> = m.www_authenticate().map(|c| c.unwrap()).collect();
    assert_eq!(cs.len(), 2);
    assert_eq!(cs[0].algorithm().as_deref(), Some("SHA-256"));
    assert_eq!(cs[1].algorithm().as_deref(), Some("MD5"));
    assert_eq!(
        cs[0].qop_options().collect::<Vec<_>>(),
        vec!["auth", "auth-int"]
    );
    assert!(cs[1].offers_qop("AUTH-INT"));
    assert!(!cs[1].offers_qop("auth-conf"));
    assert_eq!(
        cs[0].nonce().as_deref(),
        Some("7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v")
    );
}

#[test]
fn rfc7616_authorization() {
    let c = Credentials::parse(
        b"Digest username=\"Mufasa\",     realm=\"http-auth@example.org\",     uri=\"/dir/index.html\",     algorithm=SHA-256,     nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\",     nc=00000001,     cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\",     qop=auth,     response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1\",     opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"",
    )
    .unwrap();
    assert_eq!(c.username().as_deref(), Some("Mufasa"));
    assert_eq!(c.uri().as_deref(), Some("/dir/index.html"));
    assert_eq!(c.algorithm().as_deref(), Some("SHA-256"));
    assert_eq!(c.nc(), Some(1));
    assert_eq!(c.qop().as_deref(), Some("auth"));
    assert_eq!(
        c.cnonce().as_deref(),
        Some("f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ")
    );
    assert_eq!(
        c.opaque().as_deref(),
        Some("FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS")
    );
    assert!(!c.userhash());
    assert!(!c.params.get("qop").unwrap().is_quoted());
    assert!(c.params.get("realm").unwrap().is_quoted());
}

#[test]
fn rfc7616_userhash_and_extended_username() {
    let c = Credentials::parse(
        b"Digest username=\"488869477bf257147b804c45308cd62ac4e25eb717b12b298c79e62dcea254ec\", realm=\"api@example.org\", uri=\"/doc/index.html\", qop=auth, algorithm=SHA-512-256, nonce=\"5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK\", nc=00000001, userhash=true, cnonce=\"NTg6RKcb9boFIAS3KrFK9BGeh+iDa/sm6jUMp2wds69v\", response=\"ae66e67d6b427bd3f120414a82e4acff38e8ecd9101d6c861229025f607a79dd\", opaque=\"HRPCssKJSGjCrkzDg8OhwpzCiGPChXYjwrI2QmXDnsOS\"",
    )
    .unwrap();
    assert!(c.userhash());
    assert_eq!(c.algorithm().as_deref(), Some("SHA-512-256"));
    let c =
        Credentials::parse(b"Digest username*=UTF-8''J%C3%A4s%C3%B8n%20Doe, realm=\"r\"").unwrap();
    assert_eq!(
        c.param("username*").as_deref(),
        Some("UTF-8''J%C3%A4s%C3%B8n%20Doe")
    );
    assert_eq!(c.username(), None);
}

#[test]
fn quoted_pairs_and_commas_inside_quotes() {
    let c = Credentials::parse(b"Digest username=\"a\\\"b, c\", realm=\"x,y\"").unwrap();
    assert_eq!(c.username().as_deref(), Some("a\"b, c"));
    assert_eq!(c.realm().as_deref(), Some("x,y"));
    assert_eq!(c.params.count(), 2);
}

#[test]
fn other_schemes() {
    let c = Credentials::parse(b"Bearer mF_9.B5f-4.1JqM==").unwrap();
    assert_eq!(c.token68, Some("mF_9.B5f-4.1JqM=="));
    assert!(c.params.is_empty());
    let c = Credentials::parse(b"Basic").unwrap();
    assert_eq!((c.scheme, c.token68), ("Basic", None));
    let ch = Challenge::parse(b"Bearer realm=\"example.com\", scope=\"sip\"").unwrap();
    assert_eq!(ch.realm().as_deref(), Some("example.com"));
    assert!(!ch.is_digest());
}

#[test]
fn malformed_auth() {
    for bad in [
        &b""[..],
        b"Digest",
        b"Digest ",
        b"Digest,realm=\"a\"",
        b"Digest realm",
        b"Digest realm=",
        b"Digest realm=\"open",
        b"Digest realm=\"a\",",
        b"Digest realm=\"a\",, nonce=\"b\"",
        b"Digest realm=\"a\" nonce=\"b\"",
        b"Digest uri=sip:bob@biloxi.com",
        b"Digest abc==",
        b"Bearer a b",
        b"Bearer abc=def ghi",
        b"\"Digest\" realm=a",
    ] {
        assert!(
            Credentials::parse(bad).is_err(),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
        assert!(
            Challenge::parse(bad).is_err(),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn error_offsets_are_absolute_and_lines_iterate() {
    let m = msg(
        "INVITE sip:bob@biloxi.com SIP/2.0",
        "Authorization: Digest realm=\"a\", nonce=\"b\"\r\nAuthorization: Digest realm=\"b\", nonce=@\r\n",
    );
    let v: Vec<_> = m.authorization().collect();
    assert!(v[0].is_ok());
    let e = v[1].unwrap_err();
    assert_eq!(m.as_bytes()[e.offset()], b'@');
}

#[test]
fn nc_edge_cases() {
    let nc = |v: &[u8]| Credentials::parse(v).unwrap().nc();
    assert_eq!(nc(b"Digest nc=ffffffff"), Some(u32::MAX));
    assert_eq!(nc(b"Digest nc=\"0000000a\""), Some(10));
    assert_eq!(nc(b"Digest nc=123456789"), None);
    assert_eq!(nc(b"Digest nc=zz"), None);
    assert_eq!(nc(b"Digest realm=x"), None);
}
