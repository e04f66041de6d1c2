//! Loopback scale test: 5,000 concurrent client connections, each sending a request and
//! getting its own response back on its own connection.
#![allow(clippy::disallowed_methods, clippy::unwrap_used)] // loopback tests measure real time

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Instant;

use common::*;
use sipcore::transport::{Target, Transport};

const CLIENTS: usize = 5_000;

/// 5,000, or fewer when the hard file limit cannot hold two sockets per client.
fn clients() -> usize {
    let (soft, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap();
    let want = 2 * CLIENTS as u64 + 200;
    if soft < want {
        let _ = rlimit::setrlimit(rlimit::Resource::NOFILE, want.min(hard), hard);
    }
    let (soft, _) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap();
    let n = CLIENTS.min((soft.saturating_sub(200) / 2) as usize);
    if n < CLIENTS {
        eprintln!("file limit {soft}: testing {n} clients instead of {CLIENTS}");
    }
    n
}

fn read_whole(s: &mut TcpStream, buf: &mut Vec<u8>) {
    buf.clear();
    let mut chunk = [0u8; 1024];
    while !buf.ends_with(b"\r\n\r\n") {
        let n = s.read(&mut chunk).unwrap();
        assert!(n > 0, "closed early");
        buf.extend_from_slice(&chunk[..n]);
    }
}

#[test]
fn five_thousand_concurrent_clients() {
    let n = clients();
    let mut cfg = config();
    cfg.max_connections = n + 100;
    cfg.max_inbound = n + 100;
    cfg.backlog = 4096;
    let (server, events) = start_echo(cfg);
    let t0 = Instant::now();
    let mut clients = Vec::with_capacity(n);
    for i in 0..n {
        let mut c = TcpStream::connect(server.local_addr()).unwrap();
        c.set_read_timeout(Some(WAIT)).unwrap();
        c.write_all(&request(&format!("client-{i}"), "")).unwrap();
        clients.push(c);
    }
    let mut buf = Vec::new();
    for (i, c) in clients.iter_mut().enumerate() {
        read_whole(c, &mut buf);
        assert_eq!(call_id_of(&buf).unwrap(), format!("client-{i}"));
    }
    eprintln!("{n} clients served in {:?}", t0.elapsed());
    let s = server.stats();
    assert_eq!(s.accepted, n as u64);
    assert_eq!(s.messages_received, n as u64);
    assert_eq!(s.connect_attempts, 0);
    assert_eq!(s.connections_open, n as u64);
    assert_eq!(s.failures(), 0);
    drop(clients);
    assert!(wait_for(|| server.stats().connections_open == 0));
    assert_eq!(server.stats().closed_by_peer, n as u64);
    // Every close by a client was reported (it may end a transaction that waits).
    assert!(wait_for(|| events.len() == n));
    server.shutdown();
}

#[test]
fn one_transport_to_many_destinations() {
    let (server, _) = start_echo(config());
    let mut addrs = vec![server.local_addr()];
    for _ in 0..63 {
        addrs.push(server.listen("127.0.0.1:0".parse().unwrap()).unwrap());
    }
    let client = start(config());
    for (i, a) in addrs.iter().enumerate() {
        client
            .tcp
            .send(&Target::tcp(*a), request(&format!("d{i}"), ""))
            .unwrap();
    }
    let mut got: Vec<String> = (0..addrs.len())
        .map(|_| call_id_of(&client.recv().data).unwrap())
        .collect();
    got.sort();
    let mut want: Vec<String> = (0..addrs.len()).map(|i| format!("d{i}")).collect();
    want.sort();
    assert_eq!(got, want);
    let s = client.tcp.stats();
    assert_eq!((s.connect_attempts, s.connected), (64, 64));
}
