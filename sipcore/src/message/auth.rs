//! Authentication headers: `Authorization`, `Proxy-Authorization` (credentials) and
//! `WWW-Authenticate`, `Proxy-Authenticate` (challenges): RFC 3261 §20.7, §20.27, §20.28,
//! §20.44, §25.1 with the Digest parameters of RFC 2617 / RFC 7616 and the `token68`
//! form of RFC 7235 (e.g. `Bearer`, RFC 8898).
//!
//! One header line holds one challenge or one set of credentials: the auth params are
//! themselves comma-separated, so these headers are split per line, never at commas.
//! Repeated header lines iterate in order.

use std::borrow::Cow;

use nom::Parser;

use super::misc::cow_str;
use super::{HeaderId, MessageBuf};
use crate::syntax::lex::{
    expect, fail, quoted_inner, quoted_string, run_all, sep, skip_ws, token, token_str, unquote,
    PResult,
};
use crate::syntax::ParseError;

/// One `name=value` auth parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthParam<'a> {
    /// Name as written (compare case-insensitively).
    pub name: &'a str,
    /// Value as written: a token, or a quoted-string with its quotes.
    pub value: &'a [u8],
}

impl<'a> AuthParam<'a> {
    /// Whether the value was a quoted-string.
    pub fn is_quoted(&self) -> bool {
        self.value.first() == Some(&b'"')
    }

    /// The value with quotes removed and quoted-pairs decoded (borrows unless there are
    /// quoted-pairs).
    pub fn unquoted(&self) -> Cow<'a, [u8]> {
        unquote(self.value)
    }

    /// [`unquoted`](Self::unquoted) as text; `None` if it is not UTF-8.
    pub fn unquoted_str(&self) -> Option<Cow<'a, str>> {
        cow_str(self.unquoted())
    }
}

/// The auth params of a challenge or credentials, validated; iterate them in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AuthParams<'a> {
    rest: &'a [u8],
}

impl<'a> AuthParams<'a> {
    /// The first parameter named `name` (case-insensitive). RFC 7616 forbids repeating a
    /// parameter; this does not check it.
    pub fn get(self, name: &str) -> Option<AuthParam<'a>> {
        self.into_iter().find(|p| p.name.eq_ignore_ascii_case(name))
    }

    /// The value of `name`, unquoted; `None` when absent or not UTF-8.
    pub fn str(self, name: &str) -> Option<Cow<'a, str>> {
        self.get(name)?.unquoted_str()
    }

    /// Whether there are no parameters.
    pub fn is_empty(&self) -> bool {
        skip_ws(self.rest).is_empty()
    }

    /// The parameters as written.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.rest
    }
}

impl<'a> Iterator for AuthParams<'a> {
    type Item = AuthParam<'a>;

    fn next(&mut self) -> Option<AuthParam<'a>> {
        let j = skip_ws(self.rest);
        let j = match j.split_first() {
            Some((b',', r)) => skip_ws(r),
            _ => j,
        };
        let (rest, (name, value)) = auth_param(j).ok()?;
        self.rest = rest;
        Some(AuthParam { name, value })
    }
}

/// nom: `auth-param-name EQUAL ( token / quoted-string )`.
fn auth_param(i: &[u8]) -> PResult<'_, (&str, &[u8])> {
    let (i, name) = expect(token_str, "auth parameter name").parse(i)?;
    let (i, _) = sep(b'=')(i)?;
    let (i, value) = if i.first() == Some(&b'"') {
        quoted_string(i)?
    } else {
        expect(token, "auth parameter value (token or quoted-string)").parse(i)?
    };
    Ok((i, (name, value)))
}

/// nom: `auth-param *( COMMA auth-param )`, returned as the raw span.
fn auth_params(i: &[u8]) -> PResult<'_, &[u8]> {
    let (mut rest, _) = auth_param(i)?;
    loop {
        let j = skip_ws(rest);
        if j.first() != Some(&b',') {
            return Ok((rest, &i[..i.len() - rest.len()]));
        }
        let (j, _) = sep(b',')(j)?;
        let (j, _) = auth_param(j)?;
        rest = j;
    }
}

/// nom: token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
fn token68(i: &[u8]) -> PResult<'_, &str> {
    let n = i
        .iter()
        .take_while(|&&b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
        .count();
    if n == 0 {
        return fail(i, "token68");
    }
    let m = n + i[n..].iter().take_while(|&&b| b == b'=').count();
    Ok((&i[m..], std::str::from_utf8(&i[..m]).unwrap_or_default()))
}

