//! [`TlsTransport`]: the `sipcore-tcp` connection manager with a TLS layer on every
//! connection, and the live configuration that new connections take their layer from.

use std::borrow::Cow;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::RwLock;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ServerConfig};
use sipcore::transport::{
    ConnectionFailure, MessageSink, SendError, Target, Transport, TransportEvents, TransportKind,
};
use sipcore_tcp::{LayerError, LayerFactory, StreamLayer, TcpStats, TcpTransport};

use crate::certs;
use crate::config::{ClientAuth, ClientTls, ServerTls, TlsConfig, TlsError};
use crate::identity::PeerIdentity;
use crate::session::TlsSession;

/// A loaded server configuration and whether it verifies client certificates.
type Server = (Arc<ServerConfig>, bool);
/// A loaded client configuration and whether it verifies server certificates.
type Client = (Arc<ClientConfig>, bool);

/// The live configuration: each new connection takes the one in force (an `Arc` clone
/// under a read lock, once per connection); a reload swaps it, and connections already
/// open keep the one they started with.
#[derive(Debug)]
struct Layers {
    server: RwLock<Option<Server>>,
    client: RwLock<Option<Client>>,
    tls12: bool,
}

impl LayerFactory for Layers {
    fn kind(&self) -> TransportKind {
        TransportKind::Tls
    }

    fn accept(&self, _: SocketAddr, _: SocketAddr) -> Result<Box<dyn StreamLayer>, LayerError> {
        let Some((config, verifies)) = self.server.read().clone() else {
            return Err(LayerError::with_cause(
                ConnectionFailure::Tls,
                "tls: no server configuration",
            ));
        };
        Ok(Box::new(TlsSession::server(config, verifies)?))
    }

    fn connect(
        &self,
        peer: SocketAddr,
        name: Option<&str>,
    ) -> Result<Box<dyn StreamLayer>, LayerError> {
        let Some((config, verifies)) = self.client.read().clone() else {
            return Err(LayerError::with_cause(
                ConnectionFailure::Tls,
                "tls: no trust roots configured",
            ));
        };
        let server_name = match name {
            Some(n) => ServerName::try_from(n.to_owned()).map_err(|_| {
                LayerError::with_cause(ConnectionFailure::Tls, "tls: invalid server name")
            })?,
            None => ServerName::IpAddress(peer.ip().into()),
        };
        Ok(Box::new(TlsSession::client(config, server_name, verifies)?))
    }
}

fn load_server(server: &ServerTls, tls12: bool) -> Result<Server, TlsError> {
    let verifies = !matches!(server.client_auth, ClientAuth::Off);
    Ok((Arc::new(certs::server_config(server, tls12)?), verifies))
}

fn load_client(client: &ClientTls, tls12: bool) -> Result<Option<Client>, TlsError> {
    Ok(certs::client_config(client, tls12)?.map(|c| (Arc::new(c), client.verify)))
}

