//! SIP and SIPS URIs (RFC 3261 §19.1, grammar §25.1).
//!
//! ```text
//! SIP-URI   = "sip:" [ userinfo ] hostport uri-parameters [ headers ]
//! userinfo  = ( user / telephone-subscriber ) [ ":" password ] "@"
//! hostport  = host [ ":" port ]
//! uri-parameters = *( ";" pname [ "=" pvalue ] )     ; pname, pvalue = 1*paramchar
//! headers   = "?" hname "=" hvalue *( "&" hname "=" hvalue )
//! ```
//!
//! `user` may hold `;`, `?`, `=` and `&` (`sip:alice;day=tuesday@atlanta.com`), while no
//! part after the host may hold an unescaped `@`, so a URI has user info exactly when it
//! has an `@`.

use std::borrow::Cow;
use std::fmt;

use crate::syntax::lex::{fail, port, PResult};
use crate::syntax::Method;
use crate::syntax::ParseError;

use super::escape::{self, chars, HNV, PARAM, PASSWORD, USER};
use super::host::{host, Host};
use super::{ascii, Scheme, Uri};

/// A `sip:` or `sips:` URI borrowing from the parsed text.
///
/// Every part is kept as written (escapes included); `*_decoded` accessors undo the
/// escapes. Parameters and headers are kept as raw spans and read through iterators,
/// so parsing never allocates.
///
/// There is no `==`: RFC 3261 §19.1.4 equality is not transitive (see
/// [`uri_eq`](Self::uri_eq)), and byte equality is rarely what a SIP element needs.
///
/// ```
/// use sipcore::uri::{SipUri, Host};
/// let u = SipUri::parse(b"sips:alice:secret@atlanta.com:5061;transport=tcp;lr?subject=project%20x").unwrap();
/// assert!(u.is_sips());
/// assert_eq!(u.user(), Some("alice"));
/// assert_eq!(u.password(), Some("secret"));
/// assert_eq!(u.host(), Host::Name("atlanta.com"));
/// assert_eq!(u.port(), Some(5061));
/// assert_eq!(u.transport(), Some("tcp"));
/// assert!(u.lr());
/// assert_eq!(u.header("Subject").as_deref(), Some("project x"));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct SipUri<'a> {
    raw: &'a str,
    sips: bool,
    user: Option<&'a str>,
    password: Option<&'a str>,
    host: Host<'a>,
    port: Option<u16>,
    params: &'a str,
    headers: &'a str,
}

impl<'a> SipUri<'a> {
    /// Parses a `sip:` or `sips:` URI; any other scheme is an error at offset 0.
    pub fn parse(input: &'a [u8]) -> Result<SipUri<'a>, ParseError> {
        match Uri::parse(input)? {
            Uri::Sip(u) => Ok(u),
            _ => Err(ParseError::malformed(0, "sip or sips scheme")),
        }
    }

    /// The whole URI as written.
    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    /// [`Scheme::Sips`] or [`Scheme::Sip`].
    pub fn scheme(&self) -> Scheme {
        if self.sips {
            Scheme::Sips
        } else {
            Scheme::Sip
        }
    }

    /// Whether the scheme is `sips`.
    pub fn is_sips(&self) -> bool {
        self.sips
    }

    /// The user as written (escapes kept), e.g. `alice`, `+1-212-555-1212`, `alice;day=tuesday`.
    pub fn user(&self) -> Option<&'a str> {
        self.user
    }

