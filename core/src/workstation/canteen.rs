//! The canteen at the workstation (СОП): the admin's catalogue, menus, benefits,
//! parents' bans and limits, pre-orders and balances; the day's meal order at the
//! cut-off and its corrections; the cashier's till (free meals, buffet baskets,
//! refunds, "serve the class"); the director's period report and the till's anomaly
//! for the security post. The rules are `crate::canteen`'s; this file reads the
//! projections they need and appends the events.
//!
//! A till verdict that refuses is an answer, not an error: `{"ok": false, "reason":
//! "<till reason>"}`; refused attempts are not journaled (what was served or sold is).
//! A sale or a meal carries the till's own id: asked again (a retry after a crash or a
//! lost reply), the first answer is given again and nothing is charged twice.

use super::{check_title, class_label, name_at, Workstation};
use crate::access::GradeBand;
use crate::canteen::till::OfflineSpend;
use crate::canteen::{
    self, available, decide_free_meal, decide_sale, entitlements, Allergen, Ban, BanHours,
    BanTarget, BasketLine, BenefitCategory, BenefitCategoryId, BenefitGrant, CanteenSettings,
    Complex, ComplexId, Entitlement, MealKind, MealVerdict, MenuItem, OrderPupil, PaidPreOrder,
    Payer, Product, ProductId, Purse, SaleCheck, SaleRefusal, SaleTotal, TillReason,
};
use crate::director::meals::meals_by_day;
use crate::director::shifts::{shift_takings, ShiftTakings};
use crate::domain::{CardState, ClassId, PersonId, GRADE_MAX, GRADE_MIN};
use crate::error::{CoreError, CoreResult, Refusal};
use crate::events::{EventBody, OrderCorrectionCause};
use crate::money::Kopecks;
use crate::time::{from_micros, to_micros, SchoolDate};
use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use uuid::Uuid;

/// Longest product, complex or category name.
pub const CANTEEN_NAME_LEN_MAX_CHARS: usize = 120;
/// Longest reason for an override, a refund, an adjustment or a correction.
pub const CANTEEN_REASON_LEN_MAX_CHARS: usize = 300;
/// Longest document a benefit rests on.
pub const BENEFIT_DOCUMENT_LEN_MAX_CHARS: usize = 300;
/// The dearest price or single top-up taken: 100 000 ₽ is no school meal; a typo is.
pub const AMOUNT_MAX_KOPECKS: i64 = 10_000_000;
/// Products on one day's menu.
pub const MENU_ITEMS_MAX: usize = 300;
/// Allergen tags on one product.
pub const ALLERGENS_PER_PRODUCT_MAX: usize = 20;
/// A menu file larger than this is no menu: a page of products is a few KiB.
pub const MENU_FILE_BYTES_MAX: u64 = 4 * 1024 * 1024;
/// Days one period report covers: a school year and some.
pub const REPORT_DAYS_MAX: i64 = 400;

impl Workstation {
    // ---- reading what is configured ----

    pub(super) fn canteen_catalogue(&self) -> CoreResult<Value> {
        let conn = self.store.conn();
        Ok(json!({
            "settings": canteen_settings(conn)?,
            "products": products(conn)?,
            "complexes": complexes(conn)?,
            "benefit_categories": benefit_categories(conn)?,
            "eu_allergens": canteen::EU_ALLERGENS,
        }))
    }

    pub(super) fn day_menu(&self, date: Option<&str>, now: DateTime<Utc>) -> CoreResult<Value> {
        let date = self.day_or_today(date, now)?;
        let conn = self.store.conn();
        let products = products(conn)?;
        let items: Vec<Value> = menu(conn, date)?
            .into_iter()
            .filter_map(|item| {
                let p = products.iter().find(|p| p.product_id == item.product_id)?;
                Some(json!({
                    "product_id": item.product_id, "name": p.name, "category": p.category,
                    "allergens": p.allergens, "price": item.price,
                }))
            })
            .collect();
        Ok(json!({ "date": date.0, "items": items }))
    }

    /// A pupil's canteen record for the admin: balance, limit, bans, grants, pre-orders.
    pub(super) fn pupil_canteen(&self, person_id: PersonId) -> CoreResult<Value> {
        let conn = self.store.conn();
        pupil_facts(conn, person_id)?;
        let grants: Vec<Value> = {
            let mut st = conn.prepare_cached(
                "SELECT grant_id, category_id, valid_from, valid_to, document, revoked_at_us, revoke_reason
                 FROM benefit_grants WHERE person_id = ?1 ORDER BY valid_from",
            )?;
            let rows = st.query_map([person_id.to_string()], |r| {
                Ok(json!({
                    "grant_id": r.get::<_, String>(0)?, "category_id": r.get::<_, String>(1)?,
                    "valid_from": r.get::<_, String>(2)?, "valid_to": r.get::<_, String>(3)?,
                    "document": r.get::<_, String>(4)?,
                    "revoked_at": r.get::<_, Option<i64>>(5)?.map(from_micros),
                    "revoke_reason": r.get::<_, String>(6)?,
                }))
            })?;
            rows.collect::<Result<_, _>>()?
        };
        let pre_orders: Vec<Value> = {
            let mut st = conn.prepare_cached(
                "SELECT pre_order_id, complex_id, school_date, price, cancelled_at_us
                 FROM canteen_pre_orders WHERE person_id = ?1 ORDER BY school_date",
            )?;
            let rows = st.query_map([person_id.to_string()], |r| {
                Ok(json!({
                    "pre_order_id": r.get::<_, String>(0)?, "complex_id": r.get::<_, String>(1)?,
                    "date": r.get::<_, String>(2)?, "price": r.get::<_, i64>(3)?,
                    "cancelled": r.get::<_, Option<i64>>(4)?.is_some(),
                }))
            })?;
            rows.collect::<Result<_, _>>()?
        };
        Ok(json!({
            "person_id": person_id,
            "balance": balance(conn, person_id)?,
            "daily_limit": daily_limit(conn, person_id)?,
            "bans": bans(conn, person_id)?,
            "grants": grants,
            "pre_orders": pre_orders,
        }))
    }

    // ---- the admin's configuration ----

