//! RFC 3263 resolution against a real DNS server: dnsmasq on loopback serving a test
//! zone, asked through the hickory resolver behind the caching resolver, driving the
//! sans-IO selector from NAPTR to SRV to A/AAAA.
#![cfg(feature = "hickory")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{SocketAddr, UdpSocket};
use std::sync::mpsc;
use std::time::Duration;

use sipcore::dns::hickory::{HickoryConfig, HickoryResolver, Servers};
use sipcore::dns::{
    selector_answer, Answer, CachingConfig, CachingResolver, Candidate, Exhausted, Next,
    Preferences, Query, RecordType, ResolveError, Resolved, Resolver, Selector,
};
use sipcore::transport::TransportKind::{self, Tls, Udp};
use sipcore::uri::SipUri;
use sipcore_testkit::Dnsmasq;

/// The zone's negative TTL (`--auth-ttl` below); the resolver's default without an SOA
/// is 30 s, so an answer with this TTL took it from the SOA.
const NEGATIVE_TTL: Duration = Duration::from_secs(240);

/// The test zone as owned options.
fn zone_args() -> Vec<String> {
    ZONE.iter().map(|s| s.to_string()).collect()
}

/// The test zone, as dnsmasq options.
const ZONE: &[&str] = &[
    // answers for sip.test come only from these records; other names are NXDOMAIN
    "--local=/sip.test/",
    "--local-ttl=300",
    // authoritative for sip.test (on 127.0.0.1): negative answers carry the zone's SOA,
    // whose TTL (NEGATIVE_TTL) is the negative TTL (RFC 2308 §5)
    "--auth-server=ns.sip.test,127.0.0.1",
    "--auth-zone=sip.test",
    "--auth-soa=1,hostmaster.sip.test,1200,120,604800",
    "--auth-ttl=240",
    // TLS first (order 10), then UDP (order 20); TCP is not offered
    "--naptr-record=sip.test,10,10,s,SIPS+D2T,,_sips._tcp.sip.test",
    "--naptr-record=sip.test,20,10,s,SIP+D2U,,_sip._udp.sip.test",
    // _service._proto.domain,target,port,priority,weight
    "--srv-host=_sips._tcp.sip.test,gw1.sip.test,5061,10,0",
    "--srv-host=_sip._udp.sip.test,gw2.sip.test,5070,10,0",
    "--srv-host=_sip._udp.sip.test,gw1.sip.test,5060,20,0",
    // gw1 has both families, gw2 IPv4 only
    "--host-record=gw1.sip.test,127.0.0.11,::1",
    "--host-record=gw2.sip.test,127.0.0.12",
];

fn resolver(servers: Vec<SocketAddr>, timeout: Duration) -> CachingResolver<HickoryResolver> {
    let upstream = HickoryResolver::start(HickoryConfig {
        servers: Servers::Explicit(servers),
        timeout,
        attempts: 0,
        ..HickoryConfig::default()
    })
    .unwrap();
    CachingResolver::new(upstream, CachingConfig::default())
}

/// A started dnsmasq and a resolver for it, checked by one real query.
fn zone() -> (Dnsmasq, CachingResolver<HickoryResolver>) {
    let dns = Dnsmasq::start(&zone_args());
    let res = resolver(vec![dns.addr], Duration::from_secs(5));
    let r = lookup(&res, Query::new("gw2.sip.test", RecordType::A));
    assert_eq!(
        r.expect("dnsmasq answers").answer,
        Answer::A(vec!["127.0.0.12".parse().unwrap()])
    );
    (dns, res)
}

/// One lookup, waiting for its callback.
fn lookup(res: &dyn Resolver, q: Query) -> Result<Resolved, ResolveError> {
    let (tx, rx) = mpsc::channel();
    res.lookup(
        q,
        Box::new(move |r| {
            let _ = tx.send(r);
        }),
    );
    rx.recv_timeout(Duration::from_secs(60)).expect("callback")
}

struct Outcome {
    targets: Vec<Candidate>,
    why: Exhausted,
    errors: Vec<ResolveError>,
}

impl Outcome {
    fn list(&self) -> Vec<(TransportKind, SocketAddr)> {
        self.targets.iter().map(|c| (c.transport, c.addr)).collect()
    }
}

