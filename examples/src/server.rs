//! Starting the proxy from a [`Config`]: the UDP pools, the TCP and TLS transports,
//! the endpoint, the proxy handler, the CDR writer and the metrics endpoint; the
//! orderly stop ([`Running::stop`]: drain, then close and fsync the CDR journal).

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sipcore::endpoint::{Endpoint, EndpointConfig, Handler};
use sipcore::pool::{
    default_workers, DispatcherPool, ReceiverPool, ReusePortPool, SharedSocketPool, DEFAULT_QUEUE,
};
use sipcore::transaction::Config as TxConfig;
use sipcore::transport::udp::UdpConfig;
use sipcore::transport::{Transport, TransportKind};
use sipcore_tcp::{TcpConfig, TcpTransport};
use sipcore_tls::TlsTransport;

use crate::acl::Acl;
use crate::cdr::Cdr;
use crate::config::{Config, PoolKind};
use crate::metrics::{self, Gauges, Metrics};
use crate::proxy::Proxy;

/// Why the proxy could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A socket could not be bound (address in use ...).
    #[error("cannot listen on {addr} ({what}): {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Which transport or service.
        what: &'static str,
        /// Why.
        source: std::io::Error,
    },
    /// The CDR journal could not be opened.
    #[error("cannot open the CDR journal {path}: {source}")]
    Cdr {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The shared location store (`registrar.store = "redis://..."`) could not start.
    #[error("cannot start the location store: {0}")]
    Location(#[from] crate::location_redis::RedisStartError),
    /// The endpoint's threads could not start.
    #[error("cannot start the endpoint: {0}")]
    Endpoint(std::io::Error),
    /// A certificate, key or CA bundle of `[tls]` was refused (a key that does not
    /// match its certificate, an unsupported key type, a bad bundle).
    #[error("config error: {key}: {msg}")]
    Tls {
        /// The configuration key (`tls.cert_file` ...).
        key: &'static str,
        /// The file and the reason.
        msg: String,
    },
}

/// A running proxy.
#[derive(Debug)]
pub struct Running {
    /// The endpoint.
    pub endpoint: Arc<Endpoint>,
    /// The handler.
    pub proxy: Arc<Proxy>,
    /// Bound UDP addresses.
    pub udp: Vec<SocketAddr>,
    /// The TCP transport, when listening on TCP.
    pub tcp: Option<Arc<TcpTransport>>,
    /// The TLS transport, when listening on TLS or connecting out over TLS
    /// (`tls.ca_file` set).
    pub tls: Option<TlsTransport>,
    /// Bound metrics address.
    pub metrics: Option<SocketAddr>,
    /// The `[tls]` section it started with (what [`reload_tls`](Self::reload_tls)
    /// reads again).
    pub tls_section: crate::tls::TlsSection,
}

impl Running {
    /// The orderly stop (SIGTERM, SIGINT): new INVITEs get 503 (reason `draining`)
    /// while in-dialog requests and responses still flow; once no proxied request is
    /// in flight, or after `drain`, [`shutdown`](Self::shutdown): the sockets stop
    /// reading and every queued CDR is written and fsynced. Returns the requests
    /// still in flight when the drain time ran out (0: a clean drain).
    pub fn stop(&self, drain: Duration) -> usize {
        self.proxy.draining.store(true, Ordering::SeqCst);
        let deadline = Instant::now() + drain;
        tracing::info!(
            drain_ms = drain.as_millis() as u64,
            in_flight = self.proxy.calls.in_flight(),
            "draining: new INVITEs get 503"
        );
        let mut left = self.proxy.calls.in_flight();
        while left > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
            left = self.proxy.calls.in_flight();
        }
        if left > 0 {
            tracing::warn!(in_flight = left, "drain time over; stopping anyway");
        }
        self.shutdown();
        let m = &self.proxy.metrics;
        tracing::info!(
            cdr_written = m.cdr_written.load(Ordering::Relaxed),
            cdr_write_errors = m.cdr_write_errors.load(Ordering::Relaxed),
            cdr_dropped = m.cdr_dropped.load(Ordering::Relaxed),
            "stopped"
        );
        left
    }

    /// SIGHUP: the certificate, key and CA files of `[tls]` are read again and used for
    /// the connections accepted and opened from now on; open connections keep theirs
    /// (none is dropped). On an error (unreadable file, key not matching) nothing
    /// changes and the error is returned. `Ok(false)`: no TLS.
    pub fn reload_tls(&self) -> Result<bool, sipcore_tls::TlsError> {
        let Some(tls) = &self.tls else {
            return Ok(false);
        };
        let (server, client) = crate::tls::server_and_client(&self.tls_section);
        // Load both before replacing either, so a bad pair changes nothing.
        if let Some(server) = server {
            tls.reload(server)?;
        }
        tls.reload_client(client)?;
        Ok(true)
    }

    /// SIGHUP: the CDR writer reopens its journal at the configured path.
    pub fn reopen_cdr(&self) {
        if let Some(cdr) = &self.proxy.cdr {
            cdr.reopen();
        }
    }

    /// Stops receiving, lets transactions finish (grace period), flushes the CDRs.
    pub fn shutdown(&self) {
        self.endpoint.shutdown();
        if let Some(t) = &self.tcp {
            t.shutdown();
        }
        if let Some(t) = &self.tls {
            t.shutdown();
        }
        if let Some(cdr) = &self.proxy.cdr {
            cdr.close();
        }
    }
}

