//! The channels between the manager's threads: commands to the supervisor (and the
//! waker that makes it look), connections handed to workers, and the token of the
//! waker in every poll. Below the threads that use them, so that `shared`, `supervisor`
//! and `worker` depend on this module and not on each other.
//!
//! The command channel's length is bounded by the number of connections: each
//! connection has at most one `Register`, one `Queued` (guarded by a flag), one `Closed`
//! and one `Return` in flight, plus one `Listen` per listener.

use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

use crossbeam_channel::Sender;
use mio::net::TcpListener;
use mio::{Token, Waker};

use crate::conn::{Conn, ReadState};

/// The token of the waker in every poll of the manager.
pub(crate) const WAKER: Token = Token(usize::MAX);
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

/// A connection moving from the supervisor to a worker.
#[derive(Debug)]
pub(crate) struct Handoff {
    pub(crate) conn: Arc<Conn>,
    pub(crate) read: ReadState,
}

/// How any thread reaches the supervisor: its command channel and its waker.
#[derive(Debug)]
pub(crate) struct SupervisorLink {
    commands: Sender<Command>,
    waker: Waker,
}

impl SupervisorLink {
    pub(crate) fn new(commands: Sender<Command>, waker: Waker) -> SupervisorLink {
        SupervisorLink { commands, waker }
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
}
