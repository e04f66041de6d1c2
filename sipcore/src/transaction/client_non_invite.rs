//! The non-INVITE client transaction: RFC 3261 §17.1.2.
//!
//! ```text
//!                 Timer E: resend (T1, 2T1 ... capped at T2; unreliable only)
//!   send request ─► Trying ── Timer F (64*T1): Timeout, Terminated
//!                    │  1xx: to TU
//!                    ▼
//!                Proceeding ── Timer E: resend every T2; Timer F: Timeout
//!                    │  200-699 (from Trying too): to TU
//!                    ▼
//!                Completed ── Timer K (T4; 0 reliable) ──► Terminated
//! ```
//! A CANCEL waiting for its INVITE's first provisional response sits in `Held`, with
//! no timers, until the first provisional response of the INVITE sends it. A transport error in any state: TransportError,
//! Terminated.

use crate::message::Response;
use crate::transport::Target;

use super::output::{Event, Timer};
use super::shard::Ctx;
use super::txn::{State, RETRANSMIT, TIMEOUT};

/// Sends the request and arms Timers E and F.
pub(crate) fn start(ctx: &mut Ctx<'_>, i: u32) {
    let Some(t) = ctx.txn(i) else { return };
    t.state = State::Trying;
    let reliable = t.reliable();
    ctx.send_request(i);
    if !reliable {
        ctx.arm(i, RETRANSMIT, Timer::E, ctx.tm.backoff(0, true));
    }
    ctx.arm(i, TIMEOUT, Timer::F, ctx.tm.fr);
}

pub(crate) fn on_response(ctx: &mut Ctx<'_>, i: u32, response: Response, source: Target) {
    let Some(t) = ctx.txn(i) else { return };
    if !matches!(t.state, State::Trying | State::Proceeding) {
        return; // Completed absorbs retransmissions; Held has sent nothing.
    }
    let status = response.status();
    let reliable = t.reliable();
    let first_provisional = t.state == State::Trying && status.is_provisional();
    t.state = if status.is_provisional() {
        State::Proceeding
    } else {
        State::Completed
    };
    let id = ctx.id(i);
    if first_provisional && ctx.tm.fr < ctx.tm.b {
        // The no-response timeout is over: the rest of Timer F's 64*T1 remains.
        ctx.arm(i, TIMEOUT, Timer::F, ctx.tm.b - ctx.tm.fr);
    }
    if status.is_provisional() {
        ctx.event(Event::Response {
            id,
            response,
            source,
        });
        return;
    }
    ctx.disarm(i, RETRANSMIT);
    ctx.disarm(i, TIMEOUT);
    ctx.event(Event::Response {
        id,
        response,
        source,
    });
    if reliable {
        ctx.terminate(i);
    } else {
        ctx.arm(i, TIMEOUT, Timer::K, ctx.tm.t4);
    }
}

pub(crate) fn on_timer(ctx: &mut Ctx<'_>, i: u32, timer: Timer) {
    let Some(t) = ctx.txn(i) else { return };
    match (t.state, timer) {
        (State::Trying, Timer::E) => {
            t.retransmits = t.retransmits.saturating_add(1);
            let n = t.retransmits;
            ctx.send_request(i);
            ctx.arm(i, RETRANSMIT, Timer::E, ctx.tm.backoff(n, true));
        }
        (State::Proceeding, Timer::E) => {
            ctx.send_request(i);
            ctx.arm(i, RETRANSMIT, Timer::E, ctx.tm.t2);
        }
        (State::Trying | State::Proceeding, Timer::F) => ctx.time_out(i, Timer::F),
        (State::Completed, Timer::K) => ctx.terminate(i),
        _ => {}
    }
}
