//! «Диагностика для поддержки»: one ZIP an admin sends to whoever supports the school,
//! written next to the database under `diagnostics/`. It says what runs (versions, OS,
//! WebKitGTK), how the devices are, what went wrong lately (the log's last warnings and
//! errors), whether the database and its journal are sound, and how much is in it —
//! and nothing about any person: no names, no card numbers, no photos.
//!
//! Log lines are the one place personal data could slip in (a message quoting a card or
//! a name), so they are scrubbed twice: every card-like token by pattern, then every
//! surname, name and card the database knows, literally.

use crate::commands::{write_beside_database, ErrorDto, Shell};
use crate::devices::DeviceHealth;
use crate::logs;
use chrono::{DateTime, Utc};
use regex::Regex;
use schoolcard_core::domain::Role;
use serde::Serialize;
use serde_json::json;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::PoisonError;
use tauri::State;

/// The folder next to the database the archives are written to.
const DIAGNOSTICS_FOLDER: &str = "diagnostics";
/// Warnings and errors taken from the logs, newest last: enough for the last incidents,
/// small enough to read in a mail.
const LOG_LINES_MAX: usize = 500;
/// Log files read, newest first (a day each).
const LOG_FILES_READ_MAX: usize = 7;
/// `PRAGMA integrity_check` stops after this many problems.
const INTEGRITY_ERRORS_MAX: u32 = 100;
/// Journal faults listed (their count is always given).
const JOURNAL_FAULTS_MAX: usize = 100;
/// Names shorter than this are not scrubbed literally (they would eat words like «Ян»
/// inside ordinary text); card patterns still apply.
const NAME_CHARS_MIN: usize = 3;
/// Who may export.
const EXPORT_ROLES: &[Role] = &[Role::Admin];

