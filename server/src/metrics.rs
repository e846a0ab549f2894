//! What the operator watches: `GET /health` (200 with a short JSON while the database
//! answers and holds every migration, 503 otherwise) and `GET /metrics` in Prometheus'
//! text exposition format.
//!
//! `/metrics` is open to whoever reaches the listen address (loopback by default) unless
//! `metrics_token` is configured; then it wants `Authorization: Bearer <token>`. The
//! example nginx site (`installers/server/nginx-schoolcard.conf`) does not pass it to the
//! internet either way.
//!
//! Every figure is read from the tables at scrape time (nothing is counted in memory, so
//! a restart loses nothing and two servers on one database agree):
//! - `schoolcard_up` — 1 while the process answers;
//! - `schoolcard_database_up` — 1 when the database answered this scrape's queries;
//! - `schoolcard_sync_last_push_timestamp_seconds{school}` and
//!   `schoolcard_sync_lag_seconds{school}` — when the newest event a workstation of the
//!   school pushed was received (`events.received_at`), and how long ago; a school whose
//!   workstations never pushed has neither;
//! - `schoolcard_devices{school,state}` — enrolled workstations, `active` or `revoked`;
//! - `schoolcard_journal_events_total` — events the journal holds (the last global seq);
//! - `schoolcard_notifications_pending{channel}` — notifications not yet delivered nor
//!   given up; `schoolcard_notifications_retrying{channel}` — those of them that failed at
//!   least once; `schoolcard_notifications_given_up_total{channel}` — those given up after
//!   `notify::ATTEMPTS_MAX` failures.

use std::fmt::Write as _;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use sqlx_core::query_as::query_as;
use sqlx_core::query_scalar::query_scalar;
use sqlx_postgres::PgPool;
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::http::AppState;

/// A health check or a scrape waits this long for the database: a monitor polls every
/// few seconds and must hear «down» before its own time-out (Prometheus' default is 10 s),
/// not after the pool's 10-second acquire time-out.
pub const DATABASE_TIMEOUT_MS: u64 = 3_000;

/// The content type of the text exposition format, version 0.0.4.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The routes, merged into `http::router`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/health", get(health_route))
        .route("/metrics", get(metrics_route))
}

async fn health_route(State(state): State<AppState>) -> Response {
    let checked = tokio::time::timeout(
        Duration::from_millis(DATABASE_TIMEOUT_MS),
        crate::db::ready(&state.pool),
    )
    .await
    .unwrap_or_else(|_| {
        Err(format!(
            "the database did not answer within {DATABASE_TIMEOUT_MS} ms"
        ))
    });
    let version = env!("CARGO_PKG_VERSION");
    match checked {
        Ok(()) => (
            StatusCode::OK,
            Json(json!({
                "status": "ok",
                "database": "ok",
                "migration": crate::db::latest_migration(),
                "version": version,
            })),
        )
            .into_response(),
        Err(message) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unavailable", "database": message, "version": version})),
        )
            .into_response(),
    }
}

async fn metrics_route(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(token) = &state.metrics_token {
        if !bearer_matches(&headers, token) {
            return ApiError::unauthorized(
                "/metrics wants `Authorization: Bearer <metrics_token>`",
            )
            .into_response();
        }
    }
    let figures = tokio::time::timeout(
        Duration::from_millis(DATABASE_TIMEOUT_MS),
        read_figures(&state.pool),
    )
    .await;
    let figures = match figures {
        Ok(Ok(figures)) => Some(figures),
        Ok(Err(error)) => {
            tracing::warn!(%error, "/metrics: the database did not answer");
            None
        }
        Err(_) => {
            tracing::warn!("/metrics: the database did not answer within {DATABASE_TIMEOUT_MS} ms");
            None
        }
    };
    let now_s = chrono::Utc::now().timestamp_micros() as f64 / 1e6;
    (
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        exposition(figures.as_ref(), now_s),
    )
        .into_response()
}

