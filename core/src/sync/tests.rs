//! The client's rules against an in-memory server that keeps the protocol's promises
//! (idempotent push, global order, pull of others' events). The real server and real
//! faults are in `tests/tests/sync.rs`.

use super::*;
use crate::events::EventBody;
use crate::journal::verify;
use schoolcard_proto::sync::{BalanceAt, Placement};
use std::cell::RefCell;
use std::collections::BTreeMap;

#[derive(Default)]
struct Server {
    /// (global seq, seen_through, event) in global order.
    log: RefCell<Vec<(u64, u64, WireEvent)>>,
    /// Push answers to lose on the way back (the server stored the batch).
    lose_answers: RefCell<u32>,
}

struct Link<'a> {
    server: &'a Server,
    device: String,
}

impl Transport for Link<'_> {
    fn push(&self, request: &PushRequest) -> Result<PushResponse, SyncError> {
        assert_eq!(request.origin, self.device);
        let mut log = self.server.log.borrow_mut();
        let mut answer = PushResponse {
            acked_through: 0,
            stored: 0,
            replayed: 0,
            placements: vec![],
            missing_from: None,
        };
        for event in &request.events {
            let held = log
                .iter()
                .find(|(_, _, e)| e.origin == event.origin && e.origin_seq == event.origin_seq);
            let global = match held {
                Some((g, _, e)) => {
                    assert_eq!(e, event, "a replay is the same event");
                    answer.replayed += 1;
                    *g
                }
                None => {
                    let g = log.len() as u64 + 1;
                    log.push((g, request.seen_through, event.clone()));
                    answer.stored += 1;
                    g
                }
            };
            answer.placements.push(Placement {
                origin_seq: event.origin_seq,
                global_seq: global,
            });
        }
        answer.acked_through = log
            .iter()
            .filter(|(_, _, e)| e.origin == self.device)
            .count() as u64;
        let mut lose = self.server.lose_answers.borrow_mut();
        if *lose > 0 {
            *lose -= 1;
            return Err(SyncError::Offline("connection reset".into()));
        }
        Ok(answer)
    }

    fn pull(&self, after: u64, limit: u32) -> Result<PullResponse, SyncError> {
        let log = self.server.log.borrow();
        let page: Vec<_> = log
            .iter()
            .filter(|(g, _, _)| *g > after)
            .take(limit as usize)
            .collect();
        let cursor = page.last().map_or(after, |(g, _, _)| *g);
        Ok(PullResponse {
            events: page
                .iter()
                .filter(|(_, _, e)| e.origin != self.device)
                .map(|(g, seen, e)| PulledEvent {
                    global_seq: *g,
                    seen_through: *seen,
                    event: e.clone(),
                })
                .collect(),
            cursor,
            more: log.iter().any(|(g, _, _)| *g > cursor),
            balances: vec![BalanceAt {
                person_id: "nobody".into(),
                balance: 0,
                position: cursor,
            }],
        })
    }
}

struct Ws {
    _dir: tempfile::TempDir,
    store: Store,
}

