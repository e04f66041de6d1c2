//! # sipcore-tls
//!
//! SIP over TLS for [`sipcore`]: [rustls] 0.23 (with the `ring` provider) on
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
//!   for [`TlsTransport::send_to`]; CRLF keep-alives run inside TLS. A send never takes a
//!   connection whose certificate was not checked for its destination: by name, only the
//!   connection opened for that name; by address, one accepted from that very address,
//!   one opened by address, or an RFC 5923 alias, which is honoured (with
//!   `TcpConfig::use_alias` on; off by default) only when the client's certificate was
//!   verified against the client CA bundle and names the claimed IP address.
//!
//! ## What it is not
//!
//! No DNS (the application resolves a `sips:` host to an address and passes the host as
//! the server name), no system trust store (give a CA bundle), no OCSP or CRLs, no
//! session resumption tuning (rustls defaults: in-memory caches). Unix only, like
//! `sipcore-tcp`.
//!
//! Limits worth knowing: the blacklist is by address, so a handshake that fails for one
//! server name keeps every name at that address off for `blacklist_ttl`; a response
//! goes back on the connection its request came on, whichever name it was opened for,
//! while a request sent by address only
//! ([`Transport::send`](sipcore::transport::Transport::send)) opens its own connection
//! by address rather than reuse one opened for a server name at the same address.
//!
//! With the endpoint, register it like the TCP transport: start it with the builder's
//! `sink()` and `transport_events()`, then `stream_transport(Arc::new(tls.clone()))`;
//! a handshake failure or timeout then fails the waiting client transactions with a
//! transport error (a 503) at once (`tests/endpoint_503.rs`).
//!
//! ## Figures
//!
//! Measured with the `tls_bench` example (release build, loopback, ECDSA P-256
//! certificate, X25519, TLS 1.3, 2 workers; clients in a child process on the same
//! 2-core machine, which other jobs were also using, so rates vary by ±30 % between runs;
//! CPU per operation is steadier):
//!
//! | what | figure |
//! |---|---|
//! | server CPU per TLS connection (accept, full handshake, one request/response, close) | 255–285 µs, of which 185–205 µs more than the same over plain TCP (65–80 µs) |
//! | the same with a resumed session | 215–250 µs (145–180 µs over TCP) |
//! | rustls alone, in memory: server side of a full handshake | 115–145 µs |
//! | full handshakes per second, client and server sharing the 2 cores | 1,300–2,650/s (resumed 1,800–3,800/s) |
//! | memory per idle TLS connection (10,000 held; RSS and PSS) | 8.3 KB |
//! | request/response pairs per second over one connection (64 in flight) | 70,000–138,000/s, 5.5–6.6 µs server CPU per pair |
//! | the same spread over 10,000 connections | 42,000–83,000/s, 11–12.7 µs server CPU per pair |
//!
//! Of the 8.3 KB per idle connection, 4 KiB is the receive buffer rustls keeps for every
//! connection (it shrinks to 4 KiB, never to nothing), 1.2 KB the rustls connection
//! itself, the rest its record keys and the manager's own 0.45 KB (see `sipcore-tcp`).
//! Kamailio's TLS module with OpenSSL holds tens of KB per connection (OpenSSL's read and
//! write buffers alone are about 17 KB each).
//!
//! ```text
//! cargo run --release -p sipcore-tls --example tls_bench -- 10000 --secs 5
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
