//! The canteen (issue 5): a sale at the till committed with fsync, and the meal order at
//! the cut-off for a school of 2,000 pupils.
//!
//! - *sale*: `SellBasket` through `Workstation::execute`, as the till sends it: the pupil
//!   identified, the day's menu, bans, limit and balance read, the rules decided, the
//!   `sale_made` event appended with its projections and committed (WAL,
//!   `synchronous=FULL`), the answer built; timed from the call to its return.
//! - *order*: `MakeMealOrder` at 09:31 on each of ten school days (every pupil's
//!   entitlement, who came in through the gate by the cut-off, the pre-orders, the event
//!   with all its lines committed), and `MealOrderForecast` (the same computation, no
//!   write) repeated on each day.

use super::latency::Latency;
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc, Weekday};
use schoolcard_core::demo;
use schoolcard_core::domain::{ClassId, FullName, PersonId, PersonKind};
use schoolcard_core::error::StoreError;
use schoolcard_core::events::{EventBody, PassOutcome, PersonDetails, Verification};
use schoolcard_core::peripherals::Direction;
use schoolcard_core::workstation::Command;
use schoolcard_core::{Store, Workstation};
use schoolcard_tests::money::Choices;
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

/// Pupils in the school the order is computed for (the 2,000).
const PUPILS: usize = 2_000;
/// The goals: a sale's p99, and the order at the cut-off.
const SALE_P99_GOAL_MS: f64 = 10.0;
const ORDER_GOAL_MS: f64 = 50.0;
/// Sales timed, after untimed ones.
const SALES: usize = 1_000;
const SALES_WARMUP: usize = 50;
/// School days with an order made, and forecasts timed per day.
const ORDER_DAYS: usize = 10;
const FORECASTS_PER_DAY: usize = 5;
/// Pupils who come in on a day, in percent.
const ATTENDANCE_PERCENT: u64 = 92;
/// A seed for the bench's choices: the same every run.
const CHOICE_SEED: u64 = 0xCA27_EE17;

/// Monday 14 September 2026, 06:00 in Moscow: the first of the bench's school days.
fn first_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 9, 14).expect("a valid date")
}

use schoolcard_tests::money::moscow as at;

