//! Asynchronous call detail records: call start (2xx to INVITE), end (BYE, with the
//! duration) and failure (final status) go through a bounded queue to a writer thread
//! that appends JSON lines to a journal file and batches fsyncs.
//!
//! - Memory is bounded: the queue holds at most `queue` records; answered calls are
//!   remembered (for the duration of their end record) up to `max_dialogs`.
//! - When the queue is full the record is dropped and counted; with the `refuse`
//!   policy the proxy also answers new INVITEs 503 while it stays full.
//! - The journal is opened for appending and never read: a restart serves at once.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender, TrySendError};
use parking_lot::Mutex;
use serde::Serialize;

use crate::config::{CdrConfig, CdrFullPolicy};
use crate::metrics::Metrics;

/// What a record says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Event {
    /// The INVITE was answered 2xx.
    Start,
    /// A BYE ended the call.
    End,
    /// The INVITE got a final error response.
    Failure,
}

/// One journal line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Record {
    /// Milliseconds since the Unix epoch.
    pub ts_ms: u64,
    /// What happened.
    pub event: Event,
    /// The Call-ID.
    pub call_id: String,
    /// From URI.
    pub from: String,
    /// To URI (the INVITE's Request-URI for start and failure).
    pub to: String,
    /// Final status (start: 200..299; failure: 300..699; end: 0).
    pub status: u16,
    /// Call duration in milliseconds (end records of calls whose start was seen).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
}

/// The CDR writer: a bounded queue in front of a thread.
#[derive(Debug)]
pub struct Cdr {
    tx: Mutex<Option<Sender<Record>>>,
    rx_len: Receiver<Record>,
    policy: CdrFullPolicy,
    metrics: Arc<Metrics>,
    dialogs: Mutex<HashMap<String, Instant>>,
    max_dialogs: usize,
    writer: Mutex<Option<JoinHandle<()>>>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Cdr {
    /// Opens (creates) the journal for appending and starts the writer thread.
    pub fn start(cfg: &CdrConfig, metrics: Arc<Metrics>) -> std::io::Result<Cdr> {
        let path = PathBuf::from(&cfg.path);
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        let (tx, rx) = bounded(cfg.queue.max(1));
        let fsync = Duration::from_millis(cfg.fsync_ms.max(1));
        let m = metrics.clone();
        let rx2 = rx.clone();
        let writer = std::thread::Builder::new()
            .name("cdr-writer".into())
            .spawn(move || write_loop(file, rx2, fsync, &m))?;
        Ok(Cdr {
            tx: Mutex::new(Some(tx)),
            rx_len: rx,
            policy: cfg.on_full,
            metrics,
            dialogs: Mutex::new(HashMap::new()),
            max_dialogs: cfg.max_dialogs,
            writer: Mutex::new(Some(writer)),
        })
    }

    /// Records waiting for the writer.
    pub fn depth(&self) -> usize {
        self.rx_len.len()
    }

    /// Whether new calls must be refused (the `refuse` policy and a full queue).
    pub fn refuses_calls(&self) -> bool {
        self.policy == CdrFullPolicy::Refuse && self.rx_len.is_full()
    }

    fn push(&self, r: Record) {
        let tx = self.tx.lock();
        let Some(tx) = tx.as_ref() else { return };
        match tx.try_send(r) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.metrics.cdr_dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// A 2xx to an INVITE went upstream.
    pub fn started(&self, call_id: &str, from: &str, to: &str, status: u16, now: Instant) {
        {
            let mut d = self.dialogs.lock();
            if d.len() < self.max_dialogs {
                d.insert(call_id.to_string(), now);
            }
        }
        self.push(Record {
            ts_ms: now_ms(),
            event: Event::Start,
            call_id: call_id.into(),
            from: from.into(),
            to: to.into(),
            status,
            duration_ms: None,
        });
    }

    /// An INVITE got a final error response.
    pub fn failed(&self, call_id: &str, from: &str, to: &str, status: u16) {
        self.push(Record {
            ts_ms: now_ms(),
            event: Event::Failure,
            call_id: call_id.into(),
            from: from.into(),
            to: to.into(),
            status,
            duration_ms: None,
        });
    }

    /// A BYE ended the call.
    pub fn ended(&self, call_id: &str, from: &str, to: &str, now: Instant) {
        let started = self.dialogs.lock().remove(call_id);
        self.push(Record {
            ts_ms: now_ms(),
            event: Event::End,
            call_id: call_id.into(),
            from: from.into(),
            to: to.into(),
            status: 0,
            duration_ms: started.map(|s| now.saturating_duration_since(s).as_millis() as u64),
        });
    }

    /// Answered calls remembered.
    pub fn dialogs(&self) -> usize {
        self.dialogs.lock().len()
    }

    /// Stops accepting records, lets the writer drain the queue, fsync and exit.
    pub fn close(&self) {
        self.tx.lock().take();
        if let Some(w) = self.writer.lock().take() {
            let _ = w.join();
        }
    }
}

impl Drop for Cdr {
    fn drop(&mut self) {
        self.close();
    }
}

fn write_loop(file: File, rx: Receiver<Record>, fsync: Duration, metrics: &Metrics) {
    let mut out = BufWriter::with_capacity(64 * 1024, file);
    let mut dirty = false;
    let mut last_sync = Instant::now();
    loop {
        let wait = if dirty {
            fsync.saturating_sub(last_sync.elapsed())
        } else {
            fsync
        };
        let first = match rx.recv_timeout(wait) {
            Ok(r) => Some(r),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let mut n = 0u64;
        for r in first.into_iter().chain(rx.try_iter().take(4096)) {
            if serde_json::to_writer(&mut out, &r).is_ok() && out.write_all(b"\n").is_ok() {
                n += 1;
            }
        }
        if n > 0 {
            metrics.cdr_written.fetch_add(n, Ordering::Relaxed);
            dirty = true;
        }
        if dirty && last_sync.elapsed() >= fsync {
            if let Err(e) = out.flush().and_then(|_| out.get_ref().sync_data()) {
                tracing::error!(error = %e, "CDR journal write failed");
            }
            dirty = false;
            last_sync = Instant::now();
        }
    }
    let _ = out.flush().and_then(|_| out.get_ref().sync_data());
}
