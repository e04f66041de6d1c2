//! TLS through the proxy (the installed sipp has no TLS, so no sipp here): a client on
//! `sipcore_tls` calls over TLS, the proxy forwards to a small UDP responder and
//! record-routes twice (TLS and UDP); ACK and BYE follow the route set back across the
//! transports. A TLS gateway with an untrusted certificate is a 503 upstream at once.
//! Certificates are made at test time with rcgen.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

mod common;

use common::responder::{headers, UdpResponder};

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use crossbeam_channel::{unbounded, Receiver, Sender};
use sipcore::transport::{MessageSink, Received, TransportKind};
use sipcore_examples::config::Config;
use sipcore_examples::server::{self, StartError};
use sipcore_tls::{CertSource, PemSource, ServerTls, TlsConfig, TlsTransport};

/// Longest wait for any one message (far below Timer B's 32 s: a 503 that arrives
/// within it came from the transport failure, not from a timeout).
const WAIT: Duration = Duration::from_secs(10);

/// A self-signed certificate for 127.0.0.1, written to `dir` as `<name>.crt/.key`.
struct Cert {
    pem: String,
    cert_file: String,
    key_file: String,
}

fn cert(dir: &common::Dir, name: &str) -> Cert {
    let c = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).unwrap();
    let (pem, key) = (c.cert.pem(), c.signing_key.serialize_pem());
    let cert_file = dir.0.join(format!("{name}.crt"));
    let key_file = dir.0.join(format!("{name}.key"));
    std::fs::write(&cert_file, &pem).unwrap();
    std::fs::write(&key_file, key).unwrap();
    Cert {
        pem,
        cert_file: cert_file.display().to_string(),
        key_file: key_file.display().to_string(),
    }
}

struct Inbox(Sender<Received>);
impl MessageSink for Inbox {
    fn on_received(&self, r: Received) {
        let _ = self.0.send(r);
    }
}

/// A TLS client (no listener) trusting `roots`; what it receives goes to the channel.
fn tls_client(roots: &str) -> (TlsTransport, Receiver<Received>) {
    let (tx, rx) = unbounded();
    let mut config = TlsConfig::default();
    config.client.roots = Some(PemSource::memory(roots));
    let t = TlsTransport::start(config, Arc::new(Inbox(tx)), Arc::new(())).unwrap();
    (t, rx)
}

/// Every Record-Route value of `msg`, in order (lines split at commas).
fn record_routes(msg: &str) -> Vec<String> {
    headers(msg, "Record-Route")
        .iter()
        .flat_map(|v| v.split(','))
        .map(|v| v.trim().to_string())
        .collect()
}

/// A UDP UAS: answers INVITE and BYE with 200 (Record-Route copied, a Contact of its
/// own), absorbs ACK, and reports every request it received.
struct Uas {
    responder: UdpResponder,
    got: Receiver<String>,
}

impl Uas {
    fn start() -> Uas {
        let (tx, got) = unbounded();
        let responder = UdpResponder::start(move |text, addr| {
            let _ = tx.send(text.to_string());
            let method = text.split(' ').next().unwrap_or_default();
            if !matches!(method, "INVITE" | "BYE") {
                return None;
            }
            let mut r = String::from("SIP/2.0 200 OK\r\n");
            for v in headers(text, "Via") {
                r.push_str(&format!("Via: {v}\r\n"));
            }
            if method == "INVITE" {
                for v in headers(text, "Record-Route") {
                    r.push_str(&format!("Record-Route: {v}\r\n"));
                }
            }
            let to = headers(text, "To")[0];
            let to = if to.contains(";tag=") {
                to.to_string()
            } else {
                format!("{to};tag=uas")
            };
            r.push_str(&format!(
                "From: {}\r\nTo: {to}\r\nCall-ID: {}\r\nCSeq: {}\r\nContact: <sip:uas@{addr}>\r\nContent-Length: 0\r\n\r\n",
                headers(text, "From")[0],
                headers(text, "Call-ID")[0],
                headers(text, "CSeq")[0],
            ));
            Some(r)
        });
        Uas { responder, got }
    }

    fn addr(&self) -> SocketAddr {
        self.responder.addr
    }

