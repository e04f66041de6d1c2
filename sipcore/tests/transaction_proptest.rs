//! Property: arbitrary sequences of messages, TU commands, timeouts and transport errors
//! never panic and never leak: once every timer has fired the table is empty, no timer
//! is armed, and every transaction reported exactly one `Terminated`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod transaction_util;

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use proptest::prelude::*;
use sipcore::message::Message;
use sipcore::transaction::{
    Config, Event, Outputs, TransactionId, TransactionLayer, TransportFailure,
};
use sipcore::transport::{Target, TransportKind};
use transaction_util::*;

const METHODS: [&str; 5] = ["INVITE", "OPTIONS", "BYE", "CANCEL", "ACK"];
const STATUSES: [u16; 8] = [100, 180, 183, 200, 202, 302, 486, 503];

#[derive(Debug, Clone)]
enum Op {
    /// The TU starts a client transaction.
    Send {
        method: usize,
        call: u8,
        reliable: bool,
    },
    /// A request arrives.
    Incoming {
        method: usize,
        call: u8,
        branch: u8,
        to_tag: bool,
        legacy: bool,
        reliable: bool,
    },
    /// A response to one of the client requests sent so far arrives.
    Reply {
        which: u8,
        status: usize,
        to_tag: u8,
    },
    /// The TU answers one of the server transactions seen so far (maybe dead).
    Respond { which: u8, status: usize },
    /// The TU cancels one of its client transactions.
    Cancel { which: u8 },
    /// Time passes, and the timers due fire.
    Advance { ms: u32 },
    /// A transmit of one transaction failed.
    SendError { which: u8 },
    /// A target failed.
    TargetError { reliable: bool },
    /// Garbage that parses as SIP but lacks matching headers.
    Junk,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..METHODS.len(), 0..4u8, any::<bool>()).prop_map(|(method, call, reliable)| Op::Send {
            method,
            call,
            reliable
        }),
        (
            0..METHODS.len(),
            0..4u8,
            0..3u8,
            any::<bool>(),
            any::<bool>(),
            any::<bool>()
        )
            .prop_map(
                |(method, call, branch, to_tag, legacy, reliable)| Op::Incoming {
                    method,
                    call,
                    branch,
                    to_tag,
                    legacy,
                    reliable
                }
            ),
        (any::<u8>(), 0..STATUSES.len(), 0..3u8).prop_map(|(which, status, to_tag)| Op::Reply {
            which,
            status,
            to_tag
        }),
        (any::<u8>(), 0..STATUSES.len()).prop_map(|(which, status)| Op::Respond { which, status }),
        any::<u8>().prop_map(|which| Op::Cancel { which }),
        (0..40_000u32).prop_map(|ms| Op::Advance { ms }),
        any::<u8>().prop_map(|which| Op::SendError { which }),
        any::<bool>().prop_map(|reliable| Op::TargetError { reliable }),
        Just(Op::Junk),
    ]
}

fn kind(reliable: bool) -> TransportKind {
    if reliable {
        TransportKind::Tcp
    } else {
        TransportKind::Udp
    }
}

struct World {
    layer: TransactionLayer,
    start: std::time::Instant,
    now: std::time::Instant,
    out: Outputs,
    /// Client requests sent: (id, bytes, target).
    sent: Vec<(TransactionId, Bytes, Target)>,
    /// Server transactions reported: (id, request bytes).
    incoming: Vec<(TransactionId, Bytes)>,
    created: usize,
    terminated: HashMap<TransactionId, usize>,
    branches: u32,
}

impl World {
    fn drain(&mut self) {
        while self.out.poll_transmit().is_some() {}
        while let Some(e) = self.out.poll_event() {
            match e {
                Event::Request { id, request, .. } | Event::Cancel { id, request, .. } => {
                    self.created += 1;
                    self.incoming.push((id, request.bytes()));
                }
                Event::Terminated { id } => *self.terminated.entry(id).or_default() += 1,
                _ => {}
            }
        }
    }

