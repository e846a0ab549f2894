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

/// What installing an update does, step by step: the shell's [`ShellInstallation`], and a
/// test's record of the order.
trait Installation {
    fn progress(&mut self, stage: &str, done: u64);
    /// Fetches the package and checks its signature (nothing is written otherwise).
    fn download(&mut self) -> Result<PathBuf, ErrorDto>;
    /// Own events the server does not hold yet.
    fn pending(&mut self) -> Result<u64, ErrorDto>;
    fn wake_sync(&mut self);
    fn wait(&mut self, pause: Duration);
    fn backup(&mut self) -> Result<(), ErrorDto>;
    fn install(&mut self, package: &Path) -> Result<(), ErrorDto>;
}

/// The order that loses nothing: a verified package first (a bad one stops everything
/// before the workstation is touched), then the outbox drained — the sync woken and
/// waited for, at most `drain_timeout` —, then a backup, and only then the install.
fn install_in_order(
    steps: &mut impl Installation,
    drain_timeout: Duration,
) -> Result<(), ErrorDto> {
    steps.progress("update_download", 0);
    let package = steps.download()?;

    steps.progress("update_drain", 1);
    let deadline = Instant::now() + drain_timeout;
    loop {
        let pending = steps.pending()?;
        if pending == 0 {
            break;
        }
        if Instant::now() >= deadline {
            let mut e = ErrorDto::new(
                "update_outbox_not_drained",
                format!("{pending} events have not reached the server"),
            );
            e.params.insert("count", pending.to_string());
            return Err(e);
        }
        steps.wake_sync();
        steps.wait(Duration::from_millis(DRAIN_POLL_MS));
    }

    steps.progress("update_backup", 2);
    steps.backup()?;

    steps.progress("update_install", 3);
    steps.install(&package)?;
    steps.progress("update_install", INSTALL_STEPS);
    Ok(())
}

/// The real steps: the enrolled server, the release key, the sync worker, `backups/`,
/// `pkexec dpkg -i`.
struct ShellInstallation {
    app: AppHandle,
    workstation: std::sync::Arc<std::sync::Mutex<schoolcard_core::Workstation>>,
    server_url: String,
    version: String,
    db_path: PathBuf,
}

impl Installation for ShellInstallation {
    fn progress(&mut self, stage: &str, done: u64) {
        let _ = self.app.emit(
            PROGRESS_EVENT,
            &Progress {
                stage: stage.to_owned(),
                done,
                total: INSTALL_STEPS,
            },
        );
    }

    fn download(&mut self) -> Result<PathBuf, ErrorDto> {
        let folder = self
            .db_path
            .parent()
            .unwrap_or(Path::new("."))
            .join(UPDATES_FOLDER);
        let offer = update::check(
            &self.server_url,
            TARGET_LINUX_X86_64,
            CURRENT_VERSION,
            Timeouts::default(),
        )
        .map_err(update_error)?
        .filter(|offer| offer.version == self.version)
        .ok_or_else(|| {
            update_error(UpdateError::BadVersion(format!(
                "{} is no longer offered",
                self.version
            )))
        })?;
        update::download_verified(&offer, RELEASE_PUBLIC_KEY, &folder, Timeouts::default())
            .map_err(update_error)
    }

    fn pending(&mut self) -> Result<u64, ErrorDto> {
        let workstation = self
            .workstation
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let store = workstation.store();
        let status = schoolcard_core::sync::status(store.conn(), store.device())
            .map_err(|e| ErrorDto::from(CoreError::from(e)))?;
        Ok(status.pending)
    }

    fn wake_sync(&mut self) {
        use tauri::Manager;
        self.app.state::<SyncWorker>().wake();
    }

    fn wait(&mut self, pause: Duration) {
        std::thread::sleep(pause);
    }

    fn backup(&mut self) -> Result<(), ErrorDto> {
        schoolcard_core::backup::make_backup_of_file(
            &self.db_path,
            schoolcard_core::backup::BackupReason::BeforeUpdate,
            chrono::Utc::now(),
        )
        .map(|_| ())
        .map_err(ErrorDto::from)
    }

