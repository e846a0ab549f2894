//! The demo school as plain data: who is in it, in which class, with which cards and
//! portraits. A pure function of the seed and the instant — no store, no clock — so the
//! same seed always plans the same school, and `mod.rs` only has to journal it.

use super::avatar::{self, Sitter};
use super::cards::{CardStock, IssuedCard};
use super::names::{self, Gender};
use crate::domain::{CardState, ClassId, FullName, PersonId, PersonKind, Role};
use crate::events::PersonDetails;
use crate::peripherals::{
    Connection, Direction, PeripheralId, PeripheralSpec, Post, VerificationMode,
};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashSet;

pub const SCHOOL_NAME: &str = "МБОУ «Лицей «Держава»»";
pub const TIME_ZONE: &str = "Europe/Moscow";
pub const CLASS_LETTERS: [&str; 3] = ["А", "Б", "В"];
/// Pupils in one class: Russian norms allow up to 25–30; a city lyceum is full.
pub const CLASS_PUPILS_MIN: usize = 24;
pub const CLASS_PUPILS_MAX: usize = 30;
/// Share of pupils with a brother or sister at the school, in percent.
pub const SIBLING_PUPILS_PERCENT: usize = 10;

// Exact numbers of the special cases, so every seed shows each of them on screen.
pub const PUPILS_WITHOUT_CARD: usize = 12;
pub const PUPILS_WITHOUT_PHOTO: usize = 25;
/// Reported lost, and a new card bound since.
pub const CARDS_LOST_REPLACED: usize = 8;
/// Reported lost, no new card yet.
pub const CARDS_LOST_OPEN: usize = 3;
pub const CARDS_BLOCKED: usize = 4;

/// Independent random streams, so changing how one thing is drawn (say, card numbers)
/// leaves everything else of a seed's school as it was.
const STREAM_IDS: u64 = 1;
const STREAM_ROSTER: u64 = 2;
const STREAM_CARDS: u64 = 3;
const STREAM_AVATARS: u64 = 4;
const STREAM_PERIPHERALS: u64 = 5;
/// The canteen (`super::canteen`): its own stream, so adding it changed no one else's ids.
pub(super) const STREAM_CANTEEN: u64 = 6;
pub(super) const STREAM_LIBRARY: u64 = 7;

