//! Receiver pools: how UDP datagrams get from the socket to worker threads.
//!
//! Four strategies implement [`ReceiverPool`]; the application picks one and can measure
//! them against each other with [`ReceiverPool::ps`]:
//!
//! | strategy | threads | per-flow order kept by | cost of keeping order |
//! |---|---|---|---|
//! | [`SharedSocketPool`] | N workers on one socket (Kamailio's `children`) | one receiving worker at a time + per-flow sequencer | `recvfrom` calls are serialised; one map insert/remove and one non-blocking `recvfrom` per datagram |
//! | [`ReusePortPool`] | N workers, one `SO_REUSEPORT` socket each | the kernel's flow hash | none, but one busy peer lands on one worker |
//! | [`DispatcherPool`] | 1 reader + N workers over bounded channels | hashing the source to one worker's FIFO | a channel hand-off per datagram |
//! | [`InlinePool`] | none: the application's own loop | a single thread | no parallelism |
//!
//! A flow is the source address: requests of one dialog from one peer (an ACK followed at
//! once by a BYE, a REFER's 202 and the NOTIFY after it) are handled in the order they
//! arrived, so they leave in that order.
//!
//! Default worker count: the available hardware threads ([`default_workers`]), as the
//! Kamailio tuning guide recommends.

mod dispatcher;
mod flow;
mod inline;
mod queue_bound;
mod reuseport;
mod shared;

use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub use dispatcher::{DispatcherPool, DEFAULT_QUEUE};
pub use inline::InlinePool;
pub use queue_bound::{QueueBound, QueueBounder};
pub use reuseport::ReusePortPool;
pub use shared::SharedSocketPool;

use crate::transport::udp::UdpTransport;
use crate::transport::Received;

/// Largest datagram a worker reads (the scratch buffer size).
pub const RECV_BUFFER: usize = 65_536;

/// The number of workers to run by default: the available hardware threads.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// Handles datagrams on one worker; created once per worker by [`DatagramHandler::worker`],
/// so it can keep per-worker scratch buffers without sharing them.
pub trait WorkerHandler: Send {
    /// One received datagram.
    fn handle(&mut self, received: Received);
}

/// What a pool hands datagrams to (the endpoint implements it).
pub trait DatagramHandler: Send + Sync {
    /// A handler for worker `id` (called once per worker, on the pool's thread).
    fn worker(&self, id: usize) -> Box<dyn WorkerHandler>;

    /// A datagram the pool could not queue (the dispatcher's queue is full). Called on the
    /// reader thread; the endpoint answers new requests 503 and still absorbs
    /// retransmissions here. The default drops it.
    fn on_queue_full(&self, received: Received) {
        drop(received);
    }
}

/// A receiver strategy. See the [module docs](self) for the trade-offs.
pub trait ReceiverPool: Send + fmt::Debug {
    /// Strategy name, as shown by [`ps`](Self::ps).
    fn strategy(&self) -> &'static str;

    /// The transport to send with (shares the pool's socket).
    fn transport(&self) -> UdpTransport;

    /// Starts the workers (no-op for [`InlinePool`], which the caller drives).
    fn start(&mut self, handler: Arc<dyn DatagramHandler>) -> std::io::Result<()>;

    /// A snapshot per worker, the equivalent of `kamctl ps`.
    fn ps(&self) -> Vec<WorkerSnapshot>;

    /// Stops receiving and joins every thread (each notices within the socket's read
    /// timeout).
    fn shutdown(&mut self);
}

/// What `ps()` shows for one worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerSnapshot {
    /// Worker index (the dispatcher's reader is listed with `id == usize::MAX`).
    pub id: usize,
    /// Strategy name.
    pub strategy: &'static str,
    /// Local socket.
    pub socket: SocketAddr,
    /// Datagrams handled.
    pub messages: u64,
    /// Bytes handled.
    pub bytes: u64,
    /// Time spent in the handler.
    pub busy: Duration,
    /// Datagrams waiting in this worker's queue (dispatcher only).
    pub queue_depth: Option<usize>,
    /// Datagrams dropped by this worker's queues (full dispatcher queue, full flow queue).
    pub dropped: u64,
}