fn bind_pool(
    kind: PoolKind,
    cfg: &UdpConfig,
    workers: usize,
) -> std::io::Result<Box<dyn ReceiverPool>> {
    Ok(match kind {
        PoolKind::Shared => Box::new(SharedSocketPool::bind(cfg, workers)?),
        PoolKind::Reuseport => Box::new(ReusePortPool::bind(cfg, workers)?),
        PoolKind::Dispatcher => Box::new(DispatcherPool::bind(cfg, workers, DEFAULT_QUEUE)?),
    })
}

/// Starts everything `cfg` asks for.
pub fn start(cfg: &Config) -> Result<Running, StartError> {
    let now = Instant::now();
    let workers = if cfg.server.workers == 0 {
        default_workers()
    } else {
        cfg.server.workers
    };
    let mut pools = Vec::new();
    let mut interfaces = Vec::new();
    let mut udp = Vec::new();
    let mut tcp_listen = Vec::new();
    let mut tls_listen = Vec::new();
    for l in cfg.listens() {
        if l.udp {
            let mut u = UdpConfig::new(l.addr);
            if cfg.server.udp_recv_buffer > 0 {
                u.recv_buffer = Some(cfg.server.udp_recv_buffer);
            }
            if cfg.server.udp_queue_delay_ms > 0 {
                u.queue_bound = Some(sipcore::pool::QueueBound {
                    target_delay: Duration::from_millis(cfg.server.udp_queue_delay_ms),
                    max_bytes: cfg.server.udp_recv_buffer.max(64 << 10),
                    ..Default::default()
                });
            }
            let pool =
                bind_pool(cfg.server.pool, &u, workers).map_err(|source| StartError::Bind {
                    addr: l.addr,
                    what: "udp",
                    source,
                })?;
            let bound = pool.transport().local_addr();
            interfaces.push((TransportKind::Udp, bound));
            udp.push(bound);
            pools.push(pool);
        }
        if l.tcp {
            tcp_listen.push(l.addr);
        }
        if l.tls {
            tls_listen.push(l.addr);
        }
    }
    let ep_cfg = EndpointConfig {
        transaction: TxConfig {
            max_transactions: cfg.server.max_transactions,
            timer_c: cfg.timer_c(),
            no_response_timeout: (cfg.server.no_response_ms > 0)
                .then(|| Duration::from_millis(cfg.server.no_response_ms)),
            ..TxConfig::default()
        },
        retry_after: cfg.server.retry_after_secs,
        // The drain of `Running::stop` comes first; after it, with the sockets closed,
        // the transactions left only wait for their timers.
        shutdown_grace: Duration::from_millis(200),
        ..EndpointConfig::default()
    };
    raise_nofile(cfg, !tcp_listen.is_empty());
    let mut builder = Endpoint::builder(ep_cfg);
    for p in pools {
        builder = builder.udp_pool(p);
    }
    let tcp = if tcp_listen.is_empty() {
        None
    } else {
        let mut tcp_cfg = TcpConfig::default();
        tcp_cfg.listen = tcp_listen.clone();
        tcp_cfg.workers = workers;
        crate::tcp::apply(&cfg.tcp, &mut tcp_cfg);
        let t = TcpTransport::start(tcp_cfg, builder.sink(), builder.transport_events()).map_err(
            |source| StartError::Bind {
                addr: tcp_listen[0],
                what: "tcp",
                source,
            },
        )?;
        let t = Arc::new(t);
        for a in t.listeners() {
            interfaces.push((TransportKind::Tcp, a));
        }
        builder = builder.stream_transport(t.clone());
        Some(t)
    };
    let tls_names = Arc::new(crate::tls::ServerNames::default());
    let tls = if crate::tls::wanted(cfg) {
        let t = start_tls(cfg, &builder, tls_listen, workers)?;
        for a in t.listeners() {
            interfaces.push((TransportKind::Tls, a));
        }
        builder = builder.stream_transport(Arc::new(crate::tls::NamedTls {
            inner: t.clone(),
            names: tls_names.clone(),
        }));
        Some(t)
    } else {
        None
    };
    let metrics = Arc::new(Metrics::default());
    let cdr = if cfg.cdr.enabled {
        Some(
            Cdr::start(&cfg.cdr, metrics.clone()).map_err(|source| StartError::Cdr {
                path: cfg.cdr.path.clone(),
                source,
            })?,
        )
    } else {
        None
    };
    if cfg.registrar.enabled && !cfg.auth.register {
        tracing::warn!(
            "registrar without auth.register: anyone can register any address of record here"
        );
    }
    let mut proxy = Proxy::new(cfg, &interfaces, cdr, metrics.clone(), now);
    proxy.tls_names = tls_names;
    if cfg.registrar.enabled && cfg.registrar.store != "memory" {
        let store = crate::location_redis::RedisLocation::start(
            &crate::location_redis::RedisConfig::from_registrar(&cfg.registrar),
        )?;
        proxy.registrar = Some(crate::registrar::Registrar::with_store(
            &cfg.registrar,
            Box::new(store),
        ));
    }
    let proxy = Arc::new(proxy);
    let handler: Arc<dyn Handler> = proxy.clone();
    if cfg.server.rate_limit > 0.0 {
        let limit = sipcore::endpoint::SourceRateLimit::new(sipcore::endpoint::RateLimitConfig {
            rate: cfg.server.rate_limit,
            burst: cfg.server.rate_burst,
            action: match cfg.server.rate_limit_action {
                crate::config::RateAction::Refuse => sipcore::endpoint::OverLimit::Refuse,
                crate::config::RateAction::Drop => sipcore::endpoint::OverLimit::Drop,
            },
            ..Default::default()
        });
        builder = builder.admission(Arc::new(crate::acl::SourceLimit::new(
            Acl::new(&cfg.acl),
            limit,
        )));
    }
    let endpoint = Arc::new(builder.start(handler).map_err(StartError::Endpoint)?);
    proxy.attach(&endpoint);
    let metrics_addr = match cfg
        .metrics
        .listen
        .as_deref()
        .and_then(|m| m.parse::<SocketAddr>().ok())
    {
        Some(addr) => {
            let (ep, px, tc, tl) = (endpoint.clone(), proxy.clone(), tcp.clone(), tls.clone());
            let page = Arc::new(move || {
                let g = Gauges {
                    contexts: px.calls.len(),
                    registrations: px.registrar.as_ref().map_or(0, |r| r.len()),
                    cdr_queue: px.cdr.as_ref().map_or(0, |c| c.depth()),
                    cdr_calls: px.cdr.as_ref().map_or((0, 0), |c| c.answered_calls()),
                    blacklisted: px.routes.blacklisted(Instant::now()),
                    nonces: px.auth.as_ref().map_or(0, |a| a.tracked_nonces()),
                };
                let mut extra = tc
                    .as_ref()
                    .map(|t| metrics::tcp_text(&t.stats()))
                    .unwrap_or_default();
                if let Some(t) = &tl {
                    extra.push_str(&metrics::tls_text(&t.stats()));
                }
                if let Some(n) = &px.names {
                    extra.push_str(&metrics::dns_text(n));
                }
                if let Some(r) = &px.registrar {
                    extra.push_str(&r.metrics_text());
                }
                metrics::render(&px.metrics, &ep, g, &extra)
            });
            Some(
                metrics::serve(addr, page).map_err(|source| StartError::Bind {
                    addr,
                    what: "metrics",
                    source,
                })?,
            )
        }
        None => None,
    };
    tracing::info!(?udp, tcp = ?tcp.as_ref().map(|t| t.listeners()), tls = ?tls.as_ref().map(|t| t.listeners()), next_hop = ?cfg.next_hop(), workers, pool = ?cfg.server.pool, "sipcore-proxy listening");
    Ok(Running {
        endpoint,
        proxy,
        udp,
        tcp,
        tls,
        metrics: metrics_addr,
        tls_section: cfg.tls.clone(),
    })
}

