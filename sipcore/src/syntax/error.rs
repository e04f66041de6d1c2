//! The parse error: a small `Copy` value with the byte offset and what was expected.

use std::fmt;

/// What kind of failure a [`ParseError`] is, chosen so the caller can map it to a response.
///
/// | kind | response a UAS or proxy sends |
/// |---|---|
/// | [`Malformed`](ParseErrorKind::Malformed) | 400 Bad Request, with the error as reason phrase |
/// | [`UnsupportedVersion`](ParseErrorKind::UnsupportedVersion) | 505 Version Not Supported |
/// | [`TooLarge`](ParseErrorKind::TooLarge) | 513 Message Too Large (or close a stream) |
/// | [`ControlCharacter`](ParseErrorKind::ControlCharacter) | 400 Bad Request: never forwarded |
/// | [`Incomplete`](ParseErrorKind::Incomplete) | none: a datagram was cut short; drop it |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// The octets do not follow the SIP grammar (or a value overflows its range).
    Malformed,
    /// The SIP-Version is not `SIP/2.0`.
    UnsupportedVersion,
    /// The message is larger than the configured maximum.
    TooLarge,
    /// The input ends before the message does (e.g. a Content-Length larger than the datagram).
    Incomplete,
    /// A header line holds a control byte: NUL, a bare CR, DEL, or any other below 0x20
    /// but HTAB (a folded line's CRLF followed by white space is not one). Such bytes
    /// smuggle header lines past a next hop that splits lines differently.
    ControlCharacter,
}

impl ParseErrorKind {
    /// The status code a server answers this kind of error with, if any.
    pub fn status_code(self) -> Option<u16> {
        match self {
            ParseErrorKind::Malformed => Some(400),
            ParseErrorKind::UnsupportedVersion => Some(505),
            ParseErrorKind::TooLarge => Some(513),
            ParseErrorKind::Incomplete => Some(400),
            ParseErrorKind::ControlCharacter => Some(400),
        }
    }

    /// A short lowercase name, used by `sipcheck` and in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            ParseErrorKind::Malformed => "malformed",
            ParseErrorKind::UnsupportedVersion => "unsupported-version",
            ParseErrorKind::TooLarge => "too-large",
            ParseErrorKind::Incomplete => "incomplete",
            ParseErrorKind::ControlCharacter => "control-character",
        }
    }
}

/// A parse failure: its kind, the byte offset in the message where it was found, and
/// what the parser expected there.
///
/// Offsets are relative to the start of the message for errors from
/// [`parse_datagram`](crate::parse::parse_datagram), the stream framer and the typed views
/// of a [`Message`](crate::message::Message); relative to the parsed slice for the free
/// functions that take a `&[u8]`.
///
/// ```
/// use sipcore::parse::{parse_datagram, ParseErrorKind};
/// let err = parse_datagram(bytes::Bytes::from_static(b"INVITE sip:a@b SIP/3.0\r\n\r\n")).unwrap_err();
/// assert_eq!(err.kind(), ParseErrorKind::UnsupportedVersion);
/// assert_eq!(err.offset(), 15);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ParseError {
    kind: ParseErrorKind,
    offset: usize,
    expected: &'static str,
}

impl ParseError {
    /// A new error of `kind` at `offset`, with a short text of what was expected.
    pub const fn new(kind: ParseErrorKind, offset: usize, expected: &'static str) -> Self {
        ParseError {
            kind,
            offset,
            expected,
        }
    }

    /// A [`ParseErrorKind::Malformed`] error.
    pub const fn malformed(offset: usize, expected: &'static str) -> Self {
        Self::new(ParseErrorKind::Malformed, offset, expected)
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ParseErrorKind {
        self.kind
    }

    /// Byte offset where the failure was found.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// What the parser expected at [`offset`](Self::offset).
    pub fn expected(&self) -> &'static str {
        self.expected
    }

    /// The same error with its offset moved by `base` (a view's offset made absolute).
    #[must_use]
    pub fn shifted(mut self, base: usize) -> Self {
        self.offset = self.offset.saturating_add(base);
        self
    }

    /// A reason phrase for a 400/505/513 answer, e.g. `Bad Request (expected CRLF at 31)`.
    ///
    /// Only ASCII printable characters, so it is always a valid reason phrase.
    pub fn reason_phrase(&self) -> String {
        let base = match self.kind {
            ParseErrorKind::UnsupportedVersion => "Version Not Supported",
            ParseErrorKind::TooLarge => "Message Too Large",
            _ => "Bad Request",
        };
        format!("{base} (expected {} at {})", self.expected, self.offset)
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: expected {} at byte {}",
            self.kind.as_str(),
            self.expected,
            self.offset
        )
    }
}

impl std::error::Error for ParseError {}

/// Result of the parsers in this crate.
pub type ParseResult<T> = Result<T, ParseError>;
