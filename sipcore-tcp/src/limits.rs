//! Connection slots: the total, inbound and outbound limits (counted apart, so inbound
//! clients cannot take the slots outbound trunks need) and the per-source-IP limit on
//! accepted connections.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use crate::config::TcpConfig;
use crate::stats::Counters;

const SHARDS: usize = 16;

/// Which way a connection was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// Accepted from a listener.
    Inbound,
    /// Opened by this side.
    Outbound,
}

impl Direction {
    pub(crate) fn of(outbound: bool) -> Direction {
        if outbound {
            Direction::Outbound
        } else {
            Direction::Inbound
        }
    }
}

/// Which limit refused a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// `max_connections`, or the direction's own limit.
    Limit,
    /// `max_per_ip` for the source address.
    PerIp,
}

/// The limits and the per-IP counts (the totals are gauges in [`Counters`]).
#[derive(Debug)]
pub(crate) struct Limits {
    total: u64,
    inbound: u64,
    outbound: u64,
    per_ip: Option<PerIp>,
}

impl Limits {
    pub(crate) fn new(config: &TcpConfig) -> Limits {
        Limits {
            total: config.max_connections as u64,
            inbound: config.max_inbound as u64,
            outbound: config.max_outbound as u64,
            per_ip: config.max_per_ip.map(PerIp::new),
        }
    }

    /// Takes a slot for a connection of `direction` with peer `ip` (the per-IP limit
    /// applies to inbound connections only).
    pub(crate) fn reserve(
        &self,
        stats: &Counters,
        direction: Direction,
        ip: IpAddr,
    ) -> Result<(), Refusal> {
        let (gauge, max) = self.gauge(stats, direction);
        if !take(gauge, max) {
            return Err(Refusal::Limit);
        }
        if !take(&stats.connections_open, self.total) {
            Counters::dec(gauge);
            return Err(Refusal::Limit);
        }
        if let (Direction::Inbound, Some(p)) = (direction, &self.per_ip) {
            if !p.take(ip) {
                Counters::dec(&stats.connections_open);
                Counters::dec(gauge);
                return Err(Refusal::PerIp);
            }
        }
        Ok(())
    }

    /// Gives back a slot [`reserve`](Self::reserve) took.
    pub(crate) fn release(&self, stats: &Counters, direction: Direction, ip: IpAddr) {
        let (gauge, _) = self.gauge(stats, direction);
        Counters::dec(gauge);
        Counters::dec(&stats.connections_open);
        if let (Direction::Inbound, Some(p)) = (direction, &self.per_ip) {
            p.give(ip);
        }
    }

    fn gauge<'a>(&self, stats: &'a Counters, direction: Direction) -> (&'a AtomicU64, u64) {
        match direction {
            Direction::Inbound => (&stats.inbound_open, self.inbound),
            Direction::Outbound => (&stats.outbound_open, self.outbound),
        }
    }
}

/// Adds one to `gauge` unless it is at `max`.
fn take(gauge: &AtomicU64, max: u64) -> bool {
    let prev = gauge.fetch_add(1, Ordering::AcqRel);
    if prev >= max {
        gauge.fetch_sub(1, Ordering::AcqRel);
        false
    } else {
        true
    }
}

/// Accepted connections per source IP, sharded; an IP without connections has no entry.
#[derive(Debug)]
struct PerIp {
    max: usize,
    shards: Box<[Mutex<HashMap<IpAddr, usize>>]>,
    hasher: std::collections::hash_map::RandomState,
}

impl PerIp {
    fn new(max: usize) -> PerIp {
        PerIp {
            max,
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: Default::default(),
        }
    }

    fn shard(&self, ip: &IpAddr) -> &Mutex<HashMap<IpAddr, usize>> {
        // `index < SHARDS == self.shards.len()`.
        &self.shards[(self.hasher.hash_one(ip) % SHARDS as u64) as usize]
    }

    fn take(&self, ip: IpAddr) -> bool {
        let mut shard = self.shard(&ip).lock();
        let n = shard.entry(ip).or_insert(0);
        if *n >= self.max {
            if *n == 0 {
                shard.remove(&ip);
            }
            return false;
        }
        *n += 1;
        true
    }

    fn give(&self, ip: IpAddr) {
        let mut shard = self.shard(&ip).lock();
        if let Some(n) = shard.get_mut(&ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                shard.remove(&ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(total: usize, inbound: usize, outbound: usize, per_ip: Option<usize>) -> TcpConfig {
        TcpConfig {
            max_connections: total,
            max_inbound: inbound,
            max_outbound: outbound,
            max_per_ip: per_ip,
            ..TcpConfig::default()
        }
    }

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 3));

    #[test]
    fn inbound_at_its_limit_leaves_outbound_slots() {
        let l = Limits::new(&config(10, 2, 3, None));
        let s = Counters::default();
        assert_eq!(l.reserve(&s, Direction::Inbound, A), Ok(()));
        assert_eq!(l.reserve(&s, Direction::Inbound, B), Ok(()));
        assert_eq!(l.reserve(&s, Direction::Inbound, B), Err(Refusal::Limit));
        for _ in 0..3 {
            assert_eq!(l.reserve(&s, Direction::Outbound, A), Ok(()));
        }
        assert_eq!(l.reserve(&s, Direction::Outbound, A), Err(Refusal::Limit));
        assert_eq!(s.connections_open.load(Ordering::Relaxed), 5);
        l.release(&s, Direction::Inbound, A);
        assert_eq!(l.reserve(&s, Direction::Inbound, B), Ok(()));
        assert_eq!(s.inbound_open.load(Ordering::Relaxed), 2);
        assert_eq!(s.outbound_open.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn the_total_bounds_both_directions() {
        let l = Limits::new(&config(3, 5, 5, None));
        let s = Counters::default();
        assert_eq!(l.reserve(&s, Direction::Inbound, A), Ok(()));
        assert_eq!(l.reserve(&s, Direction::Outbound, A), Ok(()));
        assert_eq!(l.reserve(&s, Direction::Outbound, A), Ok(()));
        assert_eq!(l.reserve(&s, Direction::Inbound, A), Err(Refusal::Limit));
        assert_eq!(s.inbound_open.load(Ordering::Relaxed), 1, "refusal undone");
        assert_eq!(s.connections_open.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn per_ip_limit_counts_inbound_per_source() {
        let l = Limits::new(&config(100, 100, 100, Some(2)));
        let s = Counters::default();
        assert_eq!(l.reserve(&s, Direction::Inbound, A), Ok(()));
        assert_eq!(l.reserve(&s, Direction::Inbound, A), Ok(()));
        assert_eq!(l.reserve(&s, Direction::Inbound, A), Err(Refusal::PerIp));
        assert_eq!(
            l.reserve(&s, Direction::Inbound, B),
            Ok(()),
            "another source"
        );
        assert_eq!(
            l.reserve(&s, Direction::Outbound, A),
            Ok(()),
            "not for outbound"
        );
        assert_eq!(s.inbound_open.load(Ordering::Relaxed), 3);
        assert_eq!(s.connections_open.load(Ordering::Relaxed), 4);
        l.release(&s, Direction::Inbound, A);
        assert_eq!(l.reserve(&s, Direction::Inbound, A), Ok(()));
        // Released to zero: the entry goes (bounded memory).
        l.release(&s, Direction::Inbound, B);
        let p = l.per_ip.as_ref().unwrap();
        assert!(!p.shard(&B).lock().contains_key(&B));
    }
}