    fn apply(&mut self, op: Op) {
        let now = self.now;
        match op {
            Op::Send {
                method,
                call,
                reliable,
            } => {
                self.branches += 1;
                let mut r = Req::new(METHODS[method], &format!("z9hG4bKp{}", self.branches))
                    .call(&format!("c{call}"));
                if reliable {
                    r = r.tcp();
                }
                let target = bob(kind(reliable));
                if let Ok(id) = self
                    .layer
                    .send_request(now, r.request(), target, &mut self.out)
                {
                    self.created += 1;
                    self.sent.push((id, r.bytes(), target));
                }
            }
            Op::Incoming {
                method,
                call,
                branch,
                to_tag,
                legacy,
                reliable,
            } => {
                let mut r = Req::new(METHODS[method], &format!("z9hG4bKs{branch}"))
                    .call(&format!("s{call}"));
                if legacy {
                    r.branch = None;
                }
                if to_tag {
                    r.to_tag = Some("tt".into());
                }
                if reliable {
                    r = r.tcp();
                }
                let _ = self.layer.handle_message(
                    now,
                    alice(kind(reliable)),
                    Message::parse(r.bytes()).unwrap(),
                    &mut self.out,
                );
            }
            Op::Reply {
                which,
                status,
                to_tag,
            } => {
                if let Some((_, bytes, target)) = self
                    .sent
                    .get(usize::from(which) % self.sent.len().max(1))
                    .cloned()
                {
                    let tag = format!("r{to_tag}");
                    let resp = answer(&bytes, STATUSES[status], Some(&tag));
                    let _ = self.layer.handle_message(
                        now,
                        target,
                        Message::parse(resp).unwrap(),
                        &mut self.out,
                    );
                }
            }
            Op::Respond { which, status } => {
                if let Some((id, bytes)) = self
                    .incoming
                    .get(usize::from(which) % self.incoming.len().max(1))
                    .cloned()
                {
                    let resp = response(answer(&bytes, STATUSES[status], Some("u1")));
                    let _ = self.layer.send_response(now, id, resp, &mut self.out);
                }
            }
            Op::Cancel { which } => {
                if let Some((id, _, _)) = self
                    .sent
                    .get(usize::from(which) % self.sent.len().max(1))
                    .cloned()
                {
                    if let Ok(c) = self.layer.cancel(now, id, &mut self.out) {
                        if !self.sent.iter().any(|s| s.0 == c) {
                            self.created += 1;
                            let (_, bytes, target) =
                                self.sent.iter().find(|s| s.0 == id).cloned().unwrap();
                            self.sent.push((c, bytes, target));
                        }
                    }
                }
            }
            Op::Advance { ms } => {
                self.now += Duration::from_millis(u64::from(ms));
                self.layer.handle_timeout(self.now, &mut self.out);
            }
            Op::SendError { which } => {
                let all: Vec<TransactionId> = self
                    .sent
                    .iter()
                    .map(|s| s.0)
                    .chain(self.incoming.iter().map(|s| s.0))
                    .collect();
                if let Some(id) = all.get(usize::from(which) % all.len().max(1)) {
                    let _ = self.layer.handle_send_error(
                        now,
                        *id,
                        TransportFailure::ConnectionReset,
                        &mut self.out,
                    );
                }
            }
            Op::TargetError { reliable } => {
                let t = if reliable {
                    bob(kind(true))
                } else {
                    alice(kind(false))
                };
                self.layer.handle_transport_error(
                    now,
                    t,
                    TransportFailure::Unreachable,
                    &mut self.out,
                );
            }
            Op::Junk => {
                let b = Bytes::from_static(b"OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKj\r\nCSeq: 1 OPTIONS\r\n\r\n");
                let _ = self.layer.handle_message(
                    now,
                    alice(TransportKind::Udp),
                    Message::parse(b).unwrap(),
                    &mut self.out,
                );
            }
        }
        self.drain();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn no_panic_no_leak(ops in proptest::collection::vec(op(), 1..60), trying in any::<bool>()) {
        let start = epoch();
        let cfg = Config {
            trying_delay: trying.then_some(Duration::from_millis(200)),
            max_transactions: 40,
            max_per_call_seq: 6,
            shards: 2,
            timer_slots: 64,
            ..config()
        };
        let mut w = World {
            layer: TransactionLayer::new(cfg, start),
            start,
            now: start,
            out: Outputs::new(),
            sent: Vec::new(),
            incoming: Vec::new(),
            created: 0,
            terminated: HashMap::new(),
            branches: 0,
        };
        for op in ops {
            w.apply(op);
            prop_assert!(w.layer.len() <= 40 + 20); // CANCELs may pass the limit
        }
        // Let every timer fire.
        let mut guard = 0;
        while let Some(d) = w.layer.next_deadline() {
            w.now = w.now.max(d);
            w.layer.handle_timeout(w.now, &mut w.out);
            w.drain();
            guard += 1;
            prop_assert!(guard < 100_000);
        }
        prop_assert!(w.layer.is_empty(), "{} live after {:?}", w.layer.len(), w.now - w.start);
        let mem = w.layer.memory_usage();
        prop_assert_eq!(mem.transactions, 0);
        prop_assert_eq!(mem.timers, 0);
        // Every transaction the TU saw created ended exactly once (Timer C's own CANCELs
        // end too, without the TU having created them).
        prop_assert!(w.terminated.len() >= w.created);
        prop_assert!(w.sent.iter().map(|s| s.0).chain(w.incoming.iter().map(|s| s.0)).all(|id| w.terminated.get(&id) == Some(&1)));
        prop_assert!(w.terminated.values().all(|&n| n == 1));
    }
}
