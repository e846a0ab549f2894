//! The director's documents as files (АРМ Отчётности): `director::build` on a read-only
//! connection of the command's own, laid out by `reports` as PDF, XLSX or CSV, written
//! next to the database under `reports/` and opened.
//!
//! The workstation's lock is taken only for the moment it takes to read who is signed
//! in: a month's register is built while the guard's and the till's commands go on.

use crate::commands::{open_file, write_beside_database, ErrorDto, Shell, PROGRESS_EVENT};
use chrono::{Datelike, NaiveDate, Utc};
use schoolcard_core::director::{self, ReportKind, ReportQuery};
use schoolcard_core::domain::{ClassId, Role};
use schoolcard_core::workstation::Progress;
use schoolcard_core::CoreError;
use schoolcard_reports as reports;
use serde::{Deserialize, Serialize};
use std::sync::PoisonError;
use tauri::{AppHandle, Emitter, State};

/// Who may export the director's documents.
const EXPORT_ROLES: [Role; 2] = [Role::Director, Role::Admin];
/// The folder next to the database the documents are written to.
const REPORTS_FOLDER: &str = "reports";
/// The steps the progress bar counts: build, render, write.
const EXPORT_STEPS: u64 = 3;

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Pdf,
    Xlsx,
    Csv,
}

impl Format {
    fn extension(self) -> &'static str {
        match self {
            Format::Pdf => "pdf",
            Format::Xlsx => "xlsx",
            Format::Csv => "csv",
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ReportExported {
    pub path: String,
    /// Rows in the document (groups' headings and totals not counted).
    pub rows: usize,
}

/// Builds the document `kind` over `from`–`to` (the school's dates; one class or all),
/// writes it as `format` under `reports/` next to the database and opens it. For a
/// director or an admin signed in on this workstation.
#[tauri::command]
pub async fn export_report(
    app: AppHandle,
    shell: State<'_, Shell>,
    kind: ReportKind,
    from: NaiveDate,
    to: NaiveDate,
    class_id: Option<ClassId>,
    format: Format,
) -> Result<ReportExported, ErrorDto> {
    {
        let workstation = shell.workstation.clone()?;
        let workstation = workstation.lock().unwrap_or_else(PoisonError::into_inner);
        let roles = workstation
            .session()
            .map(|s| s.roles.clone())
            .ok_or(CoreError::NotSignedIn)?;
        if !roles.iter().any(|r| EXPORT_ROLES.contains(r)) {
            return Err(CoreError::Forbidden {
                needed: EXPORT_ROLES.to_vec(),
            }
            .into());
        }
    }
    let db_path = std::path::PathBuf::from(&shell.info.db_path);
    tauri::async_runtime::spawn_blocking(move || {
        let step = |stage: &str, done: u64| {
            let _ = app.emit(
                PROGRESS_EVENT,
                &Progress {
                    stage: stage.to_owned(),
                    done,
                    total: EXPORT_STEPS,
                },
            );
        };
        step("report_build", 0);
        let conn = director::open_read_only(&db_path)?;
        let now = Utc::now();
        let query = ReportQuery::for_school(&conn, from, to, class_id, now)?;
        let document = director::build(&conn, kind, &query)?;
        let class = class_id
            .map(|id| director::class_name(&conn, id))
            .transpose()?;
        drop(conn);
        step("report_render", 1);
        let internal = |e: String| ErrorDto::new("internal", e);
        let bytes = match format {
            Format::Pdf => reports::to_pdf_bytes(&document).map_err(|e| internal(e.to_string()))?,
            Format::Xlsx => {
                reports::to_xlsx_bytes(&document).map_err(|e| internal(e.to_string()))?
            }
            Format::Csv => reports::to_csv_bytes(&document, &reports::CsvOptions::excel_ru())
                .map_err(|e| internal(e.to_string()))?,
        };
        step("report_save", 2);
        let local_now = now.with_timezone(&query.time_zone).naive_local();
        let when = match kind {
            // A snapshot of now, not of a period.
            ReportKind::EvacuationList => local_now.format("%Y-%m-%d %H-%M").to_string(),
            _ => period_for_file(from, to),
        };
        let name = [Some(file_title(kind).to_owned()), class, Some(when)]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        let path = write_beside_database(
            &db_path,
            REPORTS_FOLDER,
            &format!("{name}.{}", format.extension()),
            &bytes,
        )?;
        step("report_save", EXPORT_STEPS);
        open_file(&path);
        Ok(ReportExported {
            path: path.display().to_string(),
            rows: document.rows().len(),
        })
    })
    .await
    .map_err(|e| ErrorDto::new("internal", format!("the command failed inside: {e}")))?
}

/// The start of a document's file name: «Табель 5А 2026-09.pdf».
fn file_title(kind: ReportKind) -> &'static str {
    match kind {
        ReportKind::AttendanceRegister => "Табель",
        ReportKind::Lateness => "Опоздания",
        ReportKind::MealsAndSavings => "Питание и экономия",
        ReportKind::BuffetSales => "Продажи буфета",
        ReportKind::CashierShifts => "Смены кассиров",
        ReportKind::LibraryCirculation => "Библиотека",
        ReportKind::GuardExceptions => "Исключения на посту охраны",
        ReportKind::EvacuationList => "Список находящихся в здании",
    }
}

/// A period in a file name: `2026-09` for a whole month, `2026-09-14` for a day, else
/// `2026-09-01 — 2026-09-15`.
fn period_for_file(from: NaiveDate, to: NaiveDate) -> String {
    let whole_month = from.day() == 1
        && (to.year(), to.month()) == (from.year(), from.month())
        && to.succ_opt().is_none_or(|next| next.day() == 1);
    if whole_month {
        from.format("%Y-%m").to_string()
    } else if from == to {
        from.to_string()
    } else {
        format!("{from} — {to}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_name_says_the_month_the_day_or_the_period() {
        let d = |m, day| NaiveDate::from_ymd_opt(2026, m, day).unwrap();
        assert_eq!(period_for_file(d(9, 1), d(9, 30)), "2026-09");
        assert_eq!(period_for_file(d(9, 14), d(9, 14)), "2026-09-14");
        assert_eq!(
            period_for_file(d(9, 1), d(9, 15)),
            "2026-09-01 — 2026-09-15"
        );
        assert_eq!(
            period_for_file(d(9, 1), d(10, 31)),
            "2026-09-01 — 2026-10-31"
        );
    }
}
