//! Any document the model accepts renders in every format: no panic, a well-formed file.

use chrono::{NaiveDate, NaiveDateTime};
use proptest::prelude::*;
use schoolcard_reports::{
    to_csv_bytes, to_pdf_bytes, to_xlsx_bytes, Cell, Column, ColumnKind, CsvOptions, Document,
};

fn kind() -> impl Strategy<Value = ColumnKind> {
    prop_oneof![
        Just(ColumnKind::Text),
        Just(ColumnKind::Integer),
        Just(ColumnKind::Money),
        Just(ColumnKind::Date),
    ]
}

/// Any text: short Unicode of every plane (control characters, right-to-left, emoji that the
/// font lacks), or a long run of words that must wrap and be cut.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => ".{0,40}",
        1 => "[а-яё ]{200,600}",
        1 => "[A-Za-zА-Яа-я]{50,120}",
    ]
}

fn date() -> impl Strategy<Value = NaiveDate> {
    // From 274 BC to AD 8200: before Excel's 1900 and past PDF's 4-digit years' usual range.
    (-100_000i32..3_000_000)
        .prop_map(|days| NaiveDate::from_num_days_from_ce_opt(days).unwrap_or(NaiveDate::MIN))
}

fn cell(kind: ColumnKind) -> BoxedStrategy<Cell> {
    let value = match kind {
        ColumnKind::Text => text().prop_map(Cell::Text).boxed(),
        ColumnKind::Integer => any::<i64>().prop_map(Cell::Integer).boxed(),
        ColumnKind::Money => any::<i64>().prop_map(Cell::money).boxed(),
        ColumnKind::Date => date().prop_map(Cell::Date).boxed(),
    };
    prop_oneof![1 => Just(Cell::Empty), 6 => value].boxed()
}

/// A row, or a group heading before it.
#[derive(Debug, Clone)]
enum Line {
    Row(Vec<Cell>),
    Group(String),
}

fn document() -> impl Strategy<Value = Document> {
    prop::collection::vec((text(), kind()), 1..9).prop_flat_map(|columns| {
        let kinds: Vec<ColumnKind> = columns.iter().map(|(_, kind)| *kind).collect();
        let row = kinds.iter().map(|kind| cell(*kind)).collect::<Vec<_>>();
        let line = prop_oneof![
            8 => row.clone().prop_map(Line::Row),
            1 => "[^\\s]{1,30}".prop_map(Line::Group),
        ];
        (
            Just(columns),
            prop::collection::vec(line, 0..80),
            prop::option::of(row),
            prop::option::of(text()),
            prop::option::of(text()),
            prop::option::of(
                date().prop_map(|d| d.and_hms_opt(23, 59, 59).unwrap_or(NaiveDateTime::MIN)),
            ),
            prop::collection::vec(text(), 0..4),
        )
            .prop_map(
                |(columns, lines, totals, organization, period, generated_at, notes)| {
                    let columns = columns
                        .into_iter()
                        .map(|(title, kind)| Column::new(title, kind))
                        .collect();
                    let mut document = Document::new("Отчёт", columns).expect("has columns");
                    if let Some(organization) = organization {
                        document = document.with_organization(organization);
                    }
                    if let Some(period) = period {
                        document = document.with_period(period);
                    }
                    if let Some(at) = generated_at {
                        document = document.with_generated_at(at);
                    }
                    for line in lines {
                        match line {
                            Line::Row(cells) => document
                                .push_row(cells)
                                .expect("cells of the column's kind"),
                            Line::Group(heading) => {
                                document.begin_group(heading).expect("not blank")
                            }
                        }
                    }
                    if let Some(totals) = totals {
                        document
                            .set_totals(totals)
                            .expect("cells of the column's kind");
                    }
                    for note in notes {
                        document.push_note(note);
                    }
                    document
                },
            )
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn every_document_renders_everywhere(document in document()) {
        let pdf = to_pdf_bytes(&document).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(pdf.starts_with(b"%PDF-"));
        prop_assert!(pdf.ends_with(b"%%EOF") || pdf.ends_with(b"%%EOF\n"));
        let xlsx = to_xlsx_bytes(&document).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(xlsx.starts_with(b"PK"));
        for options in [CsvOptions::default(), CsvOptions::excel_ru()] {
            to_csv_bytes(&document, &options).map_err(|e| TestCaseError::fail(e.to_string()))?;
        }
    }
}
