//! Enrolment with one-time codes, device credentials, revocation, version negotiation,
//! health.

use crate::harness::*;
use schoolcard_proto::sync::{ErrorCode, VersionInfo, PROTOCOL_HEADER};
use serde_json::json;

#[test]
fn a_code_enrols_once_and_a_revoked_device_is_refused_at_its_next_call() {
    let server = server();
    let token = server.admin_token();
    let bearer = format!("Bearer {token}");
    let school = call(
        "POST",
        &server.url("/v1/admin/schools"),
        &[("authorization", &bearer)],
        Some(&json!({"name": "Лицей «Держава»", "time_zone": "Europe/Moscow"})),
    );
    assert_eq!(school.0, 201, "{school:?}");
    let school_id = school.1["id"].as_str().unwrap().to_owned();

    let code = call(
        "POST",
        &server.url(&format!("/v1/admin/schools/{school_id}/enrolment-codes")),
        &[("authorization", &bearer)],
        None,
    );
    assert_eq!(code.0, 201, "{code:?}");
    let code = code.1["code"].as_str().unwrap().to_owned();
    assert!(
        code.len() == 14 && code.split('-').all(|group| group.len() == 4),
        "three groups of four: {code}"
    );

    let enrol = |code: &str, device: &str| {
        call(
            "POST",
            &server.url("/v1/enrol"),
            &[],
            Some(
                &json!({"code": code, "device_id": device, "name": "Вход", "app_version": "0.1.0"}),
            ),
        )
    };
    // Typed in lower case with spaces: the same code.
    let typed = code.to_lowercase().replace('-', " ");
    let first = enrol(&typed, "ws-entrance");
    assert_eq!(first.0, 200, "{first:?}");
    assert_eq!(first.1["school_name"], "Лицей «Держава»");
    assert_eq!(first.1["school_id"], school_id.as_str());
    let device = Credential {
        device_id: "ws-entrance".into(),
        secret: first.1["secret"].as_str().unwrap().to_owned(),
    };

    let again = enrol(&code, "ws-other");
    assert_eq!(
        (again.0, error_of(&again).code),
        (410, ErrorCode::CodeExpired)
    );
    let wrong = enrol("AAAA-BBBB-CCCC", "ws-other");
    assert_eq!(
        (wrong.0, error_of(&wrong).code),
        (401, ErrorCode::Unauthorized)
    );

    assert_eq!(server.pull(&device, 0, 10).cursor, 0);
    let wrong_secret = Credential {
        secret: "00".repeat(32),
        ..device.clone()
    };
    assert_eq!(
        server
            .sync_call(&wrong_secret, "GET", "/v1/sync/pull?after=0", None)
            .0,
        401
    );

    let devices = call(
        "GET",
        &server.url(&format!("/v1/admin/schools/{school_id}/devices")),
        &[("authorization", &bearer)],
        None,
    );
    assert_eq!(devices.0, 200);
    assert_eq!(devices.1[0]["id"], "ws-entrance");
    assert!(
        devices.1[0]["last_seen_at"].is_string(),
        "the pull was seen: {devices:?}"
    );
    assert_eq!(devices.1[0]["protocol_version"], 1);

    let revoked = call(
        "POST",
        &server.url("/v1/admin/devices/ws-entrance/revoke"),
        &[("authorization", &bearer)],
        None,
    );
    assert_eq!(revoked.0, 204, "{revoked:?}");
    let refused = server.sync_call(&device, "GET", "/v1/sync/pull?after=0", None);
    assert_eq!(
        (refused.0, error_of(&refused).code),
        (401, ErrorCode::Unauthorized)
    );
    let refused = server.push_raw(&device, 0, &passages("ws-entrance", 1, 1));
    assert_eq!(refused.0, 401);

    // A new code from the school lets the same workstation back in with a new secret;
    // the old secret stays refused.
    let again = server.enrol(school_id.parse().unwrap(), "ws-entrance");
    assert_ne!(again.secret, device.secret);
    assert_eq!(server.pull(&again, 0, 10).cursor, 0);
    assert_eq!(
        server
            .sync_call(&device, "GET", "/v1/sync/pull?after=0", None)
            .0,
        401
    );
    // One origin belongs to one school.
    let other_school = server.school("Другая школа");
    let code = schoolcard_server::admin::issue_enrolment_code(&server.pool, other_school, None);
    let code = block_on(code).unwrap().code;
    let taken = enrol(&code, "ws-entrance");
    assert_eq!(
        (taken.0, error_of(&taken).code),
        (403, ErrorCode::Forbidden)
    );
    let server_origin = enrol(&code, "srv-0190");
    assert_eq!(server_origin.0, 400);
}

