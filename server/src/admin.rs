//! Schools, their administrators and their devices: the functions (over a pool, with plain
//! arguments, for the routes, the demo and other crates' tests and benchmarks) and the
//! routes that call them.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sqlx_core::query::query;
use sqlx_core::query_as::query_as;
use sqlx_postgres::PgPool;
use uuid::Uuid;

use crate::auth::{self, Role};
use crate::error::ApiError;
use crate::http::AppState;
use schoolcard_proto::sync::{
    AuthoredAnswer, AuthoredEvent, EnrolRequest, EnrolResponse, SERVER_AUTHORED_KINDS,
};

/// An enrolment code is typed by the school's IT person at the workstation the same day.
pub const ENROLMENT_CODE_LIFETIME_H: i64 = 24;
/// Letters and digits that cannot be misread for one another (no I, O, 0, 1): 32 of
/// them, 5 bits a character, 60 bits in a code of 12.
const CODE_ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
const CODE_GROUPS: usize = 3;
const CODE_GROUP_LEN: usize = 4;
/// Names and ids a caller sends are bounded, so a row stays small.
const NAME_LEN_MAX: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct School {
    pub id: Uuid,
    pub name: String,
    pub time_zone: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrolmentCode {
    /// `ABCD-EFGH-JKLM`; shown once, stored hashed.
    pub code: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    pub id: String,
    pub name: String,
    pub enrolled_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_seen_at: Option<DateTime<Utc>>,
    pub app_version: String,
    pub protocol_version: Option<i32>,
}

fn check_name(what: &str, text: &str) -> Result<(), ApiError> {
    if text.trim().is_empty() || text.len() > NAME_LEN_MAX {
        return Err(ApiError::bad_request(format!(
            "{what} must be 1 to {NAME_LEN_MAX} bytes"
        )));
    }
    Ok(())
}

pub async fn create_school(pool: &PgPool, name: &str, time_zone: &str) -> Result<School, ApiError> {
    check_name("a school's name", name)?;
    if time_zone.parse::<chrono_tz::Tz>().is_err() {
        return Err(ApiError::bad_request(format!(
            "{time_zone} is not an IANA time zone name"
        )));
    }
    let school = School {
        id: Uuid::now_v7(),
        name: name.trim().to_owned(),
        time_zone: time_zone.to_owned(),
    };
    query("INSERT INTO schools (id, name, time_zone) VALUES ($1, $2, $3)")
        .bind(school.id)
        .bind(&school.name)
        .bind(&school.time_zone)
        .execute(pool)
        .await?;
    Ok(school)
}

pub async fn list_schools(pool: &PgPool) -> Result<Vec<School>, ApiError> {
    let rows: Vec<(Uuid, String, String)> =
        query_as("SELECT id, name, time_zone FROM schools ORDER BY name, id")
            .fetch_all(pool)
            .await?;
    Ok(rows
        .into_iter()
        .map(|(id, name, time_zone)| School {
            id,
            name,
            time_zone,
        })
        .collect())
}

async fn school(pool: &PgPool, school_id: Uuid) -> Result<School, ApiError> {
    let row: Option<(String, String)> =
        query_as("SELECT name, time_zone FROM schools WHERE id = $1")
            .bind(school_id)
            .fetch_optional(pool)
            .await?;
    let (name, time_zone) =
        row.ok_or_else(|| ApiError::not_found(format!("no school {school_id}")))?;
    Ok(School {
        id: school_id,
        name,
        time_zone,
    })
}

/// A person who signs in: a municipal admin (`school_id` None) or a school admin.
pub async fn create_user(
    pool: &PgPool,
    login: &str,
    password: &str,
    role: Role,
    school_id: Option<Uuid>,
) -> Result<Uuid, ApiError> {
    check_name("a login", login)?;
    if password.chars().count() < 8 {
        return Err(ApiError::bad_request(
            "a password needs at least 8 characters",
        ));
    }
    if (role == Role::SchoolAdmin) != school_id.is_some() {
        return Err(ApiError::bad_request(
            "a school admin has a school; a municipal admin has none",
        ));
    }
    if let Some(school_id) = school_id {
        school(pool, school_id).await?;
    }
    let password = password.to_owned();
    let hash = tokio::task::spawn_blocking(move || auth::hash_password(&password))
        .await
        .map_err(|_| ApiError::unavailable("password hashing failed"))?;
    let id = Uuid::now_v7();
    let inserted = query(
        "INSERT INTO users (id, login, password_hash, role, school_id) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (login) DO NOTHING",
    )
    .bind(id)
    .bind(login)
    .bind(hash)
    .bind(role.as_str())
    .bind(school_id)
    .execute(pool)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            schoolcard_proto::sync::ErrorCode::BadRequest,
            format!("the login {login} is taken"),
        ));
    }
    Ok(id)
}

