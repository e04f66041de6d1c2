//! Transaction layer benches: create + match + terminate 100k transactions across
//! shards, the cost of matching one message against a table of 100k, and the memory
//! per transaction (printed before the timings).
//!
//! Messages are parsed outside the timed sections: the parse bench measures parsing.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::disallowed_methods,
    missing_docs
)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{criterion_group, BatchSize, Criterion, Throughput};
use sipcore::message::{response_to, Message, Response, StatusCode};
use sipcore::transaction::{Config, Event, Outputs, TransactionId, TransactionLayer};
use sipcore::transport::Target;

const N: usize = 100_000;
const CHUNK: usize = 1_000;

fn config() -> Config {
    Config {
        rng_seed: Some(1),
        trying_delay: None,
        max_transactions: 2 * N,
        ..Config::default()
    }
}

fn alice(tcp: bool) -> Target {
    let a = "192.0.2.1:5060".parse().unwrap();
    if tcp {
        Target::tcp(a)
    } else {
        Target::udp(a)
    }
}

fn bob() -> Target {
    Target::udp("192.0.2.2:5060".parse().unwrap())
}

/// An OPTIONS of call `i`, as a UA would send it (about 330 bytes).
fn request(i: usize, tcp: bool, branch: &str) -> Bytes {
    let tr = if tcp { "TCP" } else { "UDP" };
    Bytes::from(format!(
        "OPTIONS sip:bob@192.0.2.2 SIP/2.0\r\nVia: SIP/2.0/{tr} 192.0.2.1:5060;branch={branch}\r\n\
         Max-Forwards: 70\r\nFrom: Alice <sip:alice@192.0.2.1>;tag=a{i}\r\nTo: Bob <sip:bob@192.0.2.2>\r\n\
         Call-ID: {i}-3848276298220188511@192.0.2.1\r\nCSeq: 1 OPTIONS\r\n\
         Contact: <sip:alice@192.0.2.1>\r\nContent-Length: 0\r\n\r\n"
    ))
}

fn parse(b: Bytes) -> Message {
    Message::parse(b).unwrap()
}

fn ok_for(req: &Message) -> Response {
    let bytes = response_to(req.as_request().unwrap(), StatusCode::OK)
        .to_tag("t1")
        .build();
    match parse(bytes) {
        Message::Response(r) => r,
        Message::Request(_) => unreachable!(),
    }
}

fn new_request_id(out: &mut Outputs) -> TransactionId {
    let mut id = None;
    while let Some(e) = out.poll_event() {
        if let Event::Request { id: i, .. } = e {
            id = Some(i);
        }
    }
    id.unwrap()
}

fn drain(out: &mut Outputs) {
    while out.poll_transmit().is_some() {}
    while out.poll_event().is_some() {}
}

/// Creates, matches (a retransmission) and terminates N server transactions; over TCP
/// the final response ends each at once, over UDP Timer J ends them all in one
/// `handle_timeout`. Only the layer calls are timed.
fn lifecycle(tcp: bool) -> Duration {
    let start = Instant::now();
    let layer = TransactionLayer::new(config(), start);
    let mut out = Outputs::new();
    let mut timed = Duration::ZERO;
    for chunk in 0..N / CHUNK {
        let batch: Vec<(Message, Message, Response)> = (0..CHUNK)
            .map(|k| {
                let i = chunk * CHUNK + k;
                let b = request(i, tcp, &format!("z9hG4bK{i}x"));
                let m = parse(b.clone());
                let ok = ok_for(&m);
                (m, parse(b), ok)
            })
            .collect();
        let t0 = Instant::now();
        for (req, retransmission, ok) in batch {
            layer
                .handle_message(start, alice(tcp), req, &mut out)
                .unwrap();
            let id = new_request_id(&mut out);
            layer
                .handle_message(start, alice(tcp), retransmission, &mut out)
                .unwrap();
            layer.send_response(start, id, ok, &mut out).unwrap();
            drain(&mut out);
        }
        timed += t0.elapsed();
    }
    let t0 = Instant::now();
    layer.handle_timeout(start + Duration::from_secs(33), &mut out);
    drain(&mut out);
    timed += t0.elapsed();
    assert!(layer.is_empty());
    timed
}

fn bench_lifecycle(c: &mut Criterion) {
    let mut g = c.benchmark_group("transaction/create_match_terminate_100k");
    g.throughput(Throughput::Elements(N as u64));
    g.sample_size(10);
    g.bench_function("tcp", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| lifecycle(true)).sum())
    });
    g.bench_function("udp_timer_j", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| lifecycle(false)).sum())
    });
    g.finish();
}

/// A layer holding N live UDP server transactions (answered, in Completed for Timer J)
/// and N live client transactions (in Trying); returns sample retransmissions and
/// responses to match.
fn full_table() -> (TransactionLayer, Instant, Vec<Message>, Vec<Message>) {
    let start = Instant::now();
    let layer = TransactionLayer::new(config(), start);
    let mut out = Outputs::new();
    let mut retrans = Vec::new();
    let mut responses = Vec::new();
    for i in 0..N {
        let b = request(i, false, &format!("z9hG4bK{i}s"));
        let m = parse(b.clone());
        let ok = ok_for(&m);
        layer
            .handle_message(start, alice(false), m, &mut out)
            .unwrap();
        let id = new_request_id(&mut out);
        layer.send_response(start, id, ok, &mut out).unwrap();
        let branch = layer.new_branch();
        let creq = parse(request(N + i, false, &branch));
        let trying = response_to(creq.as_request().unwrap(), StatusCode::TRYING).build();
        layer
            .send_request(start, creq.as_request().unwrap().clone(), bob(), &mut out)
            .unwrap();
        drain(&mut out);
        if i % 97 == 0 {
            retrans.push(parse(b));
            responses.push(parse(trying));
        }
    }
    (layer, start, retrans, responses)
}

fn bench_match(c: &mut Criterion) {
    let (layer, start, retrans, responses) = full_table();
    let mut out = Outputs::new();
    let mut g = c.benchmark_group("transaction/match_one_message_in_200k");
    g.throughput(Throughput::Elements(1));
    let mut k = 0;
    g.bench_function("request_retransmission", |b| {
        b.iter_batched(
            || {
                k = (k + 1) % retrans.len();
                retrans[k].clone()
            },
            |m| {
                layer
                    .handle_message(start, alice(false), m, &mut out)
                    .unwrap();
                drain(&mut out);
            },
            BatchSize::SmallInput,
        )
    });
    g.bench_function("response_to_client", |b| {
        b.iter_batched(
            || {
                k = (k + 1) % responses.len();
                responses[k].clone()
            },
            |m| {
                layer.handle_message(start, bob(), m, &mut out).unwrap();
                drain(&mut out);
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
    black_box(&layer);
}

/// Prints what N live transactions cost in table memory.
fn report_memory() {
    let (layer, _, _, _) = full_table();
    let m = layer.memory_usage();
    println!(
        "memory: {} live transactions, {} timers; table {} bytes = {} bytes per transaction \
         (marginal state per transaction: {} bytes; message bytes not counted)",
        m.transactions,
        m.timers,
        m.table_bytes,
        m.table_bytes / m.transactions.max(1),
        m.bytes_per_transaction
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default();
    targets = bench_lifecycle, bench_match
}

fn main() {
    report_memory();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
