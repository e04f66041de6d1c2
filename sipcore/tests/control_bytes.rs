//! Control bytes in header lines (NUL, bare CR, DEL, the C0 range but HTAB) are refused
//! with a typed error that maps to 400, by the datagram parser and the stream framer
//! alike, on the common-name fast path and the general one; HTAB, folding and octets
//! from 0x80 up are not.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::{Bytes, BytesMut};
use sipcore::message::Message;
use sipcore::parse::{parse_datagram, ParseError, ParseErrorKind, StreamFramer, StreamItem};
use sipcore::transaction::stateless::response_for_error;

const HEAD: &str = "INVITE sip:bob@example.com SIP/2.0\r\n\
    Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds\r\n\
    Max-Forwards: 70\r\n\
    To: Bob <sip:bob@example.com>\r\n\
    From: Alice <sip:alice@example.com>;tag=1928301774\r\n\
    Call-ID: a84b4c76e66710@pc33.example.com\r\n\
    CSeq: 314159 INVITE\r\n\
    Subject: lunch\r\n\
    X-Custom: some value\r\n\
    Content-Length: 0\r\n\r\n";

/// What the stream framer makes of `raw` fed whole (`None`: not one message).
fn framed(raw: &[u8]) -> Option<Result<Message, ParseError>> {
    let mut framer = StreamFramer::default();
    let mut buf = BytesMut::from(raw);
    match framer.next_item(&mut buf) {
        Ok(Some(StreamItem::Message(m))) => Some(Ok(m)),
        Ok(_) => None,
        Err(e) => Some(Err(e)),
    }
}

/// Both parsers: the same outcome, returned once.
fn both(raw: &[u8]) -> Result<Message, ParseError> {
    let d = parse_datagram(Bytes::copy_from_slice(raw));
    let f = framed(raw).expect("one message");
    match (&d, &f) {
        (Ok(a), Ok(b)) => assert_eq!(a.as_bytes(), b.as_bytes()),
        (Err(a), Err(b)) => assert_eq!(a, b, "{:?}", String::from_utf8_lossy(raw)),
        _ => panic!("datagram {d:?} vs framer {f:?}"),
    }
    d
}

/// The end of the header lines: the first empty line (or the end).
fn head_end(raw: &[u8]) -> usize {
    raw.windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(raw.len(), |p| p + 2)
}

/// `HEAD` with `byte` put before `at`, the first occurrence of `anchor`.
fn with_byte(anchor: &str, byte: u8) -> (Vec<u8>, usize) {
    let at = HEAD.find(anchor).unwrap();
    let mut v = HEAD.as_bytes().to_vec();
    v.insert(at, byte);
    (v, at)
}

const BAD: &[u8] = &[0x00, 0x01, 0x08, 0x0b, 0x0c, b'\r', 0x0e, 0x1b, 0x1f, 0x7f];
/// Values of a fast-path header (Via, Call-ID, CSeq, From), of a general one
/// (Subject, X-Custom), and the last bytes before a line end.
const ANCHORS: &[&str] = &[
    "192.0.2.1:5060",
    ";branch",
    "e66710@",
    "INVITE\r\nSubject",
    "lunch",
    "value",
    "\r\nContent-Length",
    "0\r\n\r\n",
];

#[test]
fn control_bytes_in_header_lines_are_refused_at_their_offset() {
    for &byte in BAD {
        for anchor in ANCHORS {
            let (raw, at) = with_byte(anchor, byte);
            let err = both(&raw).expect_err(&format!("{byte:#04x} before {anchor:?}"));
            assert_eq!(
                err.kind(),
                ParseErrorKind::ControlCharacter,
                "{byte:#04x} {anchor:?}"
            );
            assert_eq!(err.offset(), at, "{byte:#04x} {anchor:?}");
            assert_eq!(err.kind().status_code(), Some(400));
        }
    }
}

#[test]
fn bare_lf_and_control_bytes_in_a_folded_line_are_refused() {
    let folded = HEAD.replace("lunch\r\n", "lunch\r\n  to\x00go\r\n");
    let err = both(folded.as_bytes()).unwrap_err();
    assert_eq!(err.kind(), ParseErrorKind::ControlCharacter);
    assert_eq!(&folded.as_bytes()[err.offset()..err.offset() + 1], b"\x00");
    // A bare LF inside a value: still a 400 (the CRLF rule).
    let lf = HEAD.replace("some value", "some\nvalue");
    let err = both(lf.as_bytes()).unwrap_err();
    assert_eq!(err.kind().status_code(), Some(400));
}

