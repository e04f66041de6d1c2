//! `[tcp]`: every limit and timeout of the connection manager (`sipcore-tcp`) in the
//! proxy's configuration, for the TCP transport and the one under TLS alike, and the
//! file-descriptor limit they need (`RLIMIT_NOFILE`, raised at start as far as allowed).

use std::net::IpAddr;
use std::time::Duration;

use serde::Deserialize;
use sipcore_tcp::TcpConfig;

/// `[tcp]`. The defaults are `sipcore_tcp::TcpConfig`'s; zero turns an optional limit
/// off where the key says so.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TcpSection {
    /// Most connections open at once, inbound and outbound together (each is a file
    /// descriptor).
    pub max_connections: usize,
    /// Most accepted connections open at once (counted apart from outbound ones, so
    /// clients cannot take the slots trunks need).
    pub max_inbound: usize,
    /// Most connections the proxy opened that are open at once.
    pub max_outbound: usize,
    /// Most accepted connections from one source IP; 0: no limit.
    pub max_per_ip: usize,
    /// Listen backlog.
    pub backlog: i32,
    /// Threads that read and frame; 0: `server.workers`.
    pub workers: usize,
    /// Bytes that may wait in one connection's write queue (beyond: that connection
    /// is closed as a failure).
    pub conn_wq_max: usize,
    /// Bytes that may wait in all write queues together (beyond: the send is refused).
    pub wq_max: usize,
    /// Longest a connect may take, in milliseconds.
    pub connect_timeout_ms: u64,
    /// Longest a non-empty write queue may go without progress, in milliseconds.
    pub send_timeout_ms: u64,
    /// A connection without traffic for this many seconds is closed.
    pub idle_timeout_secs: u64,
    /// Longest time from a message's first byte to its last, in milliseconds.
    pub read_timeout_ms: u64,
    /// How long a worker keeps a connection that went quiet, in milliseconds.
    pub worker_idle_ms: u64,
    /// Bytes a worker reads per call (its scratch buffer; idle connections hold none).
    pub read_chunk: usize,
    /// `SO_RCVBUF` of every connection; 0: the system default.
    pub recv_buffer: usize,
    /// `SO_SNDBUF` of every connection; 0: the system default.
    pub send_buffer: usize,
    /// Largest message accepted (beyond: 513, connection closed).
    pub max_message_size: usize,
    /// Seconds a destination whose connection failed stays blacklisted; 0: off.
    pub blacklist_secs: u64,
    /// Most blacklisted destinations kept.
    pub blacklist_max: usize,
    /// Seconds without traffic before a CRLF keep-alive ping on connections the proxy
    /// opened; 0: no pings.
    pub keepalive_interval_secs: u64,
    /// Seconds to wait for the pong before the connection fails.
    pub keepalive_timeout_secs: u64,
    /// `TCP_NODELAY`.
    pub nodelay: bool,
    /// Local addresses outgoing connections bind to, in turn (empty: the kernel picks).
    pub connect_sources: Vec<String>,
}

