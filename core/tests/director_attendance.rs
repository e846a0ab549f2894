//! The director's attendance documents over a generated school month: the demo school,
//! September 2026 with most pupils coming in each school day (some late, some leaving in
//! the afternoon), one admin's correction. The register's marks and totals must be what
//! the guard screen's `day_attendance` says day by day, in the document, its PDF (text and
//! a first page as an image) and its XLSX read back.

use calamine::{Data, Reader, Xlsx};
use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};
use schoolcard_core::access::CorrectedMark;
use schoolcard_core::demo;
use schoolcard_core::director::attendance::short_name;
use schoolcard_core::director::{self, ReportKind, ReportQuery};
use schoolcard_core::error::StoreError;
use schoolcard_core::events::{EventBody, PassOutcome, Verification};
use schoolcard_core::peripherals::Direction;
use schoolcard_core::{Command, Store, Workstation};
use schoolcard_reports::{Cell, Document};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::Path;

/// Pupils who come in on a school day, and who of them come late, in percent.
const ATTENDANCE_PERCENT: u64 = 90;
const LATE_PERCENT: u64 = 8;
/// A seed for the month's choices: the same every run.
const CHOICE_SEED: u64 = 0xD1_2EC7;

/// `hh:mm` in Moscow on `day`.
fn at(day: NaiveDate, hh: u32, mm: u32) -> DateTime<Utc> {
    chrono::FixedOffset::east_opt(3 * 3600)
        .unwrap()
        .from_local_datetime(&day.and_hms_opt(hh, mm, 0).unwrap())
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

fn september() -> (NaiveDate, NaiveDate) {
    (
        NaiveDate::from_ymd_opt(2026, 9, 1).unwrap(),
        NaiveDate::from_ymd_opt(2026, 9, 30).unwrap(),
    )
}

/// The report is made on 1 October at noon: the whole month has passed.
fn made_at() -> DateTime<Utc> {
    at(NaiveDate::from_ymd_opt(2026, 10, 1).unwrap(), 12, 0)
}

/// The month's school days by the default calendar: Monday to Saturday (grades 5–11
/// study six days a week, grades 1–4 five).
fn school_days() -> Vec<NaiveDate> {
    let (from, to) = september();
    from.iter_days()
        .take_while(|d| *d <= to)
        .filter(|d| d.weekday() != Weekday::Sun)
        .collect()
}

/// SplitMix64.
struct Choices(u64);

impl Choices {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

fn passage(person: &str, day: NaiveDate, when: DateTime<Utc>, direction: Direction) -> EventBody {
    EventBody::Passage {
        passage_id: uuid::Uuid::now_v7(),
        card: None,
        raw: String::new(),
        person_id: Some(person.parse().unwrap()),
        reader_id: None,
        gate_id: None,
        direction,
        school_date: day,
        decided_at: when,
        allowed: true,
        reason: "allowed".into(),
        flags: Vec::new(),
        verified_by: Verification::Automatic,
        outcome: PassOutcome::Passed,
        note: String::new(),
    }
}

/// The demo school and its September. Returns the pupil whose day was corrected, and
/// the day.
fn build_month(path: &Path) -> (String, NaiveDate) {
    let (from, _) = september();
    let mut store = Store::open(path).unwrap();
    demo::generate(
        &mut store,
        demo::DEMO_SEED,
        at(from, 6, 0) - Duration::days(1),
        &|_| {},
    )
    .unwrap();
    let pupils: Vec<(String, u8)> = {
        let mut st = store
            .conn()
            .prepare(
                "SELECT p.id, c.grade FROM persons p JOIN classes c ON c.id = p.class_id
                 WHERE p.kind = 'pupil' AND p.status = 'active' ORDER BY p.id",
            )
            .unwrap();
        let ids = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
        ids.map(Result::unwrap).collect()
    };
    assert!(pupils.len() > 500, "the demo school is a school");
    let actor = format!("device:{}", store.device());
    let mut choices = Choices(CHOICE_SEED);
    for day in school_days() {
        store
            .write(|w| {
                for (pupil, grade) in &pupils {
                    let saturday_off = day.weekday() == Weekday::Sat && *grade < 5;
                    if choices.next() % 100 >= ATTENDANCE_PERCENT || saturday_off {
                        continue;
                    }
                    // On time 07:30–08:20; late 08:50–10:30 (the first lesson is at 08:30).
                    let when = if choices.next() % 100 < LATE_PERCENT {
                        at(day, 8, 50) + Duration::seconds((choices.next() % 6_000) as i64)
                    } else {
                        at(day, 7, 30) + Duration::seconds((choices.next() % 3_000) as i64)
                    };
                    w.append(&actor, when, passage(pupil, day, when, Direction::Entry))?;
                    if choices.next().is_multiple_of(3) {
                        let out =
                            at(day, 14, 0) + Duration::seconds((choices.next() % 7_200) as i64);
                        w.append(&actor, out, passage(pupil, day, out, Direction::Exit))?;
                    }
                }
                Ok::<(), StoreError>(())
            })
            .unwrap();
    }
    // An admin excuses one pupil's day (a doctor's note).
    let excused = (pupils[0].0.clone(), school_days()[3]);
    store
        .write(|w| {
            w.append(
                "test",
                made_at(),
                EventBody::AttendanceCorrected {
                    person_id: excused.0.parse().unwrap(),
                    school_date: excused.1,
                    mark: CorrectedMark::Excused,
                    reason: "справка от врача".into(),
                },
            )
        })
        .unwrap();
    excused
}

fn signed_in_director(path: &Path) -> Workstation {
    let mut ws = Workstation::open(path).unwrap();
    ws.execute(
        Command::SignInPassword {
            login: "director".into(),
            password: demo::DEMO_PASSWORD.into(),
        },
        made_at(),
        &|_| {},
    )
    .unwrap();
    ws
}

fn day_attendance(ws: &mut Workstation, day: NaiveDate, class_id: Option<&str>) -> Value {
    let mut command = json!({"type": "day_attendance", "date": day.to_string()});
    if let Some(class_id) = class_id {
        command["class_id"] = json!(class_id);
    }
    ws.execute(serde_json::from_value(command).unwrap(), made_at(), &|_| {})
        .unwrap()
}

/// The column index with this title.
fn column(document: &Document, title: &str) -> usize {
    document
        .columns()
        .iter()
        .position(|c| c.title == title)
        .unwrap_or_else(|| panic!("no column {title}"))
}

fn integer(cell: &Cell) -> i64 {
    match cell {
        Cell::Integer(n) => *n,
        other => panic!("not a number: {other:?}"),
    }
}

#[test]
fn the_register_of_a_month_says_what_the_guard_screen_says_each_day() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("school.sqlite");
    let (excused_pupil, excused_day) = build_month(&path);
    let mut ws = signed_in_director(&path);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let (from, to) = september();
    let query = ReportQuery::for_school(&conn, from, to, None, made_at()).unwrap();
    let started = std::time::Instant::now();
    let register = director::build(&conn, ReportKind::AttendanceRegister, &query).unwrap();
    let built_ms = started.elapsed().as_secs_f64() * 1e3;

    // One column per school day, headed by its day of the month.
    let days = school_days();
    let day_columns: Vec<usize> = days
        .iter()
        .map(|d| column(&register, &d.format("%d").to_string()))
        .collect();
    assert_eq!(
        register.columns().len(),
        2 + days.len() + 3,
        "no Sunday columns"
    );
    assert!(
        register.columns().iter().all(|c| c.title != "06"),
        "6 September is a Sunday"
    );

    // The whole school's totals are the sums of `day_attendance` over the days.
    let (mut present, mut late, mut absent) = (0i64, 0i64, 0i64);
    for day in &days {
        let answer = day_attendance(&mut ws, *day, None);
        for class in answer["classes"].as_array().unwrap() {
            let n = |field: &str| class[field].as_i64().unwrap();
            present += n("present");
            late += n("late");
            absent += n("absent") + n("excused");
        }
    }
    let totals = register.totals().unwrap();
    let (p, l, a) = (
        column(&register, "Присут."),
        column(&register, "Опозд."),
        column(&register, "Отсут."),
    );
    assert_eq!(
        (
            integer(&totals[p]),
            integer(&totals[l]),
            integer(&totals[a])
        ),
        (present, late, absent)
    );
    assert!(late > 0 && absent > 0, "the month has late and absent days");
    // Each pupil's totals add up to their school days, and the rows to the totals row.
    let mut sums = [0i64; 3];
    for row in register.rows() {
        let (rp, rl, ra) = (integer(&row[p]), integer(&row[l]), integer(&row[a]));
        let no_lessons = row.iter().filter(|c| **c == Cell::text("—")).count() as i64;
        assert_eq!(rp + ra + no_lessons, days.len() as i64, "{row:?}");
        assert!(rl <= rp);
        sums[0] += rp;
        sums[1] += rl;
        sums[2] += ra;
    }
    assert_eq!(sums, [present, late, absent]);

    // Every pupil of one class, every day: the mark is the day's attendance.
    let class_id: String = conn
        .query_row(
            "SELECT class_id FROM persons WHERE id = ?1",
            [&excused_pupil],
            |r| r.get(0),
        )
        .unwrap();
    let names: HashMap<String, String> = {
        let first = day_attendance(&mut ws, days[0], Some(&class_id));
        first["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let name = short_name(r["full_name"].as_str().unwrap());
                (name, r["person_id"].as_str().unwrap().to_owned())
            })
            .collect()
    };
    let class_rows: Vec<&Vec<Cell>> = register
        .rows()
        .iter()
        .filter(|row| matches!(&row[1], Cell::Text(name) if names.contains_key(name)))
        .collect();
    assert_eq!(
        class_rows.len(),
        names.len(),
        "the class's pupils are in the register, once each"
    );
    let mut marks_seen: HashMap<&str, usize> = HashMap::new();
    for (day, &col) in days.iter().zip(&day_columns) {
        let answer = day_attendance(&mut ws, *day, Some(&class_id));
        for pupil in answer["rows"].as_array().unwrap() {
            let row = class_rows
                .iter()
                .find(|row| row[1] == Cell::text(short_name(pupil["full_name"].as_str().unwrap())))
                .unwrap();
            let expected = match (
                pupil["presence"].as_str().unwrap(),
                pupil["late"].as_bool().unwrap(),
            ) {
                ("present", true) => Cell::text("о"),
                ("present", false) => Cell::Empty,
                ("absent", _) => Cell::text("н"),
                ("excused", _) => Cell::text("у"),
                ("no_lessons", _) => Cell::text("—"),
                other => panic!("{other:?} on a school day"),
            };
            assert_eq!(row[col], expected, "{} on {day}", pupil["full_name"]);
            let key = match &expected {
                Cell::Text(t) if t == "о" => "late",
                Cell::Text(t) if t == "н" => "absent",
                Cell::Text(t) if t == "у" => "excused",
                Cell::Text(_) => "no_lessons",
                _ => "present",
            };
            *marks_seen.entry(key).or_default() += 1;
            if pupil["person_id"] == excused_pupil.as_str() && *day == excused_day {
                assert_eq!(expected, Cell::text("у"), "the correction wins");
            }
        }
    }
    for mark in ["present", "late", "absent", "excused"] {
        assert!(
            marks_seen.contains_key(mark),
            "the class shows {mark}: {marks_seen:?}"
        );
    }

    // The PDF: the school, the month, a pupil, page numbers.
    let started = std::time::Instant::now();
    let pdf = schoolcard_reports::to_pdf_bytes(&register).unwrap();
    let pdf_ms = started.elapsed().as_secs_f64() * 1e3;
    let pdf_path = dir.path().join("register.pdf");
    std::fs::write(&pdf_path, &pdf).unwrap();
    let text = run("pdftotext", &["-layout", pdf_path.to_str().unwrap(), "-"]);
    let surname = excused_name(&names, &excused_pupil);
    for needle in [
        query.school.as_str(),
        "сентябрь 2026",
        "Табель посещаемости",
        surname.as_str(),
        "стр. 1 из",
    ] {
        assert!(text.contains(needle), "the PDF has {needle:?}");
    }
    let png_prefix = dir.path().join("page");
    run(
        "pdftoppm",
        &[
            "-r",
            "50",
            "-png",
            "-f",
            "1",
            "-l",
            "1",
            pdf_path.to_str().unwrap(),
            png_prefix.to_str().unwrap(),
        ],
    );
    let png = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "png"))
        .expect("the first page as an image");
    assert!(std::fs::metadata(&png).unwrap().len() > 1_000);
    if let Ok(keep) = std::env::var("SCHOOLCARD_KEEP_REPORTS") {
        std::fs::copy(&pdf_path, Path::new(&keep).join("register.pdf")).unwrap();
        std::fs::copy(&png, Path::new(&keep).join("register-page1.png")).unwrap();
    }

    // The XLSX read back: the totals row holds the same counts.
    let started = std::time::Instant::now();
    let xlsx = schoolcard_reports::to_xlsx_bytes(&register).unwrap();
    let xlsx_ms = started.elapsed().as_secs_f64() * 1e3;
    // For a look at the cost (the bench's `director` group measures it properly).
    eprintln!(
        "register of {} pupils: built {built_ms:.0} ms, PDF {pdf_ms:.0} ms, XLSX {xlsx_ms:.0} ms",
        register.rows().len()
    );
    let mut workbook: Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(xlsx)).unwrap();
    let sheet = workbook.worksheet_range_at(0).unwrap().unwrap();
    let total_row = sheet
        .rows()
        .find(|row| matches!(&row[1], Data::String(s) if s.starts_with("Итого")))
        .expect("a totals row");
    let number = |cell: &Data| match cell {
        Data::Float(f) => *f as i64,
        Data::Int(i) => *i,
        other => panic!("not a number: {other:?}"),
    };
    assert_eq!(
        (
            number(&total_row[p]),
            number(&total_row[l]),
            number(&total_row[a])
        ),
        (present, late, absent)
    );
}

