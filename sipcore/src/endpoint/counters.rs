//! Endpoint counters: every refusal and every kind of bad input is counted.

use std::sync::atomic::{AtomicU64, Ordering};

macro_rules! counters {
    ($( $(#[$doc:meta])* $name:ident, )*) => {
        /// Live counters (relaxed atomics; read them with [`snapshot`](Self::snapshot)).
        #[derive(Debug, Default)]
        pub struct Counters {
            $( $(#[$doc])* pub(crate) $name: AtomicU64, )*
        }

        /// A copy of the [`Counters`] at one moment.
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        pub struct CounterSnapshot {
            $( $(#[$doc])* pub $name: u64, )*
        }

        impl Counters {
            /// Reads every counter.
            pub fn snapshot(&self) -> CounterSnapshot {
                CounterSnapshot {
                    $( $name: self.$name.load(Ordering::Relaxed), )*
                }
            }
        }
    };
}

counters! {
    /// Requests received (retransmissions included).
    requests_in,
    /// Responses received.
    responses_in,
    /// Malformed input answered 400.
    malformed_400,
    /// Unsupported SIP version answered 505.
    version_505,
    /// Too-large input answered 513.
    too_large_513,
    /// Bad input that could not be answered (no usable Via, or a response) and was dropped.
    malformed_dropped,
    /// New requests refused with 503 because the transaction limit was reached.
    overload_503,
    /// Datagrams refused with 503 because a dispatcher queue was full.
    queue_full_503,
    /// Datagrams dropped because a dispatcher queue was full and no answer was possible.
    queue_full_dropped,
    /// Keep-alive datagrams (CRLF) ignored.
    keepalives,
    /// Sends that failed.
    send_errors,
    /// Requests moved from UDP to TCP by the size rule.
    moved_to_tcp,
    /// Requests the admission policy refused with 503.
    admission_503,
    /// Requests the admission policy dropped.
    admission_dropped,
    /// Handler calls that panicked: each lost its one event, the thread went on
    /// ([`runtime`](crate::runtime)).
    handler_panics,
}

impl Counters {
    #[inline]
    pub(crate) fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}
