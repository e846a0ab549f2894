//! The portal's routes: server-rendered pages (askama, `server/templates/portal/`) and
//! their POST forms. Every response carries the security headers
//! ([`security_headers`]); every POST checks the CSRF token first, then (on a child's
//! routes) that the child is the parent's, before it reads or writes anything.

use std::collections::HashMap;
use std::net::SocketAddr;

use askama::Template;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::{Datelike, NaiveDate, NaiveTime, Utc, Weekday};
use serde_json::json;
use sqlx_core::query::query;
use sqlx_core::query_as::query_as;
use sqlx_core::query_scalar::query_scalar;
use uuid::Uuid;

use super::auth::{self, CodeCheck, ParentSession};
use super::{balance_of, children_of, day_span, own_child, parse_roubles, rub, school_tz, Child};
use crate::http::AppState;
use crate::sync::append_server_event_as;

pub(crate) type Fields = HashMap<String, String>;

/// Days ahead a parent may pre-order for.
pub const PRE_ORDER_DAYS_AHEAD: i64 = 14;
/// Balance history rows shown.
const HISTORY_ROWS_MAX: i64 = 50;
/// Closed loans shown on the library page, latest first: a school term of a keen reader.
const LIBRARY_CLOSED_ROWS_MAX: i64 = 20;
/// A daily limit is at most 100 000 ₽ (as a top-up).
const LIMIT_KOPECKS_MAX: i64 = crate::payments::TOP_UP_KOPECKS_MAX;
/// The cut-off when a school has not configured its canteen (core's default).
const DEFAULT_CUT_OFF: (u32, u32) = (9, 30);
/// The notification kinds a parent may choose, with their labels.
pub const NOTIFY_KINDS: [(&str, &str); 6] = [
    ("entry", "Вход в школу"),
    ("exit", "Выход из школы"),
    ("meal", "Питание"),
    ("purchase", "Покупки"),
    ("low_balance", "Низкий баланс"),
    ("library_due", "Срок сдачи книг"),
];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/portal", get(children_page))
        .route("/portal/", get(children_page))
        .route("/portal/static/portal.css", get(stylesheet))
        .route("/portal/login", get(login_page).post(password_sign_in))
        .route("/portal/code/request", post(request_code))
        .route("/portal/code", get(code_page).post(code_sign_in))
        .route("/portal/logout", post(logout))
        .route("/portal/settings", get(settings_page).post(save_settings))
        .route("/portal/password", post(save_password))
        .route("/portal/child/{school_id}/{person_id}", get(child_page))
        .route(
            "/portal/child/{school_id}/{person_id}/library",
            get(library_page),
        )
        .route("/portal/child/{school_id}/{person_id}/top-up", post(top_up))
        .route("/portal/child/{school_id}/{person_id}/ban", post(set_ban))
        .route(
            "/portal/child/{school_id}/{person_id}/ban/{ban_id}/lift",
            post(lift_ban),
        )
        .route(
            "/portal/child/{school_id}/{person_id}/limit",
            post(set_limit),
        )
        .route(
            "/portal/child/{school_id}/{person_id}/pre-order",
            post(place_pre_order),
        )
        .route(
            "/portal/child/{school_id}/{person_id}/pre-order/{pre_order_id}/cancel",
            post(cancel_pre_order),
        )
        .fallback(|| async { PortalError::NotFound })
        .layer(axum::middleware::from_fn(security_headers))
}

/// OWASP's headers on every portal answer: nothing but this origin's own files, no
/// framing, no sniffing, no referrer off-site, no powerful features.
pub async fn security_headers(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let set = |headers: &mut HeaderMap, name: &'static str, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(
        headers,
        "content-security-policy",
        "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    );
    set(headers, "x-content-type-options", "nosniff");
    set(headers, "referrer-policy", "same-origin");
    set(headers, "x-frame-options", "DENY");
    set(
        headers,
        "permissions-policy",
        "camera=(), microphone=(), geolocation=(), payment=()",
    );
    set(headers, "cache-control", "no-store");
    response
}

async fn stylesheet() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("../../static/portal.css"),
    )
}

// ---- errors ----

/// What a portal request can end in besides its page.
#[derive(Debug)]
pub enum PortalError {
    /// No such page, or not this parent's child: the same answer either way.
    NotFound,
    /// The form's CSRF token is missing or wrong.
    Csrf,
    /// Too many sign-in attempts.
    TooMany,
    /// Not signed in: to the sign-in page.
    SignIn,
    Database(sqlx_core::Error),
    Unavailable(String),
}

impl From<sqlx_core::Error> for PortalError {
    fn from(error: sqlx_core::Error) -> Self {
        tracing::error!(%error, "portal: database error");
        PortalError::Database(error)
    }
}

impl From<crate::ApiError> for PortalError {
    fn from(error: crate::ApiError) -> Self {
        PortalError::Unavailable(error.message)
    }
}

#[derive(Template)]
#[template(path = "portal/message.html")]
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

pub(crate) fn render(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(error) => {
            tracing::error!(%error, "portal: a template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "Ошибка сервера").into_response()
        }
    }
}

/// The refusals the portal and the office («Кабинет») answer alike. `area` is where
/// they live (`/portal`, `/office`); `page` renders that area's message page.
pub(crate) enum Refusal {
    /// No such page, or outside what the account may see: the same answer either way.
    NotFound,
    Csrf,
    TooMany,
    SignIn,
    Unavailable(String),
}

pub(crate) fn refusal_page(
    refusal: Refusal,
    area: &str,
    page: fn(StatusCode, &str, &str, &str) -> Response,
) -> Response {
    match refusal {
        Refusal::NotFound => page(
            StatusCode::NOT_FOUND,
            "Страница не найдена",
            "Такой страницы нет или она вам недоступна.",
            area,
        ),
        Refusal::Csrf => page(
            StatusCode::FORBIDDEN,
            "Форма устарела",
            "Обновите страницу и повторите действие.",
            area,
        ),
        Refusal::TooMany => page(
            StatusCode::TOO_MANY_REQUESTS,
            "Слишком много попыток",
            "Подождите несколько минут и попробуйте снова.",
            &format!("{area}/login"),
        ),
        Refusal::SignIn => Redirect::to(&format!("{area}/login")).into_response(),
        Refusal::Unavailable(reason) => {
            tracing::warn!(reason, area, "unavailable");
            page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Сервис временно недоступен",
                "Попробуйте позже.",
                area,
            )
        }
    }
}

