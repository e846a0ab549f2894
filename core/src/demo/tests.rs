use super::names::{self, Gender};
use super::school::{
    self, CARDS_BLOCKED, CARDS_LOST_OPEN, CARDS_LOST_REPLACED, PUPILS_WITHOUT_CARD,
    PUPILS_WITHOUT_PHOTO,
};
use super::*;
use crate::workstation::{find_card_holder, Command, Workstation};
use chrono::{Datelike, TimeZone};
use rusqlite::Connection;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::OnceLock;

/// A winter morning in Moscow: the school year that started on 1 September 2025.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 2, 10, 6, 30, 0).unwrap()
}

/// One demo school generated once and shared by the read-only tests.
struct Fixture {
    _dir: tempfile::TempDir,
    path: PathBuf,
    summary: DemoSummary,
    progress: Vec<Progress>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("demo.sqlite");
        let mut store = Store::open(&path).unwrap();
        let reports = RefCell::new(Vec::new());
        let started = std::time::Instant::now();
        let summary = generate(&mut store, DEMO_SEED, now(), &|p| {
            reports.borrow_mut().push(p)
        })
        .unwrap();
        eprintln!(
            "demo school generated in {} ms: {summary:?}",
            started.elapsed().as_millis()
        );
        Fixture {
            _dir: dir,
            path,
            summary,
            progress: reports.into_inner(),
        }
    })
}

fn open_fixture() -> Connection {
    Connection::open(&fixture().path).unwrap()
}

fn count(conn: &Connection, sql: &str) -> u64 {
    conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap() as u64
}

/// The projections that make "the same school", row by row, as text.
fn projection_dump(conn: &Connection) -> Vec<String> {
    let queries = [
        "SELECT name, time_zone FROM school",
        "SELECT id, grade, letter, archived FROM classes ORDER BY id",
        "SELECT id, kind, surname, name, patronymic, class_id, status, external_id, birth_date, phone, email,
                position, photo_sha256, enrolled_at_us FROM persons ORDER BY id",
        "SELECT guardian_id, pupil_id, relation FROM guardianship ORDER BY guardian_id, pupil_id",
        "SELECT card_key, bits, low24, person_id, state, raw, changed_at_us FROM cards ORDER BY card_key",
        "SELECT person_id, login, roles, password_hash IS NOT NULL, pin_hash IS NOT NULL FROM staff_accounts ORDER BY login",
        "SELECT sha256, mime, bytes FROM photos ORDER BY sha256",
    ];
    let mut out = Vec::new();
    for sql in queries {
        let mut stmt = conn.prepare(sql).unwrap();
        let columns = stmt.column_count();
        let mut rows = stmt.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            let cells: Vec<String> = (0..columns)
                .map(|i| format!("{:?}", row.get_ref(i).unwrap()))
                .collect();
            out.push(cells.join("|"));
        }
    }
    out
}

#[test]
fn the_same_seed_plans_the_same_school_all_year_round() {
    let a = school::plan(DEMO_SEED, now());
    assert_eq!(a, school::plan(DEMO_SEED, now()));
    // Another day of the same school year: the same school.
    assert_eq!(a, school::plan(DEMO_SEED, now() + Duration::days(60)));
    let b = school::plan(DEMO_SEED + 1, now());
    assert_ne!(a.pupils[0].id, b.pupils[0].id);
    assert_ne!(
        a.pupils
            .iter()
            .map(|p| p.name.display())
            .collect::<Vec<_>>(),
        b.pupils
            .iter()
            .map(|p| p.name.display())
            .collect::<Vec<_>>()
    );
    // Ids are v4-shaped (random bits from the seed), unlike the journal's v7 event ids.
    assert!(a.pupils.iter().all(|p| p.id.0.get_version_num() == 4));
}

#[test]
fn the_same_seed_journals_the_same_school_and_a_rebuild_agrees() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("again.sqlite")).unwrap();
    let summary = generate(&mut store, DEMO_SEED, now(), &|_| {}).unwrap();
    assert_eq!(summary, fixture().summary);
    let dump = projection_dump(store.conn());
    assert_eq!(
        dump,
        projection_dump(&open_fixture()),
        "two files from one seed differ"
    );
    assert!(
        dump.len() > 3_000,
        "the dump is suspiciously small: {}",
        dump.len()
    );

    let report = crate::journal::verify(store.conn()).unwrap();
    assert!(report.is_intact(), "{:?}", report.faults);
    assert_eq!(report.events, summary.events);
    store.rebuild_projections().unwrap();
    assert_eq!(
        projection_dump(store.conn()),
        dump,
        "rebuild differs from incremental"
    );
}

