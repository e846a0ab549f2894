//! The demo school's library, from the seed: the textbooks of grades 5 and 6 handed to
//! every pupil of those grades on 1 September, a shelf of classics and children's books
//! with a few copies each and their age marks, two reference books, and loans of fiction
//! to pupils of grades 5–11 over the last weeks — some of them overdue, so the desk's
//! «Должники» has names from the first minute.

use super::school::{next_uuid, stream, School, STREAM_LIBRARY};
use crate::events::EventBody;
use crate::library::{
    loan_due, AgeMark, BookCopy, BookTitle, Isbn, ItemType, LoanId, ReaderCategory, TitleId,
};
use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Loans of fiction to pupils of grades 5–11 in the weeks before `now`.
const FICTION_LOANS: usize = 30;
/// How far back those loans were made, in days: a third of them are overdue.
const FICTION_LOAN_DAYS_BACK: i64 = 21;
/// Copies of each novel on the shelf.
const FICTION_COPIES: std::ops::RangeInclusive<usize> = 4..=8;

/// (title, author, publisher, year, subject, age mark)
const TEXTBOOKS: &[(&str, &str, &str, u16, &str, u8)] = &[
    (
        "Математика. 5 класс",
        "Виленкин Н. Я.",
        "Просвещение",
        2023,
        "математика",
        5,
    ),
    (
        "Русский язык. 5 класс",
        "Ладыженская Т. А.",
        "Просвещение",
        2023,
        "русский язык",
        5,
    ),
    (
        "Математика. 6 класс",
        "Виленкин Н. Я.",
        "Просвещение",
        2023,
        "математика",
        6,
    ),
    (
        "Русский язык. 6 класс",
        "Баранов М. Т.",
        "Просвещение",
        2022,
        "русский язык",
        6,
    ),
];

/// (title, author, age mark)
const FICTION: &[(&str, &str, AgeMark)] = &[
    ("Денискины рассказы", "Драгунский В. Ю.", AgeMark::Six),
    (
        "Приключения Незнайки и его друзей",
        "Носов Н. Н.",
        AgeMark::Zero,
    ),
    ("Дядя Фёдор, пёс и кот", "Успенский Э. Н.", AgeMark::Zero),
    ("Муму", "Тургенев И. С.", AgeMark::Twelve),
    ("Капитанская дочка", "Пушкин А. С.", AgeMark::Twelve),
    (
        "Вечера на хуторе близ Диканьки",
        "Гоголь Н. В.",
        AgeMark::Twelve,
    ),
    ("Детство", "Толстой Л. Н.", AgeMark::Twelve),
    ("Приключения Тома Сойера", "Твен М.", AgeMark::Twelve),
    ("Остров сокровищ", "Стивенсон Р. Л.", AgeMark::Twelve),
    ("Дети капитана Гранта", "Верн Ж.", AgeMark::Twelve),
    ("Герой нашего времени", "Лермонтов М. Ю.", AgeMark::Twelve),
    ("Отцы и дети", "Тургенев И. С.", AgeMark::Sixteen),
    (
        "Преступление и наказание",
        "Достоевский Ф. М.",
        AgeMark::Sixteen,
    ),
    ("Мастер и Маргарита", "Булгаков М. А.", AgeMark::Sixteen),
];

/// (title, author)
const REFERENCE: &[(&str, &str)] = &[
    ("Толковый словарь русского языка", "Ожегов С. И."),
    ("Орфографический словарь", "Лопатин В. В."),
];

