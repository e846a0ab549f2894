//! СКУД rules: may this card pass this gate now, and how did a pupil's school day go.
//!
//! Pure functions over plain data, with the instant passed in and the school's time zone
//! ([`SchoolTz`](crate::time::SchoolTz)) used to turn it into a local date and time:
//!
//! - [`calendar`] — the school year: working weekdays per grade band, public holidays,
//!   vacations, shortened (pre-holiday) days and transferred working Saturdays;
//!   [`SchoolCalendar::pupil_day`] and [`SchoolCalendar::staff_day`] say what a date is.
//! - [`bells`] — the bell schedule (звонки): lessons of one or two shifts, a shortened
//!   variant, which shift and how many lessons each class has; the first lesson's start,
//!   the last lesson's end, the lesson in progress.
//! - [`policy`] — what the school configures: time windows per pupil grade and class and
//!   per staff role, anti-passback per zone, "no leaving during lessons", the attendance
//!   grace minutes. [`AccessPolicy::default`] is what a typical Russian school accepts.
//! - [`decide()`] — the verdict for one card at one gate: [`Decision`] with a stable
//!   [`Reason`] code and soft [`Flag`]s; the screen, the journal and the reports show the
//!   same code.
//! - [`attendance`] — one pupil's school day from their confirmed passes: first entry,
//!   last exit, late, left early, absent; an admin's correction wins.
//!
//! [`AccessRules`] bundles the three configurations (calendar, bells, policy) that every
//! rule here reads; it is serde data, so it can be journaled and edited on screen.
//! [`check`] says what is wrong with one before it is saved ([`AccessRules::problems`]).
//!
//! Nothing here reads the clock, the store or the devices.

pub mod attendance;
pub mod bells;
pub mod calendar;
pub mod check;
pub mod decide;
pub mod policy;

#[cfg(test)]
mod tests;

pub use attendance::{
    pupil_attendance, AttendanceCorrection, ConfirmedPass, CorrectedMark, DayAttendance, Presence,
};
pub use bells::{
    BellSchedule, ClassTimetable, GradeTimetable, Lesson, LessonInProgress, Shift, ShiftBells,
};
pub use calendar::{DayKind, GradeWeek, Holiday, SchoolCalendar, Vacation, WeekPattern};
pub use check::{ProblemCode, RulesProblem, LESSONS_PER_SHIFT_MAX, RULES_LIST_LEN_MAX};
pub use decide::{decide, Decision, Flag, Holder, LastPass, PassRequest, Reason};
pub use policy::{
    AccessPolicy, AccessWindow, AntiPassback, AttendanceRules, ClassWindow, GradeWindow, NoLeaving,
    PassbackMode, RoleWindow, WindowDays, ZonePassback,
};

use crate::domain::{ClassId, GRADE_MAX, GRADE_MIN};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Grades `first..=last` (e.g. 1–4, начальная школа). A band with `first > last` holds
/// no grade; configurations are data from a screen, so such a band is harmless, not a
/// panic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct GradeBand {
    pub first: u8,
    pub last: u8,
}

impl GradeBand {
    /// Every grade of the school, 1–11.
    pub const ALL: GradeBand = GradeBand {
        first: GRADE_MIN,
        last: GRADE_MAX,
    };
    /// Начальная школа: grades 1–4.
    pub const PRIMARY: GradeBand = GradeBand { first: 1, last: 4 };

    pub const fn new(first: u8, last: u8) -> GradeBand {
        GradeBand { first, last }
    }

    pub fn contains(self, grade: u8) -> bool {
        (self.first..=self.last).contains(&grade)
    }
}

/// The class a pupil studies in, with its grade: what the bell schedule and the grade
/// bands are looked up by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ClassRef {
    pub id: ClassId,
    pub grade: u8,
}

/// Longest zone name: a label on a settings screen («Спортивный корпус»).
pub const ZONE_ID_LEN_MAX_CHARS: usize = 60;

/// An access zone: the area a set of gates leads into (the main building, the sports
/// block). Anti-passback is kept per zone.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ZoneId(String);

impl ZoneId {
    /// The zone every gate is in unless configured otherwise: the school building.
    pub const MAIN: &'static str = "main";

    /// A zone name: not blank, at most [`ZONE_ID_LEN_MAX_CHARS`] characters, trimmed.
    pub fn new(name: &str) -> Result<ZoneId, String> {
        let name = name.trim();
        if name.is_empty() {
            return Err("a zone name must not be blank".into());
        }
        if name.chars().count() > ZONE_ID_LEN_MAX_CHARS {
            return Err(format!(
                "a zone name is at most {ZONE_ID_LEN_MAX_CHARS} characters"
            ));
        }
        Ok(ZoneId(name.to_owned()))
    }

    /// The school building ([`ZoneId::MAIN`]).
    pub fn main() -> ZoneId {
        ZoneId(ZoneId::MAIN.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ZoneId {
    type Error = String;
    fn try_from(s: String) -> Result<ZoneId, String> {
        ZoneId::new(&s)
    }
}

impl From<ZoneId> for String {
    fn from(z: ZoneId) -> String {
        z.0
    }
}

impl fmt::Display for ZoneId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Everything the access and attendance rules read, as the school configured it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRules {
    pub calendar: SchoolCalendar,
    pub bells: BellSchedule,
    pub policy: AccessPolicy,
}

impl AccessRules {
    /// A typical Russian school for the year starting `school_year_start` (1 September):
    /// [`SchoolCalendar::russian_default`], [`BellSchedule::russian_default`],
    /// [`AccessPolicy::default`].
    pub fn russian_default(school_year_start: NaiveDate) -> AccessRules {
        AccessRules {
            calendar: SchoolCalendar::russian_default(school_year_start),
            bells: BellSchedule::russian_default(),
            policy: AccessPolicy::default(),
        }
    }
}
