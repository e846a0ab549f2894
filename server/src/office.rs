//! «Кабинет»: server-rendered pages for staff (not parents) — the municipality's table by
//! school with the drill-down to classes, a school admin's own classes, a supplier's
//! orders («Заявки»), each with CSV / XLSX / PDF exports of the same period.
//!
//! **Every page is scoped exactly like the JSON API** (`analytics.rs`): the figures go
//! through `User::analytics_scope`, the orders through the supplier's assigned schools; a
//! school outside the account's scope answers the same 404 as one that does not exist.
//! Nothing here writes anything but sessions.
//!
//! Sign-in checks a `users` row through `auth::login` (argon2id) and keeps the session in
//! the API's `sessions` table (only the token's SHA-256); the token rides in an HttpOnly
//! cookie. The sign-out form's CSRF token is the SHA-256 of the session token under a
//! label: a page can show it, a foreign site can neither read the cookie nor derive it.
//! The portal's building blocks are shared: the security headers, the sign-in form's
//! double-submit cookie, the per-address rate limit, the stylesheet.

use std::net::SocketAddr;

use askama::Template;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::{Datelike, NaiveDate, Utc};
use serde::Deserialize;
use sqlx_core::query_scalar::query_scalar;
use uuid::Uuid;

use crate::analytics::{self, Figures, Period, SupplierLine};
use crate::auth::{self, Role, User};
use crate::error::ApiError;
use crate::http::AppState;
use crate::portal::auth::{cookie, equal_in_constant_time};
use crate::portal::pages::{
    field, pre_matches, pre_token, refusal_page, render, with_cookie, Fields, Refusal,
};
use crate::portal::rub;

/// The label the CSRF token is derived under, so it is never the session token's own hash
/// (which `sessions` stores).
const CSRF_LABEL: &str = "office-csrf:";
/// Export formats the pages link to (the JSON is the API's).
const EXPORT_FORMATS: [(&str, &str); 3] = [("CSV", "csv"), ("XLSX", "xlsx"), ("PDF", "pdf")];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/office", get(home))
        .route("/office/", get(home))
        .route("/office/static/office.css", get(stylesheet))
        .route("/office/login", get(login_page).post(sign_in))
        .route("/office/logout", post(logout))
        .route("/office/school/{id}", get(school_page))
        .route("/office/orders", get(orders_page))
        .route("/office/export/schools", get(export_schools))
        .route("/office/export/school/{id}/classes", get(export_classes))
        .route("/office/export/orders", get(export_orders))
        .layer(axum::middleware::from_fn(
            crate::portal::pages::security_headers,
        ))
}

async fn stylesheet() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("../static/office.css"),
    )
}

// ---- the period ----

/// `?from=&to=` as a form sends them: either may be empty or missing.
#[derive(Debug, Default, Deserialize)]
struct PeriodQuery {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    format: String,
}

/// The calendar month of `today`.
pub fn month_of(today: NaiveDate) -> Period {
    let from = today.with_day(1).unwrap_or(today);
    let next = if from.month() == 12 {
        NaiveDate::from_ymd_opt(from.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(from.year(), from.month() + 1, 1)
    };
    let to = next.and_then(|next| next.pred_opt()).unwrap_or(today);
    Period { from, to }
}

/// The asked period; an end left empty or unreadable is the current month's.
pub fn period_of(from: &str, to: &str, today: NaiveDate) -> Period {
    let month = month_of(today);
    Period {
        from: from.trim().parse().unwrap_or(month.from),
        to: to.trim().parse().unwrap_or(month.to),
    }
}

impl PeriodQuery {
    fn period(&self) -> Result<Period, OfficeError> {
        let period = period_of(&self.from, &self.to, Utc::now().date_naive());
        period.check().map_err(|_| OfficeError::BadPeriod)?;
        Ok(period)
    }
}

fn period_query(period: Period) -> String {
    format!("from={}&to={}", period.from, period.to)
}

// ---- errors ----

#[derive(Debug)]
enum OfficeError {
    /// No such page, or outside the account's scope: the same answer either way.
    NotFound,
    Csrf,
    TooMany,
    SignIn,
    /// A period backwards or too long.
    BadPeriod,
    Unavailable(String),
}

impl From<ApiError> for OfficeError {
    fn from(error: ApiError) -> Self {
        match error.status {
            StatusCode::UNAUTHORIZED => OfficeError::SignIn,
            StatusCode::FORBIDDEN | StatusCode::NOT_FOUND => OfficeError::NotFound,
            _ => OfficeError::Unavailable(error.message),
        }
    }
}

impl From<sqlx_core::Error> for OfficeError {
    fn from(error: sqlx_core::Error) -> Self {
        OfficeError::Unavailable(error.to_string())
    }
}

#[derive(Template)]
#[template(path = "office/message.html")]
struct MessagePage<'a> {
    heading: &'a str,
    text: &'a str,
    back: &'a str,
}

