//! Every role against every guarded endpoint: who may, and that everyone else is turned
//! away (401, 403, 404, or — on the portal's and the staff pages — sent to the sign-in
//! page) without the endpoint doing its work. The table of who may is written out by hand here,
//! independently of the handlers' checks.

use crate::harness::{block_on, server, ADMIN_LOGIN, ADMIN_PASSWORD};
use schoolcard_proto::sync::{PROTOCOL_HEADER, PROTOCOL_VERSION};
use schoolcard_server::admin;
use schoolcard_server::auth::Role;
use schoolcard_server::portal::auth::open_session;
use serde_json::{json, Value};
use sqlx_core::query::query;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Anonymous,
    Device,
    Parent,
    MunicipalAdmin,
    Analyst,
    SchoolAdmin,
    OtherSchoolAdmin,
    Supplier,
}

const EVERYONE: [Who; 8] = [
    Who::Anonymous,
    Who::Device,
    Who::Parent,
    Who::MunicipalAdmin,
    Who::Analyst,
    Who::SchoolAdmin,
    Who::OtherSchoolAdmin,
    Who::Supplier,
];

/// A request as one role makes it: its credentials and, for the portal, its CSRF token.
struct Caller {
    who: Who,
    headers: Vec<(String, String)>,
    csrf: String,
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .redirects(0)
        .timeout(Duration::from_secs(10))
        .build()
}

