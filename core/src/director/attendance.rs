//! The attendance documents: the register (табель посещаемости), the late arrivals and
//! the guard post's exceptions over a period. The marks are the guard screen's: the same
//! `period_attendance` (one read of the period's passages and corrections) and the same
//! `pupil_attendance` rules per pupil and day.

use super::{document_error, period_text, ReportQuery};
use crate::access::{AccessRules, DayAttendance, Presence};
use crate::error::CoreResult;
use crate::time::{SchoolDate, SchoolTz};
use crate::workstation::security::{day_exceptions, period_attendance, rules_in_force};
use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::Connection;
use schoolcard_reports::{Cell, Column, ColumnKind, Document};
use serde_json::Value;

/// The register's title.
pub const REGISTER_TITLE: &str = "Табель посещаемости";
/// The late arrivals' title.
pub const LATENESS_TITLE: &str = "Опоздания";
/// The guard post's exceptions' title.
pub const GUARD_EXCEPTIONS_TITLE: &str = "Исключения на посту охраны";

/// A mark in the register: present (on time) is an empty cell.
pub const MARK_LATE: &str = "о";
pub const MARK_ABSENT: &str = "н";
/// Absent for a valid reason (an admin's correction); counted with the absent.
pub const MARK_EXCUSED: &str = "у";
/// No lessons that day for the pupil's grade (another grade studies).
pub const MARK_NO_LESSONS: &str = "—";

/// The register's totals columns, after the days.
pub const REGISTER_PRESENT_TITLE: &str = "Присут.";
pub const REGISTER_LATE_TITLE: &str = "Опозд.";
pub const REGISTER_ABSENT_TITLE: &str = "Отсут.";

/// The school's time zone as the rules take it.
fn school_tz(q: &ReportQuery) -> SchoolTz {
    q.time_zone
        .name()
        .parse()
        .expect("a chrono_tz zone is an IANA zone")
}

/// The last date the document covers: the period's end, or the day it is made if that
/// is earlier (a day that has not come is neither present nor absent).
fn last_day(q: &ReportQuery, tz: SchoolTz) -> NaiveDate {
    q.to.min(tz.school_date(q.generated_at).0)
}

/// The rules of the period's school year (as configured, or the defaults).
fn rules(conn: &Connection, q: &ReportQuery, tz: SchoolTz) -> CoreResult<AccessRules> {
    rules_in_force(conn, tz, tz.day_start(SchoolDate(q.from)))
}

fn header(q: &ReportQuery, title: &str, columns: Vec<Column>) -> CoreResult<Document> {
    let local = q.generated_at.with_timezone(&q.time_zone).naive_local();
    Ok(Document::new(title, columns)
        .map_err(document_error)?
        .with_organization(q.school.clone())
        .with_period(period_text(q.from, q.to))
        .with_generated_at(local))
}

