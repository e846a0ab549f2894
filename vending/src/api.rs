//! The HTTP routes (described for controller makers in `vending/openapi.yaml`).
//!
//! Every request carries its machine's key, `Authorization: Bearer <key>`. A refusal by
//! the rules is an answer (`200`, `"status": "denied"` with the reason code); an error is
//! a request that could not be decided, as `{"error": code, "message": text}`: `400` a
//! malformed request, `401` no or a wrong key, `404` no such authorization (for this
//! machine), `409` a request id reused for another request or an authorization already
//! settled the other way, `410` a lapsed authorization, `413` a body over
//! [`BODY_BYTES_MAX`], `503` the till could not be asked (nothing was decided).

use crate::ledger::{Answer, Authorization, Ledger, LedgerError, State};
use crate::machines::{self, Machine};
use crate::{Item, QuotedLine, Till};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State as Shared};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use schoolcard_proto::CardId;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::Arc;
use uuid::Uuid;

/// The largest request body read: a basket is a few hundred bytes.
pub const BODY_BYTES_MAX: usize = 16 * 1024;
/// Products in one basket, and pieces of one product, at most.
pub const ITEMS_MAX: usize = 20;
pub const QUANTITY_MAX: u32 = 10;
/// A request id: 1 to 64 letters, digits, `-`, `_`, `.` or `:` (a UUID fits).
pub const REQUEST_ID_MAX: usize = 64;

/// What the routes share.
pub struct Vending {
    pub machines: Vec<Machine>,
    pub ledger: Ledger,
    pub till: Arc<dyn Till>,
}

pub fn router(vending: Arc<Vending>) -> Router {
    Router::new()
        .route("/v1/health", get(health))
        .route("/v1/authorize", post(authorize))
        .route("/v1/authorizations/{id}/confirm", post(confirm))
        .route("/v1/authorizations/{id}/cancel", post(cancel))
        .layer(DefaultBodyLimit::max(BODY_BYTES_MAX))
        .with_state(vending)
}

/// A request that could not be decided.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({"error": self.code, "message": self.message})),
        )
            .into_response()
    }
}

impl From<LedgerError> for ApiError {
    fn from(error: LedgerError) -> ApiError {
        let message = error.to_string();
        let (status, code) = match error {
            LedgerError::RequestIdReused(_) => (StatusCode::CONFLICT, "request_id_reused"),
            LedgerError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            LedgerError::Expired(_) => (StatusCode::GONE, "expired"),
            LedgerError::AlreadyCancelled => (StatusCode::CONFLICT, "already_cancelled"),
            LedgerError::AlreadyConfirmed => (StatusCode::CONFLICT, "already_confirmed"),
            LedgerError::Till(_) => (StatusCode::SERVICE_UNAVAILABLE, "till_unavailable"),
        };
        ApiError::new(status, code, message)
    }
}

/// The machine whose key the request carries.
fn machine<'a>(vending: &'a Vending, headers: &HeaderMap) -> Result<&'a Machine, ApiError> {
    let unauthorized =
        |message: &str| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message);
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| unauthorized("no Authorization header: send «Bearer <machine key>»"))?;
    let key = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(|| unauthorized("the Authorization header is not «Bearer <machine key>»"))?;
    machines::find(&vending.machines, key).ok_or_else(|| unauthorized("unknown machine key"))
}

async fn health(
    Shared(vending): Shared<Arc<Vending>>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    let machine = machine(&vending, &headers)?;
    Ok(Json(json!({"status": "ok", "machine": machine.name})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthorizeBody {
    request_id: String,
    card: String,
    items: Vec<Item>,
}

/// `authorize`'s answer.
#[derive(Debug, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
enum AuthorizeReply {
    Approved(AuthorizationView),
    Denied { reason: String, message: String },
}

#[derive(Debug, Serialize)]
struct AuthorizationView {
    authorization_id: Uuid,
    state: State,
    amount_kopecks: i64,
    lines: Vec<QuotedLine>,
    expires_at: DateTime<Utc>,
}

impl From<Authorization> for AuthorizationView {
    fn from(a: Authorization) -> AuthorizationView {
        AuthorizationView {
            authorization_id: a.id,
            state: a.state,
            amount_kopecks: a.quote.amount_kopecks,
            lines: a.quote.lines,
            expires_at: a.expires_at,
        }
    }
}

fn parse_authorize(body: &[u8]) -> Result<(String, CardId, Vec<Item>), ApiError> {
    let body: AuthorizeBody = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the body is not an authorize request: {e}")))?;
    let id_ok = !body.request_id.is_empty()
        && body.request_id.len() <= REQUEST_ID_MAX
        && body
            .request_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    if !id_ok {
        return Err(ApiError::bad_request(format!(
            "request_id must be 1 to {REQUEST_ID_MAX} letters, digits, '-', '_', '.' or ':'"
        )));
    }
    let card: CardId = body
        .card
        .parse()
        .map_err(|e| ApiError::bad_request(format!("card {:?}: {e}", body.card)))?;
    if body.items.is_empty() || body.items.len() > ITEMS_MAX {
        return Err(ApiError::bad_request(format!(
            "a basket has 1 to {ITEMS_MAX} items"
        )));
    }
    if let Some(item) = body
        .items
        .iter()
        .find(|i| i.product.trim().is_empty() || i.quantity == 0 || i.quantity > QUANTITY_MAX)
    {
        return Err(ApiError::bad_request(format!(
            "item {:?}: a product code and a quantity of 1 to {QUANTITY_MAX}",
            item.product
        )));
    }
    Ok((body.request_id, card, body.items))
}

async fn authorize(
    Shared(vending): Shared<Arc<Vending>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<AuthorizeReply>, ApiError> {
    let machine_id = machine(&vending, &headers)?.id.clone();
    let (request_id, card, items) = parse_authorize(&body)?;
    let answer = blocking(move || {
        vending.ledger.authorize(
            vending.till.as_ref(),
            &machine_id,
            &request_id,
            card,
            &items,
            Utc::now(),
        )
    })
    .await?;
    Ok(Json(match answer {
        Answer::Approved(authorization) => AuthorizeReply::Approved(authorization.into()),
        Answer::Denied(denial) => AuthorizeReply::Denied {
            reason: denial.reason,
            message: denial.message,
        },
    }))
}

fn authorization_id(text: &str) -> Result<Uuid, ApiError> {
    text.parse()
        .map_err(|_| ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such authorization"))
}

async fn confirm(
    Shared(vending): Shared<Arc<Vending>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<AuthorizationView>, ApiError> {
    let machine_id = machine(&vending, &headers)?.id.clone();
    let id = authorization_id(&id)?;
    let confirmed = blocking(move || {
        vending
            .ledger
            .confirm(vending.till.as_ref(), &machine_id, id, Utc::now())
    })
    .await?;
    Ok(Json(confirmed.into()))
}

async fn cancel(
    Shared(vending): Shared<Arc<Vending>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<AuthorizationView>, ApiError> {
    let machine_id = machine(&vending, &headers)?.id.clone();
    let id = authorization_id(&id)?;
    let cancelled = vending.ledger.cancel(&machine_id, id, Utc::now())?;
    Ok(Json(cancelled.into()))
}

/// The till reads and writes SQLite: off the server's threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, LedgerError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                format!("the request failed inside: {e}"),
            )
        })?
        .map_err(ApiError::from)
}

/// Serves `vending` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    vending: Arc<Vending>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(vending))
        .with_graceful_shutdown(shutdown)
        .await
}
