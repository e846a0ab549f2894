//! The router, the state the routes share, and starting the server.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use sqlx_postgres::PgPool;

use crate::error::ApiError;
use crate::payments::SandboxProvider;
use crate::{admin, analytics, auth, db, payments, sync};
use schoolcard_proto::sync::{
    ErrorCode, PullResponse, PushRequest, PushResponse, VersionInfo, MAX_PULL_EVENTS,
    OLDEST_SUPPORTED_PROTOCOL, PROTOCOL_HEADER, PROTOCOL_VERSION,
};

/// The biggest request body: a push of [`schoolcard_proto::sync::MAX_PUSH_EVENTS`] events
/// with payloads of a few kilobytes each fits.
pub const REQUEST_BODY_BYTES_MAX: usize = 64 * 1024 * 1024;
/// A device's `last_seen_at` is written at most this often: once a minute is plenty for
/// the device list, and a push does not pay an extra UPDATE.
pub const LAST_SEEN_INTERVAL_S: u64 = 60;

/// The protocol versions this server serves (both ends included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProtocolRange {
    pub oldest: u32,
    pub newest: u32,
}

impl Default for ProtocolRange {
    fn default() -> Self {
        ProtocolRange {
            oldest: OLDEST_SUPPORTED_PROTOCOL,
            newest: PROTOCOL_VERSION,
        }
    }
}

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub protocol: ProtocolRange,
    /// Online payments; `None` answers 503 on the payment routes.
    pub sandbox: Option<Arc<SandboxProvider>>,
    /// This server's base URL as payers reach it (confirmation pages). Set by [`spawn`]
    /// from the bound address when empty.
    pub public_url: String,
    /// The parent portal: its mailer, cookie policy and sign-in rate limits.
    pub portal: Arc<crate::portal::auth::Portal>,
    /// Wakes the background loop (`background::spawn`) after a push or a server event.
    pub projector_wake: Arc<tokio::sync::Notify>,
    /// The folder a release's `latest.json` and packages are left in (`updates_dir`);
    /// `None`: no updates offered.
    pub updates_dir: Option<std::path::PathBuf>,
    /// `/metrics` wants `Authorization: Bearer <this>` when set (`metrics::routes`).
    pub metrics_token: Option<String>,
    last_seen: Arc<Mutex<HashMap<String, Instant>>>,
}

impl AppState {
    pub fn new(pool: PgPool) -> Self {
        AppState {
            pool,
            protocol: ProtocolRange::default(),
            sandbox: None,
            public_url: String::new(),
            portal: Arc::new(crate::portal::auth::Portal::new(
                Arc::new(crate::mail::Memory::default()),
                true,
            )),
            projector_wake: Arc::default(),
            updates_dir: None,
            metrics_token: None,
            last_seen: Arc::default(),
        }
    }

    /// The portal's mailer and whether its cookies are `Secure` (off only for plain HTTP
    /// on loopback: tests and the demo).
    pub fn with_portal(
        mut self,
        mailer: Arc<dyn crate::mail::Mailer>,
        secure_cookies: bool,
    ) -> Self {
        self.portal = Arc::new(crate::portal::auth::Portal::new(mailer, secure_cookies));
        self
    }

    pub fn with_protocol_range(mut self, oldest: u32, newest: u32) -> Self {
        self.protocol = ProtocolRange { oldest, newest };
        self
    }

    pub fn with_sandbox_key(mut self, key: &[u8]) -> Self {
        self.sandbox = Some(Arc::new(SandboxProvider::new(key)));
        self
    }

    pub fn with_updates_dir(mut self, folder: impl Into<std::path::PathBuf>) -> Self {
        self.updates_dir = Some(folder.into());
        self
    }

    /// Guards `/metrics` with a bearer token (an empty one guards nothing).
    pub fn with_metrics_token(mut self, token: &str) -> Self {
        self.metrics_token = Some(token.to_owned()).filter(|token| !token.is_empty());
        self
    }

