//! The start line and the header index: one pass over the head of a message.
//!
//! Lines are found with `memchr` (SIMD where available); each header line is split
//! into name and value spans and its name mapped to a [`HeaderId`]. Nothing is copied
//! unless a header is folded over several lines: then the folds' CRLFs are blanked
//! with two spaces in a copy of the buffer, which keeps every offset.

use bytes::{Bytes, BytesMut};

use crate::message::{
    Header, HeaderId, HeaderIndex, Message, MessageBuf, Method, Request, Response, Span, StatusCode,
};
use crate::syntax::lex::{self, is_token, is_ws, run_of, standard_method, SCHEME, TOKEN, WSP};
use crate::syntax::names::{known_name, word_at};
use crate::syntax::{ParseError, ParseErrorKind};

/// At most this many header lines per message: bounds the index to 28 KiB whatever the
/// input (a 64 KiB datagram of empty headers would otherwise index 21k lines).
pub const MAX_HEADERS: usize = 1024;

pub(crate) enum Start {
    Request {
        method: Method<'static>,
        method_span: Span,
        uri: Span,
    },
    Response {
        status: StatusCode,
        reason: Span,
    },
}

pub(crate) struct Head {
    start: Start,
    start_line: Span,
    pub(crate) headers: HeaderIndex,
    end: HeadEnd,
}

/// Where the header section ends, found by [`scan_headers`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct HeadEnd {
    /// Offset of the empty line.
    pub(crate) headers_end: usize,
    /// Offset of the first byte after the empty line.
    pub(crate) body_start: usize,
    /// Whether a header was folded over several lines.
    pub(crate) folded: bool,
}

/// Finds the end of the line starting at `pos`: the offset of its CR. Lines end in CRLF;
/// a bare LF is an error; `Ok(None)` when no LF follows in `buf`.
#[inline]
fn line_end(buf: &[u8], pos: usize) -> Result<Option<usize>, ParseError> {
    match find_lf(buf.get(pos..).unwrap_or_default()) {
        None => Ok(None),
        Some(k) => {
            let lf = pos + k;
            if lf == 0 || buf[lf - 1] != b'\r' || lf - 1 < pos {
                return Err(ParseError::malformed(lf, "CRLF"));
            }
            Ok(Some(lf - 1))
        }
    }
}

/// The offset of the first LF in `hay`, eight bytes at a time with word arithmetic:
/// inline, where a `memchr` call per line (through its CPU dispatch, for lines of 20-60
/// bytes) was a fifth of the parse time.
#[inline(always)]
fn find_lf(hay: &[u8]) -> Option<usize> {
    const LF: u64 = 0x0a0a_0a0a_0a0a_0a0a;
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // The lowest flagged byte is the first zero byte of `x` (borrows only run upwards
    // from a zero byte, so only bytes above it can be flagged falsely).
    let zeros = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let at = |t: u64| (t.trailing_zeros() / 8) as usize;
    // Sixteen bytes a step: a header value is 10 to 60 bytes.
    let mut pairs = hay.chunks_exact(16);
    for (i, p) in (&mut pairs).enumerate() {
        let lo = zeros(word_at(p, 0) ^ LF);
        let hi = zeros(word_at(p, 8) ^ LF);
        if lo | hi != 0 {
            return Some(i * 16 + if lo != 0 { at(lo) } else { 8 + at(hi) });
        }
    }
    let tail = pairs.remainder();
    let k = tail.iter().position(|&b| b == b'\n')?;
    Some(hay.len() - tail.len() + k)
}

