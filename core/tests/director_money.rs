//! The director's money documents over a generated school month: the demo school, then
//! three school days of passages, meal orders, meals served, buffet sales and refunds in
//! cashiers' shifts, and library loans and returns, all through the workstation's
//! commands. Each document is read back as its reader gets it — the XLSX with calamine,
//! the PDF with poppler — and its money is compared with sums taken straight from the
//! projections, to the kopeck.

use calamine::{open_workbook_from_rs, Data, Reader, Xlsx};
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Europe::Moscow;
use rusqlite::Connection;
use schoolcard_core::director::{library, meals, sales, shifts, ReportQuery};
use schoolcard_core::events::{EventBody, PassOutcome, Verification};
use schoolcard_core::peripherals::Direction;
use schoolcard_core::workstation::Command;
use schoolcard_core::{demo, Store, Workstation};
use schoolcard_reports::{to_csv_bytes, to_pdf_bytes, to_xlsx_bytes, CsvOptions, Document};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::Path;
use std::process;

const PERIOD: &str = "сентябрь 2026";

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 9, d).unwrap()
}

/// School time in Moscow.
fn at(day: NaiveDate, h: u32, m: u32) -> DateTime<Utc> {
    Moscow
        .from_local_datetime(&day.and_hms_opt(h, m, 0).unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

fn try_run(ws: &mut Workstation, v: Value, now: DateTime<Utc>) -> Result<Value, String> {
    let command: Command = serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("{v}: {e}"));
    ws.execute(command, now, &|_| {})
        .map_err(|e| format!("{}: {e}", e.code()))
}

fn run(ws: &mut Workstation, v: Value, now: DateTime<Utc>) -> Value {
    try_run(ws, v.clone(), now).unwrap_or_else(|e| panic!("{v} failed: {e}"))
}

fn sign_in(ws: &mut Workstation, login: &str, now: DateTime<Utc>) {
    let _ = try_run(ws, json!({"type": "sign_out"}), now);
    run(
        ws,
        json!({"type": "sign_in_password", "login": login, "password": demo::DEMO_PASSWORD}),
        now,
    );
}

fn column(conn: &Connection, sql: &str) -> Vec<String> {
    let mut st = conn.prepare(sql).unwrap();
    let rows = st.query_map([], |r| r.get(0)).unwrap();
    rows.map(Result::unwrap).collect()
}

fn number(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// What the test did, counted as it went.
#[derive(Default)]
struct Done {
    sales: usize,
    refunds: usize,
    meals: usize,
    issued: usize,
    returned: usize,
}

/// The demo school on the eve of 1 September, then 1–3 September at the canteen and the
/// library.
fn school_month(path: &Path) -> (Workstation, Done) {
    {
        let mut store = Store::open(path).unwrap();
        demo::generate(&mut store, demo::DEMO_SEED, at(day(1), 6, 0), &|_| {}).unwrap();
    }
    let mut ws = Workstation::open(path).unwrap();
    let pupils = column(
        ws.store().conn(),
        "SELECT id FROM persons WHERE kind = 'pupil' AND status = 'active' ORDER BY id",
    );
    assert!(pupils.len() > 500, "the demo school has its pupils");
    let mut done = Done::default();
    for (n, today) in [day(1), day(2), day(3)].into_iter().enumerate() {
        // Nine in ten come in before the cut-off; a different tenth stays home each day.
        let gate = format!("device:{}", ws.store().device());
        ws.store_mut()
            .write(|w| {
                for (i, pupil) in pupils.iter().enumerate() {
                    if i % 10 == n + 3 {
                        continue;
                    }
                    let when = at(today, 7, 30) + Duration::seconds(i as i64 * 3);
                    w.append(
                        &gate,
                        when,
                        EventBody::Passage {
                            passage_id: uuid::Uuid::now_v7(),
                            card: None,
                            raw: String::new(),
                            person_id: Some(pupil.parse().unwrap()),
                            reader_id: None,
                            gate_id: None,
                            direction: Direction::Entry,
                            school_date: today,
                            decided_at: when,
                            allowed: true,
                            reason: "allowed".into(),
                            flags: Vec::new(),
                            verified_by: Verification::Automatic,
                            outcome: PassOutcome::Passed,
                            note: String::new(),
                        },
                    )?;
                }
                Ok::<(), schoolcard_core::error::StoreError>(())
            })
            .unwrap();
        // The second cashier on the 2nd, to tell shifts apart by cashier.
        sign_in(
            &mut ws,
            if n == 1 { "cashier2" } else { "cashier" },
            at(today, 8, 0),
        );
        run(&mut ws, json!({"type": "open_shift"}), at(today, 8, 0));
        run(
            &mut ws,
            json!({"type": "make_meal_order"}),
            at(today, 9, 31),
        );
        // Served from the order; every seventh pupil on it does not come to eat.
        let on_order: Vec<(String, String)> = {
            let conn = ws.store().conn();
            let mut st = conn
                .prepare(
                    "SELECT person_id, complex_id FROM meal_order_pupils WHERE school_date = ?1
                     ORDER BY complex_id, person_id",
                )
                .unwrap();
            let rows = st
                .query_map([today.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap();
            rows.map(Result::unwrap).collect()
        };
        assert!(!on_order.is_empty(), "the order of {today} has pupils");
        for (i, (person, complex)) in on_order.iter().enumerate() {
            if i % 7 == 3 {
                continue;
            }
            let when = at(today, 10, 0) + Duration::seconds(i as i64 * 5);
            let served = run(
                &mut ws,
                json!({"type": "serve_meal", "meal_id": uuid::Uuid::now_v7(),
                       "person_id": person, "complex_id": complex}),
                when,
            );
            if served["ok"] == true {
                done.meals += 1;
            }
        }
        // The buffet: what is on the day's menu, one or two of it; every fifth sale back.
        let menu = column(
            ws.store().conn(),
            &format!(
                "SELECT product_id FROM canteen_menu WHERE school_date = '{today}' ORDER BY product_id"
            ),
        );
        assert!(!menu.is_empty(), "the demo has a menu for {today}");
        for i in 0..40usize {
            let pupil = &pupils[(i * 37 + n * 11) % pupils.len()];
            let sale_id = uuid::Uuid::now_v7();
            let basket = json!([
                {"product_id": menu[i % menu.len()], "quantity": 1 + i % 2},
                {"product_id": menu[(i * 5 + 1) % menu.len()], "quantity": 1},
            ]);
            let sold = run(
                &mut ws,
                json!({"type": "sell_basket", "sale_id": sale_id, "person_id": pupil,
                       "basket": basket}),
                at(today, 12, 0) + Duration::seconds(i as i64 * 30),
            );
            if sold["ok"] != true {
                continue;
            }
            done.sales += 1;
            if done.sales % 5 == 0 {
                run(
                    &mut ws,
                    json!({"type": "refund_sale", "sale_id": sale_id, "reason": "пирожок чёрствый"}),
                    at(today, 13, 0) + Duration::seconds(i as i64),
                );
                done.refunds += 1;
            }
        }
        // The shift of the 3rd is left open: the document counts it until it is made.
        if n < 2 {
            run(&mut ws, json!({"type": "close_shift"}), at(today, 15, 0));
        }
    }
    // The library: on the 2nd, eight copies go to eight pupils; on the 3rd, three come
    // back, and one of the demo's old loans too.
    sign_in(&mut ws, "librarian", at(day(2), 9, 0));
    let shelf = column(
        ws.store().conn(),
        "SELECT barcode FROM library_copies WHERE state = 'on_shelf' ORDER BY barcode LIMIT 8",
    );
    assert_eq!(shelf.len(), 8, "the demo library has copies on the shelf");
    for (i, barcode) in shelf.iter().enumerate() {
        let reader = &pupils[i * 53 % pupils.len()];
        let issued = try_run(
            &mut ws,
            json!({"type": "issue_books", "person_id": reader, "barcodes": [barcode]}),
            at(day(2), 9, 5 + i as u32),
        );
        if issued.is_ok_and(|v| v["ok"] != false) {
            done.issued += 1;
        }
    }
    let old = column(
        ws.store().conn(),
        &format!(
            "SELECT barcode FROM library_loans WHERE returned_at_us IS NULL AND issued_at_us < {}
             ORDER BY barcode LIMIT 1",
            at(day(1), 0, 0).timestamp_micros()
        ),
    );
    for barcode in shelf.iter().take(3).chain(old.iter()) {
        run(
            &mut ws,
            json!({"type": "return_book", "barcode": barcode}),
            at(day(3), 10, 0),
        );
        done.returned += 1;
    }
    (ws, done)
}

fn query(conn: &Connection, class_id: Option<&str>) -> ReportQuery {
    ReportQuery {
        school: number_text(conn, "SELECT name FROM school"),
        time_zone: Moscow,
        from: day(1),
        to: day(30),
        class_id: class_id.map(|c| c.parse().unwrap()),
        generated_at: at(NaiveDate::from_ymd_opt(2026, 10, 1).unwrap(), 9, 0),
    }
}

fn number_text(conn: &Connection, sql: &str) -> String {
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// The sheet's rows as calamine reads them.
fn sheet(document: &Document) -> Vec<Vec<Data>> {
    let bytes = to_xlsx_bytes(document).unwrap();
    let mut workbook: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes)).unwrap();
    let name = workbook.sheet_names()[0].clone();
    let range = workbook.worksheet_range(&name).unwrap();
    range.rows().map(<[Data]>::to_vec).collect()
}

fn text(cell: &Data) -> String {
    match cell {
        Data::String(s) => s.clone(),
        Data::Empty => String::new(),
        other => other.to_string(),
    }
}

/// A money cell back in kopecks (the sheet holds rubles as numbers).
fn kopecks(cell: &Data) -> i64 {
    match cell {
        Data::Float(rubles) => (rubles * 100.0).round() as i64,
        Data::Int(rubles) => rubles * 100,
        Data::Empty => 0,
        other => panic!("not money: {other:?}"),
    }
}

fn integer(cell: &Data) -> i64 {
    match cell {
        Data::Float(n) => *n as i64,
        Data::Int(n) => *n,
        Data::Empty => 0,
        other => panic!("not a number: {other:?}"),
    }
}

/// The row whose first cell is `label`.
fn row<'a>(rows: &'a [Vec<Data>], label: &str) -> &'a [Data] {
    rows.iter()
        .find(|r| r.first().is_some_and(|c| text(c) == label))
        .unwrap_or_else(|| panic!("no row «{label}» in {rows:?}"))
}

/// The rows between the header (first cell `header`) and the totals («Итого…»), that are
/// not group headings (a heading fills only the first cell).
fn body<'a>(rows: &'a [Vec<Data>], header: &str) -> Vec<&'a [Data]> {
    let start = rows
        .iter()
        .position(|r| r.first().is_some_and(|c| text(c) == header))
        .unwrap_or_else(|| panic!("no header «{header}»"));
    rows[start + 1..]
        .iter()
        .filter(|r| r.iter().skip(1).any(|c| *c != Data::Empty))
        .filter(|r| !text(&r[0]).starts_with("Итого"))
        .map(Vec::as_slice)
        .collect()
}

