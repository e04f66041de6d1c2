//! The real `sipcore-proxy` binary under signals, with the test's own UDP UAC and UAS:
//! SIGTERM drains (new INVITEs 503, in-dialog requests and in-flight INVITEs go on),
//! fsyncs the journal with every record and exits 0; SIGHUP reopens a journal renamed
//! away; a journal on `/dev/full` counts and logs its write errors.
//!
//! Every wait is for an event (a datagram, a log line, the child's exit) with a bound
//! only for failure.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

mod common;

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::responder::headers;
use common::Dir;

/// Bound on any single wait: only reached when the test fails.
const LIMIT: Duration = Duration::from_secs(20);

/// The binary, its stderr lines as they come.
struct Proc {
    child: Option<Child>,
    lines: Receiver<String>,
    log: Arc<Mutex<Vec<String>>>,
    udp: SocketAddr,
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c == '\u{1b}' {
            for d in it.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

impl Proc {
    /// Starts the binary with `toml` and waits for its "listening" line.
    fn start(dir: &Dir, toml: &str) -> Proc {
        let cfg = dir.0.join("proxy.toml");
        std::fs::write(&cfg, toml).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_sipcore-proxy"))
            .arg("--config")
            .arg(&cfg)
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let err = child.stderr.take().unwrap();
        let (tx, lines) = channel();
        let log = Arc::new(Mutex::new(Vec::new()));
        let log2 = log.clone();
        std::thread::spawn(move || {
            for l in BufReader::new(err).lines() {
                let Ok(l) = l else { break };
                let l = strip_ansi(&l);
                log2.lock().unwrap().push(l.clone());
                let _ = tx.send(l);
            }
        });
        let mut p = Proc {
            child: Some(child),
            lines,
            log,
            udp: "0.0.0.0:0".parse().unwrap(),
        };
        let l = p.line("sipcore-proxy listening");
        let start = l.find("udp=[").expect("udp address logged") + 5;
        let end = start + l[start..].find(']').unwrap();
        p.udp = l[start..end].parse().unwrap();
        p
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// Waits for a log line containing `what`.
    fn line(&self, what: &str) -> String {
        let until = Instant::now() + LIMIT;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if l.contains(what) => return l,
                Ok(_) => {}
                Err(_) => panic!("no log line with {what:?}; log:\n{}", self.log()),
            }
        }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), &self.pid().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{sig}");
    }

    /// Waits for the process to exit (by waiting on it, in a thread, so that a hang
    /// fails the test instead of hanging it).
    fn wait(&mut self) -> ExitStatus {
        let mut child = self.child.take().unwrap();
        let pid = child.id();
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait().unwrap());
        });
        match rx.recv_timeout(LIMIT) {
            Ok(s) => s,
            Err(_) => {
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
                panic!("the proxy did not exit; log:\n{}", self.log());
            }
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A user agent on its own loopback socket (port 0).
struct Ua {
    sock: UdpSocket,
    addr: SocketAddr,
    branch: u32,
}

impl Ua {
    fn new() -> Ua {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(LIMIT)).unwrap();
        let addr = sock.local_addr().unwrap();
        Ua {
            sock,
            addr,
            branch: 0,
        }
    }

    fn send(&self, to: SocketAddr, msg: &str) {
        self.sock.send_to(msg.as_bytes(), to).unwrap();
    }

    /// The next datagram for which `want(first line, message)` holds; others (the
    /// proxy's 100s and retransmissions) are skipped.
    fn expect(&self, want: impl Fn(&str, &str) -> bool) -> (String, SocketAddr) {
        let until = Instant::now() + LIMIT;
        let mut buf = [0u8; 65536];
        while Instant::now() < until {
            let Ok((n, from)) = self.sock.recv_from(&mut buf) else {
                break;
            };
            let m = String::from_utf8_lossy(&buf[..n]).into_owned();
            let first = m.lines().next().unwrap_or_default().to_string();
            if want(&first, &m) {
                return (m, from);
            }
        }
        panic!("{}: expected message did not come", self.addr);
    }

    fn next_branch(&mut self) -> String {
        self.branch += 1;
        format!("z9hG4bK-{}-{}", self.addr.port(), self.branch)
    }
}

