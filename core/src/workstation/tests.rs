//! The workstation's answers as the UI reads them: refusals with their codes and values,
//! the demo school's sign-in hint, photos by the list, a photo from a file, a roster that
//! changed since its preview, the journal without secrets, and cards given back.

use super::*;
use crate::demo::{self, DEMO_PASSWORD, DEMO_PIN};
use crate::error::Refusal;
use chrono::TimeZone;

const PASSWORD: &str = "correct horse";
/// The smallest file that `sniff_image` takes for a PNG.
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 9, 1, 5, 0, 0).unwrap()
}

fn try_run(ws: &mut Workstation, value: Value) -> CoreResult<Value> {
    let cmd: Command = serde_json::from_value(value.clone())
        .unwrap_or_else(|e| panic!("bad command {value}: {e}"));
    ws.execute(cmd, t0(), &|_| {})
}

fn run(ws: &mut Workstation, value: Value) -> Value {
    try_run(ws, value.clone()).unwrap_or_else(|e| panic!("{value} failed: {e}"))
}

fn id(v: &Value, pointer: &str) -> String {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no {pointer} in {v}"))
        .to_owned()
}

/// A set-up school, signed in as its admin, with class 5А, two pupils (one with card
/// 126,58404) and the guard «guard».
struct School {
    dir: tempfile::TempDir,
    ws: Workstation,
    class: String,
    ivanov: String,
    petrova: String,
}

fn school() -> School {
    let dir = tempfile::tempdir().unwrap();
    let mut ws = Workstation::open(&dir.path().join("school.sqlite")).unwrap();
    run(
        &mut ws,
        json!({"type": "set_up_school", "school_name": "Лицей «Держава»", "time_zone": "Europe/Moscow",
               "admin_name": {"surname": "Админова", "name": "Анна"}, "login": "admin", "password": PASSWORD}),
    );
    run(
        &mut ws,
        json!({"type": "sign_in_password", "login": "admin", "password": PASSWORD}),
    );
    let class = id(
        &run(&mut ws, json!({"type": "create_class", "name": "5А"})),
        "/id",
    );
    let enrol = |ws: &mut Workstation, surname: &str, name: &str| {
        id(
            &run(
                ws,
                json!({"type": "enrol_pupil", "class_id": class, "name": {"surname": surname, "name": name}}),
            ),
            "/person/id",
        )
    };
    let ivanov = enrol(&mut ws, "Иванов", "Иван");
    let petrova = enrol(&mut ws, "Петрова", "Мария");
    run(
        &mut ws,
        json!({"type": "bind_card", "person_id": ivanov, "card": "126,58404"}),
    );
    run(
        &mut ws,
        json!({"type": "enrol_staff", "login": "guard", "password": PASSWORD, "roles": ["guard"],
               "name": {"surname": "Охранов", "name": "Олег"}}),
    );
    School {
        dir,
        ws,
        class,
        ivanov,
        petrova,
    }
}

/// A refusal as the UI receives it (the shell's `ErrorDto` without the English).
fn as_the_ui_sees(e: &CoreError) -> Value {
    let field = match e {
        CoreError::Invalid { field, .. } => Some(field.clone()),
        _ => None,
    };
    json!({
        "code": e.code(),
        "reason": e.reason().map(Refusal::as_str),
        "field": field,
        "params": e.params().cloned().unwrap_or_default(),
    })
}

