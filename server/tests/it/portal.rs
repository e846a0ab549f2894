//! The parent portal against a real PostgreSQL and real HTTP: a school's workstation
//! pushes its journal, the projector reads it, a parent signs in with a code from the
//! (in-memory) mailer and sees and changes only their own child.

use std::sync::Arc;

use chrono::{NaiveTime, TimeZone, Utc};
use schoolcard_proto::sync::{server_origin, WireEvent};
use schoolcard_server::mail::{Mailer, Memory};
use schoolcard_server::{portal, projector};
use serde_json::{json, Value};
use sqlx_core::query_scalar::query_scalar;
use uuid::Uuid;

use crate::harness::*;

const PUPIL: &str = "0192d000-0000-7000-8000-000000000001";
const GUARDIAN: &str = "0192d000-0000-7000-8000-000000000002";
const OTHER_PUPIL: &str = "0192d000-0000-7000-8000-000000000003";
const OTHER_GUARDIAN: &str = "0192d000-0000-7000-8000-000000000004";
const CLASS: &str = "0192d000-0000-7000-8000-0000000000c1";
const JUICE: &str = "0192d000-0000-7000-8000-0000000000a1";
const LUNCH: &str = "0192d000-0000-7000-8000-0000000000b1";
const FREE_LUNCH: &str = "0192d000-0000-7000-8000-0000000000b2";
const PARENT_EMAIL: &str = "mama@example.ru";
const OTHER_EMAIL: &str = "papa@example.ru";

/// Today at a Moscow wall-clock time, as microseconds.
fn today_at(hour: u32, minute: u32) -> chrono::DateTime<Utc> {
    let tz = chrono_tz::Europe::Moscow;
    let date = Utc::now().with_timezone(&tz).date_naive();
    tz.from_local_datetime(&date.and_time(NaiveTime::from_hms_opt(hour, minute, 0).unwrap()))
        .unwrap()
        .with_timezone(&Utc)
}

fn at_event(seq: u64, at: chrono::DateTime<Utc>, kind: &str, payload: Value) -> WireEvent {
    let mut event = event("ws-office", seq, kind, payload);
    event.occurred_at_us = at.timestamp_micros();
    event
}

fn person(id: &str, kind: &str, surname: &str, name: &str, email: Option<&str>) -> Value {
    let mut payload = json!({"person_id": id, "person_kind": kind,
        "name": {"surname": surname, "name": name, "patronymic": ""}});
    if kind == "pupil" {
        payload["class_id"] = json!(CLASS);
    }
    if let Some(email) = email {
        payload["details"] = json!({"email": email});
    }
    payload
}

fn passage(person_id: &str, direction: &str, at: chrono::DateTime<Utc>) -> Value {
    json!({"passage_id": Uuid::now_v7(), "person_id": person_id, "direction": direction,
        "school_date": at.date_naive(), "decided_at": at, "allowed": true, "reason": "ok",
        "verified_by": "automatic", "outcome": "passed"})
}

