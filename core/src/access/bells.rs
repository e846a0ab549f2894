//! The bell schedule (расписание звонков): when lessons start and end in each shift, on a
//! full and on a shortened day, and which shift and how many lessons each class has.
//!
//! Times are local to the school. A class's day has lessons only when the calendar says
//! so ([`DayKind::is_working`] for its grade); then it takes the first
//! `lessons_per_day` lessons of its shift's full or shortened bells.

use super::calendar::{DayKind, SchoolCalendar};
use super::{ClassRef, GradeBand};
use crate::domain::ClassId;
use crate::time::SchoolDate;
use chrono::{NaiveDateTime, NaiveTime};
use serde::{Deserialize, Serialize};

/// Most schools that cannot seat everyone at once study in two shifts (смены).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Shift {
    First,
    Second,
}

/// One lesson, `start` (inclusive) to `end` (exclusive), local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Lesson {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

impl Lesson {
    /// Whether the lesson is on at local time `at`.
    pub fn is_on(self, at: NaiveTime) -> bool {
        self.start <= at && at < self.end
    }
}

/// The bells of one shift: lessons in order, on a full day and on a shortened day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShiftBells {
    pub lessons: Vec<Lesson>,
    /// The same lessons on a shortened day; empty: the full bells are kept.
    #[serde(default)]
    pub shortened: Vec<Lesson>,
}

/// The shift and number of lessons of a band of grades.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GradeTimetable {
    pub grades: GradeBand,
    pub shift: Shift,
    /// Lessons on the class's longest day (the bell schedule does not vary by weekday).
    pub lessons_per_day: u8,
}

/// One class's exception to its grade's timetable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassTimetable {
    pub class_id: ClassId,
    #[serde(default)]
    pub shift: Option<Shift>,
    #[serde(default)]
    pub lessons_per_day: Option<u8>,
}

/// A lesson on at some instant: its number in the day (from 1) and its times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LessonInProgress {
    pub number: u8,
    pub lesson: Lesson,
}

/// The school's bells and who studies when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BellSchedule {
    pub first_shift: ShiftBells,
    /// `None`: one shift; a class assigned the second shift then keeps the first's bells.
    #[serde(default)]
    pub second_shift: Option<ShiftBells>,
    /// By grade band; the first band holding a grade wins. A grade in no band studies in
    /// the first shift, every lesson of its bells.
    #[serde(default)]
    pub grades: Vec<GradeTimetable>,
    /// Per-class exceptions, by class id.
    #[serde(default)]
    pub classes: Vec<ClassTimetable>,
}

/// Full lessons last 40 minutes (СанПиН 1.2.3685-21 allows 40–45).
const LESSON_FULL_MINUTES: u32 = 40;
/// On a shortened day lessons last 30 minutes.
const LESSON_SHORTENED_MINUTES: u32 = 30;
/// The first shift's first bell, (hour, minute) local.
const FIRST_SHIFT_START: (u32, u32) = (8, 30);
/// Breaks after each lesson of the first shift on a full day, in minutes: two long
/// breaks (20 min) after the 2nd and 3rd lessons for meals, 10 minutes otherwise.
const FIRST_SHIFT_BREAKS_MINUTES: [u32; 6] = [10, 20, 20, 10, 10, 10];
/// On a shortened day the breaks are kept, the long ones shortened to 15 minutes.
const SHORTENED_BREAKS_MINUTES: [u32; 6] = [10, 15, 15, 10, 10, 10];
/// The second shift starts at 14:00 with 10-minute breaks.
const SECOND_SHIFT_START: (u32, u32) = (14, 0);
const SECOND_SHIFT_BREAKS_MINUTES: [u32; 5] = [10, 10, 10, 10, 10];
/// Lessons on the longest day by grade band (first, last, lessons), the most SanPiN
/// 1.2.3685-21 allows: 4 in the 1st grade, 5 in 2–4, 6 in 5–6, 7 in 7–11.
const LESSONS_PER_DAY_BY_GRADE: [(u8, u8, u8); 4] = [(1, 1, 4), (2, 4, 5), (5, 6, 6), (7, 11, 7)];
const MINUTES_PER_HOUR: u32 = 60;

/// Lessons back to back from `start`, each `minutes` long, with `breaks` after each but
/// the last (one lesson more than breaks).
fn bells(start: (u32, u32), minutes: u32, breaks: &[u32]) -> Vec<Lesson> {
    let time = |m: u32| {
        NaiveTime::from_hms_opt(m / MINUTES_PER_HOUR, m % MINUTES_PER_HOUR, 0)
            .unwrap_or(NaiveTime::MIN)
    };
    let mut at = start.0 * MINUTES_PER_HOUR + start.1;
    let mut lessons = Vec::with_capacity(breaks.len() + 1);
    for pause in breaks.iter().copied().chain(std::iter::once(0)) {
        lessons.push(Lesson {
            start: time(at),
            end: time(at + minutes),
        });
        at += minutes + pause;
    }
    lessons
}