#[test]
fn refusals_carry_a_reason_and_the_values_a_sentence_needs() {
    let mut s = school();
    let (ivanov, petrova, class) = (s.ivanov.clone(), s.petrova.clone(), s.class.clone());
    let admin = s.ws.session().unwrap().person_id.to_string();
    let pupil = |surname: &str, name: &str, details: Value| {
        json!({"type": "enrol_pupil", "class_id": class, "name": {"surname": surname, "name": name},
               "details": details})
    };
    let staff = |login: &str| {
        json!({"type": "enrol_staff", "login": login, "password": PASSWORD, "roles": ["guard"],
               "name": {"surname": "Второй", "name": "Охранник"}})
    };
    // (command, what the UI gets: `params` lists the values that must be there)
    let cases = [
        (
            json!({"type": "bind_card", "person_id": petrova, "card": "126,58404"}),
            json!({"code": "conflict", "reason": "card_taken", "field": null,
                   "params": {"holder": "Иванов Иван", "state": "active"}}),
        ),
        (
            json!({"type": "bind_card", "person_id": ivanov, "card": "126,58404"}),
            json!({"code": "conflict", "reason": "card_already_bound", "field": null, "params": {}}),
        ),
        (
            json!({"type": "bind_card", "person_id": ivanov, "card": "not a card"}),
            json!({"code": "invalid", "reason": "bad_card", "field": "card",
                   "params": {"value": "not a card"}}),
        ),
        (
            json!({"type": "set_card_state", "card": "126,58404", "state": "active"}),
            json!({"code": "conflict", "reason": "card_state_unchanged", "field": null,
                   "params": {"state": "active"}}),
        ),
        (
            json!({"type": "create_class", "name": "5а"}),
            json!({"code": "conflict", "reason": "class_exists", "field": null, "params": {"name": "5А"}}),
        ),
        (
            json!({"type": "create_class", "name": "13Я"}),
            json!({"code": "invalid", "reason": "bad_class_name", "field": "name",
                   "params": {"value": "13Я"}}),
        ),
        (
            json!({"type": "archive_class", "class_id": class}),
            json!({"code": "conflict", "reason": "class_not_empty", "field": null,
                   "params": {"name": "5А", "pupils": "2"}}),
        ),
        (
            staff("guard"),
            json!({"code": "invalid", "reason": "login_taken", "field": "login", "params": {"login": "guard"}}),
        ),
        (
            staff("кириллица"),
            json!({"code": "invalid", "reason": "bad_login", "field": "login",
                   "params": {"min": "2", "max": "40"}}),
        ),
        (
            json!({"type": "set_staff_password", "person_id": admin, "password": "short"}),
            json!({"code": "invalid", "reason": "too_short", "field": "password", "params": {"min": "8"}}),
        ),
        (
            json!({"type": "set_staff_pin", "person_id": admin, "pin": "12a4"}),
            json!({"code": "invalid", "reason": "bad_pin", "field": "pin", "params": {"min": "4", "max": "8"}}),
        ),
        (
            json!({"type": "set_staff_roles", "person_id": admin, "roles": ["guard"]}),
            json!({"code": "conflict", "reason": "cannot_demote_self", "field": null, "params": {}}),
        ),
        (
            json!({"type": "set_person_status", "person_id": admin, "status": "left"}),
            json!({"code": "conflict", "reason": "cannot_suspend_self", "field": null, "params": {}}),
        ),
        (
            pupil("  ", "Олег", json!({})),
            json!({"code": "invalid", "reason": "empty", "field": "surname", "params": {}}),
        ),
        (
            pupil("Иванов2", "Олег!", json!({})),
            json!({"code": "invalid", "reason": "bad_characters", "field": "surname", "params": {"chars": "2"}}),
        ),
        (
            pupil(&"Я".repeat(81), "Олег", json!({})),
            json!({"code": "invalid", "reason": "too_long", "field": "surname", "params": {"max": "80"}}),
        ),
        (
            pupil("Орлов", "Олег", json!({"birth_date": "31.02.2015"})),
            json!({"code": "invalid", "reason": "not_a_date", "field": "birth_date",
                   "params": {"value": "31.02.2015"}}),
        ),
        (
            pupil("Орлов", "Олег", json!({"email": "orlov.mail.ru"})),
            json!({"code": "invalid", "reason": "not_an_email", "field": "email",
                   "params": {"value": "orlov.mail.ru"}}),
        ),
        (
            pupil("Орлов", "Олег", json!({"phone": "12"})),
            json!({"code": "invalid", "reason": "not_a_phone", "field": "phone", "params": {"value": "12"}}),
        ),
        (
            json!({"type": "enrol_guardian", "pupil_id": admin, "name": {"surname": "Орлова", "name": "Ольга"}}),
            json!({"code": "invalid", "reason": "wrong_person_kind", "field": "person_id",
                   "params": {"expected": "pupil"}}),
        ),
        (
            json!({"type": "configure_school", "name": "Лицей", "time_zone": "Europe/Obninsk"}),
            json!({"code": "invalid", "reason": "bad_time_zone", "field": "time_zone",
                   "params": {"value": "Europe/Obninsk"}}),
        ),
        (
            json!({"type": "configure_school", "name": " ", "time_zone": "Europe/Moscow"}),
            json!({"code": "invalid", "reason": "empty", "field": "name", "params": {}}),
        ),
        (
            json!({"type": "set_photo", "person_id": ivanov, "mime": "image/png", "base64": "aGVsbG8="}),
            json!({"code": "invalid", "reason": "bad_photo", "field": "photo", "params": {}}),
        ),
        (
            json!({"type": "set_up_school", "school_name": "X", "time_zone": "Europe/Moscow",
                   "admin_name": {"surname": "А", "name": "Б"}, "login": "x2", "password": PASSWORD}),
            json!({"code": "conflict", "reason": "already_set_up", "field": null, "params": {}}),
        ),
    ];
    for (command, expected) in cases {
        let err =
            try_run(&mut s.ws, command.clone()).expect_err(&format!("{command} should be refused"));
        let mut got = as_the_ui_sees(&err);
        // Only the values the case names are compared (others may be there for the log).
        let wanted: Vec<&String> = expected["params"].as_object().unwrap().keys().collect();
        got["params"]
            .as_object_mut()
            .unwrap()
            .retain(|key, _| wanted.contains(&key));
        assert_eq!(got, expected, "{command}: {err}");
    }

    // A returned card is made active by binding it, not by its state.
    run(
        &mut s.ws,
        json!({"type": "set_card_state", "card": "126,58404", "state": "returned"}),
    );
    let err = try_run(
        &mut s.ws,
        json!({"type": "set_card_state", "card": "126,58404", "state": "active"}),
    )
    .unwrap_err();
    assert_eq!(err.reason(), Some(Refusal::CardReturnedNeedsBinding));
    // A person who left gets no card.
    run(
        &mut s.ws,
        json!({"type": "set_person_status", "person_id": petrova, "status": "left"}),
    );
    let err = try_run(
        &mut s.ws,
        json!({"type": "bind_card", "person_id": petrova, "card": "126,58404"}),
    )
    .unwrap_err();
    assert_eq!(err.reason(), Some(Refusal::PersonLeft));
}

