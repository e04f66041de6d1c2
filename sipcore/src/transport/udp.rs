//! UDP over `socket2`: IPv4 and IPv6, socket buffer sizes, optional `SO_REUSEPORT`.
//!
//! ```
//! use sipcore::transport::udp::{UdpConfig, UdpTransport};
//! use sipcore::transport::{Target, Transport};
//! let a = UdpTransport::bind(&UdpConfig::new("127.0.0.1:0".parse().unwrap())).unwrap();
//! let b = UdpTransport::bind(&UdpConfig::new("127.0.0.1:0".parse().unwrap())).unwrap();
//! a.send(&Target::udp(b.local_addr()), bytes::Bytes::from_static(b"\r\n")).unwrap();
//! let mut buf = [0u8; 100];
//! let (n, from) = b.socket().recv_from(&mut buf).unwrap();
//! assert_eq!((n, from), (2, a.local_addr()));
//! ```

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use socket2::{Domain, Protocol, Socket, Type};

use super::{SendError, Target, Transport, TransportKind};

/// Largest UDP payload over IPv4 (65535 - 8 - 20).
pub const MAX_DATAGRAM: usize = 65_507;

/// How to open a UDP socket.
#[derive(Debug, Clone)]
pub struct UdpConfig {
    /// Address to bind (port 0 picks a free port).
    pub addr: SocketAddr,
    /// `SO_RCVBUF` in bytes; `None` keeps the system default. Under load the receive
    /// buffer absorbs bursts while workers are busy: Kamailio sizes it up to 256 KiB.
    pub recv_buffer: Option<usize>,
    /// Size the receive buffer of each worker's socket for a bounded queueing delay
    /// from the worker's measured capacity ([`QueueBound`](see `pool::QueueBounder`);
    /// the reuse-port pool, where each worker owns its socket). `recv_buffer` is the
    /// starting size. Default `None`: the buffer stays as configured.
    pub queue_bound: Option<QueueBound>,
    /// `SO_SNDBUF` in bytes; `None` keeps the system default.
    pub send_buffer: Option<usize>,
    /// Set `SO_REUSEPORT` so several sockets (one per worker) can bind the same address.
    pub reuse_port: bool,
    /// Path MTU used for the RFC 3261 §18.1.1 size rule (default 1500): requests larger
    /// than `mtu - 200` bytes should go over a congestion-controlled transport.
    pub mtu: usize,
    /// Receive timeout, so blocked receivers can notice shutdown (default 100 ms).
    pub read_timeout: Option<Duration>,
}

impl UdpConfig {
    /// Defaults for `addr`: system buffers, no reuse-port, MTU 1500, 100 ms read timeout.
    pub fn new(addr: SocketAddr) -> Self {
        UdpConfig {
            addr,
            recv_buffer: None,
            queue_bound: None,
            send_buffer: None,
            reuse_port: false,
            mtu: 1500,
            read_timeout: Some(Duration::from_millis(100)),
        }
    }
}

/// Opens a UDP socket as configured.
pub fn bind_socket(config: &UdpConfig) -> io::Result<UdpSocket> {
    let domain = Domain::for_address(config.addr);
    let socket = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
    if config.addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    if config.reuse_port {
        socket.set_reuse_port(true)?;
    }
    if let Some(n) = config.recv_buffer {
        socket.set_recv_buffer_size(n)?;
    }
    if let Some(n) = config.send_buffer {
        socket.set_send_buffer_size(n)?;
    }
    socket.set_read_timeout(config.read_timeout)?;
    socket.bind(&config.addr.into())?;
    Ok(socket.into())
}

/// A UDP transport: one socket (or, with reuse-port, several sockets on the same address,
/// of which the first sends).
#[derive(Debug, Clone)]
pub struct UdpTransport {
    socket: Arc<UdpSocket>,
    local: SocketAddr,
    size_limit: usize,
}

impl UdpTransport {
    /// Binds a socket as configured.
    pub fn bind(config: &UdpConfig) -> io::Result<UdpTransport> {
        let socket = bind_socket(config)?;
        Ok(UdpTransport::from_socket(Arc::new(socket), config.mtu))
    }

