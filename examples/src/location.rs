//! The location service: bindings of an address of record to contact URIs, behind the
//! [`Location`] trait, with a bounded in-memory store ([`MemoryLocation`]).

use std::collections::HashMap;
use std::fmt;
use std::hash::BuildHasher;
use std::time::Instant;

use parking_lot::Mutex;

/// One contact bound to an address of record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The contact URI as registered.
    pub uri: String,
    /// `q` in thousandths (1000 when absent).
    pub q: u16,
    /// When it expires.
    pub expires_at: Instant,
    /// Call-ID of the REGISTER that made it.
    pub call_id: String,
    /// CSeq of that REGISTER.
    pub cseq: u32,
}

/// Why a change could not be stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The store is full: no new address of record can be added.
    #[error("location store full")]
    Full,
    /// A shared store did not acknowledge the change in time (nothing may be assumed
    /// about it: the caller answers 503 and the UA registers again).
    #[error("location store unavailable: {0}")]
    Unavailable(Unavailable),
}

/// Why a shared store is unavailable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unavailable {
    /// No answer within the configured bound.
    #[error("no answer in time")]
    Timeout,
    /// Too many requests waiting for the store already.
    #[error("queue full")]
    QueueFull,
    /// The store is down (connection refused or lost, reconnection backing off).
    #[error("store down")]
    Down,
    /// Other nodes kept changing the same address of record.
    #[error("too many concurrent changes")]
    Contended,
}

/// Where bindings live. Implementations are shared between worker threads.
pub trait Location: Send + Sync + fmt::Debug {
    /// Current (unexpired) bindings of `aor`, highest q first.
    fn lookup(&self, aor: &str, now: Instant) -> Vec<Binding>;

    /// Runs `change` on the unexpired bindings of `aor` (created empty if needed) and
    /// stores the result atomically; returns the bindings after the change. An empty
    /// result removes the address of record. `change` may run more than once (a
    /// shared store retries it on the current bindings when another node changed them
    /// meanwhile): it must only depend on what it is given.
    fn modify(
        &self,
        aor: &str,
        now: Instant,
        change: &mut dyn FnMut(&mut Vec<Binding>),
    ) -> Result<Vec<Binding>, StoreError>;

    /// Addresses of record stored (for a shared store: held in this node's cache).
    fn len(&self) -> usize;

    /// The store's own counters as Prometheus text (none by default).
    fn metrics_text(&self) -> String {
        String::new()
    }

    /// Whether nothing is stored.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

const SHARDS: usize = 16;

/// An in-memory location store: sharded maps, at most `max_aors` addresses of record.
#[derive(Debug)]
pub struct MemoryLocation {
    shards: Vec<Mutex<HashMap<String, Vec<Binding>>>>,
    hasher: std::collections::hash_map::RandomState,
    max_per_shard: usize,
}

impl MemoryLocation {
    /// A store for at most `max_aors` addresses of record.
    pub fn new(max_aors: usize) -> MemoryLocation {
        MemoryLocation {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: Default::default(),
            max_per_shard: max_aors.div_ceil(SHARDS).max(1),
        }
    }

    fn shard(&self, aor: &str) -> &Mutex<HashMap<String, Vec<Binding>>> {
        let i = (self.hasher.hash_one(aor) as usize) % SHARDS;
        &self.shards[i]
    }
}

impl MemoryLocation {
    /// Estimated bytes the bindings take: keys, binding vectors and their strings, and
    /// a hash-table slot each (read at scrape time, one shard lock at a time).
    pub fn memory_bytes(&self) -> usize {
        let slot = std::mem::size_of::<(String, Vec<Binding>)>() + 8;
        self.shards
            .iter()
            .map(|s| {
                let m = s.lock();
                m.iter()
                    .map(|(k, v)| {
                        slot + k.capacity()
                            + v.capacity() * std::mem::size_of::<Binding>()
                            + v.iter()
                                .map(|b| b.uri.capacity() + b.call_id.capacity())
                                .sum::<usize>()
                    })
                    .sum::<usize>()
                    + m.capacity().saturating_sub(m.len()) * slot
            })
            .sum()
    }
}

impl Location for MemoryLocation {
    fn lookup(&self, aor: &str, now: Instant) -> Vec<Binding> {
        let map = self.shard(aor).lock();
        let mut v: Vec<Binding> = map
            .get(aor)
            .map(|b| b.iter().filter(|b| b.expires_at > now).cloned().collect())
            .unwrap_or_default();
        v.sort_by_key(|b| std::cmp::Reverse(b.q));
        v
    }

