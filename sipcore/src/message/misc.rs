//! Small single-value headers: `Content-Type` (RFC 3261 §20.15), `Expires` (§20.19),
//! `Min-Expires` (§20.23) and `Retry-After` (§20.33).

use std::borrow::Cow;

use nom::Parser;

use super::{HeaderId, MessageBuf};
use crate::syntax::lex::{
    decimal, expect, fail, generic_params, quoted_string, run_all, sep, skip_ws, token, token_str,
    unquote, PResult, Params,
};
use crate::syntax::ParseError;

/// A media type: `type "/" subtype *( ";" attribute "=" value )`, values being tokens or
/// quoted strings. Type, subtype and attribute names compare case-insensitively.
///
/// ```
/// use sipcore::message::MediaType;
/// let t = MediaType::parse(b"multipart/mixed ; boundary=\"a;b\"; charset=UTF-8").unwrap();
/// assert!(t.is("Multipart", "MIXED"));
/// assert_eq!(t.param("boundary").as_deref(), Some("a;b"));
/// assert_eq!(t.param("Charset").as_deref(), Some("UTF-8"));
/// assert!(MediaType::parse(b"application").is_err());
/// assert!(MediaType::parse(b"text/plain;charset").is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaType<'a> {
    /// m-type, e.g. `application` (`type` is a keyword, hence the underscore).
    pub type_: &'a str,
    /// m-subtype, e.g. `sdp`.
    pub subtype: &'a str,
    /// Parameters (`;charset=...`); every one has a value.
    pub params: Params<'a>,
}

impl<'a> MediaType<'a> {
    /// Parses a media-type.
    pub fn parse(value: &'a [u8]) -> Result<MediaType<'a>, ParseError> {
        run_all(value, media_type)
    }

    /// Whether this is `type/subtype` (case-insensitive).
    pub fn is(&self, type_: &str, subtype: &str) -> bool {
        self.type_.eq_ignore_ascii_case(type_) && self.subtype.eq_ignore_ascii_case(subtype)
    }

    /// A parameter value, unquoted; `None` when absent or not UTF-8. Borrows unless the
    /// value has quoted-pairs.
    pub fn param(&self, name: &str) -> Option<Cow<'a, str>> {
        let v = self.params.get(name)?.value?;
        cow_str(unquote(v))
    }
}

/// `Cow<[u8]>` to `Cow<str>`, `None` if not UTF-8.
pub(crate) fn cow_str(v: Cow<'_, [u8]>) -> Option<Cow<'_, str>> {
    match v {
        Cow::Borrowed(b) => std::str::from_utf8(b).ok().map(Cow::Borrowed),
        Cow::Owned(o) => String::from_utf8(o).ok().map(Cow::Owned),
    }
}

fn media_type(i: &[u8]) -> PResult<'_, MediaType<'_>> {
    let (i, type_) = expect(token_str, "media type").parse(i)?;
    let (i, _) = sep(b'/')(i)?;
    let (i, subtype) = expect(token_str, "media subtype").parse(i)?;
    // m-parameter = m-attribute EQUAL m-value; m-value = token / quoted-string.
    let start = i;
    let mut rest = i;
    loop {
        let j = skip_ws(rest);
        if j.first() != Some(&b';') {
            break;
        }
        let (j, _) = sep(b';')(j)?;
        let (j, _) = expect(token, "parameter name").parse(j)?;
        let (j, _) = sep(b'=')(j)?;
        let (j, _) = if j.first() == Some(&b'"') {
            quoted_string(j)?
        } else {
            expect(token, "parameter value").parse(j)?
        };
        rest = j;
    }
    let raw = &start[..start.len() - rest.len()];
    Ok((
        rest,
        MediaType {
            type_,
            subtype,
            params: Params::new(raw),
        },
    ))
}

/// A `Retry-After` value: `delta-seconds [ comment ] *( ";" retry-param )`.
///
/// ```
/// use sipcore::message::RetryAfter;
/// let r = RetryAfter::parse(b"18000;duration=3600").unwrap();
/// assert_eq!((r.seconds, r.duration), (18000, Some(3600)));
/// let r = RetryAfter::parse(b"120 (I'm in a meeting)").unwrap();
/// assert_eq!(r.comment, Some(&b"I'm in a meeting"[..]));
/// assert!(RetryAfter::parse(b"120 (unclosed").is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter<'a> {
    /// Seconds to wait before retrying.
    pub seconds: u32,
    /// The comment between the outer parentheses, as written (nested comments and
    /// quoted-pairs not decoded).
    pub comment: Option<&'a [u8]>,
    /// The `duration` parameter: how long the callee will be reachable.
    pub duration: Option<u32>,
    /// All parameters, `duration` included.
    pub params: Params<'a>,
}