/// The common shape: `auth-scheme [ 1*SP ( auth-params / token68 ) ]`.
type AuthValue<'a> = (&'a str, AuthParams<'a>, Option<&'a str>);

fn auth_value(i: &[u8]) -> PResult<'_, AuthValue<'_>> {
    let (i, scheme) = expect(token_str, "auth scheme").parse(i)?;
    let digest = scheme.eq_ignore_ascii_case("Digest");
    let j = skip_ws(i);
    if j.is_empty() {
        if digest {
            return fail(j, "Digest parameters");
        }
        return Ok((j, (scheme, AuthParams::default(), None)));
    }
    if j.len() == i.len() {
        return fail(i, "white space after auth scheme");
    }
    match auth_params(j) {
        Ok((rest, raw)) => Ok((rest, (scheme, AuthParams { rest: raw }, None))),
        Err(e) if digest => Err(e),
        Err(e) => match token68(j) {
            Ok((rest, t)) if skip_ws(rest).is_empty() => {
                Ok((rest, (scheme, AuthParams::default(), Some(t))))
            }
            _ => Err(e),
        },
    }
}

macro_rules! str_params {
    ($( $(#[$doc:meta])* $fn:ident => $name:literal; )*) => {
        $(
            $(#[$doc])*
            pub fn $fn(&self) -> Option<Cow<'a, str>> {
                self.params.str($name)
            }
        )*
    };
}

/// Credentials from an `Authorization` or `Proxy-Authorization` header.
///
/// ```
/// use sipcore::message::Credentials;
/// let c = Credentials::parse(
///     b"Digest username=\"Alice\", realm=\"atlanta.com\", \
///       nonce=\"84a4cc6f3082121f32b42a2187831a9e\", uri=\"sip:bob@biloxi.com\", \
///       response=\"7587245234b3434cc3412213e5f113a5432\", qop=auth, nc=0000000a",
/// ).unwrap();
/// assert!(c.is_digest());
/// assert_eq!(c.username().as_deref(), Some("Alice"));
/// assert_eq!(c.uri().as_deref(), Some("sip:bob@biloxi.com"));
/// assert_eq!(c.nc(), Some(10));
/// assert!(Credentials::parse(b"Digest username=Al ice").is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Credentials<'a> {
    /// The auth scheme as written, e.g. `Digest` (compare case-insensitively).
    pub scheme: &'a str,
    /// The auth params (empty for a `token68` or a bare scheme).
    pub params: AuthParams<'a>,
    /// The `token68` form (`Bearer mF_9.B5f-4.1JqM`), never for Digest.
    pub token68: Option<&'a str>,
}

impl<'a> Credentials<'a> {
    /// Parses one credentials value.
    pub fn parse(value: &'a [u8]) -> Result<Credentials<'a>, ParseError> {
        let (scheme, params, token68) = run_all(value, auth_value)?;
        Ok(Credentials {
            scheme,
            params,
            token68,
        })
    }

    /// Whether the scheme is `Digest`.
    pub fn is_digest(&self) -> bool {
        self.scheme.eq_ignore_ascii_case("Digest")
    }

    /// Any parameter, unquoted.
    pub fn param(&self, name: &str) -> Option<Cow<'a, str>> {
        self.params.str(name)
    }

    str_params! {
        /// `username`, unquoted.
        username => "username";
        /// `realm`, unquoted.
        realm => "realm";
        /// `nonce`, unquoted.
        nonce => "nonce";
        /// `uri` (the digest-uri), unquoted.
        uri => "uri";
        /// `response` (the request digest), unquoted.
        response => "response";
        /// `algorithm` (e.g. `MD5`, `SHA-256`); absent means MD5.
        algorithm => "algorithm";
        /// `cnonce`, unquoted.
        cnonce => "cnonce";
        /// `opaque`, unquoted.
        opaque => "opaque";
        /// `qop` (`auth` or `auth-int`).
        qop => "qop";
    }

    /// `nc` (nonce count, 8 hex digits) as a number; `None` when absent or not 1-8 hex
    /// digits.
    pub fn nc(&self) -> Option<u32> {
        let v = self.params.str("nc")?;
        if v.is_empty() || v.len() > 8 {
            return None;
        }
        u32::from_str_radix(&v, 16).ok()
    }

    /// RFC 7616 `userhash=true`.
    pub fn userhash(&self) -> bool {
        self.params
            .str("userhash")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }
}

/// A challenge from a `WWW-Authenticate` or `Proxy-Authenticate` header.
///
/// ```
/// use sipcore::message::Challenge;
/// let c = Challenge::parse(
///     b"Digest realm=\"atlanta.com\", domain=\"sip:boxesbybob.com\", qop=\"auth\", \
///       nonce=\"f84f1cec41e6cbe5aea9c8e88d359\", opaque=\"\", stale=FALSE, algorithm=MD5",
/// ).unwrap();
/// assert_eq!(c.realm().as_deref(), Some("atlanta.com"));
/// assert_eq!(c.opaque().as_deref(), Some(""));
/// assert!(!c.stale());
/// assert!(c.offers_qop("auth"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Challenge<'a> {
    /// The auth scheme as written, e.g. `Digest` (compare case-insensitively).
    pub scheme: &'a str,
    /// The auth params (empty for a `token68` or a bare scheme).
    pub params: AuthParams<'a>,
    /// The `token68` form, never for Digest.
    pub token68: Option<&'a str>,
}

