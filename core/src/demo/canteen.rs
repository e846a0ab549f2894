//! The demo school's canteen, from the seed: settings, a buffet list with allergens, the
//! complexes of a Russian school (free lunch for 1–4, breakfast and lunch for the
//! benefit categories, a paid lunch), benefit grants with documents, balances, a few
//! parents' bans and limits, and the menu of the coming week.

use super::school::{next_uuid, stream, School, STREAM_CANTEEN, TIME_ZONE};
use crate::access::GradeBand;
use crate::canteen::{
    Allergen, Ban, BanHours, BanTarget, BenefitCategory, BenefitCategoryId, BenefitGrant,
    CanteenSettings, Complex, ComplexId, MealKind, MenuItem, Payer, Product, ProductId,
};
use crate::events::EventBody;
use crate::money::Kopecks;
use chrono::{DateTime, Duration, NaiveTime, Utc};
use rand::Rng;

/// Days of menu planned ahead of `now`: the week the demo is opened in.
const MENU_DAYS: i64 = 7;
/// Share of pupils of grades 5–11 in a benefit category, in per cent (the lyceum's
/// practice: about one in ten).
const BENEFIT_PERCENT: u32 = 10;
/// Share of pupils whose parents set a ban or a limit, in per cent.
const PARENTS_WISHES_PERCENT: u32 = 5;

/// (name, category, price in kopecks, allergens)
const PRODUCTS: &[(&str, &str, i64, &[&str])] = &[
    ("Булочка с маком", "выпечка", 3_500, &["gluten", "eggs"]),
    ("Пирожок с капустой", "выпечка", 3_000, &["gluten"]),
    ("Ватрушка", "выпечка", 4_000, &["gluten", "milk", "eggs"]),
    ("Сок яблочный 0,2 л", "напитки", 4_500, &[]),
    ("Компот из сухофруктов", "напитки", 2_500, &[]),
    ("Чай с лимоном", "напитки", 1_500, &[]),
    ("Йогурт питьевой", "молочное", 5_500, &["milk"]),
    ("Сырок глазированный", "молочное", 4_900, &["milk", "soy"]),
    (
        "Шоколадный батончик",
        "сладости",
        6_000,
        &["milk", "peanuts", "soy"],
    ),
    ("Вафли", "сладости", 3_900, &["gluten", "milk", "tree_nuts"]),
    ("Салат из свежей капусты", "салаты", 4_200, &["celery"]),
    ("Яблоко", "фрукты", 2_000, &[]),
    ("Банан", "фрукты", 2_500, &[]),
    ("Пицца школьная", "выпечка", 7_500, &["gluten", "milk"]),
];

