//! The error type of the transaction layer, and the transport failure causes it is told.

use std::fmt;

use crate::message::Request;
use crate::parse::ParseError;

use super::TransactionId;

/// Why a transaction-layer call failed.
///
/// Peer faults ([`Malformed`](Self::Malformed)) are apart from caller misuse
/// ([`UnknownTransaction`](Self::UnknownTransaction), [`InvalidState`](Self::InvalidState),
/// [`InvalidRequest`](Self::InvalidRequest)) and from load ([`Overloaded`](Self::Overloaded),
/// which hands the request back so the caller can answer it statelessly).
///
/// ```
/// use sipcore::transaction::TransactionError;
/// let e = TransactionError::InvalidRequest("ACK is sent without a transaction");
/// assert_eq!(e.to_string(), "invalid request: ACK is sent without a transaction");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransactionError {
    /// The message lacks, or has a malformed, header that transactions are matched by
    /// (top Via, CSeq, Call-ID, From, To). A request deserves a stateless 400.
    #[error("message not usable for transaction matching: {0}")]
    Malformed(#[from] ParseError),
    /// The live-transaction limit ([`Config::max_transactions`](super::Config), or
    /// `max_per_call_seq` for one Call-ID and CSeq) is reached. The request is handed
    /// back: answer it with a stateless 503 (see [`stateless`](super::stateless)).
    #[error("too many live transactions")]
    Overloaded(Box<Request>),
    /// The handle names no live transaction (it terminated, or never existed).
    #[error("no live transaction {0}")]
    UnknownTransaction(TransactionId),
    /// The transaction cannot do this now (e.g. a second final response, a response on
    /// a client transaction, a CANCEL after a final response).
    #[error("transaction {id} cannot {what} in its current state")]
    InvalidState {
        /// The transaction.
        id: TransactionId,
        /// What was asked.
        what: &'static str,
    },
    /// A request the transaction user asked to send does not fit a client transaction.
    #[error("invalid request: {0}")]
    InvalidRequest(&'static str),
    /// A client transaction with this branch and method is already live.
    #[error("a client transaction with this branch and method is live")]
    DuplicateBranch,
}

/// Why a transport could not deliver, as reported through
/// [`TransactionLayer::handle_transport_error`](super::TransactionLayer::handle_transport_error).
/// The transaction ends at once and the transaction user acts as on a 503 (RFC 3261
/// §8.1.3.1, §17.1.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransportFailure {
    /// No route, or an ICMP unreachable.
    Unreachable,
    /// The connection attempt was refused.
    ConnectionRefused,
    /// The connection was reset or closed while data was pending.
    ConnectionReset,
    /// Connecting or sending made no progress in time.
    Timeout,
    /// A write queue limit was reached.
    QueueFull,
    /// The message is too large for the transport.
    MessageTooLarge,
    /// A TLS failure (handshake, certificate).
    Tls,
    /// Anything else.
    Other,
}

impl fmt::Display for TransportFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransportFailure::Unreachable => "unreachable",
            TransportFailure::ConnectionRefused => "connection refused",
            TransportFailure::ConnectionReset => "connection reset",
            TransportFailure::Timeout => "transport timeout",
            TransportFailure::QueueFull => "write queue full",
            TransportFailure::MessageTooLarge => "message too large",
            TransportFailure::Tls => "TLS failure",
            TransportFailure::Other => "transport failure",
        })
    }
}
