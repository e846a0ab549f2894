//! «Смены кассиров»: every till shift opened in the period — the till, the cashier, when
//! it opened and closed, the receipts, the takings, the refunds, and the free meals
//! served — with the period's totals.
//!
//! A shift's money is what its till did between the opening and the closing (or, for a
//! shift still open, until the document was made): [`shift_takings`], which the cashier's
//! own shift report reads too, so the director sees the cashier's figures.

use super::document_error;
use super::meals::{begin, period_us};
use super::ReportQuery;
use crate::error::CoreResult;
use crate::workstation::name_at;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection};
use schoolcard_reports::{Cell, Column, ColumnKind, Document};
use std::collections::BTreeMap;

pub const CASHIER_SHIFTS_TITLE: &str = "Смены кассиров";

/// Characters of the till's id shown: as on the receipt, enough to tell tills apart.
const TILL_ID_CHARS: usize = 8;

/// Shifts listed at most: three tills, two shifts a day, for a school year and more.
pub const SHIFTS_LISTED_MAX: i64 = 5_000;

/// What a till took from `from_us` to `until_us` (both included).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct ShiftTakings {
    /// Receipts.
    pub sales: i64,
    /// Their money, in kopecks.
    pub sold: i64,
    /// Items and kopecks by category, as the lines were sold.
    pub by_category: BTreeMap<String, (i64, i64)>,
    /// Sales of this till refunded meanwhile, and their money.
    pub refunds: i64,
    pub refunded: i64,
}

/// What the till `origin` sold and refunded from `from_us` to `until_us`.
pub(crate) fn shift_takings(
    conn: &Connection,
    origin: &str,
    from_us: i64,
    until_us: i64,
) -> CoreResult<ShiftTakings> {
    let window = params![origin, from_us, until_us];
    let mut takings = ShiftTakings::default();
    {
        let mut st = conn.prepare_cached(
            "SELECT lines, total FROM canteen_sales
             WHERE origin = ?1 AND at_us >= ?2 AND at_us <= ?3",
        )?;
        let rows = st.query_map(window, |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
        })?;
        for row in rows {
            let (lines, total) = row?;
            takings.sales += 1;
            takings.sold += total;
            let lines: Vec<crate::canteen::PricedLine> =
                serde_json::from_str(&lines).unwrap_or_default();
            for l in lines {
                let entry = takings.by_category.entry(l.category).or_default();
                entry.0 += i64::from(l.quantity);
                entry.1 += l.price.0 * i64::from(l.quantity);
            }
        }
    }
    (takings.refunds, takings.refunded) = conn.query_row(
        "SELECT count(*), coalesce(sum(total), 0) FROM canteen_sales
         WHERE origin = ?1 AND refunded_at_us >= ?2 AND refunded_at_us <= ?3",
        window,
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok(takings)
}

#[derive(Debug, Default)]
struct Figures {
    sales: i64,
    sold: i64,
    refunded: i64,
    meals: i64,
    meals_kopecks: i64,
}

impl Figures {
    fn add(&mut self, other: &Figures) {
        self.sales += other.sales;
        self.sold += other.sold;
        self.refunded += other.refunded;
        self.meals += other.meals;
        self.meals_kopecks += other.meals_kopecks;
    }

    fn cells(&self) -> Vec<Cell> {
        vec![
            Cell::Integer(self.sales),
            Cell::money(self.sold),
            Cell::money(self.refunded),
            Cell::money(self.sold - self.refunded),
            Cell::Integer(self.meals),
            Cell::money(self.meals_kopecks),
        ]
    }
}

/// The shifts opened in `q`'s period, oldest first. A till serves every class, so `q`'s
/// class does not narrow it.
pub fn cashier_shifts(conn: &Connection, q: &ReportQuery) -> CoreResult<Document> {
    let unclassed = ReportQuery {
        class_id: None,
        ..q.clone()
    };
    let mut document = begin(
        conn,
        &unclassed,
        CASHIER_SHIFTS_TITLE,
        vec![
            Column::new("Касса", ColumnKind::Text),
            Column::new("Кассир", ColumnKind::Text),
            Column::new("Открыта", ColumnKind::Text),
            Column::new("Закрыта", ColumnKind::Text),
            Column::new("Чеков", ColumnKind::Integer),
            Column::new("Выручка", ColumnKind::Money),
            Column::new("Возвраты", ColumnKind::Money),
            Column::new("Итого", ColumnKind::Money),
            Column::new("Питание, порций", ColumnKind::Integer),
            Column::new("Питание, ₽", ColumnKind::Money),
        ],
    )?;
    let (from_us, to_us) = period_us(q);
    let generated_us = q.generated_at.timestamp_micros();
    let shifts: Vec<(String, String, i64, Option<i64>)> = {
        let mut st = conn.prepare_cached(
            "SELECT s.origin, p.surname, p.name, p.patronymic, s.opened_at_us, s.closed_at_us
             FROM till_shifts s LEFT JOIN persons p ON p.id = s.cashier_id
             WHERE s.opened_at_us >= ?1 AND s.opened_at_us < ?2
             ORDER BY s.opened_at_us, s.origin LIMIT ?3",
        )?;
        let rows = st.query_map(params![from_us, to_us, SHIFTS_LISTED_MAX], |r| {
            Ok((r.get(0)?, name_at(r, 1)?, r.get(4)?, r.get(5)?))
        })?;
        rows.collect::<Result<_, _>>()?
    };
    let local = |us: i64| {
        DateTime::<Utc>::from_timestamp_micros(us)
            .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
            .with_timezone(&q.time_zone)
            .format("%d.%m.%Y %H:%M")
            .to_string()
    };
    let mut all = Figures::default();
    let mut still_open = 0;
    for (origin, cashier, opened, closed) in &shifts {
        let until = closed.unwrap_or(generated_us);
        let takings = shift_takings(conn, origin, *opened, until)?;
        let (meals, meals_kopecks): (i64, i64) = conn.query_row(
            "SELECT count(*), coalesce(sum(price), 0) FROM meals_served
             WHERE origin = ?1 AND at_us >= ?2 AND at_us <= ?3",
            params![origin, opened, until],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let figures = Figures {
            sales: takings.sales,
            sold: takings.sold,
            refunded: takings.refunded,
            meals,
            meals_kopecks,
        };
        if closed.is_none() {
            still_open += 1;
        }
        let mut row = vec![
            Cell::text(origin.chars().take(TILL_ID_CHARS).collect::<String>()),
            Cell::text(cashier.clone()),
            Cell::text(local(*opened)),
            Cell::text(closed.map_or_else(|| "не закрыта".to_owned(), local)),
        ];
        row.extend(figures.cells());
        document.push_row(row).map_err(document_error)?;
        all.add(&figures);
    }
    let mut totals = vec![
        Cell::text(format!("Итого: смен {}", shifts.len())),
        Cell::Empty,
        Cell::Empty,
        Cell::Empty,
    ];
    totals.extend(all.cells());
    document.set_totals(totals).map_err(document_error)?;
    document.push_note(
        "Возвраты — покупок, возвращённых за смену на этой кассе. Питание оплачивают бюджеты \
         или родители; в выручку буфета оно не входит.",
    );
    if still_open > 0 {
        document.push_note(format!(
            "Не закрыто смен: {still_open}; их суммы — на время составления."
        ));
    }
    Ok(document)
}
