//! URI equality, RFC 3261 §19.1.4 for SIP and SIPS URIs, without allocating.
//!
//! - the schemes match (`sip` never equals `sips`);
//! - user and password compare case-sensitively, everything else case-insensitively;
//! - an escaped octet equals the octet it encodes (`%61lice` is `alice`), in every part;
//! - hosts compare as names or by address value, never a name against an address;
//! - a part with a default (port, `transport`, `user`, `ttl`, `method`, `maddr`) present in
//!   one URI but not the other makes them differ: `sip:bob@biloxi.com` is not
//!   `sip:bob@biloxi.com:5060`;
//! - any other parameter is compared only when both URIs carry it;
//! - headers must all be present in both, in any order, with equal values. Header values
//!   compare case-sensitively (after unescaping), the conservative reading of "the
//!   matching rules are defined for each header field in Section 20".
//!
//! Because other parameters are ignored when only one URI has them, this relation is not
//! transitive, so it is a method rather than `PartialEq`.

use super::escape::{eq_decoded, eq_decoded_ic};
use super::sip::{SipUri, UriHeaders, UriParams};
use super::{OpaqueUri, Uri};

/// Parameters that must be in both URIs or in neither.
const MUST_MATCH: [&str; 5] = ["user", "ttl", "method", "maddr", "transport"];

impl Uri<'_> {
    /// URI equality: RFC 3261 §19.1.4 for SIP and SIPS URIs, RFC 3966 §4 for tel URIs,
    /// and for other schemes the scheme case-insensitively and the rest byte for byte.
    /// URIs of different schemes are never equal.
    ///
    /// ```
    /// use sipcore::uri::Uri;
    /// let a = Uri::parse(b"sip:%61lice@atlanta.com;transport=TCP").unwrap();
    /// let b = Uri::parse(b"sip:alice@AtLanTa.CoM;Transport=tcp").unwrap();
    /// assert!(a.uri_eq(&b));
    /// let c = Uri::parse(b"sip:alice@atlanta.com:5060;transport=tcp").unwrap();
    /// assert!(!a.uri_eq(&c));
    /// ```
    pub fn uri_eq(&self, other: &Uri<'_>) -> bool {
        match (self, other) {
            (Uri::Sip(a), Uri::Sip(b)) => a.uri_eq(b),
            (Uri::Tel(a), Uri::Tel(b)) => a.uri_eq(b),
            (Uri::Other(a), Uri::Other(b)) => a.uri_eq(b),
            _ => false,
        }
    }
}

impl SipUri<'_> {
    /// RFC 3261 §19.1.4 equality (see [`Uri::uri_eq`] and the rules in the
    /// [module docs](crate::uri#equality)).
    pub fn uri_eq(&self, other: &SipUri<'_>) -> bool {
        self.is_sips() == other.is_sips()
            && opt_eq(self.user(), other.user(), eq_decoded)
            && opt_eq(self.password(), other.password(), eq_decoded)
            && self.host().host_eq(&other.host())
            && self.port() == other.port()
            && params_eq(self.params(), other.params())
            && headers_cover(self.headers(), other.headers())
            && headers_cover(other.headers(), self.headers())
    }
}

impl OpaqueUri<'_> {
    /// Scheme case-insensitively, the rest byte for byte.
    pub fn uri_eq(&self, other: &OpaqueUri<'_>) -> bool {
        self.scheme().eq_ignore_ascii_case(other.scheme()) && self.rest() == other.rest()
    }
}

fn opt_eq(a: Option<&str>, b: Option<&str>, eq: fn(&str, &str) -> bool) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => eq(a, b),
        _ => false,
    }
}

fn params_eq(a: UriParams<'_>, b: UriParams<'_>) -> bool {
    for p in a.clone().firsts() {
        match b.clone().get(p.name) {
            Some(q) => {
                if !opt_eq(p.value, q.value, eq_decoded_ic) {
                    return false;
                }
            }
            None => {
                if is_must_match(p.name) {
                    return false;
                }
            }
        }
    }
    // A must-match parameter only `b` has.
    b.into_iter()
        .all(|q| !is_must_match(q.name) || a.clone().get(q.name).is_some())
}

fn is_must_match(name: &str) -> bool {
    MUST_MATCH.iter().any(|m| eq_decoded_ic(name, m))
}

/// Whether every header of `a` has an equal one in `b`.
fn headers_cover(a: UriHeaders<'_>, b: UriHeaders<'_>) -> bool {
    a.into_iter().all(|h| {
        b.clone()
            .any(|g| eq_decoded_ic(h.name, g.name) && eq_decoded(h.value, g.value))
    })
}
