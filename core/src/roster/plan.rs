//! The checked rows against each other and against the store: duplicate ids and cards,
//! cards held by someone else, and the events that would make the store agree with the
//! file. A plan is a pure function of the rows and a [`Snapshot`] of the store (fresh ids
//! aside), so a preview and a commit that see the same state plan the same thing.

use super::columns::{GuardianInput, ParsedRow, Sheet};
use super::{Reason, RosterCounts, RowIssue, Ticker};
use crate::domain::{
    search_key, CardState, ClassId, ClassName, FullName, PersonId, PersonKind, PersonStatus,
};
use crate::events::{EventBody, PersonDetails};
use crate::workstation::Progress;
use chrono::NaiveDate;
use rusqlite::Connection;
use schoolcard_proto::CardId;
use serde::Serialize;
use std::collections::{HashMap, HashSet};

/// The status reason recorded when a pupil who had left appears in a roster again.
pub const RETURN_REASON: &str = "roster import";

/// What a row changes for its pupil.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// A new pupil.
    Enrol,
    /// Name or birth date corrected.
    Details,
    /// Into another class.
    Move,
    /// Had left the school; active again.
    Return,
    BindCard,
    /// A new guardian person, linked to the pupil.
    AddGuardian,
    /// An existing guardian (a sibling's) linked to this pupil.
    LinkGuardian,
    /// A guardian's phone or e-mail replaced.
    GuardianContacts,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowChange {
    pub row: u32,
    pub id: String,
    pub full_name: String,
    pub class: String,
    /// The class before a move.
    pub from_class: Option<String>,
    pub changes: Vec<Change>,
}

#[derive(Debug, Clone)]
struct PupilRow {
    id: PersonId,
    name: FullName,
    class_id: Option<ClassId>,
    status: PersonStatus,
    details: PersonDetails,
}

#[derive(Debug, Clone)]
struct GuardianRow {
    name: FullName,
    details: PersonDetails,
}

#[derive(Debug, Clone)]
struct CardRow {
    card: CardId,
    person_id: PersonId,
    state: CardState,
    holder: String,
}

/// What the plan needs from the store, read in a handful of queries (never per row).
pub(super) struct Snapshot {
    classes: HashMap<(u8, String), ClassId>,
    class_names: HashMap<ClassId, String>,
    /// Pupils of every status, by external id.
    pupils: HashMap<String, PupilRow>,
    active_pupils: u32,
    /// Cards that are bound to someone, by canonical key, and their keys by low 24 bits.
    cards: HashMap<String, CardRow>,
    cards_by_low24: HashMap<u32, Vec<String>>,
    guardians: HashMap<PersonId, GuardianRow>,
    guardians_of: HashMap<PersonId, Vec<PersonId>>,
}

