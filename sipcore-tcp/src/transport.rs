//! [`TcpTransport`]: the handle applications hold; starts and stops the threads.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use bytes::Bytes;
use mio::net::TcpListener;
use mio::{Poll, Waker};
use parking_lot::Mutex;
use sipcore::message::Message;
use sipcore::transport::{
    ConnectionFailure, MessageSink, SendError, Target, Transport, TransportEvents, TransportKind,
};
use socket2::{Domain, Protocol, Socket, Type};

use crate::channel::{Command, WorkerLink, WAKER};
use crate::config::TcpConfig;
use crate::layer::{LayerFactory, StreamLayer};
use crate::reply::response_fallback;
use crate::shared::Shared;
use crate::stats::TcpStats;
use crate::supervisor::Supervisor;
use crate::worker::Worker;

/// The TCP transport: a cheap, cloneable handle to the connection manager's threads.
///
/// Dropping the last handle shuts the threads down (as [`shutdown`](Self::shutdown)).
/// A sink or event handler that holds a handle (an endpoint that answers requests) keeps
/// the transport alive through the manager's own reference to it: call `shutdown`
/// explicitly then.
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
/// use std::sync::Arc;
/// use sipcore::transport::{MessageSink, Received, Target, Transport};
/// use sipcore_tcp::{TcpConfig, TcpTransport};
///
/// struct Print;
/// impl MessageSink for Print {
///     fn on_received(&self, r: Received) {
///         println!("{} bytes from {}", r.data.len(), r.source);
///     }
/// }
///
/// let mut config = TcpConfig::default();
/// config.listen.push("127.0.0.1:0".parse().unwrap());
/// let tcp = TcpTransport::start(config, Arc::new(Print), Arc::new(())).unwrap();
///
/// // A peer connects and pings; the manager answers the keep-alive by itself.
/// let mut peer = std::net::TcpStream::connect(tcp.local_addr()).unwrap();
/// peer.write_all(b"\r\n\r\n").unwrap();
/// let mut pong = [0u8; 2];
/// peer.read_exact(&mut pong).unwrap();
/// assert_eq!(&pong, b"\r\n");
///
/// // Sending to the peer's address reuses its connection.
/// let to = Target::tcp(peer.local_addr().unwrap());
/// tcp.send(&to, bytes::Bytes::from_static(b"\r\n\r\n")).unwrap();
/// let mut ping = [0u8; 4];
/// peer.read_exact(&mut ping).unwrap();
/// tcp.shutdown();
/// ```
#[derive(Clone)]
pub struct TcpTransport {
    handle: Arc<Handle>,
}

struct Handle {
    shared: Arc<Shared>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    worker_wakers: Vec<Arc<Waker>>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Handle {
    fn stop(&self) {
        self.shared.shutdown.store(true, Ordering::Release);
        self.shared.wake();
        for w in &self.worker_wakers {
            let _ = w.wake();
        }
        let threads = std::mem::take(&mut *self.threads.lock());
        let me = std::thread::current().id();
        for t in threads {
            // A handle dropped on one of our own threads (inside a callback) cannot join
            // that thread; it exits by itself on the flag.
            if t.thread().id() != me {
                let _ = t.join();
            }
        }
    }
}

impl fmt::Debug for TcpTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpTransport")
            .field("listeners", &self.listeners())
            .finish_non_exhaustive()
    }
}

impl TcpTransport {
    /// Starts the supervisor and `config.workers` workers, listening on `config.listen`.
    /// Received messages go to `sink` (on a worker thread, in order per connection),
    /// failures to `events` (at once, on the thread that found them).
    pub fn start(
        config: TcpConfig,
        sink: Arc<dyn MessageSink>,
        events: Arc<dyn TransportEvents>,
    ) -> io::Result<TcpTransport> {
        TcpTransport::start_inner(config, sink, events, None)
    }

    /// Starts the manager with a stream layer on every connection (TLS: see
    /// `sipcore-tls`): `layers` makes each connection's [`StreamLayer`], and its
    /// [`kind`](LayerFactory::kind) is the transport kind of every target, report and
    /// received message. Reads, writes, limits, timeouts and failure reports are the
    /// manager's own (see the [`layer`](crate::StreamLayer) seam); `handshake_timeout`
    /// bounds each connection's handshake.
    pub fn start_layered(
        config: TcpConfig,
        sink: Arc<dyn MessageSink>,
        events: Arc<dyn TransportEvents>,
        layers: Arc<dyn LayerFactory>,
    ) -> io::Result<TcpTransport> {
        TcpTransport::start_inner(config, sink, events, Some(layers))
    }

