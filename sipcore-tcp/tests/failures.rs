//! Loopback tests: limits, timeouts and failure reporting.
//!
//! Timing: failures must be *reported at once*. The tests print the measured delay (a
//! few milliseconds on an idle machine; latency figures belong in the benches) and
//! assert it is below [`AT_ONCE`], half the default `connect_timeout`: a failure
//! reported before the timeout could have fired was found by its event. The bound is
//! generous so that a loaded machine never fails the test.

#![allow(clippy::disallowed_methods, clippy::unwrap_used)] // loopback tests measure real time

mod common;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use sipcore::transport::{ConnectionFailure, SendError, Target, Transport};

/// Below the default `connect_timeout` (10 s): reported by the event, not by a timer.
const AT_ONCE: Duration = Duration::from_secs(5);

fn closed_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

#[test]
fn refused_connect_is_reported_at_once_and_blacklisted() {
    let node = start(config());
    let to = Target::tcp(closed_port());
    let t0 = Instant::now();
    let first = node.tcp.send(&to, request("refused", ""));
    let delay = match first {
        // Queued behind the non-blocking connect: the failure comes as an event.
        Ok(()) => {
            let (at, target, err) = node.event();
            assert_eq!(target, to);
            assert_eq!(
                err,
                SendError::ConnectionFailed {
                    addr: to.addr,
                    cause: ConnectionFailure::Refused,
                    reason: "refused"
                }
            );
            at - t0
        }
        // Refused synchronously by the kernel.
        Err(err) => {
            assert_eq!(
                err,
                SendError::ConnectionFailed {
                    addr: to.addr,
                    cause: ConnectionFailure::Refused,
                    reason: "refused"
                }
            );
            t0.elapsed()
        }
    };
    eprintln!("refused connect reported after {delay:?}");
    assert!(delay < AT_ONCE, "reported after {delay:?}");
    assert_eq!(
        node.tcp.send(&to, request("again", "")),
        Err(SendError::Blacklisted(to.addr))
    );
    let s = node.tcp.stats();
    assert_eq!((s.refused, s.blacklisted, s.blacklisted_sends), (1, 1, 1));
    assert_eq!(s.connections_open, 0);
}

#[test]
fn reset_is_reported_at_once_for_the_waiting_transaction() {
    // The transaction layer is not on this branch: the event below is what the endpoint
    // turns into a 503 for the client transaction that sent on the connection.
    let peer = TcpListener::bind("127.0.0.1:0").unwrap();
    let node = start(config());
    let to = Target::tcp(peer.local_addr().unwrap());
    node.tcp.send(&to, request("invite", "")).unwrap();
    let (mut s, _) = peer.accept().unwrap();
    read_message(&mut s);
    // The peer aborts: SO_LINGER 0 makes close() send a RST.
    socket2::SockRef::from(&s)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    let t0 = Instant::now();
    drop(s);
    let (at, target, err) = node.event();
    let delay = at - t0;
    eprintln!("reset reported after {delay:?}");
    assert_eq!(target, to);
    assert_eq!(
        err,
        SendError::ConnectionFailed {
            addr: to.addr,
            cause: ConnectionFailure::Reset,
            reason: "reset"
        }
    );
    assert!(delay < AT_ONCE, "reported after {delay:?}");
    assert_eq!(node.tcp.stats().reset, 1);
    assert_eq!(
        node.tcp.send(&to, request("again", "")),
        Err(SendError::Blacklisted(to.addr))
    );
}

#[test]
fn connect_timeout_when_the_peer_never_answers() {
    // A listener with backlog 0 whose accept queue is full drops further SYNs, so the
    // connect below never completes.
    let l = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    l.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    l.listen(0).unwrap();
    let addr = l.local_addr().unwrap().as_socket().unwrap();
    let _fill: Vec<_> = (0..3)
        .filter_map(|_| TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok())
        .collect();
    let mut cfg = config();
    cfg.connect_timeout = Duration::from_millis(300);
    let node = start(cfg);
    let to = Target::tcp(addr);
    let t0 = Instant::now();
    node.tcp.send(&to, request("never", "")).unwrap();
    let (at, target, err) = node.event();
    assert_eq!(target, to);
    assert_eq!(
        err,
        SendError::ConnectionFailed {
            addr,
            cause: ConnectionFailure::Timeout,
            reason: "connect timeout"
        }
    );
    assert!(
        at - t0 >= Duration::from_millis(300),
        "not before the timeout"
    );
    let s = node.tcp.stats();
    assert_eq!(
        (s.connect_timeouts, s.connections_open, s.queued_bytes),
        (1, 0, 0)
    );
}

