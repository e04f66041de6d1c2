//! RFC 3263 selection on fed-in answers: every branch of §4.1 and §4.2.

use std::collections::HashMap;
use std::net::SocketAddr;

use super::*;
use crate::transport::TransportKind::{self, Tcp, Tls, Udp};
use crate::uri::SipUri;

/// A zone: answers by query; anything else is NoRecords.
#[derive(Default)]
struct Zone(HashMap<Query, Answer>);

impl Zone {
    fn naptr(mut self, name: &str, recs: &[(u16, u16, &str, &str)]) -> Zone {
        let v = recs
            .iter()
            .map(|&(o, p, s, r)| Naptr::new(o, p, s, r))
            .collect();
        self.0
            .insert(Query::new(name, RecordType::Naptr), Answer::Naptr(v));
        self
    }
    fn srv(mut self, name: &str, recs: &[(u16, u16, u16, &str)]) -> Zone {
        let v = recs
            .iter()
            .map(|&(p, w, port, t)| Srv::new(p, w, port, t))
            .collect();
        self.0
            .insert(Query::new(name, RecordType::Srv), Answer::Srv(v));
        self
    }
    fn a(mut self, name: &str, addrs: &[&str]) -> Zone {
        let v = addrs.iter().map(|a| a.parse().unwrap()).collect();
        self.0.insert(Query::new(name, RecordType::A), Answer::A(v));
        self
    }
    fn aaaa(mut self, name: &str, addrs: &[&str]) -> Zone {
        let v = addrs.iter().map(|a| a.parse().unwrap()).collect();
        self.0
            .insert(Query::new(name, RecordType::Aaaa), Answer::Aaaa(v));
        self
    }
    fn set(mut self, name: &str, rtype: RecordType, ans: Answer) -> Zone {
        self.0.insert(Query::new(name, rtype), ans);
        self
    }
}

struct Run {
    targets: Vec<Candidate>,
    queries: Vec<Query>,
    why: Exhausted,
}

impl Run {
    fn list(&self) -> Vec<(TransportKind, SocketAddr)> {
        self.targets.iter().map(|c| (c.transport, c.addr)).collect()
    }
}

/// Polls to the end, answering every query at the first Wait (as a driver that
/// resolves queries in parallel would).
fn run_with(uri: &str, prefs: Preferences, zone: &Zone, rng: &mut dyn WeightRng) -> Run {
    let uri = SipUri::parse(uri.as_bytes()).unwrap();
    let mut sel = Selector::new(&uri, prefs).unwrap();
    let mut targets = Vec::new();
    let mut queries = Vec::new();
    let mut out: Vec<Query> = Vec::new();
    for _ in 0..1000 {
        match sel.poll(rng) {
            Next::Query(q) => {
                assert!(!queries.contains(&q), "asked twice: {q}");
                queries.push(q.clone());
                out.push(q);
            }
            Next::Wait => {
                assert!(!out.is_empty(), "waits with nothing outstanding");
                for q in out.drain(..) {
                    let ans = zone.0.get(&q).cloned().unwrap_or(Answer::NoRecords);
                    sel.answer(&q, ans);
                }
            }
            Next::Target(c) => targets.push(c),
            Next::Exhausted => {
                assert!(out.is_empty(), "exhausted with queries outstanding");
                return Run {
                    targets,
                    queries,
                    why: sel.exhausted(),
                };
            }
        }
    }
    panic!("selection did not end");
}

fn run(uri: &str, zone: &Zone) -> Run {
    run_with(uri, Preferences::default(), zone, &mut |_| 0)
}