#[test]
fn counts_are_those_of_a_city_lyceum() {
    let s = &fixture().summary;
    let conn = open_fixture();
    let kind = |k: &str| {
        count(
            &conn,
            &format!("SELECT count(*) FROM persons WHERE kind = '{k}' AND status = 'active'"),
        )
    };
    assert_eq!(s.school, "МБОУ «Лицей «Держава»»");
    assert_eq!(
        (
            s.classes,
            count(&conn, "SELECT count(*) FROM classes WHERE archived = 0")
        ),
        (33, 33)
    );
    assert!((850..=950).contains(&s.pupils), "pupils {}", s.pupils);
    assert_eq!(kind("pupil"), s.pupils);
    assert!(
        s.guardians * 10 >= s.pupils * 13 && s.guardians * 10 <= s.pupils * 19,
        "guardians {}",
        s.guardians
    );
    assert_eq!(kind("guardian"), s.guardians);
    assert!((65..=85).contains(&s.staff), "staff {}", s.staff);
    assert_eq!(kind("staff"), s.staff);
    let teachers = count(
        &conn,
        "SELECT count(*) FROM persons WHERE kind = 'staff' AND position LIKE 'учитель%'",
    );
    assert!((55..=65).contains(&teachers), "teachers {teachers}");
    assert_eq!(s.accounts.len(), 10);
    assert_eq!(count(&conn, "SELECT count(*) FROM staff_accounts"), 10);

    assert_eq!(s.pupils_without_card, PUPILS_WITHOUT_CARD as u64);
    assert_eq!(s.cards_lost, (CARDS_LOST_REPLACED + CARDS_LOST_OPEN) as u64);
    assert_eq!(s.cards_blocked, CARDS_BLOCKED as u64);
    assert_eq!(
        s.cards,
        s.pupils - s.pupils_without_card + CARDS_LOST_REPLACED as u64 + s.staff
    );
    assert_eq!(s.cards, count(&conn, "SELECT count(*) FROM cards"));
    assert_eq!(
        s.cards_lost,
        count(&conn, "SELECT count(*) FROM cards WHERE state = 'lost'")
    );
    assert_eq!(
        s.cards_blocked,
        count(&conn, "SELECT count(*) FROM cards WHERE state = 'blocked'")
    );

    assert_eq!(s.pupils_without_photo, PUPILS_WITHOUT_PHOTO as u64);
    assert_eq!(s.photos, s.pupils - s.pupils_without_photo + s.staff);
    assert_eq!(
        s.photos,
        count(
            &conn,
            "SELECT count(*) FROM persons WHERE photo_sha256 IS NOT NULL"
        )
    );
    assert_eq!(
        count(&conn, "SELECT count(*) FROM persons p WHERE photo_sha256 IS NOT NULL AND NOT EXISTS
                      (SELECT 1 FROM photos ph WHERE ph.sha256 = p.photo_sha256 AND ph.mime = 'image/svg+xml')"),
        0,
        "a photo without its bytes"
    );
    assert_eq!(s.events, count(&conn, "SELECT count(*) FROM journal"));
    assert_eq!(
        count(
            &conn,
            "SELECT count(DISTINCT actor) FROM journal WHERE actor LIKE 'device:ws-%'"
        ),
        1,
        "every demo event is the device's own"
    );
}

#[test]
fn every_pupil_sits_in_an_active_class_of_normal_size() {
    let conn = open_fixture();
    assert_eq!(
        count(
            &conn,
            "SELECT count(*) FROM persons p WHERE kind = 'pupil' AND NOT EXISTS
                      (SELECT 1 FROM classes c WHERE c.id = p.class_id AND c.archived = 0)"
        ),
        0
    );
    let mut stmt = conn
        .prepare("SELECT c.grade, c.letter, count(p.id) FROM classes c LEFT JOIN persons p ON p.class_id = c.id GROUP BY c.id ORDER BY c.grade, c.letter")
        .unwrap();
    let classes: Vec<(u8, String, usize)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let names: Vec<String> = classes.iter().map(|(g, l, _)| format!("{g}{l}")).collect();
    let expected: Vec<String> = (1..=11)
        .flat_map(|g| ["А", "Б", "В"].map(|l| format!("{g}{l}")))
        .collect();
    assert_eq!(names, expected);
    for (grade, letter, pupils) in &classes {
        assert!(
            (school::CLASS_PUPILS_MIN..=school::CLASS_PUPILS_MAX).contains(pupils),
            "{grade}{letter}: {pupils}"
        );
    }
    // Birth dates fit the grade: pupils start school aged 6½ to 7½ on 1 September, and a
    // pupil of grade g started g − 1 years ago.
    let year_start = school::school_year_start(now());
    let mut stmt = conn
        .prepare("SELECT c.grade, p.birth_date, p.external_id FROM persons p JOIN classes c ON c.id = p.class_id")
        .unwrap();
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, i32>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })
        .unwrap();
    let mut external_ids = HashSet::new();
    for row in rows {
        let (grade, birth, external_id) = row.unwrap();
        let birth: chrono::NaiveDate = birth.parse().unwrap();
        let started = year_start
            .with_year(year_start.year() - (grade - 1))
            .unwrap();
        let sixth_birthday = birth
            .with_year(birth.year() + 6)
            .unwrap_or(birth + Duration::days(6 * 365 + 1));
        let age_over_six_days = (started - sixth_birthday).num_days();
        assert!(
            (182..=549).contains(&age_over_six_days),
            "grade {grade}, born {birth}"
        );
        assert!(
            external_id.len() == 7 && external_id.starts_with('P'),
            "{external_id}"
        );
        assert!(external_ids.insert(external_id));
    }
}

