//! Digest credentials (Authorization / Proxy-Authorization) and the proxy's checks on
//! them on arbitrary header values: no panic, and nothing authenticates without the
//! password.
#![no_main]

use std::sync::OnceLock;
use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use sipcore::message::Message;
use sipcore_examples::auth::{Auth, Verdict};
use sipcore_examples::config::{AuthConfig, UserConfig};

fn auth() -> &'static (Auth, Instant) {
    static A: OnceLock<(Auth, Instant)> = OnceLock::new();
    A.get_or_init(|| {
        let now = Instant::now();
        let cfg = AuthConfig {
            register: true,
            outbound: true,
            users: vec![UserConfig {
                username: "alice".into(),
                password: Some("a long secret the fuzzer will not guess".into()),
                ..Default::default()
            }],
            ..Default::default()
        };
        (Auth::new(&cfg, now), now)
    })
}

fuzz_target!(|data: &[u8]| {
    let value = String::from_utf8_lossy(data);
    for header in ["Authorization", "Proxy-Authorization"] {
        let text = format!(
            "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\n\
             From: <sip:alice@127.0.0.1>;tag=1\r\nTo: <sip:alice@127.0.0.1>\r\nCall-ID: d\r\n\
             CSeq: 1 REGISTER\r\n{header}: {value}\r\nContent-Length: 0\r\n\r\n"
        );
        let Ok(Message::Request(req)) = Message::parse(bytes::Bytes::from(text)) else {
            continue;
        };
        for c in req.authorization().chain(req.proxy_authorization()).flatten() {
            let _ = (c.username(), c.realm(), c.nonce(), c.uri(), c.response());
            let _ = (c.algorithm(), c.qop(), c.cnonce(), c.param("nc"), c.is_digest());
        }
        let (a, now) = auth();
        for proxy in [false, true] {
            let v = a.check(&req, proxy, *now);
            assert!(!matches!(v, Verdict::Authenticated(_)), "authenticated without the password: {value:?}");
        }
    }
});
