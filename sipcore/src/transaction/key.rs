//! Transaction keys: what a message is matched by, read once per message from its spans
//! without allocating, and the matching rules of RFC 3261 §17.1.3, §17.2.3 and §9.2.
//!
//! Every message is first hashed by Call-ID and CSeq number ([`bucket_hash`]): the
//! request, its retransmissions, the ACK of a non-2xx, the CANCEL, every response, and
//! any request merged with it (§8.2.2.2) share both. The hash picks the shard and the
//! bucket; the rules below then compare along that bucket's short chain. This departs
//! from hashing the branch (the RFC 3261 key) on purpose: one lookup serves plain
//! matching, CANCEL-to-INVITE matching, the RFC 2543 fallback and merged-request
//! detection, and all transactions of one call share a shard lock. The one loss: a
//! request whose branch matches but whose Call-ID differs is not matched, which only a
//! broken peer sends.

use crate::message::{HeaderId, Method, Request, Response, Span, Via, MAGIC_COOKIE};
use crate::parse::ParseError;

use super::rng::bucket_hash;
use super::txn::{method_code, Kind, StoredKey, Txn, ACK, CANCEL, F_LEGACY, INVITE};

/// The matching data of one received (or to-be-sent) message, borrowed from it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MsgKey<'a> {
    pub hash: u64,
    pub seq: u32,
    pub call_id: &'a [u8],
    /// Request: the request-line method. Response: the CSeq method.
    pub method: Method<'a>,
    /// The top Via branch when it carries the magic cookie.
    pub branch: Option<&'a str>,
    pub via: Via<'a>,
    /// The whole top Via value.
    pub via_value: &'a [u8],
    pub ruri: &'a [u8],
    pub from_tag: Option<&'a str>,
    pub to_tag: Option<&'a str>,
}

fn top_via<'a>(m: &'a crate::message::MessageBuf) -> Result<(&'a [u8], Via<'a>), ParseError> {
    let (off, value) = m
        .values(HeaderId::Via)
        .next()
        .ok_or(ParseError::malformed(m.headers_end(), "Via header"))?;
    let via = Via::parse(value).map_err(|e| e.shifted(off))?;
    Ok((value, via))
}

fn call_id(m: &crate::message::MessageBuf) -> Result<&[u8], ParseError> {
    match m.header(HeaderId::CallId) {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(ParseError::malformed(m.headers_end(), "Call-ID header")),
    }
}

