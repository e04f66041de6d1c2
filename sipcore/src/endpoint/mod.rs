//! The endpoint: glues transports, the receiver pools, the transaction layer and a timer
//! thread to the application's [`Handler`].
//!
//! ```text
//!  UDP pool workers ─┐                      ┌─> Handler (on the receiving thread)
//!  TCP/TLS workers ──┼─> parse ─> TransactionLayer (sharded) ─┤
//!  timer thread ─────┘   (400/505/513,          │             └─> Transport::send
//!                         503 on overload)      └── retransmissions, timeouts
//! ```
//!
//! Per received message the endpoint parses it, answers malformed requests statelessly
//! (400 with the parser's reason, 505, 513) when a response can be built, hands the
//! message to the transaction layer (which absorbs retransmissions), refuses new
//! requests with 503 + Retry-After when the transaction limit is reached, and calls the
//! handler for whatever the layer reports. Everything is counted ([`Counters`]). A
//! handler call that panics loses its one event and is counted (`handler_panics`); a
//! panic in the endpoint's own threads aborts the process ([`runtime`](crate::runtime)).
//!
//! # Example
//!
//! A UAS answering every request 200 on a shared-socket pool:
//!
//! ```
//! use std::sync::Arc;
//! use sipcore::endpoint::{Context, Endpoint, EndpointConfig, Handler};
//! use sipcore::message::{Request, StatusCode};
//! use sipcore::pool::SharedSocketPool;
//! use sipcore::transaction::TransactionId;
//! use sipcore::transport::{udp::UdpConfig, Target};
//!
//! struct Ok200;
//! impl Handler for Ok200 {
//!     fn on_request(&self, ctx: &mut Context<'_>, id: TransactionId, req: Request, _: Target, _: bool) {
//!         let tag = ctx.new_tag();
//!         let _ = ctx.reply(id, &req, StatusCode::OK, Some(tag.as_str()));
//!     }
//! }
//!
//! let pool = SharedSocketPool::bind(&UdpConfig::new("127.0.0.1:0".parse()?), 2)?;
//! let endpoint = Endpoint::builder(EndpointConfig::default())
//!     .udp_pool(Box::new(pool))
//!     .start(Arc::new(Ok200))?;
//! println!("{:?}", endpoint.ps());
//! endpoint.shutdown();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod admission;
mod counters;
mod handler;
mod received;
mod wake;

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;

pub use admission::{Admission, Admit, MessageClass, OverLimit, RateLimitConfig, SourceRateLimit};
pub use counters::{CounterSnapshot, Counters};
pub use handler::{Context, Handler};

use crate::message::Message;
use crate::parse::{parse_datagram, ParseError, ParseErrorKind};
use crate::pool::{DatagramHandler, ReceiverPool, WorkerHandler, WorkerSnapshot};
use crate::transaction::{stateless, Config, Event, Outputs, TransactionError, TransactionLayer};
use crate::transport::routing;
use crate::transport::udp::UdpTransport;
use crate::transport::{
    ConnectionFailure, MessageSink, Received, SendError, Target, Transport, TransportEvents,
    TransportKind,
};

/// Endpoint settings.
#[derive(Debug, Clone)]
pub struct EndpointConfig {
    /// The transaction layer's settings (T1/T2/T4, limits, shards).
    pub transaction: Config,
    /// `Retry-After` seconds in 503 answers under overload. Default 5.
    pub retry_after: u32,
    /// How long [`Endpoint::shutdown`] lets live transactions finish. Default 2 s.
    pub shutdown_grace: Duration,
    /// Run the timer thread (default). Without it, drive timers with
    /// [`Endpoint::handle_timeout`] (the inline pool's loop).
    pub timer_thread: bool,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        EndpointConfig {
            transaction: Config::default(),
            retry_after: 5,
            shutdown_grace: Duration::from_secs(2),
            timer_thread: true,
        }
    }
}

/// A worker wakes the timer thread only for a timer due more than this before the
/// thread's planned wake-up. Waking it for every new transaction cost a futex wake and
/// a context switch per message; most new timers are 200 ms to 32 s away, and a timer
/// that fires up to this late is harmless (retransmission timers start at T1 = 500 ms;
/// the zero-wait timers of reliable transports only free memory).
const WAKE_SLACK: Duration = Duration::from_millis(20);

