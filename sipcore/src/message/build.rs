//! Builders: new requests ([`RequestBuilder`]) and responses to a received request
//! ([`ResponseBuilder`], RFC 3261 §8.2.6). The stateless answer to a request that
//! failed to parse is built from the same parts by
//! [`stateless::response_for_error`](crate::transaction::stateless::response_for_error).
//!
//! Every builder writes its message in one pass into one buffer: it first measures the
//! output, allocates exactly that much, then writes, so `build()` costs one allocation
//! and `Content-Length` is always right. Values the builders copy from a parsed request
//! are copied as bytes, never re-serialised.
//!
//! # Values are sanitised, not validated
//!
//! `build()` cannot fail. Bytes that would break the framing of the message (CR, LF and
//! the other control characters but HT) are written as spaces, and a header whose name
//! is not a `token` is left out, so no value can inject a header line or end the head
//! early. Checking that a value follows its header's grammar is the caller's job.
//!
//! ```
//! use sipcore::message::{Method, NewVia, RequestBuilder, StatusCode, response_to};
//!
//! let invite = RequestBuilder::new(Method::Invite, "sip:bob@biloxi.example.com")
//!     .via(NewVia::new("UDP", "pc33.atlanta.example.com", "z9hG4bK776asdhds").rport())
//!     .from("Alice <sip:alice@atlanta.example.com>;tag=1928301774")
//!     .to("Bob <sip:bob@biloxi.example.com>")
//!     .call_id("a84b4c76e66710@pc33.atlanta.example.com")
//!     .cseq(314159)
//!     .contact("<sip:alice@pc33.atlanta.example.com>")
//!     .body("application/sdp", b"v=0\r\n")
//!     .build();
//! let msg = sipcore::parse::parse_datagram(invite)?;
//! assert_eq!(msg.content_length()?, Some(5));
//!
//! let ringing = response_to(msg.as_request().unwrap(), StatusCode::RINGING)
//!     .to_tag("a6c85cf")
//!     .build();
//! let resp = sipcore::parse::parse_datagram(ringing)?;
//! assert_eq!(resp.to()?.tag(), Some("a6c85cf"));
//! assert_eq!(resp.top_via()?.branch(), Some("z9hG4bK776asdhds"));
//! # Ok::<(), sipcore::parse::ParseError>(())
//! ```

mod response;
#[cfg(test)]
mod tests;

use bytes::{Bytes, BytesMut};
use smallvec::SmallVec;

use super::Method;
use crate::syntax::lex::is_token;

pub(crate) use response::Copied;
pub use response::{response_to, ResponseBuilder};

/// Where a builder or an edit list writes: a byte counter (first pass) or the output.
pub(crate) trait Sink {
    /// Appends `bytes`.
    fn put(&mut self, bytes: &[u8]);
}

/// First pass: counts the bytes the second pass will write.
#[derive(Debug, Default)]
pub(crate) struct Counter(pub(crate) usize);

impl Sink for Counter {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        self.0 += bytes.len();
    }
}

impl Sink for BytesMut {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// Something that writes a message into a [`Sink`], the same bytes every time.
pub(crate) trait Emit {
    fn emit<S: Sink>(&self, out: &mut S);
}

/// Measures `e`, then writes it into a buffer of exactly that size: one allocation, and
/// `freeze()` hands the allocation over without another one.
pub(crate) fn render(e: &impl Emit) -> Bytes {
    let mut n = Counter(0);
    e.emit(&mut n);
    let mut out = BytesMut::with_capacity(n.0);
    e.emit(&mut out);
    debug_assert_eq!(out.len(), n.0);
    out.freeze()
}

/// Measures `e`, reserves that much in `out` and appends it; returns the bytes appended.
pub(crate) fn render_into(e: &impl Emit, out: &mut BytesMut) -> usize {
    let mut n = Counter(0);
    e.emit(&mut n);
    out.reserve(n.0);
    let before = out.len();
    e.emit(out);
    debug_assert_eq!(out.len() - before, n.0);
    n.0
}

/// Bytes that may not appear in a header value or reason phrase as written by us:
/// control characters except HT (CR and LF above all).
#[inline]
pub(crate) fn is_unsafe(b: u8) -> bool {
    (b < 0x20 && b != b'\t') || b == 0x7f
}

/// Whether `value` can be written as a header value unchanged.
#[inline]
pub(crate) fn is_clean(value: &[u8]) -> bool {
    !value.iter().any(|&b| is_unsafe(b))
}

/// Whether `name` is a valid header name (a non-empty `token`).
#[inline]
pub(crate) fn is_header_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|&b| is_token(b))
}

