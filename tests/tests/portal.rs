//! The parent portal in a real browser (headless Chromium through its WebDriver), against
//! the real server on a throwaway PostgreSQL and a workstation syncing with it (issue 7):
//! a parent signs in with the code the server e-mailed, sees the child's morning after
//! the workstation's sync, tops up in the payment sandbox and bans a product — and the
//! till refuses that product after its next sync.

use fantoccini::{Client, ClientBuilder, Locator};
use schoolcard_core::sync::http::{HttpTransport, Timeouts};
use schoolcard_core::sync::{enrolment, sync_once, Batches};
use schoolcard_core::{Store, Workstation};
use schoolcard_tests::central::Central;
use serde_json::{json, Value};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const STEP: Duration = Duration::from_secs(20);

/// Debian's chromedriver on a free port, stopped when dropped.
struct Chromedriver {
    child: Child,
    port: u16,
}

impl Chromedriver {
    fn start() -> Chromedriver {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian's chromium-driver): run `make test`, which installs it");
        let deadline = Instant::now() + STEP;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Chromedriver { child, port }
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A phone-sized headless Chromium.
async fn browser(driver: &Chromedriver) -> Client {
    let caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update",
                     "--disable-sync", "--window-size=412,915"],
        }
    });
    ClientBuilder::native()
        .capabilities(caps.as_object().unwrap().clone())
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a WebDriver session with Chromium")
}

