//! CSV rendering of a [`Document`], for Excel and for machines.
//!
//! Output is UTF-8 (with a byte-order mark by default, which is how Excel recognises
//! UTF-8 instead of guessing a Windows code page and garbling Cyrillic), CRLF line ends as
//! RFC 4180 and Excel expect, and fields quoted only where needed. The same document and
//! options always give the same bytes.

use std::io;

use chrono::{Datelike, NaiveDate};

use crate::document::{Cell, Document};
use crate::money::{format_rubles, DecimalSeparator};

/// The UTF-8 byte-order mark.
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Leading characters that make Excel read a text cell as a formula (OWASP "CSV
/// injection"); a tab or carriage return can hide one of them.
const FORMULA_TRIGGERS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// The character between fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Delimiter {
    /// `,` — RFC 4180, English-locale Excel, most programs.
    #[default]
    Comma,
    /// `;` — what Excel in a Russian locale expects (its list separator, since the decimal
    /// separator there is the comma).
    Semicolon,
}

impl Delimiter {
    fn as_byte(self) -> u8 {
        match self {
            Delimiter::Comma => b',',
            Delimiter::Semicolon => b';',
        }
    }
}

/// How dates are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DateFormat {
    /// `2024-09-02` (ISO 8601): unambiguous, sorts as text.
    #[default]
    Iso,
    /// `02.09.2024`: the Russian practice, which Russian-locale Excel reads as a date.
    DayMonthYear,
}

/// How rows in groups (see [`Document::begin_group`]) are written; documents without groups
/// are written the same either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GroupLayout {
    /// A first column «Группа» holding each row's group heading (empty for rows before the
    /// first group): every record keeps the same fields, for machines and pivot tables.
    #[default]
    Column,
    /// A row holding just the heading before each group's rows, as on paper.
    HeadingRows,
}

/// The heading of the column [`GroupLayout::Column`] adds.
pub const GROUP_COLUMN_TITLE: &str = "Группа";

/// Choices for [`write_csv`]. [`CsvOptions::default`] is plain CSV (comma, point, ISO
/// dates) with a BOM; [`CsvOptions::excel_ru`] is what a Russian-locale Excel opens
/// correctly by double-click.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CsvOptions {
    /// Between fields.
    pub delimiter: Delimiter,
    /// Between rubles and kopecks in money cells.
    pub decimal_separator: DecimalSeparator,
    /// How date cells are written.
    pub date_format: DateFormat,
    /// Start with the UTF-8 byte-order mark.
    pub byte_order_mark: bool,
    /// Write the title and the period, each in a row of its own, and a blank row before the
    /// column headings. Off for machine consumers that expect the header first.
    pub title_rows: bool,
    /// Prefix text that Excel would take for a formula (`=`, `+`, `-`, `@`, tab, CR at the
    /// start) with an apostrophe, so a pupil named `=HYPERLINK(…)` in an imported roster
    /// stays text. Numbers and money this crate writes are never prefixed.
    pub guard_formulas: bool,
    /// How groups are written.
    pub groups: GroupLayout,
}

impl Default for CsvOptions {
    fn default() -> CsvOptions {
        CsvOptions {
            delimiter: Delimiter::Comma,
            decimal_separator: DecimalSeparator::Point,
            date_format: DateFormat::Iso,
            byte_order_mark: true,
            title_rows: false,
            guard_formulas: true,
            groups: GroupLayout::Column,
        }
    }
}

impl CsvOptions {
    /// For Excel in a Russian locale: `;` between fields, `123,45` money (with a point,
    /// Russian Excel would read `12.05` as the 12th of May), `02.09.2024` dates, a BOM, the
    /// title rows, and groups as heading rows.
    pub fn excel_ru() -> CsvOptions {
        CsvOptions {
            delimiter: Delimiter::Semicolon,
            decimal_separator: DecimalSeparator::Comma,
            date_format: DateFormat::DayMonthYear,
            byte_order_mark: true,
            title_rows: true,
            guard_formulas: true,
            groups: GroupLayout::HeadingRows,
        }
    }
}