/// Per-worker counters, written by the worker only, read by `ps()`.
#[derive(Debug, Default)]
pub(crate) struct WorkerStats {
    messages: AtomicU64,
    bytes: AtomicU64,
    busy_ns: AtomicU64,
    dropped: AtomicU64,
}

impl WorkerStats {
    pub(crate) fn record(&self, bytes: usize, busy: Duration) {
        self.messages.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
        self.busy_ns
            .fetch_add(busy.as_nanos() as u64, Ordering::Relaxed);
    }

    pub(crate) fn drop_one(&self) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(
        &self,
        id: usize,
        strategy: &'static str,
        socket: SocketAddr,
        queue_depth: Option<usize>,
    ) -> WorkerSnapshot {
        WorkerSnapshot {
            id,
            strategy,
            socket,
            messages: self.messages.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            busy: Duration::from_nanos(self.busy_ns.load(Ordering::Relaxed)),
            queue_depth,
            dropped: self.dropped.load(Ordering::Relaxed),
        }
    }
}

/// Runs the handler on one datagram and records the time it took.
#[allow(clippy::disallowed_methods)] // the runtime (not the sans-IO core) may read the clock
pub(crate) fn handle_timed(
    handler: &mut dyn WorkerHandler,
    stats: &WorkerStats,
    received: Received,
) -> (std::time::Instant, Duration) {
    let len = received.data.len();
    let started = std::time::Instant::now();
    handler.handle(received);
    let busy = started.elapsed();
    stats.record(len, busy);
    (started, busy)
}

/// Receives one datagram into `scratch` and copies it into an exactly sized `Bytes`:
/// a message held by a transaction then pins only its own bytes, not a shared chunk.
/// `Ok(None)` on timeout (so the caller can check for shutdown).
pub(crate) fn recv_one(
    socket: &std::net::UdpSocket,
    scratch: &mut [u8],
    local: SocketAddr,
) -> std::io::Result<Option<Received>> {
    match socket.recv_from(scratch) {
        Ok((n, source)) => Ok(Some(received(
            scratch.get(..n).unwrap_or_default(),
            source,
            local,
        ))),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock
                    | std::io::ErrorKind::TimedOut
                    | std::io::ErrorKind::Interrupted
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Receives one datagram if one is queued, without waiting (`MSG_DONTWAIT` on this call
/// only: the socket stays blocking for the other workers). `None` when nothing is queued
/// or the receive failed.
pub(crate) fn recv_now(
    socket: &std::net::UdpSocket,
    scratch: &mut [u8],
    local: SocketAddr,
) -> Option<Received> {
    let (n, _, source) =
        rustix::net::recvfrom(socket, &mut *scratch, rustix::net::RecvFlags::DONTWAIT).ok()?;
    let source = SocketAddr::try_from(source?).ok()?;
    Some(received(scratch.get(..n)?, source, local))
}

/// A received datagram, its bytes copied into an exactly sized `Bytes`.
fn received(data: &[u8], source: SocketAddr, local: SocketAddr) -> Received {
    Received {
        data: bytes::Bytes::copy_from_slice(data),
        source: crate::transport::Target::udp(source),
        local,
    }
}

/// Snapshots of per-worker stats, numbered in order.
pub(crate) fn snapshots(
    stats: &[Arc<WorkerStats>],
    strategy: &'static str,
    socket: SocketAddr,
) -> Vec<WorkerSnapshot> {
    stats
        .iter()
        .enumerate()
        .map(|(id, s)| s.snapshot(id, strategy, socket, None))
        .collect()
}

/// Joins threads, ignoring ones that panicked (a panic in a handler is a bug the
/// test suite catches; shutdown must still finish).
pub(crate) fn join_all(threads: &mut Vec<std::thread::JoinHandle<()>>) {
    for t in threads.drain(..) {
        let _ = t.join();
    }
}

#[cfg(test)]
mod tests;
