//! Who the proxy is: its addresses per transport, the Via sent-by and Record-Route
//! values it writes, and the checks "is this URI / Route / Via mine?".

use std::net::{IpAddr, SocketAddr};

use sipcore::message::Via;
use sipcore::transport::TransportKind;
use sipcore::uri::{Host, SipUri, Uri};

/// One address the proxy serves on one transport, with the strings written for it.
#[derive(Debug, Clone)]
pub struct Interface {
    /// The transport.
    pub kind: TransportKind,
    /// The listen address.
    pub addr: SocketAddr,
    /// `IP` (IPv6 in brackets): the Via sent-by host.
    pub host: String,
    /// `<sip:IP:PORT;lr>` (with `;transport=tcp` for TCP, `;transport=tls` for TLS).
    pub record_route: String,
}

/// The proxy's own addresses and domains.
#[derive(Debug, Clone)]
pub struct Local {
    interfaces: Vec<Interface>,
    domains: Vec<String>,
}

fn host_string(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

impl Local {
    /// Interfaces for `(transport, address)` pairs and extra `domains`.
    pub fn new(addrs: &[(TransportKind, SocketAddr)], domains: &[String]) -> Local {
        let interfaces = addrs
            .iter()
            .map(|&(kind, addr)| {
                let host = host_string(addr.ip());
                let param = match kind {
                    TransportKind::Udp => "",
                    TransportKind::Tcp => ";transport=tcp",
                    TransportKind::Tls => ";transport=tls",
                    _ => "",
                };
                // `sip:` with `transport=tls` (not `sips:`): the hop to this address is
                // TLS, while the dialog may be a `sip:` one with UDP or TCP hops beyond
                // (a `sips:` route asks for TLS on every hop, RFC 5630).
                Interface {
                    kind,
                    addr,
                    record_route: format!("<sip:{host}:{}{param};lr>", addr.port()),
                    host,
                }
            })
            .collect();
        Local {
            interfaces,
            domains: domains.iter().map(|d| d.to_ascii_lowercase()).collect(),
        }
    }

    /// The interface to send over `kind` from (the first of that kind; UDP's when none).
    pub fn interface(&self, kind: TransportKind) -> Option<&Interface> {
        self.interfaces
            .iter()
            .find(|i| i.kind == kind)
            .or_else(|| self.interfaces.first())
    }

    /// Every interface.
    pub fn interfaces(&self) -> &[Interface] {
        &self.interfaces
    }

    fn is_my_addr(&self, ip: IpAddr, port: Option<u16>, kind: Option<TransportKind>) -> bool {
        self.interfaces.iter().any(|i| {
            let default = if i.kind == TransportKind::Tls {
                5061
            } else {
                5060
            };
            (i.addr.ip() == ip || i.addr.ip().is_unspecified())
                && port.unwrap_or(default) == i.addr.port()
                && kind.is_none_or(|k| k == i.kind || !k.is_reliable() && !i.kind.is_reliable())
        })
    }

    /// Whether `host` is one of the proxy's names (an address it listens on or a
    /// configured domain), ignoring the port.
    pub fn is_my_host(&self, host: &Host<'_>) -> bool {
        match host.ip() {
            Some(ip) => self
                .interfaces
                .iter()
                .any(|i| i.addr.ip() == ip || i.addr.ip().is_unspecified()),
            None => self
                .domains
                .iter()
                .any(|d| d.eq_ignore_ascii_case(host.as_str().trim_end_matches('.'))),
        }
    }

    /// Whether a SIP URI names this proxy itself (address and port it listens on, or a
    /// domain without a port): a Route value it wrote, or the Request-URI a strict router
    /// put there.
    pub fn is_me(&self, uri: &SipUri<'_>) -> bool {
        let host = uri.host();
        match host.ip() {
            Some(ip) => self.is_my_addr(ip, uri.port(), None),
            None => uri.port().is_none() && self.is_my_host(&host),
        }
    }

    /// Whether a Route value (its URI bytes) names this proxy.
    pub fn is_my_route(&self, uri: &[u8]) -> bool {
        match Uri::parse(uri) {
            Ok(Uri::Sip(s)) => self.is_me(&s),
            _ => false,
        }
    }

    /// Whether a Via was written by this proxy (its sent-by is one of our addresses).
    pub fn is_my_via(&self, via: &Via<'_>) -> bool {
        let ip = via
            .host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>();
        match ip {
            Ok(ip) => self.is_my_addr(ip, via.port, TransportKind::from_token(via.transport)),
            Err(_) => false,
        }
    }

    /// Whether a host part is for a domain the proxy serves (its addresses or domains).
    pub fn is_local_domain(&self, host: &Host<'_>) -> bool {
        self.is_my_host(host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local() -> Local {
        let a: SocketAddr = "127.0.0.1:5060".parse().unwrap();
        let s: SocketAddr = "127.0.0.1:5061".parse().unwrap();
        Local::new(
            &[
                (TransportKind::Udp, a),
                (TransportKind::Tcp, a),
                (TransportKind::Tls, s),
            ],
            &["example.com".into()],
        )
    }

    #[test]
    fn record_route_values() {
        let l = local();
        assert_eq!(
            l.interface(TransportKind::Udp).unwrap().record_route,
            "<sip:127.0.0.1:5060;lr>"
        );
        assert_eq!(
            l.interface(TransportKind::Tcp).unwrap().record_route,
            "<sip:127.0.0.1:5060;transport=tcp;lr>"
        );
        assert_eq!(
            l.interface(TransportKind::Tls).unwrap().record_route,
            "<sip:127.0.0.1:5061;transport=tls;lr>"
        );
    }

    #[test]
    fn routes_and_uris() {
        let l = local();
        assert!(l.is_my_route(b"sip:127.0.0.1:5060;lr"));
        assert!(l.is_my_route(b"sip:127.0.0.1;lr"));
        assert!(l.is_my_route(b"sip:example.com;lr"));
        assert!(!l.is_my_route(b"sip:127.0.0.1:5070;lr"));
        assert!(!l.is_my_route(b"sip:10.0.0.1:5060;lr"));
        assert!(!l.is_my_route(b"tel:+4930"));
        assert!(l.is_my_route(b"sip:127.0.0.1:5061;transport=tls;lr"));
        assert!(l.is_my_route(b"sips:127.0.0.1;lr"));
    }
}
