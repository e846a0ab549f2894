//! Backups of the workstation's SQLite file, made with SQLite's online backup API: on a
//! schedule (the shell's thread), before every migration (`Store::open`), on demand (the
//! admin's «Резервные копии»), and before a restore.
//!
//! A backup is a self-contained SQLite file in `backups/` beside the database, named by
//! the UTC instant and the reason: `2026-11-27T21-00-00Z scheduled.sqlite`,
//! `… before-migration-to-v14.sqlite`, `… manual.sqlite`, `… before-restore.sqlite`.
//! Every copy is checked (`PRAGMA integrity_check` on the copy) and fsynced before it gets
//! its name; a half-written copy only ever exists as a `.partial` file.
//!
//! A restore copies the chosen backup INTO the live database with the same API, so every
//! connection already open on the file (the workstation's own, the report builders'
//! read-only ones, the gates' writer) sees the restored content at its next transaction;
//! the file is never swapped under them.
//!
//! Nothing here reads the clock: the instant a backup is named by is passed in.

use crate::error::{CoreError, CoreResult, Refusal, StoreError};
use crate::store::{APPLICATION_ID, BUSY_TIMEOUT_MS, SCHEMA_VERSION};
use chrono::{DateTime, NaiveDateTime, Utc};
use rusqlite::backup::Backup;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A copy (or a restore) that has not finished in this long gives up: the source kept
/// changing under it (each change by another connection restarts the copy) or a lock
/// was never let go. The schedule tries again later; a person sees the error.
pub const BACKUP_DURATION_MAX_SECONDS: u64 = 600;
/// The folder beside the database that holds its backups.
pub const BACKUP_DIR_NAME: &str = "backups";
/// Pages copied per step of the online backup. At the default 4 KiB page this is 1 MiB:
/// one step takes a few milliseconds, so a writer (the gates' journal, the till) waits at
/// most that long for the source's read lock to let it through.
pub const BACKUP_PAGES_PER_STEP: i32 = 256;
/// The pause between steps, during which writers run freely.
pub const BACKUP_PAUSE_BETWEEN_STEPS_MS: u64 = 2;
/// A scheduled backup is due when the newest one is this old (or there is none): one a
/// day, which retention keeps for two weeks.
pub const SCHEDULED_INTERVAL_HOURS: i64 = 24;
/// Scheduled backups kept (newest first): two weeks of daily copies.
pub const SCHEDULED_KEPT_MAX: usize = 14;
/// Manual, before-migration and before-restore backups kept (newest first). They are rare
/// (an admin's click, an update, a restore); the bound only stops a runaway.
pub const OTHER_KEPT_MAX: usize = 50;
/// Files of `backups/` looked at when listing: far more than retention ever leaves.
pub const BACKUP_FILES_SCANNED_MAX: usize = 1_000;
/// The copies of one second and reason get a number after the first: at most this many.
const SAME_NAME_SUFFIX_MAX: u32 = 100;
/// Lines of `PRAGMA integrity_check` kept when a file is damaged: the first says enough.
const INTEGRITY_LINES_MAX: u32 = 5;

// Retention never deletes the newest backup of a kind: the last good one always stays.
const _: () = assert!(SCHEDULED_KEPT_MAX >= 1 && OTHER_KEPT_MAX >= 1);

const TIME_FORMAT: &str = "%Y-%m-%dT%H-%M-%SZ";
const EXTENSION: &str = ".sqlite";

/// Why a backup was made; part of its file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BackupReason {
    /// The daily copy of the shell's schedule.
    Scheduled,
    /// Asked for by an admin.
    Manual,
    /// Taken by `Store::open` before migrating to `to_version`.
    BeforeMigration { to_version: i64 },
    /// The live database as it was just before a restore replaced it.
    BeforeRestore,
    /// Taken by the shell before it installs a newer build (whose first start migrates).
    BeforeUpdate,
}

impl BackupReason {
    fn label(self) -> String {
        match self {
            BackupReason::Scheduled => "scheduled".into(),
            BackupReason::Manual => "manual".into(),
            BackupReason::BeforeMigration { to_version } => {
                format!("before-migration-to-v{to_version}")
            }
            BackupReason::BeforeRestore => "before-restore".into(),
            BackupReason::BeforeUpdate => "before-update".into(),
        }
    }

