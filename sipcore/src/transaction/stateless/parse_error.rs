//! Answering a request that failed to parse, without a transaction (RFC 3261 §8.2.6,
//! §18.3, §16.11 for the deterministic To tag).

use bytes::Bytes;

use crate::message::{
    parse_call_id, CSeq, Copied, HeaderId, NameAddr, ResponseBuilder, StatusCode, Via,
};
use crate::parse::{parse_datagram, ParseError};
use crate::syntax::lex::{is_token, is_ws, trim_ws, CommaSplit};

/// Builds the 400 / 505 / 513 answer to a request that failed with `err`, from the raw
/// datagram `raw`, or `None` when no answer should or can be sent.
///
/// The status is [`ParseErrorKind::status_code`](crate::parse::ParseErrorKind::status_code)
/// and the reason phrase [`ParseError::reason_phrase`]. The header fields the response
/// needs are recovered leniently: from the parser's index when the head parses (the
/// error came from a later check, such as a typed view or the Content-Length), else by
/// scanning the raw lines for Via, From, To, Call-ID and CSeq (long or compact names;
/// a folded line is skipped). Each recovered value must pass its typed parser or it is
/// left out; Via values are copied in order up to the first one that does not parse.
/// When the To has no tag, a tag derived from the top Via, Call-ID, From and CSeq is
/// added, so a retransmitted request gets the same answer.
///
/// `None` when `raw` is a response or an ACK (neither is ever answered), when the start
/// line does not begin with a method token, when the error kind maps to no status, or
/// when no top Via parses (there is nowhere to send the answer).
///
/// ```
/// use sipcore::transaction::stateless::response_for_error;
/// use sipcore::parse::parse_datagram;
/// let raw = b"INVITE sip:bob@example.com SIP/3.0\r\n\
///             Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK.1\r\n\
///             From: <sip:alice@example.com>;tag=a\r\n\
///             To: <sip:bob@example.com>\r\n\
///             Call-ID: c1@192.0.2.1\r\n\
///             CSeq: 1 INVITE\r\n\r\n";
/// let err = parse_datagram(bytes::Bytes::from_static(raw)).unwrap_err();
/// let answer = response_for_error(raw, err).expect("a Via was found");
/// let resp = parse_datagram(answer)?;
/// assert_eq!(resp.as_response().unwrap().status().as_u16(), 505);
/// assert_eq!(resp.top_via()?.branch(), Some("z9hG4bK.1"));
/// assert!(resp.to()?.tag().is_some());
/// # Ok::<(), sipcore::parse::ParseError>(())
/// ```
pub fn response_for_error(raw: &[u8], err: ParseError) -> Option<Bytes> {
    let status = StatusCode::new(err.kind().status_code()?)?;
    let head_start = answerable_request(raw)?;
    let reason = err.reason_phrase();
    // The parser's index handles folded lines; it needs an owned buffer (error path only).
    if let Ok(msg) = parse_datagram(Bytes::copy_from_slice(raw)) {
        let fields = msg.headers().iter().map(|h| (h.id, msg.slice(h.value())));
        return answer(fields, status, &reason);
    }
    answer(LenientHeaders::new(raw, head_start), status, &reason)
}

/// Where the header lines start, if `raw` starts (after CRLFs) with `<method> SP` for a
/// method other than ACK.
fn answerable_request(raw: &[u8]) -> Option<usize> {
    let mut pos = 0;
    while raw.get(pos..pos + 2) == Some(b"\r\n") {
        pos += 2;
    }
    let line = raw.get(pos..)?;
    let method_len = line.iter().take_while(|&&b| is_token(b)).count();
    let method = line.get(..method_len)?;
    // A status line fails here too: `SIP` is followed by '/', not SP.
    if method.is_empty() || line.get(method_len) != Some(&b' ') || method == b"ACK" {
        return None;
    }
    let lf = memchr::memchr(b'\n', line)?;
    Some(pos + lf + 1)
}

