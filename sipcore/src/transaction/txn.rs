//! The state one transaction keeps: what it is, where it stands, the messages it holds
//! and the spans it is matched by.
//!
//! The request and the last message sent back (a server's last response, a client
//! INVITE's ACK) are refcounted [`Bytes`] shared with the transport and the transaction
//! user: never copied. Matching data are spans into the held request, not copies.

use bytes::Bytes;

use crate::message::{Method, Span};
use crate::transport::Target;

use super::NIL;

/// Which of the four RFC 3261 §17 machines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// INVITE client transaction.
    Ict,
    /// Non-INVITE client transaction.
    Nict,
    /// INVITE server transaction.
    Ist,
    /// Non-INVITE server transaction.
    Nist,
}

impl Kind {
    pub fn is_server(self) -> bool {
        matches!(self, Kind::Ist | Kind::Nist)
    }
}

/// States of the four machines (Terminated is leaving the table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// ICT waiting for a first response.
    Calling,
    /// NICT waiting for a first response; NIST waiting for the TU.
    Trying,
    /// A provisional response went by.
    Proceeding,
    /// A non-2xx final response went by (ICT/IST), or any final (NICT/NIST).
    Completed,
    /// IST: the ACK arrived.
    Confirmed,
    /// A 2xx went by (RFC 6026).
    Accepted,
    /// A CANCEL waiting for its INVITE's first provisional response (§9.1).
    Held,
}

/// Slot of the retransmission timer (A, E, G, and 100 Trying).
pub(crate) const RETRANSMIT: usize = 0;
/// Slot of the timeout timer (B, C, D, F, H, I, J, K, L, M, Tu).
pub(crate) const TIMEOUT: usize = 1;

/// Flag: Timer C has fired once (the CANCEL is out; the next firing ends it).
pub(crate) const F_TIMER_C_FIRED: u8 = 1;
/// Flag: the transaction is matched by the RFC 2543 rules (branch without cookie).
pub(crate) const F_LEGACY: u8 = 2;
/// Flag (ICT): a CANCEL was created for it; there is never a second one.
pub(crate) const F_CANCELLED: u8 = 4;

/// What a transaction is matched by: the bucket hash, and spans into its request.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct StoredKey {
    /// Hash of Call-ID and CSeq number.
    pub hash: u64,
    /// CSeq number.
    pub seq: u32,
    /// Sent-by port (0 when absent).
    pub port: u16,
    /// The branch (RFC 3261), or the whole top Via value (RFC 2543).
    pub a: Span,
    /// The sent-by host (RFC 3261), or the Request-URI (RFC 2543).
    pub b: Span,
    /// The To tag of the request (empty when absent).
    pub to_tag: Span,
    /// The From tag.
    pub from_tag: Span,
    /// The Call-ID.
    pub call_id: Span,
}

/// A link to another transaction in the same shard (INVITE to its CANCEL and back).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Link {
    pub index: u32,
    pub generation: u32,
}

impl Link {
    pub const NONE: Link = Link {
        index: NIL,
        generation: 0,
    };
}

/// One transaction.
#[derive(Debug)]
pub(crate) struct Txn {
    /// The request that created it.
    pub request: Bytes,
    /// Server: the last response sent. ICT: the ACK for a non-2xx final response.
    pub last: Option<Bytes>,
    /// Client: where the request goes. Server: where responses go (§18.2.2).
    pub target: Target,
    pub key: StoredKey,
    /// Wheel ids of the armed timers, [`RETRANSMIT`] and [`TIMEOUT`].
    pub timers: [u32; 2],
    /// Next transaction in the bucket chain.
    pub chain: u32,
    /// ICT: its CANCEL. CANCEL NICT: its INVITE.
    pub link: Link,
    pub kind: Kind,
    pub state: State,
    /// [`method_code`] of the request method.
    pub method: u8,
    /// Retransmissions so far (the backoff exponent).
    pub retransmits: u8,
    pub flags: u8,
}

impl Txn {
    pub fn new(
        kind: Kind,
        state: State,
        request: Bytes,
        target: Target,
        key: StoredKey,
        method: u8,
    ) -> Txn {
        Txn {
            request,
            last: None,
            target,
            key,
            timers: [NIL; 2],
            chain: NIL,
            link: Link::NONE,
            kind,
            state,
            method,
            retransmits: 0,
            flags: 0,
        }
    }

    /// Octets of a span of the request.
    #[inline]
    pub fn slice(&self, span: Span) -> &[u8] {
        self.request.get(span.range()).unwrap_or_default()
    }

    /// Whether it is reliable (no retransmissions, zero waits).
    #[inline]
    pub fn reliable(&self) -> bool {
        self.target.transport.is_reliable()
    }

    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    /// Whether the request method is `m`.
    pub fn method_is(&self, m: Method<'_>) -> bool {
        let code = method_code(m);
        if code != EXTENSION {
            return code == self.method;
        }
        self.method == EXTENSION && {
            let line = self.request.as_ref();
            let end = memchr::memchr(b' ', line).unwrap_or(0);
            line.get(..end) == Some(m.as_str().as_bytes())
        }
    }
}

/// Code of extension methods in [`Txn::method`].
pub(crate) const EXTENSION: u8 = u8::MAX;
pub(crate) const INVITE: u8 = 1;
pub(crate) const ACK: u8 = 2;
pub(crate) const CANCEL: u8 = 3;

/// A one-byte code for a method (extension methods share [`EXTENSION`]).
pub(crate) fn method_code(m: Method<'_>) -> u8 {
    match m {
        Method::Invite => INVITE,
        Method::Ack => ACK,
        Method::Cancel => CANCEL,
        Method::Bye => 4,
        Method::Register => 5,
        Method::Options => 6,
        Method::Info => 7,
        Method::Update => 8,
        Method::Prack => 9,
        Method::Subscribe => 10,
        Method::Notify => 11,
        Method::Refer => 12,
        Method::Message => 13,
        Method::Publish => 14,
        Method::Extension(_) => EXTENSION,
    }
}

/// Size of one table slot, reported by the memory accounting.
pub(crate) const TXN_BYTES: usize = std::mem::size_of::<Txn>();
