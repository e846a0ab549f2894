//! [`GatePost`]: one card at one entrance reader, from the number to the journal.
//!
//! ```text
//! present(card, reader, now) ── card → holder (projections, read connection)
//!                              ── last pass (memory, seeded from `presence`)
//!                              ── access::decide(rules, tz, request)
//!                              ▶ Presented { passage_id, decision, awaiting? }
//! caller: opens the gate (allowed, automatic) or asks the guard (awaiting)
//! verify(passage_id, allow)   ── the guard's answer (an override re-decides)
//! outcome(passage_id, passed | no_pass | denied) ──▶ JournalQueue (Passage event)
//! ```
//!
//! The decision needs only reads; the passage is written when its outcome is known,
//! through the gates' own journal writer, so neither a tap nor a gate ever waits for a
//! write. A pass counts (presence, attendance) only with outcome `passed`.

use super::holders::{read_person, Holders, IndexedCard};
use super::queue::JournalQueue;
use crate::access::{decide, AccessRules, Decision, Holder, LastPass, PassRequest, ZoneId};
use crate::domain::{CardState, PersonId, PersonKind, PersonStatus};
use crate::error::{CoreError, CoreResult, Refusal};
use crate::events::{EventBody, PassOutcome, Verification};
use crate::peripherals::{Direction, Peripheral, PeripheralId, VerificationMode};
use crate::store::Store;
use crate::time::{from_micros, SchoolTz};
use chrono::{DateTime, Duration, Utc};
use rusqlite::OptionalExtension;
use schoolcard_proto::CardId;
use serde::Serialize;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use uuid::Uuid;

/// Decided passages waiting for their outcome, at most. A gate reports within seconds;
/// a passage still pending after this many newer ones belongs to a gate that never
/// reported, and is written as `no_pass` to make room.
pub const PENDING_PASSAGES_MAX: usize = 1_000;

/// `Presented::awaiting` while the guard is to answer.
pub const AWAITING_GUARD: &str = "guard";
/// `Presented::awaiting` while an external verifier is asked.
pub const AWAITING_EXTERNAL: &str = "external";

/// Why a visitor's card became free again, in the journal.
pub const VISITOR_CARD_BACK_REASON: &str = "visitor card handed back at the exit";

/// The holder of a presented card, as the guard sees them.
#[derive(Debug, Clone, Serialize)]
pub struct PersonView {
    pub id: PersonId,
    pub full_name: String,
    pub kind: PersonKind,
    pub class_name: Option<String>,
    pub position: Option<String>,
    pub status: PersonStatus,
    /// The photo's address in the photo store (the shell turns it into a picture).
    #[serde(skip)]
    pub photo_sha256: Option<String>,
}

/// The reader a card was presented at.
#[derive(Debug, Clone, Serialize)]
pub struct ReaderView {
    pub device_id: PeripheralId,
    pub name: String,
    pub direction: Option<Direction>,
    pub post: crate::peripherals::Post,
}

/// A card decided at a reader.
#[derive(Debug, Clone, Serialize)]
pub struct Presented {
    pub passage_id: Uuid,
    pub at: DateTime<Utc>,
    pub reader: ReaderView,
    pub gate_id: Option<PeripheralId>,
    pub card: Option<String>,
    pub raw: String,
    pub card_state: Option<CardState>,
    pub person: Option<PersonView>,
    pub decision: Decision,
    /// `guard` while the guard is to answer.
    pub awaiting: Option<&'static str>,
    /// When an unanswered guard check is denied.
    pub deadline: Option<DateTime<Utc>>,
    pub verified_by: Option<Verification>,
    pub outcome: Option<PassOutcome>,
    /// The direction the passage goes (the reader's, entry for a reader without one).
    pub direction: Direction,
    /// The guard's words for a passage without a card («забыл карту»); empty otherwise.
    pub note: String,
}

