//! A receive queue bounded in time, not only in bytes.
//!
//! Under overload a UDP socket's receive queue fills to its `SO_RCVBUF`; what then
//! hurts is not the drops but the *delay*: once a request waits longer than the
//! sender's retransmission timer (T1, 500 ms), every request is sent again before the
//! first copy is read, the duplicates fill the queue too, and the node serves less the
//! harder it is pushed (measured: a proxy capped at 15 % of a core offered 3× its
//! capacity completed 43 % of it with a 4 MiB buffer, 107 % with 208 KiB). A fixed
//! small buffer is no answer either, since the right size depends on how fast the
//! node drains it: the same queue is 40 ms of work for an idle node and seconds for a
//! throttled one.
//!
//! [`QueueBound`] sizes the buffer from the worker's measured service rate (datagrams
//! handled per second of wall time: under load, what it can serve, a CPU quota's
//! throttling included) so that a full queue holds about `target_delay` of work. It is recomputed every `window`, changed
//! only when it moves by more than a quarter (one `setsockopt` then), and clamped to
//! `min_bytes..=max_bytes`. The calculation is sans-IO ([`QueueBounder`]): time and
//! measurements in, a new size out.

use std::time::Instant;

pub use crate::transport::udp::QueueBound;

/// The sans-IO calculation of one socket's buffer size.
#[derive(Debug, Clone)]
pub struct QueueBounder {
    cfg: QueueBound,
    start: Option<Instant>,
    handled: u64,
    current: usize,
    rate: f64,
}

impl QueueBounder {
    /// A bounder for a socket whose buffer is `current` bytes now.
    pub fn new(cfg: QueueBound, current: usize) -> QueueBounder {
        QueueBounder {
            cfg,
            start: None,
            handled: 0,
            current,
            rate: 0.0,
        }
    }

    /// The size it last asked for (or started with).
    pub fn current(&self) -> usize {
        self.current
    }

    /// The service rate measured over the last window (datagrams per second).
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// One datagram was handled, ending at `now`; `Some(bytes)` when the
    /// buffer should be resized to `bytes`.
    pub fn on_handled(&mut self, now: Instant) -> Option<usize> {
        let start = *self.start.get_or_insert(now);
        self.handled += 1;
        if now.saturating_duration_since(start) < self.cfg.window {
            return None;
        }
        let handled = self.handled;
        let wall = now.saturating_duration_since(start);
        self.start = Some(now);
        self.handled = 0;
        let secs = wall.as_secs_f64();
        if secs <= 0.0 {
            return None;
        }
        // Datagrams served per second of wall time: under load (the queue never
        // empties) that is what the worker can serve, whatever slows it (a CPU quota's
        // throttling included, which the handling time alone does not show); when idle
        // it is below that, and the floor keeps room for bursts.
        let capacity = handled as f64 / secs;
        self.rate = capacity;
        let wanted =
            capacity * self.cfg.target_delay.as_secs_f64() * self.cfg.datagram_bytes as f64;
        let wanted = (wanted as usize).clamp(
            self.cfg.min_bytes,
            self.cfg.max_bytes.max(self.cfg.min_bytes),
        );
        let moved = wanted.abs_diff(self.current) > self.current / 4;
        if moved {
            self.current = wanted;
            Some(wanted)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[allow(clippy::disallowed_methods)] // an arbitrary epoch for the simulated clock
    fn t0() -> Instant {
        Instant::now()
    }

    /// Feeds `n` datagrams, one handled every `every`.
    fn feed(b: &mut QueueBounder, t: &mut Instant, n: u32, every: Duration) -> Option<usize> {
        let mut last = None;
        for _ in 0..n {
            *t += every;
            if let Some(s) = b.on_handled(*t) {
                last = Some(s);
            }
        }
        last
    }

    #[test]
    fn the_buffer_follows_the_service_rate() {
        let cfg = QueueBound::default();
        let mut b = QueueBounder::new(cfg, 4 << 20);
        let mut t = t0();
        // Saturated at 100k datagrams/s: 100 ms of it is 10k datagrams, 20 MB: clamped.
        assert_eq!(
            feed(&mut b, &mut t, 30_000, Duration::from_micros(10)),
            None
        );
        assert_eq!(b.current(), 4 << 20);
        // Throttled to 2500/s (the handling time alone still says 10 µs): 250
        // datagrams, 500 KiB.
        let size = feed(&mut b, &mut t, 2000, Duration::from_micros(400));
        assert_eq!(size, Some(512_000));
        // Fast again: the buffer grows back.
        let size = feed(&mut b, &mut t, 50_000, Duration::from_micros(10));
        assert_eq!(size, Some(4 << 20));
    }

    #[test]
    fn small_moves_do_not_resize_and_the_floor_holds() {
        let cfg = QueueBound::default();
        let mut b = QueueBounder::new(cfg, 512_000);
        let mut t = t0();
        // 10 % slower: within a quarter, no change.
        let size = feed(&mut b, &mut t, 1000, Duration::from_micros(440));
        assert_eq!(size, None);
        // Nearly idle (50 datagrams/s): the floor.
        let mut b = QueueBounder::new(cfg, 512_000);
        let size = feed(&mut b, &mut t, 30, Duration::from_millis(20));
        assert_eq!(size, Some(256 << 10));
    }
}
