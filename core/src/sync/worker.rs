//! The background sync: one thread with its own connection to the database file, a sync
//! cycle every few seconds, exponential back-off while the server cannot be reached, and
//! a wake-up for "sync now" and right after enrolment.

use super::http::{HttpTransport, Timeouts};
use super::{record_attempt, sync_once, Batches, CycleReport, SyncError};
use crate::store::Store;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub struct WorkerOptions {
    /// Between cycles while all is well.
    pub interval: Duration,
    /// The first retry after a failure; each further failure doubles it.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    pub batches: Batches,
    pub timeouts: Timeouts,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions {
            interval: Duration::from_secs(5),
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(120),
            batches: Batches::default(),
            timeouts: Timeouts::default(),
        }
    }
}

/// The wait before the next attempt after `failures` failures in a row: `base`·2ⁿ⁻¹,
/// at most `max`, spread by `jitter` (0..1, a random draw) over ±20 % so that a school's
/// workstations do not knock on the server in step after an outage.
pub fn backoff(failures: u32, base: Duration, max: Duration, jitter: f64) -> Duration {
    let exp = failures.saturating_sub(1).min(20);
    let plain = base.saturating_mul(1u32 << exp).min(max);
    plain.mul_f64(0.8 + 0.4 * jitter.clamp(0.0, 1.0)).min(max)
}

/// A draw in 0..1 from the OS's random source.
fn jitter() -> f64 {
    let mut bytes = [0u8; 4];
    let _ = getrandom::getrandom(&mut bytes);
    f64::from(u32::from_le_bytes(bytes)) / f64::from(u32::MAX)
}

#[derive(Default)]
struct Control {
    wake: bool,
    stop: bool,
}

/// Told after every attempt: what a successful cycle did, or that it failed (the shell
/// refreshes the status bar, and reloads rules when events arrived).
pub type Observer = Box<dyn Fn(Result<CycleReport, &SyncError>) + Send>;

/// The running background sync. Dropping it stops the thread after its current step.
pub struct Worker {
    control: Arc<(Mutex<Control>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl Worker {
    /// Starts syncing the database at `db_path` (a standalone file just waits: enrolling
    /// it and calling [`Worker::wake`] starts the traffic).
    pub fn spawn(db_path: PathBuf, options: WorkerOptions, observer: Observer) -> Worker {
        let control: Arc<(Mutex<Control>, Condvar)> = Arc::default();
        let theirs = control.clone();
        let thread = std::thread::Builder::new()
            .name("sync".into())
            .spawn(move || run(db_path, options, &observer, &theirs))
            .expect("the sync thread starts");
        Worker {
            control,
            thread: Some(thread),
        }
    }

    /// Runs a cycle now instead of at the next tick.
    pub fn wake(&self) {
        let (lock, cvar) = &*self.control;
        lock.lock().expect("sync control lock").wake = true;
        cvar.notify_all();
    }

    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        let (lock, cvar) = &*self.control;
        lock.lock().expect("sync control lock").stop = true;
        cvar.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.halt();
    }
}

fn run(
    db_path: PathBuf,
    options: WorkerOptions,
    observer: &Observer,
    control: &(Mutex<Control>, Condvar),
) {
    let mut store = None;
    loop {
        let delay = match cycle(&db_path, &mut store, &options, observer) {
            Ok(true) => options.interval,
            // Standalone: look again now and then, and at once when woken.
            Ok(false) => options.interval.max(Duration::from_secs(30)),
            Err(failures) => backoff(
                failures,
                options.backoff_base,
                options.backoff_max,
                jitter(),
            ),
        };
        let (lock, cvar) = control;
        let guard = lock.lock().expect("sync control lock");
        let (mut guard, _) = cvar
            .wait_timeout_while(guard, delay, |c| !c.wake && !c.stop)
            .expect("sync control lock");
        if guard.stop {
            return;
        }
        guard.wake = false;
    }
}

/// One attempt: `Ok(true)` synced, `Ok(false)` not enrolled, `Err(failures in a row)`.
fn cycle(
    db_path: &std::path::Path,
    store: &mut Option<Store>,
    options: &WorkerOptions,
    observer: &Observer,
) -> Result<bool, u32> {
    if store.is_none() {
        match Store::open(db_path) {
            Ok(s) => *store = Some(s),
            Err(e) => {
                tracing::error!(error = %e, "sync cannot open the database");
                return Err(1);
            }
        }
    }
    let store = store.as_mut().expect("opened above");
    let enrolment = match super::enrolment(store.conn()) {
        Ok(found) => found,
        Err(e) => {
            tracing::error!(error = %e, "sync cannot read its enrolment");
            return Err(1);
        }
    };
    let Some((enrolment, secret)) = enrolment else {
        return Ok(false);
    };
    let now = chrono::Utc::now();
    let result = HttpTransport::new(
        &enrolment.server_url,
        store.device().as_str(),
        &secret,
        options.timeouts,
    )
    .and_then(|transport| sync_once(store, &transport, options.batches));
    let outcome: Result<(), &SyncError> = match &result {
        Ok(report) => {
            if report.pushed + report.pulled > 0 {
                tracing::info!(pushed = report.pushed, pulled = report.pulled, "synced");
            }
            Ok(())
        }
        Err(e) => {
            if e.needs_attention() {
                tracing::error!(error = %e, "sync needs attention");
            } else {
                tracing::warn!(error = %e, "sync will retry");
            }
            Err(e)
        }
    };
    if let Err(e) = record_attempt(store, now, outcome) {
        tracing::error!(error = %e, "sync cannot record its status");
    }
    observer(result.as_ref().map(|r| *r));
    match result {
        Ok(_) => Ok(true),
        Err(_) => Err(super::status(store.conn(), store.device()).map_or(1, |s| s.failures.max(1))),
    }
}
