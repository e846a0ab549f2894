//! The catalogue import through the public commands: a table and a MARC file previewed,
//! committed and committed again; files with a bad record, a barcode twice, a barcode of
//! another title, or changed since the preview write nothing.

mod common;

use common::{cmd, no_progress, run, school, t0, PASSWORD};
use schoolcard_core::Workstation;
use serde_json::{json, Value};
use std::path::Path;

fn journal_len(ws: &Workstation) -> i64 {
    ws.store()
        .conn()
        .query_row("SELECT count(*) FROM journal", [], |r| r.get(0))
        .unwrap()
}

fn count(ws: &Workstation, table: &str) -> i64 {
    ws.store()
        .conn()
        .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

/// The refusal's code and its parameters.
fn refusal(ws: &mut Workstation, v: Value) -> (String, Value) {
    match ws.execute(cmd(v.clone()), t0(), &no_progress) {
        Ok(r) => panic!("{v} was not refused: {r}"),
        Err(e) => {
            let params = json!(e.params().cloned().unwrap_or_default());
            let code = e.reason().map(|r| r.as_str().to_owned());
            (code.unwrap_or_else(|| e.code().to_owned()), params)
        }
    }
}

/// A school with a librarian signed in and one title on the shelf (copy `M-1`).
fn library(dir: &Path) -> Workstation {
    let mut ws = school(dir);
    run(
        &mut ws,
        json!({"type": "enrol_staff", "login": "librarian", "password": PASSWORD, "roles": ["librarian"],
               "name": {"surname": "Книжкина", "name": "Вера"}}),
        t0(),
    );
    run(&mut ws, json!({"type": "sign_out"}), t0());
    run(
        &mut ws,
        json!({"type": "sign_in_password", "login": "librarian", "password": PASSWORD}),
        t0(),
    );
    let math = run(
        &mut ws,
        json!({"type": "save_book_title", "title": "Математика. 5 класс", "authors": ["Виленкин Н. Я."],
               "isbn": "978-5-09-087563-9", "age_mark": "6+"}),
        t0(),
    );
    run(
        &mut ws,
        json!({"type": "add_book_copy", "title_id": math["title"]["title_id"], "barcode": "M-1",
               "item_type": "textbook"}),
        t0(),
    );
    ws
}

const CATALOGUE_CSV: &str = "\
Название;Автор(ы);ISBN;Издательство;Год;Предмет;Возрастная маркировка;Инвентарный номер;Место;Тип
Математика. 5 класс;Виленкин Н. Я.;9785090875639;Просвещение;2023;математика;6+;M-1;Шкаф 1;учебник
Математика. 5 класс;Виленкин Н. Я.;978-5-09-087563-9;Просвещение;2023;математика;6+;M-2;Шкаф 1;учебник
Война и мир;Толстой Л. Н.;978-5-389-07435-4;Азбука;2015;литература;12+;W-1;Стеллаж 3;художественная
Война и мир;Толстой Л. Н.;978-5-389-07435-4;Азбука;2015;литература;12+;W-2;Стеллаж 3;художественная
Словарь синонимов;Александрова З. Е.; ;;2010;русский язык;0+;R-1;Читальный зал;справочная
Словарь синонимов;александрова  з. е.;;;2010;русский язык;0+;R-2;Читальный зал;справочная
Атлас мира;;;;;география;;;;
";

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.display().to_string()
}

