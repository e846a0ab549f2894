//! The municipality's and the supplier's views (issue 7): attendance, meals entitled /
//! ordered / served and the saving in ₽, by school and period with a drill-down to a
//! class; the supplier's orders per school, day and complex, as made at the cut-off and
//! as corrected after it; each exportable as CSV, XLSX or PDF through `schoolcard-reports`.
//!
//! [`project_pending`] keeps the aggregate tables of `0004_analytics.sql` from the journal
//! past its own cursor, in one transaction per batch. The saving is the workstation's
//! rule: for a budget-paid complex, (entitled − ordered) × price.

use crate::auth::{self, Role, User};
use crate::error::ApiError;
use crate::http::AppState;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::NaiveDate;
use schoolcard_reports::{
    to_csv_bytes, to_pdf_bytes, to_xlsx_bytes, Cell, Column, ColumnKind, CsvOptions, Document,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx_core::query::query;
use sqlx_core::query_as::query_as;
use sqlx_core::query_scalar::query_scalar;
use sqlx_postgres::{PgConnection, PgPool};
use uuid::Uuid;

/// The cursor of this projection in `projector_state`.
const CURSOR: &str = "analytics";
const BATCH: i64 = 2_000;
/// The longest period one report covers.
pub const PERIOD_DAYS_MAX: i64 = 400;

/// Applies the journal's new events to the aggregates; returns how many it read.
pub async fn project_pending(pool: &PgPool) -> Result<u64, ApiError> {
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
        let rows: Vec<(i64, Uuid, String, String)> = query_as(
            "SELECT global_seq, school_id, kind, payload FROM events
             WHERE global_seq > $1 AND kind = ANY($2) ORDER BY global_seq LIMIT $3",
        )
        .bind(cursor)
        .bind(KINDS)
        .bind(BATCH)
        .fetch_all(&mut *tx)
        .await?;
        let last = rows.last().map(|r| r.0);
        for (_, school_id, kind, payload) in &rows {
            // A payload this build cannot read is left out of the figures, not fatal.
            if let Ok(value) = serde_json::from_str::<Value>(payload) {
                apply(&mut tx, *school_id, kind, &value).await?;
            }
        }
        // Past every event seen, of any kind: the next read starts after the last one.
        let through: i64 = match last {
            Some(last) if rows.len() as i64 == BATCH => last,
            _ => {
                query_scalar("SELECT coalesce(max(global_seq), 0) FROM events")
                    .fetch_one(&mut *tx)
                    .await?
            }
        };
        query("UPDATE projector_state SET cursor = greatest(cursor, $2) WHERE name = $1")
            .bind(CURSOR)
            .bind(through)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        read += rows.len() as u64;
        if rows.len() < BATCH as usize {
            return Ok(read);
        }
    }
}

/// The kinds the aggregates read.
const KINDS: &[&str] = &[
    "class_created",
    "class_renamed",
    "person_enrolled",
    "pupil_moved",
    "person_status_changed",
    "complex_saved",
    "passage",
    "meal_order_made",
    "meal_order_corrected",
    "meal_served",
];

fn text<'a>(v: &'a Value, field: &str) -> &'a str {
    v.get(field).and_then(Value::as_str).unwrap_or_default()
}

fn date(v: &Value, field: &str) -> Option<NaiveDate> {
    text(v, field).parse().ok()
}

async fn class_of(
    tx: &mut PgConnection,
    school: Uuid,
    person: &str,
) -> Result<Option<String>, ApiError> {
    Ok(query_scalar::<_, Option<String>>(
        "SELECT class_id FROM analytics_pupils WHERE school_id = $1 AND person_id = $2",
    )
    .bind(school)
    .bind(person)
    .fetch_optional(&mut *tx)
    .await?
    .flatten())
}

