//! Roster and photo import, as data: sample files under `core/tests/data/roster/` (and
//! variants generated from them) against a real store on a temp file.

use super::*;
use crate::domain::{CardState, ClassId, FullName, PersonId, PersonKind, PersonStatus};
use crate::events::PersonDetails;
use crate::store::PROJECTION_TABLES;
use chrono::TimeZone;
use rusqlite::types::Value as SqlValue;
use std::cell::RefCell;
use std::path::PathBuf;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/roster")
        .join(name)
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 8, 25, 7, 0, 0).unwrap()
}

fn quiet(_: Progress) {}

const ACTOR: &str = "staff:test-admin";

/// A school that already has class 5А, a pupil P0100 holding card `40:1122334455`, and a
/// pupil P0099 who has left.
fn school(dir: &Path) -> Store {
    let mut store = Store::open(&dir.join("school.sqlite")).unwrap();
    let class_id = ClassId::new_v7();
    let enrol = |id: &str, surname: &str, name: &str| EventBody::PersonEnrolled {
        person_id: PersonId::new_v7(),
        person_kind: PersonKind::Pupil,
        name: FullName::new(surname, name, "").unwrap(),
        class_id: Some(class_id),
        details: PersonDetails {
            external_id: Some(id.into()),
            ..Default::default()
        },
    };
    let old = enrol("P0100", "Старый", "Пётр");
    let left = enrol("P0099", "Ушедший", "Олег");
    let (
        EventBody::PersonEnrolled {
            person_id: old_id, ..
        },
        EventBody::PersonEnrolled {
            person_id: left_id, ..
        },
    ) = (&old, &left)
    else {
        unreachable!()
    };
    let (old_id, left_id) = (*old_id, *left_id);
    store
        .write(|w| {
            for body in [
                EventBody::SchoolConfigured {
                    name: "Лицей «Держава»".into(),
                    time_zone: "Europe/Moscow".into(),
                    demo: false,
                },
                EventBody::ClassCreated {
                    class_id,
                    grade: 5,
                    letter: "А".into(),
                },
                old,
                left,
                EventBody::CardBound {
                    card: "0x1122334455".parse().unwrap(),
                    person_id: old_id,
                    raw: "0x1122334455".into(),
                },
                EventBody::PersonStatusChanged {
                    person_id: left_id,
                    status: PersonStatus::Left,
                    reason: "moved".into(),
                },
            ] {
                w.append(ACTOR, t0(), body)?;
            }
            Ok::<_, CoreError>(())
        })
        .unwrap();
    store
}

fn journal_len(store: &Store) -> i64 {
    store
        .conn()
        .query_row("SELECT count(*) FROM journal", [], |r| r.get(0))
        .unwrap()
}

