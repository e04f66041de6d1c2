//! Host names in destinations: RFC 3263 resolution of next hops, gateways, relayed
//! Request-URIs and Routes, driving sipcore's sans-IO [`Selector`] with a caching
//! resolver (hickory on its own thread).
//!
//! A lookup never blocks a receiver worker. When every record the selector needs is in
//! the cache, [`Names::resolve`] answers at once ([`Resolution::Ready`]) and the branch
//! starts in the same handler call; otherwise the request waits in a bounded pending
//! state ([`Resolution::Pending`]) and the callback starts it from the resolver's
//! thread. Past `dns.max_pending` resolutions in progress, [`Resolution::Busy`]: the
//! proxy answers 503 + Retry-After.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use sipcore::dns::hickory::{HickoryConfig, HickoryError, HickoryResolver, Servers};
use sipcore::dns::{
    resolver::selector_answer, CacheLimits, CachingConfig, CachingResolver, Candidate, Exhausted,
    Next, Preferences, Query, Resolver, ResolverStats, Selector, WeightRng,
};
use sipcore::uri::{SipUri, Uri};

use crate::config::DnsConfig;

/// Candidates kept per resolution (the failover list of one destination).
pub const MAX_CANDIDATES: usize = 8;

/// What a resolution came to.
pub type Outcome = Result<Vec<Candidate>, Exhausted>;

/// Called once with the outcome of a [`Resolution::Pending`] lookup, on the resolver's
/// thread.
pub type OnResolved = Box<dyn FnOnce(Outcome) + Send>;

/// The immediate answer of [`Names::resolve`].
#[derive(Debug)]
pub enum Resolution {
    /// Answered from the cache (or the URI is numeric): the candidates in order.
    Ready(Outcome),
    /// Being looked up: the callback will be called.
    Pending,
    /// Too many resolutions in progress.
    Busy,
}

/// DNS counters for the metrics page.
#[derive(Debug, Default)]
pub struct NameStats {
    /// Resolutions started.
    pub resolutions: AtomicU64,
    /// Of those, answered from the cache at once.
    pub immediate: AtomicU64,
    /// Resolutions that found no candidate (NXDOMAIN or failures).
    pub failures: AtomicU64,
    /// Refused: the pending table was full.
    pub busy: AtomicU64,
}

/// xorshift64 seeded at random per resolution: SRV weights need spread, not secrecy.
struct Spread(u64);

impl WeightRng for Spread {
    fn pick(&mut self, bound: u32) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % (u64::from(bound) + 1)) as u32
    }
}

struct Job {
    selector: Selector,
    /// The smallest TTL of the answers used (how long the result may be reused).
    min_ttl: Option<Duration>,
    rng: Spread,
    found: Vec<Candidate>,
    result: Option<Outcome>,
    /// Finished: late answers of queries still in flight are ignored.
    finished: bool,
    /// The caller has returned: completion goes to `on_done`.
    detached: bool,
    on_done: Option<OnResolved>,
}

/// The resolver, its cache and the pending-resolution bound.
pub struct Names {
    resolver: Arc<CachingResolver<HickoryResolver>>,
    pending: Arc<AtomicUsize>,
    max_pending: usize,
    seed: RandomState,
    /// Resolutions so far: with `seed`, a different SRV weight draw for each one.
    serial: AtomicU64,
    /// Finished resolutions by URI, until the smallest TTL of their answers: a request
    /// to a cached destination costs a map lookup and a new weighted SRV draw, not a
    /// run of the selector over the DNS cache.
    results: Arc<Results>,
    /// Counters.
    pub stats: Arc<NameStats>,
}

impl std::fmt::Debug for Names {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Names")
            .field("pending", &self.pending.load(Ordering::Relaxed))
            .field("max_pending", &self.max_pending)
            .finish()
    }
}

impl Names {
    /// Starts the resolver thread with `cfg` (`servers` empty: `/etc/resolv.conf`).
    pub fn start(cfg: &DnsConfig) -> Result<Names, HickoryError> {
        let servers = if cfg.servers.is_empty() {
            Servers::System
        } else {
            Servers::Explicit(cfg.servers.iter().filter_map(|s| s.parse().ok()).collect())
        };
        let hickory = HickoryResolver::start(HickoryConfig {
            servers,
            timeout: Duration::from_millis(cfg.timeout_ms),
            attempts: cfg.attempts,
            ..HickoryConfig::default()
        })?;
        let resolver = CachingResolver::new(
            hickory,
            CachingConfig {
                cache: CacheLimits {
                    max_entries: cfg.cache_entries,
                    max_bytes: cfg.cache_bytes,
                    ..CacheLimits::default()
                },
                ..CachingConfig::default()
            },
        );
        Ok(Names {
            resolver: Arc::new(resolver),
            pending: Arc::default(),
            max_pending: cfg.max_pending,
            seed: RandomState::new(),
            serial: AtomicU64::new(0),
            results: Arc::default(),
            stats: Arc::default(),
        })
    }

