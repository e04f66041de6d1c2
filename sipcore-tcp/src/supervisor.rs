//! The supervisor thread: listeners, idle connections, pending connects, flushing of
//! queued writes and every connection timer, on one `mio::Poll`.
//!
//! Registration in the supervisor's poll (edge-triggered):
//! - an idle connection it owns: readable + writable;
//! - a connection a worker owns: writable only (the worker watches readability in its own
//!   poll), so the supervisor is not woken for traffic a worker handles;
//! - writable stays registered so a `WouldBlock` seen by any sender ends in a flush here.
//!
//! Commands from other threads arrive on a channel whose length is bounded by the number
//! of connections: each connection has at most one `Register`, one `Queued` (guarded by a
//! flag), one `Closed` and one `Return` in flight.

use std::io;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use mio::event::Event;
use mio::net::{TcpListener, TcpStream};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};
use slab::Slab;

use crate::clock::ms;
use crate::conn::{flush_queue, Conn, Phase, ReadState};
use crate::failure::Close;
use crate::layer::LayerSlot;
use crate::limits::{Direction, Refusal};
use crate::shared::{Shared, PING};
use crate::stats::Counters;
use crate::wheel::Wheel;
use crate::worker::Handoff;

/// The token of the waker in every poll of the manager.
pub(crate) const WAKER: Token = Token(usize::MAX);
/// Listener `i` has token `LISTENER_BASE - i`.
const LISTENER_BASE: usize = usize::MAX - 1;
/// At most this many listeners (tokens below are connections).
const MAX_LISTENERS: usize = 1024;
/// How soon to retry `accept` after it failed for lack of file descriptors.
const ACCEPT_RETRY: Duration = Duration::from_millis(50);
/// Accepts per listener per loop turn, so a connect storm cannot starve other events.
const ACCEPTS_PER_TURN: usize = 256;

/// What other threads ask of the supervisor.
#[derive(Debug)]
pub(crate) enum Command {
    /// A new outgoing connection to watch.
    Register(Arc<Conn>),
    /// A new listener.
    Listen(TcpListener),
    /// The connection's write queue became non-empty: arm its send timeout.
    Queued(Arc<Conn>),
    /// The connection was closed: forget it (once no worker owns it).
    Closed(Arc<Conn>),
    /// A worker gives the connection back.
    Return(Arc<Conn>, ReadState),
}

/// The supervisor's side of a worker.
#[derive(Debug)]
pub(crate) struct WorkerLink {
    pub(crate) tx: Sender<Handoff>,
    pub(crate) waker: Arc<Waker>,
    /// Connections the worker owns now.
    pub(crate) load: AtomicUsize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    Supervisor,
    Worker(usize),
}

#[derive(Debug)]
struct Entry {
    conn: Arc<Conn>,
    owner: Owner,
    /// The read state while the supervisor owns the connection.
    read: Option<ReadState>,
    /// The deadline of the wheel entry that counts (later ones are stale).
    armed: Option<u64>,
    /// Removed; the slab slot is freed after the current event batch.
    dead: bool,
}

/// The supervisor thread's state.
#[derive(Debug)]
pub(crate) struct Supervisor {
    shared: Arc<Shared>,
    poll: Poll,
    commands: Receiver<Command>,
    listeners: Vec<TcpListener>,
    conns: Slab<Entry>,
    wheel: Wheel,
    workers: Vec<Arc<WorkerLink>>,
    next_worker: usize,
    dead: Vec<usize>,
    expired: Vec<(usize, u64)>,
    /// Accepting failed (no file descriptors): try again in `ACCEPT_RETRY`.
    accept_retry: bool,
    /// A listener still had connections after its turn: come back without sleeping.
    accept_more: bool,
}

fn fd_of(conn: &Conn) -> std::os::fd::RawFd {
    conn.stream.as_raw_fd()
}

impl Supervisor {
    pub(crate) fn new(
        shared: Arc<Shared>,
        poll: Poll,
        commands: Receiver<Command>,
        workers: Vec<Arc<WorkerLink>>,
    ) -> Supervisor {
        let now = shared.now();
        Supervisor {
            shared,
            poll,
            commands,
            listeners: Vec::new(),
            conns: Slab::new(),
            wheel: Wheel::new(now),
            workers,
            next_worker: 0,
            dead: Vec::new(),
            expired: Vec::new(),
            accept_retry: false,
            accept_more: false,
        }
    }

