//! The proxy core: a [`Handler`] doing RFC 3261 §16 stateful proxying on the sipcore
//! endpoint. Requests are checked (§16.3), routed (§16.4, §16.5: Route, registrar,
//! Class-4 prefixes, next hop), forwarded by edits (§16.6) in client transactions, and
//! their responses relayed (§16.7, best final response); CANCEL, ACK for 2xx, Timer C,
//! timeouts and transport failures are handled per branch, with serial failover
//! between gateways.

use std::net::SocketAddr;
use std::sync::Arc;

use parking_lot::Mutex;
use sipcore::endpoint::{Context, Handler};
use sipcore::message::{response_to, Method, Request, Response, StatusCode};
use sipcore::transaction::{stateless, Timer, TransactionId, TransportFailure};
use sipcore::transport::Target;
use sipcore::uri::Uri;

use crate::acl::Acl;
use crate::auth::Auth;
use crate::calls::{BranchEdits, Call, CallRef, Calls, Candidate};
use crate::cdr::Cdr;
use crate::forward::{edit_request, ForwardSpec};
use crate::local::Local;
use crate::metrics::{Metrics, Refusal};
use crate::registrar::Registrar;
use crate::routes::{Gateway, Routes};
pub(crate) use crate::target::Dest;
use crate::target::{is_loop, loop_hash, route_info, uri_hop, Hop};

/// Methods this proxy answers itself or relays; listed in `Allow` of its OPTIONS answer.
pub(crate) const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, INFO, UPDATE, PRACK, SUBSCRIBE, NOTIFY, REFER, MESSAGE";

/// Max-Breadth of a request that has none (RFC 5393 §5.2.1).
const DEFAULT_MAX_BREADTH: u32 = 60;

/// 440 Max-Breadth Exceeded (RFC 5393).
const MAX_BREADTH_EXCEEDED: StatusCode = match StatusCode::new(440) {
    Some(s) => s,
    None => StatusCode::SERVER_INTERNAL_ERROR,
};

/// The proxy (the endpoint's transaction user).
#[derive(Debug)]
pub struct Proxy {
    /// Own addresses.
    pub local: Local,
    /// Default route for initial requests.
    pub next_hop: Option<crate::config::NextHop>,
    /// Resolves host names in destinations (`None`: the resolver could not start;
    /// such destinations get 503).
    pub names: Option<crate::names::Names>,
    /// Server names of TLS destinations (RFC 5922), shared with the TLS transport.
    pub tls_names: Arc<crate::tls::ServerNames>,
    /// Transports the proxy can send over (RFC 3263 candidates are limited to them).
    pub transports: Vec<sipcore::transport::TransportKind>,
    /// The proxy and its endpoint, for work that finishes off the handler's thread
    /// (a name resolved by the resolver thread); set by [`attach`](Self::attach).
    pub(crate) runtime: std::sync::OnceLock<(
        std::sync::Weak<Proxy>,
        std::sync::Weak<sipcore::endpoint::Endpoint>,
    )>,
    /// Per-request contexts.
    pub calls: Calls,
    /// Class-4 prefix routes.
    pub routes: Routes,
    /// Source ACL.
    pub acl: Acl,
    /// The registrar (`None`: off).
    pub registrar: Option<Registrar>,
    /// Digest authentication (`None`: off).
    pub auth: Option<Auth>,
    /// CDR writer (`None`: off).
    pub cdr: Option<Cdr>,
    /// Set by SIGTERM/SIGINT: new INVITEs get 503 while in-flight requests finish.
    pub draining: std::sync::atomic::AtomicBool,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Live proxied transactions above which new INVITEs get 503 + Retry-After (80 %
    /// of the transaction limit: the rest is headroom for the calls in flight, whose
    /// BYEs and re-INVITEs still need transactions).
    pub invite_limit: usize,
    /// `Retry-After` of those 503s.
    pub retry_after: u32,
    /// Parallel branches one request may fork into.
    pub max_branches: usize,
}

/// What to do with a request.
pub(crate) enum Decision {
    Forward(Vec<Dest>),
    /// Class-4: gateways tried one after the other.
    Gateways(String, Vec<Gateway>),
    Answer(StatusCode, Option<Refusal>),
    /// Answered already (registrar, OPTIONS, challenge).
    Done,
}

impl Proxy {
    /// The proxy `cfg` describes, serving `interfaces` (the bound addresses), writing
    /// CDRs to `cdr`; `now` is the digest nonces' epoch.
    pub fn new(
        cfg: &crate::config::Config,
        interfaces: &[(sipcore::transport::TransportKind, SocketAddr)],
        cdr: Option<Cdr>,
        metrics: Arc<Metrics>,
        now: std::time::Instant,
    ) -> Proxy {
        let auth_on = cfg.auth.register || cfg.auth.outbound;
        Proxy {
            local: Local::new(interfaces, &cfg.server.domains),
            next_hop: cfg.next_hop(),
            names: crate::names::Names::start(&cfg.dns)
                .map_err(|e| tracing::warn!(error = %e, "no DNS resolver: host names in destinations will get 503"))
                .ok(),
            transports: {
                let mut t: Vec<_> = interfaces.iter().map(|(k, _)| *k).collect();
                t.dedup();
                if !t.contains(&sipcore::transport::TransportKind::Tls) && cfg.tls.ca_file.is_some() {
                    t.push(sipcore::transport::TransportKind::Tls);
                }
                t
            },
            runtime: std::sync::OnceLock::new(),
            tls_names: Arc::default(),
            calls: Calls::default(),
            routes: Routes::new(&cfg.routes),
            acl: Acl::new(&cfg.acl),
            registrar: cfg
                .registrar
                .enabled
                .then(|| Registrar::new(&cfg.registrar)),
            auth: auth_on.then(|| Auth::new(&cfg.auth, now)),
            cdr,
            draining: std::sync::atomic::AtomicBool::new(false),
            metrics,
            invite_limit: cfg.server.max_transactions / 10 * 8,
            retry_after: cfg.server.retry_after_secs,
            max_branches: cfg.server.max_branches,
        }
    }