    /// The resolver's counters (lookups, cache, upstream).
    pub fn resolver_stats(&self) -> ResolverStats {
        self.resolver.stats()
    }

    /// Resolutions in progress.
    pub fn pending(&self) -> usize {
        self.pending.load(Ordering::Relaxed)
    }

    /// Resolves `uri` (a SIP or SIPS URI) into its candidates, most preferred first, at
    /// `now`. (The preferences are the proxy's, the same for every call: they are not
    /// part of the result cache's key.)
    pub fn resolve(
        &self,
        uri: &str,
        prefs: Preferences,
        now: Instant,
        on_done: OnResolved,
    ) -> Resolution {
        let mut rng = Spread(
            self.seed
                .hash_one((uri, self.serial.fetch_add(1, Ordering::Relaxed)))
                | 1,
        );
        if let Some(list) = self.cached(uri, now) {
            self.stats.resolutions.fetch_add(1, Ordering::Relaxed);
            self.stats.immediate.fetch_add(1, Ordering::Relaxed);
            return Resolution::Ready(Ok(reweigh(&list, &mut rng)));
        }
        let selector = match Uri::parse(uri.as_bytes()) {
            Ok(Uri::Sip(s)) => Selector::new(&s, prefs),
            _ => match SipUri::parse(uri.as_bytes()) {
                Ok(s) => Selector::new(&s, prefs),
                Err(_) => return Resolution::Ready(Err(Exhausted::NotFound)),
            },
        };
        let Ok(selector) = selector else {
            return Resolution::Ready(Err(Exhausted::NotFound));
        };
        self.stats.resolutions.fetch_add(1, Ordering::Relaxed);
        let taken = self
            .pending
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max_pending).then_some(n + 1)
            });
        if taken.is_err() {
            self.stats.busy.fetch_add(1, Ordering::Relaxed);
            return Resolution::Busy;
        }
        let job = Arc::new(Mutex::new(Job {
            selector,
            rng,
            min_ttl: None,
            found: Vec::new(),
            result: None,
            finished: false,
            detached: false,
            on_done: Some(on_done),
        }));
        let ctx = Arc::new(Driver {
            resolver: self.resolver.clone(),
            pending: self.pending.clone(),
            stats: self.stats.clone(),
            results: self.results.clone(),
            uri: uri.to_string(),
            now,
        });
        ctx.step(&job);
        let mut j = job.lock();
        match j.result.take().filter(|_| j.finished) {
            Some(outcome) => {
                self.stats.immediate.fetch_add(1, Ordering::Relaxed);
                j.on_done = None;
                Resolution::Ready(outcome)
            }
            None => {
                j.detached = true;
                Resolution::Pending
            }
        }
    }
}

/// What the lookup callbacks need.
struct Driver {
    resolver: Arc<CachingResolver<HickoryResolver>>,
    pending: Arc<AtomicUsize>,
    stats: Arc<NameStats>,
    results: Arc<Results>,
    uri: String,
    /// When the resolution started (the cached result's TTL counts from it).
    now: Instant,
}

/// Finished resolutions by URI: until when, and the candidates.
type Results = Mutex<HashMap<String, (Instant, Arc<Vec<Candidate>>)>>;

/// Results kept at most (the table starts over beyond: a resolution is then redone).
const RESULTS: usize = 4096;

/// RFC 2782's weighted order drawn again over a kept candidate list: within each run
/// of one transport and SRV priority, the SRV targets (their addresses kept together
/// and in order) are ordered by weight; everything else keeps its place.
fn reweigh(list: &[Candidate], rng: &mut Spread) -> Vec<Candidate> {
    let mut out = Vec::with_capacity(list.len());
    let mut i = 0;
    while i < list.len() {
        let Some((prio, _)) = list[i].srv else {
            out.push(list[i].clone());
            i += 1;
            continue;
        };
        let kind = list[i].transport;
        let mut j = i;
        while j < list.len() && list[j].transport == kind && list[j].srv.map(|s| s.0) == Some(prio)
        {
            j += 1;
        }
        // The targets of this priority group, each a block of its addresses.
        let mut blocks: Vec<(u32, &[Candidate])> = Vec::new();
        let mut k = i;
        while k < j {
            let from = &list[k].resolved_from;
            let mut e = k;
            while e < j && &list[e].resolved_from == from {
                e += 1;
            }
            let weight = list[k].srv.map_or(0, |s| u32::from(s.1));
            blocks.push((weight, &list[k..e]));
            k = e;
        }
        // Zero weights first (RFC 2782), then draws proportional to the weights.
        blocks.sort_by_key(|b| b.0 != 0);
        while !blocks.is_empty() {
            let total: u32 = blocks.iter().map(|b| b.0).sum();
            let pick = rng.pick(total);
            let mut run = 0;
            let at = blocks
                .iter()
                .position(|b| {
                    run += b.0;
                    run >= pick
                })
                .unwrap_or(0);
            out.extend_from_slice(blocks.remove(at).1);
        }
        i = j;
    }
    out
}

