//! Waking the timer thread when a worker arms a timer earlier than the thread planned
//! to wake up — without a lock on the common path.
//!
//! The thread publishes its planned wake-up (`planned`, nanoseconds from an epoch;
//! [`RUNNING`] while it works). A worker that armed a timer reads it: later than the
//! timer by more than the slack → it takes the lock and wakes the thread; otherwise
//! nothing (one atomic load per message where a mutex was taken before). While the
//! thread is running, the worker leaves its deadline in `pending`, which the thread
//! takes before it sleeps; the order of those operations (thread: publish, then take
//! `pending`; worker: leave, then re-read `planned`) makes sure a deadline left just
//! after the thread looked is seen by the worker's re-read, which then wakes it.

use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

/// `planned` while the timer thread is running (it reads the layer's deadline next).
const RUNNING: u64 = u64::MAX;

#[derive(Debug)]
pub(crate) struct TimerWake {
    epoch: Instant,
    planned: AtomicU64,
    pending: AtomicU64,
    slack: Duration,
    lock: Mutex<()>,
    cv: Condvar,
}

impl TimerWake {
    pub(crate) fn new(epoch: Instant, slack: Duration) -> TimerWake {
        TimerWake {
            epoch,
            planned: AtomicU64::new(RUNNING),
            pending: AtomicU64::new(u64::MAX),
            slack,
            lock: Mutex::new(()),
            cv: Condvar::new(),
        }
    }

    fn ns(&self, t: Instant) -> u64 {
        u64::try_from(t.saturating_duration_since(self.epoch).as_nanos())
            .unwrap_or(u64::MAX - 1)
            .min(u64::MAX - 1)
    }

    fn at(&self, ns: u64) -> Instant {
        self.epoch + Duration::from_nanos(ns)
    }

    /// A worker armed a timer due at `armed`.
    pub(crate) fn armed(&self, armed: Instant) {
        let a = self.ns(armed);
        let slack = u64::try_from(self.slack.as_nanos()).unwrap_or(0);
        let p = self.planned.load(SeqCst);
        if p == RUNNING {
            self.pending.fetch_min(a, SeqCst);
            // The thread may have taken `pending` just before: it has published its
            // plan by then, and the plan is checked below.
            let p = self.planned.load(SeqCst);
            if p == RUNNING || a.saturating_add(slack) >= p {
                return;
            }
        } else if a.saturating_add(slack) >= p {
            return;
        }
        let _g = self.lock.lock();
        let p = self.planned.load(SeqCst);
        if p != RUNNING && a.saturating_add(slack) < p {
            self.planned.store(a, SeqCst);
            self.cv.notify_one();
        }
    }

    /// The timer thread sleeps until `next` (or an earlier deadline a worker left, or
    /// a wake-up); then it is running again.
    pub(crate) fn sleep_until(&self, next: Instant, now: impl Fn() -> Instant) {
        let mut g = self.lock.lock();
        let mut n = self.ns(next);
        self.planned.store(n, SeqCst);
        let left = self.pending.swap(u64::MAX, SeqCst);
        if left < n {
            n = left;
            self.planned.store(n, SeqCst);
        }
        let until = self.at(n);
        if until > now() {
            self.cv.wait_until(&mut g, until);
        }
        self.planned.store(RUNNING, SeqCst);
    }

    /// Wakes the thread (shutdown).
    pub(crate) fn wake_all(&self) {
        let _g = self.lock.lock();
        self.cv.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[allow(clippy::disallowed_methods)] // real threads and a real condvar under test
    fn now() -> Instant {
        Instant::now()
    }

    #[test]
    fn an_earlier_timer_wakes_the_sleeping_thread_a_later_one_does_not() {
        let w = Arc::new(TimerWake::new(now(), Duration::from_millis(20)));
        let t = w.clone();
        let start = now();
        let sleeper = std::thread::spawn(move || {
            t.sleep_until(now() + Duration::from_secs(30), now);
            now()
        });
        // Until the thread has published its plan, arming leaves a pending deadline;
        // either way it must wake well before 30 s.
        while w.planned.load(SeqCst) == RUNNING {
            std::thread::yield_now();
        }
        w.armed(now() + Duration::from_secs(60)); // later: no wake
        w.armed(now()); // earlier: wake
        let woke = sleeper.join().unwrap();
        assert!(woke.duration_since(start) < Duration::from_secs(30));
        assert_eq!(w.planned.load(SeqCst), RUNNING);
    }

    #[test]
    fn a_deadline_left_while_running_shortens_the_next_sleep() {
        let w = TimerWake::new(now(), Duration::from_millis(20));
        // Running: the worker leaves its deadline.
        let soon = now() + Duration::from_millis(1);
        w.armed(soon);
        assert_eq!(w.pending.load(SeqCst), w.ns(soon));
        // The thread's next sleep ends at it, not at the 30 s it planned.
        let start = now();
        w.sleep_until(now() + Duration::from_secs(30), now);
        assert!(now().duration_since(start) < Duration::from_secs(30));
        assert_eq!(w.pending.load(SeqCst), u64::MAX);
    }
}
