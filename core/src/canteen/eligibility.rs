//! Who eats free, and what: the built-in rule (grades 1–4 get a free lunch) and the
//! school's benefit categories (льготы), each grant valid between two dates and resting
//! on a document.

use super::{BenefitCategoryId, Complex, ComplexId, MealKind, Payer};
use crate::access::GradeBand;
use crate::domain::PersonId;
use crate::money::Kopecks;
use crate::time::SchoolDate;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A benefit category and the meals it gives free.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BenefitCategory {
    pub category_id: BenefitCategoryId,
    /// «Многодетная семья», «Малоимущая семья», «ОВЗ», …
    pub name: String,
    pub meals: Vec<MealKind>,
}

/// A pupil's place in a benefit category from `valid_from` to `valid_to` (both
/// included), on the strength of `document`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BenefitGrant {
    pub grant_id: Uuid,
    pub person_id: PersonId,
    pub category_id: BenefitCategoryId,
    pub valid_from: NaiveDate,
    pub valid_to: NaiveDate,
    /// «Удостоверение многодетной семьи № 123 от 01.09.2026».
    pub document: String,
}

impl BenefitGrant {
    pub fn valid_on(&self, date: SchoolDate) -> bool {
        (self.valid_from..=self.valid_to).contains(&date.0)
    }
}

/// Why a pupil eats a complex free.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Basis {
    /// Grades 1–4: a free hot lunch, by law; no document needed.
    PrimaryGrades,
    Benefit {
        category_id: BenefitCategoryId,
    },
}

/// One complex a pupil is entitled to on a day, with its price and payer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entitlement {
    pub complex_id: ComplexId,
    pub meal: MealKind,
    pub price: Kopecks,
    pub payer: Payer,
    pub basis: Basis,
}

/// The complexes a pupil of `grade` eats free on `date`, one per meal kind at most.
///
/// A meal kind is free when the pupil is in grades 1–4 and it is lunch, or when one of
/// `grants` (the pupil's) is valid on `date` for a category in `categories` that gives
/// it. The complex served is the budget-paid one whose band holds the grade — the
/// narrowest band, then the first by name; with no such complex configured, the meal
/// kind is not given (a configuration gap, not a guess). Parents' complexes are never
/// free.
pub fn entitlements(
    grade: u8,
    date: SchoolDate,
    grants: &[BenefitGrant],
    categories: &[BenefitCategory],
    complexes: &[Complex],
) -> Vec<Entitlement> {
    let mut out = Vec::new();
    for meal in MealKind::ALL {
        let basis = if meal == MealKind::Lunch && GradeBand::PRIMARY.contains(grade) {
            Some(Basis::PrimaryGrades)
        } else {
            let mut granted: Vec<&BenefitCategory> = grants
                .iter()
                .filter(|g| g.valid_on(date))
                .filter_map(|g| categories.iter().find(|c| c.category_id == g.category_id))
                .filter(|c| c.meals.contains(&meal))
                .collect();
            granted.sort_by(|a, b| a.name.cmp(&b.name).then(a.category_id.cmp(&b.category_id)));
            granted.first().map(|c| Basis::Benefit {
                category_id: c.category_id,
            })
        };
        let Some(basis) = basis else { continue };
        let Some(complex) = budget_complex(meal, grade, complexes) else {
            continue;
        };
        out.push(Entitlement {
            complex_id: complex.complex_id,
            meal,
            price: complex.price,
            payer: complex.payer,
            basis,
        });
    }
    out
}

/// The budget-paid complex of `meal` for `grade`: the narrowest band, then by name.
fn budget_complex(meal: MealKind, grade: u8, complexes: &[Complex]) -> Option<&Complex> {
    complexes
        .iter()
        .filter(|c| c.meal == meal && c.payer.is_budget() && c.grades.contains(grade))
        .min_by(|a, b| {
            let width = |c: &Complex| i16::from(c.grades.last) - i16::from(c.grades.first);
            width(a)
                .cmp(&width(b))
                .then(a.name.cmp(&b.name))
                .then(a.complex_id.cmp(&b.complex_id))
        })
}
