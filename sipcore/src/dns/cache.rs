//! A DNS answer cache: positive and negative answers, each kept for its TTL, bounded in
//! entries and in bytes, sans-IO (`now` is passed in).
//!
//! An answer with records is kept for its TTL (capped at [`CacheLimits::max_ttl`]); "no
//! such records" ([`Answer::NoRecords`]: NXDOMAIN or NODATA, RFC 2308) for its negative
//! TTL (capped at [`CacheLimits::max_negative_ttl`]). A failed lookup
//! ([`Answer::Failed`]) is never kept: nothing was learnt. When a new entry does not fit,
//! the entries that expire soonest are evicted first: expired entries go before live
//! ones, and a live entry with little time left is the cheapest to lose.

use std::collections::{BTreeMap, HashMap};
use std::mem::size_of;
use std::time::{Duration, Instant};

use super::records::{Answer, Naptr, Query, Srv};

/// The bounds of a [`Cache`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheLimits {
    /// Most entries kept.
    pub max_entries: usize,
    /// Most bytes kept, as estimated by [`entry_bytes`] (the table's own slack included).
    pub max_bytes: usize,
    /// Longest a positive answer is kept, whatever its TTL says.
    pub max_ttl: Duration,
    /// Longest a negative answer is kept, whatever its SOA says.
    pub max_negative_ttl: Duration,
}

impl Default for CacheLimits {
    /// 4096 entries, 4 MiB, positive answers for at most a day, negative for 5 minutes
    /// (RFC 2308 §5 allows hours; a SIP proxy that learns of a fixed typo soon is kinder).
    fn default() -> Self {
        CacheLimits {
            max_entries: 4096,
            max_bytes: 4 << 20,
            max_ttl: Duration::from_secs(86_400),
            max_negative_ttl: Duration::from_secs(300),
        }
    }
}

/// A cached answer and the time it has left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// The answer: records, or [`Answer::NoRecords`] for a cached negative answer.
    pub answer: Answer,
    /// How long it stays valid from the `now` it was looked up at.
    pub ttl_left: Duration,
}

/// What a [`Cache`] has done since it was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Lookups answered with a positive entry.
    pub hits: u64,
    /// Lookups answered with a negative entry.
    pub negative_hits: u64,
    /// Lookups with no live entry.
    pub misses: u64,
    /// Answers stored.
    pub inserts: u64,
    /// Live entries evicted to make room.
    pub evictions: u64,
    /// Entries dropped because their TTL ran out.
    pub expired: u64,
    /// Entries currently kept.
    pub entries: usize,
    /// Their estimated size in bytes.
    pub bytes: usize,
}

#[derive(Debug)]
struct Entry {
    answer: Answer,
    expires: Instant,
    /// Tie-break among equal expiry times, and the key into `by_expiry`.
    seq: u64,
    bytes: usize,
}

/// DNS answers by query, each until its TTL runs out (see the [module docs](self)).
#[derive(Debug)]
pub struct Cache {
    limits: CacheLimits,
    entries: HashMap<Query, Entry>,
    by_expiry: BTreeMap<(Instant, u64), Query>,
    seq: u64,
    bytes: usize,
    stats: CacheStats,
}

impl Cache {
    /// An empty cache within `limits`.
    pub fn new(limits: CacheLimits) -> Cache {
        Cache {
            limits,
            entries: HashMap::new(),
            by_expiry: BTreeMap::new(),
            seq: 0,
            bytes: 0,
            stats: CacheStats::default(),
        }
    }

    /// The answer to `query` if one is kept and still valid at `now`; an expired entry
    /// is dropped.
    pub fn get(&mut self, query: &Query, now: Instant) -> Option<Hit> {
        let live = self.entries.get(query).map(|e| e.expires > now);
        match live {
            None => {
                self.stats.misses += 1;
                None
            }
            Some(false) => {
                self.remove(query);
                self.stats.expired += 1;
                self.stats.misses += 1;
                None
            }
            Some(true) => {
                let e = self.entries.get(query)?;
                let hit = Hit {
                    answer: e.answer.clone(),
                    ttl_left: e.expires.saturating_duration_since(now),
                };
                if hit.answer.has_records() {
                    self.stats.hits += 1;
                } else {
                    self.stats.negative_hits += 1;
                }
                Some(hit)
            }
        }
    }