#[test]
fn send_timeout_when_the_peer_stops_reading() {
    let peer = SlowPeer::new();
    let mut cfg = config();
    cfg.send_timeout = Duration::from_millis(300);
    cfg.conn_wq_max = 4 << 20;
    cfg.send_buffer = Some(8192);
    let node = start(cfg);
    let to = Target::tcp(peer.addr);
    let chunk = request("fill", &"x".repeat(1000));
    // Fill the kernel buffers until the queue holds a good part (not just what waited
    // for the connect).
    let mut sent = 0;
    while node.tcp.stats().queued_bytes < 16 * 1024 && sent < 4000 {
        node.tcp.send(&to, chunk.clone()).unwrap();
        sent += 1;
    }
    assert!(node.tcp.stats().queued_bytes > 0, "queue never used");
    let (_, target, err) = node.event();
    assert_eq!(target, to);
    assert_eq!(
        err,
        SendError::ConnectionFailed {
            addr: peer.addr,
            cause: ConnectionFailure::Timeout,
            reason: "send timeout"
        }
    );
    let s = node.tcp.stats();
    assert_eq!((s.send_timeouts, s.queued_bytes), (1, 0));
}

#[test]
fn slow_reader_hits_conn_wq_max_and_only_its_connection_closes() {
    let slow = SlowPeer::new();
    let (fast, _) = start_echo(config());
    let mut cfg = config();
    cfg.send_buffer = Some(8192);
    let node = start(cfg);
    let to = Target::tcp(slow.addr);
    let chunk = request("slow", &"x".repeat(1000));
    let mut result = Ok(());
    for _ in 0..4000 {
        result = node.tcp.send(&to, chunk.clone());
        if result.is_err() {
            break;
        }
    }
    assert_eq!(result, Err(SendError::ConnectionQueueFull));
    let (_, target, err) = node.event();
    assert_eq!((target, err), (to, SendError::ConnectionQueueFull));
    let s = node.tcp.stats();
    assert_eq!(s.conn_queue_full, 1);
    assert_eq!(
        s.queued_bytes, 0,
        "the closed connection's queue is released"
    );
    assert!(s.queued_bytes_peak <= 32 * 1024);
    // Other connections keep working.
    node.tcp
        .send(&Target::tcp(fast.local_addr()), request("fast", ""))
        .unwrap();
    assert_eq!(call_id_of(&node.recv().data).unwrap(), "fast");
    assert_eq!(
        node.tcp.send(&to, chunk),
        Err(SendError::Blacklisted(slow.addr))
    );
}

#[test]
fn wq_max_refuses_new_sends_and_keeps_queued_data() {
    let peers: Vec<_> = (0..8).map(|_| SlowPeer::new()).collect();
    let (fast, _) = start_echo(config());
    let mut cfg = config();
    cfg.send_buffer = Some(8192);
    cfg.wq_max = 64 * 1024;
    let node = start(cfg);
    let chunk = request("many", &"x".repeat(1000));
    let mut refused = 0;
    for round in 0..200 {
        for p in &peers {
            match node.tcp.send(&Target::tcp(p.addr), chunk.clone()) {
                Ok(()) => {}
                Err(SendError::QueueFull) => refused += 1,
                Err(e) => panic!("round {round}: {e}"),
            }
        }
        if refused > 10 {
            break;
        }
    }
    assert!(refused > 0, "wq_max never reached");
    let s = node.tcp.stats();
    assert!(s.queued_bytes <= 64 * 1024, "{s:?}");
    assert!(s.queued_bytes > 32 * 1024, "other queues kept: {s:?}");
    assert_eq!(
        s.connections_open, 8,
        "no connection closed by a refused send"
    );
    assert!(s.queue_full >= 1);
    assert!(
        node.events.try_recv().is_err(),
        "a refused send is no connection failure"
    );
    // A connection with an empty queue still writes directly.
    node.tcp
        .send(&Target::tcp(fast.local_addr()), request("direct", ""))
        .unwrap();
    assert_eq!(call_id_of(&node.recv().data).unwrap(), "direct");
}

#[test]
fn idle_connections_close_silently_after_their_lifetime() {
    let mut cfg = config();
    cfg.connection_lifetime = Duration::from_millis(200);
    let node = start(cfg);
    let mut c = TcpStream::connect(node.addr()).unwrap();
    write(&mut c, &request("idle", ""));
    node.recv();
    let t0 = Instant::now();
    assert!(closed_by_peer(&mut c));
    assert!(t0.elapsed() >= Duration::from_millis(100));
    assert!(wait_for(|| node.tcp.stats().closed_idle == 1));
    assert!(
        node.events.try_recv().is_err(),
        "idle close is not a failure"
    );
    assert_eq!(node.tcp.stats().connections_open, 0);
}