async fn apply(tx: &mut PgConnection, school: Uuid, kind: &str, v: &Value) -> Result<(), ApiError> {
    match kind {
        "class_created" | "class_renamed" => {
            query(
                "INSERT INTO analytics_classes (school_id, class_id, grade, letter) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (school_id, class_id) DO UPDATE SET grade = excluded.grade, letter = excluded.letter",
            )
            .bind(school)
            .bind(text(v, "class_id"))
            .bind(v.get("grade").and_then(Value::as_i64).unwrap_or(0) as i32)
            .bind(text(v, "letter"))
            .execute(&mut *tx)
            .await?;
        }
        "person_enrolled" if text(v, "person_kind") == "pupil" => {
            query(
                "INSERT INTO analytics_pupils (school_id, person_id, class_id) VALUES ($1, $2, $3)
                 ON CONFLICT (school_id, person_id) DO UPDATE SET class_id = excluded.class_id",
            )
            .bind(school)
            .bind(text(v, "person_id"))
            .bind(v.get("class_id").and_then(Value::as_str))
            .execute(&mut *tx)
            .await?;
        }
        "pupil_moved" => {
            query(
                "UPDATE analytics_pupils SET class_id = $3 WHERE school_id = $1 AND person_id = $2",
            )
            .bind(school)
            .bind(text(v, "person_id"))
            .bind(text(v, "class_id"))
            .execute(&mut *tx)
            .await?;
        }
        "person_status_changed" => {
            query(
                "UPDATE analytics_pupils SET active = $3 WHERE school_id = $1 AND person_id = $2",
            )
            .bind(school)
            .bind(text(v, "person_id"))
            .bind(text(v, "status") == "active")
            .execute(&mut *tx)
            .await?;
        }
        "complex_saved" => {
            let complex = v.get("complex").cloned().unwrap_or_default();
            query(
                "INSERT INTO analytics_complexes (school_id, complex_id, name) VALUES ($1, $2, $3)
                 ON CONFLICT (school_id, complex_id) DO UPDATE SET name = excluded.name",
            )
            .bind(school)
            .bind(text(&complex, "complex_id"))
            .bind(text(&complex, "name"))
            .execute(&mut *tx)
            .await?;
        }
        "passage" => {
            let counts = v.get("allowed").and_then(Value::as_bool) == Some(true)
                && text(v, "direction") == "entry"
                && text(v, "outcome") == "passed";
            let (Some(person), Some(day)) = (
                v.get("person_id").and_then(Value::as_str),
                date(v, "school_date"),
            ) else {
                return Ok(());
            };
            if counts {
                let class = class_of(tx, school, person).await?;
                query(
                    "INSERT INTO attendance_days (school_id, school_date, person_id, class_id)
                     SELECT $1, $2, $3, $4 WHERE EXISTS
                         (SELECT 1 FROM analytics_pupils WHERE school_id = $1 AND person_id = $3)
                     ON CONFLICT DO NOTHING",
                )
                .bind(school)
                .bind(day)
                .bind(person)
                .bind(class)
                .execute(&mut *tx)
                .await?;
            }
        }
        "meal_order_made" => {
            let Some(day) = date(v, "school_date") else {
                return Ok(());
            };
            for line in v
                .get("lines")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let count = |field: &str| {
                    line.get(field)
                        .and_then(Value::as_array)
                        .map_or(0, Vec::len) as i32
                };
                let ordered = count("pupils") + count("pre_ordered");
                query(
                    "INSERT INTO order_lines (school_id, school_date, class_id, complex_id, payer, price,
                                              entitled, ordered_at_cut_off, ordered)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
                     ON CONFLICT (school_id, school_date, class_id, complex_id) DO NOTHING",
                )
                .bind(school)
                .bind(day)
                .bind(text(line, "class_id"))
                .bind(text(line, "complex_id"))
                .bind(text(line, "payer"))
                .bind(line.get("price").and_then(Value::as_i64).unwrap_or(0))
                .bind(line.get("entitled").and_then(Value::as_i64).unwrap_or(0) as i32)
                .bind(ordered)
                .execute(&mut *tx)
                .await?;
            }
        }
        "meal_order_corrected" => {
            let Some(day) = date(v, "school_date") else {
                return Ok(());
            };
            let delta: i32 = if v.get("added").and_then(Value::as_bool) == Some(true) {
                1
            } else {
                -1
            };
            query(
                "INSERT INTO order_lines (school_id, school_date, class_id, complex_id, payer, price,
                                          entitled, ordered_at_cut_off, corrections, ordered)
                 VALUES ($1, $2, $3, $4, $5, $6, 0, 0, 1, greatest($7, 0))
                 ON CONFLICT (school_id, school_date, class_id, complex_id) DO UPDATE SET
                     corrections = order_lines.corrections + 1,
                     ordered = greatest(order_lines.ordered + $7, 0)",
            )
            .bind(school)
            .bind(day)
            .bind(text(v, "class_id"))
            .bind(text(v, "complex_id"))
            .bind(text(v, "payer"))
            .bind(v.get("price").and_then(Value::as_i64).unwrap_or(0))
            .bind(delta)
            .execute(&mut *tx)
            .await?;
        }
        "meal_served" => {
            let Some(day) = date(v, "school_date") else {
                return Ok(());
            };
            let class = class_of(tx, school, text(v, "person_id"))
                .await?
                .unwrap_or_default();
            query(
                "INSERT INTO meals_served_days (school_id, school_date, class_id, complex_id, payer, price, served)
                 VALUES ($1, $2, $3, $4, $5, $6, 1)
                 ON CONFLICT (school_id, school_date, class_id, complex_id, payer) DO UPDATE SET
                     served = meals_served_days.served + 1, price = greatest(meals_served_days.price, excluded.price)",
            )
            .bind(school)
            .bind(day)
            .bind(class)
            .bind(text(v, "complex_id"))
            .bind(text(v, "payer"))
            .bind(v.get("price").and_then(Value::as_i64).unwrap_or(0))
            .execute(&mut *tx)
            .await?;
        }
        _ => {}
    }
    Ok(())
}