/// Writes `bytes` with every [unsafe](is_unsafe) byte replaced by a space.
pub(crate) fn put_clean<S: Sink>(out: &mut S, bytes: &[u8]) {
    let mut rest = bytes;
    while let Some(k) = rest.iter().position(|&b| is_unsafe(b)) {
        let (ok, tail) = rest.split_at(k);
        out.put(ok);
        out.put(b" ");
        rest = tail.get(1..).unwrap_or_default();
    }
    out.put(rest);
}

/// Adds a caller's header to a builder, except Content-Length: the builders write it
/// themselves, and a second one would make the message ambiguous.
pub(crate) fn push_extra<'a>(headers: &mut ExtraHeaders<'a>, name: &'a [u8], value: &'a [u8]) {
    if crate::message::HeaderId::from_name(name) != crate::message::HeaderId::ContentLength {
        headers.push((name, value));
    }
}

/// Writes `n` in decimal.
pub(crate) fn put_u32<S: Sink>(out: &mut S, mut n: u32) {
    let mut digits = [0u8; 10];
    let mut k = digits.len();
    loop {
        k -= 1;
        digits[k] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.put(&digits[k..]);
}

/// Writes `name: value\r\n` with the value sanitised; nothing when `name` is not a token.
pub(crate) fn put_header<S: Sink>(out: &mut S, name: &[u8], value: &[u8]) {
    if !is_header_name(name) {
        return;
    }
    out.put(name);
    out.put(b": ");
    put_clean(out, value);
    out.put(b"\r\n");
}

/// A Via value to write: `SIP/2.0/<transport> <host>[:<port>][;branch=<branch>][;rport]<params>`.
///
/// The branch comes from the caller (the transaction layer generates them); an empty
/// branch is left out.
///
/// ```
/// use sipcore::message::NewVia;
/// let v = NewVia::new("TCP", "192.0.2.7", "z9hG4bK.a1").port(5060).rport().params(";alias");
/// assert_eq!(v.to_string(), "SIP/2.0/TCP 192.0.2.7:5060;branch=z9hG4bK.a1;rport;alias");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewVia<'a> {
    /// Transport: `UDP`, `TCP`, `TLS`, `SCTP`, `WS`, `WSS`.
    pub transport: &'a str,
    /// sent-by host (an IPv6 address in brackets).
    pub host: &'a str,
    /// sent-by port, if not the transport's default.
    pub port: Option<u16>,
    /// The `branch` parameter (with the `z9hG4bK` magic cookie); empty: none.
    pub branch: &'a str,
    /// Whether to add an empty `rport` parameter (RFC 3581).
    pub rport: bool,
    /// More parameters, written as given after the others (`;alias;foo=bar`).
    pub params: &'a str,
}

impl<'a> NewVia<'a> {
    /// A Via with transport, host and branch; no port, no rport, no other parameters.
    pub fn new(transport: &'a str, host: &'a str, branch: &'a str) -> Self {
        NewVia {
            transport,
            host,
            port: None,
            branch,
            rport: false,
            params: "",
        }
    }

    /// Sets the sent-by port.
    #[must_use]
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Adds an empty `rport` parameter (RFC 3581: ask for the response at the source port).
    #[must_use]
    pub fn rport(mut self) -> Self {
        self.rport = true;
        self
    }

    /// Appends raw parameters (each with its leading `;`).
    #[must_use]
    pub fn params(mut self, params: &'a str) -> Self {
        self.params = params;
        self
    }

    /// Whether every part can be written unchanged: transport and branch are tokens,
    /// the host uses host characters, the parameters hold no control characters.
    pub fn is_valid(&self) -> bool {
        let host_ok = !self.host.is_empty()
            && self.host.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']')
            });
        is_header_name(self.transport.as_bytes())
            && host_ok
            && self.branch.bytes().all(is_token)
            && is_clean(self.params.as_bytes())
    }

    /// Writes the value (sanitised).
    pub(crate) fn emit<S: Sink>(&self, out: &mut S) {
        out.put(b"SIP/2.0/");
        put_clean(out, self.transport.as_bytes());
        out.put(b" ");
        put_clean(out, self.host.as_bytes());
        if let Some(p) = self.port {
            out.put(b":");
            put_u32(out, u32::from(p));
        }
        if !self.branch.is_empty() {
            out.put(b";branch=");
            put_clean(out, self.branch.as_bytes());
        }
        if self.rport {
            out.put(b";rport");
        }
        put_clean(out, self.params.as_bytes());
    }
}

impl std::fmt::Display for NewVia<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = BytesMut::new();
        self.emit(&mut out);
        f.write_str(&String::from_utf8_lossy(&out))
    }
}