fn journal_kinds_after(store: &Store, seq: i64) -> Vec<String> {
    let mut stmt = store
        .conn()
        .prepare("SELECT kind FROM journal WHERE seq > ?1 ORDER BY seq")
        .unwrap();
    stmt.query_map([seq], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Every projection table, row by row.
fn projections(store: &Store) -> Vec<(String, Vec<Vec<SqlValue>>)> {
    PROJECTION_TABLES
        .iter()
        .map(|table| {
            let mut stmt = store
                .conn()
                .prepare(&format!("SELECT * FROM {table} ORDER BY 1, 2"))
                .unwrap();
            let columns = stmt.column_count();
            let rows = stmt
                .query_map([], |r| {
                    (0..columns)
                        .map(|i| r.get::<_, SqlValue>(i))
                        .collect::<Result<Vec<_>, _>>()
                })
                .unwrap()
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            (table.to_string(), rows)
        })
        .collect()
}

/// The pupils as a person would list them: one line each, in id order.
fn roster_dump(store: &Store) -> String {
    let conn = store.conn();
    let mut stmt = conn
        .prepare(
            "SELECT p.id, p.external_id, p.surname, p.name, p.patronymic, c.grade || c.letter, p.birth_date, p.status
             FROM persons p LEFT JOIN classes c ON c.id = p.class_id WHERE p.kind = 'pupil' ORDER BY p.external_id",
        )
        .unwrap();
    let pupils: Vec<[Option<String>; 8]> = stmt
        .query_map([], |r| {
            Ok(std::array::from_fn(|i| {
                r.get::<_, Option<String>>(i).unwrap()
            }))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let list = |sql: &str, id: &str| -> String {
        let mut stmt = conn.prepare(sql).unwrap();
        let items: Vec<String> = stmt
            .query_map([id], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        if items.is_empty() {
            "-".into()
        } else {
            items.join("; ")
        }
    };
    let mut out = String::new();
    for [id, ext, surname, name, patronymic, class, birth, status] in pupils {
        let id = id.unwrap();
        let full = FullName {
            surname: surname.unwrap(),
            name: name.unwrap(),
            patronymic: patronymic.unwrap(),
        };
        let cards = list(
            "SELECT card_key FROM cards WHERE person_id = ?1 ORDER BY card_key",
            &id,
        );
        let guardians = list(
            "SELECT g.surname || ' ' || g.name || ' ' || g.patronymic || ', ' || coalesce(g.phone, '-') || ', '
                    || coalesce(g.email, '-')
             FROM guardianship gs JOIN persons g ON g.id = gs.guardian_id WHERE gs.pupil_id = ?1 ORDER BY 1",
            &id,
        );
        let status = status.unwrap();
        let status = if status == "active" {
            String::new()
        } else {
            format!(" | {status}")
        };
        out.push_str(&format!(
            "{} {} | {} | {} | cards {cards} | guardians {guardians}{status}\n",
            ext.unwrap_or_default(),
            full.display(),
            class.unwrap_or_else(|| "-".into()),
            birth.unwrap_or_else(|| "-".into()),
        ));
    }
    out
}

fn issues(list: &[RowIssue]) -> Vec<(u32, String, &'static str)> {
    list.iter()
        .map(|i| (i.row, i.column.clone(), i.code.as_str()))
        .collect()
}

/// Writes `good.csv` as an XLSX workbook like a sheet an office keeps by hand: a title
/// above the header, dates as real date cells (one as text), the rest as text.
fn good_as_xlsx(path: &Path) {
    let text = std::fs::read_to_string(data("good.csv")).unwrap();
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet
        .write_string(0, 0, "Список обучающихся на 01.09.2026")
        .unwrap();
    let date_format = rust_xlsxwriter::Format::new().set_num_format("dd.mm.yyyy");
    for (r, line) in text.lines().enumerate() {
        for (c, cell) in line.split(';').enumerate() {
            let (r, c) = (r as u32 + 2, c as u16);
            let date = crate::workstation::parse_date(cell).filter(|_| r != 4);
            match date {
                Some(d) => {
                    use chrono::Datelike;
                    let dt = rust_xlsxwriter::ExcelDateTime::from_ymd(
                        d.year() as u16,
                        d.month() as u8,
                        d.day() as u8,
                    )
                    .unwrap();
                    sheet
                        .write_datetime_with_format(r, c, &dt, &date_format)
                        .unwrap();
                }
                None if !cell.is_empty() => {
                    sheet.write_string(r, c, cell).unwrap();
                }
                None => {}
            }
        }
    }
    workbook.save(path).unwrap();
}

/// `good.csv` in each form a school might send it; each must read the same.
fn good_variants(dir: &Path) -> Vec<PathBuf> {
    let utf8 = std::fs::read_to_string(data("good.csv")).unwrap();
    let cp1251 = dir.join("good-1251.csv");
    std::fs::write(&cp1251, encoding_rs::WINDOWS_1251.encode(&utf8).0).unwrap();
    let bom = dir.join("good-bom.csv");
    std::fs::write(
        &bom,
        [
            &[0xEF, 0xBB, 0xBF][..],
            utf8.replace('\n', "\r\n").as_bytes(),
        ]
        .concat(),
    )
    .unwrap();
    let xlsx = dir.join("good.xlsx");
    good_as_xlsx(&xlsx);
    vec![data("good.csv"), cp1251, bom, data("quoted.csv"), xlsx]
}

#[test]
fn a_good_file_reads_the_same_in_every_form() {
    let dir = tempfile::tempdir().unwrap();
    let expected = std::fs::read_to_string(data("good.expected.txt")).unwrap();
    for path in good_variants(dir.path()) {
        let case = tempfile::tempdir().unwrap();
        let mut store = school(case.path());
        let before = journal_len(&store);
        let preview = preview_file(&store, &path, &quiet).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            preview.can_commit,
            "{name}: {:?} {:?}",
            preview.file_errors, preview.errors
        );
        assert_eq!(
            preview.counts,
            RosterCounts {
                rows: 5,
                create: 5,
                update: 0,
                unchanged: 0,
                error_rows: 0,
                not_in_file: 1
            },
            "{name}"
        );
        assert_eq!(preview.classes_to_create, ["1Б", "9В", "1А"], "{name}");
        assert_eq!(preview.unknown_columns.len(), 1, "{name}: the note column");
        assert_eq!(
            journal_len(&store),
            before,
            "{name}: a preview writes nothing"
        );

        let outcome = commit_file(&mut store, ACTOR, t0(), &path, None, &quiet).unwrap();
        assert_eq!(
            (outcome.created, outcome.updated, outcome.unchanged),
            (5, 0, false),
            "{name}"
        );
        assert_eq!(
            (outcome.guardians_created, outcome.cards_bound),
            (2, 2),
            "{name}"
        );
        assert_eq!(roster_dump(&store), expected, "{name}");
    }
}

#[test]
fn the_source_is_described() {
    let dir = tempfile::tempdir().unwrap();
    let store = school(dir.path());
    let sources: Vec<Option<SourceInfo>> = good_variants(dir.path())
        .iter()
        .map(|p| preview_file(&store, p, &quiet).unwrap().source)
        .collect();
    let csv = |encoding, delimiter: &str| {
        Some(SourceInfo {
            format: "csv",
            encoding: Some(encoding),
            delimiter: Some(delimiter.into()),
        })
    };
    assert_eq!(
        sources,
        [
            csv("UTF-8", ";"),
            csv("windows-1251", ";"),
            csv("UTF-8", ";"),
            csv("UTF-8", ","),
            Some(SourceInfo {
                format: "xlsx",
                encoding: None,
                delimiter: None
            }),
        ]
    );
}

#[test]
fn every_bad_row_is_listed_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = school(dir.path());
    let expected: Vec<(u32, String, String)> = std::fs::read_to_string(data("bad.expected.tsv"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let parts: Vec<&str> = l.split('\t').collect();
            (
                parts[0].parse().unwrap(),
                parts[1].to_owned(),
                parts[2].to_owned(),
            )
        })
        .collect();

    let preview = preview_file(&store, &data("bad.csv"), &quiet).unwrap();
    let found: Vec<(u32, String, String)> = issues(&preview.errors)
        .into_iter()
        .map(|(r, c, code)| (r, c, code.to_owned()))
        .collect();
    assert_eq!(found, expected);
    assert!(!preview.can_commit);
    assert_eq!(preview.errors_total as usize, expected.len());
    assert_eq!(
        preview.counts,
        RosterCounts {
            rows: 17,
            create: 2,
            update: 0,
            unchanged: 0,
            error_rows: 15,
            not_in_file: 1
        }
    );
    assert_eq!(preview.classes_to_create, ["11Б"]);
    let taken = preview
        .errors
        .iter()
        .find(|e| e.code == Reason::CardTaken)
        .unwrap();
    assert!(taken.message.contains("Старый Пётр"), "{}", taken.message);
    assert_eq!(taken.value, "0x1122334455");

    let before = projections(&store);
    let events = journal_len(&store);
    let err = commit_file(&mut store, ACTOR, t0(), &data("bad.csv"), None, &quiet).unwrap_err();
    assert!(matches!(&err, CoreError::Invalid { .. }), "{err}");
    assert!(
        err.to_string().contains("15 of 17 rows have errors"),
        "{err}"
    );
    assert_eq!(journal_len(&store), events, "a bad file appends nothing");
    assert_eq!(projections(&store), before);
}

#[test]
fn a_file_without_required_columns_is_refused_as_a_whole() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = school(dir.path());
    let path = dir.path().join("no-class.csv");
    std::fs::write(&path, "ID;Фамилия;Имя;Имя\nP1;А;Б;В\n").unwrap();
    let preview = preview_file(&store, &path, &quiet).unwrap();
    let codes: Vec<(Reason, Option<String>)> = preview
        .file_errors
        .iter()
        .map(|e| (e.code, e.column.clone()))
        .collect();
    assert_eq!(
        codes,
        [
            (Reason::DuplicateColumn, Some("Имя".into())),
            (Reason::MissingColumn, Some("Класс".into()))
        ]
    );
    assert!(!preview.can_commit);
    let events = journal_len(&store);
    let err = commit_file(&mut store, ACTOR, t0(), &path, None, &quiet).unwrap_err();
    assert!(err.to_string().contains("duplicate_column"), "{err}");
    assert_eq!(journal_len(&store), events);

    for (name, bytes, code) in [
        ("empty.csv", &b""[..], Reason::NoHeader),
        ("fake.xlsx", &b"Fam;Name\n"[..], Reason::Unreadable),
        ("binary.csv", &b"\x00\x01\x02\x03"[..], Reason::Unreadable),
        ("broken.xlsx", &b"PK\x03\x04garbage"[..], Reason::Unreadable),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let preview = preview_file(&store, &path, &quiet).unwrap();
        assert_eq!(
            preview
                .file_errors
                .iter()
                .map(|e| e.code)
                .collect::<Vec<_>>(),
            [code],
            "{name}"
        );
    }
}

#[test]
fn a_title_above_the_header_is_skipped_and_rows_keep_their_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let store = school(dir.path());
    let path = dir.path().join("titled.csv");
    std::fs::write(
        &path,
        "Список 5А класса;;;\n;;;\nИдентификатор;Фамилия;Имя;Класс\nP1;Иванов;;5А\n",
    )
    .unwrap();
    let preview = preview_file(&store, &path, &quiet).unwrap();
    assert_eq!(
        issues(&preview.errors),
        [(4, "Имя".to_owned(), "empty_name")]
    );
    assert!(preview.unknown_columns.is_empty());
}

#[test]
fn siblings_share_a_guardian_and_the_first_row_s_contacts_win() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = school(dir.path());
    let path = dir.path().join("siblings.csv");
    std::fs::write(
        &path,
        "ID;Фамилия;Имя;Класс;Родитель;Телефон родителя;E-mail родителя\n\
         S1;Орлова;Ольга;5А;Орлова Елена Васильевна;+7 910 555-00-01;elena@example.ru\n\
         S2;Орлов;Олег;1А;Орлова  Елена Васильевна;8 910 555 00 01;lena@example.ru\n\
         S3;Орлов;Осип;1А;Орлова Елена Васильевна;;\n",
    )
    .unwrap();
    let preview = preview_file(&store, &path, &quiet).unwrap();
    assert_eq!(
        issues(&preview.warnings),
        [(3, "Родитель".to_owned(), "guardian_conflict")]
    );
    let kinds: Vec<Vec<Change>> = preview.changes.iter().map(|c| c.changes.clone()).collect();
    // S3 gives no phone or e-mail: a namesake is not assumed to be the same person.
    assert_eq!(
        kinds,
        [
            vec![Change::Enrol, Change::AddGuardian],
            vec![Change::Enrol, Change::LinkGuardian],
            vec![Change::Enrol, Change::AddGuardian]
        ]
    );
    let outcome = commit_file(&mut store, ACTOR, t0(), &path, None, &quiet).unwrap();
    assert_eq!(outcome.guardians_created, 2);
    let events = journal_len(&store);
    let again = commit_file(&mut store, ACTOR, t0(), &path, None, &quiet).unwrap();
    assert!(again.unchanged && again.warnings.len() == 1);
    assert_eq!(journal_len(&store), events);
}

