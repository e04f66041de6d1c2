//! # sipcore-tls
//!
//! SIP over TLS for [`sipcore`]: [rustls](rustls) 0.23 (with the `ring` provider) on
//! every connection of the [`sipcore_tcp`] connection manager, through its stream-layer
//! seam. It implements [`sipcore::transport::Transport`] for `TransportKind::Tls`
//! targets (`sips:` URIs and `transport=tls`), server and client side, TLS 1.2 and 1.3.
//!
//! ## What it is
//!
//! ```text
//!  send_to(addr, name, msg) ─▶ TLS layer: encrypt (under the connection's layer lock)
//!                                  │ records
//!                                  ▼
//!              sipcore-tcp write queue: direct write, else queue; conn_wq_max, wq_max
//!                                  ▲ records made while reading (handshake, alerts,
//!                                  │ tickets, key updates): queued, never waited for
//!  socket ─▶ worker reads until WouldBlock ─▶ TLS layer: read_tls, process_new_packets
//!                                  │ plaintext
//!                                  ▼
//!                     framer ─▶ MessageSink (source: Tls target)
//! ```
//!
//! - **Never blocking**: rustls is used sans-IO; the manager does every read and write
//!   non-blocking. Records rustls produces while reading go into the connection's write
//!   queue like any other bytes; handshakes advance on readiness like any other I/O, on
//!   the worker that owns the connection, never in an accept loop.
//! - **Same model, same limits**: the supervisor/worker threads, the write queues, and
//!   their limits are the TCP manager's; the limits count TLS bytes (records, and
//!   messages that wait for a handshake). One mutex per connection guards its TLS state,
//!   held only to decrypt one read or encrypt one message; no lock is shared between
//!   connections, and the configuration is read once per new connection.
//! - **Failures**: a handshake that fails (untrusted or expired certificate, a plaintext
//!   peer, an alert) or takes longer than [`TlsConfig::handshake_timeout`] closes the
//!   connection, is counted, blacklists the destination and is reported to
//!   [`TransportEvents`](sipcore::transport::TransportEvents) at once with a specific
//!   reason (`"tls: certificate expired"`), so waiting transactions get a 503.
//! - **Certificates**: per-domain certificates chosen by SNI, exact or `*.domain`, with a
//!   default; chains and keys from PEM files or memory. [`TlsTransport::reload`] swaps the
//!   configuration for new connections without dropping open ones.
//! - **Client certificates** (optional or required, against a CA bundle), with the
//!   peer's identity available to the application ([`TlsTransport::peer_identity`],
//!   [`PeerIdentity::is_valid_for`]) for trunk authentication.
//! - **Reuse**: by peer address for responses and requests, by address and server name
//!   for [`TlsTransport::send_to`]; CRLF keep-alives run inside TLS.
//!
//! ## What it is not
//!
//! No DNS (the application resolves a `sips:` host to an address and passes the host as
//! the server name), no system trust store (give a CA bundle), no OCSP or CRLs, no
//! session resumption tuning (rustls defaults: in-memory caches). Unix only, like
//! `sipcore-tcp`.
//!
//! ## Figures
//!
//! Measured with the `tls_bench` example on the 2-core machine this crate was written on
//! (loopback, ECDSA P-256 certificates, release build), see the crate's README section in
//! the example's docs:
//!
//! ```text
//! cargo run --release -p sipcore-tls --example tls_bench
//! ```
//!
//! ## Quick start
//!
//! See [`TlsTransport`] for a server and a client exchanging a message over loopback.

#![forbid(unsafe_code)]

mod certs;
mod config;
mod identity;
mod session;
mod transport;

pub use config::{CertSource, ClientAuth, ClientTls, PemSource, ServerTls, TlsConfig, TlsError};
pub use identity::{PeerIdentity, TlsVersion};
pub use sipcore_tcp::{TcpConfig, TcpStats};
pub use transport::TlsTransport;
