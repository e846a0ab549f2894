//! `schoolcard-server`: the municipality's central server (DESIGN.md §2–§4). Workstations
//! enrol with a one-time code, push their journal events and pull everyone else's in one
//! global order; the server keeps the money ledger (the authority for balances), takes
//! online top-ups through a payment provider, and answers admins' questions. PostgreSQL
//! is its store; the wire contract is `schoolcard_proto::sync`, the routes are in
//! `server/openapi.yaml`. Parents use it through the portal (`/portal`, [`portal`]):
//! pages rendered from projections of the journal ([`projector`]); what a parent sets
//! becomes the school's own server-authored event.
//!
//! Running it in-process (tests, the benchmark, another crate's integration test):
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use schoolcard_server::{admin, db, http, ThrowawayCluster};
//! let cluster = ThrowawayCluster::start()?;                   // its own PostgreSQL
//! let admin_url = db::create_database(&cluster.admin_url(), "bench").await?;
//! db::db_setup(&admin_url, "schoolcard_app", "app-password").await?;
//! let app_url = db::url_as(&admin_url, "schoolcard_app", "app-password")?;
//! let pool = db::connect(&app_url).await?;
//! let school = admin::create_school(&pool, "Лицей", "Europe/Moscow").await?;
//! let code = admin::issue_enrolment_code(&pool, school.id, None).await?;
//! let credential = admin::enrol_device(&pool, &schoolcard_proto::sync::EnrolRequest {
//!     code: code.code, device_id: "ws-1".into(), name: "Till".into(), app_version: "1".into(),
//! }).await?;                                                   // device_id + secret
//! let server = http::spawn(http::AppState::new(pool), "127.0.0.1:0").await?;
//! println!("serving at {}", server.url);                      // http://127.0.0.1:<port>
//! server.stop().await?;
//! # Ok(()) }
//! ```

pub mod admin;
pub mod analytics;
pub mod auth;
pub mod background;
pub mod config;
pub mod db;
pub mod error;
pub mod http;
pub mod mail;
pub mod metrics;
pub mod notify;
pub mod office;
pub mod payments;
pub mod portal;
pub mod projector;
pub mod sync;
pub mod throwaway;
pub mod updates;

pub use error::ApiError;
pub use http::{serve, spawn, AppState, RunningServer};
pub use throwaway::ThrowawayCluster;
