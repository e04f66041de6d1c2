//! The answered calls the proxy remembers so that a BYE can get an end record with the
//! call's duration: bounded in entries and in bytes, each entry expiring after the
//! longest call length.
//!
//! - A call enters when the proxy relays the first 2xx to its initial INVITE; it leaves
//!   when a BYE for its Call-ID goes through, when it is older than `max_age` (looked
//!   for at every insert and removal, oldest first), or when room is needed for a newer
//!   call (the oldest goes first: a call whose BYE never came through is the likeliest
//!   to be that one).
//! - The byte budget counts each Call-ID's length plus [`ENTRY_OVERHEAD`] (the map
//!   slots, the age index, the shared string's header), so a flood of long Call-IDs is
//!   bounded like a flood of short ones.
//! - The clock is a parameter: this module never reads it.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Bytes an entry costs beyond its Call-ID (an estimate of the hash map slot, the
/// B-tree slot and the `Arc<str>` header; on the high side).
pub const ENTRY_OVERHEAD: usize = 96;

/// What [`Answered::insert`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    /// A new call is remembered.
    New,
    /// The Call-ID was already remembered (its start time is kept).
    Known,
    /// The call alone exceeds the byte budget: not remembered.
    TooLarge,
}

/// What a call to the table removed besides its own work, for the counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Removed {
    /// Entries older than the longest call length.
    pub expired: u64,
    /// Oldest entries pushed out to make room.
    pub evicted: u64,
}

#[derive(Debug)]
struct Entry {
    start: Instant,
    seq: u64,
}

/// The table of answered calls.
#[derive(Debug)]
pub struct Answered {
    by_id: HashMap<Arc<str>, Entry>,
    by_age: BTreeMap<(Instant, u64), Arc<str>>,
    seq: u64,
    bytes: usize,
    max_entries: usize,
    max_bytes: usize,
    max_age: Duration,
}

fn cost(call_id: &str) -> usize {
    call_id.len().saturating_add(ENTRY_OVERHEAD)
}

impl Answered {
    /// An empty table holding at most `max_entries` calls and `max_bytes` bytes, each
    /// for at most `max_age`.
    pub fn new(max_entries: usize, max_bytes: usize, max_age: Duration) -> Answered {
        Answered {
            by_id: HashMap::new(),
            by_age: BTreeMap::new(),
            seq: 0,
            bytes: 0,
            max_entries,
            max_bytes,
            max_age,
        }
    }

