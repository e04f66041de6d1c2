//! Admission control: which received requests may create state at all.
//!
//! Before a request reaches the transaction layer, the endpoint asks the application's
//! [`Admission`] policy (when one is set) with the request's [`MessageClass`]. A refused
//! new request costs one stateless 503 (or nothing, when dropped) and never a
//! transaction; retransmissions of requests already being served, in-dialog requests,
//! ACKs and CANCELs have their own classes so a policy can keep them flowing while it
//! sheds new work.
//!
//! [`SourceRateLimit`] is the policy most deployments want first: a token bucket per
//! source address (Kamailio's `pike`), bounded in memory whatever the number of sources
//! (spoofed UDP sources included), deciding in O(1) from `now` alone.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use sipcore::endpoint::{Admission, Admit, MessageClass, SourceRateLimit, RateLimitConfig};
//! use sipcore::transport::Target;
//!
//! let limit = SourceRateLimit::new(RateLimitConfig { rate: 2.0, burst: 2.0, ..Default::default() });
//! let from = Target::udp("192.0.2.1:5060".parse()?);
//! let t0 = Instant::now();
//! assert_eq!(limit.admit(t0, &from, MessageClass::NewRequest), Admit::Accept);
//! assert_eq!(limit.admit(t0, &from, MessageClass::NewRequest), Admit::Accept);
//! assert!(matches!(limit.admit(t0, &from, MessageClass::NewRequest), Admit::Refuse { .. }));
//! // In-dialog requests are not counted; half a second later a token is back.
//! assert_eq!(limit.admit(t0, &from, MessageClass::InDialog), Admit::Accept);
//! assert_eq!(limit.admit(t0 + Duration::from_millis(500), &from, MessageClass::NewRequest), Admit::Accept);
//! # Ok::<(), std::net::AddrParseError>(())
//! ```

use std::hash::{BuildHasher, Hasher};
use std::net::IpAddr;
use std::time::Instant;

use parking_lot::Mutex;

use crate::transport::Target;

/// What a received request is, for admission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageClass {
    /// A request outside a dialog that would create a server transaction (or a
    /// retransmission of one: the endpoint tells them apart only when a policy refuses,
    /// and then lets retransmissions through to be absorbed).
    NewRequest,
    /// A request with a To tag (BYE, re-INVITE, ...).
    InDialog,
    /// ACK or CANCEL: they end work rather than start it.
    CancelOrAck,
}

/// A policy's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Let it through.
    Accept,
    /// Answer 503 statelessly, with this `Retry-After` (the endpoint's when `None`).
    Refuse {
        /// Seconds for `Retry-After`.
        retry_after: Option<u32>,
    },
    /// Drop it silently (cheapest; the sender retransmits, then gives up).
    Drop,
}

/// An admission policy, consulted on the receiving thread for every request before the
/// transaction layer sees it: keep it cheap and non-blocking.
pub trait Admission: Send + Sync + std::fmt::Debug {
    /// Decides on a request of `class` from `source` at `now`.
    fn admit(&self, now: Instant, source: &Target, class: MessageClass) -> Admit;
}

/// What [`SourceRateLimit`] does over the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OverLimit {
    /// 503 with `Retry-After` (the default: a well-behaved client backs off).
    #[default]
    Refuse,
    /// Silent drop (a flood gets no amplification at all).
    Drop,
}

/// [`SourceRateLimit`] settings.
#[derive(Debug, Clone)]
pub struct RateLimitConfig {
    /// New requests per second per source address, sustained.
    pub rate: f64,
    /// Burst: how many may arrive at once after a quiet period.
    pub burst: f64,
    /// Buckets kept (rounded up to a power of two). Sources beyond share buckets by a
    /// keyed hash, so memory is `slots × 32` bytes whatever the number of sources.
    pub slots: usize,
    /// Over the limit: 503 or drop.
    pub action: OverLimit,
    /// `Retry-After` of the 503s (`None`: the endpoint's).
    pub retry_after: Option<u32>,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            rate: 100.0,
            burst: 200.0,
            slots: 16_384,
            action: OverLimit::Refuse,
            retry_after: None,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    /// The source that owns the bucket (`None`: free).
    owner: Option<IpAddr>,
    tokens: f64,
    last: Option<Instant>,
}

const SHARDS: usize = 64;

/// Per-source token buckets for new requests (in-dialog requests, ACKs and CANCELs are
/// never limited). A bucket whose owner is idle (full again) is taken over by the next
/// source that hashes to it; two busy sources on one bucket share its rate, which errs
/// on the side of limiting.
#[derive(Debug)]
pub struct SourceRateLimit {
    cfg: RateLimitConfig,
    shards: Vec<Mutex<Vec<Slot>>>,
    per_shard: usize,
    key: std::collections::hash_map::RandomState,
}

