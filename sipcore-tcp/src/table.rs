//! Shared indexes: remote address (and RFC 5923 alias) -> connection, (address, server
//! name) -> outgoing layered connection, and the blacklist.
//!
//! The connection index is sharded (one `parking_lot::Mutex` per shard) so senders on
//! different threads rarely meet; a lookup is one hash, one short lock and an `Arc` clone.
//!
//! Named connections (TLS to a server name: the name is the SNI and what the certificate
//! was checked against) are also indexed by address and name, so a send for one name never
//! reuses a connection authenticated for another. The address index points at one of the
//! connections to an address (the first), for sends that name no server (responses).

use std::collections::hash_map::{Entry, HashMap, RandomState};
use std::hash::BuildHasher;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::conn::Conn;

const SHARDS: usize = 64;

type Shard = Mutex<HashMap<SocketAddr, Arc<Conn>>>;
/// Connections to one address, each with its own `Conn::name`.
type NamedShard = Mutex<HashMap<SocketAddr, Vec<Arc<Conn>>>>;

/// Remote address -> connection.
#[derive(Debug)]
pub(crate) struct Table {
    shards: Box<[Shard]>,
    named: Box<[NamedShard]>,
    hasher: RandomState,
}

impl Table {
    pub(crate) fn new() -> Table {
        Table {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            named: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: RandomState::new(),
        }
    }

    fn index(&self, addr: &SocketAddr) -> usize {
        (self.hasher.hash_one(addr) % SHARDS as u64) as usize
    }

    fn shard(&self, addr: &SocketAddr) -> &Shard {
        // `index < SHARDS == self.shards.len()`.
        &self.shards[self.index(addr)]
    }

    fn named_shard(&self, addr: &SocketAddr) -> &NamedShard {
        // `index < SHARDS == self.named.len()`.
        &self.named[self.index(addr)]
    }

    /// The connection to `addr` opened for server `name`, if any.
    pub(crate) fn get_named(&self, addr: &SocketAddr, name: &str) -> Option<Arc<Conn>> {
        let shard = self.named_shard(addr).lock();
        shard
            .get(addr)?
            .iter()
            .find(|c| c.name.as_deref() == Some(name))
            .cloned()
    }

    /// The connection to `addr` for `name`, or a new one from `make` (called with the
    /// shard locked). A new one is also indexed under `addr` alone unless another
    /// connection is there.
    pub(crate) fn get_or_try_insert_named<E>(
        &self,
        addr: SocketAddr,
        name: &str,
        make: impl FnOnce() -> Result<Arc<Conn>, E>,
    ) -> Result<(Arc<Conn>, bool), E> {
        let mut shard = self.named_shard(&addr).lock();
        let list = shard.entry(addr).or_default();
        if let Some(c) = list.iter().find(|c| c.name.as_deref() == Some(name)) {
            return Ok((c.clone(), false));
        }
        let conn = match make() {
            Ok(c) => c,
            Err(e) => {
                if list.is_empty() {
                    shard.remove(&addr);
                }
                return Err(e);
            }
        };
        list.push(conn.clone());
        drop(shard);
        self.insert_if_absent(addr, &conn);
        Ok((conn, true))
    }

    /// Removes `conn` from the name index of `addr`.
    pub(crate) fn remove_named(&self, addr: &SocketAddr, conn: &Arc<Conn>) {
        let mut shard = self.named_shard(addr).lock();
        if let Some(list) = shard.get_mut(addr) {
            list.retain(|c| !Arc::ptr_eq(c, conn));
            if list.is_empty() {
                shard.remove(addr);
            }
        }
    }

    /// The connection to `addr`, if any.
    pub(crate) fn get(&self, addr: &SocketAddr) -> Option<Arc<Conn>> {
        self.shard(addr).lock().get(addr).cloned()
    }

    /// The connection to `addr` if `usable` accepts it, else a new one from `make`
    /// (called with the shard locked, so two senders never open two connections to one
    /// address), which takes the address's entry.
    pub(crate) fn get_or_try_insert<E>(
        &self,
        addr: SocketAddr,
        usable: impl Fn(&Conn) -> bool,
        make: impl FnOnce() -> Result<Arc<Conn>, E>,
    ) -> Result<(Arc<Conn>, bool), E> {
        let mut shard = self.shard(&addr).lock();
        match shard.entry(addr) {
            Entry::Occupied(e) if usable(e.get()) => Ok((e.get().clone(), false)),
            Entry::Occupied(mut e) => {
                let conn = make()?;
                e.insert(conn.clone());
                Ok((conn, true))
            }
            Entry::Vacant(v) => {
                let conn = make()?;
                v.insert(conn.clone());
                Ok((conn, true))
            }
        }
    }

