//! End-to-end simulation: a UAC layer and a UAS layer over a seeded lossy link
//! (latency, jitter that reorders, loss, duplication) under one virtual clock.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod transaction_util;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use bytes::Bytes;
use sipcore::message::{Message, StatusCode};
use sipcore::transaction::{stateless, Config, Event, Outputs, TransactionId, TransactionLayer};
use sipcore::transport::{Target, TransportKind};
use transaction_util::*;

const UAC: usize = 0;
const UAS: usize = 1;

struct Pair {
    layers: [TransactionLayer; 2],
    addrs: [Target; 2],
    out: Outputs,
    link: Link,
    start: std::time::Instant,
    now: u64,
    // UAC TU
    finals: HashMap<TransactionId, Vec<u16>>,
    failures: Vec<Event>,
    acks_sent: usize,
    // UAS TU
    requests_seen: HashMap<String, usize>,
    /// Call-ID -> (server transaction, 2xx bytes, next retransmission ms, interval)
    pending_2xx: HashMap<String, (TransactionId, Bytes, u64, u64)>,
    acked: HashSet<String>,
}

impl Pair {
    fn new(seed: u64, kind: TransportKind) -> Pair {
        let start = epoch();
        let cfg = |s| Config {
            rng_seed: Some(s),
            shards: 4,
            ..Config::default()
        };
        let mut link = Link::new(seed);
        link.latency_ms = 20;
        link.jitter_ms = 30;
        link.loss = 200;
        link.dup = 100;
        Pair {
            layers: [
                TransactionLayer::new(cfg(seed), start),
                TransactionLayer::new(cfg(seed + 1), start),
            ],
            addrs: [alice(kind), bob(kind)],
            out: Outputs::new(),
            link,
            start,
            now: 0,
            finals: HashMap::new(),
            failures: Vec::new(),
            acks_sent: 0,
            requests_seen: HashMap::new(),
            pending_2xx: HashMap::new(),
            acked: HashSet::new(),
        }
    }

    fn instant(&self) -> std::time::Instant {
        self.start + Duration::from_millis(self.now)
    }

    fn deadline_ms(&self) -> Option<u64> {
        let layer = self
            .layers
            .iter()
            .filter_map(|l| l.next_deadline())
            .map(|d| (d - self.start).as_micros().div_ceil(1000) as u64);
        let retrans = self.pending_2xx.values().map(|p| p.2);
        layer.chain(retrans).chain(self.link.next()).min()
    }

    /// Drains side `side`'s outputs: transmits onto the link, events to its TU.
    /// The TU's reactions write into the same buffer: drain until it stays empty.
    fn drain(&mut self, side: usize) {
        while !self.out.is_empty() {
            while let Some(t) = self.out.poll_transmit() {
                assert_eq!(t.target.addr, self.addrs[1 - side].addr);
                self.link
                    .send(self.now, 1 - side, self.addrs[side], t.payload);
            }
            let events: Vec<Event> = std::iter::from_fn(|| self.out.poll_event()).collect();
            for e in events {
                if side == UAC {
                    self.uac_tu(e);
                } else {
                    self.uas_tu(e);
                }
            }
        }
    }

    fn uac_tu(&mut self, e: Event) {
        match e {
            Event::Response { id, response, .. } if response.status().is_final() => {
                self.finals
                    .entry(id)
                    .or_default()
                    .push(response.status().as_u16());
                if response.status().is_success()
                    && response.cseq().unwrap().method == sipcore::message::Method::Invite
                {
                    // The ACK for a 2xx: the TU's own request, no transaction (§13.2.2.4).
                    let mut ack = Req::new("ACK", &self.layers[UAC].new_branch())
                        .call(response.call_id().unwrap());
                    ack.to_tag = response.to().unwrap().tag().map(str::to_owned);
                    self.link.send(self.now, UAS, self.addrs[UAC], ack.bytes());
                    self.acks_sent += 1;
                }
            }
            e @ (Event::Timeout { .. } | Event::TransportError { .. }) => self.failures.push(e),
            _ => {}
        }
    }