/// Upper case without separators, so `abcd efgh-jklm` is the code `ABCDEFGHJKLM`.
fn normalise_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// A new one-time enrolment code for a school, valid for [`ENROLMENT_CODE_LIFETIME_H`].
pub async fn issue_enrolment_code(
    pool: &PgPool,
    school_id: Uuid,
    created_by: Option<Uuid>,
) -> Result<EnrolmentCode, ApiError> {
    school(pool, school_id).await?;
    let mut random = [0u8; CODE_GROUPS * CODE_GROUP_LEN];
    getrandom::getrandom(&mut random).expect("the OS's random source");
    let characters: Vec<char> = random
        .iter()
        .map(|byte| CODE_ALPHABET[usize::from(byte % 32)] as char)
        .collect();
    let code = characters
        .chunks(CODE_GROUP_LEN)
        .map(|group| group.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-");
    let expires_at = Utc::now() + Duration::hours(ENROLMENT_CODE_LIFETIME_H);
    query("INSERT INTO enrolment_codes (code_hash, school_id, created_by, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(auth::sha256_hex(&normalise_code(&code)))
        .bind(school_id)
        .bind(created_by)
        .bind(expires_at)
        .execute(pool)
        .await?;
    Ok(EnrolmentCode { code, expires_at })
}

/// A workstation exchanges a one-time code for its secret.
///
/// The code is spent even when the rest fails later in the same transaction only if the
/// enrolment succeeds (one transaction). Decisions:
/// - an unknown code → 401; a used or expired one → 410 `code_expired`;
/// - a device id already enrolled at the same school (a reinstalled workstation, or one
///   revoked and let back in) gets a new secret, which replaces the old one and lifts a
///   revocation: the one-time code from that school's admin is the authority;
/// - a device id enrolled at another school → 403: one origin belongs to one school.
pub async fn enrol_device(
    pool: &PgPool,
    request: &EnrolRequest,
) -> Result<EnrolResponse, ApiError> {
    let device_id = request.device_id.trim();
    check_name("a device id", device_id)?;
    if device_id.starts_with("srv-") {
        return Err(ApiError::bad_request(
            "device ids starting with `srv-` are the server's own origins",
        ));
    }
    if request.name.len() > NAME_LEN_MAX || request.app_version.len() > NAME_LEN_MAX {
        return Err(ApiError::bad_request(format!(
            "name and app_version are at most {NAME_LEN_MAX} bytes"
        )));
    }
    let code_hash = auth::sha256_hex(&normalise_code(&request.code));
    let mut tx = pool.begin().await?;
    let spent: Option<(Uuid,)> = query_as(
        "UPDATE enrolment_codes SET used_at = now(), used_by = $2
         WHERE code_hash = $1 AND used_at IS NULL AND expires_at > now() RETURNING school_id",
    )
    .bind(&code_hash)
    .bind(device_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((school_id,)) = spent else {
        let known: Option<(Uuid,)> =
            query_as("SELECT school_id FROM enrolment_codes WHERE code_hash = $1")
                .bind(&code_hash)
                .fetch_optional(&mut *tx)
                .await?;
        return Err(match known {
            Some(_) => ApiError::new(
                StatusCode::GONE,
                schoolcard_proto::sync::ErrorCode::CodeExpired,
                "this enrolment code was already used or has expired: ask the school's admin for a new one",
            ),
            None => ApiError::unauthorized("no such enrolment code: check the code you typed"),
        });
    };
    let existing: Option<(Uuid,)> = query_as("SELECT school_id FROM devices WHERE id = $1")
        .bind(device_id)
        .fetch_optional(&mut *tx)
        .await?;
    if matches!(existing, Some((other,)) if other != school_id) {
        return Err(ApiError::forbidden(format!(
            "device {device_id} is enrolled at another school; a workstation belongs to one school"
        )));
    }
    let secret = auth::random_hex(auth::SECRET_BYTES);
    query(
        "INSERT INTO devices (id, school_id, name, secret_hash, app_version) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, secret_hash = EXCLUDED.secret_hash,
           app_version = EXCLUDED.app_version, enrolled_at = now(), revoked_at = NULL",
    )
    .bind(device_id)
    .bind(school_id)
    .bind(request.name.trim())
    .bind(auth::sha256_hex(&secret))
    .bind(&request.app_version)
    .execute(&mut *tx)
    .await?;
    let (school_name,): (String,) = query_as("SELECT name FROM schools WHERE id = $1")
        .bind(school_id)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    tracing::info!(device = device_id, school = %school_id, "device enrolled");
    Ok(EnrolResponse {
        device_id: device_id.to_owned(),
        secret,
        school_id: school_id.to_string(),
        school_name,
    })
}

/// Revokes a device: its next call is refused with 401. Answers the device's school.
pub async fn revoke_device(pool: &PgPool, device_id: &str) -> Result<Uuid, ApiError> {
    let row: Option<(Uuid,)> =
        query_as("UPDATE devices SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 RETURNING school_id")
            .bind(device_id)
            .fetch_optional(pool)
            .await?;
    row.map(|(school,)| school)
        .ok_or_else(|| ApiError::not_found(format!("no device {device_id}")))
}

pub async fn list_devices(pool: &PgPool, school_id: Uuid) -> Result<Vec<DeviceInfo>, ApiError> {
    type Row = (
        String,
        String,
        DateTime<Utc>,
        Option<DateTime<Utc>>,
        Option<DateTime<Utc>>,
        String,
        Option<i32>,
    );
    let rows: Vec<Row> = query_as(
        "SELECT id, name, enrolled_at, revoked_at, last_seen_at, app_version, protocol_version
         FROM devices WHERE school_id = $1 ORDER BY id",
    )
    .bind(school_id)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, name, enrolled_at, revoked_at, last_seen_at, app_version, protocol_version)| {
                DeviceInfo {
                    id,
                    name,
                    enrolled_at,
                    revoked_at,
                    last_seen_at,
                    app_version,
                    protocol_version,
                }
            },
        )
        .collect())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BalanceRow {
    pub person_id: String,
    pub balance: i64,
}

/// Balances of a school's pupils: the sum of their ledger entries. `only_negative` lists
/// those below zero (offline debits reconciled past the balance).
pub async fn balances(
    pool: &PgPool,
    school_id: Uuid,
    only_negative: bool,
) -> Result<Vec<BalanceRow>, ApiError> {
    let rows: Vec<(String, i64)> = query_as(
        "SELECT person_id, sum(amount)::bigint AS balance FROM ledger WHERE school_id = $1
         GROUP BY person_id HAVING NOT $2 OR sum(amount) < 0 ORDER BY person_id",
    )
    .bind(school_id)
    .bind(only_negative)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(person_id, balance)| BalanceRow { person_id, balance })
        .collect())
}

