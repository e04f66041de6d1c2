//! N workers receiving on one socket, as Kamailio's UDP `children`.

use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use parking_lot::Mutex;

use super::flow::{Claim, FlowSequencer};
use super::{
    handle_timed, join_all, recv_one, snapshots, DatagramHandler, ReceiverPool, WorkerSnapshot,
    WorkerStats, RECV_BUFFER,
};
use crate::transport::udp::{bind_socket, UdpConfig, UdpTransport};
use crate::transport::Transport;

/// Shared socket: every worker reads the same UDP socket, so the busiest peer is spread
/// over all workers.
///
/// **Order.** Workers take a receive lock around `recvfrom` and, still holding it, claim
/// the datagram's flow (source address) in a per-flow sequencer. A datagram for a
/// flow another worker is handling is queued behind it and handled by that worker, in
/// arrival order. **Cost:** `recvfrom` calls are serialised (one reader at a time; at
/// about 2-5 µs per call that caps receiving at a few hundred thousand datagrams per
/// second), plus a small map insert and remove per datagram.
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
    threads: Vec<JoinHandle<()>>,
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
        let recv_lock = Arc::new(Mutex::new(()));
        let flows = Arc::new(FlowSequencer::default());
        let local = self.transport.local_addr();
        for id in 0..self.workers {
            let mut worker = handler.worker(id);
            let socket = self.socket.clone();
            let stats = self.stats[id].clone();
            let stop = self.stop.clone();
            let recv_lock = recv_lock.clone();
            let flows = flows.clone();
            let t = std::thread::Builder::new()
                .name(format!("sip-udp-{id}"))
                .spawn(move || {
                    let mut scratch = vec![0u8; RECV_BUFFER];
                    while !stop.load(Ordering::Relaxed) {
                        let claim = {
                            let _guard = recv_lock.lock();
                            match recv_one(&socket, &mut scratch, local) {
                                Ok(Some(r)) => flows.claim(r),
                                Ok(None) => continue,
                                Err(_) => continue,
                            }
                        };
                        match claim {
                            Claim::Owned(first) => {
                                let flow = first.source.addr;
                                handle_timed(worker.as_mut(), &stats, first);
                                while let Some(next) = flows.next(flow) {
                                    handle_timed(worker.as_mut(), &stats, next);
                                }
                            }
                            Claim::Queued => {}
                            Claim::Dropped => stats.drop_one(),
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
        join_all(&mut self.threads);
    }
}

impl Drop for SharedSocketPool {
    fn drop(&mut self) {
        self.shutdown();
    }
}
