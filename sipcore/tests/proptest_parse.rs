//! Property tests of the parser:
//! - generated messages serialise and parse back to the same fields (long and compact
//!   header names, random white space where the grammar allows it, folded lines,
//!   binary bodies);
//! - arbitrary bytes, and corpus messages with random mutations, never panic the
//!   datagram parser, the stream framer or any typed view;
//! - a message split into chunks (two chunks at every offset, and random chunkings)
//!   frames identically on a stream.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use sipcore::message::{parse_call_id, CSeq, HeaderId, Message, Method, NameAddr, Via};
use sipcore::parse::{parse_datagram, StreamFramer, StreamItem};
use sipcore::uri::Uri;

// ------------------------------------------------------------------ generated messages

#[derive(Debug, Clone)]
struct Fields {
    request: Option<(Method<'static>, String)>,
    status: u16,
    reason: String,
    transport: &'static str,
    via_host: String,
    via_port: Option<u16>,
    branch: String,
    extra_vias: usize,
    from_display: Option<String>,
    from_uri: String,
    from_tag: String,
    to_uri: String,
    to_tag: Option<String>,
    call_id: String,
    seq: u32,
    max_forwards: u8,
    compact: bool,
    /// Up to 2 spaces around `:` `;` `=` `/` where the grammar allows LWS.
    pad: usize,
    fold: bool,
    body: Vec<u8>,
}

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9.!%*_+`'~-]{1,12}"
}

fn hostname() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9-]{0,10}(\\.[a-z][a-z0-9-]{0,8}){0,3}",
        (any::<u8>(), any::<u8>(), any::<u8>(), 1u8..255)
            .prop_map(|(a, b, c, d)| format!("{a}.{b}.{c}.{d}")),
        (any::<u16>(), any::<u16>()).prop_map(|(a, b)| format!("[2001:db8::{a:x}:{b:x}]")),
    ]
}

fn method() -> impl Strategy<Value = Method<'static>> {
    prop_oneof![
        Just(Method::Invite),
        Just(Method::Ack),
        Just(Method::Bye),
        Just(Method::Cancel),
        Just(Method::Register),
        Just(Method::Options),
        Just(Method::Message),
        Just(Method::Subscribe),
        Just(Method::Extension("NEWMETHOD")),
        Just(Method::Extension("x-Custom.Method")),
    ]
}

fn sip_uri() -> impl Strategy<Value = String> {
    (
        "[a-z0-9_.!~*'()&=+$,;?/-]{1,10}",
        hostname(),
        proptest::option::of(1u16..),
    )
        .prop_map(|(user, host, port)| match port {
            Some(p) => format!("sip:{user}@{host}:{p}"),
            None => format!("sip:{user}@{host}"),
        })
}

fn fields() -> impl Strategy<Value = Fields> {
    (
        (
            proptest::option::of((method(), sip_uri())),
            100u16..=699,
            "[ -~]{0,20}",
            prop_oneof![
                Just("UDP"),
                Just("TCP"),
                Just("TLS"),
                Just("SCTP"),
                Just("WS")
            ],
            hostname(),
            proptest::option::of(any::<u16>()),
            token().prop_map(|t| format!("z9hG4bK{t}")),
            0usize..4,
        ),
        (
            proptest::option::of(prop_oneof![
                "[A-Za-z0-9]{1,8}( [A-Za-z0-9]{1,8}){0,2}",
                "\"[ -!#-\\[\\]-~]{0,12}\"",
            ]),
            sip_uri(),
            token(),
            sip_uri(),
            proptest::option::of(token()),
        ),
        (
            "[A-Za-z0-9.!%*_+`'~()<>:\"/\\[\\]?{}-]{1,20}(@[a-z0-9.]{1,12})?",
            any::<u32>(),
            any::<u8>(),
            any::<bool>(),
            0usize..3,
            any::<bool>(),
            proptest::collection::vec(any::<u8>(), 0..300),
        ),
    )
        .prop_map(
            |(
                (request, status, reason, transport, via_host, via_port, branch, extra_vias),
                (from_display, from_uri, from_tag, to_uri, to_tag),
                (call_id, seq, max_forwards, compact, pad, fold, body),
            )| Fields {
                request,
                status,
                reason: reason.trim().to_owned(),
                transport,
                via_host,
                via_port,
                branch,
                extra_vias,
                from_display,
                from_uri,
                from_tag,
                to_uri,
                to_tag,
                call_id,
                seq,
                max_forwards,
                compact,
                pad,
                fold,
                body,
            },
        )
}

