//! Catalogue import (импорт каталога): a MARC file (ISO 2709, MARC21 or RUSMARC, read by
//! [`super::marc`]) or a CSV/spreadsheet with one row per copy, checked against the store,
//! previewed, and committed as `book_title_saved` / `book_copy_added` events in one write,
//! closed by `catalogue_imported`. The same flow as the roster import (`crate::roster`):
//!
//! - every record (a MARC record, or a row of the table) is checked on its own, then
//!   against the others and the store; every problem names its record number (the row as
//!   Excel numbers it, for a table) and has a stable [`Reason`] code;
//! - records of one title group into one title with several copies: the same ISBN, or,
//!   when a record has no ISBN, the same title and authors. A title the store already
//!   holds (matched the same way) is not saved again: it only gets its new copies;
//! - a copy whose barcode the store holds for the same title is unchanged; for another
//!   title it is an error (`barcode_taken`), as is a barcode twice in the file;
//! - a file with any bad record writes nothing, and a commit re-plans inside the write
//!   transaction and refuses a file whose bytes differ from the previewed ones;
//! - a file committed again appends nothing: its titles and copies are all in the store.

use super::marc::{self, Flavour};
use super::{AgeMark, BookCopy, BookTitle, Isbn, ItemType, TitleId};
use crate::domain::search_key;
use crate::error::{CoreError, CoreResult, Refusal};
use crate::events::EventBody;
use crate::roster::read::{read_table, Cell, PickedFile, Table};
use crate::roster::{Ticker, HEADER_SEARCH_ROWS_MAX, ROSTER_ROWS_MAX};
use crate::store::Store;
use crate::workstation::{
    Progress, AUTHORS_MAX, AUTHOR_LEN_MAX_CHARS, BARCODE_LEN_MAX_CHARS, BOOK_TEXT_LEN_MAX_CHARS,
    BOOK_YEAR_MAX, BOOK_YEAR_MIN, LOCATION_LEN_MAX_CHARS,
};
use chrono::{DateTime, Utc};
use rusqlite::Connection;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// A catalogue file larger than this is refused before it is read. A school library's
/// 30,000 MARC records with holdings are about 40 MiB; 64 MiB leaves room.
pub const CATALOGUE_BYTES_MAX: u64 = 64 * 1024 * 1024;
/// Record problems listed in a preview (all are counted): past this it is noise.
pub const RECORD_ISSUES_LISTED_MAX: usize = 10_000;
/// Planned titles listed in a preview (the counts are always complete).
pub const TITLES_LISTED_MAX: usize = 1_000;

/// Why a file or a record is refused or flagged. Stable: the UI translates these codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    // The whole file.
    Unreadable,
    TooLarge,
    TooManyRecords,
    NoHeader,
    /// The table has no title column («Название»).
    MissingColumn,
    DuplicateColumn,
    // One record (or row).
    /// The file ends inside the record, or a field runs past its end.
    TruncatedRecord,
    /// The record's directory is not 12-byte entries of tag, length and start.
    BadDirectory,
    TooManyFields,
    MissingTitle,
    BadIsbn,
    BadYear,
    /// Not one of 0+, 6+, 12+, 16+, 18+.
    BadAgeMark,
    BadItemType,
    TooLong,
    TooManyAuthors,
    /// An Excel error value (`#REF!`, …) in a cell that is read.
    BadCell,
    /// The barcode is written twice in the file.
    BarcodeDuplicate,
    /// The store holds the barcode for another title.
    BarcodeTaken,
    // Warnings: reported, do not stop the import.
    /// No age mark: a textbook is taken as 0+ (436-ФЗ does not cover textbooks), anything
    /// else as 18+ until the librarian corrects it.
    AgeMarkAssumed,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Unreadable => "unreadable",
            Reason::TooLarge => "too_large",
            Reason::TooManyRecords => "too_many_records",
            Reason::NoHeader => "no_header",
            Reason::MissingColumn => "missing_column",
            Reason::DuplicateColumn => "duplicate_column",
            Reason::TruncatedRecord => "truncated_record",
            Reason::BadDirectory => "bad_directory",
            Reason::TooManyFields => "too_many_fields",
            Reason::MissingTitle => "missing_title",
            Reason::BadIsbn => "bad_isbn",
            Reason::BadYear => "bad_year",
            Reason::BadAgeMark => "bad_age_mark",
            Reason::BadItemType => "bad_item_type",
            Reason::TooLong => "too_long",
            Reason::TooManyAuthors => "too_many_authors",
            Reason::BadCell => "bad_cell",
            Reason::BarcodeDuplicate => "barcode_duplicate",
            Reason::BarcodeTaken => "barcode_taken",
            Reason::AgeMarkAssumed => "age_mark_assumed",
        }
    }
}

