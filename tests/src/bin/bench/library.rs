//! The library desk (issue 8): an issue and a return committed with fsync, and the
//! catalogue's search over 50,000 copies.
//!
//! - *issue* / *return*: `IssueBooks` (one copy, the reader picked) and `ReturnBook`
//!   through `Workstation::execute`, as the desk sends them: the reader and the copy
//!   read, the loan rules decided (age mark, limits, overdue), the event appended with
//!   its projections and committed (WAL, `synchronous=FULL`), the answer built.
//! - *search*: `SearchCatalogue` as the librarian types it — a word of a title, an
//!   author's surname, a whole ISBN, a copy's inventory number, and a word nothing has —
//!   each with the matching titles' copies and their states.

use super::latency::Latency;
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use schoolcard_core::demo;
use schoolcard_core::error::StoreError;
use schoolcard_core::events::EventBody;
use schoolcard_core::library::{AgeMark, BookCopy, BookTitle, Isbn, ItemType, TitleId};
use schoolcard_core::workstation::Command;
use schoolcard_core::{Store, Workstation};
use schoolcard_tests::money::Choices;
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

/// Copies in the catalogue searched (the issue's 50,000), and copies per added title.
const COPIES: usize = 50_000;
const COPIES_PER_TITLE: usize = 5;
/// The issue's goals: an issue's or a return's p99, and a search's.
const COMMIT_P99_GOAL_MS: f64 = 10.0;
const SEARCH_GOAL_MS: f64 = 20.0;
/// Issues (each followed by its return) timed, after untimed ones.
const LOANS: usize = 1_000;
const LOANS_WARMUP: usize = 50;
/// Searches timed per kind of query.
const SEARCHES_PER_KIND: usize = 100;
/// A seed for the bench's choices: the same every run.
const CHOICE_SEED: u64 = 0x11B2_A2E5;

/// Words the added titles are made of: «Тайна старого маяка», «Путешествие капитана …».
const FIRST: &[&str] = &[
    "Тайна",
    "Путешествие",
    "Приключения",
    "История",
    "Легенда",
    "Сказание",
    "Хроники",
    "Возвращение",
    "Остров",
    "Дорога",
];
const SECOND: &[&str] = &[
    "старого маяка",
    "капитана Немо",
    "северного ветра",
    "зелёной долины",
    "белого города",
    "последнего лета",
    "забытой крепости",
    "синего моря",
    "волшебного леса",
    "дальней звезды",
];
const SURNAMES: &[&str] = &[
    "Иванов",
    "Смирнов",
    "Кузнецов",
    "Попов",
    "Васильев",
    "Петров",
    "Соколов",
    "Михайлов",
    "Новиков",
    "Фёдоров",
    "Морозов",
    "Волков",
    "Алексеев",
    "Лебедев",
    "Семёнов",
    "Егоров",
];

/// Thursday 1 October 2026, `hh:mm` in Moscow.
fn at(hh: u32, mm: u32) -> DateTime<Utc> {
    let moscow = chrono::FixedOffset::east_opt(3 * 3600).expect("a valid offset");
    let day = NaiveDate::from_ymd_opt(2026, 10, 1).expect("a valid date");
    moscow
        .from_local_datetime(&day.and_hms_opt(hh, mm, 0).expect("a valid time"))
        .single()
        .expect("no gap in Moscow")
        .with_timezone(&Utc)
}
/// An ISBN of the Russian group that passes its check digit.
fn isbn(choices: &mut Choices) -> Isbn {
    let body = format!("9785{:08}", choices.draw() % 100_000_000);
    (0..10)
        .find_map(|check| Isbn::parse(&format!("{body}{check}")).ok())
        .expect("one check digit fits")
}

