//! Projections: the current state the screens read, derived from the journal.
//!
//! `apply` is the only code that writes projection tables. It runs in the transaction
//! that appends the event, and again, row by row, when the projections are rebuilt; the
//! two must agree (a test proves it), so `apply` reads nothing but the event and the
//! projections themselves — no clock, no settings, no randomness.

use crate::domain::{search_key, CardState, FullName, PersonStatus, Role};
use crate::events::{EventBody, PassOutcome, PersonDetails};
use crate::journal::Event;
use crate::library::CopyState;
use crate::peripherals::Direction;
use crate::time::to_micros;
use rusqlite::{params, Connection, OptionalExtension};

pub fn apply(conn: &Connection, event: &Event) -> rusqlite::Result<()> {
    let at = to_micros(event.occurred_at);
    match &event.body {
        EventBody::SchoolConfigured {
            name,
            time_zone,
            demo,
        } => {
            exec(
                conn,
                "INSERT INTO school (singleton, name, time_zone, demo) VALUES (1, ?1, ?2, ?3)
                 ON CONFLICT (singleton) DO UPDATE SET name = excluded.name, time_zone = excluded.time_zone,
                        demo = excluded.demo",
                params![name, time_zone, demo],
            )?;
        }
        EventBody::ClassCreated {
            class_id,
            grade,
            letter,
        } => {
            exec(
                conn,
                "INSERT INTO classes (id, grade, letter, archived) VALUES (?1, ?2, ?3, 0)
                 ON CONFLICT (id) DO UPDATE SET grade = excluded.grade, letter = excluded.letter, archived = 0",
                params![class_id.to_string(), grade, letter],
            )?;
        }
        EventBody::ClassRenamed {
            class_id,
            grade,
            letter,
        } => {
            exec(
                conn,
                "UPDATE classes SET grade = ?2, letter = ?3 WHERE id = ?1",
                params![class_id.to_string(), grade, letter],
            )?;
        }
        EventBody::ClassArchived { class_id } => {
            exec(
                conn,
                "UPDATE classes SET archived = 1 WHERE id = ?1",
                [class_id.to_string()],
            )?;
        }
        EventBody::PersonEnrolled {
            person_id,
            person_kind,
            name,
            class_id,
            details,
        } => {
            exec(
                conn,
                "INSERT INTO persons (id, kind, surname, name, patronymic, search_key, class_id, status,
                                      external_id, birth_date, phone, email, position, photo_sha256,
                                      enrolled_at_us, updated_at_us)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'active', ?8, ?9, ?10, ?11, ?12, NULL, ?13, ?13)
                 ON CONFLICT (id) DO NOTHING",
                params![
                    person_id.to_string(),
                    person_kind.as_str(),
                    name.surname,
                    name.name,
                    name.patronymic,
                    person_search_key(name, details),
                    class_id.map(|c| c.to_string()),
                    details.external_id,
                    details.birth_date.map(|d| d.to_string()),
                    details.phone,
                    details.email,
                    details.position,
                    at
                ],
            )?;
        }
        EventBody::PersonUpdated {
            person_id,
            name,
            details,
        } => {
            exec(
                conn,
                "UPDATE persons SET surname = ?2, name = ?3, patronymic = ?4, search_key = ?5,
                        external_id = ?6, birth_date = ?7, phone = ?8, email = ?9, position = ?10,
                        updated_at_us = ?11
                 WHERE id = ?1",
                params![
                    person_id.to_string(),
                    name.surname,
                    name.name,
                    name.patronymic,
                    person_search_key(name, details),
                    details.external_id,
                    details.birth_date.map(|d| d.to_string()),
                    details.phone,
                    details.email,
                    details.position,
                    at
                ],
            )?;
        }
        EventBody::PupilMoved {
            person_id,
            class_id,
        } => {
            exec(
                conn,
                "UPDATE persons SET class_id = ?2, updated_at_us = ?3 WHERE id = ?1",
                params![person_id.to_string(), class_id.to_string(), at],
            )?;
        }
        EventBody::PersonStatusChanged {
            person_id, status, ..
        } => {
            exec(
                conn,
                "UPDATE persons SET status = ?2, updated_at_us = ?3 WHERE id = ?1",
                params![person_id.to_string(), status.as_str(), at],
            )?;
            if *status == PersonStatus::Left {
                // A person who left holds no card: it goes back to the school's stock.
                exec(
                    conn,
                    "UPDATE cards SET person_id = NULL, state = ?2, changed_at_us = ?3 WHERE person_id = ?1",
                    params![person_id.to_string(), CardState::Returned.as_str(), at],
                )?;
                exec(
                    conn,
                    "UPDATE card_holdings SET released_at_us = ?2 WHERE person_id = ?1 AND released_at_us IS NULL",
                    params![person_id.to_string(), at],
                )?;
            }
        }
        EventBody::PhotoSet {
            person_id, sha256, ..
        } => {
            exec(
                conn,
                "UPDATE persons SET photo_sha256 = ?2, updated_at_us = ?3 WHERE id = ?1",
                params![person_id.to_string(), sha256, at],
            )?;
        }
        EventBody::GuardianLinked {
            guardian_id,
            pupil_id,
            relation,
        } => {
            exec(
                conn,
                "INSERT INTO guardianship (guardian_id, pupil_id, relation) VALUES (?1, ?2, ?3)
                 ON CONFLICT (guardian_id, pupil_id) DO UPDATE SET relation = excluded.relation",
                params![guardian_id.to_string(), pupil_id.to_string(), relation],
            )?;
        }
        EventBody::GuardianUnlinked {
            guardian_id,
            pupil_id,
        } => {
            exec(
                conn,
                "DELETE FROM guardianship WHERE guardian_id = ?1 AND pupil_id = ?2",
                params![guardian_id.to_string(), pupil_id.to_string()],
            )?;
        }
        EventBody::CardBound {
            card,
            person_id,
            raw,
        } => {
            exec(
                conn,
                "INSERT INTO cards (card_key, bits, low24, person_id, state, raw, changed_at_us)
                 VALUES (?1, ?2, ?3, ?4, 'active', ?5, ?6)
                 ON CONFLICT (card_key) DO UPDATE SET person_id = excluded.person_id, state = 'active',
                        raw = excluded.raw, changed_at_us = excluded.changed_at_us",
                params![card.to_string(), card.bits(), card.low24(), person_id.to_string(), raw, at],
            )?;
            // The earlier holder, if any, has it no more; this one holds it from now.
            exec(
                conn,
                "UPDATE card_holdings SET released_at_us = ?3
                 WHERE card_key = ?1 AND person_id != ?2 AND released_at_us IS NULL",
                params![card.to_string(), person_id.to_string(), at],
            )?;
            exec(
                conn,
                "INSERT INTO card_holdings (card_key, person_id, raw, bound_at_us, released_at_us)
                 VALUES (?1, ?2, ?3, ?4, NULL)
                 ON CONFLICT (card_key, person_id) DO UPDATE SET raw = excluded.raw,
                        bound_at_us = excluded.bound_at_us, released_at_us = NULL",
                params![card.to_string(), person_id.to_string(), raw, at],
            )?;
        }
        EventBody::CardStateChanged { card, state, .. } => {
            let holder_clause = if *state == CardState::Returned {
                ", person_id = NULL"
            } else {
                ""
            };
            exec(
                conn,
                &format!("UPDATE cards SET state = ?2, changed_at_us = ?3{holder_clause} WHERE card_key = ?1"),
                params![card.to_string(), state.as_str(), at],
            )?;
            if *state == CardState::Returned {
                exec(
                    conn,
                    "UPDATE card_holdings SET released_at_us = ?2 WHERE card_key = ?1 AND released_at_us IS NULL",
                    params![card.to_string(), at],
                )?;
            }
        }
        EventBody::StaffAccountOpened { person_id, login } => {
            exec(
                conn,
                "INSERT INTO staff_accounts (person_id, login) VALUES (?1, ?2)
                 ON CONFLICT (person_id) DO UPDATE SET login = excluded.login",
                params![person_id.to_string(), login],
            )?;
        }
        EventBody::StaffRolesSet { person_id, roles } => {
            exec(
                conn,
                "UPDATE staff_accounts SET roles = ?2 WHERE person_id = ?1",
                params![person_id.to_string(), roles_column(roles)],
            )?;
        }
        EventBody::StaffPasswordSet {
            person_id,
            password_hash,
        } => {
            exec(
                conn,
                "UPDATE staff_accounts SET password_hash = ?2 WHERE person_id = ?1",
                params![person_id.to_string(), password_hash],
            )?;
        }
        EventBody::StaffPinSet {
            person_id,
            pin_hash,
        } => {
            exec(
                conn,
                "UPDATE staff_accounts SET pin_hash = ?2 WHERE person_id = ?1",
                params![person_id.to_string(), pin_hash],
            )?;
        }
        EventBody::SignedIn { person_id, .. } => {
            exec(
                conn,
                "UPDATE staff_accounts SET failed_attempts = 0, locked_until_us = NULL, last_sign_in_us = ?2
                 WHERE person_id = ?1",
                params![person_id.to_string(), at],
            )?;
        }
        EventBody::SignInFailed { person_id, .. } => {
            if let Some(person_id) = person_id {
                exec(
                    conn,
                    "UPDATE staff_accounts SET failed_attempts = failed_attempts + 1 WHERE person_id = ?1",
                    [person_id.to_string()],
                )?;
            }
        }
        EventBody::AccountLocked { person_id, until } => {
            exec(
                conn,
                "UPDATE staff_accounts SET locked_until_us = ?2 WHERE person_id = ?1",
                params![person_id.to_string(), to_micros(*until)],
            )?;
        }
        EventBody::AccountUnlocked { person_id } => {
            exec(
                conn,
                "UPDATE staff_accounts SET failed_attempts = 0, locked_until_us = NULL WHERE person_id = ?1",
                [person_id.to_string()],
            )?;
        }
        EventBody::SignedOut { .. } => {}
        EventBody::RosterImported {
            file_name,
            sha256,
            rows,
            created,
            updated,
        } => {
            exec(
                conn,
                "INSERT INTO roster_imports (sha256, file_name, rows, created, updated, imported_at_us)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (sha256) DO UPDATE SET file_name = excluded.file_name, rows = excluded.rows,
                        created = excluded.created, updated = excluded.updated,
                        imported_at_us = excluded.imported_at_us",
                params![sha256, file_name, rows, created, updated, at],
            )?;
        }
        EventBody::PeripheralConfigured {
            peripheral_id,
            spec,
        } => {
            let spec_json = serde_json::to_string(spec).expect("peripheral specs serialize");
            exec(
                conn,
                "INSERT INTO peripherals (id, workstation, name, spec, updated_at_us)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, spec = excluded.spec,
                        updated_at_us = excluded.updated_at_us",
                params![
                    peripheral_id.to_string(),
                    event.origin.to_string(),
                    spec.name,
                    spec_json,
                    at
                ],
            )?;
        }
        EventBody::WorkstationPostSet { post, name } => {
            let post = serde_json::to_value(post).expect("posts serialize");
            exec(
                conn,
                "INSERT INTO workstation_posts (workstation, post, name, updated_at_us)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (workstation) DO UPDATE SET post = excluded.post,
                        name = excluded.name, updated_at_us = excluded.updated_at_us",
                params![event.origin.to_string(), post.as_str(), name, at],
            )?;
        }
        EventBody::GateOpenedByHand { .. } => {}
        EventBody::Passage {
            passage_id,
            card,
            raw,
            person_id,
            reader_id,
            gate_id,
            direction,
            school_date,
            decided_at,
            allowed,
            reason,
            flags,
            verified_by,
            outcome,
            note,
        } => {
            let person = person_id.map(|p| p.to_string());
            let gate = gate_id.map(|g| g.to_string());
            let direction_text = match direction {
                Direction::Entry => "entry",
                Direction::Exit => "exit",
            };
            exec(
                conn,
                "INSERT INTO passages (passage_id, at_us, decided_at_us, school_date, person_id,
                                       card_key, raw, reader_id, gate_id, direction, allowed,
                                       reason, flags, verified_by, outcome, note)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)
                 ON CONFLICT (passage_id) DO NOTHING",
                params![
                    passage_id.to_string(),
                    at,
                    to_micros(*decided_at),
                    school_date.to_string(),
                    person,
                    card.map(|c| c.to_string()),
                    raw,
                    reader_id.map(|r| r.to_string()),
                    gate,
                    direction_text,
                    allowed,
                    reason,
                    flags.join(","),
                    enum_text(verified_by),
                    enum_text(outcome),
                    note,
                ],
            )?;
            if let (Some(person), PassOutcome::Passed) = (&person, outcome) {
                let inside = *direction == Direction::Entry;
                exec(
                    conn,
                    "INSERT INTO presence (person_id, inside, at_us, gate_id) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (person_id) DO UPDATE SET inside = excluded.inside,
                            at_us = excluded.at_us, gate_id = excluded.gate_id
                     WHERE excluded.at_us >= presence.at_us",
                    params![person, inside, at, gate],
                )?;
                let (entry_us, exit_us) = if inside {
                    (Some(at), None)
                } else {
                    (None, Some(at))
                };
                exec(
                    conn,
                    "INSERT INTO attendance_days (school_date, person_id, first_entry_us, last_exit_us,
                                                 last_passage_us, entries, exits)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                     ON CONFLICT (school_date, person_id) DO UPDATE SET
                        first_entry_us = CASE
                            WHEN attendance_days.first_entry_us IS NULL THEN excluded.first_entry_us
                            WHEN excluded.first_entry_us IS NULL THEN attendance_days.first_entry_us
                            ELSE min(attendance_days.first_entry_us, excluded.first_entry_us) END,
                        last_exit_us = CASE
                            WHEN attendance_days.last_exit_us IS NULL THEN excluded.last_exit_us
                            WHEN excluded.last_exit_us IS NULL THEN attendance_days.last_exit_us
                            ELSE max(attendance_days.last_exit_us, excluded.last_exit_us) END,
                        last_passage_us = max(attendance_days.last_passage_us, excluded.last_passage_us),
                        entries = attendance_days.entries + excluded.entries,
                        exits = attendance_days.exits + excluded.exits",
                    params![
                        school_date.to_string(),
                        person,
                        entry_us,
                        exit_us,
                        at,
                        i64::from(inside),
                        i64::from(!inside)
                    ],
                )?;
            }
        }
        EventBody::EmergencyUnlocked { source, .. } => {
            exec(
                conn,
                "INSERT INTO emergency (singleton, active, since_us, source) VALUES (1, 1, ?1, ?2)
                 ON CONFLICT (singleton) DO UPDATE SET active = 1, since_us = excluded.since_us,
                        source = excluded.source",
                params![at, enum_text(source)],
            )?;
        }
        EventBody::EmergencyEnded { .. } => {
            exec(
                conn,
                "INSERT INTO emergency (singleton, active, since_us, source) VALUES (1, 0, ?1, '')
                 ON CONFLICT (singleton) DO UPDATE SET active = 0, since_us = excluded.since_us",
                params![at],
            )?;
        }
        EventBody::AccessRulesConfigured { rules } => {
            let rules = serde_json::to_string(rules).expect("access rules serialize");
            exec(
                conn,
                "INSERT INTO access_rules (singleton, rules, configured_at_us) VALUES (1, ?1, ?2)
                 ON CONFLICT (singleton) DO UPDATE SET rules = excluded.rules,
                        configured_at_us = excluded.configured_at_us",
                params![rules, at],
            )?;
        }
        EventBody::VisitorPassIssued {
            pass_id,
            person_id,
            card,
            document,
            visiting,
            valid_until,
        } => {
            exec(
                conn,
                "INSERT INTO visitor_passes (pass_id, person_id, card_key, document, visiting,
                                             issued_at_us, valid_until_us, closed_at_us)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL)
                 ON CONFLICT (pass_id) DO NOTHING",
                params![
                    pass_id.to_string(),
                    person_id.to_string(),
                    card.to_string(),
                    document,
                    visiting,
                    at,
                    to_micros(*valid_until)
                ],
            )?;
        }
        EventBody::VisitorPassClosed { pass_id } => {
            exec(
                conn,
                "UPDATE visitor_passes SET closed_at_us = ?2 WHERE pass_id = ?1 AND closed_at_us IS NULL",
                params![pass_id.to_string(), at],
            )?;
        }
        EventBody::RollCallStarted {
            roll_call_id,
            people,
        } => {
            exec(
                conn,
                "INSERT INTO roll_calls (roll_call_id, started_at_us, ended_at_us) VALUES (?1, ?2, NULL)
                 ON CONFLICT (roll_call_id) DO NOTHING",
                params![roll_call_id.to_string(), at],
            )?;
            for person in people {
                exec(
                    conn,
                    "INSERT INTO roll_call_people (roll_call_id, person_id, present, marked_at_us)
                     VALUES (?1, ?2, 0, NULL) ON CONFLICT (roll_call_id, person_id) DO NOTHING",
                    params![roll_call_id.to_string(), person.to_string()],
                )?;
            }
        }
        EventBody::RollCallMarked {
            roll_call_id,
            person_id,
            present,
        } => {
            exec(
                conn,
                "INSERT INTO roll_call_people (roll_call_id, person_id, present, marked_at_us)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (roll_call_id, person_id) DO UPDATE SET present = excluded.present,
                        marked_at_us = excluded.marked_at_us",
                params![roll_call_id.to_string(), person_id.to_string(), present, at],
            )?;
        }
        EventBody::RollCallEnded { roll_call_id } => {
            exec(
                conn,
                "UPDATE roll_calls SET ended_at_us = ?2 WHERE roll_call_id = ?1",
                params![roll_call_id.to_string(), at],
            )?;
        }
        EventBody::AttendanceCorrected {
            person_id,
            school_date,
            mark,
            reason,
        } => {
            exec(
                conn,
                "INSERT INTO attendance_corrections (school_date, person_id, mark, reason, corrected_at_us)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (school_date, person_id) DO UPDATE SET mark = excluded.mark,
                        reason = excluded.reason, corrected_at_us = excluded.corrected_at_us",
                params![
                    school_date.to_string(),
                    person_id.to_string(),
                    enum_text(mark),
                    reason,
                    at
                ],
            )?;
        }
        EventBody::CanteenConfigured { settings } => {
            exec(
                conn,
                "INSERT INTO canteen_settings (singleton, settings) VALUES (1, ?1)
                 ON CONFLICT (singleton) DO UPDATE SET settings = excluded.settings",
                [json_text(settings)],
            )?;
        }
        EventBody::ProductSaved { product } => {
            exec(
                conn,
                "INSERT INTO canteen_products (product_id, name, price, category, allergens)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (product_id) DO UPDATE SET name = excluded.name, price = excluded.price,
                        category = excluded.category, allergens = excluded.allergens",
                params![
                    product.product_id.to_string(),
                    product.name,
                    product.price.0,
                    product.category,
                    json_text(&product.allergens)
                ],
            )?;
        }
        EventBody::ComplexSaved { complex } => {
            exec(
                conn,
                "INSERT INTO canteen_complexes (complex_id, name, meal, grade_first, grade_last, price, payer)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (complex_id) DO UPDATE SET name = excluded.name, meal = excluded.meal,
                        grade_first = excluded.grade_first, grade_last = excluded.grade_last,
                        price = excluded.price, payer = excluded.payer",
                params![
                    complex.complex_id.to_string(),
                    complex.name,
                    enum_text(&complex.meal),
                    complex.grades.first,
                    complex.grades.last,
                    complex.price.0,
                    enum_text(&complex.payer)
                ],
            )?;
        }
        EventBody::DayMenuSet { school_date, items } => {
            exec(
                conn,
                "DELETE FROM canteen_menu WHERE school_date = ?1",
                [school_date.to_string()],
            )?;
            for item in items {
                exec(
                    conn,
                    "INSERT INTO canteen_menu (school_date, product_id, price) VALUES (?1, ?2, ?3)
                     ON CONFLICT (school_date, product_id) DO UPDATE SET price = excluded.price",
                    params![
                        school_date.to_string(),
                        item.product_id.to_string(),
                        item.price.0
                    ],
                )?;
            }
        }
        EventBody::BenefitCategorySaved { category } => {
            exec(
                conn,
                "INSERT INTO benefit_categories (category_id, name, meals) VALUES (?1, ?2, ?3)
                 ON CONFLICT (category_id) DO UPDATE SET name = excluded.name, meals = excluded.meals",
                params![
                    category.category_id.to_string(),
                    category.name,
                    json_text(&category.meals)
                ],
            )?;
        }
        EventBody::BenefitGranted { grant } => {
            exec(
                conn,
                "INSERT INTO benefit_grants (grant_id, person_id, category_id, valid_from, valid_to, document)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (grant_id) DO NOTHING",
                params![
                    grant.grant_id.to_string(),
                    grant.person_id.to_string(),
                    grant.category_id.to_string(),
                    grant.valid_from.to_string(),
                    grant.valid_to.to_string(),
                    grant.document
                ],
            )?;
        }
        EventBody::BenefitRevoked { grant_id, reason } => {
            exec(
                conn,
                "UPDATE benefit_grants SET revoked_at_us = ?2, revoke_reason = ?3
                 WHERE grant_id = ?1 AND revoked_at_us IS NULL",
                params![grant_id.to_string(), at, reason],
            )?;
        }
        EventBody::CanteenBanSet { person_id, ban } => {
            exec(
                conn,
                "INSERT INTO canteen_bans (ban_id, person_id, ban) VALUES (?1, ?2, ?3)
                 ON CONFLICT (ban_id) DO UPDATE SET person_id = excluded.person_id, ban = excluded.ban",
                params![ban.ban_id.to_string(), person_id.to_string(), json_text(ban)],
            )?;
        }
        EventBody::CanteenBanLifted { person_id, ban_id } => {
            exec(
                conn,
                "DELETE FROM canteen_bans WHERE ban_id = ?1 AND person_id = ?2",
                params![ban_id.to_string(), person_id.to_string()],
            )?;
        }
        EventBody::DailyLimitSet { person_id, limit } => match limit {
            Some(limit) => {
                exec(
                    conn,
                    "INSERT INTO canteen_limits (person_id, daily_limit) VALUES (?1, ?2)
                     ON CONFLICT (person_id) DO UPDATE SET daily_limit = excluded.daily_limit",
                    params![person_id.to_string(), limit.0],
                )?;
            }
            None => {
                exec(
                    conn,
                    "DELETE FROM canteen_limits WHERE person_id = ?1",
                    [person_id.to_string()],
                )?;
            }
        },
        EventBody::PreOrderPlaced {
            pre_order_id,
            person_id,
            complex_id,
            school_date,
            price,
        } => {
            let placed = exec(
                conn,
                "INSERT INTO canteen_pre_orders (pre_order_id, person_id, complex_id, school_date, price,
                                                 placed_at_us, cancelled_at_us)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL)
                 ON CONFLICT (pre_order_id) DO NOTHING",
                params![
                    pre_order_id.to_string(),
                    person_id.to_string(),
                    complex_id.to_string(),
                    school_date.to_string(),
                    price.0,
                    at
                ],
            )?;
            if placed == 1 {
                add_to_balance(conn, &person_id.to_string(), -price.0)?;
            }
        }
        EventBody::PreOrderCancelled { pre_order_id, .. } => {
            let open: Option<(String, i64)> = conn
                .prepare_cached(
                    "UPDATE canteen_pre_orders SET cancelled_at_us = ?2
                     WHERE pre_order_id = ?1 AND cancelled_at_us IS NULL
                     RETURNING person_id, price",
                )?
                .query_row(params![pre_order_id.to_string(), at], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?;
            if let Some((person, price)) = open {
                add_to_balance(conn, &person, price)?;
            }
        }
        EventBody::BalanceToppedUp {
            person_id, amount, ..
        }
        | EventBody::BalanceCorrected {
            person_id, amount, ..
        } => {
            add_to_balance(conn, &person_id.to_string(), amount.0)?;
        }
        EventBody::MealOrderMade {
            school_date,
            cut_off,
            lines,
        } => {
            let day = school_date.to_string();
            let made = exec(
                conn,
                "INSERT INTO meal_orders (school_date, cut_off_us, made_at_us) VALUES (?1, ?2, ?3)
                 ON CONFLICT (school_date) DO NOTHING",
                params![day, to_micros(*cut_off), at],
            )?;
            if made == 1 {
                for line in lines {
                    let class = line.class_id.to_string();
                    let complex = line.complex_id.to_string();
                    exec(
                        conn,
                        "INSERT INTO meal_order_lines (school_date, class_id, complex_id, price, payer, entitled)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                         ON CONFLICT (school_date, class_id, complex_id) DO UPDATE SET
                            entitled = excluded.entitled, price = excluded.price, payer = excluded.payer",
                        params![day, class, complex, line.price.0, enum_text(&line.payer), line.entitled],
                    )?;
                    let pupils = line.pupils.iter().map(|p| (p, "order"));
                    let paid = line.pre_ordered.iter().map(|p| (p, "pre_order"));
                    for (person, source) in pupils.chain(paid) {
                        exec(
                            conn,
                            "INSERT INTO meal_order_pupils (school_date, complex_id, person_id, class_id, source)
                             VALUES (?1, ?2, ?3, ?4, ?5)
                             ON CONFLICT (school_date, complex_id, person_id) DO NOTHING",
                            params![day, complex, person.to_string(), class, source],
                        )?;
                    }
                }
            }
        }
        EventBody::MealOrderCorrected {
            school_date,
            class_id,
            complex_id,
            person_id,
            price,
            payer,
            added,
            cause,
            ..
        } => {
            let day = school_date.to_string();
            if *added {
                exec(
                    conn,
                    "INSERT INTO meal_order_lines (school_date, class_id, complex_id, price, payer, entitled)
                     VALUES (?1, ?2, ?3, ?4, ?5, 0)
                     ON CONFLICT (school_date, class_id, complex_id) DO NOTHING",
                    params![day, class_id.to_string(), complex_id.to_string(), price.0, enum_text(payer)],
                )?;
                exec(
                    conn,
                    "INSERT INTO meal_order_pupils (school_date, complex_id, person_id, class_id, source)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (school_date, complex_id, person_id) DO NOTHING",
                    params![
                        day,
                        complex_id.to_string(),
                        person_id.to_string(),
                        class_id.to_string(),
                        enum_text(cause)
                    ],
                )?;
            } else {
                exec(
                    conn,
                    "DELETE FROM meal_order_pupils WHERE school_date = ?1 AND complex_id = ?2 AND person_id = ?3",
                    params![day, complex_id.to_string(), person_id.to_string()],
                )?;
            }
        }
        EventBody::MealServed {
            meal_id,
            person_id,
            complex_id,
            school_date,
            price,
            payer,
            overridden,
            reason,
        } => {
            exec(
                conn,
                "INSERT INTO meals_served (meal_id, school_date, person_id, complex_id, price, payer,
                                           at_us, origin, overridden, reason)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT (meal_id) DO NOTHING",
                params![
                    meal_id.to_string(),
                    school_date.to_string(),
                    person_id.to_string(),
                    complex_id.to_string(),
                    price.0,
                    enum_text(payer),
                    at,
                    event.origin.to_string(),
                    overridden.map(|o| o.as_str()),
                    reason
                ],
            )?;
        }
        EventBody::SaleMade {
            sale_id,
            person_id,
            school_date,
            lines,
            total,
        } => {
            let sold = exec(
                conn,
                "INSERT INTO canteen_sales (sale_id, person_id, school_date, at_us, origin, total, lines)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (sale_id) DO NOTHING",
                params![
                    sale_id.to_string(),
                    person_id.to_string(),
                    school_date.to_string(),
                    at,
                    event.origin.to_string(),
                    total.0,
                    json_text(lines)
                ],
            )?;
            if sold == 1 {
                add_to_balance(conn, &person_id.to_string(), -total.0)?;
            }
        }
        EventBody::SaleRefunded {
            sale_id,
            person_id,
            amount,
            reason,
        } => {
            let refunded = exec(
                conn,
                "UPDATE canteen_sales SET refunded_at_us = ?2, refund_reason = ?3
                 WHERE sale_id = ?1 AND refunded_at_us IS NULL",
                params![sale_id.to_string(), at, reason],
            )?;
            if refunded == 1 {
                add_to_balance(conn, &person_id.to_string(), amount.0)?;
            }
        }
        EventBody::ShiftOpened {
            shift_id,
            cashier_id,
        } => {
            exec(
                conn,
                "INSERT OR IGNORE INTO till_shifts (shift_id, origin, cashier_id, opened_at_us)
                 VALUES (?1, ?2, ?3, ?4)",
                params![
                    shift_id.to_string(),
                    event.origin.as_str(),
                    cashier_id.to_string(),
                    at
                ],
            )?;
        }
        EventBody::ShiftClosed { shift_id } => {
            exec(
                conn,
                "UPDATE till_shifts SET closed_at_us = ?2 WHERE shift_id = ?1 AND closed_at_us IS NULL",
                params![shift_id.to_string(), at],
            )?;
        }
        // Its titles and copies are their own events; a repeated import is recognised by
        // its plan being empty, so nothing is kept of the import itself.
        EventBody::CatalogueImported { .. } => {}
        // A record of the restore for people reading the journal; the restored tables
        // are the backup's own.
        EventBody::BackupRestored { .. } => {}
        EventBody::BookTitleSaved { title } => {
            let search = search_key(&format!("{} {}", title.title, title.authors.join(" ")));
            exec(
                conn,
                "INSERT INTO library_titles (title_id, title, authors, isbn, publisher, year, subject,
                                             age_mark, search_key, saved_at_us)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT (title_id) DO UPDATE SET title = excluded.title, authors = excluded.authors,
                        isbn = excluded.isbn, publisher = excluded.publisher, year = excluded.year,
                        subject = excluded.subject, age_mark = excluded.age_mark,
                        search_key = excluded.search_key, saved_at_us = excluded.saved_at_us",
                params![
                    title.title_id.to_string(),
                    title.title,
                    json_text(&title.authors),
                    title.isbn.as_ref().map(|i| i.as_str().to_owned()),
                    title.publisher,
                    title.year,
                    title.subject,
                    title.age_mark.as_str(),
                    search,
                    at
                ],
            )?;
        }
        EventBody::BookCopyAdded { copy } => {
            // A barcode is added once; a second add of it (two desks at once) changes the
            // copy's details but never its state.
            exec(
                conn,
                "INSERT INTO library_copies (barcode, title_id, location, item_type, state, note,
                                             added_at_us, changed_at_us)
                 VALUES (?1, ?2, ?3, ?4, 'on_shelf', '', ?5, ?5)
                 ON CONFLICT (barcode) DO UPDATE SET title_id = excluded.title_id,
                        location = excluded.location, item_type = excluded.item_type",
                params![
                    copy.barcode,
                    copy.title_id.to_string(),
                    copy.location,
                    copy.item_type.as_str(),
                    at
                ],
            )?;
        }
        EventBody::BookCopyStateChanged {
            barcode,
            state,
            note,
        } => {
            exec(
                conn,
                "UPDATE library_copies SET state = ?2, note = ?3, changed_at_us = ?4 WHERE barcode = ?1",
                params![barcode, state.as_str(), note, at],
            )?;
            if matches!(state, CopyState::Lost | CopyState::WrittenOff) {
                // The reader's loan of a copy that is gone ends with it.
                exec(
                    conn,
                    "UPDATE library_loans SET returned_at_us = ?2, outcome = ?3, note = ?4
                     WHERE barcode = ?1 AND returned_at_us IS NULL",
                    params![barcode, at, state.as_str(), note],
                )?;
            }
        }
        EventBody::BookIssued {
            loan_id,
            barcode,
            person_id,
            due,
        } => {
            let new = exec(
                conn,
                "INSERT INTO library_loans (loan_id, barcode, person_id, issued_at_us, due, renewals)
                 VALUES (?1, ?2, ?3, ?4, ?5, 0)
                 ON CONFLICT (loan_id) DO NOTHING",
                params![
                    loan_id.to_string(),
                    barcode,
                    person_id.to_string(),
                    at,
                    due.to_string()
                ],
            )?;
            if new > 0 {
                exec(
                    conn,
                    "UPDATE library_copies SET state = 'on_loan', changed_at_us = ?2 WHERE barcode = ?1",
                    params![barcode, at],
                )?;
            }
        }
        EventBody::BookReturned {
            loan_id,
            barcode,
            note,
        } => {
            let closed = exec(
                conn,
                "UPDATE library_loans SET returned_at_us = ?2, outcome = 'returned', note = ?3
                 WHERE loan_id = ?1 AND returned_at_us IS NULL",
                params![loan_id.to_string(), at, note],
            )?;
            if closed > 0 {
                exec(
                    conn,
                    "UPDATE library_copies SET state = 'on_shelf', note = ?2, changed_at_us = ?3
                     WHERE barcode = ?1",
                    params![barcode, note, at],
                )?;
            }
        }
        EventBody::BookOverdueNotice { loan_id, .. } => {
            exec(
                conn,
                "UPDATE library_loans SET noticed_at_us = ?2 WHERE loan_id = ?1",
                params![loan_id.to_string(), at],
            )?;
        }
        EventBody::BookRenewed { loan_id, due } => {
            exec(
                conn,
                "UPDATE library_loans SET due = ?2, renewals = renewals + 1
                 WHERE loan_id = ?1 AND returned_at_us IS NULL",
                params![loan_id.to_string(), due.to_string()],
            )?;
        }
        EventBody::StocktakeStarted {
            stocktake_id,
            scope_location,
        } => {
            exec(
                conn,
                "INSERT OR IGNORE INTO stocktakes (stocktake_id, scope_location, started_at_us, started_by)
                 VALUES (?1, ?2, ?3, ?4)",
                params![stocktake_id.to_string(), scope_location, at, event.actor],
            )?;
        }
        EventBody::StocktakeScanned {
            stocktake_id,
            barcodes,
            location,
        } => {
            // Scans pulled from another desk after the close are facts too: kept.
            for barcode in barcodes {
                exec(
                    conn,
                    "INSERT INTO stocktake_scans (stocktake_id, barcode, location,
                                                  first_scanned_at_us, last_scanned_at_us, times)
                     VALUES (?1, ?2, ?3, ?4, ?4, 1)
                     ON CONFLICT (stocktake_id, barcode) DO UPDATE SET location = excluded.location,
                            last_scanned_at_us = excluded.last_scanned_at_us, times = times + 1",
                    params![stocktake_id.to_string(), barcode, location, at],
                )?;
            }
        }
        EventBody::StocktakeClosed { stocktake_id } => {
            exec(
                conn,
                "UPDATE stocktakes SET closed_at_us = ?2 WHERE stocktake_id = ?1 AND closed_at_us IS NULL",
                params![stocktake_id.to_string(), at],
            )?;
        }
        EventBody::PeripheralRemoved { peripheral_id } => {
            exec(
                conn,
                "DELETE FROM peripherals WHERE id = ?1",
                [peripheral_id.to_string()],
            )?;
        }
    }
    Ok(())
}