/// A school of two families, pushed by its office workstation: answers the school's id
/// and how many events were pushed.
fn small_school(server: &TestServer) -> (Uuid, usize) {
    let school = server.school("Лицей «Держава»");
    let office = server.enrol(school, "ws-office");
    let morning = today_at(7, 0);
    let payloads = vec![
        (
            "class_created",
            json!({"class_id": CLASS, "grade": 5, "letter": "А"}),
        ),
        (
            "person_enrolled",
            person(PUPIL, "pupil", "Иванова", "Аня", None),
        ),
        (
            "person_enrolled",
            person(
                GUARDIAN,
                "guardian",
                "Иванова",
                "Мария",
                Some("Mama@Example.ru"),
            ),
        ),
        (
            "guardian_linked",
            json!({"guardian_id": GUARDIAN, "pupil_id": PUPIL, "relation": "мать"}),
        ),
        (
            "person_enrolled",
            person(OTHER_PUPIL, "pupil", "Петров", "Борис", None),
        ),
        (
            "person_enrolled",
            person(
                OTHER_GUARDIAN,
                "guardian",
                "Петров",
                "Пётр",
                Some(OTHER_EMAIL),
            ),
        ),
        (
            "guardian_linked",
            json!({"guardian_id": OTHER_GUARDIAN, "pupil_id": OTHER_PUPIL}),
        ),
        (
            "product_saved",
            json!({"product": {"product_id": JUICE, "name": "Сок яблочный 0,2 л", "price": 4_500,
                "category": "Напитки", "allergens": []}}),
        ),
        (
            "complex_saved",
            json!({"complex": {"complex_id": LUNCH, "name": "Обед 5–11", "meal": "lunch",
                "grades": {"first": 5, "last": 11}, "price": 15_000, "payer": "parents"}}),
        ),
        (
            "complex_saved",
            json!({"complex": {"complex_id": FREE_LUNCH, "name": "Обед 1–4", "meal": "lunch",
                "grades": {"first": 1, "last": 4}, "price": 9_000, "payer": "municipal"}}),
        ),
        (
            "balance_topped_up",
            json!({"person_id": PUPIL, "amount": 100_000, "note": ""}),
        ),
        (
            "balance_topped_up",
            json!({"person_id": OTHER_PUPIL, "amount": 50_000, "note": ""}),
        ),
    ];
    let mut events: Vec<WireEvent> = payloads
        .into_iter()
        .enumerate()
        .map(|(index, (kind, payload))| at_event(index as u64 + 1, morning, kind, payload))
        .collect();
    let next = events.len() as u64 + 1;
    events.push(at_event(
        next,
        today_at(7, 58),
        "passage",
        passage(PUPIL, "entry", today_at(7, 58)),
    ));
    events.push(at_event(
        next + 1,
        today_at(7, 59),
        "passage",
        passage(OTHER_PUPIL, "entry", today_at(7, 59)),
    ));
    events.push(at_event(
        next + 2,
        today_at(10, 15),
        "sale_made",
        json!({"sale_id": Uuid::now_v7(), "person_id": PUPIL, "school_date": today_at(10, 15).date_naive(),
            "lines": [{"product_id": JUICE, "name": "Сок яблочный 0,2 л", "category": "Напитки",
                       "price": 4_500, "quantity": 1}],
            "total": 4_500}),
    ));
    events.push(at_event(
        next + 3,
        today_at(12, 30),
        "meal_served",
        json!({"meal_id": Uuid::now_v7(), "person_id": PUPIL, "complex_id": FREE_LUNCH,
            "school_date": today_at(12, 30).date_naive(), "price": 9_000, "payer": "municipal"}),
    ));
    events.push(at_event(
        next + 4,
        today_at(14, 10),
        "passage",
        passage(PUPIL, "exit", today_at(14, 10)),
    ));
    let count = events.len();
    server.push(&office, &events);
    (school, count)
}

pub(crate) fn portal_server() -> (TestServer, Arc<Memory>) {
    let mailbox = Arc::new(Memory::default());
    let mailer: Arc<dyn Mailer> = mailbox.clone();
    let server = server_with(move |state| state.with_portal(mailer, false));
    (server, mailbox)
}

/// Signs in with a code from the mailbox; answers the CSRF token of the session.
pub(crate) fn sign_in_by_code(browser: &mut Browser, mailbox: &Memory, email: &str) -> String {
    let login = browser.get("/portal/login");
    assert_eq!(login.status, 200);
    let pre = login.field("pre");
    let asked = browser.post("/portal/code/request", &[("email", email), ("pre", &pre)]);
    assert_eq!(asked.status, 303, "{}", asked.body);
    assert!(asked.location.starts_with("/portal/code?email="));
    let mail = mailbox.sent().last().cloned().expect("a code was sent");
    assert_eq!(mail.to, email.to_lowercase());
    let code: String = mail
        .body_text
        .split_whitespace()
        .find(|word| word.len() == 6 && word.chars().all(|c| c.is_ascii_digit()))
        .expect("a 6-digit code")
        .to_owned();
    let signed = browser.post(
        "/portal/code",
        &[("email", email), ("code", &code), ("pre", &pre)],
    );
    assert_eq!(signed.status, 303, "{}", signed.body);
    assert_eq!(signed.location, "/portal");
    let home = browser.get("/portal");
    assert_eq!(home.status, 200, "{}", home.body);
    home.field("csrf")
}

