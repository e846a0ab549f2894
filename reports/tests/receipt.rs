//! The till's receipt: ESC/POS bytes decoded back as the printer would print them, and the
//! PDF read back with poppler.

mod common;

use common::{at, pdf_pages, SCHOOL};
use schoolcard_reports::{
    receipt_escpos, receipt_pdf, to_cp866_text, BudgetSource, FreeMeal, PaperWidth, PrinterProfile,
    Receipt, ReceiptLine,
};

fn receipt() -> Receipt {
    let line = |name: &str, quantity, unit_price_kopecks| ReceiptLine {
        name: name.to_owned(),
        quantity,
        unit_price_kopecks,
    };
    Receipt {
        school: SCHOOL.to_owned(),
        till: "Столовая, касса 1".to_owned(),
        cashier: "Иванова Мария Петровна".to_owned(),
        issued_at: at(27, 12, 40),
        number: "000123".to_owned(),
        pupil: "Шереметьева-Задунайская Александра Константиновна".to_owned(),
        class: "5А".to_owned(),
        lines: vec![
            line("Котлета куриная с картофельным пюре и подливой", 2, 4_550),
            line("Компот из сухофруктов", 1, 2_000),
            line("Пирожок", 100, 1_200),
        ],
        free_meals: vec![FreeMeal {
            complex: "Обед 1–4 кл.".to_owned(),
            source: BudgetSource::Municipal,
        }],
        paid_from_balance_kopecks: 131_100,
        balance_after_kopecks: 123_450,
    }
}

/// What the printer does with the bytes: the commands in order and the printed lines.
#[derive(Debug, Default)]
struct Printout {
    commands: Vec<Vec<u8>>,
    lines: Vec<String>,
}

/// Splits ESC/POS into commands and CP866 text lines; an unknown command fails the test.
fn decode(bytes: &[u8]) -> Printout {
    let mut printout = Printout::default();
    let mut text = Vec::new();
    let mut index = 0;
    while index < bytes.len() {
        let length = match bytes[index] {
            0x1b => match bytes.get(index + 1) {
                Some(b'@') => 2,
                Some(b't' | b'a' | b'E' | b'M' | b'd') => 3,
                other => panic!("unknown ESC command {other:?} at {index}"),
            },
            0x1d => match bytes.get(index + 1) {
                Some(b'!') => 3,
                Some(b'V') => 4,
                other => panic!("unknown GS command {other:?} at {index}"),
            },
            0x1c => 2,
            b'\n' => {
                let (line, _, bad) = encoding_rs::IBM866.decode(&text);
                assert!(!bad, "not CP866: {text:02x?}");
                printout.lines.push(line.into_owned());
                text.clear();
                index += 1;
                continue;
            }
            byte => {
                assert!(byte >= 0x20, "control byte {byte:#04x} in text at {index}");
                text.push(byte);
                index += 1;
                continue;
            }
        };
        printout
            .commands
            .push(bytes[index..index + length].to_vec());
        index += length;
    }
    assert!(text.is_empty(), "text after the last line feed");
    printout
}

/// The 58 mm receipt as printed: 32 columns.
const EXPECTED_58MM: &str = "\
МБОУ \"Лицей \"Держава\", г.
Обнинск
Столовая, касса 1
Чек № 000123    27.11.2026 12:40
Кассир: Иванова Мария Петровна
--------------------------------
Ученик: Шереметьева-Задунайская
Александра Константиновна
Класс: 5А
--------------------------------
Котлета куриная с картофельным
пюре и подливой
  2 x 45,50           91,00 руб.
Компот из сухофруктов
  1 x 20,00           20,00 руб.
Пирожок
  100 x 12,00      1 200,00 руб.
--------------------------------
Бесплатное питание
Обед 1-4 кл.           бесплатно
  за счёт: муниципальный бюджет
--------------------------------
ИТОГО              1 311,00 руб.
Оплачено с баланса 1 311,00 руб.
Остаток на балансе 1 234,50 руб.";

#[test]
fn the_58mm_receipt_prints_as_expected() {
    let bytes = receipt_escpos(&receipt(), &PrinterProfile::for_paper(PaperWidth::Mm58));
    let printout = decode(&bytes);
    assert_eq!(printout.lines.join("\n"), EXPECTED_58MM);
}

