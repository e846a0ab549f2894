//! Backups and restores of the workstation's database (`schoolcard_core::backup`): a
//! damaged demo school brought back from its backup; a restore while the workstation and
//! a report reader are open; the backup `Store::open` takes before a migration; the
//! files a restore refuses; retention.

mod common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::{cmd, no_progress, run};
use rusqlite::Connection;
use schoolcard_core::backup::{self, BackupReason, SCHEDULED_KEPT_MAX};
use schoolcard_core::store::{APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION};
use schoolcard_core::{demo, director, journal, Store, Workstation};
use serde_json::{json, Value};
use std::path::Path;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 27, 21, 0, 0).unwrap()
}

fn demo_school(dir: &Path) -> std::path::PathBuf {
    let db = dir.join("school.sqlite");
    demo::ensure_demo(&db, demo::DEMO_SEED, now() - Duration::days(1)).unwrap();
    db
}

fn sign_in_admin(ws: &mut Workstation) {
    run(
        ws,
        json!({"type": "sign_in_password", "login": "admin", "password": demo::DEMO_PASSWORD}),
        now(),
    );
}

/// What a database holds, as the preview reads it (the journal aside).
fn holdings(path: &Path) -> (Option<String>, u64, u64, u64, u64) {
    let p = backup::preview(path).unwrap();
    (p.school_name, p.pupils, p.staff, p.classes, p.cards)
}

fn integrity(conn: &Connection) -> String {
    conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

fn class_count(conn: &Connection) -> i64 {
    conn.query_row("SELECT count(*) FROM classes WHERE archived = 0", [], |r| {
        r.get(0)
    })
    .unwrap()
}

fn last_kind(conn: &Connection) -> String {
    conn.query_row(
        "SELECT kind FROM journal ORDER BY seq DESC LIMIT 1",
        [],
        |r| r.get(0),
    )
    .unwrap()
}

#[test]
fn a_damaged_database_comes_back_from_its_backup_whole() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_school(dir.path());
    let made = {
        let store = Store::open(&db).unwrap();
        backup::make_backup(store.conn(), &db, BackupReason::Manual, now()).unwrap()
    };
    let backup_path = backup::backup_dir(&db).join(&made.file);
    assert_eq!(made.file, "2026-11-27T21-00-00Z manual.sqlite");
    let held = backup::preview(&backup_path).unwrap();
    assert!(held.integrity_ok && held.restorable, "{held:?}");
    assert_eq!(held.chain_intact, Some(true));
    assert!(
        held.pupils > 100 && held.classes > 10 && held.cards > 100,
        "{held:?}"
    );
    let before = holdings(&db);
    assert_eq!(before, holdings(&backup_path));

    // Garbage over the middle of the file, every connection closed (no WAL left).
    let mut bytes = std::fs::read(&db).unwrap();
    let middle = bytes.len() / 2;
    let damage_bytes = 256 * 1024;
    for b in &mut bytes[middle - damage_bytes / 2..middle + damage_bytes / 2] {
        *b = 0xA5;
    }
    std::fs::write(&db, &bytes).unwrap();
    assert_ne!(
        integrity(&Connection::open(&db).unwrap()),
        "ok",
        "the damage must show"
    );

    let later = now() + Duration::hours(1);
    let outcome = backup::restore(&db, &backup_path, later).unwrap();
    assert!(outcome.saved_before.is_some(), "the damaged file is kept");

    let store = Store::open(&db).unwrap();
    assert_eq!(integrity(store.conn()), "ok");
    let report = journal::verify(store.conn()).unwrap();
    assert!(report.is_intact(), "{:?}", report.faults);
    assert_eq!(report.events, held.events + 1, "the restore is on record");
    assert_eq!(last_kind(store.conn()), "backup_restored");
    drop(store);
    assert_eq!(holdings(&db), before);
}

#[test]
fn a_deleted_database_comes_back_from_its_backup() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_school(dir.path());
    let made = backup::make_backup_of_file(&db, BackupReason::Scheduled, now()).unwrap();
    let before = holdings(&db);
    std::fs::remove_file(&db).unwrap();
    backup::restore(&db, &backup::backup_dir(&db).join(&made.file), now()).unwrap();
    let store = Store::open(&db).unwrap();
    assert!(journal::verify(store.conn()).unwrap().is_intact());
    drop(store);
    assert_eq!(holdings(&db), before);
}

