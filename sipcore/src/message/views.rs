//! Typed views of the headers a proxy reads on every message: Via, CSeq, From/To,
//! Call-ID, Max-Forwards, Content-Length. Each borrows from the message buffer and is
//! parsed when asked for.

use nom::Parser;

use super::{HeaderId, MessageBuf, Method};
use crate::syntax::lex::{
    self, expect, fail, host, params_with, port, quoted_string, run_all, sep, skip_ws, token_str,
    PResult, Params,
};
use crate::syntax::ParseError;

/// The RFC 3261 branch prefix that marks a branch as globally unique.
pub const MAGIC_COOKIE: &str = "z9hG4bK";

/// A `Via` value (RFC 3261 §20.42, RFC 3581 rport, RFC 5923 alias).
///
/// ```
/// use sipcore::message::Via;
/// let v = Via::parse(b"SIP/2.0/UDP [2001:db8::1]:5061;branch=z9hG4bKx;rport").unwrap();
/// assert_eq!(v.transport, "UDP");
/// assert_eq!(v.host, "[2001:db8::1]");
/// assert_eq!(v.port, Some(5061));
/// assert_eq!(v.branch(), Some("z9hG4bKx"));
/// assert_eq!(v.rport(), Some(None));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Via<'a> {
    /// Protocol name, `SIP`.
    pub protocol_name: &'a str,
    /// Protocol version, `2.0`.
    pub protocol_version: &'a str,
    /// Transport as written (`UDP`, `TCP`, `TLS`, `SCTP`, `WS` ...); compare case-insensitively.
    pub transport: &'a str,
    /// sent-by host (IPv6 references keep their brackets).
    pub host: &'a str,
    /// sent-by port.
    pub port: Option<u16>,
    /// All parameters.
    pub params: Params<'a>,
    /// The branch, found while the parameters were parsed (read on every message).
    branch: Option<&'a str>,
}

impl<'a> Via<'a> {
    /// Parses one via-parm.
    pub fn parse(value: &'a [u8]) -> Result<Via<'a>, ParseError> {
        match fast_via(value) {
            Some(via) => Ok(via),
            None => run_all(value, via_parm),
        }
    }

    /// The `branch` parameter.
    #[inline]
    pub fn branch(&self) -> Option<&'a str> {
        self.branch
    }

    /// Whether the branch starts with the RFC 3261 magic cookie.
    pub fn has_magic_cookie(&self) -> bool {
        self.branch().is_some_and(|b| b.starts_with(MAGIC_COOKIE))
    }

    /// The `received` parameter.
    pub fn received(&self) -> Option<&'a str> {
        self.param_str("received")
    }

    /// `rport`: `None` when absent, `Some(None)` without a value, `Some(Some(port))` with one.
    pub fn rport(&self) -> Option<Option<u16>> {
        let p = self.params.get("rport")?;
        Some(p.value_str().and_then(|v| v.parse().ok()))
    }

    /// The `maddr` parameter.
    pub fn maddr(&self) -> Option<&'a str> {
        self.param_str("maddr")
    }

    /// The `ttl` parameter, 0..=255.
    pub fn ttl(&self) -> Option<u8> {
        self.param_str("ttl").and_then(|v| v.parse().ok())
    }

    /// Whether the RFC 5923 `alias` parameter is present.
    pub fn alias(&self) -> bool {
        self.params.get("alias").is_some()
    }

    /// Any parameter's value as `&str`.
    pub fn param_str(&self, name: &str) -> Option<&'a str> {
        self.params.get(name).and_then(|p| p.value_str())
    }
}

/// The value rules of the Via parameters RFC 3261 and RFC 3581 define; others are free.
fn via_param_ok(name: &[u8], value: Option<&[u8]>) -> bool {
    let is = |n: &str| name.eq_ignore_ascii_case(n.as_bytes());
    let number = |max: u64| value.is_some_and(|v| parse_decimal(v, max).is_ok());
    match name.len() {
        3 if is("ttl") => number(255),
        5 if is("rport") => value.is_none() || number(65535),
        5 if is("maddr") => value.is_some(),
        6 if is("branch") => value.is_some(),
        8 if is("received") => value.is_some(),
        _ => true,
    }
}

