//! Asynchronous call detail records: call start (the first 2xx to an initial INVITE),
//! end (a BYE of an answered call, with the duration) and failure (the final error
//! status of an initial INVITE) go through a bounded queue to a writer thread that
//! appends JSON lines to a journal file and batches fsyncs ([`journal`]).
//!
//! - **Which calls.** Only the initial INVITE (no To tag) of a call writes a start or a
//!   failure record; a re-INVITE inside the call (To tag present) writes none, whatever
//!   its answer, and is counted (`sipcore_cdr_reinvites_total`). An end record is
//!   written only for a call the proxy saw answered and still remembers
//!   ([`answered`]: bounded by `cdr.max_dialogs` entries and `cdr.max_dialog_bytes`,
//!   each call forgotten `cdr.max_call_secs` after its answer); a BYE for any other
//!   Call-ID writes nothing and is counted (`sipcore_cdr_unknown_byes_total`). Calls
//!   forgotten by age or pushed out for room are counted too.
//! - **Memory is bounded**: the queue holds at most `queue` records, each field of a
//!   record at most [`FIELD_MAX`] bytes (longer values are cut at a character
//!   boundary), the answered-calls table as above.
//! - When the queue is full the record is dropped and counted; with the `refuse`
//!   policy the proxy also answers new INVITEs 503 while it stays full.
//! - Write and fsync failures (a full disk) are counted and logged, never reported as
//!   written; SIGHUP and `cdr.rotate_bytes` reopen or rotate the journal: see
//!   [`journal`].
//! - **Orderly stop.** [`Cdr::close`] (SIGTERM/SIGINT, after the drain) writes every
//!   queued record and fsyncs before the process exits 0. The answered-calls table
//!   lives in memory only: after a restart, BYEs of calls answered before it are
//!   unknown BYEs.
//! - The journal is opened for appending and never read: a restart serves at once.

pub mod answered;
pub mod journal;

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{bounded, unbounded, Receiver, Sender, TrySendError};
use parking_lot::Mutex;
use serde::Serialize;
use sipcore::message::Request;

use crate::config::{CdrConfig, CdrFullPolicy};
use crate::metrics::Metrics;
use answered::{Answered, Inserted, Removed};
use journal::{Control, Journal};

/// Longest field (Call-ID, From, To) a record carries, in bytes.
pub const FIELD_MAX: usize = 1024;

/// What a record says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Event {
    /// The initial INVITE was answered 2xx.
    Start,
    /// A BYE ended an answered call.
    End,
    /// The initial INVITE got a final error response.
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
    /// Call duration in milliseconds (every end record: its call's start was seen).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
}

