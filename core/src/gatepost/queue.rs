//! Group commit: events from the gates go into the journal from one thread with its own
//! connection, many per transaction.
//!
//! ```text
//! append(event) ──channel──▶ writer thread: take one, then every event already waiting
//!                            (up to BATCH_EVENTS_MAX) ──▶ Store::write (one transaction)
//!                            busy / failed? keep the batch, wait, try again
//! ```
//!
//! `append` never waits for the database: a gate's decision is made and the gate
//! commanded before the passage is written. Batching is natural: while one transaction
//! commits (an fsync), the next events queue up and go together in the next one, so a
//! morning rush costs one fsync per batch, not per pupil, and a lone tap is written at
//! once. A batch that fails (the database locked by another writer beyond its busy
//! timeout, a full disk) is kept and retried: an event is lost only if the process dies
//! before its batch commits.

use crate::error::CoreResult;
use crate::events::EventBody;
use crate::store::Store;
use chrono::{DateTime, Utc};
use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

/// Most events written in one transaction. Large enough that a rush of thousands of
/// passes a second needs only a few commits; small enough that one transaction holds the
/// write lock for milliseconds, not seconds.
pub const BATCH_EVENTS_MAX: usize = 2_000;

/// First wait before writing a failed batch again, in milliseconds; it doubles up to
/// [`RETRY_DELAY_MAX_MS`].
pub const RETRY_DELAY_INITIAL_MS: u64 = 20;

/// Longest wait between attempts to write a failed batch, in milliseconds.
pub const RETRY_DELAY_MAX_MS: u64 = 1_000;

/// The WAL may grow to this many pages (4 KiB each: 40 MiB) before a commit of the gates'
/// writer checkpoints it; normally the writer checkpoints when idle for
/// [`IDLE_POLL_MS`], long before. Bounds the WAL if the gates are never idle.
pub const WAL_AUTOCHECKPOINT_PAGES: i64 = 10_000;

/// How often the idle writer looks at its stop signal (and checkpoints), in milliseconds.
pub const IDLE_POLL_MS: u64 = 100;

/// One event to append.
struct Pending {
    actor: String,
    at: DateTime<Utc>,
    body: EventBody,
}

enum Job {
    // Boxed: an event is a few hundred bytes, a flush a pointer.
    Append(Box<Pending>),
    /// Answered once every event queued before it is committed.
    Flush(mpsc::Sender<()>),
}

/// What the writer has done, for the device screen and the benchmark.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Events committed.
    pub written: u64,
    /// Transactions committed.
    pub batches: u64,
    /// Failed attempts to commit a batch (each retried).
    pub failures: u64,
    /// The last failure, for display.
    pub last_error: Option<String>,
    /// Events waiting in a batch that failed and will be retried.
    pub held: usize,
    /// Checkpoints made in quiet moments.
    pub checkpoints: u64,
}