/// Every refusal has a sentence in both of the UI's catalogues (`refusal.<code>`).
#[test]
fn every_refusal_has_a_russian_and_an_english_sentence() {
    let ui = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/i18n");
    for catalogue in ["ru.ts", "en.ts"] {
        let text = std::fs::read_to_string(ui.join(catalogue))
            .unwrap_or_else(|e| panic!("{catalogue}: {e}"));
        let missing: Vec<&str> = Refusal::ALL
            .iter()
            .map(|r| r.as_str())
            .filter(|code| !text.contains(&format!("'refusal.{code}':")))
            .collect();
        assert!(missing.is_empty(), "{catalogue} lacks refusal.{missing:?}");
    }
}

/// Every kind of event has a name on the journal screen, in both catalogues
/// (`event.<kind>`): the kinds are read from `EventBody`'s variants in `events.rs`.
#[test]
fn every_event_kind_has_a_russian_and_an_english_name() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let events = std::fs::read_to_string(root.join("src/events.rs")).unwrap();
    let body = &events[events.find("pub enum EventBody {").expect("the enum")..];
    let body = &body[..body.find("\n}\n").expect("its end")];
    let kinds: Vec<String> = body
        .lines()
        .filter_map(|line| {
            let name = line.strip_prefix("    ")?;
            let first = name.chars().next()?;
            if !first.is_ascii_uppercase() {
                return None;
            }
            let name: String = name
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            let mut snake = String::new();
            for (i, c) in name.chars().enumerate() {
                if c.is_ascii_uppercase() && i > 0 {
                    snake.push('_');
                }
                snake.push(c.to_ascii_lowercase());
            }
            Some(snake)
        })
        .collect();
    assert!(kinds.len() > 40, "the kinds were read: {kinds:?}");
    for catalogue in ["ru.ts", "en.ts"] {
        let text = std::fs::read_to_string(root.join("../ui/src/i18n").join(catalogue)).unwrap();
        let missing: Vec<&String> = kinds
            .iter()
            .filter(|kind| !text.contains(&format!("'event.{kind}':")))
            .collect();
        assert!(missing.is_empty(), "{catalogue} lacks event.{missing:?}");
    }
}

