//! The default [`Resolver`]: `hickory-resolver` on a thread of its own (cargo feature
//! `hickory`).
//!
//! [`HickoryResolver::start`] spawns one thread running a current-thread tokio runtime;
//! [`Resolver::lookup`] hands the query to it through a bounded channel and returns at
//! once (a full channel answers [`ResolveError::Busy`] at once). The thread runs at most
//! [`HickoryConfig::max_in_flight`] lookups at a time; each calls its [`Done`] from that
//! thread. hickory's own cache is off (put a [`CachingResolver`](super::CachingResolver)
//! in front), names are queried as given, fully qualified (no search list, `ndots` 0),
//! and NXDOMAIN / NODATA become [`Answer::NoRecords`] with the negative TTL of the
//! response's SOA (RFC 2308 §5), or [`HickoryConfig::negative_ttl`] without one.
//!
//! Dropping the resolver stops the thread; lookups not answered by then are answered
//! [`ResolveError::Shutdown`].
//!
//! ```no_run
//! use std::time::Duration;
//! use sipcore::dns::hickory::{HickoryConfig, HickoryResolver, Servers};
//! use sipcore::dns::{CachingConfig, CachingResolver, Query, RecordType, Resolver};
//!
//! // the servers of /etc/resolv.conf; `Servers::Explicit(vec![addr])` for --dns-server
//! let upstream = HickoryResolver::start(HickoryConfig {
//!     servers: Servers::System,
//!     timeout: Duration::from_secs(1),
//!     ..HickoryConfig::default()
//! })?;
//! let resolver = CachingResolver::new(upstream, CachingConfig::default());
//! resolver.lookup(
//!     Query::new("_sip._udp.example.com", RecordType::Srv),
//!     Box::new(|result| println!("{result:?}")), // on the resolver's thread
//! );
//! # Ok::<(), sipcore::dns::hickory::HickoryError>(())
//! ```

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{RData, Record, RecordType as WireType};
use hickory_resolver::proto::xfer::Protocol;
use hickory_resolver::proto::ProtoErrorKind;
use hickory_resolver::{Name, ResolveErrorKind, TokioResolver};
use tokio::sync::{mpsc, Semaphore};

use super::records::{normalise, Answer, Naptr, Query, RecordType, Srv};
use super::resolver::{Done, Reply, ResolveError, Resolved, Resolver};
use super::MAX_RECORDS;

/// Which servers to ask.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Servers {
    /// The name servers of the system configuration (`/etc/resolv.conf`; its options
    /// are not used, [`HickoryConfig`]'s are).
    #[default]
    System,
    /// These servers, each over UDP and over TCP (for truncated answers).
    Explicit(Vec<SocketAddr>),
}

/// How a [`HickoryResolver`] asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HickoryConfig {
    /// The servers.
    pub servers: Servers,
    /// How long one attempt waits for an answer.
    pub timeout: Duration,
    /// Attempts after the first one fails.
    pub attempts: usize,
    /// Most lookups queued for the resolver thread; past it, [`ResolveError::Busy`].
    pub queue: usize,
    /// Most lookups the resolver thread runs at once (the rest wait in the queue).
    pub max_in_flight: usize,
    /// The negative TTL of an NXDOMAIN / NODATA answer that carries no SOA.
    pub negative_ttl: Duration,
}

impl Default for HickoryConfig {
    /// The system's servers; 2 s a try, 2 retries; 1024 queued, 256 at once; 30 s
    /// negative TTL without an SOA.
    fn default() -> Self {
        HickoryConfig {
            servers: Servers::System,
            timeout: Duration::from_secs(2),
            attempts: 2,
            queue: 1024,
            max_in_flight: 256,
            negative_ttl: Duration::from_secs(30),
        }
    }
}