    pub fn with_public_url(mut self, url: &str) -> Self {
        self.public_url = url.trim_end_matches('/').to_owned();
        self
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/v1/version", get(version))
        .route("/updates/files/{name}", get(crate::updates::file_route))
        .route(
            "/updates/{target}/{current}",
            get(crate::updates::offer_route),
        )
        .route("/v1/auth/login", post(admin::login_route))
        .route(
            "/v1/admin/schools",
            post(admin::create_school_route).get(admin::list_schools_route),
        )
        .route(
            "/v1/admin/schools/{id}/admins",
            post(admin::create_school_admin_route),
        )
        .route(
            "/v1/admin/schools/{id}/enrolment-codes",
            post(admin::enrolment_code_route),
        )
        .route(
            "/v1/admin/schools/{id}/events",
            post(admin::author_event_route),
        )
        .route(
            "/v1/admin/schools/{id}/devices",
            get(admin::list_devices_route),
        )
        .route(
            "/v1/admin/schools/{id}/balances",
            get(admin::balances_route),
        )
        .route(
            "/v1/admin/devices/{id}/revoke",
            post(admin::revoke_device_route),
        )
        .route("/v1/analytics/schools", get(analytics::schools_route))
        .route(
            "/v1/analytics/schools/{id}/classes",
            get(analytics::classes_route),
        )
        .route("/v1/supplier/orders", get(analytics::supplier_route))
        .route(
            "/v1/admin/suppliers/{id}/schools",
            post(analytics::assign_route),
        )
        .route("/v1/enrol", post(admin::enrol_route))
        .route("/v1/sync/push", post(push_route))
        .route("/v1/sync/pull", get(pull_route))
        .route("/v1/payments", post(payments::start_payment_route))
        .route(
            "/v1/payments/callback/sandbox",
            post(payments::sandbox_callback_route),
        )
        .route(
            "/sandbox/pay/{payment_id}",
            get(payments::sandbox_page_route).post(payments::sandbox_pay_route),
        )
        .merge(crate::portal::pages::routes())
        .merge(crate::office::routes())
        .merge(crate::metrics::routes())
        .fallback(|| async { ApiError::not_found("no such route") })
        .layer(DefaultBodyLimit::max(REQUEST_BODY_BYTES_MAX))
        .with_state(state)
}

/// Serves until the listener fails.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    let projector = crate::background::spawn(&state);
    let served = axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await;
    projector.abort();
    served
}

/// A server running on the current tokio runtime.
pub struct RunningServer {
    pub addr: SocketAddr,
    /// `http://<addr>`.
    pub url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningServer {
    /// Stops accepting and lets requests in flight finish.
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await.unwrap_or(Ok(()))
    }
}

/// Binds `listen` (`127.0.0.1:0` for an ephemeral port) and serves in a task of the
/// current runtime. Fills `state.public_url` from the bound address when it is empty.
pub async fn spawn(mut state: AppState, listen: &str) -> std::io::Result<RunningServer> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let url = format!("http://{addr}");
    if state.public_url.is_empty() {
        state.public_url = url.clone();
    }
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let projector = crate::background::spawn(&state);
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await;
        projector.abort();
        served
    });
    Ok(RunningServer {
        addr,
        url,
        stop: Some(stop),
        task,
    })
}

/// The header a reverse proxy on this machine names the client in (nginx:
/// `proxy_set_header X-Real-IP $remote_addr;`, as `installers/server/nginx-schoolcard.conf`).
pub const REAL_IP_HEADER: &str = "x-real-ip";

/// The client's address for per-address limits: the peer's, unless the peer is a reverse
/// proxy on loopback that names the client in [`REAL_IP_HEADER`]. Only a loopback peer is
/// believed: anyone else could write the header to escape their own limit (and a local
/// process is as trusted as the server itself).
pub fn client_address(peer: SocketAddr, headers: &HeaderMap) -> String {
    let named = || {
        headers
            .get(REAL_IP_HEADER)?
            .to_str()
            .ok()?
            .trim()
            .parse::<std::net::IpAddr>()
            .ok()
    };
    match peer.ip().is_loopback().then(named).flatten() {
        Some(client) => client.to_string(),
        None => peer.ip().to_string(),
    }
}

/// Reads a JSON body; a malformed one is 400 with serde's reason.
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|error| ApiError::bad_request(format!("the body does not parse: {error}")))
}

async fn readyz(State(state): State<AppState>) -> axum::response::Response {
    match db::ready(&state.pool).await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(message) => ApiError::unavailable(message).into_response(),
    }
}

async fn version(State(state): State<AppState>) -> Json<VersionInfo> {
    Json(VersionInfo {
        protocol_version: state.protocol.newest,
        oldest_supported_protocol: state.protocol.oldest,
        server_version: env!("CARGO_PKG_VERSION").to_owned(),
    })
}

