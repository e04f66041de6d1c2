//! Responses to a received request (RFC 3261 §8.2.6).

use bytes::{Bytes, BytesMut};
use smallvec::SmallVec;

use super::{
    push_extra, put_clean, put_header, put_tail, put_u32, render, render_into, Emit, ExtraHeaders,
    Sink,
};
use crate::message::{HeaderId, MessageBuf, Request, StatusCode};

/// The header values a response copies from its request.
#[derive(Debug, Clone, Default)]
pub(crate) struct Copied<'a> {
    /// Via values (one per line written), top first.
    pub(crate) vias: SmallVec<[&'a [u8]; 8]>,
    /// Record-Route values, when asked for.
    pub(crate) record_routes: SmallVec<[&'a [u8]; 4]>,
    pub(crate) from: Option<&'a [u8]>,
    pub(crate) to: Option<&'a [u8]>,
    /// Whether the To value already has a `tag` parameter.
    pub(crate) to_has_tag: bool,
    pub(crate) call_id: Option<&'a [u8]>,
    pub(crate) cseq: Option<&'a [u8]>,
    pub(crate) timestamp: Option<&'a [u8]>,
}

impl<'a> Copied<'a> {
    /// Takes the values from a parsed message: every Via line in order, the first From,
    /// To, Call-ID, CSeq and Timestamp.
    pub(crate) fn from_message(m: &'a MessageBuf) -> Self {
        Copied {
            vias: m.header_all(HeaderId::Via).collect(),
            record_routes: SmallVec::new(),
            from: m.header(HeaderId::From),
            to: m.header(HeaderId::To),
            to_has_tag: m.to().is_ok_and(|t| t.tag().is_some()),
            call_id: m.header(HeaderId::CallId),
            cseq: m.header(HeaderId::CSeq),
            timestamp: m.header(HeaderId::Timestamp),
        }
    }
}

/// Builds a response to a received request, as RFC 3261 §8.2.6 says: the Via values
/// are copied in order, From, Call-ID and CSeq are copied, To is copied and gets the
/// `tag` given with [`to_tag`](Self::to_tag) unless it already has one; a 100 (Trying)
/// copies Timestamp (§8.2.6.1, without a delay value). `Content-Length` is always
/// written (0 without a body).
///
/// Copied values keep their bytes; header names are written in their long form.
/// The reason phrase defaults to the code's [canonical one](StatusCode::canonical_reason)
/// and is sanitised (control characters become spaces). `build()` allocates the output
/// once; with at most 8 Via lines nothing else is allocated.
///
/// ```
/// use sipcore::message::{response_to, Message, StatusCode};
/// let req = Message::parse(bytes::Bytes::from_static(
///     b"BYE sip:bob@192.0.2.4 SIP/2.0\r\n\
///       Via: SIP/2.0/UDP p1.example.com;branch=z9hG4bK.p1, SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK.a\r\n\
///       From: <sip:alice@example.com>;tag=a1\r\n\
///       To: <sip:bob@example.com>;tag=b2\r\n\
///       Call-ID: 77@192.0.2.1\r\n\
///       CSeq: 2 BYE\r\n\
///       Content-Length: 0\r\n\r\n",
/// ))?;
/// let ok = response_to(req.as_request().unwrap(), StatusCode::OK)
///     .to_tag("ignored: To has a tag")
///     .header("Server", "sipcore")
///     .build();
/// let resp = Message::parse(ok)?;
/// assert_eq!(resp.as_response().unwrap().reason(), b"OK");
/// assert_eq!(resp.vias().count(), 2);
/// assert_eq!(resp.to()?.tag(), Some("b2"));
/// assert_eq!(resp.header_by_name("Server"), Some(&b"sipcore"[..]));
/// # Ok::<(), sipcore::parse::ParseError>(())
/// ```
#[derive(Debug, Clone)]
pub struct ResponseBuilder<'a> {
    status: StatusCode,
    reason: Option<&'a [u8]>,
    to_tag: Option<&'a [u8]>,
    copied: Copied<'a>,
    request: Option<&'a MessageBuf>,
    headers: ExtraHeaders<'a>,
    body: Option<(&'a [u8], &'a [u8])>,
}

