//! A school month in the canteen: passages at the gate, the meal order at the cut-off,
//! late arrivals, admins' adjustments, meals served (with refusals and overrides),
//! buffet sales (with refusals and refunds). The period report's figures must equal the
//! sums recomputed straight from the journal's events, to the kopeck; balances too; and
//! rebuilding the projections from the journal changes nothing.

mod common;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};
use chrono_tz::Europe::Moscow;
use common::{cmd, no_progress, run, school, PASSWORD};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rusqlite::types::Value as SqlValue;
use schoolcard_core::canteen::Payer;
use schoolcard_core::events::{EventBody, PassOutcome, Verification};
use schoolcard_core::peripherals::Direction;
use schoolcard_core::Workstation;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// School time in Moscow on `day`.
fn at(day: NaiveDate, h: u32, m: u32) -> DateTime<Utc> {
    Moscow
        .from_local_datetime(&day.and_hms_opt(h, m, 0).unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

fn try_run(ws: &mut Workstation, v: Value, now: DateTime<Utc>) -> Result<Value, String> {
    ws.execute(cmd(v), now, &no_progress)
        .map_err(|e| format!("{}: {e}", e.code()))
}

fn as_cashier(ws: &mut Workstation, now: DateTime<Utc>) {
    run(ws, json!({"type": "sign_out"}), now);
    run(
        ws,
        json!({"type": "sign_in_password", "login": "cashier", "password": PASSWORD}),
        now,
    );
}

fn as_admin(ws: &mut Workstation, now: DateTime<Utc>) {
    run(ws, json!({"type": "sign_out"}), now);
    run(
        ws,
        json!({"type": "sign_in_password", "login": "admin", "password": PASSWORD}),
        now,
    );
}

fn enter(ws: &mut Workstation, person: &str, when: DateTime<Utc>) {
    let body = EventBody::Passage {
        passage_id: uuid::Uuid::now_v7(),
        card: None,
        raw: String::new(),
        person_id: Some(person.parse().unwrap()),
        reader_id: None,
        gate_id: None,
        direction: Direction::Entry,
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

const SURNAMES: [&str; 12] = [
    "Иванов",
    "Петров",
    "Сидоров",
    "Кузнецов",
    "Смирнов",
    "Попов",
    "Волков",
    "Зайцев",
    "Орлов",
    "Соколов",
    "Лебедев",
    "Козлов",
];

struct School {
    /// (pupil id, grade)
    pupils: Vec<(String, u8)>,
    classes: BTreeMap<u8, String>,
    complexes: HashMap<&'static str, String>,
    products: Vec<String>,
}

fn set_up(ws: &mut Workstation, start: DateTime<Utc>) -> School {
    let mut classes = BTreeMap::new();
    let mut pupils = Vec::new();
    for (grade, name) in [(2u8, "2А"), (6, "6Б")] {
        let class = run(ws, json!({"type": "create_class", "name": name}), start)["id"]
            .as_str()
            .unwrap()
            .to_owned();
        for surname in SURNAMES {
            let p = run(
                ws,
                json!({"type": "enrol_pupil", "class_id": class,
                       "name": {"surname": surname, "name": if grade == 2 { "Младший" } else { "Старший" }}}),
                start,
            );
            pupils.push((p["person"]["id"].as_str().unwrap().to_owned(), grade));
        }
        classes.insert(grade, class);
    }
    run(
        ws,
        json!({"type": "enrol_staff", "login": "cashier", "password": PASSWORD, "roles": ["cashier"],
               "name": {"surname": "Кассирова", "name": "Галина"}}),
        start,
    );
    run(
        ws,
        json!({"type": "configure_canteen", "settings": {"order_cut_off": "09:30:00",
               "overdraft_floor": 5000, "offline_budget": 30000}}),
        start,
    );
    let mut complexes = HashMap::new();
    for (key, name, meal, first, last, price, payer) in [
        (
            "lunch_primary",
            "Обед 1–4",
            "lunch",
            1,
            4,
            9_050,
            "regional",
        ),
        (
            "lunch_senior",
            "Обед 5–11",
            "lunch",
            5,
            11,
            11_075,
            "municipal",
        ),
        (
            "breakfast",
            "Завтрак",
            "breakfast",
            1,
            11,
            6_033,
            "municipal",
        ),
        (
            "lunch_paid",
            "Обед платный",
            "lunch",
            5,
            11,
            15_000,
            "parents",
        ),
    ] {
        let c = run(
            ws,
            json!({"type": "save_complex", "name": name, "meal": meal,
                   "grades": {"first": first, "last": last}, "price": price, "payer": payer}),
            start,
        );
        complexes.insert(key, c["complex"]["complex_id"].as_str().unwrap().to_owned());
    }
    let mut products = Vec::new();
    for (name, category, price, allergens) in [
        ("Булочка с маком", "выпечка", 3_500, vec!["gluten"]),
        ("Сок яблочный", "напитки", 4_500, vec![]),
        ("Шоколадка", "сладости", 6_000, vec!["milk", "лесной орех"]),
        ("Пирожок", "выпечка", 2_500, vec!["gluten", "eggs"]),
    ] {
        let p = run(
            ws,
            json!({"type": "save_product", "name": name, "price": price, "category": category,
                   "allergens": allergens}),
            start,
        );
        products.push(p["product"]["product_id"].as_str().unwrap().to_owned());
    }
    let category = run(
        ws,
        json!({"type": "save_benefit_category", "name": "Многодетная семья", "meals": ["breakfast", "lunch"]}),
        start,
    )["category"]["category_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Three pupils of 6Б with a benefit: two all month, one from the 15th.
    let seniors: Vec<&String> = pupils
        .iter()
        .filter(|(_, g)| *g == 6)
        .map(|(p, _)| p)
        .collect();
    for (pupil, from) in [
        (seniors[0], "2026-09-01"),
        (seniors[1], "2026-09-01"),
        (seniors[2], "2026-09-15"),
    ] {
        run(
            ws,
            json!({"type": "grant_benefit", "person_id": pupil, "category_id": category,
                   "valid_from": from, "valid_to": "2027-05-31", "document": "Удостоверение № 17"}),
            start,
        );
    }
    // A revoked grant gives nothing.
    let g = run(
        ws,
        json!({"type": "grant_benefit", "person_id": seniors[3], "category_id": category,
               "valid_from": "2026-09-01", "valid_to": "2027-05-31", "document": "ошибка"}),
        start,
    );
    run(
        ws,
        json!({"type": "revoke_benefit", "grant_id": g["grant"]["grant_id"], "reason": "внесено по ошибке"}),
        start,
    );
    for (pupil, _) in &pupils {
        run(
            ws,
            json!({"type": "top_up_balance", "person_id": pupil, "amount": 50_000, "note": "наличные"}),
            start,
        );
    }
    // Parents' wishes: no sweets before 13:00 for one, a 100 ₽ daily limit for another.
    run(
        ws,
        json!({"type": "set_canteen_ban", "person_id": seniors[4],
               "target": {"kind": "category", "value": "Сладости"},
               "hours": {"from": "08:00:00", "to": "13:00:00"}}),
        start,
    );
    run(
        ws,
        json!({"type": "set_daily_limit", "person_id": seniors[5], "limit": 10_000}),
        start,
    );
    School {
        pupils,
        classes,
        complexes,
        products,
    }
}

#[test]
fn a_school_month_in_the_canteen_reconciles_with_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let mut ws = school(dir.path());
    let first = NaiveDate::from_ymd_opt(2026, 9, 1).unwrap();
    let s = set_up(&mut ws, at(first, 7, 0) - Duration::days(1));
    let mut rng = ChaCha8Rng::seed_from_u64(2026);
    let mut refusals: BTreeMap<String, u32> = BTreeMap::new();
    let mut overrides = 0;
    let mut anomaly_seen = false;

    let mut day = first;
    while day.month() == 9 {
        if matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
            day = day.succ_opt().unwrap();
            continue;
        }
        as_admin(&mut ws, at(day, 7, 0));
        let menu: Vec<Value> = s
            .products
            .iter()
            .map(|p| json!({"product_id": p, "price": rng.gen_range(20..80) * 100 + 5}))
            .collect();
        run(
            &mut ws,
            json!({"type": "set_day_menu", "items": menu}),
            at(day, 7, 0),
        );
        if day.weekday() == Weekday::Mon {
            for (pupil, _) in s.pupils.iter().step_by(2) {
                run(
                    &mut ws,
                    json!({"type": "top_up_balance", "person_id": pupil, "amount": 20_000}),
                    at(day, 7, 1),
                );
            }
        }
        // Paying seniors pre-order the parents' lunch now and then.
        for (pupil, grade) in s.pupils.iter().skip(20) {
            if *grade == 6 && rng.gen_bool(0.4) {
                // Refused when the balance does not cover it.
                let placed = try_run(
                    &mut ws,
                    json!({"type": "place_pre_order", "person_id": pupil,
                           "complex_id": s.complexes["lunch_paid"], "date": day.to_string()}),
                    at(day, 7, 5),
                );
                if let Err(e) = placed {
                    assert!(e.starts_with("conflict"), "{e}");
                }
            }
        }
        // Arrivals: most before the cut-off, some late, some not at all.
        let mut came: Vec<(String, DateTime<Utc>)> = Vec::new();
        for (pupil, _) in &s.pupils {
            let roll = rng.gen_range(0..100);
            let when = match roll {
                0..=74 => at(day, 7, 40) + Duration::minutes(rng.gen_range(0..100)),
                75..=86 => at(day, 9, 45) + Duration::minutes(rng.gen_range(0..60)),
                _ => continue,
            };
            came.push((pupil.clone(), when));
        }
        came.sort_by_key(|(_, t)| *t);
        for (pupil, when) in came.iter().filter(|(_, t)| *t <= at(day, 9, 30)) {
            enter(&mut ws, pupil, *when);
        }
        as_cashier(&mut ws, at(day, 9, 0));
        let early = try_run(&mut ws, json!({"type": "make_meal_order"}), at(day, 9, 0));
        assert!(early.unwrap_err().contains("conflict"));
        run(&mut ws, json!({"type": "make_meal_order"}), at(day, 9, 31));
        // Made once: asking again changes nothing.
        run(&mut ws, json!({"type": "make_meal_order"}), at(day, 9, 32));
        for (pupil, when) in came.iter().filter(|(_, t)| *t > at(day, 9, 30)) {
            enter(&mut ws, pupil, *when);
        }
        run(
            &mut ws,
            json!({"type": "add_late_arrivals"}),
            at(day, 11, 0),
        );
        // Now and then an admin takes a pupil off the order (sent home ill).
        if rng.gen_bool(0.3) {
            let class = &s.classes[&2];
            let listed = run(
                &mut ws,
                json!({"type": "serve_class", "class_id": class}),
                at(day, 11, 10),
            );
            if let Some(first) = listed["pupils"].as_array().unwrap().first().cloned() {
                as_admin(&mut ws, at(day, 11, 11));
                run(
                    &mut ws,
                    json!({"type": "adjust_meal_order", "date": day.to_string(),
                           "person_id": first["person_id"], "complex_id": first["complex_id"],
                           "added": false, "reason": "ушёл домой, заболел"}),
                    at(day, 11, 11),
                );
            }
            as_cashier(&mut ws, at(day, 11, 12));
        }
        // The supplier's sheet agrees with the order as it stands: portions by complex
        // equal the pupils on it, and every correction of the day is listed.
        {
            let sheet = run(
                &mut ws,
                json!({"type": "meal_order_sheet", "date": day.to_string()}),
                at(day, 11, 15),
            );
            assert_eq!(sheet["made"], true);
            let on_order: i64 = ws
                .store()
                .conn()
                .query_row(
                    "SELECT count(*) FROM meal_order_pupils WHERE school_date = ?1",
                    [day.to_string()],
                    |r| r.get(0),
                )
                .unwrap();
            let portions: i64 = sheet["complexes"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|c| c["classes"].as_array().unwrap().iter())
                .map(|r| {
                    r["municipal"].as_i64().unwrap()
                        + r["regional"].as_i64().unwrap()
                        + r["paid"].as_i64().unwrap()
                })
                .sum();
            assert_eq!(portions, on_order, "{sheet}");
            let corrections: usize = ws
                .store()
                .conn()
                .query_row(
                    "SELECT count(*) FROM journal WHERE kind = 'meal_order_corrected'
                     AND json_extract(payload, '$.school_date') = ?1",
                    [day.to_string()],
                    |r| r.get(0),
                )
                .unwrap();
            let listed: usize = sheet["complexes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["corrections"].as_array().unwrap().len())
                .sum();
            assert_eq!(listed, corrections, "{sheet}");
        }
        // Lunch: each class is served from its list.
        let mut minute = 0;
        for class in s.classes.values() {
            let listed = run(
                &mut ws,
                json!({"type": "serve_class", "class_id": class}),
                at(day, 12, 0),
            );
            for p in listed["pupils"].as_array().unwrap() {
                if rng.gen_bool(0.08) {
                    continue; // did not come to eat
                }
                minute += 1;
                let when = at(day, 12, 0) + Duration::seconds(minute * 20);
                let meal_id = uuid::Uuid::now_v7();
                let served = run(
                    &mut ws,
                    json!({"type": "serve_meal", "meal_id": meal_id, "person_id": p["person_id"],
                           "complex_id": p["complex_id"]}),
                    when,
                );
                assert_eq!(served["ok"], true, "{served}");
                // The till retries after a lost reply: served once.
                let again = run(
                    &mut ws,
                    json!({"type": "serve_meal", "meal_id": meal_id, "person_id": p["person_id"],
                           "complex_id": p["complex_id"]}),
                    when,
                );
                assert_eq!(again["repeated"], true);
                if rng.gen_bool(0.05) {
                    // A second helping asked for: refused, and sometimes overridden.
                    let second = run(
                        &mut ws,
                        json!({"type": "serve_meal", "meal_id": uuid::Uuid::now_v7(),
                               "person_id": p["person_id"], "complex_id": p["complex_id"]}),
                        when,
                    );
                    assert_eq!(second["reason"], "already_served");
                    *refusals.entry("already_served".into()).or_default() += 1;
                    if rng.gen_bool(0.5) {
                        let over = run(
                            &mut ws,
                            json!({"type": "serve_meal", "meal_id": uuid::Uuid::now_v7(),
                                   "person_id": p["person_id"], "complex_id": p["complex_id"],
                                   "override_reason": "добавка по просьбе медсестры"}),
                            when,
                        );
                        assert_eq!(over["overridden"], "already_served");
                        overrides += 1;
                    }
                }
            }
        }
        // The buffet.
        for _ in 0..15 {
            let (pupil, _) = &s.pupils[rng.gen_range(0..s.pupils.len())];
            let basket: Vec<Value> = (0..rng.gen_range(1..4))
                .map(|_| {
                    json!({"product_id": s.products[rng.gen_range(0..s.products.len())],
                           "quantity": rng.gen_range(1..3)})
                })
                .collect();
            let when = at(day, rng.gen_range(10..15), rng.gen_range(0..60));
            let sale_id = uuid::Uuid::now_v7();
            let sold = run(
                &mut ws,
                json!({"type": "sell_basket", "sale_id": sale_id, "person_id": pupil, "basket": basket}),
                when,
            );
            if sold["ok"] == true {
                let again = run(
                    &mut ws,
                    json!({"type": "sell_basket", "sale_id": sale_id, "person_id": pupil, "basket": basket}),
                    when,
                );
                assert_eq!(again, sold, "a retried sale answers the same, charged once");
                if rng.gen_bool(0.1) {
                    run(
                        &mut ws,
                        json!({"type": "refund_sale", "sale_id": sale_id, "reason": "пролил сок"}),
                        when + Duration::minutes(1),
                    );
                }
            } else {
                *refusals
                    .entry(sold["reason"].as_str().unwrap().to_owned())
                    .or_default() += 1;
            }
        }
        // The till's anomaly: someone who never came in buys a bun.
        let absent = s
            .pupils
            .iter()
            .map(|(p, _)| p)
            .find(|p| !came.iter().any(|(c, _)| c == *p));
        if let (Some(absent), false) = (absent, anomaly_seen) {
            let sold = run(
                &mut ws,
                json!({"type": "sell_basket", "sale_id": uuid::Uuid::now_v7(), "person_id": absent,
                       "basket": [{"product_id": s.products[3], "quantity": 1}]}),
                at(day, 14, 0),
            );
            if sold["ok"] == true {
                as_admin(&mut ws, at(day, 14, 1));
                let report = run(
                    &mut ws,
                    json!({"type": "exceptions_report", "date": day.to_string()}),
                    at(day, 14, 1),
                );
                let anomalies = report["anomalies"].as_array().unwrap();
                assert!(
                    anomalies
                        .iter()
                        .any(|a| a["kind"] == "till_without_entry"
                            && a["first"]["person_id"] == *absent),
                    "{anomalies:?}"
                );
                anomaly_seen = true;
            }
        }
        day = day.succ_opt().unwrap();
    }
    assert!(anomaly_seen);
    assert!(overrides > 0, "no override happened");
    assert!(refusals.get("already_served").copied().unwrap_or(0) > 0);

    as_admin(&mut ws, at(day, 9, 0));
    let report = run(
        &mut ws,
        json!({"type": "meals_report", "from": "2026-09-01", "to": "2026-09-30"}),
        at(day, 9, 0),
    );
    let journal = Recomputed::from_journal(&ws);

    // Line by line: entitled, ordered, served, saved.
    let lines = report["lines"].as_array().unwrap();
    assert_eq!(lines.len(), journal.lines.len());
    for line in lines {
        let key = (
            line["date"].as_str().unwrap().to_owned(),
            line["complex_id"].as_str().unwrap().to_owned(),
        );
        let j = &journal.lines[&key];
        let got = (
            line["entitled"].as_i64().unwrap(),
            line["ordered"].as_i64().unwrap(),
            line["served"].as_i64().unwrap(),
            line["saved"].as_i64().unwrap(),
            line["served_kopecks"].as_i64().unwrap(),
        );
        assert_eq!(got, j.figures(), "{key:?}");
    }
    // Entitled by the rules, known independently: all twelve of 2А to the primary lunch;
    // in 6Б two benefit holders, three from the 15th (the revoked grant gives nothing).
    for line in lines {
        let date = line["date"].as_str().unwrap();
        let expected = if line["complex_id"] == s.complexes["lunch_primary"] {
            12
        } else if line["complex_id"] == s.complexes["lunch_senior"]
            || line["complex_id"] == s.complexes["breakfast"]
        {
            if date >= "2026-09-15" {
                3
            } else {
                2
            }
        } else {
            0
        };
        assert_eq!(line["entitled"], expected, "{line}");
    }
    // Totals per payer, in kopecks.
    let mut by_payer: BTreeMap<String, (i64, i64, i64, i64, i64)> = BTreeMap::new();
    for j in journal.lines.values() {
        let t = by_payer.entry(j.payer.clone()).or_default();
        let f = j.figures();
        t.0 += f.0;
        t.1 += f.1;
        t.2 += f.2;
        t.3 += f.3;
        t.4 += f.4;
    }
    for total in report["totals"].as_array().unwrap() {
        let t = by_payer[total["payer"].as_str().unwrap()];
        assert_eq!(
            (
                total["entitled"].as_i64().unwrap(),
                total["ordered"].as_i64().unwrap(),
                total["served"].as_i64().unwrap(),
                total["saved"].as_i64().unwrap(),
                total["served_kopecks"].as_i64().unwrap(),
            ),
            t
        );
    }
    let saved: i64 = by_payer.values().map(|t| t.3).sum();
    assert!(saved > 0, "absent entitled pupils must save money");
    assert_eq!(report["overrides"].as_array().unwrap().len(), overrides);
    assert_eq!(report["buffet"]["sold"].as_i64().unwrap(), journal.sold);
    assert_eq!(
        report["buffet"]["refunded"].as_i64().unwrap(),
        journal.refunded
    );
    assert!(journal.late_arrivals > 0 && journal.admin_removals > 0);

    // Every balance equals its money events.
    for (pupil, _) in &s.pupils {
        let record = run(
            &mut ws,
            json!({"type": "pupil_canteen", "person_id": pupil}),
            at(day, 9, 0),
        );
        assert_eq!(
            record["balance"].as_i64().unwrap(),
            journal.balances.get(pupil).copied().unwrap_or(0),
            "{pupil}"
        );
    }
    // The rules refused at the buffet for the parents' reasons too.
    for reason in ["category_banned", "daily_limit_exceeded"] {
        assert!(refusals.contains_key(reason), "{refusals:?} lacks {reason}");
    }

    // Rebuilding from the journal gives the same canteen state.
    let before = canteen_tables(&ws);
    ws.store_mut().rebuild_projections().unwrap();
    assert_eq!(canteen_tables(&ws), before);
}

#[derive(Default)]
struct JournalLine {
    payer: String,
    price: i64,
    entitled: i64,
    ordered: BTreeSet<String>,
    served: i64,
    served_kopecks: i64,
}

impl JournalLine {
    fn figures(&self) -> (i64, i64, i64, i64, i64) {
        let ordered = self.ordered.len() as i64;
        let saved = if self.payer == "parents" {
            0
        } else {
            (self.entitled - ordered) * self.price
        };
        (
            self.entitled,
            ordered,
            self.served,
            saved,
            self.served_kopecks,
        )
    }
}

/// The report's figures, from the journal's events alone.
struct Recomputed {
    lines: BTreeMap<(String, String), JournalLine>,
    sold: i64,
    refunded: i64,
    balances: HashMap<String, i64>,
    late_arrivals: u32,
    admin_removals: u32,
}

impl Recomputed {
    fn from_journal(ws: &Workstation) -> Recomputed {
        let conn = ws.store().conn();
        let mut st = conn
            .prepare("SELECT kind, payload FROM journal ORDER BY seq")
            .unwrap();
        let events: Vec<EventBody> = st
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .unwrap()
            .map(|r| {
                let (kind, payload) = r.unwrap();
                EventBody::from_parts(&kind, &payload).unwrap()
            })
            .collect();
        let payer_text = |p: Payer| {
            serde_json::to_value(p)
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned()
        };
        let mut r = Recomputed {
            lines: BTreeMap::new(),
            sold: 0,
            refunded: 0,
            balances: HashMap::new(),
            late_arrivals: 0,
            admin_removals: 0,
        };
        let mut sales: HashMap<uuid::Uuid, (String, i64)> = HashMap::new();
        let mut pre_orders: HashMap<uuid::Uuid, (String, i64)> = HashMap::new();
        for event in events {
            match event {
                EventBody::MealOrderMade {
                    school_date, lines, ..
                } => {
                    for l in lines {
                        let j = r
                            .lines
                            .entry((school_date.to_string(), l.complex_id.to_string()))
                            .or_default();
                        j.payer = payer_text(l.payer);
                        j.price = l.price.0;
                        j.entitled += i64::from(l.entitled);
                        j.ordered
                            .extend(l.pupils.iter().chain(&l.pre_ordered).map(|p| p.to_string()));
                    }
                }
                EventBody::MealOrderCorrected {
                    school_date,
                    complex_id,
                    person_id,
                    price,
                    payer,
                    added,
                    cause,
                    ..
                } => {
                    let j = r
                        .lines
                        .entry((school_date.to_string(), complex_id.to_string()))
                        .or_default();
                    j.payer = payer_text(payer);
                    j.price = price.0;
                    if added {
                        j.ordered.insert(person_id.to_string());
                    } else {
                        j.ordered.remove(&person_id.to_string());
                    }
                    match (cause, added) {
                        (schoolcard_core::events::OrderCorrectionCause::LateArrival, _) => {
                            r.late_arrivals += 1
                        }
                        (_, false) => r.admin_removals += 1,
                        _ => {}
                    }
                }
                EventBody::MealServed {
                    school_date,
                    complex_id,
                    price,
                    payer,
                    ..
                } => {
                    let j = r
                        .lines
                        .entry((school_date.to_string(), complex_id.to_string()))
                        .or_default();
                    j.payer = payer_text(payer);
                    if j.price == 0 {
                        j.price = price.0;
                    }
                    j.served += 1;
                    j.served_kopecks += price.0;
                }
                EventBody::SaleMade {
                    sale_id,
                    person_id,
                    total,
                    ..
                } => {
                    r.sold += total.0;
                    *r.balances.entry(person_id.to_string()).or_default() -= total.0;
                    sales.insert(sale_id, (person_id.to_string(), total.0));
                }
                EventBody::SaleRefunded {
                    sale_id, amount, ..
                } => {
                    r.refunded += amount.0;
                    let (person, _) = &sales[&sale_id];
                    *r.balances.entry(person.clone()).or_default() += amount.0;
                }
                EventBody::BalanceToppedUp {
                    person_id, amount, ..
                }
                | EventBody::BalanceCorrected {
                    person_id, amount, ..
                } => {
                    *r.balances.entry(person_id.to_string()).or_default() += amount.0;
                }
                EventBody::PreOrderPlaced {
                    pre_order_id,
                    person_id,
                    price,
                    ..
                } => {
                    *r.balances.entry(person_id.to_string()).or_default() -= price.0;
                    pre_orders.insert(pre_order_id, (person_id.to_string(), price.0));
                }
                EventBody::PreOrderCancelled { pre_order_id, .. } => {
                    let (person, price) = &pre_orders[&pre_order_id];
                    *r.balances.entry(person.clone()).or_default() += price;
                }
                _ => {}
            }
        }
        r
    }
}

fn canteen_tables(ws: &Workstation) -> Vec<Vec<Vec<SqlValue>>> {
    schoolcard_core::store::PROJECTION_TABLES
        .iter()
        .map(|table| {
            let conn = ws.store().conn();
            let mut st = conn
                .prepare(&format!("SELECT * FROM {table} ORDER BY 1, 2"))
                .unwrap();
            let columns = st.column_count();
            st.query_map([], |r| {
                (0..columns)
                    .map(|i| r.get::<_, SqlValue>(i))
                    .collect::<Result<Vec<_>, _>>()
            })
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap()
        })
        .collect()
}

/// Who may not: a cashier cannot top up, a guard cannot sell; a pre-order is refused
/// once the day's order is made.
#[test]
fn the_canteen_refuses_what_the_rules_refuse() {
    let dir = tempfile::tempdir().unwrap();
    let mut ws = school(dir.path());
    let day = NaiveDate::from_ymd_opt(2026, 9, 2).unwrap();
    let s = set_up(&mut ws, at(day, 7, 0));
    let senior = &s.pupils[20].0;
    as_cashier(&mut ws, at(day, 7, 0));
    let err = try_run(
        &mut ws,
        json!({"type": "top_up_balance", "person_id": senior, "amount": 100}),
        at(day, 7, 0),
    )
    .unwrap_err();
    assert!(err.starts_with("forbidden"), "{err}");
    run(&mut ws, json!({"type": "make_meal_order"}), at(day, 9, 30));
    as_admin(&mut ws, at(day, 9, 40));
    let err = try_run(
        &mut ws,
        json!({"type": "place_pre_order", "person_id": senior,
               "complex_id": s.complexes["lunch_paid"], "date": day.to_string()}),
        at(day, 9, 40),
    )
    .unwrap_err();
    assert!(err.starts_with("conflict"), "{err}");
    // The next school day's paid lunch, once: a second pre-order of it is refused.
    let next_day = "2026-09-03";
    let paid_lunch = json!({"type": "place_pre_order", "person_id": senior,
                            "complex_id": s.complexes["lunch_paid"], "date": next_day});
    let placed = run(&mut ws, paid_lunch.clone(), at(day, 9, 41));
    let err = try_run(&mut ws, paid_lunch, at(day, 9, 42)).unwrap_err();
    assert!(err.starts_with("conflict"), "{err}");
    // Given back (the money too), for what follows.
    run(
        &mut ws,
        json!({"type": "cancel_pre_order", "pre_order_id": placed["pre_order_id"], "reason": "передумали"}),
        at(day, 9, 43),
    );
    // A budget complex is never pre-ordered.
    let err = try_run(
        &mut ws,
        json!({"type": "place_pre_order", "person_id": senior,
               "complex_id": s.complexes["lunch_senior"], "date": "2026-09-03"}),
        at(day, 9, 40),
    )
    .unwrap_err();
    assert!(err.starts_with("conflict"), "{err}");
    // A pupil with no entitlement is refused a free lunch at the till.
    as_cashier(&mut ws, at(day, 12, 0));
    let refused = run(
        &mut ws,
        json!({"type": "serve_meal", "meal_id": uuid::Uuid::now_v7(), "person_id": senior,
               "complex_id": s.complexes["lunch_senior"]}),
        at(day, 12, 0),
    );
    assert_eq!(refused, json!({"ok": false, "reason": "not_entitled"}));
    let unknown = run(
        &mut ws,
        json!({"type": "till_pupil", "card": "126,9999"}),
        at(day, 12, 0),
    );
    assert_eq!(unknown["reason"], "unknown_card");

    // By card: the cashier taps it; a refund gives the money back and frees the limit.
    as_admin(&mut ws, at(day, 12, 5));
    run(
        &mut ws,
        json!({"type": "bind_card", "person_id": senior, "card": "126,4242"}),
        at(day, 12, 5),
    );
    run(
        &mut ws,
        json!({"type": "set_day_menu", "items": [{"product_id": s.products[1], "price": 4_000}]}),
        at(day, 12, 5),
    );
    run(
        &mut ws,
        json!({"type": "set_daily_limit", "person_id": senior, "limit": 8_000}),
        at(day, 12, 5),
    );
    as_cashier(&mut ws, at(day, 12, 10));
    let who = run(
        &mut ws,
        json!({"type": "till_pupil", "card": "126,4242"}),
        at(day, 12, 10),
    );
    assert_eq!(
        (
            who["person_id"].as_str(),
            &who["balance"],
            &who["available"]
        ),
        (Some(senior.as_str()), &json!(50_000), &json!(55_000))
    );
    // The cashier's shift: opened once, whatever is pressed twice.
    let shift = run(&mut ws, json!({"type": "open_shift"}), at(day, 12, 9));
    let again = run(&mut ws, json!({"type": "open_shift"}), at(day, 12, 9));
    assert_eq!(shift["shift_id"], again["shift_id"]);
    assert_eq!((&shift["open"], &shift["sales"]), (&json!(true), &json!(0)));
    let basket = json!([{"product_id": s.products[1], "quantity": 2}]);
    let sale = run(
        &mut ws,
        json!({"type": "sell_basket", "sale_id": uuid::Uuid::now_v7(), "card": "126,4242", "basket": basket}),
        at(day, 12, 10),
    );
    assert_eq!(
        (&sale["ok"], &sale["total"], &sale["balance"]),
        (&json!(true), &json!(8_000), &json!(42_000))
    );
    // Its receipt: the pupil, the lines as sold, the total and the balance after.
    let receipt = run(
        &mut ws,
        json!({"type": "sale_receipt", "sale_id": sale["sale_id"]}),
        at(day, 12, 10),
    );
    assert_eq!(receipt["pupil"], who["full_name"], "{receipt}");
    assert_eq!(receipt["lines"][0]["quantity"], 2, "{receipt}");
    assert_eq!(
        (&receipt["total"], &receipt["balance"], &receipt["refunded"]),
        (&json!(8_000), &json!(42_000), &json!(false))
    );
    assert!(
        !receipt["cashier"].as_str().unwrap().is_empty(),
        "{receipt}"
    );
    let over = run(
        &mut ws,
        json!({"type": "sell_basket", "sale_id": uuid::Uuid::now_v7(), "card": "126,4242",
               "basket": [{"product_id": s.products[1], "quantity": 1}]}),
        at(day, 12, 11),
    );
    assert_eq!(over["reason"], "daily_limit_exceeded");
    let refunded = run(
        &mut ws,
        json!({"type": "refund_sale", "sale_id": sale["sale_id"], "reason": "сок прокис"}),
        at(day, 12, 12),
    );
    assert_eq!(refunded["balance"], 50_000);
    let err = try_run(
        &mut ws,
        json!({"type": "refund_sale", "sale_id": sale["sale_id"], "reason": "ещё раз"}),
        at(day, 12, 12),
    )
    .unwrap_err();
    assert!(err.starts_with("conflict"), "{err}");
    let again = run(
        &mut ws,
        json!({"type": "sell_basket", "sale_id": uuid::Uuid::now_v7(), "card": "126,4242",
               "basket": [{"product_id": s.products[1], "quantity": 1}]}),
        at(day, 12, 13),
    );
    assert_eq!(again["ok"], true, "{again}");
    // Closed, the shift's report: two sales of juice (one refunded), by category.
    let closed = run(&mut ws, json!({"type": "close_shift"}), at(day, 12, 30));
    assert_eq!(closed["shift_id"], shift["shift_id"]);
    assert_eq!(
        (&closed["open"], &closed["sales"], &closed["refunds"]),
        (&json!(false), &json!(2), &json!(1))
    );
    assert_eq!(
        (&closed["sold"], &closed["refunded"], &closed["net"]),
        (&json!(12_000), &json!(8_000), &json!(4_000)),
        "{closed}"
    );
    assert_eq!(closed["by_category"][0]["items"], 3, "{closed}");
    let err = try_run(&mut ws, json!({"type": "close_shift"}), at(day, 12, 31)).unwrap_err();
    assert!(err.starts_with("conflict"), "{err}");
    // Asked later, the same report.
    let later = run(&mut ws, json!({"type": "shift_report"}), at(day, 15, 0));
    assert_eq!(later["net"], closed["net"]);
}

/// The supplier's XLSX menu: known products by name, a new one with its category, the
/// day's prices with kopecks as numbers; a file with a bad row writes nothing.
#[test]
fn a_day_menu_from_the_suppliers_xlsx() {
    let dir = tempfile::tempdir().unwrap();
    let mut ws = school(dir.path());
    let day = NaiveDate::from_ymd_opt(2026, 9, 2).unwrap();
    set_up(&mut ws, at(day, 7, 0));
    let write = |name: &str, rows: &[(&str, Option<f64>, &str, &str)]| {
        let path = dir.path().join(name);
        let mut workbook = rust_xlsxwriter::Workbook::new();
        let sheet = workbook.add_worksheet();
        sheet
            .write_string(0, 0, "Меню буфета на 02.09.2026")
            .unwrap();
        for (c, title) in ["Наименование", "Цена", "Категория", "Аллергены"]
            .iter()
            .enumerate()
        {
            sheet.write_string(1, c as u16, *title).unwrap();
        }
        for (r, (product, price, category, allergens)) in rows.iter().enumerate() {
            let r = r as u32 + 2;
            sheet.write_string(r, 0, *product).unwrap();
            match price {
                Some(p) => sheet.write_number(r, 1, *p).unwrap(),
                None => sheet.write_string(r, 1, "по запросу").unwrap(),
            };
            sheet.write_string(r, 2, *category).unwrap();
            sheet.write_string(r, 3, *allergens).unwrap();
        }
        workbook.save(&path).unwrap();
        path
    };
    let good = write(
        "menu.xlsx",
        &[
            ("булочка с маком", Some(32.5), "", ""),
            ("Сок яблочный", Some(45.0), "", ""),
            (
                "Кекс творожный",
                Some(38.9),
                "выпечка",
                "milk, eggs, gluten",
            ),
        ],
    );
    let checked = run(
        &mut ws,
        json!({"type": "import_day_menu", "path": good, "date": day.to_string(), "dry_run": true}),
        at(day, 7, 10),
    );
    assert_eq!(
        (&checked["ok"], &checked["written"], &checked["items"]),
        (&json!(true), &json!(false), &json!(3))
    );
    assert_eq!(
        run(&mut ws, json!({"type": "day_menu"}), at(day, 7, 10))["items"],
        json!([])
    );
    let imported = run(
        &mut ws,
        json!({"type": "import_day_menu", "path": good, "date": day.to_string()}),
        at(day, 7, 11),
    );
    assert_eq!(imported["products_created"], 1, "{imported}");
    let menu = run(&mut ws, json!({"type": "day_menu"}), at(day, 7, 12));
    let mut prices: Vec<(String, i64)> = menu["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["name"].as_str().unwrap().to_owned(),
                i["price"].as_i64().unwrap(),
            )
        })
        .collect();
    prices.sort();
    assert_eq!(
        prices,
        [
            ("Булочка с маком".to_owned(), 3_250),
            ("Кекс творожный".to_owned(), 3_890),
            ("Сок яблочный".to_owned(), 4_500),
        ]
    );

    let bad = write(
        "bad.xlsx",
        &[
            ("Булочка с маком", None, "", ""),
            ("Неизвестное", Some(10.0), "", ""),
        ],
    );
    let refused = run(
        &mut ws,
        json!({"type": "import_day_menu", "path": bad, "date": "2026-09-03"}),
        at(day, 7, 13),
    );
    assert_eq!(refused["ok"], false);
    let codes: Vec<(i64, &str)> = refused["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["row"].as_i64().unwrap(), i["code"].as_str().unwrap()))
        .collect();
    assert_eq!(codes, [(3, "bad_price")]);
    let unknown = write("unknown.xlsx", &[("Неизвестное", Some(10.0), "", "")]);
    let refused = run(
        &mut ws,
        json!({"type": "import_day_menu", "path": unknown, "date": "2026-09-03"}),
        at(day, 7, 13),
    );
    assert_eq!(refused["issues"][0]["code"], "needs_category");
    let menu = run(
        &mut ws,
        json!({"type": "day_menu", "date": "2026-09-03"}),
        at(day, 7, 14),
    );
    assert_eq!(menu["items"], json!([]));
}