#[test]
fn a_school_admin_manages_only_their_own_school() {
    let server = server();
    let bearer = format!("Bearer {}", server.admin_token());
    let own = server.school("Школа 1");
    let other = server.school("Школа 2");
    let created = call(
        "POST",
        &server.url(&format!("/v1/admin/schools/{own}/admins")),
        &[("authorization", &bearer)],
        Some(&json!({"login": "director1", "password": "director-password"})),
    );
    assert_eq!(created.0, 201, "{created:?}");
    let director = format!("Bearer {}", server.login("director1", "director-password"));
    let code_at = |school: uuid::Uuid| {
        call(
            "POST",
            &server.url(&format!("/v1/admin/schools/{school}/enrolment-codes")),
            &[("authorization", &director)],
            None,
        )
        .0
    };
    assert_eq!(code_at(own), 201);
    assert_eq!(code_at(other), 403);
    let school = call(
        "POST",
        &server.url("/v1/admin/schools"),
        &[("authorization", &director)],
        Some(&json!({"name": "x", "time_zone": "Europe/Moscow"})),
    );
    assert_eq!(school.0, 403);
    let listed = call(
        "GET",
        &server.url("/v1/admin/schools"),
        &[("authorization", &director)],
        None,
    );
    assert_eq!(listed.1.as_array().unwrap().len(), 1);
    let no_token = call("GET", &server.url("/v1/admin/schools"), &[], None);
    assert_eq!(no_token.0, 401);
    let bad_login = call(
        "POST",
        &server.url("/v1/auth/login"),
        &[],
        Some(&json!({"login": "director1", "password": "wrong"})),
    );
    assert_eq!(bad_login.0, 401);
}

#[test]
fn an_older_protocol_gets_426_in_plain_words_and_one_version_back_still_syncs() {
    let server = server();
    let school = server.school("Школа");
    let device = server.enrol(school, "ws-till");
    let push_as = |version: Option<&str>| {
        let authorization = device.authorization();
        let mut headers = vec![("authorization", authorization.as_str())];
        if let Some(version) = version {
            headers.push((PROTOCOL_HEADER, version));
        }
        let request = json!({"origin": "ws-till", "seen_through": 0, "events": []});
        call(
            "POST",
            &server.url("/v1/sync/push"),
            &headers,
            Some(&request),
        )
    };
    let old = push_as(Some("0"));
    assert_eq!(
        (old.0, error_of(&old).code),
        (426, ErrorCode::ProtocolTooOld)
    );
    let message = error_of(&old).message;
    assert!(
        message.contains("version 0") && message.contains("versions 1 to 1"),
        "{message}"
    );
    let newer = push_as(Some("2"));
    assert_eq!(newer.0, 400);
    assert!(
        error_of(&newer).message.contains("newer than this server"),
        "{newer:?}"
    );
    assert_eq!(push_as(None).0, 400);
    assert_eq!(push_as(Some("1")).0, 200);

    // A server of the next protocol still serves version 1.
    let next = server_with(|state| state.with_protocol_range(1, 2));
    let version: VersionInfo =
        serde_json::from_value(call("GET", &next.url("/v1/version"), &[], None).1).unwrap();
    assert_eq!(
        (version.protocol_version, version.oldest_supported_protocol),
        (2, 1)
    );
    let school = next.school("Школа");
    let writer = next.enrol(school, "ws-a");
    let reader = next.enrol(school, "ws-b");
    assert_eq!(next.push(&writer, &passages("ws-a", 1, 3)).acked_through, 3);
    assert_eq!(next.pull(&reader, 0, 10).events.len(), 3);
    let authorization = reader.authorization();
    let too_old = call(
        "GET",
        &next.url("/v1/sync/pull?after=0"),
        &[("authorization", &authorization), (PROTOCOL_HEADER, "0")],
        None,
    );
    assert_eq!(too_old.0, 426);
    assert!(
        error_of(&too_old).message.contains("versions 1 to 2"),
        "{too_old:?}"
    );
}

#[test]
fn health_and_readiness() {
    let server = server();
    assert_eq!(call("GET", &server.url("/healthz"), &[], None).0, 200);
    assert_eq!(call("GET", &server.url("/readyz"), &[], None).0, 200);
    // A server over a database without the migrations is alive but not ready.
    let bare = block_on(async {
        let url = schoolcard_server::db::create_database(&server.admin_url, "bare_for_readyz")
            .await
            .unwrap();
        let pool = schoolcard_server::db::connect(&url).await.unwrap();
        schoolcard_server::http::spawn(schoolcard_server::AppState::new(pool), "127.0.0.1:0")
            .await
            .unwrap()
    });
    assert_eq!(
        call("GET", &format!("{}/healthz", bare.url), &[], None).0,
        200
    );
    let not_ready = call("GET", &format!("{}/readyz", bare.url), &[], None);
    assert_eq!(
        (not_ready.0, error_of(&not_ready).code),
        (503, ErrorCode::Unavailable)
    );
}
