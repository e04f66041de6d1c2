//! Generated messages and random edit sets: `apply` never panics, and what it writes
//! re-parses with the expected body.

use bytes::Bytes;
use proptest::prelude::*;

use super::super::*;
use crate::message::{HeaderId, NewVia};
use crate::parse::parse_datagram;

fn header_line() -> impl Strategy<Value = String> {
    let list = |n: usize, f: fn(usize) -> String| (0..n).map(f).collect::<Vec<_>>();
    prop_oneof![
        (1..4usize, any::<bool>(), any::<bool>()).prop_map(move |(n, compact, spaced)| {
            let sep = if spaced { " , " } else { "," };
            let name = if compact { "v" } else { "Via" };
            let values = list(n, |k| {
                format!("SIP/2.0/UDP h{k}.example.com;branch=z9hG4bK{k}")
            });
            format!("{name}: {}", values.join(sep))
        }),
        (1..4usize).prop_map(move |n| {
            format!(
                "Route: {}",
                list(n, |k| format!("<sip:r{k}.example.com;lr>")).join(", ")
            )
        }),
        Just("Record-Route: <sip:rr.example.com;lr>".to_owned()),
        (0u16..300).prop_map(|n| format!("Max-Forwards: {n}")),
        Just("Max-Forwards: many".to_owned()),
        Just("f: \"A, B\" <sip:a@example.com>;tag=1".to_owned()),
        Just("To: <sip:b@example.com>".to_owned()),
        Just("i: call@host".to_owned()),
        Just("CSeq: 1 INVITE".to_owned()),
        Just("X-Custom: value".to_owned()),
        Just("x-custom: other".to_owned()),
        Just("Subject: folded\r\n  line".to_owned()),
        Just("c: text/plain".to_owned()),
        Just("Content-Type: application/sdp".to_owned()),
        Just("Empty:".to_owned()),
    ]
}

const BODIES: [&str; 4] = [
    "",
    "a",
    "hello world",
    "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\n",
];

/// (message text, its body)
fn message() -> impl Strategy<Value = (String, &'static str)> {
    (
        any::<bool>(),
        prop::collection::vec(header_line(), 0..12),
        prop::sample::select(&BODIES[..]),
        prop::option::of(any::<prop::sample::Index>()),
        any::<bool>(),
    )
        .prop_map(|(request, mut lines, body, cl_at, leading_crlf)| {
            if let Some(at) = cl_at {
                let at = at.index(lines.len() + 1);
                lines.insert(at, format!("l: {}", body.len()));
            }
            let start = if request {
                "INVITE sip:bob@example.com SIP/2.0"
            } else {
                "SIP/2.0 180 Ringing"
            };
            let crlf = if leading_crlf { "\r\n" } else { "" };
            let mut text = format!("{crlf}{start}\r\n");
            for l in lines {
                text.push_str(&l);
                text.push_str("\r\n");
            }
            text.push_str("\r\n");
            text.push_str(body);
            (text, body)
        })
}

const IDS: [HeaderId; 11] = [
    HeaderId::Via,
    HeaderId::Route,
    HeaderId::RecordRoute,
    HeaderId::MaxForwards,
    HeaderId::From,
    HeaderId::To,
    HeaderId::CallId,
    HeaderId::CSeq,
    HeaderId::Subject,
    HeaderId::ContentType,
    HeaderId::UserAgent,
];
const NAMES: [&str; 5] = ["x-custom", "v", "Route", "X-Absent", "Empty"];

#[derive(Debug, Clone)]
enum Op {
    PrependVia,
    RemoveTopVia,
    SetUri,
    RemoveTopRoute,
    InsertRecordRoute,
    DecrementMaxForwards,
    SetMaxForwards(u8),
    AddHeader,
    Remove(usize),
    RemoveContentLength,
    RemoveNamed(usize),
    Replace(usize),
    ReplaceNamed(usize),
    SetBody(Option<bool>, usize),
    EnsureContentLength,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        Just(Op::PrependVia),
        Just(Op::RemoveTopVia),
        Just(Op::SetUri),
        Just(Op::RemoveTopRoute),
        Just(Op::InsertRecordRoute),
        Just(Op::DecrementMaxForwards),
        any::<u8>().prop_map(Op::SetMaxForwards),
        Just(Op::AddHeader),
        (0..IDS.len()).prop_map(Op::Remove),
        Just(Op::RemoveContentLength),
        (0..NAMES.len()).prop_map(Op::RemoveNamed),
        (0..IDS.len()).prop_map(Op::Replace),
        (0..NAMES.len()).prop_map(Op::ReplaceNamed),
        (prop::option::of(any::<bool>()), 0..BODIES.len()).prop_map(|(t, b)| Op::SetBody(t, b)),
        Just(Op::EnsureContentLength),
    ]
}

