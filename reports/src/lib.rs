//! Report documents and their renderings to PDF, XLSX and CSV.
//!
//! A report (attendance, meals and savings, sales, library) is built once as a
//! [`Document`] — a title, a period, typed columns, rows and an optional totals row — and
//! then rendered to whatever the reader wants. Rendering is deterministic: the same
//! document gives the same bytes, so outputs can be compared in tests and archived.
//! The crate knows nothing of pupils or the database; `core` fills the documents.
//!
//! Codemap:
//! - `document.rs` — [`Document`], [`Column`], [`ColumnKind`], [`Cell`]: the shape of a
//!   report, checked as it is built (every row has a cell per column, of the column's kind).
//! - `money.rs` — [`format_rubles`]: integer kopecks to rubles text, without floats.
//! - `csv_file.rs` — [`write_csv`], [`to_csv_bytes`], [`CsvOptions`]: CSV for Excel and
//!   for machines.
//!
//! PDF and XLSX renderers come in later work.

mod csv_file;
mod document;
mod money;

pub use csv_file::{to_csv_bytes, write_csv, CsvError, CsvOptions, DateFormat, Delimiter};
pub use document::{Cell, Column, ColumnKind, Document, DocumentError};
pub use money::{format_rubles, DecimalSeparator, KOPECKS_PER_RUBLE};
