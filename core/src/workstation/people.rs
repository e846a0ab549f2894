//! People: search, the person card, enrolment of pupils and guardians, edits, moves
//! between classes, status, photos and guardianship.

use super::cards::card_json;
use super::{
    cannot_read, check_details, check_name, check_photo, parse_col, photo_too_large, DetailsInput,
    NameInput, Workstation, PERSON_CARDS_LISTED_MAX, PHOTO_BYTES_MAX, SEARCH_RESULTS_MAX,
};
use crate::domain::{ClassId, FullName, PersonId, PersonKind, PersonStatus};
use crate::error::{CoreError, CoreResult, Refusal};
use crate::events::{EventBody, PersonDetails};
use base64::Engine;
use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension, Row};
use schoolcard_proto::CardId;
use serde::Serialize;
use serde_json::{json, Value};
use std::io::Read;
use std::path::Path;

impl Workstation {
    pub(super) fn search_people(
        &self,
        query: &str,
        kind: Option<PersonKind>,
        class_id: Option<ClassId>,
        include_left: bool,
        limit: Option<u32>,
    ) -> CoreResult<Value> {
        let limit = limit.unwrap_or(SEARCH_RESULTS_MAX).min(SEARCH_RESULTS_MAX);
        let query = query.trim();
        // A query that reads as a card number finds the card's holder.
        if let Ok(card) = query.parse::<CardId>() {
            if query.chars().any(|c| c.is_ascii_digit()) {
                if let Some(holder) = self.card_holder(&card)? {
                    let person = self.person_summary(holder.person_id)?;
                    return Ok(json!({ "people": [person], "by_card": true }));
                }
            }
        }
        let pattern = format!(
            "%{}%",
            crate::domain::search_key(query).replace(['%', '_'], "")
        );
        let mut sql = String::from(&*format!("SELECT {PERSON_COLUMNS} FROM persons p LEFT JOIN classes c ON c.id = p.class_id WHERE p.search_key LIKE ?1"));
        let mut args: Vec<String> = vec![pattern];
        if let Some(kind) = kind {
            args.push(kind.as_str().into());
            sql.push_str(&format!(" AND p.kind = ?{}", args.len()));
        } else {
            // Visitors are the guard's list, not the school's people.
            sql.push_str(" AND p.kind != 'visitor'");
        }
        if let Some(class_id) = class_id {
            args.push(class_id.to_string());
            sql.push_str(&format!(" AND p.class_id = ?{}", args.len()));
        }
        if !include_left {
            sql.push_str(" AND p.status != 'left'");
        }
        sql.push_str(&format!(
            " ORDER BY c.grade, c.letter, p.surname, p.name, p.patronymic LIMIT {limit}"
        ));
        let mut stmt = self.store.conn().prepare(&sql)?;
        let rows = stmt.query_map(
            rusqlite::params_from_iter(args.iter()),
            person_summary_from_row,
        )?;
        let people: Vec<PersonSummary> = rows.collect::<Result<_, _>>()?;
        Ok(json!({ "people": people, "by_card": false }))
    }

    pub(super) fn person_summary(&self, person_id: PersonId) -> CoreResult<PersonSummary> {
        self.store
            .conn()
            .query_row(
                &format!("SELECT {PERSON_COLUMNS} FROM persons p LEFT JOIN classes c ON c.id = p.class_id WHERE p.id = ?1"),
                [person_id.to_string()],
                person_summary_from_row,
            )
            .optional()?
            .ok_or_else(|| CoreError::not_found("person"))
    }