#[test]
fn every_line_fits_the_paper_and_says_everything() {
    for paper in [PaperWidth::Mm58, PaperWidth::Mm80] {
        let bytes = receipt_escpos(&receipt(), &PrinterProfile::for_paper(paper));
        let printout = decode(&bytes);
        for line in &printout.lines {
            assert!(
                line.chars().count() <= paper.columns(),
                "{paper:?}: {line:?} is wider than {} columns",
                paper.columns()
            );
        }
        // Words as read, whatever the wrapping.
        let words = printout.lines.join(" ");
        let words = words.split_whitespace().collect::<Vec<_>>().join(" ");
        for expected in [
            "Чек № 000123",
            "27.11.2026 12:40",
            "Кассир: Иванова Мария Петровна",
            "Ученик: Шереметьева-Задунайская Александра Константиновна",
            "Класс: 5А",
            "Котлета куриная с картофельным пюре и подливой",
            "2 x 45,50 91,00 руб.",
            "100 x 12,00 1 200,00 руб.",
            "Обед 1-4 кл. бесплатно",
            "за счёт: муниципальный бюджет",
            "ИТОГО 1 311,00 руб.",
            "Оплачено с баланса 1 311,00 руб.",
            "Остаток на балансе 1 234,50 руб.",
        ] {
            assert!(
                words.contains(expected),
                "{paper:?} lacks {expected:?}:\n{words}"
            );
        }
        // Amounts stand at the right edge.
        let total = printout
            .lines
            .iter()
            .find(|line| line.starts_with("ИТОГО"))
            .expect("a total line");
        assert_eq!(total.chars().count(), paper.columns(), "{total:?}");
    }
}

#[test]
fn a_long_name_wraps_at_words_on_58mm_and_fits_on_80mm() {
    let name = "Котлета куриная с картофельным пюре и подливой";
    let cases = [
        (
            PaperWidth::Mm58,
            vec!["Котлета куриная с картофельным", "пюре и подливой"],
        ),
        (PaperWidth::Mm80, vec![name]),
    ];
    for (paper, expected) in cases {
        let printout = decode(&receipt_escpos(
            &receipt(),
            &PrinterProfile::for_paper(paper),
        ));
        let start = printout
            .lines
            .iter()
            .position(|line| line.starts_with("Котлета"))
            .expect("the product is printed");
        assert_eq!(
            printout.lines[start..start + expected.len()],
            expected[..],
            "{paper:?}"
        );
    }
}

#[test]
fn the_printer_is_set_up_first_and_the_paper_cut_last() {
    let cases = [
        (
            PrinterProfile::for_paper(PaperWidth::Mm58),
            // ESC @, FS ., ESC t 17 (PC866), ESC M 0 (Font A).
            vec![
                vec![0x1b, b'@'],
                vec![0x1c, b'.'],
                vec![0x1b, b't', 17],
                vec![0x1b, b'M', 0],
            ],
            // ESC d 4, GS V 66 0.
            vec![vec![0x1b, b'd', 4], vec![0x1d, b'V', 66, 0]],
        ),
        (
            PrinterProfile {
                code_page: 7,
                cancel_chinese_mode: false,
                cut: false,
                feed_lines_before_cut: 6,
                ..PrinterProfile::for_paper(PaperWidth::Mm80)
            },
            vec![vec![0x1b, b'@'], vec![0x1b, b't', 7], vec![0x1b, b'M', 0]],
            vec![vec![0x1b, b'a', 0], vec![0x1b, b'd', 6]],
        ),
    ];
    for (profile, first, last) in cases {
        let printout = decode(&receipt_escpos(&receipt(), &profile));
        assert_eq!(printout.commands[..first.len()], first[..], "{profile:?}");
        let tail = &printout.commands[printout.commands.len() - last.len()..];
        assert_eq!(tail, &last[..], "{profile:?}");
    }
}

#[test]
fn the_total_is_bold_and_double_height() {
    let bytes = receipt_escpos(&receipt(), &PrinterProfile::for_paper(PaperWidth::Mm58));
    let total = encoding_rs::IBM866.encode("ИТОГО").0.into_owned();
    let at = bytes
        .windows(total.len())
        .position(|window| window == total)
        .expect("the total is printed");
    // The line's own setup: left, bold on, double height.
    assert_eq!(
        bytes[at - 9..at],
        [0x1b, b'a', 0, 0x1b, b'E', 1, 0x1d, b'!', 1]
    );
}