impl Serialize for Reason {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// A problem with one record (a MARC record, or a row of the table).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordIssue {
    /// The record's number in the file (1-based), or the row as Excel numbers it.
    pub record: u32,
    /// The MARC field (`020`) or the column as the header writes it.
    pub field: String,
    pub code: Reason,
    /// The value as read.
    pub value: String,
    pub message: String,
}

/// A problem with the file as a whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileIssue {
    pub code: Reason,
    pub message: String,
}

/// One copy as a record gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryCopy {
    pub barcode: String,
    pub location: String,
}

/// One record as read, before any check: a title with the copies it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEntry {
    pub record: u32,
    pub title: String,
    pub authors: Vec<String>,
    pub isbn: String,
    pub publisher: String,
    pub year: String,
    pub subject: String,
    pub age_mark: String,
    pub item_type: String,
    pub copies: Vec<EntryCopy>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CatalogueCounts {
    /// MARC records, or data rows of the table.
    pub records: u32,
    /// Titles the store does not hold yet.
    pub titles_new: u32,
    /// Titles of the file the store holds already (they get only their new copies).
    pub titles_existing: u32,
    pub copies_new: u32,
    /// Copies the store holds already, for the same title.
    pub copies_unchanged: u32,
    /// Records with at least one error.
    pub error_records: u32,
}

/// A title of the file as the commit would treat it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedTitle {
    /// The first record naming it.
    pub record: u32,
    pub title: String,
    pub authors: Vec<String>,
    pub isbn: Option<Isbn>,
    /// Not in the store yet.
    pub new: bool,
    pub copies_new: u32,
}

/// What committing the file would do. Nothing is written to make it.
#[derive(Debug, Clone, Serialize)]
pub struct CataloguePreview {
    pub file_name: String,
    pub sha256: String,
    /// `marc21`, `rusmarc`, `iso2709` (both kinds of record), `csv`, `xlsx`, `xls`, `ods`;
    /// `None` when the file could not be read.
    pub format: Option<&'static str>,
    /// `true` when the file can be committed as it is.
    pub can_commit: bool,
    /// Every title and copy of the file is in the store already: a commit writes nothing.
    pub already_imported: bool,
    pub file_errors: Vec<FileIssue>,
    pub counts: CatalogueCounts,
    /// In record order; at most [`RECORD_ISSUES_LISTED_MAX`] (see `errors_total`).
    pub errors: Vec<RecordIssue>,
    pub errors_total: u32,
    pub warnings: Vec<RecordIssue>,
    /// Titles with something to write, in record order; at most [`TITLES_LISTED_MAX`].
    pub titles: Vec<PlannedTitle>,
}

/// What a commit did.
#[derive(Debug, Clone, Serialize)]
pub struct CatalogueOutcome {
    pub file_name: String,
    pub sha256: String,
    pub format: &'static str,
    /// Nothing was written: the store already held the file's titles and copies.
    pub unchanged: bool,
    pub counts: CatalogueCounts,
    pub warnings: Vec<RecordIssue>,
    /// Journal events appended (including the closing `catalogue_imported`).
    pub events: u32,
}

/// Reads, checks and plans `path` against the store; writes nothing. Copies whose record
/// does not name an item type (MARC records never do) are `default_type`.
pub fn preview_file(
    store: &Store,
    path: &Path,
    default_type: ItemType,
    progress: &dyn Fn(Progress),
) -> CoreResult<CataloguePreview> {
    let file = PickedFile::load(path, CATALOGUE_BYTES_MAX, "catalogue")?;
    let parsed = parse_file(&file, progress);
    let mut preview = CataloguePreview {
        file_name: file.file_name.clone(),
        sha256: file.sha256.clone(),
        format: parsed.format,
        can_commit: false,
        already_imported: false,
        file_errors: parsed.file_errors.clone(),
        counts: CatalogueCounts {
            records: parsed.records,
            ..Default::default()
        },
        errors: Vec::new(),
        errors_total: 0,
        warnings: Vec::new(),
        titles: Vec::new(),
    };
    if !preview.file_errors.is_empty() {
        return Ok(preview);
    }
    let snapshot = Snapshot::load(store.conn())?;
    let plan = plan(&parsed, &snapshot, default_type, progress);
    preview.counts = plan.counts.clone();
    preview.errors_total = plan.errors.len() as u32;
    preview.can_commit = plan.errors.is_empty();
    preview.already_imported =
        plan.counts.records > 0 && plan.errors.is_empty() && plan.events.is_empty();
    preview.errors = plan
        .errors
        .into_iter()
        .take(RECORD_ISSUES_LISTED_MAX)
        .collect();
    preview.warnings = plan
        .warnings
        .into_iter()
        .take(RECORD_ISSUES_LISTED_MAX)
        .collect();
    preview.titles = plan
        .titles
        .into_iter()
        .filter(|t| t.new || t.copies_new > 0)
        .take(TITLES_LISTED_MAX)
        .collect();
    Ok(preview)
}

