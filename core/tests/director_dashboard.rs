//! The director's dashboard on the demo school and a known day: pupils of one class in
//! on time and late, a day before it for the trend, the meal order at the cut-off, meals
//! served, a sale, a loan. Every figure must equal what the report it summarises
//! answers (`DayAttendance`, `MealsReport`, `OverdueList`, `ExceptionsReport`), and the
//! day's known counts.

mod common;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Europe::Moscow;
use common::{cmd, no_progress, run};
use schoolcard_core::demo;
use schoolcard_core::events::{EventBody, PassOutcome, Verification};
use schoolcard_core::peripherals::Direction;
use schoolcard_core::{Store, Workstation};
use serde_json::{json, Value};

/// Tuesday 13 October 2026: a school day of the default calendar.
fn the_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 10, 13).unwrap()
}

fn at(day: NaiveDate, h: u32, m: u32) -> DateTime<Utc> {
    Moscow
        .from_local_datetime(&day.and_hms_opt(h, m, 0).unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

fn pass(ws: &mut Workstation, person: &str, when: DateTime<Utc>, direction: Direction) {
    let body = EventBody::Passage {
        passage_id: uuid::Uuid::now_v7(),
        card: None,
        raw: String::new(),
        person_id: Some(person.parse().unwrap()),
        reader_id: None,
        gate_id: None,
        direction,
        school_date: when.with_timezone(&Moscow).date_naive(),
        decided_at: when,
        allowed: true,
        reason: "allowed".into(),
        flags: Vec::new(),
        verified_by: Verification::Automatic,
        outcome: PassOutcome::Passed,
        note: String::new(),
    };
    ws.store_mut()
        .write(|w| w.append("device:gate", when, body))
        .unwrap();
}

fn sign_in(ws: &mut Workstation, login: &str, now: DateTime<Utc>) {
    if ws.session().is_some() {
        run(ws, json!({"type": "sign_out"}), now);
    }
    run(
        ws,
        json!({"type": "sign_in_password", "login": login, "password": demo::DEMO_PASSWORD}),
        now,
    );
}

fn ids(ws: &Workstation, sql: &str) -> Vec<String> {
    let conn = ws.store().conn();
    let mut st = conn.prepare(sql).unwrap();
    let rows = st.query_map([], |r| r.get(0)).unwrap();
    rows.map(Result::unwrap).collect()
}

fn sum(rows: &Value, key: &str) -> i64 {
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| r[key].as_i64().unwrap())
        .sum()
}

/// Pupils of the first class in on time, and late.
const ON_TIME: usize = 10;
const LATE: usize = 3;
/// Pupils of the school in on the day before.
const YESTERDAY: usize = 40;

#[test]
fn the_dashboard_equals_the_reports_it_summarises() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("school.sqlite");
    let day = the_day();
    let yesterday = day.pred_opt().unwrap();
    {
        let mut store = Store::open(&path).unwrap();
        demo::generate(&mut store, demo::DEMO_SEED, at(yesterday, 6, 0), &|_| {}).unwrap();
    }
    let mut ws = Workstation::open(&path).unwrap();
    let first_class = ids(
        &ws,
        "SELECT id FROM classes WHERE archived = 0 ORDER BY grade, letter LIMIT 1",
    )
    .remove(0);
    let class_pupils = ids(
        &ws,
        &format!(
            "SELECT id FROM persons WHERE class_id = '{first_class}' AND kind = 'pupil'
             AND status = 'active' ORDER BY surname, name"
        ),
    );
    assert!(class_pupils.len() > ON_TIME + LATE, "{class_pupils:?}");
    let everyone = ids(
        &ws,
        "SELECT id FROM persons WHERE kind = 'pupil' AND status = 'active' ORDER BY id",
    );

    // The day before: some pupils in.
    for (i, pupil) in everyone.iter().take(YESTERDAY).enumerate() {
        pass(
            &mut ws,
            pupil,
            at(yesterday, 7, 40) + Duration::seconds(i as i64),
            Direction::Entry,
        );
    }
    // The day: the first class, on time and late (the first lesson is at 08:30); one of
    // the on-time pupils goes out and back in.
    for (i, pupil) in class_pupils.iter().take(ON_TIME + LATE).enumerate() {
        let when = if i < ON_TIME {
            at(day, 8, 0)
        } else {
            at(day, 9, 10)
        } + Duration::seconds(i as i64);
        pass(&mut ws, pupil, when, Direction::Entry);
    }
    pass(&mut ws, &class_pupils[0], at(day, 8, 10), Direction::Exit);
    pass(&mut ws, &class_pupils[0], at(day, 8, 20), Direction::Entry);

    // The canteen: the order at the cut-off, two meals served, one sale.
    sign_in(&mut ws, "admin", at(day, 9, 31));
    let order = run(&mut ws, json!({"type": "make_meal_order"}), at(day, 9, 31));
    let listed = run(
        &mut ws,
        json!({"type": "serve_class", "class_id": first_class}),
        at(day, 12, 0),
    );
    let to_serve: Vec<Value> = listed["pupils"].as_array().unwrap()[..2].to_vec();
    for p in &to_serve {
        let served = run(
            &mut ws,
            json!({"type": "serve_meal", "meal_id": uuid::Uuid::now_v7(), "person_id": p["person_id"],
                   "complex_id": p["complex_id"]}),
            at(day, 12, 1),
        );
        assert_eq!(served["ok"], true, "{served}");
    }
    let catalogue = run(
        &mut ws,
        json!({"type": "canteen_catalogue"}),
        at(day, 12, 2),
    );
    let product = catalogue["products"][0]["product_id"].clone();
    run(
        &mut ws,
        json!({"type": "set_day_menu", "items": [{"product_id": product, "price": 4_500}]}),
        at(day, 12, 2),
    );
    let buyer = &class_pupils[1];
    run(
        &mut ws,
        json!({"type": "top_up_balance", "person_id": buyer, "amount": 10_000}),
        at(day, 12, 3),
    );
    let sold = run(
        &mut ws,
        json!({"type": "sell_basket", "sale_id": uuid::Uuid::now_v7(), "person_id": buyer,
               "basket": [{"product_id": product, "quantity": 2}]}),
        at(day, 12, 4),
    );
    assert_eq!(sold["ok"], true, "{sold}");
    // The library: a copy on the shelf lent.
    let barcode = ids(
        &ws,
        "SELECT barcode FROM library_copies WHERE state = 'on_shelf' ORDER BY barcode LIMIT 1",
    )
    .remove(0);
    run(
        &mut ws,
        json!({"type": "issue_books", "person_id": class_pupils[2], "barcodes": [barcode]}),
        at(day, 13, 0),
    );

    // The director looks at 14:00.
    let now = at(day, 14, 0);
    sign_in(&mut ws, "director", now);
    let dash = run(&mut ws, json!({"type": "director_dashboard"}), now);
    let attendance = run(&mut ws, json!({"type": "day_attendance"}), now);
    let meals = run(
        &mut ws,
        json!({"type": "meals_report", "from": day.to_string(), "to": day.to_string()}),
        now,
    );
    let month = run(
        &mut ws,
        json!({"type": "meals_report", "from": "2026-10-01", "to": day.to_string()}),
        now,
    );
    let overdue = run(&mut ws, json!({"type": "overdue_list"}), now);
    let exceptions = run(&mut ws, json!({"type": "exceptions_report"}), now);

    // Today, by class: `DayAttendance`'s table, and the day's known counts.
    assert_eq!(attendance["day_kind"], "school_day", "{attendance}");
    // A Saturday: the juniors' day off but the seniors' lessons, so a day with lessons.
    let saturday = run(
        &mut ws,
        json!({"type": "day_attendance", "date": "2026-10-17"}),
        now,
    );
    assert_eq!(saturday["day_kind"], "school_day", "{saturday}");
    assert_eq!(dash["attendance"]["classes"], attendance["classes"]);
    let totals = &dash["attendance"]["totals"];
    for key in ["pupils", "present", "late", "absent", "excused"] {
        assert_eq!(totals[key], sum(&attendance["classes"], key), "{key}");
    }
    assert_eq!(totals["present"], (ON_TIME + LATE) as i64);
    assert_eq!(totals["late"], LATE as i64);
    assert_eq!(
        totals["absent"],
        everyone.len() as i64 - (ON_TIME + LATE) as i64
    );
    let first_row = &dash["attendance"]["classes"][0];
    assert_eq!(first_row["class_id"], first_class.as_str());
    assert_eq!(first_row["late"], LATE as i64);
    assert_eq!(
        dash["inside"]["pupils"],
        (ON_TIME + LATE + YESTERDAY) as i64 - overlap(&everyone, &class_pupils)
    );

    // Meals: `MealsReport`'s totals, today and the month to date.
    let total = |report: &Value, key: &str| sum(&report["totals"], key);
    assert!(total(&meals, "ordered") > 0, "{order}");
    for key in ["entitled", "ordered", "served"] {
        assert_eq!(dash["meals"][key], total(&meals, key), "{key}");
    }
    assert_eq!(dash["meals"]["served"], 2);
    assert_eq!(dash["meals"]["saved_today"], total(&meals, "saved"));
    assert_eq!(dash["meals"]["saved_month"], total(&month, "saved"));
    assert_eq!(dash["buffet"], meals["buffet"]);
    assert_eq!(dash["buffet"]["sales"], 1);
    assert_eq!(dash["buffet"]["net"], 9_000);

    // The library: `OverdueList`'s loans; the loan of the day.
    let overdue_loans: usize = overdue["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["loans"].as_array().unwrap().len())
        .sum();
    assert!(overdue_loans > 0, "the demo lends some books overdue");
    assert_eq!(dash["library"]["overdue_loans"], overdue_loans as i64);
    assert_eq!(dash["library"]["issued_today"], 1);
    let open: i64 = ws
        .store()
        .conn()
        .query_row(
            "SELECT count(*) FROM library_loans WHERE returned_at_us IS NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(dash["library"]["open_loans"], open);

    // The guard post: `ExceptionsReport`'s lists, counted.
    let len = |key: &str| exceptions[key].as_array().unwrap().len() as i64;
    assert_eq!(dash["guard"]["overrides"], len("overrides"));
    assert_eq!(
        dash["guard"]["exceptions"],
        len("without_card") + len("guard_denials") + len("anomalies")
    );
    // The buyer and the served came in; the anomalies list has no till without entry.
    assert_eq!(dash["guard"]["anomalies"], len("anomalies"));

    // The trend: today's point is today's table; yesterday's counts its passages.
    let trend = dash["trend"].as_array().unwrap();
    assert!(trend.len() >= 2 && trend.len() <= 30, "{}", trend.len());
    let last = trend.last().unwrap();
    assert_eq!(last["date"], day.to_string());
    assert_eq!(last["present"], totals["present"]);
    assert_eq!(last["late"], totals["late"]);
    assert_eq!(
        last["pupils"],
        totals["present"].as_i64().unwrap()
            + totals["absent"].as_i64().unwrap()
            + totals["excused"].as_i64().unwrap()
    );
    let before = &trend[trend.len() - 2];
    assert_eq!(before["date"], yesterday.to_string());
    assert_eq!(before["present"], YESTERDAY as i64);
    assert!(trend[..trend.len() - 2].iter().all(|d| d["present"] == 0));

    // Sales by day: the day's one sale, nothing before it.
    let sales = dash["sales_by_day"].as_array().unwrap();
    let today_sales = sales.iter().find(|d| d["date"] == day.to_string()).unwrap();
    assert_eq!(today_sales["sales"], 1);
    assert_eq!(today_sales["net"], 9_000);
    assert_eq!(sum(&dash["sales_by_day"], "sales"), 1);

    // Only the director and the admin see it.
    sign_in(&mut ws, "guard", now);
    let refused = ws.execute(
        cmd(json!({"type": "director_dashboard"})),
        now,
        &no_progress,
    );
    assert!(refused.is_err());
}

/// Pupils both among the day before's and the first class's who came in today: counted
/// once inside.
fn overlap(everyone: &[String], class_pupils: &[String]) -> i64 {
    let today = &class_pupils[..ON_TIME + LATE];
    everyone
        .iter()
        .take(YESTERDAY)
        .filter(|p| today.contains(p))
        .count() as i64
}
