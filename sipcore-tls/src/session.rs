//! One TLS connection as a `sipcore-tcp` [`StreamLayer`]: every call that drives a rustls
//! connection (`read_tls`, `process_new_packets`, `reader`, `writer`, `write_tls`,
//! `wants_write`, `send_close_notify`) is in this module, so a rustls upgrade (0.24
//! reshapes this API) touches one file.
//!
//! The glue, after rustls's `tlsserver-mio` example but without any socket: the manager
//! reads the socket and hands the bytes to [`StreamLayer::read_wire`], which feeds them
//! to rustls, drains the plaintext, and drains every record rustls wants to send into the
//! caller's vector, which the manager puts on the connection's write queue. rustls's own
//! outgoing buffer is therefore empty between calls, and the bytes that wait are in the
//! manager's queue, under its limits.

use std::any::Any;
use std::io::{Read, Write};
use std::sync::Arc;

use rustls::pki_types::ServerName;
use rustls::{AlertDescription, CertificateError, ClientConfig, ServerConfig};
use sipcore::transport::ConnectionFailure;
use sipcore_tcp::{LayerError, StreamLayer};

use crate::identity::{PeerIdentity, TlsVersion};

/// Largest plaintext in one TLS record.
const MAX_FRAGMENT: usize = 16 * 1024;
/// Most bytes a record adds (header 5, TLS 1.2 explicit nonce 8, tag 16, TLS 1.3 content
/// type 1), rounded up with room for a key update sent along.
const RECORD_OVERHEAD: usize = 64;

/// A TLS connection, client or server side.
#[derive(Debug)]
pub(crate) struct TlsSession {
    conn: rustls::Connection,
    /// Client side: the server name connected to (for the identity).
    name: Option<Box<str>>,
    /// Whether the peer's certificate was checked against trust roots.
    verified: bool,
}

impl TlsSession {
    /// The server side of an accepted connection.
    pub(crate) fn server(
        config: Arc<ServerConfig>,
        verifies_clients: bool,
    ) -> Result<TlsSession, LayerError> {
        let conn = rustls::ServerConnection::new(config).map_err(|_| {
            LayerError::with_cause(ConnectionFailure::Tls, "tls: server setup failed")
        })?;
        Ok(TlsSession {
            conn: conn.into(),
            name: None,
            verified: verifies_clients,
        })
    }

    /// The client side of a connection to `name`.
    pub(crate) fn client(
        config: Arc<ClientConfig>,
        name: ServerName<'static>,
        verified: bool,
    ) -> Result<TlsSession, LayerError> {
        let shown = match &name {
            ServerName::DnsName(d) => Some(Box::from(d.as_ref())),
            ServerName::IpAddress(ip) => Some(std::net::IpAddr::from(*ip).to_string().into()),
            _ => None,
        };
        let conn = rustls::ClientConnection::new(config, name).map_err(|_| {
            LayerError::with_cause(ConnectionFailure::Tls, "tls: client setup failed")
        })?;
        Ok(TlsSession {
            conn: conn.into(),
            name: shown,
            verified,
        })
    }

    /// Moves every record rustls wants to send into `out`.
    fn drain(&mut self, out: &mut Vec<u8>) {
        while self.conn.wants_write() {
            // Writing into a Vec cannot fail or stall.
            match self.conn.write_tls(out) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    }

    /// Moves the decrypted bytes rustls holds into `plain`.
    fn take_plaintext(&mut self, plain: &mut Vec<u8>) {
        let mut chunk = [0u8; 4096];
        loop {
            match self.conn.reader().read(&mut chunk) {
                Ok(0) => break, // close_notify: the peer sends no more
                Ok(n) => plain.extend_from_slice(chunk.get(..n).unwrap_or_default()),
                Err(_) => break, // WouldBlock: nothing more now
            }
        }
    }

    /// Who the peer is, once the handshake is complete.
    pub(crate) fn identity(&self) -> Option<PeerIdentity> {
        if self.conn.is_handshaking() {
            return None;
        }
        let version = match self.conn.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_2) => TlsVersion::Tls12,
            Some(rustls::ProtocolVersion::TLSv1_3) => TlsVersion::Tls13,
            _ => TlsVersion::Other,
        };
        let server_name = match &self.conn {
            rustls::Connection::Server(s) => s.server_name().map(str::to_owned),
            rustls::Connection::Client(_) => self.name.as_deref().map(str::to_owned),
        };
        Some(PeerIdentity {
            certificates: self
                .conn
                .peer_certificates()
                .map(<[_]>::to_vec)
                .unwrap_or_default(),
            verified: self.verified && self.conn.peer_certificates().is_some(),
            server_name,
            version,
            cipher_suite: self
                .conn
                .negotiated_cipher_suite()
                .and_then(|s| s.suite().as_str())
                .unwrap_or("unknown"),
        })
    }
}