/// The Via of nearly every message, `SIP/2.0/TRANSPORT host[:port](;name[=token])*`
/// without optional white space, quoted values or IPv6, parsed in one indexed pass with
/// one UTF-8 check. `None` for anything else: [`via_parm`] then gives the same result
/// (or the error) the long way. A unit test holds the two to agreement.
fn fast_via(v: &[u8]) -> Option<Via<'_>> {
    match fast_via_prefix(v)? {
        (via, end) if end == v.len() => Some(via),
        _ => None,
    }
}

/// [`fast_via`] over the longest prefix of `v` it accepts, with where it stopped: a
/// comma there ends the first value of a Via list (the prefix has no quote or angle
/// bracket for a comma to hide in).
#[inline]
fn fast_via_prefix(v: &[u8]) -> Option<(Via<'_>, usize)> {
    use lex::{run_of, DIGIT, HOSTNAME, TOKEN, VALUE};
    if !v.starts_with(b"SIP/2.0/") {
        return None;
    }
    let t0 = 8;
    let t1 = run_of(v, t0, TOKEN);
    if t1 == t0 || v.get(t1) != Some(&b' ') {
        return None;
    }
    let h0 = t1 + 1;
    let h1 = run_of(v, h0, HOSTNAME);
    if h1 == h0 {
        return None;
    }
    let mut k = h1;
    let mut port = None;
    if v.get(k) == Some(&b':') {
        let p0 = k + 1;
        k = run_of(v, p0, DIGIT);
        if k == p0 || k - p0 > 5 {
            return None;
        }
        let p = v[p0..k]
            .iter()
            .fold(0u32, |p, &d| p * 10 + u32::from(d - b'0'));
        port = Some(u16::try_from(p).ok()?);
    }
    let params_start = k;
    let mut branch = None;
    while v.get(k) == Some(&b';') {
        let n0 = k + 1;
        k = run_of(v, n0, TOKEN);
        let name = v.get(n0..k).filter(|n| !n.is_empty())?;
        let mut value = None;
        if v.get(k) == Some(&b'=') {
            let v0 = k + 1;
            k = run_of(v, v0, VALUE);
            if k == v0 {
                return None;
            }
            value = Some(v0..k);
        }
        if name.len() == 6 && name.eq_ignore_ascii_case(b"branch") {
            // RFC 3261: branch has a value; the first one counts.
            value.as_ref()?;
            branch = branch.or(value);
        } else if !via_param_ok(name, value.and_then(|r| v.get(r))) {
            return None;
        }
    }
    // Everything up to `k` is ASCII (the classes above are), so one check covers it.
    let s = std::str::from_utf8(v.get(..k)?).ok()?;
    Some((
        Via {
            protocol_name: s.get(0..3)?,
            protocol_version: s.get(4..7)?,
            transport: s.get(t0..t1)?,
            host: s.get(h0..h1)?,
            port,
            params: Params::new(v.get(params_start..k)?),
            branch: match branch {
                Some(r) => Some(s.get(r)?),
                None => None,
            },
        },
        k,
    ))
}

/// The general via-parm parser (RFC 3261 §25.1, optional white space anywhere the
/// grammar has it).
fn via_parm(i: &[u8]) -> PResult<'_, Via<'_>> {
    let (i, protocol_name) = expect(token_str, "protocol name").parse(i)?;
    let (i, _) = sep(b'/')(i)?;
    let (i, protocol_version) = expect(token_str, "protocol version").parse(i)?;
    let (i, _) = sep(b'/')(i)?;
    let (i, transport) = expect(token_str, "transport").parse(i)?;
    let j = skip_ws(i);
    if j.len() == i.len() {
        return fail(i, "white space before sent-by");
    }
    let (i, host) = host(j)?;
    let (i, port) = if skip_ws(i).first() == Some(&b':') {
        let (i, _) = sep(b':')(i)?;
        let (i, p) = port(i)?;
        (i, Some(p))
    } else {
        (i, None)
    };
    let (i, (raw, branch)) = params_with(i, "branch", via_param_ok)?;
    let params = Params::new(raw);
    let branch = branch.flatten().and_then(|b| std::str::from_utf8(b).ok());
    Ok((
        i,
        Via {
            protocol_name,
            protocol_version,
            transport,
            host,
            port,
            params,
            branch,
        },
    ))
}

/// A `CSeq` value: sequence number and method.
///
/// ```
/// use sipcore::message::{CSeq, Method};
/// let c = CSeq::parse(b"4711 INVITE").unwrap();
/// assert_eq!((c.seq, c.method), (4711, Method::Invite));
/// assert!(CSeq::parse(b"4294967296 INVITE").is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CSeq<'a> {
    /// Sequence number, 0..=2^32-1.
    pub seq: u32,
    /// Method.
    pub method: Method<'a>,
}