    fn start_inner(
        config: TcpConfig,
        sink: Arc<dyn MessageSink>,
        events: Arc<dyn TransportEvents>,
        layers: Option<Arc<dyn LayerFactory>>,
    ) -> io::Result<TcpTransport> {
        let poll = Poll::new()?;
        let waker = Waker::new(poll.registry(), WAKER)?;
        let (commands_tx, commands_rx) = crossbeam_channel::unbounded();
        let listen = config.listen.clone();
        let backlog = config.backlog;
        let workers = config.workers.max(1);
        let shared = Arc::new(Shared::new(
            config,
            sink,
            events,
            commands_tx,
            waker,
            layers,
        ));
        let tag = shared.kind.as_str().to_ascii_lowercase();

        let mut listeners = Vec::new();
        for addr in listen {
            let l = bind_listener(addr, backlog)?;
            shared.listeners.lock().push(l.local_addr()?);
            listeners.push(l);
        }

        let mut links = Vec::new();
        let mut worker_states = Vec::new();
        let mut worker_wakers = Vec::new();
        for _ in 0..workers {
            let wpoll = Poll::new()?;
            let wwaker = Arc::new(Waker::new(wpoll.registry(), WAKER)?);
            // Unbounded in type, bounded in fact: a connection is in at most one hand-off.
            let (tx, rx) = crossbeam_channel::unbounded();
            links.push(Arc::new(WorkerLink {
                tx,
                waker: wwaker.clone(),
                load: AtomicUsize::new(0),
            }));
            worker_wakers.push(wwaker);
            worker_states.push(Worker::new(shared.clone(), wpoll, rx));
        }
        let mut threads = Vec::new();
        for (i, w) in worker_states.into_iter().enumerate() {
            threads.push(sipcore::runtime::spawn(
                format!("sip-{tag}-w{i}"),
                move || w.run(),
            )?);
        }
        let supervisor = Supervisor::new(shared.clone(), poll, commands_rx, links);
        threads.push(sipcore::runtime::spawn(
            format!("sip-{tag}-sup"),
            move || supervisor.run(),
        )?);
        let handle = Arc::new(Handle {
            shared: shared.clone(),
            threads: Mutex::new(threads),
            worker_wakers,
        });
        for l in listeners {
            shared.command(Command::Listen(l));
        }
        Ok(TcpTransport { handle })
    }

    fn shared(&self) -> &Shared {
        &self.handle.shared
    }

