//! What a panic does in the runtime's threads: the policy, in one place.
//!
//! - **A panic in application code called for one message** (a
//!   [`Handler`](crate::endpoint::Handler) method, a stream transport's
//!   [`MessageSink`](crate::transport::MessageSink)) is caught around that one call
//!   ([`catch`]): the message is dropped, the panic is counted
//!   ([`CounterSnapshot::handler_panics`](crate::endpoint::CounterSnapshot::handler_panics),
//!   `TcpStats::sink_panics` in `sipcore-tcp`) and reported by the panic hook (the
//!   default one prints it to stderr), and the thread goes on with the next message.
//!   The transactions the handler left alone time out as usual; a server transaction it
//!   never answered is answered by the layer's own timers.
//! - **A panic in the runtime's own code** (a receiver pool worker, the timer thread,
//!   the TCP supervisor and workers, outside those calls) aborts the process
//!   ([`spawn`]). Such a thread owns sockets, connections or timers that no other
//!   thread takes over; a process that kept running without it would hold calls it can
//!   no longer serve, and look alive to its supervisor (systemd, Kubernetes), which
//!   restarts a dead process but not a half-dead one.

use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::thread::JoinHandle;

/// Runs one call of application code: `Some` with its result, `None` when it panicked
/// (the panic hook has reported it; the caller counts it and drops the message).
///
/// Unwind safety is asserted: what the call could leave half-changed is the
/// application's own state, and the runtime's (a transaction table shard, a
/// connection's write state) is never locked across such a call.
pub fn catch<R>(call: impl FnOnce() -> R) -> Option<R> {
    catch_unwind(AssertUnwindSafe(call)).ok()
}

/// Spawns a thread of the runtime named `name`: a panic that unwinds out of `body`
/// aborts the process (see the module documentation).
///
/// # Errors
/// The thread could not be created.
pub fn spawn<T: Send + 'static>(
    name: String,
    body: impl FnOnce() -> T + Send + 'static,
) -> io::Result<JoinHandle<T>> {
    std::thread::Builder::new().name(name).spawn(move || {
        let _guard = AbortOnPanic;
        body()
    })
}

/// Aborts the process if dropped while its thread unwinds from a panic.
struct AbortOnPanic;

impl Drop for AbortOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let t = std::thread::current();
            eprintln!(
                "sipcore: runtime thread {} panicked; aborting the process",
                t.name().unwrap_or("(unnamed)")
            );
            std::process::abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catch_returns_the_result_or_none_on_panic() {
        assert_eq!(catch(|| 7), Some(7));
        let mut touched = false;
        assert_eq!(
            catch(|| {
                touched = true;
                panic!("handler bug")
            }),
            None::<()>
        );
        assert!(touched);
    }

    #[test]
    fn spawned_threads_run_their_body() {
        let t = spawn("sip-test".into(), || {
            std::thread::current().name().map(str::to_owned)
        });
        assert_eq!(t.unwrap().join().unwrap().as_deref(), Some("sip-test"));
    }
}