    /// The user with escapes decoded (borrowed when there are none).
    pub fn user_decoded(&self) -> Option<Cow<'a, str>> {
        self.user.map(escape::decode_str)
    }

    /// The password as written (may be empty: `sip:alice:@host`).
    pub fn password(&self) -> Option<&'a str> {
        self.password
    }

    /// The password with escapes decoded.
    pub fn password_decoded(&self) -> Option<Cow<'a, str>> {
        self.password.map(escape::decode_str)
    }

    /// The host.
    pub fn host(&self) -> Host<'a> {
        self.host
    }

    /// The port, if written.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The port, or the scheme's default (5060 for `sip`, 5061 for `sips`).
    pub fn port_or_default(&self) -> u16 {
        self.port.unwrap_or(if self.sips { 5061 } else { 5060 })
    }

    /// The URI parameters as written, `;transport=tcp;lr` (empty when there are none).
    pub fn params_raw(&self) -> &'a str {
        self.params
    }

    /// Iterates the URI parameters in order.
    pub fn params(&self) -> UriParams<'a> {
        UriParams::new(self.params)
    }

    /// The first parameter named `name` (case-insensitive, escapes equivalent).
    pub fn param(&self, name: &str) -> Option<UriParam<'a>> {
        self.params().get(name)
    }

    /// `transport` as written (`udp`, `TCP`, `tls`, `sctp`, `ws` ...; compare
    /// case-insensitively).
    pub fn transport(&self) -> Option<&'a str> {
        self.param("transport")?.value
    }

    /// The `user` parameter (`phone`, `ip`, `dialstring` ...).
    pub fn user_param(&self) -> Option<&'a str> {
        self.param("user")?.value
    }

    /// The `method` parameter (methods are case-sensitive: `invite` is an extension).
    pub fn method(&self) -> Option<Method<'a>> {
        self.param("method")?.value.map(Method::from_token)
    }

    /// The `ttl` parameter; `None` when absent or not a number in 0..=255.
    pub fn ttl(&self) -> Option<u8> {
        let v = self.param("ttl")?.value?;
        if v.len() > 3 || !v.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        v.parse().ok()
    }

    /// The `maddr` parameter as a host; `None` when absent or not a valid host.
    pub fn maddr(&self) -> Option<Host<'a>> {
        let v = self.param("maddr")?.value?;
        Host::parse(v.as_bytes()).ok()
    }

    /// Whether the `lr` parameter (loose routing, RFC 3261 §16.12) is present.
    pub fn lr(&self) -> bool {
        self.param("lr").is_some()
    }

    /// The URI headers as written, without the `?` (empty when there are none).
    pub fn headers_raw(&self) -> &'a str {
        self.headers
    }

    /// Iterates the URI headers in order.
    pub fn headers(&self) -> UriHeaders<'a> {
        UriHeaders { rest: self.headers }
    }

    /// The decoded value of the first URI header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<Cow<'a, str>> {
        self.headers()
            .find(|h| escape::eq_decoded_ic(h.name, name))
            .map(|h| escape::decode_str(h.value))
    }
}

impl fmt::Display for SipUri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.raw)
    }
}

/// One URI parameter, as written (escapes kept).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UriParam<'a> {
    /// The name (compare case-insensitively).
    pub name: &'a str,
    /// The value; `None` for a flag such as `lr`.
    pub value: Option<&'a str>,
}

impl<'a> UriParam<'a> {
    /// The name with escapes decoded.
    pub fn name_decoded(&self) -> Cow<'a, str> {
        escape::decode_str(self.name)
    }

    /// The value with escapes decoded.
    pub fn value_decoded(&self) -> Option<Cow<'a, str>> {
        self.value.map(escape::decode_str)
    }
}

/// Iterator over `;name[=value]` parameters of a parsed SIP or tel URI.
#[derive(Debug, Clone)]
pub struct UriParams<'a> {
    rest: &'a str,
}

impl<'a> UriParams<'a> {
    pub(crate) fn new(raw: &'a str) -> Self {
        UriParams { rest: raw }
    }

    /// The first parameter named `name` (case-insensitive; `%6C%72` matches `lr`).
    pub fn get(self, name: &str) -> Option<UriParam<'a>> {
        self.into_iter()
            .find(|p| escape::eq_decoded_ic(p.name, name))
    }

    /// The parameters without repeats: each name's first occurrence only (what
    /// [`get`](Self::get) finds), as equality compares them.
    pub(crate) fn firsts(self) -> impl Iterator<Item = UriParam<'a>> {
        let all = self.clone();
        self.enumerate().filter_map(move |(k, p)| {
            let repeat = all
                .clone()
                .take(k)
                .any(|q| escape::eq_decoded_ic(q.name, p.name));
            (!repeat).then_some(p)
        })
    }
}

impl<'a> Iterator for UriParams<'a> {
    type Item = UriParam<'a>;
    fn next(&mut self) -> Option<UriParam<'a>> {
        let body = self.rest.strip_prefix(';')?;
        let (item, rest) = match body.find(';') {
            Some(k) => body.split_at(k),
            None => (body, ""),
        };
        self.rest = rest;
        Some(match item.split_once('=') {
            Some((name, value)) => UriParam {
                name,
                value: Some(value),
            },
            None => UriParam {
                name: item,
                value: None,
            },
        })
    }
}

