//! Idle TCP clients for `benches/scripts/idle-conns.sh`: opens N connections to a SIP
//! server from loopback source addresses 127.0.0.2, 127.0.0.3, ... (port 0: the kernel
//! picks), sends one double-CRLF keep-alive ping on each (RFC 5626 §3.5.1), counts the
//! pongs, prints `ready OPENED PONGS` and holds the connections until killed or until
//! its standard input closes.
//!
//! ```text
//! cargo run --release -p sipcore-tcp --example idle_clients -- --to 127.0.0.1:5060 -n 100000
//! ```
//!
//! It raises its own soft `RLIMIT_NOFILE` to the hard limit (the script raises the hard
//! one). A connect that fails ends the opening phase (the figure says how many opened)
//! rather than the program: the script reports the largest N that worked.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)] // a bench program

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use socket2::{Domain, Socket, Type};

struct Args {
    to: SocketAddr,
    n: usize,
    per_source: usize,
}

fn args() -> Args {
    let mut a = Args {
        to: "127.0.0.1:5060".parse().unwrap(),
        n: 100_000,
        per_source: 20_000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(x) = it.next() {
        let v = it.next().unwrap_or_default();
        match x.as_str() {
            "--to" => a.to = v.parse().expect("--to IP:PORT"),
            "-n" => a.n = v.parse().expect("-n N"),
            "--per-source" => a.per_source = v.parse().expect("--per-source N"),
            other => panic!("unknown argument {other:?} (--to ADDR, -n N, --per-source N)"),
        }
    }
    a.per_source = a.per_source.max(1);
    a
}

fn raise_nofile() {
    use rlimit::Resource;
    if let Ok((_, hard)) = Resource::NOFILE.get() {
        let _ = Resource::NOFILE.set(hard, hard);
    }
}

fn connect(to: SocketAddr, source: Ipv4Addr) -> std::io::Result<TcpStream> {
    let s = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    s.bind(&SocketAddr::from((source, 0)).into())?;
    s.connect(&to.into())?;
    Ok(s.into())
}

fn main() {
    let a = args();
    raise_nofile();
    let t0 = Instant::now();
    let mut conns = Vec::with_capacity(a.n);
    let mut error = None;
    for i in 0..a.n {
        // 127.0.0.2 onwards, `per_source` connections each (ephemeral ports per address).
        let k = 2 + i / a.per_source;
        let Ok(k) = u8::try_from(k) else {
            error = Some("out of 127.0.0.x source addresses".to_string());
            break;
        };
        match connect(a.to, Ipv4Addr::new(127, 0, 0, k)).and_then(|mut s| {
            s.write_all(b"\r\n\r\n")?;
            Ok(s)
        }) {
            Ok(s) => conns.push(s),
            Err(e) => {
                error = Some(format!("connection {i} from 127.0.0.{k}: {e}"));
                break;
            }
        }
        if (i + 1) % 10_000 == 0 {
            eprintln!("idle_clients: {} open after {:?}", i + 1, t0.elapsed());
        }
    }
    if let Some(e) = &error {
        eprintln!("idle_clients: stopped opening: {e}");
    }
    // Each pong proves the server accepted the connection and read its ping.
    // One deadline for all of them (a connection the server never accepted must not
    // cost its own full wait).
    let mut pongs = 0usize;
    let mut buf = [0u8; 16];
    let deadline = Instant::now() + Duration::from_secs(10);
    for s in &mut conns {
        let left = deadline.saturating_duration_since(Instant::now());
        s.set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .unwrap();
        if matches!(s.read(&mut buf), Ok(n) if n > 0) {
            pongs += 1;
        }
    }
    eprintln!(
        "idle_clients: {} open, {pongs} pongs, {:?}",
        conns.len(),
        t0.elapsed()
    );
    println!("ready {} {pongs}", conns.len());
    let _ = std::io::stdout().flush();
    // Hold until stdin closes (or the process is killed).
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    drop(conns);
}
