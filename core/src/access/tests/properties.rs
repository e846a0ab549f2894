//! Properties over arbitrary cards, holders, instants, zones and rule variants.

use super::*;
use crate::peripherals::Direction::{Entry, Exit};
use chrono::{Days, NaiveDateTime, TimeDelta};
use proptest::prelude::*;
use std::collections::BTreeSet;

/// 2020-01-01 to 2035-12-31, in seconds since the epoch.
const INSTANT_MIN_S: i64 = 1_577_836_800;
const INSTANT_MAX_S: i64 = 2_082_758_399;
/// Zones east and west of Moscow, one with DST.
const ZONES: [&str; 4] = [
    "Europe/Moscow",
    "Asia/Vladivostok",
    "Europe/Kaliningrad",
    "Europe/Berlin",
];
/// Passes of one pupil in a generated day: a busy day has a handful.
const PASSES_PER_DAY_MAX: usize = 8;
/// Generated passes spread over 36 hours from the day's start, so that some fall on the
/// next school date.
const PASS_SPREAD_S: i64 = 36 * 3600;
const DAYS_PER_YEAR_MAX: u64 = 366;
const MINUTES_PER_DAY: u32 = 24 * 60;

fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    (INSTANT_MIN_S..=INSTANT_MAX_S).prop_map(|s| DateTime::from_timestamp(s, 0).unwrap())
}

fn status() -> impl Strategy<Value = PersonStatus> {
    prop_oneof![
        Just(PersonStatus::Active),
        Just(PersonStatus::Suspended),
        Just(PersonStatus::Left)
    ]
}

fn direction() -> impl Strategy<Value = Direction> {
    prop_oneof![Just(Entry), Just(Exit)]
}

fn holder() -> impl Strategy<Value = Holder> {
    prop_oneof![
        // Grades 0 and 12–13 too: data from outside is not always right.
        (status(), proptest::option::of(0u8..=13)).prop_map(|(status, grade)| Holder::Pupil {
            status,
            class: grade.map(|g| class(u128::from(g), g)),
        }),
        (
            status(),
            proptest::sample::subsequence(Role::ALL.to_vec(), 0..=3)
        )
            .prop_map(|(status, roles)| Holder::Staff { status, roles }),
        status().prop_map(|status| Holder::Guardian { status }),
        instant().prop_map(|valid_until| Holder::Visitor { valid_until }),
    ]
}

fn zone_id() -> impl Strategy<Value = ZoneId> {
    prop_oneof![Just(ZoneId::main()), Just(ZoneId::new("sport").unwrap())]
}

fn card() -> impl Strategy<Value = Option<CardState>> {
    proptest::option::of(prop_oneof![
        Just(CardState::Active),
        Just(CardState::Lost),
        Just(CardState::Blocked),
        Just(CardState::Returned)
    ])
}

fn pass_request() -> impl Strategy<Value = PassRequest> {
    let last = proptest::option::of((direction(), instant(), zone_id()));
    (
        card(),
        proptest::option::of(holder()),
        direction(),
        zone_id(),
        instant(),
        last,
        any::<bool>(),
    )
        .prop_map(
            |(card, holder, direction, zone, at, last, guard_override)| PassRequest {
                card,
                holder,
                direction,
                zone,
                at,
                last_pass: last.map(|(direction, at, zone)| LastPass {
                    direction,
                    at,
                    zone,
                }),
                guard_override,
            },
        )
}

fn passback_mode() -> impl Strategy<Value = PassbackMode> {
    prop_oneof![
        Just(PassbackMode::Strict),
        Just(PassbackMode::Soft),
        Just(PassbackMode::Off)
    ]
}

/// The default rules of a school year 2019–2035, with the policy's switches varied.
fn rules() -> impl Strategy<Value = AccessRules> {
    let forgive = proptest::option::of(0u32..=48 * 60);
    (
        2019i32..=2035,
        passback_mode(),
        any::<bool>(),
        forgive,
        any::<bool>(),
        0u32..=30,
    )
        .prop_map(|(year, mode, reset, forgive, breaks_too, grace)| {
            let mut rules =
                AccessRules::russian_default(NaiveDate::from_ymd_opt(year, 9, 1).unwrap());
            let passback = &mut rules.policy.anti_passback;
            passback.mode = mode;
            passback.reset_at_midnight = reset;
            passback.forgive_after_minutes = forgive;
            rules.policy.no_leaving[0].breaks_too = breaks_too;
            rules.policy.attendance.late_grace_minutes = grace;
            rules
        })
}