impl IntoResponse for PortalError {
    fn into_response(self) -> Response {
        let refusal = match self {
            PortalError::NotFound => Refusal::NotFound,
            PortalError::Csrf => Refusal::Csrf,
            PortalError::TooMany => Refusal::TooMany,
            PortalError::SignIn => Refusal::SignIn,
            PortalError::Database(error) => Refusal::Unavailable(error.to_string()),
            PortalError::Unavailable(reason) => Refusal::Unavailable(reason),
        };
        refusal_page(refusal, "/portal", message)
    }
}

type PortalResult = Result<Response, PortalError>;

pub(crate) fn field<'a>(fields: &'a Fields, name: &str) -> &'a str {
    fields.get(name).map(String::as_str).unwrap_or("")
}

async fn signed_in(state: &AppState, headers: &HeaderMap) -> Result<ParentSession, PortalError> {
    auth::session(&state.pool, &state.portal, headers)
        .await?
        .ok_or(PortalError::SignIn)
}

/// The session of a POST whose form carries its CSRF token.
async fn signed_in_form(
    state: &AppState,
    headers: &HeaderMap,
    fields: &Fields,
) -> Result<ParentSession, PortalError> {
    let session = signed_in(state, headers).await?;
    if !auth::equal_in_constant_time(field(fields, "csrf"), &session.csrf) {
        return Err(PortalError::Csrf);
    }
    Ok(session)
}

/// The parent's child of the path, or 404.
async fn child_of_path(
    state: &AppState,
    session: &ParentSession,
    school_id: &str,
    person_id: &str,
) -> Result<Child, PortalError> {
    let school_id: Uuid = school_id.parse().map_err(|_| PortalError::NotFound)?;
    own_child(&state.pool, session.parent_id, school_id, person_id)
        .await?
        .ok_or(PortalError::NotFound)
}

// ---- sign-in ----

#[derive(Template)]
#[template(path = "portal/login.html")]
struct LoginPage {
    pre: String,
    email: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "portal/code.html")]
struct CodePage {
    pre: String,
    email: String,
    error: Option<String>,
}

/// The sign-in forms' double-submit token: the cookie's, or a new one set with the page.
pub(crate) fn pre_token(state: &AppState, headers: &HeaderMap) -> (String, Option<String>) {
    match auth::cookie(headers, state.portal.pre_cookie()).filter(|value| value.len() == 64) {
        Some(token) => (token, None),
        None => {
            let token = crate::auth::random_hex(crate::auth::SECRET_BYTES);
            let cookie = state
                .portal
                .set_cookie(state.portal.pre_cookie(), Some(&token));
            (token, Some(cookie))
        }
    }
}

pub(crate) fn with_cookie(mut response: Response, cookie: Option<String>) -> Response {
    if let Some(cookie) = cookie.and_then(|cookie| HeaderValue::from_str(&cookie).ok()) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// Whether a sign-in form's `pre` field matches its double-submit cookie (the portal's
/// and the staff pages' sign-in forms).
pub(crate) fn pre_matches(state: &AppState, headers: &HeaderMap, fields: &Fields) -> bool {
    let cookie = auth::cookie(headers, state.portal.pre_cookie()).unwrap_or_default();
    !cookie.is_empty() && auth::equal_in_constant_time(&cookie, field(fields, "pre"))
}

fn check_pre(state: &AppState, headers: &HeaderMap, fields: &Fields) -> Result<(), PortalError> {
    if !pre_matches(state, headers, fields) {
        return Err(PortalError::Csrf);
    }
    Ok(())
}

async fn login_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (pre, cookie) = pre_token(&state, &headers);
    let page = LoginPage {
        pre,
        email: String::new(),
        error: None,
    };
    with_cookie(render(StatusCode::OK, &page), cookie)
}

fn signed_in_response(state: &AppState, token: &str) -> Response {
    let mut response = Redirect::to("/portal").into_response();
    let cookies = [
        state
            .portal
            .set_cookie(state.portal.session_cookie(), Some(token)),
        state.portal.set_cookie(state.portal.pre_cookie(), None),
    ];
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

async fn password_sign_in(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> PortalResult {
    check_pre(&state, &headers, &fields)?;
    let email = field(&fields, "email").trim().to_lowercase();
    if !state
        .portal
        .allow_attempt(&email, &crate::http::client_address(peer, &headers))
    {
        return Err(PortalError::TooMany);
    }
    let parent = match auth::normalise_email(&email) {
        Some(email) => {
            auth::check_password(&state.pool, &email, field(&fields, "password")).await?
        }
        None => None,
    };
    match parent {
        Some(parent_id) => {
            let token = auth::open_session(&state.pool, parent_id).await?;
            Ok(signed_in_response(&state, &token))
        }
        None => Ok(render(
            StatusCode::UNAUTHORIZED,
            &LoginPage {
                pre: field(&fields, "pre").to_owned(),
                email,
                error: Some(
                    "Неверная почта или пароль. Если пароль не задан, войдите по коду из письма."
                        .into(),
                ),
            },
        )),
    }
}

async fn request_code(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> PortalResult {
    check_pre(&state, &headers, &fields)?;
    let typed = field(&fields, "email").trim().to_lowercase();
    if !state
        .portal
        .allow_attempt(&typed, &crate::http::client_address(peer, &headers))
    {
        return Err(PortalError::TooMany);
    }
    let Some(email) = auth::normalise_email(&typed) else {
        return Ok(render(
            StatusCode::BAD_REQUEST,
            &LoginPage {
                pre: field(&fields, "pre").to_owned(),
                email: typed,
                error: Some("Проверьте адрес почты: он должен быть вида name@example.ru.".into()),
            },
        ));
    };
    auth::issue_code(&state.pool, state.portal.mailer.clone(), &email).await?;
    let mut url = String::from("/portal/code?email=");
    url.extend(form_urlencoded_byte(&email));
    Ok(Redirect::to(&url).into_response())
}

fn form_urlencoded_byte(text: &str) -> impl Iterator<Item = String> + '_ {
    text.bytes().map(|byte| match byte {
        b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'_' => (byte as char).to_string(),
        _ => format!("%{byte:02X}"),
    })
}

#[derive(serde::Deserialize)]
struct EmailQuery {
    #[serde(default)]
    email: String,
}

async fn code_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<EmailQuery>,
) -> Response {
    let (pre, cookie) = pre_token(&state, &headers);
    let page = CodePage {
        pre,
        email: params.email.trim().to_lowercase(),
        error: None,
    };
    with_cookie(render(StatusCode::OK, &page), cookie)
}

async fn code_sign_in(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> PortalResult {
    check_pre(&state, &headers, &fields)?;
    let typed = field(&fields, "email").trim().to_lowercase();
    if !state
        .portal
        .allow_attempt(&typed, &crate::http::client_address(peer, &headers))
    {
        return Err(PortalError::TooMany);
    }
    let outcome = match auth::normalise_email(&typed) {
        Some(email) => auth::check_code(&state.pool, &email, field(&fields, "code")).await?,
        None => CodeCheck::NoCode,
    };
    let again = |status, error: &str| {
        render(
            status,
            &CodePage {
                pre: field(&fields, "pre").to_owned(),
                email: typed.clone(),
                error: Some(error.to_owned()),
            },
        )
    };
    Ok(match outcome {
        CodeCheck::SignedIn(parent_id) => {
            let token = auth::open_session(&state.pool, parent_id).await?;
            signed_in_response(&state, &token)
        }
        CodeCheck::Wrong => again(
            StatusCode::UNAUTHORIZED,
            "Неверный код. Проверьте цифры в письме.",
        ),
        CodeCheck::NoCode => again(
            StatusCode::UNAUTHORIZED,
            "Код недействителен: он устарел или введён неверно слишком много раз. Запросите новый.",
        ),
    })
}

async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> PortalResult {
    let session = signed_in_form(&state, &headers, &fields).await?;
    auth::close_session(&state.pool, &session).await?;
    let response = Redirect::to("/portal/login").into_response();
    Ok(with_cookie(
        response,
        Some(state.portal.set_cookie(state.portal.session_cookie(), None)),
    ))
}

// ---- my children ----

#[derive(Debug, Clone)]
struct FeedLine {
    time: String,
    title: String,
    amount: String,
    amount_class: &'static str,
}

struct ChildCard {
    url: String,
    name: String,
    class: String,
    balance: String,
    feed: Vec<FeedLine>,
}

#[derive(Template)]
#[template(path = "portal/children.html")]
struct ChildrenPage {
    csrf: String,
    has_password: bool,
    children: Vec<ChildCard>,
}

fn child_url(child: &Child) -> String {
    let mut url = format!("/portal/child/{}/", child.school_id);
    url.extend(form_urlencoded_byte(&child.person_id));
    url
}

fn money_class(amount: i64) -> &'static str {
    if amount < 0 {
        "minus"
    } else {
        "plus"
    }
}

fn signed_rub(amount: i64) -> String {
    if amount > 0 {
        format!("+{}", rub(amount))
    } else {
        rub(amount)
    }
}

/// A child's feed of one school day, in order.
async fn day_feed(
    state: &AppState,
    child: &Child,
    date: NaiveDate,
) -> Result<Vec<FeedLine>, PortalError> {
    let tz = school_tz(&state.pool, child.school_id).await?;
    let (start, end) = day_span(tz, date);
    let rows: Vec<(chrono::DateTime<Utc>, String, Option<i64>)> = query_as(
        "SELECT at, title, amount FROM feed
          WHERE school_id = $1 AND person_id = $2 AND at >= $3 AND at < $4
          ORDER BY at, global_seq",
    )
    .bind(child.school_id)
    .bind(&child.person_id)
    .bind(start)
    .bind(end)
    .fetch_all(&state.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(at, title, amount)| FeedLine {
            time: at.with_timezone(&tz).format("%H:%M").to_string(),
            title,
            amount: amount.map(signed_rub).unwrap_or_default(),
            amount_class: amount.map_or("", money_class),
        })
        .collect())
}

