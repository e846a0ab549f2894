//! The portal's projections of the journal: who is whose child, each child's feed, the
//! canteen's catalogue, bans, limits and pre-orders (tables of `0002_portal.sql`), and the
//! library's titles, copies and loans (`0006_library.sql`; a loan keeps the seq of the last
//! event applied to it, so a replay renews or closes nothing twice).
//!
//! [`project_pending`] reads the events past `projector_state('portal').cursor` in global
//! order and applies them in one transaction with the cursor, so a crash applies a batch
//! whole or not at all, and a second run finds nothing to do. The cursor row is locked
//! first, so two runs (the background task and a test) never apply the same batch twice.
//! Payloads are read as JSON in the shapes `schoolcard-core`'s `EventBody` writes; kinds
//! the portal does not show are skipped, and so is an event whose payload does not read
//! (logged): the journal keeps it, a later build may read it on a rebuild.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{json, Value};
use sqlx_core::query::query;
use sqlx_core::query_as::query_as;
use sqlx_core::query_scalar::query_scalar;
use sqlx_postgres::{PgConnection, PgPool};
use uuid::Uuid;

use crate::portal::rub;

/// The projector's row in `projector_state`.
pub const PROJECTOR_NAME: &str = "portal";
/// Events per transaction: big enough to catch up quickly after a city's morning, small
/// enough that one transaction stays short.
pub const PROJECT_BATCH_EVENTS: i64 = 2_000;

/// Applies every event past the cursor; answers how many events were read.
pub async fn project_pending(pool: &PgPool) -> Result<u64, sqlx_core::Error> {
    let mut total = 0u64;
    loop {
        let read = project_batch(pool).await?;
        total += read;
        if read < PROJECT_BATCH_EVENTS as u64 {
            return Ok(total);
        }
    }
}

type EventRow = (i64, Uuid, i64, String, String);

async fn project_batch(pool: &PgPool) -> Result<u64, sqlx_core::Error> {
    let mut tx = pool.begin().await?;
    query("INSERT INTO projector_state (name) VALUES ($1) ON CONFLICT (name) DO NOTHING")
        .bind(PROJECTOR_NAME)
        .execute(&mut *tx)
        .await?;
    let cursor: i64 = query_scalar("SELECT cursor FROM projector_state WHERE name = $1 FOR UPDATE")
        .bind(PROJECTOR_NAME)
        .fetch_one(&mut *tx)
        .await?;
    let rows: Vec<EventRow> = query_as(
        "SELECT global_seq, school_id, occurred_at_us, kind, payload FROM events
         WHERE global_seq > $1 ORDER BY global_seq LIMIT $2",
    )
    .bind(cursor)
    .bind(PROJECT_BATCH_EVENTS)
    .fetch_all(&mut *tx)
    .await?;
    let Some(last) = rows.last().map(|row| row.0) else {
        tx.rollback().await?;
        return Ok(0);
    };
    for (global_seq, school_id, occurred_at_us, kind, payload) in &rows {
        let Ok(payload) = serde_json::from_str::<Value>(payload) else {
            tracing::warn!(
                global_seq,
                kind,
                "projector: the payload is not JSON; skipped"
            );
            continue;
        };
        let at = DateTime::<Utc>::from_timestamp_micros(*occurred_at_us).unwrap_or_default();
        let event = Event {
            global_seq: *global_seq,
            school_id: *school_id,
            at,
            kind,
            payload: &payload,
        };
        if let Err(Unreadable(field)) = apply(&mut tx, &event).await? {
            tracing::warn!(
                global_seq,
                kind,
                field,
                "projector: the payload lacks a field; skipped"
            );
        }
    }
    query("UPDATE projector_state SET cursor = $2 WHERE name = $1")
        .bind(PROJECTOR_NAME)
        .bind(last)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(rows.len() as u64)
}

struct Event<'a> {
    global_seq: i64,
    school_id: Uuid,
    at: DateTime<Utc>,
    kind: &'a str,
    payload: &'a Value,
}