/// State shared by every thread of the endpoint.
pub(crate) struct Shared {
    pub(crate) layer: TransactionLayer,
    /// UDP senders: one per pool (listen address). A datagram leaves from the one of
    /// its destination's address family (an IPv6 peer is not sent to from an IPv4
    /// socket), the first one otherwise.
    udp: Vec<UdpTransport>,
    streams: HashMap<TransportKind, Arc<dyn Transport>>,
    handler: Arc<dyn Handler>,
    admission: Option<Arc<dyn Admission>>,
    counters: Counters,
    retry_after: u32,
    /// The timer thread's next planned wake-up; workers that arm an earlier timer wake it.
    timer_wake: wake::TimerWake,
    stopping: AtomicBool,
}

impl Shared {
    /// The UDP sender for `target`: the first of its address family (an IPv4-mapped
    /// destination counts as IPv4), else the first.
    fn udp_for(&self, target: &Target) -> Option<&UdpTransport> {
        let v6 = match target.addr.ip() {
            std::net::IpAddr::V6(a) => a.to_ipv4_mapped().is_none(),
            std::net::IpAddr::V4(_) => false,
        };
        self.udp
            .iter()
            .find(|u| u.local_addr().is_ipv6() == v6)
            .or_else(|| self.udp.first())
    }

    pub(crate) fn send(&self, target: &Target, data: Bytes) -> Result<(), SendError> {
        let r = match (self.streams.get(&target.transport), self.udp_for(target)) {
            (Some(t), _) => t.send(target, data),
            (None, Some(u)) if target.transport == TransportKind::Udp => u.send(target, data),
            _ => Err(SendError::NoTransport(target.transport)),
        };
        if r.is_err() {
            Counters::inc(&self.counters.send_errors);
        }
        r
    }

    /// Sends a response of a server transaction (RFC 3261 §18.2.2 on streams).
    fn send_response(&self, target: &Target, data: Bytes) -> Result<(), SendError> {
        let r = match self.streams.get(&target.transport) {
            Some(t) => t.send_response(target, data),
            None => self.send(target, data),
        };
        if r.is_err() && self.streams.contains_key(&target.transport) {
            Counters::inc(&self.counters.send_errors);
        }
        r
    }

    pub(crate) fn transport_for_request(&self, target: Target, len: usize) -> Target {
        match (self.udp_for(&target), target.transport) {
            (Some(udp), TransportKind::Udp)
                if udp.exceeds_size_rule(len) && self.streams.contains_key(&TransportKind::Tcp) =>
            {
                Counters::inc(&self.counters.moved_to_tcp);
                Target::new(TransportKind::Tcp, target.addr)
            }
            _ => target,
        }
    }

    /// Sends every transmit and hands every event to the handler, until `out` is empty
    /// (handlers may add more).
    fn drain(&self, now: Instant, out: &mut Outputs) {
        loop {
            let mut progressed = false;
            while let Some(t) = out.poll_transmit() {
                progressed = true;
                let sent = if t.payload.starts_with(b"SIP/") {
                    self.send_response(&t.target, t.payload)
                } else {
                    self.send(&t.target, t.payload)
                };
                if let Err(e) = sent {
                    // The transaction may have ended meanwhile; nothing else to tell then.
                    let _ = self
                        .layer
                        .handle_send_error(now, t.transaction, failure_of(&e), out);
                }
            }
            while let Some(e) = out.poll_event() {
                progressed = true;
                self.dispatch(now, e, out);
            }
            if !progressed {
                break;
            }
        }
        if let Some(armed) = out.timer_armed() {
            self.timer_wake.armed(armed);
        }
    }

    /// Hands one event to the handler. A handler that panics loses that event only:
    /// the panic is caught, counted (`handler_panics`) and the thread goes on
    /// ([`runtime`](crate::runtime) has the policy).
    fn dispatch(&self, now: Instant, event: Event, out: &mut Outputs) {
        let h = &*self.handler;
        let mut ctx = Context {
            shared: self,
            now,
            out,
        };
        if crate::runtime::catch(|| call(h, &mut ctx, event)).is_none() {
            Counters::inc(&self.counters.handler_panics);
        }
    }