/// SIP over TLS: a cheap, cloneable handle to a `sipcore-tcp` connection manager whose
/// connections all run TLS.
///
/// Everything the TCP manager does holds (supervisor and workers, direct write else
/// queue, `conn_wq_max`/`wq_max` counting TLS bytes, timeouts, failure reports and the
/// blacklist); on top: a handshake timeout, per-domain certificates by SNI, live reload,
/// optional client certificates, and connection reuse by peer address and server name.
///
/// # Examples
///
/// A server and a client on loopback, with a certificate made for the test:
///
/// ```
/// use std::sync::{mpsc, Arc, Mutex};
/// use sipcore::transport::{MessageSink, Received, Target, Transport, TransportKind};
/// use sipcore_tls::{CertSource, ClientTls, PemSource, ServerTls, TlsConfig, TlsTransport};
///
/// struct Inbox(Mutex<mpsc::Sender<Received>>);
/// impl MessageSink for Inbox {
///     fn on_received(&self, r: Received) {
///         let _ = self.0.lock().unwrap().send(r);
///     }
/// }
///
/// let cert = rcgen::generate_simple_self_signed(vec!["sip.example.com".into()]).unwrap();
/// let (cert_pem, key_pem) = (cert.cert.pem(), cert.signing_key.serialize_pem());
///
/// let mut config = TlsConfig::default();
/// config.tcp.listen.push("127.0.0.1:0".parse().unwrap());
/// config.server = Some(ServerTls::new(CertSource::pem(&cert_pem, &key_pem)));
/// let (tx, rx) = mpsc::channel();
/// let server = TlsTransport::start(config, Arc::new(Inbox(Mutex::new(tx))), Arc::new(()))?;
///
/// let mut config = TlsConfig::default();
/// config.client.roots = Some(PemSource::memory(&cert_pem)); // trust the self-signed cert
/// let client = TlsTransport::start(config, Arc::new(Inbox(Mutex::new(mpsc::channel().0))), Arc::new(()))?;
///
/// let msg = bytes::Bytes::from_static(
///     b"OPTIONS sips:a@sip.example.com SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1;branch=z9hG4bK1\r\nContent-Length: 0\r\n\r\n");
/// // sips:...@sip.example.com resolved to the server's address; the name is the SNI.
/// client.send_to(server.local_addr(), Some("sip.example.com"), msg.clone())?;
/// let got = rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
/// assert_eq!(got.data, msg);
/// assert_eq!(got.source.transport, TransportKind::Tls);
/// let who = server.peer_identity(&got.source.addr).unwrap();
/// assert_eq!(who.server_name.as_deref(), Some("sip.example.com"));
/// client.shutdown();
/// server.shutdown();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct TlsTransport {
    tcp: TcpTransport,
    layers: Arc<Layers>,
}

impl fmt::Debug for TlsTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsTransport")
            .field("listeners", &self.tcp.listeners())
            .finish_non_exhaustive()
    }
}

impl TlsTransport {
    /// Loads the certificates and starts the manager (supervisor and workers), listening
    /// on `config.tcp.listen`. Received messages go to `sink` (on a worker thread, in
    /// order per connection) with `TransportKind::Tls` sources; failures, handshake
    /// failures and timeouts included, go to `events` at once.
    pub fn start(
        config: TlsConfig,
        sink: Arc<dyn MessageSink>,
        events: Arc<dyn TransportEvents>,
    ) -> Result<TlsTransport, TlsError> {
        let tls12 = config.tls12;
        let server = config
            .server
            .as_ref()
            .map(|s| load_server(s, tls12))
            .transpose()?;
        let client = load_client(&config.client, tls12)?;
        let layers = Arc::new(Layers {
            server: RwLock::new(server),
            client: RwLock::new(client),
            tls12,
        });
        let mut tcp_config = config.tcp;
        tcp_config.handshake_timeout = config.handshake_timeout;
        let tcp = TcpTransport::start_layered(tcp_config, sink, events, layers.clone())
            .map_err(|e| TlsError::Io(e.kind()))?;
        Ok(TlsTransport { tcp, layers })
    }

    /// Replaces the server configuration (certificates, SNI map, client-certificate
    /// checks) for connections accepted from now on; open connections keep theirs and
    /// are not dropped. The files are read now: on error nothing changes. The proxy
    /// calls this on a signal or when the files change.
    pub fn reload(&self, server: ServerTls) -> Result<(), TlsError> {
        let loaded = load_server(&server, self.layers.tls12)?;
        *self.layers.server.write() = Some(loaded);
        Ok(())
    }

    /// Replaces the client configuration (trust roots, client certificate) for
    /// connections opened from now on.
    pub fn reload_client(&self, client: ClientTls) -> Result<(), TlsError> {
        let loaded = load_client(&client, self.layers.tls12)?;
        *self.layers.client.write() = loaded;
        Ok(())
    }

    /// Listens on `addr` too (port 0 picks a free port); returns the bound address.
    pub fn listen(&self, addr: SocketAddr) -> std::io::Result<SocketAddr> {
        self.tcp.listen(addr)
    }

