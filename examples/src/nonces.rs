//! Nonce counts (RFC 7616 §3.3, §5.12): the highest `nc` accepted per nonce, so a
//! request that reuses a nonce with a count not above the last one is a replay.
//!
//! Only nonces that authenticated a request are entered (the digest was right), so
//! nobody without credentials adds entries. The table is bounded twice:
//!
//! - **expiry**: a nonce lives `nonce_ttl_secs`; older entries are dropped (their
//!   nonces are answered `stale=true` anyway);
//! - **a cap** (`auth.max_nonces`): when full, the entry of the oldest nonce is dropped
//!   and the *floor* rises to that nonce's issue second. A nonce issued at or before
//!   the floor and no longer in the table is refused like a replay, so dropping an
//!   entry never reopens it to replay: its clients are challenged again (`stale=true`,
//!   which a UA answers with the fresh nonce without asking its user) and carry on.
//!   A full table costs re-challenges of the oldest nonces, never a refusal. Only a
//!   table filled by nonces of the current second would refuse fresh ones too, until
//!   the next second.
//!
//! An entry is 16 bytes of key and 4 of count in a `BTreeMap` ordered by issue time
//! (about 40 bytes with the tree's overhead): 100,000 nonces hold about 4 MB.

use std::collections::BTreeMap;

use parking_lot::Mutex;

/// What the table says about one use of a nonce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceUse {
    /// The count is above the last one accepted (or the nonce is new): accepted and
    /// recorded.
    Accepted,
    /// The count is not above the last one accepted for this nonce: a replay.
    Replayed,
    /// The nonce was dropped from the full table (issued at or before the floor): it
    /// cannot be checked, so it is refused.
    Dropped,
}

#[derive(Debug, Default)]
struct Inner {
    /// (issue second, serial) → highest count accepted.
    counts: BTreeMap<(u64, u64), u32>,
    /// Nonces issued at or before this second and not in `counts` are refused.
    floor: Option<u64>,
}

/// The nonce-count table, shared by every worker (one mutex, taken only to check the
/// credentials of a request that passed the digest check).
///
/// # Examples
///
/// ```
/// use sipcore_examples::nonces::{NonceCounts, NonceUse};
/// let t = NonceCounts::new(1000);
/// // The nonce issued at second 5 with serial 0xabc; nothing has expired (0).
/// assert_eq!(t.record(5, 0xabc, 1, 0), NonceUse::Accepted);
/// assert_eq!(t.record(5, 0xabc, 1, 0), NonceUse::Replayed);
/// assert_eq!(t.record(5, 0xabc, 2, 0), NonceUse::Accepted);
/// ```
#[derive(Debug)]
pub struct NonceCounts {
    inner: Mutex<Inner>,
    cap: usize,
}

impl NonceCounts {
    /// A table holding at most `cap` nonces (at least 1).
    pub fn new(cap: usize) -> NonceCounts {
        NonceCounts {
            inner: Mutex::new(Inner::default()),
            cap: cap.max(1),
        }
    }

    /// One authenticated use of the nonce issued at second `issued` with serial
    /// `serial` (unique per nonce), with count `nc`. Entries of nonces issued before `expired_before` are dropped
    /// first (the caller refuses those nonces as expired before asking).
    pub fn record(&self, issued: u64, serial: u64, nc: u32, expired_before: u64) -> NonceUse {
        let mut g = self.inner.lock();
        while let Some(e) = g.counts.first_entry() {
            if e.key().0 >= expired_before {
                break;
            }
            e.remove();
        }
        if let Some(last) = g.counts.get_mut(&(issued, serial)) {
            if nc > *last {
                *last = nc;
                return NonceUse::Accepted;
            }
            return NonceUse::Replayed;
        }
        if g.floor.is_some_and(|f| issued <= f) {
            return NonceUse::Dropped;
        }
        while g.counts.len() >= self.cap {
            let Some(((oldest, _), _)) = g.counts.pop_first() else {
                break;
            };
            g.floor = Some(g.floor.map_or(oldest, |f| f.max(oldest)));
        }
        g.counts.insert((issued, serial), nc);
        NonceUse::Accepted
    }

    /// Nonces tracked now.
    pub fn len(&self) -> usize {
        self.inner.lock().counts.len()
    }

    /// Whether no nonce is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_must_grow_per_nonce() {
        let t = NonceCounts::new(10);
        assert_eq!(t.record(1, 7, 1, 0), NonceUse::Accepted);
        assert_eq!(t.record(1, 7, 3, 0), NonceUse::Accepted);
        assert_eq!(t.record(1, 7, 3, 0), NonceUse::Replayed);
        assert_eq!(t.record(1, 7, 2, 0), NonceUse::Replayed);
        // Another nonce (same second, other serial) has its own count.
        assert_eq!(t.record(1, 8, 1, 0), NonceUse::Accepted);
        assert_eq!(t.record(1, 7, 4, 0), NonceUse::Accepted);
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn expired_entries_are_dropped() {
        let t = NonceCounts::new(10);
        for s in 0..5 {
            assert_eq!(t.record(s, 1, 1, 0), NonceUse::Accepted);
        }
        // Nonces issued before second 3 have expired.
        assert_eq!(t.record(4, 1, 2, 3), NonceUse::Accepted);
        assert_eq!(t.len(), 2);
        // Expiry is not eviction: the floor stays down.
        assert_eq!(t.record(6, 1, 1, 3), NonceUse::Accepted);
    }

    #[test]
    fn a_full_table_drops_the_oldest_and_refuses_it_after() {
        let t = NonceCounts::new(2);
        assert_eq!(t.record(10, 1, 1, 0), NonceUse::Accepted);
        assert_eq!(t.record(11, 2, 1, 0), NonceUse::Accepted);
        assert_eq!(t.record(12, 3, 1, 0), NonceUse::Accepted);
        assert_eq!(t.len(), 2);
        // The dropped nonce (second 10) cannot be checked any more: refused, even
        // with a higher count; so is any other nonce of that second or before.
        assert_eq!(t.record(10, 1, 5, 0), NonceUse::Dropped);
        assert_eq!(t.record(9, 4, 1, 0), NonceUse::Dropped);
        // The ones kept still work and are still protected.
        assert_eq!(t.record(11, 2, 1, 0), NonceUse::Replayed);
        assert_eq!(t.record(11, 2, 2, 0), NonceUse::Accepted);
        // A newer nonce goes in, dropping the next oldest.
        assert_eq!(t.record(13, 5, 1, 0), NonceUse::Accepted);
        assert_eq!(t.record(11, 2, 3, 0), NonceUse::Dropped);
        assert_eq!(t.len(), 2);
    }
}
