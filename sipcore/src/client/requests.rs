//! Client requests with completion on the threaded endpoint: send a request, get a
//! [`ResponseHandle`] that yields its provisional and final responses (or the timeout
//! or transport failure that ended it), instead of matching `TransactionId`s in a
//! handler.
//!
//! [`Requests`] wraps the application's [`Handler`]: responses and failures of the
//! requests sent through [`Requests::request`] go to their handles; everything else
//! reaches the inner handler unchanged. The handle is registered inside the endpoint
//! context that creates the transaction, before anything is sent, so no response can
//! arrive ahead of it.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use sipcore::client::{ClientEvent, Requests};
//! use sipcore::endpoint::{Context, Endpoint, EndpointConfig, Handler};
//! use sipcore::message::{Message, Request, StatusCode};
//! use sipcore::pool::{ReceiverPool, ReusePortPool};
//! use sipcore::transaction::TransactionId;
//! use sipcore::transport::{udp::UdpConfig, Target, Transport};
//!
//! // A UAS answering 200, and a client endpoint.
//! struct Ok200;
//! impl Handler for Ok200 {
//!     fn on_request(&self, ctx: &mut Context<'_>, id: TransactionId, req: Request, _: Target, _: bool) {
//!         let tag = ctx.new_tag();
//!         let _ = ctx.reply(id, &req, StatusCode::OK, Some(tag.as_str()));
//!     }
//! }
//! struct Nothing;
//! impl Handler for Nothing {
//!     fn on_request(&self, _: &mut Context<'_>, _: TransactionId, _: Request, _: Target, _: bool) {}
//! }
//! let uas_pool = ReusePortPool::bind(&UdpConfig::new("127.0.0.1:0".parse()?), 1)?;
//! let uas_addr = uas_pool.transport().local_addr();
//! let uas = Endpoint::builder(EndpointConfig::default()).udp_pool(Box::new(uas_pool)).start(Arc::new(Ok200))?;
//! let pool = ReusePortPool::bind(&UdpConfig::new("127.0.0.1:0".parse()?), 1)?;
//! let me = pool.transport().local_addr();
//! let requests = Arc::new(Requests::new(Nothing));
//! let client = Endpoint::builder(EndpointConfig::default()).udp_pool(Box::new(pool)).start(requests.clone())?;
//! let text = format!("OPTIONS sip:{uas_addr} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKdoc1\r\n\
//!     From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: doc1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n");
//! let Message::Request(req) = Message::parse(text.into())? else { unreachable!() };
//! let handle = requests.request(&client, req, Target::udp(uas_addr))?;
//! let resp = handle.final_response(Duration::from_secs(5))?;
//! assert_eq!(resp.status(), StatusCode::OK);
//! client.shutdown();
//! uas.shutdown();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use parking_lot::Mutex;

use crate::endpoint::{Context, Endpoint, Handler};
use crate::message::{Request, Response};
use crate::transaction::{Timer, TransactionError, TransactionId, TransportFailure};
use crate::transport::Target;

/// Responses and failures kept per handle before its owner reads them; more are
/// dropped (provisional ones first would be a nicer rule; a handle that nobody reads
/// only loses its own events).
const QUEUE: usize = 64;

/// What happened to a request sent with [`Requests::request`].
#[derive(Debug, Clone)]
pub enum ClientEvent {
    /// A response (provisional, final, and for an INVITE every 2xx of every fork).
    Response(Box<Response>),
    /// No final response in time (Timer B or F: act as on 408).
    Timeout(Timer),
    /// The transport failed (act as on 503).
    TransportError(TransportFailure),
}

/// Why [`ResponseHandle::final_response`] has no response.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ClientError {
    /// The transaction timed out (Timer B/F).
    #[error("no final response (timer {0:?})")]
    Timeout(Timer),
    /// The transport failed.
    #[error("transport failure: {0}")]
    Transport(TransportFailure),
    /// Nothing came within the caller's wait.
    #[error("no final response within the wait")]
    Wait,
    /// The endpoint dropped the request (shut down).
    #[error("the request ended without a final response")]
    Ended,
}

/// The responses of one request.
#[derive(Debug)]
pub struct ResponseHandle {
    /// Its client transaction.
    pub id: TransactionId,
    rx: Receiver<ClientEvent>,
}

impl ResponseHandle {
    /// The next event, waiting up to `wait`.
    pub fn next(&self, wait: Duration) -> Option<ClientEvent> {
        self.rx.recv_timeout(wait).ok()
    }

    /// Waits up to `wait` for the final response (provisionals are skipped).
    pub fn final_response(&self, wait: Duration) -> Result<Response, ClientError> {
        let deadline = crossbeam_channel::after(wait);
        loop {
            crossbeam_channel::select! {
                recv(self.rx) -> ev => match ev {
                    Ok(ClientEvent::Response(r)) if !r.status().is_provisional() => return Ok(*r),
                    Ok(ClientEvent::Response(_)) => continue,
                    Ok(ClientEvent::Timeout(t)) => return Err(ClientError::Timeout(t)),
                    Ok(ClientEvent::TransportError(e)) => return Err(ClientError::Transport(e)),
                    Err(_) => return Err(ClientError::Ended),
                },
                recv(deadline) -> _ => return Err(ClientError::Wait),
            }
        }
    }
}

