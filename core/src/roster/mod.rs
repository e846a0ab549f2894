//! Roster import: the school's list of pupils (a CSV or spreadsheet file) checked against
//! the store, previewed, and committed as events in one transaction; and pupils' photos
//! from a folder or a ZIP named by the school's pupil ids.
//!
//! The flow is the same for preview and commit: [`read`] turns the file's bytes into a
//! table of cells with the row numbers a person sees in Excel; [`columns`] matches the
//! header and checks every cell on its own; [`plan`] checks the rows against each other
//! and against the store and lists the events that would bring the store in line with the
//! file. A preview shows that plan; a commit recomputes it inside the write transaction and
//! appends it, or refuses the whole file if any row is bad.
//!
//! Invariants:
//! - a file with any bad row writes nothing;
//! - committing a file whose content the store already holds appends no event at all;
//! - pupils the file does not mention are never removed (the preview counts them);
//! - every problem has a stable `code` ([`Reason`]) for the UI and an English message.

mod columns;
mod photos;
mod plan;
/// Also read by the canteen's menu import (`crate::canteen::menu_file`).
pub(crate) mod read;

#[cfg(test)]
mod tests;

pub use columns::Field;
pub use photos::{import_photos, BadPhotoFile, MatchedPhoto, PhotoImportOutcome};
pub use plan::{Change, RowChange};

use crate::error::{CoreError, CoreResult, Refusal};
use crate::events::EventBody;
use crate::store::Store;
use crate::workstation::Progress;
use chrono::{DateTime, Utc};
use read::PickedFile;
use serde::Serialize;
use std::path::Path;

/// A roster file larger than this is refused before it is parsed. A city's whole roster
/// (17,600 pupils with guardians and cards) is about 3 MiB as CSV; 32 MiB leaves room for
/// wide spreadsheets while keeping the in-memory parse small.
pub const ROSTER_BYTES_MAX: u64 = 32 * 1024 * 1024;
/// Data rows read from one file: three times a city's pupils. A longer file is refused.
pub const ROSTER_ROWS_MAX: usize = 50_000;
/// Cells per row that are looked at; a wider header is refused (a sheet that wide is not
/// a roster, and the bound keeps a hostile file's width from costing memory per row).
pub const ROSTER_COLUMNS_MAX: usize = 256;
/// Declared uncompressed size of all parts of an XLSX/ODS workbook (a ZIP). Guards against
/// a small file that inflates to gigabytes. A 50,000-row sheet is about 40 MiB inflated.
pub const WORKBOOK_UNCOMPRESSED_BYTES_MAX: u64 = 256 * 1024 * 1024;
/// Parts in a workbook ZIP: a real workbook has a few dozen.
pub const WORKBOOK_ENTRIES_MAX: usize = 10_000;
/// Row problems listed in a preview. Every bad row is counted; listing more than this is
/// noise nobody reads (a wrong file makes every row bad) and makes the answer megabytes.
pub const ROW_ISSUES_LISTED_MAX: usize = 10_000;
/// Rows searched for the header: school exports often put a title and a date above it.
pub const HEADER_SEARCH_ROWS_MAX: usize = 10;
/// Planned per-row changes listed in a preview (the counts are always complete).
pub const CHANGES_LISTED_MAX: usize = 1_000;
/// Progress is reported at most every this many rows (and at most ~100 times a stage).
pub const PROGRESS_ROWS_MIN: u64 = 200;

