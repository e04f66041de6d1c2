//! [`TransactionLayer`]: the sharded table, its inputs and commands.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{Mutex, MutexGuard};

use crate::message::{Message, Request, Response};
use crate::transport::Target;

use super::config::{Config, Timings};
use super::key::{client_matches, creates, server_matches, MsgKey};
use super::output::{Event, Outputs, Timer, TransactionId};
use super::rng::{self, mix64, Rng, Token};
use super::shard::{state_bytes_per_transaction, Ctx, Shard};
use super::timer_wheel::Wheel;
use super::txn::{Kind, State, Txn, INVITE};
use super::{
    cancel, client_invite, client_non_invite, server_invite, server_non_invite, TransactionError,
    TransportFailure,
};

/// A shard and its published next deadline, alone on its cache line.
#[derive(Debug)]
#[repr(align(64))]
struct ShardCell {
    shard: Mutex<Shard>,
    /// Microseconds since the epoch of the shard's earliest timer (`u64::MAX`: none).
    deadline: AtomicU64,
}

/// A locked shard that publishes its next deadline when released.
pub(super) struct Locked<'a> {
    cell: &'a ShardCell,
    guard: MutexGuard<'a, Shard>,
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        let d = self.guard.wheel.next_deadline().unwrap_or(u64::MAX);
        self.cell.deadline.store(d, Ordering::Release);
    }
}

/// Memory held by the layer's own structures (message bytes excluded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryUsage {
    /// Live transactions.
    pub transactions: usize,
    /// Armed timers.
    pub timers: usize,
    /// Bytes of the table: slabs, bucket arrays, timer wheels, shard headers.
    pub table_bytes: usize,
    /// State bytes per live transaction when slabs are full: slot, bucket head, two
    /// timers (the marginal cost; `table_bytes / transactions` adds slack capacity).
    pub bytes_per_transaction: usize,
}