/// Destinations that failed recently, by (transport, address, port), each until its
/// expiry: consulted before each attempt of [`Requests::request_failover`], fed by its
/// failures (never state shared by all requests to one name). Bounded: past
/// [`Blocklist::CAPACITY`] entries the expired ones are dropped, then new ones are not
/// listed.
#[derive(Debug)]
pub struct Blocklist {
    ttl: Duration,
    until: Mutex<HashMap<Target, Instant>>,
}

impl Blocklist {
    /// Destinations listed at most.
    pub const CAPACITY: usize = 4096;

    /// A blocklist keeping a failed destination for `ttl` (a 503's Retry-After instead
    /// when it has one).
    pub fn new(ttl: Duration) -> Blocklist {
        Blocklist {
            ttl,
            until: Mutex::default(),
        }
    }

    /// `target` failed at `now`; listed for `for_secs` or the default TTL.
    pub fn block(&self, target: Target, now: Instant, for_secs: Option<u32>) {
        let until =
            now + for_secs.map_or(self.ttl, |s| Duration::from_secs(u64::from(s.min(3600))));
        let mut m = self.until.lock();
        if m.len() >= Self::CAPACITY {
            m.retain(|_, u| *u > now);
            if m.len() >= Self::CAPACITY {
                return;
            }
        }
        let e = m.entry(target).or_insert(until);
        if *e < until {
            *e = until;
        }
    }

    /// Whether `target` is listed at `now`.
    pub fn is_blocked(&self, target: &Target, now: Instant) -> bool {
        self.until.lock().get(target).is_some_and(|u| *u > now)
    }
}

/// Builds the request for one attempt (a new branch each time: RFC 3263 §4.3).
pub type MakeRequest = Box<dyn Fn(&Target) -> Option<Request> + Send>;

/// The attempts left of a request sent with failover.
struct Failover {
    current: Target,
    remaining: VecDeque<Target>,
    make: MakeRequest,
    blocklist: Arc<Blocklist>,
}

struct Entry {
    tx: Sender<ClientEvent>,
    failover: Option<Failover>,
}

/// A [`Handler`] adapter that routes the outcomes of requests sent through it to
/// their [`ResponseHandle`]s and everything else to `inner`.
pub struct Requests<H> {
    inner: H,
    pending: Mutex<HashMap<TransactionId, Entry>>,
}

impl<H: std::fmt::Debug> std::fmt::Debug for Requests<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Requests")
            .field("inner", &self.inner)
            .field("pending", &self.pending.lock().len())
            .finish()
    }
}

impl<H: Handler> Requests<H> {
    /// Wraps `inner`.
    pub fn new(inner: H) -> Requests<H> {
        Requests {
            inner,
            pending: Mutex::default(),
        }
    }

    /// The wrapped handler.
    pub fn inner(&self) -> &H {
        &self.inner
    }

    /// Requests still waiting for their transaction to end.
    pub fn pending(&self) -> usize {
        self.pending.lock().len()
    }

    /// Sends `request` to `target` in a new client transaction of `endpoint` (which
    /// must run this adapter as its handler) and returns its handle.
    pub fn request(
        &self,
        endpoint: &Endpoint,
        request: Request,
        target: Target,
    ) -> Result<ResponseHandle, TransactionError> {
        let (tx, rx) = crossbeam_channel::bounded(QUEUE);
        // Registered inside the context, before the drain that sends the request:
        // nothing can come back for it before the handle exists.
        let id = endpoint.context(|ctx| {
            let id = ctx.send_request(request, target)?;
            self.pending.lock().insert(id, Entry { tx, failover: None });
            Ok::<_, TransactionError>(id)
        })?;
        Ok(ResponseHandle { id, rx })
    }

    /// Sends a request to the first of `candidates` (RFC 3263's order) not in
    /// `blocklist`; on a transport error, a timeout (Timer B/F) or a 503 the failed
    /// destination is listed (for the 503's Retry-After when it gives one) and the next
    /// candidate gets a new attempt built by `make` (with a new branch, RFC 3263 §4.3).
    /// The handle sees the responses of the attempt that answers, or the last failure.
    /// `None` when no candidate could be tried.
    pub fn request_failover(
        &self,
        endpoint: &Endpoint,
        candidates: Vec<Target>,
        blocklist: Arc<Blocklist>,
        make: MakeRequest,
    ) -> Option<ResponseHandle> {
        let (tx, rx) = crossbeam_channel::bounded(QUEUE);
        let entry = Entry {
            tx,
            failover: Some(Failover {
                current: *candidates.first()?,
                remaining: candidates.into(),
                make,
                blocklist,
            }),
        };
        let id = endpoint.context(|ctx| self.attempt(ctx, entry))?;
        Some(ResponseHandle { id, rx })
    }