    /// The next request it received.
    fn next(&self) -> String {
        self.got.recv_timeout(WAIT).expect("a request at the UAS")
    }
}

/// The next final response the TLS client received, with its source.
fn final_response(rx: &Receiver<Received>) -> (String, Received) {
    loop {
        let r = rx.recv_timeout(WAIT).expect("a response over TLS");
        let text = String::from_utf8_lossy(&r.data).into_owned();
        if !text.starts_with("SIP/2.0 1") {
            return (text, r);
        }
    }
}

fn request(
    method: &str,
    uri: &str,
    branch: &str,
    cseq: u32,
    to_tag: &str,
    routes: &[String],
) -> Bytes {
    let mut m = format!(
        "{method} {uri} SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bK{branch}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:alice@127.0.0.1>;tag=alice\r\nTo: <sip:+1555@127.0.0.1>{to_tag}\r\n\
         Call-ID: tls-call-1\r\nCSeq: {cseq} {method}\r\nContact: <sip:alice@127.0.0.1:5999;transport=tls>\r\n"
    );
    for r in routes {
        m.push_str(&format!("Route: {r}\r\n"));
    }
    m.push_str("Content-Length: 0\r\n\r\n");
    Bytes::from(m)
}

fn metrics_page(addr: SocketAddr) -> String {
    let mut c = TcpStream::connect(addr).unwrap();
    c.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").unwrap();
    let mut page = String::new();
    c.read_to_string(&mut page).unwrap();
    page
}

/// INVITE over TLS to a UDP UAS and back; ACK and BYE over the record-routed path.
#[test]
fn call_over_tls_to_a_udp_uas_and_back() {
    let dir = common::Dir::new("tls-call");
    let proxy_cert = cert(&dir, "proxy");
    let uas = Uas::start();
    let px = common::proxy(&format!(
        "[server]\nlisten = [\"udp:127.0.0.1:0\", \"tls:127.0.0.1:0\"]\n[acl]\ntrusted = [\"127.0.0.1\"]\n\
         [tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\n\
         [metrics]\nlisten = \"127.0.0.1:0\"\n\
         [[routes.prefix]]\nprefix = \"+1\"\ngateways = [{{ address = \"{}\", transport = \"udp\" }}]\n",
        proxy_cert.cert_file, proxy_cert.key_file, uas.addr()
    ));
    let tls_addr = px.tls.as_ref().unwrap().listeners()[0];
    let udp_addr = px.udp[0];
    let (client, rx) = tls_client(&proxy_cert.pem);

    let invite = request(
        "INVITE",
        &format!("sip:+1555@{tls_addr};transport=tls"),
        "inv1",
        1,
        "",
        &[],
    );
    client.send_to(tls_addr, None, invite).unwrap();

    // The UAS got it over UDP, record-routed on both sides of the proxy.
    let fwd = uas.next();
    assert!(fwd.starts_with("INVITE sip:+1555@"), "{fwd}");
    assert!(headers(&fwd, "Via")[0].starts_with("SIP/2.0/UDP"), "{fwd}");
    let rr = record_routes(&fwd);
    assert_eq!(
        rr,
        vec![
            format!("<sip:{udp_addr};lr>"),
            format!("<sip:{tls_addr};transport=tls;lr>"),
        ],
        "{fwd}"
    );

    // Its 200 came back over TLS, on the connection the INVITE came on.
    let (ok, got) = final_response(&rx);
    assert!(ok.starts_with("SIP/2.0 200"), "{ok}");
    assert_eq!(got.source.transport, TransportKind::Tls);
    assert_eq!(got.source.addr, tls_addr);
    assert_eq!(record_routes(&ok), rr);
    assert_eq!(headers(&ok, "Via").len(), 1, "{ok}");

    // The caller's route set is the Record-Route reversed: TLS hop first.
    let routes: Vec<String> = rr.iter().rev().cloned().collect();
    let contact = headers(&ok, "Contact")[0]
        .trim_matches(|c| c == '<' || c == '>')
        .to_string();
    let ack = request("ACK", &contact, "ack1", 1, ";tag=uas", &routes);
    client.send_to(tls_addr, None, ack).unwrap();
    let acked = uas.next();
    assert!(acked.starts_with(&format!("ACK {contact} ")), "{acked}");
    assert!(headers(&acked, "Route").is_empty(), "{acked}");

    let bye = request("BYE", &contact, "bye1", 2, ";tag=uas", &routes);
    client.send_to(tls_addr, None, bye).unwrap();
    let byed = uas.next();
    assert!(byed.starts_with(&format!("BYE {contact} ")), "{byed}");
    let (ok, got) = final_response(&rx);
    assert!(
        ok.starts_with("SIP/2.0 200") && ok.contains("CSeq: 2 BYE"),
        "{ok}"
    );
    assert_eq!(got.source.transport, TransportKind::Tls);

    // The TLS figures are on the metrics page.
    let page = metrics_page(px.metrics.unwrap());
    assert!(page.contains("\nsipcore_tls_connections 1\n"), "{page}");
    assert!(
        page.contains("sipcore_tls_connections_by_direction{direction=\"inbound\"} 1\n"),
        "{page}"
    );
    assert!(page.contains("\nsipcore_tls_queued_bytes "), "{page}");
    assert!(
        page.contains("sipcore_tls_events_total{event=\"handshakes\"} 1\n"),
        "{page}"
    );
    assert!(
        page.contains("sipcore_tls_events_total{event=\"accepted\"} 1\n"),
        "{page}"
    );

    client.shutdown();
    px.shutdown();
}