/// Re-reads and re-checks `path` (with the preview's `default_type`), then appends its new titles and copies in one write,
/// closed by `catalogue_imported`. Refuses the whole file if any record is bad, and, when
/// `expected_sha256` is given (the preview's), if the file is not the one previewed.
pub fn commit_file(
    store: &mut Store,
    actor: &str,
    now: DateTime<Utc>,
    path: &Path,
    expected_sha256: Option<&str>,
    default_type: ItemType,
    progress: &dyn Fn(Progress),
) -> CoreResult<CatalogueOutcome> {
    let file = PickedFile::load(path, CATALOGUE_BYTES_MAX, "catalogue")?;
    file.check_unchanged(expected_sha256, Refusal::CatalogueChangedSincePreview)?;
    let parsed = parse_file(&file, progress);
    if let Some(first) = parsed.file_errors.first() {
        return Err(CoreError::invalid(
            "path",
            Refusal::CatalogueBadFile,
            format!(
                "{}: {} — nothing was imported",
                first.code.as_str(),
                first.message
            ),
        )
        .with("issue", first.code.as_str()));
    }
    let format = parsed.format.unwrap_or("csv");
    store.write(|w| {
        // Planned inside the write, so the plan sees exactly the state it changes.
        let snapshot = Snapshot::load(w.conn())?;
        let plan = plan(&parsed, &snapshot, default_type, progress);
        if let Some(first) = plan.errors.first() {
            return Err(CoreError::invalid(
                "path",
                Refusal::CatalogueHasErrors,
                format!(
                    "{} of {} records have errors (first: record {}, {}: {}: {}) — nothing was imported",
                    plan.counts.error_records,
                    plan.counts.records,
                    first.record,
                    first.field,
                    first.code.as_str(),
                    first.message
                ),
            )
            .with("error_records", plan.counts.error_records)
            .with("records", plan.counts.records)
            .with("first_record", first.record)
            .with("first_field", &first.field)
            .with("first_issue", first.code.as_str()));
        }
        let mut outcome = CatalogueOutcome {
            file_name: file.file_name.clone(),
            sha256: file.sha256.clone(),
            format,
            unchanged: plan.events.is_empty(),
            counts: plan.counts.clone(),
            warnings: plan.warnings,
            events: 0,
        };
        if plan.events.is_empty() {
            return Ok(outcome);
        }
        let total = plan.events.len() as u64 + 1;
        let ticker = Ticker::new("write", total, progress);
        for (done, body) in plan.events.into_iter().enumerate() {
            w.append(actor, now, body)?;
            ticker.tick(done as u64 + 1);
        }
        w.append(
            actor,
            now,
            EventBody::CatalogueImported {
                file_name: file.file_name.clone(),
                sha256: file.sha256.clone(),
                format: format.to_owned(),
                titles: plan.counts.titles_new,
                copies: plan.counts.copies_new,
            },
        )?;
        ticker.tick(total);
        outcome.events = total as u32;
        Ok(outcome)
    })
}

/// The picked file read as this import reads it.
fn parse_file(file: &PickedFile, progress: &dyn Fn(Progress)) -> Parsed {
    if marc::looks_like_iso2709(&file.bytes) {
        let ticker = Ticker::new("read", file.bytes.len() as u64, progress);
        match marc::read_records(&file.bytes, &|at| ticker.tick(at)) {
            Ok(records) => {
                ticker.tick(file.bytes.len() as u64);
                Parsed::from_marc(records)
            }
            Err(message) => Parsed::unreadable(Reason::TooManyRecords, message),
        }
    } else {
        match read_table(&file.file_name, &file.bytes) {
            Ok((source, table)) => Parsed::from_table(source.format, table, progress),
            Err(issue) => {
                let code = match issue.code {
                    crate::roster::Reason::TooLarge | crate::roster::Reason::TooManyColumns => {
                        Reason::TooLarge
                    }
                    crate::roster::Reason::TooManyRows => Reason::TooManyRecords,
                    crate::roster::Reason::NoHeader => Reason::NoHeader,
                    _ => Reason::Unreadable,
                };
                Parsed::unreadable(code, issue.message)
            }
        }
    }
}

/// The file read into records, before any check against the store.
struct Parsed {
    format: Option<&'static str>,
    file_errors: Vec<FileIssue>,
    records: u32,
    entries: Vec<Result<RawEntry, RecordIssue>>,
}

