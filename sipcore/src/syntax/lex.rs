//! Lexical building blocks of the RFC 3261 §25 grammar, as nom parsers over `&[u8]`.
//!
//! Header values reach the typed views already unfolded (a folded line's CRLF is turned
//! into two spaces, keeping every offset), so linear white space here is only SP and HT.
//! Byte classes are 256-entry tables, as in httparse: one load per byte on the hot path.

use nom::error::{ErrorKind, ParseError as NomParseError};
use nom::{IResult, Parser};

use super::error::{ParseError, ParseErrorKind};

/// nom error carrying the remaining input and what was expected there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SipErr<'a> {
    pub(crate) rest: &'a [u8],
    pub(crate) expected: &'static str,
}

impl<'a> NomParseError<&'a [u8]> for SipErr<'a> {
    fn from_error_kind(input: &'a [u8], kind: ErrorKind) -> Self {
        SipErr {
            rest: input,
            expected: match kind {
                ErrorKind::Tag => "literal",
                ErrorKind::Digit => "digit",
                _ => "valid syntax",
            },
        }
    }
    fn append(_: &'a [u8], _: ErrorKind, other: Self) -> Self {
        other
    }
}

/// Result type of the internal nom parsers.
pub(crate) type PResult<'a, O> = IResult<&'a [u8], O, SipErr<'a>>;

/// Fails with `expected` at `rest`.
pub(crate) fn fail<'a, O>(rest: &'a [u8], expected: &'static str) -> PResult<'a, O> {
    Err(nom::Err::Error(SipErr { rest, expected }))
}

/// Names what `parser` expected when it fails, so errors read "expected token" rather
/// than nom's combinator names.
pub(crate) fn expect<'a, O>(
    mut parser: impl Parser<&'a [u8], Output = O, Error = SipErr<'a>>,
    expected: &'static str,
) -> impl Parser<&'a [u8], Output = O, Error = SipErr<'a>> {
    move |i: &'a [u8]| match parser.parse(i) {
        Err(nom::Err::Error(_)) => fail(i, expected),
        other => other,
    }
}

/// Runs `parser` over the whole of `input`: trailing white space is allowed, anything
/// else left over is an error. Offsets in the error are relative to `input`.
pub(crate) fn run_all<'a, O>(
    input: &'a [u8],
    mut parser: impl Parser<&'a [u8], Output = O, Error = SipErr<'a>>,
) -> Result<O, ParseError> {
    match parser.parse(input) {
        Ok((rest, out)) => {
            let rest = skip_ws(rest);
            if rest.is_empty() {
                Ok(out)
            } else {
                Err(ParseError::malformed(
                    input.len() - rest.len(),
                    "end of value",
                ))
            }
        }
        Err(nom::Err::Error(e)) | Err(nom::Err::Failure(e)) => Err(to_parse_error(input, e)),
        Err(nom::Err::Incomplete(_)) => Err(ParseError::malformed(input.len(), "more input")),
    }
}

/// Converts a nom error to a [`ParseError`] with an offset relative to `input`.
pub(crate) fn to_parse_error(input: &[u8], e: SipErr<'_>) -> ParseError {
    let offset = input.len().saturating_sub(e.rest.len());
    ParseError::new(ParseErrorKind::Malformed, offset, e.expected)
}

// Byte classes (RFC 3261 §25.1).
pub(crate) const TOKEN: u16 = 1;
pub(crate) const WORD: u16 = 2; // Call-ID words: token plus ( ) < > : \ " / [ ] ? { }
const UNRESERVED: u16 = 4; // alphanum / mark
const USER_UNRES: u16 = 8; // & = + $ , ; ? /
const PARAM_UNRES: u16 = 16; // [ ] / : & + $
const HNV_UNRES: u16 = 32; // [ ] / ? : + $
const PASSWORD: u16 = 64; // & = + $ ,
/// A parameter value without quotes or brackets: token plus `:` (see [`gen_value`]).
pub(crate) const VALUE: u16 = 128;
/// A hostname or IPv4 address: alphanum, `-`, `.`.
pub(crate) const HOSTNAME: u16 = 256;
/// A digit.
pub(crate) const DIGIT: u16 = 512;
/// SP or HT.
pub(crate) const WSP: u16 = 1024;
/// A URI scheme character after the first: alphanum, `+`, `-`, `.`.
pub(crate) const SCHEME: u16 = 2048;

