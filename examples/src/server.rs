//! Starting the proxy from a [`Config`]: the UDP pools, the TCP and TLS transports,
//! the endpoint, the proxy handler, the CDR writer and the metrics endpoint.

use std::net::SocketAddr;
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
}

impl Running {
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
    let tls = if crate::tls::wanted(cfg) {
        let t = start_tls(cfg, &builder, tls_listen, workers)?;
        for a in t.listeners() {
            interfaces.push((TransportKind::Tls, a));
        }
        builder = builder.stream_transport(Arc::new(t.clone()));
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
    let proxy = Arc::new(Proxy::new(cfg, &interfaces, cdr, metrics.clone(), now));
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
