//! The canteen's rules as tables of cases.

use super::till::{OfflineSpend, PricedLine};
use super::*;
use crate::access::{GradeBand, SchoolCalendar};
use crate::domain::{ClassId, PersonId};
use crate::money::Kopecks;
use crate::time::{SchoolDate, SchoolTz};
use chrono::{Datelike, NaiveDate, NaiveTime, TimeZone, Utc};
use std::collections::BTreeSet;
use uuid::Uuid;

fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

fn date(y: i32, m: u32, d: u32) -> SchoolDate {
    SchoolDate(NaiveDate::from_ymd_opt(y, m, d).unwrap())
}

fn time(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap()
}

fn complex(n: u128, meal: MealKind, grades: (u8, u8), price: i64, payer: Payer) -> Complex {
    Complex {
        complex_id: ComplexId(id(n)),
        name: format!("complex {n}"),
        meal,
        grades: GradeBand::new(grades.0, grades.1),
        price: Kopecks(price),
        payer,
    }
}

fn complexes() -> Vec<Complex> {
    vec![
        complex(1, MealKind::Lunch, (1, 4), 9_000, Payer::Regional),
        complex(2, MealKind::Lunch, (5, 11), 11_000, Payer::Municipal),
        complex(3, MealKind::Breakfast, (1, 11), 6_000, Payer::Municipal),
        complex(4, MealKind::Lunch, (1, 11), 15_000, Payer::Parents),
        complex(5, MealKind::AfternoonSnack, (1, 4), 4_000, Payer::Municipal),
    ]
}

const LARGE_FAMILY: BenefitCategoryId = BenefitCategoryId(Uuid::from_u128(100));
const DISABILITY: BenefitCategoryId = BenefitCategoryId(Uuid::from_u128(101));

fn categories() -> Vec<BenefitCategory> {
    vec![
        BenefitCategory {
            category_id: LARGE_FAMILY,
            name: "Многодетная семья".into(),
            meals: vec![MealKind::Lunch],
        },
        BenefitCategory {
            category_id: DISABILITY,
            name: "ОВЗ".into(),
            meals: vec![MealKind::Breakfast, MealKind::Lunch],
        },
    ]
}

fn grant(category: BenefitCategoryId, from: SchoolDate, to: SchoolDate) -> BenefitGrant {
    BenefitGrant {
        grant_id: id(900),
        person_id: PersonId(id(1)),
        category_id: category,
        valid_from: from.0,
        valid_to: to.0,
        document: "справка".into(),
    }
}

/// (grade, grants, date) → the complexes given, with their basis.
#[test]
fn eligibility_by_grade_and_benefit() {
    let d = date(2026, 10, 5);
    let lf = || grant(LARGE_FAMILY, date(2026, 9, 1), date(2026, 12, 31));
    let ovz = || grant(DISABILITY, date(2026, 9, 1), date(2027, 5, 31));
    let expired = || grant(LARGE_FAMILY, date(2025, 9, 1), date(2026, 8, 31));
    let primary = Basis::PrimaryGrades;
    let benefit = |c| Basis::Benefit { category_id: c };
    type Case = (u8, Vec<BenefitGrant>, Vec<(u128, Basis)>);
    let cases: Vec<Case> = vec![
        (1, vec![], vec![(1, primary)]),
        (4, vec![], vec![(1, primary)]),
        (5, vec![], vec![]),
        (11, vec![], vec![]),
        (5, vec![lf()], vec![(2, benefit(LARGE_FAMILY))]),
        (5, vec![expired()], vec![]),
        // A primary pupil's lunch rests on the grade, not the document.
        (3, vec![lf()], vec![(1, primary)]),
        (
            7,
            vec![ovz()],
            vec![(3, benefit(DISABILITY)), (2, benefit(DISABILITY))],
        ),
        // Two categories for lunch: the first by name.
        (
            8,
            vec![ovz(), lf()],
            vec![(3, benefit(DISABILITY)), (2, benefit(LARGE_FAMILY))],
        ),
    ];
    for (grade, grants, expected) in cases {
        let got: Vec<(u128, Basis)> = entitlements(grade, d, &grants, &categories(), &complexes())
            .into_iter()
            .map(|e| (e.complex_id.0.as_u128(), e.basis))
            .collect();
        assert_eq!(got, expected, "grade {grade}, grants {grants:?}");
    }
}