fn serialise(f: &Fields) -> Vec<u8> {
    let p = " ".repeat(f.pad);
    // A fold is CRLF followed by white space; use it in place of some LWS.
    let lws = if f.fold {
        "\r\n  ".to_owned()
    } else {
        p.clone()
    };
    let name = |long: &'static str, short: &'static str| if f.compact { short } else { long };
    let mut s = String::new();
    match &f.request {
        Some((m, uri)) => s.push_str(&format!("{m} {uri} SIP/2.0\r\n")),
        None => s.push_str(&format!("SIP/2.0 {} {}\r\n", f.status, f.reason)),
    }
    let port = f
        .via_port
        .map(|n| format!("{p}:{p}{n}"))
        .unwrap_or_default();
    // At least one white space character (CSeq between number and method).
    let lws1 = if f.fold {
        "\r\n ".to_owned()
    } else {
        " ".repeat(f.pad + 1)
    };
    s.push_str(&format!(
        "{}{p}:{p}SIP{p}/{p}2.0{p}/{p}{} {}{port}{p};{lws}branch{p}={p}{};rport\r\n",
        name("Via", "v"),
        f.transport,
        f.via_host,
        f.branch,
    ));
    for k in 0..f.extra_vias {
        s.push_str(&format!(
            "Via: SIP/2.0/UDP proxy{k}.example.com;branch=z9hG4bKextra{k}\r\n"
        ));
    }
    let display = f
        .from_display
        .as_ref()
        .map(|d| format!("{d} "))
        .unwrap_or_default();
    s.push_str(&format!(
        "{}{p}:{lws}{display}<{}>{p};{p}tag{p}={p}{}\r\n",
        name("From", "f"),
        f.from_uri,
        f.from_tag
    ));
    let bare_ok = !f.to_uri.contains([';', '?', ',']);
    match &f.to_tag {
        Some(t) => s.push_str(&format!("{}: <{}>;tag={t}\r\n", name("To", "t"), f.to_uri)),
        None if bare_ok => s.push_str(&format!("{}: {}\r\n", name("To", "t"), f.to_uri)),
        None => s.push_str(&format!("{}: <{}>\r\n", name("To", "t"), f.to_uri)),
    }
    s.push_str(&format!("{}:{p}{}\r\n", name("Call-ID", "i"), f.call_id));
    let cseq_method = f.request.as_ref().map_or("INVITE", |(m, _)| m.as_str());
    s.push_str(&format!("CSeq:{p}{}{lws1}{cseq_method}\r\n", f.seq));
    s.push_str(&format!("Max-Forwards:{p}{}\r\n", f.max_forwards));
    s.push_str("X-Unknown: some value, with commas\r\n");
    s.push_str(&format!(
        "{}{p}:{p}{}\r\n\r\n",
        name("Content-Length", "l"),
        f.body.len()
    ));
    let mut out = s.into_bytes();
    out.extend_from_slice(&f.body);
    out
}

fn check_round_trip(f: &Fields, m: &Message) {
    match &f.request {
        Some((method, uri)) => {
            let r = m.as_request().expect("request");
            assert_eq!(r.method(), *method);
            assert_eq!(r.uri_bytes(), uri.as_bytes());
        }
        None => {
            let r = m.as_response().expect("response");
            assert_eq!(r.status().as_u16(), f.status);
            assert_eq!(r.reason(), f.reason.as_bytes());
        }
    }
    let vias: Vec<Via<'_>> = m.vias().map(|v| v.unwrap()).collect();
    assert_eq!(vias.len(), 1 + f.extra_vias);
    let v = &vias[0];
    assert_eq!(v.transport, f.transport);
    assert_eq!(v.host, f.via_host);
    assert_eq!(v.port, f.via_port);
    assert_eq!(v.branch(), Some(f.branch.as_str()));
    assert_eq!(v.rport(), Some(None));
    let from = m.from_().unwrap();
    assert_eq!(from.uri_bytes(), f.from_uri.as_bytes());
    assert_eq!(from.tag(), Some(f.from_tag.as_str()));
    assert_eq!(
        from.display_name_raw(),
        f.from_display.as_deref().map(str::as_bytes)
    );
    let to = m.to().unwrap();
    assert_eq!(to.uri_bytes(), f.to_uri.as_bytes());
    assert_eq!(to.tag(), f.to_tag.as_deref());
    assert_eq!(m.call_id().unwrap(), f.call_id);
    let c = m.cseq().unwrap();
    assert_eq!(c.seq, f.seq);
    let cseq_method = f.request.as_ref().map_or(Method::Invite, |(m, _)| *m);
    assert_eq!(c.method, cseq_method);
    assert_eq!(m.max_forwards().unwrap(), Some(f.max_forwards));
    assert_eq!(m.content_length().unwrap(), Some(f.body.len() as u64));
    assert_eq!(m.body(), &f.body[..]);
    assert_eq!(
        m.header_by_name("x-unknown"),
        Some(&b"some value, with commas"[..])
    );
}