/// Whether the token `name` equals `lower` (lowercase letters, digits and `-`, 2 to 16
/// bytes) ignoring ASCII case. OR-ing 0x20 folds case and maps no other token byte onto
/// a letter, digit or `-` (only control bytes would collide, and tokens have none), so
/// two overlapping 8- or 4-byte words compare the whole name.
#[inline(always)]
fn token_eq_lower(name: &[u8], lower: &[u8]) -> bool {
    #[inline(always)]
    fn w8(s: &[u8], at: usize) -> u64 {
        s.get(at..at + 8)
            .and_then(|w| w.try_into().ok())
            .map_or(0, u64::from_le_bytes)
    }
    #[inline(always)]
    fn w4(s: &[u8], at: usize) -> u32 {
        s.get(at..at + 4)
            .and_then(|w| w.try_into().ok())
            .map_or(0, u32::from_le_bytes)
    }
    const F8: u64 = 0x2020_2020_2020_2020;
    const F4: u32 = 0x2020_2020;
    let n = lower.len();
    if name.len() != n {
        return false;
    }
    match n {
        8..=16 => w8(name, 0) | F8 == w8(lower, 0) && w8(name, n - 8) | F8 == w8(lower, n - 8),
        4..=7 => w4(name, 0) | F4 == w4(lower, 0) && w4(name, n - 4) | F4 == w4(lower, n - 4),
        _ => name.iter().zip(lower).all(|(&a, &b)| a | 0x20 == b),
    }
}

/// [`HeaderId::from_name`] for a token, with the headers of every call compared first
/// (the full table costs ~90 instructions a line).
#[inline]
fn header_id(name: &[u8]) -> HeaderId {
    let hit = match name.len() {
        2 if token_eq_lower(name, b"to") => HeaderId::To,
        3 if token_eq_lower(name, b"via") => HeaderId::Via,
        4 if token_eq_lower(name, b"from") => HeaderId::From,
        4 if token_eq_lower(name, b"cseq") => HeaderId::CSeq,
        5 if token_eq_lower(name, b"route") => HeaderId::Route,
        7 if token_eq_lower(name, b"call-id") => HeaderId::CallId,
        7 if token_eq_lower(name, b"contact") => HeaderId::Contact,
        12 if token_eq_lower(name, b"max-forwards") => HeaderId::MaxForwards,
        12 if token_eq_lower(name, b"content-type") => HeaderId::ContentType,
        12 if token_eq_lower(name, b"record-route") => HeaderId::RecordRoute,
        14 if token_eq_lower(name, b"content-length") => HeaderId::ContentLength,
        _ => HeaderId::Other,
    };
    if hit == HeaderId::Other {
        HeaderId::from_name(name)
    } else {
        hit
    }
}

/// Whether `v` starts with `SIP/` in any case (one word compare: only the letters are
/// case-folded).
#[inline(always)]
fn starts_with_sip_slash(v: &[u8]) -> bool {
    v.first_chunk::<4>()
        .is_some_and(|w| u32::from_le_bytes(*w) | 0x0020_2020 == u32::from_le_bytes(*b"sip/"))
}

#[inline]
fn check_version(buf: &[u8], start: usize, end: usize) -> Result<(), ParseError> {
    let v = &buf[start..end];
    if v.len() == 7 && starts_with_sip_slash(v) && v.ends_with(b"2.0") {
        return Ok(());
    }
    check_version_slow(v, start)
}

#[cold]
fn check_version_slow(v: &[u8], start: usize) -> Result<(), ParseError> {
    if v.eq_ignore_ascii_case(b"SIP/2.0") {
        return Ok(());
    }
    // SIP/<digits>.<digits> is a version we do not support; anything else is garbage.
    let well_formed = v.len() > 4
        && v[..4].eq_ignore_ascii_case(b"SIP/")
        && match v[4..].iter().position(|&b| b == b'.') {
            Some(dot) => {
                let (major, minor) = (&v[4..4 + dot], &v[5 + dot..]);
                !major.is_empty()
                    && !minor.is_empty()
                    && major.iter().all(u8::is_ascii_digit)
                    && minor.iter().all(u8::is_ascii_digit)
            }
            None => false,
        };
    if well_formed {
        Err(ParseError::new(
            ParseErrorKind::UnsupportedVersion,
            start,
            "SIP/2.0",
        ))
    } else {
        Err(ParseError::malformed(start, "SIP-Version"))
    }
}

