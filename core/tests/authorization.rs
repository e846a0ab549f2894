//! Every role × every command: authorization is enforced in core, not by the UI.
//! The expected table below is written out by hand, independently of `Command::access`.

mod common;

use common::{cmd, id, no_progress, run, school, t0, PASSWORD};
use schoolcard_core::workstation::Command;
use schoolcard_core::{CoreError, Workstation};
use serde_json::{json, Value};

/// Who may run each command: `*` anyone (even before sign-in), `any` any signed-in
/// staff member, else the roles' initials: G guard, C cashier, L librarian, D director,
/// A admin. The match is exhaustive, so a new command cannot skip this table.
fn expected(command: &Command) -> &'static str {
    use Command::*;
    match command {
        SetUpSchool { .. } | SignInPassword { .. } | SignInCard { .. } | WhoAmI | GetSchool => "*",
        SignOut | ChangeOwnPassword { .. } => "any",
        ListClasses | SearchPeople { .. } | GetPerson { .. } | GetPhotos { .. } => "any",
        LookupCard { .. } => "any",
        SyncStatus => "any",
        SyncConflicts { .. } => "DA",
        ConnectServer { .. } | DisconnectServer | SetWorkstationPost { .. } => "A",
        ListBackups | MakeBackup | PreviewBackup { .. } | RestoreBackup { .. } => "A",
        SchoolSummary | ListStaff | VerifyJournal | JournalPage { .. } => "DA",
        ConfigureSchool { .. } | CreateClass { .. } | RenameClass { .. } | ArchiveClass { .. } => {
            "A"
        }
        EnrolPupil { .. } | EnrolGuardian { .. } | UpdatePerson { .. } | MovePupil { .. } => "A",
        SetPersonStatus { .. } | SetPhoto { .. } | SetPhotoFromFile { .. } => "A",
        LinkGuardian { .. } | UnlinkGuardian { .. } => "A",
        BindCard { .. } | SetCardState { .. } => "A",
        EnrolStaff { .. }
        | SetStaffRoles { .. }
        | SetStaffPassword { .. }
        | SetStaffPin { .. }
        | UnlockAccount { .. } => "A",
        PreviewRoster { .. } | CommitRoster { .. } | ImportPhotos { .. } => "A",
        ListDevices => "any",
        SaveDevice { .. } | RemoveDevice { .. } => "A",
        OpenGate { .. } | EndEmergency => "GA",
        GetAccessRules => "any",
        ConfigureAccessRules { .. } | CorrectAttendance { .. } => "A",
        GuardSummary | InsideNow => "GDA",
        DayAttendance { .. } => "DA",
        IssueVisitorPass { .. } | CloseVisitorPass { .. } => "GA",
        ListVisitors { .. } => "GDA",
        ExceptionsReport { .. } => "DA",
        DirectorDashboard => "DA",
        StartRollCall | MarkRollCall { .. } | EndRollCall { .. } | RollCallState { .. } => "GDA",
        CanteenCatalogue
        | DayMenu { .. }
        | PupilCanteen { .. }
        | MealOrderForecast { .. }
        | MealOrderSheet { .. } => "CDA",
        ConfigureCanteen { .. }
        | SaveProduct { .. }
        | SaveComplex { .. }
        | SetDayMenu { .. }
        | ImportDayMenu { .. }
        | SaveBenefitCategory { .. }
        | GrantBenefit { .. }
        | RevokeBenefit { .. } => "A",
        SetCanteenBan { .. } | LiftCanteenBan { .. } | SetDailyLimit { .. } => "A",
        PlacePreOrder { .. } | CancelPreOrder { .. } => "A",
        TopUpBalance { .. } | CorrectBalance { .. } | AdjustMealOrder { .. } => "A",
        MakeMealOrder { .. } | AddLateArrivals { .. } => "CA",
        TillPupil { .. }
        | ServeMeal { .. }
        | SellBasket { .. }
        | RefundSale { .. }
        | SaleReceipt { .. }
        | OpenShift
        | CloseShift
        | ShiftReport { .. } => "CA",
        ServeClass { .. } => "CA",
        MealsReport { .. } => "DA",
        SaveBookTitle { .. } | AddBookCopy { .. } => "LA",
        IssueBooks { .. } | ReturnBook { .. } | RenewLoan { .. } | MarkCopy { .. } => "LA",
        PreviewCatalogue { .. } | CommitCatalogue { .. } => "LA",
        SearchCatalogue { .. } | ReaderLoans { .. } | OverdueList { .. } => "LDA",
        SendOverdueNotices { .. } => "LA",
        ClassLoans { .. } | StocktakeReport { .. } | OpenStocktakes => "LDA",
        StartStocktake { .. } | StocktakeScan { .. } | CloseStocktake { .. } => "LA",
    }
}