/// Over a whole generated school year: a grant counts on exactly the days between its
/// dates, and a primary pupil's lunch on every day.
#[test]
fn eligibility_over_a_generated_calendar() {
    let calendar = SchoolCalendar::russian_default(date(2026, 9, 1).0);
    let from = date(2026, 11, 10);
    let to = date(2027, 2, 20);
    let grants = [grant(LARGE_FAMILY, from, to)];
    let mut day = date(2026, 9, 1);
    let mut school_days_with_benefit = 0;
    while day <= date(2027, 6, 30) {
        let given = entitlements(6, day, &grants, &categories(), &complexes());
        let expected = from <= day && day <= to;
        assert_eq!(!given.is_empty(), expected, "{day:?}");
        if expected && calendar.pupil_day(day, 6).is_working() {
            school_days_with_benefit += 1;
        }
        assert_eq!(
            entitlements(2, day, &[], &categories(), &complexes()).len(),
            1
        );
        day = SchoolDate(day.0.succ_opt().unwrap());
    }
    // The default calendar's working days for grade 6 in that span (winter vacation
    // and New Year's holidays out): a snapshot, so a change to either shows here.
    assert_eq!(school_days_with_benefit, 80);
}

#[test]
fn no_budget_complex_for_the_band_means_no_entitlement() {
    let only_parents = vec![complex(4, MealKind::Lunch, (1, 11), 15_000, Payer::Parents)];
    assert!(entitlements(2, date(2026, 10, 5), &[], &categories(), &only_parents).is_empty());
}

#[test]
fn the_narrowest_band_wins() {
    let mut list = complexes();
    list.push(complex(6, MealKind::Lunch, (1, 2), 8_000, Payer::Regional));
    let e = entitlements(2, date(2026, 10, 5), &[], &categories(), &list);
    assert_eq!(e[0].complex_id, ComplexId(id(6)));
    let e = entitlements(3, date(2026, 10, 5), &[], &categories(), &list);
    assert_eq!(e[0].complex_id, ComplexId(id(1)));
}

/// (entitled, served today, cashier's override) → the verdict.
#[test]
fn a_free_meal_is_served_once_a_day_unless_overridden() {
    use MealVerdict::*;
    use TillReason::*;
    let cases = [
        (true, 0, false, Serve { overridden: None }),
        (
            true,
            1,
            false,
            Refuse {
                reason: AlreadyServed,
            },
        ),
        (
            true,
            2,
            false,
            Refuse {
                reason: AlreadyServed,
            },
        ),
        (
            true,
            1,
            true,
            Serve {
                overridden: Some(AlreadyServed),
            },
        ),
        (
            false,
            0,
            false,
            Refuse {
                reason: NotEntitled,
            },
        ),
        (
            false,
            0,
            true,
            Serve {
                overridden: Some(NotEntitled),
            },
        ),
        (true, 0, true, Serve { overridden: None }),
    ];
    for (entitled, served, overridden, expected) in cases {
        assert_eq!(
            decide_free_meal(entitled, served, overridden),
            expected,
            "entitled {entitled}, served {served}, override {overridden}"
        );
    }
}

fn product(n: u128, name: &str, category: &str, price: i64, allergens: &[&str]) -> Product {
    Product {
        product_id: ProductId(id(n)),
        name: name.into(),
        price: Kopecks(price),
        category: category.into(),
        allergens: allergens
            .iter()
            .map(|a| Allergen::new(a).unwrap())
            .collect(),
    }
}