impl StreamLayer for TlsSession {
    fn read_wire(
        &mut self,
        mut wire: &[u8],
        plain: &mut Vec<u8>,
        out: &mut Vec<u8>,
    ) -> Result<(), LayerError> {
        let mut result = Ok(());
        // `read_tls` takes at most one buffer's worth; feed, process and drain until the
        // chunk is used up (an empty reader would look like EOF to rustls).
        while !wire.is_empty() {
            match self.conn.read_tls(&mut wire) {
                Ok(0) => break, // after close_notify rustls reads nothing more
                Ok(_) => {}
                Err(_) => {
                    result = Err(LayerError::with_cause(
                        ConnectionFailure::Tls,
                        "tls: record buffer full",
                    ));
                    break;
                }
            }
            if let Err(e) = self.conn.process_new_packets() {
                result = Err(classify(&e));
                break;
            }
            self.take_plaintext(plain);
        }
        // Handshake messages, session tickets, key-update answers, or the alert that
        // goes with an error.
        self.drain(out);
        result
    }

    fn write_plain(&mut self, mut plain: &[u8], out: &mut Vec<u8>) -> Result<(), LayerError> {
        while !plain.is_empty() {
            match self.conn.writer().write(plain) {
                Ok(0) | Err(_) => {
                    return Err(LayerError::with_cause(
                        ConnectionFailure::Tls,
                        "tls: cannot encrypt",
                    ))
                }
                Ok(n) => plain = plain.get(n..).unwrap_or_default(),
            }
            self.drain(out);
        }
        Ok(())
    }

    fn poll_wire(&mut self, out: &mut Vec<u8>) {
        self.drain(out);
    }

    fn is_ready(&self) -> bool {
        !self.conn.is_handshaking()
    }

    fn wire_len_bound(&self, len: usize) -> usize {
        len + (len / MAX_FRAGMENT + 1) * RECORD_OVERHEAD
    }

    fn close(&mut self, out: &mut Vec<u8>) {
        self.conn.send_close_notify();
        self.drain(out);
    }

    /// The peer's certificate chain was verified against trust roots (the client CA
    /// bundle on a server) and its end-entity certificate names `ip`: what RFC 5923 §5
    /// asks before an `alias` for `ip` is honoured.
    fn peer_verified_for(&self, ip: std::net::IpAddr) -> bool {
        self.identity()
            .is_some_and(|id| id.is_valid_for(&ip.to_string()))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A short static reason for a rustls error: what the transaction layer sees in
/// `SendError::ConnectionFailed { reason }`, and what an operator greps for.
pub(crate) fn classify(e: &rustls::Error) -> LayerError {
    use rustls::Error as E;
    LayerError::with_cause(
        ConnectionFailure::Tls,
        match e {
            E::InvalidCertificate(c) => match c {
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                    "tls: certificate expired"
                }
                CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                    "tls: certificate not yet valid"
                }
                CertificateError::UnknownIssuer => "tls: certificate from an unknown issuer",
                CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. } => {
                    "tls: certificate not valid for the name"
                }
                CertificateError::Revoked => "tls: certificate revoked",
                CertificateError::BadSignature => "tls: certificate with a bad signature",
                _ => "tls: invalid certificate",
            },
            E::NoCertificatesPresented => "tls: no client certificate",
            E::AlertReceived(a) => match a {
                AlertDescription::CertificateExpired => "tls: peer says our certificate expired",
                AlertDescription::BadCertificate
                | AlertDescription::UnknownCA
                | AlertDescription::CertificateUnknown
                | AlertDescription::CertificateRequired
                | AlertDescription::UnsupportedCertificate => "tls: peer rejected our certificate",
                AlertDescription::HandshakeFailure | AlertDescription::AccessDenied => {
                    "tls: peer refused the handshake"
                }
                AlertDescription::ProtocolVersion => "tls: no common protocol version",
                AlertDescription::UnrecognisedName => "tls: peer does not know the server name",
                _ => "tls: alert from peer",
            },
            E::InvalidMessage(_)
            | E::InappropriateMessage { .. }
            | E::InappropriateHandshakeMessage { .. } => "tls: invalid message (not a TLS peer?)",
            E::PeerIncompatible(_) => "tls: peer incompatible",
            E::PeerMisbehaved(_) => "tls: peer misbehaved",
            E::DecryptError => "tls: decrypt error",
            E::PeerSentOversizedRecord => "tls: oversized record",
            // rustls's words when the resolver has no certificate for the SNI name.
            E::General(what) if what.contains("certificate") => {
                "tls: no certificate for the requested name"
            }
            _ => "tls: error",
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_specific() {
        let expired = rustls::Error::InvalidCertificate(CertificateError::Expired);
        assert_eq!(classify(&expired).reason(), "tls: certificate expired");
        let unknown = rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer);
        assert_eq!(
            classify(&unknown).reason(),
            "tls: certificate from an unknown issuer"
        );
        let alert = rustls::Error::AlertReceived(AlertDescription::UnknownCA);
        assert_eq!(
            classify(&alert).reason(),
            "tls: peer rejected our certificate"
        );
    }