// ------------------------------------------------------------------ helpers

/// Every typed view, on every header it applies to; results are ignored: they must
/// only not panic.
fn poke_views(m: &Message) {
    for v in m.vias().flatten() {
        let _ = (v.branch(), v.received(), v.rport(), v.maddr(), v.ttl());
        let _ = (
            v.alias(),
            v.has_magic_cookie(),
            v.params.into_iter().count(),
        );
    }
    let _ = m.top_via();
    let _ = m.cseq();
    for n in [m.from_(), m.to()].into_iter().flatten() {
        let _ = (n.display_name(), n.tag(), n.expires(), n.q(), n.uri());
    }
    let _ = m.call_id();
    let _ = m.max_forwards();
    let _ = m.content_length();
    for id in [HeaderId::Contact, HeaderId::Route, HeaderId::RecordRoute] {
        for (_, v) in m.values(id) {
            if let Ok(n) = NameAddr::parse(v) {
                let _ = (n.display_name(), n.tag(), n.expires(), n.q(), n.uri());
            }
        }
    }
    for h in m.headers() {
        let _ = (m.slice(h.name()), m.slice(h.value()), m.slice(h.line()));
    }
    if let Some(r) = m.as_request() {
        let _ = (r.method(), r.uri());
    }
    if let Some(r) = m.as_response() {
        let _ = (r.status(), r.reason());
    }
    let _ = (m.body(), m.as_bytes(), m.start_line());
}

/// Feeds `chunks` one after the other into a framer; returns the framed messages'
/// bytes (folded lines blanked, as the parser stores them), or `Err` at the first
/// framing error.
fn frame_chunks<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> Result<Vec<Bytes>, ()> {
    Ok(frame_messages(chunks)?.iter().map(|m| m.bytes()).collect())
}

/// As [`frame_chunks`], returning the messages.
fn frame_messages<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> Result<Vec<Message>, ()> {
    let mut f = StreamFramer::new(1 << 16);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for c in chunks {
        buf.extend_from_slice(c);
        loop {
            match f.next_item(&mut buf) {
                Ok(Some(StreamItem::Message(m))) => {
                    poke_views(&m);
                    out.push(m);
                }
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(_) => return Err(()),
            }
        }
    }
    Ok(out)
}

const CORPUS: &[&[u8]] = &[
    include_bytes!("data/wsinv.sip"),
    include_bytes!("data/intmeth.sip"),
    include_bytes!("data/esc01.sip"),
    include_bytes!("data/mpart01.sip"),
    include_bytes!("data/sipp-invite.sip"),
    include_bytes!("data/unreason.sip"),
    include_bytes!("data/mult-ip-in-header.sip"),
    include_bytes!("data/3261-register.sip"),
    include_bytes!("data/badinv01.sip"),
    include_bytes!("data/scalar02.sip"),
];

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let interesting = prop_oneof![
        any::<u8>(),
        Just(b'\r'),
        Just(b'\n'),
        Just(b' '),
        Just(b';'),
        Just(b','),
        Just(b'"'),
        Just(b'<'),
        Just(b'>'),
        Just(b':'),
        Just(b'['),
        Just(b'\\'),
        Just(0u8),
    ];
    prop_oneof![
        (any::<usize>(), interesting.clone()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), interesting).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Delete),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn mutate(base: &[u8], muts: &[Mutation]) -> Vec<u8> {
    let mut v = base.to_vec();
    for m in muts {
        if v.is_empty() {
            break;
        }
        match *m {
            Mutation::Flip(i, b) => {
                let i = i % v.len();
                v[i] = b;
            }
            Mutation::Insert(i, b) => v.insert(i % (v.len() + 1), b),
            Mutation::Delete(i) => {
                v.remove(i % v.len());
            }
            Mutation::Truncate(i) => v.truncate(i % (v.len() + 1)),
        }
    }
    v
}

