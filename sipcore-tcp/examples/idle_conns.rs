//! Idle-connection bench: opens N idle client connections to a `TcpTransport` and reports
//! the manager's userland memory per idle connection and its CPU use while idle, then the
//! request rate with those N connections held.
//!
//! ```text
//! cargo run --release -p sipcore-tcp --example idle_conns -- [N] [--sources K] [--load SECS]
//! ```
//!
//! N defaults to 20,000; the clients run in a child process (this program, re-executed),
//! so the server's figures are its own. Each side needs N file descriptors: the program
//! raises its soft `RLIMIT_NOFILE` to the hard limit and lowers N to fit if it must (it
//! says so). For N = 100,000 raise the hard limit first (`ulimit -Hn 200000` as root, or
//! `LimitNOFILE=` in a unit) and use several loopback source addresses (`--sources 4`:
//! 127.0.0.1-4, about 28k ephemeral ports each).
//!
//! Memory is RSS and PSS from `/proc/self/smaps_rollup` (Linux), before and after the N
//! connections are accepted and idle; the delta divided by N is the manager's userland
//! cost per idle connection (kernel socket buffers are not in it). CPU is the supervisor
//! thread's and the whole process's on-CPU time (`/proc/.../schedstat`) over an idle
//! window.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)] // a bench program

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use sipcore::transport::{MessageSink, Received, Transport};
use sipcore_tcp::{TcpConfig, TcpTransport};

const REQUEST: &[u8] = b"OPTIONS sip:bob@example.com SIP/2.0\r\n\
Via: SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bKbench\r\n\
From: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\n\
Call-ID: bench@127.0.0.1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
const RESPONSE: &[u8] = b"SIP/2.0 200 OK\r\n\
Via: SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bKbench\r\n\
From: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>;tag=2\r\n\
Call-ID: bench@127.0.0.1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";

struct Args {
    n: usize,
    sources: usize,
    load_secs: u64,
    client: Option<SocketAddr>,
}

fn args() -> Args {
    let mut a = Args {
        n: 20_000,
        sources: 4,
        load_secs: 5,
        client: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(x) = it.next() {
        match x.as_str() {
            "--sources" => a.sources = it.next().and_then(|v| v.parse().ok()).unwrap_or(4),
            "--load" => a.load_secs = it.next().and_then(|v| v.parse().ok()).unwrap_or(5),
            "--client" => a.client = it.next().and_then(|v| v.parse().ok()),
            "--bench" => {} // passed by `cargo bench`
            n => {
                if let Ok(n) = n.parse() {
                    a.n = n;
                }
            }
        }
    }
    a
}

fn main() {
    let a = args();
    let limit = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(1024);
    match a.client {
        Some(server) => client(server, a.n, a.sources.max(1)),
        None => server(a, limit),
    }
}

/// `(rss_kib, pss_kib)` of this process.
fn memory() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/self/smaps_rollup").unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("Rss:"), field("Pss:"))
}

/// On-CPU nanoseconds of one thread (by name) or, with `None`, of all threads.
fn cpu_ns(thread: Option<&str>) -> u64 {
    let mut total = 0;
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    for task in dir.flatten() {
        let p = task.path();
        let name = std::fs::read_to_string(p.join("comm")).unwrap_or_default();
        if thread.is_some_and(|t| name.trim() != t) {
            continue;
        }
        let stat = std::fs::read_to_string(p.join("schedstat")).unwrap_or_default();
        total += stat
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
    }
    total
}

struct Echo {
    tcp: OnceLock<TcpTransport>,
    count: AtomicU64,
}

impl MessageSink for Echo {
    fn on_received(&self, r: Received) {
        self.count.fetch_add(1, Ordering::Relaxed);
        if let Some(tcp) = self.tcp.get() {
            let _ = tcp.send(&r.source, Bytes::from_static(RESPONSE));
        }
    }
}

