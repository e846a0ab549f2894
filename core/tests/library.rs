//! The library desk through the public commands: a librarian's day and its weeks after,
//! and the projections rebuilt from the journal equal to those built as it went.

mod common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::{cmd, id, no_progress, run, school, t0, PASSWORD};
use rusqlite::types::Value as SqlValue;
use schoolcard_core::{CoreError, Workstation};
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

fn journal_len(ws: &Workstation) -> i64 {
    ws.store()
        .conn()
        .query_row("SELECT count(*) FROM journal", [], |r| r.get(0))
        .unwrap()
}

fn library_tables(ws: &Workstation) -> Vec<Vec<Vec<SqlValue>>> {
    ["library_titles", "library_copies", "library_loans"]
        .iter()
        .map(|t| {
            let conn = ws.store().conn();
            let mut st = conn
                .prepare(&format!("SELECT * FROM {t} ORDER BY 1"))
                .unwrap();
            let n = st.column_count();
            st.query_map([], |r| (0..n).map(|i| r.get(i)).collect())
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        })
        .collect()
}

/// 1 September 2026, 10:00 in Moscow, plus `days`.
fn day(days: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 9, 1, 7, 0, 0).unwrap() + Duration::days(days)
}

#[test]
fn a_librarians_term() {
    let dir = tempfile::tempdir().unwrap();
    let mut ws = school(dir.path());
    let class = id(
        &run(&mut ws, json!({"type": "create_class", "name": "5А"}), t0()),
        "/id",
    );
    let pupil = run(
        &mut ws,
        json!({"type": "enrol_pupil", "class_id": class, "name": {"surname": "Иванов", "name": "Иван"},
               "details": {"birth_date": "2015-03-10"}}),
        t0(),
    );
    let pupil = id(&pupil, "/person/id");
    run(
        &mut ws,
        json!({"type": "bind_card", "person_id": pupil, "card": "126,58404"}),
        t0(),
    );
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

    // The catalogue.
    let math = run(
        &mut ws,
        json!({"type": "save_book_title", "title": "Математика. 5 класс", "authors": ["Виленкин Н. Я."],
               "isbn": "978-5-09-087563-9", "publisher": "Просвещение", "year": 2023,
               "subject": "математика", "age_mark": "6+"}),
        day(0),
    );
    assert_eq!(math["title"]["isbn"], "9785090875639");
    let math = id(&math, "/title/title_id");
    let tale = run(
        &mut ws,
        json!({"type": "save_book_title", "title": "Капитанская дочка", "authors": ["Пушкин А. С."],
               "isbn": "5-17-012345-0", "age_mark": "12+"}),
        day(0),
    );
    assert_eq!(tale["title"]["isbn"], "9785170123452");
    let tale = id(&tale, "/title/title_id");
    let adult = id(
        &run(
            &mut ws,
            json!({"type": "save_book_title", "title": "Взрослый роман", "age_mark": "18+"}),
            day(0),
        ),
        "/title/title_id",
    );
    let dictionary = id(
        &run(
            &mut ws,
            json!({"type": "save_book_title", "title": "Толковый словарь", "authors": ["Ожегов С. И."], "age_mark": "0+"}),
            day(0),
        ),
        "/title/title_id",
    );
    assert_eq!(
        refusal(
            &mut ws,
            json!({"type": "save_book_title", "title": "X", "isbn": "978-5-09-087563-2", "age_mark": "0+"}),
            day(0)
        ),
        "bad_isbn"
    );
    for (title, barcode, item) in [
        (&math, "M-1", "textbook"),
        (&tale, "T-1", "fiction"),
        (&tale, "T-2", "fiction"),
        (&adult, "A-1", "fiction"),
        (&dictionary, "D-1", "reference"),
    ] {
        run(
            &mut ws,
            json!({"type": "add_book_copy", "title_id": title, "barcode": barcode, "item_type": item, "location": "абонемент"}),
            day(0),
        );
    }
    assert_eq!(
        refusal(
            &mut ws,
            json!({"type": "add_book_copy", "title_id": tale, "barcode": "T-1", "item_type": "fiction"}),
            day(0)
        ),
        "barcode_taken"
    );
    let found = run(
        &mut ws,
        json!({"type": "search_catalogue", "query": "пушкин"}),
        day(0),
    );
    assert_eq!(found["titles"].as_array().unwrap().len(), 1);
    assert_eq!(found["titles"][0]["copies"][1]["state"], "on_shelf");
    let by_isbn = run(
        &mut ws,
        json!({"type": "search_catalogue", "query": "9785090875639"}),
        day(0),
    );
    assert_eq!(by_isbn["titles"][0]["title_id"], math);
    let by_barcode = run(
        &mut ws,
        json!({"type": "search_catalogue", "query": "D-1"}),
        day(0),
    );
    assert_eq!(by_barcode["titles"][0]["title_id"], dictionary);

    // Refusals name the copy and write nothing, even when the other copies were fine.
    let before = journal_len(&ws);
    for (barcodes, reason) in [
        (json!(["M-1", "A-1"]), "age_mark"),
        (json!(["M-1", "D-1"]), "not_lendable"),
        (json!(["M-1", "NOPE"]), "copy_not_found"),
    ] {
        let v = json!({"type": "issue_books", "card": "126,58404", "barcodes": barcodes});
        let e = ws.execute(cmd(v), day(0), &no_progress).unwrap_err();
        assert_eq!(e.reason().unwrap().as_str(), reason);
        assert_eq!(e.params().unwrap()["barcode"], barcodes[1]);
    }
    // Born 2015-03-10: eleven on 1 September 2026, one short of 12+.
    assert_eq!(
        refusal(
            &mut ws,
            json!({"type": "issue_books", "person_id": pupil, "barcodes": ["T-1"]}),
            day(0)
        ),
        "age_mark"
    );
    assert_eq!(journal_len(&ws), before);

    // The librarian corrects the novel's mark to 6+ (a title saved again as a whole);
    // then two copies are lent by card: the textbook until the end of the school year,
    // the novel for 14 days.
    run(
        &mut ws,
        json!({"type": "save_book_title", "title_id": tale, "title": "Капитанская дочка",
               "authors": ["Пушкин А. С."], "isbn": "5-17-012345-0", "age_mark": "6+"}),
        day(0),
    );
    let issued = run(
        &mut ws,
        json!({"type": "issue_books", "card": "126,58404", "barcodes": ["M-1", "T-1"]}),
        day(0),
    );
    assert_eq!(issued["person_id"], pupil);
    assert_eq!(issued["loans"][0]["due"], "2027-05-31");
    assert_eq!(issued["loans"][1]["due"], "2026-09-15");
    let tale_loan = id(&issued, "/loans/1/loan_id");
    assert_eq!(
        refusal(
            &mut ws,
            json!({"type": "issue_books", "person_id": pupil, "barcodes": ["T-1"]}),
            day(0)
        ),
        "copy_not_on_shelf"
    );

    // The textbook comes back; the novel is renewed twice, then no more.
    let back = run(
        &mut ws,
        json!({"type": "return_book", "barcode": "M-1", "note": "обложка порвана"}),
        day(3),
    );
    assert_eq!(back["days_overdue"], 0);
    assert_eq!(
        refusal(
            &mut ws,
            json!({"type": "return_book", "barcode": "M-1"}),
            day(3)
        ),
        "copy_not_on_loan"
    );
    let renewed = run(
        &mut ws,
        json!({"type": "renew_loan", "loan_id": tale_loan}),
        day(10),
    );
    assert_eq!(
        (renewed["due"].as_str(), renewed["renewals"].as_u64()),
        (Some("2026-09-25"), Some(1))
    );
    let renewed = run(
        &mut ws,
        json!({"type": "renew_loan", "loan_id": tale_loan}),
        day(20),
    );
    assert_eq!(
        (renewed["due"].as_str(), renewed["renewals"].as_u64()),
        (Some("2026-10-05"), Some(2))
    );
    assert_eq!(
        refusal(
            &mut ws,
            json!({"type": "renew_loan", "loan_id": tale_loan}),
            day(21)
        ),
        "renew_limit"
    );

    // Not overdue on its due date; overdue the day after, by class.
    let on_due = run(&mut ws, json!({"type": "overdue_list"}), day(34));
    assert_eq!(on_due["classes"], json!([]));
    let overdue = run(
        &mut ws,
        json!({"type": "overdue_list", "class_id": class}),
        day(37),
    );
    assert_eq!(overdue["classes"][0]["class_name"], "5А");
    assert_eq!(overdue["classes"][0]["loans"][0]["barcode"], "T-1");
    assert_eq!(overdue["classes"][0]["loans"][0]["days_overdue"], 3);
    assert_eq!(overdue["classes"][0]["loans"][0]["name"], "Иванов Иван");

    let loans = run(
        &mut ws,
        json!({"type": "reader_loans", "person_id": pupil}),
        day(37),
    );
    assert_eq!(loans["current"].as_array().unwrap().len(), 1);
    assert_eq!(loans["current"][0]["days_overdue"], 3);
    assert_eq!(loans["history"][0]["barcode"], "M-1");
    assert_eq!(loans["history"][0]["note"], "обложка порвана");

    // A reader who owes a book gets no other until it is back — but still their textbook.
    assert_eq!(
        refusal(
            &mut ws,
            json!({"type": "issue_books", "person_id": pupil, "barcodes": ["T-2"]}),
            day(37)
        ),
        "has_overdue"
    );
    let textbook = run(
        &mut ws,
        json!({"type": "issue_books", "person_id": pupil, "barcodes": ["M-1"]}),
        day(37),
    );
    assert_eq!(textbook["loans"][0]["due"], "2027-05-31");

    // Reminders go out once a week at most, each a self-contained event for the parents.
    let sent = run(
        &mut ws,
        json!({"type": "send_overdue_notices", "class_id": class}),
        day(37),
    );
    assert_eq!(
        (sent["sent"].as_u64(), sent["reminded_recently"].as_u64()),
        (Some(1), Some(0))
    );
    let again = run(&mut ws, json!({"type": "send_overdue_notices"}), day(38));
    assert_eq!(
        (again["sent"].as_u64(), again["reminded_recently"].as_u64()),
        (Some(0), Some(1))
    );
    let notice: Value = ws
        .store()
        .conn()
        .query_row(
            "SELECT payload FROM journal WHERE kind = 'book_overdue_notice'",
            [],
            |r| r.get::<_, String>(0),
        )
        .map(|p| serde_json::from_str(&p).unwrap())
        .unwrap();
    assert_eq!(
        (
            &notice["title"],
            &notice["barcode"],
            &notice["person_id"],
            &notice["days_overdue"]
        ),
        (
            &json!("Капитанская дочка"),
            &json!("T-1"),
            &json!(pupil),
            &json!(3)
        )
    );
    let listed = run(&mut ws, json!({"type": "overdue_list"}), day(38));
    assert!(listed["classes"][0]["loans"][0]["noticed_at"].is_string());
    let week_later = run(&mut ws, json!({"type": "send_overdue_notices"}), day(45));
    assert_eq!(week_later["sent"], 1);
    run(
        &mut ws,
        json!({"type": "return_book", "barcode": "M-1"}),
        day(45),
    );

    // The novel is lost: its loan closes, it leaves the overdue list; found, it is back.
    assert_eq!(
        refusal(
            &mut ws,
            json!({"type": "mark_copy", "barcode": "T-1", "state": "on_shelf"}),
            day(46)
        ),
        "copy_on_loan"
    );
    let lost = run(
        &mut ws,
        json!({"type": "mark_copy", "barcode": "T-1", "state": "lost", "note": "потерял"}),
        day(46),
    );
    assert_eq!(lost["closed_loan"], tale_loan);
    assert_eq!(
        run(&mut ws, json!({"type": "overdue_list"}), day(46))["classes"],
        json!([])
    );
    let loans = run(
        &mut ws,
        json!({"type": "reader_loans", "person_id": pupil}),
        day(46),
    );
    assert_eq!(loans["current"], json!([]));
    assert_eq!(loans["history"][0]["outcome"], "lost");
    assert_eq!(
        refusal(
            &mut ws,
            json!({"type": "mark_copy", "barcode": "T-1", "state": "lost"}),
            day(46)
        ),
        "copy_state_unchanged"
    );
    run(
        &mut ws,
        json!({"type": "mark_copy", "barcode": "T-1", "state": "on_shelf"}),
        day(47),
    );
    run(
        &mut ws,
        json!({"type": "mark_copy", "barcode": "T-2", "state": "written_off"}),
        day(47),
    );

    // A blocked card lends nothing.
    run(&mut ws, json!({"type": "sign_out"}), day(48));
    run(
        &mut ws,
        json!({"type": "sign_in_password", "login": "admin", "password": PASSWORD}),
        day(48),
    );
    run(
        &mut ws,
        json!({"type": "set_card_state", "card": "126,58404", "state": "blocked"}),
        day(48),
    );
    assert_eq!(
        refusal(
            &mut ws,
            json!({"type": "issue_books", "card": "126,58404", "barcodes": ["T-1"]}),
            day(48)
        ),
        "reader_blocked"
    );

    // The projections rebuilt from the journal are those built as it went.
    let incremental = library_tables(&ws);
    assert!(incremental.iter().all(|t| !t.is_empty()));
    ws.store_mut().rebuild_projections().unwrap();
    assert_eq!(library_tables(&ws), incremental);
}