impl Parsed {
    fn unreadable(code: Reason, message: impl Into<String>) -> Parsed {
        Parsed {
            format: None,
            file_errors: vec![FileIssue {
                code,
                message: message.into(),
            }],
            records: 0,
            entries: Vec::new(),
        }
    }

    fn from_marc(records: Vec<marc::ReadRecord>) -> Parsed {
        let read_ok = records.iter().filter(|(_, r)| r.is_ok());
        let rusmarc = read_ok
            .clone()
            .filter(|(f, _)| *f == Flavour::Rusmarc)
            .count();
        let all = read_ok.count();
        let format = match rusmarc {
            0 => "marc21",
            n if n == all => "rusmarc",
            _ => "iso2709",
        };
        Parsed {
            format: Some(format),
            file_errors: Vec::new(),
            records: records.len() as u32,
            entries: records.into_iter().map(|(_, r)| r).collect(),
        }
    }

    fn from_table(format: &'static str, table: Table, progress: &dyn Fn(Progress)) -> Parsed {
        let Some((header_at, columns)) = table
            .rows
            .iter()
            .take(HEADER_SEARCH_ROWS_MAX)
            .enumerate()
            .find_map(|(i, row)| header_columns(&row.cells).map(|c| (i, c)))
        else {
            let code = if table.rows.is_empty() {
                Reason::NoHeader
            } else {
                Reason::MissingColumn
            };
            return Parsed::unreadable(
                code,
                "no header row with a title column («Название» or «Title»)",
            );
        };
        let columns = match columns {
            Ok(c) => c,
            Err(name) => {
                return Parsed::unreadable(
                    Reason::DuplicateColumn,
                    format!("two columns mean «{name}»"),
                )
            }
        };
        let rows = &table.rows[header_at + 1..];
        if rows.len() > ROSTER_ROWS_MAX {
            return Parsed::unreadable(
                Reason::TooManyRecords,
                format!(
                    "the file has {} rows; at most {ROSTER_ROWS_MAX} are read",
                    rows.len()
                ),
            );
        }
        let ticker = Ticker::new("read", rows.len() as u64, progress);
        let entries = rows
            .iter()
            .enumerate()
            .map(|(i, row)| {
                ticker.tick(i as u64 + 1);
                row_entry(row.row, &row.cells, &columns)
            })
            .collect();
        Parsed {
            format: Some(format),
            file_errors: Vec::new(),
            records: rows.len() as u32,
            entries,
        }
    }
}

/// A column of the catalogue table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Column {
    Title,
    Authors,
    Isbn,
    Publisher,
    Year,
    Subject,
    AgeMark,
    Barcode,
    Location,
    ItemType,
}

/// Header names, compared lower-cased with «ё» as «е».
const COLUMN_NAMES: &[(Column, &[&str])] = &[
    (Column::Title, &["название", "заглавие", "title"]),
    (
        Column::Authors,
        &[
            "автор(ы)",
            "автор",
            "авторы",
            "author",
            "authors",
            "author(s)",
        ],
    ),
    (Column::Isbn, &["isbn", "исбн"]),
    (
        Column::Publisher,
        &["издательство", "издатель", "publisher"],
    ),
    (Column::Year, &["год", "год издания", "year"]),
    (Column::Subject, &["предмет", "тема", "рубрика", "subject"]),
    (
        Column::AgeMark,
        &[
            "возрастная маркировка",
            "маркировка",
            "возраст",
            "age mark",
            "age",
        ],
    ),
    (
        Column::Barcode,
        &[
            "инвентарный номер",
            "инв. номер",
            "инв номер",
            "штрихкод",
            "штрих-код",
            "barcode",
            "inventory number",
        ],
    ),
    (
        Column::Location,
        &["место", "местонахождение", "полка", "location", "shelf"],
    ),
    (Column::ItemType, &["тип", "вид", "type", "item type"]),
];

/// Each column found in the header: its index and its name as the file writes it.
type Columns = BTreeMap<Column, (usize, String)>;

/// The columns of a header row, if it has a title column; `Err(name)` when two columns
/// mean the same.
fn header_columns(cells: &[Cell]) -> Option<Result<Columns, String>> {
    let mut found = BTreeMap::new();
    for (i, cell) in cells.iter().enumerate() {
        let written = cell.text().into_owned();
        let key = search_key(written.trim_end_matches([':', '*']));
        let Some((column, _)) = COLUMN_NAMES
            .iter()
            .find(|(_, names)| names.contains(&key.as_str()))
        else {
            continue;
        };
        if found.insert(*column, (i, written.clone())).is_some() {
            return Some(Err(written));
        }
    }
    found.contains_key(&Column::Title).then_some(Ok(found))
}

