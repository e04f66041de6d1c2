//! Closing a connection and reporting why: unindexing, the slot given back, the
//! failure counted, the destination blacklisted and every target reported to the
//! application at once.

use std::net::{Shutdown, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use sipcore::transport::Target;

use super::Shared;
use crate::channel::Command;
use crate::clock::ms;
use crate::conn::{write_some, Conn, Phase};
use crate::failure::Close;
use crate::limits::Direction;
use crate::stats::Counters;

impl Shared {
    /// Closes `conn` for `why`: drops its queue, unindexes it, shuts the socket down (its
    /// owner sees that and lets go), counts, blacklists and reports. Idempotent.
    pub(crate) fn close(&self, conn: &Arc<Conn>, why: Close) -> bool {
        if matches!(why, Close::Idle | Close::Shutdown) {
            self.say_goodbye(conn);
        }
        let (dropped, aliases) = {
            let mut w = conn.write.lock();
            if w.phase == Phase::Closed {
                return false;
            }
            w.phase = Phase::Closed;
            w.closed_by = Some(why);
            let n = std::mem::take(&mut w.queued);
            self.stats
                .queued_bytes
                .fetch_sub(n as u64, Ordering::AcqRel);
            (std::mem::take(&mut w.queue), std::mem::take(&mut w.aliases))
        };
        drop(dropped);
        self.unindex(conn, &aliases);
        let _ = conn.stream.shutdown(Shutdown::Both);
        self.release_slot(Direction::of(conn.outbound), conn.peer.ip());
        self.report(conn, why, &aliases);
        self.command(Command::Closed(conn.clone()));
        true
    }

    /// Takes `conn` out of the index (no new sends use it) without closing it: a failed
    /// connection that drains its input first.
    pub(crate) fn retire(&self, conn: &Arc<Conn>) -> Vec<SocketAddr> {
        let aliases = std::mem::take(&mut conn.write.lock().aliases);
        self.unindex(conn, &aliases);
        aliases
    }

    pub(super) fn unindex(&self, conn: &Arc<Conn>, aliases: &[SocketAddr]) {
        self.table.remove(&conn.peer, conn);
        if conn.name.is_some() {
            self.table.remove_named(&conn.peer, conn);
        }
        for a in aliases {
            self.table.remove(a, conn);
        }
    }

    /// Before a silent close, writes what ends the layer's session cleanly (TLS
    /// `close_notify`) if the socket takes it now. Skipped when the layer is busy (the
    /// caller may hold its lock) or writes are queued.
    pub(super) fn say_goodbye(&self, conn: &Conn) {
        let Some(mut slot) = conn.layer.as_deref().and_then(|s| s.try_lock()) else {
            return;
        };
        let w = conn.write.lock();
        if w.phase != Phase::Open || !w.queue.is_empty() || !slot.ready {
            return;
        }
        let mut out = Vec::new();
        slot.session.close(&mut out);
        if !out.is_empty() {
            let _ = write_some(&conn.stream, &out);
        }
    }

    /// Counts, blacklists and reports a failure of `conn` (its peer and aliases).
    pub(crate) fn report(&self, conn: &Conn, why: Close, aliases: &[SocketAddr]) {
        let targets = || std::iter::once(conn.peer).chain(aliases.iter().copied());
        self.count_and_blacklist(why, targets());
        if why.error(self.kind, conn.peer).is_some() {
            for addr in targets() {
                if let Some(err) = why.error(self.kind, addr) {
                    Counters::inc(&self.stats.reported);
                    let target = Target::new(self.kind, addr);
                    if sipcore::runtime::catch(|| self.events.on_transport_error(target, err))
                        .is_none()
                    {
                        Counters::inc(&self.stats.callback_panics);
                    }
                }
            }
        }
    }

    pub(super) fn count_and_blacklist(
        &self,
        why: Close,
        targets: impl Iterator<Item = SocketAddr>,
    ) {
        if let Some(c) = why.counter(&self.stats) {
            Counters::inc(c);
        }
        if why == Close::Truncated {
            Counters::inc(&self.stats.truncated);
        }
        if !why.blacklists() || self.config.blacklist_ttl.is_zero() {
            return;
        }
        let now = self.now();
        let until = now.saturating_add(ms(self.config.blacklist_ttl));
        for addr in targets {
            if self.blacklist.insert(addr, until, now) {
                Counters::inc(&self.stats.blacklisted);
            }
        }
    }
}