/// Attempts to place one family of siblings before the planner gives up on it.
const SIBLING_PLACEMENT_TRIES_MAX: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct School {
    pub name: String,
    pub time_zone: String,
    /// 1 September of the school year `now` falls in.
    pub year_start: NaiveDate,
    pub classes: Vec<Class>,
    /// Those with an account first, then teachers.
    pub staff: Vec<Person>,
    /// By class, then alphabetically.
    pub pupils: Vec<Person>,
    pub guardians: Vec<Person>,
    /// The workstation's readers and turnstile, all simulated: the demo runs on any
    /// computer, and a click on a pupil presents their card through a real line protocol.
    pub peripherals: Vec<(PeripheralId, PeripheralSpec)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Class {
    pub id: ClassId,
    pub grade: u8,
    pub letter: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub id: PersonId,
    pub kind: PersonKind,
    pub gender: Gender,
    pub name: FullName,
    pub class_id: Option<ClassId>,
    pub details: PersonDetails,
    /// SVG bytes.
    pub photo: Option<Vec<u8>>,
    /// In the order they were bound; the last active one is the card in use.
    pub cards: Vec<PlannedCard>,
    pub account: Option<Account>,
    /// A guardian's pupils and how they are related («мать», «отец», «бабушка»).
    pub children: Vec<(PersonId, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedCard {
    pub issued: IssuedCard,
    /// `Active` means the card was only bound; anything else follows as a state change.
    pub state: CardState,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub login: String,
    pub roles: Vec<Role>,
}

/// Staff with a sign-in: (login, roles, position, gender).
const ACCOUNTS: &[(&str, &[Role], &str, Gender)] = &[
    ("director", &[Role::Director], "директор", Gender::Female),
    (
        "zavuch",
        &[Role::Director, Role::Admin],
        "заместитель директора по учебно-воспитательной работе",
        Gender::Female,
    ),
    (
        "admin",
        &[Role::Admin],
        "секретарь учебной части",
        Gender::Female,
    ),
    (
        "admin2",
        &[Role::Admin],
        "инженер-программист",
        Gender::Male,
    ),
    ("guard", &[Role::Guard], "охранник", Gender::Male),
    ("guard2", &[Role::Guard], "охранник", Gender::Male),
    ("guard3", &[Role::Guard], "охранник", Gender::Female),
    (
        "cashier",
        &[Role::Cashier],
        "кассир столовой",
        Gender::Female,
    ),
    (
        "cashier2",
        &[Role::Cashier],
        "кассир столовой",
        Gender::Female,
    ),
    (
        "librarian",
        &[Role::Librarian],
        "библиотекарь",
        Gender::Female,
    ),
];

/// Teachers and other staff without a sign-in: (position, how many, percent of men).
const TEACHERS: &[(&str, usize, u32)] = &[
    ("учитель начальных классов", 13, 3),
    ("учитель математики", 7, 25),
    ("учитель русского языка и литературы", 8, 5),
    ("учитель английского языка", 7, 10),
    ("учитель немецкого языка", 1, 10),
    ("учитель французского языка", 1, 10),
    ("учитель истории и обществознания", 3, 40),
    ("учитель физики", 2, 50),
    ("учитель астрономии", 1, 50),
    ("учитель химии", 2, 20),
    ("учитель биологии", 2, 20),
    ("учитель географии", 2, 30),
    ("учитель информатики", 2, 60),
    ("учитель физической культуры", 3, 70),
    ("учитель музыки", 1, 20),
    ("учитель изобразительного искусства", 1, 20),
    ("учитель технологии", 2, 50),
    ("учитель основ религиозных культур и светской этики", 1, 20),
    ("учитель-логопед", 1, 0),
    ("преподаватель-организатор ОБЖ", 1, 90),
    ("педагог-психолог", 1, 10),
    ("социальный педагог", 1, 10),
    ("педагог-организатор", 1, 20),
    ("медицинская сестра", 1, 0),
];

/// A family of the plan: the parents' names and the seats of their children.
struct Family {
    surname: &'static str,
    father: (&'static str, &'static str),
    mother: (&'static str, &'static str),
    /// Father's mother (some pupils live with, or are collected by, their grandmother).
    grandmother: (&'static str, &'static str),
    guardians: Guardians,
    /// Class indices of the children.
    seats: Vec<usize>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Guardians {
    BothParents,
    Mother,
    Father,
    MotherAndGrandmother,
    Grandmother,
}

pub(super) fn stream(seed: u64, id: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(id);
    rng
}

/// A v4-looking UUID from the seeded stream: the same seed gives the same ids.
pub(super) fn next_uuid(rng: &mut impl Rng) -> uuid::Uuid {
    uuid::Builder::from_random_bytes(rng.gen()).into_uuid()
}

/// The school year `now` falls in starts on 1 September (in the school's zone).
pub fn school_year_start(now: DateTime<Utc>) -> NaiveDate {
    let tz: chrono_tz::Tz = TIME_ZONE.parse().expect("a valid IANA zone");
    let today = now.with_timezone(&tz).date_naive();
    let year = if today.month() >= 9 {
        today.year()
    } else {
        today.year() - 1
    };
    NaiveDate::from_ymd_opt(year, 9, 1).expect("1 September exists")
}

pub fn plan(seed: u64, now: DateTime<Utc>) -> School {
    let mut ids = stream(seed, STREAM_IDS);
    let mut rng = stream(seed, STREAM_ROSTER);
    let mut stock = CardStock::new(stream(seed, STREAM_CARDS));
    let year_start = school_year_start(now);
    let mut contacts = Contacts::default();

    let mut classes = Vec::new();
    let mut class_sizes = Vec::new();
    for grade in 1..=11u8 {
        for letter in CLASS_LETTERS {
            classes.push(Class {
                id: ClassId(next_uuid(&mut ids)),
                grade,
                letter: letter.to_owned(),
            });
            class_sizes.push(rng.gen_range(CLASS_PUPILS_MIN..=CLASS_PUPILS_MAX));
        }
    }

    let staff = plan_staff(&mut rng, &mut ids, &mut stock, &mut contacts, year_start);

    let families = plan_families(&mut rng, &classes, &class_sizes);
    let (pupils, pupil_family) = plan_pupils(&mut rng, &mut ids, &classes, &families, year_start);
    let guardians = plan_guardians(
        &mut rng,
        &mut ids,
        &mut contacts,
        &families,
        &pupils,
        &pupil_family,
    );

    let mut school = School {
        name: SCHOOL_NAME.to_owned(),
        time_zone: TIME_ZONE.to_owned(),
        year_start,
        classes,
        staff,
        pupils,
        guardians,
        peripherals: plan_peripherals(&mut stream(seed, STREAM_PERIPHERALS)),
    };
    issue_pupil_cards(&mut rng, &mut stock, &mut school.pupils);
    draw_portraits(&mut rng, seed, &mut school);
    school
}

/// The demo's devices for `seed`, as [`plan`] gives them.
pub fn plan_peripherals_for(seed: u64) -> Vec<(PeripheralId, PeripheralSpec)> {
    plan_peripherals(&mut stream(seed, STREAM_PERIPHERALS))
}

/// The entrance's turnstile with a reader each way, the canteen's reader and the
/// library desk's.
fn plan_peripherals(ids: &mut ChaCha8Rng) -> Vec<(PeripheralId, PeripheralSpec)> {
    let turnstile = PeripheralId(next_uuid(ids));
    let spec = |name: &str, post, direction, connection, gate_id| PeripheralSpec {
        name: name.to_owned(),
        post,
        direction,
        enabled: true,
        connection,
        gate_id,
        verification: VerificationMode::Automatic,
    };
    vec![
        (
            turnstile,
            spec(
                "Турникет",
                Post::Entrance,
                None,
                Connection::SimulatedTurnstile,
                None,
            ),
        ),
        (
            PeripheralId(next_uuid(ids)),
            spec(
                "Вход — считыватель",
                Post::Entrance,
                Some(Direction::Entry),
                Connection::SimulatedReader,
                Some(turnstile),
            ),
        ),
        (
            PeripheralId(next_uuid(ids)),
            spec(
                "Выход — считыватель",
                Post::Entrance,
                Some(Direction::Exit),
                Connection::SimulatedReader,
                Some(turnstile),
            ),
        ),
        (
            PeripheralId(next_uuid(ids)),
            spec(
                "Столовая — считыватель",
                Post::Canteen,
                None,
                Connection::SimulatedReader,
                None,
            ),
        ),
        (
            PeripheralId(next_uuid(ids)),
            spec(
                "Библиотека — считыватель",
                Post::Library,
                None,
                Connection::SimulatedReader,
                None,
            ),
        ),
    ]
}

fn plan_staff(
    rng: &mut ChaCha8Rng,
    ids: &mut ChaCha8Rng,
    stock: &mut CardStock<ChaCha8Rng>,
    contacts: &mut Contacts,
    year_start: NaiveDate,
) -> Vec<Person> {
    let mut staff = Vec::new();
    let mut add =
        |rng: &mut ChaCha8Rng, gender: Gender, position: &str, account: Option<Account>| {
            let surname = *names::SURNAMES
                .choose(rng)
                .expect("surname list is not empty");
            let first = match gender {
                Gender::Male => names::MEN.choose(rng),
                Gender::Female => names::WOMEN.choose(rng),
            }
            .expect("name lists are not empty");
            let father = names::MEN.choose(rng).expect("name lists are not empty");
            let name = full_name(
                &names::surname_for(surname, gender),
                first,
                &names::patronymic(father, gender),
            );
            let age_years = rng.gen_range(24..=63);
            let birth_date = year_start - Duration::days(age_years * 365 + rng.gen_range(0..365));
            let external_id = format!("S{:04}", staff.len() + 1);
            let details = PersonDetails {
                external_id: Some(external_id),
                birth_date: Some(birth_date),
                phone: Some(contacts.phone(rng)),
                email: rng.gen_bool(0.5).then(|| contacts.work_email(&name)),
                position: Some(position.to_owned()),
            };
            staff.push(Person {
                id: PersonId(next_uuid(ids)),
                kind: PersonKind::Staff,
                gender,
                name,
                class_id: None,
                details,
                photo: None,
                cards: vec![PlannedCard {
                    issued: stock.issue_any(),
                    state: CardState::Active,
                    reason: String::new(),
                }],
                account,
                children: Vec::new(),
            });
        };
    for (login, roles, position, gender) in ACCOUNTS {
        add(
            rng,
            *gender,
            position,
            Some(Account {
                login: (*login).to_owned(),
                roles: roles.to_vec(),
            }),
        );
    }
    for (position, count, men_percent) in TEACHERS {
        for _ in 0..*count {
            let gender = if rng.gen_ratio(*men_percent, 100) {
                Gender::Male
            } else {
                Gender::Female
            };
            add(rng, gender, position, None);
        }
    }
    staff
}

fn full_name(surname: &str, name: &str, patronymic: &str) -> FullName {
    FullName::new(surname, name, patronymic).expect("the name lists hold valid names")
}

/// Seats every pupil in a family: about a tenth of the pupils are brothers and sisters
/// (in different grades), the rest are only children at this school.
fn plan_families(rng: &mut ChaCha8Rng, classes: &[Class], class_sizes: &[usize]) -> Vec<Family> {
    // Free seats per grade, as class indices, in random order.
    let mut free: Vec<Vec<usize>> = vec![Vec::new(); 12];
    for (index, (class, size)) in classes.iter().zip(class_sizes).enumerate() {
        free[usize::from(class.grade)].extend(std::iter::repeat_n(index, *size));
    }
    for seats in &mut free {
        seats.shuffle(rng);
    }
    let pupils_total: usize = class_sizes.iter().sum();
    let mut families = Vec::new();
    let mut sibling_pupils = 0;
    while sibling_pupils * 100 < pupils_total * SIBLING_PUPILS_PERCENT {
        let children = if rng.gen_ratio(1, 10) { 3 } else { 2 };
        let mut placed = None;
        for _ in 0..SIBLING_PLACEMENT_TRIES_MAX {
            let mut grades = vec![rng.gen_range(1..=11usize)];
            while grades.len() < children {
                grades.push(grades[grades.len() - 1] + rng.gen_range(1..=4));
            }
            if grades.iter().all(|&g| g <= 11 && !free[g].is_empty()) {
                placed = Some(
                    grades
                        .iter()
                        .map(|&g| free[g].pop().expect("checked non-empty"))
                        .collect::<Vec<_>>(),
                );
                break;
            }
        }
        let Some(seats) = placed else { break };
        sibling_pupils += seats.len();
        families.push(new_family(rng, seats));
    }
    let mut singles: Vec<usize> = free.into_iter().flatten().collect();
    singles.shuffle(rng);
    for seat in singles {
        families.push(new_family(rng, vec![seat]));
    }
    families
}

fn new_family(rng: &mut ChaCha8Rng, seats: Vec<usize>) -> Family {
    let pick = |rng: &mut ChaCha8Rng, list: &'static [&'static str]| {
        *list.choose(rng).expect("name lists are not empty")
    };
    let guardians = match rng.gen_range(0..100) {
        0..=67 => Guardians::BothParents,
        68..=89 => Guardians::Mother,
        90..=94 => Guardians::Father,
        95..=97 => Guardians::MotherAndGrandmother,
        _ => Guardians::Grandmother,
    };
    Family {
        surname: pick(rng, names::SURNAMES),
        father: (pick(rng, names::MEN), pick(rng, names::MEN)),
        mother: (pick(rng, names::WOMEN), pick(rng, names::MEN)),
        grandmother: (pick(rng, names::GRANDMOTHERS), pick(rng, names::MEN)),
        guardians,
        seats,
    }
}

/// The pupils, sorted by class and name, each with the index of their family.
fn plan_pupils(
    rng: &mut ChaCha8Rng,
    ids: &mut ChaCha8Rng,
    classes: &[Class],
    families: &[Family],
    year_start: NaiveDate,
) -> (Vec<Person>, Vec<usize>) {
    let mut pupils: Vec<(usize, Person)> = Vec::new();
    for (family_index, family) in families.iter().enumerate() {
        let mut given: HashSet<&str> = HashSet::new();
        for &seat in &family.seats {
            let class = &classes[seat];
            let gender = if rng.gen_bool(0.5) {
                Gender::Male
            } else {
                Gender::Female
            };
            let list = match gender {
                Gender::Male => names::BOYS,
                Gender::Female => names::GIRLS,
            };
            // Brothers and sisters are not given the same name.
            let first = loop {
                let candidate = list.choose(rng).expect("name lists are not empty");
                if given.insert(candidate) {
                    break *candidate;
                }
            };
            let name = full_name(
                &names::surname_for(family.surname, gender),
                first,
                &names::patronymic(family.father.0, gender),
            );
            // A first-former is 6½ to 7½ on 1 September of the year they start school.
            let first_september =
                NaiveDate::from_ymd_opt(year_start.year() - i32::from(class.grade) + 1 - 6, 9, 1)
                    .expect("1 September exists");
            let birth_date = first_september - Duration::days(rng.gen_range(183..=548));
            pupils.push((
                family_index,
                Person {
                    id: PersonId(uuid::Uuid::nil()),
                    kind: PersonKind::Pupil,
                    gender,
                    name,
                    class_id: Some(class.id),
                    details: PersonDetails {
                        birth_date: Some(birth_date),
                        ..PersonDetails::default()
                    },
                    photo: None,
                    cards: Vec::new(),
                    account: None,
                    children: Vec::new(),
                },
            ));
        }
    }
    let class_order = |id: Option<ClassId>| classes.iter().position(|c| Some(c.id) == id);
    pupils.sort_by_cached_key(|(_, p)| {
        (
            class_order(p.class_id),
            crate::domain::search_key(&p.name.display()),
            p.details.birth_date,
        )
    });
    let mut family_of = Vec::with_capacity(pupils.len());
    let mut out = Vec::with_capacity(pupils.len());
    for (index, (family, mut pupil)) in pupils.into_iter().enumerate() {
        pupil.id = PersonId(next_uuid(ids));
        pupil.details.external_id = Some(format!("P{:06}", index + 1));
        family_of.push(family);
        out.push(pupil);
    }
    (out, family_of)
}

fn plan_guardians(
    rng: &mut ChaCha8Rng,
    ids: &mut ChaCha8Rng,
    contacts: &mut Contacts,
    families: &[Family],
    pupils: &[Person],
    pupil_family: &[usize],
) -> Vec<Person> {
    // Families in the order their first child appears in the roster.
    let mut children: Vec<Vec<PersonId>> = vec![Vec::new(); families.len()];
    let mut order = Vec::new();
    for (pupil, &family) in pupils.iter().zip(pupil_family) {
        if children[family].is_empty() {
            order.push(family);
        }
        children[family].push(pupil.id);
    }
    let mut guardians = Vec::new();
    for family_index in order {
        let family = &families[family_index];
        let mut add = |rng: &mut ChaCha8Rng,
                       gender: Gender,
                       first: &str,
                       grandfather: &str,
                       relation: &str,
                       email_percent: u32| {
            let name = full_name(
                &names::surname_for(family.surname, gender),
                first,
                &names::patronymic(grandfather, gender),
            );
            let email = rng
                .gen_ratio(email_percent, 100)
                .then(|| contacts.private_email(rng, &name));
            guardians.push(Person {
                id: PersonId(next_uuid(ids)),
                kind: PersonKind::Guardian,
                gender,
                class_id: None,
                details: PersonDetails {
                    phone: Some(contacts.phone(rng)),
                    email,
                    ..PersonDetails::default()
                },
                name,
                photo: None,
                cards: Vec::new(),
                account: None,
                children: children[family_index]
                    .iter()
                    .map(|c| (*c, relation.to_owned()))
                    .collect(),
            });
        };
        let (mother, father, grandmother) = match family.guardians {
            Guardians::BothParents => (true, true, false),
            Guardians::Mother => (true, false, false),
            Guardians::Father => (false, true, false),
            Guardians::MotherAndGrandmother => (true, false, true),
            Guardians::Grandmother => (false, false, true),
        };
        if mother {
            add(
                rng,
                Gender::Female,
                family.mother.0,
                family.mother.1,
                "мать",
                45,
            );
        }
        if father {
            add(
                rng,
                Gender::Male,
                family.father.0,
                family.father.1,
                "отец",
                30,
            );
        }
        if grandmother {
            add(
                rng,
                Gender::Female,
                family.grandmother.0,
                family.grandmother.1,
                "бабушка",
                10,
            );
        }
    }
    guardians
}

fn issue_pupil_cards(
    rng: &mut ChaCha8Rng,
    stock: &mut CardStock<ChaCha8Rng>,
    pupils: &mut [Person],
) {
    #[derive(Clone, Copy)]
    enum Story {
        Usual,
        NoCard,
        LostReplaced,
        LostOpen,
        Blocked,
    }
    let mut stories = vec![Story::Usual; pupils.len()];
    let mut indices: Vec<usize> = (0..pupils.len()).collect();
    indices.shuffle(rng);
    let mut specials = indices.into_iter();
    for (story, count) in [
        (Story::NoCard, PUPILS_WITHOUT_CARD),
        (Story::LostReplaced, CARDS_LOST_REPLACED),
        (Story::LostOpen, CARDS_LOST_OPEN),
        (Story::Blocked, CARDS_BLOCKED),
    ] {
        for index in specials.by_ref().take(count) {
            stories[index] = story;
        }
    }
    const LOST: [&str; 3] = [
        "потеряна, со слов ученика",
        "утеряна на экскурсии",
        "потеряна, заявление родителя",
    ];
    const BLOCKED: [&str; 3] = [
        "передавал карту другому ученику",
        "карта повреждена, ждёт замены",
        "по заявлению родителя",
    ];
    for (pupil, story) in pupils.iter_mut().zip(stories) {
        let active = |stock: &mut CardStock<ChaCha8Rng>| PlannedCard {
            issued: stock.issue_any(),
            state: CardState::Active,
            reason: String::new(),
        };
        let with_state = |stock: &mut CardStock<ChaCha8Rng>,
                          rng: &mut ChaCha8Rng,
                          state,
                          reasons: &[&str]| PlannedCard {
            issued: stock.issue_any(),
            state,
            reason: (*reasons.choose(rng).expect("not empty")).to_owned(),
        };
        pupil.cards = match story {
            Story::NoCard => Vec::new(),
            Story::Usual => vec![active(stock)],
            Story::LostReplaced => vec![
                with_state(stock, rng, CardState::Lost, &LOST),
                active(stock),
            ],
            Story::LostOpen => vec![with_state(stock, rng, CardState::Lost, &LOST)],
            Story::Blocked => vec![with_state(stock, rng, CardState::Blocked, &BLOCKED)],
        };
    }
}

fn draw_portraits(rng: &mut ChaCha8Rng, seed: u64, school: &mut School) {
    let mut without: Vec<usize> = (0..school.pupils.len()).collect();
    without.shuffle(rng);
    let without: HashSet<usize> = without.into_iter().take(PUPILS_WITHOUT_PHOTO).collect();
    let portrait = |person: &Person, sitter: Sitter| {
        // Each portrait depends only on the seed and the person, not on who came before.
        let mut rng = ChaCha8Rng::seed_from_u64(
            seed ^ person.id.0.as_u64_pair().0 ^ person.id.0.as_u64_pair().1,
        );
        rng.set_stream(STREAM_AVATARS);
        let initials: String = [&person.name.name, &person.name.surname]
            .iter()
            .filter_map(|part| part.chars().next())
            .collect();
        avatar::svg(&mut rng, &initials, person.gender, sitter).into_bytes()
    };
    for (index, pupil) in school.pupils.iter_mut().enumerate() {
        if !without.contains(&index) {
            pupil.photo = Some(portrait(pupil, Sitter::Pupil));
        }
    }
    for member in &mut school.staff {
        member.photo = Some(portrait(member, Sitter::Adult));
    }
}

/// Phone numbers and e-mail addresses, unique across the school.
#[derive(Default)]
struct Contacts {
    phones: HashSet<String>,
    emails: HashSet<String>,
}

/// Russian mobile operators' codes (МТС, Билайн, МегаФон, Tele2, Yota).
const MOBILE_CODES: &[u16] = &[
    900, 902, 903, 905, 906, 909, 910, 915, 916, 917, 919, 920, 925, 926, 929, 951, 953, 960, 962,
    963, 965, 968, 977, 980, 985, 999,
];
/// Mail domains under `.example` (reserved, RFC 2606): a notification sent from a demo
/// school by mistake can reach nobody's real inbox.
const MAIL_DOMAINS: &[&str] = &[
    "mail.example",
    "yandex.example",
    "inbox.example",
    "list.example",
    "bk.example",
];
/// The school's own domain, for staff.
const SCHOOL_MAIL_DOMAIN: &str = "licey-derzhava.example";

impl Contacts {
    fn phone(&mut self, rng: &mut impl Rng) -> String {
        loop {
            let code = MOBILE_CODES.choose(rng).expect("not empty");
            let n: u32 = rng.gen_range(0..10_000_000);
            let phone = format!(
                "+7 {code} {:03}-{:02}-{:02}",
                n / 10_000,
                n / 100 % 100,
                n % 100
            );
            if self.phones.insert(phone.clone()) {
                return phone;
            }
        }
    }

    fn private_email(&mut self, rng: &mut impl Rng, name: &FullName) -> String {
        let surname = names::translit(&name.surname);
        let first = names::translit(&name.name);
        let domain = MAIL_DOMAINS.choose(rng).expect("not empty");
        let local = match rng.gen_range(0..3) {
            0 => format!("{first}.{surname}"),
            1 => format!("{}.{surname}{}", &first[..1], rng.gen_range(70..=99)),
            _ => format!("{surname}{}", rng.gen_range(1..=999)),
        };
        self.unique(local, domain)
    }

    fn work_email(&mut self, name: &FullName) -> String {
        let local = format!(
            "{}.{}",
            &names::translit(&name.name)[..1],
            names::translit(&name.surname)
        );
        self.unique(local, SCHOOL_MAIL_DOMAIN)
    }

    fn unique(&mut self, local: String, domain: &str) -> String {
        (1..)
            .map(|n| {
                if n == 1 {
                    format!("{local}@{domain}")
                } else {
                    format!("{local}{n}@{domain}")
                }
            })
            .find(|email| self.emails.insert(email.clone()))
            .expect("some suffix is free")
    }
}
