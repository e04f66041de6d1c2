//! [`TlsConfig`]: the server side (certificates by SNI, client-certificate checks), the
//! client side (trust roots, client certificate) and the connection manager's limits.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use sipcore_tcp::TcpConfig;

/// PEM text: a file read when the configuration is (re)loaded, or bytes in memory.
#[derive(Clone)]
pub enum PemSource {
    /// A PEM file.
    File(PathBuf),
    /// PEM text in memory.
    Memory(Arc<[u8]>),
}

impl PemSource {
    /// A PEM file.
    pub fn file(path: impl Into<PathBuf>) -> PemSource {
        PemSource::File(path.into())
    }

    /// PEM text in memory.
    pub fn memory(pem: impl AsRef<[u8]>) -> PemSource {
        PemSource::Memory(Arc::from(pem.as_ref()))
    }

    /// Where it comes from, for error messages (never the content: it may be a key).
    pub fn describe(&self) -> String {
        match self {
            PemSource::File(p) => p.display().to_string(),
            PemSource::Memory(b) => format!("<{} bytes of PEM in memory>", b.len()),
        }
    }
}

impl fmt::Debug for PemSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

/// A certificate chain (end-entity first) and its private key, in PEM.
///
/// ```
/// use sipcore_tls::CertSource;
/// let from_files = CertSource::files("/etc/sip/example.com.crt", "/etc/sip/example.com.key");
/// assert!(format!("{from_files:?}").contains("example.com.key"));
/// ```
#[derive(Debug, Clone)]
pub struct CertSource {
    /// The certificate chain, end-entity certificate first.
    pub chain: PemSource,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PemSource,
}

impl CertSource {
    /// A chain and key from PEM files.
    pub fn files(chain: impl Into<PathBuf>, key: impl Into<PathBuf>) -> CertSource {
        CertSource {
            chain: PemSource::file(chain),
            key: PemSource::file(key),
        }
    }

    /// A chain and key from PEM text in memory.
    pub fn pem(chain: impl AsRef<[u8]>, key: impl AsRef<[u8]>) -> CertSource {
        CertSource {
            chain: PemSource::memory(chain),
            key: PemSource::memory(key),
        }
    }
}

/// Whether the server asks clients for a certificate.
#[derive(Debug, Clone, Default)]
pub enum ClientAuth {
    /// No client certificates (the default).
    #[default]
    Off,
    /// Ask for one; a client without one is accepted, a client whose certificate does not
    /// chain to the CA bundle is refused.
    Optional(PemSource),
    /// Require one that chains to the CA bundle (trunk authentication).
    Required(PemSource),
}

/// The server side: which certificate to present, chosen by the client's SNI name.
///
/// ```
/// use sipcore_tls::{CertSource, ServerTls};
/// let mut server = ServerTls::new(CertSource::files("default.crt", "default.key"));
/// server.domains.push(("sip.example.com".into(), CertSource::files("a.crt", "a.key")));
/// server.domains.push(("*.example.org".into(), CertSource::files("b.crt", "b.key")));
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ServerTls {
    /// The certificate for clients that send no SNI name, or a name without a certificate
    /// of its own. `None`: such handshakes fail (the client gets an alert).
    pub default_cert: Option<CertSource>,
    /// Per-domain certificates: an exact name (case-insensitive) or a wildcard
    /// `*.example.com` that matches one more label. An exact name wins over a wildcard.
    pub domains: Vec<(String, CertSource)>,
    /// Client-certificate verification. Default off.
    pub client_auth: ClientAuth,
}

impl ServerTls {
    /// A server side with a default certificate and no per-domain ones.
    pub fn new(default_cert: CertSource) -> ServerTls {
        ServerTls {
            default_cert: Some(default_cert),
            ..ServerTls::default()
        }
    }
}

/// The client side: what a server certificate must chain to, and the certificate this
/// side presents when a server asks.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientTls {
    /// The CA bundle server certificates must chain to. Without it (and with `verify`),
    /// outgoing connections fail with a clear error.
    pub roots: Option<PemSource>,
    /// Check the server certificate (chain to `roots`, validity dates, and the server
    /// name: the name given to [`TlsTransport::send_to`](crate::TlsTransport::send_to),
    /// or the IP address). Default on; off accepts any certificate (tests only: it
    /// authenticates nobody).
    pub verify: bool,
    /// The certificate presented when a server asks for one.
    pub cert: Option<CertSource>,
}

impl ClientTls {
    /// A client side that verifies servers against the CA bundle `roots`.
    ///
    /// ```
    /// use sipcore_tls::{ClientTls, PemSource};
    /// let client = ClientTls::with_roots(PemSource::file("/etc/ssl/certs/ca-certificates.crt"));
    /// assert!(client.verify);
    /// ```
    pub fn with_roots(roots: PemSource) -> ClientTls {
        ClientTls {
            roots: Some(roots),
            ..ClientTls::default()
        }
    }
}

impl Default for ClientTls {
    fn default() -> Self {
        ClientTls {
            roots: None,
            verify: true,
            cert: None,
        }
    }
}

/// How a [`TlsTransport`](crate::TlsTransport) behaves: the TLS sides and every limit of
/// the connection manager under it.
///
/// ```
/// use std::time::Duration;
/// use sipcore_tls::{CertSource, ServerTls, TlsConfig};
/// let mut config = TlsConfig::default();
/// config.tcp.listen.push("127.0.0.1:0".parse().unwrap());
/// config.server = Some(ServerTls::new(CertSource::files("sip.crt", "sip.key")));
/// config.handshake_timeout = Duration::from_secs(5);
/// assert!(config.tls12);
/// assert_eq!(config.tcp.conn_wq_max, 32 * 1024); // counts TLS bytes
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TlsConfig {
    /// The connection manager: listen addresses, workers, write-queue limits (they count
    /// TLS bytes: records, and messages waiting for a handshake), timeouts, blacklist.
    /// Its `handshake_timeout` is replaced by [`TlsConfig::handshake_timeout`].
    pub tcp: TcpConfig,
    /// The server side; `None` for a transport that only connects out (accepted
    /// connections are then closed at once).
    pub server: Option<ServerTls>,
    /// The client side.
    pub client: ClientTls,
    /// Longest time from accept (or the start of a connect) to a complete handshake.
    /// Expired: the connection is closed, reported (a 503 for the transactions waiting on
    /// it) and the peer blacklisted. Default 10 s.
    pub handshake_timeout: Duration,
    /// Offer TLS 1.2 as well as 1.3. Default on (many SIP peers still need 1.2).
    pub tls12: bool,
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            tcp: TcpConfig::default(),
            server: None,
            client: ClientTls::default(),
            handshake_timeout: Duration::from_secs(10),
            tls12: true,
        }
    }
}

/// A configuration that could not be loaded: nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A PEM source could not be read or parsed.
    #[error("{source_name}: {reason}")]
    Pem {
        /// Where it came from.
        source_name: String,
        /// What went wrong.
        reason: String,
    },
    /// A certificate and key were read but rustls refused them (key mismatch, unsupported
    /// key type, bad CA bundle).
    #[error("{what}: {reason}")]
    Rejected {
        /// Which certificate or bundle.
        what: String,
        /// rustls's reason.
        reason: String,
    },
    /// Starting the manager failed (binding a listener, spawning threads).
    #[error("starting the transport: {0}")]
    Io(std::io::ErrorKind),
}
