//! Operations: `/metrics` tells what the tables hold, `/health` follows the database, and
//! a backup made by `installers/server/schoolcard-server-backup` restores a damaged
//! journal with the commands `installers/server/README.md` gives.

use crate::harness::*;
use schoolcard_server::{admin, db, http, AppState, ThrowawayCluster};
use serde_json::json;
use sqlx_core::query::query;
use sqlx_core::query_as::query_as;
use sqlx_core::query_scalar::query_scalar;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use uuid::Uuid;

const METRICS_TOKEN: &str = "metrics-test-token";

/// One sample: the metric's name and its labels as written (`{school="…"}` or empty).
type Samples = BTreeMap<(String, String), f64>;

/// Parses the text exposition; every sample's family must have been announced by
/// `# TYPE` before it, and no family twice.
pub(crate) fn parse_exposition(text: &str) -> Samples {
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut samples = Samples::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("# TYPE name kind");
            assert!(
                ["gauge", "counter"].contains(&kind),
                "an unexpected type: {line}"
            );
            assert!(
                types.insert(name.to_owned(), kind.to_owned()).is_none(),
                "{name} announced twice"
            );
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("name value");
        let (name, labels) = match series.find('{') {
            Some(at) => (&series[..at], &series[at..]),
            None => (series, ""),
        };
        assert!(types.contains_key(name), "{name} sampled before its # TYPE");
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("{line}"));
        assert!(
            samples
                .insert((name.to_owned(), labels.to_owned()), value)
                .is_none(),
            "{series} twice"
        );
    }
    samples
}

fn scrape(url: &str, token: Option<&str>) -> (u16, String) {
    let mut request = ureq::get(&format!("{url}/metrics"));
    if let Some(token) = token {
        request = request.set("authorization", &format!("Bearer {token}"));
    }
    match request.call() {
        Ok(response) => {
            assert_eq!(
                response.header("content-type"),
                Some(schoolcard_server::metrics::CONTENT_TYPE)
            );
            (200, response.into_string().unwrap())
        }
        Err(ureq::Error::Status(status, response)) => {
            (status, response.into_string().unwrap_or_default())
        }
        Err(error) => panic!("/metrics: {error}"),
    }
}

fn metric(samples: &Samples, name: &str, labels: &str) -> f64 {
    *samples
        .get(&(name.to_owned(), labels.to_owned()))
        .unwrap_or_else(|| panic!("no {name}{labels} in {samples:#?}"))
}

fn unix_now_s() -> f64 {
    chrono::Utc::now().timestamp_micros() as f64 / 1e6
}

