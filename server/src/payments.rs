//! Top-ups paid online: a [`PaymentProvider`] starts a payment (a page where the payer
//! confirms it) and later calls back, signed, with the outcome. A confirmed payment
//! becomes a server-authored `balance_topped_up` event and its ledger entry, once, however
//! often the provider repeats the callback; workstations get it by pull.
//!
//! [`SandboxProvider`] is the provider of the demo and the tests: its "bank page" is
//! `POST /sandbox/pay/{payment_id}` on this server, and it signs callbacks with
//! HMAC-SHA256 over the raw body (`x-sandbox-signature`, hex) under a configured key.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use sqlx_core::query::query;
use sqlx_core::query_as::query_as;
use sqlx_core::query_scalar;
use sqlx_postgres::PgPool;
use uuid::Uuid;

use crate::error::ApiError;
use crate::http::{parse_json, AppState};
use crate::sync::append_server_event;
use schoolcard_proto::sync::TopUpPayload;

/// The sandbox's signature header.
pub const SANDBOX_SIGNATURE_HEADER: &str = "x-sandbox-signature";
/// A single top-up is at most 100 000 ₽: a typo of three zeros is refused, not charged.
pub const TOP_UP_KOPECKS_MAX: i64 = 10_000_000;

/// A payment as the provider started it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartedPayment {
    pub provider_payment_id: String,
    /// Where the payer confirms the payment.
    pub confirmation_url: String,
}

/// A provider's callback, its signature checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackNotice {
    pub provider_payment_id: String,
    pub amount: i64,
    pub succeeded: bool,
}

pub trait PaymentProvider: Send + Sync {
    /// The provider's name, stored with each payment and naming its callback route.
    fn name(&self) -> &'static str;
    /// Starts a payment of `amount` kopecks; `server_url` is this server's public base URL.
    fn start(&self, payment_id: Uuid, amount: i64, server_url: &str) -> StartedPayment;
    /// Checks a callback's signature (in constant time) and reads it; a bad signature is 401.
    fn verify_callback(&self, headers: &HeaderMap, body: &[u8])
        -> Result<CallbackNotice, ApiError>;
}

pub struct SandboxProvider {
    key: Vec<u8>,
}

impl SandboxProvider {
    pub fn new(key: &[u8]) -> Self {
        SandboxProvider { key: key.to_vec() }
    }

    fn mac(&self) -> Hmac<Sha256> {
        Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes a key of any length")
    }

    /// The hex HMAC-SHA256 of `body` under the key.
    pub fn sign(&self, body: &[u8]) -> String {
        let mut mac = self.mac();
        mac.update(body);
        hex::encode(mac.finalize().into_bytes())
    }

    /// The body of the sandbox's callback.
    pub fn callback_body(notice: &CallbackNotice) -> Vec<u8> {
        serde_json::to_vec(notice).expect("a notice serialises")
    }
}

impl PaymentProvider for SandboxProvider {
    fn name(&self) -> &'static str {
        "sandbox"
    }

    fn start(&self, payment_id: Uuid, _amount: i64, server_url: &str) -> StartedPayment {
        StartedPayment {
            provider_payment_id: format!("sbx-{payment_id}"),
            confirmation_url: format!(
                "{}/sandbox/pay/{payment_id}",
                server_url.trim_end_matches('/')
            ),
        }
    }

    fn verify_callback(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<CallbackNotice, ApiError> {
        let signature = headers
            .get(SANDBOX_SIGNATURE_HEADER)
            .and_then(|value| value.to_str().ok())
            .and_then(|text| hex::decode(text.trim()).ok())
            .ok_or_else(|| {
                ApiError::unauthorized(format!("no valid {SANDBOX_SIGNATURE_HEADER} header"))
            })?;
        let mut mac = self.mac();
        mac.update(body);
        // verify_slice compares in constant time.
        mac.verify_slice(&signature)
            .map_err(|_| ApiError::unauthorized("the callback's signature does not match"))?;
        parse_json(body)
    }
}

