//! Counters of the proxy and a tiny HTTP/1.0 responder serving them, with the
//! endpoint's counters and the pool's per-worker figures, as Prometheus text.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sipcore::endpoint::Endpoint;
use sipcore::message::Method;

/// Why the proxy answered a request itself with an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum Refusal {
    /// 400 from validation.
    BadRequest,
    /// 403 from the ACL.
    Acl,
    /// 404: no route.
    NotFound,
    /// 416.
    UnsupportedScheme,
    /// 420.
    BadExtension,
    /// 482.
    Loop,
    /// 483.
    TooManyHops,
    /// 401/407 challenges.
    AuthChallenge,
    /// 403 after failed credentials.
    AuthFailed,
    /// 503: CDR queue full.
    CdrFull,
    /// 503: no gateway left, or the layer refused a branch.
    NoRoute,
    /// 423 from the registrar.
    IntervalTooBrief,
    /// 503: new INVITE refused near the transaction limit (in-flight calls go on).
    Overload,
    /// 403 "Relaying denied": an untrusted, unauthenticated request for a destination
    /// that is not ours.
    RelayDenied,
    /// 403: the authenticated user is not the From identity.
    IdentityMismatch,
    /// 403 from the registrar: the authenticated user does not own the AOR.
    NotOwner,
    /// 403 from the registrar: more contacts than an AOR may have.
    TooManyContacts,
    /// 404: an in-dialog request without a Route of ours, for no local user.
    NotInDialog,
    /// 440 (RFC 5393).
    MaxBreadth,
    /// 503: new INVITE refused while the proxy drains before it stops (SIGTERM).
    Draining,
}

const REFUSALS: [(&str, Refusal); 20] = [
    ("bad_request", Refusal::BadRequest),
    ("acl", Refusal::Acl),
    ("not_found", Refusal::NotFound),
    ("unsupported_uri_scheme", Refusal::UnsupportedScheme),
    ("bad_extension", Refusal::BadExtension),
    ("loop", Refusal::Loop),
    ("too_many_hops", Refusal::TooManyHops),
    ("auth_challenge", Refusal::AuthChallenge),
    ("auth_failed", Refusal::AuthFailed),
    ("cdr_queue_full", Refusal::CdrFull),
    ("no_route", Refusal::NoRoute),
    ("interval_too_brief", Refusal::IntervalTooBrief),
    ("overload", Refusal::Overload),
    ("relay_denied", Refusal::RelayDenied),
    ("identity_mismatch", Refusal::IdentityMismatch),
    ("not_owner", Refusal::NotOwner),
    ("too_many_contacts", Refusal::TooManyContacts),
    ("not_in_dialog", Refusal::NotInDialog),
    ("max_breadth", Refusal::MaxBreadth),
    ("draining", Refusal::Draining),
];

const METHODS: [&str; 15] = [
    "INVITE",
    "ACK",
    "BYE",
    "CANCEL",
    "REGISTER",
    "OPTIONS",
    "INFO",
    "UPDATE",
    "PRACK",
    "SUBSCRIBE",
    "NOTIFY",
    "REFER",
    "MESSAGE",
    "PUBLISH",
    "other",
];

fn method_index(m: Method<'_>) -> usize {
    match m {
        Method::Invite => 0,
        Method::Ack => 1,
        Method::Bye => 2,
        Method::Cancel => 3,
        Method::Register => 4,
        Method::Options => 5,
        Method::Info => 6,
        Method::Update => 7,
        Method::Prack => 8,
        Method::Subscribe => 9,
        Method::Notify => 10,
        Method::Refer => 11,
        Method::Message => 12,
        Method::Publish => 13,
        Method::Extension(_) => 14,
    }
}

