//! Helpers for the loopback tests: a test PKI made at test time with rcgen (no committed
//! keys), nodes whose sink and event handler are channels, an echo node, SIP messages,
//! and a blocking rustls client for raw peers.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::disallowed_methods)] // loopback tests measure real time

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use crossbeam_channel::{unbounded, Receiver, Sender};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use sipcore::transport::{MessageSink, Received, SendError, Target, TransportEvents};
use sipcore_tls::{CertSource, ClientTls, PemSource, ServerTls, TlsConfig, TlsTransport};

/// Longest any single wait in a test may take.
pub const WAIT: Duration = Duration::from_secs(10);

/// A certificate authority made for one test.
pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pub pem: String,
}

/// A certificate chain and key in PEM.
#[derive(Clone)]
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
    pub der: Vec<u8>,
}

impl Issued {
    pub fn source(&self) -> CertSource {
        CertSource::pem(&self.cert_pem, &self.key_pem)
    }
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, format!("{name} test CA"));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Ca {
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    fn issue_with(&self, names: &[&str], edit: impl FnOnce(&mut CertificateParams)) -> Issued {
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let mut params = CertificateParams::new(names.clone()).unwrap();
        params.distinguished_name.push(
            DnType::CommonName,
            names.first().cloned().unwrap_or_default(),
        );
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        edit(&mut params);
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().to_vec(),
        }
    }

    /// A certificate for `names` (DNS names or IP addresses).
    pub fn issue(&self, names: &[&str]) -> Issued {
        self.issue_with(names, |_| {})
    }

    /// A certificate that expired in 2001.
    pub fn issue_expired(&self, names: &[&str]) -> Issued {
        self.issue_with(names, |p| {
            p.not_before = rcgen::date_time_ymd(2000, 1, 1);
            p.not_after = rcgen::date_time_ymd(2001, 1, 1);
        })
    }

    /// A certificate with `extra` more names, to make a large Certificate message.
    pub fn issue_large(&self, name: &str, extra: usize) -> Issued {
        let mut names = vec![name.to_string()];
        names.extend((0..extra).map(|i| format!("padding-host-{i:05}.example.invalid")));
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        self.issue(&refs)
    }

    pub fn roots(&self) -> PemSource {
        PemSource::memory(&self.pem)
    }
}

pub struct Inbox(pub Sender<Received>);
impl MessageSink for Inbox {
    fn on_received(&self, r: Received) {
        let _ = self.0.send(r);
    }
}

pub struct EventLog(pub Sender<(Instant, Target, SendError)>);
impl TransportEvents for EventLog {
    fn on_transport_error(&self, target: Target, error: SendError) {
        let _ = self.0.send((Instant::now(), target, error));
    }
}

pub struct Node {
    pub tls: TlsTransport,
    pub rx: Receiver<Received>,
    pub events: Receiver<(Instant, Target, SendError)>,
}

impl Node {
    pub fn addr(&self) -> SocketAddr {
        sipcore::transport::Transport::local_addr(&self.tls)
    }

    pub fn recv(&self) -> Received {
        self.rx
            .recv_timeout(WAIT)
            .expect("a message within the wait")
    }

    pub fn event(&self) -> (Instant, Target, SendError) {
        self.events
            .recv_timeout(WAIT)
            .expect("an event within the wait")
    }
}

/// A server config listening on loopback with `cert` as its default certificate, and a
/// client side that trusts `ca`.
pub fn server_config(cert: &Issued, ca: &Ca) -> TlsConfig {
    let mut c = client_config(ca);
    c.tcp.listen.push("127.0.0.1:0".parse().unwrap());
    c.server = Some(ServerTls::new(cert.source()));
    c
}

/// A client-only config that trusts `ca`.
pub fn client_config(ca: &Ca) -> TlsConfig {
    let mut c = TlsConfig::default();
    c.tcp.workers = 2;
    c.client = ClientTls::with_roots(ca.roots());
    c
}

