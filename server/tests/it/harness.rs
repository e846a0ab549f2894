//! Shared by the tests: the cluster, a runtime for the servers, and a client.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

use schoolcard_proto::sync::{
    EnrolRequest, ErrorBody, PullResponse, PushRequest, PushResponse, WireEvent, PROTOCOL_HEADER,
    PROTOCOL_VERSION,
};
use schoolcard_server::auth::Role;
use schoolcard_server::{admin, db, http, AppState, ThrowawayCluster};
use serde_json::{json, Value};
use sqlx_postgres::PgPool;
use uuid::Uuid;

pub const APP_ROLE: &str = "schoolcard_app";
pub const APP_PASSWORD: &str = "app-password";
pub const SANDBOX_KEY: &[u8] = b"test-sandbox-key";
pub const ADMIN_LOGIN: &str = "city";
pub const ADMIN_PASSWORD: &str = "city-password";

struct Shared {
    cluster: ThrowawayCluster,
    runtime: tokio::runtime::Runtime,
}

fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| Shared {
        cluster: ThrowawayCluster::start().expect("a throwaway PostgreSQL cluster"),
        runtime: tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .enable_all()
            .build()
            .expect("a runtime"),
    })
}

pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    shared().runtime.block_on(future)
}

/// A server on its own database.
pub struct TestServer {
    pub url: String,
    /// The app role's pool (what the server itself uses).
    pub pool: PgPool,
    pub admin_url: String,
    pub app_url: String,
    _server: http::RunningServer,
}

pub fn server() -> TestServer {
    server_with(|state| state)
}

pub fn server_with(configure: impl FnOnce(AppState) -> AppState) -> TestServer {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let name = format!("test_{}", NEXT.fetch_add(1, Ordering::Relaxed));
    let cluster_url = shared().cluster.admin_url();
    block_on(async {
        // One setup at a time: the app role is the cluster's, shared by every database.
        static SETUP: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
        let admin_url = {
            let _one_at_a_time = SETUP.lock().await;
            let admin_url = db::create_database(&cluster_url, &name)
                .await
                .expect("a database");
            db::db_setup(&admin_url, APP_ROLE, APP_PASSWORD)
                .await
                .expect("db-setup");
            admin_url
        };
        let app_url = db::url_as(&admin_url, APP_ROLE, APP_PASSWORD).expect("the app URL");
        let pool = db::connect(&app_url).await.expect("the app pool");
        admin::create_user(
            &pool,
            ADMIN_LOGIN,
            ADMIN_PASSWORD,
            Role::MunicipalAdmin,
            None,
        )
        .await
        .expect("the municipal admin");
        let state = configure(AppState::new(pool.clone()).with_sandbox_key(SANDBOX_KEY));
        let server = http::spawn(state, "127.0.0.1:0").await.expect("the server");
        TestServer {
            url: server.url.clone(),
            pool,
            admin_url,
            app_url,
            _server: server,
        }
    })
}

/// A device's credential.
#[derive(Debug, Clone)]
pub struct Credential {
    pub device_id: String,
    pub secret: String,
}

impl Credential {
    pub fn authorization(&self) -> String {
        format!("Device {}:{}", self.device_id, self.secret)
    }
}

/// An answer: the status and the JSON body (Null when empty or not JSON).
pub type Answer = (u16, Value);