fn buffet() -> (Vec<Product>, Vec<MenuItem>) {
    let products = vec![
        product(10, "Булочка с маком", "выпечка", 3_500, &["gluten"]),
        product(11, "Сок яблочный", "напитки", 4_500, &[]),
        product(12, "Шоколадка", "сладости", 6_000, &["milk", "Лесной орех"]),
        product(13, "Салат", "салаты", 5_000, &["celery"]),
    ];
    // The salad is not on today's menu; the bun sells cheaper today.
    let menu = vec![
        MenuItem {
            product_id: ProductId(id(10)),
            price: Kopecks(3_000),
        },
        MenuItem {
            product_id: ProductId(id(11)),
            price: Kopecks(4_500),
        },
        MenuItem {
            product_id: ProductId(id(12)),
            price: Kopecks(6_000),
        },
    ];
    (products, menu)
}

fn line(n: u128, quantity: u32) -> BasketLine {
    BasketLine {
        product_id: ProductId(id(n)),
        quantity,
    }
}

fn ban(target: BanTarget, hours: Option<(NaiveTime, NaiveTime)>) -> Ban {
    Ban {
        ban_id: id(77),
        target,
        hours: hours.map(|(from, to)| BanHours { from, to }),
    }
}

fn standalone(balance: i64, floor: i64) -> Purse {
    Purse {
        balance: Kopecks(balance),
        overdraft_floor: Kopecks(floor),
        offline: None,
    }
}

/// One table for the buffet: basket, time, bans, limit, purse → total or reason.
#[test]
fn buffet_sales_by_the_rules() {
    use TillReason::*;
    let (products, menu) = buffet();
    let sweets_before_lunch = ban(
        BanTarget::Category("Сладости".into()),
        Some((time(8, 0), time(13, 0))),
    );
    let no_juice = ban(BanTarget::Product(ProductId(id(11))), None);
    let nuts = ban(
        BanTarget::Allergen(Allergen::new("лесной орех").unwrap()),
        None,
    );
    type Case = (
        Vec<BasketLine>,
        NaiveTime,
        Vec<Ban>,
        Option<i64>,
        i64,
        Purse,
        Result<i64, (TillReason, Option<u128>)>,
    );
    let cases: Vec<Case> = vec![
        // Menu price, not list price: 2 × 30 ₽ + 45 ₽.
        (
            vec![line(10, 2), line(11, 1)],
            time(10, 0),
            vec![],
            None,
            0,
            standalone(50_000, 0),
            Ok(10_500),
        ),
        (
            vec![],
            time(10, 0),
            vec![],
            None,
            0,
            standalone(50_000, 0),
            Err((BadBasket, None)),
        ),
        (
            vec![line(10, 0)],
            time(10, 0),
            vec![],
            None,
            0,
            standalone(50_000, 0),
            Err((BadBasket, Some(10))),
        ),
        (
            vec![line(10, 21)],
            time(10, 0),
            vec![],
            None,
            0,
            standalone(500_000, 0),
            Err((BadBasket, Some(10))),
        ),
        (
            vec![line(13, 1)],
            time(10, 0),
            vec![],
            None,
            0,
            standalone(50_000, 0),
            Err((NotOnMenu, Some(13))),
        ),
        (
            vec![line(10, 1), line(11, 1)],
            time(10, 0),
            vec![no_juice.clone()],
            None,
            0,
            standalone(50_000, 0),
            Err((ProductBanned, Some(11))),
        ),
        // A category ban by the hour: before lunch refused, after it sold.
        (
            vec![line(12, 1)],
            time(12, 59),
            vec![sweets_before_lunch.clone()],
            None,
            0,
            standalone(50_000, 0),
            Err((CategoryBanned, Some(12))),
        ),
        (
            vec![line(12, 1)],
            time(13, 0),
            vec![sweets_before_lunch.clone()],
            None,
            0,
            standalone(50_000, 0),
            Ok(6_000),
        ),
        (
            vec![line(12, 1)],
            time(7, 59),
            vec![sweets_before_lunch],
            None,
            0,
            standalone(50_000, 0),
            Ok(6_000),
        ),
        (
            vec![line(12, 1)],
            time(10, 0),
            vec![nuts],
            None,
            0,
            standalone(50_000, 0),
            Err((AllergenBanned, Some(12))),
        ),
        // The daily limit: 100 ₽ a day, 60 spent; 45 more is over, 30 is not.
        (
            vec![line(11, 1)],
            time(10, 0),
            vec![],
            Some(10_000),
            6_000,
            standalone(50_000, 0),
            Err((DailyLimitExceeded, None)),
        ),
        (
            vec![line(10, 1)],
            time(10, 0),
            vec![],
            Some(10_000),
            6_000,
            standalone(50_000, 0),
            Ok(3_000),
        ),
        (
            vec![line(10, 1)],
            time(10, 0),
            vec![],
            Some(10_000),
            7_000,
            standalone(50_000, 0),
            Ok(3_000),
        ),
        // The overdraft floor: 20 ₽ on the balance, 30 ₽ basket.
        (
            vec![line(10, 1)],
            time(10, 0),
            vec![],
            None,
            0,
            standalone(2_000, 0),
            Err((InsufficientBalance, None)),
        ),
        (
            vec![line(10, 1)],
            time(10, 0),
            vec![],
            None,
            0,
            standalone(2_000, 1_000),
            Ok(3_000),
        ),
        (
            vec![line(10, 1)],
            time(10, 0),
            vec![],
            None,
            0,
            standalone(2_000, 999),
            Err((InsufficientBalance, None)),
        ),
        (
            vec![line(10, 1)],
            time(10, 0),
            vec![],
            None,
            0,
            standalone(-500, 5_000),
            Ok(3_000),
        ),
        // Offline: 300 ₽ budget, 280 ₽ unconfirmed at this till.
        (
            vec![line(10, 1)],
            time(10, 0),
            vec![],
            None,
            0,
            Purse {
                balance: Kopecks(50_000),
                overdraft_floor: Kopecks::ZERO,
                offline: Some(OfflineSpend {
                    unsynced_debits: Kopecks(28_000),
                    budget: Kopecks(30_000),
                }),
            },
            Err((OfflineBudgetExceeded, None)),
        ),
        (
            vec![line(10, 1)],
            time(10, 0),
            vec![],
            None,
            0,
            Purse {
                balance: Kopecks(50_000),
                overdraft_floor: Kopecks::ZERO,
                offline: Some(OfflineSpend {
                    unsynced_debits: Kopecks(27_000),
                    budget: Kopecks(30_000),
                }),
            },
            Ok(3_000),
        ),
    ];
    for (i, (basket, at, bans, limit, spent, purse, expected)) in cases.into_iter().enumerate() {
        let got = decide_sale(SaleCheck {
            basket: &basket,
            menu: &menu,
            products: &products,
            local_time: at,
            bans: &bans,
            daily_limit: limit.map(Kopecks),
            spent_today: Kopecks(spent),
            purse,
        })
        .map(|s| s.total.0)
        .map_err(|r| (r.reason, r.product_id.map(|p| p.0.as_u128())));
        assert_eq!(got, expected, "case {i}");
    }
}