    fn parse(label: &str) -> Option<BackupReason> {
        match label {
            "scheduled" => Some(BackupReason::Scheduled),
            "manual" => Some(BackupReason::Manual),
            "before-restore" => Some(BackupReason::BeforeRestore),
            "before-update" => Some(BackupReason::BeforeUpdate),
            other => other
                .strip_prefix("before-migration-to-v")?
                .parse()
                .ok()
                .map(|to_version| BackupReason::BeforeMigration { to_version }),
        }
    }
}

/// One file of `backups/`, as its name and size tell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackupInfo {
    /// The file's name inside `backups/` (what the commands take).
    pub file: String,
    pub taken_at: DateTime<Utc>,
    pub reason: BackupReason,
    pub size_bytes: u64,
}

/// What a backup holds, read without changing it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BackupPreview {
    pub file: String,
    /// From the name, when the name is a backup's.
    pub taken_at: Option<DateTime<Utc>>,
    pub reason: Option<BackupReason>,
    pub size_bytes: u64,
    pub schema_version: i64,
    pub school_name: Option<String>,
    pub pupils: u64,
    pub staff: u64,
    pub classes: u64,
    pub cards: u64,
    pub events: u64,
    pub last_event_at: Option<DateTime<Utc>>,
    /// `PRAGMA integrity_check` said `ok`.
    pub integrity_ok: bool,
    /// Its first lines otherwise.
    pub integrity_detail: Option<String>,
    /// The journal's hash chain verifies (`crate::journal::verify`); `None` when the file
    /// is too damaged or too old to check.
    pub chain_intact: Option<bool>,
    /// This program may restore it: ours, intact, not written by a newer schema.
    pub restorable: bool,
}

/// What a restore did.
#[derive(Debug, Clone, Serialize)]
pub struct RestoreOutcome {
    pub restored: BackupPreview,
    /// The live database as it was, kept as a `before-restore` backup.
    pub saved_before: Option<BackupInfo>,
}

/// `backups/` beside the database at `db_path`.
pub fn backup_dir(db_path: &Path) -> PathBuf {
    db_path
        .parent()
        .unwrap_or_else(|| Path::new("."))
        .join(BACKUP_DIR_NAME)
}

/// The name a backup taken at `at` for `reason` gets (before any de-duplicating number).
pub fn file_name(at: DateTime<Utc>, reason: BackupReason) -> String {
    format!("{} {}{EXTENSION}", at.format(TIME_FORMAT), reason.label())
}

/// Reads a backup's file name back: its instant and reason. `None` for any other file.
pub fn parse_file_name(name: &str) -> Option<(DateTime<Utc>, BackupReason)> {
    if name.contains(['/', '\\']) || name.starts_with('.') {
        return None;
    }
    let stem = name.strip_suffix(EXTENSION)?;
    let (time, rest) = stem.split_once(' ')?;
    let at = NaiveDateTime::parse_from_str(time, TIME_FORMAT)
        .ok()?
        .and_utc();
    // `… manual 2.sqlite`: a second copy of the same second.
    let label = match rest.rsplit_once(' ') {
        Some((label, n)) if n.chars().all(|c| c.is_ascii_digit()) => label,
        _ => rest,
    };
    Some((at, BackupReason::parse(label)?))
}

/// The backups in `dir`, newest first. A missing folder is an empty list; files that are
/// not backups (by their name) are left out.
pub fn list_backups(dir: &Path) -> CoreResult<Vec<BackupInfo>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(StoreError::Io(e).into()),
    };
    let mut out = Vec::new();
    for entry in entries.take(BACKUP_FILES_SCANNED_MAX) {
        let entry = entry.map_err(StoreError::Io)?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        let Some((taken_at, reason)) = parse_file_name(&name) else {
            continue;
        };
        let meta = entry.metadata().map_err(StoreError::Io)?;
        if !meta.is_file() {
            continue;
        }
        out.push(BackupInfo {
            file: name,
            taken_at,
            reason,
            size_bytes: meta.len(),
        });
    }
    out.sort_by(|a, b| b.taken_at.cmp(&a.taken_at).then(b.file.cmp(&a.file)));
    Ok(out)
}