/// The PDF as a reader sees it: its text, and its first page as a PNG to look at.
fn pdf_text(document: &Document, name: &str) -> String {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let path = dir.join(format!("{name}.pdf"));
    std::fs::write(&path, to_pdf_bytes(document).unwrap()).unwrap();
    let output = process::Command::new("pdftotext")
        .args(["-layout", "-enc", "UTF-8"])
        .arg(&path)
        .arg("-")
        .output()
        .unwrap_or_else(|e| panic!("pdftotext is missing ({e}); run installers/setup.sh test"));
    assert!(output.status.success());
    let png = process::Command::new("pdftoppm")
        .args(["-r", "50", "-png", "-f", "1", "-l", "1"])
        .arg(&path)
        .arg(dir.join(name))
        .status()
        .expect("pdftoppm runs");
    assert!(png.success());
    String::from_utf8(output.stdout)
        .unwrap()
        .replace('\u{a0}', " ")
}

fn check_renderings(document: &Document, name: &str, title: &str) {
    let text = pdf_text(document, name);
    assert!(text.contains(title), "{name}: no title in\n{text}");
    assert!(text.contains(PERIOD), "{name}: no period in\n{text}");
    assert!(text.contains("Итого"), "{name}: no total in\n{text}");
    let csv = to_csv_bytes(document, &CsvOptions::default()).unwrap();
    assert!(
        csv.starts_with(b"\xEF\xBB\xBF"),
        "{name}: the CSV has no BOM"
    );
}