/// Why a file, a row or a photo is refused or flagged. Stable: the UI translates these
/// codes (serialized as [`Reason::as_str`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    // The whole file.
    /// Not a CSV, XLSX, XLS or ODS file we can read (or a damaged one).
    Unreadable,
    TooLarge,
    TooManyRows,
    TooManyColumns,
    /// No header row: the file (or its first sheet) is empty.
    NoHeader,
    MissingColumn,
    /// Two columns of the header mean the same thing.
    DuplicateColumn,
    // One row.
    EmptyId,
    BadId,
    DuplicateId,
    EmptyName,
    BadName,
    BadClass,
    BadDate,
    BadCard,
    /// The card is written twice in the file.
    CardDuplicate,
    /// The card is bound to someone else in the store.
    CardTaken,
    BadGuardian,
    BadPhone,
    BadEmail,
    /// An Excel error value (`#REF!`, `#N/A`, …) in a cell that is read.
    BadCell,
    // Warnings: reported, do not stop the import.
    /// The pupil holds this card, but it is marked lost or blocked; the import leaves it so.
    CardNotActive,
    /// The same guardian is given different contacts on two rows; the first row wins.
    GuardianConflict,
    // Photos.
    /// A file in the folder or archive that is not named `<id>.jpg|.jpeg|.png|.webp`.
    NotAPhoto,
    /// Named like a photo, but its bytes are not a JPEG, PNG or WebP picture.
    BadImage,
    /// A second photo for the same pupil id; the first one (in name order) is used.
    DuplicatePhoto,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Unreadable => "unreadable",
            Reason::TooLarge => "too_large",
            Reason::TooManyRows => "too_many_rows",
            Reason::TooManyColumns => "too_many_columns",
            Reason::NoHeader => "no_header",
            Reason::MissingColumn => "missing_column",
            Reason::DuplicateColumn => "duplicate_column",
            Reason::EmptyId => "empty_id",
            Reason::BadId => "bad_id",
            Reason::DuplicateId => "duplicate_id",
            Reason::EmptyName => "empty_name",
            Reason::BadName => "bad_name",
            Reason::BadClass => "bad_class",
            Reason::BadDate => "bad_date",
            Reason::BadCard => "bad_card",
            Reason::CardDuplicate => "card_duplicate",
            Reason::CardTaken => "card_taken",
            Reason::BadGuardian => "bad_guardian",
            Reason::BadPhone => "bad_phone",
            Reason::BadEmail => "bad_email",
            Reason::BadCell => "bad_cell",
            Reason::CardNotActive => "card_not_active",
            Reason::GuardianConflict => "guardian_conflict",
            Reason::NotAPhoto => "not_a_photo",
            Reason::BadImage => "bad_image",
            Reason::DuplicatePhoto => "duplicate_photo",
        }
    }
}

impl Serialize for Reason {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// A problem with the file as a whole: nothing in it can be imported until it is fixed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileIssue {
    pub code: Reason,
    /// The column concerned, as the file names it (or the expected name when missing).
    pub column: Option<String>,
    pub message: String,
}

impl FileIssue {
    fn new(code: Reason, message: impl Into<String>) -> Self {
        FileIssue {
            code,
            column: None,
            message: message.into(),
        }
    }
}

/// A problem with one cell (or one row) of the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowIssue {
    /// The row as Excel numbers it: the header is row 1 (when it is the first line).
    pub row: u32,
    /// The column's name as the file's header writes it.
    pub column: String,
    pub code: Reason,
    /// The cell as read (trimmed).
    pub value: String,
    pub message: String,
}

/// What kind of file was read, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceInfo {
    /// `csv`, `xlsx`, `xls` or `ods`.
    pub format: &'static str,
    /// CSV only: `UTF-8`, `windows-1251`, `UTF-16LE` or `UTF-16BE`.
    pub encoding: Option<&'static str>,
    /// CSV only: the field delimiter found in the header line.
    pub delimiter: Option<String>,
}

/// How one header cell was understood.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ColumnMatch {
    /// As the file writes it.
    pub column: String,
    /// What it was read as; `None` for a column that is ignored.
    pub field: Option<Field>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RosterCounts {
    /// Data rows in the file (blank rows are not counted).
    pub rows: u32,
    /// Valid rows naming a pupil the store does not know yet.
    pub create: u32,
    /// Valid rows that change a known pupil (name, birth date, class, return, card, guardian).
    pub update: u32,
    /// Valid rows the store already agrees with.
    pub unchanged: u32,
    /// Rows with at least one error.
    pub error_rows: u32,
    /// Active pupils in the store that the file does not mention (they are kept).
    pub not_in_file: u32,
}

