//! The resolver interface a driver feeds a [`Selector`](super::Selector) from, and a
//! caching, coalescing, bounded front for any resolver.
//!
//! A [`Resolver`] never blocks its caller: [`Resolver::lookup`] hands over a query and a
//! [`Done`] callback, and returns; the callback runs once with the result, on whatever
//! thread the resolver answers on (or on the caller's, before `lookup` returns, when the
//! answer is at hand). [`CachingResolver`] wraps one: it answers from a [`Cache`],
//! sends one upstream query for any number of concurrent callers of the same query, and
//! refuses at once with [`ResolveError::Busy`] past its in-flight bound, so a proxy can
//! answer 503 rather than queue without end.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::cache::{Cache, CacheLimits, CacheStats};
use super::records::{Answer, Query};

/// What a resolver found: the answer (records, or [`Answer::NoRecords`] for NXDOMAIN and
/// NODATA) and how long it may be kept (the records' TTL, or the negative TTL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The answer.
    pub answer: Answer,
    /// How long it stays valid.
    pub ttl: Duration,
}

/// Why a lookup has no answer. None of these says the name does not exist (that is
/// [`Answer::NoRecords`]): the name may exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// No server answered in time.
    #[error("DNS query timed out")]
    Timeout,
    /// The server answered SERVFAIL.
    #[error("DNS server failure (SERVFAIL)")]
    ServerFailure,
    /// The server refused the query (REFUSED).
    #[error("DNS server refused the query")]
    Refused,
    /// Another error response code (FORMERR, NOTIMP, ...).
    #[error("DNS server answered with response code {0}")]
    ResponseCode(u16),
    /// The response could not be used (malformed, or not an answer to the query).
    #[error("malformed DNS response")]
    Malformed,
    /// The query name is not a valid DNS name.
    #[error("not a valid DNS name")]
    InvalidName,
    /// Sending or receiving failed.
    #[error("DNS transport error: {0:?}")]
    Io(std::io::ErrorKind),
    /// Too many lookups are in flight: refused without asking (answer 503).
    #[error("too many DNS lookups in flight")]
    Busy,
    /// The resolver stopped (or dropped the query) before answering.
    #[error("the resolver stopped before answering")]
    Shutdown,
    /// The resolver failed for a reason none of the above names.
    #[error("the DNS lookup failed")]
    Other,
}

/// The callback a lookup's result is delivered to, exactly once.
pub type Done = Box<dyn FnOnce(Result<Resolved, ResolveError>) + Send>;

/// A non-blocking DNS resolver.
pub trait Resolver: Send + Sync {
    /// Starts looking `query` up; `done` is called once with the result, possibly before
    /// this returns (on the caller's thread), so the caller must not hold a lock `done`
    /// takes. An implementation that cannot answer (stopping, full) calls `done` with an
    /// error; one that drops a query should use [`Reply`] so its caller still hears.
    fn lookup(&self, query: Query, done: Done);
}

impl<R: Resolver + ?Sized> Resolver for Arc<R> {
    fn lookup(&self, query: Query, done: Done) {
        (**self).lookup(query, done)
    }
}

/// The answer to feed [`Selector::answer`](super::Selector::answer): the records, or
/// [`Answer::Failed`] for any error.
pub fn selector_answer(result: &Result<Resolved, ResolveError>) -> Answer {
    match result {
        Ok(r) => r.answer.clone(),
        Err(_) => Answer::Failed,
    }
}

/// A [`Done`] that is sure to be called: if it is dropped unsent (a task cancelled, a
/// queue dropped at shutdown), it sends [`ResolveError::Shutdown`].
pub struct Reply(Option<Done>);

impl Reply {
    /// Wraps `done`.
    pub fn new(done: Done) -> Reply {
        Reply(Some(done))
    }

    /// Delivers `result`.
    pub fn send(mut self, result: Result<Resolved, ResolveError>) {
        if let Some(done) = self.0.take() {
            done(result);
        }
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        if let Some(done) = self.0.take() {
            done(Err(ResolveError::Shutdown));
        }
    }
}

impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Reply").field(&self.0.is_some()).finish()
    }
}

/// Where a [`CachingResolver`] reads the time (its answers arrive on other threads, so
/// it is a driver, not a sans-IO core); tests pass a clock they move.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> Instant;
}

/// The system's monotonic clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // a driver's clock: the cache itself takes `now`
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// The bounds of a [`CachingResolver`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CachingConfig {
    /// The cache's bounds.
    pub cache: CacheLimits,
    /// Most distinct queries sent upstream and not yet answered.
    pub max_in_flight: usize,
    /// Most callers waiting for those answers (coalesced callers included).
    pub max_waiting: usize,
}

impl Default for CachingConfig {
    /// The default cache; 256 queries in flight, 1024 callers waiting.
    fn default() -> Self {
        CachingConfig {
            cache: CacheLimits::default(),
            max_in_flight: 256,
            max_waiting: 1024,
        }
    }
}

/// What a [`CachingResolver`] has done, and holds now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResolverStats {
    /// Lookups asked of it.
    pub lookups: u64,
    /// Lookups that joined a query already in flight.
    pub coalesced: u64,
    /// Lookups refused with [`ResolveError::Busy`].
    pub busy: u64,
    /// Queries sent upstream.
    pub upstream_queries: u64,
    /// Upstream queries that ended in an error.
    pub upstream_errors: u64,
    /// Queries in flight now.
    pub in_flight: usize,
    /// Callers waiting now.
    pub waiting: usize,
    /// The cache's counters.
    pub cache: CacheStats,
}