#[test]
fn a_table_previewed_committed_and_committed_again() {
    let dir = tempfile::tempdir().unwrap();
    let mut ws = library(dir.path());
    let path = write(dir.path(), "каталог.csv", CATALOGUE_CSV.as_bytes());

    let preview = run(
        &mut ws,
        json!({"type": "preview_catalogue", "path": path}),
        t0(),
    );
    assert_eq!(preview["format"], "csv");
    assert_eq!(preview["can_commit"], true, "{preview}");
    assert_eq!(preview["already_imported"], false);
    assert_eq!(
        preview["counts"],
        json!({"records": 7, "titles_new": 3, "titles_existing": 1, "copies_new": 5,
               "copies_unchanged": 1, "error_records": 0})
    );
    // «Атлас мира» has no age mark and is not a textbook: taken as 18+, said so.
    let warnings: Vec<(u64, &str)> = preview["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| (w["record"].as_u64().unwrap(), w["code"].as_str().unwrap()))
        .collect();
    assert_eq!(warnings, [(8, "age_mark_assumed")]);

    let before = journal_len(&ws);
    let outcome = run(
        &mut ws,
        json!({"type": "commit_catalogue", "path": path, "expected_sha256": preview["sha256"]}),
        t0(),
    );
    // 3 titles, 5 copies, and the closing event.
    assert_eq!(outcome["events"], 9, "{outcome}");
    assert_eq!(journal_len(&ws) - before, 9);
    assert_eq!(
        (count(&ws, "library_titles"), count(&ws, "library_copies")),
        (4, 6)
    );
    let kinds: Vec<String> = {
        let conn = ws.store().conn();
        let mut st = conn
            .prepare("SELECT kind FROM journal ORDER BY seq DESC LIMIT 1")
            .unwrap();
        st.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    assert_eq!(kinds, ["catalogue_imported"]);

    // The desk finds what came in: two copies of the novel under one title, the reference
    // book grouped by title and authors however they were typed.
    let found = run(
        &mut ws,
        json!({"type": "search_catalogue", "query": "Война"}),
        t0(),
    );
    assert_eq!(found["titles"][0]["copies"].as_array().unwrap().len(), 2);
    assert_eq!(found["titles"][0]["age_mark"], "12+");
    let found = run(
        &mut ws,
        json!({"type": "search_catalogue", "query": "синонимов"}),
        t0(),
    );
    assert_eq!(found["titles"].as_array().unwrap().len(), 1);
    assert_eq!(found["titles"][0]["copies"][0]["item_type"], "reference");

    // The same file again: everything is in the store, nothing is written.
    let again = run(
        &mut ws,
        json!({"type": "preview_catalogue", "path": path}),
        t0(),
    );
    assert_eq!(again["already_imported"], true);
    assert_eq!(again["counts"]["copies_unchanged"], 6);
    let before = journal_len(&ws);
    let outcome = run(
        &mut ws,
        json!({"type": "commit_catalogue", "path": path}),
        t0(),
    );
    assert_eq!(
        (outcome["unchanged"].clone(), outcome["events"].clone()),
        (json!(true), json!(0))
    );
    assert_eq!(journal_len(&ws), before);
}

/// One ISO 2709 record from `(tag, subfields)`, blank indicators.
fn marc_record(fields: &[(&str, &[(char, &str)])]) -> Vec<u8> {
    let (mut directory, mut data) = (Vec::new(), Vec::new());
    for (tag, subfields) in fields {
        let mut field = b"  ".to_vec();
        for (code, value) in *subfields {
            field.push(0x1F);
            field.extend(code.to_string().as_bytes());
            field.extend(value.as_bytes());
        }
        field.push(0x1E);
        directory.extend(format!("{tag}{:04}{:05}", field.len(), data.len()).into_bytes());
        data.extend(field);
    }
    let base = 24 + directory.len() + 1;
    let mut rec = format!("{:05}nam a22{base:05}   4500", base + data.len() + 1).into_bytes();
    rec.extend(directory);
    rec.push(0x1E);
    rec.extend(data);
    rec.push(0x1D);
    rec
}

fn marc21_novel() -> Vec<u8> {
    marc_record(&[
        ("020", &[('a', "9785389074354")]),
        ("100", &[('a', "Толстой, Л. Н.")]),
        ("245", &[('a', "Война и мир /"), ('c', "Л. Н. Толстой")]),
        ("264", &[('b', "Азбука,"), ('c', "2015")]),
        ("521", &[('a', "12+")]),
        ("852", &[('j', "Стеллаж 3"), ('p', "W-1")]),
        ("852", &[('j', "Стеллаж 3"), ('p', "W-2")]),
    ])
}

fn rusmarc_textbook() -> Vec<u8> {
    marc_record(&[
        ("010", &[('a', "978-5-17-098765-8")]),
        ("200", &[('a', "Алгебра"), ('e', "7 класс")]),
        ("210", &[('c', "Просвещение"), ('d', "2019")]),
        ("333", &[('a', "6+")]),
        ("700", &[('a', "Макарычев"), ('b', "Ю. Н.")]),
        ("899", &[('a', "Абонемент"), ('p', "A-1")]),
    ])
}

#[test]
fn a_marc_file_with_both_kinds_of_record() {
    let dir = tempfile::tempdir().unwrap();
    let mut ws = library(dir.path());
    let mut bytes = marc21_novel();
    bytes.extend(rusmarc_textbook());
    let path = write(dir.path(), "каталог.mrc", &bytes);

    // MARC records do not say what kind of book a copy is: the librarian does.
    let preview = run(
        &mut ws,
        json!({"type": "preview_catalogue", "path": path, "item_type": "textbook"}),
        t0(),
    );
    assert_eq!(preview["format"], "iso2709");
    assert_eq!(
        preview["counts"],
        json!({"records": 2, "titles_new": 2, "titles_existing": 0, "copies_new": 3,
               "copies_unchanged": 0, "error_records": 0})
    );
    let outcome = run(
        &mut ws,
        json!({"type": "commit_catalogue", "path": path, "expected_sha256": preview["sha256"],
               "item_type": "textbook"}),
        t0(),
    );
    assert_eq!(outcome["events"], 6);
    let found = run(
        &mut ws,
        json!({"type": "search_catalogue", "query": "A-1"}),
        t0(),
    );
    let title = &found["titles"][0];
    assert_eq!(
        (
            &title["title"],
            &title["authors"],
            &title["isbn"],
            &title["year"],
            &title["age_mark"]
        ),
        (
            &json!("Алгебра : 7 класс"),
            &json!(["Макарычев Ю. Н."]),
            &json!("9785170987658"),
            &json!(2019),
            &json!("6+")
        )
    );
    assert_eq!(title["copies"][0]["location"], "Абонемент");
    assert_eq!(title["copies"][0]["item_type"], "textbook");
}

#[test]
fn bad_records_are_listed_by_number_and_the_file_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut ws = library(dir.path());
    // Record 2 has no title; record 3 is cut off; record 1 is still previewed.
    let mut bytes = marc21_novel();
    bytes.extend(marc_record(&[
        ("020", &[('a', "9785440001237")]),
        ("852", &[('p', "X-1")]),
    ]));
    let truncated = rusmarc_textbook();
    bytes.extend(&truncated[..truncated.len() - 20]);
    let path = write(dir.path(), "битый.mrc", &bytes);

    let preview = run(
        &mut ws,
        json!({"type": "preview_catalogue", "path": path}),
        t0(),
    );
    assert_eq!(preview["can_commit"], false);
    let errors: Vec<(u64, &str)> = preview["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["record"].as_u64().unwrap(), e["code"].as_str().unwrap()))
        .collect();
    assert_eq!(errors, [(2, "missing_title"), (3, "truncated_record")]);
    assert_eq!(preview["counts"]["titles_new"], 1);
    assert_eq!(preview["counts"]["error_records"], 2);

    let before = journal_len(&ws);
    let (code, params) = refusal(
        &mut ws,
        json!({"type": "commit_catalogue", "path": path, "expected_sha256": preview["sha256"]}),
    );
    assert_eq!(code, "catalogue_has_errors");
    assert_eq!(
        (&params["first_record"], &params["first_issue"]),
        (&json!("2"), &json!("missing_title"))
    );
    assert_eq!(journal_len(&ws), before);
}

#[test]
fn a_barcode_twice_in_the_file_or_of_another_title_refuses_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut ws = library(dir.path());
    let twice = "Название;Инвентарный номер;Возрастная маркировка\n\
                 Азбука;A-1;0+\n\
                 Букварь;A-2;0+\n\
                 Сказки;A-1;6+\n";
    let path = write(dir.path(), "дубль.csv", twice.as_bytes());
    let preview = run(
        &mut ws,
        json!({"type": "preview_catalogue", "path": path}),
        t0(),
    );
    assert_eq!(preview["errors"][0]["record"], 4);
    assert_eq!(preview["errors"][0]["code"], "barcode_duplicate");
    assert_eq!(preview["errors"][0]["value"], "A-1");
    let before = journal_len(&ws);
    let (code, params) = refusal(&mut ws, json!({"type": "commit_catalogue", "path": path}));
    assert_eq!(
        (code.as_str(), &params["first_record"]),
        ("catalogue_has_errors", &json!("4"))
    );
    assert_eq!(journal_len(&ws), before);

    // M-1 is the store's copy of «Математика. 5 класс», not of this title.
    let taken = "Название;Инвентарный номер;Возрастная маркировка\nАзбука;M-1;0+\n";
    let path = write(dir.path(), "занят.csv", taken.as_bytes());
    let preview = run(
        &mut ws,
        json!({"type": "preview_catalogue", "path": path}),
        t0(),
    );
    assert_eq!(
        (
            &preview["errors"][0]["record"],
            &preview["errors"][0]["code"]
        ),
        (&json!(2), &json!("barcode_taken"))
    );
    assert_eq!(preview["counts"]["titles_new"], 0);
}

#[test]
fn a_file_changed_since_the_preview_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut ws = library(dir.path());
    let path = write(dir.path(), "каталог.csv", CATALOGUE_CSV.as_bytes());
    let preview = run(
        &mut ws,
        json!({"type": "preview_catalogue", "path": path}),
        t0(),
    );
    let changed = CATALOGUE_CSV.replace("W-2", "W-3");
    std::fs::write(&path, changed).unwrap();
    let before = journal_len(&ws);
    let (code, _) = refusal(
        &mut ws,
        json!({"type": "commit_catalogue", "path": path, "expected_sha256": preview["sha256"]}),
    );
    assert_eq!(code, "catalogue_changed_since_preview");
    assert_eq!(journal_len(&ws), before);
}

#[test]
fn a_table_without_a_title_column_is_refused_whole() {
    let dir = tempfile::tempdir().unwrap();
    let mut ws = library(dir.path());
    let path = write(
        dir.path(),
        "нет.csv",
        "ISBN;Инвентарный номер\n9785389074354;1\n".as_bytes(),
    );
    let preview = run(
        &mut ws,
        json!({"type": "preview_catalogue", "path": path}),
        t0(),
    );
    assert_eq!(preview["file_errors"][0]["code"], "missing_column");
    let (code, params) = refusal(&mut ws, json!({"type": "commit_catalogue", "path": path}));
    assert_eq!(
        (code.as_str(), &params["issue"]),
        ("catalogue_bad_file", &json!("missing_column"))
    );
}