fn count(server: &TestServer, sql: &str) -> i64 {
    block_on(query_scalar::<_, i64>(sql).fetch_one(&server.pool)).unwrap()
}

#[test]
fn a_parent_sees_and_changes_only_their_own_child() {
    let (server, mailbox) = portal_server();
    let (school, pushed) = small_school(&server);
    // The push woke the background projector; a direct run finishes whatever is left.
    block_on(projector::project_pending(&server.pool)).unwrap();
    assert_eq!(count(&server, "SELECT count(*) FROM events"), pushed as i64);
    let head = "SELECT (SELECT cursor FROM projector_state WHERE name = 'portal') - max(global_seq) FROM events";
    assert_eq!(
        count(&server, head),
        0,
        "the cursor is at the journal's head"
    );
    assert_eq!(
        block_on(projector::project_pending(&server.pool)).unwrap(),
        0
    );
    // Replaying the whole journal over the projections changes nothing.
    let snapshot =
        "SELECT (SELECT string_agg(f::text, '|' ORDER BY global_seq, person_id) FROM feed f)
        || (SELECT string_agg(p::text, '|' ORDER BY person_id) FROM school_persons p)";
    let before: String = block_on(query_scalar(snapshot).fetch_one(&server.pool)).unwrap();
    assert_eq!(
        count(&server, "SELECT count(*) FROM feed"),
        7,
        "3 passages, a sale, a meal, 2 top-ups: {before}"
    );
    block_on(
        sqlx_core::query::query("UPDATE projector_state SET cursor = 0 WHERE name = 'portal'")
            .execute(&server.pool),
    )
    .unwrap();
    // (The background projector may take the replay: either way it runs once.)
    block_on(projector::project_pending(&server.pool)).unwrap();
    let after: String = block_on(query_scalar(snapshot).fetch_one(&server.pool)).unwrap();
    assert_eq!(before, after);

    let emails = block_on(portal::guardians_emails_of(&server.pool, school, PUPIL)).unwrap();
    assert_eq!(emails, vec![PARENT_EMAIL.to_owned()]);

    let mut browser = Browser::new(&server);
    let anonymous = browser.get("/portal");
    assert_eq!(anonymous.status, 303);
    assert_eq!(anonymous.location, "/portal/login");

    let csrf = sign_in_by_code(&mut browser, &mailbox, "Mama@Example.ru");
    let parent_id: Uuid = block_on(
        query_scalar::<_, Uuid>("SELECT id FROM parents WHERE email = $1")
            .bind(PARENT_EMAIL)
            .fetch_one(&server.pool),
    )
    .unwrap();
    let children = block_on(portal::children_of(&server.pool, parent_id)).unwrap();
    assert_eq!(children.len(), 1);
    assert_eq!(
        (children[0].name.as_str(), children[0].class.as_str()),
        ("Иванова Аня", "5А")
    );

    let home = browser.get("/portal");
    for header in [
        "content-security-policy",
        "x-content-type-options",
        "referrer-policy",
        "x-frame-options",
        "permissions-policy",
    ] {
        assert!(home.header(header).is_some(), "{header} missing");
    }
    assert!(home
        .header("content-security-policy")
        .unwrap()
        .contains("default-src 'self'"));
    assert_eq!(home.header("x-frame-options"), Some("DENY"));
    for expected in [
        "Иванова Аня",
        "5А",
        "955 ₽",
        "07:58</span> <span class=\"what\">Вход",
        "Сок яблочный 0,2 л",
        "−45 ₽",
        "12:30</span> <span class=\"what\">Обед (бесплатно)",
        "14:10</span> <span class=\"what\">Выход",
    ] {
        assert!(
            home.body.contains(expected),
            "{expected:?} not in {}",
            home.body
        );
    }
    assert!(
        !home.body.contains("Петров"),
        "another family's child is shown"
    );

    let own = format!("/portal/child/{school}/{PUPIL}");
    let other = format!("/portal/child/{school}/{OTHER_PUPIL}");
    let child = browser.get(&own);
    assert_eq!(child.status, 200, "{}", child.body);
    assert!(child.body.contains("Пополнение баланса"));
    assert!(
        child.body.contains("Сок яблочный 0,2 л (45 ₽)"),
        "the catalogue is offered"
    );

    // A ban for the mornings, a limit, a pre-order: the parent's events.
    let banned = browser.post(
        &format!("{own}/ban"),
        &[
            ("csrf", &csrf),
            ("target", &format!("product:{JUICE}")),
            ("from", "08:00"),
            ("to", "13:00"),
        ],
    );
    assert_eq!(banned.status, 303, "{}", banned.body);
    let limited = browser.post(
        &format!("{own}/limit"),
        &[("csrf", &csrf), ("limit", "300")],
    );
    assert_eq!(limited.status, 303, "{}", limited.body);
    let child = browser.get(&own);
    // The first <option> of the offers' select.
    let offer = {
        let start = child.body.find("<select name=\"offer\"").expect("offers");
        let marker = "<option value=\"";
        let from = child.body[start..].find(marker).unwrap() + start + marker.len();
        let to = child.body[from..].find('"').unwrap() + from;
        child.body[from..to].to_owned()
    };
    let ordered = browser.post(
        &format!("{own}/pre-order"),
        &[("csrf", &csrf), ("offer", &offer)],
    );
    assert_eq!(ordered.status, 303, "{}", ordered.body);
    let child = browser.get(&format!("{own}?done=pre-order"));
    assert!(
        child.body.contains("Сок яблочный 0,2 л с 08:00 до 13:00"),
        "{}",
        child.body
    );
    assert!(child.body.contains("не больше 300 ₽ в день"));
    assert!(
        child.body.contains("805 ₽"),
        "the pre-order's 150 ₽ is taken: {}",
        child.body
    );

    let written: Vec<(String, String, String, String)> = block_on(
        sqlx_core::query_as::query_as(
            "SELECT origin, actor, kind, payload FROM events WHERE actor LIKE 'parent:%' ORDER BY global_seq",
        )
        .fetch_all(&server.pool),
    )
    .unwrap();
    let kinds: Vec<&str> = written.iter().map(|row| row.2.as_str()).collect();
    assert_eq!(
        kinds,
        ["canteen_ban_set", "daily_limit_set", "pre_order_placed"]
    );
    for (origin, actor, _, _) in &written {
        assert_eq!(origin, &server_origin(&school.to_string()));
        assert_eq!(actor, &format!("parent:{parent_id}"));
    }
    let ban: Value = serde_json::from_str(&written[0].3).unwrap();
    assert_eq!(ban["person_id"], PUPIL);
    assert_eq!(
        ban["ban"]["target"],
        json!({"kind": "product", "value": JUICE})
    );
    assert_eq!(
        ban["ban"]["hours"],
        json!({"from": "08:00:00", "to": "13:00:00"})
    );
    let limit: Value = serde_json::from_str(&written[1].3).unwrap();
    assert_eq!(limit, json!({"person_id": PUPIL, "limit": 30_000}));

    // IDOR: the other family's child, by id, read and written: 404 and nothing written.
    let events_before = count(&server, "SELECT count(*) FROM events");
    assert_eq!(browser.get(&other).status, 404);
    assert!(!browser.get(&other).body.contains("Петров"));
    assert_eq!(browser.get(&format!("{other}/library")).status, 404);
    let not_a_school = format!("/portal/child/{}/{PUPIL}", Uuid::now_v7());
    assert_eq!(browser.get(&not_a_school).status, 404);
    let bad_offer = offer.clone();
    for (path, form) in [
        (
            format!("{other}/ban"),
            vec![("target", format!("product:{JUICE}"))],
        ),
        (format!("{other}/limit"), vec![("limit", "1".to_owned())]),
        (format!("{other}/limit"), vec![("clear", "1".to_owned())]),
        (
            format!("{other}/top-up"),
            vec![("amount", "500".to_owned())],
        ),
        (
            format!("{other}/pre-order"),
            vec![("offer", bad_offer.clone())],
        ),
        (
            format!("{not_a_school}/limit"),
            vec![("limit", "1".to_owned())],
        ),
    ] {
        let mut fields: Vec<(&str, &str)> = vec![("csrf", &csrf)];
        fields.extend(form.iter().map(|(k, v)| (*k, v.as_str())));
        let answer = browser.post(&path, &fields);
        assert_eq!(answer.status, 404, "{path}: {}", answer.body);
    }
    // Lifting the own child's ban through the other child's path, by the ban's id.
    let ban_id = ban["ban"]["ban_id"].as_str().unwrap().to_owned();
    let lifted = browser.post(&format!("{other}/ban/{ban_id}/lift"), &[("csrf", &csrf)]);
    assert_eq!(lifted.status, 404);
    assert_eq!(count(&server, "SELECT count(*) FROM events"), events_before);
    assert_eq!(count(&server, "SELECT count(*) FROM payments"), 0);

    // CSRF: no token, a wrong token: 403 and nothing written.
    let missing = browser.post(&format!("{own}/limit"), &[("limit", "100")]);
    assert_eq!(missing.status, 403);
    let wrong = browser.post(
        &format!("{own}/limit"),
        &[("csrf", "0".repeat(64).as_str()), ("limit", "100")],
    );
    assert_eq!(wrong.status, 403);
    assert_eq!(count(&server, "SELECT count(*) FROM events"), events_before);

    // Validation speaks Russian on the page.
    let bad = browser.post(
        &format!("{own}/limit"),
        &[("csrf", &csrf), ("limit", "сто")],
    );
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("Лимит — от 1 до"));
    assert_eq!(count(&server, "SELECT count(*) FROM events"), events_before);

    // The lift of the own ban works.
    let lifted = browser.post(&format!("{own}/ban/{ban_id}/lift"), &[("csrf", &csrf)]);
    assert_eq!(lifted.status, 303, "{}", lifted.body);
    assert_eq!(count(&server, "SELECT count(*) FROM portal_bans"), 0);

    // A top-up goes to the sandbox's confirmation page.
    let top_up = browser.post(
        &format!("{own}/top-up"),
        &[("csrf", &csrf), ("amount", "500")],
    );
    assert_eq!(top_up.status, 303, "{}", top_up.body);
    assert!(
        top_up.location.contains("/sandbox/pay/"),
        "{}",
        top_up.location
    );
    let path = top_up.location.trim_start_matches(&server.url).to_owned();
    let bank = browser.get(&path);
    assert_eq!(bank.status, 200);
    assert!(bank.body.contains("500 ₽"));

    // The pre-order is cancelled before its cut-off: the money comes back.
    let pre_order_id: String = block_on(
        query_scalar::<_, String>("SELECT pre_order_id FROM portal_pre_orders")
            .fetch_one(&server.pool),
    )
    .unwrap();
    let cancelled = browser.post(
        &format!("{other}/pre-order/{pre_order_id}/cancel"),
        &[("csrf", &csrf)],
    );
    assert_eq!(cancelled.status, 404, "not through another child's path");
    let cancelled = browser.post(
        &format!("{own}/pre-order/{pre_order_id}/cancel"),
        &[("csrf", &csrf)],
    );
    assert_eq!(cancelled.status, 303, "{}", cancelled.body);
    let child = browser.get(&own);
    assert!(child.body.contains("955 ₽"), "{}", child.body);

    // Settings are stored.
    let saved = browser.post(
        "/portal/settings",
        &[
            ("csrf", &csrf),
            ("email_enabled", "1"),
            ("kind_entry", "1"),
            ("kind_low_balance", "1"),
            ("quiet_from", "22:00"),
            ("quiet_to", "07:00"),
            ("low_balance", "100"),
        ],
    );
    assert_eq!(saved.status, 303, "{}", saved.body);
    let settings = block_on(portal::pages::notify_settings(&server.pool, parent_id)).unwrap();
    assert_eq!(settings.kinds, ["entry", "low_balance"]);
    assert_eq!(settings.low_balance_threshold, Some(10_000));
    // A webhook address gets its signing key, shown once; saving again keeps it.
    let with_hook = [
        ("csrf", csrf.as_str()),
        ("email_enabled", "1"),
        ("webhook_url", "https://family.example/hook"),
        ("kind_entry", "1"),
    ];
    let hooked = browser.post("/portal/settings", &with_hook);
    assert_eq!(hooked.status, 200, "{}", hooked.body);
    assert!(
        hooked.body.contains("Ключ подписи вебхука"),
        "{}",
        hooked.body
    );
    let key: Option<String> = block_on(
        sqlx_core::query_scalar::query_scalar(
            "SELECT webhook_secret FROM parent_notify_settings WHERE parent_id = $1",
        )
        .bind(parent_id)
        .fetch_one(&server.pool),
    )
    .unwrap();
    let key = key.expect("a signing key");
    assert!(hooked.body.contains(&key));
    let again = browser.post("/portal/settings", &with_hook);
    assert_eq!(again.status, 303, "the same address keeps its key");

    // Sign-out ends the session: the old cookie opens nothing.
    let cookies = browser.cookies.clone();
    let out = browser.post("/portal/logout", &[("csrf", &csrf)]);
    assert_eq!(out.status, 303);
    browser.cookies = cookies;
    let after = browser.get("/portal");
    assert_eq!(after.status, 303);
    assert_eq!(after.location, "/portal/login");
}