#[test]
fn a_database_whose_header_is_gone_is_set_aside_and_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_school(dir.path());
    let made = backup::make_backup_of_file(&db, BackupReason::Scheduled, now()).unwrap();
    let before = holdings(&db);
    let mut bytes = std::fs::read(&db).unwrap();
    bytes[..4096].fill(0xEE);
    std::fs::write(&db, &bytes).unwrap();
    assert!(Store::open(&db).is_err(), "the damage must show");

    let outcome = backup::restore(&db, &backup::backup_dir(&db).join(&made.file), now()).unwrap();
    let aside = outcome.saved_before.expect("the damaged file is kept");
    assert_eq!(
        std::fs::read(backup::backup_dir(&db).join(&aside.file)).unwrap(),
        bytes,
        "byte for byte"
    );
    let store = Store::open(&db).unwrap();
    assert_eq!(integrity(store.conn()), "ok");
    assert!(journal::verify(store.conn()).unwrap().is_intact());
    drop(store);
    assert_eq!(holdings(&db), before);
}

#[test]
fn a_restore_while_the_app_runs_keeps_it_working_and_readers_see_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_school(dir.path());
    let mut ws = Workstation::open(&db).unwrap();
    sign_in_admin(&mut ws);
    let reader = director::open_read_only(&db).unwrap();

    let made = run(&mut ws, json!({"type": "make_backup"}), now());
    let file = made["file"].as_str().unwrap().to_owned();
    let classes_then = class_count(&reader);
    let events_then: i64 = reader
        .query_row("SELECT count(*) FROM journal", [], |r| r.get(0))
        .unwrap();

    // A class created after the backup: the restore takes it away.
    run(
        &mut ws,
        json!({"type": "create_class", "name": "11Я"}),
        now() + Duration::minutes(5),
    );
    assert_eq!(class_count(&reader), classes_then + 1);

    let preview = run(
        &mut ws,
        json!({"type": "preview_backup", "file": file}),
        now(),
    );
    assert_eq!(preview["classes"], json!(classes_then));
    assert_eq!(preview["chain_intact"], json!(true));

    let restored = run(
        &mut ws,
        json!({"type": "restore_backup", "file": file}),
        now() + Duration::minutes(10),
    );
    assert_eq!(restored["signed_out"], json!(false));
    let saved = restored["saved_before"]["file"].as_str().unwrap();
    assert!(saved.ends_with(" before-restore.sqlite"), "{saved}");

    // The reader, opened before, sees the restored content.
    assert_eq!(class_count(&reader), classes_then);
    let events_now: i64 = reader
        .query_row("SELECT count(*) FROM journal", [], |r| r.get(0))
        .unwrap();
    assert_eq!(events_now, events_then + 1);
    assert_eq!(last_kind(&reader), "backup_restored");

    // The workstation goes on: it reads, writes, and its journal verifies.
    run(
        &mut ws,
        json!({"type": "create_class", "name": "11Я"}),
        now() + Duration::minutes(15),
    );
    assert_eq!(class_count(&reader), classes_then + 1);
    let check = run(&mut ws, json!({"type": "verify_journal"}), now());
    assert_eq!(check["intact"], json!(true), "{check}");
    let listed = run(&mut ws, json!({"type": "list_backups"}), now());
    let files: Vec<&str> = listed["backups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["file"].as_str().unwrap())
        .collect();
    assert!(
        files.contains(&file.as_str()) && files.contains(&saved),
        "{files:?}"
    );
    // The before-restore copy holds the class the restore took away.
    let aside = backup::preview(&backup::backup_dir(&db).join(saved)).unwrap();
    assert_eq!(aside.classes as i64, classes_then + 1);
}

/// A database left at schema `version` by an older program.
fn older_database(path: &Path, version: usize) {
    let conn = Connection::open(path).unwrap();
    for sql in &MIGRATIONS[..version] {
        conn.execute_batch(sql).unwrap();
    }
    conn.pragma_update(None, "application_id", APPLICATION_ID)
        .unwrap();
    conn.pragma_update(None, "user_version", version as i64)
        .unwrap();
}

