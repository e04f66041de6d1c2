//! Loopback tests: handshakes, messages both ways, SNI, reload, client certificates,
//! certificate failures, plaintext peers, reuse and keep-alive.

#![allow(clippy::disallowed_methods, clippy::unwrap_used)] // loopback tests measure real time

mod common;

use std::net::TcpStream;
use std::time::Duration;

use common::*;
use sipcore::transport::{ConnectionFailure, SendError, Target, Transport, TransportKind};
use sipcore_tls::{ClientAuth, ClientTls, ServerTls, TlsVersion};

#[test]
fn request_and_response_both_ways() {
    let ca = Ca::new("main");
    let cert = ca.issue(&["sip.example.com"]);
    let server = start_echo(server_config(&cert, &ca));
    let client = start(client_config(&ca));

    client
        .tls
        .send_to(server.addr(), Some("sip.example.com"), request("c1", ""))
        .unwrap();
    let got = server.recv();
    assert_eq!(call_id_of(&got.data).unwrap(), "c1");
    assert_eq!(got.source.transport, TransportKind::Tls);
    let back = client.recv();
    assert_eq!(call_id_of(&back.data).unwrap(), "c1");
    assert!(back.data.starts_with(b"SIP/2.0 200"));
    assert_eq!(back.source, Target::new(TransportKind::Tls, server.addr()));

    // The other way: the server sends a request on the connection the client opened.
    server
        .tls
        .send(&got.source, request("s1", "hello"))
        .unwrap();
    let r = client.recv();
    assert_eq!(call_id_of(&r.data).unwrap(), "s1");
    assert!(r.data.ends_with(b"hello"));

    // Each side knows who the other is.
    let who = server.tls.peer_identity(&got.source.addr).unwrap();
    assert_eq!(who.server_name.as_deref(), Some("sip.example.com"));
    assert!(who.certificates.is_empty(), "no client certificate asked");
    assert_eq!(who.version, TlsVersion::Tls13);
    let who = client
        .tls
        .peer_identity_named(&server.addr(), "sip.example.com")
        .unwrap();
    assert!(who.verified);
    assert_eq!(who.end_entity().unwrap().as_ref(), cert.der.as_slice());
    assert!(who.is_valid_for("sip.example.com"));
    assert!(!who.is_valid_for("other.example.com"));

    let (cs, ss) = (client.tls.stats(), server.tls.stats());
    assert_eq!((cs.handshakes, ss.handshakes), (1, 1));
    assert_eq!((cs.connect_attempts, ss.accepted), (1, 1));
    assert_eq!(cs.failures() + ss.failures(), 0);
    assert!(
        cs.bytes_sent > request("c1", "").len() as u64,
        "TLS bytes counted"
    );
    assert!(wait_for(|| client.tls.stats().queued_bytes
        + server.tls.stats().queued_bytes
        == 0));
}

#[test]
fn tls12_only_client_is_served_too() {
    let ca = Ca::new("v12");
    let cert = ca.issue(&["sip.example.com"]);
    let server = start_echo(server_config(&cert, &ca));
    let mut config = client_config(&ca);
    config.tls12 = true;
    let client = start(config);
    // Our client offers 1.3 first; an independent 1.2-only peer is in interop.rs. Here a
    // rustls client restricted to 1.2 talks to our server.
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_slice_iter(ca.pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let config12 = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS12])
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let conn = rustls::ClientConnection::new(
        std::sync::Arc::new(config12),
        "sip.example.com".try_into().unwrap(),
    )
    .unwrap();
    let sock = TcpStream::connect(server.addr()).unwrap();
    sock.set_read_timeout(Some(WAIT)).unwrap();
    let mut s = rustls::StreamOwned::new(conn, sock);
    write(&mut s, &request("v12", ""));
    let answer = read_message(&mut s);
    assert!(answer.starts_with(b"SIP/2.0 200"));
    let got = server.recv();
    let who = server.tls.peer_identity(&got.source.addr).unwrap();
    assert_eq!(who.version, TlsVersion::Tls12);
    drop(client);
}

use rustls::pki_types::pem::PemObject;

