//! Handing readable idle connections to workers (least loaded first) and taking them
//! back when they go quiet.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use mio::unix::SourceFd;
use mio::{Interest, Token};

use super::{fd_of, Owner, Supervisor};
use crate::channel::Handoff;
use crate::conn::{Conn, ReadState};
use crate::failure::Close;
use crate::stats::Counters;

impl Supervisor {
    fn pick_worker(&mut self) -> Option<usize> {
        let n = self.workers.len();
        let start = self.next_worker;
        self.next_worker = (start + 1) % n.max(1);
        (0..n).map(|i| (start + i) % n).min_by_key(|&i| {
            self.workers
                .get(i)
                .map_or(usize::MAX, |w| w.load.load(Ordering::Relaxed))
        })
    }

    /// Gives an idle connection that became readable to a worker.
    pub(super) fn handoff(&mut self, k: usize) {
        let Some(w) = self.pick_worker() else {
            return;
        };
        let Some(link) = self.workers.get(w).cloned() else {
            return;
        };
        let Some(entry) = self.conns.get_mut(k) else {
            return;
        };
        let Some(read) = entry.read.take() else {
            return;
        };
        let conn = entry.conn.clone();
        let rereg = self.poll.registry().reregister(
            &mut SourceFd(&fd_of(&conn)),
            Token(k),
            Interest::WRITABLE,
        );
        if let Err(e) = rereg {
            entry.read = Some(read);
            self.shared.close(&conn, Close::from_io(&e));
            return;
        }
        entry.owner = Owner::Worker(w);
        link.load.fetch_add(1, Ordering::Relaxed);
        Counters::inc(&self.shared.stats.handoffs);
        Counters::inc(&self.shared.stats.worker_owned);
        if let Err(back) = link.tx.send(Handoff { conn, read }) {
            // The worker is gone (shutdown): keep the connection here and close it.
            let Handoff { conn, read } = back.into_inner();
            entry.owner = Owner::Supervisor;
            entry.read = Some(read);
            link.load.fetch_sub(1, Ordering::Relaxed);
            Counters::dec(&self.shared.stats.worker_owned);
            self.shared.close(&conn, Close::Shutdown);
            return;
        }
        let _ = link.waker.wake();
    }

    pub(super) fn returned(&mut self, conn: Arc<Conn>, read: ReadState, now: u64) {
        let Some(k) = self.key_of(&conn) else {
            return;
        };
        let Some(entry) = self.conns.get_mut(k) else {
            return;
        };
        if let Owner::Worker(w) = entry.owner {
            if let Some(link) = self.workers.get(w) {
                link.load.fetch_sub(1, Ordering::Relaxed);
            }
            Counters::dec(&self.shared.stats.worker_owned);
        }
        Counters::inc(&self.shared.stats.returns);
        entry.owner = Owner::Supervisor;
        entry.read = Some(read);
        if conn.is_closed() {
            self.remove(k);
            return;
        }
        // Re-adding readable makes epoll report data that arrived meanwhile.
        let rereg = self.poll.registry().reregister(
            &mut SourceFd(&fd_of(&conn)),
            Token(k),
            Interest::READABLE | Interest::WRITABLE,
        );
        match rereg {
            Ok(()) => self.evaluate(k, now),
            Err(e) => {
                self.shared.close(&conn, Close::from_io(&e));
            }
        }
    }
}