fn call_id_of(m: &str) -> &str {
    headers(m, "Call-ID").first().copied().unwrap_or_default()
}

fn cseq_of(m: &str) -> &str {
    headers(m, "CSeq").first().copied().unwrap_or_default()
}

/// A response to request `req` (as received by the UAS): its Via, Record-Route, From,
/// Call-ID and CSeq, the To with `tag`.
fn respond(req: &str, status: &str, tag: &str, contact: SocketAddr) -> String {
    let mut r = format!("SIP/2.0 {status}\r\n");
    for v in headers(req, "Via") {
        r.push_str(&format!("Via: {v}\r\n"));
    }
    for v in headers(req, "Record-Route") {
        r.push_str(&format!("Record-Route: {v}\r\n"));
    }
    let to = headers(req, "To")[0];
    let to = if to.contains("tag=") {
        to.to_string()
    } else {
        format!("{to};tag={tag}")
    };
    r.push_str(&format!(
        "From: {}\r\nTo: {to}\r\nCall-ID: {}\r\nCSeq: {}\r\nContact: <sip:bob@{contact}>\r\nContent-Length: 0\r\n\r\n",
        headers(req, "From")[0],
        call_id_of(req),
        cseq_of(req)
    ));
    r
}

/// An established call as the UAC knows it.
struct Dialog {
    call_id: String,
    to: String,
    routes: Vec<String>,
}

struct Uac {
    ua: Ua,
    proxy: SocketAddr,
    uas: SocketAddr,
}

impl Uac {
    fn invite(&mut self, call_id: &str) -> String {
        let b = self.ua.next_branch();
        let (me, uas) = (self.ua.addr, self.uas);
        let msg = format!(
            "INVITE sip:bob@{uas} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch={b};rport\r\n\
             Max-Forwards: 70\r\nFrom: <sip:alice@{me}>;tag=a-{call_id}\r\nTo: <sip:bob@{uas}>\r\n\
             Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@{me}>\r\nContent-Length: 0\r\n\r\n"
        );
        self.ua.send(self.proxy, &msg);
        b
    }

    /// Waits for the final response `status` to the INVITE of `call_id`.
    fn final_response(&self, call_id: &str, status: u16) -> String {
        let want = format!("SIP/2.0 {status} ");
        self.ua
            .expect(|first, m| {
                first.starts_with(&want)
                    && call_id_of(m) == call_id
                    && cseq_of(m).ends_with("INVITE")
            })
            .0
    }

    /// The in-dialog request `method` with CSeq `n` through the route set.
    fn in_dialog(&mut self, d: &Dialog, method: &str, n: u32) {
        let b = self.ua.next_branch();
        let (me, uas) = (self.ua.addr, self.uas);
        let mut msg =
            format!("{method} sip:bob@{uas} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch={b};rport\r\n");
        for r in &d.routes {
            msg.push_str(&format!("Route: {r}\r\n"));
        }
        msg.push_str(&format!(
            "Max-Forwards: 70\r\nFrom: <sip:alice@{me}>;tag=a-{}\r\nTo: {}\r\nCall-ID: {}\r\n\
             CSeq: {n} {method}\r\nContent-Length: 0\r\n\r\n",
            d.call_id, d.to, d.call_id
        ));
        self.ua.send(self.proxy, &msg);
    }

    fn dialog(ok: &str) -> Dialog {
        let mut routes: Vec<String> = headers(ok, "Record-Route")
            .iter()
            .flat_map(|v| v.split(','))
            .map(|v| v.trim().to_string())
            .collect();
        routes.reverse();
        Dialog {
            call_id: call_id_of(ok).to_string(),
            to: headers(ok, "To")[0].to_string(),
            routes,
        }
    }
}

/// The UAS receives `method` of `call_id`.
fn uas_gets(uas: &Ua, method: &str, call_id: &str) -> (String, SocketAddr) {
    let start = format!("{method} ");
    uas.expect(|first, m| first.starts_with(&start) && call_id_of(m) == call_id)
}

