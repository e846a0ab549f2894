//! The till's receipts: the core says what a sale's receipt holds (`SaleReceipt`, as the
//! signed-in cashier), `reports` lays it out, and the canteen's receipt printer gets the
//! ESC/POS bytes through the device hub — or, without a printer, the receipt is written as
//! a PDF next to the database and opened.

use crate::commands::{open_file, write_beside_database, Devices, ErrorDto, Shell};
use schoolcard_core::peripherals::Post;
use schoolcard_core::workstation::Command;
use schoolcard_reports as reports;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::PoisonError;
use tauri::State;

/// Characters of the till's id shown on a receipt.
const TILL_ID_CHARS: usize = 8;

/// What a receipt's printing came to.
#[derive(Debug, Serialize)]
pub struct ReceiptPrinted {
    /// The printer's name, when it went to one.
    pub printer: Option<String>,
    /// The PDF written instead, when there is no printer.
    pub pdf: Option<String>,
}

/// The core's `SaleReceipt` answer.
#[derive(Debug, Deserialize)]
struct SaleReceipt {
    school: String,
    sale_id: String,
    local_time: chrono::NaiveDateTime,
    cashier: String,
    device: String,
    pupil: String,
    class_name: Option<String>,
    lines: Vec<SoldLine>,
    balance: i64,
}

#[derive(Debug, Deserialize)]
struct SoldLine {
    name: String,
    price: i64,
    quantity: u32,
}

impl SaleReceipt {
    fn to_receipt(&self, till: &str) -> reports::Receipt {
        let lines: Vec<reports::ReceiptLine> = self
            .lines
            .iter()
            .map(|l| reports::ReceiptLine {
                name: l.name.clone(),
                quantity: l.quantity,
                unit_price_kopecks: l.price,
            })
            .collect();
        let paid = lines.iter().map(reports::ReceiptLine::sum_kopecks).sum();
        reports::Receipt {
            school: self.school.clone(),
            till: till.to_owned(),
            cashier: self.cashier.clone(),
            issued_at: self.local_time,
            // The sale's id is a UUID v7: its tail tells receipts of one moment apart.
            number: self
                .sale_id
                .rsplit('-')
                .next()
                .unwrap_or(&self.sale_id)
                .to_uppercase(),
            pupil: self.pupil.clone(),
            class: self.class_name.clone().unwrap_or_default(),
            lines,
            free_meals: Vec::new(),
            paid_from_balance_kopecks: paid,
            balance_after_kopecks: self.balance,
        }
    }
}

/// Prints the receipt of `sale_id` on the canteen's printer, or writes it as a PDF.
#[tauri::command]
pub async fn print_receipt(
    shell: State<'_, Shell>,
    devices: State<'_, Devices>,
    sale_id: String,
) -> Result<ReceiptPrinted, ErrorDto> {
    let sale_id = sale_id
        .parse()
        .map_err(|_| ErrorDto::new("bad_command", format!("not a sale id: {sale_id:?}")))?;
    let workstation = shell.workstation.clone()?;
    let hub = devices.hub().ok().cloned();
    let db_path = PathBuf::from(&shell.info.db_path);
    tauri::async_runtime::spawn_blocking(move || {
        let answer: Value = workstation
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .execute(
                Command::SaleReceipt { sale_id },
                chrono::Utc::now(),
                &|_| {},
            )?;
        let sale: SaleReceipt = serde_json::from_value(answer)
            .map_err(|e| ErrorDto::new("internal", format!("the receipt's data: {e}")))?;
        let till: String = sale.device.chars().take(TILL_ID_CHARS).collect();
        let receipt = sale.to_receipt(&format!("Касса {till}"));
        if let Some((hub, (_, paper))) = hub
            .as_ref()
            .and_then(|hub| hub.printer(Post::Canteen).map(|found| (hub, found)))
        {
            let bytes =
                reports::receipt_escpos(&receipt, &crate::devices::wiring::printer_profile(paper));
            let printer = hub
                .print(Post::Canteen, &bytes)
                .map_err(|e| ErrorDto::new("devices", e.to_string()))?;
            return Ok(ReceiptPrinted {
                printer: Some(printer),
                pdf: None,
            });
        }
        let pdf = reports::receipt_pdf(&receipt, reports::PaperWidth::Mm80)
            .map_err(|e| ErrorDto::new("internal", e.to_string()))?;
        let path = write_beside_database(
            &db_path,
            "receipts",
            &format!("receipt-{}.pdf", receipt.number),
            &pdf,
        )?;
        open_file(&path);
        Ok(ReceiptPrinted {
            printer: None,
            pdf: Some(path.display().to_string()),
        })
    })
    .await
    .map_err(|e| ErrorDto::new("internal", format!("the command failed inside: {e}")))?
}