const fn classes() -> [u16; 256] {
    let mut t = [0u16; 256];
    let mut c = 0usize;
    while c < 256 {
        let b = c as u8;
        let alnum = b.is_ascii_alphanumeric();
        let mark = matches!(
            b,
            b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
        );
        let mut v = 0u16;
        if alnum
            || matches!(
                b,
                b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
            )
        {
            v |= TOKEN | WORD | VALUE;
        }
        if b == b':' {
            v |= VALUE;
        }
        if alnum || b == b'-' || b == b'.' {
            v |= HOSTNAME;
        }
        if b.is_ascii_digit() {
            v |= DIGIT;
        }
        if b == b' ' || b == b'\t' {
            v |= WSP;
        }
        if alnum || b == b'+' || b == b'-' || b == b'.' {
            v |= SCHEME;
        }
        if matches!(
            b,
            b'(' | b')'
                | b'<'
                | b'>'
                | b':'
                | b'\\'
                | b'"'
                | b'/'
                | b'['
                | b']'
                | b'?'
                | b'{'
                | b'}'
        ) {
            v |= WORD;
        }
        if alnum || mark {
            v |= UNRESERVED;
        }
        if matches!(b, b'&' | b'=' | b'+' | b'$' | b',' | b';' | b'?' | b'/') {
            v |= USER_UNRES;
        }
        if matches!(b, b'[' | b']' | b'/' | b':' | b'&' | b'+' | b'$') {
            v |= PARAM_UNRES;
        }
        if matches!(b, b'[' | b']' | b'/' | b'?' | b':' | b'+' | b'$') {
            v |= HNV_UNRES;
        }
        if matches!(b, b'&' | b'=' | b'+' | b'$' | b',') {
            v |= PASSWORD;
        }
        t[c] = v;
        c += 1;
    }
    t
}

static CLASS: [u16; 256] = classes();

/// The offset of the first byte of `hay` that is a control byte, SP, or `stop` (DEL
/// ends a Request-URI, `>` a bracketed URI), eight bytes at a time.
#[inline]
pub(crate) fn find_ctl_or(hay: &[u8], stop: u8) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let stops = ONES * u64::from(stop);
    let mut words = hay.chunks_exact(8);
    for (i, w) in (&mut words).enumerate() {
        let x = super::names::word_at(w, 0);
        // Bytes under 0x21, and bytes equal to `stop`: in each term only bytes above its
        // first hit can be flagged falsely, so the lowest flag of the two is exact.
        let d = x ^ stops;
        let t = (x.wrapping_sub(0x21 * ONES) & !x & HIGH) | (d.wrapping_sub(ONES) & !d & HIGH);
        if t != 0 {
            return Some(i * 8 + (t.trailing_zeros() / 8) as usize);
        }
    }
    let tail = words.remainder();
    let k = tail.iter().position(|&b| b <= b' ' || b == stop)?;
    Some(hay.len() - tail.len() + k)
}

/// The end of the run of bytes of `class` (one of the class constants, or several
/// or-ed) in `b` starting at `from`: the offset of the first byte not in it, or `b.len()`.
#[inline(always)]
pub(crate) fn run_of(b: &[u8], from: usize, class: u16) -> usize {
    let rest = b.get(from..).unwrap_or_default();
    from + rest
        .iter()
        .position(|&c| CLASS[c as usize] & class == 0)
        .unwrap_or(rest.len())
}

