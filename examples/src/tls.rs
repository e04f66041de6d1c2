//! TLS for the proxy: the `[tls]` section turned into a `sipcore_tls` configuration,
//! the PEM checks that make a missing or unreadable certificate a configuration error
//! (key and path), and the mapping of what rustls refuses at start to the same form.
//!
//! The proxy serves `tls:ADDR` listen addresses with one certificate chain and key
//! (`tls.cert_file`, `tls.key_file`) and checks the servers it connects to over TLS
//! (gateways with `transport = "tls"`, `sips:` and `;transport=tls` targets) against
//! the CA bundle `tls.ca_file`. Without DNS, outgoing connections go to IP addresses:
//! the server certificate must name the address (an IP subject alternative name).

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sipcore_tls::{CertSource, ClientTls, PemSource, ServerTls, TlsError};

use crate::config::Config;

/// `[tls]`: the certificate the proxy presents and the roots it trusts.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsSection {
    /// PEM file with the certificate chain (end-entity first) presented on `tls:`
    /// listen addresses. Required when there is one.
    pub cert_file: Option<String>,
    /// PEM file with its private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: Option<String>,
    /// PEM file with the CA certificates the servers the proxy connects to over TLS
    /// must chain to. Without it every outgoing TLS connection fails (a 503 upstream).
    pub ca_file: Option<String>,
    /// Longest time from accept or connect to a complete handshake; a handshake still
    /// running then is closed, and a branch waiting on it gets a 503.
    pub handshake_timeout_secs: u64,
}

impl Default for TlsSection {
    fn default() -> Self {
        TlsSection {
            cert_file: None,
            key_file: None,
            ca_file: None,
            handshake_timeout_secs: 10,
        }
    }
}

/// What a PEM file must hold.
#[derive(Debug, Clone, Copy)]
enum Holds {
    Certificates,
    Key,
}

/// Reads `path` and checks it holds what `holds` says; the error is the reason with
/// the path.
fn check_pem(path: &str, holds: Holds) -> Result<(), String> {
    let p = Path::new(path);
    let bad = |e: &dyn std::fmt::Display| format!("{path}: {e}");
    match holds {
        Holds::Certificates => {
            let mut n = 0usize;
            for c in CertificateDer::pem_file_iter(p).map_err(|e| bad(&e))? {
                c.map_err(|e| bad(&e))?;
                n += 1;
            }
            if n == 0 {
                return Err(bad(&"no CERTIFICATE in the file"));
            }
        }
        Holds::Key => {
            PrivateKeyDer::from_pem_file(p).map_err(|e| bad(&e))?;
        }
    }
    Ok(())
}

/// Checks the `[tls]` section against what the rest of `cfg` needs: a certificate and
/// key when a `tls:` address is listened on, roots when a gateway is reached over TLS,
/// and every file named readable and holding what it should. `Err((key, message))`.
pub fn check(cfg: &Config) -> Result<(), (&'static str, String)> {
    let t = &cfg.tls;
    let listens_tls = cfg.listens().iter().any(|l| l.tls);
    if listens_tls && t.cert_file.is_none() {
        return Err((
            "tls.cert_file",
            "a tls: listen address needs a certificate chain (PEM file)".into(),
        ));
    }
    match (&t.cert_file, &t.key_file) {
        (Some(_), None) => {
            return Err((
                "tls.key_file",
                "tls.cert_file is set but not its private key".into(),
            ))
        }
        (None, Some(_)) => {
            return Err((
                "tls.cert_file",
                "tls.key_file is set but no certificate".into(),
            ))
        }
        _ => {}
    }
    if t.handshake_timeout_secs == 0 {
        return Err(("tls.handshake_timeout_secs", "must be at least 1".into()));
    }
    let tls_gateway = cfg
        .routes
        .prefix
        .iter()
        .flat_map(|p| &p.gateways)
        .any(|g| g.transport.eq_ignore_ascii_case("tls"));
    if tls_gateway && t.ca_file.is_none() {
        return Err((
            "tls.ca_file",
            "a gateway with transport \"tls\" needs the CA bundle to check it against".into(),
        ));
    }
    for (key, file, holds) in [
        ("tls.cert_file", &t.cert_file, Holds::Certificates),
        ("tls.key_file", &t.key_file, Holds::Key),
        ("tls.ca_file", &t.ca_file, Holds::Certificates),
    ] {
        if let Some(path) = file {
            check_pem(path, holds).map_err(|m| (key, m))?;
        }
    }
    Ok(())
}

/// Whether the proxy needs a TLS transport: it listens on TLS, or may connect out
/// over TLS (roots are configured).
pub fn wanted(cfg: &Config) -> bool {
    cfg.listens().iter().any(|l| l.tls) || cfg.tls.ca_file.is_some()
}

/// The `sipcore_tls` configuration: listening on `listen`, with `workers` workers.
pub fn transport_config(
    cfg: &Config,
    listen: Vec<SocketAddr>,
    workers: usize,
) -> sipcore_tls::TlsConfig {
    let t = &cfg.tls;
    let mut c = sipcore_tls::TlsConfig::default();
    c.tcp.listen = listen;
    c.tcp.workers = workers;
    crate::tcp::apply(&cfg.tcp, &mut c.tcp);
    c.handshake_timeout = Duration::from_secs(t.handshake_timeout_secs);
    if let (Some(chain), Some(key)) = (&t.cert_file, &t.key_file) {
        c.server = Some(ServerTls::new(CertSource::files(chain, key)));
    }
    let mut client = ClientTls::default();
    client.roots = t.ca_file.as_ref().map(PemSource::file);
    c.client = client;
    c
}

/// The configuration key a file named in a `sipcore_tls` error belongs to.
fn key_of(cfg: &Config, described: &str) -> &'static str {
    let t = &cfg.tls;
    for (key, file) in [
        ("tls.cert_file", &t.cert_file),
        ("tls.key_file", &t.key_file),
        ("tls.ca_file", &t.ca_file),
    ] {
        if file
            .as_ref()
            .is_some_and(|f| Path::new(f).display().to_string() == described)
        {
            return key;
        }
    }
    "tls"
}

/// Why the TLS transport did not start, as `(key, message)`: which file of `[tls]`
/// (rustls refused a chain, a key that does not match it, a bad CA bundle), or `None`
/// for an I/O failure (binding a listener).
pub fn describe_error(cfg: &Config, e: &TlsError) -> Option<(&'static str, String)> {
    match e {
        TlsError::Pem {
            source_name,
            reason,
        } => Some((key_of(cfg, source_name), format!("{source_name}: {reason}"))),
        TlsError::Rejected { what, reason } => {
            Some((key_of(cfg, what), format!("{what}: {reason}")))
        }
        TlsError::Io(_) => None,
        other => Some(("tls", other.to_string())),
    }
}