    /// Answers `req` (server transaction `id`) with `status`, counting it.
    pub(crate) fn answer(
        &self,
        ctx: &mut Context<'_>,
        id: TransactionId,
        req: &Request,
        status: StatusCode,
        refusal: Option<Refusal>,
    ) {
        if let Some(r) = refusal {
            self.metrics.refuse(r);
        }
        let tag = ctx.new_tag();
        if ctx.reply(id, req, status, Some(tag.as_str())).is_ok() {
            self.metrics.response(status.as_u16());
        }
    }

    /// 503 with Retry-After (counted as overload): come back later.
    fn overloaded(&self, ctx: &mut Context<'_>, id: TransactionId, req: &Request) {
        self.metrics.refuse(Refusal::Overload);
        let secs = self.retry_after.to_string();
        let tag = ctx.new_tag();
        let b = response_to(req, StatusCode::SERVICE_UNAVAILABLE)
            .to_tag(tag.as_str())
            .header("Retry-After", secs.as_str())
            .build();
        self.respond_bytes(ctx, id, b);
    }

    pub(crate) fn respond_bytes(
        &self,
        ctx: &mut Context<'_>,
        id: TransactionId,
        bytes: bytes::Bytes,
    ) {
        if let Ok(r) = stateless::parse_response(bytes) {
            let status = r.status().as_u16();
            if ctx.respond(id, r).is_ok() {
                self.metrics.response(status);
            }
        }
    }

