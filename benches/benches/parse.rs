//! Parse bench: the same inputs parsed by `sipcore` and by the `rsip` crate (0.4) in one
//! run, each doing the same work: parse the message, then read the top Via branch, the
//! CSeq number and method, the From tag and the Call-ID. Then the stream framer (16 sipp
//! INVITEs pipelined on one buffer) and a proxy-style forward by edits.
//!
//! ```text
//! cargo bench -p sipcore-benches --bench parse
//! ```
//!
//! Inputs (`benches/data`, `sipcore_benches::INPUTS`): the INVITE
//! `shared/bench/scenarios/uac.xml` sends (captured from sipp), an INVITE with a 2 KB
//! SDP, a 200 OK, a REGISTER with digest Authorization, an in-dialog INFO in compact
//! forms, a 200 OK with two Vias and two Record-Routes, an in-dialog BYE with a route
//! set, and a 3 KB INVITE (three Vias, the usual phone headers, a multi-codec SDP).

// `criterion_group!` generates an undocumented `pub fn`.
#![allow(missing_docs)]
// The inputs are fixed files, not network input.
#![allow(clippy::expect_used)]

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use sipcore::parse::{parse_datagram, StreamFramer, StreamItem};

use sipcore_benches::{rsip_work, sipcore_work, INPUTS, SIPP_INVITE};

fn parse(c: &mut Criterion) {
    for &(name, data) in INPUTS {
        // Both sides must agree on the fields before they are timed.
        assert_eq!(
            sipcore_work(Bytes::from_static(data)),
            rsip_work(data),
            "{name}"
        );
        let mut g = c.benchmark_group(format!("parse/{name}"));
        g.throughput(Throughput::Bytes(data.len() as u64));
        g.bench_function("sipcore", |b| {
            b.iter(|| sipcore_work(Bytes::from_static(black_box(data))))
        });
        g.bench_function("rsip", |b| b.iter(|| rsip_work(black_box(data))));
        g.finish();
    }
}

fn framer(c: &mut Criterion) {
    const N: usize = 16;
    let mut stream = Vec::new();
    for _ in 0..N {
        stream.extend_from_slice(SIPP_INVITE);
        stream.extend_from_slice(b"\r\n\r\n"); // a keep-alive between messages
    }
    let mut g = c.benchmark_group("framer");
    g.throughput(Throughput::Bytes(stream.len() as u64));
    g.bench_function("sipp-invite-x16", |b| {
        b.iter_batched(
            || BytesMut::from(&stream[..]),
            |mut buf| {
                let mut f = StreamFramer::default();
                let mut n = 0;
                while let Some(item) = f.next_item(&mut buf).expect("frames") {
                    if let StreamItem::Message(m) = item {
                        n += black_box(m.body().len());
                    }
                }
                n
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn edit(c: &mut Criterion) {
    use sipcore::edit::Edits;
    let mut g = c.benchmark_group("edit");
    g.throughput(Throughput::Bytes(SIPP_INVITE.len() as u64));
    let mut out = BytesMut::with_capacity(4096);
    // What a record-routing proxy does to the INVITE before relaying it: parse, read
    // the routing fields, decrement Max-Forwards, add its Via and Record-Route, and
    // write the result.
    g.bench_function("forward-sipp-invite", |b| {
        b.iter(|| {
            let m = parse_datagram(Bytes::from_static(black_box(SIPP_INVITE))).expect("parses");
            black_box(m.top_via().expect("Via").branch());
            let mut e = Edits::new(&m);
            e.decrement_max_forwards().expect("Max-Forwards");
            e.prepend_via("SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-proxy-1-0")
                .expect("Via");
            e.insert_record_route("<sip:127.0.0.1:5060;lr>")
                .expect("Record-Route");
            out.clear();
            e.apply_into(&mut out).expect("applies")
        })
    });
    g.finish();
}

criterion_group!(benches, parse, framer, edit);
criterion_main!(benches);