#[test]
fn importing_the_same_file_twice_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = school(dir.path());
    let first = commit_file(&mut store, ACTOR, t0(), &data("good.csv"), None, &quiet).unwrap();
    assert!(!first.unchanged);
    let events = journal_len(&store);
    let state = projections(&store);

    // The same content in another encoding and layout is the same roster too.
    for path in good_variants(dir.path()) {
        let preview = preview_file(&store, &path, &quiet).unwrap();
        assert_eq!(
            preview.counts,
            RosterCounts {
                rows: 5,
                create: 0,
                update: 0,
                unchanged: 5,
                error_rows: 0,
                not_in_file: 1
            }
        );
        assert!(preview.changes.is_empty() && preview.classes_to_create.is_empty());
        let again = commit_file(
            &mut store,
            ACTOR,
            t0() + chrono::Duration::hours(1),
            &path,
            None,
            &quiet,
        )
        .unwrap();
        assert!(again.unchanged, "{path:?}");
        assert_eq!((again.created, again.updated, again.events), (0, 0, 0));
        assert_eq!(journal_len(&store), events, "{path:?}: no event at all");
        assert_eq!(projections(&store), state);
    }
    assert!(
        preview_file(&store, &data("good.csv"), &quiet)
            .unwrap()
            .already_imported
    );
}

