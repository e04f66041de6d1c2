//! Simulation harness for the transaction layer tests: a virtual clock, message
//! templates, a single-layer driver ([`Sim`]) and a seeded lossy link ([`Link`]).
//! (quinn-proto `tests/util.rs` and str0m's netem in spirit.)

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use sipcore::message::{response_to, Message, Request, Response, StatusCode};
use sipcore::transaction::{
    Config, Event, Outputs, TransactionError, TransactionId, TransactionLayer, Transmit,
};
use sipcore::transport::{Target, TransportKind};

/// The UAC side's address.
pub fn alice(kind: TransportKind) -> Target {
    Target::new(kind, "192.0.2.1:5060".parse().unwrap())
}

/// The UAS side's address.
pub fn bob(kind: TransportKind) -> Target {
    Target::new(kind, "192.0.2.2:5060".parse().unwrap())
}

/// A test configuration: fixed seed, no automatic 100 Trying (tests turn it on).
pub fn config() -> Config {
    Config {
        rng_seed: Some(7),
        trying_delay: None,
        shards: 4,
        ..Config::default()
    }
}

/// One simulated instant for every test (the clock is virtual from there on).
#[allow(clippy::disallowed_methods)]
pub fn epoch() -> Instant {
    Instant::now()
}

/// A request template.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: String,
    pub uri: String,
    pub transport: &'static str,
    pub sent_by: String,
    pub branch: Option<String>,
    pub from_tag: String,
    pub to_tag: Option<String>,
    pub call_id: String,
    pub seq: u32,
}

impl Req {
    pub fn new(method: &str, branch: &str) -> Req {
        Req {
            method: method.to_owned(),
            uri: "sip:bob@192.0.2.2".to_owned(),
            transport: "UDP",
            sent_by: "192.0.2.1:5060".to_owned(),
            branch: Some(branch.to_owned()),
            from_tag: "a1".to_owned(),
            to_tag: None,
            call_id: "call-1@192.0.2.1".to_owned(),
            seq: 1,
        }
    }

    pub fn tcp(mut self) -> Req {
        self.transport = "TCP";
        self
    }

    pub fn call(mut self, call_id: &str) -> Req {
        self.call_id = call_id.to_owned();
        self
    }

    pub fn method(mut self, m: &str) -> Req {
        self.method = m.to_owned();
        self
    }

    pub fn bytes(&self) -> Bytes {
        let branch = self
            .branch
            .as_ref()
            .map(|b| format!(";branch={b}"))
            .unwrap_or_default();
        let to_tag = self
            .to_tag
            .as_ref()
            .map(|t| format!(";tag={t}"))
            .unwrap_or_default();
        Bytes::from(format!(
            "{m} {uri} SIP/2.0\r\nVia: SIP/2.0/{tr} {sb}{branch}\r\nMax-Forwards: 70\r\n\
             From: Alice <sip:alice@192.0.2.1>;tag={ft}\r\nTo: Bob <sip:bob@192.0.2.2>{to_tag}\r\n\
             Call-ID: {cid}\r\nCSeq: {seq} {m}\r\nContact: <sip:alice@192.0.2.1>\r\nContent-Length: 0\r\n\r\n",
            m = self.method,
            uri = self.uri,
            tr = self.transport,
            sb = self.sent_by,
            ft = self.from_tag,
            cid = self.call_id,
            seq = self.seq,
        ))
    }

    pub fn request(&self) -> Request {
        request(self.bytes())
    }
}

pub fn request(b: Bytes) -> Request {
    match Message::parse(b).unwrap() {
        Message::Request(r) => r,
        Message::Response(_) => panic!("request expected"),
    }
}

pub fn response(b: Bytes) -> Response {
    match Message::parse(b).unwrap() {
        Message::Response(r) => r,
        Message::Request(_) => panic!("response expected"),
    }
}

/// The response `status` to the request bytes `req`, To tagged with `tag`.
pub fn answer(req: &Bytes, status: u16, tag: Option<&str>) -> Bytes {
    let r = request(req.clone());
    let b = response_to(&r, StatusCode::new(status).unwrap());
    match tag {
        Some(t) => b.to_tag(t).build(),
        None => b.build(),
    }
}

