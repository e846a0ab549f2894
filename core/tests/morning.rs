//! A replayed school morning at the entrance: a few hundred pupils through the gate post,
//! some late, an unknown card, a blocked card, a tap nobody walked through — the journal
//! and the day's attendance come out as they should.

use chrono::{DateTime, Duration, TimeZone, Utc};
use schoolcard_core::demo;
use schoolcard_core::gatepost::post::GatePost;
use schoolcard_core::gatepost::queue::JournalQueue;
use schoolcard_core::{CardId, Command, Store, Workstation};
use serde_json::{json, Value};
use std::sync::Arc;

/// Longest wait for the journal writer, in milliseconds.
const FLUSH_WAIT_MS: u64 = 30_000;
/// Pupils who come on time, and who come late.
const ON_TIME: usize = 240;
const LATE: usize = 12;

/// 07:00 in Moscow on Tuesday 15 September 2026, a school day.
fn morning() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 9, 15, 4, 0, 0).unwrap()
}

fn cards(store: &Store, state: &str, limit: usize) -> Vec<(CardId, String, String)> {
    let mut statement = store
        .conn()
        .prepare(
            "SELECT c.card_key, p.id, cl.grade || cl.letter FROM cards c
             JOIN persons p ON p.id = c.person_id JOIN classes cl ON cl.id = p.class_id
             WHERE c.state = ?1 AND p.kind = 'pupil' AND p.status = 'active'
               AND cl.grade >= 5
             ORDER BY c.card_key LIMIT ?2",
        )
        .unwrap();
    let rows = statement
        .query_map(rusqlite::params![state, limit as i64], |r| {
            Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    rows.map(|r| {
        let (card, person, class) = r.unwrap();
        (CardId::parse_canonical(&card).unwrap(), person, class)
    })
    .collect()
}

#[test]
fn a_school_morning_replayed_gives_the_journal_and_the_attendance() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("school.sqlite");
    let store = {
        let mut store = Store::open(&path).unwrap();
        demo::generate(
            &mut store,
            demo::DEMO_SEED,
            morning() - Duration::days(1),
            &|_| {},
        )
        .unwrap();
        store
    };
    let queue = Arc::new(JournalQueue::start(&path).unwrap());
    let mut post = GatePost::open(&path, Arc::clone(&queue), morning()).unwrap();
    let ws = Workstation::open(&path).unwrap();
    let readers = ws.peripherals_here().unwrap();
    let entry = readers
        .iter()
        .find(|p| p.spec.name == "Вход — считыватель")
        .expect("the demo's entrance reader");

    let pupils = cards(&store, "active", ON_TIME + LATE + 1);
    assert_eq!(pupils.len(), ON_TIME + LATE + 1);
    let (on_time, rest) = pupils.split_at(ON_TIME);
    let (late, no_pass) = rest.split_at(LATE);
    let blocked = cards(&store, "blocked", 1);
    assert_eq!(blocked.len(), 1, "the demo has blocked cards");

    // 07:40–08:28: on time, a few seconds apart; each one walks through.
    let mut at = morning() + Duration::minutes(40);
    for (card, _, _) in on_time {
        let presented = post.present(card, "Em-Marine", entry, at).unwrap();
        assert!(presented.decision.allowed, "{presented:?}");
        assert!(presented.opens_gate());
        post.outcome(
            presented.passage_id,
            schoolcard_core::events::PassOutcome::Passed,
            at + Duration::seconds(2),
        );
        at += Duration::seconds(12);
    }
    assert!(
        at < morning() + Duration::minutes(90),
        "the rush ran past 08:30"
    );
    // 08:45: late ones.
    at = morning() + Duration::minutes(105);
    for (card, _, _) in late {
        let presented = post.present(card, "", entry, at).unwrap();
        assert!(presented.decision.allowed);
        post.outcome(
            presented.passage_id,
            schoolcard_core::events::PassOutcome::Passed,
            at + Duration::seconds(2),
        );
        at += Duration::seconds(20);
    }
    // A tap nobody walked through: the gate timed out.
    let (card, no_show_id, _) = &no_pass[0];
    let presented = post.present(card, "", entry, at).unwrap();
    post.outcome(
        presented.passage_id,
        schoolcard_core::events::PassOutcome::NoPass,
        at + Duration::seconds(5),
    );
    // An unknown card and a blocked one are denied at once.
    let unknown = post
        .present(
            &CardId::parse_canonical("40:FFFFFFFFFF").unwrap(),
            "",
            entry,
            at,
        )
        .unwrap();
    assert!(!unknown.decision.allowed);
    assert_eq!(unknown.decision.reason.as_str(), "unknown_card");
    let denied = post.present(&blocked[0].0, "", entry, at).unwrap();
    assert_eq!(denied.decision.reason.as_str(), "card_blocked");
    // An on-time pupil taps again without going out: strict anti-passback.
    let again = post.present(&on_time[0].0, "", entry, at).unwrap();
    assert_eq!(again.decision.reason.as_str(), "passback");

    assert!(queue.flush(std::time::Duration::from_millis(FLUSH_WAIT_MS)));
    let count = |sql: &str| -> i64 { store.conn().query_row(sql, [], |r| r.get(0)).unwrap() };
    let passages = ON_TIME + LATE + 4;
    assert_eq!(
        count("SELECT count(*) FROM journal WHERE kind = 'passage'"),
        passages as i64
    );
    assert_eq!(
        count("SELECT count(*) FROM passages WHERE outcome = 'passed'"),
        (ON_TIME + LATE) as i64
    );
    assert_eq!(
        count("SELECT count(*) FROM passages WHERE outcome = 'denied'"),
        3
    );
    assert_eq!(
        count("SELECT count(*) FROM passages WHERE outcome = 'no_pass'"),
        1
    );
    assert_eq!(
        count("SELECT count(*) FROM presence WHERE inside = 1"),
        (ON_TIME + LATE) as i64
    );
    assert!(schoolcard_core::journal::verify(store.conn())
        .unwrap()
        .is_intact());

    // The day as the director sees it, at noon.
    let mut ws = ws;
    let noon = morning() + Duration::hours(5);
    ws.execute(
        Command::SignInPassword {
            login: "director".into(),
            password: demo::DEMO_PASSWORD.into(),
        },
        noon,
        &|_| {},
    )
    .unwrap();
    let day = ws
        .execute(
            serde_json::from_value(json!({"type": "day_attendance"})).unwrap(),
            noon,
            &|_| {},
        )
        .unwrap();
    let sum = |field: &str| -> u64 {
        day["classes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c[field].as_u64().unwrap())
            .sum()
    };
    assert_eq!(sum("present"), (ON_TIME + LATE) as u64, "{day}");
    assert_eq!(sum("late"), LATE as u64);
    let pupils_total = count(
        "SELECT count(*) FROM persons WHERE kind = 'pupil' AND status != 'left' AND class_id IS NOT NULL",
    ) as u64;
    // Grades 1–4 have lessons too: everyone not in is absent.
    assert_eq!(sum("absent"), pupils_total - (ON_TIME + LATE) as u64);
    // The pupil who tapped but never walked through is absent, not present.
    let class_of_no_show: String = store
        .conn()
        .query_row(
            "SELECT class_id FROM persons WHERE id = ?1",
            [no_show_id],
            |r| r.get(0),
        )
        .unwrap();
    let class = ws
        .execute(
            serde_json::from_value(json!({"type": "day_attendance", "class_id": class_of_no_show}))
                .unwrap(),
            noon,
            &|_| {},
        )
        .unwrap();
    let row: &Value = class["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["person_id"] == no_show_id.as_str())
        .unwrap();
    assert_eq!(row["presence"], "absent");

    // The guard's counters agree.
    ws.execute(Command::SignOut, noon, &|_| {}).unwrap();
    ws.execute(
        Command::SignInPassword {
            login: "guard".into(),
            password: demo::DEMO_PASSWORD.into(),
        },
        noon,
        &|_| {},
    )
    .unwrap();
    let summary = ws.execute(Command::GuardSummary, noon, &|_| {}).unwrap();
    assert_eq!(summary["inside"]["pupils"], (ON_TIME + LATE) as u64);
    assert_eq!(summary["arrived_today"], (ON_TIME + LATE) as u64);
    assert_eq!(summary["late_today"], LATE as u64);
    assert_eq!(summary["last_passages"].as_array().unwrap().len(), 50);
    let inside = ws.execute(Command::InsideNow, noon, &|_| {}).unwrap();
    assert_eq!(inside["total"], (ON_TIME + LATE) as u64);

    // A fire drill: the roll-call at the assembly point finds the two not yet ticked.
    let run = |ws: &mut Workstation, command: Value| -> Value {
        ws.execute(serde_json::from_value(command).unwrap(), noon, &|_| {})
            .unwrap()
    };
    let started = run(&mut ws, json!({"type": "start_roll_call"}));
    assert_eq!(started["total"], (ON_TIME + LATE) as u64);
    let roll_call_id = started["roll_call_id"].clone();
    let everyone: Vec<String> = started["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["people"].as_array().unwrap().iter())
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect();
    for person in &everyone[2..] {
        run(
            &mut ws,
            json!({"type": "mark_roll_call", "roll_call_id": roll_call_id, "person_id": person}),
        );
    }
    let state = run(&mut ws, json!({"type": "roll_call_state"}));
    assert_eq!(state["missing"], 2);
    let missing: Vec<&str> = state["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["people"].as_array().unwrap().iter())
        .filter(|p| p["present"] == false)
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(missing, [everyone[0].as_str(), everyone[1].as_str()]);
    let again = ws
        .execute(
            serde_json::from_value(json!({"type": "start_roll_call"})).unwrap(),
            noon,
            &|_| {},
        )
        .unwrap_err();
    assert_eq!(
        again.reason().map(|r| r.as_str()),
        Some("roll_call_running")
    );
    run(
        &mut ws,
        json!({"type": "end_roll_call", "roll_call_id": roll_call_id}),
    );
    assert!(run(&mut ws, json!({"type": "roll_call_state"})).is_null());
    let late_tick = ws
        .execute(
            serde_json::from_value(
                json!({"type": "mark_roll_call", "roll_call_id": roll_call_id,
                                           "person_id": everyone[0]}),
            )
            .unwrap(),
            noon,
            &|_| {},
        )
        .unwrap_err();
    assert_eq!(
        late_tick.reason().map(|r| r.as_str()),
        Some("roll_call_ended")
    );
}
