//! TLS bench: handshakes per second and server CPU per handshake (full and resumed),
//! memory per idle TLS connection, and messages per second over established connections.
//!
//! ```text
//! cargo run --release -p sipcore-tls --example tls_bench -- [N] [--secs S] [--sources K]
//! ```
//!
//! The server is a `TlsTransport` in this process (2 workers, an ECDSA P-256 certificate
//! made at start with rcgen) that answers every request with a 200. The clients run in a
//! child process (this program, re-executed) as plain blocking rustls clients, so the
//! figures printed for the server are its own:
//!
//! - **handshakes**: two client threads connect, complete a TLS 1.3 handshake, exchange
//!   one request/response and close, for S seconds (default 5), first with resumption
//!   off (full handshakes), then on (resumed from the server's session cache); the rate
//!   is the server's completed handshakes per second, and CPU per handshake is the server
//!   process's on-CPU time (all threads, `/proc/self/task/*/schedstat`) divided by them
//!   (TCP accept, the message and the close included). Client and server share the
//!   machine's two cores.
//! - **idle memory**: the child opens N connections (default 10,000) that finish their
//!   handshake, exchange one request, and stay idle; RSS and PSS of the server process
//!   (`/proc/self/smaps_rollup`) before and after, divided by N.
//! - **messages**: request/response pairs per second over one connection (64 requests
//!   written, then 64 responses read, repeated), then over all N connections (two client
//!   threads, batches of 64 connections).
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)] // a bench program

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use sipcore::transport::{MessageSink, Received, Transport};
use sipcore_tcp::{TcpConfig, TcpTransport};
use sipcore_tls::{CertSource, ServerTls, TlsConfig, TlsTransport};

const NAME: &str = "sip.example.com";
const REQUEST: &[u8] = b"OPTIONS sips:bob@example.com SIP/2.0\r\n\
Via: SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bKbench\r\n\
From: <sips:alice@example.com>;tag=1\r\nTo: <sips:bob@example.com>\r\n\
Call-ID: bench@127.0.0.1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
const RESPONSE: &[u8] = b"SIP/2.0 200 OK\r\n\
Via: SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bKbench\r\n\
From: <sips:alice@example.com>;tag=1\r\nTo: <sips:bob@example.com>;tag=2\r\n\
Call-ID: bench@127.0.0.1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";

type Tls = StreamOwned<ClientConnection, TcpStream>;

struct Args {
    n: usize,
    secs: u64,
    sources: usize,
    client: Option<(SocketAddr, String)>,
    tcp: Option<SocketAddr>,
}