/// One URI header, `name=value`, as written (escapes kept).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UriHeader<'a> {
    /// The header name (compare case-insensitively).
    pub name: &'a str,
    /// The value (may be empty).
    pub value: &'a str,
}

/// Iterator over the `name=value` headers of a SIP URI.
#[derive(Debug, Clone)]
pub struct UriHeaders<'a> {
    rest: &'a str,
}

impl<'a> Iterator for UriHeaders<'a> {
    type Item = UriHeader<'a>;
    fn next(&mut self) -> Option<UriHeader<'a>> {
        if self.rest.is_empty() {
            return None;
        }
        let (item, rest) = match self.rest.split_once('&') {
            Some((item, rest)) => (item, rest),
            None => (self.rest, ""),
        };
        self.rest = rest;
        let (name, value) = item.split_once('=').unwrap_or((item, ""));
        Some(UriHeader { name, value })
    }
}

/// nom: what follows `sip:` / `sips:`, to the end of the input. `whole` is the complete
/// URI text, kept as the raw form.
pub(super) fn sip_uri<'a>(whole: &'a [u8], i: &'a [u8], sips: bool) -> PResult<'a, SipUri<'a>> {
    let (i, (user, password)) = if memchr::memchr(b'@', i).is_some() {
        userinfo(i)?
    } else {
        (i, (None, None))
    };
    let (i, host) = host(i)?;
    let (i, port) = match i.first() {
        Some(b':') => {
            let (i, p) = port(&i[1..])?;
            (i, Some(p))
        }
        _ => (i, None),
    };
    let (i, params) = uri_params(i, PARAM)?;
    let (i, headers) = match i.first() {
        Some(b'?') => uri_headers(&i[1..])?,
        _ => (i, &[][..]),
    };
    if !i.is_empty() {
        let what = if !headers.is_empty() {
            "'&' or end of URI"
        } else if !params.is_empty() || port.is_some() {
            "';', '?' or end of URI"
        } else {
            "':', ';', '?' or end of URI"
        };
        return fail(i, what);
    }
    Ok((
        i,
        SipUri {
            raw: ascii(whole),
            sips,
            user,
            password,
            host,
            port,
            params: ascii(params),
            headers: ascii(headers),
        },
    ))
}

type UserInfo<'a> = (Option<&'a str>, Option<&'a str>);

/// `userinfo = user [ ":" password ] "@"`, where `i` holds an `@`.
fn userinfo(i: &[u8]) -> PResult<'_, UserInfo<'_>> {
    let (r, user) = chars(i, USER, 1, "user")?;
    let (r, password) = match r.first() {
        Some(b':') => {
            let (r, p) = chars(&r[1..], PASSWORD, 0, "password")?;
            (r, Some(p))
        }
        _ => (r, None),
    };
    match r.first() {
        Some(b'@') => Ok((&r[1..], (Some(ascii(user)), password.map(ascii)))),
        _ if password.is_some() => fail(r, "password character or '@'"),
        _ => fail(r, "user character, ':' or '@'"),
    }
}

/// nom: `*( ";" pname [ "=" pvalue ] )` with `pname`, `pvalue` = 1*(`class` / escaped);
/// returns the raw span.
pub(super) fn uri_params(i: &[u8], class: u8) -> PResult<'_, &[u8]> {
    let mut r = i;
    while r.first() == Some(&b';') {
        let (k, _) = chars(&r[1..], class, 1, "parameter name")?;
        r = match k.first() {
            Some(b'=') => chars(&k[1..], class, 1, "parameter value")?.0,
            _ => k,
        };
    }
    Ok((r, &i[..i.len() - r.len()]))
}

/// nom: `header *( "&" header )` after the `?`; returns the raw span.
fn uri_headers(i: &[u8]) -> PResult<'_, &[u8]> {
    let mut r = i;
    loop {
        let (k, _) = chars(r, HNV, 1, "header name")?;
        if k.first() != Some(&b'=') {
            return fail(k, "'=' after header name");
        }
        let (k, _) = chars(&k[1..], HNV, 0, "header value")?;
        r = k;
        match r.first() {
            Some(b'&') => r = &r[1..],
            _ => return Ok((r, &i[..i.len() - r.len()])),
        }
    }
}