impl Presented {
    /// A fresh passage at `reader` with `decision`: no card, nobody asked, no outcome yet.
    fn at_reader(
        reader: &Peripheral,
        direction: Direction,
        decision: Decision,
        now: DateTime<Utc>,
    ) -> Presented {
        Presented {
            passage_id: Uuid::now_v7(),
            at: now,
            reader: ReaderView {
                device_id: reader.id,
                name: reader.spec.name.clone(),
                direction: reader.spec.direction,
                post: reader.spec.post,
            },
            gate_id: reader.spec.gate_id,
            card: None,
            raw: String::new(),
            card_state: None,
            person: None,
            decision,
            awaiting: None,
            deadline: None,
            verified_by: None,
            outcome: None,
            direction,
            note: String::new(),
        }
    }

    /// Whether the gate should open now: allowed, and nobody is still to answer.
    pub fn opens_gate(&self) -> bool {
        self.decision.allowed && self.awaiting.is_none() && self.outcome.is_none()
    }
}

/// The decision service of one workstation's entrance.
pub struct GatePost {
    store: Store,
    journal: Arc<JournalQueue>,
    rules: AccessRules,
    tz: SchoolTz,
    zone: ZoneId,
    pending: HashMap<Uuid, Presented>,
    /// Order of `pending`, oldest first, for the bound.
    pending_order: std::collections::VecDeque<Uuid>,
    last_pass: HashMap<PersonId, LastPass>,
    /// Cards and cardholders in memory, kept current from `holder_changes`.
    holders: Holders,
}

impl GatePost {
    /// Opens its own read connection to the database at `path`; passages go to `journal`.
    pub fn open(path: &Path, journal: Arc<JournalQueue>, now: DateTime<Utc>) -> CoreResult<Self> {
        let store = Store::open(path)?;
        let mut post = GatePost {
            store,
            journal,
            rules: AccessRules::russian_default(crate::time::school_year_start(
                crate::time::DEFAULT_TZ
                    .parse()
                    .expect("the default zone is valid"),
                now,
            )),
            tz: crate::time::DEFAULT_TZ
                .parse()
                .expect("the default zone is valid"),
            zone: ZoneId::main(),
            pending: HashMap::new(),
            pending_order: std::collections::VecDeque::new(),
            last_pass: HashMap::new(),
            holders: Holders::default(),
        };
        post.reload(now)?;
        Ok(post)
    }

    /// Reads the school's time zone, the access rules and who is where again (after a
    /// settings change; at start).
    pub fn reload(&mut self, now: DateTime<Utc>) -> CoreResult<()> {
        let conn = self.store.conn();
        self.holders = Holders::load(conn)?;
        let tz: Option<String> = conn
            .query_row("SELECT time_zone FROM school", [], |r| r.get(0))
            .optional()?;
        if let Some(tz) = tz.and_then(|tz| tz.parse::<SchoolTz>().ok()) {
            self.tz = tz;
        }
        self.rules = crate::workstation::stored_access_rules(conn)?.unwrap_or_else(|| {
            AccessRules::russian_default(crate::time::school_year_start(self.tz, now))
        });
        let mut statement = conn.prepare("SELECT person_id, inside, at_us FROM presence")?;
        let rows = statement.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, bool>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        self.last_pass.clear();
        for row in rows {
            let (person, inside, at_us) = row?;
            if let Ok(person) = person.parse() {
                self.last_pass.insert(
                    person,
                    LastPass {
                        direction: if inside {
                            Direction::Entry
                        } else {
                            Direction::Exit
                        },
                        at: from_micros(at_us),
                        zone: self.zone.clone(),
                    },
                );
            }
        }
        Ok(())
    }

    pub fn journal(&self) -> &Arc<JournalQueue> {
        &self.journal
    }