    /// Listens on `addr` too (port 0 picks a free port); returns the bound address.
    pub fn listen(&self, addr: SocketAddr) -> io::Result<SocketAddr> {
        let shared = self.shared();
        if shared.is_shutdown() {
            return Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "transport shut down",
            ));
        }
        let l = bind_listener(addr, shared.config.backlog)?;
        let local = l.local_addr()?;
        shared.listeners.lock().push(local);
        shared.command(Command::Listen(l));
        Ok(local)
    }

    /// The addresses listened on, in order.
    pub fn listeners(&self) -> Vec<SocketAddr> {
        self.shared().listeners.lock().clone()
    }

    /// The configuration in force.
    pub fn config(&self) -> &TcpConfig {
        &self.shared().config
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> TcpStats {
        self.shared().stats.snapshot()
    }

    /// Whether a connection to (or from) `addr` is open, by peer address or alias.
    pub fn has_connection(&self, addr: &SocketAddr) -> bool {
        self.shared()
            .table
            .get(addr)
            .is_some_and(|c| !c.is_closed())
    }

    /// Sends a response the way RFC 3261 §18.2.2 says: on the connection its request
    /// came on (`source`, the request's [`Received::source`](sipcore::transport::Received)
    /// address), or, when that connection is gone, on a connection to the top Via's
    /// `received`/sent-by address ([`response_fallback`]).
    pub fn send_response(&self, source: SocketAddr, response: Bytes) -> Result<(), SendError> {
        let shared = self.shared();
        if shared.is_shutdown() {
            return Err(SendError::Closed);
        }
        let first = match shared.send_existing(&source, response.clone()) {
            Some(Ok(())) => return Ok(()),
            Some(Err(e)) => Some(e),
            None => None,
        };
        // The connection is gone (or just failed): RFC 3261 §18.2.2, the Via address.
        let fallback = Message::parse(response.clone())
            .ok()
            .and_then(|m| m.top_via().ok().as_ref().and_then(response_fallback));
        match (fallback, first) {
            (Some(addr), _) if addr != source => shared.send(addr, None, response),
            (_, Some(e)) => Err(e),
            _ => Err(SendError::ConnectionFailed {
                addr: source,
                cause: ConnectionFailure::Other,
                reason: "connection gone and no usable Via",
            }),
        }
    }

    /// Sends like [`Transport::send`], naming the server for a layered transport: the
    /// message goes on the connection to `addr` opened for `name` (TLS: the SNI and the
    /// name its certificate was checked against), or a new one; never on a connection
    /// opened for another name. Without a layer the name is ignored.
    pub fn send_to(
        &self,
        addr: SocketAddr,
        name: Option<&str>,
        data: Bytes,
    ) -> Result<(), SendError> {
        self.shared().send(addr, name, data)
    }

    /// Runs `f` on the stream layer of the connection to (or from) `addr`, under its
    /// lock: how a layer's owner reads per-connection state (the TLS peer identity).
    /// `None` without such a connection or layer.
    pub fn with_layer<R>(
        &self,
        addr: &SocketAddr,
        f: impl FnOnce(&dyn StreamLayer) -> R,
    ) -> Option<R> {
        let conn = self.shared().table.get(addr)?;
        let slot = conn.layer.as_deref()?.lock();
        Some(f(slot.session.as_ref()))
    }

    /// Like [`with_layer`](Self::with_layer) for the connection to `addr` opened for
    /// server `name`.
    pub fn with_named_layer<R>(
        &self,
        addr: &SocketAddr,
        name: &str,
        f: impl FnOnce(&dyn StreamLayer) -> R,
    ) -> Option<R> {
        let conn = self.shared().table.get_named(addr, name)?;
        let slot = conn.layer.as_deref()?.lock();
        Some(f(slot.session.as_ref()))
    }

    /// Stops the threads, closing every connection (silently: no failure reports), and
    /// waits for them. Later sends fail with [`SendError::Closed`].
    pub fn shutdown(&self) {
        self.handle.stop();
    }
}

impl Transport for TcpTransport {
    /// `Tcp`, or the layer's kind for a transport from [`TcpTransport::start_layered`].
    fn kind(&self) -> TransportKind {
        self.shared().kind
    }

    /// The first listener's address (`0.0.0.0:0` when not listening).
    fn local_addr(&self) -> SocketAddr {
        self.shared()
            .listeners
            .lock()
            .first()
            .copied()
            .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// RFC 3261 §18.2.2: the request's connection, else the Via address
    /// ([`TcpTransport::send_response`]).
    fn send_response(&self, target: &Target, data: Bytes) -> Result<(), SendError> {
        if target.transport != self.shared().kind {
            return Err(SendError::NoTransport(target.transport));
        }
        TcpTransport::send_response(self, target.addr, data)
    }

    /// Sends one whole message to `target.addr` over the existing connection (inbound or
    /// outbound, or one indexed under an RFC 5923 alias), else over a new one.
    ///
    /// `Ok` means written or queued. Errors: [`SendError::NoTransport`] for a target of
    /// another kind than [`kind`](Transport::kind), [`SendError::Blacklisted`] (fast), [`SendError::ConnectionQueueFull`] (the
    /// connection is closed), [`SendError::QueueFull`], [`SendError::ConnectionFailed`],
    /// [`SendError::Io`], [`SendError::Closed`]. A failure that closes a connection is
    /// also reported to [`TransportEvents`] for everyone who sent on it.
    fn send(&self, target: &Target, data: Bytes) -> Result<(), SendError> {
        if target.transport != self.shared().kind {
            return Err(SendError::NoTransport(target.transport));
        }
        self.shared().send(target.addr, None, data)
    }
}

fn bind_listener(addr: SocketAddr, backlog: i32) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(backlog)?;
    Ok(TcpListener::from_std(socket.into()))
}
