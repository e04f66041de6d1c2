//! `sipcore::client::Requests`: responses reach the handle of the request they answer
//! (provisionals, the final one), a silent destination ends in a timeout, everything
//! else still reaches the wrapped handler.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::net::UdpSocket;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sipcore::client::{ClientError, ClientEvent, Requests};
use sipcore::endpoint::{Context, Endpoint, EndpointConfig, Handler};
use sipcore::message::{response_to, Message, Request, StatusCode};
use sipcore::pool::{ReceiverPool, ReusePortPool};
use sipcore::transaction::{Config, TransactionId};
use sipcore::transport::{udp::UdpConfig, Target, Transport};

/// Rings, then answers INVITEs 200; answers anything else 200 at once.
struct Uas;
impl Handler for Uas {
    fn on_request(
        &self,
        ctx: &mut Context<'_>,
        id: TransactionId,
        req: Request,
        _: Target,
        _: bool,
    ) {
        let tag = ctx.new_tag();
        if req.method() == sipcore::message::Method::Invite {
            let b = response_to(&req, StatusCode::RINGING)
                .to_tag(tag.as_str())
                .build();
            if let Ok(Message::Response(r)) = Message::parse(b) {
                let _ = ctx.respond(id, r);
            }
        }
        let _ = ctx.reply(id, &req, StatusCode::OK, Some(tag.as_str()));
    }
}

/// Counts the requests it is handed (the wrapped handler).
#[derive(Default)]
struct Counting(AtomicUsize);
impl Handler for Counting {
    fn on_request(
        &self,
        ctx: &mut Context<'_>,
        id: TransactionId,
        req: Request,
        _: Target,
        _: bool,
    ) {
        self.0.fetch_add(1, Ordering::Relaxed);
        let tag = ctx.new_tag();
        let _ = ctx.reply(id, &req, StatusCode::OK, Some(tag.as_str()));
    }
}

fn endpoint(handler: Arc<dyn Handler>, cfg: Config) -> (Endpoint, std::net::SocketAddr) {
    let pool = ReusePortPool::bind(&UdpConfig::new("127.0.0.1:0".parse().unwrap()), 1).unwrap();
    let addr = pool.transport().local_addr();
    let ep = Endpoint::builder(EndpointConfig {
        transaction: cfg,
        shutdown_grace: Duration::ZERO,
        ..EndpointConfig::default()
    })
    .udp_pool(Box::new(pool))
    .start(handler)
    .unwrap();
    (ep, addr)
}

