//! SIP, SIPS and TEL URIs (RFC 3261 §19, RFC 3966, RFC 5118); other schemes kept opaque.
//!
//! [`Uri::parse`] reads one URI from a byte slice and returns a `Copy` value that borrows
//! every part from it: no allocation, no copy. Parts are kept as written, escapes
//! included; `*_decoded` accessors and [`escape::decode`] undo `%HH` escapes and borrow
//! when there is nothing to decode.
//!
//! | scheme | type | parts |
//! |---|---|---|
//! | `sip`, `sips` | [`SipUri`] | user, password, [`Host`], port, parameters ([`UriParams`]), headers ([`UriHeaders`]) |
//! | `tel` | [`TelUri`] | number (global or local), parameters |
//! | any other | [`OpaqueUri`] | scheme and the rest, checked only for URI characters |
//!
//! # Strictness
//!
//! The parser follows the RFC 3261 §25.1 grammar and its character classes exactly: no
//! white space anywhere, no empty parameter (`;` or `;=x`), no `%` without two hex digits,
//! no port above 65535, host names made of letter-digit-hyphen labels whose last label
//! starts with a letter (so `_sip._udp.example.com` is refused), IPv4 octets up to 255,
//! IPv6 only in brackets (RFC 5118). Scheme names are case-insensitive. A local `tel`
//! number needs a `phone-context`. Errors carry the byte offset (relative to the input)
//! and what was expected there.
//!
//! Parameters with a meaning (`transport`, `user`, `method`, `ttl`, `maddr`, `lr`) are
//! checked only as generic parameters; their typed accessors return `None` for values
//! they cannot read (`ttl=abc`).
//!
//! # Equality
//!
//! [`Uri::uri_eq`] implements RFC 3261 §19.1.4 (and RFC 3966 §4 for tel URIs):
//!
//! - the schemes match (`sip` never equals `sips`);
//! - user and password compare case-sensitively, everything else case-insensitively;
//! - an escaped octet equals the octet it encodes (`%61lice` is `alice`);
//! - host names compare case-insensitively, IP addresses by value (`[2001:db8::10]` is
//!   `[2001:db8:0:0:0:0:0:10]`), a name never equals an address;
//! - the port and the `user`, `ttl`, `method`, `maddr` and `transport` parameters must
//!   be in both URIs or in neither; other parameters are compared only when both have them;
//! - URI headers must all be in both, in any order, with equal (case-sensitive) values.
//!
//! The relation is not transitive (`;newparam=5` and `;security=on` each equal the URI
//! without parameters, not each other), so the types do not implement `PartialEq`.
//!
//! # Writing
//!
//! [`Display`](std::fmt::Display) writes a URI back as it was parsed. [`SipUriBuilder`]
//! writes a SIP URI from unescaped parts.

mod build;
mod eq;
pub mod escape;
mod host;
mod sip;
mod tel;
#[cfg(test)]
mod tests;

use std::fmt;

use crate::syntax::lex::{fail, to_parse_error, PResult};
use crate::syntax::ParseError;

pub use build::SipUriBuilder;
pub use host::Host;
pub use sip::{SipUri, UriHeader, UriHeaders, UriParam, UriParams};
pub use tel::TelUri;

/// The scheme of a [`Uri`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `sip`
    Sip,
    /// `sips`
    Sips,
    /// `tel`
    Tel,
    /// Any other scheme, see [`OpaqueUri::scheme`].
    Other,
}

