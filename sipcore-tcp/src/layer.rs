//! The stream-layer seam: a per-connection transformation between the socket's bytes and
//! the SIP bytes (TLS in `sipcore-tls`), driven by the manager's own reads and writes.
//!
//! A layer is sans-IO: it never touches the socket. The manager
//! - feeds it every chunk it reads ([`StreamLayer::read_wire`]) and frames the
//!   application bytes it returns; the wire bytes it produces while reading (handshake
//!   messages, alerts, key updates, session tickets) go into the connection's write queue,
//!   written directly when nothing is queued, never waited for;
//! - has it encode every message sent ([`StreamLayer::write_plain`]) under the same lock
//!   that orders the write queue, so records leave in the order they were made;
//! - holds messages sent before the layer is ready (a TLS handshake in progress) in a
//!   per-connection pending queue, counted against `conn_wq_max` and `wq_max` like queued
//!   wire bytes, and encodes them once it is;
//! - closes, counts, blacklists and reports a connection whose layer fails
//!   (`handshake_failures`, `layer_errors`) or is not ready within `handshake_timeout`.
//!
//! Locking: each layered connection has one mutex around its layer, taken before the
//! connection's write lock and held only for CPU work (decrypting one read, encrypting one
//! message) and a non-blocking write. There is no lock shared between connections.

use std::any::Any;
use std::collections::VecDeque;
use std::fmt;
use std::net::{IpAddr, SocketAddr};

use bytes::Bytes;
use sipcore::transport::{ConnectionFailure, TransportKind};

/// Why a layer failed: a typed cause for the layers above and a short static reason
/// for people, both carried to the transaction layer in `SendError::ConnectionFailed`.
///
/// ```
/// use sipcore::transport::ConnectionFailure;
/// let e = sipcore_tcp::LayerError::with_cause(ConnectionFailure::Tls, "tls: certificate expired");
/// assert_eq!(e.reason(), "tls: certificate expired");
/// assert_eq!(e.cause(), ConnectionFailure::Tls);
/// assert_eq!(sipcore_tcp::LayerError::new("toy: bad hello").cause(), ConnectionFailure::Other);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerError {
    cause: ConnectionFailure,
    reason: &'static str,
}

impl LayerError {
    /// A failure with a short static reason and no more specific cause
    /// ([`ConnectionFailure::Other`]).
    pub fn new(reason: &'static str) -> LayerError {
        LayerError::with_cause(ConnectionFailure::Other, reason)
    }

    /// A failure with its cause and a short static reason.
    pub fn with_cause(cause: ConnectionFailure, reason: &'static str) -> LayerError {
        LayerError { cause, reason }
    }

    /// The reason.
    pub fn reason(&self) -> &'static str {
        self.reason
    }

    /// The cause.
    pub fn cause(&self) -> ConnectionFailure {
        self.cause
    }
}

impl fmt::Display for LayerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason)
    }
}

impl std::error::Error for LayerError {}