    /// Wraps an already bound socket.
    pub fn from_socket(socket: Arc<UdpSocket>, mtu: usize) -> UdpTransport {
        let local = socket
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        UdpTransport {
            socket,
            local,
            size_limit: mtu.saturating_sub(200),
        }
    }

    /// The socket (shared), for receivers.
    pub fn socket(&self) -> &Arc<UdpSocket> {
        &self.socket
    }

    /// Whether a request of `len` bytes breaks the RFC 3261 §18.1.1 size rule
    /// (larger than MTU - 200), so it should move to TCP when one is available.
    pub fn exceeds_size_rule(&self, len: usize) -> bool {
        len > self.size_limit
    }
}

impl Transport for UdpTransport {
    fn kind(&self) -> TransportKind {
        TransportKind::Udp
    }

    fn local_addr(&self) -> SocketAddr {
        self.local
    }

    fn send(&self, target: &Target, data: Bytes) -> Result<(), SendError> {
        if data.len() > MAX_DATAGRAM {
            return Err(SendError::TooLarge {
                size: data.len(),
                limit: MAX_DATAGRAM,
            });
        }
        match self.socket.send_to(&data, target.addr) {
            Ok(_) => Ok(()),
            Err(e) => Err(SendError::Io {
                transport: TransportKind::Udp,
                addr: target.addr,
                kind: e.kind(),
            }),
        }
    }
}

/// How a worker's socket buffer is sized for a bounded queueing delay (applied by the
/// reuse-port pool's `QueueBounder`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueBound {
    /// How much work a full receive queue may hold. Default 100 ms (a fifth of T1).
    pub target_delay: Duration,
    /// The smallest buffer (bursts of an idle node). Default 256 KiB, about Linux's
    /// default `SO_RCVBUF`.
    pub min_bytes: usize,
    /// The largest buffer. Default 4 MiB.
    pub max_bytes: usize,
    /// Kernel bytes one queued datagram costs (its payload plus the socket buffer's
    /// overhead, which the kernel counts against `SO_RCVBUF`). Default 2048.
    pub datagram_bytes: usize,
    /// How often the capacity is re-measured. Default 250 ms.
    pub window: Duration,
}

impl Default for QueueBound {
    fn default() -> Self {
        QueueBound {
            target_delay: Duration::from_millis(100),
            min_bytes: 256 << 10,
            max_bytes: 4 << 20,
            datagram_bytes: 2048,
            window: Duration::from_millis(250),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_and_buffers() {
        let mut c = UdpConfig::new("[::1]:0".parse().unwrap());
        c.recv_buffer = Some(256 * 1024);
        c.send_buffer = Some(64 * 1024);
        let t = UdpTransport::bind(&c).unwrap();
        assert!(t.local_addr().is_ipv6());
        let u = UdpTransport::bind(&UdpConfig::new("[::1]:0".parse().unwrap())).unwrap();
        t.send(&Target::udp(u.local_addr()), Bytes::from_static(b"x"))
            .unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(u.socket().recv_from(&mut buf).unwrap().0, 1);
    }

    #[test]
    fn reuse_port_binds_twice() {
        let mut c = UdpConfig::new("127.0.0.1:0".parse().unwrap());
        c.reuse_port = true;
        let a = bind_socket(&c).unwrap();
        c.addr = a.local_addr().unwrap();
        let b = bind_socket(&c).unwrap();
        assert_eq!(a.local_addr().unwrap(), b.local_addr().unwrap());
    }

    #[test]
    fn size_rule_and_limit() {
        let t = UdpTransport::bind(&UdpConfig::new("127.0.0.1:0".parse().unwrap())).unwrap();
        assert!(!t.exceeds_size_rule(1300));
        assert!(t.exceeds_size_rule(1301));
        let big = Bytes::from(vec![0u8; MAX_DATAGRAM + 1]);
        let err = t.send(&Target::udp(t.local_addr()), big).unwrap_err();
        assert!(matches!(err, SendError::TooLarge { .. }));
    }
}
