//! The ledger: what each money event posts, balances below zero, online top-ups.

use crate::harness::*;
use schoolcard_proto::sync::server_origin;
use schoolcard_server::payments::{SandboxProvider, SANDBOX_SIGNATURE_HEADER};
use serde_json::{json, Value};

fn balances(server: &TestServer, school: uuid::Uuid, negative: bool) -> Value {
    let bearer = format!("Bearer {}", server.admin_token());
    let answer = call(
        "GET",
        &server.url(&format!(
            "/v1/admin/schools/{school}/balances?negative={negative}"
        )),
        &[("authorization", &bearer)],
        None,
    );
    assert_eq!(answer.0, 200, "{answer:?}");
    answer.1
}

#[test]
fn sales_refunds_pre_orders_cancellations_and_top_ups_sum_into_balances() {
    let server = server();
    let school = server.school("Школа");
    let till = server.enrol(school, "ws-till");
    let office = server.enrol(school, "ws-office");
    let sale = |seq, id: &str, person: &str, total: i64| {
        event(
            "ws-till",
            seq,
            "sale_made",
            json!({"sale_id": id, "person_id": person, "school_date": "2026-09-01", "lines": [], "total": total}),
        )
    };
    let refund = |seq, id: &str, person: &str, amount: i64| {
        event(
            "ws-till",
            seq,
            "sale_refunded",
            json!({"sale_id": id, "person_id": person, "amount": amount, "reason": "ошибка"}),
        )
    };
    server.push(
        &office,
        &[
            event(
                "ws-office",
                1,
                "balance_topped_up",
                json!({"person_id": "anya", "amount": 10_000}),
            ),
            event(
                "ws-office",
                2,
                "balance_topped_up",
                json!({"person_id": "boris", "amount": 2_000}),
            ),
        ],
    );
    let answer = server.push(
        &till,
        &[
            sale(1, "s1", "anya", 4_500),
            refund(2, "s1", "anya", 4_500),
            // A second refund of the same sale posts nothing; so does a refund of no sale.
            refund(3, "s1", "anya", 4_500),
            refund(4, "no-such-sale", "anya", 999),
            event(
                "ws-till",
                5,
                "pre_order_placed",
                json!({"pre_order_id": "o1", "person_id": "anya", "price": 3_000}),
            ),
            event(
                "ws-till",
                6,
                "pre_order_cancelled",
                json!({"pre_order_id": "o1", "reason": ""}),
            ),
            event(
                "ws-till",
                7,
                "pre_order_cancelled",
                json!({"pre_order_id": "o1", "reason": ""}),
            ),
            event(
                "ws-till",
                8,
                "pre_order_placed",
                json!({"pre_order_id": "o2", "person_id": "anya", "price": 1_500}),
            ),
            // Offline, two tills sold to Boris more than he had: posted anyway.
            sale(9, "s2", "boris", 1_800),
            sale(10, "s3", "boris", 700),
            // The same sale journaled twice (another event id) posts once.
            sale(11, "s3", "boris", 700),
        ],
    );
    assert_eq!(answer.stored, 11);
    assert_eq!(
        balances(&server, school, false),
        json!([{"person_id": "anya", "balance": 8_500}, {"person_id": "boris", "balance": -500}])
    );
    assert_eq!(
        balances(&server, school, true),
        json!([{"person_id": "boris", "balance": -500}])
    );

    // The office pulls the till's events and the balances at the page's position.
    let page = server.pull(&office, 0, 100);
    assert_eq!(page.events.len(), 11);
    let of = |person: &str| {
        page.balances
            .iter()
            .find(|b| b.person_id == person)
            .cloned()
            .unwrap()
    };
    assert_eq!((of("anya").balance, of("boris").balance), (8_500, -500));
    assert_eq!(of("boris").position, answer.placements[9].global_seq);
    assert_eq!(of("anya").position, answer.placements[7].global_seq);
    // A page that ends before Boris's last sale shows his balance as of that page.
    let early = server.pull(&office, 0, 9);
    let boris = early
        .balances
        .iter()
        .find(|b| b.person_id == "boris")
        .unwrap();
    assert_eq!(
        (boris.balance, boris.position),
        (200, answer.placements[8].global_seq)
    );
}