    /// Keeps `answer` to `query` for `ttl` from `now` (capped by the limits), replacing
    /// what was kept for it, evicting the entries that expire soonest if it does not fit.
    /// A failed lookup, a zero TTL, or an entry larger than the whole byte bound is not
    /// kept. Returns whether it was kept.
    pub fn insert(&mut self, query: Query, answer: Answer, ttl: Duration, now: Instant) -> bool {
        let answer = match answer {
            Answer::Failed => return false,
            a if !a.has_records() => Answer::NoRecords,
            a => shrink(a),
        };
        let cap = if answer.has_records() {
            self.limits.max_ttl
        } else {
            self.limits.max_negative_ttl
        };
        let ttl = ttl.min(cap);
        let Some(expires) = now.checked_add(ttl) else {
            return false;
        };
        if ttl.is_zero() || self.limits.max_entries == 0 {
            return false;
        }
        let bytes = entry_bytes(&query, &answer);
        if bytes > self.limits.max_bytes {
            return false;
        }
        self.remove(&query);
        while self.entries.len() >= self.limits.max_entries
            || self.bytes + bytes > self.limits.max_bytes
        {
            let Some((&(when, _), victim)) = self.by_expiry.iter().next() else {
                break;
            };
            let victim = victim.clone();
            self.remove(&victim);
            if when <= now {
                self.stats.expired += 1;
            } else {
                self.stats.evictions += 1;
            }
        }
        self.seq += 1;
        let seq = self.seq;
        self.by_expiry.insert((expires, seq), query.clone());
        self.entries.insert(
            query,
            Entry {
                answer,
                expires,
                seq,
                bytes,
            },
        );
        self.bytes += bytes;
        self.stats.inserts += 1;
        true
    }

    /// Drops every entry that is expired at `now`.
    pub fn purge(&mut self, now: Instant) {
        while let Some((&(when, _), q)) = self.by_expiry.iter().next() {
            if when > now {
                break;
            }
            let q = q.clone();
            self.remove(&q);
            self.stats.expired += 1;
        }
    }

    /// Entries kept (some may be expired and not yet dropped).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The estimated bytes kept.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The counters, and the current size.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            entries: self.entries.len(),
            bytes: self.bytes,
            ..self.stats
        }
    }

    fn remove(&mut self, query: &Query) {
        if let Some(e) = self.entries.remove(query) {
            self.by_expiry.remove(&(e.expires, e.seq));
            self.bytes -= e.bytes;
        }
    }
}

/// Drops spare capacity, so [`entry_bytes`]' capacity-based count is what is held.
fn shrink(answer: Answer) -> Answer {
    match answer {
        Answer::Naptr(mut v) => {
            for n in &mut v {
                n.flags.shrink_to_fit();
                n.services.shrink_to_fit();
                n.replacement.shrink_to_fit();
            }
            v.shrink_to_fit();
            Answer::Naptr(v)
        }
        Answer::Srv(mut v) => {
            for s in &mut v {
                s.target.shrink_to_fit();
            }
            v.shrink_to_fit();
            Answer::Srv(v)
        }
        Answer::A(mut v) => {
            v.shrink_to_fit();
            Answer::A(v)
        }
        Answer::Aaaa(mut v) => {
            v.shrink_to_fit();
            Answer::Aaaa(v)
        }
        a => a,
    }
}

/// Bookkeeping per heap allocation (the allocator's header and rounding), a common
/// estimate for glibc malloc on 64-bit systems.
const ALLOC_OVERHEAD: usize = 16;