/// `token` character (RFC 3261 §25.1).
#[inline]
pub fn is_token(b: u8) -> bool {
    CLASS[b as usize] & TOKEN != 0
}
/// SP or HT.
#[inline]
pub fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Skips SP and HT.
#[inline]
pub fn skip_ws(i: &[u8]) -> &[u8] {
    let n = i.iter().take_while(|&&b| is_ws(b)).count();
    &i[n..]
}

/// Strips SP and HT from both ends.
#[inline]
pub fn trim_ws(i: &[u8]) -> &[u8] {
    let start = i.iter().take_while(|&&b| is_ws(b)).count();
    let end = i.len() - i[start..].iter().rev().take_while(|&&b| is_ws(b)).count();
    &i[start..end]
}

/// nom: one or more `token` characters.
pub(crate) fn token(i: &[u8]) -> PResult<'_, &[u8]> {
    let n = i.iter().take_while(|&&b| is_token(b)).count();
    if n == 0 {
        return fail(i, "token");
    }
    Ok((&i[n..], &i[..n]))
}

/// `token` as `&str` (tokens are ASCII, so this never fails).
pub(crate) fn token_str(i: &[u8]) -> PResult<'_, &str> {
    let (rest, t) = token(i)?;
    match std::str::from_utf8(t) {
        Ok(s) => Ok((rest, s)),
        Err(_) => fail(i, "token"),
    }
}

/// nom: `c` surrounded by optional white space (SEMI, COMMA, EQUAL, SLASH, COLON ...).
pub(crate) fn sep(c: u8) -> impl Fn(&[u8]) -> PResult<'_, ()> {
    move |i: &[u8]| {
        let j = skip_ws(i);
        match j.first() {
            Some(&b) if b == c => Ok((skip_ws(&j[1..]), ())),
            _ => fail(j, sep_name(c)),
        }
    }
}

fn sep_name(c: u8) -> &'static str {
    match c {
        b';' => "';'",
        b',' => "','",
        b'=' => "'='",
        b'/' => "'/'",
        b':' => "':'",
        b'>' => "'>'",
        b'<' => "'<'",
        _ => "separator",
    }
}

/// nom: a quoted-string including its quotes. qdtext allows UTF-8; quoted-pair
/// escapes any octet but CR and LF.
pub(crate) fn quoted_string(i: &[u8]) -> PResult<'_, &[u8]> {
    if i.first() != Some(&b'"') {
        return fail(i, "'\"'");
    }
    let mut k = 1;
    while k < i.len() {
        match i[k] {
            b'"' => return Ok((&i[k + 1..], &i[..k + 1])),
            b'\\' => match i.get(k + 1) {
                Some(&b) if b != b'\r' && b != b'\n' && b < 0x80 => k += 2,
                _ => return fail(&i[k..], "quoted-pair"),
            },
            b'\r' | b'\n' => return fail(&i[k..], "closing '\"'"),
            b if b < 0x20 && b != b'\t' => return fail(&i[k..], "qdtext"),
            0x7f => return fail(&i[k..], "qdtext"),
            _ => k += 1,
        }
    }
    fail(&i[i.len()..], "closing '\"'")
}

/// The content of a quoted string without its quotes and with quoted-pairs kept
/// (borrowed); use [`unquote`] for the decoded text.
pub fn quoted_inner(q: &[u8]) -> &[u8] {
    if q.len() >= 2 && q[0] == b'"' && q[q.len() - 1] == b'"' {
        &q[1..q.len() - 1]
    } else {
        q
    }
}

