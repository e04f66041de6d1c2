//! Incremental framing of SIP messages on a byte stream (TCP, TLS).

use bytes::{Bytes, BytesMut};

use super::head::scan_head;
use crate::message::Message;
use crate::syntax::{ParseError, ParseErrorKind};

/// Default largest message the framer accepts: 64 KiB, the largest UDP datagram.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 65_535;

/// What the front of a stream buffer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Framing {
    /// Not a whole message yet: read more and call again.
    NeedMore,
    /// A whole message of this many bytes is at the front.
    Message(usize),
    /// A double-CRLF keep-alive ping (4 bytes; answer with a single CRLF, RFC 5626 §3.5.1).
    Ping,
    /// A single CRLF: a keep-alive pong (2 bytes).
    Pong,
}

/// One item taken off a stream by [`StreamFramer::next_item`].
// Returned once per message and matched at once; boxing would allocate per message.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum StreamItem {
    /// A complete SIP message.
    Message(Message),
    /// A keep-alive ping: answer it with `b"\r\n"`.
    Ping,
    /// A keep-alive pong.
    Pong,
}

/// Frames SIP messages on a stream: Content-Length is required, CRLF keep-alives are
/// recognised, and a message larger than the limit is a distinct
/// [`TooLarge`](ParseErrorKind::TooLarge) error (answer 513 or close).
///
/// The framer remembers how far it has searched, so feeding a message one byte at a
/// time costs O(n), not O(n²). After an error the stream cannot be resynchronised:
/// close the connection.
///
/// ```
/// use bytes::BytesMut;
/// use sipcore::parse::{StreamFramer, StreamItem};
/// let mut framer = StreamFramer::new(4096);
/// let mut buf = BytesMut::from(&b"\r\n\r\nOPTIONS sip:a@b SIP/2.0\r\nContent-Length: 0\r\n"[..]);
/// assert!(matches!(framer.next_item(&mut buf), Ok(Some(StreamItem::Ping))));
/// assert!(framer.next_item(&mut buf).unwrap().is_none()); // head not complete yet
/// buf.extend_from_slice(b"\r\n");
/// assert!(matches!(framer.next_item(&mut buf), Ok(Some(StreamItem::Message(_)))));
/// assert!(buf.is_empty());
/// ```
#[derive(Debug, Clone)]
pub struct StreamFramer {
    max_message_size: usize,
    /// Bytes at the front already searched for the end of the head.
    searched: usize,
    /// Total length of the message at the front, once its head has been read.
    pending_total: Option<usize>,
}

impl Default for StreamFramer {
    fn default() -> Self {
        StreamFramer::new(DEFAULT_MAX_MESSAGE_SIZE)
    }
}

impl StreamFramer {
    /// A framer that refuses messages larger than `max_message_size` bytes.
    pub fn new(max_message_size: usize) -> Self {
        StreamFramer {
            max_message_size,
            searched: 0,
            pending_total: None,
        }
    }

    /// The configured limit.
    pub fn max_message_size(&self) -> usize {
        self.max_message_size
    }

    /// Forgets progress (the caller cleared or replaced its buffer).
    pub fn reset(&mut self) {
        self.searched = 0;
        self.pending_total = None;
    }

    /// Looks at the front of `buf` (which only grows between calls, until the caller
    /// removes a framed item) and tells what is there.
    pub fn frame(&mut self, buf: &[u8]) -> Result<Framing, ParseError> {
        Ok(self.frame_head(buf)?.0)
    }

    fn frame_head(
        &mut self,
        buf: &[u8],
    ) -> Result<(Framing, Option<super::head::Head>), ParseError> {
        if let Some(total) = self.pending_total {
            return Ok((
                if buf.len() >= total {
                    Framing::Message(total)
                } else {
                    Framing::NeedMore
                },
                None,
            ));
        }
        if buf.starts_with(b"\r\n") {
            return Ok((
                if buf.starts_with(b"\r\n\r\n") {
                    Framing::Ping
                } else {
                    Framing::Pong
                },
                None,
            ));
        }
        if buf.len() == 1 && buf[0] == b'\r' {
            return Ok((Framing::NeedMore, None));
        }
        let from = self.searched.saturating_sub(3);
        let Some(k) = memchr::memmem::find(buf.get(from..).unwrap_or_default(), b"\r\n\r\n") else {
            self.searched = buf.len();
            if buf.len() > self.max_message_size {
                return Err(too_large(self.max_message_size));
            }
            return Ok((Framing::NeedMore, None));
        };
        let head_len = from + k + 4;
        if head_len > self.max_message_size {
            return Err(too_large(self.max_message_size));
        }
        let head = scan_head(&buf[..head_len])?;
        let body = head
            .content_length(&buf[..head_len], true)?
            .ok_or(ParseError::malformed(
                head_len - 2,
                "Content-Length (required on streams)",
            ))?;
        let total = head_len + body;
        if total > self.max_message_size {
            return Err(too_large(self.max_message_size));
        }
        self.pending_total = Some(total);
        if buf.len() >= total {
            Ok((Framing::Message(total), Some(head)))
        } else {
            Ok((Framing::NeedMore, None))
        }
    }