/// Builds the answer from the header values; `None` without a usable top Via.
fn answer<'a>(
    fields: impl Iterator<Item = (HeaderId, &'a [u8])>,
    status: StatusCode,
    reason: &str,
) -> Option<Bytes> {
    let mut c = Copied::default();
    let (mut vias_done, mut seen) = (false, [false; 4]);
    for (id, v) in fields {
        if !printable(v) {
            // Never echo a control byte (the lenient scan sees the raw lines).
            continue;
        }
        match id {
            HeaderId::Via if !vias_done => {
                for (s, e) in CommaSplit::new(v) {
                    let value = v.get(s..e).unwrap_or_default();
                    if Via::parse(value).is_err() {
                        vias_done = true;
                        break;
                    }
                    c.vias.push(value);
                }
            }
            HeaderId::From if !seen[0] => {
                seen[0] = true;
                c.from = NameAddr::parse(v).is_ok().then_some(v);
            }
            HeaderId::To if !seen[1] => {
                seen[1] = true;
                if let Ok(to) = NameAddr::parse(v) {
                    c.to = Some(v);
                    c.to_has_tag = to.tag().is_some();
                }
            }
            HeaderId::CallId if !seen[2] => {
                seen[2] = true;
                c.call_id = parse_call_id(v).is_ok().then_some(v);
            }
            HeaderId::CSeq if !seen[3] => {
                seen[3] = true;
                c.cseq = CSeq::parse(v).is_ok().then_some(v);
            }
            _ => {}
        }
    }
    let top_via = *c.vias.first()?;
    let tag = derived_tag(&[
        top_via,
        c.call_id.unwrap_or_default(),
        c.from.unwrap_or_default(),
        c.cseq.unwrap_or_default(),
    ]);
    let tag = std::str::from_utf8(&tag).unwrap_or_default();
    let response = ResponseBuilder::from_copied(c, status)
        .reason(reason)
        .to_tag(tag)
        .build();
    Some(response)
}

/// Whether `v` is free of control bytes (HTAB aside).
fn printable(v: &[u8]) -> bool {
    v.iter().all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

/// A To tag that is the same for the same request: 16 hex digits of an FNV-1a hash.
fn derived_tag(parts: &[&[u8]]) -> [u8; 16] {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in part.iter().chain(b"\0") {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    let mut out = [0u8; 16];
    for (k, o) in out.iter_mut().enumerate() {
        *o = b"0123456789abcdef"[((h >> (60 - 4 * k)) & 0xf) as usize];
    }
    out
}

/// Header lines of a raw head that did not parse: `name: value` lines up to the first
/// empty line or the end, LF or CRLF ended. A folded header and a line without a colon
/// are skipped.
struct LenientHeaders<'a> {
    rest: &'a [u8],
}

impl<'a> LenientHeaders<'a> {
    fn new(raw: &'a [u8], start: usize) -> Self {
        LenientHeaders {
            rest: raw.get(start..).unwrap_or_default(),
        }
    }

    /// The next line without its line end; `None` at the end of the input.
    fn line(&mut self) -> Option<&'a [u8]> {
        if self.rest.is_empty() {
            return None;
        }
        let (line, rest) = match memchr::memchr(b'\n', self.rest) {
            Some(lf) => (self.rest.get(..lf)?, self.rest.get(lf + 1..)?),
            None => (self.rest, &b""[..]),
        };
        self.rest = rest;
        Some(line.strip_suffix(b"\r").unwrap_or(line))
    }
}

impl<'a> Iterator for LenientHeaders<'a> {
    type Item = (HeaderId, &'a [u8]);

    fn next(&mut self) -> Option<(HeaderId, &'a [u8])> {
        loop {
            let line = self.line()?;
            let Some(&first) = line.first() else {
                self.rest = &[];
                return None;
            };
            if is_ws(first) {
                continue;
            }
            if self.rest.first().is_some_and(|&b| is_ws(b)) {
                // A folded header: skip it with its continuation lines.
                while self.rest.first().is_some_and(|&b| is_ws(b)) {
                    self.line();
                }
                continue;
            }
            let Some(colon) = memchr::memchr(b':', line) else {
                continue;
            };
            let name = trim_ws(line.get(..colon).unwrap_or_default());
            let value = trim_ws(line.get(colon + 1..).unwrap_or_default());
            return Some((HeaderId::from_name(name), value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_lines() {
        let raw =
            b"X sip:a SIP/2.0\nVia: a\r\nbad line\r\nf: b\r\n  folded\r\nt :c\n\r\nbody: x\r\n";
        let start = answerable_request(raw).unwrap();
        let got: Vec<_> = LenientHeaders::new(raw, start).collect();
        assert_eq!(
            got,
            vec![(HeaderId::Via, &b"a"[..]), (HeaderId::To, &b"c"[..])]
        );
    }

    #[test]
    fn not_answerable() {
        assert_eq!(answerable_request(b"SIP/2.0 200 OK\r\n"), None);
        assert_eq!(answerable_request(b"ACK sip:a SIP/2.0\r\n"), None);
        assert_eq!(answerable_request(b"<garbage>\r\n"), None);
        assert_eq!(answerable_request(b"INVITE\r\n"), None);
        assert_eq!(answerable_request(b"\r\nBYE sip:x SIP/2.0\r\n"), Some(21));
    }

    #[test]
    fn tags_are_deterministic_hex() {
        let a = derived_tag(&[b"v", b"c"]);
        assert_eq!(a, derived_tag(&[b"v", b"c"]));
        assert_ne!(a, derived_tag(&[b"vc", b""]));
        assert!(a.iter().all(u8::is_ascii_hexdigit));
    }
}
