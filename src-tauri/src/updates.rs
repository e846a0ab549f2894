//! Updates of this workstation from the central server it is enrolled with: ask whether
//! a newer signed build waits (`check_update`), and install it (`install_update`) in the
//! order that loses nothing — download and check the release signature, send every
//! event the server does not hold yet, back the database up, then install the package
//! and restart. The new build migrates the database at its first start, and `Store::open`
//! backs it up again before any migration.
//!
//! A standalone workstation has no server to ask: its admin installs a new .deb by hand.

use crate::commands::{ErrorDto, Shell, PROGRESS_EVENT};
use crate::sync::SyncWorker;
use schoolcard_core::domain::Role;
use schoolcard_core::sync::http::Timeouts;
use schoolcard_core::sync::update::{self, UpdateError};
use schoolcard_core::workstation::Progress;
use schoolcard_core::CoreError;
use schoolcard_proto::updates::{UpdateOffer, TARGET_LINUX_X86_64};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::PoisonError;
use std::time::{Duration, Instant};
use tauri::{AppHandle, Emitter, State};

/// The release key's public half (minisign, as `tauri signer generate` writes it): only
/// packages signed with its private half are installed. A distributor building their own
/// releases puts their key's `.pub` here (installers/workstation/README.md).
const RELEASE_PUBLIC_KEY: &str = include_str!("../update-key.pub");
/// This build's version, which the server compares with its release.
const CURRENT_VERSION: &str = env!("CARGO_PKG_VERSION");
/// How long the outbox may take to reach the server before an install is refused: a
/// day's events of a busy post go in a few pushes; a server that cannot be reached for
/// this long should not see the workstation go away for an update.
const DRAIN_TIMEOUT_S: u64 = 120;
/// How often the outbox is looked at (and the sync woken) while draining.
const DRAIN_POLL_MS: u64 = 500;
/// The folder next to the database the package is written to.
const UPDATES_FOLDER: &str = "updates";
/// The steps the progress bar counts: download, drain, backup, install.
const INSTALL_STEPS: u64 = 4;
/// The command that installs a .deb as root after asking for an admin's password
/// (polkit); the package's own scripts run as in any `dpkg -i`.
const INSTALLER: [&str; 3] = ["pkexec", "dpkg", "-i"];

#[derive(Debug, Serialize)]
pub struct UpdateCheck {
    pub current: &'static str,
    /// The server asked; `None` on a standalone workstation.
    pub server: Option<String>,
    pub offer: Option<UpdateOffer>,
}

/// The enrolled server's address, for an admin signed in here.
fn server_for_admin(shell: &Shell) -> Result<(Option<String>, u64), ErrorDto> {
    let workstation = shell.workstation.clone()?;
    let workstation = workstation.lock().unwrap_or_else(PoisonError::into_inner);
    let roles = workstation
        .session()
        .map(|s| s.roles.clone())
        .ok_or(CoreError::NotSignedIn)?;
    if !roles.contains(&Role::Admin) {
        return Err(CoreError::Forbidden {
            needed: vec![Role::Admin],
        }
        .into());
    }
    let store = workstation.store();
    let status = schoolcard_core::sync::status(store.conn(), store.device())
        .map_err(|e| ErrorDto::from(CoreError::from(e)))?;
    Ok((status.enrolment.map(|e| e.server_url), status.pending))
}

fn update_error(e: UpdateError) -> ErrorDto {
    let code = match &e {
        UpdateError::Server(_) => "update_unreachable",
        UpdateError::BadSignature(_) => "update_bad_signature",
        UpdateError::TooLarge { .. } => "update_too_large",
        UpdateError::BadVersion(_) => "update_bad_version",
        UpdateError::Io(_) => "update_io",
    };
    ErrorDto::new(code, e.to_string())
}

