//! Scenarios shared by the renderer tests: a school's evacuation list of ~900 people and
//! the tools that read documents back.

#![allow(dead_code)] // Each test binary uses part of this.

use std::path::Path;
use std::process::Command;

use chrono::{NaiveDate, NaiveDateTime};
use schoolcard_reports::{EvacuationInput, PersonInside, Presence};

pub const SCHOOL: &str = "МБОУ «Лицей «Держава», г. Обнинск";

pub fn at(day: u32, hour: u32, minute: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 11, day)
        .and_then(|d| d.and_hms_opt(hour, minute, 0))
        .expect("valid test time")
}

const SURNAMES: [(&str, &str); 16] = [
    ("Иванов", "Иванова"),
    ("Ёлкин", "Ёлкина"),
    ("Смирнов", "Смирнова"),
    ("Кузнецов", "Кузнецова"),
    ("Константинопольский", "Константинопольская"),
    ("Попов", "Попова"),
    ("Соловьёв", "Соловьёва"),
    ("Лебедев", "Лебедева"),
    ("Новиков", "Новикова"),
    ("Морозов", "Морозова"),
    ("Волков", "Волкова"),
    ("Алексеев", "Алексеева"),
    ("Степанов", "Степанова"),
    ("Яковлев", "Яковлева"),
    ("Шереметьев-Задунайский", "Шереметьева-Задунайская"),
    ("Ким", "Ким"),
];
const BOYS: [&str; 8] = [
    "Пётр",
    "Иван",
    "Александр",
    "Максим",
    "Артём",
    "Лев",
    "Михаил",
    "Фёдор",
];
const GIRLS: [&str; 8] = [
    "Софья",
    "Анна",
    "Мария",
    "Алиса",
    "Ева",
    "Виктория",
    "Дарья",
    "Александра",
];
const FATHERS: [(&str, &str); 8] = [
    ("Андреевич", "Андреевна"),
    ("Сергеевич", "Сергеевна"),
    ("Владимирович", "Владимировна"),
    ("Олегович", "Олеговна"),
    ("Игоревич", "Игоревна"),
    ("Дмитриевич", "Дмитриевна"),
    ("Константинович", "Константиновна"),
    ("Ильич", "Ильинична"),
];
const ENTRANCES: [&str; 3] = ["Главный вход", "Вход со двора (спортзал)", "Пост 3"];
const LETTERS: [&str; 3] = ["А", "Б", "В"];

/// A deterministic pseudo-random sequence (64-bit LCG) so the scenario is the same every run.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, sides: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % sides as u64) as usize
    }
}

fn name(dice: &mut Dice) -> String {
    let (he, she) = SURNAMES[dice.roll(SURNAMES.len())];
    let (son, daughter) = FATHERS[dice.roll(FATHERS.len())];
    if dice.roll(2) == 0 {
        format!("{he} {} {son}", BOYS[dice.roll(BOYS.len())])
    } else {
        format!("{she} {} {daughter}", GIRLS[dice.roll(GIRLS.len())])
    }
}

/// 33 classes of 25–28 pupils (1А…11В, 874 with Ёлкина Софья Андреевна in 5А), 40 staff,
/// 6 visitors: 920 people, with the long names and
/// entrances a real school has.
pub fn school_at_ten() -> EvacuationInput {
    let mut dice = Dice(2026);
    let mut people = Vec::new();
    for grade in 1..=11 {
        for letter in LETTERS {
            let class = format!("{grade}{letter}");
            let size = 25 + (grade + letter.len()) % 4;
            for _ in 0..size {
                people.push(PersonInside {
                    full_name: name(&mut dice),
                    presence: Presence::Pupil {
                        class: class.clone(),
                    },
                    entrance: ENTRANCES[dice.roll(ENTRANCES.len())].to_owned(),
                    entered_at: at(27, 7, 30 + dice.roll(29) as u32),
                });
            }
        }
    }
    people.push(PersonInside {
        full_name: "Ёлкина Софья Андреевна".to_owned(),
        presence: Presence::Pupil {
            class: "5А".to_owned(),
        },
        entrance: "Главный вход".to_owned(),
        entered_at: at(27, 8, 1),
    });
    let positions = [
        "учитель математики",
        "учитель русского языка и литературы",
        "вахтёр",
        "заместитель директора по учебно-воспитательной работе",
    ];
    for index in 0..40 {
        people.push(PersonInside {
            full_name: name(&mut dice),
            presence: Presence::Staff {
                position: positions[index % positions.len()].to_owned(),
            },
            entrance: ENTRANCES[index % 2].to_owned(),
            entered_at: if index == 0 {
                at(26, 21, 40)
            } else {
                at(27, 7, 10 + index as u32)
            },
        });
    }
    for index in 0..6 {
        people.push(PersonInside {
            full_name: name(&mut dice),
            presence: Presence::Visitor {
                purpose: ["к директору", "родитель ученика 3Б", ""][index % 3].to_owned(),
            },
            entrance: "Главный вход".to_owned(),
            entered_at: at(27, 9, 40 + index as u32),
        });
    }
    // One class too many to count by hand: the total is what the tests check.
    let pupils = people
        .iter()
        .filter(|p| matches!(p.presence, Presence::Pupil { .. }))
        .count();
    assert!(pupils > 850, "{pupils}");
    EvacuationInput {
        school: SCHOOL.to_owned(),
        generated_at: at(27, 10, 20),
        people,
    }
}

/// Runs a poppler tool; they come with `installers/setup.sh test` (poppler-utils).
pub fn poppler(tool: &str, args: &[&str], file: &Path) -> String {
    let output = Command::new(tool)
        .args(args)
        .arg(file)
        .args(if tool == "pdftotext" {
            &["-"][..]
        } else {
            &[][..]
        })
        .output()
        .unwrap_or_else(|e| panic!("{tool} is missing ({e}); run installers/setup.sh test"));
    assert!(
        output.status.success(),
        "{tool}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Poppler writes no-break spaces as they are; the tests compare with plain spaces.
    String::from_utf8(output.stdout)
        .expect("poppler writes UTF-8")
        .replace('\u{a0}', " ")
}

/// The text of each page (pdftotext separates pages with form feeds), laid out as printed.
pub fn pdf_pages(pdf: &[u8], name: &str) -> Vec<String> {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, pdf).expect("writes the PDF");
    let text = poppler("pdftotext", &["-layout", "-enc", "UTF-8"], &path);
    let mut pages: Vec<String> = text.split('\u{c}').map(str::to_owned).collect();
    if pages.last().is_some_and(|p| p.trim().is_empty()) {
        pages.pop();
    }
    pages
}
