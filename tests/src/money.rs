//! A school's events in bulk for the sync tests and the bench (and the bench's seeded
//! choices): passages at the gate and
//! money (top-ups, sales, refunds of a till's own sales) for a set of pupils, with what
//! they do to each balance, so the tests can hold every balance against a plain model.

use schoolcard_core::events::EventBody;
use schoolcard_core::Store;
use serde_json::json;
use std::collections::BTreeMap;
use uuid::Uuid;

/// SplitMix64: the same choices every run.
pub struct Choices(pub u64);

impl Choices {
    pub fn draw(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.draw() % n
    }

    /// One of `items`, which must not be empty.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

pub fn pupil(n: u64) -> String {
    format!("01930000-0000-7000-8000-{n:012}")
}

/// Writes `count` events for `pupils` pupils in commits of 500 and adds what they do to
/// each balance into `model`: `passages_percent` % passages through the gate, the rest
/// money — top-ups, sales, and refunds of this till's own sales.
pub fn write_events(
    store: &mut Store,
    count: usize,
    pupils: u64,
    passages_percent: u64,
    choices: &mut Choices,
    model: &mut BTreeMap<String, i64>,
) {
    let mut sales: Vec<(Uuid, String, i64)> = vec![];
    let mut written = 0;
    while written < count {
        let chunk = (count - written).min(500);
        let mut bodies = Vec::with_capacity(chunk);
        for _ in 0..chunk {
            let person = pupil(choices.below(pupils));
            if choices.below(100) < passages_percent {
                bodies.push(passage(&person, choices.below(2) == 0));
                continue;
            }
            let (kind, payload, delta) = match choices.below(10) {
                0 | 1 => {
                    let amount = 10_000 + choices.below(5_000) as i64;
                    let payload = json!({"person_id": person, "amount": amount});
                    ("balance_topped_up", payload, amount)
                }
                2 if !sales.is_empty() => {
                    let (sale_id, person, total) =
                        sales.swap_remove(choices.below(sales.len() as u64) as usize);
                    let payload = json!({"sale_id": sale_id, "person_id": person,
                                         "amount": total, "reason": "возврат"});
                    *model.entry(person).or_default() += total;
                    ("sale_refunded", payload, 0)
                }
                _ => {
                    let sale_id = Uuid::now_v7();
                    let total = 1_500 + choices.below(6_000) as i64;
                    sales.push((sale_id, person.clone(), total));
                    let payload = json!({"sale_id": sale_id, "person_id": person,
                                         "school_date": "2026-11-27", "lines": [], "total": total});
                    ("sale_made", payload, -total)
                }
            };
            if delta != 0 {
                *model.entry(person).or_default() += delta;
            }
            bodies.push(EventBody::from_parts(kind, &payload.to_string()).unwrap());
        }
        store
            .write(|w| {
                for body in bodies {
                    w.append("staff:till", chrono::Utc::now(), body)?;
                }
                Ok::<_, schoolcard_core::error::StoreError>(())
            })
            .unwrap();
        written += chunk;
    }
}

/// A pupil through the turnstile, in or out.
fn passage(person: &str, entry: bool) -> EventBody {
    let payload = json!({
        "passage_id": Uuid::now_v7(), "person_id": person,
        "direction": if entry { "entry" } else { "exit" },
        "school_date": "2026-11-27", "decided_at": "2026-11-27T05:01:02Z",
        "allowed": true, "reason": "allowed", "verified_by": "automatic", "outcome": "passed",
    });
    EventBody::from_parts("passage", &payload.to_string()).expect("a passage")
}

/// `hh:mm` on `day` in Moscow (UTC+3, no daylight saving), as an instant: the wall clock
/// of the generated schools the benches play.
pub fn moscow(day: chrono::NaiveDate, hh: u32, mm: u32) -> chrono::DateTime<chrono::Utc> {
    use chrono::TimeZone;
    chrono::FixedOffset::east_opt(3 * 3600)
        .expect("a valid offset")
        .from_local_datetime(&day.and_hms_opt(hh, mm, 0).expect("a valid time"))
        .single()
        .expect("no gap in Moscow")
        .with_timezone(&chrono::Utc)
}

/// A pupil through the turnstile at `when` on `day`, let in by the rules and confirmed by
/// the gate's sensor: the passage the benches' generated months are made of.
pub fn confirmed_passage(
    person: &str,
    day: chrono::NaiveDate,
    when: chrono::DateTime<chrono::Utc>,
    direction: schoolcard_core::peripherals::Direction,
) -> EventBody {
    use schoolcard_core::events::{PassOutcome, Verification};
    EventBody::Passage {
        passage_id: Uuid::now_v7(),
        card: None,
        raw: String::new(),
        person_id: Some(person.parse().expect("a person id")),
        reader_id: None,
        gate_id: None,
        direction,
        school_date: day,
        decided_at: when,
        allowed: true,
        reason: "allowed".into(),
        flags: Vec::new(),
        verified_by: Verification::Automatic,
        outcome: PassOutcome::Passed,
        note: String::new(),
    }
}