/// Asks the enrolled server whether a newer build waits (admin).
#[tauri::command]
pub async fn check_update(shell: State<'_, Shell>) -> Result<UpdateCheck, ErrorDto> {
    let (server, _) = server_for_admin(&shell)?;
    let Some(server_url) = server else {
        return Ok(UpdateCheck {
            current: CURRENT_VERSION,
            server: None,
            offer: None,
        });
    };
    let asked = server_url.clone();
    let offer = tauri::async_runtime::spawn_blocking(move || {
        update::check(
            &asked,
            TARGET_LINUX_X86_64,
            CURRENT_VERSION,
            Timeouts::default(),
        )
    })
    .await
    .map_err(|e| ErrorDto::new("internal", e.to_string()))?
    .map_err(update_error)?;
    Ok(UpdateCheck {
        current: CURRENT_VERSION,
        server: Some(server_url),
        offer,
    })
}

/// Installs the build `version` the server offers (admin): download and verify, drain
/// the outbox, back up, install, restart. Refuses — installing nothing — when the offer
/// changed, the signature does not verify, or events stay unsent.
#[tauri::command]
pub async fn install_update(
    app: AppHandle,
    shell: State<'_, Shell>,
    worker: State<'_, SyncWorker>,
    version: String,
) -> Result<(), ErrorDto> {
    let (server, _) = server_for_admin(&shell)?;
    let server_url =
        server.ok_or_else(|| ErrorDto::new("update_standalone", "not enrolled with a server"))?;
    let db_path = PathBuf::from(&shell.info.db_path);
    let step = |stage: &str, done: u64| {
        let _ = app.emit(
            PROGRESS_EVENT,
            &Progress {
                stage: stage.to_owned(),
                done,
                total: INSTALL_STEPS,
            },
        );
    };

    step("update_download", 0);
    let folder = db_path
        .parent()
        .unwrap_or(Path::new("."))
        .join(UPDATES_FOLDER);
    let package = tauri::async_runtime::spawn_blocking(move || {
        let offer = update::check(
            &server_url,
            TARGET_LINUX_X86_64,
            CURRENT_VERSION,
            Timeouts::default(),
        )?
        .filter(|offer| offer.version == version)
        .ok_or_else(|| UpdateError::BadVersion(format!("{version} is no longer offered")))?;
        update::download_verified(&offer, RELEASE_PUBLIC_KEY, &folder, Timeouts::default())
    })
    .await
    .map_err(|e| ErrorDto::new("internal", e.to_string()))?
    .map_err(update_error)?;

    // Every event of this workstation on the server before it goes away.
    step("update_drain", 1);
    let deadline = Instant::now() + Duration::from_secs(DRAIN_TIMEOUT_S);
    loop {
        let (_, pending) = server_for_admin(&shell)?;
        if pending == 0 {
            break;
        }
        if Instant::now() > deadline {
            let mut e = ErrorDto::new(
                "update_outbox_not_drained",
                format!("{pending} events have not reached the server"),
            );
            e.params.insert("count", pending.to_string());
            return Err(e);
        }
        worker.wake();
        tokio::time::sleep(Duration::from_millis(DRAIN_POLL_MS)).await;
    }

    step("update_backup", 2);
    let backed_up = db_path.clone();
    tauri::async_runtime::spawn_blocking(move || {
        schoolcard_core::backup::make_backup_of_file(
            &backed_up,
            schoolcard_core::backup::BackupReason::BeforeUpdate,
            chrono::Utc::now(),
        )
    })
    .await
    .map_err(|e| ErrorDto::new("internal", e.to_string()))?
    .map_err(ErrorDto::from)?;

    step("update_install", 3);
    let output = tauri::async_runtime::spawn_blocking(move || {
        std::process::Command::new(INSTALLER[0])
            .args(&INSTALLER[1..])
            .arg(&package)
            .output()
    })
    .await
    .map_err(|e| ErrorDto::new("internal", e.to_string()))?
    .map_err(|e| ErrorDto::new("update_install_failed", format!("{}: {e}", INSTALLER[0])))?;
    if !output.status.success() {
        return Err(ErrorDto::new(
            "update_install_failed",
            String::from_utf8_lossy(&output.stderr)
                .chars()
                .take(500)
                .collect::<String>(),
        ));
    }
    step("update_install", INSTALL_STEPS);
    tracing::info!(version = %CURRENT_VERSION, "update installed; restarting");
    app.restart();
}