impl Snapshot {
    pub(super) fn load(conn: &Connection) -> rusqlite::Result<Snapshot> {
        let parse_id = |s: String, i: usize| -> rusqlite::Result<uuid::Uuid> {
            s.parse().map_err(|_| {
                rusqlite::Error::InvalidColumnType(i, "id".into(), rusqlite::types::Type::Text)
            })
        };
        let mut classes = HashMap::new();
        let mut class_names = HashMap::new();
        {
            let mut stmt =
                conn.prepare("SELECT id, grade, letter FROM classes WHERE archived = 0")?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let id = ClassId(parse_id(r.get(0)?, 0)?);
                let grade: u8 = r.get(1)?;
                let letter: String = r.get(2)?;
                class_names.insert(id, format!("{grade}{letter}"));
                classes.insert((grade, letter), id);
            }
        }
        let mut pupils = HashMap::new();
        let mut active_pupils = 0u32;
        {
            let mut stmt = conn.prepare(
                "SELECT id, surname, name, patronymic, class_id, status, external_id, birth_date, phone, email, position
                 FROM persons WHERE kind = 'pupil'",
            )?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let status =
                    PersonStatus::parse(&r.get::<_, String>(5)?).unwrap_or(PersonStatus::Active);
                if status == PersonStatus::Active {
                    active_pupils += 1;
                }
                let Some(external_id) = r.get::<_, Option<String>>(6)? else {
                    continue;
                };
                let class_id = match r.get::<_, Option<String>>(4)? {
                    Some(s) => Some(ClassId(parse_id(s, 4)?)),
                    None => None,
                };
                let details = details_from(r, 6)?;
                pupils.insert(
                    external_id,
                    PupilRow {
                        id: PersonId(parse_id(r.get(0)?, 0)?),
                        name: FullName {
                            surname: r.get(1)?,
                            name: r.get(2)?,
                            patronymic: r.get(3)?,
                        },
                        class_id,
                        status,
                        details,
                    },
                );
            }
        }
        let mut cards = HashMap::new();
        let mut cards_by_low24: HashMap<u32, Vec<String>> = HashMap::new();
        {
            let mut stmt = conn.prepare(
                "SELECT c.card_key, c.person_id, c.state, p.surname, p.name, p.patronymic
                 FROM cards c JOIN persons p ON p.id = c.person_id WHERE c.person_id IS NOT NULL",
            )?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let key: String = r.get(0)?;
                let Ok(card) = CardId::parse_canonical(&key) else {
                    continue;
                };
                let holder = FullName {
                    surname: r.get(3)?,
                    name: r.get(4)?,
                    patronymic: r.get(5)?,
                }
                .display();
                cards_by_low24
                    .entry(card.low24())
                    .or_default()
                    .push(key.clone());
                cards.insert(
                    key,
                    CardRow {
                        card,
                        person_id: PersonId(parse_id(r.get(1)?, 1)?),
                        state: CardState::parse(&r.get::<_, String>(2)?)
                            .unwrap_or(CardState::Blocked),
                        holder,
                    },
                );
            }
        }
        let mut guardians = HashMap::new();
        {
            let mut stmt = conn.prepare(
                "SELECT id, surname, name, patronymic, external_id, birth_date, phone, email, position
                 FROM persons WHERE kind = 'guardian'",
            )?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                guardians.insert(
                    PersonId(parse_id(r.get(0)?, 0)?),
                    GuardianRow {
                        name: FullName {
                            surname: r.get(1)?,
                            name: r.get(2)?,
                            patronymic: r.get(3)?,
                        },
                        details: details_from(r, 4)?,
                    },
                );
            }
        }
        let mut guardians_of: HashMap<PersonId, Vec<PersonId>> = HashMap::new();
        {
            let mut stmt = conn
                .prepare("SELECT pupil_id, guardian_id FROM guardianship ORDER BY guardian_id")?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let pupil = PersonId(parse_id(r.get(0)?, 0)?);
                let guardian = PersonId(parse_id(r.get(1)?, 1)?);
                guardians_of.entry(pupil).or_default().push(guardian);
            }
        }
        Ok(Snapshot {
            classes,
            class_names,
            pupils,
            active_pupils,
            cards,
            cards_by_low24,
            guardians,
            guardians_of,
        })
    }

    /// Who holds `card` now: the exact card, else the one bound card its low 24 bits
    /// name (the same rule the entrance uses, so the import and the door agree).
    fn holder_of(&self, card: &CardId) -> Holder<'_> {
        if let Some(row) = self.cards.get(&card.to_string()) {
            return Holder::One(row);
        }
        let fitting: Vec<&CardRow> = self
            .cards_by_low24
            .get(&card.low24())
            .into_iter()
            .flatten()
            .filter_map(|key| self.cards.get(key))
            .filter(|row| row.card.matches(card))
            .collect();
        match fitting.as_slice() {
            [] => Holder::Nobody,
            [one] => Holder::One(one),
            _ => Holder::Ambiguous(fitting.len()),
        }
    }
}