    /// Decides `card` presented at `reader`. A denial is final and written at once; an
    /// allowed card waits for the gate ([`GatePost::outcome`]) or the guard
    /// ([`GatePost::verify`]).
    pub fn present(
        &mut self,
        card: &CardId,
        raw: &str,
        reader: &Peripheral,
        now: DateTime<Utc>,
    ) -> CoreResult<Presented> {
        self.holders.catch_up(self.store.conn())?;
        let found = self.lookup(card)?;
        let direction = reader.spec.direction.unwrap_or(Direction::Entry);
        let (card_state, person, holder) = match found {
            Some((state, person, holder)) => (Some(state), person, holder),
            None => (None, None, None),
        };
        let request = PassRequest {
            card: card_state,
            holder,
            direction,
            zone: self.zone.clone(),
            at: now,
            last_pass: person
                .as_ref()
                .and_then(|p| self.last_pass.get(&p.id).cloned()),
            guard_override: false,
        };
        let decision = decide(&self.rules, self.tz, &request);
        // The guard is asked about a card the rules allow, or deny for a reason they may
        // set aside; a blocked card or an unknown one is refused without asking.
        let askable = decision.allowed || decision.reason.is_overridable();
        let (awaiting, wait) = match &reader.spec.verification {
            VerificationMode::Guard { timeout_s } if person.is_some() && askable => (
                Some(AWAITING_GUARD),
                Some(Duration::seconds(i64::from(*timeout_s))),
            ),
            // A verifier confirms who it is; a denial by the rules is not its to lift.
            VerificationMode::External { deadline_ms, .. }
                if person.is_some() && decision.allowed =>
            {
                (
                    Some(AWAITING_EXTERNAL),
                    Some(Duration::milliseconds(i64::from(*deadline_ms))),
                )
            }
            _ => (None, None),
        };
        let presented = Presented {
            card: Some(card.to_string()),
            raw: raw.to_owned(),
            card_state,
            person,
            awaiting,
            deadline: wait.map(|wait| now + wait),
            verified_by: awaiting.is_none().then_some(Verification::Automatic),
            ..Presented::at_reader(reader, direction, decision, now)
        };
        Ok(self.settle(presented, now))
    }

    /// The guard's answer to a passage awaiting them: `allow` lets it through (an
    /// override when the rules denied it, for overridable reasons only), otherwise it is
    /// denied and written.
    pub fn verify(
        &mut self,
        passage_id: Uuid,
        allow: bool,
        now: DateTime<Utc>,
    ) -> CoreResult<Presented> {
        let mut presented = self
            .pending
            .get(&passage_id)
            .cloned()
            .ok_or_else(|| CoreError::not_found(format!("passage {passage_id}")))?;
        if !allow {
            presented.verified_by = Some(Verification::Guard);
            presented.awaiting = None;
            self.forget(passage_id);
            self.finish(&mut presented, PassOutcome::Denied, now);
            return Ok(presented);
        }
        if !presented.decision.allowed {
            if !presented.decision.reason.is_overridable() {
                return Err(CoreError::conflict(
                    Refusal::NotOverridable,
                    format!(
                        "{} cannot be overridden",
                        presented.decision.reason.as_str()
                    ),
                )
                .with("reason", presented.decision.reason.as_str()));
            }
            presented.decision = self.redecide_with_override(&presented);
            presented.verified_by = Some(Verification::Override);
        } else {
            presented.verified_by = Some(Verification::Guard);
        }
        presented.awaiting = None;
        presented.deadline = None;
        self.pending.insert(passage_id, presented.clone());
        Ok(presented)
    }

    /// Lets a denied passage through on the guard's word, for overridable reasons: a
    /// passage already written as denied becomes a new passage, allowed by override.
    pub fn override_denial(
        &mut self,
        denied: &Presented,
        reader: &Peripheral,
        now: DateTime<Utc>,
    ) -> CoreResult<Presented> {
        if denied.decision.allowed || !denied.decision.reason.is_overridable() {
            return Err(CoreError::conflict(
                Refusal::NotOverridable,
                format!("{} cannot be overridden", denied.decision.reason.as_str()),
            )
            .with("reason", denied.decision.reason.as_str()));
        }
        let mut again = denied.clone();
        again.passage_id = Uuid::now_v7();
        again.at = now;
        again.decision = self.redecide_with_override(denied);
        again.verified_by = Some(Verification::Override);
        again.awaiting = None;
        again.deadline = None;
        again.outcome = None;
        again.gate_id = reader.spec.gate_id;
        self.remember(again.clone(), now);
        Ok(again)
    }