impl SourceRateLimit {
    /// A limiter with `cfg`.
    pub fn new(cfg: RateLimitConfig) -> SourceRateLimit {
        let slots = cfg.slots.max(SHARDS).next_power_of_two();
        let per_shard = slots / SHARDS;
        let free = Slot {
            owner: None,
            tokens: cfg.burst,
            last: None,
        };
        SourceRateLimit {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(vec![free; per_shard]))
                .collect(),
            per_shard,
            cfg,
            key: std::collections::hash_map::RandomState::new(),
        }
    }

    /// Bytes the buckets take.
    pub fn memory_bytes(&self) -> usize {
        SHARDS
            * (self.per_shard * std::mem::size_of::<Slot>()
                + std::mem::size_of::<Mutex<Vec<Slot>>>())
    }

    /// Takes a token of `ip`'s bucket; false when it has none.
    pub fn take(&self, now: Instant, ip: IpAddr) -> bool {
        let mut h = self.key.build_hasher();
        match ip {
            IpAddr::V4(v4) => h.write_u32(u32::from(v4)),
            IpAddr::V6(v6) => h.write_u128(u128::from(v6)),
        }
        let hash = h.finish() as usize;
        let shard = &self.shards[hash % SHARDS];
        let index = (hash / SHARDS) % self.per_shard;
        let mut slots = shard.lock();
        let Some(slot) = slots.get_mut(index) else {
            return true;
        };
        if let Some(last) = slot.last {
            let secs = now.saturating_duration_since(last).as_secs_f64();
            slot.tokens = (slot.tokens + secs * self.cfg.rate).min(self.cfg.burst);
        }
        slot.last = Some(now);
        if slot.owner != Some(ip) && slot.tokens >= self.cfg.burst {
            // The owner is idle: the bucket is the new source's.
            slot.owner = Some(ip);
        }
        if slot.tokens >= 1.0 {
            slot.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

impl Admission for SourceRateLimit {
    fn admit(&self, now: Instant, source: &Target, class: MessageClass) -> Admit {
        if class != MessageClass::NewRequest || self.take(now, source.addr.ip()) {
            return Admit::Accept;
        }
        match self.cfg.action {
            OverLimit::Refuse => Admit::Refuse {
                retry_after: self.cfg.retry_after,
            },
            OverLimit::Drop => Admit::Drop,
        }
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // a test's arbitrary epoch
mod tests {
    use super::*;
    use std::time::Duration;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn rate_and_burst_per_source() {
        let l = SourceRateLimit::new(RateLimitConfig {
            rate: 10.0,
            burst: 5.0,
            ..Default::default()
        });
        let t0 = Instant::now();
        let a = ip("192.0.2.1");
        let ok = (0..20).filter(|_| l.take(t0, a)).count();
        assert_eq!(ok, 5, "the burst");
        // Another source is not affected.
        assert!(l.take(t0, ip("192.0.2.2")));
        // 10 per second: after 1 s ten more, not eleven.
        let t1 = t0 + Duration::from_secs(1);
        let ok = (0..20).filter(|_| l.take(t1, a)).count();
        assert_eq!(ok, 5, "refilled up to the burst only");
        let t2 = t1 + Duration::from_millis(300);
        let ok = (0..20).filter(|_| l.take(t2, a)).count();
        assert_eq!(ok, 3);
    }

    #[test]
    fn only_new_requests_are_limited() {
        let l = SourceRateLimit::new(RateLimitConfig {
            rate: 1.0,
            burst: 1.0,
            action: OverLimit::Drop,
            ..Default::default()
        });
        let t = Instant::now();
        let src = Target::udp("192.0.2.1:5060".parse().unwrap());
        assert_eq!(l.admit(t, &src, MessageClass::NewRequest), Admit::Accept);
        assert_eq!(l.admit(t, &src, MessageClass::NewRequest), Admit::Drop);
        for _ in 0..100 {
            assert_eq!(l.admit(t, &src, MessageClass::InDialog), Admit::Accept);
            assert_eq!(l.admit(t, &src, MessageClass::CancelOrAck), Admit::Accept);
        }
    }

    #[test]
    fn bounded_memory_under_a_million_sources() {
        let l = SourceRateLimit::new(RateLimitConfig {
            rate: 1.0,
            burst: 2.0,
            slots: 1024,
            ..Default::default()
        });
        let before = l.memory_bytes();
        let t = Instant::now();
        for i in 0..1_000_000u32 {
            l.take(t, IpAddr::V4(i.into()));
        }
        assert_eq!(l.memory_bytes(), before);
        assert!(before < 64 * 1024, "{before}");
        // A flood of fresh sources does not lift the limit of a busy one for long: at
        // worst it shares a bucket.
        let busy = ip("198.51.100.7");
        let ok = (0..50).filter(|_| l.take(t, busy)).count();
        assert!(ok <= 2, "{ok}");
    }
}
