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
use sipcore::message::{response_to, Method, Request, Response, StatusCode, ValidationError};
use sipcore::transaction::{stateless, Timer, TransactionId, TransportFailure};
use sipcore::transport::routing;
use sipcore::transport::Target;
use sipcore::uri::Uri;

use crate::acl::Acl;
use crate::auth::{Auth, Verdict};
use crate::calls::{Branch, Call, CallRef, Calls, Candidate};
use crate::cdr::Cdr;
use crate::forward::{edit_request, forward, strip_top_via, strip_top_via_adding, ForwardSpec};
use crate::local::Local;
use crate::metrics::{Metrics, Refusal};
use crate::registrar::{aor_of, Outcome, Registrar};
use crate::routes::{Gateway, Routes};
use crate::target::{is_loop, loop_hash, route_info, uri_target, RouteInfo};

/// Methods this proxy answers itself or relays; listed in `Allow` of its OPTIONS answer.
const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, INFO, UPDATE, PRACK, SUBSCRIBE, NOTIFY, REFER, MESSAGE";

/// The proxy (the endpoint's transaction user).
#[derive(Debug)]
pub struct Proxy {
    /// Own addresses.
    pub local: Local,
    /// Default route for initial requests.
    pub next_hop: Option<SocketAddr>,
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
}

/// Where one branch goes.
#[derive(Debug, Clone)]
struct Dest {
    target: Target,
    request_uri: Option<String>,
    gateway: Option<usize>,
}

/// What to do with a request.
enum Decision {
    Forward(Vec<Dest>),
    /// Class-4: gateways tried one after the other.
    Gateways(String, Vec<Gateway>),
    Answer(StatusCode, Option<Refusal>),
    /// Answered already (registrar, OPTIONS, challenge).
    Done,
}

fn is_dialog_creating(m: Method<'_>) -> bool {
    matches!(m, Method::Invite | Method::Subscribe | Method::Refer)
}