impl<'a> CSeq<'a> {
    /// Parses a CSeq value.
    pub fn parse(value: &'a [u8]) -> Result<CSeq<'a>, ParseError> {
        // Read on every message: an indexed scan rather than nom parsers.
        use lex::{run_of, DIGIT, TOKEN, WSP};
        const SEQ: &str = "sequence number (32 bit)";
        let digits = run_of(value, 0, DIGIT);
        if digits == 0 {
            return Err(ParseError::malformed(0, SEQ));
        }
        let mut seq: u64 = 0;
        for &d in &value[..digits] {
            seq = seq * 10 + u64::from(d - b'0');
            if seq > u64::from(u32::MAX) {
                return Err(ParseError::malformed(0, SEQ));
            }
        }
        let m0 = run_of(value, digits, WSP);
        if m0 == digits {
            return Err(ParseError::malformed(digits, "white space"));
        }
        let m1 = run_of(value, m0, TOKEN);
        if m1 == m0 {
            return Err(ParseError::malformed(m0, "method"));
        }
        let end = run_of(value, m1, WSP);
        if end != value.len() {
            return Err(ParseError::malformed(end, "end of value"));
        }
        let m = &value[m0..m1];
        let method = match lex::standard_method(m) {
            Some(std) => std,
            // Tokens are ASCII.
            None => Method::Extension(std::str::from_utf8(m).unwrap_or_default()),
        };
        Ok(CSeq {
            seq: seq as u32,
            method,
        })
    }
}

/// A name-addr or addr-spec with header parameters: `From`, `To`, `Contact`, `Route`,
/// `Record-Route`, `Path`, `Refer-To` ...
///
/// The URI is kept as bytes and parsed by [`uri`](Self::uri) when needed.
///
/// ```
/// use sipcore::message::NameAddr;
/// let n = NameAddr::parse(b"\"Bob \\\"B\\\"\" <sip:bob@example.com;lr>;tag=a6c85cf").unwrap();
/// assert_eq!(n.display_name().as_deref(), Some(&b"Bob \"B\""[..]));
/// assert_eq!(n.uri_bytes(), b"sip:bob@example.com;lr");
/// assert_eq!(n.tag(), Some("a6c85cf"));
/// assert!(NameAddr::parse(b"sip:bob@example.com?subject=x;tag=1").is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameAddr<'a> {
    display: Option<&'a [u8]>,
    uri: &'a [u8],
    /// Whether the URI was in angle brackets (name-addr form).
    pub angle_brackets: bool,
    /// Header parameters (after the URI).
    pub params: Params<'a>,
    /// The tag, found while the parameters were parsed (read on every message).
    tag: Option<&'a str>,
}

impl<'a> NameAddr<'a> {
    /// Parses a name-addr or addr-spec followed by parameters.
    pub fn parse(value: &'a [u8]) -> Result<NameAddr<'a>, ParseError> {
        run_all(value, |i| name_addr(i, value, None))
    }

    /// The display name, unquoted (quoted-pairs decoded), if present and not empty.
    pub fn display_name(&self) -> Option<std::borrow::Cow<'a, [u8]>> {
        self.display.map(lex::unquote)
    }

    /// The display name as written (quotes kept).
    pub fn display_name_raw(&self) -> Option<&'a [u8]> {
        self.display
    }

    /// The URI octets.
    pub fn uri_bytes(&self) -> &'a [u8] {
        self.uri
    }

    /// The URI, parsed.
    pub fn uri(&self) -> Result<crate::uri::Uri<'a>, ParseError> {
        crate::uri::Uri::parse(self.uri)
    }

    /// The `tag` parameter.
    #[inline]
    pub fn tag(&self) -> Option<&'a str> {
        self.tag
    }

    /// The `expires` parameter (Contact).
    pub fn expires(&self) -> Option<u32> {
        self.param_str("expires").and_then(|v| v.parse().ok())
    }

    /// The `q` parameter (Contact), in thousandths: `q=0.5` is 500.
    pub fn q(&self) -> Option<u16> {
        parse_qvalue(self.param_str("q")?)
    }

    /// Any parameter's value as `&str`.
    pub fn param_str(&self, name: &str) -> Option<&'a str> {
        self.params.get(name).and_then(|p| p.value_str())
    }
}

/// qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), in thousandths.
pub(crate) fn parse_qvalue(v: &str) -> Option<u16> {
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: u16 = match int {
        "0" => 0,
        "1" => 1000,
        _ => return None,
    };
    let mut f: u16 = 0;
    for (k, b) in frac.bytes().enumerate() {
        f += u16::from(b - b'0') * [100, 10, 1][k];
    }
    let q = whole + f;
    (q <= 1000).then_some(q)
}

/// A name-addr or addr-spec at `i`, within `value`; `text` is `value` as `&str` when the
/// caller has checked it is UTF-8 (the tag is then a slice of it, not checked again).
fn name_addr<'a>(i: &'a [u8], value: &'a [u8], text: Option<&'a str>) -> PResult<'a, NameAddr<'a>> {
    let i = skip_ws(i);
    let (i, display, angle) = match i.first() {
        Some(b'"') => {
            let (i, q) = quoted_string(i)?;
            let i = skip_ws(i);
            if i.first() != Some(&b'<') {
                return fail(i, "'<' after display name");
            }
            (i, Some(q), true)
        }
        Some(b'<') => (i, None, true),
        _ => {
            // Either `*(token LWS) <uri>` or a bare addr-spec: a display name runs to
            // the first byte that is neither token nor white space, which must be '<'.
            let k = lex::run_of(i, 0, lex::TOKEN | lex::WSP);
            match i.get(k) {
                Some(b'<') => {
                    let name = lex::trim_ws(&i[..k]);
                    (&i[k..], (!name.is_empty()).then_some(name), true)
                }
                _ if memchr::memchr(b'<', &i[k..]).is_some() => {
                    return fail(&i[k..], "token or quoted display name");
                }
                _ => (i, None, false),
            }
        }
    };
    let (i, uri) = if angle {
        let inner = &i[1..];
        // The URI runs to '>' without white space or control bytes.
        match lex::find_ctl_or(inner, b'>') {
            Some(gt) if gt > 0 && inner[gt] == b'>' => (&inner[gt + 1..], &inner[..gt]),
            _ if memchr::memchr(b'>', inner).is_some() => {
                return fail(inner, "URI without white space");
            }
            _ => return fail(inner, "'>'"),
        }
    } else {
        let n = i
            .iter()
            .take_while(|&&b| b != b';' && b != b',' && b > b' ')
            .count();
        let uri = &i[..n];
        if n == 0 {
            return fail(i, "URI");
        }
        if let Some(q) = memchr::memchr(b'?', uri) {
            return fail(&uri[q..], "URI headers only inside '<' '>'");
        }
        (&i[n..], uri)
    };
    // The scheme ends a few bytes in: a plain loop, not the memchr of `contains`.
    #[allow(clippy::manual_contains)]
    let has_colon = uri.iter().any(|&b| b == b':');
    if !has_colon {
        return fail(uri, "URI scheme");
    }
    let (i, (raw, tag)) = params_with(i, "tag", |_, _| true)?;
    let tag = tag.flatten().and_then(|t| match text {
        // `t` is a slice of `value`: a slice of UTF-8 text is UTF-8 exactly when it
        // starts and ends on character boundaries, which `get` checks.
        Some(text) => {
            let at = t.as_ptr().addr().wrapping_sub(value.as_ptr().addr());
            text.get(at..at.wrapping_add(t.len()))
        }
        None => std::str::from_utf8(t).ok(),
    });
    Ok((
        i,
        NameAddr {
            display,
            uri,
            angle_brackets: angle,
            params: Params::new(raw),
            tag,
        },
    ))
}

/// Parses `callid = word [ "@" word ]`.
pub fn parse_call_id(value: &[u8]) -> Result<&str, ParseError> {
    let end = call_id_end(value)?;
    // word characters are ASCII.
    Ok(std::str::from_utf8(value.get(..end).unwrap_or_default()).unwrap_or_default())
}

/// The length of the Call-ID in `value` (the rest is white space), or the error.
fn call_id_end(value: &[u8]) -> Result<usize, ParseError> {
    // Read on every message: an indexed scan rather than a nom parser.
    let word = |k: usize| lex::run_of(value, k, lex::WORD);
    let mut end = word(0);
    if end == 0 {
        return Err(ParseError::malformed(0, "Call-ID word"));
    }
    if value.get(end) == Some(&b'@') {
        let m = word(end + 1);
        if m == end + 1 {
            return Err(ParseError::malformed(end + 1, "word after '@'"));
        }
        end = m;
    }
    let rest = lex::run_of(value, end, lex::WSP);
    if rest != value.len() {
        return Err(ParseError::malformed(rest, "end of value"));
    }
    Ok(end)
}