    /// The receive path of every transport.
    fn on_received(&self, now: Instant, r: Received, out: &mut Outputs) {
        if r.data.iter().all(|&b| b == b'\r' || b == b'\n') {
            // CRLF keep-alives on UDP (RFC 5626 §4.4.1 uses STUN there, but CRLF pings are
            // common): nothing to answer.
            Counters::inc(&self.counters.keepalives);
            return;
        }
        let message = match parse_datagram(r.data.clone()) {
            Ok(m) => received::with_received(m, r.source),
            Err(e) => return self.answer_bad(&r, e),
        };
        if let (Some(policy), Message::Request(req)) = (&self.admission, &message) {
            if !self.admitted(policy.as_ref(), now, req, r.source) {
                return;
            }
        }
        let is_request = message.is_request();
        Counters::inc(if is_request {
            &self.counters.requests_in
        } else {
            &self.counters.responses_in
        });
        match self.layer.handle_message(now, r.source, message, out) {
            Ok(()) => {}
            Err(TransactionError::Malformed(e)) if is_request => self.answer_bad(&r, e),
            Err(TransactionError::Overloaded(request)) => {
                Counters::inc(&self.counters.overload_503);
                let reply = stateless::overloaded(&request, Some(self.retry_after));
                self.reply_stateless(&request, r.source, reply);
            }
            Err(_) => Counters::inc(&self.counters.malformed_dropped),
        }
        self.drain(now, out);
    }

    /// Asks the admission policy; false when the request was refused (answered 503 or
    /// dropped). A refused request that is a retransmission of one being served goes on
    /// to be absorbed by its transaction.
    fn admitted(
        &self,
        policy: &dyn Admission,
        now: Instant,
        req: &crate::message::Request,
        source: Target,
    ) -> bool {
        use crate::message::Method;
        let class = if matches!(req.method(), Method::Ack | Method::Cancel) {
            MessageClass::CancelOrAck
        } else if req.to().ok().and_then(|t| t.tag()).is_some() {
            MessageClass::InDialog
        } else {
            MessageClass::NewRequest
        };
        let verdict = policy.admit(now, &source, class);
        if verdict == Admit::Accept
            || class == MessageClass::NewRequest && self.layer.matches_server_transaction(req)
        {
            return true;
        }
        match verdict {
            Admit::Refuse { retry_after } => {
                Counters::inc(&self.counters.admission_503);
                let reply =
                    stateless::overloaded(req, Some(retry_after.unwrap_or(self.retry_after)));
                self.reply_stateless(req, source, reply);
            }
            _ => Counters::inc(&self.counters.admission_dropped),
        }
        false
    }

    /// 400/505/513 for input that does not parse, when a response can be built.
    fn answer_bad(&self, r: &Received, e: ParseError) {
        let counter = match e.kind() {
            ParseErrorKind::UnsupportedVersion => &self.counters.version_505,
            ParseErrorKind::TooLarge => &self.counters.too_large_513,
            _ => &self.counters.malformed_400,
        };
        match stateless::response_for_error(&r.data, e) {
            Some(reply) => {
                Counters::inc(counter);
                let target =
                    reply_target(&reply, r.source, self.layer.config().symmetric_responses);
                let _ = self.send(&target, reply);
            }
            None => Counters::inc(&self.counters.malformed_dropped),
        }
    }

    fn reply_stateless(&self, request: &crate::message::Request, source: Target, reply: Bytes) {
        let target = request
            .top_via()
            .map(|v| routing::response_target(&v, source, self.layer.config().symmetric_responses))
            .unwrap_or(source);
        let _ = self.send(&target, reply);
    }

    /// A datagram a full dispatcher queue could not take: retransmissions of live
    /// transactions are still absorbed (answered from the transaction), new requests get
    /// a 503, responses go to their client transactions.
    fn on_queue_full(&self, now: Instant, r: Received, out: &mut Outputs) {
        match parse_datagram(r.data.clone()) {
            Ok(Message::Request(req)) if !self.layer.matches_server_transaction(&req) => {
                Counters::inc(&self.counters.queue_full_503);
                let reply = stateless::overloaded(&req, Some(self.retry_after));
                self.reply_stateless(&req, r.source, reply);
            }
            Ok(_) => self.on_received(now, r, out),
            Err(_) => Counters::inc(&self.counters.queue_full_dropped),
        }
    }
}