/// What a callback did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackOutcome {
    pub payment_id: Uuid,
    /// `succeeded`, `failed` or `pending`.
    pub status: String,
    /// False when the payment had already been settled (a repeated callback).
    pub changed: bool,
    /// The global seq of the top-up event, when the payment succeeded.
    pub global_seq: Option<u64>,
}

/// Starts a top-up of `amount` kopecks for a pupil: a pending payment row and the page
/// where the payer confirms it.
pub async fn start_payment(
    pool: &PgPool,
    provider: &dyn PaymentProvider,
    server_url: &str,
    school_id: Uuid,
    person_id: &str,
    amount: i64,
) -> Result<(Uuid, String), ApiError> {
    if !(1..=TOP_UP_KOPECKS_MAX).contains(&amount) {
        return Err(ApiError::bad_request(format!(
            "a top-up is 1 to {TOP_UP_KOPECKS_MAX} kopecks; got {amount}"
        )));
    }
    if person_id.trim().is_empty() || person_id.len() > 200 {
        return Err(ApiError::bad_request("person_id must be 1 to 200 bytes"));
    }
    let payment_id = Uuid::now_v7();
    let started = provider.start(payment_id, amount, server_url);
    let inserted = query(
        "INSERT INTO payments (id, school_id, person_id, amount, provider, provider_payment_id, status)
         SELECT $1, id, $3, $4, $5, $6, 'pending' FROM schools WHERE id = $2",
    )
    .bind(payment_id)
    .bind(school_id)
    .bind(person_id)
    .bind(amount)
    .bind(provider.name())
    .bind(&started.provider_payment_id)
    .execute(pool)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(ApiError::not_found(format!("no school {school_id}")));
    }
    Ok((payment_id, started.confirmation_url))
}