fn request_line(buf: &[u8], pos: usize, eol: usize) -> Result<Start, ParseError> {
    let line = &buf[pos..eol];
    let sp1 = run_of(line, 0, TOKEN);
    if sp1 == line.len() {
        return Err(ParseError::malformed(eol, "SP after method"));
    }
    if sp1 == 0 {
        return Err(ParseError::malformed(pos, "method"));
    }
    if line[sp1] != b' ' {
        return Err(ParseError::malformed(pos + sp1, "SP after method"));
    }
    let uri_start = sp1 + 1;
    let uri_len = lex::find_ctl_or(&line[uri_start..], 0x7f)
        .ok_or(ParseError::malformed(eol, "SP after Request-URI"))?;
    let uri_end = uri_start + uri_len;
    if line[uri_end] != b' ' {
        return Err(ParseError::malformed(pos + uri_end, "SP after Request-URI"));
    }
    let uri = &line[uri_start..uri_end];
    if uri.is_empty() {
        return Err(ParseError::malformed(pos + uri_start, "Request-URI"));
    }
    if uri[0] == b'<' {
        return Err(ParseError::malformed(
            pos + uri_start,
            "Request-URI without '<' '>'",
        ));
    }
    let scheme_len = run_of(uri, 0, SCHEME);
    if scheme_len == 0 || !uri[0].is_ascii_alphabetic() || uri.get(scheme_len) != Some(&b':') {
        return Err(ParseError::malformed(pos + uri_start, "URI scheme"));
    }
    let version_start = uri_end + 1;
    check_version(buf, pos + version_start, eol)?;
    // Method tokens are ASCII; the lifetime is tied to the buffer via the span.
    // Standard methods by their bytes; an extension's text is read from the span.
    let method = standard_method(&line[..sp1]).unwrap_or(Method::Extension(""));
    Ok(Start::Request {
        method,
        method_span: Span::new(pos, pos + sp1),
        uri: Span::new(pos + uri_start, pos + uri_end),
    })
}

