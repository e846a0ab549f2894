//! `make bench`: the performance figures the issues name, measured in one run and
//! written to BENCHMARKS.md with the command that produced them. Benchmarks report;
//! the tests assert behaviour.
//!
//!   bench [--app PATH_TO_RELEASE_APP] [--out BENCHMARKS.md] [--quick] [--only GROUP[,GROUP…]]
//!
//! Groups: `journal`, `app`, `readers` (card read latency, `readers.rs` beside this file),
//! `gatepost` (card to gate command and the morning rush, `gatepost.rs`), `canteen`,
//! `library` (issue, return and the catalogue's search, `library.rs`), `director` (the month's
//! attendance register as PDF and XLSX, `director.rs`), `dashboard` (the director's home
//! screen on a school year of events, `dashboard.rs`), `sync`, `portal`. Without
//! `--only` every group runs and the file is written anew (what `make bench` does); with
//! it, only the named groups' sections are replaced in the existing file.

use chrono::Utc;
use rusqlite::types::Value as SqlValue;
use rusqlite::{params, Connection, TransactionBehavior};
use schoolcard_core::domain::{FullName, PersonId, PersonKind};
use schoolcard_core::events::{EventBody, PersonDetails};
use schoolcard_core::Store;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Events appended one per transaction: each is an fsync, so a few thousand suffice.
const SINGLE_EVENTS: usize = 2_000;
/// Events appended in group commits, and the group size (a busy entrance's batch).
const GROUP_EVENTS: usize = 50_000;
const GROUP_SIZE: usize = 100;
/// App launches for the cold-start figure.
const APP_LAUNCHES: usize = 5;
/// How long the app idles with the demo school loaded before its memory is read.
const IDLE_BEFORE_MEMORY: Duration = Duration::from_secs(3);
const READY_TIMEOUT: Duration = Duration::from_secs(30);

mod canteen;
mod dashboard;
mod director;
mod gatepost;
mod latency;
mod library;
mod portal;
mod readers;
mod sync;

/// The groups of figures, in the order of their sections, each with the heading its
/// section starts with (to find it in an existing file when only some groups run).
const GROUPS: [(&str, &str); 10] = [
    ("journal", "## Journal append"),
    ("app", "## The app: cold start"),
    ("readers", "## Card read latency"),
    ("gatepost", "## The gate post"),
    ("canteen", "## The canteen"),
    ("library", "## The library desk"),
    ("director", "## The director's documents"),
    ("dashboard", "## The director's dashboard"),
    ("sync", "## Sync with the central server"),
    ("portal", "## The parent portal under a city's load"),
];

struct Args {
    app: Option<PathBuf>,
    out: PathBuf,
    quick: bool,
    /// Groups to run; `None`: all of them (what `make bench` does).
    only: Option<Vec<String>>,
}

fn parse_args() -> Args {
    let mut args = Args {
        app: None,
        out: PathBuf::from("BENCHMARKS.md"),
        quick: false,
        only: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--app" => args.app = it.next().map(PathBuf::from),
            "--out" => args.out = it.next().map(PathBuf::from).expect("--out PATH"),
            "--quick" => args.quick = true,
            "--only" => {
                let list = it.next().expect("--only GROUP[,GROUP…]");
                let groups: Vec<String> = list.split(',').map(str::to_owned).collect();
                for group in &groups {
                    assert!(
                        GROUPS.iter().any(|(name, _)| name == group),
                        "unknown group {group}: the groups are {:?}",
                        GROUPS.map(|(name, _)| name)
                    );
                }
                args.only = Some(groups);
            }
            other => panic!("unknown argument {other}"),
        }
    }
    args
}

