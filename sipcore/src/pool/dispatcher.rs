//! One reader thread handing datagrams to N workers over bounded channels.

use std::hash::BuildHasher;
use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};

use super::{
    handle_timed, join_all, recv_one, DatagramHandler, ReceiverPool, WorkerSnapshot, WorkerStats,
    RECV_BUFFER,
};
use crate::transport::udp::{bind_socket, UdpConfig, UdpTransport};
use crate::transport::{Received, Transport};

/// Default capacity of each worker's queue, in datagrams.
pub const DEFAULT_QUEUE: usize = 1024;

/// Dispatcher: one reader thread receives every datagram and hands it to a worker over
/// that worker's bounded `crossbeam-channel` (the classic thread pool).
///
/// **Order.** The reader picks the worker by a hash of the source address, and each
/// worker's channel is FIFO, so one flow is handled in arrival order. **Cost:** a channel
/// hand-off (and usually a thread wake-up) per datagram, and the single reader caps the
/// rate. When a worker's queue is full the datagram goes to
/// [`DatagramHandler::on_queue_full`] on the reader thread (the endpoint answers 503 to
/// new requests there and still absorbs retransmissions) and is counted as dropped.
#[derive(Debug)]
pub struct DispatcherPool {
    socket: Arc<UdpSocket>,
    transport: UdpTransport,
    queue: usize,
    stats: Vec<Arc<WorkerStats>>,
    reader_stats: Arc<WorkerStats>,
    depth: Vec<Receiver<Received>>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl DispatcherPool {
    /// Binds the socket; `workers` threads plus the reader start with
    /// [`ReceiverPool::start`]; each worker queue holds `queue` datagrams.
    pub fn bind(config: &UdpConfig, workers: usize, queue: usize) -> std::io::Result<Self> {
        let socket = Arc::new(bind_socket(config)?);
        let transport = UdpTransport::from_socket(socket.clone(), config.mtu);
        Ok(DispatcherPool {
            socket,
            transport,
            queue: queue.max(1),
            stats: (0..workers.max(1)).map(|_| Arc::default()).collect(),
            reader_stats: Arc::default(),
            depth: Vec::new(),
            stop: Arc::new(AtomicBool::new(false)),
            threads: Vec::new(),
        })
    }
}

impl ReceiverPool for DispatcherPool {
    fn strategy(&self) -> &'static str {
        "dispatcher"
    }

    fn transport(&self) -> UdpTransport {
        self.transport.clone()
    }

    fn start(&mut self, handler: Arc<dyn DatagramHandler>) -> std::io::Result<()> {
        let mut senders: Vec<Sender<Received>> = Vec::new();
        for (id, stats) in self.stats.iter().enumerate() {
            let (tx, rx) = bounded::<Received>(self.queue);
            senders.push(tx);
            self.depth.push(rx.clone());
            let mut worker = handler.worker(id);
            let stats = stats.clone();
            let t = crate::runtime::spawn(format!("sip-udp-{id}"), move || {
                // Ends when the reader drops the sender.
                for r in rx.iter() {
                    handle_timed(worker.as_mut(), &stats, r);
                }
            })?;
            self.threads.push(t);
        }
        let socket = self.socket.clone();
        let stop = self.stop.clone();
        let stats = self.stats.clone();
        let reader_stats = self.reader_stats.clone();
        let local = self.transport.local_addr();
        let hasher = std::collections::hash_map::RandomState::new();
        let t = crate::runtime::spawn("sip-udp-reader".into(), move || {
            let mut scratch = vec![0u8; RECV_BUFFER];
            while !stop.load(Ordering::Relaxed) {
                let Ok(Some(r)) = recv_one(&socket, &mut scratch, local) else {
                    continue;
                };
                reader_stats.record(r.data.len(), std::time::Duration::ZERO);
                let k = (hasher.hash_one(r.source.addr) as usize) % senders.len();
                match senders[k].try_send(r) {
                    Ok(()) => {}
                    Err(TrySendError::Full(r)) | Err(TrySendError::Disconnected(r)) => {
                        stats[k].drop_one();
                        handler.on_queue_full(r);
                    }
                }
            }
        })?;
        self.threads.push(t);
        Ok(())
    }

    fn ps(&self) -> Vec<WorkerSnapshot> {
        let local = self.transport.local_addr();
        let mut out: Vec<WorkerSnapshot> = self
            .stats
            .iter()
            .enumerate()
            .map(|(id, s)| {
                s.snapshot(
                    id,
                    self.strategy(),
                    local,
                    Some(self.depth.get(id).map_or(0, |r| r.len())),
                )
            })
            .collect();
        out.push(
            self.reader_stats
                .snapshot(usize::MAX, self.strategy(), local, None),
        );
        out
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // The reader exits within its read timeout and drops the senders; workers drain
        // their queues and exit.
        self.depth.clear();
        join_all(&mut self.threads);
    }
}

impl Drop for DispatcherPool {
    fn drop(&mut self) {
        self.shutdown();
    }
}
