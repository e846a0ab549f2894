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

pub mod library;
pub mod meals;
pub mod sales;
pub mod shifts;
