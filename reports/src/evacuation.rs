//! The evacuation list (список находящихся в здании): who is inside right now, by class,
//! then staff, then visitors, numbered through so the count at the assembly point can be
//! checked against it. The guard prints it with one key, network or not, so it is built
//! from plain data the workstation already holds (its own attendance projection).

use std::cmp::Ordering;

use chrono::NaiveDateTime;

use crate::document::{Cell, Column, ColumnKind, Document, DocumentError};

/// The list's title.
pub const EVACUATION_TITLE: &str = "Список находящихся в здании";

/// Why a person is inside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presence {
    /// A pupil of a class («5А»); pupils are grouped by class.
    Pupil {
        /// The class as the school writes it.
        class: String,
    },
    /// A member of staff, with their position («учитель математики»).
    Staff {
        /// The position; may be empty.
        position: String,
    },
    /// A visitor, with whom or why they came («к директору»).
    Visitor {
        /// The purpose or host; may be empty.
        purpose: String,
    },
}

/// One person inside the building.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonInside {
    /// Surname, name, patronymic («Ёлкина Софья Андреевна»).
    pub full_name: String,
    /// Pupil (with class), staff or visitor.
    pub presence: Presence,
    /// Where they came in (the entrance's name, «Главный вход»).
    pub entrance: String,
    /// When they came in, school wall-clock time.
    pub entered_at: NaiveDateTime,
}

/// Everything the list is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvacuationInput {
    /// The school's name, printed above the title.
    pub school: String,
    /// When the list is made, school wall-clock time (the caller converts its instant).
    pub generated_at: NaiveDateTime,
    /// Everyone inside, in any order.
    pub people: Vec<PersonInside>,
}

/// The list as a [`Document`]: columns «№», «ФИО», «Класс / должность», «Вход», «Вошёл»
/// and an empty «Отметка» to tick at the assembly point; one group per class in class
/// order («5А — 27 чел.»), then «Сотрудники», then «Посетители», names in alphabetical
/// order (ё with е) inside each; a total by kind. The document is valid by construction;
/// the `Result` only passes on the model's own checks.
pub fn evacuation_list(input: &EvacuationInput) -> Result<Document, DocumentError> {
    let mut groups: Vec<(GroupKey, Vec<&PersonInside>)> = Vec::new();
    for person in &input.people {
        let key = GroupKey::of(&person.presence);
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, members)) => members.push(person),
            None => groups.push((key, vec![person])),
        }
    }
    groups.sort_by(|(a, _), (b, _)| a.cmp(b));
    for (_, members) in &mut groups {
        members.sort_by(|a, b| {
            name_key(&a.full_name)
                .cmp(&name_key(&b.full_name))
                .then_with(|| a.full_name.cmp(&b.full_name))
                .then_with(|| a.entered_at.cmp(&b.entered_at))
        });
    }

    let mut document = Document::new(EVACUATION_TITLE, columns())?
        .with_organization(input.school.clone())
        .with_generated_at(input.generated_at);
    let mut number: i64 = 0;
    let (mut pupils, mut staff, mut visitors) = (0usize, 0usize, 0usize);
    for (key, members) in &groups {
        let heading = format!("{} — {} чел.", key.heading(), members.len());
        document.begin_group(heading)?;
        for person in members {
            number += 1;
            let role = match &person.presence {
                Presence::Pupil { class } => {
                    pupils += 1;
                    format!("ученик {}", class.trim()).trim_end().to_owned()
                }
                Presence::Staff { position } => {
                    staff += 1;
                    position.clone()
                }
                Presence::Visitor { purpose } => {
                    visitors += 1;
                    purpose.clone()
                }
            };
            let row = vec![
                Cell::Integer(number),
                Cell::text(person.full_name.clone()),
                text_or_empty(role),
                text_or_empty(person.entrance.clone()),
                Cell::text(entry_time(person.entered_at, input.generated_at)),
                Cell::Empty,
            ];
            document.push_row(row)?;
        }
    }
    let total = pupils + staff + visitors;
    document.set_totals(vec![
        Cell::Empty,
        Cell::text(format!("Всего в здании: {total} чел.")),
        Cell::text(format!(
            "учеников {pupils}, сотрудников {staff}, посетителей {visitors}"
        )),
        Cell::Empty,
        Cell::Empty,
        Cell::Empty,
    ])?;
    Ok(document)
}