/// Why a [`HickoryResolver`] cannot start.
#[derive(Debug, thiserror::Error)]
pub enum HickoryError {
    /// The system DNS configuration could not be read.
    #[error("cannot read the system DNS configuration")]
    SystemConfig(#[source] hickory_resolver::ResolveError),
    /// No server to ask.
    #[error("no DNS server configured")]
    NoServers,
    /// A bound of zero would refuse every lookup.
    #[error("the queue and in-flight bounds must be at least 1")]
    ZeroBound,
    /// The thread or its runtime could not be started.
    #[error("cannot start the resolver thread")]
    Start(#[source] std::io::Error),
    /// The thread ended (panicked) before the resolver was built.
    #[error("the resolver thread ended while starting")]
    ThreadEnded,
}

type Request = (Query, Reply);

/// `hickory-resolver` on its own thread (see the [module docs](self)).
pub struct HickoryResolver {
    tx: Option<mpsc::Sender<Request>>,
    thread: Option<JoinHandle<()>>,
    servers: Vec<SocketAddr>,
}

impl HickoryResolver {
    /// Reads the configuration, starts the thread, and returns once the resolver is
    /// built.
    pub fn start(config: HickoryConfig) -> Result<HickoryResolver, HickoryError> {
        if config.queue == 0 || config.max_in_flight == 0 {
            return Err(HickoryError::ZeroBound);
        }
        let resolver_config = match &config.servers {
            Servers::System => {
                let (system, _options) = hickory_resolver::system_conf::read_system_conf()
                    .map_err(HickoryError::SystemConfig)?;
                // only its servers: no search list, no domain
                let mut c = ResolverConfig::new();
                for ns in system.name_servers() {
                    c.add_name_server(ns.clone());
                }
                c
            }
            Servers::Explicit(addrs) => {
                let mut c = ResolverConfig::new();
                for &addr in addrs {
                    for protocol in [Protocol::Udp, Protocol::Tcp] {
                        let mut ns = NameServerConfig::new(addr, protocol);
                        ns.trust_negative_responses = true;
                        c.add_name_server(ns);
                    }
                }
                c
            }
        };
        let mut servers: Vec<SocketAddr> = resolver_config
            .name_servers()
            .iter()
            .map(|ns| ns.socket_addr)
            .collect();
        servers.dedup();
        if servers.is_empty() {
            return Err(HickoryError::NoServers);
        }
        let mut opts = ResolverOpts::default();
        opts.cache_size = 0;
        opts.ndots = 0;
        opts.timeout = config.timeout;
        opts.attempts = config.attempts;
        opts.edns0 = true;
        opts.preserve_intermediates = true;

        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(HickoryError::Start)?;
        let (tx, rx) = mpsc::channel::<Request>(config.queue);
        let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel::<()>(1);
        let max_in_flight = config.max_in_flight;
        let negative_ttl = config.negative_ttl;
        let thread = std::thread::Builder::new()
            .name("sipcore-dns".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let resolver = TokioResolver::builder_with_config(
                        resolver_config,
                        TokioConnectionProvider::default(),
                    )
                    .with_options(opts)
                    .build();
                    // start() may have given up waiting; nothing to tell then
                    let _ = ready_tx.send(());
                    serve(resolver, rx, max_in_flight, negative_ttl).await;
                });
            })
            .map_err(HickoryError::Start)?;
        if ready_rx.recv().is_err() {
            // the thread ended before the resolver was built: it panicked
            let _ = thread.join();
            return Err(HickoryError::ThreadEnded);
        }
        Ok(HickoryResolver {
            tx: Some(tx),
            thread: Some(thread),
            servers,
        })
    }

    /// The servers it asks.
    pub fn servers(&self) -> &[SocketAddr] {
        &self.servers
    }
}

impl Resolver for HickoryResolver {
    fn lookup(&self, query: Query, done: Done) {
        let reply = Reply::new(done);
        let Some(tx) = &self.tx else {
            reply.send(Err(ResolveError::Shutdown));
            return;
        };
        match tx.try_send((query, reply)) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full((_, reply))) => reply.send(Err(ResolveError::Busy)),
            Err(mpsc::error::TrySendError::Closed((_, reply))) => {
                reply.send(Err(ResolveError::Shutdown))
            }
        }
    }
}

impl Drop for HickoryResolver {
    fn drop(&mut self) {
        // closing the channel ends the thread's loop; its runtime then drops the
        // lookups still running, whose replies answer Shutdown
        self.tx = None;
        if let Some(thread) = self.thread.take() {
            // dropped from a callback on the resolver thread itself: it ends on its own
            if thread.thread().id() != std::thread::current().id() {
                let _ = thread.join();
            }
        }
    }
}

impl fmt::Debug for HickoryResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HickoryResolver")
            .field("servers", &self.servers)
            .field("running", &self.tx.is_some())
            .finish()
    }
}