/// The canteen's events, in journal order.
pub fn plan(seed: u64, now: DateTime<Utc>, school: &School) -> Vec<EventBody> {
    let mut rng = stream(seed, STREAM_CANTEEN);
    let mut events = vec![EventBody::CanteenConfigured {
        settings: CanteenSettings {
            order_cut_off: NaiveTime::from_hms_opt(9, 30, 0).expect("a valid time"),
            overdraft_floor: Kopecks(10_000),
            offline_budget: Kopecks(30_000),
        },
    }];

    let products: Vec<Product> = PRODUCTS
        .iter()
        .map(|(name, category, price, allergens)| Product {
            product_id: ProductId(next_uuid(&mut rng)),
            name: (*name).to_owned(),
            price: Kopecks(*price),
            category: (*category).to_owned(),
            allergens: allergens
                .iter()
                .map(|a| Allergen::new(a).expect("a listed allergen"))
                .collect(),
        })
        .collect();
    for product in &products {
        events.push(EventBody::ProductSaved {
            product: product.clone(),
        });
    }

    let complex =
        |rng: &mut rand_chacha::ChaCha8Rng, name: &str, meal, band, price, payer| Complex {
            complex_id: ComplexId(next_uuid(rng)),
            name: name.to_owned(),
            meal,
            grades: band,
            price: Kopecks(price),
            payer,
        };
    let senior = GradeBand::new(5, 11);
    let complexes = [
        complex(
            &mut rng,
            "Завтрак 1–4",
            MealKind::Breakfast,
            GradeBand::PRIMARY,
            7_350,
            Payer::Municipal,
        ),
        complex(
            &mut rng,
            "Обед 1–4",
            MealKind::Lunch,
            GradeBand::PRIMARY,
            10_475,
            Payer::Regional,
        ),
        complex(
            &mut rng,
            "Завтрак 5–11",
            MealKind::Breakfast,
            senior,
            8_120,
            Payer::Municipal,
        ),
        complex(
            &mut rng,
            "Обед 5–11",
            MealKind::Lunch,
            senior,
            12_260,
            Payer::Municipal,
        ),
        complex(
            &mut rng,
            "Полдник 1–4",
            MealKind::AfternoonSnack,
            GradeBand::PRIMARY,
            4_800,
            Payer::Municipal,
        ),
        complex(
            &mut rng,
            "Обед платный",
            MealKind::Lunch,
            GradeBand::ALL,
            15_000,
            Payer::Parents,
        ),
    ];
    for complex in &complexes {
        events.push(EventBody::ComplexSaved {
            complex: complex.clone(),
        });
    }

    let both = vec![MealKind::Breakfast, MealKind::Lunch];
    let categories: Vec<BenefitCategory> = [
        ("Многодетная семья", both.clone()),
        ("Малоимущая семья", both.clone()),
        ("Ребёнок с ОВЗ", both),
        ("Дети участников СВО", vec![MealKind::Lunch]),
    ]
    .into_iter()
    .map(|(name, meals)| BenefitCategory {
        category_id: BenefitCategoryId(next_uuid(&mut rng)),
        name: name.to_owned(),
        meals,
    })
    .collect();
    for category in &categories {
        events.push(EventBody::BenefitCategorySaved {
            category: category.clone(),
        });
    }

    let grade_of = |class| {
        school
            .classes
            .iter()
            .find(|c| Some(c.id) == class)
            .map_or(0, |c| c.grade)
    };
    let year_end = school.year_start + Duration::days(364);
    for pupil in &school.pupils {
        let grade = grade_of(pupil.class_id);
        if grade >= 5 && rng.gen_range(0..100) < BENEFIT_PERCENT {
            let category = &categories[rng.gen_range(0..categories.len())];
            let number = rng.gen_range(100..10_000);
            events.push(EventBody::BenefitGranted {
                grant: BenefitGrant {
                    grant_id: next_uuid(&mut rng),
                    person_id: pupil.id,
                    category_id: category.category_id,
                    valid_from: school.year_start,
                    valid_to: year_end,
                    document: format!("{} — справка № {number}", category.name),
                },
            });
        }
        // Top-ups of 100–1 500 ₽ in whole hundreds, as parents pay.
        events.push(EventBody::BalanceToppedUp {
            person_id: pupil.id,
            amount: Kopecks(rng.gen_range(1..=15) * 10_000),
            note: "пополнение при открытии демо".to_owned(),
        });
        if rng.gen_range(0..100) < PARENTS_WISHES_PERCENT {
            let sweets_before_lunch = Ban {
                ban_id: next_uuid(&mut rng),
                target: BanTarget::Category("сладости".to_owned()),
                hours: Some(BanHours {
                    from: NaiveTime::from_hms_opt(7, 0, 0).expect("a valid time"),
                    to: NaiveTime::from_hms_opt(13, 0, 0).expect("a valid time"),
                }),
            };
            let no_nuts = Ban {
                ban_id: next_uuid(&mut rng),
                target: BanTarget::Allergen(Allergen::new("peanuts").expect("a known allergen")),
                hours: None,
            };
            let ban = if rng.gen_bool(0.5) {
                sweets_before_lunch
            } else {
                no_nuts
            };
            events.push(EventBody::CanteenBanSet {
                person_id: pupil.id,
                ban,
            });
            events.push(EventBody::DailyLimitSet {
                person_id: pupil.id,
                limit: Some(Kopecks(rng.gen_range(1..=3) * 10_000)),
            });
        }
    }

    let tz: chrono_tz::Tz = TIME_ZONE.parse().expect("a valid IANA zone");
    let today = now.with_timezone(&tz).date_naive();
    for day in 0..MENU_DAYS {
        let items: Vec<MenuItem> = products
            .iter()
            .filter(|_| rng.gen_range(0..100) < 80)
            .map(|p| MenuItem {
                product_id: p.product_id,
                price: p.price,
            })
            .collect();
        events.push(EventBody::DayMenuSet {
            school_date: today + Duration::days(day),
            items,
        });
    }
    events
}
