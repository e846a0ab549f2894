//! The school calendar (календарный учебный график): which dates have lessons for which
//! grades, and which are working days for the staff.
//!
//! Order of precedence for a date, for pupils: a public holiday, then a weekend (unless
//! it is a transferred working day), then a vacation (or a date outside the school year:
//! the summer), then a shortened day, else a school day. For staff there are no
//! vacations: they work on every working day of their week.

use super::GradeBand;
use crate::time::SchoolDate;
use chrono::{Datelike, Days, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

/// A school week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WeekPattern {
    /// Пятидневка: Monday to Friday.
    FiveDay,
    /// Шестидневка: Monday to Saturday.
    SixDay,
}

impl WeekPattern {
    /// Whether `day` is a working day of this week (before holidays and transfers).
    pub fn works_on(self, day: Weekday) -> bool {
        !matches!(
            (self, day),
            (_, Weekday::Sun) | (WeekPattern::FiveDay, Weekday::Sat)
        )
    }
}

/// The week of a band of grades (e.g. grades 1–4 study five days).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GradeWeek {
    pub grades: GradeBand,
    pub week: WeekPattern,
}

/// A non-working day: a public holiday or a day off transferred by the production
/// calendar (производственный календарь).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holiday {
    pub date: NaiveDate,
    /// As shown on screen: «День народного единства».
    pub name: String,
}

/// Каникулы: pupils (of `grades`, or all) have no lessons from `first` to `last`
/// inclusive; staff still work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vacation {
    /// As shown on screen: «Осенние каникулы».
    pub name: String,
    pub first: NaiveDate,
    pub last: NaiveDate,
    /// The grades on vacation; `None`: every grade. First-graders get an extra week in
    /// February.
    #[serde(default)]
    pub grades: Option<GradeBand>,
}

impl Vacation {
    pub fn covers(&self, date: NaiveDate, grade: u8) -> bool {
        (self.first..=self.last).contains(&date) && self.grades.is_none_or(|g| g.contains(grade))
    }
}

/// What a date is for a pupil of some grade, or for the staff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayKind {
    /// Lessons on the full bell schedule (for staff: a working day).
    SchoolDay,
    /// Lessons on the shortened bell schedule: a pre-holiday day (for staff: a working
    /// day one hour shorter).
    ShortenedDay,
    /// A day off of the week (Sunday; Saturday in a five-day week).
    Weekend,
    /// A public holiday or a transferred day off: nobody works.
    Holiday,
    /// Vacation, or outside the school year: no lessons for the pupil; never returned for
    /// staff.
    Vacation,
}

impl DayKind {
    /// A day with lessons (pupils) or with work (staff).
    pub fn is_working(self) -> bool {
        matches!(self, DayKind::SchoolDay | DayKind::ShortenedDay)
    }
}

/// One school year's calendar, as the school (or [`SchoolCalendar::russian_default`])
/// configured it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchoolCalendar {
    /// The first day of the school year (1 September); before it: the summer.
    pub first_day: NaiveDate,
    /// The last day of lessons; after it: the summer.
    pub last_day: NaiveDate,
    /// The week of grades no [`GradeWeek`] names.
    pub pupil_week: WeekPattern,
    /// Weeks by grade band; the first band holding a grade wins.
    #[serde(default)]
    pub grade_weeks: Vec<GradeWeek>,
    /// The staff's week: the days the building is staffed.
    pub staff_week: WeekPattern,
    #[serde(default)]
    pub holidays: Vec<Holiday>,
    #[serde(default)]
    pub vacations: Vec<Vacation>,
    /// Pre-holiday days with shortened lessons (and a working day one hour shorter).
    #[serde(default)]
    pub shortened_days: Vec<NaiveDate>,
    /// Weekend dates that are working days, as the production calendar transfers them
    /// (a Saturday worked for a Monday off): lessons for every grade, work for the staff.
    #[serde(default)]
    pub working_weekends: Vec<NaiveDate>,
}

