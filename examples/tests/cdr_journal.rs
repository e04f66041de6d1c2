//! The CDR journal: records written by real calls, a bounded queue when the writer is
//! stuck, and a start that never reads the journal.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

mod common;

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use sipcore_examples::cdr::Cdr;
use sipcore_examples::config::{CdrConfig, CdrFullPolicy};
use sipcore_examples::metrics::Metrics;

fn lines(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[test]
fn calls_write_start_end_and_failure_records() {
    let dir = Dir::new("cdr-calls");
    let uas = uas(&dir, &dir.scenario("uas.xml", &[]), "udp", 3);
    let busy = common::uas(&dir, &dir.scenario("uas_486.xml", &[]), "udp", 2);
    let (u, b) = (uas.port, busy.port);
    let journal = dir.0.join("cdr.jsonl");
    let px = proxy(&format!(
        "[server]\nlisten = [\"udp:127.0.0.1:0\"]\nnext_hop = \"127.0.0.1:{u}\"\n[acl]\ntrusted = [\"127.0.0.1\"]\n\
         [[routes.prefix]]\nprefix = \"busy\"\ngateways = [{{ address = \"127.0.0.1:{b}\" }}]\n\
         [cdr]\nenabled = true\npath = \"{}\"\nfsync_ms = 10\n",
        journal.display()
    ));
    let p = port_of(&px, "udp");
    uac_ok(
        &dir,
        &dir.scenario("uac.xml", &[]),
        p,
        "udp",
        &["-m", "3", "-r", "10"],
    );
    let sc = dir.scenario("uac_error.xml", &[("expect", "486"), ("maxfwd", "70")]);
    uac_ok(&dir, &sc, p, "udp", &["-m", "2", "-r", "10", "-s", "busy"]);
    uas.wait_ok(Duration::from_secs(20));
    busy.wait_ok(Duration::from_secs(20));
    px.shutdown();
    let recs = lines(&journal);
    let count = |e: &str| recs.iter().filter(|r| r["event"] == e).count();
    assert_eq!(
        (count("start"), count("end"), count("failure")),
        (3, 3, 2),
        "{recs:?}"
    );
    assert!(recs
        .iter()
        .filter(|r| r["event"] == "end")
        .all(|r| r["duration_ms"].is_u64()));
    assert!(recs
        .iter()
        .filter(|r| r["event"] == "failure")
        .all(|r| r["status"] == 486));
}

#[test]
fn a_stuck_writer_bounds_the_queue_and_counts_drops() {
    let dir = Dir::new("cdr-stuck");
    let fifo = dir.0.join("journal.fifo");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    // A reader that never reads: the writer blocks once the pipe and its buffer are full.
    let mut reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)
        .unwrap();
    let metrics = Arc::new(Metrics::default());
    let cfg = CdrConfig {
        enabled: true,
        path: fifo.display().to_string(),
        queue: 100,
        on_full: CdrFullPolicy::Refuse,
        ..CdrConfig::default()
    };
    let cdr = Cdr::start(&cfg, metrics.clone()).unwrap();
    let total = 50_000u64;
    for i in 0..total {
        cdr.failed(&format!("call-{i}"), "sip:a@x", "sip:b@y", 486);
        assert!(cdr.depth() <= 100);
    }
    let dropped = metrics.cdr_dropped.load(Ordering::Relaxed);
    assert!(dropped > total / 2, "dropped {dropped}");
    assert!(
        cdr.refuses_calls(),
        "the refuse policy applies while the queue is full"
    );
    // Unblock the writer so it can drain and stop.
    let drain = std::thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 16];
        let until = Instant::now() + Duration::from_secs(20);
        while Instant::now() < until {
            match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(_) => std::thread::sleep(Duration::from_millis(1)),
            }
        }
    });
    cdr.close();
    drain.join().unwrap();
    let written = metrics.cdr_written.load(Ordering::Relaxed);
    assert_eq!(written + dropped, total);
}

#[test]
fn start_never_reads_the_journal() {
    let dir = Dir::new("cdr-start");
    let path = dir.0.join("old.jsonl");
    // A large journal of junk: a start that read (or parsed) it would fail or take long.
    let junk = "not json at all\n".repeat(200_000);
    std::fs::write(&path, &junk).unwrap();
    let metrics = Arc::new(Metrics::default());
    let cfg = CdrConfig {
        enabled: true,
        path: path.display().to_string(),
        ..CdrConfig::default()
    };
    let cdr = Cdr::start(&cfg, metrics).unwrap();
    cdr.started("c1", "sip:a@x", "sip:b@y", 200, Instant::now());
    cdr.close();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with(&junk), "the old content is kept as it was");
    let new: Vec<_> = text[junk.len()..].lines().collect();
    assert_eq!(new.len(), 1);
    assert!(new[0].contains("\"event\":\"start\"") && new[0].contains("\"call_id\":\"c1\""));
}