    /// A server and a client session pumping bytes to each other in memory.
    fn pair() -> (TlsSession, TlsSession) {
        let cert = rcgen::generate_simple_self_signed(vec!["sip.example.com".into()]).unwrap();
        let server = crate::ServerTls::new(crate::CertSource::pem(
            cert.cert.pem(),
            cert.signing_key.serialize_pem(),
        ));
        let server = crate::certs::server_config(&server, true).unwrap();
        let client = crate::ClientTls::with_roots(crate::PemSource::memory(cert.cert.pem()));
        let client = crate::certs::client_config(&client, true).unwrap().unwrap();
        let s = TlsSession::server(Arc::new(server), false).unwrap();
        let c = TlsSession::client(
            Arc::new(client),
            ServerName::try_from("sip.example.com").unwrap(),
            true,
        )
        .unwrap();
        (s, c)
    }

    /// Moves `wire` into `to`, returning what `to` decoded; what it answers goes to `back`.
    fn pump(to: &mut TlsSession, wire: &[u8], back: &mut Vec<u8>) -> Vec<u8> {
        let mut plain = Vec::new();
        to.read_wire(wire, &mut plain, back).unwrap();
        plain
    }

    #[test]
    fn handshake_and_data_in_memory() {
        let (mut s, mut c) = pair();
        let mut hello = Vec::new();
        c.poll_wire(&mut hello);
        assert!(!hello.is_empty() && !c.is_ready() && !s.is_ready());
        let mut flight = Vec::new();
        assert!(pump(&mut s, &hello, &mut flight).is_empty());
        let mut finished = Vec::new();
        assert!(pump(&mut c, &flight, &mut finished).is_empty());
        assert!(c.is_ready(), "client done after the server's flight");
        let mut tickets = Vec::new();
        pump(&mut s, &finished, &mut tickets);
        assert!(s.is_ready());
        assert!(!tickets.is_empty(), "TLS 1.3 session tickets");
        // Fed one byte at a time, records still decode.
        let mut rec = Vec::new();
        c.write_plain(b"OPTIONS", &mut rec).unwrap();
        assert!(rec.len() > 7 && rec.len() <= c.wire_len_bound(7));
        let mut got = Vec::new();
        for b in &rec {
            got.extend(pump(&mut s, std::slice::from_ref(b), &mut Vec::new()));
        }
        assert_eq!(got, b"OPTIONS");
        let mut rec = Vec::new();
        s.write_plain(b"SIP/2.0 200 OK", &mut rec).unwrap();
        let mut out = Vec::new();
        assert_eq!(
            pump(&mut c, &[tickets, rec].concat(), &mut out),
            b"SIP/2.0 200 OK"
        );
        let who = c.identity().unwrap();
        assert!(who.verified && who.is_valid_for("sip.example.com"));
        assert_eq!(
            s.identity().unwrap().server_name.as_deref(),
            Some("sip.example.com")
        );
        // close_notify: the peer reads the end, and nothing after it.
        let mut bye = Vec::new();
        c.close(&mut bye);
        assert!(pump(&mut s, &bye, &mut Vec::new()).is_empty());
        eprintln!(
            "size_of: rustls::Connection {} B, TlsSession {} B",
            std::mem::size_of::<rustls::Connection>(),
            std::mem::size_of::<TlsSession>()
        );
    }

    #[test]
    fn garbage_fails_with_an_alert_to_send() {
        let (mut s, _) = pair();
        let mut out = Vec::new();
        let e = s
            .read_wire(b"OPTIONS sip:a SIP/2.0\r\n", &mut Vec::new(), &mut out)
            .unwrap_err();
        assert_eq!(e.reason(), "tls: invalid message (not a TLS peer?)");
        assert_eq!(out.first(), Some(&0x15), "an alert record");
    }

    #[test]
    fn bound_covers_record_overhead() {
        let s = TlsSession::client(
            Arc::new(
                crate::certs::client_config(
                    &crate::ClientTls {
                        verify: false,
                        ..Default::default()
                    },
                    true,
                )
                .unwrap()
                .unwrap(),
            ),
            ServerName::try_from("example.com").unwrap(),
            false,
        )
        .unwrap();
        assert!(s.wire_len_bound(100) >= 100 + 29);
        assert!(s.wire_len_bound(40_000) >= 40_000 + 3 * 29);
        assert!(!s.is_ready());
    }
}
