//! A location store shared by every proxy node on one Redis ([`RedisLocation`]).
//!
//! - **Layout.** One hash per address of record, `sipcore:loc:aor:<AOR>`: field `v`
//!   its version (from the global counter `sipcore:loc:seq`, so a version is never
//!   reused), one field `c:<contact URI>` per binding whose value is
//!   `<expiry, Unix ms> <q> <CSeq> <Call-ID key>`. The key carries a `PEXPIREAT` at its
//!   last binding's expiry, so Redis drops it by itself; a binding that expired before
//!   its siblings is ignored when read and dropped at the next change.
//! - **Writes** (REGISTER) are compare-and-set: one Lua script checks the version the
//!   change was computed on, replaces the hash and publishes the AOR on
//!   `sipcore:loc:changes`; on a mismatch it returns the current bindings and the
//!   change runs again on them. The 200 is sent only once Redis acknowledged.
//! - **The REGISTER path waits**: [`Location::modify`] blocks the worker that handles
//!   the REGISTER until Redis acknowledged, at most `registrar.store_timeout_ms`
//!   (200 ms by default), then gives up with [`Unavailable`] (503 + Retry-After). So
//!   does the first lookup of an address of record this node has not cached.
//! - **Lookups** are served from the local [`Cache`] without a round trip. Every node
//!   subscribes to the change channel and refetches a changed AOR it holds in the
//!   background. Entries cached before the subscription was (re)established may have
//!   missed changes: each is fetched again on its next use (within the bound; the old
//!   bindings are served when Redis does not answer). A node fetches an AOR on its
//!   first use, never in bulk.
//! - **Threads.** Redis I/O runs on three threads of its own (writes, fetches,
//!   subscription), each behind a bounded queue (`registrar.store_queue`): a full
//!   queue is an immediate 503 (REGISTER) or a lookup answered from the cache.
//!   A lost connection is re-established with exponential backoff (50 ms to 2 s);
//!   while backing off, requests fail at once instead of waiting.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender, TrySendError};
use redis::Value;

use crate::location::{Binding, Location, StoreError, Unavailable};
use crate::location_cache::{Cache, Cached, WallClock};
use crate::location_redis_io::{decode_hash, decode_write, encode, Link, WriteResult, SCRIPT};

/// Attempts of one change when other nodes keep changing the same AOR.
const TRIES: usize = 16;
/// Fetches sent to Redis in one pipeline.
const BATCH: usize = 64;

/// Checks a `redis://` URL (`registrar.store`, `--location`).
pub fn check_url(url: &str) -> Result<(), String> {
    if !url.starts_with("redis://") {
        return Err(format!(
            "{url:?}: expected \"memory\" or \"redis://HOST:PORT/DB\""
        ));
    }
    redis::Client::open(url)
        .map(|_| ())
        .map_err(|e| format!("{url:?}: {e}"))
}

/// How to reach Redis and how long to wait for it.
#[derive(Debug, Clone)]
pub struct RedisConfig {
    /// `redis://HOST:PORT/DB`.
    pub url: String,
    /// Longest a REGISTER (or a first lookup) waits; also the connect and command
    /// timeouts of the Redis connections.
    pub timeout: Duration,
    /// Requests waiting per Redis thread.
    pub queue: usize,
    /// Addresses of record cached.
    pub cache_entries: usize,
    /// Prefix of every key and of the change channel (`sipcore:loc:`).
    pub prefix: String,
}

impl RedisConfig {
    /// From `[registrar]`.
    pub fn from_registrar(r: &crate::config::RegistrarConfig) -> RedisConfig {
        RedisConfig {
            url: r.store.clone(),
            timeout: Duration::from_millis(r.store_timeout_ms),
            queue: r.store_queue,
            cache_entries: r.cache_entries,
            prefix: "sipcore:loc:".into(),
        }
    }
}

