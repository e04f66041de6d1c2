//! Counters: atomics updated by every thread, read as a [`TcpStats`] snapshot.

use std::sync::atomic::{AtomicU64, Ordering};

macro_rules! stats {
    ($($(#[$doc:meta])* $name:ident,)*) => {
        /// The live counters (one atomic each).
        #[derive(Debug, Default)]
        pub(crate) struct Counters {
            $(pub(crate) $name: AtomicU64,)*
        }

        impl Counters {
            /// A consistent-enough copy (each counter read once, relaxed).
            pub(crate) fn snapshot(&self) -> TcpStats {
                TcpStats { $($name: self.$name.load(Ordering::Relaxed),)* }
            }
        }

        /// A snapshot of the manager's counters ([`TcpTransport::stats`](crate::TcpTransport::stats)).
        ///
        /// Gauges (`connections_open`, `inbound_open`, `outbound_open`, `queued_bytes`,
        /// `worker_owned`) are current values;
        /// everything else counts since start.
        ///
        /// ```
        /// let s = sipcore_tcp::TcpStats::default();
        /// assert_eq!(s.failures(), 0);
        /// ```
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        #[non_exhaustive]
        pub struct TcpStats {
            $($(#[$doc])* pub $name: u64,)*
        }
    };
}

stats! {
    /// Connections open now (connecting ones included).
    connections_open,
    /// Accepted connections open now (gauge, limited by `max_inbound`).
    inbound_open,
    /// Connections this side opened that are open now (gauge, limited by `max_outbound`).
    outbound_open,
    /// Connections accepted from listeners.
    accepted,
    /// Accepted connections closed at once because `max_connections` or `max_inbound`
    /// was reached.
    accept_refused,
    /// Accepted connections closed at once because their source IP had `max_per_ip`.
    accept_refused_per_ip,
    /// Outgoing connections attempted.
    connect_attempts,
    /// Outgoing connections established.
    connected,
    /// Sends refused because opening a connection would exceed `max_connections` or
    /// `max_outbound`.
    connection_limit,
    /// Connections closed after `connection_lifetime` without traffic.
    closed_idle,
    /// Connections closed by the peer (EOF), truncated ones included.
    closed_by_peer,
    /// Connections the peer closed in the middle of a message.
    truncated,
    /// Failure: connection refused.
    refused,
    /// Failure: connection reset, or broken pipe on write.
    reset,
    /// Failure: `connect_timeout` expired.
    connect_timeouts,
    /// Failure: `send_timeout` expired (no write progress on a non-empty queue).
    send_timeouts,
    /// Failure: `read_timeout` expired on an incomplete message (slowloris).
    read_timeouts,
    /// Failure: no keep-alive pong within `keepalive_timeout`.
    keepalive_timeouts,
    /// Failure: a send would have exceeded `conn_wq_max`; the connection was closed.
    conn_queue_full,
    /// Sends refused because `wq_max` was reached.
    queue_full,
    /// Failure: the stream could not be framed (e.g. no Content-Length).
    framing_errors,
    /// Failure: a message larger than `max_message_size` (answered 513 when possible).
    too_large,
    /// 513 responses sent for messages that were too large.
    too_large_answered,
    /// Failure: any other I/O error.
    io_errors,
    /// Destinations added to the blacklist.
    blacklisted,
    /// Sends refused at once because the destination is blacklisted.
    blacklisted_sends,
    /// Failures reported through `TransportEvents::on_transport_error` (one per target).
    reported,
    /// Messages framed and handed to the sink.
    messages_received,
    /// Bytes read from sockets.
    bytes_received,
    /// Messages written whole on the direct path (nothing queued, no `WouldBlock`).
    sent_direct,
    /// Messages (or their rest) queued behind a `WouldBlock`, a partial write, a
    /// non-empty queue or a pending connect.
    sent_queued,
    /// Bytes written to sockets.
    bytes_sent,
    /// Bytes queued now, across all connections (gauge, limited by `wq_max`).
    queued_bytes,
    /// Highest `queued_bytes` seen.
    queued_bytes_peak,
    /// Keep-alive pings (double CRLF) received and answered.
    pings_received,
    /// Keep-alive pings sent.
    pings_sent,
    /// Keep-alive pongs (single CRLF) received.
    pongs_received,
    /// Connections handed from the supervisor to a worker.
    handoffs,
    /// Connections a worker gave back to the supervisor.
    returns,
    /// Connections owned by workers now (gauge).
    worker_owned,
    /// RFC 5923 aliases registered.
    aliases,
    /// RFC 5923 aliases refused: claimed over plain TCP, or over a layer whose peer was
    /// not verified for the claimed address.
    aliases_refused,
    /// Stream-layer (TLS) handshakes completed.
    handshakes,
    /// Failure: a stream-layer (TLS) handshake failed (bad or untrusted certificate, a
    /// peer that does not speak TLS, an alert).
    handshake_failures,
    /// Failure: `handshake_timeout` expired before the handshake completed.
    handshake_timeouts,
    /// Failure: the stream layer failed after its handshake.
    layer_errors,
    /// Application callbacks (`MessageSink::on_received`,
    /// `TransportEvents::on_transport_error`) that panicked: each lost its one message
    /// or report, the thread went on. A panic in the manager's own code aborts the
    /// process (`sipcore::runtime`).
    callback_panics,
}

impl TcpStats {
    /// All failures together (each closes a connection or refuses a send).
    pub fn failures(&self) -> u64 {
        self.refused
            + self.reset
            + self.connect_timeouts
            + self.send_timeouts
            + self.read_timeouts
            + self.keepalive_timeouts
            + self.conn_queue_full
            + self.queue_full
            + self.framing_errors
            + self.too_large
            + self.io_errors
            + self.handshake_failures
            + self.handshake_timeouts
            + self.layer_errors
    }
}

impl Counters {
    /// Adds one.
    pub(crate) fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Adds `n`.
    pub(crate) fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Subtracts one (gauges).
    pub(crate) fn dec(counter: &AtomicU64) {
        counter.fetch_sub(1, Ordering::Relaxed);
    }
}
