//! The director's home screen (issue 9): one answer with today's attendance by class and
//! who is inside, the meals (entitled, ordered, served, saved today and this month), the
//! buffet's takings, the library's loans, the guard post's exceptions, and two series for
//! charts — the attendance trend and the buffet's sales by day.
//!
//! Every figure comes from the computation its own report uses: today's classes are
//! `DayAttendance`'s, the meals are `MealsReport`'s, the exceptions `ExceptionsReport`'s;
//! the trend applies the same rule (`access::pupil_attendance`) to every pupil on every
//! day of the range, read in one pass over `attendance_days`.

use super::Workstation;
use crate::access::{
    pupil_attendance, AttendanceCorrection, ClassRef, ConfirmedPass, CorrectedMark, Presence,
};
use crate::domain::ClassId;
use crate::error::CoreResult;
use crate::peripherals::Direction;
use crate::time::{from_micros, to_micros, SchoolDate};
use chrono::{DateTime, Datelike, Days, NaiveDate, Utc};
use rusqlite::params;
use serde_json::{json, Value};
use std::collections::HashMap;

/// School days the attendance trend and the sales chart cover: six school weeks, what
/// a director compares today with.
pub const TREND_SCHOOL_DAYS: usize = 30;
/// Calendar days looked back for [`TREND_SCHOOL_DAYS`] school days: six weeks of
/// lessons plus the longest break (the summer's is not crossed: the trend stops there).
pub const TREND_LOOKBACK_DAYS_MAX: u64 = 75;

/// A pupil's day as `attendance_days` keeps it: the first entry and the last exit, in
/// microseconds; enough for the rule to decide presence.
type DayPasses = (Option<i64>, Option<i64>);

/// One pupil as the trend needs them.
struct TrendPupil {
    class: ClassRef,
}

