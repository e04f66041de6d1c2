//! One shard of the transaction table: a slab of transactions, an intrusive chained hash
//! index over it, and the shard's timer wheel, all behind the shard's one mutex.
//!
//! [`Ctx`] is what the state machines work through while the shard is locked: it sends,
//! arms and cancels timers, reports events and terminates, so the machines themselves
//! are small functions of (state, input).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::config::Timings;
use super::output::{Event, Outputs, Timer, TransactionId, Transmit};
use super::rng::Rng;
use super::timer_wheel::Wheel;
use super::txn::{Kind, Link, State, Txn, TXN_BYTES};
use super::NIL;

#[derive(Debug)]
enum Entry {
    Live(Txn),
    Free(u32),
}

#[derive(Debug)]
struct Slot {
    generation: u32,
    entry: Entry,
}

/// One shard.
#[derive(Debug)]
pub(crate) struct Shard {
    slots: Vec<Slot>,
    free: u32,
    /// Chain heads; the length is a power of two.
    buckets: Vec<u32>,
    pub wheel: Wheel,
    len: usize,
}

const INITIAL_BUCKETS: usize = 64;

impl Shard {
    pub fn new(wheel: Wheel) -> Shard {
        Shard {
            slots: Vec::new(),
            free: NIL,
            buckets: vec![NIL; INITIAL_BUCKETS],
            wheel,
            len: 0,
        }
    }

    /// Live transactions.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Heap bytes of the shard's own structures (not the messages its transactions hold).
    pub fn heap_bytes(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<Slot>()
            + self.buckets.capacity() * std::mem::size_of::<u32>()
            + self.wheel.heap_bytes()
    }

    /// Bytes of one slab slot.
    pub const SLOT_BYTES: usize = std::mem::size_of::<Slot>();

    #[inline]
    fn bucket(&self, hash: u64) -> usize {
        // The low bits chose the shard; take the high ones.
        ((hash >> 32) as usize) & (self.buckets.len() - 1)
    }

    #[inline]
    pub fn get(&self, index: u32) -> Option<&Txn> {
        match self.slots.get(index as usize) {
            Some(Slot {
                entry: Entry::Live(t),
                ..
            }) => Some(t),
            _ => None,
        }
    }

    #[inline]
    pub fn get_mut(&mut self, index: u32) -> Option<&mut Txn> {
        match self.slots.get_mut(index as usize) {
            Some(Slot {
                entry: Entry::Live(t),
                ..
            }) => Some(t),
            _ => None,
        }
    }

    /// The index of the live transaction a handle names.
    pub fn resolve(&self, index: u32, generation: u32) -> Option<u32> {
        match self.slots.get(index as usize) {
            Some(s) if s.generation == generation && matches!(s.entry, Entry::Live(_)) => {
                Some(index)
            }
            _ => None,
        }
    }

    pub fn generation(&self, index: u32) -> u32 {
        self.slots.get(index as usize).map_or(0, |s| s.generation)
    }

    /// The first transaction in `hash`'s chain for which `pred` holds.
    pub fn find(&self, hash: u64, mut pred: impl FnMut(&Txn) -> bool) -> Option<u32> {
        let mut i = self.buckets[self.bucket(hash)];
        while let Some(t) = self.get(i) {
            if pred(t) {
                return Some(i);
            }
            i = t.chain;
        }
        None
    }

    /// Transactions with this exact hash (one Call-ID and CSeq number, barring collisions).
    pub fn count_hash(&self, hash: u64) -> usize {
        let mut n = 0;
        let mut i = self.buckets[self.bucket(hash)];
        while let Some(t) = self.get(i) {
            n += usize::from(t.key.hash == hash);
            i = t.chain;
        }
        n
    }

    /// Indices of every live transaction (for the rare scans: transport errors by target).
    pub fn live(&self) -> impl Iterator<Item = u32> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| matches!(s.entry, Entry::Live(_)))
            .map(|(i, _)| i as u32)
    }

    /// Adds a transaction; returns its index and generation.
    pub fn insert(&mut self, mut txn: Txn) -> (u32, u32) {
        if self.len >= self.buckets.len() {
            self.grow();
        }
        let b = self.bucket(txn.key.hash);
        txn.chain = self.buckets[b];
        let index = if self.free != NIL {
            let index = self.free;
            let slot = &mut self.slots[index as usize];
            self.free = match slot.entry {
                Entry::Free(next) => next,
                Entry::Live(_) => NIL,
            };
            slot.entry = Entry::Live(txn);
            index
        } else {
            self.slots.push(Slot {
                generation: 0,
                entry: Entry::Live(txn),
            });
            (self.slots.len() - 1) as u32
        };
        self.buckets[b] = index;
        self.len += 1;
        (index, self.slots[index as usize].generation)
    }

    fn grow(&mut self) {
        let n = self.buckets.len() * 2;
        self.buckets.clear();
        self.buckets.resize(n, NIL);
        for i in 0..self.slots.len() {
            let hash = match &self.slots[i].entry {
                Entry::Live(t) => t.key.hash,
                Entry::Free(_) => continue,
            };
            let b = self.bucket(hash);
            let head = self.buckets[b];
            if let Entry::Live(t) = &mut self.slots[i].entry {
                t.chain = head;
            }
            self.buckets[b] = i as u32;
        }
    }

    /// Removes a transaction (its timers must be cancelled by the caller).
    pub fn remove(&mut self, index: u32) -> Option<Txn> {
        let t = self.get(index)?;
        let (hash, next) = (t.key.hash, t.chain);
        let b = self.bucket(hash);
        if self.buckets[b] == index {
            self.buckets[b] = next;
        } else {
            let mut i = self.buckets[b];
            while let Some(t) = self.get_mut(i) {
                if t.chain == index {
                    t.chain = next;
                    break;
                }
                i = t.chain;
            }
        }
        let slot = self.slots.get_mut(index as usize)?;
        let entry = std::mem::replace(&mut slot.entry, Entry::Free(self.free));
        slot.generation = slot.generation.wrapping_add(1);
        self.free = index;
        self.len -= 1;
        match entry {
            Entry::Live(t) => Some(t),
            Entry::Free(_) => None,
        }
    }
}