#[test]
fn a_changed_file_updates_only_what_changed() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = school(dir.path());
    commit_file(&mut store, ACTOR, t0(), &data("good.csv"), None, &quiet).unwrap();
    let seq = journal_len(&store);

    // P0001 moves to 6А and gets a new guardian e-mail; P0003's patronymic is filled in;
    // P0099 (who had left) is back in 5А with a card; P0005 gets a birth date and a
    // parent; P0002, P0004 are as they were.
    let text = std::fs::read_to_string(data("good.csv"))
        .unwrap()
        .replace(
            "P0001;Соколова;Варвара;Андреевна;5А",
            "P0001;Соколова;Варвара;Андреевна;6А",
        )
        .replace("sokolova@example.ru", "anna.sokolova@example.ru")
        .replace("P0003;Ёлкин;Пётр;;", "P0003;Ёлкин;Пётр;Ильич;")
        .replace(
            "P0005;Петров;Илья;;1А;;;;;",
            "P0005;Петров;Илья;;1А;05.05.2019;;Петрова Ольга Ивановна;;",
        )
        + "P0099;Ушедший;Олег;;5А;;AA00000001;;;;\n";
    let path = dir.path().join("changed.csv");
    std::fs::write(&path, text).unwrap();

    let preview = preview_file(&store, &path, &quiet).unwrap();
    assert!(preview.can_commit, "{:?}", preview.errors);
    assert_eq!(
        preview.counts,
        RosterCounts {
            rows: 6,
            create: 0,
            update: 4,
            unchanged: 2,
            error_rows: 0,
            not_in_file: 1
        }
    );
    let changes: Vec<(&str, Vec<Change>, Option<&str>)> = preview
        .changes
        .iter()
        .map(|c| (c.id.as_str(), c.changes.clone(), c.from_class.as_deref()))
        .collect();
    assert_eq!(
        changes,
        [
            (
                "P0001",
                vec![Change::Move, Change::GuardianContacts],
                Some("5А")
            ),
            ("P0003", vec![Change::Details], None),
            ("P0005", vec![Change::Details, Change::AddGuardian], None),
            ("P0099", vec![Change::Return, Change::BindCard], None),
        ]
    );
    assert_eq!(preview.classes_to_create, ["6А"]);

    let outcome = commit_file(&mut store, ACTOR, t0(), &path, None, &quiet).unwrap();
    assert_eq!(
        (outcome.created, outcome.updated, outcome.unchanged_rows),
        (0, 4, 2)
    );
    assert_eq!(
        journal_kinds_after(&store, seq),
        [
            "class_created",
            "pupil_moved",
            "person_updated", // the guardian's e-mail
            "person_updated", // P0003's patronymic
            "person_updated", // P0005's birth date
            "person_enrolled",
            "guardian_linked",
            "person_status_changed",
            "card_bound",
            "roster_imported",
        ]
    );
    let dump = roster_dump(&store);
    assert!(
        dump.contains("P0001 Соколова Варвара Андреевна | 6А |"),
        "{dump}"
    );
    assert!(dump.contains("anna.sokolova@example.ru"), "{dump}");
    assert!(
        dump.contains("P0099 Ушедший Олег | 5А | - | cards 40:AA00000001 | guardians -\n"),
        "{dump}"
    );
    assert!(
        dump.contains("P0100 Старый Пётр"),
        "pupils not in the file are kept: {dump}"
    );

    // And then it is the store's state: the same file again changes nothing.
    let events = journal_len(&store);
    assert!(
        commit_file(&mut store, ACTOR, t0(), &path, None, &quiet)
            .unwrap()
            .unchanged
    );
    assert_eq!(journal_len(&store), events);
}

