//! Where responses go (RFC 3261 §18.2.2 with RFC 3581) and what the server transport
//! notes in the top Via on receipt (§18.2.1).

use std::net::{IpAddr, SocketAddr};

use crate::message::Via;
use crate::transport::{Target, TransportKind};

/// Default port of a transport when the Via sent-by has none (RFC 3261 §19.1.2).
pub fn default_port(kind: TransportKind) -> u16 {
    match kind {
        TransportKind::Tls | TransportKind::Wss => 5061,
        _ => 5060,
    }
}

fn host_ip(host: &str) -> Option<IpAddr> {
    let h = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    h.parse().ok()
}

/// What the server transport notes in the top Via of a request from `source`
/// (§18.2.1, RFC 3581 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ViaAdditions {
    /// Append `;received=<ip>`: the sent-by host is not the source address (or `rport`
    /// was asked for, which requires `received` too).
    pub received: Option<IpAddr>,
    /// Fill the empty `rport` with the source port.
    pub rport: Option<u16>,
}

/// The `received` and `rport` values to note in `via` for a request from `source`, or
/// `None` when nothing is to be added (the common case: the sent-by is the source).
pub fn via_additions(via: &Via<'_>, source: SocketAddr) -> Option<ViaAdditions> {
    let wants_rport = matches!(via.rport(), Some(None));
    let differs = host_ip(via.host) != Some(source.ip());
    let received = ((differs || wants_rport) && via.received().is_none()).then_some(source.ip());
    let rport = wants_rport.then_some(source.port());
    (received.is_some() || rport.is_some()).then_some(ViaAdditions { received, rport })
}

/// Where to send a response to a request whose top Via is `via` and which came from
/// `source` (§18.2.2):
/// - reliable transports: back to the source (the connection it came on; the stream
///   transport reuses it by remote address, or connects there again if it is gone);
/// - `maddr`: to the maddr address with the sent-by port;
/// - otherwise to the source address (that is what `received` says), at the source port
///   when the request asked for `rport`, else at the sent-by port.
///
/// With `symmetric`, UDP responses go to the source address and port even without
/// `rport` (what NATed phones need; a transaction-layer setting).
pub fn response_target(via: &Via<'_>, source: Target, symmetric: bool) -> Target {
    if source.transport.is_reliable() {
        return source;
    }
    let port = via.port.unwrap_or_else(|| default_port(source.transport));
    if let Some(ip) = via.maddr().and_then(host_ip) {
        return Target::new(source.transport, SocketAddr::new(ip, port));
    }
    let port = if symmetric || via.rport().is_some() {
        source.addr.port()
    } else {
        port
    };
    Target::new(source.transport, SocketAddr::new(source.addr.ip(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn via(s: &str) -> Via<'_> {
        Via::parse(s.as_bytes()).unwrap()
    }

    #[test]
    fn received_and_rport() {
        let src: SocketAddr = "192.0.2.9:40000".parse().unwrap();
        let ip = Some(src.ip());
        assert_eq!(
            via_additions(&via("SIP/2.0/UDP 10.0.0.1:5060;rport;branch=z9hG4bK1"), src),
            Some(ViaAdditions {
                received: ip,
                rport: Some(40000)
            })
        );
        assert_eq!(
            via_additions(&via("SIP/2.0/UDP 192.0.2.9:40000;branch=z9hG4bK1"), src),
            None
        );
        assert_eq!(
            via_additions(&via("SIP/2.0/UDP host.example;branch=z9hG4bK1"), src),
            Some(ViaAdditions {
                received: ip,
                rport: None
            })
        );
    }

    #[test]
    fn response_targets() {
        let src = Target::udp("192.0.2.9:40000".parse().unwrap());
        assert_eq!(
            response_target(&via("SIP/2.0/UDP 10.0.0.1:5070;rport"), src, false).addr,
            "192.0.2.9:40000".parse().unwrap()
        );
        assert_eq!(
            response_target(&via("SIP/2.0/UDP 10.0.0.1:5070"), src, false).addr,
            "192.0.2.9:5070".parse().unwrap()
        );
        assert_eq!(
            response_target(&via("SIP/2.0/UDP 10.0.0.1;maddr=239.1.1.1"), src, false).addr,
            "239.1.1.1:5060".parse().unwrap()
        );
        let tcp = Target::tcp("192.0.2.9:40001".parse().unwrap());
        assert_eq!(
            response_target(&via("SIP/2.0/TCP 10.0.0.1:5070"), tcp, false),
            tcp
        );
    }
}