/// The proxy's own counters (relaxed atomics).
#[derive(Debug, Default)]
pub struct Metrics {
    requests: [AtomicU64; 15],
    /// Final and provisional responses sent upstream, by class 1..=6.
    responses: [AtomicU64; 7],
    refusals: [AtomicU64; REFUSALS.len()],
    /// Branches started.
    pub branches: AtomicU64,
    /// Failovers to a next gateway.
    pub failovers: AtomicU64,
    /// ACKs forwarded statelessly.
    pub acks_forwarded: AtomicU64,
    /// ACKs dropped: no transaction and no Route of ours.
    pub acks_dropped: AtomicU64,
    /// Responses dropped: they match no client transaction of ours.
    pub stray_responses: AtomicU64,
    /// CDR records dropped (queue full).
    pub cdr_dropped: AtomicU64,
    /// CDR records written and fsynced.
    pub cdr_written: AtomicU64,
    /// CDR records whose write or fsync failed (disk full, I/O error): not written.
    pub cdr_write_errors: AtomicU64,
    /// CDR journal (re)opens that failed (SIGHUP, rotation, path renamed away).
    pub cdr_open_errors: AtomicU64,
    /// CDR journal reopens (SIGHUP, rotation, path renamed away or deleted).
    pub cdr_reopens: AtomicU64,
    /// BYEs for calls the CDR writer does not remember as answered: no end record.
    pub cdr_unknown_byes: AtomicU64,
    /// 2xx to INVITEs inside an answered call: no new start record.
    pub cdr_reinvites: AtomicU64,
    /// Answered calls forgotten after `cdr.max_call_secs`.
    pub cdr_calls_expired: AtomicU64,
    /// Answered calls pushed out for room (`cdr.max_dialogs`, `cdr.max_dialog_bytes`).
    pub cdr_calls_evicted: AtomicU64,
}

impl Metrics {
    /// A request arrived (new transaction, or ACK).
    pub fn request(&self, m: Method<'_>) {
        self.requests[method_index(m)].fetch_add(1, Ordering::Relaxed);
    }

    /// A response went upstream.
    pub fn response(&self, status: u16) {
        let class = usize::from(status / 100).min(6);
        self.responses[class].fetch_add(1, Ordering::Relaxed);
    }

