//! Why a connection closes, and what each reason means for the layer above: the
//! `SendError` it reports, whether it blacklists the destination, which counter it bumps.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;

use sipcore::transport::{ConnectionFailure, SendError, TransportKind};

use crate::layer::LayerError;

use crate::stats::Counters;

/// Why a connection was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Close {
    /// The peer refused the connection.
    Refused,
    /// Reset by the peer, or a broken pipe on write.
    Reset,
    /// `connect_timeout` expired.
    ConnectTimeout,
    /// `send_timeout` expired.
    SendTimeout,
    /// `read_timeout` expired on an incomplete message.
    ReadTimeout,
    /// No pong within `keepalive_timeout`.
    KeepaliveTimeout,
    /// `conn_wq_max` would have been exceeded.
    ConnQueueFull,
    /// `wq_max` reached while part of a message was already on the wire.
    QueueFull,
    /// The stream could not be framed.
    Framing,
    /// A message above `max_message_size`.
    TooLarge,
    /// The peer closed the connection (EOF) between messages.
    ClosedByPeer,
    /// The peer closed the connection in the middle of a message.
    Truncated,
    /// Any other I/O error.
    Io(io::ErrorKind),
    /// The stream layer's handshake failed (TLS: bad certificate, not TLS, alert); the
    /// layer's cause and reason.
    Handshake(LayerError),
    /// `handshake_timeout` expired before the stream layer was ready.
    HandshakeTimeout,
    /// The stream layer failed after its handshake (TLS: bad record, alert).
    Layer(LayerError),
    /// No traffic for `connection_lifetime` (silent).
    Idle,
    /// A connection that failed earlier and was drained (silent: reported already).
    Drained,
    /// The transport is shutting down (silent).
    Shutdown,
}

impl Close {
    /// The reason for an I/O error on an established or connecting socket.
    pub(crate) fn from_io(e: &io::Error) -> Close {
        match e.kind() {
            io::ErrorKind::ConnectionRefused => Close::Refused,
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::NotConnected => Close::Reset,
            kind => Close::Io(kind),
        }
    }

    /// The short reason carried by `SendError::ConnectionFailed`.
    pub(crate) fn reason(self) -> &'static str {
        match self {
            Close::Refused => "refused",
            Close::Reset => "reset",
            Close::ConnectTimeout => "connect timeout",
            Close::SendTimeout => "send timeout",
            Close::ReadTimeout => "read timeout",
            Close::KeepaliveTimeout => "keepalive timeout",
            Close::ConnQueueFull => "connection write queue full",
            Close::QueueFull => "write queue full",
            Close::Framing => "framing error",
            Close::TooLarge => "message too large",
            Close::ClosedByPeer | Close::Truncated => "closed by peer",
            Close::Io(_) => "i/o error",
            Close::Handshake(e) | Close::Layer(e) => e.reason(),
            Close::HandshakeTimeout => "handshake timeout",
            Close::Idle => "idle",
            Close::Drained => "drained",
            Close::Shutdown => "shutdown",
        }
    }

    /// The typed cause carried by `SendError::ConnectionFailed`.
    pub(crate) fn cause(self) -> ConnectionFailure {
        match self {
            Close::Refused => ConnectionFailure::Refused,
            Close::Reset => ConnectionFailure::Reset,
            Close::ConnectTimeout
            | Close::SendTimeout
            | Close::ReadTimeout
            | Close::KeepaliveTimeout
            | Close::HandshakeTimeout => ConnectionFailure::Timeout,
            Close::Handshake(e) | Close::Layer(e) => e.cause(),
            _ => ConnectionFailure::Other,
        }
    }

    /// The error reported for `addr` over `transport`, or `None` for a silent close.
    pub(crate) fn error(self, transport: TransportKind, addr: SocketAddr) -> Option<SendError> {
        match self {
            Close::Idle | Close::Drained | Close::Shutdown => None,
            Close::ConnQueueFull => Some(SendError::ConnectionQueueFull),
            Close::QueueFull => Some(SendError::QueueFull),
            Close::Io(kind) => Some(SendError::Io {
                transport,
                addr,
                kind,
            }),
            other => Some(SendError::ConnectionFailed {
                addr,
                cause: other.cause(),
                reason: other.reason(),
            }),
        }
    }

    /// The error a `send` caller gets for this close.
    pub(crate) fn send_error(self, transport: TransportKind, addr: SocketAddr) -> SendError {
        self.error(transport, addr)
            .unwrap_or(SendError::ConnectionFailed {
                addr,
                cause: self.cause(),
                reason: self.reason(),
            })
    }

    /// Whether the destination goes on the blacklist: every failure of the peer or the
    /// path does; a clean close, our own global overload and shutdown do not.
    pub(crate) fn blacklists(self) -> bool {
        !matches!(
            self,
            Close::ClosedByPeer
                | Close::Truncated
                | Close::QueueFull
                | Close::Idle
                | Close::Drained
                | Close::Shutdown
        )
    }

    /// The counter this reason bumps, if any.
    pub(crate) fn counter(self, c: &Counters) -> Option<&AtomicU64> {
        Some(match self {
            Close::Refused => &c.refused,
            Close::Reset => &c.reset,
            Close::ConnectTimeout => &c.connect_timeouts,
            Close::SendTimeout => &c.send_timeouts,
            Close::ReadTimeout => &c.read_timeouts,
            Close::KeepaliveTimeout => &c.keepalive_timeouts,
            Close::ConnQueueFull => &c.conn_queue_full,
            Close::QueueFull => &c.queue_full,
            Close::Framing => &c.framing_errors,
            Close::TooLarge => &c.too_large,
            Close::ClosedByPeer | Close::Truncated => &c.closed_by_peer,
            Close::Io(_) => &c.io_errors,
            Close::Handshake(_) => &c.handshake_failures,
            Close::HandshakeTimeout => &c.handshake_timeouts,
            Close::Layer(_) => &c.layer_errors,
            Close::Idle => &c.closed_idle,
            // Drained: counted when the failure was reported.
            Close::Drained | Close::Shutdown => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_and_policy() {
        let a: SocketAddr = "127.0.0.1:5060".parse().unwrap();
        let refused = std::io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(Close::from_io(&refused), Close::Refused);
        let tcp = TransportKind::Tcp;
        assert_eq!(
            Close::Refused.error(tcp, a),
            Some(SendError::ConnectionFailed {
                addr: a,
                cause: ConnectionFailure::Refused,
                reason: "refused"
            })
        );
        assert_eq!(
            Close::ConnQueueFull.error(tcp, a),
            Some(SendError::ConnectionQueueFull)
        );
        assert_eq!(Close::Idle.error(tcp, a), None);
        assert!(Close::SendTimeout.blacklists());
        assert!(!Close::ClosedByPeer.blacklists());
        assert!(!Close::QueueFull.blacklists());
        assert!(matches!(
            Close::Shutdown.send_error(tcp, a),
            SendError::ConnectionFailed { .. }
        ));
        assert_eq!(
            Close::Handshake(LayerError::with_cause(
                ConnectionFailure::Tls,
                "tls: unknown issuer"
            ))
            .error(TransportKind::Tls, a),
            Some(SendError::ConnectionFailed {
                addr: a,
                cause: ConnectionFailure::Tls,
                reason: "tls: unknown issuer"
            })
        );
        assert!(
            Close::Handshake(LayerError::new("x")).blacklists()
                && Close::HandshakeTimeout.blacklists()
        );
    }
}
