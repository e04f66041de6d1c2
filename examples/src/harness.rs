//! The proxy without sockets: a [`Proxy`] on an endpoint whose transports only record
//! what would have been sent. For fuzzing the proxy's request handling
//! (`fuzz/fuzz_targets/proxy.rs`), property tests, and tools that replay captures.
//!
//! ```
//! use sipcore::transport::Target;
//! use sipcore_examples::config::Config;
//! use sipcore_examples::harness::InMemoryProxy;
//!
//! let px = InMemoryProxy::new(&Config::embedded_default())?;
//! let from = Target::udp("192.0.2.1:5060".parse().unwrap());
//! px.receive(
//!     b"OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n\
//!       From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\
//!       Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
//!     from,
//! );
//! let sent = px.take_sent();
//! assert!(sent[0].1.starts_with(b"SIP/2.0 200"));
//! # Ok::<(), std::io::Error>(())
//! ```

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use parking_lot::Mutex;
use sipcore::endpoint::{Endpoint, EndpointConfig, Handler};
use sipcore::transport::{Received, SendError, Target, Transport, TransportKind};

use crate::config::Config;
use crate::metrics::Metrics;
use crate::proxy::Proxy;

/// What the recording transports keep (the oldest are dropped beyond it).
const KEPT: usize = 256;

type Log = Arc<Mutex<VecDeque<(Target, Bytes)>>>;

#[derive(Debug)]
struct Recorder {
    kind: TransportKind,
    local: SocketAddr,
    log: Log,
}

impl Transport for Recorder {
    fn kind(&self) -> TransportKind {
        self.kind
    }
    fn local_addr(&self) -> SocketAddr {
        self.local
    }
    fn send(&self, target: &Target, data: Bytes) -> Result<(), SendError> {
        let mut log = self.log.lock();
        if log.len() == KEPT {
            log.pop_front();
        }
        log.push_back((*target, data));
        Ok(())
    }
}

/// A proxy on recording transports (UDP, TCP and TLS at 127.0.0.1:5060/5061), driven by
/// [`receive`](Self::receive) on the caller's thread, timers by
/// [`handle_timeout`](Self::handle_timeout).
#[derive(Debug)]
pub struct InMemoryProxy {
    /// The endpoint.
    pub endpoint: Arc<Endpoint>,
    /// The proxy.
    pub proxy: Arc<Proxy>,
    log: Log,
}

impl InMemoryProxy {
    /// The proxy `cfg` describes (its listen addresses are ignored; CDRs off).
    pub fn new(cfg: &Config) -> std::io::Result<InMemoryProxy> {
        let udp: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 5060));
        let tls: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 5061));
        let log: Log = Arc::default();
        let interfaces = [
            (TransportKind::Udp, udp),
            (TransportKind::Tcp, udp),
            (TransportKind::Tls, tls),
        ];
        #[allow(clippy::disallowed_methods)] // a driver: the nonce epoch
        let now = Instant::now();
        let proxy = Arc::new(Proxy::new(
            cfg,
            &interfaces,
            None,
            Arc::new(Metrics::default()),
            now,
        ));
        let mut builder = Endpoint::builder(EndpointConfig {
            timer_thread: false,
            ..EndpointConfig::default()
        });
        for (kind, local) in interfaces {
            builder = builder.stream_transport(Arc::new(Recorder {
                kind,
                local,
                log: log.clone(),
            }));
        }
        let handler: Arc<dyn Handler> = proxy.clone();
        let endpoint = Arc::new(builder.start(handler)?);
        proxy.attach(&endpoint);
        Ok(InMemoryProxy {
            endpoint,
            proxy,
            log,
        })
    }

    /// Handles one received message from `source`.
    pub fn receive(&self, data: &[u8], source: Target) {
        let local = match source.transport {
            TransportKind::Tls => SocketAddr::from(([127, 0, 0, 1], 5061)),
            _ => SocketAddr::from(([127, 0, 0, 1], 5060)),
        };
        self.endpoint.handle_received(Received {
            data: Bytes::copy_from_slice(data),
            source,
            local,
        });
    }

    /// Runs the timers that are due.
    pub fn handle_timeout(&self) {
        self.endpoint.handle_timeout();
    }

    /// What was sent since the last call (at most the last 256 messages).
    pub fn take_sent(&self) -> Vec<(Target, Bytes)> {
        self.log.lock().drain(..).collect()
    }
}
