//! The till's verdicts (касса столовой): a free meal, a buffet basket, and the money a
//! till may spend for a pupil. Each refusal carries a stable [`TillReason`] code that
//! the screen, the journal and the reports share.

use super::{Allergen, MenuItem, Product, ProductId};
use crate::money::Kopecks;
use chrono::NaiveTime;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Lines in one basket: a tray, not a warehouse.
pub const BASKET_LINES_MAX: usize = 30;
/// Pieces of one product in one basket.
pub const QUANTITY_MAX: u32 = 20;

/// Why the till served, sold or refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TillReason {
    /// The card is unknown, bound to nobody, or not active.
    UnknownCard,
    /// The card's holder is not a pupil at school (staff, left).
    NotAPupil,
    /// No entitlement or paid pre-order for this complex today.
    NotEntitled,
    /// This complex was served to the pupil today already.
    AlreadyServed,
    /// An empty basket, or a quantity of 0 or over [`QUANTITY_MAX`], or too many lines.
    BadBasket,
    /// A product not on today's menu.
    NotOnMenu,
    /// The parents banned this product (now).
    ProductBanned,
    /// The parents banned this product's category (now).
    CategoryBanned,
    /// The parents banned an allergen the product holds (now).
    AllergenBanned,
    /// The basket would take the pupil over their daily limit.
    DailyLimitExceeded,
    /// The balance would fall below the overdraft floor.
    InsufficientBalance,
    /// This till's unconfirmed spending for the pupil would pass the offline budget.
    OfflineBudgetExceeded,
}

impl TillReason {
    pub const ALL: &'static [TillReason] = &[
        TillReason::UnknownCard,
        TillReason::NotAPupil,
        TillReason::NotEntitled,
        TillReason::AlreadyServed,
        TillReason::BadBasket,
        TillReason::NotOnMenu,
        TillReason::ProductBanned,
        TillReason::CategoryBanned,
        TillReason::AllergenBanned,
        TillReason::DailyLimitExceeded,
        TillReason::InsufficientBalance,
        TillReason::OfflineBudgetExceeded,
    ];

    /// Refusals a cashier may set aside with a reason (the override is journaled and
    /// reported): a second helping, a hungry child not on the list.
    pub fn is_overridable(self) -> bool {
        matches!(self, TillReason::AlreadyServed | TillReason::NotEntitled)
    }

    /// The snake_case code, as serde writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            TillReason::UnknownCard => "unknown_card",
            TillReason::NotAPupil => "not_a_pupil",
            TillReason::NotEntitled => "not_entitled",
            TillReason::AlreadyServed => "already_served",
            TillReason::BadBasket => "bad_basket",
            TillReason::NotOnMenu => "not_on_menu",
            TillReason::ProductBanned => "product_banned",
            TillReason::CategoryBanned => "category_banned",
            TillReason::AllergenBanned => "allergen_banned",
            TillReason::DailyLimitExceeded => "daily_limit_exceeded",
            TillReason::InsufficientBalance => "insufficient_balance",
            TillReason::OfflineBudgetExceeded => "offline_budget_exceeded",
        }
    }
}

/// The verdict on a free (or pre-paid) complex.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum MealVerdict {
    /// Serve it; `overridden` names the refusal a cashier's override set aside.
    Serve {
        overridden: Option<TillReason>,
    },
    Refuse {
        reason: TillReason,
    },
}

/// A complex at the till: refused when the pupil is not entitled to it today
/// ([`TillReason::NotEntitled`]) or was served it today already
/// ([`TillReason::AlreadyServed`], checked second); a cashier's override (which must
/// carry a reason, checked by the caller) serves it anyway, naming what it set aside.
pub fn decide_free_meal(entitled: bool, served_today: u32, cashier_override: bool) -> MealVerdict {
    let refusal = if !entitled {
        Some(TillReason::NotEntitled)
    } else if served_today > 0 {
        Some(TillReason::AlreadyServed)
    } else {
        None
    };
    match refusal {
        None => MealVerdict::Serve { overridden: None },
        Some(reason) if cashier_override && reason.is_overridable() => MealVerdict::Serve {
            overridden: Some(reason),
        },
        Some(reason) => MealVerdict::Refuse { reason },
    }
}

/// What parents banned for their child.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum BanTarget {
    Product(ProductId),
    /// A category as products name it («газировка»).
    Category(String),
    Allergen(Allergen),
}

/// The school-time hours a ban holds in, `from` included, `to` excluded («no sweets
/// before lunch»: 08:00–13:00). A ban without hours holds all day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BanHours {
    pub from: NaiveTime,
    pub to: NaiveTime,
}