    pub(super) fn configure_canteen(
        &mut self,
        actor: &str,
        settings: CanteenSettings,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        check_amount("overdraft_floor", settings.overdraft_floor)?;
        check_amount("offline_budget", settings.offline_budget)?;
        self.store
            .write(|w| w.append(actor, now, EventBody::CanteenConfigured { settings }))?;
        Ok(json!({ "settings": settings }))
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn save_product(
        &mut self,
        actor: &str,
        product_id: Option<ProductId>,
        name: &str,
        price: Kopecks,
        category: &str,
        allergens: &[String],
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        let name = check_title("name", name, CANTEEN_NAME_LEN_MAX_CHARS)?;
        let category = check_title("category", category, CANTEEN_NAME_LEN_MAX_CHARS)?;
        check_amount("price", price)?;
        if allergens.len() > ALLERGENS_PER_PRODUCT_MAX {
            return Err(too_many("allergens", ALLERGENS_PER_PRODUCT_MAX));
        }
        let mut tags = Vec::with_capacity(allergens.len());
        for tag in allergens {
            let reason = if tag.trim().is_empty() {
                Refusal::Empty
            } else {
                Refusal::TooLong
            };
            let tag = Allergen::new(tag).map_err(|message| {
                CoreError::invalid("allergens", reason, message)
                    .with("value", tag)
                    .with("max", canteen::catalogue::ALLERGEN_LEN_MAX_CHARS)
            })?;
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        let product = Product {
            product_id: product_id.unwrap_or_else(ProductId::new_v7),
            name,
            price,
            category,
            allergens: tags,
        };
        self.store.write(|w| {
            w.append(
                actor,
                now,
                EventBody::ProductSaved {
                    product: product.clone(),
                },
            )
        })?;
        Ok(json!({ "product": product }))
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn save_complex(
        &mut self,
        actor: &str,
        complex_id: Option<ComplexId>,
        name: &str,
        meal: MealKind,
        grades: GradeBand,
        price: Kopecks,
        payer: Payer,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        let name = check_title("name", name, CANTEEN_NAME_LEN_MAX_CHARS)?;
        check_amount("price", price)?;
        for grade in [grades.first, grades.last] {
            if !(GRADE_MIN..=GRADE_MAX).contains(&grade) || grades.first > grades.last {
                return Err(CoreError::invalid(
                    "grades",
                    Refusal::OutOfRange,
                    format!("grades {}–{}", grades.first, grades.last),
                )
                .with("value", grade)
                .with("min", GRADE_MIN)
                .with("max", GRADE_MAX));
            }
        }
        let complex = Complex {
            complex_id: complex_id.unwrap_or_else(ComplexId::new_v7),
            name,
            meal,
            grades,
            price,
            payer,
        };
        self.store.write(|w| {
            w.append(
                actor,
                now,
                EventBody::ComplexSaved {
                    complex: complex.clone(),
                },
            )
        })?;
        Ok(json!({ "complex": complex }))
    }

    pub(super) fn set_day_menu(
        &mut self,
        actor: &str,
        date: Option<&str>,
        items: Vec<MenuItem>,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        let date = self.day_or_today(date, now)?;
        if items.len() > MENU_ITEMS_MAX {
            return Err(too_many("items", MENU_ITEMS_MAX));
        }
        let known: HashSet<ProductId> = products(self.store.conn())?
            .into_iter()
            .map(|p| p.product_id)
            .collect();
        for item in &items {
            check_amount("price", item.price)?;
            if !known.contains(&item.product_id) {
                return Err(CoreError::not_found(format!("product {}", item.product_id)));
            }
        }
        let items: Vec<MenuItem> = {
            // The last price given for a product wins; one line per product.
            let mut by_product: BTreeMap<ProductId, Kopecks> = BTreeMap::new();
            for item in &items {
                by_product.insert(item.product_id, item.price);
            }
            by_product
                .into_iter()
                .map(|(product_id, price)| MenuItem { product_id, price })
                .collect()
        };
        self.store.write(|w| {
            w.append(
                actor,
                now,
                EventBody::DayMenuSet {
                    school_date: date.0,
                    items,
                },
            )
        })?;
        self.day_menu(Some(&date.0.to_string()), now)
    }

    /// A day's menu from the supplier's file (XLSX, XLS, ODS or CSV): products matched by
    /// name (case aside); an unknown one is added to the list when its row names a
    /// category. All or nothing: with any issue, nothing is written and every issue is
    /// listed. `dry_run` checks without writing.
    pub(super) fn import_day_menu(
        &mut self,
        actor: &str,
        path: &std::path::Path,
        date: Option<&str>,
        dry_run: bool,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        use crate::canteen::menu_file::{read_menu, MenuColumn, MenuIssue};
        let date = self.day_or_today(date, now)?;
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let cannot = |e: std::io::Error| super::cannot_read(path, e);
        let len_bytes = std::fs::metadata(path).map_err(cannot)?.len();
        if len_bytes > MENU_FILE_BYTES_MAX {
            return Err(CoreError::invalid(
                "path",
                Refusal::FileTooLarge,
                format!("{file_name} is {len_bytes} bytes"),
            )
            .with("path", path.display())
            .with("max_mib", MENU_FILE_BYTES_MAX / 1024 / 1024));
        }
        let bytes = std::fs::read(path).map_err(cannot)?;
        let issues = |issues: Vec<MenuIssue>| Ok(json!({ "ok": false, "issues": issues }));
        let table = match crate::roster::read::read_table(&file_name, &bytes) {
            Ok((_, table)) => table,
            Err(issue) => {
                return Ok(json!({ "ok": false, "file_error": issue }));
            }
        };
        let rows = match read_menu(&table) {
            Ok(rows) => rows,
            Err(found) => return issues(found),
        };
        let known = products(self.store.conn())?;
        let mut new_products = Vec::new();
        let mut items = Vec::with_capacity(rows.len());
        let mut missing = Vec::new();
        for row in rows {
            if row.price.0 > AMOUNT_MAX_KOPECKS {
                missing.push(MenuIssue {
                    row: row.row,
                    column: Some(MenuColumn::Price),
                    code: "bad_price",
                    value: row.price.0.to_string(),
                });
                continue;
            }
            let found = known
                .iter()
                .find(|p| p.name.to_lowercase() == row.name.to_lowercase());
            let product_id = match (found, &row.category) {
                (Some(p), _) => p.product_id,
                (None, Some(category)) => {
                    let product = Product {
                        product_id: ProductId::new_v7(),
                        name: check_title("name", &row.name, CANTEEN_NAME_LEN_MAX_CHARS)?,
                        price: row.price,
                        category: check_title("category", category, CANTEEN_NAME_LEN_MAX_CHARS)?,
                        allergens: row.allergens.clone(),
                    };
                    let id = product.product_id;
                    new_products.push(product);
                    id
                }
                (None, None) => {
                    missing.push(MenuIssue {
                        row: row.row,
                        column: Some(MenuColumn::Category),
                        code: "needs_category",
                        value: row.name.clone(),
                    });
                    continue;
                }
            };
            items.push(MenuItem {
                product_id,
                price: row.price,
            });
        }
        if !missing.is_empty() {
            return issues(missing);
        }
        let created = new_products.len();
        let listed = items.len();
        if !dry_run {
            self.store.write(|w| {
                for product in new_products {
                    w.append(actor, now, EventBody::ProductSaved { product })?;
                }
                w.append(
                    actor,
                    now,
                    EventBody::DayMenuSet {
                        school_date: date.0,
                        items,
                    },
                )
            })?;
        }
        Ok(json!({
            "ok": true, "date": date.0, "items": listed, "products_created": created,
            "written": !dry_run,
        }))
    }

    pub(super) fn save_benefit_category(
        &mut self,
        actor: &str,
        category_id: Option<BenefitCategoryId>,
        name: &str,
        meals: Vec<MealKind>,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        let name = check_title("name", name, CANTEEN_NAME_LEN_MAX_CHARS)?;
        let meals: Vec<MealKind> = meals
            .into_iter()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let category = BenefitCategory {
            category_id: category_id.unwrap_or_else(BenefitCategoryId::new_v7),
            name,
            meals,
        };
        self.store.write(|w| {
            w.append(
                actor,
                now,
                EventBody::BenefitCategorySaved {
                    category: category.clone(),
                },
            )
        })?;
        Ok(json!({ "category": category }))
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn grant_benefit(
        &mut self,
        actor: &str,
        person_id: PersonId,
        category_id: BenefitCategoryId,
        valid_from: &str,
        valid_to: &str,
        document: &str,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        let conn = self.store.conn();
        pupil_facts(conn, person_id)?;
        if !benefit_categories(conn)?
            .iter()
            .any(|c| c.category_id == category_id)
        {
            return Err(CoreError::not_found(format!(
                "benefit category {category_id}"
            )));
        }
        let valid_from = parse_day("valid_from", valid_from)?;
        let valid_to = parse_day("valid_to", valid_to)?;
        if valid_to < valid_from {
            return Err(CoreError::invalid(
                "valid_to",
                Refusal::OutOfRange,
                "the end is before the start",
            )
            .with("value", valid_to)
            .with("min", valid_from));
        }
        let document = check_title("document", document, BENEFIT_DOCUMENT_LEN_MAX_CHARS)?;
        let grant = BenefitGrant {
            grant_id: Uuid::now_v7(),
            person_id,
            category_id,
            valid_from,
            valid_to,
            document,
        };
        self.store.write(|w| {
            w.append(
                actor,
                now,
                EventBody::BenefitGranted {
                    grant: grant.clone(),
                },
            )
        })?;
        Ok(json!({ "grant": grant }))
    }

    pub(super) fn revoke_benefit(
        &mut self,
        actor: &str,
        grant_id: Uuid,
        reason: &str,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        let reason = check_title("reason", reason, CANTEEN_REASON_LEN_MAX_CHARS)?;
        let open: Option<Option<i64>> = self
            .store
            .conn()
            .query_row(
                "SELECT revoked_at_us FROM benefit_grants WHERE grant_id = ?1",
                [grant_id.to_string()],
                |r| r.get(0),
            )
            .optional()?;
        match open {
            None => return Err(CoreError::not_found(format!("grant {grant_id}"))),
            Some(Some(_)) => {
                return Err(CoreError::conflict(
                    Refusal::AlreadyRevoked,
                    "the grant is revoked already",
                ))
            }
            Some(None) => {}
        }
        self.store
            .write(|w| w.append(actor, now, EventBody::BenefitRevoked { grant_id, reason }))?;
        Ok(json!({}))
    }

    pub(super) fn set_canteen_ban(
        &mut self,
        actor: &str,
        person_id: PersonId,
        target: BanTarget,
        hours: Option<BanHours>,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        let conn = self.store.conn();
        pupil_facts(conn, person_id)?;
        let target = match target {
            BanTarget::Product(id) => {
                if !products(conn)?.iter().any(|p| p.product_id == id) {
                    return Err(CoreError::not_found(format!("product {id}")));
                }
                BanTarget::Product(id)
            }
            BanTarget::Category(c) => {
                BanTarget::Category(check_title("category", &c, CANTEEN_NAME_LEN_MAX_CHARS)?)
            }
            BanTarget::Allergen(a) => BanTarget::Allergen(a),
        };
        let ban = Ban {
            ban_id: Uuid::now_v7(),
            target,
            hours,
        };
        self.store.write(|w| {
            w.append(
                actor,
                now,
                EventBody::CanteenBanSet {
                    person_id,
                    ban: ban.clone(),
                },
            )
        })?;
        Ok(json!({ "ban": ban }))
    }

    pub(super) fn lift_canteen_ban(
        &mut self,
        actor: &str,
        person_id: PersonId,
        ban_id: Uuid,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        if !bans(self.store.conn(), person_id)?
            .iter()
            .any(|b| b.ban_id == ban_id)
        {
            return Err(CoreError::not_found(format!("ban {ban_id}")));
        }
        self.store.write(|w| {
            w.append(
                actor,
                now,
                EventBody::CanteenBanLifted { person_id, ban_id },
            )
        })?;
        Ok(json!({}))
    }

    pub(super) fn set_daily_limit(
        &mut self,
        actor: &str,
        person_id: PersonId,
        limit: Option<Kopecks>,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        pupil_facts(self.store.conn(), person_id)?;
        if let Some(limit) = limit {
            check_amount("limit", limit)?;
        }
        self.store
            .write(|w| w.append(actor, now, EventBody::DailyLimitSet { person_id, limit }))?;
        Ok(json!({ "daily_limit": limit }))
    }

    pub(super) fn place_pre_order(
        &mut self,
        actor: &str,
        person_id: PersonId,
        complex_id: ComplexId,
        date: &str,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        let date = SchoolDate(parse_day("date", date)?);
        let tz = self.school_tz()?;
        let conn = self.store.conn();
        let pupil = pupil_facts(conn, person_id)?;
        let complex = complexes(conn)?
            .into_iter()
            .find(|c| c.complex_id == complex_id)
            .ok_or_else(|| CoreError::not_found(format!("complex {complex_id}")))?;
        if complex.payer.is_budget() || !complex.grades.contains(pupil.grade) {
            return Err(CoreError::conflict(
                Refusal::NotOrderable,
                "only a parents' complex of the pupil's grade is ordered in advance",
            ));
        }
        if order_made(conn, date)? || date < tz.school_date(now) {
            return Err(CoreError::conflict(
                Refusal::OrderClosed,
                "the day's order is made already",
            )
            .with("date", date.0));
        }
        let already: bool = conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM canteen_pre_orders WHERE school_date = ?1
                 AND person_id = ?2 AND complex_id = ?3 AND cancelled_at_us IS NULL)",
            params![
                date.0.to_string(),
                person_id.to_string(),
                complex_id.to_string()
            ],
            |r| r.get(0),
        )?;
        if already {
            return Err(CoreError::conflict(
                Refusal::AlreadyPreOrdered,
                "the pupil has this complex ordered for the day already",
            )
            .with("date", date.0));
        }
        let settings = canteen_settings(conn)?;
        let purse = purse(conn, person_id, &settings)?;
        if available(purse) < complex.price {
            return Err(CoreError::conflict(
                Refusal::InsufficientBalance,
                "the balance does not cover the price",
            )
            .with("price", complex.price)
            .with("balance", purse.balance));
        }
        let pre_order_id = Uuid::now_v7();
        self.store.write(|w| {
            w.append(
                actor,
                now,
                EventBody::PreOrderPlaced {
                    pre_order_id,
                    person_id,
                    complex_id,
                    school_date: date.0,
                    price: complex.price,
                },
            )
        })?;
        Ok(json!({ "pre_order_id": pre_order_id, "price": complex.price }))
    }

    pub(super) fn cancel_pre_order(
        &mut self,
        actor: &str,
        pre_order_id: Uuid,
        reason: &str,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        let reason = check_title("reason", reason, CANTEEN_REASON_LEN_MAX_CHARS)?;
        let conn = self.store.conn();
        let row: Option<(String, Option<i64>)> = conn
            .query_row(
                "SELECT school_date, cancelled_at_us FROM canteen_pre_orders WHERE pre_order_id = ?1",
                [pre_order_id.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((date, cancelled)) = row else {
            return Err(CoreError::not_found(format!("pre-order {pre_order_id}")));
        };
        let date = SchoolDate(parse_day("date", &date)?);
        if cancelled.is_some() || order_made(conn, date)? {
            return Err(CoreError::conflict(
                Refusal::OrderClosed,
                "cancelled already, or the day's order is made",
            )
            .with("date", date.0));
        }
        self.store.write(|w| {
            w.append(
                actor,
                now,
                EventBody::PreOrderCancelled {
                    pre_order_id,
                    reason,
                },
            )
        })?;
        Ok(json!({}))
    }

    pub(super) fn top_up_balance(
        &mut self,
        actor: &str,
        person_id: PersonId,
        amount: Kopecks,
        note: &str,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        pupil_facts(self.store.conn(), person_id)?;
        if amount.0 <= 0 {
            return Err(out_of_range("amount", amount.0, 1, AMOUNT_MAX_KOPECKS));
        }
        check_amount("amount", amount)?;
        let note = note
            .trim()
            .chars()
            .take(CANTEEN_REASON_LEN_MAX_CHARS)
            .collect();
        self.store.write(|w| {
            w.append(
                actor,
                now,
                EventBody::BalanceToppedUp {
                    person_id,
                    amount,
                    note,
                },
            )
        })?;
        Ok(json!({ "balance": balance(self.store.conn(), person_id)? }))
    }

    pub(super) fn correct_balance(
        &mut self,
        actor: &str,
        person_id: PersonId,
        amount: Kopecks,
        reason: &str,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        pupil_facts(self.store.conn(), person_id)?;
        if amount.0 == 0 || amount.0.abs() > AMOUNT_MAX_KOPECKS {
            return Err(out_of_range(
                "amount",
                amount.0,
                -AMOUNT_MAX_KOPECKS,
                AMOUNT_MAX_KOPECKS,
            ));
        }
        let reason = check_title("reason", reason, CANTEEN_REASON_LEN_MAX_CHARS)?;
        self.store.write(|w| {
            w.append(
                actor,
                now,
                EventBody::BalanceCorrected {
                    person_id,
                    amount,
                    reason,
                },
            )
        })?;
        Ok(json!({ "balance": balance(self.store.conn(), person_id)? }))
    }

    // ---- the day's meal order ----

    /// The order per class and complex for `date` as it would be made now: present =
    /// in by `until` (the cut-off, or `now` for a forecast or late arrivals).
    fn order_pupils(
        &self,
        date: SchoolDate,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> CoreResult<(Vec<OrderPupil>, Vec<PaidPreOrder>)> {
        let rules = self.access_rules(now)?;
        let conn = self.store.conn();
        let complexes = complexes(conn)?;
        let categories = benefit_categories(conn)?;
        let mut grants = grants_by_person(conn)?;
        let present = present_by(conn, date, until)?;
        let mut pupils = Vec::new();
        let mut classes: HashMap<PersonId, ClassId> = HashMap::new();
        let mut st = conn.prepare_cached(
            "SELECT p.id, c.id, c.grade FROM persons p JOIN classes c ON c.id = p.class_id
             WHERE p.kind = 'pupil' AND p.status = 'active'
             ORDER BY c.grade, c.letter, p.surname, p.name, p.id",
        )?;
        let rows = st.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, u8>(2)?,
            ))
        })?;
        for row in rows {
            let (person, class, grade) = row?;
            let (Ok(person_id), Ok(class_id)) = (person.parse(), class.parse()) else {
                continue;
            };
            classes.insert(person_id, class_id);
            // No lessons, no order: the entitled of a day off are no saving.
            if !rules.calendar.pupil_day(date, grade).is_working() {
                continue;
            }
            let own = grants.remove(&person_id).unwrap_or_default();
            pupils.push(OrderPupil {
                person_id,
                class_id,
                entitlements: entitlements(grade, date, &own, &categories, &complexes),
                present: present.contains(&person_id),
            });
        }
        let mut pre_orders = Vec::new();
        for (person_id, complex_id, price) in active_pre_orders(conn, date)? {
            let (Some(class_id), Some(complex)) = (
                classes.get(&person_id),
                complexes.iter().find(|c| c.complex_id == complex_id),
            ) else {
                continue;
            };
            pre_orders.push(PaidPreOrder {
                person_id,
                class_id: *class_id,
                complex_id,
                price,
                payer: complex.payer,
            });
        }
        Ok((pupils, pre_orders))
    }

    /// The day's order at the cut-off. Made once: asked again, the order made is
    /// returned. Refused before the cut-off (the forecast shows what it would be).
    pub(super) fn make_meal_order(
        &mut self,
        actor: &str,
        date: Option<&str>,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        let tz = self.school_tz()?;
        let date = self.day_or_today(date, now)?;
        let settings = canteen_settings(self.store.conn())?;
        let cut_off = canteen::cut_off_instant(tz, date, settings.order_cut_off);
        if now < cut_off {
            return Err(CoreError::conflict(
                Refusal::BeforeCutOff,
                "the order is made at the cut-off",
            )
            .with("cut_off", settings.order_cut_off.format("%H:%M")));
        }
        if !order_made(self.store.conn(), date)? {
            let (pupils, pre_orders) = self.order_pupils(date, cut_off, now)?;
            let lines = canteen::meal_order(&pupils, &pre_orders);
            self.store.write(|w| {
                // Checked again inside the write: two tills pressing at once make one.
                if order_made(w.conn(), date)? {
                    return Ok::<_, CoreError>(());
                }
                w.append(
                    actor,
                    now,
                    EventBody::MealOrderMade {
                        school_date: date.0,
                        cut_off,
                        lines,
                    },
                )?;
                Ok(())
            })?;
        }
        self.meal_order_view(date)
    }

    /// What the order would be if made now (before the cut-off: a forecast).
    pub(super) fn meal_order_forecast(
        &self,
        date: Option<&str>,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        let date = self.day_or_today(date, now)?;
        let (pupils, pre_orders) = self.order_pupils(date, now, now)?;
        let lines = canteen::meal_order(&pupils, &pre_orders);
        let rows: Vec<Value> = lines
            .iter()
            .map(|l| {
                json!({
                    "class_id": l.class_id, "complex_id": l.complex_id, "price": l.price,
                    "payer": l.payer, "entitled": l.entitled, "ordered": l.ordered(),
                    "saved": canteen::saved(l.payer, l.entitled, l.ordered(), l.price),
                })
            })
            .collect();
        Ok(json!({ "date": date.0, "made": order_made(self.store.conn(), date)?, "lines": rows }))
    }

    /// Entitled pupils who came in after the cut-off join the made order.
    pub(super) fn add_late_arrivals(
        &mut self,
        actor: &str,
        date: Option<&str>,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        let date = self.day_or_today(date, now)?;
        if !order_made(self.store.conn(), date)? {
            return Err(no_order(date));
        }
        let (pupils, _) = self.order_pupils(date, now, now)?;
        let added = self.store.write(|w| {
            // Read inside the write: two tills adding at once add each pupil once.
            let ordered = ordered_set(w.conn(), date)?;
            let late = canteen::late_additions(&pupils, &ordered);
            let added = late.len();
            for (class_id, e, person_id) in late {
                w.append(
                    actor,
                    now,
                    EventBody::MealOrderCorrected {
                        school_date: date.0,
                        class_id,
                        complex_id: e.complex_id,
                        person_id,
                        price: e.price,
                        payer: e.payer,
                        added: true,
                        cause: OrderCorrectionCause::LateArrival,
                        reason: String::new(),
                    },
                )?;
            }
            Ok::<_, CoreError>(added)
        })?;
        Ok(json!({ "added": added }))
    }

    /// An admin adds a pupil to the made order or takes them off, with a reason.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn adjust_meal_order(
        &mut self,
        actor: &str,
        date: &str,
        person_id: PersonId,
        complex_id: ComplexId,
        added: bool,
        reason: &str,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        let date = SchoolDate(parse_day("date", date)?);
        let reason = check_title("reason", reason, CANTEEN_REASON_LEN_MAX_CHARS)?;
        let conn = self.store.conn();
        if !order_made(conn, date)? {
            return Err(no_order(date));
        }
        let pupil = pupil_facts(conn, person_id)?;
        let complex = complexes(conn)?
            .into_iter()
            .find(|c| c.complex_id == complex_id)
            .ok_or_else(|| CoreError::not_found(format!("complex {complex_id}")))?;
        let on_order = ordered_set(conn, date)?.contains(&(complex_id, person_id));
        if on_order == added {
            return Err(CoreError::conflict(
                Refusal::OrderUnchanged,
                "the pupil is already so on the order",
            ));
        }
        self.store.write(|w| {
            w.append(
                actor,
                now,
                EventBody::MealOrderCorrected {
                    school_date: date.0,
                    class_id: pupil.class_id,
                    complex_id,
                    person_id,
                    price: complex.price,
                    payer: complex.payer,
                    added,
                    cause: OrderCorrectionCause::Admin,
                    reason,
                },
            )
        })?;
        self.meal_order_view(date)
    }

