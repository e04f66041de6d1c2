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
    /// `(address, port, transport)` the proxy is reachable at: the listen addresses,
    /// and for a wildcard listen address (`0.0.0.0`, `[::]`) the host's own interface
    /// addresses of that family (a `[::]` socket also takes IPv4) with its port.
    reachable: Vec<(IpAddr, u16, TransportKind)>,
}

/// The host's interface addresses (for wildcard listen addresses); none when they
/// cannot be read, which makes a wildcard listen address name no address at all
/// rather than every address.
fn host_addresses() -> Vec<IpAddr> {
    match if_addrs::get_if_addrs() {
        Ok(list) => list.iter().map(|i| i.ip()).collect(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot list the host's addresses: a wildcard listen address will match none");
            Vec::new()
        }
    }
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
        let wildcard = addrs.iter().any(|(_, a)| a.ip().is_unspecified());
        let host = if wildcard {
            host_addresses()
        } else {
            Vec::new()
        };
        Local::with_host_addresses(addrs, domains, &host)
    }

    /// [`new`](Self::new) with the host's addresses given (what a wildcard listen
    /// address stands for).
    pub fn with_host_addresses(
        addrs: &[(TransportKind, SocketAddr)],
        domains: &[String],
        host: &[IpAddr],
    ) -> Local {
        let mut reachable = Vec::new();
        for &(kind, addr) in addrs {
            if addr.ip().is_unspecified() {
                let v6 = addr.is_ipv6();
                for &ip in host {
                    if v6 || ip.is_ipv4() {
                        reachable.push((ip, addr.port(), kind));
                    }
                }
            } else {
                reachable.push((addr.ip(), addr.port(), kind));
            }
        }
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
            reachable,
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
        let ip = canonical(ip);
        self.reachable.iter().any(|&(a, p, k)| {
            let default = if k == TransportKind::Tls { 5061 } else { 5060 };
            canonical(a) == ip
                && port.unwrap_or(default) == p
                && kind.is_none_or(|kind| kind == k || !kind.is_reliable() && !k.is_reliable())
        })
    }

    /// Whether `ip` is one of the proxy's addresses (any port).
    pub fn is_my_ip(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.reachable.iter().any(|&(a, _, _)| canonical(a) == ip)
    }

    /// Whether `host` is one of the proxy's names (an address it listens on or a
    /// configured domain), ignoring the port.
    pub fn is_my_host(&self, host: &Host<'_>) -> bool {
        match host.ip() {
            Some(ip) => self.is_my_ip(ip),
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

    /// Whether a URI's host (and port, where it names one) is ours: a request for it is
    /// for a domain this proxy serves. A port that none of our listen addresses has
    /// makes an address URI someone else's (`sip:bob@OUR-IP:5080` is not for us when we
    /// listen on 5060).
    pub fn is_for_us(&self, uri: &SipUri<'_>) -> bool {
        let host = uri.host();
        match (host.ip(), uri.port()) {
            (Some(ip), Some(port)) => self
                .reachable
                .iter()
                .any(|&(a, p, _)| canonical(a) == canonical(ip) && p == port),
            (Some(ip), None) => self.is_my_addr(ip, None, None),
            (None, _) => self.is_my_host(&host),
        }
    }
}

/// An IPv4-mapped IPv6 address as IPv4 (what a dual-stack socket reports).
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
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

    fn sip(s: &str) -> bool {
        match Uri::parse(s.as_bytes()).unwrap() {
            Uri::Sip(u) => local().is_for_us(&u),
            _ => false,
        }
    }

    #[test]
    fn requests_for_us_compare_ports() {
        assert!(sip("sip:bob@127.0.0.1"));
        assert!(sip("sip:bob@127.0.0.1:5060"));
        assert!(sip("sip:bob@127.0.0.1:5061;transport=tls"));
        assert!(sip("sip:bob@example.com"));
        assert!(sip("sip:bob@EXAMPLE.com."));
        assert!(!sip("sip:bob@127.0.0.1:5080"));
        assert!(!sip("sip:bob@127.0.0.2"));
        assert!(!sip("sip:bob@example.org"));
    }

    #[test]
    fn a_wildcard_address_stands_for_the_host_addresses_only() {
        let any: SocketAddr = "0.0.0.0:5060".parse().unwrap();
        let host: Vec<IpAddr> = vec![
            "127.0.0.1".parse().unwrap(),
            "192.0.2.7".parse().unwrap(),
            "2001:db8::7".parse().unwrap(),
        ];
        let l = Local::with_host_addresses(&[(TransportKind::Udp, any)], &[], &host);
        assert!(l.is_my_route(b"sip:192.0.2.7;lr"));
        assert!(l.is_my_route(b"sip:127.0.0.1:5060;lr"));
        assert!(
            !l.is_my_route(b"sip:203.0.113.9;lr"),
            "a wildcard socket is not every address"
        );
        assert!(
            !l.is_my_route(b"sip:[2001:db8::7];lr"),
            "0.0.0.0 does not take IPv6"
        );
        let any6: SocketAddr = "[::]:5060".parse().unwrap();
        let l = Local::with_host_addresses(&[(TransportKind::Udp, any6)], &[], &host);
        assert!(l.is_my_route(b"sip:[2001:db8::7];lr"));
        assert!(l.is_my_route(b"sip:192.0.2.7;lr"));
        assert!(!l.is_my_ip("203.0.113.9".parse().unwrap()));
    }
}
