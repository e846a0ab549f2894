//! The library in the parent portal: a school's library desk pushes its book events, the
//! projector keeps titles, copies and loans, a parent sees their child's books on loan
//! (the overdue one marked) and the returned ones, hears of the overdue notice — and of
//! nothing else the desk does — and sees no other family's books; a replay of the
//! journal changes nothing.

use chrono::{Duration, NaiveDate, Utc};
use schoolcard_proto::sync::WireEvent;
use schoolcard_server::{notify, projector};
use serde_json::{json, Value};
use sqlx_core::query::query;
use sqlx_core::query_scalar::query_scalar;
use uuid::Uuid;

use crate::harness::*;
use crate::portal::{portal_server, sign_in_by_code};

const PUPIL: &str = "0192d000-0000-7000-8000-000000000011";
const MUM: &str = "0192d000-0000-7000-8000-000000000012";
const DAD: &str = "0192d000-0000-7000-8000-000000000013";
const OTHER_PUPIL: &str = "0192d000-0000-7000-8000-000000000014";
const OTHER_GUARDIAN: &str = "0192d000-0000-7000-8000-000000000015";
const MUM_EMAIL: &str = "mama@example.ru";
const DAD_EMAIL: &str = "papa@example.ru";
const OTHER_EMAIL: &str = "sosed@example.ru";

const CAPTAIN: &str = "0192d000-0000-7000-8000-0000000001a1";
const DENISKA: &str = "0192d000-0000-7000-8000-0000000001a2";
const DIRK: &str = "0192d000-0000-7000-8000-0000000001a3";
const POODLE: &str = "0192d000-0000-7000-8000-0000000001a4";
const TIMUR: &str = "0192d000-0000-7000-8000-0000000001a5";

/// The school's date today (the test school is in Moscow).
fn school_today() -> NaiveDate {
    Utc::now()
        .with_timezone(&chrono_tz::Europe::Moscow)
        .date_naive()
}

/// Events of `origin` numbered from 1, each `days_ago` before now.
fn journal(origin: &str, events: Vec<(i64, &str, Value)>) -> Vec<WireEvent> {
    events
        .into_iter()
        .enumerate()
        .map(|(index, (days_ago, kind, payload))| {
            let mut event = event(origin, index as u64 + 1, kind, payload);
            event.occurred_at_us = (Utc::now() - Duration::days(days_ago)).timestamp_micros();
            event
        })
        .collect()
}

fn person(id: &str, kind: &str, surname: &str, name: &str, email: Option<&str>) -> Value {
    let mut payload = json!({"person_id": id, "person_kind": kind,
        "name": {"surname": surname, "name": name, "patronymic": ""}});
    if let Some(email) = email {
        payload["details"] = json!({"email": email});
    }
    payload
}

fn title(title_id: &str, title: &str, authors: &[&str]) -> Value {
    json!({"title": {"title_id": title_id, "title": title, "authors": authors, "isbn": null,
        "publisher": "", "year": null, "subject": "", "age_mark": "6+"}})
}

fn copy(barcode: &str, title_id: &str) -> Value {
    json!({"copy": {"barcode": barcode, "title_id": title_id, "location": "Абонемент",
        "item_type": "fiction"}})
}

fn issued(loan_id: &str, barcode: &str, person_id: &str, due: NaiveDate) -> Value {
    json!({"loan_id": loan_id, "barcode": barcode, "person_id": person_id, "due": due})
}

fn count(server: &TestServer, sql: &str) -> i64 {
    block_on(query_scalar::<_, i64>(sql).fetch_one(&server.pool)).unwrap()
}

fn text(server: &TestServer, sql: &str) -> String {
    block_on(query_scalar::<_, Option<String>>(sql).fetch_one(&server.pool))
        .unwrap()
        .unwrap_or_default()
}

/// The part of `body` from `from` up to `to` (or its end).
fn between<'b>(body: &'b str, from: &str, to: &str) -> &'b str {
    let start = body
        .find(from)
        .unwrap_or_else(|| panic!("no {from} in {body}"));
    let end = body[start..].find(to).map_or(body.len(), |at| start + at);
    &body[start..end]
}