fn columns() -> Vec<Column> {
    vec![
        Column::new("№", ColumnKind::Integer),
        Column::new("ФИО", ColumnKind::Text),
        Column::new("Класс / должность", ColumnKind::Text),
        Column::new("Вход", ColumnKind::Text),
        Column::new("Вошёл", ColumnKind::Text),
        Column::new("Отметка", ColumnKind::Text),
    ]
}

fn text_or_empty(text: String) -> Cell {
    if text.trim().is_empty() {
        Cell::Empty
    } else {
        Cell::Text(text)
    }
}

/// «08:12» for today, «26.11 21:40» for an earlier day (someone in since yesterday).
fn entry_time(entered_at: NaiveDateTime, now: NaiveDateTime) -> String {
    if entered_at.date() == now.date() {
        entered_at.format("%H:%M").to_string()
    } else {
        entered_at.format("%d.%m %H:%M").to_string()
    }
}

/// Alphabetical order as Russian readers expect: case-blind, ё sorted with е.
fn name_key(name: &str) -> String {
    name.chars()
        .flat_map(char::to_lowercase)
        .map(|c| if c == 'ё' { 'е' } else { c })
        .collect()
}

/// Which group a person is listed under; the order of the variants is the order of the
/// list: classes first, then staff, then visitors.
#[derive(Debug, Clone, PartialEq, Eq)]
enum GroupKey {
    Class(ClassKey),
    Staff,
    Visitors,
}

impl GroupKey {
    fn of(presence: &Presence) -> GroupKey {
        match presence {
            Presence::Pupil { class } => GroupKey::Class(ClassKey::parse(class)),
            Presence::Staff { .. } => GroupKey::Staff,
            Presence::Visitor { .. } => GroupKey::Visitors,
        }
    }

    fn heading(&self) -> &str {
        match self {
            GroupKey::Class(class) if class.name.is_empty() => "Без класса",
            GroupKey::Class(class) => &class.name,
            GroupKey::Staff => "Сотрудники",
            GroupKey::Visitors => "Посетители",
        }
    }

    fn rank(&self) -> u8 {
        match self {
            GroupKey::Class(_) => 0,
            GroupKey::Staff => 1,
            GroupKey::Visitors => 2,
        }
    }
}

