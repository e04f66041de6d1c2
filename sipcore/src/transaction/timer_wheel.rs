//! A hashed timer wheel: O(1) arm and cancel, exact deadlines, no clock.
//!
//! Time is microseconds since the layer's epoch. A timer lives in the slot of
//! `deadline / granularity` modulo the slot count, in a doubly linked list threaded
//! through a slab of entries (so cancelling is an unlink by index). A deadline more than
//! one revolution ahead waits in its slot and is skipped until its round comes; each
//! entry keeps its exact deadline, so nothing fires early and nothing is rounded.
//!
//! [`expire`](Wheel::expire) moves every entry whose deadline is at or before `now` to a
//! due list; [`pop_due`](Wheel::pop_due) hands them out one by one. Arming a deadline
//! already in the past puts it straight on the due list, so a handler may arm timers
//! while due ones are being handed out.

use super::NIL;

/// What a fired timer belongs to: the owner's slab index and a small tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fired {
    pub owner: u32,
    pub tag: u8,
}

const VACANT: u8 = u8::MAX;
/// Flag bit of `Entry::flags`: the entry is on the due list, not in a slot.
const DUE: u8 = 1;

#[derive(Debug, Clone)]
struct Entry {
    deadline: u64,
    prev: u32,
    next: u32,
    owner: u32,
    tag: u8,
    flags: u8,
}

/// One timer wheel (the layer keeps one per shard).
#[derive(Debug)]
pub(crate) struct Wheel {
    granularity: u64,
    slots: Box<[u32]>,
    entries: Vec<Entry>,
    free: u32,
    /// Ticks before `cursor` have been scanned; the slot of `cursor` is scanned again.
    cursor: u64,
    due_head: u32,
    due_tail: u32,
    len: usize,
    /// A lower bound of the earliest armed deadline (exact after `expire`).
    earliest: u64,
}

impl Wheel {
    pub fn new(granularity_us: u64, slots: usize) -> Wheel {
        Wheel {
            granularity: granularity_us.max(1),
            slots: vec![NIL; slots.max(1)].into_boxed_slice(),
            entries: Vec::new(),
            free: NIL,
            cursor: 0,
            due_head: NIL,
            due_tail: NIL,
            len: 0,
            earliest: u64::MAX,
        }
    }

    /// Armed timers.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Heap bytes held by the wheel.
    pub fn heap_bytes(&self) -> usize {
        self.slots.len() * std::mem::size_of::<u32>()
            + self.entries.capacity() * std::mem::size_of::<Entry>()
    }

    /// Bytes of one armed timer.
    pub const ENTRY_BYTES: usize = std::mem::size_of::<Entry>();

    #[inline]
    fn slot_of(&self, deadline: u64) -> usize {
        ((deadline / self.granularity) % self.slots.len() as u64) as usize
    }

    /// Arms a timer; returns its id for [`cancel`](Self::cancel).
    pub fn arm(&mut self, deadline: u64, owner: u32, tag: u8) -> u32 {
        let e = Entry {
            deadline,
            prev: NIL,
            next: NIL,
            owner,
            tag,
            flags: 0,
        };
        let id = if self.free != NIL {
            let id = self.free;
            let slot = &mut self.entries[id as usize];
            self.free = slot.next;
            *slot = e;
            id
        } else {
            self.entries.push(e);
            (self.entries.len() - 1) as u32
        };
        self.len += 1;
        self.earliest = self.earliest.min(deadline);
        if deadline / self.granularity < self.cursor {
            self.push_due(id);
        } else {
            let s = self.slot_of(deadline);
            let head = self.slots[s];
            self.entries[id as usize].next = head;
            if head != NIL {
                self.entries[head as usize].prev = id;
            }
            self.slots[s] = id;
        }
        id
    }

    fn push_due(&mut self, id: u32) {
        let tail = self.due_tail;
        {
            let e = &mut self.entries[id as usize];
            e.flags |= DUE;
            e.prev = tail;
            e.next = NIL;
        }
        if tail == NIL {
            self.due_head = id;
        } else {
            self.entries[tail as usize].next = id;
        }
        self.due_tail = id;
    }

    fn unlink(&mut self, id: u32) {
        let (prev, next, due, deadline) = {
            let e = &self.entries[id as usize];
            (e.prev, e.next, e.flags & DUE != 0, e.deadline)
        };
        if prev != NIL {
            self.entries[prev as usize].next = next;
        } else if due {
            self.due_head = next;
        } else {
            let s = self.slot_of(deadline);
            self.slots[s] = next;
        }
        if next != NIL {
            self.entries[next as usize].prev = prev;
        } else if due {
            self.due_tail = prev;
        }
    }

    fn release(&mut self, id: u32) {
        let e = &mut self.entries[id as usize];
        e.tag = VACANT;
        e.flags = 0;
        e.next = self.free;
        self.free = id;
        self.len -= 1;
    }

    /// Cancels an armed timer. Ids of fired or cancelled timers must not be passed.
    pub fn cancel(&mut self, id: u32) {
        match self.entries.get(id as usize) {
            Some(e) if e.tag != VACANT => {}
            _ => return,
        }
        self.unlink(id);
        self.release(id);
    }