/// The CDR writer: a bounded queue in front of a thread, and the answered calls.
#[derive(Debug)]
pub struct Cdr {
    tx: Mutex<Option<Sender<Record>>>,
    ctl: Sender<Control>,
    rx_len: Receiver<Record>,
    policy: CdrFullPolicy,
    metrics: Arc<Metrics>,
    answered: Mutex<Answered>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn field(s: &str) -> String {
    if s.len() <= FIELD_MAX {
        return s.to_string();
    }
    let mut end = FIELD_MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// From URI and Request-URI of a request, for records.
fn parties(req: &Request) -> (String, String) {
    let from = req
        .from_()
        .ok()
        .map(|f| String::from_utf8_lossy(f.uri_bytes()).into_owned())
        .unwrap_or_default();
    let to = String::from_utf8_lossy(req.uri_bytes()).into_owned();
    (from, to)
}

/// Whether a request is inside a dialog (its To has a tag).
fn in_dialog(req: &Request) -> bool {
    req.to().ok().and_then(|t| t.tag()).is_some()
}

impl Cdr {
    /// Opens (creates) the journal for appending and starts the writer thread.
    pub fn start(cfg: &CdrConfig, metrics: Arc<Metrics>) -> std::io::Result<Cdr> {
        let journal = Journal::open(PathBuf::from(&cfg.path), cfg.rotate_bytes)?;
        let (tx, rx) = bounded(cfg.queue.max(1));
        let (ctl, ctl_rx) = unbounded();
        let fsync = Duration::from_millis(cfg.fsync_ms.max(1));
        let m = metrics.clone();
        let rx2 = rx.clone();
        let writer = std::thread::Builder::new()
            .name("cdr-writer".into())
            .spawn(move || journal::run(journal, rx2, ctl_rx, fsync, &m))?;
        Ok(Cdr {
            tx: Mutex::new(Some(tx)),
            ctl,
            rx_len: rx,
            policy: cfg.on_full,
            metrics,
            answered: Mutex::new(Answered::new(
                cfg.max_dialogs,
                cfg.max_dialog_bytes,
                Duration::from_secs(cfg.max_call_secs),
            )),
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

    /// Answered calls remembered, and the bytes they count.
    pub fn answered_calls(&self) -> (usize, usize) {
        let a = self.answered.lock();
        (a.len(), a.bytes())
    }

    /// Asks the writer to sync and reopen the journal at its path (SIGHUP).
    pub fn reopen(&self) {
        let _ = self.ctl.send(Control::Reopen);
    }

    fn count(&self, r: Removed) {
        if r.expired > 0 {
            self.metrics
                .cdr_calls_expired
                .fetch_add(r.expired, Ordering::Relaxed);
        }
        if r.evicted > 0 {
            self.metrics
                .cdr_calls_evicted
                .fetch_add(r.evicted, Ordering::Relaxed);
        }
    }

    fn push(&self, event: Event, call_id: &str, from: &str, to: &str, status: u16, d: Option<u64>) {
        let r = Record {
            ts_ms: now_ms(),
            event,
            call_id: field(call_id),
            from: field(from),
            to: field(to),
            status,
            duration_ms: d,
        };
        let tx = self.tx.lock();
        let Some(tx) = tx.as_ref() else {
            self.metrics.cdr_dropped.fetch_add(1, Ordering::Relaxed);
            return;
        };
        match tx.try_send(r) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.metrics.cdr_dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// The first 2xx to an initial INVITE went upstream: the call is remembered and
    /// a start record written, unless the Call-ID is already an answered call (then
    /// nothing; counted as a re-INVITE). Returns whether a record was queued.
    pub fn started(&self, call_id: &str, from: &str, to: &str, status: u16, now: Instant) -> bool {
        let (ins, removed) = self.answered.lock().insert(call_id, now);
        self.count(removed);
        match ins {
            Inserted::Known => {
                self.metrics.cdr_reinvites.fetch_add(1, Ordering::Relaxed);
                return false;
            }
            Inserted::TooLarge => {
                self.metrics
                    .cdr_calls_evicted
                    .fetch_add(1, Ordering::Relaxed);
            }
            Inserted::New => {}
        }
        self.push(Event::Start, call_id, from, to, status, None);
        true
    }

    /// An initial INVITE got a final error response.
    pub fn failed(&self, call_id: &str, from: &str, to: &str, status: u16) {
        self.push(Event::Failure, call_id, from, to, status, None);
    }

    /// A BYE went through: the end record of an answered call with its duration, or
    /// nothing (counted) for a call not remembered. Returns whether a record was
    /// queued.
    pub fn ended(&self, call_id: &str, from: &str, to: &str, now: Instant) -> bool {
        let (start, removed) = self.answered.lock().remove(call_id, now);
        self.count(removed);
        let Some(start) = start else {
            self.metrics
                .cdr_unknown_byes
                .fetch_add(1, Ordering::Relaxed);
            return false;
        };
        let d = now.saturating_duration_since(start).as_millis() as u64;
        self.push(Event::End, call_id, from, to, 0, Some(d));
        true
    }

    /// A 2xx to `invite` went upstream: [`started`](Self::started) for an initial
    /// INVITE; a re-INVITE is counted and writes nothing.
    pub fn invite_answered(&self, invite: &Request, status: u16, now: Instant) {
        if in_dialog(invite) {
            self.metrics.cdr_reinvites.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let (from, to) = parties(invite);
        self.started(
            invite.call_id().unwrap_or_default(),
            &from,
            &to,
            status,
            now,
        );
    }

    /// `invite` got a final error response: [`failed`](Self::failed) for an initial
    /// INVITE; a failed re-INVITE does not end its call and writes nothing.
    pub fn invite_failed(&self, invite: &Request, status: u16) {
        if in_dialog(invite) {
            return;
        }
        let (from, to) = parties(invite);
        self.failed(invite.call_id().unwrap_or_default(), &from, &to, status);
    }

    /// A BYE went through: [`ended`](Self::ended).
    pub fn bye(&self, bye: &Request, now: Instant) {
        let (from, to) = parties(bye);
        self.ended(bye.call_id().unwrap_or_default(), &from, &to, now);
    }

    /// Stops accepting records, lets the writer write the queue, fsync and exit.
    /// Records offered afterwards are dropped and counted.
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