/// The demo school with its library, grown to [`COPIES`] copies of fiction on the
/// shelves. Returns the ISBNs and barcodes of the added titles, for the searches.
fn build_library(path: &Path) -> (Vec<String>, Vec<String>) {
    let mut store = Store::open(path).expect("the bench's store opens");
    demo::generate(
        &mut store,
        demo::DEMO_SEED,
        at(6, 0) - Duration::days(1),
        &|_| {},
    )
    .expect("the demo school is generated");
    let held: i64 = store
        .conn()
        .query_row("SELECT count(*) FROM library_copies", [], |r| r.get(0))
        .unwrap();
    let to_add = COPIES.saturating_sub(held as usize);
    let actor = format!("device:{}", store.device());
    let mut choices = Choices(CHOICE_SEED);
    let mut isbns = Vec::new();
    let mut barcodes = Vec::new();
    store
        .write(|w| {
            let mut added = 0;
            let mut t = 0;
            while added < to_add {
                let title = BookTitle {
                    title_id: TitleId::new_v7(),
                    title: format!(
                        "{} {} ({})",
                        choices.pick(FIRST),
                        choices.pick(SECOND),
                        t + 1
                    ),
                    authors: vec![format!("{} {}. {}.", choices.pick(SURNAMES), "А", "Б")],
                    isbn: Some(isbn(&mut choices)),
                    publisher: "Детская литература".into(),
                    year: Some(2000 + (t % 25) as u16),
                    subject: "художественная литература".into(),
                    age_mark: AgeMark::Zero,
                };
                isbns.push(title.isbn.as_ref().unwrap().as_str().to_owned());
                w.append(
                    &actor,
                    at(6, 0),
                    EventBody::BookTitleSaved {
                        title: title.clone(),
                    },
                )?;
                for c in 0..COPIES_PER_TITLE.min(to_add - added) {
                    let barcode = format!("B{t:06}-{c}");
                    w.append(
                        &actor,
                        at(6, 0),
                        EventBody::BookCopyAdded {
                            copy: BookCopy {
                                barcode: barcode.clone(),
                                title_id: title.title_id,
                                location: format!("Абонемент, стеллаж {}", t % 40 + 1),
                                item_type: ItemType::Fiction,
                            },
                        },
                    )?;
                    barcodes.push(barcode);
                    added += 1;
                }
                t += 1;
            }
            Ok::<(), StoreError>(())
        })
        .expect("the catalogue is written");
    (isbns, barcodes)
}

fn run(ws: &mut Workstation, command: Value, now: DateTime<Utc>) -> Result<Value, String> {
    let parsed: Command = serde_json::from_value(command.clone()).expect("a command");
    ws.execute(parsed, now, &|_| {})
        .map_err(|e| format!("{command}: {e}"))
}

fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