/// The estimated memory one entry holds: the query twice (the table's key and the
/// expiry index's value, each with its name's heap buffer), the entry itself, the
/// answer's heap buffers, the hash table's slack (it is at most 7/8 full, plus a control
/// byte a slot) and the expiry B-tree's (nodes at least half full: twice the element).
pub fn entry_bytes(query: &Query, answer: &Answer) -> usize {
    let name = heap(query.name.capacity());
    let table_slot = size_of::<Query>() + size_of::<Entry>();
    let table = table_slot * 8 / 7 + 1;
    let index = 2 * (size_of::<(Instant, u64)>() + size_of::<Query>());
    let records = match answer {
        Answer::Naptr(v) => {
            heap(v.capacity() * size_of::<Naptr>())
                + v.iter()
                    .map(|n| {
                        heap(n.flags.capacity())
                            + heap(n.services.capacity())
                            + heap(n.replacement.capacity())
                    })
                    .sum::<usize>()
        }
        Answer::Srv(v) => {
            heap(v.capacity() * size_of::<Srv>())
                + v.iter().map(|s| heap(s.target.capacity())).sum::<usize>()
        }
        Answer::A(v) => heap(v.capacity() * 4),
        Answer::Aaaa(v) => heap(v.capacity() * 16),
        Answer::NoRecords | Answer::Failed => 0,
    };
    table + index + 2 * name + records
}

