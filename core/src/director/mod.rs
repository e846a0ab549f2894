//! The director's figures (АРМ Отчётности): the documents the municipality asks for, each
//! built as one `schoolcard_reports::Document` from the projections, for a period and,
//! where it makes sense, a class — then rendered to PDF, XLSX or CSV by `reports`.
//!
//! Every builder reads through a plain `&Connection` and writes nothing, so the shell runs
//! it on a read-only connection of its own: a month's register never waits for, nor holds
//! up, the guard's or the till's writes.

use crate::domain::ClassId;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// What a document is about: the school's days `from`–`to` (both included, the school's
/// dates), one class or all, and who made it when (for the header).
#[derive(Debug, Clone)]
pub struct ReportQuery {
    /// The school's name, printed in the header.
    pub school: String,
    pub time_zone: chrono_tz::Tz,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub class_id: Option<ClassId>,
    pub generated_at: DateTime<Utc>,
}

/// The documents a director prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportKind {
    /// Табель посещаемости: pupils × school days with marks.
    AttendanceRegister,
    /// Who came late, when, by how much.
    Lateness,
    /// Meals entitled, ordered and served, and the saving, by budget source.
    MealsAndSavings,
    /// Buffet sales by product and category.
    BuffetSales,
    /// Cashiers' shifts: opened, closed, takings.
    CashierShifts,
    /// Library circulation and overdue loans.
    LibraryCirculation,
    /// The guard post's exceptions and overrides.
    GuardExceptions,
    /// Everyone inside now, by class, then staff and visitors.
    EvacuationList,
}

pub mod attendance;
pub mod library;
pub mod meals;
pub mod sales;
pub mod shifts;

/// The renderers of the documents built here, for callers that depend on core alone.
pub use schoolcard_reports as reports;

use crate::error::{CoreError, CoreResult, Refusal, StoreError};
use rusqlite::{Connection, OptionalExtension};
use schoolcard_reports::{Document, DocumentError};

/// The longest period a document covers: a school year and a bit (a year's register is
/// the largest anyone prints; it bounds the days a builder walks).
pub const REPORT_PERIOD_DAYS_MAX: i64 = 366;

impl ReportQuery {
    /// A query about the school in `conn` (its name and time zone, as configured).
    pub fn for_school(
        conn: &Connection,
        from: NaiveDate,
        to: NaiveDate,
        class_id: Option<ClassId>,
        generated_at: DateTime<Utc>,
    ) -> CoreResult<ReportQuery> {
        let school: Option<(String, String)> = conn
            .query_row("SELECT name, time_zone FROM school", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        let (school, zone) = school.unwrap_or_default();
        let time_zone = zone
            .parse()
            .unwrap_or_else(|_| crate::time::DEFAULT_TZ.parse().expect("a valid zone"));
        Ok(ReportQuery {
            school,
            time_zone,
            from,
            to,
            class_id,
            generated_at,
        })
    }
}

/// A read-only connection to the database at `path` for building documents: it never
/// takes the write lock, and waits for a writer's commit at most
/// [`BUSY_TIMEOUT_MS`](crate::store::BUSY_TIMEOUT_MS) (WAL lets it read meanwhile).
pub fn open_read_only(path: &std::path::Path) -> CoreResult<Connection> {
    use rusqlite::OpenFlags;
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_millis(
        crate::store::BUSY_TIMEOUT_MS,
    ))?;
    Ok(conn)
}

/// The class's name («5А»), for headings and file names.
pub fn class_name(conn: &Connection, class_id: ClassId) -> CoreResult<String> {
    conn.query_row(
        "SELECT grade || letter FROM classes WHERE id = ?1",
        [class_id.to_string()],
        |r| r.get(0),
    )
    .optional()?
    .ok_or_else(|| CoreError::not_found(format!("class {class_id}")))
}

