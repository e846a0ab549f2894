//! Visitors and forgotten cards at the entrance: a visitor card lets its holder in until
//! the pass runs out and is handed back at the exit; a pupil without their card is let
//! through by the guard with a note.

mod common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::{run, school};
use schoolcard_core::events::PassOutcome;
use schoolcard_core::gatepost::post::GatePost;
use schoolcard_core::gatepost::queue::JournalQueue;
use schoolcard_core::peripherals::{Connection, Direction, Peripheral, PeripheralSpec, Post};
use schoolcard_core::{CardId, Workstation};
use serde_json::json;
use std::sync::Arc;

/// Longest wait for the journal writer, in milliseconds.
const FLUSH_WAIT_MS: u64 = 20_000;

/// 10:00 in Moscow on a school day.
fn ten() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 9, 15, 7, 0, 0).unwrap()
}

fn reader(ws: &mut Workstation, name: &str, direction: &str) -> Peripheral {
    run(
        ws,
        json!({"type": "save_device", "device": {"name": name, "post": "entrance",
               "direction": direction, "connection": {"type": "simulated_reader"}}}),
        ten(),
    );
    ws.peripherals_here()
        .unwrap()
        .into_iter()
        .find(|p| p.spec.name == name)
        .unwrap()
}

#[test]
fn a_visitor_comes_in_on_a_visitor_card_and_hands_it_back_at_the_exit() {
    let dir = tempfile::tempdir().unwrap();
    let mut ws = school(dir.path());
    let entry = reader(&mut ws, "Вход", "entry");
    let exit = reader(&mut ws, "Выход", "exit");
    let issued = run(
        &mut ws,
        json!({"type": "issue_visitor_pass", "name": {"surname": "Гостева", "name": "Анна"},
               "document": "паспорт 4510 123456", "visiting": "к директору",
               "card": "40:00000000AA"}),
        ten(),
    );
    // Valid to the end of the school day by default.
    let until: DateTime<Utc> = serde_json::from_value(issued["valid_until"].clone()).unwrap();
    assert_eq!(until, Utc.with_ymd_and_hms(2026, 9, 15, 21, 0, 0).unwrap());
    // The same card cannot go to a second visitor while the first holds it.
    let taken = ws
        .execute(
            serde_json::from_value(json!({"type": "issue_visitor_pass",
                "name": {"surname": "Второй", "name": "Гость"}, "document": "паспорт",
                "visiting": "в бухгалтерию", "card": "40:00000000AA"}))
            .unwrap(),
            ten(),
            &|_| {},
        )
        .unwrap_err();
    assert_eq!(taken.reason().map(|r| r.as_str()), Some("card_taken"));
    // Visitors are not the school's people.
    let people = run(
        &mut ws,
        json!({"type": "search_people", "query": "Гостева"}),
        ten(),
    );
    assert_eq!(
        people["people"].as_array().map(Vec::len),
        Some(0),
        "{people}"
    );

    let path = ws.store().path().to_owned();
    let queue = Arc::new(JournalQueue::start(&path).unwrap());
    let mut post = GatePost::open(&path, Arc::clone(&queue), ten()).unwrap();
    let card = CardId::parse_canonical("40:00000000AA").unwrap();
    let inside = post.present(&card, "", &entry, ten()).unwrap();
    assert!(inside.decision.allowed, "{inside:?}");
    post.outcome(inside.passage_id, PassOutcome::Passed, ten());
    queue.flush(std::time::Duration::from_millis(FLUSH_WAIT_MS));
    let listed = run(&mut ws, json!({"type": "list_visitors"}), ten());
    assert_eq!(listed["visitors"][0]["inside"], true);
    let inside_now = run(&mut ws, json!({"type": "inside_now"}), ten());
    assert_eq!(inside_now["groups"][0]["kind"], "visitors");

    let later = ten() + Duration::hours(1);
    let out = post.present(&card, "", &exit, later).unwrap();
    assert!(out.decision.allowed);
    post.outcome(out.passage_id, PassOutcome::Passed, later);
    queue.flush(std::time::Duration::from_millis(FLUSH_WAIT_MS));
    // The card was handed back: the pass is closed and the card free for the next visitor.
    assert!(
        run(&mut ws, json!({"type": "list_visitors"}), later)["visitors"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let state: String = ws
        .store()
        .conn()
        .query_row(
            "SELECT state FROM cards WHERE card_key = '40:00000000AA'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(state, "returned");
    post.reload(later).unwrap();
    let again = post.present(&card, "", &entry, later).unwrap();
    assert_eq!(again.decision.reason.as_str(), "card_returned");
    run(
        &mut ws,
        json!({"type": "issue_visitor_pass", "name": {"surname": "Второй", "name": "Гость"},
               "document": "паспорт", "visiting": "в бухгалтерию", "card": "40:00000000AA"}),
        later,
    );
}

#[test]
fn an_expired_visitor_pass_is_refused_and_a_pass_closes_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let mut ws = school(dir.path());
    let entry = reader(&mut ws, "Вход", "entry");
    let issued = run(
        &mut ws,
        json!({"type": "issue_visitor_pass", "name": {"surname": "Мастеров", "name": "Олег"},
               "document": "паспорт", "visiting": "ремонт в 204",
               "card": "40:00000000BB", "valid_until": ten() + Duration::hours(1)}),
        ten(),
    );
    let path = ws.store().path().to_owned();
    let queue = Arc::new(JournalQueue::start(&path).unwrap());
    let mut post = GatePost::open(&path, Arc::clone(&queue), ten()).unwrap();
    let card = CardId::parse_canonical("40:00000000BB").unwrap();
    let late = post
        .present(&card, "", &entry, ten() + Duration::hours(2))
        .unwrap();
    assert_eq!(late.decision.reason.as_str(), "visitor_pass_expired");
    run(
        &mut ws,
        json!({"type": "close_visitor_pass", "pass_id": issued["pass_id"]}),
        ten(),
    );
    let closed = ws
        .execute(
            serde_json::from_value(
                json!({"type": "close_visitor_pass", "pass_id": issued["pass_id"]}),
            )
            .unwrap(),
            ten(),
            &|_| {},
        )
        .unwrap_err();
    assert_eq!(closed.reason().map(|r| r.as_str()), Some("pass_closed"));
}

#[test]
fn a_pupil_without_their_card_is_let_through_with_the_guards_note() {
    let dir = tempfile::tempdir().unwrap();
    let mut ws = school(dir.path());
    let entry = reader(&mut ws, "Вход", "entry");
    let class = run(
        &mut ws,
        json!({"type": "create_class", "name": "7А"}),
        ten(),
    );
    let pupil = run(
        &mut ws,
        json!({"type": "enrol_pupil", "class_id": class["id"], "name": {"surname": "Забывкин", "name": "Лёва"}}),
        ten(),
    );
    let pupil_id = pupil["person"]["id"].as_str().unwrap().parse().unwrap();
    let path = ws.store().path().to_owned();
    let queue = Arc::new(JournalQueue::start(&path).unwrap());
    let mut post = GatePost::open(&path, Arc::clone(&queue), ten()).unwrap();
    let presented = post
        .present_without_card(pupil_id, &entry, "забыл карту дома", ten())
        .unwrap();
    assert!(presented.decision.allowed);
    assert!(presented.opens_gate());
    post.outcome(presented.passage_id, PassOutcome::Passed, ten());
    assert!(queue.flush(std::time::Duration::from_millis(FLUSH_WAIT_MS)));
    let (card, note, verified_by, outcome): (Option<String>, String, String, String) = ws
        .store()
        .conn()
        .query_row(
            "SELECT card_key, note, verified_by, outcome FROM passages",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!(card, None);
    assert_eq!(
        (note.as_str(), verified_by.as_str(), outcome.as_str()),
        ("забыл карту дома", "guard", "passed")
    );
    let _ = (
        Connection::SimulatedReader,
        Direction::Entry,
        Post::Entrance,
    );
    let _: Option<PeripheralSpec> = None;
}

#[test]
fn the_days_exceptions_list_cardless_passes_overrides_and_anomalies() {
    let dir = tempfile::tempdir().unwrap();
    let mut ws = school(dir.path());
    let first = reader(&mut ws, "Вход 1", "entry");
    let second = reader(&mut ws, "Вход 2", "entry");
    let class = run(
        &mut ws,
        json!({"type": "create_class", "name": "8Б"}),
        ten(),
    );
    let enrol = |ws: &mut Workstation, surname: &str| -> String {
        let pupil = run(
            ws,
            json!({"type": "enrol_pupil", "class_id": class["id"], "name": {"surname": surname, "name": "Ира"}}),
            ten(),
        );
        pupil["person"]["id"].as_str().unwrap().to_owned()
    };
    let forgetful = enrol(&mut ws, "Забывкина");
    let lender = enrol(&mut ws, "Карточкина");
    run(
        &mut ws,
        json!({"type": "bind_card", "person_id": lender, "card": "40:00000000CC"}),
        ten(),
    );
    let path = ws.store().path().to_owned();
    let queue = Arc::new(JournalQueue::start(&path).unwrap());
    let mut post = GatePost::open(&path, Arc::clone(&queue), ten()).unwrap();

    let cardless = post
        .present_without_card(forgetful.parse().unwrap(), &first, "забыла карту", ten())
        .unwrap();
    post.outcome(cardless.passage_id, PassOutcome::Passed, ten());
    // One card at two entrances four seconds apart: the second is a passback.
    let card = CardId::parse_canonical("40:00000000CC").unwrap();
    let once = post.present(&card, "", &first, ten()).unwrap();
    post.outcome(once.passage_id, PassOutcome::Passed, ten());
    let twice = post
        .present(&card, "", &second, ten() + Duration::seconds(4))
        .unwrap();
    assert_eq!(twice.decision.reason.as_str(), "passback");
    // The guard lets the second one through all the same.
    let overridden = post
        .override_denial(&twice, &second, ten() + Duration::seconds(6))
        .unwrap();
    assert!(overridden.decision.allowed);
    post.outcome(
        overridden.passage_id,
        PassOutcome::Passed,
        ten() + Duration::seconds(7),
    );
    assert!(queue.flush(std::time::Duration::from_millis(FLUSH_WAIT_MS)));

    let report = run(&mut ws, json!({"type": "exceptions_report"}), ten());
    assert_eq!(report["date"], "2026-09-15");
    let names = |list: &serde_json::Value| -> Vec<String> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|r| r["full_name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names(&report["without_card"]), ["Забывкина Ира"]);
    assert_eq!(report["without_card"][0]["note"], "забыла карту");
    assert_eq!(names(&report["overrides"]), ["Карточкина Ира"]);
    assert_eq!(report["overrides"][0]["overridden"], "passback");
    let kinds: Vec<&str> = report["anomalies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"two_readers"), "{report}");
    assert!(kinds.contains(&"repeated_entry"), "{report}");
    let two = report["anomalies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "two_readers")
        .unwrap();
    assert_eq!(two["seconds"], 4);
    assert_eq!(two["second"]["reader"], "Вход 2");
}
