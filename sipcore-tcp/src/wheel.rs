//! A hierarchical timer wheel: O(1) insertion, O(1) amortised expiry, lazy cancellation.
//!
//! Three levels of 256 slots; a tick is [`TICK_MS`] milliseconds, so level 0 spans about a
//! second, level 1 about four minutes and level 2 about 18 hours (later deadlines are
//! clamped and re-filed when they cascade). An entry is a `(key, deadline)` pair; the owner
//! keeps the deadline it armed and ignores entries that no longer match ("lazy
//! cancellation"), so re-arming never searches the wheel. Owners re-arm a connection only
//! when its timer fires, not on every message, so an idle connection costs one entry and
//! nothing per tick.
//!
//! Sans-IO: the caller passes the time in.

/// Milliseconds per tick.
pub(crate) const TICK_MS: u64 = 4;
const BITS: u32 = 8;
const SLOTS: u64 = 1 << BITS;
const MASK: u64 = SLOTS - 1;
const LEVELS: usize = 3;
/// Longest delay one level-2 pass can hold, in ticks.
const SPAN: u64 = 1 << (BITS * LEVELS as u32);

/// The wheel. Keys are the owner's slab keys.
#[derive(Debug)]
pub(crate) struct Wheel {
    /// `LEVELS * SLOTS` lists of `(key, deadline_ms)`.
    slots: Vec<Vec<(usize, u64)>>,
    /// Every entry due at or before this tick has been handed out.
    tick: u64,
    len: usize,
}

impl Wheel {
    /// An empty wheel at time `now_ms`.
    pub(crate) fn new(now_ms: u64) -> Wheel {
        Wheel {
            slots: (0..LEVELS as u64 * SLOTS).map(|_| Vec::new()).collect(),
            tick: now_ms / TICK_MS,
            len: 0,
        }
    }

    /// Number of entries (stale ones included).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Files `key` to be handed out once the time reaches `deadline_ms`.
    pub(crate) fn insert(&mut self, key: usize, deadline_ms: u64) {
        let due = deadline_ms.div_ceil(TICK_MS).max(self.tick + 1);
        self.place(key, deadline_ms, due);
        self.len += 1;
    }

    fn place(&mut self, key: usize, deadline_ms: u64, due: u64) {
        let delta = due.saturating_sub(self.tick);
        let (level, due) = if delta < SLOTS {
            (0, due)
        } else if delta < SLOTS * SLOTS {
            (1, due)
        } else if delta < SPAN {
            (2, due)
        } else {
            (2, self.tick + SPAN - 1)
        };
        let slot = (due >> (BITS * level as u32)) & MASK;
        let index = level * SLOTS as usize + slot as usize;
        if let Some(list) = self.slots.get_mut(index) {
            list.push((key, deadline_ms));
        }
    }

    /// Moves the wheel to `now_ms`, appending every entry now due to `out`.
    pub(crate) fn advance(&mut self, now_ms: u64, out: &mut Vec<(usize, u64)>) {
        let target = now_ms / TICK_MS;
        if self.len == 0 {
            self.tick = self.tick.max(target);
            return;
        }
        while self.tick < target {
            self.tick += 1;
            let t = self.tick;
            if t & MASK == 0 {
                if t & (SLOTS * SLOTS - 1) == 0 {
                    self.cascade(2, (t >> (2 * BITS)) & MASK);
                }
                self.cascade(1, (t >> BITS) & MASK);
            }
            if let Some(list) = self.slots.get_mut((t & MASK) as usize) {
                self.len -= list.len();
                out.append(list);
            }
            if self.len == 0 {
                self.tick = target;
            }
        }
    }

    fn cascade(&mut self, level: usize, slot: u64) {
        let index = level * SLOTS as usize + slot as usize;
        let Some(list) = self.slots.get_mut(index) else {
            return;
        };
        let list = std::mem::take(list);
        for &(key, deadline_ms) in &list {
            // Entries of this slot are due at or after the current tick.
            let due = deadline_ms.div_ceil(TICK_MS).max(self.tick);
            self.place(key, deadline_ms, due);
        }
        // Keep the allocation for the next rotation.
        let mut list = list;
        list.clear();
        if let Some(slot) = self.slots.get_mut(index) {
            if slot.is_empty() {
                *slot = list;
            }
        }
    }

