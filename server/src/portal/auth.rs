//! Parents' sign-in and sessions (OWASP ASVS L2 where it applies to a small portal):
//!
//! - a one-time 6-digit code by e-mail (kept as a salted SHA-256, 10 minutes, 5 tries) —
//!   the first sign-in, which creates the parent's account only if some school's roster
//!   has a guardian with that address; afterwards a password (argon2id) may be set;
//! - attempts limited per e-mail and per client address by token buckets in memory;
//! - sessions in `parent_sessions` (only the token's hash is kept), ended after
//!   [`SESSION_IDLE_H`] hours without a request or at sign-out; the cookie is HttpOnly,
//!   SameSite=Lax, Path=/ and, when the portal is served over HTTPS, Secure with the
//!   `__Host-` prefix;
//! - a CSRF token per session, checked on every POST form; the sign-in forms, before a
//!   session exists, use a double-submit cookie instead.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::http::HeaderMap;
use sqlx_core::query::query;
use sqlx_core::query_as::query_as;
use sqlx_core::query_scalar::query_scalar;
use sqlx_postgres::PgPool;
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::auth::{hash_password, random_hex, sha256_hex, verify_password, SECRET_BYTES};
use crate::mail::Mailer;

/// A session's last request is noted at most this often.
const SESSION_TOUCH_S: u64 = 60;
/// A session ends after this long without a request.
pub const SESSION_IDLE_H: i64 = 12;
/// A code is good for this long after it was sent.
pub const CODE_LIFETIME_MIN: i64 = 10;
/// Wrong entries of one code before it is void.
pub const CODE_ATTEMPTS_MAX: i32 = 5;
/// Sign-in attempts (codes asked for, codes and passwords entered) per e-mail address:
/// a burst of this many, then one more per [`PER_EMAIL_REFILL_S`].
pub const PER_EMAIL_BURST: f64 = 10.0;
pub const PER_EMAIL_REFILL_S: f64 = 60.0;
/// The same per client address: a school's parents may share one NAT, so more.
pub const PER_ADDRESS_BURST: f64 = 30.0;
pub const PER_ADDRESS_REFILL_S: f64 = 10.0;
/// Buckets kept at most; past it, full buckets (no recent attempts) are forgotten.
const BUCKETS_MAX: usize = 100_000;
/// The shortest password a parent may set.
pub const PASSWORD_LEN_MIN_CHARS: usize = 10;
pub const PASSWORD_LEN_MAX_CHARS: usize = 200;
/// An e-mail address is at most this long (RFC 5321's path limit).
pub const EMAIL_LEN_MAX: usize = 254;

/// The portal's shared state: the mailer, the cookie policy and the rate limits.
pub struct Portal {
    pub mailer: Arc<dyn Mailer>,
    /// Secure cookies with the `__Host-` prefix; off only for plain HTTP on loopback.
    pub secure_cookies: bool,
    limiter: RateLimiter,
}

impl Portal {
    pub fn new(mailer: Arc<dyn Mailer>, secure_cookies: bool) -> Self {
        Portal {
            mailer,
            secure_cookies,
            limiter: RateLimiter::default(),
        }
    }

    /// Takes one attempt from the e-mail's and the address's buckets; false when either
    /// is empty (the answer is 429).
    pub fn allow_attempt(&self, email: &str, address: &str) -> bool {
        let now = Instant::now();
        let by_email = self.limiter.take(
            &format!("e:{email}"),
            PER_EMAIL_BURST,
            PER_EMAIL_REFILL_S,
            now,
        );
        let by_address = self.limiter.take(
            &format!("a:{address}"),
            PER_ADDRESS_BURST,
            PER_ADDRESS_REFILL_S,
            now,
        );
        by_email && by_address
    }

    /// The session cookie's name.
    pub fn session_cookie(&self) -> &'static str {
        if self.secure_cookies {
            "__Host-sc_portal"
        } else {
            "sc_portal"
        }
    }

    /// The sign-in forms' double-submit cookie's name.
    pub fn pre_cookie(&self) -> &'static str {
        if self.secure_cookies {
            "__Host-sc_pre"
        } else {
            "sc_pre"
        }
    }

    /// A `Set-Cookie` value; `None` clears the cookie.
    pub fn set_cookie(&self, name: &str, value: Option<&str>) -> String {
        let secure = if self.secure_cookies { "; Secure" } else { "" };
        match value {
            Some(value) => format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax{secure}"),
            None => format!("{name}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}"),
        }
    }
}