/// What committing the file would do. Nothing is written to make it.
#[derive(Debug, Clone, Serialize)]
pub struct RosterPreview {
    pub file_name: String,
    pub sha256: String,
    /// `None` when the file could not be read at all.
    pub source: Option<SourceInfo>,
    /// `true` when the file can be committed as it is: no file or row errors.
    pub can_commit: bool,
    /// A file with these exact bytes was committed before.
    pub already_imported: bool,
    pub columns: Vec<ColumnMatch>,
    /// Header cells that are not read (as the file writes them).
    pub unknown_columns: Vec<String>,
    pub file_errors: Vec<FileIssue>,
    pub counts: RosterCounts,
    /// Row errors, in row order; at most [`ROW_ISSUES_LISTED_MAX`] (see `errors_total`).
    pub errors: Vec<RowIssue>,
    pub errors_total: u32,
    /// Things worth knowing that do not stop the import.
    pub warnings: Vec<RowIssue>,
    /// Classes the file names that do not exist yet; a commit creates them.
    pub classes_to_create: Vec<String>,
    /// Per-row changes, in row order; at most [`CHANGES_LISTED_MAX`].
    pub changes: Vec<RowChange>,
}

/// What a commit did.
#[derive(Debug, Clone, Serialize)]
pub struct RosterOutcome {
    pub file_name: String,
    pub sha256: String,
    /// Nothing was written: the store already agreed with the file.
    pub unchanged: bool,
    pub rows: u32,
    pub created: u32,
    pub updated: u32,
    pub unchanged_rows: u32,
    pub not_in_file: u32,
    pub classes_created: Vec<String>,
    pub guardians_created: u32,
    pub cards_bound: u32,
    pub warnings: Vec<RowIssue>,
    /// Journal events appended (including the closing `roster_imported`).
    pub events: u32,
}

/// Reads, checks and plans `path` against the store; writes nothing.
pub fn preview_file(
    store: &Store,
    path: &Path,
    progress: &dyn Fn(Progress),
) -> CoreResult<RosterPreview> {
    let file = PickedFile::load(path, ROSTER_BYTES_MAX, "roster")?;
    let sheet = parse_sheet(&file, progress);
    let already_imported: bool = store.conn().query_row(
        "SELECT EXISTS (SELECT 1 FROM roster_imports WHERE sha256 = ?1)",
        [&file.sha256],
        |r| r.get(0),
    )?;
    let mut preview = RosterPreview {
        file_name: file.file_name.clone(),
        sha256: file.sha256.clone(),
        source: sheet.source.clone(),
        can_commit: false,
        already_imported,
        columns: sheet.columns.clone(),
        unknown_columns: sheet.unknown_columns.clone(),
        file_errors: sheet.file_errors.clone(),
        counts: RosterCounts {
            rows: sheet.rows.len() as u32,
            ..Default::default()
        },
        errors: Vec::new(),
        errors_total: 0,
        warnings: Vec::new(),
        classes_to_create: Vec::new(),
        changes: Vec::new(),
    };
    if !preview.file_errors.is_empty() {
        return Ok(preview);
    }
    let snapshot = plan::Snapshot::load(store.conn())?;
    let plan = plan::plan(&sheet, &snapshot, progress);
    preview.counts = plan.counts.clone();
    preview.errors_total = plan.errors.len() as u32;
    preview.can_commit = plan.errors.is_empty();
    preview.errors = plan
        .errors
        .into_iter()
        .take(ROW_ISSUES_LISTED_MAX)
        .collect();
    preview.warnings = plan.warnings;
    preview.classes_to_create = plan
        .new_classes
        .iter()
        .map(|(name, _)| name.to_string())
        .collect();
    preview.changes = plan.changes.into_iter().take(CHANGES_LISTED_MAX).collect();
    Ok(preview)
}

