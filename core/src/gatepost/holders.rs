//! [`Holders`]: every card and cardholder of the school in memory, for the gate post.
//!
//! A card at a gate is decided from memory instead of from SQLite: looking a card and its
//! holder up in the projections reads about a dozen pages, and in WAL mode every commit
//! of the gates' own journal writer empties the read connection's page cache, so each
//! card read them again from the file. The index is kept current by the `holder_changes`
//! log, which triggers on `persons`, `cards`, `staff_accounts`, `visitor_passes` and
//! `classes` fill in the same transaction as the change (migration 8; a person enrolled
//! is not logged: they come into the index with their first card): before each
//! decision the post reads the log past the last row it applied (one short B-tree) and
//! reloads just the people and cards named there. A gap in the log (pruned past what the
//! post had seen), a class change or a long run of changes (an import) reload the whole
//! index. Whoever writes — this workstation, an import, the sync — a blocked card is
//! refused from the very next decision.

use crate::access::{ClassRef, Holder};
use crate::domain::{CardState, ClassId, PersonId, PersonKind, PersonStatus};
use crate::error::CoreResult;
use crate::projection::parse_roles_column;
use crate::time::from_micros;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row};
use std::collections::HashMap;

use super::post::PersonView;

/// Changes applied one by one at most; more at once (an import) reload everything.
const CHANGES_APPLIED_ONE_BY_ONE_MAX: usize = 2_000;
/// Log rows kept when it is pruned: far more than a post falls behind between two cards.
pub(crate) const CHANGES_KEPT: i64 = 10_000;

/// The person's columns [`person_from_row`] reads, joined with their class and account.
const PERSON_SELECT: &str = "SELECT p.id, p.kind, p.surname, p.name, p.patronymic, p.class_id,
        p.status, p.position, p.photo_sha256, c.grade, c.letter, s.roles
     FROM persons p
     LEFT JOIN classes c ON c.id = p.class_id
     LEFT JOIN staff_accounts s ON s.person_id = p.id";

/// Open visitor passes' validity, newest pass last (so it wins in a map).
const OPEN_VISITOR_PASSES: &str = "SELECT person_id, valid_until_us FROM visitor_passes
     WHERE closed_at_us IS NULL";

/// A card as the index knows it.
#[derive(Debug, Clone, Copy)]
pub struct IndexedCard {
    pub state: CardState,
    pub person_id: Option<PersonId>,
}

/// The school's cards and cardholders, as of the last `holder_changes` row applied.
#[derive(Default)]
pub struct Holders {
    cards: HashMap<String, IndexedCard>,
    people: HashMap<PersonId, (PersonView, Holder)>,
    /// The last `holder_changes.seq` reflected here.
    seen: i64,
}

impl Holders {
    /// Everything, read in one snapshot.
    pub fn load(conn: &Connection) -> CoreResult<Holders> {
        let tx = conn.unchecked_transaction()?;
        let seen: i64 = tx.query_row(
            "SELECT coalesce(max(seq), 0) FROM holder_changes",
            [],
            |r| r.get(0),
        )?;
        let mut cards = HashMap::new();
        {
            let mut statement = tx.prepare("SELECT card_key, state, person_id FROM cards")?;
            let mut rows = statement.query([])?;
            while let Some(row) = rows.next()? {
                let (key, card) = card_from_row(row)?;
                cards.insert(key, card);
            }
        }
        let mut visitors: HashMap<String, i64> = HashMap::new();
        {
            let mut statement =
                tx.prepare(&format!("{OPEN_VISITOR_PASSES} ORDER BY issued_at_us"))?;
            let mut rows = statement.query([])?;
            while let Some(row) = rows.next()? {
                visitors.insert(row.get(0)?, row.get(1)?);
            }
        }
        let mut people = HashMap::new();
        {
            let mut statement = tx.prepare(PERSON_SELECT)?;
            let mut rows = statement.query([])?;
            while let Some(row) = rows.next()? {
                let id: String = row.get(0)?;
                let until = visitors.get(&id).copied();
                if let Some((view, holder)) = person_from_row(row, until)? {
                    people.insert(view.id, (view, holder));
                }
            }
        }
        tx.commit()?;
        Ok(Holders {
            cards,
            people,
            seen,
        })
    }

