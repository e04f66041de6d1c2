//! Per-flow sequencing for workers that share one socket.
//!
//! Two workers that return from `recvfrom` at nearly the same time may run in either
//! order, so a BYE could overtake the ACK received just before it. The sequencer makes
//! the claim of a flow part of receiving (done under the receive lock): the first worker
//! to claim a flow handles it and drains anything that arrives for the same flow while it
//! is busy; other workers only append to that flow's queue.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;
use std::net::SocketAddr;

use parking_lot::Mutex;

use crate::transport::Received;

const SHARDS: usize = 16;

/// Most datagrams queued behind one busy flow; more are dropped (and counted).
pub(crate) const MAX_FLOW_QUEUE: usize = 1024;

#[derive(Debug, Default)]
pub(crate) struct FlowSequencer {
    shards: [Mutex<HashMap<SocketAddr, VecDeque<Received>>>; SHARDS],
    hasher: std::collections::hash_map::RandomState,
}

/// Result of [`FlowSequencer::claim`].
pub(crate) enum Claim {
    /// The flow was idle: the caller now owns it and must call `next` until `None`.
    Owned(Received),
    /// Another worker owns the flow; the datagram was queued for it.
    Queued,
    /// The flow's queue is full; the datagram was dropped.
    Dropped,
}

impl FlowSequencer {
    fn shard(&self, flow: &SocketAddr) -> &Mutex<HashMap<SocketAddr, VecDeque<Received>>> {
        &self.shards[(self.hasher.hash_one(flow) as usize) % SHARDS]
    }

    /// Claims the datagram's flow or queues the datagram behind its current owner.
    pub(crate) fn claim(&self, received: Received) -> Claim {
        let flow = received.source.addr;
        let mut map = self.shard(&flow).lock();
        match map.entry(flow) {
            Entry::Vacant(v) => {
                v.insert(VecDeque::new());
                Claim::Owned(received)
            }
            Entry::Occupied(mut o) => {
                if o.get().len() >= MAX_FLOW_QUEUE {
                    Claim::Dropped
                } else {
                    o.get_mut().push_back(received);
                    Claim::Queued
                }
            }
        }
    }

    /// The next datagram queued for an owned flow, or `None` (and the flow is released).
    pub(crate) fn next(&self, flow: SocketAddr) -> Option<Received> {
        let mut map = self.shard(&flow).lock();
        let queue = map.get_mut(&flow)?;
        match queue.pop_front() {
            Some(r) => Some(r),
            None => {
                map.remove(&flow);
                None
            }
        }
    }
}
