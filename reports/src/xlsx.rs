//! XLSX rendering of a [`Document`], for people who go on working with the numbers.
//!
//! Cells are typed: integers and money are numbers (money in rubles with a ruble number
//! format, so sums and filters work), dates are Excel dates. Above the table stand the
//! organisation, the title (bold), the period and when the report was made; the column
//! headings are bold, frozen and carry an autofilter; groups are bold heading rows; the
//! totals row is bold under a rule; the notes follow under it, one a row. The workbook's creation date is the document's
//! generated-at time (or a fixed date), so the same document gives the same bytes.

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use rust_xlsxwriter::{
    Color, DocProperties, ExcelDateTime, Format, FormatAlign, FormatBorder, Workbook, Worksheet,
    XlsxError,
};

use crate::document::{Cell, ColumnKind, Document};
use crate::money::KOPECKS_PER_RUBLE;

/// Excel's limit on the characters in one cell.
const CELL_CHARS_MAX: usize = 32_767;
/// Excel's limit on rows in a sheet.
const SHEET_ROWS_MAX: usize = 1_048_576;
/// Excel's limit on a sheet name's characters.
const SHEET_NAME_CHARS_MAX: usize = 31;
/// Column widths, in Excel's character units: wide enough for a short heading, never so
/// wide that one comment pushes the other columns off the screen.
const COLUMN_WIDTH_MIN: f64 = 6.0;
const COLUMN_WIDTH_MAX: f64 = 60.0;
/// The creation date of a workbook whose document has no generated-at time: fixed, so that
/// output stays deterministic.
const FALLBACK_CREATED: (u16, u8, u8) = (2000, 1, 1);

/// Money: thousands grouped, two decimals, the ruble sign; negatives red.
const MONEY_FORMAT: &str = "#,##0.00\\ \"₽\";[Red]\\-#,##0.00\\ \"₽\"";
/// Whole numbers, thousands grouped.
const INTEGER_FORMAT: &str = "#,##0";
/// Dates the Russian way.
const DATE_FORMAT: &str = "dd.mm.yyyy";
/// Header and group fills (light greys that print well).
const HEADER_FILL: u32 = 0xD9D9D9;
const GROUP_FILL: u32 = 0xEDEDED;

