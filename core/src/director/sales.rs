//! «Продажи буфета»: what the buffet sold over a period, by category and product, as the
//! lines were sold (the day's price, the name on the receipt), with the refunds of those
//! sales and what remains.
//!
//! A sale belongs to its school day; a refunded sale is counted as sold and then as
//! refunded (the whole sale comes back), so the net is what the buffet kept — the same
//! figures as the canteen's period report's «buffet».

use super::document_error;
use super::meals::begin;
use super::ReportQuery;
use crate::canteen::PricedLine;
use crate::error::CoreResult;
use rusqlite::{params, Connection};
use schoolcard_reports::{Cell, Column, ColumnKind, Document};
use std::collections::BTreeMap;

pub const BUFFET_SALES_TITLE: &str = "Продажи буфета";

/// The heading of products sold without a category.
const NO_CATEGORY: &str = "Без категории";

#[derive(Debug, Default, Clone, Copy)]
struct Sold {
    quantity: i64,
    kopecks: i64,
    refunded_quantity: i64,
    refunded_kopecks: i64,
}

impl Sold {
    fn add(&mut self, other: &Sold) {
        self.quantity += other.quantity;
        self.kopecks += other.kopecks;
        self.refunded_quantity += other.refunded_quantity;
        self.refunded_kopecks += other.refunded_kopecks;
    }

    fn cells(&self) -> Vec<Cell> {
        vec![
            Cell::Integer(self.quantity),
            Cell::money(self.kopecks),
            Cell::Integer(self.refunded_quantity),
            Cell::money(self.refunded_kopecks),
            Cell::money(self.kopecks - self.refunded_kopecks),
        ]
    }
}

/// The buffet's sales of `q`'s period (to the pupils of `q`'s class, when narrowed).
pub fn buffet_sales(conn: &Connection, q: &ReportQuery) -> CoreResult<Document> {
    let mut document = begin(
        conn,
        q,
        BUFFET_SALES_TITLE,
        vec![
            Column::new("Товар", ColumnKind::Text),
            Column::new("Продано, шт.", ColumnKind::Integer),
            Column::new("Сумма", ColumnKind::Money),
            Column::new("Возвращено, шт.", ColumnKind::Integer),
            Column::new("Возвраты", ColumnKind::Money),
            Column::new("Итого", ColumnKind::Money),
        ],
    )?;
    // category → product name → sold
    let mut by_category: BTreeMap<String, BTreeMap<String, Sold>> = BTreeMap::new();
    let (mut receipts, mut refunded_receipts) = (0i64, 0i64);
    {
        let mut st = conn.prepare_cached(
            "SELECT sale_id, lines, refunded_at_us IS NOT NULL FROM canteen_sales
             WHERE school_date BETWEEN ?1 AND ?2
               AND (?3 IS NULL OR person_id IN (SELECT id FROM persons WHERE class_id = ?3))
             ORDER BY at_us",
        )?;
        let rows = st.query_map(
            params![
                q.from.to_string(),
                q.to.to_string(),
                q.class_id.map(|c| c.to_string())
            ],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, bool>(2)?,
                ))
            },
        )?;
        for row in rows {
            let (sale_id, lines, refunded) = row?;
            receipts += 1;
            refunded_receipts += i64::from(refunded);
            // Lines that do not read are a broken projection: refuse, not under-count.
            let lines: Vec<PricedLine> = serde_json::from_str(&lines).map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(
                    1,
                    rusqlite::types::Type::Text,
                    format!("sale {sale_id}: {e}").into(),
                )
            })?;
            for line in lines {
                let category = if line.category.trim().is_empty() {
                    NO_CATEGORY.to_owned()
                } else {
                    line.category
                };
                let quantity = i64::from(line.quantity);
                let kopecks = line.price.0 * quantity;
                let sold = by_category
                    .entry(category)
                    .or_default()
                    .entry(line.name)
                    .or_default();
                sold.quantity += quantity;
                sold.kopecks += kopecks;
                if refunded {
                    sold.refunded_quantity += quantity;
                    sold.refunded_kopecks += kopecks;
                }
            }
        }
    }
    let mut all = Sold::default();
    for (category, products) in &by_category {
        document.begin_group(category).map_err(document_error)?;
        let mut subtotal = Sold::default();
        for (name, sold) in products {
            let mut row = vec![Cell::text(name.clone())];
            row.extend(sold.cells());
            document.push_row(row).map_err(document_error)?;
            subtotal.add(sold);
        }
        let mut row = vec![Cell::text(format!("Итого: {category}"))];
        row.extend(subtotal.cells());
        document.push_row(row).map_err(document_error)?;
        all.add(&subtotal);
    }
    let mut totals = vec![Cell::text("Итого")];
    totals.extend(all.cells());
    document.set_totals(totals).map_err(document_error)?;
    document.push_note(format!(
        "Чеков: {receipts}, из них возвращено: {refunded_receipts}. Возвраты — покупок этого \
         периода, в день покупки."
    ));
    Ok(document)
}
