//! Branches to host names: a destination that names a host is resolved (RFC 3263,
//! [`crate::names`]) before its branch starts. Answered from the cache, the branch
//! starts in the same handler call; otherwise the request waits (counted in
//! `Call::resolving`, bounded by `dns.max_pending`) and the branch starts from the
//! resolver's thread through the endpoint's [`Endpoint::context`]. The candidates
//! after the first become the call's alternates: on a transport error, a timeout or a
//! 503 the next one gets a new branch (RFC 3263 §4.3), skipping blocklisted ones.

use std::sync::{Arc, Weak};

use sipcore::dns::{Candidate as DnsCandidate, Family, Preferences};
use sipcore::endpoint::{Context, Endpoint};
use sipcore::message::{Request, StatusCode};
use sipcore::transport::{Target, TransportKind};

use crate::calls::{Call, CallRef, Candidate};
use crate::forward::{edit_request, ForwardSpec};
use crate::names::{Outcome, Resolution};
use crate::proxy::Proxy;
use crate::target::{route_info, Dest, Hop, RouteInfo};

impl Proxy {
    /// Lets work that finishes on other threads (name resolution) reach the proxy and
    /// its endpoint. Call once, after the endpoint started.
    pub fn attach(self: &Arc<Self>, endpoint: &Arc<Endpoint>) {
        let _ = self
            .runtime
            .set((Arc::downgrade(self), Arc::downgrade(endpoint)));
    }

