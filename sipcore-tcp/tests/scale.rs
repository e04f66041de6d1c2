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
    let limit = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap();
    if limit.0 < (2 * CLIENTS as u64 + 100) {
        let _ = rlimit::setrlimit(rlimit::Resource::NOFILE, limit.1, limit.1);
    }
    let mut cfg = config();
    cfg.max_connections = CLIENTS + 100;
    cfg.backlog = 4096;
    let (server, events) = start_echo(cfg);
    let t0 = Instant::now();
    let mut clients = Vec::with_capacity(CLIENTS);
    for i in 0..CLIENTS {
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
    eprintln!("{CLIENTS} clients served in {:?}", t0.elapsed());
    let s = server.stats();
    assert_eq!(s.accepted, CLIENTS as u64);
    assert_eq!(s.messages_received, CLIENTS as u64);
    assert_eq!(s.connect_attempts, 0);
    assert_eq!(s.connections_open, CLIENTS as u64);
    assert_eq!(s.failures(), 0);
    drop(clients);
    assert!(wait_for(|| server.stats().connections_open == 0));
    assert_eq!(server.stats().closed_by_peer, CLIENTS as u64);
    // Every close by a client was reported (it may end a transaction that waits).
    assert_eq!(events.try_iter().count(), CLIENTS);
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
