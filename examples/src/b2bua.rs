//! A minimal back-to-back user agent on sipcore's public API (the threaded endpoint, the
//! transaction layer and `sipcore::dialog`): every INVITE that arrives (leg A) is
//! answered as a UAS and placed again as a new call (leg B, its own Call-ID, tags and
//! CSeq) to a fixed destination; provisional and final answers of B go back to A, the
//! SDP copied both ways; a BYE on either leg ends the other. It is an example of
//! bridging two dialogs, not a product: no re-INVITE bridging, no media anchoring,
//! UDP only.

use std::collections::HashMap;
use std::net::SocketAddr;

use bytes::Bytes;
use parking_lot::Mutex;
use sipcore::dialog::{Dialog, State};
use sipcore::endpoint::{Context, Handler};
use sipcore::message::{
    response_to, HeaderId, Message, Method, Request, RequestBuilder, Response, StatusCode,
};
use sipcore::transaction::{Timer, TransactionId, TransportFailure};
use sipcore::transport::Target;

/// One bridged call.
#[derive(Debug)]
struct Bridge {
    /// Leg A's INVITE server transaction and request (until answered).
    a_server: TransactionId,
    a_invite: Request,
    a: Dialog,
    /// Leg B's INVITE as sent, its client transaction and its dialog once answered.
    b_invite: Request,
    b_client: TransactionId,
    b: Option<Dialog>,
}

/// The B2BUA's handler.
#[derive(Debug)]
pub struct B2bua {
    /// Our own address (Via, Contact).
    pub local: SocketAddr,
    /// Where leg B goes.
    pub to: SocketAddr,
    calls: Mutex<Vec<Bridge>>,
    by_client: Mutex<HashMap<TransactionId, usize>>,
}

/// At most this many calls at once (a bounded table; more get 503).
const MAX_CALLS: usize = 10_000;

fn parse_request(b: Bytes) -> Option<Request> {
    match Message::parse(b).ok()? {
        Message::Request(r) => Some(r),
        Message::Response(_) => None,
    }
}

fn body_and_type(m: &sipcore::message::MessageBuf) -> (Vec<u8>, String) {
    let ct = m
        .header(HeaderId::ContentType)
        .and_then(|v| std::str::from_utf8(v).ok())
        .unwrap_or("application/sdp")
        .to_string();
    (m.body().to_vec(), ct)
}

impl B2bua {
    /// A B2BUA at `local` sending leg B to `to`.
    pub fn new(local: SocketAddr, to: SocketAddr) -> B2bua {
        B2bua {
            local,
            to,
            calls: Mutex::default(),
            by_client: Mutex::default(),
        }
    }

    fn via(&self, ctx: &Context<'_>) -> String {
        format!(
            "SIP/2.0/UDP {};branch={};rport",
            self.local,
            ctx.new_branch()
        )
    }

    fn contact(&self) -> String {
        format!("sip:b2bua@{}", self.local)
    }

    fn reply(
        &self,
        ctx: &mut Context<'_>,
        id: TransactionId,
        req: &Request,
        status: StatusCode,
        tag: &str,
    ) {
        let _ = ctx.reply(id, req, status, Some(tag));
    }

