//! The PDF read back as a person reads it: text extracted with poppler's pdftotext.

mod common;

use std::path::Path;

use common::{at, pdf_pages, poppler, school_at_ten};
use schoolcard_reports::{evacuation_list, to_pdf_bytes, Cell, Column, ColumnKind, Document};

fn evacuation_pdf() -> Vec<u8> {
    let document = evacuation_list(&school_at_ten()).expect("valid list");
    to_pdf_bytes(&document).expect("renders")
}

#[test]
fn the_evacuation_list_reads_back() {
    let pdf = evacuation_pdf();
    std::fs::write(
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("evacuation-920.pdf"),
        &pdf,
    )
    .expect("keeps a copy to look at");
    let pages = pdf_pages(&pdf, "evacuation.pdf");
    let count = pages.len();
    assert!(count > 15, "{count} pages for 920 people");

    let first = &pages[0];
    for expected in [
        "МБОУ «Лицей «Держава», г. Обнинск",
        "Список находящихся в здании",
        "Сформирован 27.11.2026 в 10:20",
        "1А — ",
    ] {
        assert!(
            first.contains(expected),
            "page 1 lacks {expected:?}:\n{first}"
        );
    }
    let all = pages.concat();
    assert!(all.contains("Ёлкина Софья Андреевна"));
    assert!(all.contains("Сотрудники — 40 чел."));
    assert!(all.contains("Посетители — 6 чел."));
    // Words as read, whatever the wrapping.
    let last = pages[count - 1]
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(last.contains("Всего в здании: 920 чел."), "{last}");
    assert!(
        last.contains("учеников 874, сотрудников 40, посетителей 6"),
        "{last}"
    );

    for (index, page) in pages.iter().enumerate() {
        let number = format!("стр. {} из {count}", index + 1);
        assert!(
            page.contains(&number),
            "page {} lacks {number:?}",
            index + 1
        );
        for heading in ["№", "ФИО", "Класс / должность", "Вход", "Вошёл", "Отметка"]
        {
            assert!(
                page.contains(heading),
                "page {} lacks the heading {heading:?}",
                index + 1
            );
        }
    }
}

/// A group heading is kept with its first rows: the last table line of a page is never a
/// heading, and a group broken across pages says so at the top of the next one.
#[test]
fn group_headings_are_kept_with_their_rows() {
    let pages = pdf_pages(&evacuation_pdf(), "evacuation-groups.pdf");
    let mut continued = 0;
    for (index, page) in pages.iter().enumerate() {
        let lines: Vec<&str> = page
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.contains("стр. "))
            .collect();
        let last = lines.last().copied().unwrap_or_default();
        assert!(
            !last.contains(" чел."),
            "page {} ends with a heading: {last:?}",
            index + 1
        );
        continued += usize::from(page.contains("(продолжение)"));
    }
    assert!(continued > 5, "classes run across pages: {continued}");
}

#[test]
fn the_same_document_gives_the_same_bytes() {
    assert_eq!(evacuation_pdf(), evacuation_pdf());
}

/// Every page is A4; a wide table turns the pages landscape.
#[test]
fn pages_are_a4_turned_by_width() {
    let narrow = evacuation_pdf();
    let mut wide = Document::new(
        "Продажи буфета по дням",
        (1..=14)
            .map(|day| Column::new(format!("{day:02}.09"), ColumnKind::Money))
            .collect(),
    )
    .expect("has columns");
    wide.push_row((1..=14).map(|day| Cell::money(day * 1_234_567)).collect())
        .expect("fits");
    let wide = to_pdf_bytes(&wide).expect("renders");
    for (pdf, name, size) in [
        (narrow, "narrow.pdf", "595.28 x 841.89 pts (A4)"),
        (wide, "wide.pdf", "841.89 x 595.28 pts (A4)"),
    ] {
        let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
        std::fs::write(&path, pdf).expect("writes");
        let info = Command::new("pdfinfo")
            .arg(&path)
            .output()
            .expect("pdfinfo runs");
        let info = String::from_utf8_lossy(&info.stdout);
        assert!(info.contains(size), "{name}: {info}");
    }
}