impl Ws {
    fn new() -> Ws {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("ws.sqlite")).unwrap();
        Ws { _dir: dir, store }
    }

    fn link<'a>(&self, server: &'a Server) -> Link<'a> {
        Link {
            server,
            device: self.store.device().as_str().to_owned(),
        }
    }

    fn sync(&mut self, server: &Server) -> CycleReport {
        let link = self.link(server);
        sync_once(&mut self.store, &link, Batches { push: 3, pull: 4 }).unwrap()
    }

    fn write(&mut self, kind: &str, payload: serde_json::Value) {
        let body = EventBody::from_parts(kind, &payload.to_string()).unwrap();
        self.store
            .write(|w| w.append("staff:test", Utc::now(), body).map(|_| ()))
            .unwrap();
    }

    fn balance(&self, person: &str) -> i64 {
        self.store
            .conn()
            .query_row(
                "SELECT balance FROM canteen_accounts WHERE person_id = ?1",
                [person],
                |r| r.get(0),
            )
            .unwrap_or(0)
    }

    fn price(&self, product: &str) -> i64 {
        self.store
            .conn()
            .query_row(
                "SELECT price FROM canteen_products WHERE product_id = ?1",
                [product],
                |r| r.get(0),
            )
            .unwrap()
    }

    /// Every projection table's rows, to compare an incremental state with a rebuild.
    fn projections(&self) -> BTreeMap<String, Vec<String>> {
        crate::store::PROJECTION_TABLES
            .iter()
            .map(|t| {
                let mut stmt = self
                    .store
                    .conn()
                    .prepare(&format!("SELECT * FROM {t}"))
                    .unwrap();
                let n = stmt.column_count();
                let mut rows: Vec<String> = stmt
                    .query_map([], |r| {
                        Ok((0..n)
                            .map(|i| format!("{:?}", r.get_ref(i).unwrap()))
                            .collect::<Vec<_>>()
                            .join("|"))
                    })
                    .unwrap()
                    .map(Result::unwrap)
                    .collect();
                rows.sort();
                (t.to_string(), rows)
            })
            .collect()
    }

    fn assert_sound(&mut self) {
        let report = verify(self.store.conn()).unwrap();
        assert!(report.is_intact(), "{:?}", report.faults);
        let before = self.projections();
        self.store.rebuild_projections().unwrap();
        assert_eq!(before, self.projections(), "rebuild == incremental");
    }
}

const PUPIL: &str = "01900000-0000-7000-8000-000000000001";
const BUN: &str = "01900000-0000-7000-8000-0000000000b1";

fn product(price: i64) -> serde_json::Value {
    serde_json::json!({"product": {"product_id": BUN, "name": "Булочка", "price": price, "category": "выпечка"}})
}

fn sale(total: i64) -> serde_json::Value {
    serde_json::json!({"sale_id": Uuid::now_v7(), "person_id": PUPIL, "school_date": "2026-11-27",
                       "lines": [], "total": total})
}

#[test]
fn money_from_two_tills_meets_on_both_and_the_outbox_drains() {
    let server = Server::default();
    let (mut a, mut b) = (Ws::new(), Ws::new());
    a.write(
        "balance_topped_up",
        serde_json::json!({"person_id": PUPIL, "amount": 50_000}),
    );
    assert_eq!(pending(a.store.conn(), a.store.device()).unwrap(), 1);
    a.sync(&server);
    assert_eq!(pending(a.store.conn(), a.store.device()).unwrap(), 0);
    b.sync(&server);
    assert_eq!(b.balance(PUPIL), 50_000);

    // Both tills sell while cut off, then reconnect: both sales stand everywhere.
    for _ in 0..5 {
        a.write("sale_made", sale(4_000));
    }
    b.write("sale_made", sale(10_000));
    b.sync(&server);
    a.sync(&server);
    b.sync(&server);
    assert_eq!(a.balance(PUPIL), 50_000 - 20_000 - 10_000);
    assert_eq!(b.balance(PUPIL), a.balance(PUPIL));
    assert_eq!(server.log.borrow().len(), 7, "nothing doubled");
    let balances: i64 = b
        .store
        .conn()
        .query_row("SELECT count(*) FROM server_balances", [], |r| r.get(0))
        .unwrap();
    assert_eq!(balances, 1, "balances travel down with their position");
    a.assert_sound();
    b.assert_sound();
}

#[test]
fn a_lost_push_answer_is_resent_and_taken_as_the_same_events() {
    let server = Server::default();
    let mut a = Ws::new();
    for _ in 0..4 {
        a.write("sale_made", sale(100));
    }
    *server.lose_answers.borrow_mut() = 1;
    let link = a.link(&server);
    let err = sync_once(&mut a.store, &link, Batches { push: 10, pull: 10 }).unwrap_err();
    assert!(!err.needs_attention(), "an outage is retried: {err}");
    assert_eq!(pending(a.store.conn(), a.store.device()).unwrap(), 4);
    let report = a.sync(&server);
    assert_eq!(report.pushed, 4);
    assert_eq!(server.log.borrow().len(), 4);
    assert_eq!(pending(a.store.conn(), a.store.device()).unwrap(), 0);
}