/// One example of every command, aimed at the fixture's people.
fn samples(f: &Fixture) -> Vec<Value> {
    let missing = f.dir.join("no-such-file.csv");
    vec![
        json!({"type": "set_up_school", "school_name": "X", "time_zone": "Europe/Moscow", "admin_name": {"surname": "А", "name": "Б"}, "login": "x", "password": PASSWORD}),
        json!({"type": "sign_in_password", "login": "nobody", "password": "wrong password"}),
        json!({"type": "sign_in_card", "card": "99,99", "pin": "0000"}),
        json!({"type": "who_am_i"}),
        json!({"type": "get_school"}),
        json!({"type": "change_own_password", "old_password": "not the password", "new_password": "another password"}),
        json!({"type": "list_classes"}),
        json!({"type": "search_people", "query": "Иван"}),
        json!({"type": "get_person", "person_id": f.pupil}),
        json!({"type": "get_photos", "person_ids": [f.pupil, f.guardian]}),
        json!({"type": "lookup_card", "card": "126,58404"}),
        json!({"type": "school_summary"}),
        json!({"type": "list_staff"}),
        json!({"type": "sync_status"}),
        json!({"type": "sync_conflicts"}),
        json!({"type": "connect_server", "server_url": "http://127.0.0.1:9", "code": "ABCD-EFGH"}),
        json!({"type": "disconnect_server"}),
        json!({"type": "set_workstation_post", "post": "office", "name": "Канцелярия"}),
        json!({"type": "verify_journal"}),
        json!({"type": "list_backups"}),
        json!({"type": "make_backup"}),
        json!({"type": "preview_backup", "file": "2026-09-01T05-00-00Z manual.sqlite"}),
        json!({"type": "restore_backup", "file": "2000-01-01T00-00-00Z manual.sqlite"}),
        json!({"type": "journal_page", "limit": 5}),
        json!({"type": "configure_school", "name": "Лицей", "time_zone": "Europe/Moscow"}),
        json!({"type": "create_class", "name": "7Г"}),
        json!({"type": "rename_class", "class_id": f.class, "name": "5А"}),
        json!({"type": "archive_class", "class_id": f.class}),
        json!({"type": "enrol_pupil", "class_id": f.class, "name": {"surname": "Новиков", "name": "Олег"}}),
        json!({"type": "enrol_guardian", "pupil_id": f.pupil, "name": {"surname": "Иванова", "name": "Ольга"}}),
        json!({"type": "update_person", "person_id": f.pupil, "name": {"surname": "Иванов", "name": "Иван"}}),
        json!({"type": "move_pupil", "person_id": f.pupil, "class_id": f.class}),
        json!({"type": "set_person_status", "person_id": f.pupil, "status": "active"}),
        json!({"type": "set_photo", "person_id": f.pupil, "mime": "image/png", "base64": "iVBORw0KGgoAAAA="}),
        json!({"type": "set_photo_from_file", "person_id": f.pupil, "path": f.dir.join("no-such-photo.png")}),
        json!({"type": "link_guardian", "guardian_id": f.guardian, "pupil_id": f.pupil}),
        json!({"type": "unlink_guardian", "guardian_id": f.guardian, "pupil_id": f.pupil}),
        json!({"type": "bind_card", "person_id": f.pupil, "card": "04:A2:3B:1C"}),
        json!({"type": "set_card_state", "card": "126,58404", "state": "lost"}),
        json!({"type": "enrol_staff", "login": "newbie", "password": PASSWORD, "roles": ["guard"], "name": {"surname": "Сидоров", "name": "Лев"}}),
        json!({"type": "set_staff_roles", "person_id": f.target_staff, "roles": ["guard"]}),
        json!({"type": "set_staff_password", "person_id": f.target_staff, "password": PASSWORD}),
        json!({"type": "set_staff_pin", "person_id": f.target_staff, "pin": "4321"}),
        json!({"type": "unlock_account", "person_id": f.target_staff}),
        json!({"type": "preview_roster", "path": missing}),
        json!({"type": "commit_roster", "path": missing, "expected_sha256": "00"}),
        json!({"type": "import_photos", "path": missing}),
        json!({"type": "list_devices"}),
        json!({"type": "save_device", "device": {"name": "Вход", "post": "entrance", "direction": "entry", "connection": {"type": "simulated_reader"}}}),
        json!({"type": "remove_device", "device_id": "0192f3a0-0000-7000-8000-000000000000"}),
        json!({"type": "open_gate", "device_id": "0192f3a0-0000-7000-8000-000000000000", "direction": "entry"}),
        json!({"type": "end_emergency"}),
        json!({"type": "get_access_rules"}),
        json!({"type": "configure_access_rules", "rules": f.rules}),
        json!({"type": "guard_summary"}),
        json!({"type": "inside_now"}),
        json!({"type": "day_attendance"}),
        json!({"type": "correct_attendance", "person_id": f.pupil, "date": "2026-09-01", "mark": "excused", "reason": "справка"}),
        json!({"type": "issue_visitor_pass", "name": {"surname": "Гостев", "name": "Иван"}, "document": "паспорт", "visiting": "к директору", "card": "40:00000000AA"}),
        json!({"type": "close_visitor_pass", "pass_id": "0192f3a0-0000-7000-8000-000000000000"}),
        json!({"type": "list_visitors"}),
        json!({"type": "exceptions_report"}),
        json!({"type": "director_dashboard"}),
        json!({"type": "start_roll_call"}),
        json!({"type": "mark_roll_call", "roll_call_id": "0192f3a0-0000-7000-8000-000000000000", "person_id": f.pupil}),
        json!({"type": "end_roll_call", "roll_call_id": "0192f3a0-0000-7000-8000-000000000000"}),
        json!({"type": "roll_call_state"}),
        json!({"type": "canteen_catalogue"}),
        json!({"type": "day_menu"}),
        json!({"type": "configure_canteen", "settings": {"order_cut_off": "09:30:00", "overdraft_floor": 0, "offline_budget": 30000}}),
        json!({"type": "save_product", "name": "Булочка", "price": 3500, "category": "выпечка", "allergens": ["gluten"]}),
        json!({"type": "save_complex", "name": "Обед 1–4", "meal": "lunch", "grades": {"first": 1, "last": 4}, "price": 9000, "payer": "regional"}),
        json!({"type": "set_day_menu", "items": []}),
        json!({"type": "import_day_menu", "path": missing}),
        json!({"type": "save_benefit_category", "name": "Многодетная семья", "meals": ["lunch"]}),
        json!({"type": "grant_benefit", "person_id": f.pupil, "category_id": ZERO, "valid_from": "2026-09-01", "valid_to": "2027-05-31", "document": "справка"}),
        json!({"type": "revoke_benefit", "grant_id": ZERO, "reason": "ошибка"}),
        json!({"type": "pupil_canteen", "person_id": f.pupil}),
        json!({"type": "set_canteen_ban", "person_id": f.pupil, "target": {"kind": "category", "value": "сладости"}}),
        json!({"type": "lift_canteen_ban", "person_id": f.pupil, "ban_id": ZERO}),
        json!({"type": "set_daily_limit", "person_id": f.pupil, "limit": 10000}),
        json!({"type": "place_pre_order", "person_id": f.pupil, "complex_id": ZERO, "date": "2026-09-02"}),
        json!({"type": "cancel_pre_order", "pre_order_id": ZERO, "reason": "болеет"}),
        json!({"type": "top_up_balance", "person_id": f.pupil, "amount": 10000}),
        json!({"type": "correct_balance", "person_id": f.pupil, "amount": -100, "reason": "ошибка кассы"}),
        json!({"type": "make_meal_order"}),
        json!({"type": "meal_order_forecast"}),
        json!({"type": "meal_order_sheet"}),
        json!({"type": "add_late_arrivals"}),
        json!({"type": "adjust_meal_order", "date": "2026-09-01", "person_id": f.pupil, "complex_id": ZERO, "added": true, "reason": "пришёл"}),
        json!({"type": "till_pupil", "card": "126,58404"}),
        json!({"type": "serve_meal", "meal_id": ZERO, "person_id": f.pupil, "complex_id": ZERO}),
        json!({"type": "sell_basket", "sale_id": ZERO, "person_id": f.pupil, "basket": []}),
        json!({"type": "refund_sale", "sale_id": ZERO, "reason": "брак"}),
        json!({"type": "sale_receipt", "sale_id": ZERO}),
        json!({"type": "open_shift"}),
        json!({"type": "close_shift"}),
        json!({"type": "shift_report"}),
        json!({"type": "serve_class", "class_id": f.class}),
        json!({"type": "meals_report", "from": "2026-09-01", "to": "2026-09-30"}),
        json!({"type": "save_book_title", "title": "Капитанская дочка", "authors": ["Пушкин А. С."], "age_mark": "12+"}),
        json!({"type": "add_book_copy", "title_id": ZERO, "barcode": "INV-0001", "item_type": "fiction"}),
        json!({"type": "search_catalogue", "query": "пушкин"}),
        json!({"type": "issue_books", "card": "126,58404", "barcodes": ["INV-0001"]}),
        json!({"type": "return_book", "barcode": "INV-0001", "note": "в порядке"}),
        json!({"type": "renew_loan", "loan_id": ZERO}),
        json!({"type": "mark_copy", "barcode": "INV-0001", "state": "lost"}),
        json!({"type": "reader_loans", "person_id": f.pupil}),
        json!({"type": "overdue_list", "class_id": f.class}),
        json!({"type": "send_overdue_notices", "class_id": f.class}),
        json!({"type": "class_loans", "class_id": f.class}),
        json!({"type": "start_stocktake", "location": "стеллаж 1"}),
        json!({"type": "stocktake_scan", "stocktake_id": ZERO, "location": "стеллаж 1", "barcodes": ["INV-0001"]}),
        json!({"type": "stocktake_report", "stocktake_id": ZERO}),
        json!({"type": "close_stocktake", "stocktake_id": ZERO}),
        json!({"type": "open_stocktakes"}),
        json!({"type": "preview_catalogue", "path": missing}),
        json!({"type": "commit_catalogue", "path": missing, "expected_sha256": "00"}),
        json!({"type": "sign_out"}),
    ]
}

