//! No threads: the application drives receiving from its own loop.

use std::net::UdpSocket;
use std::sync::Arc;
use std::time::Duration;

use super::{
    handle_timed, recv_one, DatagramHandler, ReceiverPool, WorkerHandler, WorkerSnapshot,
    WorkerStats, RECV_BUFFER,
};
use crate::transport::udp::{bind_socket, UdpConfig, UdpTransport};
use crate::transport::Transport;

/// Inline: no threads. The application calls [`poll`](InlinePool::poll) from its own
/// loop (an event loop, a test, a single-threaded tool).
///
/// **Order.** One thread handles everything in arrival order, at no cost; there is no
/// parallelism.
pub struct InlinePool {
    socket: Arc<UdpSocket>,
    transport: UdpTransport,
    stats: Arc<WorkerStats>,
    worker: Option<Box<dyn WorkerHandler>>,
    scratch: Vec<u8>,
}

impl std::fmt::Debug for InlinePool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InlinePool")
            .field("local", &self.transport.local_addr())
            .finish_non_exhaustive()
    }
}

impl InlinePool {
    /// Binds the socket.
    pub fn bind(config: &UdpConfig) -> std::io::Result<Self> {
        let socket = Arc::new(bind_socket(config)?);
        let transport = UdpTransport::from_socket(socket.clone(), config.mtu);
        Ok(InlinePool {
            socket,
            transport,
            stats: Arc::default(),
            worker: None,
            scratch: vec![0u8; RECV_BUFFER],
        })
    }

    /// Handles the datagrams that arrive within `wait` (at most `budget` of them) on the
    /// caller's thread; returns how many were handled. Call [`ReceiverPool::start`] first.
    pub fn poll(&mut self, wait: Duration, budget: usize) -> std::io::Result<usize> {
        let Some(worker) = self.worker.as_mut() else {
            return Ok(0);
        };
        let local = self.transport.local_addr();
        self.socket
            .set_read_timeout(Some(wait.max(Duration::from_micros(1))))?;
        let mut handled = 0;
        while handled < budget {
            match recv_one(&self.socket, &mut self.scratch, local)? {
                Some(r) => {
                    handle_timed(worker.as_mut(), &self.stats, r);
                    handled += 1;
                    // After the first datagram, only take what is already queued.
                    self.socket.set_nonblocking(true)?;
                }
                None => break,
            }
        }
        self.socket.set_nonblocking(false)?;
        Ok(handled)
    }
}

impl ReceiverPool for InlinePool {
    fn strategy(&self) -> &'static str {
        "inline"
    }

    fn transport(&self) -> UdpTransport {
        self.transport.clone()
    }

    fn start(&mut self, handler: Arc<dyn DatagramHandler>) -> std::io::Result<()> {
        self.worker = Some(handler.worker(0));
        Ok(())
    }

    fn ps(&self) -> Vec<WorkerSnapshot> {
        vec![self
            .stats
            .snapshot(0, self.strategy(), self.transport.local_addr(), None)]
    }

    fn shutdown(&mut self) {
        self.worker = None;
    }
}