fn gateway_uri(number: &str, gw: &Gateway) -> String {
    let param = if gw.target.transport.is_reliable() {
        format!(
            ";transport={}",
            gw.target.transport.as_str().to_ascii_lowercase()
        )
    } else {
        String::new()
    };
    let host = match gw.target.addr {
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
    /// Answers `req` (server transaction `id`) with `status`, counting it.
    fn answer(
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

    fn respond_bytes(&self, ctx: &mut Context<'_>, id: TransactionId, bytes: bytes::Bytes) {
        if let Ok(r) = stateless::parse_response(bytes) {
            let status = r.status().as_u16();
            if ctx.respond(id, r).is_ok() {
                self.metrics.response(status);
            }
        }
    }

    /// §16.3 request validation; `Err` when the request was answered.
    fn validate(&self, ctx: &mut Context<'_>, id: TransactionId, req: &Request) -> Result<(), ()> {
        let Err(e) = req.validate(&[]) else {
            return Ok(());
        };
        match e {
            ValidationError::TooManyHops
                if req.method() == Method::Options && self.addressed_to_me(req) =>
            {
                // §16.3 step 3: OPTIONS with Max-Forwards 0 may be answered by the proxy.
                self.answer_options(ctx, id, req);
            }
            ValidationError::BadExtension { unsupported, .. } => {
                self.metrics.refuse(Refusal::BadExtension);
                let list = unsupported.join(", ");
                let tag = ctx.new_tag();
                let b = response_to(req, StatusCode::BAD_EXTENSION)
                    .to_tag(tag.as_str())
                    .header("Unsupported", list.as_str())
                    .build();
                self.respond_bytes(ctx, id, b);
            }
            e => {
                let refusal = match e {
                    ValidationError::TooManyHops => Refusal::TooManyHops,
                    ValidationError::UnsupportedUriScheme => Refusal::UnsupportedScheme,
                    _ => Refusal::BadRequest,
                };
                tracing::debug!(error = %e, "request refused");
                self.answer(ctx, id, req, e.status_code(), Some(refusal));
            }
        }
        Err(())
    }

    /// The Request-URI names the proxy itself (no user part, our address or domain).
    fn addressed_to_me(&self, req: &Request) -> bool {
        match req.uri() {
            Ok(Uri::Sip(s)) => s.user().is_none() && self.local.is_my_host(&s.host()),
            _ => false,
        }
    }

    fn answer_options(&self, ctx: &mut Context<'_>, id: TransactionId, req: &Request) {
        let tag = ctx.new_tag();
        let b = response_to(req, StatusCode::OK)
            .to_tag(tag.as_str())
            .header("Allow", ALLOW)
            .header("Accept", "application/sdp")
            .build();
        self.respond_bytes(ctx, id, b);
    }

    /// Digest check for REGISTER (401) and INVITE from local users (407); `Err` when
    /// the request was answered (challenged or refused).
    fn authenticate(
        &self,
        ctx: &mut Context<'_>,
        id: TransactionId,
        req: &Request,
    ) -> Result<bool, ()> {
        let Some(auth) = &self.auth else {
            return Ok(false);
        };
        let proxy = match req.method() {
            Method::Register if auth.register => false,
            Method::Invite if auth.invite && self.is_local_caller(req, auth) => true,
            _ => return Ok(false),
        };
        match auth.check(req, proxy, ctx.now()) {
            Verdict::Authenticated(_) => Ok(proxy),
            Verdict::Forbidden => {
                self.answer(
                    ctx,
                    id,
                    req,
                    StatusCode::FORBIDDEN,
                    Some(Refusal::AuthFailed),
                );
                Err(())
            }
            Verdict::Challenge { stale } => {
                self.metrics.refuse(Refusal::AuthChallenge);
                let (status, header) = if proxy {
                    (
                        StatusCode::PROXY_AUTHENTICATION_REQUIRED,
                        "Proxy-Authenticate",
                    )
                } else {
                    (StatusCode::UNAUTHORIZED, "WWW-Authenticate")
                };
                let challenges = auth.challenges(ctx.now(), stale);
                let tag = ctx.new_tag();
                let mut b = response_to(req, status).to_tag(tag.as_str());
                for c in &challenges {
                    b = b.header(header, c.as_str());
                }
                let bytes = b.build();
                self.respond_bytes(ctx, id, bytes);
                Err(())
            }
        }
    }

    fn is_local_caller(&self, req: &Request, auth: &Auth) -> bool {
        let Ok(from) = req.from_() else { return false };
        match from.uri() {
            Ok(Uri::Sip(s)) => {
                self.local.is_local_domain(&s.host()) && s.user().is_some_and(|u| auth.is_user(u))
            }
            _ => false,
        }
    }

    /// Where an initial request without Route goes (§16.5).
    fn route_initial(
        &self,
        ctx: &mut Context<'_>,
        id: TransactionId,
        req: &Request,
        source: Target,
    ) -> Decision {
        let now = ctx.now();
        let uri = req.uri();
        let (local_domain, user) = match &uri {
            Ok(Uri::Sip(s)) => (self.local.is_local_domain(&s.host()), s.user()),
            Ok(Uri::Tel(t)) => (true, Some(t.number())),
            _ => (false, None),
        };
        if local_domain {
            if req.method() == Method::Register {
                if let Some(reg) = &self.registrar {
                    self.register(ctx, id, req, reg);
                    return Decision::Done;
                }
            }
            if req.method() == Method::Options && user.is_none() {
                self.answer_options(ctx, id, req);
                return Decision::Done;
            }
            if let Some(reg) = &self.registrar {
                if let Some(aor) = aor_of(req.uri_bytes(), &self.local) {
                    let bindings = reg.lookup(&aor, now);
                    if !bindings.is_empty() {
                        let dests: Vec<Dest> = bindings
                            .iter()
                            .filter_map(|b| {
                                let target = Uri::parse(b.uri.as_bytes())
                                    .ok()
                                    .as_ref()
                                    .and_then(uri_target)?;
                                Some(Dest {
                                    target,
                                    request_uri: Some(b.uri.clone()),
                                    gateway: None,
                                })
                            })
                            .collect();
                        if dests.is_empty() {
                            return Decision::Answer(StatusCode::TEMPORARILY_UNAVAILABLE, None);
                        }
                        return Decision::Forward(dests);
                    }
                }
            }
            if let Some(gws) = user.and_then(|u| self.routes.lookup(u)) {
                return Decision::Gateways(user.unwrap_or_default().to_string(), gws.to_vec());
            }
        }
        if let Some(hop) = self.next_hop {
            return Decision::Forward(vec![Dest {
                target: Target::new(source.transport, hop),
                request_uri: None,
                gateway: None,
            }]);
        }
        if !local_domain {
            if let Some(target) = uri.ok().as_ref().and_then(uri_target) {
                return Decision::Forward(vec![Dest {
                    target,
                    request_uri: None,
                    gateway: None,
                }]);
            }
        }
        Decision::Answer(StatusCode::NOT_FOUND, Some(Refusal::NotFound))
    }

    fn register(&self, ctx: &mut Context<'_>, id: TransactionId, req: &Request, reg: &Registrar) {
        let now = ctx.now();
        let Some(aor) = req
            .to()
            .ok()
            .and_then(|t| aor_of(t.uri_bytes(), &self.local))
        else {
            self.answer(
                ctx,
                id,
                req,
                StatusCode::BAD_REQUEST,
                Some(Refusal::BadRequest),
            );
            return;
        };
        let outcome = reg.register(&aor, req, now);
        match &outcome {
            Outcome::IntervalTooBrief(_) => self.metrics.refuse(Refusal::IntervalTooBrief),
            Outcome::Ok(b) => tracing::debug!(aor, contacts = b.len(), "registered"),
            _ => {}
        }
        let tag = ctx.new_tag();
        let bytes = reg.response(req, &outcome, tag.as_str(), now);
        self.respond_bytes(ctx, id, bytes);
    }

    /// Starts one branch; `Err(status)` when it could not be sent at all.
    fn start_branch(
        &self,
        ctx: &mut Context<'_>,
        call_ref: &CallRef,
        c: &mut Call,
        dest: &Dest,
        info: &RouteInfo,
        strip_proxy_auth: bool,
    ) -> Result<(), StatusCode> {
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
            strip_proxy_auth,
        };
        match forward(ctx, &self.local, &req, dest.target, &spec) {
            Ok(client) => {
                self.metrics
                    .branches
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                c.branches.push(Branch {
                    id: client,
                    target: dest.target,
                    provisional: false,
                    status: 0,
                    gateway: dest.gateway,
                });
                self.calls.insert(client, call_ref.clone());
                Ok(())
            }
            Err(e) => {
                tracing::debug!(error = %e, target = %dest.target, "forward failed");
                Err(e.status())
            }
        }
    }

    /// Tries the remaining gateways in order; true when a branch started.
    fn next_gateway(&self, ctx: &mut Context<'_>, call_ref: &CallRef, c: &mut Call) -> bool {
        let now = ctx.now();
        while !c.failover.is_empty() {
            let gw = c.failover.remove(0);
            if self.routes.is_blacklisted(&gw.target, now) {
                continue;
            }
            let dest = Dest {
                target: gw.target,
                request_uri: Some(gateway_uri(&c.number, &gw)),
                gateway: Some(c.branches.len()),
            };
            let Some(info) = c
                .request
                .as_ref()
                .and_then(|r| route_info(r, &self.local).ok())
            else {
                return false;
            };
            if self
                .start_branch(ctx, call_ref, c, &dest, &info, false)
                .is_ok()
            {
                return true;
            }
            self.routes.blacklist(gw.target, now);
        }
        false
    }

    /// A branch ended without a usable answer or with a final non-2xx one.
    fn branch_final(
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
        let (gateway, target) = (b.gateway, b.target);
        if c.answered {
            c.release_if_done();
            return;
        }
        let retry = status == 408 || (500..600).contains(&status);
        if gateway.is_some() && retry && (local || status == 503 || status == 408) {
            self.routes.blacklist(target, ctx.now());
        }
        c.offer(cand);
        if retry && !c.cancelled && !c.failover.is_empty() {
            self.metrics
                .failovers
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if self.next_gateway(ctx, call_ref, &mut c) {
                return;
            }
        }
        if status >= 600 {
            self.cancel_pending(ctx, &c);
        }
        if c.pending().next().is_none() {
            self.send_best(ctx, &mut c);
        }
    }

    fn cancel_pending(&self, ctx: &mut Context<'_>, c: &Call) {
        if !c.invite {
            return;
        }
        for b in c.pending() {
            let _ = ctx.cancel(b.id);
        }
    }

    /// Sends the best final response upstream (§16.7 steps 6 to 8: a 401 or 407 with
    /// the challenges of the other branches added).
    fn send_best(&self, ctx: &mut Context<'_>, c: &mut Call) {
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
    fn relay(
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
                    // still goes upstream (RFC 6026 §8.2), statelessly.
                    if let Ok(m) = stateless::parse_response(bytes.clone()) {
                        let target = m
                            .top_via()
                            .map(|v| routing::response_target(&v, upstream, false))
                            .unwrap_or(upstream);
                        let _ = ctx.send_stateless(target, bytes);
                        self.metrics.response(status.as_u16());
                    }
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

    /// Forwards an ACK for a 2xx (or any ACK without a transaction) by its Route set,
    /// statelessly.
    fn forward_ack(&self, ctx: &mut Context<'_>, ack: &Request) {
        let Ok(info) = route_info(ack, &self.local) else {
            return;
        };
        let target = if let Some(n) = &info.next {
            n.target
        } else if let Some(fix) = &info.strict_from {
            Uri::parse(fix.uri.as_bytes())
                .ok()
                .as_ref()
                .and_then(uri_target)
        } else {
            match ack.uri() {
                Ok(Uri::Sip(s)) if !self.local.is_me(&s) => crate::target::sip_target(&s),
                _ => None,
            }
        };
        let Some(target) = target else { return };
        let spec = ForwardSpec {
            routes: Some(&info),
            loop_hash: loop_hash(ack),
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
        let hash = loop_hash(&req);
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
        let Ok(info) = route_info(&req, &self.local) else {
            self.answer(
                ctx,
                id,
                &req,
                StatusCode::BAD_REQUEST,
                Some(Refusal::BadRequest),
            );
            return;
        };
        let mut strip_proxy_auth = false;
        let decision = if let Some(next) = &info.next {
            match next.target {
                Some(target) => Decision::Forward(vec![Dest {
                    target,
                    request_uri: None,
                    gateway: None,
                }]),
                None => Decision::Answer(StatusCode::SERVICE_UNAVAILABLE, Some(Refusal::NoRoute)),
            }
        } else if in_dialog {
            let uri = info
                .strict_from
                .as_ref()
                .map(|f| f.uri.as_bytes())
                .unwrap_or(req.uri_bytes());
            match Uri::parse(uri) {
                Ok(Uri::Sip(s)) if !self.local.is_me(&s) => match crate::target::sip_target(&s) {
                    Some(target) => Decision::Forward(vec![Dest {
                        target,
                        request_uri: None,
                        gateway: None,
                    }]),
                    None => {
                        Decision::Answer(StatusCode::SERVICE_UNAVAILABLE, Some(Refusal::NoRoute))
                    }
                },
                _ => Decision::Answer(StatusCode::NOT_FOUND, Some(Refusal::NotFound)),
            }
        } else {
            match self.authenticate(ctx, id, &req) {
                Err(()) => return,
                Ok(s) => strip_proxy_auth = s,
            }
            if req.method() == Method::Invite && self.calls.len() >= self.invite_limit {
                self.metrics.refuse(Refusal::Overload);
                let secs = self.retry_after.to_string();
                let tag = ctx.new_tag();
                let b = response_to(&req, StatusCode::SERVICE_UNAVAILABLE)
                    .to_tag(tag.as_str())
                    .header("Retry-After", secs.as_str())
                    .build();
                self.respond_bytes(ctx, id, b);
                return;
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
            self.route_initial(ctx, id, &req, source)
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
        if req.method() == Method::Bye {
            self.note_bye(&req, ctx.now());
        }
        let mut call = Call::new(id, req.clone(), source, ctx.now());
        call.loop_hash = hash;
        let call_ref: CallRef = Arc::new(Mutex::new(call));
        let mut c = call_ref.lock();
        self.calls.insert(id, call_ref.clone());
        let mut last_error = StatusCode::SERVICE_UNAVAILABLE;
        for d in &dests {
            if let Err(s) = self.start_branch(ctx, &call_ref, &mut c, d, &info, strip_proxy_auth) {
                last_error = s;
            }
        }
        if let Some((number, gws)) = gateways {
            c.number = number;
            c.failover = gws;
            if !self.next_gateway(ctx, &call_ref, &mut c) {
                last_error = StatusCode::SERVICE_UNAVAILABLE;
            }
        }
        if c.branches.is_empty() {
            c.answered = true;
            drop(c);
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
        if c.pending().any(|b| !b.provisional) || c.pending().next().is_none() {
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

    fn on_stray_response(&self, ctx: &mut Context<'_>, response: Response, source: Target) {
        // A 2xx of a branch whose transaction has ended: relay it upstream statelessly
        // when the top Via is ours (RFC 6026 §8.9 allows a proxy to forward it).
        if !response.status().is_success() {
            return;
        }
        let mine = response.top_via().is_ok_and(|v| self.local.is_my_via(&v));
        if !mine {
            return;
        }
        if let Ok(r) = strip_top_via(&response) {
            let target = r.top_via().ok().and_then(|v| via_target(&v));
            if let Some(target) = target {
                let _ = ctx.send_stateless(target, r.bytes());
            }
        }
        let _ = source;
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

/// Where a response goes by its Via alone (no server transaction to ask): `received`
/// or the sent-by host, `rport` or the sent-by port.
fn via_target(v: &sipcore::message::Via<'_>) -> Option<Target> {
    let kind = sipcore::transport::TransportKind::from_token(v.transport)?;
    let host = v.received().unwrap_or(v.host);
    let ip = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()?;
    let port = match v.rport() {
        Some(Some(p)) => p,
        _ => v.port.unwrap_or(routing::default_port(kind)),
    };
    Some(Target::new(kind, SocketAddr::new(ip, port)))
}
