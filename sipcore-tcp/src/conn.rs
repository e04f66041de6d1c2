//! One connection: the socket, its write queue, and the per-connection read state that
//! travels with ownership between the supervisor and the workers.
//!
//! Ownership rules (no fd is read by two threads, no message is reordered):
//! - **reading** belongs to exactly one owner at a time, the supervisor or one worker; the
//!   [`ReadState`] (framer, partial buffer) is moved with the connection, never shared;
//! - **writing** happens under the [`Conn::write`] lock, from any thread: a direct write
//!   when the queue is empty, else the bytes join the queue that the supervisor flushes;
//! - the supervisor alone changes the connection's registration in its `mio::Poll`;
//! - a layered connection (TLS) has a [`LayerSlot`] under its own lock, always taken
//!   before the write lock (see [`crate::layer`]).

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::{Buf, Bytes, BytesMut};
use mio::net::TcpStream;
use parking_lot::Mutex;
use sipcore::parse::StreamFramer;
use socket2::SockRef;

use crate::failure::Close;
use crate::layer::LayerSlot;

/// Slices handed to one `writev`.
const MAX_IOV: usize = 64;

/// `send(2)` flags: never raise `SIGPIPE` on a connection the peer closed (the error
/// comes back as `EPIPE`), even in a host program that did not ignore the signal.
#[cfg(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd"
))]
const SEND_FLAGS: libc::c_int = libc::MSG_NOSIGNAL;
#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd"
)))]
const SEND_FLAGS: libc::c_int = 0;

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Non-blocking connect in progress; sends queue.
    Connecting,
    /// Established.
    Open,
    /// Closed: no more sends; the owners drop it.
    Closed,
}

/// The write side, under [`Conn::write`].
#[derive(Debug)]
pub(crate) struct WriteState {
    pub(crate) phase: Phase,
    /// Queued messages (or the unwritten rest of one), in order; never copied.
    pub(crate) queue: VecDeque<Bytes>,
    /// Bytes in `queue`.
    pub(crate) queued: usize,
    /// When the queue last became non-empty or last made progress (ms).
    pub(crate) progress_ms: u64,
    /// RFC 5923 aliases this connection is indexed under (besides its peer address).
    pub(crate) aliases: Vec<SocketAddr>,
    /// Why it was closed, once it is.
    pub(crate) closed_by: Option<Close>,
    /// The stream layer (if any) is ready: its handshake is done. Always true without one.
    pub(crate) ready: bool,
}

/// A TCP connection shared (`Arc`) by the index, its owner and senders.
#[derive(Debug)]
pub(crate) struct Conn {
    pub(crate) stream: TcpStream,
    pub(crate) peer: SocketAddr,
    pub(crate) local: SocketAddr,
    /// This side opened it.
    pub(crate) outbound: bool,
    pub(crate) created_ms: u64,
    /// The supervisor's slab key, `usize::MAX` until registered.
    pub(crate) token: AtomicUsize,
    pub(crate) last_rx: AtomicU64,
    pub(crate) last_tx: AtomicU64,
    /// When the outstanding keep-alive ping was sent, 0 if none.
    pub(crate) ping_sent: AtomicU64,
    /// A `Queued` command is on its way to the supervisor.
    pub(crate) timer_requested: AtomicBool,
    pub(crate) write: Mutex<WriteState>,
    /// The stream layer (TLS), if the transport has one; locked before `write`.
    pub(crate) layer: Option<Box<Mutex<LayerSlot>>>,
    /// The server name an outgoing layered connection was opened for (TLS: SNI).
    pub(crate) name: Option<Arc<str>>,
}

impl Conn {
    pub(crate) fn new(
        stream: TcpStream,
        peer: SocketAddr,
        local: SocketAddr,
        outbound: bool,
        phase: Phase,
        now: u64,
    ) -> Conn {
        Conn {
            stream,
            peer,
            local,
            outbound,
            created_ms: now,
            token: AtomicUsize::new(usize::MAX),
            last_rx: AtomicU64::new(now),
            last_tx: AtomicU64::new(now),
            ping_sent: AtomicU64::new(0),
            timer_requested: AtomicBool::new(false),
            write: Mutex::new(WriteState {
                phase,
                queue: VecDeque::new(),
                queued: 0,
                progress_ms: now,
                aliases: Vec::new(),
                closed_by: None,
                ready: true,
            }),
            layer: None,
            name: None,
        }
    }