impl Workstation {
    pub(super) fn director_dashboard(&self, now: DateTime<Utc>) -> CoreResult<Value> {
        let tz = self.school_tz()?;
        let today = tz.school_date(now);
        let conn = self.store.conn();

        // Today, by class: `DayAttendance`'s own table.
        let attendance = self.day_attendance(None, None, now)?;
        let classes = attendance["classes"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let sum = |key: &str| -> i64 { classes.iter().map(|c| c[key].as_i64().unwrap_or(0)).sum() };
        let today_totals = json!({
            "pupils": sum("pupils"), "present": sum("present"), "late": sum("late"),
            "absent": sum("absent"), "excused": sum("excused"), "left_early": sum("left_early"),
        });

        // Inside now, by kind (as the guard's counters).
        let mut inside: HashMap<String, i64> = HashMap::new();
        {
            let mut st = conn.prepare_cached(
                "SELECT p.kind, count(*) FROM presence pr JOIN persons p ON p.id = pr.person_id
                 WHERE pr.inside = 1 GROUP BY p.kind",
            )?;
            let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get(1)?)))?;
            for row in rows {
                let (kind, count) = row?;
                inside.insert(kind, count);
            }
        }
        let inside_of = |kind: &str| inside.get(kind).copied().unwrap_or(0);

        // Meals: `MealsReport` of today and of the month to date, summed over payers.
        let month_first = today.0.with_day(1).unwrap_or(today.0);
        let meals_today = self.meals_report(&today.0.to_string(), &today.0.to_string())?;
        let meals_month = self.meals_report(&month_first.to_string(), &today.0.to_string())?;
        let total = |report: &Value, key: &str| -> i64 {
            report["totals"]
                .as_array()
                .map(|t| t.iter().map(|p| p[key].as_i64().unwrap_or(0)).sum())
                .unwrap_or(0)
        };

        // The guard post: `ExceptionsReport`'s lists, counted.
        let exceptions = self.exceptions_report(None, now)?;
        let count = |key: &str| exceptions[key].as_array().map_or(0, Vec::len);

        // The library.
        let (open_loans, overdue_loans): (i64, i64) = conn.query_row(
            "SELECT count(*), coalesce(sum(l.due < ?1), 0) FROM library_loans l
             JOIN persons p ON p.id = l.person_id WHERE l.returned_at_us IS NULL",
            [today.0.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let next_day = SchoolDate(today.0.checked_add_days(Days::new(1)).unwrap_or(today.0));
        let issued_today: i64 = conn.query_row(
            "SELECT count(*) FROM library_loans WHERE issued_at_us >= ?1 AND issued_at_us < ?2",
            params![
                to_micros(tz.day_start(today)),
                to_micros(tz.day_start(next_day))
            ],
            |r| r.get(0),
        )?;

        let (trend, days) = self.attendance_trend(today, now)?;
        let sales_by_day = sales_by_day(conn, &days)?;

        Ok(json!({
            "date": today.0,
            "at": now,
            "day_kind": attendance["day_kind"],
            "attendance": { "totals": today_totals, "classes": classes },
            "inside": {
                "pupils": inside_of("pupil"), "staff": inside_of("staff"),
                "guardians": inside_of("guardian"), "visitors": inside_of("visitor"),
                "total": inside.values().sum::<i64>(),
            },
            "meals": {
                "entitled": total(&meals_today, "entitled"),
                "ordered": total(&meals_today, "ordered"),
                "served": total(&meals_today, "served"),
                "saved_today": total(&meals_today, "saved"),
                "saved_month": total(&meals_month, "saved"),
                "month_from": month_first,
            },
            "buffet": meals_today["buffet"],
            "library": {
                "open_loans": open_loans, "overdue_loans": overdue_loans,
                "issued_today": issued_today,
            },
            "guard": {
                "exceptions": count("without_card") + count("guard_denials") + count("anomalies"),
                "without_card": count("without_card"),
                "guard_denials": count("guard_denials"),
                "anomalies": count("anomalies"),
                "overrides": count("overrides"),
            },
            "trend": trend,
            "sales_by_day": sales_by_day,
        }))
    }

    /// The present share on each of the last [`TREND_SCHOOL_DAYS`] school days up to
    /// today: every current pupil's day decided by `pupil_attendance`, the passes read in
    /// one query over the range. Returns the series and its days.
    fn attendance_trend(
        &self,
        today: SchoolDate,
        now: DateTime<Utc>,
    ) -> CoreResult<(Vec<Value>, Vec<NaiveDate>)> {
        let rules = self.access_rules(now)?;
        let tz = self.school_tz()?;
        let conn = self.store.conn();
        let mut ids: Vec<String> = Vec::new();
        let mut pupils: Vec<TrendPupil> = Vec::new();
        {
            let mut st = conn.prepare_cached(
                "SELECT p.id, c.id, c.grade FROM persons p JOIN classes c ON c.id = p.class_id
                 WHERE p.kind = 'pupil' AND p.status != 'left'",
            )?;
            let rows = st.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, u8>(2)?,
                ))
            })?;
            for row in rows {
                let (id, class_id, grade) = row?;
                let Ok(class_id) = class_id.parse::<ClassId>() else {
                    continue;
                };
                ids.push(id);
                pupils.push(TrendPupil {
                    class: ClassRef {
                        id: class_id,
                        grade,
                    },
                });
            }
        }
        let mut grades: Vec<u8> = pupils.iter().map(|p| p.class.grade).collect();
        grades.sort_unstable();
        grades.dedup();
        // The school days, newest first: a day with lessons for some grade.
        let mut days: Vec<NaiveDate> = std::iter::successors(Some(today.0), |d| d.pred_opt())
            .take(usize::try_from(TREND_LOOKBACK_DAYS_MAX).unwrap_or(usize::MAX))
            .filter(|d| {
                grades
                    .iter()
                    .any(|g| rules.calendar.pupil_day(SchoolDate(*d), *g).is_working())
            })
            .take(TREND_SCHOOL_DAYS)
            .collect();
        days.reverse();
        let Some(first) = days.first().copied() else {
            return Ok((Vec::new(), days));
        };
        let day_index: HashMap<String, usize> = days
            .iter()
            .enumerate()
            .map(|(i, d)| (d.to_string(), i))
            .collect();
        let pupil_index: HashMap<&str, usize> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.as_str(), i))
            .collect();
        // Per day and pupil: the first entry and the last exit, which decide presence.
        let mut passes: Vec<Vec<Option<DayPasses>>> = vec![vec![None; ids.len()]; days.len()];
        let (from, to) = (first.to_string(), today.0.to_string());
        {
            let mut st = conn.prepare_cached(
                "SELECT school_date, person_id, first_entry_us, last_exit_us FROM attendance_days
                 WHERE school_date BETWEEN ?1 AND ?2",
            )?;
            let mut rows = st.query(params![from, to])?;
            while let Some(r) = rows.next()? {
                let (Some(&d), Some(&p)) = (
                    r.get_ref(0)?.as_str().ok().and_then(|k| day_index.get(k)),
                    r.get_ref(1)?.as_str().ok().and_then(|k| pupil_index.get(k)),
                ) else {
                    continue;
                };
                passes[d][p] = Some((r.get(2)?, r.get(3)?));
            }
        }
        let mut corrections: HashMap<(usize, usize), AttendanceCorrection> = HashMap::new();
        {
            let mut st = conn.prepare_cached(
                "SELECT school_date, person_id, mark, reason FROM attendance_corrections
                 WHERE school_date BETWEEN ?1 AND ?2",
            )?;
            let mut rows = st.query(params![from, to])?;
            while let Some(r) = rows.next()? {
                let (Some(&d), Some(&p)) = (
                    r.get_ref(0)?.as_str().ok().and_then(|k| day_index.get(k)),
                    r.get_ref(1)?.as_str().ok().and_then(|k| pupil_index.get(k)),
                ) else {
                    continue;
                };
                let mark: String = r.get(2)?;
                if let Ok(mark) = serde_json::from_value::<CorrectedMark>(json!(mark)) {
                    corrections.insert(
                        (d, p),
                        AttendanceCorrection {
                            mark,
                            reason: r.get(3)?,
                        },
                    );
                }
            }
        }
        let mut trend = Vec::with_capacity(days.len());
        for (d, day) in days.iter().enumerate() {
            let (mut present, mut absent, mut excused, mut late) = (0u32, 0u32, 0u32, 0u32);
            for (p, pupil) in pupils.iter().enumerate() {
                let mut day_passes: [Option<ConfirmedPass>; 2] = [None, None];
                if let Some((entry, exit)) = passes[d][p] {
                    day_passes[0] = entry.map(|at| ConfirmedPass {
                        at: from_micros(at),
                        direction: Direction::Entry,
                    });
                    day_passes[1] = exit.map(|at| ConfirmedPass {
                        at: from_micros(at),
                        direction: Direction::Exit,
                    });
                }
                let found: Vec<ConfirmedPass> = day_passes.into_iter().flatten().collect();
                let decided = pupil_attendance(
                    &rules,
                    tz,
                    pupil.class,
                    SchoolDate(*day),
                    &found,
                    corrections.get(&(d, p)),
                );
                match decided.presence {
                    Presence::Present => present += 1,
                    Presence::Absent => absent += 1,
                    Presence::Excused => excused += 1,
                    Presence::NoLessons => {}
                }
                late += u32::from(decided.late);
            }
            let expected = present + absent + excused;
            trend.push(json!({
                "date": day, "present": present, "absent": absent, "excused": excused,
                "late": late, "pupils": expected,
                "share": if expected == 0 { 0.0 } else { f64::from(present) / f64::from(expected) },
            }));
        }
        Ok((trend, days))
    }
}