#[test]
fn the_directors_money_documents_add_up_to_the_projections() {
    let dir = tempfile::tempdir().unwrap();
    let (ws, done) = school_month(&dir.path().join("school.sqlite"));
    assert!(
        done.meals > 100 && done.sales > 20 && done.refunds > 3,
        "a busy month"
    );
    let conn = ws.store().conn();
    let q = query(conn, None);
    let period = "school_date BETWEEN '2026-09-01' AND '2026-09-30'";

    // ---- meals and savings ----
    let document = meals::meals_and_savings(conn, &q).unwrap();
    let rows = sheet(&document);
    let served_sql = |payer: &str| {
        number(
            conn,
            &format!(
                "SELECT coalesce(sum(price), 0) FROM meals_served WHERE {period} AND payer = '{payer}'"
            ),
        )
    };
    // The saving straight from the order: budget-paid lines, (entitled − on the order) ×
    // the day's price, per day and complex.
    let saved_sql = |payer: &str| {
        number(
            conn,
            &format!(
                "SELECT coalesce(sum((l.entitled - (SELECT count(*) FROM meal_order_pupils o
                        WHERE o.school_date = l.school_date AND o.complex_id = l.complex_id))
                        * l.price), 0)
                 FROM (SELECT school_date, complex_id, max(price) AS price,
                              sum(entitled) AS entitled
                       FROM meal_order_lines WHERE {period} AND payer = '{payer}'
                       GROUP BY school_date, complex_id) l"
            ),
        )
    };
    let mut served_all = 0;
    let mut saved_all = 0;
    for (payer, heading) in [
        ("regional", "Итого: РБ"),
        ("municipal", "Итого: МБ"),
        ("parents", "Итого: родители"),
    ] {
        let served = served_sql(payer);
        let saved = if payer == "parents" {
            0
        } else {
            saved_sql(payer)
        };
        served_all += served;
        saved_all += saved;
        if served == 0 && saved == 0 {
            continue;
        }
        let subtotal = row(&rows, heading);
        assert_eq!(kopecks(&subtotal[5]), served, "{payer}: served");
        assert_eq!(kopecks(&subtotal[6]), saved, "{payer}: saved");
    }
    assert!(
        served_all > 0 && saved_all > 0,
        "meals were served and saved"
    );
    let totals = row(&rows, "Итого");
    assert_eq!(kopecks(&totals[5]), served_all);
    assert_eq!(kopecks(&totals[6]), saved_all);
    assert_eq!(
        integer(&totals[4]),
        done.meals as i64,
        "portions served are the meals the till served"
    );
    // The complexes' rows add up to the totals.
    let complexes = body(&rows, "Комплекс");
    assert_eq!(
        complexes.iter().map(|r| kopecks(&r[5])).sum::<i64>(),
        served_all
    );
    // Ordered but not served, at the complex's price.
    let not_served = number(
        conn,
        &format!(
            "SELECT (SELECT sum(x.price) FROM meal_order_pupils o
                     JOIN canteen_complexes x ON x.complex_id = o.complex_id WHERE o.{period})
                  - (SELECT sum(price) FROM meals_served WHERE {period})"
        ),
    );
    assert_eq!(kopecks(&totals[7]), not_served);
    check_renderings(&document, "meals", meals::MEALS_AND_SAVINGS_TITLE);

    // One class: its pupils' meals only.
    let class = number_text(
        conn,
        "SELECT p.class_id FROM meals_served s JOIN persons p ON p.id = s.person_id
         GROUP BY p.class_id ORDER BY count(*) DESC LIMIT 1",
    );
    let one = meals::meals_and_savings(conn, &query(conn, Some(&class))).unwrap();
    let class_served = number(
        conn,
        &format!(
            "SELECT sum(price) FROM meals_served WHERE {period}
             AND person_id IN (SELECT id FROM persons WHERE class_id = '{class}')"
        ),
    );
    assert_eq!(kopecks(&row(&sheet(&one), "Итого")[5]), class_served);
    assert!(class_served < served_all);
    assert!(
        one.period().unwrap().contains(", класс "),
        "{:?}",
        one.period()
    );

    // ---- buffet sales ----
    let document = sales::buffet_sales(conn, &q).unwrap();
    let rows = sheet(&document);
    let sold = number(
        conn,
        &format!("SELECT sum(total) FROM canteen_sales WHERE {period}"),
    );
    let refunded = number(
        conn,
        &format!(
            "SELECT sum(total) FROM canteen_sales WHERE {period} AND refunded_at_us IS NOT NULL"
        ),
    );
    assert_eq!(
        number(
            conn,
            &format!("SELECT count(*) FROM canteen_sales WHERE {period}")
        ),
        done.sales as i64
    );
    let totals = row(&rows, "Итого");
    assert_eq!(kopecks(&totals[2]), sold, "sold");
    assert_eq!(kopecks(&totals[4]), refunded, "refunded");
    assert_eq!(kopecks(&totals[5]), sold - refunded, "net");
    // By category, from the receipts' lines.
    let mut by_category: BTreeMap<String, i64> = BTreeMap::new();
    {
        let mut st = conn
            .prepare(&format!(
                "SELECT json_extract(l.value, '$.category'),
                        sum(json_extract(l.value, '$.price') * json_extract(l.value, '$.quantity'))
                 FROM canteen_sales s, json_each(s.lines) l WHERE s.{period} GROUP BY 1"
            ))
            .unwrap();
        let found = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
        for f in found {
            let (category, kopecks): (String, i64) = f.unwrap();
            by_category.insert(category, kopecks);
        }
    }
    assert!(by_category.len() > 1, "{by_category:?}");
    for (category, expected) in &by_category {
        let subtotal = row(&rows, &format!("Итого: {category}"));
        assert_eq!(kopecks(&subtotal[2]), *expected, "{category}");
    }
    check_renderings(&document, "sales", sales::BUFFET_SALES_TITLE);
    // One class: its pupils' receipts only.
    let buyers = number_text(
        conn,
        "SELECT p.class_id FROM canteen_sales s JOIN persons p ON p.id = s.person_id
         GROUP BY p.class_id ORDER BY count(*) DESC LIMIT 1",
    );
    let class_sold = number(
        conn,
        &format!(
            "SELECT sum(total) FROM canteen_sales WHERE {period}
             AND person_id IN (SELECT id FROM persons WHERE class_id = '{buyers}')"
        ),
    );
    let one = sales::buffet_sales(conn, &query(conn, Some(&buyers))).unwrap();
    assert_eq!(kopecks(&row(&sheet(&one), "Итого")[2]), class_sold);
    assert!(class_sold > 0 && class_sold < sold);

    // ---- cashiers' shifts ----
    let document = shifts::cashier_shifts(conn, &q).unwrap();
    let rows = sheet(&document);
    let listed = body(&rows, "Касса");
    assert_eq!(listed.len(), 3, "three shifts: {listed:?}");
    let cashiers: Vec<String> = listed.iter().map(|r| text(&r[1])).collect();
    assert_ne!(cashiers[0], cashiers[1], "two cashiers");
    assert_eq!(text(&listed[2][3]), "не закрыта");
    for (n, shift) in listed.iter().enumerate() {
        let today = day(n as u32 + 1);
        let (from, until) = (
            at(today, 8, 0).timestamp_micros(),
            at(today, 23, 0).timestamp_micros(),
        );
        let takings = number(
            conn,
            &format!("SELECT sum(total) FROM canteen_sales WHERE at_us BETWEEN {from} AND {until}"),
        );
        let refunds = number(
            conn,
            &format!(
                "SELECT coalesce(sum(total), 0) FROM canteen_sales
                 WHERE refunded_at_us BETWEEN {from} AND {until}"
            ),
        );
        let meals = number(
            conn,
            &format!("SELECT sum(price) FROM meals_served WHERE at_us BETWEEN {from} AND {until}"),
        );
        assert_eq!(kopecks(&shift[5]), takings, "{today}: takings");
        assert_eq!(kopecks(&shift[6]), refunds, "{today}: refunds");
        assert_eq!(kopecks(&shift[7]), takings - refunds, "{today}: net");
        assert_eq!(kopecks(&shift[9]), meals, "{today}: meals");
    }
    let totals = row(&rows, "Итого: смен 3");
    assert_eq!(kopecks(&totals[5]), sold);
    assert_eq!(kopecks(&totals[6]), refunded);
    assert_eq!(kopecks(&totals[9]), served_all);
    check_renderings(&document, "shifts", shifts::CASHIER_SHIFTS_TITLE);

    // ---- library ----
    let document = library::library_circulation(conn, &q).unwrap();
    let rows = sheet(&document);
    let sept = (
        at(day(1), 0, 0).timestamp_micros(),
        at(NaiveDate::from_ymd_opt(2026, 10, 1).unwrap(), 0, 0).timestamp_micros(),
    );
    let issued = number(
        conn,
        &format!(
            "SELECT count(*) FROM library_loans WHERE issued_at_us >= {} AND issued_at_us < {}",
            sept.0, sept.1
        ),
    );
    let returned = number(
        conn,
        &format!(
            "SELECT count(*) FROM library_loans WHERE outcome = 'returned'
             AND returned_at_us >= {} AND returned_at_us < {}",
            sept.0, sept.1
        ),
    );
    let overdue = number(
        conn,
        "SELECT count(*) FROM library_loans WHERE returned_at_us IS NULL AND due < '2026-09-30'",
    );
    // The demo hands out the year's textbooks on the 1st; the test's loans come on top.
    assert!(issued >= done.issued as i64 && done.issued > 0, "{issued}");
    assert!(returned >= done.returned as i64, "{returned}");
    assert!(overdue > 0, "the demo has overdue loans");
    let totals = row(&rows, "Итого");
    assert_eq!(text(&totals[3]), format!("выдано {issued}"));
    assert_eq!(text(&totals[5]), format!("возвращено {returned}"));
    assert_eq!(text(&totals[6]), format!("просрочено {overdue}"));
    let loans = body(&rows, "Читатель");
    let late: Vec<&&[Data]> = loans.iter().filter(|r| integer(&r[6]) > 0).collect();
    assert_eq!(late.len() as i64, overdue);
    // Days overdue as of 30 September, from the due date printed beside them.
    for loan in &late {
        let due = match &loan[4] {
            Data::DateTime(d) => d.as_datetime().unwrap().date(),
            other => panic!("due is no date: {other:?}"),
        };
        assert_eq!(integer(&loan[6]), (day(30) - due).num_days(), "{loan:?}");
    }
    check_renderings(&document, "library", library::LIBRARY_CIRCULATION_TITLE);

    // A period that ends before it begins is refused, not printed empty.
    let backwards = ReportQuery {
        from: day(30),
        to: day(1),
        ..q.clone()
    };
    for refused in [
        meals::meals_and_savings(conn, &backwards).map(|_| ()),
        sales::buffet_sales(conn, &backwards).map(|_| ()),
        shifts::cashier_shifts(conn, &backwards).map(|_| ()),
        library::library_circulation(conn, &backwards).map(|_| ()),
    ] {
        assert_eq!(refused.unwrap_err().code(), "invalid");
    }
}
