//! The supervisor thread: listeners, idle connections, pending connects, flushing of
//! queued writes and every connection timer, on one `mio::Poll`.
//!
//! Registration in the supervisor's poll (edge-triggered):
//! - an idle connection it owns: readable + writable;
//! - a connection a worker owns: writable only (the worker watches readability in its own
//!   poll), so the supervisor is not woken for traffic a worker handles;
//! - writable stays registered so a `WouldBlock` seen by any sender ends in a flush here.
//!
//! Commands from other threads arrive on a bounded-by-construction channel
//! ([`crate::channel`]). The work is split by idea: [`accept`] (listeners, accepted
//! connections), [`handoff`] (to and from workers), [`timers`] (every connection
//! deadline); this module keeps the loop, registration and flushing.

use std::io;
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::Receiver;
use mio::event::Event;
use mio::net::TcpListener;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use slab::Slab;

use crate::channel::{Command, WorkerLink, WAKER};
use crate::conn::{flush_queue, Conn, Phase, ReadState};
use crate::failure::Close;
use crate::shared::Shared;
use crate::stats::Counters;
use crate::wheel::Wheel;

mod accept;
mod handoff;
mod timers;

/// Listener `i` has token `LISTENER_BASE - i`.
const LISTENER_BASE: usize = usize::MAX - 1;
/// At most this many listeners (tokens below are connections).
const MAX_LISTENERS: usize = 1024;
/// How soon to retry `accept` after it failed for lack of file descriptors.
const ACCEPT_RETRY: Duration = Duration::from_millis(50);
/// Accepts per listener per loop turn, so a connect storm cannot starve other events.
const ACCEPTS_PER_TURN: usize = 256;

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
}

/// The reason for a failed connect.
fn connect_failure(e: &io::Error) -> Close {
    match e.kind() {
        io::ErrorKind::TimedOut => Close::ConnectTimeout,
        _ => Close::from_io(e),
    }
}