    fn redecide_with_override(&self, presented: &Presented) -> Decision {
        let holder = presented
            .person
            .as_ref()
            .and_then(|p| self.lookup_person(p.id).ok().flatten());
        let request = PassRequest {
            card: presented.card_state,
            holder,
            direction: presented.direction,
            zone: self.zone.clone(),
            at: presented.at,
            last_pass: presented
                .person
                .as_ref()
                .and_then(|p| self.last_pass.get(&p.id).cloned()),
            guard_override: true,
        };
        decide(&self.rules, self.tz, &request)
    }

    /// What the gate saw (or that nobody answered): the passage is written, and a pass
    /// updates who is where. Unknown ids (already written) are ignored.
    pub fn outcome(
        &mut self,
        passage_id: Uuid,
        outcome: PassOutcome,
        now: DateTime<Utc>,
    ) -> Option<Presented> {
        let mut presented = self.forget(passage_id)?;
        if presented.awaiting.is_some() {
            // The guard did not answer in time.
            presented.awaiting = None;
            presented.verified_by = Some(Verification::Guard);
        }
        self.finish(&mut presented, outcome, now);
        Some(presented)
    }

    /// The external verifier's answer: `Some(allow)` decides like the guard would (the
    /// rules' denial is not set aside: a verifier confirms who it is, not the rules);
    /// `None` (no answer in time, an error) hands the passage to the guard for `timeout`.
    pub fn external_answer(
        &mut self,
        passage_id: Uuid,
        answer: Option<bool>,
        guard_timeout: Duration,
        now: DateTime<Utc>,
    ) -> Option<Presented> {
        let mut presented = self.pending.get(&passage_id)?.clone();
        if presented.awaiting != Some(AWAITING_EXTERNAL) {
            return None;
        }
        match answer {
            Some(true) if presented.decision.allowed => {
                presented.awaiting = None;
                presented.deadline = None;
                presented.verified_by = Some(Verification::External);
                self.pending.insert(passage_id, presented.clone());
                Some(presented)
            }
            Some(_) => {
                self.forget(passage_id);
                presented.awaiting = None;
                presented.deadline = None;
                presented.verified_by = Some(Verification::External);
                self.finish(&mut presented, PassOutcome::Denied, now);
                Some(presented)
            }
            None => {
                presented.awaiting = Some(AWAITING_GUARD);
                presented.deadline = Some(now + guard_timeout);
                self.pending.insert(passage_id, presented.clone());
                Some(presented)
            }
        }
    }

    /// Passages awaiting the guard past their deadline, denied now.
    pub fn expire(&mut self, now: DateTime<Utc>) -> Vec<Presented> {
        let mut due: Vec<(DateTime<Utc>, Uuid)> = self
            .pending
            .values()
            // An external verifier's wait ends in `external_answer`, not here.
            .filter(|p| p.awaiting == Some(AWAITING_GUARD))
            .filter_map(|p| p.deadline.filter(|d| *d <= now).map(|d| (d, p.passage_id)))
            .collect();
        due.sort();
        let due: Vec<Uuid> = due.into_iter().map(|(_, id)| id).collect();
        due.into_iter()
            .filter_map(|id| self.outcome(id, PassOutcome::Denied, now))
            .collect()
    }

    /// A passage decided but not yet written.
    pub fn pending(&self, passage_id: Uuid) -> Option<&Presented> {
        self.pending.get(&passage_id)
    }