    /// Starts the next attempt of `entry`: the first remaining candidate that is not
    /// listed and takes a transaction; registers it. `None` (the entry dropped) when
    /// none is left.
    fn attempt(&self, ctx: &mut Context<'_>, mut entry: Entry) -> Option<TransactionId> {
        let now = ctx.now();
        let f = entry.failover.as_mut()?;
        while let Some(t) = f.remaining.pop_front() {
            if f.blocklist.is_blocked(&t, now) {
                continue;
            }
            let Some(req) = (f.make)(&t) else { continue };
            match ctx.send_request(req, t) {
                Ok(id) => {
                    f.current = t;
                    self.pending.lock().insert(id, entry);
                    return Some(id);
                }
                Err(_) => f.blocklist.block(t, now, None),
            }
        }
        None
    }

    /// A failed attempt of a request with failover: list its destination, try the next.
    /// `Err(ev)`: no failover (or none left): deliver `ev` as usual.
    fn fail_over(
        &self,
        ctx: &mut Context<'_>,
        id: TransactionId,
        retry_after: Option<u32>,
        ev: ClientEvent,
    ) -> Result<(), ClientEvent> {
        let mut entry = {
            let mut p = self.pending.lock();
            match p.get(&id) {
                Some(e) if e.failover.is_some() => {}
                _ => return Err(ev),
            }
            match p.remove(&id) {
                Some(e) => e,
                None => return Err(ev),
            }
        };
        if let Some(f) = entry.failover.as_mut() {
            f.blocklist.block(f.current, ctx.now(), retry_after);
        }
        let tx = entry.tx.clone();
        if self.attempt(ctx, entry).is_some() {
            return Ok(());
        }
        // Nothing left: the last failure is the answer.
        let _ = tx.try_send(ev);
        Ok(())
    }

    fn deliver(&self, id: TransactionId, ev: ClientEvent, end: bool) -> Option<ClientEvent> {
        let mut p = self.pending.lock();
        let Some(e) = p.get(&id) else {
            return Some(ev);
        };
        let _ = e.tx.try_send(ev);
        if end {
            p.remove(&id);
        }
        None
    }
}

impl<H: Handler> Handler for Requests<H> {
    fn on_request(
        &self,
        ctx: &mut Context<'_>,
        id: TransactionId,
        request: Request,
        source: Target,
        merged: bool,
    ) {
        self.inner.on_request(ctx, id, request, source, merged);
    }

    fn on_cancel(
        &self,
        ctx: &mut Context<'_>,
        id: TransactionId,
        cancel: Request,
        source: Target,
        invite: Option<TransactionId>,
    ) {
        self.inner.on_cancel(ctx, id, cancel, source, invite);
    }

    fn on_ack(
        &self,
        ctx: &mut Context<'_>,
        ack: Request,
        source: Target,
        transaction: Option<TransactionId>,
    ) {
        self.inner.on_ack(ctx, ack, source, transaction);
    }

    fn on_response(
        &self,
        ctx: &mut Context<'_>,
        id: TransactionId,
        response: Response,
        source: Target,
    ) {
        let ev = ClientEvent::Response(Box::new(response));
        let ev = match &ev {
            ClientEvent::Response(r) if r.status().as_u16() == 503 => {
                let ra = r.retry_after().ok().flatten().map(|r| r.seconds);
                match self.fail_over(ctx, id, ra, ev) {
                    Ok(()) => return,
                    Err(ev) => ev,
                }
            }
            _ => ev,
        };
        if let Some(ClientEvent::Response(r)) = self.deliver(id, ev, false) {
            self.inner.on_response(ctx, id, *r, source);
        }
    }

    fn on_stray_response(&self, ctx: &mut Context<'_>, response: Response, source: Target) {
        self.inner.on_stray_response(ctx, response, source);
    }

    fn on_timeout(&self, ctx: &mut Context<'_>, id: TransactionId, timer: Timer) {
        let ends = matches!(timer, Timer::B | Timer::F);
        if !ends && self.pending.lock().contains_key(&id) {
            return; // Timer C: the layer sent a CANCEL; the final response follows.
        }
        if ends
            && self
                .fail_over(ctx, id, None, ClientEvent::Timeout(timer))
                .is_ok()
        {
            return;
        }
        if self
            .deliver(id, ClientEvent::Timeout(timer), ends)
            .is_some()
        {
            self.inner.on_timeout(ctx, id, timer);
        }
    }

    fn on_transport_error(
        &self,
        ctx: &mut Context<'_>,
        id: TransactionId,
        error: TransportFailure,
    ) {
        if self
            .fail_over(ctx, id, None, ClientEvent::TransportError(error))
            .is_ok()
        {
            return;
        }
        if let Some(ClientEvent::TransportError(e)) =
            self.deliver(id, ClientEvent::TransportError(error), true)
        {
            self.inner.on_transport_error(ctx, id, e);
        }
    }

    fn on_terminated(&self, ctx: &mut Context<'_>, id: TransactionId) {
        if self.pending.lock().remove(&id).is_none() {
            self.inner.on_terminated(ctx, id);
        }
    }
}