#[test]
fn the_demo_school_lists_its_accounts_and_they_sign_in_with_what_it_says() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("demo.sqlite");
    demo::ensure_demo(&path, demo::DEMO_SEED, t0())
        .unwrap()
        .unwrap();
    let mut ws = Workstation::open(&path).unwrap();
    let school = run(&mut ws, json!({"type": "get_school"}));
    let demo = &school["demo"];
    assert_eq!(demo["password"], DEMO_PASSWORD);
    assert_eq!(demo["pin"], DEMO_PIN);
    let accounts = demo["accounts"].as_array().unwrap();
    let logins: Vec<&str> = accounts
        .iter()
        .map(|a| a["login"].as_str().unwrap())
        .collect();
    assert_eq!(
        logins,
        [
            "admin",
            "admin2",
            "zavuch",
            "director",
            "guard",
            "guard2",
            "guard3",
            "cashier",
            "cashier2",
            "librarian"
        ]
    );
    for account in accounts {
        let login = account["login"].as_str().unwrap();
        assert!(!account["full_name"].as_str().unwrap().is_empty());
        assert!(!account["roles"].as_array().unwrap().is_empty());
        run(
            &mut ws,
            json!({"type": "sign_in_password", "login": login, "password": demo["password"]}),
        );
        run(&mut ws, json!({"type": "sign_out"}));
        let card = account["card_typed"].as_str().unwrap();
        let answer = run(
            &mut ws,
            json!({"type": "sign_in_card", "card": card, "pin": demo["pin"]}),
        );
        assert_eq!(answer["session"]["login"], login, "{card}");
        run(&mut ws, json!({"type": "sign_out"}));
    }

    // Renaming the demo school keeps it the demo school.
    run(
        &mut ws,
        json!({"type": "sign_in_password", "login": "admin", "password": DEMO_PASSWORD}),
    );
    run(
        &mut ws,
        json!({"type": "configure_school", "name": "Лицей «Держава» (демо)", "time_zone": "Europe/Moscow"}),
    );
    assert!(run(&mut ws, json!({"type": "get_school"}))["demo"].is_object());
}

#[test]
fn a_real_school_is_no_demo() {
    let mut s = school();
    let school = run(&mut s.ws, json!({"type": "get_school"}));
    assert_eq!(school["demo"], Value::Null);
    assert_eq!(school["configured"], true);
}

#[test]
fn a_workstation_says_its_post_once_and_a_guard_may_not_change_it() {
    let mut s = school();
    assert_eq!(
        run(&mut s.ws, json!({"type": "get_school"}))["post"],
        Value::Null
    );
    let set =
        json!({"type": "set_workstation_post", "post": "canteen", "name": "  Касса, 1 этаж "});
    let saved = run(&mut s.ws, set.clone());
    assert_eq!(saved, json!({"post": "canteen", "name": "Касса, 1 этаж"}));
    assert_eq!(run(&mut s.ws, json!({"type": "get_school"}))["post"], saved);
    // The same answer again writes nothing.
    let events = |ws: &Workstation| -> i64 {
        ws.store()
            .conn()
            .query_row(
                "SELECT count(*) FROM journal WHERE kind = 'workstation_post_set'",
                [],
                |r| r.get(0),
            )
            .unwrap()
    };
    run(&mut s.ws, set);
    assert_eq!(events(&s.ws), 1);
    // A blank or an overlong name is refused, naming the field.
    for name in ["   ", &"я".repeat(61)] {
        let refused = try_run(
            &mut s.ws,
            json!({"type": "set_workstation_post", "post": "entrance", "name": name}),
        )
        .unwrap_err();
        assert_eq!(as_the_ui_sees(&refused)["field"], "name", "{refused}");
    }
    // A guard may not say what the workstation is for.
    run(&mut s.ws, json!({"type": "sign_out"}));
    run(
        &mut s.ws,
        json!({"type": "sign_in_password", "login": "guard", "password": PASSWORD}),
    );
    let forbidden = try_run(
        &mut s.ws,
        json!({"type": "set_workstation_post", "post": "entrance", "name": "Вход"}),
    )
    .unwrap_err();
    assert!(
        matches!(forbidden, CoreError::Forbidden { .. }),
        "{forbidden}"
    );
    // A rebuild of the projections says the same.
    s.ws.store_mut().rebuild_projections().unwrap();
    assert_eq!(run(&mut s.ws, json!({"type": "get_school"}))["post"], saved);
    assert_eq!(events(&s.ws), 1);
}

