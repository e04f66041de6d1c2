//! Transport addressing shared by the sans-IO layers and the runtimes that drive them.
//!
//! A [`Target`] names where a message goes (or came from): a transport protocol and a
//! socket address. The transaction layer uses it to pick its timers (RFC 3261 §17:
//! reliable transports need no retransmissions and zero waits for Timers D, I, J and K)
//! and hands it back in every [`Transmit`](crate::transaction::Transmit); the UDP
//! endpoint and the TCP/TLS connection managers turn it into a socket operation.
//!
//! This module holds types only: no sockets, no I/O. (The UDP and TCP branches carry
//! a superset of this file with the same `Target` and `TransportKind`; either merges.)

use std::fmt;
use std::net::SocketAddr;

/// A SIP transport protocol, as named in the Via header (RFC 3261 §18, RFC 4168 SCTP,
/// RFC 7118 WebSocket).
///
/// ```
/// use sipcore::transport::TransportKind;
/// assert!(!TransportKind::Udp.is_reliable());
/// assert!(TransportKind::Tls.is_reliable() && TransportKind::Tls.is_secure());
/// assert_eq!(TransportKind::from_token("tcp"), Some(TransportKind::Tcp));
/// assert_eq!(TransportKind::Wss.as_str(), "WSS");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum TransportKind {
    /// UDP: unreliable; the transaction layer retransmits.
    Udp,
    /// TCP: reliable stream.
    Tcp,
    /// TLS over TCP: reliable stream.
    Tls,
    /// SCTP: reliable.
    Sctp,
    /// WebSocket: reliable.
    Ws,
    /// Secure WebSocket: reliable.
    Wss,
}

impl TransportKind {
    /// Whether the transport delivers reliably (everything but UDP). Over a reliable
    /// transport the transaction layer arms no retransmission timers (A, E, G) and
    /// waits zero time where RFC 3261 says so (Timers D, I, J, K).
    #[inline]
    pub const fn is_reliable(self) -> bool {
        !matches!(self, TransportKind::Udp)
    }

    /// Whether the transport is secured (TLS, WSS).
    #[inline]
    pub const fn is_secure(self) -> bool {
        matches!(self, TransportKind::Tls | TransportKind::Wss)
    }

    /// The token written in a Via header.
    pub const fn as_str(self) -> &'static str {
        match self {
            TransportKind::Udp => "UDP",
            TransportKind::Tcp => "TCP",
            TransportKind::Tls => "TLS",
            TransportKind::Sctp => "SCTP",
            TransportKind::Ws => "WS",
            TransportKind::Wss => "WSS",
        }
    }

    /// Stream transports frame messages with Content-Length.
    pub const fn is_stream(self) -> bool {
        matches!(
            self,
            TransportKind::Tcp | TransportKind::Tls | TransportKind::Ws | TransportKind::Wss
        )
    }

    /// The kind for a Via transport token or a `transport=` URI parameter
    /// (case-insensitive); `None` for others.
    pub fn from_token(token: &str) -> Option<TransportKind> {
        const ALL: [TransportKind; 6] = [
            TransportKind::Udp,
            TransportKind::Tcp,
            TransportKind::Tls,
            TransportKind::Sctp,
            TransportKind::Ws,
            TransportKind::Wss,
        ];
        ALL.into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(token))
    }
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a message goes or came from: a transport and a remote socket address.
///
/// For connection-oriented transports the address names the remote end of the
/// connection; the connection manager maps it to a connection (reusing the flow a
/// request came in on, so responses and in-dialog requests do not dial anew).
///
/// ```
/// use sipcore::transport::{Target, TransportKind};
/// let t = Target::udp("192.0.2.7:5060".parse().unwrap());
/// assert_eq!(t.transport, TransportKind::Udp);
/// assert_eq!(t.to_string(), "UDP:192.0.2.7:5060");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Target {
    /// The transport protocol.
    pub transport: TransportKind,
    /// The remote address.
    pub addr: SocketAddr,
}

impl Target {
    /// A target over `transport`.
    pub const fn new(transport: TransportKind, addr: SocketAddr) -> Target {
        Target { transport, addr }
    }

    /// A UDP target.
    pub const fn udp(addr: SocketAddr) -> Target {
        Target::new(TransportKind::Udp, addr)
    }

    /// A TCP target.
    pub const fn tcp(addr: SocketAddr) -> Target {
        Target::new(TransportKind::Tcp, addr)
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.transport, self.addr)
    }
}