/// Decodes a quoted-string (with or without its quotes): removes the backslash of
/// each quoted-pair. Borrows when there is nothing to decode.
pub fn unquote(q: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let inner = quoted_inner(q);
    if !inner.contains(&b'\\') {
        return std::borrow::Cow::Borrowed(inner);
    }
    let mut out = Vec::with_capacity(inner.len());
    let mut it = inner.iter();
    while let Some(&b) = it.next() {
        if b == b'\\' {
            if let Some(&n) = it.next() {
                out.push(n);
            }
        } else {
            out.push(b);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// nom: gen-value = token / host / quoted-string (host covers IPv6 references).
#[inline]
pub(crate) fn gen_value(i: &[u8]) -> PResult<'_, &[u8]> {
    match i.first() {
        Some(b'"') => quoted_string(i),
        Some(b'[') => match memchr::memchr(b']', i) {
            Some(end)
                if i[1..end]
                    .iter()
                    .all(|&b| b.is_ascii_hexdigit() || b == b':' || b == b'.') =>
            {
                Ok((&i[end + 1..], &i[..end + 1]))
            }
            _ => fail(i, "IPv6 reference"),
        },
        _ => {
            // token, plus ':' so an unbracketed IPv6 `received=` (RFC 5118 §4.5) parses.
            let n = run_of(i, 0, VALUE);
            if n == 0 {
                return fail(i, "parameter value");
            }
            Ok((&i[n..], &i[..n]))
        }
    }
}

/// nom: host = hostname / IPv4address / IPv6reference (RFC 3261 §25.1), returned with
/// brackets kept for IPv6. Hostname labels are checked for characters only.
pub(crate) fn host(i: &[u8]) -> PResult<'_, &str> {
    let (rest, h) = if i.first() == Some(&b'[') {
        match memchr::memchr(b']', i) {
            Some(end)
                if end > 2
                    && i[1..end]
                        .iter()
                        .all(|&b| b.is_ascii_hexdigit() || b == b':' || b == b'.') =>
            {
                (&i[end + 1..], &i[..end + 1])
            }
            _ => return fail(i, "IPv6 reference"),
        }
    } else {
        let n = i
            .iter()
            .take_while(|&&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
            .count();
        if n == 0 {
            return fail(i, "host");
        }
        (&i[n..], &i[..n])
    };
    // Only ASCII was accepted above.
    Ok((rest, std::str::from_utf8(h).unwrap_or_default()))
}

/// nom: port = 1*DIGIT, at most 65535.
pub(crate) fn port(i: &[u8]) -> PResult<'_, u16> {
    let (rest, v) = decimal(i, u64::from(u16::MAX), "port")?;
    Ok((rest, v as u16))
}

/// One `;name[=value]` generic parameter of a header (Via, Contact, To ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param<'a> {
    /// Parameter name as it appears (compare case-insensitively).
    pub name: &'a str,
    /// Raw value (a quoted-string keeps its quotes); `None` for a flag parameter.
    pub value: Option<&'a [u8]>,
}

impl<'a> Param<'a> {
    /// The value as `&str` if it is valid UTF-8 (tokens and hosts always are).
    pub fn value_str(&self) -> Option<&'a str> {
        self.value.and_then(|v| std::str::from_utf8(v).ok())
    }
}

/// nom: `*( SEMI generic-param )`, collected as the raw span so views stay `Copy` and
/// allocation-free; iterate it with [`Params`].
#[cfg_attr(not(test), allow(dead_code))] // used by the header views of other branches
pub(crate) fn generic_params(i: &[u8]) -> PResult<'_, &[u8]> {
    let (rest, (raw, _)) = params_with(i, "", |_, _| true)?;
    Ok((rest, raw))
}