    /// Forwards an ACK for a 2xx (an ACK without a transaction) by its Route set,
    /// statelessly — only when it carries a Route of ours (the dialog's Record-Route):
    /// any other is dropped silently.
    fn forward_ack(&self, ctx: &mut Context<'_>, ack: &Request) {
        let info = match route_info(ack, &self.local) {
            Ok(i) if i.remove_top > 0 || i.strict_from.is_some() => i,
            _ => {
                self.metrics
                    .acks_dropped
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return;
            }
        };
        let hop = if let Some(n) = &info.next {
            n.target.clone()
        } else if let Some(fix) = &info.strict_from {
            uri_hop(fix.uri.as_bytes())
        } else {
            match ack.uri() {
                Ok(Uri::Sip(s)) if !self.local.is_me(&s) => uri_hop(ack.uri_bytes()),
                _ => None,
            }
        };
        let target = match hop {
            Some(Hop::Addr(t)) => t,
            Some(Hop::Name(uri)) => return self.forward_ack_to_name(ctx, ack, &uri),
            None => return,
        };
        let edits = BranchEdits {
            strip_identity: true,
            ..Default::default()
        };
        let spec = ForwardSpec {
            routes: Some(&info),
            loop_hash: loop_hash(ack, info.remove_top),
            edits: Some(&edits),
            ..Default::default()
        };
        match edit_request(ctx, &self.local, ack, target, &spec) {
            Ok(bytes) => {
                if ctx.send_stateless(target, bytes).is_ok() {
                    self.metrics
                        .acks_forwarded
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
            Err(e) => tracing::debug!(error = %e, "ACK not forwarded"),
        }
    }

    /// RFC 5393 and the branch limit for parallel forking: at most
    /// `min(Max-Breadth, server.max_branches)` branches, each carrying its share of the
    /// breadth; `Err` (440) when the request has no breadth left to fork with.
    fn fork_limits(
        &self,
        req: &Request,
        mut dests: Vec<Dest>,
    ) -> Result<(Vec<Dest>, Option<u32>), ()> {
        if dests.len() < 2 {
            return Ok((dests, None));
        }
        let breadth = req
            .header_by_name("Max-Breadth")
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|v| v.trim().parse::<u32>().ok())
            .unwrap_or(DEFAULT_MAX_BREADTH);
        if breadth < 2 {
            // Not enough breadth for two branches: one (a serial fork is allowed), or
            // none when there is no breadth at all.
            if breadth == 0 {
                return Err(());
            }
            dests.truncate(1);
            return Ok((dests, Some(1)));
        }
        let n = dests
            .len()
            .min(self.max_branches)
            .min(breadth as usize)
            .max(1);
        dests.truncate(n);
        Ok((dests, Some(breadth / n as u32)))
    }

    /// A BYE went through: the CDR end record.
    fn note_bye(&self, req: &Request, now: std::time::Instant) {
        if let Some(cdr) = &self.cdr {
            cdr.bye(req, now);
        }
    }
}

impl Handler for Proxy {
    fn on_request(
        &self,
        ctx: &mut Context<'_>,
        id: TransactionId,
        req: Request,
        source: Target,
        _merged: bool,
    ) {
        self.metrics.request(req.method());
        if self.validate(ctx, id, &req).is_err() {
            return;
        }
        let in_dialog = req.to().ok().and_then(|t| t.tag()).is_some();
        if !in_dialog && !self.acl.allows(source.addr.ip()) {
            self.answer(ctx, id, &req, StatusCode::FORBIDDEN, Some(Refusal::Acl));
            return;
        }
        // Route processing first: the loop hash leaves out the Routes of ours it finds.
        let info = route_info(&req, &self.local);
        let hash = loop_hash(&req, info.as_ref().map_or(0, |i| i.remove_top));
        if is_loop(&req, &self.local, hash) {
            self.answer(
                ctx,
                id,
                &req,
                StatusCode::LOOP_DETECTED,
                Some(Refusal::Loop),
            );
            return;
        }
        let Ok(info) = info else {
            self.answer(
                ctx,
                id,
                &req,
                StatusCode::BAD_REQUEST,
                Some(Refusal::BadRequest),
            );
            return;
        };
        let trusted = self.acl.is_trusted(source.addr.ip());
        let mut edits = BranchEdits {
            strip_identity: !trusted,
            ..Default::default()
        };
        let decision = if in_dialog {
            self.route_in_dialog(&req, &info, ctx.now())
        } else {
            if req.method() == Method::Invite && self.calls.len() >= self.invite_limit {
                return self.overloaded(ctx, id, &req);
            }
            if req.method() == Method::Invite
                && self.draining.load(std::sync::atomic::Ordering::Relaxed)
            {
                self.answer(
                    ctx,
                    id,
                    &req,
                    StatusCode::SERVICE_UNAVAILABLE,
                    Some(Refusal::Draining),
                );
                return;
            }
            if req.method() == Method::Invite
                && self.cdr.as_ref().is_some_and(|c| c.refuses_calls())
            {
                self.answer(
                    ctx,
                    id,
                    &req,
                    StatusCode::SERVICE_UNAVAILABLE,
                    Some(Refusal::CdrFull),
                );
                return;
            }
            let routed = self.route_initial(ctx, id, &req, &info, source);
            let leaves = matches!(
                routed.decision,
                Decision::Forward(_) | Decision::Gateways(..)
            );
            if routed.outbound && leaves && !trusted {
                let Ok(who) = self.authorize_outbound(ctx, id, &req) else {
                    return;
                };
                edits.strip_proxy_auth = true;
                edits.assert_identity = Some(who.identity);
            }
            routed.decision
        };
        let (dests, gateways) = match decision {
            Decision::Done => return,
            Decision::Answer(status, refusal) => {
                self.answer(ctx, id, &req, status, refusal);
                return;
            }
            Decision::Forward(d) => (d, None),
            Decision::Gateways(number, gws) => (Vec::new(), Some((number, gws))),
        };
        let dests = match self.fork_limits(&req, dests) {
            Ok((d, breadth)) => {
                edits.max_breadth = breadth;
                d
            }
            Err(()) => {
                self.answer_reason(
                    ctx,
                    id,
                    &req,
                    MAX_BREADTH_EXCEEDED,
                    "Max-Breadth Exceeded",
                    Refusal::MaxBreadth,
                );
                return;
            }
        };
        if req.method() == Method::Bye {
            self.note_bye(&req, ctx.now());
        }
        let mut call = Call::new(id, req.clone(), source, ctx.now());
        call.loop_hash = hash;
        call.edits = edits;
        let call_ref: CallRef = Arc::new(Mutex::new(call));
        let mut c = call_ref.lock();
        self.calls.insert(id, call_ref.clone());
        let mut last_error = StatusCode::SERVICE_UNAVAILABLE;
        for d in &dests {
            if let Err(s) = self.start_branch(ctx, &call_ref, &mut c, d, &info) {
                last_error = s;
            }
        }
        if let Some((number, gws)) = gateways {
            c.number = number;
            c.failover = gws;
            if !self.fail_over(ctx, &call_ref, &mut c) {
                last_error = StatusCode::SERVICE_UNAVAILABLE;
            }
        }
        if c.branches.is_empty() && c.resolving == 0 {
            c.answered = true;
            let busy = c.dns_busy;
            drop(c);
            if busy {
                // The pending-resolution table is full: come back later.
                return self.overloaded(ctx, id, &req);
            }
            let refusal =
                (last_error == StatusCode::SERVICE_UNAVAILABLE).then_some(Refusal::NoRoute);
            self.answer(ctx, id, &req, last_error, refusal);
        }
    }