/// A [`Resolver`] in front of another: answers from its cache, coalesces concurrent
/// lookups of one query into one upstream query, and bounds what is in flight.
pub struct CachingResolver<R: Resolver> {
    upstream: R,
    shared: Arc<Shared>,
}

struct Shared {
    clock: Box<dyn Clock>,
    config: CachingConfig,
    state: Mutex<State>,
}

struct State {
    cache: Cache,
    pending: HashMap<Query, Vec<Done>>,
    waiting: usize,
    stats: ResolverStats,
}

impl<R: Resolver> CachingResolver<R> {
    /// A caching front for `upstream`, on the system clock.
    pub fn new(upstream: R, config: CachingConfig) -> CachingResolver<R> {
        CachingResolver::with_clock(upstream, config, Box::new(SystemClock))
    }

    /// A caching front for `upstream` that reads the time from `clock`.
    pub fn with_clock(
        upstream: R,
        config: CachingConfig,
        clock: Box<dyn Clock>,
    ) -> CachingResolver<R> {
        CachingResolver {
            upstream,
            shared: Arc::new(Shared {
                clock,
                config,
                state: Mutex::new(State {
                    cache: Cache::new(config.cache),
                    pending: HashMap::new(),
                    waiting: 0,
                    stats: ResolverStats::default(),
                }),
            }),
        }
    }

    /// The counters and current sizes.
    pub fn stats(&self) -> ResolverStats {
        let st = self.shared.state.lock();
        ResolverStats {
            in_flight: st.pending.len(),
            waiting: st.waiting,
            cache: st.cache.stats(),
            ..st.stats
        }
    }

    /// Drops the cache's expired entries (they are also dropped when looked up or when
    /// room is needed; this returns their memory sooner).
    pub fn purge(&self) {
        let now = self.shared.clock.now();
        self.shared.state.lock().cache.purge(now);
    }

    /// The resolver it fronts.
    pub fn upstream(&self) -> &R {
        &self.upstream
    }
}

enum Action {
    Hit(Resolved),
    Busy,
    Joined,
    Ask,
}

impl<R: Resolver> Resolver for CachingResolver<R> {
    fn lookup(&self, query: Query, done: Done) {
        let shared = &self.shared;
        let now = shared.clock.now();
        let mut done = Some(done);
        let action = {
            let mut guard = shared.state.lock();
            let st = &mut *guard;
            st.stats.lookups += 1;
            let room = st.waiting < shared.config.max_waiting;
            if let Some(hit) = st.cache.get(&query, now) {
                Action::Hit(Resolved {
                    answer: hit.answer,
                    ttl: hit.ttl_left,
                })
            } else if let Some(waiters) = st.pending.get_mut(&query) {
                if room {
                    waiters.extend(done.take());
                    st.waiting += 1;
                    st.stats.coalesced += 1;
                    Action::Joined
                } else {
                    st.stats.busy += 1;
                    Action::Busy
                }
            } else if room && st.pending.len() < shared.config.max_in_flight {
                st.pending
                    .insert(query.clone(), done.take().into_iter().collect());
                st.waiting += 1;
                st.stats.upstream_queries += 1;
                Action::Ask
            } else {
                st.stats.busy += 1;
                Action::Busy
            }
        };
        match action {
            Action::Joined => {}
            Action::Hit(r) => {
                if let Some(done) = done {
                    done(Ok(r));
                }
            }
            Action::Busy => {
                if let Some(done) = done {
                    done(Err(ResolveError::Busy));
                }
            }
            Action::Ask => {
                let completion = Completion {
                    shared: Arc::clone(shared),
                    query: Some(query.clone()),
                };
                self.upstream
                    .lookup(query, Box::new(move |result| completion.finish(result)));
            }
        }
    }
}

impl Shared {
    /// Stores the upstream result and calls everyone waiting for it (outside the lock).
    fn complete(&self, query: Query, result: Result<Resolved, ResolveError>) {
        let waiters = {
            let mut st = self.state.lock();
            let waiters = st.pending.remove(&query).unwrap_or_default();
            st.waiting = st.waiting.saturating_sub(waiters.len());
            match &result {
                Ok(r) => {
                    let now = self.clock.now();
                    st.cache.insert(query, r.answer.clone(), r.ttl, now);
                }
                Err(_) => st.stats.upstream_errors += 1,
            }
            waiters
        };
        for done in waiters {
            done(result.clone());
        }
    }
}

/// The upstream's callback: completes the query once, with [`ResolveError::Shutdown`]
/// if the upstream drops it unanswered, so its in-flight slot is never lost.
struct Completion {
    shared: Arc<Shared>,
    query: Option<Query>,
}

impl Completion {
    fn finish(mut self, result: Result<Resolved, ResolveError>) {
        if let Some(q) = self.query.take() {
            self.shared.complete(q, result);
        }
    }
}

impl Drop for Completion {
    fn drop(&mut self) {
        if let Some(q) = self.query.take() {
            self.shared.complete(q, Err(ResolveError::Shutdown));
        }
    }
}

impl<R: Resolver> fmt::Debug for CachingResolver<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachingResolver")
            .field("config", &self.shared.config)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
#[path = "resolver_tests.rs"]
mod tests;