/// The snake_case text of a unit enum, as serde writes it.
fn enum_text<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(text)) => text,
        other => unreachable!("a unit enum serializes to a string, not {other:?}"),
    }
}

/// A balance moved by `delta_kopecks` (a pupil without a row starts at zero).
fn add_to_balance(conn: &Connection, person_id: &str, delta_kopecks: i64) -> rusqlite::Result<()> {
    exec(
        conn,
        "INSERT INTO canteen_accounts (person_id, balance) VALUES (?1, ?2)
         ON CONFLICT (person_id) DO UPDATE SET balance = balance + excluded.balance",
        params![person_id, delta_kopecks],
    )?;
    Ok(())
}

/// A value stored whole, as its JSON.
fn json_text<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).expect("projection values serialize")
}

/// Runs one statement through the connection's statement cache: `apply` runs for every
/// event, and re-preparing the same SQL each time would be most of its cost.
fn exec(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute(params)
}

/// Searchable text: the full name in both orders' worth of words, plus the school's id.
fn person_search_key(name: &FullName, details: &PersonDetails) -> String {
    let mut key = search_key(&name.display());
    if let Some(ext) = &details.external_id {
        key.push(' ');
        key.push_str(&search_key(ext));
    }
    key
}

/// Roles as stored: a sorted, comma-separated list, e.g. `admin,guard`.
pub fn roles_column(roles: &[Role]) -> String {
    let mut sorted: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
    sorted.sort_unstable();
    sorted.dedup();
    sorted.join(",")
}

pub fn parse_roles_column(s: &str) -> Vec<Role> {
    s.split(',').filter_map(Role::parse).collect()
}