fn args() -> Args {
    let mut a = Args {
        n: 10_000,
        secs: 5,
        sources: 4,
        client: None,
        tcp: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(x) = it.next() {
        match x.as_str() {
            "--secs" => a.secs = it.next().and_then(|v| v.parse().ok()).unwrap_or(5),
            "--sources" => a.sources = it.next().and_then(|v| v.parse().ok()).unwrap_or(4),
            "--client" => {
                let addr = it.next().and_then(|v| v.parse().ok());
                let ca = it.next();
                a.client = addr.zip(ca);
            }
            "--tcp" => a.tcp = it.next().and_then(|v| v.parse().ok()),
            "--bench" => {}
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
    match &a.client {
        Some((server, ca)) => client(*server, a.tcp, ca, a.sources.max(1)),
        None => server(&a, limit),
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

/// On-CPU nanoseconds of all threads of this process.
fn cpu_ns() -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    dir.flatten()
        .map(|t| {
            std::fs::read_to_string(t.path().join("schedstat"))
                .unwrap_or_default()
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        })
        .sum()
}

struct Echo {
    tls: OnceLock<TlsTransport>,
    count: AtomicU64,
}

impl MessageSink for Echo {
    fn on_received(&self, r: Received) {
        self.count.fetch_add(1, Ordering::Relaxed);
        if let Some(tls) = self.tls.get() {
            let _ = tls.send(&r.source, Bytes::from_static(RESPONSE));
        }
    }
}

/// The plain-TCP baseline: the same manager without TLS.
struct TcpEcho(OnceLock<TcpTransport>);

impl MessageSink for TcpEcho {
    fn on_received(&self, r: Received) {
        if let Some(tcp) = self.0.get() {
            let _ = tcp.send(&r.source, Bytes::from_static(RESPONSE));
        }
    }
}

/// Sends `cmd` to the child and returns its answer's numbers.
fn ask(to: &mut impl Write, from: &mut impl BufRead, cmd: &str) -> (u64, f64) {
    writeln!(to, "{cmd}").unwrap();
    to.flush().unwrap();
    let mut line = String::new();
    from.read_line(&mut line).unwrap();
    let mut parts = line.split_whitespace().skip(1);
    let count = parts.next().and_then(|v| v.parse().ok()).unwrap_or(0);
    let secs = parts.next().and_then(|v| v.parse().ok()).unwrap_or(1.0);
    (count, secs)
}

fn server(a: &Args, limit: u64) {
    let mut n = a.n;
    let fit = (limit as usize).saturating_sub(64);
    if n > fit {
        eprintln!("RLIMIT_NOFILE is {limit}: lowering N from {n} to {fit}");
        n = fit;
    }
    let cert = rcgen::generate_simple_self_signed(vec![NAME.into()]).unwrap();
    let ca_path = std::env::temp_dir().join(format!("tls_bench_ca_{}.pem", std::process::id()));
    std::fs::write(&ca_path, cert.cert.pem()).unwrap();

    let mut config = TlsConfig::default();
    config.tcp.listen.push("127.0.0.1:0".parse().unwrap());
    config.tcp.max_connections = n + 256;
    config.tcp.max_inbound = n + 256;
    config.tcp.backlog = 4096;
    config.tcp.workers = 2;
    config.server = Some(ServerTls::new(CertSource::pem(
        cert.cert.pem(),
        cert.signing_key.serialize_pem(),
    )));
    let echo = Arc::new(Echo {
        tls: OnceLock::new(),
        count: AtomicU64::new(0),
    });
    let tls = TlsTransport::start(config, echo.clone(), Arc::new(())).unwrap();
    let _ = echo.tls.set(tls.clone());

    let mut tcp_config = TcpConfig::default();
    tcp_config.listen.push("127.0.0.1:0".parse().unwrap());
    tcp_config.workers = 2;
    tcp_config.max_connections = 4096;
    tcp_config.max_inbound = 4096;
    tcp_config.backlog = 4096;
    let tcp_echo = Arc::new(TcpEcho(OnceLock::new()));
    let tcp = TcpTransport::start(tcp_config, tcp_echo.clone(), Arc::new(())).unwrap();
    let _ = tcp_echo.0.set(tcp.clone());

    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args([
            "--client",
            &tls.local_addr().to_string(),
            &ca_path.display().to_string(),
            "--tcp",
            &tcp.local_addr().to_string(),
            "--sources",
            &a.sources.to_string(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut to = child.stdin.take().unwrap();
    let mut from = BufReader::new(child.stdout.take().unwrap());
    println!("server: ECDSA P-256 certificate, TLS 1.3, 2 workers; clients in a child process");
    in_memory(&cert);

    let (a0, c0) = (tcp.stats().accepted, cpu_ns());
    let (_, secs) = ask(&mut to, &mut from, &format!("tcp {}", a.secs));
    let (a1, c1) = (tcp.stats().accepted, cpu_ns());
    let tcp_us = (c1 - c0) as f64 / 1e3 / (a1 - a0).max(1) as f64;
    println!(
        "baseline, plain TCP: {} connections (connect, one request/response, close) in {secs:.2} s = {:.0}/s; \
         server CPU {tcp_us:.0} us per connection",
        a1 - a0,
        (a1 - a0) as f64 / secs,
    );
    tcp.shutdown();

    for (kind, cmd) in [("full", "handshakes"), ("resumed", "resumed")] {
        let (h0, c0) = (tls.stats().handshakes, cpu_ns());
        let (client_done, secs) = ask(&mut to, &mut from, &format!("{cmd} {}", a.secs));
        let (h1, c1) = (tls.stats().handshakes, cpu_ns());
        let done = h1 - h0;
        let per = (c1 - c0) as f64 / 1e3 / done.max(1) as f64;
        println!(
            "handshakes ({kind}): {done} in {secs:.2} s = {:.0}/s; server CPU {per:.0} us per connection, \
             {:.0} us more than plain TCP ({:.0}% of one core; the client did {client_done})",
            done as f64 / secs,
            per - tcp_us,
            (c1 - c0) as f64 / 1e9 / secs * 100.0,
        );
    }
    // Let the closed connections go before measuring memory.
    let t0 = Instant::now();
    while tls.stats().connections_open > 0 && t0.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(500));

    let (rss0, pss0) = memory();
    let h0 = tls.stats().handshakes;
    let t0 = Instant::now();
    let (opened, _) = ask(&mut to, &mut from, &format!("hold {n}"));
    while tls.stats().handshakes < h0 + opened && t0.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let setup = t0.elapsed();
    std::thread::sleep(Duration::from_secs(2));
    let (rss1, pss1) = memory();
    let s = tls.stats();
    println!(
        "idle: {} TLS connections open, handshaken in {setup:.2?}",
        s.connections_open
    );
    println!(
        "memory: RSS {rss0} -> {rss1} KiB, PSS {pss0} -> {pss1} KiB: {:.0} B RSS, {:.0} B PSS per idle TLS connection",
        (rss1.saturating_sub(rss0) * 1024) as f64 / opened.max(1) as f64,
        (pss1.saturating_sub(pss0) * 1024) as f64 / opened.max(1) as f64,
    );

    for (what, cmd) in [("one connection", "load1"), ("all connections", "load")] {
        let (c0, m0) = (cpu_ns(), echo.count.load(Ordering::Relaxed));
        let (done, secs) = ask(&mut to, &mut from, &format!("{cmd} {}", a.secs));
        let (c1, m1) = (cpu_ns(), echo.count.load(Ordering::Relaxed));
        println!(
            "messages over {what}: {done} request/response pairs in {secs:.2} s = {:.0}/s \
             (server handled {}; server CPU {:.0}% of one core, {:.1} us per pair)",
            done as f64 / secs,
            m1 - m0,
            (c1 - c0) as f64 / 1e9 / secs * 100.0,
            (c1 - c0) as f64 / 1e3 / done.max(1) as f64,
        );
    }
    let s = tls.stats();
    println!(
        "failures: {} (handshake failures {}, timeouts {})",
        s.failures(),
        s.handshake_failures,
        s.handshake_timeouts
    );
    let _ = writeln!(to, "quit");
    let _ = child.wait();
    tls.shutdown();
    let _ = std::fs::remove_file(&ca_path);
}

/// rustls alone, no sockets: full TLS 1.3 handshakes between a client and a server in
/// one thread, and the server's share of the CPU (what the handshake costs at least).
fn in_memory(cert: &rcgen::CertifiedKey<rcgen::KeyPair>) {
    use rustls::pki_types::PrivateKeyDer;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key = PrivateKeyDer::from_pem_slice(cert.signing_key.serialize_pem().as_bytes()).unwrap();
    let server = Arc::new(
        rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.cert.der().clone()], key)
            .unwrap(),
    );
    let mut roots = RootCertStore::empty();
    roots.add(cert.cert.der().clone()).unwrap();
    let mut client = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    client.resumption = rustls::client::Resumption::disabled();
    let client = Arc::new(client);
    let n = 2000;
    let (mut server_ns, t0) = (0u128, Instant::now());
    for _ in 0..n {
        let mut c = ClientConnection::new(client.clone(), NAME.try_into().unwrap()).unwrap();
        let mut s = rustls::ServerConnection::new(server.clone()).unwrap();
        let mut buf = Vec::new();
        while c.is_handshaking() || s.is_handshaking() {
            buf.clear();
            c.write_tls(&mut buf).unwrap();
            let ts = Instant::now();
            if !buf.is_empty() {
                s.read_tls(&mut &buf[..]).unwrap();
                s.process_new_packets().unwrap();
            }
            buf.clear();
            s.write_tls(&mut buf).unwrap();
            server_ns += ts.elapsed().as_nanos();
            if !buf.is_empty() {
                c.read_tls(&mut &buf[..]).unwrap();
                c.process_new_packets().unwrap();
            }
        }
    }
    let total = t0.elapsed();
    println!(
        "in memory (rustls only, one thread): {:.0} us per full handshake, client and server; \
         server side {:.0} us",
        total.as_secs_f64() * 1e6 / n as f64,
        server_ns as f64 / 1e3 / n as f64,
    );
}

fn client_config(ca: &str, resume: bool) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let mut c =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
    if !resume {
        c.resumption = rustls::client::Resumption::disabled();
    }
    Arc::new(c)
}

/// Connects from `src` and completes a handshake.
fn handshake(config: &Arc<ClientConfig>, server: SocketAddr, src: IpAddr) -> Option<Tls> {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).ok()?;
    s.bind(&SocketAddr::new(src, 0).into()).ok()?;
    s.connect(&server.into()).ok()?;
    let mut sock: TcpStream = s.into();
    sock.set_nodelay(true).ok()?;
    let mut conn = ClientConnection::new(config.clone(), NAME.try_into().ok()?).ok()?;
    conn.complete_io(&mut sock).ok()?;
    while conn.wants_write() {
        conn.complete_io(&mut sock).ok()?;
    }
    Some(StreamOwned::new(conn, sock))
}

/// The `i`th source address of a phase: each phase has its own loopback addresses, so
/// the TIME_WAIT ports one phase leaves do not slow the next one's `bind`.
fn source(i: usize, sources: usize, phase: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, phase, 1 + (i % sources) as u8))
}

