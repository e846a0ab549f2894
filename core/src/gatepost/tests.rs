use super::queue::*;
use crate::events::{EventBody, PassOutcome, Verification};
use crate::peripherals::Direction;
use crate::store::Store;
use chrono::{NaiveDate, TimeZone, Utc};
use std::time::{Duration, Instant};

/// Longest a test waits for the writer, in milliseconds.
const FLUSH_WAIT_MS: u64 = 20_000;

fn passage(n: u32) -> EventBody {
    EventBody::Passage {
        passage_id: uuid::Uuid::now_v7(),
        card: None,
        raw: format!("tap {n}"),
        person_id: Some(crate::domain::PersonId::new_v7()),
        reader_id: None,
        gate_id: None,
        direction: Direction::Entry,
        school_date: NaiveDate::from_ymd_opt(2026, 9, 1).unwrap(),
        decided_at: Utc.with_ymd_and_hms(2026, 9, 1, 5, 0, 0).unwrap(),
        allowed: true,
        reason: "allowed".into(),
        flags: Vec::new(),
        verified_by: Verification::Automatic,
        outcome: PassOutcome::Passed,
        note: String::new(),
    }
}

/// An entrance reader without a gate, deciding by itself.
fn entry_reader(at: chrono::DateTime<Utc>) -> crate::peripherals::Peripheral {
    use crate::peripherals::{
        Connection, LineFormatName, Peripheral, PeripheralId, PeripheralSpec, Post,
        VerificationMode,
    };
    Peripheral {
        id: PeripheralId::new_v7(),
        spec: PeripheralSpec {
            name: "Вход".into(),
            post: Post::Entrance,
            direction: Some(Direction::Entry),
            enabled: true,
            connection: Connection::SerialReader {
                port: "/dev/ttyUSB0".into(),
                format: LineFormatName::IronLogicZ2,
                pattern: None,
                baud_rate: 9_600,
            },
            gate_id: None,
            verification: VerificationMode::Automatic,
        },
        updated_at: at,
    }
}

fn count(store: &Store, sql: &str) -> i64 {
    store.conn().query_row(sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn a_rush_is_written_in_few_transactions_and_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ws.sqlite");
    let reader = Store::open(&path).unwrap();
    let queue = JournalQueue::start(&path).unwrap();
    const EVENTS: u32 = 3_000;
    let at = Utc.with_ymd_and_hms(2026, 9, 1, 5, 0, 0).unwrap();
    for n in 0..EVENTS {
        queue.append("device:gate", at, passage(n));
    }
    assert!(queue.flush(Duration::from_millis(FLUSH_WAIT_MS)));
    let stats = queue.stats();
    assert_eq!(stats.written, u64::from(EVENTS));
    assert!(
        stats.batches < u64::from(EVENTS) / 10,
        "{} transactions for {EVENTS} events: no group commit",
        stats.batches
    );
    assert_eq!(
        count(&reader, "SELECT count(*) FROM passages"),
        i64::from(EVENTS)
    );
    assert_eq!(
        count(&reader, "SELECT count(*) FROM presence WHERE inside = 1"),
        i64::from(EVENTS)
    );
    assert!(crate::journal::verify(reader.conn()).unwrap().is_intact());
}

#[test]
fn passages_wait_out_another_writer_and_arrive_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ws.sqlite");
    let mut other = Store::open(&path).unwrap();
    let queue = JournalQueue::start(&path).unwrap();
    let at = Utc.with_ymd_and_hms(2026, 9, 1, 5, 0, 0).unwrap();
    // Another writer holds the database (a long import, say) for a while.
    let held = std::thread::scope(|scope| {
        let (locked_tx, locked_rx) = std::sync::mpsc::channel();
        let holder = scope.spawn(move || {
            other
                .write(|w| {
                    locked_tx.send(()).unwrap();
                    std::thread::sleep(Duration::from_millis(400));
                    let _ = w.conn();
                    Ok::<(), crate::error::StoreError>(())
                })
                .unwrap();
            other
        });
        locked_rx.recv().unwrap();
        let started = Instant::now();
        for n in 0..10 {
            queue.append("device:gate", at, passage(n));
        }
        // `append` does not wait for the lock.
        assert!(started.elapsed() < Duration::from_millis(100));
        holder.join().unwrap()
    });
    assert!(queue.flush(Duration::from_millis(FLUSH_WAIT_MS)));
    assert_eq!(count(&held, "SELECT count(*) FROM passages"), 10);
    let raws: Vec<String> = {
        let mut statement = held
            .conn()
            .prepare("SELECT raw FROM passages ORDER BY rowid")
            .unwrap();
        let rows = statement.query_map([], |r| r.get(0)).unwrap();
        rows.collect::<Result<_, _>>().unwrap()
    };
    let expected: Vec<String> = (0..10).map(|n| format!("tap {n}")).collect();
    assert_eq!(raws, expected);
}

