//! The configuration as data: JSON, codes, the check before saving.

use super::*;
use crate::peripherals::Direction::Exit;

#[test]
fn configuration_round_trips_through_json() {
    let rules = rules_2025();
    let json = serde_json::to_value(&rules).unwrap();
    assert_eq!(json["calendar"]["grade_weeks"][0]["week"], "five_day");
    assert_eq!(json["policy"]["anti_passback"]["mode"], "strict");
    assert_eq!(json["policy"]["pupils"]["days"], "school_days");
    assert_eq!(
        json["bells"]["first_shift"]["lessons"][0]["start"],
        "08:30:00"
    );
    let back: AccessRules = serde_json::from_value(json).unwrap();
    assert_eq!(back, rules);
    assert!(serde_json::from_value::<ZoneId>(serde_json::json!("  ")).is_err());
    assert_eq!(
        serde_json::from_value::<ZoneId>(serde_json::json!(" sport ")).unwrap(),
        ZoneId::new("sport").unwrap()
    );
}

#[test]
fn codes_are_the_serde_names() {
    for r in Reason::ALL {
        assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
    }
    for f in Flag::ALL {
        assert_eq!(serde_json::to_value(f).unwrap(), f.as_str());
    }
    let overridable: Vec<&str> = Reason::ALL
        .iter()
        .filter(|r| r.is_overridable())
        .map(|r| r.as_str())
        .collect();
    assert_eq!(
        overridable,
        [
            "not_permitted",
            "not_a_school_day",
            "outside_hours",
            "passback",
            "lessons_in_progress"
        ]
    );
    let lost = request(pupil(5), Exit, msk(date(2025, 9, 2), 15, 0)).card(Some(CardState::Lost));
    assert_eq!(
        serde_json::to_value(decide(&rules_2025(), moscow(), &lost)).unwrap(),
        serde_json::json!({"allowed": false, "reason": "card_lost", "flags": [], "overridden": null})
    );
}

#[test]
fn a_configuration_is_checked_field_by_field() {
    use ProblemCode::*;
    assert_eq!(rules_2025().problems(), vec![], "the default is valid");
    fn year_reversed(r: &mut AccessRules) {
        r.calendar.last_day = r.calendar.first_day.pred_opt().unwrap();
    }
    fn vacation_reversed(r: &mut AccessRules) {
        let v = &mut r.calendar.vacations[1];
        std::mem::swap(&mut v.first, &mut v.last);
    }
    fn too_many_holidays(r: &mut AccessRules) {
        let h = r.calendar.holidays[0].clone();
        r.calendar.holidays = vec![h; RULES_LIST_LEN_MAX + 1];
    }
    fn too_many_lessons(r: &mut AccessRules) {
        let count = u32::try_from(LESSONS_PER_SHIFT_MAX).unwrap() + 1;
        let hourly = |i| Lesson {
            start: hm(7 + i, 0),
            end: hm(7 + i, 40),
        };
        r.bells.second_shift.as_mut().unwrap().lessons = (0..count).map(hourly).collect();
    }
    /// What, a change to the default, the problems expected (field, code).
    type Row = (
        &'static str,
        fn(&mut AccessRules),
        Vec<(&'static str, ProblemCode)>,
    );
    #[rustfmt::skip]
    let rows: Vec<Row> = vec![
        ("year reversed", year_reversed, vec![("calendar.last_day", RangeReversed)]),
        ("vacation reversed", vacation_reversed, vec![("calendar.vacations[1]", RangeReversed)]),
        ("grade 12", |r| r.policy.no_leaving[0].grades = GradeBand::new(1, 12), vec![("policy.no_leaving: 1–12", BadGradeBand)]),
        ("band reversed", |r| r.calendar.grade_weeks[0].grades = GradeBand::new(4, 1), vec![("calendar.grade_weeks: 4–1", BadGradeBand)]),
        ("lesson ends first", |r| r.bells.first_shift.lessons[2].end = hm(10, 0), vec![("bells.first_shift.lessons[2]", RangeReversed)]),
        ("lessons overlap", |r| r.bells.first_shift.shortened[1].start = hm(8, 50), vec![("bells.first_shift.shortened[1]", LessonsOverlap)]),
        ("no bells", |r| r.bells.first_shift.lessons.clear(), vec![("bells.first_shift.lessons", NoLessons)]),
        ("zero lessons a day", |r| r.bells.grades[0].lessons_per_day = 0, vec![("bells.grades[0]", NoLessons)]),
        ("too many holidays", too_many_holidays, vec![("calendar.holidays", TooMany)]),
        ("too many lessons", too_many_lessons, vec![("bells.second_shift.lessons", TooMany)]),
    ];
    for (what, change, expected) in rows {
        let mut rules = rules_2025();
        change(&mut rules);
        let expected: Vec<RulesProblem> = expected
            .into_iter()
            .map(|(field, code)| RulesProblem {
                field: field.into(),
                code,
            })
            .collect();
        assert_eq!(rules.problems(), expected, "{what}");
        // A bad configuration is still safe to decide and count attendance with.
        let tue = date(2025, 9, 2);
        decide(&rules, moscow(), &request(pupil(3), Exit, msk(tue, 9, 0)));
        pupil_attendance(&rules, moscow(), class(3, 3), tue, &[], None);
    }
}
