//! Roll-call at the assembly point: the guard starts it from who is inside, ticks people
//! as they are seen, and sees by class who is still missing.

use super::{class_label, name_at, Workstation};
use crate::domain::PersonId;
use crate::error::{CoreError, CoreResult, Refusal};
use crate::events::EventBody;
use crate::time::from_micros;
use chrono::{DateTime, Utc};
use rusqlite::OptionalExtension;
use serde_json::{json, Value};
use uuid::Uuid;

impl Workstation {
    /// Starts a roll-call of everyone inside now; one runs at a time.
    pub(super) fn start_roll_call(&mut self, actor: &str, now: DateTime<Utc>) -> CoreResult<Value> {
        if let Some(running) = self.running_roll_call()? {
            return Err(CoreError::conflict(
                Refusal::RollCallRunning,
                "a roll-call is running already",
            )
            .with("roll_call_id", running));
        }
        let people: Vec<PersonId> = self
            .people_inside()?
            .into_iter()
            .filter_map(|p| p.person_id.parse().ok())
            .collect();
        let roll_call_id = Uuid::now_v7();
        self.store.write(|w| {
            w.append(
                actor,
                now,
                EventBody::RollCallStarted {
                    roll_call_id,
                    people,
                },
            )
        })?;
        self.roll_call_state(Some(roll_call_id))
    }

    pub(super) fn mark_roll_call(
        &mut self,
        actor: &str,
        roll_call_id: Uuid,
        person_id: PersonId,
        present: bool,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        self.require_open_roll_call(roll_call_id)?;
        self.store.write(|w| {
            w.append(
                actor,
                now,
                EventBody::RollCallMarked {
                    roll_call_id,
                    person_id,
                    present,
                },
            )
        })?;
        Ok(json!({}))
    }

    pub(super) fn end_roll_call(
        &mut self,
        actor: &str,
        roll_call_id: Uuid,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        self.require_open_roll_call(roll_call_id)?;
        self.store
            .write(|w| w.append(actor, now, EventBody::RollCallEnded { roll_call_id }))?;
        self.roll_call_state(Some(roll_call_id))
    }

    /// A roll-call (the running one when no id is given): its people by group, ticked or
    /// missing, with counts; `null` when none runs.
    pub(super) fn roll_call_state(&self, roll_call_id: Option<Uuid>) -> CoreResult<Value> {
        let id = match roll_call_id {
            Some(id) => id.to_string(),
            None => match self.running_roll_call()? {
                Some(id) => id,
                None => return Ok(Value::Null),
            },
        };
        let conn = self.store.conn();
        let head: Option<(i64, Option<i64>)> = conn
            .query_row(
                "SELECT started_at_us, ended_at_us FROM roll_calls WHERE roll_call_id = ?1",
                [&id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let (started, ended) =
            head.ok_or_else(|| CoreError::not_found(format!("roll-call {id}")))?;
        let mut statement = conn.prepare_cached(
            "SELECT rp.person_id, rp.present, p.kind, p.surname, p.name, p.patronymic,
                    p.position, c.grade, c.letter
             FROM roll_call_people rp
             JOIN persons p ON p.id = rp.person_id
             LEFT JOIN classes c ON c.id = p.class_id
             WHERE rp.roll_call_id = ?1
             ORDER BY p.kind, c.grade, c.letter, p.surname, p.name",
        )?;
        let rows = statement.query_map([&id], |r| {
            Ok((
                r.get::<_, String>(2)?,
                class_label(r.get(7)?, r.get(8)?),
                json!({
                    "id": r.get::<_, String>(0)?,
                    "present": r.get::<_, bool>(1)?,
                    "full_name": name_at(r, 3)?,
                    "position": r.get::<_, Option<String>>(6)?,
                }),
            ))
        })?;
        let mut groups: Vec<(String, String, Vec<Value>)> = Vec::new();
        let (mut total, mut seen) = (0, 0);
        for row in rows {
            let (kind, class_name, person) = row?;
            total += 1;
            if person["present"] == true {
                seen += 1;
            }
            let (key, title) = match (kind.as_str(), class_name) {
                ("pupil", Some(name)) => (name.clone(), name),
                (kind, _) => (kind.to_owned(), kind.to_owned()),
            };
            match groups.iter_mut().find(|g| g.0 == key) {
                Some(group) => group.2.push(person),
                None => groups.push((key, title, vec![person])),
            }
        }
        let groups: Vec<Value> = groups
            .into_iter()
            .map(|(key, title, people)| {
                let missing = people.iter().filter(|p| p["present"] != true).count();
                json!({"key": key, "title": title, "missing": missing, "people": people})
            })
            .collect();
        Ok(json!({
            "roll_call_id": id,
            "started_at": from_micros(started),
            "ended_at": ended.map(from_micros),
            "total": total,
            "present": seen,
            "missing": total - seen,
            "groups": groups,
        }))
    }

    fn running_roll_call(&self) -> CoreResult<Option<String>> {
        Ok(self
            .store
            .conn()
            .query_row(
                "SELECT roll_call_id FROM roll_calls WHERE ended_at_us IS NULL
                 ORDER BY started_at_us DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()?)
    }

    fn require_open_roll_call(&self, roll_call_id: Uuid) -> CoreResult<()> {
        let ended: Option<Option<i64>> = self
            .store
            .conn()
            .query_row(
                "SELECT ended_at_us FROM roll_calls WHERE roll_call_id = ?1",
                [roll_call_id.to_string()],
                |r| r.get(0),
            )
            .optional()?;
        match ended {
            None => Err(CoreError::not_found(format!("roll-call {roll_call_id}"))),
            Some(Some(_)) => Err(CoreError::conflict(
                Refusal::RollCallEnded,
                "the roll-call is over",
            )),
            Some(None) => Ok(()),
        }
    }
}
