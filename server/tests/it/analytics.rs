//! The municipality's and the supplier's views: figures projected from pushed journals,
//! the drill-down to a class, exports, and who may read what.

use crate::harness::{block_on, call, event, server};
use schoolcard_server::admin;
use schoolcard_server::analytics::project_pending;
use schoolcard_server::auth::Role;
use serde_json::{json, Value};

const CLASS: &str = "c1a";
const LUNCH: &str = "lunch-1-4";

/// A school day at a primary class: four entitled to the free lunch, two in by the
/// cut-off, one late arrival added after it, three lunches served.
fn school_day(origin: &str) -> Vec<schoolcard_proto::sync::WireEvent> {
    let pupil = |n: u32| format!("p{n}");
    let mut events = vec![
        (
            "class_created",
            json!({"class_id": CLASS, "grade": 1, "letter": "А"}),
        ),
        (
            "complex_saved",
            json!({"complex": {"complex_id": LUNCH, "name": "Обед 1–4", "price": 9000}}),
        ),
    ];
    for n in 1..=4 {
        events.push((
            "person_enrolled",
            json!({"person_id": pupil(n), "person_kind": "pupil",
            "name": {"surname": "Ученик", "name": "Тест"}, "class_id": CLASS}),
        ));
    }
    for n in 1..=3 {
        events.push((
            "passage",
            json!({"passage_id": format!("x{n}"), "person_id": pupil(n),
            "direction": "entry", "school_date": "2026-11-27", "decided_at": "2026-11-27T05:00:00Z",
            "allowed": true, "reason": "allowed", "verified_by": "automatic", "outcome": "passed"}),
        ));
    }
    // A denied card is not a visit.
    events.push((
        "passage",
        json!({"passage_id": "x4", "person_id": pupil(4), "direction": "entry",
        "school_date": "2026-11-27", "decided_at": "2026-11-27T05:00:00Z", "allowed": false,
        "reason": "card_blocked", "verified_by": "automatic", "outcome": "denied"}),
    ));
    events.push((
        "meal_order_made",
        json!({"school_date": "2026-11-27", "cut_off": "2026-11-27T06:30:00Z",
        "lines": [{"class_id": CLASS, "complex_id": LUNCH, "price": 9000, "payer": "municipal",
                   "entitled": 4, "pupils": [pupil(1), pupil(2)], "pre_ordered": []}]}),
    ));
    events.push((
        "meal_order_corrected",
        json!({"school_date": "2026-11-27", "class_id": CLASS,
        "complex_id": LUNCH, "person_id": pupil(3), "price": 9000, "payer": "municipal",
        "added": true, "cause": "late_arrival"}),
    ));
    for n in 1..=3 {
        events.push((
            "meal_served",
            json!({"meal_id": format!("m{n}"), "person_id": pupil(n),
            "complex_id": LUNCH, "school_date": "2026-11-27", "price": 9000, "payer": "municipal"}),
        ));
    }
    events
        .into_iter()
        .enumerate()
        .map(|(i, (kind, payload))| event(origin, i as u64 + 1, kind, payload))
        .collect()
}

