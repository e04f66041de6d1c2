//! Transports: where messages go and how sending fails.
//!
//! [`Transport`] is the trait every transport implements: UDP here ([`udp`]), TCP and TLS
//! in the `sipcore-tcp` and `sipcore-tls` crates. Sending takes a [`Bytes`] (refcounted,
//! never copied) and a [`Target`]; a failure is a typed [`SendError`] that the endpoint
//! turns into a transaction error (503 to the transaction user at once).
//!
//! Receiving goes the other way: a transport hands each datagram or framed stream message
//! to a [`MessageSink`] (the endpoint) with its source and the local socket it came in on.

pub mod routing;
pub mod udp;

use std::fmt;
use std::net::SocketAddr;

use bytes::Bytes;

/// The transport protocol of a [`Target`] (the Via transport token).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum TransportKind {
    /// UDP (unreliable).
    Udp,
    /// TCP.
    Tcp,
    /// TLS over TCP.
    Tls,
    /// SCTP.
    Sctp,
    /// WebSocket (RFC 7118).
    Ws,
    /// Secure WebSocket.
    Wss,
}

impl TransportKind {
    /// Reliable transports need no retransmission timers (RFC 3261 §17).
    pub fn is_reliable(self) -> bool {
        !matches!(self, TransportKind::Udp)
    }

    /// Whether the transport is secured (TLS, WSS).
    pub fn is_secure(self) -> bool {
        matches!(self, TransportKind::Tls | TransportKind::Wss)
    }

    /// Stream transports frame messages with Content-Length.
    pub fn is_stream(self) -> bool {
        matches!(
            self,
            TransportKind::Tcp | TransportKind::Tls | TransportKind::Ws | TransportKind::Wss
        )
    }

    /// The token used in Via headers.
    pub fn as_str(self) -> &'static str {
        match self {
            TransportKind::Udp => "UDP",
            TransportKind::Tcp => "TCP",
            TransportKind::Tls => "TLS",
            TransportKind::Sctp => "SCTP",
            TransportKind::Ws => "WS",
            TransportKind::Wss => "WSS",
        }
    }

    /// The kind for a Via transport token or a `transport=` URI parameter (case-insensitive).
    pub fn from_token(token: &str) -> Option<TransportKind> {
        [
            TransportKind::Udp,
            TransportKind::Tcp,
            TransportKind::Tls,
            TransportKind::Sctp,
            TransportKind::Ws,
            TransportKind::Wss,
        ]
        .into_iter()
        .find(|k| k.as_str().eq_ignore_ascii_case(token))
    }
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a message goes (or came from): a transport and a socket address.
///
/// ```
/// use sipcore::transport::{Target, TransportKind};
/// let t = Target::udp("127.0.0.1:5060".parse().unwrap());
/// assert_eq!(t.transport, TransportKind::Udp);
/// assert!(!t.transport.is_reliable());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Target {
    /// The transport.
    pub transport: TransportKind,
    /// The remote address.
    pub addr: SocketAddr,
}

impl Target {
    /// A target of any kind.
    pub fn new(transport: TransportKind, addr: SocketAddr) -> Self {
        Target { transport, addr }
    }

    /// A UDP target.
    pub fn udp(addr: SocketAddr) -> Self {
        Target::new(TransportKind::Udp, addr)
    }

    /// A TCP target.
    pub fn tcp(addr: SocketAddr) -> Self {
        Target::new(TransportKind::Tcp, addr)
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.transport, self.addr)
    }
}

/// Why a send failed. Every variant closes nothing by itself; the transport that reports
/// it has already done what its policy says (close, blacklist) and counted it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The operating system refused the send.
    #[error("{transport} send to {addr} failed: {kind}")]
    Io {
        /// Transport that failed.
        transport: TransportKind,
        /// Destination.
        addr: SocketAddr,
        /// What the OS said.
        kind: std::io::ErrorKind,
    },
    /// The message does not fit the transport (e.g. above the UDP datagram limit).
    #[error("message of {size} bytes exceeds the {limit}-byte limit")]
    TooLarge {
        /// Message size.
        size: usize,
        /// Limit.
        limit: usize,
    },
    /// The connection's write queue is full (`conn_wq_max`); the connection was closed.
    #[error("connection write queue full")]
    ConnectionQueueFull,
    /// The transport's global write queue is full (`wq_max`); the send was refused.
    #[error("global write queue full")]
    QueueFull,
    /// The destination failed recently and is blacklisted.
    #[error("destination {0} is blacklisted")]
    Blacklisted(SocketAddr),
    /// The connection was refused, reset or timed out.
    #[error("connection to {addr} failed: {reason}")]
    ConnectionFailed {
        /// Destination.
        addr: SocketAddr,
        /// Why, for the layers above (the endpoint maps it to the transaction layer's
        /// failure; never parse `reason` for that).
        cause: ConnectionFailure,
        /// Short reason for people and logs (refused, reset, connect timeout, send
        /// timeout, tls: ...).
        reason: &'static str,
    },
    /// No transport of the target's kind is registered.
    #[error("no {0} transport")]
    NoTransport(TransportKind),
    /// The transport is shutting down.
    #[error("transport closed")]
    Closed,
}

