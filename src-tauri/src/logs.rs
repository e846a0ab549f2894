//! The workstation's log: every `tracing` line goes to stderr and to a file under `logs/`
//! next to the database (`~/.local/share/schoolcard/logs/` for the default database),
//! one file a day (`schoolcard.2026-11-27.log`), the oldest removed beyond
//! [`LOG_FILES_MAX`]. Beside the database because that folder is the one place the
//! school's IT person already knows (and backs up), and the diagnostics archive reads it
//! from there.
//!
//! What is logged at info level or above names devices, never a person: a card number or
//! a pupil's name appears at debug level at most, masked by [`mask_card`].

use std::path::{Path, PathBuf};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter, Layer};

/// The folder next to the database the log files are written to.
pub const LOG_FOLDER: &str = "logs";
/// `schoolcard.YYYY-MM-DD.log`.
pub const LOG_FILE_PREFIX: &str = "schoolcard";
pub const LOG_FILE_SUFFIX: &str = "log";
/// Daily files kept: a month of history for support, bounded so the disk never fills
/// (a busy day with a flapping reader writes a few MB at most).
pub const LOG_FILES_MAX: usize = 31;
/// The filter when `SCHOOLCARD_LOG` is unset (its syntax is tracing's `EnvFilter`, e.g.
/// `debug` or `schoolcard=debug,schoolcard_readers=info`).
const LOG_FILTER_DEFAULT: &str = "info";

/// The log folder of the database at `db_path`.
pub fn log_dir(db_path: &Path) -> PathBuf {
    db_path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .map(|d| d.join(LOG_FOLDER))
        .unwrap_or_else(|| PathBuf::from(LOG_FOLDER))
}

/// Installs the global subscriber: stderr always, the daily file when its folder can be
/// made (otherwise stderr says why and the app runs on). Called once, first thing.
pub fn init(db_path: &Path) {
    let filter = || {
        EnvFilter::try_from_env("SCHOOLCARD_LOG")
            .unwrap_or_else(|_| EnvFilter::new(LOG_FILTER_DEFAULT))
    };
    // Colours only for a person at a terminal, not in a file a service manager keeps.
    let stderr = fmt::layer()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .with_filter(filter());
    let dir = log_dir(db_path);
    // Written synchronously (no background writer): a line is in the file before a crash
    // that follows it, and the workstation logs a few lines a minute, not thousands.
    let file = std::fs::create_dir_all(&dir)
        .map_err(|e| e.to_string())
        .and_then(|()| {
            tracing_appender::rolling::Builder::new()
                .rotation(tracing_appender::rolling::Rotation::DAILY)
                .filename_prefix(LOG_FILE_PREFIX)
                .filename_suffix(LOG_FILE_SUFFIX)
                .max_log_files(LOG_FILES_MAX)
                .build(&dir)
                .map_err(|e| e.to_string())
        });
    let (file_layer, problem) = match file {
        Ok(appender) => (
            Some(
                fmt::layer()
                    .with_ansi(false)
                    .with_writer(appender)
                    .with_filter(filter()),
            ),
            None,
        ),
        Err(e) => (None, Some(e)),
    };
    let installed = tracing_subscriber::registry()
        .with(stderr)
        .with(file_layer)
        .try_init();
    if let Some(e) = problem {
        eprintln!(
            "schoolcard: no log file in {}: {e} (logging to stderr only)",
            dir.display()
        );
    }
    if installed.is_err() {
        eprintln!("schoolcard: a logger was already installed");
    }
}

/// A card number as a log line may show it: its last three characters only
/// (`26:0A1B2C3` → `…2C3`), enough to tell two cards apart while debugging a reader.
pub fn mask_card(card: &str) -> String {
    let tail: String = {
        let chars: Vec<char> = card.chars().collect();
        chars[chars.len().saturating_sub(3)..].iter().collect()
    };
    format!("…{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_sit_next_to_the_database_and_cards_are_masked() {
        assert_eq!(
            log_dir(Path::new("/home/u/.local/share/schoolcard/school.sqlite")),
            PathBuf::from("/home/u/.local/share/schoolcard/logs")
        );
        assert_eq!(log_dir(Path::new("school.sqlite")), PathBuf::from("logs"));
        assert_eq!(mask_card("26:0A1B2C3"), "…2C3");
        assert_eq!(mask_card("ab"), "…ab");
    }
}