#[test]
fn dropping_the_queue_writes_what_is_queued() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ws.sqlite");
    let at = Utc.with_ymd_and_hms(2026, 9, 1, 5, 0, 0).unwrap();
    {
        let queue = JournalQueue::start(&path).unwrap();
        for n in 0..100 {
            queue.append("device:gate", at, passage(n));
        }
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(count(&store, "SELECT count(*) FROM passages"), 100);
}

/// The post finds a card's holder however the card was enrolled: by the number as read,
/// by the Wiegand-26 pair printed on it when the reader gives the full number, and knows
/// a card given back as nobody's.
#[test]
fn a_card_is_found_in_every_form_it_was_enrolled_in() {
    use super::post::GatePost;
    use crate::domain::{CardState, FullName, PersonId, PersonKind};
    use schoolcard_proto::CardId;
    use std::sync::Arc;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cards.sqlite");
    let mut store = Store::open(&path).unwrap();
    let at = Utc.with_ymd_and_hms(2026, 9, 15, 5, 0, 0).unwrap();
    let full = CardId::em_marine(0x5500, 126, 58_404);
    let (pair_facility, pair_number) = (7, 4_242);
    let by_pair_read_full = CardId::em_marine(0x5500, pair_facility, pair_number);
    let returned = CardId::em_marine(0x5500, 3, 1_000);
    let (exact, by_pair) = (PersonId::new_v7(), PersonId::new_v7());
    store
        .write(|w| {
            for (person, surname) in [(exact, "Точный"), (by_pair, "Парный")] {
                w.append(
                    "test",
                    at,
                    EventBody::PersonEnrolled {
                        person_id: person,
                        person_kind: PersonKind::Pupil,
                        name: FullName {
                            surname: surname.into(),
                            name: "Иван".into(),
                            patronymic: String::new(),
                        },
                        class_id: None,
                        details: Default::default(),
                    },
                )?;
            }
            for (card, person) in [
                (full, exact),
                (CardId::wiegand26(pair_facility, pair_number), by_pair),
                (returned, exact),
            ] {
                w.append(
                    "test",
                    at,
                    EventBody::CardBound {
                        card,
                        person_id: person,
                        raw: String::new(),
                    },
                )?;
            }
            w.append(
                "test",
                at,
                EventBody::CardStateChanged {
                    card: returned,
                    state: CardState::Returned,
                    reason: String::new(),
                },
            )?;
            Ok::<(), crate::error::StoreError>(())
        })
        .unwrap();
    let queue = Arc::new(JournalQueue::start(&path).unwrap());
    let mut post = GatePost::open(&path, Arc::clone(&queue), at).unwrap();
    let reader = entry_reader(at);
    let found = |post: &mut GatePost, card: CardId| {
        let presented = post.present(&card, "", &reader, at).unwrap();
        (presented.card_state, presented.person.map(|p| p.id))
    };
    assert_eq!(
        found(&mut post, full),
        (Some(CardState::Active), Some(exact))
    );
    assert_eq!(
        found(&mut post, by_pair_read_full),
        (Some(CardState::Active), Some(by_pair))
    );
    assert_eq!(
        found(&mut post, returned),
        (Some(CardState::Returned), None)
    );
    assert_eq!(
        found(&mut post, CardId::em_marine(0x5500, 9, 9)),
        (None, None)
    );
}

#[test]
fn the_writer_checkpoints_when_the_gates_are_quiet_not_in_the_rush() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ws.sqlite");
    // A long change log (an import of the whole school, say), trimmed in the same quiet
    // moment down to what a post could still need.
    let office = Store::open(&path).unwrap();
    office
        .conn()
        .execute_batch(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 12000)
             INSERT INTO holder_changes (person_id) SELECT 'p' || i FROM n",
        )
        .unwrap();
    let queue = JournalQueue::start(&path).unwrap();
    let at = Utc.with_ymd_and_hms(2026, 9, 1, 5, 0, 0).unwrap();
    for n in 0..1_500 {
        queue.append("device:gate", at, passage(n));
    }
    assert!(queue.flush(Duration::from_millis(FLUSH_WAIT_MS)));
    // 1,500 passages are well over SQLite's default 1,000 WAL pages, where a commit would
    // have checkpointed in the middle of the rush; the writer does it in the quiet moment
    // after it (its stats count only those).
    assert_eq!(queue.stats().checkpoints, 0);
    let deadline = Instant::now() + Duration::from_millis(FLUSH_WAIT_MS);
    while queue.stats().checkpoints == 0 {
        assert!(Instant::now() < deadline, "no checkpoint when idle");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        count(&office, "SELECT count(*) FROM holder_changes"),
        super::holders::CHANGES_KEPT
    );
    assert_eq!(
        count(
            &office,
            "SELECT count(*) FROM holder_changes WHERE seq = 12000"
        ),
        1,
        "the newest change is kept"
    );
    // Nothing written since: no second checkpoint.
    std::thread::sleep(Duration::from_millis(3 * super::queue::IDLE_POLL_MS));
    assert_eq!(queue.stats().checkpoints, 1);
}

