//! What the canteen sells and serves: products, complex meals, the day's menu, and the
//! school's canteen settings.

use super::{ComplexId, ProductId};
use crate::access::GradeBand;
use crate::money::Kopecks;
use chrono::NaiveTime;
use serde::{Deserialize, Serialize};

/// The 14 allergens EU Regulation 1169/2011 (Annex II) names; labels use these codes.
pub const EU_ALLERGENS: [&str; 14] = [
    "gluten",
    "crustaceans",
    "eggs",
    "fish",
    "peanuts",
    "soy",
    "milk",
    "tree_nuts",
    "celery",
    "mustard",
    "sesame",
    "sulphites",
    "lupin",
    "molluscs",
];

/// Longest custom allergen tag («киви»): a label, not a sentence.
pub const ALLERGEN_LEN_MAX_CHARS: usize = 40;

/// An allergen tag: one of [`EU_ALLERGENS`] or a custom one the school names. Stored
/// trimmed and lower-cased, so «Киви» and «киви» are one tag.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Allergen(String);

impl Allergen {
    pub fn new(tag: &str) -> Result<Allergen, String> {
        let tag = tag.trim().to_lowercase();
        if tag.is_empty() {
            return Err("an allergen tag must not be blank".into());
        }
        if tag.chars().count() > ALLERGEN_LEN_MAX_CHARS {
            return Err(format!(
                "an allergen tag is at most {ALLERGEN_LEN_MAX_CHARS} characters"
            ));
        }
        Ok(Allergen(tag))
    }

    /// Not one of the 14 common allergens.
    pub fn is_custom(&self) -> bool {
        !EU_ALLERGENS.contains(&self.0.as_str())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Allergen {
    type Error = String;
    fn try_from(s: String) -> Result<Allergen, String> {
        Allergen::new(&s)
    }
}

impl From<Allergen> for String {
    fn from(a: Allergen) -> String {
        a.0
    }
}

/// A product of the buffet (буфет): its list price; the day's menu may sell it at
/// another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    pub product_id: ProductId,
    pub name: String,
    pub price: Kopecks,
    /// «выпечка», «напитки», … — what parents may ban as a whole.
    pub category: String,
    #[serde(default)]
    pub allergens: Vec<Allergen>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MealKind {
    Breakfast,
    Lunch,
    /// Полдник.
    AfternoonSnack,
}

impl MealKind {
    pub const ALL: [MealKind; 3] = [
        MealKind::Breakfast,
        MealKind::Lunch,
        MealKind::AfternoonSnack,
    ];
}

/// Who pays for a complex: a budget (municipal, regional) for the entitled, or parents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Payer {
    Municipal,
    Regional,
    Parents,
}

impl Payer {
    /// Paid from a budget: the meal is free for the pupil, and not ordering it saves.
    pub fn is_budget(self) -> bool {
        self != Payer::Parents
    }
}

/// A complex meal (комплекс) for a grade band, at a fixed price, paid by `payer`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Complex {
    pub complex_id: ComplexId,
    pub name: String,
    pub meal: MealKind,
    pub grades: GradeBand,
    pub price: Kopecks,
    pub payer: Payer,
}

/// A product on sale on one day, at the day's price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MenuItem {
    pub product_id: ProductId,
    pub price: Kopecks,
}

/// The school's canteen settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CanteenSettings {
    /// The meal order is made at this school time (e.g. 09:30) from who has come in.
    pub order_cut_off: NaiveTime,
    /// How far below zero a balance may go by a buffet sale (0: not at all).
    pub overdraft_floor: Kopecks,
    /// What one till may spend per pupil while its sales are not yet confirmed by the
    /// server (DESIGN.md §4); unused by a standalone workstation.
    pub offline_budget: Kopecks,
}

impl Default for CanteenSettings {
    /// 09:30, no overdraft, 300 ₽ offline: a typical school's choice.
    fn default() -> Self {
        CanteenSettings {
            order_cut_off: NaiveTime::from_hms_opt(9, 30, 0).expect("a valid time"),
            overdraft_floor: Kopecks::ZERO,
            offline_budget: Kopecks(30_000),
        }
    }
}
