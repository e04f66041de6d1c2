//! Header names at the start of a header line, recognised by comparing machine words.
//!
//! Nearly every header line of real traffic starts with one of a few dozen names
//! followed directly by `:`. [`known_name`] matches `name:` against the first one or
//! two 8-byte words of the line (letters compared without case), which replaces the
//! byte-by-byte token scan, the colon check and the name lookup of the general path
//! with a jump on the first letter and a couple of compares. Anything else (compact
//! forms, white space before the colon, other names) goes the general way, which
//! gives the same result.

use super::HeaderId;

/// The eight bytes of `buf` at `at` as a little-endian word, zero-padded past the end.
#[inline(always)]
pub(crate) fn word_at(buf: &[u8], at: usize) -> u64 {
    match buf.get(at..at + 8) {
        Some(w) => <[u8; 8]>::try_from(w).map_or(0, u64::from_le_bytes),
        None => {
            let mut w = [0u8; 8];
            for (d, s) in w.iter_mut().zip(buf.get(at..).unwrap_or_default()) {
                *d = *s;
            }
            u64::from_le_bytes(w)
        }
    }
}

/// A header name with its colon, `name:` (at most 16 bytes), as words to compare.
#[derive(Debug, Clone, Copy)]
struct Known {
    id: HeaderId,
    /// Length of the name, without the colon.
    name_len: usize,
    /// The first (up to) eight bytes of `name:` in lowercase, and which bits count.
    lo: u64,
    lo_mask: u64,
    lo_fold: u64,
    /// The last eight bytes of `name:` in lowercase when it is longer than eight.
    hi: u64,
    hi_fold: u64,
}

impl Known {
    /// `name` (letters, digits, `-`; 1 to 15 bytes) and its id.
    const fn new(name: &str, id: HeaderId) -> Known {
        let name = name.as_bytes();
        let n = name.len() + 1;
        assert!(n >= 2 && n <= 16);
        let mut text = [0u8; 16];
        let mut fold = [0u8; 16];
        let mut i = 0;
        while i < name.len() {
            let b = name[i];
            assert!(b.is_ascii_alphanumeric() || b == b'-');
            text[i] = b.to_ascii_lowercase();
            // Only letters are compared without case: OR-ing 0x20 into any other byte
            // could make a different byte equal (a control byte would read as '-').
            if b.is_ascii_alphabetic() {
                fold[i] = 0x20;
            }
            i += 1;
        }
        text[name.len()] = b':';
        let lo_len = if n < 8 { n } else { 8 };
        let hi_at = n.saturating_sub(8);
        Known {
            id,
            name_len: name.len(),
            lo: word(&text, 0, lo_len),
            lo_mask: if lo_len == 8 {
                u64::MAX
            } else {
                (1u64 << (8 * lo_len)) - 1
            },
            lo_fold: word(&fold, 0, lo_len),
            hi: if n > 8 { word(&text, hi_at, 8) } else { 0 },
            hi_fold: if n > 8 { word(&fold, hi_at, 8) } else { 0 },
        }
    }

    /// Whether the line at `pos` of `buf`, whose first word is `w`, starts with `name:`.
    #[inline(always)]
    fn matches(&self, w: u64, buf: &[u8], pos: usize) -> bool {
        if (w | self.lo_fold) & self.lo_mask != self.lo {
            return false;
        }
        let n = self.name_len + 1;
        n <= 8 || (word_at(buf, pos + n - 8) | self.hi_fold) == self.hi
    }
}

/// `len` bytes of `b` from `at` as a little-endian word (const).
const fn word(b: &[u8; 16], at: usize, len: usize) -> u64 {
    let mut w = 0u64;
    let mut i = 0;
    while i < len {
        w |= (b[at + i] as u64) << (8 * i);
        i += 1;
    }
    w
}

macro_rules! known {
    ($($c:ident = $name:literal, $id:ident;)*) => {
        $( const $c: Known = Known::new($name, HeaderId::$id); )*
        /// Every name [`known_name`] matches (for the tests).
        #[cfg(test)]
        const ALL: &[(&str, Known)] = &[$(($name, $c)),*];
    };
}