/// Why a connection failed: the cause a stream transport reports in
/// [`SendError::ConnectionFailed`] (its `reason` says the same in words).
///
/// ```
/// use sipcore::transport::{ConnectionFailure, SendError};
/// let e = SendError::ConnectionFailed {
///     addr: "192.0.2.1:5060".parse().unwrap(),
///     cause: ConnectionFailure::Refused,
///     reason: "refused",
/// };
/// assert_eq!(e.to_string(), "connection to 192.0.2.1:5060 failed: refused");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConnectionFailure {
    /// The peer refused the connection.
    Refused,
    /// The connection was reset by the peer, or a write hit a broken pipe.
    Reset,
    /// Connecting, sending, reading, a keep-alive or a handshake made no progress in time.
    Timeout,
    /// The TLS layer failed: setup, handshake, certificate, record or alert.
    Tls,
    /// Anything else: closed by the peer, a framing error, a limit, no connection left.
    Other,
}

/// A transport that can send messages. Implementations are shared between threads.
pub trait Transport: Send + Sync + fmt::Debug {
    /// Which kind this is.
    fn kind(&self) -> TransportKind;

    /// The local address it sends from / listens on.
    fn local_addr(&self) -> SocketAddr;

    /// Sends `data` (a whole SIP message) to `target.addr`.
    fn send(&self, target: &Target, data: Bytes) -> Result<(), SendError>;

    /// Sends a response to a request that came from `target` (RFC 3261 §18.2.2). Stream
    /// transports send it on the connection the request came on and, when that is gone,
    /// to the top Via's `received`/sent-by address; the default is [`send`](Self::send).
    fn send_response(&self, target: &Target, data: Bytes) -> Result<(), SendError> {
        self.send(target, data)
    }
}

/// A message received by a transport.
#[derive(Debug, Clone)]
pub struct Received {
    /// The octets (one datagram, or one framed stream message).
    pub data: Bytes,
    /// Where it came from (transport + remote address).
    pub source: Target,
    /// The local socket it arrived on.
    pub local: SocketAddr,
}

/// What a transport hands received messages to (the endpoint implements it).
pub trait MessageSink: Send + Sync {
    /// Called on the receiving thread for every datagram / framed message.
    fn on_received(&self, received: Received);
}

/// What a transport tells the layer above about failures it detects by itself: a refused or
/// reset connection, a connect or send timeout, a full write queue, a framing error.
///
/// Connection-oriented transports (TCP, TLS) queue writes, so a failure is often found after
/// `send` returned `Ok`. The transport reports it here, at once, for the destination
/// [`Target`]; the endpoint hands it to the transaction layer, which fails every transaction
/// that sent to that target (the transaction user sees a 503 immediately instead of a 408
/// when Timer B or F fires).
///
/// Called on the transport's own threads with no lock held: an implementation may send.
///
/// ```
/// use sipcore::transport::{SendError, Target, TransportEvents};
/// struct Log;
/// impl TransportEvents for Log {
///     fn on_transport_error(&self, target: Target, error: SendError) {
///         eprintln!("{target}: {error}");
///     }
/// }
/// Log.on_transport_error(Target::tcp("127.0.0.1:5060".parse().unwrap()), SendError::Closed);
/// ```
pub trait TransportEvents: Send + Sync {
    /// A failure on the way to (or from) `target`; `error` says which.
    fn on_transport_error(&self, target: Target, error: SendError);
}

/// Ignores every event (for tests and tools that only send).
impl TransportEvents for () {
    fn on_transport_error(&self, _target: Target, _error: SendError) {}
}
