//! A vending controller over real HTTP on the loopback: the good path, holds between two
//! machines, replays, lapses, and every kind of bad request.
//!
//! The till behind the API here is a small book of balances, prices and bans kept in the
//! test, so that what the API itself promises (holds, replays, lapses, errors) is checked
//! apart from the canteen's rules, which have their own tests in `core`.

use chrono::Duration;
use schoolcard_vending::api::{self, Vending, BODY_BYTES_MAX};
use schoolcard_vending::ledger::Ledger;
use schoolcard_vending::machines::Machine;
use schoolcard_vending::{Denial, Quote, QuoteRequest, QuotedLine, Sale, Till, TillUnavailable};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

const KEY_GYM: &str = "6b65792d6f662d7468652d6779";
const KEY_HALL: &str = "6b65792d6f662d7468652d68616c6c";
/// Ivanov's card: 300 ₽ on his balance, chocolate banned by his parents.
const IVANOV: &str = "40:55D452E8CC";
const NOBODY: &str = "40:0000000001";

/// Kopecks in `rubles` ₽.
const fn rub(rubles: i64) -> i64 {
    rubles * 100
}

#[derive(Default)]
struct Book {
    balances: HashMap<String, i64>,
    sold: Vec<(uuid::Uuid, String, i64)>,
}

struct TestTill {
    book: Mutex<Book>,
    down: AtomicBool,
}

impl TestTill {
    fn new() -> TestTill {
        let mut book = Book::default();
        book.balances.insert("ivanov".into(), rub(300));
        TestTill {
            book: Mutex::new(book),
            down: AtomicBool::new(false),
        }
    }

    fn sold(&self) -> Vec<(uuid::Uuid, String, i64)> {
        self.book.lock().unwrap().sold.clone()
    }
}

fn price(product: &str) -> Option<(&'static str, i64)> {
    match product {
        "bun" => Some(("Булочка с маком", rub(45))),
        "juice" => Some(("Сок яблочный", rub(60))),
        "chocolate" => Some(("Шоколад молочный", rub(90))),
        _ => None,
    }
}

impl Till for TestTill {
    fn quote(
        &self,
        request: &QuoteRequest<'_>,
        held: &dyn Fn(&str) -> i64,
    ) -> Result<Result<Quote, Denial>, TillUnavailable> {
        if self.down.load(Ordering::SeqCst) {
            return Err(TillUnavailable("the database is locked".into()));
        }
        if request.card.to_string() != IVANOV {
            return Ok(Err(Denial::new("unknown_card", "the card is nobody's")));
        }
        let mut lines = Vec::new();
        for item in request.items {
            let Some((name, price)) = price(&item.product) else {
                return Ok(Err(Denial::new("unknown_product", &item.product)));
            };
            if item.product == "chocolate" {
                return Ok(Err(Denial::new("banned_product", "запрещено родителями")));
            }
            lines.push(QuotedLine {
                product: item.product.clone(),
                name: name.into(),
                category: "буфет".into(),
                quantity: item.quantity,
                price_kopecks: price,
            });
        }
        let amount: i64 = lines
            .iter()
            .map(|l| l.price_kopecks * i64::from(l.quantity))
            .sum();
        let balance = self.book.lock().unwrap().balances["ivanov"];
        if balance - held("ivanov") < amount {
            return Ok(Err(Denial::new("balance_too_low", "не хватает денег")));
        }
        Ok(Ok(Quote {
            holder: "ivanov".into(),
            lines,
            amount_kopecks: amount,
        }))
    }

    fn sell(&self, sale: &Sale<'_>) -> Result<(), TillUnavailable> {
        let mut book = self.book.lock().unwrap();
        if book.sold.iter().any(|(id, ..)| *id == sale.sale_id) {
            return Ok(());
        }
        *book.balances.get_mut(&sale.quote.holder).unwrap() -= sale.quote.amount_kopecks;
        book.sold.push((
            sale.sale_id,
            sale.machine_id.to_owned(),
            sale.quote.amount_kopecks,
        ));
        Ok(())
    }
}

/// The API on a free loopback port, on a runtime of its own; stopped when dropped.
struct Server {
    base: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// The API over the test's book of balances; the book, to look into.
    fn start(time_to_live: Duration) -> (Server, Arc<TestTill>) {
        let till = Arc::new(TestTill::new());
        (Server::serve(till.clone(), time_to_live), till)
    }