impl BanHours {
    pub fn holds_at(self, at: NaiveTime) -> bool {
        if self.from <= self.to {
            (self.from..self.to).contains(&at)
        } else {
            // Over midnight: 20:00–07:00.
            at >= self.from || at < self.to
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ban {
    pub ban_id: Uuid,
    pub target: BanTarget,
    #[serde(default)]
    pub hours: Option<BanHours>,
}

impl Ban {
    fn holds_at(&self, at: NaiveTime) -> bool {
        self.hours.is_none_or(|h| h.holds_at(at))
    }
}

/// What a pupil has to spend at this till.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Purse {
    /// The balance as this workstation knows it: every top-up, sale and refund it holds
    /// (its own, and with a server the ones pulled from it).
    pub balance: Kopecks,
    /// How far below zero the balance may go (0: not at all).
    pub overdraft_floor: Kopecks,
    /// With a server configured: what this till has spent for the pupil that the server
    /// has not confirmed yet, and the most it may. `None` on a standalone workstation,
    /// whose balance is the authority.
    pub offline: Option<OfflineSpend>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfflineSpend {
    pub unsynced_debits: Kopecks,
    pub budget: Kopecks,
}

/// What the pupil may spend now: down to the overdraft floor, and on a connected till
/// no more than what is left of the offline budget (DESIGN.md §4: two tills cut off
/// from the server together overspend by at most their budgets). Never negative.
pub fn available(purse: Purse) -> Kopecks {
    let by_balance = purse.balance.0 + purse.overdraft_floor.0;
    let by_offline = purse
        .offline
        .map_or(i64::MAX, |o| o.budget.0 - o.unsynced_debits.0);
    Kopecks(by_balance.min(by_offline).max(0))
}

/// One line of a basket as the cashier rang it up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BasketLine {
    pub product_id: ProductId,
    pub quantity: u32,
}

/// Everything a buffet sale is judged by.
#[derive(Debug, Clone, Copy)]
pub struct SaleCheck<'a> {
    pub basket: &'a [BasketLine],
    /// Today's menu and the products it names.
    pub menu: &'a [MenuItem],
    pub products: &'a [Product],
    /// School time of the sale: bans by the hour read it.
    pub local_time: NaiveTime,
    pub bans: &'a [Ban],
    pub daily_limit: Option<Kopecks>,
    /// Bought today already (refunds deducted).
    pub spent_today: Kopecks,
    pub purse: Purse,
}

/// A sale the rules allow: its lines priced from the menu.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaleTotal {
    pub lines: Vec<PricedLine>,
    pub total: Kopecks,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PricedLine {
    pub product_id: ProductId,
    pub name: String,
    pub category: String,
    pub price: Kopecks,
    pub quantity: u32,
}

/// A refused sale: the reason, and the product it concerns if one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaleRefusal {
    pub reason: TillReason,
    pub product_id: Option<ProductId>,
}

/// A buffet basket: checked line by line in basket order (the shape of the basket, on
/// the menu, banned product, category, allergen — the first bans found), then the
/// total against the daily limit, the overdraft floor and the offline budget.
pub fn decide_sale(check: SaleCheck<'_>) -> Result<SaleTotal, SaleRefusal> {
    let refuse = |reason, product_id| Err(SaleRefusal { reason, product_id });
    if check.basket.is_empty() || check.basket.len() > BASKET_LINES_MAX {
        return refuse(TillReason::BadBasket, None);
    }
    let bans: Vec<&Ban> = check
        .bans
        .iter()
        .filter(|b| b.holds_at(check.local_time))
        .collect();
    let mut lines = Vec::with_capacity(check.basket.len());
    let mut total = 0i64;
    for line in check.basket {
        let id = Some(line.product_id);
        if line.quantity == 0 || line.quantity > QUANTITY_MAX {
            return refuse(TillReason::BadBasket, id);
        }
        let (Some(item), Some(product)) = (
            check.menu.iter().find(|m| m.product_id == line.product_id),
            check
                .products
                .iter()
                .find(|p| p.product_id == line.product_id),
        ) else {
            return refuse(TillReason::NotOnMenu, id);
        };
        for ban in &bans {
            let reason = match &ban.target {
                BanTarget::Product(p) if *p == product.product_id => TillReason::ProductBanned,
                BanTarget::Category(c) if c.to_lowercase() == product.category.to_lowercase() => {
                    TillReason::CategoryBanned
                }
                BanTarget::Allergen(a) if product.allergens.contains(a) => {
                    TillReason::AllergenBanned
                }
                _ => continue,
            };
            return refuse(reason, id);
        }
        total += item.price.0 * i64::from(line.quantity);
        lines.push(PricedLine {
            product_id: product.product_id,
            name: product.name.clone(),
            category: product.category.clone(),
            price: item.price,
            quantity: line.quantity,
        });
    }
    if let Some(limit) = check.daily_limit {
        if check.spent_today.0 + total > limit.0 {
            return refuse(TillReason::DailyLimitExceeded, None);
        }
    }
    if check.purse.balance.0 + check.purse.overdraft_floor.0 < total {
        return refuse(TillReason::InsufficientBalance, None);
    }
    if total > available(check.purse).0 {
        return refuse(TillReason::OfflineBudgetExceeded, None);
    }
    Ok(SaleTotal {
        lines,
        total: Kopecks(total),
    })
}