async fn today(state: &AppState, school_id: Uuid) -> Result<NaiveDate, PortalError> {
    let tz = school_tz(&state.pool, school_id).await?;
    Ok(Utc::now().with_timezone(&tz).date_naive())
}

async fn children_page(State(state): State<AppState>, headers: HeaderMap) -> PortalResult {
    let session = signed_in(&state, &headers).await?;
    let mut cards = Vec::new();
    for child in children_of(&state.pool, session.parent_id).await? {
        let date = today(&state, child.school_id).await?;
        cards.push(ChildCard {
            url: child_url(&child),
            balance: rub(balance_of(&state.pool, child.school_id, &child.person_id).await?),
            feed: day_feed(&state, &child, date).await?,
            name: child.name,
            class: child.class,
        });
    }
    Ok(render(
        StatusCode::OK,
        &ChildrenPage {
            csrf: session.csrf,
            has_password: session.has_password,
            children: cards,
        },
    ))
}

// ---- one child ----

struct BanLine {
    ban_id: String,
    title: String,
}

struct Choice {
    value: String,
    label: String,
}

struct PreOrderLine {
    pre_order_id: String,
    title: String,
    price: String,
    cancellable: bool,
}

struct HistoryLine {
    when: String,
    title: String,
    amount: String,
    amount_class: &'static str,
    balance: String,
}

#[derive(Template)]
#[template(path = "portal/child.html")]
struct ChildPage {
    csrf: String,
    url: String,
    name: String,
    class: String,
    balance: String,
    date: String,
    feed: Vec<FeedLine>,
    bans: Vec<BanLine>,
    ban_options: Vec<Choice>,
    limit_text: String,
    pre_orders: Vec<PreOrderLine>,
    offers: Vec<Choice>,
    history: Vec<HistoryLine>,
    library_text: String,
    error: Option<String>,
    notice: Option<String>,
}

#[derive(serde::Deserialize)]
struct DayQuery {
    #[serde(default)]
    date: Option<String>,
    #[serde(default)]
    done: Option<String>,
}

async fn child_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((school_id, person_id)): Path<(String, String)>,
    Query(params): Query<DayQuery>,
) -> PortalResult {
    let session = signed_in(&state, &headers).await?;
    let child = child_of_path(&state, &session, &school_id, &person_id).await?;
    let date = params
        .date
        .as_deref()
        .and_then(|text| text.parse::<NaiveDate>().ok());
    let notice = params.done.as_deref().and_then(|done| {
        Some(match done {
            "ban" => "Запрет сохранён.",
            "lift" => "Запрет снят.",
            "limit" => "Лимит сохранён.",
            "pre-order" => "Предзаказ оформлен.",
            "cancel" => "Предзаказ отменён, деньги вернутся на баланс.",
            _ => return None,
        })
    });
    child_view(
        &state,
        &session,
        &child,
        date,
        StatusCode::OK,
        None,
        notice.map(str::to_owned),
    )
    .await
}

/// The school's cut-off and a child's grade.
async fn canteen_terms(
    state: &AppState,
    child: &Child,
) -> Result<(NaiveTime, Option<i32>), PortalError> {
    let cut_off: Option<NaiveTime> =
        query_scalar("SELECT order_cut_off FROM portal_canteen_settings WHERE school_id = $1")
            .bind(child.school_id)
            .fetch_optional(&state.pool)
            .await?;
    let grade: Option<i32> = query_scalar(
        "SELECT c.grade FROM school_persons p JOIN school_classes c
            ON c.school_id = p.school_id AND c.class_id = p.class_id
          WHERE p.school_id = $1 AND p.person_id = $2",
    )
    .bind(child.school_id)
    .bind(&child.person_id)
    .fetch_optional(&state.pool)
    .await?;
    let default = NaiveTime::from_hms_opt(DEFAULT_CUT_OFF.0, DEFAULT_CUT_OFF.1, 0).expect("a time");
    Ok((cut_off.unwrap_or(default), grade))
}