#[test]
fn sni_picks_the_certificate() {
    let ca = Ca::new("sni");
    let default = ca.issue(&["default.example.com"]);
    let a = ca.issue(&["a.example.com"]);
    let wild = ca.issue(&["*.b.example.com"]);
    let mut config = server_config(&default, &ca);
    let mut server_tls = ServerTls::new(default.source());
    server_tls
        .domains
        .push(("A.Example.com".into(), a.source()));
    server_tls
        .domains
        .push(("*.b.example.com".into(), wild.source()));
    config.server = Some(server_tls);
    let server = start_echo(config);
    let client = start(client_config(&ca));
    let addr = server.addr();

    for (name, want) in [
        ("a.example.com", &a),
        ("x.b.example.com", &wild),
        ("default.example.com", &default),
    ] {
        client
            .tls
            .send_to(addr, Some(name), request(name, ""))
            .unwrap();
        let back = client.recv();
        assert_eq!(call_id_of(&back.data).unwrap(), name);
        let who = client.tls.peer_identity_named(&addr, name).unwrap();
        assert_eq!(
            who.end_entity().unwrap().as_ref(),
            want.der.as_slice(),
            "certificate for {name}"
        );
    }
    // A name with no certificate of its own gets the default, which does not name it:
    // the client refuses it, reports it, and the other connections are untouched.
    let to = Target::new(TransportKind::Tls, addr);
    client
        .tls
        .send_to(addr, Some("other.example.com"), request("other", ""))
        .unwrap();
    let (_, target, err) = client.event();
    assert_eq!(target, to);
    assert_eq!(
        err,
        SendError::ConnectionFailed {
            addr,
            cause: ConnectionFailure::Tls,
            reason: "tls: certificate not valid for the name"
        }
    );
    let s = client.tls.stats();
    assert_eq!(
        (s.handshakes, s.handshake_failures, s.connect_attempts),
        (3, 1, 4)
    );
    assert!(client
        .tls
        .peer_identity_named(&addr, "a.example.com")
        .is_some());
}

