//! The library desk (Библиотека) at the workstation: the catalogue (titles and copies),
//! lending by card or by reader, returns, renewals, a librarian's marks (lost, written
//! off, found), a reader's loans and the overdue list by class. The rules are
//! `crate::library`'s; this file reads the projections they need and appends the events.
//!
//! A refused loan is an error with a stable `Refusal` code naming the copy (`barcode`);
//! an issue of several copies is all or nothing, in one write.

use super::{check_title, class_label, name_at, parse_col, Workstation};
use crate::domain::{search_key, CardState, ClassId, PersonId};
use crate::error::{CoreError, CoreResult, Refusal};
use crate::events::EventBody;
use crate::library::{
    days_overdue, issue_due, renew_due, AgeMark, BookCopy, BookTitle, CopyState, Isbn, ItemType,
    LoanId, LoanRefusal, Reader, ReaderCategory, TitleId, RENEWALS_MAX,
};
use crate::time::from_micros;
use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Longest title, publisher or subject.
pub const BOOK_TEXT_LEN_MAX_CHARS: usize = 300;
/// Longest author's name.
pub const AUTHOR_LEN_MAX_CHARS: usize = 200;
/// Authors of one title: a collection lists a few, never dozens.
pub const AUTHORS_MAX: usize = 20;
/// Longest inventory barcode or shelf location.
pub const BARCODE_LEN_MAX_CHARS: usize = 64;
pub const LOCATION_LEN_MAX_CHARS: usize = 120;
/// Longest note on a return or a mark.
pub const LIBRARY_NOTE_LEN_MAX_CHARS: usize = 300;
/// Copies lent at once: a pupil's textbooks for a year are a dozen or two.
pub const ISSUE_BARCODES_MAX: usize = 40;
/// Titles one search returns.
pub const CATALOGUE_RESULTS_MAX: u32 = 100;
/// Closed loans listed on a reader's record (newest first).
pub const READER_HISTORY_MAX: u32 = 200;
/// Overdue loans listed at once: a whole school's overdue books fit.
pub const OVERDUE_LISTED_MAX: u32 = 5000;
/// A reader is reminded of one overdue loan at most once in this many days.
pub const OVERDUE_NOTICE_REPEAT_DAYS: i64 = 7;
/// The earliest year of a printed book (Gutenberg) and the latest a catalogue takes.
pub const BOOK_YEAR_MIN: u16 = 1450;
pub const BOOK_YEAR_MAX: u16 = 2100;

/// The reader at the desk: by the card they showed, or picked from a list.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ReaderWho {
    #[serde(default)]
    pub card: Option<String>,
    #[serde(default)]
    pub person_id: Option<PersonId>,
}

/// What a librarian may set a copy to; a loan sets `on_loan`, a return `on_shelf`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CopyMark {
    Lost,
    WrittenOff,
    /// A lost copy found, or a copy back from repair.
    OnShelf,
}

impl CopyMark {
    fn state(self) -> CopyState {
        match self {
            CopyMark::Lost => CopyState::Lost,
            CopyMark::WrittenOff => CopyState::WrittenOff,
            CopyMark::OnShelf => CopyState::OnShelf,
        }
    }
}

/// A title's fields as the librarian typed them.
#[derive(Debug, Clone, Deserialize)]
pub struct TitleInput {
    pub title: String,
    #[serde(default)]
    pub authors: Vec<String>,
    #[serde(default)]
    pub isbn: Option<String>,
    #[serde(default)]
    pub publisher: String,
    #[serde(default)]
    pub year: Option<u16>,
    #[serde(default)]
    pub subject: String,
    pub age_mark: AgeMark,
}