impl BellSchedule {
    /// A typical Russian school: the first shift at 08:30 with seven 40-minute lessons
    /// (30 minutes on a shortened day), a second shift at 14:00 with six lessons that
    /// nobody is assigned to by default (a class can be), every grade in the first shift,
    /// 4 lessons a day in the 1st grade, 5 in 2–4, 6 in 5–6, 7 in 7–11.
    pub fn russian_default() -> BellSchedule {
        BellSchedule {
            first_shift: ShiftBells {
                lessons: bells(
                    FIRST_SHIFT_START,
                    LESSON_FULL_MINUTES,
                    &FIRST_SHIFT_BREAKS_MINUTES,
                ),
                shortened: bells(
                    FIRST_SHIFT_START,
                    LESSON_SHORTENED_MINUTES,
                    &SHORTENED_BREAKS_MINUTES,
                ),
            },
            second_shift: Some(ShiftBells {
                lessons: bells(
                    SECOND_SHIFT_START,
                    LESSON_FULL_MINUTES,
                    &SECOND_SHIFT_BREAKS_MINUTES,
                ),
                shortened: bells(
                    SECOND_SHIFT_START,
                    LESSON_SHORTENED_MINUTES,
                    &SECOND_SHIFT_BREAKS_MINUTES,
                ),
            }),
            grades: LESSONS_PER_DAY_BY_GRADE
                .iter()
                .map(|&(first, last, lessons)| GradeTimetable {
                    grades: GradeBand::new(first, last),
                    shift: Shift::First,
                    lessons_per_day: lessons,
                })
                .collect(),
            classes: Vec::new(),
        }
    }

    fn class_exception(&self, class: ClassRef) -> Option<&ClassTimetable> {
        self.classes.iter().find(|c| c.class_id == class.id)
    }

    fn grade_timetable(&self, grade: u8) -> Option<&GradeTimetable> {
        self.grades.iter().find(|g| g.grades.contains(grade))
    }

    /// The shift `class` studies in: its own exception, else its grade's, else the first.
    pub fn shift_of(&self, class: ClassRef) -> Shift {
        self.class_exception(class)
            .and_then(|c| c.shift)
            .or_else(|| self.grade_timetable(class.grade).map(|g| g.shift))
            .unwrap_or(Shift::First)
    }

    fn shift_bells(&self, shift: Shift) -> &ShiftBells {
        match shift {
            Shift::First => &self.first_shift,
            Shift::Second => self.second_shift.as_ref().unwrap_or(&self.first_shift),
        }
    }

    /// The lessons `class` has on a day of `kind`, in order: empty on a day without
    /// lessons.
    pub fn lessons_on_day(&self, class: ClassRef, kind: DayKind) -> &[Lesson] {
        let bells = self.shift_bells(self.shift_of(class));
        let lessons = match kind {
            DayKind::SchoolDay => &bells.lessons,
            DayKind::ShortenedDay if !bells.shortened.is_empty() => &bells.shortened,
            DayKind::ShortenedDay => &bells.lessons,
            DayKind::Weekend | DayKind::Holiday | DayKind::Vacation => return &[],
        };
        let count = self
            .class_exception(class)
            .and_then(|c| c.lessons_per_day)
            .or_else(|| self.grade_timetable(class.grade).map(|g| g.lessons_per_day))
            .map_or(lessons.len(), usize::from);
        &lessons[..count.min(lessons.len())]
    }

    /// The lessons `class` has on `date`, by the calendar.
    pub fn lessons(
        &self,
        calendar: &SchoolCalendar,
        class: ClassRef,
        date: SchoolDate,
    ) -> &[Lesson] {
        self.lessons_on_day(class, calendar.pupil_day(date, class.grade))
    }

    /// When the first lesson of `class` starts on `date`; `None` without lessons.
    pub fn first_lesson_start(
        &self,
        calendar: &SchoolCalendar,
        class: ClassRef,
        date: SchoolDate,
    ) -> Option<NaiveTime> {
        self.lessons(calendar, class, date).first().map(|l| l.start)
    }

    /// When the last lesson of `class` ends on `date`; `None` without lessons.
    pub fn last_lesson_end(
        &self,
        calendar: &SchoolCalendar,
        class: ClassRef,
        date: SchoolDate,
    ) -> Option<NaiveTime> {
        self.lessons(calendar, class, date).last().map(|l| l.end)
    }

    /// The lesson of `class` on at local date and time `at`, if any (breaks are not
    /// lessons).
    pub fn lesson_in_progress(
        &self,
        calendar: &SchoolCalendar,
        class: ClassRef,
        at: NaiveDateTime,
    ) -> Option<LessonInProgress> {
        self.lessons(calendar, class, SchoolDate(at.date()))
            .iter()
            .zip(1..=u8::MAX)
            .find(|(l, _)| l.is_on(at.time()))
            .map(|(&lesson, number)| LessonInProgress { number, lesson })
    }

    /// Whether local `at` is between the start of the first lesson of `class` and the end
    /// of its last, breaks included.
    pub fn within_lesson_hours(
        &self,
        calendar: &SchoolCalendar,
        class: ClassRef,
        at: NaiveDateTime,
    ) -> bool {
        let lessons = self.lessons(calendar, class, SchoolDate(at.date()));
        match (lessons.first(), lessons.last()) {
            (Some(first), Some(last)) => first.start <= at.time() && at.time() < last.end,
            _ => false,
        }
    }
}