#[test]
fn cards_are_unique_even_by_their_pair_and_mixed_in_format() {
    let conn = open_fixture();
    let bound = count(
        &conn,
        "SELECT count(*) FROM journal WHERE kind = 'card_bound'",
    );
    let cards = count(&conn, "SELECT count(*) FROM cards");
    assert_eq!(bound, cards, "a card was bound twice");
    assert_eq!(
        count(&conn, "SELECT count(DISTINCT low24) FROM cards"),
        cards,
        "two cards share a Wiegand-26 pair"
    );
    let share = |bits: u8| {
        count(
            &conn,
            &format!("SELECT count(*) FROM cards WHERE bits = {bits}"),
        ) * 100
            / cards
    };
    let (em, m4, m7, w26) = (share(40), share(32), share(56), share(24));
    assert!(
        (40..=60).contains(&em)
            && (25..=45).contains(&m4)
            && (5..=15).contains(&m7)
            && (2..=9).contains(&w26),
        "Em-Marine {em}%, Mifare-4 {m4}%, 7-byte {m7}%, Wiegand-26 {w26}%"
    );
    assert_eq!(
        count(&conn, "SELECT count(*) FROM (SELECT person_id FROM cards WHERE state = 'active' GROUP BY person_id HAVING count(*) > 1)"),
        0,
        "someone holds two active cards"
    );
    let pupils_without_active_card = count(
        &conn,
        "SELECT count(*) FROM persons p WHERE kind = 'pupil' AND NOT EXISTS
         (SELECT 1 FROM cards c WHERE c.person_id = p.id AND c.state = 'active')",
    );
    assert_eq!(
        pupils_without_active_card,
        (PUPILS_WITHOUT_CARD + CARDS_LOST_OPEN + CARDS_BLOCKED) as u64
    );
    assert_eq!(
        count(&conn, "SELECT count(*) FROM persons p WHERE kind = 'guardian' AND EXISTS (SELECT 1 FROM cards c WHERE c.person_id = p.id)"),
        0
    );
    // Every card is found by what a reader shows of it: the full id, and its pair alone.
    let mut stmt = conn
        .prepare("SELECT card_key, person_id FROM cards")
        .unwrap();
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .unwrap();
    for row in rows {
        let (key, person) = row.unwrap();
        let card = CardId::parse_canonical(&key).unwrap();
        let (facility, number) = card.wiegand26_pair();
        for presented in [card, CardId::wiegand26(facility, number)] {
            let holder = find_card_holder(&conn, &presented)
                .unwrap()
                .unwrap_or_else(|| panic!("{presented} of {key}"));
            assert_eq!(holder.person_id.to_string(), person);
        }
    }
}