#[derive(Default)]
struct RateLimiter {
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    fn take(&self, key: &str, burst: f64, refill_s: f64, now: Instant) -> bool {
        let mut buckets = self.buckets.lock().expect("the rate limiter");
        if buckets.len() >= BUCKETS_MAX {
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() / refill_s < burst
            });
        }
        let (tokens, at) = buckets.entry(key.to_owned()).or_insert((burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() / refill_s).min(burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// A signed-in parent.
#[derive(Debug, Clone)]
pub struct ParentSession {
    pub parent_id: Uuid,
    pub email: String,
    pub has_password: bool,
    pub csrf: String,
    token_hash: String,
}

pub fn equal_in_constant_time(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The value of cookie `name` in the request.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

/// A normalised e-mail address, or `None` when it does not look like one.
pub fn normalise_email(text: &str) -> Option<String> {
    let email = text.trim().to_lowercase();
    let (local, domain) = email.split_once('@')?;
    let plausible = !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && email.len() <= EMAIL_LEN_MAX
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    plausible.then_some(email)
}

/// Opens a session: answers the cookie's token.
pub async fn open_session(pool: &PgPool, parent_id: Uuid) -> Result<String, sqlx_core::Error> {
    // Idle sessions go as new ones come: the table stays the size of a day's sign-ins.
    query(&format!(
        "DELETE FROM parent_sessions WHERE last_seen_at < now() - interval '{SESSION_IDLE_H} hours'"
    ))
    .execute(pool)
    .await?;
    let token = random_hex(SECRET_BYTES);
    query("INSERT INTO parent_sessions (token_hash, parent_id, csrf_token) VALUES ($1, $2, $3)")
        .bind(sha256_hex(&token))
        .bind(parent_id)
        .bind(random_hex(SECRET_BYTES))
        .execute(pool)
        .await?;
    Ok(token)
}

/// The session of the request's cookie, if it is live; a request keeps it alive.
pub async fn session(
    pool: &PgPool,
    portal: &Portal,
    headers: &HeaderMap,
) -> Result<Option<ParentSession>, sqlx_core::Error> {
    let Some(token) = cookie(headers, portal.session_cookie()) else {
        return Ok(None);
    };
    let token_hash = sha256_hex(&token);
    // Read-only for a session seen within the last minute: a busy parent's page views
    // write (and wait for a commit to disk) once a minute, not once a page.
    let row: Option<(Uuid, String, bool, String)> = query_as(&format!(
        "WITH live AS (
             SELECT s.token_hash, s.last_seen_at, p.id, p.email,
                    p.password_hash IS NOT NULL AS has_password, s.csrf_token
             FROM parent_sessions s JOIN parents p ON p.id = s.parent_id
             WHERE s.token_hash = $1
               AND s.last_seen_at > now() - interval '{SESSION_IDLE_H} hours'),
         touched AS (
             UPDATE parent_sessions SET last_seen_at = now()
             WHERE token_hash IN (SELECT token_hash FROM live
                                  WHERE last_seen_at < now() - interval '{SESSION_TOUCH_S} seconds'))
         SELECT id, email, has_password, csrf_token FROM live"
    ))
    .bind(&token_hash)
    .fetch_optional(pool)
    .await?;
    Ok(
        row.map(|(parent_id, email, has_password, csrf)| ParentSession {
            parent_id,
            email,
            has_password,
            csrf,
            token_hash,
        }),
    )
}

/// Ends a session (sign-out).
pub async fn close_session(pool: &PgPool, session: &ParentSession) -> Result<(), sqlx_core::Error> {
    query("DELETE FROM parent_sessions WHERE token_hash = $1")
        .bind(&session.token_hash)
        .execute(pool)
        .await?;
    Ok(())
}

/// Whether some school's roster has a guardian with this (normalised) address.
pub async fn on_a_roster(pool: &PgPool, email: &str) -> Result<bool, sqlx_core::Error> {
    query_scalar(
        "SELECT EXISTS (SELECT 1 FROM school_persons WHERE email = $1 AND kind = 'guardian' AND status = 'active')",
    )
    .bind(email)
    .fetch_one(pool)
    .await
}

fn code_hash(salt: &str, code: &str) -> String {
    sha256_hex(&format!("{salt}:{code}"))
}

/// Sends a new one-time code to `email` if a roster knows the address (silently does
/// nothing otherwise, so the answer does not tell who is a parent). A new code replaces
/// the previous one.
pub async fn issue_code(
    pool: &PgPool,
    mailer: Arc<dyn Mailer>,
    email: &str,
) -> Result<(), sqlx_core::Error> {
    if !on_a_roster(pool, email).await? {
        tracing::info!("portal: a code was asked for an address no roster has");
        return Ok(());
    }
    let mut bytes = [0u8; 4];
    getrandom::getrandom(&mut bytes).expect("the OS's random source");
    let code = format!("{:06}", u32::from_le_bytes(bytes) % 1_000_000);
    let salt = random_hex(16);
    query(&format!(
        "INSERT INTO parent_codes (email, code_hash, salt, expires_at, attempts)
         VALUES ($1, $2, $3, now() + interval '{CODE_LIFETIME_MIN} minutes', 0)
         ON CONFLICT (email) DO UPDATE SET code_hash = EXCLUDED.code_hash, salt = EXCLUDED.salt,
           expires_at = EXCLUDED.expires_at, attempts = 0"
    ))
    .bind(email)
    .bind(code_hash(&salt, &code))
    .bind(&salt)
    .execute(pool)
    .await?;
    let to = email.to_owned();
    let body = format!(
        "Ваш код для входа в портал «Проход и питание»: {code}\n\n\
         Код действует {CODE_LIFETIME_MIN} минут. Если вы не запрашивали код, просто удалите это письмо."
    );
    let sent = tokio::task::spawn_blocking(move || {
        mailer.send(&to, "Код для входа в портал «Проход и питание»", &body)
    })
    .await;
    match sent {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::warn!(%error, "portal: the code was not sent"),
        Err(error) => tracing::warn!(%error, "portal: the mailer panicked"),
    }
    Ok(())
}

/// What an entered code did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeCheck {
    /// Right: the parent (the account is created on the first sign-in).
    SignedIn(Uuid),
    /// Wrong; the code is still live.
    Wrong,
    /// No live code: none sent, expired, or too many wrong tries.
    NoCode,
}

pub async fn check_code(
    pool: &PgPool,
    email: &str,
    code: &str,
) -> Result<CodeCheck, sqlx_core::Error> {
    let mut tx = pool.begin().await?;
    let row: Option<(String, String, bool, i32)> = query_as(
        "SELECT code_hash, salt, expires_at > now(), attempts FROM parent_codes WHERE email = $1 FOR UPDATE",
    )
    .bind(email)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((stored, salt, live, attempts)) = row else {
        return Ok(CodeCheck::NoCode);
    };
    if !live || attempts >= CODE_ATTEMPTS_MAX {
        query("DELETE FROM parent_codes WHERE email = $1")
            .bind(email)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        return Ok(CodeCheck::NoCode);
    }
    let entered: String = code.chars().filter(char::is_ascii_digit).collect();
    if !equal_in_constant_time(&code_hash(&salt, &entered), &stored) {
        query("UPDATE parent_codes SET attempts = attempts + 1 WHERE email = $1")
            .bind(email)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        return Ok(CodeCheck::Wrong);
    }
    query("DELETE FROM parent_codes WHERE email = $1")
        .bind(email)
        .execute(&mut *tx)
        .await?;
    query(
        "INSERT INTO parents (id, email) SELECT $1, $2
          WHERE EXISTS (SELECT 1 FROM school_persons WHERE email = $2 AND kind = 'guardian' AND status = 'active')
         ON CONFLICT (email) DO NOTHING",
    )
    .bind(Uuid::now_v7())
    .bind(email)
    .execute(&mut *tx)
    .await?;
    let parent: Option<Uuid> = query_scalar("SELECT id FROM parents WHERE email = $1")
        .bind(email)
        .fetch_optional(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(parent.map_or(CodeCheck::NoCode, CodeCheck::SignedIn))
}

/// The parent whose password this is; spends an argon2 check's time either way.
pub async fn check_password(
    pool: &PgPool,
    email: &str,
    password: &str,
) -> Result<Option<Uuid>, sqlx_core::Error> {
    let row: Option<(Uuid, Option<String>)> =
        query_as("SELECT id, password_hash FROM parents WHERE email = $1")
            .bind(email)
            .fetch_optional(pool)
            .await?;
    let (parent_id, hash) = match row {
        Some((id, Some(hash))) => (Some(id), hash),
        _ => (None, dummy_hash().to_owned()),
    };
    let password = password.to_owned();
    let matches = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .unwrap_or(false);
    Ok(parent_id.filter(|_| matches))
}

fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password("not a password any parent has"))
}

/// Why a new password is refused, in Russian for the page.
pub fn password_problem(password: &str) -> Option<String> {
    let chars = password.chars().count();
    if chars < PASSWORD_LEN_MIN_CHARS {
        return Some(format!(
            "Пароль слишком короткий: нужно не меньше {PASSWORD_LEN_MIN_CHARS} символов."
        ));
    }
    if chars > PASSWORD_LEN_MAX_CHARS {
        return Some(format!(
            "Пароль слишком длинный: не больше {PASSWORD_LEN_MAX_CHARS} символов."
        ));
    }
    None
}

/// Sets the parent's password (argon2id) and ends their other sessions.
pub async fn set_password(
    pool: &PgPool,
    session: &ParentSession,
    password: &str,
) -> Result<(), sqlx_core::Error> {
    let password = password.to_owned();
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .expect("argon2 hashing");
    query("UPDATE parents SET password_hash = $2 WHERE id = $1")
        .bind(session.parent_id)
        .bind(hash)
        .execute(pool)
        .await?;
    query("DELETE FROM parent_sessions WHERE parent_id = $1 AND token_hash <> $2")
        .bind(session.parent_id)
        .bind(&session.token_hash)
        .execute(pool)
        .await?;
    Ok(())
}