/// A period of school dates, both ends included.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl Period {
    pub fn check(&self) -> Result<(), ApiError> {
        let days = (self.to - self.from).num_days();
        if !(0..=PERIOD_DAYS_MAX).contains(&days) {
            return Err(ApiError::bad_request(format!(
                "a period runs forward and covers at most {PERIOD_DAYS_MAX} days"
            )));
        }
        Ok(())
    }

    pub fn words(&self) -> String {
        format!(
            "{} — {}",
            self.from.format("%d.%m.%Y"),
            self.to.format("%d.%m.%Y")
        )
    }
}

/// One row of the municipal table: a school, or a class of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Figures {
    /// The school's id, or the class's.
    pub id: String,
    /// The school's name, or the class's («5А»).
    pub name: String,
    /// Active pupils now.
    pub pupils: i64,
    /// Pupil-days present (came in through the gate) in the period.
    pub present: i64,
    pub entitled: i64,
    pub ordered: i64,
    pub served: i64,
    /// Kopecks not spent from the budget: (entitled − ordered) × price, budget complexes.
    pub saved: i64,
}

const BUDGET: &str = "('municipal', 'regional')";

/// (id, name, pupils, present, entitled, ordered, served, saved) as the queries read them.
type FigureRow = (String, String, i64, i64, i64, i64, i64, i64);

/// The figures of each unit `units` lists (`unit` its alias, `matches` how an aggregate
/// row belongs to it), over `$2..=$3`, with `$1` the units' filter.
fn figures_sql(units: &str, matches: &str) -> String {
    let sum = |what: &str, table: &str, extra: &str| {
        format!(
            "(SELECT coalesce(sum({what}), 0)::bigint FROM {table} x
              WHERE {matches} AND x.school_date BETWEEN $2 AND $3{extra})"
        )
    };
    format!(
        "SELECT u.id, u.name,
           (SELECT count(*) FROM analytics_pupils x WHERE {matches} AND x.active),
           (SELECT count(*) FROM attendance_days x WHERE {matches} AND x.school_date BETWEEN $2 AND $3),
           {}, {}, {}, {}
         FROM ({units}) u ORDER BY u.sort",
        sum("x.entitled", "order_lines", ""),
        sum("x.ordered", "order_lines", ""),
        sum("x.served", "meals_served_days", ""),
        sum(
            "(x.entitled - x.ordered)::bigint * x.price",
            "order_lines",
            &format!(" AND x.payer IN {BUDGET}")
        ),
    )
}