    /// A new call on leg A: answer as a UAS, call leg B.
    fn new_call(&self, ctx: &mut Context<'_>, id: TransactionId, req: Request) {
        let tag = ctx.new_tag();
        let contact = self.contact();
        let Ok(a) = Dialog::uas(&req, tag.as_str(), Some(&contact)) else {
            return self.reply(ctx, id, &req, StatusCode::BAD_REQUEST, tag.as_str());
        };
        if self.calls.lock().len() >= MAX_CALLS {
            return self.reply(ctx, id, &req, StatusCode::SERVICE_UNAVAILABLE, tag.as_str());
        }
        let user = match req.uri() {
            Ok(sipcore::uri::Uri::Sip(s)) => s.user().unwrap_or("b").to_string(),
            _ => "b".to_string(),
        };
        let uri = format!("sip:{user}@{}", self.to);
        let from = format!("<sip:b2bua@{}>;tag={}", self.local, ctx.new_tag());
        let to = format!("<{uri}>");
        let call_id = ctx.new_call_id();
        let via = self.via(ctx);
        let contact = format!("<{contact}>");
        let (body, ct) = body_and_type(&req);
        let b = RequestBuilder::new(Method::Invite, uri.as_str())
            .via(via.as_str())
            .from(from.as_str())
            .to(to.as_str())
            .call_id(call_id.as_str())
            .cseq(1)
            .contact(contact.as_str())
            .body(ct.as_str(), body.as_slice())
            .build();
        let Some(b_invite) = parse_request(b) else {
            return self.reply(
                ctx,
                id,
                &req,
                StatusCode::SERVER_INTERNAL_ERROR,
                tag.as_str(),
            );
        };
        match ctx.send_request(b_invite.clone(), Target::udp(self.to)) {
            Ok(b_client) => {
                let mut calls = self.calls.lock();
                calls.push(Bridge {
                    a_server: id,
                    a_invite: req,
                    a,
                    b_invite,
                    b_client,
                    b: None,
                });
                self.by_client.lock().insert(b_client, calls.len() - 1);
            }
            Err(_) => self.reply(ctx, id, &req, StatusCode::SERVICE_UNAVAILABLE, tag.as_str()),
        }
    }

    /// Leg B answered (a response to its INVITE).
    fn b_answered(&self, ctx: &mut Context<'_>, i: usize, resp: &Response) {
        let mut calls = self.calls.lock();
        let Some(c) = calls.get_mut(i) else { return };
        let status = resp.status();
        let tag = c.a.id().local_tag.clone();
        if status.as_u16() == 100 {
            return;
        }
        if status.is_success() {
            let Ok(mut b) = Dialog::uac(&c.b_invite, resp) else {
                return;
            };
            b.confirm();
            // ACK leg B's 2xx (ours to send, RFC 3261 §13.2.2.4).
            let via = self.via(ctx);
            if let Ok(ack) = b.ack(1, &via) {
                let _ = ctx.send_stateless(Target::udp(self.to), ack);
            }
            c.b = Some(b);
            c.a.confirm();
        }
        let (body, ct) = body_and_type(resp);
        let contact = format!("<{}>", self.contact());
        let bytes = {
            let mut r = response_to(&c.a_invite, status).to_tag(tag.as_str());
            if status.is_success() {
                r = r
                    .header("Contact", contact.as_str())
                    .body(ct.as_str(), body.as_slice());
            }
            r.build()
        };
        if let Ok(Message::Response(out)) = Message::parse(bytes) {
            let _ = ctx.respond(c.a_server, out);
        }
        if status.as_u16() >= 300 {
            Self::remove(&mut calls, &mut self.by_client.lock(), i);
        }
    }

    /// Drops call `i` (its index entry, and the index of the call moved into its slot).
    fn remove(calls: &mut Vec<Bridge>, idx: &mut HashMap<TransactionId, usize>, i: usize) {
        if i >= calls.len() {
            return;
        }
        let gone = calls.swap_remove(i);
        idx.remove(&gone.b_client);
        if let Some(moved) = calls.get(i) {
            idx.insert(moved.b_client, i);
        }
    }