    /// The supplier's order sheet for `date`: per complex (breakfast, lunch, snack) and
    /// class, the portions free by budget and paid; the corrections after the cut-off from
    /// the journal, with their time and reason. Before the order is made, the forecast.
    pub(super) fn meal_order_sheet(
        &self,
        date: Option<&str>,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        let tz = self.school_tz()?;
        let date = self.day_or_today(date, now)?;
        let conn = self.store.conn();
        let settings = canteen_settings(conn)?;
        let made = order_made(conn, date)?;
        // (class id, complex id) → [municipal, regional, paid].
        let mut portions: BTreeMap<(String, String), [i64; 3]> = BTreeMap::new();
        let slot = |payer: Payer, pre_paid: bool| match (pre_paid, payer) {
            (true, _) | (false, Payer::Parents) => 2,
            (false, Payer::Municipal) => 0,
            (false, Payer::Regional) => 1,
        };
        if made {
            let mut st = conn.prepare_cached(
                "SELECT o.class_id, o.complex_id, coalesce(l.payer, x.payer), o.source, count(*)
                 FROM meal_order_pupils o
                 LEFT JOIN meal_order_lines l ON l.school_date = o.school_date
                      AND l.class_id = o.class_id AND l.complex_id = o.complex_id
                 LEFT JOIN canteen_complexes x ON x.complex_id = o.complex_id
                 WHERE o.school_date = ?1
                 GROUP BY o.class_id, o.complex_id, o.source",
            )?;
            let rows = st.query_map([date.0.to_string()], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                ))
            })?;
            for row in rows {
                let (class_id, complex_id, payer, source, n) = row?;
                let payer = parse_payer(payer.as_deref().unwrap_or("parents"));
                portions.entry((class_id, complex_id)).or_default()
                    [slot(payer, source == "pre_order")] += n;
            }
        } else {
            let (pupils, pre_orders) = self.order_pupils(date, now, now)?;
            for line in canteen::meal_order(&pupils, &pre_orders) {
                let counts = portions
                    .entry((line.class_id.to_string(), line.complex_id.to_string()))
                    .or_default();
                counts[slot(line.payer, false)] += line.pupils.len() as i64;
                counts[2] += line.pre_ordered.len() as i64;
            }
        }
        let classes: HashMap<String, String> = {
            let mut st = conn.prepare_cached("SELECT id, grade, letter FROM classes")?;
            let rows = st.query_map([], |r| {
                Ok((r.get::<_, String>(0)?, class_label(r.get(1)?, r.get(2)?)))
            })?;
            rows.filter_map(|r| r.ok())
                .map(|(id, label)| (id, label.unwrap_or_default()))
                .collect()
        };
        let mut corrections: HashMap<String, Vec<Value>> = HashMap::new();
        {
            let mut st = conn.prepare_cached(
                "SELECT occurred_at_us, payload FROM journal
                 WHERE kind = 'meal_order_corrected' AND json_extract(payload, '$.school_date') = ?1
                 ORDER BY seq",
            )?;
            let rows = st.query_map([date.0.to_string()], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })?;
            for row in rows {
                let (at_us, payload) = row?;
                let Ok(EventBody::MealOrderCorrected {
                    class_id,
                    complex_id,
                    payer,
                    added,
                    cause,
                    reason,
                    ..
                }) = EventBody::from_parts("meal_order_corrected", &payload)
                else {
                    continue;
                };
                let mut counts = [0i64; 3];
                counts[slot(payer, false)] = if added { 1 } else { -1 };
                let at = from_micros(at_us).with_timezone(&tz.tz()).time();
                corrections
                    .entry(complex_id.to_string())
                    .or_default()
                    .push(json!({
                        "class": classes.get(&class_id.to_string()).cloned().unwrap_or_default(),
                        "at": at.format("%H:%M").to_string(),
                        "municipal": counts[0], "regional": counts[1], "paid": counts[2],
                        "cause": cause, "reason": reason,
                    }));
            }
        }
        let mut complexes = complexes(conn)?;
        complexes.sort_by_key(|c| (c.meal, c.name.clone()));
        let sheets: Vec<Value> = complexes
            .iter()
            .filter_map(|c| {
                let id = c.complex_id.to_string();
                let rows: Vec<Value> = portions
                    .iter()
                    .filter(|((_, complex), _)| *complex == id)
                    .map(|((class, _), n)| {
                        json!({
                            "class": classes.get(class).cloned().unwrap_or_default(),
                            "municipal": n[0], "regional": n[1], "paid": n[2],
                        })
                    })
                    .collect();
                let fixes = corrections.remove(&id).unwrap_or_default();
                (!rows.is_empty() || !fixes.is_empty()).then(|| {
                    json!({
                        "name": c.name, "meal": c.meal, "price": c.price,
                        "classes": rows, "corrections": fixes,
                    })
                })
            })
            .collect();
        Ok(json!({
            "school": self.school_name()?,
            "date": date.0,
            "cut_off": settings.order_cut_off.format("%H:%M").to_string(),
            "made": made,
            "generated_at": now.with_timezone(&tz.tz()).naive_local(),
            "responsible": self.session.as_ref().map(|s| s.display_name.clone()).unwrap_or_default(),
            "complexes": sheets,
        }))
    }

    fn meal_order_view(&self, date: SchoolDate) -> CoreResult<Value> {
        let conn = self.store.conn();
        let mut st = conn.prepare_cached(
            "SELECT l.class_id, c.grade, c.letter, l.complex_id, x.name, l.price, l.payer, l.entitled,
                    (SELECT count(*) FROM meal_order_pupils o WHERE o.school_date = l.school_date
                        AND o.complex_id = l.complex_id AND o.class_id = l.class_id)
             FROM meal_order_lines l
             LEFT JOIN classes c ON c.id = l.class_id
             LEFT JOIN canteen_complexes x ON x.complex_id = l.complex_id
             WHERE l.school_date = ?1
             ORDER BY c.grade, c.letter, x.name",
        )?;
        let rows = st.query_map([date.0.to_string()], |r| {
            let payer = parse_payer(&r.get::<_, String>(6)?);
            let price = Kopecks(r.get(5)?);
            let entitled: u32 = r.get(7)?;
            let ordered: u32 = r.get(8)?;
            Ok(json!({
                "class_id": r.get::<_, String>(0)?,
                "class_name": class_label(r.get(1)?, r.get(2)?),
                "complex_id": r.get::<_, String>(3)?,
                "complex": r.get::<_, Option<String>>(4)?,
                "price": price, "payer": payer, "entitled": entitled, "ordered": ordered,
                "saved": canteen::saved(payer, entitled, ordered, price),
            }))
        })?;
        let lines: Vec<Value> = rows.collect::<Result<_, _>>()?;
        Ok(json!({ "date": date.0, "made": order_made(conn, date)?, "lines": lines }))
    }

    // ---- the till ----

    /// Who is at the till, what they may eat free today and spend.
    pub(super) fn till_pupil(&self, who: TillWho, now: DateTime<Utc>) -> CoreResult<Value> {
        let tz = self.school_tz()?;
        let today = tz.school_date(now);
        let conn = self.store.conn();
        let pupil = match identify(conn, &who)? {
            Ok(p) => p,
            Err(reason) => return Ok(refused(reason)),
        };
        let ents = pupil_entitlements(conn, &pupil, today)?;
        let served: Vec<String> = {
            let mut st = conn.prepare_cached(
                "SELECT complex_id FROM meals_served WHERE school_date = ?1 AND person_id = ?2",
            )?;
            let rows = st.query_map(
                params![today.0.to_string(), pupil.person_id.to_string()],
                |r| r.get(0),
            )?;
            rows.collect::<Result<_, _>>()?
        };
        let settings = canteen_settings(conn)?;
        let purse = purse(conn, pupil.person_id, &settings)?;
        Ok(json!({
            "ok": true,
            "person_id": pupil.person_id,
            "full_name": pupil.full_name,
            "class_name": pupil.class_name,
            "entitlements": ents,
            "pre_orders": active_pre_orders(conn, today)?
                .into_iter()
                .filter(|(p, _, _)| *p == pupil.person_id)
                .map(|(_, c, _)| c)
                .collect::<Vec<_>>(),
            "served_today": served,
            "balance": purse.balance,
            "available": available(purse),
            "spent_today": spent_on(conn, pupil.person_id, today)?,
            "daily_limit": daily_limit(conn, pupil.person_id)?,
        }))
    }

    /// A complex served at the till: free by entitlement or pre-paid; once per complex a
    /// day unless the cashier overrides with a reason.
    pub(super) fn serve_meal(
        &mut self,
        actor: &str,
        meal_id: Uuid,
        who: TillWho,
        complex_id: ComplexId,
        override_reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        let override_reason = override_reason
            .map(|r| check_title("override_reason", r, CANTEEN_REASON_LEN_MAX_CHARS))
            .transpose()?;
        let tz = self.school_tz()?;
        let today = tz.school_date(now);
        self.store.write(|w| {
            let conn = w.conn();
            if let Some(done) = served_meal(conn, meal_id)? {
                return Ok(done);
            }
            let pupil = match identify(conn, &who)? {
                Ok(p) => p,
                Err(reason) => return Ok(refused(reason)),
            };
            let complex = complexes(conn)?
                .into_iter()
                .find(|c| c.complex_id == complex_id)
                .ok_or_else(|| CoreError::not_found(format!("complex {complex_id}")))?;
            let entitled = pupil_entitlements(conn, &pupil, today)?
                .iter()
                .any(|e| e.complex_id == complex_id)
                || active_pre_orders(conn, today)?
                    .iter()
                    .any(|(p, c, _)| *p == pupil.person_id && *c == complex_id);
            let served_today: u32 = conn.query_row(
                "SELECT count(*) FROM meals_served WHERE school_date = ?1 AND person_id = ?2 AND complex_id = ?3",
                params![today.0.to_string(), pupil.person_id.to_string(), complex_id.to_string()],
                |r| r.get(0),
            )?;
            match decide_free_meal(entitled, served_today, override_reason.is_some()) {
                MealVerdict::Refuse { reason } => Ok(refused(reason)),
                MealVerdict::Serve { overridden } => {
                    w.append(
                        actor,
                        now,
                        EventBody::MealServed {
                            meal_id,
                            person_id: pupil.person_id,
                            complex_id,
                            school_date: today.0,
                            price: complex.price,
                            payer: complex.payer,
                            overridden,
                            reason: overridden
                                .and(override_reason.clone())
                                .unwrap_or_default(),
                        },
                    )?;
                    Ok(json!({
                        "ok": true, "meal_id": meal_id, "person_id": pupil.person_id,
                        "full_name": pupil.full_name, "overridden": overridden,
                    }))
                }
            }
        })
    }

    /// A buffet basket sold from the balance, judged and written in one transaction.
    pub(super) fn sell_basket(
        &mut self,
        actor: &str,
        sale_id: Uuid,
        who: TillWho,
        basket: Vec<BasketLine>,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        let tz = self.school_tz()?;
        let today = tz.school_date(now);
        let local_time = now.with_timezone(&tz.tz()).time();
        self.store.write(|w| {
            let conn = w.conn();
            if let Some(done) = made_sale(conn, sale_id)? {
                return Ok(done);
            }
            let pupil = match identify(conn, &who)? {
                Ok(p) => p,
                Err(reason) => return Ok(refused(reason)),
            };
            let verdict = check_sale(
                conn,
                pupil.person_id,
                &basket,
                today,
                local_time,
                Kopecks::ZERO,
            )?;
            match verdict {
                Err(refusal) => Ok(json!({
                    "ok": false, "reason": refusal.reason, "product_id": refusal.product_id,
                })),
                Ok(sale) => {
                    w.append(
                        actor,
                        now,
                        EventBody::SaleMade {
                            sale_id,
                            person_id: pupil.person_id,
                            school_date: today.0,
                            lines: sale.lines,
                            total: sale.total,
                        },
                    )?;
                    Ok(made_sale(w.conn(), sale_id)?.expect("the sale was just written"))
                }
            }
        })
    }

    /// A vending machine's basket for `card`'s holder: priced from today's menu and
    /// judged as at the till, with `held` (what other machines' authorizations still in
    /// flight hold of the holder's money) counted as spent. Writes nothing.
    pub fn vending_quote(
        &self,
        card: &str,
        basket: &[BasketLine],
        held: &dyn Fn(PersonId) -> Kopecks,
        now: DateTime<Utc>,
    ) -> CoreResult<Result<(PersonId, SaleTotal), VendingRefusal>> {
        let tz = self.school_tz()?;
        let today = tz.school_date(now);
        let local_time = now.with_timezone(&tz.tz()).time();
        let conn = self.store.conn();
        let who = TillWho {
            card: Some(card.to_owned()),
            person_id: None,
        };
        let pupil = match identify(conn, &who)? {
            Ok(p) => p,
            Err(reason) => {
                return Ok(Err(VendingRefusal {
                    reason,
                    product_id: None,
                }))
            }
        };
        let verdict = check_sale(
            conn,
            pupil.person_id,
            basket,
            today,
            local_time,
            held(pupil.person_id),
        )?;
        Ok(verdict
            .map(|sale| (pupil.person_id, sale))
            .map_err(|refusal| VendingRefusal {
                reason: refusal.reason,
                product_id: refusal.product_id,
            }))
    }

    /// A vending machine dispensed an authorized basket: the sale is journaled as the
    /// machine's (`actor`), once per `sale_id`. Not judged again: what was dispensed was
    /// approved, and food already taken is never refused (the balance may go below the
    /// floor, and the report shows it).
    pub fn vending_sale(
        &mut self,
        actor: &str,
        sale_id: Uuid,
        person_id: PersonId,
        sale: SaleTotal,
        now: DateTime<Utc>,
    ) -> CoreResult<()> {
        let today = self.school_tz()?.school_date(now);
        self.store.write(|w| {
            if made_sale(w.conn(), sale_id)?.is_some() {
                return Ok(());
            }
            w.append(
                actor,
                now,
                EventBody::SaleMade {
                    sale_id,
                    person_id,
                    school_date: today.0,
                    lines: sale.lines,
                    total: sale.total,
                },
            )?;
            Ok(())
        })
    }

    pub(super) fn refund_sale(
        &mut self,
        actor: &str,
        sale_id: Uuid,
        reason: &str,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        let reason = check_title("reason", reason, CANTEEN_REASON_LEN_MAX_CHARS)?;
        let row: Option<(String, i64, Option<i64>)> = self
            .store
            .conn()
            .query_row(
                "SELECT person_id, total, refunded_at_us FROM canteen_sales WHERE sale_id = ?1",
                [sale_id.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let Some((person, total, refunded)) = row else {
            return Err(CoreError::not_found(format!("sale {sale_id}")));
        };
        if refunded.is_some() {
            return Err(CoreError::conflict(
                Refusal::AlreadyRefunded,
                "the sale is refunded already",
            ));
        }
        let person_id: PersonId = person
            .parse()
            .map_err(|_| CoreError::not_found(format!("person {person}")))?;
        self.store.write(|w| {
            w.append(
                actor,
                now,
                EventBody::SaleRefunded {
                    sale_id,
                    person_id,
                    amount: Kopecks(total),
                    reason,
                },
            )
        })?;
        Ok(json!({ "balance": balance(self.store.conn(), person_id)? }))
    }

    /// A sale's receipt: who sold what to whom, for the printer or a PDF. The cashier is
    /// the one asking (they print what they just sold); the balance is the pupil's now.
    pub(super) fn sale_receipt(&self, sale_id: Uuid) -> CoreResult<Value> {
        let conn = self.store.conn();
        let row = conn
            .query_row(
                "SELECT s.person_id, s.at_us, s.total, s.lines, s.refunded_at_us,
                        p.surname, p.name, p.patronymic, c.grade, c.letter
                 FROM canteen_sales s
                 JOIN persons p ON p.id = s.person_id
                 LEFT JOIN classes c ON c.id = p.class_id
                 WHERE s.sale_id = ?1",
                [sale_id.to_string()],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, Option<i64>>(4)?,
                        name_at(r, 5)?,
                        class_label(r.get(8)?, r.get(9)?),
                    ))
                },
            )
            .optional()?;
        let Some((person, at_us, total, lines, refunded, pupil, class)) = row else {
            return Err(CoreError::not_found(format!("sale {sale_id}")));
        };
        let tz = self.school_tz()?;
        let at = from_micros(at_us);
        let person_id: PersonId = person
            .parse()
            .map_err(|_| CoreError::not_found(format!("person {person}")))?;
        let lines: Vec<crate::canteen::PricedLine> =
            serde_json::from_str(&lines).unwrap_or_default();
        Ok(json!({
            "school": self.school_name()?,
            "sale_id": sale_id,
            "at": at,
            "local_time": at.with_timezone(&tz.tz()).naive_local(),
            "cashier": self.session.as_ref().map(|s| s.display_name.clone()).unwrap_or_default(),
            "device": self.store.device().to_string(),
            "pupil": pupil,
            "class_name": class,
            "lines": lines,
            "total": total,
            "balance": balance(conn, person_id)?,
            "refunded": refunded.is_some(),
        }))
    }

    /// Opens the cashier's shift at this till, or answers the one already open.
    pub(super) fn open_shift(&mut self, actor: &str, now: DateTime<Utc>) -> CoreResult<Value> {
        let cashier_id = self
            .session
            .as_ref()
            .map(|s| s.person_id)
            .ok_or(CoreError::NotSignedIn)?;
        let device = self.store.device().to_string();
        let shift_id = self.store.write(|w| {
            // Read inside the write: two windows pressing at once open one shift.
            if let Some(open) = open_shift_of(w.conn(), &device)? {
                return Ok::<_, CoreError>(open);
            }
            let shift_id = Uuid::now_v7();
            w.append(
                actor,
                now,
                EventBody::ShiftOpened {
                    shift_id,
                    cashier_id,
                },
            )?;
            Ok(shift_id)
        })?;
        self.shift_report(Some(shift_id), now)
    }

    /// Closes this till's open shift and answers its report.
    pub(super) fn close_shift(&mut self, actor: &str, now: DateTime<Utc>) -> CoreResult<Value> {
        let device = self.store.device().to_string();
        let shift_id = open_shift_of(self.store.conn(), &device)?.ok_or_else(|| {
            CoreError::conflict(Refusal::NoOpenShift, "no shift is open at this till")
        })?;
        self.store
            .write(|w| w.append(actor, now, EventBody::ShiftClosed { shift_id }))?;
        self.shift_report(Some(shift_id), now)
    }

    /// A shift's report: from its opening to its closing (or now), what this till sold by
    /// category, the free meals it served by complex and payer, the refunds of its sales
    /// made meanwhile, and the cashiers' overrides.
    pub(super) fn shift_report(
        &self,
        shift_id: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        let conn = self.store.conn();
        let device = self.store.device().to_string();
        let row: Option<(String, String, String, i64, Option<i64>)> = match shift_id {
            Some(id) => conn
                .query_row(
                    "SELECT shift_id, origin, cashier_id, opened_at_us, closed_at_us
                     FROM till_shifts WHERE shift_id = ?1",
                    [id.to_string()],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
                )
                .optional()?,
            None => conn
                .query_row(
                    "SELECT shift_id, origin, cashier_id, opened_at_us, closed_at_us
                     FROM till_shifts WHERE origin = ?1 ORDER BY opened_at_us DESC LIMIT 1",
                    [&device],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
                )
                .optional()?,
        };
        let Some((shift_id, origin, cashier_id, opened, closed)) = row else {
            return Err(CoreError::not_found("a shift at this till"));
        };
        let until = closed.unwrap_or_else(|| to_micros(now));
        let window = params![origin, opened, until];
        let ShiftTakings {
            sales,
            sold,
            by_category,
            refunds,
            refunded,
        } = shift_takings(conn, &origin, opened, until)?;
        let meals: Vec<Value> = {
            let mut st = conn.prepare_cached(
                "SELECT coalesce(x.name, m.complex_id), m.payer, count(*), sum(m.price),
                        sum(m.overridden IS NOT NULL)
                 FROM meals_served m LEFT JOIN canteen_complexes x ON x.complex_id = m.complex_id
                 WHERE m.origin = ?1 AND m.at_us >= ?2 AND m.at_us <= ?3
                 GROUP BY m.complex_id, m.payer ORDER BY 1",
            )?;
            let rows = st.query_map(window, |r| {
                Ok(json!({
                    "complex": r.get::<_, String>(0)?,
                    "payer": parse_payer(&r.get::<_, String>(1)?),
                    "served": r.get::<_, i64>(2)?,
                    "amount": r.get::<_, i64>(3)?,
                    "overridden": r.get::<_, i64>(4)?,
                }))
            })?;
            rows.collect::<Result<_, _>>()?
        };
        let cashier: Option<String> = conn
            .query_row(
                "SELECT trim(surname || ' ' || name || ' ' || patronymic) FROM persons WHERE id = ?1",
                [&cashier_id],
                |r| r.get(0),
            )
            .optional()?;
        Ok(json!({
            "shift_id": shift_id,
            "school": self.school_name()?,
            "device": origin,
            "cashier": cashier.unwrap_or_default(),
            "opened_at": from_micros(opened),
            "closed_at": closed.map(from_micros),
            "open": closed.is_none(),
            "sales": sales,
            "sold": sold,
            "by_category": by_category
                .into_iter()
                .map(|(category, (items, amount))| {
                    json!({"category": category, "items": items, "amount": amount})
                })
                .collect::<Vec<_>>(),
            "free_meals": meals,
            "refunds": refunds,
            "refunded": refunded,
            "net": sold - refunded,
        }))
    }

    /// «Накрыть класс»: a class's pupils on today's order, each complex with whether it
    /// was served.
    pub(super) fn serve_class(&self, class_id: ClassId, now: DateTime<Utc>) -> CoreResult<Value> {
        let tz = self.school_tz()?;
        let today = tz.school_date(now).0.to_string();
        let conn = self.store.conn();
        let mut st = conn.prepare_cached(
            "SELECT o.person_id, p.surname, p.name, p.patronymic, o.complex_id, x.name, o.source,
                    (SELECT count(*) FROM meals_served s WHERE s.school_date = o.school_date
                        AND s.person_id = o.person_id AND s.complex_id = o.complex_id)
             FROM meal_order_pupils o
             JOIN persons p ON p.id = o.person_id
             LEFT JOIN canteen_complexes x ON x.complex_id = o.complex_id
             WHERE o.school_date = ?1 AND o.class_id = ?2
             ORDER BY x.name, p.surname, p.name",
        )?;
        let rows = st.query_map(params![today, class_id.to_string()], |r| {
            Ok(json!({
                "person_id": r.get::<_, String>(0)?,
                "full_name": name_at(r, 1)?,
                "complex_id": r.get::<_, String>(4)?,
                "complex": r.get::<_, Option<String>>(5)?,
                "source": r.get::<_, String>(6)?,
                "served": r.get::<_, i64>(7)? > 0,
            }))
        })?;
        let pupils: Vec<Value> = rows.collect::<Result<_, _>>()?;
        let served = pupils.iter().filter(|p| p["served"] == true).count();
        Ok(json!({
            "date": today, "class_id": class_id, "ordered": pupils.len(),
            "served": served, "pupils": pupils,
        }))
    }

    // ---- reports ----

    /// Entitled, ordered, served and saved per day, complex and payer over `from..=to`,
    /// with totals per payer; the buffet's sales and refunds; the cashiers' overrides.
    pub(super) fn meals_report(&self, from: &str, to: &str) -> CoreResult<Value> {
        let from = parse_day("from", from)?;
        let to = parse_day("to", to)?;
        let days = (to - from).num_days();
        if !(0..=REPORT_DAYS_MAX).contains(&days) {
            return Err(out_of_range("to", days, 0, REPORT_DAYS_MAX));
        }
        let conn = self.store.conn();
        let (from_s, to_s) = (from.to_string(), to.to_string());
        let rows = meals_by_day(conn, from, to, None)?;
        let names: HashMap<String, String> = complexes(conn)?
            .into_iter()
            .map(|c| (c.complex_id.to_string(), c.name))
            .collect();
        let mut totals: BTreeMap<String, [i64; 6]> = BTreeMap::new();
        let lines: Vec<Value> = rows
            .iter()
            .map(|((day, complex, payer), r)| {
                let payer_kind = parse_payer(payer);
                let saved = canteen::saved(payer_kind, r.entitled, r.ordered, Kopecks(r.price));
                let ordered_kopecks = i64::from(r.ordered) * r.price;
                let t = totals.entry(payer.clone()).or_default();
                t[0] += i64::from(r.entitled);
                t[1] += i64::from(r.ordered);
                t[2] += i64::from(r.served);
                t[3] += saved.0;
                t[4] += ordered_kopecks;
                t[5] += r.served_kopecks;
                json!({
                    "date": day, "complex_id": complex, "complex": names.get(complex),
                    "payer": payer, "price": r.price, "entitled": r.entitled,
                    "ordered": r.ordered, "served": r.served, "saved": saved,
                    "ordered_kopecks": ordered_kopecks, "served_kopecks": r.served_kopecks,
                })
            })
            .collect();
        let totals: Vec<Value> = totals
            .into_iter()
            .map(|(payer, t)| {
                json!({
                    "payer": payer, "entitled": t[0], "ordered": t[1], "served": t[2],
                    "saved": t[3], "ordered_kopecks": t[4], "served_kopecks": t[5],
                })
            })
            .collect();
        let (sales, sold, refunded): (i64, i64, i64) = conn.query_row(
            "SELECT count(*), coalesce(sum(total), 0),
                    coalesce(sum(CASE WHEN refunded_at_us IS NOT NULL THEN total ELSE 0 END), 0)
             FROM canteen_sales WHERE school_date BETWEEN ?1 AND ?2",
            params![from_s, to_s],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let overrides: Vec<Value> = {
            let mut st = conn.prepare_cached(
                "SELECT s.meal_id, s.school_date, s.at_us, s.person_id, p.surname, p.name, p.patronymic,
                        s.complex_id, s.overridden, s.reason
                 FROM meals_served s LEFT JOIN persons p ON p.id = s.person_id
                 WHERE s.overridden IS NOT NULL AND s.school_date BETWEEN ?1 AND ?2
                 ORDER BY s.at_us",
            )?;
            let found = st.query_map(params![from_s, to_s], |r| {
                Ok(json!({
                    "meal_id": r.get::<_, String>(0)?, "date": r.get::<_, String>(1)?,
                    "at": from_micros(r.get(2)?), "person_id": r.get::<_, String>(3)?,
                    "full_name": name_at(r, 4)?, "complex_id": r.get::<_, String>(7)?,
                    "overridden": r.get::<_, String>(8)?, "reason": r.get::<_, String>(9)?,
                }))
            })?;
            found.collect::<Result<_, _>>()?
        };
        Ok(json!({
            "from": from, "to": to, "lines": lines, "totals": totals,
            "buffet": { "sales": sales, "sold": sold, "refunded": refunded, "net": sold - refunded },
            "overrides": overrides,
        }))
    }

    fn day_or_today(&self, date: Option<&str>, now: DateTime<Utc>) -> CoreResult<SchoolDate> {
        match date {
            Some(text) => Ok(SchoolDate(parse_day("date", text)?)),
            None => Ok(self.school_tz()?.school_date(now)),
        }
    }
}

