//! `%HH` escapes in URIs: the character classes of each URI component (RFC 3261 §25.1,
//! RFC 3966 §3), validation while scanning, decoding that borrows when nothing is
//! escaped, allocation-free comparison of escaped text, and encoding for writers.

use std::borrow::Cow;

use crate::syntax::lex::{fail, PResult};

// Component classes, one bit each, in one 256-entry table (as lex.rs does).
/// `user`: unreserved / user-unreserved.
pub(crate) const USER: u8 = 1;
/// `password`: unreserved / `& = + $ ,`.
pub(crate) const PASSWORD: u8 = 2;
/// `paramchar` (SIP `pname`/`pvalue`, tel `pvalue`): param-unreserved / unreserved.
pub(crate) const PARAM: u8 = 4;
/// `hname`/`hvalue`: hnv-unreserved / unreserved.
pub(crate) const HNV: u8 = 8;
/// `uric` (plus `[` `]` for IPv6 literals of other schemes): the opaque part of other URIs.
pub(crate) const URIC: u8 = 16;
/// tel `isub` value: `uric` without `;` (which would start the next parameter).
pub(crate) const ISUB: u8 = 32;

const fn table() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut c = 0usize;
    while c < 256 {
        let b = c as u8;
        let unreserved = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
            );
        let reserved = matches!(
            b,
            b';' | b'/' | b'?' | b':' | b'@' | b'&' | b'=' | b'+' | b'$' | b','
        );
        let mut v = 0u8;
        if unreserved || matches!(b, b'&' | b'=' | b'+' | b'$' | b',' | b';' | b'?' | b'/') {
            v |= USER;
        }
        if unreserved || matches!(b, b'&' | b'=' | b'+' | b'$' | b',') {
            v |= PASSWORD;
        }
        if unreserved || matches!(b, b'[' | b']' | b'/' | b':' | b'&' | b'+' | b'$') {
            v |= PARAM;
        }
        if unreserved || matches!(b, b'[' | b']' | b'/' | b'?' | b':' | b'+' | b'$') {
            v |= HNV;
        }
        if unreserved || reserved || b == b'[' || b == b']' {
            v |= URIC;
        }
        if (unreserved || reserved) && b != b';' {
            v |= ISUB;
        }
        t[c] = v;
        c += 1;
    }
    t
}

static CLASS: [u8; 256] = table();

/// Whether `b` may appear unescaped in a component of class `class`.
#[inline]
pub(crate) fn in_class(b: u8, class: u8) -> bool {
    CLASS[b as usize] & class != 0
}

/// Length of the longest prefix of `i` made of `class` bytes and `%HH` escapes; on a
/// `%` without two hex digits, the offset of that `%`.
#[inline]
pub(crate) fn scan(i: &[u8], class: u8) -> Result<usize, usize> {
    let mut k = 0;
    while let Some(&b) = i.get(k) {
        if b == b'%' {
            match (i.get(k + 1), i.get(k + 2)) {
                (Some(h), Some(l)) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => k += 3,
                _ => return Err(k),
            }
        } else if in_class(b, class) {
            k += 1;
        } else {
            break;
        }
    }
    Ok(k)
}

/// nom: `min`-or-more characters of `class` (escapes allowed), named `what` on failure.
pub(crate) fn chars<'a>(
    i: &'a [u8],
    class: u8,
    min: usize,
    what: &'static str,
) -> PResult<'a, &'a [u8]> {
    match scan(i, class) {
        Ok(n) if n >= min => Ok((&i[n..], &i[..n])),
        Ok(_) => fail(i, what),
        Err(at) => fail(&i[at..], "escaped character (%HH)"),
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Iterator over the decoded octets of escaped text. A `%` that does not start a valid
/// escape (not possible in parsed URI components) is passed through as is.
#[derive(Debug, Clone)]
pub(crate) struct Unescaped<'a> {
    rest: &'a [u8],
}

impl<'a> Unescaped<'a> {
    pub(crate) fn new(raw: &'a [u8]) -> Self {
        Unescaped { rest: raw }
    }
}

impl Iterator for Unescaped<'_> {
    type Item = u8;
    #[inline]
    fn next(&mut self) -> Option<u8> {
        let (&b, tail) = self.rest.split_first()?;
        if b == b'%' {
            if let [h, l, more @ ..] = tail {
                if let (Some(h), Some(l)) = (hex(*h), hex(*l)) {
                    self.rest = more;
                    return Some(h << 4 | l);
                }
            }
        }
        self.rest = tail;
        Some(b)
    }
}

/// Decodes `%HH` escapes. Borrows `raw` when it holds no `%`.
///
/// ```
/// use sipcore::uri::escape::decode;
/// assert_eq!(&*decode("project%20x"), b"project x");
/// assert!(matches!(decode("alice"), std::borrow::Cow::Borrowed(_)));
/// ```
pub fn decode(raw: &str) -> Cow<'_, [u8]> {
    if !raw.as_bytes().contains(&b'%') {
        return Cow::Borrowed(raw.as_bytes());
    }
    Cow::Owned(Unescaped::new(raw.as_bytes()).collect())
}