/// Табель посещаемости: a row per pupil (who has not left; surname and initials, see
/// [`short_name`]), grouped by class; a column
/// per school day of the period up to the day it is made (a date on which some pupil of
/// the document has lessons by the school's calendar), headed by the day of the month;
/// marks: empty — present, [`MARK_LATE`], [`MARK_ABSENT`], [`MARK_EXCUSED`],
/// [`MARK_NO_LESSONS`]; then the days present (late included), late and absent
/// (excused included) of each pupil, and a totals row.
pub fn attendance_register(conn: &Connection, q: &ReportQuery) -> CoreResult<Document> {
    let tz = school_tz(q);
    let rules = rules(conn, q, tz)?;
    let last = last_day(q, tz);
    let pupils = period_attendance(conn, &rules, tz, q.from, last, q.class_id)?;
    let dates: Vec<NaiveDate> = q.from.iter_days().take_while(|d| *d <= last).collect();
    // The school days: those with lessons for some pupil listed.
    let shown: Vec<usize> = (0..dates.len())
        .filter(|&i| pupils.iter().any(|(_, days)| days[i].day_kind.is_working()))
        .collect();

    let mut columns = vec![
        Column::new("№", ColumnKind::Integer),
        Column::new("Ученик", ColumnKind::Text),
    ];
    columns.extend(
        shown
            .iter()
            .map(|&i| Column::new(dates[i].format("%d").to_string(), ColumnKind::Text)),
    );
    for title in [
        REGISTER_PRESENT_TITLE,
        REGISTER_LATE_TITLE,
        REGISTER_ABSENT_TITLE,
    ] {
        columns.push(Column::new(title, ColumnKind::Integer));
    }
    let mut document = header(q, REGISTER_TITLE, columns)?;

    let mut totals = [0i64; 3];
    for (start, (pupil, _)) in pupils.iter().enumerate() {
        if start > 0 && pupils[start - 1].0.class_id == pupil.class_id {
            continue;
        }
        let members = pupils[start..]
            .iter()
            .take_while(|(p, _)| p.class_id == pupil.class_id);
        let count = members.clone().count();
        document
            .begin_group(format!("{} — {count} уч.", pupil.class_name))
            .map_err(document_error)?;
        for (class_index, (pupil, days)) in members.enumerate() {
            let mut row = Vec::with_capacity(shown.len() + 5);
            row.push(Cell::Integer(
                i64::try_from(class_index + 1).unwrap_or(i64::MAX),
            ));
            row.push(Cell::text(short_name(&pupil.full_name)));
            let mut counts = [0i64; 3];
            for &i in &shown {
                let (mark, present, late, absent) = mark(&days[i]);
                counts[0] += i64::from(present);
                counts[1] += i64::from(late);
                counts[2] += i64::from(absent);
                row.push(mark.map_or(Cell::Empty, Cell::text));
            }
            for (total, count) in totals.iter_mut().zip(counts) {
                *total += count;
            }
            row.extend(counts.map(Cell::Integer));
            document.push_row(row).map_err(document_error)?;
        }
    }
    let mut total_row = vec![
        Cell::Empty,
        Cell::text(format!("Итого: {} уч.", pupils.len())),
    ];
    total_row.extend(shown.iter().map(|_| Cell::Empty));
    total_row.extend(totals.map(Cell::Integer));
    document.set_totals(total_row).map_err(document_error)?;
    document.push_note(format!(
        "Отметки: пусто — присутствовал, «{MARK_LATE}» — опоздал, «{MARK_ABSENT}» — \
         отсутствовал, «{MARK_EXCUSED}» — отсутствовал по уважительной причине (в графе \
         «{REGISTER_ABSENT_TITLE}»), «{MARK_NO_LESSONS}» — у класса нет уроков. \
         «{REGISTER_PRESENT_TITLE}» включает опоздавших."
    ));
    if last < q.to {
        document.push_note(format!("Учтены дни по {}.", last.format("%d.%m.%Y")));
    }
    Ok(document)
}

/// «Абрамова Алиса Руслановна» → «Абрамова А. Р.»: the register's name column stays
/// narrow enough for a month of days on one landscape page.
pub fn short_name(full_name: &str) -> String {
    let mut words = full_name.split_whitespace();
    let mut short = words.next().unwrap_or_default().to_owned();
    for word in words {
        if let Some(initial) = word.chars().next() {
            short.push(' ');
            short.push(initial);
            short.push('.');
        }
    }
    short
}

/// A day's mark in the register and whether it counts as present, late, absent.
fn mark(day: &DayAttendance) -> (Option<&'static str>, bool, bool, bool) {
    match day.presence {
        Presence::Present if day.late => (Some(MARK_LATE), true, true, false),
        Presence::Present => (None, true, false, false),
        Presence::Absent => (Some(MARK_ABSENT), false, false, true),
        Presence::Excused => (Some(MARK_EXCUSED), false, false, true),
        Presence::NoLessons => (Some(MARK_NO_LESSONS), false, false, false),
    }
}

/// Who came late over the period: date, class, pupil, the time of the first entry and
/// the minutes after the first lesson's start (empty when an admin's correction marked
/// the day late); by date, then class and name; the count and minutes in the totals.
pub fn lateness(conn: &Connection, q: &ReportQuery) -> CoreResult<Document> {
    let tz = school_tz(q);
    let rules = rules(conn, q, tz)?;
    let last = last_day(q, tz);
    let pupils = period_attendance(conn, &rules, tz, q.from, last, q.class_id)?;
    let columns = vec![
        Column::new("Дата", ColumnKind::Date),
        Column::new("Класс", ColumnKind::Text),
        Column::new("Ученик", ColumnKind::Text),
        Column::new("Вход", ColumnKind::Text),
        Column::new("Опоздание, мин", ColumnKind::Integer),
    ];
    let mut document = header(q, LATENESS_TITLE, columns)?;
    let days = pupils.first().map_or(0, |(_, days)| days.len());
    let (mut count, mut minutes) = (0usize, 0i64);
    for i in 0..days {
        for (pupil, attendance) in &pupils {
            let day = &attendance[i];
            if day.presence != Presence::Present || !day.late {
                continue;
            }
            count += 1;
            minutes += day.late_by_minutes.map_or(0, i64::from);
            document
                .push_row(vec![
                    Cell::Date(day.date.0),
                    Cell::text(pupil.class_name.clone()),
                    Cell::text(pupil.full_name.clone()),
                    day.first_entry
                        .map_or(Cell::Empty, |at| Cell::text(local_time(at, q, "%H:%M"))),
                    day.late_by_minutes
                        .map_or(Cell::Empty, |m| Cell::Integer(i64::from(m))),
                ])
                .map_err(document_error)?;
        }
    }
    document
        .set_totals(vec![
            Cell::text("Итого"),
            Cell::Empty,
            Cell::text(format!("опозданий: {count}")),
            Cell::Empty,
            Cell::Integer(minutes),
        ])
        .map_err(document_error)?;
    Ok(document)
}

