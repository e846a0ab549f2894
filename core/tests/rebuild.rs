//! Rebuilding every projection from the journal gives exactly the state that the
//! incremental appends built, over a generated history of thousands of mixed events.

mod common;

use common::{cmd, no_progress, school, t0, PASSWORD};
use rand::{seq::SliceRandom, Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rusqlite::types::Value as SqlValue;
use schoolcard_core::events::{EmergencySource, EventBody, PassOutcome, Verification};
use schoolcard_core::peripherals::Direction;
use schoolcard_core::store::PROJECTION_TABLES;
use schoolcard_core::Workstation;
use serde_json::{json, Value};

const OPERATIONS: usize = 3_000;

/// Every kind of event but `roster_imported` and `catalogue_imported` (the import tests
/// cover those).
/// The kinds of step `gate_post_step` takes.
const GATE_POST_STEPS: u32 = 15;

const EXPECTED_KINDS: &[&str] = &[
    "school_configured",
    "class_created",
    "class_renamed",
    "class_archived",
    "person_enrolled",
    "person_updated",
    "pupil_moved",
    "person_status_changed",
    "photo_set",
    "guardian_linked",
    "guardian_unlinked",
    "card_bound",
    "card_state_changed",
    "staff_account_opened",
    "staff_roles_set",
    "staff_password_set",
    "staff_pin_set",
    "signed_in",
    "sign_in_failed",
    "account_locked",
    "account_unlocked",
    "signed_out",
    "peripheral_configured",
    "workstation_post_set",
    "peripheral_removed",
    "passage",
    "attendance_corrected",
    "access_rules_configured",
    "emergency_unlocked",
    "emergency_ended",
    "visitor_pass_issued",
    "visitor_pass_closed",
    "roll_call_started",
    "roll_call_marked",
    "roll_call_ended",
    "canteen_configured",
    "product_saved",
    "complex_saved",
    "day_menu_set",
    "benefit_category_saved",
    "benefit_granted",
    "benefit_revoked",
    "canteen_ban_set",
    "canteen_ban_lifted",
    "daily_limit_set",
    "pre_order_placed",
    "pre_order_cancelled",
    "balance_topped_up",
    "balance_corrected",
    "meal_order_made",
    "meal_order_corrected",
    "meal_served",
    "sale_made",
    "sale_refunded",
    "book_title_saved",
    "book_copy_added",
    "book_copy_state_changed",
    "book_issued",
    "book_returned",
    "book_renewed",
    "book_overdue_notice",
    "stocktake_started",
    "stocktake_scanned",
    "stocktake_closed",
];

fn snapshot(ws: &Workstation) -> Vec<(String, Vec<Vec<SqlValue>>)> {
    PROJECTION_TABLES
        .iter()
        .map(|table| {
            let conn = ws.store().conn();
            let mut stmt = conn
                .prepare(&format!("SELECT * FROM {table} ORDER BY 1, 2"))
                .unwrap();
            let columns = stmt.column_count();
            let rows = stmt
                .query_map([], |r| {
                    (0..columns)
                        .map(|i| r.get::<_, SqlValue>(i))
                        .collect::<Result<Vec<_>, _>>()
                })
                .unwrap()
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            (table.to_string(), rows)
        })
        .collect()
}

/// A confirmed entry through the gate, as the gate post journals it.
fn passage(ws: &mut Workstation, person: &str, at: chrono::DateTime<chrono::Utc>) {
    let body = EventBody::Passage {
        passage_id: uuid::Uuid::now_v7(),
        card: None,
        raw: String::new(),
        person_id: Some(person.parse().unwrap()),
        reader_id: None,
        gate_id: None,
        direction: Direction::Entry,
        school_date: at.date_naive(),
        decided_at: at,
        allowed: true,
        reason: "allowed".into(),
        flags: Vec::new(),
        verified_by: Verification::Automatic,
        outcome: PassOutcome::Passed,
        note: String::new(),
    };
    ws.store_mut()
        .write(|w| w.append("device:gate", at, body))
        .unwrap();
}

struct History {
    rng: ChaCha8Rng,
    now: chrono::DateTime<chrono::Utc>,
    classes: Vec<String>,
    pupils: Vec<String>,
    guardians: Vec<String>,
    staff: Vec<(String, String)>,
    cards: Vec<String>,
    ok: usize,
}

impl History {
    fn pick(&mut self, list: &[String]) -> Option<String> {
        list.choose(&mut self.rng).cloned()
    }

    fn exec(&mut self, ws: &mut Workstation, v: Value) -> Option<Value> {
        self.now += chrono::Duration::seconds(self.rng.gen_range(1..600));
        match ws.execute(cmd(v), self.now, &no_progress) {
            Ok(reply) => {
                self.ok += 1;
                Some(reply)
            }
            Err(_) => None, // conflicts are part of a real history too
        }
    }

    /// What the gate post and the guard add: passages (as the gate post journals them),
    /// attendance corrections, the access rules, emergencies.
    fn gate_post_step(&mut self, ws: &mut Workstation, variant: u32) {
        let at = t0() + chrono::Duration::minutes(self.rng.gen_range(0..600));
        match variant {
            10 => {
                let card = format!("40:{:010X}", self.rng.gen::<u64>() & 0xFF_FFFF_FFFF);
                self.exec(
                    ws,
                    json!({"type": "issue_visitor_pass", "name": {"surname": "Гостев", "name": "Пётр"},
                           "document": "паспорт", "visiting": "к директору", "card": card}),
                );
            }
            11 => {
                let open = self.exec(ws, json!({"type": "list_visitors"})).unwrap();
                let Some(pass) = open["visitors"].as_array().unwrap().first().cloned() else {
                    return;
                };
                self.exec(
                    ws,
                    json!({"type": "close_visitor_pass", "pass_id": pass["pass_id"]}),
                );
            }
            12 => {
                self.exec(ws, json!({"type": "start_roll_call"}));
            }
            13 => {
                let Some(state) = self.exec(ws, json!({"type": "roll_call_state"})) else {
                    return;
                };
                let Some(person) = state["groups"]
                    .as_array()
                    .and_then(|g| g.first())
                    .and_then(|g| g["people"].as_array()?.first().cloned())
                else {
                    return;
                };
                self.exec(
                    ws,
                    json!({"type": "mark_roll_call", "roll_call_id": state["roll_call_id"],
                                     "person_id": person["id"]}),
                );
            }
            14 => {
                let Some(state) = self.exec(ws, json!({"type": "roll_call_state"})) else {
                    return;
                };
                if !state.is_null() {
                    self.exec(
                        ws,
                        json!({"type": "end_roll_call", "roll_call_id": state["roll_call_id"]}),
                    );
                }
            }
            0..=5 => {
                let Some(person) = self.pick(&self.pupils.clone()) else {
                    return;
                };
                let outcome = [
                    PassOutcome::Passed,
                    PassOutcome::NoPass,
                    PassOutcome::Denied,
                ][self.rng.gen_range(0..3)];
                let body = EventBody::Passage {
                    passage_id: uuid::Uuid::now_v7(),
                    card: None,
                    raw: String::new(),
                    person_id: Some(person.parse().unwrap()),
                    reader_id: None,
                    gate_id: None,
                    direction: if self.rng.gen_bool(0.5) {
                        Direction::Entry
                    } else {
                        Direction::Exit
                    },
                    school_date: at.date_naive(),
                    decided_at: at,
                    allowed: outcome != PassOutcome::Denied,
                    reason: "allowed".into(),
                    flags: Vec::new(),
                    verified_by: Verification::Automatic,
                    outcome,
                    note: String::new(),
                };
                ws.store_mut()
                    .write(|w| w.append("device:gate", at, body))
                    .unwrap();
            }
            6 => {
                let Some(person) = self.pick(&self.pupils.clone()) else {
                    return;
                };
                let mark = ["present", "late", "absent", "excused"][self.rng.gen_range(0..4)];
                self.exec(
                    ws,
                    json!({"type": "correct_attendance", "person_id": person,
                           "date": at.date_naive().to_string(), "mark": mark, "reason": "справка"}),
                );
            }
            7 => {
                let rules = self.exec(ws, json!({"type": "get_access_rules"})).unwrap();
                let mut rules = rules["rules"].clone();
                rules["policy"]["attendance"]["late_grace_minutes"] =
                    json!(self.rng.gen_range(0..10));
                self.exec(
                    ws,
                    json!({"type": "configure_access_rules", "rules": rules}),
                );
            }
            8 => {
                let body = EventBody::EmergencyUnlocked {
                    source: EmergencySource::Button,
                    gates: Vec::new(),
                    failed: Vec::new(),
                };
                ws.store_mut()
                    .write(|w| w.append("device:gate", at, body))
                    .unwrap();
            }
            _ => {
                self.exec(ws, json!({"type": "end_emergency"}));
            }
        }
    }

    /// The canteen over a few school days: its configuration, parents' wishes, money,
    /// passages, the order, the till.
    /// The library desk: titles and copies, loans to pupils and staff, returns, renewals
    /// (some past the limit), marks (lost with a loan open, written off, found), and
    /// refusals that must write nothing.
    fn library_days(&mut self, ws: &mut Workstation) {
        let marks = ["0+", "6+", "12+", "16+", "18+"];
        let types = ["textbook", "fiction", "reference", "other"];
        let mut barcodes = Vec::new();
        for t in 0..12 {
            let mark = marks[t % marks.len()];
            let Some(title) = self.exec(
                ws,
                json!({"type": "save_book_title", "title": format!("Книга {t}"),
                       "authors": [format!("Автор {t}")], "age_mark": mark, "year": 2000 + t}),
            ) else {
                continue;
            };
            let title_id = title["title"]["title_id"].as_str().unwrap().to_owned();
            if t % 4 == 0 {
                // Saved again as a whole: the title changes in place.
                self.exec(
                    ws,
                    json!({"type": "save_book_title", "title_id": title_id,
                           "title": format!("Книга {t}, 2-е изд."), "age_mark": mark}),
                );
            }
            for c in 0..3 {
                let barcode = format!("B{t:02}{c}");
                let item = types[(t + c) % types.len()];
                if self
                    .exec(
                        ws,
                        json!({"type": "add_book_copy", "title_id": title_id,
                               "barcode": barcode, "item_type": item, "location": "стеллаж 1"}),
                    )
                    .is_some()
                {
                    barcodes.push(barcode);
                }
            }
        }
        let mut readers = self.pupils.clone();
        readers.extend(self.staff.iter().map(|(_, id)| id.clone()));
        for _ in 0..150 {
            let barcode = self.pick(&barcodes).unwrap();
            let step = self.rng.gen_range(0..7);
            let v = match step {
                0 | 1 => {
                    let Some(person) = self.pick(&readers) else {
                        continue;
                    };
                    let other = self.pick(&barcodes).unwrap();
                    json!({"type": "issue_books", "person_id": person, "barcodes": [barcode, other]})
                }
                2 => json!({"type": "return_book", "barcode": barcode, "note": "в порядке"}),
                6 => json!({"type": "send_overdue_notices"}),
                3 => {
                    let state = ["lost", "written_off", "on_shelf"][self.rng.gen_range(0..3)];
                    json!({"type": "mark_copy", "barcode": barcode, "state": state, "note": "акт"})
                }
                _ => {
                    let loan: Option<String> = ws
                        .store()
                        .conn()
                        .query_row(
                            "SELECT loan_id FROM library_loans WHERE returned_at_us IS NULL
                             ORDER BY loan_id LIMIT 1",
                            [],
                            |r| r.get(0),
                        )
                        .ok();
                    let Some(loan) = loan else { continue };
                    json!({"type": "renew_loan", "loan_id": loan})
                }
            };
            self.exec(ws, v);
            self.now += chrono::Duration::hours(self.rng.gen_range(1..30));
        }
        // Two stocktakes, one closed: shelves scanned in batches (a barcode twice, one
        // nobody knows), and a scan after the close that must write nothing.
        for scope in ["", "стеллаж 1"] {
            let Some(started) =
                self.exec(ws, json!({"type": "start_stocktake", "location": scope}))
            else {
                continue;
            };
            let st = started["stocktake_id"].as_str().unwrap().to_owned();
            for shelf in ["стеллаж 1", "стеллаж 2", "стеллаж 1"] {
                let mut batch: Vec<String> = (0..5).filter_map(|_| self.pick(&barcodes)).collect();
                batch.push("НЕТ-ТАКОГО".to_owned());
                self.exec(
                    ws,
                    json!({"type": "stocktake_scan", "stocktake_id": st, "location": shelf,
                           "barcodes": batch}),
                );
                self.now += chrono::Duration::minutes(self.rng.gen_range(1..20));
            }
            if scope.is_empty() {
                self.exec(ws, json!({"type": "close_stocktake", "stocktake_id": st}));
                self.exec(
                    ws,
                    json!({"type": "stocktake_scan", "stocktake_id": st, "barcodes": ["B000"]}),
                );
            }
        }
    }

    fn canteen_days(&mut self, ws: &mut Workstation) {
        use chrono::Datelike;
        // Start on a Monday morning, so the days have lessons.
        let mut day = self.now.date_naive() + chrono::Duration::days(1);
        while day.weekday() != chrono::Weekday::Mon {
            day += chrono::Duration::days(1);
        }
        self.now = day.and_hms_opt(6, 0, 0).unwrap().and_utc();
        let id = |v: Option<Value>, pointer: &str| {
            v.and_then(|v| {
                v.pointer(pointer)
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
        };
        self.exec(
            ws,
            json!({"type": "configure_canteen", "settings": {"order_cut_off": "00:00:00",
                   "overdraft_floor": 1000, "offline_budget": 30000}}),
        );
        let mut complexes = Vec::new();
        for (meal, first, last, payer) in [
            ("lunch", 1, 4, "regional"),
            ("breakfast", 1, 11, "municipal"),
            ("lunch", 5, 11, "parents"),
        ] {
            let price = self.rng.gen_range(5_000..12_000);
            let saved = self.exec(
                ws,
                json!({"type": "save_complex", "name": format!("{meal} {first}–{last}"), "meal": meal,
                       "grades": {"first": first, "last": last}, "price": price,
                       "payer": payer}),
            );
            complexes.push(id(saved, "/complex/complex_id").unwrap());
        }
        let mut products = Vec::new();
        for (name, category) in [
            ("Булочка", "выпечка"),
            ("Сок", "напитки"),
            ("Вафли", "сладости"),
        ] {
            let price = self.rng.gen_range(1_000..5_000);
            let saved = self.exec(
                ws,
                json!({"type": "save_product", "name": name, "price": price,
                       "category": category, "allergens": ["gluten", "киви"]}),
            );
            products.push(id(saved, "/product/product_id").unwrap());
        }
        let category = id(
            self.exec(
                ws,
                json!({"type": "save_benefit_category", "name": "ОВЗ", "meals": ["breakfast", "lunch"]}),
            ),
            "/category/category_id",
        )
        .unwrap();
        let pupils: Vec<(String, u8)> = {
            let conn = ws.store().conn();
            let mut st = conn
                .prepare(
                    "SELECT p.id, c.grade FROM persons p JOIN classes c ON c.id = p.class_id
                     WHERE p.kind = 'pupil' AND p.status = 'active' ORDER BY p.id",
                )
                .unwrap();
            st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        };
        assert!(pupils.len() > 10, "too few active pupils for the canteen");
        for (pupil, _) in &pupils {
            self.exec(
                ws,
                json!({"type": "top_up_balance", "person_id": pupil, "amount": 20_000}),
            );
        }
        for (i, (pupil, _)) in pupils.iter().take(6).enumerate() {
            let granted = self.exec(
                ws,
                json!({"type": "grant_benefit", "person_id": pupil, "category_id": category,
                       "valid_from": "2026-01-01", "valid_to": "2027-12-31", "document": "справка МСЭ"}),
            );
            if i == 0 {
                let grant = id(granted, "/grant/grant_id");
                self.exec(
                    ws,
                    json!({"type": "revoke_benefit", "grant_id": grant, "reason": "ошибка"}),
                );
            }
            let ban = self.exec(
                ws,
                json!({"type": "set_canteen_ban", "person_id": pupil,
                       "target": {"kind": "category", "value": "сладости"},
                       "hours": {"from": "00:00:00", "to": "12:00:00"}}),
            );
            if i == 1 {
                let ban = id(ban, "/ban/ban_id");
                self.exec(
                    ws,
                    json!({"type": "lift_canteen_ban", "person_id": pupil, "ban_id": ban}),
                );
            }
            self.exec(
                ws,
                json!({"type": "set_daily_limit", "person_id": pupil, "limit": 5_000}),
            );
            self.exec(
                ws,
                json!({"type": "correct_balance", "person_id": pupil, "amount": -150, "reason": "ошибка кассы"}),
            );
        }
        for round in 0..3 {
            let date = (day + chrono::Duration::days(round)).to_string();
            let next = (day + chrono::Duration::days(round + 1)).to_string();
            self.now = (day + chrono::Duration::days(round))
                .and_hms_opt(6, 0, 0)
                .unwrap()
                .and_utc();
            let items: Vec<Value> = products
                .iter()
                .map(|p| json!({"product_id": p, "price": self.rng.gen_range(1_000..4_000)}))
                .collect();
            self.exec(
                ws,
                json!({"type": "set_day_menu", "date": date, "items": items}),
            );
            for (pupil, grade) in &pupils {
                if *grade >= 5 && self.rng.gen_bool(0.2) {
                    let placed = self.exec(
                        ws,
                        json!({"type": "place_pre_order", "person_id": pupil, "complex_id": complexes[2],
                               "date": next}),
                    );
                    // A refused pre-order (already placed, no money) has nothing to cancel.
                    let pre_order = id(placed, "/pre_order_id");
                    if self.rng.gen_bool(0.3) && pre_order.is_some() {
                        self.exec(
                            ws,
                            json!({"type": "cancel_pre_order", "pre_order_id": pre_order, "reason": "болеет"}),
                        );
                    }
                }
            }
            let late: Vec<String> = pupils
                .iter()
                .filter_map(|(pupil, _)| {
                    let roll = self.rng.gen_range(0..10);
                    let at = self.now + chrono::Duration::minutes(self.rng.gen_range(0..60));
                    match roll {
                        0..=6 => {
                            passage(ws, pupil, at);
                            None
                        }
                        7 => Some(pupil.clone()),
                        _ => None,
                    }
                })
                .collect();
            self.now += chrono::Duration::hours(1);
            self.exec(ws, json!({"type": "make_meal_order", "date": date}));
            for pupil in &late {
                passage(ws, pupil, self.now);
            }
            self.exec(ws, json!({"type": "add_late_arrivals", "date": date}));
            let (absent, _) = &pupils[self.rng.gen_range(0..pupils.len())];
            self.exec(
                ws,
                json!({"type": "adjust_meal_order", "date": date, "person_id": absent,
                       "complex_id": complexes[1], "added": true, "reason": "пришёл со справкой"}),
            );
            for (pupil, _) in pupils.iter().take(20) {
                for complex in &complexes {
                    let meal_id = uuid::Uuid::now_v7();
                    let served = self.exec(
                        ws,
                        json!({"type": "serve_meal", "meal_id": meal_id, "person_id": pupil,
                               "complex_id": complex}),
                    );
                    if served.is_some_and(|s| s["ok"] == false && s["reason"] == "already_served") {
                        self.exec(
                            ws,
                            json!({"type": "serve_meal", "meal_id": uuid::Uuid::now_v7(), "person_id": pupil,
                                   "complex_id": complex, "override_reason": "добавка"}),
                        );
                    }
                }
                let mut basket: Vec<Value> = Vec::new();
                for p in &products {
                    if self.rng.gen_bool(0.5) {
                        basket.push(json!({"product_id": p, "quantity": self.rng.gen_range(1..3)}));
                    }
                }
                let sold = self.exec(
                    ws,
                    json!({"type": "sell_basket", "sale_id": uuid::Uuid::now_v7(), "person_id": pupil,
                           "basket": basket}),
                );
                if self.rng.gen_bool(0.2) {
                    if let Some(sale) = id(sold, "/sale_id") {
                        self.exec(
                            ws,
                            json!({"type": "refund_sale", "sale_id": sale, "reason": "брак"}),
                        );
                    }
                }
                // Now and then the till's shift changes hands.
                if self.rng.gen_bool(0.3) {
                    self.exec(ws, json!({"type": "close_shift"}));
                    self.exec(ws, json!({"type": "open_shift"}));
                }
            }
        }
    }

    fn step(&mut self, ws: &mut Workstation) {
        let surnames = ["Иванов", "Смирнова", "Кузнецов", "Попова", "Ёлкин"];
        let names = ["Пётр", "Анна", "Илья", "Мария", "Олег"];
        let surname = surnames[self.rng.gen_range(0..surnames.len())];
        let name = names[self.rng.gen_range(0..names.len())];
        match self.rng.gen_range(0..103) {
            0..=24 => {
                let Some(class_id) = self.pick(&self.classes.clone()) else {
                    return;
                };
                let ext = format!("P{:05}", self.pupils.len());
                if let Some(r) = self.exec(
                    ws,
                    json!({"type": "enrol_pupil", "class_id": class_id,
                    "name": {"surname": surname, "name": name, "patronymic": "Ильич"},
                    "details": {"external_id": ext, "birth_date": "2015-04-01"}}),
                ) {
                    self.pupils
                        .push(r["person"]["id"].as_str().unwrap().to_owned());
                }
            }
            25..=34 => {
                let Some(pupil) = self.pick(&self.pupils.clone()) else {
                    return;
                };
                if let Some(r) = self.exec(
                    ws,
                    json!({"type": "enrol_guardian", "pupil_id": pupil,
                    "name": {"surname": surname, "name": name}, "relation": "мать",
                    "details": {"phone": "+7 915 000-00-00"}}),
                ) {
                    let g = r["guardians"].as_array().unwrap().last().unwrap()["id"]
                        .as_str()
                        .unwrap()
                        .to_owned();
                    self.guardians.push(g);
                }
            }
            35..=49 => {
                let Some(person) = self.pick(&self.pupils.clone()) else {
                    return;
                };
                let card = format!("{:010X}", self.rng.gen::<u64>() & 0xFF_FFFF_FFFF);
                if self
                    .exec(
                        ws,
                        json!({"type": "bind_card", "person_id": person, "card": card}),
                    )
                    .is_some()
                {
                    self.cards.push(card);
                }
            }
            50..=57 => {
                let Some(card) = self.pick(&self.cards.clone()) else {
                    return;
                };
                let state = ["lost", "blocked", "returned", "active"][self.rng.gen_range(0..4)];
                self.exec(ws, json!({"type": "set_card_state", "card": card, "state": state, "reason": "тест"}));
            }
            58..=64 => {
                let Some(person) = self.pick(&self.pupils.clone()) else {
                    return;
                };
                self.exec(
                    ws,
                    json!({"type": "update_person", "person_id": person,
                    "name": {"surname": surname, "name": name},
                    "details": {"email": "a@b.ru", "external_id": null}}),
                );
            }
            65..=69 => {
                let (Some(person), Some(class_id)) = (
                    self.pick(&self.pupils.clone()),
                    self.pick(&self.classes.clone()),
                ) else {
                    return;
                };
                self.exec(
                    ws,
                    json!({"type": "move_pupil", "person_id": person, "class_id": class_id}),
                );
            }
            70..=74 => {
                let Some(person) = self.pick(&self.pupils.clone()) else {
                    return;
                };
                let status = ["active", "suspended", "left"][self.rng.gen_range(0..3)];
                self.exec(
                    ws,
                    json!({"type": "set_person_status", "person_id": person, "status": status}),
                );
            }
            75..=79 => {
                let Some(person) = self.pick(&self.pupils.clone()) else {
                    return;
                };
                let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
                png.extend((0..16).map(|_| self.rng.gen::<u8>()));
                use base64::Engine;
                let b64 = base64::engine::general_purpose::STANDARD.encode(&png);
                self.exec(ws, json!({"type": "set_photo", "person_id": person, "mime": "image/png", "base64": b64}));
            }
            80..=83 => {
                if self.rng.gen_bool(0.7) {
                    let (Some(g), Some(p)) = (
                        self.pick(&self.guardians.clone()),
                        self.pick(&self.pupils.clone()),
                    ) else {
                        return;
                    };
                    self.exec(ws, json!({"type": "link_guardian", "guardian_id": g, "pupil_id": p, "relation": "опекун"}));
                } else {
                    let links: i64 = ws
                        .store()
                        .conn()
                        .query_row("SELECT count(*) FROM guardianship", [], |r| r.get(0))
                        .unwrap();
                    if links == 0 {
                        return;
                    }
                    let offset = self.rng.gen_range(0..links);
                    let link: Option<(String, String)> = ws.store().conn()
                        .query_row("SELECT guardian_id, pupil_id FROM guardianship ORDER BY 1, 2 LIMIT 1 OFFSET ?1", [offset], |r| Ok((r.get(0)?, r.get(1)?)))
                        .ok();
                    let Some((g, p)) = link else { return };
                    self.exec(
                        ws,
                        json!({"type": "unlink_guardian", "guardian_id": g, "pupil_id": p}),
                    );
                }
            }
            84..=86 => {
                // Another staff member fails to sign in (locking the account now and then),
                // or signs in, then the admin takes the desk back.
                let Some((login, _)) = self.staff.choose(&mut self.rng).cloned() else {
                    return;
                };
                let password = if self.rng.gen_bool(0.7) {
                    "wrong password"
                } else {
                    PASSWORD
                };
                self.exec(ws, json!({"type": "sign_out"}));
                self.exec(
                    ws,
                    json!({"type": "sign_in_password", "login": login, "password": password}),
                );
                self.exec(ws, json!({"type": "sign_out"}));
                self.exec(
                    ws,
                    json!({"type": "sign_in_password", "login": "admin", "password": PASSWORD}),
                );
            }
            87..=88 => {
                let Some((_, id)) = self.staff.choose(&mut self.rng).cloned() else {
                    return;
                };
                let roles = [
                    ["guard"].as_slice(),
                    &["cashier", "librarian"],
                    &["director"],
                ][self.rng.gen_range(0..3)];
                self.exec(
                    ws,
                    json!({"type": "set_staff_roles", "person_id": id, "roles": roles}),
                );
                if self.rng.gen_bool(0.5) {
                    self.exec(ws, json!({"type": "unlock_account", "person_id": id}));
                } else {
                    let pin = format!("{:04}", self.rng.gen_range(0..10_000));
                    self.exec(
                        ws,
                        json!({"type": "set_staff_pin", "person_id": id, "pin": pin}),
                    );
                }
            }
            89 if self.staff.len() < 8 => {
                let login = format!("staff{}", self.staff.len());
                if let Some(r) = self.exec(
                    ws,
                    json!({"type": "enrol_staff", "login": login, "password": PASSWORD,
                    "roles": ["guard"], "name": {"surname": surname, "name": name},
                    "details": {"position": "охранник"}}),
                ) {
                    self.staff
                        .push((login, r["person"]["id"].as_str().unwrap().to_owned()));
                }
            }
            90..=93 => {
                let name = format!(
                    "{}{}",
                    self.rng.gen_range(1..=11),
                    ["А", "Б", "В", "Г"][self.rng.gen_range(0..4)]
                );
                if self.rng.gen_bool(0.8) {
                    let Some(class_id) = self.pick(&self.classes.clone()) else {
                        return;
                    };
                    self.exec(
                        ws,
                        json!({"type": "rename_class", "class_id": class_id, "name": name}),
                    );
                } else {
                    // The newest class is the likeliest to be still empty.
                    let Some(class_id) = self.classes.last().cloned() else {
                        return;
                    };
                    self.exec(ws, json!({"type": "archive_class", "class_id": class_id}));
                }
            }
            94..=95 => {
                let name = format!(
                    "{}{}",
                    self.rng.gen_range(1..=11),
                    ["Д", "Е"][self.rng.gen_range(0..2)]
                );
                if let Some(r) = self.exec(ws, json!({"type": "create_class", "name": name})) {
                    self.classes.push(r["id"].as_str().unwrap().to_owned());
                }
            }
            96..=97 => {
                let listed = self.exec(ws, json!({"type": "list_devices"})).unwrap();
                let devices = listed["devices"].as_array().unwrap().clone();
                if devices.is_empty() || self.rng.gen_bool(0.7) {
                    // A new device, or a change of a listed one (its name, port or gate).
                    let name = ["Вход", "Выход", "Столовая", "Библиотека", "Турникет"]
                        [self.rng.gen_range(0..5)];
                    let port = format!("/dev/ttyUSB{}", self.rng.gen_range(0..4));
                    let gate = devices
                        .iter()
                        .find(|d| d["connection"]["type"] == "simulated_turnstile")
                        .map(|d| d["device_id"].clone())
                        .unwrap_or(Value::Null);
                    let device = if name == "Турникет" {
                        json!({"name": name, "post": "entrance",
                               "connection": {"type": "simulated_turnstile"}})
                    } else {
                        json!({"name": name, "post": "entrance", "direction": "entry", "gate_id": gate,
                               "connection": {"type": "serial_reader", "port": port, "format": "hex_uid"}})
                    };
                    let device_id = devices
                        .iter()
                        .find(|d| d["name"] == name)
                        .map(|d| d["device_id"].clone())
                        .unwrap_or(Value::Null);
                    self.exec(
                        ws,
                        json!({"type": "save_device", "device_id": device_id, "device": device}),
                    );
                } else {
                    let device = &devices[self.rng.gen_range(0..devices.len())];
                    self.exec(
                        ws,
                        json!({"type": "remove_device", "device_id": device["device_id"]}),
                    );
                }
            }
            98..=101 => {
                let variant = self.rng.gen_range(0..GATE_POST_STEPS);
                self.gate_post_step(ws, variant)
            }
            _ => {
                let tz = ["Europe/Moscow", "Asia/Yekaterinburg", "Europe/Kaliningrad"]
                    [self.rng.gen_range(0..3)];
                let name = format!("Школа № {}", self.rng.gen_range(1..99));
                self.exec(
                    ws,
                    json!({"type": "configure_school", "name": name, "time_zone": tz}),
                );
            }
        }
    }
}

#[test]
fn rebuilding_projections_from_the_journal_equals_the_incremental_state() {
    let dir = tempfile::tempdir().unwrap();
    let mut ws = school(dir.path());
    let mut history = History {
        rng: ChaCha8Rng::seed_from_u64(7),
        now: t0(),
        classes: vec![],
        pupils: vec![],
        guardians: vec![],
        staff: vec![],
        cards: vec![],
        ok: 0,
    };
    for name in ["1А", "1Б", "2А", "5В", "9А", "11Б"] {
        let r = history
            .exec(&mut ws, json!({"type": "create_class", "name": name}))
            .unwrap();
        history.classes.push(r["id"].as_str().unwrap().to_owned());
    }
    for _ in 0..OPERATIONS {
        history.step(&mut ws);
    }
    // The rarer facts once each for sure, whatever the random history did: a lock-out,
    // and every step of the gate post.
    history.exec(
        &mut ws,
        json!({"type": "enrol_staff", "login": "locked", "password": PASSWORD,
        "roles": ["guard"], "name": {"surname": "Замков", "name": "Ян"}}),
    );
    history.exec(&mut ws, json!({"type": "sign_out"}));
    for _ in 0..5 {
        history.exec(
            &mut ws,
            json!({"type": "sign_in_password", "login": "locked", "password": "wrong password"}),
        );
    }
    history.exec(
        &mut ws,
        json!({"type": "sign_in_password", "login": "admin", "password": PASSWORD}),
    );
    for variant in 0..GATE_POST_STEPS {
        history.gate_post_step(&mut ws, variant);
    }
    history.canteen_days(&mut ws);
    history.library_days(&mut ws);
    // The first-run wizard's post, said twice (the second wins).
    for (post, name) in [("entrance", "Проходная"), ("canteen", "Касса, 1 этаж")]
    {
        history.exec(
            &mut ws,
            json!({"type": "set_workstation_post", "post": post, "name": name}),
        );
    }
    let events: i64 = ws
        .store()
        .conn()
        .query_row("SELECT count(*) FROM journal", [], |r| r.get(0))
        .unwrap();
    assert!(events >= 2_000, "only {events} events were generated");
    // Every kind of event took part.
    let kinds: Vec<String> = {
        let conn = ws.store().conn();
        let mut stmt = conn.prepare("SELECT DISTINCT kind FROM journal").unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let missing: Vec<&str> = EXPECTED_KINDS
        .iter()
        .copied()
        .filter(|k| !kinds.iter().any(|x| x == k))
        .collect();
    assert!(missing.is_empty(), "the history never produced {missing:?}");

    let incremental = snapshot(&ws);
    let replayed = ws.store_mut().rebuild_projections().unwrap();
    assert_eq!(replayed as i64, events);
    let rebuilt = snapshot(&ws);
    for ((table, a), (_, b)) in incremental.iter().zip(&rebuilt) {
        assert!(
            !a.is_empty() || *table == "roster_imports",
            "{table} is empty: the history did not reach it"
        );
        assert_eq!(a.len(), b.len(), "{table}: row counts differ");
        for (x, y) in a.iter().zip(b) {
            assert_eq!(x, y, "{table} differs after rebuild");
        }
    }

    // The same holds for a brand-new file fed the same journal (what a restore does).
    let report = schoolcard_core::journal::verify(ws.store().conn()).unwrap();
    assert!(report.is_intact(), "{:?}", report.faults);
}