/// An id nothing has: the command is authorized first and only then finds nothing.
const ZERO: &str = "0192f3a0-0000-7000-8000-000000000000";

struct Fixture {
    dir: std::path::PathBuf,
    rules: Value,
    class: String,
    pupil: String,
    guardian: String,
    target_staff: String,
}

fn fixture(ws: &mut Workstation, dir: &std::path::Path) -> Fixture {
    let class = id(
        &run(ws, json!({"type": "create_class", "name": "5А"}), t0()),
        "/id",
    );
    let pupil = run(
        ws,
        json!({"type": "enrol_pupil", "class_id": class, "name": {"surname": "Иванов", "name": "Иван"}}),
        t0(),
    );
    let pupil = id(&pupil, "/person/id");
    run(
        ws,
        json!({"type": "bind_card", "person_id": pupil, "card": "126,58404"}),
        t0(),
    );
    let with_guardian = run(
        ws,
        json!({"type": "enrol_guardian", "pupil_id": pupil, "name": {"surname": "Иванова", "name": "Мария"}}),
        t0(),
    );
    let guardian = id(&with_guardian, "/guardians/0/id");
    for (login, role) in [
        ("guard", "guard"),
        ("cashier", "cashier"),
        ("librarian", "librarian"),
        ("director", "director"),
        ("target", "guard"),
    ] {
        run(
            ws,
            json!({"type": "enrol_staff", "login": login, "password": PASSWORD, "roles": [role],
                       "name": {"surname": "Сотрудник", "name": "Тест"}}),
            t0(),
        );
    }
    let staff = run(ws, json!({"type": "list_staff"}), t0());
    let target_staff = staff
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["login"] == "target")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let rules = run(ws, json!({"type": "get_access_rules"}), t0())["rules"].clone();
    Fixture {
        dir: dir.to_owned(),
        rules,
        class,
        pupil,
        guardian,
        target_staff,
    }
}