#[test]
fn a_sale_keeps_the_names_and_day_prices_it_was_made_at() {
    let (products, menu) = buffet();
    let sale = decide_sale(SaleCheck {
        basket: &[line(10, 2)],
        menu: &menu,
        products: &products,
        local_time: time(10, 0),
        bans: &[],
        daily_limit: None,
        spent_today: Kopecks::ZERO,
        purse: standalone(10_000, 0),
    })
    .unwrap();
    assert_eq!(
        sale.lines,
        [PricedLine {
            product_id: ProductId(id(10)),
            name: "Булочка с маком".into(),
            category: "выпечка".into(),
            price: Kopecks(3_000),
            quantity: 2,
        }]
    );
}

#[test]
fn ban_hours_over_midnight() {
    let night = BanHours {
        from: time(20, 0),
        to: time(7, 0),
    };
    for (at, holds) in [
        (time(19, 59), false),
        (time(20, 0), true),
        (time(3, 0), true),
        (time(7, 0), false),
    ] {
        assert_eq!(night.holds_at(at), holds, "{at}");
    }
}

#[test]
fn available_money() {
    let connected = |balance, unsynced| Purse {
        balance: Kopecks(balance),
        overdraft_floor: Kopecks(1_000),
        offline: Some(OfflineSpend {
            unsynced_debits: Kopecks(unsynced),
            budget: Kopecks(30_000),
        }),
    };
    for (purse, expected) in [
        (standalone(5_000, 1_000), 6_000),
        (standalone(-2_000, 1_000), 0),
        (connected(100_000, 0), 30_000),
        (connected(100_000, 25_000), 5_000),
        (connected(2_000, 0), 3_000),
        (connected(100_000, 40_000), 0),
    ] {
        assert_eq!(available(purse), Kopecks(expected), "{purse:?}");
    }
}