/// Why a workbook could not be written.
#[derive(Debug, thiserror::Error)]
pub enum XlsxRenderError {
    /// More rows than a sheet holds.
    #[error("the report has {rows} rows, more than an Excel sheet holds ({SHEET_ROWS_MAX})")]
    TooManyRows {
        /// The sheet rows the report needs.
        rows: usize,
    },
    /// The writer refused something.
    #[error("writing XLSX: {0}")]
    Xlsx(#[from] XlsxError),
}

/// Renders `document` as an XLSX workbook with one sheet.
pub fn to_xlsx_bytes(document: &Document) -> Result<Vec<u8>, XlsxRenderError> {
    let formats = Formats::new();
    let mut workbook = Workbook::new();
    let created = document
        .generated_at()
        .and_then(excel_datetime)
        .map_or_else(fallback_created, Ok)?;
    let mut properties = DocProperties::new()
        .set_title(document.title())
        .set_creation_datetime(&created);
    if let Some(organization) = document.organization() {
        properties = properties.set_company(organization);
    }
    workbook.set_properties(&properties);

    let sheet = workbook.add_worksheet();
    sheet.set_name(sheet_name(document.title()))?;
    sheet.set_paper_size(9); // A4
    if document.columns().len() > 6 {
        sheet.set_landscape();
    }
    // Print on pages as wide as the sheet, as long as it takes.
    sheet.set_print_fit_to_pages(1, 0);

    let mut row: u32 = 0;
    if let Some(organization) = document.organization() {
        sheet.write_string(row, 0, organization)?;
        row += 1;
    }
    sheet.write_string_with_format(row, 0, document.title(), &formats.title)?;
    row += 1;
    if let Some(period) = document.period() {
        sheet.write_string(row, 0, period)?;
        row += 1;
    }
    if let Some(at) = document.generated_at() {
        sheet.write_string(
            row,
            0,
            format!("Сформирован {}", at.format("%d.%m.%Y в %H:%M")),
        )?;
        row += 1;
    }
    row += 1;

    let sections = document.sections();
    let headings = sections.iter().filter(|s| s.heading.is_some()).count();
    let notes = document.notes().len() + usize::from(!document.notes().is_empty());
    let needed = row as usize + 1 + document.rows().len() + headings + 1 + notes;
    if needed > SHEET_ROWS_MAX {
        return Err(XlsxRenderError::TooManyRows { rows: needed });
    }

    let header_row = row;
    let last_column = column_index(document.columns().len() - 1);
    for (index, column) in document.columns().iter().enumerate() {
        let format = match column.kind {
            ColumnKind::Text => &formats.header,
            _ => &formats.header_right,
        };
        sheet.write_string_with_format(row, column_index(index), &column.title, format)?;
    }
    sheet.set_freeze_panes(row + 1, 0)?;
    // Print the headings on every page too.
    sheet.set_repeat_rows(row, row)?;
    row += 1;

    for section in &sections {
        if let Some(heading) = section.heading {
            sheet.write_string_with_format(row, 0, clip(heading), &formats.group)?;
            for column in 1..=last_column {
                sheet.write_blank(row, column, &formats.group)?;
            }
            row += 1;
        }
        for cells in section.rows {
            write_row(sheet, row, cells, &formats, false)?;
            row += 1;
        }
    }
    let last_data_row = row.saturating_sub(1).max(header_row);
    sheet.autofilter(header_row, 0, last_data_row, last_column)?;
    if let Some(totals) = document.totals() {
        write_row(sheet, row, totals, &formats, true)?;
        row += 1;
    }
    if !document.notes().is_empty() {
        // One empty row between the table and its notes.
        row += 1;
        for note in document.notes() {
            if !note.is_empty() {
                sheet.write_string(row, 0, clip(note))?;
            }
            row += 1;
        }
    }

    for (index, width) in column_widths(document).into_iter().enumerate() {
        sheet.set_column_width(column_index(index), width)?;
    }
    Ok(workbook.save_to_buffer()?)
}

struct Formats {
    title: Format,
    header: Format,
    header_right: Format,
    group: Format,
    body: [Format; 4],
    totals: [Format; 4],
}

impl Formats {
    fn new() -> Formats {
        let header = Format::new()
            .set_bold()
            .set_text_wrap()
            .set_align(FormatAlign::Top)
            .set_background_color(Color::RGB(HEADER_FILL))
            .set_border_bottom(FormatBorder::Thin);
        let by_kind = |base: Format| {
            [
                base.clone(),
                base.clone().set_num_format(INTEGER_FORMAT),
                base.clone().set_num_format(MONEY_FORMAT),
                base.set_num_format(DATE_FORMAT),
            ]
        };
        Formats {
            title: Format::new().set_bold().set_font_size(14),
            header_right: header.clone().set_align(FormatAlign::Right),
            header,
            group: Format::new()
                .set_bold()
                .set_background_color(Color::RGB(GROUP_FILL)),
            body: by_kind(Format::new().set_align(FormatAlign::Top)),
            totals: by_kind(Format::new().set_bold().set_border_top(FormatBorder::Thin)),
        }
    }