/// The resolver thread's loop: one task a lookup, at most `max_in_flight` at once.
async fn serve(
    resolver: TokioResolver,
    mut rx: mpsc::Receiver<Request>,
    max_in_flight: usize,
    negative_ttl: Duration,
) {
    let limit = Arc::new(Semaphore::new(max_in_flight));
    while let Some((query, reply)) = rx.recv().await {
        let Ok(permit) = Arc::clone(&limit).acquire_owned().await else {
            break;
        };
        let resolver = resolver.clone();
        tokio::spawn(async move {
            let result = lookup(&resolver, &query, negative_ttl).await;
            drop(permit);
            reply.send(result);
        });
    }
}

async fn lookup(
    resolver: &TokioResolver,
    query: &Query,
    negative_ttl: Duration,
) -> Result<Resolved, ResolveError> {
    let mut name = Name::from_ascii(&query.name).map_err(|_| ResolveError::InvalidName)?;
    name.set_fqdn(true);
    let wire = match query.rtype {
        RecordType::Naptr => WireType::NAPTR,
        RecordType::Srv => WireType::SRV,
        RecordType::A => WireType::A,
        RecordType::Aaaa => WireType::AAAA,
    };
    match resolver.lookup(name, wire).await {
        Ok(found) => Ok(convert(query.rtype, found.records(), negative_ttl)),
        Err(e) => map_error(&e, negative_ttl),
    }
}

/// The records of the asked type (at most [`MAX_RECORDS`]), kept for the smallest TTL
/// of the whole answer (a CNAME on the way included).
pub(crate) fn convert(rtype: RecordType, records: &[Record], negative_ttl: Duration) -> Resolved {
    let ttl = records.iter().map(Record::ttl).min();
    let data = records.iter().map(Record::data);
    let answer = match rtype {
        RecordType::A => Answer::A(
            data.filter_map(|d| match d {
                RData::A(a) => Some(a.0),
                _ => None,
            })
            .take(MAX_RECORDS)
            .collect(),
        ),
        RecordType::Aaaa => Answer::Aaaa(
            data.filter_map(|d| match d {
                RData::AAAA(a) => Some(a.0),
                _ => None,
            })
            .take(MAX_RECORDS)
            .collect(),
        ),
        RecordType::Srv => Answer::Srv(
            data.filter_map(|d| match d {
                RData::SRV(s) => Some(Srv {
                    priority: s.priority(),
                    weight: s.weight(),
                    port: s.port(),
                    target: normalise(&s.target().to_ascii()),
                }),
                _ => None,
            })
            .take(MAX_RECORDS)
            .collect(),
        ),
        RecordType::Naptr => Answer::Naptr(
            data.filter_map(|d| match d {
                RData::NAPTR(n) => Some(Naptr {
                    order: n.order(),
                    preference: n.preference(),
                    flags: String::from_utf8_lossy(n.flags()).into_owned(),
                    services: String::from_utf8_lossy(n.services()).into_owned(),
                    replacement: normalise(&n.replacement().to_ascii()),
                }),
                _ => None,
            })
            .take(MAX_RECORDS)
            .collect(),
        ),
    };
    if answer.has_records() {
        Resolved {
            answer,
            ttl: Duration::from_secs(ttl.unwrap_or(0).into()),
        }
    } else {
        Resolved {
            answer: Answer::NoRecords,
            ttl: negative_ttl,
        }
    }
}