/// A parsed URI borrowing from its input: SIP/SIPS, tel, or any other scheme kept opaque.
///
/// # Examples
///
/// ```
/// use sipcore::uri::{Host, Scheme, Uri};
///
/// let uri = Uri::parse(b"sip:sipp@127.0.0.1:5061;transport=UDP")?;
/// assert_eq!(uri.scheme(), Scheme::Sip);
/// let sip = uri.as_sip().expect("a SIP URI");
/// assert_eq!(sip.user(), Some("sipp"));
/// assert_eq!(sip.host(), Host::Ipv4 { addr: [127, 0, 0, 1].into(), raw: "127.0.0.1" });
/// assert_eq!(sip.port(), Some(5061));
/// assert_eq!(sip.transport(), Some("UDP"));
/// assert_eq!(uri.to_string(), "sip:sipp@127.0.0.1:5061;transport=UDP");
///
/// // Escapes are kept as written and decoded on request.
/// let uri = Uri::parse(b"sip:atlanta.com;method=REGISTER?to=alice%40atlanta.com")?;
/// assert_eq!(uri.as_sip().unwrap().header("to").as_deref(), Some("alice@atlanta.com"));
///
/// // RFC 3261 §19.1.4 equality.
/// let a = Uri::parse(b"sip:%61lice@atlanta.com;transport=TCP")?;
/// let b = Uri::parse(b"SIP:alice@AtLanTa.CoM;Transport=tcp")?;
/// assert!(a.uri_eq(&b));
///
/// // Other schemes are kept opaque.
/// let uri = Uri::parse(b"xmpp:user@example.com")?;
/// assert_eq!(uri.scheme(), Scheme::Other);
/// assert_eq!(uri.scheme_str(), "xmpp");
///
/// // Errors give the offset and what was expected.
/// let err = Uri::parse(b"sip:alice@atlanta.com:65536").unwrap_err();
/// assert_eq!((err.offset(), err.expected()), (22, "port"));
/// # Ok::<(), sipcore::parse::ParseError>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub enum Uri<'a> {
    /// `sip:` or `sips:`.
    Sip(SipUri<'a>),
    /// `tel:`.
    Tel(TelUri<'a>),
    /// Any other scheme (`absoluteURI`).
    Other(OpaqueUri<'a>),
}

impl<'a> Uri<'a> {
    /// Parses a whole URI; offsets in the error are relative to `input`.
    pub fn parse(input: &'a [u8]) -> Result<Uri<'a>, ParseError> {
        match uri(input) {
            Ok((_, u)) => Ok(u),
            Err(nom::Err::Error(e)) | Err(nom::Err::Failure(e)) => Err(to_parse_error(input, e)),
            Err(nom::Err::Incomplete(_)) => Err(ParseError::malformed(input.len(), "more input")),
        }
    }

    /// The scheme.
    pub fn scheme(&self) -> Scheme {
        match self {
            Uri::Sip(u) => u.scheme(),
            Uri::Tel(_) => Scheme::Tel,
            Uri::Other(_) => Scheme::Other,
        }
    }

    /// The scheme as written (`sip`, `SIP`, `tel`, `xmpp` ...).
    pub fn scheme_str(&self) -> &'a str {
        let raw = self.as_str();
        raw.split_once(':').map_or(raw, |(s, _)| s)
    }

    /// The whole URI as written.
    pub fn as_str(&self) -> &'a str {
        match self {
            Uri::Sip(u) => u.as_str(),
            Uri::Tel(t) => t.as_str(),
            Uri::Other(o) => o.as_str(),
        }
    }

    /// The SIP or SIPS URI, if it is one.
    pub fn as_sip(&self) -> Option<&SipUri<'a>> {
        match self {
            Uri::Sip(u) => Some(u),
            _ => None,
        }
    }

    /// The tel URI, if it is one.
    pub fn as_tel(&self) -> Option<&TelUri<'a>> {
        match self {
            Uri::Tel(t) => Some(t),
            _ => None,
        }
    }

    /// The URI of another scheme, if it is one.
    pub fn as_opaque(&self) -> Option<&OpaqueUri<'a>> {
        match self {
            Uri::Other(o) => Some(o),
            _ => None,
        }
    }
}

impl fmt::Display for Uri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A URI of a scheme other than sip, sips and tel: the scheme and the rest, checked
/// only for URI characters (`uric`, escapes, and `[` `]` for IPv6 literals).
///
/// ```
/// use sipcore::uri::Uri;
/// let u = Uri::parse(b"soap.beep://192.0.2.103:3002").unwrap();
/// let o = u.as_opaque().unwrap();
/// assert_eq!(o.scheme(), "soap.beep");
/// assert_eq!(o.rest(), "//192.0.2.103:3002");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct OpaqueUri<'a> {
    raw: &'a str,
    scheme_len: usize,
}

impl<'a> OpaqueUri<'a> {
    /// The whole URI as written.
    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    /// The scheme as written.
    pub fn scheme(&self) -> &'a str {
        self.raw.get(..self.scheme_len).unwrap_or_default()
    }

    /// Everything after the scheme's colon.
    pub fn rest(&self) -> &'a str {
        self.raw.get(self.scheme_len + 1..).unwrap_or_default()
    }
}

impl fmt::Display for OpaqueUri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.raw)
    }
}

/// Text the grammar has already limited to ASCII.
pub(crate) fn ascii(b: &[u8]) -> &str {
    std::str::from_utf8(b).unwrap_or_default()
}

/// nom: a whole URI. `scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`.
fn uri(input: &[u8]) -> PResult<'_, Uri<'_>> {
    let n = match input.first() {
        Some(b) if b.is_ascii_alphabetic() => input
            .iter()
            .take_while(|&&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
            .count(),
        _ => return fail(input, "URI scheme"),
    };
    if input.get(n) != Some(&b':') {
        return fail(&input[n..], "':' after the URI scheme");
    }
    let scheme = &input[..n];
    let rest = &input[n + 1..];
    if scheme.eq_ignore_ascii_case(b"sip") {
        sip::sip_uri(input, rest, false).map(|(r, u)| (r, Uri::Sip(u)))
    } else if scheme.eq_ignore_ascii_case(b"sips") {
        sip::sip_uri(input, rest, true).map(|(r, u)| (r, Uri::Sip(u)))
    } else if scheme.eq_ignore_ascii_case(b"tel") {
        tel::tel_uri(input, rest).map(|(r, t)| (r, Uri::Tel(t)))
    } else {
        let (r, _) = escape::chars(rest, escape::URIC, 1, "URI characters")?;
        if !r.is_empty() {
            return fail(r, "URI character or end of URI");
        }
        Ok((
            r,
            Uri::Other(OpaqueUri {
                raw: ascii(input),
                scheme_len: n,
            }),
        ))
    }
}