    fn cell(&self, cell: &Cell, totals: bool) -> &Format {
        let index = match cell.kind() {
            None | Some(ColumnKind::Text) => 0,
            Some(ColumnKind::Integer) => 1,
            Some(ColumnKind::Money) => 2,
            Some(ColumnKind::Date) => 3,
        };
        if totals {
            &self.totals[index]
        } else {
            &self.body[index]
        }
    }
}

fn write_row(
    sheet: &mut Worksheet,
    row: u32,
    cells: &[Cell],
    formats: &Formats,
    totals: bool,
) -> Result<(), XlsxError> {
    for (index, cell) in cells.iter().enumerate() {
        let column = column_index(index);
        let format = formats.cell(cell, totals);
        match cell {
            Cell::Empty if totals => {
                sheet.write_blank(row, column, format)?;
            }
            Cell::Empty => {}
            Cell::Text(text) => {
                sheet.write_string_with_format(row, column, clip(text), format)?;
            }
            // Counts are far below 2^53, where f64 stops being exact.
            Cell::Integer(value) => {
                sheet.write_number_with_format(row, column, *value as f64, format)?;
            }
            Cell::Money { kopecks } => {
                sheet.write_number_with_format(row, column, rubles(*kopecks), format)?;
            }
            Cell::Date(date) => match excel_date(*date) {
                Some(date) => {
                    sheet.write_datetime_with_format(row, column, &date, format)?;
                }
                // Excel has no dates before 1900: such a date stays readable as text.
                None => {
                    let text = date.format("%d.%m.%Y").to_string();
                    sheet.write_string_with_format(
                        row,
                        column,
                        text,
                        formats.cell(&Cell::Empty, totals),
                    )?;
                }
            },
        }
    }
    Ok(())
}

/// Kopecks as rubles for Excel, which keeps numbers as f64: exact to the kopeck for any
/// amount under 2^53 kopecks (90 trillion rubles).
fn rubles(kopecks: i64) -> f64 {
    kopecks as f64 / KOPECKS_PER_RUBLE as f64
}

fn column_index(index: usize) -> u16 {
    // A document's columns are few; Excel's limit (16,384) is far away.
    u16::try_from(index).unwrap_or(u16::MAX)
}

/// Text as Excel takes it: at most [`CELL_CHARS_MAX`] characters.
fn clip(text: &str) -> String {
    if text.chars().count() <= CELL_CHARS_MAX {
        text.to_owned()
    } else {
        let mut clipped: String = text.chars().take(CELL_CHARS_MAX - 1).collect();
        clipped.push('…');
        clipped
    }
}

/// A sheet name Excel accepts: no `[]:*?/\`, not blank, at most 31 characters.
fn sheet_name(title: &str) -> String {
    let name: String = title
        .chars()
        .map(|c| {
            if "[]:*?/\\".contains(c) || c.is_control() {
                ' '
            } else {
                c
            }
        })
        .take(SHEET_NAME_CHARS_MAX)
        .collect();
    let name = name.trim().trim_matches('\'').trim().to_owned();
    if name.is_empty() {
        "Отчёт".to_owned()
    } else {
        name
    }
}

fn excel_date(date: NaiveDate) -> Option<ExcelDateTime> {
    let year = u16::try_from(date.year()).ok()?;
    let month = u8::try_from(date.month()).ok()?;
    let day = u8::try_from(date.day()).ok()?;
    ExcelDateTime::from_ymd(year, month, day).ok()
}

fn excel_datetime(at: NaiveDateTime) -> Option<ExcelDateTime> {
    let minute = u8::try_from(at.minute()).ok()?;
    let hour = u16::try_from(at.hour()).ok()?;
    excel_date(at.date())?
        .and_hms(hour, minute, at.second())
        .ok()
}

fn fallback_created() -> Result<ExcelDateTime, XlsxError> {
    let (year, month, day) = FALLBACK_CREATED;
    ExcelDateTime::from_ymd(year, month, day)
}

/// Widths from the longest shown value of each column (headings wrap at spaces, so their
/// longest word counts), in Excel's character units.
fn column_widths(document: &Document) -> Vec<f64> {
    let mut widths: Vec<usize> = document
        .columns()
        .iter()
        .map(|column| {
            column
                .title
                .split_whitespace()
                .map(|w| w.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let totals = document.totals().into_iter();
    for cells in document.rows().iter().map(Vec::as_slice).chain(totals) {
        for (width, cell) in widths.iter_mut().zip(cells) {
            *width = (*width).max(shown_chars(cell));
        }
    }
    widths
        .into_iter()
        .map(|chars| (chars as f64 * 1.1 + 2.0).clamp(COLUMN_WIDTH_MIN, COLUMN_WIDTH_MAX))
        .collect()
}

/// About how many characters Excel shows for a cell in its format.
fn shown_chars(cell: &Cell) -> usize {
    match cell {
        Cell::Empty => 0,
        Cell::Text(text) => text.chars().count(),
        Cell::Integer(value) => digits_grouped(value.unsigned_abs()) + usize::from(*value < 0),
        Cell::Money { kopecks } => {
            // «1 234,56 ₽»
            digits_grouped(kopecks.unsigned_abs() / KOPECKS_PER_RUBLE)
                + 5
                + usize::from(*kopecks < 0)
        }
        Cell::Date(_) => "dd.mm.yyyy".len(),
    }
}

fn digits_grouped(value: u64) -> usize {
    let digits = value.checked_ilog10().map_or(1, |log| log as usize + 1);
    digits + (digits - 1) / 3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sheet_names_excel_accepts() {
        let cases = [
            ("Питание 1А", "Питание 1А"),
            ("Продажи: 01/09–30/09 [итог]?", "Продажи  01 09–30 09  итог"),
            ("", "Отчёт"),
            ("'''", "Отчёт"),
            (
                "Список находящихся в здании на сегодня",
                "Список находящихся в здании на",
            ),
        ];
        for (title, expected) in cases {
            assert_eq!(sheet_name(title), expected, "{title:?}");
        }
    }

    #[test]
    fn shown_widths() {
        let cases = [
            (Cell::Integer(0), 1),
            (Cell::Integer(-1234), 6),
            (Cell::money(123_456_789), 14),
            (Cell::text("Ёлкина"), 6),
        ];
        for (cell, chars) in cases {
            assert_eq!(shown_chars(&cell), chars, "{cell:?}");
        }
    }
}
