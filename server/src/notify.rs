//! Notifications to parents (issue 7): what happened to their child, by e-mail and by
//! signed webhook (for messengers and the school's own systems).
//!
//! - [`enqueue_pending`] reads the children's feed (the portal's projection of the
//!   journal) past its own cursor and writes one notification per parent, channel and fact
//!   the parent asked for, into the `notifications` outbox, in the same transaction as the
//!   cursor. A `dedup_key` makes a repeat harmless. A low balance is told once per
//!   crossing of the parent's threshold (`low_balance_state`), read from the ledger at
//!   the fact's position.
//! - [`deliver_due`] sends the head of each stream (one parent, channel and child) whose
//!   time has come: a failure is retried with exponential back-off and holds back the
//!   facts after it, so a parent hears of their child's day in order even after an
//!   outage; quiet hours (in the school's time zone) postpone without reordering; after
//!   [`ATTEMPTS_MAX`] failures the fact is given up (kept, with its last error) and the
//!   stream moves on.
//! - [`run`] does both every couple of seconds until shut down.

use crate::error::ApiError;
use crate::mail::Mailer;
use chrono::{DateTime, NaiveTime, Utc};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use sqlx_core::query::query;
use sqlx_core::query_as::query_as;
use sqlx_core::query_scalar::query_scalar;
use sqlx_postgres::{PgConnection, PgPool};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// The notifier's cursor in `projector_state`.
const CURSOR: &str = "notify";
/// Feed rows read per transaction.
const BATCH: i64 = 1_000;
/// Failures before a fact is given up and its stream moves on.
pub const ATTEMPTS_MAX: i32 = 12;
/// The first retry after a failure; doubled each time, at most [`RETRY_MAX`].
const RETRY_FIRST: Duration = Duration::from_secs(10);
const RETRY_MAX: Duration = Duration::from_secs(3_600);
/// A webhook that does not answer within this is a failure.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(5);
/// The header a webhook's HMAC-SHA256 of the body travels in: `sha256=<hex>`.
pub const SIGNATURE_HEADER: &str = "x-schoolcard-signature";
/// The header naming the delivery (the same on every retry of one fact).
pub const DELIVERY_HEADER: &str = "x-schoolcard-delivery";

/// What a parent chose (or the defaults, for one who never opened the settings).
#[derive(Debug, Clone)]
struct Settings {
    email_enabled: bool,
    webhook_url: Option<String>,
    kinds: Vec<String>,
    threshold: i64,
}

impl Settings {
    fn wants(&self, kind: &str) -> bool {
        self.kinds.iter().any(|k| k == kind)
    }

    fn channels(&self) -> Vec<&'static str> {
        let mut channels = Vec::new();
        if self.email_enabled {
            channels.push("email");
        }
        if self.webhook_url.as_deref().is_some_and(|u| !u.is_empty()) {
            channels.push("webhook");
        }
        channels
    }
}

/// The notification kind a feed row makes, if any.
fn kind_of(feed_kind: &str) -> Option<&'static str> {
    match feed_kind {
        "entry" => Some("entry"),
        "exit" => Some("exit"),
        "meal" => Some("meal"),
        "purchase" | "refund" => Some("purchase"),
        "library_due" => Some("library_due"),
        _ => None,
    }
}

/// Feed kinds that move money: after each, the balance is held against the threshold.
fn moves_money(feed_kind: &str) -> bool {
    matches!(
        feed_kind,
        "purchase" | "refund" | "top_up" | "correction" | "pre_order" | "pre_order_cancelled"
    )
}

/// One feed row with what the notice needs of the child and the school.
#[derive(Debug, Clone)]
struct Fact {
    school_id: Uuid,
    person_id: String,
    global_seq: i64,
    at: DateTime<Utc>,
    kind: String,
    title: String,
    amount: Option<i64>,
    child: String,
    class: String,
    time_zone: String,
}

