//! N workers receiving on one socket, as Kamailio's UDP `children`.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use std::time::Duration;

use parking_lot::{Condvar, Mutex};
use smallvec::SmallVec;

use super::flow::{Claim, FlowSequencer};
use super::{
    handle_timed, join_all, recv_now, recv_one, snapshots, DatagramHandler, ReceiverPool,
    WorkerSnapshot, WorkerStats, RECV_BUFFER,
};
use crate::transport::udp::{bind_socket, UdpConfig, UdpTransport};
use crate::transport::Transport;

/// Shared socket: every worker reads the same UDP socket, so the busiest peer is spread
/// over all workers.
///
/// **Order.** One worker at a time holds the *receive role*: it alone calls `recvfrom`,
/// and claims each datagram's flow (source address) in a per-flow sequencer before
/// anyone receives the next one. A datagram for a flow another worker is handling is
/// queued behind it and handled by that worker, in arrival order.
///
/// **Hand-off only under backlog.** After each datagram the receiver takes, without
/// waiting, what else is queued, up to 4 datagrams in all. Fewer than 4: it keeps the
/// role, handles them itself, then receives again (a burst such as a 180 and a 200 sent
/// back to back costs one wake-up). 4: more may be waiting, so it passes the role to an
/// idle worker and handles its 4. With a receive lock released
/// after every `recvfrom`, each datagram woke the next worker through a futex (at 1000
/// calls/s through `sipcore-proxy`: 1.6 involuntary context switches per call against
/// 0.6 now).
///
/// **Cost:** `recvfrom` calls are serialised (one receiver at a time; at 2-5 µs per call
/// that caps receiving at a few hundred thousand datagrams per second), one non-blocking
/// `recvfrom` and a small map insert and remove per datagram; a datagram that arrives
/// while the receiver is busy with the previous one waits for it (no backlog was seen).
///
/// ```
/// use std::sync::Arc;
/// use sipcore::pool::{DatagramHandler, ReceiverPool, SharedSocketPool, WorkerHandler};
/// use sipcore::transport::{udp::UdpConfig, Received};
///
/// /// Counts datagrams per worker (an endpoint is the usual handler).
/// struct Count;
/// struct Counter(u64);
/// impl WorkerHandler for Counter {
///     fn handle(&mut self, _: Received) {
///         self.0 += 1;
///     }
/// }
/// impl DatagramHandler for Count {
///     fn worker(&self, _id: usize) -> Box<dyn WorkerHandler> {
///         Box::new(Counter(0))
///     }
/// }
///
/// let mut pool = SharedSocketPool::bind(&UdpConfig::new("127.0.0.1:0".parse()?), 2)?;
/// pool.start(Arc::new(Count))?;
/// assert_eq!(pool.ps().len(), 2);
/// pool.shutdown();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct SharedSocketPool {
    socket: Arc<UdpSocket>,
    transport: UdpTransport,
    workers: usize,
    stats: Vec<Arc<WorkerStats>>,
    stop: Arc<AtomicBool>,
    role: Arc<ReceiveRole>,
    threads: Vec<JoinHandle<()>>,
}

/// Datagrams the receiver takes in one turn; finding this many queued passes the role on.
const BACKLOG: usize = 4;

/// One turn of the receive role: a blocking receive, then what else is already queued
/// (up to [`BACKLOG`] datagrams in all), each claimed in arrival order. `None` once the
/// pool stops.
fn receive_turn(
    socket: &UdpSocket,
    scratch: &mut [u8],
    local: SocketAddr,
    flows: &FlowSequencer,
    stop: &AtomicBool,
) -> Option<SmallVec<[Claim; BACKLOG]>> {
    let first = loop {
        match recv_one(socket, scratch, local) {
            Ok(Some(r)) => break r,
            _ if stop.load(Ordering::Relaxed) => return None,
            _ => {}
        }
    };
    let mut claims = SmallVec::new();
    claims.push(flows.claim(first));
    while claims.len() < BACKLOG {
        match recv_now(socket, scratch, local) {
            Some(r) => claims.push(flows.claim(r)),
            None => break,
        }
    }
    Some(claims)
}

