//! Visitors: a temporary pass on a visitor card from the guard's stack (name, document,
//! whom they visit, valid until), closed when they hand the card back at the exit (the
//! gate post does that on their exit) or by the guard.

use super::{check_card, check_name, check_title, name_at, NameInput, Workstation};
use crate::domain::{CardState, PersonId, PersonKind};
use crate::error::{CoreError, CoreResult, Refusal};
use crate::events::{EventBody, PersonDetails};
use crate::time::from_micros;
use chrono::{DateTime, Utc};
use rusqlite::OptionalExtension;
use serde_json::{json, Value};
use uuid::Uuid;

/// Longest identity document or purpose text.
pub const VISITOR_TEXT_LEN_MAX_CHARS: usize = 200;
/// Visitors listed at once.
pub const VISITORS_LISTED_MAX: u32 = 200;
/// Why a visitor's card was freed when the guard closed the pass by hand.
const CLOSED_BY_HAND_REASON: &str = "visitor pass closed by the guard";

impl Workstation {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn issue_visitor_pass(
        &mut self,
        actor: &str,
        name: NameInput,
        document: &str,
        visiting: &str,
        card: &str,
        valid_until: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        let name = check_name(&name)?;
        let document = check_title("document", document, VISITOR_TEXT_LEN_MAX_CHARS)?;
        let visiting = check_title("visiting", visiting, VISITOR_TEXT_LEN_MAX_CHARS)?;
        let raw = card.trim().to_owned();
        let card = check_card(&raw)?;
        if let Some(existing) = self.exact_card(&card)? {
            if let (Some(holder), false) =
                (existing.person_id, existing.state == CardState::Returned)
            {
                let other = self.person_summary(holder)?;
                return Err(CoreError::conflict(
                    Refusal::CardTaken,
                    format!("the card belongs to {}", other.full_name),
                )
                .with("holder", other.full_name)
                .with("state", existing.state.as_str()));
            }
        }
        // Until the end of the school day unless the guard says otherwise.
        let tz = self.school_tz()?;
        let valid_until = valid_until.unwrap_or_else(|| {
            let tomorrow = crate::time::SchoolDate(tz.school_date(now).0 + chrono::Days::new(1));
            tz.day_start(tomorrow)
        });
        if valid_until <= now {
            return Err(CoreError::invalid(
                "valid_until",
                Refusal::NotInFuture,
                "the pass would be over already",
            ));
        }
        let person_id = PersonId::new_v7();
        let pass_id = Uuid::now_v7();
        self.store.write(|w| {
            w.append(
                actor,
                now,
                EventBody::PersonEnrolled {
                    person_id,
                    person_kind: PersonKind::Visitor,
                    name,
                    class_id: None,
                    details: PersonDetails::default(),
                },
            )?;
            w.append(
                actor,
                now,
                EventBody::CardBound {
                    card,
                    person_id,
                    raw,
                },
            )?;
            w.append(
                actor,
                now,
                EventBody::VisitorPassIssued {
                    pass_id,
                    person_id,
                    card,
                    document,
                    visiting,
                    valid_until,
                },
            )
        })?;
        Ok(json!({ "pass_id": pass_id, "person_id": person_id, "valid_until": valid_until }))
    }

    pub(super) fn close_visitor_pass(
        &mut self,
        actor: &str,
        pass_id: Uuid,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        let open: Option<(String, Option<i64>)> = self
            .store
            .conn()
            .query_row(
                "SELECT card_key, closed_at_us FROM visitor_passes WHERE pass_id = ?1",
                [pass_id.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let (card, closed) =
            open.ok_or_else(|| CoreError::not_found(format!("visitor pass {pass_id}")))?;
        if closed.is_some() {
            return Err(CoreError::conflict(
                Refusal::PassClosed,
                "the pass is closed already",
            ));
        }
        let card = check_card(&card)?;
        self.store.write(|w| {
            w.append(actor, now, EventBody::VisitorPassClosed { pass_id })?;
            w.append(
                actor,
                now,
                EventBody::CardStateChanged {
                    card,
                    state: CardState::Returned,
                    reason: CLOSED_BY_HAND_REASON.into(),
                },
            )
        })?;
        Ok(json!({}))
    }

    /// Visitors' passes, newest first: the open ones, or today's too.
    pub(super) fn list_visitors(&self, include_closed: bool) -> CoreResult<Value> {
        let mut statement = self.store.conn().prepare_cached(
            "SELECT v.pass_id, v.person_id, p.surname, p.name, p.patronymic, v.card_key,
                    v.document, v.visiting, v.issued_at_us, v.valid_until_us, v.closed_at_us,
                    pr.inside
             FROM visitor_passes v
             JOIN persons p ON p.id = v.person_id
             LEFT JOIN presence pr ON pr.person_id = v.person_id
             WHERE ?1 OR v.closed_at_us IS NULL
             ORDER BY v.issued_at_us DESC LIMIT ?2",
        )?;
        let rows = statement.query_map(
            rusqlite::params![include_closed, VISITORS_LISTED_MAX],
            |r| {
                Ok(json!({
                    "pass_id": r.get::<_, String>(0)?,
                    "person_id": r.get::<_, String>(1)?,
                    "full_name": name_at(r, 2)?,
                    "card": r.get::<_, String>(5)?,
                    "document": r.get::<_, String>(6)?,
                    "visiting": r.get::<_, String>(7)?,
                    "issued_at": from_micros(r.get(8)?),
                    "valid_until": from_micros(r.get(9)?),
                    "closed_at": r.get::<_, Option<i64>>(10)?.map(from_micros),
                    "inside": r.get::<_, Option<bool>>(11)?.unwrap_or(false),
                }))
            },
        )?;
        let visitors: Vec<Value> = rows.collect::<Result<_, _>>()?;
        Ok(json!({ "visitors": visitors }))
    }
}
