//! # sipcore-examples: `sipcore-proxy`
//!
//! A stateful SIP proxy, registrar and Class-4 router built only on the public API of
//! `sipcore`: the proof that the library carries real calls. It stays thin (the library
//! parses, matches transactions, retransmits, times out and splices) but is complete
//! enough for a small operator:
//!
//! - RFC 3261 §16 stateful proxying: Max-Forwards, loop detection by Via branch,
//!   Record-Route (double when the transport changes), loose and strict routing, best
//!   final response (a 401/407 carrying the challenges of every forked branch), CANCEL,
//!   ACK for 2xx, Timer C, 503 at once on transport failure;
//! - a registrar with a pluggable location store (in memory, or shared by several nodes
//!   in Redis: [`location_redis`], docs/SCALE-OUT.md), digest authentication (MD5,
//!   SHA-256, nonces that expire, nonce counts checked against replays);
//! - Class-4 prefix routes with serial failover and a gateway blacklist, an IP ACL;
//! - asynchronous CDRs in a JSON-lines journal, Prometheus metrics;
//! - UDP, TCP and TLS (`tls:ADDR` listen addresses with a certificate from `[tls]`;
//!   TLS gateways, `sips:` and `;transport=tls` targets checked against `tls.ca_file`;
//!   a failed handshake is a 503 upstream at once, like a refused connection).
//!
//! ```text
//! bin/sipcore-proxy ─ cli ─ config ─ server::start ─┬─ Endpoint (sipcore) ── UDP pool
//!                                                   └─ Proxy: Handler
//!        proxy ─ target (Route, loop hash) ─ forward (edits) ─ calls (§16.7 state)
//!              ─ registrar/location ─ auth (nonces) ─ routes (Class-4) ─ acl ─ cdr ─ metrics
//!        tcp ([tcp] → sipcore-tcp limits, RLIMIT_NOFILE)
//!        tls ([tls] → sipcore-tls: TCP manager + rustls; TLS stats in metrics)
//! ```
//!
//! Run it: `cargo run --release -p sipcore-examples --bin sipcore-proxy` (UDP and TCP
//! on 127.0.0.1:5060, registrar on, everything else 404), or with `--next-hop
//! 127.0.0.1:5070` as the bench scripts do. For TLS, give a configuration whose `[tls]`
//! names the certificate and key (`config/proxy.toml` documents every key) and listen
//! with `--listen tls:127.0.0.1:5061`.
//!
//! ## Measured
//!
//! Against Kamailio 5.6.3 with the shared bench (`benches/results/README.md`), same
//! 2-vCPU machine, same sitting (sitting 5): CPU per call at 1000 calls/s 0.48x
//! Kamailio's over UDP (111 vs 233 us) and 0.44x over TCP (143 vs 322.5 us); PSS 130 MB
//! (UDP) and 85 MB (TCP) against Kamailio's 2.1 GB of touched shared memory; highest
//! passing rate 8000 against 4000 calls/s over UDP and 11000 against 5000 over TCP. The
//! UDP CPU ratio sits at the bar: a second sitting gave 0.57x (UDP) and 0.49x (TCP).
//! The UDP default pool is reuse-port (`--pool shared` spreads one busy trunk over every
//! worker instead).
//!
//! ## Not done
//!
//! DNS (RFC 3263: targets must be IP addresses, so a TLS next hop's certificate must
//! name its IP address; no SNI name is sent), client certificates (neither asked of TLS
//! clients nor presented to TLS servers), certificate reload without a restart (the
//! transport has [`TlsTransport::reload`](sipcore_tls::TlsTransport::reload); nothing
//! calls it yet), replay protection for digest credentials without `qop` (the counts
//! of `qop=auth` ones are tracked, see [`nonces`]), RFC 3327 Path and RFC 5626 flow
//! tokens for TCP/TLS bindings shared across nodes (docs/SCALE-OUT.md).

// An application, not the sans-IO core: it reads the clock.
#![allow(clippy::disallowed_methods)]

pub mod acl;
pub mod auth;
pub mod b2bua;
pub mod branches;
pub mod calls;
pub mod cdr;
pub mod cli;
pub mod config;
pub mod forward;
pub mod harness;
pub mod local;
pub mod location;
pub mod location_cache;
pub mod location_redis;
mod location_redis_io;
pub mod metrics;
pub mod names;
pub mod nonces;
pub mod policy;
pub mod proxy;
pub mod registrar;
pub mod resolving;
pub mod routes;
pub mod server;
pub mod target;
pub mod tcp;
pub mod tls;