/// [`generic_params`] in one pass that also checks each parameter with `check(name,
/// value)` (failing with "valid parameter" at that parameter when it returns false) and
/// returns the value of the first parameter named `key` (case-insensitive; `Some(None)`
/// for a flag), so a view can keep its most used parameter without a second scan.
#[allow(clippy::type_complexity)]
pub(crate) fn params_with<'a>(
    i: &'a [u8],
    key: &str,
    mut check: impl FnMut(&'a [u8], Option<&'a [u8]>) -> bool,
) -> PResult<'a, (&'a [u8], Option<Option<&'a [u8]>>)> {
    // An indexed loop rather than nom combinators: parameters are parsed on every
    // message (Via branch, From/To tag), and this is about half the instructions.
    let ws = |mut k: usize| {
        while k < i.len() && is_ws(i[k]) {
            k += 1;
        }
        k
    };
    let mut end = 0; // end of the last whole parameter
    let mut found = None;
    loop {
        let semi = ws(end);
        if i.get(semi) != Some(&b';') {
            return Ok((&i[end..], (&i[..end], found)));
        }
        let n0 = ws(semi + 1);
        let n1 = run_of(i, n0, TOKEN);
        if n1 == n0 {
            return fail(&i[n0..], "parameter name");
        }
        let name = &i[n0..n1];
        let eq = ws(n1);
        let value = if i.get(eq) == Some(&b'=') {
            let (rest, v) = gen_value(&i[ws(eq + 1)..])?;
            end = i.len() - rest.len();
            Some(v)
        } else {
            end = n1;
            None
        };
        if !check(name, value) {
            return fail(name, "valid parameter");
        }
        if found.is_none() && name.eq_ignore_ascii_case(key.as_bytes()) {
            found = Some(value);
        }
    }
}

/// Iterator over `;name[=value]` parameters in a span a typed view has already validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params<'a> {
    rest: &'a [u8],
}

impl<'a> Params<'a> {
    /// Parameters in `raw` (`;a=1;b` as produced by a typed view).
    pub fn new(raw: &'a [u8]) -> Self {
        Params { rest: raw }
    }

    /// The first parameter named `name` (case-insensitive).
    pub fn get(self, name: &str) -> Option<Param<'a>> {
        self.into_iter().find(|p| p.name.eq_ignore_ascii_case(name))
    }

    /// Whether no parameters are present.
    pub fn is_empty(&self) -> bool {
        skip_ws(self.rest).is_empty()
    }

    /// The raw parameter text, `;a=1;b`.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.rest
    }
}

impl<'a> Iterator for Params<'a> {
    type Item = Param<'a>;
    fn next(&mut self) -> Option<Param<'a>> {
        let j = sep(b';')(self.rest).ok()?.0;
        let (j, name) = token_str(j).ok()?;
        let k = skip_ws(j);
        if k.first() == Some(&b'=') {
            let k = sep(b'=')(k).ok()?.0;
            let (k, v) = gen_value(k).ok()?;
            self.rest = k;
            Some(Param {
                name,
                value: Some(v),
            })
        } else {
            self.rest = j;
            Some(Param { name, value: None })
        }
    }
}

/// Splits a header value at commas that are outside quoted strings and angle brackets.
/// Yields `(start, end)` offsets into `value`, trimmed of white space.
#[derive(Debug, Clone)]
pub struct CommaSplit<'a> {
    value: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> CommaSplit<'a> {
    /// Splits `value`.
    pub fn new(value: &'a [u8]) -> Self {
        CommaSplit {
            value,
            pos: 0,
            done: false,
        }
    }
}

impl Iterator for CommaSplit<'_> {
    type Item = (usize, usize);
    fn next(&mut self) -> Option<(usize, usize)> {
        if self.done {
            return None;
        }
        let v = self.value;
        let start = self.pos;
        let end = value_end(v, start);
        if end >= v.len() {
            self.done = true;
        } else {
            self.pos = end + 1;
        }
        let mut s = start;
        let mut e = end;
        while s < e && is_ws(v[s]) {
            s += 1;
        }
        while e > s && is_ws(v[e - 1]) {
            e -= 1;
        }
        Some((s, e))
    }
}