fn local_time(at: DateTime<Utc>, q: &ReportQuery, format: &str) -> String {
    at.with_timezone(&q.time_zone).format(format).to_string()
}

/// The guard post's exceptions, day by day over the period (what the guard screen's
/// exceptions report lists for one day): passages without a card, the guard's overrides
/// and denials, one card at two readers, a repeated entry, a canteen purchase without an
/// entry. With a class, only its pupils' exceptions.
pub fn guard_exceptions(conn: &Connection, q: &ReportQuery) -> CoreResult<Document> {
    let tz = school_tz(q);
    let last = last_day(q, tz);
    let class_name = q
        .class_id
        .map(|id| super::class_name(conn, id))
        .transpose()?;
    let columns = vec![
        Column::new("Дата", ColumnKind::Date),
        Column::new("Время", ColumnKind::Text),
        Column::new("Событие", ColumnKind::Text),
        Column::new("Кто", ColumnKind::Text),
        Column::new("Класс", ColumnKind::Text),
        Column::new("Где", ColumnKind::Text),
        Column::new("Примечание", ColumnKind::Text),
    ];
    let mut document = header(q, GUARD_EXCEPTIONS_TITLE, columns)?;
    let mut count = 0usize;
    for date in q.from.iter_days().take_while(|d| *d <= last) {
        let day = day_exceptions(conn, date)?;
        let mut rows: Vec<(String, String, Vec<Cell>)> = Vec::new();
        let list = |key: &str| day[key].as_array().cloned().unwrap_or_default();
        for passage in list("without_card") {
            rows.push(exception_row(date, "Проход без карты", &passage, None, q));
        }
        for passage in list("overrides") {
            let rule = passage["overridden"]
                .as_str()
                .map(|rule| format!("снят запрет: {rule}"));
            rows.push(exception_row(date, "Пропуск охранником", &passage, rule, q));
        }
        for passage in list("guard_denials") {
            rows.push(exception_row(date, "Запрет охранником", &passage, None, q));
        }
        for anomaly in list("anomalies") {
            let (what, note) = match anomaly["kind"].as_str().unwrap_or_default() {
                "two_readers" => (
                    "Одна карта на двух считывателях",
                    Some(format!(
                        "через {} с: {}",
                        anomaly["seconds"].as_i64().unwrap_or_default(),
                        anomaly["second"]["reader"].as_str().unwrap_or_default()
                    )),
                ),
                "repeated_entry" => ("Повторный вход без выхода", None),
                "till_without_entry" => ("Покупка в столовой без входа в школу", None),
                _ => ("Нарушение", None),
            };
            rows.push(exception_row(date, what, &anomaly["first"], note, q));
        }
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        for (_, class, row) in rows {
            if class_name.as_ref().is_some_and(|name| *name != class) {
                continue;
            }
            count += 1;
            document.push_row(row).map_err(document_error)?;
        }
    }
    document
        .set_totals(vec![
            Cell::text("Итого"),
            Cell::Empty,
            Cell::text(format!("событий: {count}")),
            Cell::Empty,
            Cell::Empty,
            Cell::Empty,
            Cell::Empty,
        ])
        .map_err(document_error)?;
    Ok(document)
}

/// One exception as a row, after its local time (to sort the day by) and its class (for
/// the class filter).
fn exception_row(
    date: NaiveDate,
    what: &str,
    passage: &Value,
    note: Option<String>,
    q: &ReportQuery,
) -> (String, String, Vec<Cell>) {
    let text = |key: &str| passage[key].as_str().unwrap_or_default().to_owned();
    let at: Option<DateTime<Utc>> = passage["at"].as_str().and_then(|s| s.parse().ok());
    let class = text("class_name");
    let place = passage["reader"]
        .as_str()
        .or_else(|| passage["post"].as_str().map(|_| "столовая"))
        .unwrap_or_default();
    let note = [Some(text("note")), note]
        .into_iter()
        .flatten()
        .filter(|n| !n.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    let or_empty = |s: String| {
        if s.is_empty() {
            Cell::Empty
        } else {
            Cell::Text(s)
        }
    };
    let time = at
        .map(|at| local_time(at, q, "%H:%M:%S"))
        .unwrap_or_default();
    let row = vec![
        Cell::Date(date),
        or_empty(time.clone()),
        Cell::text(what),
        or_empty(text("full_name")),
        or_empty(class.clone()),
        or_empty(place.to_owned()),
        or_empty(note),
    ];
    // Sorted by time within the day; the class rides along for the filter.
    (time, class, row)
}
