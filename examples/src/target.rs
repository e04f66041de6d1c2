//! Where a request goes next: Route processing (RFC 3261 §16.4, loose and strict
//! routers), targets from URIs, and the loop-detection hash of §16.3 step 4.

use std::net::{IpAddr, SocketAddr};

use sipcore::message::{HeaderId, Request, Span};
use sipcore::transport::{Target, TransportKind};
use sipcore::uri::{SipUri, Uri};

use crate::local::Local;

/// What Route processing found in a received request.
#[derive(Debug, Clone, Default)]
pub struct RouteInfo {
    /// Top Route values naming this proxy, to remove when forwarding (1, or 2 after a
    /// double Record-Route; however many there are: a request preloaded with our
    /// address many times must not make us send it to ourselves again and again).
    pub remove_top: usize,
    /// The Request-URI is a Record-Route value of ours (a strict router sent it): the
    /// real Request-URI is the last Route value, whose span (value with its separating
    /// comma, or the whole line) is removed.
    pub strict_from: Option<StrictFix>,
    /// The next hop named by the first Route value that is not ours.
    pub next: Option<NextRoute>,
}

/// A strict router's request: the Request-URI to restore and the Route bytes to drop.
#[derive(Debug, Clone)]
pub struct StrictFix {
    /// The last Route value's URI: the Request-URI to forward with.
    pub uri: String,
    /// The bytes to delete (the value and its comma, or its whole line).
    pub delete: Span,
}

/// Where a branch goes: an address, or a SIP URI whose host name RFC 3263 resolves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hop {
    /// A transport and address (a numeric URI, `IP:PORT` in the configuration).
    Addr(Target),
    /// A SIP or SIPS URI with a host name, resolved before the branch starts.
    Name(String),
}

impl std::fmt::Display for Hop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Hop::Addr(t) => write!(f, "{t}"),
            Hop::Name(u) => f.write_str(u),
        }
    }
}

/// The hop a URI names: its address when numeric, the URI itself to resolve when its
/// host is a name; `None` for other schemes.
pub fn uri_hop(uri_text: &[u8]) -> Option<Hop> {
    match Uri::parse(uri_text).ok()? {
        Uri::Sip(s) => match sip_target(&s) {
            Some(t) => Some(Hop::Addr(t)),
            None if s.host().ip().is_none() && !s.host().as_str().is_empty() => {
                Some(Hop::Name(std::str::from_utf8(uri_text).ok()?.to_string()))
            }
            None => None,
        },
        _ => None,
    }
}

/// Where one branch goes.
#[derive(Debug, Clone)]
pub struct Dest {
    /// Where.
    pub target: Hop,
    /// The Request-URI to set (a registered contact, a gateway's).
    pub request_uri: Option<String>,
    /// The gateway's position in the failover list (Class-4 routes).
    pub gateway: Option<usize>,
    /// A failure puts its address on the blocklist (gateways, next hop, DNS candidates).
    pub listed: bool,
}

impl Dest {
    /// To `target` with the Request-URI unchanged.
    pub fn plain(target: Target) -> Dest {
        Dest::to(Hop::Addr(target))
    }

    /// To `hop` with the Request-URI unchanged.
    pub fn to(target: Hop) -> Dest {
        Dest {
            target,
            request_uri: None,
            gateway: None,
            listed: false,
        }
    }
}

/// The next hop from a Route value.
#[derive(Debug, Clone)]
pub struct NextRoute {
    /// Where to send.
    pub target: Option<Hop>,
    /// The route URI has no `lr`: the next hop is a strict router (§16.6 step 6).
    pub strict: bool,
    /// The route URI (for the strict case: it becomes the Request-URI).
    pub uri: String,
}

/// Why a request could not be routed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// A Route value does not parse.
    #[error("malformed Route")]
    MalformedRoute,
}

/// Route processing for a received request (§16.4 and the Route half of §16.6 step 6).
pub fn route_info(req: &Request, local: &Local) -> Result<RouteInfo, RouteError> {
    let mut info = RouteInfo::default();
    if req.header_entry(HeaderId::Route).is_none() {
        return Ok(info);
    }
    // A strict router put our Record-Route URI into the Request-URI.
    if let Ok(Uri::Sip(ruri)) = req.uri() {
        if ruri.user().is_none() && ruri.lr() && local.is_me(&ruri) {
            info.strict_from = last_route(req);
        }
    }
    let mut routes = req.routes();
    let mut pending = None;
    for r in routes.by_ref() {
        let r = r.map_err(|_| RouteError::MalformedRoute)?;
        if local.is_my_route(r.uri_bytes()) {
            info.remove_top += 1;
            continue;
        }
        pending = Some(r);
        break;
    }
    if let Some(r) = pending {
        let last_is_this = info.strict_from.is_some() && routes.next().is_none();
        if !last_is_this {
            let uri = std::str::from_utf8(r.uri_bytes()).unwrap_or_default();
            let parsed = Uri::parse(r.uri_bytes()).ok();
            let strict = !matches!(parsed, Some(Uri::Sip(s)) if s.lr());
            info.next = Some(NextRoute {
                target: uri_hop(r.uri_bytes()),
                strict,
                uri: uri.to_string(),
            });
        }
    }
    Ok(info)
}