fn elapsed_ns(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// Makes one query of a kind from the bench's choices.
type QueryOf<'a> = Box<dyn Fn(&mut Choices) -> String + 'a>;

struct Figures {
    issue: Latency,
    ret: Latency,
    searches: Vec<(&'static str, Latency, usize)>,
    copies: i64,
    titles: i64,
}

fn measure(path: &Path, isbns: &[String], barcodes: &[String], scale: usize) -> Figures {
    let mut ws = Workstation::open(path).expect("the workstation opens");
    run(
        &mut ws,
        json!({"type": "sign_in_password", "login": "librarian", "password": demo::DEMO_PASSWORD}),
        at(7, 0),
    )
    .expect("the librarian signs in");
    let count = |ws: &Workstation, sql: &str| -> i64 {
        ws.store().conn().query_row(sql, [], |r| r.get(0)).unwrap()
    };
    let copies = count(&ws, "SELECT count(*) FROM library_copies");
    let titles = count(&ws, "SELECT count(*) FROM library_titles");
    // Readers who owe nothing: a reader with an overdue book is refused a novel.
    let readers: Vec<String> = {
        let conn = ws.store().conn();
        let mut st = conn
            .prepare(
                "SELECT id FROM persons p WHERE kind = 'pupil' AND status = 'active'
                   AND NOT EXISTS (SELECT 1 FROM library_loans l JOIN library_copies c USING (barcode)
                                   WHERE l.person_id = p.id AND l.returned_at_us IS NULL
                                     AND c.item_type <> 'textbook')
                 ORDER BY id",
            )
            .unwrap();
        let ids = st.query_map([], |r| r.get(0)).unwrap();
        ids.map(Result::unwrap).collect()
    };

    let mut choices = Choices(CHOICE_SEED ^ 0x10A2);
    let mut issue_ns = Vec::new();
    let mut return_ns = Vec::new();
    for k in 0..LOANS_WARMUP + LOANS / scale {
        let reader = choices.pick(&readers).clone();
        let barcode = choices.pick(barcodes).clone();
        let now = at(9, 0) + Duration::seconds(k as i64 * 20);
        let started = Instant::now();
        run(
            &mut ws,
            json!({"type": "issue_books", "person_id": reader, "barcodes": [barcode]}),
            now,
        )
        .expect("the copy is lent");
        let issued = elapsed_ns(started);
        let started = Instant::now();
        run(
            &mut ws,
            json!({"type": "return_book", "barcode": barcode, "note": ""}),
            now + Duration::seconds(10),
        )
        .expect("the copy comes back");
        let returned = elapsed_ns(started);
        if k >= LOANS_WARMUP {
            issue_ns.push(issued);
            return_ns.push(returned);
        }
    }

    let kinds: [(&'static str, QueryOf); 5] = [
        (
            "a word of a title («маяка»)",
            Box::new(|c| {
                c.pick(&["маяка", "капитана", "долины", "крепости"])
                    .to_string()
            }),
        ),
        (
            "an author's surname («кузнецов»)",
            Box::new(|c| c.pick(SURNAMES).to_lowercase()),
        ),
        ("a whole ISBN", Box::new(|c| c.pick(isbns).clone())),
        (
            "a copy's inventory number",
            Box::new(|c| c.pick(barcodes).clone()),
        ),
        (
            "a word no title has",
            Box::new(|_| "абракадабра".to_owned()),
        ),
    ];
    let mut searches = Vec::new();
    for (kind, query) in &kinds {
        let mut ns = Vec::new();
        let mut found = 0;
        for _ in 0..SEARCHES_PER_KIND / scale {
            let q = query(&mut choices);
            let started = Instant::now();
            let answer = run(
                &mut ws,
                json!({"type": "search_catalogue", "query": q, "limit": 50}),
                at(12, 0),
            )
            .expect("the catalogue answers");
            ns.push(elapsed_ns(started));
            found = found.max(answer["titles"].as_array().map_or(0, Vec::len));
        }
        searches.push((*kind, Latency::of(ns), found));
    }
    Figures {
        issue: Latency::of(issue_ns),
        ret: Latency::of(return_ns),
        searches,
        copies,
        titles,
    }
}

pub fn section(dir: &Path, scale: usize) -> String {
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned());
    let path = dir.join("library-school.sqlite");
    let built = Instant::now();
    let (isbns, barcodes) = build_library(&path);
    let built = built.elapsed();
    let f = measure(&path, &isbns, &barcodes, scale);
    let worst_search = f
        .searches
        .iter()
        .map(|(_, l, _)| l.p99_ns)
        .max()
        .unwrap_or(0);
    println!(
        "library: issue p99 {:.2} ms, return p99 {:.2} ms; search p99 worst {:.2} ms over {} copies",
        ms(f.issue.p99_ns),
        ms(f.ret.p99_ns),
        ms(worst_search),
        f.copies
    );
    let mut out = String::new();
    writeln!(out, "## The library desk (issue 8)\n").unwrap();
    writeln!(out, "A release build, on the demo school with its library (textbooks out to grades 5–6, fiction lent over the last weeks) grown to {} copies of {} titles (the school built in {:.1} s). One `Workstation` on the file, WAL with `synchronous=FULL`, as the desk's. Load average when the measurements began: {load}.\n", f.copies, f.titles, built.as_secs_f64()).unwrap();
    writeln!(out, "*Issue*: `IssueBooks` of one copy to a pupil picked by the librarian, timed from the call to its return — the reader (active, age, books held, anything overdue) and the copy read, the loan rules decided, `book_issued` appended with its projections and committed with fsync, the answer built; *return*: `ReturnBook` of the same copy ten seconds later. {LOANS_WARMUP} untimed loans first, then a random reader (of those owing nothing) and a random copy each time. *Search*: `SearchCatalogue` with a limit of 50 titles, each with its copies and their states, {SEARCHES_PER_KIND} times per kind of query.\n").unwrap();
    writeln!(out, "| operation | samples | p50 | p99 | max | goal |").unwrap();
    writeln!(out, "|---|---:|---:|---:|---:|---|").unwrap();
    for (what, l) in [
        ("an issue, committed with fsync", &f.issue),
        ("a return, committed with fsync", &f.ret),
    ] {
        writeln!(
            out,
            "| {what} | {} | {:.2} ms | {:.2} ms | {:.2} ms | p99 ≤ {COMMIT_P99_GOAL_MS:.0} ms {} |",
            l.samples,
            ms(l.p50_ns),
            ms(l.p99_ns),
            ms(l.max_ns),
            super::tick(ms(l.p99_ns) <= COMMIT_P99_GOAL_MS),
        )
        .unwrap();
    }
    for (kind, l, found) in &f.searches {
        writeln!(
            out,
            "| search by {kind} (titles found: up to {found}) | {} | {:.2} ms | {:.2} ms | {:.2} ms | p99 ≤ {SEARCH_GOAL_MS:.0} ms {} |",
            l.samples,
            ms(l.p50_ns),
            ms(l.p99_ns),
            ms(l.max_ns),
            super::tick(ms(l.p99_ns) <= SEARCH_GOAL_MS),
        )
        .unwrap();
    }
    out
}
