//! The daily backup, as the shell runs it: a thread of its own, on a connection of its
//! own (`backup::make_backup_of_file` opens the file read-only), so the guard's post and
//! the till never wait for it. Its last failure is kept for the Backups screen
//! (`backup_schedule`).

use chrono::{DateTime, Utc};
use schoolcard_core::backup::{self, BackupReason};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tauri::State;

/// How often the thread looks at the clock. A failed backup is tried again this much
/// later; a laptop that slept past the hour catches up within it.
pub const BACKUP_CHECK_EVERY_MINUTES: u64 = 10;
/// The first look waits this long after start-up, so the backup does not compete with
/// the window's first screens and the hub starting.
pub const BACKUP_FIRST_CHECK_AFTER_SECONDS: u64 = 60;

/// What the Backups screen shows of the schedule.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ScheduleState {
    pub running: bool,
    pub last_ok_at: Option<DateTime<Utc>>,
    pub last_file: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

/// The schedule's state, shared with its thread.
pub struct BackupSchedule(pub Arc<Mutex<ScheduleState>>);

impl BackupSchedule {
    /// Starts the thread for the open database; without one there is nothing to back up.
    pub fn start(db_path: Option<PathBuf>) -> BackupSchedule {
        let state = Arc::new(Mutex::new(ScheduleState::default()));
        let Some(db_path) = db_path else {
            return BackupSchedule(state);
        };
        let shared = state.clone();
        let spawned = std::thread::Builder::new()
            .name("backups".into())
            .spawn(move || {
                std::thread::sleep(Duration::from_secs(BACKUP_FIRST_CHECK_AFTER_SECONDS));
                loop {
                    check_once(&db_path, &shared, Utc::now());
                    std::thread::sleep(Duration::from_secs(BACKUP_CHECK_EVERY_MINUTES * 60));
                }
            });
        match spawned {
            Ok(_) => lock(&state).running = true,
            Err(e) => {
                tracing::error!("the backup schedule cannot start: {e}");
                let mut s = lock(&state);
                s.last_error_at = Some(Utc::now());
                s.last_error = Some(format!("the backup schedule cannot start: {e}"));
            }
        }
        BackupSchedule(state)
    }
}

fn lock(state: &Mutex<ScheduleState>) -> std::sync::MutexGuard<'_, ScheduleState> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Makes the scheduled backup when `backup::scheduled_due` says so (a day after the newest,
/// or at once when there is none).
fn check_once(db_path: &std::path::Path, state: &Mutex<ScheduleState>, now: DateTime<Utc>) {
    let due = match backup::newest_scheduled(&backup::backup_dir(db_path)) {
        Ok(newest) => backup::scheduled_due(newest.map(|b| b.taken_at), now),
        // Not knowing the newest, a copy every check would push the daily ones out.
        Err(e) => {
            tracing::error!("cannot list the backups: {e}");
            let mut s = lock(state);
            s.last_error_at = Some(now);
            s.last_error = Some(e.to_string());
            return;
        }
    };
    if !due {
        return;
    }
    match backup::make_backup_of_file(db_path, BackupReason::Scheduled, now) {
        Ok(info) => {
            tracing::info!(file = %info.file, "scheduled backup made");
            let mut s = lock(state);
            s.last_ok_at = Some(now);
            s.last_file = Some(info.file);
        }
        Err(e) => {
            tracing::error!("the scheduled backup failed: {e}");
            let mut s = lock(state);
            s.last_error_at = Some(now);
            s.last_error = Some(e.to_string());
        }
    }
}

/// The schedule's state for the Backups screen.
#[tauri::command]
pub fn backup_schedule(schedule: State<'_, BackupSchedule>) -> ScheduleState {
    lock(&schedule.0).clone()
}
