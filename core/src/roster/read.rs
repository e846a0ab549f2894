//! A roster file's bytes → a table of cells, each row numbered as Excel shows it.
//!
//! CSV: UTF-8 (with or without BOM), UTF-16 with a BOM, else Windows-1251; the delimiter
//! (`;`, `,` or tab) is the one the header line uses most, or the one an Excel `sep=`
//! line names. Spreadsheets (XLSX, XLS, ODS, told apart by their first bytes): the first
//! sheet, with date cells read as dates.

use super::{
    FileIssue, Reason, SourceInfo, HEADER_SEARCH_ROWS_MAX, ROSTER_COLUMNS_MAX, ROSTER_ROWS_MAX,
    WORKBOOK_ENTRIES_MAX, WORKBOOK_UNCOMPRESSED_BYTES_MAX,
};
use crate::error::{CoreError, CoreResult, Refusal};
use crate::workstation::cannot_read;
use chrono::NaiveDate;
use std::borrow::Cow;
use std::io::Cursor;

/// One cell as read. CSV gives only text; spreadsheets keep numbers and dates typed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell {
    Text(String),
    Number(f64),
    Date(NaiveDate),
    /// An Excel error value such as `#REF!`.
    Error(String),
}

impl Cell {
    /// The cell as a person would read it, trimmed. Whole numbers have no `.0`.
    pub(crate) fn text(&self) -> Cow<'_, str> {
        match self {
            Cell::Text(s) => Cow::Borrowed(s.trim()),
            Cell::Number(f) if f.fract() == 0.0 && f.abs() < 1e15 => {
                Cow::Owned(format!("{}", *f as i64))
            }
            Cell::Number(f) => Cow::Owned(f.to_string()),
            Cell::Date(d) => Cow::Owned(d.format("%d.%m.%Y").to_string()),
            Cell::Error(e) => Cow::Borrowed(e.as_str()),
        }
    }

    pub(crate) fn is_blank(&self) -> bool {
        matches!(self, Cell::Text(s) if s.trim().is_empty())
    }
}

/// The non-blank rows of the file (or of its first sheet), header included: which row is
/// the header is for [`super::columns`] to find.
pub(crate) struct Table {
    pub rows: Vec<TableRow>,
}

pub(crate) struct TableRow {
    /// 1-based, as Excel numbers rows (the header is usually row 1).
    pub row: u32,
    pub cells: Vec<Cell>,
}

const ZIP_MAGIC: &[u8] = b"PK\x03\x04";
/// OLE2 compound file: the legacy `.xls` workbook.
const OLE_MAGIC: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
const UTF8_BOM: &[u8] = &[0xEF, 0xBB, 0xBF];

pub(crate) fn read_table(file_name: &str, bytes: &[u8]) -> Result<(SourceInfo, Table), FileIssue> {
    let ext = file_name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    let spreadsheet = |format: &'static str| SourceInfo {
        format,
        encoding: None,
        delimiter: None,
    };
    if bytes.starts_with(ZIP_MAGIC) {
        check_workbook_zip(bytes)?;
        if ext == "ods" {
            Ok((spreadsheet("ods"), sheet_table::<calamine::Ods<_>>(bytes)?))
        } else {
            Ok((
                spreadsheet("xlsx"),
                sheet_table::<calamine::Xlsx<_>>(bytes)?,
            ))
        }
    } else if bytes.starts_with(OLE_MAGIC) {
        Ok((spreadsheet("xls"), sheet_table::<calamine::Xls<_>>(bytes)?))
    } else if matches!(ext.as_str(), "xlsx" | "xlsm" | "xls" | "ods") {
        Err(FileIssue::new(
            Reason::Unreadable,
            format!("{file_name} is named like a spreadsheet but is not one (it may be damaged, or a CSV renamed)"),
        ))
    } else {
        read_csv(bytes)
    }
}

// ---- spreadsheets ----------------------------------------------------------------------

/// Refuses a workbook whose parts would inflate past the bounds (a ZIP bomb).
fn check_workbook_zip(bytes: &[u8]) -> Result<(), FileIssue> {
    let unreadable = |e: zip::result::ZipError| {
        FileIssue::new(Reason::Unreadable, format!("damaged workbook: {e}"))
    };
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(unreadable)?;
    if archive.len() > WORKBOOK_ENTRIES_MAX {
        return Err(FileIssue::new(
            Reason::TooLarge,
            format!(
                "the workbook has {} parts; at most {WORKBOOK_ENTRIES_MAX} are read",
                archive.len()
            ),
        ));
    }
    let mut inflated_bytes: u64 = 0;
    for i in 0..archive.len() {
        let entry = archive.by_index_raw(i).map_err(unreadable)?;
        inflated_bytes = inflated_bytes.saturating_add(entry.size());
    }
    if inflated_bytes > WORKBOOK_UNCOMPRESSED_BYTES_MAX {
        return Err(FileIssue::new(
            Reason::TooLarge,
            format!(
                "the workbook unpacks to {inflated_bytes} bytes; at most {WORKBOOK_UNCOMPRESSED_BYTES_MAX} are read"
            ),
        ));
    }
    Ok(())
}