/// Whether a school day's orders are still open at `now` (before the day's cut-off).
async fn still_open(
    state: &AppState,
    child: &Child,
    date: NaiveDate,
    cut_off: NaiveTime,
) -> Result<bool, PortalError> {
    let tz = school_tz(&state.pool, child.school_id).await?;
    let now = Utc::now().with_timezone(&tz).naive_local();
    Ok(now < date.and_time(cut_off))
}

/// The parent-paid complexes for the child's grade on the coming school days (Monday to
/// Friday) whose orders are still open: `(complex_id, date, name, price)`.
async fn offers(
    state: &AppState,
    child: &Child,
) -> Result<Vec<(String, NaiveDate, String, i64)>, PortalError> {
    let (cut_off, grade) = canteen_terms(state, child).await?;
    let Some(grade) = grade else {
        return Ok(Vec::new());
    };
    let complexes: Vec<(String, String, i64)> = query_as(
        "SELECT complex_id, name, price FROM portal_complexes
          WHERE school_id = $1 AND payer = 'parents' AND grade_first <= $2 AND grade_last >= $2
          ORDER BY name",
    )
    .bind(child.school_id)
    .bind(grade)
    .fetch_all(&state.pool)
    .await?;
    let first = today(state, child.school_id).await?;
    let mut offers = Vec::new();
    for ahead in 0..PRE_ORDER_DAYS_AHEAD {
        let date = first + chrono::Duration::days(ahead);
        if matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
            || !still_open(state, child, date, cut_off).await?
        {
            continue;
        }
        for (complex_id, name, price) in &complexes {
            offers.push((complex_id.clone(), date, name.clone(), *price));
        }
    }
    Ok(offers)
}

fn ru_date(date: NaiveDate) -> String {
    const DAYS: [&str; 7] = ["пн", "вт", "ср", "чт", "пт", "сб", "вс"];
    format!(
        "{} {}",
        DAYS[date.weekday().num_days_from_monday() as usize],
        date.format("%d.%m")
    )
}

#[allow(clippy::too_many_arguments)]
async fn child_view(
    state: &AppState,
    session: &ParentSession,
    child: &Child,
    date: Option<NaiveDate>,
    status: StatusCode,
    error: Option<String>,
    notice: Option<String>,
) -> PortalResult {
    let pool = &state.pool;
    let date = match date {
        Some(date) => date,
        None => today(state, child.school_id).await?,
    };
    let feed = day_feed(state, child, date).await?;
    let tz = school_tz(pool, child.school_id).await?;
    type BanRow = (
        String,
        String,
        String,
        Option<NaiveTime>,
        Option<NaiveTime>,
        Option<String>,
    );
    let bans: Vec<BanRow> = query_as(
        "SELECT b.ban_id, b.target_kind, b.target_value, b.hours_from, b.hours_to, pr.name
           FROM portal_bans b
           LEFT JOIN portal_products pr ON b.target_kind = 'product'
                AND pr.school_id = b.school_id AND pr.product_id = b.target_value
          WHERE b.school_id = $1 AND b.person_id = $2 ORDER BY b.ban_id",
    )
    .bind(child.school_id)
    .bind(&child.person_id)
    .fetch_all(pool)
    .await?;
    let bans = bans
        .into_iter()
        .map(|(ban_id, kind, value, from, to, product)| {
            let what = match kind.as_str() {
                "product" => product.unwrap_or_else(|| "товар".into()),
                "category" => format!("категория «{value}»"),
                _ => format!("аллерген «{value}»"),
            };
            let hours = match (from, to) {
                (Some(from), Some(to)) => {
                    format!(" с {} до {}", from.format("%H:%M"), to.format("%H:%M"))
                }
                _ => " весь день".into(),
            };
            BanLine {
                ban_id,
                title: format!("{what}{hours}"),
            }
        })
        .collect();
    let products: Vec<(String, String, i64)> = query_as(
        "SELECT product_id, name, price FROM portal_products WHERE school_id = $1 ORDER BY name",
    )
    .bind(child.school_id)
    .fetch_all(pool)
    .await?;
    let categories: Vec<String> = query_scalar(
        "SELECT DISTINCT category FROM portal_products WHERE school_id = $1 AND category <> '' ORDER BY 1",
    )
    .bind(child.school_id)
    .fetch_all(pool)
    .await?;
    let mut ban_options: Vec<Choice> = categories
        .into_iter()
        .map(|category| Choice {
            label: format!("Категория: {category}"),
            value: format!("category:{category}"),
        })
        .collect();
    ban_options.extend(products.into_iter().map(|(id, name, price)| Choice {
        value: format!("product:{id}"),
        label: format!("{name} ({})", rub(price)),
    }));
    let limit: Option<i64> = query_scalar(
        "SELECT limit_kopecks FROM portal_limits WHERE school_id = $1 AND person_id = $2",
    )
    .bind(child.school_id)
    .bind(&child.person_id)
    .fetch_optional(pool)
    .await?;
    let limit_text = match limit {
        Some(limit) => format!("Сейчас: не больше {} в день.", rub(limit)),
        None => "Лимит не установлен.".into(),
    };
    let (cut_off, _) = canteen_terms(state, child).await?;
    let orders: Vec<(String, NaiveDate, i64, Option<String>)> = query_as(
        "SELECT o.pre_order_id, o.school_date, o.price, c.name FROM portal_pre_orders o
           LEFT JOIN portal_complexes c ON c.school_id = o.school_id AND c.complex_id = o.complex_id
          WHERE o.school_id = $1 AND o.person_id = $2 AND NOT o.cancelled AND o.school_date >= $3
          ORDER BY o.school_date, o.pre_order_id",
    )
    .bind(child.school_id)
    .bind(&child.person_id)
    .bind(today(state, child.school_id).await?)
    .fetch_all(pool)
    .await?;
    let mut pre_orders = Vec::new();
    for (pre_order_id, day, price, name) in orders {
        pre_orders.push(PreOrderLine {
            cancellable: still_open(state, child, day, cut_off).await?,
            pre_order_id,
            title: format!(
                "{}, {}",
                ru_date(day),
                name.unwrap_or_else(|| "комплекс".into())
            ),
            price: rub(price),
        });
    }
    let offers = offers(state, child)
        .await?
        .into_iter()
        .map(|(complex_id, day, name, price)| Choice {
            value: format!("{complex_id}|{day}"),
            label: format!("{}: {name}, {}", ru_date(day), rub(price)),
        })
        .collect();
    let history: Vec<(i64, i64, Option<String>, i64)> = query_as(
        "SELECT h.amount, h.running, f.title, e.occurred_at_us FROM (
             SELECT amount, global_seq, sum(amount) OVER (ORDER BY global_seq, id)::bigint AS running
               FROM ledger WHERE school_id = $1 AND person_id = $2) h
           JOIN events e ON e.global_seq = h.global_seq
           LEFT JOIN feed f ON f.global_seq = h.global_seq AND f.person_id = $2
          ORDER BY h.global_seq DESC LIMIT $3",
    )
    .bind(child.school_id)
    .bind(&child.person_id)
    .bind(HISTORY_ROWS_MAX)
    .fetch_all(pool)
    .await?;
    let history = history
        .into_iter()
        .map(|(amount, running, title, at_us)| HistoryLine {
            when: chrono::DateTime::<Utc>::from_timestamp_micros(at_us)
                .unwrap_or_default()
                .with_timezone(&tz)
                .format("%d.%m %H:%M")
                .to_string(),
            title: title.unwrap_or_else(|| "Операция".into()),
            amount: signed_rub(amount),
            amount_class: money_class(amount),
            balance: rub(running),
        })
        .collect();
    let page = ChildPage {
        csrf: session.csrf.clone(),
        url: child_url(child),
        name: child.name.clone(),
        class: child.class.clone(),
        balance: rub(balance_of(pool, child.school_id, &child.person_id).await?),
        date: date.to_string(),
        feed,
        bans,
        ban_options,
        limit_text,
        pre_orders,
        offers,
        history,
        library_text: library_summary(state, child).await?,
        error,
        notice,
    };
    Ok(render(status, &page))
}

