//! A class's textbooks and a stocktake through the public commands: who in 5А holds
//! which title; a stocktake that finds a copy missing, one misplaced, one on loan on the
//! shelf and a barcode nobody knows; a closed stocktake that takes no scans; and the
//! report unchanged when the projections are rebuilt from the journal.

mod common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::{cmd, id, no_progress, run, school, t0, PASSWORD};
use schoolcard_core::Workstation;
use serde_json::{json, Value};

fn refusal(ws: &mut Workstation, v: Value, now: DateTime<Utc>) -> String {
    match ws.execute(cmd(v.clone()), now, &no_progress) {
        Ok(r) => panic!("{v} was not refused: {r}"),
        Err(e) => {
            let reason = e.reason().map(|r| r.as_str().to_owned());
            reason.unwrap_or_else(|| e.code().to_owned())
        }
    }
}

/// 1 September 2026, 10:00 in Moscow, plus `days`.
fn day(days: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 9, 1, 7, 0, 0).unwrap() + Duration::days(days)
}

/// The barcodes of a report's list, in order.
fn codes(report: &Value, list: &str) -> Vec<String> {
    report["report"][list]
        .as_array()
        .unwrap_or_else(|| panic!("no {list} in {report}"))
        .iter()
        .map(|r| r["barcode"].as_str().unwrap().to_owned())
        .collect()
}

/// The school of these tests: class 5А with three pupils (enrolled out of alphabetical
/// order), a librarian signed in, a textbook with four copies on «Стеллаж 1» and a novel
/// with two on «Стеллаж 2». Returns the class and the pupils' ids by surname.
fn library(ws: &mut Workstation) -> (String, Vec<(&'static str, String)>) {
    let class = id(
        &run(ws, json!({"type": "create_class", "name": "5А"}), t0()),
        "/id",
    );
    let mut pupils = Vec::new();
    for surname in ["Сидоров", "Иванов", "Петров"] {
        let p = run(
            ws,
            json!({"type": "enrol_pupil", "class_id": class, "name": {"surname": surname, "name": "Иван"},
                   "details": {"birth_date": "2015-03-10"}}),
            t0(),
        );
        pupils.push((surname, id(&p, "/person/id")));
    }
    run(
        ws,
        json!({"type": "enrol_staff", "login": "librarian", "password": PASSWORD, "roles": ["librarian"],
               "name": {"surname": "Книжкина", "name": "Вера"}}),
        t0(),
    );
    run(ws, json!({"type": "sign_out"}), t0());
    run(
        ws,
        json!({"type": "sign_in_password", "login": "librarian", "password": PASSWORD}),
        t0(),
    );
    let math = id(
        &run(
            ws,
            json!({"type": "save_book_title", "title": "Математика. 5 класс", "age_mark": "6+"}),
            day(0),
        ),
        "/title/title_id",
    );
    let tales = id(
        &run(
            ws,
            json!({"type": "save_book_title", "title": "Сказки", "age_mark": "0+"}),
            day(0),
        ),
        "/title/title_id",
    );
    for (title, barcode, item, shelf) in [
        (&math, "M-1", "textbook", "Стеллаж 1"),
        (&math, "M-2", "textbook", "Стеллаж 1"),
        (&math, "M-3", "textbook", "Стеллаж 1"),
        (&math, "M-4", "textbook", "Стеллаж 1"),
        (&tales, "F-1", "fiction", "Стеллаж 2"),
        (&tales, "F-2", "fiction", "Стеллаж 2"),
    ] {
        run(
            ws,
            json!({"type": "add_book_copy", "title_id": title, "barcode": barcode,
                   "item_type": item, "location": shelf}),
            day(0),
        );
    }
    (class, pupils)
}

fn pupil<'a>(pupils: &'a [(&str, String)], surname: &str) -> &'a str {
    &pupils.iter().find(|(s, _)| *s == surname).unwrap().1
}

