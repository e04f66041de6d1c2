//! Protocol helpers: the 513 answer to an oversized message, and where a response goes
//! when the connection its request came on is gone (RFC 3261 §18.2.2).

use std::net::{IpAddr, SocketAddr};

use bytes::Bytes;
use sipcore::message::{HeaderId, Via};

/// Default SIP port over TCP (RFC 3261 §19.1.2).
pub const DEFAULT_PORT: u16 = 5060;
/// Default SIP port over TLS (RFC 3261 §19.1.2).
pub const DEFAULT_TLS_PORT: u16 = 5061;

/// The port a Via sent-by without one means: 5061 for TLS, else 5060.
fn default_port(via: &Via<'_>) -> u16 {
    if via.transport.eq_ignore_ascii_case("TLS") {
        DEFAULT_TLS_PORT
    } else {
        DEFAULT_PORT
    }
}

/// `b` without leading and trailing SP and HT (RFC 3261 linear white space on one line).
fn trim_sp_ht(b: &[u8]) -> &[u8] {
    let ws = |c: &u8| *c == b' ' || *c == b'\t';
    let start = b.iter().position(|c| !ws(c)).unwrap_or(b.len());
    let end = b.iter().rposition(|c| !ws(c)).map_or(start, |e| e + 1);
    b.get(start..end).unwrap_or_default()
}

/// Builds `SIP/2.0 513 Message Too Large` for the request whose head is at the front of
/// `buf`, copying its Via, From, To, Call-ID and CSeq lines. `None` when the head is not
/// complete within `max_head` bytes, the message is a response, or it has no Via (nothing
/// to route the answer by): close the connection without answering then.
///
/// ```
/// let head = b"INVITE sip:b@x SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nCSeq: 1 INVITE\r\nContent-Length: 99999\r\n\r\n";
/// let r = sipcore_tcp::too_large_response(head, 1000).unwrap();
/// assert!(r.starts_with(b"SIP/2.0 513 Message Too Large\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nCSeq: 1 INVITE\r\n"));
/// assert!(r.ends_with(b"Content-Length: 0\r\n\r\n"));
/// ```
pub fn too_large_response(buf: &[u8], max_head: usize) -> Option<Bytes> {
    let window = buf.get(..max_head.min(buf.len()))?;
    let end = memchr::memmem::find(window, b"\r\n\r\n")?;
    let head = window.get(..end)?;
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let start = lines.next()?;
    if start.starts_with(b"SIP/") {
        return None;
    }
    let mut out = Vec::with_capacity(end + 64);
    out.extend_from_slice(b"SIP/2.0 513 Message Too Large\r\n");
    let mut copying = false;
    let mut vias = 0;
    for line in lines {
        if line.first().is_some_and(|&b| b == b' ' || b == b'\t') {
            // A folded continuation belongs to the previous header.
            if copying {
                out.extend_from_slice(line);
                out.extend_from_slice(b"\r\n");
            }
            continue;
        }
        let name = line
            .iter()
            .position(|&b| b == b':')
            .and_then(|i| line.get(..i))
            .map(trim_sp_ht)
            .unwrap_or_default();
        let id = HeaderId::from_name(name);
        copying = matches!(
            id,
            HeaderId::Via | HeaderId::From | HeaderId::To | HeaderId::CallId | HeaderId::CSeq
        );
        if copying {
            vias += usize::from(id == HeaderId::Via);
            out.extend_from_slice(line);
            out.extend_from_slice(b"\r\n");
        }
    }
    if vias == 0 {
        return None;
    }
    out.extend_from_slice(b"Content-Length: 0\r\n\r\n");
    Some(Bytes::from(out))
}

/// Where to send a response over TCP when the connection its request came on is gone
/// (RFC 3261 §18.2.2): the `received` address if present, else the sent-by host (an IP
/// literal: this crate does no DNS), with the sent-by port or 5060 (5061 for TLS).
///
/// `rport` is not used: on a connection-oriented transport it is the source port of the
/// connection that is gone.
///
/// ```
/// use sipcore::message::Via;
/// let via = Via::parse(b"SIP/2.0/TCP 192.0.2.4:5070;branch=z9hG4bK1;received=198.51.100.7;rport=40123").unwrap();
/// assert_eq!(sipcore_tcp::response_fallback(&via), Some("198.51.100.7:5070".parse().unwrap()));
/// let via = Via::parse(b"SIP/2.0/TCP [2001:db8::9];branch=z9hG4bK1").unwrap();
/// assert_eq!(sipcore_tcp::response_fallback(&via), Some("[2001:db8::9]:5060".parse().unwrap()));
/// let via = Via::parse(b"SIP/2.0/TLS 192.0.2.4;branch=z9hG4bK1").unwrap();
/// assert_eq!(sipcore_tcp::response_fallback(&via), Some("192.0.2.4:5061".parse().unwrap()));
/// ```
pub fn response_fallback(via: &Via<'_>) -> Option<SocketAddr> {
    let host = via.received().unwrap_or(via.host);
    let ip = parse_ip(host)?;
    Some(SocketAddr::new(
        ip,
        via.port.unwrap_or_else(|| default_port(via)),
    ))
}

/// The address a Via with the RFC 5923 `alias` parameter advertises: its sent-by (an IP
/// literal) and port (5060 by default, 5061 for TLS).
pub(crate) fn alias_addr(via: &Via<'_>) -> Option<SocketAddr> {
    if !via.alias() {
        return None;
    }
    let ip = parse_ip(via.host)?;
    Some(SocketAddr::new(
        ip,
        via.port.unwrap_or_else(|| default_port(via)),
    ))
}

fn parse_ip(host: &str) -> Option<IpAddr> {
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    host.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_large_needs_a_request_head_with_via() {
        assert!(too_large_response(b"INVITE sip:a SIP/2.0\r\nVia: x\r\n", 100).is_none());
        assert!(too_large_response(b"SIP/2.0 200 OK\r\nVia: x\r\n\r\n", 100).is_none());
        assert!(
            too_large_response(b"INVITE sip:a SIP/2.0\r\nCSeq: 1 INVITE\r\n\r\n", 100).is_none()
        );
        let head = b"INVITE sip:a SIP/2.0\r\nv: SIP/2.0/TCP a\r\n ;branch=z9hG4bK2\r\nSubject: x\r\ni: id1\r\nf: <sip:a>;tag=1\r\nt: <sip:b>\r\nContent-Length: 70000\r\n\r\nbody";
        let r = too_large_response(head, 1000).unwrap();
        assert_eq!(
            &r[..],
            &b"SIP/2.0 513 Message Too Large\r\nv: SIP/2.0/TCP a\r\n ;branch=z9hG4bK2\r\ni: id1\r\nf: <sip:a>;tag=1\r\nt: <sip:b>\r\nContent-Length: 0\r\n\r\n"[..]
        );
        assert!(
            too_large_response(head, 20).is_none(),
            "head beyond the window"
        );
    }

    #[test]
    fn alias_and_fallback() {
        let via = Via::parse(b"SIP/2.0/TCP 10.0.0.1:5062;branch=z9hG4bK1;alias").unwrap();
        assert_eq!(alias_addr(&via), Some("10.0.0.1:5062".parse().unwrap()));
        let via = Via::parse(b"SIP/2.0/TCP example.com;branch=z9hG4bK1;alias").unwrap();
        assert_eq!(alias_addr(&via), None);
        assert_eq!(response_fallback(&via), None);
        let via = Via::parse(b"SIP/2.0/TCP 10.0.0.1;branch=z9hG4bK1").unwrap();
        assert_eq!(alias_addr(&via), None);
    }
}
