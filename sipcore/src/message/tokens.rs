//! Option-tag lists: `Require`, `Proxy-Require`, `Supported`, `Unsupported`
//! (RFC 3261 §20.29, §20.32, §20.37, §20.40).
//!
//! Each value is one `option-tag` (a token); values are comma-separated and the headers
//! may repeat. Option tags compare case-insensitively (RFC 3261 §7.3.1: tokens are
//! case-insensitive).

use super::{HeaderId, HeaderValues, MessageBuf};
use crate::syntax::lex::is_token;
use crate::syntax::ParseError;

/// Iterator over the option tags of one header kind, across comma lists and repeated
/// header lines, in order. An item that is not a token (or an empty item between commas)
/// is an `Err` with its absolute offset.
///
/// ```
/// use sipcore::message::Message;
/// let msg = Message::parse(bytes::Bytes::from_static(
///     b"OPTIONS sip:a@example.com SIP/2.0\r\n\
///       Supported: 100rel, timer\r\n\
///       k: path\r\n\
///       Require: foo bar\r\n\r\n",
/// )).unwrap();
/// let tags: Vec<&str> = msg.supported().collect::<Result<_, _>>().unwrap();
/// assert_eq!(tags, ["100rel", "timer", "path"]);
/// assert!(msg.require().next().unwrap().is_err());
/// assert!(msg.supports("TIMER").unwrap());
/// ```
#[derive(Debug, Clone)]
pub struct OptionTags<'a> {
    msg: &'a MessageBuf,
    id: HeaderId,
    values: HeaderValues<'a>,
}

impl<'a> OptionTags<'a> {
    /// The tags of header `id` (any list of tokens).
    pub(crate) fn of(msg: &'a MessageBuf, id: HeaderId) -> Self {
        OptionTags {
            msg,
            id,
            values: msg.values(id),
        }
    }

    /// Whether `tag` is among the tags (case-insensitive); the first malformed item is
    /// an error.
    pub fn contains(self, tag: &str) -> Result<bool, ParseError> {
        for t in self {
            if t?.eq_ignore_ascii_case(tag) {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

impl<'a> Iterator for OptionTags<'a> {
    type Item = Result<&'a str, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let (off, v) = self.values.next()?;
            if v.is_empty() {
                // `Supported:` may be empty (RFC 3261 §20.37); an empty item inside a
                // list (`a,,b`) or in the other headers is not.
                if self.id == HeaderId::Supported && self.whole_line_empty(off) {
                    continue;
                }
                return Some(Err(ParseError::malformed(off, "option-tag")));
            }
            return Some(parse_option_tag(v).map_err(|e| e.shifted(off)));
        }
    }
}

impl OptionTags<'_> {
    /// Whether the empty item at `off` is a whole header value (`Supported:` with nothing
    /// after it) rather than a gap in a list: the colon comes before it and the line end
    /// after it, with only white space between.
    fn whole_line_empty(&self, off: usize) -> bool {
        let buf = self.msg.as_bytes();
        let before = buf.get(..off).unwrap_or_default();
        let after = buf.get(off..).unwrap_or_default();
        let prev = before.iter().rev().find(|&&b| b != b' ' && b != b'\t');
        let next = after.iter().find(|&&b| b != b' ' && b != b'\t');
        prev == Some(&b':') && matches!(next, None | Some(b'\r') | Some(b'\n'))
    }
}

/// Parses one `option-tag` (a token; surrounding white space already trimmed).
pub fn parse_option_tag(value: &[u8]) -> Result<&str, ParseError> {
    if value.is_empty() {
        return Err(ParseError::malformed(0, "option-tag"));
    }
    if let Some(bad) = value.iter().position(|&b| !is_token(b)) {
        return Err(ParseError::malformed(bad, "option-tag (token)"));
    }
    // Token characters are ASCII.
    std::str::from_utf8(value).map_err(|_| ParseError::malformed(0, "option-tag"))
}

impl MessageBuf {
    /// The `Require` option tags.
    pub fn require(&self) -> OptionTags<'_> {
        OptionTags::of(self, HeaderId::Require)
    }

    /// The `Proxy-Require` option tags.
    pub fn proxy_require(&self) -> OptionTags<'_> {
        OptionTags::of(self, HeaderId::ProxyRequire)
    }

    /// The `Supported` (`k`) option tags.
    pub fn supported(&self) -> OptionTags<'_> {
        OptionTags::of(self, HeaderId::Supported)
    }

    /// The `Unsupported` option tags.
    pub fn unsupported(&self) -> OptionTags<'_> {
        OptionTags::of(self, HeaderId::Unsupported)
    }

    /// Whether `Supported` lists `tag` (case-insensitive).
    pub fn supports(&self, tag: &str) -> Result<bool, ParseError> {
        self.supported().contains(tag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Message;

    fn msg(headers: &str) -> Message {
        let text = format!("OPTIONS sip:a@example.com SIP/2.0\r\n{headers}\r\n");
        Message::parse(bytes::Bytes::from(text)).unwrap()
    }

    fn tags(it: OptionTags<'_>) -> Vec<Result<&str, usize>> {
        it.map(|r| r.map_err(|e| e.offset())).collect()
    }

    #[test]
    fn lists_across_lines_and_compact_form() {
        let m = msg("Require: 100rel , precondition\r\nSupported: timer\r\nk:path,  gruu\r\nProxy-Require: sec-agree\r\nUnsupported: foo\r\n");
        assert_eq!(tags(m.require()), vec![Ok("100rel"), Ok("precondition")]);
        assert_eq!(
            tags(m.supported()),
            vec![Ok("timer"), Ok("path"), Ok("gruu")]
        );
        assert_eq!(tags(m.proxy_require()), vec![Ok("sec-agree")]);
        assert_eq!(tags(m.unsupported()), vec![Ok("foo")]);
        assert!(m.supports("GRUU").unwrap());
        assert!(!m.supports("replaces").unwrap());
    }

    #[test]
    fn absent_is_empty() {
        let m = msg("");
        assert_eq!(m.require().count(), 0);
        assert!(!m.supports("x").unwrap());
    }

    #[test]
    fn empty_supported_line_is_allowed_but_not_empty_items() {
        let m = msg("Supported:\r\nSupported: a\r\n");
        assert_eq!(tags(m.supported()), vec![Ok("a")]);
        let m = msg("Supported: a,,b\r\n");
        let t = tags(m.supported());
        assert_eq!(t[0], Ok("a"));
        assert!(t[1].is_err());
        let m = msg("Supported:   \r\nk: ,a\r\n");
        let t = tags(m.supported());
        assert_eq!(t.len(), 2);
        assert!(t[0].is_err());
        assert_eq!(t[1], Ok("a"));
        let m = msg("Require:\r\n");
        assert!(m.require().next().unwrap().is_err());
        let m = msg("Require: a,\r\n");
        assert!(m.require().nth(1).unwrap().is_err());
    }

    #[test]
    fn non_token_is_error_with_absolute_offset() {
        let m = msg("Require: ok, b@d\r\n");
        let t = tags(m.require());
        assert_eq!(t[0], Ok("ok"));
        let off = t[1].unwrap_err();
        assert_eq!(&m.as_bytes()[off..off + 1], b"@");
        assert!(m.require().contains("zzz").is_err());
        assert!(m.require().contains("ok").unwrap());
    }

    #[test]
    fn quoted_values_are_not_tags() {
        let m = msg("Require: \"a,b\"\r\n");
        assert!(m.require().next().unwrap().is_err());
    }
}