fn status_line(buf: &[u8], pos: usize, eol: usize) -> Result<Start, ParseError> {
    let line = &buf[pos..eol];
    let sp = line
        .iter()
        .position(|&b| b == b' ')
        .ok_or(ParseError::malformed(eol, "SP after SIP-Version"))?;
    check_version(buf, pos, pos + sp)?;
    let code_start = sp + 1;
    let digits = line[code_start..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    let after = code_start + digits;
    if digits != 3 || (after < line.len() && line[after] != b' ') {
        return Err(ParseError::malformed(
            pos + code_start,
            "3-digit status code",
        ));
    }
    let code = line[code_start..after]
        .iter()
        .fold(0u16, |v, &d| v * 10 + u16::from(d - b'0'));
    let status = StatusCode::new(code).ok_or(ParseError::malformed(
        pos + code_start,
        "status code 100-699",
    ))?;
    let reason_start = (after + 1).min(line.len());
    if let Some(bad) = line[reason_start..]
        .iter()
        .position(|&b| (b < 0x20 && b != b'\t') || b == 0x7f)
    {
        return Err(ParseError::malformed(
            pos + reason_start + bad,
            "reason phrase character",
        ));
    }
    Ok(Start::Response {
        status,
        reason: Span::new(pos + reason_start, eol),
    })
}

/// Parses the start line of `buf` (leading CRLFs are skipped, RFC 3261 §7.5): what it
/// says, its span without the CRLF, and the offset of the first header line.
#[inline(never)]
pub(crate) fn scan_start(buf: &[u8]) -> Result<(Start, Span, usize), ParseError> {
    if buf.len() > u32::MAX as usize {
        return Err(ParseError::new(
            ParseErrorKind::TooLarge,
            0,
            "message under 4 GiB",
        ));
    }
    let mut pos = 0;
    while buf.get(pos..pos + 2) == Some(b"\r\n") {
        pos += 2;
    }
    let eol = line_end(buf, pos)?.ok_or(ParseError::new(
        ParseErrorKind::Incomplete,
        buf.len(),
        "CRLF after start line",
    ))?;
    let start = if starts_with_sip_slash(buf.get(pos..).unwrap_or_default()) {
        status_line(buf, pos, eol)?
    } else {
        request_line(buf, pos, eol)?
    };
    Ok((start, Span::new(pos, eol), eol + 2))
}

/// Parses the header lines of `buf` from `pos` up to the empty line ending them, adding
/// one entry per header to `headers` (which the caller passes empty, in its final place:
/// the index of a message is built where it stays, never moved).
pub(crate) fn scan_headers(
    buf: &[u8],
    mut pos: usize,
    headers: &mut HeaderIndex,
) -> Result<HeadEnd, ParseError> {
    let mut folded = false;
    let mut ends = [0usize; BATCH];
    loop {
        // The ends of the next lines first, then the lines: the line ends no longer
        // wait for the parsing of each line before them.
        let (n, control) = find_lfs(buf, pos, &mut ends);
        if n == 0 {
            if let Some(at) = control {
                return Err(control_byte(at));
            }
            return Err(ParseError::new(
                ParseErrorKind::Incomplete,
                buf.len(),
                "empty line after headers",
            ));
        }
        for &lf in ends.iter().take(n) {
            if lf == 0 || lf - 1 < pos || buf.get(lf - 1) != Some(&b'\r') {
                return Err(ParseError::malformed(lf, "CRLF"));
            }
            let eol = lf - 1;
            if eol == pos {
                return Ok(HeadEnd {
                    headers_end: pos,
                    body_start: pos + 2,
                    folded,
                });
            }
            header_line(buf, pos, eol, headers, &mut folded)?;
            pos = lf + 1;
        }
        if let Some(at) = control {
            return Err(control_byte(at));
        }
    }
}

/// A control byte in a header line: never forwarded, answered 400.
fn control_byte(at: usize) -> ParseError {
    ParseError::new(
        ParseErrorKind::ControlCharacter,
        at,
        "no control byte in a header line",
    )
}

/// Line ends found per call of [`find_lfs`].
const BATCH: usize = 32;

/// The offsets of the LFs of `buf` from `from` on, in order, into `out`: as many as fit,
/// stopping after the first that ends a line of at most one byte (the empty line
/// ending the head, or a malformed one) so that the body is not searched. How many,
/// and the offset of a control byte met before that stop, where the search ends.
///
/// Every byte on the way is checked in the same pass: a header line may hold HTAB and
/// octets from 0x20 up, DEL (0x7f) excepted; a CR only right before its LF (a bare LF
/// is caught by the caller, which wants a CR before every LF). Both header paths, the
/// common-name fast path and the general one, read only lines this has passed.
#[inline]
fn find_lfs(buf: &[u8], from: usize, out: &mut [usize; BATCH]) -> (usize, Option<usize>) {
    let mut n = 0;
    let mut prev = from.wrapping_sub(1);
    let mut push = |lf: usize| {
        if let Some(slot) = out.get_mut(n) {
            *slot = lf;
            n += 1;
        }
        let last = lf.wrapping_sub(prev) <= 2 || n == BATCH;
        prev = lf;
        last
    };
    let hay = buf.get(from..).unwrap_or_default();
    // Sixteen bytes a step, and a branch only where there is a control byte (a line is
    // 10 to 80 bytes, and has its CR and LF).
    let mut blocks = hay.chunks_exact(16);
    let mut base = from;
    for b in &mut blocks {
        let (lo, hi) = (control_bytes(word_at(b, 0)), control_bytes(word_at(b, 8)));
        if lo | hi != 0 {
            for (mut t, off) in [(lo, 0), (hi, 8)] {
                while t != 0 {
                    let k = (off + (t.trailing_zeros() / 8) as usize) & 15;
                    t &= t - 1;
                    // The common cases first, read from the block: an LF, a CR before
                    // its LF.
                    let p = base + k;
                    match b[k] {
                        b'\n' => {
                            if push(p) {
                                return (n, None);
                            }
                        }
                        b'\r' if b.get(k + 1) == Some(&b'\n') => {}
                        _ if allowed_control(buf, p) => {}
                        _ => return (n, Some(p)),
                    }
                }
            }
        }
        base += 16;
    }
    for (k, &b) in blocks.remainder().iter().enumerate() {
        let p = base + k;
        if b == b'\n' {
            if push(p) {
                break;
            }
        } else if (b < 0x20 || b == 0x7f) && !allowed_control(buf, p) {
            return (n, Some(p));
        }
    }
    (n, None)
}

/// Whether the control byte at `at` (not an LF) may stand in a header line: HTAB, a CR
/// before an LF, or a CR ending the input (the caller reports the missing LF).
#[inline]
fn allowed_control(buf: &[u8], at: usize) -> bool {
    match buf.get(at) {
        Some(b'\t') => true,
        Some(b'\r') => matches!(buf.get(at + 1), Some(b'\n') | None),
        _ => false,
    }
}

/// The high bit of every byte of `w` that is a control byte: below 0x20 or DEL (exact:
/// with the high bits masked off no sum carries into the next byte).
#[inline(always)]
fn control_bytes(w: u64) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const ONES: u64 = 0x0101_0101_0101_0101;
    // 0x60 takes 0x20..=0x7f over 0x80; below 0x20 stays below it.
    const TO_SPACE: u64 = 0x6060_6060_6060_6060;
    let m = w & LOW7;
    let below_space = !((m + TO_SPACE) | w) & HIGH;
    // 0x01 takes only 0x7f to 0x80 (and 0xff, which has its high bit set already).
    let del = (m + ONES) & !w & HIGH;
    below_space | del
}