fn excused_name(names: &HashMap<String, String>, id: &str) -> String {
    let full = names.iter().find(|(_, v)| *v == id).unwrap().0;
    full.split_whitespace().next().unwrap().to_owned()
}

fn run(program: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} (poppler-utils): {e}"));
    assert!(
        out.status.success(),
        "{program}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn late_arrivals_and_the_guard_exceptions_of_a_month() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("school.sqlite");
    build_month(&path);
    let mut ws = signed_in_director(&path);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let (from, to) = september();
    let query = ReportQuery::for_school(&conn, from, to, None, made_at()).unwrap();
    let lateness = director::build(&conn, ReportKind::Lateness, &query).unwrap();
    let late: i64 = school_days()
        .iter()
        .map(|day| {
            let answer = day_attendance(&mut ws, *day, None);
            answer["classes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["late"].as_i64().unwrap())
                .sum::<i64>()
        })
        .sum();
    assert_eq!(lateness.rows().len() as i64, late);
    for row in lateness.rows() {
        let minutes = integer(&row[4]);
        assert!(
            (20..=120).contains(&minutes),
            "late by {minutes} minutes: {row:?}"
        );
        assert!(
            matches!(&row[3], Cell::Text(t) if t.as_str() >= "08:50" && t.as_str() <= "10:30"),
            "{row:?}"
        );
    }
    // Sorted by date.
    assert!(lateness
        .rows()
        .windows(2)
        .all(|w| match (&w[0][0], &w[1][0]) {
            (Cell::Date(a), Cell::Date(b)) => a <= b,
            _ => false,
        }));

    // Nothing exceptional was written this month but the demo's own history: the document
    // builds, and a period the other way round is refused.
    director::build(&conn, ReportKind::GuardExceptions, &query).unwrap();
    let backwards = ReportQuery {
        from: to,
        to: from,
        ..query.clone()
    };
    assert!(director::build(&conn, ReportKind::AttendanceRegister, &backwards).is_err());
    let too_long = ReportQuery {
        to: from + chrono::Duration::days(director::REPORT_PERIOD_DAYS_MAX),
        ..query.clone()
    };
    assert!(director::build(&conn, ReportKind::BuffetSales, &too_long).is_err());
    let evacuation = director::build(&conn, ReportKind::EvacuationList, &query).unwrap();
    assert_eq!(evacuation.title(), schoolcard_reports::EVACUATION_TITLE);
}

/// The longest a guard's passage may take to be written while the director's month's
/// register is being built on the same database (a debug build with `synchronous=FULL`
/// writes one in ~10 ms; a writer waiting for the builder would take its whole second).
const WRITE_BESIDE_A_REPORT_MS_MAX: u128 = 300;

#[test]
fn the_guards_passages_are_written_at_their_pace_while_the_register_is_built() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Instant;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("school.sqlite");
    build_month(&path);
    let (from, to) = september();
    let query = {
        let conn = director::open_read_only(&path).unwrap();
        ReportQuery::for_school(&conn, from, to, None, made_at()).unwrap()
    };

    // The director's export: the register built again and again on a read-only
    // connection of its own, each build's start and end noted.
    let stop = Arc::new(AtomicBool::new(false));
    let builds: Arc<Mutex<Vec<(Instant, Instant)>>> = Arc::default();
    let builder = {
        let (stop, builds, path) = (stop.clone(), builds.clone(), path.clone());
        std::thread::spawn(move || {
            let conn = director::open_read_only(&path).unwrap();
            while !stop.load(Ordering::SeqCst) {
                let started = Instant::now();
                let register =
                    director::build(&conn, ReportKind::AttendanceRegister, &query).unwrap();
                assert!(register.rows().len() > 500);
                builds.lock().unwrap().push((started, Instant::now()));
            }
        })
    };

    // The guard's post meanwhile: one passage per write, each timed.
    let mut store = Store::open(&path).unwrap();
    let pupil: String = store
        .conn()
        .query_row(
            "SELECT id FROM persons WHERE kind = 'pupil' ORDER BY id LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let actor = format!("device:{}", store.device());
    let day = NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
    let mut writes = Vec::new();
    let deadline = Instant::now() + std::time::Duration::from_secs(60);
    while builds.lock().unwrap().len() < 2 && Instant::now() < deadline {
        let when = at(day, 7, 30) + Duration::seconds(writes.len() as i64);
        let direction = if writes.len() % 2 == 0 {
            Direction::Entry
        } else {
            Direction::Exit
        };
        let started = Instant::now();
        store
            .write(|w| w.append(&actor, when, passage(&pupil, day, when, direction)))
            .unwrap();
        writes.push((started, started.elapsed().as_millis()));
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    stop.store(true, Ordering::SeqCst);
    builder.join().unwrap();

    let builds = builds.lock().unwrap();
    assert!(
        builds.len() >= 2,
        "the register was built {} times",
        builds.len()
    );
    let during: Vec<u128> = writes
        .iter()
        .filter(|(at, _)| builds.iter().any(|(s, e)| s <= at && at <= e))
        .map(|(_, ms)| *ms)
        .collect();
    assert!(
        during.len() >= 5,
        "only {} passages were written while a register was being built",
        during.len()
    );
    let slowest = during.iter().max().copied().unwrap_or_default();
    assert!(
        slowest <= WRITE_BESIDE_A_REPORT_MS_MAX,
        "a passage took {slowest} ms to write beside the register's build (at most {WRITE_BESIDE_A_REPORT_MS_MAX} ms): {during:?}"
    );
}