/// A gateway reached over TLS whose certificate the proxy does not trust: the handshake
/// fails and the caller (over UDP) gets 503 at once, not 408 after Timer B.
#[test]
fn untrusted_tls_gateway_is_a_503_upstream() {
    let dir = common::Dir::new("tls-untrusted");
    let trusted = cert(&dir, "trusted");
    let stranger = cert(&dir, "stranger");
    let mut gw_cfg = TlsConfig::default();
    gw_cfg.tcp.listen.push("127.0.0.1:0".parse().unwrap());
    gw_cfg.server = Some(ServerTls::new(CertSource::files(
        &stranger.cert_file,
        &stranger.key_file,
    )));
    let gw = TlsTransport::start(gw_cfg, Arc::new(Inbox(unbounded().0)), Arc::new(())).unwrap();
    let gw_addr = gw.listeners()[0];

    let px = common::proxy(&format!(
        "[server]\nlisten = [\"udp:127.0.0.1:0\"]\n[acl]\ntrusted = [\"127.0.0.1\"]\n\
         [tls]\nca_file = \"{}\"\n\
         [[routes.prefix]]\nprefix = \"+1\"\ngateways = [{{ address = \"{gw_addr}\", transport = \"tls\" }}]\n",
        trusted.cert_file
    ));
    let p = px.udp[0];
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    let me = s.local_addr().unwrap();
    let invite = format!(
        "INVITE sip:+1555@{p} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKuntrusted\r\n\
         Max-Forwards: 70\r\nFrom: <sip:alice@127.0.0.1>;tag=a\r\nTo: <sip:+1555@127.0.0.1>\r\n\
         Call-ID: tls-untrusted\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
    );
    s.send_to(invite.as_bytes(), p).unwrap();
    let mut buf = [0u8; 4096];
    let answer = loop {
        let (n, _) = s.recv_from(&mut buf).expect("a final response");
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        if !text.starts_with("SIP/2.0 1") {
            break text;
        }
    };
    assert!(answer.starts_with("SIP/2.0 503"), "{answer}");
    let ack = format!(
        "ACK sip:+1555@{p} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKuntrusted\r\n\
         Max-Forwards: 70\r\nFrom: <sip:alice@127.0.0.1>;tag=a\r\nTo: {}\r\n\
         Call-ID: tls-untrusted\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
        headers(&answer, "To")[0]
    );
    s.send_to(ack.as_bytes(), p).unwrap();
    let stats = px.tls.as_ref().unwrap().stats();
    assert_eq!(stats.handshake_failures, 1, "{stats:?}");
    assert_eq!(gw.stats().messages_received, 0);
    gw.shutdown();
    px.shutdown();
}