/// Pupils whose card was used at the till on `date` (a meal or a sale) who never came
/// in through the gate that day and have no correction marking them present: a card in
/// someone else's hands, or a gate that missed them. For the director's exceptions.
pub(crate) fn till_without_entry(conn: &Connection, date: NaiveDate) -> CoreResult<Vec<Value>> {
    let mut st = conn.prepare_cached(
        "SELECT t.person_id, min(t.at_us), p.surname, p.name, p.patronymic, c.grade, c.letter
         FROM (SELECT person_id, at_us FROM meals_served WHERE school_date = ?1
               UNION ALL SELECT person_id, at_us FROM canteen_sales WHERE school_date = ?1) t
         JOIN persons p ON p.id = t.person_id
         LEFT JOIN classes c ON c.id = p.class_id
         WHERE p.kind = 'pupil'
           AND NOT EXISTS (SELECT 1 FROM passages ps WHERE ps.school_date = ?1
                           AND ps.person_id = t.person_id AND ps.outcome = 'passed')
           AND NOT EXISTS (SELECT 1 FROM attendance_corrections ac WHERE ac.school_date = ?1
                           AND ac.person_id = t.person_id
                           AND ac.mark IN ('present', 'late', 'left_early'))
         GROUP BY t.person_id ORDER BY min(t.at_us)",
    )?;
    let rows = st.query_map([date.to_string()], |r| {
        // The shape of the gate's anomalies: what happened first, at the till.
        Ok(json!({
            "kind": "till_without_entry",
            "person_id": r.get::<_, String>(0)?,
            "first": {
                "at": from_micros(r.get(1)?),
                "person_id": r.get::<_, String>(0)?,
                "full_name": name_at(r, 2)?,
                "class_name": class_label(r.get(5)?, r.get(6)?),
                "post": "canteen",
            },
        }))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Who stands at the till: by the card they tapped, or picked from a list.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct TillWho {
    #[serde(default)]
    pub card: Option<String>,
    #[serde(default)]
    pub person_id: Option<PersonId>,
}

/// A pupil as the canteen needs them.
struct PupilFacts {
    person_id: PersonId,
    class_id: ClassId,
    grade: u8,
    full_name: String,
    class_name: Option<String>,
}

fn refused(reason: TillReason) -> Value {
    json!({ "ok": false, "reason": reason })
}

/// The active pupil with a class, or not found / not a pupil.
fn pupil_facts(conn: &Connection, person_id: PersonId) -> CoreResult<PupilFacts> {
    match pupil_row(conn, person_id)? {
        Some(Ok(p)) => Ok(p),
        Some(Err(_)) => Err(CoreError::invalid(
            "person_id",
            Refusal::WrongPersonKind,
            "the canteen serves pupils",
        )
        .with("expected", "pupil")),
        None => Err(CoreError::not_found(format!("person {person_id}"))),
    }
}

/// `None`: no such person; `Some(Err)`: not an active pupil in a class.
fn pupil_row(
    conn: &Connection,
    person_id: PersonId,
) -> CoreResult<Option<Result<PupilFacts, TillReason>>> {
    let row = conn
        .query_row(
            "SELECT p.kind, p.status, c.id, c.grade, c.letter, p.surname, p.name, p.patronymic
             FROM persons p LEFT JOIN classes c ON c.id = p.class_id WHERE p.id = ?1",
            [person_id.to_string()],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, Option<u8>>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    name_at(r, 5)?,
                ))
            },
        )
        .optional()?;
    Ok(row.map(|(kind, status, class, grade, letter, full_name)| {
        match (
            kind.as_str(),
            status.as_str(),
            class.and_then(|c| c.parse().ok()),
            grade,
        ) {
            ("pupil", "active", Some(class_id), Some(grade)) => Ok(PupilFacts {
                person_id,
                class_id,
                grade,
                full_name,
                class_name: class_label(Some(grade), letter),
            }),
            _ => Err(TillReason::NotAPupil),
        }
    }))
}

