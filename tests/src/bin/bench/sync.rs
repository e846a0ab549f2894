//! Sync with the central server (issue 6): push throughput from workstations over
//! loopback HTTP into PostgreSQL against `COPY` of the same rows into the same database,
//! and the pull of every event onto a fresh workstation.
//!
//! - *push*: three workstations (SQLite files, WAL, `synchronous=FULL`) each holding a
//!   third of the events push them at once through the real client (`sync::push_all`:
//!   the outbox read from the journal, JSON over HTTP, the server's insert under its
//!   journal lock with the ledger postings, the acknowledgement committed back), batches
//!   of [`PUSH_BATCH`].
//! - *COPY*: the rows the server then holds, copied with `COPY … FROM STDIN` into an empty
//!   table made `LIKE events INCLUDING ALL` (the same columns, keys and indexes), in the
//!   same cluster (fsync on), as its superuser; the ratio is push ÷ COPY.
//! - *pull*: a fresh workstation enrolled in the school pulls every event (`pull_all`,
//!   pages of [`PULL_BATCH`]), each applied to its projections with the cursor in the
//!   page's transaction.

use schoolcard_core::sync::http::{HttpTransport, Timeouts};
use schoolcard_core::sync::{enrolment, pull_all, push_all, Batches};
use schoolcard_core::Store;
use schoolcard_tests::central::Central;
use schoolcard_tests::money::{write_events, Choices};
use sqlx_postgres::PgPoolCopyExt;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

/// The figures: events pushed in all, and pulled onto the fresh workstation.
const EVENTS: usize = 100_000;
const WORKSTATIONS: usize = 3;
/// The client's own batches.
const PUSH_BATCH: usize = Batches::DEFAULT.push;
/// A school day's journal: two passages a pupil for each sale, the odd top-up and refund.
const PASSAGES_PERCENT: u64 = 60;
const PUPILS: u64 = 900;
const PULL_BATCH: u32 = Batches::DEFAULT.pull;
/// The goals.
const PUSH_GOAL_PER_S: f64 = 20_000.0;
const COPY_RATIO_GOAL: f64 = 0.3;

fn transport(store: &Store) -> HttpTransport {
    let (enrolled, secret) = enrolment(store.conn()).unwrap().unwrap();
    HttpTransport::new(
        &enrolled.server_url,
        store.device().as_str(),
        &secret,
        Timeouts::default(),
    )
    .unwrap()
}

