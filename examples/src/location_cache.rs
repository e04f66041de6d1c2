//! A shared location store's local cache: bounded, sharded, versioned entries (the
//! store's version of each address of record), with the conversion between the
//! wall-clock milliseconds the shared store keeps and this process's [`Instant`]s.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;

use crate::location::Binding;

/// Maps [`Instant`]s to Unix milliseconds and back (one reading of both clocks at
/// start: a binding's expiry is the same moment on every node whose clock is in sync).
#[derive(Debug, Clone, Copy)]
pub struct WallClock {
    base: Instant,
    base_ms: u64,
}

impl WallClock {
    /// Reads both clocks now (a driver).
    pub fn now() -> WallClock {
        let base_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        WallClock::at(Instant::now(), base_ms)
    }

    /// `base` is the Unix time `base_ms`.
    pub fn at(base: Instant, base_ms: u64) -> WallClock {
        WallClock { base, base_ms }
    }

    /// `t` in Unix milliseconds.
    pub fn to_ms(&self, t: Instant) -> u64 {
        match t.checked_duration_since(self.base) {
            Some(d) => self
                .base_ms
                .saturating_add(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            None => self.base_ms.saturating_sub(
                u64::try_from(self.base.saturating_duration_since(t).as_millis())
                    .unwrap_or(u64::MAX),
            ),
        }
    }

    /// Unix milliseconds `ms` as an [`Instant`] (clamped to what `Instant` can hold).
    pub fn to_instant(&self, ms: u64) -> Instant {
        if ms >= self.base_ms {
            let d = Duration::from_millis(ms - self.base_ms);
            self.base.checked_add(d).unwrap_or(self.base)
        } else {
            let d = Duration::from_millis(self.base_ms - ms);
            self.base.checked_sub(d).unwrap_or(self.base)
        }
    }
}

/// What the cache holds of one address of record.
#[derive(Debug, Clone)]
struct Entry {
    /// The store's version (0: the address of record is not in the store).
    version: u64,
    bindings: Vec<Binding>,
    /// The cache epoch it was fetched in (an older one may have missed invalidations).
    epoch: u64,
}

/// A cached address of record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cached {
    /// The store's version of it (0: absent from the store).
    pub version: u64,
    /// Its bindings (expired ones included: the caller filters by its `now`).
    pub bindings: Vec<Binding>,
    /// Fetched before the last reconnection of the invalidation channel: to refresh.
    pub stale: bool,
}

const SHARDS: usize = 16;

/// The bounded cache. Known-absent entries (version 0, no bindings) save a round trip
/// for calls to unregistered users but never evict a binding: when a shard is full
/// they go first, and a new one is not kept when there is none to replace.
#[derive(Debug)]
pub struct Cache {
    shards: Vec<Mutex<HashMap<String, Entry>>>,
    hasher: std::collections::hash_map::RandomState,
    max_per_shard: usize,
    epoch: AtomicU64,
}

impl Cache {
    /// A cache of about `entries` addresses of record.
    pub fn new(entries: usize) -> Cache {
        Cache {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: Default::default(),
            max_per_shard: entries.div_ceil(SHARDS).max(1),
            epoch: AtomicU64::new(0),
        }
    }

    fn shard(&self, aor: &str) -> &Mutex<HashMap<String, Entry>> {
        let i = (self.hasher.hash_one(aor) as usize) % SHARDS;
        &self.shards[i]
    }

    /// The cached state of `aor`.
    pub fn get(&self, aor: &str) -> Option<Cached> {
        let epoch = self.epoch.load(Ordering::Relaxed);
        let map = self.shard(aor).lock();
        map.get(aor).map(|e| Cached {
            version: e.version,
            bindings: e.bindings.clone(),
            stale: e.epoch < epoch,
        })
    }

    /// Whether `aor` is cached.
    pub fn contains(&self, aor: &str) -> bool {
        self.shard(aor).lock().contains_key(aor)
    }

