//! The routing policy: what this proxy forwards, for whom, and what it refuses
//! (RFC 3261 §16.3 to §16.5 with the rules that keep a proxy on the internet from
//! being an open relay or a toll-fraud gateway).
//!
//! - **Initial requests for our domains** (every listen address and port, the
//!   configured `server.domains`; for a wildcard listen address the host's own
//!   addresses): REGISTER goes to the registrar, OPTIONS without a user part is
//!   answered, a registered user's calls go to their contacts. Those are *local*.
//!   Prefix routes (gateways) and `next_hop` are *outbound*. Anything else: 404.
//! - **Initial requests for other domains**, or with a preloaded Route to someone
//!   else: *outbound* (relay).
//! - **Outbound** requests are served when their source is trusted (`acl.trusted`),
//!   else when `auth.outbound` is on and they carry valid credentials (407 otherwise)
//!   whose user is the From identity (403 otherwise, whatever the From, the Route or
//!   the Request-URI say); else 403 "Relaying denied".
//! - **In-dialog requests** (To tag) are forwarded only when they carry a Route that
//!   names this proxy (its Record-Route, loose-route semantics) or are for a local
//!   registered user; otherwise 404. An ACK without a transaction and without our
//!   Route is dropped silently (see `Proxy::forward_ack`).
//! - Client-asserted identities (P-Asserted-Identity, P-Preferred-Identity) from
//!   untrusted sources are removed; an authenticated outbound request towards the
//!   configured peers carries the identity we checked.
//! - The registrar binds an AOR to its authenticated user: a user changes only their
//!   own bindings (403, RFC 3261 §10.3 step 6); AORs of other domains get 404.

use sipcore::endpoint::Context;
use sipcore::message::{response_to, Method, Request, StatusCode, ValidationError};
use sipcore::transaction::TransactionId;
use sipcore::transport::Target;
use sipcore::uri::Uri;

use crate::auth::Verdict;
use crate::metrics::Refusal;
use crate::proxy::{Decision, Proxy, ALLOW};
use crate::registrar::{aor_of, Outcome, Registrar};
use crate::target::{uri_hop, RouteInfo};
use crate::target::{Dest, Hop};

/// Where a routed initial request goes, and whether that is outside our own users.
pub(crate) struct Routed {
    pub decision: Decision,
    /// Towards a gateway, the next hop or another domain: needs a trusted source or
    /// credentials.
    pub outbound: bool,
}

impl Routed {
    fn local(decision: Decision) -> Routed {
        Routed {
            decision,
            outbound: false,
        }
    }
    fn outbound(decision: Decision) -> Routed {
        Routed {
            decision,
            outbound: true,
        }
    }
}

/// The user an outbound request was authenticated as, and the identity to assert.
pub(crate) struct Authorized {
    /// The From URI the credentials were checked against (`P-Asserted-Identity`).
    pub identity: String,
}

impl Proxy {
    /// Answers with a status and a reason phrase of our own.
    pub(crate) fn answer_reason(
        &self,
        ctx: &mut Context<'_>,
        id: TransactionId,
        req: &Request,
        status: StatusCode,
        reason: &str,
        refusal: Refusal,
    ) {
        self.metrics.refuse(refusal);
        let tag = ctx.new_tag();
        let b = response_to(req, status)
            .reason(reason)
            .to_tag(tag.as_str())
            .build();
        self.respond_bytes(ctx, id, b);
    }

    /// §16.3 request validation; `Err` when the request was answered.
    pub(crate) fn validate(
        &self,
        ctx: &mut Context<'_>,
        id: TransactionId,
        req: &Request,
    ) -> Result<(), ()> {
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
    pub(crate) fn addressed_to_me(&self, req: &Request) -> bool {
        match req.uri() {
            Ok(Uri::Sip(s)) => s.user().is_none() && self.local.is_for_us(&s),
            _ => false,
        }
    }

    pub(crate) fn answer_options(&self, ctx: &mut Context<'_>, id: TransactionId, req: &Request) {
        let tag = ctx.new_tag();
        let b = response_to(req, StatusCode::OK)
            .to_tag(tag.as_str())
            .header("Allow", ALLOW)
            .header("Accept", "application/sdp")
            .build();
        self.respond_bytes(ctx, id, b);
    }

    /// Sends a 401 (`proxy` false) or 407 challenge.
    fn challenge(
        &self,
        ctx: &mut Context<'_>,
        id: TransactionId,
        req: &Request,
        proxy: bool,
        stale: bool,
    ) {
        let Some(auth) = &self.auth else { return };
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
    }

    /// Checks credentials (`proxy`: Proxy-Authorization); `Err` when answered.
    fn authenticated_user(
        &self,
        ctx: &mut Context<'_>,
        id: TransactionId,
        req: &Request,
        proxy: bool,
    ) -> Result<String, ()> {
        let Some(auth) = &self.auth else {
            return Err(());
        };
        match auth.check(req, proxy, ctx.now()) {
            Verdict::Authenticated(user) => Ok(user),
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
                self.challenge(ctx, id, req, proxy, stale);
                Err(())
            }
        }
    }