use std::process::Command;

/// Money and numbers are right-aligned and grouped the Russian way; a long comment is cut
/// with an ellipsis instead of running into the next column.
#[test]
fn a_meals_report_reads_back() {
    let mut document = Document::new(
        "Питание и экономия",
        vec![
            Column::new("Дата", ColumnKind::Date),
            Column::new("Комментарий", ColumnKind::Text),
            Column::new("Обедов", ColumnKind::Integer),
            Column::new("Сумма, ₽", ColumnKind::Money),
        ],
    )
    .expect("has columns")
    .with_period("сентябрь 2024")
    .with_generated_at(at(27, 9, 0));
    let comment = "очень длинный комментарий ".repeat(40);
    document
        .push_row(vec![
            Cell::Date(at(2, 0, 0).date()),
            Cell::text(comment),
            Cell::Integer(1_234),
            Cell::money(6_141_264_000),
        ])
        .expect("fits");
    document
        .push_row(vec![
            Cell::Empty,
            Cell::text("Возврат"),
            Cell::Integer(-1),
            Cell::money(-12_345),
        ])
        .expect("fits");
    document
        .set_totals(vec![
            Cell::text("Итого"),
            Cell::Empty,
            Cell::Integer(1_233),
            Cell::money(6_141_251_655),
        ])
        .expect("fits");
    let pdf = to_pdf_bytes(&document).expect("renders");
    let pages = pdf_pages(&pdf, "meals.pdf");
    assert_eq!(pages.len(), 1);
    let text = &pages[0];
    for expected in [
        "Питание и экономия",
        "Сумма, ₽",
        "02.11.2026",
        "61 412 640,00",
        "-123,45",
        "1 234",
        "Итого",
        "61 412 516,55",
        "стр. 1 из 1",
        "…",
    ] {
        assert!(text.contains(expected), "lacks {expected:?}:\n{text}");
    }
    // The comment was cut: its 40 repetitions do not all appear.
    assert!(text.matches("комментарий").count() < 40);
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("meals-fonts.pdf");
    std::fs::write(&path, &pdf).expect("writes");
    let fonts = poppler("pdffonts", &[], &path);
    assert!(fonts.contains("DejaVuSansCondensed-Bold"), "{fonts}");
    assert!(
        fonts
            .lines()
            .skip(2)
            .all(|line| line.contains("CID TrueType") && line.contains("yes yes yes")),
        "embedded subsets with ToUnicode:\n{fonts}"
    );
}

/// Text the font cannot draw (emoji, other scripts), control characters and an empty
/// building still make a valid PDF that reads back.
#[test]
fn odd_text_and_an_empty_list_read_back() {
    let mut odd = Document::new(
        "Странные\tданные",
        vec![Column::new("Текст", ColumnKind::Text)],
    )
    .expect("has columns");
    for text in [
        "смайлик 😀 и ∰",
        "שלום и مرحبا",
        "строка\nс переводом\r\nи\u{0}нулём",
        "",
    ] {
        odd.push_row(vec![Cell::text(text)]).expect("fits");
    }
    let text = pdf_pages(&to_pdf_bytes(&odd).expect("renders"), "odd.pdf").concat();
    for expected in ["Странные данные", "смайлик", "строка с переводом и нулём"]
    {
        assert!(text.contains(expected), "lacks {expected:?}:\n{text}");
    }

    let empty = evacuation_list(&schoolcard_reports::EvacuationInput {
        school: common::SCHOOL.to_owned(),
        generated_at: at(27, 22, 0),
        people: vec![],
    })
    .expect("valid list");
    let pages = pdf_pages(&to_pdf_bytes(&empty).expect("renders"), "empty.pdf");
    assert_eq!(pages.len(), 1);
    for expected in ["Нет данных", "Всего в здании: 0 чел.", "стр. 1 из 1"]
    {
        assert!(
            pages[0].contains(expected),
            "lacks {expected:?}:\n{}",
            pages[0]
        );
    }
}
