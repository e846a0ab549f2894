//! The parent portal under a city's load (issue 7): the dashboard (`GET /portal`: my
//! children, each one's balance and today's feed) for parents of a city of 17,600 pupils
//! with one school year behind them, at a constant 500 requests/s, timed from each
//! request's scheduled start (so a slow answer that delays the next ones counts for them
//! too) by an open-loop load generator on loopback.
//!
//! The city is written straight into the portal's projections and the ledger as the
//! projector and the pushes would have left them after a year (feed rows for every
//! entry, meal, purchase and exit of every school day, with their ledger entries):
//! pushing and projecting ten million events first would take the bench an hour.

use schoolcard_server::portal::auth::open_session;
use schoolcard_tests::central::Central;
use sqlx_core::query::query;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The city and load.
const PUPILS: i64 = 17_600;
const SCHOOLS: i64 = 16;
const SCHOOL_DAYS: i64 = 170;
const RATE_PER_S: u64 = 500;
const SECONDS: u64 = 20;
/// Parents signed in during the run (each request is one of them, at random).
const SESSIONS: usize = 2_000;
/// Connections the load generator keeps open, each with its own thread.
const CONNECTIONS: usize = 64;
const P99_GOAL_MS: f64 = 50.0;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The city: schools, classes, pupils and a guardian each (a parent account with their
/// e-mail), and a school year of feed and ledger ending today.
fn build_city(central: &Central) -> Duration {
    let started = Instant::now();
    central.block_on(async {
        // One connection: the temporary tables live in its session.
        let mut conn = central.admin_pool.acquire().await.unwrap();
        let statements = [
            format!("INSERT INTO schools (id, name, time_zone)
                     SELECT gen_random_uuid(), 'Школа № ' || n, 'Europe/Moscow' FROM generate_series(1, {SCHOOLS}) n"),
            "CREATE TEMP TABLE city_schools AS SELECT id, row_number() OVER (ORDER BY name) - 1 AS n FROM schools".to_owned(),
            "INSERT INTO school_classes (school_id, class_id, grade, letter)
             SELECT s.id, 'c' || g || l, g, l FROM city_schools s, generate_series(1, 11) g, unnest(ARRAY['А','Б']) l".to_owned(),
            format!("CREATE TEMP TABLE city_pupils AS
                     SELECT n, (SELECT id FROM city_schools WHERE city_schools.n = p.n % {SCHOOLS}) AS school_id,
                            'p' || n AS person_id, 'c' || (1 + n % 11) || (CASE WHEN n % 2 = 0 THEN 'А' ELSE 'Б' END) AS class_id
                     FROM generate_series(1, {PUPILS}) p(n)"),
            "INSERT INTO school_persons (school_id, person_id, kind, surname, name, class_id)
             SELECT school_id, person_id, 'pupil', 'Ученик' || n, 'Иван', class_id FROM city_pupils".to_owned(),
            "INSERT INTO school_persons (school_id, person_id, kind, surname, name, email)
             SELECT school_id, 'g' || n, 'guardian', 'Родитель' || n, 'Анна', 'parent' || n || '@example.ru' FROM city_pupils".to_owned(),
            "INSERT INTO guardianship (school_id, guardian_id, pupil_id) SELECT school_id, 'g' || n, person_id FROM city_pupils".to_owned(),
            "INSERT INTO parents (id, email) SELECT gen_random_uuid(), 'parent' || n || '@example.ru' FROM city_pupils".to_owned(),
            // A school year: the last SCHOOL_DAYS weekdays up to today, four facts a day
            // (entry, lunch, a purchase every other day, exit), global seqs in order.
            format!("CREATE TEMP TABLE city_days AS
                     SELECT d::date AS day, row_number() OVER (ORDER BY d) AS k
                     FROM generate_series(current_date - 260, current_date, interval '1 day') d
                     WHERE extract(isodow FROM d) < 6 ORDER BY d DESC LIMIT {SCHOOL_DAYS}"),
            "INSERT INTO feed (school_id, person_id, global_seq, at, kind, title, amount)
             SELECT p.school_id, p.person_id, (d.k * 100000 + p.n) * 4 + f.i,
                    (d.day + f.t)::timestamp AT TIME ZONE 'Europe/Moscow', f.kind, f.title, f.amount
             FROM city_pupils p, city_days d,
                  (VALUES (0, time '07:55', 'entry', 'Вход', NULL::bigint),
                          (1, time '12:10', 'meal', 'Обед (бесплатно)', NULL),
                          (2, time '10:05', 'purchase', 'Сок яблочный 0,2 л', -4500),
                          (3, time '14:10', 'exit', 'Выход', NULL)) f(i, t, kind, title, amount)
             WHERE f.i <> 2 OR (p.n + d.k) % 2 = 0".to_owned(),
            "INSERT INTO ledger (school_id, person_id, amount, reference, global_seq)
             SELECT school_id, person_id, amount, 'bench:' || global_seq, global_seq FROM feed WHERE amount IS NOT NULL".to_owned(),
            "INSERT INTO ledger (school_id, person_id, amount, reference, global_seq)
             SELECT school_id, person_id, 300000, 'bench-top-up:' || person_id, 0 FROM city_pupils".to_owned(),
            "ANALYZE".to_owned(),
        ];
        for sql in statements {
            query(&sql)
                .execute(&mut *conn)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
    });
    started.elapsed()
}

/// Sessions of `SESSIONS` parents, as the portal opens them at sign-in.
fn sign_in_parents(central: &Central) -> Vec<String> {
    central.block_on(async {
        let parents: Vec<uuid::Uuid> = sqlx_core::query_scalar::query_scalar(
            "SELECT id FROM parents ORDER BY random() LIMIT $1",
        )
        .bind(SESSIONS as i64)
        .fetch_all(&central.pool)
        .await
        .unwrap();
        let mut tokens = Vec::with_capacity(parents.len());
        for parent in parents {
            tokens.push(open_session(&central.pool, parent).await.unwrap());
        }
        tokens
    })
}

/// Open-loop constant rate: request i is due at `i / RATE`; each connection's thread
/// takes the next due request, sleeps until its time, sends it, and records the time from
/// when it was due to the end of the answer.
fn load(url: &str, tokens: &[String], rate: u64, seconds: u64) -> (Vec<Duration>, usize) {
    let total = (rate * seconds) as usize;
    let next = AtomicUsize::new(0);
    let failures = AtomicUsize::new(0);
    let samples = Mutex::new(Vec::with_capacity(total));
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let start = Instant::now() + Duration::from_millis(200);
    std::thread::scope(|scope| {
        for _ in 0..CONNECTIONS {
            scope.spawn(|| {
                let agent = ureq::AgentBuilder::new()
                    .max_idle_connections_per_host(1)
                    .timeout(Duration::from_secs(10))
                    .build();
                let mut mine = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        break;
                    }
                    let due = start + interval * i as u32;
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                    let token = &tokens[(i * 7919) % tokens.len()];
                    let answer = agent
                        .get(url)
                        .set("cookie", &format!("sc_portal={token}"))
                        .call();
                    match answer {
                        Ok(response) if response.status() == 200 => {
                            let body = response.into_string().unwrap_or_default();
                            if !body.contains("Баланс") {
                                failures.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        _ => {
                            failures.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    mine.push(due.elapsed());
                }
                samples.lock().unwrap().extend(mine);
            });
        }
    });
    (samples.into_inner().unwrap(), failures.into_inner())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index]
}

pub fn section(scale: usize) -> String {
    let central = Central::start();
    let built = build_city(&central);
    let tokens = sign_in_parents(&central);
    let feed_rows: i64 = central
        .block_on(
            sqlx_core::query_scalar::query_scalar("SELECT count(*) FROM feed")
                .fetch_one(&central.pool),
        )
        .unwrap();
    let url = format!("{}/portal", central.url);
    // Warm-up at the same rate, untimed: the pool fills, the pages come into memory.
    load(&url, &tokens, RATE_PER_S, 2);
    let seconds = (SECONDS / scale as u64).max(2);
    let (mut samples, failures) = load(&url, &tokens, RATE_PER_S, seconds);
    samples.sort();
    let (p50, p99, max) = (
        percentile(&samples, 0.50),
        percentile(&samples, 0.99),
        *samples.last().unwrap(),
    );
    println!(
        "portal: dashboard at {RATE_PER_S}/s for {seconds} s: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms, {failures} failed; {feed_rows} feed rows (built in {:.0} s)",
        ms(p50),
        ms(p99),
        ms(max),
        built.as_secs_f64()
    );
    let met = if ms(p99) <= P99_GOAL_MS && failures == 0 {
        "met"
    } else {
        "**missed**"
    };
    let mut out = String::new();
    writeln!(out, "## The parent portal under a city's load (issue 7)\n").unwrap();
    writeln!(out, "A release build of `schoolcard-server` on PostgreSQL (throwaway cluster, fsync on), in the same process as the load generator, on this 2-core machine. The city: {PUPILS} pupils in {SCHOOLS} schools, a guardian each with a parent account, and one school year ({SCHOOL_DAYS} school days) of their children's feed — entry, lunch, a purchase every other day, exit: {feed_rows} rows — with its ledger, written straight into the portal's projections as the projector would have left them (built in {:.0} s). {} parents signed in.\n", built.as_secs_f64(), tokens.len()).unwrap();
    writeln!(out, "*Dashboard*: `GET /portal` with a parent's session cookie (the session checked and touched, the parent's children, each one's balance from the ledger and today's feed, the page rendered), a random signed-in parent per request, at a constant {RATE_PER_S} requests/s for {seconds} s over {CONNECTIONS} keep-alive connections (open loop: each request is timed from the instant it was due, so a stall counts against every request it delays), after a 2 s untimed warm-up at the same rate.\n").unwrap();
    writeln!(
        out,
        "| measurement | requests | p50 | p99 | max | failed | goal |"
    )
    .unwrap();
    writeln!(out, "|---|---:|---:|---:|---:|---:|---|").unwrap();
    writeln!(
        out,
        "| parent dashboard at {RATE_PER_S}/s | {} | {:.1} ms | {:.1} ms | {:.1} ms | {failures} | p99 ≤ {P99_GOAL_MS} ms: {met} |",
        samples.len(),
        ms(p50),
        ms(p99),
        ms(max)
    )
    .unwrap();
    out
}