#[test]
fn rebuilt_projections_match_an_import() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = school(dir.path());
    commit_file(&mut store, ACTOR, t0(), &data("good.csv"), None, &quiet).unwrap();
    let incremental = projections(&store);
    store.rebuild_projections().unwrap();
    assert_eq!(projections(&store), incremental);
}

#[test]
fn a_lost_card_is_reported_not_reactivated() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = school(dir.path());
    commit_file(&mut store, ACTOR, t0(), &data("good.csv"), None, &quiet).unwrap();
    store
        .write(|w| {
            w.append(
                ACTOR,
                t0(),
                EventBody::CardStateChanged {
                    card: "55007EE425".parse().unwrap(),
                    state: CardState::Lost,
                    reason: String::new(),
                },
            )
        })
        .unwrap();
    let preview = preview_file(&store, &data("good.csv"), &quiet).unwrap();
    assert_eq!(
        issues(&preview.warnings),
        [(4, "Карта".to_owned(), "card_not_active")]
    );
    assert!(preview.can_commit && preview.changes.is_empty());
}

#[test]
fn the_lead_s_sample_files_read_as_described() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data");
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("s.sqlite")).unwrap();
    let bad = preview_file(&store, &root.join("roster-with-error.csv"), &quiet).unwrap();
    assert_eq!(issues(&bad.errors), [(7, "Класс".to_owned(), "bad_class")]);
    let good = preview_file(&store, &root.join("roster.csv"), &quiet).unwrap();
    assert!(good.can_commit, "{:?}", good.errors);
    assert_eq!(good.classes_to_create, ["1А", "1Б", "5А", "9В"]);
    assert_eq!(good.counts.rows, bad.counts.rows);
    assert!(
        (28..=32).contains(&good.counts.create),
        "{}",
        good.counts.create
    );
    commit_file(
        &mut store,
        ACTOR,
        t0(),
        &root.join("roster.csv"),
        None,
        &quiet,
    )
    .unwrap();
    assert!(roster_dump(&store).contains("Соколова Варвара"));
}

