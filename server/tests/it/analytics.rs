//! The municipality's and the supplier's views: figures projected from pushed journals,
//! the drill-down to a class, exports, and who may read what.

use crate::harness::{block_on, call, school_day, server};
use schoolcard_server::admin;
use schoolcard_server::analytics::project_pending;
use schoolcard_server::auth::Role;
use serde_json::{json, Value};

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