#[test]
fn a_parent_sees_their_childs_books_and_hears_only_of_the_overdue_notice() {
    let (server, mailbox) = portal_server();
    let school = server.school("Гимназия №1");
    let office = server.enrol(school, "ws-office");
    let desk = server.enrol(school, "ws-library");
    server.push(
        &office,
        &journal(
            "ws-office",
            vec![
                (
                    30,
                    "person_enrolled",
                    person(PUPIL, "pupil", "Соколова", "Вера", None),
                ),
                (
                    30,
                    "person_enrolled",
                    person(MUM, "guardian", "Соколова", "Анна", Some(MUM_EMAIL)),
                ),
                (
                    30,
                    "person_enrolled",
                    person(DAD, "guardian", "Соколов", "Олег", Some(DAD_EMAIL)),
                ),
                (
                    30,
                    "guardian_linked",
                    json!({"guardian_id": MUM, "pupil_id": PUPIL}),
                ),
                (
                    30,
                    "guardian_linked",
                    json!({"guardian_id": DAD, "pupil_id": PUPIL}),
                ),
                (
                    30,
                    "person_enrolled",
                    person(OTHER_PUPIL, "pupil", "Орлов", "Гоша", None),
                ),
                (
                    30,
                    "person_enrolled",
                    person(
                        OTHER_GUARDIAN,
                        "guardian",
                        "Орлова",
                        "Нина",
                        Some(OTHER_EMAIL),
                    ),
                ),
                (
                    30,
                    "guardian_linked",
                    json!({"guardian_id": OTHER_GUARDIAN, "pupil_id": OTHER_PUPIL}),
                ),
            ],
        ),
    );
    block_on(projector::project_pending(&server.pool)).unwrap();
    // The parents sign in before the desk's events, so no notification mail can come
    // between a code and its reading.
    let mut mum = Browser::new(&server);
    sign_in_by_code(&mut mum, &mailbox, MUM_EMAIL);
    let mut neighbour = Browser::new(&server);
    sign_in_by_code(&mut neighbour, &mailbox, OTHER_EMAIL);
    // Dad has an account too, and chose not to hear of books.
    let dad = Uuid::now_v7();
    block_on(async {
        query("INSERT INTO parents (id, email) VALUES ($1, $2)")
            .bind(dad)
            .bind(DAD_EMAIL)
            .execute(&server.pool)
            .await?;
        query("INSERT INTO parent_notify_settings (parent_id, kinds) VALUES ($1, '{entry,exit,meal}')")
            .bind(dad)
            .execute(&server.pool)
            .await
    })
    .unwrap();

    let today = school_today();
    let (captain_due, dirk_due, dirk_renewed) = (
        today - Duration::days(3),
        today - Duration::days(1),
        today + Duration::days(13),
    );
    let (captain, deniska, dirk, poodle, timur) = (
        Uuid::now_v7().to_string(),
        Uuid::now_v7().to_string(),
        Uuid::now_v7().to_string(),
        Uuid::now_v7().to_string(),
        Uuid::now_v7().to_string(),
    );
    let library = journal(
        "ws-library",
        vec![
            (
                60,
                "book_title_saved",
                title(CAPTAIN, "Капитанская дочка", &["А. С. Пушкин"]),
            ),
            (
                60,
                "book_title_saved",
                title(DENISKA, "Денискины рассказы", &["В. Ю. Драгунский"]),
            ),
            (
                60,
                "book_title_saved",
                title(DIRK, "Кортик", &["А. Н. Рыбаков"]),
            ),
            (
                60,
                "book_title_saved",
                title(POODLE, "Белый пудель", &["А. И. Куприн"]),
            ),
            (
                60,
                "book_title_saved",
                title(TIMUR, "Тимур и его команда", &["А. П. Гайдар"]),
            ),
            (60, "book_copy_added", copy("000101", CAPTAIN)),
            (60, "book_copy_added", copy("000102", DENISKA)),
            (60, "book_copy_added", copy("000103", DIRK)),
            (60, "book_copy_added", copy("000104", POODLE)),
            (60, "book_copy_added", copy("000105", TIMUR)),
            (
                17,
                "book_issued",
                issued(&captain, "000101", PUPIL, captain_due),
            ),
            (
                17,
                "book_issued",
                issued(&deniska, "000102", PUPIL, today + Duration::days(5)),
            ),
            (15, "book_issued", issued(&dirk, "000103", PUPIL, dirk_due)),
            (
                15,
                "book_issued",
                issued(&poodle, "000104", PUPIL, today + Duration::days(5)),
            ),
            (
                15,
                "book_issued",
                issued(&timur, "000105", OTHER_PUPIL, today - Duration::days(2)),
            ),
            // An issue this build cannot read (no due date): skipped, the journal keeps it.
            (
                14,
                "book_issued",
                json!({"loan_id": Uuid::now_v7(), "barcode": "000101", "person_id": PUPIL}),
            ),
            (
                10,
                "book_returned",
                json!({"loan_id": deniska, "barcode": "000102", "note": "без замечаний"}),
            ),
            (
                2,
                "book_renewed",
                json!({"loan_id": dirk, "due": dirk_renewed}),
            ),
            (
                1,
                "book_copy_state_changed",
                json!({"barcode": "000104", "state": "lost", "note": "потеряна в лагере"}),
            ),
            (
                0,
                "book_overdue_notice",
                json!({"loan_id": captain, "person_id": PUPIL, "barcode": "000101",
                "title": "Капитанская дочка", "due": captain_due, "days_overdue": 3}),
            ),
            (
                0,
                "book_overdue_notice",
                json!({"loan_id": timur, "person_id": OTHER_PUPIL, "barcode": "000105",
                "title": "Тимур и его команда", "due": today - Duration::days(2), "days_overdue": 2}),
            ),
        ],
    );
    server.push(&desk, &library);
    block_on(projector::project_pending(&server.pool)).unwrap();
    assert_eq!(
        count(
            &server,
            "SELECT (SELECT cursor FROM projector_state WHERE name = 'portal') - max(global_seq) FROM events"
        ),
        0,
        "past the unreadable issue too"
    );
    assert_eq!(
        text(
            &server,
            "SELECT string_agg(barcode || ':' || state, ' ' ORDER BY barcode) FROM library_copies"
        ),
        "000101:on_loan 000102:on_shelf 000103:on_loan 000104:lost 000105:on_loan"
    );

    // What the child's feed says of the library, in order.
    let feed = text(
        &server,
        &format!(
            "SELECT string_agg(kind || ' ' || title, E'\\n' ORDER BY global_seq) FROM feed
              WHERE person_id = '{PUPIL}' AND kind LIKE 'library%'"
        ),
    );
    let short = |date: NaiveDate| date.format("%d.%m").to_string();
    let expected = [
        format!(
            "library_issued Выдана книга «Капитанская дочка», вернуть до {}",
            short(captain_due)
        ),
        format!(
            "library_issued Выдана книга «Денискины рассказы», вернуть до {}",
            short(today + Duration::days(5))
        ),
        format!(
            "library_issued Выдана книга «Кортик», вернуть до {}",
            short(dirk_due)
        ),
        format!(
            "library_issued Выдана книга «Белый пудель», вернуть до {}",
            short(today + Duration::days(5))
        ),
        "library_returned Книга «Денискины рассказы» возвращена".to_owned(),
        format!(
            "library_renewed Книга «Кортик» продлена до {}",
            short(dirk_renewed)
        ),
        "library_lost Книга «Белый пудель» потеряна".to_owned(),
        format!(
            "library_due Просрочена книга «Капитанская дочка»: 3 дн., срок был {}",
            short(captain_due)
        ),
    ]
    .join("\n");
    assert_eq!(feed, expected);

    // Only the overdue notice is told, to the parent who did not opt out, once.
    block_on(notify::enqueue_pending(
        &server.pool,
        "https://portal.example",
    ))
    .unwrap();
    let told =
        "SELECT string_agg(pa.email || ' ' || n.channel || ' ' || n.kind || ' ' || n.person_id,
                                  E'\\n' ORDER BY pa.email, n.person_id)
                  FROM notifications n JOIN parents pa ON pa.id = n.parent_id";
    let notified = text(&server, told);
    assert_eq!(
        notified,
        format!(
            "{MUM_EMAIL} email library_due {PUPIL}\n{OTHER_EMAIL} email library_due {OTHER_PUPIL}"
        )
    );
    let subject = text(
        &server,
        &format!("SELECT subject FROM notifications WHERE person_id = '{PUPIL}'"),
    );
    assert!(
        subject.starts_with("Вера: Просрочена книга «Капитанская дочка»: 3 дн."),
        "{subject}"
    );

    // The child's page sums it up; the library page lists the books.
    let child = format!("/portal/child/{school}/{PUPIL}");
    let page = mum.get(&child);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body
            .contains("Книг на руках: 2, из них просрочено: 1."),
        "{}",
        page.body
    );
    let page = mum.get(&format!("{child}/library"));
    assert_eq!(page.status, 200, "{}", page.body);
    let long = |date: NaiveDate| date.format("%d.%m.%Y").to_string();
    let on_loan = between(&page.body, "id=\"on-loan\"", "id=\"returned\"");
    for shown in [
        "Капитанская дочка",
        "А. С. Пушкин",
        &format!("вернуть до <strong>{}</strong>", long(captain_due)),
        "Просрочена на 3 дн.",
        "Кортик",
        &format!("вернуть до <strong>{}</strong>", long(dirk_renewed)),
        "(продлевалась: 1)",
        &format!("Выдана {}", long(today - Duration::days(17))),
    ] {
        assert!(on_loan.contains(shown), "{shown} not in {on_loan}");
    }
    assert_eq!(on_loan.matches("class=\"overdue\"").count(), 1, "{on_loan}");
    for hidden in ["Денискины", "Белый пудель", "Тимур", &long(dirk_due)] {
        assert!(!on_loan.contains(hidden), "{hidden} in {on_loan}");
    }
    let returned = between(&page.body, "id=\"returned\"", "</main>");
    assert!(returned.contains("Денискины рассказы"), "{returned}");
    assert!(
        returned.contains(&format!("Возвращена {}", long(today - Duration::days(10)))),
        "{returned}"
    );
    assert!(returned.contains("Белый пудель"), "{returned}");
    assert!(returned.contains("Потеряна"), "{returned}");
    assert!(!returned.contains("Капитанская"), "{returned}");
    assert!(!page.body.contains("Тимур"));

    // Another family's parent gets 404 for this child's library, and the other way round.
    let theirs = neighbour.get(&format!("{child}/library"));
    assert_eq!(theirs.status, 404);
    assert!(!theirs.body.contains("Капитанская"));
    assert_eq!(
        mum.get(&format!("/portal/child/{school}/{OTHER_PUPIL}/library"))
            .status,
        404
    );
    assert_eq!(
        neighbour
            .get(&format!("/portal/child/{school}/{OTHER_PUPIL}/library"))
            .status,
        200
    );

    // Replaying the whole journal over the projections changes nothing, and tells no one
    // twice.
    let snapshot =
        "SELECT (SELECT string_agg(t::text, '|' ORDER BY title_id) FROM library_titles t)
        || (SELECT string_agg(c::text, '|' ORDER BY barcode) FROM library_copies c)
        || (SELECT string_agg(l::text, '|' ORDER BY loan_id) FROM library_loans l)
        || (SELECT string_agg(f::text, '|' ORDER BY global_seq, person_id) FROM feed f)";
    let before = text(&server, snapshot);
    block_on(
        query("UPDATE projector_state SET cursor = 0 WHERE name IN ('portal', 'notify')")
            .execute(&server.pool),
    )
    .unwrap();
    block_on(projector::project_pending(&server.pool)).unwrap();
    block_on(notify::enqueue_pending(
        &server.pool,
        "https://portal.example",
    ))
    .unwrap();
    assert_eq!(text(&server, snapshot), before);
    assert_eq!(text(&server, told), notified);
    assert_eq!(
        count(&server, "SELECT sum(renewals)::bigint FROM library_loans"),
        1
    );
}
