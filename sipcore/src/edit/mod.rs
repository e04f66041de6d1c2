//! Forwarding by splicing: a received message plus a short list of edits, written in one
//! pass into one output buffer.
//!
//! A proxy forwards a request with a handful of changes: a Via on top, its Record-Route,
//! Max-Forwards decremented, its own Route entry gone, perhaps a new Request-URI. It does
//! not need to re-serialise the other twenty header lines, and it should not: copying
//! them as byte ranges is faster and keeps what it does not understand exactly as it was.
//! This is Kamailio's "lumps" idea, written for this crate.
//!
//! # Design
//!
//! An [`Edits`] borrows a parsed message and records operations on spans of the
//! *original* bytes: insert bytes before an offset, delete a span, replace a span. The
//! methods ([`prepend_via`](Edits::prepend_via), [`remove_top_route`](Edits::remove_top_route),
//! [`set_body`](Edits::set_body) ...) find the spans with the message's header index and
//! record one or a few such operations each; nothing is written until
//! [`apply`](Edits::apply).
//!
//! - Edits may be added in any order. They are kept sorted by position (start, then end,
//!   so an insertion comes before a deletion that starts at the same offset; ties keep the
//!   order of the calls).
//! - Every edit addresses the original message. Two edits that touch the same original
//!   bytes are refused when applied, with [`EditError::Overlap`]: removing a header whose
//!   value another edit replaces is a mistake the caller should see, not a guess.
//!   Repeated [`remove_top_via`](Edits::remove_top_via) and
//!   [`remove_top_route`](Edits::remove_top_route) calls are the exception: each removes
//!   the next value (a proxy that record-routed twice removes two Route values).
//! - [`apply`](Edits::apply) measures the output first, allocates it once with exactly
//!   that capacity, copies the untouched ranges as slices and writes the new pieces
//!   between them, then freezes it into [`Bytes`] (no second allocation).
//!   [`apply_into`](Edits::apply_into) appends to a caller's buffer instead, so a worker
//!   can reuse one scratch buffer. The edit list holds up to 8 edits inline: a typical
//!   proxy forward allocates nothing but its output.
//! - Values given to the header methods are checked (no CR, LF or other control
//!   characters but HT, header names are tokens) so an edit cannot inject a header line;
//!   the raw span operations ([`insert`](Edits::insert), [`delete`](Edits::delete),
//!   [`replace`](Edits::replace)) are not checked: the caller keeps the message
//!   well-formed.
//! - Leading CRLFs before the start line are dropped; octets after the body (a datagram's
//!   trailing junk) are not copied. A folded header is copied with its folds turned into
//!   spaces, as the parser left it.
//!
//! # Example: a proxy forwards an INVITE
//!
//! ```
//! use sipcore::edit::Edits;
//! use sipcore::message::{Message, NewVia};
//!
//! let received = Message::parse(bytes::Bytes::from_static(
//!     b"INVITE sip:bob@proxy.example.com SIP/2.0\r\n\
//!       Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK74bf9\r\n\
//!       Max-Forwards: 70\r\n\
//!       Route: <sip:proxy.example.com;lr>, <sip:edge.example.net;lr>\r\n\
//!       From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n\
//!       To: Bob <sip:bob@biloxi.example.com>\r\n\
//!       Call-ID: 3848276298220188511@atlanta.example.com\r\n\
//!       CSeq: 1 INVITE\r\n\
//!       Content-Length: 0\r\n\r\n",
//! ))?;
//!
//! let mut edits = Edits::new(&received);
//! edits
//!     .prepend_via(NewVia::new("UDP", "proxy.example.com", "z9hG4bK.fw1"))?
//!     .insert_record_route("<sip:proxy.example.com;lr>")?
//!     .decrement_max_forwards()?
//!     .remove_top_route()?
//!     .set_request_uri("sip:bob@192.0.2.4")?;
//! let forwarded = Message::parse(edits.apply()?)?;
//!
//! assert_eq!(forwarded.as_request().unwrap().uri_bytes(), b"sip:bob@192.0.2.4");
//! assert_eq!(forwarded.top_via()?.branch(), Some("z9hG4bK.fw1"));
//! assert_eq!(forwarded.vias().count(), 2);
//! assert_eq!(forwarded.max_forwards()?, Some(69));
//! assert_eq!(forwarded.header(sipcore::message::HeaderId::Route), Some(&b"<sip:edge.example.net;lr>"[..]));
//! assert_eq!(forwarded.header(sipcore::message::HeaderId::RecordRoute), Some(&b"<sip:proxy.example.com;lr>"[..]));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod ops;
pub use ops::DEFAULT_MAX_FORWARDS;
#[cfg(test)]
mod tests;

