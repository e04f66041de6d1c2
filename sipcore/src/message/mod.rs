//! The SIP message model: one received buffer and an index of spans into it.
//!
//! A [`Message`] owns the received octets as a refcounted [`Bytes`] (so a transaction or
//! a transport can keep it without copying) and records the start line and, for every
//! header, its name and value as byte ranges with a [`HeaderId`] for fast lookup.
//! Typed views ([`Via`], [`CSeq`], [`NameAddr`] ...) are parsed when asked for and borrow
//! from the buffer: a proxy reads only the headers it needs.
//!
//! ```
//! use sipcore::message::{Message, Method};
//! let msg = Message::parse(bytes::Bytes::from_static(
//!     b"OPTIONS sip:bob@example.com SIP/2.0\r\n\
//!       Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776\r\n\
//!       From: <sip:alice@example.com>;tag=12\r\n\
//!       To: <sip:bob@example.com>\r\n\
//!       Call-ID: abc@192.0.2.1\r\n\
//!       CSeq: 7 OPTIONS\r\n\
//!       Content-Length: 0\r\n\r\n",
//! )).unwrap();
//! let req = msg.as_request().unwrap();
//! assert_eq!(req.method(), Method::Options);
//! assert_eq!(msg.top_via().unwrap().branch(), Some("z9hG4bK776"));
//! assert_eq!(msg.cseq().unwrap().seq, 7);
//! assert_eq!(msg.from_().unwrap().tag(), Some("12"));
//! assert_eq!(msg.call_id().unwrap(), "abc@192.0.2.1");
//! ```

mod auth;
mod build;
mod contact;
mod misc;
mod route;
mod status;
mod tokens;
mod validate;
mod views;

use std::ops::Deref;

use bytes::Bytes;

pub use auth::*;
pub use build::*;
pub use contact::*;
pub use misc::*;
pub use route::*;
pub use status::StatusCode;
pub use tokens::*;
pub use validate::*;
pub use views::*;

// The syntax layer's types, where users of the message model find them.
pub(crate) use crate::syntax::HeaderIndex;
pub use crate::syntax::{Header, HeaderId, Method, Span};

use crate::syntax::lex::CommaSplit;
use crate::syntax::ParseError;

/// The part every message has: the buffer, the header index and the body span.
///
/// [`Request`], [`Response`] and [`Message`] dereference to it, so all header access and
/// typed views are methods of `MessageBuf`.
#[derive(Debug, Clone)]
pub struct MessageBuf {
    pub(crate) buf: Bytes,
    pub(crate) start_line: Span,
    pub(crate) headers: HeaderIndex,
    /// Offset of the empty line that ends the headers.
    pub(crate) headers_end: u32,
    pub(crate) body: Span,
}