#[test]
fn concurrent_edits_are_settled_by_server_order_and_listed() {
    let server = Server::default();
    let (mut a, mut b) = (Ws::new(), Ws::new());
    a.write("product_saved", product(3_000));
    a.sync(&server);
    b.sync(&server);
    assert_eq!(b.price(BUN), 3_000);

    // Cut off, both change the price; A reaches the server first, B second: B's stands.
    a.write("product_saved", product(3_500));
    b.write("product_saved", product(4_000));
    a.sync(&server);
    b.sync(&server); // B pushes (placed after A's), then pulls A's: superseded here.
    assert_eq!(b.price(BUN), 4_000);
    a.sync(&server); // A pulls B's, placed after its own and written without seeing it.
    assert_eq!(
        a.price(BUN),
        4_000,
        "every workstation ends on server order"
    );

    let on_b = conflicts(b.store.conn(), 10).unwrap();
    assert_eq!(on_b.len(), 1);
    assert_eq!(on_b[0].outcome, Outcome::OursStands);
    assert!(on_b[0].winner.ours && !on_b[0].loser.ours);
    assert!(on_b[0].loser.payload.contains("3500"));
    let on_a = conflicts(a.store.conn(), 10).unwrap();
    assert_eq!(on_a.len(), 1);
    assert_eq!(on_a[0].outcome, Outcome::TheirsStands);
    assert!(on_a[0].loser.ours && on_a[0].winner.payload.contains("4000"));

    // An informed edit (its author had pulled the other one) is no conflict.
    b.write("product_saved", product(4_200));
    b.sync(&server);
    a.sync(&server);
    assert_eq!(a.price(BUN), 4_200);
    assert_eq!(conflicts(a.store.conn(), 10).unwrap().len(), 1);
    a.assert_sound();
    b.assert_sound();
}

#[test]
fn an_event_from_a_newer_version_is_kept_and_the_cursor_moves_on() {
    let server = Server::default();
    let mut b = Ws::new();
    let future = WireEvent {
        id: Uuid::now_v7().to_string(),
        origin: "ws-newer".into(),
        origin_seq: 1,
        occurred_at_us: 1,
        actor: "staff:x".into(),
        kind: "book_issued".into(),
        payload: r#"{"copy":"123"}"#.into(),
    };
    server.log.borrow_mut().push((1, 0, future));
    let report = b.sync(&server);
    assert_eq!(report.unreadable, 1);
    assert_eq!(position(b.store.conn()).unwrap().cursor, 1);
    let shown = status(b.store.conn(), b.store.device()).unwrap();
    assert_eq!(shown.set_aside, 1, "the status bar's page says so");
    b.assert_sound();
}

#[test]
fn a_page_that_breaks_the_protocol_changes_nothing() {
    let mut b = Ws::new();
    let page = PullResponse {
        events: vec![PulledEvent {
            global_seq: 9,
            seen_through: 0,
            event: WireEvent {
                id: Uuid::now_v7().to_string(),
                origin: "ws-other".into(),
                origin_seq: 1,
                occurred_at_us: 1,
                actor: "staff:x".into(),
                kind: "balance_topped_up".into(),
                payload: serde_json::json!({"person_id": PUPIL, "amount": 100}).to_string(),
            },
        }],
        cursor: 5,
        more: false,
        balances: vec![],
    };
    assert!(matches!(
        apply_page(&mut b.store, &page),
        Err(SyncError::Protocol(_))
    ));
    assert_eq!(position(b.store.conn()).unwrap().cursor, 0);
    assert_eq!(b.balance(PUPIL), 0, "the whole page rolled back");
}

#[test]
fn backoff_doubles_up_to_the_ceiling_with_jitter() {
    let (base, max) = (Duration::from_secs(1), Duration::from_secs(60));
    assert_eq!(backoff_mid(1, base, max), Duration::from_secs(1));
    assert_eq!(backoff_mid(2, base, max), Duration::from_secs(2));
    assert_eq!(backoff_mid(5, base, max), Duration::from_secs(16));
    assert_eq!(backoff_mid(40, base, max), max);
    assert!(worker::backoff(3, base, max, 0.0) < worker::backoff(3, base, max, 1.0));
}