    pub(super) fn get_person(&self, person_id: PersonId) -> CoreResult<Value> {
        let summary = self.person_summary(person_id)?;
        let conn = self.store.conn();
        let details: Value = conn.query_row(
            "SELECT external_id, birth_date, phone, email, position FROM persons WHERE id = ?1",
            [person_id.to_string()],
            |r| {
                Ok(json!({
                    "external_id": r.get::<_, Option<String>>(0)?,
                    "birth_date": r.get::<_, Option<String>>(1)?,
                    "phone": r.get::<_, Option<String>>(2)?,
                    "email": r.get::<_, Option<String>>(3)?,
                    "position": r.get::<_, Option<String>>(4)?,
                }))
            },
        )?;
        let photo = self.photo_data_url(person_id)?;
        // The cards the person holds, newest first; then those they held and gave back
        // (returned, or re-issued to someone else since), most recently given back first.
        let mut cards_stmt = conn.prepare(
            "SELECT card_key, state, raw, changed_at_us, 0 FROM cards WHERE person_id = ?1
             UNION ALL
             SELECT card_key, 'returned', raw, released_at_us, 1 FROM card_holdings
             WHERE person_id = ?1 AND released_at_us IS NOT NULL
             ORDER BY 5, 4 DESC, 1 LIMIT ?2",
        )?;
        let cards: Vec<Value> = cards_stmt
            .query_map(
                params![person_id.to_string(), PERSON_CARDS_LISTED_MAX],
                |r| {
                    let key: String = r.get(0)?;
                    let mut card = card_json(
                        &key,
                        &r.get::<_, String>(1)?,
                        &r.get::<_, String>(2)?,
                        r.get(3)?,
                    );
                    card["past"] = Value::Bool(r.get(4)?);
                    Ok(card)
                },
            )?
            .collect::<Result<_, _>>()?;
        let related = |sql: &str| -> CoreResult<Vec<Value>> {
            let mut stmt = conn.prepare(sql)?;
            let rows = stmt.query_map([person_id.to_string()], |r| {
                Ok(json!({
                    "id": r.get::<_, String>(0)?,
                    "full_name": FullName { surname: r.get(1)?, name: r.get(2)?, patronymic: r.get(3)? }.display(),
                    "relation": r.get::<_, String>(4)?,
                    "phone": r.get::<_, Option<String>>(5)?,
                    "email": r.get::<_, Option<String>>(6)?,
                    "class_name": r.get::<_, Option<String>>(7)?,
                }))
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        };
        let guardians = related(
            "SELECT g.id, g.surname, g.name, g.patronymic, gs.relation, g.phone, g.email, NULL
             FROM guardianship gs JOIN persons g ON g.id = gs.guardian_id WHERE gs.pupil_id = ?1 ORDER BY g.surname",
        )?;
        let children = related(
            "SELECT p.id, p.surname, p.name, p.patronymic, gs.relation, p.phone, p.email, c.grade || c.letter
             FROM guardianship gs JOIN persons p ON p.id = gs.pupil_id LEFT JOIN classes c ON c.id = p.class_id
             WHERE gs.guardian_id = ?1 ORDER BY p.surname",
        )?;
        let account: Option<Value> = match self.account_by_person(person_id)? {
            Some(acc) => Some(json!({
                "login": acc.login,
                "roles": acc.roles,
                "has_password": acc.password_hash.is_some(),
                "has_pin": acc.pin_hash.is_some(),
                "failed_attempts": acc.lock.failed_attempts,
                "locked_until": acc.lock.locked_until,
            })),
            None => None,
        };
        Ok(json!({
            "person": summary,
            "details": details,
            "photo": photo,
            "cards": cards,
            "guardians": guardians,
            "children": children,
            "account": account,
        }))
    }

    pub(super) fn photo_data_url(&self, person_id: PersonId) -> CoreResult<Option<String>> {
        let photo: Option<(String, Vec<u8>)> = self
            .store
            .conn()
            .query_row(
                "SELECT ph.mime, ph.bytes FROM persons p JOIN photos ph ON ph.sha256 = p.photo_sha256 WHERE p.id = ?1",
                [person_id.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        Ok(photo.map(|(mime, bytes)| data_url(&mime, &bytes)))
    }

    /// The photos of up to [`SEARCH_RESULTS_MAX`] people, as data URLs by person id, in
    /// one query; people without a photo are left out.
    pub(super) fn get_photos(&self, person_ids: &[PersonId]) -> CoreResult<Value> {
        if person_ids.len() > SEARCH_RESULTS_MAX as usize {
            return Err(CoreError::invalid(
                "person_ids",
                Refusal::TooMany,
                format!("at most {SEARCH_RESULTS_MAX} people at once"),
            )
            .with("max", SEARCH_RESULTS_MAX));
        }
        let mut photos = serde_json::Map::new();
        if person_ids.is_empty() {
            return Ok(Value::Object(photos));
        }
        let ids: Vec<String> = person_ids.iter().map(|id| id.to_string()).collect();
        let placeholders = vec!["?"; ids.len()].join(", ");
        let mut stmt = self.store.conn().prepare(&format!(
            "SELECT p.id, ph.mime, ph.bytes FROM persons p JOIN photos ph ON ph.sha256 = p.photo_sha256
             WHERE p.id IN ({placeholders})"
        ))?;
        let rows = stmt.query_map(rusqlite::params_from_iter(ids.iter()), |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Vec<u8>>(2)?,
            ))
        })?;
        for row in rows {
            let (id, mime, bytes) = row?;
            photos.insert(id, Value::String(data_url(&mime, &bytes)));
        }
        Ok(Value::Object(photos))
    }

    pub(super) fn enrol_pupil(
        &mut self,
        actor: &str,
        name: NameInput,
        class_id: ClassId,
        details: DetailsInput,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        self.require_class(class_id)?;
        let name = check_name(&name)?;
        let details = self.check_details(details, PersonKind::Pupil, None)?;
        let person_id = PersonId::new_v7();
        self.store.write(|w| {
            w.append(
                actor,
                now,
                EventBody::PersonEnrolled {
                    person_id,
                    person_kind: PersonKind::Pupil,
                    name,
                    class_id: Some(class_id),
                    details,
                },
            )
        })?;
        self.get_person(person_id)
    }

    pub(super) fn enrol_guardian(
        &mut self,
        actor: &str,
        pupil_id: PersonId,
        name: NameInput,
        details: DetailsInput,
        relation: String,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        self.require_kind(pupil_id, PersonKind::Pupil)?;
        let name = check_name(&name)?;
        let details = self.check_details(details, PersonKind::Guardian, None)?;
        let guardian_id = PersonId::new_v7();
        let relation = relation.trim().to_owned();
        self.store.write(|w| {
            w.append(
                actor,
                now,
                EventBody::PersonEnrolled {
                    person_id: guardian_id,
                    person_kind: PersonKind::Guardian,
                    name,
                    class_id: None,
                    details,
                },
            )?;
            w.append(
                actor,
                now,
                EventBody::GuardianLinked {
                    guardian_id,
                    pupil_id,
                    relation,
                },
            )
        })?;
        self.get_person(pupil_id)
    }

    pub(super) fn update_person(
        &mut self,
        actor: &str,
        person_id: PersonId,
        name: NameInput,
        details: DetailsInput,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        let summary = self.person_summary(person_id)?;
        let name = check_name(&name)?;
        let details = self.check_details(details, summary.kind, Some(person_id))?;
        self.store.write(|w| {
            w.append(
                actor,
                now,
                EventBody::PersonUpdated {
                    person_id,
                    name,
                    details,
                },
            )
        })?;
        self.get_person(person_id)
    }

    pub(super) fn move_pupil(
        &mut self,
        actor: &str,
        person_id: PersonId,
        class_id: ClassId,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        self.require_kind(person_id, PersonKind::Pupil)?;
        self.require_class(class_id)?;
        self.store.write(|w| {
            w.append(
                actor,
                now,
                EventBody::PupilMoved {
                    person_id,
                    class_id,
                },
            )
        })?;
        self.get_person(person_id)
    }

    pub(super) fn set_person_status(
        &mut self,
        actor: &str,
        person_id: PersonId,
        status: PersonStatus,
        reason: String,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        self.person_summary(person_id)?;
        if self
            .session
            .as_ref()
            .is_some_and(|s| s.person_id == person_id)
            && status != PersonStatus::Active
        {
            return Err(CoreError::conflict(
                Refusal::CannotSuspendSelf,
                "you cannot suspend or dismiss yourself",
            ));
        }
        let reason = reason.trim().to_owned();
        self.store.write(|w| {
            w.append(
                actor,
                now,
                EventBody::PersonStatusChanged {
                    person_id,
                    status,
                    reason,
                },
            )
        })?;
        self.get_person(person_id)
    }

    pub(super) fn set_photo(
        &mut self,
        actor: &str,
        person_id: PersonId,
        mime: &str,
        b64: &str,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        self.person_summary(person_id)?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|e| {
                CoreError::invalid("photo", Refusal::BadPhoto, format!("not base64: {e}"))
            })?;
        self.store_photo(actor, person_id, mime, &bytes, now)
    }