#[test]
fn the_director_reads_but_does_not_lend() {
    let dir = tempfile::tempdir().unwrap();
    let mut ws = school(dir.path());
    run(
        &mut ws,
        json!({"type": "enrol_staff", "login": "director", "password": PASSWORD, "roles": ["director"],
               "name": {"surname": "Главная", "name": "Ольга"}}),
        t0(),
    );
    run(&mut ws, json!({"type": "sign_out"}), t0());
    run(
        &mut ws,
        json!({"type": "sign_in_password", "login": "director", "password": PASSWORD}),
        t0(),
    );
    run(&mut ws, json!({"type": "overdue_list"}), t0());
    run(
        &mut ws,
        json!({"type": "search_catalogue", "query": ""}),
        t0(),
    );
    let e = ws
        .execute(
            cmd(json!({"type": "save_book_title", "title": "X", "age_mark": "0+"})),
            t0(),
            &no_progress,
        )
        .unwrap_err();
    assert!(matches!(e, CoreError::Forbidden { .. }));
}

#[test]
fn a_pupil_holds_five_books_and_a_copy_lent_at_two_desks_comes_back_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut ws = school(dir.path());
    let class = id(
        &run(&mut ws, json!({"type": "create_class", "name": "7Б"}), t0()),
        "/id",
    );
    let enrol = |ws: &mut Workstation, surname: &str| {
        let p = run(
            ws,
            json!({"type": "enrol_pupil", "class_id": class, "name": {"surname": surname, "name": "Оля"}}),
            t0(),
        );
        id(&p, "/person/id")
    };
    let reader = enrol(&mut ws, "Петрова");
    let other = enrol(&mut ws, "Сидорова");
    let novel = id(
        &run(
            &mut ws,
            json!({"type": "save_book_title", "title": "Сказки", "age_mark": "0+"}),
            day(0),
        ),
        "/title/title_id",
    );
    for n in 0..7 {
        let item = if n == 6 { "textbook" } else { "fiction" };
        run(
            &mut ws,
            json!({"type": "add_book_copy", "title_id": novel, "barcode": format!("S-{n}"), "item_type": item}),
            day(0),
        );
    }
    // Six books in one basket: refused at the sixth, nothing lent.
    let before = journal_len(&ws);
    let e = ws
        .execute(
            cmd(json!({"type": "issue_books", "person_id": reader,
                       "barcodes": ["S-0", "S-1", "S-2", "S-3", "S-4", "S-5"]})),
            day(0),
            &no_progress,
        )
        .unwrap_err();
    assert_eq!(e.reason().unwrap().as_str(), "books_limit");
    assert_eq!(e.params().unwrap()["barcode"], "S-5");
    assert_eq!(e.params().unwrap()["max"], "5");
    assert_eq!(journal_len(&ws), before);
    run(
        &mut ws,
        json!({"type": "issue_books", "person_id": reader,
               "barcodes": ["S-0", "S-1", "S-2", "S-3", "S-4", "S-6"]}),
        day(0),
    );
    assert_eq!(
        refusal(
            &mut ws,
            json!({"type": "issue_books", "person_id": reader, "barcodes": ["S-5"]}),
            day(1)
        ),
        "books_limit"
    );

    // Two desks cut off from each other lent S-0 to two readers: the second loan is
    // what the other desk's events bring (written here as that desk's projection would).
    ws.store()
        .conn()
        .execute(
            "INSERT INTO library_loans (loan_id, barcode, person_id, issued_at_us, due)
             VALUES ('0190a3c0-0000-7000-8000-000000000001', 'S-0', ?1, ?2, '2026-09-20')",
            rusqlite::params![other, day(1).timestamp_micros()],
        )
        .unwrap();
    let back = run(
        &mut ws,
        json!({"type": "return_book", "barcode": "S-0"}),
        day(2),
    );
    assert_eq!(
        back["person_id"], other,
        "the latest loan answers for the copy"
    );
    for person in [&reader, &other] {
        let loans = run(
            &mut ws,
            json!({"type": "reader_loans", "person_id": person}),
            day(2),
        );
        assert!(
            loans["current"]
                .as_array()
                .unwrap()
                .iter()
                .all(|l| l["barcode"] != "S-0"),
            "{person} still holds S-0: {loans}"
        );
    }
    let found = run(
        &mut ws,
        json!({"type": "search_catalogue", "query": "S-0"}),
        day(2),
    );
    assert_eq!(found["titles"][0]["copies"][0]["state"], "on_shelf");
}