struct Row {
    id: String,
    surname: String,
    name: String,
    patronymic: String,
}

fn people(conn: &Connection, kind: &str) -> HashMap<String, Row> {
    let mut stmt = conn
        .prepare("SELECT id, surname, name, patronymic FROM persons WHERE kind = ?1")
        .unwrap();
    stmt.query_map([kind], |r| {
        Ok(Row {
            id: r.get(0)?,
            surname: r.get(1)?,
            name: r.get(2)?,
            patronymic: r.get(3)?,
        })
    })
    .unwrap()
    .map(|r| r.unwrap())
    .map(|r| (r.id.clone(), r))
    .collect()
}

fn gender_of_pupil(first_name: &str) -> Gender {
    if names::GIRLS.contains(&first_name) {
        Gender::Female
    } else {
        assert!(
            names::BOYS.contains(&first_name),
            "{first_name} is in no list"
        );
        Gender::Male
    }
}

/// The masculine form a surname was made from.
fn masculine(surname: &str) -> &'static str {
    names::SURNAMES
        .iter()
        .find(|m| {
            names::surname_for(m, Gender::Male) == surname
                || names::surname_for(m, Gender::Female) == surname
        })
        .unwrap_or_else(|| panic!("{surname} is no form of a listed surname"))
}

#[test]
fn names_agree_in_gender_with_the_pupil_and_the_parents() {
    let conn = open_fixture();
    let pupils = people(&conn, "pupil");
    let guardians = people(&conn, "guardian");
    for pupil in pupils.values() {
        let gender = gender_of_pupil(&pupil.name);
        let who = format!("{} {} {}", pupil.surname, pupil.name, pupil.patronymic);
        match gender {
            Gender::Female => {
                assert!(
                    pupil.patronymic.ends_with("вна") || pupil.patronymic.ends_with("чна"),
                    "{who}"
                );
                assert!(
                    !["ов", "ев", "ёв", "ин", "ий", "ой", "ый"]
                        .iter()
                        .any(|e| pupil.surname.ends_with(e)),
                    "{who}"
                );
            }
            Gender::Male => {
                assert!(pupil.patronymic.ends_with("ич"), "{who}");
                assert!(
                    !["ова", "ева", "ёва", "ина", "ая"]
                        .iter()
                        .any(|e| pupil.surname.ends_with(e)),
                    "{who}"
                );
            }
        }
    }
    let mut stmt = conn
        .prepare("SELECT guardian_id, pupil_id, relation FROM guardianship")
        .unwrap();
    let links: Vec<(String, String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut relations = HashMap::new();
    for (guardian_id, pupil_id, relation) in &links {
        let (g, p) = (&guardians[guardian_id], &pupils[pupil_id]);
        let gender = gender_of_pupil(&p.name);
        let family = masculine(&p.surname);
        let pair = format!(
            "{} {} {} ({relation}) of {} {} {}",
            g.surname, g.name, g.patronymic, p.surname, p.name, p.patronymic
        );
        match relation.as_str() {
            "отец" => {
                assert_eq!(g.surname, family, "{pair}");
                assert_eq!(p.patronymic, names::patronymic(&g.name, gender), "{pair}");
                assert!(g.patronymic.ends_with("ич"), "{pair}");
            }
            "мать" | "бабушка" => {
                assert_eq!(
                    g.surname,
                    names::surname_for(family, Gender::Female),
                    "{pair}"
                );
                assert!(
                    g.patronymic.ends_with("вна") || g.patronymic.ends_with("чна"),
                    "{pair}"
                );
            }
            other => panic!("unexpected relation {other}"),
        }
        *relations.entry(relation.clone()).or_insert(0u32) += 1;
    }
    assert!(
        relations["мать"] > relations["отец"] && relations["бабушка"] > 0,
        "{relations:?}"
    );
    // Every pupil has one or two guardians.
    let mut per_pupil: HashMap<&str, u32> = HashMap::new();
    for (_, pupil_id, _) in &links {
        *per_pupil.entry(pupil_id).or_default() += 1;
    }
    assert_eq!(per_pupil.len(), pupils.len());
    assert!(per_pupil.values().all(|n| (1..=2).contains(n)));
}

#[test]
fn about_a_tenth_of_the_pupils_are_siblings_in_different_grades() {
    let conn = open_fixture();
    let pupils = people(&conn, "pupil");
    let mut stmt = conn
        .prepare("SELECT gs.guardian_id, gs.pupil_id, c.grade FROM guardianship gs JOIN persons p ON p.id = gs.pupil_id JOIN classes c ON c.id = p.class_id")
        .unwrap();
    let mut children: HashMap<String, Vec<(String, u8)>> = HashMap::new();
    for row in stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, u8>(2)?,
            ))
        })
        .unwrap()
    {
        let (guardian, pupil, grade) = row.unwrap();
        children.entry(guardian).or_default().push((pupil, grade));
    }
    let mut siblings = HashSet::new();
    for kids in children.values().filter(|k| k.len() > 1) {
        let grades: HashSet<u8> = kids.iter().map(|(_, g)| *g).collect();
        assert_eq!(grades.len(), kids.len(), "siblings in one grade");
        let family: HashSet<&str> = kids
            .iter()
            .map(|(id, _)| masculine(&pupils[id].surname))
            .collect();
        assert_eq!(
            family.len(),
            1,
            "siblings with different surnames: {family:?}"
        );
        siblings.extend(kids.iter().map(|(id, _)| id.clone()));
    }
    let percent = siblings.len() * 100 / pupils.len();
    assert!((8..=14).contains(&percent), "{percent}% siblings");
}

