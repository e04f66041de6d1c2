//! # sipcore
//!
//! An embeddable SIP stack core for proxies, SBCs, PBXs and test tools, built for a
//! proxy's hot path: one received buffer, spans into it, typed views on demand, and
//! forwarding by splicing edits into the original bytes.
//!
//! ## What it is
//!
//! - [`message`]: the message model over one refcounted [`bytes::Bytes`]: start line,
//!   header index with well-known ids (compact forms included), lazily parsed typed
//!   views (Via, CSeq, From/To/Contact, ...), builders.
//! - [`uri`]: SIP/SIPS/TEL URIs with RFC 3261 §19.1.4 equality.
//! - [`parse`]: the datagram parser, the stream framer for TCP/TLS, the error type.
//! - [`edit`]: forwarding by splicing: a received message plus a few edits (Via,
//!   Record-Route, Route, Max-Forwards, Request-URI, headers, body) in one output buffer.
//! - [`transaction`]: the sans-IO RFC 3261 §17 / RFC 6026 transaction layer: sharded
//!   table, timer wheel, inputs with `now`, transmits and events out.
//! - [`transport`]: transport addressing ([`transport::Target`]) shared by the layers.
//! - [`runtime`]: the panic policy of the threaded runtime: a panicking handler loses
//!   one message (caught and counted), a panic in a runtime thread aborts the process.
//!
//! Dependencies point down: a private syntax layer (spans, the header index, header
//! ids, methods, the lexer, [`parse::ParseError`]) at the bottom, then [`uri`], then
//! [`message`], then [`parse`] (which builds messages), then the layers above.
//!
//! ## What it is not
//!
//! It does not open sockets in the parsing and message layers, does not allocate per
//! parse for typical messages, and does not re-serialise messages it forwards.
//!
//! ## Quick start
//!
//! ```
//! use bytes::Bytes;
//! use sipcore::message::{Message, Method};
//!
//! let datagram = Bytes::from_static(
//!     b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
//!       Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK74bf9\r\n\
//!       Max-Forwards: 70\r\n\
//!       From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n\
//!       To: Bob <sip:bob@biloxi.example.com>\r\n\
//!       Call-ID: 3848276298220188511@atlanta.example.com\r\n\
//!       CSeq: 1 INVITE\r\n\
//!       Content-Length: 0\r\n\r\n",
//! );
//! let msg = Message::parse(datagram)?;
//! let req = msg.as_request().expect("a request");
//! assert_eq!(req.method(), Method::Invite);
//! let via = msg.top_via()?;
//! assert_eq!(via.branch(), Some("z9hG4bK74bf9"));
//! assert_eq!(msg.cseq()?.seq, 1);
//! assert_eq!(msg.from_()?.tag(), Some("9fxced76sl"));
//! assert_eq!(msg.max_forwards()?, Some(70));
//! # Ok::<(), sipcore::parse::ParseError>(())
//! ```

pub mod client;
pub mod dialog;
pub mod dns;
pub mod edit;
pub mod endpoint;
pub mod message;
#[cfg(test)]
mod mutate;
pub mod parse;
pub mod pool;
pub mod runtime;
mod syntax;
pub mod transaction;
pub mod transport;
pub mod uri;
