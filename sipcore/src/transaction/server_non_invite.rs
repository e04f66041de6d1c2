//! The non-INVITE server transaction: RFC 3261 §17.2.2.
//!
//! ```text
//!   request: to TU ─► Trying ── request: absorb
//!                      │  1xx from TU: send
//!                      ▼
//!                  Proceeding ── request: resend last provisional
//!                      │  200-699 from TU (from Trying too): send
//!                      ▼
//!                  Completed ── request: resend final; other finals from TU: refused
//!                      │  Timer J (64*T1; 0 reliable)
//!                      ▼
//!                  Terminated
//! ```
//! A transport error in any state: TransportError, Terminated. If the TU gives no final
//! response within `Config::non_invite_server_timeout`, the layer answers 408 itself.

use crate::message::{Response, StatusCode};

use super::output::{Event, Timer};
use super::server_invite::own_response;
use super::shard::Ctx;
use super::txn::{State, TIMEOUT};
use super::TransactionError;

/// Arms the transaction user's deadline.
pub(crate) fn start(ctx: &mut Ctx<'_>, i: u32) {
    ctx.arm(i, TIMEOUT, Timer::Tu, ctx.tm.nist_tu);
}

/// A retransmission of the request.
pub(crate) fn on_request(ctx: &mut Ctx<'_>, i: u32) {
    if ctx
        .txn(i)
        .is_some_and(|t| matches!(t.state, State::Proceeding | State::Completed))
    {
        ctx.send_last(i);
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
    if !matches!(t.state, State::Trying | State::Proceeding) {
        return Err(TransactionError::InvalidState {
            id,
            what: "send a response after the final one",
        });
    }
    let status = response.status();
    t.last = Some(response.bytes());
    let reliable = t.reliable();
    t.state = if status.is_provisional() {
        State::Proceeding
    } else {
        State::Completed
    };
    ctx.send_last(i);
    if status.is_final() {
        if reliable {
            ctx.terminate(i);
        } else {
            ctx.arm(i, TIMEOUT, Timer::J, ctx.tm.b);
        }
    }
    Ok(())
}

pub(crate) fn on_timer(ctx: &mut Ctx<'_>, i: u32, timer: Timer) {
    let Some(t) = ctx.txn(i) else { return };
    match (t.state, timer) {
        (State::Trying | State::Proceeding, Timer::Tu) => {
            let id = ctx.id(i);
            ctx.event(Event::Timeout {
                id,
                timer: Timer::Tu,
            });
            match own_response(ctx, i, StatusCode::REQUEST_TIMEOUT) {
                Some(r) => {
                    let _ = send_response(ctx, i, &r);
                }
                None => ctx.terminate(i),
            }
        }
        (State::Completed, Timer::J) => ctx.terminate(i),
        _ => {}
    }
}