/// Parses a non-negative decimal header value (Content-Length, Expires ...) up to `max`.
pub fn parse_decimal(value: &[u8], max: u64) -> Result<u64, ParseError> {
    // Content-Length is read on every message: an indexed scan, not a nom parser.
    const WHAT: &str = "decimal number in range";
    let digits = value.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        return Err(ParseError::malformed(0, WHAT));
    }
    let mut v: u64 = 0;
    for &d in &value[..digits] {
        v = match v
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(d - b'0')))
        {
            Some(v) if v <= max => v,
            _ => return Err(ParseError::malformed(0, WHAT)),
        };
    }
    match value[digits..].iter().position(|&b| !lex::is_ws(b)) {
        None => Ok(v),
        Some(k) => Err(ParseError::malformed(digits + k, "end of value")),
    }
}

impl MessageBuf {
    /// The first (topmost) Via value. `Ok(None)` when there is no Via.
    #[inline]
    pub fn top_via(&self) -> Result<Via<'_>, ParseError> {
        // The first value of the first Via line, without the iterator of `vias()`.
        let Some(h) = self.header_entry(HeaderId::Via) else {
            return Err(ParseError::malformed(self.headers_end(), "Via header"));
        };
        let value = self.slice(h.value());
        // Nearly always a Via the fast path reads up to the end of the value or to the
        // comma ending its first element, without splitting the list first.
        if let Some((via, end)) = fast_via_prefix(value) {
            if end == value.len() || value.get(end) == Some(&b',') {
                return Ok(via);
            }
        }
        let (s, e) = lex::CommaSplit::new(value).next().unwrap_or_default();
        let start = h.value().start as usize + s;
        Via::parse(value.get(s..e).unwrap_or_default()).map_err(|err| err.shifted(start))
    }

    /// Every Via value, top first, across comma lists and repeated headers.
    pub fn vias(&self) -> impl Iterator<Item = Result<Via<'_>, ParseError>> + '_ {
        self.values(HeaderId::Via)
            .map(|(off, v)| Via::parse(v).map_err(|e| e.shifted(off)))
    }

    /// The CSeq header.
    pub fn cseq(&self) -> Result<CSeq<'_>, ParseError> {
        self.view(HeaderId::CSeq, CSeq::parse)?
            .ok_or(ParseError::malformed(self.headers_end(), "CSeq header"))
    }

    /// The From header (`from_` because `from` reads like a conversion).
    pub fn from_(&self) -> Result<NameAddr<'_>, ParseError> {
        self.name_addr_view(HeaderId::From)?
            .ok_or(ParseError::malformed(self.headers_end(), "From header"))
    }

    /// The To header.
    pub fn to(&self) -> Result<NameAddr<'_>, ParseError> {
        self.name_addr_view(HeaderId::To)?
            .ok_or(ParseError::malformed(self.headers_end(), "To header"))
    }

    /// [`NameAddr::parse`] of the first header `id`, with its value checked as UTF-8
    /// once (see [`utf8`](Self::utf8)) rather than the tag on its own.
    fn name_addr_view(&self, id: HeaderId) -> Result<Option<NameAddr<'_>>, ParseError> {
        let Some(h) = self.header_entry(id) else {
            return Ok(None);
        };
        let value = self.slice(h.value());
        let text = self.utf8(h.value());
        run_all(value, |i| name_addr(i, value, text))
            .map(Some)
            .map_err(|e| e.shifted(h.value().start as usize))
    }

    /// The Call-ID.
    pub fn call_id(&self) -> Result<&str, ParseError> {
        let Some(h) = self.header_entry(HeaderId::CallId) else {
            return Err(ParseError::malformed(self.headers_end(), "Call-ID header"));
        };
        let value = self.slice(h.value());
        let end = call_id_end(value).map_err(|e| e.shifted(h.value().start as usize))?;
        // word characters are ASCII.
        Ok(match self.utf8(h.value()) {
            Some(text) => text.get(..end),
            None => std::str::from_utf8(value.get(..end).unwrap_or_default()).ok(),
        }
        .unwrap_or_default())
    }

    /// Max-Forwards (0..=255), `None` when absent.
    pub fn max_forwards(&self) -> Result<Option<u8>, ParseError> {
        Ok(self
            .view(HeaderId::MaxForwards, |v| parse_decimal(v, 255))?
            .map(|v| v as u8))
    }

    /// Content-Length, `None` when absent.
    pub fn content_length(&self) -> Result<Option<u64>, ParseError> {
        self.view(HeaderId::ContentLength, |v| {
            parse_decimal(v, u64::from(u32::MAX))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn via_variants() {
        let v = Via::parse(b"SIP / 2.0 / TCP  host.example.com ; branch = z9hG4bK1 ;received=192.0.2.4;rport=5062;ttl=16;maddr=224.2.0.1;alias").unwrap();
        assert_eq!(v.transport, "TCP");
        assert_eq!(v.host, "host.example.com");
        assert_eq!(v.port, None);
        assert_eq!(v.branch(), Some("z9hG4bK1"));
        assert!(v.has_magic_cookie());
        assert_eq!(v.received(), Some("192.0.2.4"));
        assert_eq!(v.rport(), Some(Some(5062)));
        assert_eq!(v.ttl(), Some(16));
        assert_eq!(v.maddr(), Some("224.2.0.1"));
        assert!(v.alias());
        let v6 =
            Via::parse(b"SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bKas3;received=2001:db8::9:255")
                .unwrap();
        assert_eq!(v6.received(), Some("2001:db8::9:255"));
    }

    /// `fast_via` accepts only what `via_parm` accepts, with the same result: checked on
    /// every single-byte change of a few typical values.
    #[test]
    fn fast_via_agrees_with_the_general_parser() {
        let seeds: [&[u8]; 5] = [
            b"SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-5894-1-0",
            b"SIP/2.0/TCP host.example.com;rport;branch=z9hG4bK1;received=192.0.2.1;ttl=1",
            b"SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bKx;received=2001:db8::9",
            b"SIP/2.0/TLS a:65535;maddr=1;alias;Branch=B;branch=c",
            b"SIP/2.0/WS h:0",
        ];
        let bytes = b" \t;:=,/.[]\"0aZ-\x00\xff";
        let mut checked = 0;
        for seed in seeds {
            for v in crate::mutate::one_byte_edits(seed, seed.len(), bytes) {
                let general = run_all(&v, via_parm);
                if let Some(fast) = fast_via(&v) {
                    assert_eq!(Ok(fast), general, "{:?}", String::from_utf8_lossy(&v));
                    checked += 1;
                }
            }
        }
        assert!(checked > 500, "{checked}");
    }

    /// `top_via` reads the first value of a Via list without splitting it first: it
    /// gives what the general path (`vias()`, split at commas, then parsed) gives.
    #[test]
    fn top_via_agrees_with_the_list_split() {
        let seeds: [&[u8]; 4] = [
            b"SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-5894-1-0",
            b"SIP/2.0/UDP a;branch=x, SIP/2.0/TCP b;branch=y",
            b"SIP/2.0/TLS h:1;rport;received=[::1],SIP/2.0/UDP c",
            b"SIP/2.0/UDP \"q,\" h, SIP/2.0/UDP d",
        ];
        let bytes = b" \t;:=,\"<>/.[]0aZ-\x00\xff";
        let mut checked = 0;
        for seed in seeds {
            for v in crate::mutate::one_byte_edits(seed, seed.len(), bytes) {
                let mut text = b"OPTIONS sip:a@b SIP/2.0\r\nVia: ".to_vec();
                text.extend_from_slice(&v);
                text.extend_from_slice(b"\r\n\r\n");
                let Ok(m) = crate::parse::parse_datagram(bytes::Bytes::from(text)) else {
                    continue;
                };
                let general = m.vias().next();
                match m.top_via() {
                    Ok(via) => assert_eq!(general, Some(Ok(via))),
                    Err(e) if general.is_some() => assert_eq!(general, Some(Err(e))),
                    Err(_) => {}
                }
                checked += 1;
            }
        }
        assert!(checked > 1000, "{checked}");
    }

    /// `utf8` (which checks from an aligned start before the span when it can) says
    /// what `from_utf8` of the span says, for every span of messages with multi-byte
    /// and invalid bytes at every alignment.
    #[test]
    fn utf8_of_spans_agrees_with_from_utf8() {
        for lead in 0..8 {
            // `lead` bytes before the message in the buffer: every alignment.
            let mut text = vec![b'#'; lead];
            text.extend_from_slice(
                "OPTIONS sip:a@b SIP/2.0\r\nSubject: \u{e9}t\u{e9} \u{1f600}x\r\n".as_bytes(),
            );
            text.extend_from_slice(b"X-A: \xff\xfe ok\r\nX-B: \xa9\xc3\xa9\r\n\r\n");
            let m = crate::parse::parse_datagram(bytes::Bytes::from(text).slice(lead..)).unwrap();
            let n = m.as_bytes().len();
            for start in 0..=n {
                for end in start..=n {
                    let span = crate::message::Span::new(start, end);
                    assert_eq!(
                        m.utf8(span),
                        std::str::from_utf8(m.slice(span)).ok(),
                        "{lead} {start}..{end}"
                    );
                }
            }
        }
    }

    #[test]
    fn via_errors() {
        assert!(Via::parse(b"SIP/2.0/UDP").is_err());
        assert!(Via::parse(b"SIP/2.0/UDP host;branch").is_err());
        assert!(Via::parse(b"SIP/2.0/UDP host;;branch=1").is_err());
        assert!(Via::parse(b"SIP/2.0/UDP host:99999").is_err());
        assert!(Via::parse(b"SIP/2.0/UDP host;ttl=256").is_err());
        assert!(Via::parse(b"SIP/2.0/UDP host;rport=x").is_err());
        assert!(Via::parse(b"SIP/2.0/UDP host x").is_err());
    }

    #[test]
    fn name_addr_forms() {
        let n = NameAddr::parse(b"sip:alice@atlanta.com;tag=88").unwrap();
        assert!(!n.angle_brackets);
        assert_eq!(n.uri_bytes(), b"sip:alice@atlanta.com");
        assert_eq!(n.tag(), Some("88"));
        let n = NameAddr::parse(b"Alice  Smith <sip:a@b>;expires=60;q=0.7").unwrap();
        assert_eq!(n.display_name().as_deref(), Some(&b"Alice  Smith"[..]));
        assert_eq!(n.expires(), Some(60));
        assert_eq!(n.q(), Some(700));
        assert!(NameAddr::parse(b"Alice@home <sip:a@b>").is_err());
        assert!(NameAddr::parse(b"<sip:a@b").is_err());
        assert!(NameAddr::parse(b"\"unterminated <sip:a@b>").is_err());
        assert!(NameAddr::parse(b"<sip:a@b>;tag").is_ok());
        assert!(NameAddr::parse(b"<sip:a@b>;tag=").is_err());
    }

    #[test]
    fn cseq_values_and_error_offsets() {
        let ok = |v: &'static [u8]| CSeq::parse(v).map(|c| (c.seq, c.method));
        assert_eq!(ok(b"00000000001 ACK"), Ok((1, Method::Ack)));
        assert_eq!(
            ok(b"4294967295 FOO \t"),
            Ok((u32::MAX, Method::Extension("FOO")))
        );
        let err = |v: &[u8]| CSeq::parse(v).map(|_| ()).unwrap_err();
        for (v, offset, expected) in [
            (&b"x INVITE"[..], 0, "sequence number (32 bit)"),
            (b"4294967296 INVITE", 0, "sequence number (32 bit)"),
            (b"1INVITE", 1, "white space"),
            (b"1 ", 2, "method"),
            (b"1 \t<", 3, "method"),
            (b"1 INVITE x", 9, "end of value"),
            (b"1 INVITE;", 8, "end of value"),
        ] {
            let e = err(v);
            assert_eq!((e.offset(), e.expected()), (offset, expected), "{v:?}");
        }
    }

    #[test]
    fn qvalues() {
        assert_eq!(parse_qvalue("1"), Some(1000));
        assert_eq!(parse_qvalue("1.000"), Some(1000));
        assert_eq!(parse_qvalue("0.001"), Some(1));
        assert_eq!(parse_qvalue("1.5"), None);
        assert_eq!(parse_qvalue("0.0001"), None);
    }

    #[test]
    fn call_ids() {
        assert_eq!(
            parse_call_id(b"f81d4fae-7dec@foo.bar.com").unwrap(),
            "f81d4fae-7dec@foo.bar.com"
        );
        assert!(parse_call_id(b"a b").is_err());
        assert!(parse_call_id(b"a@").is_err());
    }
}
