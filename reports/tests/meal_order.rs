//! The supplier's meal order: its sums, and the order read back from XLSX, CSV and PDF.

mod common;

use std::io::Cursor;

use calamine::{open_workbook_from_rs, Data, Reader, Xlsx};
use chrono::{NaiveDate, NaiveTime};
use common::{at, pdf_pages, SCHOOL};
use schoolcard_reports::{
    meal_order, to_csv_bytes, to_pdf_bytes, to_xlsx_bytes, Cell, ClassPortions, ComplexOrder,
    CsvOptions, Document, LateCorrection, MealOrderInput, Portions, COMPLEX_TOTAL_LABEL,
    ORDER_TOTAL_LABEL,
};

fn time(hour: u32, minute: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(hour, minute, 0).expect("valid test time")
}

fn class(class: &str, free_municipal: u32, free_regional: u32, paid: u32) -> ClassPortions {
    ClassPortions {
        class: class.to_owned(),
        portions: Portions {
            free_municipal,
            free_regional,
            paid,
        },
    }
}

/// Three complexes; classes given out of order; two late corrections to lunch.
fn order() -> MealOrderInput {
    MealOrderInput {
        school: SCHOOL.to_owned(),
        supplier: "ООО «Комбинат школьного питания»".to_owned(),
        date: NaiveDate::from_ymd_opt(2026, 11, 28).expect("valid date"),
        cut_off: time(9, 0),
        generated_at: at(27, 9, 45),
        complexes: vec![
            ComplexOrder {
                name: "Завтрак".to_owned(),
                price_kopecks: 8_500,
                classes: vec![
                    class("10А", 0, 3, 20),
                    class("1А", 25, 0, 0),
                    class("2А", 24, 1, 0),
                ],
                corrections: vec![],
            },
            ComplexOrder {
                name: "Обед 1–4 кл.".to_owned(),
                price_kopecks: 12_050,
                classes: vec![class("1Б", 27, 0, 0), class("1А", 25, 0, 0)],
                corrections: vec![
                    LateCorrection {
                        class: "1А".to_owned(),
                        at: time(9, 20),
                        free_municipal: 2,
                        free_regional: 0,
                        paid: 0,
                        reason: "опоздали 2 ученика".to_owned(),
                    },
                    LateCorrection {
                        class: "1Б".to_owned(),
                        at: time(9, 10),
                        free_municipal: -1,
                        free_regional: 0,
                        paid: 0,
                        reason: String::new(),
                    },
                ],
            },
            ComplexOrder {
                name: "Полдник".to_owned(),
                price_kopecks: 4_500,
                classes: vec![class("5В", 0, 2, 10)],
                corrections: vec![],
            },
        ],
        responsible: "Смирнова А. П.".to_owned(),
        director: "Петрова Е. С.".to_owned(),
    }
}

/// A row as text: the label, then the numbers (money in kopecks).
fn row_text(row: &[Cell]) -> String {
    row.iter()
        .map(|cell| match cell {
            Cell::Text(text) => text.clone(),
            Cell::Integer(n) => n.to_string(),
            Cell::Money { kopecks } => kopecks.to_string(),
            _ => String::new(),
        })
        .collect::<Vec<_>>()
        .join("|")
}

/// The numbers of a row (integers and kopecks), after its label.
fn numbers(row: &[Cell]) -> Vec<i64> {
    row[1..]
        .iter()
        .map(|cell| match cell {
            Cell::Integer(n) => *n,
            Cell::Money { kopecks } => *kopecks,
            other => panic!("not a number: {other:?}"),
        })
        .collect()
}

fn document() -> Document {
    meal_order(&order()).expect("a valid order")
}

#[test]
fn the_order_lists_classes_corrections_and_subtotals() {
    let document = document();
    let listed: Vec<(Option<String>, Vec<String>)> = document
        .sections()
        .iter()
        .map(|s| {
            let heading = s.heading.map(|h| h.replace('\u{a0}', " "));
            (heading, s.rows.iter().map(|r| row_text(r)).collect())
        })
        .collect();
    let expected: Vec<(Option<&str>, Vec<&str>)> = vec![
        (
            Some("Завтрак — 85,00 ₽ за порцию"),
            vec![
                "1А|25|0|0|25|212500|0|0|212500",
                "2А|24|1|0|25|204000|8500|0|212500",
                "10А|0|3|20|23|0|25500|170000|195500",
                "Итого: Завтрак|49|4|20|73|416500|34000|170000|620500",
            ],
        ),
        (
            Some("Обед 1–4 кл. — 120,50 ₽ за порцию"),
            vec![
                "1А|25|0|0|25|301250|0|0|301250",
                "1Б|27|0|0|27|325350|0|0|325350",
                "1Б: корректировка в 09:10|-1|0|0|-1|-12050|0|0|-12050",
                "1А: корректировка в 09:20 (опоздали 2 ученика)|2|0|0|2|24100|0|0|24100",
                "Итого: Обед 1–4 кл.|53|0|0|53|638650|0|0|638650",
            ],
        ),
        (
            Some("Полдник — 45,00 ₽ за порцию"),
            vec![
                "5В|0|2|10|12|0|9000|45000|54000",
                "Итого: Полдник|0|2|10|12|0|9000|45000|54000",
            ],
        ),
    ];
    let expected: Vec<(Option<&str>, Vec<String>)> = expected
        .into_iter()
        .map(|(h, rows)| (h, rows.into_iter().map(str::to_owned).collect()))
        .collect();
    assert_eq!(
        listed.iter().map(|(h, _)| h.as_deref()).collect::<Vec<_>>(),
        expected.iter().map(|(h, _)| *h).collect::<Vec<_>>()
    );
    for ((heading, rows), (_, expected_rows)) in listed.iter().zip(&expected) {
        assert_eq!(rows, expected_rows, "{heading:?}");
    }
    assert_eq!(
        document.totals().map(row_text),
        Some("Итого по заявке|102|6|30|138|1055150|43000|215000|1313150".to_owned())
    );
    assert_eq!(document.title(), "Заявка на питание на 28.11.2026");
    assert_eq!(
        document.period(),
        Some("Поставщик: ООО «Комбинат школьного питания» · Приём заявок до 09:00")
    );
    let notes = document.notes().join("\n").replace('\u{a0}', " ");
    for expected in [
        "Бесплатно, муниципальный бюджет: 102 порц. на 10 551,50 ₽",
        "Бесплатно, региональный бюджет: 6 порц. на 430,00 ₽",
        "Платно: 30 порц. на 2 150,00 ₽",
        "Корректировки после 09:00 учтены в итогах: +1 порц.",
        "Ответственный за питание ____________________ / Смирнова А. П. /",
        "Директор ____________________ / Петрова Е. С. /",
    ] {
        assert!(
            notes.contains(expected),
            "notes lack {expected:?}:\n{notes}"
        );
    }
}