    fn uas_tu(&mut self, e: Event) {
        match e {
            Event::Request { id, request, .. } => {
                let key = format!("{} {}", request.method(), request.call_id().unwrap());
                *self.requests_seen.entry(key).or_default() += 1;
                let now = self.instant();
                let tag = self.layers[UAS].new_tag();
                if request.method() == sipcore::message::Method::Invite {
                    let ringing =
                        stateless::response(&request, StatusCode::RINGING, Some(&tag)).unwrap();
                    self.layers[UAS]
                        .send_response(now, id, ringing, &mut self.out)
                        .unwrap();
                }
                let ok = stateless::response(&request, StatusCode::OK, Some(&tag)).unwrap();
                let bytes = ok.bytes();
                self.layers[UAS]
                    .send_response(now, id, ok, &mut self.out)
                    .unwrap();
                if request.method() == sipcore::message::Method::Invite {
                    let call = request.call_id().unwrap().to_owned();
                    self.pending_2xx
                        .insert(call, (id, bytes, self.now + 500, 500));
                }
            }
            Event::Ack { request, .. } => {
                let call = request.call_id().unwrap().to_owned();
                self.pending_2xx.remove(&call);
                self.acked.insert(call);
            }
            _ => {}
        }
    }

    /// The UAS core retransmits its 2xx until the ACK (§13.3.1.4): T1 doubling to T2,
    /// through the server transaction while it is in Accepted.
    fn retransmit_2xx(&mut self) {
        let now = self.instant();
        let due: Vec<String> = self
            .pending_2xx
            .iter()
            .filter(|(_, p)| p.2 <= self.now)
            .map(|(c, _)| c.clone())
            .collect();
        for call in due {
            let Some((id, bytes, _, interval)) = self.pending_2xx.get(&call).cloned() else {
                continue;
            };
            if self.layers[UAS]
                .send_response(now, id, response(bytes.clone()), &mut self.out)
                .is_err()
                || interval >= 32_000
            {
                self.pending_2xx.remove(&call);
                continue;
            }
            let next = (interval * 2).min(4000);
            self.pending_2xx
                .insert(call, (id, bytes, self.now + next, interval + next));
            self.drain(UAS);
        }
    }

    fn run(&mut self) {
        let mut steps = 0;
        while let Some(t) = self.deadline_ms() {
            self.now = self.now.max(t);
            for (to, from, bytes) in self.link.due(self.now) {
                let now = self.instant();
                let msg = Message::parse(bytes).unwrap();
                self.layers[to]
                    .handle_message(now, from, msg, &mut self.out)
                    .unwrap();
                self.drain(to);
            }
            for side in [UAC, UAS] {
                let now = self.instant();
                self.layers[side].handle_timeout(now, &mut self.out);
                self.drain(side);
            }
            self.retransmit_2xx();
            steps += 1;
            assert!(steps < 1_000_000);
        }
    }
}

fn calls(kind: TransportKind, seed: u64) -> Pair {
    let mut p = Pair::new(seed, kind);
    let mut ids = Vec::new();
    for i in 0..40 {
        let tr = if kind == TransportKind::Udp {
            "UDP"
        } else {
            "TCP"
        };
        for method in ["INVITE", "OPTIONS"] {
            let mut req = Req::new(method, &p.layers[UAC].new_branch()).call(&format!("call{i}"));
            req.transport = tr;
            let now = p.instant();
            let id = p.layers[UAC]
                .send_request(now, req.request(), p.addrs[UAS], &mut p.out)
                .unwrap();
            p.drain(UAC);
            ids.push(id);
        }
        p.now += 50;
    }
    p.run();
    for id in &ids {
        assert_eq!(p.finals.get(id).map(|f| f[0]), Some(200), "{id}");
    }
    p
}

#[test]
fn calls_complete_over_a_lossy_reordering_link() {
    let p = calls(TransportKind::Udp, 11);
    // Retransmissions were absorbed: the UAS core saw every request exactly once.
    assert_eq!(p.requests_seen.len(), 80);
    assert!(
        p.requests_seen.values().all(|&n| n == 1),
        "{:?}",
        p.requests_seen
    );
    assert!(p.failures.is_empty(), "{:?}", p.failures);
    assert_eq!(p.acked.len(), 40);
    assert!(p.acks_sent >= 40);
    for l in &p.layers {
        assert!(l.is_empty());
        assert_eq!(l.memory_usage().timers, 0);
    }
}

#[test]
fn several_seeds() {
    for seed in 1..6 {
        let p = calls(TransportKind::Udp, seed * 1000);
        assert!(p.requests_seen.values().all(|&n| n == 1));
        assert!(p.layers.iter().all(|l| l.is_empty()));
    }
}
