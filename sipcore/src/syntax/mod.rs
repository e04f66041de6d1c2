//! The bottom of the message stack: what the parser, the URI grammar and the message
//! model all speak.
//!
//! - [`Span`]: a byte range into a message buffer;
//! - [`Header`] and the header index: one entry per header line, spans into the buffer;
//! - [`HeaderId`]: well-known header names, their compact forms, and the fast name
//!   recognition of the parser ([`names`]);
//! - [`Method`]: request methods;
//! - [`ParseError`]: the error every grammar piece reports;
//! - [`lex`]: the lexical building blocks of the RFC 3261 §25 grammar (nom parsers).
//!
//! Nothing here knows a message, a URI or a transport: [`crate::uri`] and
//! [`crate::message`] build on it, and [`crate::parse`] builds messages from it. The
//! public items are re-exported where users find them ([`crate::message::Span`],
//! [`crate::message::Method`], [`crate::message::HeaderId`], [`crate::parse::ParseError`]).

mod error;
mod header_name;
mod index;
pub(crate) mod lex;
mod method;
pub(crate) mod names;

use std::ops::Range;

pub use error::{ParseError, ParseErrorKind, ParseResult};
pub use header_name::HeaderId;
pub use index::Header;
pub(crate) use index::HeaderIndex;
pub use method::Method;

/// A byte range `[start, end)` into a message buffer. `u32` keeps the header index small;
/// messages are limited to 4 GiB by construction (UDP: 64 KiB; streams: the framer limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// First byte.
    pub start: u32,
    /// One past the last byte.
    pub end: u32,
}

impl Span {
    /// A span from `usize` offsets (callers guarantee they fit in `u32`).
    #[inline]
    pub(crate) fn new(start: usize, end: usize) -> Span {
        Span {
            start: start as u32,
            end: end as u32,
        }
    }

    /// The span as a `usize` range.
    #[inline]
    pub fn range(self) -> Range<usize> {
        self.start as usize..self.end as usize
    }

    /// Length in bytes.
    #[inline]
    pub fn len(self) -> usize {
        (self.end - self.start) as usize
    }

    /// Whether the span is empty.
    #[inline]
    pub fn is_empty(self) -> bool {
        self.end == self.start
    }
}