/// What the shell knows that the database does not.
pub struct Context {
    pub app_version: &'static str,
    pub webview_version: String,
    pub devices: Vec<DeviceHealth>,
    pub now: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
pub struct DiagnosticsExported {
    pub path: String,
    pub bytes: u64,
}

/// Builds the archive and writes it under `diagnostics/` next to the database. For an
/// admin signed in on this workstation.
#[tauri::command]
pub async fn export_diagnostics(
    shell: State<'_, Shell>,
    devices: State<'_, crate::commands::Devices>,
) -> Result<DiagnosticsExported, ErrorDto> {
    {
        let workstation = shell.workstation.clone()?;
        workstation
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .require_roles(EXPORT_ROLES)?;
    }
    let context = Context {
        app_version: shell.info.version,
        webview_version: tauri::webview_version().unwrap_or_else(|e| format!("unknown: {e}")),
        devices: devices
            .0
            .as_ref()
            .map(|hub| hub.health())
            .unwrap_or_default(),
        now: Utc::now(),
    };
    let db_path = PathBuf::from(&shell.info.db_path);
    tauri::async_runtime::spawn_blocking(move || {
        let bytes = build(&db_path, &logs::log_dir(&db_path), &context)?;
        let name = format!("diagnostics-{}.zip", context.now.format("%Y-%m-%d-%H%M%S"));
        let path = write_beside_database(&db_path, DIAGNOSTICS_FOLDER, &name, &bytes)?;
        Ok(DiagnosticsExported {
            path: path.display().to_string(),
            bytes: bytes.len() as u64,
        })
    })
    .await
    .map_err(|e| ErrorDto::new("internal", format!("the command failed inside: {e}")))?
}

/// The archive's bytes: `versions.json`, `devices.json`, `database.json`, `log-errors.txt`.
pub fn build(db_path: &Path, log_dir: &Path, context: &Context) -> Result<Vec<u8>, ErrorDto> {
    let store = schoolcard_core::Store::open(db_path).map_err(store_error)?;
    let conn = store.conn();
    let scrub = Scrubber::from_database(conn).map_err(store_error)?;

    let schema_version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(store_error)?;
    let versions = json!({
        "app": context.app_version,
        "schema_version": schema_version,
        "schema_version_of_this_build": schoolcard_core::store::SCHEMA_VERSION,
        "os": os_description(),
        "arch": std::env::consts::ARCH,
        "webkitgtk": context.webview_version,
        "written_at": context.now,
    });

    let devices: Vec<serde_json::Value> = context
        .devices
        .iter()
        .map(|d| {
            json!({
                "device_id": d.device_id,
                "name": scrub.line(&d.name),
                "state": d.state,
                "detail": d.detail.as_deref().map(|s| scrub.line(s)),
                "last_frame_at": d.last_frame_at,
                "frames": d.frames,
                "errors": d.errors,
                "reconnects": d.reconnects,
            })
        })
        .collect();

    let integrity: Vec<String> = {
        let mut stmt = conn
            .prepare(&format!("PRAGMA integrity_check({INTEGRITY_ERRORS_MAX})"))
            .map_err(store_error)?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(store_error)?;
        rows.collect::<Result<_, _>>().map_err(store_error)?
    };
    let journal = match schoolcard_core::journal::verify(conn) {
        Ok(report) => json!({
            "events": report.events,
            "intact": report.is_intact(),
            "faults": report.faults.len(),
            "first_faults": report.faults.iter().take(JOURNAL_FAULTS_MAX)
                .map(|f| scrub.line(&f.to_string())).collect::<Vec<_>>(),
        }),
        Err(e) => json!({ "error": scrub.line(&e.to_string()) }),
    };
    let count = |sql: &str| -> Result<i64, ErrorDto> {
        conn.query_row(sql, [], |r| r.get(0)).map_err(store_error)
    };
    let database = json!({
        "integrity_check": integrity,
        "journal": journal,
        "counts": {
            "pupils": count("SELECT count(*) FROM persons WHERE kind = 'pupil' AND status = 'active'")?,
            "persons": count("SELECT count(*) FROM persons")?,
            "cards": count("SELECT count(*) FROM cards")?,
            "events": count("SELECT count(*) FROM journal")?,
            "outbox_pending": schoolcard_core::sync::pending(conn, store.device()).map_err(store_error)?,
        },
        "enrolled_with_server": count("SELECT count(*) FROM sync_config")? > 0,
        "size_bytes": std::fs::metadata(db_path).map(|m| m.len()).unwrap_or(0),
    });

    let log_lines = last_problems(log_dir, &scrub);

    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let mut put = |name: &str, text: String| -> Result<(), ErrorDto> {
        zip.start_file(name, options).map_err(zip_error)?;
        zip.write_all(text.as_bytes())
            .map_err(|e| ErrorDto::new("internal", e.to_string()))
    };
    let pretty = |v: &serde_json::Value| serde_json::to_string_pretty(v).expect("json");
    put("versions.json", pretty(&versions))?;
    put("devices.json", pretty(&serde_json::Value::Array(devices)))?;
    put("database.json", pretty(&database))?;
    let log_text = if log_lines.is_empty() {
        "no warnings or errors in the log files\n".to_owned()
    } else {
        log_lines.join("\n") + "\n"
    };
    put("log-errors.txt", log_text)?;
    let cursor = zip.finish().map_err(zip_error)?;
    Ok(cursor.into_inner())
}

fn store_error(e: impl std::fmt::Display) -> ErrorDto {
    ErrorDto::new("store", e.to_string())
}

fn zip_error(e: zip::result::ZipError) -> ErrorDto {
    ErrorDto::new("internal", format!("cannot write the archive: {e}"))
}

/// «Debian GNU/Linux 12 (bookworm), kernel 6.1.0» on Linux; the OS family elsewhere.
fn os_description() -> String {
    let pretty = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_owned())
        })
        .unwrap_or_else(|| std::env::consts::OS.to_owned());
    match std::fs::read_to_string("/proc/sys/kernel/osrelease") {
        Ok(kernel) => format!("{pretty}, kernel {}", kernel.trim()),
        Err(_) => pretty,
    }
}

/// The last [`LOG_LINES_MAX`] WARN and ERROR lines of the newest log files, oldest first,
/// scrubbed.
fn last_problems(log_dir: &Path, scrub: &Scrubber) -> Vec<String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(log_dir)
        .map(|dir| {
            dir.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with(logs::LOG_FILE_PREFIX))
                })
                .collect()
        })
        .unwrap_or_default();
    // Dated names sort by day.
    files.sort();
    let newest = &files[files.len().saturating_sub(LOG_FILES_READ_MAX)..];
    let mut lines = std::collections::VecDeque::with_capacity(LOG_LINES_MAX);
    for path in newest {
        let Ok(file) = std::fs::File::open(path) else {
            continue;
        };
        for line in std::io::BufReader::new(file).lines().map_while(Result::ok) {
            if line.contains(" WARN ") || line.contains(" ERROR ") {
                if lines.len() == LOG_LINES_MAX {
                    lines.pop_front();
                }
                lines.push_back(line);
            }
        }
    }
    lines.into_iter().map(|l| scrub.line(&l)).collect()
}

/// Takes personal data out of a line of text.
struct Scrubber {
    /// Card-like tokens: the canonical `26:0A1B2C3`, a Wiegand `123,45678` or
    /// `123/45678`, long decimal or hex numbers (a UID, an EM-Marine number).
    cards: Regex,
    /// Every surname, name and card text of the database, longest first (so a surname
    /// that contains a name goes whole).
    known: Vec<String>,
}