/// The library's events with the instant each happened, in journal order. The
/// catalogue is entered a little before the school year; textbooks go out on
/// 1 September, novels over the last weeks.
pub fn plan(seed: u64, now: DateTime<Utc>, school: &School) -> Vec<(DateTime<Utc>, EventBody)> {
    let mut rng = stream(seed, STREAM_LIBRARY);
    let tz: chrono_tz::Tz = school.time_zone.parse().expect("the demo's zone");
    let at_school = |date: chrono::NaiveDate, minutes: i64| {
        let morning = date.and_time(NaiveTime::from_hms_opt(9, 0, 0).expect("a valid time"));
        let local = tz
            .from_local_datetime(&morning)
            .single()
            .expect("9:00 exists in Moscow");
        (local + Duration::minutes(minutes)).with_timezone(&Utc)
    };
    let catalogued = at_school(school.year_start - Duration::days(5), 0).min(now);
    let mut events = Vec::new();
    let mut barcode_seq = 0u32;
    let mut next_barcode = || {
        barcode_seq += 1;
        format!("{barcode_seq:06}")
    };

    // Textbooks: a copy for every pupil of the grade, handed out on 1 September.
    let first_day = at_school(school.year_start, 0).min(now);
    for (title, author, publisher, year, subject, grade) in TEXTBOOKS {
        let book = title_of(
            &mut rng,
            title,
            author,
            publisher,
            Some(*year),
            subject,
            AgeMark::Six,
        );
        events.push((
            catalogued,
            EventBody::BookTitleSaved {
                title: book.clone(),
            },
        ));
        let location = format!("Учебники, {grade} класс");
        let grade_classes: Vec<_> = school
            .classes
            .iter()
            .filter(|c| c.grade == *grade)
            .map(|c| c.id)
            .collect();
        let pupils = school
            .pupils
            .iter()
            .filter(|p| p.class_id.is_some_and(|c| grade_classes.contains(&c)));
        for (n, pupil) in pupils.enumerate() {
            let barcode = next_barcode();
            events.push((
                catalogued,
                copy_added(
                    barcode.clone(),
                    book.title_id,
                    location.clone(),
                    ItemType::Textbook,
                ),
            ));
            let issued = first_day + Duration::seconds(n as i64 * 20);
            events.push((
                issued,
                EventBody::BookIssued {
                    loan_id: LoanId(next_uuid(&mut rng)),
                    barcode,
                    person_id: pupil.id,
                    due: loan_due(ReaderCategory::Pupil, ItemType::Textbook, school.year_start)
                        .expect("textbooks are lent"),
                },
            ));
        }
    }

    // Fiction: a few copies of each, some lent over the last weeks.
    let mut shelf: Vec<(String, AgeMark)> = Vec::new();
    for (n, (title, author, mark)) in FICTION.iter().enumerate() {
        let book = title_of(
            &mut rng,
            title,
            author,
            "Детская литература",
            None,
            "художественная литература",
            *mark,
        );
        events.push((
            catalogued,
            EventBody::BookTitleSaved {
                title: book.clone(),
            },
        ));
        for _ in 0..rng.gen_range(FICTION_COPIES) {
            let barcode = next_barcode();
            events.push((
                catalogued,
                copy_added(
                    barcode.clone(),
                    book.title_id,
                    format!("Абонемент, стеллаж {}", n / 4 + 1),
                    ItemType::Fiction,
                ),
            ));
            shelf.push((barcode, *mark));
        }
    }
    for (title, author) in REFERENCE {
        let book = title_of(
            &mut rng,
            title,
            author,
            "АСТ",
            Some(2021),
            "справочные издания",
            AgeMark::Zero,
        );
        events.push((
            catalogued,
            EventBody::BookTitleSaved {
                title: book.clone(),
            },
        ));
        for _ in 0..2 {
            events.push((
                catalogued,
                copy_added(
                    next_barcode(),
                    book.title_id,
                    "Читальный зал".to_owned(),
                    ItemType::Reference,
                ),
            ));
        }
    }

    // Readers of grades 5–11, old enough for what they take; one book each.
    let senior: Vec<_> = school
        .classes
        .iter()
        .filter(|c| c.grade >= 5)
        .map(|c| (c.id, c.grade))
        .collect();
    let mut readers: Vec<_> = school
        .pupils
        .iter()
        .filter_map(|p| {
            let grade = senior.iter().find(|(c, _)| Some(*c) == p.class_id)?.1;
            Some((p.id, grade))
        })
        .collect();
    readers.shuffle(&mut rng);
    shelf.shuffle(&mut rng);
    let today = now.with_timezone(&tz).date_naive();
    let mut lent = Vec::new();
    for (person_id, grade) in readers.into_iter().take(FICTION_LOANS) {
        let age = u32::from(grade) + crate::library::AGE_OVER_GRADE_YEARS;
        let Some(i) = shelf
            .iter()
            .position(|(_, mark)| mark.min_age_years() <= age)
        else {
            continue;
        };
        let (barcode, _) = shelf.swap_remove(i);
        let issued_on = today - Duration::days(rng.gen_range(1..=FICTION_LOAN_DAYS_BACK));
        let issued_on = issued_on.max(school.year_start);
        let at = at_school(issued_on, rng.gen_range(0..420)).min(now);
        let due =
            loan_due(ReaderCategory::Pupil, ItemType::Fiction, issued_on).expect("fiction is lent");
        lent.push((
            at,
            EventBody::BookIssued {
                loan_id: LoanId(next_uuid(&mut rng)),
                barcode,
                person_id,
                due,
            },
        ));
    }
    lent.sort_by_key(|(at, _)| *at);
    events.extend(lent);
    events
}

/// A copy put on the shelf.
fn copy_added(
    barcode: String,
    title_id: TitleId,
    location: String,
    item_type: ItemType,
) -> EventBody {
    EventBody::BookCopyAdded {
        copy: BookCopy {
            barcode,
            title_id,
            location,
            item_type,
        },
    }
}

/// A title with an ISBN of the Russian group (978-5-…) that passes its check digit.
fn title_of(
    rng: &mut ChaCha8Rng,
    title: &str,
    author: &str,
    publisher: &str,
    year: Option<u16>,
    subject: &str,
    age_mark: AgeMark,
) -> BookTitle {
    let body = format!("9785{:08}", rng.gen_range(0..100_000_000u32));
    let isbn = (0..10)
        .find_map(|check| Isbn::parse(&format!("{body}{check}")).ok())
        .expect("one check digit fits");
    BookTitle {
        title_id: TitleId(next_uuid(rng)),
        title: title.to_owned(),
        authors: vec![author.to_owned()],
        isbn: Some(isbn),
        publisher: publisher.to_owned(),
        year: year.or(Some(rng.gen_range(2015..=2024))),
        subject: subject.to_owned(),
        age_mark,
    }
}