fn main() {
    let args = parse_args();
    let scale = if args.quick { 10 } else { 1 };
    let dir = tempfile::tempdir().unwrap();
    let runs = |group: &str| {
        args.only
            .as_ref()
            .is_none_or(|only| only.iter().any(|g| g == group))
    };

    let mut header = String::new();
    writeln!(header, "# Benchmarks\n").unwrap();
    writeln!(header, "Produced by `make bench` on {}: it builds the release app (`npm run app:release` in `ui/`) and the `bench` binary of `tests/`, then runs `xvfb-run -a -s \"-screen 0 1280x800x24\" $CARGO_TARGET_DIR/release/bench --app $CARGO_TARGET_DIR/release/schoolcard --out BENCHMARKS.md`.", Utc::now().format("%Y-%m-%d")).unwrap();
    writeln!(
        header,
        "Machine: {}. Every ratio compares two figures measured in the same run on the same disk.",
        machine_line()
    )
    .unwrap();

    let mut fresh: Vec<(&str, String)> = Vec::new();
    if runs("journal") {
        fresh.push(("journal", journal_section(dir.path(), scale)));
    }
    if runs("app") {
        fresh.push(("app", app_section(args.app.as_deref(), dir.path())));
    }
    if runs("readers") {
        fresh.push(("readers", readers::section(scale)));
    }
    if runs("gatepost") {
        fresh.push(("gatepost", gatepost::section(dir.path(), scale)));
    }
    if runs("canteen") {
        fresh.push(("canteen", canteen::section(dir.path(), scale)));
    }
    if runs("library") {
        fresh.push(("library", library::section(dir.path(), scale)));
    }
    if runs("director") {
        fresh.push(("director", director::section(dir.path(), scale)));
    }
    if runs("dashboard") {
        fresh.push(("dashboard", dashboard::section(dir.path(), scale)));
    }
    if runs("sync") {
        fresh.push(("sync", sync::section(dir.path(), scale)));
    }
    if runs("portal") {
        fresh.push(("portal", portal::section(scale)));
    }

    let report = match &args.only {
        None => {
            let sections: Vec<String> = fresh.into_iter().map(|(_, text)| text).collect();
            join_report(&header, &sections)
        }
        Some(only) => {
            // Keep what the last full run wrote for the other groups; say which sections
            // this run refreshed, and how.
            let existing = std::fs::read_to_string(&args.out).unwrap_or_default();
            let (old_header, old_sections) = split_sections(&existing);
            let header = if old_header.trim().is_empty() {
                header
            } else {
                old_header
            };
            let note = format!(
                "*Measured alone on {} by `$CARGO_TARGET_DIR/release/bench --only {} --out {}` (the release binary `make bench` builds and runs); the other sections are from the `make bench` run the header describes.*\n\n",
                Utc::now().format("%Y-%m-%d"),
                only.join(","),
                args.out.display()
            );
            let sections: Vec<String> = GROUPS
                .iter()
                .filter_map(
                    |(group, heading)| match fresh.iter().find(|(name, _)| name == group) {
                        Some((_, text)) => {
                            let (title, body) = text.split_once("\n\n").unwrap_or((text, ""));
                            Some(format!("{title}\n\n{note}{body}"))
                        }
                        None => old_sections
                            .iter()
                            .find(|section| section.starts_with(heading))
                            .cloned(),
                    },
                )
                .collect();
            join_report(&header, &sections)
        }
    };
    std::fs::write(&args.out, report).unwrap();
    println!("written to {}", args.out.display());
}

/// The file: the header, then the sections, a blank line between each.
fn join_report(header: &str, sections: &[String]) -> String {
    let mut report = format!("{}\n", header.trim_end());
    for section in sections {
        report.push('\n');
        report.push_str(section.trim_end());
        report.push('\n');
    }
    report
}

/// A BENCHMARKS.md cut into the text before the first `## ` heading and the sections
/// that start with one.
fn split_sections(text: &str) -> (String, Vec<String>) {
    let mut header = String::new();
    let mut sections: Vec<String> = Vec::new();
    for line in text.lines() {
        if line.starts_with("## ") {
            sections.push(String::new());
        }
        let target = sections.last_mut().unwrap_or(&mut header);
        target.push_str(line);
        target.push('\n');
    }
    (header, sections)
}

