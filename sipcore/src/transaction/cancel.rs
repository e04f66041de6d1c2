//! Cancelling a client INVITE transaction (RFC 3261 §9.1).
//!
//! The CANCEL is built from the INVITE's own lines and runs in its own non-INVITE client
//! transaction, linked to the INVITE's. It is only sent once a provisional response has
//! arrived: before that it waits in `Held` (no timers) and goes out the moment the
//! first provisional response does; if a final response comes first it is dropped, as
//! the INVITE no longer needs cancelling.

use std::sync::atomic::Ordering;

use crate::message::Message;

use super::build;
use super::client_non_invite;
use super::key::MsgKey;
use super::output::TransactionId;
use super::shard::Ctx;
use super::txn::{Kind, Link, State, Txn, CANCEL, F_CANCELLED, F_LEGACY};
use super::TransactionError;

/// Creates (or returns the live) CANCEL transaction for client INVITE transaction
/// `invite`; sends it now if a provisional response has arrived, else holds it. There is
/// one CANCEL per INVITE: once it has ended, cancelling again is refused.
///
/// A CANCEL is created even at the transaction limit: it ends work, never adds any.
pub(crate) fn cancel(ctx: &mut Ctx<'_>, invite: u32) -> Result<TransactionId, TransactionError> {
    let id = ctx.id(invite);
    let t = ctx
        .txn(invite)
        .ok_or(TransactionError::UnknownTransaction(id))?;
    if t.kind != Kind::Ict {
        return Err(TransactionError::InvalidState {
            id,
            what: "be cancelled (not a client INVITE transaction)",
        });
    }
    let proceeding = match t.state {
        State::Calling => false,
        State::Proceeding => true,
        _ => {
            return Err(TransactionError::InvalidState {
                id,
                what: "be cancelled after a final response",
            })
        }
    };
    let target = t.target;
    let request = t.request.clone();
    let cancelled = t.has(F_CANCELLED);
    if let Some(c) = ctx.linked(invite) {
        return Ok(ctx.id(c));
    }
    if cancelled {
        return Err(TransactionError::InvalidState {
            id,
            what: "be cancelled again (its CANCEL transaction has ended)",
        });
    }
    let msg = Message::parse(request)?;
    let invite_req = msg
        .as_request()
        .ok_or(TransactionError::InvalidRequest("not a request"))?;
    let parsed = Message::parse(build::cancel(invite_req)?)?;
    let req = parsed
        .as_request()
        .ok_or(TransactionError::InvalidRequest("not a request"))?;
    let key = MsgKey::request(req, ctx.seed)?.with_tags(req)?;
    let (stored, legacy) = key.store(req.as_bytes());
    let mut txn = Txn::new(Kind::Nict, State::Held, req.bytes(), target, stored, CANCEL);
    if legacy {
        txn.flags |= F_LEGACY;
    }
    txn.link = Link {
        index: invite,
        generation: id.generation,
    };
    let (c, generation) = ctx.shard.insert(txn);
    ctx.live.fetch_add(1, Ordering::Relaxed);
    if let Some(t) = ctx.txn(invite) {
        t.link = Link {
            index: c,
            generation,
        };
        t.flags |= F_CANCELLED;
    }
    if proceeding {
        client_non_invite::start(ctx, c);
    }
    Ok(ctx.id(c))
}

/// The INVITE got its first provisional response: send the CANCEL held for it.
pub(crate) fn release(ctx: &mut Ctx<'_>, c: u32) {
    if ctx.txn(c).is_some_and(|t| t.state == State::Held) {
        client_non_invite::start(ctx, c);
    }
}
