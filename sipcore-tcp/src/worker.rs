//! Worker threads: read a connection until `WouldBlock`, frame its messages, hand them to
//! the sink in order, answer keep-alive pings, and give the connection back to the
//! supervisor once it has been quiet for `worker_idle`.
//!
//! Buffers: each worker reads into one scratch buffer of `read_chunk` bytes; the bytes
//! of a read are then copied once into an allocation sized to them, from which framed
//! messages are split without copying. A connection keeps a buffer only while a message
//! is incomplete, so idle connections hold none, and a message kept by a transaction pins
//! only the bytes of the read it came in, not a large pooled buffer.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::net::Shutdown;
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use crossbeam_channel::Receiver;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use sipcore::message::{HeaderId, Message};
use sipcore::parse::{ParseError, ParseErrorKind, StreamItem};
use sipcore::transport::{Received, Target};
use slab::Slab;

use crate::channel::{Command, Handoff, WAKER};
use crate::clock::ms;
use crate::conn::{Conn, ReadState};
use crate::failure::Close;
use crate::reply::{alias_addr, too_large_response};
use crate::shared::{Shared, PONG};
use crate::stats::Counters;
use crate::wheel::Wheel;

/// Reads per connection before the worker turns to its other connections.
const READS_PER_TURN: usize = 32;

#[derive(Debug)]
struct Owned {
    conn: Arc<Conn>,
    read: Option<ReadState>,
    armed: Option<u64>,
    dead: bool,
}

/// What reading left the connection in.
enum Outcome {
    /// Drained to `WouldBlock`.
    Idle,
    /// Read budget used up; more may be waiting.
    More,
    /// Closed.
    Closed,
}

/// A worker thread's state.
#[derive(Debug)]
pub(crate) struct Worker {
    shared: Arc<Shared>,
    poll: Poll,
    rx: Receiver<Handoff>,
    owned: Slab<Owned>,
    wheel: Wheel,
    scratch: Vec<u8>,
    /// Application bytes a stream layer decoded from one read.
    plain: Vec<u8>,
    ready: VecDeque<usize>,
    dead: Vec<usize>,
    expired: Vec<(usize, u64)>,
}

impl Worker {
    pub(crate) fn new(shared: Arc<Shared>, poll: Poll, rx: Receiver<Handoff>) -> Worker {
        let now = shared.now();
        let chunk = shared.config.read_chunk.max(512);
        Worker {
            shared,
            poll,
            rx,
            owned: Slab::new(),
            wheel: Wheel::new(now),
            scratch: vec![0; chunk],
            plain: Vec::new(),
            ready: VecDeque::new(),
            dead: Vec::new(),
            expired: Vec::new(),
        }
    }

