//! «Кабинет», the staff pages, over real HTTP with cookies by hand: a school day pushed by
//! a till and projected, then each role signs in and sees exactly its part — the pages
//! scoped as the JSON API is, the exports of the same period, CSRF on sign-out.

use schoolcard_server::admin;
use schoolcard_server::analytics::project_pending;
use schoolcard_server::auth::Role;
use schoolcard_server::portal::auth::PER_EMAIL_BURST;

use crate::harness::*;

const PERIOD: &str = "from=2026-11-01&to=2026-11-30";
const SCHOOL: &str = "Лицей «Держава»";
const OTHER: &str = "Школа № 2";

fn office_server() -> TestServer {
    server_with(|state| {
        state.with_portal(
            std::sync::Arc::new(schoolcard_server::mail::Memory::default()),
            false,
        )
    })
}

/// Signs in through the form; answers the page the redirect leads to.
fn sign_in(server: &TestServer, login: &str, password: &str) -> (Browser, Page) {
    let mut browser = Browser::new(server);
    let form = browser.get("/office/login");
    assert_eq!(form.status, 200, "{}", form.body);
    let pre = form.field("pre");
    let signed = browser.post(
        "/office/login",
        &[("login", login), ("password", password), ("pre", &pre)],
    );
    assert_eq!(signed.status, 303, "{}", signed.body);
    assert_eq!(signed.location, "/office");
    assert!(
        browser.cookies.iter().any(|(name, _)| name == "sc_office"),
        "{:?}",
        browser.cookies
    );
    let home = browser.get(&format!("/office?{PERIOD}"));
    assert_eq!(home.status, 200, "{}", home.body);
    (browser, home)
}

fn user(server: &TestServer, login: &str, role: Role, school: Option<uuid::Uuid>) -> uuid::Uuid {
    block_on(admin::create_user(
        &server.pool,
        login,
        &format!("{login}-password"),
        role,
        school,
    ))
    .unwrap()
}

/// The body of a GET as bytes, and its content type.
fn download(browser: &Browser, path: &str) -> (u16, String, Vec<u8>) {
    let result = browser
        .agent
        .get(&format!("{}{path}", browser.base))
        .set("cookie", &browser.cookie_header())
        .call();
    let response = match result {
        Ok(response) => response,
        Err(ureq::Error::Status(_, response)) => response,
        Err(error) => panic!("{error}"),
    };
    let status = response.status();
    let content_type = response
        .header("content-type")
        .unwrap_or_default()
        .to_owned();
    let mut bytes = vec![];
    std::io::Read::read_to_end(&mut response.into_reader(), &mut bytes).unwrap();
    (status, content_type, bytes)
}