    /// Stores what the store holds of `aor` at `version`, unless the cache has a newer
    /// version already (a fetch that crossed a write). Version 0 (absent) always
    /// replaces: the address of record was removed or expired. `epoch` is
    /// [`epoch`](Self::epoch) read before the store was asked.
    pub fn put(&self, aor: &str, version: u64, bindings: Vec<Binding>, epoch: u64) {
        let absent = bindings.is_empty();
        let mut map = self.shard(aor).lock();
        if let Some(e) = map.get_mut(aor) {
            if version != 0 && version < e.version {
                return;
            }
            *e = Entry {
                version,
                bindings,
                epoch,
            };
            return;
        }
        if map.len() >= self.max_per_shard {
            let victim = map
                .iter()
                .find(|(_, e)| e.bindings.is_empty())
                .or_else(|| if absent { None } else { map.iter().next() })
                .map(|(k, _)| k.clone());
            match victim {
                Some(k) => {
                    map.remove(&k);
                }
                None => return,
            }
        }
        map.insert(
            aor.to_string(),
            Entry {
                version,
                bindings,
                epoch,
            },
        );
    }

    /// Forgets `aor` (its next lookup fetches it).
    pub fn remove(&self, aor: &str) {
        self.shard(aor).lock().remove(aor);
    }

    /// The current epoch.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Relaxed)
    }

    /// Marks every entry stale (the invalidation channel was down: they may have missed
    /// changes); each is refreshed on its next use.
    pub fn new_epoch(&self) {
        self.epoch.fetch_add(1, Ordering::Relaxed);
    }

    /// Entries with bindings.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().values().filter(|e| !e.bindings.is_empty()).count())
            .sum()
    }

    /// Whether no entry has bindings.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// All entries, absent ones included.
    pub fn entries(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(uri: &str, at: Instant) -> Binding {
        Binding {
            uri: uri.into(),
            q: 1000,
            expires_at: at,
            call_id: "c".into(),
            cseq: 1,
        }
    }

    #[test]
    fn wall_clock_round_trips() {
        let base = Instant::now();
        let c = WallClock::at(base, 1_700_000_000_000);
        let later = base + Duration::from_millis(1234);
        assert_eq!(c.to_ms(later), 1_700_000_001_234);
        assert_eq!(c.to_instant(1_700_000_001_234), later);
        assert_eq!(c.to_instant(c.to_ms(base)), base);
        // Another node's clock read at another moment agrees on the moment.
        let c2 = WallClock::at(base + Duration::from_secs(5), 1_700_000_005_000);
        assert_eq!(c2.to_instant(c.to_ms(later)), later);
    }

    #[test]
    fn versions_only_go_forward_and_absent_entries_never_evict_bindings() {
        let now = Instant::now();
        let c = Cache::new(SHARDS); // one entry per shard
        c.put("alice", 5, vec![b("sip:a@1", now)], c.epoch());
        c.put("alice", 4, vec![], c.epoch());
        assert_eq!(c.get("alice").unwrap().version, 5);
        c.put("alice", 0, vec![], c.epoch());
        assert_eq!(c.get("alice").unwrap().version, 0);
        c.put("alice", 7, vec![b("sip:a@2", now)], c.epoch());
        // Fill every shard with bindings, then add many absent ones: none is kept.
        for i in 0..200 {
            c.put(&format!("u{i}"), 1, vec![b("sip:x@1", now)], c.epoch());
        }
        let with_bindings = c.len();
        for i in 0..200 {
            c.put(&format!("nobody{i}"), 0, vec![], c.epoch());
        }
        assert_eq!(c.len(), with_bindings);
        assert!(c.entries() <= SHARDS);
        // Positive control: an entry with bindings does evict.
        c.put("bob", 1, vec![b("sip:b@1", now)], c.epoch());
        assert!(c.contains("bob"));
        assert!(c.entries() <= SHARDS);
    }

    #[test]
    fn a_new_epoch_marks_entries_stale_until_refreshed() {
        let c = Cache::new(10);
        c.put("alice", 1, vec![], c.epoch());
        assert!(!c.get("alice").unwrap().stale);
        c.new_epoch();
        assert!(c.get("alice").unwrap().stale);
        c.put("alice", 1, vec![], c.epoch());
        assert!(!c.get("alice").unwrap().stale);
    }
}
