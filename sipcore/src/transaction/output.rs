//! What the layer hands back: transmits, events for the transaction user, and the
//! caller-owned buffer that collects them.

use std::collections::VecDeque;
use std::fmt;
use std::time::Instant;

use bytes::Bytes;

use crate::message::{Request, Response, StatusCode};
use crate::transport::Target;

use super::error::TransportFailure;

/// Names one transaction: `Copy`, cheap to store in the transaction user's own tables.
/// A handle whose transaction has terminated stays invalid for ever (the slot's
/// generation moved on), so a stale handle fails with
/// [`UnknownTransaction`](super::TransactionError::UnknownTransaction) instead of
/// reaching another transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransactionId {
    pub(crate) shard: u16,
    pub(crate) index: u32,
    pub(crate) generation: u32,
}

impl fmt::Display for TransactionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tx{}.{}.{}", self.shard, self.index, self.generation)
    }
}

/// The timers of RFC 3261 §17 and RFC 6026, plus the two bounds this layer adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Timer {
    /// INVITE request retransmission (client, Calling; unreliable only).
    A,
    /// INVITE transaction timeout (client, Calling): reported, the TU acts as on 408.
    B,
    /// Proxy INVITE timeout (client, Proceeding; RFC 3261 §16.6): reported, a CANCEL
    /// is sent.
    C,
    /// Wait for response retransmissions (client INVITE, Completed).
    D,
    /// Non-INVITE request retransmission (client; unreliable only).
    E,
    /// Non-INVITE transaction timeout (client): reported, the TU acts as on 408.
    F,
    /// INVITE final response retransmission (server, Completed; unreliable only).
    G,
    /// Wait for ACK (server, Completed): reported as a transaction failure.
    H,
    /// Wait for ACK retransmissions (server, Confirmed).
    I,
    /// Wait for request retransmissions (server non-INVITE, Completed).
    J,
    /// Wait for response retransmissions (client non-INVITE, Completed).
    K,
    /// Wait for INVITE retransmissions after a 2xx (server, Accepted; RFC 6026).
    L,
    /// Wait for 2xx retransmissions (client, Accepted; RFC 6026).
    M,
    /// 100 Trying on the TU's behalf (server INVITE, Proceeding; §17.2.1).
    Trying,
    /// The transaction user gave no final response in time: the layer answered 408
    /// itself ([`Config::invite_server_timeout`](super::Config)).
    Tu,
}

impl Timer {
    const ALL: [Timer; 15] = [
        Timer::A,
        Timer::B,
        Timer::C,
        Timer::D,
        Timer::E,
        Timer::F,
        Timer::G,
        Timer::H,
        Timer::I,
        Timer::J,
        Timer::K,
        Timer::L,
        Timer::M,
        Timer::Trying,
        Timer::Tu,
    ];

    /// The timer a wheel tag (`timer as u8`) stands for.
    pub(crate) fn from_tag(tag: u8) -> Option<Timer> {
        Timer::ALL.get(usize::from(tag)).copied()
    }

    /// The per-transaction slot the timer occupies.
    pub(crate) fn slot(self) -> usize {
        match self {
            Timer::A | Timer::E | Timer::G | Timer::Trying => super::txn::RETRANSMIT,
            _ => super::txn::TIMEOUT,
        }
    }

    /// The status the transaction user acts on when this timer is reported as a
    /// timeout: 408 Request Timeout.
    pub fn status(self) -> StatusCode {
        StatusCode::REQUEST_TIMEOUT
    }
}

/// Bytes to send to a target. The payload shares the transaction's buffer (no copy).
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "a Transmit must be sent"]
pub struct Transmit {
    /// Where to send.
    pub target: Target,
    /// The message.
    pub payload: Bytes,
    /// The transaction that sends it: report a failure to send it with
    /// [`TransactionLayer::handle_send_error`](super::TransactionLayer::handle_send_error).
    pub transaction: TransactionId,
}