#[test]
fn office_each_role_sees_its_part_of_a_projected_school_day() {
    let server = office_server();
    let (school, other) = (server.school(SCHOOL), server.school(OTHER));
    let till = server.enrol(school, "ws-lyceum");
    server.push(&till, &school_day("ws-lyceum"));
    block_on(project_pending(&server.pool)).unwrap();

    // The municipal admin: the table by school, the drill-down, the exports.
    let (mut city, home) = sign_in(&server, ADMIN_LOGIN, ADMIN_PASSWORD);
    for page in [&home, &city.get("/office/login")] {
        assert_eq!(page.header("cache-control"), Some("no-store"));
        assert!(page.header("content-security-policy").is_some());
    }
    let row = table_row(&home.body, SCHOOL);
    assert_eq!(row, ["4", "3", "4", "3", "3", "90 ₽"], "{}", home.body);
    assert!(home.body.contains("Итого") && home.body.contains(OTHER));
    assert!(
        !home.body.contains("Тест"),
        "no pupil's name: {}",
        home.body
    );
    let drill = format!("/office/school/{school}?{PERIOD}");
    assert!(
        home.body.contains(&drill.replace('&', "&#38;")),
        "{}",
        home.body
    );
    let classes = city.get(&drill);
    assert_eq!(classes.status, 200, "{}", classes.body);
    assert_eq!(
        table_row(&classes.body, "1А"),
        ["4", "3", "4", "3", "3", "90 ₽"]
    );
    for (path, magic) in [
        (
            format!("/office/export/schools?{PERIOD}&format=csv"),
            &b"\xEF\xBB\xBF"[..],
        ),
        (
            format!("/office/export/schools?{PERIOD}&format=xlsx"),
            b"PK",
        ),
        (
            format!("/office/export/schools?{PERIOD}&format=pdf"),
            b"%PDF",
        ),
        (
            format!("/office/export/school/{school}/classes?{PERIOD}&format=csv"),
            b"\xEF\xBB\xBF",
        ),
    ] {
        assert!(
            home.body.contains(&path.replace('&', "&#38;")) || path.contains("/classes"),
            "{path}"
        );
        let (status, _, bytes) = download(&city, &path);
        assert_eq!(status, 200, "{path}");
        assert!(bytes.starts_with(magic), "{path}");
        if path.contains("schools") && path.ends_with("csv") {
            let text = String::from_utf8(bytes).unwrap();
            assert!(text.contains(SCHOOL) && text.contains("Экономия"), "{text}");
        }
    }
    assert_eq!(city.get("/office/school/not-a-uuid").status, 404);
    assert_eq!(
        city.get(&format!("/office/school/{}", uuid::Uuid::now_v7()))
            .status,
        404
    );
    assert_eq!(
        city.get("/office?from=2026-11-30&to=2026-11-01").status,
        400
    );

    // The analyst: the same pages, reading only.
    user(&server, "analyst", Role::MunicipalAnalyst, None);
    let (mut analyst, home) = sign_in(&server, "analyst", "analyst-password");
    assert_eq!(table_row(&home.body, SCHOOL)[5], "90 ₽");
    assert!(!home.body.contains("Тест"));
    assert_eq!(analyst.get(&drill).status, 200);
    let (status, content_type, _) = download(
        &analyst,
        &format!("/office/export/schools?{PERIOD}&format=csv"),
    );
    assert_eq!(
        (status, content_type.as_str()),
        (200, "text/csv; charset=utf-8")
    );

    // The other school's admin: their own classes, never this school's.
    user(&server, "head2", Role::SchoolAdmin, Some(other));
    let (mut head2, home) = sign_in(&server, "head2", "head2-password");
    assert!(
        home.body.contains(OTHER) && !home.body.contains(SCHOOL),
        "{}",
        home.body
    );
    assert_eq!(head2.get(&drill).status, 404);
    let foreign = format!("/office/export/school/{school}/classes?{PERIOD}&format=csv");
    assert_eq!(download(&head2, &foreign).0, 404);
    let (_, _, own) = download(
        &head2,
        &format!("/office/export/schools?{PERIOD}&format=csv"),
    );
    let own = String::from_utf8(own).unwrap();
    assert!(own.contains(OTHER) && !own.contains(SCHOOL), "{own}");

    // The supplier: «Заявки» of its assigned school only, no figures.
    let kombinat = user(&server, "kombinat", Role::Supplier, None);
    block_on(schoolcard_server::analytics::assign_supplier(
        &server.pool,
        kombinat,
        school,
    ))
    .unwrap();
    let (mut supplier, home) = sign_in(&server, "kombinat", "kombinat-password");
    assert!(home.body.contains("Заявки на питание"), "{}", home.body);
    let line = table_row(&home.body, SCHOOL);
    assert_eq!(
        line,
        ["27.11.2026", "Обед 1–4", "90 ₽", "2", "1", "3"],
        "{}",
        home.body
    );
    assert!(!home.body.contains(OTHER));
    assert_eq!(supplier.get(&drill).status, 404);
    assert_eq!(
        download(
            &supplier,
            &format!("/office/export/schools?{PERIOD}&format=csv")
        )
        .0,
        404
    );
    let (status, _, orders) = download(
        &supplier,
        &format!("/office/export/orders?{PERIOD}&format=csv"),
    );
    assert_eq!(status, 200);
    assert!(String::from_utf8(orders).unwrap().contains(SCHOOL));
}