/// The pupil at the till, or why the till cannot serve whoever it is.
fn identify(conn: &Connection, who: &TillWho) -> CoreResult<Result<PupilFacts, TillReason>> {
    let person_id = match (&who.card, who.person_id) {
        (Some(card), _) => {
            let card = super::check_card(card)?;
            match super::find_card_holder(conn, &card)? {
                Some(h) if h.state == CardState::Active => h.person_id,
                _ => return Ok(Err(TillReason::UnknownCard)),
            }
        }
        (None, Some(person_id)) => person_id,
        (None, None) => {
            return Err(CoreError::invalid(
                "card",
                Refusal::Empty,
                "a card or a pupil is needed",
            ))
        }
    };
    Ok(pupil_row(conn, person_id)?.unwrap_or(Err(TillReason::UnknownCard)))
}

fn pupil_entitlements(
    conn: &Connection,
    pupil: &PupilFacts,
    date: SchoolDate,
) -> CoreResult<Vec<Entitlement>> {
    let grants = grants_by_person(conn)?
        .remove(&pupil.person_id)
        .unwrap_or_default();
    Ok(entitlements(
        pupil.grade,
        date,
        &grants,
        &benefit_categories(conn)?,
        &complexes(conn)?,
    ))
}

fn purse(conn: &Connection, person_id: PersonId, settings: &CanteenSettings) -> CoreResult<Purse> {
    Ok(Purse {
        balance: balance(conn, person_id)?,
        overdraft_floor: settings.overdraft_floor,
        // With a server, what this till spent that the server has not confirmed is
        // bounded by the offline budget; standalone, the balance is the authority.
        offline: crate::sync::unsynced_debits(conn, &person_id.to_string())?.map(|debits| {
            OfflineSpend {
                unsynced_debits: Kopecks(debits),
                budget: settings.offline_budget,
            }
        }),
    })
}