/// Settles a payment from a provider's callback: verified, then idempotent by the
/// provider's payment id.
pub async fn handle_callback(
    pool: &PgPool,
    provider: &dyn PaymentProvider,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<CallbackOutcome, ApiError> {
    let notice = provider.verify_callback(headers, body)?;
    let mut tx = pool.begin().await?;
    let row: Option<(Uuid, Uuid, String, i64, String)> = query_as(
        "SELECT id, school_id, person_id, amount, status FROM payments
         WHERE provider = $1 AND provider_payment_id = $2 FOR UPDATE",
    )
    .bind(provider.name())
    .bind(&notice.provider_payment_id)
    .fetch_optional(&mut *tx)
    .await?;
    let (payment_id, school_id, person_id, amount, status) = row
        .ok_or_else(|| ApiError::not_found(format!("no payment {}", notice.provider_payment_id)))?;
    if status != "pending" {
        return Ok(CallbackOutcome {
            payment_id,
            status,
            changed: false,
            global_seq: None,
        });
    }
    if notice.amount != amount {
        return Err(ApiError::bad_request(format!(
            "the callback confirms {} kopecks but payment {payment_id} is for {amount}",
            notice.amount
        )));
    }
    if !notice.succeeded {
        query("UPDATE payments SET status = 'failed', confirmed_at = now() WHERE id = $1")
            .bind(payment_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        return Ok(CallbackOutcome {
            payment_id,
            status: "failed".into(),
            changed: true,
            global_seq: None,
        });
    }
    let payload = serde_json::to_string(&TopUpPayload {
        person_id,
        amount,
        note: format!("online payment {payment_id}"),
    })
    .expect("a top-up serialises");
    let event = append_server_event(&mut tx, school_id, TopUpPayload::KIND, &payload).await?;
    query("UPDATE payments SET status = 'succeeded', confirmed_at = now(), event_id = $2 WHERE id = $1")
        .bind(payment_id)
        .bind(event.id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    tracing::info!(payment = %payment_id, amount, global_seq = event.global_seq, "payment confirmed");
    Ok(CallbackOutcome {
        payment_id,
        status: "succeeded".into(),
        changed: true,
        global_seq: Some(event.global_seq),
    })
}

// ---- routes ----

#[derive(Debug, Deserialize)]
pub(crate) struct NewPayment {
    school_id: Uuid,
    person_id: String,
    amount: i64,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct PaymentStarted {
    pub payment_id: Uuid,
    pub confirmation_url: String,
}

fn sandbox(state: &AppState) -> Result<Arc<SandboxProvider>, ApiError> {
    state.sandbox.clone().ok_or_else(|| {
        ApiError::unavailable("online payments are not configured on this server (no sandbox key)")
    })
}

pub(crate) async fn start_payment_route(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<PaymentStarted>), ApiError> {
    let user = crate::auth::user_from_headers(&state.pool, &headers).await?;
    let request: NewPayment = parse_json(&body)?;
    user.check_school(request.school_id)?;
    let provider = sandbox(&state)?;
    let (payment_id, confirmation_url) = start_payment(
        &state.pool,
        provider.as_ref(),
        &state.public_url,
        request.school_id,
        &request.person_id,
        request.amount,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(PaymentStarted {
            payment_id,
            confirmation_url,
        }),
    ))
}

pub(crate) async fn sandbox_callback_route(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<CallbackOutcome>, ApiError> {
    let provider = sandbox(&state)?;
    let outcome = handle_callback(&state.pool, provider.as_ref(), &headers, &body).await?;
    if outcome.global_seq.is_some() {
        state.projector_wake.notify_one();
    }
    Ok(Json(outcome))
}

/// The sandbox bank's page, where the portal sends a payer: the amount and a "pay" button
/// that posts to [`sandbox_pay_route`].
pub(crate) async fn sandbox_page_route(
    State(state): State<AppState>,
    Path(payment_id): Path<Uuid>,
) -> Result<axum::response::Html<String>, ApiError> {
    sandbox(&state)?;
    let amount: Option<i64> =
        query_scalar::query_scalar("SELECT amount FROM payments WHERE id = $1")
            .bind(payment_id)
            .fetch_optional(&state.pool)
            .await?;
    let amount = amount.ok_or_else(|| ApiError::not_found(format!("no payment {payment_id}")))?;
    Ok(axum::response::Html(format!(
        "<!doctype html><html lang=\"ru\"><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>Песочница оплаты</title><h1>Песочница оплаты</h1><p>Платёж на {}.</p>\
         <form method=\"post\" action=\"/sandbox/pay/{payment_id}\"><button>Оплатить</button></form></html>",
        crate::portal::rub(amount)
    )))
}

/// The sandbox bank's "pay" button: signs a success callback and hands it to the same
/// handler the provider's callback reaches.
pub(crate) async fn sandbox_pay_route(
    State(state): State<AppState>,
    Path(payment_id): Path<Uuid>,
) -> Result<Json<CallbackOutcome>, ApiError> {
    let provider = sandbox(&state)?;
    let row: Option<(String, i64)> = query_as(
        "SELECT provider_payment_id, amount FROM payments WHERE id = $1 AND provider = $2",
    )
    .bind(payment_id)
    .bind(provider.name())
    .fetch_optional(&state.pool)
    .await?;
    let (provider_payment_id, amount) =
        row.ok_or_else(|| ApiError::not_found(format!("no payment {payment_id}")))?;
    let body = SandboxProvider::callback_body(&CallbackNotice {
        provider_payment_id,
        amount,
        succeeded: true,
    });
    let mut headers = HeaderMap::new();
    headers.insert(
        SANDBOX_SIGNATURE_HEADER,
        provider
            .sign(&body)
            .parse()
            .expect("hex is a valid header value"),
    );
    let outcome = handle_callback(&state.pool, provider.as_ref(), &headers, &body).await?;
    if outcome.global_seq.is_some() {
        state.projector_wake.notify_one();
    }
    Ok(Json(outcome))
}