#[test]
fn office_sign_in_and_out() {
    let server = office_server();
    let mut stranger = Browser::new(&server);
    let to_sign_in = stranger.get("/office");
    assert_eq!(
        (to_sign_in.status, to_sign_in.location.as_str()),
        (303, "/office/login")
    );
    assert_eq!(stranger.get("/office/export/orders?format=csv").status, 303);

    // A wrong password: no session.
    let form = stranger.get("/office/login");
    let pre = form.field("pre");
    let wrong = stranger.post(
        "/office/login",
        &[
            ("login", ADMIN_LOGIN),
            ("password", "not-it"),
            ("pre", &pre),
        ],
    );
    assert_eq!(wrong.status, 401);
    assert!(wrong.body.contains("Неверный логин или пароль"));
    assert!(!stranger.cookies.iter().any(|(name, _)| name == "sc_office"));
    // Without the sign-in form's double-submit token: refused before the password is read.
    let forged = stranger.post(
        "/office/login",
        &[
            ("login", ADMIN_LOGIN),
            ("password", ADMIN_PASSWORD),
            ("pre", "x"),
        ],
    );
    assert_eq!(forged.status, 403);
    assert!(!stranger.cookies.iter().any(|(name, _)| name == "sc_office"));

    let (mut city, home) = sign_in(&server, ADMIN_LOGIN, ADMIN_PASSWORD);
    let csrf = home.field("csrf");
    let refused = city.post("/office/logout", &[]);
    assert_eq!(refused.status, 403);
    let refused = city.post("/office/logout", &[("csrf", "0000")]);
    assert_eq!(refused.status, 403);
    assert_eq!(city.get("/office").status, 200, "still signed in");
    let session = city.cookies.clone();
    let out = city.post("/office/logout", &[("csrf", &csrf)]);
    assert_eq!((out.status, out.location.as_str()), (303, "/office/login"));
    assert!(!city.cookies.iter().any(|(name, _)| name == "sc_office"));
    // Wrong passwords for one login: 401 until its bucket is empty, then 429 — even for
    // the right password.
    let mut guesser = Browser::new(&server);
    let pre = guesser.get("/office/login").field("pre");
    let statuses: Vec<u16> = (0..=PER_EMAIL_BURST as usize)
        .map(|_| {
            let form = [
                ("login", "head"),
                ("password", "guess"),
                ("pre", pre.as_str()),
            ];
            guesser.post("/office/login", &form).status
        })
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        PER_EMAIL_BURST as usize
    );
    assert_eq!(statuses.last(), Some(&429));
    // The old cookie no longer opens anything: the session row is gone.
    city.cookies = session;
    let after = city.get("/office");
    assert_eq!(
        (after.status, after.location.as_str()),
        (303, "/office/login")
    );
}

/// The cells after the first of the table row whose first cell contains `first`.
fn table_row(body: &str, first: &str) -> Vec<String> {
    let row = body
        .split("<tr>")
        .find(|row| {
            row.split("</td>")
                .next()
                .is_some_and(|cell| cell.contains(first))
        })
        .unwrap_or_else(|| panic!("no row of {first} in {body}"));
    let row = &row[..row.find("</tr>").unwrap_or(row.len())];
    let cells: Vec<&str> = row.split("</td>").collect();
    cells[1..cells.len() - 1]
        .iter()
        .map(|cell| {
            let mut text = String::new();
            let mut in_tag = false;
            for c in cell.chars() {
                match c {
                    '<' => in_tag = true,
                    '>' => in_tag = false,
                    c if !in_tag => text.push(c),
                    _ => {}
                }
            }
            text.trim().to_owned()
        })
        .collect()
}