/// The lessons of the school year end on 26 May (the date the Ministry of Education
/// set for 2024–2026; grades 9 and 11 go on to their exams).
const LAST_DAY_OF_LESSONS: (u32, u32) = (5, 26);
/// Federal non-working holidays outside the New Year holidays (Labour Code, art. 112),
/// by (month, day). When one falls on a weekend, the next working day is off.
const FEDERAL_HOLIDAYS: [(u32, u32, &str); 6] = [
    (11, 4, "День народного единства"),
    (2, 23, "День защитника Отечества"),
    (3, 8, "Международный женский день"),
    (5, 1, "Праздник Весны и Труда"),
    (5, 9, "День Победы"),
    (6, 12, "День России"),
];
/// New Year holidays 1–6 and 8 January, and Christmas on 7 January (art. 112).
const NEW_YEAR_HOLIDAY_LAST_DAY: u32 = 8;
const CHRISTMAS_DAY: u32 = 7;
/// Autumn vacation starts on the Saturday falling in 25–31 October and lasts nine days
/// (Saturday to the Sunday after next), as the Ministry's unified dates do.
const AUTUMN_VACATION_START_DAY_MIN: u32 = 25;
/// Winter vacation: 30 December to 8 January.
const WINTER_VACATION_FIRST: (u32, u32) = (12, 30);
const WINTER_VACATION_LAST: (u32, u32) = (1, 8);
/// First-graders' extra February week: from the Monday falling in 9–15 February.
const FIRST_GRADE_VACATION_START_DAY_MIN: u32 = 9;
/// Spring vacation starts on the Saturday falling in 22–28 March and lasts nine days.
const SPRING_VACATION_START_DAY_MIN: u32 = 22;
/// Saturday to the Sunday of the following week.
const NINE_DAY_VACATION_DAYS: u64 = 9;
/// Monday to Sunday.
const WEEK_DAYS: u64 = 7;

impl SchoolCalendar {
    /// A plausible Russian school year starting on `school_year_start` (normally
    /// 1 September of year Y), ending on 26 May of Y+1:
    ///
    /// - grades 1–4 study five days a week, grades 5–11 six; staff work six;
    /// - federal holidays (1–8 January, 23 February, 8 March, 1 and 9 May, 12 June,
    ///   4 November); a holiday on a weekend moves the day off to the next working day;
    ///   a holiday on a Tuesday makes the Monday before a day off and the Saturday before
    ///   it a working day, a holiday on a Thursday does the same with the Friday after and
    ///   the Saturday five days before — as the production calendar usually does;
    /// - vacations: autumn (nine days from the Saturday in 25–31 October), winter
    ///   (30 December – 8 January), first-graders' extra week (from the Monday in
    ///   9–15 February), spring (nine days from the Saturday in 22–28 March);
    /// - the working day (Monday–Friday or a transferred Saturday) right before a
    ///   holiday is shortened (31 December among them).
    pub fn russian_default(school_year_start: NaiveDate) -> SchoolCalendar {
        let autumn_year = school_year_start.year();
        let spring_year = autumn_year + 1;
        let date = |year: i32, (month, day): (u32, u32)| {
            NaiveDate::from_ymd_opt(year, month, day).unwrap_or(school_year_start)
        };

        let mut holidays = Vec::new();
        for (month, day, name) in FEDERAL_HOLIDAYS {
            let year = if month >= 9 { autumn_year } else { spring_year };
            holidays.push(Holiday {
                date: date(year, (month, day)),
                name: name.to_owned(),
            });
        }
        for day in 1..=NEW_YEAR_HOLIDAY_LAST_DAY {
            let name = if day == CHRISTMAS_DAY {
                "Рождество Христово"
            } else {
                "Новогодние каникулы"
            };
            holidays.push(Holiday {
                date: date(spring_year, (1, day)),
                name: name.to_owned(),
            });
        }

        // Days off moved off weekends, and bridges with their working Saturdays.
        let mut working_weekends = Vec::new();
        let mut moved = Vec::new();
        for (month, day, name) in FEDERAL_HOLIDAYS {
            let year = if month >= 9 { autumn_year } else { spring_year };
            let h = date(year, (month, day));
            let off = |d: NaiveDate| Holiday {
                date: d,
                name: format!("Перенос выходного ({name})"),
            };
            match h.weekday() {
                Weekday::Sat => moved.push(off(h + Days::new(2))),
                Weekday::Sun => moved.push(off(h + Days::new(1))),
                Weekday::Tue => {
                    moved.push(off(h - Days::new(1)));
                    working_weekends.push(h - Days::new(3));
                }
                Weekday::Thu => {
                    moved.push(off(h + Days::new(1)));
                    working_weekends.push(h - Days::new(5));
                }
                _ => {}
            }
        }
        holidays.extend(moved);
        holidays.sort_by_key(|h| h.date);
        working_weekends.sort();

        let saturday_from = |year: i32, month: u32, day_min: u32| {
            let d = date(year, (month, day_min));
            let ahead = (Weekday::Sat.num_days_from_monday() + WEEK_DAYS as u32
                - d.weekday().num_days_from_monday())
                % WEEK_DAYS as u32;
            d + Days::new(u64::from(ahead))
        };
        let nine_days = |first: NaiveDate| first + Days::new(NINE_DAY_VACATION_DAYS - 1);
        let autumn = saturday_from(autumn_year, 10, AUTUMN_VACATION_START_DAY_MIN);
        let spring = saturday_from(spring_year, 3, SPRING_VACATION_START_DAY_MIN);
        let february = {
            let d = date(spring_year, (2, FIRST_GRADE_VACATION_START_DAY_MIN));
            d + Days::new(u64::from(
                (WEEK_DAYS as u32 - d.weekday().num_days_from_monday()) % WEEK_DAYS as u32,
            ))
        };
        let vacations = vec![
            Vacation {
                name: "Осенние каникулы".into(),
                first: autumn,
                last: nine_days(autumn),
                grades: None,
            },
            Vacation {
                name: "Зимние каникулы".into(),
                first: date(autumn_year, WINTER_VACATION_FIRST),
                last: date(spring_year, WINTER_VACATION_LAST),
                grades: None,
            },
            Vacation {
                name: "Дополнительные каникулы первоклассников".into(),
                first: february,
                last: february + Days::new(WEEK_DAYS - 1),
                grades: Some(GradeBand::new(1, 1)),
            },
            Vacation {
                name: "Весенние каникулы".into(),
                first: spring,
                last: nine_days(spring),
                grades: None,
            },
        ];

        let mut calendar = SchoolCalendar {
            first_day: school_year_start,
            last_day: date(spring_year, LAST_DAY_OF_LESSONS),
            pupil_week: WeekPattern::SixDay,
            grade_weeks: vec![GradeWeek {
                grades: GradeBand::PRIMARY,
                week: WeekPattern::FiveDay,
            }],
            staff_week: WeekPattern::SixDay,
            holidays,
            vacations,
            shortened_days: Vec::new(),
            working_weekends,
        };
        // The production calendar's working day before a holiday (a five-day week).
        let mut shortened: Vec<NaiveDate> = calendar
            .holidays
            .iter()
            .filter_map(|h| h.date.pred_opt())
            .filter(|&d| {
                calendar.holiday(SchoolDate(d)).is_none()
                    && (WeekPattern::FiveDay.works_on(d.weekday())
                        || calendar.working_weekends.contains(&d))
            })
            .collect();
        shortened.sort();
        shortened.dedup();
        calendar.shortened_days = shortened;
        calendar
    }