/// Turns new feed rows into notifications; returns how many feed rows it read.
pub async fn enqueue_pending(pool: &PgPool, portal_url: &str) -> Result<u64, ApiError> {
    let mut read = 0;
    loop {
        let mut tx = pool.begin().await?;
        query("INSERT INTO projector_state (name, cursor) VALUES ($1, 0) ON CONFLICT DO NOTHING")
            .bind(CURSOR)
            .execute(&mut *tx)
            .await?;
        let cursor: i64 =
            query_scalar("SELECT cursor FROM projector_state WHERE name = $1 FOR UPDATE")
                .bind(CURSOR)
                .fetch_one(&mut *tx)
                .await?;
        type Row = (
            Uuid,
            String,
            i64,
            DateTime<Utc>,
            String,
            String,
            Option<i64>,
            String,
            String,
            String,
            Option<String>,
        );
        let rows: Vec<Row> = query_as(
            "SELECT f.school_id, f.person_id, f.global_seq, f.at, f.kind, f.title, f.amount,
                    s.time_zone, coalesce(p.name, ''), coalesce(p.surname, ''),
                    (SELECT c.grade || c.letter FROM school_classes c
                      WHERE c.school_id = p.school_id AND c.class_id = p.class_id)
             FROM feed f
             JOIN schools s ON s.id = f.school_id
             LEFT JOIN school_persons p ON p.school_id = f.school_id AND p.person_id = f.person_id
             WHERE f.global_seq > $1
             ORDER BY f.global_seq, f.person_id
             LIMIT $2",
        )
        .bind(cursor)
        .bind(BATCH)
        .fetch_all(&mut *tx)
        .await?;
        let Some(last) = rows.last().map(|r| r.2) else {
            tx.commit().await?;
            return Ok(read);
        };
        // A batch ends on a whole global seq, so no fact is split across two.
        let whole: Vec<Row> = if rows.len() as i64 == BATCH {
            let cut = rows.iter().filter(|r| r.2 == last).count();
            if cut == rows.len() {
                rows
            } else {
                rows.into_iter().filter(|r| r.2 != last).collect()
            }
        } else {
            rows
        };
        let new_cursor = whole.last().map_or(cursor, |r| r.2);
        for (
            school_id,
            person_id,
            global_seq,
            at,
            kind,
            title,
            amount,
            time_zone,
            name,
            surname,
            class,
        ) in whole
        {
            read += 1;
            let fact = Fact {
                school_id,
                person_id,
                global_seq,
                at,
                kind,
                title,
                amount,
                child: format!("{name} {surname}").trim().to_owned(),
                class: class.unwrap_or_default(),
                time_zone,
            };
            enqueue_fact(&mut tx, &fact, portal_url).await?;
        }
        query("UPDATE projector_state SET cursor = $2 WHERE name = $1")
            .bind(CURSOR)
            .bind(new_cursor)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
}

/// The parents of a child with what they chose.
async fn parents_of(
    tx: &mut PgConnection,
    school_id: Uuid,
    person_id: &str,
) -> Result<Vec<(Uuid, String, Settings)>, ApiError> {
    type Row = (
        Uuid,
        String,
        Option<bool>,
        Option<String>,
        Option<Vec<String>>,
        Option<i64>,
    );
    let rows: Vec<Row> = query_as(
        "SELECT DISTINCT pa.id, pa.email, s.email_enabled, s.webhook_url, s.kinds, s.low_balance_threshold
         FROM guardianship g
         JOIN school_persons gp ON gp.school_id = g.school_id AND gp.person_id = g.guardian_id
         JOIN parents pa ON pa.email = gp.email
         LEFT JOIN parent_notify_settings s ON s.parent_id = pa.id
         WHERE g.school_id = $1 AND g.pupil_id = $2",
    )
    .bind(school_id)
    .bind(person_id)
    .fetch_all(&mut *tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, email, enabled, webhook, kinds, threshold)| {
            let settings = Settings {
                email_enabled: enabled.unwrap_or(true),
                webhook_url: webhook,
                // A parent who never saved settings gets every kind, as the settings page
                // shows them ticked (`portal::pages::NotifySettings::default`).
                kinds: kinds.unwrap_or_else(|| {
                    crate::portal::pages::NOTIFY_KINDS
                        .iter()
                        .map(|(kind, _)| (*kind).to_owned())
                        .collect()
                }),
                threshold: threshold.unwrap_or(10_000),
            };
            (id, email, settings)
        })
        .collect())
}