    /// Takes the next complete item off the front of `buf`: `Ok(None)` when more bytes
    /// are needed. Messages are split off without copying.
    pub fn next_item(&mut self, buf: &mut BytesMut) -> Result<Option<StreamItem>, ParseError> {
        let (framing, head) = self.frame_head(buf)?;
        match framing {
            Framing::NeedMore => Ok(None),
            Framing::Ping => {
                let _ = buf.split_to(4);
                Ok(Some(StreamItem::Ping))
            }
            Framing::Pong => {
                let _ = buf.split_to(2);
                Ok(Some(StreamItem::Pong))
            }
            Framing::Message(total) => {
                self.reset();
                let bytes: Bytes = buf.split_to(total).freeze();
                let head = match head {
                    Some(h) => h,
                    None => scan_head(&bytes)?,
                };
                Ok(Some(StreamItem::Message(head.into_message(bytes, total))))
            }
        }
    }

    /// Tells the framer the caller removed `n` bytes from the front (after
    /// [`frame`](Self::frame) returned an item of that length).
    pub fn consumed(&mut self, _n: usize) {
        self.reset();
    }
}

fn too_large(max: usize) -> ParseError {
    ParseError::new(
        ParseErrorKind::TooLarge,
        max,
        "message within max_message_size",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &[u8] = b"INVITE sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nContent-Length: 4\r\n\r\nbody";

    #[test]
    fn byte_by_byte_frames_once() {
        let mut f = StreamFramer::new(1000);
        let mut buf = BytesMut::new();
        let mut got = 0;
        for &b in MSG.iter().chain(MSG.iter()) {
            buf.extend_from_slice(&[b]);
            while let Some(item) = f.next_item(&mut buf).unwrap() {
                match item {
                    StreamItem::Message(m) => {
                        assert_eq!(m.body(), b"body");
                        got += 1;
                    }
                    other => panic!("unexpected {other:?}"),
                }
            }
        }
        assert_eq!(got, 2);
        assert!(buf.is_empty());
    }

    #[test]
    fn pipelined_in_one_buffer() {
        let mut f = StreamFramer::new(1000);
        let mut buf = BytesMut::new();
        buf.extend_from_slice(MSG);
        buf.extend_from_slice(b"\r\n\r\n");
        buf.extend_from_slice(MSG);
        assert!(matches!(
            f.next_item(&mut buf),
            Ok(Some(StreamItem::Message(_)))
        ));
        assert!(matches!(f.next_item(&mut buf), Ok(Some(StreamItem::Ping))));
        assert!(matches!(
            f.next_item(&mut buf),
            Ok(Some(StreamItem::Message(_)))
        ));
        assert!(f.next_item(&mut buf).unwrap().is_none());
    }

    #[test]
    fn content_length_required_and_limits() {
        let mut f = StreamFramer::new(1000);
        let e = f
            .frame(b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h\r\n\r\n")
            .unwrap_err();
        assert_eq!(e.kind(), ParseErrorKind::Malformed);
        let mut f = StreamFramer::new(60);
        let e = f.frame(MSG).unwrap_err();
        assert_eq!(e.kind(), ParseErrorKind::TooLarge);
        let mut f = StreamFramer::new(100);
        let e = f.frame(&[b'A'; 200]).unwrap_err();
        assert_eq!(e.kind(), ParseErrorKind::TooLarge);
        let mut f = StreamFramer::new(1000);
        let e = f
            .frame(b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 1\r\nl: 2\r\n\r\nab")
            .unwrap_err();
        assert_eq!(e.kind(), ParseErrorKind::Malformed);
    }
}
