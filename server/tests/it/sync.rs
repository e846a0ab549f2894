//! Push and pull: idempotency, conflicts, holes, paging, and no event ever skipped while
//! others push.

use std::collections::HashMap;

use crate::harness::*;
use schoolcard_proto::sync::{ErrorCode, MAX_PUSH_EVENTS};
use serde_json::json;

#[test]
fn an_identical_replay_gets_the_same_placements_and_a_changed_one_is_refused_with_an_alert() {
    let server = server();
    let school = server.school("Школа");
    let till = server.enrol(school, "ws-till");
    let batch = passages("ws-till", 1, 3);
    let first = server.push(&till, &batch);
    assert_eq!(
        (first.stored, first.replayed, first.acked_through),
        (3, 0, 3)
    );
    assert_eq!(first.missing_from, None);
    let seqs: Vec<u64> = first.placements.iter().map(|p| p.origin_seq).collect();
    assert_eq!(seqs, [1, 2, 3]);
    assert!(first
        .placements
        .windows(2)
        .all(|w| w[0].global_seq < w[1].global_seq));

    let replay = server.push(&till, &batch);
    assert_eq!(
        (replay.stored, replay.replayed, replay.acked_through),
        (0, 3, 3)
    );
    assert_eq!(replay.placements, first.placements);

    // A replay of 2 and 3 with a new 4: the old keep their places, 4 is stored.
    let mut extended = batch[1..].to_vec();
    extended.extend(passages("ws-till", 4, 1));
    let extended_answer = server.push(&till, &extended);
    assert_eq!((extended_answer.stored, extended_answer.replayed), (1, 2));
    assert_eq!(extended_answer.placements[..2], first.placements[1..]);

    // Number 2 again with another payload, beside a new 5: refused whole.
    let mut changed = batch[1].clone();
    changed.payload = json!({"card": "forged"}).to_string();
    let conflicting = [changed, passages("ws-till", 5, 1)[0].clone()];
    let refused = server.push_raw(&till, 0, &conflicting);
    assert_eq!(
        (refused.0, error_of(&refused).code),
        (409, ErrorCode::ConflictingReplay)
    );
    assert!(
        error_of(&refused).message.contains("event 2"),
        "{refused:?}"
    );
    // The device retrying the same batch is refused again, without a second alert.
    assert_eq!(server.push_raw(&till, 0, &conflicting).0, 409);
    let alerts = server.alerts("conflicting_replay");
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["origin_seq"], 2);
    assert_eq!(alerts[0]["differing"], json!(["payload"]));
    assert_eq!(server.push(&till, &[]).acked_through, 4, "5 was not stored");

    // An event id the server holds under another number.
    let mut reused = passages("ws-till", 5, 1)[0].clone();
    reused.id = batch[0].id.clone();
    let refused = server.push_raw(&till, 0, &[reused]);
    assert_eq!(
        (refused.0, error_of(&refused).code),
        (409, ErrorCode::ConflictingReplay)
    );
    assert_eq!(server.alerts("conflicting_replay").len(), 2);
}

#[test]
fn a_hole_answers_missing_from_and_raises_one_alert() {
    let server = server();
    let school = server.school("Школа");
    let till = server.enrol(school, "ws-till");
    server.push(&till, &passages("ws-till", 1, 2));
    let past_hole = server.push(&till, &passages("ws-till", 4, 2));
    assert_eq!(
        (
            past_hole.stored,
            past_hole.acked_through,
            past_hole.missing_from
        ),
        (2, 2, Some(3))
    );
    let still = server.push(&till, &passages("ws-till", 6, 1));
    assert_eq!((still.acked_through, still.missing_from), (2, Some(3)));
    assert_eq!(
        server.alerts("sequence_gap"),
        vec![json!({"missing_from": 3, "held_through": 5})]
    );
    let filled = server.push(&till, &passages("ws-till", 3, 1));
    assert_eq!((filled.acked_through, filled.missing_from), (6, None));
    assert_eq!(server.alerts("sequence_gap").len(), 1);
}