// ---- the library ----

/// Days a loan due on `due` is overdue on `today`; `None` while it is not.
pub fn days_overdue(due: NaiveDate, today: NaiveDate) -> Option<i64> {
    let days = (today - due).num_days();
    (days > 0).then_some(days)
}

struct LoanLine {
    title: String,
    authors: String,
    issued: String,
    due: String,
    /// «Просрочена на 3 дн.», or empty.
    overdue: String,
    renewals: i32,
}

struct ClosedLoanLine {
    title: String,
    authors: String,
    issued: String,
    /// «Возвращена 05.12.2026», «Потеряна 05.12.2026», «Списана …».
    closed: String,
}

#[derive(Template)]
#[template(path = "portal/library.html")]
struct LibraryPage {
    csrf: String,
    url: String,
    name: String,
    class: String,
    loans: Vec<LoanLine>,
    closed: Vec<ClosedLoanLine>,
}

/// A loan row: title, authors, issued at, due, renewals, closed at, outcome.
type LoanRow = (
    Option<String>,
    Option<Vec<String>>,
    chrono::DateTime<Utc>,
    NaiveDate,
    i32,
    Option<chrono::DateTime<Utc>>,
    Option<String>,
);

const LOAN_SELECT: &str =
    "SELECT t.title, t.authors, l.issued_at, l.due, l.renewals, l.returned_at, l.outcome
   FROM library_loans l
   LEFT JOIN library_copies c ON c.school_id = l.school_id AND c.barcode = l.barcode
   LEFT JOIN library_titles t ON t.school_id = c.school_id AND t.title_id = c.title_id
  WHERE l.school_id = $1 AND l.person_id = $2";

/// «Книг на руках: 2, из них просрочено: 1.» for the child's page.
async fn library_summary(state: &AppState, child: &Child) -> Result<String, PortalError> {
    let (open, overdue): (i64, i64) = query_as(
        "SELECT count(*), count(*) FILTER (WHERE due < $3) FROM library_loans
          WHERE school_id = $1 AND person_id = $2 AND returned_at IS NULL",
    )
    .bind(child.school_id)
    .bind(&child.person_id)
    .bind(today(state, child.school_id).await?)
    .fetch_one(&state.pool)
    .await?;
    Ok(match (open, overdue) {
        (0, _) => "Книг на руках нет.".to_owned(),
        (open, 0) => format!("Книг на руках: {open}."),
        (open, overdue) => format!("Книг на руках: {open}, из них просрочено: {overdue}."),
    })
}

async fn library_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((school_id, person_id)): Path<(String, String)>,
) -> PortalResult {
    let session = signed_in(&state, &headers).await?;
    let child = child_of_path(&state, &session, &school_id, &person_id).await?;
    let tz = school_tz(&state.pool, child.school_id).await?;
    let today = today(&state, child.school_id).await?;
    let day = |at: chrono::DateTime<Utc>| at.with_timezone(&tz).format("%d.%m.%Y").to_string();
    let open: Vec<LoanRow> = query_as(&format!(
        "{LOAN_SELECT} AND l.returned_at IS NULL ORDER BY l.due, l.issued_at, l.loan_id"
    ))
    .bind(child.school_id)
    .bind(&child.person_id)
    .fetch_all(&state.pool)
    .await?;
    let closed: Vec<LoanRow> = query_as(&format!(
        "{LOAN_SELECT} AND l.returned_at IS NOT NULL ORDER BY l.returned_at DESC, l.loan_id LIMIT $3"
    ))
    .bind(child.school_id)
    .bind(&child.person_id)
    .bind(LIBRARY_CLOSED_ROWS_MAX)
    .fetch_all(&state.pool)
    .await?;
    let name = |title: Option<String>| title.unwrap_or_else(|| "Книга".to_owned());
    let authors = |authors: Option<Vec<String>>| authors.unwrap_or_default().join(", ");
    let loans = open
        .into_iter()
        .map(|(title, by, issued_at, due, renewals, _, _)| LoanLine {
            title: name(title),
            authors: authors(by),
            issued: day(issued_at),
            due: due.format("%d.%m.%Y").to_string(),
            overdue: days_overdue(due, today)
                .map(|days| format!("Просрочена на {days} дн."))
                .unwrap_or_default(),
            renewals,
        })
        .collect();
    let closed = closed
        .into_iter()
        .map(|(title, by, issued_at, _, _, closed_at, outcome)| {
            let how = match outcome.as_deref() {
                Some("lost") => "Потеряна",
                Some("written_off") => "Списана",
                _ => "Возвращена",
            };
            ClosedLoanLine {
                title: name(title),
                authors: authors(by),
                issued: day(issued_at),
                closed: format!("{how} {}", closed_at.map(day).unwrap_or_default()),
            }
        })
        .collect();
    Ok(render(
        StatusCode::OK,
        &LibraryPage {
            csrf: session.csrf,
            url: child_url(&child),
            name: child.name,
            class: child.class,
            loans,
            closed,
        },
    ))
}