impl<'a> MsgKey<'a> {
    /// The key of a request: top Via, CSeq, Call-ID, Request-URI (tags: see
    /// [`with_tags`](Self::with_tags)).
    pub fn request(req: &'a Request, seed: u64) -> Result<MsgKey<'a>, ParseError> {
        let (via_value, via) = top_via(req)?;
        let cseq = req.cseq()?;
        let method = req.method();
        if cseq.method != method {
            let at = req
                .header_entry(HeaderId::CSeq)
                .map_or(0, |h| h.value().start as usize);
            return Err(ParseError::malformed(
                at,
                "CSeq method equal to the request method",
            ));
        }
        let call_id = call_id(req)?;
        Ok(MsgKey {
            hash: bucket_hash(seed, call_id, cseq.seq),
            seq: cseq.seq,
            call_id,
            method,
            branch: via.branch().filter(|b| b.starts_with(MAGIC_COOKIE)),
            via,
            via_value,
            ruri: req.uri_bytes(),
            from_tag: None,
            to_tag: None,
        })
    }

    /// Reads the From and To tags too. Matching an RFC 3261 request needs neither, so a
    /// retransmission or an ACK skips them; new transactions, merged-request detection
    /// and the RFC 2543 rules need both.
    pub fn with_tags(mut self, req: &'a Request) -> Result<MsgKey<'a>, ParseError> {
        self.from_tag = req.from_()?.tag();
        self.to_tag = req.to()?.tag();
        Ok(self)
    }

    /// The key of a response: top Via branch, CSeq, Call-ID.
    pub fn response(resp: &'a Response, seed: u64) -> Result<MsgKey<'a>, ParseError> {
        let (via_value, via) = top_via(resp)?;
        let cseq = resp.cseq()?;
        let call_id = call_id(resp)?;
        Ok(MsgKey {
            hash: bucket_hash(seed, call_id, cseq.seq),
            seq: cseq.seq,
            call_id,
            method: cseq.method,
            branch: via.branch().filter(|b| b.starts_with(MAGIC_COOKIE)),
            via,
            via_value,
            ruri: &[],
            from_tag: None,
            to_tag: None,
        })
    }

    /// The spans to keep, relative to `base` (the request the key was read from).
    pub fn store(&self, base: &[u8]) -> (StoredKey, bool) {
        let sp = |part: &[u8]| span_in(base, part);
        let tag = |t: Option<&str>| t.map_or(Span::default(), |t| sp(t.as_bytes()));
        let legacy = self.branch.is_none();
        let (a, b) = match self.branch {
            Some(branch) => (sp(branch.as_bytes()), sp(self.via.host.as_bytes())),
            None => (sp(self.via_value), sp(self.ruri)),
        };
        let key = StoredKey {
            hash: self.hash,
            seq: self.seq,
            port: self.via.port.unwrap_or(0),
            a,
            b,
            to_tag: tag(self.to_tag),
            from_tag: tag(self.from_tag),
            call_id: sp(self.call_id),
        };
        (key, legacy)
    }
}

/// The span of `part` inside `base` (`part` must borrow from `base`; otherwise empty).
fn span_in(base: &[u8], part: &[u8]) -> Span {
    let start = (part.as_ptr() as usize).wrapping_sub(base.as_ptr() as usize);
    match start.checked_add(part.len()) {
        Some(end) if end <= base.len() => Span::new(start, end),
        _ => Span::default(),
    }
}

#[inline]
fn tag_eq(t: &Txn, span: Span, tag: Option<&str>) -> bool {
    t.slice(span) == tag.unwrap_or("").as_bytes()
}

/// §17.1.3: a response matches a client transaction by top Via branch and CSeq method.
pub(crate) fn client_matches(t: &Txn, k: &MsgKey<'_>) -> bool {
    !t.kind.is_server()
        && t.key.hash == k.hash
        && k.branch.is_some_and(|b| t.slice(t.key.a) == b.as_bytes())
        && t.method_is(k.method)
}

/// §17.2.3: a request matches a server transaction. With the magic cookie: branch,
/// sent-by and method (ACK matches INVITE). Without: the RFC 2543 rules, where an ACK's
/// To tag is compared with the To tag of the response the transaction sent.
pub(crate) fn server_matches(t: &Txn, k: &MsgKey<'_>) -> bool {
    if !t.kind.is_server() || t.key.hash != k.hash {
        return false;
    }
    let is_ack = k.method == Method::Ack;
    let method_ok = if is_ack {
        t.kind == Kind::Ist
    } else {
        t.method_is(k.method)
    };
    if !method_ok {
        return false;
    }
    match k.branch {
        Some(branch) => {
            !t.has(F_LEGACY)
                && t.slice(t.key.a) == branch.as_bytes()
                && t.slice(t.key.b).eq_ignore_ascii_case(k.via.host.as_bytes())
                && t.key.port == k.via.port.unwrap_or(0)
        }
        None => {
            t.has(F_LEGACY)
                && t.key.seq == k.seq
                && t.slice(t.key.call_id) == k.call_id
                && t.slice(t.key.b) == k.ruri
                && t.slice(t.key.a) == k.via_value
                && tag_eq(t, t.key.from_tag, k.from_tag)
                && if is_ack {
                    legacy_response_to_tag_is(t, k.to_tag.unwrap_or(""))
                } else {
                    tag_eq(t, t.key.to_tag, k.to_tag)
                }
        }
    }
}

/// Whether the To tag of the response an RFC 2543 server transaction sent is `tag`
/// (parsed on demand: this path serves only peers from before 2002).
fn legacy_response_to_tag_is(t: &Txn, tag: &str) -> bool {
    let Some(last) = t.last.clone() else {
        return false;
    };
    crate::message::Message::parse(last)
        .ok()
        .and_then(|m| m.to().ok().map(|to| to.tag().unwrap_or("") == tag))
        .unwrap_or(false)
}

/// §9.2: the INVITE server transaction a CANCEL (key `k`) cancels: the matching rules
/// with INVITE for the method.
pub(crate) fn cancels(t: &Txn, k: &MsgKey<'_>) -> bool {
    let as_invite = MsgKey {
        method: Method::Invite,
        ..*k
    };
    t.kind == Kind::Ist && server_matches(t, &as_invite)
}

/// §8.2.2.2: a request without To tag whose From tag, Call-ID and CSeq equal those of a
/// live server transaction it did not match.
pub(crate) fn merged_with(t: &Txn, k: &MsgKey<'_>) -> bool {
    k.to_tag.is_none()
        && t.kind.is_server()
        && t.key.hash == k.hash
        && t.key.seq == k.seq
        && t.method_is(k.method)
        && t.slice(t.key.call_id) == k.call_id
        && tag_eq(t, t.key.from_tag, k.from_tag)
}

/// The method code for the kind of transaction a request creates, and whether the
/// method may create one at all (ACK never does).
pub(crate) fn creates(k: &MsgKey<'_>) -> Option<(Kind, u8)> {
    match method_code(k.method) {
        ACK => None,
        INVITE => Some((Kind::Ist, INVITE)),
        CANCEL => Some((Kind::Nist, CANCEL)),
        code => Some((Kind::Nist, code)),
    }
}