/// Journal append vs raw SQLite, one section.
fn journal_section(dir: &Path, scale: usize) -> String {
    let mut report = String::new();
    writeln!(report, "## Journal append (issue 2)\n").unwrap();
    writeln!(report, "SQLite file in WAL with `synchronous=FULL`, one fresh file per measurement. *Raw* inserts the very same journal rows (same columns, same bytes, same indexes) into a bare table with no hash chain, triggers or projections, in transactions of the same size; *raw, all rows* also inserts, after each journal row, the very projection row the append wrote (the pupil, into a copy of the `persons` table with its indexes). The goal (≥ 0.5× raw for group commit) is checked against raw inserts of every row the append wrote: what the journal itself costs (hash chain, serialization, head, triggers) over SQLite, with the same storage work on both sides. The first ratio shows what keeping the projection in step adds on top.\n").unwrap();
    writeln!(report, "| workload | events | journal events/s | raw journal rows/s | ratio | raw, all rows/s | ratio | goal |").unwrap();
    writeln!(report, "|---|---:|---:|---:|---:|---:|---:|---|").unwrap();
    for (label, with_projection) in [
        ("no projection (sign-in failure)", false),
        ("with projection (pupil enrolled)", true),
    ] {
        for (events, group) in [
            (SINGLE_EVENTS / scale, 1),
            (GROUP_EVENTS / scale, GROUP_SIZE),
        ] {
            let (journal_rate, raw_rate, raw_all_rate) =
                journal_vs_raw(dir, events, group, with_projection);
            let ratio = journal_rate / raw_rate;
            let ratio_all = journal_rate / raw_all_rate;
            // The goal weighs the journal against raw inserts of every row it wrote.
            let goal = if group > 1 {
                format!("≥ 0.5× {}", tick(ratio_all >= 0.5))
            } else {
                "—".to_owned()
            };
            let txn = if group == 1 {
                "1 event per transaction".to_owned()
            } else {
                format!("group commit of {group}")
            };
            println!("journal {label}, {txn}: {journal_rate:.0}/s vs raw {raw_rate:.0}/s = {ratio:.2}x; vs raw all rows {raw_all_rate:.0}/s = {ratio_all:.2}x");
            writeln!(report, "| {label}, {txn} | {events} | {journal_rate:.0} | {raw_rate:.0} | {ratio:.2}× | {raw_all_rate:.0} | {ratio_all:.2}× | {goal} |").unwrap();
        }
    }
    report
}

/// The app: cold start and memory, one section.
fn app_section(app: Option<&Path>, dir: &Path) -> String {
    let mut report = String::new();
    writeln!(report, "## The app: cold start and memory (issue 2)\n").unwrap();
    match app {
        None => writeln!(report, "Not measured: no `--app` given.").unwrap(),
        Some(app) => {
            let db = dir.join("demo.sqlite");
            let summary = schoolcard_core::demo::ensure_demo(
                &db,
                schoolcard_core::demo::DEMO_SEED,
                Utc::now(),
            )
            .expect("the demo school is generated");
            let pupils = summary.map(|s| s.pupils).unwrap_or_default();
            let mut starts_ms = Vec::new();
            for _ in 0..APP_LAUNCHES {
                let (ms, _) = launch(app, &db, false);
                starts_ms.push(ms);
            }
            let (_, pss) = launch(app, &db, true);
            starts_ms.sort_by(f64::total_cmp);
            let median = starts_ms[starts_ms.len() / 2];
            let max = *starts_ms.last().unwrap();
            let pss_mib = pss.unwrap_or(0) as f64 / 1024.0;
            println!("cold start to sign-in screen: median {median:.0} ms, max {max:.0} ms; idle PSS {pss_mib:.0} MiB");
            writeln!(report, "Release build, under Xvfb, demo school of {pupils} pupils loaded. Start = process spawn until the sign-in screen has rendered and told the shell (`ui_ready`); {APP_LAUNCHES} launches.\n").unwrap();
            writeln!(report, "| figure | value | goal |").unwrap();
            writeln!(report, "|---|---:|---|").unwrap();
            writeln!(
                report,
                "| start to sign-in screen, median | {median:.0} ms | ≤ 1000 ms {} |",
                tick(median <= 1000.0)
            )
            .unwrap();
            writeln!(
                report,
                "| start to sign-in screen, worst of {APP_LAUNCHES} | {max:.0} ms | |"
            )
            .unwrap();
            writeln!(report, "| memory at idle, PSS of the app and its WebKit processes | {pss_mib:.0} MiB | ≤ 300 MiB {} |", tick(pss_mib <= 300.0)).unwrap();
        }
    }
    report
}