fn request(method: &str, to: std::net::SocketAddr, me: std::net::SocketAddr, n: u32) -> Request {
    let text = format!(
        "{method} sip:b@{to} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKcr{n}\r\n\
         From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: cr{n}\r\nCSeq: 1 {method}\r\n\
         Contact: <sip:a@{me}>\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    );
    match Message::parse(text.into()).unwrap() {
        Message::Request(r) => r,
        _ => unreachable!(),
    }
}

#[test]
fn responses_reach_their_handles_and_the_rest_the_inner_handler() {
    let (uas, uas_addr) = endpoint(Arc::new(Uas), Config::default());
    let requests = Arc::new(Requests::new(Counting::default()));
    let (client, me) = endpoint(requests.clone(), Config::default());
    // An INVITE: 180 then 200 on its handle.
    let h = requests
        .request(
            &client,
            request("INVITE", uas_addr, me, 1),
            Target::udp(uas_addr),
        )
        .unwrap();
    let mut statuses = Vec::new();
    while let Some(ClientEvent::Response(r)) = h.next(Duration::from_secs(5)) {
        statuses.push(r.status().as_u16());
        if r.status().is_success() {
            break;
        }
    }
    assert_eq!(statuses, [180, 200]);
    // Two at once: each gets its own final response.
    let a = requests
        .request(
            &client,
            request("OPTIONS", uas_addr, me, 2),
            Target::udp(uas_addr),
        )
        .unwrap();
    let b = requests
        .request(
            &client,
            request("MESSAGE", uas_addr, me, 3),
            Target::udp(uas_addr),
        )
        .unwrap();
    assert_eq!(
        a.final_response(Duration::from_secs(5))
            .unwrap()
            .cseq()
            .unwrap()
            .method
            .as_str(),
        "OPTIONS"
    );
    assert_eq!(
        b.final_response(Duration::from_secs(5))
            .unwrap()
            .cseq()
            .unwrap()
            .method
            .as_str(),
        "MESSAGE"
    );
    // A request to the client endpoint itself still reaches the wrapped handler.
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    peer.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let text = String::from_utf8(
        request("OPTIONS", me, peer.local_addr().unwrap(), 4)
            .bytes()
            .to_vec(),
    )
    .unwrap();
    peer.send_to(text.as_bytes(), me).unwrap();
    let mut buf = [0u8; 2048];
    peer.recv_from(&mut buf).unwrap();
    assert_eq!(requests.inner().0.load(Ordering::Relaxed), 1);
    client.shutdown();
    uas.shutdown();
}

#[test]
fn a_silent_destination_ends_in_a_timeout() {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = silent.local_addr().unwrap();
    let requests = Arc::new(Requests::new(Counting::default()));
    let cfg = Config {
        no_response_timeout: Some(Duration::from_millis(300)),
        ..Config::default()
    };
    let (client, me) = endpoint(requests.clone(), cfg);
    let h = requests
        .request(&client, request("OPTIONS", to, me, 9), Target::udp(to))
        .unwrap();
    assert!(matches!(
        h.final_response(Duration::from_secs(10)),
        Err(ClientError::Timeout(_))
    ));
    client.shutdown();
}

/// Answers every request with a fixed status (and Retry-After on a 503), counting them.
struct Fixed(StatusCode, AtomicUsize);
impl Handler for Fixed {
    fn on_request(
        &self,
        ctx: &mut Context<'_>,
        id: TransactionId,
        req: Request,
        _: Target,
        _: bool,
    ) {
        self.1.fetch_add(1, Ordering::Relaxed);
        let tag = ctx.new_tag();
        let b = response_to(&req, self.0)
            .to_tag(tag.as_str())
            .header("Retry-After", "120")
            .build();
        if let Ok(Message::Response(r)) = Message::parse(b) {
            let _ = ctx.respond(id, r);
        }
    }
}

/// RFC 3263 §4.3 in the client API: a 503 (Retry-After) and a silent destination are
/// failed over to the next candidate with a new branch, and both are skipped by the
/// next request (the blocklist), which goes straight to the one that answers.
#[test]
fn failover_across_candidates_with_a_blocklist() {
    let busy = Arc::new(Fixed(StatusCode::SERVICE_UNAVAILABLE, AtomicUsize::new(0)));
    let (busy_ep, busy_addr) = endpoint(busy.clone(), Config::default());
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let silent_addr = silent.local_addr().unwrap();
    let good = Arc::new(Fixed(StatusCode::OK, AtomicUsize::new(0)));
    let (good_ep, good_addr) = endpoint(good.clone(), Config::default());
    let requests = Arc::new(Requests::new(Counting::default()));
    let cfg = Config {
        no_response_timeout: Some(Duration::from_millis(300)),
        ..Config::default()
    };
    let (client, me) = endpoint(requests.clone(), cfg);
    let blocklist = Arc::new(sipcore::client::Blocklist::new(Duration::from_secs(30)));
    let candidates = vec![
        Target::udp(busy_addr),
        Target::udp(silent_addr),
        Target::udp(good_addr),
    ];
    let n = Arc::new(AtomicUsize::new(100));
    let make = |n: Arc<AtomicUsize>| -> sipcore::client::MakeRequest {
        Box::new(move |t: &Target| {
            Some(request(
                "OPTIONS",
                t.addr,
                me,
                n.fetch_add(1, Ordering::Relaxed) as u32,
            ))
        })
    };
    let h = requests
        .request_failover(
            &client,
            candidates.clone(),
            blocklist.clone(),
            make(n.clone()),
        )
        .unwrap();
    let r = h.final_response(Duration::from_secs(10)).unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(busy.1.load(Ordering::Relaxed), 1);
    assert_eq!(good.1.load(Ordering::Relaxed), 1);
    assert!(blocklist.is_blocked(&Target::udp(busy_addr), std::time::Instant::now()));
    assert!(blocklist.is_blocked(&Target::udp(silent_addr), std::time::Instant::now()));
    // The next request skips both.
    let h = requests
        .request_failover(&client, candidates, blocklist, make(n))
        .unwrap();
    assert_eq!(
        h.final_response(Duration::from_secs(10)).unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        busy.1.load(Ordering::Relaxed),
        1,
        "the 503 destination is skipped"
    );
    assert_eq!(good.1.load(Ordering::Relaxed), 2);
    client.shutdown();
    busy_ep.shutdown();
    good_ep.shutdown();
}