    /// Runs `f` with a context of the endpoint, from any thread; nothing when the proxy
    /// or endpoint is gone.
    fn later(runtime: &(Weak<Proxy>, Weak<Endpoint>), f: impl FnOnce(&Proxy, &mut Context<'_>)) {
        if let (Some(px), Some(ep)) = (runtime.0.upgrade(), runtime.1.upgrade()) {
            ep.context(|ctx| f(&px, ctx));
        }
    }

    fn preferences(&self) -> Preferences {
        let mut transports: Vec<TransportKind> =
            [TransportKind::Udp, TransportKind::Tcp, TransportKind::Tls]
                .into_iter()
                .filter(|k| self.transports.contains(k))
                .collect();
        if transports.is_empty() {
            transports.push(TransportKind::Udp);
        }
        Preferences {
            transports,
            families: vec![Family::V4, Family::V6],
            first_family: Family::V4,
        }
    }

    /// Resolves `uri` for `dest`'s branch; `Err(503)` when that cannot even start.
    pub(crate) fn start_resolving(
        &self,
        ctx: &mut Context<'_>,
        call_ref: &CallRef,
        c: &mut Call,
        dest: &Dest,
        uri: &str,
        info: &RouteInfo,
    ) -> Result<(), StatusCode> {
        let (Some(names), Some(runtime)) = (&self.names, self.runtime.get().cloned()) else {
            return Err(StatusCode::SERVICE_UNAVAILABLE);
        };
        if let Some(list) = names.lookup_cached(uri, ctx.now()) {
            return self.start_candidates(ctx, call_ref, c, dest, Ok(list), info);
        }
        let (cr, d) = (call_ref.clone(), dest.clone());
        let on_done = Box::new(move |outcome: Outcome| {
            Self::later(&runtime, |px, ctx| px.resolved(ctx, &cr, &d, outcome));
        });
        match names.resolve(uri, self.preferences(), ctx.now(), on_done) {
            Resolution::Ready(outcome) => {
                self.start_candidates(ctx, call_ref, c, dest, outcome, info)
            }
            Resolution::Pending => {
                c.resolving += 1;
                Ok(())
            }
            Resolution::Busy => {
                c.dns_busy = true;
                Err(StatusCode::SERVICE_UNAVAILABLE)
            }
        }
    }

    /// A resolution finished on the resolver's thread.
    fn resolved(&self, ctx: &mut Context<'_>, call_ref: &CallRef, dest: &Dest, outcome: Outcome) {
        let mut c = call_ref.lock();
        c.resolving = c.resolving.saturating_sub(1);
        if c.answered || c.cancelled {
            if !c.answered && c.idle() {
                self.send_best(ctx, &mut c);
            }
            c.release_if_done();
            return;
        }
        let started = match c.request.as_ref().map(|r| route_info(r, &self.local)) {
            Some(Ok(info)) => self.start_candidates(ctx, call_ref, &mut c, dest, outcome, &info),
            _ => Err(StatusCode::SERVICE_UNAVAILABLE),
        };
        if let Err(status) = started {
            c.offer(Candidate {
                status: status.as_u16(),
                response: None,
            });
            self.after_failure(ctx, call_ref, &mut c, true, status.as_u16());
        }
    }

    /// Starts the first usable candidate; the others become alternates.
    fn start_candidates(
        &self,
        ctx: &mut Context<'_>,
        call_ref: &CallRef,
        c: &mut Call,
        dest: &Dest,
        outcome: Outcome,
        info: &RouteInfo,
    ) -> Result<(), StatusCode> {
        let candidates = match outcome {
            Ok(list) => list,
            Err(e) => {
                tracing::debug!(dest = %dest.target, why = ?e, "destination did not resolve");
                // No such name or no answer: either way the destination cannot be reached
                // (503, so a gateway list fails over).
                return Err(StatusCode::SERVICE_UNAVAILABLE);
            }
        };
        let now = ctx.now();
        for k in &candidates {
            if let (TransportKind::Tls, Some(name)) = (k.transport, &k.server_name) {
                self.tls_names.remember(k.addr, name);
            }
        }
        let mut dests: Vec<Dest> = candidates
            .iter()
            .map(|k: &DnsCandidate| Dest {
                target: Hop::Addr(Target::new(k.transport, k.addr)),
                request_uri: dest.request_uri.clone(),
                gateway: dest.gateway,
                listed: true,
            })
            .filter(|d| match &d.target {
                Hop::Addr(t) => !self.routes.is_blacklisted(t, now),
                Hop::Name(_) => false,
            })
            .collect();
        if dests.is_empty() {
            return Err(StatusCode::SERVICE_UNAVAILABLE);
        }
        let first = dests.remove(0);
        // Alternates of this destination go before whatever was queued.
        for d in dests.into_iter().rev() {
            c.alternates.push_front(d);
        }
        match self.start_branch(ctx, call_ref, c, &first, info) {
            Ok(()) => Ok(()),
            Err(_) if self.fail_over(ctx, call_ref, c) => Ok(()),
            Err(s) => Err(s),
        }
    }

    /// An ACK for a 2xx whose next hop is a host name: sent to its first address, now
    /// or once resolved.
    pub(crate) fn forward_ack_to_name(&self, ctx: &mut Context<'_>, ack: &Request, uri: &str) {
        let (Some(names), Some(runtime)) = (&self.names, self.runtime.get().cloned()) else {
            return;
        };
        let copy = ack.clone();
        let on_done = Box::new(move |outcome: Outcome| {
            if let Ok(list) = outcome {
                Self::later(&runtime, |px, ctx| px.send_ack(ctx, &copy, &list));
            }
        });
        if let Resolution::Ready(Ok(list)) =
            names.resolve(uri, self.preferences(), ctx.now(), on_done)
        {
            self.send_ack(ctx, ack, &list);
        }
    }

    fn send_ack(&self, ctx: &mut Context<'_>, ack: &Request, list: &[DnsCandidate]) {
        let Some(k) = list.first() else { return };
        let target = Target::new(k.transport, k.addr);
        let Ok(info) = route_info(ack, &self.local) else {
            return;
        };
        let edits = crate::calls::BranchEdits {
            strip_identity: true,
            ..Default::default()
        };
        let spec = ForwardSpec {
            routes: Some(&info),
            loop_hash: crate::target::loop_hash(ack, info.remove_top),
            edits: Some(&edits),
            ..Default::default()
        };
        if let Ok(bytes) = edit_request(ctx, &self.local, ack, target, &spec) {
            if ctx.send_stateless(target, bytes).is_ok() {
                self.metrics
                    .acks_forwarded
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }
}