    /// The week of `grade`.
    pub fn week_of(&self, grade: u8) -> WeekPattern {
        self.grade_weeks
            .iter()
            .find(|w| w.grades.contains(grade))
            .map_or(self.pupil_week, |w| w.week)
    }

    /// The holiday on `date`, if any.
    pub fn holiday(&self, date: SchoolDate) -> Option<&Holiday> {
        self.holidays.iter().find(|h| h.date == date.0)
    }

    /// The vacation a pupil of `grade` is on at `date`, if any (the summer is not listed:
    /// see [`SchoolCalendar::in_school_year`]).
    pub fn vacation(&self, date: SchoolDate, grade: u8) -> Option<&Vacation> {
        self.vacations.iter().find(|v| v.covers(date.0, grade))
    }

    /// Between the first and the last day of lessons, inclusive.
    pub fn in_school_year(&self, date: SchoolDate) -> bool {
        (self.first_day..=self.last_day).contains(&date.0)
    }

    /// What `date` is for a pupil of `grade`.
    pub fn pupil_day(&self, date: SchoolDate, grade: u8) -> DayKind {
        if self.holiday(date).is_some() {
            DayKind::Holiday
        } else if !self.works(self.week_of(grade), date) {
            DayKind::Weekend
        } else if !self.in_school_year(date) || self.vacation(date, grade).is_some() {
            DayKind::Vacation
        } else if self.shortened_days.contains(&date.0) {
            DayKind::ShortenedDay
        } else {
            DayKind::SchoolDay
        }
    }

    /// What `date` is for the staff: never [`DayKind::Vacation`].
    pub fn staff_day(&self, date: SchoolDate) -> DayKind {
        if self.holiday(date).is_some() {
            DayKind::Holiday
        } else if !self.works(self.staff_week, date) {
            DayKind::Weekend
        } else if self.shortened_days.contains(&date.0) {
            DayKind::ShortenedDay
        } else {
            DayKind::SchoolDay
        }
    }

    /// A working day of `week`, counting transferred working weekends.
    fn works(&self, week: WeekPattern, date: SchoolDate) -> bool {
        week.works_on(date.0.weekday()) || self.working_weekends.contains(&date.0)
    }
}