async fn figures(
    pool: &PgPool,
    sql: &str,
    filter: Option<Uuid>,
    period: Period,
) -> Result<Vec<Figures>, ApiError> {
    period.check()?;
    let rows: Vec<FigureRow> = query_as(sql)
        .bind(filter)
        .bind(period.from)
        .bind(period.to)
        .fetch_all(pool)
        .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, name, pupils, present, entitled, ordered, served, saved)| Figures {
                id,
                name,
                pupils,
                present,
                entitled,
                ordered,
                served,
                saved,
            },
        )
        .collect())
}

/// Figures per school (`school = None`: every school) over `period`.
pub async fn by_school(
    pool: &PgPool,
    school: Option<Uuid>,
    period: Period,
) -> Result<Vec<Figures>, ApiError> {
    let sql = figures_sql(
        "SELECT id::text AS id, name, name AS sort, id AS school_id FROM schools
         WHERE $1::uuid IS NULL OR id = $1",
        "x.school_id = u.school_id",
    );
    figures(pool, &sql, school, period).await
}

/// The same figures per class of one school.
pub async fn by_class(
    pool: &PgPool,
    school: Uuid,
    period: Period,
) -> Result<Vec<Figures>, ApiError> {
    let sql = figures_sql(
        "SELECT class_id AS id, grade || letter AS name, lpad(grade::text, 2, '0') || letter AS sort,
                school_id, class_id FROM analytics_classes WHERE school_id = $1",
        "x.school_id = u.school_id AND x.class_id = u.class_id",
    );
    figures(pool, &sql, Some(school), period).await
}

/// One line of a supplier's orders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupplierLine {
    pub school: String,
    pub date: NaiveDate,
    pub complex: String,
    pub payer: String,
    pub price: i64,
    /// As confirmed at the cut-off.
    pub at_cut_off: i64,
    /// Corrections after the cut-off (late arrivals, admins').
    pub corrections: i64,
    pub ordered: i64,
}

/// The orders of `schools` over `period`, per school, day and complex.
pub async fn supplier_orders(
    pool: &PgPool,
    schools: &[Uuid],
    period: Period,
) -> Result<Vec<SupplierLine>, ApiError> {
    period.check()?;
    type Row = (String, NaiveDate, String, String, i64, i64, i64, i64);
    let rows: Vec<Row> = query_as(
        "SELECT s.name, o.school_date, coalesce(c.name, o.complex_id), o.payer, max(o.price),
                sum(o.ordered_at_cut_off)::bigint, sum(o.corrections)::bigint, sum(o.ordered)::bigint
         FROM order_lines o
         JOIN schools s ON s.id = o.school_id
         LEFT JOIN analytics_complexes c ON c.school_id = o.school_id AND c.complex_id = o.complex_id
         WHERE o.school_id = ANY($1) AND o.school_date BETWEEN $2 AND $3
         GROUP BY s.name, o.school_date, coalesce(c.name, o.complex_id), o.payer
         ORDER BY s.name, o.school_date, 3",
    )
    .bind(schools)
    .bind(period.from)
    .bind(period.to)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(school, date, complex, payer, price, at_cut_off, corrections, ordered)| {
                SupplierLine {
                    school,
                    date,
                    complex,
                    payer,
                    price,
                    at_cut_off,
                    corrections,
                    ordered,
                }
            },
        )
        .collect())
}

/// The schools a supplier feeds.
pub async fn schools_of_supplier(pool: &PgPool, user: Uuid) -> Result<Vec<Uuid>, ApiError> {
    Ok(
        query_scalar("SELECT school_id FROM supplier_schools WHERE user_id = $1")
            .bind(user)
            .fetch_all(pool)
            .await?,
    )
}