/// The post decides from memory; whatever another connection changes about cards and
/// people after it opened is seen from the very next card, one change at a time or (a
/// class renamed, a log pruned past what the post had seen) by reading everything again.
#[test]
fn the_post_sees_what_another_writer_changed_after_it_opened() {
    use super::post::GatePost;
    use crate::access::Reason;
    use crate::domain::{CardState, ClassId, FullName, PersonId, PersonKind, PersonStatus};
    use schoolcard_proto::CardId;
    use std::sync::Arc;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("changes.sqlite");
    let mut office = Store::open(&path).unwrap();
    // 07:45 in Moscow on Tuesday 15 September 2026: pupils may come in.
    let at = Utc.with_ymd_and_hms(2026, 9, 15, 4, 45, 0).unwrap();
    let write = |office: &mut Store, body: EventBody| {
        office
            .write(|w| w.append("test", at, body).map(|_| ()))
            .unwrap();
    };
    let class_id = ClassId::new_v7();
    write(
        &mut office,
        EventBody::ClassCreated {
            class_id,
            grade: 5,
            letter: "А".into(),
        },
    );
    let enrol = |office: &mut Store, person_id: PersonId, card: CardId, surname: &str| {
        write(
            office,
            EventBody::PersonEnrolled {
                person_id,
                person_kind: PersonKind::Pupil,
                name: FullName {
                    surname: surname.into(),
                    name: "Ольга".into(),
                    patronymic: String::new(),
                },
                class_id: Some(class_id),
                details: Default::default(),
            },
        );
        write(
            office,
            EventBody::CardBound {
                card,
                person_id,
                raw: String::new(),
            },
        );
    };
    let (first, first_card) = (PersonId::new_v7(), CardId::em_marine(0x5500, 1, 1));
    enrol(&mut office, first, first_card, "Первая");
    let queue = Arc::new(JournalQueue::start(&path).unwrap());
    let mut post = GatePost::open(&path, Arc::clone(&queue), at).unwrap();
    let reader = entry_reader(at);
    let mut present = |card: CardId| {
        let presented = post.present(&card, "", &reader, at).unwrap();
        (
            presented.decision.reason,
            presented.person.map(|p| (p.full_name, p.class_name)),
        )
    };
    let first_seen = Some(("Первая Ольга".to_owned(), Some("5А".to_owned())));
    assert_eq!(present(first_card), (Reason::Allowed, first_seen.clone()));

    // A pupil enrolled, with a card, after the post opened.
    let (second, second_card) = (PersonId::new_v7(), CardId::em_marine(0x5500, 2, 2));
    enrol(&mut office, second, second_card, "Вторая");
    assert_eq!(
        present(second_card).1,
        Some(("Вторая Ольга".to_owned(), Some("5А".to_owned())))
    );
    // The first card blocked, the second pupil gone: refused at once.
    write(
        &mut office,
        EventBody::CardStateChanged {
            card: first_card,
            state: CardState::Blocked,
            reason: "потеряна".into(),
        },
    );
    write(
        &mut office,
        EventBody::PersonStatusChanged {
            person_id: second,
            status: PersonStatus::Left,
            reason: String::new(),
        },
    );
    assert_eq!(present(first_card).0, Reason::CardBlocked);
    assert_ne!(present(second_card).0, Reason::Allowed);

    // A class renamed: every pupil of it is read again.
    write(
        &mut office,
        EventBody::ClassRenamed {
            class_id,
            grade: 6,
            letter: "Б".into(),
        },
    );
    let third_card = CardId::em_marine(0x5500, 3, 3);
    write(
        &mut office,
        EventBody::CardBound {
            card: third_card,
            person_id: first,
            raw: String::new(),
        },
    );
    assert_eq!(
        present(third_card),
        (
            Reason::Allowed,
            Some(("Первая Ольга".to_owned(), Some("6Б".to_owned())))
        )
    );

    // The log pruned past what the post has seen (it lagged behind an import): the post
    // notices the gap and reads everything again.
    write(
        &mut office,
        EventBody::CardStateChanged {
            card: third_card,
            state: CardState::Blocked,
            reason: String::new(),
        },
    );
    office
        .conn()
        .execute(
            "DELETE FROM holder_changes WHERE seq < (SELECT max(seq) FROM holder_changes)",
            [],
        )
        .unwrap();
    assert_eq!(present(third_card).0, Reason::CardBlocked);
}
