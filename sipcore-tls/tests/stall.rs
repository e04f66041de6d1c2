//! Loopback tests: peers that stall mid-handshake or mid-stream. The handshake timeout,
//! the write-queue limits (counting TLS bytes) and the send timeout fire, the failure is
//! reported, nothing blocks, and other connections are served meanwhile.

#![allow(clippy::disallowed_methods, clippy::unwrap_used)] // loopback tests measure real time

mod common;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use sipcore::transport::{ConnectionFailure, SendError, Target, Transport, TransportKind};

/// A raw socket with a tiny receive buffer, so a peer that never reads fills up fast.
fn tiny_socket(addr: SocketAddr) -> TcpStream {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    s.set_recv_buffer_size(4096).unwrap();
    s.connect(&addr.into()).unwrap();
    s.into()
}

/// The first flight of a real TLS client (a ClientHello).
fn client_hello(ca: &Ca) -> Vec<u8> {
    let mut c =
        rustls::ClientConnection::new(raw_client_config(ca), "sip.example.com".try_into().unwrap())
            .unwrap();
    let mut out = Vec::new();
    while c.wants_write() {
        c.write_tls(&mut out).unwrap();
    }
    out
}

/// A good client exchanges `n` requests with `server` (an echo node).
fn served(ca: &Ca, server: &Node, n: usize, tag: &str) {
    let client = start(client_config(ca));
    for i in 0..n {
        let id = format!("{tag}{i}");
        client
            .tls
            .send_to(server.addr(), Some("sip.example.com"), request(&id, ""))
            .unwrap();
        assert_eq!(call_id_of(&client.recv().data).unwrap(), id);
    }
    client.tls.shutdown();
}

#[test]
fn silent_and_partial_handshakes_time_out_while_others_are_served() {
    let ca = Ca::new("stall");
    let cert = ca.issue(&["sip.example.com"]);
    let mut config = server_config(&cert, &ca);
    config.handshake_timeout = Duration::from_millis(400);
    let server = start_echo(config);

    // One peer connects and says nothing; another stops in the middle of its hello.
    let mut silent = TcpStream::connect(server.addr()).unwrap();
    let mut partial = TcpStream::connect(server.addr()).unwrap();
    let hello = client_hello(&ca);
    partial.write_all(&hello[..hello.len() / 2]).unwrap();

    // Meanwhile others get through.
    served(&ca, &server, 5, "during");

    // (The good clients closing their connections are reported too: skip those.)
    let mut reported = Vec::new();
    while reported.len() < 2 {
        let (_, target, err) = server.event();
        assert_eq!(target.transport, TransportKind::Tls);
        if err
            == (SendError::ConnectionFailed {
                addr: target.addr,
                cause: ConnectionFailure::Other,
                reason: "closed by peer",
            })
        {
            continue;
        }
        assert_eq!(
            err,
            SendError::ConnectionFailed {
                addr: target.addr,
                cause: ConnectionFailure::Timeout,
                reason: "handshake timeout"
            }
        );
        reported.push(target.addr);
    }
    reported.sort();
    let mut want = vec![silent.local_addr().unwrap(), partial.local_addr().unwrap()];
    want.sort();
    assert_eq!(reported, want);
    assert!(read_to_close(&mut silent).0);
    assert!(read_to_close(&mut partial).0);
    let s = server.tls.stats();
    assert_eq!((s.handshake_timeouts, s.handshakes), (2, 1));
    served(&ca, &server, 2, "after");
}