async fn enqueue_fact(
    tx: &mut PgConnection,
    fact: &Fact,
    portal_url: &str,
) -> Result<(), ApiError> {
    let parents = parents_of(tx, fact.school_id, &fact.person_id).await?;
    if parents.is_empty() {
        return Ok(());
    }
    let local = local_time(fact.at, &fact.time_zone);
    let who = if fact.class.is_empty() {
        fact.child.clone()
    } else {
        format!("{}, {}", fact.child, fact.class)
    };
    let balance = if moves_money(&fact.kind) {
        Some(
            query_scalar::<_, i64>(
                "SELECT coalesce(sum(amount), 0)::bigint FROM ledger
                 WHERE school_id = $1 AND person_id = $2 AND global_seq <= $3",
            )
            .bind(fact.school_id)
            .bind(&fact.person_id)
            .bind(fact.global_seq)
            .fetch_one(&mut *tx)
            .await?,
        )
    } else {
        None
    };
    for (parent_id, _email, settings) in parents {
        if let Some(kind) = kind_of(&fact.kind).filter(|k| settings.wants(k)) {
            let amount = fact
                .amount
                .map(|a| format!(", {}", rubles(a)))
                .unwrap_or_default();
            let subject = format!(
                "{}: {} {}",
                first_word(&fact.child),
                fact.title,
                local.format("%H:%M")
            );
            let body = format!(
                "{who}\n{}{amount}\n{}\n\nНастроить уведомления: {portal_url}/portal/settings\n",
                fact.title,
                local.format("%d.%m.%Y %H:%M"),
            );
            let payload = json!({
                "kind": kind, "school_id": fact.school_id, "person_id": fact.person_id,
                "child": fact.child, "class": fact.class, "at": fact.at, "title": fact.title,
                "amount": fact.amount, "global_seq": fact.global_seq,
            });
            for channel in settings.channels() {
                insert(
                    tx, parent_id, fact, channel, kind, &subject, &body, &payload,
                )
                .await?;
            }
        }
        if let Some(balance) = balance {
            let was_below: Option<bool> = query_scalar(
                "SELECT below FROM low_balance_state
                 WHERE parent_id = $1 AND school_id = $2 AND person_id = $3",
            )
            .bind(parent_id)
            .bind(fact.school_id)
            .bind(&fact.person_id)
            .fetch_optional(&mut *tx)
            .await?;
            let below = balance < settings.threshold;
            query(
                "INSERT INTO low_balance_state (parent_id, school_id, person_id, below)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (parent_id, school_id, person_id) DO UPDATE SET below = excluded.below",
            )
            .bind(parent_id)
            .bind(fact.school_id)
            .bind(&fact.person_id)
            .bind(below)
            .execute(&mut *tx)
            .await?;
            if below && was_below != Some(true) && settings.wants("low_balance") {
                let subject = format!(
                    "{}: на балансе {}",
                    first_word(&fact.child),
                    rubles(balance)
                );
                let body = format!(
                    "{who}\nНа балансе {} — меньше {}, которые вы указали.\nПополнить: {portal_url}/portal\n",
                    rubles(balance),
                    rubles(settings.threshold),
                );
                let payload = json!({
                    "kind": "low_balance", "school_id": fact.school_id, "person_id": fact.person_id,
                    "child": fact.child, "class": fact.class, "at": fact.at, "balance": balance,
                    "threshold": settings.threshold, "global_seq": fact.global_seq,
                });
                for channel in settings.channels() {
                    insert(
                        tx,
                        parent_id,
                        fact,
                        channel,
                        "low_balance",
                        &subject,
                        &body,
                        &payload,
                    )
                    .await?;
                }
            }
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn insert(
    tx: &mut PgConnection,
    parent_id: Uuid,
    fact: &Fact,
    channel: &str,
    kind: &str,
    subject: &str,
    body: &str,
    payload: &Value,
) -> Result<(), ApiError> {
    let dedup = format!(
        "{channel}:{parent_id}:{}:{}:{}:{kind}",
        fact.school_id, fact.person_id, fact.global_seq
    );
    query(
        "INSERT INTO notifications (parent_id, school_id, person_id, global_seq, channel, kind,
                                    subject, body, payload, dedup_key, next_attempt_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, least($11, now()))
         ON CONFLICT (dedup_key) DO NOTHING",
    )
    .bind(parent_id)
    .bind(fact.school_id)
    .bind(&fact.person_id)
    .bind(fact.global_seq)
    .bind(channel)
    .bind(kind)
    .bind(subject)
    .bind(body)
    .bind(payload)
    .bind(dedup)
    .bind(fact.at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

fn first_word(name: &str) -> &str {
    name.split_whitespace().next().unwrap_or(name)
}

/// `4550` → `45,50 ₽`; `-4550` → `−45,50 ₽`.
pub fn rubles(kopecks: i64) -> String {
    let sign = if kopecks < 0 { "−" } else { "" };
    let abs = kopecks.unsigned_abs();
    format!("{sign}{},{:02} ₽", abs / 100, abs % 100)
}

fn local_time(at: DateTime<Utc>, time_zone: &str) -> chrono::NaiveDateTime {
    match time_zone.parse::<chrono_tz::Tz>() {
        Ok(tz) => at.with_timezone(&tz).naive_local(),
        Err(_) => at.naive_utc(),
    }
}

/// What one call of [`deliver_due`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delivery {
    pub delivered: u64,
    pub failed: u64,
    pub postponed: u64,
    pub given_up: u64,
}

/// The head of one stream, with where it goes.
struct Head {
    id: i64,
    channel: String,
    subject: String,
    body: String,
    payload: Value,
    attempts: i32,
    next_attempt_at: DateTime<Utc>,
    email: String,
    webhook_url: Option<String>,
    webhook_secret: Option<String>,
    quiet: Option<(NaiveTime, NaiveTime)>,
    time_zone: String,
}

/// Sends what is due, in order per stream; returns what it did.
pub async fn deliver_due(
    pool: &PgPool,
    mailer: Arc<dyn Mailer>,
    now: DateTime<Utc>,
) -> Result<Delivery, ApiError> {
    let mut report = Delivery::default();
    // Each round sends at most the head of every stream; a delivered head lets the next
    // fact of its stream come up in the following round.
    loop {
        type Row = (
            i64,
            String,
            String,
            String,
            Value,
            i32,
            DateTime<Utc>,
            String,
            Option<String>,
            Option<String>,
            Option<NaiveTime>,
            Option<NaiveTime>,
            String,
        );
        let heads: Vec<Row> = query_as(
            "SELECT DISTINCT ON (n.parent_id, n.channel, n.school_id, n.person_id)
                    n.id, n.channel, n.subject, n.body, n.payload, n.attempts, n.next_attempt_at,
                    pa.email, s.webhook_url, s.webhook_secret, s.quiet_from, s.quiet_to, sc.time_zone
             FROM notifications n
             JOIN parents pa ON pa.id = n.parent_id
             JOIN schools sc ON sc.id = n.school_id
             LEFT JOIN parent_notify_settings s ON s.parent_id = n.parent_id
             WHERE n.delivered_at IS NULL AND n.given_up_at IS NULL
             ORDER BY n.parent_id, n.channel, n.school_id, n.person_id, n.global_seq, n.id",
        )
        .fetch_all(pool)
        .await?;
        let due: Vec<Head> = heads
            .into_iter()
            .map(|r| Head {
                id: r.0,
                channel: r.1,
                subject: r.2,
                body: r.3,
                payload: r.4,
                attempts: r.5,
                next_attempt_at: r.6,
                email: r.7,
                webhook_url: r.8,
                webhook_secret: r.9,
                quiet: r.10.zip(r.11),
                time_zone: r.12,
            })
            .filter(|h| h.next_attempt_at <= now)
            .collect();
        if due.is_empty() {
            return Ok(report);
        }
        let mut sent_any = false;
        for head in due {
            if let Some(until) = quiet_until(&head, now) {
                query("UPDATE notifications SET next_attempt_at = $2 WHERE id = $1")
                    .bind(head.id)
                    .bind(until)
                    .execute(pool)
                    .await?;
                report.postponed += 1;
                continue;
            }
            match send(&head, mailer.clone()).await {
                Ok(()) => {
                    query("UPDATE notifications SET delivered_at = $2, attempts = attempts + 1, last_error = '' WHERE id = $1")
                        .bind(head.id)
                        .bind(now)
                        .execute(pool)
                        .await?;
                    report.delivered += 1;
                    sent_any = true;
                }
                Err(error) => {
                    let attempts = head.attempts + 1;
                    let give_up = attempts >= ATTEMPTS_MAX;
                    let retry = RETRY_FIRST
                        .saturating_mul(1u32 << (attempts - 1).clamp(0, 20))
                        .min(RETRY_MAX);
                    query(
                        "UPDATE notifications SET attempts = $2, last_error = $3,
                             next_attempt_at = $4, given_up_at = CASE WHEN $5 THEN $6 END
                         WHERE id = $1",
                    )
                    .bind(head.id)
                    .bind(attempts)
                    .bind(&error)
                    .bind(now + chrono::Duration::from_std(retry).unwrap_or_default())
                    .bind(give_up)
                    .bind(now)
                    .execute(pool)
                    .await?;
                    tracing::warn!(id = head.id, channel = %head.channel, attempts, %error, "a notification failed");
                    if give_up {
                        report.given_up += 1;
                        sent_any = true;
                    } else {
                        report.failed += 1;
                    }
                }
            }
        }
        if !sent_any {
            return Ok(report);
        }
    }
}

/// When the parent's quiet hours end, if `now` falls in them (school time; hours over
/// midnight, 22:00–07:00, work).
fn quiet_until(head: &Head, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let (from, to) = head.quiet?;
    quiet_end(from, to, head.time_zone.parse().ok()?, now)
}

/// The end of quiet hours `from`–`to` in `tz` if `now` falls in them, else `None`.
pub fn quiet_end(
    from: NaiveTime,
    to: NaiveTime,
    tz: chrono_tz::Tz,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let local = now.with_timezone(&tz);
    let t = local.time();
    let inside = if from <= to {
        t >= from && t < to
    } else {
        t >= from || t < to
    };
    if !inside {
        return None;
    }
    let mut end_day = local.date_naive();
    if from > to && t >= from {
        end_day = end_day.succ_opt()?;
    }
    let end = end_day.and_time(to).and_local_timezone(tz).earliest()?;
    Some(end.with_timezone(&Utc))
}

async fn send(head: &Head, mailer: Arc<dyn Mailer>) -> Result<(), String> {
    match head.channel.as_str() {
        "email" => {
            let (to, subject, body) = (head.email.clone(), head.subject.clone(), head.body.clone());
            tokio::task::spawn_blocking(move || mailer.send(&to, &subject, &body))
                .await
                .map_err(|e| format!("the mail thread failed: {e}"))?
        }
        "webhook" => {
            let url = head.webhook_url.clone().ok_or("no webhook address")?;
            let body = head.payload.to_string();
            let signature = sign(
                head.webhook_secret.as_deref().unwrap_or(""),
                body.as_bytes(),
            );
            let delivery = head.id.to_string();
            tokio::task::spawn_blocking(move || {
                let agent = ureq::AgentBuilder::new().timeout(WEBHOOK_TIMEOUT).build();
                agent
                    .post(&url)
                    .set("content-type", "application/json")
                    .set(SIGNATURE_HEADER, &signature)
                    .set(DELIVERY_HEADER, &delivery)
                    .send_string(&body)
                    .map(|_| ())
                    .map_err(|e| format!("webhook: {e}"))
            })
            .await
            .map_err(|e| format!("the webhook thread failed: {e}"))?
        }
        other => Err(format!("no channel {other}")),
    }
}

/// `sha256=<hex of HMAC-SHA256(secret, body)>`: what a receiver recomputes.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Enqueues and delivers every `period` until `shutdown` fires.
pub async fn run(
    pool: PgPool,
    mailer: Arc<dyn Mailer>,
    portal_url: String,
    period: Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        if let Err(e) = enqueue_pending(&pool, &portal_url).await {
            tracing::error!(error = %e.message, "notifications cannot be enqueued");
        }
        if let Err(e) = deliver_due(&pool, mailer.clone(), Utc::now()).await {
            tracing::error!(error = %e.message, "notifications cannot be delivered");
        }
        tokio::select! {
            _ = tokio::time::sleep(period) => {}
            _ = shutdown.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn moscow(h: u32, m: u32) -> DateTime<Utc> {
        chrono_tz::Europe::Moscow
            .with_ymd_and_hms(2026, 11, 27, h, m, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn quiet_hours_postpone_to_their_end_even_over_midnight() {
        let t = |h, m| NaiveTime::from_hms_opt(h, m, 0).unwrap();
        let tz = chrono_tz::Europe::Moscow;
        assert_eq!(
            quiet_end(t(22, 0), t(7, 0), tz, moscow(23, 30)),
            Some(moscow(7, 0) + chrono::Duration::days(1))
        );
        assert_eq!(
            quiet_end(t(22, 0), t(7, 0), tz, moscow(6, 59)),
            Some(moscow(7, 0))
        );
        assert_eq!(quiet_end(t(22, 0), t(7, 0), tz, moscow(7, 0)), None);
        assert_eq!(
            quiet_end(t(13, 0), t(14, 0), tz, moscow(13, 15)),
            Some(moscow(14, 0))
        );
        assert_eq!(quiet_end(t(13, 0), t(14, 0), tz, moscow(12, 59)), None);
    }

    #[test]
    fn money_reads_in_rubles_and_webhooks_are_signed() {
        assert_eq!(rubles(4_550), "45,50 ₽");
        assert_eq!(rubles(-1_005), "−10,05 ₽");
        // RFC 4231 test case 2.
        assert_eq!(
            sign("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