#[test]
fn progress_is_reported_sparingly() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = school(dir.path());
    let path = dir.path().join("big.csv");
    std::fs::write(&path, generated_roster(3_000)).unwrap();
    let reports = RefCell::new(Vec::new());
    let record = |p: Progress| reports.borrow_mut().push((p.stage, p.done, p.total));
    commit_file(&mut store, ACTOR, t0(), &path, None, &record).unwrap();
    let reports = reports.into_inner();
    for stage in ["read", "check", "write"] {
        let of_stage: Vec<_> = reports.iter().filter(|(s, _, _)| s == stage).collect();
        assert!(
            (2..=102).contains(&of_stage.len()),
            "{stage}: {} reports",
            of_stage.len()
        );
        let (_, done, total) = of_stage.last().unwrap();
        assert_eq!(done, total, "{stage} ends at its total");
    }
}

/// `rows` pupils with guardians and cards, as a school's export would hold them.
pub(crate) fn generated_roster(rows: usize) -> String {
    let mut text = String::from(
        "Идентификатор;Фамилия;Имя;Отчество;Класс;Дата рождения;Карта;Родитель;Телефон родителя\n",
    );
    let letters = ["А", "Б", "В", "Г"];
    for i in 0..rows {
        let class = format!("{}{}", i % 11 + 1, letters[i / 11 % 4]);
        text.push_str(&format!(
            "G{i:06};Фамилия{s};Имя{s};Отчество{s};{class};{:02}.{:02}.{};{};Родитель{s} Мама{s} Отчество{s};+7 900 {:07}\n",
            i % 28 + 1,
            i % 12 + 1,
            2008 + i % 11,
            0x10_0000_0000u64 + i as u64,
            i,
            s = letters_for(i),
        ));
    }
    text
}

