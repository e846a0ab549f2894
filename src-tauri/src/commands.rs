//! The Tauri commands: the only things the web view can call. Each one adapts JSON from the
//! UI to `schoolcard_core` and back; none has rules of its own.

use chrono::{DateTime, Utc};
use schoolcard_core::workstation::Progress;
use schoolcard_core::{Command, CoreError, Workstation};
use serde::Serialize;
use serde_json::Value;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tauri::{AppHandle, Emitter, State};

/// Name of the event that carries `Progress` of long commands to the UI.
pub const PROGRESS_EVENT: &str = "progress";

/// A progress bar repaints at most this often: a 10,000-row import would otherwise send
/// 10,000 events through the IPC for a bar nobody can read that fast.
const PROGRESS_INTERVAL_MS_MIN: u64 = 50;

/// What the shell holds for the window's lifetime.
pub struct Shell {
    /// One workstation, one writer: commands run one at a time, in arrival order. An
    /// error when the database could not be opened: every command then answers with it.
    pub workstation: Result<Arc<Mutex<Workstation>>, ErrorDto>,
    pub info: AppInfo,
    /// When the process started, for `ready <ms>`.
    pub started: Instant,
    pub report_ready: bool,
    pub ready_reported: AtomicBool,
}

/// What the UI needs to know about how the shell was started. (Whether the school is the
/// demo, and its accounts, is the core's answer to `get_school`.)
#[derive(Debug, Clone, Serialize)]
pub struct AppInfo {
    pub version: &'static str,
    pub db_path: String,
    /// `--lang`, if given; otherwise the UI keeps the user's last choice.
    pub lang: Option<&'static str>,
}

/// An error as the UI receives it: a stable `code` (the kind: `invalid`, `conflict`, …)
/// and for those two a `reason` (`card_taken`, `too_short`, …) with the `params` its
/// sentence needs, which the message catalogue translates; the English message for logs;
/// the offending field of an invalid input; for a locked account the instant it unlocks.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorDto {
    pub code: &'static str,
    pub reason: Option<&'static str>,
    pub params: BTreeMap<&'static str, String>,
    pub message: String,
    pub field: Option<String>,
    pub until: Option<DateTime<Utc>>,
}

impl ErrorDto {
    pub fn new(code: &'static str, message: impl Into<String>) -> ErrorDto {
        ErrorDto {
            code,
            reason: None,
            params: BTreeMap::new(),
            message: message.into(),
            field: None,
            until: None,
        }
    }
}

impl From<CoreError> for ErrorDto {
    fn from(e: CoreError) -> ErrorDto {
        let mut dto = ErrorDto::new(e.code(), e.to_string());
        dto.reason = e.reason().map(|r| r.as_str());
        match e {
            CoreError::Invalid { field, params, .. } => {
                dto.field = Some(field);
                dto.params = params;
            }
            CoreError::Conflict { params, .. } => dto.params = params,
            CoreError::AccountLocked { until } => dto.until = Some(until),
            _ => {}
        }
        dto
    }
}

/// Runs one core command. The JSON is `Command` (`{"type": "sign_in_password", ...}`); it
/// runs on a blocking thread so a long import never freezes the window, and its progress
/// arrives as `progress` events.
#[tauri::command]
pub async fn execute(
    app: AppHandle,
    shell: State<'_, Shell>,
    cmd: Value,
) -> Result<Value, ErrorDto> {
    let command: Command = serde_json::from_value(cmd)
        .map_err(|e| ErrorDto::new("bad_command", format!("not a command: {e}")))?;
    let workstation = shell.workstation.clone()?;
    tauri::async_runtime::spawn_blocking(move || {
        // A panic in an earlier command must not lock the school out: the store's writes
        // are transactions, so the state behind a poisoned lock is still consistent.
        let mut workstation = workstation.lock().unwrap_or_else(PoisonError::into_inner);
        let last_sent: Cell<Option<(Instant, String)>> = Cell::new(None);
        let progress = |p: Progress| {
            let previous = last_sent.take();
            let due = match &previous {
                None => true,
                Some((at, stage)) => {
                    *stage != p.stage
                        || p.done >= p.total
                        || at.elapsed() >= Duration::from_millis(PROGRESS_INTERVAL_MS_MIN)
                }
            };
            if due {
                let _ = app.emit(PROGRESS_EVENT, &p);
                last_sent.set(Some((Instant::now(), p.stage)));
            } else {
                last_sent.set(previous);
            }
        };
        workstation.execute(command, Utc::now(), &progress)
    })
    .await
    .map_err(|e| ErrorDto::new("internal", format!("the command failed inside: {e}")))?
    .map_err(ErrorDto::from)
}

/// How the shell was started (demo mode, the language asked for, the database file).
#[tauri::command]
pub fn app_info(shell: State<'_, Shell>) -> AppInfo {
    shell.info.clone()
}

/// The sign-in screen calls this once it is on screen. With `SCHOOLCARD_REPORT_READY=1`
/// the first call prints `ready <ms since process start>` for the cold-start benchmark.
#[tauri::command]
pub fn ui_ready(shell: State<'_, Shell>) {
    if shell.report_ready && !shell.ready_reported.swap(true, Ordering::SeqCst) {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "ready {}", shell.started.elapsed().as_millis());
        let _ = out.flush();
    }
}