impl Ord for GroupKey {
    fn cmp(&self, other: &GroupKey) -> Ordering {
        match (self, other) {
            (GroupKey::Class(a), GroupKey::Class(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl PartialOrd for GroupKey {
    fn partial_cmp(&self, other: &GroupKey) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A class in school order: by grade number («2А» before «10А»), then by letter; classes
/// without a leading number after all numbered ones.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct ClassKey {
    grade: u32,
    letter: String,
    name: String,
}

impl ClassKey {
    pub(crate) fn parse(class: &str) -> ClassKey {
        let name = class.trim().to_owned();
        let digits: String = name.chars().take_while(char::is_ascii_digit).collect();
        let grade = digits.parse().unwrap_or(u32::MAX);
        ClassKey {
            grade,
            letter: name_key(&name[digits.len()..]),
            name,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(day: u32, hour: u32, minute: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, day)
            .and_then(|d| d.and_hms_opt(hour, minute, 0))
            .expect("valid test time")
    }

    fn person(name: &str, presence: Presence, entered_at: NaiveDateTime) -> PersonInside {
        PersonInside {
            full_name: name.to_owned(),
            presence,
            entrance: "Главный вход".to_owned(),
            entered_at,
        }
    }

    fn pupil(class: &str) -> Presence {
        Presence::Pupil {
            class: class.to_owned(),
        }
    }

    #[test]
    fn people_are_grouped_by_class_then_staff_then_visitors() {
        let input = EvacuationInput {
            school: "МБОУ «Лицей «Держава»»".to_owned(),
            generated_at: at(27, 10, 20),
            people: vec![
                person(
                    "Петров Иван",
                    Presence::Visitor {
                        purpose: "к директору".to_owned(),
                    },
                    at(27, 9, 55),
                ),
                person("Ёлкина Софья Андреевна", pupil("10А"), at(27, 8, 2)),
                person("Яковлев Олег", pupil("2Б"), at(27, 8, 10)),
                person("Егоров Антон", pupil("10А"), at(27, 8, 1)),
                person(
                    "Смирнова Анна Павловна",
                    Presence::Staff {
                        position: "учитель математики".to_owned(),
                    },
                    at(26, 21, 40),
                ),
                person("Абрамов Лев", pupil("2А"), at(27, 7, 59)),
                person("Жуков Илья", pupil(""), at(27, 8, 30)),
            ],
        };
        let document = evacuation_list(&input).expect("valid list");
        let listed: Vec<(Option<&str>, Vec<String>)> = document
            .sections()
            .iter()
            .map(|section| {
                let rows = section
                    .rows
                    .iter()
                    .map(|row| {
                        row.iter()
                            .map(|cell| match cell {
                                Cell::Integer(n) => n.to_string(),
                                Cell::Text(t) => t.clone(),
                                _ => String::new(),
                            })
                            .collect::<Vec<_>>()
                            .join("|")
                    })
                    .collect();
                (section.heading, rows)
            })
            .collect();
        let expected: Vec<(Option<&str>, Vec<&str>)> = vec![
            (
                Some("2А — 1 чел."),
                vec!["1|Абрамов Лев|ученик 2А|Главный вход|07:59|"],
            ),
            (
                Some("2Б — 1 чел."),
                vec!["2|Яковлев Олег|ученик 2Б|Главный вход|08:10|"],
            ),
            (
                Some("10А — 2 чел."),
                // «Егоров» before «Ёлкина»: ё sorts with е, then «г» before «л».
                vec![
                    "3|Егоров Антон|ученик 10А|Главный вход|08:01|",
                    "4|Ёлкина Софья Андреевна|ученик 10А|Главный вход|08:02|",
                ],
            ),
            (
                Some("Без класса — 1 чел."),
                vec!["5|Жуков Илья|ученик|Главный вход|08:30|"],
            ),
            (
                Some("Сотрудники — 1 чел."),
                vec!["6|Смирнова Анна Павловна|учитель математики|Главный вход|26.11 21:40|"],
            ),
            (
                Some("Посетители — 1 чел."),
                vec!["7|Петров Иван|к директору|Главный вход|09:55|"],
            ),
        ];
        let expected: Vec<(Option<&str>, Vec<String>)> = expected
            .into_iter()
            .map(|(h, rows)| (h, rows.into_iter().map(str::to_owned).collect()))
            .collect();
        assert_eq!(listed, expected);
        assert_eq!(document.title(), EVACUATION_TITLE);
        assert_eq!(document.organization(), Some("МБОУ «Лицей «Держава»»"));
        assert_eq!(document.generated_at(), Some(at(27, 10, 20)));
        assert_eq!(
            document.totals().map(|t| t[1..3].to_vec()),
            Some(vec![
                Cell::text("Всего в здании: 7 чел."),
                Cell::text("учеников 5, сотрудников 1, посетителей 1"),
            ])
        );
    }

    #[test]
    fn an_empty_building_still_gives_a_list() {
        let document = evacuation_list(&EvacuationInput {
            school: "Школа".to_owned(),
            generated_at: at(27, 22, 0),
            people: vec![],
        })
        .expect("valid list");
        assert!(document.rows().is_empty());
        assert_eq!(
            document.totals().map(|t| t[1].clone()),
            Some(Cell::text("Всего в здании: 0 чел."))
        );
    }
}