/// A distinct letters-only suffix for name number `i` (names may not hold digits).
fn letters_for(mut i: usize) -> String {
    const ABC: [char; 10] = ['а', 'б', 'в', 'г', 'д', 'е', 'ж', 'з', 'и', 'к'];
    let mut s = String::new();
    loop {
        s.push(ABC[i % 10]);
        i /= 10;
        if i == 0 {
            return s;
        }
    }
}

/// Release-build timing for 10,000 rows:
/// `cargo test --release -p schoolcard-core roster_timing -- --ignored --nocapture`.
#[test]
#[ignore]
fn roster_timing_10k() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = school(dir.path());
    let path = dir.path().join("10k.csv");
    std::fs::write(&path, generated_roster(10_000)).unwrap();
    let started = std::time::Instant::now();
    let preview = preview_file(&store, &path, &quiet).unwrap();
    let preview_ms = started.elapsed().as_millis();
    assert!(preview.can_commit, "{:?}", preview.errors.first());
    let started = std::time::Instant::now();
    let outcome = commit_file(&mut store, ACTOR, t0(), &path, None, &quiet).unwrap();
    let commit_ms = started.elapsed().as_millis();
    let started = std::time::Instant::now();
    let preview_again = preview_file(&store, &path, &quiet).unwrap();
    let repreview_ms = started.elapsed().as_millis();
    let started = std::time::Instant::now();
    let again = commit_file(&mut store, ACTOR, t0(), &path, None, &quiet).unwrap();
    let recommit_ms = started.elapsed().as_millis();
    assert!(again.unchanged && preview_again.counts.unchanged == 10_000);
    let xlsx = dir.path().join("10k.xlsx");
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let sheet = workbook.add_worksheet();
    for (r, line) in generated_roster(10_000).lines().enumerate() {
        for (c, cell) in line.split(';').enumerate() {
            sheet.write_string(r as u32, c as u16, cell).unwrap();
        }
    }
    workbook.save(&xlsx).unwrap();
    let started = std::time::Instant::now();
    let preview_xlsx = preview_file(&store, &xlsx, &quiet).unwrap();
    let xlsx_ms = started.elapsed().as_millis();
    assert_eq!(preview_xlsx.counts.unchanged, 10_000);
    println!("10,000 rows as XLSX: preview {xlsx_ms} ms");
    println!(
        "10,000 rows: preview {preview_ms} ms, commit {commit_ms} ms ({} events), \
         preview of the imported file {repreview_ms} ms, unchanged re-commit {recommit_ms} ms",
        outcome.events
    );
}

// ---- photos ------------------------------------------------------------------------------

const JPEG: &[u8] = b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00 a tiny jpeg";
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n a tiny png";
const WEBP: &[u8] = b"RIFF\x10\x00\x00\x00WEBPVP8 a tiny webp";

/// (name inside the folder or archive, bytes)
fn photo_set() -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = vec![
        ("P0001.jpg".into(), JPEG.to_vec()),
        ("p0002.PNG".into(), PNG.to_vec()),
        ("класс 5А/P0003.webp".into(), WEBP.to_vec()),
        ("P0003.jpeg".into(), JPEG.to_vec()),
        ("X9999.jpg".into(), JPEG.to_vec()),
        ("notes.txt".into(), b"hello".to_vec()),
        ("P0004.jpg".into(), b"not a picture".to_vec()),
        (
            "P0005.png".into(),
            b"<svg xmlns='http://www.w3.org/2000/svg'/>".to_vec(),
        ),
        ("Thumbs.db".into(), vec![0; 10]),
        (".DS_Store".into(), vec![0; 10]),
    ];
    let mut big = JPEG.to_vec();
    big.resize(crate::workstation::PHOTO_BYTES_MAX + 1, 0);
    files.push(("P0100.jpg".into(), big));
    files
}

/// The outcome as lines: what an admin reads off the result screen.
fn photo_outcome_summary(o: &PhotoImportOutcome) -> String {
    let mut lines = vec![format!("files {}, unchanged {}", o.files, o.unchanged)];
    let mut set: Vec<String> = o
        .matched
        .iter()
        .map(|m| format!("set {} from {}", m.external_id, m.file))
        .collect();
    set.sort();
    lines.extend(set);
    lines.extend(o.unknown_ids.iter().map(|f| format!("unknown {f}")));
    lines.extend(
        o.bad_files
            .iter()
            .map(|b| format!("bad {} {}", b.file, b.code.as_str())),
    );
    lines.join("\n")
}

