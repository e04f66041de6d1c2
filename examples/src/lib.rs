//! # sipcore-examples: `sipcore-proxy`
//!
//! A stateful SIP proxy, registrar and Class-4 router built only on the public API of
//! `sipcore`: the proof that the library carries real calls. It stays thin (the library
//! parses, matches transactions, retransmits, times out and splices) but is complete
//! enough for a small operator:
//!
//! - RFC 3261 §16 stateful proxying: Max-Forwards, loop detection by Via branch,
//!   Record-Route (double when the transport changes), loose and strict routing, best
//!   final response, CANCEL, ACK for 2xx, Timer C, 503 at once on transport failure;
//! - a registrar with a pluggable location store, digest authentication (MD5, SHA-256);
//! - Class-4 prefix routes with serial failover and a gateway blacklist, an IP ACL;
//! - asynchronous CDRs in a JSON-lines journal, Prometheus metrics.
//!
//! ```text
//! bin/sipcore-proxy ─ cli ─ config ─ server::start ─┬─ Endpoint (sipcore) ── UDP pool
//!                                                   └─ Proxy: Handler
//!        proxy ─ target (Route, loop hash) ─ forward (edits) ─ calls (§16.7 state)
//!              ─ registrar/location ─ auth ─ routes (Class-4) ─ acl ─ cdr ─ metrics
//! ```
//!
//! Run it: `cargo run --release -p sipcore-examples --bin sipcore-proxy` (UDP and TCP
//! on 127.0.0.1:5060, registrar on, everything else 404), or with `--next-hop
//! 127.0.0.1:5070` as the bench scripts do.

// An application, not the sans-IO core: it reads the clock.
#![allow(clippy::disallowed_methods)]

pub mod acl;
pub mod auth;
pub mod calls;
pub mod cdr;
pub mod cli;
pub mod config;
pub mod forward;
pub mod local;
pub mod location;
pub mod metrics;
pub mod proxy;
pub mod registrar;
pub mod routes;
pub mod server;
pub mod target;