    fn remember(&mut self, presented: Presented, now: DateTime<Utc>) {
        self.pending_order.push_back(presented.passage_id);
        self.pending.insert(presented.passage_id, presented);
        while self.pending.len() > PENDING_PASSAGES_MAX {
            let Some(oldest) = self.pending_order.pop_front() else {
                break;
            };
            if self.pending.contains_key(&oldest) {
                tracing::warn!(%oldest, "a passage never got an outcome; written as no pass");
                self.outcome(oldest, PassOutcome::NoPass, now);
            }
        }
    }

    fn forget(&mut self, passage_id: Uuid) -> Option<Presented> {
        let presented = self.pending.remove(&passage_id)?;
        if let Some(position) = self.pending_order.iter().position(|id| *id == passage_id) {
            self.pending_order.remove(position);
        }
        Some(presented)
    }

    fn finish(&mut self, presented: &mut Presented, outcome: PassOutcome, now: DateTime<Utc>) {
        presented.outcome = Some(outcome);
        if outcome == PassOutcome::Passed {
            if let Some(person) = &presented.person {
                self.last_pass.insert(
                    person.id,
                    LastPass {
                        direction: presented.direction,
                        at: now,
                        zone: self.zone.clone(),
                    },
                );
            }
        }
        let decision = &presented.decision;
        let mut flags: Vec<String> = decision
            .flags
            .iter()
            .map(|f| f.as_str().to_owned())
            .collect();
        if let Some(overridden) = decision.overridden {
            flags.push(format!("overridden:{}", overridden.as_str()));
        }
        let body = EventBody::Passage {
            passage_id: presented.passage_id,
            card: presented
                .card
                .as_deref()
                .and_then(|c| CardId::parse_canonical(c).ok()),
            raw: presented.raw.clone(),
            person_id: presented.person.as_ref().map(|p| p.id),
            reader_id: Some(presented.reader.device_id),
            gate_id: presented.gate_id,
            direction: presented.direction,
            school_date: self.tz.school_date(now).0,
            decided_at: presented.at,
            allowed: decision.allowed && outcome != PassOutcome::Denied,
            reason: if outcome == PassOutcome::Denied && decision.allowed {
                // Allowed by the rules, stopped by the guard (or nobody answered).
                "guard_denied".to_owned()
            } else {
                decision.reason.as_str().to_owned()
            },
            flags,
            verified_by: presented.verified_by.unwrap_or(Verification::Automatic),
            outcome,
            note: presented.note.clone(),
        };
        let actor = self.journal.device_actor();
        self.journal.append(actor.clone(), now, body);
        // A visitor going out hands the card back: their pass is over.
        if let (PassOutcome::Passed, Direction::Exit, Some(person)) =
            (outcome, presented.direction, &presented.person)
        {
            if person.kind == PersonKind::Visitor {
                match self.open_visitor_pass(person.id) {
                    Ok(Some((pass_id, card, _))) => {
                        self.journal.append(
                            actor.clone(),
                            now,
                            EventBody::VisitorPassClosed { pass_id },
                        );
                        self.journal.append(
                            actor,
                            now,
                            EventBody::CardStateChanged {
                                card,
                                state: CardState::Returned,
                                reason: VISITOR_CARD_BACK_REASON.into(),
                            },
                        );
                    }
                    Ok(None) => {}
                    Err(e) => tracing::error!("cannot close a visitor's pass: {e}"),
                }
            }
        }
    }