/// The backup `file` of `dir`: a name `list_backups` shows, never a path elsewhere.
pub fn backup_path(dir: &Path, file: &str) -> CoreResult<PathBuf> {
    if parse_file_name(file).is_none() {
        return Err(CoreError::not_found(format!("backup {file}")));
    }
    let path = dir.join(file);
    if !path.is_file() {
        return Err(CoreError::not_found(format!("backup {file}")));
    }
    Ok(path)
}

/// Copies the database behind `src` into a new backup in `backups/` beside `db_path`,
/// checks the copy and fsyncs it, then applies retention. A copy that fails its check is
/// deleted and the call fails: a backup that exists is a good one.
pub fn make_backup(
    src: &Connection,
    db_path: &Path,
    reason: BackupReason,
    now: DateTime<Utc>,
) -> CoreResult<BackupInfo> {
    let info = write_copy(src, db_path, reason, now, true)?;
    prune(&backup_dir(db_path))?;
    Ok(info)
}

/// Opens the database at `db_path` on a connection of its own and backs it up (the
/// shell's schedule, `Store::open` before a migration).
pub fn make_backup_of_file(
    db_path: &Path,
    reason: BackupReason,
    now: DateTime<Utc>,
) -> CoreResult<BackupInfo> {
    let src = open_read_only(db_path)?;
    make_backup(&src, db_path, reason, now)
}

/// Whether the schedule makes a backup at `now`, given the newest scheduled one's instant.
/// A newest one "in the future" (the clock was set back) counts as due once it is an
/// interval away either way, so a wrong clock never stops the backups for long.
pub fn scheduled_due(newest: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    let interval = chrono::Duration::hours(SCHEDULED_INTERVAL_HOURS);
    newest.is_none_or(|at| (now - at).abs() >= interval)
}

/// The newest scheduled backup in `dir`, if any (the schedule's start-up check).
pub fn newest_scheduled(dir: &Path) -> CoreResult<Option<BackupInfo>> {
    Ok(list_backups(dir)?
        .into_iter()
        .find(|b| b.reason == BackupReason::Scheduled))
}

/// Deletes the scheduled backups past the newest [`SCHEDULED_KEPT_MAX`] and the others
/// past the newest [`OTHER_KEPT_MAX`]; returns the files deleted. The newest of each kind
/// always stays.
pub fn prune(dir: &Path) -> CoreResult<Vec<String>> {
    let all = list_backups(dir)?;
    let (scheduled, other): (Vec<_>, Vec<_>) = all
        .into_iter()
        .partition(|b| b.reason == BackupReason::Scheduled);
    let mut deleted = Vec::new();
    for b in scheduled
        .iter()
        .skip(SCHEDULED_KEPT_MAX)
        .chain(other.iter().skip(OTHER_KEPT_MAX))
    {
        std::fs::remove_file(dir.join(&b.file)).map_err(StoreError::Io)?;
        tracing::info!(file = %b.file, "old backup deleted");
        deleted.push(b.file.clone());
    }
    Ok(deleted)
}

