//! Building rustls configurations from a [`TlsConfig`](crate::TlsConfig): PEM loading
//! (the `rustls-pki-types` PEM API), the SNI certificate resolver, client-certificate
//! verification, and the no-verification verifier for tests.
//!
//! Everything here runs when a configuration is loaded or reloaded, never per connection.

use std::collections::HashMap;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{
    ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme,
    SupportedProtocolVersion,
};

use crate::config::{CertSource, ClientAuth, ClientTls, PemSource, ServerTls, TlsError};

/// The crypto provider: `ring` (builds with a C compiler alone; aws-lc-rs needs cmake).
pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

static BOTH: [&SupportedProtocolVersion; 2] = [&rustls::version::TLS13, &rustls::version::TLS12];
static TLS13_ONLY: [&SupportedProtocolVersion; 1] = [&rustls::version::TLS13];

fn versions(tls12: bool) -> &'static [&'static SupportedProtocolVersion] {
    if tls12 {
        &BOTH
    } else {
        &TLS13_ONLY
    }
}

fn pem_error(source: &PemSource, e: impl std::fmt::Display) -> TlsError {
    TlsError::Pem {
        source_name: source.describe(),
        reason: e.to_string(),
    }
}

/// Every certificate in `source`, in order.
pub(crate) fn load_certs(source: &PemSource) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs: Result<Vec<_>, _> = match source {
        PemSource::File(path) => CertificateDer::pem_file_iter(path)
            .map_err(|e| pem_error(source, e))?
            .collect(),
        PemSource::Memory(pem) => CertificateDer::pem_slice_iter(pem).collect(),
    };
    let certs = certs.map_err(|e| pem_error(source, e))?;
    if certs.is_empty() {
        return Err(pem_error(source, "no certificate"));
    }
    Ok(certs)
}

fn load_key(source: &PemSource) -> Result<PrivateKeyDer<'static>, TlsError> {
    match source {
        PemSource::File(path) => PrivateKeyDer::from_pem_file(path),
        PemSource::Memory(pem) => PrivateKeyDer::from_pem_slice(pem),
    }
    .map_err(|e| pem_error(source, e))
}

/// A chain and its key, checked to match.
pub(crate) fn certified_key(
    cert: &CertSource,
    provider: &CryptoProvider,
) -> Result<Arc<CertifiedKey>, TlsError> {
    let chain = load_certs(&cert.chain)?;
    let key = load_key(&cert.key)?;
    CertifiedKey::from_der(chain, key, provider)
        .map(Arc::new)
        .map_err(|e| TlsError::Rejected {
            what: cert.chain.describe(),
            reason: e.to_string(),
        })
}

fn root_store(bundle: &PemSource) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in load_certs(bundle)? {
        roots.add(cert).map_err(|e| TlsError::Rejected {
            what: bundle.describe(),
            reason: e.to_string(),
        })?;
    }
    Ok(roots)
}

/// Picks the certificate by the SNI name of the ClientHello.
#[derive(Debug)]
struct SniResolver {
    default: Option<Arc<CertifiedKey>>,
    /// Exact names, lower case.
    exact: HashMap<String, Arc<CertifiedKey>>,
    /// `*.example.com` stored as `example.com`, lower case.
    wildcard: HashMap<String, Arc<CertifiedKey>>,
}

impl SniResolver {
    fn pick(&self, name: Option<&str>) -> Option<Arc<CertifiedKey>> {
        if let Some(name) = name {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if let Some(k) = self.exact.get(&name) {
                return Some(k.clone());
            }
            if let Some((_, parent)) = name.split_once('.') {
                if let Some(k) = self.wildcard.get(parent) {
                    return Some(k.clone());
                }
            }
        }
        self.default.clone()
    }
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.pick(hello.server_name())
    }
}

/// The rustls server configuration for `server`.
pub(crate) fn server_config(server: &ServerTls, tls12: bool) -> Result<ServerConfig, TlsError> {
    let provider = provider();
    let default = server
        .default_cert
        .as_ref()
        .map(|c| certified_key(c, &provider))
        .transpose()?;
    let mut resolver = SniResolver {
        default,
        exact: HashMap::new(),
        wildcard: HashMap::new(),
    };
    for (name, cert) in &server.domains {
        let key = certified_key(cert, &provider)?;
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        match name.strip_prefix("*.") {
            Some(parent) => resolver.wildcard.insert(parent.to_owned(), key),
            None => resolver.exact.insert(name, key),
        };
    }
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions(tls12))
        .map_err(|e| TlsError::Rejected {
            what: "protocol versions".into(),
            reason: e.to_string(),
        })?;
    let verifier = match &server.client_auth {
        ClientAuth::Off => None,
        ClientAuth::Optional(bundle) | ClientAuth::Required(bundle) => {
            let b = WebPkiClientVerifier::builder_with_provider(
                Arc::new(root_store(bundle)?),
                provider.clone(),
            );
            let b = match server.client_auth {
                ClientAuth::Optional(_) => b.allow_unauthenticated(),
                _ => b,
            };
            Some(b.build().map_err(|e| TlsError::Rejected {
                what: bundle.describe(),
                reason: e.to_string(),
            })?)
        }
    };
    let builder = match verifier {
        Some(v) => builder.with_client_cert_verifier(v),
        None => builder.with_no_client_auth(),
    };
    Ok(builder.with_cert_resolver(Arc::new(resolver)))
}

/// The rustls client configuration for `client`; `None` when it verifies but has no
/// roots (outgoing connections then fail with a clear reason).
pub(crate) fn client_config(
    client: &ClientTls,
    tls12: bool,
) -> Result<Option<ClientConfig>, TlsError> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions(tls12))
        .map_err(|e| TlsError::Rejected {
            what: "protocol versions".into(),
            reason: e.to_string(),
        })?;
    let builder = match (&client.roots, client.verify) {
        (_, false) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAny(provider.clone()))),
        (Some(bundle), true) => builder.with_root_certificates(root_store(bundle)?),
        (None, true) => return Ok(None),
    };
    let config = match &client.cert {
        Some(cert) => {
            let chain = load_certs(&cert.chain)?;
            let key = load_key(&cert.key)?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| TlsError::Rejected {
                    what: cert.chain.describe(),
                    reason: e.to_string(),
                })?
        }
        None => builder.with_no_client_auth(),
    };
    Ok(Some(config))
}

/// Accepts any server certificate (the handshake signatures are still checked, so the
/// peer holds the key of the certificate it sent). For tests only.
#[derive(Debug)]
struct AcceptAny(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_pem_is_a_clear_error_that_names_the_source_not_the_content() {
        let e = load_certs(&PemSource::memory("not pem")).unwrap_err();
        assert!(e.to_string().contains("bytes of PEM in memory"), "{e}");
        assert!(e.to_string().contains("no certificate"), "{e}");
        let e = load_certs(&PemSource::file("/nonexistent/x.pem")).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/x.pem"), "{e}");
        let e = load_key(&PemSource::memory("-----BEGIN X-----\n")).unwrap_err();
        assert!(!e.to_string().contains("BEGIN"), "{e}");
    }

    #[test]
    fn client_without_roots_has_no_config_until_verification_is_off() {
        let mut c = ClientTls::default();
        assert!(client_config(&c, true).unwrap().is_none());
        c.verify = false;
        assert!(client_config(&c, false).unwrap().is_some());
    }
}