/// One header line `[pos, eol)` (not empty, CRLF checked): an entry of `headers`, or a
/// continuation of the last one (`folded` is then set).
#[inline(always)]
fn header_line(
    buf: &[u8],
    pos: usize,
    eol: usize,
    headers: &mut HeaderIndex,
    folded: &mut bool,
) -> Result<(), ParseError> {
    if let Some((id, name_len)) = known_name(buf, pos) {
        // `Name:` of a common header (the general path below gives the same entry,
        // one byte at a time): the value starts after the colon and white space. The
        // name and colon match no CR or LF, so they are inside the line.
        if headers.len() == MAX_HEADERS {
            return Err(ParseError::new(
                ParseErrorKind::TooLarge,
                pos,
                "at most 1024 header lines",
            ));
        }
        let k = run_of(buf, pos + name_len + 1, WSP).min(eol);
        let mut end = eol;
        while end > k && buf.get(end - 1).is_some_and(|&b| is_ws(b)) {
            end -= 1;
        }
        headers.push(Header::new(
            id,
            pos,
            name_len as u16,
            Span::new(k, end),
            eol + 2,
        ));
        return Ok(());
    }
    let line = &buf[pos..eol];
    if is_ws(line[0]) {
        // Continuation of a folded header (RFC 3261 §7.3.1).
        let Some(last) = headers.last_mut() else {
            return Err(ParseError::malformed(pos, "header name"));
        };
        *folded = true;
        let trimmed = line.len() - line.iter().rev().take_while(|&&b| is_ws(b)).count();
        if trimmed > 0 {
            let mut value = last.value();
            if value.is_empty() {
                let lead = line.iter().take_while(|&&b| is_ws(b)).count();
                value.start = (pos + lead) as u32;
            }
            value.end = (pos + trimmed) as u32;
            last.set_value(value);
        }
        last.set_line_end(eol + 2);
    } else {
        if headers.len() == MAX_HEADERS {
            return Err(ParseError::new(
                ParseErrorKind::TooLarge,
                pos,
                "at most 1024 header lines",
            ));
        }
        let name_len = line.iter().take_while(|&&b| is_token(b)).count();
        if name_len == 0 {
            return Err(ParseError::malformed(pos, "header name"));
        }
        let mut k = name_len;
        while k < line.len() && is_ws(line[k]) {
            k += 1;
        }
        if line.get(k) != Some(&b':') {
            return Err(ParseError::malformed(pos + k, "':' after header name"));
        }
        k += 1;
        while k < line.len() && is_ws(line[k]) {
            k += 1;
        }
        let end = line.len() - line[k..].iter().rev().take_while(|&&b| is_ws(b)).count();
        let Ok(short_name) = u16::try_from(name_len) else {
            return Err(ParseError::malformed(pos, "header name under 64 KiB"));
        };
        headers.push(Header::new(
            header_id(&line[..name_len]),
            pos,
            short_name,
            Span::new(pos + k, pos + end),
            eol + 2,
        ));
    }
    Ok(())
}