/// The handler method for `event`.
fn call(h: &dyn Handler, ctx: &mut Context<'_>, event: Event) {
    match event {
        Event::Request {
            id,
            request,
            source,
            merged,
        } => h.on_request(ctx, id, request, source, merged),
        Event::Cancel {
            id,
            request,
            source,
            invite,
        } => h.on_cancel(ctx, id, request, source, invite),
        Event::Ack {
            request,
            source,
            transaction,
        } => h.on_ack(ctx, request, source, transaction),
        Event::Response {
            id,
            response,
            source,
        } => h.on_response(ctx, id, response, source),
        Event::StrayResponse { response, source } => h.on_stray_response(ctx, response, source),
        Event::Timeout { id, timer } => h.on_timeout(ctx, id, timer),
        Event::TransportError { id, error } => h.on_transport_error(ctx, id, error),
        Event::Terminated { id } => h.on_terminated(ctx, id),
    }
}

fn reply_target(reply: &Bytes, source: Target, symmetric: bool) -> Target {
    parse_datagram(reply.clone())
        .ok()
        .and_then(|m| {
            m.top_via()
                .ok()
                .map(|v| routing::response_target(&v, source, symmetric))
        })
        .unwrap_or(source)
}

/// Maps a transport's send error to the transaction layer's failure cause.
pub fn failure_of(e: &SendError) -> crate::transaction::TransportFailure {
    use crate::transaction::TransportFailure as F;
    match e {
        SendError::Io { kind, .. } => match kind {
            std::io::ErrorKind::ConnectionRefused => F::ConnectionRefused,
            std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe => {
                F::ConnectionReset
            }
            std::io::ErrorKind::TimedOut => F::Timeout,
            _ => F::Unreachable,
        },
        SendError::TooLarge { .. } => F::MessageTooLarge,
        SendError::ConnectionQueueFull | SendError::QueueFull => F::QueueFull,
        SendError::ConnectionFailed { cause, .. } => match cause {
            ConnectionFailure::Refused => F::ConnectionRefused,
            ConnectionFailure::Reset => F::ConnectionReset,
            ConnectionFailure::Timeout => F::Timeout,
            ConnectionFailure::Tls => F::Tls,
            _ => F::Other,
        },
        SendError::Blacklisted(_) | SendError::NoTransport(_) => F::Unreachable,
        _ => F::Other,
    }
}

#[allow(clippy::disallowed_methods)] // the runtime reads the clock; the core never does
fn now() -> Instant {
    Instant::now()
}

thread_local! {
    /// Outputs of stream-transport callbacks (no per-worker state is passed to them).
    static SINK_OUT: RefCell<Outputs> = RefCell::new(Outputs::new());
}

/// The endpoint as the pools and stream transports see it. It exists before the
/// endpoint starts (stream transports are created with it) and holds the shared state
/// weakly, so a transport that keeps it does not keep the endpoint alive.
#[derive(Default)]
struct Ingress {
    shared: OnceLock<Weak<Shared>>,
}

impl Ingress {
    fn shared(&self) -> Option<Arc<Shared>> {
        self.shared.get().and_then(Weak::upgrade)
    }
}

struct Worker {
    shared: Option<Arc<Shared>>,
    out: Outputs,
}

impl WorkerHandler for Worker {
    fn handle(&mut self, received: Received) {
        if let Some(shared) = &self.shared {
            shared.on_received(now(), received, &mut self.out);
        }
    }
}

impl DatagramHandler for Ingress {
    fn worker(&self, _id: usize) -> Box<dyn WorkerHandler> {
        Box::new(Worker {
            shared: self.shared(),
            out: Outputs::new(),
        })
    }

    fn on_queue_full(&self, received: Received) {
        if let Some(shared) = self.shared() {
            shared.on_queue_full(now(), received, &mut Outputs::new());
        }
    }
}

impl MessageSink for Ingress {
    fn on_received(&self, received: Received) {
        let Some(shared) = self.shared() else {
            return;
        };
        SINK_OUT.with(|out| match out.try_borrow_mut() {
            Ok(mut out) => shared.on_received(now(), received, &mut out),
            Err(_) => shared.on_received(now(), received, &mut Outputs::new()),
        });
    }
}