/// Offset of the comma ending the value that starts at `k` (outside quoted strings and
/// angle brackets), or `v.len()`. Jumps between the interesting bytes with memchr.
fn value_end(v: &[u8], mut k: usize) -> usize {
    #[derive(PartialEq)]
    enum In {
        Plain,
        Angle,
        Quote { in_angle: bool },
    }
    let mut state = In::Plain;
    while k < v.len() {
        let rest = &v[k..];
        let hit = match state {
            In::Plain => memchr::memchr3(b',', b'"', b'<', rest),
            In::Angle => memchr::memchr2(b'>', b'"', rest),
            In::Quote { .. } => memchr::memchr2(b'"', b'\\', rest),
        };
        let Some(h) = hit else { return v.len() };
        k += h;
        state = match (state, v[k]) {
            (In::Plain, b',') => return k,
            (In::Plain, b'"') => In::Quote { in_angle: false },
            (In::Plain, _) => In::Angle,
            (In::Angle, b'"') => In::Quote { in_angle: true },
            (In::Angle, _) => In::Plain,
            (In::Quote { in_angle }, b'"') => {
                if in_angle {
                    In::Angle
                } else {
                    In::Plain
                }
            }
            (q, _) => {
                // A quoted-pair: skip the escaped byte.
                k += 1;
                q
            }
        };
        k += 1;
    }
    v.len()
}

/// Parses an unsigned decimal of at most `max`, rejecting empty input and overflow.
pub(crate) fn decimal<'a>(i: &'a [u8], max: u64, what: &'static str) -> PResult<'a, u64> {
    let n = i.iter().take_while(|b| b.is_ascii_digit()).count();
    if n == 0 {
        return fail(i, what);
    }
    let mut v: u64 = 0;
    for &b in &i[..n] {
        v = match v
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(b - b'0')))
        {
            Some(v) if v <= max => v,
            _ => return fail(i, what),
        };
    }
    Ok((&i[n..], v))
}