/// Positive controls: HTAB, folding (CRLF + white space) and UTF-8 are fine.
#[test]
fn tabs_folding_and_utf8_are_accepted() {
    let tabs = HEAD
        .replace("some value", "some\tvalue\t")
        .replace("Subject: ", "Subject:\t");
    let m = both(tabs.as_bytes()).unwrap();
    assert_eq!(m.header_by_name("X-Custom"), Some(&b"some\tvalue"[..]));
    let folded = HEAD.replace("lunch\r\n", "lunch\r\n\tat\r\n  noon\r\n");
    both(folded.as_bytes()).unwrap();
    let utf8 = HEAD.replace("lunch", "d\u{e9}jeuner \u{1f37d}");
    both(utf8.as_bytes()).unwrap();
    both(HEAD.as_bytes()).unwrap();
}

/// The 400 for such a request echoes no control byte.
#[test]
fn the_400_echoes_no_control_byte() {
    for anchor in ["e66710@", "1928301774", "192.0.2.1:5060"] {
        let (raw, _) = with_byte(anchor, b'\r');
        let err = both(&raw).unwrap_err();
        let Some(answer) = response_for_error(&raw, err) else {
            // A Via with a control byte leaves nowhere to answer: dropped.
            assert_eq!(anchor, "192.0.2.1:5060");
            continue;
        };
        let m = parse_datagram(answer.clone()).unwrap();
        assert_eq!(m.as_response().unwrap().status().as_u16(), 400);
        let head_end = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = &answer[..head_end];
        for (i, &b) in head.iter().enumerate() {
            let crlf = (b == b'\r' && head.get(i + 1) == Some(&b'\n'))
                || (b == b'\n' && i > 0 && head[i - 1] == b'\r');
            assert!(
                b >= 0x20 && b != 0x7f || b == b'\t' || crlf,
                "{b:#04x} in {head:?}"
            );
        }
    }
}

/// Whether byte `i` of `raw` is a control byte a header line may not hold.
fn is_bad(raw: &[u8], i: usize) -> bool {
    let b = raw[i];
    let crlf = b == b'\r' && raw.get(i + 1) == Some(&b'\n');
    (b < 0x20 || b == 0x7f) && b != b'\t' && b != b'\n' && !crlf
}

/// Agreement on every one-byte edit of the header section with a control byte, a
/// space, a letter or a colon: whenever either parser reports a control byte, both
/// report the same error (unless the edit left no complete head for the framer), at a bad byte with none before it in the header lines; a
/// message that parses has none in its header lines.
#[test]
fn one_byte_edits_agree_with_the_reference() {
    let start = HEAD.find("\r\n").unwrap() + 2;
    let alphabet: Vec<u8> = (0u8..0x20).chain([0x7f, b' ', b'a', b':', 0xc3]).collect();
    let (mut refused, mut parsed) = (0, 0);
    for at in start..HEAD.len() {
        for &c in &alphabet {
            for insert in [false, true] {
                let mut raw = HEAD.as_bytes().to_vec();
                if insert {
                    raw.insert(at, c);
                } else {
                    raw[at] = c;
                }
                let shown = String::from_utf8_lossy(&raw).into_owned();
                let end = head_end(&raw);
                let d = parse_datagram(Bytes::copy_from_slice(&raw));
                let f = framed(&raw);
                let control = |r: &Result<Message, ParseError>| {
                    r.as_ref()
                        .err()
                        .filter(|e| e.kind() == ParseErrorKind::ControlCharacter)
                        .copied()
                };
                match (control(&d), f.as_ref().and_then(control)) {
                    (None, None) => {}
                    // The stream has no complete head yet: the framer waits for more.
                    (Some(_), None) if f.is_none() => {}
                    (Some(a), Some(b)) if a == b => {
                        refused += 1;
                        assert!(is_bad(&raw, a.offset()), "{a} {shown:?}");
                        assert!(!(start..a.offset()).any(|i| is_bad(&raw, i)), "{shown:?}");
                    }
                    other => panic!("{other:?} for {shown:?}"),
                }
                if d.is_ok() {
                    parsed += 1;
                    assert!(!(start..end).any(|i| is_bad(&raw, i)), "{shown:?}");
                }
            }
        }
    }
    assert!(refused > 5_000 && parsed > 1_000, "{refused} {parsed}");
}
