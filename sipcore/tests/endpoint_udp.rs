//! The endpoint over real loopback UDP sockets, for every pool strategy: delivery once,
//! retransmissions absorbed, overload answered 503, malformed input answered or dropped.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::collections::HashSet;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use sipcore::endpoint::{Context, Endpoint, EndpointConfig, Handler};
use sipcore::message::{Message, Request, StatusCode};
use sipcore::pool::{DispatcherPool, InlinePool, ReceiverPool, ReusePortPool, SharedSocketPool};
use sipcore::transaction::{Config, TransactionId};
use sipcore::transport::udp::UdpConfig;
use sipcore::transport::{Target, Transport};

/// Answers 200 unless told to stay silent; records every request it is handed.
#[derive(Default)]
struct Recorder {
    seen: Mutex<Vec<String>>,
    silent: bool,
}

impl Handler for Recorder {
    fn on_request(
        &self,
        ctx: &mut Context<'_>,
        id: TransactionId,
        req: Request,
        _: Target,
        _: bool,
    ) {
        self.seen
            .lock()
            .push(req.top_via().unwrap().branch().unwrap().to_string());
        if !self.silent {
            let tag = ctx.new_tag();
            ctx.reply(id, &req, StatusCode::OK, Some(tag.as_str()))
                .unwrap();
        }
    }
}

fn options(branch: &str, from: SocketAddr) -> Vec<u8> {
    format!(
        "OPTIONS sip:uas@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {from};branch={branch}\r\n\
         From: <sip:t@127.0.0.1>;tag=f{branch}\r\nTo: <sip:uas@127.0.0.1>\r\nCall-ID: {branch}@test\r\n\
         CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

fn client() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    s
}

fn recv_status(s: &UdpSocket) -> Option<u16> {
    let mut buf = [0u8; 4096];
    let (n, _) = s.recv_from(&mut buf).ok()?;
    match Message::parse(bytes::Bytes::copy_from_slice(&buf[..n])).ok()? {
        Message::Response(r) => Some(r.status().as_u16()),
        Message::Request(_) => None,
    }
}

fn udp_config() -> UdpConfig {
    let mut c = UdpConfig::new("127.0.0.1:0".parse().unwrap());
    c.recv_buffer = Some(1 << 20);
    c.read_timeout = Some(Duration::from_millis(20));
    c
}

const SENDERS: usize = 4;
const PER_SENDER: usize = 50;

/// Several concurrent senders; every request reaches the handler once and gets its 200;
/// a retransmission of each is answered from the transaction without the handler.
fn delivers_once(pool: Box<dyn ReceiverPool>) {
    let strategy = pool.strategy();
    let to = pool.transport().local_addr();
    let rec = Arc::new(Recorder::default());
    let endpoint = Endpoint::builder(EndpointConfig::default())
        .udp_pool(pool)
        .start(rec.clone())
        .unwrap();
    let threads: Vec<_> = (0..SENDERS)
        .map(|s| {
            std::thread::spawn(move || {
                let c = client();
                let me = c.local_addr().unwrap();
                let mut ok = 0;
                for n in 0..PER_SENDER {
                    let msg = options(&format!("z9hG4bK{s}x{n}"), me);
                    c.send_to(&msg, to).unwrap();
                    if recv_status(&c) == Some(200) {
                        ok += 1;
                    }
                    // Retransmission: absorbed by the server transaction, 200 again.
                    c.send_to(&msg, to).unwrap();
                    if recv_status(&c) == Some(200) {
                        ok += 1;
                    }
                }
                ok
            })
        })
        .collect();
    let ok: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(
        ok,
        2 * SENDERS * PER_SENDER,
        "{strategy}: every request and retransmission answered"
    );
    let seen = rec.seen.lock().clone();
    assert_eq!(
        seen.len(),
        SENDERS * PER_SENDER,
        "{strategy}: handler once per request"
    );
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), seen.len());
    // A worker records its stats after the handler returns, i.e. after the answer left.
    let handled = |ps: &[sipcore::pool::WorkerSnapshot]| -> u64 {
        ps.iter()
            .filter(|w| w.id != usize::MAX)
            .map(|w| w.messages)
            .sum()
    };
    let deadline = Instant::now() + Duration::from_secs(2);
    while (handled(&endpoint.ps()) as usize) < 2 * SENDERS * PER_SENDER && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(5));
    }
    let ps = endpoint.ps();
    let handled = handled(&ps);
    assert_eq!(
        handled as usize,
        2 * SENDERS * PER_SENDER,
        "{strategy}: ps counts"
    );
    assert!(ps.iter().all(|w| w.strategy == strategy));
    assert_eq!(
        endpoint.counters().requests_in as usize,
        2 * SENDERS * PER_SENDER
    );
    endpoint.shutdown();
}