#[test]
fn photos_of_a_list_come_in_one_answer() {
    let mut s = school();
    let (ivanov, petrova) = (s.ivanov.clone(), s.petrova.clone());
    let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, PNG);
    run(
        &mut s.ws,
        json!({"type": "set_photo", "person_id": ivanov, "mime": "image/png", "base64": b64}),
    );
    let unknown = crate::domain::PersonId::new_v7().to_string();
    let photos = run(
        &mut s.ws,
        json!({"type": "get_photos", "person_ids": [ivanov, petrova, unknown]}),
    );
    let photos = photos.as_object().unwrap();
    assert_eq!(photos.len(), 1, "{photos:?}");
    assert_eq!(photos[&ivanov], format!("data:image/png;base64,{b64}"));
    assert_eq!(
        run(&mut s.ws, json!({"type": "get_photos", "person_ids": []})),
        json!({})
    );
    let too_many: Vec<String> = (0..=SEARCH_RESULTS_MAX)
        .map(|_| crate::domain::PersonId::new_v7().to_string())
        .collect();
    let err = try_run(
        &mut s.ws,
        json!({"type": "get_photos", "person_ids": too_many}),
    )
    .unwrap_err();
    assert_eq!(err.reason(), Some(Refusal::TooMany));
}

#[test]
fn a_photo_from_a_file_is_read_bounded_and_sniffed_in_core() {
    let mut s = school();
    let ivanov = s.ivanov.clone();
    let dir = s.dir.path().to_owned();
    let set = |ws: &mut Workstation, path: &std::path::Path| {
        try_run(
            ws,
            json!({"type": "set_photo_from_file", "person_id": ivanov, "path": path}),
        )
    };

    let good = dir.join("portrait.jpeg");
    std::fs::write(&good, PNG).unwrap();
    let person = set(&mut s.ws, &good).unwrap();
    assert!(person["photo"]
        .as_str()
        .unwrap()
        .starts_with("data:image/png;base64,"));

    let text = dir.join("notes.png");
    std::fs::write(&text, "not a picture").unwrap();
    assert_eq!(
        set(&mut s.ws, &text).unwrap_err().reason(),
        Some(Refusal::BadPhoto)
    );

    // One byte over the bound, never read: a sparse file costs no disk.
    let huge = dir.join("huge.png");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(PHOTO_BYTES_MAX as u64 + 1)
        .unwrap();
    let err = set(&mut s.ws, &huge).unwrap_err();
    assert_eq!(
        (err.reason(), err.params().unwrap()["max_mib"].as_str()),
        (Some(Refusal::PhotoTooLarge), "5")
    );

    let err = set(&mut s.ws, &dir.join("missing.png")).unwrap_err();
    assert_eq!(
        (err.code(), err.reason()),
        ("invalid", Some(Refusal::CannotReadFile))
    );
    let events = |ws: &Workstation| -> i64 {
        ws.store()
            .conn()
            .query_row(
                "SELECT count(*) FROM journal WHERE kind = 'photo_set'",
                [],
                |r| r.get(0),
            )
            .unwrap()
    };
    assert_eq!(events(&s.ws), 1, "only the good picture was stored");
}

#[test]
fn a_roster_that_changed_since_its_preview_is_refused_whole() {
    let mut s = school();
    let path = s.dir.path().join("roster.csv");
    let header = "Идентификатор;Фамилия;Имя;Отчество;Класс\n";
    std::fs::write(&path, format!("{header}P1;Соколова;Варвара;Андреевна;1А\n")).unwrap();
    let preview = run(&mut s.ws, json!({"type": "preview_roster", "path": path}));
    let sha256 = preview["sha256"].as_str().unwrap().to_owned();
    assert_eq!(preview["can_commit"], true);

    std::fs::write(
        &path,
        format!("{header}P1;Соколова;Варвара;Андреевна;1А\nP2;Алексеев;Максим;Игоревич;1А\n"),
    )
    .unwrap();
    let journal = |ws: &Workstation| -> i64 {
        ws.store()
            .conn()
            .query_row("SELECT count(*) FROM journal", [], |r| r.get(0))
            .unwrap()
    };
    let before = journal(&s.ws);
    let err = try_run(
        &mut s.ws,
        json!({"type": "commit_roster", "path": path, "expected_sha256": sha256}),
    )
    .unwrap_err();
    assert_eq!(
        (err.code(), err.reason()),
        ("conflict", Some(Refusal::RosterChangedSincePreview))
    );
    assert_eq!(journal(&s.ws), before, "nothing was written");

    let preview = run(&mut s.ws, json!({"type": "preview_roster", "path": path}));
    let outcome = run(
        &mut s.ws,
        json!({"type": "commit_roster", "path": path, "expected_sha256": preview["sha256"]}),
    );
    assert_eq!(outcome["created"], 2);
}