#[test]
fn opening_an_older_database_backs_it_up_before_migrating() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("old.sqlite");
    let older = SCHEMA_VERSION as usize - 3;
    older_database(&db, older);

    let store = Store::open(&db).unwrap();
    let version: i64 = store
        .conn()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    let backups = backup::list_backups(&backup::backup_dir(&db)).unwrap();
    assert_eq!(backups.len(), 1, "{backups:?}");
    assert_eq!(
        backups[0].reason,
        BackupReason::BeforeMigration {
            to_version: SCHEMA_VERSION
        }
    );
    assert!(backups[0]
        .file
        .ends_with(&format!(" before-migration-to-v{SCHEMA_VERSION}.sqlite")));
    let held = backup::preview(&backup::backup_dir(&db).join(&backups[0].file)).unwrap();
    assert_eq!(held.schema_version, older as i64);
    assert!(held.integrity_ok);
    drop(store);

    // Opened again (nothing to migrate), and a fresh file: no backup.
    drop(Store::open(&db).unwrap());
    let fresh = dir.path().join("fresh").join("new.sqlite");
    std::fs::create_dir_all(fresh.parent().unwrap()).unwrap();
    drop(Store::open(&fresh).unwrap());
    assert_eq!(
        backup::list_backups(&backup::backup_dir(&db))
            .unwrap()
            .len(),
        1
    );
    assert!(!backup::backup_dir(&fresh).exists());
}

#[test]
fn no_backup_no_migration() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("old.sqlite");
    let older = SCHEMA_VERSION as usize - 1;
    older_database(&db, older);
    // A file where the folder should be: the backup cannot be written.
    std::fs::write(backup::backup_dir(&db), b"in the way").unwrap();
    assert!(Store::open(&db).is_err());
    let version: i64 = Connection::open(&db)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, older as i64, "not migrated without its backup");
}

fn refusal(ws: &mut Workstation, file: &str) -> (String, Option<String>) {
    let e = ws
        .execute(
            cmd(json!({"type": "restore_backup", "file": file})),
            now(),
            &no_progress,
        )
        .expect_err("must be refused");
    (
        e.code().to_owned(),
        e.reason().map(|r| r.as_str().to_owned()),
    )
}

#[test]
fn a_restore_refuses_what_is_not_a_good_backup_of_ours_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("school.sqlite");
    let mut ws = common::school(dir.path());
    let backups = backup::backup_dir(&db);
    let made: Value = run(&mut ws, json!({"type": "make_backup"}), now());
    let good = backups.join(made["file"].as_str().unwrap());

    let not_sqlite = "2026-11-01T00-00-00Z manual.sqlite";
    std::fs::write(
        backups.join(not_sqlite),
        "surname;name\nИванов;Иван\n".repeat(200),
    )
    .unwrap();

    let newer = "2026-11-02T00-00-00Z manual.sqlite";
    std::fs::copy(&good, backups.join(newer)).unwrap();
    Connection::open(backups.join(newer))
        .unwrap()
        .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();

    let foreign = "2026-11-03T00-00-00Z manual.sqlite";
    Connection::open(backups.join(foreign))
        .unwrap()
        .execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
        .unwrap();

    let damaged = "2026-11-04T00-00-00Z manual.sqlite";
    let mut bytes = std::fs::read(&good).unwrap();
    assert!(bytes.len() > 8 * 4096, "a school's file spans pages");
    let from = bytes.len() / 2;
    bytes[from..from + 4096].fill(0x5A);
    std::fs::write(backups.join(damaged), bytes).unwrap();

    let preview = |file: &str| ws_preview(&backups.join(file));
    assert!(!preview(newer).restorable);
    assert!(!preview(damaged).restorable && !preview(damaged).integrity_ok);

    let events = |ws: &Workstation| journal::verify(ws.store().conn()).unwrap().events;
    let events_before = events(&ws);
    let listed_before = backup::list_backups(&backups).unwrap().len();
    let cases = [
        (not_sqlite, "conflict", Some("backup_not_a_database")),
        (newer, "newer_schema", None),
        (foreign, "not_ours", None),
        (damaged, "conflict", Some("backup_damaged")),
        ("../school.sqlite", "not_found", None),
        ("2020-01-01T00-00-00Z manual.sqlite", "not_found", None),
    ];
    for (file, code, reason) in cases {
        assert_eq!(
            refusal(&mut ws, file),
            (code.to_owned(), reason.map(str::to_owned)),
            "{file}"
        );
    }
    assert_eq!(events(&ws), events_before, "nothing journaled");
    assert_eq!(
        backup::list_backups(&backups).unwrap().len(),
        listed_before,
        "no before-restore copy made for a refused restore"
    );
}

