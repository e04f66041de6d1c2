//! Loopback tests of the stream-layer seam with a toy layer (no TLS here): a one-byte
//! hello handshake, then every byte XORed. They check what TLS relies on: messages sent
//! before the handshake wait and keep their order, the handshake is driven by reads and
//! its answer goes through the write queue, failures and the handshake timeout close,
//! count and report with the layer's transport kind.

#![allow(clippy::disallowed_methods, clippy::unwrap_used)] // loopback tests measure real time

mod common;

use std::any::Any;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use crossbeam_channel::unbounded;
use sipcore::transport::{ConnectionFailure, SendError, Target, Transport, TransportKind};
use sipcore_tcp::{LayerError, LayerFactory, StreamLayer, TcpConfig, TcpTransport};

const HELLO: u8 = b'H';
const KEY: u8 = 0x5a;

#[derive(Debug)]
struct Toy {
    client: bool,
    ready: bool,
}

impl StreamLayer for Toy {
    fn read_wire(
        &mut self,
        mut wire: &[u8],
        plain: &mut Vec<u8>,
        out: &mut Vec<u8>,
    ) -> Result<(), LayerError> {
        if !self.ready {
            let Some((&first, rest)) = wire.split_first() else {
                return Ok(());
            };
            if first != HELLO {
                out.push(b'!'); // an "alert"
                return Err(LayerError::new("toy: bad hello"));
            }
            if !self.client {
                out.push(HELLO);
            }
            self.ready = true;
            wire = rest;
        }
        plain.extend(wire.iter().map(|b| b ^ KEY));
        Ok(())
    }

    fn write_plain(&mut self, plain: &[u8], out: &mut Vec<u8>) -> Result<(), LayerError> {
        assert!(self.ready, "encoded before ready");
        out.extend(plain.iter().map(|b| b ^ KEY));
        Ok(())
    }

    fn poll_wire(&mut self, out: &mut Vec<u8>) {
        if self.client {
            out.push(HELLO);
        }
    }

    fn is_ready(&self) -> bool {
        self.ready
    }