fn bearer_matches(headers: &HeaderMap, token: &str) -> bool {
    let Some(given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
    else {
        return false;
    };
    given.trim().as_bytes().ct_eq(token.as_bytes()).into()
}

/// What one scrape read from the database.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Figures {
    /// (school id, unix seconds the newest workstation event was received).
    pub last_push_s: Vec<(String, f64)>,
    /// (school id, `active` | `revoked`, count).
    pub devices: Vec<(String, &'static str, i64)>,
    pub journal_events: i64,
    /// Per channel: (channel, pending, retrying, given up).
    pub notifications: Vec<(String, i64, i64, i64)>,
}

/// The channels a notification can take (the `notifications.channel` CHECK): each is
/// reported, at 0 when it holds nothing, so a dashboard's series never vanish.
const CHANNELS: [&str; 2] = ["email", "webhook"];

async fn read_figures(pool: &PgPool) -> Result<Figures, sqlx_core::Error> {
    // Per school, the newest event of one of its workstations (not the server's own): a
    // backward walk of `events_school_seq` that stops at the first such row.
    let last_push_s: Vec<(String, f64)> = query_as(
        "SELECT s.id::text, extract(epoch FROM newest.received_at)::float8
         FROM schools s
         CROSS JOIN LATERAL (
             SELECT e.received_at FROM events e
             WHERE e.school_id = s.id
               AND e.origin IN (SELECT d.id FROM devices d WHERE d.school_id = s.id)
             ORDER BY e.global_seq DESC LIMIT 1
         ) newest
         ORDER BY s.id",
    )
    .fetch_all(pool)
    .await?;
    let device_rows: Vec<(String, bool, i64)> = query_as(
        "SELECT school_id::text, revoked_at IS NOT NULL, count(*)
         FROM devices GROUP BY 1, 2 ORDER BY 1, 2",
    )
    .fetch_all(pool)
    .await?;
    let journal_events: i64 = query_scalar("SELECT last FROM global_seq_counter")
        .fetch_one(pool)
        .await?;
    let notification_rows: Vec<(String, i64, i64, i64)> = query_as(
        "SELECT channel,
                count(*) FILTER (WHERE delivered_at IS NULL AND given_up_at IS NULL),
                count(*) FILTER (WHERE delivered_at IS NULL AND given_up_at IS NULL AND attempts > 0),
                count(*) FILTER (WHERE given_up_at IS NOT NULL)
         FROM notifications
         WHERE delivered_at IS NULL
         GROUP BY channel",
    )
    .fetch_all(pool)
    .await?;
    let notifications = CHANNELS
        .iter()
        .map(|channel| {
            notification_rows
                .iter()
                .find(|row| row.0 == *channel)
                .cloned()
                .unwrap_or(((*channel).to_owned(), 0, 0, 0))
        })
        .collect();
    Ok(Figures {
        last_push_s,
        devices: device_rows
            .into_iter()
            .map(|(school, revoked, count)| {
                (school, if revoked { "revoked" } else { "active" }, count)
            })
            .collect(),
        journal_events,
        notifications,
    })
}

/// The text exposition of `figures` (`None`: the database did not answer) at `now_s`.
pub fn exposition(figures: Option<&Figures>, now_s: f64) -> String {
    let mut text = String::new();
    let one = |value: String| vec![(String::new(), value)];
    family(
        &mut text,
        "schoolcard_up",
        "gauge",
        "1 while the server answers.",
        &one("1".into()),
    );
    family(
        &mut text,
        "schoolcard_database_up",
        "gauge",
        "1 when the database answered this scrape.",
        &one(if figures.is_some() { "1" } else { "0" }.into()),
    );
    let Some(figures) = figures else {
        return text;
    };
    let school = |id: &str| format!("{{school=\"{}\"}}", escape(id));
    family(
        &mut text,
        "schoolcard_sync_last_push_timestamp_seconds",
        "gauge",
        "When the newest event a workstation of the school pushed was received (unix seconds).",
        &figures
            .last_push_s
            .iter()
            .map(|(id, at)| (school(id), format!("{at:.6}")))
            .collect::<Vec<_>>(),
    );
    family(
        &mut text,
        "schoolcard_sync_lag_seconds",
        "gauge",
        "Seconds since the school's workstations last pushed an event.",
        &figures
            .last_push_s
            .iter()
            .map(|(id, at)| (school(id), format!("{:.3}", (now_s - at).max(0.0))))
            .collect::<Vec<_>>(),
    );
    family(
        &mut text,
        "schoolcard_devices",
        "gauge",
        "Enrolled workstations by school and state (active, revoked).",
        &figures
            .devices
            .iter()
            .map(|(id, state, count)| {
                (
                    format!("{{school=\"{}\",state=\"{state}\"}}", escape(id)),
                    count.to_string(),
                )
            })
            .collect::<Vec<_>>(),
    );
    family(
        &mut text,
        "schoolcard_journal_events_total",
        "counter",
        "Events the central journal holds (its last global sequence number).",
        &one(figures.journal_events.to_string()),
    );
    let by_channel = |pick: fn(&(String, i64, i64, i64)) -> i64| {
        figures
            .notifications
            .iter()
            .map(|row| {
                (
                    format!("{{channel=\"{}\"}}", escape(&row.0)),
                    pick(row).to_string(),
                )
            })
            .collect::<Vec<_>>()
    };
    family(
        &mut text,
        "schoolcard_notifications_pending",
        "gauge",
        "Notifications to parents neither delivered nor given up.",
        &by_channel(|row| row.1),
    );
    family(
        &mut text,
        "schoolcard_notifications_retrying",
        "gauge",
        "Pending notifications whose delivery failed at least once.",
        &by_channel(|row| row.2),
    );
    family(
        &mut text,
        "schoolcard_notifications_given_up_total",
        "counter",
        "Notifications given up after too many failed deliveries.",
        &by_channel(|row| row.3),
    );
    text
}

/// One metric family: its help, its type and its samples (`labels` as `{a="b"}` or empty).
fn family(text: &mut String, name: &str, kind: &str, help: &str, samples: &[(String, String)]) {
    let _ = writeln!(text, "# HELP {name} {help}");
    let _ = writeln!(text, "# TYPE {name} {kind}");
    for (labels, value) in samples {
        let _ = writeln!(text, "{name}{labels} {value}");
    }
}

/// A label value as the exposition format wants it.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_names_each_family_once_and_labels_its_samples() {
        let figures = Figures {
            last_push_s: vec![("s-1".into(), 100.0)],
            devices: vec![("s-1".into(), "active", 2)],
            journal_events: 7,
            notifications: vec![("email".into(), 3, 1, 4), ("webhook".into(), 0, 0, 0)],
        };
        let text = exposition(Some(&figures), 160.5);
        let expected = "\
# HELP schoolcard_up 1 while the server answers.
# TYPE schoolcard_up gauge
schoolcard_up 1
# HELP schoolcard_database_up 1 when the database answered this scrape.
# TYPE schoolcard_database_up gauge
schoolcard_database_up 1
# HELP schoolcard_sync_last_push_timestamp_seconds When the newest event a workstation of the school pushed was received (unix seconds).
# TYPE schoolcard_sync_last_push_timestamp_seconds gauge
schoolcard_sync_last_push_timestamp_seconds{school=\"s-1\"} 100.000000
# HELP schoolcard_sync_lag_seconds Seconds since the school's workstations last pushed an event.
# TYPE schoolcard_sync_lag_seconds gauge
schoolcard_sync_lag_seconds{school=\"s-1\"} 60.500
# HELP schoolcard_devices Enrolled workstations by school and state (active, revoked).
# TYPE schoolcard_devices gauge
schoolcard_devices{school=\"s-1\",state=\"active\"} 2
# HELP schoolcard_journal_events_total Events the central journal holds (its last global sequence number).
# TYPE schoolcard_journal_events_total counter
schoolcard_journal_events_total 7
# HELP schoolcard_notifications_pending Notifications to parents neither delivered nor given up.
# TYPE schoolcard_notifications_pending gauge
schoolcard_notifications_pending{channel=\"email\"} 3
schoolcard_notifications_pending{channel=\"webhook\"} 0
# HELP schoolcard_notifications_retrying Pending notifications whose delivery failed at least once.
# TYPE schoolcard_notifications_retrying gauge
schoolcard_notifications_retrying{channel=\"email\"} 1
schoolcard_notifications_retrying{channel=\"webhook\"} 0
# HELP schoolcard_notifications_given_up_total Notifications given up after too many failed deliveries.
# TYPE schoolcard_notifications_given_up_total counter
schoolcard_notifications_given_up_total{channel=\"email\"} 4
schoolcard_notifications_given_up_total{channel=\"webhook\"} 0
";
        assert_eq!(text, expected);
        let down = exposition(None, 0.0);
        assert!(down.ends_with("schoolcard_database_up 0\n"), "{down}");
        assert_eq!(escape("a\"b\\c"), "a\\\"b\\\\c");
    }
}