/// A Via value given either as raw bytes or as a [`NewVia`].
///
/// Functions that take a Via accept `impl Into<ViaValue>`: a `&str`, a `&[u8]` or a
/// [`NewVia`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViaValue<'a> {
    /// A complete via-parm as bytes, e.g. `SIP/2.0/UDP host;branch=z9hG4bK1`.
    Raw(&'a [u8]),
    /// Parts to format.
    New(NewVia<'a>),
}

impl ViaValue<'_> {
    /// Whether the value can be written unchanged (see [`NewVia::is_valid`]).
    pub fn is_valid(&self) -> bool {
        match self {
            ViaValue::Raw(v) => !v.is_empty() && is_clean(v),
            ViaValue::New(v) => v.is_valid(),
        }
    }

    pub(crate) fn emit<S: Sink>(&self, out: &mut S) {
        match self {
            ViaValue::Raw(v) => put_clean(out, v),
            ViaValue::New(v) => v.emit(out),
        }
    }
}

impl<'a> From<NewVia<'a>> for ViaValue<'a> {
    fn from(v: NewVia<'a>) -> Self {
        ViaValue::New(v)
    }
}

impl<'a> From<&'a [u8]> for ViaValue<'a> {
    fn from(v: &'a [u8]) -> Self {
        ViaValue::Raw(v)
    }
}

impl<'a, const N: usize> From<&'a [u8; N]> for ViaValue<'a> {
    fn from(v: &'a [u8; N]) -> Self {
        ViaValue::Raw(v)
    }
}

impl<'a> From<&'a str> for ViaValue<'a> {
    fn from(v: &'a str) -> Self {
        ViaValue::Raw(v.as_bytes())
    }
}

/// Extra header lines of a builder, inline up to four.
pub(crate) type ExtraHeaders<'a> = SmallVec<[(&'a [u8], &'a [u8]); 4]>;