/// What the file at `path` holds, read only. A file that is not SQLite or not ours is an
/// error; a damaged or newer one is a preview that says so (`restorable: false`).
pub fn preview(path: &Path) -> CoreResult<BackupPreview> {
    let file = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_owned();
    let size_bytes = std::fs::metadata(path).map_err(StoreError::Io)?.len();
    let not_sqlite = || {
        CoreError::conflict(
            Refusal::BackupNotADatabase,
            format!("{file} is not an SQLite database"),
        )
        .with("file", &file)
    };
    let conn = open_read_only(path).map_err(|_| not_sqlite())?;
    // Opening is lazy: the first read finds out whether this is SQLite at all.
    let app_id: i64 = conn
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .map_err(|_| not_sqlite())?;
    if app_id != APPLICATION_ID {
        return Err(StoreError::NotOurs {
            path: file,
            found: app_id,
        }
        .into());
    }
    let schema_version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let (integrity_ok, integrity_detail) = integrity(&conn)?;
    let (taken_at, reason) = parse_file_name(&file).unzip();
    let mut p = BackupPreview {
        file,
        taken_at,
        reason,
        size_bytes,
        schema_version,
        school_name: None,
        pupils: 0,
        staff: 0,
        classes: 0,
        cards: 0,
        events: 0,
        last_event_at: None,
        integrity_ok,
        integrity_detail,
        chain_intact: None,
        restorable: integrity_ok && schema_version <= SCHEMA_VERSION,
    };
    if !integrity_ok {
        return Ok(p);
    }
    // The tables below exist since migration 1; a newer schema still has them.
    let count = |sql: &str| -> rusqlite::Result<u64> {
        conn.query_row(sql, [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
    };
    p.school_name = conn
        .query_row("SELECT name FROM school", [], |r| r.get(0))
        .optional()?;
    p.pupils = count("SELECT count(*) FROM persons WHERE kind = 'pupil' AND status = 'active'")?;
    p.staff = count("SELECT count(*) FROM persons WHERE kind = 'staff' AND status = 'active'")?;
    p.classes = count("SELECT count(*) FROM classes WHERE archived = 0")?;
    p.cards = count("SELECT count(*) FROM cards WHERE state = 'active'")?;
    p.events = count("SELECT count(*) FROM journal")?;
    p.last_event_at = conn
        .query_row("SELECT max(occurred_at_us) FROM journal", [], |r| {
            r.get::<_, Option<i64>>(0)
        })?
        .map(crate::time::from_micros);
    // `verify` reads tables of later migrations: an older file is not checked.
    if schema_version == SCHEMA_VERSION {
        p.chain_intact = crate::journal::verify(&conn).ok().map(|r| r.is_intact());
    }
    Ok(p)
}

/// Restores the backup at `backup_path` into the live database `live` (the connection the
/// workstation writes through, whose file is `db_path`). Refuses a file that is not ours,
/// damaged, or written by a newer schema, before touching anything; otherwise first keeps
/// the live database as a `before-restore` backup, then copies the backup into it page by
/// page. The caller migrates it (if older) and journals the restore.
pub fn restore_into(
    live: &mut Connection,
    db_path: &Path,
    backup_path: &Path,
    now: DateTime<Utc>,
) -> CoreResult<RestoreOutcome> {
    let restored = preview(backup_path)?;
    refuse_unrestorable(&restored)?;
    // The live copy is kept even when it is damaged (that may be why we restore): it is
    // the evidence, and it holds whatever the backup does not.
    let saved_before = write_copy(live, db_path, BackupReason::BeforeRestore, now, false)?;
    let src = open_read_only(backup_path)?;
    copy_pages(&src, live)?;
    tracing::info!(file = %restored.file, "backup restored");
    prune(&backup_dir(db_path))?;
    Ok(RestoreOutcome {
        restored,
        saved_before: Some(saved_before),
    })
}

/// Restores with no workstation running (an installer, a support tool): opens the live
/// database, restores into it, migrates it through `Store::open` and journals
/// `backup_restored`. A live file that is missing is created; one so damaged that SQLite
/// cannot open it is set aside as `… before-restore.sqlite` byte for byte and replaced.
pub fn restore(
    db_path: &Path,
    backup_path: &Path,
    now: DateTime<Utc>,
) -> CoreResult<RestoreOutcome> {
    let restored = preview(backup_path)?;
    refuse_unrestorable(&restored)?;
    let outcome = match open_live(db_path) {
        Ok(mut live) => restore_into(&mut live, db_path, backup_path, now)?,
        Err(e) => {
            tracing::warn!(error = %e, "the live database cannot be opened; it is set aside and replaced");
            let dir = backup_dir(db_path);
            std::fs::create_dir_all(&dir).map_err(StoreError::Io)?;
            let aside = free_name(&dir, now, BackupReason::BeforeRestore)?;
            let size_bytes = std::fs::metadata(db_path).map_err(StoreError::Io)?.len();
            std::fs::rename(db_path, dir.join(&aside)).map_err(StoreError::Io)?;
            // Its write-ahead log may hold what the file lacks: it goes along, as evidence.
            for suffix in ["-wal", "-shm"] {
                let side = side_file(db_path, suffix);
                if side.exists() {
                    std::fs::rename(&side, dir.join(format!("{aside}{suffix}")))
                        .map_err(StoreError::Io)?;
                }
            }
            sync_dir(&dir);
            let mut live = open_live(db_path)?;
            let src = open_read_only(backup_path)?;
            copy_pages(&src, &mut live)?;
            RestoreOutcome {
                restored,
                saved_before: Some(BackupInfo {
                    file: aside,
                    taken_at: now,
                    reason: BackupReason::BeforeRestore,
                    size_bytes,
                }),
            }
        }
    };
    let mut store = crate::Store::open(db_path)?;
    let actor = format!("device:{}", store.device());
    journal_restore(&mut store, &actor, &outcome, now)?;
    Ok(outcome)
}

/// Appends `backup_restored` (after the restore, so the restore itself is on record).
pub fn journal_restore(
    store: &mut crate::Store,
    actor: &str,
    outcome: &RestoreOutcome,
    now: DateTime<Utc>,
) -> CoreResult<()> {
    let body = crate::events::EventBody::BackupRestored {
        file: outcome.restored.file.clone(),
        taken_at: outcome.restored.taken_at,
        last_event_at: outcome.restored.last_event_at,
        events: outcome.restored.events,
    };
    store.write(|w| w.append(actor, now, body).map(|_| ()))?;
    Ok(())
}

fn refuse_unrestorable(p: &BackupPreview) -> CoreResult<()> {
    if !p.integrity_ok {
        return Err(CoreError::conflict(
            Refusal::BackupDamaged,
            format!(
                "{} is damaged: {}",
                p.file,
                p.integrity_detail.as_deref().unwrap_or("")
            ),
        )
        .with("file", &p.file));
    }
    if p.schema_version > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            found: p.schema_version,
            supported: SCHEMA_VERSION,
        }
        .into());
    }
    Ok(())
}