fn tick(ok: bool) -> &'static str {
    if ok {
        "✔"
    } else {
        "✘"
    }
}

fn machine_line() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    format!("{cores} cores, {cpu}")
}

fn event(i: usize, with_projection: bool) -> EventBody {
    if with_projection {
        EventBody::PersonEnrolled {
            person_id: PersonId::new_v7(),
            person_kind: PersonKind::Pupil,
            name: FullName {
                surname: "Кузнецова".into(),
                name: "Мария".into(),
                patronymic: "Сергеевна".into(),
            },
            class_id: None,
            details: PersonDetails {
                external_id: Some(format!("B{i:07}")),
                ..Default::default()
            },
        }
    } else {
        EventBody::SignInFailed {
            attempted: format!("guard{i}"),
            person_id: None,
            reason: "wrong_secret".into(),
        }
    }
}

/// Appends `events` through the journal, then inserts the very rows it wrote into bare
/// tables of fresh files, in transactions of the same size. Returns events per second for
/// the journal, for raw inserts of the journal rows alone, and for raw inserts of every
/// row the append wrote (journal row plus projection row).
fn journal_vs_raw(
    dir: &Path,
    events: usize,
    group: usize,
    with_projection: bool,
) -> (f64, f64, f64) {
    let tag = format!("{}-{group}-{with_projection}", events);
    let journal_path = dir.join(format!("journal-{tag}.sqlite"));
    let mut store = Store::open(&journal_path).unwrap();
    let actor = format!("device:{}", store.device());
    let bodies: Vec<EventBody> = (0..events).map(|i| event(i, with_projection)).collect();
    let started = Instant::now();
    for chunk in bodies.chunks(group) {
        store
            .write(|w| {
                for body in chunk {
                    w.append(&actor, Utc::now(), body.clone())?;
                }
                Ok::<_, schoolcard_core::error::StoreError>(())
            })
            .unwrap();
    }
    let journal_rate = events as f64 / started.elapsed().as_secs_f64();

    // The same rows, read back, into a bare table with the journal's columns and indexes.
    type Row = (
        Vec<u8>,
        String,
        i64,
        i64,
        String,
        String,
        String,
        Vec<u8>,
        Vec<u8>,
    );
    let rows: Vec<Row> = {
        let conn = store.conn();
        let mut stmt = conn
            .prepare("SELECT id, origin, origin_seq, occurred_at_us, actor, kind, payload, prev_hash, hash FROM journal ORDER BY seq")
            .unwrap();
        stmt.query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
                r.get(8)?,
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
    };
    // The projection rows the appends wrote, and their table's DDL (indexes included).
    let (person_ddl, person_rows): (Vec<String>, Vec<Vec<SqlValue>>) = {
        let conn = store.conn();
        let mut ddl = conn
            .prepare("SELECT sql FROM sqlite_master WHERE tbl_name = 'persons' AND type IN ('table', 'index') AND sql IS NOT NULL ORDER BY type DESC")
            .unwrap();
        let ddl = ddl
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let mut stmt = conn
            .prepare("SELECT * FROM persons ORDER BY rowid")
            .unwrap();
        let columns = stmt.column_count();
        let rows = stmt
            .query_map([], |r| {
                (0..columns)
                    .map(|i| r.get::<_, SqlValue>(i))
                    .collect::<Result<Vec<_>, _>>()
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        (ddl, rows)
    };
    drop(store);
    let raw_rate = raw_inserts(dir, &format!("{tag}-journal"), &rows, &[], &[], group);
    let raw_all_rate = if person_rows.is_empty() {
        raw_rate
    } else {
        raw_inserts(
            dir,
            &format!("{tag}-all"),
            &rows,
            &person_ddl,
            &person_rows,
            group,
        )
    };
    (journal_rate, raw_rate, raw_all_rate)
}

type JournalRow = (
    Vec<u8>,
    String,
    i64,
    i64,
    String,
    String,
    String,
    Vec<u8>,
    Vec<u8>,
);

/// Inserts the journal rows (and, after each, the matching projection row when given) into
/// a fresh file with the journal's columns and indexes; returns journal rows per second.
fn raw_inserts(
    dir: &Path,
    tag: &str,
    rows: &[JournalRow],
    extra_ddl: &[String],
    extra_rows: &[Vec<SqlValue>],
    group: usize,
) -> f64 {
    let raw_path = dir.join(format!("raw-{tag}.sqlite"));
    let mut raw = Connection::open(&raw_path).unwrap();
    raw.busy_timeout(Duration::from_millis(5_000)).unwrap();
    raw.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0))
        .unwrap();
    raw.pragma_update(None, "synchronous", "FULL").unwrap();
    raw.execute_batch(
        "CREATE TABLE rows (seq INTEGER PRIMARY KEY AUTOINCREMENT, id BLOB NOT NULL UNIQUE, origin TEXT NOT NULL,
            origin_seq INTEGER NOT NULL, occurred_at_us INTEGER NOT NULL, actor TEXT NOT NULL, kind TEXT NOT NULL,
            payload TEXT NOT NULL, prev_hash BLOB NOT NULL, hash BLOB NOT NULL, UNIQUE (origin, origin_seq));
         CREATE INDEX rows_kind_time ON rows (kind, occurred_at_us);",
    )
    .unwrap();
    for ddl in extra_ddl {
        raw.execute_batch(ddl).unwrap();
    }
    let extra_insert = extra_rows.first().map(|r| {
        let marks: Vec<String> = (1..=r.len()).map(|i| format!("?{i}")).collect();
        format!("INSERT INTO persons VALUES ({})", marks.join(", "))
    });
    let started = Instant::now();
    for (c, chunk) in rows.chunks(group).enumerate() {
        let tx = raw
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .unwrap();
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO rows (id, origin, origin_seq, occurred_at_us, actor, kind, payload, prev_hash, hash)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                )
                .unwrap();
            for (i, r) in chunk.iter().enumerate() {
                stmt.execute(params![r.0, r.1, r.2, r.3, r.4, r.5, r.6, r.7, r.8])
                    .unwrap();
                if let (Some(sql), Some(extra)) = (&extra_insert, extra_rows.get(c * group + i)) {
                    tx.prepare_cached(sql)
                        .unwrap()
                        .execute(rusqlite::params_from_iter(extra.iter()))
                        .unwrap();
                }
            }
        }
        tx.commit().unwrap();
    }
    rows.len() as f64 / started.elapsed().as_secs_f64()
}