impl MessageBuf {
    /// The whole message as received (for a datagram, without trailing octets after the body).
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.body.end as usize]
    }

    /// The buffer the message lives in, shared (refcount increment, no copy).
    pub fn bytes(&self) -> Bytes {
        self.buf.slice(..self.body.end as usize)
    }

    /// The octets of `span`.
    #[inline]
    pub fn slice(&self, span: Span) -> &[u8] {
        self.buf.get(span.range()).unwrap_or_default()
    }

    /// The octets of `span` as `&str` (lossy: `""` if they are not UTF-8).
    #[inline]
    pub fn str(&self, span: Span) -> &str {
        std::str::from_utf8(self.slice(span)).unwrap_or_default()
    }

    /// The octets of `span` as `&str`, `None` if they are not UTF-8. The check starts at
    /// the 8-byte aligned address at or before the span when the bytes from there are
    /// UTF-8 too (they are the header's name, usually): `from_utf8` checks an aligned
    /// start a word at a time, and an unaligned one a byte at a time (about twice the
    /// instructions for a 15-50 byte value).
    #[inline]
    pub(crate) fn utf8(&self, span: Span) -> Option<&str> {
        let (start, end) = (span.start as usize, span.end as usize);
        let back = self.buf.as_ptr().addr().wrapping_add(start) % 8;
        if let Some(from) = start.checked_sub(back) {
            if let Ok(text) = std::str::from_utf8(self.buf.get(from..end)?) {
                // `start` is a char boundary exactly when the span alone is UTF-8.
                if let Some(s) = text.get(back..) {
                    return Some(s);
                }
            }
        }
        std::str::from_utf8(self.buf.get(start..end)?).ok()
    }

    /// The start line without its CRLF.
    pub fn start_line(&self) -> &[u8] {
        self.slice(self.start_line)
    }

    /// Span of the start line, without its CRLF.
    pub fn start_line_span(&self) -> Span {
        self.start_line
    }

    /// All header lines, in order.
    pub fn headers(&self) -> &[Header] {
        &self.headers
    }

    /// Offset of the empty line that ends the header section.
    pub fn headers_end(&self) -> usize {
        self.headers_end as usize
    }

    /// The body.
    pub fn body(&self) -> &[u8] {
        self.slice(self.body)
    }

    /// The body as shared `Bytes` (no copy).
    pub fn body_bytes(&self) -> Bytes {
        self.buf.slice(self.body.range())
    }

    /// Span of the body.
    pub fn body_span(&self) -> Span {
        self.body
    }

    /// The value of the first header with this id.
    #[inline]
    pub fn header(&self, id: HeaderId) -> Option<&[u8]> {
        self.header_entry(id).map(|h| self.slice(h.value()))
    }

    /// The first header line with this id.
    #[inline]
    pub fn header_entry(&self, id: HeaderId) -> Option<&Header> {
        self.headers.iter().find(|h| h.id == id)
    }

    /// Values of every header line with this id, in order (not split at commas; see
    /// [`values`](Self::values)).
    pub fn header_all(&self, id: HeaderId) -> impl Iterator<Item = &[u8]> + '_ {
        self.headers
            .iter()
            .filter(move |h| h.id == id)
            .map(|h| self.slice(h.value()))
    }

    /// Every value of a list header, split at commas outside quotes and angle brackets,
    /// across repeated header lines, in order; each as (absolute offset, bytes).
    pub fn values(&self, id: HeaderId) -> HeaderValues<'_> {
        HeaderValues::new(self, id)
    }

    /// The value of the first header with this name (case-insensitive; compact forms of
    /// well-known headers match their long names and the other way round).
    pub fn header_by_name(&self, name: &str) -> Option<&[u8]> {
        let id = HeaderId::from_name(name.as_bytes());
        if id != HeaderId::Other {
            return self.header(id);
        }
        self.headers
            .iter()
            .find(|h| {
                h.id == HeaderId::Other
                    && self.slice(h.name()).eq_ignore_ascii_case(name.as_bytes())
            })
            .map(|h| self.slice(h.value()))
    }

    /// Number of header lines with this id.
    pub fn count(&self, id: HeaderId) -> usize {
        self.headers.iter().filter(|h| h.id == id).count()
    }

    /// Runs a typed-view parser over the first value of header `id` and makes error
    /// offsets absolute.
    pub(crate) fn view<'a, T>(
        &'a self,
        id: HeaderId,
        parse: impl FnOnce(&'a [u8]) -> Result<T, ParseError>,
    ) -> Result<Option<T>, ParseError> {
        match self.header_entry(id) {
            None => Ok(None),
            Some(h) => parse(self.slice(h.value()))
                .map(Some)
                .map_err(|e| e.shifted(h.value().start as usize)),
        }
    }
}

/// Iterator over comma-separated values of a header, across repeated lines.
#[derive(Debug, Clone)]
pub struct HeaderValues<'a> {
    msg: &'a MessageBuf,
    id: HeaderId,
    next_header: usize,
    current: Option<(usize, CommaSplit<'a>)>,
}

impl<'a> HeaderValues<'a> {
    fn new(msg: &'a MessageBuf, id: HeaderId) -> Self {
        HeaderValues {
            msg,
            id,
            next_header: 0,
            current: None,
        }
    }
}

