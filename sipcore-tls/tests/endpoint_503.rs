//! End to end with the transaction layer: a TLS handshake that fails (an untrusted
//! certificate) or stalls (handshake timeout) reaches the transaction user waiting on a
//! client transaction as a 503 at once, not as a 408 when Timer F fires 32 s later; and
//! a request over TLS gets its response through the endpoint.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

mod common;

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{client_config, server_config, start_echo, Ca};
use parking_lot::{Condvar, Mutex};
use sipcore::endpoint::{Context, Endpoint, EndpointConfig, Handler};
use sipcore::message::{Message, Method, NewVia, Request, RequestBuilder, StatusCode};
use sipcore::transaction::{Timer, TransactionId, TransportFailure};
use sipcore::transport::{Target, TransportKind};
use sipcore_tls::{TlsConfig, TlsTransport};

/// "At once": far below Timer F (32 s), the timeout a transport failure that went
/// unreported would end in (and which would answer 408, not 503), and generous enough
/// for a loaded machine. The measured delays are printed; latency figures belong in
/// the benches.
const AT_ONCE: Duration = Duration::from_secs(10);

/// Records the first outcome of a client transaction, and when.
#[derive(Default)]
struct Tu {
    outcome: Mutex<Option<(TransactionId, StatusCode, Instant)>>,
    cv: Condvar,
}

impl Tu {
    fn record(&self, id: TransactionId, status: StatusCode) {
        let mut f = self.outcome.lock();
        if f.is_none() {
            *f = Some((id, status, Instant::now()));
            self.cv.notify_all();
        }
    }

    fn wait(&self, within: Duration) -> Option<(TransactionId, StatusCode, Instant)> {
        let mut f = self.outcome.lock();
        let deadline = Instant::now() + within;
        while f.is_none() && !self.cv.wait_until(&mut f, deadline).timed_out() {}
        *f
    }
}

impl Handler for Tu {
    fn on_request(&self, _: &mut Context<'_>, _: TransactionId, _: Request, _: Target, _: bool) {}

    fn on_response(
        &self,
        _: &mut Context<'_>,
        id: TransactionId,
        response: sipcore::message::Response,
        source: Target,
    ) {
        assert_eq!(source.transport, TransportKind::Tls);
        self.record(id, response.status());
    }

    fn on_transport_error(&self, _: &mut Context<'_>, id: TransactionId, _: TransportFailure) {
        self.record(id, StatusCode::SERVICE_UNAVAILABLE);
    }

    fn on_timeout(&self, _: &mut Context<'_>, id: TransactionId, _: Timer) {
        self.record(id, StatusCode::REQUEST_TIMEOUT);
    }
}

fn start(tu: Arc<Tu>, config: TlsConfig) -> (Endpoint, TlsTransport) {
    let builder = Endpoint::builder(EndpointConfig::default());
    let tls = TlsTransport::start(config, builder.sink(), builder.transport_events()).unwrap();
    let endpoint = builder
        .stream_transport(Arc::new(tls.clone()))
        .start(tu)
        .unwrap();
    (endpoint, tls)
}

fn options(branch: &str, to: SocketAddr) -> Request {
    let uri = format!("sips:uas@{to}");
    let bytes = RequestBuilder::new(Method::Options, uri.as_str())
        .via(NewVia::new("TLS", "127.0.0.1", branch).port(5999))
        .from("<sips:uac@127.0.0.1>;tag=t1")
        .to("<sips:uas@127.0.0.1>")
        // The echo node answers with branch z9hG4bK<Call-ID>.
        .call_id(branch.trim_start_matches("z9hG4bK"))
        .cseq(1)
        .build();
    match Message::parse(bytes).unwrap() {
        Message::Request(r) => r,
        Message::Response(_) => unreachable!(),
    }
}

fn send(endpoint: &Endpoint, branch: &str, to: SocketAddr) -> (TransactionId, Instant) {
    let sent = Instant::now();
    let id = endpoint
        .context(|ctx| ctx.send_request(options(branch, to), Target::new(TransportKind::Tls, to)))
        .unwrap();
    (id, sent)
}

#[test]
fn a_request_over_tls_gets_its_response() {
    let ca = Ca::new("e2e");
    // Sent by address: the certificate names the address.
    let server = start_echo(server_config(&ca.issue(&["127.0.0.1"]), &ca));
    let tu = Arc::new(Tu::default());
    let (endpoint, tls) = start(tu.clone(), client_config(&ca));
    let (id, _) = send(&endpoint, "z9hG4bKtls-ok", server.addr());
    let (got, status, _) = tu.wait(AT_ONCE).expect("a response");
    assert_eq!((got, status), (id, StatusCode::OK));
    tls.shutdown();
    endpoint.shutdown();
}

#[test]
fn an_untrusted_certificate_is_a_503_at_once() {
    let ca = Ca::new("trusted");
    let stranger = Ca::new("stranger");
    let server = start_echo(server_config(&stranger.issue(&["127.0.0.1"]), &stranger));
    let tu = Arc::new(Tu::default());
    let (endpoint, tls) = start(tu.clone(), client_config(&ca));
    let (id, sent) = send(&endpoint, "z9hG4bKtls-untrusted", server.addr());
    let (failed, status, at) = tu.wait(AT_ONCE).expect("an outcome");
    assert_eq!((failed, status), (id, StatusCode::SERVICE_UNAVAILABLE));
    let elapsed = at - sent;
    eprintln!("untrusted certificate reported after {elapsed:?}");
    assert!(elapsed < AT_ONCE, "after {elapsed:?}");
    assert_eq!(tls.stats().handshake_failures, 1);
    tls.shutdown();
    endpoint.shutdown();
}

#[test]
fn a_stalled_handshake_is_a_503_at_the_handshake_timeout() {
    let ca = Ca::new("stalled");
    // A peer that accepts and never answers the ClientHello.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let to = silent.local_addr().unwrap();
    let mut config = client_config(&ca);
    config.handshake_timeout = Duration::from_millis(300);
    let tu = Arc::new(Tu::default());
    let (endpoint, tls) = start(tu.clone(), config);
    let (id, sent) = send(&endpoint, "z9hG4bKtls-stalled", to);
    let (failed, status, at) = tu.wait(AT_ONCE).expect("an outcome");
    assert_eq!((failed, status), (id, StatusCode::SERVICE_UNAVAILABLE));
    eprintln!("stalled handshake reported after {:?}", at - sent);
    assert!(at - sent < AT_ONCE, "not Timer F");
    assert_eq!(tls.stats().handshake_timeouts, 1);
    tls.shutdown();
    endpoint.shutdown();
    drop(silent);
}
