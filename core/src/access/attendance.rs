//! One pupil's school day from their confirmed passes (посещаемость): first entry, last
//! exit, late, left early, absent. The meal order counts the present.
//!
//! Only passes the gate's sensor confirmed are attendance; a tap without a pass is not.
//! An admin's correction (an event with a reason) replaces the marks computed here.

use super::calendar::DayKind;
use super::{AccessRules, ClassRef};
use crate::peripherals::Direction;
use crate::time::{SchoolDate, SchoolTz};
use chrono::{DateTime, NaiveTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

/// A pass the gate's sensor confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfirmedPass {
    pub at: DateTime<Utc>,
    pub direction: Direction,
}

/// Whether the pupil was at school.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    /// Came in (or was let out, so was inside) that day.
    Present,
    /// A day with lessons and no pass.
    Absent,
    /// Absent for a valid reason (illness, a competition): by an admin's correction only.
    Excused,
    /// No lessons that day for the pupil's grade, and no pass.
    NoLessons,
}

/// What an admin sets a day to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CorrectedMark {
    /// Present, on time, stayed to the end.
    Present,
    Late,
    LeftEarly,
    Absent,
    /// Absent for a valid reason.
    Excused,
}

/// An admin's correction of one pupil's day; the event records who and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttendanceCorrection {
    pub mark: CorrectedMark,
    /// Why: «справка от врача», «турникет не считал карту».
    pub reason: String,
}

/// One pupil's school day. `late` and `left_early` imply [`Presence::Present`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayAttendance {
    pub date: SchoolDate,
    pub day_kind: DayKind,
    pub first_entry: Option<DateTime<Utc>>,
    pub last_exit: Option<DateTime<Utc>>,
    pub presence: Presence,
    pub late: bool,
    /// Minutes after the first lesson's start (grace not deducted), when late by passes.
    pub late_by_minutes: Option<u32>,
    pub left_early: bool,
    /// The marks come from an admin's correction, not from the passes.
    pub corrected: bool,
}

/// The day `date` of a pupil of `class` from their confirmed `passes` (any order; passes
/// on other school dates in `tz` are ignored), with an admin's `correction` if any.
///
/// - present: any pass that day; absent: a day with lessons and no pass;
/// - late: the day's first pass is an entry later than the first lesson's start plus
///   [`AttendanceRules::late_grace_minutes`](super::AttendanceRules) (a first pass that is
///   an exit means the pupil was already inside: not late);
/// - left early: the day's last pass is an exit earlier than the last lesson's end minus
///   `early_leave_grace_minutes` (coming back in after it undoes it).
pub fn pupil_attendance(
    rules: &AccessRules,
    tz: SchoolTz,
    class: ClassRef,
    date: SchoolDate,
    passes: &[ConfirmedPass],
    correction: Option<&AttendanceCorrection>,
) -> DayAttendance {
    let day_kind = rules.calendar.pupil_day(date, class.grade);
    let lessons = rules.bells.lessons_on_day(class, day_kind);
    let mut today: Vec<ConfirmedPass> = passes
        .iter()
        .copied()
        .filter(|p| tz.school_date(p.at) == date)
        .collect();
    today.sort_by_key(|p| p.at);
    let local_time = |at: DateTime<Utc>| at.with_timezone(&tz.tz()).naive_local();
    let first_entry = today
        .iter()
        .find(|p| p.direction == Direction::Entry)
        .map(|p| p.at);
    let last_exit = today
        .iter()
        .rev()
        .find(|p| p.direction == Direction::Exit)
        .map(|p| p.at);
    let rules_a = &rules.policy.attendance;

    let presence = match (today.is_empty(), day_kind.is_working()) {
        (false, _) => Presence::Present,
        (true, true) => Presence::Absent,
        (true, false) => Presence::NoLessons,
    };
    let minutes_after = |at: DateTime<Utc>, t: NaiveTime| {
        let local = local_time(at);
        local.signed_duration_since(local.date().and_time(t))
    };
    let late_by = match (today.first(), lessons.first()) {
        (Some(first), Some(lesson)) if first.direction == Direction::Entry => {
            let after = minutes_after(first.at, lesson.start);
            (after > TimeDelta::minutes(i64::from(rules_a.late_grace_minutes)))
                .then(|| u32::try_from(after.num_minutes()).unwrap_or(u32::MAX))
        }
        _ => None,
    };
    let left_early = match (today.last(), lessons.last()) {
        (Some(last), Some(lesson)) if last.direction == Direction::Exit => {
            let before = -minutes_after(last.at, lesson.end);
            before > TimeDelta::minutes(i64::from(rules_a.early_leave_grace_minutes))
        }
        _ => false,
    };

    let mut day = DayAttendance {
        date,
        day_kind,
        first_entry,
        last_exit,
        presence,
        late: late_by.is_some(),
        late_by_minutes: late_by,
        left_early,
        corrected: false,
    };
    if let Some(correction) = correction {
        let (presence, late, left_early) = match correction.mark {
            CorrectedMark::Present => (Presence::Present, false, false),
            CorrectedMark::Late => (Presence::Present, true, false),
            CorrectedMark::LeftEarly => (Presence::Present, false, true),
            CorrectedMark::Absent => (Presence::Absent, false, false),
            CorrectedMark::Excused => (Presence::Excused, false, false),
        };
        day.presence = presence;
        day.late = late;
        day.left_early = left_early;
        if !late {
            day.late_by_minutes = None;
        }
        day.corrected = true;
    }
    day
}
