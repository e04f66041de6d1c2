//! `host = hostname / IPv4address / IPv6reference` (RFC 3261 §25.1, RFC 5118).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::syntax::lex::{fail, to_parse_error, PResult};
use crate::syntax::ParseError;

use super::ascii;

/// The host of a SIP URI (or of a `maddr` parameter): a host name, an IPv4 address or an
/// IPv6 reference, with the text as written.
///
/// Host names compare case-insensitively and addresses by value (so
/// `[2001:db8::10]` and `[2001:DB8:0:0:0:0:0:10]` are the same host), see
/// [`host_eq`](Self::host_eq).
///
/// ```
/// use sipcore::uri::Host;
/// use std::net::Ipv6Addr;
/// let h = Host::parse(b"[2001:db8::10]").unwrap();
/// assert_eq!(h.as_str(), "[2001:db8::10]");
/// assert_eq!(h.ip(), Some("2001:db8::10".parse::<Ipv6Addr>().unwrap().into()));
/// assert!(Host::parse(b"Atlanta.COM").unwrap().host_eq(&Host::parse(b"atlanta.com").unwrap()));
/// assert!(Host::parse(b"example.com-").is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Host<'a> {
    /// A host name as written (compare case-insensitively); may end in a dot.
    Name(&'a str),
    /// An IPv4 address.
    Ipv4 {
        /// The address.
        addr: Ipv4Addr,
        /// The text as written.
        raw: &'a str,
    },
    /// An IPv6 reference.
    Ipv6 {
        /// The address.
        addr: Ipv6Addr,
        /// The text as written, brackets included.
        raw: &'a str,
    },
}

impl<'a> Host<'a> {
    /// Parses a whole `host`; offsets in the error are relative to `input`.
    pub fn parse(input: &'a [u8]) -> Result<Host<'a>, ParseError> {
        match host(input) {
            Ok(([], h)) => Ok(h),
            Ok((rest, _)) => Err(ParseError::malformed(
                input.len() - rest.len(),
                "end of host",
            )),
            Err(nom::Err::Error(e)) | Err(nom::Err::Failure(e)) => Err(to_parse_error(input, e)),
            Err(nom::Err::Incomplete(_)) => Err(ParseError::malformed(input.len(), "host")),
        }
    }

    /// The host as written (IPv6 references with their brackets).
    pub fn as_str(&self) -> &'a str {
        match *self {
            Host::Name(s) => s,
            Host::Ipv4 { raw, .. } | Host::Ipv6 { raw, .. } => raw,
        }
    }

    /// The address, if the host is an IP literal.
    pub fn ip(&self) -> Option<IpAddr> {
        match *self {
            Host::Name(_) => None,
            Host::Ipv4 { addr, .. } => Some(IpAddr::V4(addr)),
            Host::Ipv6 { addr, .. } => Some(IpAddr::V6(addr)),
        }
    }

    /// The host name, if the host is not an IP literal.
    pub fn name(&self) -> Option<&'a str> {
        match *self {
            Host::Name(s) => Some(s),
            _ => None,
        }
    }

    /// RFC 3261 §19.1.4 host comparison: names case-insensitively, addresses by value;
    /// a name never equals an address (even one it resolves to).
    pub fn host_eq(&self, other: &Host<'_>) -> bool {
        match (self, other) {
            (Host::Name(a), Host::Name(b)) => a.eq_ignore_ascii_case(b),
            (Host::Ipv4 { addr: a, .. }, Host::Ipv4 { addr: b, .. }) => a == b,
            (Host::Ipv6 { addr: a, .. }, Host::Ipv6 { addr: b, .. }) => a == b,
            _ => false,
        }
    }
}