/// Writes the copy as `.partial`, checks it, switches it to a self-contained file
/// (rollback journal, not WAL), fsyncs it and gives it its name.
fn write_copy(
    src: &Connection,
    db_path: &Path,
    reason: BackupReason,
    now: DateTime<Utc>,
    require_intact: bool,
) -> CoreResult<BackupInfo> {
    let dir = backup_dir(db_path);
    std::fs::create_dir_all(&dir).map_err(StoreError::Io)?;
    let name = free_name(&dir, now, reason)?;
    let partial = dir.join(format!(".{name}.partial"));
    if partial.exists() {
        std::fs::remove_file(&partial).map_err(StoreError::Io)?;
    }
    let result = (|| -> CoreResult<()> {
        let mut dst = Connection::open(&partial)?;
        copy_pages(src, &mut dst)?;
        let _mode: String = dst.query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))?;
        let (ok, detail) = integrity(&dst)?;
        if !ok {
            if require_intact {
                return Err(CoreError::conflict(
                    Refusal::BackupDamaged,
                    format!("the copy failed its check: {}", detail.unwrap_or_default()),
                )
                .with("file", &name));
            }
            tracing::warn!(file = %name, detail, "the copy of a damaged database is kept as it is");
        }
        dst.close().map_err(|(_, e)| e)?;
        std::fs::File::open(&partial)
            .and_then(|f| f.sync_all())
            .map_err(StoreError::Io)?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    let path = dir.join(&name);
    std::fs::rename(&partial, &path).map_err(StoreError::Io)?;
    sync_dir(&dir);
    let size_bytes = std::fs::metadata(&path).map_err(StoreError::Io)?.len();
    tracing::info!(file = %name, size_bytes, "backup written");
    Ok(BackupInfo {
        file: name,
        taken_at: now,
        reason,
        size_bytes,
    })
}

/// The backup's name, numbered when a copy of the same second and reason exists.
fn free_name(dir: &Path, now: DateTime<Utc>, reason: BackupReason) -> CoreResult<String> {
    let first = file_name(now, reason);
    if !dir.join(&first).exists() {
        return Ok(first);
    }
    let stem = first.trim_end_matches(EXTENSION);
    (2..=SAME_NAME_SUFFIX_MAX)
        .map(|n| format!("{stem} {n}{EXTENSION}"))
        .find(|name| !dir.join(name).exists())
        .ok_or_else(|| {
            CoreError::conflict(
                Refusal::TooMany,
                format!("{SAME_NAME_SUFFIX_MAX} backups in one second"),
            )
            .with("max", SAME_NAME_SUFFIX_MAX)
        })
}