#[test]
fn reload_changes_the_certificate_for_new_connections_only() {
    let (ca1, ca2) = (Ca::new("old"), Ca::new("new"));
    let old = ca1.issue(&["sip.example.com"]);
    let new = ca2.issue(&["sip.example.com"]);
    let server = start_echo(server_config(&old, &ca1));
    let addr = server.addr();
    let name = Some("sip.example.com");

    let c1 = start(client_config(&ca1));
    c1.tls.send_to(addr, name, request("before", "")).unwrap();
    assert_eq!(call_id_of(&c1.recv().data).unwrap(), "before");

    // The new certificate comes from PEM files, as a proxy reloading on a signal reads it.
    let dir = std::env::temp_dir().join(format!("sipcore-tls-reload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (crt, key) = (dir.join("sip.crt"), dir.join("sip.key"));
    std::fs::write(&crt, &new.cert_pem).unwrap();
    std::fs::write(&key, &new.key_pem).unwrap();
    server
        .tls
        .reload(ServerTls::new(sipcore_tls::CertSource::files(&crt, &key)))
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    // A bad reload changes nothing.
    let mut bad = ServerTls::new(new.source());
    bad.domains.push((
        "x.example.com".into(),
        sipcore_tls::CertSource::files("/nonexistent.crt", "/nonexistent.key"),
    ));
    assert!(server.tls.reload(bad).is_err());

    // The old connection keeps working, with its old certificate.
    c1.tls.send_to(addr, name, request("after", "")).unwrap();
    assert_eq!(call_id_of(&c1.recv().data).unwrap(), "after");
    let who = c1
        .tls
        .peer_identity_named(&addr, "sip.example.com")
        .unwrap();
    assert_eq!(who.end_entity().unwrap().as_ref(), old.der.as_slice());

    // A new connection gets the new certificate: a client trusting only the new CA
    // succeeds, one trusting only the old CA fails.
    let c2 = start(client_config(&ca2));
    c2.tls.send_to(addr, name, request("new", "")).unwrap();
    assert_eq!(call_id_of(&c2.recv().data).unwrap(), "new");
    let who = c2
        .tls
        .peer_identity_named(&addr, "sip.example.com")
        .unwrap();
    assert_eq!(who.end_entity().unwrap().as_ref(), new.der.as_slice());
    let c3 = start(client_config(&ca1));
    c3.tls.send_to(addr, name, request("stale", "")).unwrap();
    let (_, _, err) = c3.event();
    assert_eq!(
        err,
        SendError::ConnectionFailed {
            addr,
            cause: ConnectionFailure::Tls,
            reason: "tls: certificate from an unknown issuer"
        }
    );
    assert_eq!(c1.tls.stats().connect_attempts, 1, "never reconnected");
    // Client-side reload: c3 now trusts the new CA.
    c3.tls
        .reload_client(ClientTls::with_roots(ca2.roots()))
        .unwrap();
    // (The failed destination is blacklisted for a while; a fresh transport shows the
    // reloaded roots would work is c2 above.)
    assert_eq!(
        c3.tls.send_to(addr, name, request("x", "")),
        Err(SendError::Blacklisted(addr))
    );
}

#[test]
fn client_certificates_required_and_optional() {
    let ca = Ca::new("trunks");
    let server_cert = ca.issue(&["sip.example.com"]);
    let trunk = ca.issue(&["trunk.example.net"]);
    let other_ca = Ca::new("stranger");
    let stranger = other_ca.issue(&["trunk.example.net"]);

    let mut config = server_config(&server_cert, &ca);
    let mut server_tls = ServerTls::new(server_cert.source());
    server_tls.client_auth = ClientAuth::Required(ca.roots());
    config.server = Some(server_tls);
    let server = start_echo(config);
    let addr = server.addr();
    let name = Some("sip.example.com");

    // A trunk with its certificate: accepted, and identified.
    let mut config = client_config(&ca);
    config.client.cert = Some(trunk.source());
    let good = start(config);
    good.tls.send_to(addr, name, request("trunk", "")).unwrap();
    assert_eq!(call_id_of(&good.recv().data).unwrap(), "trunk");
    let got = server.recv();
    let who = server.tls.peer_identity(&got.source.addr).unwrap();
    assert!(who.verified);
    assert_eq!(who.end_entity().unwrap().as_ref(), trunk.der.as_slice());
    assert!(who.is_valid_for("trunk.example.net"));
    assert!(!who.is_valid_for("evil.example.net"));

    // Without a certificate, or with one from another CA: refused and reported on both
    // sides.
    for (i, cert) in [None, Some(stranger.source())].into_iter().enumerate() {
        let mut config = client_config(&ca);
        config.client.cert = cert;
        let bad = start(config);
        bad.tls.send_to(addr, name, request("bad", "")).unwrap();
        let (_, target, err) = bad.event();
        assert_eq!(target.addr, addr);
        let SendError::ConnectionFailed { reason, .. } = err else {
            panic!("{err:?}");
        };
        assert!(reason.starts_with("tls: "), "{reason}");
        let (_, _, server_err) = server.event();
        let SendError::ConnectionFailed { reason, .. } = server_err else {
            panic!("{server_err:?}");
        };
        let want = if i == 0 {
            "tls: no client certificate"
        } else {
            "tls: certificate from an unknown issuer"
        };
        assert_eq!(reason, want);
        assert!(bad.rx.try_recv().is_err());
    }
    assert_eq!(server.tls.stats().handshake_failures, 2);

    // Optional: a client without a certificate is served, and has no identity.
    let mut config = server_config(&server_cert, &ca);
    let mut server_tls = ServerTls::new(server_cert.source());
    server_tls.client_auth = ClientAuth::Optional(ca.roots());
    config.server = Some(server_tls);
    let optional = start_echo(config);
    let anon = start(client_config(&ca));
    anon.tls
        .send_to(optional.addr(), name, request("anon", ""))
        .unwrap();
    assert_eq!(call_id_of(&anon.recv().data).unwrap(), "anon");
    let got = optional.recv();
    let who = optional.tls.peer_identity(&got.source.addr).unwrap();
    assert!(who.certificates.is_empty());
    assert!(!who.is_valid_for("trunk.example.net"));
}

#[test]
fn expired_and_untrusted_certificates_fail_the_handshake_and_are_reported() {
    let ca = Ca::new("expiry");
    let expired = ca.issue_expired(&["sip.example.com"]);
    let server = start(server_config(&expired, &ca));
    let client = start(client_config(&ca));
    let addr = server.addr();
    client
        .tls
        .send_to(addr, Some("sip.example.com"), request("expired", ""))
        .unwrap();
    let (_, target, err) = client.event();
    assert_eq!(target, Target::new(TransportKind::Tls, addr));
    assert_eq!(
        err,
        SendError::ConnectionFailed {
            addr,
            cause: ConnectionFailure::Tls,
            reason: "tls: certificate expired"
        }
    );
    // The server hears the client's alert.
    let (_, _, err) = server.event();
    assert_eq!(
        err,
        SendError::ConnectionFailed {
            addr: err_addr(&err),
            cause: ConnectionFailure::Tls,
            reason: "tls: peer says our certificate expired"
        }
    );
    // Blacklisted like a TCP failure: the next send fails at once.
    assert_eq!(
        client
            .tls
            .send_to(addr, Some("sip.example.com"), request("again", "")),
        Err(SendError::Blacklisted(addr))
    );
    let s = client.tls.stats();
    assert_eq!((s.handshake_failures, s.blacklisted), (1, 1));
    assert_eq!(s.queued_bytes, 0);

    let stranger = Ca::new("stranger").issue(&["sip.example.com"]);
    let server = start(server_config(&stranger, &ca));
    let client = start(client_config(&ca));
    client
        .tls
        .send_to(server.addr(), Some("sip.example.com"), request("who", ""))
        .unwrap();
    let (_, _, err) = client.event();
    assert_eq!(
        err,
        SendError::ConnectionFailed {
            addr: server.addr(),
            cause: ConnectionFailure::Tls,
            reason: "tls: certificate from an unknown issuer"
        }
    );
    assert!(server.rx.try_recv().is_err());
}

fn err_addr(e: &SendError) -> std::net::SocketAddr {
    match e {
        SendError::ConnectionFailed { addr, .. } => *addr,
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_plaintext_peer_on_the_tls_port_is_refused_and_reported() {
    let ca = Ca::new("plain");
    let cert = ca.issue(&["sip.example.com"]);
    let server = start(server_config(&cert, &ca));
    let mut peer = TcpStream::connect(server.addr()).unwrap();
    write(&mut peer, &request("plain", ""));
    let (closed, got) = read_to_close(&mut peer);
    assert!(closed, "the server closes the connection");
    // What came back, if anything, is a TLS alert record, never SIP.
    assert!(got.is_empty() || got[0] == 0x15, "{got:?}");
    let (_, target, err) = server.event();
    assert_eq!(target.addr, peer.local_addr().unwrap());
    assert_eq!(
        err,
        SendError::ConnectionFailed {
            addr: target.addr,
            cause: ConnectionFailure::Tls,
            reason: "tls: invalid message (not a TLS peer?)"
        }
    );
    assert!(server.rx.try_recv().is_err());
    assert_eq!(server.tls.stats().handshake_failures, 1);
}

#[test]
fn connections_are_reused_by_peer_and_server_name() {
    let ca = Ca::new("reuse");
    let cert = ca.issue(&["a.example.com", "b.example.com", "127.0.0.1"]);
    let server = start_echo(server_config(&cert, &ca));
    let client = start(client_config(&ca));
    let addr = server.addr();
    for i in 0..3 {
        client
            .tls
            .send_to(addr, Some("a.example.com"), request(&format!("a{i}"), ""))
            .unwrap();
        client.recv();
    }
    assert_eq!(client.tls.stats().connect_attempts, 1);
    // Case does not matter; another name is another connection.
    client
        .tls
        .send_to(addr, Some("A.EXAMPLE.COM"), request("a-upper", ""))
        .unwrap();
    client.recv();
    assert_eq!(client.tls.stats().connect_attempts, 1);
    client
        .tls
        .send_to(addr, Some("b.example.com"), request("b", ""))
        .unwrap();
    client.recv();
    assert_eq!(client.tls.stats().connect_attempts, 2);
    // By address only: never a connection opened for a server name (its certificate
    // was checked for the name, not the address); one of its own, checked for the IP,
    // which the next send by address reuses.
    let to = Target::new(TransportKind::Tls, addr);
    for i in 0..2 {
        client
            .tls
            .send(&to, request(&format!("by-addr{i}"), ""))
            .unwrap();
        client.recv();
        assert_eq!(client.tls.stats().connect_attempts, 3);
    }
    // The named connections are still there for their names.
    client
        .tls
        .send_to(addr, Some("a.example.com"), request("a-again", ""))
        .unwrap();
    client.recv();
    assert_eq!(client.tls.stats().connect_attempts, 3);
    // A fresh transport sending by address connects by IP: the certificate names it.
    let by_ip = start(client_config(&ca));
    by_ip.tls.send(&to, request("ip", "")).unwrap();
    assert_eq!(call_id_of(&by_ip.recv().data).unwrap(), "ip");
    // A TCP target is not ours.
    assert_eq!(
        client.tls.send(&Target::tcp(addr), request("tcp", "")),
        Err(SendError::NoTransport(TransportKind::Tcp))
    );
    assert_eq!(server.tls.stats().handshakes, 4);
}

#[test]
fn crlf_keepalive_works_over_tls() {
    let ca = Ca::new("ka");
    let cert = ca.issue(&["sip.example.com"]);
    let server = start(server_config(&cert, &ca));
    // An independent TLS client pings inside TLS; the server answers inside TLS.
    let mut raw = raw_tls(&ca, server.addr(), "sip.example.com");
    write(&mut raw, b"\r\n\r\n");
    let mut pong = [0u8; 2];
    std::io::Read::read_exact(&mut raw, &mut pong).unwrap();
    assert_eq!(&pong, b"\r\n");
    assert_eq!(server.tls.stats().pings_received, 1);

    // Our client pings on its own connection and gets the pongs.
    let mut config = client_config(&ca);
    config.tcp.keepalive_interval = Some(Duration::from_millis(100));
    config.tcp.keepalive_timeout = Duration::from_secs(5);
    let client = start(config);
    client
        .tls
        .send_to(server.addr(), Some("sip.example.com"), request("ka", ""))
        .unwrap();
    server.recv();
    assert!(wait_for(|| client.tls.stats().pongs_received >= 2));
    let s = client.tls.stats();
    assert!(s.pings_sent >= 2);
    assert_eq!(s.failures(), 0);
}

#[test]
fn missing_configuration_is_a_clear_failure() {
    let ca = Ca::new("none");
    // No roots: sending fails with a reason, nothing is opened.
    let mut config = client_config(&ca);
    config.client = ClientTls::default();
    let client = start(config);
    let cert = ca.issue(&["sip.example.com"]);
    let server = start(server_config(&cert, &ca));
    assert_eq!(
        client.tls.send_to(server.addr(), None, request("x", "")),
        Err(SendError::ConnectionFailed {
            addr: server.addr(),
            cause: ConnectionFailure::Tls,
            reason: "tls: no trust roots configured"
        })
    );
    // No server side: accepted connections are closed at once.
    let mut config = client_config(&ca);
    config.tcp.listen.push("127.0.0.1:0".parse().unwrap());
    let no_server = start(config);
    let mut peer = TcpStream::connect(no_server.addr()).unwrap();
    assert!(read_to_close(&mut peer).0);
    assert!(wait_for(|| no_server.tls.stats().handshake_failures == 1));
}

#[test]
fn a_key_update_from_the_peer_is_answered_through_the_write_queue() {
    // The peer asks for a TLS 1.3 key update; the server's answer is a record made while
    // reading, and it goes out through the connection's queue like any other bytes.
    let ca = Ca::new("keyupdate");
    let cert = ca.issue(&["sip.example.com"]);
    let server = start_echo(server_config(&cert, &ca));
    let mut raw = raw_tls(&ca, server.addr(), "sip.example.com");
    let sent = || server.tls.stats().bytes_sent;
    write(&mut raw, &request("k0", ""));
    read_message(&mut raw);
    // Let the counter catch up with the bytes the client already read.
    assert!(wait_for(|| {
        let a = sent();
        std::thread::sleep(Duration::from_millis(20));
        a == sent()
    }));
    for i in 1..4 {
        let before = sent();
        raw.conn.refresh_traffic_keys().unwrap();
        write(&mut raw, &request(&format!("k{i}"), ""));
        let answer = read_message(&mut raw);
        assert_eq!(call_id_of(&answer).unwrap(), format!("k{i}"));
        // The answer's record (TLS 1.3 adds 22 bytes), and the server's own KeyUpdate
        // record before it.
        let record = response(&format!("k{i}")).len() as u64 + 22;
        assert!(
            wait_for(|| sent() - before >= record + 20),
            "{} bytes for a {record}-byte record",
            sent() - before
        );
    }
    let s = server.tls.stats();
    assert_eq!((s.handshakes, s.failures()), (1, 0));
}

#[test]
fn a_name_without_certificate_and_no_default_is_refused() {
    let ca = Ca::new("nodefault");
    let a = ca.issue(&["a.example.com"]);
    let mut config = server_config(&a, &ca);
    let mut server_tls = ServerTls::default();
    server_tls
        .domains
        .push(("a.example.com".into(), a.source()));
    config.server = Some(server_tls);
    let server = start_echo(config);
    let client = start(client_config(&ca));
    client
        .tls
        .send_to(server.addr(), Some("a.example.com"), request("a", ""))
        .unwrap();
    assert_eq!(call_id_of(&client.recv().data).unwrap(), "a");
    client
        .tls
        .send_to(server.addr(), Some("b.example.com"), request("b", ""))
        .unwrap();
    let (_, _, err) = server.event();
    assert_eq!(
        err,
        SendError::ConnectionFailed {
            addr: err_addr(&err),
            cause: ConnectionFailure::Tls,
            reason: "tls: no certificate for the requested name"
        }
    );
    let (_, _, err) = client.event();
    assert_eq!(
        err,
        SendError::ConnectionFailed {
            addr: server.addr(),
            cause: ConnectionFailure::Tls,
            reason: "tls: peer refused the handshake"
        }
    );
}
