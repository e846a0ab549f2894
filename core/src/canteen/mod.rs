//! СОП — the canteen's rules: what is sold and served, who eats free, the daily meal
//! order (заявка) and the till's verdicts. Pure functions over plain data, the instant
//! passed in; nothing here reads the clock, the store or the devices.
//!
//! - [`catalogue`] — products with allergen tags, complex meals (комплексы) per grade
//!   band with their price and payer, the day's menu; [`CanteenSettings`] (order cut-off,
//!   overdraft floor, offline budget).
//! - [`eligibility`] — benefit categories and grants with validity dates and the
//!   document they rest on; [`entitlements`]: which complexes a pupil gets free on a day
//!   (grades 1–4: lunch, built in; the rest as the school configures).
//! - [`order`] — the meal order at the cut-off: entitled pupils present by the gate plus
//!   paid pre-orders, per class and complex; late arrivals; the day's saving.
//! - [`till`] — the cashier's verdicts with stable [`TillReason`] codes: a free meal
//!   (once per complex a day, a cashier's override with a reason), a buffet basket
//!   (parents' bans by time of day, the daily limit, the overdraft floor, the offline
//!   budget), and the money a till may spend for a pupil.

pub mod catalogue;
pub mod eligibility;
pub mod menu_file;
pub mod order;
pub mod till;

#[cfg(test)]
mod tests;

pub use catalogue::{
    Allergen, CanteenSettings, Complex, MealKind, MenuItem, Payer, Product, EU_ALLERGENS,
};
pub use eligibility::{entitlements, Basis, BenefitCategory, BenefitGrant, Entitlement};
pub use order::{
    cut_off_instant, late_additions, meal_order, saved, OrderLine, OrderPupil, PaidPreOrder,
};
pub use till::{
    available, decide_free_meal, decide_sale, Ban, BanHours, BanTarget, BasketLine, MealVerdict,
    PricedLine, Purse, SaleCheck, SaleRefusal, SaleTotal, TillReason,
};

crate::domain::uuid_id!(
    /// A product on the buffet's list.
    ProductId
);
crate::domain::uuid_id!(
    /// A complex meal (комплекс): breakfast, lunch or afternoon snack for a grade band.
    ComplexId
);
crate::domain::uuid_id!(
    /// A benefit category (льготная категория): large family, low income, disability, …
    BenefitCategoryId
);