    /// Reads a picture file the admin picked. The file's size is checked before it is
    /// read, and the read itself stops past the bound (the file may grow meanwhile).
    pub(super) fn set_photo_from_file(
        &mut self,
        actor: &str,
        person_id: PersonId,
        path: &Path,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        self.person_summary(person_id)?;
        let cannot = |e: std::io::Error| cannot_read(path, e);
        let file = std::fs::File::open(path).map_err(cannot)?;
        let len_bytes = file.metadata().map_err(cannot)?.len();
        if len_bytes > PHOTO_BYTES_MAX as u64 {
            return Err(photo_too_large());
        }
        let mut bytes = Vec::with_capacity(len_bytes as usize);
        file.take(PHOTO_BYTES_MAX as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(cannot)?;
        let source = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.store_photo(actor, person_id, &source, &bytes, now)
    }

    fn store_photo(
        &mut self,
        actor: &str,
        person_id: PersonId,
        source: &str,
        bytes: &[u8],
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        let mime = check_photo(source, bytes)?;
        self.store.write(|w| {
            let sha256 = w.put_photo(mime, bytes)?;
            w.append(
                actor,
                now,
                EventBody::PhotoSet {
                    person_id,
                    sha256,
                    mime: mime.to_owned(),
                },
            )
        })?;
        self.get_person(person_id)
    }

    pub(super) fn link_guardian(
        &mut self,
        actor: &str,
        guardian_id: PersonId,
        pupil_id: PersonId,
        relation: String,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        self.require_kind(guardian_id, PersonKind::Guardian)?;
        self.require_kind(pupil_id, PersonKind::Pupil)?;
        let relation = relation.trim().to_owned();
        self.store.write(|w| {
            w.append(
                actor,
                now,
                EventBody::GuardianLinked {
                    guardian_id,
                    pupil_id,
                    relation,
                },
            )
        })?;
        self.get_person(pupil_id)
    }

    pub(super) fn unlink_guardian(
        &mut self,
        actor: &str,
        guardian_id: PersonId,
        pupil_id: PersonId,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        let linked: bool = self.store.conn().query_row(
            "SELECT EXISTS (SELECT 1 FROM guardianship WHERE guardian_id = ?1 AND pupil_id = ?2)",
            params![guardian_id.to_string(), pupil_id.to_string()],
            |r| r.get(0),
        )?;
        if !linked {
            return Err(CoreError::not_found("guardianship"));
        }
        self.store.write(|w| {
            w.append(
                actor,
                now,
                EventBody::GuardianUnlinked {
                    guardian_id,
                    pupil_id,
                },
            )
        })?;
        self.get_person(pupil_id)
    }

    fn require_kind(&self, person_id: PersonId, kind: PersonKind) -> CoreResult<PersonSummary> {
        let summary = self.person_summary(person_id)?;
        if summary.kind != kind {
            return Err(CoreError::invalid(
                "person_id",
                Refusal::WrongPersonKind,
                format!("{person_id} is not a {}", kind.as_str()),
            )
            .with("expected", kind.as_str()));
        }
        Ok(summary)
    }

    pub(super) fn check_details(
        &self,
        input: DetailsInput,
        kind: PersonKind,
        editing: Option<PersonId>,
    ) -> CoreResult<PersonDetails> {
        let details = check_details(input)?;
        if let Some(ext) = &details.external_id {
            let holder: Option<String> = self
                .store
                .conn()
                .query_row(
                    "SELECT id FROM persons WHERE kind = ?1 AND external_id = ?2",
                    params![kind.as_str(), ext],
                    |r| r.get(0),
                )
                .optional()?;
            if holder.is_some_and(|h| Some(h) != editing.map(|e| e.to_string())) {
                return Err(CoreError::invalid(
                    "external_id",
                    Refusal::ExternalIdTaken,
                    format!("{ext} is already used by someone else"),
                )
                .with("value", ext));
            }
        }
        Ok(details)
    }
}

fn data_url(mime: &str, bytes: &[u8]) -> String {
    format!(
        "data:{mime};base64,{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

#[derive(Debug, Clone, Serialize)]
pub struct PersonSummary {
    pub id: PersonId,
    pub kind: PersonKind,
    pub full_name: String,
    pub surname: String,
    pub name: String,
    pub patronymic: String,
    pub class_id: Option<String>,
    pub class_name: Option<String>,
    pub status: PersonStatus,
    pub external_id: Option<String>,
    pub has_photo: bool,
    pub position: Option<String>,
}

const PERSON_COLUMNS: &str =
    "p.id, p.kind, p.surname, p.name, p.patronymic, p.class_id, c.grade, c.letter, p.status, \
                              p.external_id, p.photo_sha256 IS NOT NULL, p.position";

fn person_summary_from_row(r: &Row<'_>) -> rusqlite::Result<PersonSummary> {
    let name = FullName {
        surname: r.get(2)?,
        name: r.get(3)?,
        patronymic: r.get(4)?,
    };
    let grade: Option<i64> = r.get(6)?;
    let letter: Option<String> = r.get(7)?;
    Ok(PersonSummary {
        id: parse_col(r, 0)?,
        kind: PersonKind::parse(&r.get::<_, String>(1)?).unwrap_or(PersonKind::Pupil),
        full_name: name.display(),
        surname: name.surname,
        name: name.name,
        patronymic: name.patronymic,
        class_id: r.get(5)?,
        class_name: grade.zip(letter).map(|(g, l)| format!("{g}{l}")),
        status: PersonStatus::parse(&r.get::<_, String>(8)?).unwrap_or(PersonStatus::Active),
        external_id: r.get(9)?,
        has_photo: r.get(10)?,
        position: r.get(11)?,
    })
}