    /// The proxy refused a request.
    pub fn refuse(&self, r: Refusal) {
        self.refusals[r as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// A refusal counter's value.
    pub fn refusals(&self, r: Refusal) -> u64 {
        self.refusals[r as usize].load(Ordering::Relaxed)
    }
}

/// Gauges the proxy adds at render time.
#[derive(Debug, Clone, Copy, Default)]
pub struct Gauges {
    /// Proxy call contexts (map entries).
    pub contexts: usize,
    /// Registered contacts.
    pub registrations: usize,
    /// CDR records waiting.
    pub cdr_queue: usize,
    /// Answered calls the CDR writer remembers, and their bytes.
    pub cdr_calls: (usize, usize),
    /// Gateways blacklisted now.
    pub blacklisted: usize,
    /// Digest nonces whose counts are tracked (bounded by `auth.max_nonces`).
    pub nonces: usize,
}

fn ld(a: &AtomicU64) -> u64 {
    a.load(Ordering::Relaxed)
}

/// Renders everything as Prometheus text.
pub fn render(m: &Metrics, endpoint: &Endpoint, g: Gauges, extra: &str) -> String {
    let mut s = String::with_capacity(4096);
    let _ = writeln!(
        s,
        "# HELP sipcore_requests_total Requests received by method (new transactions and ACKs).\n# TYPE sipcore_requests_total counter"
    );
    for (i, name) in METHODS.iter().enumerate() {
        let v = m.requests[i].load(Ordering::Relaxed);
        let _ = writeln!(s, "sipcore_requests_total{{method=\"{name}\"}} {v}");
    }
    let _ = writeln!(s, "# HELP sipcore_responses_total Responses sent upstream by status class.\n# TYPE sipcore_responses_total counter");
    for class in 1..=6 {
        let v = m.responses[class].load(Ordering::Relaxed);
        let _ = writeln!(s, "sipcore_responses_total{{class=\"{class}xx\"}} {v}");
    }
    let _ = writeln!(s, "# HELP sipcore_refusals_total Requests the proxy answered with an error itself, by reason.\n# TYPE sipcore_refusals_total counter");
    for (name, r) in REFUSALS {
        let _ = writeln!(
            s,
            "sipcore_refusals_total{{reason=\"{name}\"}} {}",
            m.refusals(r)
        );
    }
    let c = endpoint.counters();
    for (name, v) in [
        ("overload_503", c.overload_503),
        ("queue_full_503", c.queue_full_503),
        ("malformed_400", c.malformed_400),
        ("version_505", c.version_505),
        ("too_large_513", c.too_large_513),
        ("rate_limit_503", c.admission_503),
        ("rate_limit_dropped", c.admission_dropped),
    ] {
        let _ = writeln!(s, "sipcore_refusals_total{{reason=\"{name}\"}} {v}");
    }
    let simple = [
        (
            "sipcore_branches_total",
            "counter",
            m.branches.load(Ordering::Relaxed),
        ),
        (
            "sipcore_failovers_total",
            "counter",
            m.failovers.load(Ordering::Relaxed),
        ),
        (
            "sipcore_acks_forwarded_total",
            "counter",
            m.acks_forwarded.load(Ordering::Relaxed),
        ),
        (
            "sipcore_acks_dropped_total",
            "counter",
            m.acks_dropped.load(Ordering::Relaxed),
        ),
        (
            "sipcore_stray_responses_total",
            "counter",
            m.stray_responses.load(Ordering::Relaxed),
        ),
        (
            "sipcore_cdr_dropped_total",
            "counter",
            m.cdr_dropped.load(Ordering::Relaxed),
        ),
        (
            "sipcore_cdr_written_total",
            "counter",
            m.cdr_written.load(Ordering::Relaxed),
        ),
        (
            "sipcore_cdr_write_errors_total",
            "counter",
            ld(&m.cdr_write_errors),
        ),
        (
            "sipcore_cdr_open_errors_total",
            "counter",
            ld(&m.cdr_open_errors),
        ),
        ("sipcore_cdr_reopens_total", "counter", ld(&m.cdr_reopens)),
        (
            "sipcore_cdr_unknown_byes_total",
            "counter",
            ld(&m.cdr_unknown_byes),
        ),
        (
            "sipcore_cdr_reinvites_total",
            "counter",
            ld(&m.cdr_reinvites),
        ),
        (
            "sipcore_cdr_calls_expired_total",
            "counter",
            ld(&m.cdr_calls_expired),
        ),
        (
            "sipcore_cdr_calls_evicted_total",
            "counter",
            ld(&m.cdr_calls_evicted),
        ),
        ("sipcore_cdr_calls", "gauge", g.cdr_calls.0 as u64),
        ("sipcore_cdr_calls_bytes", "gauge", g.cdr_calls.1 as u64),
        (
            "sipcore_messages_in_total",
            "counter",
            c.requests_in + c.responses_in,
        ),
        ("sipcore_send_errors_total", "counter", c.send_errors),
        (
            "sipcore_transactions",
            "gauge",
            endpoint.layer().len() as u64,
        ),
        ("sipcore_contexts", "gauge", g.contexts as u64),
        ("sipcore_registrations", "gauge", g.registrations as u64),
        ("sipcore_cdr_queue", "gauge", g.cdr_queue as u64),
        (
            "sipcore_gateways_blacklisted",
            "gauge",
            g.blacklisted as u64,
        ),
        ("sipcore_auth_nonces", "gauge", g.nonces as u64),
    ];
    for (name, kind, v) in simple {
        let _ = writeln!(s, "# TYPE {name} {kind}\n{name} {v}");
    }
    let _ = writeln!(s, "# HELP sipcore_worker_messages_total Datagrams handled per pool worker.\n# TYPE sipcore_worker_messages_total counter");
    let ps = endpoint.ps();
    for w in &ps {
        let _ = writeln!(
            s,
            "sipcore_worker_messages_total{{strategy=\"{}\",worker=\"{}\"}} {}",
            w.strategy, w.id, w.messages
        );
    }
    let _ = writeln!(s, "# TYPE sipcore_worker_busy_seconds_total counter");
    for w in &ps {
        let _ = writeln!(
            s,
            "sipcore_worker_busy_seconds_total{{strategy=\"{}\",worker=\"{}\"}} {:.6}",
            w.strategy,
            w.id,
            w.busy.as_secs_f64()
        );
    }
    let _ = writeln!(s, "# TYPE sipcore_worker_dropped_total counter");
    for w in &ps {
        let _ = writeln!(
            s,
            "sipcore_worker_dropped_total{{strategy=\"{}\",worker=\"{}\"}} {}",
            w.strategy, w.id, w.dropped
        );
    }
    s.push_str(extra);
    s
}

/// Serves `page()` to every HTTP request on `addr`, on its own thread (one connection
/// at a time, 2 s timeouts: this is a scrape endpoint, not a web server).
pub fn serve(
    addr: SocketAddr,
    page: Arc<dyn Fn() -> String + Send + Sync>,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr)?;
    let local = listener.local_addr()?;
    std::thread::Builder::new()
        .name("metrics-http".into())
        .spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
                let _ = conn.set_write_timeout(Some(Duration::from_secs(2)));
                let mut buf = [0u8; 2048];
                let mut got = 0;
                // Read the request head (ignored beyond its end).
                while got < buf.len() {
                    match conn.read(&mut buf[got..]) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            got += n;
                            if buf[..got].windows(4).any(|w| w == b"\r\n\r\n") {
                                break;
                            }
                        }
                    }
                }
                let body = page();
                let head = format!(
                    "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = conn.write_all(head.as_bytes());
                let _ = conn.write_all(body.as_bytes());
            }
        })?;
    Ok(local)
}

