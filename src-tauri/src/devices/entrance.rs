//! The entrance: a card at an entrance reader goes to the core's gate post for a
//! decision; the gate opens at once when the rules (and the guard, if asked) allow; the
//! pass sensor's report, the guard's answer or a deadline gives the outcome, which the
//! gate post journals.
//!
//! ```text
//! CardRead ─▶ GatePost::present ─▶ allowed, automatic? ─▶ gate.open (own thread)
//!                                │                          └▶ pending[(gate, direction)]
//!                                └▶ "passage" (with the photo) to the window
//! GateEvent (gate, direction) ─▶ pending.pop ─▶ GatePost::outcome ─▶ "passage-outcome"
//! guard_decide ─▶ GatePost::verify / override_denial ─▶ open, or outcome denied
//! health tick ─▶ GatePost::expire (guard checks past their deadline are denied)
//! ```

use super::{lock, wiring, Driver, Shared};
use chrono::Utc;
use schoolcard_core::events::PassOutcome;
use schoolcard_core::gatepost::post::{Presented, AWAITING_EXTERNAL};
use schoolcard_core::peripherals::{Direction, Peripheral, PeripheralId, Post, VerificationMode};
use schoolcard_core::{CardId, CoreError};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::Arc;
use std::thread;
use uuid::Uuid;

/// Name of the event carrying a decided [`Presented`] passage to the window.
pub const PASSAGE_EVENT: &str = "passage";
/// Name of the event carrying a passage's outcome.
pub const PASSAGE_OUTCOME_EVENT: &str = "passage-outcome";
/// Denied passages kept for a guard's override, newest last.
pub const RECENT_DENIALS_KEPT: usize = 20;

/// Whether a card read at `reader` is the gate post's business.
pub fn is_entrance_reader(reader: &Peripheral) -> bool {
    reader.spec.post == Post::Entrance && !reader.spec.connection.is_gate()
}

/// Decides a card at an entrance reader, opens its gate if allowed, tells the window.
pub fn on_card(shared: &Arc<Shared>, reader: &Peripheral, card: &CardId, raw: &str) {
    let Some(post) = &shared.post else { return };
    let now = Utc::now();
    let presented = match lock(post).present(card, raw, reader, now) {
        Ok(presented) => presented,
        Err(e) => {
            tracing::error!(reader = %reader.spec.name, "the gate post failed: {e}");
            return;
        }
    };
    if !presented.decision.allowed && presented.outcome.is_some() {
        remember_denial(shared, &presented);
    }
    if presented.opens_gate() {
        let mut opened = presented.clone();
        open_and_tell(shared, &mut opened);
    } else {
        emit_passage(shared, &presented);
        if presented.awaiting == Some(AWAITING_EXTERNAL) {
            ask_verifier(shared, reader, &presented);
        }
    }
}

/// Asks the reader's external verifier about `presented` on a thread of its own; its
/// answer (or its silence past the deadline) comes back through the gate post.
fn ask_verifier(shared: &Arc<Shared>, reader: &Peripheral, presented: &Presented) {
    let VerificationMode::External {
        url,
        deadline_ms,
        timeout_s,
    } = &reader.spec.verification
    else {
        return;
    };
    let (url, deadline, guard_timeout) = (
        url.clone(),
        std::time::Duration::from_millis(u64::from(*deadline_ms)),
        chrono::Duration::seconds(i64::from(*timeout_s)),
    );
    let question = json!({
        "passage_id": presented.passage_id,
        "at": presented.at,
        "reader": presented.reader.name,
        "direction": presented.direction,
        "card": presented.card,
        "person": presented.person.as_ref().map(|p| json!({
            "id": p.id,
            "full_name": p.full_name,
            "kind": p.kind,
            "class_name": p.class_name,
        })),
        "decision": presented.decision,
    });
    let passage_id = presented.passage_id;
    let shared = Arc::clone(shared);
    let _ = thread::Builder::new()
        .name("external verifier".into())
        .spawn(move || {
            let answer = verifier_answer(&url, &question, deadline);
            if answer.is_none() {
                tracing::warn!(%url, "the external verifier did not answer in time; asking the guard");
            }
            let Some(post) = &shared.post else { return };
            let decided = lock(post).external_answer(passage_id, answer, guard_timeout, Utc::now());
            let Some(mut decided) = decided else { return };
            if decided.opens_gate() {
                open_and_tell(&shared, &mut decided);
            } else {
                emit_passage(&shared, &decided);
            }
        });
}

/// POSTs `question` to the verifier and reads `{"allow": bool}`; `None` for no answer
/// within `deadline`, an error, or an answer without a verdict.
fn verifier_answer(url: &str, question: &Value, deadline: std::time::Duration) -> Option<bool> {
    let agent = ureq::AgentBuilder::new().timeout(deadline).build();
    let reply: Value = agent
        .post(url)
        .send_json(question.clone())
        .ok()?
        .into_json()
        .ok()?;
    reply.get("allow")?.as_bool()
}

/// The guard's answer: `allow` lets an awaiting passage through (an override when the
/// rules denied it) or overrides a recent denial; otherwise the passage is denied.
pub fn guard_decide(
    shared: &Arc<Shared>,
    passage_id: Uuid,
    allow: bool,
) -> Result<Presented, CoreError> {
    let post = shared
        .post
        .as_ref()
        .ok_or_else(|| CoreError::not_found("the gate post"))?;
    let now = Utc::now();
    let awaiting = lock(post).pending(passage_id).is_some();
    let mut presented = if awaiting {
        lock(post).verify(passage_id, allow, now)?
    } else if allow {
        let denied = lock(&shared.recent_denials)
            .iter()
            .find(|p| p.passage_id == passage_id)
            .cloned()
            .ok_or_else(|| CoreError::not_found(format!("passage {passage_id}")))?;
        let reader = lock(&shared.routes)
            .by_id
            .get(&denied.reader.device_id.to_string())
            .cloned()
            .ok_or_else(|| CoreError::not_found("the passage's reader"))?;
        lock(post).override_denial(&denied, &reader, now)?
    } else {
        return Err(CoreError::not_found(format!("passage {passage_id}")));
    };
    if presented.outcome.is_some() {
        emit_outcome(shared, &presented);
        return Ok(presented);
    }
    open_and_tell(shared, &mut presented);
    Ok(presented)
}

