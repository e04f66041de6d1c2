//! [`PeerIdentity`]: who is at the other end of a TLS connection, for the application
//! (trunk authentication by client certificate, logging).

use rustls::pki_types::{CertificateDer, ServerName};
use rustls::server::ParsedCertificate;

/// The negotiated TLS version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsVersion {
    /// TLS 1.2.
    Tls12,
    /// TLS 1.3.
    Tls13,
    /// Anything else (not offered by this crate).
    Other,
}

/// The peer of an established TLS connection, from
/// [`TlsTransport::peer_identity`](crate::TlsTransport::peer_identity).
///
/// On a server, `certificates` is the client's certificate chain when client
/// certificates are asked for (empty when an optional one was not sent), and
/// `server_name` is the SNI name the client asked for. On a client, `certificates` is
/// the server's chain and `server_name` the name (or address) it was checked against.
///
/// ```
/// use sipcore_tls::{PeerIdentity, TlsVersion};
/// let nobody = PeerIdentity {
///     certificates: Vec::new(),
///     verified: false,
///     server_name: Some("sip.example.com".into()),
///     version: TlsVersion::Tls13,
///     cipher_suite: "TLS13_AES_128_GCM_SHA256",
/// };
/// assert!(!nobody.is_valid_for("trunk.example.net"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerIdentity {
    /// The peer's certificate chain, end-entity first (DER); empty if it sent none.
    pub certificates: Vec<CertificateDer<'static>>,
    /// Whether the chain was verified against trust roots (the client CA bundle on a
    /// server, the server roots on a client). `false` with verification off.
    pub verified: bool,
    /// Server side: the SNI name the client sent. Client side: the name connected to.
    pub server_name: Option<String>,
    /// The negotiated version.
    pub version: TlsVersion,
    /// The negotiated cipher suite (IANA name).
    pub cipher_suite: &'static str,
}

impl PeerIdentity {
    /// The peer's end-entity certificate (DER), if it sent one.
    pub fn end_entity(&self) -> Option<&CertificateDer<'static>> {
        self.certificates.first()
    }

    /// Whether the end-entity certificate is verified and names `name` (a DNS name,
    /// wildcards honoured, or an IP address) in its subject alternative names: how a
    /// proxy checks that a client-certificate connection comes from a given trunk.
    pub fn is_valid_for(&self, name: &str) -> bool {
        if !self.verified {
            return false;
        }
        let Some(cert) = self.end_entity() else {
            return false;
        };
        let Ok(parsed) = ParsedCertificate::try_from(cert) else {
            return false;
        };
        let Ok(name) = ServerName::try_from(name) else {
            return false;
        };
        rustls::client::verify_server_name(&parsed, &name).is_ok()
    }
}