known! {
    VIA = "Via", Via;
    FROM = "From", From;
    TO = "To", To;
    TIMESTAMP = "Timestamp", Timestamp;
    CALL_ID = "Call-ID", CallId;
    CSEQ = "CSeq", CSeq;
    CONTACT = "Contact", Contact;
    CONTENT_TYPE = "Content-Type", ContentType;
    CONTENT_LENGTH = "Content-Length", ContentLength;
    CALL_INFO = "Call-Info", CallInfo;
    MAX_FORWARDS = "Max-Forwards", MaxForwards;
    MIN_EXPIRES = "Min-Expires", MinExpires;
    MIN_SE = "Min-SE", MinSe;
    ROUTE = "Route", Route;
    RECORD_ROUTE = "Record-Route", RecordRoute;
    REQUIRE = "Require", Require;
    REASON = "Reason", Reason;
    REFER_TO = "Refer-To", ReferTo;
    REFERRED_BY = "Referred-By", ReferredBy;
    RETRY_AFTER = "Retry-After", RetryAfter;
    RACK = "RAck", RAck;
    RSEQ = "RSeq", RSeq;
    SUBJECT = "Subject", Subject;
    SUPPORTED = "Supported", Supported;
    SERVER = "Server", Server;
    SESSION_EXPIRES = "Session-Expires", SessionExpires;
    SERVICE_ROUTE = "Service-Route", ServiceRoute;
    ALLOW = "Allow", Allow;
    AUTHORIZATION = "Authorization", Authorization;
    ACCEPT = "Accept", Accept;
    ALLOW_EVENTS = "Allow-Events", AllowEvents;
    ACCEPT_ENCODING = "Accept-Encoding", AcceptEncoding;
    ACCEPT_LANGUAGE = "Accept-Language", AcceptLanguage;
    USER_AGENT = "User-Agent", UserAgent;
    UNSUPPORTED = "Unsupported", Unsupported;
    EXPIRES = "Expires", Expires;
    EVENT = "Event", Event;
    PATH = "Path", Path;
    PRIVACY = "Privacy", Privacy;
    PRIORITY = "Priority", Priority;
    PROXY_REQUIRE = "Proxy-Require", ProxyRequire;
    DATE = "Date", Date;
    WARNING = "Warning", Warning;
}

/// The first two bytes of a name, lowercase, as [`known_name`] switches on them.
const fn key(name: &str) -> u16 {
    let b = name.as_bytes();
    (b[0].to_ascii_lowercase() as u16) | ((b[1].to_ascii_lowercase() as u16) << 8)
}

/// Tries the names in turn (constants: their words are immediates).
macro_rules! first_of {
    ($w:ident, $buf:ident, $pos:ident; $($k:ident),+) => {{
        $(
            if $k.matches($w, $buf, $pos) {
                return Some(($k.id, $k.name_len));
            }
        )+
        None
    }};
}

