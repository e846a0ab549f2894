//! Roster and photo import through the workstation's commands, as the UI calls them: the
//! JSON it gets back for the sample files of the end-to-end test (`tests/data/`).

mod common;

use common::{no_progress, run, school, t0};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data")
        .join(name)
}

fn events(ws: &schoolcard_core::Workstation) -> i64 {
    ws.store()
        .conn()
        .query_row("SELECT count(*) FROM journal", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn the_admin_previews_fixes_and_commits_a_roster() {
    let dir = tempfile::tempdir().unwrap();
    let mut ws = school(dir.path());

    // The file with one bad row: listed with the row Excel shows, and refused whole.
    let bad = sample("roster-with-error.csv");
    let preview = run(
        &mut ws,
        json!({"type": "preview_roster", "path": bad}),
        t0(),
    );
    assert_eq!(preview["can_commit"], false);
    assert_eq!(preview["counts"]["error_rows"], 1);
    assert_eq!(
        preview["errors"],
        json!([{"row": 7, "column": "Класс", "code": "bad_class", "value": "13Я",
                "message": "grade must be 1–11, not 13"}])
    );
    let before = events(&ws);
    let err = ws
        .execute(
            common::cmd(json!({"type": "commit_roster", "path": bad})),
            t0(),
            &no_progress,
        )
        .unwrap_err();
    assert_eq!(err.code(), "invalid");
    assert_eq!(events(&ws), before, "nothing of a bad file is written");

    // The fixed file: 30 pupils in four new classes.
    let good = sample("roster.csv");
    let preview = run(
        &mut ws,
        json!({"type": "preview_roster", "path": good}),
        t0(),
    );
    assert_eq!(preview["can_commit"], true);
    assert_eq!(preview["counts"]["create"], 30);
    assert_eq!(
        preview["classes_to_create"],
        json!(["1А", "1Б", "5А", "9В"])
    );
    assert_eq!(
        preview["source"],
        json!({"format": "csv", "encoding": "UTF-8", "delimiter": ";"})
    );
    let outcome = run(
        &mut ws,
        json!({"type": "commit_roster", "path": good}),
        t0(),
    );
    assert_eq!(
        (outcome["created"].as_u64(), outcome["unchanged"].as_bool()),
        (Some(30), Some(false))
    );

    let found = run(
        &mut ws,
        json!({"type": "search_people", "query": "соколова варвара"}),
        t0(),
    );
    let people = found["people"].as_array().unwrap();
    assert_eq!(people.len(), 1, "{found}");
    assert_eq!(people[0]["class_name"], "1А");
    assert_eq!(people[0]["external_id"], "P9001");

    // Again: nothing to do, nothing written.
    let after = events(&ws);
    let again = run(
        &mut ws,
        json!({"type": "commit_roster", "path": good}),
        t0(),
    );
    assert_eq!(
        (again["unchanged"].as_bool(), again["events"].as_u64()),
        (Some(true), Some(0))
    );
    assert_eq!(events(&ws), after);

    // Photos named by the same ids.
    let photos = dir.path().join("photos");
    std::fs::create_dir(&photos).unwrap();
    std::fs::write(photos.join("P9001.jpg"), b"\xFF\xD8\xFF\xE0 tiny jpeg").unwrap();
    std::fs::write(photos.join("P0000.jpg"), b"\xFF\xD8\xFF\xE0 tiny jpeg").unwrap();
    let outcome: Value = run(
        &mut ws,
        json!({"type": "import_photos", "path": photos}),
        t0(),
    );
    assert_eq!(outcome["matched"][0]["external_id"], "P9001");
    assert_eq!(outcome["unknown_ids"], json!(["P0000.jpg"]));
}