/// The school days from [`first_day`]: Monday to Friday.
fn school_days(n: usize) -> Vec<NaiveDate> {
    first_day()
        .iter_days()
        .filter(|d| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun))
        .take(n)
        .collect()
}
/// The demo school (with its canteen) grown to [`PUPILS`] pupils, and who came in on
/// each school day. Returns the pupils' ids.
fn build_school(path: &Path) -> Vec<String> {
    let mut store = Store::open(path).expect("the bench's store opens");
    demo::generate(
        &mut store,
        demo::DEMO_SEED,
        at(first_day(), 6, 0) - Duration::days(1),
        &|_| {},
    )
    .expect("the demo school is generated");
    let pupils = |store: &Store| -> Vec<String> {
        let mut st = store
            .conn()
            .prepare(
                "SELECT id FROM persons WHERE kind = 'pupil' AND status = 'active' ORDER BY id",
            )
            .unwrap();
        let ids = st.query_map([], |r| r.get(0)).unwrap();
        ids.map(Result::unwrap).collect()
    };
    let classes: Vec<ClassId> = {
        let mut st = store
            .conn()
            .prepare("SELECT id FROM classes WHERE archived = 0 ORDER BY grade, letter")
            .unwrap();
        let ids = st.query_map([], |r| r.get::<_, String>(0)).unwrap();
        ids.map(|id| id.unwrap().parse().unwrap()).collect()
    };
    let extra = PUPILS.saturating_sub(pupils(&store).len());
    let actor = format!("device:{}", store.device());
    let enrolled_at = at(first_day(), 6, 0) - Duration::days(1);
    store
        .write(|w| {
            for i in 0..extra {
                w.append(
                    &actor,
                    enrolled_at,
                    EventBody::PersonEnrolled {
                        person_id: PersonId::new_v7(),
                        person_kind: PersonKind::Pupil,
                        name: FullName {
                            surname: format!("Учеников{i}"),
                            name: "Иван".into(),
                            patronymic: String::new(),
                        },
                        class_id: Some(classes[i % classes.len()]),
                        details: PersonDetails::default(),
                    },
                )?;
            }
            Ok::<(), StoreError>(())
        })
        .expect("the extra pupils are written");
    let all = pupils(&store);
    assert_eq!(all.len(), PUPILS, "the school has its pupils");
    // Who came in, each school day, between 07:20 and 09:20 (a few after the cut-off).
    let mut choices = Choices(CHOICE_SEED);
    for day in school_days(ORDER_DAYS) {
        store
            .write(|w| {
                for pupil in &all {
                    if choices.draw() % 100 >= ATTENDANCE_PERCENT {
                        continue;
                    }
                    let when = at(day, 7, 20) + Duration::seconds((choices.draw() % 7_800) as i64);
                    w.append(
                        &actor,
                        when,
                        EventBody::Passage {
                            passage_id: uuid::Uuid::now_v7(),
                            card: None,
                            raw: String::new(),
                            person_id: Some(pupil.parse().unwrap()),
                            reader_id: None,
                            gate_id: None,
                            direction: Direction::Entry,
                            school_date: day,
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
                Ok::<(), StoreError>(())
            })
            .expect("the day's passages are written");
    }
    all
}

fn run(ws: &mut Workstation, command: Value, now: DateTime<Utc>) -> Value {
    let parsed: Command = serde_json::from_value(command.clone()).expect("a command");
    ws.execute(parsed, now, &|_| {})
        .unwrap_or_else(|e| panic!("{command}: {e}"))
}

fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

fn elapsed_ns(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

struct Figures {
    sales: Latency,
    refused: usize,
    order: Latency,
    forecast: Latency,
    ordered_portions: i64,
    entitled_pupils: i64,
}

fn measure(path: &Path, pupils: &[String], scale: usize) -> Figures {
    let mut ws = Workstation::open(path).expect("the workstation opens");
    let days = school_days(ORDER_DAYS);
    run(
        &mut ws,
        json!({"type": "sign_in_password", "login": "admin", "password": demo::DEMO_PASSWORD}),
        at(days[0], 7, 0),
    );

    // The orders: at 09:31 each day; forecasts beside them.
    let mut order_ns = Vec::new();
    let mut forecast_ns = Vec::new();
    let mut ordered_portions = 0;
    for day in &days {
        let date = day.to_string();
        for _ in 0..FORECASTS_PER_DAY {
            let started = Instant::now();
            run(
                &mut ws,
                json!({"type": "meal_order_forecast", "date": date}),
                at(*day, 9, 31),
            );
            forecast_ns.push(elapsed_ns(started));
        }
        let started = Instant::now();
        let made = run(
            &mut ws,
            json!({"type": "make_meal_order", "date": date}),
            at(*day, 9, 31),
        );
        order_ns.push(elapsed_ns(started));
        ordered_portions += made["lines"]
            .as_array()
            .expect("the order's lines")
            .iter()
            .map(|l| l["ordered"].as_i64().unwrap_or(0))
            .sum::<i64>();
    }
    let entitled_pupils: i64 = ws
        .store()
        .conn()
        .query_row(
            "SELECT count(DISTINCT person_id) FROM meal_order_pupils WHERE school_date = ?1",
            [days[0].to_string()],
            |r| r.get(0),
        )
        .unwrap();

    // The sales, on the first day from noon: every product of the catalogue on the menu,
    // the pupils topped up; a pupil whose parents banned the chosen product is refused
    // (not a sale: not timed).
    let sale_day = days[0];
    let catalogue = run(
        &mut ws,
        json!({"type": "canteen_catalogue"}),
        at(sale_day, 11, 0),
    );
    let products: Vec<(String, i64)> = catalogue["products"]
        .as_array()
        .expect("the catalogue's products")
        .iter()
        .map(|p| {
            (
                p["product_id"].as_str().unwrap().to_owned(),
                p["price"].as_i64().unwrap(),
            )
        })
        .collect();
    let menu: Vec<Value> = products
        .iter()
        .map(|(id, price)| json!({"product_id": id, "price": price}))
        .collect();
    run(
        &mut ws,
        json!({"type": "set_day_menu", "date": sale_day.to_string(), "items": menu}),
        at(sale_day, 11, 0),
    );
    let buyers = &pupils[..pupils.len().min(SALES)];
    for pupil in buyers {
        run(
            &mut ws,
            json!({"type": "top_up_balance", "person_id": pupil, "amount": 500_000}),
            at(sale_day, 11, 5),
        );
    }
    let mut choices = Choices(CHOICE_SEED ^ 0x5A1E);
    let mut sale_ns = Vec::new();
    let mut refused = 0;
    let samples = SALES / scale;
    for k in 0..SALES_WARMUP + samples {
        let pupil = &buyers[(choices.draw() as usize) % buyers.len()];
        let (product, _) = &products[(choices.draw() as usize) % products.len()];
        let now = at(sale_day, 12, 0) + Duration::milliseconds(k as i64 * 1_500);
        let command = json!({"type": "sell_basket", "sale_id": uuid::Uuid::now_v7(),
                             "person_id": pupil, "basket": [{"product_id": product, "quantity": 1}]});
        let started = Instant::now();
        let answer = run(&mut ws, command, now);
        let took = elapsed_ns(started);
        if answer["ok"] != true {
            refused += 1;
            continue;
        }
        if k >= SALES_WARMUP {
            sale_ns.push(took);
        }
    }
    Figures {
        sales: Latency::of(sale_ns),
        refused,
        order: Latency::of(order_ns),
        forecast: Latency::of(forecast_ns),
        ordered_portions,
        entitled_pupils,
    }
}

pub fn section(dir: &Path, scale: usize) -> String {
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned());
    let path = dir.join("canteen-school.sqlite");
    let built = Instant::now();
    let pupils = build_school(&path);
    let built = built.elapsed();
    let f = measure(&path, &pupils, scale);
    let sale_ok = ms(f.sales.p99_ns) <= SALE_P99_GOAL_MS;
    let order_ok = ms(f.order.max_ns) <= ORDER_GOAL_MS;
    println!(
        "canteen: sale p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms over {} sales ({} refused by the rules, untimed); order at the cut-off p50 {:.1} ms, max {:.1} ms over {} days; forecast p50 {:.1} ms",
        ms(f.sales.p50_ns),
        ms(f.sales.p99_ns),
        ms(f.sales.max_ns),
        f.sales.samples,
        f.refused,
        ms(f.order.p50_ns),
        ms(f.order.max_ns),
        f.order.samples,
        ms(f.forecast.p50_ns),
    );
    let mut out = String::new();
    writeln!(out, "## The canteen (issue 5)\n").unwrap();
    writeln!(out, "A release build, on the demo school (its canteen: products, complexes, benefit categories and grants) grown to {PUPILS} pupils, with {ATTENDANCE_PERCENT} % of them coming in through the gate between 07:20 and 09:30 on each of {ORDER_DAYS} school days from Monday 14 September 2026 (passages journaled beforehand; the school built in {:.1} s). One `Workstation` on the file, WAL with `synchronous=FULL`, as the till's. Load average when the measurements began: {load}.\n", built.as_secs_f64()).unwrap();
    writeln!(out, "*Sale*: `SellBasket` of one product through `Workstation::execute`, timed from the call to its return: the pupil, the day's menu, the parents' bans, the daily limit and the balance read, the rules decided, the `sale_made` event appended with its projections and committed with fsync, the answer (with the new balance) built. {} pupils topped up, every product of the catalogue on the day's menu, a pupil and a product chosen at random per sale, {SALES_WARMUP} untimed sales first; a sale the rules refuse (the pupil's parents banned that product: {} of them) writes nothing and is not timed. *Order*: `MakeMealOrder` at 09:31 on each day — every pupil's entitlement (grades 1–4 by rule, benefit grants by date), who came in by the cut-off, the pre-orders, the `meal_order_made` event with every line and pupil, committed — {} portions ordered over the {ORDER_DAYS} days ({} pupils on the first day's order); *forecast*: `MealOrderForecast`, the same computation without the write, {FORECASTS_PER_DAY} times a day.\n", SALES.min(pupils.len()), f.refused, f.ordered_portions, f.entitled_pupils).unwrap();
    writeln!(out, "| operation | samples | p50 | p99 | max | goal |").unwrap();
    writeln!(out, "|---|---:|---:|---:|---:|---|").unwrap();
    writeln!(
        out,
        "| a sale at the till, committed with fsync | {} | {:.2} ms | {:.2} ms | {:.2} ms | p99 ≤ {SALE_P99_GOAL_MS:.0} ms {} |",
        f.sales.samples,
        ms(f.sales.p50_ns),
        ms(f.sales.p99_ns),
        ms(f.sales.max_ns),
        super::tick(sale_ok),
    )
    .unwrap();
    writeln!(
        out,
        "| the meal order at the cut-off, {PUPILS} pupils, committed | {} | {:.1} ms | {:.1} ms | {:.1} ms | every day ≤ {ORDER_GOAL_MS:.0} ms {} |",
        f.order.samples,
        ms(f.order.p50_ns),
        ms(f.order.p99_ns),
        ms(f.order.max_ns),
        super::tick(order_ok),
    )
    .unwrap();
    writeln!(
        out,
        "| the order's forecast (no write) | {} | {:.1} ms | {:.1} ms | {:.1} ms | |",
        f.forecast.samples,
        ms(f.forecast.p50_ns),
        ms(f.forecast.p99_ns),
        ms(f.forecast.max_ns),
    )
    .unwrap();
    out
}