impl Scrubber {
    fn from_database(conn: &rusqlite::Connection) -> rusqlite::Result<Scrubber> {
        let mut known: Vec<String> = Vec::new();
        for sql in [
            "SELECT surname FROM persons UNION SELECT name FROM persons \
             UNION SELECT patronymic FROM persons",
            "SELECT card_key FROM cards UNION SELECT raw FROM cards \
             UNION SELECT raw FROM card_holdings",
        ] {
            let mut stmt = conn.prepare(sql)?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            for text in rows {
                let text = text?;
                if text.chars().count() >= NAME_CHARS_MIN {
                    known.push(text);
                }
            }
        }
        known.sort_by_key(|k| std::cmp::Reverse(k.len()));
        known.dedup();
        Ok(Scrubber {
            cards: Regex::new(
                r"\b\d{1,3}:[0-9A-Fa-f]{6,}\b|\b\d{1,3}[,/]\d{3,5}\b|\b\d{6,}\b|\b[0-9A-Fa-f]{8,}\b",
            )
            .expect("a valid pattern"),
            known,
        })
    }

    fn line(&self, text: &str) -> String {
        let mut out = self.cards.replace_all(text, "[card]").into_owned();
        for k in &self.known {
            if out.contains(k.as_str()) {
                out = out.replace(k.as_str(), "[name]");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// A demo school, a log whose warnings quote a pupil's surname and card (as a careless
    /// message might): the archive holds the warnings, and none of the surnames or cards.
    #[test]
    fn the_archive_carries_no_pupil_name_nor_card() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("school.sqlite");
        let now = Utc::now();
        schoolcard_core::demo::ensure_demo(&db, schoolcard_core::demo::DEMO_SEED, now)
            .unwrap()
            .expect("a fresh demo school");
        let conn = schoolcard_core::Store::open(&db).unwrap();
        let pupils: Vec<(String, String, String)> = conn
            .conn()
            .prepare(
                "SELECT p.surname, c.card_key, c.raw FROM persons p JOIN cards c ON c.person_id = p.id \
                 WHERE p.kind = 'pupil'",
            )
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        drop(conn);
        assert!(pupils.len() > 100, "the demo has pupils with cards");

        let log_dir = dir.path().join("logs");
        std::fs::create_dir_all(&log_dir).unwrap();
        let mut log = String::new();
        for (surname, card, raw) in pupils.iter().take(20) {
            log += &format!("2026-11-27T08:01:02.000001Z  WARN schoolcard::devices: card {card} ({raw}) of {surname} refused\n");
            log += &format!(
                "2026-11-27T08:01:03.000001Z  INFO schoolcard::devices: card read {card}\n"
            );
        }
        log += "2026-11-27T08:05:00.000001Z ERROR schoolcard::devices: gate port failed: /dev/ttyUSB0 gone\n";
        std::fs::write(log_dir.join("schoolcard.2026-11-27.log"), log).unwrap();

        let context = Context {
            app_version: "0.1.0",
            webview_version: "2.44.0".into(),
            devices: Vec::new(),
            now,
        };
        let bytes = build(&db, &log_dir, &context).unwrap();

        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        let mut files = std::collections::BTreeMap::new();
        for i in 0..archive.len() {
            let mut file = archive.by_index(i).unwrap();
            let mut text = String::new();
            file.read_to_string(&mut text).unwrap();
            files.insert(file.name().to_owned(), text);
        }
        assert_eq!(
            files.keys().map(String::as_str).collect::<Vec<_>>(),
            [
                "database.json",
                "devices.json",
                "log-errors.txt",
                "versions.json"
            ]
        );
        let errors = &files["log-errors.txt"];
        assert_eq!(errors.lines().filter(|l| l.contains(" WARN ")).count(), 20);
        assert!(
            errors.contains("gate port failed: /dev/ttyUSB0 gone"),
            "{errors}"
        );
        assert!(!errors.contains(" INFO "), "{errors}");
        for (name, text) in &files {
            for (surname, card, raw) in &pupils {
                assert!(!text.contains(surname.as_str()), "{name} names {surname}");
                assert!(!text.contains(card.as_str()), "{name} holds card {card}");
                assert!(!text.contains(raw.as_str()), "{name} holds card {raw}");
            }
        }
        let database: serde_json::Value = serde_json::from_str(&files["database.json"]).unwrap();
        assert_eq!(database["integrity_check"], json!(["ok"]));
        assert_eq!(database["journal"]["intact"], json!(true));
        assert!(database["counts"]["pupils"].as_i64().unwrap() > 100);
    }
}