/// Starts the app on `db`; returns milliseconds until it reported the sign-in screen
/// ready, and (when asked) the PSS in KiB of it and its descendants after idling.
fn launch(app: &Path, db: &Path, measure_memory: bool) -> (f64, Option<u64>) {
    let started = Instant::now();
    let mut child = Command::new(app)
        .args(["--db", db.to_str().unwrap()])
        .env("SCHOOLCARD_REPORT_READY", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the app starts");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.starts_with("ready") {
                let _ = tx.send(());
            }
        }
    });
    let ready = rx.recv_timeout(READY_TIMEOUT).is_ok();
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    assert!(
        ready,
        "the app did not report its sign-in screen within {READY_TIMEOUT:?}"
    );
    let pss = measure_memory.then(|| {
        std::thread::sleep(IDLE_BEFORE_MEMORY);
        tree_pss_kib(child.id())
    });
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let _ = child.wait();
    (ms, pss)
}

/// Sum of `Pss:` over a process and all its descendants (WebKit's web and network processes).
fn tree_pss_kib(root: u32) -> u64 {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            // The command name is in parentheses and may hold spaces: read after the last ')'.
            let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
            if let Some(ppid) = after.split_whitespace().nth(1).and_then(|p| p.parse().ok()) {
                parents.push((pid, ppid));
            }
        }
    }
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        tree.extend(
            parents
                .iter()
                .filter(|(_, pp)| *pp == parent)
                .map(|(p, _)| *p),
        );
        i += 1;
    }
    tree.iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok())
        .map(|s| {
            s.lines()
                .find(|l| l.starts_with("Pss:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        })
        .sum()
}
