//! The rule for a configuration as an admin saves it: ranges in order, lessons that do
//! not overlap, grade bands inside 1–11, lists of a bounded length. The rules in this
//! module never panic on a bad configuration; this says what is wrong with one, field
//! by field, so the settings screen can point at it.

use super::bells::{Lesson, ShiftBells};
use super::{AccessRules, GradeBand};
use crate::domain::{GRADE_MAX, GRADE_MIN};
use serde::Serialize;

/// Longest list in a configuration: a calendar holds at most 366 dates, a big school
/// about a hundred classes; more is a pasted mistake, and every rule scans these lists
/// on each card read.
pub const RULES_LIST_LEN_MAX: usize = 400;
/// Most lessons a shift's bells may hold: SanPiN allows at most 7 a day, 12 leaves room
/// for electives (zero and eighth lessons).
pub const LESSONS_PER_SHIFT_MAX: usize = 12;

/// What is wrong with one field of a configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemCode {
    /// A range ends before it starts (a vacation, the school year, a lesson).
    RangeReversed,
    /// A lesson starts before the previous one ends.
    LessonsOverlap,
    /// A grade band is reversed or outside 1–11.
    BadGradeBand,
    /// A list longer than its limit ([`RULES_LIST_LEN_MAX`], [`LESSONS_PER_SHIFT_MAX`]).
    TooMany,
    /// A shift with no lessons, or a timetable of no lessons a day.
    NoLessons,
}

/// A problem and where it is, as a path into the configuration's JSON:
/// `bells.first_shift.lessons[3]`, `calendar.vacations[0]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RulesProblem {
    pub field: String,
    pub code: ProblemCode,
}

impl AccessRules {
    /// Everything wrong with this configuration; empty when it can be saved.
    pub fn problems(&self) -> Vec<RulesProblem> {
        let mut out = Vec::new();
        let mut report = |field: String, code: ProblemCode| out.push(RulesProblem { field, code });
        let cal = &self.calendar;
        if cal.last_day < cal.first_day {
            report("calendar.last_day".into(), ProblemCode::RangeReversed);
        }
        for (name, len) in [
            ("calendar.grade_weeks", cal.grade_weeks.len()),
            ("calendar.holidays", cal.holidays.len()),
            ("calendar.vacations", cal.vacations.len()),
            ("calendar.shortened_days", cal.shortened_days.len()),
            ("calendar.working_weekends", cal.working_weekends.len()),
            ("bells.grades", self.bells.grades.len()),
            ("bells.classes", self.bells.classes.len()),
            ("policy.grade_windows", self.policy.grade_windows.len()),
            ("policy.class_windows", self.policy.class_windows.len()),
            ("policy.role_windows", self.policy.role_windows.len()),
            (
                "policy.anti_passback.zones",
                self.policy.anti_passback.zones.len(),
            ),
            ("policy.no_leaving", self.policy.no_leaving.len()),
        ] {
            if len > RULES_LIST_LEN_MAX {
                report(name.into(), ProblemCode::TooMany);
            }
        }
        for (i, v) in cal.vacations.iter().enumerate() {
            if v.last < v.first {
                report(
                    format!("calendar.vacations[{i}]"),
                    ProblemCode::RangeReversed,
                );
            }
        }
        let bands = cal
            .grade_weeks
            .iter()
            .map(|w| ("calendar.grade_weeks", w.grades))
            .chain(
                cal.vacations
                    .iter()
                    .filter_map(|v| v.grades.map(|g| ("calendar.vacations", g))),
            )
            .chain(self.bells.grades.iter().map(|g| ("bells.grades", g.grades)))
            .chain(
                self.policy
                    .grade_windows
                    .iter()
                    .map(|w| ("policy.grade_windows", w.grades)),
            )
            .chain(
                self.policy
                    .no_leaving
                    .iter()
                    .map(|r| ("policy.no_leaving", r.grades)),
            );
        for (list, band) in bands {
            if !band_is_valid(band) {
                report(
                    format!("{list}: {}–{}", band.first, band.last),
                    ProblemCode::BadGradeBand,
                );
            }
        }
        let shifts = [
            ("bells.first_shift", Some(&self.bells.first_shift)),
            ("bells.second_shift", self.bells.second_shift.as_ref()),
        ];
        for (name, shift) in shifts {
            if let Some(shift) = shift {
                check_shift(name, shift, &mut report);
            }
        }
        for (i, g) in self.bells.grades.iter().enumerate() {
            if g.lessons_per_day == 0 {
                report(format!("bells.grades[{i}]"), ProblemCode::NoLessons);
            }
        }
        out
    }
}

fn band_is_valid(band: GradeBand) -> bool {
    GRADE_MIN <= band.first && band.first <= band.last && band.last <= GRADE_MAX
}

fn check_shift(name: &str, shift: &ShiftBells, report: &mut impl FnMut(String, ProblemCode)) {
    if shift.lessons.is_empty() {
        report(format!("{name}.lessons"), ProblemCode::NoLessons);
    }
    for (list, lessons) in [("lessons", &shift.lessons), ("shortened", &shift.shortened)] {
        if lessons.len() > LESSONS_PER_SHIFT_MAX {
            report(format!("{name}.{list}"), ProblemCode::TooMany);
        }
        let mut previous: Option<&Lesson> = None;
        for (i, lesson) in lessons.iter().enumerate() {
            if lesson.end <= lesson.start {
                report(format!("{name}.{list}[{i}]"), ProblemCode::RangeReversed);
            } else if previous.is_some_and(|p| lesson.start < p.end) {
                report(format!("{name}.{list}[{i}]"), ProblemCode::LessonsOverlap);
            }
            previous = Some(lesson);
        }
    }
}