/// A payload field the projector needs is missing or of the wrong type.
struct Unreadable(&'static str);

type Applied = Result<Result<(), Unreadable>, sqlx_core::Error>;

fn text<'v>(value: &'v Value, field: &'static str) -> Result<&'v str, Unreadable> {
    value
        .get(field)
        .and_then(Value::as_str)
        .ok_or(Unreadable(field))
}

fn number(value: &Value, field: &'static str) -> Result<i64, Unreadable> {
    value
        .get(field)
        .and_then(Value::as_i64)
        .ok_or(Unreadable(field))
}

fn optional_text<'v>(value: &'v Value, field: &str) -> Option<&'v str> {
    value.get(field).and_then(Value::as_str)
}

/// `try` for the inner result of [`Applied`].
macro_rules! read {
    ($e:expr) => {
        match $e {
            Ok(value) => value,
            Err(unreadable) => return Ok(Err(unreadable)),
        }
    };
}

async fn apply(tx: &mut PgConnection, event: &Event<'_>) -> Applied {
    let p = event.payload;
    let school = event.school_id;
    match event.kind {
        "class_created" | "class_renamed" => {
            let class_id = read!(text(p, "class_id"));
            let grade = read!(number(p, "grade"));
            let letter = read!(text(p, "letter"));
            query(
                "INSERT INTO school_classes (school_id, class_id, grade, letter) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (school_id, class_id) DO UPDATE SET grade = EXCLUDED.grade, letter = EXCLUDED.letter",
            )
            .bind(school)
            .bind(class_id)
            .bind(grade as i32)
            .bind(letter)
            .execute(&mut *tx)
            .await?;
        }
        "class_archived" => {
            query(
                "UPDATE school_classes SET archived = true WHERE school_id = $1 AND class_id = $2",
            )
            .bind(school)
            .bind(read!(text(p, "class_id")))
            .execute(&mut *tx)
            .await?;
        }
        "person_enrolled" | "person_updated" => {
            let person_id = read!(text(p, "person_id"));
            let name = p.get("name").ok_or(Unreadable("name"));
            let name = read!(name);
            let surname = read!(text(name, "surname"));
            let given = read!(text(name, "name"));
            let patronymic = optional_text(name, "patronymic").unwrap_or("");
            let email = p
                .get("details")
                .and_then(|details| optional_text(details, "email"))
                .map(|email| email.trim().to_lowercase())
                .filter(|email| !email.is_empty());
            if event.kind == "person_enrolled" {
                let kind = read!(text(p, "person_kind"));
                query(
                    "INSERT INTO school_persons (school_id, person_id, kind, surname, name, patronymic, class_id, email)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                     ON CONFLICT (school_id, person_id) DO UPDATE SET kind = EXCLUDED.kind,
                       surname = EXCLUDED.surname, name = EXCLUDED.name, patronymic = EXCLUDED.patronymic,
                       class_id = EXCLUDED.class_id, email = EXCLUDED.email",
                )
                .bind(school)
                .bind(person_id)
                .bind(kind)
                .bind(surname)
                .bind(given)
                .bind(patronymic)
                .bind(optional_text(p, "class_id"))
                .bind(email)
                .execute(&mut *tx)
                .await?;
            } else {
                query(
                    "UPDATE school_persons SET surname = $3, name = $4, patronymic = $5, email = $6
                     WHERE school_id = $1 AND person_id = $2",
                )
                .bind(school)
                .bind(person_id)
                .bind(surname)
                .bind(given)
                .bind(patronymic)
                .bind(email)
                .execute(&mut *tx)
                .await?;
            }
        }
        "pupil_moved" => {
            query(
                "UPDATE school_persons SET class_id = $3 WHERE school_id = $1 AND person_id = $2",
            )
            .bind(school)
            .bind(read!(text(p, "person_id")))
            .bind(read!(text(p, "class_id")))
            .execute(&mut *tx)
            .await?;
        }
        "person_status_changed" => {
            query("UPDATE school_persons SET status = $3 WHERE school_id = $1 AND person_id = $2")
                .bind(school)
                .bind(read!(text(p, "person_id")))
                .bind(read!(text(p, "status")))
                .execute(&mut *tx)
                .await?;
        }
        "guardian_linked" => {
            query(
                "INSERT INTO guardianship (school_id, guardian_id, pupil_id) VALUES ($1, $2, $3)
                 ON CONFLICT DO NOTHING",
            )
            .bind(school)
            .bind(read!(text(p, "guardian_id")))
            .bind(read!(text(p, "pupil_id")))
            .execute(&mut *tx)
            .await?;
        }
        "guardian_unlinked" => {
            query(
                "DELETE FROM guardianship WHERE school_id = $1 AND guardian_id = $2 AND pupil_id = $3",
            )
            .bind(school)
            .bind(read!(text(p, "guardian_id")))
            .bind(read!(text(p, "pupil_id")))
            .execute(&mut *tx)
            .await?;
        }
        "passage" => {
            let passed = p.get("allowed").and_then(Value::as_bool) == Some(true)
                && optional_text(p, "outcome") == Some("passed");
            let Some(person_id) = optional_text(p, "person_id") else {
                return Ok(Ok(()));
            };
            if !passed {
                return Ok(Ok(()));
            }
            let (kind, title) = match read!(text(p, "direction")) {
                "entry" => ("entry", "Вход"),
                _ => ("exit", "Выход"),
            };
            let at = optional_text(p, "decided_at")
                .and_then(|text| text.parse::<DateTime<Utc>>().ok())
                .unwrap_or(event.at);
            feed(tx, event, person_id, at, kind, title, None, json!({})).await?;
        }
        "meal_served" => {
            let person_id = read!(text(p, "person_id"));
            let complex_id = read!(text(p, "complex_id"));
            let payer = optional_text(p, "payer").unwrap_or("parents");
            let complex: Option<(String, String)> = query_as(
                "SELECT name, meal FROM portal_complexes WHERE school_id = $1 AND complex_id = $2",
            )
            .bind(school)
            .bind(complex_id)
            .fetch_optional(&mut *tx)
            .await?;
            let meal = match complex.as_ref().map(|(_, meal)| meal.as_str()) {
                Some("breakfast") => "Завтрак".to_owned(),
                Some("lunch") => "Обед".to_owned(),
                Some("afternoon_snack") => "Полдник".to_owned(),
                _ => complex
                    .as_ref()
                    .map_or_else(|| "Питание".to_owned(), |(name, _)| name.clone()),
            };
            let title = if payer == "parents" {
                format!("{meal} (предзаказ)")
            } else {
                format!("{meal} (бесплатно)")
            };
            let details = json!({"complex_id": complex_id, "payer": payer,
                "complex": complex.map(|(name, _)| name)});
            feed(
                tx, event, person_id, event.at, "meal", &title, None, details,
            )
            .await?;
        }
        "sale_made" => {
            let person_id = read!(text(p, "person_id"));
            let total = read!(number(p, "total"));
            let lines = p
                .get("lines")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let title = sale_title(&lines);
            let details = json!({"sale_id": optional_text(p, "sale_id"), "lines": lines});
            feed(
                tx,
                event,
                person_id,
                event.at,
                "purchase",
                &title,
                Some(-total),
                details,
            )
            .await?;
        }
        "sale_refunded" => {
            let person_id = read!(text(p, "person_id"));
            let amount = read!(number(p, "amount"));
            let reason = optional_text(p, "reason").unwrap_or("");
            let title = with_reason("Возврат покупки", reason);
            let details = json!({"sale_id": optional_text(p, "sale_id")});
            feed(
                tx,
                event,
                person_id,
                event.at,
                "refund",
                &title,
                Some(amount),
                details,
            )
            .await?;
        }
        "balance_topped_up" => {
            let person_id = read!(text(p, "person_id"));
            let amount = read!(number(p, "amount"));
            feed(
                tx,
                event,
                person_id,
                event.at,
                "top_up",
                "Пополнение баланса",
                Some(amount),
                json!({}),
            )
            .await?;
        }
        "balance_corrected" => {
            let person_id = read!(text(p, "person_id"));
            let amount = read!(number(p, "amount"));
            let title = with_reason(
                "Корректировка баланса",
                optional_text(p, "reason").unwrap_or(""),
            );
            feed(
                tx,
                event,
                person_id,
                event.at,
                "correction",
                &title,
                Some(amount),
                json!({}),
            )
            .await?;
        }
        "pre_order_placed" => {
            let pre_order_id = read!(text(p, "pre_order_id"));
            let person_id = read!(text(p, "person_id"));
            let complex_id = read!(text(p, "complex_id"));
            let school_date = read!(text(p, "school_date"));
            let date: NaiveDate = read!(school_date.parse().map_err(|_| Unreadable("school_date")));
            let price = read!(number(p, "price"));
            let inserted = query(
                "INSERT INTO portal_pre_orders (school_id, pre_order_id, person_id, complex_id, school_date, price)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            )
            .bind(school)
            .bind(pre_order_id)
            .bind(person_id)
            .bind(complex_id)
            .bind(date)
            .bind(price)
            .execute(&mut *tx)
            .await?;
            if inserted.rows_affected() == 1 {
                let name: Option<String> = query_scalar(
                    "SELECT name FROM portal_complexes WHERE school_id = $1 AND complex_id = $2",
                )
                .bind(school)
                .bind(complex_id)
                .fetch_optional(&mut *tx)
                .await?;
                let title = format!(
                    "Предзаказ: {} на {}",
                    name.as_deref().unwrap_or("комплекс"),
                    date.format("%d.%m")
                );
                let details = json!({"pre_order_id": pre_order_id, "school_date": school_date});
                feed(
                    tx,
                    event,
                    person_id,
                    event.at,
                    "pre_order",
                    &title,
                    Some(-price),
                    details,
                )
                .await?;
            }
        }
        "pre_order_cancelled" => {
            let pre_order_id = read!(text(p, "pre_order_id"));
            let row: Option<(String, i64, NaiveDate)> = query_as(
                "UPDATE portal_pre_orders SET cancelled = true
                 WHERE school_id = $1 AND pre_order_id = $2 AND NOT cancelled
                 RETURNING person_id, price, school_date",
            )
            .bind(school)
            .bind(pre_order_id)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some((person_id, price, date)) = row {
                let title = format!("Предзаказ на {} отменён", date.format("%d.%m"));
                let details = json!({"pre_order_id": pre_order_id});
                feed(
                    tx,
                    event,
                    &person_id,
                    event.at,
                    "pre_order_cancelled",
                    &title,
                    Some(price),
                    details,
                )
                .await?;
            }
        }
        "product_saved" => {
            let product = read!(p.get("product").ok_or(Unreadable("product")));
            query(
                "INSERT INTO portal_products (school_id, product_id, name, price, category)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (school_id, product_id) DO UPDATE SET name = EXCLUDED.name,
                   price = EXCLUDED.price, category = EXCLUDED.category",
            )
            .bind(school)
            .bind(read!(text(product, "product_id")))
            .bind(read!(text(product, "name")))
            .bind(read!(number(product, "price")))
            .bind(optional_text(product, "category").unwrap_or(""))
            .execute(&mut *tx)
            .await?;
        }
        "complex_saved" => {
            let complex = read!(p.get("complex").ok_or(Unreadable("complex")));
            let grades = read!(complex.get("grades").ok_or(Unreadable("grades")));
            query(
                "INSERT INTO portal_complexes (school_id, complex_id, name, meal, grade_first, grade_last, price, payer)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (school_id, complex_id) DO UPDATE SET name = EXCLUDED.name, meal = EXCLUDED.meal,
                   grade_first = EXCLUDED.grade_first, grade_last = EXCLUDED.grade_last,
                   price = EXCLUDED.price, payer = EXCLUDED.payer",
            )
            .bind(school)
            .bind(read!(text(complex, "complex_id")))
            .bind(read!(text(complex, "name")))
            .bind(read!(text(complex, "meal")))
            .bind(read!(number(grades, "first")) as i32)
            .bind(read!(number(grades, "last")) as i32)
            .bind(read!(number(complex, "price")))
            .bind(read!(text(complex, "payer")))
            .execute(&mut *tx)
            .await?;
        }
        "day_menu_set" => {
            let date: NaiveDate = read!(read!(text(p, "school_date"))
                .parse()
                .map_err(|_| Unreadable("school_date")));
            query(
                "INSERT INTO portal_day_menus (school_id, school_date, items) VALUES ($1, $2, $3)
                 ON CONFLICT (school_id, school_date) DO UPDATE SET items = EXCLUDED.items",
            )
            .bind(school)
            .bind(date)
            .bind(p.get("items").cloned().unwrap_or(json!([])))
            .execute(&mut *tx)
            .await?;
        }
        "canteen_configured" => {
            let settings = read!(p.get("settings").ok_or(Unreadable("settings")));
            let cut_off: chrono::NaiveTime = read!(read!(text(settings, "order_cut_off"))
                .parse()
                .map_err(|_| Unreadable("order_cut_off")));
            query(
                "INSERT INTO portal_canteen_settings (school_id, order_cut_off) VALUES ($1, $2)
                 ON CONFLICT (school_id) DO UPDATE SET order_cut_off = EXCLUDED.order_cut_off",
            )
            .bind(school)
            .bind(cut_off)
            .execute(&mut *tx)
            .await?;
        }
        "canteen_ban_set" => {
            let person_id = read!(text(p, "person_id"));
            let ban = read!(p.get("ban").ok_or(Unreadable("ban")));
            let ban_id = read!(text(ban, "ban_id"));
            let target = read!(ban.get("target").ok_or(Unreadable("target")));
            let target_kind = read!(text(target, "kind"));
            let target_value = read!(text(target, "value"));
            let hours = ban.get("hours").filter(|hours| !hours.is_null());
            let time = |field: &'static str| {
                hours
                    .and_then(|hours| optional_text(hours, field))
                    .and_then(|text| text.parse::<chrono::NaiveTime>().ok())
            };
            let (from, to) = (time("from"), time("to"));
            query(
                "INSERT INTO portal_bans (school_id, ban_id, person_id, target_kind, target_value, hours_from, hours_to)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (school_id, ban_id) DO UPDATE SET target_kind = EXCLUDED.target_kind,
                   target_value = EXCLUDED.target_value, hours_from = EXCLUDED.hours_from, hours_to = EXCLUDED.hours_to",
            )
            .bind(school)
            .bind(ban_id)
            .bind(person_id)
            .bind(target_kind)
            .bind(target_value)
            .bind(from)
            .bind(to)
            .execute(&mut *tx)
            .await?;
            let what = ban_target_title(tx, school, target_kind, target_value).await?;
            let hours_text = match (from, to) {
                (Some(from), Some(to)) => {
                    format!(" с {} до {}", from.format("%H:%M"), to.format("%H:%M"))
                }
                _ => String::new(),
            };
            let title = format!("Запрет: {what}{hours_text}");
            let details = json!({"ban_id": ban_id});
            feed(tx, event, person_id, event.at, "ban", &title, None, details).await?;
        }
        "canteen_ban_lifted" => {
            let person_id = read!(text(p, "person_id"));
            let ban_id = read!(text(p, "ban_id"));
            let removed: Option<(String, String)> = query_as(
                "DELETE FROM portal_bans WHERE school_id = $1 AND ban_id = $2 AND person_id = $3
                 RETURNING target_kind, target_value",
            )
            .bind(school)
            .bind(ban_id)
            .bind(person_id)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some((kind, value)) = removed {
                let what = ban_target_title(tx, school, &kind, &value).await?;
                let title = format!("Запрет снят: {what}");
                let details = json!({"ban_id": ban_id});
                feed(tx, event, person_id, event.at, "ban", &title, None, details).await?;
            }
        }
        "daily_limit_set" => {
            let person_id = read!(text(p, "person_id"));
            let limit = p.get("limit").and_then(Value::as_i64);
            match limit {
                Some(limit) => {
                    query(
                        "INSERT INTO portal_limits (school_id, person_id, limit_kopecks) VALUES ($1, $2, $3)
                         ON CONFLICT (school_id, person_id) DO UPDATE SET limit_kopecks = EXCLUDED.limit_kopecks",
                    )
                    .bind(school)
                    .bind(person_id)
                    .bind(limit)
                    .execute(&mut *tx)
                    .await?;
                }
                None => {
                    query("DELETE FROM portal_limits WHERE school_id = $1 AND person_id = $2")
                        .bind(school)
                        .bind(person_id)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            let title = match limit {
                Some(limit) => format!("Дневной лимит: {}", rub(limit)),
                None => "Дневной лимит снят".to_owned(),
            };
            feed(
                tx,
                event,
                person_id,
                event.at,
                "limit",
                &title,
                None,
                json!({"limit": limit}),
            )
            .await?;
        }
        "book_title_saved" => {
            let title = read!(p.get("title").ok_or(Unreadable("title")));
            let authors: Vec<&str> = title
                .get("authors")
                .and_then(Value::as_array)
                .map(|authors| authors.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            query(
                "INSERT INTO library_titles (school_id, title_id, title, authors) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (school_id, title_id) DO UPDATE SET title = EXCLUDED.title, authors = EXCLUDED.authors",
            )
            .bind(school)
            .bind(read!(text(title, "title_id")))
            .bind(read!(text(title, "title")))
            .bind(authors)
            .execute(&mut *tx)
            .await?;
        }
        "book_copy_added" => {
            let copy = read!(p.get("copy").ok_or(Unreadable("copy")));
            query(
                "INSERT INTO library_copies (school_id, barcode, title_id) VALUES ($1, $2, $3)
                 ON CONFLICT (school_id, barcode) DO UPDATE SET title_id = EXCLUDED.title_id",
            )
            .bind(school)
            .bind(read!(text(copy, "barcode")))
            .bind(read!(text(copy, "title_id")))
            .execute(&mut *tx)
            .await?;
        }
        "book_copy_state_changed" => {
            let barcode = read!(text(p, "barcode"));
            let state = read!(text(p, "state"));
            set_copy_state(tx, school, barcode, state).await?;
            let closed_as = match state {
                "lost" => "потеряна",
                "written_off" => "списана",
                _ => return Ok(Ok(())),
            };
            query(
                "UPDATE library_loans SET returned_at = $3, outcome = $4, last_seq = $5
                 WHERE school_id = $1 AND barcode = $2 AND returned_at IS NULL AND last_seq < $5",
            )
            .bind(school)
            .bind(barcode)
            .bind(event.at)
            .bind(state)
            .bind(event.global_seq)
            .execute(&mut *tx)
            .await?;
            // The loan this event closed, now or on an earlier run of the same journal.
            let closed: Option<(String, String)> = query_as(
                "SELECT loan_id, person_id FROM library_loans
                 WHERE school_id = $1 AND barcode = $2 AND last_seq = $3",
            )
            .bind(school)
            .bind(barcode)
            .bind(event.global_seq)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some((loan_id, person_id)) = closed {
                let book = book_name(tx, school, barcode).await?;
                let title = format!("{} {closed_as}", capitalised(&book));
                let details = json!({"loan_id": loan_id, "barcode": barcode, "state": state});
                feed(
                    tx,
                    event,
                    &person_id,
                    event.at,
                    "library_lost",
                    &title,
                    None,
                    details,
                )
                .await?;
            }
        }
        "book_issued" => {
            let loan_id = read!(text(p, "loan_id"));
            let barcode = read!(text(p, "barcode"));
            let person_id = read!(text(p, "person_id"));
            let due = read!(date(p, "due"));
            query(
                "INSERT INTO library_loans (school_id, loan_id, barcode, person_id, issued_at, due, last_seq)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (school_id, loan_id) DO NOTHING",
            )
            .bind(school)
            .bind(loan_id)
            .bind(barcode)
            .bind(person_id)
            .bind(event.at)
            .bind(due)
            .bind(event.global_seq)
            .execute(&mut *tx)
            .await?;
            set_copy_state(tx, school, barcode, "on_loan").await?;
            let book = book_name(tx, school, barcode).await?;
            let title = format!("Выдана {book}, вернуть до {}", due.format("%d.%m"));
            let details = json!({"loan_id": loan_id, "barcode": barcode, "due": due});
            feed(
                tx,
                event,
                person_id,
                event.at,
                "library_issued",
                &title,
                None,
                details,
            )
            .await?;
        }
        "book_returned" => {
            let loan_id = read!(text(p, "loan_id"));
            let barcode = read!(text(p, "barcode"));
            query(
                "UPDATE library_loans SET returned_at = $3, outcome = 'returned', last_seq = $4
                 WHERE school_id = $1 AND loan_id = $2 AND returned_at IS NULL AND last_seq < $4",
            )
            .bind(school)
            .bind(loan_id)
            .bind(event.at)
            .bind(event.global_seq)
            .execute(&mut *tx)
            .await?;
            set_copy_state(tx, school, barcode, "on_shelf").await?;
            if let Some(person_id) = loan_reader(tx, school, loan_id).await? {
                let book = book_name(tx, school, barcode).await?;
                let title = format!("{} возвращена", capitalised(&book));
                let details = json!({"loan_id": loan_id, "barcode": barcode});
                feed(
                    tx,
                    event,
                    &person_id,
                    event.at,
                    "library_returned",
                    &title,
                    None,
                    details,
                )
                .await?;
            }
        }
        "book_renewed" => {
            let loan_id = read!(text(p, "loan_id"));
            let due = read!(date(p, "due"));
            query(
                "UPDATE library_loans SET due = $3, renewals = renewals + 1, last_seq = $4
                 WHERE school_id = $1 AND loan_id = $2 AND returned_at IS NULL AND last_seq < $4",
            )
            .bind(school)
            .bind(loan_id)
            .bind(due)
            .bind(event.global_seq)
            .execute(&mut *tx)
            .await?;
            let loan: Option<(String, String)> = query_as(
                "SELECT person_id, barcode FROM library_loans WHERE school_id = $1 AND loan_id = $2",
            )
            .bind(school)
            .bind(loan_id)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some((person_id, barcode)) = loan {
                let book = book_name(tx, school, &barcode).await?;
                let title = format!("{} продлена до {}", capitalised(&book), due.format("%d.%m"));
                let details = json!({"loan_id": loan_id, "barcode": barcode, "due": due});
                feed(
                    tx,
                    event,
                    &person_id,
                    event.at,
                    "library_renewed",
                    &title,
                    None,
                    details,
                )
                .await?;
            }
        }
        "book_overdue_notice" => {
            let loan_id = read!(text(p, "loan_id"));
            let person_id = read!(text(p, "person_id"));
            let barcode = read!(text(p, "barcode"));
            let book = read!(text(p, "title"));
            let due = read!(date(p, "due"));
            let days = read!(number(p, "days_overdue"));
            let title = format!(
                "Просрочена книга «{book}»: {days} дн., срок был {}",
                due.format("%d.%m")
            );
            let details = json!({"loan_id": loan_id, "barcode": barcode, "due": due,
                "days_overdue": days});
            // `library_due`: the one library fact parents are notified of (`notify::kind_of`).
            feed(
                tx,
                event,
                person_id,
                event.at,
                "library_due",
                &title,
                None,
                details,
            )
            .await?;
        }
        _ => {}
    }
    Ok(Ok(()))
}

fn date(value: &Value, field: &'static str) -> Result<NaiveDate, Unreadable> {
    text(value, field)?.parse().map_err(|_| Unreadable(field))
}

async fn set_copy_state(
    tx: &mut PgConnection,
    school: Uuid,
    barcode: &str,
    state: &str,
) -> Result<(), sqlx_core::Error> {
    query("UPDATE library_copies SET state = $3 WHERE school_id = $1 AND barcode = $2")
        .bind(school)
        .bind(barcode)
        .bind(state)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

async fn loan_reader(
    tx: &mut PgConnection,
    school: Uuid,
    loan_id: &str,
) -> Result<Option<String>, sqlx_core::Error> {
    query_scalar("SELECT person_id FROM library_loans WHERE school_id = $1 AND loan_id = $2")
        .bind(school)
        .bind(loan_id)
        .fetch_optional(&mut *tx)
        .await
}

/// «книга «Капитанская дочка»» for a copy's title, or «книга» when the catalogue lacks it.
async fn book_name(
    tx: &mut PgConnection,
    school: Uuid,
    barcode: &str,
) -> Result<String, sqlx_core::Error> {
    let title: Option<String> = query_scalar(
        "SELECT t.title FROM library_copies c
           JOIN library_titles t ON t.school_id = c.school_id AND t.title_id = c.title_id
          WHERE c.school_id = $1 AND c.barcode = $2",
    )
    .bind(school)
    .bind(barcode)
    .fetch_optional(&mut *tx)
    .await?;
    Ok(match title {
        Some(title) => format!("книга «{title}»"),
        None => "книга".to_owned(),
    })
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn with_reason(title: &str, reason: &str) -> String {
    if reason.trim().is_empty() {
        title.to_owned()
    } else {
        format!("{title}: {}", reason.trim())
    }
}

/// «Сок яблочный 0,2 л ×2, Булочка» from a sale's priced lines.
pub fn sale_title(lines: &[Value]) -> String {
    let names: Vec<String> = lines
        .iter()
        .filter_map(|line| {
            let name = optional_text(line, "name")?;
            let quantity = line.get("quantity").and_then(Value::as_u64).unwrap_or(1);
            Some(if quantity > 1 {
                format!("{name} ×{quantity}")
            } else {
                name.to_owned()
            })
        })
        .collect();
    if names.is_empty() {
        "Покупка".to_owned()
    } else {
        names.join(", ")
    }
}

async fn ban_target_title(
    tx: &mut PgConnection,
    school: Uuid,
    kind: &str,
    value: &str,
) -> Result<String, sqlx_core::Error> {
    Ok(match kind {
        "product" => {
            let name: Option<String> = query_scalar(
                "SELECT name FROM portal_products WHERE school_id = $1 AND product_id = $2",
            )
            .bind(school)
            .bind(value)
            .fetch_optional(&mut *tx)
            .await?;
            name.unwrap_or_else(|| "товар".to_owned())
        }
        "category" => format!("категория «{value}»"),
        _ => format!("аллерген «{value}»"),
    })
}

#[allow(clippy::too_many_arguments)]
async fn feed(
    tx: &mut PgConnection,
    event: &Event<'_>,
    person_id: &str,
    at: DateTime<Utc>,
    kind: &str,
    title: &str,
    amount: Option<i64>,
    details: Value,
) -> Result<(), sqlx_core::Error> {
    query(
        "INSERT INTO feed (school_id, person_id, global_seq, at, kind, title, amount, details)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (global_seq, person_id) DO NOTHING",
    )
    .bind(event.school_id)
    .bind(person_id)
    .bind(event.global_seq)
    .bind(at)
    .bind(kind)
    .bind(title)
    .bind(amount)
    .bind(details)
    .execute(&mut *tx)
    .await?;
    Ok(())
}
