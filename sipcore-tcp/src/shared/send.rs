//! The send path: a message on the connection to its destination (a new one when
//! there is none), written directly while nothing is queued, else queued within
//! `conn_wq_max` and `wq_max`; through the connection's stream layer when it has one.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::MutexGuard;
use sipcore::transport::{ConnectionFailure, SendError};

use super::{by_address, Attempt, Fail, Shared};
use crate::channel::Command;
use crate::conn::{write_some, Conn, Phase, WriteState};
use crate::failure::Close;
use crate::layer::LayerSlot;
use crate::stats::Counters;

impl Shared {
    /// Sends `data` to `addr`: on the existing connection (inbound or outbound; for a
    /// layered transport and a server `name`, the one opened for that name), else on a new
    /// one. Without a name, a connection opened for a server name is never used: its
    /// certificate was checked for that name, not for the address ([`by_address`]).
    pub(crate) fn send(
        &self,
        addr: SocketAddr,
        name: Option<&str>,
        data: Bytes,
    ) -> Result<(), SendError> {
        if self.is_shutdown() {
            return Err(SendError::Closed);
        }
        // A server name only means something to a layer (TLS).
        let name = name.filter(|_| self.layers.is_some());
        for _ in 0..3 {
            let existing = match name {
                Some(n) => self.table.get_named(&addr, n),
                None => self.table.get(&addr).filter(|c| by_address(c)),
            };
            let conn = match existing {
                Some(c) => c,
                None => match self.connect(addr, name, &data)? {
                    (_, true) => return Ok(()),
                    (c, false) => c,
                },
            };
            match self.send_on(&conn, data.clone()) {
                Ok(()) => return Ok(()),
                Err(Attempt::Failed(e)) => return Err(e),
                // Closed cleanly between lookup and send: drop the stale index entries
                // and retry on a new connection.
                Err(Attempt::Gone) => {
                    self.table.remove(&addr, &conn);
                    if conn.name.is_some() {
                        self.table.remove_named(&addr, &conn);
                    }
                }
            }
        }
        Err(SendError::ConnectionFailed {
            addr,
            cause: ConnectionFailure::Other,
            reason: "closed",
        })
    }

    /// Sends on the existing connection to `addr` only.
    pub(crate) fn send_existing(
        &self,
        addr: &SocketAddr,
        data: Bytes,
    ) -> Option<Result<(), SendError>> {
        let conn = self.table.get(addr)?;
        match self.send_on(&conn, data) {
            Ok(()) => Some(Ok(())),
            Err(Attempt::Failed(e)) => Some(Err(e)),
            Err(Attempt::Gone) => None,
        }
    }

    /// Sends one message on `conn`: through its layer if it has one, then as wire bytes
    /// (a direct write when nothing is queued, else the write queue).
    pub(crate) fn send_on(&self, conn: &Arc<Conn>, data: Bytes) -> Result<(), Attempt> {
        if data.is_empty() {
            return Ok(());
        }
        let result = match conn.layer.as_deref() {
            None => self.put_wire(conn, conn.write.lock(), data, false, true),
            Some(slot) => {
                let mut slot = slot.lock();
                let r = self.send_layered(conn, &mut slot, data);
                drop(slot);
                r
            }
        };
        self.settle(conn, result)
    }

    /// Carries out a failure once no lock is held: closes the connection if it must.
    pub(crate) fn settle(&self, conn: &Arc<Conn>, result: Result<(), Fail>) -> Result<(), Attempt> {
        match result {
            Ok(()) => Ok(()),
            Err(Fail::Refused(a)) => Err(a),
            Err(Fail::Close(why, e)) => {
                self.close(conn, why);
                Err(Attempt::Failed(e))
            }
        }
    }

    /// Why a send on a closed connection did not happen.
    pub(super) fn closed_attempt(&self, conn: &Conn, w: &WriteState) -> Attempt {
        // A connection that failed reports its failure; a clean close lets the caller
        // open a new one.
        match w.closed_by {
            Some(why) if why.blacklists() => Attempt::Failed(why.send_error(self.kind, conn.peer)),
            _ => Attempt::Gone,
        }
    }

