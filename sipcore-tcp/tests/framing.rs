//! Loopback tests: framing, keep-alives, connection reuse and response routing.

#![allow(clippy::disallowed_methods, clippy::unwrap_used)] // loopback tests measure real time

mod common;

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use bytes::Bytes;
use common::*;
use sipcore::transport::{ConnectionFailure, SendError, Target, Transport};

#[test]
fn pipelined_messages_in_one_write() {
    let node = start(config());
    let mut c = TcpStream::connect(node.addr()).unwrap();
    let mut all = Vec::new();
    for i in 0..3 {
        all.extend_from_slice(&request(&format!("pipe{i}"), "hello"));
        all.extend_from_slice(b"\r\n\r\n");
    }
    write(&mut c, &all);
    for i in 0..3 {
        let got = node.recv();
        assert_eq!(call_id_of(&got.data).unwrap(), format!("pipe{i}"));
        assert!(got.data.ends_with(b"hello"));
        assert_eq!(got.source, Target::tcp(c.local_addr().unwrap()));
        assert_eq!(got.local, node.addr());
    }
    // Three pings, three pongs.
    let mut pongs = [0u8; 6];
    c.set_read_timeout(Some(WAIT)).unwrap();
    c.read_exact(&mut pongs).unwrap();
    assert_eq!(&pongs, b"\r\n\r\n\r\n");
    let s = node.tcp.stats();
    assert_eq!((s.messages_received, s.pings_received), (3, 3));
}

#[test]
fn one_byte_per_write() {
    let node = start(config());
    let mut c = TcpStream::connect(node.addr()).unwrap();
    c.set_nodelay(true).unwrap();
    let msg = request("bytewise", "0123456789");
    for b in msg.iter() {
        write(&mut c, &[*b]);
        std::thread::sleep(Duration::from_micros(200));
    }
    let got = node.recv();
    assert_eq!(got.data, msg);
    assert!(node.rx.try_recv().is_err());
}

#[test]
fn too_large_is_answered_513_and_closed() {
    let mut cfg = config();
    cfg.max_message_size = 1000;
    let node = start(cfg);
    let mut c = TcpStream::connect(node.addr()).unwrap();
    let body = "x".repeat(3000);
    write(&mut c, &request("big", &body));
    let answer = read_message(&mut c);
    let text = String::from_utf8(answer).unwrap();
    assert!(
        text.starts_with("SIP/2.0 513 Message Too Large\r\n"),
        "{text}"
    );
    assert!(text.contains("Call-ID: big\r\n"));
    assert!(closed_by_peer(&mut c));
    let (_, target, err) = node.event();
    assert_eq!(target, Target::tcp(c.local_addr().unwrap()));
    assert_eq!(
        err,
        SendError::ConnectionFailed {
            addr: target.addr,
            cause: ConnectionFailure::Other,
            reason: "message too large"
        }
    );
    let s = node.tcp.stats();
    assert_eq!((s.too_large, s.too_large_answered), (1, 1));
    assert!(node.rx.try_recv().is_err());
    // The manager drains the connection until the peer closes (or `read_timeout`).
    drop(c);
    assert!(wait_for(|| node.tcp.stats().connections_open == 0));
}

#[test]
fn endless_head_is_closed_without_answer() {
    let mut cfg = config();
    cfg.max_message_size = 1000;
    let node = start(cfg);
    let mut c = TcpStream::connect(node.addr()).unwrap();
    let mut junk = b"OPTIONS sip:a SIP/2.0\r\n".to_vec();
    junk.extend(std::iter::repeat_n(b'a', 2000));
    write(&mut c, &junk);
    assert!(closed_by_peer(&mut c));
    assert!(wait_for(|| node.tcp.stats().too_large == 1));
    assert_eq!(node.tcp.stats().too_large_answered, 0);
}

#[test]
fn missing_content_length_is_a_framing_error() {
    let node = start(config());
    let mut c = TcpStream::connect(node.addr()).unwrap();
    write(
        &mut c,
        b"OPTIONS sip:a SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\n\r\n",
    );
    assert!(closed_by_peer(&mut c));
    let (_, _, err) = node.event();
    assert!(matches!(
        err,
        SendError::ConnectionFailed {
            reason: "framing error",
            ..
        }
    ));
    assert_eq!(node.tcp.stats().framing_errors, 1);
}

