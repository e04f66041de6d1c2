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

/// What the server transport writes in the top Via of a request from `source`
/// (§18.2.1, RFC 3581 §4): each value is the one the Via must carry, either added or
/// replacing a different one the sender wrote (which is never trusted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ViaAdditions {
    /// `received=<ip>`: the sent-by host is not the source address (or `rport` was
    /// asked for, which requires `received` too), or the Via carries a `received` that
    /// is not the source address.
    pub received: Option<IpAddr>,
    /// `rport=<port>`: the Via has `rport`, empty or with another port than the source's.
    pub rport: Option<u16>,
}

/// The `received` and `rport` values to write in `via` for a request from `source`, or
/// `None` when the Via already says the truth (the common case: the sent-by is the
/// source and neither parameter is present).
pub fn via_additions(via: &Via<'_>, source: SocketAddr) -> Option<ViaAdditions> {
    let rport = via.params.get("rport");
    let differs = host_ip(via.host) != Some(source.ip());
    let stated = via.params.get("received").map(|p| {
        p.value_str()
            .and_then(host_ip)
            .is_some_and(|ip| ip == source.ip())
    });
    let received = match stated {
        // Present: kept only when it is the source address.
        Some(true) => None,
        Some(false) => Some(source.ip()),
        None => (differs || rport.is_some()).then_some(source.ip()),
    };
    let port = source.port().to_string();
    let rport = rport
        .filter(|p| p.value != Some(port.as_bytes()))
        .map(|_| source.port());
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
    fn forged_received_and_rport_are_overwritten() {
        let src: SocketAddr = "192.0.2.9:40000".parse().unwrap();
        let ip = Some(src.ip());
        let fix = |v: &str| via_additions(&via(v), src);
        // A forged received, whether or not one is needed.
        for v in [
            "SIP/2.0/UDP 10.0.0.1;received=127.0.0.99;branch=z9hG4bK1",
            "SIP/2.0/UDP 192.0.2.9:40000;received=127.0.0.99;branch=z9hG4bK1",
            "SIP/2.0/UDP 10.0.0.1;received=10.0.0.1;branch=z9hG4bK1",
        ] {
            assert_eq!(
                fix(v),
                Some(ViaAdditions {
                    received: ip,
                    rport: None
                }),
                "{v}"
            );
        }
        // A forged rport value.
        assert_eq!(
            fix("SIP/2.0/UDP 10.0.0.1;rport=1;received=192.0.2.9;branch=z9hG4bK1"),
            Some(ViaAdditions {
                received: None,
                rport: Some(40000)
            })
        );
        // Positive controls: values that are the truth stay.
        assert_eq!(
            fix("SIP/2.0/UDP 10.0.0.1;rport=40000;received=192.0.2.9;branch=z9hG4bK1"),
            None
        );
        assert_eq!(
            fix("SIP/2.0/UDP 192.0.2.9:40000;received=192.0.2.9;branch=z9hG4bK1"),
            None
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
