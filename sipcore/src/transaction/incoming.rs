//! The network side of [`TransactionLayer::handle_message`]: a request to its server
//! transaction (or a new one), a response to its client transaction (or out as a stray).

use std::time::Instant;

use crate::message::{Method, Request, Response};
use crate::transport::Target;

use super::key::{cancels, client_matches, creates, merged_with, server_matches, MsgKey};
use super::output::{Event, Outputs};
use super::txn::{Kind, State, Txn, CANCEL, F_LEGACY};
use super::{client_invite, client_non_invite, server_invite, server_non_invite};
use super::{TransactionError, TransactionLayer};

impl TransactionLayer {
    pub(super) fn on_request(
        &self,
        now: Instant,
        source: Target,
        req: Request,
        out: &mut Outputs,
    ) -> Result<(), TransactionError> {
        let mut key = MsgKey::request(&req, self.hash_seed)?;
        if key.branch.is_none() {
            key = key.with_tags(&req)?;
        }
        let n = self.shard_of(key.hash);
        let mut locked = self.lock(n);
        let mut ctx = self.ctx(&mut locked, n, now, out);
        let is_ack = key.method == Method::Ack;
        if let Some(i) = ctx.shard.find(key.hash, |t| server_matches(t, &key)) {
            match ctx.shard.get(i).map(|t| t.kind) {
                Some(Kind::Ist) => server_invite::on_request(&mut ctx, i, req, source, is_ack),
                _ => server_non_invite::on_request(&mut ctx, i),
            }
            return Ok(());
        }
        let Some((kind, code)) = creates(&key) else {
            ctx.event(Event::Ack {
                request: req,
                source,
                transaction: None,
            });
            return Ok(());
        };
        if key.branch.is_some() {
            key = key.with_tags(&req)?;
        }
        if ctx.shard.count_hash(key.hash) >= self.config.max_per_call_seq || !self.reserve() {
            return Err(TransactionError::Overloaded(Box::new(req)));
        }
        let merged =
            key.to_tag.is_none() && ctx.shard.find(key.hash, |t| merged_with(t, &key)).is_some();
        let invite = if code == CANCEL {
            ctx.shard
                .find(key.hash, |t| cancels(t, &key))
                .map(|i| ctx.id(i))
        } else {
            None
        };
        let (stored, legacy) = key.store(req.as_bytes());
        let state = if kind == Kind::Ist {
            State::Proceeding
        } else {
            State::Trying
        };
        let target = crate::transport::routing::response_target(
            &key.via,
            source,
            self.config.symmetric_responses,
        );
        let mut txn = Txn::new(kind, state, req.bytes(), target, stored, code);
        if legacy {
            txn.flags |= F_LEGACY;
        }
        let (i, _) = ctx.shard.insert(txn);
        let id = ctx.id(i);
        if kind == Kind::Ist {
            server_invite::start(&mut ctx, i);
        } else {
            server_non_invite::start(&mut ctx, i);
        }
        ctx.event(if code == CANCEL {
            Event::Cancel {
                id,
                request: req,
                source,
                invite,
            }
        } else {
            Event::Request {
                id,
                request: req,
                source,
                merged,
            }
        });
        Ok(())
    }

    pub(super) fn on_response(
        &self,
        now: Instant,
        source: Target,
        resp: Response,
        out: &mut Outputs,
    ) -> Result<(), TransactionError> {
        let key = MsgKey::response(&resp, self.hash_seed)?;
        let n = self.shard_of(key.hash);
        let mut locked = self.lock(n);
        let mut ctx = self.ctx(&mut locked, n, now, out);
        match ctx.shard.find(key.hash, |t| client_matches(t, &key)) {
            Some(i) => match ctx.shard.get(i).map(|t| t.kind) {
                Some(Kind::Ict) => client_invite::on_response(&mut ctx, i, resp, source),
                _ => client_non_invite::on_response(&mut ctx, i, resp, source),
            },
            None => ctx.event(Event::StrayResponse {
                response: resp,
                source,
            }),
        }
        Ok(())
    }
}