#[test]
fn shared_socket_endpoint() {
    delivers_once(Box::new(SharedSocketPool::bind(&udp_config(), 2).unwrap()));
}

#[test]
fn reuse_port_endpoint() {
    delivers_once(Box::new(ReusePortPool::bind(&udp_config(), 2).unwrap()));
}

#[test]
fn dispatcher_endpoint() {
    delivers_once(Box::new(
        DispatcherPool::bind(&udp_config(), 2, 256).unwrap(),
    ));
}

#[test]
fn inline_endpoint() {
    let rec = Arc::new(Recorder::default());
    let mut pool = InlinePool::bind(&udp_config()).unwrap();
    let to = pool.transport().local_addr();
    let config = EndpointConfig {
        timer_thread: false,
        ..EndpointConfig::default()
    };
    let endpoint = Endpoint::builder(config)
        .udp_transport(pool.transport())
        .start(rec.clone())
        .unwrap();
    pool.start(endpoint.datagram_handler()).unwrap();
    let c = client();
    let me = c.local_addr().unwrap();
    for n in 0..20 {
        c.send_to(&options(&format!("z9hG4bKi{n}"), me), to)
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(2);
        while pool.poll(Duration::from_millis(5), 16).unwrap() == 0 && Instant::now() < deadline {}
        endpoint.handle_timeout();
        assert_eq!(recv_status(&c), Some(200));
    }
    assert_eq!(rec.seen.lock().len(), 20);
    assert_eq!(pool.ps()[0].messages, 20);
}

#[test]
fn overload_answers_503_and_still_absorbs_retransmissions() {
    let pool = SharedSocketPool::bind(&udp_config(), 2).unwrap();
    let to = pool.transport().local_addr();
    let rec = Arc::new(Recorder {
        silent: true,
        ..Recorder::default()
    });
    let config = EndpointConfig {
        transaction: Config {
            max_transactions: 10,
            ..Config::default()
        },
        retry_after: 7,
        shutdown_grace: Duration::from_millis(10),
        ..EndpointConfig::default()
    };
    let endpoint = Endpoint::builder(config)
        .udp_pool(Box::new(pool))
        .start(rec.clone())
        .unwrap();
    let c = client();
    c.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let me = c.local_addr().unwrap();
    for n in 0..10 {
        c.send_to(&options(&format!("z9hG4bKo{n}"), me), to)
            .unwrap();
    }
    // Let the first ten become transactions (the handler stays silent).
    let deadline = Instant::now() + Duration::from_secs(2);
    while rec.seen.lock().len() < 10 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(rec.seen.lock().len(), 10);
    let mut buf = [0u8; 4096];
    for n in 10..30 {
        c.send_to(&options(&format!("z9hG4bKo{n}"), me), to)
            .unwrap();
        let (len, _) = c.recv_from(&mut buf).unwrap();
        let m = Message::parse(bytes::Bytes::copy_from_slice(&buf[..len])).unwrap();
        assert_eq!(m.as_response().unwrap().status().as_u16(), 503);
        assert_eq!(m.header_by_name("Retry-After"), Some(&b"7"[..]));
    }
    // Retransmissions of the live ones: absorbed, no 503, no new handler call.
    for n in 0..10 {
        c.send_to(&options(&format!("z9hG4bKo{n}"), me), to)
            .unwrap();
    }
    assert!(
        c.recv_from(&mut buf).is_err(),
        "no answer to absorbed retransmissions"
    );
    assert_eq!(rec.seen.lock().len(), 10);
    let counters = endpoint.counters();
    assert_eq!(counters.overload_503, 20);
    assert!(endpoint.layer().len() <= 10);
    endpoint.shutdown();
}