/// Writes a parent's event for the child's school, then brings the projections up to
/// date so the page that follows shows it.
async fn write_event(
    state: &AppState,
    session: &ParentSession,
    child: &Child,
    kind: &str,
    payload: serde_json::Value,
) -> Result<(), PortalError> {
    let mut tx = state.pool.begin().await?;
    append_server_event_as(
        &mut tx,
        child.school_id,
        &format!("parent:{}", session.parent_id),
        kind,
        &payload.to_string(),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(parent = %session.parent_id, school = %child.school_id, kind, "portal: a parent's event");
    crate::projector::project_pending(&state.pool).await?;
    state.projector_wake.notify_one();
    Ok(())
}

fn done(child: &Child, what: &str) -> Response {
    Redirect::to(&format!("{}?done={what}", child_url(child))).into_response()
}

async fn refuse(
    state: &AppState,
    session: &ParentSession,
    child: &Child,
    error: String,
) -> PortalResult {
    child_view(
        state,
        session,
        child,
        None,
        StatusCode::BAD_REQUEST,
        Some(error),
        None,
    )
    .await
}

async fn top_up(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((school_id, person_id)): Path<(String, String)>,
    Form(fields): Form<Fields>,
) -> PortalResult {
    let session = signed_in_form(&state, &headers, &fields).await?;
    let child = child_of_path(&state, &session, &school_id, &person_id).await?;
    let amount = match parse_roubles(field(&fields, "amount")) {
        Some(amount) if (100..=crate::payments::TOP_UP_KOPECKS_MAX).contains(&amount) => amount,
        _ => {
            let error = format!(
                "Сумма пополнения — от 1 до {} рублей, например 500 или 250,50.",
                crate::payments::TOP_UP_KOPECKS_MAX / 100
            );
            return refuse(&state, &session, &child, error).await;
        }
    };
    let provider = state
        .sandbox
        .clone()
        .ok_or_else(|| PortalError::Unavailable("online payments are not configured".into()))?;
    let (payment_id, confirmation_url) = crate::payments::start_payment(
        &state.pool,
        provider.as_ref(),
        &state.public_url,
        child.school_id,
        &child.person_id,
        amount,
    )
    .await?;
    tracing::info!(parent = %session.parent_id, payment = %payment_id, amount, "portal: a top-up started");
    Ok(Redirect::to(&confirmation_url).into_response())
}

async fn set_ban(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((school_id, person_id)): Path<(String, String)>,
    Form(fields): Form<Fields>,
) -> PortalResult {
    let session = signed_in_form(&state, &headers, &fields).await?;
    let child = child_of_path(&state, &session, &school_id, &person_id).await?;
    let target = match field(&fields, "target").split_once(':') {
        Some(("product", id)) => {
            let known: bool = query_scalar(
                "SELECT EXISTS (SELECT 1 FROM portal_products WHERE school_id = $1 AND product_id = $2)",
            )
            .bind(child.school_id)
            .bind(id)
            .fetch_one(&state.pool)
            .await?;
            known.then(|| json!({"kind": "product", "value": id}))
        }
        Some(("category", category)) => {
            let known: bool = query_scalar(
                "SELECT EXISTS (SELECT 1 FROM portal_products WHERE school_id = $1 AND category = $2)",
            )
            .bind(child.school_id)
            .bind(category)
            .fetch_one(&state.pool)
            .await?;
            known.then(|| json!({"kind": "category", "value": category}))
        }
        _ => None,
    };
    let Some(target) = target else {
        let error = "Выберите товар или категорию из списка школьной столовой.".to_owned();
        return refuse(&state, &session, &child, error).await;
    };
    let time = |name: &str| -> Result<Option<NaiveTime>, ()> {
        let text = field(&fields, name).trim();
        if text.is_empty() {
            return Ok(None);
        }
        NaiveTime::parse_from_str(text, "%H:%M")
            .or_else(|_| NaiveTime::parse_from_str(text, "%H:%M:%S"))
            .map(Some)
            .map_err(|_| ())
    };
    let hours = match (time("from"), time("to")) {
        (Ok(None), Ok(None)) => None,
        (Ok(Some(from)), Ok(Some(to))) if from != to => Some(json!({
            "from": from.format("%H:%M:%S").to_string(),
            "to": to.format("%H:%M:%S").to_string(),
        })),
        _ => {
            let error = "Укажите время запрета целиком — «с» и «до», и чтобы они различались, — или оставьте оба поля пустыми.".to_owned();
            return refuse(&state, &session, &child, error).await;
        }
    };
    let mut ban = json!({"ban_id": Uuid::now_v7().to_string(), "target": target});
    if let Some(hours) = hours {
        ban["hours"] = hours;
    }
    let payload = json!({"person_id": child.person_id, "ban": ban});
    write_event(&state, &session, &child, "canteen_ban_set", payload).await?;
    Ok(done(&child, "ban"))
}

async fn lift_ban(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((school_id, person_id, ban_id)): Path<(String, String, String)>,
    Form(fields): Form<Fields>,
) -> PortalResult {
    let session = signed_in_form(&state, &headers, &fields).await?;
    let child = child_of_path(&state, &session, &school_id, &person_id).await?;
    let exists: bool = query_scalar(
        "SELECT EXISTS (SELECT 1 FROM portal_bans WHERE school_id = $1 AND person_id = $2 AND ban_id = $3)",
    )
    .bind(child.school_id)
    .bind(&child.person_id)
    .bind(&ban_id)
    .fetch_one(&state.pool)
    .await?;
    if !exists {
        return Err(PortalError::NotFound);
    }
    let payload = json!({"person_id": child.person_id, "ban_id": ban_id});
    write_event(&state, &session, &child, "canteen_ban_lifted", payload).await?;
    Ok(done(&child, "lift"))
}

async fn set_limit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((school_id, person_id)): Path<(String, String)>,
    Form(fields): Form<Fields>,
) -> PortalResult {
    let session = signed_in_form(&state, &headers, &fields).await?;
    let child = child_of_path(&state, &session, &school_id, &person_id).await?;
    let limit = if field(&fields, "clear") == "1" {
        None
    } else {
        match parse_roubles(field(&fields, "limit")) {
            Some(limit) if (100..=LIMIT_KOPECKS_MAX).contains(&limit) => Some(limit),
            _ => {
                let error = format!(
                    "Лимит — от 1 до {} рублей в день, например 300 или 150,50.",
                    LIMIT_KOPECKS_MAX / 100
                );
                return refuse(&state, &session, &child, error).await;
            }
        }
    };
    let payload = json!({"person_id": child.person_id, "limit": limit});
    write_event(&state, &session, &child, "daily_limit_set", payload).await?;
    Ok(done(&child, "limit"))
}

