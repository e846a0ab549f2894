//! The Tauri commands: the only things the web view can call. Each one adapts JSON from the
//! UI to `schoolcard_core` and back; none has rules of its own.

use crate::devices::{DeviceHealth, DeviceHub, EmergencyReport};
use chrono::{DateTime, Utc};
use schoolcard_core::events::EmergencySource;
use schoolcard_core::gatepost::post::Presented;
use schoolcard_core::peripherals::{Direction, PeripheralId};
use schoolcard_core::workstation::Progress;
use schoolcard_core::CardId;
use schoolcard_core::{Command, CoreError, Workstation};
use schoolcard_reports as reports;
use serde::Serialize;
use serde_json::Value;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tauri::{AppHandle, Emitter, Manager, State};

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
        let reload = changes_devices(&command);
        let rules = changes_rules(&command);
        let enrolment = matches!(
            command,
            Command::ConnectServer { .. } | Command::DisconnectServer
        );
        let answer = workstation.execute(command, Utc::now(), &progress);
        if answer.is_ok() {
            if let Some(hub) = &app.state::<Devices>().0 {
                if reload {
                    reload_devices(hub, &mut workstation);
                }
                if rules {
                    hub.reload_rules();
                }
            }
            if enrolment {
                app.state::<crate::sync::SyncWorker>().wake();
            }
        }
        answer
    })
    .await
    .map_err(|e| ErrorDto::new("internal", format!("the command failed inside: {e}")))?
    .map_err(ErrorDto::from)
}

/// The devices of this workstation, running; `None` when the hub could not start.
pub struct Devices(pub Option<Arc<DeviceHub>>);

impl Devices {
    /// The hub, or the error the window shows when it could not start.
    pub(crate) fn hub(&self) -> Result<&Arc<DeviceHub>, ErrorDto> {
        self.0
            .as_ref()
            .ok_or_else(|| ErrorDto::new("devices", "the devices are not running"))
    }
}

/// Commands that change the device configuration: the hub restarts from it after them.
fn changes_devices(command: &Command) -> bool {
    matches!(
        command,
        Command::SaveDevice { .. } | Command::RemoveDevice { .. } | Command::RestoreBackup { .. }
    )
}

/// Commands that change what the gate post decides by: the school's zone, the rules.
fn changes_rules(command: &Command) -> bool {
    matches!(
        command,
        Command::ConfigureSchool { .. }
            | Command::ConfigureAccessRules { .. }
            // A restore brings back the backup's rules, cards and presence.
            | Command::RestoreBackup { .. }
    )
}

/// Starts (or restarts) the hub from the workstation's configuration.
pub fn reload_devices(hub: &DeviceHub, workstation: &mut Workstation) {
    let peripherals = workstation.peripherals_here();
    let site_key = workstation.osdp_site_key(Utc::now());
    match (peripherals, site_key) {
        (Ok(peripherals), Ok(site_key)) => hub.reload(peripherals, site_key),
        (Err(e), _) | (_, Err(e)) => tracing::error!("cannot read the device configuration: {e}"),
    }
}

/// Every device's state now (the `device-health` event repeats it on every change).
#[tauri::command]
pub fn device_health(devices: State<'_, Devices>) -> Vec<DeviceHealth> {
    devices
        .0
        .as_ref()
        .map(|hub| hub.health())
        .unwrap_or_default()
}