/// A method name of a transmit's payload, or the status code for a response.
pub fn describe(payload: &Bytes) -> String {
    match Message::parse(payload.clone()).unwrap() {
        Message::Request(r) => r.method().to_string(),
        Message::Response(r) => r.status().to_string(),
    }
}

/// One transaction layer driven by a virtual clock, with everything it output and when.
#[derive(Debug)]
pub struct Sim {
    pub layer: TransactionLayer,
    pub start: Instant,
    pub now: Instant,
    out: Outputs,
    /// (ms since start, transmit)
    pub sent: Vec<(u64, Transmit)>,
    /// (ms since start, event)
    pub events: Vec<(u64, Event)>,
}

impl Sim {
    pub fn new(cfg: Config) -> Sim {
        let start = epoch();
        Sim {
            layer: TransactionLayer::new(cfg, start),
            start,
            now: start,
            out: Outputs::new(),
            sent: Vec::new(),
            events: Vec::new(),
        }
    }

    pub fn ms(&self) -> u64 {
        (self.now - self.start).as_millis() as u64
    }

    fn drain(&mut self) {
        let ms = self.ms();
        while let Some(t) = self.out.poll_transmit() {
            self.sent.push((ms, t));
        }
        while let Some(e) = self.out.poll_event() {
            self.events.push((ms, e));
        }
        let _ = self.out.timer_armed();
    }

    /// Fires every timer up to `ms` (since start), in deadline order, then sets the
    /// clock to `ms`.
    pub fn advance_to(&mut self, ms: u64) {
        let end = self.start + Duration::from_millis(ms);
        let mut guard = 0;
        while let Some(d) = self.layer.next_deadline() {
            if d > end {
                break;
            }
            self.now = self.now.max(d);
            self.layer.handle_timeout(self.now, &mut self.out);
            self.drain();
            guard += 1;
            assert!(guard < 100_000, "timer loop does not settle");
        }
        self.now = self.now.max(end);
    }

    pub fn advance(&mut self, ms: u64) {
        let to = self.ms() + ms;
        self.advance_to(to);
    }

    /// Runs until no timer is armed; returns the time it took.
    /// Leaves the clock at the last deadline that fired.
    pub fn run_out(&mut self) -> u64 {
        let mut guard = 0;
        while let Some(d) = self.layer.next_deadline() {
            self.now = self.now.max(d);
            self.layer.handle_timeout(self.now, &mut self.out);
            self.drain();
            guard += 1;
            assert!(guard < 100_000, "timer loop does not settle");
        }
        self.ms()
    }

    pub fn recv(&mut self, source: Target, bytes: Bytes) -> Result<(), TransactionError> {
        let r = self.layer.handle_message(
            self.now,
            source,
            Message::parse(bytes).unwrap(),
            &mut self.out,
        );
        self.drain();
        r
    }

    pub fn send_request(
        &mut self,
        req: &Req,
        target: Target,
    ) -> Result<TransactionId, TransactionError> {
        let r = self
            .layer
            .send_request(self.now, req.request(), target, &mut self.out);
        self.drain();
        r
    }

    pub fn respond(
        &mut self,
        id: TransactionId,
        req: &Bytes,
        status: u16,
        tag: Option<&str>,
    ) -> Result<(), TransactionError> {
        let r = self.layer.send_response(
            self.now,
            id,
            response(answer(req, status, tag)),
            &mut self.out,
        );
        self.drain();
        r
    }

    pub fn cancel(&mut self, id: TransactionId) -> Result<TransactionId, TransactionError> {
        let r = self.layer.cancel(self.now, id, &mut self.out);
        self.drain();
        r
    }

    pub fn send_error(&mut self, id: TransactionId) {
        self.layer
            .handle_send_error(
                self.now,
                id,
                sipcore::transaction::TransportFailure::ConnectionRefused,
                &mut self.out,
            )
            .unwrap();
        self.drain();
    }

    pub fn target_error(&mut self, target: Target) -> usize {
        let n = self.layer.handle_transport_error(
            self.now,
            target,
            sipcore::transaction::TransportFailure::Unreachable,
            &mut self.out,
        );
        self.drain();
        n
    }