pub fn start(config: TlsConfig) -> Node {
    let (tx, rx) = unbounded();
    let (etx, events) = unbounded();
    let tls = TlsTransport::start(config, Arc::new(Inbox(tx)), Arc::new(EventLog(etx))).unwrap();
    Node { tls, rx, events }
}

/// A node whose sink answers every request with a 200 carrying the request's Call-ID, on
/// the connection it came on, and forwards every message to `rx` too.
pub fn start_echo(config: TlsConfig) -> Node {
    struct Echo(OnceLock<TlsTransport>, Sender<Received>);
    impl MessageSink for Echo {
        fn on_received(&self, r: Received) {
            if let Some(tls) = self.0.get() {
                if !r.data.starts_with(b"SIP/2.0") {
                    let call_id = call_id_of(&r.data).unwrap_or_default();
                    let _ = sipcore::transport::Transport::send(tls, &r.source, response(&call_id));
                }
            }
            let _ = self.1.send(r);
        }
    }
    let (tx, rx) = unbounded();
    let echo = Arc::new(Echo(OnceLock::new(), tx));
    let (etx, events) = unbounded();
    let tls = TlsTransport::start(config, echo.clone(), Arc::new(EventLog(etx))).unwrap();
    let _ = echo.0.set(tls.clone());
    Node { tls, rx, events }
}

pub fn request(call_id: &str, body: &str) -> Bytes {
    Bytes::from(format!(
        "OPTIONS sips:bob@example.com SIP/2.0\r\n\
         Via: SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bK{call_id}\r\n\
         From: <sips:alice@example.com>;tag=1\r\n\
         To: <sips:bob@example.com>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 OPTIONS\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    ))
}

pub fn response(call_id: &str) -> Bytes {
    Bytes::from(format!(
        "SIP/2.0 200 OK\r\n\
         Via: SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bK{call_id}\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 OPTIONS\r\n\
         Content-Length: 0\r\n\r\n"
    ))
}

pub fn call_id_of(data: &[u8]) -> Option<String> {
    let m = sipcore::message::Message::parse(Bytes::copy_from_slice(data)).ok()?;
    m.call_id().ok().map(str::to_owned)
}

/// Waits until `f` holds, for at most [`WAIT`].
pub fn wait_for(mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + WAIT;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    f()
}

/// Whether the peer closed the stream (EOF or reset) within the wait; what it sent first
/// is returned too.
pub fn read_to_close(s: &mut TcpStream) -> (bool, Vec<u8>) {
    s.set_read_timeout(Some(WAIT)).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (true, got),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                return (false, got)
            }
            Err(_) => return (true, got),
        }
    }
}

/// A rustls client config for raw test peers, trusting `ca`.
pub fn raw_client_config(ca: &Ca) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    let der = rustls::pki_types::CertificateDer::from_pem_slice(ca.pem.as_bytes()).unwrap();
    roots.add(der).unwrap();
    Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth(),
    )
}

use rustls::pki_types::pem::PemObject;

/// A blocking TLS client over a std socket (an independent peer, in the test thread).
pub type RawTls = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

pub fn raw_tls(ca: &Ca, addr: SocketAddr, name: &str) -> RawTls {
    let conn = rustls::ClientConnection::new(
        raw_client_config(ca),
        rustls::pki_types::ServerName::try_from(name.to_string()).unwrap(),
    )
    .unwrap();
    let sock = TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(WAIT)).unwrap();
    rustls::StreamOwned::new(conn, sock)
}

/// Reads one header-only message (ends with an empty line) from a blocking stream.
pub fn read_message(s: &mut impl Read) -> Vec<u8> {
    let mut out = Vec::new();
    let mut b = [0u8; 1];
    while !out.ends_with(b"\r\n\r\n") {
        match s.read(&mut b) {
            Ok(1) => out.push(b[0]),
            other => panic!(
                "stream ended after {:?}: {other:?}",
                String::from_utf8_lossy(&out)
            ),
        }
    }
    out
}

pub fn write(s: &mut impl Write, data: &[u8]) {
    s.write_all(data).unwrap();
    s.flush().unwrap();
}