use bytes::{Bytes, BytesMut};
use smallvec::SmallVec;

use crate::message::{
    put_header, put_u32, render, render_into, Emit, HeaderId, Message, MessageBuf, Request,
    Response, Sink, Span, ViaValue,
};
use crate::parse::ParseError;

/// Edits kept inline before the list spills to the heap; a proxy forward needs 4 or 5.
pub const INLINE_EDITS: usize = 8;

/// Why an edit could not be recorded or applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EditError {
    /// Two edits touch the same bytes of the original message (spans are offsets in it).
    #[error("edits overlap: bytes {}..{} and {}..{}", first.start, first.end, second.start, second.end)]
    Overlap {
        /// The earlier edit.
        first: Span,
        /// The edit that starts inside it.
        second: Span,
    },
    /// The header to edit is not in the message (or has no value left to remove).
    #[error("no {0} header value to edit")]
    Missing(HeaderId),
    /// The Request-URI was to be replaced in a response.
    #[error("a response has no Request-URI")]
    NotARequest,
    /// A value given to an edit is not acceptable (the text says which).
    #[error("invalid {0}")]
    Invalid(&'static str),
    /// A raw edit's span is not within the message.
    #[error("span {}..{} is outside the message", .0.start, .0.end)]
    OutOfRange(Span),
    /// Max-Forwards is 0: the request must not be forwarded (answer 483 Too Many Hops).
    #[error("Max-Forwards is 0")]
    TooManyHops,
    /// A header the edit has to read does not parse.
    #[error("cannot read the header to edit: {0}")]
    Malformed(ParseError),
}

/// What an edit writes in place of its span.
#[derive(Debug, Clone, Copy)]
enum Piece<'a> {
    /// Nothing (a deletion).
    Nothing,
    /// These bytes as they are.
    Raw(&'a [u8]),
    /// A header line `name: value\r\n`.
    Header(&'a [u8], &'a [u8]),
    /// A header line `Via: value\r\n`.
    Via(ViaValue<'a>),
    /// A decimal number.
    Number(u32),
    /// A header line with a decimal value.
    NumberHeader(&'static [u8], u32),
}

impl Piece<'_> {
    fn emit<S: Sink>(&self, out: &mut S) {
        match self {
            Piece::Nothing => {}
            Piece::Raw(b) => out.put(b),
            Piece::Header(name, value) => put_header(out, name, value),
            Piece::Via(v) => {
                out.put(b"Via: ");
                v.emit(out);
                out.put(b"\r\n");
            }
            Piece::Number(n) => put_u32(out, *n),
            Piece::NumberHeader(name, n) => {
                out.put(name);
                out.put(b": ");
                put_u32(out, *n);
                out.put(b"\r\n");
            }
        }
    }
}

/// Which operation recorded an edit (so a repeated top-value removal can redo its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Plain,
    TopVia,
    TopRoute,
    /// Body, Content-Type and Content-Length edits of `set_body`/`ensure_content_length`.
    Body,
}

/// One operation on the original bytes: `span` is replaced by `piece` (an empty span is
/// an insertion, `Piece::Nothing` a deletion).
#[derive(Debug, Clone, Copy)]
struct Edit<'a> {
    span: Span,
    piece: Piece<'a>,
    kind: Kind,
}

/// A list of edits to a received message, applied in one pass; see the
/// [module docs](self).
///
/// # Examples
///
/// A proxy relaying a response upstream removes its own Via:
///
/// ```
/// use sipcore::edit::Edits;
/// use sipcore::message::Message;
/// let resp = Message::parse(bytes::Bytes::from_static(
///     b"SIP/2.0 180 Ringing\r\n\
///       Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bK.fw1, SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK74bf9\r\n\
///       To: <sip:bob@biloxi.example.com>;tag=8321234356\r\n\
///       Content-Length: 0\r\n\r\n",
/// ))?;
/// let mut edits = Edits::new(&resp);
/// edits.remove_top_via()?;
/// let out = edits.apply()?;
/// assert_eq!(
///     &out[..],
///     &b"SIP/2.0 180 Ringing\r\n\
///        Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK74bf9\r\n\
///        To: <sip:bob@biloxi.example.com>;tag=8321234356\r\n\
///        Content-Length: 0\r\n\r\n"[..]
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Edits<'a> {
    msg: &'a MessageBuf,
    uri: Option<Span>,
    list: SmallVec<[Edit<'a>; INLINE_EDITS]>,
    removed_vias: usize,
    removed_routes: usize,
    content_length_set: bool,
}