fn row_entry(row: u32, cells: &[Cell], columns: &Columns) -> Result<RawEntry, RecordIssue> {
    let text = |column: Column| -> Result<String, RecordIssue> {
        let Some((i, name)) = columns.get(&column) else {
            return Ok(String::new());
        };
        match cells.get(*i) {
            None => Ok(String::new()),
            Some(Cell::Error(e)) => Err(RecordIssue {
                record: row,
                field: name.clone(),
                code: Reason::BadCell,
                value: e.clone(),
                message: "an Excel error value".into(),
            }),
            Some(cell) => Ok(cell.text().into_owned()),
        }
    };
    let barcode = text(Column::Barcode)?;
    let location = text(Column::Location)?;
    Ok(RawEntry {
        record: row,
        title: text(Column::Title)?,
        authors: text(Column::Authors)?
            .split(';')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_owned)
            .collect(),
        isbn: text(Column::Isbn)?,
        publisher: text(Column::Publisher)?,
        year: text(Column::Year)?,
        subject: text(Column::Subject)?,
        age_mark: text(Column::AgeMark)?,
        item_type: text(Column::ItemType)?,
        copies: if barcode.is_empty() {
            Vec::new()
        } else {
            vec![EntryCopy { barcode, location }]
        },
    })
}

/// An item type as a librarian writes it.
fn item_type_of(text: &str) -> Option<ItemType> {
    match search_key(text).as_str() {
        "учебник" | "учебная" | "textbook" => Some(ItemType::Textbook),
        "художественная" | "художественная литература" | "fiction" => {
            Some(ItemType::Fiction)
        }
        "справочная" | "справочник" | "справочная литература" | "reference" => {
            Some(ItemType::Reference)
        }
        "другое" | "прочее" | "other" => Some(ItemType::Other),
        other => ItemType::parse(other),
    }
}

/// A record's values, each checked.
struct Entry {
    record: u32,
    title: BookTitle,
    copies: Vec<BookCopy>,
    /// The record gives no age mark: the title's is [`Reason::AgeMarkAssumed`].
    mark_assumed: bool,
}

/// Checks one record's values; every problem is listed, not just the first. A record
/// that does not name its item type (a MARC record never does) is `default_type`.
fn check_entry(raw: &RawEntry, default_type: ItemType) -> Result<Entry, Vec<RecordIssue>> {
    let mut issues = Vec::new();
    let mut bad = |field: &str, code: Reason, value: &str, message: String| {
        issues.push(RecordIssue {
            record: raw.record,
            field: field.to_owned(),
            code,
            value: value.to_owned(),
            message,
        })
    };
    let squeeze = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let title = squeeze(&raw.title);
    if title.is_empty() {
        bad(
            "title",
            Reason::MissingTitle,
            "",
            "the record has no title".into(),
        );
    }
    let mut long = |field: &str, value: &str, max: usize| {
        if value.chars().count() > max {
            bad(
                field,
                Reason::TooLong,
                value,
                format!("longer than {max} characters"),
            );
        }
    };
    long("title", &title, BOOK_TEXT_LEN_MAX_CHARS);
    let publisher = squeeze(&raw.publisher);
    long("publisher", &publisher, BOOK_TEXT_LEN_MAX_CHARS);
    let subject = squeeze(&raw.subject);
    long("subject", &subject, BOOK_TEXT_LEN_MAX_CHARS);
    let authors: Vec<String> = raw
        .authors
        .iter()
        .map(|a| squeeze(a))
        .filter(|a| !a.is_empty())
        .collect();
    for author in &authors {
        long("authors", author, AUTHOR_LEN_MAX_CHARS);
    }
    for copy in &raw.copies {
        long("barcode", &copy.barcode, BARCODE_LEN_MAX_CHARS);
        long("location", &copy.location, LOCATION_LEN_MAX_CHARS);
    }
    if authors.len() > AUTHORS_MAX {
        bad(
            "authors",
            Reason::TooManyAuthors,
            "",
            format!("{} authors; at most {AUTHORS_MAX}", authors.len()),
        );
    }
    let isbn = match raw.isbn.trim() {
        "" => None,
        typed => match Isbn::parse(typed) {
            Ok(isbn) => Some(isbn),
            Err(detail) => {
                bad("isbn", Reason::BadIsbn, typed, detail);
                None
            }
        },
    };
    let year = match raw.year.trim() {
        "" => None,
        typed => match typed.parse::<u16>() {
            Ok(y) if (BOOK_YEAR_MIN..=BOOK_YEAR_MAX).contains(&y) => Some(y),
            _ => {
                bad(
                    "year",
                    Reason::BadYear,
                    typed,
                    format!("not a year from {BOOK_YEAR_MIN} to {BOOK_YEAR_MAX}"),
                );
                None
            }
        },
    };
    let typed_type = raw.item_type.trim();
    let named_type = if typed_type.is_empty() {
        Some(default_type)
    } else {
        item_type_of(typed_type)
    };
    let item_type = named_type.unwrap_or_else(|| {
        bad(
            "item_type",
            Reason::BadItemType,
            &raw.item_type,
            "not учебник, художественная, справочная or другое".into(),
        );
        ItemType::Other
    });
    let typed_mark: String = raw
        .age_mark
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let mark_assumed = typed_mark.is_empty();
    let age_mark = if mark_assumed {
        if item_type == ItemType::Textbook {
            AgeMark::Zero
        } else {
            AgeMark::Eighteen
        }
    } else {
        AgeMark::parse(&typed_mark).unwrap_or_else(|| {
            bad(
                "age_mark",
                Reason::BadAgeMark,
                &raw.age_mark,
                "not 0+, 6+, 12+, 16+ or 18+".into(),
            );
            AgeMark::Eighteen
        })
    };
    if !issues.is_empty() {
        return Err(issues);
    }
    let title_id = TitleId::new_v7();
    Ok(Entry {
        record: raw.record,
        mark_assumed,
        copies: raw
            .copies
            .iter()
            .map(|c| BookCopy {
                barcode: squeeze(&c.barcode),
                title_id,
                location: squeeze(&c.location),
                item_type,
            })
            .collect(),
        title: BookTitle {
            title_id,
            title,
            authors,
            isbn,
            publisher,
            year,
            subject,
            age_mark,
        },
    })
}