impl fmt::Display for Host<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// nom: `host`. An all-digit dotted run must be an IPv4 address (a top label starts with
/// a letter), so `192.0.2.256` and `1.2.3` are errors rather than host names.
pub(crate) fn host(i: &[u8]) -> PResult<'_, Host<'_>> {
    if i.first() == Some(&b'[') {
        return ipv6_reference(i);
    }
    let n = i
        .iter()
        .take_while(|&&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        .count();
    if n == 0 {
        return fail(i, "host");
    }
    let text = &i[..n];
    if text.iter().all(|&b| b.is_ascii_digit() || b == b'.') {
        return match ipv4(text) {
            Some(addr) => Ok((
                &i[n..],
                Host::Ipv4 {
                    addr,
                    raw: ascii(text),
                },
            )),
            None => fail(i, "IPv4 address"),
        };
    }
    match check_hostname(text) {
        Ok(()) => Ok((&i[n..], Host::Name(ascii(text)))),
        Err((at, what)) => fail(&i[at..], what),
    }
}

fn ipv6_reference(i: &[u8]) -> PResult<'_, Host<'_>> {
    let inner = &i[1..];
    let n = inner
        .iter()
        .take_while(|&&b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        .count();
    if inner.get(n) != Some(&b']') {
        return fail(&inner[n..], "']' closing the IPv6 reference");
    }
    match ascii(&inner[..n]).parse::<Ipv6Addr>() {
        Ok(addr) => Ok((
            &inner[n + 1..],
            Host::Ipv6 {
                addr,
                raw: ascii(&i[..n + 2]),
            },
        )),
        Err(_) => match rfc2373_three_colons(&inner[..n]) {
            Some(addr) => Ok((
                &inner[n + 1..],
                Host::Ipv6 {
                    addr,
                    raw: ascii(&i[..n + 2]),
                },
            )),
            None => fail(inner, "IPv6 address"),
        },
    }
}

/// The one address form RFC 3261's `IPv6address` rule (taken from RFC 2373) derives and
/// RFC 4291 does not: a `hexpart` ending in `::` followed by `":" IPv4address`, so three
/// colons before an embedded IPv4 address (`2001:db8:::192.0.2.1`, `:::192.0.2.1`). RFC
/// 5118 §4.10 asks parsers to accept it; it means the address with two colons. Tried
/// only after the standard parse failed, so well-formed addresses pay nothing.
fn rfc2373_three_colons(text: &[u8]) -> Option<Ipv6Addr> {
    let at = memchr::memmem::find(text, b":::")?;
    let (head, tail) = (text.get(..at)?, text.get(at + 3..)?);
    // `[hexseq]`: groups of 1 to 4 hex digits joined by single colons (no `::` inside).
    let hexseq = head.is_empty()
        || head
            .split(|&b| b == b':')
            .all(|g| (1..=4).contains(&g.len()) && g.iter().all(u8::is_ascii_hexdigit));
    if !hexseq || ipv4(tail).is_none() {
        return None;
    }
    // The same address with two colons, on the stack (an IPv6 reference is short: the
    // caller's text is at most hex digits, colons and dots, and longer ones fail here).
    let mut buf = [0u8; 64];
    let len = text.len() - 1;
    buf.get_mut(..at + 2)?.copy_from_slice(text.get(..at + 2)?);
    buf.get_mut(at + 2..len)?.copy_from_slice(tail);
    ascii(buf.get(..len)?).parse::<Ipv6Addr>().ok()
}

/// `1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT`, each at most 255.
fn ipv4(text: &[u8]) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = text.split(|&b| b == b'.');
    for o in &mut octets {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 3 {
            return None;
        }
        let v = p
            .iter()
            .fold(0u16, |v, &d| v * 10 + u16::from(d.wrapping_sub(b'0')));
        *o = u8::try_from(v).ok()?;
    }
    if parts.next().is_some() {
        return None;
    }
    Some(Ipv4Addr::from(octets))
}

/// `hostname = *( domainlabel "." ) toplabel [ "." ]`; labels are alphanumerics with
/// inner hyphens, and the top label starts with a letter. On error, the offset of the
/// bad label and what was expected.
pub(crate) fn check_hostname(text: &[u8]) -> Result<(), (usize, &'static str)> {
    let body = text.strip_suffix(b".").unwrap_or(text);
    let mut start = 0;
    let mut top = 0;
    for label in body.split(|&b| b == b'.') {
        let ok = match (label.first(), label.last()) {
            (Some(f), Some(l)) => {
                f.is_ascii_alphanumeric()
                    && l.is_ascii_alphanumeric()
                    && label
                        .iter()
                        .all(|&b| b.is_ascii_alphanumeric() || b == b'-')
            }
            _ => false,
        };
        if !ok {
            return Err((start, "host name label"));
        }
        top = start;
        start += label.len() + 1;
    }
    match text.get(top) {
        Some(b) if b.is_ascii_alphabetic() => Ok(()),
        _ => Err((top, "top label starting with a letter")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_kinds() {
        assert_eq!(
            Host::parse(b"atlanta.com").unwrap(),
            Host::Name("atlanta.com")
        );
        assert_eq!(
            Host::parse(b"example.com.").unwrap().as_str(),
            "example.com."
        );
        assert_eq!(Host::parse(b"3com.com").unwrap().name(), Some("3com.com"));
        assert_eq!(
            Host::parse(b"192.0.2.4").unwrap().ip(),
            Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 4)))
        );
        let h = Host::parse(b"[::ffff:192.0.2.10]").unwrap();
        assert_eq!(h.as_str(), "[::ffff:192.0.2.10]");
        assert!(matches!(h, Host::Ipv6 { .. }));
    }

    #[test]
    fn three_colons_before_an_ipv4_address_are_rfc_3261_abnf() {
        // RFC 5118 §4.10: accepted, as the address with two colons.
        for (text, addr) in [
            ("[2001:db8:::192.0.2.1]", "2001:db8::192.0.2.1"),
            ("[:::192.0.2.1]", "::192.0.2.1"),
            ("[1:2:3:4:5:::192.0.2.1]", "1:2:3:4:5::192.0.2.1"),
        ] {
            let h = Host::parse(text.as_bytes()).unwrap();
            assert_eq!(
                h.ip(),
                Some(addr.parse::<Ipv6Addr>().unwrap().into()),
                "{text}"
            );
            assert_eq!(h.as_str(), text);
        }
        // Positive control: the two-colon form, through the standard parse.
        let h = Host::parse(b"[2001:db8::192.0.2.1]").unwrap();
        assert_eq!(
            h.ip(),
            Some("2001:db8::c000:201".parse::<Ipv6Addr>().unwrap().into())
        );
    }

    #[test]
    fn host_errors() {
        for (bad, at) in [
            (&b""[..], 0),
            (b"192.0.2.256", 0),
            (b"1.2.3", 0),
            (b"1.2.3.4.", 0),
            (b"a..b", 2),
            (b"-a.com", 0),
            (b"a-.com", 0),
            (b"example.123", 8),
            (b"ex_ample.com", 2),
            (b"[2001:db8::10", 13),
            (b"[]", 1),
            (b"[2001:db8:::1]", 1),
            (b"[2001::db8:::192.0.2.1]", 1),
            (b"[12345:::192.0.2.1]", 1),
            (b"[2001:db8:::192.0.2]", 1),
            (b"[1:2:3:4:5:6:7:::192.0.2.1]", 1),
            (b"[2001:db8::::192.0.2.1]", 1),
            (b"[1:2:3:4:5:6:7:8:9]", 1),
            (b"[fe80::1%eth0]", 8),
        ] {
            let e = Host::parse(bad).expect_err(std::str::from_utf8(bad).unwrap());
            assert_eq!(e.offset(), at, "{}: {e}", std::str::from_utf8(bad).unwrap());
        }
    }

    #[test]
    fn host_equality() {
        let p = |s: &'static str| Host::parse(s.as_bytes()).unwrap();
        assert!(p("[2001:db8::10]").host_eq(&p("[2001:DB8:0:0:0:0:0:10]")));
        assert!(!p("[2001:db8::10]").host_eq(&p("[2001:db8::11]")));
        assert!(p("192.0.2.4").host_eq(&p("192.000.2.004")));
        assert!(!p("phone21.boxesbybob.com").host_eq(&p("192.0.2.4")));
        assert!(!p("[::ffff:192.0.2.4]").host_eq(&p("192.0.2.4")));
    }
}
