//! Who is calling: people (a bearer token from `POST /v1/auth/login`) and devices
//! (`Authorization: Device <id>:<secret>`). Tokens, device secrets and enrolment codes are
//! random and high-entropy, so the server keeps only their SHA-256; people's passwords are
//! argon2id.

use axum::http::HeaderMap;
use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};
use sqlx_core::query::query;
use sqlx_core::query_as::query_as;
use sqlx_postgres::PgPool;
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::error::ApiError;
use schoolcard_proto::sync::DEVICE_AUTH_SCHEME;

/// A session lasts one working day and a half: a school admin signs in once a shift.
pub const SESSION_LIFETIME_H: i64 = 12;
/// Bytes of randomness in a bearer token and a device secret.
pub const SECRET_BYTES: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The municipal education office: every school.
    MunicipalAdmin,
    /// Reads the municipality's aggregates (no pupil's name), changes nothing.
    MunicipalAnalyst,
    /// One school's administrator.
    SchoolAdmin,
    /// The food supplier: the meal orders of the schools it feeds (`supplier_schools`).
    Supplier,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::MunicipalAdmin => "municipal_admin",
            Role::MunicipalAnalyst => "municipal_analyst",
            Role::SchoolAdmin => "school_admin",
            Role::Supplier => "supplier",
        }
    }
    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "municipal_admin" => Some(Role::MunicipalAdmin),
            "municipal_analyst" => Some(Role::MunicipalAnalyst),
            "school_admin" => Some(Role::SchoolAdmin),
            "supplier" => Some(Role::Supplier),
            _ => None,
        }
    }
}

/// A signed-in person.
#[derive(Debug, Clone)]
pub struct User {
    pub id: Uuid,
    pub login: String,
    pub role: Role,
    /// The school of a school admin; `None` for the municipality.
    pub school_id: Option<Uuid>,
}

impl User {
    /// A municipal admin manages every school, a school admin only their own.
    pub fn check_school(&self, school_id: Uuid) -> Result<(), ApiError> {
        match self.role {
            Role::MunicipalAdmin => Ok(()),
            Role::SchoolAdmin if self.school_id == Some(school_id) => Ok(()),
            Role::SchoolAdmin => Err(ApiError::forbidden(
                "a school admin manages only their own school",
            )),
            Role::MunicipalAnalyst | Role::Supplier => Err(ApiError::forbidden(
                "this account reads reports and manages no school",
            )),
        }
    }

    pub fn check_municipal(&self) -> Result<(), ApiError> {
        match self.role {
            Role::MunicipalAdmin => Ok(()),
            _ => Err(ApiError::forbidden("only a municipal admin may do this")),
        }
    }

    /// Whose aggregates this account may read: `None` every school's (the municipality),
    /// `Some(school)` one school's (its admin).
    pub fn analytics_scope(&self) -> Result<Option<Uuid>, ApiError> {
        match self.role {
            Role::MunicipalAdmin | Role::MunicipalAnalyst => Ok(None),
            Role::SchoolAdmin => Ok(self.school_id),
            Role::Supplier => Err(ApiError::forbidden(
                "a supplier reads its orders, not the schools' figures",
            )),
        }
    }
}

/// An enrolled, unrevoked device that proved its secret.
#[derive(Debug, Clone)]
pub struct Device {
    pub id: String,
    pub school_id: Uuid,
}

pub fn random_hex(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    getrandom::getrandom(&mut buffer).expect("the OS's random source");
    hex::encode(buffer)
}