/// Waits until the page's text holds `text`.
async fn wait_page(client: &Client, text: &str) -> String {
    let deadline = Instant::now() + STEP;
    loop {
        let body = match client.find(Locator::Css("body")).await {
            Ok(body) => body.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if body.contains(text) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "the page never showed {text:?}; it shows:\n{body}"
        );
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

async fn fill(client: &Client, css: &str, text: &str) {
    let field = client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"));
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

async fn press(client: &Client, css: &str) {
    client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap();
}

fn run(ws: &mut Workstation, cmd: Value) -> Value {
    let what = cmd.to_string();
    ws.execute(
        serde_json::from_value(cmd).unwrap(),
        chrono::Utc::now(),
        &|_| {},
    )
    .unwrap_or_else(|e| panic!("{what}: {e}"))
}

fn sync(ws: &mut Workstation) {
    let (enrolled, secret) = enrolment(ws.store().conn()).unwrap().unwrap();
    let device = ws.store().device().as_str().to_owned();
    let transport =
        HttpTransport::new(&enrolled.server_url, &device, &secret, Timeouts::default()).unwrap();
    sync_once(ws.store_mut(), &transport, Batches::default()).unwrap();
}

#[test]
fn a_parent_signs_in_sees_the_morning_tops_up_and_bans_juice_which_the_till_then_refuses() {
    let central = Central::start();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("school.sqlite");
    let summary = {
        let mut store = Store::open(&db).unwrap();
        let summary = schoolcard_core::demo::generate(
            &mut store,
            schoolcard_core::demo::DEMO_SEED,
            chrono::Utc::now(),
            &|_| {},
        )
        .unwrap();
        central.enrol(&mut store, &central.url);
        summary
    };
    let login = |role: &str| {
        summary
            .accounts
            .iter()
            .find(|a| {
                a.roles
                    .iter()
                    .any(|r| format!("{r:?}").to_lowercase() == role)
            })
            .unwrap()
            .login
            .clone()
    };
    let mut ws = Workstation::open(&db).unwrap();
    // A pupil whose parent has an e-mail on the roster, without bans or limits.
    let (pupil, surname, email): (String, String, String) = ws
        .store()
        .conn()
        .query_row(
            "SELECT p.id, p.surname, g.email FROM guardianship l
               JOIN persons p ON p.id = l.pupil_id JOIN persons g ON g.id = l.guardian_id
             WHERE g.email IS NOT NULL AND p.status = 'active'
               AND NOT EXISTS (SELECT 1 FROM canteen_bans b WHERE b.person_id = p.id)
               AND NOT EXISTS (SELECT 1 FROM canteen_limits m WHERE m.person_id = p.id)
             ORDER BY p.id LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    // Today's buffet has juice; the pupil came in through the turnstile this morning.
    let sign_in = |ws: &mut Workstation, who: &str| {
        let _ = ws.execute(
            serde_json::from_value(json!({"type": "sign_out"})).unwrap(),
            chrono::Utc::now(),
            &|_| {},
        );
        run(
            ws,
            json!({"type": "sign_in_password", "login": who, "password": schoolcard_core::demo::DEMO_PASSWORD}),
        );
    };
    sign_in(&mut ws, &login("admin"));
    let catalogue = run(&mut ws, json!({"type": "canteen_catalogue"}));
    let juice = catalogue["products"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["price"] == 4_500)
        .unwrap()
        .clone();
    run(
        &mut ws,
        json!({"type": "set_day_menu", "items": [{"product_id": juice["product_id"], "price": 4_500}]}),
    );
    let now = chrono::Utc::now();
    let today = now.with_timezone(&chrono_tz::Europe::Moscow).date_naive();
    let passage = json!({"passage_id": uuid::Uuid::now_v7(), "person_id": pupil, "direction": "entry",
        "school_date": today, "decided_at": now, "allowed": true, "reason": "allowed",
        "verified_by": "automatic", "outcome": "passed"});
    ws.store_mut()
        .write(|w| {
            w.append(
                "device:gate",
                now,
                schoolcard_core::events::EventBody::from_parts("passage", &passage.to_string())
                    .unwrap(),
            )
            .map(|_| ())
        })
        .unwrap();
    sync(&mut ws);
    let balance_before: i64 = ws
        .store()
        .conn()
        .query_row(
            "SELECT coalesce((SELECT balance FROM canteen_accounts WHERE person_id = ?1), 0)",
            [&pupil],
            |r| r.get(0),
        )
        .unwrap();

    let driver = Chromedriver::start();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let url = central.url.clone();
    let mail = central.mail.clone();
    runtime.block_on(async {
        let client = browser(&driver).await;
        // Sign in with the code the server e-mails to the parent on the roster.
        client.goto(&format!("{url}/portal/login")).await.unwrap();
        fill(
            &client,
            "form[action='/portal/code/request'] input[name=email]",
            &email,
        )
        .await;
        press(&client, "form[action='/portal/code/request'] button").await;
        wait_page(&client, "Код").await;
        let message = mail
            .sent()
            .into_iter()
            .rev()
            .find(|m| m.to == email)
            .expect("a code by e-mail");
        let code: String = regex::Regex::new(r"\b\d{6}\b")
            .unwrap()
            .find(&message.body_text)
            .expect("six digits")
            .as_str()
            .into();
        fill(&client, "input[name=code]", &code).await;
        press(&client, "form[action='/portal/code'] button").await;

        // The child, and this morning's entry from the workstation's sync.
        let page = wait_page(&client, &surname).await;
        assert!(page.contains("Вход"), "today's feed: {page}");

        // A top-up of 250 ₽ through the payment sandbox.
        press(&client, "a[href*='/portal/child/']").await;
        wait_page(&client, "Пополнить").await;
        let child_url = client.current_url().await.unwrap().to_string();
        fill(&client, "form[action$='/top-up'] input[name=amount]", "250").await;
        press(&client, "form[action$='/top-up'] button").await;
        wait_page(&client, "Оплатить").await;
        press(&client, "form[action^='/sandbox/pay/'] button").await;
        wait_page(&client, "succeeded").await;
        let expected = schoolcard_server::portal::rub(balance_before + 25_000);
        let deadline = Instant::now() + STEP;
        loop {
            client.goto(&child_url).await.unwrap();
            let page = wait_page(&client, "Баланс").await;
            if page.contains(&expected) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the balance never showed {expected}: {page}"
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }

        // A ban on the juice.
        let name = juice["name"].as_str().unwrap();
        let option = client
            .find(Locator::XPath(&format!(
                "//form[contains(@action, '/ban')]//option[contains(., '{name}')]"
            )))
            .await
            .unwrap_or_else(|e| panic!("the juice among the ban options: {e}"));
        option.click().await.unwrap();
        press(&client, "form[action$='/ban'] button").await;
        wait_page(&client, "Снять").await;
        client.close().await.unwrap();
    });

    // The till's next sync brings the top-up and the ban: the juice is refused.
    sync(&mut ws);
    sign_in(&mut ws, &login("cashier"));
    run(&mut ws, json!({"type": "open_shift"}));
    let refused = run(
        &mut ws,
        json!({"type": "sell_basket", "sale_id": uuid::Uuid::now_v7(), "person_id": pupil,
                                      "basket": [{"product_id": juice["product_id"], "quantity": 1}]}),
    );
    assert_eq!(refused["reason"], "product_banned", "{refused}");
    let balance_after: i64 = ws
        .store()
        .conn()
        .query_row(
            "SELECT balance FROM canteen_accounts WHERE person_id = ?1",
            [&pupil],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        balance_after,
        balance_before + 25_000,
        "the top-up reached the till"
    );
}