    /// The API over `till`, for the gym's and the hall's machines.
    fn serve(till: Arc<dyn Till>, time_to_live: Duration) -> Server {
        let vending = Arc::new(Vending {
            machines: vec![
                Machine::with_key("gym", "У спортзала", KEY_GYM),
                Machine::with_key("hall", "В холле", KEY_HALL),
            ],
            ledger: Ledger::new(time_to_live),
            till,
        });
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            runtime
                .block_on(api::serve(listener, vending, async {
                    let _ = stopped.await;
                }))
                .unwrap();
        });
        Server {
            base,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Sends `body` (raw) to `path` with `key`; the status and the JSON answered.
    fn post_raw(&self, path: &str, key: Option<&str>, body: &str) -> (u16, Value) {
        let mut request =
            ureq::post(&format!("{}{path}", self.base)).set("Content-Type", "application/json");
        if let Some(key) = key {
            request = request.set("Authorization", &format!("Bearer {key}"));
        }
        answer(request.send_string(body))
    }

    fn post(&self, path: &str, key: &str, body: Value) -> (u16, Value) {
        self.post_raw(path, Some(key), &body.to_string())
    }

    fn authorize(&self, key: &str, request_id: &str, card: &str, items: Value) -> (u16, Value) {
        self.post(
            "/v1/authorize",
            key,
            json!({"request_id": request_id, "card": card, "items": items}),
        )
    }

    fn settle(&self, key: &str, id: &Value, what: &str) -> (u16, Value) {
        let id = id.as_str().unwrap();
        self.post(&format!("/v1/authorizations/{id}/{what}"), key, json!({}))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn answer(result: Result<ureq::Response, ureq::Error>) -> (u16, Value) {
    let response = match result {
        Ok(response) => response,
        Err(ureq::Error::Status(_, response)) => response,
        Err(e) => panic!("no HTTP answer: {e}"),
    };
    let status = response.status();
    let body = response.into_string().unwrap();
    let value = serde_json::from_str(&body)
        .unwrap_or_else(|e| panic!("status {status}, not JSON ({e}): {body:?}"));
    (status, value)
}

fn bun() -> Value {
    json!([{"product": "bun", "quantity": 1}])
}

#[test]
fn a_basket_is_authorized_dispensed_and_sold_once() {
    let (server, till) = Server::start(Duration::seconds(30));
    let (status, health) = answer(
        ureq::get(&format!("{}/v1/health", server.base))
            .set("Authorization", &format!("Bearer {KEY_GYM}"))
            .call(),
    );
    assert_eq!(
        (status, health["machine"].as_str()),
        (200, Some("У спортзала"))
    );

    let (status, approved) = server.authorize(
        KEY_GYM,
        "req-1",
        IVANOV,
        json!([{"product": "bun", "quantity": 2}, {"product": "juice", "quantity": 1}]),
    );
    assert_eq!(status, 200, "{approved}");
    assert_eq!(approved["status"], "approved", "{approved}");
    assert_eq!(approved["amount_kopecks"], rub(150));
    assert_eq!(approved["lines"][0]["name"], "Булочка с маком");
    let id = approved["authorization_id"].clone();

    let (status, confirmed) = server.settle(KEY_GYM, &id, "confirm");
    assert_eq!(
        (status, confirmed["state"].as_str()),
        (200, Some("confirmed"))
    );
    // The reply was lost; the controller confirms again: the same answer, one sale.
    let (status, again) = server.settle(KEY_GYM, &id, "confirm");
    assert_eq!((status, again["state"].as_str()), (200, Some("confirmed")));
    let sold = till.sold();
    assert_eq!(sold.len(), 1, "{sold:?}");
    assert_eq!((sold[0].1.as_str(), sold[0].2), ("gym", rub(150)));
    assert_eq!(sold[0].0.to_string(), id.as_str().unwrap());
    // Confirmed is a sale: it cannot be cancelled.
    let (status, refused) = server.settle(KEY_GYM, &id, "cancel");
    assert_eq!(
        (status, refused["error"].as_str()),
        (409, Some("already_confirmed"))
    );
}

#[test]
fn the_rules_refuse_with_a_reason_and_a_hold_counts_at_the_other_machine() {
    let (server, till) = Server::start(Duration::seconds(30));
    let (_, banned) = server.authorize(
        KEY_GYM,
        "req-ban",
        IVANOV,
        json!([{"product": "chocolate", "quantity": 1}]),
    );
    assert_eq!(banned["status"], "denied");
    assert_eq!(banned["reason"], "banned_product");
    let (_, unknown) = server.authorize(KEY_GYM, "req-unknown", NOBODY, bun());
    assert_eq!(unknown["reason"], "unknown_card");

    // 300 ₽: the gym's machine holds 240 ₽; the hall's then cannot have 120 ₽.
    let (_, held) = server.authorize(
        KEY_GYM,
        "req-juice",
        IVANOV,
        json!([{"product": "juice", "quantity": 4}]),
    );
    assert_eq!(held["status"], "approved", "{held}");
    let (_, short) = server.authorize(
        KEY_HALL,
        "req-hall",
        IVANOV,
        json!([{"product": "juice", "quantity": 2}]),
    );
    assert_eq!(short["reason"], "balance_too_low", "{short}");
    // The gym's basket was not dispensed: cancelled, the hold is gone.
    let (status, cancelled) = server.settle(KEY_GYM, &held["authorization_id"], "cancel");
    assert_eq!(
        (status, cancelled["state"].as_str()),
        (200, Some("cancelled"))
    );
    let (_, now_fits) = server.authorize(
        KEY_HALL,
        "req-hall-2",
        IVANOV,
        json!([{"product": "juice", "quantity": 2}]),
    );
    assert_eq!(now_fits["status"], "approved", "{now_fits}");
    // A cancelled authorization is not confirmed later, and nothing was sold.
    let (status, late) = server.settle(KEY_GYM, &held["authorization_id"], "confirm");
    assert_eq!(
        (status, late["error"].as_str()),
        (409, Some("already_cancelled"))
    );
    assert!(till.sold().is_empty());
}

#[test]
fn a_replayed_request_gets_its_first_answer_and_never_a_second_hold() {
    let (server, till) = Server::start(Duration::seconds(30));
    let items = json!([{"product": "juice", "quantity": 3}]);
    let (_, first) = server.authorize(KEY_GYM, "req-7", IVANOV, items.clone());
    let (_, replay) = server.authorize(KEY_GYM, "req-7", IVANOV, items.clone());
    assert_eq!(first["authorization_id"], replay["authorization_id"]);
    // 300 − 180 held once: 120 ₽ still fits (held twice, it would not).
    let (_, fits) = server.authorize(
        KEY_GYM,
        "req-8",
        IVANOV,
        json!([{"product": "juice", "quantity": 2}]),
    );
    assert_eq!(fits["status"], "approved", "{fits}");
    // The same id for another basket is refused; another machine's same id is its own.
    let (status, reused) = server.authorize(KEY_GYM, "req-7", IVANOV, bun());
    assert_eq!(
        (status, reused["error"].as_str()),
        (409, Some("request_id_reused"))
    );
    let (status, other) = server.authorize(KEY_HALL, "req-7", NOBODY, bun());
    assert_eq!(
        (status, other["reason"].as_str()),
        (200, Some("unknown_card"))
    );
    // A replay after confirmation tells the authorization as it stands.
    server.settle(KEY_GYM, &first["authorization_id"], "confirm");
    let (_, after) = server.authorize(KEY_GYM, "req-7", IVANOV, items);
    assert_eq!(after["state"], "confirmed", "{after}");
    assert_eq!(till.sold().len(), 1);
}

#[test]
fn an_authorization_not_confirmed_in_time_lapses_and_releases_its_hold() {
    let (server, till) = Server::start(Duration::milliseconds(300));
    let (_, held) = server.authorize(
        KEY_GYM,
        "req-slow",
        IVANOV,
        json!([{"product": "juice", "quantity": 5}]),
    );
    assert_eq!(held["status"], "approved");
    std::thread::sleep(std::time::Duration::from_millis(450));
    let (status, lapsed) = server.settle(KEY_GYM, &held["authorization_id"], "confirm");
    assert_eq!((status, lapsed["error"].as_str()), (410, Some("expired")));
    let (_, fits) = server.authorize(
        KEY_HALL,
        "req-after",
        IVANOV,
        json!([{"product": "juice", "quantity": 5}]),
    );
    assert_eq!(fits["status"], "approved", "{fits}");
    assert!(till.sold().is_empty());
}

#[test]
fn bad_requests_are_refused_with_a_clear_error_and_change_nothing() {
    let (server, till) = Server::start(Duration::seconds(30));
    let body =
        |items: Value| json!({"request_id": "r", "card": IVANOV, "items": items}).to_string();
    let cases: Vec<(&str, Option<&str>, String, u16, &str)> = vec![
        ("no key", None, body(bun()), 401, "unauthorized"),
        (
            "a wrong key",
            Some("not-a-key"),
            body(bun()),
            401,
            "unauthorized",
        ),
        (
            "not JSON",
            Some(KEY_GYM),
            "{items".into(),
            400,
            "bad_request",
        ),
        (
            "an unknown field",
            Some(KEY_GYM),
            json!({"request_id": "r", "card": IVANOV, "items": bun(), "price": 1}).to_string(),
            400,
            "bad_request",
        ),
        (
            "a card that is no card",
            Some(KEY_GYM),
            json!({"request_id": "r", "card": "карта", "items": bun()}).to_string(),
            400,
            "bad_request",
        ),
        (
            "a request id with spaces",
            Some(KEY_GYM),
            json!({"request_id": "r 1", "card": IVANOV, "items": bun()}).to_string(),
            400,
            "bad_request",
        ),
        (
            "an empty basket",
            Some(KEY_GYM),
            body(json!([])),
            400,
            "bad_request",
        ),
        (
            "no pieces",
            Some(KEY_GYM),
            body(json!([{"product": "bun", "quantity": 0}])),
            400,
            "bad_request",
        ),
        (
            "a body too large",
            Some(KEY_GYM),
            body(json!([{"product": "x".repeat(BODY_BYTES_MAX), "quantity": 1}])),
            413,
            "",
        ),
    ];
    for (what, key, body, status, code) in cases {
        let response = {
            let mut request = ureq::post(&format!("{}/v1/authorize", server.base))
                .set("Content-Type", "application/json");
            if let Some(key) = key {
                request = request.set("Authorization", &format!("Bearer {key}"));
            }
            match request.send_string(&body) {
                Ok(r) => r,
                Err(ureq::Error::Status(_, r)) => r,
                Err(e) => panic!("{what}: {e}"),
            }
        };
        assert_eq!(response.status(), status, "{what}");
        if !code.is_empty() {
            let answer: Value = serde_json::from_str(&response.into_string().unwrap()).unwrap();
            assert_eq!(answer["error"], code, "{what}: {answer}");
            assert!(!answer["message"].as_str().unwrap().is_empty(), "{what}");
        }
    }
    // Unknown authorizations, and another machine's, are not found.
    let (status, _) = server.settle(KEY_GYM, &json!("not-a-uuid"), "confirm");
    assert_eq!(status, 404);
    let (_, hall) = server.authorize(KEY_HALL, "req-h", IVANOV, bun());
    let (status, theirs) = server.settle(KEY_GYM, &hall["authorization_id"], "confirm");
    assert_eq!((status, theirs["error"].as_str()), (404, Some("not_found")));

    // The till cannot be asked: nothing decided, nothing held.
    till.down.store(true, Ordering::SeqCst);
    let (status, down) = server.authorize(KEY_GYM, "req-down", IVANOV, bun());
    assert_eq!(
        (status, down["error"].as_str()),
        (503, Some("till_unavailable"))
    );
    till.down.store(false, Ordering::SeqCst);
    let (_, retried) = server.authorize(KEY_GYM, "req-down", IVANOV, bun());
    assert_eq!(retried["status"], "approved", "{retried}");
    assert!(till.sold().is_empty());
}

/// The machines over the school's own books: the canteen's prices, the parents' bans and
/// the balance decide as at the till, and a confirmed basket is the machine's sale in the
/// journal.
#[test]
fn the_schools_own_books_decide_as_at_the_till_and_keep_the_machines_sales() {
    use schoolcard_core::Workstation;
    use schoolcard_vending::core_till::CoreTill;

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("school.sqlite");
    let now = chrono::Utc::now();
    let mut ws = Workstation::open(&db).unwrap();
    let mut run = |command: Value| -> Value {
        ws.execute(
            serde_json::from_value(command.clone()).unwrap(),
            now,
            &|_| {},
        )
        .unwrap_or_else(|e| panic!("{command}: {e}"))
    };
    run(
        json!({"type": "set_up_school", "school_name": "Лицей «Держава»", "time_zone": "Europe/Moscow",
               "admin_name": {"surname": "Админова", "name": "Анна"}, "login": "admin", "password": "correct horse"}),
    );
    run(json!({"type": "sign_in_password", "login": "admin", "password": "correct horse"}));
    let class = run(json!({"type": "create_class", "name": "7В"}))["id"].clone();
    let pupil = run(json!({"type": "enrol_pupil", "class_id": class,
                           "name": {"surname": "Иванов", "name": "Пётр"}}))["person"]["id"]
        .clone();
    run(json!({"type": "bind_card", "person_id": pupil, "card": IVANOV}));
    let product = |run: &mut dyn FnMut(Value) -> Value, name: &str, category: &str, price: i64| {
        run(json!({"type": "save_product", "name": name, "price": price, "category": category}))
            ["product"]["product_id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let bun = product(&mut run, "Булочка с маком", "выпечка", rub(45));
    let chocolate = product(&mut run, "Шоколад молочный", "сладости", rub(90));
    run(json!({"type": "set_day_menu", "items": [
        {"product_id": bun, "price": rub(40)}, {"product_id": chocolate, "price": rub(90)}]}));
    run(json!({"type": "top_up_balance", "person_id": pupil, "amount": rub(150)}));
    run(json!({"type": "set_canteen_ban", "person_id": pupil,
               "target": {"kind": "product", "value": chocolate}}));
    drop(ws);

    let server = Server::serve(
        Arc::new(CoreTill::open(&db).unwrap()),
        Duration::seconds(30),
    );
    let basket = |product: &str, quantity: u32| json!([{"product": product, "quantity": quantity}]);
    // The day's price, not the list price.
    let (_, buns) = server.authorize(KEY_GYM, "g-1", IVANOV, basket(&bun, 2));
    assert_eq!(buns["status"], "approved", "{buns}");
    assert_eq!(buns["amount_kopecks"], rub(80));
    assert_eq!(buns["lines"][0]["name"], "Булочка с маком");
    // The parents' ban, in the till's words.
    let (_, banned) = server.authorize(KEY_HALL, "h-1", IVANOV, basket(&chocolate, 1));
    assert_eq!(banned["reason"], "product_banned", "{banned}");
    assert_eq!(banned["message"], "Запрещено родителями");
    // 150 ₽ less the 80 ₽ held: three more buns (120 ₽) do not fit, one does.
    let (_, short) = server.authorize(KEY_HALL, "h-2", IVANOV, basket(&bun, 3));
    assert_eq!(short["reason"], "insufficient_balance", "{short}");
    let (_, one) = server.authorize(KEY_HALL, "h-3", IVANOV, basket(&bun, 1));
    assert_eq!(one["status"], "approved", "{one}");
    // A product the school does not have, and a card nobody holds.
    let (_, unknown) = server.authorize(KEY_GYM, "g-2", IVANOV, basket("кола", 1));
    assert_eq!(unknown["reason"], "not_on_menu", "{unknown}");
    let (_, nobody) = server.authorize(KEY_GYM, "g-3", NOBODY, basket(&bun, 1));
    assert_eq!(nobody["reason"], "unknown_card", "{nobody}");

    // The gym's buns dispensed: the machine's sale, once, however often confirmed.
    server.settle(KEY_GYM, &buns["authorization_id"], "confirm");
    server.settle(KEY_GYM, &buns["authorization_id"], "confirm");
    server.settle(KEY_HALL, &one["authorization_id"], "cancel");
    drop(server);
    let ws = Workstation::open(&db).unwrap();
    let conn = ws.store().conn();
    let (sales, actor): (i64, String) = conn
        .query_row(
            "SELECT count(*), min(actor) FROM journal WHERE kind = 'sale_made'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((sales, actor.as_str()), (1, "vending:gym"));
    let balance: i64 = conn
        .query_row("SELECT balance FROM canteen_accounts", [], |r| r.get(0))
        .unwrap();
    assert_eq!(balance, rub(70));
    assert!(schoolcard_core::journal::verify(conn).unwrap().is_intact());
}
