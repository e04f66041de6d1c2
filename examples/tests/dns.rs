//! Host names in destinations against a real DNS server (dnsmasq on loopback): a
//! next hop and a gateway given by name resolve through SRV and A records, the first
//! SRV target answering 503 + Retry-After is failed over and then skipped for its
//! period, a relayed Request-URI with a name is resolved, NXDOMAIN and a server that
//! never answers end in a final response.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::responder::{headers, reply, UdpResponder};
use sipcore_testkit::Dnsmasq;

const WAIT: Duration = Duration::from_secs(10);

/// A responder answering every non-ACK request with `status`, reporting what it got.
fn peer(status: &'static str, extra: &'static str) -> (UdpResponder, mpsc::Receiver<String>) {
    let (tx, rx) = mpsc::channel();
    let r = UdpResponder::start(move |req, _| {
        let _ = tx.send(req.to_string());
        (!req.starts_with("ACK")).then(|| reply(req, status, extra))
    });
    (r, rx)
}

fn zone(records: &[String]) -> Vec<String> {
    let mut z = vec![
        "--local=/carrier.test/".to_string(),
        "--local-ttl=300".to_string(),
    ];
    z.extend(records.iter().cloned());
    z
}

fn caller() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s
}

fn ask(s: &UdpSocket, proxy: SocketAddr, uri: &str, call: &str) -> String {
    let me = s.local_addr().unwrap();
    let msg = format!(
        "OPTIONS {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK{call}\r\n\
         From: <sip:alice@127.0.0.1>;tag=f{call}\r\nTo: <{uri}>\r\nCall-ID: {call}\r\n\
         CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    );
    s.send_to(msg.as_bytes(), proxy).unwrap();
    let mut buf = vec![0u8; 8192];
    loop {
        let (n, _) = s.recv_from(&mut buf).expect("an answer within the wait");
        let r = String::from_utf8_lossy(&buf[..n]).into_owned();
        if !r.starts_with("SIP/2.0 1") {
            return r;
        }
    }
}

fn proxy_with(dns: SocketAddr, extra: &str) -> sipcore_examples::server::Running {
    common::proxy(&format!(
        "[server]\nlisten = [\"udp:127.0.0.1:0\"]\n{extra}\n[acl]\ntrusted = [\"127.0.0.1\"]\n\
         [dns]\nservers = [\"{dns}\"]\ntimeout_ms = 1000\n"
    ))
}

#[test]
fn a_next_hop_by_name_fails_over_along_its_srv_records_and_skips_a_503_for_its_retry_after() {
    let (busy, busy_rx) = peer("503 Service Unavailable", "Retry-After: 120\r\n");
    let (live, live_rx) = peer("200 OK", "");
    let dns = Dnsmasq::start(&zone(&[
        format!(
            "--srv-host=_sip._udp.carrier.test,busy.carrier.test,{},10,0",
            busy.addr.port()
        ),
        format!(
            "--srv-host=_sip._udp.carrier.test,live.carrier.test,{},20,0",
            live.addr.port()
        ),
        "--host-record=busy.carrier.test,127.0.0.1".into(),
        "--host-record=live.carrier.test,127.0.0.1".into(),
    ]));
    let px = proxy_with(dns.addr, "next_hop = \"sip:carrier.test\"");
    let p = px.udp[0];
    let c = caller();
    let started = Instant::now();
    let r = ask(&c, p, &format!("sip:bob@{p}"), "first");
    let first_call = started.elapsed();
    assert!(r.starts_with("SIP/2.0 200"), "{r}");
    assert!(
        busy_rx.try_recv().is_ok(),
        "the first SRV target was tried first"
    );
    assert!(live_rx.try_recv().is_ok(), "then the second");
    // The 503's Retry-After keeps the busy target out: the next request goes straight
    // to the live one.
    let started = Instant::now();
    let r = ask(&c, p, &format!("sip:bob@{p}"), "second");
    let second_call = started.elapsed();
    assert!(r.starts_with("SIP/2.0 200"), "{r}");
    assert!(live_rx.try_recv().is_ok());
    assert!(
        busy_rx.try_recv().is_err(),
        "the busy target is blocklisted"
    );
    eprintln!("failover timings: first request {first_call:?}, second {second_call:?}");
    let names = px.proxy.names.as_ref().unwrap();
    assert!(
        names
            .stats
            .immediate
            .load(std::sync::atomic::Ordering::Relaxed)
            > 0,
        "the second resolution came from the cache"
    );
}

#[test]
fn a_gateway_by_uri_and_a_relayed_name_resolve() {
    let (gw, gw_rx) = peer("200 OK", "");
    let (far, far_rx) = peer("200 OK", "");
    let dns = Dnsmasq::start(&zone(&[
        format!(
            "--srv-host=_sip._udp.gw.carrier.test,gw1.carrier.test,{},10,0",
            gw.addr.port()
        ),
        "--host-record=gw1.carrier.test,127.0.0.1".into(),
        "--host-record=far.carrier.test,127.0.0.1".into(),
    ]));
    let px = proxy_with(
        dns.addr,
        "[[routes.prefix]]\nprefix = \"+1\"\ngateways = [{ uri = \"sip:gw.carrier.test;transport=udp\" }]",
    );
    let p = px.udp[0];
    let c = caller();
    let r = ask(&c, p, &format!("sip:+15551234@{p}"), "gw");
    assert!(r.starts_with("SIP/2.0 200"), "{r}");
    let at_gw = gw_rx.recv_timeout(WAIT).unwrap();
    assert!(
        at_gw.starts_with("OPTIONS sip:+15551234@gw.carrier.test;transport=udp SIP/2.0"),
        "{at_gw}"
    );
    // A trusted peer's request for another domain, by name with an explicit port.
    let uri = format!("sip:bob@far.carrier.test:{}", far.addr.port());
    let r = ask(&c, p, &uri, "relay");
    assert!(r.starts_with("SIP/2.0 200"), "{r}");
    assert!(far_rx
        .recv_timeout(WAIT)
        .unwrap()
        .starts_with(&format!("OPTIONS {uri} ")));
}

#[test]
fn names_that_do_not_resolve_get_a_final_answer() {
    let dns = Dnsmasq::start(&zone(&[]));
    let px = proxy_with(dns.addr, "next_hop = \"sip:nowhere.carrier.test\"");
    let p = px.udp[0];
    let c = caller();
    let r = ask(&c, p, &format!("sip:bob@{p}"), "nx");
    assert!(r.starts_with("SIP/2.0 503"), "{r}");
    // A DNS server that never answers: bounded by the resolver's timeout.
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let px = proxy_with(
        silent.local_addr().unwrap(),
        "next_hop = \"sip:carrier.test\"",
    );
    let p = px.udp[0];
    let started = Instant::now();
    let r = ask(&c, p, &format!("sip:bob@{p}"), "silent");
    assert!(r.starts_with("SIP/2.0 503"), "{r}");
    eprintln!("silent DNS server: answered after {:?}", started.elapsed());
}

/// A first SRV target that never answers costs the no-response time once
/// (`server.no_response_ms`), then it is blocklisted and the next calls go straight to
/// the live one.
#[test]
fn a_dead_first_target_costs_the_no_response_time_once() {
    let dead = UdpSocket::bind("127.0.0.1:0").unwrap();
    let (live, live_rx) = peer("200 OK", "");
    let dns = Dnsmasq::start(&zone(&[
        format!(
            "--srv-host=_sip._udp.carrier.test,dead.carrier.test,{},10,0",
            dead.local_addr().unwrap().port()
        ),
        format!(
            "--srv-host=_sip._udp.carrier.test,live.carrier.test,{},20,0",
            live.addr.port()
        ),
        "--host-record=dead.carrier.test,127.0.0.1".into(),
        "--host-record=live.carrier.test,127.0.0.1".into(),
    ]));
    let px = proxy_with(
        dns.addr,
        "next_hop = \"sip:carrier.test\"\nno_response_ms = 1000",
    );
    let p = px.udp[0];
    let c = caller();
    let started = Instant::now();
    let r = ask(&c, p, &format!("sip:bob@{p}"), "dead1");
    let first = started.elapsed();
    assert!(r.starts_with("SIP/2.0 200"), "{r}");
    assert!(live_rx.try_recv().is_ok());
    // The no-response timeout is a protocol timer: the first request waited for it.
    assert!(first >= Duration::from_millis(1000), "{first:?}");
    let started = Instant::now();
    let r = ask(&c, p, &format!("sip:bob@{p}"), "dead2");
    let second = started.elapsed();
    assert!(r.starts_with("SIP/2.0 200"), "{r}");
    eprintln!("dead first target: first request {first:?}, next {second:?}");
    let mut buf = [0u8; 2048];
    dead.set_nonblocking(true).unwrap();
    let mut at_dead = 0;
    while dead.recv_from(&mut buf).is_ok() {
        at_dead += 1;
    }
    // The first request and its retransmissions before the timeout; nothing after.
    assert!((1..=3).contains(&at_dead), "{at_dead}");
}

struct Inbox(crossbeam_channel::Sender<sipcore::transport::Received>);
impl sipcore::transport::MessageSink for Inbox {
    fn on_received(&self, r: sipcore::transport::Received) {
        let _ = self.0.send(r);
    }
}

/// TLS to a gateway given by name (RFC 5922): the proxy sends the name as SNI and
/// checks the certificate against it; the same server reached under a name its
/// certificate does not carry is refused (503 upstream at once).
#[test]
fn tls_to_a_named_gateway_checks_the_certificate_against_the_name() {
    use sipcore_tls::{CertSource, ServerTls, TlsConfig, TlsTransport};
    let dir = common::Dir::new("tls-by-name");
    let c = rcgen::generate_simple_self_signed(vec!["gw.carrier.test".into()]).unwrap();
    let (cert_file, key_file) = (dir.0.join("gw.crt"), dir.0.join("gw.key"));
    std::fs::write(&cert_file, c.cert.pem()).unwrap();
    std::fs::write(&key_file, c.signing_key.serialize_pem()).unwrap();
    let (tx, got) = crossbeam_channel::unbounded();
    let mut gw_cfg = TlsConfig::default();
    gw_cfg.tcp.listen.push("127.0.0.1:0".parse().unwrap());
    gw_cfg.server = Some(ServerTls::new(CertSource::files(
        cert_file.to_str().unwrap(),
        key_file.to_str().unwrap(),
    )));
    let gw = TlsTransport::start(
        gw_cfg,
        std::sync::Arc::new(Inbox(tx)),
        std::sync::Arc::new(()),
    )
    .unwrap();
    let port = gw.listeners()[0].port();
    let dns = Dnsmasq::start(&zone(&[
        "--host-record=gw.carrier.test,127.0.0.1".into(),
        "--host-record=wrong.carrier.test,127.0.0.1".into(),
    ]));
    let px = proxy_with(
        dns.addr,
        &format!(
            "[tls]\nca_file = \"{}\"\n\
             [[routes.prefix]]\nprefix = \"+1\"\ngateways = [{{ uri = \"sip:gw.carrier.test:{port};transport=tls\" }}]\n\
             [[routes.prefix]]\nprefix = \"+2\"\ngateways = [{{ uri = \"sip:wrong.carrier.test:{port};transport=tls\" }}]",
            cert_file.display()
        ),
    );
    let p = px.udp[0];
    let c = caller();
    // The right name: the request arrives at the gateway over TLS.
    let me = c.local_addr().unwrap();
    let msg = format!(
        "OPTIONS sip:+1555@{p} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKtlsname\r\n\
         From: <sip:alice@127.0.0.1>;tag=f\r\nTo: <sip:+1555@{p}>\r\nCall-ID: tlsname\r\n\
         CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    );
    c.send_to(msg.as_bytes(), p).unwrap();
    let r = got
        .recv_timeout(WAIT)
        .expect("the request over TLS at the gateway");
    let text = String::from_utf8_lossy(&r.data).into_owned();
    assert!(
        text.starts_with("OPTIONS sip:+1555@gw.carrier.test:"),
        "{text}"
    );
    // The wrong name, same server and certificate: refused, 503 upstream.
    let r = ask(&c, p, &format!("sip:+2555@{p}"), "tlswrong");
    assert!(r.starts_with("SIP/2.0 503"), "{r}");
    assert!(
        got.try_recv().is_err(),
        "nothing reached the gateway under the wrong name"
    );
    gw.shutdown();
}

/// RFC 2782: two SRV targets of one priority share the requests by their weights
/// (3:1 here) over many resolutions.
#[test]
fn srv_weights_spread_requests() {
    let (heavy, heavy_rx) = peer("200 OK", "");
    let (light, light_rx) = peer("200 OK", "");
    let dns = Dnsmasq::start(&zone(&[
        format!(
            "--srv-host=_sip._udp.carrier.test,heavy.carrier.test,{},10,75",
            heavy.addr.port()
        ),
        format!(
            "--srv-host=_sip._udp.carrier.test,light.carrier.test,{},10,25",
            light.addr.port()
        ),
        "--host-record=heavy.carrier.test,127.0.0.1".into(),
        "--host-record=light.carrier.test,127.0.0.1".into(),
    ]));
    let px = proxy_with(dns.addr, "next_hop = \"sip:carrier.test\"");
    let p = px.udp[0];
    let c = caller();
    let n = 200;
    for i in 0..n {
        let r = ask(&c, p, &format!("sip:bob@{p}"), &format!("w{i}"));
        assert!(r.starts_with("SIP/2.0 200"), "{r}");
    }
    let (h, l) = (heavy_rx.try_iter().count(), light_rx.try_iter().count());
    assert_eq!(h + l, n);
    // 150 expected on the heavy target; the bounds are > 6 standard deviations wide.
    assert!((110..=185).contains(&h), "heavy {h}, light {l}");
    eprintln!("SRV weights 75/25 over {n} requests: {h}/{l}");
}

/// A responder on an already bound socket (answers 200, reports what it got before
/// answering: the caller's answer implies the report).
fn responder_on(s: UdpSocket) -> (UdpResponder, mpsc::Receiver<String>) {
    let (tx, rx) = mpsc::channel();
    let r = UdpResponder::on(s, move |req, _| {
        let _ = tx.send(req.to_string());
        Some(reply(req, "200 OK", ""))
    });
    (r, rx)
}

/// An address whose TTL ran out is looked up again: the destination moves with it.
#[test]
fn a_changed_record_is_picked_up_after_its_ttl() {
    // The same port on two addresses: the URI names the port, the record the address.
    let (old, new) = loop {
        let old = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = old.local_addr().unwrap().port();
        if let Ok(new) = UdpSocket::bind(("127.0.0.5", port)) {
            break (old, new);
        }
    };
    let port = old.local_addr().unwrap().port();
    let ((_old, old_rx), (_new, new_rx)) = (responder_on(old), responder_on(new));
    let dir = common::Dir::new("dns-ttl");
    let hosts = dir.0.join("hosts");
    std::fs::write(&hosts, "127.0.0.1 moving.carrier.test\n").unwrap();
    let dns = Dnsmasq::start(&[
        "--local=/carrier.test/".into(),
        "--local-ttl=1".into(),
        format!("--addn-hosts={}", hosts.display()),
    ]);
    let px = proxy_with(dns.addr, "");
    let p = px.udp[0];
    let c = caller();
    let uri = format!("sip:bob@moving.carrier.test:{port}");
    let r = ask(&c, p, &uri, "ttl0");
    assert!(r.starts_with("SIP/2.0 200"), "{r}");
    assert!(old_rx.try_recv().is_ok());
    // The record moves to 127.0.0.5 (dnsmasq rereads its hosts file on SIGHUP); once
    // the 1 s TTL has run out the requests follow it.
    std::fs::write(&hosts, "127.0.0.5 moving.carrier.test\n").unwrap();
    dns.reload();
    let end = Instant::now() + WAIT;
    for i in 1.. {
        let r = ask(&c, p, &uri, &format!("ttl{i}"));
        assert!(r.starts_with("SIP/2.0 200"), "{r}");
        if new_rx.try_recv().is_ok() {
            break;
        }
        assert!(Instant::now() < end, "the new address never got a request");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Requests waiting for names are bounded: past `dns.max_pending`, 503 with
/// Retry-After at once (here the one slot is held by a lookup a silent server never
/// answers).
#[test]
fn a_full_pending_table_is_503_with_retry_after() {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let px = common::proxy(&format!(
        "[server]\nlisten = [\"udp:127.0.0.1:0\"]\nnext_hop = \"sip:carrier.test\"\n\
         [acl]\ntrusted = [\"127.0.0.1\"]\n\
         [dns]\nservers = [\"{}\"]\ntimeout_ms = 3000\nmax_pending = 1\n",
        silent.local_addr().unwrap()
    ));
    let p = px.udp[0];
    let first = caller();
    let me = first.local_addr().unwrap();
    let msg = format!(
        "OPTIONS sip:bob@{p} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKhold\r\n\
         From: <sip:alice@127.0.0.1>;tag=f\r\nTo: <sip:bob@{p}>\r\nCall-ID: hold\r\n\
         CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    );
    first.send_to(msg.as_bytes(), p).unwrap();
    // The first request holds the slot once its first query reached the server.
    let mut buf = [0u8; 512];
    silent.set_read_timeout(Some(WAIT)).unwrap();
    silent
        .recv_from(&mut buf)
        .expect("the resolver asks the silent server");
    let second = caller();
    let r = ask(&second, p, &format!("sip:carol@{p}"), "busy");
    assert!(r.starts_with("SIP/2.0 503"), "{r}");
    assert!(!headers(&r, "Retry-After").is_empty(), "{r}");
    let names = px.proxy.names.as_ref().unwrap();
    assert_eq!(
        names.stats.busy.load(std::sync::atomic::Ordering::Relaxed),
        1
    );
}

/// sipp calls through a next hop given by name: SRV and A records from dnsmasq, the
/// calls (INVITE, ACK, BYE along the Record-Route) all complete.
#[test]
fn sipp_calls_reach_a_next_hop_by_name() {
    let dir = common::Dir::new("dns-sipp");
    let uas = common::uas(&dir, &dir.scenario("uas.xml", &[]), "udp", 10);
    let u = uas.port;
    let dns = Dnsmasq::start(&zone(&[
        format!("--srv-host=_sip._udp.carrier.test,uas.carrier.test,{u},10,0"),
        "--host-record=uas.carrier.test,127.0.0.1".into(),
    ]));
    let px = proxy_with(dns.addr, "next_hop = \"sip:carrier.test\"");
    let p = px.udp[0].port();
    common::uac_ok(
        &dir,
        &dir.scenario("uac.xml", &[]),
        p,
        "udp",
        &["-m", "10", "-r", "10"],
    );
    uas.wait_ok(WAIT);
    let names = px.proxy.names.as_ref().unwrap();
    assert!(
        names
            .stats
            .immediate
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 9,
        "later calls resolved from the cache"
    );
}