fn served_meal(conn: &Connection, meal_id: Uuid) -> CoreResult<Option<Value>> {
    Ok(conn
        .query_row(
            "SELECT person_id, overridden FROM meals_served WHERE meal_id = ?1",
            [meal_id.to_string()],
            |r| {
                Ok(json!({
                    "ok": true, "meal_id": meal_id, "person_id": r.get::<_, String>(0)?,
                    "overridden": r.get::<_, Option<String>>(1)?, "repeated": true,
                }))
            },
        )
        .optional()?)
}

fn made_sale(conn: &Connection, sale_id: Uuid) -> CoreResult<Option<Value>> {
    let row: Option<(String, i64, String)> = conn
        .query_row(
            "SELECT person_id, total, lines FROM canteen_sales WHERE sale_id = ?1",
            [sale_id.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let Some((person, total, lines)) = row else {
        return Ok(None);
    };
    let person_id: Option<PersonId> = person.parse().ok();
    let balance = match person_id {
        Some(p) => balance(conn, p)?,
        None => Kopecks::ZERO,
    };
    Ok(Some(json!({
        "ok": true, "sale_id": sale_id, "person_id": person, "total": total,
        "lines": serde_json::from_str::<Value>(&lines).unwrap_or(Value::Null),
        "balance": balance,
    })))
}

/// Why a vending machine's basket is refused: the till's reason, and the product.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VendingRefusal {
    pub reason: TillReason,
    pub product_id: Option<ProductId>,
}

/// A basket judged for `person_id` as at the till, today, with `held` counted as spent
/// (the vending machines' authorizations in flight; zero at the till).
fn check_sale(
    conn: &Connection,
    person_id: PersonId,
    basket: &[BasketLine],
    today: SchoolDate,
    local_time: chrono::NaiveTime,
    held: Kopecks,
) -> CoreResult<Result<SaleTotal, SaleRefusal>> {
    let settings = canteen_settings(conn)?;
    let mut purse = purse(conn, person_id, &settings)?;
    purse.balance = Kopecks(purse.balance.0 - held.0);
    let spent = spent_on(conn, person_id, today)?;
    Ok(decide_sale(SaleCheck {
        basket,
        menu: &menu(conn, today)?,
        products: &products(conn)?,
        local_time,
        bans: &bans(conn, person_id)?,
        daily_limit: daily_limit(conn, person_id)?,
        spent_today: Kopecks(spent.0 + held.0),
        purse,
    }))
}

/// The shift open at the till `device`, if one is.
fn open_shift_of(conn: &Connection, device: &str) -> CoreResult<Option<Uuid>> {
    let id: Option<String> = conn
        .query_row(
            "SELECT shift_id FROM till_shifts WHERE origin = ?1 AND closed_at_us IS NULL
             ORDER BY opened_at_us DESC LIMIT 1",
            [device],
            |r| r.get(0),
        )
        .optional()?;
    Ok(id.and_then(|id| id.parse().ok()))
}

pub(crate) fn canteen_settings(conn: &Connection) -> CoreResult<CanteenSettings> {
    let text: Option<String> = conn
        .query_row("SELECT settings FROM canteen_settings", [], |r| r.get(0))
        .optional()?;
    Ok(text
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default())
}

fn products(conn: &Connection) -> CoreResult<Vec<Product>> {
    let mut st = conn.prepare_cached(
        "SELECT product_id, name, price, category, allergens FROM canteen_products ORDER BY category, name",
    )?;
    let rows = st.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, String>(4)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, name, price, category, allergens) = row?;
        let Ok(product_id) = id.parse() else { continue };
        out.push(Product {
            product_id,
            name,
            price: Kopecks(price),
            category,
            allergens: serde_json::from_str(&allergens).unwrap_or_default(),
        });
    }
    Ok(out)
}