enum Holder<'s> {
    Nobody,
    One(&'s CardRow),
    Ambiguous(usize),
}

/// `external_id, birth_date, phone, email, position` from column `first` on.
fn details_from(r: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<PersonDetails> {
    Ok(PersonDetails {
        external_id: r.get(first)?,
        birth_date: r
            .get::<_, Option<String>>(first + 1)?
            .and_then(|s| s.parse::<NaiveDate>().ok()),
        phone: r.get(first + 2)?,
        email: r.get(first + 3)?,
        position: r.get(first + 4)?,
    })
}

pub(super) struct Plan {
    pub counts: RosterCounts,
    /// Row errors in row order; any one of them stops a commit.
    pub errors: Vec<RowIssue>,
    pub warnings: Vec<RowIssue>,
    pub new_classes: Vec<(ClassName, ClassId)>,
    pub changes: Vec<RowChange>,
    /// Every event the commit appends before the closing `roster_imported`, in order.
    pub events: Vec<EventBody>,
    pub guardians_created: u32,
    pub cards_bound: u32,
}

pub(super) fn plan(sheet: &Sheet, snap: &Snapshot, progress: &dyn Fn(Progress)) -> Plan {
    let mut errors: Vec<RowIssue> = Vec::new();
    let mut bad_rows: HashSet<u32> = HashSet::new();
    for issues in sheet.rows.iter().filter_map(|r| r.as_ref().err()) {
        errors.extend(issues.iter().cloned());
        if let Some(first) = issues.first() {
            bad_rows.insert(first.row);
        }
    }

    // Duplicate ids: every later row with an id already seen is an error.
    let mut first_row_of_id: HashMap<&str, u32> = HashMap::new();
    for (row, id) in &sheet.ids {
        if id.is_empty() {
            continue;
        }
        if let Some(first) = first_row_of_id.get(id.as_str()) {
            errors.push(RowIssue {
                row: *row,
                column: sheet.id_column.clone(),
                code: Reason::DuplicateId,
                value: id.clone(),
                message: format!("the id {id} is also on row {first}"),
            });
            bad_rows.insert(*row);
        } else {
            first_row_of_id.insert(id, *row);
        }
    }

    // Cards: twice in the file, or bound to someone else in the store.
    let mut warnings = Vec::new();
    let mut file_cards_by_low24: HashMap<u32, Vec<(CardId, u32)>> = HashMap::new();
    for row in sheet.rows.iter().filter_map(|r| r.as_ref().ok()) {
        let Some((card, raw)) = &row.card else {
            continue;
        };
        let card_issue = |code, message| RowIssue {
            row: row.row,
            column: sheet.card_column.clone(),
            code,
            value: raw.clone(),
            message,
        };
        let same_low24 = file_cards_by_low24.entry(card.low24()).or_default();
        if let Some((_, first)) = same_low24.iter().find(|(other, _)| other.matches(card)) {
            errors.push(card_issue(
                Reason::CardDuplicate,
                format!("the card is also on row {first}"),
            ));
            bad_rows.insert(row.row);
            continue;
        }
        same_low24.push((*card, row.row));
        let pupil = snap.pupils.get(&row.external_id).map(|p| p.id);
        match snap.holder_of(card) {
            Holder::Nobody => {}
            Holder::One(held) if Some(held.person_id) == pupil => {
                if held.state != CardState::Active {
                    warnings.push(card_issue(
                        Reason::CardNotActive,
                        format!(
                            "the pupil holds this card, but it is {}; the import leaves it so",
                            held.state.as_str()
                        ),
                    ));
                }
            }
            Holder::One(held) => {
                errors.push(card_issue(
                    Reason::CardTaken,
                    format!(
                        "the card belongs to {} ({}); mark it returned first",
                        held.holder,
                        held.state.as_str()
                    ),
                ));
                bad_rows.insert(row.row);
            }
            Holder::Ambiguous(n) => {
                errors.push(card_issue(
                    Reason::CardTaken,
                    format!("{n} bound cards end in these 24 bits; write the card's full number"),
                ));
                bad_rows.insert(row.row);
            }
        }
    }
    errors.sort_by_key(|e| e.row);

    let mut planner = Planner {
        snap,
        class_ids: snap.classes.clone(),
        new_classes: Vec::new(),
        events: Vec::new(),
        guardian_contacts: HashMap::new(),
        guardians_by_name: HashMap::new(),
        guardians_created: 0,
        cards_bound: 0,
        warnings,
        guardian_column: sheet.guardian_column.clone(),
    };
    for (id, g) in &snap.guardians {
        planner
            .guardians_by_name
            .entry(search_key(&g.name.display()))
            .or_default()
            .push(*id);
    }
    for ids in planner.guardians_by_name.values_mut() {
        ids.sort();
    }

    let mut counts = RosterCounts {
        rows: sheet.rows.len() as u32,
        error_rows: bad_rows.len() as u32,
        ..Default::default()
    };
    let mut changes = Vec::new();
    let mut pupil_events = Vec::new();
    let ticker = Ticker::new("check", sheet.rows.len() as u64, progress);
    for (done, row) in sheet.rows.iter().enumerate() {
        ticker.tick(done as u64 + 1);
        let Ok(row) = row else { continue };
        if bad_rows.contains(&row.row) {
            continue;
        }
        let change = planner.row(row, &mut pupil_events);
        match change.changes.first() {
            Some(Change::Enrol) => counts.create += 1,
            Some(_) => counts.update += 1,
            None => {
                counts.unchanged += 1;
                continue;
            }
        }
        changes.push(change);
    }

    let in_file: HashSet<&str> = sheet.ids.iter().map(|(_, id)| id.as_str()).collect();
    let active_in_file = snap
        .pupils
        .iter()
        .filter(|(id, p)| p.status == PersonStatus::Active && in_file.contains(id.as_str()))
        .count() as u32;
    counts.not_in_file = snap.active_pupils - active_in_file;

    let mut events = planner.events;
    events.extend(pupil_events);
    let mut warnings = planner.warnings;
    warnings.sort_by_key(|w| w.row);
    Plan {
        counts,
        errors,
        warnings,
        new_classes: planner.new_classes,
        changes,
        events,
        guardians_created: planner.guardians_created,
        cards_bound: planner.cards_bound,
    }
}

struct Planner<'s> {
    snap: &'s Snapshot,
    class_ids: HashMap<(u8, String), ClassId>,
    new_classes: Vec<(ClassName, ClassId)>,
    /// `ClassCreated` events; they go before every pupil's events.
    events: Vec<EventBody>,
    /// Guardians seen in this file: their contacts as the first row that named them left
    /// them. A later row never changes them again (so re-importing changes nothing).
    guardian_contacts: HashMap<PersonId, (Option<String>, Option<String>)>,
    /// Every guardian (stored, or created by an earlier row) by search key of the name.
    guardians_by_name: HashMap<String, Vec<PersonId>>,
    guardians_created: u32,
    cards_bound: u32,
    warnings: Vec<RowIssue>,
    guardian_column: String,
}

