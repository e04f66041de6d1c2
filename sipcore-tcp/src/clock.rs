//! The manager's clock: milliseconds since the transport started.
//!
//! The connection manager is a runtime, not sans-IO code, so it reads the clock; it does so
//! only here. Times are `u64` milliseconds starting at 1, so `0` can mean "never" in an
//! atomic field.

use std::time::{Duration, Instant};

/// A monotonic millisecond clock shared by the manager's threads.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    start: Instant,
}

impl Clock {
    /// A clock that reads 1 now.
    #[allow(clippy::disallowed_methods)] // the runtime owns the clock (see module docs)
    pub(crate) fn new() -> Clock {
        Clock {
            start: Instant::now(),
        }
    }

    /// Milliseconds since [`Clock::new`], plus one.
    pub(crate) fn now_ms(&self) -> u64 {
        ms(self.start.elapsed()).saturating_add(1)
    }
}

/// A duration in whole milliseconds, saturating.
pub(crate) fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