    fn install(&mut self, package: &Path) -> Result<(), ErrorDto> {
        let output = std::process::Command::new(INSTALLER[0])
            .args(&INSTALLER[1..])
            .arg(package)
            .output()
            .map_err(|e| {
                ErrorDto::new("update_install_failed", format!("{}: {e}", INSTALLER[0]))
            })?;
        if output.status.success() {
            Ok(())
        } else {
            Err(ErrorDto::new(
                "update_install_failed",
                String::from_utf8_lossy(&output.stderr)
                    .chars()
                    .take(500)
                    .collect::<String>(),
            ))
        }
    }
}

/// Installs the build `version` the server offers (admin): download and verify, drain
/// the outbox, back up, install, restart ([`install_in_order`]). Refuses — installing
/// nothing — when the offer changed, the signature does not verify, or events stay
/// unsent.
#[tauri::command]
pub async fn install_update(
    app: AppHandle,
    shell: State<'_, Shell>,
    version: String,
) -> Result<(), ErrorDto> {
    let (server, _) = server_for_admin(&shell)?;
    let server_url =
        server.ok_or_else(|| ErrorDto::new("update_standalone", "not enrolled with a server"))?;
    let mut steps = ShellInstallation {
        app: app.clone(),
        workstation: shell.workstation.clone()?,
        server_url,
        version,
        db_path: PathBuf::from(&shell.info.db_path),
    };
    tauri::async_runtime::spawn_blocking(move || {
        install_in_order(&mut steps, Duration::from_secs(DRAIN_TIMEOUT_S))
    })
    .await
    .map_err(|e| ErrorDto::new("internal", e.to_string()))??;
    tracing::info!(from = %CURRENT_VERSION, "update installed; restarting");
    app.restart();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records the steps; `pending` counts down by one per look (the sync at work), or
    /// stays when the server cannot be reached.
    struct Recorded {
        log: Vec<String>,
        pending: u64,
        server_reachable: bool,
        signature_ok: bool,
    }

    impl Installation for Recorded {
        fn progress(&mut self, _: &str, _: u64) {}
        fn download(&mut self) -> Result<PathBuf, ErrorDto> {
            self.log.push("download".into());
            if self.signature_ok {
                Ok(PathBuf::from("/tmp/schoolcard_9.0.0_amd64.deb"))
            } else {
                Err(update_error(UpdateError::BadSignature("test".into())))
            }
        }
        fn pending(&mut self) -> Result<u64, ErrorDto> {
            self.log.push(format!("pending {}", self.pending));
            let now = self.pending;
            if self.server_reachable {
                self.pending = self.pending.saturating_sub(1);
            }
            Ok(now)
        }
        fn wake_sync(&mut self) {
            self.log.push("wake".into());
        }
        fn wait(&mut self, _: Duration) {}
        fn backup(&mut self) -> Result<(), ErrorDto> {
            self.log.push("backup".into());
            Ok(())
        }
        fn install(&mut self, package: &Path) -> Result<(), ErrorDto> {
            self.log.push(format!("install {}", package.display()));
            Ok(())
        }
    }

    fn recorded(pending: u64, server_reachable: bool, signature_ok: bool) -> Recorded {
        Recorded {
            log: Vec::new(),
            pending,
            server_reachable,
            signature_ok,
        }
    }

    #[test]
    fn the_outbox_is_drained_and_the_database_backed_up_before_the_install() {
        let mut steps = recorded(2, true, true);
        install_in_order(&mut steps, Duration::from_secs(5)).unwrap();
        assert_eq!(
            steps.log,
            [
                "download",
                "pending 2",
                "wake",
                "pending 1",
                "wake",
                "pending 0",
                "backup",
                "install /tmp/schoolcard_9.0.0_amd64.deb"
            ]
        );
    }

    #[test]
    fn events_that_cannot_reach_the_server_stop_the_update_before_anything_changes() {
        let mut steps = recorded(3, false, true);
        let refused = install_in_order(&mut steps, Duration::from_millis(20)).unwrap_err();
        assert_eq!(refused.code, "update_outbox_not_drained");
        assert_eq!(refused.params.get("count").map(String::as_str), Some("3"));
        assert!(
            !steps
                .log
                .iter()
                .any(|s| s == "backup" || s.starts_with("install")),
            "{:?}",
            steps.log
        );
    }

    #[test]
    fn a_package_without_the_release_signature_stops_everything() {
        let mut steps = recorded(0, true, false);
        let refused = install_in_order(&mut steps, Duration::from_secs(5)).unwrap_err();
        assert_eq!(refused.code, "update_bad_signature");
        assert_eq!(steps.log, ["download"]);
    }
}