/// The header the line at `pos` of `buf` starts with, if it is one of the common names
/// followed directly by `:`: its id and the length of the name.
#[inline]
pub(crate) fn known_name(buf: &[u8], pos: usize) -> Option<(HeaderId, usize)> {
    let w = word_at(buf, pos);
    // The first two bytes with letters lowercased (OR-ing 0x20 makes a lowercase letter
    // only of a letter; the compare below checks every byte anyway).
    const VI: u16 = key("vi");
    const FR: u16 = key("fr");
    const TO_: u16 = key("to");
    const TI: u16 = key("ti");
    const CA: u16 = key("ca");
    const CS: u16 = key("cs");
    const CO: u16 = key("co");
    const MA: u16 = key("ma");
    const MI: u16 = key("mi");
    const RO: u16 = key("ro");
    const RE: u16 = key("re");
    const RA: u16 = key("ra");
    const RS: u16 = key("rs");
    const SU: u16 = key("su");
    const SE: u16 = key("se");
    const AL: u16 = key("al");
    const AU: u16 = key("au");
    const AC: u16 = key("ac");
    const US: u16 = key("us");
    const UN: u16 = key("un");
    const EX: u16 = key("ex");
    const EV: u16 = key("ev");
    const PA: u16 = key("pa");
    const PR: u16 = key("pr");
    const DA: u16 = key("da");
    const WA: u16 = key("wa");
    match (w as u16) | 0x2020 {
        VI => first_of!(w, buf, pos; VIA),
        FR => first_of!(w, buf, pos; FROM),
        TO_ => first_of!(w, buf, pos; TO),
        TI => first_of!(w, buf, pos; TIMESTAMP),
        CA => first_of!(w, buf, pos; CALL_ID, CALL_INFO),
        CS => first_of!(w, buf, pos; CSEQ),
        CO => first_of!(w, buf, pos; CONTACT, CONTENT_TYPE, CONTENT_LENGTH),
        MA => first_of!(w, buf, pos; MAX_FORWARDS),
        MI => first_of!(w, buf, pos; MIN_EXPIRES, MIN_SE),
        RO => first_of!(w, buf, pos; ROUTE),
        RE => {
            first_of!(w, buf, pos; RECORD_ROUTE, REQUIRE, REASON, REFER_TO, REFERRED_BY, RETRY_AFTER)
        }
        RA => first_of!(w, buf, pos; RACK),
        RS => first_of!(w, buf, pos; RSEQ),
        SU => first_of!(w, buf, pos; SUBJECT, SUPPORTED),
        SE => first_of!(w, buf, pos; SERVER, SESSION_EXPIRES, SERVICE_ROUTE),
        AL => first_of!(w, buf, pos; ALLOW, ALLOW_EVENTS),
        AU => first_of!(w, buf, pos; AUTHORIZATION),
        AC => first_of!(w, buf, pos; ACCEPT, ACCEPT_ENCODING, ACCEPT_LANGUAGE),
        US => first_of!(w, buf, pos; USER_AGENT),
        UN => first_of!(w, buf, pos; UNSUPPORTED),
        EX => first_of!(w, buf, pos; EXPIRES),
        EV => first_of!(w, buf, pos; EVENT),
        PA => first_of!(w, buf, pos; PATH),
        PR => first_of!(w, buf, pos; PRIVACY, PRIORITY, PROXY_REQUIRE),
        DA => first_of!(w, buf, pos; DATE),
        WA => first_of!(w, buf, pos; WARNING),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::lex::is_token;

    #[test]
    fn every_known_name_matches_in_any_case_and_only_with_its_colon() {
        for &(name, k) in ALL {
            assert_eq!(HeaderId::from_name(name.as_bytes()), k.id, "{name}");
            for n in [
                name.to_string(),
                name.to_ascii_lowercase(),
                name.to_ascii_uppercase(),
            ] {
                let line = format!("{n}: x\r\n");
                assert_eq!(
                    known_name(line.as_bytes(), 0),
                    Some((k.id, name.len())),
                    "{line}"
                );
                // At the end of the buffer, and not at the start of the line.
                assert_eq!(
                    known_name(format!("{n}:").as_bytes(), 0),
                    Some((k.id, name.len()))
                );
                let shifted = format!("X{n}: x");
                assert_eq!(known_name(shifted.as_bytes(), 1), Some((k.id, name.len())));
                for other in [
                    format!("{n} : x"),
                    format!("{n}x: x"),
                    n.clone(),
                    format!("{}:", &n[..n.len() - 1]),
                    format!("{n}\t: x"),
                ] {
                    assert_eq!(known_name(other.as_bytes(), 0), None, "{other}");
                }
            }
        }
    }

    /// When the word match says `name:`, the byte-by-byte path says the same: the name
    /// is the token before the colon and has that id. Checked on every single-byte
    /// change of a few lines.
    #[test]
    fn known_names_agree_with_the_general_path() {
        let seeds: &[&[u8]] = &[
            b"Via: SIP/2.0/UDP h",
            b"Content-Length: 0",
            b"Max-Forwards: 70",
            b"CSeq: 1 INVITE",
            b"Call-ID: a@b",
            b"Record-Route: <sip:p>",
            b"Session-Expires: 90",
            b"Accept-Language: en",
            b"Authorization: Digest",
            b"To: <sip:b>",
        ];
        let bytes = b" \t:-\r\n\x00\x0d\x1a@[\\]^_`{|}~\x7f\xc1\xe1aAzZ0";
        let mut matched = 0;
        for seed in seeds {
            let alphabet: Vec<u8> = bytes.iter().chain(seed.iter()).copied().collect();
            let max_at = seed.len().min(17) - 1;
            for v in crate::mutate::one_byte_edits(seed, max_at, &alphabet) {
                let Some((id, n)) = known_name(&v, 0) else {
                    continue;
                };
                let name_len = v.iter().take_while(|&&b| is_token(b)).count();
                assert_eq!(name_len, n, "{:?}", String::from_utf8_lossy(&v));
                assert_eq!(v.get(n), Some(&b':'));
                assert_eq!(HeaderId::from_name(&v[..n]), id);
                matched += 1;
            }
        }
        assert!(matched > 300, "{matched}");
    }
}