/// The standard method a token names (methods are case-sensitive), without a UTF-8
/// check; `None` for an extension method.
#[inline]
pub(crate) fn standard_method(t: &[u8]) -> Option<super::Method<'static>> {
    use super::Method;
    Some(match t {
        b"INVITE" => Method::Invite,
        b"ACK" => Method::Ack,
        b"BYE" => Method::Bye,
        b"CANCEL" => Method::Cancel,
        b"REGISTER" => Method::Register,
        b"OPTIONS" => Method::Options,
        b"INFO" => Method::Info,
        b"UPDATE" => Method::Update,
        b"PRACK" => Method::Prack,
        b"SUBSCRIBE" => Method::Subscribe,
        b"NOTIFY" => Method::Notify,
        b"REFER" => Method::Refer,
        b"MESSAGE" => Method::Message,
        b"PUBLISH" => Method::Publish,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_iterate() {
        let (rest, raw) = generic_params(b" ;branch=z9hG4bK1 ; rport;received=\"a;b\" x").unwrap();
        assert_eq!(rest, b" x");
        let ps: Vec<_> = Params::new(raw).collect();
        assert_eq!(ps.len(), 3);
        assert_eq!(ps[0].value, Some(&b"z9hG4bK1"[..]));
        assert_eq!(ps[1].name, "rport");
        assert_eq!(ps[1].value, None);
        assert_eq!(ps[2].value, Some(&b"\"a;b\""[..]));
    }

    #[test]
    fn params_reject_empty_value() {
        assert!(generic_params(b";branch=").is_err());
        assert!(generic_params(b";=x").is_err());
        assert!(generic_params(b";").is_err());
    }

    #[test]
    fn comma_split_outside_quotes_and_angles() {
        let v = b"\"a,b\" <sip:x@y;p=1,2>, <sip:z>";
        let parts: Vec<_> = CommaSplit::new(v).map(|(s, e)| &v[s..e]).collect();
        assert_eq!(
            parts,
            vec![&b"\"a,b\" <sip:x@y;p=1,2>"[..], &b"<sip:z>"[..]]
        );
    }

    #[test]
    fn comma_split_quotes_angles_and_escapes() {
        let split = |v: &'static [u8]| -> Vec<&'static [u8]> {
            CommaSplit::new(v).map(|(s, e)| &v[s..e]).collect()
        };
        assert_eq!(split(b"a, b ,c"), [&b"a"[..], b"b", b"c"]);
        assert_eq!(
            split(b"<sip:a,b>;x=\"1,2\", z"),
            [&b"<sip:a,b>;x=\"1,2\""[..], b"z"]
        );
        assert_eq!(
            split(b"\"a\\\",b\" <x>, y"),
            [&b"\"a\\\",b\" <x>"[..], b"y"]
        );
        assert_eq!(
            split(b"<sip:x;p=\">,\">, y"),
            [&b"<sip:x;p=\">,\">"[..], b"y"]
        );
        assert_eq!(split(b"a>,b"), [&b"a>"[..], b"b"]);
        assert_eq!(split(b""), [&b""[..]]);
        assert_eq!(split(b"a,"), [&b"a"[..], b""]);
        assert_eq!(split(b"\"unterminated, x"), [&b"\"unterminated, x"[..]]);
    }

    #[test]
    fn params_with_checks_and_finds() {
        let (rest, (raw, tag)) = params_with(b";a=1;TAG=x;tag=y rest", "tag", |_, _| true).unwrap();
        assert_eq!(
            (rest, raw, tag),
            (
                &b" rest"[..],
                &b";a=1;TAG=x;tag=y"[..],
                Some(Some(&b"x"[..]))
            )
        );
        let (_, (_, flag)) = params_with(b";lr;x", "lr", |_, _| true).unwrap();
        assert_eq!(flag, Some(None));
        assert!(params_with(b";ttl=x", "", |n, _| n != b"ttl").is_err());
    }

    #[test]
    fn quoted_strings() {
        assert_eq!(
            quoted_string(b"\"a\\\"b\" x").unwrap(),
            (&b" x"[..], &b"\"a\\\"b\""[..])
        );
        assert!(quoted_string(b"\"abc").is_err());
        assert_eq!(&*unquote(b"\"a\\\"b\""), b"a\"b");
    }

    #[test]
    fn decimals() {
        assert_eq!(
            decimal(b"4294967295", u32::MAX as u64, "n").unwrap().1,
            4294967295
        );
        assert!(decimal(b"4294967296", u32::MAX as u64, "n").is_err());
        assert!(decimal(b"99999999999999999999999", u64::MAX, "n").is_err());
    }

    /// The byte-at-a-time comma splitter `CommaSplit` replaced (memchr jumps now): the
    /// reference its results must equal.
    fn reference_comma_split(v: &[u8]) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut pos = 0;
        loop {
            let start = pos;
            let mut k = start;
            let (mut in_quote, mut in_angle) = (false, false);
            while k < v.len() {
                match v[k] {
                    b'\\' if in_quote => k += 1,
                    b'"' => in_quote = !in_quote,
                    b'<' if !in_quote => in_angle = true,
                    b'>' if !in_quote => in_angle = false,
                    b',' if !in_quote && !in_angle => break,
                    _ => {}
                }
                k += 1;
            }
            let end = k.min(v.len());
            let (mut s, mut e) = (start, end);
            while s < e && (v[s] == b' ' || v[s] == b'\t') {
                s += 1;
            }
            while e > s && (v[e - 1] == b' ' || v[e - 1] == b'\t') {
                e -= 1;
            }
            out.push((s, e));
            if end >= v.len() {
                return out;
            }
            pos = end + 1;
        }
    }

    proptest::proptest! {
        #[test]
        fn comma_split_matches_reference(v in "[a ,<>\"\\\\;=]{0,40}") {
            let got: Vec<_> = CommaSplit::new(v.as_bytes()).collect();
            proptest::prop_assert_eq!(got, reference_comma_split(v.as_bytes()));
        }
    }
}