    /// An outbound request from an untrusted source: credentials (407) whose user is
    /// the From identity, or 403; `Err` when answered.
    pub(crate) fn authorize_outbound(
        &self,
        ctx: &mut Context<'_>,
        id: TransactionId,
        req: &Request,
    ) -> Result<Authorized, ()> {
        if !self.auth.as_ref().is_some_and(|a| a.outbound) {
            self.answer_reason(
                ctx,
                id,
                req,
                StatusCode::FORBIDDEN,
                "Relaying denied",
                Refusal::RelayDenied,
            );
            return Err(());
        }
        let user = self.authenticated_user(ctx, id, req, true)?;
        match self.caller_identity(req) {
            Some((from_user, uri)) if from_user == user => Ok(Authorized { identity: uri }),
            _ => {
                self.answer_reason(
                    ctx,
                    id,
                    req,
                    StatusCode::FORBIDDEN,
                    "From does not match the credentials",
                    Refusal::IdentityMismatch,
                );
                Err(())
            }
        }
    }

    /// The From user (percent-decoded) and `<URI>` when the From is a SIP URI of one of
    /// our domains.
    fn caller_identity(&self, req: &Request) -> Option<(String, String)> {
        let from = req.from_().ok()?;
        match from.uri().ok()? {
            Uri::Sip(s) if self.local.is_local_domain(&s.host()) => {
                let user = s.user_decoded()?.into_owned();
                let uri = std::str::from_utf8(from.uri_bytes()).ok()?;
                Some((user, format!("<{uri}>")))
            }
            _ => None,
        }
    }

    /// Where an initial request goes (§16.4, §16.5) and whether that is outbound.
    pub(crate) fn route_initial(
        &self,
        ctx: &mut Context<'_>,
        id: TransactionId,
        req: &Request,
        info: &RouteInfo,
        source: Target,
    ) -> Routed {
        if let Some(next) = &info.next {
            // A preloaded Route to someone else.
            return Routed::outbound(match next.target.clone() {
                Some(hop) => Decision::Forward(vec![Dest::to(hop)]),
                None => Decision::Answer(StatusCode::SERVICE_UNAVAILABLE, Some(Refusal::NoRoute)),
            });
        }
        let uri = req.uri();
        let (ours, user) = match &uri {
            Ok(Uri::Sip(s)) => (self.local.is_for_us(s), s.user()),
            // A telephone number: ours to route (prefix routes, registered numbers).
            Ok(Uri::Tel(t)) => (true, Some(t.number())),
            _ => (false, None),
        };
        if !ours {
            let dest = self
                .next_hop_dest(source)
                .or_else(|| uri_hop(req.uri_bytes()).map(Dest::to));
            return Routed::outbound(match dest {
                Some(d) => Decision::Forward(vec![d]),
                None => Decision::Answer(StatusCode::NOT_FOUND, Some(Refusal::NotFound)),
            });
        }
        if req.method() == Method::Register {
            if let Some(reg) = &self.registrar {
                self.register(ctx, id, req, reg);
                return Routed::local(Decision::Done);
            }
        }
        if req.method() == Method::Options && user.is_none() {
            self.answer_options(ctx, id, req);
            return Routed::local(Decision::Done);
        }
        if let Some(d) = self.registered(req, ctx.now()) {
            return Routed::local(d);
        }
        if let Some(gws) = user.and_then(|u| self.routes.lookup(u)) {
            return Routed::outbound(Decision::Gateways(
                user.unwrap_or_default().to_string(),
                gws.to_vec(),
            ));
        }
        if let Some(d) = self.next_hop_dest(source) {
            return Routed::outbound(Decision::Forward(vec![d]));
        }
        Routed::local(Decision::Answer(
            StatusCode::NOT_FOUND,
            Some(Refusal::NotFound),
        ))
    }

    /// The configured next hop, as a destination (an address over the transport the
    /// request came in on, or a URI to resolve).
    fn next_hop_dest(&self, source: Target) -> Option<Dest> {
        let hop = match self.next_hop.as_ref()? {
            crate::config::NextHop::Addr(a) => Hop::Addr(Target::new(source.transport, *a)),
            crate::config::NextHop::Uri(u) => uri_hop(u.as_bytes())?,
        };
        Some(Dest {
            listed: true,
            ..Dest::to(hop)
        })
    }