/// What the state machines work through while their shard is locked.
#[derive(Debug)]
pub(crate) struct Ctx<'a> {
    pub shard: &'a mut Shard,
    pub shard_no: u16,
    /// Now, in microseconds since the epoch.
    pub now: u64,
    pub epoch: Instant,
    pub tm: &'a Timings,
    pub rng: &'a Rng,
    pub live: &'a AtomicUsize,
    pub seed: u64,
    pub out: &'a mut Outputs,
}

impl Ctx<'_> {
    pub fn id(&self, index: u32) -> TransactionId {
        TransactionId {
            shard: self.shard_no,
            index,
            generation: self.shard.generation(index),
        }
    }

    #[inline]
    pub fn txn(&mut self, index: u32) -> Option<&mut Txn> {
        self.shard.get_mut(index)
    }

    /// Arms `timer` in `slot` to fire `delay` µs from now (replacing what was there).
    pub fn arm(&mut self, index: u32, slot: usize, timer: Timer, delay: u64) {
        self.disarm(index, slot);
        let deadline = self.now.saturating_add(delay);
        let id = self.shard.wheel.arm(deadline, index, timer as u8);
        if let Some(t) = self.shard.get_mut(index) {
            t.timers[slot] = id;
        }
        self.out.armed(self.epoch + Duration::from_micros(deadline));
    }

    /// Cancels the timer in `slot`, if any.
    pub fn disarm(&mut self, index: u32, slot: usize) {
        if let Some(t) = self.shard.get_mut(index) {
            let id = std::mem::replace(&mut t.timers[slot], NIL);
            if id != NIL {
                self.shard.wheel.cancel(id);
            }
        }
    }

    /// Sends the transaction's request.
    pub fn send_request(&mut self, index: u32) {
        let id = self.id(index);
        if let Some(t) = self.shard.get(index) {
            self.out.transmit(Transmit {
                target: t.target,
                payload: t.request.clone(),
                transaction: id,
            });
        }
    }

    /// Sends the transaction's last response (server) or ACK (client INVITE).
    pub fn send_last(&mut self, index: u32) {
        let id = self.id(index);
        if let Some(t) = self.shard.get(index) {
            if let Some(last) = &t.last {
                self.out.transmit(Transmit {
                    target: t.target,
                    payload: last.clone(),
                    transaction: id,
                });
            }
        }
    }

    pub fn event(&mut self, e: Event) {
        self.out.event(e);
    }

    /// Reports a timeout, then terminates.
    pub fn time_out(&mut self, index: u32, timer: Timer) {
        let id = self.id(index);
        self.event(Event::Timeout { id, timer });
        self.terminate(index);
    }

    /// Moves the transaction to Terminated: it leaves the table at once (§17.1.1.2:
    /// "destroyed the instant it enters the Terminated state"). A CANCEL still held for
    /// an INVITE goes with it: it was never sent and now never will be.
    pub fn terminate(&mut self, index: u32) {
        self.disarm(index, 0);
        self.disarm(index, 1);
        let id = self.id(index);
        let Some(t) = self.shard.remove(index) else {
            return;
        };
        self.live.fetch_sub(1, Ordering::Relaxed);
        self.event(Event::Terminated { id });
        if t.kind == Kind::Ict {
            if let Some(c) = self.shard.resolve(t.link.index, t.link.generation) {
                if self.shard.get(c).is_some_and(|c| c.state == State::Held) {
                    self.terminate(c);
                }
            }
        }
    }

    /// The linked transaction, if it is still live.
    pub fn linked(&self, index: u32) -> Option<u32> {
        let l = self.shard.get(index)?.link;
        if l == Link::NONE {
            return None;
        }
        self.shard.resolve(l.index, l.generation)
    }
}

/// Bytes of state per transaction in the table: its slot, one bucket head, two armed
/// timers. Message bytes are not counted (they are shared with the transport).
pub(crate) const fn state_bytes_per_transaction() -> usize {
    Shard::SLOT_BYTES + std::mem::size_of::<u32>() + 2 * Wheel::ENTRY_BYTES
}

const _: () = assert!(TXN_BYTES <= 256);