fn message(status: StatusCode, heading: &str, text: &str, back: &str) -> Response {
    render(
        status,
        &MessagePage {
            heading,
            text,
            back,
        },
    )
}

impl IntoResponse for OfficeError {
    fn into_response(self) -> Response {
        let refusal = match self {
            OfficeError::BadPeriod => {
                return message(
                    StatusCode::BAD_REQUEST,
                    "Неверный период",
                    &format!(
                        "Начало периода не позже конца, и период не длиннее {} дней.",
                        analytics::PERIOD_DAYS_MAX
                    ),
                    "/office",
                )
            }
            OfficeError::NotFound => Refusal::NotFound,
            OfficeError::Csrf => Refusal::Csrf,
            OfficeError::TooMany => Refusal::TooMany,
            OfficeError::SignIn => Refusal::SignIn,
            OfficeError::Unavailable(reason) => Refusal::Unavailable(reason),
        };
        refusal_page(refusal, "/office", message)
    }
}

type OfficeResult = Result<Response, OfficeError>;

// ---- sessions ----

/// The session cookie's name, after the portal's cookie policy.
fn session_cookie(state: &AppState) -> &'static str {
    if state.portal.secure_cookies {
        "__Host-sc_office"
    } else {
        "sc_office"
    }
}

fn csrf_of(token: &str) -> String {
    auth::sha256_hex(&format!("{CSRF_LABEL}{token}"))
}

/// A signed-in staff member.
struct Staff {
    user: User,
    token: String,
    csrf: String,
}

impl Staff {
    /// «login · role» for the top bar.
    fn who(&self) -> String {
        let role = match self.user.role {
            Role::MunicipalAdmin => "муниципалитет",
            Role::MunicipalAnalyst => "аналитик",
            Role::SchoolAdmin => "администратор школы",
            Role::Supplier => "поставщик",
        };
        format!("{} · {role}", self.user.login)
    }
}

async fn staff(state: &AppState, headers: &HeaderMap) -> Result<Staff, OfficeError> {
    let token = cookie(headers, session_cookie(state)).ok_or(OfficeError::SignIn)?;
    let user = auth::user_of_token(&state.pool, &token).await?;
    Ok(Staff {
        user,
        csrf: csrf_of(&token),
        token,
    })
}

#[derive(Template)]
#[template(path = "office/login.html")]
struct LoginPage {
    pre: String,
    login: String,
    error: Option<String>,
}

async fn login_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (pre, cookie) = pre_token(&state, &headers);
    let page = LoginPage {
        pre,
        login: String::new(),
        error: None,
    };
    with_cookie(render(StatusCode::OK, &page), cookie)
}