fn complexes(conn: &Connection) -> CoreResult<Vec<Complex>> {
    let mut st = conn.prepare_cached(
        "SELECT complex_id, name, meal, grade_first, grade_last, price, payer
         FROM canteen_complexes ORDER BY name, complex_id",
    )?;
    let rows = st.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, u8>(3)?,
            r.get::<_, u8>(4)?,
            r.get::<_, i64>(5)?,
            r.get::<_, String>(6)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, name, meal, first, last, price, payer) = row?;
        let (Ok(complex_id), Ok(meal)) = (id.parse(), serde_json::from_value(json!(meal))) else {
            continue;
        };
        out.push(Complex {
            complex_id,
            name,
            meal,
            grades: GradeBand::new(first, last),
            price: Kopecks(price),
            payer: parse_payer(&payer),
        });
    }
    Ok(out)
}

fn benefit_categories(conn: &Connection) -> CoreResult<Vec<BenefitCategory>> {
    let mut st = conn.prepare_cached(
        "SELECT category_id, name, meals FROM benefit_categories ORDER BY name, category_id",
    )?;
    let rows = st.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, name, meals) = row?;
        let Ok(category_id) = id.parse() else {
            continue;
        };
        out.push(BenefitCategory {
            category_id,
            name,
            meals: serde_json::from_str(&meals).unwrap_or_default(),
        });
    }
    Ok(out)
}