async fn place_pre_order(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((school_id, person_id)): Path<(String, String)>,
    Form(fields): Form<Fields>,
) -> PortalResult {
    let session = signed_in_form(&state, &headers, &fields).await?;
    let child = child_of_path(&state, &session, &school_id, &person_id).await?;
    let chosen = field(&fields, "offer")
        .split_once('|')
        .and_then(|(complex, date)| Some((complex.to_owned(), date.parse::<NaiveDate>().ok()?)));
    let offer = match chosen {
        Some((complex_id, date)) => offers(&state, &child)
            .await?
            .into_iter()
            .find(|offer| offer.0 == complex_id && offer.1 == date),
        None => None,
    };
    let Some((complex_id, date, _, price)) = offer else {
        let error = "Этот комплекс на этот день заказать нельзя: приём заказов закрыт или его нет в меню для класса.".to_owned();
        return refuse(&state, &session, &child, error).await;
    };
    let already: bool = query_scalar(
        "SELECT EXISTS (SELECT 1 FROM portal_pre_orders WHERE school_id = $1 AND person_id = $2
                         AND complex_id = $3 AND school_date = $4 AND NOT cancelled)",
    )
    .bind(child.school_id)
    .bind(&child.person_id)
    .bind(&complex_id)
    .bind(date)
    .fetch_one(&state.pool)
    .await?;
    if already {
        let error = format!("Этот комплекс на {} уже заказан.", ru_date(date));
        return refuse(&state, &session, &child, error).await;
    }
    let balance = balance_of(&state.pool, child.school_id, &child.person_id).await?;
    if balance < price {
        let error = format!(
            "На балансе {}, а комплекс стоит {}: сначала пополните баланс.",
            rub(balance),
            rub(price)
        );
        return refuse(&state, &session, &child, error).await;
    }
    let payload = json!({
        "pre_order_id": Uuid::now_v7().to_string(),
        "person_id": child.person_id,
        "complex_id": complex_id,
        "school_date": date.to_string(),
        "price": price,
    });
    write_event(&state, &session, &child, "pre_order_placed", payload).await?;
    Ok(done(&child, "pre-order"))
}

async fn cancel_pre_order(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((school_id, person_id, pre_order_id)): Path<(String, String, String)>,
    Form(fields): Form<Fields>,
) -> PortalResult {
    let session = signed_in_form(&state, &headers, &fields).await?;
    let child = child_of_path(&state, &session, &school_id, &person_id).await?;
    let day: Option<NaiveDate> = query_scalar(
        "SELECT school_date FROM portal_pre_orders
          WHERE school_id = $1 AND person_id = $2 AND pre_order_id = $3 AND NOT cancelled",
    )
    .bind(child.school_id)
    .bind(&child.person_id)
    .bind(&pre_order_id)
    .fetch_optional(&state.pool)
    .await?;
    let Some(day) = day else {
        return Err(PortalError::NotFound);
    };
    let (cut_off, _) = canteen_terms(&state, &child).await?;
    if !still_open(&state, &child, day, cut_off).await? {
        let error = format!(
            "Заказ на {} уже передан в столовую (приём закрылся в {}), отменить его нельзя.",
            ru_date(day),
            cut_off.format("%H:%M")
        );
        return refuse(&state, &session, &child, error).await;
    }
    let payload = json!({"pre_order_id": pre_order_id, "reason": "отменён родителем"});
    write_event(&state, &session, &child, "pre_order_cancelled", payload).await?;
    Ok(done(&child, "cancel"))
}

// ---- settings ----

struct KindChoice {
    value: &'static str,
    label: &'static str,
    checked: bool,
}

#[derive(Template)]
#[template(path = "portal/settings.html")]
struct SettingsPage {
    csrf: String,
    email: String,
    email_enabled: bool,
    webhook_url: String,
    kinds: Vec<KindChoice>,
    quiet_from: String,
    quiet_to: String,
    low_balance: String,
    error: Option<String>,
    notice: Option<String>,
}

/// A parent's notification settings as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifySettings {
    pub email_enabled: bool,
    pub webhook_url: Option<String>,
    pub kinds: Vec<String>,
    pub quiet_from: Option<NaiveTime>,
    pub quiet_to: Option<NaiveTime>,
    pub low_balance_threshold: Option<i64>,
}

impl Default for NotifySettings {
    fn default() -> Self {
        NotifySettings {
            email_enabled: true,
            webhook_url: None,
            kinds: NOTIFY_KINDS
                .iter()
                .map(|(kind, _)| (*kind).to_owned())
                .collect(),
            quiet_from: None,
            quiet_to: None,
            low_balance_threshold: None,
        }
    }
}

/// The parent's settings, or the defaults when they never saved any.
pub async fn notify_settings(
    pool: &sqlx_postgres::PgPool,
    parent_id: Uuid,
) -> Result<NotifySettings, sqlx_core::Error> {
    type Row = (
        bool,
        Option<String>,
        Vec<String>,
        Option<NaiveTime>,
        Option<NaiveTime>,
        Option<i64>,
    );
    let row: Option<Row> = query_as(
        "SELECT email_enabled, webhook_url, kinds, quiet_from, quiet_to, low_balance_threshold
           FROM parent_notify_settings WHERE parent_id = $1",
    )
    .bind(parent_id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map_or_else(
        NotifySettings::default,
        |(email_enabled, webhook_url, kinds, quiet_from, quiet_to, low)| NotifySettings {
            email_enabled,
            webhook_url,
            kinds,
            quiet_from,
            quiet_to,
            low_balance_threshold: low,
        },
    ))
}

fn settings_view(
    session: &ParentSession,
    settings: &NotifySettings,
    status: StatusCode,
    error: Option<String>,
    notice: Option<String>,
) -> Response {
    let time = |time: Option<NaiveTime>| {
        time.map(|t| t.format("%H:%M").to_string())
            .unwrap_or_default()
    };
    let page = SettingsPage {
        csrf: session.csrf.clone(),
        email: session.email.clone(),
        email_enabled: settings.email_enabled,
        webhook_url: settings.webhook_url.clone().unwrap_or_default(),
        kinds: NOTIFY_KINDS
            .iter()
            .map(|(value, label)| KindChoice {
                value,
                label,
                checked: settings.kinds.iter().any(|kind| kind == value),
            })
            .collect(),
        quiet_from: time(settings.quiet_from),
        quiet_to: time(settings.quiet_to),
        low_balance: settings
            .low_balance_threshold
            .map(|k| {
                if k % 100 == 0 {
                    (k / 100).to_string()
                } else {
                    format!("{},{:02}", k / 100, k % 100)
                }
            })
            .unwrap_or_default(),
        error,
        notice,
    };
    render(status, &page)
}