#[test]
fn wrong_codes_and_passwords_run_into_the_rate_limit() {
    let (server, mailbox) = portal_server();
    small_school(&server);
    block_on(projector::project_pending(&server.pool)).unwrap();
    let mut browser = Browser::new(&server);
    let csrf = sign_in_by_code(&mut browser, &mailbox, OTHER_EMAIL);
    // A password, then sign in with it from a fresh browser.
    let set = browser.post(
        "/portal/password",
        &[("csrf", &csrf), ("password", "короткий")],
    );
    assert_eq!(set.status, 400);
    assert!(set.body.contains("Пароль слишком короткий"));
    let set = browser.post(
        "/portal/password",
        &[("csrf", &csrf), ("password", "долгий-пароль-папы")],
    );
    assert_eq!(set.status, 303);
    let mut fresh = Browser::new(&server);
    let pre = fresh.get("/portal/login").field("pre");
    let signed = fresh.post(
        "/portal/login",
        &[
            ("email", OTHER_EMAIL),
            ("password", "долгий-пароль-папы"),
            ("pre", &pre),
        ],
    );
    assert_eq!(signed.status, 303, "{}", signed.body);
    let home = fresh.get("/portal");
    assert!(home.body.contains("Петров Борис") && !home.body.contains("Иванова"));

    // A sign-in form without its double-submit token is refused.
    let mut stranger = Browser::new(&server);
    let refused = stranger.post(
        "/portal/login",
        &[("email", OTHER_EMAIL), ("password", "x")],
    );
    assert_eq!(refused.status, 403);

    // Wrong passwords: 401 until the bucket is empty, then 429.
    let pre = stranger.get("/portal/login").field("pre");
    let mut statuses = Vec::new();
    for _ in 0..10 {
        let answer = stranger.post(
            "/portal/login",
            &[
                ("email", OTHER_EMAIL),
                ("password", "не тот пароль"),
                ("pre", &pre),
            ],
        );
        statuses.push(answer.status);
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    let first_429 = statuses.iter().position(|s| *s == 429).unwrap();
    assert!(
        statuses[..first_429].iter().all(|s| *s == 401),
        "{statuses:?}"
    );
    assert!(
        statuses[first_429..].iter().all(|s| *s == 429),
        "{statuses:?}"
    );

    // Wrong codes: the code dies after 5, and the address runs into the limit.
    let mut other = Browser::new(&server);
    let pre = other.get("/portal/login").field("pre");
    let asked = other.post(
        "/portal/code/request",
        &[("email", PARENT_EMAIL), ("pre", &pre)],
    );
    assert_eq!(asked.status, 303);
    let mail = mailbox.sent().last().cloned().unwrap();
    let code: String = mail
        .body_text
        .split_whitespace()
        .find(|w| w.len() == 6 && w.chars().all(|c| c.is_ascii_digit()))
        .unwrap()
        .to_owned();
    let wrong_code = if code == "000000" { "111111" } else { "000000" };
    let mut statuses = Vec::new();
    for _ in 0..11 {
        let answer = other.post(
            "/portal/code",
            &[("email", PARENT_EMAIL), ("code", wrong_code), ("pre", &pre)],
        );
        statuses.push(answer.status);
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    // The right code after five wrong ones no longer opens a session.
    let late = other.post(
        "/portal/code",
        &[("email", PARENT_EMAIL), ("code", &code), ("pre", &pre)],
    );
    assert_ne!(late.status, 303);
    // Nobody who is not on a roster gets a code or an account.
    let before = mailbox.sent().len();
    let mut outsider = Browser::new(&server);
    let pre = outsider.get("/portal/login").field("pre");
    let asked = outsider.post(
        "/portal/code/request",
        &[("email", "nobody@example.ru"), ("pre", &pre)],
    );
    assert_eq!(asked.status, 303);
    assert_eq!(mailbox.sent().len(), before);
    assert_eq!(
        count(
            &server,
            "SELECT count(*) FROM parents WHERE email = 'nobody@example.ru'"
        ),
        0
    );
}

/// A relay on loopback speaking just enough SMTP to take one message: answers what it
/// received (the envelope's commands and the message's text).
fn one_message_relay() -> (u16, std::thread::JoinHandle<String>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let relay = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut writer = stream;
        let mut received = String::new();
        writer.write_all(b"220 relay.test ESMTP\r\n").unwrap();
        let mut in_data = false;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap() == 0 {
                return received;
            }
            received.push_str(&line);
            if in_data {
                if line == ".\r\n" {
                    in_data = false;
                    writer.write_all(b"250 queued\r\n").unwrap();
                }
                continue;
            }
            let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
            let answer: &[u8] = match verb.as_str() {
                "EHLO" => b"250-relay.test\r\n250 8BITMIME\r\n",
                "DATA" => {
                    in_data = true;
                    b"354 go on\r\n"
                }
                "QUIT" => {
                    writer.write_all(b"221 bye\r\n").unwrap();
                    return received;
                }
                _ => b"250 ok\r\n",
            };
            writer.write_all(answer).unwrap();
        }
    });
    (port, relay)
}

#[test]
fn the_smtp_mailer_hands_a_message_to_a_relay_on_loopback() {
    let (port, relay) = one_message_relay();
    let smtp = schoolcard_server::mail::Smtp::new("127.0.0.1", port, "portal@school.test").unwrap();
    smtp.send("mama@example.ru", "Код для входа", "Your code: 123456")
        .expect("the relay takes it");
    drop(smtp);
    let received = relay.join().unwrap();
    assert!(
        received.contains("MAIL FROM:<portal@school.test>"),
        "{received}"
    );
    assert!(received.contains("RCPT TO:<mama@example.ru>"), "{received}");
    assert!(received.contains("Your code: 123456"), "{received}");
    // A relay that is not there is an error for the log, not a panic.
    let gone = schoolcard_server::mail::Smtp::new("127.0.0.1", port, "portal@school.test").unwrap();
    assert!(gone.send("mama@example.ru", "x", "y").is_err());
}