#[test]
fn a_push_breaking_the_rules_is_refused_and_stores_nothing() {
    let server = server();
    let school = server.school("Школа");
    let till = server.enrol(school, "ws-till");
    let foreign = server.push_raw(&till, 0, &passages("ws-other", 1, 1));
    assert_eq!(foreign.0, 400, "{foreign:?}");
    let authorization = till.authorization();
    let wrong_origin = call(
        "POST",
        &server.url("/v1/sync/push"),
        &[
            ("authorization", &authorization),
            ("x-schoolcard-protocol", "1"),
        ],
        Some(&json!({"origin": "ws-other", "seen_through": 0, "events": []})),
    );
    assert_eq!(wrong_origin.0, 400);
    let too_many = server.push_raw(
        &till,
        0,
        &passages("ws-till", 1, MAX_PUSH_EVENTS as u64 + 1),
    );
    assert_eq!(
        (too_many.0, error_of(&too_many).code),
        (413, ErrorCode::TooLarge)
    );
    let bad_money = server.push_raw(
        &till,
        0,
        &[
            passages("ws-till", 1, 1)[0].clone(),
            event("ws-till", 2, "sale_made", json!({"sale_id": "s1"})),
        ],
    );
    assert_eq!(bad_money.0, 400);
    assert!(
        error_of(&bad_money).message.contains("event 2"),
        "{bad_money:?}"
    );
    assert_eq!(server.push(&till, &[]).acked_through, 0);
}

#[test]
fn pull_pages_through_others_events_and_moves_the_cursor_past_its_own() {
    let server = server();
    let school = server.school("Школа");
    let other_school = server.school("Другая школа");
    let a = server.enrol(school, "ws-a");
    let b = server.enrol(school, "ws-b");
    let stranger = server.enrol(other_school, "ws-c");
    server.push(&a, &passages("ws-a", 1, 5));
    server.push_raw(&b, 4, &passages("ws-b", 1, 3));
    server.push(&stranger, &passages("ws-c", 1, 4));
    let last = server.push(&a, &passages("ws-a", 6, 2));

    let first = server.pull(&b, 0, 3);
    assert_eq!(first.events.len(), 3);
    assert!(first.more);
    assert_eq!(first.cursor, first.events[2].global_seq);
    let (events, end) = server.pull_all(&b, 0, 3);
    let seqs: Vec<u64> = events.iter().map(|e| e.origin_seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5, 6, 7]);
    assert!(events.iter().all(|e| e.origin == "ws-a"));
    assert_eq!(end.cursor, last.placements[1].global_seq);

    // A's view: B's three events, carrying B's seen_through; the cursor ends past A's own.
    let for_a = server.pull(&a, 0, 100);
    assert_eq!(for_a.events.len(), 3);
    assert!(for_a
        .events
        .iter()
        .all(|e| e.event.origin == "ws-b" && e.seen_through == 4));
    assert!(!for_a.more);
    assert_eq!(for_a.cursor, end.cursor);
    // Nothing new: the cursor stays.
    let idle = server.pull(&a, for_a.cursor, 100);
    assert_eq!(
        (idle.events.len(), idle.cursor, idle.more),
        (0, for_a.cursor, false)
    );
}

#[test]
fn concurrent_pushes_never_make_a_puller_skip_an_event() {
    const PUSHERS: usize = 4;
    const BATCHES: u64 = 15;
    const BATCH_EVENTS: u64 = 20;
    let server = server();
    let school = server.school("Школа");
    let pushers: Vec<Credential> = (0..PUSHERS)
        .map(|i| server.enrol(school, &format!("ws-pusher-{i}")))
        .collect();
    let reader = server.enrol(school, "ws-reader");
    let pulled = std::thread::scope(|scope| {
        let handles: Vec<_> = pushers
            .iter()
            .map(|device| {
                let server = &server;
                scope.spawn(move || {
                    for batch in 0..BATCHES {
                        let first = batch * BATCH_EVENTS + 1;
                        server.push(device, &passages(&device.device_id, first, BATCH_EVENTS));
                    }
                })
            })
            .collect();
        let mut pulled = Vec::new();
        let mut cursor = 0;
        let mut own_seq = 0;
        loop {
            let done = handles.iter().all(|handle| handle.is_finished());
            // The reader writes too, so its own events interleave with the others'.
            own_seq += 1;
            server.push(&reader, &passages("ws-reader", own_seq, 1));
            let page = server.pull(&reader, cursor, 7);
            assert!(page.cursor >= cursor);
            cursor = page.cursor;
            pulled.extend(page.events.into_iter().map(|e| e.event));
            if done && !page.more {
                break;
            }
        }
        pulled
    });
    let mut seen: HashMap<(String, u64), u32> = HashMap::new();
    for event in &pulled {
        *seen
            .entry((event.origin.clone(), event.origin_seq))
            .or_default() += 1;
    }
    assert_eq!(seen.len(), PUSHERS * (BATCHES * BATCH_EVENTS) as usize);
    assert!(
        seen.values().all(|count| *count == 1),
        "an event pulled twice"
    );
    assert!(seen.keys().all(|(origin, _)| origin != "ws-reader"));
}