    /// A request inside one of the two dialogs.
    fn in_dialog(&self, ctx: &mut Context<'_>, id: TransactionId, req: Request) {
        let mut calls = self.calls.lock();
        let leg = calls.iter_mut().enumerate().find_map(|(i, c)| {
            if c.a.matches_request(&req) {
                Some((i, true))
            } else if c.b.as_ref().is_some_and(|b| b.matches_request(&req)) {
                Some((i, false))
            } else {
                None
            }
        });
        let Some((i, from_a)) = leg else {
            drop(calls);
            let _ = ctx.reply(id, &req, StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST, None);
            return;
        };
        let Some(c) = calls.get_mut(i) else { return };
        let (this, other) = if from_a {
            (&mut c.a, c.b.as_mut())
        } else {
            match c.b.as_mut() {
                Some(b) => (b, Some(&mut c.a)),
                None => return,
            }
        };
        if this.on_request(&req).is_err() {
            let _ = ctx.reply(id, &req, StatusCode::SERVER_INTERNAL_ERROR, None);
            return;
        }
        let _ = ctx.reply(id, &req, StatusCode::OK, None);
        if req.method() == Method::Bye {
            if let Some(o) = other {
                let via = self.via(ctx);
                let target = sipcore::uri::Uri::parse(o.remote_target().as_bytes())
                    .ok()
                    .and_then(|u| match u {
                        sipcore::uri::Uri::Sip(s) => s
                            .host()
                            .ip()
                            .map(|ip| SocketAddr::new(ip, s.port().unwrap_or(5060))),
                        _ => None,
                    });
                if let (Ok(bye), Some(target)) = (o.request(Method::Bye, &via), target) {
                    if let Some(bye) = parse_request(bye) {
                        let _ = ctx.send_request(bye, Target::udp(target));
                    }
                }
                o.terminate();
            }
        }
        if c.a.state() == State::Terminated
            && c.b.as_ref().is_none_or(|b| b.state() == State::Terminated)
        {
            Self::remove(&mut calls, &mut self.by_client.lock(), i);
        }
    }
}

impl Handler for B2bua {
    fn on_request(
        &self,
        ctx: &mut Context<'_>,
        id: TransactionId,
        req: Request,
        _: Target,
        _: bool,
    ) {
        let tagged = req.to().ok().and_then(|t| t.tag()).is_some();
        match (req.method(), tagged) {
            (Method::Invite, false) => self.new_call(ctx, id, req),
            (_, true) => self.in_dialog(ctx, id, req),
            (Method::Options, false) => {
                let tag = ctx.new_tag();
                self.reply(ctx, id, &req, StatusCode::OK, tag.as_str());
            }
            _ => {
                let tag = ctx.new_tag();
                self.reply(ctx, id, &req, StatusCode::METHOD_NOT_ALLOWED, tag.as_str());
            }
        }
    }

    fn on_response(&self, ctx: &mut Context<'_>, id: TransactionId, resp: Response, _: Target) {
        let i = self.by_client.lock().get(&id).copied();
        if let Some(i) = i {
            if resp.cseq().is_ok_and(|c| c.method == Method::Invite) {
                self.b_answered(ctx, i, &resp);
            }
        }
    }

    fn on_timeout(&self, ctx: &mut Context<'_>, id: TransactionId, timer: Timer) {
        if matches!(timer, Timer::B | Timer::C) {
            self.fail_a(ctx, id, StatusCode::REQUEST_TIMEOUT);
        }
    }

    fn on_transport_error(&self, ctx: &mut Context<'_>, id: TransactionId, _: TransportFailure) {
        self.fail_a(ctx, id, StatusCode::SERVICE_UNAVAILABLE);
    }
}

impl B2bua {
    /// Leg B's INVITE failed without an answer: leg A gets `status`.
    fn fail_a(&self, ctx: &mut Context<'_>, b_client: TransactionId, status: StatusCode) {
        let Some(i) = self.by_client.lock().get(&b_client).copied() else {
            return;
        };
        let mut calls = self.calls.lock();
        if let Some(c) = calls.get(i).filter(|c| c.b.is_none()) {
            let tag = c.a.id().local_tag.clone();
            let _ = ctx.reply(c.a_server, &c.a_invite, status, Some(tag.as_str()));
            Self::remove(&mut calls, &mut self.by_client.lock(), i);
        }
    }
}