/// Parses the start line and the header lines of `buf`, which must contain the empty
/// line ending the head (the stream framer's entry; datagrams fill their message in
/// place with [`scan_start`] and [`scan_headers`]).
pub(crate) fn scan_head(buf: &[u8]) -> Result<Head, ParseError> {
    let (start, start_line, pos) = scan_start(buf)?;
    let mut headers = HeaderIndex::new();
    let end = scan_headers(buf, pos, &mut headers)?;
    Ok(Head {
        start,
        start_line,
        headers,
        end,
    })
}

/// Content-Length of a message with the header index `headers` over `buf`, if present.
/// With `strict_single`, several Content-Length headers with different values are an
/// error (stream framing must not guess); otherwise the first one counts and
/// `validate()` reports the rest.
pub(crate) fn content_length(
    headers: &[Header],
    buf: &[u8],
    strict_single: bool,
) -> Result<Option<usize>, ParseError> {
    let mut found: Option<usize> = None;
    for h in headers.iter().filter(|h| h.id == HeaderId::ContentLength) {
        let v = buf.get(h.value().range()).unwrap_or_default();
        let n = crate::message::parse_decimal(v, u64::from(u32::MAX))
            .map_err(|e| e.shifted(h.value().start as usize))? as usize;
        match found {
            None if !strict_single => return Ok(Some(n)),
            None => found = Some(n),
            Some(prev) if prev != n => {
                return Err(ParseError::malformed(
                    h.value().start as usize,
                    "one Content-Length value",
                ))
            }
            Some(_) => {}
        }
    }
    Ok(found)
}

impl Start {
    /// The message this start line begins, with the rest of it in `head`.
    #[inline]
    pub(crate) fn into_message(self, head: MessageBuf) -> Message {
        match self {
            Start::Request {
                method,
                method_span,
                uri,
            } => Message::Request(Request {
                head,
                method,
                method_span,
                uri,
            }),
            Start::Response { status, reason } => Message::Response(Response {
                head,
                status,
                reason,
            }),
        }
    }
}

/// The common part of a message over `buf` with its start line only (the index, the
/// head's end and the body are filled in place).
#[inline]
pub(crate) fn empty(buf: Bytes, start_line: Span) -> MessageBuf {
    MessageBuf {
        buf,
        start_line,
        headers: HeaderIndex::new(),
        headers_end: 0,
        body: Span::default(),
    }
}

/// The common part of a message over `buf` with the index `headers`, the head ending as
/// `end` says and the body `[end.body_start, body_end)`; a folded head gets its folds
/// blanked in a copy of the buffer.
#[inline]
pub(crate) fn message_buf(
    buf: Bytes,
    start_line: Span,
    headers: HeaderIndex,
    end: HeadEnd,
    body_end: usize,
) -> MessageBuf {
    MessageBuf {
        buf: if end.folded {
            unfold(&buf, end.headers_end)
        } else {
            buf
        },
        start_line,
        headers,
        headers_end: end.headers_end as u32,
        body: Span::new(end.body_start, body_end),
    }
}

impl Head {
    /// Content-Length of the message, if present; see [`content_length`].
    pub(crate) fn content_length(
        &self,
        buf: &[u8],
        strict_single: bool,
    ) -> Result<Option<usize>, ParseError> {
        content_length(&self.headers, buf, strict_single)
    }

    /// Builds the message over `buf` with the body `[body_start, body_end)`.
    pub(crate) fn into_message(self, buf: Bytes, body_end: usize) -> Message {
        self.start.into_message(message_buf(
            buf,
            self.start_line,
            self.headers,
            self.end,
            body_end,
        ))
    }
}