fn school_zone() -> impl Strategy<Value = SchoolTz> {
    proptest::sample::select(ZONES.to_vec()).prop_map(zone)
}

proptest! {
    #[test]
    fn decisions_are_consistent(rules in rules(), tz in school_zone(), request in pass_request()) {
        let d = decide(&rules, tz, &request);
        prop_assert_eq!(d.allowed, d.reason == Reason::Allowed);
        prop_assert_eq!(d.overridden.is_some(), d.flags.contains(&Flag::Override));
        if let Some(set_aside) = d.overridden {
            prop_assert!(request.guard_override && set_aside.is_overridable());
        }
        if !d.allowed && request.guard_override {
            prop_assert!(!d.reason.is_overridable(), "an override did not work: {:?}", d);
        }
        let distinct: BTreeSet<&str> = d.flags.iter().map(|f| f.as_str()).collect();
        prop_assert_eq!(distinct.len(), d.flags.len());
        let entry_only = matches!(
            d.reason,
            Reason::NotASchoolDay | Reason::OutsideHours | Reason::NotPermitted | Reason::Passback | Reason::VisitorPassExpired
        );
        match request.direction {
            Exit => prop_assert!(!entry_only, "an exit refused by {:?}", d.reason),
            Entry => prop_assert_ne!(d.reason, Reason::LessonsInProgress),
        }
        if request.card != Some(CardState::Active) || request.holder.is_none() {
            prop_assert!(!d.allowed);
        }
    }

    #[test]
    fn attendance_marks_are_consistent(
        rules in rules(),
        tz in school_zone(),
        grade in 1u8..=11,
        day in 0..DAYS_PER_YEAR_MAX,
        passes in proptest::collection::vec((direction(), 0..PASS_SPREAD_S), 0..=PASSES_PER_DAY_MAX),
    ) {
        let date = SchoolDate(rules.calendar.first_day + Days::new(day));
        let start = tz.day_start(date);
        let passes: Vec<ConfirmedPass> = passes
            .into_iter()
            .map(|(direction, s)| ConfirmedPass { at: start + TimeDelta::seconds(s), direction })
            .collect();
        let a = pupil_attendance(&rules, tz, class(1, grade), date, &passes, None);
        let today: Vec<&ConfirmedPass> = passes.iter().filter(|p| tz.school_date(p.at) == date).collect();
        prop_assert_eq!(a.presence == Presence::Present, !today.is_empty());
        if a.late || a.left_early {
            prop_assert_eq!(a.presence, Presence::Present);
            prop_assert!(a.day_kind.is_working());
        }
        prop_assert_eq!(a.late, a.late_by_minutes.is_some());
        if today.is_empty() {
            let expected = if a.day_kind.is_working() { Presence::Absent } else { Presence::NoLessons };
            prop_assert_eq!(a.presence, expected);
        }
        let first_entry = today.iter().filter(|p| p.direction == Entry).map(|p| p.at).min();
        let last_exit = today.iter().filter(|p| p.direction == Exit).map(|p| p.at).max();
        prop_assert_eq!((a.first_entry, a.last_exit), (first_entry, last_exit));
    }

    #[test]
    fn every_pupil_lesson_day_is_a_staff_working_day(year in 2019i32..=2035, day in 0..DAYS_PER_YEAR_MAX, grade in 1u8..=11) {
        let calendar = SchoolCalendar::russian_default(NaiveDate::from_ymd_opt(year, 9, 1).unwrap());
        let date = SchoolDate(calendar.first_day + Days::new(day));
        if calendar.pupil_day(date, grade).is_working() {
            prop_assert!(calendar.staff_day(date).is_working());
        }
        prop_assert_ne!(calendar.staff_day(date), DayKind::Vacation);
    }

    #[test]
    fn a_lesson_on_is_within_lesson_hours(
        year in 2019i32..=2035,
        day in 0..DAYS_PER_YEAR_MAX,
        grade in 1u8..=11,
        minute in 0..MINUTES_PER_DAY,
    ) {
        let rules = AccessRules::russian_default(NaiveDate::from_ymd_opt(year, 9, 1).unwrap());
        let time = NaiveTime::from_num_seconds_from_midnight_opt(minute * 60, 0).unwrap();
        let when: NaiveDateTime = (rules.calendar.first_day + Days::new(day)).and_time(time);
        let c = class(1, grade);
        if rules.bells.lesson_in_progress(&rules.calendar, c, when).is_some() {
            prop_assert!(rules.bells.within_lesson_hours(&rules.calendar, c, when));
        }
    }
}
