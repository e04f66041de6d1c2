//! One `SO_REUSEPORT` socket per worker.

use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use super::queue_bound::{QueueBound, QueueBounder};
use super::{
    handle_timed, join_all, recv_one, snapshots, DatagramHandler, ReceiverPool, WorkerSnapshot,
    WorkerStats, RECV_BUFFER,
};
use crate::transport::udp::{bind_socket, UdpConfig, UdpTransport};
use crate::transport::Transport;

/// Reuse-port: each worker has its own socket bound to the same address with
/// `SO_REUSEPORT`, and the kernel spreads datagrams by a hash of the 4-tuple.
///
/// **Order.** One flow (source address and port) always hashes to the same socket, so one
/// worker handles it in arrival order, at no cost. **Trade-off:** one busy peer (a trunk,
/// or a load generator on one port) lands on one worker whatever the worker count; the
/// others idle. Choose it when traffic comes from many peers.
#[derive(Debug)]
pub struct ReusePortPool {
    sockets: Vec<Arc<UdpSocket>>,
    transport: UdpTransport,
    stats: Vec<Arc<WorkerStats>>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    queue_bound: Option<QueueBound>,
}

impl ReusePortPool {
    /// Binds `workers` sockets to the configured address (port 0: the first socket picks
    /// the port, the others bind to it).
    pub fn bind(config: &UdpConfig, workers: usize) -> std::io::Result<Self> {
        let mut config = config.clone();
        config.reuse_port = true;
        let first = Arc::new(bind_socket(&config)?);
        config.addr = first.local_addr()?;
        let mut sockets = vec![first];
        for _ in 1..workers.max(1) {
            sockets.push(Arc::new(bind_socket(&config)?));
        }
        let transport = UdpTransport::from_socket(sockets[0].clone(), config.mtu);
        Ok(ReusePortPool {
            stats: sockets.iter().map(|_| Arc::default()).collect(),
            sockets,
            transport,
            stop: Arc::new(AtomicBool::new(false)),
            threads: Vec::new(),
            queue_bound: config.queue_bound,
        })
    }
}

impl ReceiverPool for ReusePortPool {
    fn strategy(&self) -> &'static str {
        "reuse-port"
    }

    fn transport(&self) -> UdpTransport {
        self.transport.clone()
    }

    fn start(&mut self, handler: Arc<dyn DatagramHandler>) -> std::io::Result<()> {
        let local = self.transport.local_addr();
        for (id, socket) in self.sockets.iter().enumerate() {
            let mut worker = handler.worker(id);
            let socket = socket.clone();
            let stats = self.stats[id].clone();
            let stop = self.stop.clone();
            let mut bounder = self.queue_bound.map(|q| {
                let now = socket2::SockRef::from(&*socket)
                    .recv_buffer_size()
                    .unwrap_or(q.max_bytes);
                QueueBounder::new(q, now)
            });
            let t = crate::runtime::spawn(format!("sip-udp-{id}"), move || {
                let mut scratch = vec![0u8; RECV_BUFFER];
                while !stop.load(Ordering::Relaxed) {
                    if let Ok(Some(r)) = recv_one(&socket, &mut scratch, local) {
                        let (started, busy) = handle_timed(worker.as_mut(), &stats, r);
                        if let Some(size) =
                            bounder.as_mut().and_then(|b| b.on_handled(started + busy))
                        {
                            // The kernel doubles what it is given (its bookkeeping).
                            let _ = socket2::SockRef::from(&*socket).set_recv_buffer_size(size / 2);
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
        join_all(&mut self.threads);
    }
}

impl Drop for ReusePortPool {
    fn drop(&mut self) {
        self.shutdown();
    }
}