/// Raises `RLIMIT_NOFILE` for the connection limits of the TCP and TLS transports
/// (`[tcp]` applies to each) and says so when the limit caps them.
fn raise_nofile(cfg: &Config, tcp: bool) {
    let transports = u64::from(tcp) + u64::from(crate::tls::wanted(cfg));
    if transports == 0 {
        return;
    }
    let wanted = (cfg.tcp.max_connections as u64).saturating_mul(transports);
    let n = crate::tcp::raise_nofile(wanted);
    if let Some(room) = n.caps() {
        tracing::warn!(
            limit = n.now,
            hard_limit_reached = true,
            max_connections = cfg.tcp.max_connections,
            "RLIMIT_NOFILE {} caps tcp.max_connections {} (x{transports} transports): about {room} connections fit; raise the hard limit (ulimit -Hn, LimitNOFILE=)",
            n.now,
            cfg.tcp.max_connections
        );
    } else if n.now != n.before {
        tracing::info!(from = n.before, to = n.now, "raised RLIMIT_NOFILE");
    }
}

/// Starts the TLS transport on `listen` (possibly none: it then only connects out).
fn start_tls(
    cfg: &Config,
    builder: &sipcore::endpoint::EndpointBuilder,
    listen: Vec<SocketAddr>,
    workers: usize,
) -> Result<TlsTransport, StartError> {
    let first = listen.first().copied();
    let tls_cfg = crate::tls::transport_config(cfg, listen, workers);
    TlsTransport::start(tls_cfg, builder.sink(), builder.transport_events()).map_err(|e| {
        match crate::tls::describe_error(cfg, &e) {
            Some((key, msg)) => StartError::Tls { key, msg },
            None => StartError::Bind {
                addr: first.unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0))),
                what: "tls",
                source: match e {
                    sipcore_tls::TlsError::Io(kind) => std::io::Error::from(kind),
                    other => std::io::Error::other(other.to_string()),
                },
            },
        }
    })
}
