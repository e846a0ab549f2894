//! The journal's hash chain: an intact history verifies, and every kind of tampering
//! with the file behind the program's back is named by `verify`.

mod common;

use common::{run, school, t0};
use rusqlite::Connection;
use schoolcard_core::journal::{verify, ChainFault};
use serde_json::json;

/// A school with a few dozen events; returns the database path.
fn history(dir: &std::path::Path) -> std::path::PathBuf {
    let mut ws = school(dir);
    let class = run(&mut ws, json!({"type": "create_class", "name": "5А"}), t0());
    let class_id = common::id(&class, "/id");
    for i in 0..20 {
        run(
            &mut ws,
            json!({"type": "enrol_pupil", "class_id": class_id,
                   "name": {"surname": format!("Ученик{}", "а".repeat(i % 3 + 1)), "name": "Пётр"},
                   "details": {"external_id": format!("P{i:04}")}}),
            t0(),
        );
    }
    ws.store().path().to_owned()
}

/// Opens the file as an intruder would: with the append-only triggers dropped.
fn tamper(path: &std::path::Path, sql: &str) {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(
        "DROP TRIGGER journal_is_append_only_update; DROP TRIGGER journal_is_append_only_delete;",
    )
    .unwrap();
    conn.execute_batch(sql).unwrap();
}

fn faults(path: &std::path::Path) -> Vec<ChainFault> {
    verify(&Connection::open(path).unwrap()).unwrap().faults
}

#[test]
fn an_untouched_history_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let path = history(dir.path());
    let report = verify(&Connection::open(&path).unwrap()).unwrap();
    assert!(report.is_intact(), "{:?}", report.faults);
    assert!(report.events > 20);
}

#[test]
fn the_journal_refuses_update_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let path = history(dir.path());
    let conn = Connection::open(&path).unwrap();
    let upd = conn.execute("UPDATE journal SET actor = 'x' WHERE seq = 3", []);
    let del = conn.execute("DELETE FROM journal WHERE seq = 3", []);
    assert!(upd.unwrap_err().to_string().contains("append-only"));
    assert!(del.unwrap_err().to_string().contains("append-only"));
}

#[test]
fn tampering_is_reported_row_by_row() {
    // (what the intruder does, what verify must say)
    let cases: Vec<(&str, Vec<ChainFault>)> = vec![
        (
            "UPDATE journal SET payload = replace(payload, 'Ученик', 'Хакер') WHERE seq = 10",
            vec![ChainFault::Edited { seq: 10 }],
        ),
        ("UPDATE journal SET occurred_at_us = occurred_at_us + 1 WHERE seq = 4", vec![ChainFault::Edited { seq: 4 }]),
        (
            "DELETE FROM journal WHERE seq = 12",
            vec![ChainFault::MissingBefore { seq: 13 }, ChainFault::OriginGap {
                origin: String::new(), // filled below: the device id
                after: 11,
                next: 13,
            }],
        ),
        ("DELETE FROM journal WHERE seq = (SELECT max(seq) FROM journal)", vec![]), // checked below
        (
            "INSERT INTO journal (id, origin, origin_seq, occurred_at_us, actor, kind, payload, prev_hash, hash)
             SELECT randomblob(16), 'ws-forged', 1, occurred_at_us, actor, kind, payload, hash, zeroblob(32)
             FROM journal WHERE seq = (SELECT max(seq) FROM journal)",
            vec![], // checked below
        ),
    ];
    for (i, (sql, mut expected)) in cases.into_iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let path = history(dir.path());
        let (device, last): (String, i64) = Connection::open(&path)
            .unwrap()
            .query_row("SELECT origin, max(seq) FROM journal", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        tamper(&path, sql);
        match i {
            2 => {
                if let ChainFault::OriginGap { origin, .. } = &mut expected[1] {
                    *origin = device.clone();
                }
            }
            3 => {
                expected = vec![ChainFault::MissingAtEnd {
                    head_seq: last,
                    last_seq: last - 1,
                }]
            }
            4 => {
                expected = vec![
                    ChainFault::Edited { seq: last + 1 },
                    ChainFault::Inserted { seq: last + 1 },
                ]
            }
            _ => {}
        }
        assert_eq!(faults(&path), expected, "case {i}: {sql}");
    }
}

#[test]
fn a_row_slipped_into_the_chain_is_named() {
    // The intruder makes room by moving the last row up, then inserts a forged row,
    // correctly hashed and linked to its predecessor, in the gap.
    let dir = tempfile::tempdir().unwrap();
    let path = history(dir.path());
    let conn = Connection::open(&path).unwrap();
    let last: i64 = conn
        .query_row("SELECT max(seq) FROM journal", [], |r| r.get(0))
        .unwrap();
    drop(conn);
    tamper(
        &path,
        &format!(
            "UPDATE journal SET seq = {moved} WHERE seq = {last};
             UPDATE journal_head SET seq = {moved};",
            moved = last + 1
        ),
    );
    // Forge a row at `last` whose prev_hash links to row last-1 (so only its successor notices).
    let conn = Connection::open(&path).unwrap();
    let prev_hash: Vec<u8> = conn
        .query_row("SELECT hash FROM journal WHERE seq = ?1", [last - 1], |r| {
            r.get(0)
        })
        .unwrap();
    let forged = schoolcard_core::journal::StoredEvent {
        seq: last,
        id: vec![7; 16],
        origin: "ws-forged".into(),
        origin_seq: 1,
        occurred_at_us: 0,
        actor: "staff:nobody".into(),
        kind: "signed_out".into(),
        payload: r#"{"person_id":"00000000-0000-7000-8000-000000000000"}"#.into(),
        prev_hash: prev_hash.clone(),
        hash: vec![],
    };
    let hash = forged.expected_hash();
    conn.execute(
        "INSERT INTO journal (seq, id, origin, origin_seq, occurred_at_us, actor, kind, payload, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        rusqlite::params![
            forged.seq, forged.id, forged.origin, forged.origin_seq, forged.occurred_at_us, forged.actor,
            forged.kind, forged.payload, prev_hash, hash.as_slice()
        ],
    )
    .unwrap();
    assert_eq!(faults(&path), vec![ChainFault::Inserted { seq: last }]);
}

#[test]
fn two_writers_on_one_file_keep_the_chain_and_the_sequence_gap_free() {
    // Two connections (say, the app and an admin's maintenance run) append at once:
    // BEGIN IMMEDIATE with a busy timeout serialises them, and each append reads the
    // head and the next origin_seq inside its own transaction.
    use schoolcard_core::events::EventBody;
    use schoolcard_core::Store;
    const EVENTS_PER_WRITER: usize = 150;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.sqlite");
    drop(Store::open(&path).unwrap());
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let path = path.clone();
            std::thread::spawn(move || {
                let mut store = Store::open(&path).unwrap();
                for i in 0..EVENTS_PER_WRITER {
                    store
                        .write(|tx| {
                            tx.append(
                                "device:test",
                                t0(),
                                EventBody::SignInFailed {
                                    attempted: format!("writer{w}-{i}"),
                                    person_id: None,
                                    reason: "test".into(),
                                },
                            )
                        })
                        .unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let conn = Connection::open(&path).unwrap();
    let (count, min, max): (i64, i64, i64) = conn
        .query_row(
            "SELECT count(*), min(origin_seq), max(origin_seq) FROM journal",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(
        (count, min, max),
        (
            2 * EVENTS_PER_WRITER as i64,
            1,
            2 * EVENTS_PER_WRITER as i64
        )
    );
    assert!(verify(&conn).unwrap().is_intact());
}