/// hickory's error as ours; "no records" (NXDOMAIN, NODATA) is an answer, not an error.
fn map_error(
    e: &hickory_resolver::ResolveError,
    negative_ttl: Duration,
) -> Result<Resolved, ResolveError> {
    let ResolveErrorKind::Proto(proto) = e.kind() else {
        return Err(ResolveError::Other);
    };
    Err(match proto.kind() {
        ProtoErrorKind::NoRecordsFound {
            response_code,
            negative_ttl: soa_ttl,
            ..
        } => match *response_code {
            ResponseCode::NXDomain | ResponseCode::NoError => {
                return Ok(Resolved {
                    answer: Answer::NoRecords,
                    ttl: soa_ttl
                        .map(|s| Duration::from_secs(s.into()))
                        .unwrap_or(negative_ttl),
                })
            }
            ResponseCode::ServFail => ResolveError::ServerFailure,
            ResponseCode::Refused => ResolveError::Refused,
            code => ResolveError::ResponseCode(code.into()),
        },
        ProtoErrorKind::Timeout => ResolveError::Timeout,
        ProtoErrorKind::Io(io) => ResolveError::Io(io.kind()),
        ProtoErrorKind::NoConnections => ResolveError::Io(std::io::ErrorKind::NotConnected),
        ProtoErrorKind::RequestRefused => ResolveError::Refused,
        ProtoErrorKind::Busy => ResolveError::Busy,
        _ => ResolveError::Malformed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_resolver::proto::rr::rdata::{A, CNAME, NAPTR, SRV};
    use hickory_resolver::proto::ProtoError;

    fn name(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    fn rec(ttl: u32, data: RData) -> Record {
        Record::from_rdata(name("h.example."), ttl, data)
    }

    const NEG: Duration = Duration::from_secs(30);

    #[test]
    fn records_of_the_asked_type_with_the_smallest_ttl() {
        let recs = vec![
            rec(300, RData::CNAME(CNAME(name("real.example.")))),
            rec(60, RData::A(A::new(192, 0, 2, 1))),
            rec(120, RData::A(A::new(192, 0, 2, 2))),
        ];
        let r = convert(RecordType::A, &recs, NEG);
        assert_eq!(
            r.answer,
            Answer::A(vec![
                "192.0.2.1".parse().unwrap(),
                "192.0.2.2".parse().unwrap()
            ])
        );
        assert_eq!(r.ttl, Duration::from_secs(60));
        // only a CNAME: no records of the type, a negative answer
        let r = convert(RecordType::A, &recs[..1], NEG);
        assert_eq!((r.answer, r.ttl), (Answer::NoRecords, NEG));
    }

    #[test]
    fn srv_and_naptr_names_are_normalised_and_records_bounded() {
        let srv = RData::SRV(SRV::new(10, 5, 5060, name("GW.Example.")));
        let r = convert(RecordType::Srv, &[rec(10, srv)], NEG);
        assert_eq!(
            r.answer,
            Answer::Srv(vec![Srv::new(10, 5, 5060, "gw.example")])
        );
        let naptr = RData::NAPTR(NAPTR::new(
            10,
            20,
            b"S".to_vec().into(),
            b"SIP+D2U".to_vec().into(),
            Box::default(),
            name("_sip._udp.example."),
        ));
        let r = convert(RecordType::Naptr, &[rec(10, naptr)], NEG);
        let mut want = Naptr::new(10, 20, "SIP+D2U", "_sip._udp.example");
        want.flags = "S".into();
        assert_eq!(r.answer, Answer::Naptr(vec![want]));
        let many: Vec<Record> = (0..40u8)
            .map(|i| rec(10, RData::A(A::new(192, 0, 2, i))))
            .collect();
        let Answer::A(v) = convert(RecordType::A, &many, NEG).answer else {
            panic!("not A")
        };
        assert_eq!(v.len(), MAX_RECORDS);
    }

    fn err(kind: ProtoErrorKind) -> hickory_resolver::ResolveError {
        ProtoError::from(kind).into()
    }

    fn no_records(code: ResponseCode, negative_ttl: Option<u32>) -> ProtoErrorKind {
        ProtoErrorKind::NoRecordsFound {
            query: Box::default(),
            soa: None,
            ns: None,
            negative_ttl,
            response_code: code,
            trusted: true,
            authorities: None,
        }
    }

    #[test]
    fn errors_map_to_typed_causes() {
        let neg = |code, ttl| map_error(&err(no_records(code, ttl)), NEG);
        let no = |secs| {
            Ok(Resolved {
                answer: Answer::NoRecords,
                ttl: Duration::from_secs(secs),
            })
        };
        assert_eq!(neg(ResponseCode::NXDomain, Some(120)), no(120));
        assert_eq!(neg(ResponseCode::NoError, None), no(30));
        assert_eq!(
            neg(ResponseCode::ServFail, None),
            Err(ResolveError::ServerFailure)
        );
        assert_eq!(neg(ResponseCode::Refused, None), Err(ResolveError::Refused));
        assert_eq!(
            neg(ResponseCode::NotImp, None),
            Err(ResolveError::ResponseCode(4))
        );
        assert_eq!(
            map_error(&err(ProtoErrorKind::Timeout), NEG),
            Err(ResolveError::Timeout)
        );
        let io = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(
            map_error(&err(ProtoErrorKind::Io(Arc::new(io))), NEG),
            Err(ResolveError::Io(std::io::ErrorKind::ConnectionRefused))
        );
    }
}