impl Workstation {
    pub(super) fn save_book_title(
        &mut self,
        actor: &str,
        title_id: Option<TitleId>,
        input: TitleInput,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        let title = check_title("title", &input.title, BOOK_TEXT_LEN_MAX_CHARS)?;
        if input.authors.len() > AUTHORS_MAX {
            return Err(
                CoreError::invalid("authors", Refusal::TooMany, "too many authors")
                    .with("max", AUTHORS_MAX),
            );
        }
        let authors = input
            .authors
            .iter()
            .filter(|a| !a.trim().is_empty())
            .map(|a| check_title("authors", a, AUTHOR_LEN_MAX_CHARS))
            .collect::<CoreResult<Vec<_>>>()?;
        let isbn = match input.isbn.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(typed) => Some(Isbn::parse(typed).map_err(|detail| {
                CoreError::invalid("isbn", Refusal::BadIsbn, detail.clone())
                    .with("value", typed)
                    .with("detail", detail)
            })?),
        };
        if let Some(year) = input.year {
            if !(BOOK_YEAR_MIN..=BOOK_YEAR_MAX).contains(&year) {
                return Err(CoreError::invalid(
                    "year",
                    Refusal::OutOfRange,
                    "not a publication year",
                )
                .with("value", year)
                .with("min", BOOK_YEAR_MIN)
                .with("max", BOOK_YEAR_MAX));
            }
        }
        let optional = |field: &'static str, text: &str| -> CoreResult<String> {
            if text.trim().is_empty() {
                Ok(String::new())
            } else {
                check_title(field, text, BOOK_TEXT_LEN_MAX_CHARS)
            }
        };
        let book = BookTitle {
            title_id: title_id.unwrap_or_else(TitleId::new_v7),
            title,
            authors,
            isbn,
            publisher: optional("publisher", &input.publisher)?,
            year: input.year,
            subject: optional("subject", &input.subject)?,
            age_mark: input.age_mark,
        };
        self.store.write(|w| {
            if title_id.is_some() && !title_exists(w.conn(), book.title_id)? {
                return Err(CoreError::not_found(format!("title {}", book.title_id)));
            }
            w.append(
                actor,
                now,
                EventBody::BookTitleSaved {
                    title: book.clone(),
                },
            )?;
            Ok(())
        })?;
        Ok(json!({ "title": book }))
    }

    pub(super) fn add_book_copy(
        &mut self,
        actor: &str,
        title_id: TitleId,
        barcode: &str,
        location: &str,
        item_type: ItemType,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        let barcode = check_barcode(barcode)?;
        let location = if location.trim().is_empty() {
            String::new()
        } else {
            check_title("location", location, LOCATION_LEN_MAX_CHARS)?
        };
        let copy = BookCopy {
            barcode,
            title_id,
            location,
            item_type,
        };
        self.store.write(|w| {
            if !title_exists(w.conn(), title_id)? {
                return Err(CoreError::not_found(format!("title {title_id}")));
            }
            if copy_row(w.conn(), &copy.barcode)?.is_some() {
                return Err(CoreError::conflict(
                    Refusal::BarcodeTaken,
                    format!("the barcode {} is another copy's", copy.barcode),
                )
                .with("barcode", &copy.barcode));
            }
            w.append(actor, now, EventBody::BookCopyAdded { copy: copy.clone() })?;
            Ok(())
        })?;
        Ok(json!({ "copy": copy, "state": CopyState::OnShelf }))
    }

    /// Titles whose title or authors contain the query, or whose ISBN or a copy's
    /// barcode is it; each with its copies, their state and, on loan, the due date.
    pub(super) fn search_catalogue(&self, query: &str, limit: Option<u32>) -> CoreResult<Value> {
        let limit = limit
            .unwrap_or(CATALOGUE_RESULTS_MAX)
            .min(CATALOGUE_RESULTS_MAX);
        let conn = self.store.conn();
        let words = search_key(query);
        let digits: String = query.chars().filter(char::is_ascii_alphanumeric).collect();
        let isbn = Isbn::parse(query).ok().map(|i| i.as_str().to_owned());
        let mut st = conn.prepare_cached(
            "SELECT title_id, title, authors, isbn, publisher, year, subject, age_mark
             FROM library_titles t
             WHERE instr(search_key, ?1) > 0
                OR (?2 IS NOT NULL AND isbn = ?2)
                OR (length(?3) >= 4 AND instr(isbn, ?3) > 0)
                OR title_id = (SELECT title_id FROM library_copies WHERE barcode = ?4)
             ORDER BY search_key, title_id
             LIMIT ?5",
        )?;
        let titles = st
            .query_map(
                params![words, isbn, digits, query.trim(), limit],
                title_json,
            )?
            .collect::<Result<Vec<_>, _>>()?;
        let mut out = Vec::with_capacity(titles.len());
        for (title_id, mut title) in titles {
            title["copies"] = Value::Array(copies_of(conn, &title_id)?);
            out.push(title);
        }
        Ok(json!({ "titles": out }))
    }

    pub(super) fn issue_books(
        &mut self,
        actor: &str,
        who: ReaderWho,
        barcodes: Vec<String>,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        if barcodes.is_empty() {
            return Err(CoreError::invalid(
                "barcodes",
                Refusal::Empty,
                "no copies to lend",
            ));
        }
        if barcodes.len() > ISSUE_BARCODES_MAX {
            return Err(
                CoreError::invalid("barcodes", Refusal::TooMany, "too many copies")
                    .with("max", ISSUE_BARCODES_MAX),
            );
        }
        let mut wanted: Vec<String> = Vec::with_capacity(barcodes.len());
        for b in &barcodes {
            let b = check_barcode(b)?;
            if !wanted.contains(&b) {
                wanted.push(b);
            }
        }
        let today = self.school_tz()?.school_date(now).0;
        self.store.write(|w| {
            let (person_id, full_name, mut reader) = identify_reader(w.conn(), &who, today)?;
            let mut loans = Vec::with_capacity(wanted.len());
            for barcode in &wanted {
                let copy = copy_row(w.conn(), barcode)?
                    .ok_or_else(|| refusal(LoanRefusal::CopyNotFound, barcode))?;
                let due = issue_due(&reader, copy.state, copy.item_type, copy.age_mark, today)
                    .map_err(|r| {
                        refusal(r, barcode)
                            .with("copy_state", copy.state.as_str())
                            .with("mark", copy.age_mark.as_str())
                            .with("age", reader.age_years(today).unwrap_or_default())
                            .with("max", reader.books_max())
                            .with("overdue", reader.overdue)
                    })?;
                if copy.item_type != ItemType::Textbook {
                    reader.books_held += 1;
                }
                loans.push((LoanId::new_v7(), barcode.clone(), copy.title, due));
            }
            for (loan_id, barcode, _, due) in &loans {
                w.append(
                    actor,
                    now,
                    EventBody::BookIssued {
                        loan_id: *loan_id,
                        barcode: barcode.clone(),
                        person_id,
                        due: *due,
                    },
                )?;
            }
            Ok(json!({
                "person_id": person_id,
                "name": full_name,
                "loans": loans.iter().map(|(loan_id, barcode, title, due)| json!({
                    "loan_id": loan_id, "barcode": barcode, "title": title, "due": due,
                })).collect::<Vec<_>>(),
            }))
        })
    }

    pub(super) fn return_book(
        &mut self,
        actor: &str,
        barcode: &str,
        note: &str,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        let barcode = check_barcode(barcode)?;
        let note = check_note(note)?;
        let today = self.school_tz()?.school_date(now).0;
        self.store.write(|w| {
            let open = open_loans_by_barcode(w.conn(), &barcode)?;
            let Some(loan) = open.first() else {
                return Err(match copy_row(w.conn(), &barcode)? {
                    None => refusal(LoanRefusal::CopyNotFound, &barcode),
                    Some(_) => CoreError::conflict(
                        Refusal::CopyNotOnLoan,
                        format!("the copy {barcode} is not on loan"),
                    )
                    .with("barcode", &barcode),
                });
            };
            // One physical copy has one loan; two appear only when two desks lent it while
            // apart. Whoever the projection thought held it, the copy is back: every open
            // loan of it closes, the latest answered for.
            for stale in open.iter().rev() {
                w.append(
                    actor,
                    now,
                    EventBody::BookReturned {
                        loan_id: stale.loan_id,
                        barcode: barcode.clone(),
                        note: note.clone(),
                    },
                )?;
            }
            Ok(json!({
                "loan_id": loan.loan_id, "barcode": barcode, "person_id": loan.person_id,
                "due": loan.due, "days_overdue": days_overdue(loan.due, today),
            }))
        })
    }

    pub(super) fn renew_loan(
        &mut self,
        actor: &str,
        loan_id: LoanId,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        let today = self.school_tz()?.school_date(now).0;
        self.store.write(|w| {
            let loan = open_loan(w.conn(), loan_id)?
                .ok_or_else(|| CoreError::not_found(format!("open loan {loan_id}")))?;
            let (_, _, reader) = identify_reader(
                w.conn(),
                &ReaderWho {
                    card: None,
                    person_id: Some(loan.person_id),
                },
                today,
            )?;
            let copy = copy_row(w.conn(), &loan.barcode)?
                .ok_or_else(|| refusal(LoanRefusal::CopyNotFound, &loan.barcode))?;
            let due = renew_due(&reader, copy.item_type, loan.renewals, today).map_err(|r| {
                refusal(r, &loan.barcode)
                    .with("max", RENEWALS_MAX)
                    .with("state", "inactive")
            })?;
            w.append(actor, now, EventBody::BookRenewed { loan_id, due })?;
            Ok(json!({
                "loan_id": loan_id, "barcode": loan.barcode, "due": due,
                "renewals": loan.renewals + 1, "renewals_max": RENEWALS_MAX,
            }))
        })
    }

    pub(super) fn mark_copy(
        &mut self,
        actor: &str,
        barcode: &str,
        mark: CopyMark,
        note: &str,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        let barcode = check_barcode(barcode)?;
        let note = if note.trim().is_empty() {
            String::new()
        } else {
            check_note(note)?
        };
        let state = mark.state();
        self.store.write(|w| {
            let copy = copy_row(w.conn(), &barcode)?
                .ok_or_else(|| refusal(LoanRefusal::CopyNotFound, &barcode))?;
            if copy.state == state {
                return Err(CoreError::conflict(
                    Refusal::CopyStateUnchanged,
                    format!("the copy is {} already", state.as_str()),
                )
                .with("barcode", &barcode)
                .with("copy_state", state.as_str()));
            }
            if copy.state == CopyState::OnLoan && state == CopyState::OnShelf {
                return Err(CoreError::conflict(
                    Refusal::CopyOnLoan,
                    "the copy is on loan: take it back first",
                )
                .with("barcode", &barcode));
            }
            let closed = open_loans_by_barcode(w.conn(), &barcode)?
                .first()
                .map(|l| l.loan_id);
            w.append(
                actor,
                now,
                EventBody::BookCopyStateChanged {
                    barcode: barcode.clone(),
                    state,
                    note: note.clone(),
                },
            )?;
            Ok(json!({ "barcode": barcode, "state": state, "closed_loan": closed }))
        })
    }

    /// A reader's loans: the open ones (with days overdue) and the history, newest first.
    pub(super) fn reader_loans(
        &self,
        person_id: PersonId,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        let today = self.school_tz()?.school_date(now).0;
        let conn = self.store.conn();
        let name: Option<String> = conn
            .query_row(
                "SELECT surname, name, patronymic FROM persons WHERE id = ?1",
                [person_id.to_string()],
                |r| name_at(r, 0),
            )
            .optional()?;
        let name = name.ok_or_else(|| CoreError::not_found(format!("person {person_id}")))?;
        let mut st = conn.prepare_cached(
            "SELECT l.loan_id, l.barcode, t.title, t.authors, l.issued_at_us, l.due, l.renewals,
                    l.returned_at_us, l.outcome, l.note
             FROM library_loans l
             LEFT JOIN library_copies c ON c.barcode = l.barcode
             LEFT JOIN library_titles t ON t.title_id = c.title_id
             WHERE l.person_id = ?1
             ORDER BY l.returned_at_us IS NOT NULL, l.returned_at_us DESC, l.issued_at_us DESC, l.loan_id
             LIMIT ?2",
        )?;
        let rows = st
            .query_map(params![person_id.to_string(), READER_HISTORY_MAX], |r| {
                let due: NaiveDate = parse_col(r, 5)?;
                let returned: Option<i64> = r.get(7)?;
                let authors: Option<String> = r.get(3)?;
                Ok((
                    returned.is_none(),
                    json!({
                        "loan_id": r.get::<_, String>(0)?, "barcode": r.get::<_, String>(1)?,
                        "title": r.get::<_, Option<String>>(2)?,
                        "authors": authors.and_then(|a| serde_json::from_str::<Value>(&a).ok()),
                        "issued_at": from_micros(r.get(4)?), "due": due,
                        "renewals": r.get::<_, u32>(6)?,
                        "returned_at": returned.map(from_micros),
                        "outcome": r.get::<_, Option<String>>(8)?,
                        "note": r.get::<_, String>(9)?,
                        "days_overdue": if returned.is_none() { days_overdue(due, today) } else { 0 },
                    }),
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let (current, history): (Vec<_>, Vec<_>) = rows.into_iter().partition(|(open, _)| *open);
        Ok(json!({
            "person_id": person_id,
            "name": name,
            "current": current.into_iter().map(|(_, v)| v).collect::<Vec<_>>(),
            "history": history.into_iter().map(|(_, v)| v).collect::<Vec<_>>(),
        }))
    }

    /// Reminds the readers of overdue loans (of one class, or all): one
    /// `book_overdue_notice` per loan not reminded of in the last
    /// [`OVERDUE_NOTICE_REPEAT_DAYS`] days, all in one write. The central server shows
    /// them to the parents and notifies them; offline they wait in the journal like any
    /// other event.
    pub(super) fn send_overdue_notices(
        &mut self,
        actor: &str,
        class_id: Option<ClassId>,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        let today = self.school_tz()?.school_date(now).0;
        let quiet_since =
            crate::time::to_micros(now - chrono::Duration::days(OVERDUE_NOTICE_REPEAT_DAYS));
        self.store.write(|w| {
            let due_loans: Vec<(LoanId, PersonId, String, String, NaiveDate, bool)> = {
                let mut st = w.conn().prepare_cached(
                    "SELECT l.loan_id, l.person_id, l.barcode, coalesce(t.title, ''), l.due,
                            l.noticed_at_us IS NOT NULL AND l.noticed_at_us > ?3
                     FROM library_loans l
                     JOIN persons p ON p.id = l.person_id
                     LEFT JOIN library_copies c ON c.barcode = l.barcode
                     LEFT JOIN library_titles t ON t.title_id = c.title_id
                     WHERE l.returned_at_us IS NULL AND l.due < ?1
                       AND (?2 IS NULL OR p.class_id = ?2)
                     ORDER BY l.due, l.loan_id
                     LIMIT ?4",
                )?;
                let rows = st.query_map(
                    params![
                        today.to_string(),
                        class_id.map(|c| c.to_string()),
                        quiet_since,
                        OVERDUE_LISTED_MAX
                    ],
                    |r| {
                        Ok((
                            parse_col(r, 0)?,
                            parse_col(r, 1)?,
                            r.get(2)?,
                            r.get(3)?,
                            parse_col(r, 4)?,
                            r.get(5)?,
                        ))
                    },
                )?;
                rows.collect::<Result<_, _>>()?
            };
            let mut sent = 0u32;
            let mut recent = 0u32;
            for (loan_id, person_id, barcode, title, due, reminded) in due_loans {
                if reminded {
                    recent += 1;
                    continue;
                }
                w.append(
                    actor,
                    now,
                    EventBody::BookOverdueNotice {
                        loan_id,
                        person_id,
                        barcode,
                        title,
                        due,
                        days_overdue: days_overdue(due, today),
                    },
                )?;
                sent += 1;
            }
            Ok(json!({
                "sent": sent, "reminded_recently": recent,
                "repeat_days": OVERDUE_NOTICE_REPEAT_DAYS,
            }))
        })
    }

    /// A class's loans (учебники класса): its active pupils by name, each with their open
    /// loans, and per title how many of the pupils hold a copy of it (most held first) — the screen that
    /// hands a class set out in September and collects it in May.
    pub(super) fn class_loans(&self, class_id: ClassId, now: DateTime<Utc>) -> CoreResult<Value> {
        let today = self.school_tz()?.school_date(now).0;
        let conn = self.store.conn();
        let class: Option<(u8, String)> = conn
            .query_row(
                "SELECT grade, letter FROM classes WHERE id = ?1",
                [class_id.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let (grade, letter) =
            class.ok_or_else(|| CoreError::not_found(format!("class {class_id}")))?;
        let mut st = conn.prepare_cached(
            "SELECT p.id, p.surname, p.name, p.patronymic FROM persons p
             WHERE p.class_id = ?1 AND p.kind = 'pupil' AND p.status = 'active'
             ORDER BY p.search_key, p.id",
        )?;
        let mut pupils: Vec<(String, String, Vec<Value>)> = st
            .query_map([class_id.to_string()], |r| {
                Ok((r.get(0)?, name_at(r, 1)?, Vec::new()))
            })?
            .collect::<Result<_, _>>()?;
        let at: BTreeMap<String, usize> = pupils
            .iter()
            .enumerate()
            .map(|(i, (id, _, _))| (id.clone(), i))
            .collect();
        let mut st = conn.prepare_cached(
            "SELECT l.person_id, l.loan_id, l.barcode, c.title_id, t.title, c.item_type, l.due
             FROM library_loans l
             JOIN persons p ON p.id = l.person_id
             LEFT JOIN library_copies c ON c.barcode = l.barcode
             LEFT JOIN library_titles t ON t.title_id = c.title_id
             WHERE l.returned_at_us IS NULL AND p.class_id = ?1
             ORDER BY t.title, l.barcode",
        )?;
        // Per title: its name and the pupils holding a copy (a pupil with two counts once).
        let mut titles: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new();
        let rows = st.query_map([class_id.to_string()], |r| {
            let due: NaiveDate = parse_col(r, 6)?;
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, Option<String>>(4)?,
                json!({
                    "loan_id": r.get::<_, String>(1)?, "barcode": r.get::<_, String>(2)?,
                    "title_id": r.get::<_, Option<String>>(3)?,
                    "title": r.get::<_, Option<String>>(4)?,
                    "item_type": r.get::<_, Option<String>>(5)?,
                    "due": due, "days_overdue": days_overdue(due, today),
                }),
            ))
        })?;
        for row in rows {
            let (person_id, title_id, title, loan) = row?;
            // A pupil who left the class's active list keeps their loans off this screen.
            let Some(&i) = at.get(&person_id) else {
                continue;
            };
            pupils[i].2.push(loan);
            if let Some(title_id) = title_id {
                let entry = titles
                    .entry(title_id)
                    .or_insert_with(|| (title.unwrap_or_default(), Vec::new()));
                if !entry.1.contains(&person_id) {
                    entry.1.push(person_id);
                }
            }
        }
        let mut summary: Vec<Value> = titles
            .into_iter()
            .map(|(title_id, (title, holders))| {
                json!({ "title_id": title_id, "title": title, "pupils": holders.len() })
            })
            .collect();
        summary.sort_by(|a, b| {
            b["pupils"]
                .as_u64()
                .cmp(&a["pupils"].as_u64())
                .then_with(|| a["title"].as_str().cmp(&b["title"].as_str()))
        });
        Ok(json!({
            "class_id": class_id,
            "class_name": format!("{grade}{letter}"),
            "date": today,
            "pupils": pupils.into_iter().map(|(person_id, name, loans)| json!({
                "person_id": person_id, "name": name, "loans": loans,
            })).collect::<Vec<_>>(),
            "titles": summary,
        }))
    }

    /// Open loans past their due date, by class (staff and others last, `class_id` null),
    /// each with its days overdue.
    pub(super) fn overdue_list(
        &self,
        class_id: Option<ClassId>,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        let today = self.school_tz()?.school_date(now).0;
        let conn = self.store.conn();
        let mut st = conn.prepare_cached(
            "SELECT l.loan_id, l.person_id, p.surname, p.name, p.patronymic, p.class_id,
                    k.grade, k.letter, l.barcode, t.title, l.due, l.noticed_at_us
             FROM library_loans l
             JOIN persons p ON p.id = l.person_id
             LEFT JOIN classes k ON k.id = p.class_id
             LEFT JOIN library_copies c ON c.barcode = l.barcode
             LEFT JOIN library_titles t ON t.title_id = c.title_id
             WHERE l.returned_at_us IS NULL AND l.due < ?1
               AND (?2 IS NULL OR p.class_id = ?2)
             ORDER BY k.grade IS NULL, k.grade, k.letter, p.search_key, l.due
             LIMIT ?3",
        )?;
        let mut classes: Vec<(Option<String>, Option<String>, Vec<Value>)> = Vec::new();
        let mut by_class: BTreeMap<Option<String>, usize> = BTreeMap::new();
        let rows = st.query_map(
            params![
                today.to_string(),
                class_id.map(|c| c.to_string()),
                OVERDUE_LISTED_MAX
            ],
            |r| {
                let due: NaiveDate = parse_col(r, 10)?;
                Ok((
                    r.get::<_, Option<String>>(5)?,
                    class_label(r.get(6)?, r.get(7)?),
                    json!({
                        "loan_id": r.get::<_, String>(0)?, "person_id": r.get::<_, String>(1)?,
                        "name": name_at(r, 2)?, "barcode": r.get::<_, String>(8)?,
                        "title": r.get::<_, Option<String>>(9)?, "due": due,
                        "days_overdue": days_overdue(due, today),
                        "noticed_at": r.get::<_, Option<i64>>(11)?.map(from_micros),
                    }),
                ))
            },
        )?;
        for row in rows {
            let (class, label, loan) = row?;
            let i = *by_class.entry(class.clone()).or_insert_with(|| {
                classes.push((class, label, Vec::new()));
                classes.len() - 1
            });
            classes[i].2.push(loan);
        }
        Ok(json!({
            "date": today,
            "classes": classes.into_iter().map(|(class_id, class_name, loans)| json!({
                "class_id": class_id, "class_name": class_name, "loans": loans,
            })).collect::<Vec<_>>(),
        }))
    }
}

/// A copy as lending needs it.
struct CopyRow {
    title: String,
    item_type: ItemType,
    state: CopyState,
    age_mark: AgeMark,
}

struct OpenLoan {
    loan_id: LoanId,
    barcode: String,
    person_id: PersonId,
    due: NaiveDate,
    renewals: u32,
}

fn check_barcode(barcode: &str) -> CoreResult<String> {
    check_title("barcode", barcode, BARCODE_LEN_MAX_CHARS)
}

fn check_note(note: &str) -> CoreResult<String> {
    if note.trim().is_empty() {
        return Ok(String::new());
    }
    check_title("note", note, LIBRARY_NOTE_LEN_MAX_CHARS)
}

/// A loan rule's refusal as the command's error, naming the copy.
fn refusal(r: LoanRefusal, barcode: &str) -> CoreError {
    let reason = match r {
        LoanRefusal::CopyNotFound => Refusal::CopyNotFound,
        LoanRefusal::CopyNotOnShelf => Refusal::CopyNotOnShelf,
        LoanRefusal::NotLendable => Refusal::NotLendable,
        LoanRefusal::RenewLimit => Refusal::RenewLimit,
        LoanRefusal::AgeMark => Refusal::AgeMark,
        LoanRefusal::ReaderBlocked => Refusal::ReaderBlocked,
        LoanRefusal::BooksLimit => Refusal::BooksLimit,
        LoanRefusal::HasOverdue => Refusal::HasOverdue,
    };
    CoreError::conflict(reason, format!("{barcode}: {}", r.as_str())).with("barcode", barcode)
}

fn title_exists(conn: &Connection, title_id: TitleId) -> CoreResult<bool> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM library_titles WHERE title_id = ?1",
            [title_id.to_string()],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

fn copy_row(conn: &Connection, barcode: &str) -> CoreResult<Option<CopyRow>> {
    let row = conn
        .query_row(
            "SELECT t.title, c.item_type, c.state, t.age_mark
             FROM library_copies c JOIN library_titles t ON t.title_id = c.title_id
             WHERE c.barcode = ?1",
            [barcode],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            },
        )
        .optional()?;
    Ok(row.map(|(title, item, state, mark)| CopyRow {
        title,
        item_type: ItemType::parse(&item).unwrap_or(ItemType::Other),
        state: CopyState::parse(&state).unwrap_or(CopyState::WrittenOff),
        age_mark: AgeMark::parse(&mark).unwrap_or(AgeMark::Eighteen),
    }))
}

const OPEN_LOAN_SELECT: &str =
    "SELECT loan_id, barcode, person_id, due, renewals FROM library_loans WHERE returned_at_us IS NULL";

fn open_loan_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<OpenLoan> {
    Ok(OpenLoan {
        loan_id: parse_col(r, 0)?,
        barcode: r.get(1)?,
        person_id: parse_col(r, 2)?,
        due: parse_col(r, 3)?,
        renewals: r.get(4)?,
    })
}

fn open_loan(conn: &Connection, loan_id: LoanId) -> CoreResult<Option<OpenLoan>> {
    Ok(conn
        .query_row(
            &format!("{OPEN_LOAN_SELECT} AND loan_id = ?1"),
            [loan_id.to_string()],
            open_loan_row,
        )
        .optional()?)
}

/// The open loans of a copy, the latest first: one, or none — two only when two desks
/// lent the copy while cut off from each other.
fn open_loans_by_barcode(conn: &Connection, barcode: &str) -> CoreResult<Vec<OpenLoan>> {
    let mut st = conn.prepare_cached(&format!(
        "{OPEN_LOAN_SELECT} AND barcode = ?1 ORDER BY issued_at_us DESC, loan_id DESC"
    ))?;
    let loans = st
        .query_map([barcode], open_loan_row)?
        .collect::<Result<_, _>>()?;
    Ok(loans)
}

/// The reader at the desk, by card or by id: a pupil or a staff member, active (and, by
/// card, the card active too), with what the age mark and the limits need.
fn identify_reader(
    conn: &Connection,
    who: &ReaderWho,
    today: NaiveDate,
) -> CoreResult<(PersonId, String, Reader)> {
    let (person_id, card_active) = match (&who.card, who.person_id) {
        (Some(card), _) => {
            let card = super::check_card(card)?;
            match super::find_card_holder(conn, &card)? {
                Some(h) => (h.person_id, h.state == CardState::Active),
                None => return Err(CoreError::not_found(format!("card {card}"))),
            }
        }
        (None, Some(person_id)) => (person_id, true),
        (None, None) => {
            return Err(CoreError::invalid(
                "card",
                Refusal::Empty,
                "a card or a reader is needed",
            ))
        }
    };
    let row = conn
        .query_row(
            "SELECT p.surname, p.name, p.patronymic, p.kind, p.status, p.birth_date, k.grade
             FROM persons p LEFT JOIN classes k ON k.id = p.class_id WHERE p.id = ?1",
            [person_id.to_string()],
            |r| {
                Ok((
                    name_at(r, 0)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, Option<u8>>(6)?,
                ))
            },
        )
        .optional()?;
    let (name, kind, status, birth, grade) =
        row.ok_or_else(|| CoreError::not_found(format!("person {person_id}")))?;
    let category = match kind.as_str() {
        "pupil" => ReaderCategory::Pupil,
        "staff" => ReaderCategory::Staff,
        _ => {
            return Err(CoreError::invalid(
                "person_id",
                Refusal::WrongPersonKind,
                "the library lends to pupils and staff",
            )
            .with("expected", "pupil"))
        }
    };
    let active = card_active && status == "active";
    if !active {
        let state = if status == "active" {
            "card"
        } else {
            status.as_str()
        };
        return Err(CoreError::conflict(
            Refusal::ReaderBlocked,
            "the reader or their card is not active",
        )
        .with("state", state));
    }
    let (books_held, overdue): (u32, u32) = conn.query_row(
        "SELECT count(*) FILTER (WHERE c.item_type IS NOT 'textbook'),
                count(*) FILTER (WHERE l.due < ?2)
         FROM library_loans l LEFT JOIN library_copies c ON c.barcode = l.barcode
         WHERE l.person_id = ?1 AND l.returned_at_us IS NULL",
        params![person_id.to_string(), today.to_string()],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let reader = Reader {
        category,
        active,
        birth_date: birth.and_then(|b| b.parse().ok()),
        grade,
        books_held,
        overdue,
    };
    Ok((person_id, name, reader))
}

fn title_json(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, Value)> {
    let title_id: String = r.get(0)?;
    let authors: String = r.get(2)?;
    Ok((
        title_id.clone(),
        json!({
            "title_id": title_id, "title": r.get::<_, String>(1)?,
            "authors": serde_json::from_str::<Value>(&authors).unwrap_or(Value::Null),
            "isbn": r.get::<_, Option<String>>(3)?, "publisher": r.get::<_, String>(4)?,
            "year": r.get::<_, Option<u16>>(5)?, "subject": r.get::<_, String>(6)?,
            "age_mark": r.get::<_, String>(7)?,
        }),
    ))
}

fn copies_of(conn: &Connection, title_id: &str) -> CoreResult<Vec<Value>> {
    let mut st = conn.prepare_cached(
        "SELECT c.barcode, c.location, c.item_type, c.state, c.note, l.due, l.person_id
         FROM library_copies c
         LEFT JOIN library_loans l ON l.barcode = c.barcode AND l.returned_at_us IS NULL
         WHERE c.title_id = ?1 ORDER BY c.barcode",
    )?;
    let rows = st.query_map([title_id], |r| {
        Ok(json!({
            "barcode": r.get::<_, String>(0)?, "location": r.get::<_, String>(1)?,
            "item_type": r.get::<_, String>(2)?, "state": r.get::<_, String>(3)?,
            "note": r.get::<_, String>(4)?, "due": r.get::<_, Option<String>>(5)?,
            "person_id": r.get::<_, Option<String>>(6)?,
        }))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