#[test]
fn journal_pages_never_show_a_secret_hash() {
    let mut s = school();
    let admin_id = s.ws.session().unwrap().person_id.to_string();
    run(
        &mut s.ws,
        json!({"type": "set_staff_pin", "person_id": admin_id, "pin": "2468"}),
    );
    let page = run(&mut s.ws, json!({"type": "journal_page", "limit": 500}));
    let text = page.to_string();
    assert!(!text.contains("$argon2"), "a hash leaked: {text}");
    let redacted = |kind: &str, key: &str| {
        page.as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == kind)
            .all(|e| e["payload"][key] == REDACTED)
    };
    assert!(redacted("staff_password_set", "password_hash"));
    assert!(redacted("staff_pin_set", "pin_hash"));
    assert!(page
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["kind"] == "staff_pin_set"));
    // The rest of a payload is untouched.
    let opened = page
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "staff_account_opened" && e["payload"]["login"] == "guard");
    assert!(opened.is_some());
    // The journal itself keeps the hashes (sign-in reads them from the projection).
    let stored: String =
        s.ws.store()
            .conn()
            .query_row(
                "SELECT payload FROM journal WHERE kind = 'staff_pin_set'",
                [],
                |r| r.get(0),
            )
            .unwrap();
    assert!(stored.contains("$argon2id"));
}

#[test]
fn a_returned_card_stays_in_its_past_holders_list() {
    let mut s = school();
    let (ivanov, petrova) = (s.ivanov.clone(), s.petrova.clone());
    let cards = |ws: &mut Workstation, person: &str| -> Vec<(String, String, bool)> {
        run(ws, json!({"type": "get_person", "person_id": person}))["cards"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["card"].as_str().unwrap().to_owned(),
                    c["state"].as_str().unwrap().to_owned(),
                    c["past"].as_bool().unwrap(),
                )
            })
            .collect()
    };
    let card = "24:7EE424".to_owned();
    assert_eq!(
        cards(&mut s.ws, &ivanov),
        [(card.clone(), "active".into(), false)]
    );

    run(
        &mut s.ws,
        json!({"type": "set_card_state", "card": card, "state": "returned"}),
    );
    assert_eq!(
        cards(&mut s.ws, &ivanov),
        [(card.clone(), "returned".into(), true)]
    );
    // Re-issued to someone else: still in the first holder's past.
    run(
        &mut s.ws,
        json!({"type": "bind_card", "person_id": petrova, "card": card}),
    );
    assert_eq!(
        cards(&mut s.ws, &ivanov),
        [(card.clone(), "returned".into(), true)]
    );
    assert_eq!(
        cards(&mut s.ws, &petrova),
        [(card.clone(), "active".into(), false)]
    );
    // A new card for Ivanov lists first; leaving the school gives back all of them.
    run(
        &mut s.ws,
        json!({"type": "bind_card", "person_id": ivanov, "card": "0x55007EE425"}),
    );
    let now_held = cards(&mut s.ws, &ivanov);
    assert_eq!(
        now_held,
        [
            ("40:55007EE425".into(), "active".into(), false),
            (card.clone(), "returned".into(), true)
        ]
    );
    run(
        &mut s.ws,
        json!({"type": "set_person_status", "person_id": ivanov, "status": "left"}),
    );
    assert!(cards(&mut s.ws, &ivanov)
        .iter()
        .all(|(_, state, past)| state == "returned" && *past));
    // Given back to the stock, bound to Ivanov again after he returns: one row, current.
    run(
        &mut s.ws,
        json!({"type": "set_person_status", "person_id": ivanov, "status": "active"}),
    );
    run(
        &mut s.ws,
        json!({"type": "bind_card", "person_id": ivanov, "card": "40:55007EE425"}),
    );
    assert_eq!(
        cards(&mut s.ws, &ivanov),
        [
            ("40:55007EE425".into(), "active".into(), false),
            (card.clone(), "returned".into(), true)
        ]
    );
}