impl<'a> Challenge<'a> {
    /// Parses one challenge value.
    pub fn parse(value: &'a [u8]) -> Result<Challenge<'a>, ParseError> {
        let (scheme, params, token68) = run_all(value, auth_value)?;
        Ok(Challenge {
            scheme,
            params,
            token68,
        })
    }

    /// Whether the scheme is `Digest`.
    pub fn is_digest(&self) -> bool {
        self.scheme.eq_ignore_ascii_case("Digest")
    }

    /// Any parameter, unquoted.
    pub fn param(&self, name: &str) -> Option<Cow<'a, str>> {
        self.params.str(name)
    }

    str_params! {
        /// `realm`, unquoted.
        realm => "realm";
        /// `domain` (space-separated URIs), unquoted.
        domain => "domain";
        /// `nonce`, unquoted.
        nonce => "nonce";
        /// `opaque`, unquoted.
        opaque => "opaque";
        /// `algorithm` (e.g. `MD5`, `SHA-256`); absent means MD5.
        algorithm => "algorithm";
        /// `qop` options as written inside the quotes, e.g. `auth, auth-int`.
        qop => "qop";
    }

    /// `stale=true` (case-insensitive); `false` when absent.
    pub fn stale(&self) -> bool {
        self.params
            .str("stale")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    /// RFC 7616 `userhash=true`.
    pub fn userhash(&self) -> bool {
        self.params
            .str("userhash")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    /// The `qop` options, split at commas and trimmed (empty when there is no qop).
    pub fn qop_options(&self) -> impl Iterator<Item = &'a str> + 'a {
        let raw = self
            .params
            .get("qop")
            .map(|p| quoted_inner(p.value))
            .unwrap_or_default();
        std::str::from_utf8(raw)
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }

    /// Whether `qop` offers `option` (case-insensitive).
    pub fn offers_qop(&self, option: &str) -> bool {
        self.qop_options().any(|o| o.eq_ignore_ascii_case(option))
    }
}

impl MessageBuf {
    fn auth_lines<'a, T: 'a>(
        &'a self,
        id: HeaderId,
        parse: fn(&'a [u8]) -> Result<T, ParseError>,
    ) -> impl Iterator<Item = Result<T, ParseError>> + 'a {
        self.headers()
            .iter()
            .filter(move |h| h.id == id)
            .map(move |h| {
                parse(self.slice(h.value())).map_err(|e| e.shifted(h.value().start as usize))
            })
    }

    /// Every `Authorization` header, in order (one credentials value per line).
    pub fn authorization(&self) -> impl Iterator<Item = Result<Credentials<'_>, ParseError>> + '_ {
        self.auth_lines(HeaderId::Authorization, Credentials::parse)
    }

    /// Every `Proxy-Authorization` header, in order.
    pub fn proxy_authorization(
        &self,
    ) -> impl Iterator<Item = Result<Credentials<'_>, ParseError>> + '_ {
        self.auth_lines(HeaderId::ProxyAuthorization, Credentials::parse)
    }

    /// Every `WWW-Authenticate` header, in order (one challenge per line).
    pub fn www_authenticate(&self) -> impl Iterator<Item = Result<Challenge<'_>, ParseError>> + '_ {
        self.auth_lines(HeaderId::WwwAuthenticate, Challenge::parse)
    }

    /// Every `Proxy-Authenticate` header, in order.
    pub fn proxy_authenticate(
        &self,
    ) -> impl Iterator<Item = Result<Challenge<'_>, ParseError>> + '_ {
        self.auth_lines(HeaderId::ProxyAuthenticate, Challenge::parse)
    }
}

#[cfg(test)]
#[path = "auth_tests.rs"]
mod tests;