    /// Calls remembered.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether no call is remembered.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Bytes counted against the budget.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    fn drop_entry(&mut self, key: (Instant, u64)) {
        if let Some(id) = self.by_age.remove(&key) {
            self.bytes = self.bytes.saturating_sub(cost(&id));
            self.by_id.remove(&id);
        }
    }

    /// Forgets every call older than the longest call length at `now`.
    pub fn expire(&mut self, now: Instant) -> u64 {
        let mut n = 0;
        while let Some((&key, _)) = self.by_age.first_key_value() {
            if now.saturating_duration_since(key.0) < self.max_age {
                break;
            }
            self.drop_entry(key);
            n += 1;
        }
        n
    }

    /// Remembers `call_id` answered at `now`.
    pub fn insert(&mut self, call_id: &str, now: Instant) -> (Inserted, Removed) {
        let mut removed = Removed {
            expired: self.expire(now),
            evicted: 0,
        };
        if self.by_id.contains_key(call_id) {
            return (Inserted::Known, removed);
        }
        let c = cost(call_id);
        if c > self.max_bytes || self.max_entries == 0 {
            return (Inserted::TooLarge, removed);
        }
        while self.by_id.len() >= self.max_entries || self.bytes.saturating_add(c) > self.max_bytes
        {
            let Some((&oldest, _)) = self.by_age.first_key_value() else {
                break;
            };
            self.drop_entry(oldest);
            removed.evicted += 1;
        }
        self.seq += 1;
        let id: Arc<str> = Arc::from(call_id);
        self.by_age.insert((now, self.seq), id.clone());
        self.by_id.insert(
            id,
            Entry {
                start: now,
                seq: self.seq,
            },
        );
        self.bytes += c;
        (Inserted::New, removed)
    }

    /// Forgets `call_id` and returns when it was answered, if it was remembered (and
    /// not expired at `now`).
    pub fn remove(&mut self, call_id: &str, now: Instant) -> (Option<Instant>, Removed) {
        let removed = Removed {
            expired: self.expire(now),
            evicted: 0,
        };
        let start = match self.by_id.get(call_id) {
            Some(e) => {
                let (start, seq) = (e.start, e.seq);
                self.drop_entry((start, seq));
                Some(start)
            }
            None => None,
        };
        (start, removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(entries: usize, bytes: usize, secs: u64) -> Answered {
        Answered::new(entries, bytes, Duration::from_secs(secs))
    }

    #[test]
    fn insert_then_remove_gives_the_start_once() {
        let t0 = Instant::now();
        let mut t = table(10, 10_000, 60);
        assert_eq!(t.insert("a", t0).0, Inserted::New);
        assert_eq!(
            t.insert("a", t0 + Duration::from_secs(1)).0,
            Inserted::Known
        );
        assert_eq!(t.len(), 1);
        assert_eq!(t.remove("a", t0 + Duration::from_secs(5)).0, Some(t0));
        assert_eq!(t.remove("a", t0 + Duration::from_secs(6)).0, None);
        assert!(t.is_empty());
        assert_eq!(t.bytes(), 0);
    }

    #[test]
    fn unknown_call_is_not_found() {
        let t0 = Instant::now();
        let mut t = table(10, 10_000, 60);
        t.insert("a", t0);
        assert_eq!(t.remove("b", t0).0, None);
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn entries_are_bounded_oldest_evicted_first() {
        let t0 = Instant::now();
        let mut t = table(3, 1 << 20, 3600);
        let mut evicted = 0;
        for i in 0..10u64 {
            let (r, rm) = t.insert(&format!("c{i}"), t0 + Duration::from_millis(i));
            assert_eq!(r, Inserted::New);
            evicted += rm.evicted;
            assert!(t.len() <= 3);
        }
        assert_eq!(evicted, 7);
        let later = t0 + Duration::from_secs(1);
        assert_eq!(t.remove("c6", later).0, None, "pushed out");
        assert!(t.remove("c7", later).0.is_some());
        assert!(t.remove("c9", later).0.is_some());
    }

    #[test]
    fn bytes_are_bounded() {
        let t0 = Instant::now();
        let budget = 4 * (ENTRY_OVERHEAD + 100);
        let mut t = table(1_000_000, budget, 3600);
        let long = "x".repeat(100);
        for i in 0..100u64 {
            t.insert(&format!("{long}{i:03}"), t0);
            assert!(t.bytes() <= budget, "{} > {budget}", t.bytes());
        }
        assert!(t.len() < 4 && t.len() >= 3, "{}", t.len());
        // Positive control: short Call-IDs fit more in the same budget.
        let mut s = table(1_000_000, budget, 3600);
        for i in 0..100u64 {
            s.insert(&format!("{i}"), t0);
        }
        assert!(s.len() > t.len());
        // A single Call-ID over the whole budget is refused, nothing evicted for it.
        let (r, rm) = t.insert(&"y".repeat(budget), t0);
        assert_eq!((r, rm.evicted), (Inserted::TooLarge, 0));
    }

    #[test]
    fn calls_expire_after_the_longest_call_length() {
        let t0 = Instant::now();
        let mut t = table(100, 1 << 20, 60);
        t.insert("old", t0);
        t.insert("new", t0 + Duration::from_secs(30));
        let at = t0 + Duration::from_secs(61);
        let (start, rm) = t.remove("old", at);
        assert_eq!((start, rm.expired), (None, 1));
        // Positive control: the younger call is still there at the same instant.
        assert_eq!(t.remove("new", at).0, Some(t0 + Duration::from_secs(30)));
    }

    #[test]
    fn out_of_order_instants_keep_both_indexes_consistent() {
        let t0 = Instant::now();
        let mut t = table(2, 1 << 20, 3600);
        t.insert("b", t0 + Duration::from_secs(2));
        t.insert("a", t0 + Duration::from_secs(1));
        // "a" is the oldest by start time although inserted last.
        let (_, rm) = t.insert("c", t0 + Duration::from_secs(3));
        assert_eq!(rm.evicted, 1);
        assert_eq!(t.remove("a", t0).0, None);
        assert!(t.remove("b", t0).0.is_some());
        assert_eq!(t.len(), 1);
        assert_eq!(t.bytes(), cost("c"));
    }
}
