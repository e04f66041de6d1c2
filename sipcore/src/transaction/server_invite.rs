//! The INVITE server transaction: RFC 3261 §17.2.1 as updated by RFC 6026 §7.1.
//!
//! ```text
//!   INVITE: to TU ─► Proceeding ── INVITE: resend last provisional
//!                     │  1xx from TU: send     (100 Trying after 200 ms if the TU is silent)
//!   300-699 from TU:  │                 2xx from TU: send
//!   send, G, H        ▼                          ▼
//!                 Completed                  Accepted (RFC 6026)
//!   INVITE, Timer G: resend               INVITE: absorb
//!   (T1, 2T1 ... capped at T2)            2xx from TU: send
//!   Timer H (64*T1): Timeout              ACK: to TU (never absorbed)
//!          │ ACK                          Timer L (64*T1)
//!          ▼                                     │
//!      Confirmed ── Timer I (T4; 0 reliable) ──► Terminated
//! ```
//! A transport error in any state: TransportError, Terminated.

use crate::message::{Message, Request, Response, StatusCode};
use crate::transport::Target;

use super::output::{Event, Timer};
use super::shard::Ctx;
use super::stateless;
use super::txn::{State, F_LEGACY, RETRANSMIT, TIMEOUT};
use super::TransactionError;

/// Arms the 100 Trying timer and the transaction user's deadline.
pub(crate) fn start(ctx: &mut Ctx<'_>, i: u32) {
    if let Some(d) = ctx.tm.trying {
        ctx.arm(i, RETRANSMIT, Timer::Trying, d);
    }
    ctx.arm(i, TIMEOUT, Timer::Tu, ctx.tm.ist_tu);
}

/// A request matching the transaction: an INVITE retransmission or an ACK.
pub(crate) fn on_request(
    ctx: &mut Ctx<'_>,
    i: u32,
    request: Request,
    source: Target,
    is_ack: bool,
) {
    let Some(t) = ctx.txn(i) else { return };
    let state = t.state;
    let reliable = t.reliable();
    if !is_ack {
        if matches!(state, State::Proceeding | State::Completed) {
            ctx.send_last(i);
        }
        return;
    }
    match state {
        State::Completed => {
            t.state = State::Confirmed;
            ctx.disarm(i, RETRANSMIT);
            ctx.disarm(i, TIMEOUT);
            if reliable {
                ctx.terminate(i);
            } else {
                ctx.arm(i, TIMEOUT, Timer::I, ctx.tm.t4);
            }
        }
        State::Accepted => {
            let transaction = Some(ctx.id(i));
            ctx.event(Event::Ack {
                request,
                source,
                transaction,
            });
        }
        _ => {} // Confirmed absorbs ACK retransmissions; an ACK before any final is noise.
    }
}

/// A response from the transaction user.
pub(crate) fn send_response(
    ctx: &mut Ctx<'_>,
    i: u32,
    response: &Response,
) -> Result<(), TransactionError> {
    let id = ctx.id(i);
    let Some(t) = ctx.txn(i) else {
        return Err(TransactionError::UnknownTransaction(id));
    };
    let status = response.status();
    match t.state {
        State::Proceeding => {}
        State::Accepted if status.is_success() => {
            // 2xx retransmissions by the TU pass through (RFC 6026 §8.5).
            t.last = Some(response.bytes());
            ctx.send_last(i);
            forget_accepted_response(ctx, i);
            return Ok(());
        }
        _ => {
            return Err(TransactionError::InvalidState {
                id,
                what: "send this response",
            })
        }
    }
    t.last = Some(response.bytes());
    let reliable = t.reliable();
    ctx.send_last(i);
    if status.is_provisional() {
        ctx.disarm(i, RETRANSMIT); // no 100 Trying on the TU's behalf any more
    } else if status.is_success() {
        if let Some(t) = ctx.txn(i) {
            t.state = State::Accepted;
        }
        forget_accepted_response(ctx, i);
        ctx.disarm(i, RETRANSMIT);
        ctx.arm(i, TIMEOUT, Timer::L, ctx.tm.b);
    } else {
        if let Some(t) = ctx.txn(i) {
            t.state = State::Completed;
            t.retransmits = 0;
        }
        if reliable {
            ctx.disarm(i, RETRANSMIT);
        } else {
            ctx.arm(i, RETRANSMIT, Timer::G, ctx.tm.backoff(0, true));
        }
        ctx.arm(i, TIMEOUT, Timer::H, ctx.tm.b);
    }
    Ok(())
}

/// Drops the sent 2xx of an Accepted transaction: Accepted never retransmits it (the TU
/// does, RFC 6026 §7.1) and it would otherwise live until Timer L, 32 s (~10 % of what a
/// UDP call holds). An RFC 2543 transaction keeps it: its ACK is matched by the To tag of
/// the response.
fn forget_accepted_response(ctx: &mut Ctx<'_>, i: u32) {
    if let Some(t) = ctx.txn(i) {
        if t.state == State::Accepted && !t.has(F_LEGACY) {
            t.last = None;
        }
    }
}

/// Builds a response to the held request on the layer's own account (100 Trying, the
/// 408 of the TU deadline).
pub(crate) fn own_response(ctx: &mut Ctx<'_>, i: u32, status: StatusCode) -> Option<Response> {
    let t = ctx.txn(i)?;
    let msg = Message::parse(t.request.clone()).ok()?;
    // 100 Trying carries no tag (§8.2.6.2); a final response gets a fresh one.
    let tag = (status != StatusCode::TRYING).then(|| ctx.rng.token("", super::rng::TAG_CHARS));
    stateless::response(msg.as_request()?, status, tag.as_deref()).ok()
}

pub(crate) fn on_timer(ctx: &mut Ctx<'_>, i: u32, timer: Timer) {
    let Some(t) = ctx.txn(i) else { return };
    match (t.state, timer) {
        (State::Proceeding, Timer::Trying) if t.last.is_none() => {
            if let Some(r) = own_response(ctx, i, StatusCode::TRYING) {
                let _ = send_response(ctx, i, &r);
            }
        }
        (State::Proceeding, Timer::Tu) => {
            let id = ctx.id(i);
            ctx.event(Event::Timeout {
                id,
                timer: Timer::Tu,
            });
            if let Some(r) = own_response(ctx, i, StatusCode::REQUEST_TIMEOUT) {
                let _ = send_response(ctx, i, &r);
            }
            if ctx.txn(i).is_some_and(|t| t.state == State::Proceeding) {
                ctx.terminate(i); // the request could not be answered at all
            }
        }
        (State::Completed, Timer::G) => {
            t.retransmits = t.retransmits.saturating_add(1);
            let n = t.retransmits;
            ctx.send_last(i);
            ctx.arm(i, RETRANSMIT, Timer::G, ctx.tm.backoff(n, true));
        }
        (State::Completed, Timer::H) => ctx.time_out(i, Timer::H),
        (State::Confirmed, Timer::I) | (State::Accepted, Timer::L) => ctx.terminate(i),
        _ => {}
    }
}
