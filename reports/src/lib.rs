//! Report documents and their renderings to PDF, XLSX and CSV.
//!
//! A report (attendance, meals and savings, sales, library, the evacuation list, the meal
//! order) is built once as a [`Document`] — the organisation, a title, a period, when it
//! was made, typed columns, rows (optionally in groups under headings), an optional totals
//! row and notes under the table — and then rendered to whatever the reader wants. Rendering is deterministic: the same
//! document gives the same bytes (no clock, no random ids), so outputs can be compared in
//! tests and archived. The crate knows nothing of the database and reads no clock; `core`
//! fills the documents and passes the time in. It does no I/O: renderers return bytes.
//!
//! Codemap:
//! - `document.rs` — [`Document`], [`Column`], [`ColumnKind`], [`Cell`], [`Section`]: the
//!   shape of a report, checked as it is built (every row has a cell per column, of the
//!   column's kind; group headings are not blank). [`Document::sections`] is how renderers
//!   walk rows and groups.
//! - `money.rs` — [`format_rubles`], [`format_rubles_grouped`],
//!   [`format_rubles_with_sign`]: integer kopecks to rubles text, without floats.
//! - `csv_file.rs` — [`write_csv`], [`to_csv_bytes`], [`CsvOptions`]: CSV for Excel and
//!   for machines; groups as a «Группа» column or as heading rows ([`GroupLayout`]).
//! - `pdf.rs` — [`to_pdf_bytes`]: A4 pages, portrait or landscape by the table's width,
//!   headings repeated on every page, «стр. N из M», text wrapped within its column, group
//!   headings kept with their rows. Two passes: `paginate` lays out marks in points, then
//!   `write_pdf` subsets the fonts and writes objects with pdf-writer.
//! - `font.rs` — the embedded DejaVu Sans Condensed (book, bold; `fonts/`, with its licence)
//!   and the metrics layout measures with.
//! - `xlsx.rs` — [`to_xlsx_bytes`]: one sheet, typed cells (numbers, money with a ruble
//!   format, dates), bold frozen headings with an autofilter, groups as bold rows.
//! - `evacuation.rs` — [`evacuation_list`]: the list of everyone inside ([`EvacuationInput`],
//!   [`PersonInside`], [`Presence`]) grouped by class, then staff and visitors, for the
//!   guard to print with the network down.
//! - `meal_order.rs` — [`meal_order`]: the supplier's daily order (заявка на питание) from
//!   [`MealOrderInput`]: per complex and class, free portions by [`BudgetSource`] and paid
//!   ones, in portions and rubles, late corrections, subtotals, signature lines as notes.
//! - `receipt.rs` — the canteen till's receipt ([`Receipt`]): [`receipt_escpos`] for 58/80
//!   mm thermal printers (ESC/POS, PC866 by [`PrinterProfile`]) and [`receipt_pdf`], a
//!   page as narrow as the roll; both lay out the same blocks.
//! - `shift_report.rs` — [`shift_report`]: the cashier's shift (sales by category, meals
//!   by complex and payer, refunds) from [`ShiftReportInput`].
//!
//! Invariants: renderers never fail on a document's shape (only on output, or a refused
//! font); nothing here downloads or reads files at run time — the fonts are compiled in.

mod csv_file;
mod document;
mod evacuation;
mod font;
mod meal_order;
mod money;
mod pdf;
mod receipt;
mod shift_report;
mod xlsx;

pub use csv_file::{
    to_csv_bytes, write_csv, CsvError, CsvOptions, DateFormat, Delimiter, GroupLayout,
    GROUP_COLUMN_TITLE,
};
pub use document::{Cell, Column, ColumnKind, Document, DocumentError, Group, Section};
pub use evacuation::{evacuation_list, EvacuationInput, PersonInside, Presence, EVACUATION_TITLE};
pub use meal_order::{
    meal_order, BudgetSource, ClassPortions, ComplexOrder, LateCorrection, MealOrderInput,
    Portions, BUDGET_ABBREVIATIONS_NOTE, COMPLEX_TOTAL_LABEL, MEAL_ORDER_TITLE, ORDER_TOTAL_LABEL,
};
pub use money::{
    format_rubles, format_rubles_grouped, format_rubles_with_sign, DecimalSeparator,
    KOPECKS_PER_RUBLE, RUBLE_SIGN, THOUSANDS_SEPARATOR,
};
pub use pdf::{to_pdf_bytes, PdfError, MAX_CELL_LINES};
pub use receipt::{
    receipt_escpos, receipt_pdf, to_cp866_text, FreeMeal, PaperWidth, PrinterProfile, Receipt,
    ReceiptLine, CODE_PAGE_PC866_EPSON, FEED_LINES_BEFORE_CUT, RECEIPT_COLUMNS_MAX,
    RECEIPT_COLUMNS_MIN,
};
pub use shift_report::{
    shift_report, CategorySales, MealsServed, ShiftReportInput, SHIFT_REPORT_TITLE,
};
pub use xlsx::{to_xlsx_bytes, XlsxRenderError};