    /// Applies what `holder_changes` holds past the last row seen.
    pub fn catch_up(&mut self, conn: &Connection) -> CoreResult<()> {
        let changes: Vec<(i64, Option<String>, Option<String>)> = {
            // The limit is written into the text: a bound one makes SQLite compile the
            // statement again at every run.
            let mut statement = conn.prepare_cached(&format!(
                "SELECT seq, person_id, card_key FROM holder_changes WHERE seq > ?1
                 ORDER BY seq LIMIT {}",
                CHANGES_APPLIED_ONE_BY_ONE_MAX + 1
            ))?;
            let rows =
                statement.query_map([self.seen], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        let Some(&(first, ..)) = changes.first() else {
            return Ok(());
        };
        let whole = first != self.seen + 1
            || changes.len() > CHANGES_APPLIED_ONE_BY_ONE_MAX
            || changes.iter().any(|(_, p, c)| p.is_none() && c.is_none());
        if whole {
            *self = Holders::load(conn)?;
            return Ok(());
        }
        for (seq, person, card) in changes {
            if let Some(key) = card {
                self.reload_card(conn, key)?;
            }
            if let Some(id) = person.and_then(|p| p.parse::<PersonId>().ok()) {
                self.reload_person(conn, id)?;
            }
            self.seen = seq;
        }
        Ok(())
    }

    pub fn card(&self, card_key: &str) -> Option<IndexedCard> {
        self.cards.get(card_key).copied()
    }

    pub fn person(&self, person_id: PersonId) -> Option<&(PersonView, Holder)> {
        self.people.get(&person_id)
    }

    fn reload_card(&mut self, conn: &Connection, key: String) -> CoreResult<()> {
        let found = conn
            .prepare_cached("SELECT card_key, state, person_id FROM cards WHERE card_key = ?1")?
            .query_row([&key], card_from_row)
            .optional()?;
        // Someone new (an enrolment is not logged, their first card is) comes with it.
        let newcomer = found
            .as_ref()
            .and_then(|(_, card)| card.person_id)
            .filter(|id| !self.people.contains_key(id));
        match found {
            Some((key, card)) => self.cards.insert(key, card),
            None => self.cards.remove(&key),
        };
        if let Some(id) = newcomer {
            self.reload_person(conn, id)?;
        }
        Ok(())
    }

    fn reload_person(&mut self, conn: &Connection, id: PersonId) -> CoreResult<()> {
        let found = read_person(conn, id)?;
        match found {
            Some(found) => self.people.insert(id, found),
            None => self.people.remove(&id),
        };
        Ok(())
    }
}

/// One person with their class, account and (a visitor) open pass, from the projections.
pub fn read_person(conn: &Connection, id: PersonId) -> CoreResult<Option<(PersonView, Holder)>> {
    let id = id.to_string();
    let until: Option<i64> = conn
        .prepare_cached(&format!(
            "{OPEN_VISITOR_PASSES} AND person_id = ?1 ORDER BY issued_at_us DESC LIMIT 1"
        ))?
        .query_row([&id], |r| r.get(1))
        .optional()?;
    let mut statement = conn.prepare_cached(&format!("{PERSON_SELECT} WHERE p.id = ?1"))?;
    let mut rows = statement.query([&id])?;
    match rows.next()? {
        Some(row) => person_from_row(row, until),
        None => Ok(None),
    }
}

/// Keeps the newest [`CHANGES_KEPT`] rows of the log (a post further behind reloads).
pub fn prune_changes(conn: &Connection) -> rusqlite::Result<usize> {
    conn.execute(
        "DELETE FROM holder_changes WHERE seq <= (SELECT max(seq) FROM holder_changes) - ?1",
        [CHANGES_KEPT],
    )
}

fn card_from_row(row: &Row<'_>) -> rusqlite::Result<(String, IndexedCard)> {
    let key: String = row.get(0)?;
    let state: String = row.get(1)?;
    let person: Option<String> = row.get(2)?;
    Ok((
        key,
        IndexedCard {
            state: CardState::parse(&state).unwrap_or(CardState::Blocked),
            person_id: person.and_then(|p| p.parse().ok()),
        },
    ))
}

/// A row of [`PERSON_SELECT`] as the guard sees the person and as the rules see them;
/// `visitor_until` is the end of a visitor's open pass.
fn person_from_row(
    row: &Row<'_>,
    visitor_until: Option<i64>,
) -> CoreResult<Option<(PersonView, Holder)>> {
    let Ok(id) = row.get::<_, String>(0)?.parse::<PersonId>() else {
        return Ok(None);
    };
    let kind = PersonKind::parse(&row.get::<_, String>(1)?).unwrap_or(PersonKind::Pupil);
    let names = [
        row.get::<_, String>(2)?,
        row.get::<_, String>(3)?,
        row.get::<_, String>(4)?,
    ];
    let class_id: Option<String> = row.get(5)?;
    let status = PersonStatus::parse(&row.get::<_, String>(6)?).unwrap_or(PersonStatus::Suspended);
    let position: Option<String> = row.get(7)?;
    let photo: Option<String> = row.get(8)?;
    let grade: Option<u8> = row.get(9)?;
    let letter: Option<String> = row.get(10)?;
    let roles: Option<String> = row.get(11)?;
    let class = match (class_id.and_then(|c| c.parse::<ClassId>().ok()), grade) {
        (Some(id), Some(grade)) => Some(ClassRef { id, grade }),
        _ => None,
    };
    let holder = match kind {
        PersonKind::Pupil => Holder::Pupil { status, class },
        PersonKind::Staff => Holder::Staff {
            status,
            roles: roles.as_deref().map(parse_roles_column).unwrap_or_default(),
        },
        PersonKind::Guardian => Holder::Guardian { status },
        // A visitor without an open pass has none left: it ran out when it closed.
        PersonKind::Visitor => Holder::Visitor {
            valid_until: visitor_until.map_or(DateTime::<Utc>::MIN_UTC, from_micros),
        },
    };
    let full_name = names
        .iter()
        .filter(|part| !part.is_empty())
        .cloned()
        .collect::<Vec<_>>()
        .join(" ");
    let class_name = grade.zip(letter).map(|(g, l)| format!("{g}{l}"));
    Ok(Some((
        PersonView {
            id,
            full_name,
            kind,
            class_name,
            position,
            status,
            photo_sha256: photo,
        },
        holder,
    )))
}