#[test]
fn text_is_made_printable_in_cp866() {
    let cases = [
        ("Ёлкина ёж № 5", "Ёлкина ёж № 5"),
        ("«Держава» — 1–4 кл.", "\"Держава\" - 1-4 кл."),
        ("12,00 ₽ × 2…", "12,00 руб. x 2..."),
        ("tab\there", "tab here"),
        ("日本 😀", "?? ?"),
    ];
    for (text, expected) in cases {
        assert_eq!(to_cp866_text(text), expected, "{text:?}");
    }
}

#[test]
fn the_pdf_receipt_reads_back() {
    for (paper, width_pt) in [(PaperWidth::Mm58, 164.4), (PaperWidth::Mm80, 226.8)] {
        let pdf = receipt_pdf(&receipt(), paper).expect("renders");
        assert_eq!(
            pdf,
            receipt_pdf(&receipt(), paper).expect("renders"),
            "deterministic"
        );
        let pages = pdf_pages(&pdf, &format!("receipt-{paper:?}.pdf"));
        assert_eq!(pages.len(), 1, "{paper:?}");
        let words = pages[0].split_whitespace().collect::<Vec<_>>().join(" ");
        for expected in [
            "Держава",
            "Чек № 000123",
            "Ученик:",
            "Константиновна",
            "Котлета куриная",
            "91,00 ₽",
            "бесплатно",
            "муниципальный бюджет",
            "ИТОГО",
            "1 311,00 ₽",
            "Остаток на балансе",
            "1 234,50 ₽",
        ] {
            assert!(
                words.contains(expected),
                "{paper:?} lacks {expected:?}:\n{words}"
            );
        }
        let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("receipt-{paper:?}.pdf"));
        let info = common::poppler("pdfinfo", &[], &path);
        let size = info
            .lines()
            .find(|line| line.starts_with("Page size:"))
            .expect("pdfinfo tells the page size");
        let width: f32 = size
            .split_whitespace()
            .nth(2)
            .and_then(|w| w.parse().ok())
            .expect("a width");
        assert!((width - width_pt).abs() < 0.5, "{paper:?}: {size}");
    }
}

mod any_receipt {
    use super::*;
    use proptest::prelude::*;

    fn any_line() -> impl Strategy<Value = ReceiptLine> {
        (".{0,80}", any::<u32>(), any::<i64>()).prop_map(|(name, quantity, unit_price_kopecks)| {
            ReceiptLine {
                name,
                quantity,
                unit_price_kopecks,
            }
        })
    }

    fn any_receipt() -> impl Strategy<Value = Receipt> {
        (
            (".{0,60}", ".{0,40}", ".{0,40}", ".{0,20}"),
            (".{0,80}", ".{0,10}"),
            prop::collection::vec(any_line(), 0..6),
            prop::collection::vec(".{0,50}", 0..3),
            (any::<i64>(), any::<i64>()),
        )
            .prop_map(
                |((school, till, cashier, number), (pupil, class), lines, free, (paid, after))| {
                    Receipt {
                        school,
                        till,
                        cashier,
                        issued_at: at(27, 12, 40),
                        number,
                        pupil,
                        class,
                        lines,
                        free_meals: free
                            .into_iter()
                            .map(|complex| FreeMeal {
                                complex,
                                source: BudgetSource::Regional,
                            })
                            .collect(),
                        paid_from_balance_kopecks: paid,
                        balance_after_kopecks: after,
                    }
                },
            )
    }

    proptest! {
        /// Whatever the till sends, the bytes are well-formed ESC/POS and every printed
        /// line fits the paper.
        #[test]
        fn every_receipt_fits_its_paper(receipt in any_receipt(), columns in 0usize..100) {
            let profile = PrinterProfile {
                columns,
                ..PrinterProfile::for_paper(PaperWidth::Mm58)
            };
            let width = columns.clamp(
                schoolcard_reports::RECEIPT_COLUMNS_MIN,
                schoolcard_reports::RECEIPT_COLUMNS_MAX,
            );
            let printout = decode(&receipt_escpos(&receipt, &profile));
            for line in &printout.lines {
                prop_assert!(line.chars().count() <= width, "{:?} in {} columns", line, width);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

        /// Whatever the till sends, the PDF receipt renders.
        #[test]
        fn every_receipt_renders_as_pdf(receipt in any_receipt(), wide in any::<bool>()) {
            let paper = if wide { PaperWidth::Mm80 } else { PaperWidth::Mm58 };
            let pdf = receipt_pdf(&receipt, paper).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(pdf.starts_with(b"%PDF-"));
        }
    }
}