    /// Runs until shutdown.
    pub(crate) fn run(mut self) {
        let mut events = Events::with_capacity(256);
        while !self.shared.is_shutdown() {
            let timeout = if self.ready.is_empty() {
                let now = self.shared.now();
                self.wheel
                    .next_expiry()
                    .map(|t| Duration::from_millis(t.saturating_sub(now)))
            } else {
                Some(Duration::ZERO)
            };
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() != io::ErrorKind::Interrupted {
                    std::thread::sleep(Duration::from_millis(10));
                }
                continue;
            }
            for event in events.iter() {
                match event.token() {
                    WAKER => {}
                    Token(k) => self.service(k),
                }
            }
            while let Ok(handoff) = self.rx.try_recv() {
                self.adopt(handoff);
            }
            for _ in 0..self.ready.len() {
                if let Some(k) = self.ready.pop_front() {
                    self.service(k);
                }
            }
            self.run_timers();
            for k in self.dead.drain(..) {
                self.owned.try_remove(k);
            }
        }
    }

    fn adopt(&mut self, handoff: Handoff) {
        let Handoff { conn, read } = handoff;
        let fd = conn.stream.as_raw_fd();
        let k = self.owned.insert(Owned {
            conn: conn.clone(),
            read: Some(read),
            armed: None,
            dead: false,
        });
        let registered =
            self.poll
                .registry()
                .register(&mut SourceFd(&fd), Token(k), Interest::READABLE);
        if let Err(e) = registered {
            self.shared.close(&conn, Close::from_io(&e));
            self.release(k, false);
            return;
        }
        self.service(k);
    }

    /// Reads what the connection has and arms its timer.
    fn service(&mut self, k: usize) {
        let now = self.shared.now();
        let Some(o) = self.owned.get_mut(k) else {
            return;
        };
        if o.dead {
            return;
        }
        if o.conn.is_closed() {
            self.release(k, true);
            return;
        }
        let Some(read) = o.read.as_mut() else {
            return;
        };
        let bufs = Buffers {
            scratch: &mut self.scratch,
            plain: &mut self.plain,
        };
        match read_conn(&self.shared, &o.conn, read, bufs, now) {
            Outcome::Idle => self.evaluate(k, now),
            Outcome::More => {
                self.ready.push_back(k);
                self.evaluate(k, now);
            }
            Outcome::Closed => self.release(k, true),
        }
    }

    /// Gives connection `k` back to the supervisor.
    fn release(&mut self, k: usize, deregister: bool) {
        let Some(o) = self.owned.get_mut(k) else {
            return;
        };
        if o.dead {
            return;
        }
        o.dead = true;
        self.dead.push(k);
        if deregister {
            let fd = o.conn.stream.as_raw_fd();
            let _ = self.poll.registry().deregister(&mut SourceFd(&fd));
        }
        let read = o
            .read
            .take()
            .unwrap_or_else(|| ReadState::new(self.shared.config.max_message_size));
        self.shared.command(Command::Return(o.conn.clone(), read));
    }

    fn run_timers(&mut self) {
        let now = self.shared.now();
        let mut expired = std::mem::take(&mut self.expired);
        expired.clear();
        self.wheel.advance(now, &mut expired);
        for &(k, deadline) in &expired {
            if let Some(o) = self.owned.get_mut(k) {
                if !o.dead && o.armed == Some(deadline) {
                    o.armed = None;
                    self.evaluate(k, now);
                }
            }
        }
        self.expired = expired;
    }

    /// Read timeout and idle hand-back for connection `k`.
    fn evaluate(&mut self, k: usize, now: u64) {
        let cfg = &self.shared.config;
        let Some(o) = self.owned.get(k) else {
            return;
        };
        if o.dead {
            return;
        }
        if o.conn.is_closed() {
            self.release(k, true);
            return;
        }
        let mut next = u64::MAX;
        let (partial, draining) = o
            .read
            .as_ref()
            .map_or((None, false), |r| (r.partial_since, r.draining));
        if let Some(since) = partial {
            let deadline = since.saturating_add(ms(cfg.read_timeout));
            if deadline <= now {
                let why = if draining {
                    Close::Drained
                } else {
                    Close::ReadTimeout
                };
                let conn = o.conn.clone();
                self.shared.close(&conn, why);
                self.release(k, true);
                return;
            }
            next = deadline;
        }
        if !draining {
            let idle = o
                .conn
                .last_rx
                .load(Ordering::Relaxed)
                .saturating_add(ms(cfg.worker_idle));
            if idle <= now {
                self.release(k, true);
                return;
            }
            next = next.min(idle);
        }
        if let Some(o) = self.owned.get_mut(k) {
            if o.armed.is_none_or(|a| next < a) {
                o.armed = Some(next);
                self.wheel.insert(k, next);
            }
        }
    }
}

/// A worker's buffers: what a read lands in, and what a stream layer decodes it to.
struct Buffers<'a> {
    scratch: &'a mut [u8],
    plain: &'a mut Vec<u8>,
}