fn server(a: Args, limit: u64) {
    let mut n = a.n;
    let fit = (limit as usize).saturating_sub(64);
    if n > fit {
        eprintln!(
            "RLIMIT_NOFILE is {limit}: lowering N from {n} to {fit} (raise the hard limit for more)"
        );
        n = fit;
    }
    let mut config = TcpConfig::default();
    config.listen.push("127.0.0.1:0".parse().unwrap());
    config.max_connections = n + 16;
    config.max_inbound = n + 16;
    config.backlog = 4096;
    config.workers = 2;
    let echo = Arc::new(Echo {
        tcp: OnceLock::new(),
        count: AtomicU64::new(0),
    });
    let tcp = TcpTransport::start(config, echo.clone(), Arc::new(())).unwrap();
    let _ = echo.tcp.set(tcp.clone());
    std::thread::sleep(Duration::from_millis(200));
    let (rss0, pss0) = memory();

    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args([
            "--client",
            &tcp.local_addr().to_string(),
            &n.to_string(),
            "--sources",
            &a.sources.to_string(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut to_child = child.stdin.take().unwrap();
    let mut from_child = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    let t0 = Instant::now();
    from_child.read_line(&mut line).unwrap();
    let opened: usize = line
        .trim()
        .strip_prefix("ready ")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while tcp.stats().accepted < opened as u64 && t0.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let setup = t0.elapsed();
    std::thread::sleep(Duration::from_secs(1));
    let (rss1, pss1) = memory();
    let s = tcp.stats();
    println!(
        "connections: {} open ({} accepted) in {setup:.2?}",
        s.connections_open, s.accepted
    );
    println!(
        "memory: RSS {rss0} -> {rss1} KiB, PSS {pss0} -> {pss1} KiB: {:.0} B RSS, {:.0} B PSS per idle connection",
        (rss1.saturating_sub(rss0) * 1024) as f64 / opened.max(1) as f64,
        (pss1.saturating_sub(pss0) * 1024) as f64 / opened.max(1) as f64,
    );

    let window = Duration::from_secs(5);
    let (sup0, all0, w0) = (cpu_ns(Some("sip-tcp-sup")), cpu_ns(None), Instant::now());
    std::thread::sleep(window);
    let (sup1, all1, secs) = (
        cpu_ns(Some("sip-tcp-sup")),
        cpu_ns(None),
        w0.elapsed().as_secs_f64(),
    );
    println!(
        "idle CPU: supervisor {:.3} ms/s, whole process {:.3} ms/s (over {secs:.1} s)",
        (sup1 - sup0) as f64 / 1e6 / secs,
        (all1 - all0) as f64 / 1e6 / secs,
    );

    writeln!(to_child, "load {}", a.load_secs).unwrap();
    to_child.flush().unwrap();
    let before = echo.count.load(Ordering::Relaxed);
    let (sup0, all0) = (cpu_ns(Some("sip-tcp-sup")), cpu_ns(None));
    line.clear();
    from_child.read_line(&mut line).unwrap();
    let mut parts = line.split_whitespace().skip(1);
    let done: u64 = parts.next().and_then(|v| v.parse().ok()).unwrap_or(0);
    let secs: f64 = parts.next().and_then(|v| v.parse().ok()).unwrap_or(1.0);
    let (sup1, all1) = (cpu_ns(Some("sip-tcp-sup")), cpu_ns(None));
    let handled = echo.count.load(Ordering::Relaxed) - before;
    let s = tcp.stats();
    println!(
        "load with {opened} connections held: {done} request/response pairs in {secs:.2} s = {:.0}/s \
         (server handled {handled}; server CPU {:.0}% of one core, supervisor {:.1}%; \
         hand-offs {}, direct sends {}, queued {})",
        done as f64 / secs,
        (all1 - all0) as f64 / 1e9 / secs * 100.0,
        (sup1 - sup0) as f64 / 1e9 / secs * 100.0,
        s.handoffs,
        s.sent_direct,
        s.sent_queued,
    );
    println!("failures: {}", s.failures());
    let _ = writeln!(to_child, "quit");
    let _ = child.wait();
    tcp.shutdown();
}

fn client(server: SocketAddr, n: usize, sources: usize) {
    let mut conns = Vec::with_capacity(n);
    for i in 0..n {
        let src = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1 + (i % sources) as u8));
        let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        s.bind(&SocketAddr::new(src, 0).into()).unwrap();
        if let Err(e) = s.connect(&server.into()) {
            eprintln!("client: connect {i} failed: {e}");
            break;
        }
        let s: TcpStream = s.into();
        s.set_nodelay(true).unwrap();
        conns.push(s);
    }
    println!("ready {}", conns.len());
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    while let Some(Ok(cmd)) = lines.next() {
        if let Some(secs) = cmd.strip_prefix("load ") {
            let secs: u64 = secs.trim().parse().unwrap_or(5);
            let (done, elapsed) = load(&mut conns, Duration::from_secs(secs));
            println!("done {done} {}", elapsed.as_secs_f64());
        } else {
            break;
        }
    }
}

/// Two threads, each with half the connections: write a request on a batch of
/// connections, then read each response; repeat until `time` is up.
fn load(conns: &mut [TcpStream], time: Duration) -> (u64, Duration) {
    let t0 = Instant::now();
    let half = conns.len() / 2;
    let (a, b) = conns.split_at_mut(half);
    let total = AtomicU64::new(0);
    std::thread::scope(|scope| {
        for part in [a, b] {
            let total = &total;
            scope.spawn(move || {
                let mut buf = [0u8; 1024];
                let mut done = 0;
                'outer: while t0.elapsed() < time {
                    for batch in part.chunks_mut(64) {
                        for c in batch.iter_mut() {
                            c.write_all(REQUEST).unwrap();
                        }
                        for c in batch.iter_mut() {
                            let mut got = 0;
                            while got < RESPONSE.len() {
                                let k = c.read(&mut buf).unwrap();
                                assert!(k > 0, "server closed a connection");
                                got += k;
                            }
                            done += 1;
                        }
                        if t0.elapsed() >= time {
                            break 'outer;
                        }
                    }
                }
                total.fetch_add(done, Ordering::Relaxed);
            });
        }
    });
    (total.load(Ordering::Relaxed), t0.elapsed())
}