    fn modify(
        &self,
        aor: &str,
        now: Instant,
        change: &mut dyn FnMut(&mut Vec<Binding>),
    ) -> Result<Vec<Binding>, StoreError> {
        let mut map = self.shard(aor).lock();
        let mut list = map.remove(aor).unwrap_or_default();
        list.retain(|b| b.expires_at > now);
        change(&mut list);
        list.sort_by_key(|b| std::cmp::Reverse(b.q));
        if list.is_empty() {
            return Ok(list);
        }
        if map.len() >= self.max_per_shard {
            map.retain(|_, b| {
                b.retain(|b| b.expires_at > now);
                !b.is_empty()
            });
            if map.len() >= self.max_per_shard {
                return Err(StoreError::Full);
            }
        }
        map.insert(aor.to_string(), list.clone());
        Ok(list)
    }

    fn metrics_text(&self) -> String {
        format!(
            "# HELP sipcore_location_memory_bytes Estimated bytes the in-memory bindings take (bounded by registrar.max_aors, max_contacts, max_contact_bytes).\n# TYPE sipcore_location_memory_bytes gauge\nsipcore_location_memory_bytes {}\n# TYPE sipcore_location_max_aors gauge\nsipcore_location_max_aors {}\n",
            self.memory_bytes(),
            self.max_per_shard * SHARDS
        )
    }

    fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn b(uri: &str, q: u16, at: Instant) -> Binding {
        Binding {
            uri: uri.into(),
            q,
            expires_at: at,
            call_id: "c".into(),
            cseq: 1,
        }
    }

    #[test]
    fn add_lookup_expire_remove() {
        let l = MemoryLocation::new(10);
        let now = Instant::now();
        let later = now + Duration::from_secs(60);
        l.modify("alice", now, &mut |v| {
            v.push(b("sip:a@1", 500, later));
            v.push(b("sip:a@2", 900, now + Duration::from_secs(10)));
        })
        .unwrap();
        let got = l.lookup("alice", now);
        assert_eq!(got[0].uri, "sip:a@2");
        assert_eq!(l.lookup("alice", now + Duration::from_secs(20)).len(), 1);
        l.modify("alice", now, &mut |v| v.clear()).unwrap();
        assert!(l.is_empty());
    }

    #[test]
    fn bounded() {
        let l = MemoryLocation::new(1);
        let now = Instant::now();
        let later = now + Duration::from_secs(60);
        let mut added = 0;
        for i in 0..100 {
            if l.modify(&format!("u{i}"), now, &mut |v| {
                v.push(b("sip:x@1", 1000, later))
            })
            .is_ok()
            {
                added += 1;
            }
        }
        assert!(added <= SHARDS, "{added}");
    }

    #[test]
    fn memory_is_measured_and_bounded_per_binding() {
        let l = MemoryLocation::new(10_000);
        let now = Instant::now();
        let later = now + Duration::from_secs(60);
        assert!(l.memory_bytes() < 64 * 1024);
        let before = l.memory_bytes();
        let uri = format!("sip:{}@10.0.0.1", "u".repeat(400));
        for i in 0..1000 {
            l.modify(&format!("user{i}"), now, &mut |v| {
                v.push(b(&uri, 1000, later))
            })
            .unwrap();
        }
        let per = (l.memory_bytes() - before) / 1000;
        // A 420-byte contact URI: the binding is the URI plus a few hundred bytes.
        assert!((420..1200).contains(&per), "{per} bytes per binding");
        assert!(l.metrics_text().contains("sipcore_location_memory_bytes "));
    }
}