    /// Times (ms) of the transmits, and clears them.
    pub fn take_sent(&mut self) -> Vec<(u64, String)> {
        self.sent
            .drain(..)
            .map(|(ms, t)| (ms, describe(&t.payload)))
            .collect()
    }

    pub fn sent_times(&mut self) -> Vec<u64> {
        self.sent.drain(..).map(|(ms, _)| ms).collect()
    }

    pub fn take_events(&mut self) -> Vec<(u64, Event)> {
        std::mem::take(&mut self.events)
    }

    /// Short names of the events, and clears them.
    pub fn event_names(&mut self) -> Vec<(u64, String)> {
        self.take_events()
            .into_iter()
            .map(|(ms, e)| (ms, name(&e)))
            .collect()
    }

    /// The id and bytes of the last new server transaction reported.
    pub fn last_request(&self) -> (TransactionId, Bytes) {
        self.events
            .iter()
            .rev()
            .find_map(|(_, e)| match e {
                Event::Request { id, request, .. } | Event::Cancel { id, request, .. } => {
                    Some((*id, request.bytes()))
                }
                _ => None,
            })
            .expect("a request event")
    }
}

/// A compact name for an event: `Response 180`, `Timeout B`, `Terminated`, ...
pub fn name(e: &Event) -> String {
    match e {
        Event::Request { merged, .. } => format!("Request{}", if *merged { " merged" } else { "" }),
        Event::Cancel { invite, .. } => {
            format!("Cancel{}", if invite.is_some() { " matched" } else { "" })
        }
        Event::Ack { transaction, .. } => format!(
            "Ack{}",
            if transaction.is_some() {
                " matched"
            } else {
                ""
            }
        ),
        Event::Response { response, .. } => format!("Response {}", response.status()),
        Event::StrayResponse { response, .. } => format!("Stray {}", response.status()),
        Event::Timeout { timer, .. } => format!("Timeout {timer:?}"),
        Event::TransportError { .. } => "TransportError".to_owned(),
        Event::Terminated { .. } => "Terminated".to_owned(),
        _ => format!("{e:?}"),
    }
}

/// `(ms, name)` pairs from string literals.
pub fn ev(list: &[(u64, &str)]) -> Vec<(u64, String)> {
    list.iter().map(|(ms, s)| (*ms, (*s).to_owned())).collect()
}

/// A seeded in-memory link: latency, jitter (reordering), loss and duplication.
#[derive(Debug)]
pub struct Link {
    state: u64,
    pub latency_ms: u64,
    pub jitter_ms: u64,
    /// Per mille.
    pub loss: u64,
    /// Per mille.
    pub dup: u64,
    /// (deliver at ms, to side, from, bytes)
    pub queue: Vec<(u64, usize, Target, Bytes)>,
}

impl Link {
    pub fn new(seed: u64) -> Link {
        Link {
            state: seed,
            latency_ms: 20,
            jitter_ms: 0,
            loss: 0,
            dup: 0,
            queue: Vec::new(),
        }
    }

    pub fn rand(&mut self, n: u64) -> u64 {
        // xorshift64*
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1)
    }

    /// Queues a datagram sent at `now_ms` to side `to`.
    pub fn send(&mut self, now_ms: u64, to: usize, from: Target, bytes: Bytes) {
        if self.rand(1000) < self.loss {
            return;
        }
        let copies = if self.rand(1000) < self.dup { 2 } else { 1 };
        for _ in 0..copies {
            let j = self.rand(self.jitter_ms + 1);
            self.queue
                .push((now_ms + self.latency_ms + j, to, from, bytes.clone()));
        }
    }

    /// The earliest delivery time.
    pub fn next(&self) -> Option<u64> {
        self.queue.iter().map(|q| q.0).min()
    }

    /// Takes every datagram due at `ms`.
    pub fn due(&mut self, ms: u64) -> Vec<(usize, Target, Bytes)> {
        let mut due: Vec<_> = Vec::new();
        let mut i = 0;
        while i < self.queue.len() {
            if self.queue[i].0 <= ms {
                let (at, to, from, b) = self.queue.swap_remove(i);
                due.push((at, to, from, b));
            } else {
                i += 1;
            }
        }
        due.sort_by_key(|d| d.0);
        due.into_iter()
            .map(|(_, to, from, b)| (to, from, b))
            .collect()
    }
}