enum Body {
    None,
    Json(Value),
    /// A form; `csrf` is filled from the caller.
    Form(Vec<(&'static str, String)>),
}

fn send(url: &str, method: &str, caller: &Caller, body: &Body) -> (u16, String) {
    let mut request = agent().request(method, url);
    request = request.set(PROTOCOL_HEADER, &PROTOCOL_VERSION.to_string());
    for (name, value) in &caller.headers {
        request = request.set(name, value);
    }
    let result = match body {
        Body::None => request.call(),
        Body::Json(value) => request.send_json(value.clone()),
        Body::Form(fields) => {
            let mut pairs: Vec<(&str, &str)> =
                fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            pairs.push(("csrf", caller.csrf.as_str()));
            request.send_form(&pairs)
        }
    };
    let response = match result {
        Ok(response) => response,
        Err(ureq::Error::Status(_, response)) => response,
        Err(error) => panic!("{method} {url}: {error}"),
    };
    let status = response.status();
    let location = response.header("location").unwrap_or_default().to_owned();
    (status, location)
}

#[test]
fn every_role_against_every_guarded_endpoint() {
    let server = server();
    let (school, other) = (server.school("Лицей"), server.school("Школа № 2"));
    let device = server.enrol(school, "ws-roles");
    let spare = server.enrol(school, "ws-spare");
    let pool = server.pool.clone();
    // A pupil and their parent, as the projector would have them.
    let parent_token = block_on(async {
        for sql in [
            "INSERT INTO school_classes (school_id, class_id, grade, letter) VALUES ($1, 'c5a', 5, 'А')",
            "INSERT INTO school_persons (school_id, person_id, kind, surname, name, class_id) VALUES ($1, 'ivan', 'pupil', 'Петров', 'Иван', 'c5a')",
            "INSERT INTO school_persons (school_id, person_id, kind, surname, name, email) VALUES ($1, 'mum', 'guardian', 'Петрова', 'Анна', 'mama@example.ru')",
            "INSERT INTO guardianship (school_id, guardian_id, pupil_id) VALUES ($1, 'mum', 'ivan')",
        ] {
            query(sql).bind(school).execute(&pool).await.unwrap();
        }
        let parent = uuid::Uuid::now_v7();
        query("INSERT INTO parents (id, email) VALUES ($1, 'mama@example.ru')")
            .bind(parent)
            .execute(&pool)
            .await
            .unwrap();
        open_session(&pool, parent).await.unwrap()
    });
    let parent_csrf: String = block_on(
        sqlx_core::query_scalar::query_scalar(
            "SELECT csrf_token FROM parent_sessions WHERE token_hash = $1",
        )
        .bind(schoolcard_server::auth::sha256_hex(&parent_token))
        .fetch_one(&pool),
    )
    .unwrap();
    let user = |login: &str, role: Role, school: Option<uuid::Uuid>| {
        let password = format!("{login}-password");
        let id = block_on(admin::create_user(&pool, login, &password, role, school)).unwrap();
        (id, server.login(login, &password))
    };
    let (_, analyst) = user("analyst", Role::MunicipalAnalyst, None);
    let (_, head) = user("head", Role::SchoolAdmin, Some(school));
    let (_, other_head) = user("head2", Role::SchoolAdmin, Some(other));
    let (supplier_id, supplier) = user("kombinat", Role::Supplier, None);
    block_on(schoolcard_server::analytics::assign_supplier(
        &pool,
        supplier_id,
        school,
    ))
    .unwrap();
    let city = server.login(ADMIN_LOGIN, ADMIN_PASSWORD);

    let bearer = |who: Who, token: &str| Caller {
        who,
        // The staff pages («Кабинет») keep the same session in a cookie.
        headers: vec![
            ("authorization".into(), format!("Bearer {token}")),
            ("cookie".into(), format!("__Host-sc_office={token}")),
        ],
        csrf: String::new(),
    };
    let callers = [
        Caller {
            who: Who::Anonymous,
            headers: vec![],
            csrf: String::new(),
        },
        Caller {
            who: Who::Device,
            headers: vec![("authorization".into(), device.authorization())],
            csrf: String::new(),
        },
        Caller {
            who: Who::Parent,
            // The test servers keep the portal's secure cookie policy.
            headers: vec![("cookie".into(), format!("__Host-sc_portal={parent_token}"))],
            csrf: parent_csrf,
        },
        bearer(Who::MunicipalAdmin, &city),
        bearer(Who::Analyst, &analyst),
        bearer(Who::SchoolAdmin, &head),
        bearer(Who::OtherSchoolAdmin, &other_head),
        bearer(Who::Supplier, &supplier),
    ];
    assert_eq!(callers.iter().map(|c| c.who).collect::<Vec<_>>(), EVERYONE);

    use Who::*;
    let period = "from=2026-11-01&to=2026-11-30";
    let child = format!("/portal/child/{school}/ivan");
    let mut unique = 0;
    let mut next = || {
        unique += 1;
        unique
    };
    // (method, path, body, who may)
    let table: Vec<(&str, String, Body, Vec<Who>)> = vec![
        ("GET", "/healthz".into(), Body::None, EVERYONE.to_vec()),
        ("GET", "/v1/version".into(), Body::None, EVERYONE.to_vec()),
        (
            "GET",
            "/v1/admin/schools".into(),
            Body::None,
            vec![
                MunicipalAdmin,
                Analyst,
                SchoolAdmin,
                OtherSchoolAdmin,
                Supplier,
            ],
        ),
        (
            "POST",
            "/v1/admin/schools".into(),
            Body::Json(json!({"name": "Новая", "time_zone": "Europe/Moscow"})),
            vec![MunicipalAdmin],
        ),
        (
            "POST",
            format!("/v1/admin/schools/{school}/admins"),
            Body::None,
            vec![MunicipalAdmin],
        ),
        (
            "POST",
            format!("/v1/admin/schools/{school}/enrolment-codes"),
            Body::None,
            vec![MunicipalAdmin, SchoolAdmin],
        ),
        (
            "GET",
            format!("/v1/admin/schools/{school}/devices"),
            Body::None,
            vec![MunicipalAdmin, SchoolAdmin],
        ),
        (
            "GET",
            format!("/v1/admin/schools/{school}/balances"),
            Body::None,
            vec![MunicipalAdmin, SchoolAdmin],
        ),
        (
            "POST",
            format!("/v1/admin/schools/{school}/events"),
            Body::Json(
                json!({"kind": "daily_limit_set", "payload": {"person_id": "ivan", "limit": 30000}}),
            ),
            vec![MunicipalAdmin, SchoolAdmin],
        ),
        (
            "POST",
            format!("/v1/admin/devices/{}/revoke", spare.device_id),
            Body::None,
            vec![MunicipalAdmin, SchoolAdmin],
        ),
        (
            "POST",
            "/v1/payments".into(),
            Body::Json(json!({"school_id": school, "person_id": "ivan", "amount": 10000})),
            vec![MunicipalAdmin, SchoolAdmin],
        ),
        (
            "GET",
            format!("/v1/analytics/schools?{period}"),
            Body::None,
            vec![MunicipalAdmin, Analyst, SchoolAdmin, OtherSchoolAdmin],
        ),
        (
            "GET",
            format!("/v1/analytics/schools/{school}/classes?{period}"),
            Body::None,
            vec![MunicipalAdmin, Analyst, SchoolAdmin],
        ),
        (
            "GET",
            format!("/v1/supplier/orders?{period}"),
            Body::None,
            vec![
                MunicipalAdmin,
                Analyst,
                SchoolAdmin,
                OtherSchoolAdmin,
                Supplier,
            ],
        ),
        (
            "POST",
            format!("/v1/admin/suppliers/{supplier_id}/schools"),
            Body::Json(json!({"school_id": other})),
            vec![MunicipalAdmin],
        ),
        (
            "POST",
            "/v1/sync/push".into(),
            Body::Json(json!({"origin": "ws-roles", "seen_through": 0, "events": []})),
            vec![Device],
        ),
        (
            "GET",
            "/v1/sync/pull?after=0&limit=10".into(),
            Body::None,
            vec![Device],
        ),
        (
            "GET",
            format!("/office?{period}"),
            Body::None,
            vec![
                MunicipalAdmin,
                Analyst,
                SchoolAdmin,
                OtherSchoolAdmin,
                Supplier,
            ],
        ),
        (
            "GET",
            format!("/office/school/{school}?{period}"),
            Body::None,
            vec![MunicipalAdmin, Analyst, SchoolAdmin],
        ),
        (
            "GET",
            format!("/office/export/schools?{period}&format=csv"),
            Body::None,
            vec![MunicipalAdmin, Analyst, SchoolAdmin, OtherSchoolAdmin],
        ),
        (
            "GET",
            format!("/office/export/school/{school}/classes?{period}&format=xlsx"),
            Body::None,
            vec![MunicipalAdmin, Analyst, SchoolAdmin],
        ),
        (
            "GET",
            format!("/office/orders?{period}"),
            Body::None,
            vec![
                MunicipalAdmin,
                Analyst,
                SchoolAdmin,
                OtherSchoolAdmin,
                Supplier,
            ],
        ),
        (
            "GET",
            format!("/office/export/orders?{period}&format=pdf"),
            Body::None,
            vec![
                MunicipalAdmin,
                Analyst,
                SchoolAdmin,
                OtherSchoolAdmin,
                Supplier,
            ],
        ),
        ("GET", "/portal".into(), Body::None, vec![Parent]),
        ("GET", child.clone(), Body::None, vec![Parent]),
        (
            "POST",
            format!("{child}/limit"),
            Body::Form(vec![("limit", "300".into())]),
            vec![Parent],
        ),
        ("GET", "/portal/settings".into(), Body::None, vec![Parent]),
        (
            "POST",
            "/portal/settings".into(),
            Body::Form(vec![("email_enabled", "1".into())]),
            vec![Parent],
        ),
    ];
    let mut wrong = Vec::new();
    for (method, path, body, allowed) in &table {
        for caller in &callers {
            // The school admin route needs a fresh login each time it succeeds.
            let body = match (path.ends_with("/admins"), body) {
                (true, _) => Body::Json(
                    json!({"login": format!("deputy{}", next()), "password": "deputy-password"}),
                ),
                (_, Body::Json(v)) => Body::Json(v.clone()),
                (_, Body::Form(f)) => Body::Form(f.clone()),
                (_, Body::None) => Body::None,
            };
            let (status, location) = send(&server.url(path), method, caller, &body);
            let may = allowed.contains(&caller.who);
            let turned_away = matches!(status, 401 | 403 | 404)
                || (path.starts_with("/portal")
                    && status == 303
                    && location.starts_with("/portal/login"))
                || (path.starts_with("/office")
                    && status == 303
                    && location.starts_with("/office/login"));
            let done = (200..400).contains(&status) && !turned_away;
            if may != done || (!may && !turned_away) {
                wrong.push(format!(
                    "{method} {path} as {:?}: {status} {location}",
                    caller.who
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} pairs wrong:\n{}",
        wrong.len(),
        table.len() * callers.len(),
        wrong.join("\n")
    );
}
