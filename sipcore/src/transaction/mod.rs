//! The sans-IO transaction layer: RFC 3261 §17 as updated by RFC 6026.
//!
//! A pure state machine. Messages, timeouts and transport errors go in with the current
//! time; transmits ("send these bytes to this target") and events for the transaction
//! user (TU) come out. No sockets, no threads, no clock reads: the threaded UDP
//! endpoint, the TCP manager and anyone's own event loop drive the same core, and the
//! tests drive it with a simulated clock.
//!
//! ```text
//!              network                                   transaction user
//!   datagram ─► parse ─► handle_message ─┐          ┌─► poll_event: Request, Cancel,
//!   timer thread ──────► handle_timeout ─┤  table   │   Ack, Response, StrayResponse,
//!   send failed ──► handle_send_error ───┤ (shards) ├─► Timeout, TransportError, Terminated
//!   conn. failed ─► handle_transport_error┘          │
//!   TU: send_request / send_response / cancel ──────►└─► poll_transmit: bytes + Target ─► socket
//!                                 next_deadline ─► sleep until, then handle_timeout
//! ```
//!
//! - The four machines: [INVITE client](client_invite), [non-INVITE
//!   client](client_non_invite), [INVITE server](server_invite), [non-INVITE
//!   server](server_non_invite), with RFC 6026's Accepted state on both INVITE sides
//!   (Timers L and M): 2xx retransmissions and forked 2xx go to the TU, the ACK for a 2xx
//!   is never absorbed by the server.
//! - Timers A–M from T1, T2, T4 in [`Config`] (500 ms, 4 s, 5 s). Over reliable transports
//!   no retransmission timers and zero waits for D, I, J and K.
//! - The INVITE client builds the ACK for a non-2xx final response itself;
//!   [`TransactionLayer::cancel`] builds the CANCEL (§9.1) and holds it until a
//!   provisional response has arrived.
//! - Transport errors end a transaction at once, reported as
//!   [`Event::TransportError`] (act as on 503); Timers B and F as [`Event::Timeout`]
//!   (408).
//! - Matching (§17.1.3, §17.2.3, §9.2, the RFC 2543 fallback, merged requests §8.2.2.2):
//!   see the `key` module notes; the key is read once per message from its spans.
//! - The table is sharded by the hash of Call-ID and CSeq number, one
//!   `parking_lot::Mutex` per shard, each with its own timer wheel (O(1) arm and
//!   cancel). The number of live transactions is bounded
//!   ([`Config::max_transactions`]); beyond it new server transactions are refused with
//!   [`TransactionError::Overloaded`] so the caller answers 503 statelessly
//!   ([`stateless`]).
//! - A transaction holds its request and its last response (or ACK) as refcounted
//!   [`Bytes`](bytes::Bytes) shared with the transport, never copied.
//!
//! # Memory per transaction
//!
//! State beyond the message bytes held: one slab slot (the transaction struct), one
//! bucket head and two timer-wheel entries. [`TransactionLayer::memory_usage`] reports
//! it; `cargo bench -p sipcore-benches --bench transaction` measures it with 100k live
//! transactions. On x86-64: 192-byte slot + 4-byte bucket head + 2 × 24-byte timers =
//! 244 bytes (target: at most 512); measured with 200k live transactions, slab and
//! bucket slack and the wheels' slot arrays included: 321 bytes per transaction.
//!
//! # What it does not do
//!
//! It does not choose targets (RFC 3263), keep dialogs, forward (a proxy's TU splices
//! and sends through [`TransactionLayer::send_request`]), or retransmit the 2xx of a
//! UAS core (§13.3.1.4: the TU's job; the layer passes each 2xx it is given).
//! Responses are sent as the TU built them; the layer does not check they fit the
//! request.

mod build;
mod cancel;
pub mod client_invite;
pub mod client_non_invite;
mod config;
mod error;
mod incoming;
mod key;
mod layer;
mod output;
mod rng;
pub mod server_invite;
pub mod server_non_invite;
mod shard;
pub mod stateless;
mod timer_wheel;
mod txn;

pub use config::Config;
pub use error::{TransactionError, TransportFailure};
pub use layer::{MemoryUsage, TransactionLayer};
pub use output::{Event, Outputs, Timer, TransactionId, Transmit};
pub use rng::Token;

/// "No index" in the intrusive lists of the table and the wheel.
pub(crate) const NIL: u32 = u32::MAX;

#[cfg(test)]
mod tests {
    #[test]
    fn state_size() {
        let per = super::shard::state_bytes_per_transaction();
        println!(
            "transaction struct {} B, slab slot {} B, timer entry {} B, per transaction {} B",
            super::txn::TXN_BYTES,
            super::shard::Shard::SLOT_BYTES,
            super::timer_wheel::Wheel::ENTRY_BYTES,
            per
        );
        assert!(per <= 512);
    }
}