/// One call set up through the proxy: INVITE, 200 from the UAS, ACK to the UAS.
fn establish(uac: &mut Uac, uas: &Ua, call_id: &str) -> Dialog {
    uac.invite(call_id);
    let (inv, from) = uas_gets(uas, "INVITE", call_id);
    uas.send(
        from,
        &respond(&inv, "200 OK", &format!("b-{call_id}"), uas.addr),
    );
    let ok = uac.final_response(call_id, 200);
    let d = Uac::dialog(&ok);
    uac.in_dialog(&d, "ACK", 1);
    uas_gets(uas, "ACK", call_id);
    d
}

/// BYE through the proxy, answered 200 by the UAS.
fn hang_up(uac: &mut Uac, uas: &Ua, d: &Dialog) {
    uac.in_dialog(d, "BYE", 2);
    let (bye, from) = uas_gets(uas, "BYE", &d.call_id);
    uas.send(from, &respond(&bye, "200 OK", "unused", uas.addr));
    uac.ua.expect(|first, m| {
        first.starts_with("SIP/2.0 200 ")
            && call_id_of(m) == d.call_id
            && cseq_of(m).ends_with("BYE")
    });
}

fn records(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("every journal line is JSON"))
        .collect()
}

fn ids(recs: &[serde_json::Value], event: &str) -> Vec<String> {
    let mut v: Vec<String> = recs
        .iter()
        .filter(|r| r["event"] == event)
        .map(|r| r["call_id"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

fn config(uas: SocketAddr, journal: &Path, extra: &str) -> String {
    format!(
        "[server]\nlisten = [\"udp:127.0.0.1:0\"]\nnext_hop = \"{uas}\"\npool = \"shared\"\nworkers = 2\n\
         [acl]\ntrusted = [\"127.0.0.1\"]\n[cdr]\nenabled = true\npath = \"{}\"\nfsync_ms = 50\n{extra}\n\
         [shutdown]\ndrain_ms = 15000\n",
        journal.display()
    )
}

fn setup(name: &str, extra: &str) -> (Dir, std::path::PathBuf, Ua, Proc, Uac) {
    let dir = Dir::new(name);
    let journal = dir.0.join("cdr.jsonl");
    let uas = Ua::new();
    let px = Proc::start(&dir, &config(uas.addr, &journal, extra));
    let uac = Uac {
        ua: Ua::new(),
        proxy: px.udp,
        uas: uas.addr,
    };
    (dir, journal, uas, px, uac)
}

#[test]
fn sigterm_drains_calls_fsyncs_every_record_and_exits_0() {
    let (_dir, journal, uas, mut px, mut uac) = setup("sigterm", "");
    // Five answered calls, two of them ended before the signal.
    let calls: Vec<Dialog> = (0..5)
        .map(|i| establish(&mut uac, &uas, &format!("call-{i}")))
        .collect();
    for d in &calls[..2] {
        hang_up(&mut uac, &uas, d);
    }
    // A call ringing (in flight) when the signal comes: the drain waits for it.
    uac.invite("held");
    let (held, held_from) = uas_gets(&uas, "INVITE", "held");
    uas.send(
        held_from,
        &respond(&held, "180 Ringing", "b-held", uas.addr),
    );
    uac.ua
        .expect(|first, m| first.starts_with("SIP/2.0 180 ") && call_id_of(m) == "held");

    px.signal("TERM");
    px.line("draining");
    // A new call is refused while draining ...
    uac.invite("late");
    let refused = uac.final_response("late", 503);
    assert!(refused.contains("Call-ID: late"));
    // ... the calls up go on: their BYEs pass and write end records ...
    for d in &calls[2..] {
        hang_up(&mut uac, &uas, d);
    }
    // ... and the ringing call is answered through the proxy. It rings a second more
    // first: without the drain the proxy would be gone by then (its sockets stop
    // within their 100 ms read timeout, the endpoint's grace is 200 ms). The pause is
    // the stimulus, not a synchronisation: a longer one only makes the test stricter.
    std::thread::sleep(Duration::from_secs(1));
    uas.send(held_from, &respond(&held, "200 OK", "b-held", uas.addr));
    uac.final_response("held", 200);

    let status = px.wait();
    assert_eq!(status.code(), Some(0), "log:\n{}", px.log());
    let stopped = px.line("stopped");
    assert!(stopped.contains("cdr_write_errors=0"), "{stopped}");
    let recs = records(&journal);
    let mut started: Vec<String> = (0..5).map(|i| format!("call-{i}")).collect();
    started.push("held".into());
    started.sort();
    let ended: Vec<String> = (0..5).map(|i| format!("call-{i}")).collect();
    assert_eq!(ids(&recs, "start"), started, "{recs:?}");
    assert_eq!(ids(&recs, "end"), ended, "{recs:?}");
    assert!(
        ids(&recs, "failure").is_empty(),
        "a refusal while draining is no call"
    );
    assert!(stopped.contains("cdr_written=11"), "{stopped}");
}

#[test]
fn sigint_with_nothing_in_flight_exits_0_at_once() {
    let (_dir, journal, uas, mut px, mut uac) = setup("sigint", "");
    let d = establish(&mut uac, &uas, "only");
    hang_up(&mut uac, &uas, &d);
    px.signal("INT");
    assert_eq!(px.wait().code(), Some(0), "log:\n{}", px.log());
    let recs = records(&journal);
    assert_eq!(
        (ids(&recs, "start"), ids(&recs, "end")),
        (vec!["only".to_string()], vec!["only".to_string()])
    );
}

#[test]
fn sighup_reopens_a_journal_renamed_away() {
    let (_dir, journal, uas, mut px, mut uac) = setup("sighup", "");
    let d = establish(&mut uac, &uas, "before");
    hang_up(&mut uac, &uas, &d);
    // The two records are written (the writer fsyncs within fsync_ms and logs nothing
    // per record, so wait for them in the file itself).
    let until = Instant::now() + LIMIT;
    while records(&journal).len() < 2 {
        assert!(Instant::now() < until, "records not written");
        std::thread::sleep(Duration::from_millis(10));
    }
    let old = journal.with_extension("jsonl.old");
    std::fs::rename(&journal, &old).unwrap();
    px.signal("HUP");
    // (The writer may also have noticed the rename by itself at its fsync: wait for
    // the reopen the signal asked for.)
    let l = px.line("why=\"SIGHUP\"");
    assert!(l.contains("CDR journal reopened"), "{l}");
    assert!(journal.exists(), "a new journal at the configured path");
    let d = establish(&mut uac, &uas, "after");
    hang_up(&mut uac, &uas, &d);
    px.signal("TERM");
    assert_eq!(px.wait().code(), Some(0), "log:\n{}", px.log());
    let (o, n) = (records(&old), records(&journal));
    assert_eq!(
        (ids(&o, "start"), ids(&o, "end")),
        (vec!["before".to_string()], vec!["before".to_string()])
    );
    assert_eq!(
        (ids(&n, "start"), ids(&n, "end")),
        (vec!["after".to_string()], vec!["after".to_string()])
    );
}

#[test]
fn a_full_disk_is_counted_and_logged_never_written() {
    let dir = Dir::new("devfull");
    let uas = Ua::new();
    let mut px = Proc::start(&dir, &config(uas.addr, Path::new("/dev/full"), ""));
    let mut uac = Uac {
        ua: Ua::new(),
        proxy: px.udp,
        uas: uas.addr,
    };
    let d = establish(&mut uac, &uas, "full");
    hang_up(&mut uac, &uas, &d);
    px.line("CDR journal write failed");
    px.signal("TERM");
    assert_eq!(px.wait().code(), Some(0), "log:\n{}", px.log());
    let stopped = px.line("stopped");
    assert!(
        stopped.contains("cdr_written=0") && stopped.contains("cdr_write_errors=2"),
        "{stopped}"
    );
}
