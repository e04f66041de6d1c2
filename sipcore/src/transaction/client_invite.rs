//! The INVITE client transaction: RFC 3261 §17.1.1 as updated by RFC 6026 §7.2.
//!
//! ```text
//!                 Timer A: resend (T1, 2T1, 4T1 ... uncapped; unreliable only)
//!   send INVITE ─► Calling ── Timer B (64*T1): Timeout, Terminated
//!                   │  1xx: to TU (stop A and B, start C)
//!                   ▼
//!               Proceeding ── 1xx: to TU, restart C; Timer C: Timeout, CANCEL
//!   300-699: to TU, send ACK        2xx: to TU
//!          ▼                                 ▼
//!      Completed                         Accepted (RFC 6026)
//!   300-699: resend ACK                2xx: to TU (retransmissions, forks)
//!   Timer D (32 s; 0 reliable)         Timer M (64*T1)
//!          └──────────► Terminated ◄─────────┘
//! ```
//! A transport error in any state: TransportError, Terminated.

use crate::message::Response;
use crate::transport::Target;

use super::build;
use super::cancel;
use super::output::{Event, Timer};
use super::shard::Ctx;
use super::txn::{State, F_TIMER_C_FIRED, RETRANSMIT, TIMEOUT};

/// Sends the INVITE and arms Timers A and B.
pub(crate) fn start(ctx: &mut Ctx<'_>, i: u32) {
    ctx.send_request(i);
    let reliable = ctx.txn(i).is_some_and(|t| t.reliable());
    if !reliable {
        ctx.arm(i, RETRANSMIT, Timer::A, ctx.tm.t1);
    }
    ctx.arm(i, TIMEOUT, Timer::B, ctx.tm.fr);
}

pub(crate) fn on_response(ctx: &mut Ctx<'_>, i: u32, response: Response, source: Target) {
    let Some(t) = ctx.txn(i) else { return };
    let status = response.status();
    let state = t.state;
    let id = ctx.id(i);
    match state {
        State::Calling | State::Proceeding => {
            if status.is_provisional() {
                if state == State::Calling {
                    ctx.disarm(i, RETRANSMIT);
                    if let Some(t) = ctx.txn(i) {
                        t.state = State::Proceeding;
                    }
                }
                if ctx.txn(i).is_some_and(|t| !t.has(F_TIMER_C_FIRED)) {
                    ctx.arm(i, TIMEOUT, Timer::C, ctx.tm.c);
                }
                ctx.event(Event::Response {
                    id,
                    response,
                    source,
                });
                if state == State::Calling {
                    if let Some(c) = ctx.linked(i) {
                        cancel::release(ctx, c);
                    }
                }
            } else if status.is_success() {
                ctx.disarm(i, RETRANSMIT);
                if let Some(t) = ctx.txn(i) {
                    t.state = State::Accepted;
                }
                ctx.arm(i, TIMEOUT, Timer::M, ctx.tm.b);
                ctx.event(Event::Response {
                    id,
                    response,
                    source,
                });
                drop_held_cancel(ctx, i);
            } else {
                complete(ctx, i, response, source);
            }
        }
        State::Completed if status.is_final() && !status.is_success() => {
            // A retransmission of the final response: the ACK again, nothing to the TU.
            ctx.send_last(i);
        }
        // A 2xx after a non-2xx (another fork) or in Accepted (a retransmission or a
        // fork): the TU ACKs it (RFC 6026 §8.4).
        State::Completed | State::Accepted if status.is_success() => {
            ctx.event(Event::Response {
                id,
                response,
                source,
            });
        }
        _ => {}
    }
}

/// 300-699 in Calling or Proceeding: to the TU, ACK, Completed, Timer D.
fn complete(ctx: &mut Ctx<'_>, i: u32, response: Response, source: Target) {
    ctx.disarm(i, RETRANSMIT);
    ctx.disarm(i, TIMEOUT);
    let id = ctx.id(i);
    let Some(t) = ctx.txn(i) else { return };
    t.state = State::Completed;
    let reliable = t.reliable();
    let ack = crate::message::Message::parse(t.request.clone())
        .ok()
        .and_then(|m| {
            m.as_request()
                .and_then(|inv| build::ack(inv, &response).ok())
        });
    if let Some(t) = ctx.txn(i) {
        t.last = ack;
    }
    ctx.send_last(i);
    ctx.event(Event::Response {
        id,
        response,
        source,
    });
    drop_held_cancel(ctx, i);
    if reliable {
        ctx.terminate(i);
    } else {
        ctx.arm(i, TIMEOUT, Timer::D, ctx.tm.d);
    }
}

/// A final response arrived before the first provisional: the CANCEL waiting for it
/// is never sent (§9.1: "SHOULD NOT be sent").
fn drop_held_cancel(ctx: &mut Ctx<'_>, i: u32) {
    if let Some(c) = ctx.linked(i) {
        if ctx.txn(c).is_some_and(|c| c.state == State::Held) {
            ctx.terminate(c);
        }
    }
}

pub(crate) fn on_timer(ctx: &mut Ctx<'_>, i: u32, timer: Timer) {
    let Some(t) = ctx.txn(i) else { return };
    match (t.state, timer) {
        (State::Calling, Timer::A) => {
            t.retransmits = t.retransmits.saturating_add(1);
            let n = t.retransmits;
            ctx.send_request(i);
            ctx.arm(i, RETRANSMIT, Timer::A, ctx.tm.backoff(n, false));
        }
        (State::Calling, Timer::B) => ctx.time_out(i, Timer::B),
        (State::Proceeding, Timer::C) => {
            if t.has(F_TIMER_C_FIRED) {
                // The CANCEL went out 64*T1 ago and no final response came.
                ctx.terminate(i);
                return;
            }
            t.flags |= F_TIMER_C_FIRED;
            let id = ctx.id(i);
            ctx.event(Event::Timeout {
                id,
                timer: Timer::C,
            });
            // Over the limit or already cancelled: nothing more to send.
            let _ = cancel::cancel(ctx, i);
            ctx.arm(i, TIMEOUT, Timer::C, ctx.tm.b);
        }
        (State::Completed, Timer::D) | (State::Accepted, Timer::M) => ctx.terminate(i),
        _ => {}
    }
}