/// The last Route value and the span that removes it.
fn last_route(req: &Request) -> Option<StrictFix> {
    let mut last: Option<(usize, &[u8])> = None;
    let mut prev_end: Option<usize> = None;
    let mut count_in_line = 0usize;
    let line_of = |off: usize| {
        req.headers()
            .iter()
            .find(|h| {
                h.id == HeaderId::Route
                    && h.value().start as usize <= off
                    && off <= h.value().end as usize
            })
            .copied()
    };
    for (off, v) in req.values(HeaderId::Route) {
        if let Some((o, pv)) = last {
            if line_of(o).map(|h| h.line()) == line_of(off).map(|h| h.line()) {
                prev_end = Some(o + pv.len());
                count_in_line += 1;
            } else {
                prev_end = None;
                count_in_line = 0;
            }
        }
        last = Some((off, v));
    }
    let (off, v) = last?;
    let header = line_of(off)?;
    let na = sipcore::message::parse_route(v).ok()?;
    let uri = std::str::from_utf8(na.uri_bytes()).ok()?.to_string();
    let delete = match (count_in_line, prev_end) {
        (0, _) | (_, None) => header.line(),
        (_, Some(end)) => Span {
            start: end as u32,
            end: (off + v.len()) as u32,
        },
    };
    Some(StrictFix { uri, delete })
}

/// The address and transport a URI names, when its host is an IP address (names go
/// through [`uri_hop`] and RFC 3263 resolution).
pub fn uri_target(uri: &Uri<'_>) -> Option<Target> {
    match uri {
        Uri::Sip(s) => sip_target(s),
        _ => None,
    }
}

/// [`uri_target`] for a SIP URI: `maddr` wins over the host; `transport=` picks the
/// transport (sips: TLS).
pub fn sip_target(s: &SipUri<'_>) -> Option<Target> {
    let ip: IpAddr = match s.maddr().and_then(|m| m.ip()) {
        Some(ip) => ip,
        None => s.host().ip()?,
    };
    let kind = if s.is_sips() {
        TransportKind::Tls
    } else {
        s.transport()
            .and_then(TransportKind::from_token)
            .unwrap_or(TransportKind::Udp)
    };
    let port = s.port().unwrap_or(if kind == TransportKind::Tls {
        5061
    } else {
        5060
    });
    Some(Target::new(kind, SocketAddr::new(ip, port)))
}

/// FNV-1a, 64 bits.
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    fn put(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
        // A separator, so ("ab", "c") and ("a", "bc") differ.
        self.0 ^= 0xff;
        self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
    }
}

/// The loop-detection hash of §16.6 step 8 over the fields that decide where a request
/// goes: Request-URI, From tag, To tag, Call-ID, CSeq number, Route, Proxy-Require and
/// Proxy-Authorization. A request that comes back to the proxy with the same hash in a
/// Via of ours is looping (482); with another hash it is spiralling (forwarded).
///
/// The top `ours` Route values (those naming this proxy: [`RouteInfo::remove_top`],
/// already found by [`route_info`]) are left out: they are removed on every pass, so a
/// request sent around with more or fewer of them is the same request (a loop of one
/// that a sender keeps re-feeding with copies of our Route is still a loop).
pub fn loop_hash(req: &Request, ours: usize) -> u32 {
    let mut h = Fnv::new();
    h.put(req.uri_bytes());
    h.put(
        req.from_()
            .ok()
            .and_then(|f| f.tag())
            .unwrap_or("")
            .as_bytes(),
    );
    h.put(req.to().ok().and_then(|t| t.tag()).unwrap_or("").as_bytes());
    h.put(req.header(HeaderId::CallId).unwrap_or_default());
    h.put(&req.cseq().map(|c| c.seq).unwrap_or(0).to_le_bytes());
    for (_, v) in req.values(HeaderId::Route).skip(ours) {
        h.put(v);
    }
    for id in [HeaderId::ProxyRequire, HeaderId::ProxyAuthorization] {
        for v in req.header_all(id) {
            h.put(v);
        }
    }
    (h.0 ^ (h.0 >> 32)) as u32
}

/// The loop hash carried in a branch this proxy wrote (`<random>-<8 hex digits>`).
pub fn branch_loop_hash(branch: &str) -> Option<u32> {
    let (_, hex) = branch.rsplit_once('-')?;
    if hex.len() != 8 {
        return None;
    }
    u32::from_str_radix(hex, 16).ok()
}

