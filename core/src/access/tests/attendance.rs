//! `pupil_attendance`: late, left early, absent, corrections, the school's zone.

use super::*;
use crate::peripherals::Direction::{Entry, Exit};

#[test]
fn attendance_of_a_pupil_day() {
    use Presence::*;
    let rules = rules_2025();
    let grade5 = class(5, 5); // six lessons: 08:30 – 13:40
    let (mon, tue, sun) = (date(2025, 9, 1), date(2025, 9, 2), date(2025, 9, 7));
    let short = date(2026, 4, 30); // six shortened lessons: 08:30 – 12:30
    let p = |direction, day, h, m| ConfirmedPass {
        at: msk(day, h, m),
        direction,
    };
    let fix = |mark, reason: &str| {
        Some(AttendanceCorrection {
            mark,
            reason: reason.into(),
        })
    };
    // (what, date, passes, correction, presence, late, left early, late by minutes)
    type Row = (
        &'static str,
        SchoolDate,
        Vec<ConfirmedPass>,
        Option<AttendanceCorrection>,
        Presence,
        bool,
        bool,
        Option<u32>,
    );
    #[rustfmt::skip]
    let rows: Vec<Row> = vec![
        ("a whole day", tue, vec![p(Entry, tue, 8, 10), p(Exit, tue, 14, 0)], None, Present, false, false, None),
        ("in within the grace", tue, vec![p(Entry, tue, 8, 31)], None, Present, false, false, None),
        ("in past the grace", tue, vec![p(Entry, tue, 8, 32)], None, Present, true, false, Some(2)),
        ("late and left early", tue, vec![p(Entry, tue, 8, 45), p(Exit, tue, 12, 0)], None, Present, true, true, Some(15)),
        ("out within the grace", tue, vec![p(Entry, tue, 8, 0), p(Exit, tue, 13, 35)], None, Present, false, false, None),
        ("out past the grace", tue, vec![p(Entry, tue, 8, 0), p(Exit, tue, 13, 34)], None, Present, false, true, None),
        ("out and back in", tue, vec![p(Entry, tue, 8, 0), p(Exit, tue, 11, 0), p(Entry, tue, 11, 30)], None, Present, false, false, None),
        ("out, back, out for good", tue, vec![p(Entry, tue, 8, 0), p(Exit, tue, 11, 0), p(Entry, tue, 11, 30), p(Exit, tue, 12, 0)],
            None, Present, false, true, None),
        ("passes in any order", tue, vec![p(Exit, tue, 14, 0), p(Entry, tue, 9, 0)], None, Present, true, false, Some(30)),
        ("already inside: the first pass is an exit", tue, vec![p(Exit, tue, 8, 40), p(Entry, tue, 8, 50)], None, Present, false, false, None),
        ("only an exit", tue, vec![p(Exit, tue, 14, 0)], None, Present, false, false, None),
        ("no pass", tue, vec![], None, Absent, false, false, None),
        ("yesterday's passes do not count", tue, vec![p(Entry, mon, 8, 0), p(Exit, mon, 14, 0)], None, Absent, false, false, None),
        ("Sunday, no pass", sun, vec![], None, NoLessons, false, false, None),
        ("Sunday, a club", sun, vec![p(Entry, sun, 11, 0)], None, Present, false, false, None),
        ("shortened day, out early", short, vec![p(Entry, short, 8, 0), p(Exit, short, 12, 0)], None, Present, false, true, None),
        ("shortened day, a whole day", short, vec![p(Entry, short, 8, 0), p(Exit, short, 12, 26)], None, Present, false, false, None),
        ("corrected: excused", tue, vec![], fix(CorrectedMark::Excused, "справка от врача"), Excused, false, false, None),
        ("corrected: present", tue, vec![p(Entry, tue, 8, 45)], fix(CorrectedMark::Present, "пробка, предупредили"), Present, false, false, None),
        ("corrected: late", tue, vec![], fix(CorrectedMark::Late, "карту забыл"), Present, true, false, None),
        ("corrected: left early", tue, vec![p(Entry, tue, 8, 0)], fix(CorrectedMark::LeftEarly, "к врачу"), Present, false, true, None),
        ("corrected: absent over a pass", tue, vec![p(Entry, tue, 8, 10)], fix(CorrectedMark::Absent, "чужая карта"), Absent, false, false, None),
    ];
    let mut failures = Vec::new();
    for (what, day, passes, correction, presence, late, left_early, late_by) in rows {
        let got = pupil_attendance(&rules, moscow(), grade5, day, &passes, correction.as_ref());
        let found = (
            got.presence,
            got.late,
            got.left_early,
            got.late_by_minutes,
            got.corrected,
        );
        let expected = (presence, late, left_early, late_by, correction.is_some());
        if found != expected {
            failures.push(format!("{what}: {found:?}, expected {expected:?}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn attendance_follows_the_school_zone() {
    let rules = rules_2025();
    let vladivostok = zone("Asia/Vladivostok");
    let tue = date(2025, 9, 2);
    // 22:10 UTC on Monday is 08:10 on Tuesday in Vladivostok (UTC+10); 06:00 UTC is 16:00.
    let entry = Utc.with_ymd_and_hms(2025, 9, 1, 22, 10, 0).unwrap();
    let exit = Utc.with_ymd_and_hms(2025, 9, 2, 6, 0, 0).unwrap();
    let passes = [
        ConfirmedPass {
            at: exit,
            direction: Exit,
        },
        ConfirmedPass {
            at: entry,
            direction: Entry,
        },
    ];
    let summary = |day: DayAttendance| {
        (
            day.first_entry,
            day.last_exit,
            day.presence,
            day.late,
            day.left_early,
        )
    };
    let day = pupil_attendance(&rules, vladivostok, class(5, 5), tue, &passes, None);
    assert_eq!(
        summary(day),
        (Some(entry), Some(exit), Presence::Present, false, false)
    );
    // In Moscow (UTC+3) the same instants are Tuesday 01:10 and 09:00: out during the
    // first lesson.
    let day = pupil_attendance(&rules, moscow(), class(5, 5), tue, &passes, None);
    assert_eq!(
        summary(day),
        (Some(entry), Some(exit), Presence::Present, false, true)
    );
    // On Monday in Vladivostok neither pass counts.
    let monday = date(2025, 9, 1);
    let day = pupil_attendance(&rules, vladivostok, class(5, 5), monday, &passes, None);
    assert_eq!(summary(day), (None, None, Presence::Absent, false, false));
}