    fn wire_len_bound(&self, len: usize) -> usize {
        len
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[derive(Debug)]
struct ToyFactory;

impl LayerFactory for ToyFactory {
    fn kind(&self) -> TransportKind {
        TransportKind::Tls
    }

    fn accept(&self, _: SocketAddr, _: SocketAddr) -> Result<Box<dyn StreamLayer>, LayerError> {
        Ok(Box::new(Toy {
            client: false,
            ready: false,
        }))
    }

    fn connect(&self, _: SocketAddr, _: Option<&str>) -> Result<Box<dyn StreamLayer>, LayerError> {
        Ok(Box::new(Toy {
            client: true,
            ready: false,
        }))
    }
}

fn start_toy(config: TcpConfig) -> Node {
    let (tx, rx) = unbounded();
    let (etx, events) = unbounded();
    let tcp = TcpTransport::start_layered(
        config,
        Arc::new(Inbox(tx)),
        Arc::new(EventLog(etx)),
        Arc::new(ToyFactory),
    )
    .unwrap();
    Node { tcp, rx, events }
}

fn xor(data: &[u8]) -> Vec<u8> {
    data.iter().map(|b| b ^ KEY).collect()
}

#[test]
fn messages_wait_for_the_handshake_in_order_and_go_out_encoded() {
    let server = start_toy(config());
    let client = start_toy(config());
    let to = Target::new(TransportKind::Tls, server.addr());
    for i in 0..5 {
        client.tcp.send(&to, request(&format!("m{i}"), "")).unwrap();
    }
    let mut source = None;
    for i in 0..5 {
        let got = server.recv();
        assert_eq!(call_id_of(&got.data).unwrap(), format!("m{i}"));
        assert_eq!(got.source.transport, TransportKind::Tls);
        source = Some(got.source);
    }
    // The answer goes back on the same connection, through the layer.
    server.tcp.send(&source.unwrap(), response("r1")).unwrap();
    let r = client.recv();
    assert_eq!(call_id_of(&r.data).unwrap(), "r1");
    assert!(client
        .tcp
        .with_layer(&server.addr(), |l| l.as_any().is::<Toy>())
        .unwrap());
    let (cs, ss) = (client.tcp.stats(), server.tcp.stats());
    assert_eq!((cs.handshakes, ss.handshakes), (1, 1));
    assert_eq!((cs.connect_attempts, ss.accepted), (1, 1));
    assert!(wait_for(|| client.tcp.stats().queued_bytes == 0));
    assert_eq!(cs.failures() + ss.failures(), 0);
    assert_eq!(
        client
            .tcp
            .send(&Target::tcp(server.addr()), request("x", "")),
        Err(SendError::NoTransport(TransportKind::Tcp))
    );
}

#[test]
fn a_raw_peer_sees_the_hello_and_xored_bytes() {
    let server = start_toy(config());
    let mut peer = TcpStream::connect(server.addr()).unwrap();
    let mut wire = vec![HELLO];
    wire.extend(xor(&request("raw1", "")));
    peer.write_all(&wire).unwrap();
    let got = server.recv();
    assert_eq!(call_id_of(&got.data).unwrap(), "raw1");
    // The server's hello answer came through the write queue (a direct write).
    peer.set_read_timeout(Some(WAIT)).unwrap();
    let mut hello = [0u8; 1];
    peer.read_exact(&mut hello).unwrap();
    assert_eq!(hello[0], HELLO);
    // A keep-alive ping through the layer is answered through the layer.
    peer.write_all(&xor(b"\r\n\r\n")).unwrap();
    let mut pong = [0u8; 2];
    peer.read_exact(&mut pong).unwrap();
    assert_eq!(xor(&pong), b"\r\n");
    // A response to the peer's address is encoded.
    let to = Target::new(TransportKind::Tls, peer.local_addr().unwrap());
    server.tcp.send(&to, response("raw1")).unwrap();
    let mut buf = vec![0u8; response("raw1").len()];
    peer.read_exact(&mut buf).unwrap();
    assert_eq!(xor(&buf), response("raw1").as_ref());
    assert_eq!(server.tcp.stats().handshakes, 1);
}

#[test]
fn a_bad_hello_is_a_reported_handshake_failure() {
    let server = start_toy(config());
    let mut peer = TcpStream::connect(server.addr()).unwrap();
    peer.write_all(b"INVITE").unwrap();
    let (_, target, err) = server.event();
    assert_eq!(target.transport, TransportKind::Tls);
    assert_eq!(target.addr, peer.local_addr().unwrap());
    assert_eq!(
        err,
        SendError::ConnectionFailed {
            addr: target.addr,
            cause: ConnectionFailure::Other,
            reason: "toy: bad hello"
        }
    );
    // The "alert" went out before the close.
    peer.set_read_timeout(Some(WAIT)).unwrap();
    let mut alert = [0u8; 1];
    assert_eq!(peer.read(&mut alert).unwrap(), 1);
    assert_eq!(alert[0], b'!');
    assert!(closed_by_peer(&mut peer));
    let s = server.tcp.stats();
    assert_eq!((s.handshake_failures, s.handshakes), (1, 0));
}

#[test]
fn a_silent_server_hits_the_handshake_timeout_and_the_send_is_reported() {
    let mut c = config();
    c.handshake_timeout = Duration::from_millis(300);
    let client = start_toy(c);
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let to = Target::new(TransportKind::Tls, silent.local_addr().unwrap());
    client.tcp.send(&to, request("waits", "")).unwrap();
    let (mut s, _) = silent.accept().unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    let mut hello = [0u8; 1];
    s.read_exact(&mut hello).unwrap();
    assert_eq!(hello[0], HELLO);
    let (_, target, err) = client.event();
    assert_eq!(target, to);
    assert_eq!(
        err,
        SendError::ConnectionFailed {
            addr: to.addr,
            cause: ConnectionFailure::Timeout,
            reason: "handshake timeout"
        }
    );
    assert_eq!(
        client.tcp.send(&to, request("again", "")),
        Err(SendError::Blacklisted(to.addr))
    );
    let st = client.tcp.stats();
    assert_eq!((st.handshake_timeouts, st.queued_bytes), (1, 0));
    // A pending message that would pass conn_wq_max closes the connection.
    let mut c = config();
    c.conn_wq_max = 1000;
    let client = start_toy(c);
    let silent2 = TcpListener::bind("127.0.0.1:0").unwrap();
    let to = Target::new(TransportKind::Tls, silent2.local_addr().unwrap());
    client.tcp.send(&to, request("a", "")).unwrap();
    assert_eq!(
        client.tcp.send(&to, request("b", &"x".repeat(900))),
        Err(SendError::ConnectionQueueFull)
    );
    assert_eq!(client.tcp.stats().queued_bytes, 0);
}

#[test]
fn a_failure_handler_may_send_on_the_failing_connection() {
    // Reports are made with no lock held (the layer's included): a handler that sends
    // again at once gets an error, not a deadlock.
    use sipcore::transport::TransportEvents;
    use std::sync::OnceLock;
    struct Resend(OnceLock<TcpTransport>, crossbeam_channel::Sender<SendError>);
    impl TransportEvents for Resend {
        fn on_transport_error(&self, target: Target, error: SendError) {
            if let Some(t) = self.0.get() {
                let again = t.send(&target, request("again", ""));
                let _ = self.1.send(error);
                let _ = self.1.send(again.unwrap_err());
            }
        }
    }
    let (tx, rx) = unbounded();
    let resend = Arc::new(Resend(OnceLock::new(), tx));
    let mut c = config();
    c.conn_wq_max = 1000;
    let (stx, _srx) = unbounded();
    let tcp = TcpTransport::start_layered(
        c,
        Arc::new(Inbox(stx)),
        resend.clone(),
        Arc::new(ToyFactory),
    )
    .unwrap();
    let _ = resend.0.set(tcp.clone());
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let to = Target::new(TransportKind::Tls, silent.local_addr().unwrap());
    tcp.send(&to, request("a", "")).unwrap();
    assert_eq!(
        tcp.send(&to, request("b", &"x".repeat(900))),
        Err(SendError::ConnectionQueueFull)
    );
    assert_eq!(
        rx.recv_timeout(WAIT).unwrap(),
        SendError::ConnectionQueueFull
    );
    assert_eq!(
        rx.recv_timeout(WAIT).unwrap(),
        SendError::Blacklisted(to.addr)
    );
    tcp.shutdown();
}