#[test]
fn a_signed_payment_tops_up_once_and_reaches_the_workstations() {
    let server = server();
    let school = server.school("Школа");
    let till = server.enrol(school, "ws-till");
    let bearer = format!("Bearer {}", server.admin_token());
    let start = |amount: i64| {
        let answer = call(
            "POST",
            &server.url("/v1/payments"),
            &[("authorization", &bearer)],
            Some(&json!({"school_id": school, "person_id": "anya", "amount": amount})),
        );
        assert_eq!(answer.0, 201, "{answer:?}");
        answer.1
    };
    let payment = start(25_000);
    let confirmation_url = payment["confirmation_url"].as_str().unwrap();
    assert!(
        confirmation_url.starts_with(&server.url("/sandbox/pay/")),
        "{confirmation_url}"
    );
    let paid = call("POST", confirmation_url, &[], None);
    assert_eq!(
        (paid.0, &paid.1["status"], &paid.1["changed"]),
        (200, &json!("succeeded"), &json!(true))
    );
    let again = call("POST", confirmation_url, &[], None);
    assert_eq!((again.0, &again.1["changed"]), (200, &json!(false)));
    assert_eq!(
        balances(&server, school, false),
        json!([{"person_id": "anya", "balance": 25_000}])
    );

    // The provider's own callback: a bad signature changes nothing; a good one settles it
    // once, a repeat is a no-op.
    let second = start(1_000);
    let provider_payment_id = format!("sbx-{}", second["payment_id"].as_str().unwrap());
    let body = serde_json::to_string(&json!({
        "provider_payment_id": provider_payment_id, "amount": 1_000, "succeeded": true
    }))
    .unwrap();
    let post_callback = |signature: &str| {
        let response = ureq::post(&server.url("/v1/payments/callback/sandbox"))
            .set(SANDBOX_SIGNATURE_HEADER, signature)
            .set("content-type", "application/json")
            .send_string(&body);
        match response {
            Ok(response) => response.status(),
            Err(ureq::Error::Status(status, _)) => status,
            Err(error) => panic!("{error}"),
        }
    };
    let forged = SandboxProvider::new(b"not the key").sign(body.as_bytes());
    assert_eq!(post_callback(&forged), 401);
    assert_eq!(post_callback("zz"), 401);
    assert_eq!(balances(&server, school, false)[0]["balance"], 25_000);
    let signature = SandboxProvider::new(SANDBOX_KEY).sign(body.as_bytes());
    assert_eq!(post_callback(&signature), 200);
    assert_eq!(post_callback(&signature), 200);
    assert_eq!(balances(&server, school, false)[0]["balance"], 26_000);

    // Both top-ups travel to the till as server events, gap-free under the school's origin.
    let page = server.pull(&till, 0, 100);
    let origin = server_origin(&school.to_string());
    let seqs: Vec<(String, u64, String)> = page
        .events
        .iter()
        .map(|e| {
            (
                e.event.origin.clone(),
                e.event.origin_seq,
                e.event.kind.clone(),
            )
        })
        .collect();
    assert_eq!(
        seqs,
        [
            (origin.clone(), 1, "balance_topped_up".to_owned()),
            (origin, 2, "balance_topped_up".to_owned())
        ]
    );
    let payload: Value = serde_json::from_str(&page.events[0].event.payload).unwrap();
    assert_eq!(
        (payload["person_id"].clone(), payload["amount"].clone()),
        (json!("anya"), json!(25_000))
    );
    assert_eq!(page.balances[0].balance, 26_000);
}