/// A heap buffer of `n` bytes: nothing if empty, else the bytes and the overhead.
fn heap(n: usize) -> usize {
    if n == 0 {
        0
    } else {
        n + ALLOC_OVERHEAD
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // a base instant; every later time is derived from it
mod tests {
    use super::*;
    use crate::dns::RecordType;

    fn q(name: &str) -> Query {
        Query::new(name, RecordType::A)
    }

    fn a(addrs: &[&str]) -> Answer {
        Answer::A(addrs.iter().map(|s| s.parse().unwrap()).collect())
    }

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn limits(max_entries: usize, max_bytes: usize) -> CacheLimits {
        CacheLimits {
            max_entries,
            max_bytes,
            ..CacheLimits::default()
        }
    }

    #[test]
    fn positive_answer_is_kept_until_its_ttl_runs_out() {
        let t0 = Instant::now();
        let mut c = Cache::new(CacheLimits::default());
        assert!(c.insert(q("h.example"), a(&["192.0.2.1"]), secs(60), t0));
        let hit = c.get(&q("h.example"), t0 + secs(59)).unwrap();
        assert_eq!(hit.answer, a(&["192.0.2.1"]));
        assert_eq!(hit.ttl_left, secs(1));
        // other type, other name: misses
        assert!(c
            .get(&Query::new("h.example", RecordType::Aaaa), t0)
            .is_none());
        assert!(c.get(&q("g.example"), t0).is_none());
        // at the TTL: gone, and dropped
        assert!(c.get(&q("h.example"), t0 + secs(60)).is_none());
        assert!(c.is_empty());
        assert_eq!(c.bytes(), 0);
        let s = c.stats();
        assert_eq!((s.hits, s.misses, s.expired), (1, 3, 1));
    }

    #[test]
    fn ttl_is_capped() {
        let t0 = Instant::now();
        let mut c = Cache::new(CacheLimits {
            max_ttl: secs(10),
            max_negative_ttl: secs(5),
            ..CacheLimits::default()
        });
        c.insert(q("p.example"), a(&["192.0.2.1"]), secs(3600), t0);
        c.insert(q("n.example"), Answer::NoRecords, secs(3600), t0);
        assert_eq!(c.get(&q("p.example"), t0).unwrap().ttl_left, secs(10));
        assert_eq!(c.get(&q("n.example"), t0).unwrap().ttl_left, secs(5));
        assert!(c.get(&q("p.example"), t0 + secs(10)).is_none());
        assert!(c.get(&q("n.example"), t0 + secs(5)).is_none());
    }

    #[test]
    fn negative_answers_are_cached_for_their_negative_ttl() {
        let t0 = Instant::now();
        let mut c = Cache::new(CacheLimits::default());
        assert!(c.insert(q("nx.example"), Answer::NoRecords, secs(30), t0));
        // an empty record list is the same as no records
        assert!(c.insert(q("empty.example"), Answer::A(vec![]), secs(30), t0));
        let hit = c.get(&q("nx.example"), t0 + secs(29)).unwrap();
        assert_eq!(hit.answer, Answer::NoRecords);
        assert_eq!(
            c.get(&q("empty.example"), t0).unwrap().answer,
            Answer::NoRecords
        );
        assert!(c.get(&q("nx.example"), t0 + secs(30)).is_none());
        assert_eq!(c.stats().negative_hits, 2);
    }

    #[test]
    fn failures_and_zero_ttls_are_not_cached() {
        let t0 = Instant::now();
        let mut c = Cache::new(CacheLimits::default());
        assert!(!c.insert(q("f.example"), Answer::Failed, secs(30), t0));
        assert!(!c.insert(q("z.example"), a(&["192.0.2.1"]), Duration::ZERO, t0));
        assert!(c.is_empty());
        // positive control: the same with a TTL is kept
        assert!(c.insert(q("z.example"), a(&["192.0.2.1"]), secs(1), t0));
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn replacing_an_entry_keeps_the_counts_right() {
        let t0 = Instant::now();
        let mut c = Cache::new(CacheLimits::default());
        c.insert(q("h.example"), a(&["192.0.2.1"]), secs(60), t0);
        let one = c.bytes();
        c.insert(q("h.example"), a(&["192.0.2.1", "192.0.2.2"]), secs(5), t0);
        assert_eq!(c.len(), 1);
        assert!(c.bytes() > one);
        assert_eq!(
            c.bytes(),
            entry_bytes(&q("h.example"), &a(&["192.0.2.1", "192.0.2.2"]))
        );
        // the new TTL holds, not the old one
        assert!(c.get(&q("h.example"), t0 + secs(5)).is_none());
        assert_eq!((c.len(), c.bytes()), (0, 0));
    }

    #[test]
    fn entry_bound_evicts_the_soonest_expiry() {
        let t0 = Instant::now();
        let mut c = Cache::new(limits(3, usize::MAX));
        c.insert(q("a.example"), a(&["192.0.2.1"]), secs(300), t0);
        c.insert(q("b.example"), a(&["192.0.2.2"]), secs(100), t0);
        c.insert(q("c.example"), a(&["192.0.2.3"]), secs(200), t0);
        c.insert(q("d.example"), a(&["192.0.2.4"]), secs(400), t0);
        assert_eq!(c.len(), 3);
        assert!(
            c.get(&q("b.example"), t0).is_none(),
            "soonest expiry evicted"
        );
        for n in ["a.example", "c.example", "d.example"] {
            assert!(c.get(&q(n), t0).is_some(), "{n} kept");
        }
        // next: c (200 s) goes, then a (300 s)
        c.insert(q("e.example"), a(&["192.0.2.5"]), secs(500), t0);
        assert!(c.get(&q("c.example"), t0).is_none());
        c.insert(q("f.example"), a(&["192.0.2.6"]), secs(500), t0);
        assert!(c.get(&q("a.example"), t0).is_none());
        assert!(c.get(&q("d.example"), t0).is_some());
        assert_eq!(c.stats().evictions, 3);
    }

    #[test]
    fn expired_entries_go_before_live_ones() {
        let t0 = Instant::now();
        let mut c = Cache::new(limits(2, usize::MAX));
        c.insert(q("old.example"), a(&["192.0.2.1"]), secs(10), t0);
        c.insert(
            q("live.example"),
            a(&["192.0.2.2"]),
            secs(1000),
            t0 + secs(5),
        );
        c.insert(
            q("new.example"),
            a(&["192.0.2.3"]),
            secs(2000),
            t0 + secs(20),
        );
        let s = c.stats();
        assert_eq!((s.expired, s.evictions, s.entries), (1, 0, 2));
        assert!(c.get(&q("live.example"), t0 + secs(20)).is_some());
        assert!(c.get(&q("new.example"), t0 + secs(20)).is_some());
    }

    #[test]
    fn byte_bound_holds_and_evicts_by_expiry() {
        let t0 = Instant::now();
        let one = entry_bytes(&q("x0.example"), &a(&["192.0.2.1"]));
        // room for three small entries
        let mut c = Cache::new(limits(usize::MAX, 3 * one));
        for i in 0..3u64 {
            let name = format!("x{i}.example");
            assert!(c.insert(q(&name), a(&["192.0.2.1"]), secs(100 - i), t0));
        }
        assert_eq!(c.len(), 3);
        c.insert(q("x3.example"), a(&["192.0.2.1"]), secs(500), t0);
        assert_eq!(c.len(), 3);
        assert!(c.bytes() <= 3 * one);
        // x2 had the least time left
        assert!(c.get(&q("x2.example"), t0).is_none());
        assert!(c.get(&q("x0.example"), t0).is_some());
        // a big answer pushes out as many as it needs
        let big: Vec<String> = (0..16).map(|i| format!("192.0.2.{i}")).collect();
        let big: Vec<&str> = big.iter().map(String::as_str).collect();
        let big_bytes = entry_bytes(&q("big.example"), &a(&big));
        assert!(
            big_bytes > one && big_bytes < 2 * one,
            "{big_bytes} vs {one}"
        );
        c.insert(q("big.example"), a(&big), secs(1000), t0);
        assert!(c.bytes() <= 3 * one);
        // x1 (99 s) then x0 (100 s) evicted; x3 (500 s) stays
        assert_eq!(c.len(), 2);
        assert_eq!(c.bytes(), one + big_bytes);
        assert!(c.get(&q("x0.example"), t0).is_none());
        assert!(c.get(&q("x3.example"), t0).is_some());
        // an entry larger than the whole bound is refused, the rest left alone
        let mut tiny = Cache::new(limits(usize::MAX, one - 1));
        assert!(!tiny.insert(q("x0.example"), a(&["192.0.2.1"]), secs(10), t0));
        assert!(tiny.is_empty());
    }

    #[test]
    fn byte_estimate_counts_what_the_records_hold() {
        let short = entry_bytes(&q("h.example"), &Answer::NoRecords);
        let naptr = Answer::Naptr(vec![Naptr::new(
            10,
            10,
            "SIP+D2U",
            "_sip._udp.a-rather-long-name.example",
        )]);
        let srv = Answer::Srv(vec![Srv::new(1, 1, 5060, "gw.example")]);
        assert!(short > size_of::<Query>() + size_of::<Entry>());
        let n = entry_bytes(&q("h.example"), &naptr);
        // the NAPTR's strings are counted, each with its allocation
        assert!(n >= short + size_of::<Naptr>() + 1 + 7 + 36 + 4 * ALLOC_OVERHEAD);
        assert!(entry_bytes(&q("h.example"), &srv) >= short + size_of::<Srv>() + 10);
        // a longer name costs more (held twice)
        let long = entry_bytes(&q(&"l".repeat(200)), &Answer::NoRecords);
        assert!(long >= short + 2 * (200 - 9));
    }

    #[test]
    fn purge_drops_only_expired() {
        let t0 = Instant::now();
        let mut c = Cache::new(CacheLimits::default());
        c.insert(q("a.example"), a(&["192.0.2.1"]), secs(10), t0);
        c.insert(q("b.example"), Answer::NoRecords, secs(20), t0);
        c.purge(t0 + secs(10));
        assert_eq!(c.len(), 1);
        assert!(c.get(&q("b.example"), t0 + secs(10)).is_some());
        c.purge(t0 + secs(20));
        assert!(c.is_empty());
        assert_eq!(c.bytes(), 0);
    }
}
