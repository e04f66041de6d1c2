//! Responses built from a request (RFC 3261 §8.2.6), for answering without a
//! transaction (a stateless 503 under overload, a 400 to a request the layer could not
//! key) and for the transaction user's everyday answers.
//!
//! The Via lines, From, Call-ID and CSeq are copied from the request by span; the To line
//! too, with a tag added when the request had none (§8.2.6.2; never on 100 Trying). A
//! 100 Trying copies Timestamp (§8.2.6.1).
//!
//! ```
//! use bytes::Bytes;
//! use sipcore::message::{Message, StatusCode};
//! use sipcore::transaction::stateless;
//!
//! let msg = Message::parse(Bytes::from_static(
//!     b"OPTIONS sip:bob@example.com SIP/2.0\r\n\
//!       Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776\r\n\
//!       From: <sip:alice@example.com>;tag=12\r\n\
//!       To: <sip:bob@example.com>\r\n\
//!       Call-ID: abc@192.0.2.1\r\n\
//!       CSeq: 7 OPTIONS\r\n\
//!       Content-Length: 0\r\n\r\n",
//! ))?;
//! let req = msg.as_request().unwrap();
//! let resp = stateless::response(req, StatusCode::SERVICE_UNAVAILABLE, Some("x1"))?;
//! assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
//! assert_eq!(resp.reason(), b"Service Unavailable");
//! assert_eq!(resp.to()?.tag(), Some("x1"));
//! assert_eq!(resp.top_via()?.branch(), Some("z9hG4bK776"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt::Write;

use bytes::{BufMut, BytesMut};

use crate::message::{HeaderId, Message, Request, Response, StatusCode};
use crate::parse::ParseError;

use super::TransactionError;

/// A response to `request` with the canonical reason phrase and no body.
///
/// `to_tag` is added to the To header when the request has no To tag and the status is
/// not 100 (a UAS or the layer picks it; see
/// [`TransactionLayer::new_tag`](super::TransactionLayer::new_tag)).
pub fn response(
    request: &Request,
    status: StatusCode,
    to_tag: Option<&str>,
) -> Result<Response, TransactionError> {
    response_with(request, status, status.canonical_reason(), to_tag, b"", b"")
}

/// A response to `request` with a reason phrase, extra header lines (`headers`, each
/// ending in CRLF, e.g. `b"Retry-After: 5\r\n"`) and a body (Content-Length is set).
///
/// A reason phrase holding CR or LF is replaced by the canonical one.
pub fn response_with(
    request: &Request,
    status: StatusCode,
    reason: &str,
    to_tag: Option<&str>,
    headers: &[u8],
    body: &[u8],
) -> Result<Response, TransactionError> {
    let missing = |what| ParseError::malformed(request.headers_end(), what);
    let line = |id: HeaderId, what| {
        request
            .header_entry(id)
            .map(|h| request.slice(h.line))
            .ok_or(missing(what))
    };
    let reason = if reason.bytes().any(|b| b == b'\r' || b == b'\n') {
        status.canonical_reason()
    } else {
        reason
    };
    let mut b = BytesMut::with_capacity(request.headers_end() + headers.len() + body.len() + 64);
    // Writing into a BytesMut cannot fail.
    let _ = write!(b, "SIP/2.0 {} {}\r\n", status.as_u16(), reason);
    let mut vias = 0;
    for h in request.headers().iter().filter(|h| h.id == HeaderId::Via) {
        b.put_slice(request.slice(h.line));
        vias += 1;
    }
    if vias == 0 {
        return Err(missing("Via header").into());
    }
    b.put_slice(line(HeaderId::From, "From header")?);
    let to = request.header_entry(HeaderId::To).ok_or(missing("To header"))?;
    let has_tag = request.to()?.tag().is_some();
    match to_tag {
        Some(tag) if !has_tag && status != StatusCode::TRYING => {
            let buf = request.as_bytes();
            b.put_slice(buf.get(to.line.start as usize..to.value.end as usize).unwrap_or_default());
            b.put_slice(b";tag=");
            b.put_slice(tag.as_bytes());
            b.put_slice(buf.get(to.value.end as usize..to.line.end as usize).unwrap_or_default());
        }
        _ => b.put_slice(request.slice(to.line)),
    }
    b.put_slice(line(HeaderId::CallId, "Call-ID header")?);
    b.put_slice(line(HeaderId::CSeq, "CSeq header")?);
    if status == StatusCode::TRYING {
        if let Some(h) = request.header(HeaderId::Timestamp) {
            b.put_slice(b"Timestamp: ");
            b.put_slice(h);
            b.put_slice(b"\r\n");
        }
    }
    b.put_slice(headers);
    let _ = write!(b, "Content-Length: {}\r\n\r\n", body.len());
    b.put_slice(body);
    match Message::parse(b.freeze())? {
        Message::Response(r) => Ok(r),
        Message::Request(_) => Err(missing("response").into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn req(b: &'static [u8]) -> Request {
        match Message::parse(Bytes::from_static(b)).unwrap() {
            Message::Request(r) => r,
            Message::Response(_) => panic!(),
        }
    }

    const REQ: &[u8] = b"INVITE sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP p1;branch=z9hG4bK1\r\nv: SIP/2.0/UDP p0;branch=z9hG4bK0\r\n\
f: <sip:a@h>;tag=1\r\nTo:  <sip:b@h>  \r\ni: c1\r\nCSeq: 2 INVITE\r\nTimestamp: 54\r\nContent-Length: 0\r\n\r\n";

    #[test]
    fn copies_vias_and_tags_to() {
        let r = response(&req(REQ), StatusCode::BUSY_HERE, Some("t9")).unwrap();
        assert_eq!(r.vias().count(), 2);
        assert_eq!(r.to().unwrap().tag(), Some("t9"));
        assert_eq!(r.from_().unwrap().tag(), Some("1"));
        assert_eq!(r.call_id().unwrap(), "c1");
        assert_eq!(r.cseq().unwrap().seq, 2);
        assert!(r.header_by_name("Timestamp").is_none());
    }

    #[test]
    fn trying_keeps_timestamp_and_no_tag() {
        let r = response(&req(REQ), StatusCode::TRYING, Some("t9")).unwrap();
        assert_eq!(r.to().unwrap().tag(), None);
        assert_eq!(r.header_by_name("Timestamp"), Some(&b"54"[..]));
    }

    #[test]
    fn extra_headers_body_and_bad_reason() {
        let r = response_with(&req(REQ), StatusCode::SERVICE_UNAVAILABLE, "x\r\ny", None, b"Retry-After: 5\r\n", b"hi")
            .unwrap();
        assert_eq!(r.reason(), b"Service Unavailable");
        assert_eq!(r.header_by_name("Retry-After"), Some(&b"5"[..]));
        assert_eq!(r.body(), b"hi");
    }
}