use std::time::Duration;

fn backoff_mid(failures: u32, base: Duration, max: Duration) -> Duration {
    worker::backoff(failures, base, max, 0.5)
}

/// The server's ledger posts `proto::sync::money_effect` of each event; the balances here
/// come from the projection. Over a jumble of every money kind (repeats, refunds of
/// unknown sales, cancellations twice) the two agree to the kopeck.
#[test]
fn the_servers_money_reading_matches_the_balance_projection() {
    use schoolcard_proto::sync::{money_effect, MoneyEffect};
    let mut ws = Ws::new();
    let pupils = [PUPIL, "01900000-0000-7000-8000-000000000002"];
    let mut sales = vec![];
    let mut orders = vec![];
    for i in 0..60u32 {
        let person = pupils[(i % 2) as usize];
        let (kind, payload) = match i % 7 {
            0 => (
                "balance_topped_up",
                serde_json::json!({"person_id": person, "amount": 10_000 + i}),
            ),
            1 => (
                "balance_corrected",
                serde_json::json!({"person_id": person, "amount": -(i as i64), "reason": "r"}),
            ),
            2 => {
                let id = Uuid::now_v7();
                sales.push((id, person));
                (
                    "sale_made",
                    serde_json::json!({"sale_id": id, "person_id": person, "school_date": "2026-11-27", "lines": [], "total": 700 + i}),
                )
            }
            3 => {
                let (id, person) = if i % 3 == 0 {
                    (Uuid::now_v7(), person)
                } else {
                    sales[sales.len() / 2]
                };
                (
                    "sale_refunded",
                    serde_json::json!({"sale_id": id, "person_id": person, "amount": 700, "reason": "r"}),
                )
            }
            4 => {
                let id = Uuid::now_v7();
                orders.push(id);
                (
                    "pre_order_placed",
                    serde_json::json!({"pre_order_id": id, "person_id": person, "complex_id": BUN, "school_date": "2026-11-28", "price": 9_000}),
                )
            }
            5 => (
                "pre_order_cancelled",
                serde_json::json!({"pre_order_id": orders[0], "reason": "r"}),
            ),
            _ => (
                "sale_made",
                serde_json::json!({"sale_id": sales[0].0, "person_id": sales[0].1, "school_date": "2026-11-27", "lines": [], "total": 1}),
            ),
        };
        ws.write(kind, payload);
    }
    // The server's reading, as its ledger does it.
    let mut entries: BTreeMap<String, (String, i64)> = BTreeMap::new();
    for event in outbox(ws.store.conn(), ws.store.device(), 0, 1_000).unwrap() {
        match money_effect(&event.kind, &event.id, &event.payload).unwrap() {
            Some(MoneyEffect::Post {
                person_id,
                amount,
                reference,
                requires,
            }) => {
                let allowed = requires.is_none_or(|r| entries.contains_key(&r));
                if allowed && !entries.contains_key(&reference) {
                    entries.insert(reference, (person_id, amount));
                }
            }
            Some(MoneyEffect::Reverse { of, reference }) => {
                if let Some((person, amount)) = entries.get(&of).cloned() {
                    entries.entry(reference).or_insert((person, -amount));
                }
            }
            None => {}
        }
    }
    for pupil in pupils {
        let ledger: i64 = entries
            .values()
            .filter(|(p, _)| p == pupil)
            .map(|(_, a)| a)
            .sum();
        assert_eq!(ledger, ws.balance(pupil), "{pupil}");
    }
}

#[test]
fn every_kind_the_server_may_write_is_a_kind_of_the_journal() {
    for kind in schoolcard_proto::sync::SERVER_AUTHORED_KINDS {
        let error = EventBody::from_parts(kind, "{}").unwrap_err().to_string();
        assert!(!error.contains("unknown variant"), "{kind}: {error}");
    }
    assert!(EventBody::from_parts("no_such_kind", "{}")
        .unwrap_err()
        .to_string()
        .contains("unknown variant"));
}