#[test]
fn every_role_and_command_pair() {
    let dir = tempfile::tempdir().unwrap();
    let mut ws = school(dir.path());
    let f = fixture(&mut ws, dir.path());
    // (who signs in, the letter the table uses for them)
    let people: [(Option<&str>, char); 6] = [
        (None, '-'),
        (Some("guard"), 'G'),
        (Some("cashier"), 'C'),
        (Some("librarian"), 'L'),
        (Some("director"), 'D'),
        (Some("admin"), 'A'),
    ];
    let mut checked = 0;
    for (login, letter) in people {
        for sample in samples(&f) {
            let _ = ws.execute(cmd(json!({"type": "sign_out"})), t0(), &no_progress);
            if let Some(login) = login {
                run(
                    &mut ws,
                    json!({"type": "sign_in_password", "login": login, "password": PASSWORD}),
                    t0(),
                );
            }
            let command = cmd(sample.clone());
            let rule = expected(&command);
            let allowed = match rule {
                "*" => true,
                "any" => login.is_some(),
                roles => roles.contains(letter),
            };
            let outcome = ws.execute(command, t0(), &no_progress);
            match (&outcome, allowed, login) {
                (Err(CoreError::Forbidden { .. }) | Err(CoreError::NotSignedIn), true, _) => {
                    panic!("{login:?} was refused {sample}: {outcome:?}")
                }
                (Err(CoreError::NotSignedIn), false, None)
                | (Err(CoreError::Forbidden { .. }), false, Some(_)) => {}
                (_, false, _) => {
                    panic!("{login:?} was let through {sample} (rule {rule}): {outcome:?}")
                }
                (_, true, _) => {}
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 6 * samples(&f).len());
}

#[test]
fn samples_cover_every_command() {
    // Each variant of `Command` once: the serde tags of the samples are all distinct and
    // match the number of arms `expected` handles (counted from this file's source).
    let dir = tempfile::tempdir().unwrap();
    let mut ws = school(dir.path());
    let f = fixture(&mut ws, dir.path());
    let tags: std::collections::BTreeSet<String> = samples(&f)
        .iter()
        .map(|s| s["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(tags.len(), samples(&f).len(), "a command is sampled twice");
    let source = include_str!("../src/workstation/mod.rs");
    let enum_body = source
        .split("pub enum Command {")
        .nth(1)
        .unwrap()
        .split("\n}\n")
        .next()
        .unwrap();
    let variants = enum_body
        .lines()
        .filter(|l| {
            let t = l.trim_start();
            l.starts_with("    ")
                && !l.starts_with("     ")
                && t.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        })
        .count();
    assert_eq!(
        tags.len(),
        variants,
        "every Command variant needs a sample here"
    );
}
