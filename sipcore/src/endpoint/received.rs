//! RFC 3261 §18.2.1 / RFC 3581 §4: the server transport writes in the top Via of a
//! request where it really came from, so responses and the next hops rely on what was
//! observed, never on what the sender claims.
//!
//! `received` is set to the source address when the sent-by differs from it or `rport`
//! is present; `rport` is set to the source port when present. A `received` or `rport`
//! value the client wrote that does not match the real source is overwritten: a
//! forged `received` would otherwise steer responses (and a stream transport's
//! RFC 3261 §18.2.2 fallback connection) to an address of the sender's choosing. Most
//! requests need nothing (the sent-by is the source address) and pass untouched; the
//! others are copied once with the values spliced in.

use bytes::Bytes;

use crate::edit::Edits;
use crate::message::{HeaderId, Message, Request, Via};
use crate::parse::parse_datagram;
use crate::syntax::Span;
use crate::transport::routing;
use crate::transport::Target;

/// `message` with the top Via of a request corrected for `source` (responses and
/// requests whose top Via does not parse are returned as they are).
pub(super) fn with_received(message: Message, source: Target) -> Message {
    let Message::Request(req) = &message else {
        return message;
    };
    match corrected(req, source).map(parse_datagram) {
        Some(Ok(m)) => m,
        _ => message,
    }
}

/// The bytes of `req` with its top Via corrected, `None` when it needs nothing (or
/// cannot be read).
fn corrected(req: &Request, source: Target) -> Option<Bytes> {
    let (offset, value) = req.values(HeaderId::Via).next()?;
    let via = Via::parse(value).ok()?;
    let fix = routing::via_additions(&via, source.addr)?;
    // Absolute position in the message of a sub-slice of the Via value.
    let at =
        |part: &[u8]| offset + (part.as_ptr() as usize).saturating_sub(value.as_ptr() as usize);
    let value_end = offset + value.len();
    let rport_text = fix.rport.map(|p| p.to_string());
    let received_ip = fix.received.map(|ip| ip.to_string());
    let received_param = received_ip.as_ref().map(|ip| format!(";received={ip}"));
    let rport_flag = rport_text.as_ref().map(|p| format!("={p}"));
    let mut edits = Edits::for_request(req);
    let mut ok = true;
    // `rport`: fill the empty flag, or replace a value that is not the source port.
    if let (Some(text), Some(flag), Some(p)) = (&rport_text, &rport_flag, via.params.get("rport")) {
        ok &= match p.value {
            None => edits.insert(at(p.name.as_bytes()) + p.name.len(), flag.as_bytes()),
            Some(v) => edits.replace(Span::new(at(v), at(v) + v.len()), text.as_bytes()),
        }
        .is_ok();
    }
    // `received`: replace a wrong value, else append it (the Via parser refuses a
    // `received` without a value).
    if let (Some(ip), Some(param)) = (&received_ip, &received_param) {
        ok &= match via.params.get("received") {
            Some(p) => {
                let v = p.value?;
                edits.replace(Span::new(at(v), at(v) + v.len()), ip.as_bytes())
            }
            None => edits.insert(value_end, param.as_bytes()),
        }
        .is_ok();
    }
    ok.then(|| edits.apply().ok()).flatten()
}
