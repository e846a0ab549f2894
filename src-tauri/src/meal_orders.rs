//! The supplier's daily meal order (заявка на питание) as a file: the core's sheet for the
//! day (`MealOrderSheet`, as the signed-in person), laid out by `reports` as PDF or XLSX,
//! written next to the database under `orders/` and opened.

use crate::commands::{open_file, write_beside_database, ErrorDto, Shell};
use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use schoolcard_core::workstation::Command;
use schoolcard_reports as reports;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::PoisonError;
use tauri::State;

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Pdf,
    Xlsx,
}

#[derive(Debug, Serialize)]
pub struct Exported {
    pub path: String,
}

/// The core's `MealOrderSheet` answer.
#[derive(Debug, Deserialize)]
struct Sheet {
    school: String,
    date: NaiveDate,
    cut_off: String,
    generated_at: NaiveDateTime,
    responsible: String,
    complexes: Vec<SheetComplex>,
}

#[derive(Debug, Deserialize)]
struct SheetComplex {
    name: String,
    price: i64,
    classes: Vec<SheetClass>,
    corrections: Vec<SheetCorrection>,
}

#[derive(Debug, Deserialize)]
struct SheetClass {
    class: String,
    municipal: u32,
    regional: u32,
    paid: u32,
}

#[derive(Debug, Deserialize)]
struct SheetCorrection {
    class: String,
    at: String,
    municipal: i32,
    regional: i32,
    paid: i32,
    reason: String,
}

fn hh_mm(text: &str) -> NaiveTime {
    NaiveTime::parse_from_str(text, "%H:%M").unwrap_or(NaiveTime::MIN)
}

impl Sheet {
    fn to_input(&self) -> reports::MealOrderInput {
        reports::MealOrderInput {
            school: self.school.clone(),
            supplier: String::new(),
            date: self.date,
            cut_off: hh_mm(&self.cut_off),
            generated_at: self.generated_at,
            complexes: self
                .complexes
                .iter()
                .map(|c| reports::ComplexOrder {
                    name: c.name.clone(),
                    price_kopecks: c.price,
                    classes: c
                        .classes
                        .iter()
                        .map(|r| reports::ClassPortions {
                            class: r.class.clone(),
                            portions: reports::Portions {
                                free_municipal: r.municipal,
                                free_regional: r.regional,
                                paid: r.paid,
                            },
                        })
                        .collect(),
                    corrections: c
                        .corrections
                        .iter()
                        .map(|f| reports::LateCorrection {
                            class: f.class.clone(),
                            at: hh_mm(&f.at),
                            free_municipal: f.municipal,
                            free_regional: f.regional,
                            paid: f.paid,
                            reason: f.reason.clone(),
                        })
                        .collect(),
                })
                .collect(),
            responsible: self.responsible.clone(),
            director: String::new(),
        }
    }
}

/// Writes the meal order of `date` (today if absent) as PDF or XLSX and opens it.
#[tauri::command]
pub async fn export_meal_order(
    shell: State<'_, Shell>,
    date: Option<String>,
    format: Format,
) -> Result<Exported, ErrorDto> {
    let workstation = shell.workstation.clone()?;
    let db_path = PathBuf::from(&shell.info.db_path);
    tauri::async_runtime::spawn_blocking(move || {
        let answer = workstation
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .execute(
                Command::MealOrderSheet { date },
                chrono::Utc::now(),
                &|_| {},
            )?;
        let sheet: Sheet = serde_json::from_value(answer)
            .map_err(|e| ErrorDto::new("internal", format!("the order's data: {e}")))?;
        let document = reports::meal_order(&sheet.to_input())
            .map_err(|e| ErrorDto::new("internal", e.to_string()))?;
        let (bytes, extension) = match format {
            Format::Pdf => (
                reports::to_pdf_bytes(&document)
                    .map_err(|e| ErrorDto::new("internal", e.to_string()))?,
                "pdf",
            ),
            Format::Xlsx => (
                reports::to_xlsx_bytes(&document)
                    .map_err(|e| ErrorDto::new("internal", e.to_string()))?,
                "xlsx",
            ),
        };
        let path = write_beside_database(
            &db_path,
            "orders",
            &format!("zayavka-{}.{extension}", sheet.date),
            &bytes,
        )?;
        open_file(&path);
        Ok(Exported {
            path: path.display().to_string(),
        })
    })
    .await
    .map_err(|e| ErrorDto::new("internal", format!("the command failed inside: {e}")))?
}

#[cfg(test)]
mod tests {
    //! The core's sheet and receipt, as the shell reads them, become documents: the shapes
    //! agree, and the numbers arrive.
    use super::*;
    use crate::receipts::tests_support::receipt_of;
    use chrono::{TimeZone, Utc};
    use schoolcard_core::Workstation;
    use serde_json::{json, Value};