#[test]
fn the_municipality_sees_attendance_meals_and_the_saving_and_each_role_only_its_part() {
    let server = server();
    let (school, other) = (server.school("Лицей «Держава»"), server.school("Школа № 2"));
    let till = server.enrol(school, "ws-lyceum");
    server.push(&till, &school_day("ws-lyceum"));
    block_on(project_pending(&server.pool)).unwrap();
    // Idempotent: a second run reads nothing new and changes nothing.
    assert_eq!(block_on(project_pending(&server.pool)).unwrap(), 0);

    let city = format!("Bearer {}", server.admin_token());
    let period = "from=2026-11-01&to=2026-11-30";
    let (status, schools) = call(
        "GET",
        &server.url(&format!("/v1/analytics/schools?{period}")),
        &[("authorization", &city)],
        None,
    );
    assert_eq!(status, 200, "{schools}");
    let lyceum = schools
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == school.to_string())
        .unwrap();
    assert_eq!(
        (
            &lyceum["pupils"],
            &lyceum["present"],
            &lyceum["entitled"],
            &lyceum["ordered"],
            &lyceum["served"],
            &lyceum["saved"]
        ),
        (
            &json!(4),
            &json!(3),
            &json!(4),
            &json!(3),
            &json!(3),
            &json!(9000)
        ),
        "{lyceum}"
    );
    let (_, classes) = call(
        "GET",
        &server.url(&format!("/v1/analytics/schools/{school}/classes?{period}")),
        &[("authorization", &city)],
        None,
    );
    assert_eq!(classes[0]["name"], "1А", "{classes}");
    assert_eq!(classes[0]["saved"], 9000);

    // Exports of the same figures.
    for (format, magic) in [
        ("csv", &b"\xEF\xBB\xBF"[..]),
        ("xlsx", b"PK"),
        ("pdf", b"%PDF"),
    ] {
        let response =
            ureq::get(&server.url(&format!("/v1/analytics/schools?{period}&format={format}")))
                .set("authorization", &city)
                .call()
                .unwrap();
        assert!(response
            .header("content-disposition")
            .unwrap()
            .contains(&format!("schools.{format}")));
        let mut bytes = vec![];
        std::io::Read::read_to_end(&mut response.into_reader(), &mut bytes).unwrap();
        assert!(bytes.starts_with(magic), "{format}");
        if format == "csv" {
            let text = String::from_utf8(bytes).unwrap();
            assert!(
                text.contains("Лицей «Держава»") && text.contains("Экономия"),
                "{text}"
            );
        }
    }

    // The analyst reads the figures and manages nothing.
    block_on(admin::create_user(
        &server.pool,
        "analyst",
        "analyst-password",
        Role::MunicipalAnalyst,
        None,
    ))
    .unwrap();
    let analyst = format!("Bearer {}", server.login("analyst", "analyst-password"));
    assert_eq!(
        call(
            "GET",
            &server.url(&format!("/v1/analytics/schools?{period}")),
            &[("authorization", &analyst)],
            None
        )
        .0,
        200
    );
    assert_eq!(
        call(
            "POST",
            &server.url(&format!("/v1/admin/schools/{school}/enrolment-codes")),
            &[("authorization", &analyst)],
            None
        )
        .0,
        403
    );
    // The other school's admin reads only their own school.
    block_on(admin::create_user(
        &server.pool,
        "head2",
        "head2-password",
        Role::SchoolAdmin,
        Some(other),
    ))
    .unwrap();
    let head2 = format!("Bearer {}", server.login("head2", "head2-password"));
    let (_, own) = call(
        "GET",
        &server.url(&format!("/v1/analytics/schools?{period}")),
        &[("authorization", &head2)],
        None,
    );
    assert_eq!(own.as_array().unwrap().len(), 1);
    assert_eq!(own[0]["id"], other.to_string());
    assert_eq!(
        call(
            "GET",
            &server.url(&format!("/v1/analytics/schools/{school}/classes?{period}")),
            &[("authorization", &head2)],
            None
        )
        .0,
        403
    );

    // The supplier sees the orders of the schools it feeds, and not the figures.
    let supplier = block_on(admin::create_user(
        &server.pool,
        "kombinat",
        "kombinat-password",
        Role::Supplier,
        None,
    ))
    .unwrap();
    let kombinat = format!("Bearer {}", server.login("kombinat", "kombinat-password"));
    let (_, none) = call(
        "GET",
        &server.url(&format!("/v1/supplier/orders?{period}")),
        &[("authorization", &kombinat)],
        None,
    );
    assert_eq!(none, json!([]));
    assert_eq!(
        call(
            "POST",
            &server.url(&format!("/v1/admin/suppliers/{supplier}/schools")),
            &[("authorization", &analyst)],
            Some(&json!({"school_id": school}))
        )
        .0,
        403
    );
    assert_eq!(
        call(
            "POST",
            &server.url(&format!("/v1/admin/suppliers/{supplier}/schools")),
            &[("authorization", &city)],
            Some(&json!({"school_id": school}))
        )
        .0,
        204
    );
    let (_, orders) = call(
        "GET",
        &server.url(&format!("/v1/supplier/orders?{period}")),
        &[("authorization", &kombinat)],
        None,
    );
    let line: &Value = &orders[0];
    assert_eq!(
        (
            &line["school"],
            &line["complex"],
            &line["at_cut_off"],
            &line["corrections"],
            &line["ordered"]
        ),
        (
            &json!("Лицей «Держава»"),
            &json!("Обед 1–4"),
            &json!(2),
            &json!(1),
            &json!(3)
        ),
        "{orders}"
    );
    assert_eq!(
        call(
            "GET",
            &server.url(&format!("/v1/analytics/schools?{period}")),
            &[("authorization", &kombinat)],
            None
        )
        .0,
        403
    );
    assert_eq!(
        call(
            "GET",
            &server.url(&format!("/v1/analytics/schools?{period}")),
            &[],
            None
        )
        .0,
        401
    );
}