    /// Writes wire bytes on `conn`: directly when nothing is queued, else (or for what the
    /// socket did not take) into the write queue, within `conn_wq_max` and `wq_max`.
    ///
    /// `layered`: the bytes belong to a layer's record stream, which cannot be cut, so a
    /// refusal closes the connection. `message`: count them as a sent message. Every
    /// error asks for the connection to be closed, except a global `QueueFull` for a
    /// plain message none of which was written.
    pub(super) fn put_wire(
        &self,
        conn: &Arc<Conn>,
        mut w: MutexGuard<'_, WriteState>,
        data: Bytes,
        layered: bool,
        message: bool,
    ) -> Result<(), Fail> {
        let len = data.len();
        if len == 0 {
            return Ok(());
        }
        let mut rest = data;
        match w.phase {
            Phase::Closed => return Err(Fail::Refused(self.closed_attempt(conn, &w))),
            Phase::Open if w.queue.is_empty() => match write_some(&conn.stream, &rest) {
                Ok(n) => {
                    if n > 0 {
                        conn.last_tx.store(self.now(), Ordering::Relaxed);
                        Counters::add(&self.stats.bytes_sent, n);
                    }
                    if n == len {
                        drop(w);
                        if message {
                            Counters::inc(&self.stats.sent_direct);
                        }
                        return Ok(());
                    }
                    rest = rest.slice(n..);
                }
                Err(e) => {
                    drop(w);
                    return Err(Fail::close(Close::from_io(&e), self.kind, conn.peer));
                }
            },
            _ => {}
        }
        let n = rest.len();
        if w.queued + n > self.config.conn_wq_max {
            drop(w);
            return Err(Fail::close(Close::ConnQueueFull, self.kind, conn.peer));
        }
        if !self.reserve_queue(n) {
            drop(w);
            if n < len || layered {
                // Part of the stream is on the wire (or in a layer's record sequence);
                // without the rest it is corrupt, so this one connection goes (the
                // others keep their queues).
                return Err(Fail::close(Close::QueueFull, self.kind, conn.peer));
            }
            Counters::inc(&self.stats.queue_full);
            return Err(Fail::Refused(Attempt::Failed(SendError::QueueFull)));
        }
        let was_empty = w.queue.is_empty();
        w.queue.push_back(rest);
        w.queued += n;
        if was_empty {
            w.progress_ms = self.now();
        }
        drop(w);
        if message {
            Counters::inc(&self.stats.sent_queued);
        }
        if was_empty && !conn.timer_requested.swap(true, Ordering::AcqRel) {
            // Arms the send timeout; the flush itself waits for writability.
            self.command(Command::Queued(conn.clone()));
        }
        Ok(())
    }

    /// Sends one message through `conn`'s layer: held in the pending queue until the
    /// layer is ready, else encoded (after checking the limits against the layer's bound,
    /// since records cannot be taken back) and put on the wire.
    pub(super) fn send_layered(
        &self,
        conn: &Arc<Conn>,
        slot: &mut LayerSlot,
        data: Bytes,
    ) -> Result<(), Fail> {
        let w = conn.write.lock();
        if w.phase == Phase::Closed {
            return Err(Fail::Refused(self.closed_attempt(conn, &w)));
        }
        let n = data.len();
        let max = self.config.conn_wq_max;
        if !slot.ready {
            let mut w = w;
            if w.queued + n > max {
                return Err(Fail::close(Close::ConnQueueFull, self.kind, conn.peer));
            }
            if !self.reserve_queue(n) {
                Counters::inc(&self.stats.queue_full);
                return Err(Fail::Refused(Attempt::Failed(SendError::QueueFull)));
            }
            slot.pending.push_back(data);
            slot.pending_bytes += n;
            w.queued += n;
            Counters::inc(&self.stats.sent_queued);
            return Ok(());
        }
        let bound = slot.session.wire_len_bound(n);
        if w.queued + bound > max {
            return Err(Fail::close(Close::ConnQueueFull, self.kind, conn.peer));
        }
        let total = self.stats.queued_bytes.load(Ordering::Acquire);
        if total + bound as u64 > self.config.wq_max as u64 {
            // Refused before encoding: the connection's stream is intact.
            Counters::inc(&self.stats.queue_full);
            return Err(Fail::Refused(Attempt::Failed(SendError::QueueFull)));
        }
        let mut out = Vec::with_capacity(bound);
        if let Err(e) = slot.session.write_plain(&data, &mut out) {
            return Err(Fail::close(Close::Layer(e), self.kind, conn.peer));
        }
        self.put_wire(conn, w, Bytes::from(out), true, true)
    }