pub fn call(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&Value>) -> Answer {
    let mut request = ureq::request(method, url);
    for (name, value) in headers {
        request = request.set(name, value);
    }
    let result = match body {
        Some(body) => request.send_json(body.clone()),
        None => request.call(),
    };
    let response = match result {
        Ok(response) => response,
        Err(ureq::Error::Status(_, response)) => response,
        Err(error) => panic!("{method} {url}: {error}"),
    };
    let status = response.status();
    let text = response.into_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

pub fn error_of(answer: &Answer) -> ErrorBody {
    serde_json::from_value(answer.1.clone())
        .unwrap_or_else(|_| panic!("not an error body: {answer:?}"))
}

impl TestServer {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// A bearer token of the municipal admin.
    pub fn admin_token(&self) -> String {
        self.login(ADMIN_LOGIN, ADMIN_PASSWORD)
    }

    pub fn login(&self, login: &str, password: &str) -> String {
        let answer = call(
            "POST",
            &self.url("/v1/auth/login"),
            &[],
            Some(&serde_json::json!({"login": login, "password": password})),
        );
        assert_eq!(answer.0, 200, "{answer:?}");
        answer.1["token"].as_str().unwrap().to_owned()
    }

    pub fn school(&self, name: &str) -> Uuid {
        block_on(admin::create_school(&self.pool, name, "Europe/Moscow"))
            .expect("a school")
            .id
    }

    /// Enrols a device directly (the HTTP enrolment has tests of its own).
    pub fn enrol(&self, school_id: Uuid, device_id: &str) -> Credential {
        block_on(async {
            let code = admin::issue_enrolment_code(&self.pool, school_id, None)
                .await
                .unwrap();
            let answer = admin::enrol_device(
                &self.pool,
                &EnrolRequest {
                    code: code.code,
                    device_id: device_id.into(),
                    name: format!("post {device_id}"),
                    app_version: "test".into(),
                },
            )
            .await
            .unwrap();
            Credential {
                device_id: answer.device_id,
                secret: answer.secret,
            }
        })
    }

    pub fn sync_call(
        &self,
        device: &Credential,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Answer {
        let version = PROTOCOL_VERSION.to_string();
        let authorization = device.authorization();
        call(
            method,
            &self.url(path),
            &[
                (PROTOCOL_HEADER, &version),
                ("authorization", &authorization),
            ],
            body,
        )
    }

    pub fn push_raw(&self, device: &Credential, seen_through: u64, events: &[WireEvent]) -> Answer {
        let request = PushRequest {
            origin: device.device_id.clone(),
            seen_through,
            events: events.to_vec(),
        };
        self.sync_call(
            device,
            "POST",
            "/v1/sync/push",
            Some(&serde_json::to_value(&request).unwrap()),
        )
    }

    pub fn push(&self, device: &Credential, events: &[WireEvent]) -> PushResponse {
        let answer = self.push_raw(device, 0, events);
        assert_eq!(answer.0, 200, "{answer:?}");
        serde_json::from_value(answer.1).unwrap()
    }

    pub fn pull(&self, device: &Credential, after: u64, limit: u32) -> PullResponse {
        let answer = self.sync_call(
            device,
            "GET",
            &format!("/v1/sync/pull?after={after}&limit={limit}"),
            None,
        );
        assert_eq!(answer.0, 200, "{answer:?}");
        serde_json::from_value(answer.1).unwrap()
    }

    /// Every page from `after` until `more` is false.
    pub fn pull_all(
        &self,
        device: &Credential,
        mut after: u64,
        limit: u32,
    ) -> (Vec<WireEvent>, PullResponse) {
        let mut events = Vec::new();
        loop {
            let page = self.pull(device, after, limit);
            events.extend(page.events.iter().map(|pulled| pulled.event.clone()));
            after = page.cursor;
            if !page.more {
                return (events, page);
            }
        }
    }

    pub fn alerts(&self, kind: &str) -> Vec<Value> {
        block_on(
            sqlx_core::query_scalar::query_scalar::<_, Value>(
                "SELECT detail FROM alerts WHERE kind = $1 ORDER BY id",
            )
            .bind(kind)
            .fetch_all(&self.pool),
        )
        .unwrap()
    }
}

/// A journal event of `origin` with a fresh id.
pub fn event(origin: &str, origin_seq: u64, kind: &str, payload: Value) -> WireEvent {
    WireEvent {
        id: Uuid::now_v7().to_string(),
        origin: origin.into(),
        origin_seq,
        occurred_at_us: 1_790_000_000_000_000 + origin_seq as i64,
        actor: "cashier".into(),
        kind: kind.into(),
        payload: payload.to_string(),
    }
}

/// `count` passages (no money) numbered from `first`.
pub fn passages(origin: &str, first: u64, count: u64) -> Vec<WireEvent> {
    (first..first + count)
        .map(|seq| {
            event(
                origin,
                seq,
                "passage",
                serde_json::json!({"card": format!("c{seq}")}),
            )
        })
        .collect()
}

pub const DAY_CLASS: &str = "c1a";
pub const DAY_LUNCH: &str = "lunch-1-4";

/// A school day at a primary class: four entitled to the free lunch, two in by the
/// cut-off, one late arrival added after it, three lunches served.
pub fn school_day(origin: &str) -> Vec<schoolcard_proto::sync::WireEvent> {
    let pupil = |n: u32| format!("p{n}");
    let mut events = vec![
        (
            "class_created",
            json!({"class_id": DAY_CLASS, "grade": 1, "letter": "А"}),
        ),
        (
            "complex_saved",
            json!({"complex": {"complex_id": DAY_LUNCH, "name": "Обед 1–4", "price": 9000}}),
        ),
    ];
    for n in 1..=4 {
        events.push((
            "person_enrolled",
            json!({"person_id": pupil(n), "person_kind": "pupil",
            "name": {"surname": "Ученик", "name": "Тест"}, "class_id": DAY_CLASS}),
        ));
    }
    for n in 1..=3 {
        events.push((
            "passage",
            json!({"passage_id": format!("x{n}"), "person_id": pupil(n),
            "direction": "entry", "school_date": "2026-11-27", "decided_at": "2026-11-27T05:00:00Z",
            "allowed": true, "reason": "allowed", "verified_by": "automatic", "outcome": "passed"}),
        ));
    }
    // A denied card is not a visit.
    events.push((
        "passage",
        json!({"passage_id": "x4", "person_id": pupil(4), "direction": "entry",
        "school_date": "2026-11-27", "decided_at": "2026-11-27T05:00:00Z", "allowed": false,
        "reason": "card_blocked", "verified_by": "automatic", "outcome": "denied"}),
    ));
    events.push((
        "meal_order_made",
        json!({"school_date": "2026-11-27", "cut_off": "2026-11-27T06:30:00Z",
        "lines": [{"class_id": DAY_CLASS, "complex_id": DAY_LUNCH, "price": 9000, "payer": "municipal",
                   "entitled": 4, "pupils": [pupil(1), pupil(2)], "pre_ordered": []}]}),
    ));
    events.push((
        "meal_order_corrected",
        json!({"school_date": "2026-11-27", "class_id": DAY_CLASS,
        "complex_id": DAY_LUNCH, "person_id": pupil(3), "price": 9000, "payer": "municipal",
        "added": true, "cause": "late_arrival"}),
    ));
    for n in 1..=3 {
        events.push((
            "meal_served",
            json!({"meal_id": format!("m{n}"), "person_id": pupil(n),
            "complex_id": DAY_LUNCH, "school_date": "2026-11-27", "price": 9000, "payer": "municipal"}),
        ));
    }
    events
        .into_iter()
        .enumerate()
        .map(|(i, (kind, payload))| event(origin, i as u64 + 1, kind, payload))
        .collect()
}

/// A browser without redirects: cookies kept by hand.
pub struct Browser {
    pub base: String,
    pub agent: ureq::Agent,
    pub cookies: Vec<(String, String)>,
}

pub struct Page {
    pub status: u16,
    pub location: String,
    pub body: String,
    pub headers: Vec<(String, String)>,
}

impl Page {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The value of the first `name="<field>" value="…"` in the page.
    pub fn field(&self, field: &str) -> String {
        let marker = format!("name=\"{field}\" value=\"");
        let start = self
            .body
            .find(&marker)
            .unwrap_or_else(|| panic!("no {field} in {}", self.body))
            + marker.len();
        let end = self.body[start..].find('"').unwrap() + start;
        self.body[start..end].to_owned()
    }
}

impl Browser {
    pub fn new(server: &TestServer) -> Browser {
        Browser {
            base: server.url.clone(),
            agent: ureq::AgentBuilder::new().redirects(0).build(),
            cookies: Vec::new(),
        }
    }

    pub fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub fn answer(&mut self, result: Result<ureq::Response, ureq::Error>) -> Page {
        let response = match result {
            Ok(response) => response,
            Err(ureq::Error::Status(_, response)) => response,
            Err(error) => panic!("{error}"),
        };
        for set in response.all("set-cookie") {
            let pair = set.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            self.cookies.retain(|(known, _)| known != name);
            if !value.is_empty() && !set.contains("Max-Age=0") {
                self.cookies.push((name.to_owned(), value.to_owned()));
            }
        }
        let headers = response
            .headers_names()
            .into_iter()
            .map(|name| {
                let value = response.header(&name).unwrap_or_default().to_owned();
                (name, value)
            })
            .collect();
        Page {
            status: response.status(),
            location: response.header("location").unwrap_or_default().to_owned(),
            headers,
            body: response.into_string().unwrap_or_default(),
        }
    }

    pub fn get(&mut self, path: &str) -> Page {
        let request = self
            .agent
            .get(&format!("{}{path}", self.base))
            .set("cookie", &self.cookie_header());
        let result = request.call();
        self.answer(result)
    }

    pub fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let request = self
            .agent
            .post(&format!("{}{path}", self.base))
            .set("cookie", &self.cookie_header());
        let result = request.send_form(form);
        self.answer(result)
    }
}