impl Names {
    /// The candidates of `uri` if a resolution of it is still fresh at `now` (the
    /// weighted SRV order drawn anew): the cheap path, to try before
    /// [`resolve`](Self::resolve) builds its callback.
    pub fn lookup_cached(&self, uri: &str, now: Instant) -> Option<Vec<Candidate>> {
        let list = self.cached(uri, now)?;
        self.stats.resolutions.fetch_add(1, Ordering::Relaxed);
        self.stats.immediate.fetch_add(1, Ordering::Relaxed);
        let mut rng = Spread(
            self.seed
                .hash_one((uri, self.serial.fetch_add(1, Ordering::Relaxed)))
                | 1,
        );
        Some(reweigh(&list, &mut rng))
    }

    fn cached(&self, uri: &str, now: Instant) -> Option<Arc<Vec<Candidate>>> {
        let mut m = self.results.lock();
        match m.get(uri) {
            Some((until, list)) if *until > now => Some(list.clone()),
            Some(_) => {
                m.remove(uri);
                None
            }
            None => None,
        }
    }
}

impl Driver {
    /// Runs the selector until it waits for answers or is done; lookups answered from
    /// the cache come back through the callback on this thread (re-entering here).
    fn step(self: &Arc<Self>, job: &Arc<Mutex<Job>>) {
        loop {
            let query: Query = {
                let mut j = job.lock();
                if j.finished {
                    return;
                }
                let Job { selector, rng, .. } = &mut *j;
                match selector.poll(rng) {
                    Next::Query(q) => q,
                    Next::Wait => return,
                    Next::Target(c) => {
                        j.found.push(c);
                        if j.found.len() < MAX_CANDIDATES {
                            continue;
                        }
                        let call = self.finish(&mut j);
                        drop(j);
                        Self::call(call);
                        return;
                    }
                    Next::Exhausted => {
                        let call = self.finish(&mut j);
                        drop(j);
                        Self::call(call);
                        return;
                    }
                }
            };
            let (d, jb, q) = (self.clone(), job.clone(), query.clone());
            self.resolver.lookup(
                query,
                Box::new(move |r| {
                    {
                        let mut j = jb.lock();
                        if let Ok(res) = &r {
                            j.min_ttl = Some(j.min_ttl.map_or(res.ttl, |t| t.min(res.ttl)));
                        }
                        j.selector.answer(&q, selector_answer(&r));
                    }
                    d.step(&jb);
                }),
            );
        }
    }

    fn call(c: Option<(OnResolved, Outcome)>) {
        if let Some((done, outcome)) = c {
            done(outcome);
        }
    }

    /// Ends the job (under its lock): the result stays for the caller, or — when the
    /// caller has returned — the callback and the result are handed back to be called
    /// once the lock is released.
    fn finish(&self, j: &mut Job) -> Option<(OnResolved, Outcome)> {
        j.finished = true;
        self.pending.fetch_sub(1, Ordering::AcqRel);
        let outcome = if j.found.is_empty() {
            self.stats.failures.fetch_add(1, Ordering::Relaxed);
            Err(j.selector.exhausted())
        } else {
            let found = std::mem::take(&mut j.found);
            // Kept for the smallest TTL seen (at most 5 minutes); a numeric URI
            // (no lookup) is not worth keeping.
            if let Some(ttl) = j.min_ttl.filter(|t| !t.is_zero()) {
                let mut m = self.results.lock();
                if m.len() >= RESULTS {
                    m.clear();
                }
                let until = self.now + ttl.min(Duration::from_secs(300));
                m.insert(self.uri.clone(), (until, Arc::new(found.clone())));
            }
            Ok(found)
        };
        if j.detached {
            j.on_done.take().map(|done| (done, outcome))
        } else {
            j.result = Some(outcome);
            None
        }
    }
}