/// Why the Redis store could not start.
#[derive(Debug, thiserror::Error)]
pub enum RedisStartError {
    /// The URL is not one the client accepts.
    #[error("bad Redis URL: {0}")]
    Url(#[source] redis::RedisError),
    /// A thread could not be started.
    #[error("cannot start the Redis threads: {0}")]
    Thread(#[source] std::io::Error),
}

/// Counters of the Redis store (`sipcore_location_*`).
#[derive(Debug, Default)]
pub struct Stats {
    /// Failed connections and commands.
    pub redis_errors: AtomicU64,
    /// Lookups answered from the cache.
    pub cache_hits: AtomicU64,
    /// Lookups that had to fetch.
    pub cache_misses: AtomicU64,
    /// Change notifications received.
    pub invalidations: AtomicU64,
    /// REGISTERs answered 503 because Redis did not acknowledge in time.
    pub register_503: AtomicU64,
    /// Changes acknowledged by Redis.
    pub writes: AtomicU64,
    /// Changes computed on outdated bindings and run again.
    pub conflicts: AtomicU64,
    /// Addresses of record fetched.
    pub fetches: AtomicU64,
    /// Connections established (the first ones included).
    pub connects: AtomicU64,
}

pub(crate) struct Shared {
    pub cache: Cache,
    pub clock: WallClock,
    pub stats: Stats,
    pub key_prefix: String,
    pub seq_key: String,
    pub channel: String,
    pub stop: AtomicBool,
    pub subscribed: AtomicBool,
}

impl Shared {
    pub(crate) fn key(&self, aor: &str) -> String {
        format!("{}{aor}", self.key_prefix)
    }
}

struct Fetch {
    aor: String,
    reply: Option<Sender<Result<Cached, Unavailable>>>,
}

struct Write {
    aor: String,
    /// Version the change was computed on (-1: unknown, always a conflict).
    expected: i64,
    bindings: Vec<Binding>,
    reply: Sender<Result<WriteResult, Unavailable>>,
}

/// The Redis location store (see the module documentation).
pub struct RedisLocation {
    shared: Arc<Shared>,
    writes: Sender<Write>,
    fetches: Sender<Fetch>,
    timeout: Duration,
}

impl std::fmt::Debug for RedisLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLocation")
            .field("prefix", &self.shared.key_prefix)
            .field("cached", &self.shared.cache.entries())
            .finish()
    }
}

impl RedisLocation {
    /// Starts the store's threads. Redis need not be up: the threads connect when it
    /// is (meanwhile REGISTERs get 503 and lookups find nothing).
    pub fn start(cfg: &RedisConfig) -> Result<RedisLocation, RedisStartError> {
        let client = redis::Client::open(cfg.url.as_str()).map_err(RedisStartError::Url)?;
        let shared = Arc::new(Shared {
            cache: Cache::new(cfg.cache_entries),
            clock: WallClock::now(),
            stats: Stats::default(),
            key_prefix: format!("{}aor:", cfg.prefix),
            seq_key: format!("{}seq", cfg.prefix),
            channel: format!("{}changes", cfg.prefix),
            stop: AtomicBool::new(false),
            subscribed: AtomicBool::new(false),
        });
        let (wtx, wrx) = bounded::<Write>(cfg.queue);
        let (ftx, frx) = bounded::<Fetch>(cfg.queue);
        let spawn = |name: &str, f: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(name.into())
                .spawn(f)
                .map(|_| ())
                .map_err(RedisStartError::Thread)
        };
        let (s, c, t) = (shared.clone(), client.clone(), cfg.timeout);
        spawn(
            "location-write",
            Box::new(move || writer(&s, Link::new(c, t), &wrx)),
        )?;
        let (s, c) = (shared.clone(), client.clone());
        spawn(
            "location-fetch",
            Box::new(move || reader(&s, Link::new(c, t), &frx)),
        )?;
        let (s, ftx2) = (shared.clone(), ftx.clone());
        let changed = move |s: &Shared, version: u64, aor: &str| {
            // Only what this node holds is refetched (in the background), unless it has
            // that version already (its own write); when the queue is full it is
            // forgotten instead, and fetched on its next use.
            let fresh = match s.cache.get(aor) {
                None => true,
                Some(c) => !c.stale && version != 0 && c.version >= version,
            };
            if !fresh && ftx2.try_send(refresh_msg(aor)).is_err() {
                s.cache.remove(aor);
            }
        };
        spawn(
            "location-subscribe",
            Box::new(move || {
                crate::location_redis_io::subscriber(&s, Link::new(client, t), &|v, aor| {
                    changed(&s, v, aor)
                })
            }),
        )?;
        Ok(RedisLocation {
            shared,
            writes: wtx,
            fetches: ftx,
            timeout: cfg.timeout,
        })
    }

    /// The counters.
    pub fn stats(&self) -> &Stats {
        &self.shared.stats
    }

    /// Fetches `aor` and waits for it until `deadline`.
    fn fetch_wait(&self, aor: &str, deadline: Instant) -> Result<Cached, Unavailable> {
        let (tx, rx) = bounded(1);
        let op = Fetch {
            aor: aor.to_string(),
            reply: Some(tx),
        };
        match self.fetches.try_send(op) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(Unavailable::QueueFull),
            Err(TrySendError::Disconnected(_)) => return Err(Unavailable::Down),
        }
        wait(&rx, deadline)?
    }

    fn unavailable(&self, why: Unavailable) -> StoreError {
        self.shared
            .stats
            .register_503
            .fetch_add(1, Ordering::Relaxed);
        StoreError::Unavailable(why)
    }
}