impl<'a> RetryAfter<'a> {
    /// Parses a Retry-After value.
    pub fn parse(value: &'a [u8]) -> Result<RetryAfter<'a>, ParseError> {
        run_all(value, retry_after)
    }
}

fn retry_after(i: &[u8]) -> PResult<'_, RetryAfter<'_>> {
    let (i, seconds) = decimal(i, u64::from(u32::MAX), "delta-seconds")?;
    let j = skip_ws(i);
    let (i, comment) = if j.first() == Some(&b'(') {
        let (k, c) = comment(j)?;
        (k, Some(c))
    } else {
        (i, None)
    };
    let (rest, raw) = generic_params(i)?;
    let params = Params::new(raw);
    let mut duration = None;
    for p in params {
        if p.name.eq_ignore_ascii_case("duration") {
            let v = p.value.unwrap_or_default();
            let ok = run_all(v, |v| decimal(v, u64::from(u32::MAX), "delta-seconds"));
            match ok {
                Ok(d) if duration.is_none() => duration = Some(d as u32),
                Ok(_) => return fail(v, "one duration parameter"),
                Err(_) => return fail(v, "duration in delta-seconds"),
            }
        }
    }
    Ok((
        rest,
        RetryAfter {
            seconds: seconds as u32,
            comment,
            duration,
            params,
        },
    ))
}

/// nom: a comment `( ... )` with nesting and quoted-pairs; returns the text inside the
/// outer parentheses.
fn comment(i: &[u8]) -> PResult<'_, &[u8]> {
    if i.first() != Some(&b'(') {
        return fail(i, "'('");
    }
    let mut depth = 0usize;
    let mut k = 0;
    while let Some(&b) = i.get(k) {
        match b {
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    let inner = i.get(1..k).unwrap_or_default();
                    return Ok((i.get(k + 1..).unwrap_or_default(), inner));
                }
            }
            b'\\' => match i.get(k + 1) {
                Some(&n) if n != b'\r' && n != b'\n' && n < 0x80 => k += 1,
                _ => return fail(i.get(k..).unwrap_or_default(), "quoted-pair"),
            },
            b'\t' => {}
            b if b < 0x20 || b == 0x7f => return fail(i.get(k..).unwrap_or_default(), "ctext"),
            _ => {}
        }
        k += 1;
    }
    fail(i.get(i.len()..).unwrap_or_default(), "')'")
}

fn delta_seconds(v: &[u8]) -> Result<u32, ParseError> {
    run_all(v, |i| {
        decimal(i, u64::from(u32::MAX), "delta-seconds (32 bit)")
    })
    .map(|n| n as u32)
}