fn v4_only() -> Preferences {
    Preferences {
        families: vec![Family::V4],
        first_family: Family::V4,
        ..Preferences::default()
    }
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn q(name: &str, rtype: RecordType) -> Query {
    Query::new(name, rtype)
}

#[test]
fn numeric_hosts_need_no_lookup() {
    let z = Zone::default();
    let r = run("sip:10.0.0.1", &z);
    assert_eq!(r.list(), [(Udp, sa("10.0.0.1:5060"))]);
    assert!(r.queries.is_empty());
    assert_eq!(r.targets[0].server_name, None);
    assert_eq!(r.why, Exhausted::Tried);
    assert_eq!(
        run("sips:10.0.0.1", &z).list(),
        [(Tls, sa("10.0.0.1:5061"))]
    );
    assert_eq!(
        run("sip:10.0.0.1;transport=tcp", &z).list(),
        [(Tcp, sa("10.0.0.1:5060"))]
    );
    assert_eq!(
        run("sips:[2001:db8::1]:5071;transport=tcp", &z).list(),
        [(Tls, sa("[2001:db8::1]:5071"))]
    );
    assert_eq!(
        run("sip:10.0.0.1:5099", &z).list(),
        [(Udp, sa("10.0.0.1:5099"))]
    );
}

#[test]
fn maddr_replaces_the_host() {
    let z = Zone::default().a("proxy.example", &["192.0.2.9"]);
    let r = run_with(
        "sip:bob@example.com;maddr=proxy.example;transport=udp",
        v4_only(),
        &z,
        &mut |_| 0,
    );
    assert_eq!(r.list(), [(Udp, sa("192.0.2.9:5060"))]);
    assert_eq!(r.targets[0].server_name.as_deref(), Some("proxy.example"));
    let r = run("sip:bob@example.com;maddr=10.1.1.1", &Zone::default());
    assert_eq!(r.list(), [(Udp, sa("10.1.1.1:5060"))]);
}

#[test]
fn explicit_port_resolves_addresses_only() {
    let z = Zone::default()
        .naptr(
            "example.com",
            &[(10, 10, "SIP+D2T", "_sip._tcp.example.com")],
        )
        .a("example.com", &["192.0.2.1"])
        .aaaa("example.com", &["2001:db8::1"]);
    let r = run("sip:example.com:5080", &z);
    assert_eq!(
        r.list(),
        [(Udp, sa("[2001:db8::1]:5080")), (Udp, sa("192.0.2.1:5080"))]
    );
    assert_eq!(
        r.queries,
        [
            q("example.com", RecordType::Aaaa),
            q("example.com", RecordType::A)
        ]
    );
    let r = run_with("sips:Example.COM.:5081", v4_only(), &z, &mut |_| 0);
    assert_eq!(r.list(), [(Tls, sa("192.0.2.1:5081"))]);
    assert_eq!(r.targets[0].server_name.as_deref(), Some("example.com"));
}

#[test]
fn explicit_transport_uses_its_srv_then_addresses() {
    let z = Zone::default()
        .srv("_sip._tcp.example.com", &[(10, 0, 5070, "gw.example.com")])
        .a("gw.example.com", &["192.0.2.5"]);
    let r = run_with("sip:example.com;transport=tcp", v4_only(), &z, &mut |_| 0);
    assert_eq!(r.list(), [(Tcp, sa("192.0.2.5:5070"))]);
    assert_eq!(
        r.queries,
        [
            q("_sip._tcp.example.com", RecordType::Srv),
            q("gw.example.com", RecordType::A)
        ]
    );
    assert_eq!(
        r.targets[0].resolved_from.as_deref(),
        Some("gw.example.com")
    );
    assert_eq!(r.targets[0].server_name.as_deref(), Some("example.com"));
    // no SRV: the host's addresses on the transport's default port
    let z = Zone::default().a("example.com", &["192.0.2.6"]);
    let r = run_with("sips:example.com;transport=tcp", v4_only(), &z, &mut |_| 0);
    assert_eq!(r.list(), [(Tls, sa("192.0.2.6:5061"))]);
    assert_eq!(r.queries[0], q("_sips._tcp.example.com", RecordType::Srv));
}

#[test]
fn naptr_then_srv_then_addresses_in_order_and_preference() {
    let z = Zone::default()
        .naptr(
            "example.com",
            &[
                (20, 10, "SIP+D2U", "_sip._udp.example.com"),
                (10, 20, "SIP+D2T", "_sip._tcp.example.com"),
                (10, 10, "SIPS+D2T", "_sips._tcp.example.com"),
                (5, 10, "SIP+D2X", "_sip._x.example.com"),
                (1, 1, "SIP+D2S", "_sip._sctp.example.com"),
            ],
        )
        .srv("_sips._tcp.example.com", &[(1, 0, 5061, "tls.example.com")])
        .srv("_sip._tcp.example.com", &[(1, 0, 5060, "tcp.example.com")])
        .srv("_sip._udp.example.com", &[(1, 0, 5060, "udp.example.com")])
        .a("tls.example.com", &["192.0.2.1"])
        .a("tcp.example.com", &["192.0.2.2"])
        .a("udp.example.com", &["192.0.2.3"]);
    let r = run_with("sip:example.com", v4_only(), &z, &mut |_| 0);
    // SCTP and the unknown service are not supported: skipped
    assert_eq!(
        r.list(),
        [
            (Tls, sa("192.0.2.1:5061")),
            (Tcp, sa("192.0.2.2:5060")),
            (Udp, sa("192.0.2.3:5060"))
        ]
    );
    assert_eq!(r.queries[0], q("example.com", RecordType::Naptr));
    assert!(!r
        .queries
        .contains(&q("_sip._sctp.example.com", RecordType::Srv)));
    // the SRV sets are looked up lazily, each before its targets' addresses
    assert_eq!(r.queries[1], q("_sips._tcp.example.com", RecordType::Srv));
    assert_eq!(r.queries[2], q("tls.example.com", RecordType::A));
    // a SIPS URI takes only the secure services
    let r = run_with("sips:example.com", v4_only(), &z, &mut |_| 0);
    assert_eq!(r.list(), [(Tls, sa("192.0.2.1:5061"))]);
}

#[test]
fn naptr_is_filtered_by_the_supported_transports() {
    let z = Zone::default()
        .naptr(
            "example.com",
            &[
                (10, 10, "SIP+D2U", "_sip._udp.example.com"),
                (20, 10, "SIP+D2T", "_sip._tcp.example.com"),
            ],
        )
        .srv("_sip._udp.example.com", &[(1, 0, 5060, "udp.example.com")])
        .srv("_sip._tcp.example.com", &[(1, 0, 5060, "tcp.example.com")])
        .a("udp.example.com", &["192.0.2.3"])
        .a("tcp.example.com", &["192.0.2.2"]);
    let prefs = Preferences {
        transports: vec![Tcp],
        ..v4_only()
    };
    let r = run_with("sip:example.com", prefs, &z, &mut |_| 0);
    assert_eq!(r.list(), [(Tcp, sa("192.0.2.2:5060"))]);
}

#[test]
fn no_usable_naptr_means_srv_per_supported_transport() {
    // a NAPTR set with nothing supported counts as none
    let z = Zone::default()
        .naptr(
            "example.com",
            &[(10, 10, "SIP+D2S", "_sip._sctp.example.com")],
        )
        .srv("_sip._tcp.example.com", &[(1, 0, 5062, "b.example.com")])
        .srv("_sips._tcp.example.com", &[(1, 0, 5063, "c.example.com")])
        .a("b.example.com", &["192.0.2.2"])
        .a("c.example.com", &["192.0.2.3"]);
    let r = run_with("sip:example.com", v4_only(), &z, &mut |_| 0);
    assert_eq!(
        r.queries[..2],
        [
            q("example.com", RecordType::Naptr),
            q("_sip._udp.example.com", RecordType::Srv)
        ]
    );
    // the client's order (UDP, TCP, TLS); UDP has no SRV records
    assert_eq!(
        r.list(),
        [(Tcp, sa("192.0.2.2:5062")), (Tls, sa("192.0.2.3:5063"))]
    );
    // and no A fallback for the domain once SRV records were found
    assert!(!r.queries.contains(&q("example.com", RecordType::A)));
}

#[test]
fn no_naptr_no_srv_falls_back_to_addresses() {
    let z = Zone::default()
        .a("example.com", &["192.0.2.1", "192.0.2.2"])
        .aaaa("example.com", &["2001:db8::1"]);
    let r = run("sip:example.com", &z);
    assert_eq!(
        r.list(),
        [
            (Udp, sa("[2001:db8::1]:5060")),
            (Udp, sa("192.0.2.1:5060")),
            (Udp, sa("192.0.2.2:5060"))
        ]
    );
    let r = run("sips:example.com", &z);
    assert_eq!(r.targets[0].transport, Tls);
    assert_eq!(r.targets[0].addr.port(), 5061);
    // only TCP supported: a SIP URI falls back to TCP
    let prefs = Preferences {
        transports: vec![Tcp],
        ..Preferences::default()
    };
    let r = run_with("sip:example.com", prefs, &z, &mut |_| 0);
    assert!(r.targets.iter().all(|c| c.transport == Tcp));
}

#[test]
fn srv_priority_orders_and_weights_spread() {
    let z = Zone::default()
        .srv(
            "_sip._udp.example.com",
            &[
                (20, 0, 5060, "backup.example.com"),
                (10, 30, 5060, "a.example.com"),
                (10, 10, 5060, "b.example.com"),
            ],
        )
        .a("backup.example.com", &["192.0.2.9"])
        .a("a.example.com", &["192.0.2.1"])
        .a("b.example.com", &["192.0.2.2"]);
    // every draw 0..=40 once: a (weight 30) comes first for draws 0..=30, b for 31..=40
    let mut first = HashMap::new();
    for d in 0..=40u32 {
        let mut once = Some(d);
        let mut rng = move |_bound: u32| once.take().unwrap_or(0);
        let r = run_with("sip:example.com;transport=udp", v4_only(), &z, &mut rng);
        assert_eq!(r.targets.len(), 3);
        assert_eq!(r.targets[2].addr, sa("192.0.2.9:5060"), "priority 20 last");
        *first.entry(r.targets[0].addr).or_insert(0) += 1;
    }
    assert_eq!(first[&sa("192.0.2.1:5060")], 31);
    assert_eq!(first[&sa("192.0.2.2:5060")], 10);
}

#[test]
fn weight_zero_records_are_chosen_only_on_a_zero_draw() {
    let recs = vec![Srv::new(1, 0, 1, "zero"), Srv::new(1, 5, 2, "five")];
    assert_eq!(order_srv(recs.clone(), &mut |_| 0)[0].target, "zero");
    assert_eq!(order_srv(recs.clone(), &mut |_| 1)[0].target, "five");
    assert_eq!(order_srv(recs, &mut |_| 5)[0].target, "five");
    // all zero: answer order
    let z = vec![Srv::new(1, 0, 1, "x"), Srv::new(1, 0, 2, "y")];
    let o: Vec<_> = order_srv(z, &mut |_| 0)
        .into_iter()
        .map(|s| s.port)
        .collect();
    assert_eq!(o, [1, 2]);
    // out-of-range draws are reduced, never panic
    let big = vec![Srv::new(1, 65535, 1, "x"), Srv::new(1, 65535, 2, "y")];
    assert_eq!(order_srv(big, &mut |_| u32::MAX).len(), 2);
}

#[test]
fn srv_dot_target_means_not_offered() {
    let z = Zone::default()
        .srv("_sip._udp.example.com", &[(0, 0, 0, ".")])
        .a("example.com", &["192.0.2.1"]);
    let r = run_with("sip:example.com;transport=udp", v4_only(), &z, &mut |_| 0);
    assert!(r.targets.is_empty());
    assert!(!r.queries.contains(&q("example.com", RecordType::A)));
    assert_eq!(r.why, Exhausted::NotFound);
}

#[test]
fn failures_are_skipped_and_told_apart_from_nxdomain() {
    // NAPTR fails: go on with SRV
    let z = Zone::default()
        .set("example.com", RecordType::Naptr, Answer::Failed)
        .srv("_sip._udp.example.com", &[(1, 0, 5060, "a.example.com")])
        .a("a.example.com", &["192.0.2.1"]);
    let r = run_with("sip:example.com", v4_only(), &z, &mut |_| 0);
    assert_eq!(r.list(), [(Udp, sa("192.0.2.1:5060"))]);
    assert_eq!(r.why, Exhausted::Tried);
    // nothing anywhere: NotFound
    let r = run("sip:nowhere.example", &Zone::default());
    assert!(r.targets.is_empty());
    assert_eq!(r.why, Exhausted::NotFound);
    // the address lookup fails: LookupFailed
    let z = Zone::default().set("example.com", RecordType::A, Answer::Failed);
    let r = run_with("sip:example.com:5060", v4_only(), &z, &mut |_| 0);
    assert!(r.targets.is_empty());
    assert_eq!(r.why, Exhausted::LookupFailed);
}

#[test]
fn a_dead_srv_target_is_skipped_for_the_next() {
    let z = Zone::default()
        .srv(
            "_sip._udp.example.com",
            &[
                (1, 0, 5060, "dead.example.com"),
                (2, 0, 5060, "live.example.com"),
            ],
        )
        .set("dead.example.com", RecordType::A, Answer::Failed)
        .a("live.example.com", &["192.0.2.7"]);
    let r = run_with("sip:example.com;transport=udp", v4_only(), &z, &mut |_| 0);
    assert_eq!(r.list(), [(Udp, sa("192.0.2.7:5060"))]);
}

#[test]
fn hostile_answers_are_bounded() {
    // 40 NAPTR records, each to its own SRV with 40 targets: at most MAX_QUERIES queries
    // and MAX_RECORDS records of each answer are used
    let mut z = Zone::default();
    let mut naptrs = Vec::new();
    for i in 0..40u16 {
        naptrs.push(Naptr::new(
            i,
            0,
            "SIP+D2U",
            &format!("_sip._udp.s{i}.example"),
        ));
        let srvs: Vec<Srv> = (0..40u16)
            .map(|j| Srv::new(j, 0, 5060, &format!("h{j}.s{i}.example")))
            .collect();
        z.0.insert(
            Query::new(&format!("_sip._udp.s{i}.example"), RecordType::Srv),
            Answer::Srv(srvs),
        );
    }
    z.0.insert(q("example.com", RecordType::Naptr), Answer::Naptr(naptrs));
    let r = run("sip:example.com", &z);
    assert!(
        r.queries.len() <= MAX_QUERIES,
        "{} queries",
        r.queries.len()
    );
    assert_eq!(r.why, Exhausted::LookupFailed);
}

#[test]
fn answers_of_the_wrong_type_or_unasked_change_nothing() {
    let uri = SipUri::parse(b"sip:example.com:5060").unwrap();
    let mut sel = Selector::new(&uri, v4_only()).unwrap();
    let mut rng = |_| 0;
    // an unasked answer is ignored
    sel.answer(
        &q("example.com", RecordType::A),
        Answer::A(vec!["192.0.2.1".parse().unwrap()]),
    );
    let Next::Query(a) = sel.poll(&mut rng) else {
        panic!()
    };
    assert_eq!(sel.outstanding().count(), 1);
    assert_eq!(sel.poll(&mut rng), Next::Wait);
    // the wrong record type is a failed lookup; a second answer is ignored
    sel.answer(&a, Answer::Aaaa(vec!["2001:db8::1".parse().unwrap()]));
    sel.answer(&a, Answer::A(vec!["192.0.2.1".parse().unwrap()]));
    assert_eq!(sel.poll(&mut rng), Next::Exhausted);
    assert_eq!(sel.exhausted(), Exhausted::LookupFailed);
}

#[test]
fn a_and_aaaa_are_asked_together_and_interleaved() {
    let z = Zone::default()
        .a("example.com", &["192.0.2.1", "192.0.2.2"])
        .aaaa("example.com", &["2001:db8::1", "2001:db8::2"]);
    let prefs = Preferences {
        first_family: Family::V4,
        ..Preferences::default()
    };
    let uri = SipUri::parse(b"sip:example.com:5070").unwrap();
    let mut sel = Selector::new(&uri, prefs).unwrap();
    let mut rng = |_| 0;
    let Next::Query(q1) = sel.poll(&mut rng) else {
        panic!()
    };
    let Next::Query(q2) = sel.poll(&mut rng) else {
        panic!()
    };
    assert_eq!(sel.poll(&mut rng), Next::Wait);
    for q in [q1, q2] {
        sel.answer(&q, z.0[&q].clone());
    }
    let mut got = Vec::new();
    while let Next::Target(c) = sel.poll(&mut rng) {
        got.push(c.addr);
    }
    assert_eq!(
        got,
        [
            "192.0.2.1:5070",
            "[2001:db8::1]:5070",
            "192.0.2.2:5070",
            "[2001:db8::2]:5070"
        ]
        .map(sa)
    );
}

#[test]
fn transport_parameters_are_checked() {
    let new = |u: &str, p: Preferences| {
        let uri = SipUri::parse(u.as_bytes()).unwrap();
        Selector::new(&uri, p).map(|_| ())
    };
    assert_eq!(
        new("sips:example.com;transport=udp", Preferences::default()),
        Err(DnsError::InsecureTransport("UDP"))
    );
    assert_eq!(
        new("sip:example.com;transport=ws", Preferences::default()),
        Err(DnsError::UnsupportedTransport("ws".into()))
    );
    assert_eq!(
        new("sip:example.com;transport=bogus", Preferences::default()),
        Err(DnsError::UnsupportedTransport("bogus".into()))
    );
    let udp_only = Preferences {
        transports: vec![Udp],
        ..Preferences::default()
    };
    assert_eq!(
        new("sips:example.com", udp_only),
        Err(DnsError::NoTransport)
    );
}