#[test]
fn a_class_set_of_textbooks() {
    let dir = tempfile::tempdir().unwrap();
    let mut ws = school(dir.path());
    let (class, pupils) = library(&mut ws);
    // Two of the three get the textbook; Иванов a novel as well.
    for (surname, barcodes) in [("Петров", vec!["M-3"]), ("Иванов", vec!["M-4", "F-2"])]
    {
        run(
            &mut ws,
            json!({"type": "issue_books", "person_id": pupil(&pupils, surname), "barcodes": barcodes}),
            day(0),
        );
    }

    let loans = run(
        &mut ws,
        json!({"type": "class_loans", "class_id": class}),
        day(1),
    );
    assert_eq!(loans["class_name"], "5А");
    let held: Vec<(String, Vec<String>)> = loans["pupils"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let barcodes = p["loans"].as_array().unwrap().iter();
            (
                p["name"].as_str().unwrap().to_owned(),
                barcodes
                    .map(|l| l["barcode"].as_str().unwrap().to_owned())
                    .collect(),
            )
        })
        .collect();
    let expected: Vec<(String, Vec<String>)> = vec![
        ("Иванов Иван".into(), vec!["M-4".into(), "F-2".into()]),
        ("Петров Иван".into(), vec!["M-3".into()]),
        ("Сидоров Иван".into(), vec![]),
    ];
    assert_eq!(held, expected, "{loans}");
    let textbook = &loans["pupils"][1]["loans"][0];
    assert_eq!(textbook["due"], "2027-05-31");
    assert_eq!(textbook["item_type"], "textbook");
    assert_eq!(textbook["days_overdue"], 0);
    let summary: Vec<(String, u64)> = loans["titles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["title"].as_str().unwrap().to_owned(),
                t["pupils"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("Математика. 5 класс".to_owned(), 2),
            ("Сказки".to_owned(), 1)
        ]
    );

    // Collected in May: the textbook back, the class's holders of it drop to one.
    run(
        &mut ws,
        json!({"type": "return_book", "barcode": "M-3"}),
        day(260),
    );
    let loans = run(
        &mut ws,
        json!({"type": "class_loans", "class_id": class}),
        day(260),
    );
    assert_eq!(loans["titles"][0]["pupils"], 1, "{loans}");
    assert_eq!(loans["pupils"][1]["loans"], json!([]));
}