    /// The addresses listened on, in order.
    pub fn listeners(&self) -> Vec<SocketAddr> {
        self.tcp.listeners()
    }

    /// Sends a message to `addr` for the server `name` (from a `sips:` URI or a
    /// `transport=tls` one: the host, after it was resolved to `addr`): on the connection
    /// opened to `addr` for that name, else on a new one that sends `name` as SNI and
    /// checks the server certificate against it. A name that is an IP address (or
    /// `None`) connects by address, and the certificate must name the address.
    /// Names are compared case-insensitively.
    pub fn send_to(
        &self,
        addr: SocketAddr,
        name: Option<&str>,
        data: Bytes,
    ) -> Result<(), SendError> {
        let name = name.filter(|n| n.parse::<IpAddr>().is_err()).map(|n| {
            if n.bytes().any(|b| b.is_ascii_uppercase()) {
                Cow::Owned(n.to_ascii_lowercase())
            } else {
                Cow::Borrowed(n)
            }
        });
        self.tcp.send_to(addr, name.as_deref(), data)
    }

    /// Sends a response on the connection its request came on (`source`, the request's
    /// `Received::source` address), else per RFC 3261 §18.2.2 to the top Via's
    /// `received`/sent-by address (port 5061 by default for TLS).
    pub fn send_response(&self, source: SocketAddr, response: Bytes) -> Result<(), SendError> {
        self.tcp.send_response(source, response)
    }

    /// Who is at the other end of the connection to (or from) `addr`, once its
    /// handshake is complete: the client certificate on a server (trunk authentication),
    /// the server certificate on a client.
    pub fn peer_identity(&self, addr: &SocketAddr) -> Option<PeerIdentity> {
        self.tcp.with_layer(addr, identity_of).flatten()
    }

    /// Like [`peer_identity`](Self::peer_identity) for the connection to `addr` opened
    /// for server `name`.
    pub fn peer_identity_named(&self, addr: &SocketAddr, name: &str) -> Option<PeerIdentity> {
        self.tcp.with_named_layer(addr, name, identity_of).flatten()
    }

    /// Whether a connection to (or from) `addr` is open.
    pub fn has_connection(&self, addr: &SocketAddr) -> bool {
        self.tcp.has_connection(addr)
    }

    /// A snapshot of the counters: the TCP manager's, with `handshakes`,
    /// `handshake_failures`, `handshake_timeouts` and `layer_errors` for TLS; byte
    /// counters and `queued_bytes` count TLS bytes.
    pub fn stats(&self) -> TcpStats {
        self.tcp.stats()
    }

    /// The connection manager under the TLS layer.
    pub fn tcp(&self) -> &TcpTransport {
        &self.tcp
    }

    /// Stops the threads, closing every connection (with a `close_notify` where the
    /// socket takes it at once), and waits for them. Later sends fail with
    /// [`SendError::Closed`].
    pub fn shutdown(&self) {
        self.tcp.shutdown();
    }
}

fn identity_of(layer: &dyn StreamLayer) -> Option<PeerIdentity> {
    layer
        .as_any()
        .downcast_ref::<TlsSession>()
        .and_then(TlsSession::identity)
}

impl Transport for TlsTransport {
    fn kind(&self) -> TransportKind {
        TransportKind::Tls
    }

    /// The first listener's address (`0.0.0.0:0` when not listening).
    fn local_addr(&self) -> SocketAddr {
        self.tcp.local_addr()
    }

    /// Sends to `target.addr` (a `Tls` target) by address: on the connection to or from
    /// it, else a new one whose server certificate must name the address. Use
    /// [`send_to`](TlsTransport::send_to) to connect by server name.
    fn send(&self, target: &Target, data: Bytes) -> Result<(), SendError> {
        self.tcp.send(target, data)
    }

    /// RFC 3261 §18.2.2: the request's connection, else the Via address.
    fn send_response(&self, target: &Target, data: Bytes) -> Result<(), SendError> {
        TlsTransport::send_response(self, target.addr, data)
    }
}