/// The caller's protocol version, if this server serves it.
pub fn check_protocol(range: ProtocolRange, headers: &HeaderMap) -> Result<u32, ApiError> {
    let text = headers
        .get(PROTOCOL_HEADER)
        .ok_or_else(|| ApiError::bad_request(format!("the {PROTOCOL_HEADER} header is missing")))?;
    let version: u32 = text
        .to_str()
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "the {PROTOCOL_HEADER} header is not a version number"
            ))
        })?;
    if version < range.oldest {
        return Err(ApiError::new(
            StatusCode::UPGRADE_REQUIRED,
            ErrorCode::ProtocolTooOld,
            format!(
                "this workstation speaks sync protocol version {version}, but the server serves versions {} to {}: \
                 update the workstation's app to sync again (it keeps working offline meanwhile)",
                range.oldest, range.newest
            ),
        ));
    }
    if version > range.newest {
        return Err(ApiError::bad_request(format!(
            "this workstation speaks sync protocol version {version}, newer than this server's newest ({}): \
             the server must be updated before workstations",
            range.newest
        )));
    }
    Ok(version)
}

/// The protocol check and the device's credential, for every `/v1/sync/*` call.
async fn sync_caller(state: &AppState, headers: &HeaderMap) -> Result<auth::Device, ApiError> {
    let version = check_protocol(state.protocol, headers)?;
    let device = auth::authenticate_device(&state.pool, headers).await?;
    touch(state, &device, version).await?;
    Ok(device)
}

/// Writes `last_seen_at` at most once per [`LAST_SEEN_INTERVAL_S`] per device.
async fn touch(state: &AppState, device: &auth::Device, version: u32) -> Result<(), ApiError> {
    let due = {
        let mut seen = state.last_seen.lock().expect("the last-seen map");
        let now = Instant::now();
        match seen.get(&device.id) {
            Some(at) if now.duration_since(*at) < Duration::from_secs(LAST_SEEN_INTERVAL_S) => {
                false
            }
            _ => {
                seen.insert(device.id.clone(), now);
                true
            }
        }
    };
    if due {
        sqlx_core::query::query(
            "UPDATE devices SET last_seen_at = now(), protocol_version = $2 WHERE id = $1",
        )
        .bind(&device.id)
        .bind(i32::try_from(version).unwrap_or(i32::MAX))
        .execute(&state.pool)
        .await?;
    }
    Ok(())
}

async fn push_route(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<PushResponse>, ApiError> {
    let device = sync_caller(&state, &headers).await?;
    let request: PushRequest = parse_json(&body)?;
    let events = request.events.len();
    let response = sync::push(&state.pool, &device, request).await?;
    if response.stored > 0 {
        state.projector_wake.notify_one();
    }
    tracing::debug!(
        device = %device.id, events, stored = response.stored, acked_through = response.acked_through, "push"
    );
    Ok(Json(response))
}

#[derive(Debug, Deserialize)]
struct PullParams {
    after: u64,
    limit: Option<u32>,
}

async fn pull_route(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<Query<PullParams>, QueryRejection>,
) -> Result<Json<PullResponse>, ApiError> {
    let device = sync_caller(&state, &headers).await?;
    let Query(params) = params.map_err(|error| {
        ApiError::bad_request(format!("expected ?after=<seq>&limit=<n>: {error}"))
    })?;
    let limit = params.limit.unwrap_or(MAX_PULL_EVENTS);
    Ok(Json(
        sync::pull(&state.pool, &device, params.after, limit).await?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_proxy_on_loopback_names_the_client() {
        let named = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(REAL_IP_HEADER, value.parse().unwrap());
            headers
        };
        let loopback: SocketAddr = "127.0.0.1:50000".parse().unwrap();
        let remote: SocketAddr = "198.51.100.9:50000".parse().unwrap();
        let cases = [
            (loopback, named("203.0.113.7"), "203.0.113.7"),
            (loopback, named(" 2001:db8::1 "), "2001:db8::1"),
            (loopback, named("not an address"), "127.0.0.1"),
            (loopback, HeaderMap::new(), "127.0.0.1"),
            (remote, named("203.0.113.7"), "198.51.100.9"),
            (remote, HeaderMap::new(), "198.51.100.9"),
        ];
        for (peer, headers, expected) in cases {
            assert_eq!(
                client_address(peer, &headers),
                expected,
                "{peer} {headers:?}"
            );
        }
    }
}