#[test]
fn malformed_input_is_answered_or_dropped_and_serving_goes_on() {
    let pool = SharedSocketPool::bind(&udp_config(), 2).unwrap();
    let to = pool.transport().local_addr();
    let rec = Arc::new(Recorder::default());
    let endpoint = Endpoint::builder(EndpointConfig::default())
        .udp_pool(Box::new(pool))
        .start(rec.clone())
        .unwrap();
    let c = client();
    let me = c.local_addr().unwrap();
    // Garbage: dropped.
    c.send_to(b"\x00\x01garbage\r\n\r\n", to).unwrap();
    // Unsupported version with a usable Via: 505.
    let v3 = String::from_utf8(options("z9hG4bKv3", me))
        .unwrap()
        .replacen("SIP/2.0\r\n", "SIP/3.0\r\n", 1);
    c.send_to(v3.as_bytes(), to).unwrap();
    assert_eq!(recv_status(&c), Some(505));
    // Max-Forwards out of range: 400.
    let bad = String::from_utf8(options("z9hG4bKmf", me))
        .unwrap()
        .replace("Max-Forwards: 70", "Max-Forwards: 300");
    c.send_to(bad.as_bytes(), to).unwrap();
    // Max-Forwards is validated by the TU, not the transaction layer: the request is
    // delivered; a broken CSeq is what the layer cannot match on.
    let _ = recv_status(&c);
    let bad_cseq = String::from_utf8(options("z9hG4bKcs", me))
        .unwrap()
        .replace("CSeq: 1 OPTIONS", "CSeq: 99999999999 OPTIONS");
    c.send_to(bad_cseq.as_bytes(), to).unwrap();
    assert_eq!(recv_status(&c), Some(400));
    // Still serving.
    c.send_to(&options("z9hG4bKafter", me), to).unwrap();
    assert_eq!(recv_status(&c), Some(200));
    let counters = endpoint.counters();
    assert_eq!(counters.version_505, 1);
    assert_eq!(counters.malformed_400, 1);
    assert!(counters.malformed_dropped >= 1);
    endpoint.shutdown();
}

#[test]
fn received_and_rport_are_noted_in_the_top_via() {
    let pool = SharedSocketPool::bind(&udp_config(), 1).unwrap();
    let to = pool.transport().local_addr();
    let endpoint = Endpoint::builder(EndpointConfig::default())
        .udp_pool(Box::new(pool))
        .start(Arc::new(Recorder::default()))
        .unwrap();
    let c = client();
    let me = c.local_addr().unwrap();
    // A client behind NAT: its sent-by is not the address the request comes from.
    let natted = String::from_utf8(options("z9hG4bKnat", me))
        .unwrap()
        .replace(&format!("UDP {me};"), "UDP 10.9.9.9:5999;rport;");
    c.send_to(natted.as_bytes(), to).unwrap();
    let mut buf = [0u8; 4096];
    // rport: the answer comes back to the source port, not to 10.9.9.9:5999.
    let (n, _) = c.recv_from(&mut buf).unwrap();
    let m = Message::parse(bytes::Bytes::copy_from_slice(&buf[..n])).unwrap();
    assert_eq!(m.as_response().unwrap().status().as_u16(), 200);
    let via = m.top_via().unwrap();
    assert_eq!(via.received(), Some("127.0.0.1"));
    assert_eq!(via.rport(), Some(Some(me.port())));
    assert_eq!(via.branch(), Some("z9hG4bKnat"));
    endpoint.shutdown();
}

#[test]
fn rport_as_last_via_parameter_is_filled() {
    let pool = SharedSocketPool::bind(&udp_config(), 1).unwrap();
    let to = pool.transport().local_addr();
    let endpoint = Endpoint::builder(EndpointConfig::default())
        .udp_pool(Box::new(pool))
        .start(Arc::new(Recorder::default()))
        .unwrap();
    let c = client();
    let me = c.local_addr().unwrap();
    let natted = String::from_utf8(options("z9hG4bKlast", me))
        .unwrap()
        .replace(
            &format!("UDP {me};branch=z9hG4bKlast"),
            "UDP 10.9.9.9:5999;branch=z9hG4bKlast;rport",
        );
    c.send_to(natted.as_bytes(), to).unwrap();
    let mut buf = [0u8; 4096];
    let (n, _) = c.recv_from(&mut buf).unwrap();
    let m = Message::parse(bytes::Bytes::copy_from_slice(&buf[..n])).unwrap();
    let via = m.top_via().unwrap();
    assert_eq!(via.received(), Some("127.0.0.1"));
    assert_eq!(via.rport(), Some(Some(me.port())));
    endpoint.shutdown();
}