    /// Runs until shutdown, then closes every connection.
    pub(crate) fn run(mut self) {
        let mut events = Events::with_capacity(1024);
        while !self.shared.is_shutdown() {
            let now = self.shared.now();
            let mut timeout = self
                .wheel
                .next_expiry()
                .map(|t| Duration::from_millis(t.saturating_sub(now)));
            if self.accept_retry {
                timeout = Some(timeout.map_or(ACCEPT_RETRY, |t| t.min(ACCEPT_RETRY)));
            }
            if self.accept_more {
                timeout = Some(Duration::ZERO);
            }
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() != io::ErrorKind::Interrupted {
                    std::thread::sleep(Duration::from_millis(10));
                }
                continue;
            }
            for event in events.iter() {
                match event.token() {
                    WAKER => {}
                    Token(t) if t > LISTENER_BASE - MAX_LISTENERS => {
                        self.accept(LISTENER_BASE - t);
                    }
                    Token(k) => self.conn_event(k, event),
                }
            }
            self.drain_commands();
            let retry = std::mem::take(&mut self.accept_retry);
            if std::mem::take(&mut self.accept_more) || retry {
                for i in 0..self.listeners.len() {
                    self.accept(i);
                }
            }
            self.run_timers();
            for k in self.dead.drain(..) {
                self.conns.try_remove(k);
            }
        }
        self.stop();
    }

    fn stop(&mut self) {
        let conns: Vec<_> = self.conns.iter().map(|(_, e)| e.conn.clone()).collect();
        for conn in conns.into_iter().chain(self.shared.table.drain_all()) {
            self.shared.close(&conn, Close::Shutdown);
        }
        for w in &self.workers {
            let _ = w.waker.wake();
        }
        while self.commands.try_recv().is_ok() {}
        self.conns.clear();
    }

    fn drain_commands(&mut self) {
        while let Ok(command) = self.commands.try_recv() {
            let now = self.shared.now();
            match command {
                Command::Register(conn) => self.register(conn, now),
                Command::Listen(listener) => self.add_listener(listener),
                Command::Queued(conn) => {
                    conn.timer_requested.store(false, Ordering::Release);
                    if let Some(k) = self.key_of(&conn) {
                        self.evaluate(k, now);
                    }
                }
                Command::Closed(conn) => {
                    if let Some(k) = self.key_of(&conn) {
                        if self
                            .conns
                            .get(k)
                            .is_some_and(|e| e.owner == Owner::Supervisor)
                        {
                            self.remove(k);
                        }
                    }
                }
                Command::Return(conn, read) => self.returned(conn, read, now),
            }
        }
    }

    /// The live entry of `conn`, if it is registered here.
    fn key_of(&self, conn: &Arc<Conn>) -> Option<usize> {
        let k = conn.key()?;
        let e = self.conns.get(k)?;
        (!e.dead && Arc::ptr_eq(&e.conn, conn)).then_some(k)
    }

    fn add_listener(&mut self, mut listener: TcpListener) {
        let i = self.listeners.len();
        if i >= MAX_LISTENERS {
            return;
        }
        if self
            .poll
            .registry()
            .register(&mut listener, Token(LISTENER_BASE - i), Interest::READABLE)
            .is_ok()
        {
            self.listeners.push(listener);
            self.accept(i);
        }
    }

    fn accept(&mut self, i: usize) {
        for _ in 0..ACCEPTS_PER_TURN {
            let Some(listener) = self.listeners.get(i) else {
                return;
            };
            match listener.accept() {
                Ok((stream, peer)) => self.accepted(stream, peer),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e)
                    if e.kind() == io::ErrorKind::Interrupted
                        || e.kind() == io::ErrorKind::ConnectionAborted => {}
                Err(_) => {
                    // Out of file descriptors or buffers: the backlog keeps the rest;
                    // retry soon rather than wait for an edge that may never come.
                    self.accept_retry = true;
                    return;
                }
            }
        }
        // Budget used up: the rest of the backlog waits one loop turn (edge-triggered,
        // so no new event would come for it).
        self.accept_more = true;
    }

    fn accepted(&mut self, stream: TcpStream, peer: std::net::SocketAddr) {
        let shared = &self.shared;
        match shared.reserve_slot(Direction::Inbound, peer.ip()) {
            Ok(()) => {}
            Err(why) => {
                Counters::inc(match why {
                    Refusal::Limit => &shared.stats.accept_refused,
                    Refusal::PerIp => &shared.stats.accept_refused_per_ip,
                });
                return; // dropping the stream closes it
            }
        }
        Counters::inc(&shared.stats.accepted);
        if shared.config.nodelay {
            let _ = stream.set_nodelay(true);
        }
        if let Some(n) = shared.config.send_buffer {
            let _ = socket2::SockRef::from(&stream).set_send_buffer_size(n);
        }
        if let Some(n) = shared.config.recv_buffer {
            let _ = socket2::SockRef::from(&stream).set_recv_buffer_size(n);
        }
        let local = stream
            .local_addr()
            .unwrap_or_else(|_| std::net::SocketAddr::new(peer.ip(), 0));
        let slot = match &shared.layers {
            None => None,
            Some(f) => match f.accept(peer, local) {
                Ok(session) => Some(LayerSlot::new(session)),
                Err(_) => {
                    // Our own configuration failed (no certificate): nothing to report
                    // to; the peer sees the connection close.
                    Counters::inc(&shared.stats.handshake_failures);
                    shared.release_slot(Direction::Inbound, peer.ip());
                    return;
                }
            },
        };
        let conn = Conn::new(stream, peer, local, false, Phase::Open, shared.now());
        let conn = Arc::new(match slot {
            Some(slot) => conn.with_layer(slot, None),
            None => conn,
        });
        shared.table.insert(peer, conn.clone());
        let now = shared.now();
        self.add(conn, now);
    }

    fn register(&mut self, conn: Arc<Conn>, now: u64) {
        if conn.is_closed() || self.shared.is_shutdown() {
            if self.shared.is_shutdown() {
                self.shared.close(&conn, Close::Shutdown);
            }
            return;
        }
        let open = conn.phase() == Phase::Open;
        self.add(conn.clone(), now);
        if open {
            self.flush(&conn);
        }
    }

    /// Takes ownership of a new connection: slab entry, registration, timer.
    fn add(&mut self, conn: Arc<Conn>, now: u64) {
        let key = self.conns.insert(Entry {
            conn: conn.clone(),
            owner: Owner::Supervisor,
            read: Some(ReadState::new(self.shared.config.max_message_size)),
            armed: None,
            dead: false,
        });
        conn.token.store(key, Ordering::Release);
        let registered = self.poll.registry().register(
            &mut SourceFd(&fd_of(&conn)),
            Token(key),
            Interest::READABLE | Interest::WRITABLE,
        );
        match registered {
            Ok(()) => self.evaluate(key, now),
            Err(e) => {
                self.shared.close(&conn, Close::from_io(&e));
            }
        }
    }

    /// Forgets a connection this thread owns.
    fn remove(&mut self, k: usize) {
        if let Some(e) = self.conns.get_mut(k) {
            if !e.dead {
                e.dead = true;
                let _ = self
                    .poll
                    .registry()
                    .deregister(&mut SourceFd(&fd_of(&e.conn)));
                self.dead.push(k);
            }
        }
    }

    fn conn_event(&mut self, k: usize, event: &Event) {
        let Some(entry) = self.conns.get(k) else {
            return;
        };
        if entry.dead {
            return;
        }
        let conn = entry.conn.clone();
        let owner = entry.owner;
        let mut writable = event.is_writable();
        match conn.phase() {
            Phase::Closed => return,
            Phase::Connecting => match self.finish_connect(&conn, event) {
                Ok(true) => {
                    writable = true;
                    // Deadlines after the connect (keep-alive) may come before the
                    // connect timeout that is armed.
                    self.evaluate(k, self.shared.now());
                }
                Ok(false) => return,
                Err(why) => {
                    self.shared.close(&conn, why);
                    return;
                }
            },
            Phase::Open => {}
        }
        if writable {
            self.flush(&conn);
        }
        if owner == Owner::Supervisor
            && (event.is_readable() || event.is_read_closed() || event.is_error())
        {
            self.handoff(k);
        }
    }

    /// Whether a pending connect has completed (`Err` when it failed).
    fn finish_connect(&self, conn: &Conn, event: &Event) -> Result<bool, Close> {
        match conn.stream.take_error() {
            Ok(Some(e)) | Err(e) => return Err(connect_failure(&e)),
            Ok(None) => {}
        }
        match conn.stream.peer_addr() {
            Ok(_) => {
                {
                    let mut w = conn.write.lock();
                    if w.phase != Phase::Connecting {
                        return Ok(false);
                    }
                    w.phase = Phase::Open;
                    w.progress_ms = self.shared.now();
                }
                Counters::inc(&self.shared.stats.connected);
                self.shared.blacklist.remove(&conn.peer);
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                if event.is_error() || event.is_write_closed() {
                    Err(Close::Refused)
                } else {
                    Ok(false)
                }
            }
            Err(e) => Err(connect_failure(&e)),
        }
    }

    /// Writes what the queue holds until it is empty or the socket would block.
    fn flush(&self, conn: &Arc<Conn>) {
        let shared = &self.shared;
        let result = {
            let mut w = conn.write.lock();
            if w.phase != Phase::Open || w.queue.is_empty() {
                return;
            }
            let r = flush_queue(&conn.stream, &mut w);
            if let Ok(n) = r {
                if n > 0 {
                    let now = shared.now();
                    w.progress_ms = now;
                    conn.last_tx.store(now, Ordering::Relaxed);
                    shared
                        .stats
                        .queued_bytes
                        .fetch_sub(n as u64, Ordering::AcqRel);
                    Counters::add(&shared.stats.bytes_sent, n);
                }
            }
            r
        };
        if let Err(e) = result {
            shared.close(conn, Close::from_io(&e));
        }
    }

    fn pick_worker(&mut self) -> Option<usize> {
        let n = self.workers.len();
        let start = self.next_worker;
        self.next_worker = (start + 1) % n.max(1);
        (0..n).map(|i| (start + i) % n).min_by_key(|&i| {
            self.workers
                .get(i)
                .map_or(usize::MAX, |w| w.load.load(Ordering::Relaxed))
        })
    }

    /// Gives an idle connection that became readable to a worker.
    fn handoff(&mut self, k: usize) {
        let Some(w) = self.pick_worker() else {
            return;
        };
        let Some(link) = self.workers.get(w).cloned() else {
            return;
        };
        let Some(entry) = self.conns.get_mut(k) else {
            return;
        };
        let Some(read) = entry.read.take() else {
            return;
        };
        let conn = entry.conn.clone();
        let rereg = self.poll.registry().reregister(
            &mut SourceFd(&fd_of(&conn)),
            Token(k),
            Interest::WRITABLE,
        );
        if let Err(e) = rereg {
            entry.read = Some(read);
            self.shared.close(&conn, Close::from_io(&e));
            return;
        }
        entry.owner = Owner::Worker(w);
        link.load.fetch_add(1, Ordering::Relaxed);
        Counters::inc(&self.shared.stats.handoffs);
        Counters::inc(&self.shared.stats.worker_owned);
        if let Err(back) = link.tx.send(Handoff { conn, read }) {
            // The worker is gone (shutdown): keep the connection here and close it.
            let Handoff { conn, read } = back.into_inner();
            entry.owner = Owner::Supervisor;
            entry.read = Some(read);
            link.load.fetch_sub(1, Ordering::Relaxed);
            Counters::dec(&self.shared.stats.worker_owned);
            self.shared.close(&conn, Close::Shutdown);
            return;
        }
        let _ = link.waker.wake();
    }

    fn returned(&mut self, conn: Arc<Conn>, read: ReadState, now: u64) {
        let Some(k) = self.key_of(&conn) else {
            return;
        };
        let Some(entry) = self.conns.get_mut(k) else {
            return;
        };
        if let Owner::Worker(w) = entry.owner {
            if let Some(link) = self.workers.get(w) {
                link.load.fetch_sub(1, Ordering::Relaxed);
            }
            Counters::dec(&self.shared.stats.worker_owned);
        }
        Counters::inc(&self.shared.stats.returns);
        entry.owner = Owner::Supervisor;
        entry.read = Some(read);
        if conn.is_closed() {
            self.remove(k);
            return;
        }
        // Re-adding readable makes epoll report data that arrived meanwhile.
        let rereg = self.poll.registry().reregister(
            &mut SourceFd(&fd_of(&conn)),
            Token(k),
            Interest::READABLE | Interest::WRITABLE,
        );
        match rereg {
            Ok(()) => self.evaluate(k, now),
            Err(e) => {
                self.shared.close(&conn, Close::from_io(&e));
            }
        }
    }

    fn run_timers(&mut self) {
        let now = self.shared.now();
        let mut expired = std::mem::take(&mut self.expired);
        expired.clear();
        self.wheel.advance(now, &mut expired);
        for &(k, deadline) in &expired {
            if let Some(e) = self.conns.get_mut(k) {
                if !e.dead && e.armed == Some(deadline) {
                    e.armed = None;
                    self.evaluate(k, now);
                }
            }
        }
        self.expired = expired;
    }

    /// Checks every deadline of connection `k`: acts on the expired one, else arms the
    /// wheel for the earliest. Called when its timer fires or its state changed; cheap to
    /// call spuriously.
    fn evaluate(&mut self, k: usize, now: u64) {
        let cfg = &self.shared.config;
        let Some(entry) = self.conns.get(k) else {
            return;
        };
        if entry.dead {
            return;
        }
        let conn = entry.conn.clone();
        let (phase, queued, progress, ready) = {
            let w = conn.write.lock();
            (w.phase, !w.queue.is_empty(), w.progress_ms, w.ready)
        };
        let mut next = u64::MAX;
        let mut expired = None;
        let mut check = |deadline: u64, why: Close, next: &mut u64| {
            if deadline <= now {
                expired = expired.or(Some(why));
            } else {
                *next = (*next).min(deadline);
            }
        };
        match phase {
            Phase::Closed => return,
            Phase::Connecting => check(
                conn.created_ms.saturating_add(ms(cfg.connect_timeout)),
                Close::ConnectTimeout,
                &mut next,
            ),
            Phase::Open => {}
        }
        if !ready {
            // The stream layer's handshake, whoever owns the connection now.
            check(
                conn.created_ms.saturating_add(ms(cfg.handshake_timeout)),
                Close::HandshakeTimeout,
                &mut next,
            );
        }
        if queued {
            check(
                progress.saturating_add(ms(cfg.send_timeout)),
                Close::SendTimeout,
                &mut next,
            );
        }
        let mut ping = false;
        if entry.owner == Owner::Supervisor {
            if let Some(read) = &entry.read {
                if let Some(since) = read.partial_since {
                    let why = if read.draining {
                        Close::Drained
                    } else {
                        Close::ReadTimeout
                    };
                    check(since.saturating_add(ms(cfg.read_timeout)), why, &mut next);
                }
            }
            if phase == Phase::Open && ready {
                let last = conn.last_activity();
                if let (Some(interval), true) = (cfg.keepalive_interval, conn.outbound) {
                    let sent = conn.ping_sent.load(Ordering::Relaxed);
                    if sent != 0 {
                        check(
                            sent.saturating_add(ms(cfg.keepalive_timeout)),
                            Close::KeepaliveTimeout,
                            &mut next,
                        );
                    } else {
                        let at = last.saturating_add(ms(interval));
                        if at <= now {
                            ping = true;
                        } else {
                            next = next.min(at);
                        }
                    }
                }
                if !queued && !ping {
                    check(
                        last.saturating_add(ms(cfg.connection_lifetime)),
                        Close::Idle,
                        &mut next,
                    );
                }
            }
        }
        if let Some(why) = expired {
            self.shared.close(&conn, why);
            return;
        }
        if ping {
            conn.ping_sent.store(now, Ordering::Relaxed);
            Counters::inc(&self.shared.stats.pings_sent);
            self.shared.send_raw(&conn, PING);
            next = next.min(now.saturating_add(ms(cfg.keepalive_timeout)));
        }
        if next == u64::MAX {
            return;
        }
        if let Some(e) = self.conns.get_mut(k) {
            if e.armed.is_none_or(|a| next < a) {
                e.armed = Some(next);
                self.wheel.insert(k, next);
            }
        }
    }
}

/// The reason for a failed connect.
fn connect_failure(e: &io::Error) -> Close {
    match e.kind() {
        io::ErrorKind::TimedOut => Close::ConnectTimeout,
        _ => Close::from_io(e),
    }
}
