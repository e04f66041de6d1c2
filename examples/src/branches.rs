//! The branches of a proxied request (RFC 3261 §16.6, §16.7): starting them, serial
//! failover between gateways, the best final response, and the relay of responses
//! upstream (100 absorbed, 2xx at once, the rest when every branch has ended).

use sipcore::endpoint::Context;
use sipcore::message::{Method, Response, StatusCode};
use sipcore::transaction::TransactionId;
use std::net::SocketAddr;

use crate::calls::{Branch, Call, CallRef, Candidate};
use crate::forward::{forward, strip_top_via, strip_top_via_adding, ForwardSpec};
use crate::proxy::Proxy;
use crate::routes::Gateway;
use crate::target::{route_info, Dest, Hop, RouteInfo};

pub(crate) fn is_dialog_creating(m: Method<'_>) -> bool {
    matches!(m, Method::Invite | Method::Subscribe | Method::Refer)
}

fn gateway_uri(number: &str, gw: &Gateway) -> String {
    let Hop::Addr(target) = &gw.target else {
        // A URI gateway: the number as its user part.
        let Hop::Name(uri) = &gw.target else {
            return String::new();
        };
        let (scheme, rest) = uri.split_once(':').unwrap_or(("sip", uri));
        let hostpart = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
        return if number.is_empty() {
            format!("{scheme}:{hostpart}")
        } else {
            format!("{scheme}:{number}@{hostpart}")
        };
    };
    let param = if target.transport.is_reliable() {
        format!(
            ";transport={}",
            target.transport.as_str().to_ascii_lowercase()
        )
    } else {
        String::new()
    };
    let host = match target.addr {
        SocketAddr::V4(a) => a.to_string(),
        SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
    };
    if number.is_empty() {
        format!("sip:{host}{param}")
    } else {
        format!("sip:{number}@{host}{param}")
    }
}

impl Proxy {
    /// Starts one branch (a name is resolved first: the branch may start later, from
    /// the resolver's thread); `Err(status)` when it could not be sent at all.
    pub(crate) fn start_branch(
        &self,
        ctx: &mut Context<'_>,
        call_ref: &CallRef,
        c: &mut Call,
        dest: &Dest,
        info: &RouteInfo,
    ) -> Result<(), StatusCode> {
        let target = match &dest.target {
            Hop::Addr(t) => *t,
            Hop::Name(uri) => return self.start_resolving(ctx, call_ref, c, dest, uri, info),
        };
        if dest.listed && self.routes.is_blacklisted(&target, ctx.now()) {
            return Err(StatusCode::SERVICE_UNAVAILABLE);
        }
        let Some(req) = c.request.clone() else {
            return Err(StatusCode::SERVER_INTERNAL_ERROR);
        };
        let spec = ForwardSpec {
            request_uri: dest.request_uri.as_deref(),
            record_route: is_dialog_creating(req.method())
                && req.to().ok().and_then(|t| t.tag()).is_none(),
            routes: Some(info),
            loop_hash: c.loop_hash,
            incoming: Some(c.upstream.transport),
            edits: Some(&c.edits),
        };
        match forward(ctx, &self.local, &req, target, &spec) {
            Ok(client) => {
                self.metrics
                    .branches
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                c.branches.push(Branch {
                    id: client,
                    target,
                    provisional: false,
                    status: 0,
                    gateway: dest.gateway,
                    listed: dest.listed,
                });
                self.calls.insert(client, call_ref.clone());
                Ok(())
            }
            Err(e) => {
                tracing::debug!(error = %e, %target, "forward failed");
                if dest.listed {
                    self.routes.blacklist(target, ctx.now());
                }
                Err(e.status())
            }
        }
    }

    /// Starts the next destination that works: the remaining addresses of the current
    /// one (RFC 3263 §4.3), then the remaining gateways; true when a branch started or
    /// a name is being resolved for one.
    pub(crate) fn fail_over(
        &self,
        ctx: &mut Context<'_>,
        call_ref: &CallRef,
        c: &mut Call,
    ) -> bool {
        let Some(info) = c
            .request
            .as_ref()
            .and_then(|r| route_info(r, &self.local).ok())
        else {
            return false;
        };
        while let Some(dest) = c.alternates.pop_front() {
            if self.start_branch(ctx, call_ref, c, &dest, &info).is_ok() {
                return true;
            }
        }
        while !c.failover.is_empty() {
            let gw = c.failover.remove(0);
            let dest = Dest {
                request_uri: Some(gateway_uri(&c.number, &gw)),
                target: gw.target,
                gateway: Some(c.branches.len()),
                listed: true,
            };
            if self.start_branch(ctx, call_ref, c, &dest, &info).is_ok() {
                return true;
            }
        }
        false
    }

