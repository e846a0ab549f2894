//! The cashier's shift report (отчёт о смене): what a till sold by category, the free
//! meals it served by complex and payer, the refunds of its sales, from the shift's
//! opening to its closing. A [`Document`] like every report: a group per part, totals of
//! the money that moved.

use chrono::NaiveDateTime;

use crate::document::{Cell, Column, ColumnKind, Document, DocumentError};

pub const SHIFT_REPORT_TITLE: &str = "Отчёт о смене кассира";

/// Sold in one category.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategorySales {
    pub category: String,
    pub items: i64,
    pub kopecks: i64,
}

/// Served free (or pre-paid) of one complex, by one payer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MealsServed {
    pub complex: String,
    /// Who pays, as a reader names it («региональный бюджет», «родители»).
    pub payer: String,
    pub served: i64,
    pub kopecks: i64,
    /// Of them, served on a cashier's override.
    pub overridden: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShiftReportInput {
    pub school: String,
    pub till: String,
    pub cashier: String,
    pub opened_at: NaiveDateTime,
    /// `None`: the shift is still open (the report is as of `generated_at`).
    pub closed_at: Option<NaiveDateTime>,
    pub generated_at: NaiveDateTime,
    pub sales: i64,
    pub by_category: Vec<CategorySales>,
    pub meals: Vec<MealsServed>,
    pub refunds: i64,
    pub refunded_kopecks: i64,
}

/// The report as a document: «Продажи» by category, «Питание» by complex and payer,
/// «Возвраты»; the totals row is the money the buffet took, less the refunds.
pub fn shift_report(input: &ShiftReportInput) -> Result<Document, DocumentError> {
    let period = format!(
        "{}, касса {}, смена {} — {}",
        input.cashier,
        input.till,
        input.opened_at.format("%d.%m.%Y %H:%M"),
        input
            .closed_at
            .map(|t| t.format("%d.%m.%Y %H:%M").to_string())
            .unwrap_or_else(|| "не закрыта".to_owned()),
    );
    let mut document = Document::new(
        SHIFT_REPORT_TITLE,
        vec![
            Column::new("Позиция", ColumnKind::Text),
            Column::new("Кол-во", ColumnKind::Integer),
            Column::new("Сумма", ColumnKind::Money),
        ],
    )?
    .with_organization(input.school.clone())
    .with_period(period)
    .with_generated_at(input.generated_at);
    document.begin_group(format!("Продажи: {} чек(ов)", input.sales))?;
    for c in &input.by_category {
        document.push_row(vec![
            Cell::text(c.category.clone()),
            Cell::Integer(c.items),
            Cell::money(c.kopecks),
        ])?;
    }
    document.begin_group("Питание по комплексам")?;
    for m in &input.meals {
        let overridden = if m.overridden > 0 {
            format!(", по решению кассира {}", m.overridden)
        } else {
            String::new()
        };
        document.push_row(vec![
            Cell::text(format!("{} ({}{overridden})", m.complex, m.payer)),
            Cell::Integer(m.served),
            Cell::money(m.kopecks),
        ])?;
    }
    document.begin_group("Возвраты")?;
    document.push_row(vec![
        Cell::text("Возвращено покупок"),
        Cell::Integer(input.refunds),
        Cell::money(-input.refunded_kopecks),
    ])?;
    let sold: i64 = input.by_category.iter().map(|c| c.kopecks).sum();
    document.set_totals(vec![
        Cell::text("Буфет за смену, за вычетом возвратов"),
        Cell::Empty,
        Cell::money(sold - input.refunded_kopecks),
    ])?;
    document.push_note(
        "Питание по комплексам оплачивают бюджеты или родители; в итог буфета оно не входит.",
    );
    Ok(document)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(h: u32, m: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 9, 15)
            .unwrap()
            .and_hms_opt(h, m, 0)
            .unwrap()
    }

    #[test]
    fn the_report_adds_up_the_buffet_less_refunds_and_renders() {
        let input = ShiftReportInput {
            school: "Лицей «Держава»".into(),
            till: "Касса 1".into(),
            cashier: "Кассирова Галина".into(),
            opened_at: at(8, 0),
            closed_at: Some(at(15, 30)),
            generated_at: at(15, 31),
            sales: 3,
            by_category: vec![
                CategorySales {
                    category: "выпечка".into(),
                    items: 4,
                    kopecks: 14_000,
                },
                CategorySales {
                    category: "напитки".into(),
                    items: 1,
                    kopecks: 4_500,
                },
            ],
            meals: vec![MealsServed {
                complex: "Обед 1–4".into(),
                payer: "региональный бюджет".into(),
                served: 112,
                kopecks: 1_013_600,
                overridden: 2,
            }],
            refunds: 1,
            refunded_kopecks: 4_500,
        };
        let document = shift_report(&input).unwrap();
        assert_eq!(
            document.totals().unwrap()[2],
            Cell::money(14_000 + 4_500 - 4_500)
        );
        let pdf = crate::to_pdf_bytes(&document).unwrap();
        assert!(pdf.starts_with(b"%PDF"));
        let csv = String::from_utf8(crate::to_csv_bytes(&document, &Default::default()).unwrap())
            .unwrap();
        assert!(
            csv.contains("Обед 1–4 (региональный бюджет, по решению кассира 2)"),
            "{csv}"
        );
    }
}