#[test]
fn peer_closes_in_the_middle_of_a_message() {
    let node = start(config());
    let mut other = TcpStream::connect(node.addr()).unwrap();
    {
        let mut c = TcpStream::connect(node.addr()).unwrap();
        let msg = request("cut", "body");
        write(&mut c, &msg[..msg.len() / 2]);
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(wait_for(|| node.tcp.stats().truncated == 1));
    let (_, _, err) = node.event();
    assert!(matches!(
        err,
        SendError::ConnectionFailed {
            reason: "closed by peer",
            ..
        }
    ));
    assert!(
        node.rx.try_recv().is_err(),
        "half a message is never delivered"
    );
    // The other connection is unaffected.
    write(&mut other, &request("other", ""));
    assert_eq!(call_id_of(&node.recv().data).unwrap(), "other");
    assert_eq!(
        node.tcp.stats().blacklisted,
        0,
        "a clean close is not a failure of the path"
    );
}

#[test]
fn responses_go_back_on_the_connection_the_request_came_on() {
    let (server, _events) = start_echo(config());
    let mut a = TcpStream::connect(server.local_addr()).unwrap();
    let mut b = TcpStream::connect(server.local_addr()).unwrap();
    write(&mut b, &request("for-b", ""));
    write(&mut a, &request("for-a", ""));
    assert_eq!(call_id_of(&read_message(&mut a)).unwrap(), "for-a");
    assert_eq!(call_id_of(&read_message(&mut b)).unwrap(), "for-b");
    let s = server.stats();
    assert_eq!(s.accepted, 2);
    assert_eq!(s.connect_attempts, 0, "no new connection for a response");
}

#[test]
fn client_and_server_transports_reuse_one_connection() {
    let (server, _) = start_echo(config());
    let client = start(config());
    let to = Target::tcp(server.local_addr());
    for i in 0..20 {
        client.tcp.send(&to, request(&format!("c{i}"), "")).unwrap();
    }
    for i in 0..20 {
        assert_eq!(
            call_id_of(&client.recv().data).unwrap(),
            format!("c{i}"),
            "in order"
        );
    }
    assert_eq!(client.tcp.stats().connect_attempts, 1);
    assert_eq!(server.stats().accepted, 1);
    assert!(client.tcp.has_connection(&server.local_addr()));
}

/// RFC 5923 over plain TCP: a peer claiming `;alias` for another address must not
/// receive that address's requests, even with `use_alias` on (it is off by default).
#[test]
fn a_tcp_alias_claim_is_never_honoured() {
    assert!(!sipcore_tcp::TcpConfig::default().use_alias);
    let mut cfg = config();
    cfg.use_alias = true;
    let server = start(cfg);
    // The address the attacker claims, with a real listener behind it.
    let victim = TcpListener::bind("127.0.0.9:0").unwrap();
    let claimed = victim.local_addr().unwrap();
    let mut attacker = TcpStream::connect(server.addr()).unwrap();
    let req = format!(
        "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/TCP {claimed};branch=z9hG4bKal;alias\r\nCall-ID: al\r\nCSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n"
    );
    write(&mut attacker, req.as_bytes());
    server.recv();
    assert!(!server.tcp.has_connection(&claimed));
    assert_eq!(server.tcp.stats().aliases, 0);
    assert_eq!(server.tcp.stats().aliases_refused, 1);

    // A request for the claimed address goes to the claimed address, on a new connection.
    server
        .tcp
        .send(&Target::tcp(claimed), request("for-victim", ""))
        .unwrap();
    let (mut v, _) = victim.accept().unwrap();
    assert_eq!(call_id_of(&read_message(&mut v)).unwrap(), "for-victim");
    assert_eq!(server.tcp.stats().connect_attempts, 1);

    // Positive control: the attacker's real source address still reuses its connection,
    // and the first thing down it is that message, not the victim's.
    let real = attacker.local_addr().unwrap();
    server
        .tcp
        .send(&Target::tcp(real), request("for-attacker", ""))
        .unwrap();
    assert_eq!(
        call_id_of(&read_message(&mut attacker)).unwrap(),
        "for-attacker"
    );
    assert_eq!(server.tcp.stats().connect_attempts, 1);
}

#[test]
fn response_falls_back_to_the_via_address_when_the_connection_is_gone() {
    let node = start(config());
    let uac = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = uac.local_addr().unwrap().port();
    let resp = Bytes::from(format!(
        "SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP 127.0.0.1:{port};branch=z9hG4bKfb;received=127.0.0.1;rport=1\r\nCall-ID: fb\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    ));
    let gone = "127.0.0.1:1".parse().unwrap();
    node.tcp.send_response(gone, resp.clone()).unwrap();
    let (mut s, _) = uac.accept().unwrap();
    assert_eq!(read_message(&mut s), resp.to_vec());
}

#[test]
fn pings_are_answered_and_outgoing_pings_expect_pongs() {
    let peer = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut cfg = config();
    cfg.keepalive_interval = Some(Duration::from_millis(100));
    cfg.keepalive_timeout = Duration::from_millis(300);
    cfg.worker_idle = Duration::from_millis(50);
    let node = start(cfg);
    let to = Target::tcp(peer.local_addr().unwrap());
    node.tcp.send(&to, request("ka", "")).unwrap();
    let (mut s, _) = peer.accept().unwrap();
    read_message(&mut s);
    // Answer two pings, then go silent.
    for _ in 0..2 {
        let mut ping = [0u8; 4];
        s.set_read_timeout(Some(WAIT)).unwrap();
        s.read_exact(&mut ping).unwrap();
        assert_eq!(&ping, b"\r\n\r\n");
        write(&mut s, b"\r\n");
    }
    let (_, target, err) = node.event();
    assert_eq!(target, to);
    assert_eq!(
        err,
        SendError::ConnectionFailed {
            addr: to.addr,
            cause: ConnectionFailure::Timeout,
            reason: "keepalive timeout"
        }
    );
    let st = node.tcp.stats();
    assert!(st.pings_sent >= 3 && st.pongs_received >= 2, "{st:?}");
    assert_eq!(st.keepalive_timeouts, 1);
}

#[test]
fn ipv6_loopback() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("no IPv6 loopback here; skipped");
        return;
    }
    let mut cfg = config();
    cfg.listen = vec!["[::1]:0".parse().unwrap()];
    let (server, _) = start_echo(cfg);
    let client = start(config());
    let to = Target::tcp(server.local_addr());
    assert!(to.addr.is_ipv6());
    client.tcp.send(&to, request("v6", "")).unwrap();
    let got = client.recv();
    assert_eq!(call_id_of(&got.data).unwrap(), "v6");
    assert_eq!(got.source, to);
}