/// Re-reads and re-checks `path`, then appends everything it changes in one transaction,
/// closed by a `roster_imported` event. Refuses the whole file if any row is bad, and,
/// when `expected_sha256` is given (the preview's), if the file is no longer the one
/// that was previewed.
pub fn commit_file(
    store: &mut Store,
    actor: &str,
    now: DateTime<Utc>,
    path: &Path,
    expected_sha256: Option<&str>,
    progress: &dyn Fn(Progress),
) -> CoreResult<RosterOutcome> {
    let file = PickedFile::load(path, ROSTER_BYTES_MAX, "roster")?;
    file.check_unchanged(expected_sha256, Refusal::RosterChangedSincePreview)?;
    let sheet = parse_sheet(&file, progress);
    if let Some(first) = sheet.file_errors.first() {
        let mut error = CoreError::invalid(
            "roster",
            Refusal::RosterBadFile,
            format!(
                "{}: {} — nothing was imported",
                first.code.as_str(),
                first.message
            ),
        )
        .with("issue", first.code.as_str());
        if let Some(column) = &first.column {
            error = error.with("column", column);
        }
        return Err(error);
    }
    store.write(|w| {
        // Planned inside the write transaction, so the plan sees exactly the state it
        // changes (the file or the store may have changed since the preview).
        let snapshot = plan::Snapshot::load(w.conn())?;
        let plan = plan::plan(&sheet, &snapshot, progress);
        if let Some(first) = plan.errors.first() {
            return Err(CoreError::invalid(
                "roster",
                Refusal::RosterHasErrors,
                format!(
                    "{} of {} rows have errors (first: row {}, column «{}»: {}: {}) — nothing was imported",
                    plan.counts.error_rows,
                    plan.counts.rows,
                    first.row,
                    first.column,
                    first.code.as_str(),
                    first.message
                ),
            )
            .with("error_rows", plan.counts.error_rows)
            .with("rows", plan.counts.rows)
            .with("first_row", first.row)
            .with("first_column", &first.column)
            .with("first_issue", first.code.as_str()));
        }
        let mut outcome = RosterOutcome {
            file_name: file.file_name.clone(),
            sha256: file.sha256.clone(),
            unchanged: plan.events.is_empty(),
            rows: plan.counts.rows,
            created: plan.counts.create,
            updated: plan.counts.update,
            unchanged_rows: plan.counts.unchanged,
            not_in_file: plan.counts.not_in_file,
            classes_created: plan.new_classes.iter().map(|(name, _)| name.to_string()).collect(),
            guardians_created: plan.guardians_created,
            cards_bound: plan.cards_bound,
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
            EventBody::RosterImported {
                file_name: file.file_name.clone(),
                sha256: file.sha256.clone(),
                rows: outcome.rows,
                created: outcome.created,
                updated: outcome.updated,
            },
        )?;
        ticker.tick(total);
        outcome.events = total as u32;
        Ok(outcome)
    })
}

/// The picked file read as this import reads it.
fn parse_sheet(file: &PickedFile, progress: &dyn Fn(Progress)) -> columns::Sheet {
    match read::read_table(&file.file_name, &file.bytes) {
        Ok((source, table)) => columns::Sheet::from_table(source, table, progress),
        Err(issue) => columns::Sheet::unreadable(issue),
    }
}

/// Reports progress of one stage at most every 1 % (and at most every
/// [`PROGRESS_ROWS_MIN`] items), plus the start and the end.
pub(crate) struct Ticker<'p> {
    stage: &'static str,
    total: u64,
    step: u64,
    next: std::cell::Cell<u64>,
    last: std::cell::Cell<u64>,
    progress: &'p dyn Fn(Progress),
}

impl<'p> Ticker<'p> {
    pub(crate) fn new(stage: &'static str, total: u64, progress: &'p dyn Fn(Progress)) -> Self {
        let step = (total / 100).max(PROGRESS_ROWS_MIN);
        progress(Progress {
            stage: stage.to_owned(),
            done: 0,
            total,
        });
        Ticker {
            stage,
            total,
            step,
            next: std::cell::Cell::new(step),
            last: std::cell::Cell::new(0),
            progress,
        }
    }

    pub(crate) fn tick(&self, done: u64) {
        let at_end = done == self.total && self.last.get() != self.total;
        if done >= self.next.get() || at_end {
            (self.progress)(Progress {
                stage: self.stage.to_owned(),
                done,
                total: self.total,
            });
            self.next.set(done + self.step);
            self.last.set(done);
        }
    }
}
