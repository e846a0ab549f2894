//! The background sync with the central server, as the shell runs it: one worker per
//! open database, woken by "sync now" and after enrolment; each attempt tells the window
//! (`sync` event) so the status bar is current, and arrivals reload the gate post's rules.

use crate::commands::Devices;
use schoolcard_core::sync::worker::{Worker, WorkerOptions};
use schoolcard_core::sync::{CycleReport, SyncError};
use serde::Serialize;
use std::path::PathBuf;
use tauri::{AppHandle, Emitter, Manager, State};

/// The window's event after each sync attempt.
pub const SYNC_EVENT: &str = "sync";

#[derive(Debug, Clone, Serialize)]
struct Attempt {
    ok: bool,
    pushed: u64,
    pulled: u64,
    error: Option<String>,
}

/// The worker of the open database; `None` when the database could not be opened.
pub struct SyncWorker(pub Option<Worker>);

impl SyncWorker {
    pub fn start(app: &AppHandle, db_path: Option<PathBuf>) -> SyncWorker {
        let Some(db_path) = db_path else {
            return SyncWorker(None);
        };
        let handle = app.clone();
        let observer = Box::new(move |result: Result<CycleReport, &SyncError>| {
            let attempt = match result {
                Ok(report) => {
                    if report.pulled > 0 {
                        if let Some(hub) = &handle.state::<Devices>().0 {
                            hub.reload_rules();
                        }
                    }
                    Attempt {
                        ok: true,
                        pushed: report.pushed,
                        pulled: report.pulled,
                        error: None,
                    }
                }
                Err(e) => Attempt {
                    ok: false,
                    pushed: 0,
                    pulled: 0,
                    error: Some(e.to_string()),
                },
            };
            let _ = handle.emit(SYNC_EVENT, attempt);
        });
        SyncWorker(Some(Worker::spawn(
            db_path,
            WorkerOptions::default(),
            observer,
        )))
    }

    pub fn wake(&self) {
        if let Some(worker) = &self.0 {
            worker.wake();
        }
    }
}

/// "Sync now" from the status bar.
#[tauri::command]
pub fn sync_now(worker: State<'_, SyncWorker>) {
    worker.wake();
}