/// The TCP transport's figures as Prometheus text (`sipcore_tcp_*`).
pub fn tcp_text(t: &sipcore_tcp::TcpStats) -> String {
    stream_text("tcp", t, false)
}

/// The TLS transport's figures as Prometheus text (`sipcore_tls_*`): the same
/// connection count, queued bytes (TLS records) and events as TCP's, with the
/// handshake outcomes.
pub fn tls_text(t: &sipcore_tcp::TcpStats) -> String {
    stream_text("tls", t, true)
}

fn stream_text(proto: &str, t: &sipcore_tcp::TcpStats, handshakes: bool) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# TYPE sipcore_{proto}_connections gauge\nsipcore_{proto}_connections {}",
        t.connections_open
    );
    let _ = writeln!(
        s,
        "# TYPE sipcore_{proto}_queued_bytes gauge\nsipcore_{proto}_queued_bytes {}",
        t.queued_bytes
    );
    let _ = writeln!(
        s,
        "# TYPE sipcore_{proto}_connections_by_direction gauge\nsipcore_{proto}_connections_by_direction{{direction=\"inbound\"}} {}\nsipcore_{proto}_connections_by_direction{{direction=\"outbound\"}} {}",
        t.inbound_open, t.outbound_open
    );
    let common = [
        ("accepted", t.accepted),
        ("connected", t.connected),
        ("refused", t.refused),
        ("reset", t.reset),
        ("connect_timeouts", t.connect_timeouts),
        ("send_timeouts", t.send_timeouts),
        ("conn_queue_full", t.conn_queue_full),
        ("queue_full", t.queue_full),
        ("framing_errors", t.framing_errors),
    ];
    let tls = [
        ("handshakes", t.handshakes),
        ("handshake_failures", t.handshake_failures),
        ("handshake_timeouts", t.handshake_timeouts),
        ("layer_errors", t.layer_errors),
    ];
    let extra: &[(&str, u64)] = if handshakes { &tls } else { &[] };
    for (name, v) in common.iter().chain(extra) {
        let _ = writeln!(s, "sipcore_{proto}_events_total{{event=\"{name}\"}} {v}");
    }
    s
}

/// The DNS resolver's counters and gauges as Prometheus text.
pub fn dns_text(n: &crate::names::Names) -> String {
    use std::fmt::Write as _;
    let r = n.resolver_stats();
    let st = &n.stats;
    let mut s = String::new();
    for (name, kind, v) in [
        (
            "sipcore_dns_resolutions_total",
            "counter",
            st.resolutions.load(Ordering::Relaxed),
        ),
        (
            "sipcore_dns_resolutions_immediate_total",
            "counter",
            st.immediate.load(Ordering::Relaxed),
        ),
        (
            "sipcore_dns_resolution_failures_total",
            "counter",
            st.failures.load(Ordering::Relaxed),
        ),
        (
            "sipcore_dns_pending_full_total",
            "counter",
            st.busy.load(Ordering::Relaxed),
        ),
        ("sipcore_dns_lookups_total", "counter", r.lookups),
        (
            "sipcore_dns_upstream_queries_total",
            "counter",
            r.upstream_queries,
        ),
        (
            "sipcore_dns_upstream_errors_total",
            "counter",
            r.upstream_errors,
        ),
        ("sipcore_dns_cache_hits_total", "counter", r.cache.hits),
        ("sipcore_dns_cache_entries", "gauge", r.cache.entries as u64),
        ("sipcore_dns_pending", "gauge", n.pending() as u64),
    ] {
        let _ = writeln!(s, "# TYPE {name} {kind}\n{name} {v}");
    }
    s
}