fn sheet_table<R>(bytes: &[u8]) -> Result<Table, FileIssue>
where
    R: calamine::Reader<Cursor<Vec<u8>>>,
    R::Error: std::fmt::Display,
{
    let unreadable =
        |e: R::Error| FileIssue::new(Reason::Unreadable, format!("cannot read the workbook: {e}"));
    let mut workbook = R::new(Cursor::new(bytes.to_vec())).map_err(unreadable)?;
    let range = match workbook.worksheet_range_at(0) {
        None => {
            return Err(FileIssue::new(
                Reason::NoHeader,
                "the workbook has no sheets",
            ))
        }
        Some(range) => range.map_err(unreadable)?,
    };
    let Some((first_row, _)) = range.start() else {
        return Err(FileIssue::new(Reason::NoHeader, "the first sheet is empty"));
    };
    if range.height() > ROSTER_ROWS_MAX + HEADER_SEARCH_ROWS_MAX {
        return Err(too_many_rows(range.height()));
    }
    let mut rows = Vec::new();
    for (i, cells) in range.rows().enumerate() {
        let row = first_row + i as u32 + 1;
        let cells: Vec<Cell> = cells
            .iter()
            .take(ROSTER_COLUMNS_MAX + 1)
            .map(cell_from_data)
            .collect();
        if !cells.iter().all(Cell::is_blank) {
            rows.push(TableRow { row, cells });
        }
    }
    Ok(Table { rows })
}

fn cell_from_data(data: &calamine::Data) -> Cell {
    use calamine::Data;
    match data {
        Data::Empty => Cell::Text(String::new()),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => Cell::Text(s.clone()),
        Data::Int(i) => Cell::Text(i.to_string()),
        Data::Float(f) => Cell::Number(*f),
        Data::Bool(b) => Cell::Text(b.to_string()),
        Data::DateTime(dt) => match dt.as_datetime() {
            Some(at) if dt.is_datetime() => Cell::Date(at.date()),
            _ => Cell::Number(dt.as_f64()),
        },
        Data::Error(e) => Cell::Error(format!("#{e:?}")),
    }
}

fn too_many_rows(rows: usize) -> FileIssue {
    FileIssue::new(
        Reason::TooManyRows,
        format!("the file has {rows} rows; at most {ROSTER_ROWS_MAX} are read"),
    )
}

// ---- CSV -------------------------------------------------------------------------------

fn read_csv(bytes: &[u8]) -> Result<(SourceInfo, Table), FileIssue> {
    let (text, encoding) = decode_text(bytes)?;
    let (delimiter, body) = match excel_sep_line(&text) {
        Some((delimiter, rest)) => (delimiter, rest),
        None => (sniff_delimiter(&text), text.as_ref()),
    };
    let source = SourceInfo {
        format: "csv",
        encoding: Some(encoding),
        delimiter: Some(if delimiter == '\t' {
            "tab".to_owned()
        } else {
            delimiter.to_string()
        }),
    };

    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter as u8)
        .from_reader(body.as_bytes());
    let mut record = csv::StringRecord::new();
    let mut rows = Vec::new();
    // Excel shows a blank line as an empty row and a quoted multi-line field as one row;
    // the csv reader skips blank lines without counting them. So each record is one row
    // plus the blank lines skipped before it.
    let mut excel_row: u32 = 0;
    loop {
        let at_byte = reader.position().byte() as usize;
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                return Err(FileIssue::new(
                    Reason::Unreadable,
                    format!("not a readable CSV file: {e}"),
                ))
            }
        }
        let blank_lines = blank_lines_at(body.as_bytes(), at_byte);
        excel_row = excel_row.saturating_add(1).saturating_add(blank_lines);

        let cells: Vec<Cell> = record
            .iter()
            .take(ROSTER_COLUMNS_MAX + 1)
            .map(|f| Cell::Text(f.to_owned()))
            .collect();
        if cells.iter().all(Cell::is_blank) {
            continue;
        }
        if rows.len() == ROSTER_ROWS_MAX + HEADER_SEARCH_ROWS_MAX {
            return Err(too_many_rows(rows.len() + 1));
        }
        rows.push(TableRow {
            row: excel_row,
            cells,
        });
    }
    Ok((source, Table { rows }))
}