/// The buffet's sales (count, sold, refunded) on each of `days`, and on any other day of
/// their range that had sales: one grouped query over the range.
fn sales_by_day(conn: &rusqlite::Connection, days: &[NaiveDate]) -> CoreResult<Vec<Value>> {
    let (Some(first), Some(last)) = (days.first(), days.last()) else {
        return Ok(Vec::new());
    };
    let mut found: HashMap<String, (i64, i64, i64)> = HashMap::new();
    {
        let mut st = conn.prepare_cached(
            "SELECT school_date, count(*), coalesce(sum(total), 0),
                    coalesce(sum(CASE WHEN refunded_at_us IS NOT NULL THEN total ELSE 0 END), 0)
             FROM canteen_sales WHERE school_date BETWEEN ?1 AND ?2 GROUP BY school_date",
        )?;
        let rows = st.query_map(params![first.to_string(), last.to_string()], |r| {
            Ok((r.get::<_, String>(0)?, (r.get(1)?, r.get(2)?, r.get(3)?)))
        })?;
        for row in rows {
            let (day, figures) = row?;
            found.insert(day, figures);
        }
    }
    let mut all: Vec<String> = days.iter().map(NaiveDate::to_string).collect();
    let other: Vec<String> = found.keys().filter(|k| !all.contains(k)).cloned().collect();
    all.extend(other);
    all.sort();
    Ok(all
        .into_iter()
        .map(|day| {
            let (sales, sold, refunded) = found.get(&day).copied().unwrap_or((0, 0, 0));
            json!({
                "date": day, "sales": sales, "sold": sold, "refunded": refunded,
                "net": sold - refunded,
            })
        })
        .collect())
}