fn refresh_msg(aor: &str) -> Fetch {
    Fetch {
        aor: aor.to_string(),
        reply: None,
    }
}

/// Sleeps a random time below `2^attempt` times 100 µs (never past `deadline`).
fn backoff(attempt: usize, deadline: Instant) {
    use std::hash::BuildHasher;
    let span = 100u64 << attempt.min(10);
    let r = std::collections::hash_map::RandomState::new().hash_one(attempt) % span;
    let pause = Duration::from_micros(r);
    if Instant::now() + pause < deadline {
        std::thread::sleep(pause);
    }
}

fn wait<T>(rx: &Receiver<T>, deadline: Instant) -> Result<T, Unavailable> {
    rx.recv_deadline(deadline).map_err(|e| match e {
        RecvTimeoutError::Timeout => Unavailable::Timeout,
        RecvTimeoutError::Disconnected => Unavailable::Down,
    })
}

fn current(mut v: Vec<Binding>, now: Instant) -> Vec<Binding> {
    v.retain(|b| b.expires_at > now);
    v.sort_by_key(|b| std::cmp::Reverse(b.q));
    v
}

impl Location for RedisLocation {
    fn lookup(&self, aor: &str, now: Instant) -> Vec<Binding> {
        let stats = &self.shared.stats;
        let cached = self.shared.cache.get(aor);
        if let Some(c) = &cached {
            if !c.stale {
                stats.cache_hits.fetch_add(1, Ordering::Relaxed);
                return current(c.bindings.clone(), now);
            }
        }
        // Not cached, or cached before the change channel was (re)subscribed (it may
        // have missed changes): fetched, within the bound; a stale entry is what is
        // left when Redis does not answer.
        stats.cache_misses.fetch_add(1, Ordering::Relaxed);
        let deadline = Instant::now() + self.timeout;
        match self.fetch_wait(aor, deadline) {
            Ok(c) => current(c.bindings, now),
            Err(why) => {
                tracing::debug!(aor, %why, "location lookup without Redis");
                cached.map(|c| current(c.bindings, now)).unwrap_or_default()
            }
        }
    }

    fn modify(
        &self,
        aor: &str,
        now: Instant,
        change: &mut dyn FnMut(&mut Vec<Binding>),
    ) -> Result<Vec<Binding>, StoreError> {
        let deadline = Instant::now() + self.timeout;
        // The cached version when there is one (a stale one only costs a retry), else
        // "absent" (a new AOR: one round trip; an existing one: the script answers
        // with its bindings and the change runs again on them).
        let (mut expected, mut base) = match self.shared.cache.get(aor) {
            Some(c) => (i64::try_from(c.version).unwrap_or(-1), c.bindings),
            None => (0, Vec::new()),
        };
        for attempt in 0..TRIES {
            if attempt > 1 {
                // Two nodes changing one AOR in lockstep would keep beating each
                // other: a random pause, growing, breaks the rhythm.
                backoff(attempt, deadline);
            }
            let mut list = current(base, now);
            change(&mut list);
            list.sort_by_key(|b| std::cmp::Reverse(b.q));
            let (tx, rx) = bounded(1);
            let op = Write {
                aor: aor.to_string(),
                expected,
                bindings: list.clone(),
                reply: tx,
            };
            match self.writes.try_send(op) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => return Err(self.unavailable(Unavailable::QueueFull)),
                Err(TrySendError::Disconnected(_)) => {
                    return Err(self.unavailable(Unavailable::Down))
                }
            }
            match wait(&rx, deadline) {
                Ok(Ok(WriteResult::Stored(_))) => return Ok(list),
                Ok(Ok(WriteResult::Conflict(version, bindings))) => {
                    self.shared.stats.conflicts.fetch_add(1, Ordering::Relaxed);
                    expected = i64::try_from(version).unwrap_or(-1);
                    base = bindings;
                }
                Ok(Err(why)) | Err(why) => return Err(self.unavailable(why)),
            }
        }
        Err(self.unavailable(Unavailable::Contended))
    }

    fn len(&self) -> usize {
        self.shared.cache.len()
    }

    fn metrics_text(&self) -> String {
        crate::location_redis_io::metrics_text(&self.shared)
    }
}

