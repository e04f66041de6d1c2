//! The header index of a message: one [`Header`] entry per header line, spans into the
//! buffer, inline up to [`INLINE_HEADERS`] entries.

use std::ops::Deref;

use super::{HeaderId, Span};

/// One header line: which header it is, and the spans of its name, of its value
/// (trimmed of surrounding white space; a folded value has its folds blanked) and of
/// the whole line.
///
/// 20 bytes: the line and the name start at the same offset, so one start and three
/// ends are kept (the index of a message is copied on every parse; 28-byte entries made
/// the copies and the pushes a quarter of the parse time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Well-known id, or [`HeaderId::Other`].
    pub id: HeaderId,
    name_len: u16,
    start: u32,
    value_start: u32,
    value_end: u32,
    line_end: u32,
}

impl Header {
    /// A placeholder for the unused inline entries of a [`HeaderIndex`] (never read;
    /// all zero bytes, so a new index is a plain memset).
    pub(crate) const EMPTY: Header = Header {
        id: HeaderId::Via,
        name_len: 0,
        start: 0,
        value_start: 0,
        value_end: 0,
        line_end: 0,
    };

    /// A header line starting at `start` (its name), with `name_len` bytes of name (at
    /// most 65535: the parser refuses longer names), the value `value` and the line
    /// (CRLF included) ending at `line_end`.
    pub(crate) fn new(
        id: HeaderId,
        start: usize,
        name_len: u16,
        value: Span,
        line_end: usize,
    ) -> Header {
        Header {
            id,
            name_len,
            start: start as u32,
            value_start: value.start,
            value_end: value.end,
            line_end: line_end as u32,
        }
    }

    /// The name as it appeared.
    #[inline]
    pub fn name(&self) -> Span {
        Span {
            start: self.start,
            end: self.start + u32::from(self.name_len),
        }
    }

    /// The value.
    #[inline]
    pub fn value(&self) -> Span {
        Span {
            start: self.value_start,
            end: self.value_end,
        }
    }

    /// The whole line including its CRLF (for edits that remove or replace it).
    #[inline]
    pub fn line(&self) -> Span {
        Span {
            start: self.start,
            end: self.line_end,
        }
    }

    /// Extends the value and the line over a folded continuation line.
    pub(crate) fn set_value(&mut self, value: Span) {
        self.value_start = value.start;
        self.value_end = value.end;
    }

    /// Moves the end of the line (a continuation line belongs to it).
    pub(crate) fn set_line_end(&mut self, end: usize) {
        self.line_end = end as u32;
    }
}

/// Headers kept inline before spilling to the heap: a typical INVITE has 10-15.
pub(crate) const INLINE_HEADERS: usize = 20;

/// The header index of a message: up to [`INLINE_HEADERS`] entries inline, then on the
/// heap. Unlike a `SmallVec` its inline part is always initialised (a new index is a
/// memset): the compiler moved an uninitialised inline buffer with a `memcpy` instead
/// of building the message in place.
#[derive(Clone)]
pub(crate) struct HeaderIndex {
    len: usize,
    inline: [Header; INLINE_HEADERS],
    spilled: Vec<Header>,
}

impl HeaderIndex {
    /// An empty index.
    #[inline]
    pub(crate) fn new() -> Self {
        HeaderIndex {
            len: 0,
            inline: [Header::EMPTY; INLINE_HEADERS],
            spilled: Vec::new(),
        }
    }

    /// Appends an entry.
    #[inline]
    pub(crate) fn push(&mut self, h: Header) {
        if let Some(slot) = self.inline.get_mut(self.len) {
            *slot = h;
        } else {
            if self.spilled.is_empty() {
                self.spilled.reserve(2 * INLINE_HEADERS);
                self.spilled.extend_from_slice(&self.inline);
            }
            self.spilled.push(h);
        }
        self.len += 1;
    }

    /// The entries.
    #[inline]
    pub(crate) fn as_slice(&self) -> &[Header] {
        self.inline.get(..self.len).unwrap_or(&self.spilled)
    }

    /// The entries, mutable.
    #[inline]
    pub(crate) fn as_mut_slice(&mut self) -> &mut [Header] {
        match self.inline.get_mut(..self.len) {
            Some(s) => s,
            None => &mut self.spilled,
        }
    }
}

impl Deref for HeaderIndex {
    type Target = [Header];
    #[inline]
    fn deref(&self) -> &[Header] {
        self.as_slice()
    }
}

impl std::ops::DerefMut for HeaderIndex {
    #[inline]
    fn deref_mut(&mut self) -> &mut [Header] {
        self.as_mut_slice()
    }
}

impl std::fmt::Debug for HeaderIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}