fn ws_preview(path: &Path) -> backup::BackupPreview {
    backup::preview(path).unwrap()
}

#[test]
fn retention_keeps_the_newest_scheduled_and_every_manual_one() {
    let dir = tempfile::tempdir().unwrap();
    let ws = common::school(dir.path());
    let db = ws.store().path().to_owned();
    let days = SCHEDULED_KEPT_MAX as i64 + 6;
    let first = now() - Duration::days(days);
    backup::make_backup(ws.store().conn(), &db, BackupReason::Manual, first).unwrap();
    for day in 0..days {
        let at = first + Duration::days(day) + Duration::minutes(1);
        backup::make_backup(ws.store().conn(), &db, BackupReason::Scheduled, at).unwrap();
    }
    let listed = backup::list_backups(&backup::backup_dir(&db)).unwrap();
    let scheduled: Vec<DateTime<Utc>> = listed
        .iter()
        .filter(|b| b.reason == BackupReason::Scheduled)
        .map(|b| b.taken_at)
        .collect();
    let expected: Vec<DateTime<Utc>> = (days - SCHEDULED_KEPT_MAX as i64..days)
        .rev()
        .map(|day| first + Duration::days(day) + Duration::minutes(1))
        .collect();
    assert_eq!(scheduled, expected);
    assert_eq!(
        listed
            .iter()
            .filter(|b| b.reason == BackupReason::Manual)
            .count(),
        1,
        "the oldest, manual, one stays"
    );
    assert_eq!(
        backup::newest_scheduled(&backup::backup_dir(&db))
            .unwrap()
            .map(|b| b.taken_at),
        expected.first().copied()
    );
}

#[test]
fn a_backup_from_an_older_schema_is_migrated_after_the_restore() {
    let dir = tempfile::tempdir().unwrap();
    let mut ws = common::school(dir.path());
    let backups = backup::backup_dir(ws.store().path());
    std::fs::create_dir_all(&backups).unwrap();
    let old = "2026-01-10T08-00-00Z before-migration-to-v5.sqlite";
    let older = 4;
    older_database(&backups.join(old), older);
    let held = backup::preview(&backups.join(old)).unwrap();
    assert_eq!((held.schema_version, held.restorable), (older as i64, true));
    assert_eq!(
        held.chain_intact, None,
        "an older file's chain is not checked"
    );

    let answer = run(
        &mut ws,
        json!({"type": "restore_backup", "file": old}),
        now(),
    );
    // The old file has no accounts: the admin who restored it is signed out.
    assert_eq!(answer["signed_out"], json!(true));
    let conn = ws.store().conn();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    assert_eq!(integrity(conn), "ok");
    assert_eq!(last_kind(conn), "backup_restored");
    assert!(journal::verify(conn).unwrap().is_intact());
    // A fresh school again: set up from the start.
    let school = run(&mut ws, json!({"type": "get_school"}), now());
    assert_eq!(school["configured"], json!(false), "{school}");
}

#[test]
fn a_post_enrolled_with_a_server_gets_its_data_back_from_the_server_not_a_backup() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("school.sqlite");
    let mut ws = common::school(dir.path());
    let made: Value = run(&mut ws, json!({"type": "make_backup"}), now());
    let file = made["file"].as_str().unwrap().to_owned();
    // Enrolled (as `connect_server` leaves it).
    ws.store()
        .conn()
        .execute(
            "INSERT INTO sync_config (singleton, server_url, school_id, school_name, enrolled_at_us)
             VALUES (1, 'https://city.example.ru', 'school-1', 'Лицей', 0)",
            [],
        )
        .unwrap();
    let events_before: i64 = ws
        .store()
        .conn()
        .query_row("SELECT count(*) FROM journal", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        refusal(&mut ws, &file),
        (
            "invalid".to_owned(),
            Some("restore_while_enrolled".to_owned())
        )
    );
    // Nothing was touched: no before-restore copy, the same journal.
    let listed = backup::list_backups(&backup::backup_dir(&db)).unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    let events_after: i64 = ws
        .store()
        .conn()
        .query_row("SELECT count(*) FROM journal", [], |r| r.get(0))
        .unwrap();
    assert_eq!(events_after, events_before);
}