/// Whether the request came back to this proxy unchanged: a Via of ours carries the
/// request's loop hash.
pub fn is_loop(req: &Request, local: &Local, hash: u32) -> bool {
    req.vias().any(|v| {
        v.ok().is_some_and(|v| {
            local.is_my_via(&v) && v.branch().and_then(branch_loop_hash) == Some(hash)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use sipcore::message::Message;

    fn req(s: &str) -> Request {
        match Message::parse(Bytes::from(s.replace('\n', "\r\n"))).unwrap() {
            Message::Request(r) => r,
            _ => panic!(),
        }
    }

    fn local() -> Local {
        Local::new(
            &[(TransportKind::Udp, "127.0.0.1:5060".parse().unwrap())],
            &[],
        )
    }

    const HDRS: &str = "Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\nFrom: <sip:a@x>;tag=1\nTo: <sip:b@x>;tag=2\nCall-ID: c\nCSeq: 2 BYE\nMax-Forwards: 70\n";

    #[test]
    fn loose_route_removes_ours_and_finds_next() {
        let r = req(&format!(
            "BYE sip:b@10.0.0.9:5070 SIP/2.0\n{HDRS}Route: <sip:127.0.0.1:5060;lr>, <sip:127.0.0.1;transport=tcp;lr>\nRoute: <sip:10.0.0.5:5080;lr>\nContent-Length: 0\n\n"
        ));
        let i = route_info(&r, &local()).unwrap();
        assert_eq!(i.remove_top, 2);
        let n = i.next.unwrap();
        assert!(!n.strict);
        assert_eq!(
            n.target,
            Some(Hop::Addr(Target::udp("10.0.0.5:5080".parse().unwrap())))
        );
        assert_eq!(
            uri_hop(b"sip:gw.carrier.example;transport=tcp;lr"),
            Some(Hop::Name("sip:gw.carrier.example;transport=tcp;lr".into()))
        );
        assert_eq!(uri_hop(b"tel:+4930"), None);
    }

    #[test]
    fn every_route_of_ours_is_removed() {
        let r = req(&format!(
            "BYE sip:b@10.0.0.9:5070 SIP/2.0\n{HDRS}Route: <sip:127.0.0.1:5060;lr>, <sip:127.0.0.1;lr>, <sip:127.0.0.1;lr>\nRoute: <sip:127.0.0.1;lr>,<sip:127.0.0.1;lr>\nContent-Length: 0\n\n"
        ));
        let i = route_info(&r, &local()).unwrap();
        assert_eq!(i.remove_top, 5);
        assert!(i.next.is_none());
    }

    #[test]
    fn strict_router_request_uri_restored() {
        let r = req(&format!(
            "BYE sip:127.0.0.1:5060;lr SIP/2.0\n{HDRS}Route: <sip:10.0.0.5;lr>, <sip:b@10.0.0.9:5070>\nContent-Length: 0\n\n"
        ));
        let i = route_info(&r, &local()).unwrap();
        let fix = i.strict_from.unwrap();
        assert_eq!(fix.uri, "sip:b@10.0.0.9:5070");
        assert_eq!(
            &r.as_bytes()[fix.delete.start as usize..fix.delete.end as usize],
            b", <sip:b@10.0.0.9:5070>"
        );
        assert_eq!(i.remove_top, 0);
        assert_eq!(i.next.unwrap().uri, "sip:10.0.0.5;lr");
    }

    #[test]
    fn next_hop_strict_router() {
        let r = req(&format!(
            "BYE sip:b@10.0.0.9:5070 SIP/2.0\n{HDRS}Route: <sip:10.0.0.5>\nContent-Length: 0\n\n"
        ));
        let n = route_info(&r, &local()).unwrap().next.unwrap();
        assert!(n.strict);
    }

    fn ours(r: &Request) -> usize {
        route_info(r, &local()).unwrap().remove_top
    }

    #[test]
    fn loop_hash_in_branch() {
        let r = req(&format!(
            "BYE sip:b@10.0.0.9 SIP/2.0\n{HDRS}Content-Length: 0\n\n"
        ));
        let h = loop_hash(&r, ours(&r));
        let b = format!("z9hG4bKabc-{h:08x}");
        assert_eq!(branch_loop_hash(&b), Some(h));
        let looped = req(&format!(
            "BYE sip:b@10.0.0.9 SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch={b}\n{HDRS}Content-Length: 0\n\n"
        ));
        assert_eq!(loop_hash(&looped, ours(&looped)), h);
        assert!(is_loop(&looped, &local(), h));
        // The same request re-sent with copies of our Route is still the same loop.
        let refed = req(&format!(
            "BYE sip:b@10.0.0.9 SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch={b}\n{HDRS}Route: <sip:127.0.0.1;lr>,<sip:127.0.0.1:5060;lr>\nContent-Length: 0\n\n"
        ));
        assert!(is_loop(&refed, &local(), loop_hash(&refed, ours(&refed))));
        // A Route to someone else does change where it goes.
        let other = req(&format!(
            "BYE sip:b@10.0.0.9 SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch={b}\n{HDRS}Route: <sip:10.0.0.3;lr>\nContent-Length: 0\n\n"
        ));
        assert!(!is_loop(&other, &local(), loop_hash(&other, ours(&other))));
        let spiral = req(&format!(
            "BYE sip:c@10.0.0.9 SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch={b}\n{HDRS}Content-Length: 0\n\n"
        ));
        assert!(!is_loop(
            &spiral,
            &local(),
            loop_hash(&spiral, ours(&spiral))
        ));
    }
}
