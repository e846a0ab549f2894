//! End-to-end: the real app window under Xvfb, driven over WebDriver through
//! tauri-driver and WebKitWebDriver. Run by `make test` (it builds the app first and
//! passes its path in SCHOOLCARD_APP_BIN); ignored by a plain `cargo test`.

use fantoccini::{elements::Element, Client, ClientBuilder, Locator};
use schoolcard_core::workstation::Progress;
use schoolcard_core::Workstation;
use schoolcard_tests::webdriver::Driver;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const ADMIN_PASSWORD: &str = "e2e-password";
/// How long one step may take to show on screen (the first one includes app start).
const STEP_TIMEOUT: Duration = Duration::from_secs(30);

fn app_bin() -> PathBuf {
    let bin = std::env::var_os("SCHOOLCARD_APP_BIN")
        .expect("SCHOOLCARD_APP_BIN: the built app (make test sets it)");
    let bin = PathBuf::from(bin);
    assert!(
        bin.exists(),
        "{} does not exist: build the app first (make app)",
        bin.display()
    );
    bin
}

fn testid(id: &str) -> String {
    format!("[data-testid='{id}']")
}

/// Waits until an element with the test id shows `text` (or just exists, for "").
async fn wait_text(client: &Client, id: &str, text: &str) -> Element {
    let deadline = Instant::now() + STEP_TIMEOUT;
    let mut last = String::new();
    loop {
        if let Ok(elements) = client.find_all(Locator::Css(&testid(id))).await {
            for element in elements {
                if let Ok(t) = element.text().await {
                    if t.contains(text) {
                        return element;
                    }
                    last = t;
                }
            }
        }
        if Instant::now() > deadline {
            let page = client.source().await.unwrap_or_default();
            let shot = std::env::temp_dir().join(format!("e2e-{id}.png"));
            if let Ok(png) = client.screenshot().await {
                let _ = std::fs::write(&shot, png);
            }
            panic!(
                "no [{id}] showing {text:?} within {STEP_TIMEOUT:?} (last text {last:?}; screenshot {}); page:\n{}",
                shot.display(),
                &page[..page.len().min(4000)]
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Clicks an element, scrolled to the middle of the view first: WebKitWebDriver does not
/// reliably scroll a half-hidden control into view by itself.
async fn click(client: &Client, id: &str) {
    let element = wait_text(client, id, "").await;
    scroll_to(client, &element).await;
    element
        .click()
        .await
        .unwrap_or_else(|e| panic!("click [{id}]: {e}"));
}

async fn scroll_to(client: &Client, element: &Element) {
    let arg = serde_json::to_value(element).unwrap();
    client
        .execute("arguments[0].scrollIntoView({block: 'center'})", vec![arg])
        .await
        .expect("scrolling into view");
}

async fn type_into(client: &Client, id: &str, text: &str) {
    let field = wait_text(client, id, "").await;
    field
        .clear()
        .await
        .unwrap_or_else(|e| panic!("clear [{id}]: {e}"));
    field
        .send_keys(text)
        .await
        .unwrap_or_else(|e| panic!("type into [{id}]: {e}"));
}

#[tokio::test(flavor = "current_thread")]
#[ignore = "needs the built app, Xvfb and tauri-driver: run by `make test`"]
async fn admin_imports_a_roster_and_binds_a_card() {
    let app = app_bin();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("school.sqlite");
    {
        let mut ws = Workstation::open(&db).unwrap();
        let set_up = json!({"type": "set_up_school", "school_name": "Лицей «Держава»", "time_zone": "Europe/Moscow",
            "admin_name": {"surname": "Петрова", "name": "Елена"}, "login": "admin", "password": ADMIN_PASSWORD});
        ws.execute(
            serde_json::from_value(set_up).unwrap(),
            chrono::Utc::now(),
            &|_: Progress| {},
        )
        .unwrap();
    }
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    let bad = data.join("roster-with-error.csv");
    let good = data.join("roster.csv");

    let (driver, client) = open_app(&app, &db, false).await;

    // Sign in as the admin.
    type_into(&client, "login-input", "admin").await;
    type_into(&client, "password-input", ADMIN_PASSWORD).await;
    click(&client, "signin-submit").await;

    // A roster with one bad row: the preview names it, and nothing can be committed.
    click(&client, "nav-import").await;
    type_into(&client, "import-path", bad.to_str().unwrap()).await;
    click(&client, "import-preview").await;
    let error_row = wait_text(&client, "import-error-row", "13Я").await;
    let error_text = error_row.text().await.unwrap();
    assert!(
        error_text.contains('7'),
        "the error names row 7: {error_text:?}"
    );
    let commit_enabled = wait_text(&client, "import-commit", "")
        .await
        .is_enabled()
        .await
        .unwrap();
    assert!(
        !commit_enabled,
        "commit must be disabled while the file has errors"
    );

    // The fixed file previews clean and commits.
    type_into(&client, "import-path", good.to_str().unwrap()).await;
    click(&client, "import-preview").await;
    let deadline = Instant::now() + STEP_TIMEOUT;
    while !wait_text(&client, "import-commit", "")
        .await
        .is_enabled()
        .await
        .unwrap()
    {
        assert!(
            Instant::now() < deadline,
            "commit never became enabled for the good file"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(client
        .find_all(Locator::Css(&testid("import-error-row")))
        .await
        .unwrap()
        .is_empty());
    click(&client, "import-commit").await;
    wait_text(&client, "import-result", "30").await;

    // Find the pupil and bind a card to her by typing its number.
    click(&client, "nav-pupils").await;
    type_into(&client, "pupil-search", "Соколова").await;
    let pupil = wait_text(&client, "pupil-row", "Варвара").await;
    scroll_to(&client, &pupil).await;
    pupil.click().await.unwrap();
    type_into(&client, "bind-card-input", "126,58404").await;
    click(&client, "bind-card-submit").await;
    wait_text(&client, "person-card-row", "126").await;

    client.close().await.unwrap();
    drop(driver);

    // The journal holds it all, and the chain is intact.
    let ws = Workstation::open(&db).unwrap();
    let conn = ws.store().conn();
    let count = |kind: &str| -> i64 {
        conn.query_row(
            "SELECT count(*) FROM journal WHERE kind = ?1",
            [kind],
            |r| r.get(0),
        )
        .unwrap()
    };
    assert_eq!(count("roster_imported"), 1);
    assert_eq!(count("card_bound"), 1);
    let holder: String = conn
        .query_row(
            "SELECT p.surname || ' ' || p.name FROM cards c JOIN persons p ON p.id = c.person_id WHERE c.card_key = '24:7EE424'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(holder, "Соколова Варвара");
    assert!(schoolcard_core::journal::verify(conn).unwrap().is_intact());
}

/// Runs one core command on the test's own connection to the database.
/// A fresh demo school in a temporary folder (kept while the `TempDir` lives).
fn demo_school() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.sqlite");
    schoolcard_core::demo::ensure_demo(&db, schoolcard_core::demo::DEMO_SEED, chrono::Utc::now())
        .unwrap()
        .expect("a fresh demo school");
    (dir, db)
}

/// The app on `db` (as the demo, if asked) in a WebDriver session through tauri-driver.
async fn open_app(app: &Path, db: &Path, demo: bool) -> (Driver, Client) {
    let driver = Driver::start(&[
        ("SCHOOLCARD_DB", db.as_os_str()),
        ("SCHOOLCARD_LANG", std::ffi::OsStr::new("ru")),
    ]);
    let mut args = vec![json!("--db"), json!(db)];
    if demo {
        args.insert(0, json!("--demo"));
    }
    let caps = json!({"tauri:options": {"application": app, "args": args}});
    let client = ClientBuilder::native()
        .capabilities(caps.as_object().unwrap().clone())
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a WebDriver session with the app");
    (driver, client)
}

fn core(ws: &mut Workstation, cmd: serde_json::Value) -> serde_json::Value {
    let what = cmd.to_string();
    ws.execute(
        serde_json::from_value(cmd).unwrap(),
        chrono::Utc::now(),
        &|_: Progress| {},
    )
    .unwrap_or_else(|e| panic!("{what}: {e}"))
}

/// Polls `read` (which finds something on the page) until `ok` holds for what it found.
async fn wait_for<T, F, Fut>(what: &str, mut read: F, ok: impl Fn(&T) -> bool) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
    T: std::fmt::Debug,
{
    let deadline = Instant::now() + STEP_TIMEOUT;
    let mut last = None;
    loop {
        if let Some(value) = read().await {
            if ok(&value) {
                return value;
            }
            last = Some(value);
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not within {STEP_TIMEOUT:?} (last seen {last:?})"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A device row's state and frame count, as the Devices screen shows them now.
async fn device_row(client: &Client, device_id: &str) -> Option<(String, u64)> {
    let row = client
        .find(Locator::Css(&format!(
            "{}[data-device-id='{device_id}']",
            testid("device-row")
        )))
        .await
        .ok()?;
    let state = row.attr("data-state").await.ok()??;
    let frames = row
        .find(Locator::Css(&testid("device-frames")))
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    // «1 428»: the screen groups digits the Russian way.
    let digits: String = frames.chars().filter(char::is_ascii_digit).collect();
    Some((state, digits.parse().ok()?))
}

#[tokio::test(flavor = "current_thread")]
#[ignore = "needs the built app, Xvfb and tauri-driver: run by `make test`"]
async fn demo_simulator_presents_a_pupils_card_to_the_entrance_reader() {
    use schoolcard_core::demo;

    let app = app_bin();
    let (_dir, db) = demo_school();

    // From the generated school: a pupil whose card is active, and the entrance's
    // simulated entry reader.
    let (pupil, entrance_reader) = {
        let mut ws = Workstation::open(&db).unwrap();
        let pupil: String = ws
            .store()
            .conn()
            .query_row(
                "SELECT p.surname || ' ' || p.name FROM persons p
                 WHERE p.kind = 'pupil' AND p.status = 'active'
                   AND EXISTS (SELECT 1 FROM cards c WHERE c.person_id = p.id AND c.state = 'active')
                 ORDER BY p.surname, p.name LIMIT 1",
                [],
                |r| r.get(0),
            )
            .unwrap();
        as_demo_admin(&mut ws);
        let reader = demo_reader(&mut ws, "entrance", Some("entry"))["device_id"]
            .as_str()
            .unwrap()
            .to_owned();
        (pupil, reader)
    };
    let surname = pupil.split(' ').next().unwrap().to_owned();

    let (driver, client) = open_app(&app, &db, true).await;

    type_into(&client, "login-input", "admin").await;
    type_into(&client, "password-input", demo::DEMO_PASSWORD).await;
    click(&client, "signin-submit").await;

    // The Devices screen: the entrance reader comes online; remember its frame count.
    click(&client, "nav-devices").await;
    let (_, frames_before) = wait_for(
        "the entrance reader online",
        || device_row(&client, &entrance_reader),
        |(state, _)| state == "online",
    )
    .await;

    // The simulator presents the pupil's card on that reader.
    click(&client, "topbar-simulator").await;
    let reader_select = wait_text(&client, "sim-reader", "").await;
    reader_select
        .select_by_value(&entrance_reader)
        .await
        .expect("choosing the entrance reader");
    assert_eq!(
        reader_select.prop("value").await.unwrap().as_deref(),
        Some(entrance_reader.as_str())
    );
    type_into(&client, "sim-search", &surname).await;
    let row = wait_text(&client, "sim-pupil-row", &pupil).await;
    scroll_to(&client, &row).await;
    row.click().await.expect("clicking the pupil");

    // The card came back through the reader's line: the banner names the pupil, the
    // check panel too, and the reader counted the frame.
    wait_text(&client, "card-banner-name", &pupil).await;
    let banner = wait_text(&client, "card-banner", "").await;
    assert_eq!(
        banner.attr("data-known").await.unwrap().as_deref(),
        Some("true")
    );
    let device = wait_text(&client, "card-banner-device", "")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        device.contains("Вход"),
        "the banner names the reader: {device:?}"
    );
    wait_text(&client, "device-check-name", &pupil).await;
    wait_for(
        "the entrance reader's frame count to go up",
        || device_row(&client, &entrance_reader),
        |(state, frames)| state == "online" && *frames > frames_before,
    )
    .await;

    // A stranger's card: the banner says so, with the card's number.
    click(&client, "sim-unknown").await;
    wait_text(&client, "card-banner-unknown", "Карта не найдена").await;
    let card = wait_text(&client, "card-banner-card", "40:")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(
        card.len(),
        "40:".len() + 10,
        "a canonical 40-bit id: {card:?}"
    );

    client.close().await.unwrap();
    drop(driver);
}

/// Presses one key on whatever has the focus (the window, when nothing does).
async fn press(client: &Client, key: fantoccini::key::Key) {
    use fantoccini::actions::{InputSource, KeyAction, KeyActions};
    let value: char = key.into();
    let keys = KeyActions::new("keyboard".into())
        .then(KeyAction::Down { value })
        .then(KeyAction::Up { value });
    client.perform_actions(keys).await.expect("pressing a key");
}

/// Pupils may pass at any hour on any day: their window becomes the guard's (always, in
/// the default policy). The tests run at night and on Sundays too, when the school's own
/// hours would deny. Needs someone signed in who may configure the rules (the admin).
fn open_pupils_at_all_hours(ws: &mut Workstation) {
    let mut rules = core(ws, json!({"type": "get_access_rules"}))["rules"].clone();
    let always = rules["policy"]["role_windows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["role"] == "guard")
        .unwrap_or_else(|| panic!("the default policy lets the guard in at any hour: {rules}"))
        ["window"]
        .clone();
    rules["policy"]["pupils"] = always;
    core(
        ws,
        json!({"type": "configure_access_rules", "rules": rules}),
    );
}

#[tokio::test(flavor = "current_thread")]
#[ignore = "needs the built app, Xvfb and tauri-driver: run by `make test`"]
async fn guard_confirms_a_pupil_at_the_gate_and_unlocks_every_gate_for_a_fire() {
    use fantoccini::key::Key;
    use schoolcard_core::demo;

    let app = app_bin();
    let (_dir, db) = demo_school();

    // Before the app starts: the entrance's entry reader asks the guard, and pupils may
    // pass at any hour on any day (the test runs at night and on Sundays too, when the
    // school's own hours would deny and the guard's Enter would be an override).
    let (pupil, entrance_reader) = {
        let mut ws = Workstation::open(&db).unwrap();
        let pupil: String = ws
            .store()
            .conn()
            .query_row(
                "SELECT p.surname || ' ' || p.name FROM persons p
                 WHERE p.kind = 'pupil' AND p.status = 'active' AND p.photo_sha256 IS NOT NULL
                   AND EXISTS (SELECT 1 FROM cards c WHERE c.person_id = p.id AND c.state = 'active')
                 ORDER BY p.surname, p.name LIMIT 1",
                [],
                |r| r.get(0),
            )
            .unwrap();
        as_demo_admin(&mut ws);
        let reader = demo_reader(&mut ws, "entrance", Some("entry"));
        let reader_id = resave_device(&mut ws, &reader, |spec| {
            // Long enough for a slow CI machine to get from the card to the Enter key.
            spec["verification"] = json!({"mode": "guard", "timeout_s": 60});
        });
        open_pupils_at_all_hours(&mut ws);
        (pupil, reader_id)
    };
    let surname = pupil.split(' ').next().unwrap().to_owned();

    let (driver, client) = open_app(&app, &db, true).await;

    // The guard signs in and lands on the post.
    type_into(&client, "login-input", "guard").await;
    type_into(&client, "password-input", demo::DEMO_PASSWORD).await;
    click(&client, "signin-submit").await;
    wait_text(&client, "guard-post", "").await;
    wait_text(&client, "guard-idle", "").await;

    // The pupil's card at the entrance: the post shows who it is and asks the guard.
    click(&client, "topbar-simulator").await;
    let reader_select = wait_text(&client, "sim-reader", "").await;
    reader_select
        .select_by_value(&entrance_reader)
        .await
        .expect("choosing the entrance reader");
    type_into(&client, "sim-search", &surname).await;
    let row = wait_text(&client, "sim-pupil-row", &pupil).await;
    scroll_to(&client, &row).await;
    row.click().await.expect("clicking the pupil");
    wait_text(&client, "guard-name", &pupil).await;
    let verdict = wait_text(&client, "guard-verdict", "").await;
    assert_eq!(
        verdict.attr("data-tone").await.unwrap().as_deref(),
        Some("confirm")
    );
    let word = wait_text(&client, "guard-verdict-text", "")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        word.to_uppercase().contains("ПОДТВЕРДИТЕ"),
        "the verdict asks the guard: {word:?}"
    );
    let photo = wait_text(&client, "guard-photo", "").await;
    assert_eq!(
        photo.tag_name().await.unwrap().to_lowercase(),
        "img",
        "the pupil's photo, not initials"
    );
    wait_text(&client, "guard-countdown", "").await;

    // Enter, with the focus on nothing (the window has it): the gate opens, the
    // simulated turnstile reports the pass.
    click(&client, "sim-close").await;
    client
        .execute(
            "document.activeElement && document.activeElement.blur()",
            vec![],
        )
        .await
        .unwrap();
    press(&client, Key::Enter).await;
    wait_text(&client, "guard-outcome", "прошёл").await;
    wait_text(&client, "guard-passage-row", &pupil).await;

    // The fire button, confirmed with Enter: every gate unlocks and the banner says so.
    click(&client, "fire-button").await;
    wait_text(&client, "fire-confirm", "").await;
    press(&client, Key::Enter).await;
    wait_fire_banner(&client).await;
    wait_text(&client, "emergency-end", "").await;

    // The journal hears of an emergency unlock after the gates: give it its moment.
    wait_for(
        "the unlock in the journal",
        || async { Some(journaled(&db, "emergency_unlocked").len()) },
        |n| *n > 0,
    )
    .await;

    client.close().await.unwrap();
    drop(driver);

    // The journal holds the confirmed pass, verified by the guard, and the unlock.
    let ws = Workstation::open(&db).unwrap();
    let conn = ws.store().conn();
    let passages = journaled(&db, "passage");
    assert_eq!(passages.len(), 1, "one passage: {passages:?}");
    let passage = &passages[0];
    assert_eq!(passage["outcome"], "passed", "{passage}");
    assert_eq!(passage["verified_by"], "guard", "{passage}");
    assert_eq!(passage["allowed"], true, "{passage}");
    assert_eq!(passage["direction"], "entry", "{passage}");
    let unlocks = journaled(&db, "emergency_unlocked");
    assert_eq!(unlocks.len(), 1, "{unlocks:?}");
    let unlocked = &unlocks[0];
    assert_eq!(unlocked["source"], "button", "{unlocked}");
    assert!(
        !unlocked["gates"].as_array().unwrap().is_empty()
            && unlocked["failed"].as_array().is_none_or(|f| f.is_empty()),
        "every gate (the demo's turnstile) took the unlock: {unlocked}"
    );
    assert!(schoolcard_core::journal::verify(conn).unwrap().is_intact());
}

#[tokio::test(flavor = "current_thread")]
#[ignore = "needs the built app, Xvfb and tauri-driver: run by `make test`"]
async fn guard_lets_a_visitor_in_on_a_visitor_card_and_ticks_them_at_the_roll_call() {
    use schoolcard_core::demo;

    const VISITOR: &str = "Гостева Ирина";
    /// A card from the guard's stack of visitor cards: nobody's in the demo school.
    const VISITOR_CARD: &str = "40:00C0FFEE01";

    let app = app_bin();
    let (_dir, db) = demo_school();
    let entrance_reader = {
        let mut ws = Workstation::open(&db).unwrap();
        as_demo_admin(&mut ws);
        demo_reader(&mut ws, "entrance", Some("entry"))["device_id"]
            .as_str()
            .unwrap()
            .to_owned()
    };

    let (driver, client) = open_app(&app, &db, true).await;

    type_into(&client, "login-input", "guard").await;
    type_into(&client, "password-input", demo::DEMO_PASSWORD).await;
    click(&client, "signin-submit").await;
    wait_text(&client, "guard-post", "").await;

    // The guard issues a pass on a visitor card: until the end of the day by default.
    click(&client, "nav-visitors").await;
    click(&client, "visitor-issue").await;
    type_into(&client, "visitor-surname", "Гостева").await;
    type_into(&client, "visitor-name", "Ирина").await;
    type_into(&client, "visitor-document", "паспорт 4510 123456").await;
    type_into(&client, "visitor-visiting", "классный руководитель 5А").await;
    type_into(&client, "visitor-card", VISITOR_CARD).await;
    click(&client, "visitor-submit").await;
    let row = wait_text(&client, "visitor-row", VISITOR).await;
    assert_eq!(
        row.attr("data-inside").await.unwrap().as_deref(),
        Some("false")
    );

    // The visitor presents the card at the entrance: the post shows them let in.
    click(&client, "nav-guard").await;
    click(&client, "topbar-simulator").await;
    wait_text(&client, "sim-reader", "")
        .await
        .select_by_value(&entrance_reader)
        .await
        .expect("choosing the entrance reader");
    type_into(&client, "sim-card-input", VISITOR_CARD).await;
    click(&client, "sim-card-present").await;
    wait_text(&client, "guard-name", VISITOR).await;
    wait_text(&client, "guard-class", "Посетитель").await;
    wait_text(&client, "guard-outcome", "прошёл").await;
    click(&client, "sim-close").await;

    // The roll-call, from the post's evacuation area: the visitor is on it, and ticked.
    click(&client, "guard-roll-call").await;
    click(&client, "rollcall-start").await;
    let counters = wait_text(&client, "rollcall-counters", "Отмечено 0 из").await;
    let total = counters.attr("data-total").await.unwrap().unwrap();
    let person = wait_text(&client, "rollcall-person", VISITOR).await;
    scroll_to(&client, &person).await;
    person.click().await.expect("ticking the visitor");
    wait_text(
        &client,
        "rollcall-counters",
        &format!("Отмечено 1 из {total}"),
    )
    .await;
    assert_eq!(
        person.attr("data-present").await.unwrap().as_deref(),
        Some("true")
    );

    client.close().await.unwrap();
    drop(driver);

    // The journal: the pass, the visitor's passage through the gate, the tick.
    let ws = Workstation::open(&db).unwrap();
    let conn = ws.store().conn();
    let payloads = |kind: &str| -> Vec<serde_json::Value> {
        conn.prepare("SELECT payload FROM journal WHERE kind = ?1 ORDER BY seq")
            .unwrap()
            .query_map([kind], |r| r.get::<_, String>(0))
            .unwrap()
            .map(|p| serde_json::from_str(&p.unwrap()).unwrap())
            .collect()
    };
    let issued = payloads("visitor_pass_issued");
    assert_eq!(issued.len(), 1, "{issued:?}");
    let passages = payloads("passage");
    assert_eq!(passages.len(), 1, "one passage: {passages:?}");
    assert_eq!(passages[0]["person_id"], issued[0]["person_id"]);
    assert_eq!(passages[0]["outcome"], "passed", "{}", passages[0]);
    let marked = payloads("roll_call_marked");
    assert_eq!(marked.len(), 1, "{marked:?}");
    assert_eq!(marked[0]["person_id"], issued[0]["person_id"]);
    assert_eq!(marked[0]["present"], true);
    assert!(schoolcard_core::journal::verify(conn).unwrap().is_intact());
}

/// Signs in by login and password and waits for the workplace (its sign-out button).
async fn sign_in(client: &Client, login: &str, password: &str) {
    type_into(client, "login-input", login).await;
    type_into(client, "password-input", password).await;
    click(client, "signin-submit").await;
    wait_text(client, "signout", "").await;
}

#[tokio::test(flavor = "current_thread")]
#[ignore = "needs the built app, Xvfb and tauri-driver: run by `make test`"]
async fn guard_lets_a_pupil_through_without_a_card_and_the_director_sees_it() {
    use schoolcard_core::demo;

    const NOTE: &str = "забыл карту дома";

    let app = app_bin();
    let (_dir, db) = demo_school();
    let (pupil_id, pupil) = {
        let mut ws = Workstation::open(&db).unwrap();
        let pupil: (String, String) = ws
            .store()
            .conn()
            .query_row(
                "SELECT p.id, p.surname || ' ' || p.name FROM persons p
                 WHERE p.kind = 'pupil' AND p.status = 'active'
                 ORDER BY p.surname, p.name LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        as_demo_admin(&mut ws);
        open_pupils_at_all_hours(&mut ws);
        pupil
    };
    let surname = pupil.split(' ').next().unwrap().to_owned();

    let (driver, client) = open_app(&app, &db, true).await;

    sign_in(&client, "guard", demo::DEMO_PASSWORD).await;
    wait_text(&client, "guard-idle", "").await;

    // «Без карты»: find the pupil, the entrance's entry reader, the guard's own words.
    click(&client, "guard-without-card").await;
    type_into(&client, "without-card-search", &surname).await;
    let person = person_row(
        &client,
        "without-card-person",
        &pupil_id,
        "among the names found",
    )
    .await;
    scroll_to(&client, &person).await;
    person.click().await.expect("picking the pupil");
    wait_text(&client, "without-card-name", &pupil).await;
    let entry = client
        .wait()
        .at_most(STEP_TIMEOUT)
        .for_element(Locator::Css(&format!(
            "{}[data-direction='entry']",
            testid("without-card-reader")
        )))
        .await
        .expect("the entrance's entry reader");
    scroll_to(&client, &entry).await;
    entry.click().await.expect("choosing the entry reader");
    type_into(&client, "without-card-note", NOTE).await;
    click(&client, "without-card-confirm").await;

    // The post shows the pupil let in, with the note; the simulated turnstile reports.
    wait_text(&client, "guard-name", &pupil).await;
    wait_text(&client, "guard-note", NOTE).await;
    wait_text(&client, "guard-outcome", "прошёл").await;
    wait_text(&client, "guard-passage-row", &pupil).await;

    // The director sees it among the day's exceptions.
    click(&client, "signout").await;
    sign_in(&client, "director", demo::DEMO_PASSWORD).await;
    click(&client, "nav-exceptions").await;
    let rows = format!(
        "{} {}",
        testid("exceptions-without-card"),
        testid("exceptions-row")
    );
    let row = wait_for(
        "the pupil among the passes without a card",
        || async {
            let rows = client.find_all(Locator::Css(&rows)).await.ok()?;
            let mut texts = Vec::new();
            for row in rows {
                texts.push(row.text().await.ok()?);
            }
            Some(texts)
        },
        |texts: &Vec<String>| texts.len() == 1,
    )
    .await
    .remove(0);
    assert!(
        row.contains(&pupil) && row.contains(NOTE),
        "the row names the pupil and the note: {row:?}"
    );

    client.close().await.unwrap();
    drop(driver);

    // The journal: one passage, without a card, the guard's, with the note, passed.
    let ws = Workstation::open(&db).unwrap();
    let conn = ws.store().conn();
    let passages = journaled(&db, "passage");
    assert_eq!(passages.len(), 1, "one passage: {passages:?}");
    let passage = &passages[0];
    assert_eq!(passage["person_id"], pupil_id.as_str(), "{passage}");
    assert!(passage["card"].is_null(), "{passage}");
    assert_eq!(passage["note"], NOTE, "{passage}");
    assert_eq!(passage["verified_by"], "guard", "{passage}");
    assert_eq!(passage["outcome"], "passed", "{passage}");
    assert_eq!(passage["allowed"], true, "{passage}");
    assert_eq!(passage["direction"], "entry", "{passage}");
    assert!(schoolcard_core::journal::verify(conn).unwrap().is_intact());
}

/// The red banner of an emergency, saying it is the fire alarm.
async fn wait_fire_banner(client: &Client) {
    let banner = wait_text(client, "emergency-banner", "")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        banner.to_uppercase().contains("ПОЖАРНАЯ ТРЕВОГА"),
        "the banner: {banner:?}"
    );
}

/// The payloads of the journal's events of `kind`, oldest first, read beside the app.
fn journaled(db: &Path, kind: &str) -> Vec<serde_json::Value> {
    let Ok(conn) =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return Vec::new();
    };
    let _ = conn.busy_timeout(Duration::from_secs(5));
    let Ok(mut statement) =
        conn.prepare("SELECT payload FROM journal WHERE kind = ?1 ORDER BY seq")
    else {
        return Vec::new();
    };
    statement
        .query_map([kind], |r| r.get::<_, String>(0))
        .map(|rows| {
            rows.filter_map(|p| serde_json::from_str(&p.ok()?).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The row of `testid` for the person `person_id` (a list of names), once it is there;
/// `where_` says which list for the failure («among the names found»).
async fn person_row(client: &Client, testid_name: &str, person_id: &str, where_: &str) -> Element {
    client
        .wait()
        .at_most(STEP_TIMEOUT)
        .for_element(Locator::Css(&format!(
            "{}[data-person-id='{person_id}']",
            testid(testid_name)
        )))
        .await
        .unwrap_or_else(|e| panic!("{person_id} {where_}: {e}"))
}

/// Signs the test's own connection in as the demo's administrator.
fn as_demo_admin(ws: &mut Workstation) {
    core(
        ws,
        json!({"type": "sign_in_password", "login": "admin", "password": schoolcard_core::demo::DEMO_PASSWORD}),
    );
}

/// The demo's simulated reader of `post` (and `direction`, at the entrance), as listed.
fn demo_reader(ws: &mut Workstation, post: &str, direction: Option<&str>) -> serde_json::Value {
    let devices = core(ws, json!({"type": "list_devices"}));
    devices["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| {
            d["connection"]["type"] == "simulated_reader"
                && d["post"] == post
                && direction.is_none_or(|way| d["direction"] == way)
        })
        .unwrap_or_else(|| panic!("the demo has a simulated {post} reader: {devices}"))
        .clone()
}

/// Saves `device` (as listed) again with `change` made to its settings; its id.
fn resave_device(
    ws: &mut Workstation,
    device: &serde_json::Value,
    change: impl FnOnce(&mut serde_json::Value),
) -> String {
    let mut spec = json!({});
    for key in [
        "name",
        "post",
        "direction",
        "enabled",
        "connection",
        "gate_id",
        "verification",
    ] {
        spec[key] = device[key].clone();
    }
    change(&mut spec);
    let id = device["device_id"].as_str().unwrap().to_owned();
    core(
        ws,
        json!({"type": "save_device", "device_id": id, "device": spec}),
    );
    id
}

/// Presses `keys` (xdotool's names) on the X display the app runs on: the keyboard of the
/// machine, not the page's (WebDriver would hand them to the web view).
fn press_on_display(keys: &str) {
    let status = std::process::Command::new("xdotool")
        .args(["key", "--clearmodifiers", keys])
        .status()
        .expect("xdotool runs (installers/setup.sh installs it)");
    assert!(status.success(), "xdotool key {keys}: {status}");
}

#[tokio::test(flavor = "current_thread")]
#[ignore = "needs the built app, Xvfb and tauri-driver: run by `make test`"]
async fn the_fire_key_unlocks_every_gate_with_the_screen_frozen_and_the_database_locked() {
    use serialport::{SerialPort as _, TTYPort};
    use std::io::Read as _;

    let app = app_bin();
    let (_dir, db) = demo_school();
    // A second turnstile behind a relay board whose other end the test holds.
    let (mut board, slave) = TTYPort::pair().expect("a pseudo-terminal");
    board.set_timeout(STEP_TIMEOUT).unwrap();
    const BOARD: &str = "Турникет 2 (реле)";
    {
        let mut ws = Workstation::open(&db).unwrap();
        as_demo_admin(&mut ws);
        core(
            &mut ws,
            json!({"type": "save_device", "device": {
                "name": BOARD, "post": "entrance", "direction": null, "enabled": true,
                "connection": {"type": "relay_gate", "port": slave.name().unwrap(),
                               "entry_channel": 1, "exit_channel": 2, "pulse_ms": 200},
                "gate_id": null, "verification": {"mode": "automatic"}}}),
        );
    }
    let (driver, client) = open_app(&app, &db, true).await;
    wait_text(&client, "login-input", "").await;
    // Nobody signs in: like the button, the key needs no one. The board is open first.
    wait_for(
        "the relay board online",
        || async {
            let health = client
                .execute_async(
                    "const done = arguments[arguments.length - 1];
                     window.__TAURI_INTERNALS__.invoke('device_health').then(done, (e) => done(String(e)));",
                    vec![],
                )
                .await
                .ok()?;
            health.as_array()?.iter().find(|d| d["name"] == BOARD).cloned()
        },
        |board: &serde_json::Value| board["state"] == "online",
    )
    .await;

    // The screen frozen (its script busy for seconds) and the database held by another
    // writer, as a long import would.
    client
        .execute(
            "setTimeout(() => { const end = Date.now() + 6000; while (Date.now() < end) {} }, 0);",
            vec![],
        )
        .await
        .unwrap();
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let mut other_writer = schoolcard_core::Store::open(&db).unwrap();
    let holder = std::thread::spawn(move || {
        other_writer
            .write(|_| {
                locked_tx.send(()).unwrap();
                release_rx.recv().unwrap();
                Ok::<(), schoolcard_core::error::StoreError>(())
            })
            .unwrap();
    });
    locked_rx.recv().unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    // The key once arms it; the second time, within three seconds, unlocks.
    press_on_display("ctrl+shift+F12");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pressed = Instant::now();
    press_on_display("ctrl+shift+F12");
    let mut frames = [0u8; 8];
    board
        .read_exact(&mut frames)
        .expect("the relay board hears the unlock");
    let elapsed = pressed.elapsed();
    // Both relays closed and kept closed: the turnstile's Unlock A and B held.
    assert_eq!(
        frames,
        [0xA0, 0x01, 0x01, 0xA2, 0xA0, 0x02, 0x01, 0xA3],
        "the unlock frames"
    );
    assert!(
        elapsed < Duration::from_millis(500),
        "the gates took {elapsed:?} after the key (xdotool included)"
    );

    // The journal hears of it once the other writer lets go; the screen, thawed, says so.
    release_tx.send(()).unwrap();
    holder.join().unwrap();
    wait_fire_banner(&client).await;
    let unlocked = wait_for(
        "the unlock in the journal",
        || async { journaled(&db, "emergency_unlocked").into_iter().next() },
        |_| true,
    )
    .await;
    assert_eq!(unlocked["source"], "hotkey", "{unlocked}");
    assert_eq!(
        unlocked["gates"].as_array().map(Vec::len),
        Some(2),
        "the demo's turnstile and the relay board: {unlocked}"
    );
    client.close().await.unwrap();
    drop(driver);
    drop(slave);
}

#[tokio::test(flavor = "current_thread")]
#[ignore = "needs the built app, Xvfb and tauri-driver: run by `make test`"]
async fn cashier_serves_a_free_lunch_sells_a_bun_and_a_banned_product_is_refused() {
    use schoolcard_core::demo;

    use serialport::{SerialPort as _, TTYPort};
    use std::io::Read as _;

    let app = app_bin();
    let (_dir, db) = demo_school();
    // The canteen's receipt printer, whose other end the test holds.
    let (mut printer, printer_slave) = TTYPort::pair().expect("a pseudo-terminal");
    printer.set_timeout(Duration::from_millis(200)).unwrap();

    // Before the app starts: the canteen's simulated reader is enabled; a pupil of grades
    // 1–4 (a free lunch by law) with an active card, money, and no bans or limit yet;
    // today's menu gives a bun and another product, which the parents now ban.
    let (pupil_id, pupil, canteen_reader, bun, banned) = {
        let mut ws = Workstation::open(&db).unwrap();
        let (pupil_id, pupil): (String, String) = ws
            .store()
            .conn()
            .query_row(
                "SELECT p.id, p.surname || ' ' || p.name FROM persons p JOIN classes c ON c.id = p.class_id
                 WHERE p.kind = 'pupil' AND p.status = 'active' AND c.grade BETWEEN 1 AND 4
                   AND EXISTS (SELECT 1 FROM cards k WHERE k.person_id = p.id AND k.state = 'active')
                   AND NOT EXISTS (SELECT 1 FROM canteen_bans b WHERE b.person_id = p.id)
                   AND NOT EXISTS (SELECT 1 FROM canteen_limits l WHERE l.person_id = p.id)
                   AND (SELECT a.balance FROM canteen_accounts a WHERE a.person_id = p.id) >= 10000
                 ORDER BY p.surname, p.name LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        as_demo_admin(&mut ws);
        let reader = demo_reader(&mut ws, "canteen", None);
        let reader_id = resave_device(&mut ws, &reader, |spec| spec["enabled"] = json!(true));
        core(
            &mut ws,
            json!({"type": "save_device", "device": {
                "name": "Принтер чеков", "post": "canteen", "direction": null, "enabled": true,
                "connection": {"type": "receipt_printer", "port": printer_slave.name().unwrap(),
                               "baud_rate": 9600, "paper": "58"},
                "gate_id": null, "verification": {"mode": "automatic"}}}),
        );
        let menu = core(&mut ws, json!({"type": "day_menu"}));
        let items = menu["items"].as_array().unwrap().clone();
        let bun = items
            .iter()
            .find(|i| i["name"].as_str().unwrap().starts_with("Булочка"))
            .or_else(|| items.iter().find(|i| i["category"] == "выпечка"))
            .unwrap_or_else(|| panic!("today's demo menu sells pastry: {menu}"))
            .clone();
        let banned = items
            .iter()
            .find(|i| i["product_id"] != bun["product_id"])
            .unwrap_or_else(|| panic!("today's demo menu has two products: {menu}"))
            .clone();
        core(
            &mut ws,
            json!({"type": "set_canteen_ban", "person_id": pupil_id,
                   "target": {"kind": "product", "value": banned["product_id"]}}),
        );
        (pupil_id, pupil, reader_id, bun, banned)
    };
    let surname = pupil.split(' ').next().unwrap().to_owned();
    let bun_id = bun["product_id"].as_str().unwrap().to_owned();
    let banned_id = banned["product_id"].as_str().unwrap().to_owned();
    let banned_name = banned["name"].as_str().unwrap().to_owned();

    let (driver, client) = open_app(&app, &db, true).await;

    // The cashier's home is the till.
    sign_in(&client, "cashier", demo::DEMO_PASSWORD).await;
    wait_text(&client, "till", "").await;
    wait_text(&client, "till-idle", "").await;

    // The pupil's card at the canteen's reader brings them to the till.
    click(&client, "topbar-simulator").await;
    let reader_select = wait_text(&client, "sim-reader", "").await;
    reader_select
        .select_by_value(&canteen_reader)
        .await
        .expect("choosing the canteen reader");
    type_into(&client, "sim-search", &surname).await;
    let row = person_row(
        &client,
        "sim-pupil-row",
        &pupil_id,
        "in the simulator's list",
    )
    .await;
    scroll_to(&client, &row).await;
    row.click().await.expect("presenting the pupil's card");
    wait_text(&client, "till-name", &pupil).await;
    click(&client, "sim-close").await;

    // The free lunch: one button, served once.
    let meal = wait_text(&client, "till-meal", "").await;
    assert_eq!(
        meal.attr("data-served").await.unwrap().as_deref(),
        Some("false")
    );
    click(&client, "till-meal").await;
    let word = wait_text(&client, "till-verdict-word", "")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        word.to_uppercase().contains("ВЫДАНО"),
        "the lunch is served: {word:?}"
    );
    wait_for(
        "the lunch marked as served",
        || async {
            let meal = client.find(Locator::Css(&testid("till-meal"))).await.ok()?;
            meal.attr("data-served").await.ok()?
        },
        |served| served == "true",
    )
    .await;

    // A bun: a tile into the basket, paid; the till says how much and what is left.
    let tile = |id: &str| format!("{}[data-product-id='{id}']", testid("till-tile"));
    let bun_tile = client.find(Locator::Css(&tile(&bun_id))).await.unwrap();
    scroll_to(&client, &bun_tile).await;
    bun_tile.click().await.expect("the bun into the basket");
    wait_text(&client, "till-basket-line", bun["name"].as_str().unwrap()).await;
    click(&client, "till-pay").await;
    wait_text(&client, "till-verdict-text", "Списано").await;
    let verdict = wait_text(&client, "till-verdict", "").await;
    assert_eq!(
        verdict.attr("data-tone").await.unwrap().as_deref(),
        Some("allow")
    );
    wait_text(&client, "till-last-sale", "").await;
    // The receipt arrives at the printer: ESC/POS from its reset to its cut, the bun on it
    // in the printer's code page (PC866).
    let mut receipt = Vec::new();
    let deadline = Instant::now() + STEP_TIMEOUT;
    const CUT: [u8; 4] = [0x1D, 0x56, 0x42, 0x00];
    while !receipt.windows(CUT.len()).any(|w| w == CUT) {
        assert!(
            Instant::now() < deadline,
            "no whole receipt at the printer: {receipt:?}"
        );
        let mut chunk = [0u8; 512];
        if let Ok(n) = printer.read(&mut chunk) {
            receipt.extend_from_slice(&chunk[..n]);
        }
    }
    assert!(
        receipt.starts_with(&[0x1B, 0x40]),
        "ESC @ first: {receipt:?}"
    );
    let first_word = bun["name"].as_str().unwrap().split(' ').next().unwrap();
    let (encoded, _, _) = encoding_rs::IBM866.encode(first_word);
    assert!(
        receipt.windows(encoded.len()).any(|w| w == &encoded[..]),
        "{first_word} on the receipt"
    );

    // The banned product: its tile is marked, and paying for it is refused in words.
    let banned_tile = wait_for(
        "the banned product's tile marked",
        || async {
            let t = client.find(Locator::Css(&tile(&banned_id))).await.ok()?;
            let mark = t.attr("data-banned").await.ok()??;
            Some((t, mark))
        },
        |(_, mark)| mark == "product_banned",
    )
    .await
    .0;
    scroll_to(&client, &banned_tile).await;
    banned_tile
        .click()
        .await
        .expect("the banned product into the basket");
    wait_text(&client, "till-basket-line", &banned_name).await;
    click(&client, "till-pay").await;
    let reason = wait_text(&client, "till-verdict-text", "запретили")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        reason.contains(&banned_name),
        "the refusal names the product: {reason:?}"
    );
    let verdict = wait_text(&client, "till-verdict", "").await;
    assert_eq!(
        verdict.attr("data-tone").await.unwrap().as_deref(),
        Some("deny")
    );

    client.close().await.unwrap();
    drop(driver);
    drop(printer_slave);

    // The journal: the lunch served and the bun sold to that pupil; the refusal is no event.
    let ws = Workstation::open(&db).unwrap();
    let conn = ws.store().conn();
    let meals = journaled(&db, "meal_served");
    assert_eq!(meals.len(), 1, "one meal: {meals:?}");
    assert_eq!(meals[0]["person_id"], pupil_id.as_str(), "{}", meals[0]);
    assert!(meals[0]["overridden"].is_null(), "{}", meals[0]);
    let sales = journaled(&db, "sale_made");
    assert_eq!(sales.len(), 1, "one sale, the bun only: {sales:?}");
    let sale = &sales[0];
    assert_eq!(sale["person_id"], pupil_id.as_str(), "{sale}");
    let lines = sale["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 1, "{sale}");
    assert_eq!(lines[0]["product_id"], bun_id.as_str(), "{sale}");
    assert_eq!(lines[0]["quantity"], 1, "{sale}");
    assert_eq!(sale["total"], bun["price"], "{sale}");
    assert!(schoolcard_core::journal::verify(conn).unwrap().is_intact());
}

#[tokio::test(flavor = "current_thread")]
#[ignore = "needs the built app, Xvfb and tauri-driver: run by `make test`"]
async fn admin_adds_a_product_to_todays_menu_tops_up_a_pupil_and_sets_a_ban() {
    use schoolcard_core::demo;

    const PRODUCT: &str = "Маффин черничный";

    let app = app_bin();
    let (_dir, db) = demo_school();
    // A pupil whose surname and name no other pupil shares: the search finds them alone.
    let (person_id, query): (String, String) = {
        let ws = Workstation::open(&db).unwrap();
        ws.store()
            .conn()
            .query_row(
                "SELECT min(id), surname || ' ' || name FROM persons WHERE kind = 'pupil'
                 GROUP BY surname, name HAVING count(*) = 1 ORDER BY surname, name LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap()
    };

    let (driver, client) = open_app(&app, &db, true).await;
    sign_in(&client, "admin", demo::DEMO_PASSWORD).await;

    // A product at 45,50 ₽ with eggs in it.
    click(&client, "nav-canteen_menu").await;
    click(&client, "canteen-tab-products").await;
    type_into(&client, "canteen-product-name", PRODUCT).await;
    type_into(&client, "canteen-product-price", "45,50").await;
    type_into(&client, "canteen-product-category", "выпечка").await;
    click(&client, "canteen-allergen-eggs").await;
    click(&client, "canteen-product-save").await;
    wait_text(&client, "canteen-product-success", PRODUCT).await;
    wait_text(&client, "canteen-product-row", PRODUCT).await;

    // On today's menu, at its list price.
    click(&client, "canteen-tab-menu").await;
    let row = wait_text(&client, "canteen-menu-row", PRODUCT).await;
    scroll_to(&client, &row).await;
    row.find(Locator::Css(&testid("canteen-menu-on")))
        .await
        .expect("the row's box")
        .click()
        .await
        .unwrap();
    click(&client, "canteen-menu-save").await;
    wait_text(&client, "canteen-menu-success", "").await;

    // The pupil's canteen card: 300 ₽ topped up, eggs banned from 08:00 to 13:00.
    click(&client, "nav-canteen_pupils").await;
    type_into(&client, "canteen-pupil-search", &query).await;
    click(&client, "canteen-pupil-search-submit").await;
    let card = format!("[data-testid='canteen-pupil-card'][data-person-id='{person_id}']");
    wait_for(
        "the pupil's canteen card",
        || async { client.find(Locator::Css(&card)).await.ok() },
        |_| true,
    )
    .await;
    wait_text(&client, "canteen-balance", "").await;
    type_into(&client, "canteen-top-up-amount", "300,00").await;
    type_into(&client, "canteen-top-up-note", "наличные").await;
    click(&client, "canteen-top-up-submit").await;
    wait_text(&client, "canteen-pupil-success", "300,00").await;

    let kind = wait_text(&client, "canteen-ban-kind", "").await;
    scroll_to(&client, &kind).await;
    kind.select_by_value("allergen").await.unwrap();
    wait_text(&client, "canteen-ban-value", "")
        .await
        .select_by_value("eggs")
        .await
        .unwrap();
    type_into(&client, "canteen-ban-from", "08:00").await;
    type_into(&client, "canteen-ban-to", "13:00").await;
    click(&client, "canteen-ban-submit").await;
    wait_text(&client, "canteen-ban-row", "13:00").await;

    client.close().await.unwrap();
    drop(driver);

    // The journal: the product with its price and allergen, today's menu with it, the
    // top-up and the ban, all the pupil's.
    let products = journaled(&db, "product_saved");
    let product = &products.last().expect("a product saved")["product"];
    assert_eq!(product["name"], PRODUCT, "{product}");
    assert_eq!(product["price"], 4550, "{product}");
    assert_eq!(product["allergens"], json!(["eggs"]), "{product}");
    let menus = journaled(&db, "day_menu_set");
    let menu = menus.last().expect("a menu set");
    let ws = Workstation::open(&db).unwrap();
    let today = ws
        .store()
        .conn()
        .query_row("SELECT time_zone FROM school", [], |r| {
            r.get::<_, String>(0)
        })
        .map(|zone| {
            zone.parse::<schoolcard_core::time::SchoolTz>()
                .unwrap()
                .school_date(chrono::Utc::now())
        })
        .unwrap();
    assert_eq!(menu["school_date"], today.0.to_string(), "{menu}");
    assert!(
        menu["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["product_id"] == product["product_id"] && i["price"] == 4550),
        "the new product on today's menu at 45,50: {menu}"
    );
    let top_ups = journaled(&db, "balance_topped_up");
    let top_up = top_ups.last().expect("a top-up");
    assert_eq!(top_up["person_id"], person_id.as_str(), "{top_up}");
    assert_eq!(top_up["amount"], 30000, "{top_up}");
    assert_eq!(top_up["note"], "наличные", "{top_up}");
    let bans = journaled(&db, "canteen_ban_set");
    let ban = bans.last().expect("a ban");
    assert_eq!(ban["person_id"], person_id.as_str(), "{ban}");
    assert_eq!(
        ban["ban"]["target"],
        json!({"kind": "allergen", "value": "eggs"}),
        "{ban}"
    );
    assert_eq!(
        ban["ban"]["hours"],
        json!({"from": "08:00:00", "to": "13:00:00"}),
        "{ban}"
    );
    assert!(schoolcard_core::journal::verify(ws.store().conn())
        .unwrap()
        .is_intact());
}

/// The central server for a test of the window: started, used and stopped off the test's
/// own runtime (its pool and server live on a runtime of their own).
struct OffRuntime(Option<schoolcard_tests::central::Central>);

impl OffRuntime {
    async fn start() -> OffRuntime {
        let central = tokio::task::spawn_blocking(schoolcard_tests::central::Central::start)
            .await
            .unwrap();
        OffRuntime(Some(central))
    }

    async fn with<T: Send + 'static>(
        &mut self,
        f: impl FnOnce(&schoolcard_tests::central::Central) -> T + Send + 'static,
    ) -> T {
        let central = self.0.take().unwrap();
        let (central, value) = tokio::task::spawn_blocking(move || {
            let value = f(&central);
            (central, value)
        })
        .await
        .unwrap();
        self.0 = Some(central);
        value
    }
}

impl Drop for OffRuntime {
    fn drop(&mut self) {
        let central = self.0.take();
        let _ = std::thread::spawn(move || drop(central)).join();
    }
}

#[tokio::test(flavor = "current_thread")]
#[ignore = "needs the built app, Xvfb and tauri-driver: run by `make test`"]
async fn admin_connects_the_workstation_to_the_server_and_its_journal_reaches_it() {
    use schoolcard_core::demo;

    let app = app_bin();
    let (_dir, db) = demo_school();
    let (device, own_events): (String, i64) = {
        let ws = Workstation::open(&db).unwrap();
        let device = ws.store().device().as_str().to_owned();
        let n = ws
            .store()
            .conn()
            .query_row("SELECT count(*) FROM journal", [], |r| r.get(0))
            .unwrap();
        (device, n)
    };
    let mut central = OffRuntime::start().await;
    let (url, code) = central.with(|c| (c.url.clone(), c.code())).await;

    let (driver, client) = open_app(&app, &db, true).await;
    sign_in(&client, "admin", demo::DEMO_PASSWORD).await;
    wait_text(&client, "topbar-sync", "Автономно").await;
    click(&client, "topbar-sync").await;
    wait_text(&client, "server-standalone", "").await;
    type_into(&client, "server-url", &url).await;
    type_into(&client, "server-code", &code).await;
    type_into(&client, "server-post-name", "Вход, турникет 1").await;
    click(&client, "server-connect").await;
    wait_text(&client, "server-school", "Держава").await;

    // The worker, woken by the enrolment, pushes the whole demo journal.
    // (The app journals as it goes: a sign-in, the enrolment's own work.)
    let deadline = Instant::now() + STEP_TIMEOUT;
    loop {
        let device = device.clone();
        let held = central.with(move |c| c.held(&device)).await;
        let own_now: i64 = {
            let ws = Workstation::open(&db).unwrap();
            ws.store()
                .conn()
                .query_row("SELECT count(*) FROM journal", [], |r| r.get(0))
                .unwrap()
        };
        if held == (own_now, own_now) && own_now > own_events {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the server holds {held:?} of the workstation's {own_now} events"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    wait_for(
        "the top bar says online with nothing unsent",
        || async {
            let bar = client
                .find(Locator::Css(&testid("topbar-sync")))
                .await
                .ok()?;
            Some((bar.attr("data-state").await.ok()??, bar.text().await.ok()?))
        },
        |(state, text): &(String, String)| state == "online" && !text.contains("не отправлено"),
    )
    .await;
    wait_text(&client, "server-pending", "0").await;

    // A top-up paid through the payment sandbox arrives by the next sync.
    let person: String = {
        let ws = Workstation::open(&db).unwrap();
        ws.store()
            .conn()
            .query_row(
                "SELECT id FROM persons WHERE kind = 'pupil' ORDER BY id LIMIT 1",
                [],
                |r| r.get(0),
            )
            .unwrap()
    };
    let paid_for = person.clone();
    central.with(move |c| c.top_up(&paid_for, 12_345)).await;
    click(&client, "server-sync-now").await;
    wait_for(
        "the sandbox top-up in the workstation's journal",
        || {
            let db = db.clone();
            async move { Some(journaled(&db, "balance_topped_up")) }
        },
        |top_ups: &Vec<serde_json::Value>| {
            top_ups
                .iter()
                .any(|t| t["person_id"] == person.as_str() && t["amount"] == 12_345)
        },
    )
    .await;
    client.close().await.unwrap();
    drop(driver);
    let ws = Workstation::open(&db).unwrap();
    assert!(schoolcard_core::journal::verify(ws.store().conn())
        .unwrap()
        .is_intact());
}

#[tokio::test(flavor = "current_thread")]
#[ignore = "needs the built app, Xvfb and tauri-driver: run by `make test`"]
async fn librarian_lends_two_books_by_card_and_takes_one_back() {
    use fantoccini::key::Key;
    use schoolcard_core::demo;

    let app = app_bin();
    let (_dir, db) = demo_school();
    // A senior pupil with an active card and no book of their own yet, and two novels on
    // the shelf marked for their age; the library's reader is on.
    let (pupil_id, pupil, library_reader, copies) = {
        let mut ws = Workstation::open(&db).unwrap();
        let conn = ws.store().conn();
        let (pupil_id, pupil): (String, String) = conn
            .query_row(
                "SELECT p.id, p.surname || ' ' || p.name FROM persons p JOIN classes c ON c.id = p.class_id
                 WHERE p.kind = 'pupil' AND p.status = 'active' AND c.grade = 10
                   AND EXISTS (SELECT 1 FROM cards k WHERE k.person_id = p.id AND k.state = 'active')
                   AND NOT EXISTS (SELECT 1 FROM library_loans l WHERE l.person_id = p.id)
                 ORDER BY p.surname, p.name LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        let copies: Vec<(String, String)> = conn
            .prepare(
                "SELECT c.barcode, t.title FROM library_copies c JOIN library_titles t USING (title_id)
                 WHERE c.state = 'on_shelf' AND c.item_type = 'fiction' AND t.age_mark IN ('6+', '12+')
                 GROUP BY t.title_id ORDER BY t.title LIMIT 2",
            )
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(copies.len(), 2, "the demo shelf has two novels: {copies:?}");
        as_demo_admin(&mut ws);
        let reader = demo_reader(&mut ws, "library", None);
        let reader_id = resave_device(&mut ws, &reader, |spec| spec["enabled"] = json!(true));
        (pupil_id, pupil, reader_id, copies)
    };
    let surname = pupil.split(' ').next().unwrap().to_owned();
    let (kept, kept_title) = copies[0].clone();
    let (returned, _) = copies[1].clone();

    let (driver, client) = open_app(&app, &db, true).await;

    // The librarian's home is the desk.
    sign_in(&client, "librarian", demo::DEMO_PASSWORD).await;
    wait_text(&client, "library-prompt", "").await;

    // The pupil's card at the library's reader brings them to the desk.
    click(&client, "topbar-simulator").await;
    let reader_select = wait_text(&client, "sim-reader", "").await;
    reader_select
        .select_by_value(&library_reader)
        .await
        .expect("choosing the library's reader");
    type_into(&client, "sim-search", &surname).await;
    let row = person_row(
        &client,
        "sim-pupil-row",
        &pupil_id,
        "in the simulator's list",
    )
    .await;
    scroll_to(&client, &row).await;
    row.click().await.expect("presenting the pupil's card");
    wait_text(&client, "library-reader-name", &pupil).await;
    click(&client, "sim-close").await;
    wait_text(&client, "library-loans-none", "").await;

    // Two copies scanned (a scanner types the number and Enter) go into the basket; Enter
    // on the empty field lends them both.
    for barcode in [&kept, &returned] {
        type_into(
            &client,
            "library-barcode",
            &format!("{barcode}{}", char::from(Key::Enter)),
        )
        .await;
        wait_for(
            "the scanned copy in the basket",
            || async {
                let lines = client
                    .find_all(Locator::Css(&testid("library-basket-line")))
                    .await
                    .ok()?;
                let mut codes = Vec::new();
                for line in lines {
                    codes.push(line.attr("data-barcode").await.ok()??);
                }
                Some(codes)
            },
            |codes: &Vec<String>| codes.contains(barcode),
        )
        .await;
    }
    type_into(
        &client,
        "library-barcode",
        &char::from(Key::Enter).to_string(),
    )
    .await;
    let verdict = wait_text(&client, "library-verdict", "").await;
    wait_text(&client, "library-verdict-word", "").await;
    let word = wait_text(&client, "library-verdict-word", "")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        word.to_uppercase().contains("ВЫДАНО"),
        "both lent: {word:?}"
    );
    assert_eq!(
        verdict.attr("data-tone").await.unwrap().as_deref(),
        Some("allow")
    );
    let issued = journaled(&db, "book_issued");
    let lent: Vec<&serde_json::Value> = issued
        .iter()
        .filter(|e| e["person_id"] == pupil_id.as_str())
        .collect();
    assert_eq!(lent.len(), 2, "two loans journaled: {lent:?}");

    // Return mode (F2), and the second copy scanned back.
    press(&client, Key::F2).await;
    wait_for(
        "the desk in return mode",
        || async {
            let field = client
                .find(Locator::Css(&testid("library-barcode")))
                .await
                .ok()?;
            field.attr("data-mode").await.ok()?
        },
        |mode| mode == "return",
    )
    .await;
    type_into(
        &client,
        "library-barcode",
        &format!("{returned}{}", char::from(Key::Enter)),
    )
    .await;
    wait_text(&client, "library-verdict-text", &surname).await;
    let word = wait_text(&client, "library-verdict-word", "")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        word.to_uppercase().contains("ПРИНЯТО"),
        "the copy is back: {word:?}"
    );

    // The pupil's loans: the kept novel with its due date (two weeks), the returned one gone.
    let due = lent
        .iter()
        .find(|e| e["barcode"] == kept.as_str())
        .and_then(|e| e["due"].as_str())
        .unwrap()
        .to_owned();
    let (y, m, d) = (&due[0..4], &due[5..7], &due[8..10]);
    let shown_due = format!("{d}.{m}.{y}");
    let today = chrono::Utc::now().date_naive();
    let due_date: chrono::NaiveDate = due.parse().unwrap();
    assert!(
        (13..=15).contains(&(due_date - today).num_days()),
        "fiction for two weeks: {due}"
    );
    wait_for(
        "only the kept copy on loan, with its due date",
        || async {
            let loans = client
                .find_all(Locator::Css(&testid("library-loan")))
                .await
                .ok()?;
            let mut seen = Vec::new();
            for loan in loans {
                let barcode = loan.attr("data-barcode").await.ok()??;
                let text = loan.text().await.ok()?;
                seen.push((barcode, text));
            }
            Some(seen)
        },
        |seen: &Vec<(String, String)>| {
            seen.len() == 1
                && seen[0].0 == kept
                && seen[0].1.contains(&shown_due)
                && seen[0].1.contains(&kept_title)
        },
    )
    .await;
    assert_eq!(journaled(&db, "book_returned").len(), 1);

    client.close().await.unwrap();
    drop(driver);
    let ws = Workstation::open(&db).unwrap();
    assert!(schoolcard_core::journal::verify(ws.store().conn())
        .unwrap()
        .is_intact());
}

#[tokio::test(flavor = "current_thread")]
#[ignore = "needs the built app, Xvfb and tauri-driver: run by `make test`"]
async fn director_sees_the_school_today_and_prints_a_class_register() {
    use schoolcard_core::demo;

    let app = app_bin();
    let (dir, db) = demo_school();
    // A class and its pupils, as the register will list them.
    let (class_id, class_name, pupils, classes): (String, String, Vec<String>, usize) = {
        let conn = rusqlite::Connection::open(&db).unwrap();
        let (class_id, class_name): (String, String) = conn
            .query_row(
                "SELECT id, grade || letter FROM classes ORDER BY grade, letter LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        let pupils = conn
            .prepare(
                "SELECT surname FROM persons WHERE class_id = ?1 AND kind = 'pupil' AND status = 'active'",
            )
            .unwrap()
            .query_map([&class_id], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let classes: usize = conn
            .query_row("SELECT COUNT(*) FROM classes", [], |r| r.get(0))
            .unwrap();
        (class_id, class_name, pupils, classes)
    };
    assert!(!pupils.is_empty(), "the demo's first class has pupils");

    let (driver, client) = open_app(&app, &db, true).await;

    // The director's home is the dashboard: every class in today's table.
    sign_in(&client, "director", demo::DEMO_PASSWORD).await;
    wait_text(&client, "dashboard-present", "").await;
    let rows = wait_for(
        "every class on the dashboard",
        || async {
            Some(
                client
                    .find_all(Locator::Css(&testid("dashboard-class-row")))
                    .await
                    .ok()?
                    .len(),
            )
        },
        |n: &usize| *n == classes,
    )
    .await;
    assert_eq!(rows, classes);

    // The documents: this month's register of one class, as CSV.
    click(&client, "nav-documents").await;
    wait_text(&client, "documents-kinds", "").await;
    client
        .find(Locator::Css(
            "[data-testid='documents-kind'][data-kind='attendance_register'] input",
        ))
        .await
        .expect("the register's choice")
        .click()
        .await
        .expect("choosing the register");
    wait_text(&client, "documents-class", "")
        .await
        .select_by_value(&class_id)
        .await
        .expect("choosing the class");
    client
        .find(Locator::Css(
            "[data-testid='documents-format'][data-format='csv']",
        ))
        .await
        .expect("the CSV choice")
        .click()
        .await
        .expect("choosing CSV");
    click(&client, "documents-make").await;
    let made = wait_text(&client, "documents-made-item", "").await;
    assert_eq!(
        made.attr("data-rows").await.unwrap(),
        Some(pupils.len().to_string()),
        "a row per pupil of the class"
    );

    // The file is under reports/ beside the database: Excel's BOM, the class's pupils.
    let written: Vec<PathBuf> = std::fs::read_dir(dir.path().join("reports"))
        .expect("the reports folder")
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(written.len(), 1, "{written:?}");
    let name = written[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(
        name.starts_with("Табель") && name.contains(&class_name) && name.ends_with(".csv"),
        "{name}"
    );
    let bytes = std::fs::read(&written[0]).unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "UTF-8 with a BOM");
    let text = String::from_utf8(bytes).unwrap();
    for surname in &pupils {
        assert!(text.contains(surname.as_str()), "{surname} in\n{text}");
    }

    client.close().await.unwrap();
    drop(driver);
}

#[tokio::test(flavor = "current_thread")]
#[ignore = "needs the built app, Xvfb and tauri-driver: run by `make test`"]
async fn a_fresh_install_sets_up_the_school_and_the_canteen_till_in_the_wizard() {
    let app = app_bin();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("school.sqlite");
    let (driver, client) = open_app(&app, &db, false).await;

    // The set-up screen: the school and its first admin.
    type_into(&client, "setup-school-name", "Школа № 7").await;
    type_into(&client, "setup-surname", "Админова").await;
    type_into(&client, "setup-name", "Анна").await;
    type_into(&client, "setup-password", ADMIN_PASSWORD).await;
    type_into(&client, "setup-password2", ADMIN_PASSWORD).await;
    click(&client, "setup-submit").await;

    // The wizard: this workstation is the canteen's till.
    wait_text(&client, "first-run-post", "").await;
    client
        .find(Locator::Css(
            "[data-testid='workstation-post-option'][data-post='canteen'] input",
        ))
        .await
        .expect("the canteen's choice")
        .click()
        .await
        .expect("choosing the canteen");
    let name = wait_text(&client, "workstation-post-name", "").await;
    name.clear().await.unwrap();
    name.send_keys("Касса, 1 этаж").await.unwrap();
    click(&client, "workstation-post-save").await;

    // No server yet: standalone; the readers' step shows the devices screen itself.
    click(&client, "first-run-standalone").await;
    wait_text(&client, "first-run-devices", "").await;
    wait_text(&client, "devices-none", "").await;
    click(&client, "first-run-done").await;

    // The admin lands at the till, the post's own screen, first in the menu.
    wait_text(&client, "section-till", "").await;
    let journaled = journaled(&db, "workstation_post_set");
    assert_eq!(journaled.len(), 1, "{journaled:?}");
    assert_eq!(journaled[0]["post"], "canteen");
    assert_eq!(journaled[0]["name"], "Касса, 1 этаж");

    client.close().await.unwrap();
    drop(driver);
}
