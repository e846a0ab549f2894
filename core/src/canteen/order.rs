//! The daily meal order (заявка на питание): at the school's cut-off, per class and
//! complex, the entitled pupils who have come in through the gate, plus paid
//! pre-orders. Pupils who come in later join through a correction; what was not ordered
//! for the entitled who stayed away is the day's saving.

use super::{ComplexId, Entitlement, Payer};
use crate::domain::{ClassId, PersonId};
use crate::money::Kopecks;
use crate::time::{SchoolDate, SchoolTz};
use chrono::{DateTime, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// A pupil on the roster as the order sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderPupil {
    pub person_id: PersonId,
    pub class_id: ClassId,
    pub entitlements: Vec<Entitlement>,
    /// In school by the cut-off (a confirmed entry, or an admin's mark of presence).
    pub present: bool,
}

/// A complex paid for in advance (by the parents), for one pupil on one day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaidPreOrder {
    pub person_id: PersonId,
    pub class_id: ClassId,
    pub complex_id: ComplexId,
    pub price: Kopecks,
    pub payer: Payer,
}

/// One class's order of one complex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    pub class_id: ClassId,
    pub complex_id: ComplexId,
    pub price: Kopecks,
    pub payer: Payer,
    /// Entitled pupils on the roster, present or not.
    pub entitled: u32,
    /// Entitled pupils present by the cut-off: ordered free.
    pub pupils: Vec<PersonId>,
    /// Pupils whose parents paid in advance.
    #[serde(default)]
    pub pre_ordered: Vec<PersonId>,
}

impl OrderLine {
    pub fn ordered(&self) -> u32 {
        u32::try_from(self.pupils.len() + self.pre_ordered.len()).unwrap_or(u32::MAX)
    }
}

/// The instant of the order's cut-off on `date`, school time.
pub fn cut_off_instant(tz: SchoolTz, date: SchoolDate, cut_off: NaiveTime) -> DateTime<Utc> {
    let local = date.0.and_time(cut_off);
    local
        .and_local_timezone(tz.tz())
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        // A cut-off inside a DST gap: the instant the clock jumps to.
        .unwrap_or_else(|| tz.day_start(date) + (local - date.0.and_time(NaiveTime::MIN)))
}

/// The order per class and complex (sorted by class, then complex): every entitlement
/// counts towards `entitled`; the present are ordered; `pre_orders` are ordered as
/// paid. A line with neither entitled nor ordered pupils is left out.
pub fn meal_order(pupils: &[OrderPupil], pre_orders: &[PaidPreOrder]) -> Vec<OrderLine> {
    let mut lines: BTreeMap<(ClassId, ComplexId), OrderLine> = BTreeMap::new();
    for pupil in pupils {
        for e in &pupil.entitlements {
            let l = line(&mut lines, pupil.class_id, e.complex_id, e.price, e.payer);
            l.entitled += 1;
            if pupil.present {
                l.pupils.push(pupil.person_id);
            }
        }
    }
    for p in pre_orders {
        let l = line(&mut lines, p.class_id, p.complex_id, p.price, p.payer);
        if !l.pre_ordered.contains(&p.person_id) {
            l.pre_ordered.push(p.person_id);
        }
    }
    lines
        .into_values()
        .map(|mut l| {
            l.pupils.sort();
            l.pre_ordered.sort();
            l
        })
        .collect()
}

fn line(
    lines: &mut BTreeMap<(ClassId, ComplexId), OrderLine>,
    class_id: ClassId,
    complex_id: ComplexId,
    price: Kopecks,
    payer: Payer,
) -> &mut OrderLine {
    lines
        .entry((class_id, complex_id))
        .or_insert_with(|| OrderLine {
            class_id,
            complex_id,
            price,
            payer,
            entitled: 0,
            pupils: Vec::new(),
            pre_ordered: Vec::new(),
        })
}

/// Entitled pupils present now who are not on the order yet (they came in after the
/// cut-off): `(class, complex, pupil)` to add, in a stable order.
pub fn late_additions(
    pupils: &[OrderPupil],
    ordered: &BTreeSet<(ComplexId, PersonId)>,
) -> Vec<(ClassId, Entitlement, PersonId)> {
    let mut out = Vec::new();
    for pupil in pupils.iter().filter(|p| p.present) {
        for e in &pupil.entitlements {
            if !ordered.contains(&(e.complex_id, pupil.person_id)) {
                out.push((pupil.class_id, *e, pupil.person_id));
            }
        }
    }
    out.sort_by_key(|(class, e, person)| (*class, e.complex_id, *person));
    out
}

/// What not ordering saved: `(entitled − ordered) × price` for a budget-paid complex
/// (negative when more were ordered than entitled); nothing for the parents' own.
pub fn saved(payer: Payer, entitled: u32, ordered: u32, price: Kopecks) -> Kopecks {
    if !payer.is_budget() {
        return Kopecks::ZERO;
    }
    Kopecks((i64::from(entitled) - i64::from(ordered)) * price.0)
}
