//! State shared by every thread of the manager, and the operations any thread may run:
//! send (direct write or queue), open a connection, close one and report why.

use std::fmt;
use std::io;
use std::net::{IpAddr, Shutdown, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use crossbeam_channel::Sender;
use mio::net::TcpStream;
use mio::Waker;
use parking_lot::{Mutex, MutexGuard};
use sipcore::transport::{
    ConnectionFailure, MessageSink, SendError, Target, TransportEvents, TransportKind,
};
use socket2::{Domain, Protocol, Socket, Type};

use crate::clock::{ms, Clock};
use crate::config::TcpConfig;
use crate::conn::{write_some, Conn, Phase, WriteState};
use crate::failure::Close;
use crate::layer::{LayerFactory, LayerSlot};
use crate::limits::{Direction, Limits, Refusal};
use crate::stats::Counters;
use crate::supervisor::Command;
use crate::table::{Blacklist, Table};

/// A double-CRLF keep-alive ping.
pub(crate) const PING: &[u8] = b"\r\n\r\n";
/// The single-CRLF pong.
pub(crate) const PONG: &[u8] = b"\r\n";

/// Why `send_on` did not send.
#[derive(Debug)]
pub(crate) enum Attempt {
    /// The connection closed before the send could start: look it up again.
    Gone,
    /// The send failed; the connection was closed if the policy says so.
    Failed(SendError),
}

/// Why `put_wire` and the layer paths did not send. They never close a connection
/// themselves: closing reports to the application, which may send on the same
/// connection, so the caller closes once it holds no lock ([`Shared::settle`]).
#[derive(Debug)]
pub(crate) enum Fail {
    /// Nothing to close: the caller gets this.
    Refused(Attempt),
    /// Close the connection for this reason; the caller gets the error.
    Close(Close, SendError),
}

impl Fail {
    fn close(why: Close, kind: TransportKind, peer: SocketAddr) -> Fail {
        Fail::Close(why, why.send_error(kind, peer))
    }
}

/// Everything the threads share.
pub(crate) struct Shared {
    pub(crate) config: TcpConfig,
    pub(crate) clock: Clock,
    pub(crate) stats: Counters,
    pub(crate) table: Table,
    pub(crate) blacklist: Blacklist,
    limits: Limits,
    pub(crate) sink: Arc<dyn MessageSink>,
    pub(crate) events: Arc<dyn TransportEvents>,
    /// What targets and reports carry: `Tcp`, or the layer's kind (`Tls`).
    pub(crate) kind: TransportKind,
    /// Makes the stream layer of every new connection (TLS), if any.
    pub(crate) layers: Option<Arc<dyn LayerFactory>>,
    pub(crate) shutdown: AtomicBool,
    pub(crate) listeners: Mutex<Vec<SocketAddr>>,
    commands: Sender<Command>,
    waker: Waker,
    next_source: AtomicUsize,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("kind", &self.kind)
            .field("listeners", &*self.listeners.lock())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Shared {
    pub(crate) fn new(
        config: TcpConfig,
        sink: Arc<dyn MessageSink>,
        events: Arc<dyn TransportEvents>,
        commands: Sender<Command>,
        waker: Waker,
        layers: Option<Arc<dyn LayerFactory>>,
    ) -> Shared {
        Shared {
            kind: layers.as_ref().map_or(TransportKind::Tcp, |l| l.kind()),
            layers,
            blacklist: Blacklist::new(config.blacklist_max),
            limits: Limits::new(&config),
            config,
            clock: Clock::new(),
            stats: Counters::default(),
            table: Table::new(),
            sink,
            events,
            shutdown: AtomicBool::new(false),
            listeners: Mutex::new(Vec::new()),
            commands,
            waker,
            next_source: AtomicUsize::new(0),
        }
    }

    pub(crate) fn now(&self) -> u64 {
        self.clock.now_ms()
    }

    pub(crate) fn is_shutdown(&self) -> bool {
        self.shutdown.load(Ordering::Acquire)
    }

    /// Sends a command to the supervisor and wakes it.
    pub(crate) fn command(&self, command: Command) {
        if self.commands.send(command).is_ok() {
            let _ = self.waker.wake();
        }
    }

    /// Wakes the supervisor (shutdown).
    pub(crate) fn wake(&self) {
        let _ = self.waker.wake();
    }

    /// Sends `data` to `addr`: on the existing connection (inbound or outbound; for a
    /// layered transport and a server `name`, the one opened for that name), else on a new
    /// one. Without a name, a connection opened for a server name is never used: its
    /// certificate was checked for that name, not for the address ([`by_address`]).
    pub(crate) fn send(
        &self,
        addr: SocketAddr,
        name: Option<&str>,
        data: Bytes,
    ) -> Result<(), SendError> {
        if self.is_shutdown() {
            return Err(SendError::Closed);
        }
        // A server name only means something to a layer (TLS).
        let name = name.filter(|_| self.layers.is_some());
        for _ in 0..3 {
            let existing = match name {
                Some(n) => self.table.get_named(&addr, n),
                None => self.table.get(&addr).filter(|c| by_address(c)),
            };
            let conn = match existing {
                Some(c) => c,
                None => match self.connect(addr, name, &data)? {
                    (_, true) => return Ok(()),
                    (c, false) => c,
                },
            };
            match self.send_on(&conn, data.clone()) {
                Ok(()) => return Ok(()),
                Err(Attempt::Failed(e)) => return Err(e),
                // Closed cleanly between lookup and send: drop the stale index entries
                // and retry on a new connection.
                Err(Attempt::Gone) => {
                    self.table.remove(&addr, &conn);
                    if conn.name.is_some() {
                        self.table.remove_named(&addr, &conn);
                    }
                }
            }
        }
        Err(SendError::ConnectionFailed {
            addr,
            cause: ConnectionFailure::Other,
            reason: "closed",
        })
    }

    /// Sends on the existing connection to `addr` only.
    pub(crate) fn send_existing(
        &self,
        addr: &SocketAddr,
        data: Bytes,
    ) -> Option<Result<(), SendError>> {
        let conn = self.table.get(addr)?;
        match self.send_on(&conn, data) {
            Ok(()) => Some(Ok(())),
            Err(Attempt::Failed(e)) => Some(Err(e)),
            Err(Attempt::Gone) => None,
        }
    }

    /// Sends one message on `conn`: through its layer if it has one, then as wire bytes
    /// (a direct write when nothing is queued, else the write queue).
    pub(crate) fn send_on(&self, conn: &Arc<Conn>, data: Bytes) -> Result<(), Attempt> {
        if data.is_empty() {
            return Ok(());
        }
        let result = match conn.layer.as_deref() {
            None => self.put_wire(conn, conn.write.lock(), data, false, true),
            Some(slot) => {
                let mut slot = slot.lock();
                let r = self.send_layered(conn, &mut slot, data);
                drop(slot);
                r
            }
        };
        self.settle(conn, result)
    }

    /// Carries out a failure once no lock is held: closes the connection if it must.
    pub(crate) fn settle(&self, conn: &Arc<Conn>, result: Result<(), Fail>) -> Result<(), Attempt> {
        match result {
            Ok(()) => Ok(()),
            Err(Fail::Refused(a)) => Err(a),
            Err(Fail::Close(why, e)) => {
                self.close(conn, why);
                Err(Attempt::Failed(e))
            }
        }
    }

    /// Why a send on a closed connection did not happen.
    fn closed_attempt(&self, conn: &Conn, w: &WriteState) -> Attempt {
        // A connection that failed reports its failure; a clean close lets the caller
        // open a new one.
        match w.closed_by {
            Some(why) if why.blacklists() => Attempt::Failed(why.send_error(self.kind, conn.peer)),
            _ => Attempt::Gone,
        }
    }

    /// Writes wire bytes on `conn`: directly when nothing is queued, else (or for what the
    /// socket did not take) into the write queue, within `conn_wq_max` and `wq_max`.
    ///
    /// `layered`: the bytes belong to a layer's record stream, which cannot be cut, so a
    /// refusal closes the connection. `message`: count them as a sent message. Every
    /// error asks for the connection to be closed, except a global `QueueFull` for a
    /// plain message none of which was written.
    fn put_wire(
        &self,
        conn: &Arc<Conn>,
        mut w: MutexGuard<'_, WriteState>,
        data: Bytes,
        layered: bool,
        message: bool,
    ) -> Result<(), Fail> {
        let len = data.len();
        if len == 0 {
            return Ok(());
        }
        let mut rest = data;
        match w.phase {
            Phase::Closed => return Err(Fail::Refused(self.closed_attempt(conn, &w))),
            Phase::Open if w.queue.is_empty() => match write_some(&conn.stream, &rest) {
                Ok(n) => {
                    if n > 0 {
                        conn.last_tx.store(self.now(), Ordering::Relaxed);
                        Counters::add(&self.stats.bytes_sent, n);
                    }
                    if n == len {
                        drop(w);
                        if message {
                            Counters::inc(&self.stats.sent_direct);
                        }
                        return Ok(());
                    }
                    rest = rest.slice(n..);
                }
                Err(e) => {
                    drop(w);
                    return Err(Fail::close(Close::from_io(&e), self.kind, conn.peer));
                }
            },
            _ => {}
        }
        let n = rest.len();
        if w.queued + n > self.config.conn_wq_max {
            drop(w);
            return Err(Fail::close(Close::ConnQueueFull, self.kind, conn.peer));
        }
        if !self.reserve_queue(n) {
            drop(w);
            if n < len || layered {
                // Part of the stream is on the wire (or in a layer's record sequence);
                // without the rest it is corrupt, so this one connection goes (the
                // others keep their queues).
                return Err(Fail::close(Close::QueueFull, self.kind, conn.peer));
            }
            Counters::inc(&self.stats.queue_full);
            return Err(Fail::Refused(Attempt::Failed(SendError::QueueFull)));
        }
        let was_empty = w.queue.is_empty();
        w.queue.push_back(rest);
        w.queued += n;
        if was_empty {
            w.progress_ms = self.now();
        }
        drop(w);
        if message {
            Counters::inc(&self.stats.sent_queued);
        }
        if was_empty && !conn.timer_requested.swap(true, Ordering::AcqRel) {
            // Arms the send timeout; the flush itself waits for writability.
            self.command(Command::Queued(conn.clone()));
        }
        Ok(())
    }

    /// Sends one message through `conn`'s layer: held in the pending queue until the
    /// layer is ready, else encoded (after checking the limits against the layer's bound,
    /// since records cannot be taken back) and put on the wire.
    fn send_layered(
        &self,
        conn: &Arc<Conn>,
        slot: &mut LayerSlot,
        data: Bytes,
    ) -> Result<(), Fail> {
        let w = conn.write.lock();
        if w.phase == Phase::Closed {
            return Err(Fail::Refused(self.closed_attempt(conn, &w)));
        }
        let n = data.len();
        let max = self.config.conn_wq_max;
        if !slot.ready {
            let mut w = w;
            if w.queued + n > max {
                return Err(Fail::close(Close::ConnQueueFull, self.kind, conn.peer));
            }
            if !self.reserve_queue(n) {
                Counters::inc(&self.stats.queue_full);
                return Err(Fail::Refused(Attempt::Failed(SendError::QueueFull)));
            }
            slot.pending.push_back(data);
            slot.pending_bytes += n;
            w.queued += n;
            Counters::inc(&self.stats.sent_queued);
            return Ok(());
        }
        let bound = slot.session.wire_len_bound(n);
        if w.queued + bound > max {
            return Err(Fail::close(Close::ConnQueueFull, self.kind, conn.peer));
        }
        let total = self.stats.queued_bytes.load(Ordering::Acquire);
        if total + bound as u64 > self.config.wq_max as u64 {
            // Refused before encoding: the connection's stream is intact.
            Counters::inc(&self.stats.queue_full);
            return Err(Fail::Refused(Attempt::Failed(SendError::QueueFull)));
        }
        let mut out = Vec::with_capacity(bound);
        if let Err(e) = slot.session.write_plain(&data, &mut out) {
            return Err(Fail::close(Close::Layer(e), self.kind, conn.peer));
        }
        self.put_wire(conn, w, Bytes::from(out), true, true)
    }

    /// Feeds wire bytes read from `conn` to its layer (or passes them through without
    /// one): the layer's answer (handshake messages, alerts) goes out through the write
    /// queue, never waited for; the application bytes are appended to `plain`. `false`
    /// when the connection was closed.
    pub(crate) fn layer_input(&self, conn: &Arc<Conn>, input: &[u8], plain: &mut Vec<u8>) -> bool {
        let Some(slot) = conn.layer.as_deref() else {
            plain.extend_from_slice(input);
            return true;
        };
        let mut slot = slot.lock();
        let result = self.feed(conn, &mut slot, input, plain);
        drop(slot);
        self.settle(conn, result).is_ok()
    }

    /// [`layer_input`](Self::layer_input) under the layer lock.
    fn feed(
        &self,
        conn: &Arc<Conn>,
        slot: &mut LayerSlot,
        input: &[u8],
        plain: &mut Vec<u8>,
    ) -> Result<(), Fail> {
        let mut out = Vec::new();
        let result = slot.session.read_wire(input, plain, &mut out);
        if !out.is_empty() {
            // Sent even when reading failed: it is the alert that says why.
            self.put_wire(conn, conn.write.lock(), Bytes::from(out), true, false)?;
        }
        if let Err(e) = result {
            let why = if slot.ready {
                Close::Layer(e)
            } else {
                Close::Handshake(e)
            };
            return Err(Fail::close(why, self.kind, conn.peer));
        }
        if !slot.ready && slot.session.is_ready() {
            return self.layer_ready(conn, slot);
        }
        Ok(())
    }

    /// `conn`'s layer just became ready: counts the handshake and encodes and sends the
    /// messages that waited for it, in order, behind the handshake's own records.
    fn layer_ready(&self, conn: &Arc<Conn>, slot: &mut LayerSlot) -> Result<(), Fail> {
        slot.ready = true;
        Counters::inc(&self.stats.handshakes);
        let pending = std::mem::take(&mut slot.pending);
        let pending_bytes = std::mem::take(&mut slot.pending_bytes);
        let mut w = conn.write.lock();
        w.ready = true;
        if w.phase == Phase::Closed {
            return Err(Fail::Refused(Attempt::Gone));
        }
        // The plaintext leaves the counts; its records come back in through `put_wire`.
        w.queued = w.queued.saturating_sub(pending_bytes);
        self.stats
            .queued_bytes
            .fetch_sub(pending_bytes as u64, Ordering::AcqRel);
        if pending.is_empty() {
            return Ok(());
        }
        let mut out = Vec::with_capacity(slot.session.wire_len_bound(pending_bytes));
        for p in &pending {
            if let Err(e) = slot.session.write_plain(p, &mut out) {
                return Err(Fail::close(Close::Layer(e), self.kind, conn.peer));
            }
        }
        self.put_wire(conn, w, Bytes::from(out), true, false)
    }

    /// Sends a keep-alive ping or pong on `conn`.
    pub(crate) fn send_raw(&self, conn: &Arc<Conn>, data: &'static [u8]) {
        let _ = self.send_on(conn, Bytes::from_static(data));
    }

    /// Takes a slot for a connection of `direction` to or from `ip` (the connection
    /// limits, [`Limits`]).
    pub(crate) fn reserve_slot(&self, direction: Direction, ip: IpAddr) -> Result<(), Refusal> {
        self.limits.reserve(&self.stats, direction, ip)
    }

    /// Gives back the slot of a connection of `direction` to or from `ip`.
    pub(crate) fn release_slot(&self, direction: Direction, ip: IpAddr) {
        self.limits.release(&self.stats, direction, ip);
    }

    /// Opens a connection to `addr` (for server `name`, with a layer) with `first` queued
    /// on it before anyone else can see it (so a connect that fails at once still reports
    /// its own failure), or finds the one another sender just opened. Returns the
    /// connection and whether `first` was queued.
    fn connect(
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
    fn new_outbound(
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

    /// Adds `n` bytes to the global queue total, whatever the limit.
    fn force_reserve(&self, n: usize) {
        let n = n as u64;
        let total = self.stats.queued_bytes.fetch_add(n, Ordering::AcqRel) + n;
        self.stats
            .queued_bytes_peak
            .fetch_max(total, Ordering::Relaxed);
    }

    /// Adds `n` bytes to the global queue total unless that would pass `wq_max`.
    fn reserve_queue(&self, n: usize) -> bool {
        let n = n as u64;
        let total = self.stats.queued_bytes.fetch_add(n, Ordering::AcqRel) + n;
        if total > self.config.wq_max as u64 {
            self.stats.queued_bytes.fetch_sub(n, Ordering::AcqRel);
            return false;
        }
        self.stats
            .queued_bytes_peak
            .fetch_max(total, Ordering::Relaxed);
        true
    }

    fn open_socket(&self, addr: SocketAddr) -> io::Result<(TcpStream, SocketAddr, Phase)> {
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

    /// Closes `conn` for `why`: drops its queue, unindexes it, shuts the socket down (its
    /// owner sees that and lets go), counts, blacklists and reports. Idempotent.
    pub(crate) fn close(&self, conn: &Arc<Conn>, why: Close) -> bool {
        if matches!(why, Close::Idle | Close::Shutdown) {
            self.say_goodbye(conn);
        }
        let (dropped, aliases) = {
            let mut w = conn.write.lock();
            if w.phase == Phase::Closed {
                return false;
            }
            w.phase = Phase::Closed;
            w.closed_by = Some(why);
            let n = std::mem::take(&mut w.queued);
            self.stats
                .queued_bytes
                .fetch_sub(n as u64, Ordering::AcqRel);
            (std::mem::take(&mut w.queue), std::mem::take(&mut w.aliases))
        };
        drop(dropped);
        self.unindex(conn, &aliases);
        let _ = conn.stream.shutdown(Shutdown::Both);
        self.release_slot(Direction::of(conn.outbound), conn.peer.ip());
        self.report(conn, why, &aliases);
        self.command(Command::Closed(conn.clone()));
        true
    }

    /// Takes `conn` out of the index (no new sends use it) without closing it: a failed
    /// connection that drains its input first.
    pub(crate) fn retire(&self, conn: &Arc<Conn>) -> Vec<SocketAddr> {
        let aliases = std::mem::take(&mut conn.write.lock().aliases);
        self.unindex(conn, &aliases);
        aliases
    }

    fn unindex(&self, conn: &Arc<Conn>, aliases: &[SocketAddr]) {
        self.table.remove(&conn.peer, conn);
        if conn.name.is_some() {
            self.table.remove_named(&conn.peer, conn);
        }
        for a in aliases {
            self.table.remove(a, conn);
        }
    }

    /// Before a silent close, writes what ends the layer's session cleanly (TLS
    /// `close_notify`) if the socket takes it now. Skipped when the layer is busy (the
    /// caller may hold its lock) or writes are queued.
    fn say_goodbye(&self, conn: &Conn) {
        let Some(mut slot) = conn.layer.as_deref().and_then(|s| s.try_lock()) else {
            return;
        };
        let w = conn.write.lock();
        if w.phase != Phase::Open || !w.queue.is_empty() || !slot.ready {
            return;
        }
        let mut out = Vec::new();
        slot.session.close(&mut out);
        if !out.is_empty() {
            let _ = write_some(&conn.stream, &out);
        }
    }

    /// Counts, blacklists and reports a failure of `conn` (its peer and aliases).
    pub(crate) fn report(&self, conn: &Conn, why: Close, aliases: &[SocketAddr]) {
        let targets = || std::iter::once(conn.peer).chain(aliases.iter().copied());
        self.count_and_blacklist(why, targets());
        if why.error(self.kind, conn.peer).is_some() {
            for addr in targets() {
                if let Some(err) = why.error(self.kind, addr) {
                    Counters::inc(&self.stats.reported);
                    let target = Target::new(self.kind, addr);
                    if sipcore::runtime::catch(|| self.events.on_transport_error(target, err))
                        .is_none()
                    {
                        Counters::inc(&self.stats.callback_panics);
                    }
                }
            }
        }
    }

    fn count_and_blacklist(&self, why: Close, targets: impl Iterator<Item = SocketAddr>) {
        if let Some(c) = why.counter(&self.stats) {
            Counters::inc(c);
        }
        if why == Close::Truncated {
            Counters::inc(&self.stats.truncated);
        }
        if !why.blacklists() || self.config.blacklist_ttl.is_zero() {
            return;
        }
        let now = self.now();
        let until = now.saturating_add(ms(self.config.blacklist_ttl));
        for addr in targets {
            if self.blacklist.insert(addr, until, now) {
                Counters::inc(&self.stats.blacklisted);
            }
        }
    }
}

/// Whether a send by address alone may use `conn`, found under that address: a
/// connection accepted from it (the address is its real source), one opened by address
/// (a layer checked the certificate for the address), or an alias a layer vouched for
/// ([`Shared::add_alias`]); never one opened for a server name.
fn by_address(conn: &Conn) -> bool {
    conn.name.is_none()
}
