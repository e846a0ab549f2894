//! The director's documents (issue 9): the monthly attendance register (табель) of the
//! demo school's ~900 pupils, built from a month of passages and rendered to PDF and to
//! XLSX — each timed from the query to the bytes, as `export_report` does it on its own
//! read-only connection.

use super::latency::Latency;
use chrono::{Datelike, Duration, NaiveDate, Weekday};
use schoolcard_core::demo;
use schoolcard_core::director::{self, reports, ReportKind, ReportQuery};
use schoolcard_core::error::StoreError;
use schoolcard_core::peripherals::Direction;
use schoolcard_core::Store;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

/// The goal: the month's register as PDF, and as XLSX, each within this.
const REGISTER_GOAL_MS: f64 = 500.0;
/// Timed runs per format, after an untimed one.
const RUNS: usize = 10;
/// Pupils who come in on a school day, and who of them come late, in percent.
const ATTENDANCE_PERCENT: u64 = 92;
const LATE_PERCENT: u64 = 6;
/// A seed for the bench's choices: the same every run.
const CHOICE_SEED: u64 = 0xD12E_C70B;

use schoolcard_tests::money::{confirmed_passage, moscow as at, Choices};

fn september() -> (NaiveDate, NaiveDate) {
    (
        NaiveDate::from_ymd_opt(2026, 9, 1).expect("a valid date"),
        NaiveDate::from_ymd_opt(2026, 9, 30).expect("a valid date"),
    )
}

/// The demo school and its September: an entry for most pupils each school day (grades
/// 1–4 Monday to Friday, 5–11 to Saturday), some late, a third leaving in the afternoon.
/// Returns the pupils and the passages written.
fn build_month(path: &Path) -> (usize, usize) {
    let (from, to) = september();
    let mut store = Store::open(path).expect("the bench's store opens");
    demo::generate(
        &mut store,
        demo::DEMO_SEED,
        at(from, 6, 0) - Duration::days(1),
        &|_| {},
    )
    .expect("the demo school is generated");
    let pupils: Vec<(String, u8)> = {
        let mut st = store
            .conn()
            .prepare(
                "SELECT p.id, c.grade FROM persons p JOIN classes c ON c.id = p.class_id
                 WHERE p.kind = 'pupil' AND p.status = 'active' ORDER BY p.id",
            )
            .expect("a query");
        let rows = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("the pupils");
        rows.map(|r| r.expect("a pupil")).collect()
    };
    let actor = format!("device:{}", store.device());
    let mut choices = Choices(CHOICE_SEED);
    let mut written = 0usize;
    for day in from.iter_days().take_while(|d| *d <= to) {
        if day.weekday() == Weekday::Sun {
            continue;
        }
        store
            .write(|w| {
                for (pupil, grade) in &pupils {
                    let off = day.weekday() == Weekday::Sat && *grade < 5;
                    if off || choices.draw() % 100 >= ATTENDANCE_PERCENT {
                        continue;
                    }
                    let when = if choices.draw() % 100 < LATE_PERCENT {
                        at(day, 8, 40) + Duration::seconds((choices.draw() % 3_600) as i64)
                    } else {
                        at(day, 7, 30) + Duration::seconds((choices.draw() % 3_000) as i64)
                    };
                    w.append(
                        &actor,
                        when,
                        confirmed_passage(pupil, day, when, Direction::Entry),
                    )?;
                    written += 1;
                    if choices.draw().is_multiple_of(3) {
                        let out =
                            at(day, 14, 0) + Duration::seconds((choices.draw() % 7_200) as i64);
                        w.append(
                            &actor,
                            out,
                            confirmed_passage(pupil, day, out, Direction::Exit),
                        )?;
                        written += 1;
                    }
                }
                Ok::<(), StoreError>(())
            })
            .expect("the day's passages are written");
    }
    (pupils.len(), written)
}

fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

/// Times the register built and rendered by `render`, [`RUNS`] times after one untimed.
fn time_register(
    path: &Path,
    scale: usize,
    render: &dyn Fn(&reports::Document) -> usize,
) -> (Latency, usize, usize) {
    let (from, to) = september();
    let made_at = at(NaiveDate::from_ymd_opt(2026, 10, 1).expect("a date"), 12, 0);
    let runs = (RUNS / scale).max(2);
    let mut samples = Vec::with_capacity(runs);
    let (mut rows, mut bytes) = (0, 0);
    for run in 0..=runs {
        let started = Instant::now();
        let conn = director::open_read_only(path).expect("a read-only connection");
        let query = ReportQuery::for_school(&conn, from, to, None, made_at).expect("the query");
        let document = director::build(&conn, ReportKind::AttendanceRegister, &query)
            .expect("the register is built");
        bytes = render(&document);
        let ns = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        rows = document.rows().len();
        if run > 0 {
            samples.push(ns);
        }
    }
    (Latency::of(samples), rows, bytes)
}

pub fn section(dir: &Path, scale: usize) -> String {
    let path = dir.join("director-school.sqlite");
    let built = Instant::now();
    let (pupils, passages) = build_month(&path);
    let built = built.elapsed();
    let (pdf, rows, pdf_bytes) = time_register(&path, scale, &|d| {
        reports::to_pdf_bytes(d).expect("the PDF").len()
    });
    let (xlsx, _, xlsx_bytes) = time_register(&path, scale, &|d| {
        reports::to_xlsx_bytes(d).expect("the XLSX").len()
    });
    println!(
        "director: the month's register of {pupils} pupils, PDF p50 {:.1} ms, XLSX p50 {:.1} ms",
        ms(pdf.p50_ns),
        ms(xlsx.p50_ns)
    );
    let mut out = String::new();
    writeln!(out, "## The director's documents (issue 9)\n").unwrap();
    writeln!(out, "A release build, on the demo school ({pupils} pupils) with September 2026 written as {passages} confirmed passages (the school and its month built in {:.1} s). Each run opens a read-only connection, builds the attendance register (табель) of the whole school for the month with `director::build` (the access rules, one read of the month's passages and corrections, every pupil's every day by the attendance rules; {rows} rows) and renders it, as `export_report` does before writing the file. One untimed run first.\n", built.as_secs_f64()).unwrap();
    writeln!(out, "| document | runs | p50 | max | size | goal |").unwrap();
    writeln!(out, "|---|---:|---:|---:|---:|---|").unwrap();
    for (what, l, size) in [
        ("the month's register as PDF", &pdf, pdf_bytes),
        ("the month's register as XLSX", &xlsx, xlsx_bytes),
    ] {
        writeln!(
            out,
            "| {what} | {} | {:.1} ms | {:.1} ms | {} KiB | ≤ {REGISTER_GOAL_MS:.0} ms {} |",
            l.samples,
            ms(l.p50_ns),
            ms(l.max_ns),
            size / 1024,
            super::tick(ms(l.max_ns) <= REGISTER_GOAL_MS),
        )
        .unwrap();
    }
    out
}