/// The journal writer of the gates.
pub struct JournalQueue {
    device: String,
    jobs: Option<mpsc::Sender<Job>>,
    stats: Arc<Mutex<QueueStats>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl JournalQueue {
    /// Opens its own connection to the database at `path` and starts the writer.
    pub fn start(path: &Path) -> CoreResult<JournalQueue> {
        let store = Store::open(path)?;
        let device = store.device().to_string();
        let stats = Arc::new(Mutex::new(QueueStats::default()));
        let (jobs, jobs_rx) = mpsc::channel();
        let thread = {
            let stats = Arc::clone(&stats);
            thread::Builder::new()
                .name("journal queue".into())
                .spawn(move || run(store, &jobs_rx, &stats))
                .map_err(crate::error::StoreError::Io)?
        };
        Ok(JournalQueue {
            device,
            jobs: Some(jobs),
            stats,
            thread: Some(thread),
        })
    }

    /// The journal actor of this workstation itself (`device:<id>`), for what no person
    /// did: a pass decided by the rules, a fire alarm.
    pub fn device_actor(&self) -> String {
        format!("device:{}", self.device)
    }

    /// Queues an event; returns at once.
    pub fn append(&self, actor: impl Into<String>, at: DateTime<Utc>, body: EventBody) {
        if let Some(jobs) = &self.jobs {
            let pending = Pending {
                actor: actor.into(),
                at,
                body,
            };
            if jobs.send(Job::Append(Box::new(pending))).is_err() {
                tracing::error!("the journal queue has stopped; an event was not written");
            }
        }
    }

    /// Waits until every event queued so far is committed, at most `timeout`; returns
    /// whether they were.
    pub fn flush(&self, timeout: Duration) -> bool {
        let Some(jobs) = &self.jobs else {
            return false;
        };
        let (done, done_rx) = mpsc::channel();
        if jobs.send(Job::Flush(done)).is_err() {
            return false;
        }
        done_rx.recv_timeout(timeout).is_ok()
    }

    pub fn stats(&self) -> QueueStats {
        self.stats
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for JournalQueue {
    /// Writes what is queued (retrying as usual) and stops the writer.
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(mut store: Store, jobs: &mpsc::Receiver<Job>, stats: &Mutex<QueueStats>) {
    // Checkpoints (copying the WAL into the database file) wait for a quiet moment
    // instead of landing on whichever commit crosses SQLite's default 1,000 pages: in
    // the morning rush that commit would hold every pass behind it.
    if let Err(e) = store
        .conn()
        .pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES)
    {
        tracing::warn!("cannot defer checkpoints of the gates' writer: {e}");
    }
    let mut written_since_checkpoint = false;
    let mut batch: Vec<Pending> = Vec::new();
    let mut waiting: Vec<mpsc::Sender<()>> = Vec::new();
    let mut open = true;
    let mut delay = Duration::from_millis(RETRY_DELAY_INITIAL_MS);
    while open || !batch.is_empty() {
        if batch.is_empty() && waiting.is_empty() {
            match jobs.recv_timeout(Duration::from_millis(IDLE_POLL_MS)) {
                Ok(job) => take(job, &mut batch, &mut waiting),
                Err(RecvTimeoutError::Timeout) => {
                    if written_since_checkpoint {
                        prune_holder_changes(&mut store);
                        // Passive: never waits for readers, never blocks a writer.
                        let done = store.conn().query_row(
                            "PRAGMA wal_checkpoint(PASSIVE)",
                            [],
                            |_| Ok(()),
                        );
                        if done.is_ok() {
                            stats
                                .lock()
                                .unwrap_or_else(PoisonError::into_inner)
                                .checkpoints += 1;
                        }
                        written_since_checkpoint = false;
                    }
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        // Everything already waiting goes in the same transaction.
        while batch.len() < BATCH_EVENTS_MAX {
            match jobs.try_recv() {
                Ok(job) => take(job, &mut batch, &mut waiting),
                Err(mpsc::TryRecvError::Empty) => break,
                Err(mpsc::TryRecvError::Disconnected) => {
                    open = false;
                    break;
                }
            }
        }
        if batch.is_empty() {
            for done in waiting.drain(..) {
                let _ = done.send(());
            }
            continue;
        }
        let started = Instant::now();
        let written = store.write(|w| {
            for pending in &batch {
                w.append(&pending.actor, pending.at, pending.body.clone())?;
            }
            Ok::<(), crate::error::StoreError>(())
        });
        let mut stats = stats.lock().unwrap_or_else(PoisonError::into_inner);
        match written {
            Ok(()) => {
                written_since_checkpoint = true;
                stats.written += batch.len() as u64;
                stats.batches += 1;
                stats.held = 0;
                tracing::trace!(events = batch.len(), elapsed = ?started.elapsed(), "journal batch");
                batch.clear();
                delay = Duration::from_millis(RETRY_DELAY_INITIAL_MS);
                drop(stats);
                for done in waiting.drain(..) {
                    let _ = done.send(());
                }
            }
            Err(error) => {
                stats.failures += 1;
                stats.last_error = Some(error.to_string());
                stats.held = batch.len();
                drop(stats);
                tracing::warn!(
                    events = batch.len(),
                    "journal batch not written, retrying: {error}"
                );
                thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_millis(RETRY_DELAY_MAX_MS));
            }
        }
    }
    for done in waiting.drain(..) {
        let _ = done.send(());
    }
}

fn take(job: Job, batch: &mut Vec<Pending>, waiting: &mut Vec<mpsc::Sender<()>>) {
    match job {
        Job::Append(pending) => batch.push(*pending),
        Job::Flush(done) => waiting.push(done),
    }
}

/// Trims the gate post's change log while the gates are quiet, without waiting for
/// another writer: if the database is busy, it is trimmed next time.
fn prune_holder_changes(store: &mut Store) {
    let _ = store.conn().busy_timeout(Duration::ZERO);
    let pruned = store
        .write(|w| super::holders::prune_changes(w.conn()).map_err(crate::error::StoreError::from));
    if let Err(e) = pruned {
        tracing::debug!("the holder change log is trimmed later: {e}");
    }
    let _ = store
        .conn()
        .busy_timeout(Duration::from_millis(crate::store::BUSY_TIMEOUT_MS));
}