/// Line breaks (CR, LF or CRLF) from `at` up to the next record. A CRLF whose CR ended
/// the previous record is not a blank line.
fn blank_lines_at(body: &[u8], mut at: usize) -> u32 {
    if at > 0 && body.get(at - 1) == Some(&b'\r') && body.get(at) == Some(&b'\n') {
        at += 1;
    }
    let mut lines = 0u32;
    while let Some(&b) = body.get(at) {
        match b {
            b'\n' => at += 1,
            b'\r' if body.get(at + 1) == Some(&b'\n') => at += 2,
            b'\r' => at += 1,
            _ => break,
        }
        lines += 1;
    }
    lines
}

/// Valid UTF-8 is UTF-8; a UTF-16 BOM means UTF-16; anything else is Windows-1251 (what
/// Russian Excel saves as "CSV (разделители — запятые)").
fn decode_text(bytes: &[u8]) -> Result<(Cow<'_, str>, &'static str), FileIssue> {
    let (text, encoding): (Cow<'_, str>, &'static str) =
        if let Some(rest) = bytes.strip_prefix(UTF8_BOM) {
            (String::from_utf8_lossy(rest), "UTF-8")
        } else if let Some((enc, bom_len)) = encoding_rs::Encoding::for_bom(bytes) {
            let (text, _) = enc.decode_without_bom_handling(&bytes[bom_len..]);
            (text, enc.name())
        } else if let Ok(text) = std::str::from_utf8(bytes) {
            (Cow::Borrowed(text), "UTF-8")
        } else {
            let (text, _) = encoding_rs::WINDOWS_1251.decode_without_bom_handling(bytes);
            (text, "windows-1251")
        };
    if text.contains('\0') {
        return Err(FileIssue::new(
            Reason::Unreadable,
            "this is not a text (CSV) file or a spreadsheet",
        ));
    }
    Ok((text, encoding))
}

/// Excel writes `sep=;` as the first line of some CSV files and hides it when opening.
fn excel_sep_line(text: &str) -> Option<(char, &str)> {
    let (first, rest) = text.split_once('\n').unwrap_or((text, ""));
    let first = first.trim_end_matches('\r');
    let sep = first
        .strip_prefix("sep=")
        .or_else(|| first.strip_prefix("SEP="))?;
    let mut chars = sep.chars();
    match (chars.next(), chars.next()) {
        (Some(c @ (';' | ',' | '\t')), None) => Some((c, rest)),
        _ => None,
    }
}

/// The delimiter the first lines (the header, and any title above it) use most, outside
/// quotes; `;` on a tie, since that is what Russian Excel writes.
fn sniff_delimiter(text: &str) -> char {
    let head = text
        .split_inclusive('\n')
        .take(HEADER_SEARCH_ROWS_MAX)
        .collect::<String>();
    let mut counts = [(';', 0usize), (',', 0), ('\t', 0)];
    let mut quoted = false;
    for c in head.chars() {
        if c == '"' {
            quoted = !quoted;
        } else if !quoted {
            if let Some(slot) = counts.iter_mut().find(|(d, _)| *d == c) {
                slot.1 += 1;
            }
        }
    }
    // max_by_key keeps the last maximum; reversed, that is the first in the list.
    counts
        .iter()
        .rev()
        .max_by_key(|(_, n)| *n)
        .map_or(';', |(d, _)| *d)
}

/// A file the user picked, loaded once for one preview or commit: its name, its bytes and
/// their SHA-256 (what a commit checks against the preview). Shared by the roster and the
/// library's catalogue import.
pub(crate) struct PickedFile {
    pub file_name: String,
    pub sha256: String,
    pub bytes: Vec<u8>,
}

impl PickedFile {
    /// Reads `path`, refusing a file over `max_bytes` before reading it (`what`: «roster»,
    /// «catalogue», for the message).
    pub fn load(path: &std::path::Path, max_bytes: u64, what: &str) -> CoreResult<PickedFile> {
        use sha2::Digest;
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let cannot = |e: std::io::Error| cannot_read(path, e);
        let len_bytes = std::fs::metadata(path).map_err(cannot)?.len();
        if len_bytes > max_bytes {
            return Err(CoreError::invalid(
                "path",
                Refusal::FileTooLarge,
                format!("{file_name} is {len_bytes} bytes; a {what} file may be at most {max_bytes} bytes"),
            )
            .with("path", path.display())
            .with("max_mib", max_bytes / 1024 / 1024));
        }
        let bytes = std::fs::read(path).map_err(cannot)?;
        let sha256 = hex::encode(sha2::Sha256::digest(&bytes));
        Ok(PickedFile {
            file_name,
            sha256,
            bytes,
        })
    }