    /// The contacts of the registered user the Request-URI names, if any.
    fn registered(&self, req: &Request, now: std::time::Instant) -> Option<Decision> {
        let reg = self.registrar.as_ref()?;
        let aor = aor_of(req.uri_bytes(), &self.local)?;
        let bindings = reg.lookup(&aor, now);
        if bindings.is_empty() {
            return None;
        }
        let dests: Vec<Dest> = bindings
            .iter()
            .filter_map(|b| {
                Some(Dest {
                    target: uri_hop(b.uri.as_bytes())?,
                    request_uri: Some(b.uri.clone()),
                    gateway: None,
                    listed: false,
                })
            })
            .collect();
        if dests.is_empty() {
            return Some(Decision::Answer(StatusCode::TEMPORARILY_UNAVAILABLE, None));
        }
        Some(Decision::Forward(dests))
    }

    /// Where an in-dialog request goes: by a Route of ours (loose routing), or to a
    /// local registered user; else 404.
    pub(crate) fn route_in_dialog(
        &self,
        req: &Request,
        info: &RouteInfo,
        now: std::time::Instant,
    ) -> Decision {
        let ours = info.remove_top > 0 || info.strict_from.is_some();
        if !ours {
            return match self.registered(req, now) {
                Some(d) => d,
                None => Decision::Answer(StatusCode::NOT_FOUND, Some(Refusal::NotInDialog)),
            };
        }
        if let Some(next) = &info.next {
            return match next.target.clone() {
                Some(hop) => Decision::Forward(vec![Dest::to(hop)]),
                None => Decision::Answer(StatusCode::SERVICE_UNAVAILABLE, Some(Refusal::NoRoute)),
            };
        }
        let uri = info
            .strict_from
            .as_ref()
            .map(|f| f.uri.as_bytes())
            .unwrap_or(req.uri_bytes());
        match Uri::parse(uri) {
            Ok(Uri::Sip(s)) if !self.local.is_me(&s) => match uri_hop(uri) {
                Some(hop) => Decision::Forward(vec![Dest::to(hop)]),
                None => Decision::Answer(StatusCode::SERVICE_UNAVAILABLE, Some(Refusal::NoRoute)),
            },
            _ => match self.registered(req, now) {
                Some(d) => d,
                None => Decision::Answer(StatusCode::NOT_FOUND, Some(Refusal::NotFound)),
            },
        }
    }

    /// A REGISTER for one of our domains: credentials when `auth.register` (401), the
    /// AOR owned by the authenticated user (403), AORs of other domains 404.
    fn register(&self, ctx: &mut Context<'_>, id: TransactionId, req: &Request, reg: &Registrar) {
        let now = ctx.now();
        let to = req.to().ok();
        let to_uri = to.as_ref().and_then(|t| t.uri().ok());
        let aor_user = match &to_uri {
            Some(Uri::Sip(s)) if self.local.is_local_domain(&s.host()) => s.user_decoded(),
            Some(Uri::Sip(_)) => {
                self.answer_reason(
                    ctx,
                    id,
                    req,
                    StatusCode::NOT_FOUND,
                    "Not Found (domain not served here)",
                    Refusal::NotFound,
                );
                return;
            }
            _ => None,
        };
        let Some(aor) = aor_user.map(|u| u.into_owned()) else {
            self.answer(
                ctx,
                id,
                req,
                StatusCode::BAD_REQUEST,
                Some(Refusal::BadRequest),
            );
            return;
        };
        if self.auth.as_ref().is_some_and(|a| a.register) {
            let Ok(user) = self.authenticated_user(ctx, id, req, false) else {
                return;
            };
            if user != aor {
                // §10.3 step 6: the authenticated user may not change this AOR.
                self.answer_reason(
                    ctx,
                    id,
                    req,
                    StatusCode::FORBIDDEN,
                    "Not the owner of this address of record",
                    Refusal::NotOwner,
                );
                return;
            }
        }
        let outcome = reg.register(&aor, req, now);
        match &outcome {
            Outcome::IntervalTooBrief(_) => self.metrics.refuse(Refusal::IntervalTooBrief),
            Outcome::TooManyContacts(_) => self.metrics.refuse(Refusal::TooManyContacts),
            Outcome::Ok(b) => tracing::debug!(aor, contacts = b.len(), "registered"),
            _ => {}
        }
        let tag = ctx.new_tag();
        let bytes = reg.response(req, &outcome, tag.as_str(), now);
        self.respond_bytes(ctx, id, bytes);
    }
}