/// Copies every page of `src` into `dst` in steps of [`BACKUP_PAGES_PER_STEP`], pausing
/// between them; gives up after [`BACKUP_DURATION_MAX_SECONDS`].
fn copy_pages(src: &Connection, dst: &mut Connection) -> CoreResult<()> {
    use rusqlite::backup::StepResult;
    let started = std::time::Instant::now();
    let backup = Backup::new(src, dst)?;
    loop {
        match backup.step(BACKUP_PAGES_PER_STEP)? {
            StepResult::Done => return Ok(()),
            StepResult::More | StepResult::Busy | StepResult::Locked => {}
            // A future rusqlite's other answers: treat as "try again", still bounded.
            _ => {}
        }
        if started.elapsed() > Duration::from_secs(BACKUP_DURATION_MAX_SECONDS) {
            return Err(StoreError::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!(
                    "the copy did not finish in {BACKUP_DURATION_MAX_SECONDS} s (the database kept changing or stayed locked)"
                ),
            ))
            .into());
        }
        std::thread::sleep(Duration::from_millis(BACKUP_PAUSE_BETWEEN_STEPS_MS));
    }
}

fn integrity(conn: &Connection) -> CoreResult<(bool, Option<String>)> {
    let lines = conn
        .prepare(&format!("PRAGMA integrity_check({INTEGRITY_LINES_MAX})"))
        .and_then(|mut stmt| {
            stmt.query_map([], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()
        });
    match lines {
        Ok(lines) if lines.len() == 1 && lines[0] == "ok" => Ok((true, None)),
        Ok(lines) => Ok((false, Some(lines.join("; ")))),
        // So damaged that the check itself cannot run.
        Err(e) => Ok((false, Some(e.to_string()))),
    }
}

fn open_read_only(path: &Path) -> CoreResult<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_millis(BUSY_TIMEOUT_MS))?;
    Ok(conn)
}

/// The live database for writing, checked to be readable SQLite (the header parses).
fn open_live(db_path: &Path) -> CoreResult<Connection> {
    let conn = Connection::open(db_path)?;
    conn.busy_timeout(Duration::from_millis(BUSY_TIMEOUT_MS))?;
    let _: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    Ok(conn)
}

fn side_file(db_path: &Path, suffix: &str) -> PathBuf {
    let mut name = db_path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Makes the rename durable. Not every platform can open a folder; there the file's own
/// fsync is what we have.
fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_scheduled_backup_is_due_a_day_after_the_last_and_at_first() {
        let at = Utc.with_ymd_and_hms(2026, 11, 27, 21, 0, 0).unwrap();
        let h = chrono::Duration::hours;
        let cases = [
            (None, true),
            (Some(at), false),
            (Some(at - h(23)), false),
            (Some(at - h(24)), true),
            (Some(at - h(24 * 9)), true),
            (Some(at + h(3)), false),
            (Some(at + h(24 * 30)), true),
        ];
        for (newest, due) in cases {
            assert_eq!(scheduled_due(newest, at), due, "{newest:?}");
        }
    }

    #[test]
    fn names_carry_the_instant_and_the_reason_and_read_back() {
        let at = Utc.with_ymd_and_hms(2026, 11, 27, 21, 0, 0).unwrap();
        let cases = [
            (
                BackupReason::Scheduled,
                "2026-11-27T21-00-00Z scheduled.sqlite",
            ),
            (BackupReason::Manual, "2026-11-27T21-00-00Z manual.sqlite"),
            (
                BackupReason::BeforeMigration { to_version: 14 },
                "2026-11-27T21-00-00Z before-migration-to-v14.sqlite",
            ),
            (
                BackupReason::BeforeRestore,
                "2026-11-27T21-00-00Z before-restore.sqlite",
            ),
        ];
        for (reason, name) in cases {
            assert_eq!(file_name(at, reason), name);
            assert_eq!(parse_file_name(name), Some((at, reason)));
        }
        assert_eq!(
            parse_file_name("2026-11-27T21-00-00Z manual 2.sqlite"),
            Some((at, BackupReason::Manual))
        );
        for not_ours in [
            "school.sqlite",
            "../2026-11-27T21-00-00Z manual.sqlite",
            ".2026-11-27T21-00-00Z manual.sqlite.partial",
            "2026-11-27T21-00-00Z whatever.sqlite",
        ] {
            assert_eq!(parse_file_name(not_ours), None, "{not_ours}");
        }
    }
}