    /// Indexes `conn` under `addr`, replacing any previous connection (an accepted
    /// connection from an address is newer than whatever was there).
    pub(crate) fn insert(&self, addr: SocketAddr, conn: Arc<Conn>) {
        self.shard(&addr).lock().insert(addr, conn);
    }

    /// Indexes `conn` under `addr` unless another connection is there.
    pub(crate) fn insert_if_absent(&self, addr: SocketAddr, conn: &Arc<Conn>) -> bool {
        match self.shard(&addr).lock().entry(addr) {
            Entry::Occupied(_) => false,
            Entry::Vacant(v) => {
                v.insert(conn.clone());
                true
            }
        }
    }

    /// Removes `addr` if it points at `conn`.
    pub(crate) fn remove(&self, addr: &SocketAddr, conn: &Arc<Conn>) -> bool {
        let mut shard = self.shard(addr).lock();
        if shard.get(addr).is_some_and(|c| Arc::ptr_eq(c, conn)) {
            shard.remove(addr);
            true
        } else {
            false
        }
    }

    /// Every indexed connection (for shutdown).
    pub(crate) fn drain_all(&self) -> Vec<Arc<Conn>> {
        let mut out = Vec::new();
        for shard in self.shards.iter() {
            out.extend(shard.lock().drain().map(|(_, c)| c));
        }
        for shard in self.named.iter() {
            out.extend(shard.lock().drain().flat_map(|(_, c)| c));
        }
        out
    }
}

/// Destinations that failed recently, each with its expiry (ms, manager clock).
#[derive(Debug)]
pub(crate) struct Blacklist {
    map: Mutex<HashMap<SocketAddr, u64>>,
    len: AtomicUsize,
    max: usize,
    last_purge: AtomicU64,
}

impl Blacklist {
    pub(crate) fn new(max: usize) -> Blacklist {
        Blacklist {
            map: Mutex::new(HashMap::new()),
            len: AtomicUsize::new(0),
            max,
            last_purge: AtomicU64::new(0),
        }
    }

    /// Whether `addr` is blacklisted at `now`. Lock-free while the list is empty.
    pub(crate) fn contains(&self, addr: &SocketAddr, now: u64) -> bool {
        if self.len.load(Ordering::Relaxed) == 0 {
            return false;
        }
        let mut map = self.map.lock();
        match map.get(addr) {
            Some(&until) if until > now => true,
            Some(_) => {
                map.remove(addr);
                self.len.store(map.len(), Ordering::Relaxed);
                false
            }
            None => false,
        }
    }

    /// Blacklists `addr` until `until`. When full, expired entries are purged (at most
    /// once a second); if it is still full the entry is not added.
    pub(crate) fn insert(&self, addr: SocketAddr, until: u64, now: u64) -> bool {
        let mut map = self.map.lock();
        if map.len() >= self.max && !map.contains_key(&addr) {
            if now.saturating_sub(self.last_purge.load(Ordering::Relaxed)) < 1000 {
                return false;
            }
            self.last_purge.store(now, Ordering::Relaxed);
            map.retain(|_, t| *t > now);
            if map.len() >= self.max {
                return false;
            }
        }
        map.insert(addr, until);
        self.len.store(map.len(), Ordering::Relaxed);
        true
    }

    /// Removes `addr` (a later successful connection proves it is reachable).
    pub(crate) fn remove(&self, addr: &SocketAddr) {
        if self.len.load(Ordering::Relaxed) == 0 {
            return;
        }
        let mut map = self.map.lock();
        map.remove(addr);
        self.len.store(map.len(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blacklist_expires_and_is_bounded() {
        let b = Blacklist::new(2);
        let a: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let c: SocketAddr = "127.0.0.1:2".parse().unwrap();
        let d: SocketAddr = "127.0.0.1:3".parse().unwrap();
        assert!(!b.contains(&a, 10));
        assert!(b.insert(a, 100, 10));
        assert!(b.contains(&a, 99));
        assert!(!b.contains(&a, 100));
        assert!(b.insert(a, 5000, 10));
        assert!(b.insert(c, 200, 10));
        assert!(!b.insert(d, 300, 20), "full, purge too soon");
        assert!(b.insert(d, 3000, 2000), "purge removed c");
        assert!(b.contains(&d, 2001));
        b.remove(&d);
        assert!(!b.contains(&d, 2001));
    }
}
