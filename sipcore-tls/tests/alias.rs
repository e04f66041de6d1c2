//! RFC 5923 aliases over TLS: honoured only for a client whose certificate was verified
//! and names the claimed address; any other claim leaves requests for that address to
//! a connection of their own.

#![allow(clippy::disallowed_methods, clippy::unwrap_used)] // loopback tests measure real time

mod common;

use std::net::SocketAddr;

use bytes::Bytes;
use common::*;
use sipcore::transport::{Target, Transport, TransportKind};
use sipcore_tls::{ClientAuth, ServerTls, TlsConfig};

const SERVER_NAME: &str = "sip.example.com";

fn alias_request(call_id: &str, claimed: SocketAddr) -> Bytes {
    Bytes::from(format!(
        "REGISTER sips:example.com SIP/2.0\r\n\
         Via: SIP/2.0/TLS {claimed};branch=z9hG4bK{call_id};alias\r\n\
         From: <sips:alice@example.com>;tag=1\r\n\
         To: <sips:alice@example.com>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 REGISTER\r\n\
         Content-Length: 0\r\n\r\n"
    ))
}

/// A server that asks for (optional) client certificates and honours proven aliases.
fn server(ca: &Ca) -> Node {
    let cert = ca.issue(&[SERVER_NAME]);
    let mut config = server_config(&cert, ca);
    let mut server_tls = ServerTls::new(cert.source());
    server_tls.client_auth = ClientAuth::Optional(ca.roots());
    config.server = Some(server_tls);
    config.tcp.use_alias = true;
    start(config)
}

/// A node listening on 127.0.0.9, with a certificate naming that address (as server and
/// as client).
fn owner(ca: &Ca) -> Node {
    let cert = ca.issue(&["127.0.0.9"]);
    let mut config: TlsConfig = client_config(ca);
    config.tcp.listen.push("127.0.0.9:0".parse().unwrap());
    config.server = Some(ServerTls::new(cert.source()));
    config.client.cert = Some(cert.source());
    start(config)
}

#[test]
fn an_alias_proven_by_a_client_certificate_is_honoured() {
    let ca = Ca::new("alias-ok");
    let server = server(&ca);
    let owner = owner(&ca);
    let claimed = owner.addr();
    owner
        .tls
        .send_to(
            server.addr(),
            Some(SERVER_NAME),
            alias_request("own", claimed),
        )
        .unwrap();
    server.recv();
    assert_eq!(server.tls.stats().aliases, 1);
    assert!(server.tls.has_connection(&claimed));
    // A request for the claimed address goes down the owner's own connection.
    let to = Target::new(TransportKind::Tls, claimed);
    server.tls.send(&to, request("for-owner", "")).unwrap();
    assert_eq!(call_id_of(&owner.recv().data).unwrap(), "for-owner");
    assert_eq!(server.tls.stats().connect_attempts, 0);
    assert_eq!(owner.tls.stats().accepted, 0);
}

#[test]
fn an_alias_without_a_certificate_for_the_address_is_refused() {
    let ca = Ca::new("alias-refused");
    let server = server(&ca);
    let owner = owner(&ca);
    let claimed = owner.addr();
    // No client certificate, and a verified one that names another address.
    let anonymous = start(client_config(&ca));
    let mut config = client_config(&ca);
    config.client.cert = Some(ca.issue(&["127.0.0.1"]).source());
    let other_address = start(config);
    let mut sources = Vec::new();
    for (i, impostor) in [&anonymous, &other_address].into_iter().enumerate() {
        impostor
            .tls
            .send_to(
                server.addr(),
                Some(SERVER_NAME),
                alias_request(&format!("imp{i}"), claimed),
            )
            .unwrap();
        sources.push(server.recv().source);
    }
    assert_eq!(server.tls.stats().aliases_refused, 2);
    assert_eq!(server.tls.stats().aliases, 0);
    assert!(!server.tls.has_connection(&claimed));

    // Requests for the claimed address reach its owner over a new connection.
    let to = Target::new(TransportKind::Tls, claimed);
    server.tls.send(&to, request("for-owner", "")).unwrap();
    assert_eq!(call_id_of(&owner.recv().data).unwrap(), "for-owner");
    assert_eq!(server.tls.stats().connect_attempts, 1);
    assert_eq!(owner.tls.stats().accepted, 1);

    // Positive control: each impostor's real source address still reaches it, and that
    // is the first request it gets.
    for (i, (impostor, source)) in [&anonymous, &other_address]
        .into_iter()
        .zip(sources)
        .enumerate()
    {
        let id = format!("for-imp{i}");
        server.tls.send(&source, request(&id, "")).unwrap();
        assert_eq!(call_id_of(&impostor.recv().data).unwrap(), id);
    }
    assert_eq!(server.tls.stats().connect_attempts, 1);
}