#[test]
fn a_stocktake_finds_what_is_missing_and_misplaced() {
    let dir = tempfile::tempdir().unwrap();
    let mut ws = school(dir.path());
    let (_, pupils) = library(&mut ws);
    run(
        &mut ws,
        json!({"type": "issue_books", "person_id": pupil(&pupils, "Иванов"), "barcodes": ["M-3", "M-4", "F-2"]}),
        day(0),
    );

    let started = run(&mut ws, json!({"type": "start_stocktake"}), day(1));
    let st = id(&started, "/stocktake_id");
    assert_eq!(started["scope_location"], "");
    // Shelf 1: a copy in place, one the catalogue has on loan, a barcode nobody knows.
    let beeps = run(
        &mut ws,
        json!({"type": "stocktake_scan", "stocktake_id": st, "location": "Стеллаж 1",
               "barcodes": ["M-1", "M-4", "X-999"]}),
        day(1),
    );
    let verdicts: Vec<&str> = beeps["scans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(verdicts, ["ok", "anomaly", "unknown"]);
    // Shelf 3: the novel that belongs on shelf 2.
    let beeps = run(
        &mut ws,
        json!({"type": "stocktake_scan", "stocktake_id": st, "location": "Стеллаж 3",
               "barcodes": ["F-1"]}),
        day(1),
    );
    assert_eq!(beeps["scans"][0]["verdict"], "misplaced");
    assert_eq!(beeps["scans"][0]["location"], "Стеллаж 2");

    let report = run(
        &mut ws,
        json!({"type": "stocktake_report", "stocktake_id": st}),
        day(1),
    );
    assert_eq!(codes(&report, "missing"), ["M-2"]);
    assert_eq!(codes(&report, "misplaced"), ["F-1"]);
    assert_eq!(report["report"]["misplaced"][0]["location"], "Стеллаж 2");
    assert_eq!(report["report"]["misplaced"][0]["found_at"], "Стеллаж 3");
    assert_eq!(codes(&report, "anomalies"), ["M-4"]);
    assert_eq!(report["report"]["anomalies"][0]["state"], "on_loan");
    assert_eq!(codes(&report, "unknown"), ["X-999"]);
    assert_eq!(
        report["report"]["counts"],
        json!({"expected": 3, "scanned": 4, "found": 2, "missing": 1, "misplaced": 1,
               "anomalies": 1, "unknown": 1})
    );
    let open = run(&mut ws, json!({"type": "open_stocktakes"}), day(1));
    assert_eq!(open["stocktakes"][0]["stocktake_id"], st.as_str());
    assert_eq!(open["stocktakes"][0]["scanned"], 4);

    // The missing copy marked lost at the report: no longer expected, no longer missing.
    run(
        &mut ws,
        json!({"type": "mark_copy", "barcode": "M-2", "state": "lost", "note": "инвентаризация"}),
        day(1),
    );
    let report = run(
        &mut ws,
        json!({"type": "stocktake_report", "stocktake_id": st}),
        day(1),
    );
    assert_eq!(codes(&report, "missing"), Vec::<String>::new());
    assert_eq!(report["report"]["counts"]["expected"], 2);

    // The projections rebuilt from the journal give the same report.
    ws.store_mut().rebuild_projections().unwrap();
    let rebuilt = run(
        &mut ws,
        json!({"type": "stocktake_report", "stocktake_id": st}),
        day(1),
    );
    assert_eq!(rebuilt, report);

    // Closed: no more scans, no second close; an unknown stocktake is not found.
    run(
        &mut ws,
        json!({"type": "close_stocktake", "stocktake_id": st}),
        day(2),
    );
    assert_eq!(
        refusal(
            &mut ws,
            json!({"type": "stocktake_scan", "stocktake_id": st, "location": "Стеллаж 1",
                   "barcodes": ["M-1"]}),
            day(2)
        ),
        "stocktake_closed"
    );
    assert_eq!(
        refusal(
            &mut ws,
            json!({"type": "close_stocktake", "stocktake_id": st}),
            day(2)
        ),
        "stocktake_closed"
    );
    assert_eq!(
        refusal(
            &mut ws,
            json!({"type": "stocktake_scan", "stocktake_id": "0190a6c5-0000-7000-8000-000000000000",
                   "location": "", "barcodes": ["M-1"]}),
            day(2)
        ),
        "not_found"
    );
    let open = run(&mut ws, json!({"type": "open_stocktakes"}), day(2));
    assert_eq!(open["stocktakes"], json!([]));
    let closed = run(
        &mut ws,
        json!({"type": "stocktake_report", "stocktake_id": st}),
        day(2),
    );
    assert!(closed["closed_at"].is_string(), "{closed}");
}

#[test]
fn a_stocktake_of_one_shelf_expects_only_that_shelf() {
    let dir = tempfile::tempdir().unwrap();
    let mut ws = school(dir.path());
    library(&mut ws);
    let st = id(
        &run(
            &mut ws,
            json!({"type": "start_stocktake", "location": "стеллаж 2"}),
            day(1),
        ),
        "/stocktake_id",
    );
    let report = run(
        &mut ws,
        json!({"type": "stocktake_report", "stocktake_id": st}),
        day(1),
    );
    assert_eq!(codes(&report, "missing"), ["F-1", "F-2"]);
    // Only the librarian's and the admin's: a guard may not start one.
    run(&mut ws, json!({"type": "sign_out"}), day(1));
    run(
        &mut ws,
        json!({"type": "sign_in_password", "login": "admin", "password": PASSWORD}),
        day(1),
    );
    run(
        &mut ws,
        json!({"type": "enrol_staff", "login": "guard", "password": PASSWORD, "roles": ["guard"],
               "name": {"surname": "Стражев", "name": "Олег"}}),
        day(1),
    );
    run(&mut ws, json!({"type": "sign_out"}), day(1));
    run(
        &mut ws,
        json!({"type": "sign_in_password", "login": "guard", "password": PASSWORD}),
        day(1),
    );
    assert_eq!(
        refusal(&mut ws, json!({"type": "start_stocktake"}), day(1)),
        "forbidden"
    );
}
