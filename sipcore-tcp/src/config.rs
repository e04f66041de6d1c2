//! [`TcpConfig`]: every limit and timeout of the manager, with its default and the reason.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use sipcore::parse::DEFAULT_MAX_MESSAGE_SIZE;

/// How the TCP connection manager behaves. Build it with [`TcpConfig::default`] and change
/// the fields you need.
///
/// ```
/// use std::time::Duration;
/// use sipcore_tcp::TcpConfig;
/// let mut config = TcpConfig::default();
/// config.listen.push("127.0.0.1:0".parse().unwrap());
/// config.workers = 2;
/// config.send_timeout = Duration::from_secs(5);
/// assert_eq!(config.conn_wq_max, 32 * 1024);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TcpConfig {
    /// Addresses to listen on at start (port 0 picks a free port; see
    /// [`TcpTransport::listeners`](crate::TcpTransport::listeners)). More can be added
    /// later with [`TcpTransport::listen`](crate::TcpTransport::listen). Default: none.
    pub listen: Vec<SocketAddr>,
    /// Listen backlog. Default 1024.
    pub backlog: i32,
    /// Worker threads that read, frame and deliver messages. Default: the number of
    /// hardware threads (at least 1).
    pub workers: usize,
    /// Bytes that may wait in one connection's write queue. A send that would exceed it
    /// fails with `SendError::ConnectionQueueFull` and closes the connection: a peer that
    /// does not read is not going to catch up, and 32 KiB is a few dozen SIP messages.
    /// Default 32 KiB (Kamailio's `tcp_conn_wq_max`).
    pub conn_wq_max: usize,
    /// Bytes that may wait in all write queues together. A send that would exceed it fails
    /// with `SendError::QueueFull`; data already queued on other connections is kept.
    /// Default 10 MiB (Kamailio's `tcp_wq_max`).
    pub wq_max: usize,
    /// Longest a non-blocking connect may take. Default 10 s (Kamailio's
    /// `tcp_connect_timeout`), well under Timer B/F (32 s).
    pub connect_timeout: Duration,
    /// Longest a non-empty write queue may go without any byte written. Default 10 s
    /// (Kamailio's `tcp_send_timeout`).
    pub send_timeout: Duration,
    /// A connection without traffic in either direction for this long is closed, silently.
    /// Keep it above the longest transaction you run over TCP (an INVITE may wait 3 min
    /// for its final response under Timer C). Default 180 s.
    pub connection_lifetime: Duration,
    /// Longest time from the first byte of a message to its last (slowloris guard).
    /// Default 10 s.
    pub read_timeout: Duration,
    /// How long a worker keeps a connection that has gone quiet before giving it back to
    /// the supervisor. Longer keeps busy connections on one worker with fewer hand-offs;
    /// shorter frees workers sooner. Default 1 s (Kamailio hard-codes 5 s).
    pub worker_idle: Duration,
    /// Most connections open at once, both directions together (each holds a file
    /// descriptor: raise it together with `RLIMIT_NOFILE`). Accepts beyond it are closed
    /// at once; sends that need a new connection fail. Default 4096, the sum of
    /// `max_inbound` and `max_outbound` (Kamailio's `tcp_max_connections` is 2048 for
    /// both); below that sum the two directions share the difference.
    pub max_connections: usize,
    /// Most accepted connections open at once. Counted apart from outbound ones, so
    /// clients that fill this limit cannot take the slots outbound trunks need.
    /// Accepts beyond it are closed at once (`accept_refused`). Default 2048.
    pub max_inbound: usize,
    /// Most connections this side opened that are open at once; a send that needs one
    /// more fails with `SendError::ConnectionFailed` (`connection_limit`). Default 2048.
    pub max_outbound: usize,
    /// Most accepted connections from one source IP address at once; accepts beyond it
    /// are closed at once (`accept_refused_per_ip`). `None`: no per-IP limit (phones
    /// behind one NAT share an address). Default none.
    pub max_per_ip: Option<usize>,
    /// Largest message accepted from a peer. A larger one is answered 513 when its head is
    /// complete, then the connection is closed. Default 65 535.
    pub max_message_size: usize,
    /// How long a destination stays blacklisted after a failure; sends that would open a
    /// new connection to it fail at once with `SendError::Blacklisted`. Zero disables the
    /// blacklist. Default 30 s.
    pub blacklist_ttl: Duration,
    /// Most blacklist entries kept (bounded memory). Default 65 536.
    pub blacklist_max: usize,
    /// Send a double-CRLF keep-alive ping (RFC 5626 §3.5.1) on connections this side
    /// opened after this long without traffic. Default: off.
    pub keepalive_interval: Option<Duration>,
    /// How long to wait for the pong after a ping before failing the connection.
    /// Default 10 s (RFC 5626 §4.4.1 suggests 10 s).
    pub keepalive_timeout: Duration,
    /// Honour RFC 5923 connection aliases: register an accepted connection under the top
    /// Via's sent-by when a request carries the `alias` parameter, so requests to that
    /// address reuse it. Default off. Even when on, an alias is honoured only over a
    /// stream layer that vouches for it ([`StreamLayer::peer_verified_for`]: TLS with
    /// the peer's certificate verified for the claimed address, RFC 5923 §5); over plain
    /// TCP anyone could claim any address and receive its requests, so it never is.
    ///
    /// [`StreamLayer::peer_verified_for`]: crate::StreamLayer::peer_verified_for
    pub use_alias: bool,
    /// Set `TCP_NODELAY` (SIP messages are small and latency matters). Default on.
    pub nodelay: bool,
    /// `SO_SNDBUF` for every connection, in bytes; `None` keeps the system default (and
    /// Linux's autotuning). A small value makes the write queue take over sooner. Default:
    /// none.
    pub send_buffer: Option<usize>,
    /// `SO_RCVBUF` for every connection, in bytes (kernel memory per connection);
    /// `None` keeps the system default and its autotuning. Default: none.
    pub recv_buffer: Option<usize>,
    /// Bytes a worker reads per `read` call (its scratch buffer). Default 16 KiB.
    pub read_chunk: usize,
    /// Local addresses to bind outgoing connections to, used in turn (several loopback
    /// addresses give more than 28k ephemeral ports). Only addresses of the destination's
    /// family are used. Default: none (the kernel picks).
    pub connect_sources: Vec<IpAddr>,
    /// Longest time from a layered connection's creation (accept, or the start of its
    /// connect) until its stream layer is ready (a TLS handshake is complete). Expired:
    /// closed, reported and blacklisted like a connect timeout. Unused without a layer.
    /// Default 10 s (like `connect_timeout`, well under Timer B/F).
    pub handshake_timeout: Duration,
}

impl Default for TcpConfig {
    fn default() -> Self {
        TcpConfig {
            listen: Vec::new(),
            backlog: 1024,
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            conn_wq_max: 32 * 1024,
            wq_max: 10 * 1024 * 1024,
            connect_timeout: Duration::from_secs(10),
            send_timeout: Duration::from_secs(10),
            connection_lifetime: Duration::from_secs(180),
            read_timeout: Duration::from_secs(10),
            worker_idle: Duration::from_secs(1),
            max_connections: 4096,
            max_inbound: 2048,
            max_outbound: 2048,
            max_per_ip: None,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            blacklist_ttl: Duration::from_secs(30),
            blacklist_max: 65_536,
            keepalive_interval: None,
            keepalive_timeout: Duration::from_secs(10),
            use_alias: false,
            nodelay: true,
            send_buffer: None,
            recv_buffer: None,
            read_chunk: 16 * 1024,
            connect_sources: Vec::new(),
            handshake_timeout: Duration::from_secs(10),
        }
    }
}