/// A person let through by the guard without a card, through `reader_id`'s gate, with
/// the guard's note (a forgotten card).
pub fn without_card(
    shared: &Arc<Shared>,
    person_id: schoolcard_core::domain::PersonId,
    reader_id: PeripheralId,
    note: &str,
) -> Result<Presented, CoreError> {
    let post = shared
        .post
        .as_ref()
        .ok_or_else(|| CoreError::not_found("the gate post"))?;
    let reader = lock(&shared.routes)
        .by_id
        .get(&reader_id.to_string())
        .cloned()
        .filter(is_entrance_reader)
        .ok_or_else(|| CoreError::not_found(format!("entrance reader {reader_id}")))?;
    let mut presented = lock(post).present_without_card(person_id, &reader, note, Utc::now())?;
    if presented.outcome.is_some() {
        emit_passage(shared, &presented);
        return Ok(presented);
    }
    open_and_tell(shared, &mut presented);
    Ok(presented)
}

/// What a gate's pass sensor reported: the oldest passage waiting at that gate and
/// direction gets it.
pub fn on_gate_event(shared: &Shared, gate: PeripheralId, direction: Direction, passed: bool) {
    let Some(post) = &shared.post else { return };
    let Some(passage_id) = lock(&shared.gate_waits)
        .get_mut(&(gate, direction))
        .and_then(VecDeque::pop_front)
    else {
        return;
    };
    let outcome = if passed {
        PassOutcome::Passed
    } else {
        PassOutcome::NoPass
    };
    if let Some(done) = lock(post).outcome(passage_id, outcome, Utc::now()) {
        emit_outcome(shared, &done);
    }
}

/// Guard checks past their deadline are denied.
pub fn expire(shared: &Shared) {
    let Some(post) = &shared.post else { return };
    let expired = lock(post).expire(Utc::now());
    for presented in expired {
        emit_outcome(shared, &presented);
    }
}

/// Opens the passage's gate and tells the window: the passage, and its outcome when it is
/// already known (no gate, an emergency).
fn open_and_tell(shared: &Arc<Shared>, presented: &mut Presented) {
    let outcome = open_for(shared, presented);
    emit_passage(shared, presented);
    if let Some(outcome) = outcome {
        emit_outcome(shared, &outcome);
    }
}

/// Opens the passage's gate; returns the finished passage when there is nothing to wait
/// for (no gate: the reader stands at a door without a turnstile, the tap is the pass; an
/// emergency: the gates stand open and no sensor reports).
fn open_for(shared: &Arc<Shared>, presented: &mut Presented) -> Option<Presented> {
    let post = shared.post.as_ref()?;
    let direction = presented.direction;
    let emergency = shared.emergency.load(std::sync::atomic::Ordering::SeqCst);
    let gate = presented.gate_id.and_then(|gate_id| {
        lock(&shared.fleet)
            .devices
            .iter()
            .find(|r| r.peripheral.id == gate_id)
            .and_then(|r| match &r.driver {
                Driver::Gate(run) => run.opener.clone().map(|opener| (gate_id, opener)),
                _ => None,
            })
    });
    let finish_now = |outcome| lock(post).outcome(presented.passage_id, outcome, Utc::now());
    match (gate, presented.gate_id, emergency) {
        (_, _, true) => finish_now(PassOutcome::NoPass),
        (None, None, false) => finish_now(PassOutcome::Passed),
        (None, Some(_), false) => {
            tracing::warn!("the passage's gate is not running; nobody can pass");
            finish_now(PassOutcome::NoPass)
        }
        (Some((gate_id, opener)), _, false) => {
            lock(&shared.gate_waits)
                .entry((gate_id, direction))
                .or_default()
                .push_back(presented.passage_id);
            // The gate's own thread opens it: a relay pulse holds its caller.
            if opener.send(wiring::gate_direction(direction)).is_err() {
                tracing::error!("the gate's opener has stopped; nobody can pass");
            }
            None
        }
    }
}

fn remember_denial(shared: &Shared, presented: &Presented) {
    let mut recent = lock(&shared.recent_denials);
    recent.push_back(presented.clone());
    while recent.len() > RECENT_DENIALS_KEPT {
        recent.pop_front();
    }
}

fn passage_json(shared: &Shared, presented: &Presented) -> Value {
    let mut value = serde_json::to_value(presented).expect("passages serialize");
    let photo = presented
        .person
        .as_ref()
        .and_then(|p| p.photo_sha256.as_deref())
        .and_then(|sha| {
            shared
                .post
                .as_ref()
                .and_then(|post| lock(post).photo_data_url(sha).ok().flatten())
        });
    if let Some(person) = value.get_mut("person").filter(|p| p.is_object()) {
        person["photo"] = json!(photo);
    }
    value
}

fn emit_passage(shared: &Shared, presented: &Presented) {
    (shared.emit)(PASSAGE_EVENT, passage_json(shared, presented));
}

fn emit_outcome(shared: &Shared, presented: &Presented) {
    (shared.emit)(
        PASSAGE_OUTCOME_EVENT,
        json!({
            "passage_id": presented.passage_id,
            "outcome": presented.outcome,
            "verified_by": presented.verified_by,
        }),
    );
}
