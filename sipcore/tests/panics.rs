//! The panic policy (`sipcore::runtime`): a handler that panics loses one message and
//! is counted, the next message is served; a panic in a runtime thread aborts the
//! process.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::net::UdpSocket;
use std::os::unix::process::ExitStatusExt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sipcore::endpoint::{Context, Endpoint, EndpointConfig, Handler};
use sipcore::message::{Message, Request, StatusCode};
use sipcore::pool::{ReceiverPool, SharedSocketPool};
use sipcore::transaction::TransactionId;
use sipcore::transport::udp::UdpConfig;
use sipcore::transport::{Target, Transport};

/// Panics on a request whose Call-ID starts with `boom`, answers the others 200.
#[derive(Default)]
struct Fragile {
    served: AtomicUsize,
}

impl Handler for Fragile {
    fn on_request(
        &self,
        ctx: &mut Context<'_>,
        id: TransactionId,
        req: Request,
        _: Target,
        _: bool,
    ) {
        assert!(!req.call_id().unwrap().starts_with("boom"), "handler bug");
        self.served.fetch_add(1, Ordering::Relaxed);
        let tag = ctx.new_tag();
        ctx.reply(id, &req, StatusCode::OK, Some(tag.as_str()))
            .unwrap();
    }
}

fn options(call_id: &str, from: std::net::SocketAddr) -> Vec<u8> {
    format!(
        "OPTIONS sip:uas@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {from};branch=z9hG4bK{call_id}\r\n\
         From: <sip:t@127.0.0.1>;tag=f1\r\nTo: <sip:uas@127.0.0.1>\r\nCall-ID: {call_id}\r\n\
         CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

#[test]
fn a_panicking_handler_loses_one_message_and_the_next_is_served() {
    let mut udp = UdpConfig::new("127.0.0.1:0".parse().unwrap());
    udp.read_timeout = Some(Duration::from_millis(20));
    // One worker: the messages are handled in the order sent.
    let pool = SharedSocketPool::bind(&udp, 1).unwrap();
    let to = pool.transport().local_addr();
    let handler = Arc::new(Fragile::default());
    let endpoint = Endpoint::builder(EndpointConfig::default())
        .udp_pool(Box::new(pool))
        .start(handler.clone())
        .unwrap();
    let c = UdpSocket::bind("127.0.0.1:0").unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let me = c.local_addr().unwrap();
    for round in 0..2 {
        c.send_to(&options(&format!("boom{round}"), me), to)
            .unwrap();
        c.send_to(&options(&format!("fine{round}"), me), to)
            .unwrap();
        // The first answer is the fine request's: the panic lost only its own message.
        let mut buf = [0u8; 4096];
        let (n, _) = c.recv_from(&mut buf).unwrap();
        let m = Message::parse(bytes::Bytes::copy_from_slice(&buf[..n])).unwrap();
        assert_eq!(m.as_response().unwrap().status().as_u16(), 200);
        assert_eq!(m.call_id().unwrap(), format!("fine{round}"));
        let counters = endpoint.counters();
        assert_eq!(counters.handler_panics, round + 1);
        assert_eq!(counters.requests_in, 2 * (round + 1));
    }
    assert_eq!(handler.served.load(Ordering::Relaxed), 2);
    endpoint.shutdown();
}

/// SIGABRT (6 on every Unix this crate runs on).
const SIGABRT: i32 = 6;

/// Run as a child process (see below): a runtime thread that panics.
const CHILD: &str = "SIPCORE_PANICS_TEST_CHILD";

#[test]
fn a_panic_in_a_runtime_thread_aborts_the_process() {
    if std::env::var_os(CHILD).is_some() {
        let t = sipcore::runtime::spawn("sip-doomed".into(), || panic!("runtime bug"));
        let _ = t.unwrap().join();
        // Not reached: the process aborted while the thread unwound.
        std::process::exit(0);
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_panic_in_a_runtime_thread_aborts_the_process",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    assert_eq!(out.status.signal(), Some(SIGABRT), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("runtime thread sip-doomed panicked"),
        "{stderr}"
    );

    // Positive control: the same thread without a panic returns normally.
    let t = sipcore::runtime::spawn("sip-fine".into(), || 42);
    assert_eq!(t.unwrap().join().unwrap(), 42);
}