/// Builds a new request: request line, the headers given, `Content-Length` always.
///
/// Headers are written in this order: Via (in call order, top first), Max-Forwards
/// (70 unless set), Route, From, To, Call-ID, CSeq (with the request's method), Contact,
/// the extra headers in call order, Content-Type, Content-Length. Nothing is checked
/// for completeness: a request needs Via, From, To, Call-ID and CSeq (RFC 3261 §8.1.1),
/// and the caller provides them, tags and branch included.
///
/// ```
/// use sipcore::message::{Method, RequestBuilder};
/// let bytes = RequestBuilder::new(Method::Options, "sip:carol@chicago.example.com")
///     .via("SIP/2.0/UDP 192.0.2.4;branch=z9hG4bKhjhs8ass877")
///     .from("<sip:alice@atlanta.example.com>;tag=1928301774")
///     .to("<sip:carol@chicago.example.com>")
///     .call_id("a84b4c76e66710")
///     .cseq(63104)
///     .header("Accept", "application/sdp")
///     .build();
/// assert!(bytes.starts_with(b"OPTIONS sip:carol@chicago.example.com SIP/2.0\r\n"));
/// assert!(bytes.ends_with(b"Content-Length: 0\r\n\r\n"));
/// ```
#[derive(Debug, Clone)]
pub struct RequestBuilder<'a> {
    method: Method<'a>,
    uri: &'a [u8],
    vias: SmallVec<[ViaValue<'a>; 2]>,
    max_forwards: u8,
    routes: SmallVec<[&'a [u8]; 2]>,
    from: Option<&'a [u8]>,
    to: Option<&'a [u8]>,
    call_id: Option<&'a [u8]>,
    cseq: Option<u32>,
    contact: Option<&'a [u8]>,
    headers: ExtraHeaders<'a>,
    body: Option<(&'a [u8], &'a [u8])>,
}

impl<'a> RequestBuilder<'a> {
    /// A request with this method and Request-URI.
    pub fn new(method: Method<'a>, uri: &'a (impl AsRef<[u8]> + ?Sized)) -> Self {
        RequestBuilder {
            method,
            uri: uri.as_ref(),
            vias: SmallVec::new(),
            max_forwards: 70,
            routes: SmallVec::new(),
            from: None,
            to: None,
            call_id: None,
            cseq: None,
            contact: None,
            headers: SmallVec::new(),
            body: None,
        }
    }

    /// Adds a Via (the first call's is the top one).
    #[must_use]
    pub fn via(mut self, via: impl Into<ViaValue<'a>>) -> Self {
        self.vias.push(via.into());
        self
    }

    /// Sets Max-Forwards (default 70, RFC 3261 §8.1.1.6).
    #[must_use]
    pub fn max_forwards(mut self, hops: u8) -> Self {
        self.max_forwards = hops;
        self
    }

    /// Adds a Route value (in call order), e.g. `<sip:p1.example.com;lr>`.
    #[must_use]
    pub fn route(mut self, value: &'a (impl AsRef<[u8]> + ?Sized)) -> Self {
        self.routes.push(value.as_ref());
        self
    }

    /// Sets the From value, tag included: `Alice <sip:alice@a.example>;tag=1928301774`.
    #[must_use]
    pub fn from(mut self, value: &'a (impl AsRef<[u8]> + ?Sized)) -> Self {
        self.from = Some(value.as_ref());
        self
    }

    /// Sets the To value.
    #[must_use]
    pub fn to(mut self, value: &'a (impl AsRef<[u8]> + ?Sized)) -> Self {
        self.to = Some(value.as_ref());
        self
    }

    /// Sets the Call-ID.
    #[must_use]
    pub fn call_id(mut self, value: &'a (impl AsRef<[u8]> + ?Sized)) -> Self {
        self.call_id = Some(value.as_ref());
        self
    }

    /// Sets the CSeq number; the CSeq method is the request's.
    #[must_use]
    pub fn cseq(mut self, seq: u32) -> Self {
        self.cseq = Some(seq);
        self
    }

    /// Sets the Contact value.
    #[must_use]
    pub fn contact(mut self, value: &'a (impl AsRef<[u8]> + ?Sized)) -> Self {
        self.contact = Some(value.as_ref());
        self
    }

    /// Adds a header line (after the standard ones, in call order).
    #[must_use]
    pub fn header(
        mut self,
        name: &'a (impl AsRef<[u8]> + ?Sized),
        value: &'a (impl AsRef<[u8]> + ?Sized),
    ) -> Self {
        push_extra(&mut self.headers, name.as_ref(), value.as_ref());
        self
    }

    /// Sets the body and its Content-Type (an empty body writes no Content-Type).
    #[must_use]
    pub fn body(
        mut self,
        content_type: &'a (impl AsRef<[u8]> + ?Sized),
        body: &'a (impl AsRef<[u8]> + ?Sized),
    ) -> Self {
        self.body = Some((content_type.as_ref(), body.as_ref()));
        self
    }

    /// Writes the request into one buffer of exactly its size.
    pub fn build(&self) -> Bytes {
        render(self)
    }

    /// Appends the request to `out` (a reusable scratch buffer); returns its length.
    pub fn build_into(&self, out: &mut BytesMut) -> usize {
        render_into(self, out)
    }
}

impl Emit for RequestBuilder<'_> {
    fn emit<S: Sink>(&self, out: &mut S) {
        let method = self.method.as_str().as_bytes();
        put_clean(out, method);
        out.put(b" ");
        // The Request-URI may not hold white space either.
        let mut rest = self.uri;
        while let Some(k) = rest.iter().position(|&b| b <= b' ' || b == 0x7f) {
            out.put(rest.get(..k).unwrap_or_default());
            out.put(b"%20");
            rest = rest.get(k + 1..).unwrap_or_default();
        }
        out.put(rest);
        out.put(b" SIP/2.0\r\n");
        for via in &self.vias {
            out.put(b"Via: ");
            via.emit(out);
            out.put(b"\r\n");
        }
        out.put(b"Max-Forwards: ");
        put_u32(out, u32::from(self.max_forwards));
        out.put(b"\r\n");
        for r in &self.routes {
            put_header(out, b"Route", r);
        }
        let single = [
            (&b"From"[..], self.from),
            (b"To", self.to),
            (b"Call-ID", self.call_id),
        ];
        for (name, value) in single {
            if let Some(v) = value {
                put_header(out, name, v);
            }
        }
        if let Some(seq) = self.cseq {
            out.put(b"CSeq: ");
            put_u32(out, seq);
            out.put(b" ");
            put_clean(out, method);
            out.put(b"\r\n");
        }
        if let Some(c) = self.contact {
            put_header(out, b"Contact", c);
        }
        put_tail(out, &self.headers, self.body);
    }
}

/// Writes the extra headers, Content-Type and Content-Length, the empty line and the body.
pub(crate) fn put_tail<S: Sink>(
    out: &mut S,
    headers: &[(&[u8], &[u8])],
    body: Option<(&[u8], &[u8])>,
) {
    for (name, value) in headers {
        put_header(out, name, value);
    }
    let (content_type, body) = body.unwrap_or_default();
    if !body.is_empty() && !content_type.is_empty() {
        put_header(out, b"Content-Type", content_type);
    }
    out.put(b"Content-Length: ");
    // Builders' bodies come from the application; more than 4 GiB is not a SIP message.
    put_u32(out, u32::try_from(body.len()).unwrap_or(u32::MAX));
    out.put(b"\r\n\r\n");
    out.put(body);
}