pub fn section(dir: &Path, scale: usize) -> String {
    let events = EVENTS / scale;
    let central = Central::start();
    let mut stores: Vec<Store> = (0..WORKSTATIONS)
        .map(|i| Store::open(&dir.join(format!("sync-ws{i}.sqlite"))).unwrap())
        .collect();
    let written = Instant::now();
    for (i, store) in stores.iter_mut().enumerate() {
        central.enrol(store, &central.url);
        let mine = events / WORKSTATIONS + usize::from(i < events % WORKSTATIONS);
        write_events(
            store,
            mine,
            PUPILS,
            PASSAGES_PERCENT,
            &mut Choices(i as u64),
            &mut BTreeMap::new(),
        );
    }
    let written = written.elapsed();

    let started = Instant::now();
    let pushed: u64 = std::thread::scope(|scope| {
        let threads: Vec<_> = stores
            .iter_mut()
            .map(|store| {
                scope.spawn(move || {
                    let transport = transport(store);
                    push_all(store, &transport, PUSH_BATCH).unwrap()
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).sum()
    });
    let push_s = started.elapsed().as_secs_f64();
    assert_eq!(pushed as usize, events, "every event pushed");

    let copy_s = central.block_on(async {
        let pool = &central.admin_pool;
        sqlx_core::query::query("CREATE TABLE events_copy (LIKE events INCLUDING ALL)")
            .execute(pool)
            .await
            .unwrap();
        let mut rows = Vec::new();
        let mut out = pool.copy_out_raw("COPY events TO STDOUT").await.unwrap();
        use futures_util::StreamExt as _;
        while let Some(chunk) = out.next().await {
            rows.extend_from_slice(&chunk.unwrap());
        }
        let started = Instant::now();
        let mut copy = pool
            .copy_in_raw("COPY events_copy FROM STDIN")
            .await
            .unwrap();
        copy.send(rows.as_slice()).await.unwrap();
        let copied = copy.finish().await.unwrap();
        assert_eq!(copied as usize, events, "COPY took every row");
        started.elapsed().as_secs_f64()
    });

    let mut fresh = Store::open(&dir.join("sync-fresh.sqlite")).unwrap();
    central.enrol(&mut fresh, &central.url);
    let transport = transport(&fresh);
    let started = Instant::now();
    let pulled = pull_all(&mut fresh, &transport, PULL_BATCH).unwrap().pulled;
    let pull_s = started.elapsed().as_secs_f64();
    assert_eq!(pulled as usize, events, "every event pulled");

    let push_rate = events as f64 / push_s;
    let copy_rate = events as f64 / copy_s;
    let ratio = push_rate / copy_rate;
    let pull_rate = events as f64 / pull_s;
    println!(
        "sync: push {push_rate:.0} events/s ({push_s:.2} s), COPY {copy_rate:.0} rows/s, ratio {ratio:.2}; pull {pull_rate:.0} events/s ({pull_s:.2} s)"
    );
    let mark = |ok: bool| if ok { "met" } else { "**missed**" };
    let mut out = String::new();
    writeln!(out, "## Sync with the central server (issue 6)\n").unwrap();
    writeln!(out, "A release build of the workstation's sync client and of `schoolcard-server`, in one process, over loopback HTTP, into PostgreSQL {} on a throwaway cluster (fsync on; the server as its append-only role). {events} events of a school day ({PASSAGES_PERCENT} % passages through the gate, the rest money: sales, top-ups, refunds, for {PUPILS} pupils; written beforehand in {:.1} s) held by {WORKSTATIONS} workstations (SQLite, WAL, `synchronous=FULL`).\n", pg_version(&central), written.as_secs_f64()).unwrap();
    writeln!(out, "*Push*: the {WORKSTATIONS} workstations push at once through the real client (`sync::push_all`): the outbox read from the journal, JSON over HTTP, the server's insert of each batch under its journal lock with the ledger's postings, the acknowledgement and placements committed back to SQLite; batches of {PUSH_BATCH}. *COPY*: the same rows, as the server then holds them, copied with `COPY … FROM STDIN` into an empty table `LIKE events INCLUDING ALL` (same keys and indexes) in the same database, as its superuser, timed alone. *Pull*: a fresh workstation enrolled in the school pulls every event (`sync::pull_all`, pages of {PULL_BATCH}), each page appended to its journal and applied to its projections in one transaction with the cursor.\n").unwrap();
    writeln!(out, "| measurement | events | seconds | events/s | goal |").unwrap();
    writeln!(out, "|---|---:|---:|---:|---|").unwrap();
    writeln!(out, "| push, {WORKSTATIONS} workstations at once | {events} | {push_s:.2} | {push_rate:.0} | ≥ {PUSH_GOAL_PER_S:.0}/s: {} |", mark(push_rate >= PUSH_GOAL_PER_S)).unwrap();
    writeln!(
        out,
        "| COPY of the same rows | {events} | {copy_s:.2} | {copy_rate:.0} | — |"
    )
    .unwrap();
    writeln!(
        out,
        "| push ÷ COPY | | | {ratio:.2}× | ≥ {COPY_RATIO_GOAL}×: {} |",
        mark(ratio >= COPY_RATIO_GOAL)
    )
    .unwrap();
    writeln!(
        out,
        "| pull onto a fresh workstation | {events} | {pull_s:.2} | {pull_rate:.0} | — |"
    )
    .unwrap();
    out
}

fn pg_version(central: &Central) -> String {
    central
        .block_on(
            sqlx_core::query_scalar::query_scalar::<_, String>("SHOW server_version")
                .fetch_one(&central.pool),
        )
        .map(|v| v.split_whitespace().next().unwrap_or("").to_owned())
        .unwrap_or_else(|_| "?".into())
}
