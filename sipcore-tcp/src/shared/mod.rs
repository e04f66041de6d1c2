//! State shared by every thread of the manager, and the operations any thread may run,
//! one idea per module: [`send`] (direct write or queue, the layer), [`connect`] (open a
//! connection), [`close`] (close one, report why, blacklist); this module holds the
//! state and the connection slots.

mod close;
mod connect;
mod send;

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use crossbeam_channel::Sender;
use mio::Waker;
use parking_lot::Mutex;
use sipcore::transport::{MessageSink, SendError, TransportEvents, TransportKind};

use crate::channel::{Command, SupervisorLink};
use crate::clock::Clock;
use crate::config::TcpConfig;
use crate::conn::Conn;
use crate::failure::Close;
use crate::layer::LayerFactory;
use crate::limits::{Direction, Limits, Refusal};
use crate::stats::Counters;
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
    pub(super) fn close(why: Close, kind: TransportKind, peer: SocketAddr) -> Fail {
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
    supervisor: SupervisorLink,
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
            supervisor: SupervisorLink::new(commands, waker),
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
        self.supervisor.command(command);
    }

    /// Wakes the supervisor (shutdown).
    pub(crate) fn wake(&self) {
        self.supervisor.wake();
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
}

/// Whether a send by address alone may use `conn`, found under that address: a
/// connection accepted from it (the address is its real source), one opened by address
/// (a layer checked the certificate for the address), or an alias a layer vouched for
/// ([`Shared::add_alias`]); never one opened for a server name.
pub(super) fn by_address(conn: &Conn) -> bool {
    conn.name.is_none()
}