#[test]
fn slowloris_message_hits_the_read_timeout() {
    let mut cfg = config();
    cfg.read_timeout = Duration::from_millis(300);
    let node = start(cfg);
    let mut c = TcpStream::connect(node.addr()).unwrap();
    let msg = request("slow", "");
    // A byte every 50 ms: never idle, never complete within 300 ms.
    let mut closed = false;
    for b in msg.iter() {
        if std::io::Write::write_all(&mut c, &[*b]).is_err() {
            closed = true;
            break;
        }
        if node.tcp.stats().read_timeouts == 1 {
            closed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(closed || wait_for(|| node.tcp.stats().read_timeouts == 1));
    let (_, _, err) = node.event();
    assert!(matches!(
        err,
        SendError::ConnectionFailed {
            reason: "read timeout",
            ..
        }
    ));
    assert!(node.rx.try_recv().is_err());
}

#[test]
fn max_connections_bounds_accepts_and_connects() {
    let mut cfg = config();
    cfg.max_connections = 2;
    let node = start(cfg);
    let a = TcpStream::connect(node.addr()).unwrap();
    let b = TcpStream::connect(node.addr()).unwrap();
    assert!(wait_for(|| node.tcp.stats().accepted == 2));
    let mut c = TcpStream::connect(node.addr()).unwrap();
    assert!(closed_by_peer(&mut c));
    assert_eq!(node.tcp.stats().accept_refused, 1);
    let other = TcpListener::bind("127.0.0.1:0").unwrap();
    let err = node
        .tcp
        .send(&Target::tcp(other.local_addr().unwrap()), request("x", ""))
        .unwrap_err();
    assert!(matches!(
        err,
        SendError::ConnectionFailed {
            reason: "connection limit",
            ..
        }
    ));
    assert_eq!(node.tcp.stats().connection_limit, 1);
    drop((a, b));
}

#[test]
fn inbound_at_its_limit_still_leaves_outbound_connections() {
    let mut cfg = config();
    cfg.max_inbound = 2;
    cfg.max_outbound = 1;
    let node = start(cfg);
    let a = TcpStream::connect(node.addr()).unwrap();
    let b = TcpStream::connect(node.addr()).unwrap();
    assert!(wait_for(|| node.tcp.stats().accepted == 2));
    let mut c = TcpStream::connect(node.addr()).unwrap();
    assert!(closed_by_peer(&mut c), "inbound is at its limit");
    assert_eq!(node.tcp.stats().accept_refused, 1);
    // The trunk still gets its connection, and the message arrives on it.
    let trunk = TcpListener::bind("127.0.0.1:0").unwrap();
    let to = Target::tcp(trunk.local_addr().unwrap());
    node.tcp.send(&to, request("to-trunk", "")).unwrap();
    let (mut s, _) = trunk.accept().unwrap();
    let got = String::from_utf8(read_message(&mut s)).unwrap();
    assert!(got.contains("to-trunk"), "{got}");
    let st = node.tcp.stats();
    assert_eq!((st.inbound_open, st.outbound_open), (2, 1));
    assert_eq!(st.connections_open, 3);
    // The outbound limit is its own: a second destination is refused.
    let other = TcpListener::bind("127.0.0.1:0").unwrap();
    let err = node
        .tcp
        .send(&Target::tcp(other.local_addr().unwrap()), request("y", ""))
        .unwrap_err();
    assert!(matches!(
        err,
        SendError::ConnectionFailed {
            reason: "connection limit",
            ..
        }
    ));
    drop((a, b));
}

#[test]
fn per_ip_limit_refuses_a_source_and_keeps_others() {
    let mut cfg = config();
    cfg.max_per_ip = Some(1);
    let node = start(cfg);
    let a = TcpStream::connect(node.addr()).unwrap();
    assert!(wait_for(|| node.tcp.stats().accepted == 1));
    let mut b = TcpStream::connect(node.addr()).unwrap();
    assert!(closed_by_peer(&mut b), "second from 127.0.0.1");
    assert_eq!(node.tcp.stats().accept_refused_per_ip, 1);
    // Positive control: another loopback source is accepted.
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.bind(&"127.0.0.2:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    sock.connect(&node.addr().into()).unwrap();
    assert!(wait_for(|| node.tcp.stats().accepted == 2));
    // The slot comes back when the connection closes.
    drop(a);
    assert!(wait_for(|| node.tcp.stats().inbound_open == 1));
    let _c = TcpStream::connect(node.addr()).unwrap();
    assert!(wait_for(|| node.tcp.stats().accepted == 3));
    drop(sock);
}

#[test]
fn sends_queued_while_connecting_are_flushed_in_order() {
    let (server, _) = start_echo(config());
    let node = start(config());
    let to = Target::tcp(server.local_addr());
    for i in 0..50 {
        node.tcp.send(&to, request(&format!("q{i}"), "")).unwrap();
    }
    for i in 0..50 {
        assert_eq!(call_id_of(&node.recv().data).unwrap(), format!("q{i}"));
    }
    assert!(
        node.tcp.stats().sent_queued >= 1,
        "the first sends waited for the connect"
    );
}

#[test]
fn shutdown_stops_threads_and_refuses_sends() {
    let node = start(config());
    let c = TcpStream::connect(node.addr()).unwrap();
    assert!(wait_for(|| node.tcp.stats().accepted == 1));
    node.tcp.shutdown();
    let to = Target::tcp(c.local_addr().unwrap());
    assert_eq!(
        node.tcp.send(&to, Bytes::from_static(b"x")),
        Err(SendError::Closed)
    );
    assert_eq!(node.tcp.stats().connections_open, 0);
    assert!(node.events.try_recv().is_err(), "shutdown is silent");
}