/// Something the transaction user must know or do.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Event {
    /// A request created a server transaction. The TU answers it through
    /// [`send_response`](super::TransactionLayer::send_response) with `id` (as a quinn
    /// `Incoming` must be accepted or refused).
    Request {
        /// The new server transaction.
        id: TransactionId,
        /// The request.
        request: Request,
        /// Where it came from.
        source: Target,
        /// The request has no To tag and its From tag, Call-ID and CSeq equal those of
        /// a live server transaction it does not match: a merged request (§8.2.2.2);
        /// a UAS answers 482 (Loop Detected).
        merged: bool,
    },
    /// A CANCEL created a server transaction (§9.2). The TU answers the CANCEL with a
    /// 200 through `id`, and the INVITE (if `invite` is `Some` and unanswered) with 487.
    Cancel {
        /// The CANCEL's own server transaction.
        id: TransactionId,
        /// The CANCEL.
        request: Request,
        /// Where it came from.
        source: Target,
        /// The INVITE server transaction it matches; `None`: answer the CANCEL 481.
        invite: Option<TransactionId>,
    },
    /// An ACK the layer does not absorb: one that matches no transaction (the ACK for a
    /// 2xx, or a late one), or one matching an INVITE server transaction in Accepted
    /// (RFC 6026 §8.7). It belongs to the dialog (or is forwarded by a proxy).
    Ack {
        /// The ACK.
        request: Request,
        /// Where it came from.
        source: Target,
        /// The INVITE server transaction it matched, if any.
        transaction: Option<TransactionId>,
    },
    /// A response for client transaction `id`: provisional, final, and in Accepted every
    /// 2xx (retransmissions and forks; the TU ACKs them, RFC 6026 §8.4).
    Response {
        /// The client transaction.
        id: TransactionId,
        /// The response.
        response: Response,
        /// Where it came from.
        source: Target,
    },
    /// A response that matches no client transaction (a 2xx of a fork arriving after
    /// Timer M, a stray). RFC 6026 §8.9: an element other than a stateless proxy drops
    /// it; a UAC core may still ACK and BYE a stray 2xx.
    StrayResponse {
        /// The response.
        response: Response,
        /// Where it came from.
        source: Target,
    },
    /// A timer reported a failure: Timer B or F (no final response: act as on 408),
    /// H (no ACK), C (the layer sent a CANCEL), `Tu` (the layer answered 408).
    Timeout {
        /// The transaction.
        id: TransactionId,
        /// Which timer.
        timer: Timer,
    },
    /// The transport failed for this transaction: it is terminated at once and a
    /// client's TU acts as on a 503 (§8.1.3.1).
    TransportError {
        /// The transaction.
        id: TransactionId,
        /// Why.
        error: TransportFailure,
    },
    /// The transaction left the table; its handle is now invalid.
    Terminated {
        /// The transaction.
        id: TransactionId,
    },
}

impl Event {
    /// The status the transaction user acts on for a failure event: 408 for a timeout,
    /// 503 for a transport error; `None` for other events.
    pub fn failure_status(&self) -> Option<StatusCode> {
        match self {
            Event::Timeout { timer, .. } => Some(timer.status()),
            Event::TransportError { .. } => Some(StatusCode::SERVICE_UNAVAILABLE),
            _ => None,
        }
    }

    /// The transaction the event is about, if any.
    pub fn transaction(&self) -> Option<TransactionId> {
        match self {
            Event::Request { id, .. }
            | Event::Cancel { id, .. }
            | Event::Response { id, .. }
            | Event::Timeout { id, .. }
            | Event::TransportError { id, .. }
            | Event::Terminated { id } => Some(*id),
            Event::Ack { transaction, .. } => *transaction,
            Event::StrayResponse { .. } => None,
        }
    }
}

/// The caller-owned buffer every `handle_*` call and command writes into.
///
/// # Drain contract
///
/// After each call on the [`TransactionLayer`](super::TransactionLayer), drain
/// [`poll_transmit`](Self::poll_transmit) (send each, in order) and
/// [`poll_event`](Self::poll_event) (give each to the transaction user, in order), then
/// sleep no later than [`TransactionLayer::next_deadline`](super::TransactionLayer::next_deadline).
/// Transmits and events of one call are independent: sending first keeps latency low.
/// If another thread sleeps on the deadline, wake it when
/// [`timer_armed`](Self::timer_armed) is earlier than what it sleeps for.
///
/// Each worker thread keeps its own `Outputs` and reuses it: the queues keep their
/// capacity, so a steady state allocates nothing.
///
/// ```
/// use sipcore::transaction::Outputs;
/// let mut out = Outputs::new();
/// assert!(out.poll_transmit().is_none() && out.poll_event().is_none());
/// assert!(out.is_empty());
/// ```
#[derive(Debug, Default)]
pub struct Outputs {
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    timer_armed: Option<Instant>,
}

impl Outputs {
    /// An empty buffer.
    pub fn new() -> Outputs {
        Outputs::default()
    }

    /// The next message to send.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event for the transaction user.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The earliest timer deadline armed since the last call of this method (taken).
    #[must_use]
    pub fn timer_armed(&mut self) -> Option<Instant> {
        self.timer_armed.take()
    }

    /// Whether no transmit and no event is waiting.
    pub fn is_empty(&self) -> bool {
        self.transmits.is_empty() && self.events.is_empty()
    }

    /// Transmits waiting.
    pub fn transmits_len(&self) -> usize {
        self.transmits.len()
    }

    /// Events waiting.
    pub fn events_len(&self) -> usize {
        self.events.len()
    }

    pub(crate) fn transmit(&mut self, t: Transmit) {
        self.transmits.push_back(t);
    }

    pub(crate) fn event(&mut self, e: Event) {
        self.events.push_back(e);
    }

    pub(crate) fn armed(&mut self, at: Instant) {
        self.timer_armed = Some(self.timer_armed.map_or(at, |t| t.min(at)));
    }
}