#[test]
fn metrics_tell_what_the_tables_hold() {
    let server = server_with(|state| state.with_metrics_token(METRICS_TOKEN));
    let (lyceum, gymnasium, quiet) = (
        server.school("Лицей"),
        server.school("Гимназия"),
        server.school("Школа без станций"),
    );
    let entrance = server.enrol(lyceum, "ws-entrance");
    let canteen = server.enrol(lyceum, "ws-canteen");
    let gym = server.enrol(gymnasium, "ws-gym");
    server.enrol(gymnasium, "ws-old");
    block_on(admin::revoke_device(&server.pool, "ws-old")).unwrap();

    server.push(&entrance, &passages("ws-entrance", 1, 3));
    server.push(&gym, &passages("ws-gym", 1, 2));
    std::thread::sleep(std::time::Duration::from_millis(50));
    // The lyceum's newest push is the canteen's; then the server writes an event of its own
    // for the lyceum, which is not a workstation's push and must not hide the lag.
    server.push(&canteen, &passages("ws-canteen", 1, 1));
    std::thread::sleep(std::time::Duration::from_millis(50));
    block_on(async {
        let mut tx = server.pool.begin().await.unwrap();
        schoolcard_server::sync::append_server_event(&mut tx, lyceum, "note", "{}")
            .await
            .unwrap();
        tx.commit().await.unwrap();
    });

    // Notifications: two email pending (one of them failed twice), one webhook pending,
    // one webhook given up, one email delivered.
    block_on(async {
        let parent = Uuid::now_v7();
        query("INSERT INTO parents (id, email) VALUES ($1, 'mama@example.ru')")
            .bind(parent)
            .execute(&server.pool)
            .await
            .unwrap();
        let rows: [(&str, i32, &str); 5] = [
            ("email", 0, ""),
            ("email", 2, "attempts = 2"),
            ("webhook", 0, ""),
            ("webhook", 12, "given_up_at = now()"),
            ("email", 1, "delivered_at = now()"),
        ];
        for (at, (channel, attempts, set)) in rows.into_iter().enumerate() {
            let id: i64 = query_scalar(
                "INSERT INTO notifications (parent_id, school_id, person_id, global_seq, channel,
                     kind, subject, body, payload, dedup_key, attempts)
                 VALUES ($1, $2, 'p-1', $3, $4, 'entry', 's', 'b', '{}', $5, $6) RETURNING id",
            )
            .bind(parent)
            .bind(lyceum)
            .bind(at as i64 + 1)
            .bind(channel)
            .bind(format!("k{at}"))
            .bind(attempts)
            .fetch_one(&server.pool)
            .await
            .unwrap();
            if !set.is_empty() {
                query(&format!("UPDATE notifications SET {set} WHERE id = $1"))
                    .bind(id)
                    .execute(&server.pool)
                    .await
                    .unwrap();
            }
        }
    });

    assert_eq!(scrape(&server.url, None).0, 401, "no token");
    assert_eq!(scrape(&server.url, Some("wrong")).0, 401, "a wrong token");
    let before_s = unix_now_s();
    let (status, text) = scrape(&server.url, Some(METRICS_TOKEN));
    let after_s = unix_now_s();
    assert_eq!(status, 200, "{text}");
    let samples = parse_exposition(&text);

    // What the tables hold, read independently of the server's queries.
    let newest_push_s: Vec<(String, f64)> = block_on(
        query_as(
            "SELECT e.school_id::text, extract(epoch FROM max(e.received_at))::float8
             FROM events e JOIN devices d ON d.id = e.origin
             GROUP BY 1 ORDER BY 1",
        )
        .fetch_all(&server.pool),
    )
    .unwrap();
    let server_event_s: f64 = block_on(
        query_scalar(
            "SELECT extract(epoch FROM received_at)::float8 FROM events WHERE actor = 'server'",
        )
        .fetch_one(&server.pool),
    )
    .unwrap();
    let canteen_push_s: f64 = block_on(
        query_scalar(
            "SELECT extract(epoch FROM max(received_at))::float8 FROM events WHERE origin = 'ws-canteen'",
        )
        .fetch_one(&server.pool),
    )
    .unwrap();
    assert!(
        server_event_s > canteen_push_s,
        "the server's event is newer"
    );
    assert_eq!(newest_push_s.len(), 2, "two schools pushed");

    let pushes: BTreeMap<String, f64> = samples
        .iter()
        .filter(|((name, _), _)| name == "schoolcard_sync_last_push_timestamp_seconds")
        .map(|((_, labels), value)| (labels.clone(), *value))
        .collect();
    let expected: BTreeMap<String, f64> = newest_push_s
        .iter()
        .map(|(school, at)| (format!("{{school=\"{school}\"}}"), *at))
        .collect();
    assert_eq!(
        pushes.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "one series per school that pushed; none for {quiet}"
    );
    for (labels, at) in &expected {
        assert!(
            (pushes[labels] - at).abs() < 1e-5,
            "{labels}: {} against {at}",
            pushes[labels]
        );
        let lag = metric(&samples, "schoolcard_sync_lag_seconds", labels);
        assert!(
            lag >= before_s - at - 1e-3 && lag <= after_s - at + 1e-3,
            "{labels}: lag {lag} outside [{}, {}]",
            before_s - at,
            after_s - at
        );
    }
    assert!(
        (pushes[&format!("{{school=\"{lyceum}\"}}")] - canteen_push_s).abs() < 1e-5,
        "the lyceum's newest push is the canteen's, not the server's own event"
    );

    let expected_figures = [
        ("schoolcard_up", String::new(), 1.0),
        ("schoolcard_database_up", String::new(), 1.0),
        ("schoolcard_journal_events_total", String::new(), 7.0),
        (
            "schoolcard_devices",
            format!("{{school=\"{lyceum}\",state=\"active\"}}"),
            2.0,
        ),
        (
            "schoolcard_devices",
            format!("{{school=\"{gymnasium}\",state=\"active\"}}"),
            1.0,
        ),
        (
            "schoolcard_devices",
            format!("{{school=\"{gymnasium}\",state=\"revoked\"}}"),
            1.0,
        ),
        (
            "schoolcard_notifications_pending",
            "{channel=\"email\"}".into(),
            2.0,
        ),
        (
            "schoolcard_notifications_pending",
            "{channel=\"webhook\"}".into(),
            1.0,
        ),
        (
            "schoolcard_notifications_retrying",
            "{channel=\"email\"}".into(),
            1.0,
        ),
        (
            "schoolcard_notifications_retrying",
            "{channel=\"webhook\"}".into(),
            0.0,
        ),
        (
            "schoolcard_notifications_given_up_total",
            "{channel=\"email\"}".into(),
            0.0,
        ),
        (
            "schoolcard_notifications_given_up_total",
            "{channel=\"webhook\"}".into(),
            1.0,
        ),
    ];
    for (name, labels, value) in &expected_figures {
        assert_eq!(metric(&samples, name, labels), *value, "{name}{labels}");
    }
    // The same figures straight from the tables.
    let (events, pending, given_up): (i64, i64, i64) = block_on(
        query_as(
            "SELECT (SELECT count(*) FROM events),
                    (SELECT count(*) FROM notifications WHERE delivered_at IS NULL AND given_up_at IS NULL),
                    (SELECT count(*) FROM notifications WHERE given_up_at IS NOT NULL)",
        )
        .fetch_one(&server.pool),
    )
    .unwrap();
    assert_eq!(
        (events, pending, given_up),
        (7, 3, 1),
        "the scenario's tables"
    );
    let device_series = samples
        .keys()
        .filter(|(name, _)| name == "schoolcard_devices")
        .count();
    assert_eq!(device_series, 3, "{text}");
}

