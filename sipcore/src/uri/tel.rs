//! `tel:` URIs (RFC 3966).
//!
//! ```text
//! telephone-uri        = "tel:" ( global-number / local-number )
//! global-number        = global-number-digits *par
//! local-number         = local-number-digits *par context *par
//! par                  = parameter / extension / isdn-subaddress
//! global-number-digits = "+" *phonedigit DIGIT *phonedigit
//! local-number-digits  = *phonedigit-hex (HEXDIG / "*" / "#") *phonedigit-hex
//! visual-separator     = "-" / "." / "(" / ")"
//! ```

use std::fmt;

use crate::syntax::lex::{fail, PResult};
use crate::syntax::ParseError;

use super::escape::{self, chars, ISUB, PARAM};
use super::host::check_hostname;
use super::sip::{UriParam, UriParams};
use super::{ascii, Uri};

/// A `tel:` URI borrowing from the parsed text.
///
/// A global number starts with `+`; a local number must carry a `phone-context`
/// (RFC 3966 §5.1.5). Visual separators (`-` `.` `(` `)`) are kept in
/// [`number`](Self::number) and skipped by [`digits`](Self::digits).
///
/// ```
/// use sipcore::uri::TelUri;
/// let t = TelUri::parse(b"tel:+358-555-1234567;postd=pp22").unwrap();
/// assert!(t.is_global());
/// assert_eq!(t.number(), "+358-555-1234567");
/// assert_eq!(t.digits().collect::<String>(), "3585551234567");
/// assert_eq!(t.param("postd").and_then(|p| p.value), Some("pp22"));
///
/// let local = TelUri::parse(b"tel:7042;phone-context=example.com").unwrap();
/// assert_eq!(local.phone_context(), Some("example.com"));
/// assert!(TelUri::parse(b"tel:7042").is_err());
/// ```
#[derive(Debug, Clone, Copy)]
pub struct TelUri<'a> {
    raw: &'a str,
    number: &'a str,
    params: &'a str,
}

impl<'a> TelUri<'a> {
    /// Parses a `tel:` URI; any other scheme is an error at offset 0.
    pub fn parse(input: &'a [u8]) -> Result<TelUri<'a>, ParseError> {
        match Uri::parse(input)? {
            Uri::Tel(t) => Ok(t),
            _ => Err(ParseError::malformed(0, "tel scheme")),
        }
    }

    /// The whole URI as written.
    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    /// The number as written, with its `+` if global and any visual separators.
    pub fn number(&self) -> &'a str {
        self.number
    }

    /// Whether the number is global (starts with `+`).
    pub fn is_global(&self) -> bool {
        self.number.starts_with('+')
    }

    /// The digits of the number (hex digits, `*` and `#` for local numbers), without
    /// the `+` and the visual separators.
    pub fn digits(&self) -> impl Iterator<Item = char> + 'a {
        self.number.chars().filter(|c| !is_separator_or_plus(*c))
    }

    /// The parameters as written, `;ext=123;isub=x` (empty when there are none).
    pub fn params_raw(&self) -> &'a str {
        self.params
    }

    /// Iterates the parameters in order.
    pub fn params(&self) -> UriParams<'a> {
        UriParams::new(self.params)
    }

    /// The first parameter named `name` (case-insensitive).
    pub fn param(&self, name: &str) -> Option<UriParam<'a>> {
        self.params().get(name)
    }

    /// The `phone-context` parameter: a domain name or a global number prefix.
    pub fn phone_context(&self) -> Option<&'a str> {
        self.param("phone-context")?.value
    }

    /// The `ext` (extension) parameter.
    pub fn ext(&self) -> Option<&'a str> {
        self.param("ext")?.value
    }

    /// The `isub` (ISDN subaddress) parameter, escapes kept.
    pub fn isub(&self) -> Option<&'a str> {
        self.param("isub")?.value
    }

    /// RFC 3966 §4 equality: both global or both local, the same digits ignoring
    /// visual separators, and the same set of parameters (in any order) with equal
    /// values; `phone-context` and `ext` values compare without visual separators,
    /// everything case-insensitively, escapes equivalent to the octets they encode.
    pub fn uri_eq(&self, other: &TelUri<'_>) -> bool {
        if self.is_global() != other.is_global() || !same_digits(self.number, other.number) {
            return false;
        }
        let covers = |a: &TelUri<'_>, b: &TelUri<'_>| {
            a.params().firsts().all(|p| match b.param(p.name) {
                Some(q) => tel_value_eq(p.name, p.value, q.value),
                None => false,
            })
        };
        covers(self, other) && covers(other, self)
    }
}