/// Reads until `WouldBlock` (or the per-turn budget), framing and delivering as it goes.
fn read_conn(
    shared: &Shared,
    conn: &Arc<Conn>,
    read: &mut ReadState,
    bufs: Buffers<'_>,
    now: u64,
) -> Outcome {
    let Buffers { scratch, plain } = bufs;
    for _ in 0..READS_PER_TURN {
        match (&conn.stream).read(scratch) {
            Ok(0) => {
                let why = if read.draining {
                    Close::Drained
                } else if !conn.write.lock().ready {
                    Close::Handshake(crate::layer::LayerError::new("closed during handshake"))
                } else if read.buf.as_ref().is_some_and(|b| !b.is_empty()) {
                    Close::Truncated
                } else {
                    Close::ClosedByPeer
                };
                shared.close(conn, why);
                return Outcome::Closed;
            }
            Ok(n) => {
                Counters::add(&shared.stats.bytes_received, n);
                conn.last_rx.store(now, Ordering::Relaxed);
                // A read shorter than the buffer emptied the socket's receive queue:
                // with edge-triggered readiness, bytes arriving later raise a new
                // event, so the read that would only return `WouldBlock` is skipped
                // (one system call less per message).
                let drained = n < scratch.len();
                if read.draining {
                    if drained {
                        return Outcome::Idle;
                    }
                    continue;
                }
                let mut data = scratch.get(..n).unwrap_or_default();
                if conn.layer.is_some() {
                    plain.clear();
                    if !shared.layer_input(conn, data, plain) {
                        return Outcome::Closed;
                    }
                    if plain.is_empty() {
                        if drained {
                            return Outcome::Idle;
                        }
                        continue;
                    }
                    data = plain.as_slice();
                }
                match read.buf.as_mut() {
                    Some(buf) => buf.extend_from_slice(data),
                    None => read.buf = Some(BytesMut::from(data)),
                }
                if !frame(shared, conn, read, now) {
                    return Outcome::Closed;
                }
                if drained {
                    return Outcome::Idle;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Outcome::Idle,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                shared.close(conn, Close::from_io(&e));
                return Outcome::Closed;
            }
        }
    }
    Outcome::More
}

/// Takes every complete item off the buffer. `false` when the connection was closed.
fn frame(shared: &Shared, conn: &Arc<Conn>, read: &mut ReadState, now: u64) -> bool {
    let Some(buf) = read.buf.as_mut() else {
        return true;
    };
    let mut took = false;
    loop {
        match read.framer.next_item(buf) {
            Ok(None) => break,
            Ok(Some(item)) => {
                took = true;
                match item {
                    StreamItem::Message(m) => deliver(shared, conn, m),
                    StreamItem::Ping => {
                        Counters::inc(&shared.stats.pings_received);
                        shared.send_raw(conn, PONG);
                    }
                    StreamItem::Pong => {
                        Counters::inc(&shared.stats.pongs_received);
                        conn.ping_sent.store(0, Ordering::Relaxed);
                    }
                }
            }
            Err(e) => return framing_failed(shared, conn, read, e, now),
        }
    }
    if buf.is_empty() {
        read.buf = None;
        read.partial_since = None;
    } else if took || read.partial_since.is_none() {
        read.partial_since = Some(now);
    }
    true
}

/// A message too large (answer 513 when the head allows, then drain) or a stream that
/// cannot be framed (close).
fn framing_failed(
    shared: &Shared,
    conn: &Arc<Conn>,
    read: &mut ReadState,
    error: ParseError,
    now: u64,
) -> bool {
    if error.kind() != ParseErrorKind::TooLarge {
        shared.close(conn, Close::Framing);
        return false;
    }
    let answer = read
        .buf
        .as_ref()
        .and_then(|b| too_large_response(b, shared.config.max_message_size));
    let Some(answer) = answer else {
        shared.close(conn, Close::TooLarge);
        return false;
    };
    // Report now, stop new sends from using the connection, answer, then read and
    // discard until the peer closes or `read_timeout` passes (closing with unread input
    // would reset the connection and could destroy the answer in flight).
    let aliases = shared.retire(conn);
    shared.report(conn, Close::TooLarge, &aliases);
    if shared.send_on(conn, answer).is_ok() {
        Counters::inc(&shared.stats.too_large_answered);
        if conn.write.lock().queue.is_empty() {
            let _ = conn.stream.shutdown(Shutdown::Write);
        }
    }
    read.buf = None;
    read.draining = true;
    read.partial_since = Some(now);
    true
}

/// Hands one framed message to the sink (after noting an RFC 5923 alias).
fn deliver(shared: &Shared, conn: &Arc<Conn>, message: Message) {
    Counters::inc(&shared.stats.messages_received);
    // Parse the top Via only when its raw value mentions `alias` (cheap scan first).
    let maybe_alias = shared.config.use_alias
        && message.is_request()
        && message
            .header(HeaderId::Via)
            .is_some_and(|v| memchr::memmem::find(v, b"alias").is_some());
    if maybe_alias {
        if let Some(alias) = message.top_via().ok().as_ref().and_then(alias_addr) {
            shared.add_alias(conn, alias);
        }
    }
    let received = Received {
        data: message.bytes(),
        source: Target::new(shared.kind, conn.peer),
        local: conn.local,
    };
    // A sink that panics loses this message only (sipcore::runtime has the policy).
    if sipcore::runtime::catch(|| shared.sink.on_received(received)).is_none() {
        Counters::inc(&shared.stats.callback_panics);
    }
}