/// A client-supplied `received` or `rport` value that is not the real source is
/// overwritten, never trusted; values that are the truth stay as written.
#[test]
fn forged_received_and_rport_are_replaced() {
    let pool = SharedSocketPool::bind(&udp_config(), 1).unwrap();
    let to = pool.transport().local_addr();
    let endpoint = Endpoint::builder(EndpointConfig::default())
        .udp_pool(Box::new(pool))
        .start(Arc::new(Recorder::default()))
        .unwrap();
    let c = client();
    let me = c.local_addr().unwrap();
    let port = me.port();
    let cases = [
        // Sent-by is the source, yet it claims another source.
        (format!("{me};received=127.0.0.99;rport"), None),
        (format!("{me};rport=1;received=127.0.0.99"), None),
        // Behind NAT, with a forged received (another address, or the sent-by's).
        ("10.9.9.9:5999;received=127.0.0.99;rport".to_string(), None),
        (
            "10.9.9.9:5999;rport=5999;received=10.9.9.9".to_string(),
            None,
        ),
        // Positive control: the truth is kept byte for byte.
        (
            format!("10.9.9.9:5999;rport={port};received=127.0.0.1"),
            Some(format!("10.9.9.9:5999;rport={port};received=127.0.0.1")),
        ),
    ];
    for (i, (sent_by, kept)) in cases.iter().enumerate() {
        let branch = format!("z9hG4bKforge{i}");
        let req = String::from_utf8(options(&branch, me))
            .unwrap()
            .replace(&format!("UDP {me};"), &format!("UDP {sent_by};"));
        c.send_to(req.as_bytes(), to).unwrap();
        let mut buf = [0u8; 4096];
        let (n, _) = c.recv_from(&mut buf).unwrap();
        let m = Message::parse(bytes::Bytes::copy_from_slice(&buf[..n])).unwrap();
        assert_eq!(m.as_response().unwrap().status().as_u16(), 200, "{sent_by}");
        let via = m.top_via().unwrap();
        assert_eq!(via.received(), Some("127.0.0.1"), "{sent_by}");
        assert_eq!(via.rport(), Some(Some(port)), "{sent_by}");
        assert_eq!(via.branch(), Some(branch.as_str()));
        let raw = String::from_utf8_lossy(&buf[..n]).into_owned();
        assert!(!raw.contains("127.0.0.99"), "{raw}");
        if let Some(kept) = kept {
            assert!(raw.contains(&format!("UDP {kept};branch")), "{raw}");
        }
    }
    endpoint.shutdown();
}

/// Sends a copy of every request's body-less marker to a fixed peer statelessly (to
/// see which socket the endpoint sends from).
struct Echo(SocketAddr);

impl Handler for Echo {
    fn on_request(
        &self,
        ctx: &mut Context<'_>,
        id: TransactionId,
        req: Request,
        _: Target,
        _: bool,
    ) {
        let _ = ctx.send_stateless(
            Target::udp(self.0),
            bytes::Bytes::from_static(b"\r\n\r\nping"),
        );
        let tag = ctx.new_tag();
        let _ = ctx.reply(id, &req, StatusCode::OK, Some(tag.as_str()));
    }
}

/// Two listen addresses, IPv4 and IPv6: a datagram to an IPv6 peer leaves from the
/// IPv6 socket, one to an IPv4 peer from the IPv4 socket (it used to be the first
/// pool's socket for everything).
#[test]
fn udp_sends_leave_from_the_socket_of_the_destinations_family() {
    for (peer_addr, from_v6) in [("[::1]:0", true), ("127.0.0.1:0", false)] {
        let peer = UdpSocket::bind(peer_addr).unwrap();
        peer.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let v4 = ReusePortPool::bind(&UdpConfig::new("127.0.0.1:0".parse().unwrap()), 1).unwrap();
        let v6 = ReusePortPool::bind(&UdpConfig::new("[::1]:0".parse().unwrap()), 1).unwrap();
        let (a4, a6) = (v4.transport().local_addr(), v6.transport().local_addr());
        let ep = Endpoint::builder(EndpointConfig {
            shutdown_grace: Duration::ZERO,
            ..EndpointConfig::default()
        })
        .udp_pool(Box::new(v4))
        .udp_pool(Box::new(v6))
        .start(Arc::new(Echo(peer.local_addr().unwrap())))
        .unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        let me = client.local_addr().unwrap();
        let opts = format!(
            "OPTIONS sip:x@{a4} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKfam{from_v6}\r\n\
             From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: fam{from_v6}\r\nCSeq: 1 OPTIONS\r\n\
             Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        );
        client.send_to(opts.as_bytes(), a4).unwrap();
        let mut buf = [0u8; 64];
        let (_, from) = peer.recv_from(&mut buf).unwrap();
        assert_eq!(from, if from_v6 { a6 } else { a4 });
        ep.shutdown();
    }
}