/// How a title is matched when it has no ISBN (or the ISBN is not found): its title and
/// authors, case and spacing aside.
fn title_key(title: &str, authors: &[String]) -> String {
    let mut authors: Vec<String> = authors.iter().map(|a| search_key(a)).collect();
    authors.sort();
    format!("{}\u{1F}{}", search_key(title), authors.join(";"))
}

/// The catalogue as the plan needs it.
struct Snapshot {
    /// (title id, ISBN, match key).
    titles: Vec<(TitleId, Option<String>, String)>,
    /// Barcode → title id.
    copies: HashMap<String, TitleId>,
}

impl Snapshot {
    fn load(conn: &Connection) -> CoreResult<Snapshot> {
        let mut st = conn.prepare("SELECT title_id, isbn, title, authors FROM library_titles")?;
        let titles = st
            .query_map([], |r| {
                let id: String = r.get(0)?;
                let authors: String = r.get(3)?;
                Ok((
                    id,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, String>(2)?,
                    authors,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .filter_map(|(id, isbn, title, authors)| {
                let authors: Vec<String> = serde_json::from_str(&authors).unwrap_or_default();
                Some((id.parse().ok()?, isbn, title_key(&title, &authors)))
            })
            .collect();
        let mut st = conn.prepare("SELECT barcode, title_id FROM library_copies")?;
        let copies = st
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .filter_map(|(barcode, id)| Some((barcode, id.parse().ok()?)))
            .collect();
        Ok(Snapshot { titles, copies })
    }
}

struct Plan {
    counts: CatalogueCounts,
    errors: Vec<RecordIssue>,
    warnings: Vec<RecordIssue>,
    titles: Vec<PlannedTitle>,
    events: Vec<EventBody>,
}

/// A title the plan knows: from the store, or new from the file.
struct Known {
    title_id: TitleId,
    isbn: Option<String>,
    from_store: bool,
    /// Index into `Plan::titles` once a record of the file has named it.
    planned: Option<usize>,
}

fn plan(
    parsed: &Parsed,
    snapshot: &Snapshot,
    default_type: ItemType,
    progress: &dyn Fn(Progress),
) -> Plan {
    let mut plan = Plan {
        counts: CatalogueCounts {
            records: parsed.records,
            ..Default::default()
        },
        errors: Vec::new(),
        warnings: Vec::new(),
        titles: Vec::new(),
        events: Vec::new(),
    };
    let mut known: Vec<Known> = Vec::new();
    let mut by_isbn: HashMap<String, usize> = HashMap::new();
    let mut by_key: HashMap<String, Vec<usize>> = HashMap::new();
    for (title_id, isbn, key) in &snapshot.titles {
        let at = known.len();
        if let Some(isbn) = isbn {
            by_isbn.entry(isbn.clone()).or_insert(at);
        }
        by_key.entry(key.clone()).or_default().push(at);
        known.push(Known {
            title_id: *title_id,
            isbn: isbn.clone(),
            from_store: true,
            planned: None,
        });
    }
    // Barcode → the record that first named it.
    let mut in_file: HashMap<String, u32> = HashMap::new();
    let mut new_copies: Vec<BookCopy> = Vec::new();
    let ticker = Ticker::new("check", parsed.entries.len() as u64, progress);
    for (done, read) in parsed.entries.iter().enumerate() {
        ticker.tick(done as u64 + 1);
        let entry = match read {
            Err(issue) => Err(vec![issue.clone()]),
            Ok(raw) => check_entry(raw, default_type),
        };
        let mut entry = match entry {
            Ok(entry) => entry,
            Err(issues) => {
                plan.counts.error_records += 1;
                plan.errors.extend(issues);
                continue;
            }
        };
        // Which title: by ISBN; without one found, by title and authors (an ISBN-less
        // title of the store or the file, or any when the record has no ISBN).
        let isbn = entry.title.isbn.as_ref().map(|i| i.as_str().to_owned());
        let key = title_key(&entry.title.title, &entry.title.authors);
        let found = isbn
            .as_ref()
            .and_then(|i| by_isbn.get(i).copied())
            .or_else(|| {
                by_key.get(&key).and_then(|ats| {
                    ats.iter()
                        .copied()
                        .find(|at| isbn.is_none() || known[*at].isbn.is_none())
                })
            });
        let at = found.unwrap_or_else(|| {
            let at = known.len();
            if let Some(isbn) = &isbn {
                by_isbn.insert(isbn.clone(), at);
            }
            by_key.entry(key.clone()).or_default().push(at);
            known.push(Known {
                title_id: entry.title.title_id,
                isbn: isbn.clone(),
                from_store: false,
                planned: None,
            });
            at
        });
        let is_new = !known[at].from_store;
        let title_id = known[at].title_id;
        // Copies first: a record with a bad barcode adds nothing, not even its title.
        let mut copy_issues = Vec::new();
        let mut copies = Vec::new();
        for mut copy in std::mem::take(&mut entry.copies) {
            copy.title_id = title_id;
            let issue = |code: Reason, message: String| RecordIssue {
                record: entry.record,
                field: "barcode".into(),
                code,
                value: copy.barcode.clone(),
                message,
            };
            if let Some(first) = in_file.get(&copy.barcode) {
                copy_issues.push(issue(
                    Reason::BarcodeDuplicate,
                    format!("the barcode is also on record {first}"),
                ));
                continue;
            }
            in_file.insert(copy.barcode.clone(), entry.record);
            match snapshot.copies.get(&copy.barcode) {
                Some(holder) if *holder == title_id => plan.counts.copies_unchanged += 1,
                Some(_) => copy_issues.push(issue(
                    Reason::BarcodeTaken,
                    "the store holds this barcode for another title".into(),
                )),
                None => copies.push(copy),
            }
        }
        if !copy_issues.is_empty() {
            plan.counts.error_records += 1;
            plan.errors.extend(copy_issues);
            continue;
        }
        let planned = match known[at].planned {
            Some(p) => p,
            None => {
                let p = plan.titles.len();
                plan.titles.push(PlannedTitle {
                    record: entry.record,
                    title: entry.title.title.clone(),
                    authors: entry.title.authors.clone(),
                    isbn: entry.title.isbn.clone(),
                    new: is_new,
                    copies_new: 0,
                });
                if is_new {
                    plan.counts.titles_new += 1;
                    if entry.mark_assumed {
                        let mark = entry.title.age_mark.as_str();
                        plan.warnings.push(RecordIssue {
                            record: entry.record,
                            field: "age_mark".into(),
                            code: Reason::AgeMarkAssumed,
                            value: mark.into(),
                            message: format!("no age mark: taken as {mark}"),
                        });
                    }
                    // Under the id its copies name (the first record of it may have failed).
                    let mut title = entry.title.clone();
                    title.title_id = title_id;
                    plan.events.push(EventBody::BookTitleSaved { title });
                } else {
                    plan.counts.titles_existing += 1;
                }
                known[at].planned = Some(p);
                p
            }
        };
        plan.titles[planned].copies_new += copies.len() as u32;
        plan.counts.copies_new += copies.len() as u32;
        new_copies.extend(copies);
    }
    // Every new title's event comes before any copy's, so each copy's title exists.
    plan.events.extend(
        new_copies
            .into_iter()
            .map(|copy| EventBody::BookCopyAdded { copy }),
    );
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_read_in_russian_and_english() {
        let header = |names: &[&str]| {
            let cells: Vec<Cell> = names.iter().map(|n| Cell::Text(n.to_string())).collect();
            header_columns(&cells).map(|c| c.map(|c| c.into_keys().collect::<Vec<_>>()))
        };
        use Column::*;
        /// The columns found, `Err(name)` for a repeated one, `None` without a title.
        type Found = Option<Result<Vec<Column>, String>>;
        let cases: &[(&[&str], Found)] = &[
            (
                &[
                    "Название",
                    "Автор(ы)",
                    "ISBN",
                    "Инвентарный номер",
                    "Место",
                    "Тип",
                ],
                Some(Ok(vec![Title, Authors, Isbn, Barcode, Location, ItemType])),
            ),
            (
                &[
                    "Title",
                    "Authors",
                    "Publisher",
                    "Year",
                    "Subject",
                    "Age mark",
                    "Barcode",
                ],
                Some(Ok(vec![
                    Title, Authors, Publisher, Year, Subject, AgeMark, Barcode,
                ])),
            ),
            (
                &["  НАЗВАНИЕ: ", "Возрастная маркировка"],
                Some(Ok(vec![Title, AgeMark])),
            ),
            (&["ISBN", "Инв. номер"], None),
            (&["Название", "Заглавие"], Some(Err("Заглавие".into()))),
        ];
        for (names, expected) in cases {
            assert_eq!(&header(names), expected, "{names:?}");
        }
    }

    #[test]
    fn item_types_as_a_librarian_writes_them() {
        let cases = [
            ("Учебник", Some(ItemType::Textbook)),
            ("художественная литература", Some(ItemType::Fiction)),
            ("Справочник", Some(ItemType::Reference)),
            ("другое", Some(ItemType::Other)),
            ("reference", Some(ItemType::Reference)),
            ("журнал", None),
        ];
        for (typed, expected) in cases {
            assert_eq!(item_type_of(typed), expected, "{typed}");
        }
    }

    fn raw(item_type: &str) -> RawEntry {
        RawEntry {
            record: 7,
            title: "Азбука".into(),
            authors: vec![],
            isbn: String::new(),
            publisher: String::new(),
            year: String::new(),
            subject: String::new(),
            age_mark: String::new(),
            item_type: item_type.into(),
            copies: vec![],
        }
    }

    #[test]
    fn a_record_without_an_age_mark_is_0_plus_for_a_textbook_else_18_plus() {
        let mark = |item_type: &str, default_type| {
            let entry = check_entry(&raw(item_type), default_type).ok().unwrap();
            (entry.title.age_mark, entry.mark_assumed)
        };
        assert_eq!(mark("учебник", ItemType::Other), (AgeMark::Zero, true));
        assert_eq!(mark("", ItemType::Textbook), (AgeMark::Zero, true));
        assert_eq!(mark("", ItemType::Fiction), (AgeMark::Eighteen, true));
    }

    #[test]
    fn a_title_whose_first_record_failed_is_saved_under_the_id_its_copies_name() {
        let store_title = TitleId::new_v7();
        let snapshot = Snapshot {
            titles: vec![(store_title, None, title_key("Букварь", &[]))],
            copies: HashMap::from([("TAKEN".to_owned(), store_title)]),
        };
        let copy = |barcode: &str| EntryCopy {
            barcode: barcode.into(),
            location: String::new(),
        };
        let novel = |record, barcode| RawEntry {
            record,
            isbn: "9785389074354".into(),
            age_mark: "12+".into(),
            copies: vec![copy(barcode)],
            ..raw("")
        };
        let parsed = Parsed {
            format: Some("marc21"),
            file_errors: vec![],
            records: 2,
            entries: vec![Ok(novel(1, "TAKEN")), Ok(novel(2, "NEW"))],
        };
        let plan = plan(&parsed, &snapshot, ItemType::Fiction, &|_| {});
        let codes: Vec<(u32, Reason)> = plan.errors.iter().map(|e| (e.record, e.code)).collect();
        assert_eq!(codes, [(1, Reason::BarcodeTaken)]);
        let [EventBody::BookTitleSaved { title }, EventBody::BookCopyAdded { copy }] =
            &plan.events[..]
        else {
            panic!("{:?}", plan.events);
        };
        assert_eq!(title.title_id, copy.title_id);
        assert_eq!((plan.counts.titles_new, plan.counts.copies_new), (1, 1));
    }

    #[test]
    fn every_bad_value_of_a_record_is_listed() {
        let bad = RawEntry {
            title: " ".into(),
            authors: vec!["x".repeat(AUTHOR_LEN_MAX_CHARS + 1)],
            isbn: "978-5-389-07435-5".into(),
            year: "1066".into(),
            age_mark: "10+".into(),
            ..raw("журнал")
        };
        let Err(issues) = check_entry(&bad, ItemType::Other) else {
            panic!("accepted");
        };
        let codes: Vec<(u32, &str, Reason)> = issues
            .iter()
            .map(|i| (i.record, i.field.as_str(), i.code))
            .collect();
        assert_eq!(
            codes,
            [
                (7, "title", Reason::MissingTitle),
                (7, "authors", Reason::TooLong),
                (7, "isbn", Reason::BadIsbn),
                (7, "year", Reason::BadYear),
                (7, "item_type", Reason::BadItemType),
                (7, "age_mark", Reason::BadAgeMark),
            ]
        );
    }
}