// ---- routes ----

#[derive(Debug, Deserialize)]
pub(crate) struct LoginBody {
    login: String,
    password: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct LoginAnswer {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

pub(crate) async fn login_route(
    State(state): State<AppState>,
    body: axum::body::Bytes,
) -> Result<Json<LoginAnswer>, ApiError> {
    let body: LoginBody = crate::http::parse_json(&body)?;
    let (token, expires_at) = auth::login(&state.pool, &body.login, &body.password).await?;
    Ok(Json(LoginAnswer { token, expires_at }))
}

#[derive(Debug, Deserialize)]
pub(crate) struct NewSchool {
    name: String,
    time_zone: String,
}

pub(crate) async fn create_school_route(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<School>), ApiError> {
    auth::user_from_headers(&state.pool, &headers)
        .await?
        .check_municipal()?;
    let body: NewSchool = crate::http::parse_json(&body)?;
    Ok((
        StatusCode::CREATED,
        Json(create_school(&state.pool, &body.name, &body.time_zone).await?),
    ))
}

pub(crate) async fn list_schools_route(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Vec<School>>, ApiError> {
    let user = auth::user_from_headers(&state.pool, &headers).await?;
    let mut schools = list_schools(&state.pool).await?;
    match user.role {
        Role::MunicipalAdmin | Role::MunicipalAnalyst => {}
        Role::SchoolAdmin => schools.retain(|school| Some(school.id) == user.school_id),
        Role::Supplier => {
            let fed = crate::analytics::schools_of_supplier(&state.pool, user.id).await?;
            schools.retain(|school| fed.contains(&school.id));
        }
    }
    Ok(Json(schools))
}

#[derive(Debug, Deserialize)]
pub(crate) struct NewSchoolAdmin {
    login: String,
    password: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct CreatedUser {
    pub id: Uuid,
    pub login: String,
}

pub(crate) async fn create_school_admin_route(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(school_id): Path<Uuid>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<CreatedUser>), ApiError> {
    auth::user_from_headers(&state.pool, &headers)
        .await?
        .check_municipal()?;
    let body: NewSchoolAdmin = crate::http::parse_json(&body)?;
    let id = create_user(
        &state.pool,
        &body.login,
        &body.password,
        Role::SchoolAdmin,
        Some(school_id),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedUser {
            id,
            login: body.login,
        }),
    ))
}

pub(crate) async fn enrolment_code_route(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(school_id): Path<Uuid>,
) -> Result<(StatusCode, Json<EnrolmentCode>), ApiError> {
    let user = auth::user_from_headers(&state.pool, &headers).await?;
    user.check_school(school_id)?;
    let code = issue_enrolment_code(&state.pool, school_id, Some(user.id)).await?;
    Ok((StatusCode::CREATED, Json(code)))
}

/// An admin's master data for a school, written by the server as the school's own event
/// (see `proto::sync::SERVER_AUTHORED_KINDS`).
pub async fn author_event(
    pool: &PgPool,
    school_id: Uuid,
    event: &AuthoredEvent,
) -> Result<AuthoredAnswer, ApiError> {
    if !SERVER_AUTHORED_KINDS.contains(&event.kind.as_str()) {
        return Err(ApiError::bad_request(format!(
            "the server does not write {:?} events; it writes {}",
            event.kind,
            SERVER_AUTHORED_KINDS.join(", ")
        )));
    }
    if !event.payload.is_object() {
        return Err(ApiError::bad_request("the payload must be a JSON object"));
    }
    school(pool, school_id).await?;
    let mut tx = pool.begin().await?;
    let written = crate::sync::append_server_event(
        &mut tx,
        school_id,
        &event.kind,
        &event.payload.to_string(),
    )
    .await?;
    tx.commit().await?;
    Ok(AuthoredAnswer {
        id: written.id.to_string(),
        origin: written.origin,
        origin_seq: written.origin_seq,
        global_seq: written.global_seq,
    })
}

pub(crate) async fn author_event_route(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(school_id): Path<Uuid>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<AuthoredAnswer>), ApiError> {
    let user = auth::user_from_headers(&state.pool, &headers).await?;
    user.check_school(school_id)?;
    let event: AuthoredEvent = crate::http::parse_json(&body)?;
    let answer = author_event(&state.pool, school_id, &event).await?;
    state.projector_wake.notify_one();
    tracing::info!(school = %school_id, kind = %event.kind, user = %user.id, "event authored on the server");
    Ok((StatusCode::CREATED, Json(answer)))
}

pub(crate) async fn list_devices_route(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(school_id): Path<Uuid>,
) -> Result<Json<Vec<DeviceInfo>>, ApiError> {
    auth::user_from_headers(&state.pool, &headers)
        .await?
        .check_school(school_id)?;
    school(&state.pool, school_id).await?;
    Ok(Json(list_devices(&state.pool, school_id).await?))
}

pub(crate) async fn revoke_device_route(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(device_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let user = auth::user_from_headers(&state.pool, &headers).await?;
    let row: Option<(Uuid,)> = query_as("SELECT school_id FROM devices WHERE id = $1")
        .bind(&device_id)
        .fetch_optional(&state.pool)
        .await?;
    let (school_id,) = row.ok_or_else(|| ApiError::not_found(format!("no device {device_id}")))?;
    user.check_school(school_id)?;
    revoke_device(&state.pool, &device_id).await?;
    tracing::info!(device = %device_id, by = %user.login, "device revoked");
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
pub(crate) struct BalancesQuery {
    #[serde(default)]
    negative: bool,
}

pub(crate) async fn balances_route(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(school_id): Path<Uuid>,
    Query(filter): Query<BalancesQuery>,
) -> Result<Json<Vec<BalanceRow>>, ApiError> {
    auth::user_from_headers(&state.pool, &headers)
        .await?
        .check_school(school_id)?;
    Ok(Json(
        balances(&state.pool, school_id, filter.negative).await?,
    ))
}

pub(crate) async fn enrol_route(
    State(state): State<AppState>,
    body: axum::body::Bytes,
) -> Result<Json<EnrolResponse>, ApiError> {
    let request: EnrolRequest = crate::http::parse_json(&body)?;
    Ok(Json(enrol_device(&state.pool, &request).await?))
}