/// Drives a selection for `uri` to the end, as a proxy would: every query yielded is
/// sent at once, and the answers are fed back as their callbacks arrive.
fn select(res: &dyn Resolver, uri: &str, prefs: Preferences) -> Outcome {
    let uri = SipUri::parse(uri.as_bytes()).unwrap();
    let mut sel = Selector::new(&uri, prefs).unwrap();
    let mut rng = |_bound: u32| 0;
    let (tx, rx) = mpsc::channel::<(Query, Result<Resolved, ResolveError>)>();
    let mut out = Outcome {
        targets: Vec::new(),
        why: Exhausted::Tried,
        errors: Vec::new(),
    };
    loop {
        match sel.poll(&mut rng) {
            Next::Query(q) => {
                let tx = tx.clone();
                let asked = q.clone();
                res.lookup(
                    q,
                    Box::new(move |r| {
                        let _ = tx.send((asked, r));
                    }),
                );
            }
            Next::Wait => {
                // a bound for a broken resolver only: every lookup ends in its timeout
                let (q, r) = rx.recv_timeout(Duration::from_secs(60)).expect("answer");
                if let Err(e) = &r {
                    out.errors.push(*e);
                }
                sel.answer(&q, selector_answer(&r));
            }
            Next::Target(c) => out.targets.push(c),
            Next::Exhausted => {
                out.why = sel.exhausted();
                return out;
            }
        }
    }
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

#[test]
fn a_taken_port_is_retried_with_another() {
    // hold a port: dnsmasq cannot bind it and must move on to the next
    let taken = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let others = sipcore_testkit::random_ports();
    let (dns, collisions) = Dnsmasq::start_on(&zone_args(), std::iter::once(port).chain(others));
    // The held port was one collision; a random one may be taken too (by any process).
    assert!(collisions >= 1, "the held port was not tried");
    assert_ne!(dns.addr.port(), port);
    let res = resolver(vec![dns.addr], Duration::from_secs(5));
    let r = lookup(&res, Query::new("gw2.sip.test", RecordType::A)).unwrap();
    assert!(r.answer.has_records());
}

#[test]
fn naptr_srv_and_addresses_resolve_in_rfc_3263_order() {
    let (_dns, res) = zone();
    let before = res.stats().upstream_queries;
    let out = select(&res, "sip:sip.test", Preferences::default());
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(
        out.list(),
        vec![
            // NAPTR order 10: SIPS+D2T -> gw1:5061, IPv6 first
            (Tls, sa("[::1]:5061")),
            (Tls, sa("127.0.0.11:5061")),
            // order 20: SIP+D2U -> SRV priority 10 gw2:5070, then 20 gw1:5060
            (Udp, sa("127.0.0.12:5070")),
            (Udp, sa("[::1]:5060")),
            (Udp, sa("127.0.0.11:5060")),
        ]
    );
    assert_eq!(out.why, Exhausted::Tried);
    assert!(out
        .targets
        .iter()
        .all(|c| c.server_name.as_deref() == Some("sip.test")));
    assert_eq!(
        out.targets[2].resolved_from.as_deref(),
        Some("gw2.sip.test")
    );
    // NAPTR, 2 SRV, AAAA and A of gw1 and gw2 (A of gw2 was cached by zone())
    let asked = res.stats().upstream_queries - before;
    assert_eq!(asked, 6);

    // again: all from the cache (dnsmasq's TTL is 300 s), the same order
    let again = select(&res, "sip:sip.test", Preferences::default());
    assert_eq!(again.list(), out.list());
    assert_eq!(res.stats().upstream_queries - before, 6);
    let s = res.stats();
    assert_eq!((s.cache.hits, s.cache.negative_hits), (7, 1));
}

#[test]
fn transport_param_goes_straight_to_srv() {
    let (_dns, res) = zone();
    let prefs = Preferences {
        families: vec![sipcore::dns::Family::V4],
        first_family: sipcore::dns::Family::V4,
        ..Preferences::default()
    };
    let out = select(&res, "sip:sip.test;transport=udp", prefs);
    assert_eq!(
        out.list(),
        vec![(Udp, sa("127.0.0.12:5070")), (Udp, sa("127.0.0.11:5060"))]
    );
}

#[test]
fn nxdomain_is_not_found_and_cached_negatively() {
    let (_dns, res) = zone();
    let out = select(&res, "sip:nope.sip.test", Preferences::default());
    assert!(out.targets.is_empty());
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(out.why, Exhausted::NotFound);
    let before = res.stats();
    // NAPTR, three SRV, AAAA and A
    assert_eq!(before.cache.inserts, 1 + 6);
    let again = select(&res, "sip:nope.sip.test", Preferences::default());
    assert_eq!(again.why, Exhausted::NotFound);
    let after = res.stats();
    assert_eq!(after.upstream_queries, before.upstream_queries);
    assert_eq!(after.cache.negative_hits - before.cache.negative_hits, 6);
    // the name exists, the type does not (NODATA): also a negative answer
    let r = lookup(&res, Query::new("gw2.sip.test", RecordType::Aaaa)).unwrap();
    assert_eq!(r.answer, Answer::NoRecords);
    assert_eq!(r.ttl, NEGATIVE_TTL);
    let nx = lookup(&res, Query::new("zz.sip.test", RecordType::A)).unwrap();
    assert_eq!((nx.answer, nx.ttl), (Answer::NoRecords, NEGATIVE_TTL));
}

#[test]
fn a_server_that_never_answers_is_lookup_failed_after_the_timeout() {
    // bound and never read: queries arrive and are never answered
    let dead = UdpSocket::bind("127.0.0.1:0").unwrap();
    let res = resolver(vec![dead.local_addr().unwrap()], Duration::from_secs(1));
    let out = select(&res, "sip:gw.dead.test:5060", Preferences::default());
    assert!(out.targets.is_empty());
    assert_eq!(out.why, Exhausted::LookupFailed);
    assert_eq!(
        out.errors,
        vec![ResolveError::Timeout, ResolveError::Timeout]
    );
    // failures are not cached: asked again
    let s = res.stats();
    assert_eq!((s.upstream_errors, s.cache.entries), (2, 0));
    drop(dead);
}
