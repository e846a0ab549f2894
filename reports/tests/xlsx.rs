//! The XLSX read back with calamine: typed values where the document has types.

mod common;

use std::io::{Cursor, Read};

use calamine::{open_workbook_from_rs, Data, Reader, Xlsx};
use chrono::NaiveDate;
use common::{at, school_at_ten, SCHOOL};
use schoolcard_reports::{evacuation_list, to_xlsx_bytes, Cell, Column, ColumnKind, Document};

fn meals_report() -> Document {
    let mut document = Document::new(
        "Питание и экономия",
        vec![
            Column::new("Дата", ColumnKind::Date),
            Column::new("Ученик", ColumnKind::Text),
            Column::new("Обедов", ColumnKind::Integer),
            Column::new("Сумма, ₽", ColumnKind::Money),
        ],
    )
    .expect("has columns")
    .with_organization(SCHOOL)
    .with_period("сентябрь 2024")
    .with_generated_at(at(27, 9, 5));
    let date = |day| Cell::Date(NaiveDate::from_ymd_opt(2024, 9, day).expect("valid date"));
    document
        .push_row(vec![
            date(2),
            Cell::text("Ёлкина Софья Андреевна"),
            Cell::Integer(1),
            Cell::money(6_141_264_000),
        ])
        .expect("fits");
    document
        .push_row(vec![
            date(3),
            Cell::text("=1+1"),
            Cell::Integer(-1),
            Cell::money(-12_345),
        ])
        .expect("fits");
    document
        .push_row(vec![Cell::Empty, Cell::Empty, Cell::Empty, Cell::Empty])
        .expect("fits");
    document
        .set_totals(vec![
            Cell::text("Итого"),
            Cell::Empty,
            Cell::Integer(0),
            Cell::money(6_141_251_655),
        ])
        .expect("fits");
    document
}

/// The sheet's cells as (row, column) → value, with numbers and dates typed.
fn cells(bytes: &[u8]) -> calamine::Range<Data> {
    let mut workbook: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes.to_vec())).expect("opens");
    let names = workbook.sheet_names();
    assert_eq!(names.len(), 1);
    workbook
        .worksheet_range(&names[0])
        .expect("reads the sheet")
}

fn sheet_xml(bytes: &[u8]) -> String {
    package_part(bytes, "xl/worksheets/sheet1.xml")
}

fn package_part(bytes: &[u8], name: &str) -> String {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).expect("a zip package");
    let mut xml = String::new();
    archive
        .by_name(name)
        .expect("has the part")
        .read_to_string(&mut xml)
        .expect("UTF-8 XML");
    xml
}

#[test]
fn cells_keep_their_types() {
    let bytes = to_xlsx_bytes(&meals_report()).expect("renders");
    let range = cells(&bytes);
    let text = |s: &str| Data::String(s.to_owned());
    let expected: Vec<(u32, u32, Data)> = vec![
        (0, 0, text(SCHOOL)),
        (1, 0, text("Питание и экономия")),
        (2, 0, text("сентябрь 2024")),
        (3, 0, text("Сформирован 27.11.2026 в 09:05")),
        (5, 0, text("Дата")),
        (5, 3, text("Сумма, ₽")),
        (6, 1, text("Ёлкина Софья Андреевна")),
        (6, 2, Data::Float(1.0)),
        (6, 3, Data::Float(61_412_640.0)),
        // A formula-looking name stays a string: XLSX keeps the type, nothing is evaluated.
        (7, 1, text("=1+1")),
        (7, 2, Data::Float(-1.0)),
        (7, 3, Data::Float(-123.45)),
        (8, 0, Data::Empty),
        (9, 0, text("Итого")),
        (9, 3, Data::Float(61_412_516.55)),
    ];
    for (row, column, value) in expected {
        assert_eq!(
            range.get_value((row, column)),
            Some(&value),
            "row {row}, column {column}"
        );
    }
    match range.get_value((6, 0)) {
        Some(Data::DateTime(date)) => assert_eq!(
            date.as_datetime().map(|d| d.date()),
            NaiveDate::from_ymd_opt(2024, 9, 2)
        ),
        other => panic!("a date cell reads back as {other:?}"),
    }
}

#[test]
fn headings_are_frozen_and_filtered() {
    let xml = sheet_xml(&to_xlsx_bytes(&meals_report()).expect("renders"));
    for expected in [
        r#"<pane ySplit="6" topLeftCell="A7" activePane="bottomLeft" state="frozen"/>"#,
        r#"<autoFilter ref="A6:D9"/>"#,
    ] {
        assert!(xml.contains(expected), "lacks {expected}:\n{xml}");
    }
}

#[test]
fn groups_are_heading_rows() {
    let document = evacuation_list(&school_at_ten()).expect("valid list");
    let range = cells(&to_xlsx_bytes(&document).expect("renders"));
    let column_a: Vec<&Data> = range.rows().map(|row| &row[0]).collect();
    let heading = column_a
        .iter()
        .position(|value| **value == Data::String("5А — 29 чел.".to_owned()))
        .expect("5А has a heading row");
    // The first row of the group follows its heading, numbered.
    assert!(
        matches!(column_a[heading + 1], Data::Float(n) if *n > 100.0),
        "{:?}",
        column_a[heading + 1]
    );
    let last = range.rows().next_back().expect("has rows");
    assert_eq!(last[1], Data::String("Всего в здании: 920 чел.".to_owned()));
    // School, title, generated-at, a blank and the headings; 920 people under 33 class, 1
    // staff and 1 visitor headings; the totals.
    assert_eq!(range.height(), 5 + 920 + 35 + 1);
}

#[test]
fn the_same_document_gives_the_same_bytes() {
    let document = meals_report();
    assert_eq!(
        to_xlsx_bytes(&document).expect("renders"),
        to_xlsx_bytes(&document).expect("renders")
    );
    let undated =
        Document::new("T", vec![Column::new("A", ColumnKind::Integer)]).expect("has columns");
    assert_eq!(
        to_xlsx_bytes(&undated).expect("renders"),
        to_xlsx_bytes(&undated).expect("renders")
    );
}
