//! What every device thread's handle shares: stopping it within a bound.

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Waits at most `timeout` for a device thread to say it is done (a message or a dropped
/// sender on `done`), calling `nudge` first and again every `nudge_every` (a PC/SC
/// watcher must be woken out of a blocking call; others pass a no-op). Joins the thread
/// when it ends in time and returns `true`; otherwise leaves it behind, logs, and
/// returns `false` — a stuck driver never blocks the caller for longer than `timeout`.
pub(crate) fn join_within(
    thread: JoinHandle<()>,
    done: &Receiver<()>,
    timeout: Duration,
    nudge_every: Duration,
    what: &str,
    mut nudge: impl FnMut(),
) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        nudge();
        let left = deadline.saturating_duration_since(Instant::now());
        match done.recv_timeout(left.min(nudge_every)) {
            Err(RecvTimeoutError::Disconnected) | Ok(()) => {
                if thread.join().is_err() {
                    tracing::error!(thread = what, "device thread panicked");
                }
                return true;
            }
            Err(RecvTimeoutError::Timeout) if left.is_zero() => {
                tracing::warn!(
                    thread = what,
                    ?timeout,
                    "device thread did not stop; left behind"
                );
                return false;
            }
            Err(RecvTimeoutError::Timeout) => {}
        }
    }
}
