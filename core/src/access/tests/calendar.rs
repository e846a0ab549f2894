//! The generated calendars and the bell schedule.

use super::*;
use std::collections::BTreeSet;

#[test]
fn calendar_days_over_four_school_years() {
    use DayKind::*;
    // (school year, date, grade or None for the staff, expected, what)
    #[rustfmt::skip]
    let rows: &[(i32, SchoolDate, Option<u8>, DayKind, &str)] = &[
        // 2024/25: 1 September is a Sunday.
        (2024, date(2024, 9, 1), Some(5), Weekend, "first day on a Sunday"),
        (2024, date(2024, 9, 2), Some(5), SchoolDay, "lessons start Monday"),
        (2024, date(2024, 8, 30), Some(5), Vacation, "summer before the year"),
        (2024, date(2024, 8, 30), None, SchoolDay, "staff work in August"),
        // 2025/26: 4 November is a Tuesday.
        (2025, date(2025, 9, 1), Some(2), SchoolDay, "1 September, Monday"),
        (2025, date(2025, 9, 6), Some(2), Weekend, "Saturday, five-day week (1–4)"),
        (2025, date(2025, 9, 6), Some(7), SchoolDay, "Saturday, six-day week (5–11)"),
        (2025, date(2025, 9, 6), None, SchoolDay, "Saturday, staff six-day"),
        (2025, date(2025, 9, 7), Some(7), Weekend, "Sunday"),
        (2025, date(2025, 9, 7), None, Weekend, "Sunday, staff"),
        (2025, date(2025, 10, 24), Some(7), SchoolDay, "Friday before the autumn vacation"),
        (2025, date(2025, 10, 25), Some(7), Vacation, "autumn vacation from Saturday 25 October"),
        (2025, date(2025, 10, 27), Some(2), Vacation, "autumn vacation, Monday"),
        (2025, date(2025, 10, 27), None, SchoolDay, "staff work in the vacation"),
        (2025, date(2025, 11, 1), None, SchoolDay, "transferred working Saturday"),
        (2025, date(2025, 11, 1), Some(2), Vacation, "transferred Saturday inside the vacation"),
        (2025, date(2025, 11, 3), Some(7), Holiday, "bridge Monday before Tuesday 4 November"),
        (2025, date(2025, 11, 3), None, Holiday, "bridge Monday, staff"),
        (2025, date(2025, 11, 4), Some(7), Holiday, "День народного единства"),
        (2025, date(2025, 11, 5), Some(7), SchoolDay, "back after the holiday"),
        (2025, date(2025, 12, 29), Some(7), SchoolDay, "last lessons of the year"),
        (2025, date(2025, 12, 30), Some(7), Vacation, "winter vacation"),
        (2025, date(2025, 12, 31), Some(7), Vacation, "31 December, pupils"),
        (2025, date(2025, 12, 31), None, ShortenedDay, "31 December, staff: pre-holiday"),
        (2025, date(2026, 1, 5), Some(7), Holiday, "New Year holidays over the vacation"),
        (2025, date(2026, 1, 8), None, Holiday, "8 January"),
        (2025, date(2026, 1, 9), Some(7), SchoolDay, "back on 9 January"),
        (2025, date(2026, 2, 9), Some(1), Vacation, "first-graders' February week"),
        (2025, date(2026, 2, 9), Some(2), SchoolDay, "second-graders study"),
        (2025, date(2026, 2, 16), Some(1), SchoolDay, "first-graders back"),
        (2025, date(2026, 2, 23), Some(7), Holiday, "23 February, Monday"),
        (2025, date(2026, 3, 8), Some(7), Holiday, "8 March, Sunday"),
        (2025, date(2026, 3, 9), Some(7), Holiday, "8 March moved to Monday"),
        (2025, date(2026, 3, 27), Some(7), SchoolDay, "before the spring vacation"),
        (2025, date(2026, 3, 28), Some(7), Vacation, "spring vacation from Saturday 28 March"),
        (2025, date(2026, 4, 4), Some(7), Vacation, "spring vacation, Saturday"),
        (2025, date(2026, 4, 5), Some(7), Weekend, "a Sunday in the vacation is a weekend"),
        (2025, date(2026, 4, 6), Some(7), SchoolDay, "back after spring"),
        (2025, date(2026, 4, 30), Some(7), ShortenedDay, "before 1 May"),
        (2025, date(2026, 4, 30), Some(2), ShortenedDay, "before 1 May, primary"),
        (2025, date(2026, 5, 1), Some(7), Holiday, "1 May"),
        (2025, date(2026, 5, 8), Some(7), ShortenedDay, "before 9 May"),
        (2025, date(2026, 5, 9), Some(7), Holiday, "9 May, Saturday"),
        (2025, date(2026, 5, 11), Some(7), Holiday, "9 May moved to Monday"),
        (2025, date(2026, 5, 26), Some(7), SchoolDay, "last day of lessons"),
        (2025, date(2026, 5, 27), Some(7), Vacation, "summer"),
        (2025, date(2026, 6, 11), None, ShortenedDay, "before 12 June, staff"),
        (2025, date(2026, 6, 12), None, Holiday, "12 June"),
        // 2026/27: 23 February 2027 is a Tuesday.
        (2026, date(2026, 9, 1), Some(5), SchoolDay, "1 September, Tuesday"),
        (2026, date(2026, 10, 31), Some(5), Vacation, "autumn from Saturday 31 October"),
        (2026, date(2026, 11, 3), None, ShortenedDay, "before 4 November, staff"),
        (2026, date(2026, 11, 3), Some(5), Vacation, "before 4 November, pupils on vacation"),
        (2026, date(2027, 1, 7), None, Holiday, "Christmas"),
        (2026, date(2027, 2, 20), Some(2), SchoolDay, "transferred Saturday, five-day grade"),
        (2026, date(2027, 2, 20), Some(1), Vacation, "transferred Saturday, first-graders' week"),
        (2026, date(2027, 2, 27), Some(2), Weekend, "an ordinary Saturday"),
        (2026, date(2027, 2, 22), Some(7), Holiday, "bridge Monday"),
        (2026, date(2027, 2, 23), Some(7), Holiday, "23 February, Tuesday"),
        (2026, date(2027, 4, 30), Some(7), ShortenedDay, "Friday before 1 May"),
        (2026, date(2027, 5, 3), Some(7), Holiday, "1 May (Saturday) moved to Monday"),
        (2026, date(2027, 5, 10), Some(7), Holiday, "9 May (Sunday) moved to Monday"),
        // 2027/28: 4 November 2027 is a Thursday.
        (2027, date(2027, 11, 5), Some(7), Holiday, "bridge Friday after Thursday 4 November"),
        (2027, date(2027, 10, 30), Some(2), Vacation, "transferred Saturday in the vacation"),
        (2027, date(2027, 11, 3), None, ShortenedDay, "before 4 November"),
    ];
    let mut failures = Vec::new();
    for &(year, day, grade, expected, what) in rows {
        let calendar =
            SchoolCalendar::russian_default(NaiveDate::from_ymd_opt(year, 9, 1).unwrap());
        let got = match grade {
            Some(grade) => calendar.pupil_day(day, grade),
            None => calendar.staff_day(day),
        };
        if got != expected {
            failures.push(format!(
                "{what}: {} grade {grade:?}: {got:?}, expected {expected:?}",
                day.0
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn the_default_year_holds_every_federal_holiday_and_four_vacations() {
    let calendar = SchoolCalendar::russian_default(NaiveDate::from_ymd_opt(2025, 9, 1).unwrap());
    let holidays: BTreeSet<NaiveDate> = calendar.holidays.iter().map(|h| h.date).collect();
    for (y, m, d) in [
        (2025, 11, 4),
        (2026, 1, 1),
        (2026, 1, 7),
        (2026, 2, 23),
        (2026, 3, 8),
        (2026, 5, 1),
        (2026, 5, 9),
        (2026, 6, 12),
    ] {
        assert!(holidays.contains(&date(y, m, d).0), "{y}-{m}-{d}");
    }
    assert_eq!(calendar.vacations.len(), 4);
    assert_eq!(calendar.working_weekends, vec![date(2025, 11, 1).0]);
    for v in &calendar.vacations {
        assert!(v.first <= v.last, "{}", v.name);
    }
}

#[test]
fn bells_by_class_and_day() {
    let rules = rules_2025();
    let (cal, bells) = (&rules.calendar, &rules.bells);
    let tuesday = date(2025, 9, 2);
    let shortened = date(2026, 4, 30);
    let sunday = date(2025, 9, 7);
    // (class, date, first lesson's start, last lesson's end)
    #[rustfmt::skip]
    let rows = [
        (class(1, 1), tuesday, Some(hm(8, 30)), Some(hm(12, 0))),
        (class(2, 3), tuesday, Some(hm(8, 30)), Some(hm(12, 50))),
        (class(5, 5), tuesday, Some(hm(8, 30)), Some(hm(13, 40))),
        (class(10, 10), tuesday, Some(hm(8, 30)), Some(hm(14, 30))),
        (class(2, 3), shortened, Some(hm(8, 30)), Some(hm(11, 50))),
        (class(10, 10), shortened, Some(hm(8, 30)), Some(hm(13, 10))),
        (class(5, 5), sunday, None, None),
    ];
    for (c, day, start, end) in rows {
        assert_eq!(
            bells.first_lesson_start(cal, c, day),
            start,
            "{c:?} {day:?}"
        );
        assert_eq!(bells.last_lesson_end(cal, c, day), end, "{c:?} {day:?}");
    }
    let at = |h, m| tuesday.0.and_time(hm(h, m));
    // (class, local time on Tuesday, the lesson on)
    #[rustfmt::skip]
    let rows = [
        (class(2, 3), at(8, 29), None),
        (class(2, 3), at(8, 30), Some(1)),
        (class(2, 3), at(9, 9), Some(1)),
        (class(2, 3), at(9, 10), None),
        (class(2, 3), at(9, 20), Some(2)),
        (class(2, 3), at(10, 10), None),
        (class(2, 3), at(12, 49), Some(5)),
        (class(2, 3), at(13, 0), None),
        (class(5, 5), at(13, 0), Some(6)),
    ];
    for (c, when, number) in rows {
        let on = bells.lesson_in_progress(cal, c, when).map(|l| l.number);
        assert_eq!(on, number, "{c:?} {when}");
    }
}

#[test]
fn a_class_can_study_in_the_second_shift() {
    let mut rules = rules_2025();
    let late_class = class(77, 3);
    rules.bells.classes.push(ClassTimetable {
        class_id: late_class.id,
        shift: Some(Shift::Second),
        lessons_per_day: Some(4),
    });
    let (cal, bells) = (&rules.calendar, &rules.bells);
    let tuesday = date(2025, 9, 2);
    assert_eq!(bells.shift_of(late_class), Shift::Second);
    assert_eq!(bells.shift_of(class(78, 3)), Shift::First);
    assert_eq!(
        bells.first_lesson_start(cal, late_class, tuesday),
        Some(hm(14, 0))
    );
    assert_eq!(
        bells.last_lesson_end(cal, late_class, tuesday),
        Some(hm(17, 10))
    );
    // Without a second shift configured, the class keeps the first shift's bells.
    let mut one_shift = rules.clone();
    one_shift.bells.second_shift = None;
    assert_eq!(
        one_shift
            .bells
            .first_lesson_start(&one_shift.calendar, late_class, tuesday),
        Some(hm(8, 30))
    );
}