/// Which worker may call `recvfrom`: at most one holds the role.
#[derive(Debug, Default)]
struct ReceiveRole {
    taken: Mutex<bool>,
    free: Condvar,
}

impl ReceiveRole {
    /// Waits for the role; `false` once the pool stops.
    fn take(&self, stop: &AtomicBool) -> bool {
        let mut taken = self.taken.lock();
        loop {
            if stop.load(Ordering::Relaxed) {
                return false;
            }
            if !*taken {
                *taken = true;
                return true;
            }
            // The timeout only bounds how late a stop is noticed if a wake-up is missed.
            self.free.wait_for(&mut taken, Duration::from_millis(100));
        }
    }

    /// Gives the role up and wakes one waiting worker.
    fn pass(&self) {
        *self.taken.lock() = false;
        self.free.notify_one();
    }

    fn wake_all(&self) {
        self.free.notify_all();
    }
}

impl SharedSocketPool {
    /// Binds the socket; `workers` threads start with [`ReceiverPool::start`].
    pub fn bind(config: &UdpConfig, workers: usize) -> std::io::Result<Self> {
        let socket = Arc::new(bind_socket(config)?);
        let transport = UdpTransport::from_socket(socket.clone(), config.mtu);
        let workers = workers.max(1);
        Ok(SharedSocketPool {
            socket,
            transport,
            workers,
            stats: (0..workers).map(|_| Arc::default()).collect(),
            stop: Arc::new(AtomicBool::new(false)),
            role: Arc::default(),
            threads: Vec::new(),
        })
    }
}

impl ReceiverPool for SharedSocketPool {
    fn strategy(&self) -> &'static str {
        "shared-socket"
    }

    fn transport(&self) -> UdpTransport {
        self.transport.clone()
    }

    fn start(&mut self, handler: Arc<dyn DatagramHandler>) -> std::io::Result<()> {
        let flows = Arc::new(FlowSequencer::default());
        let local = self.transport.local_addr();
        for id in 0..self.workers {
            let mut worker = handler.worker(id);
            let socket = self.socket.clone();
            let stats = self.stats[id].clone();
            let stop = self.stop.clone();
            let role = self.role.clone();
            let flows = flows.clone();
            let t = crate::runtime::spawn(format!("sip-udp-{id}"), move || {
                let mut scratch = vec![0u8; RECV_BUFFER];
                let mut handle = |claim: Claim| match claim {
                    Claim::Owned(first) => {
                        let flow = first.source.addr;
                        handle_timed(worker.as_mut(), &stats, first);
                        while let Some(next) = flows.next(flow) {
                            handle_timed(worker.as_mut(), &stats, next);
                        }
                    }
                    Claim::Queued => {}
                    Claim::Dropped => stats.drop_one(),
                };
                while role.take(&stop) {
                    loop {
                        let Some(claims) =
                            receive_turn(&socket, &mut scratch, local, &flows, &stop)
                        else {
                            role.pass();
                            return;
                        };
                        let backlog = claims.len() == BACKLOG;
                        if backlog {
                            // More may be queued: another worker receives while
                            // this one handles these.
                            role.pass();
                        }
                        for claim in claims {
                            handle(claim);
                        }
                        if backlog {
                            break;
                        }
                    }
                }
            })?;
            self.threads.push(t);
        }
        Ok(())
    }

    fn ps(&self) -> Vec<WorkerSnapshot> {
        snapshots(&self.stats, self.strategy(), self.transport.local_addr())
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.role.wake_all();
        join_all(&mut self.threads);
    }
}

impl Drop for SharedSocketPool {
    fn drop(&mut self) {
        self.shutdown();
    }
}
