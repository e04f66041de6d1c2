//! In-test UDP user agents: a socket on a free loopback port and a thread that answers
//! what arrives with a closure, for the cases sipp cannot play (TLS peers, challenges).

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// The values of every `name` header line of `msg`, in order (names without case).
pub fn headers<'a>(msg: &'a str, name: &str) -> Vec<&'a str> {
    msg.split("\r\n")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .filter(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
        .collect()
}

/// A response with `status` to a request text: its Vias, From, Call-ID and CSeq, its
/// To with a tag, then `extra` header lines.
pub fn reply(req: &str, status: &str, extra: &str) -> String {
    let mut out = format!("SIP/2.0 {status}\r\n");
    for v in headers(req, "Via") {
        out += &format!("Via: {v}\r\n");
    }
    for name in ["From", "Call-ID", "CSeq"] {
        for v in headers(req, name) {
            out += &format!("{name}: {v}\r\n");
        }
    }
    let to = headers(req, "To").first().copied().unwrap_or_default();
    out += &format!("To: {to};tag=uas\r\n{extra}Content-Length: 0\r\n\r\n");
    out
}

/// A UDP responder; stops when dropped.
pub struct UdpResponder {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl UdpResponder {
    /// Calls `answer(text, own address)` for every datagram and sends back what it
    /// returns.
    pub fn start<F>(answer: F) -> UdpResponder
    where
        F: FnMut(&str, SocketAddr) -> Option<String> + Send + 'static,
    {
        UdpResponder::on(UdpSocket::bind("127.0.0.1:0").unwrap(), answer)
    }

    /// [`start`](Self::start) on a socket the caller bound (another address).
    pub fn on<F>(s: UdpSocket, mut answer: F) -> UdpResponder
    where
        F: FnMut(&str, SocketAddr) -> Option<String> + Send + 'static,
    {
        s.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let addr = s.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let halt = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while !halt.load(Ordering::Relaxed) {
                let Ok((n, from)) = s.recv_from(&mut buf) else {
                    continue;
                };
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                if let Some(r) = answer(&text, addr) {
                    s.send_to(r.as_bytes(), from).unwrap();
                }
            }
        });
        UdpResponder {
            addr,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for UdpResponder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