impl TransportEvents for Ingress {
    fn on_transport_error(&self, target: Target, error: SendError) {
        let Some(shared) = self.shared() else {
            return;
        };
        let t = now();
        let mut out = Outputs::new();
        shared
            .layer
            .handle_transport_error(t, target, failure_of(&error), &mut out);
        shared.drain(t, &mut out);
    }
}

/// Builds an [`Endpoint`]: register pools and transports, then [`start`](Self::start).
pub struct EndpointBuilder {
    config: EndpointConfig,
    ingress: Arc<Ingress>,
    udp: Option<UdpTransport>,
    pools: Vec<Box<dyn ReceiverPool>>,
    streams: HashMap<TransportKind, Arc<dyn Transport>>,
    admission: Option<Arc<dyn Admission>>,
}

impl std::fmt::Debug for EndpointBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndpointBuilder")
            .field("pools", &self.pools)
            .field("streams", &self.streams.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl EndpointBuilder {
    /// Adds a UDP receiver pool (one per listen address; UDP leaves from the first
    /// pool of the destination's address family).
    pub fn udp_pool(mut self, pool: Box<dyn ReceiverPool>) -> Self {
        self.pools.push(pool);
        self
    }

    /// Registers the UDP transport to send with when the application drives its own
    /// pool (the [`InlinePool`](crate::pool::InlinePool)): pass `pool.transport()`, then
    /// start the pool with [`Endpoint::datagram_handler`].
    pub fn udp_transport(mut self, transport: UdpTransport) -> Self {
        self.udp = Some(transport);
        self
    }

    /// Registers a transport for sending messages of its kind (TCP, TLS; or any
    /// transport of your own, an in-memory one for tests, which then takes precedence
    /// over the pool's UDP socket). Received messages and failures reach the endpoint
    /// through [`Endpoint::sink`] and [`Endpoint::transport_events`].
    pub fn stream_transport(mut self, transport: Arc<dyn Transport>) -> Self {
        self.streams.insert(transport.kind(), transport);
        self
    }

    /// Sets the admission policy asked before every received request creates state
    /// (see [`Admission`]; none by default: everything is admitted up to the
    /// transaction limit).
    pub fn admission(mut self, policy: Arc<dyn Admission>) -> Self {
        self.admission = Some(policy);
        self
    }

    /// What a stream transport hands received messages to: create the transport with
    /// it, register it with [`stream_transport`](Self::stream_transport), then start.
    /// Messages that arrive before [`start`](Self::start) are dropped.
    pub fn sink(&self) -> Arc<dyn MessageSink> {
        self.ingress.clone()
    }

    /// What a stream transport reports failures to (see [`sink`](Self::sink)).
    pub fn transport_events(&self) -> Arc<dyn TransportEvents> {
        self.ingress.clone()
    }

    /// Starts the pools and the timer thread.
    pub fn start(self, handler: Arc<dyn Handler>) -> std::io::Result<Endpoint> {
        let EndpointBuilder {
            config,
            ingress,
            udp,
            mut pools,
            streams,
            admission,
        } = self;
        let shared = Arc::new(Shared {
            layer: TransactionLayer::new(config.transaction.clone(), now()),
            udp: match udp {
                Some(u) => vec![u],
                None => pools.iter().map(|p| p.transport()).collect(),
            },
            streams,
            handler,
            admission,
            counters: Counters::default(),
            retry_after: config.retry_after,
            timer_wake: wake::TimerWake::new(now(), WAKE_SLACK),
            stopping: AtomicBool::new(false),
        });
        let _ = ingress.shared.set(Arc::downgrade(&shared));
        for p in &mut pools {
            p.start(ingress.clone())?;
        }
        let timer = if config.timer_thread {
            let s = shared.clone();
            Some(crate::runtime::spawn("sip-timer".into(), move || {
                timer_loop(&s)
            })?)
        } else {
            None
        };
        Ok(Endpoint {
            shared,
            ingress,
            pools: Mutex::new(pools),
            timer: Mutex::new(timer),
            grace: config.shutdown_grace,
        })
    }
}

/// The timer thread. It sleeps at least one timer granularity between rounds, so
/// timers due close together fire in one wake-up: at 1000 calls/s a proxy has thousands
/// of distinct deadlines per second (every transaction ends on its own Timer J, K, L or
/// M), and waking for each cost a context switch per timer (~0.4 per call, measured).
/// A timer thus fires up to one granularity (10 ms by default) late.
fn timer_loop(shared: &Shared) {
    let mut out = Outputs::new();
    let tick = shared.layer.config().timer_granularity;
    while !shared.stopping.load(Ordering::Relaxed) {
        let t = now();
        shared.layer.handle_timeout(t, &mut out);
        shared.drain(t, &mut out);
        let next = shared
            .layer
            .next_deadline()
            .unwrap_or(t + Duration::from_millis(100))
            .min(now() + Duration::from_millis(100))
            .max(t + tick);
        // A worker may have armed an earlier timer since next_deadline() was read: the
        // wake-up takes it into account.
        shared.timer_wake.sleep_until(next, now);
    }
}

/// A running endpoint. Cheap to share behind an `Arc`; [`shutdown`](Self::shutdown)
/// stops it.
pub struct Endpoint {
    shared: Arc<Shared>,
    ingress: Arc<Ingress>,
    pools: Mutex<Vec<Box<dyn ReceiverPool>>>,
    timer: Mutex<Option<JoinHandle<()>>>,
    grace: Duration,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("transactions", &self.shared.layer.len())
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// A builder.
    pub fn builder(config: EndpointConfig) -> EndpointBuilder {
        EndpointBuilder {
            config,
            ingress: Arc::default(),
            udp: None,
            pools: Vec::new(),
            streams: HashMap::new(),
            admission: None,
        }
    }

    /// What a pool the application starts itself hands datagrams to.
    pub fn datagram_handler(&self) -> Arc<dyn DatagramHandler> {
        self.ingress.clone()
    }

    /// What stream transports hand received messages to.
    pub fn sink(&self) -> Arc<dyn MessageSink> {
        self.ingress.clone()
    }

    /// What stream transports report failures to (each becomes a 503 for the
    /// transactions that sent to that target, at once).
    pub fn transport_events(&self) -> Arc<dyn TransportEvents> {
        self.ingress.clone()
    }

    /// The transaction layer.
    pub fn layer(&self) -> &TransactionLayer {
        &self.shared.layer
    }

    /// Counters.
    pub fn counters(&self) -> CounterSnapshot {
        self.shared.counters.snapshot()
    }

    /// A worker snapshot of every pool (`kamctl ps`).
    pub fn ps(&self) -> Vec<WorkerSnapshot> {
        self.pools.lock().iter().flat_map(|p| p.ps()).collect()
    }

    /// Runs `f` with a [`Context`] outside any handler (to answer or send from another
    /// thread); the outputs are sent when `f` returns.
    pub fn context<R>(&self, f: impl FnOnce(&mut Context<'_>) -> R) -> R {
        let t = now();
        let mut out = Outputs::new();
        let r = f(&mut Context {
            shared: &self.shared,
            now: t,
            out: &mut out,
        });
        self.shared.drain(t, &mut out);
        r
    }

    /// Drives timers once (when running without the timer thread).
    pub fn handle_timeout(&self) {
        let t = now();
        let mut out = Outputs::new();
        self.shared.layer.handle_timeout(t, &mut out);
        self.shared.drain(t, &mut out);
    }

    /// Handles one received message on the caller's thread (for runtimes that receive
    /// themselves).
    pub fn handle_received(&self, received: Received) {
        self.ingress.on_received(received);
    }

    /// Stops receiving, lets live transactions finish or time out within the grace
    /// period, then stops the timer thread and joins every thread. Idempotent.
    pub fn shutdown(&self) {
        let mut pools = self.pools.lock();
        for p in pools.iter_mut() {
            p.shutdown();
        }
        let deadline = now() + self.grace;
        while !self.shared.layer.is_empty() && now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        self.shared.stopping.store(true, Ordering::Relaxed);
        self.shared.timer_wake.wake_all();
        if let Some(t) = self.timer.lock().take() {
            let _ = t.join();
        }
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.shutdown();
    }
}
