//! A central server for the cross-crate sync tests and the bench: a throwaway PostgreSQL
//! cluster, the schema set up with the server's append-only role, `schoolcard-server`
//! serving on a loopback port from a runtime of its own, and one school to enrol
//! workstations into. Everything stops (the cluster by its process id) when dropped.

use schoolcard_core::sync::http::{enrol, Timeouts};
use schoolcard_core::sync::{save_enrolment, Enrolment};
use schoolcard_core::Store;
use schoolcard_proto::sync::EnrolRequest;
use schoolcard_server::admin::{self, School};
use schoolcard_server::{db, AppState, RunningServer, ThrowawayCluster};
use sqlx_postgres::PgPool;
use std::collections::BTreeMap;
use std::future::Future;

/// The role the server runs as, and its password in these throwaway clusters.
const APP_ROLE: &str = "schoolcard_app";
const APP_PASSWORD: &str = "app-password-for-tests";
/// The payment sandbox's signing key on these servers.
pub const SANDBOX_KEY: &[u8] = b"sandbox-key-for-tests";

pub struct Central {
    runtime: tokio::runtime::Runtime,
    server: Option<RunningServer>,
    /// As the server connects: the append-only role.
    pub pool: PgPool,
    /// As the cluster's superuser, for what the tests compare against (COPY, counts).
    pub admin_pool: PgPool,
    pub admin_url: String,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    pub school: School,
    /// What the server e-mailed (parents' sign-in codes, notifications).
    pub mail: std::sync::Arc<schoolcard_server::mail::Memory>,
    // Last: the cluster stops after the pools have closed.
    _cluster: ThrowawayCluster,
}

impl Central {
    pub fn start() -> Central {
        Central::start_with(|state| state)
    }

    /// A server whose state `configure` finishes (an updates folder, …).
    pub fn start_with(configure: impl FnOnce(AppState) -> AppState) -> Central {
        let cluster = ThrowawayCluster::start().expect("a throwaway PostgreSQL cluster starts");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let mail = std::sync::Arc::new(schoolcard_server::mail::Memory::default());
        let portal_mail = mail.clone();
        let (server, pool, admin_pool, admin_url, school) = runtime.block_on(async {
            let admin_url = db::create_database(&cluster.admin_url(), "schoolcard")
                .await
                .expect("the database is created");
            db::db_setup(&admin_url, APP_ROLE, APP_PASSWORD)
                .await
                .expect("db-setup");
            let app_url = db::url_as(&admin_url, APP_ROLE, APP_PASSWORD).expect("the app URL");
            let pool = db::connect(&app_url).await.expect("the app role connects");
            let admin_pool = db::connect(&admin_url).await.expect("the admin connects");
            let school = admin::create_school(&pool, "Лицей «Держава»", "Europe/Moscow")
                .await
                .expect("a school");
            // Plain HTTP on loopback: the portal's cookies go without `Secure`.
            let state = configure(
                AppState::new(pool.clone())
                    .with_sandbox_key(SANDBOX_KEY)
                    .with_portal(portal_mail, false),
            );
            let server = schoolcard_server::spawn(state, "127.0.0.1:0")
                .await
                .expect("the server listens");
            (server, pool, admin_pool, admin_url, school)
        });
        let url = server.url.clone();
        Central {
            runtime,
            server: Some(server),
            pool,
            admin_pool,
            admin_url,
            url,
            school,
            mail,
            _cluster: cluster,
        }
    }

    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// A fresh one-time enrolment code of the school.
    pub fn code(&self) -> String {
        self.block_on(admin::issue_enrolment_code(
            &self.pool,
            self.school.id,
            None,
        ))
        .expect("an enrolment code")
        .code
    }

    /// Enrols the workstation `store` through `server_url` (the server, or a proxy in
    /// front of it, which the workstation then keeps using).
    pub fn enrol(&self, store: &mut Store, server_url: &str) {
        let answer = enrol(
            server_url,
            &EnrolRequest {
                code: self.code(),
                device_id: store.device().as_str().to_owned(),
                name: "test post".into(),
                app_version: "test".into(),
            },
            Timeouts::default(),
        )
        .expect("enrolment");
        let enrolment = Enrolment {
            server_url: server_url.to_owned(),
            school_id: answer.school_id,
            school_name: answer.school_name,
            enrolled_at: chrono::Utc::now(),
        };
        store
            .write(|w| save_enrolment(w, &enrolment, &answer.secret))
            .expect("the enrolment is kept");
    }

    /// A parent's top-up through the payment sandbox: the payment started, then paid on
    /// the sandbox's page, whose signed callback the server settles. Returns the page's
    /// address (paying there again must change nothing).
    pub fn top_up(&self, person_id: &str, amount: i64) -> String {
        use schoolcard_server::payments::{start_payment, SandboxProvider};
        let (_, page) = self
            .block_on(start_payment(
                &self.pool,
                &SandboxProvider::new(SANDBOX_KEY),
                &self.url,
                self.school.id,
                person_id,
                amount,
            ))
            .expect("a payment starts");
        let paid = ureq::post(&page).call().expect("the sandbox pays");
        assert_eq!(paid.status(), 200);
        page
    }

    /// A bearer token of a fresh admin of the school, signed in over HTTP.
    pub fn school_admin_token(&self) -> String {
        let login = format!("admin-{}", uuid::Uuid::now_v7().simple());
        let password = "school-admin-password";
        self.block_on(admin::create_user(
            &self.pool,
            &login,
            password,
            schoolcard_server::auth::Role::SchoolAdmin,
            Some(self.school.id),
        ))
        .expect("a school admin");
        let answer: serde_json::Value = ureq::post(&format!("{}/v1/auth/login", self.url))
            .send_json(serde_json::json!({"login": login, "password": password}))
            .expect("the admin signs in")
            .into_json()
            .expect("a token");
        answer["token"].as_str().expect("a token").to_owned()
    }

    /// Each pupil's balance on the server's ledger.
    pub fn balances(&self) -> BTreeMap<String, i64> {
        self.block_on(admin::balances(&self.pool, self.school.id, false))
            .expect("balances")
            .into_iter()
            .map(|row| (row.person_id, row.balance))
            .collect()
    }

    /// How many events the server holds from `origin`, and the highest number.
    pub fn held(&self, origin: &str) -> (i64, i64) {
        self.block_on(
            sqlx_core::query_as::query_as::<_, (i64, Option<i64>)>(
                "SELECT count(*), max(origin_seq) FROM events WHERE origin = $1",
            )
            .bind(origin)
            .fetch_one(&self.pool),
        )
        .map(|(n, max)| (n, max.unwrap_or(0)))
        .expect("a count")
    }
}

impl Drop for Central {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            let _ = self.runtime.block_on(server.stop());
        }
        self.runtime.block_on(async {
            self.pool.close().await;
            self.admin_pool.close().await;
        });
    }
}