#[test]
fn progress_goes_stage_by_stage_and_not_too_often() {
    let progress = &fixture().progress;
    let mut stages: Vec<&str> = progress.iter().map(|p| p.stage.as_str()).collect();
    stages.dedup();
    assert_eq!(
        stages,
        [
            "plan",
            "classes",
            "staff",
            "pupils",
            "guardians",
            "cards",
            "photos"
        ]
    );
    for stage in &stages {
        let reports: Vec<&Progress> = progress.iter().filter(|p| p.stage == *stage).collect();
        let last = reports.last().unwrap();
        assert_eq!(last.done, last.total, "{stage} did not finish");
        assert!(
            reports.len() as u64 <= last.total / PROGRESS_EVERY_ITEMS + 2,
            "{stage}: {} reports",
            reports.len()
        );
        assert!(reports.windows(2).all(|w| w[0].done < w[1].done));
    }
}

#[test]
fn portraits_are_small_svg_pictures_with_initials() {
    let plan = school::plan(DEMO_SEED, now());
    let mut distinct = HashSet::new();
    let sitters: Vec<&school::Person> = plan
        .staff
        .iter()
        .chain(&plan.pupils)
        .filter(|p| p.photo.is_some())
        .collect();
    for person in &sitters {
        let svg = std::str::from_utf8(person.photo.as_ref().unwrap()).unwrap();
        assert!(
            svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\"") && svg.ends_with("</svg>")
        );
        assert!((900..=2_200).contains(&svg.len()), "{} bytes", svg.len());
        let initials: String = [&person.name.name, &person.name.surname]
            .iter()
            .map(|s| s.chars().next().unwrap())
            .collect();
        assert!(svg.contains(&format!(">{initials}</text>")), "{svg}");
        assert_eq!(
            crate::workstation::sniff_image(svg.as_bytes()),
            Some("image/svg+xml")
        );
        distinct.insert(svg);
    }
    assert!(
        distinct.len() * 100 >= sitters.len() * 95,
        "{} distinct of {}",
        distinct.len(),
        sitters.len()
    );
}

