//! Every deadline of the connections the supervisor watches (connect, handshake, send,
//! read, keep-alive, idle lifetime) on one timer wheel: a connection's deadlines are
//! evaluated when its timer fires or its state changes, never by a scan.

use std::sync::atomic::Ordering;

use super::{Owner, Supervisor};
use crate::clock::ms;
use crate::conn::Phase;
use crate::failure::Close;
use crate::shared::PING;
use crate::stats::Counters;

impl Supervisor {
    pub(super) fn run_timers(&mut self) {
        let now = self.shared.now();
        let mut expired = std::mem::take(&mut self.expired);
        expired.clear();
        self.wheel.advance(now, &mut expired);
        for &(k, deadline) in &expired {
            if let Some(e) = self.conns.get_mut(k) {
                if !e.dead && e.armed == Some(deadline) {
                    e.armed = None;
                    self.evaluate(k, now);
                }
            }
        }
        self.expired = expired;
    }

    /// Checks every deadline of connection `k`: acts on the expired one, else arms the
    /// wheel for the earliest. Called when its timer fires or its state changed; cheap to
    /// call spuriously.
    pub(super) fn evaluate(&mut self, k: usize, now: u64) {
        let cfg = &self.shared.config;
        let Some(entry) = self.conns.get(k) else {
            return;
        };
        if entry.dead {
            return;
        }
        let conn = entry.conn.clone();
        let (phase, queued, progress, ready) = {
            let w = conn.write.lock();
            (w.phase, !w.queue.is_empty(), w.progress_ms, w.ready)
        };
        let mut next = u64::MAX;
        let mut expired = None;
        let mut check = |deadline: u64, why: Close, next: &mut u64| {
            if deadline <= now {
                expired = expired.or(Some(why));
            } else {
                *next = (*next).min(deadline);
            }
        };
        match phase {
            Phase::Closed => return,
            Phase::Connecting => check(
                conn.created_ms.saturating_add(ms(cfg.connect_timeout)),
                Close::ConnectTimeout,
                &mut next,
            ),
            Phase::Open => {}
        }
        if !ready {
            // The stream layer's handshake, whoever owns the connection now.
            check(
                conn.created_ms.saturating_add(ms(cfg.handshake_timeout)),
                Close::HandshakeTimeout,
                &mut next,
            );
        }
        if queued {
            check(
                progress.saturating_add(ms(cfg.send_timeout)),
                Close::SendTimeout,
                &mut next,
            );
        }
        let mut ping = false;
        if entry.owner == Owner::Supervisor {
            if let Some(read) = &entry.read {
                if let Some(since) = read.partial_since {
                    let why = if read.draining {
                        Close::Drained
                    } else {
                        Close::ReadTimeout
                    };
                    check(since.saturating_add(ms(cfg.read_timeout)), why, &mut next);
                }
            }
            if phase == Phase::Open && ready {
                let last = conn.last_activity();
                if let (Some(interval), true) = (cfg.keepalive_interval, conn.outbound) {
                    let sent = conn.ping_sent.load(Ordering::Relaxed);
                    if sent != 0 {
                        check(
                            sent.saturating_add(ms(cfg.keepalive_timeout)),
                            Close::KeepaliveTimeout,
                            &mut next,
                        );
                    } else {
                        let at = last.saturating_add(ms(interval));
                        if at <= now {
                            ping = true;
                        } else {
                            next = next.min(at);
                        }
                    }
                }
                if !queued && !ping {
                    check(
                        last.saturating_add(ms(cfg.connection_lifetime)),
                        Close::Idle,
                        &mut next,
                    );
                }
            }
        }
        if let Some(why) = expired {
            self.shared.close(&conn, why);
            return;
        }
        if ping {
            conn.ping_sent.store(now, Ordering::Relaxed);
            Counters::inc(&self.shared.stats.pings_sent);
            self.shared.send_raw(&conn, PING);
            next = next.min(now.saturating_add(ms(cfg.keepalive_timeout)));
        }
        if next == u64::MAX {
            return;
        }
        if let Some(e) = self.conns.get_mut(k) {
            if e.armed.is_none_or(|a| next < a) {
                e.armed = Some(next);
                self.wheel.insert(k, next);
            }
        }
    }
}