    /// A branch ended without a usable answer or with a final non-2xx one.
    pub(crate) fn branch_final(
        &self,
        ctx: &mut Context<'_>,
        call_ref: &CallRef,
        client: TransactionId,
        cand: Candidate,
    ) {
        let mut c = call_ref.lock();
        let status = cand.status;
        let local = cand.response.is_none();
        let Some(b) = c.branch_mut(client) else {
            return;
        };
        if b.status != 0 {
            return;
        }
        b.status = status;
        let (listed, target) = (b.listed, b.target);
        if c.answered {
            c.release_if_done();
            return;
        }
        let retry = status == 408 || (500..600).contains(&status);
        if listed && retry && (local || status == 503 || status == 408) {
            match cand
                .response
                .as_ref()
                .and_then(|r| r.retry_after().ok().flatten())
                .map(|r| r.seconds)
            {
                Some(secs) if status == 503 => self.routes.blacklist_for(target, ctx.now(), secs),
                _ => self.routes.blacklist(target, ctx.now()),
            }
        }
        c.offer(cand);
        self.after_failure(ctx, call_ref, &mut c, retry, status);
    }

    /// After a branch failed (or a name did not resolve): fail over when the status
    /// allows it, else answer once nothing is pending.
    pub(crate) fn after_failure(
        &self,
        ctx: &mut Context<'_>,
        call_ref: &CallRef,
        c: &mut Call,
        retry: bool,
        status: u16,
    ) {
        if retry && !c.cancelled && (!c.failover.is_empty() || !c.alternates.is_empty()) {
            self.metrics
                .failovers
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if self.fail_over(ctx, call_ref, c) {
                return;
            }
        }
        if status >= 600 {
            self.cancel_pending(ctx, c);
        }
        if c.idle() {
            self.send_best(ctx, c);
        }
    }

    pub(crate) fn cancel_pending(&self, ctx: &mut Context<'_>, c: &Call) {
        if !c.invite {
            return;
        }
        for b in c.pending() {
            let _ = ctx.cancel(b.id);
        }
    }

    /// Sends the best final response upstream (§16.7 steps 6 to 8: a 401 or 407 with
    /// the challenges of the other branches added).
    pub(crate) fn send_best(&self, ctx: &mut Context<'_>, c: &mut Call) {
        let Some(status) = c.final_status() else {
            return;
        };
        c.answered = true;
        let received = c
            .best
            .as_ref()
            .and_then(|b| b.response.as_ref())
            .filter(|r| r.status() == status);
        let relayed = received.map(|r| strip_top_via_adding(r, &c.challenges.for_best(r)));
        match (relayed, &c.request) {
            (Some(Ok(r)), _) => {
                if ctx.respond(c.server, r).is_ok() {
                    self.metrics.response(status.as_u16());
                }
            }
            (_, Some(req)) => {
                let tag = ctx.new_tag();
                if ctx.reply(c.server, req, status, Some(tag.as_str())).is_ok() {
                    self.metrics.response(status.as_u16());
                }
            }
            (_, None) => {}
        }
        if let (true, Some(cdr), Some(req)) = (c.invite, &self.cdr, &c.request) {
            cdr.invite_failed(req, status.as_u16());
        }
        c.release_if_done();
    }

    /// Relays a response of branch `client` upstream.
    pub(crate) fn relay(
        &self,
        ctx: &mut Context<'_>,
        call_ref: &CallRef,
        client: TransactionId,
        resp: Response,
    ) {
        let status = resp.status();
        if status == StatusCode::TRYING {
            return; // §16.7 step 3: 100 is not forwarded
        }
        if status.is_provisional() {
            let mut c = call_ref.lock();
            if let Some(b) = c.branch_mut(client) {
                b.provisional = true;
            }
            if c.answered {
                return;
            }
            let server = c.server;
            drop(c);
            if let Ok(r) = strip_top_via(&resp) {
                if ctx.respond(server, r).is_ok() {
                    self.metrics.response(status.as_u16());
                }
            }
            return;
        }
        if status.is_success() {
            let mut c = call_ref.lock();
            let first = !c.answered;
            c.answered = true;
            if let Some(b) = c.branch_mut(client) {
                if b.status == 0 {
                    b.status = status.as_u16();
                }
            }
            if first {
                // §16.7 step 10: a 2xx ends the other branches.
                self.cancel_pending(ctx, &c);
                if let (true, Some(cdr), Some(req)) = (c.invite, &self.cdr, &c.request) {
                    cdr.invite_answered(req, status.as_u16(), ctx.now());
                }
            }
            c.release_if_done();
            let (server, upstream) = (c.server, c.upstream);
            drop(c);
            let Ok(r) = strip_top_via(&resp) else { return };
            let bytes = r.bytes();
            match ctx.respond(server, r) {
                Ok(()) => self.metrics.response(status.as_u16()),
                Err(_) => {
                    // The server transaction is gone (or answered otherwise): every 2xx
                    // still goes upstream (RFC 6026 §8.2), statelessly — to where the
                    // request really came from, never to an address a Via names.
                    let _ = ctx.send_stateless(upstream, bytes);
                    self.metrics.response(status.as_u16());
                }
            }
            return;
        }
        self.branch_final(
            ctx,
            call_ref,
            client,
            Candidate {
                status: status.as_u16(),
                response: Some(resp),
            },
        );
    }
}