/// A copy of `buf` with the CRLF of every fold in the header section replaced by two
/// spaces, so header values can be read as single lines at unchanged offsets.
pub(crate) fn unfold(buf: &Bytes, headers_end: usize) -> Bytes {
    let mut out = BytesMut::from(&buf[..]);
    let mut pos = 0;
    while let Some(k) = memchr::memmem::find(&out[pos..headers_end], b"\r\n") {
        let cr = pos + k;
        if out.get(cr + 2).is_some_and(|&b| is_ws(b)) {
            out[cr] = b' ';
            out[cr + 1] = b' ';
        }
        pos = cr + 2;
    }
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_id_agrees_with_the_full_table() {
        let names: &[&[u8]] = &[
            b"To",
            b"TO",
            b"tO",
            b"Via",
            b"VIA",
            b"From",
            b"fROM",
            b"CSeq",
            b"cseq",
            b"Route",
            b"Call-ID",
            b"call-id",
            b"Contact",
            b"CONTACT",
            b"Max-Forwards",
            b"Content-Type",
            b"Record-Route",
            b"Content-Length",
            b"content-LENGTH",
            b"v",
            b"i",
            b"l",
            b"X",
            b"Tx",
            b"Vib",
            b"Fro",
            b"Call-IDs",
            b"Contacts",
            b"Max-Forward",
            b"Content-Lengt",
            b"Content-Lengtx",
            b"Subject",
            b"Expires",
            b"Allow",
            b"Record-Routes",
            b"To2",
            b"C%6Fntact",
            b"Max_Forwards",
            b"Content.Length",
        ];
        for name in names {
            assert_eq!(
                header_id(name),
                HeaderId::from_name(name),
                "{:?}",
                String::from_utf8_lossy(name)
            );
        }
    }

    /// Many header lines, folded ones among them, across the batches of line ends: every
    /// entry has the name and value it was written with.
    #[test]
    fn long_heads_across_line_batches() {
        for n in [0, 1, 30, 31, 32, 33, 63, 64, 65, 100] {
            for fold_every in [0, 1, 7, 31] {
                let mut text = String::from("OPTIONS sip:a@b SIP/2.0\r\n");
                let mut expect = Vec::new();
                for i in 0..n {
                    let name = ["Via", "X-Custom", "cseq", "v", "Content-Length "][i % 5];
                    let value = if i % 5 == 4 {
                        "0".to_string()
                    } else {
                        format!("v{i}")
                    };
                    if fold_every > 0 && i % fold_every == 0 {
                        text.push_str(&format!("{name}:\r\n  {value} \r\n"));
                    } else {
                        text.push_str(&format!("{name}: {value}\r\n"));
                    }
                    expect.push((name.trim_end().to_string(), value));
                }
                text.push_str("\r\n");
                let m = crate::parse::parse_datagram(Bytes::from(text.clone())).unwrap();
                let got: Vec<_> = m
                    .headers()
                    .iter()
                    .map(|h| {
                        (
                            String::from_utf8_lossy(m.slice(h.name())).into_owned(),
                            String::from_utf8_lossy(m.slice(h.value())).into_owned(),
                        )
                    })
                    .collect();
                assert_eq!(got, expect, "{n} {fold_every}");
                assert_eq!(m.headers_end(), text.len() - 2);
                for h in m.headers() {
                    assert_eq!(h.id, HeaderId::from_name(m.slice(h.name())));
                }
            }
        }
    }

    #[test]
    fn standard_methods_by_bytes() {
        let m = |line: &'static [u8]| match scan_head(line).unwrap().start {
            Start::Request { method, .. } => method,
            Start::Response { .. } => panic!("a request"),
        };
        assert_eq!(m(b"INVITE sip:a@b SIP/2.0\r\n\r\n"), Method::Invite);
        assert_eq!(m(b"PUBLISH sip:a@b SIP/2.0\r\n\r\n"), Method::Publish);
        assert_eq!(m(b"invite sip:a@b SIP/2.0\r\n\r\n"), Method::Extension(""));
        assert_eq!(m(b"INVITEX sip:a@b SIP/2.0\r\n\r\n"), Method::Extension(""));
    }
}