/// Every grant not revoked, by pupil.
fn grants_by_person(conn: &Connection) -> CoreResult<HashMap<PersonId, Vec<BenefitGrant>>> {
    let mut st = conn.prepare_cached(
        "SELECT grant_id, person_id, category_id, valid_from, valid_to, document
         FROM benefit_grants WHERE revoked_at_us IS NULL",
    )?;
    let rows = st.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, String>(4)?,
            r.get::<_, String>(5)?,
        ))
    })?;
    let mut out: HashMap<PersonId, Vec<BenefitGrant>> = HashMap::new();
    for row in rows {
        let (grant, person, category, from, to, document) = row?;
        let (Ok(grant_id), Ok(person_id), Ok(category_id), Ok(valid_from), Ok(valid_to)) = (
            grant.parse(),
            person.parse(),
            category.parse(),
            from.parse(),
            to.parse(),
        ) else {
            continue;
        };
        out.entry(person_id).or_default().push(BenefitGrant {
            grant_id,
            person_id,
            category_id,
            valid_from,
            valid_to,
            document,
        });
    }
    Ok(out)
}

fn menu(conn: &Connection, date: SchoolDate) -> CoreResult<Vec<MenuItem>> {
    let mut st =
        conn.prepare_cached("SELECT product_id, price FROM canteen_menu WHERE school_date = ?1")?;
    let rows = st.query_map([date.0.to_string()], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, price) = row?;
        if let Ok(product_id) = id.parse() {
            out.push(MenuItem {
                product_id,
                price: Kopecks(price),
            });
        }
    }
    Ok(out)
}

fn bans(conn: &Connection, person_id: PersonId) -> CoreResult<Vec<Ban>> {
    let mut st =
        conn.prepare_cached("SELECT ban FROM canteen_bans WHERE person_id = ?1 ORDER BY ban_id")?;
    let rows = st.query_map([person_id.to_string()], |r| r.get::<_, String>(0))?;
    let mut out = Vec::new();
    for row in rows {
        if let Ok(ban) = serde_json::from_str(&row?) {
            out.push(ban);
        }
    }
    Ok(out)
}

fn balance(conn: &Connection, person_id: PersonId) -> CoreResult<Kopecks> {
    let found: Option<i64> = conn
        .query_row(
            "SELECT balance FROM canteen_accounts WHERE person_id = ?1",
            [person_id.to_string()],
            |r| r.get(0),
        )
        .optional()?;
    Ok(Kopecks(found.unwrap_or(0)))
}

fn daily_limit(conn: &Connection, person_id: PersonId) -> CoreResult<Option<Kopecks>> {
    let found: Option<i64> = conn
        .query_row(
            "SELECT daily_limit FROM canteen_limits WHERE person_id = ?1",
            [person_id.to_string()],
            |r| r.get(0),
        )
        .optional()?;
    Ok(found.map(Kopecks))
}

/// Bought at the buffet on `date`, refunds deducted.
fn spent_on(conn: &Connection, person_id: PersonId, date: SchoolDate) -> CoreResult<Kopecks> {
    let spent: i64 = conn.query_row(
        "SELECT coalesce(sum(total), 0) FROM canteen_sales
         WHERE person_id = ?1 AND school_date = ?2 AND refunded_at_us IS NULL",
        params![person_id.to_string(), date.0.to_string()],
        |r| r.get(0),
    )?;
    Ok(Kopecks(spent))
}

/// Pre-orders for `date` not cancelled: (pupil, complex, price).
fn active_pre_orders(
    conn: &Connection,
    date: SchoolDate,
) -> CoreResult<Vec<(PersonId, ComplexId, Kopecks)>> {
    let mut st = conn.prepare_cached(
        "SELECT person_id, complex_id, price FROM canteen_pre_orders
         WHERE school_date = ?1 AND cancelled_at_us IS NULL ORDER BY pre_order_id",
    )?;
    let rows = st.query_map([date.0.to_string()], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (person, complex, price) = row?;
        if let (Ok(p), Ok(c)) = (person.parse(), complex.parse()) {
            out.push((p, c, Kopecks(price)));
        }
    }
    Ok(out)
}

fn order_made(conn: &Connection, date: SchoolDate) -> CoreResult<bool> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM meal_orders WHERE school_date = ?1",
            [date.0.to_string()],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

fn ordered_set(conn: &Connection, date: SchoolDate) -> CoreResult<BTreeSet<(ComplexId, PersonId)>> {
    let mut st = conn.prepare_cached(
        "SELECT complex_id, person_id FROM meal_order_pupils WHERE school_date = ?1",
    )?;
    let rows = st.query_map([date.0.to_string()], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    let mut out = BTreeSet::new();
    for row in rows {
        let (complex, person) = row?;
        if let (Ok(c), Ok(p)) = (complex.parse(), person.parse()) {
            out.insert((c, p));
        }
    }
    Ok(out)
}

/// Pupils in school by `until` on `date`: a pass the gate confirmed, or an admin's
/// correction marking them present (a correction marking them absent wins over passes).
fn present_by(
    conn: &Connection,
    date: SchoolDate,
    until: DateTime<Utc>,
) -> CoreResult<HashSet<PersonId>> {
    let day = date.0.to_string();
    let mut present = HashSet::new();
    {
        let mut st = conn.prepare_cached(
            "SELECT DISTINCT person_id FROM passages
             WHERE school_date = ?1 AND outcome = 'passed' AND person_id IS NOT NULL AND at_us <= ?2",
        )?;
        let rows = st.query_map(params![day, to_micros(until)], |r| r.get::<_, String>(0))?;
        for row in rows {
            if let Ok(p) = row?.parse() {
                present.insert(p);
            }
        }
    }
    let mut st = conn.prepare_cached(
        "SELECT person_id, mark FROM attendance_corrections WHERE school_date = ?1 AND corrected_at_us <= ?2",
    )?;
    let rows = st.query_map(params![day, to_micros(until)], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    for row in rows {
        let (person, mark) = row?;
        let Ok(p) = person.parse() else { continue };
        use crate::access::CorrectedMark;
        match serde_json::from_value::<CorrectedMark>(json!(mark)) {
            Ok(CorrectedMark::Present | CorrectedMark::Late | CorrectedMark::LeftEarly) => {
                present.insert(p);
            }
            Ok(CorrectedMark::Absent | CorrectedMark::Excused) => {
                present.remove(&p);
            }
            Err(_) => {}
        }
    }
    Ok(present)
}

fn parse_payer(text: &str) -> Payer {
    serde_json::from_value(json!(text)).unwrap_or(Payer::Parents)
}

fn parse_day(field: &'static str, text: &str) -> CoreResult<NaiveDate> {
    super::parse_date(text).ok_or_else(|| {
        CoreError::invalid(field, Refusal::NotADate, format!("{text:?} is not a date"))
            .with("value", text)
    })
}

fn check_amount(field: &'static str, amount: Kopecks) -> CoreResult<()> {
    if !(0..=AMOUNT_MAX_KOPECKS).contains(&amount.0) {
        return Err(out_of_range(field, amount.0, 0, AMOUNT_MAX_KOPECKS));
    }
    Ok(())
}

fn out_of_range(field: &'static str, value: i64, min: i64, max: i64) -> CoreError {
    CoreError::invalid(
        field,
        Refusal::OutOfRange,
        format!("{value} is outside {min}–{max}"),
    )
    .with("value", value)
    .with("min", min)
    .with("max", max)
}

fn too_many(field: &'static str, max: usize) -> CoreError {
    CoreError::invalid(field, Refusal::TooMany, format!("at most {max}")).with("max", max)
}

fn no_order(date: SchoolDate) -> CoreError {
    CoreError::conflict(Refusal::NoMealOrder, "the day's order is not made yet")
        .with("date", date.0)
}