    /// Feeds wire bytes read from `conn` to its layer (or passes them through without
    /// one): the layer's answer (handshake messages, alerts) goes out through the write
    /// queue, never waited for; the application bytes are appended to `plain`. `false`
    /// when the connection was closed.
    pub(crate) fn layer_input(&self, conn: &Arc<Conn>, input: &[u8], plain: &mut Vec<u8>) -> bool {
        let Some(slot) = conn.layer.as_deref() else {
            plain.extend_from_slice(input);
            return true;
        };
        let mut slot = slot.lock();
        let result = self.feed(conn, &mut slot, input, plain);
        drop(slot);
        self.settle(conn, result).is_ok()
    }

    /// [`layer_input`](Self::layer_input) under the layer lock.
    fn feed(
        &self,
        conn: &Arc<Conn>,
        slot: &mut LayerSlot,
        input: &[u8],
        plain: &mut Vec<u8>,
    ) -> Result<(), Fail> {
        let mut out = Vec::new();
        let result = slot.session.read_wire(input, plain, &mut out);
        if !out.is_empty() {
            // Sent even when reading failed: it is the alert that says why.
            self.put_wire(conn, conn.write.lock(), Bytes::from(out), true, false)?;
        }
        if let Err(e) = result {
            let why = if slot.ready {
                Close::Layer(e)
            } else {
                Close::Handshake(e)
            };
            return Err(Fail::close(why, self.kind, conn.peer));
        }
        if !slot.ready && slot.session.is_ready() {
            return self.layer_ready(conn, slot);
        }
        Ok(())
    }

    /// `conn`'s layer just became ready: counts the handshake and encodes and sends the
    /// messages that waited for it, in order, behind the handshake's own records.
    fn layer_ready(&self, conn: &Arc<Conn>, slot: &mut LayerSlot) -> Result<(), Fail> {
        slot.ready = true;
        Counters::inc(&self.stats.handshakes);
        let pending = std::mem::take(&mut slot.pending);
        let pending_bytes = std::mem::take(&mut slot.pending_bytes);
        let mut w = conn.write.lock();
        w.ready = true;
        if w.phase == Phase::Closed {
            return Err(Fail::Refused(Attempt::Gone));
        }
        // The plaintext leaves the counts; its records come back in through `put_wire`.
        w.queued = w.queued.saturating_sub(pending_bytes);
        self.stats
            .queued_bytes
            .fetch_sub(pending_bytes as u64, Ordering::AcqRel);
        if pending.is_empty() {
            return Ok(());
        }
        let mut out = Vec::with_capacity(slot.session.wire_len_bound(pending_bytes));
        for p in &pending {
            if let Err(e) = slot.session.write_plain(p, &mut out) {
                return Err(Fail::close(Close::Layer(e), self.kind, conn.peer));
            }
        }
        self.put_wire(conn, w, Bytes::from(out), true, false)
    }

    /// Sends a keep-alive ping or pong on `conn`.
    pub(crate) fn send_raw(&self, conn: &Arc<Conn>, data: &'static [u8]) {
        let _ = self.send_on(conn, Bytes::from_static(data));
    }

    /// Adds `n` bytes to the global queue total, whatever the limit.
    pub(super) fn force_reserve(&self, n: usize) {
        let n = n as u64;
        let total = self.stats.queued_bytes.fetch_add(n, Ordering::AcqRel) + n;
        self.stats
            .queued_bytes_peak
            .fetch_max(total, Ordering::Relaxed);
    }

    /// Adds `n` bytes to the global queue total unless that would pass `wq_max`.
    pub(super) fn reserve_queue(&self, n: usize) -> bool {
        let n = n as u64;
        let total = self.stats.queued_bytes.fetch_add(n, Ordering::AcqRel) + n;
        if total > self.config.wq_max as u64 {
            self.stats.queued_bytes.fetch_sub(n, Ordering::AcqRel);
            return false;
        }
        self.stats
            .queued_bytes_peak
            .fetch_max(total, Ordering::Relaxed);
        true
    }
}
