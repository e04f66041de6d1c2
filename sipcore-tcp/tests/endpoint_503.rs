//! End to end with the transaction layer: a TCP failure reaches the transaction user
//! waiting on a client transaction as a 503 (transport error) at once, not as a 408
//! when Timer F fires 32 s later.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use sipcore::endpoint::{Context, Endpoint, EndpointConfig, Handler};
use sipcore::message::{Message, Method, NewVia, Request, RequestBuilder, StatusCode};
use sipcore::transaction::{Timer, TransactionId, TransportFailure};
use sipcore::transport::Target;
use sipcore_tcp::{TcpConfig, TcpTransport};

/// "At once": far below Timer F (32 s), the timeout a transport failure that went
/// unreported would end in (and which would answer 408, not 503), and generous enough
/// for a loaded machine. The measured delays are printed; latency figures belong in
/// the benches.
const AT_ONCE: Duration = Duration::from_secs(10);

/// Records the first failure reported for a client transaction, and when.
#[derive(Default)]
struct Tu {
    failure: Mutex<Option<(TransactionId, StatusCode, Instant)>>,
    cv: Condvar,
}

impl Tu {
    fn record(&self, id: TransactionId, status: StatusCode) {
        let mut f = self.failure.lock();
        if f.is_none() {
            *f = Some((id, status, Instant::now()));
            self.cv.notify_all();
        }
    }

    fn wait(&self, within: Duration) -> Option<(TransactionId, StatusCode, Instant)> {
        let mut f = self.failure.lock();
        let deadline = Instant::now() + within;
        while f.is_none() && !self.cv.wait_until(&mut f, deadline).timed_out() {}
        *f
    }
}

impl Handler for Tu {
    fn on_request(&self, _: &mut Context<'_>, _: TransactionId, _: Request, _: Target, _: bool) {}

    fn on_transport_error(&self, _: &mut Context<'_>, id: TransactionId, _: TransportFailure) {
        self.record(id, StatusCode::SERVICE_UNAVAILABLE);
    }

    fn on_timeout(&self, _: &mut Context<'_>, id: TransactionId, _: Timer) {
        self.record(id, StatusCode::REQUEST_TIMEOUT);
    }
}

fn start(tu: Arc<Tu>) -> (Endpoint, TcpTransport) {
    let builder = Endpoint::builder(EndpointConfig::default());
    let tcp = TcpTransport::start(
        TcpConfig::default(),
        builder.sink(),
        builder.transport_events(),
    )
    .unwrap();
    let endpoint = builder
        .stream_transport(Arc::new(tcp.clone()))
        .start(tu)
        .unwrap();
    (endpoint, tcp)
}

fn options(branch: &str, to: SocketAddr) -> Request {
    let uri = format!("sip:uas@{to};transport=tcp");
    let bytes = RequestBuilder::new(Method::Options, uri.as_str())
        .via(NewVia::new("TCP", "127.0.0.1", branch).port(5999))
        .from("<sip:uac@127.0.0.1>;tag=t1")
        .to("<sip:uas@127.0.0.1>")
        .call_id(branch)
        .cseq(1)
        .build();
    match Message::parse(bytes).unwrap() {
        Message::Request(r) => r,
        Message::Response(_) => unreachable!(),
    }
}

/// Sends a request on a new client transaction; returns its id and when it was sent.
fn send(endpoint: &Endpoint, req: Request, to: SocketAddr) -> (TransactionId, Instant) {
    let sent = Instant::now();
    let id = endpoint
        .context(|ctx| ctx.send_request(req, Target::tcp(to)))
        .unwrap();
    (id, sent)
}

#[test]
fn refused_connection_is_a_503_at_once() {
    let tu = Arc::new(Tu::default());
    let (endpoint, tcp) = start(tu.clone());
    // A port bound and never listening: ours for the whole test, and connects to it
    // are refused.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket
        .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    let closed = socket.local_addr().unwrap().as_socket().unwrap();
    let (id, sent) = send(&endpoint, options("z9hG4bKrefused", closed), closed);
    let (failed, status, at) = tu.wait(AT_ONCE).expect("a failure is reported");
    assert_eq!(failed, id);
    assert_eq!(
        status,
        StatusCode::SERVICE_UNAVAILABLE,
        "a transport error, not a timeout"
    );
    let elapsed = at - sent;
    eprintln!("refused connection reported after {elapsed:?}");
    assert!(elapsed < AT_ONCE, "reported after {elapsed:?}");
    tcp.shutdown();
    endpoint.shutdown();
}

#[test]
fn peer_closing_mid_transaction_is_a_503_at_once() {
    let tu = Arc::new(Tu::default());
    let (endpoint, tcp) = start(tu.clone());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let peer = listener.local_addr().unwrap();
    // The peer reads the request, then closes without answering.
    let closed_at = Arc::new(Mutex::new(None));
    let closed = closed_at.clone();
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut buf = [0u8; 4096];
        let mut got = Vec::new();
        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = conn.read(&mut buf).unwrap();
            assert!(n > 0);
            got.extend_from_slice(&buf[..n]);
        }
        *closed.lock() = Some(Instant::now());
        drop(conn);
    });
    let (id, _) = send(&endpoint, options("z9hG4bKclosed", peer), peer);
    server.join().unwrap();
    let (failed, status, at) = tu.wait(AT_ONCE).expect("a failure is reported");
    assert_eq!(failed, id);
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let closed_at = closed_at.lock().unwrap();
    let elapsed = at.saturating_duration_since(closed_at);
    eprintln!("close reported {elapsed:?} after it happened");
    assert!(elapsed < AT_ONCE, "reported {elapsed:?} after the close");
    tcp.shutdown();
    endpoint.shutdown();
}