/// Why a CSV could not be written. The document's shape is already valid, so only the
/// output can fail.
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    /// Writing a record failed.
    #[error("writing CSV: {0}")]
    Csv(#[from] csv::Error),
    /// Writing the byte-order mark or flushing failed.
    #[error("writing CSV: {0}")]
    Io(#[from] io::Error),
}

/// Writes `document` as CSV to `out`: the optional title rows (organisation, title, period,
/// generated-at, a blank row), the column headings, the rows (with their groups as
/// `options.groups` says), then the totals row if any.
pub fn write_csv<W: io::Write>(
    document: &Document,
    options: &CsvOptions,
    mut out: W,
) -> Result<(), CsvError> {
    if options.byte_order_mark {
        out.write_all(UTF8_BOM)?;
    }
    let mut writer = csv::WriterBuilder::new()
        .delimiter(options.delimiter.as_byte())
        .terminator(csv::Terminator::CRLF)
        .quote_style(csv::QuoteStyle::Necessary)
        .double_quote(true)
        // The title rows have one field, the table has one per column.
        .flexible(true)
        .has_headers(false)
        .from_writer(out);
    let text = |value: &str| guard(value, options);

    if options.title_rows {
        if let Some(organization) = document.organization() {
            writer.write_record([text(organization)])?;
        }
        writer.write_record([text(document.title())])?;
        if let Some(period) = document.period() {
            writer.write_record([text(period)])?;
        }
        if let Some(at) = document.generated_at() {
            writer.write_record([format!("Сформирован {}", at.format("%d.%m.%Y в %H:%M"))])?;
        }
        writer.write_record([""])?;
    }
    let group_column = document.has_groups() && options.groups == GroupLayout::Column;
    let mut headings: Vec<String> = Vec::with_capacity(document.columns().len() + 1);
    if group_column {
        headings.push(GROUP_COLUMN_TITLE.to_owned());
    }
    headings.extend(document.columns().iter().map(|column| text(&column.title)));
    writer.write_record(&headings)?;
    for section in document.sections() {
        let heading = section.heading.map(text).unwrap_or_default();
        if section.heading.is_some() && !group_column {
            writer.write_record([heading.as_str()])?;
        }
        for row in section.rows {
            let cells = row.iter().map(|cell| cell_text(cell, options));
            if group_column {
                writer.write_record(std::iter::once(heading.clone()).chain(cells))?;
            } else {
                writer.write_record(cells)?;
            }
        }
    }
    if let Some(totals) = document.totals() {
        let cells = totals.iter().map(|cell| cell_text(cell, options));
        if group_column {
            writer.write_record(std::iter::once(String::new()).chain(cells))?;
        } else {
            writer.write_record(cells)?;
        }
    }
    writer.flush()?;
    Ok(())
}

/// [`write_csv`] into memory.
pub fn to_csv_bytes(document: &Document, options: &CsvOptions) -> Result<Vec<u8>, CsvError> {
    let mut bytes = Vec::new();
    write_csv(document, options, &mut bytes)?;
    Ok(bytes)
}

fn cell_text(cell: &Cell, options: &CsvOptions) -> String {
    match cell {
        Cell::Empty => String::new(),
        Cell::Text(text) => guard(text, options),
        Cell::Integer(value) => value.to_string(),
        Cell::Money { kopecks } => format_rubles(*kopecks, options.decimal_separator),
        Cell::Date(date) => date_text(*date, options.date_format),
    }
}

fn date_text(date: NaiveDate, format: DateFormat) -> String {
    let (year, month, day) = (date.year(), date.month(), date.day());
    match format {
        DateFormat::Iso => format!("{year:04}-{month:02}-{day:02}"),
        DateFormat::DayMonthYear => format!("{day:02}.{month:02}.{year:04}"),
    }
}

fn guard(text: &str, options: &CsvOptions) -> String {
    if options.guard_formulas && text.starts_with(FORMULA_TRIGGERS) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::{Column, ColumnKind};
    use proptest::prelude::*;

    fn date(year: i32, month: u32, day: u32) -> Cell {
        Cell::Date(NaiveDate::from_ymd_opt(year, month, day).expect("valid test date"))
    }

    /// A small meals report: two days of one class, with a refund and a total.
    fn meals_report() -> Document {
        let mut document = Document::new(
            "Питание 1А",
            vec![
                Column::new("Дата", ColumnKind::Date),
                Column::new("Ученик", ColumnKind::Text),
                Column::new("Обедов", ColumnKind::Integer),
                Column::new("Сумма, ₽", ColumnKind::Money),
            ],
        )
        .expect("has columns")
        .with_period("2–3 сентября 2024");
        let rows = [
            vec![
                date(2024, 9, 2),
                Cell::text("Иванов Пётр"),
                Cell::Integer(1),
                Cell::money(12345),
            ],
            vec![
                date(2024, 9, 3),
                Cell::text("Смирнова, Анна"),
                Cell::Integer(2),
                Cell::money(5),
            ],
            vec![
                date(2024, 9, 3),
                Cell::text("Возврат \"ошибка\""),
                Cell::Integer(-1),
                Cell::money(-12345),
            ],
            vec![
                Cell::Empty,
                Cell::text("=HYPERLINK(\"x\")"),
                Cell::Empty,
                Cell::Empty,
            ],
        ];
        for row in rows {
            document.push_row(row).expect("fits the columns");
        }
        document
            .set_totals(vec![
                Cell::text("Итого"),
                Cell::Empty,
                Cell::Integer(2),
                Cell::money(5),
            ])
            .expect("fits the columns");
        document
    }

    fn text_report(texts: &[&str]) -> Document {
        let mut document =
            Document::new("T", vec![Column::new("Текст", ColumnKind::Text)]).expect("has columns");
        for text in texts {
            document.push_row(vec![Cell::text(*text)]).expect("fits");
        }
        document
    }

    fn render(document: &Document, options: &CsvOptions) -> String {
        let bytes = to_csv_bytes(document, options).expect("writes to memory");
        String::from_utf8(bytes).expect("CSV is UTF-8")
    }

    #[test]
    fn documents_as_csv() {
        let no_bom = CsvOptions {
            byte_order_mark: false,
            ..CsvOptions::default()
        };
        let unguarded = CsvOptions {
            guard_formulas: false,
            byte_order_mark: false,
            ..CsvOptions::default()
        };
        let cases: Vec<(Document, CsvOptions, &str)> = vec![
            (
                meals_report(),
                CsvOptions::default(),
                "\u{feff}Дата,Ученик,Обедов,\"Сумма, ₽\"\r\n\
                 2024-09-02,Иванов Пётр,1,123.45\r\n\
                 2024-09-03,\"Смирнова, Анна\",2,0.05\r\n\
                 2024-09-03,\"Возврат \"\"ошибка\"\"\",-1,-123.45\r\n\
                 ,\"'=HYPERLINK(\"\"x\"\")\",,\r\n\
                 Итого,,2,0.05\r\n",
            ),
            (
                meals_report(),
                CsvOptions::excel_ru(),
                "\u{feff}Питание 1А\r\n\
                 2–3 сентября 2024\r\n\
                 \"\"\r\n\
                 Дата;Ученик;Обедов;Сумма, ₽\r\n\
                 02.09.2024;Иванов Пётр;1;123,45\r\n\
                 03.09.2024;Смирнова, Анна;2;0,05\r\n\
                 03.09.2024;\"Возврат \"\"ошибка\"\"\";-1;-123,45\r\n\
                 ;\"'=HYPERLINK(\"\"x\"\")\";;\r\n\
                 Итого;;2;0,05\r\n",
            ),
            (
                Document::new("Пусто", vec![Column::new("A", ColumnKind::Integer)]).expect("has columns"),
                CsvOptions::excel_ru(),
                "\u{feff}Пусто\r\n\"\"\r\nA\r\n",
            ),
            (
                text_report(&["+7 900 000-00-00", "-5", "@home", "\tx", "a;b", "line\nbreak", "обычный"]),
                no_bom,
                "Текст\r\n'+7 900 000-00-00\r\n'-5\r\n'@home\r\n'\tx\r\na;b\r\n\"line\nbreak\"\r\nобычный\r\n",
            ),
            (
                text_report(&["=1+1", "-5"]),
                unguarded,
                "Текст\r\n=1+1\r\n-5\r\n",
            ),
        ];
        for (document, options, expected) in cases {
            assert_eq!(
                render(&document, &options),
                expected,
                "{} with {options:?}",
                document.title()
            );
        }
    }

    #[test]
    fn groups_as_a_column_or_as_heading_rows() {
        let mut document = Document::new(
            "Список",
            vec![
                Column::new("№", ColumnKind::Integer),
                Column::new("ФИО", ColumnKind::Text),
            ],
        )
        .expect("has columns")
        .with_organization("Лицей")
        .with_generated_at(
            NaiveDate::from_ymd_opt(2026, 11, 27)
                .and_then(|d| d.and_hms_opt(10, 20, 0))
                .expect("valid time"),
        );
        document
            .push_row(vec![Cell::Integer(0), Cell::text("вне групп")])
            .expect("fits");
        document.begin_group("5А — 1 чел.").expect("not blank");
        document
            .push_row(vec![Cell::Integer(1), Cell::text("Ёлкина Софья")])
            .expect("fits");
        document.begin_group("=Гости").expect("not blank");
        document
            .set_totals(vec![Cell::Integer(2), Cell::text("Всего")])
            .expect("fits");
        let plain = CsvOptions {
            byte_order_mark: false,
            ..CsvOptions::default()
        };
        assert_eq!(
            render(&document, &plain),
            "Группа,№,ФИО\r\n,0,вне групп\r\n5А — 1 чел.,1,Ёлкина Софья\r\n,2,Всего\r\n"
        );
        assert_eq!(
            render(&document, &CsvOptions::excel_ru()),
            "\u{feff}Лицей\r\nСписок\r\nСформирован 27.11.2026 в 10:20\r\n\"\"\r\n\
             №;ФИО\r\n0;вне групп\r\n5А — 1 чел.\r\n1;Ёлкина Софья\r\n'=Гости\r\n2;Всего\r\n"
        );
    }

    #[test]
    fn rendering_is_deterministic() {
        let document = meals_report();
        for options in [CsvOptions::default(), CsvOptions::excel_ru()] {
            assert_eq!(render(&document, &options), render(&document, &options));
        }
    }

    proptest! {
        /// Whatever the text, a CSV reader gets the same cells back.
        #[test]
        fn text_cells_survive_a_csv_reader(
            texts in prop::collection::vec(".{0,40}", 1..20),
            semicolon: bool,
        ) {
            let options = CsvOptions {
                delimiter: if semicolon { Delimiter::Semicolon } else { Delimiter::Comma },
                guard_formulas: false,
                byte_order_mark: false,
                ..CsvOptions::default()
            };
            let mut document = Document::new("T", vec![
                Column::new("Текст", ColumnKind::Text),
                Column::new("Сумма", ColumnKind::Money),
            ]).map_err(|e| TestCaseError::fail(e.to_string()))?;
            for text in &texts {
                document.push_row(vec![Cell::text(text.as_str()), Cell::money(-1)])
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
            }
            let bytes = to_csv_bytes(&document, &options).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let mut reader = csv::ReaderBuilder::new()
                .delimiter(options.delimiter.as_byte())
                .has_headers(true)
                .from_reader(bytes.as_slice());
            let cells: Vec<(String, String)> = reader
                .records()
                .map(|record| record.map(|r| (r[0].to_owned(), r[1].to_owned())))
                .collect::<Result<_, _>>()
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let expected: Vec<(String, String)> =
                texts.iter().map(|text| (text.clone(), "-0.01".to_owned())).collect();
            prop_assert_eq!(cells, expected);
        }
    }
}
