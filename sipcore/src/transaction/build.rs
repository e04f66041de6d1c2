//! The two requests the client side builds itself: the ACK for a non-2xx final response
//! (§17.1.1.3) and the CANCEL (§9.1). Both copy lines of the original request by span
//! into one buffer; nothing is re-serialised.

use std::fmt::Write;

use bytes::{BufMut, Bytes, BytesMut};

use crate::message::{HeaderId, Request, Response};
use crate::parse::ParseError;

fn put_line(b: &mut BytesMut, req: &Request, id: HeaderId) -> Result<(), ParseError> {
    let h = req
        .header_entry(id)
        .ok_or(ParseError::malformed(req.headers_end(), id.name()))?;
    b.put_slice(req.slice(h.line()));
    Ok(())
}

/// A request of `method` for the transaction of `orig`: same Request-URI, top Via only,
/// Route set, Max-Forwards, From, Call-ID, CSeq number; `to_line` (a whole line with its
/// CRLF) or the original To.
fn derived(orig: &Request, method: &str, to_line: Option<&[u8]>) -> Result<Bytes, ParseError> {
    let (_, via) = orig
        .values(HeaderId::Via)
        .next()
        .ok_or(ParseError::malformed(orig.headers_end(), "Via header"))?;
    let seq = orig.cseq()?.seq;
    let mut b = BytesMut::with_capacity(orig.headers_end() + 64);
    b.put_slice(method.as_bytes());
    b.put_u8(b' ');
    b.put_slice(orig.uri_bytes());
    b.put_slice(b" SIP/2.0\r\nVia: ");
    b.put_slice(via);
    b.put_slice(b"\r\n");
    for h in orig.headers().iter().filter(|h| h.id == HeaderId::Route) {
        b.put_slice(orig.slice(h.line()));
    }
    match orig.header_entry(HeaderId::MaxForwards) {
        Some(h) => b.put_slice(orig.slice(h.line())),
        None => b.put_slice(b"Max-Forwards: 70\r\n"),
    }
    put_line(&mut b, orig, HeaderId::From)?;
    match to_line {
        Some(l) => b.put_slice(l),
        None => put_line(&mut b, orig, HeaderId::To)?,
    }
    put_line(&mut b, orig, HeaderId::CallId)?;
    // Writing into a BytesMut cannot fail.
    let _ = write!(b, "CSeq: {seq} {method}\r\n");
    b.put_slice(b"Content-Length: 0\r\n\r\n");
    Ok(b.freeze())
}

/// The ACK for a non-2xx final response to `invite` (§17.1.1.3): the To header of the
/// response (with its tag), everything else from the INVITE.
pub(crate) fn ack(invite: &Request, response: &Response) -> Result<Bytes, ParseError> {
    let to = response
        .header_entry(HeaderId::To)
        .ok_or(ParseError::malformed(response.headers_end(), "To header"))?;
    derived(invite, "ACK", Some(response.slice(to.line())))
}

/// The CANCEL for `invite` (§9.1).
pub(crate) fn cancel(invite: &Request) -> Result<Bytes, ParseError> {
    derived(invite, "CANCEL", None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Message;

    const INVITE: &[u8] = b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKnashds8, SIP/2.0/UDP h;branch=z9hG4bKx\r\n\
Route: <sip:p1.example.com;lr>\r\n\
Max-Forwards: 69\r\n\
To: Bob <sip:bob@biloxi.example.com>\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710\r\n\
CSeq: 314159 INVITE\r\n\
Route: <sip:p2.example.com;lr>\r\n\
Contact: <sip:alice@pc33.atlanta.example.com>\r\n\
Content-Length: 4\r\n\r\nv=0\n";

    fn req(b: &'static [u8]) -> Request {
        match Message::parse(Bytes::from_static(b)).unwrap() {
            Message::Request(r) => r,
            Message::Response(_) => panic!("request expected"),
        }
    }

    #[test]
    fn cancel_copies_the_right_lines() {
        let c = cancel(&req(INVITE)).unwrap();
        let expected = "CANCEL sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKnashds8\r\n\
Route: <sip:p1.example.com;lr>\r\n\
Route: <sip:p2.example.com;lr>\r\n\
Max-Forwards: 69\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
To: Bob <sip:bob@biloxi.example.com>\r\n\
Call-ID: a84b4c76e66710\r\n\
CSeq: 314159 CANCEL\r\n\
Content-Length: 0\r\n\r\n";
        assert_eq!(std::str::from_utf8(&c).unwrap(), expected);
        assert!(Message::parse(c).is_ok());
    }

    #[test]
    fn ack_takes_to_from_the_response() {
        let resp = match Message::parse(Bytes::from_static(
            b"SIP/2.0 486 Busy Here\r\nVia: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKnashds8\r\n\
t: Bob <sip:bob@biloxi.example.com>;tag=8321234356\r\nFrom: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710\r\nCSeq: 314159 INVITE\r\nContent-Length: 0\r\n\r\n",
        ))
        .unwrap()
        {
            Message::Response(r) => r,
            Message::Request(_) => panic!(),
        };
        let a = ack(&req(INVITE), &resp).unwrap();
        let m = Message::parse(a).unwrap();
        assert_eq!(
            m.as_request().unwrap().method(),
            crate::message::Method::Ack
        );
        assert_eq!(m.to().unwrap().tag(), Some("8321234356"));
        assert_eq!(m.cseq().unwrap().seq, 314159);
        assert_eq!(m.count(HeaderId::Via), 1);
        assert_eq!(m.count(HeaderId::Route), 2);
        assert_eq!(m.body(), b"");
    }
}