impl Default for TcpSection {
    fn default() -> Self {
        let d = TcpConfig::default();
        TcpSection {
            max_connections: d.max_connections,
            max_inbound: d.max_inbound,
            max_outbound: d.max_outbound,
            max_per_ip: d.max_per_ip.unwrap_or(0),
            backlog: d.backlog,
            workers: 0,
            conn_wq_max: d.conn_wq_max,
            wq_max: d.wq_max,
            connect_timeout_ms: millis(d.connect_timeout),
            send_timeout_ms: millis(d.send_timeout),
            idle_timeout_secs: d.connection_lifetime.as_secs(),
            read_timeout_ms: millis(d.read_timeout),
            worker_idle_ms: millis(d.worker_idle),
            read_chunk: d.read_chunk,
            recv_buffer: d.recv_buffer.unwrap_or(0),
            send_buffer: d.send_buffer.unwrap_or(0),
            max_message_size: d.max_message_size,
            blacklist_secs: d.blacklist_ttl.as_secs(),
            blacklist_max: d.blacklist_max,
            keepalive_interval_secs: d.keepalive_interval.map_or(0, |i| i.as_secs()),
            keepalive_timeout_secs: d.keepalive_timeout.as_secs(),
            nodelay: d.nodelay,
            connect_sources: Vec::new(),
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn nonzero(n: usize) -> Option<usize> {
    (n > 0).then_some(n)
}

/// Checks `[tcp]`: the error names the key.
pub fn check(t: &TcpSection) -> Result<(), (&'static str, String)> {
    let above_zero = [
        ("tcp.max_connections", t.max_connections as u64),
        ("tcp.max_inbound", t.max_inbound as u64),
        ("tcp.max_outbound", t.max_outbound as u64),
        ("tcp.conn_wq_max", t.conn_wq_max as u64),
        ("tcp.wq_max", t.wq_max as u64),
        ("tcp.connect_timeout_ms", t.connect_timeout_ms),
        ("tcp.send_timeout_ms", t.send_timeout_ms),
        ("tcp.idle_timeout_secs", t.idle_timeout_secs),
        ("tcp.read_timeout_ms", t.read_timeout_ms),
        ("tcp.worker_idle_ms", t.worker_idle_ms),
        ("tcp.read_chunk", t.read_chunk as u64),
        ("tcp.max_message_size", t.max_message_size as u64),
        ("tcp.blacklist_max", t.blacklist_max as u64),
        ("tcp.keepalive_timeout_secs", t.keepalive_timeout_secs),
    ];
    for (key, v) in above_zero {
        if v == 0 {
            return Err((key, "must be above 0".into()));
        }
    }
    if t.backlog <= 0 {
        return Err(("tcp.backlog", "must be above 0".into()));
    }
    if t.conn_wq_max > t.wq_max {
        return Err((
            "tcp.conn_wq_max",
            format!("{} is above tcp.wq_max ({})", t.conn_wq_max, t.wq_max),
        ));
    }
    for s in &t.connect_sources {
        s.parse::<IpAddr>()
            .map_err(|_| ("tcp.connect_sources", format!("{s:?} is not an IP address")))?;
    }
    Ok(())
}

/// Writes `[tcp]` (checked by [`check`]) into a connection manager's configuration;
/// `listen` and `workers` (unless `tcp.workers` is set) are the caller's.
pub fn apply(t: &TcpSection, c: &mut TcpConfig) {
    c.max_connections = t.max_connections;
    c.max_inbound = t.max_inbound;
    c.max_outbound = t.max_outbound;
    c.max_per_ip = nonzero(t.max_per_ip);
    c.backlog = t.backlog;
    if t.workers > 0 {
        c.workers = t.workers;
    }
    c.conn_wq_max = t.conn_wq_max;
    c.wq_max = t.wq_max;
    c.connect_timeout = Duration::from_millis(t.connect_timeout_ms);
    c.send_timeout = Duration::from_millis(t.send_timeout_ms);
    c.connection_lifetime = Duration::from_secs(t.idle_timeout_secs);
    c.read_timeout = Duration::from_millis(t.read_timeout_ms);
    c.worker_idle = Duration::from_millis(t.worker_idle_ms);
    c.read_chunk = t.read_chunk;
    c.recv_buffer = nonzero(t.recv_buffer);
    c.send_buffer = nonzero(t.send_buffer);
    c.max_message_size = t.max_message_size;
    c.blacklist_ttl = Duration::from_secs(t.blacklist_secs);
    c.blacklist_max = t.blacklist_max;
    c.keepalive_interval =
        (t.keepalive_interval_secs > 0).then(|| Duration::from_secs(t.keepalive_interval_secs));
    c.keepalive_timeout = Duration::from_secs(t.keepalive_timeout_secs);
    c.nodelay = t.nodelay;
    c.connect_sources = t
        .connect_sources
        .iter()
        .filter_map(|s| s.parse().ok())
        .collect();
}

/// File descriptors kept for everything but TCP connections (UDP sockets, listeners,
/// the CDR journal, the metrics listener, epoll and wakers, logs).
pub const FD_HEADROOM: u64 = 256;

/// What [`raise_nofile`] found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoFile {
    /// The soft limit before.
    pub before: u64,
    /// The soft limit now.
    pub now: u64,
    /// What the connection limits need (their sum plus [`FD_HEADROOM`]).
    pub wanted: u64,
}

impl NoFile {
    /// The connections the limit leaves room for, when it is below what is wanted.
    pub fn caps(&self) -> Option<u64> {
        (self.now < self.wanted).then(|| self.now.saturating_sub(FD_HEADROOM))
    }
}

/// Raises the soft `RLIMIT_NOFILE` to what `connections` (plus [`FD_HEADROOM`]) need,
/// as far as allowed: above the hard limit when the process may raise it (root),
/// else up to the hard limit. Never lowers it.
pub fn raise_nofile(connections: u64) -> NoFile {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let wanted = connections.saturating_add(FD_HEADROOM);
    let old = getrlimit(Resource::Nofile);
    // `None` is RLIM_INFINITY.
    let before = old.current.unwrap_or(u64::MAX);
    let hard = old.maximum.unwrap_or(u64::MAX);
    if before >= wanted {
        return NoFile {
            before,
            now: before,
            wanted,
        };
    }
    let raised_hard = Rlimit {
        current: Some(wanted),
        maximum: Some(hard.max(wanted)),
    };
    let now = if hard < wanted && setrlimit(Resource::Nofile, raised_hard).is_ok() {
        wanted
    } else {
        let to = hard.min(wanted);
        let soft = Rlimit {
            current: Some(to),
            maximum: old.maximum,
        };
        match setrlimit(Resource::Nofile, soft) {
            Ok(()) => to,
            Err(_) => before,
        }
    };
    NoFile {
        before,
        now,
        wanted,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_key_reaches_the_manager() {
        let t: TcpSection = toml::from_str(
            r#"
            max_connections = 120000
            max_inbound = 110000
            max_outbound = 9000
            max_per_ip = 50
            backlog = 4096
            workers = 3
            conn_wq_max = 65536
            wq_max = 1048576
            connect_timeout_ms = 2500
            send_timeout_ms = 3500
            idle_timeout_secs = 600
            read_timeout_ms = 4500
            worker_idle_ms = 250
            read_chunk = 8192
            recv_buffer = 32768
            send_buffer = 16384
            max_message_size = 30000
            blacklist_secs = 7
            blacklist_max = 99
            keepalive_interval_secs = 25
            keepalive_timeout_secs = 4
            nodelay = false
            connect_sources = ["127.0.0.2", "127.0.0.3"]
            "#,
        )
        .unwrap();
        check(&t).unwrap();
        let mut c = TcpConfig::default();
        c.workers = 1;
        apply(&t, &mut c);
        assert_eq!(
            (
                c.max_connections,
                c.max_inbound,
                c.max_outbound,
                c.max_per_ip
            ),
            (120000, 110000, 9000, Some(50))
        );
        assert_eq!((c.backlog, c.workers), (4096, 3));
        assert_eq!((c.conn_wq_max, c.wq_max), (65536, 1048576));
        assert_eq!(c.connect_timeout, Duration::from_millis(2500));
        assert_eq!(c.send_timeout, Duration::from_millis(3500));
        assert_eq!(c.connection_lifetime, Duration::from_secs(600));
        assert_eq!(c.read_timeout, Duration::from_millis(4500));
        assert_eq!(c.worker_idle, Duration::from_millis(250));
        assert_eq!(
            (c.read_chunk, c.recv_buffer, c.send_buffer),
            (8192, Some(32768), Some(16384))
        );
        assert_eq!(c.max_message_size, 30000);
        assert_eq!(
            (c.blacklist_ttl, c.blacklist_max),
            (Duration::from_secs(7), 99)
        );
        assert_eq!(c.keepalive_interval, Some(Duration::from_secs(25)));
        assert_eq!(c.keepalive_timeout, Duration::from_secs(4));
        assert!(!c.nodelay);
        assert_eq!(
            c.connect_sources,
            vec![
                "127.0.0.2".parse::<IpAddr>().unwrap(),
                "127.0.0.3".parse().unwrap()
            ]
        );
    }

    #[test]
    fn defaults_are_the_managers_and_zero_means_off() {
        let t = TcpSection::default();
        check(&t).unwrap();
        let mut c = TcpConfig::default();
        c.workers = 5;
        apply(&t, &mut c);
        let d = TcpConfig::default();
        assert_eq!(c.workers, 5, "server.workers kept");
        assert_eq!(c.max_connections, d.max_connections);
        assert_eq!(c.max_per_ip, None);
        assert_eq!((c.recv_buffer, c.send_buffer), (None, None));
        assert_eq!(c.keepalive_interval, None);
        assert_eq!(c.connection_lifetime, d.connection_lifetime);
        assert_eq!(c.connect_timeout, d.connect_timeout);
    }

    #[test]
    fn the_documented_example_shows_the_defaults() {
        let text = include_str!("../config/proxy.toml");
        let all: toml::Table = toml::from_str(text).unwrap();
        let section = all.get("tcp").expect("proxy.toml documents [tcp]").clone();
        let documented: TcpSection = section.try_into().unwrap();
        assert_eq!(documented, TcpSection::default());
    }

    #[test]
    fn bad_values_name_their_key() {
        let mut t = TcpSection {
            max_inbound: 0,
            ..TcpSection::default()
        };
        assert_eq!(check(&t).unwrap_err().0, "tcp.max_inbound");
        t.max_inbound = 1;
        t.conn_wq_max = t.wq_max + 1;
        assert_eq!(check(&t).unwrap_err().0, "tcp.conn_wq_max");
        t.conn_wq_max = 1;
        t.connect_sources = vec!["localhost".into()];
        assert_eq!(check(&t).unwrap_err().0, "tcp.connect_sources");
        t.connect_sources.clear();
        assert!(check(&t).is_ok(), "positive control");
    }

    #[test]
    fn nofile_is_raised_never_lowered() {
        let before = rustix::process::getrlimit(rustix::process::Resource::Nofile);
        let n = raise_nofile(0);
        assert_eq!(Some(n.before), before.current.or(Some(u64::MAX)));
        assert_eq!(n.now, n.before, "enough already: unchanged");
        assert_eq!(n.caps(), None);
        let huge = raise_nofile(u64::MAX / 2);
        assert!(huge.now >= huge.before);
        assert!(huge.caps().is_some(), "nobody gets 2^62 descriptors");
    }
}