impl MessageBuf {
    /// The `Content-Type` (`c`) header, `None` when absent.
    pub fn content_type(&self) -> Result<Option<MediaType<'_>>, ParseError> {
        self.view(HeaderId::ContentType, MediaType::parse)
    }

    /// The `Expires` header in seconds, `None` when absent. A value above 2^32-1 is an
    /// error (RFC 3261 allows only delta-seconds here, not a date).
    pub fn expires(&self) -> Result<Option<u32>, ParseError> {
        self.view(HeaderId::Expires, delta_seconds)
    }

    /// The `Min-Expires` header in seconds, `None` when absent.
    pub fn min_expires(&self) -> Result<Option<u32>, ParseError> {
        self.view(HeaderId::MinExpires, delta_seconds)
    }

    /// The `Retry-After` header, `None` when absent.
    pub fn retry_after(&self) -> Result<Option<RetryAfter<'_>>, ParseError> {
        self.view(HeaderId::RetryAfter, RetryAfter::parse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Message;

    fn msg(headers: &str) -> Message {
        let text = format!("SIP/2.0 503 Service Unavailable\r\n{headers}\r\n");
        Message::parse(bytes::Bytes::from(text)).unwrap()
    }

    #[test]
    fn content_type_forms() {
        let m = msg("c: application/sdp\r\n");
        let t = m.content_type().unwrap().unwrap();
        assert_eq!((t.type_, t.subtype), ("application", "sdp"));
        assert!(t.params.is_empty());
        let t = MediaType::parse(b"text/html; charset=ISO-8859-4").unwrap();
        assert_eq!(t.param("charset").as_deref(), Some("ISO-8859-4"));
        let t = MediaType::parse(b"text/plain;x=\"q\\\"uote\"").unwrap();
        assert_eq!(t.param("x").as_deref(), Some("q\"uote"));
        assert_eq!(t.param("y"), None);
        assert!(msg("").content_type().unwrap().is_none());
    }

    #[test]
    fn content_type_errors() {
        for bad in [
            &b""[..],
            b"application/",
            b"/sdp",
            b"application sdp",
            b"application/sdp;",
            b"application/sdp;charset=",
            b"application/sdp;charset=\"open",
            b"application/sdp x",
            b"appl@cation/sdp",
        ] {
            assert!(
                MediaType::parse(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let m = msg("Content-Type: application/sdp;;\r\n");
        let e = m.content_type().unwrap_err();
        assert_eq!(m.as_bytes()[e.offset()], b';');
    }

    #[test]
    fn expires_and_min_expires() {
        let m = msg("Expires: 3600\r\nMin-Expires: 60\r\n");
        assert_eq!(m.expires().unwrap(), Some(3600));
        assert_eq!(m.min_expires().unwrap(), Some(60));
        assert_eq!(
            msg("Expires: 4294967295\r\n").expires().unwrap(),
            Some(u32::MAX)
        );
        assert!(msg("Expires: 4294967296\r\n").expires().is_err());
        assert!(msg("Expires: Thu, 01 Dec 1994 16:00:00 GMT\r\n")
            .expires()
            .is_err());
        assert!(msg("Expires: -1\r\n").expires().is_err());
        assert!(msg("Min-Expires:\r\n").min_expires().is_err());
        assert_eq!(msg("").expires().unwrap(), None);
    }

    #[test]
    fn retry_after_forms() {
        let m = msg("Retry-After: 18000;duration=3600\r\n");
        let r = m.retry_after().unwrap().unwrap();
        assert_eq!(r.seconds, 18000);
        assert_eq!(r.duration, Some(3600));
        assert_eq!(r.comment, None);
        let m = msg("Retry-After: 120 (I'm in a meeting)\r\n");
        let r = m.retry_after().unwrap().unwrap();
        assert_eq!(r.seconds, 120);
        assert_eq!(r.comment, Some(&b"I'm in a meeting"[..]));
        assert_eq!(r.duration, None);
        let r = RetryAfter::parse(b"5 (a (nested \\) one) b) ; duration = 60 ; x").unwrap();
        assert_eq!(r.comment, Some(&b"a (nested \\) one) b"[..]));
        assert_eq!(r.duration, Some(60));
        assert!(r.params.get("x").is_some());
    }

    #[test]
    fn retry_after_errors() {
        for bad in [
            &b""[..],
            b"soon",
            b"120 (open",
            b"120 (a))",
            b"120 ()x",
            b"120;duration",
            b"120;duration=x",
            b"120;duration=4294967296",
            b"120;duration=1;duration=2",
            b"4294967296",
            b"120 (bad\\",
            b"120 (\x01)",
            b"120;",
        ] {
            assert!(
                RetryAfter::parse(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
