//! Per-message cost of the endpoint (parse, transaction match, handler, send) with an
//! in-memory transport: a UAS answering OPTIONS 200, and the absorbed retransmission.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sipcore::endpoint::{Context, Endpoint, EndpointConfig, Handler};
use sipcore::message::{Request, StatusCode};
use sipcore::transaction::{Config, TransactionId};
use sipcore::transport::{Received, SendError, Target, Transport, TransportKind};

#[derive(Debug, Default)]
struct NullTransport {
    sent: AtomicU64,
}

impl Transport for NullTransport {
    fn kind(&self) -> TransportKind {
        TransportKind::Udp
    }
    fn local_addr(&self) -> SocketAddr {
        "127.0.0.1:5060".parse().unwrap()
    }
    fn send(&self, _: &Target, data: Bytes) -> Result<(), SendError> {
        self.sent.fetch_add(data.len() as u64, Ordering::Relaxed);
        Ok(())
    }
}

struct Ok200;

impl Handler for Ok200 {
    fn on_request(
        &self,
        ctx: &mut Context<'_>,
        id: TransactionId,
        req: Request,
        _: Target,
        _: bool,
    ) {
        let tag = ctx.new_tag();
        ctx.reply(id, &req, StatusCode::OK, Some(tag.as_str()))
            .unwrap();
    }
}

fn options(n: u64) -> Bytes {
    Bytes::from(format!(
        "OPTIONS sip:uas@127.0.0.1:5060 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-bench-{n}\r\n\
         From: sipp <sip:sipp@127.0.0.1:5061>;tag=1SIPpTag00{n}\r\n\
         To: <sip:uas@127.0.0.1:5060>\r\n\
         Call-ID: {n}-bench@127.0.0.1\r\n\
         CSeq: 1 OPTIONS\r\n\
         Max-Forwards: 70\r\n\
         Content-Length: 0\r\n\r\n"
    ))
}

fn bench(c: &mut Criterion) {
    let transport = Arc::new(NullTransport::default());
    let config = EndpointConfig {
        // T1 = 1 ms: server transactions end (Timer J = 64*T1) while the bench runs,
        // so the table stays at its steady-state size instead of growing.
        transaction: Config {
            t1: std::time::Duration::from_millis(1),
            max_transactions: 10_000_000,
            ..Config::default()
        },
        ..EndpointConfig::default()
    };
    let endpoint = Endpoint::builder(config)
        .stream_transport(transport.clone())
        .start(Arc::new(Ok200))
        .unwrap();
    let source = Target::udp("127.0.0.1:5061".parse().unwrap());
    let local: SocketAddr = "127.0.0.1:5060".parse().unwrap();
    let mut g = c.benchmark_group("endpoint");
    g.throughput(Throughput::Elements(1));
    let mut n = 0u64;
    g.bench_function("options_new_transaction", |b| {
        b.iter_batched(
            || {
                n += 1;
                options(n)
            },
            |data| {
                endpoint.handle_received(Received {
                    data,
                    source,
                    local,
                })
            },
            criterion::BatchSize::SmallInput,
        )
    });
    let retrans = options(u64::MAX);
    endpoint.handle_received(Received {
        data: retrans.clone(),
        source,
        local,
    });
    g.bench_function("options_retransmission_absorbed", |b| {
        b.iter(|| {
            endpoint.handle_received(Received {
                data: retrans.clone(),
                source,
                local,
            })
        })
    });
    g.finish();
    assert!(transport.sent.load(Ordering::Relaxed) > 0);
}

criterion_group!(benches, bench);
criterion_main!(benches);