    /// The visitor's open pass: its id, card and validity.
    fn open_visitor_pass(
        &self,
        person_id: PersonId,
    ) -> CoreResult<Option<(Uuid, CardId, DateTime<Utc>)>> {
        let row: Option<(String, String, i64)> = self
            .store
            .conn()
            .prepare_cached(
                "SELECT pass_id, card_key, valid_until_us FROM visitor_passes
                 WHERE person_id = ?1 AND closed_at_us IS NULL
                 ORDER BY issued_at_us DESC LIMIT 1",
            )?
            .query_row([person_id.to_string()], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?;
        Ok(row.and_then(|(pass, card, until)| {
            Some((
                pass.parse().ok()?,
                CardId::parse_canonical(&card).ok()?,
                from_micros(until),
            ))
        }))
    }

    /// A person let through by the guard without a card (a forgotten card): the rules
    /// decide as for their card, the guard's `note` says why, and the guard has answered.
    pub fn present_without_card(
        &mut self,
        person_id: PersonId,
        reader: &Peripheral,
        note: &str,
        now: DateTime<Utc>,
    ) -> CoreResult<Presented> {
        self.holders.catch_up(self.store.conn())?;
        let (view, holder) = self
            .person(person_id)?
            .ok_or_else(|| CoreError::not_found(format!("person {person_id}")))?;
        let direction = reader.spec.direction.unwrap_or(Direction::Entry);
        let request = PassRequest {
            card: Some(CardState::Active),
            holder: Some(holder),
            direction,
            zone: self.zone.clone(),
            at: now,
            last_pass: self.last_pass.get(&person_id).cloned(),
            guard_override: false,
        };
        let decision = decide(&self.rules, self.tz, &request);
        let presented = Presented {
            person: Some(view),
            verified_by: Some(Verification::Guard),
            note: note.to_owned(),
            ..Presented::at_reader(reader, direction, decision, now)
        };
        Ok(self.settle(presented, now))
    }

    /// A decided passage nobody is asked about: a denial is written at once, anything
    /// else waits for its outcome.
    fn settle(&mut self, mut presented: Presented, now: DateTime<Utc>) -> Presented {
        if presented.awaiting.is_none() && !presented.decision.allowed {
            self.finish(&mut presented, PassOutcome::Denied, now);
            return presented;
        }
        self.remember(presented.clone(), now);
        presented
    }

    /// The card's state and holder, if the card is known.
    #[allow(clippy::type_complexity)]
    fn lookup(
        &self,
        card: &CardId,
    ) -> CoreResult<Option<(CardState, Option<PersonView>, Option<Holder>)>> {
        // The card as enrolled, from memory; a card enrolled in another form (a Wiegand
        // pair for a full number) takes the general search.
        // A card given back is known but nobody's, unless it matches someone's in
        // another form.
        let indexed = self.holders.card(&card.to_string());
        let found = match indexed {
            Some(IndexedCard {
                state,
                person_id: Some(person_id),
            }) => Some((state, Some(person_id))),
            _ => match crate::workstation::find_card_holder(self.store.conn(), card)? {
                Some(holder) => Some((holder.state, Some(holder.person_id))),
                None => indexed.map(|card| (card.state, None)),
            },
        };
        Ok(found.map(|(state, person_id)| {
            let (view, facts) = match person_id.and_then(|id| self.person(id).ok().flatten()) {
                Some((view, facts)) => (Some(view), Some(facts)),
                None => (None, None),
            };
            (state, view, facts)
        }))
    }

    fn lookup_person(&self, person_id: PersonId) -> CoreResult<Option<Holder>> {
        Ok(self.person(person_id)?.map(|(_, holder)| holder))
    }

    /// The person as the guard and the rules see them: from memory, or (someone the
    /// index has not caught up with yet) from the projections.
    fn person(&self, person_id: PersonId) -> CoreResult<Option<(PersonView, Holder)>> {
        match self.holders.person(person_id) {
            Some(found) => Ok(Some(found.clone())),
            None => read_person(self.store.conn(), person_id),
        }
    }

    /// The photo of a person, as a `data:` URL, for the guard's screen.
    pub fn photo_data_url(&self, sha256: &str) -> CoreResult<Option<String>> {
        use base64::Engine;
        let photo: Option<(String, Vec<u8>)> = self
            .store
            .conn()
            .prepare_cached("SELECT mime, bytes FROM photos WHERE sha256 = ?1")?
            .query_row([sha256], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        Ok(photo.map(|(mime, bytes)| {
            format!(
                "data:{mime};base64,{}",
                base64::engine::general_purpose::STANDARD.encode(bytes)
            )
        }))
    }
}