impl<'a> Edits<'a> {
    /// No edits yet to `msg`.
    pub fn new(msg: &'a Message) -> Self {
        match msg {
            Message::Request(r) => Self::for_request(r),
            Message::Response(r) => Self::for_response(r),
        }
    }

    /// No edits yet to a request.
    pub fn for_request(req: &'a Request) -> Self {
        let mut e = Self::with(req);
        e.uri = Some(req.uri_span());
        e
    }

    /// No edits yet to a response.
    pub fn for_response(resp: &'a Response) -> Self {
        Self::with(resp)
    }

    fn with(msg: &'a MessageBuf) -> Self {
        Edits {
            msg,
            uri: None,
            list: SmallVec::new(),
            removed_vias: 0,
            removed_routes: 0,
            content_length_set: false,
        }
    }

    /// The message being edited.
    pub fn message(&self) -> &'a MessageBuf {
        self.msg
    }

    /// Number of recorded edits (an operation may record several).
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether no edit is recorded (applying copies the message).
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Inserts `bytes`, unchecked, before offset `at` of the original message.
    pub fn insert(&mut self, at: usize, bytes: &'a [u8]) -> Result<&mut Self, EditError> {
        let span = self.checked_span(at, at)?;
        self.push(span, Piece::Raw(bytes));
        Ok(self)
    }

    /// Deletes the bytes of `span` of the original message.
    pub fn delete(&mut self, span: Span) -> Result<&mut Self, EditError> {
        let span = self.checked_span(span.start as usize, span.end as usize)?;
        self.push(span, Piece::Nothing);
        Ok(self)
    }

    /// Replaces the bytes of `span` of the original message with `bytes`, unchecked.
    pub fn replace(&mut self, span: Span, bytes: &'a [u8]) -> Result<&mut Self, EditError> {
        let span = self.checked_span(span.start as usize, span.end as usize)?;
        self.push(span, Piece::Raw(bytes));
        Ok(self)
    }

    /// `start..end` if it lies within the copied part of the message.
    fn checked_span(&self, start: usize, end: usize) -> Result<Span, EditError> {
        let first = self.msg.start_line_span().start as usize;
        let last = self.msg.body_span().end as usize;
        if first <= start && start <= end && end <= last {
            Ok(Span::new(start, end))
        } else {
            Err(EditError::OutOfRange(Span::new(
                start.min(u32::MAX as usize),
                end.min(u32::MAX as usize),
            )))
        }
    }

    fn push(&mut self, span: Span, piece: Piece<'a>) {
        self.push_kind(span, piece, Kind::Plain);
    }

    /// Inserts keeping the list sorted by (start, end), after edits with the same key.
    fn push_kind(&mut self, span: Span, piece: Piece<'a>, kind: Kind) {
        let key = (span.start, span.end);
        let at = self
            .list
            .partition_point(|e| (e.span.start, e.span.end) <= key);
        self.list.insert(at, Edit { span, piece, kind });
    }

    /// Checks that no two edits overlap.
    pub fn check(&self) -> Result<(), EditError> {
        let mut prev = Span::new(0, self.msg.start_line_span().start as usize);
        for e in &self.list {
            if e.span.start < prev.end {
                return Err(EditError::Overlap {
                    first: prev,
                    second: e.span,
                });
            }
            prev = e.span;
        }
        Ok(())
    }

    /// The length of the output.
    pub fn output_len(&self) -> Result<usize, EditError> {
        self.check()?;
        let mut n = crate::message::Counter(0);
        self.emit(&mut n);
        Ok(n.0)
    }

    /// Writes the edited message into a new buffer of exactly its size.
    pub fn apply(&self) -> Result<Bytes, EditError> {
        self.check()?;
        Ok(render(self))
    }

    /// Appends the edited message to `out` (reserving what it needs); returns its
    /// length. Take it with `out.split().freeze()`; once every such `Bytes` is dropped,
    /// the next `reserve` reuses the allocation.
    pub fn apply_into(&self, out: &mut BytesMut) -> Result<usize, EditError> {
        self.check()?;
        Ok(render_into(self, out))
    }
}

impl Emit for Edits<'_> {
    /// Writes the message with the edits; [`Edits::check`] must have passed.
    fn emit<S: Sink>(&self, out: &mut S) {
        let bytes = self.msg.as_bytes();
        let mut pos = self.msg.start_line_span().start as usize;
        for e in &self.list {
            let start = e.span.start as usize;
            out.put(bytes.get(pos..start).unwrap_or_default());
            e.piece.emit(out);
            pos = pos.max(e.span.end as usize);
        }
        out.put(bytes.get(pos..).unwrap_or_default());
    }
}