pub fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn equal_in_constant_time(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// argon2id with the crate's defaults (the OWASP parameters: 19 MiB, 2 passes).
pub fn hash_password(password: &str) -> String {
    use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
    let salt = SaltString::generate(&mut OsRng);
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 with default parameters")
        .to_string()
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(hash)
        .map(|parsed| {
            argon2::Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Checks a login and password and opens a session: the bearer token and its expiry.
pub async fn login(
    pool: &PgPool,
    login: &str,
    password: &str,
) -> Result<(String, DateTime<Utc>), ApiError> {
    let row: Option<(Uuid, String)> =
        query_as("SELECT id, password_hash FROM users WHERE login = $1")
            .bind(login)
            .fetch_optional(pool)
            .await?;
    let wrong = || ApiError::unauthorized("wrong login or password");
    let (user_id, hash) = match row {
        Some(row) => row,
        // Spend the same time as a real check, so the answer does not tell which logins exist.
        None => (Uuid::nil(), dummy_hash().to_owned()),
    };
    let password = password.to_owned();
    let matches = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .map_err(|_| ApiError::unavailable("password check failed"))?;
    if !matches || user_id.is_nil() {
        return Err(wrong());
    }
    // Sessions long expired go as new ones come: the table stays the size of a day's logins.
    query("DELETE FROM sessions WHERE expires_at < now() - interval '1 day'")
        .execute(pool)
        .await?;
    let token = random_hex(SECRET_BYTES);
    let expires_at = Utc::now() + Duration::hours(SESSION_LIFETIME_H);
    sqlx_core::query::query(
        "INSERT INTO sessions (token_hash, user_id, expires_at) VALUES ($1, $2, $3)",
    )
    .bind(sha256_hex(&token))
    .bind(user_id)
    .bind(expires_at)
    .execute(pool)
    .await?;
    Ok((token, expires_at))
}

fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password("not a password anyone has"))
}

/// The signed-in person of `Authorization: Bearer <token>`.
pub async fn user_from_headers(pool: &PgPool, headers: &HeaderMap) -> Result<User, ApiError> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .ok_or_else(|| ApiError::unauthorized("sign in first: no Authorization header"))?;
    let token = value
        .strip_prefix("Bearer ")
        .ok_or_else(|| ApiError::unauthorized("expected Authorization: Bearer <token>"))?;
    user_of_token(pool, token).await
}

/// The signed-in person of a session token (a bearer token, or the staff pages' cookie).
pub async fn user_of_token(pool: &PgPool, token: &str) -> Result<User, ApiError> {
    let row: Option<(Uuid, String, String, Option<Uuid>)> = query_as(
        "SELECT u.id, u.login, u.role, u.school_id FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.token_hash = $1 AND s.expires_at > now()",
    )
    .bind(sha256_hex(token.trim()))
    .fetch_optional(pool)
    .await?;
    let (id, login, role, school_id) = row.ok_or_else(|| {
        ApiError::unauthorized("the session is unknown or expired: sign in again")
    })?;
    let role = Role::parse(&role)
        .ok_or_else(|| ApiError::unavailable(format!("user {login} has an unknown role")))?;
    Ok(User {
        id,
        login,
        role,
        school_id,
    })
}

/// Ends the session of `token` (sign-out); an unknown token is no error.
pub async fn end_session(pool: &PgPool, token: &str) -> Result<(), ApiError> {
    query("DELETE FROM sessions WHERE token_hash = $1")
        .bind(sha256_hex(token.trim()))
        .execute(pool)
        .await?;
    Ok(())
}

/// The `(id, secret)` of `Authorization: Device <id>:<secret>`.
pub fn device_credential(headers: &HeaderMap) -> Result<(String, String), ApiError> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .ok_or_else(|| {
            ApiError::unauthorized("no Authorization header: a device sends `Device <id>:<secret>`")
        })?;
    let credential = value
        .strip_prefix(DEVICE_AUTH_SCHEME)
        .and_then(|rest| rest.strip_prefix(' '))
        .ok_or_else(|| ApiError::unauthorized("expected Authorization: Device <id>:<secret>"))?;
    let (id, secret) = credential
        .trim()
        .split_once(':')
        .ok_or_else(|| ApiError::unauthorized("expected Authorization: Device <id>:<secret>"))?;
    Ok((id.to_owned(), secret.to_owned()))
}

/// Checks a device's credential against the stored hash, in constant time, on every call:
/// a revocation takes effect at the device's next call.
pub async fn authenticate_device(pool: &PgPool, headers: &HeaderMap) -> Result<Device, ApiError> {
    let (id, secret) = device_credential(headers)?;
    let row: Option<(Uuid, String, Option<DateTime<Utc>>)> =
        query_as("SELECT school_id, secret_hash, revoked_at FROM devices WHERE id = $1")
            .bind(&id)
            .fetch_optional(pool)
            .await?;
    let refused =
        || ApiError::unauthorized("unknown device, wrong secret or revoked device: enrol again");
    let (school_id, stored_hash, revoked_at) = row.ok_or_else(refused)?;
    if !equal_in_constant_time(&sha256_hex(&secret), &stored_hash) || revoked_at.is_some() {
        return Err(refused());
    }
    Ok(Device { id, school_id })
}