    fn run(ws: &mut Workstation, command: Value, now: chrono::DateTime<Utc>) -> Value {
        ws.execute(
            serde_json::from_value(command.clone()).unwrap(),
            now,
            &|_| {},
        )
        .unwrap_or_else(|e| panic!("{command}: {e}"))
    }

    #[test]
    fn the_days_order_and_a_sales_receipt_become_documents() {
        let dir = tempfile::tempdir().unwrap();
        let mut ws = Workstation::open(&dir.path().join("school.sqlite")).unwrap();
        // Tuesday 15 September 2026, 08:00 in Moscow.
        let morning = Utc.with_ymd_and_hms(2026, 9, 15, 5, 0, 0).unwrap();
        run(
            &mut ws,
            json!({"type": "set_up_school", "school_name": "Лицей «Держава»", "time_zone": "Europe/Moscow",
                   "admin_name": {"surname": "Админова", "name": "Анна"}, "login": "admin", "password": "correct horse"}),
            morning,
        );
        run(
            &mut ws,
            json!({"type": "sign_in_password", "login": "admin", "password": "correct horse"}),
            morning,
        );
        let class = run(
            &mut ws,
            json!({"type": "create_class", "name": "2А"}),
            morning,
        )["id"]
            .clone();
        let pupil = run(
            &mut ws,
            json!({"type": "enrol_pupil", "class_id": class, "name": {"surname": "Иванов", "name": "Пётр"}}),
            morning,
        )["person"]["id"]
            .clone();
        run(
            &mut ws,
            json!({"type": "save_complex", "name": "Обед 1–4", "meal": "lunch",
                   "grades": {"first": 1, "last": 4}, "price": 9_050, "payer": "regional"}),
            morning,
        );
        let bun = run(
            &mut ws,
            json!({"type": "save_product", "name": "Булочка с маком", "price": 3_500,
                   "category": "выпечка", "allergens": ["gluten"]}),
            morning,
        )["product"]["product_id"]
            .clone();
        run(
            &mut ws,
            json!({"type": "set_day_menu", "items": [{"product_id": bun, "price": 3_500}]}),
            morning,
        );
        run(
            &mut ws,
            json!({"type": "top_up_balance", "person_id": pupil, "amount": 10_000}),
            morning,
        );

        // Before the cut-off: the forecast, one entitled pupil (not in yet: none ordered).
        let forecast: Sheet =
            serde_json::from_value(run(&mut ws, json!({"type": "meal_order_sheet"}), morning))
                .unwrap();
        assert_eq!(forecast.school, "Лицей «Держава»");
        let input = forecast.to_input();
        let pdf = reports::to_pdf_bytes(&reports::meal_order(&input).unwrap()).unwrap();
        assert!(pdf.starts_with(b"%PDF"));
        let xlsx = reports::to_xlsx_bytes(&reports::meal_order(&input).unwrap()).unwrap();
        assert!(xlsx.starts_with(b"PK"));

        // A bun sold: its receipt names the pupil, the line and the balance after.
        let sale = run(
            &mut ws,
            json!({"type": "sell_basket", "sale_id": uuid::Uuid::now_v7(), "person_id": pupil,
                   "basket": [{"product_id": bun, "quantity": 2}]}),
            morning,
        );
        assert_eq!(sale["ok"], true, "{sale}");
        let receipt = receipt_of(run(
            &mut ws,
            json!({"type": "sale_receipt", "sale_id": sale["sale_id"]}),
            morning,
        ));
        assert_eq!(receipt.pupil, "Иванов Пётр");
        assert_eq!(receipt.class, "2А");
        assert_eq!(receipt.total_kopecks(), 7_000);
        assert_eq!(receipt.balance_after_kopecks, 3_000);
        let escpos = reports::receipt_escpos(
            &receipt,
            &crate::devices::wiring::printer_profile(schoolcard_core::peripherals::Paper::Mm58),
        );
        let (encoded, _, _) = encoding_rs::IBM866.encode("Булочка");
        assert!(
            escpos.windows(encoded.len()).any(|w| w == &encoded[..]),
            "the product's name in CP866 on the receipt"
        );

        // The shift: opened before the sale would have been; its report is a document.
        run(&mut ws, json!({"type": "open_shift"}), morning);
        let report = crate::receipts::tests_support::shift_document_of(run(
            &mut ws,
            json!({"type": "close_shift"}),
            morning,
        ));
        assert!(reports::to_pdf_bytes(&report).unwrap().starts_with(b"%PDF"));
    }
}