/// Decodes `%HH` escapes into text; escaped octets that are not UTF-8 become U+FFFD.
/// Borrows `raw` when it holds no `%`.
///
/// ```
/// use sipcore::uri::escape::decode_str;
/// assert_eq!(decode_str("I%20have%20spaces"), "I have spaces");
/// ```
pub fn decode_str(raw: &str) -> Cow<'_, str> {
    match decode(raw) {
        Cow::Borrowed(_) => Cow::Borrowed(raw),
        Cow::Owned(v) => match String::from_utf8(v) {
            Ok(s) => Cow::Owned(s),
            Err(e) => Cow::Owned(String::from_utf8_lossy(e.as_bytes()).into_owned()),
        },
    }
}

/// Whether two escaped texts decode to the same octets (case-sensitive), without
/// allocating.
pub(crate) fn eq_decoded(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if !a.contains(&b'%') && !b.contains(&b'%') {
        return a == b;
    }
    Unescaped::new(a).eq(Unescaped::new(b))
}

/// Whether two escaped texts decode to the same octets, ASCII case-insensitively.
pub(crate) fn eq_decoded_ic(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if !a.contains(&b'%') && !b.contains(&b'%') {
        return a.eq_ignore_ascii_case(b);
    }
    Unescaped::new(a)
        .map(|c| c.to_ascii_lowercase())
        .eq(Unescaped::new(b).map(|c| c.to_ascii_lowercase()))
}

/// The URI component a text is escaped for (each allows a different set unescaped).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Component {
    /// The user part of a SIP URI.
    User,
    /// The password of a SIP URI.
    Password,
    /// A URI parameter name or value.
    Param,
    /// A URI header name or value.
    Header,
}

impl Component {
    fn class(self) -> u8 {
        match self {
            Component::User => USER,
            Component::Password => PASSWORD,
            Component::Param => PARAM,
            Component::Header => HNV,
        }
    }
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Escapes `input` for `component`: octets outside its character class (and `%`
/// itself) become `%HH`. Borrows when nothing needs escaping.
///
/// ```
/// use sipcore::uri::escape::{encode, Component};
/// assert_eq!(encode(b"alice@home", Component::User), "alice%40home");
/// assert_eq!(encode(b"project x", Component::Header), "project%20x");
/// ```
pub fn encode(input: &[u8], component: Component) -> Cow<'_, str> {
    let class = component.class();
    if input.iter().all(|&b| in_class(b, class)) {
        // Every class byte is ASCII.
        if let Ok(s) = std::str::from_utf8(input) {
            return Cow::Borrowed(s);
        }
    }
    let mut out = String::with_capacity(input.len() + 8);
    encode_into(&mut out, input, component);
    Cow::Owned(out)
}

/// Appends `input` escaped for `component` to `out`.
pub fn encode_into(out: &mut String, input: &[u8], component: Component) {
    let class = component.class();
    for &b in input {
        if in_class(b, class) {
            out.push(char::from(b));
        } else {
            out.extend(escaped(b).map(char::from));
        }
    }
}

/// Appends `input` to `out` with octets outside `class` escaped.
pub(crate) fn encode_bytes(out: &mut Vec<u8>, input: &[u8], class: u8) {
    for &b in input {
        if in_class(b, class) {
            out.push(b);
        } else {
            out.extend_from_slice(&escaped(b));
        }
    }
}

fn escaped(b: u8) -> [u8; 3] {
    [b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 0x0f)]]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_stops_at_class_end_and_rejects_bad_escapes() {
        assert_eq!(scan(b"alice@x", USER), Ok(5));
        assert_eq!(scan(b"%61lice@x", USER), Ok(7));
        assert_eq!(scan(b"ab%4", USER), Err(2));
        assert_eq!(scan(b"ab%zz", USER), Err(2));
        assert_eq!(scan(b"a;b?c", USER), Ok(5));
        assert_eq!(scan(b"a;b", PARAM), Ok(1));
    }

    #[test]
    fn decode_borrows_or_decodes() {
        assert!(matches!(decode("plain"), Cow::Borrowed(_)));
        assert_eq!(&*decode("%6C%72"), b"lr");
        assert_eq!(&*decode("null-%00-null"), b"null-\0-null");
        assert_eq!(decode_str("%FF"), "\u{FFFD}");
    }

    #[test]
    fn decoded_comparisons() {
        assert!(eq_decoded("%61lice", "alice"));
        assert!(!eq_decoded("%41lice", "alice"));
        assert!(eq_decoded_ic("%41lice", "alice"));
        assert!(eq_decoded_ic("TCP", "tcp"));
        assert!(!eq_decoded_ic("tcp", "tcpx"));
    }

    #[test]
    fn encode_round_trips() {
        let all: Vec<u8> = (0..=255).collect();
        for c in [
            Component::User,
            Component::Password,
            Component::Param,
            Component::Header,
        ] {
            let e = encode(&all, c);
            assert_eq!(scan(e.as_bytes(), c.class()), Ok(e.len()));
            assert_eq!(&*decode(&e), &all[..]);
        }
        assert!(matches!(
            encode(b"alice", Component::User),
            Cow::Borrowed(_)
        ));
    }
}