/// The RFC 3261 §17 transaction layer, sans-IO, shared by all threads of a runtime.
///
/// Methods come in three groups (the quinn-proto `Connection` arrangement):
/// - **inputs** take `now`: [`handle_message`](Self::handle_message),
///   [`handle_timeout`](Self::handle_timeout),
///   [`handle_transport_error`](Self::handle_transport_error),
///   [`handle_send_error`](Self::handle_send_error);
/// - **commands** of the transaction user take `now`:
///   [`send_request`](Self::send_request), [`send_response`](Self::send_response),
///   [`cancel`](Self::cancel);
/// - **outputs**: every input and command writes transmits and events into the
///   caller's [`Outputs`] (drain it with `poll_transmit` / `poll_event`, see its drain
///   contract); [`next_deadline`](Self::next_deadline) says when to call
///   `handle_timeout` next.
///
/// All methods take `&self`: receiver threads, a timer thread and the transaction user
/// call concurrently. The table is split in shards by the hash of Call-ID and CSeq
/// number, each behind its own `parking_lot::Mutex`; a call locks one shard
/// (`handle_timeout` and `handle_transport_error` visit them one at a time). No method
/// reads the clock, sleeps or does I/O.
///
/// # Examples
///
/// A UAC and a UAS in one process, the "network" being a loop over the outputs:
///
/// ```
/// use std::time::Instant;
/// use bytes::Bytes;
/// use sipcore::message::{Message, StatusCode};
/// use sipcore::transaction::{stateless, Config, Event, Outputs, TransactionLayer};
/// use sipcore::transport::Target;
///
/// let now = Instant::now();
/// let uac = TransactionLayer::new(Config { rng_seed: Some(1), ..Config::default() }, now);
/// let uas = TransactionLayer::new(Config { rng_seed: Some(2), ..Config::default() }, now);
/// let (a, b) = (Target::udp("192.0.2.1:5060".parse()?), Target::udp("192.0.2.2:5060".parse()?));
///
/// let invite = format!(
///     "OPTIONS sip:bob@192.0.2.2 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch={}\r\n\
///      From: <sip:alice@192.0.2.1>;tag=a1\r\nTo: <sip:bob@192.0.2.2>\r\nCall-ID: c1\r\n\
///      CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
///     uac.new_branch()
/// );
/// let Message::Request(req) = Message::parse(Bytes::from(invite))? else { unreachable!() };
/// let mut out = Outputs::new();
/// let client = uac.send_request(now, req, b, &mut out)?;
///
/// // The request crosses to the UAS, which gets it as a new server transaction.
/// let tx = out.poll_transmit().unwrap();
/// let mut uas_out = Outputs::new();
/// uas.handle_message(now, a, Message::parse(tx.payload)?, &mut uas_out)?;
/// let Some(Event::Request { id, request, .. }) = uas_out.poll_event() else { unreachable!() };
/// let ok = stateless::response(&request, StatusCode::OK, Some(&uas.new_tag()))?;
/// uas.send_response(now, id, ok, &mut uas_out)?;
///
/// // The 200 crosses back and completes the client transaction.
/// let tx = uas_out.poll_transmit().unwrap();
/// uac.handle_message(now, b, Message::parse(tx.payload)?, &mut out)?;
/// match out.poll_event() {
///     Some(Event::Response { id, response, .. }) => {
///         assert_eq!(id, client);
///         assert_eq!(response.status(), StatusCode::OK);
///     }
///     other => panic!("{other:?}"),
/// }
/// // Timer K keeps the client transaction 5 s for response retransmissions: drive the
/// // timers (a real loop sleeps until each deadline; a spurious wake-up is harmless).
/// let mut t = now;
/// while let Some(deadline) = uac.next_deadline() {
///     t = deadline;
///     uac.handle_timeout(t, &mut out);
/// }
/// assert!(uac.is_empty());
/// assert_eq!(t, now + std::time::Duration::from_secs(5));
/// assert!(matches!(out.poll_event(), Some(Event::Terminated { id }) if id == client));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct TransactionLayer {
    shards: Box<[ShardCell]>,
    mask: u64,
    tm: Timings,
    pub(super) config: Config,
    epoch: Instant,
    rng: Rng,
    pub(super) hash_seed: u64,
    live: AtomicUsize,
}