#[test]
fn health_follows_the_database() {
    let cluster = ThrowawayCluster::start().expect("a cluster of its own, to stop");
    let server = block_on(async {
        let admin_url = db::create_database(&cluster.admin_url(), "health")
            .await
            .unwrap();
        db::db_setup(&admin_url, APP_ROLE, APP_PASSWORD)
            .await
            .unwrap();
        let pool = db::connect(&db::url_as(&admin_url, APP_ROLE, APP_PASSWORD).unwrap())
            .await
            .unwrap();
        http::spawn(AppState::new(pool), "127.0.0.1:0")
            .await
            .unwrap()
    });
    let health = || call("GET", &format!("{}/health", server.url), &[], None);

    let up = health();
    assert_eq!(up.0, 200, "{up:?}");
    assert_eq!(up.1["status"], "ok");
    assert_eq!(up.1["database"], "ok");
    assert_eq!(up.1["migration"], json!(db::latest_migration()));
    let (_, text) = scrape(&server.url, None);
    assert_eq!(
        metric(&parse_exposition(&text), "schoolcard_database_up", ""),
        1.0
    );

    drop(cluster);
    let started = std::time::Instant::now();
    let down = health();
    assert_eq!(down.0, 503, "{down:?}");
    assert_eq!(down.1["status"], "unavailable");
    assert!(
        started.elapsed()
            < std::time::Duration::from_millis(
                schoolcard_server::metrics::DATABASE_TIMEOUT_MS + 2_000
            ),
        "a monitor hears «down» within the time-out: {:?}",
        started.elapsed()
    );
    let (status, text) = scrape(&server.url, None);
    assert_eq!(status, 200, "the process still answers");
    let samples = parse_exposition(&text);
    assert_eq!(metric(&samples, "schoolcard_up", ""), 1.0);
    assert_eq!(metric(&samples, "schoolcard_database_up", ""), 0.0);
    assert_eq!(samples.len(), 2, "nothing else is claimed: {text}");
    block_on(server.stop()).unwrap();
}

fn installers() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../installers/server")
}

/// The journal as it is: every row, in order.
fn journal(pool: &sqlx_postgres::PgPool) -> Vec<(i64, String, String, String)> {
    block_on(
        query_as("SELECT global_seq, id::text, origin, payload FROM events ORDER BY global_seq")
            .fetch_all(pool),
    )
    .unwrap()
}