    /// The earliest time (ms) at which [`advance`](Self::advance) may hand something out,
    /// or `None` when the wheel is empty. Never later than the true earliest deadline.
    pub(crate) fn next_expiry(&self) -> Option<u64> {
        if self.len == 0 {
            return None;
        }
        // A level-1 entry may be due before a level-0 one (it was filed earlier), so take
        // the earliest candidate of every level: a level's candidate is when its first
        // non-empty slot is handed out (level 0) or cascades (higher levels).
        let mut best: Option<u64> = None;
        for level in 0..LEVELS {
            let shift = BITS * level as u32;
            let base = self.tick >> shift;
            for step in 1..=SLOTS {
                let slot = (base + step) & MASK;
                let index = level * SLOTS as usize + slot as usize;
                if self.slots.get(index).is_some_and(|l| !l.is_empty()) {
                    let tick = ((base + step) << shift).max(self.tick + 1);
                    best = Some(best.map_or(tick, |b| b.min(tick)));
                    break;
                }
            }
        }
        Some(best.unwrap_or(self.tick + 1) * TICK_MS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fire(w: &mut Wheel, now: u64) -> Vec<(usize, u64)> {
        let mut out = Vec::new();
        w.advance(now, &mut out);
        out
    }

    #[test]
    fn fires_at_deadline_not_before() {
        let mut w = Wheel::new(1000);
        w.insert(1, 1010);
        w.insert(2, 1003);
        assert!(fire(&mut w, 1002).is_empty());
        assert_eq!(fire(&mut w, 1004), vec![(2, 1003)]);
        assert!(fire(&mut w, 1009).is_empty());
        assert_eq!(fire(&mut w, 1012), vec![(1, 1010)]);
        assert_eq!(w.len(), 0);
        assert_eq!(w.next_expiry(), None);
    }

    #[test]
    fn past_deadline_fires_on_next_tick() {
        let mut w = Wheel::new(5000);
        w.insert(7, 10);
        assert_eq!(fire(&mut w, 5000 + TICK_MS), vec![(7, 10)]);
    }

    #[test]
    fn long_timers_cascade_exactly() {
        let start = 123_457;
        let mut w = Wheel::new(start);
        let delays = [
            1u64, 900, 1_100, 5_000, 70_000, 120_000, 300_000, 4_000_000, 90_000_000,
        ];
        for (k, d) in delays.iter().enumerate() {
            w.insert(k, start + d);
        }
        let mut now = start;
        let mut seen = Vec::new();
        while seen.len() < delays.len() {
            let next = w.next_expiry().unwrap();
            assert!(next > now, "next {next} <= now {now}");
            now = next;
            for (k, deadline) in fire(&mut w, now) {
                assert!(deadline <= now, "fired early: {deadline} > {now}");
                seen.push((k, now - start));
            }
        }
        for (k, at) in seen {
            let d = delays[k];
            // Fired within one tick after its deadline (clamped entries re-file and
            // stay exact because the deadline is kept).
            assert!(at >= d && at <= d + TICK_MS, "key {k}: {d} fired at {at}");
        }
    }

    #[test]
    fn earlier_level_one_entry_is_not_overslept() {
        let mut w = Wheel::new(0);
        w.insert(1, 300 * TICK_MS); // level 1 (256 ticks or more away)
        let mut out = Vec::new();
        w.advance(100 * TICK_MS, &mut out);
        w.insert(2, 355 * TICK_MS); // level 0, due after key 1
        let mut now = 100 * TICK_MS;
        let mut order = Vec::new();
        while order.len() < 2 {
            now = w.next_expiry().unwrap();
            out.clear();
            w.advance(now, &mut out);
            for (k, d) in &out {
                assert!(now - d < TICK_MS, "late: {k} due {d} fired {now}");
                order.push(*k);
            }
        }
        assert_eq!(order, vec![1, 2]);
        assert!(now >= 355 * TICK_MS);
    }

    #[test]
    fn many_entries_cost_nothing_until_due() {
        let mut w = Wheel::new(0);
        for k in 0..100_000 {
            w.insert(k, 120_000 + (k as u64 % 1000));
        }
        assert!(fire(&mut w, 60_000).is_empty());
        let mut n = fire(&mut w, 120_500).len();
        n += fire(&mut w, 121_100).len();
        assert_eq!(n, 100_000);
    }

    proptest::proptest! {
        /// Every entry fires once, never before its deadline, and no later than one tick
        /// after it when the owner sleeps until `next_expiry`; inserts may come at any
        /// time, also while the wheel lags behind the clock.
        #[test]
        fn fires_once_on_time(
            start in 0u64..1_000_000,
            ops in proptest::collection::vec((0u64..400_000, 0u64..3_000), 1..60),
        ) {
            let mut w = Wheel::new(start);
            let mut now = start;
            let mut pending = std::collections::HashMap::new();
            let mut out = Vec::new();
            for (key, (delay, gap)) in ops.into_iter().enumerate() {
                // The owner is woken by something else `gap` ms later, then inserts.
                now += gap;
                out.clear();
                w.advance(now, &mut out);
                for (k, d) in &out {
                    proptest::prop_assert!(*d <= now);
                    proptest::prop_assert_eq!(pending.remove(k), Some(*d));
                }
                w.insert(key, now + delay);
                pending.insert(key, now + delay);
            }
            while !pending.is_empty() {
                let next = w.next_expiry().unwrap();
                proptest::prop_assert!(next > now);
                now = next;
                out.clear();
                w.advance(now, &mut out);
                for (k, d) in &out {
                    proptest::prop_assert!(*d <= now, "early");
                    proptest::prop_assert!(now - d < TICK_MS, "late: due {} fired {}", d, now);
                    proptest::prop_assert_eq!(pending.remove(k), Some(*d));
                }
            }
            proptest::prop_assert_eq!(w.len(), 0);
        }
    }
}