/// Plain TCP: connect, one request/response, close; two threads for `time`.
fn tcp_loop(server: SocketAddr, sources: usize, time: Duration) -> u64 {
    const PHASE: u8 = 2;
    let t0 = Instant::now();
    let total = AtomicU64::new(0);
    std::thread::scope(|scope| {
        for t in 0..2 {
            let total = &total;
            scope.spawn(move || {
                let mut i = t;
                let mut buf = [0u8; RESPONSE.len()];
                while t0.elapsed() < time {
                    let s =
                        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
                            .unwrap();
                    s.bind(&SocketAddr::new(source(i, sources, PHASE), 0).into())
                        .unwrap();
                    if s.connect(&server.into()).is_ok() {
                        let mut s: TcpStream = s.into();
                        let _ = s.set_nodelay(true);
                        if s.write_all(REQUEST).is_ok() && s.read_exact(&mut buf).is_ok() {
                            total.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    i += 2;
                }
            });
        }
    });
    total.load(Ordering::Relaxed)
}

fn client(server: SocketAddr, tcp: Option<SocketAddr>, ca: &str, sources: usize) {
    let mut held: Vec<Tls> = Vec::new();
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    while let Some(Ok(cmd)) = lines.next() {
        let mut parts = cmd.split_whitespace();
        let verb = parts.next().unwrap_or("");
        let arg: u64 = parts.next().and_then(|v| v.parse().ok()).unwrap_or(5);
        match verb {
            "tcp" => {
                let t0 = Instant::now();
                let done = tcp.map_or(0, |t| tcp_loop(t, sources, Duration::from_secs(arg)));
                println!("done {done} {}", t0.elapsed().as_secs_f64());
            }
            "handshakes" | "resumed" => {
                let config = client_config(ca, verb == "resumed");
                let phase = if verb == "resumed" { 4 } else { 3 };
                let t0 = Instant::now();
                let time = Duration::from_secs(arg);
                let total = AtomicU64::new(0);
                std::thread::scope(|scope| {
                    for t in 0..2 {
                        let (config, total) = (&config, &total);
                        scope.spawn(move || {
                            let mut i = t;
                            while t0.elapsed() < time {
                                // One request/response per connection: the client
                                // reads the session tickets (for resumption) and the
                                // server sees a clean close, not a reset.
                                if let Some(mut c) =
                                    handshake(config, server, source(i, sources, phase))
                                {
                                    if c.write_all(REQUEST).is_ok() {
                                        read_response(&mut c);
                                        total.fetch_add(1, Ordering::Relaxed);
                                    }
                                }
                                i += 2;
                            }
                        });
                    }
                });
                println!(
                    "done {} {}",
                    total.load(Ordering::Relaxed),
                    t0.elapsed().as_secs_f64()
                );
            }
            "hold" => {
                let config = client_config(ca, false);
                for i in 0..arg as usize {
                    match handshake(&config, server, source(i, sources, 1)) {
                        Some(mut c) => {
                            c.write_all(REQUEST).unwrap();
                            read_response(&mut c);
                            held.push(c);
                        }
                        None => {
                            eprintln!("client: connection {i} failed");
                            break;
                        }
                    }
                }
                println!("ready {}", held.len());
            }
            "load1" => {
                let (done, secs) = load(&mut held[..1], Duration::from_secs(arg), 64);
                println!("done {done} {secs}");
            }
            "load" => {
                let (done, secs) = load(&mut held, Duration::from_secs(arg), 1);
                println!("done {done} {secs}");
            }
            _ => break,
        }
    }
}

fn read_response(c: &mut Tls) {
    let mut buf = [0u8; RESPONSE.len()];
    c.read_exact(&mut buf).unwrap();
}

/// Two threads (one for a single connection), each with part of the connections: write
/// `depth` requests on each of a batch of 64 connections, then read the responses;
/// repeat until `time` is up.
fn load(conns: &mut [Tls], time: Duration, depth: usize) -> (u64, f64) {
    let t0 = Instant::now();
    let total = AtomicU64::new(0);
    let parts: Vec<&mut [Tls]> = if conns.len() < 2 {
        vec![conns]
    } else {
        let half = conns.len() / 2;
        let (a, b) = conns.split_at_mut(half);
        vec![a, b]
    };
    let batch_of = if depth > 1 { 1 } else { 64 };
    std::thread::scope(|scope| {
        for part in parts {
            let total = &total;
            scope.spawn(move || {
                let mut done = 0;
                'outer: while t0.elapsed() < time {
                    for batch in part.chunks_mut(batch_of) {
                        for c in batch.iter_mut() {
                            for _ in 0..depth {
                                c.write_all(REQUEST).unwrap();
                            }
                        }
                        for c in batch.iter_mut() {
                            for _ in 0..depth {
                                read_response(c);
                                done += 1;
                            }
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
    (total.load(Ordering::Relaxed), t0.elapsed().as_secs_f64())
}
