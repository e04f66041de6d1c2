//! SIP, SIPS and TEL URIs (RFC 3261 §19, RFC 3966); other schemes kept opaque.
//!
//! PLACEHOLDER: the full grammar arrives in the next commit.

use crate::parse::ParseError;

/// A parsed URI borrowing from the message buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uri<'a> {
    /// The scheme as written.
    pub scheme: &'a str,
    /// Everything after the scheme's colon.
    pub rest: &'a [u8],
}

impl<'a> Uri<'a> {
    /// Parses a URI.
    pub fn parse(input: &'a [u8]) -> Result<Uri<'a>, ParseError> {
        let colon = memchr::memchr(b':', input).ok_or(ParseError::malformed(0, "URI scheme"))?;
        let scheme = std::str::from_utf8(&input[..colon]).map_err(|_| ParseError::malformed(0, "URI scheme"))?;
        Ok(Uri { scheme, rest: &input[colon + 1..] })
    }
}