fn check_photo_import(store: &mut Store, source: &Path) {
    let outcome = import_photos(store, ACTOR, t0(), source, &quiet).unwrap();
    // Sorted by path, `P0003.jpeg` comes before `класс 5А/P0003.webp` and wins.
    assert_eq!(
        photo_outcome_summary(&outcome),
        "files 9, unchanged 0
set P0001 from P0001.jpg
set P0003 from P0003.jpeg
set p0002 from p0002.PNG
unknown X9999.jpg
bad P0004.jpg bad_image
bad P0005.png bad_image
bad P0100.jpg too_large
bad notes.txt not_a_photo
bad класс 5А/P0003.webp duplicate_photo"
    );
    assert_eq!(outcome.events, 3);
    let photo_of = |id: &str| -> Option<String> {
        store
            .conn()
            .query_row(
                "SELECT ph.mime FROM persons p JOIN photos ph ON ph.sha256 = p.photo_sha256 WHERE p.external_id = ?1",
                [id],
                |r| r.get(0),
            )
            .ok()
    };
    assert_eq!(photo_of("P0002").as_deref(), Some("image/png"));
    assert_eq!(photo_of("P0004"), None);

    let events = journal_len(store);
    let again = import_photos(store, ACTOR, t0(), source, &quiet).unwrap();
    assert_eq!(
        (again.matched.len(), again.unchanged, again.events),
        (0, 3, 0)
    );
    assert_eq!(
        journal_len(store),
        events,
        "the same photos again append nothing"
    );
}

#[test]
fn photos_from_a_folder() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = school(dir.path());
    commit_file(&mut store, ACTOR, t0(), &data("good.csv"), None, &quiet).unwrap();
    let folder = dir.path().join("photos");
    for (name, bytes) in photo_set() {
        let path = folder.join(&name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    check_photo_import(&mut store, &folder);
}

#[test]
fn photos_from_a_zip() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let mut store = school(dir.path());
    commit_file(&mut store, ACTOR, t0(), &data("good.csv"), None, &quiet).unwrap();
    let path = dir.path().join("photos.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    zip.add_directory("класс 5А/", options).unwrap();
    zip.add_directory("__MACOSX/", options).unwrap();
    zip.start_file("__MACOSX/._P0001.jpg", options).unwrap();
    zip.write_all(b"resource fork").unwrap();
    for (name, bytes) in photo_set() {
        zip.start_file(name, options).unwrap();
        zip.write_all(&bytes).unwrap();
    }
    zip.finish().unwrap();
    check_photo_import(&mut store, &path);
}

#[test]
fn a_zip_bomb_is_refused() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let mut store = school(dir.path());
    commit_file(&mut store, ACTOR, t0(), &data("good.csv"), None, &quiet).unwrap();
    let path = dir.path().join("bomb.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for i in 1..=4 {
        zip.start_file(format!("P000{i}.jpg"), options).unwrap();
        zip.write_all(JPEG).unwrap();
        zip.write_all(&vec![0u8; 1024 * 1024]).unwrap();
    }
    zip.finish().unwrap();
    assert!(
        std::fs::metadata(&path).unwrap().len() < 64 * 1024,
        "it inflates ~100 times"
    );
    // The real bounds are gigabytes; the same code with small bounds shows them working.
    for (bounds, expected) in [
        (
            photos::Bounds {
                files_max: 3,
                bytes_max: u64::MAX,
            },
            "more than 3 files",
        ),
        (
            photos::Bounds {
                files_max: 100,
                bytes_max: 3 * 1024 * 1024,
            },
            "add up to more than 3145728 bytes",
        ),
    ] {
        let events = journal_len(&store);
        let err = photos::import_photos_within(&mut store, ACTOR, t0(), &path, &quiet, bounds)
            .unwrap_err();
        assert!(err.to_string().contains(expected), "{err}");
        assert_eq!(journal_len(&store), events);
    }
}