/// A [`ResponseBuilder`] for `status` to `request`.
pub fn response_to<'a>(request: &'a Request, status: StatusCode) -> ResponseBuilder<'a> {
    ResponseBuilder::new(request, status)
}

impl<'a> ResponseBuilder<'a> {
    /// A response with `status` to `request`.
    pub fn new(request: &'a Request, status: StatusCode) -> Self {
        let mut b = Self::from_copied(Copied::from_message(request), status);
        b.request = Some(request);
        b
    }

    pub(crate) fn from_copied(copied: Copied<'a>, status: StatusCode) -> Self {
        ResponseBuilder {
            status,
            reason: None,
            to_tag: None,
            copied,
            request: None,
            headers: SmallVec::new(),
            body: None,
        }
    }

    /// Sets the reason phrase (control characters are written as spaces).
    #[must_use]
    pub fn reason(mut self, reason: &'a str) -> Self {
        self.reason = Some(reason.as_bytes());
        self
    }

    /// Adds `;tag=<tag>` to the To value, unless the request's To already has a tag
    /// (a request inside a dialog, or a retransmission's answer must keep it).
    #[must_use]
    pub fn to_tag(mut self, tag: &'a str) -> Self {
        self.to_tag = Some(tag.as_bytes());
        self
    }

    /// Copies the request's Record-Route values (in order), as a UAS does in a response
    /// that creates a dialog (RFC 3261 §12.1.1).
    #[must_use]
    pub fn record_route(mut self) -> Self {
        if let Some(req) = self.request {
            self.copied.record_routes = req.header_all(HeaderId::RecordRoute).collect();
        }
        self
    }

    /// Adds a header line (after the copied ones, in call order).
    #[must_use]
    pub fn header(
        mut self,
        name: &'a (impl AsRef<[u8]> + ?Sized),
        value: &'a (impl AsRef<[u8]> + ?Sized),
    ) -> Self {
        push_extra(&mut self.headers, name.as_ref(), value.as_ref());
        self
    }

    /// Sets the body and its Content-Type.
    #[must_use]
    pub fn body(
        mut self,
        content_type: &'a (impl AsRef<[u8]> + ?Sized),
        body: &'a (impl AsRef<[u8]> + ?Sized),
    ) -> Self {
        self.body = Some((content_type.as_ref(), body.as_ref()));
        self
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// Writes the response into one buffer of exactly its size.
    pub fn build(&self) -> Bytes {
        render(self)
    }

    /// Appends the response to `out` (a reusable scratch buffer); returns its length.
    pub fn build_into(&self, out: &mut BytesMut) -> usize {
        render_into(self, out)
    }
}

impl Emit for ResponseBuilder<'_> {
    fn emit<S: Sink>(&self, out: &mut S) {
        let c = &self.copied;
        out.put(b"SIP/2.0 ");
        put_u32(out, u32::from(self.status.as_u16()));
        out.put(b" ");
        let reason = self
            .reason
            .unwrap_or(self.status.canonical_reason().as_bytes());
        put_clean(out, reason);
        out.put(b"\r\n");
        for v in &c.vias {
            put_header(out, b"Via", v);
        }
        for v in &c.record_routes {
            put_header(out, b"Record-Route", v);
        }
        if let Some(v) = c.from {
            put_header(out, b"From", v);
        }
        if let Some(v) = c.to {
            out.put(b"To: ");
            put_clean(out, v);
            if let Some(tag) = self.to_tag.filter(|t| !c.to_has_tag && !t.is_empty()) {
                out.put(b";tag=");
                put_clean(out, tag);
            }
            out.put(b"\r\n");
        }
        if let Some(v) = c.call_id {
            put_header(out, b"Call-ID", v);
        }
        if let Some(v) = c.cseq {
            put_header(out, b"CSeq", v);
        }
        if self.status == StatusCode::TRYING {
            if let Some(v) = c.timestamp {
                put_header(out, b"Timestamp", v);
            }
        }
        put_tail(out, &self.headers, self.body);
    }
}