impl TransactionLayer {
    /// A layer with `config`; `now` is the epoch of its timer arithmetic.
    pub fn new(config: Config, now: Instant) -> TransactionLayer {
        let n = config.shards.clamp(1, 1 << 15).next_power_of_two();
        let tm = Timings::new(&config);
        let gran = u64::try_from(config.timer_granularity.as_micros()).unwrap_or(10_000);
        let shards = (0..n)
            .map(|_| ShardCell {
                shard: Mutex::new(Shard::new(Wheel::new(gran, config.timer_slots))),
                deadline: AtomicU64::new(u64::MAX),
            })
            .collect();
        let rng = Rng::new(config.rng_seed);
        let hash_seed = match config.rng_seed {
            Some(seed) => mix64(seed ^ 0x7461_626c_6568_6173),
            None => rng.next_u64(),
        };
        TransactionLayer {
            shards,
            mask: (n - 1) as u64,
            tm,
            rng,
            hash_seed,
            config,
            epoch: now,
            live: AtomicUsize::new(0),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Live transactions.
    pub fn len(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }

    /// Whether no transaction is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A new branch: the magic cookie and 22 characters (132 random bits) from a
    /// cryptographically secure generator (OS-seeded unless [`Config::rng_seed`] is
    /// set).
    pub fn new_branch(&self) -> Token {
        rng::branch(&self.rng)
    }

    /// A new tag (From or To): 16 characters, 96 random bits.
    pub fn new_tag(&self) -> Token {
        self.rng.token("", rng::TAG_CHARS)
    }

    /// A new Call-ID: 24 characters, 144 random bits.
    pub fn new_call_id(&self) -> Token {
        self.rng.token("", rng::CALL_ID_CHARS)
    }

    /// When to call [`handle_timeout`](Self::handle_timeout) next: the earliest armed
    /// deadline (possibly a cancelled one: a spurious call is harmless), `None` when no
    /// timer is armed. Reads one atomic per shard; takes no lock.
    pub fn next_deadline(&self) -> Option<Instant> {
        let d = self
            .shards
            .iter()
            .map(|c| c.deadline.load(Ordering::Acquire))
            .min()
            .unwrap_or(u64::MAX);
        (d != u64::MAX).then(|| self.epoch + Duration::from_micros(d))
    }

    pub(super) fn micros(&self, now: Instant) -> u64 {
        u64::try_from(now.saturating_duration_since(self.epoch).as_micros()).unwrap_or(u64::MAX / 2)
    }

    pub(super) fn lock(&self, shard: usize) -> Locked<'_> {
        let cell = &self.shards[shard & self.mask as usize];
        Locked {
            cell,
            guard: cell.shard.lock(),
        }
    }

    pub(super) fn ctx<'a>(
        &'a self,
        l: &'a mut Locked<'_>,
        shard: usize,
        now: Instant,
        out: &'a mut Outputs,
    ) -> Ctx<'a> {
        Ctx {
            shard: &mut l.guard,
            shard_no: shard as u16,
            now: self.micros(now),
            epoch: self.epoch,
            tm: &self.tm,
            rng: &self.rng,
            live: &self.live,
            seed: self.hash_seed,
            out,
        }
    }

    pub(super) fn shard_of(&self, hash: u64) -> usize {
        (hash & self.mask) as usize
    }

    /// Takes a slot under the live-transaction limit.
    pub(super) fn reserve(&self) -> bool {
        let prev = self.live.fetch_add(1, Ordering::Relaxed);
        if prev >= self.config.max_transactions {
            self.live.fetch_sub(1, Ordering::Relaxed);
            return false;
        }
        true
    }

    /// A message from the network (input).
    ///
    /// A request either matches a server transaction (a retransmission, answered from
    /// it; an ACK, absorbed or passed on per RFC 6026), or creates one
    /// ([`Event::Request`], [`Event::Cancel`]), or is an ACK matching nothing
    /// ([`Event::Ack`]). A response goes to its client transaction or, matching none,
    /// out as [`Event::StrayResponse`].
    ///
    /// # Errors
    /// [`Malformed`](TransactionError::Malformed) when the top Via, CSeq, Call-ID,
    /// From or To cannot be read (answer a request 400 statelessly, drop a response);
    /// [`Overloaded`](TransactionError::Overloaded) with the request when a new server
    /// transaction would exceed the limits (answer 503 statelessly).
    pub fn handle_message(
        &self,
        now: Instant,
        source: Target,
        message: Message,
        out: &mut Outputs,
    ) -> Result<(), TransactionError> {
        match message {
            Message::Request(r) => self.on_request(now, source, r, out),
            Message::Response(r) => self.on_response(now, source, r, out),
        }
    }

    /// Fires every timer due at `now` (input). Safe to call at any time, spuriously too.
    pub fn handle_timeout(&self, now: Instant, out: &mut Outputs) {
        let us = self.micros(now);
        for n in 0..self.shards.len() {
            if self.shards[n].deadline.load(Ordering::Acquire) > us {
                continue;
            }
            let mut locked = self.lock(n);
            locked.guard.wheel.expire(us);
            let mut ctx = self.ctx(&mut locked, n, now, out);
            while let Some(f) = ctx.shard.wheel.pop_due() {
                let Some(timer) = Timer::from_tag(f.tag) else {
                    continue;
                };
                let Some(t) = ctx.txn(f.owner) else { continue };
                t.timers[timer.slot()] = super::NIL;
                let kind = t.kind;
                match kind {
                    Kind::Ict => client_invite::on_timer(&mut ctx, f.owner, timer),
                    Kind::Nict => client_non_invite::on_timer(&mut ctx, f.owner, timer),
                    Kind::Ist => server_invite::on_timer(&mut ctx, f.owner, timer),
                    Kind::Nist => server_non_invite::on_timer(&mut ctx, f.owner, timer),
                }
            }
        }
    }

    /// The transport failed towards `target` (input): every transaction sending there
    /// (client requests, server responses) terminates at once with
    /// [`Event::TransportError`]. Returns how many. Visits every shard and scans each
    /// one's transactions: when the failed transmit is known, prefer
    /// [`handle_send_error`](Self::handle_send_error).
    pub fn handle_transport_error(
        &self,
        now: Instant,
        target: Target,
        error: TransportFailure,
        out: &mut Outputs,
    ) -> usize {
        let mut failed = Vec::new();
        let mut count = 0;
        for n in 0..self.shards.len() {
            let mut locked = self.lock(n);
            failed.clear();
            failed.extend(
                locked
                    .guard
                    .live()
                    .filter(|&i| locked.guard.get(i).is_some_and(|t| t.target == target)),
            );
            let mut ctx = self.ctx(&mut locked, n, now, out);
            for &i in &failed {
                if ctx.txn(i).is_some() {
                    fail(&mut ctx, i, error);
                    count += 1;
                }
            }
        }
        count
    }

    /// Sending a [`Transmit`](super::Transmit) of transaction `id` failed (input): the
    /// transaction terminates at once with [`Event::TransportError`].
    pub fn handle_send_error(
        &self,
        now: Instant,
        id: TransactionId,
        error: TransportFailure,
        out: &mut Outputs,
    ) -> Result<(), TransactionError> {
        self.with_txn(now, id, out, |ctx, i| {
            fail(ctx, i, error);
            Ok(())
        })
    }

    fn with_txn<R>(
        &self,
        now: Instant,
        id: TransactionId,
        out: &mut Outputs,
        f: impl FnOnce(&mut Ctx<'_>, u32) -> Result<R, TransactionError>,
    ) -> Result<R, TransactionError> {
        let n = usize::from(id.shard);
        if n >= self.shards.len() {
            return Err(TransactionError::UnknownTransaction(id));
        }
        let mut locked = self.lock(n);
        let i = locked
            .guard
            .resolve(id.index, id.generation)
            .ok_or(TransactionError::UnknownTransaction(id))?;
        let mut ctx = self.ctx(&mut locked, n, now, out);
        f(&mut ctx, i)
    }

    /// Starts a client transaction for `request` towards `target` (command) and sends
    /// it. The request's top Via must carry a branch with the magic cookie (use
    /// [`new_branch`](Self::new_branch)); INVITE starts an INVITE client transaction,
    /// anything else but ACK a non-INVITE one.
    ///
    /// # Errors
    /// [`InvalidRequest`](TransactionError::InvalidRequest) for an ACK (the ACK for a
    /// 2xx is sent without a transaction) or a branch without the cookie;
    /// [`DuplicateBranch`](TransactionError::DuplicateBranch);
    /// [`Malformed`](TransactionError::Malformed);
    /// [`Overloaded`](TransactionError::Overloaded) with the request.
    pub fn send_request(
        &self,
        now: Instant,
        request: Request,
        target: Target,
        out: &mut Outputs,
    ) -> Result<TransactionId, TransactionError> {
        let key = MsgKey::request(&request, self.hash_seed)?.with_tags(&request)?;
        let Some((_, code)) = creates(&key) else {
            return Err(TransactionError::InvalidRequest(
                "ACK is sent without a transaction (RFC 3261 §13.2.2.4)",
            ));
        };
        if key.branch.is_none() {
            return Err(TransactionError::InvalidRequest(
                "the top Via branch must start with the magic cookie z9hG4bK",
            ));
        }
        let n = self.shard_of(key.hash);
        let mut locked = self.lock(n);
        let mut ctx = self.ctx(&mut locked, n, now, out);
        if ctx
            .shard
            .find(key.hash, |t| client_matches(t, &key))
            .is_some()
        {
            return Err(TransactionError::DuplicateBranch);
        }
        if ctx.shard.count_hash(key.hash) >= self.config.max_per_call_seq || !self.reserve() {
            return Err(TransactionError::Overloaded(Box::new(request)));
        }
        let (stored, _) = key.store(request.as_bytes());
        let (kind, state) = if code == INVITE {
            (Kind::Ict, State::Calling)
        } else {
            (Kind::Nict, State::Trying)
        };
        let (i, _) = ctx
            .shard
            .insert(Txn::new(kind, state, request.bytes(), target, stored, code));
        if kind == Kind::Ict {
            client_invite::start(&mut ctx, i);
        } else {
            client_non_invite::start(&mut ctx, i);
        }
        Ok(ctx.id(i))
    }

    /// Sends a response through server transaction `id` (command): a provisional one,
    /// the final one, or (INVITE, after a 2xx) retransmissions of the 2xx. The layer
    /// keeps it and retransmits it as RFC 3261 §17.2 says. Build it with
    /// [`stateless::response`](super::stateless::response) or splice it from a
    /// response received downstream; it is sent as it is.
    ///
    /// # Errors
    /// [`UnknownTransaction`](TransactionError::UnknownTransaction),
    /// [`InvalidState`](TransactionError::InvalidState) (a client transaction, or a
    /// final response after the final one).
    pub fn send_response(
        &self,
        now: Instant,
        id: TransactionId,
        response: Response,
        out: &mut Outputs,
    ) -> Result<(), TransactionError> {
        self.with_txn(now, id, out, |ctx, i| match ctx.txn(i).map(|t| t.kind) {
            Some(Kind::Ist) => server_invite::send_response(ctx, i, &response),
            Some(Kind::Nist) => server_non_invite::send_response(ctx, i, &response),
            _ => Err(TransactionError::InvalidState {
                id,
                what: "send a response (client transaction)",
            }),
        })
    }

    /// Cancels client INVITE transaction `id` (command, RFC 3261 §9.1): builds the
    /// CANCEL and starts its client transaction, sending it at once if a provisional
    /// response has arrived, or as soon as one does. Returns the CANCEL's transaction
    /// (the same one if called again).
    ///
    /// # Errors
    /// [`UnknownTransaction`](TransactionError::UnknownTransaction),
    /// [`InvalidState`](TransactionError::InvalidState) when the transaction is not a
    /// client INVITE or already has its final response.
    pub fn cancel(
        &self,
        now: Instant,
        id: TransactionId,
        out: &mut Outputs,
    ) -> Result<TransactionId, TransactionError> {
        self.with_txn(now, id, out, cancel::cancel)
    }

    /// Whether `request` belongs to a live server transaction (a retransmission, an ACK
    /// for a non-2xx, a CANCEL's target aside): what a runtime checks before refusing a
    /// request under load, so retransmissions are still absorbed. Malformed requests
    /// match nothing.
    pub fn matches_server_transaction(&self, request: &Request) -> bool {
        let Ok(key) = MsgKey::request(request, self.hash_seed) else {
            return false;
        };
        let locked = self.lock(self.shard_of(key.hash));
        locked
            .guard
            .find(key.hash, |t| server_matches(t, &key))
            .is_some()
    }

    /// Memory of the table itself (locks each shard in turn).
    pub fn memory_usage(&self) -> MemoryUsage {
        let mut table =
            std::mem::size_of::<TransactionLayer>() + std::mem::size_of_val(&*self.shards);
        let (mut transactions, mut timers) = (0, 0);
        for cell in self.shards.iter() {
            let s = cell.shard.lock();
            table += s.heap_bytes();
            transactions += s.len();
            timers += s.wheel.len();
        }
        MemoryUsage {
            transactions,
            timers,
            table_bytes: table,
            bytes_per_transaction: state_bytes_per_transaction(),
        }
    }
}

/// A transport failure: report it, terminate at once.
fn fail(ctx: &mut Ctx<'_>, i: u32, error: TransportFailure) {
    let id = ctx.id(i);
    ctx.event(Event::TransportError { id, error });
    ctx.terminate(i);
}
