//! TLS for the proxy: the `[tls]` section turned into a `sipcore_tls` configuration,
//! the PEM checks that make a missing or unreadable certificate a configuration error
//! (key and path), and the mapping of what rustls refuses at start to the same form.
//!
//! The proxy serves `tls:ADDR` listen addresses with one certificate chain and key
//! (`tls.cert_file`, `tls.key_file`) and checks the servers it connects to over TLS
//! (gateways with `transport = "tls"`, `sips:` and `;transport=tls` targets) against
//! the CA bundle `tls.ca_file` (or the system's, `tls.system_roots`). A destination
//! given by host name is connected to with that name as SNI and its certificate must
//! carry the name (RFC 5922, [`ServerNames`], [`NamedTls`]); one given by address must
//! carry the address (an IP subject alternative name). SIGHUP reloads the files
//! (`Running::reload_tls`) without dropping connections.

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
    /// Trust the system's CA bundle (Debian's `/etc/ssl/certs/ca-certificates.crt`, or
    /// the RHEL/Alpine equivalents) instead of `ca_file`: for carriers with public
    /// certificates.
    pub system_roots: bool,
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
            system_roots: false,
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
    let tls_gateway = cfg.routes.prefix.iter().flat_map(|p| &p.gateways).any(|g| {
        g.transport.eq_ignore_ascii_case("tls")
            || g.uri.as_deref().is_some_and(|u| {
                let u = u.to_ascii_lowercase();
                u.starts_with("sips:") || u.contains(";transport=tls")
            })
    });
    if t.system_roots && t.ca_file.is_some() {
        return Err((
            "tls.system_roots",
            "give either tls.ca_file or tls.system_roots, not both".into(),
        ));
    }
    if t.system_roots && system_bundle().is_none() {
        return Err((
            "tls.system_roots",
            "no system CA bundle found (/etc/ssl/certs/ca-certificates.crt: install ca-certificates)"
                .into(),
        ));
    }
    if tls_gateway && t.ca_file.is_none() && !t.system_roots {
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
    cfg.listens().iter().any(|l| l.tls) || cfg.tls.ca_file.is_some() || cfg.tls.system_roots
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
    let (server, client) = server_and_client(t);
    c.server = server;
    c.client = client;
    c
}

/// The server side (when a certificate and key are configured) and the client side
/// (trust roots) of `[tls]`.
pub fn server_and_client(t: &TlsSection) -> (Option<ServerTls>, ClientTls) {
    let server = match (&t.cert_file, &t.key_file) {
        (Some(chain), Some(key)) => Some(ServerTls::new(CertSource::files(chain, key))),
        _ => None,
    };
    let mut client = ClientTls::default();
    client.roots = match (&t.ca_file, t.system_roots) {
        (Some(f), _) => Some(PemSource::file(f)),
        (None, true) => system_bundle().map(PemSource::file),
        (None, false) => None,
    };
    (server, client)
}

/// Where the distributions keep the system CA bundle (the first that exists).
pub fn system_bundle() -> Option<&'static str> {
    [
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
        "/etc/ssl/cert.pem",
    ]
    .into_iter()
    .find(|p| Path::new(p).exists())
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

/// The server names outgoing TLS connections are opened for, by destination address:
/// filled from RFC 3263 candidates (a URI's host, RFC 5922) before their branch starts,
/// read by [`NamedTls`] when the transaction layer sends. Bounded: past
/// [`ServerNames::CAPACITY`] destinations the table starts over (a destination whose
/// name was forgotten is then connected to by address and its certificate must name
/// the address, so forgetting never weakens the check).
#[derive(Debug, Default)]
pub struct ServerNames(
    parking_lot::Mutex<std::collections::HashMap<SocketAddr, std::sync::Arc<str>>>,
);

impl ServerNames {
    /// Destinations remembered at most.
    pub const CAPACITY: usize = 4096;

    /// Connections to `addr` are for server `name`.
    pub fn remember(&self, addr: SocketAddr, name: &str) {
        let mut m = self.0.lock();
        if m.len() >= Self::CAPACITY && !m.contains_key(&addr) {
            m.clear();
        }
        if !m.get(&addr).is_some_and(|n| n.eq_ignore_ascii_case(name)) {
            m.insert(addr, name.to_ascii_lowercase().into());
        }
    }

    /// The server name for `addr`, if one was given.
    pub fn get(&self, addr: &SocketAddr) -> Option<std::sync::Arc<str>> {
        self.0.lock().get(addr).cloned()
    }
}

/// The TLS transport as the endpoint sends through it: by server name (SNI, and the
/// certificate checked against the name) when [`ServerNames`] has one for the
/// destination, else by address.
#[derive(Debug, Clone)]
pub struct NamedTls {
    /// The transport.
    pub inner: sipcore_tls::TlsTransport,
    /// Names by destination.
    pub names: std::sync::Arc<ServerNames>,
}

impl sipcore::transport::Transport for NamedTls {
    fn kind(&self) -> sipcore::transport::TransportKind {
        sipcore::transport::TransportKind::Tls
    }

    fn local_addr(&self) -> SocketAddr {
        sipcore::transport::Transport::local_addr(&self.inner)
    }

    fn send(
        &self,
        target: &sipcore::transport::Target,
        data: bytes::Bytes,
    ) -> Result<(), sipcore::transport::SendError> {
        match self.names.get(&target.addr) {
            Some(name) => self.inner.send_to(target.addr, Some(&name), data),
            None => sipcore::transport::Transport::send(&self.inner, target, data),
        }
    }

    fn send_response(
        &self,
        target: &sipcore::transport::Target,
        data: bytes::Bytes,
    ) -> Result<(), sipcore::transport::SendError> {
        sipcore::transport::Transport::send_response(&self.inner, target, data)
    }
}
