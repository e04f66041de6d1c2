//! The transaction user's side of the endpoint: the [`Handler`] trait and the
//! [`Context`] it acts through.

use std::time::Instant;

use bytes::Bytes;

use super::Shared;
use crate::message::{Request, Response, StatusCode};
use crate::transaction::{
    stateless, Outputs, Timer, Token, TransactionError, TransactionId, TransportFailure,
};
use crate::transport::{SendError, Target};

/// The application (the transaction user): what the endpoint calls, on the thread that
/// received the message (a pool worker, a TCP worker) or, for timers, the timer thread.
///
/// Only [`on_request`](Self::on_request) must be written; the other methods have
/// defaults that suit a simple UAS: answer CANCEL as RFC 3261 §9.2 says, drop stray
/// messages, ignore the rest.
pub trait Handler: Send + Sync + 'static {
    /// A new request created server transaction `id`; answer it through
    /// [`Context::respond`] (now or later, from any thread, with
    /// [`Endpoint::context`](super::Endpoint::context)).
    /// `merged` marks a merged request (RFC 3261 §8.2.2.2: a UAS answers 482).
    fn on_request(
        &self,
        ctx: &mut Context<'_>,
        id: TransactionId,
        request: Request,
        source: Target,
        merged: bool,
    );

    /// A CANCEL created server transaction `id`. `invite` is the INVITE server
    /// transaction it cancels (`None`: there is none, answer 481). The default answers
    /// the CANCEL with 200 (or 481); answering the INVITE with 487 is up to the handler,
    /// which holds the INVITE.
    fn on_cancel(
        &self,
        ctx: &mut Context<'_>,
        id: TransactionId,
        cancel: Request,
        source: Target,
        invite: Option<TransactionId>,
    ) {
        let _ = source;
        let status = if invite.is_some() {
            StatusCode::OK
        } else {
            StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST
        };
        let _ = ctx.reply(id, &cancel, status, None);
    }

    /// An ACK not absorbed by the transaction layer: the ACK for a 2xx (it belongs to the
    /// dialog; a proxy forwards it statelessly), or a stray one. Default: dropped.
    fn on_ack(
        &self,
        ctx: &mut Context<'_>,
        ack: Request,
        source: Target,
        transaction: Option<TransactionId>,
    ) {
        let _ = (ctx, ack, source, transaction);
    }

    /// A response for client transaction `id` (provisionals, the final one, and every
    /// 2xx retransmission or fork in Accepted). Default: ignored.
    fn on_response(
        &self,
        ctx: &mut Context<'_>,
        id: TransactionId,
        response: Response,
        source: Target,
    ) {
        let _ = (ctx, id, response, source);
    }

    /// A response that matches no client transaction (a late fork's 2xx, a stray).
    /// Default: dropped (RFC 6026 §8.9).
    fn on_stray_response(&self, ctx: &mut Context<'_>, response: Response, source: Target) {
        let _ = (ctx, response, source);
    }

    /// A timer reported failure on transaction `id` (B/F: act as on 408; H: no ACK;
    /// C: the layer sent a CANCEL; Tu: the layer answered 408 itself). Default: ignored.
    fn on_timeout(&self, ctx: &mut Context<'_>, id: TransactionId, timer: Timer) {
        let _ = (ctx, id, timer);
    }

    /// The transport failed for transaction `id`: it is already terminated; a client's
    /// TU acts as on a 503 at once. Default: ignored.
    fn on_transport_error(
        &self,
        ctx: &mut Context<'_>,
        id: TransactionId,
        error: TransportFailure,
    ) {
        let _ = (ctx, id, error);
    }

    /// Transaction `id` left the table. Default: ignored.
    fn on_terminated(&self, ctx: &mut Context<'_>, id: TransactionId) {
        let _ = (ctx, id);
    }
}

/// What a [`Handler`] acts through: the transaction layer's commands with the current
/// time and an output buffer the endpoint drains (sends, then further events) when the
/// handler returns.
pub struct Context<'a> {
    pub(crate) shared: &'a Shared,
    pub(crate) now: Instant,
    pub(crate) out: &'a mut Outputs,
}

impl std::fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context").field("now", &self.now).finish()
    }
}

impl Context<'_> {
    /// The time the current input is handled at.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Sends `response` through server transaction `id`.
    pub fn respond(
        &mut self,
        id: TransactionId,
        response: Response,
    ) -> Result<(), TransactionError> {
        self.shared
            .layer
            .send_response(self.now, id, response, self.out)
    }

    /// Answers `request` (of server transaction `id`) with `status` and the canonical
    /// reason phrase; `to_tag` is added when the request's To has none (a final
    /// response of a UAS needs one: see [`new_tag`](Self::new_tag)).
    pub fn reply(
        &mut self,
        id: TransactionId,
        request: &Request,
        status: StatusCode,
        to_tag: Option<&str>,
    ) -> Result<(), TransactionError> {
        let response = stateless::response(request, status, to_tag)?;
        self.respond(id, response)
    }

    /// Starts a client transaction sending `request` to `target`.
    pub fn send_request(
        &mut self,
        request: Request,
        target: Target,
    ) -> Result<TransactionId, TransactionError> {
        self.shared
            .layer
            .send_request(self.now, request, target, self.out)
    }

    /// Cancels client INVITE transaction `id` (the CANCEL goes out once a provisional
    /// response has arrived).
    pub fn cancel(&mut self, id: TransactionId) -> Result<TransactionId, TransactionError> {
        self.shared.layer.cancel(self.now, id, self.out)
    }

    /// Sends bytes outside any transaction (an ACK for a 2xx, a stateless reply, a
    /// response relayed by a stateless proxy).
    pub fn send_stateless(&mut self, target: Target, data: Bytes) -> Result<(), SendError> {
        self.shared.send(&target, data)
    }

    /// A new globally unique branch (with the magic cookie; 132 bits from the
    /// layer's cryptographically secure generator, RFC 3261 §19.3).
    pub fn new_branch(&self) -> Token {
        self.shared.layer.new_branch()
    }

    /// A new tag for From/To (96 random bits).
    pub fn new_tag(&self) -> Token {
        self.shared.layer.new_tag()
    }

    /// A new Call-ID (144 random bits).
    pub fn new_call_id(&self) -> Token {
        self.shared.layer.new_call_id()
    }

    /// The target to send a request of `len` bytes to `target` over: UDP requests larger
    /// than the RFC 3261 §18.1.1 size rule move to TCP when a TCP transport is
    /// registered (call it before writing the Via, which names the transport).
    pub fn transport_for_request(&self, target: Target, len: usize) -> Target {
        self.shared.transport_for_request(target, len)
    }
}