#[test]
fn totals_are_the_sums_of_the_rows() {
    let document = document();
    let mut subtotals_sum = vec![0i64; 8];
    for section in document.sections() {
        let (subtotal, rows) = section.rows.split_last().expect("a subtotal row");
        let label = row_text(&subtotal[..1]);
        assert!(label.starts_with(COMPLEX_TOTAL_LABEL), "{label}");
        let mut sum = vec![0i64; 8];
        for row in rows {
            let values = numbers(row);
            // Portions by payer add up to all portions, and so do the rubles.
            assert_eq!(values[0] + values[1] + values[2], values[3]);
            assert_eq!(values[4] + values[5] + values[6], values[7]);
            for (total, value) in sum.iter_mut().zip(values) {
                *total += value;
            }
        }
        assert_eq!(numbers(subtotal), sum, "{label}");
        for (total, value) in subtotals_sum.iter_mut().zip(sum) {
            *total += value;
        }
    }
    let totals = document.totals().expect("a totals row");
    assert_eq!(row_text(&totals[..1]), ORDER_TOTAL_LABEL);
    assert_eq!(numbers(totals), subtotals_sum);
}

#[test]
fn the_xlsx_reads_back_with_numbers() {
    let bytes = to_xlsx_bytes(&document()).expect("renders");
    let mut workbook: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes)).expect("opens");
    let sheet = workbook.sheet_names()[0].clone();
    let range = workbook.worksheet_range(&sheet).expect("a sheet");
    let rows: Vec<&[Data]> = range.rows().collect();
    let find = |label: &str| -> &[Data] {
        rows.iter()
            .find(|row| row.first() == Some(&Data::String(label.to_owned())))
            .copied()
            .unwrap_or_else(|| panic!("no row {label:?}"))
    };
    let floats = |row: &[Data]| -> Vec<f64> {
        row[1..9]
            .iter()
            .map(|cell| match cell {
                Data::Float(value) => *value,
                other => panic!("not a number: {other:?}"),
            })
            .collect()
    };
    assert_eq!(
        floats(find(ORDER_TOTAL_LABEL)),
        vec![102.0, 6.0, 30.0, 138.0, 10_551.5, 430.0, 2_150.0, 13_131.5]
    );
    assert_eq!(
        floats(find("10А")),
        vec![0.0, 3.0, 20.0, 23.0, 0.0, 255.0, 1_700.0, 1_955.0]
    );
    assert_eq!(
        floats(find("1Б: корректировка в 09:10")),
        vec![-1.0, 0.0, 0.0, -1.0, -120.5, 0.0, 0.0, -120.5]
    );
    let texts: Vec<String> = rows
        .iter()
        .filter_map(|row| match row.first() {
            Some(Data::String(text)) => Some(text.clone()),
            _ => None,
        })
        .collect();
    for expected in [
        "Заявка на питание на 28.11.2026",
        "Обед 1–4 кл. — 120,50 ₽ за порцию",
        "Директор ____________________ / Петрова Е. С. /",
    ] {
        let expected = expected.replace(' ', "\u{a0}");
        assert!(
            texts.iter().any(|t| t.replace(' ', "\u{a0}") == expected),
            "no {expected:?} in {texts:?}"
        );
    }
}

#[test]
fn the_csv_has_a_record_per_row() {
    let bytes = to_csv_bytes(&document(), &CsvOptions::default()).expect("renders");
    let text = String::from_utf8(bytes).expect("UTF-8");
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("10А,0,3,20,23,0.00,255.00,1700.00,1955.00")),
        "{text}"
    );
    assert!(
        lines.iter().any(|l| l.contains("Итого по заявке")),
        "{text}"
    );
    assert!(!text.contains("Директор"), "notes stay out of the CSV");
}

#[test]
fn the_pdf_reads_back_in_russian() {
    let pdf = to_pdf_bytes(&document()).expect("renders");
    let pages = pdf_pages(&pdf, "meal-order.pdf");
    let words = pages
        .concat()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for expected in [
        SCHOOL,
        "Заявка на питание на 28.11.2026",
        "Приём заявок до 09:00",
        "Завтрак — 85,00 ₽ за порцию",
        "Полдник — 45,00 ₽ за порцию",
        "Класс",
        "Итого: Завтрак",
        "Итого по заявке",
        "13 131,50",
        "Ответственный за питание",
        "Директор ____________________ / Петрова Е. С. /",
    ] {
        assert!(
            words.contains(expected),
            "the PDF lacks {expected:?}:\n{words}"
        );
    }
    assert!(!words.contains('…'), "a number or label was cut:\n{words}");
}