    /// Moves every timer due at `now` to the due list and recomputes the earliest
    /// deadline.
    pub fn expire(&mut self, now: u64) {
        let now_tick = now / self.granularity;
        if now_tick >= self.cursor {
            let n = self.slots.len() as u64;
            let span = (now_tick - self.cursor + 1).min(n);
            for t in self.cursor..self.cursor + span {
                let s = (t % n) as usize;
                let mut id = self.slots[s];
                while id != NIL {
                    let e = &self.entries[id as usize];
                    let next = e.next;
                    if e.deadline <= now {
                        self.unlink(id);
                        self.push_due(id);
                    }
                    id = next;
                }
            }
            self.cursor = now_tick;
        }
        self.recompute_earliest();
    }

    /// The next due timer, removed from the wheel.
    pub fn pop_due(&mut self) -> Option<Fired> {
        let id = self.due_head;
        if id == NIL {
            return None;
        }
        self.unlink(id);
        let e = &self.entries[id as usize];
        let fired = Fired {
            owner: e.owner,
            tag: e.tag,
        };
        self.release(id);
        if self.due_head == NIL {
            self.recompute_earliest();
        }
        Some(fired)
    }

    /// A lower bound of the earliest deadline (exact after [`expire`](Self::expire); a
    /// cancel may leave it early, which costs one spurious wake-up), `None` when empty.
    pub fn next_deadline(&self) -> Option<u64> {
        (self.len > 0).then_some(self.earliest)
    }

    fn recompute_earliest(&mut self) {
        let mut best = u64::MAX;
        let mut id = self.due_head;
        while id != NIL {
            let e = &self.entries[id as usize];
            best = best.min(e.deadline);
            id = e.next;
        }
        if best == u64::MAX && self.len > 0 {
            // Scan forward from the cursor; the first slot holding a timer of the
            // current round holds the earliest one (later rounds lie further ahead).
            let n = self.slots.len() as u64;
            let round_end = (self.cursor + n).saturating_mul(self.granularity);
            for t in self.cursor..self.cursor + n {
                let mut id = self.slots[(t % n) as usize];
                let mut found = false;
                while id != NIL {
                    let e = &self.entries[id as usize];
                    best = best.min(e.deadline);
                    found |= e.deadline < round_end;
                    id = e.next;
                }
                if found {
                    break;
                }
            }
        }
        self.earliest = best;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(w: &mut Wheel, now: u64) -> Vec<(u32, u8)> {
        w.expire(now);
        std::iter::from_fn(|| w.pop_due().map(|f| (f.owner, f.tag))).collect()
    }

    #[test]
    fn fires_at_exact_deadline_not_before() {
        let mut w = Wheel::new(10_000, 8);
        w.arm(25_000, 1, 0);
        assert_eq!(w.next_deadline(), Some(25_000));
        assert!(drain(&mut w, 24_999).is_empty());
        assert_eq!(w.next_deadline(), Some(25_000));
        assert_eq!(drain(&mut w, 25_000), vec![(1, 0)]);
        assert_eq!(w.next_deadline(), None);
        assert_eq!(w.len(), 0);
    }

    #[test]
    fn later_rounds_wait_their_turn() {
        let mut w = Wheel::new(10_000, 4); // 40 ms per revolution
        w.arm(5_000, 1, 0);
        w.arm(45_000, 2, 0); // same slot, next round
        w.arm(165_000, 3, 0); // four rounds on
        assert_eq!(drain(&mut w, 10_000), vec![(1, 0)]);
        assert_eq!(w.next_deadline(), Some(45_000));
        assert_eq!(drain(&mut w, 50_000), vec![(2, 0)]);
        assert_eq!(w.next_deadline(), Some(165_000));
        assert!(drain(&mut w, 160_000).is_empty());
        assert_eq!(drain(&mut w, 1_000_000), vec![(3, 0)]);
    }

    #[test]
    fn cancel_unlinks_anywhere() {
        let mut w = Wheel::new(1_000, 16);
        let ids: Vec<u32> = (0..10).map(|i| w.arm(5_000, i, 0)).collect();
        w.cancel(ids[0]);
        w.cancel(ids[9]);
        w.cancel(ids[4]);
        w.cancel(ids[4]); // twice: ignored
        let fired: Vec<u32> = drain(&mut w, 5_000).into_iter().map(|f| f.0).collect();
        assert_eq!(fired.len(), 7);
        assert!(!fired.contains(&0) && !fired.contains(&9) && !fired.contains(&4));
        assert_eq!(w.len(), 0);
        // Entries are reused.
        let before = w.entries.len();
        w.arm(1, 1, 1);
        assert_eq!(w.entries.len(), before);
    }

    #[test]
    fn past_deadlines_are_due_at_once() {
        let mut w = Wheel::new(1_000, 16);
        w.expire(100_000);
        let a = w.arm(50_000, 7, 3);
        assert_eq!(w.next_deadline(), Some(50_000));
        w.cancel(a);
        w.arm(99_500, 8, 1);
        assert_eq!(std::iter::from_fn(|| w.pop_due()).count(), 1);
    }

    #[test]
    fn long_gap_scans_each_slot_once() {
        let mut w = Wheel::new(1_000, 8);
        for i in 0..100u32 {
            w.arm(u64::from(i) * 3_000, i, 0);
        }
        let fired = drain(&mut w, 10_000_000);
        assert_eq!(fired.len(), 100);
    }
}
