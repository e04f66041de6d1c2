//! RFC 3263 server location, sans-IO: which (transport, address, port) to try, in which
//! order, for a SIP or SIPS URI.
//!
//! [`Selector`] takes the URI, the transports the caller supports and its address-family
//! preference; it asks for DNS records ([`Selector::poll`] yields [`Next::Query`]) and is
//! fed their answers ([`Selector::answer`]); it yields the candidates one at a time
//! ([`Next::Target`]) so a caller that fails over resolves only as far as it needs. It
//! never touches a socket or a clock: the resolver, its cache and its timeouts belong to
//! the driver, and the weighted SRV choice takes an injected random source
//! ([`WeightRng`]), so every branch is tested on fed-in answers.
//!
//! ```text
//!  URI ─▶ numeric host? ─ yes ─▶ one candidate (transport param, or UDP / TLS)
//!           │ no
//!           ├─ explicit port ─▶ A/AAAA of the host, that port
//!           ├─ transport=  ───▶ SRV for that transport ─▶ (none) A/AAAA, default port
//!           └─ NAPTR ─▶ SIP+D2U/D2T/D2S, SIPS+D2T by order, preference ─▶ SRV ─▶ A/AAAA
//!                 (none usable) ─▶ SRV for each supported transport ─▶ (none) A/AAAA
//! ```
//!
//! What the RFCs leave open, decided here:
//! - NAPTR records that exist but name no supported service count as no NAPTR (§4.1
//!   then falls back to SRV queries), as common resolvers do.
//! - A SIP URI may be reached over `SIPS+D2T` when TLS is supported (RFC 3263 §4.1
//!   allows the client to prefer it); a SIPS URI only over secure transports.
//! - A failed lookup (SERVFAIL, timeout) is skipped like an empty one, but
//!   [`Selector::exhausted`] tells the two apart so a proxy answers 503 for "could not
//!   resolve" and 404/604-style for "no such name".
//! - Addresses are ordered by a reduced RFC 6724 destination sort (precedence, then
//!   scope) and the two families interleaved (RFC 8305 §4), preferred family first.
//! - Everything is bounded: at most [`MAX_QUERIES`] queries and [`MAX_RECORDS`] records
//!   of each answer are looked at, so hostile DNS data cannot make a request expensive.
//!
//! The server name of a candidate is the URI's host (RFC 5922 §4: a TLS server's
//! certificate is checked against the SIP domain, not the SRV target), or none for a
//! numeric host (then the certificate's IP SANs are checked).
//!
//! # Example
//!
//! ```
//! use sipcore::dns::{Answer, Family, Next, Preferences, RecordType, Selector, Srv};
//! use sipcore::transport::TransportKind;
//! use sipcore::uri::SipUri;
//!
//! let uri = SipUri::parse(b"sip:carrier.example;transport=tcp")?;
//! // IPv4 only here; the default is both families, IPv6 first
//! let prefs = Preferences { families: vec![Family::V4], first_family: Family::V4, ..Default::default() };
//! let mut sel = Selector::new(&uri, prefs)?;
//! let mut rng = |bound: u32| bound / 2; // a real driver passes a random source
//! // the selector asks for the SRV records of the transport the URI names
//! let Next::Query(q) = sel.poll(&mut rng) else { panic!() };
//! assert_eq!((q.name.as_str(), q.rtype), ("_sip._tcp.carrier.example", RecordType::Srv));
//! sel.answer(&q, Answer::Srv(vec![Srv::new(10, 0, 5070, "gw1.carrier.example")]));
//! // then the addresses of the SRV target
//! let Next::Query(a) = sel.poll(&mut rng) else { panic!() };
//! assert_eq!((a.name.as_str(), a.rtype), ("gw1.carrier.example", RecordType::A));
//! assert_eq!(sel.poll(&mut rng), Next::Wait);
//! sel.answer(&a, Answer::A(vec!["192.0.2.7".parse()?]));
//! let Next::Target(c) = sel.poll(&mut rng) else { panic!() };
//! assert_eq!(c.transport, TransportKind::Tcp);
//! assert_eq!(c.addr, "192.0.2.7:5070".parse()?);
//! assert_eq!(c.server_name.as_deref(), Some("carrier.example"));
//! assert!(matches!(sel.poll(&mut rng), Next::Exhausted));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Resolving: cache, resolver, hickory
//!
//! The selector only says what to look up. The rest of the module is what a driver
//! looks it up with:
//! - [`Cache`] ([`cache`]): answers by query until their TTL runs out, negative ones
//!   (NXDOMAIN, NODATA) for their negative TTL; bounded in entries and in estimated
//!   bytes, evicting the soonest expiry; sans-IO like the selector.
//! - [`Resolver`] ([`resolver`]): the non-blocking interface, `lookup(query, done)`; the
//!   result reaches the [`Done`] callback, the caller never waits. [`CachingResolver`]
//!   fronts any resolver with the cache, sends one upstream query for concurrent lookups
//!   of the same query, and refuses at once with [`ResolveError::Busy`] past its
//!   in-flight bound (a proxy answers 503); [`CachingResolver::stats`] counts it all.
//! - `hickory` (cargo feature `hickory`): `hickory::HickoryResolver`, the default
//!   resolver, on `hickory-resolver` in a thread of its own; servers from
//!   `/etc/resolv.conf` or an explicit list.
//!
//! What it is not: not a general stub resolver (only NAPTR, SRV, A and AAAA, queried as
//! fully qualified names, no search list and no `/etc/hosts`), no DNSSEC validation, and
//! no failover policy: the caller tries the candidates in order and decides what a failed
//! one means (RFC 3263 §4.3 blacklisting, transaction timeouts are its business).
//!
//! ## Quick start
//!
//! A driver sends every query the selector yields to a resolver and feeds each result
//! back ([`selector_answer`] turns an error into [`Answer::Failed`]). Here a toy resolver
//! answers on the spot; a proxy uses `HickoryResolver` and waits for the callbacks on
//! its event loop, never blocking a worker.
//!
//! ```
//! use std::sync::mpsc;
//! use std::time::Duration;
//! use sipcore::dns::*;
//! use sipcore::uri::SipUri;
//!
//! /// Knows one host.
//! struct Toy;
//! impl Resolver for Toy {
//!     fn lookup(&self, q: Query, done: Done) {
//!         let answer = match (q.name.as_str(), q.rtype) {
//!             ("pbx.example", RecordType::A) => Answer::A(vec!["192.0.2.10".parse().unwrap()]),
//!             _ => Answer::NoRecords,
//!         };
//!         done(Ok(Resolved { answer, ttl: Duration::from_secs(60) }));
//!     }
//! }
//!
//! let resolver = CachingResolver::new(Toy, CachingConfig::default());
//! let uri = SipUri::parse(b"sip:pbx.example:5080")?;
//! let mut sel = Selector::new(&uri, Preferences::default())?;
//! let (tx, rx) = mpsc::channel();
//! let mut rng = |_bound: u32| 0;
//! let mut targets = Vec::new();
//! loop {
//!     match sel.poll(&mut rng) {
//!         Next::Query(q) => {
//!             let tx = tx.clone();
//!             let asked = q.clone();
//!             resolver.lookup(q, Box::new(move |r| { let _ = tx.send((asked, r)); }));
//!         }
//!         Next::Wait => {
//!             let (q, r) = rx.recv()?;
//!             sel.answer(&q, selector_answer(&r));
//!         }
//!         Next::Target(c) => targets.push(c.addr),
//!         Next::Exhausted => break,
//!     }
//! }
//! assert_eq!(targets, vec!["192.0.2.10:5080".parse()?]);
//! assert_eq!(resolver.stats().upstream_queries, 2); // AAAA and A
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod addr;
pub mod cache;
#[cfg(feature = "hickory")]
pub mod hickory;
mod records;
pub mod resolver;
mod select;
mod srv;
#[cfg(test)]
mod tests;

pub use addr::{order_addresses, Family};
pub use cache::{Cache, CacheLimits, CacheStats};
pub use records::{Answer, Naptr, Query, RecordType, Srv};
pub use resolver::{
    selector_answer, CachingConfig, CachingResolver, Done, Reply, ResolveError, Resolved, Resolver,
    ResolverStats,
};
pub use select::{Candidate, Exhausted, Next, Preferences, Selector};
pub use srv::{order_srv, WeightRng};

/// Most DNS queries one selection makes (NAPTR, SRV and A/AAAA together).
pub const MAX_QUERIES: usize = 32;
/// Most records of one answer that are considered (the rest are ignored).
pub const MAX_RECORDS: usize = 16;

/// Why a URI cannot be located.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnsError {
    /// The URI's `transport` parameter names a transport the caller does not support.
    #[error("transport {0:?} is not supported")]
    UnsupportedTransport(String),
    /// A SIPS URI with a transport that cannot be secured (`transport=udp`).
    #[error("a sips: URI cannot be reached over {0}")]
    InsecureTransport(&'static str),
    /// The caller supports no transport usable for this URI.
    #[error("no supported transport for this URI")]
    NoTransport,
}
