//! Helpers shared by the loopback tests: a sink and an event log on channels, raw peers,
//! requests with a Call-ID, bounded waits.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::disallowed_methods)] // loopback tests measure real time

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use crossbeam_channel::{unbounded, Receiver, Sender};
use sipcore::transport::{MessageSink, Received, SendError, Target, Transport, TransportEvents};
use sipcore_tcp::{TcpConfig, TcpTransport};

/// Longest any single wait in a test may take.
pub const WAIT: Duration = Duration::from_secs(10);

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
    pub tcp: TcpTransport,
    pub rx: Receiver<Received>,
    pub events: Receiver<(Instant, Target, SendError)>,
}

impl Node {
    pub fn addr(&self) -> SocketAddr {
        self.tcp.local_addr()
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

/// A config listening on loopback with small test-friendly defaults.
pub fn config() -> TcpConfig {
    let mut c = TcpConfig::default();
    c.listen.push("127.0.0.1:0".parse().unwrap());
    c.workers = 2;
    c
}

pub fn start(config: TcpConfig) -> Node {
    let (tx, rx) = unbounded();
    let (etx, events) = unbounded();
    let tcp = TcpTransport::start(config, Arc::new(Inbox(tx)), Arc::new(EventLog(etx))).unwrap();
    Node { tcp, rx, events }
}

/// A node whose sink answers every request with a 200 carrying the request's Call-ID,
/// sent to the request's source (so on the connection it came on).
pub fn start_echo(config: TcpConfig) -> (TcpTransport, Receiver<(Instant, Target, SendError)>) {
    struct Echo(OnceLock<TcpTransport>);
    impl MessageSink for Echo {
        fn on_received(&self, r: Received) {
            if let Some(tcp) = self.0.get() {
                let call_id = call_id_of(&r.data).unwrap_or_default();
                let _ = tcp.send(&r.source, response(&call_id));
            }
        }
    }
    let echo = Arc::new(Echo(OnceLock::new()));
    let (etx, events) = unbounded();
    let tcp = TcpTransport::start(config, echo.clone(), Arc::new(EventLog(etx))).unwrap();
    let _ = echo.0.set(tcp.clone());
    (tcp, events)
}

pub fn request(call_id: &str, body: &str) -> Bytes {
    Bytes::from(format!(
        "OPTIONS sip:bob@example.com SIP/2.0\r\n\
         Via: SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bK{call_id}\r\n\
         From: <sip:alice@example.com>;tag=1\r\n\
         To: <sip:bob@example.com>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 OPTIONS\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    ))
}

pub fn response(call_id: &str) -> Bytes {
    Bytes::from(format!(
        "SIP/2.0 200 OK\r\n\
         Via: SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bK{call_id}\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 OPTIONS\r\n\
         Content-Length: 0\r\n\r\n"
    ))
}

pub fn call_id_of(data: &[u8]) -> Option<String> {
    let m = sipcore::message::Message::parse(Bytes::copy_from_slice(data)).ok()?;
    m.call_id().ok().map(str::to_owned)
}

/// Reads one Content-Length framed message (no body) from a blocking stream.
pub fn read_message(s: &mut TcpStream) -> Vec<u8> {
    s.set_read_timeout(Some(WAIT)).unwrap();
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

/// Whether the peer closed the stream (EOF or reset) within the wait.
pub fn closed_by_peer(s: &mut TcpStream) -> bool {
    s.set_read_timeout(Some(WAIT)).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                return false
            }
            Err(_) => return true,
        }
    }
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

/// A listener whose accepted sockets have a tiny receive buffer, so a peer that never
/// reads fills up after a few KiB.
pub fn tiny_listener() -> TcpListener {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    s.set_recv_buffer_size(4096).unwrap();
    s.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    s.listen(16).unwrap();
    s.into()
}

/// Accepts in a background thread and keeps the streams (never reading) until dropped.
pub struct SlowPeer {
    pub addr: SocketAddr,
    keep: Arc<Mutex<Vec<TcpStream>>>,
    _listener: Arc<TcpListener>,
}

impl SlowPeer {
    pub fn new() -> SlowPeer {
        let l = Arc::new(tiny_listener());
        let addr = l.local_addr().unwrap();
        let keep = Arc::new(Mutex::new(Vec::new()));
        let (l2, k2) = (l.clone(), keep.clone());
        std::thread::spawn(move || {
            while let Ok((s, _)) = l2.accept() {
                k2.lock().unwrap().push(s);
            }
        });
        SlowPeer {
            addr,
            keep,
            _listener: l,
        }
    }
}

/// Writes `data` on a raw stream.
pub fn write(s: &mut TcpStream, data: &[u8]) {
    s.write_all(data).unwrap();
}