    /// Gives the (new, unshared) connection a stream layer, opened for server `name`.
    pub(crate) fn with_layer(mut self, layer: LayerSlot, name: Option<Arc<str>>) -> Conn {
        self.write.get_mut().ready = layer.ready;
        self.layer = Some(Box::new(Mutex::new(layer)));
        self.name = name;
        self
    }

    pub(crate) fn phase(&self) -> Phase {
        self.write.lock().phase
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.phase() == Phase::Closed
    }

    /// Last traffic in either direction (ms).
    pub(crate) fn last_activity(&self) -> u64 {
        self.last_rx
            .load(Ordering::Relaxed)
            .max(self.last_tx.load(Ordering::Relaxed))
    }

    /// The supervisor's slab key, if registered.
    pub(crate) fn key(&self) -> Option<usize> {
        match self.token.load(Ordering::Acquire) {
            usize::MAX => None,
            k => Some(k),
        }
    }
}

/// The read side: moved with ownership, never shared.
#[derive(Debug)]
pub(crate) struct ReadState {
    pub(crate) framer: StreamFramer,
    /// Bytes of an incomplete message; `None` whenever nothing is pending, so an idle
    /// connection holds no buffer.
    pub(crate) buf: Option<BytesMut>,
    /// When the incomplete message at the front started (ms).
    pub(crate) partial_since: Option<u64>,
    /// The connection failed (e.g. 513 sent); discard input until EOF or timeout.
    pub(crate) draining: bool,
}

impl ReadState {
    pub(crate) fn new(max_message_size: usize) -> ReadState {
        ReadState {
            framer: StreamFramer::new(max_message_size),
            buf: None,
            partial_since: None,
            draining: false,
        }
    }
}

/// Writes as much of `data` as the socket takes without blocking; returns the count.
pub(crate) fn write_some(stream: &TcpStream, data: &[u8]) -> io::Result<usize> {
    let mut off = 0;
    while let Some(rest) = data.get(off..).filter(|r| !r.is_empty()) {
        match SockRef::from(stream).send_with_flags(rest, SEND_FLAGS) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => off += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(off)
}

/// Writes queued data until the queue is empty or the socket would block. Returns the
/// bytes written. The caller holds the write lock and accounts for the bytes.
pub(crate) fn flush_queue(stream: &TcpStream, w: &mut WriteState) -> io::Result<usize> {
    let mut total = 0;
    while !w.queue.is_empty() {
        let written = {
            let mut slices = [IoSlice::new(&[]); MAX_IOV];
            let mut n = 0;
            for (slot, b) in slices.iter_mut().zip(w.queue.iter()) {
                *slot = IoSlice::new(b);
                n += 1;
            }
            let slices = slices.get(..n).unwrap_or_default();
            match SockRef::from(stream).send_vectored_with_flags(slices, SEND_FLAGS) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(k) => k,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        consume(w, written);
        total += written;
    }
    Ok(total)
}

/// Drops `n` written bytes from the front of the queue.
fn consume(w: &mut WriteState, mut n: usize) {
    w.queued = w.queued.saturating_sub(n);
    while n > 0 {
        let Some(front) = w.queue.front_mut() else {
            break;
        };
        if front.len() <= n {
            n -= front.len();
            w.queue.pop_front();
        } else {
            front.advance(n);
            n = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consume_splits_front() {
        let mut w = WriteState {
            phase: Phase::Open,
            queue: VecDeque::from(vec![Bytes::from_static(b"abc"), Bytes::from_static(b"de")]),
            queued: 5,
            progress_ms: 0,
            aliases: Vec::new(),
            closed_by: None,
            ready: true,
        };
        consume(&mut w, 2);
        assert_eq!(w.queue.front().unwrap().as_ref(), b"c");
        assert_eq!(w.queued, 3);
        consume(&mut w, 2);
        assert_eq!(w.queue.front().unwrap().as_ref(), b"e");
        consume(&mut w, 1);
        assert!(w.queue.is_empty());
        assert_eq!(w.queued, 0);
    }

    #[test]
    fn idle_bookkeeping_is_small() {
        // Userland bytes per connection are measured by the idle-connections bench; keep
        // the struct itself well under the 2 KiB budget.
        eprintln!(
            "Conn {} B, ReadState {} B",
            std::mem::size_of::<Conn>(),
            std::mem::size_of::<ReadState>()
        );
        assert!(
            std::mem::size_of::<Conn>() <= 320,
            "{}",
            std::mem::size_of::<Conn>()
        );
        assert!(std::mem::size_of::<ReadState>() <= 96);
    }
}
