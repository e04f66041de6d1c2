//! Answering without a transaction, and the bridge from the message builders to
//! [`TransactionLayer::send_response`](super::TransactionLayer::send_response).
//!
//! The responses themselves are built by [`response_to`] (RFC 3261 §8.2.6). This module
//! adds what the transaction layer's callers need around them:
//!
//! - [`response_for_error`]: the 400 / 505 / 513 answer to a request that did not even
//!   parse (here, not with the builders: it re-reads the raw bytes with the parser);
//! - [`response`]: a built response parsed into the [`Response`] that `send_response`
//!   takes (one call for the everyday answers of a TU);
//! - [`overloaded`]: the stateless 503 for a request the layer refused with
//!   [`TransactionError::Overloaded`];
//! - [`malformed`]: the stateless 400 for a request the layer could not key
//!   ([`TransactionError::Malformed`]).
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
//! let resp = stateless::response(req, StatusCode::OK, Some("x1"))?;
//! assert_eq!(resp.to()?.tag(), Some("x1"));
//!
//! let busy = Message::parse(stateless::overloaded(req, Some(5)))?;
//! assert_eq!(busy.as_response().unwrap().status(), StatusCode::SERVICE_UNAVAILABLE);
//! assert_eq!(busy.header_by_name("Retry-After"), Some(&b"5"[..]));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use bytes::Bytes;

use crate::message::{response_to, Message, Request, Response, StatusCode};
use crate::parse::ParseError;

mod parse_error;

pub use parse_error::response_for_error;

use super::TransactionError;

/// The response `status` to `request` with the canonical reason phrase, To tagged with
/// `to_tag` when the request's To has none, parsed and ready for `send_response`.
/// For reason phrases, extra headers or a body, build with [`response_to`] and parse
/// with [`parse_response`].
pub fn response(
    request: &Request,
    status: StatusCode,
    to_tag: Option<&str>,
) -> Result<Response, TransactionError> {
    let mut b = response_to(request, status);
    if let Some(tag) = to_tag {
        b = b.to_tag(tag);
    }
    parse_response(b.build())
}

/// Parses built response bytes into a [`Response`].
pub fn parse_response(bytes: Bytes) -> Result<Response, TransactionError> {
    match Message::parse(bytes)? {
        Message::Response(r) => Ok(r),
        Message::Request(_) => Err(ParseError::malformed(0, "a status line").into()),
    }
}

/// The stateless `503 Service Unavailable` for a request refused under load, with
/// `Retry-After` when given. The To tag is left out: the request never reaches a
/// dialog, and a retransmission gets the same bytes.
pub fn overloaded(request: &Request, retry_after_secs: Option<u32>) -> Bytes {
    let secs = retry_after_secs.map(|s| s.to_string());
    let b = response_to(request, StatusCode::SERVICE_UNAVAILABLE);
    match &secs {
        Some(s) => b.header("Retry-After", s.as_str()).build(),
        None => b.build(),
    }
}

/// The stateless `400 Bad Request` for a request whose matching headers did not parse
/// (what [`TransactionError::Malformed`] reports), with the parse error as reason
/// phrase; `None` for an ACK or when no Via can be recovered. The request's raw bytes
/// are re-read leniently by [`response_for_error`].
pub fn malformed(request: &Request, error: ParseError) -> Option<Bytes> {
    response_for_error(request.as_bytes(), error)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(b: &'static [u8]) -> Request {
        match Message::parse(Bytes::from_static(b)).unwrap() {
            Message::Request(r) => r,
            Message::Response(_) => panic!(),
        }
    }

    const REQ: &[u8] = b"INVITE sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP p1;branch=z9hG4bK1\r\nv: SIP/2.0/UDP p0;branch=z9hG4bK0\r\n\
f: <sip:a@h>;tag=1\r\nTo:  <sip:b@h>  \r\ni: c1\r\nCSeq: 2 INVITE\r\nTimestamp: 54\r\nContent-Length: 0\r\n\r\n";

    #[test]
    fn response_copies_and_tags() {
        let r = response(&req(REQ), StatusCode::BUSY_HERE, Some("t9")).unwrap();
        assert_eq!(r.vias().count(), 2);
        assert_eq!(r.to().unwrap().tag(), Some("t9"));
        assert_eq!(r.cseq().unwrap().seq, 2);
    }

    #[test]
    fn malformed_answers_400() {
        let bad = req(b"OPTIONS sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP p1;branch=z9hG4bK1\r\nFrom: <sip:a@h>;tag=1\r\n\
To: <sip:b@h>\r\nCall-ID: c\r\nCSeq: x OPTIONS\r\nContent-Length: 0\r\n\r\n");
        let err = bad.cseq().unwrap_err();
        let answer = Message::parse(malformed(&bad, err).unwrap()).unwrap();
        assert_eq!(
            answer.as_response().unwrap().status(),
            StatusCode::BAD_REQUEST
        );
    }
}