#[test]
fn allergens_are_the_eu_fourteen_or_custom() {
    assert_eq!(EU_ALLERGENS.len(), 14);
    assert!(!Allergen::new("Milk").unwrap().is_custom());
    assert_eq!(Allergen::new(" Киви ").unwrap().as_str(), "киви");
    assert!(Allergen::new("киви").unwrap().is_custom());
    assert!(Allergen::new("  ").is_err());
    assert!(Allergen::new(&"x".repeat(41)).is_err());
}

fn pupil(n: u128, class: u128, present: bool, ents: &[(u128, i64, Payer)]) -> OrderPupil {
    OrderPupil {
        person_id: PersonId(id(n)),
        class_id: ClassId(id(class)),
        entitlements: ents
            .iter()
            .map(|&(c, price, payer)| Entitlement {
                complex_id: ComplexId(id(c)),
                meal: MealKind::Lunch,
                price: Kopecks(price),
                payer,
                basis: Basis::PrimaryGrades,
            })
            .collect(),
        present,
    }
}

/// The order at the cut-off, then a late arrival, then the saving.
#[test]
fn the_order_at_the_cut_off_with_late_arrivals() {
    let lunch = (1, 9_000, Payer::Regional);
    let class_a = 501;
    let class_b = 502;
    let mut pupils = vec![
        pupil(1, class_a, true, &[lunch]),
        pupil(2, class_a, false, &[lunch]),
        pupil(3, class_a, true, &[lunch]),
        pupil(4, class_a, true, &[]),
        pupil(5, class_b, false, &[lunch]),
    ];
    let pre = [PaidPreOrder {
        person_id: PersonId(id(4)),
        class_id: ClassId(id(class_a)),
        complex_id: ComplexId(id(4)),
        price: Kopecks(15_000),
        payer: Payer::Parents,
    }];
    let order = meal_order(&pupils, &pre);
    // (class, complex, entitled, ordered free, pre-ordered)
    type Line = (u128, u128, u32, Vec<u128>, Vec<u128>);
    let summary: Vec<Line> = order
        .iter()
        .map(|l| {
            (
                l.class_id.0.as_u128(),
                l.complex_id.0.as_u128(),
                l.entitled,
                l.pupils.iter().map(|p| p.0.as_u128()).collect(),
                l.pre_ordered.iter().map(|p| p.0.as_u128()).collect(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (class_a, 1, 3, vec![1, 3], vec![]),
            (class_a, 4, 0, vec![], vec![4]),
            (class_b, 1, 1, vec![], vec![]),
        ]
    );
    let savings: Vec<i64> = order
        .iter()
        .map(|l| saved(l.payer, l.entitled, l.ordered(), l.price).0)
        .collect();
    assert_eq!(savings, [9_000, 0, 9_000]);

    // Pupil 2 comes in at 10:05: the only late addition.
    pupils[1].present = true;
    let ordered: BTreeSet<(ComplexId, PersonId)> = order
        .iter()
        .flat_map(|l| {
            l.pupils
                .iter()
                .chain(&l.pre_ordered)
                .map(move |p| (l.complex_id, *p))
        })
        .collect();
    let late = late_additions(&pupils, &ordered);
    assert_eq!(late.len(), 1);
    assert_eq!(late[0].2, PersonId(id(2)));
    assert_eq!(late[0].0, ClassId(id(class_a)));
}

#[test]
fn the_cut_off_is_school_time() {
    let moscow: SchoolTz = "Europe/Moscow".parse().unwrap();
    let d = date(2026, 10, 5);
    assert_eq!(
        cut_off_instant(moscow, d, time(9, 30)),
        Utc.with_ymd_and_hms(2026, 10, 5, 6, 30, 0).unwrap()
    );
    assert_eq!(d.0.weekday(), chrono::Weekday::Mon);
}

mod generated {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the basket, a sale the rules allow never takes the balance below the
        /// floor, never passes the daily limit or the offline budget, and costs the sum
        /// of its lines at the day's prices.
        #[test]
        fn an_allowed_sale_keeps_every_bound(
            lines in proptest::collection::vec((10u128..14, 0u32..4), 0..5),
            balance in -5_000i64..20_000,
            floor in 0i64..5_000,
            limit in proptest::option::of(0i64..20_000),
            spent in 0i64..10_000,
            unsynced in proptest::option::of(0i64..30_000),
            hour in 7u32..16,
        ) {
            let (products, menu) = buffet();
            let basket: Vec<BasketLine> = lines.iter().map(|&(p, q)| line(p, q)).collect();
            let bans = [ban(BanTarget::Category("сладости".into()), Some((time(8, 0), time(13, 0))))];
            let purse = Purse {
                balance: Kopecks(balance),
                overdraft_floor: Kopecks(floor),
                offline: unsynced.map(|u| OfflineSpend { unsynced_debits: Kopecks(u), budget: Kopecks(30_000) }),
            };
            let verdict = decide_sale(SaleCheck {
                basket: &basket,
                menu: &menu,
                products: &products,
                local_time: time(hour, 0),
                bans: &bans,
                daily_limit: limit.map(Kopecks),
                spent_today: Kopecks(spent),
                purse,
            });
            if let Ok(sale) = verdict {
                let t = sale.total.0;
                let priced: i64 = sale.lines.iter().map(|l| l.price.0 * i64::from(l.quantity)).sum();
                prop_assert_eq!(t, priced);
                prop_assert!(balance - t >= -floor);
                prop_assert!(t <= available(purse).0);
                if let Some(limit) = limit { prop_assert!(spent + t <= limit); }
                prop_assert!(!basket.is_empty());
                prop_assert!(sale.lines.iter().all(|l| l.category != "сладости" || !(8..13).contains(&hour)));
            }
        }

        /// At the cut-off nobody absent is ordered free, everyone present and entitled
        /// is, and the saving is exactly the absent entitled times the price.
        #[test]
        fn the_order_counts_exactly_the_present(
            pupils in proptest::collection::vec((0u128..3, any::<bool>(), any::<bool>()), 0..40),
        ) {
            let lunch = (1, 9_000, Payer::Regional);
            let roster: Vec<OrderPupil> = pupils
                .iter()
                .enumerate()
                .map(|(i, &(class, present, entitled))| {
                    let ents: &[(u128, i64, Payer)] = if entitled { &[lunch] } else { &[] };
                    pupil(i as u128 + 1, 500 + class, present, ents)
                })
                .collect();
            let order = meal_order(&roster, &[]);
            let entitled = pupils.iter().filter(|p| p.2).count() as u32;
            let present = pupils.iter().filter(|p| p.2 && p.1).count() as u32;
            prop_assert_eq!(order.iter().map(|l| l.entitled).sum::<u32>(), entitled);
            prop_assert_eq!(order.iter().map(|l| l.ordered()).sum::<u32>(), present);
            let saving: i64 = order.iter().map(|l| saved(l.payer, l.entitled, l.ordered(), l.price).0).sum();
            prop_assert_eq!(saving, i64::from(entitled - present) * 9_000);
            let ordered: BTreeSet<(ComplexId, PersonId)> = order
                .iter()
                .flat_map(|l| l.pupils.iter().map(move |p| (l.complex_id, *p)))
                .collect();
            // Everyone comes in later: the late additions are exactly the absent entitled.
            let everyone: Vec<OrderPupil> = roster.into_iter().map(|p| OrderPupil { present: true, ..p }).collect();
            prop_assert_eq!(late_additions(&everyone, &ordered).len() as u32, entitled - present);
        }
    }
}