    fn on_cancel(
        &self,
        ctx: &mut Context<'_>,
        id: TransactionId,
        cancel: Request,
        _source: Target,
        invite: Option<TransactionId>,
    ) {
        self.metrics.request(Method::Cancel);
        let Some(invite) = invite else {
            self.answer(
                ctx,
                id,
                &cancel,
                StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST,
                None,
            );
            return;
        };
        if ctx.reply(id, &cancel, StatusCode::OK, None).is_ok() {
            self.metrics.response(200);
        }
        let Some(call_ref) = self.calls.get(invite) else {
            return;
        };
        let mut c = call_ref.lock();
        if c.answered || c.cancelled {
            return;
        }
        c.cancelled = true;
        c.failover.clear();
        self.cancel_pending(ctx, &c);
        // A branch without a provisional response cannot be cancelled yet (§9.1): the
        // caller gets its 487 now rather than after Timer B.
        if c.pending().any(|b| !b.provisional) || c.idle() {
            c.offer(Candidate {
                status: 487,
                response: None,
            });
            self.send_best(ctx, &mut c);
        }
    }

    fn on_ack(
        &self,
        ctx: &mut Context<'_>,
        ack: Request,
        _source: Target,
        _transaction: Option<TransactionId>,
    ) {
        self.metrics.request(Method::Ack);
        self.forward_ack(ctx, &ack);
    }

    fn on_response(
        &self,
        ctx: &mut Context<'_>,
        id: TransactionId,
        response: Response,
        _source: Target,
    ) {
        let Some(call_ref) = self.calls.get(id) else {
            return;
        };
        self.relay(ctx, &call_ref, id, response);
    }

    fn on_stray_response(&self, _ctx: &mut Context<'_>, response: Response, source: Target) {
        // RFC 6026 §7.3 (updating RFC 3261 §16.7): a stateful proxy forwards only
        // responses that match a client transaction of its own. 2xx retransmissions
        // reach us through the transaction's Accepted state; anything else — a forged
        // 2xx whose top Via names us, say — is dropped, never relayed to the address
        // the next Via claims.
        self.metrics
            .stray_responses
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::debug!(status = response.status().as_u16(), %source, "stray response dropped");
    }

    fn on_timeout(&self, ctx: &mut Context<'_>, id: TransactionId, timer: Timer) {
        let Some(call_ref) = self.calls.get(id) else {
            return;
        };
        match timer {
            Timer::B | Timer::F | Timer::C => {
                tracing::debug!(%id, ?timer, "branch timed out");
                self.branch_final(
                    ctx,
                    &call_ref,
                    id,
                    Candidate {
                        status: 408,
                        response: None,
                    },
                );
            }
            Timer::Tu => {
                // The layer answered 408 itself: end the branches.
                let mut c = call_ref.lock();
                c.answered = true;
                self.cancel_pending(ctx, &c);
            }
            _ => {}
        }
    }

    fn on_transport_error(
        &self,
        ctx: &mut Context<'_>,
        id: TransactionId,
        error: TransportFailure,
    ) {
        let Some(call_ref) = self.calls.get(id) else {
            return;
        };
        let is_server = call_ref.lock().server == id;
        if is_server {
            let mut c = call_ref.lock();
            c.answered = true;
            self.cancel_pending(ctx, &c);
            return;
        }
        tracing::debug!(%id, %error, "branch transport failure");
        self.branch_final(
            ctx,
            &call_ref,
            id,
            Candidate {
                status: 503,
                response: None,
            },
        );
    }

    fn on_terminated(&self, _ctx: &mut Context<'_>, id: TransactionId) {
        self.calls.remove(id);
    }
}
