//! Parsing: datagrams and the stream framer, building [`Message`]s.
//!
//! - [`parse_datagram`]: one message per datagram; Content-Length frames the body.
//! - [`StreamFramer`]: incremental framing over a growing TCP/TLS buffer, CRLF keep-alives.
//! - [`ParseError`]: a `Copy` error with the byte offset, what was expected, and a
//!   [`ParseErrorKind`] that maps to 400 / 505 / 513.
//!
//! The grammar pieces (lexer, header names, the error type) live below the message
//! model, in the crate's private syntax layer; this module builds messages from them
//! and sits above [`crate::message`].
//!
//! nom is an implementation detail: no nom type appears in a public signature.

mod framer;
mod head;

use bytes::Bytes;

pub use crate::syntax::{ParseError, ParseErrorKind, ParseResult};
pub use framer::{Framing, StreamFramer, StreamItem, DEFAULT_MAX_MESSAGE_SIZE};
pub use head::MAX_HEADERS;

use crate::message::{Message, MessageBuf};
use crate::syntax::Span;

/// Parses one datagram (UDP) into a [`Message`], without copying.
///
/// Content-Length frames the body: octets after it are discarded (one message per
/// datagram); without Content-Length the body runs to the end of the datagram; a
/// Content-Length larger than what follows the head is an
/// [`Incomplete`](ParseErrorKind::Incomplete) error (answer 400).
///
/// ```
/// use sipcore::parse::parse_datagram;
/// let m = parse_datagram(bytes::Bytes::from_static(
///     b"SIP/2.0 180 Ringing\r\nContent-Length: 2\r\n\r\nhi trailing junk",
/// )).unwrap();
/// assert_eq!(m.as_response().unwrap().status().as_u16(), 180);
/// assert_eq!(m.body(), b"hi");
/// ```
#[inline]
pub fn parse_datagram(buf: Bytes) -> Result<Message, ParseError> {
    let (start, start_line, pos) = head::scan_start(&buf)?;
    // The message is built first and its index filled where it stays: the index is
    // ~400 bytes inline, and moving it through the layers of the parser (four copies)
    // was a tenth of the time.
    let mut msg = start.into_message(head::empty(buf, start_line));
    fill(msg.head_mut(), pos)?;
    Ok(msg)
}

impl Message {
    /// Parses one datagram; see [`parse_datagram`].
    ///
    /// (Defined beside the parser: the message model sits below it and does not call it.)
    #[inline]
    pub fn parse(buf: Bytes) -> Result<Message, ParseError> {
        parse_datagram(buf)
    }
}

/// The header index, the end of the head and the body of a datagram's message.
#[inline]
fn fill(m: &mut MessageBuf, pos: usize) -> Result<(), ParseError> {
    let end = head::scan_headers(&m.buf, pos, &mut m.headers)?;
    let available = m.buf.len() - end.body_start;
    let body_end = match head::content_length(&m.headers, &m.buf, false)? {
        Some(n) if n > available => {
            return Err(ParseError::new(
                ParseErrorKind::Incomplete,
                m.buf.len(),
                "body as long as Content-Length",
            ))
        }
        Some(n) => end.body_start + n,
        None => m.buf.len(),
    };
    m.headers_end = end.headers_end as u32;
    m.body = Span::new(end.body_start, body_end);
    if end.folded {
        m.buf = head::unfold(&m.buf, end.headers_end);
    }
    Ok(())
}
