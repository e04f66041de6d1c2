//! Opening connections: the limits checked before a socket exists (blacklist, queue,
//! connection slots), the non-blocking connect from the configured sources, and the
//! first message queued on the new connection before anyone else can see it.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use mio::net::TcpStream;
use sipcore::transport::{ConnectionFailure, SendError};
use socket2::{Domain, Protocol, Socket, Type};

use super::{by_address, Shared};
use crate::channel::Command;
use crate::conn::{Conn, Phase};
use crate::failure::Close;
use crate::layer::LayerSlot;
use crate::limits::Direction;
use crate::stats::Counters;

impl Shared {
    /// Opens a connection to `addr` (for server `name`, with a layer) with `first` queued
    /// on it before anyone else can see it (so a connect that fails at once still reports
    /// its own failure), or finds the one another sender just opened. Returns the
    /// connection and whether `first` was queued.
    pub(super) fn connect(
        &self,
        addr: SocketAddr,
        name: Option<&str>,
        first: &Bytes,
    ) -> Result<(Arc<Conn>, bool), SendError> {
        let now = self.now();
        let mut queued = false;
        let make = || {
            if self.blacklist.contains(&addr, now) {
                Counters::inc(&self.stats.blacklisted_sends);
                return Err(SendError::Blacklisted(addr));
            }
            let n = first.len();
            if n > self.config.conn_wq_max {
                Counters::inc(&self.stats.conn_queue_full);
                return Err(SendError::ConnectionQueueFull);
            }
            let slot = match &self.layers {
                None => None,
                Some(f) => match f.connect(addr, name) {
                    Ok(session) => Some(LayerSlot::new(session)),
                    Err(e) => {
                        Counters::inc(&self.stats.handshake_failures);
                        return Err(SendError::ConnectionFailed {
                            addr,
                            cause: e.cause(),
                            reason: e.reason(),
                        });
                    }
                },
            };
            if self.reserve_slot(Direction::Outbound, addr.ip()).is_err() {
                Counters::inc(&self.stats.connection_limit);
                return Err(SendError::ConnectionFailed {
                    addr,
                    cause: ConnectionFailure::Other,
                    reason: "connection limit",
                });
            }
            if !self.reserve_queue(n) {
                self.release_slot(Direction::Outbound, addr.ip());
                Counters::inc(&self.stats.queue_full);
                return Err(SendError::QueueFull);
            }
            Counters::inc(&self.stats.connect_attempts);
            match self.open_socket(addr) {
                Ok((stream, local, phase)) => {
                    let conn =
                        self.new_outbound(stream, addr, local, phase, now, slot, name, first);
                    Counters::inc(&self.stats.sent_queued);
                    queued = true;
                    conn.map(Arc::new)
                }
                Err(e) => {
                    self.release_slot(Direction::Outbound, addr.ip());
                    self.stats
                        .queued_bytes
                        .fetch_sub(n as u64, Ordering::AcqRel);
                    let why = Close::from_io(&e);
                    self.count_and_blacklist(why, std::iter::once(addr));
                    Err(why.send_error(self.kind, addr))
                }
            }
        };
        let (conn, created) = match name {
            Some(n) => self.table.get_or_try_insert_named(addr, n, make)?,
            None => self.table.get_or_try_insert(addr, by_address, make)?,
        };
        if created {
            self.command(Command::Register(conn.clone()));
        }
        Ok((conn, queued))
    }

    /// A new outgoing connection with `first` (already reserved) queued: as wire bytes
    /// without a layer; with one, in its pending queue behind the layer's first flight (a
    /// TLS ClientHello).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new_outbound(
        &self,
        stream: TcpStream,
        addr: SocketAddr,
        local: SocketAddr,
        phase: Phase,
        now: u64,
        slot: Option<LayerSlot>,
        name: Option<&str>,
        first: &Bytes,
    ) -> Result<Conn, SendError> {
        let n = first.len();
        let Some(mut slot) = slot else {
            let conn = Conn::new(stream, addr, local, true, phase, now);
            let mut w = conn.write.lock();
            w.queue.push_back(first.clone());
            w.queued = n;
            drop(w);
            return Ok(conn);
        };
        let mut wire = Vec::new();
        slot.session.poll_wire(&mut wire);
        if slot.ready {
            // A layer without a handshake: the message goes behind its first flight.
            if let Err(e) = slot.session.write_plain(first, &mut wire) {
                self.release_slot(Direction::Outbound, addr.ip());
                self.stats
                    .queued_bytes
                    .fetch_sub(n as u64, Ordering::AcqRel);
                return Err(SendError::ConnectionFailed {
                    addr,
                    cause: e.cause(),
                    reason: e.reason(),
                });
            }
        } else {
            slot.pending.push_back(first.clone());
            slot.pending_bytes = n;
        }
        // The reservation of `n` becomes pending plaintext plus the first flight (small,
        // and it must go: counted, not refused).
        let pending = slot.pending_bytes;
        self.stats
            .queued_bytes
            .fetch_sub(n as u64, Ordering::AcqRel);
        self.force_reserve(pending + wire.len());
        let conn =
            Conn::new(stream, addr, local, true, phase, now).with_layer(slot, name.map(Arc::from));
        let mut w = conn.write.lock();
        w.queued = pending + wire.len();
        if !wire.is_empty() {
            w.queue.push_back(Bytes::from(wire));
        }
        drop(w);
        Ok(conn)
    }

    pub(super) fn open_socket(
        &self,
        addr: SocketAddr,
    ) -> io::Result<(TcpStream, SocketAddr, Phase)> {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        socket.set_nonblocking(true)?;
        if self.config.nodelay {
            socket.set_tcp_nodelay(true)?;
        }
        if let Some(n) = self.config.send_buffer {
            socket.set_send_buffer_size(n)?;
        }
        if let Some(n) = self.config.recv_buffer {
            socket.set_recv_buffer_size(n)?;
        }
        let sources: Vec<_> = self
            .config
            .connect_sources
            .iter()
            .filter(|ip| ip.is_ipv4() == addr.is_ipv4())
            .collect();
        if !sources.is_empty() {
            let i = self.next_source.fetch_add(1, Ordering::Relaxed) % sources.len();
            if let Some(ip) = sources.get(i) {
                socket.bind(&SocketAddr::new(**ip, 0).into())?;
            }
        }
        let phase = match socket.connect(&addr.into()) {
            Ok(()) => Phase::Open,
            Err(e)
                if e.kind() == io::ErrorKind::WouldBlock
                    || e.raw_os_error() == Some(libc::EINPROGRESS) =>
            {
                Phase::Connecting
            }
            Err(e) => return Err(e),
        };
        let stream = TcpStream::from_std(socket.into());
        let local = stream
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::new(addr.ip(), 0));
        if phase == Phase::Open {
            Counters::inc(&self.stats.connected);
        }
        Ok((stream, local, phase))
    }
}