/// One connection's transformation between wire bytes and application (SIP) bytes.
///
/// Every method is called with the connection's layer lock held, from whichever thread
/// reads or sends; none may block. Output is appended to caller-owned vectors.
///
/// # Examples
///
/// A layer that XORs every byte (a stand-in for encryption):
///
/// ```
/// use sipcore_tcp::{LayerError, StreamLayer};
///
/// #[derive(Debug)]
/// struct Xor(u8);
/// impl StreamLayer for Xor {
///     fn read_wire(&mut self, wire: &[u8], plain: &mut Vec<u8>, _out: &mut Vec<u8>) -> Result<(), LayerError> {
///         plain.extend(wire.iter().map(|b| b ^ self.0));
///         Ok(())
///     }
///     fn write_plain(&mut self, plain: &[u8], out: &mut Vec<u8>) -> Result<(), LayerError> {
///         out.extend(plain.iter().map(|b| b ^ self.0));
///         Ok(())
///     }
///     fn poll_wire(&mut self, _out: &mut Vec<u8>) {}
///     fn is_ready(&self) -> bool { true }
///     fn wire_len_bound(&self, len: usize) -> usize { len }
///     fn as_any(&self) -> &dyn std::any::Any { self }
/// }
///
/// let mut x = Xor(0x20);
/// let (mut wire, mut plain, mut out) = (Vec::new(), Vec::new(), Vec::new());
/// x.write_plain(b"abc", &mut wire).unwrap();
/// x.read_wire(&wire, &mut plain, &mut out).unwrap();
/// assert_eq!(plain, b"abc");
/// ```
pub trait StreamLayer: Send + fmt::Debug + 'static {
    /// Consumes wire bytes read from the socket: appends the application bytes they
    /// carry to `plain`, and any wire bytes that must be sent in answer (handshake
    /// messages, alerts) to `out`. On error, `out` may still hold an alert to send before
    /// the connection is closed.
    fn read_wire(
        &mut self,
        wire: &[u8],
        plain: &mut Vec<u8>,
        out: &mut Vec<u8>,
    ) -> Result<(), LayerError>;

    /// Encodes application bytes into wire bytes appended to `out`. Called only once
    /// [`is_ready`](Self::is_ready) holds.
    fn write_plain(&mut self, plain: &[u8], out: &mut Vec<u8>) -> Result<(), LayerError>;

    /// Appends wire bytes the layer wants to send now without input (a client's first
    /// handshake flight). Called once when the connection is created.
    fn poll_wire(&mut self, out: &mut Vec<u8>);

    /// Whether application bytes can be encoded (the handshake is complete).
    fn is_ready(&self) -> bool;

    /// Most wire bytes `len` application bytes can become, so the limits can be checked
    /// before encoding (an encoded message cannot be taken back).
    fn wire_len_bound(&self, len: usize) -> usize;

    /// Appends wire bytes that end the session cleanly (a TLS `close_notify`); sent
    /// best-effort before a silent close (idle, shutdown). Default: none.
    fn close(&mut self, _out: &mut Vec<u8>) {}

    /// Whether the peer proved it owns `ip`: its certificate was verified against trust
    /// roots and names the address. Only then does the manager honour an RFC 5923
    /// `alias` the peer claims for it. Default: `false` (never).
    fn peer_verified_for(&self, ip: IpAddr) -> bool {
        let _ = ip;
        false
    }

    /// The layer as `Any`, so its owner can reach its own type
    /// ([`TcpTransport::with_layer`](crate::TcpTransport::with_layer)).
    fn as_any(&self) -> &dyn Any;
}

/// Makes the layer of every new connection of a transport started with
/// [`TcpTransport::start_layered`](crate::TcpTransport::start_layered).
///
/// Called on the thread that creates the connection (the supervisor for accepted ones,
/// the sender for outgoing ones); must not block.
pub trait LayerFactory: Send + Sync + fmt::Debug + 'static {
    /// The transport kind targets and reports carry (`Tls`).
    fn kind(&self) -> TransportKind;

    /// The layer of a connection accepted from `peer` on `local`. An error closes it.
    fn accept(
        &self,
        peer: SocketAddr,
        local: SocketAddr,
    ) -> Result<Box<dyn StreamLayer>, LayerError>;

    /// The layer of a connection opened to `peer`, for the server `name` when given
    /// (TLS: SNI and the name the certificate must match; the address otherwise).
    fn connect(
        &self,
        peer: SocketAddr,
        name: Option<&str>,
    ) -> Result<Box<dyn StreamLayer>, LayerError>;
}

/// A connection's layer and the messages waiting for it to be ready, under the layer lock.
#[derive(Debug)]
pub(crate) struct LayerSlot {
    pub(crate) session: Box<dyn StreamLayer>,
    /// Application messages sent before the layer was ready, in order.
    pub(crate) pending: VecDeque<Bytes>,
    /// Bytes in `pending` (also counted in the connection's `queued`).
    pub(crate) pending_bytes: usize,
    /// The layer was seen ready (counted once, pending released).
    pub(crate) ready: bool,
}

impl LayerSlot {
    pub(crate) fn new(session: Box<dyn StreamLayer>) -> LayerSlot {
        let ready = session.is_ready();
        LayerSlot {
            session,
            pending: VecDeque::new(),
            pending_bytes: 0,
            ready,
        }
    }
}