#[derive(serde::Deserialize)]
struct SavedQuery {
    #[serde(default)]
    saved: Option<String>,
}

async fn settings_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<SavedQuery>,
) -> PortalResult {
    let session = signed_in(&state, &headers).await?;
    let settings = notify_settings(&state.pool, session.parent_id).await?;
    let notice = match params.saved.as_deref() {
        Some("settings") => Some("Настройки сохранены.".to_owned()),
        Some("password") => Some("Пароль сохранён. Теперь можно входить по паролю.".to_owned()),
        _ => None,
    };
    Ok(settings_view(
        &session,
        &settings,
        StatusCode::OK,
        None,
        notice,
    ))
}

/// Reads the settings form; the error is a Russian sentence.
fn read_settings(fields: &Fields) -> Result<NotifySettings, String> {
    let webhook = field(fields, "webhook_url").trim();
    let webhook_url = if webhook.is_empty() {
        None
    } else if (webhook.starts_with("https://") || webhook.starts_with("http://"))
        && webhook.len() <= 2_000
        && !webhook.chars().any(char::is_whitespace)
    {
        Some(webhook.to_owned())
    } else {
        return Err(
            "Адрес вебхука должен начинаться с https:// (или http://) и не содержать пробелов."
                .into(),
        );
    };
    let time = |name: &str| -> Result<Option<NaiveTime>, String> {
        let text = field(fields, name).trim();
        if text.is_empty() {
            return Ok(None);
        }
        NaiveTime::parse_from_str(text, "%H:%M")
            .map(Some)
            .map_err(|_| "Время тихих часов — в виде ЧЧ:ММ, например 22:00.".to_owned())
    };
    let (quiet_from, quiet_to) = (time("quiet_from")?, time("quiet_to")?);
    if quiet_from.is_some() != quiet_to.is_some() {
        return Err(
            "Укажите тихие часы целиком — «с» и «до» — или оставьте оба поля пустыми.".into(),
        );
    }
    let low = field(fields, "low_balance").trim();
    let low_balance_threshold = if low.is_empty() {
        None
    } else {
        match parse_roubles(low) {
            Some(kopecks) if kopecks <= LIMIT_KOPECKS_MAX => Some(kopecks),
            _ => return Err("Порог баланса — сумма в рублях, например 100 или 50,50.".into()),
        }
    };
    Ok(NotifySettings {
        email_enabled: field(fields, "email_enabled") == "1",
        webhook_url,
        kinds: NOTIFY_KINDS
            .iter()
            .filter(|(kind, _)| field(fields, &format!("kind_{kind}")) == "1")
            .map(|(kind, _)| (*kind).to_owned())
            .collect(),
        quiet_from,
        quiet_to,
        low_balance_threshold,
    })
}

/// Bytes of a webhook's signing key.
const WEBHOOK_SECRET_BYTES: usize = 24;

async fn save_settings(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> PortalResult {
    let session = signed_in_form(&state, &headers, &fields).await?;
    let settings = match read_settings(&fields) {
        Ok(settings) => settings,
        Err(error) => {
            let stored = notify_settings(&state.pool, session.parent_id).await?;
            return Ok(settings_view(
                &session,
                &stored,
                StatusCode::BAD_REQUEST,
                Some(error),
                None,
            ));
        }
    };
    let previous: Option<(Option<String>, Option<String>)> = query_as(
        "SELECT webhook_url, webhook_secret FROM parent_notify_settings WHERE parent_id = $1",
    )
    .bind(session.parent_id)
    .fetch_optional(&state.pool)
    .await?;
    query(
        "INSERT INTO parent_notify_settings
           (parent_id, email_enabled, webhook_url, kinds, quiet_from, quiet_to, low_balance_threshold)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (parent_id) DO UPDATE SET email_enabled = EXCLUDED.email_enabled,
           webhook_url = EXCLUDED.webhook_url, kinds = EXCLUDED.kinds, quiet_from = EXCLUDED.quiet_from,
           quiet_to = EXCLUDED.quiet_to, low_balance_threshold = EXCLUDED.low_balance_threshold",
    )
    .bind(session.parent_id)
    .bind(settings.email_enabled)
    .bind(&settings.webhook_url)
    .bind(&settings.kinds)
    .bind(settings.quiet_from)
    .bind(settings.quiet_to)
    .bind(settings.low_balance_threshold)
    .execute(&state.pool)
    .await?;
    // A new webhook address gets its own signing key, shown this once.
    let new_address = previous
        .as_ref()
        .is_none_or(|(url, secret)| secret.is_none() || *url != settings.webhook_url);
    if settings.webhook_url.is_some() && new_address {
        let secret = crate::auth::random_hex(WEBHOOK_SECRET_BYTES);
        query("UPDATE parent_notify_settings SET webhook_secret = $2 WHERE parent_id = $1")
            .bind(session.parent_id)
            .bind(&secret)
            .execute(&state.pool)
            .await?;
        let stored = notify_settings(&state.pool, session.parent_id).await?;
        let notice = format!(
            "Сохранено. Ключ подписи вебхука: {secret}. Каждое сообщение подписано им \
             (HMAC-SHA256 тела в заголовке {}); сохраните ключ в вашей системе — \
             он показан один раз.",
            crate::notify::SIGNATURE_HEADER
        );
        return Ok(settings_view(
            &session,
            &stored,
            StatusCode::OK,
            None,
            Some(notice),
        ));
    }
    Ok(Redirect::to("/portal/settings?saved=settings").into_response())
}

async fn save_password(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> PortalResult {
    let session = signed_in_form(&state, &headers, &fields).await?;
    let password = field(&fields, "password");
    if let Some(problem) = auth::password_problem(password) {
        let stored = notify_settings(&state.pool, session.parent_id).await?;
        return Ok(settings_view(
            &session,
            &stored,
            StatusCode::BAD_REQUEST,
            Some(problem),
            None,
        ));
    }
    auth::set_password(&state.pool, &session, password).await?;
    Ok(Redirect::to("/portal/settings?saved=password").into_response())
}

#[cfg(test)]
mod tests {
    use super::days_overdue;
    use chrono::NaiveDate;

    #[test]
    fn a_loan_is_overdue_from_the_day_after_its_due_date() {
        let day = |d: u32| NaiveDate::from_ymd_opt(2026, 12, d).unwrap();
        for (due, today, overdue) in [
            (day(12), day(11), None),
            (day(12), day(12), None),
            (day(12), day(13), Some(1)),
            (day(1), day(15), Some(14)),
        ] {
            assert_eq!(days_overdue(due, today), overdue, "{due} on {today}");
        }
    }
}