impl fmt::Display for TelUri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.raw)
    }
}

fn is_separator_or_plus(c: char) -> bool {
    matches!(c, '-' | '.' | '(' | ')' | '+')
}

fn digit_bytes(s: &str) -> impl Iterator<Item = u8> + '_ {
    s.bytes()
        .filter(|&b| !is_separator_or_plus(char::from(b)))
        .map(|b| b.to_ascii_lowercase())
}

fn same_digits(a: &str, b: &str) -> bool {
    digit_bytes(a).eq(digit_bytes(b))
}

fn tel_value_eq(name: &str, a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => {
            let numeric = escape::eq_decoded_ic(name, "ext")
                || (escape::eq_decoded_ic(name, "phone-context") && a.starts_with('+'));
            if numeric {
                b.starts_with('+') == a.starts_with('+') && same_digits(a, b)
            } else {
                escape::eq_decoded_ic(a, b)
            }
        }
        _ => false,
    }
}

fn is_visual_separator(b: u8) -> bool {
    matches!(b, b'-' | b'.' | b'(' | b')')
}

/// `n` phone digits from `i` (`DIGIT`, or `HEXDIG / "*" / "#"` when `hex`) and visual
/// separators, and how many of them were not separators.
fn phone_digits(i: &[u8], hex: bool) -> (usize, usize) {
    let mut n = 0;
    let mut digits = 0;
    for &b in i {
        let digit = if hex {
            b.is_ascii_hexdigit() || b == b'*' || b == b'#'
        } else {
            b.is_ascii_digit()
        };
        if digit {
            digits += 1;
        } else if !is_visual_separator(b) {
            break;
        }
        n += 1;
    }
    (n, digits)
}

/// nom: what follows `tel:`, to the end of the input.
pub(super) fn tel_uri<'a>(whole: &'a [u8], i: &'a [u8]) -> PResult<'a, TelUri<'a>> {
    let global = i.first() == Some(&b'+');
    let skip = usize::from(global);
    let (n, digits) = phone_digits(&i[skip..], !global);
    if digits == 0 {
        return fail(i, "telephone number");
    }
    let number = &i[..skip + n];
    let (r, (params, has_context)) = tel_params(&i[skip + n..])?;
    if !r.is_empty() {
        return fail(r, "';' or end of URI");
    }
    if !global && !has_context {
        return fail(r, "';phone-context=' for a local number");
    }
    Ok((
        r,
        TelUri {
            raw: ascii(whole),
            number: ascii(number),
            params: ascii(params),
        },
    ))
}

/// `*par`: the raw span and whether a `phone-context` was among them.
fn tel_params(i: &[u8]) -> PResult<'_, (&[u8], bool)> {
    let mut r = i;
    let mut has_context = false;
    while r.first() == Some(&b';') {
        let k = &r[1..];
        let n = k
            .iter()
            .take_while(|&&b| b.is_ascii_alphanumeric() || b == b'-')
            .count();
        if n == 0 {
            return fail(k, "parameter name");
        }
        let name = &k[..n];
        let k = &k[n..];
        let is = |s: &str| name.eq_ignore_ascii_case(s.as_bytes());
        let special = is("isub") || is("ext") || is("phone-context");
        if k.first() != Some(&b'=') {
            if special {
                return fail(k, "'=' and a value");
            }
            r = k;
            continue;
        }
        let v = &k[1..];
        r = if is("isub") {
            chars(v, ISUB, 1, "isub value")?.0
        } else if is("ext") {
            match phone_digits(v, false) {
                (n, d) if d > 0 => &v[n..],
                _ => return fail(v, "extension digits"),
            }
        } else if is("phone-context") {
            has_context = true;
            phone_context(v)?.0
        } else {
            chars(v, PARAM, 1, "parameter value")?.0
        };
    }
    Ok((r, (&i[..i.len() - r.len()], has_context)))
}

/// `descriptor = domainname / global-number-digits`; returns what follows it.
fn phone_context(v: &[u8]) -> PResult<'_, ()> {
    if v.first() == Some(&b'+') {
        return match phone_digits(&v[1..], false) {
            (n, d) if d > 0 => Ok((&v[1 + n..], ())),
            _ => fail(v, "global number digits"),
        };
    }
    let n = v
        .iter()
        .take_while(|&&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        .count();
    if n == 0 {
        return fail(v, "domain name or global number digits");
    }
    match check_hostname(&v[..n]) {
        Ok(()) => Ok((&v[n..], ())),
        Err((at, what)) => fail(&v[at..], what),
    }
}