/// Builds the document `kind` for `q`, reading through `conn` and writing nothing.
///
/// Refuses a period that ends before it starts or is longer than
/// [`REPORT_PERIOD_DAYS_MAX`].
pub fn build(conn: &Connection, kind: ReportKind, q: &ReportQuery) -> CoreResult<Document> {
    check_period(q)?;
    match kind {
        ReportKind::AttendanceRegister => attendance::attendance_register(conn, q),
        ReportKind::Lateness => attendance::lateness(conn, q),
        ReportKind::GuardExceptions => attendance::guard_exceptions(conn, q),
        ReportKind::EvacuationList => evacuation_list(conn, q),
        ReportKind::MealsAndSavings => meals::meals_and_savings(conn, q),
        ReportKind::BuffetSales => sales::buffet_sales(conn, q),
        ReportKind::CashierShifts => shifts::cashier_shifts(conn, q),
        ReportKind::LibraryCirculation => library::library_circulation(conn, q),
    }
}

/// Refuses a period that ends before it starts or is longer than
/// [`REPORT_PERIOD_DAYS_MAX`].
pub(crate) fn check_period(q: &ReportQuery) -> CoreResult<()> {
    let days = q.to.signed_duration_since(q.from).num_days() + 1;
    if days < 1 {
        return Err(CoreError::invalid(
            "to",
            Refusal::OutOfRange,
            "the period ends before it starts",
        ));
    }
    if days > REPORT_PERIOD_DAYS_MAX {
        return Err(CoreError::invalid(
            "to",
            Refusal::OutOfRange,
            format!("a report covers at most {REPORT_PERIOD_DAYS_MAX} days"),
        )
        .with("max", REPORT_PERIOD_DAYS_MAX));
    }
    Ok(())
}

/// A document the model refused: a builder's bug, not the user's input.
pub(crate) fn document_error(e: DocumentError) -> CoreError {
    CoreError::Store(StoreError::Io(std::io::Error::other(format!(
        "the report's document: {e}"
    ))))
}

/// The period as the header prints it: «сентябрь 2026» for a whole month, else
/// «01.09.2026 – 15.09.2026» (one date for one day).
pub fn period_text(from: NaiveDate, to: NaiveDate) -> String {
    use chrono::Datelike;
    const MONTHS: [&str; 12] = [
        "январь",
        "февраль",
        "март",
        "апрель",
        "май",
        "июнь",
        "июль",
        "август",
        "сентябрь",
        "октябрь",
        "ноябрь",
        "декабрь",
    ];
    let whole_month = from.day() == 1
        && to.month() == from.month()
        && to.year() == from.year()
        && to.succ_opt().is_none_or(|next| next.day() == 1);
    if whole_month {
        format!("{} {}", MONTHS[from.month0() as usize], from.year())
    } else if from == to {
        from.format("%d.%m.%Y").to_string()
    } else {
        format!("{} – {}", from.format("%d.%m.%Y"), to.format("%d.%m.%Y"))
    }
}

/// How the evacuation list names a pupil's parent inside the building.
const GUARDIAN_PURPOSE: &str = "законный представитель";

/// Everyone inside now, as the guard's evacuation list (the period is not used).
fn evacuation_list(conn: &Connection, q: &ReportQuery) -> CoreResult<Document> {
    use schoolcard_reports as reports;
    let local = |at: DateTime<Utc>| at.with_timezone(&q.time_zone).naive_local();
    let people = crate::workstation::security::people_inside(conn)?
        .into_iter()
        .map(|p| reports::PersonInside {
            presence: match (p.kind.as_str(), p.class_name) {
                ("pupil", class) => reports::Presence::Pupil {
                    class: class.unwrap_or_default(),
                },
                ("staff", _) => reports::Presence::Staff {
                    position: p.position.unwrap_or_default(),
                },
                ("visitor", _) => reports::Presence::Visitor {
                    purpose: p.visiting.unwrap_or_default(),
                },
                (_, _) => reports::Presence::Visitor {
                    purpose: GUARDIAN_PURPOSE.into(),
                },
            },
            full_name: p.full_name,
            entrance: p.gate.unwrap_or_default(),
            entered_at: local(p.since),
        })
        .collect();
    reports::evacuation_list(&reports::EvacuationInput {
        school: q.school.clone(),
        generated_at: local(q.generated_at),
        people,
    })
    .map_err(document_error)
}