impl Planner<'_> {
    fn class_id(&mut self, class: &ClassName) -> ClassId {
        let key = (class.grade, class.letter.clone());
        if let Some(id) = self.class_ids.get(&key) {
            return *id;
        }
        let id = ClassId::new_v7();
        self.class_ids.insert(key, id);
        self.new_classes.push((class.clone(), id));
        self.events.push(EventBody::ClassCreated {
            class_id: id,
            grade: class.grade,
            letter: class.letter.clone(),
        });
        id
    }

    /// Appends to `events` what `row` changes; returns the changes (empty: none).
    fn row(&mut self, row: &ParsedRow, events: &mut Vec<EventBody>) -> RowChange {
        let class_id = self.class_id(&row.class);
        let mut change = RowChange {
            row: row.row,
            id: row.external_id.clone(),
            full_name: row.name.display(),
            class: row.class.to_string(),
            from_class: None,
            changes: Vec::new(),
        };
        let existing = self.snap.pupils.get(&row.external_id);
        let person_id = match existing {
            None => {
                let person_id = PersonId::new_v7();
                events.push(EventBody::PersonEnrolled {
                    person_id,
                    person_kind: PersonKind::Pupil,
                    name: row.name.clone(),
                    class_id: Some(class_id),
                    details: PersonDetails {
                        external_id: Some(row.external_id.clone()),
                        birth_date: row.birth_date,
                        ..Default::default()
                    },
                });
                change.changes.push(Change::Enrol);
                person_id
            }
            Some(pupil) => {
                if pupil.status == PersonStatus::Left {
                    events.push(EventBody::PersonStatusChanged {
                        person_id: pupil.id,
                        status: PersonStatus::Active,
                        reason: RETURN_REASON.into(),
                    });
                    change.changes.push(Change::Return);
                }
                // Details the file does not carry (a pupil's own phone, …) are kept.
                let details = PersonDetails {
                    birth_date: row.birth_date.or(pupil.details.birth_date),
                    ..pupil.details.clone()
                };
                if row.name != pupil.name || details != pupil.details {
                    events.push(EventBody::PersonUpdated {
                        person_id: pupil.id,
                        name: row.name.clone(),
                        details,
                    });
                    change.changes.push(Change::Details);
                }
                if pupil.class_id != Some(class_id) {
                    events.push(EventBody::PupilMoved {
                        person_id: pupil.id,
                        class_id,
                    });
                    change.from_class = pupil
                        .class_id
                        .and_then(|c| self.snap.class_names.get(&c).cloned());
                    change.changes.push(Change::Move);
                }
                pupil.id
            }
        };

        if let Some((card, raw)) = &row.card {
            // `plan` has already refused cards held by anyone else.
            let held =
                matches!(self.snap.holder_of(card), Holder::One(h) if h.person_id == person_id);
            if !held {
                events.push(EventBody::CardBound {
                    card: *card,
                    person_id,
                    raw: raw.clone(),
                });
                self.cards_bound += 1;
                change.changes.push(Change::BindCard);
            }
        }

        if let Some(guardian) = &row.guardian {
            self.guardian(
                row,
                guardian,
                person_id,
                existing.is_some(),
                events,
                &mut change,
            );
        }
        change
    }

    fn guardian(
        &mut self,
        row: &ParsedRow,
        input: &GuardianInput,
        pupil_id: PersonId,
        pupil_known: bool,
        events: &mut Vec<EventBody>,
        change: &mut RowChange,
    ) {
        let key = search_key(&input.name.display());
        let own: &[PersonId] = if pupil_known {
            self.snap
                .guardians_of
                .get(&pupil_id)
                .map_or(&[], Vec::as_slice)
        } else {
            &[]
        };
        let candidates = self
            .guardians_by_name
            .get(&key)
            .map_or(&[][..], Vec::as_slice);
        // The pupil's own guardian of that name; else a guardian of that name with the same
        // phone or e-mail (a sibling's parent); else a new person. A name alone is not
        // enough to share a guardian between pupils: namesakes are common.
        let linked = candidates.iter().find(|id| own.contains(id)).copied();
        let shared = linked.or_else(|| {
            candidates.iter().copied().find(|id| {
                let (phone, email) = self.contacts_of(*id);
                same_phone(phone.as_deref(), input.phone.as_deref())
                    || same_email(email.as_deref(), input.email.as_deref())
            })
        });
        let Some(guardian_id) = shared else {
            let guardian_id = PersonId::new_v7();
            events.push(EventBody::PersonEnrolled {
                person_id: guardian_id,
                person_kind: PersonKind::Guardian,
                name: input.name.clone(),
                class_id: None,
                details: PersonDetails {
                    phone: input.phone.clone(),
                    email: input.email.clone(),
                    ..Default::default()
                },
            });
            events.push(EventBody::GuardianLinked {
                guardian_id,
                pupil_id,
                relation: String::new(),
            });
            self.guardians_by_name
                .entry(key)
                .or_default()
                .push(guardian_id);
            self.guardian_contacts
                .insert(guardian_id, (input.phone.clone(), input.email.clone()));
            self.guardians_created += 1;
            change.changes.push(Change::AddGuardian);
            return;
        };
        if linked.is_none() {
            events.push(EventBody::GuardianLinked {
                guardian_id,
                pupil_id,
                relation: String::new(),
            });
            change.changes.push(Change::LinkGuardian);
        }
        let (phone, email) = self.contacts_of(guardian_id);
        // A contact written differently but the same (`8 (910)…` and `+7 910…`) is no change.
        let wanted_phone = match &input.phone {
            Some(p) if !same_phone(Some(p), phone.as_deref()) => Some(p.clone()),
            _ => phone.clone(),
        };
        let wanted_email = match &input.email {
            Some(e) if !same_email(Some(e), email.as_deref()) => Some(e.clone()),
            _ => email.clone(),
        };
        if (&wanted_phone, &wanted_email) == (&phone, &email) {
            self.guardian_contacts
                .entry(guardian_id)
                .or_insert((phone, email));
            return;
        }
        if self.guardian_contacts.contains_key(&guardian_id) {
            self.warnings.push(RowIssue {
                row: row.row,
                column: self.guardian_column.clone(),
                code: Reason::GuardianConflict,
                value: input.name.display(),
                message: format!(
                    "{} has other contacts on an earlier row; those are kept",
                    input.name.display()
                ),
            });
            return;
        }
        // A stored guardian whose phone or e-mail the file corrects (or fills in).
        let stored = self
            .snap
            .guardians
            .get(&guardian_id)
            .expect("only stored guardians lack contacts here");
        events.push(EventBody::PersonUpdated {
            person_id: guardian_id,
            name: stored.name.clone(),
            details: PersonDetails {
                phone: wanted_phone.clone(),
                email: wanted_email.clone(),
                ..stored.details.clone()
            },
        });
        self.guardian_contacts
            .insert(guardian_id, (wanted_phone, wanted_email));
        change.changes.push(Change::GuardianContacts);
    }

    /// A guardian's phone and e-mail as this import leaves them so far.
    fn contacts_of(&self, id: PersonId) -> (Option<String>, Option<String>) {
        if let Some(c) = self.guardian_contacts.get(&id) {
            return c.clone();
        }
        self.snap
            .guardians
            .get(&id)
            .map(|g| (g.details.phone.clone(), g.details.email.clone()))
            .unwrap_or_default()
    }
}

/// The same phone number however it is written: the last ten digits (a Russian number
/// without its `+7` or `8`).
fn same_phone(a: Option<&str>, b: Option<&str>) -> bool {
    let digits = |s: &str| {
        let d: String = s.chars().filter(char::is_ascii_digit).collect();
        d[d.len().saturating_sub(10)..].to_owned()
    };
    matches!((a, b), (Some(a), Some(b)) if digits(a) == digits(b))
}

fn same_email(a: Option<&str>, b: Option<&str>) -> bool {
    matches!((a, b), (Some(a), Some(b)) if a.eq_ignore_ascii_case(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_match_however_written() {
        assert!(same_phone(Some("+7 (910) 123-45-67"), Some("89101234567")));
        assert!(!same_phone(
            Some("+7 910 123-45-67"),
            Some("+7 910 123-45-68")
        ));
        assert!(!same_phone(None, Some("89101234567")));
        assert!(same_email(Some("Mama@Example.ru"), Some("mama@example.ru")));
    }
}
