//! Cards: binding one to a person, changing its state (lost, blocked, returned), and
//! finding who holds a presented card.

use super::{check_card, Workstation};
use crate::domain::{CardState, PersonId, PersonStatus};
use crate::error::{CoreError, CoreResult, Refusal};
use crate::events::EventBody;
use crate::time::from_micros;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row};
use schoolcard_proto::CardId;
use serde::Serialize;
use serde_json::{json, Value};

impl Workstation {
    pub(super) fn lookup_card(&self, card: &str) -> CoreResult<Value> {
        let card_id = check_card(card)?;
        match self.card_holder(&card_id)? {
            None => Ok(json!({ "card": card_id.to_string(), "known": false })),
            Some(holder) => {
                let person = self.person_summary(holder.person_id)?;
                Ok(json!({
                    "card": holder.card_key,
                    "known": true,
                    "state": holder.state,
                    "person": person,
                    "photo": self.photo_data_url(holder.person_id)?,
                }))
            }
        }
    }

    /// The person a presented card belongs to: the exact id first; a partial (24-bit)
    /// enrolment matches a full read only when nothing longer is known (HARDWARE.md).
    pub fn card_holder(&self, card: &CardId) -> CoreResult<Option<CardHolder>> {
        find_card_holder(self.store.conn(), card)
    }

    pub(super) fn bind_card(
        &mut self,
        actor: &str,
        person_id: PersonId,
        card: &str,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        let summary = self.person_summary(person_id)?;
        if summary.status == PersonStatus::Left {
            return Err(CoreError::conflict(
                Refusal::PersonLeft,
                "the person has left the school",
            ));
        }
        let raw = card.trim().to_owned();
        let card = check_card(&raw)?;
        if let Some(existing) = self.exact_card(&card)? {
            match existing.person_id {
                Some(holder) if holder == person_id && existing.state == CardState::Active => {
                    return Err(CoreError::conflict(
                        Refusal::CardAlreadyBound,
                        "this card is already bound to this person",
                    ));
                }
                Some(holder) if existing.state != CardState::Returned => {
                    let other = self.person_summary(holder)?;
                    return Err(CoreError::conflict(
                        Refusal::CardTaken,
                        format!(
                            "the card belongs to {} ({}); mark it returned first",
                            other.full_name,
                            existing.state.as_str()
                        ),
                    )
                    .with("holder", other.full_name)
                    .with("state", existing.state.as_str()));
                }
                _ => {}
            }
        }
        self.store.write(|w| {
            w.append(
                actor,
                now,
                EventBody::CardBound {
                    card,
                    person_id,
                    raw,
                },
            )
        })?;
        self.get_person(person_id)
    }

    pub(super) fn exact_card(&self, card: &CardId) -> CoreResult<Option<CardRow>> {
        Ok(self
            .store
            .conn()
            .query_row(
                "SELECT person_id, state FROM cards WHERE card_key = ?1",
                [card.to_string()],
                |r| {
                    Ok(CardRow {
                        person_id: r.get::<_, Option<String>>(0)?.and_then(|s| s.parse().ok()),
                        state: CardState::parse(&r.get::<_, String>(1)?)
                            .unwrap_or(CardState::Blocked),
                    })
                },
            )
            .optional()?)
    }

    pub(super) fn set_card_state(
        &mut self,
        actor: &str,
        card: &str,
        state: CardState,
        reason: String,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        let card = check_card(card)?;
        let existing = self
            .exact_card(&card)?
            .ok_or_else(|| CoreError::not_found("card"))?;
        if existing.state == state {
            return Err(CoreError::conflict(
                Refusal::CardStateUnchanged,
                format!("the card is already {}", state.as_str()),
            )
            .with("state", state.as_str()));
        }
        if state == CardState::Active && existing.person_id.is_none() {
            return Err(CoreError::conflict(
                Refusal::CardReturnedNeedsBinding,
                "a returned card is activated by binding it to someone",
            ));
        }
        let reason = reason.trim().to_owned();
        self.store.write(|w| {
            w.append(
                actor,
                now,
                EventBody::CardStateChanged {
                    card,
                    state,
                    reason,
                },
            )
        })?;
        match existing.person_id {
            Some(p) => self.get_person(p),
            None => Ok(json!({ "ok": true })),
        }
    }
}

pub(super) struct CardRow {
    pub(super) person_id: Option<PersonId>,
    pub(super) state: CardState,
}

/// Who holds a presented card, and in what state the card is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CardHolder {
    pub card_key: String,
    pub person_id: PersonId,
    pub state: CardState,
}

pub(crate) fn find_card_holder(
    conn: &rusqlite::Connection,
    card: &CardId,
) -> CoreResult<Option<CardHolder>> {
    let row = |r: &Row<'_>| -> rusqlite::Result<Option<CardHolder>> {
        let person: Option<String> = r.get(1)?;
        Ok(person
            .and_then(|p| p.parse().ok())
            .map(|person_id| CardHolder {
                card_key: r.get(0).unwrap_or_default(),
                person_id,
                state: CardState::parse(&r.get::<_, String>(2).unwrap_or_default())
                    .unwrap_or(CardState::Blocked),
            }))
    };
    let exact = conn
        .query_row(
            "SELECT card_key, person_id, state FROM cards WHERE card_key = ?1 AND person_id IS NOT NULL",
            [card.to_string()],
            row,
        )
        .optional()?
        .flatten();
    if exact.is_some() {
        return Ok(exact);
    }
    // Fall back on the low 24 bits: a full read matches a card enrolled by its printed
    // pair; a pair read matches a full enrolment — but only when exactly one card fits.
    let candidates: Vec<(String, Option<CardHolder>)> = {
        let mut stmt = conn.prepare_cached(
            "SELECT card_key, person_id, state, bits FROM cards WHERE low24 = ?1 AND person_id IS NOT NULL",
        )?;
        let rows = stmt.query_map([card.low24()], |r| Ok((r.get::<_, String>(0)?, row(r)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    let fitting: Vec<CardHolder> = candidates
        .into_iter()
        .filter(|(key, _)| {
            CardId::parse_canonical(key).is_ok_and(|enrolled| enrolled.matches(card))
        })
        .filter_map(|(_, holder)| holder)
        .collect();
    Ok(if fitting.len() == 1 {
        fitting.into_iter().next()
    } else {
        None
    })
}

pub(super) fn card_json(key: &str, state: &str, raw: &str, changed_at_us: i64) -> Value {
    let card = CardId::parse_canonical(key).ok();
    json!({
        "card": key,
        "state": state,
        "raw": raw,
        "hex": card.as_ref().map(|c| c.hex()),
        "wiegand26": card.as_ref().map(|c| { let (f, n) = c.wiegand26_pair(); format!("{f:03},{n:05}") }),
        "decimal": card.as_ref().map(|c| c.decimal()),
        "changed_at": from_micros(changed_at_us),
    })
}