/// Runs `op`; returns the new body when it sets one. Errors other than overlaps are
/// fine here (a missing header, Max-Forwards 0 ...): they record nothing.
fn run<'a>(e: &mut Edits<'a>, op: &Op) -> Option<&'static str> {
    let _ = match *op {
        Op::PrependVia => e.prepend_via(NewVia::new("TCP", "p.example.com", "z9hG4bK.p").rport()),
        Op::RemoveTopVia => e.remove_top_via(),
        Op::SetUri => e.set_request_uri("sip:new@192.0.2.4"),
        Op::RemoveTopRoute => e.remove_top_route(),
        Op::InsertRecordRoute => e.insert_record_route("<sip:p.example.com;lr>"),
        Op::DecrementMaxForwards => e.decrement_max_forwards(),
        Op::SetMaxForwards(n) => e.set_max_forwards(n),
        Op::AddHeader => e.add_header("X-Added", "1"),
        Op::Remove(k) => e.remove_header(IDS[k]),
        Op::RemoveContentLength => e.remove_header(HeaderId::ContentLength),
        Op::RemoveNamed(k) => e.remove_header_named(NAMES[k]),
        Op::Replace(k) => e.replace_header(IDS[k], "replaced"),
        Op::ReplaceNamed(k) => e.replace_header_named(NAMES[k], "replaced"),
        Op::SetBody(t, b) => {
            let ct = t.map(|t| if t { "text/plain" } else { "application/sdp" });
            if e.set_body(ct, BODIES[b]).is_ok() {
                return Some(BODIES[b]);
            }
            return None;
        }
        Op::EnsureContentLength => e.ensure_content_length(),
    };
    None
}

proptest! {
    #[test]
    fn edits_apply_and_reparse((text, body) in message(), ops in prop::collection::vec(op(), 0..10)) {
        let msg = parse_datagram(Bytes::from(text.clone())).unwrap();
        let mut e = Edits::new(&msg);
        let mut expected_body = body;
        for op in &ops {
            if let Some(b) = run(&mut e, op) {
                expected_body = b;
            }
        }
        match e.apply() {
            Ok(out) => {
                prop_assert_eq!(out.len(), e.output_len().unwrap());
                let re = parse_datagram(out.clone());
                prop_assert!(re.is_ok(), "{:?}\n{}", re.err(), String::from_utf8_lossy(&out));
                let re = re.unwrap();
                prop_assert_eq!(re.body(), expected_body.as_bytes());
                if let Ok(Some(n)) = re.content_length() {
                    prop_assert_eq!(n as usize, expected_body.len());
                }
                prop_assert_eq!(re.is_request(), msg.is_request());
            }
            Err(err) => prop_assert!(matches!(err, EditError::Overlap { .. }), "{err}"),
        }
    }

    #[test]
    fn raw_edits_never_panic(
        (text, _) in message(),
        raw in prop::collection::vec((0usize..400, 0usize..40, 0usize..3), 0..8),
    ) {
        let msg = parse_datagram(Bytes::from(text)).unwrap();
        let mut e = Edits::new(&msg);
        for (start, len, what) in raw {
            let span = Span::new(start, start + len);
            let _ = match what {
                0 => e.insert(start, b"INS"),
                1 => e.delete(span),
                _ => e.replace(span, b"REP"),
            };
        }
        match e.apply() {
            Ok(out) => prop_assert_eq!(out.len(), e.output_len().unwrap()),
            Err(err) => prop_assert!(matches!(err, EditError::Overlap { .. }), "{err}"),
        }
    }
}