/// What a port pick-list offers.
#[derive(Debug, Serialize)]
pub struct PortList {
    pub serial: Vec<PortDto>,
    pub pcsc: Vec<String>,
    pub pcsc_error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct PortDto {
    pub path: String,
    pub description: String,
}

/// The serial ports and PC/SC readers of this machine.
#[tauri::command]
pub async fn list_ports() -> PortList {
    tauri::async_runtime::spawn_blocking(|| {
        let (serial, _) = schoolcard_readers::ports::list_serial_ports();
        let (pcsc, pcsc_error) = match schoolcard_readers::pcsc::list_readers() {
            Ok(readers) => (readers, None),
            Err(e) => (Vec::new(), Some(e.to_string())),
        };
        PortList {
            serial: serial
                .into_iter()
                .map(|p| PortDto {
                    path: p.path,
                    description: p.description,
                })
                .collect(),
            pcsc,
            pcsc_error,
        }
    })
    .await
    .unwrap_or(PortList {
        serial: Vec::new(),
        pcsc: Vec::new(),
        pcsc_error: Some("port listing failed".into()),
    })
}

/// Presents a card on a simulated reader (the demo's "click on a pupil").
#[tauri::command]
pub fn simulate_card(
    devices: State<'_, Devices>,
    device_id: PeripheralId,
    card: String,
) -> Result<(), ErrorDto> {
    let card = CardId::parse_canonical(&card)
        .map_err(|e| ErrorDto::new("invalid", format!("{card:?} is not a card id: {e}")))?;
    let hub = devices.hub()?;
    hub.simulate_card(device_id, &card)
        .map_err(|e| ErrorDto::new("devices", e.to_string()))
}

/// Opens a gate one way by hand: the core checks who asks and records it, then the gate
/// opens.
#[tauri::command]
pub async fn open_gate(
    app: AppHandle,
    shell: State<'_, Shell>,
    device_id: PeripheralId,
    direction: Direction,
) -> Result<(), ErrorDto> {
    let workstation = shell.workstation.clone()?;
    tauri::async_runtime::spawn_blocking(move || {
        workstation
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .execute(
                Command::OpenGate {
                    device_id,
                    direction,
                },
                Utc::now(),
                &|_| {},
            )?;
        let devices = app.state::<Devices>();
        let hub = devices.hub()?;
        hub.open_gate(device_id, direction)
            .map_err(|e| ErrorDto::new("devices", e.to_string()))
    })
    .await
    .map_err(|e| ErrorDto::new("internal", format!("the command failed inside: {e}")))?
}

/// The guard's fire button (confirmed on screen): every gate unlocks at once. Like a
/// break-glass button it asks for no sign-in, and it waits for neither the database nor
/// the core: the journal hears of it afterwards.
#[tauri::command]
pub fn fire_unlock(devices: State<'_, Devices>) -> Result<EmergencyReport, ErrorDto> {
    let hub = devices.hub()?;
    Ok(hub.emergency_unlock(EmergencySource::Button))
}

/// Ends the emergency: the core checks who asks (guard, admin) and records it, then every
/// gate locks again.
#[tauri::command]
pub async fn end_emergency(
    app: AppHandle,
    shell: State<'_, Shell>,
) -> Result<EmergencyReport, ErrorDto> {
    let workstation = shell.workstation.clone()?;
    tauri::async_runtime::spawn_blocking(move || {
        workstation
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .execute(Command::EndEmergency, Utc::now(), &|_| {})?;
        let devices = app.state::<Devices>();
        let hub = devices.hub()?;
        Ok(hub.end_emergency())
    })
    .await
    .map_err(|e| ErrorDto::new("internal", format!("the command failed inside: {e}")))?
}

/// Whether the gates stand unlocked for an emergency (the screen shows a banner).
#[tauri::command]
pub fn emergency_state(devices: State<'_, Devices>) -> bool {
    devices.0.as_ref().is_some_and(|hub| hub.in_emergency())
}

/// Runs a guard's action at the gate on a blocking thread: the signed-in person must be a
/// guard or an admin; `action` gets the hub and answers with a passage.
async fn guard_action(
    app: AppHandle,
    shell: State<'_, Shell>,
    action: impl FnOnce(&DeviceHub) -> Result<Presented, ErrorDto> + Send + 'static,
) -> Result<Value, ErrorDto> {
    let workstation = shell.workstation.clone()?;
    tauri::async_runtime::spawn_blocking(move || {
        workstation
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .require_roles(schoolcard_core::workstation::GUARD_ADMIN)?;
        let devices = app.state::<Devices>();
        let presented = action(devices.hub()?)?;
        Ok(serde_json::to_value(presented).expect("passages serialize"))
    })
    .await
    .map_err(|e| ErrorDto::new("internal", format!("the command failed inside: {e}")))?
}

/// The guard's answer to a passage: allow (an override if the rules denied) or deny.
#[tauri::command]
pub async fn guard_decide(
    app: AppHandle,
    shell: State<'_, Shell>,
    passage_id: uuid::Uuid,
    allow: bool,
) -> Result<Value, ErrorDto> {
    guard_action(app, shell, move |hub| {
        Ok(hub.guard_decide(passage_id, allow)?)
    })
    .await
}

/// The guard lets someone through without their card (forgotten at home), through the
/// gate of `reader_id`, with a note saying why; the passage is journaled with it.
#[tauri::command]
pub async fn pass_without_card(
    app: AppHandle,
    shell: State<'_, Shell>,
    person_id: schoolcard_core::domain::PersonId,
    reader_id: PeripheralId,
    note: String,
) -> Result<Value, ErrorDto> {
    guard_action(app, shell, move |hub| {
        let note = schoolcard_core::workstation::check_note(&note)?;
        Ok(hub.pass_without_card(person_id, reader_id, &note)?)
    })
    .await
}

/// What printing the evacuation list did.
#[derive(Debug, Serialize)]
pub struct EvacuationPrinted {
    pub path: String,
    pub people: usize,
    /// Sent to the default printer (`lp`); otherwise opened in the PDF viewer.
    pub printed: bool,
}

/// The evacuation list: everyone inside, by class, as a PDF written next to the
/// database, sent to the printer (or opened). Asks for no sign-in and reads through a
/// connection of its own, so a screen's long command cannot hold it up.
#[tauri::command]
pub async fn evacuation_pdf(shell: State<'_, Shell>) -> Result<EvacuationPrinted, ErrorDto> {
    let db_path = std::path::PathBuf::from(&shell.info.db_path);
    tauri::async_runtime::spawn_blocking(move || {
        // The director's evacuation list, on a read-only connection of its own.
        let conn = schoolcard_core::director::open_read_only(&db_path)?;
        let now = Utc::now();
        let mut query = schoolcard_core::director::ReportQuery::for_school(
            &conn,
            chrono::NaiveDate::MIN,
            chrono::NaiveDate::MIN,
            None,
            now,
        )?;
        let today = now.with_timezone(&query.time_zone).date_naive();
        (query.from, query.to) = (today, today);
        let document = schoolcard_core::director::build(
            &conn,
            schoolcard_core::director::ReportKind::EvacuationList,
            &query,
        )?;
        let count = document.rows().len();
        let local = |at: chrono::DateTime<Utc>| at.with_timezone(&query.time_zone).naive_local();
        let bytes = reports::to_pdf_bytes(&document)
            .map_err(|e| ErrorDto::new("internal", e.to_string()))?;
        let path = write_beside_database(
            &db_path,
            "evacuation",
            &format!("evacuation-{}.pdf", local(now).format("%Y-%m-%d-%H%M%S")),
            &bytes,
        )?;
        let printed = std::process::Command::new("lp")
            .arg(&path)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if !printed {
            open_file(&path);
        }
        Ok(EvacuationPrinted {
            path: path.display().to_string(),
            people: count,
            printed,
        })
    })
    .await
    .map_err(|e| ErrorDto::new("internal", format!("the command failed inside: {e}")))?
}

/// Writes `bytes` as `name` in the folder `folder` next to the database (made if need be).
pub(crate) fn write_beside_database(
    db_path: &std::path::Path,
    folder: &str,
    name: &str,
    bytes: &[u8],
) -> Result<std::path::PathBuf, ErrorDto> {
    let dir = db_path
        .parent()
        .map(|d| d.join(folder))
        .unwrap_or_else(|| folder.into());
    std::fs::create_dir_all(&dir)
        .map_err(|e| ErrorDto::new("store", format!("cannot create {}: {e}", dir.display())))?;
    let path = dir.join(name);
    std::fs::write(&path, bytes)
        .map_err(|e| ErrorDto::new("store", format!("cannot write {}: {e}", path.display())))?;
    Ok(path)
}

/// Opens a written document in the desktop's viewer, without waiting for it.
pub(crate) fn open_file(path: &std::path::Path) {
    let _ = std::process::Command::new("xdg-open")
        .arg(path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
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