impl<'a> Iterator for HeaderValues<'a> {
    /// (absolute offset of the value, value bytes)
    type Item = (usize, &'a [u8]);
    fn next(&mut self) -> Option<(usize, &'a [u8])> {
        loop {
            if let Some((base, split)) = &mut self.current {
                if let Some((s, e)) = split.next() {
                    let base = *base;
                    let v = self.msg.buf.get(base + s..base + e).unwrap_or_default();
                    return Some((base + s, v));
                }
                self.current = None;
            }
            let h = loop {
                let h = self.msg.headers.get(self.next_header)?;
                self.next_header += 1;
                if h.id == self.id {
                    break h;
                }
            };
            let value = self.msg.slice(h.value());
            self.current = Some((h.value().start as usize, CommaSplit::new(value)));
        }
    }
}

/// A parsed SIP request.
#[derive(Debug, Clone)]
pub struct Request {
    pub(crate) head: MessageBuf,
    pub(crate) method: Method<'static>,
    pub(crate) method_span: Span,
    pub(crate) uri: Span,
}

impl Request {
    /// The request method.
    #[inline]
    pub fn method(&self) -> Method<'_> {
        match self.method {
            Method::Extension(_) => Method::Extension(self.head.str(self.method_span)),
            m => m,
        }
    }

    /// The Request-URI as received.
    pub fn uri_bytes(&self) -> &[u8] {
        self.head.slice(self.uri)
    }

    /// Span of the Request-URI.
    pub fn uri_span(&self) -> Span {
        self.uri
    }

    /// The Request-URI, parsed.
    pub fn uri(&self) -> Result<crate::uri::Uri<'_>, ParseError> {
        crate::uri::Uri::parse(self.uri_bytes()).map_err(|e| e.shifted(self.uri.start as usize))
    }
}

impl Deref for Request {
    type Target = MessageBuf;
    fn deref(&self) -> &MessageBuf {
        &self.head
    }
}

/// A parsed SIP response.
#[derive(Debug, Clone)]
pub struct Response {
    pub(crate) head: MessageBuf,
    pub(crate) status: StatusCode,
    pub(crate) reason: Span,
}

impl Response {
    /// The status code.
    #[inline]
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The reason phrase (may be empty; UTF-8 allowed).
    pub fn reason(&self) -> &[u8] {
        self.head.slice(self.reason)
    }
}

impl Deref for Response {
    type Target = MessageBuf;
    fn deref(&self) -> &MessageBuf {
        &self.head
    }
}

/// A parsed SIP message: a request or a response.
#[derive(Debug, Clone)]
pub enum Message {
    /// A request.
    Request(Request),
    /// A response.
    Response(Response),
}

impl Message {
    /// The request, if this is one.
    pub fn as_request(&self) -> Option<&Request> {
        match self {
            Message::Request(r) => Some(r),
            Message::Response(_) => None,
        }
    }

    /// The response, if this is one.
    pub fn as_response(&self) -> Option<&Response> {
        match self {
            Message::Response(r) => Some(r),
            Message::Request(_) => None,
        }
    }

    /// Whether this is a request.
    pub fn is_request(&self) -> bool {
        matches!(self, Message::Request(_))
    }

    /// The common part, mutable (for the parser filling it in place).
    #[inline]
    pub(crate) fn head_mut(&mut self) -> &mut MessageBuf {
        match self {
            Message::Request(r) => &mut r.head,
            Message::Response(r) => &mut r.head,
        }
    }
}

impl Deref for Message {
    type Target = MessageBuf;
    fn deref(&self) -> &MessageBuf {
        match self {
            Message::Request(r) => &r.head,
            Message::Response(r) => &r.head,
        }
    }
}

impl From<Request> for Message {
    fn from(r: Request) -> Message {
        Message::Request(r)
    }
}

impl From<Response> for Message {
    fn from(r: Response) -> Message {
        Message::Response(r)
    }
}