impl Drop for RedisLocation {
    fn drop(&mut self) {
        // The write and fetch threads end when their queues close; the subscriber
        // sees the flag within its read timeout.
        self.shared.stop.store(true, Ordering::Relaxed);
    }
}

/// The write thread: compare-and-set scripts, one change at a time.
fn writer(shared: &Shared, mut link: Link, rx: &Receiver<Write>) {
    // Connected before the first REGISTER needs it (a failure is retried on use).
    let _ = link.connect(shared);
    while let Ok(op) = rx.recv() {
        let key = shared.key(&op.aor);
        let (expire_ms, pairs) = encode(&op.bindings, &shared.clock);
        let result = link.run(shared, |c| {
            let mut cmd = redis::cmd("EVAL");
            cmd.arg(SCRIPT)
                .arg(2)
                .arg(&key)
                .arg(&shared.seq_key)
                .arg(op.expected)
                .arg(expire_ms)
                .arg(&shared.channel)
                .arg(&op.aor);
            for (f, v) in &pairs {
                cmd.arg(f).arg(v);
            }
            cmd.query::<Value>(c)
        });
        let reply = result.and_then(|v| {
            decode_write(v, &shared.clock).ok_or_else(|| {
                shared.stats.redis_errors.fetch_add(1, Ordering::Relaxed);
                Unavailable::Down
            })
        });
        match &reply {
            Ok(WriteResult::Stored(version)) => {
                shared.stats.writes.fetch_add(1, Ordering::Relaxed);
                let epoch = shared.cache.epoch();
                shared
                    .cache
                    .put(&op.aor, *version, op.bindings.clone(), epoch);
            }
            Ok(WriteResult::Conflict(version, bindings)) => {
                let epoch = shared.cache.epoch();
                shared.cache.put(&op.aor, *version, bindings.clone(), epoch);
            }
            Err(_) => {}
        }
        // The worker may have given up waiting: then nobody reads this.
        let _ = op.reply.send(reply);
    }
}

/// The fetch thread: `HGETALL`s, pipelined by batches of what is waiting.
fn reader(shared: &Shared, mut link: Link, rx: &Receiver<Fetch>) {
    let _ = link.connect(shared);
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        // Read before asking: what a change notification missed while the
        // subscription was down stays marked stale.
        let epoch = shared.cache.epoch();
        let result = link.run(shared, |c| {
            let mut p = redis::pipe();
            for op in &batch {
                p.cmd("HGETALL").arg(shared.key(&op.aor));
            }
            p.query::<Vec<Value>>(c)
        });
        match result {
            Ok(values) if values.len() == batch.len() => {
                for (op, v) in batch.into_iter().zip(values) {
                    let (version, bindings) = decode_hash(v, &shared.clock);
                    shared.cache.put(&op.aor, version, bindings.clone(), epoch);
                    shared.stats.fetches.fetch_add(1, Ordering::Relaxed);
                    if let Some(r) = op.reply {
                        let _ = r.send(Ok(Cached {
                            version,
                            bindings,
                            stale: false,
                        }));
                    }
                }
            }
            other => {
                let why = other.err().unwrap_or(Unavailable::Down);
                for op in batch {
                    if let Some(r) = op.reply {
                        let _ = r.send(Err(why));
                    }
                }
            }
        }
    }
}