/// Rows of `card_holdings`, for comparing states.
fn holdings(ws: &Workstation) -> Vec<(String, String, String, i64, Option<i64>)> {
    let conn = ws.store().conn();
    let mut stmt = conn
        .prepare(
            "SELECT card_key, person_id, raw, bound_at_us, released_at_us FROM card_holdings
             ORDER BY card_key, person_id",
        )
        .unwrap();
    let rows = stmt
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .unwrap();
    rows.collect::<Result<_, _>>().unwrap()
}

/// A database written before migration 2 gets the card holdings its journal implies:
/// exactly what a rebuild from the journal gives.
#[test]
fn migration_2_fills_card_holdings_as_a_rebuild_would() {
    let mut s = school();
    let (ivanov, petrova) = (s.ivanov.clone(), s.petrova.clone());
    let steps = [
        json!({"type": "set_card_state", "card": "126,58404", "state": "lost"}),
        json!({"type": "set_card_state", "card": "126,58404", "state": "returned"}),
        json!({"type": "bind_card", "person_id": petrova, "card": "126,58404"}),
        json!({"type": "bind_card", "person_id": ivanov, "card": "0x55007EE425"}),
        json!({"type": "set_card_state", "card": "0x55007EE425", "state": "blocked"}),
        json!({"type": "bind_card", "person_id": ivanov, "card": "1,2"}),
        json!({"type": "set_person_status", "person_id": petrova, "status": "left"}),
        json!({"type": "set_person_status", "person_id": petrova, "status": "active"}),
        json!({"type": "bind_card", "person_id": petrova, "card": "126,58404"}),
    ];
    for step in steps {
        run(&mut s.ws, step);
    }
    let incremental = holdings(&s.ws);
    assert_eq!(incremental.len(), 4, "{incremental:?}");

    let path = s.ws.store().path().to_owned();
    drop(s.ws);
    {
        // Back to schema 1: what a database written by the previous version holds.
        let conn = rusqlite::Connection::open(&path).unwrap();
        let triggers: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'holder_changes_%'")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        for trigger in triggers {
            conn.execute_batch(&format!("DROP TRIGGER {trigger}"))
                .unwrap();
        }
        conn.execute_batch(
            "DROP TABLE canteen_settings; DROP TABLE canteen_products; DROP TABLE canteen_complexes;
             DROP TABLE canteen_menu; DROP TABLE benefit_categories; DROP TABLE benefit_grants;
             DROP TABLE canteen_bans; DROP TABLE canteen_limits; DROP TABLE canteen_pre_orders;
             DROP TABLE canteen_accounts; DROP TABLE meal_orders; DROP TABLE meal_order_lines;
             DROP TABLE meal_order_pupils; DROP TABLE meals_served; DROP TABLE canteen_sales; DROP TABLE till_shifts;
             DROP TABLE workstation_posts; DROP TABLE stocktake_scans; DROP TABLE stocktakes;
             DROP TABLE library_loans; DROP TABLE library_copies; DROP TABLE library_titles;
             DROP TABLE sync_config; DROP TABLE sync_state; DROP TABLE sync_placements; DROP TABLE sync_pulled; DROP TABLE sync_keys;
             DROP TABLE sync_cursor_marks; DROP TABLE sync_skipped; DROP TABLE sync_conflicts; DROP TABLE server_balances;
             DROP TABLE holder_changes; DROP TABLE roll_call_people; DROP TABLE roll_calls; DROP TABLE visitor_passes; DROP TABLE access_rules; DROP TABLE emergency; DROP TABLE attendance_corrections; DROP TABLE attendance_days;
             DROP TABLE presence; DROP TABLE passages; DROP TABLE local_secrets; DROP TABLE peripherals; DROP TABLE card_holdings; ALTER TABLE school DROP COLUMN demo;
             PRAGMA user_version = 1;",
        )
        .unwrap();
    }
    let mut ws = Workstation::open(&path).unwrap();
    assert_eq!(holdings(&ws), incremental, "migration 2 differs");
    ws.store_mut().rebuild_projections().unwrap();
    assert_eq!(holdings(&ws), incremental, "rebuild differs");
}