/// Certificate problems are configuration errors naming the key and the file: at
/// check time for a missing or non-PEM file, at start for a key that does not belong
/// to its certificate.
#[test]
fn certificate_errors_name_the_key_and_the_file() {
    let dir = common::Dir::new("tls-config");
    let a = cert(&dir, "a");
    let b = cert(&dir, "b");
    let with = |cert_file: &str, key_file: &str| {
        format!(
            "[server]\nlisten = [\"tls:127.0.0.1:0\"]\n[tls]\ncert_file = \"{cert_file}\"\nkey_file = \"{key_file}\"\n"
        )
    };

    let e = Config::parse("[server]\nlisten = [\"tls:127.0.0.1:0\"]\n")
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("tls.cert_file:"), "{e}");

    let missing = dir.0.join("missing.crt").display().to_string();
    let e = Config::parse(&with(&missing, &a.key_file))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("tls.cert_file (line 4): ") && e.contains(&missing),
        "{e}"
    );

    // A certificate where the key should be.
    let e = Config::parse(&with(&a.cert_file, &a.cert_file))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("tls.key_file (line 5): ") && e.contains(&a.cert_file),
        "{e}"
    );

    // b's key with a's certificate: PEM fine, refused by rustls at start.
    let cfg = Config::parse(&with(&a.cert_file, &b.key_file)).unwrap();
    match server::start(&cfg) {
        Err(e @ StartError::Tls { .. }) => {
            let s = e.to_string();
            assert!(
                s.contains("tls.cert_file") && s.contains(&a.cert_file),
                "{s}"
            );
        }
        Err(e) => panic!("unexpected error: {e}"),
        Ok(r) => {
            r.shutdown();
            panic!("started with a key that does not match the certificate");
        }
    }

    let e = Config::parse(
        "[[routes.prefix]]\nprefix = \"+1\"\ngateways = [{ address = \"127.0.0.1:5061\", transport = \"tls\" }]\n",
    )
    .unwrap_err()
    .to_string();
    assert!(e.starts_with("tls.ca_file:"), "{e}");
}

/// SIGHUP's TLS reload (`Running::reload_tls`): new connections get the certificate
/// now in the files; a broken file is refused and the certificate in use stays.
#[test]
fn tls_certificates_reload_without_a_restart() {
    let dir = common::Dir::new("tls-reload");
    let old = cert(&dir, "old");
    let new = cert(&dir, "new");
    let px = common::proxy(&format!(
        "[server]\nlisten = [\"tls:127.0.0.1:0\"]\n[tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\n",
        old.cert_file, old.key_file
    ));
    let tls_addr = px.tls.as_ref().unwrap().listeners()[0];
    let options = |call: &str| {
        Bytes::from(format!(
            "OPTIONS sip:{tls_addr};transport=tls SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5099;branch=z9hG4bK{call}\r\n\
             Max-Forwards: 70\r\nFrom: <sip:a@127.0.0.1>;tag=a\r\nTo: <sip:{tls_addr}>\r\n\
             Call-ID: {call}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        ))
    };
    // A client that trusts only the new certificate cannot talk to the proxy yet.
    let (before, _rx) = tls_client(&new.pem);
    before.send_to(tls_addr, None, options("before")).unwrap();
    let end = std::time::Instant::now() + WAIT;
    while before.stats().handshake_failures == 0 {
        assert!(
            std::time::Instant::now() < end,
            "the handshake never failed"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // The files now hold the new certificate: reloaded, a new connection gets it.
    std::fs::copy(&new.cert_file, &old.cert_file).unwrap();
    std::fs::copy(&new.key_file, &old.key_file).unwrap();
    assert!(px.reload_tls().unwrap());
    let (after, rx) = tls_client(&new.pem);
    after.send_to(tls_addr, None, options("after")).unwrap();
    let r = rx
        .recv_timeout(WAIT)
        .expect("an answer over TLS after the reload");
    assert!(r.data.starts_with(b"SIP/2.0 200"));
    // A broken key file: refused, the loaded certificate stays in use.
    std::fs::write(&old.key_file, "not a key").unwrap();
    assert!(px.reload_tls().is_err());
    let (still, rx) = tls_client(&new.pem);
    still.send_to(tls_addr, None, options("still")).unwrap();
    assert!(rx
        .recv_timeout(WAIT)
        .unwrap()
        .data
        .starts_with(b"SIP/2.0 200"));
    for c in [before, after, still] {
        c.shutdown();
    }
    px.shutdown();
}