// ------------------------------------------------------------------ properties

proptest! {
    #[test]
    fn generated_messages_round_trip(f in fields()) {
        let wire = serialise(&f);
        let m = match parse_datagram(Bytes::from(wire.clone())) {
            Ok(m) => m,
            Err(e) => panic!("{e} in\n{}", String::from_utf8_lossy(&wire)),
        };
        check_round_trip(&f, &m);
        // The same message on a stream, after a keep-alive, frames to the same octets.
        let mut stream = b"\r\n\r\n".to_vec();
        stream.extend_from_slice(&wire);
        let framed = frame_messages([&stream[..]]).unwrap();
        prop_assert_eq!(framed.len(), 1);
        prop_assert_eq!(framed[0].as_bytes().len(), wire.len());
        check_round_trip(&f, &framed[0]);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(m) = parse_datagram(Bytes::from(data.clone())) {
            poke_views(&m);
        }
        let _ = frame_chunks([&data[..]]);
        let _ = Via::parse(&data);
        let _ = CSeq::parse(&data);
        let _ = NameAddr::parse(&data);
        let _ = parse_call_id(&data);
        let _ = Uri::parse(&data);
    }

    #[test]
    fn sip_shaped_bytes_never_panic(
        head in "(INVITE|SIP/2.0|OPTIONS) [ -~]{0,30}( SIP/2.0| 200 OK)?\r\n",
        lines in proptest::collection::vec(
            "(Via|v|From|To|t|CSeq|Call-ID|Max-Forwards|Content-Length|l|Contact|X)[ ]?:[ -~\t]{0,40}(\r\n[ \t])?",
            0..8,
        ),
        body in proptest::collection::vec(any::<u8>(), 0..40),
    ) {
        let mut data = head.into_bytes();
        for l in lines {
            data.extend_from_slice(l.as_bytes());
            data.extend_from_slice(b"\r\n");
        }
        data.extend_from_slice(b"\r\n");
        data.extend_from_slice(&body);
        if let Ok(m) = parse_datagram(Bytes::from(data.clone())) {
            poke_views(&m);
        }
        let _ = frame_chunks([&data[..]]);
    }

    #[test]
    fn mutated_corpus_never_panics(
        which in 0..CORPUS.len(),
        muts in proptest::collection::vec(mutation(), 1..6),
    ) {
        let data = mutate(CORPUS[which], &muts);
        if let Ok(m) = parse_datagram(Bytes::from(data.clone())) {
            poke_views(&m);
        }
        let _ = frame_chunks([&data[..]]);
        // Two of them back to back on a stream, cut at a random place.
        let mut two = data.clone();
        two.extend_from_slice(&data);
        let cut = muts.len() * 7 % (two.len() + 1);
        let _ = frame_chunks([&two[..cut], &two[cut..]]);
    }

    #[test]
    fn random_chunking_frames_identically(
        f in fields(),
        sizes in proptest::collection::vec(1usize..64, 1..40),
    ) {
        let mut wire = serialise(&f);
        wire.extend_from_slice(b"\r\n\r\n");
        wire.extend_from_slice(&serialise(&f));
        let whole = frame_chunks([&wire[..]]).unwrap();
        prop_assert_eq!(whole.len(), 2);
        let mut chunks = Vec::new();
        let mut pos = 0;
        for s in sizes.iter().cycle() {
            if pos >= wire.len() {
                break;
            }
            let end = (pos + s).min(wire.len());
            chunks.push(&wire[pos..end]);
            pos = end;
        }
        let split = frame_chunks(chunks).unwrap();
        prop_assert_eq!(split, whole);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Two chunks, cut at every offset.
    #[test]
    fn split_at_every_offset_frames_identically(f in fields()) {
        let wire = serialise(&f);
        let whole = frame_chunks([&wire[..]]).unwrap();
        prop_assert_eq!(whole.len(), 1);
        for cut in 0..=wire.len() {
            let split = frame_chunks([&wire[..cut], &wire[cut..]]).unwrap();
            prop_assert_eq!(&split, &whole, "cut at {}", cut);
        }
    }
}
