//! Messages per second through the TCP connection manager, end to end over loopback:
//! one client `TcpTransport` sends to one server `TcpTransport` whose sink counts framed
//! messages; an iteration sends a batch and waits until the server has them all.
//!
//! - `direct`: default socket buffers, so almost every send is one direct `send(2)`;
//! - `queued`: a 4 KiB `SO_SNDBUF`, so sends hit `WouldBlock`, queue behind each other and
//!   the supervisor flushes them with `writev`.
//!
//! The share of direct and queued sends is printed after each group.
#![allow(missing_docs, clippy::unwrap_used, clippy::disallowed_methods)] // a bench; criterion_group! makes undocumented fns

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sipcore::transport::{MessageSink, Received, Target, Transport};
use sipcore_tcp::{TcpConfig, TcpTransport};

const REQUEST: &[u8] = b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/TCP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n\
Max-Forwards: 70\r\n\
To: Bob <sip:bob@biloxi.example.com>\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@pc33.atlanta.example.com;transport=tcp>\r\n\
Content-Length: 0\r\n\r\n";

const BATCH: u64 = 2_000;

struct Count(AtomicU64);
impl MessageSink for Count {
    fn on_received(&self, _: Received) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

fn pair(send_buffer: Option<usize>) -> (TcpTransport, TcpTransport, Arc<Count>) {
    let count = Arc::new(Count(AtomicU64::new(0)));
    let mut server = TcpConfig::default();
    server.listen.push("127.0.0.1:0".parse().unwrap());
    server.workers = 1;
    let server = TcpTransport::start(server, count.clone(), Arc::new(())).unwrap();
    let mut client = TcpConfig::default();
    client.workers = 1;
    client.send_buffer = send_buffer;
    client.conn_wq_max = 64 << 20;
    client.wq_max = 64 << 20;
    let client =
        TcpTransport::start(client, Arc::new(Count(AtomicU64::new(0))), Arc::new(())).unwrap();
    (server, client, count)
}

fn run_batch(client: &TcpTransport, to: &Target, msg: &Bytes, count: &Count) {
    let start = count.0.load(Ordering::Relaxed);
    for _ in 0..BATCH {
        client.send(to, msg.clone()).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while count.0.load(Ordering::Relaxed) < start + BATCH {
        assert!(Instant::now() < deadline, "messages lost");
        std::hint::spin_loop();
        std::thread::yield_now();
    }
}

fn bench_tcp(c: &mut Criterion) {
    let msg = Bytes::from_static(REQUEST);
    let mut group = c.benchmark_group("tcp");
    group.throughput(Throughput::Elements(BATCH));
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    for (name, send_buffer) in [("direct", None), ("queued", Some(4096))] {
        let (server, client, count) = pair(send_buffer);
        let to = Target::tcp(server.local_addr());
        run_batch(&client, &to, &msg, &count);
        group.bench_function(name, |b| b.iter(|| run_batch(&client, &to, &msg, &count)));
        let s = client.stats();
        eprintln!(
            "tcp/{name}: {} direct sends, {} queued, peak queue {} B",
            s.sent_direct, s.sent_queued, s.queued_bytes_peak
        );
        client.shutdown();
        server.shutdown();
    }
    group.finish();
}

criterion_group!(benches, bench_tcp);
criterion_main!(benches);