#[test]
fn a_peer_that_stops_reading_mid_handshake_hits_the_queue_limit() {
    let ca = Ca::new("big");
    // A certificate with many names makes a Certificate message of about 40 KB: more
    // than the socket buffers and conn_wq_max together.
    let cert = ca.issue_large("sip.example.com", 1100);
    let mut config = server_config(&cert, &ca);
    config.tcp.send_buffer = Some(4096);
    config.tcp.conn_wq_max = 16 * 1024;
    let server = start_echo(config);

    let mut stuck = tiny_socket(server.addr());
    stuck.write_all(&client_hello(&ca)).unwrap();
    // It never reads: the server's flight does not fit, and the connection goes.
    let (_, target, err) = server.event();
    assert_eq!(target.addr, stuck.local_addr().unwrap());
    assert_eq!(err, SendError::ConnectionQueueFull);
    let s = server.tls.stats();
    assert_eq!((s.conn_queue_full, s.handshakes), (1, 0));
    assert_eq!(s.queued_bytes, 0);
    // A client that reads gets the same large flight through the queue.
    served(&ca, &server, 3, "big");
    assert!(server.tls.stats().bytes_sent > 40_000);
}

#[test]
fn a_peer_that_stops_reading_mid_stream_hits_the_limit_and_nothing_blocks() {
    let ca = Ca::new("stream");
    let cert = ca.issue(&["sip.example.com"]);
    let mut config = server_config(&cert, &ca);
    config.tcp.send_buffer = Some(4096);
    let server = start_echo(config);

    // An independent TLS client completes the handshake, sends one request, and then
    // never reads again.
    let sock = tiny_socket(server.addr());
    let conn = rustls::ClientConnection::new(
        raw_client_config(&ca),
        "sip.example.com".try_into().unwrap(),
    )
    .unwrap();
    let mut stuck = rustls::StreamOwned::new(conn, sock);
    write(&mut stuck, &request("stuck", ""));
    let got = server.recv();
    let to = got.source;

    // The server keeps sending to it: every send returns at once (queued), until the
    // queue passes conn_wq_max.
    let body = "x".repeat(1000);
    let mut result = Ok(());
    let mut sends = 0;
    let t0 = Instant::now();
    while result.is_ok() && sends < 10_000 {
        result = server
            .tls
            .send(&to, request(&format!("push{sends}"), &body));
        sends += 1;
    }
    eprintln!("{sends} sends in {:?} until {result:?}", t0.elapsed());
    assert_eq!(result, Err(SendError::ConnectionQueueFull));
    let (_, target, err) = server.event();
    assert_eq!(target, Target::new(TransportKind::Tls, to.addr));
    assert_eq!(err, SendError::ConnectionQueueFull);
    // Queued TLS bytes were counted and released.
    let s = server.tls.stats();
    assert!(s.queued_bytes_peak > 16 * 1024, "{}", s.queued_bytes_peak);
    assert_eq!(s.queued_bytes, 0);
    // Others are served.
    served(&ca, &server, 3, "other");
    drop(stuck);
}

#[test]
fn send_timeout_fires_on_a_tls_connection_that_stops_draining() {
    let ca = Ca::new("sendto");
    let cert = ca.issue(&["sip.example.com"]);
    let mut config = server_config(&cert, &ca);
    config.tcp.send_buffer = Some(4096);
    config.tcp.send_timeout = Duration::from_millis(300);
    config.tcp.conn_wq_max = 1024 * 1024;
    let server = start_echo(config);
    let sock = tiny_socket(server.addr());
    let conn = rustls::ClientConnection::new(
        raw_client_config(&ca),
        "sip.example.com".try_into().unwrap(),
    )
    .unwrap();
    let mut stuck = rustls::StreamOwned::new(conn, sock);
    write(&mut stuck, &request("slow", ""));
    let to = server.recv().source;
    let body = "y".repeat(4000);
    for i in 0..40 {
        server
            .tls
            .send(&to, request(&format!("fill{i}"), &body))
            .unwrap();
    }
    let (_, target, err) = server.event();
    assert_eq!(target.addr, to.addr);
    assert_eq!(
        err,
        SendError::ConnectionFailed {
            addr: to.addr,
            cause: ConnectionFailure::Timeout,
            reason: "send timeout"
        }
    );
    assert_eq!(server.tls.stats().send_timeouts, 1);
    served(&ca, &server, 2, "still");
    let _ = Arc::new(stuck);
}