    /// Refuses with `reason` when the preview's `expected` SHA-256 is not this file's: it
    /// changed since, and nothing is imported.
    pub fn check_unchanged(&self, expected: Option<&str>, reason: Refusal) -> CoreResult<()> {
        match expected {
            Some(expected) if !expected.trim().eq_ignore_ascii_case(&self.sha256) => {
                Err(CoreError::conflict(
                    reason,
                    format!(
                        "{} changed since it was previewed — nothing was imported; preview it again",
                        self.file_name
                    ),
                )
                .with("file", &self.file_name))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first row's cells, and the other rows with their numbers.
    fn csv_rows(text: &str) -> (Vec<String>, Vec<(u32, Vec<String>)>) {
        let (_, table) = read_csv(text.as_bytes()).unwrap();
        let mut rows: Vec<(u32, Vec<String>)> = table
            .rows
            .iter()
            .map(|r| {
                (
                    r.row,
                    r.cells.iter().map(|c| c.text().into_owned()).collect(),
                )
            })
            .collect();
        let (header_row, header) = rows.remove(0);
        assert_eq!(header_row, 1);
        (header, rows)
    }

    #[test]
    fn delimiters_are_sniffed_from_the_header() {
        for (text, expected) in [
            ("a;b;c\n1,5;2;3", ';'),
            ("a,b,c\n1;2,3", ','),
            ("a\tb\n", '\t'),
            ("\"x;y\",b,c\n", ','),
            ("single\n", ';'),
            ("a;b,c\n", ';'),
            ("Список 5А,\nid;name;class\n1;a;5А\n", ';'),
        ] {
            assert_eq!(sniff_delimiter(text), expected, "{text:?}");
        }
    }

    #[test]
    fn rows_are_numbered_as_excel_shows_them() {
        let text = "id;note\n1;one\n\n2;\"two\nlines\"\n3;three\n;\n4;four\n";
        let (header, rows) = csv_rows(text);
        let crlf = csv_rows(&text.replace('\n', "\r\n"));
        assert_eq!(crlf.1.iter().map(|r| r.0).collect::<Vec<_>>(), [2, 4, 5, 7]);
        assert_eq!(header, ["id", "note"]);
        let numbered: Vec<(u32, String)> = rows
            .iter()
            .map(|(n, cells)| (*n, cells[0].clone()))
            .collect();
        // Row 3 is blank, row 4 holds a two-line field, row 6 has only empty cells.
        assert_eq!(
            numbered,
            [
                (2, "1".into()),
                (4, "2".into()),
                (5, "3".into()),
                (7, "4".into())
            ]
        );
        assert_eq!(rows[1].1[1], "two\nlines");
    }

    #[test]
    fn excel_sep_line_sets_the_delimiter_and_is_not_a_row() {
        let (header, rows) = csv_rows("sep=,\r\nid,name\r\n1,\"a;b\"\r\n");
        assert_eq!(header, ["id", "name"]);
        assert_eq!(rows, [(2, vec!["1".to_owned(), "a;b".to_owned()])]);
    }

    #[test]
    fn encodings_are_recognised() {
        let text = "Фамилия;Имя\nЁлкина;Дарья\n";
        let cp1251 = encoding_rs::WINDOWS_1251.encode(text).0.into_owned();
        let mut bom = UTF8_BOM.to_vec();
        bom.extend_from_slice(text.as_bytes());
        let mut utf16 = vec![0xFF, 0xFE];
        utf16.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        for (bytes, encoding) in [
            (text.as_bytes().to_vec(), "UTF-8"),
            (cp1251, "windows-1251"),
            (bom, "UTF-8"),
            (utf16, "UTF-16LE"),
        ] {
            let (decoded, found) = decode_text(&bytes).unwrap();
            assert_eq!((decoded.as_ref(), found), (text, encoding));
        }
        assert_eq!(
            decode_text(b"\x00\x01\x02").unwrap_err().code,
            Reason::Unreadable
        );
    }

    #[test]
    fn numbers_read_as_people_write_them() {
        assert_eq!(Cell::Number(123.0).text(), "123");
        assert_eq!(Cell::Number(1.5).text(), "1.5");
        assert_eq!(Cell::Text("  x ".into()).text(), "x");
        assert_eq!(
            Cell::Date(NaiveDate::from_ymd_opt(2014, 3, 25).unwrap()).text(),
            "25.03.2014"
        );
    }
}
