//! Push throughput over loopback HTTP against `COPY` of the same rows into the same table,
//! on a throwaway cluster (fsync on). Not the project's benchmark (`make bench`); a quick
//! figure while working on the push path:
//!
//!     cargo run -p schoolcard-server --release --example push_throughput -- [events] [batch] [devices]

use std::time::Instant;

use schoolcard_proto::sync::{
    EnrolRequest, PushRequest, WireEvent, PROTOCOL_HEADER, PROTOCOL_VERSION,
};
use schoolcard_server::{admin, db, http, AppState, ThrowawayCluster};
use sqlx_postgres::PgPoolCopyExt;

fn arg(at: usize, default: usize) -> usize {
    std::env::args()
        .nth(at)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

fn events(origin: &str, first: u64, count: u64) -> Vec<WireEvent> {
    (first..first + count)
        .map(|seq| WireEvent {
            id: uuid::Uuid::now_v7().to_string(),
            origin: origin.into(),
            origin_seq: seq,
            occurred_at_us: 1_790_000_000_000_000 + seq as i64,
            actor: "guard".into(),
            kind: if seq % 10 == 0 { "sale_made" } else { "passage" }.into(),
            payload: if seq % 10 == 0 {
                format!(r#"{{"sale_id":"{origin}-{seq}","person_id":"p{}","school_date":"2026-09-01","lines":[],"total":4500}}"#, seq % 500)
            } else {
                format!(r#"{{"card":"0A1B2C{seq:08}","reader":"r1","direction":"in","decision":"allowed"}}"#)
            },
        })
        .collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let total = arg(1, 100_000) as u64;
    let batch = arg(2, 1_500) as u64;
    let devices = arg(3, 4) as u64;
    let per_device = total / devices;
    let cluster = ThrowawayCluster::start()?;
    let runtime = tokio::runtime::Runtime::new()?;
    let (server, credentials, school, admin_url) = runtime.block_on(async {
        let admin_url = db::create_database(&cluster.admin_url(), "throughput").await?;
        db::db_setup(&admin_url, "schoolcard_app", "p").await?;
        let pool = db::connect(&db::url_as(&admin_url, "schoolcard_app", "p")?).await?;
        let school = admin::create_school(&pool, "Школа", "Europe/Moscow").await?;
        let mut credentials = Vec::new();
        for i in 0..devices {
            let code = admin::issue_enrolment_code(&pool, school.id, None).await?;
            let answer = admin::enrol_device(
                &pool,
                &EnrolRequest {
                    code: code.code,
                    device_id: format!("ws-{i}"),
                    name: String::new(),
                    app_version: String::new(),
                },
            )
            .await?;
            credentials.push((answer.device_id, answer.secret));
        }
        let server = http::spawn(AppState::new(pool), "127.0.0.1:0").await?;
        Ok::<_, Box<dyn std::error::Error>>((server, credentials, school, admin_url))
    })?;

    // Bodies built before the clock starts: the figure is the server's, not the client's.
    let bodies: Vec<Vec<String>> = credentials
        .iter()
        .map(|(device, _)| {
            (0..per_device.div_ceil(batch))
                .map(|b| {
                    let first = b * batch + 1;
                    let count = batch.min(per_device - b * batch);
                    serde_json::to_string(&PushRequest {
                        origin: device.clone(),
                        seen_through: 0,
                        events: events(device, first, count),
                    })
                    .unwrap()
                })
                .collect()
        })
        .collect();
    let url = format!("{}/v1/sync/push", server.url);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for ((device, secret), bodies) in credentials.iter().zip(&bodies) {
            let url = &url;
            scope.spawn(move || {
                let agent = ureq::agent();
                for body in bodies {
                    agent
                        .post(url)
                        .set(PROTOCOL_HEADER, &PROTOCOL_VERSION.to_string())
                        .set("authorization", &format!("Device {device}:{secret}"))
                        .set("content-type", "application/json")
                        .send_string(body)
                        .expect("push");
                }
            });
        }
    });
    let push_s = started.elapsed().as_secs_f64();
    let pushed = per_device * devices;

    // COPY of the same rows into an empty copy of the table (same indexes), as the admin.
    let copy_s = runtime.block_on(async {
        let pool = db::connect(&admin_url).await?;
        sqlx_core::query::query("CREATE TABLE events_copy (LIKE events INCLUDING ALL)")
            .execute(&pool)
            .await?;
        let mut csv = String::new();
        let mut global = 0;
        for ((device, _), bodies) in credentials.iter().zip(&bodies) {
            for body in bodies {
                let request: PushRequest = serde_json::from_str(body)?;
                for e in request.events {
                    global += 1;
                    let payload = e.payload.replace('"', "\"\"");
                    csv.push_str(&format!(
                        "{global},{},{},{device},{},{},{},{},\"{payload}\",0,2026-11-27 00:00:00+00\n",
                        school.id, e.id, e.origin_seq, e.occurred_at_us, e.actor, e.kind
                    ));
                }
            }
        }
        let started = Instant::now();
        let mut copy = pool
            .copy_in_raw("COPY events_copy (global_seq, school_id, id, origin, origin_seq, occurred_at_us, actor, kind, payload, seen_through, received_at) FROM STDIN (FORMAT csv)")
            .await?;
        copy.send(csv.as_bytes()).await?;
        copy.finish().await?;
        Ok::<_, Box<dyn std::error::Error>>(started.elapsed().as_secs_f64())
    })?;
    let push_rate = pushed as f64 / push_s;
    let copy_rate = pushed as f64 / copy_s;
    println!(
        "push: {pushed} events in batches of {batch} from {devices} devices: {push_s:.2} s, {push_rate:.0} events/s"
    );
    println!(
        "COPY: the same rows: {copy_s:.2} s, {copy_rate:.0} rows/s; push/COPY = {:.2}",
        push_rate / copy_rate
    );
    runtime.block_on(server.stop())?;
    Ok(())
}