async fn sign_in(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> OfficeResult {
    if !pre_matches(&state, &headers, &fields) {
        return Err(OfficeError::Csrf);
    }
    let login = field(&fields, "login").trim().to_owned();
    // The portal's buckets: per account (its own key space; hashed, so a bucket's key is
    // 64 characters however long the typed login) and per client address.
    let account = format!("office:{}", auth::sha256_hex(&login));
    if !state
        .portal
        .allow_attempt(&account, &crate::http::client_address(peer, &headers))
    {
        return Err(OfficeError::TooMany);
    }
    match auth::login(&state.pool, &login, field(&fields, "password")).await {
        Ok((token, _expires_at)) => {
            let mut response = Redirect::to("/office").into_response();
            let cookies = [
                state
                    .portal
                    .set_cookie(session_cookie(&state), Some(&token)),
                state.portal.set_cookie(state.portal.pre_cookie(), None),
            ];
            for cookie in cookies {
                if let Ok(value) = HeaderValue::from_str(&cookie) {
                    response.headers_mut().append(header::SET_COOKIE, value);
                }
            }
            Ok(response)
        }
        Err(error) if error.status == StatusCode::UNAUTHORIZED => Ok(render(
            StatusCode::UNAUTHORIZED,
            &LoginPage {
                pre: field(&fields, "pre").to_owned(),
                login,
                error: Some("Неверный логин или пароль.".into()),
            },
        )),
        Err(error) => Err(error.into()),
    }
}

async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> OfficeResult {
    let staff = staff(&state, &headers).await?;
    if !equal_in_constant_time(field(&fields, "csrf"), &staff.csrf) {
        return Err(OfficeError::Csrf);
    }
    auth::end_session(&state.pool, &staff.token).await?;
    Ok(with_cookie(
        Redirect::to("/office/login").into_response(),
        Some(state.portal.set_cookie(session_cookie(&state), None)),
    ))
}

// ---- scope ----

/// The school's name if the account may read its figures; otherwise (or no such school)
/// `NotFound`, as the JSON API refuses and without telling which.
async fn readable_school(
    state: &AppState,
    user: &User,
    school: Uuid,
) -> Result<String, OfficeError> {
    match user.analytics_scope() {
        Ok(None) => {}
        Ok(Some(own)) if own == school => {}
        _ => return Err(OfficeError::NotFound),
    }
    let name: Option<String> = query_scalar("SELECT name FROM schools WHERE id = $1")
        .bind(school)
        .fetch_optional(&state.pool)
        .await?;
    name.ok_or(OfficeError::NotFound)
}

// ---- pages ----

struct FigureLine {
    name: String,
    url: Option<String>,
    pupils: i64,
    present: i64,
    entitled: i64,
    ordered: i64,
    served: i64,
    saved: String,
}

#[derive(Template)]
#[template(path = "office/figures.html")]
struct FiguresPage {
    who: String,
    csrf: String,
    heading: String,
    period_words: String,
    here: String,
    from: String,
    to: String,
    first_column: &'static str,
    rows: Vec<FigureLine>,
    totals: FigureLine,
    exports: Vec<(&'static str, String)>,
    back: Option<String>,
}

fn export_links(path: &str, period: Period) -> Vec<(&'static str, String)> {
    EXPORT_FORMATS
        .iter()
        .map(|(label, format)| {
            (
                *label,
                format!("{path}?{}&format={format}", period_query(period)),
            )
        })
        .collect()
}

/// The table of `rows` with an «Итого» line; `link` gives a row's drill-down.
fn figure_lines(
    rows: &[Figures],
    link: impl Fn(&Figures) -> Option<String>,
) -> (Vec<FigureLine>, FigureLine) {
    let mut totals = [0i64; 6];
    let lines = rows
        .iter()
        .map(|r| {
            for (total, value) in totals.iter_mut().zip([
                r.pupils, r.present, r.entitled, r.ordered, r.served, r.saved,
            ]) {
                *total += value;
            }
            FigureLine {
                name: r.name.clone(),
                url: link(r),
                pupils: r.pupils,
                present: r.present,
                entitled: r.entitled,
                ordered: r.ordered,
                served: r.served,
                saved: rub(r.saved),
            }
        })
        .collect();
    let totals = FigureLine {
        name: "Итого".into(),
        url: None,
        pupils: totals[0],
        present: totals[1],
        entitled: totals[2],
        ordered: totals[3],
        served: totals[4],
        saved: rub(totals[5]),
    };
    (lines, totals)
}

/// `GET /office`: the municipality's schools, a school admin's classes, a supplier's orders.
async fn home(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<PeriodQuery>,
) -> OfficeResult {
    let staff = staff(&state, &headers).await?;
    let period = q.period()?;
    match staff.user.role {
        Role::MunicipalAdmin | Role::MunicipalAnalyst => {
            let rows = analytics::by_school(&state.pool, None, period).await?;
            let (rows, totals) = figure_lines(&rows, |r| {
                Some(format!("/office/school/{}?{}", r.id, period_query(period)))
            });
            Ok(render(
                StatusCode::OK,
                &FiguresPage {
                    who: staff.who(),
                    csrf: staff.csrf.clone(),
                    heading: "Посещаемость и питание по школам".into(),
                    period_words: period.words(),
                    here: "/office".into(),
                    from: period.from.to_string(),
                    to: period.to.to_string(),
                    first_column: "Школа",
                    rows,
                    totals,
                    exports: export_links("/office/export/schools", period),
                    back: None,
                },
            ))
        }
        Role::SchoolAdmin => {
            let school = staff.user.school_id.ok_or(OfficeError::NotFound)?;
            classes(&state, &staff, school, period, false).await
        }
        Role::Supplier => orders(&state, &staff, period).await,
    }
}

async fn classes(
    state: &AppState,
    staff: &Staff,
    school: Uuid,
    period: Period,
    from_the_city: bool,
) -> OfficeResult {
    let name = readable_school(state, &staff.user, school).await?;
    let rows = analytics::by_class(&state.pool, school, period).await?;
    let (rows, totals) = figure_lines(&rows, |_| None);
    let here = if from_the_city {
        format!("/office/school/{school}")
    } else {
        "/office".into()
    };
    Ok(render(
        StatusCode::OK,
        &FiguresPage {
            who: staff.who(),
            csrf: staff.csrf.clone(),
            heading: format!("{name}: по классам"),
            period_words: period.words(),
            here,
            from: period.from.to_string(),
            to: period.to.to_string(),
            first_column: "Класс",
            rows,
            totals,
            exports: export_links(&format!("/office/export/school/{school}/classes"), period),
            back: from_the_city.then(|| format!("/office?{}", period_query(period))),
        },
    ))
}

/// `GET /office/school/{id}`: the drill-down to a school's classes.
async fn school_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(school): Path<String>,
    Query(q): Query<PeriodQuery>,
) -> OfficeResult {
    let staff = staff(&state, &headers).await?;
    let school: Uuid = school.parse().map_err(|_| OfficeError::NotFound)?;
    let period = q.period()?;
    let from_the_city = staff.user.role != Role::SchoolAdmin;
    classes(&state, &staff, school, period, from_the_city).await
}

struct OrderLine {
    school: String,
    date: String,
    complex: String,
    price: String,
    at_cut_off: i64,
    corrections: i64,
    ordered: i64,
}

#[derive(Template)]
#[template(path = "office/orders.html")]
struct OrdersPage {
    who: String,
    csrf: String,
    period_words: String,
    here: String,
    from: String,
    to: String,
    rows: Vec<OrderLine>,
    at_cut_off: i64,
    corrections: i64,
    ordered: i64,
    exports: Vec<(&'static str, String)>,
}

fn order_line(line: &SupplierLine) -> OrderLine {
    OrderLine {
        school: line.school.clone(),
        date: line.date.format("%d.%m.%Y").to_string(),
        complex: line.complex.clone(),
        price: rub(line.price),
        at_cut_off: line.at_cut_off,
        corrections: line.corrections,
        ordered: line.ordered,
    }
}

async fn orders(state: &AppState, staff: &Staff, period: Period) -> OfficeResult {
    let schools = analytics::order_scope(&state.pool, &staff.user).await?;
    let lines = analytics::supplier_orders(&state.pool, &schools, period).await?;
    Ok(render(
        StatusCode::OK,
        &OrdersPage {
            who: staff.who(),
            csrf: staff.csrf.clone(),
            period_words: period.words(),
            here: "/office/orders".into(),
            from: period.from.to_string(),
            to: period.to.to_string(),
            at_cut_off: lines.iter().map(|l| l.at_cut_off).sum(),
            corrections: lines.iter().map(|l| l.corrections).sum(),
            ordered: lines.iter().map(|l| l.ordered).sum(),
            rows: lines.iter().map(order_line).collect(),
            exports: export_links("/office/export/orders", period),
        },
    ))
}

/// `GET /office/orders`: «Заявки» per school, day and complex.
async fn orders_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<PeriodQuery>,
) -> OfficeResult {
    let staff = staff(&state, &headers).await?;
    let period = q.period()?;
    orders(&state, &staff, period).await
}

// ---- exports ----

/// The asked export format; the pages link only to these (the JSON is the API's).
fn export_format(q: &PeriodQuery) -> Result<&str, OfficeError> {
    EXPORT_FORMATS
        .iter()
        .map(|(_, format)| *format)
        .find(|format| *format == q.format)
        .ok_or(OfficeError::NotFound)
}

/// `GET /office/export/schools?from&to&format=csv|xlsx|pdf`.
async fn export_schools(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<PeriodQuery>,
) -> OfficeResult {
    let staff = staff(&state, &headers).await?;
    let scope = staff
        .user
        .analytics_scope()
        .map_err(|_| OfficeError::NotFound)?;
    let (period, format) = (q.period()?, export_format(&q)?);
    let rows = analytics::by_school(&state.pool, scope, period).await?;
    Ok(analytics::answer(
        &rows,
        || analytics::figures_document("Посещаемость и питание по школам", "Школа", &rows, period),
        Some(format),
        "schools",
    )?)
}

/// `GET /office/export/school/{id}/classes?from&to&format=`.
async fn export_classes(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(school): Path<String>,
    Query(q): Query<PeriodQuery>,
) -> OfficeResult {
    let staff = staff(&state, &headers).await?;
    let school: Uuid = school.parse().map_err(|_| OfficeError::NotFound)?;
    let name = readable_school(&state, &staff.user, school).await?;
    let (period, format) = (q.period()?, export_format(&q)?);
    let rows = analytics::by_class(&state.pool, school, period).await?;
    Ok(analytics::answer(
        &rows,
        || {
            analytics::figures_document(
                &format!("{name}: посещаемость и питание по классам"),
                "Класс",
                &rows,
                period,
            )
        },
        Some(format),
        "classes",
    )?)
}

/// `GET /office/export/orders?from&to&format=`.
async fn export_orders(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<PeriodQuery>,
) -> OfficeResult {
    let staff = staff(&state, &headers).await?;
    let (period, format) = (q.period()?, export_format(&q)?);
    let schools = analytics::order_scope(&state.pool, &staff.user).await?;
    let rows = analytics::supplier_orders(&state.pool, &schools, period).await?;
    Ok(analytics::answer(
        &rows,
        || analytics::supplier_document(&rows, period),
        Some(format),
        "orders",
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn the_period_defaults_to_the_month_of_today() {
        for (from, to, today, expected) in [
            ("", "", "2026-11-27", ("2026-11-01", "2026-11-30")),
            ("", "", "2026-12-31", ("2026-12-01", "2026-12-31")),
            ("", "", "2028-02-10", ("2028-02-01", "2028-02-29")),
            ("2026-09-01", "", "2026-11-27", ("2026-09-01", "2026-11-30")),
            (
                "junk",
                "2026-11-15",
                "2026-11-27",
                ("2026-11-01", "2026-11-15"),
            ),
        ] {
            let period = period_of(from, to, day(today));
            assert_eq!(
                (period.from, period.to),
                (day(expected.0), day(expected.1)),
                "{from:?} {to:?} {today}"
            );
        }
    }
}