/// The schools whose orders `user` reads: a supplier those it feeds, the municipality
/// every school, a school's admin their own (the API and the office scope alike).
pub async fn order_scope(pool: &PgPool, user: &User) -> Result<Vec<Uuid>, ApiError> {
    Ok(match user.role {
        Role::Supplier => schools_of_supplier(pool, user.id).await?,
        Role::MunicipalAdmin | Role::MunicipalAnalyst => {
            query_scalar("SELECT id FROM schools")
                .fetch_all(pool)
                .await?
        }
        Role::SchoolAdmin => user.school_id.into_iter().collect(),
    })
}

/// Lets a supplier see a school's orders (a municipal admin's decision).
pub async fn assign_supplier(pool: &PgPool, user: Uuid, school: Uuid) -> Result<(), ApiError> {
    query(
        "INSERT INTO supplier_schools (user_id, school_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(user)
    .bind(school)
    .execute(pool)
    .await?;
    Ok(())
}

pub(crate) fn figures_document(
    title: &str,
    first: &str,
    rows: &[Figures],
    period: Period,
) -> Result<Document, ApiError> {
    let columns = vec![
        Column::new(first, ColumnKind::Text),
        Column::new("Учеников", ColumnKind::Integer),
        Column::new("Посещений", ColumnKind::Integer),
        Column::new("Положено", ColumnKind::Integer),
        Column::new("Заказано", ColumnKind::Integer),
        Column::new("Выдано", ColumnKind::Integer),
        Column::new("Экономия", ColumnKind::Money),
    ];
    let internal = |e: schoolcard_reports::DocumentError| ApiError::unavailable(e.to_string());
    let mut doc = Document::new(title, columns)
        .map_err(internal)?
        .with_period(period.words());
    let mut totals = [0i64; 6];
    for r in rows {
        doc.push_row(vec![
            Cell::text(&r.name),
            Cell::Integer(r.pupils),
            Cell::Integer(r.present),
            Cell::Integer(r.entitled),
            Cell::Integer(r.ordered),
            Cell::Integer(r.served),
            Cell::money(r.saved),
        ])
        .map_err(internal)?;
        for (t, v) in totals.iter_mut().zip([
            r.pupils, r.present, r.entitled, r.ordered, r.served, r.saved,
        ]) {
            *t += v;
        }
    }
    doc.set_totals(vec![
        Cell::text("Итого"),
        Cell::Integer(totals[0]),
        Cell::Integer(totals[1]),
        Cell::Integer(totals[2]),
        Cell::Integer(totals[3]),
        Cell::Integer(totals[4]),
        Cell::money(totals[5]),
    ])
    .map_err(internal)?;
    Ok(doc)
}

pub(crate) fn supplier_document(
    rows: &[SupplierLine],
    period: Period,
) -> Result<Document, ApiError> {
    let columns = vec![
        Column::new("Школа", ColumnKind::Text),
        Column::new("Дата", ColumnKind::Date),
        Column::new("Комплекс", ColumnKind::Text),
        Column::new("Цена", ColumnKind::Money),
        Column::new("На отсечке", ColumnKind::Integer),
        Column::new("Поправок", ColumnKind::Integer),
        Column::new("Итого порций", ColumnKind::Integer),
    ];
    let internal = |e: schoolcard_reports::DocumentError| ApiError::unavailable(e.to_string());
    let mut doc = Document::new("Заявки на питание", columns)
        .map_err(internal)?
        .with_period(period.words());
    for r in rows {
        doc.push_row(vec![
            Cell::text(&r.school),
            Cell::Date(r.date),
            Cell::text(&r.complex),
            Cell::money(r.price),
            Cell::Integer(r.at_cut_off),
            Cell::Integer(r.corrections),
            Cell::Integer(r.ordered),
        ])
        .map_err(internal)?;
    }
    Ok(doc)
}

/// `?from=&to=&format=json|csv|xlsx|pdf`.
#[derive(Debug, Deserialize)]
pub(crate) struct ReportQuery {
    from: NaiveDate,
    to: NaiveDate,
    #[serde(default)]
    format: Option<String>,
}

impl ReportQuery {
    fn period(&self) -> Period {
        Period {
            from: self.from,
            to: self.to,
        }
    }
}

/// The document in the asked format, or the rows as JSON.
pub(crate) fn answer<T: Serialize>(
    rows: &[T],
    document: impl FnOnce() -> Result<Document, ApiError>,
    format: Option<&str>,
    stem: &str,
) -> Result<Response, ApiError> {
    let (bytes, content_type, extension) = match format.unwrap_or("json") {
        "json" => return Ok(Json(rows).into_response()),
        "csv" => (
            to_csv_bytes(&document()?, &CsvOptions::excel_ru())
                .map_err(|e| ApiError::unavailable(e.to_string()))?,
            "text/csv; charset=utf-8",
            "csv",
        ),
        "xlsx" => (
            to_xlsx_bytes(&document()?).map_err(|e| ApiError::unavailable(e.to_string()))?,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
        ),
        "pdf" => (
            to_pdf_bytes(&document()?).map_err(|e| ApiError::unavailable(e.to_string()))?,
            "application/pdf",
            "pdf",
        ),
        other => {
            return Err(ApiError::bad_request(format!(
                "format {other:?}: json, csv, xlsx or pdf"
            )))
        }
    };
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{stem}.{extension}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

async fn reader(state: &AppState, headers: &HeaderMap) -> Result<User, ApiError> {
    auth::user_from_headers(&state.pool, headers).await
}

/// `GET /v1/analytics/schools`: every school (municipality) or one's own (its admin).
pub(crate) async fn schools_route(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ReportQuery>,
) -> Result<Response, ApiError> {
    let user = reader(&state, &headers).await?;
    let scope = user.analytics_scope()?;
    let rows = by_school(&state.pool, scope, q.period()).await?;
    answer(
        &rows,
        || {
            figures_document(
                "Посещаемость и питание по школам",
                "Школа",
                &rows,
                q.period(),
            )
        },
        q.format.as_deref(),
        "schools",
    )
}

/// `GET /v1/analytics/schools/{id}/classes`: the drill-down to classes.
pub(crate) async fn classes_route(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(school): Path<Uuid>,
    Query(q): Query<ReportQuery>,
) -> Result<Response, ApiError> {
    let user = reader(&state, &headers).await?;
    if let Some(own) = user.analytics_scope()? {
        if own != school {
            return Err(ApiError::forbidden(
                "a school admin reads only their own school",
            ));
        }
    }
    let rows = by_class(&state.pool, school, q.period()).await?;
    answer(
        &rows,
        || {
            figures_document(
                "Посещаемость и питание по классам",
                "Класс",
                &rows,
                q.period(),
            )
        },
        q.format.as_deref(),
        "classes",
    )
}

/// `GET /v1/supplier/orders`: the supplier's own schools; the municipality sees all.
pub(crate) async fn supplier_route(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ReportQuery>,
) -> Result<Response, ApiError> {
    let user = reader(&state, &headers).await?;
    let schools = order_scope(&state.pool, &user).await?;
    let rows = supplier_orders(&state.pool, &schools, q.period()).await?;
    answer(
        &rows,
        || supplier_document(&rows, q.period()),
        q.format.as_deref(),
        "orders",
    )
}

#[derive(Debug, Deserialize)]
pub(crate) struct Assignment {
    school_id: Uuid,
}

/// `POST /v1/admin/suppliers/{user}/schools`: a municipal admin lets a supplier see a
/// school's orders.
pub(crate) async fn assign_route(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(supplier): Path<Uuid>,
    Json(body): Json<Assignment>,
) -> Result<StatusCode, ApiError> {
    let user = reader(&state, &headers).await?;
    user.check_municipal()?;
    let role: Option<String> = query_scalar("SELECT role FROM users WHERE id = $1")
        .bind(supplier)
        .fetch_optional(&state.pool)
        .await?;
    if role.as_deref() != Some("supplier") {
        return Err(ApiError::not_found(format!("no supplier {supplier}")));
    }
    assign_supplier(&state.pool, supplier, body.school_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