#[test]
fn ensure_demo_fills_an_empty_database_once_and_its_accounts_sign_in() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ws.sqlite");
    let summary = ensure_demo(&path, DEMO_SEED, now())
        .unwrap()
        .expect("an empty database gets the demo");
    assert!(
        ensure_demo(&path, DEMO_SEED, now()).unwrap().is_none(),
        "the second start generated again"
    );
    let mut store = Store::open(&path).unwrap();
    assert_eq!(
        count(store.conn(), "SELECT count(*) FROM journal"),
        summary.events
    );
    let err = generate(&mut store, DEMO_SEED, now(), &|_| {}).unwrap_err();
    assert_eq!(err.code(), "conflict");

    let mut ws = Workstation::from_store(store);
    let no_progress = |_: Progress| {};
    let run = |ws: &mut Workstation, cmd: Command| ws.execute(cmd, now(), &no_progress);
    let login = |login: &str| Command::SignInPassword {
        login: login.into(),
        password: DEMO_PASSWORD.into(),
    };

    run(&mut ws, login("admin")).expect("admin signs in with the demo password");
    assert_eq!(ws.session().unwrap().roles, [Role::Admin]);
    let school = run(&mut ws, Command::SchoolSummary).unwrap();
    assert_eq!(school["pupils"], summary.pupils);
    run(&mut ws, Command::SignOut).unwrap();

    run(&mut ws, login("zavuch")).unwrap();
    let roles: HashSet<Role> = ws.session().unwrap().roles.iter().copied().collect();
    assert_eq!(roles, HashSet::from([Role::Director, Role::Admin]));
    run(&mut ws, Command::SignOut).unwrap();

    let wrong = Command::SignInPassword {
        login: "director".into(),
        password: "demo12345".into(),
    };
    assert_eq!(run(&mut ws, wrong).unwrap_err().code(), "wrong_credentials");

    let guard = summary
        .accounts
        .iter()
        .find(|a| a.login == "guard")
        .unwrap();
    run(
        &mut ws,
        Command::SignInCard {
            card: guard.card_typed.clone(),
            pin: DEMO_PIN.into(),
        },
    )
    .expect("the guard signs in with the staff card and the demo PIN");
    assert_eq!(ws.session().unwrap().login, "guard");

    let logins: Vec<&str> = summary.accounts.iter().map(|a| a.login.as_str()).collect();
    assert_eq!(
        logins,
        [
            "director",
            "zavuch",
            "admin",
            "admin2",
            "guard",
            "guard2",
            "guard3",
            "cashier",
            "cashier2",
            "librarian"
        ]
    );
}

#[test]
fn generation_refuses_a_database_with_people_but_no_school() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("ws.sqlite")).unwrap();
    store
        .write(|w| {
            w.append(
                "test",
                now(),
                EventBody::ClassCreated {
                    class_id: crate::domain::ClassId::new_v7(),
                    grade: 1,
                    letter: "А".into(),
                },
            )
        })
        .unwrap();
    let err = generate(&mut store, DEMO_SEED, now(), &|_| {}).unwrap_err();
    assert_eq!(err.code(), "conflict");
    assert_eq!(
        count(store.conn(), "SELECT count(*) FROM journal"),
        1,
        "nothing was written"
    );
}

#[test]
fn the_demo_has_simulated_devices_and_an_older_demo_gets_them_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ws.sqlite");
    ensure_demo(&path, DEMO_SEED, now()).unwrap().unwrap();
    let names = |path: &std::path::Path| -> Vec<String> {
        let ws = Workstation::open(path).unwrap();
        ws.peripherals_here()
            .unwrap()
            .into_iter()
            .map(|p| p.spec.name)
            .collect()
    };
    let expected = [
        "Библиотека — считыватель",
        "Вход — считыватель",
        "Выход — считыватель",
        "Столовая — считыватель",
        "Турникет",
    ];
    assert_eq!(names(&path), expected);

    // A demo from before devices existed: no peripheral events at all.
    let old = dir.path().join("old.sqlite");
    {
        let mut store = Store::open(&old).unwrap();
        generate(&mut store, DEMO_SEED, now(), &|_| {}).unwrap();
        store
            .conn()
            .execute_batch(
                "DROP TRIGGER journal_is_append_only_delete;
                 DELETE FROM journal WHERE kind = 'peripheral_configured';",
            )
            .unwrap();
        store.rebuild_projections().unwrap();
    }
    assert!(names(&old).is_empty());
    ensure_demo(&old, DEMO_SEED, now()).unwrap();
    assert_eq!(names(&old), expected);

    // Removed by an admin: not brought back.
    let mut ws = Workstation::open(&old).unwrap();
    ws.execute(
        Command::SignInPassword {
            login: "admin".into(),
            password: DEMO_PASSWORD.into(),
        },
        now(),
        &|_| {},
    )
    .unwrap();
    let mut devices = ws.peripherals_here().unwrap();
    // Readers first (they name the turnstile), the turnstile last.
    devices.sort_by_key(|p| p.spec.connection.is_gate());
    for p in devices {
        let command = serde_json::from_value(serde_json::json!({
            "type": "remove_device", "device_id": p.id
        }))
        .unwrap();
        ws.execute(command, now(), &|_| {}).unwrap();
    }
    drop(ws);
    ensure_demo(&old, DEMO_SEED, now()).unwrap();
    assert!(names(&old).is_empty());
}

