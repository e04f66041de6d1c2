//! The forwarding operations of [`Edits`]: each finds its spans through the header index
//! and records one or a few edits.

use smallvec::SmallVec;

use super::{EditError, Edits, Kind, Piece};
use crate::message::{is_clean, is_header_name, parse_decimal, Header, HeaderId, Span, ViaValue};
use crate::syntax::lex::CommaSplit;

/// Which header lines an operation applies to.
#[derive(Debug, Clone, Copy)]
enum Sel<'n> {
    Id(HeaderId),
    /// A header without a well-known id, by name (case-insensitive).
    Name(&'n [u8]),
}

impl<'n> Sel<'n> {
    fn named(name: &'n [u8]) -> Self {
        match HeaderId::from_name(name) {
            HeaderId::Other => Sel::Name(name),
            id => Sel::Id(id),
        }
    }
}

/// Max-Forwards added when a request has none (RFC 3261 §16.6 step 3).
pub const DEFAULT_MAX_FORWARDS: u8 = 70;

impl<'a> Edits<'a> {
    fn lines<'s>(&'s self, sel: Sel<'s>) -> impl Iterator<Item = &'a Header> + 's {
        let msg = self.msg;
        msg.headers().iter().filter(move |h| match sel {
            Sel::Id(id) => h.id == id,
            Sel::Name(name) => {
                h.id == HeaderId::Other && msg.slice(h.name()).eq_ignore_ascii_case(name)
            }
        })
    }

    /// Offset of the first header line (the end of the headers when there is none).
    fn first_header_start(&self) -> usize {
        self.msg
            .headers()
            .first()
            .map_or(self.msg.headers_end(), |h| h.line().start as usize)
    }

    /// Adds a Via line above the top Via (at the top of the headers when there is none),
    /// as a proxy does before forwarding a request (RFC 3261 §16.6 step 8).
    ///
    /// Several calls add their Vias in call order: the first call's ends up on top.
    pub fn prepend_via(&mut self, via: impl Into<ViaValue<'a>>) -> Result<&mut Self, EditError> {
        let via = via.into();
        if !via.is_valid() {
            return Err(EditError::Invalid("Via value"));
        }
        let at = self
            .lines(Sel::Id(HeaderId::Via))
            .next()
            .map_or(self.first_header_start(), |h| h.line().start as usize);
        self.push(Span::new(at, at), Piece::Via(via));
        Ok(self)
    }

    /// Removes the top Via value, as a proxy does with its own Via before relaying a
    /// response (RFC 3261 §16.7 step 3). When the top Via line holds several values, only
    /// the first value and its comma go; otherwise the whole line.
    ///
    /// Calling it again removes the next value. [`EditError::Missing`] when no value is
    /// left.
    pub fn remove_top_via(&mut self) -> Result<&mut Self, EditError> {
        let n = self.removed_vias + 1;
        self.remove_first_values(HeaderId::Via, n, Kind::TopVia)?;
        self.removed_vias = n;
        Ok(self)
    }

    /// Removes the top Route value, as a loose-routing proxy does when it is that value
    /// (RFC 3261 §16.4), with the same care for comma lists as
    /// [`remove_top_via`](Self::remove_top_via). Calling it again removes the next value.
    pub fn remove_top_route(&mut self) -> Result<&mut Self, EditError> {
        let n = self.removed_routes + 1;
        self.remove_first_values(HeaderId::Route, n, Kind::TopRoute)?;
        self.removed_routes = n;
        Ok(self)
    }

    /// Replaces the edits of `kind` by those that remove the first `n` values of `id`.
    fn remove_first_values(&mut self, id: HeaderId, n: usize, kind: Kind) -> Result<(), EditError> {
        let mut spans: SmallVec<[Span; 4]> = SmallVec::new();
        let mut left = n;
        for h in self.lines(Sel::Id(id)) {
            if left == 0 {
                break;
            }
            let value = self.msg.slice(h.value());
            let values = || CommaSplit::new(value).filter(|(s, e)| e > s);
            let count = values().count();
            if count == 0 {
                continue;
            }
            if left >= count {
                spans.push(h.line());
                left -= count;
            } else {
                // Up to the start of the first value kept: the removed ones and their commas.
                let keep = values().nth(left).map_or(0, |(s, _)| s);
                let start = h.value().start as usize;
                spans.push(Span::new(start, start + keep));
                left = 0;
            }
        }
        if left > 0 {
            return Err(EditError::Missing(id));
        }
        self.list.retain(|e| e.kind != kind);
        for span in spans {
            self.push_kind(span, Piece::Nothing, kind);
        }
        Ok(())
    }

    /// Replaces the Request-URI (RFC 3261 §16.5/§16.6 step 2).
    ///
    /// The URI must be a single token of visible characters with a scheme; it is not
    /// parsed further.
    pub fn set_request_uri(
        &mut self,
        uri: &'a (impl AsRef<[u8]> + ?Sized),
    ) -> Result<&mut Self, EditError> {
        let uri = uri.as_ref();
        let span = self.uri.ok_or(EditError::NotARequest)?;
        let visible = uri.iter().all(|&b| b > b' ' && b != 0x7f);
        let scheme = uri.first().is_some_and(u8::is_ascii_alphabetic) && uri.contains(&b':');
        if !visible || !scheme || uri.first() == Some(&b'<') {
            return Err(EditError::Invalid("Request-URI"));
        }
        self.push(span, Piece::Raw(uri));
        Ok(self)
    }

    /// Adds a Record-Route value on top of the Record-Route list (RFC 3261 §16.6 step 4):
    /// as a new line just before the first Record-Route line; when there is none, just
    /// after the last Via line (the top of the headers without a Via).
    ///
    /// Only the order of Record-Route values among themselves matters (§7.3.1), so the
    /// first position is all the RFC asks for. Without a Record-Route, the line goes
    /// next to the Vias so the routing headers a proxy reads stay together at the front
    /// of the message, where a scan for them ends early.
    pub fn insert_record_route(
        &mut self,
        value: &'a (impl AsRef<[u8]> + ?Sized),
    ) -> Result<&mut Self, EditError> {
        let value = value.as_ref();
        if value.is_empty() || !is_clean(value) {
            return Err(EditError::Invalid("Record-Route value"));
        }
        let at = match self.lines(Sel::Id(HeaderId::RecordRoute)).next() {
            Some(rr) => rr.line().start as usize,
            None => self
                .lines(Sel::Id(HeaderId::Via))
                .last()
                .map_or(self.first_header_start(), |h| h.line().end as usize),
        };
        self.push(Span::new(at, at), Piece::Header(b"Record-Route", value));
        Ok(self)
    }

    /// Decrements Max-Forwards, or adds `Max-Forwards: 70` when absent (RFC 3261 §16.6
    /// step 3). [`EditError::TooManyHops`] when it is 0 (the proxy answers 483 instead,
    /// §16.3), [`EditError::Malformed`] when it does not parse.
    pub fn decrement_max_forwards(&mut self) -> Result<&mut Self, EditError> {
        self.decrement_max_forwards_to(u8::MAX)
    }

    /// [`decrement_max_forwards`](Self::decrement_max_forwards), and at most `cap`
    /// afterwards: a proxy that lowers a large Max-Forwards to 70 (RFC 3261 §16.6 step
    /// 3 recommends 70) keeps a request from travelling, and looping, longer.
    pub fn decrement_max_forwards_to(&mut self, cap: u8) -> Result<&mut Self, EditError> {
        let Some(h) = self.lines(Sel::Id(HeaderId::MaxForwards)).next() else {
            return self.set_max_forwards(DEFAULT_MAX_FORWARDS.min(cap));
        };
        let hops = parse_decimal(self.msg.slice(h.value()), 255)
            .map_err(|e| EditError::Malformed(e.shifted(h.value().start as usize)))?;
        if hops == 0 {
            return Err(EditError::TooManyHops);
        }
        self.push(
            h.value(),
            Piece::Number((hops as u32 - 1).min(u32::from(cap))),
        );
        Ok(self)
    }

    /// Sets Max-Forwards to `hops` (replacing the first value, adding it when absent).
    pub fn set_max_forwards(&mut self, hops: u8) -> Result<&mut Self, EditError> {
        self.set_value(
            Sel::Id(HeaderId::MaxForwards),
            Piece::Number(u32::from(hops)),
            Piece::NumberHeader(b"Max-Forwards", u32::from(hops)),
            Kind::Plain,
        );
        Ok(self)
    }

    /// Adds a header line after the last one.
    pub fn add_header(
        &mut self,
        name: &'a (impl AsRef<[u8]> + ?Sized),
        value: &'a (impl AsRef<[u8]> + ?Sized),
    ) -> Result<&mut Self, EditError> {
        let (name, value) = (name.as_ref(), value.as_ref());
        check_header(name, value)?;
        let at = self.msg.headers_end();
        self.push(Span::new(at, at), Piece::Header(name, value));
        Ok(self)
    }

    /// Removes every line of a well-known header (nothing when it is absent). For other
    /// headers use [`remove_header_named`](Self::remove_header_named).
    pub fn remove_header(&mut self, id: HeaderId) -> Result<&mut Self, EditError> {
        if id == HeaderId::Other {
            return Err(EditError::Invalid("header id: Other (remove by name)"));
        }
        self.remove_lines(Sel::Id(id), Kind::Plain);
        Ok(self)
    }

    /// Removes every line of the header called `name` (case-insensitive; the compact
    /// and long forms of a well-known header are the same header).
    pub fn remove_header_named(&mut self, name: &str) -> Result<&mut Self, EditError> {
        self.remove_lines(Sel::named(name.as_bytes()), Kind::Plain);
        Ok(self)
    }

    fn remove_lines(&mut self, sel: Sel<'_>, kind: Kind) {
        let spans: SmallVec<[Span; 4]> = self.lines(sel).map(|h| h.line()).collect();
        for span in spans {
            self.push_kind(span, Piece::Nothing, kind);
        }
    }

    /// Replaces the value of a well-known header: the first line's value is replaced,
    /// further lines of it are removed; the header is added when absent.
    pub fn replace_header(
        &mut self,
        id: HeaderId,
        value: &'a (impl AsRef<[u8]> + ?Sized),
    ) -> Result<&mut Self, EditError> {
        let value = value.as_ref();
        if id == HeaderId::Other {
            return Err(EditError::Invalid("header id: Other (replace by name)"));
        }
        check_header(id.name().as_bytes(), value)?;
        self.set_value(
            Sel::Id(id),
            Piece::Raw(value),
            Piece::Header(id.name().as_bytes(), value),
            Kind::Plain,
        );
        Ok(self)
    }

    /// [`replace_header`](Self::replace_header) by name.
    pub fn replace_header_named(
        &mut self,
        name: &'a str,
        value: &'a (impl AsRef<[u8]> + ?Sized),
    ) -> Result<&mut Self, EditError> {
        let (name, value) = (name.as_bytes(), value.as_ref());
        check_header(name, value)?;
        self.set_value(
            Sel::named(name),
            Piece::Raw(value),
            Piece::Header(name, value),
            Kind::Plain,
        );
        Ok(self)
    }

    /// The first line of `sel` gets `value`, the others go; `line` is added when absent.
    fn set_value(&mut self, sel: Sel<'_>, value: Piece<'a>, line: Piece<'a>, kind: Kind) {
        let mut found: SmallVec<[&Header; 2]> = SmallVec::new();
        found.extend(self.lines(sel));
        let mut it = found.into_iter();
        match it.next() {
            Some(first) => {
                self.push_kind(first.value(), value, kind);
                for h in it {
                    self.push_kind(h.line(), Piece::Nothing, kind);
                }
            }
            None => {
                let at = self.msg.headers_end();
                self.push_kind(Span::new(at, at), line, kind);
            }
        }
    }

    /// Replaces the body and sets Content-Length to its length (replacing the first
    /// Content-Length value and removing any other, or adding one). A second call
    /// replaces what the first one recorded.
    ///
    /// `content_type`: `Some` replaces or adds Content-Type; `None` keeps the message's,
    /// except that an empty body removes it (an empty body has no type).
    pub fn set_body(
        &mut self,
        content_type: Option<&'a str>,
        body: &'a (impl AsRef<[u8]> + ?Sized),
    ) -> Result<&mut Self, EditError> {
        let body = body.as_ref();
        let len = u32::try_from(body.len()).map_err(|_| EditError::Invalid("body over 4 GiB"))?;
        if let Some(ct) = content_type {
            check_header(b"Content-Type", ct.as_bytes())?;
            if ct.is_empty() {
                return Err(EditError::Invalid("empty Content-Type"));
            }
        }
        // A second call replaces the first (and an ensured Content-Length).
        self.list.retain(|e| e.kind != Kind::Body);
        let old = self.msg.body_span();
        if !old.is_empty() || !body.is_empty() {
            self.push_kind(old, Piece::Raw(body), Kind::Body);
        }
        match content_type {
            Some(ct) => self.set_value(
                Sel::Id(HeaderId::ContentType),
                Piece::Raw(ct.as_bytes()),
                Piece::Header(b"Content-Type", ct.as_bytes()),
                Kind::Body,
            ),
            None if body.is_empty() => {
                self.remove_lines(Sel::Id(HeaderId::ContentType), Kind::Body)
            }
            None => {}
        }
        self.set_value(
            Sel::Id(HeaderId::ContentLength),
            Piece::Number(len),
            Piece::NumberHeader(b"Content-Length", len),
            Kind::Body,
        );
        self.content_length_set = true;
        Ok(self)
    }

    /// Adds `Content-Length` with the body's length when the message has none (a
    /// datagram may omit it; a stream transport needs it, RFC 3261 §18.3).
    pub fn ensure_content_length(&mut self) -> Result<&mut Self, EditError> {
        if !self.content_length_set && self.msg.header_entry(HeaderId::ContentLength).is_none() {
            let at = self.msg.headers_end();
            let len = self.msg.body_span().len() as u32;
            let piece = Piece::NumberHeader(b"Content-Length", len);
            self.push_kind(Span::new(at, at), piece, Kind::Body);
            self.content_length_set = true;
        }
        Ok(self)
    }
}

/// A header line we write must have a token name and a value without control characters.
fn check_header(name: &[u8], value: &[u8]) -> Result<(), EditError> {
    if !is_header_name(name) {
        return Err(EditError::Invalid("header name"));
    }
    if !is_clean(value) {
        return Err(EditError::Invalid("header value (control character)"));
    }
    Ok(())
}