#[test]
fn a_backup_restores_a_dropped_journal() {
    let server = server();
    let school = server.school("Лицей");
    let device = server.enrol(school, "ws-entrance");
    server.push(&device, &passages("ws-entrance", 1, 20));
    let before = journal(&server.pool);
    assert_eq!(before.len(), 20);

    let backups = tempfile::tempdir().unwrap();
    // Retention: a backup of 30 days ago goes, one of 3 days ago and a stranger's file stay.
    let old = backups.path().join("schoolcard-test-20200101T000000Z.dump");
    let recent = backups.path().join("schoolcard-test-recent.dump");
    let stranger = backups.path().join("notes.txt");
    for (file, age) in [
        (&old, "30 days ago"),
        (&recent, "3 days ago"),
        (&stranger, "90 days ago"),
    ] {
        std::fs::write(file, b"x").unwrap();
        let touched = Command::new("touch")
            .args(["-d", age])
            .arg(file)
            .status()
            .unwrap();
        assert!(touched.success());
    }
    let output = Command::new(installers().join("schoolcard-server-backup"))
        .env("SCHOOLCARD_BACKUP_DATABASE_URL", &server.app_url)
        .env("SCHOOLCARD_BACKUP_DIR", backups.path())
        .env("SCHOOLCARD_BACKUP_KEEP_DAYS", "14")
        .env("SCHOOLCARD_CONFIG", "/nonexistent/server.toml")
        .env_remove("SCHOOLCARD_SERVER_DATABASE_URL")
        .output()
        .expect("the backup script runs");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{log}");
    assert!(!old.exists(), "the 30-day-old backup is removed: {log}");
    assert!(recent.exists() && stranger.exists(), "{log}");
    let dumps: Vec<PathBuf> = std::fs::read_dir(backups.path())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            name.starts_with("schoolcard-test_") && name.ends_with("Z.dump")
        })
        .collect();
    assert_eq!(
        dumps.len(),
        1,
        "one new backup, named by database and time: {log}"
    );
    let dump = &dumps[0];

    // The damage: the journal is dropped (as the admin: the app role may not).
    block_on(async {
        let admin = db::connect(&server.admin_url).await.unwrap();
        query("DROP TABLE events CASCADE")
            .execute(&admin)
            .await
            .unwrap();
        admin.close().await;
    });
    assert!(
        block_on(query_scalar::<_, i64>("SELECT count(*) FROM events").fetch_one(&server.pool))
            .is_err(),
        "the journal is gone"
    );

    // The restore, as README.md gives it.
    let restored = Command::new("pg_restore")
        .args(["--clean", "--if-exists", "--no-password"])
        .arg(format!("--dbname={}", server.admin_url))
        .arg(dump)
        .output()
        .expect("pg_restore runs");
    assert!(
        restored.status.success(),
        "{}",
        String::from_utf8_lossy(&restored.stderr)
    );
    assert_eq!(journal(&server.pool), before, "every journal row is back");

    // The server carries on over the restored database: its role's grants came back too.
    let next = server.push(&device, &passages("ws-entrance", 21, 2));
    assert_eq!(next.acked_through, 22);
    assert_eq!(journal(&server.pool).len(), 22);
    let refused = block_on(query("DELETE FROM events WHERE global_seq = 1").execute(&server.pool));
    assert!(
        refused.is_err(),
        "the journal is append-only again for the app role"
    );
}

#[test]
fn behind_nginx_each_parent_has_their_own_address_limit() {
    let (server, _mailbox) = crate::portal::portal_server();
    let mut browser = Browser::new(&server);
    let pre = browser.get("/portal/login").field("pre");
    // nginx on loopback names the client in X-Real-IP; each request is a code asked for a
    // different e-mail, so only the address's bucket can run dry.
    let mut ask = |client: &str, at: usize| {
        let result = browser
            .agent
            .post(&format!("{}/portal/code/request", server.url))
            .set("cookie", &browser.cookie_header())
            .set(http::REAL_IP_HEADER, client)
            .send_form(&[("email", &format!("parent{at}@example.ru")), ("pre", &pre)]);
        browser.answer(result).status
    };
    let burst = schoolcard_server::portal::auth::PER_ADDRESS_BURST as usize;
    let crowded: Vec<u16> = (0..burst + 3).map(|at| ask("203.0.113.7", at)).collect();
    assert!(
        crowded[..burst].iter().all(|status| *status == 303),
        "{crowded:?}"
    );
    assert_eq!(crowded.last(), Some(&429), "{crowded:?}");
    // Another parent behind the same proxy is not held back by the first one's attempts.
    assert_eq!(ask("203.0.113.8", 1_000), 303);
}