/// The demo's canteen: a catalogue, the complexes, benefit holders among the seniors
/// only, a balance for every pupil, this week's menus — the same from the same seed.
#[test]
fn the_demo_school_has_a_canteen() {
    let conn = open_fixture();
    let pupils = fixture().summary.pupils;
    assert_eq!(count(&conn, "SELECT count(*) FROM canteen_products"), 14);
    assert_eq!(count(&conn, "SELECT count(*) FROM canteen_complexes"), 6);
    assert_eq!(
        count(
            &conn,
            "SELECT count(*) FROM canteen_accounts WHERE balance >= 10000"
        ),
        pupils
    );
    let granted = count(&conn, "SELECT count(*) FROM benefit_grants");
    assert!(
        (pupils / 20..pupils / 6).contains(&granted),
        "{granted} of {pupils} pupils hold a benefit"
    );
    assert_eq!(
        count(
            &conn,
            "SELECT count(*) FROM benefit_grants g JOIN persons p ON p.id = g.person_id
             JOIN classes c ON c.id = p.class_id WHERE c.grade < 5"
        ),
        0,
        "grades 1–4 eat free by the built-in rule"
    );
    assert_eq!(
        count(
            &conn,
            "SELECT count(DISTINCT school_date) FROM canteen_menu"
        ),
        7
    );
    assert!(
        count(
            &conn,
            "SELECT count(*) FROM canteen_menu WHERE school_date = '2026-02-10'"
        ) > 5
    );
    assert!(count(&conn, "SELECT count(*) FROM canteen_bans") > 0);
    let plan = school::plan(DEMO_SEED, now());
    assert_eq!(
        canteen::plan(DEMO_SEED, now(), &plan),
        canteen::plan(DEMO_SEED, now(), &plan)
    );
}

/// The demo's library: textbooks out to every pupil of grades 5 and 6 until 31 May,
/// fiction lent over the last weeks with some of it overdue, and the librarian at the
/// desk from the first minute.
#[test]
fn the_demo_school_has_a_library_with_loans_and_debtors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ws.sqlite");
    ensure_demo(&path, DEMO_SEED, now()).unwrap().unwrap();
    let mut ws = Workstation::open(&path).unwrap();
    ws.execute(
        Command::SignInPassword {
            login: "librarian".into(),
            password: DEMO_PASSWORD.into(),
        },
        now(),
        &|_| {},
    )
    .unwrap();
    let count = |sql: &str| -> i64 { ws.store().conn().query_row(sql, [], |r| r.get(0)).unwrap() };
    let grade_5_6: i64 = count(
        "SELECT count(*) FROM persons p JOIN classes k ON k.id = p.class_id
         WHERE p.kind = 'pupil' AND k.grade IN (5, 6)",
    );
    assert!(grade_5_6 > 100, "{grade_5_6}");
    // Two textbooks each.
    assert_eq!(
        count(
            "SELECT count(*) FROM library_loans l JOIN library_copies c USING (barcode)
             WHERE c.item_type = 'textbook' AND l.returned_at_us IS NULL AND l.due LIKE '%-05-31'"
        ),
        2 * grade_5_6
    );
    let fiction = count(
        "SELECT count(*) FROM library_loans l JOIN library_copies c USING (barcode)
         WHERE c.item_type = 'fiction'",
    );
    assert!((20..=30).contains(&fiction), "{fiction}");
    assert_eq!(
        count("SELECT count(*) FROM library_copies WHERE state = 'on_loan'"),
        2 * grade_5_6 + fiction
    );
    let overdue = ws
        .execute(
            serde_json::from_value(serde_json::json!({"type": "overdue_list"})).unwrap(),
            now(),
            &|_| {},
        )
        .unwrap();
    let debtors: usize = overdue["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["loans"].as_array().unwrap().len())
        .sum();
    assert!(
        (3..fiction as usize).contains(&debtors),
        "{debtors} overdue of {fiction}"
    );
    let found = ws
        .execute(
            serde_json::from_value(
                serde_json::json!({"type": "search_catalogue", "query": "пушкин"}),
            )
            .unwrap(),
            now(),
            &|_| {},
        )
        .unwrap();
    assert_eq!(found["titles"][0]["title"], "Капитанская дочка");
    assert_eq!(found["titles"][0]["age_mark"], "12+");
}
