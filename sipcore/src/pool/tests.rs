//! Loopback tests of every strategy: delivery once, stats, per-flow order.

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use super::*;
use crate::transport::udp::UdpConfig;
use crate::transport::{Received, Transport};

/// Records (source, sequence number) in handling order.
#[derive(Default)]
struct Recorder {
    seen: Mutex<Vec<(SocketAddr, u32, usize)>>,
}

struct RecWorker {
    id: usize,
    rec: Arc<Recorder>,
}

impl WorkerHandler for RecWorker {
    fn handle(&mut self, r: Received) {
        let n = std::str::from_utf8(&r.data)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(u32::MAX);
        // Simulate work so that workers overlap.
        if n % 7 == 0 {
            std::thread::sleep(Duration::from_micros(200));
        }
        self.rec.seen.lock().push((r.source.addr, n, self.id));
    }
}

struct RecHandler(Arc<Recorder>);

impl DatagramHandler for RecHandler {
    fn worker(&self, id: usize) -> Box<dyn WorkerHandler> {
        Box::new(RecWorker {
            id,
            rec: self.0.clone(),
        })
    }
}

const SENDERS: usize = 4;
const PER_SENDER: u32 = 300;

fn blast(to: SocketAddr) {
    let threads: Vec<_> = (0..SENDERS)
        .map(|_| {
            std::thread::spawn(move || {
                let s = UdpSocket::bind("127.0.0.1:0").unwrap();
                for n in 0..PER_SENDER {
                    s.send_to(n.to_string().as_bytes(), to).unwrap();
                    if n % 50 == 0 {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

fn wait_for(rec: &Recorder, n: usize) {
    for _ in 0..500 {
        if rec.seen.lock().len() >= n {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Every datagram handled once, each flow in order, stats add up.
fn check(pool: &mut dyn ReceiverPool, rec: &Recorder) {
    let to = pool.transport().local_addr();
    blast(to);
    let total = SENDERS * PER_SENDER as usize;
    wait_for(rec, total);
    let seen = rec.seen.lock().clone();
    assert_eq!(seen.len(), total, "{}: all delivered once", pool.strategy());
    let mut last: HashMap<SocketAddr, u32> = HashMap::new();
    for (src, n, _) in &seen {
        if let Some(prev) = last.insert(*src, *n) {
            assert!(
                *n > prev,
                "{}: flow {src} reordered {prev} -> {n}",
                pool.strategy()
            );
        }
    }
    let ps = pool.ps();
    let handled: u64 = ps
        .iter()
        .filter(|w| w.id != usize::MAX)
        .map(|w| w.messages)
        .sum();
    assert_eq!(handled as usize, total);
    for w in &ps {
        assert_eq!(w.strategy, pool.strategy());
        assert_eq!(w.socket, to);
        if w.id != usize::MAX {
            let by_worker = seen.iter().filter(|s| s.2 == w.id).count() as u64;
            assert_eq!(w.messages, by_worker);
        }
    }
    pool.shutdown();
}

fn config() -> UdpConfig {
    let mut c = UdpConfig::new("127.0.0.1:0".parse().unwrap());
    c.recv_buffer = Some(1 << 20);
    c.read_timeout = Some(Duration::from_millis(20));
    c
}

#[test]
fn shared_socket_delivers_in_flow_order() {
    let rec = Arc::new(Recorder::default());
    let mut pool = SharedSocketPool::bind(&config(), 3).unwrap();
    pool.start(Arc::new(RecHandler(rec.clone()))).unwrap();
    check(&mut pool, &rec);
}

#[test]
fn reuse_port_delivers_in_flow_order() {
    let rec = Arc::new(Recorder::default());
    let mut pool = ReusePortPool::bind(&config(), 3).unwrap();
    pool.start(Arc::new(RecHandler(rec.clone()))).unwrap();
    check(&mut pool, &rec);
}

#[test]
fn dispatcher_delivers_in_flow_order() {
    let rec = Arc::new(Recorder::default());
    let mut pool = DispatcherPool::bind(&config(), 3, 4096).unwrap();
    pool.start(Arc::new(RecHandler(rec.clone()))).unwrap();
    check(&mut pool, &rec);
    assert!(pool.ps().iter().any(|w| w.id == usize::MAX));
}

#[test]
fn inline_delivers_in_order() {
    let rec = Arc::new(Recorder::default());
    let mut pool = InlinePool::bind(&config()).unwrap();
    pool.start(Arc::new(RecHandler(rec.clone()))).unwrap();
    let to = pool.transport().local_addr();
    let sender = std::thread::spawn(move || blast(to));
    let total = SENDERS * PER_SENDER as usize;
    let mut handled = 0;
    for _ in 0..2000 {
        handled += pool.poll(Duration::from_millis(5), 64).unwrap();
        if handled >= total {
            break;
        }
    }
    sender.join().unwrap();
    assert_eq!(handled, total);
    assert_eq!(pool.ps()[0].messages as usize, total);
}

#[test]
fn dispatcher_full_queue_goes_to_overflow_hook() {
    struct Slow(Arc<Mutex<usize>>);
    struct SlowWorker;
    impl WorkerHandler for SlowWorker {
        fn handle(&mut self, _: Received) {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    impl DatagramHandler for Slow {
        fn worker(&self, _: usize) -> Box<dyn WorkerHandler> {
            Box::new(SlowWorker)
        }
        fn on_queue_full(&self, _: Received) {
            *self.0.lock() += 1;
        }
    }
    let overflow = Arc::new(Mutex::new(0));
    let mut pool = DispatcherPool::bind(&config(), 1, 4).unwrap();
    pool.start(Arc::new(Slow(overflow.clone()))).unwrap();
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    for _ in 0..100 {
        s.send_to(b"x", pool.transport().local_addr()).unwrap();
    }
    std::thread::sleep(Duration::from_millis(100));
    pool.shutdown();
    let dropped: u64 = pool.ps().iter().map(|w| w.dropped).sum();
    assert!(dropped > 0);
    assert_eq!(dropped as usize, *overflow.lock());
}