/// The core's `ShiftReport` answer.
#[derive(Debug, Deserialize)]
struct ShiftFigures {
    shift_id: String,
    school: String,
    device: String,
    cashier: String,
    opened_at: chrono::DateTime<chrono::Utc>,
    closed_at: Option<chrono::DateTime<chrono::Utc>>,
    sales: i64,
    by_category: Vec<CategoryFigures>,
    free_meals: Vec<MealFigures>,
    refunds: i64,
    refunded: i64,
}

#[derive(Debug, Deserialize)]
struct CategoryFigures {
    category: String,
    items: i64,
    amount: i64,
}

#[derive(Debug, Deserialize)]
struct MealFigures {
    complex: String,
    payer: String,
    served: i64,
    amount: i64,
    overridden: i64,
}

impl ShiftFigures {
    /// The report's input, its instants in the school's zone `tz`.
    fn to_input(
        &self,
        tz: chrono_tz::Tz,
        generated_at: chrono::DateTime<chrono::Utc>,
    ) -> reports::ShiftReportInput {
        let local = |at: chrono::DateTime<chrono::Utc>| at.with_timezone(&tz).naive_local();
        let payer = |p: &str| match p {
            "municipal" => "муниципальный бюджет",
            "regional" => "региональный бюджет",
            _ => "родители",
        };
        reports::ShiftReportInput {
            school: self.school.clone(),
            till: self.device.chars().take(TILL_ID_CHARS).collect(),
            cashier: self.cashier.clone(),
            opened_at: local(self.opened_at),
            closed_at: self.closed_at.map(local),
            generated_at: local(generated_at),
            sales: self.sales,
            by_category: self
                .by_category
                .iter()
                .map(|c| reports::CategorySales {
                    category: c.category.clone(),
                    items: c.items,
                    kopecks: c.amount,
                })
                .collect(),
            meals: self
                .free_meals
                .iter()
                .map(|m| reports::MealsServed {
                    complex: m.complex.clone(),
                    payer: payer(&m.payer).to_owned(),
                    served: m.served,
                    kopecks: m.amount,
                    overridden: m.overridden,
                })
                .collect(),
            refunds: self.refunds,
            refunded_kopecks: self.refunded,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ShiftReportWritten {
    pub path: String,
}

/// The shift's report (this till's open or last shift without `shift_id`) as a PDF beside
/// the database, opened.
#[tauri::command]
pub async fn shift_report_pdf(
    shell: State<'_, Shell>,
    shift_id: Option<String>,
) -> Result<ShiftReportWritten, ErrorDto> {
    let shift_id = match shift_id {
        Some(id) => Some(
            id.parse()
                .map_err(|_| ErrorDto::new("bad_command", format!("not a shift id: {id:?}")))?,
        ),
        None => None,
    };
    let workstation = shell.workstation.clone()?;
    let db_path = PathBuf::from(&shell.info.db_path);
    tauri::async_runtime::spawn_blocking(move || {
        let mut workstation = workstation.lock().unwrap_or_else(PoisonError::into_inner);
        let now = chrono::Utc::now();
        let answer = workstation.execute(Command::ShiftReport { shift_id }, now, &|_| {})?;
        let figures: ShiftFigures = serde_json::from_value(answer)
            .map_err(|e| ErrorDto::new("internal", format!("the shift's figures: {e}")))?;
        let tz = workstation.school_tz()?.tz();
        drop(workstation);
        let document = reports::shift_report(&figures.to_input(tz, now))
            .map_err(|e| ErrorDto::new("internal", e.to_string()))?;
        let pdf = reports::to_pdf_bytes(&document)
            .map_err(|e| ErrorDto::new("internal", e.to_string()))?;
        let short = figures.shift_id.rsplit('-').next().unwrap_or("shift");
        let path =
            write_beside_database(&db_path, "receipts", &format!("shift-{short}.pdf"), &pdf)?;
        open_file(&path);
        Ok(ShiftReportWritten {
            path: path.display().to_string(),
        })
    })
    .await
    .map_err(|e| ErrorDto::new("internal", format!("the command failed inside: {e}")))?
}

#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;

    /// The shift report's document for the core's `ShiftReport` answer.
    pub(crate) fn shift_document_of(answer: Value) -> reports::Document {
        let figures: ShiftFigures = serde_json::from_value(answer).expect("the shift's shape");
        reports::shift_report(&figures.to_input(chrono_tz::Europe::Moscow, figures.opened_at))
            .expect("a document")
    }

    /// The receipt the shell would print for the core's `SaleReceipt` answer.
    pub(crate) fn receipt_of(answer: Value) -> reports::Receipt {
        let sale: SaleReceipt = serde_json::from_value(answer).expect("the receipt's shape");
        sale.to_receipt("Касса 1")
    }
}
