//! «Питание и экономия»: the meals of a period by who pays for them (the regional budget,
//! the municipal one, the parents), per complex: pupils entitled on the orders, portions
//! ordered and served, the money served, and what the budget saved.
//!
//! The figures are the canteen's period report's: [`meals_by_day`] here is what the
//! «meals_report» command reads too: the saving is
//! `canteen::saved` — (entitled − ordered) × the day's price for a budget-paid complex,
//! pupils entitled but absent at the cut-off — and beside it what was ordered but not
//! served, (ordered − served) × the day's price, which the supplier still bills.
//!
//! Also home to what the director's money documents share: the header, the period's
//! bounds, the class filter.

use super::document_error;
use super::{check_period, period_text, ReportQuery};
use crate::canteen::{self, Payer};
use crate::domain::ClassId;
use crate::error::CoreResult;
use crate::money::Kopecks;
use chrono::{Duration, NaiveDate, NaiveTime, TimeZone};
use rusqlite::{params, Connection};
use schoolcard_reports::{Cell, Column, ColumnKind, Document};
use std::collections::{BTreeMap, BTreeSet, HashMap};

pub const MEALS_AND_SAVINGS_TITLE: &str = "Питание и экономия бюджетных средств";

/// The payers in the order the document lists them: the budgets first, the parents last.
const PAYERS: [Payer; 3] = [Payer::Regional, Payer::Municipal, Payer::Parents];

/// A payer as stored (`regional`, …); an unknown word is the parents', as the canteen
/// reads it.
fn parse_payer(text: &str) -> Payer {
    serde_json::from_value(serde_json::Value::String(text.to_owned())).unwrap_or(Payer::Parents)
}

fn payer_heading(payer: Payer) -> &'static str {
    match payer {
        Payer::Regional => "Региональный бюджет",
        Payer::Municipal => "Муниципальный бюджет",
        Payer::Parents => "Родители (платное питание)",
    }
}

/// The payer in a subtotal's label, short as budget documents write it: a long label
/// would widen the first column and squeeze the money out of a portrait page.
fn payer_short(payer: Payer) -> &'static str {
    match payer {
        Payer::Regional => "РБ",
        Payer::Municipal => "МБ",
        Payer::Parents => "родители",
    }
}

/// One complex's figures over the period.
#[derive(Debug, Default)]
struct ComplexFigures {
    prices: BTreeSet<i64>,
    entitled: i64,
    ordered: i64,
    served: i64,
    served_kopecks: i64,
    saved_kopecks: i64,
    not_served_kopecks: i64,
}

impl ComplexFigures {
    fn add(&mut self, other: &ComplexFigures) {
        self.prices.extend(other.prices.iter().copied());
        self.entitled += other.entitled;
        self.ordered += other.ordered;
        self.served += other.served;
        self.served_kopecks += other.served_kopecks;
        self.saved_kopecks += other.saved_kopecks;
        self.not_served_kopecks += other.not_served_kopecks;
    }

    /// The cells after the label. The price is shown when it was one over the period.
    fn cells(&self) -> Vec<Cell> {
        let price = match (self.prices.len(), self.prices.first()) {
            (1, Some(p)) => Cell::money(*p),
            _ => Cell::Empty,
        };
        vec![
            price,
            Cell::Integer(self.entitled),
            Cell::Integer(self.ordered),
            Cell::Integer(self.served),
            Cell::money(self.served_kopecks),
            Cell::money(self.saved_kopecks),
            Cell::money(self.not_served_kopecks),
        ]
    }
}

/// The meals and savings of `q`'s period (and class), grouped by payer.
pub fn meals_and_savings(conn: &Connection, q: &ReportQuery) -> CoreResult<Document> {
    let mut document = begin(
        conn,
        q,
        MEALS_AND_SAVINGS_TITLE,
        vec![
            Column::new("Комплекс", ColumnKind::Text),
            Column::new("Цена", ColumnKind::Money),
            Column::new("Положено", ColumnKind::Integer),
            Column::new("Заказано", ColumnKind::Integer),
            Column::new("Выдано", ColumnKind::Integer),
            Column::new("Выдано, ₽", ColumnKind::Money),
            Column::new("Экономия, ₽", ColumnKind::Money),
            Column::new("Не выдано, ₽", ColumnKind::Money),
        ],
    )?;
    let names: HashMap<String, String> = {
        let mut st = conn.prepare_cached("SELECT complex_id, name FROM canteen_complexes")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    // payer → complex name → figures
    let mut by_payer: BTreeMap<Payer, BTreeMap<String, ComplexFigures>> = BTreeMap::new();
    for ((_day, complex, payer), day) in meals_by_day(conn, q.from, q.to, q.class_id)? {
        let payer = parse_payer(&payer);
        let price = Kopecks(day.price);
        let name = names.get(&complex).cloned().unwrap_or(complex);
        let figures = by_payer.entry(payer).or_default().entry(name).or_default();
        figures.prices.insert(day.price);
        figures.entitled += i64::from(day.entitled);
        figures.ordered += i64::from(day.ordered);
        figures.served += i64::from(day.served);
        figures.served_kopecks += day.served_kopecks;
        figures.saved_kopecks += canteen::saved(payer, day.entitled, day.ordered, price).0;
        figures.not_served_kopecks += (i64::from(day.ordered) - i64::from(day.served)) * price.0;
    }
    let mut all = ComplexFigures::default();
    for payer in PAYERS {
        let Some(complexes) = by_payer.get(&payer) else {
            continue;
        };
        document
            .begin_group(payer_heading(payer))
            .map_err(document_error)?;
        let mut subtotal = ComplexFigures::default();
        for (name, figures) in complexes {
            let mut row = vec![Cell::text(name.clone())];
            row.extend(figures.cells());
            document.push_row(row).map_err(document_error)?;
            subtotal.add(figures);
        }
        let mut row = vec![Cell::text(format!("Итого: {}", payer_short(payer)))];
        row.extend(subtotal.cells());
        document.push_row(row).map_err(document_error)?;
        all.add(&subtotal);
    }
    let mut totals = vec![Cell::text("Итого")];
    totals.extend(all.cells());
    totals[1] = Cell::Empty;
    document.set_totals(totals).map_err(document_error)?;
    document.push_note(
        "Экономия — положенное бюджетное питание, не заказанное на отсутствующих: \
         (положено − заказано) × цена комплекса в тот день; за платное питание родителей \
         экономии нет.",
    );
    document.push_note("РБ — региональный бюджет, МБ — муниципальный бюджет.");
    document.push_note(
        "«Не выдано» — (заказано − выдано) × цена: заказанные порции, которые \
         никто не получил (отрицательно, если выдано больше заказанного).",
    );
    Ok(document)
}

// ---- shared with the canteen's period report ----

/// The meals of `from..=to` per school day, complex and payer (the payer as stored:
/// `municipal`, `regional`, `parents`): the complex's price that day, the pupils entitled
/// on the order's lines, the pupils on the order, the portions served and their money.
/// With `class_id`, only that class: its order lines, its pupils on the order, and the
/// meals served to pupils who are in it now. The period report and the director's
/// «Питание и экономия» both read this.
pub(crate) fn meals_by_day(
    conn: &Connection,
    from: NaiveDate,
    to: NaiveDate,
    class_id: Option<ClassId>,
) -> CoreResult<BTreeMap<(String, String, String), MealsDay>> {
    let (from_s, to_s) = (from.to_string(), to.to_string());
    let class = class_id.map(|c| c.to_string());
    let mut rows: BTreeMap<(String, String, String), MealsDay> = BTreeMap::new();
    {
        let mut st = conn.prepare_cached(
            // A complex has one price a day: the order's (a line an adjustment added
            // after a price change carries the new one; the dearer is counted).
            "SELECT l.school_date, l.complex_id, l.payer, max(l.price), sum(l.entitled),
                    (SELECT count(*) FROM meal_order_pupils o
                     WHERE o.school_date = l.school_date AND o.complex_id = l.complex_id
                       AND (?3 IS NULL OR o.class_id = ?3))
             FROM meal_order_lines l WHERE l.school_date BETWEEN ?1 AND ?2
               AND (?3 IS NULL OR l.class_id = ?3)
             GROUP BY l.school_date, l.complex_id, l.payer",
        )?;
        let found = st.query_map(params![from_s, to_s, class], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, u32>(4)?,
                r.get::<_, u32>(5)?,
            ))
        })?;
        for row in found {
            let (day, complex, payer, price, entitled, ordered) = row?;
            let entry = rows.entry((day, complex, payer)).or_default();
            entry.price = price;
            entry.entitled = entitled;
            entry.ordered = ordered;
        }
    }
    {
        let mut st = conn.prepare_cached(
            "SELECT school_date, complex_id, payer, count(*), sum(price), max(price) FROM meals_served
             WHERE school_date BETWEEN ?1 AND ?2
               AND (?3 IS NULL OR person_id IN (SELECT id FROM persons WHERE class_id = ?3))
             GROUP BY school_date, complex_id, payer",
        )?;
        let found = st.query_map(params![from_s, to_s, class], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, u32>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, i64>(5)?,
            ))
        })?;
        for row in found {
            let (day, complex, payer, served, served_kopecks, price) = row?;
            let entry = rows.entry((day, complex, payer)).or_default();
            if entry.price == 0 {
                entry.price = price;
            }
            entry.served = served;
            entry.served_kopecks = served_kopecks;
        }
    }
    Ok(rows)
}

/// One day's figures of one complex and payer (see [`meals_by_day`]).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct MealsDay {
    /// One portion's price in kopecks: the order's (the dearer, if it changed), or the
    /// served meals' when nothing was ordered.
    pub price: i64,
    /// Pupils entitled to it on the order's lines.
    pub entitled: u32,
    /// Pupils on the order.
    pub ordered: u32,
    /// Portions served.
    pub served: u32,
    /// What the served portions cost, in kopecks.
    pub served_kopecks: i64,
}

// ---- shared by the director's money documents ----

/// A document with `q`'s header: the school, the title, the period (and the class, when
/// narrowed to one), when it was made in the school's time. Refuses a period that ends
/// before it begins or is too long ([`check_period`]).
pub(super) fn begin(
    conn: &Connection,
    q: &ReportQuery,
    title: &str,
    columns: Vec<Column>,
) -> CoreResult<Document> {
    check_period(q)?;
    let mut period = period_text(q.from, q.to);
    if let Some(class_id) = q.class_id {
        period.push_str(&format!(", класс {}", super::class_name(conn, class_id)?));
    }
    Ok(Document::new(title, columns)
        .map_err(document_error)?
        .with_organization(q.school.clone())
        .with_period(period)
        .with_generated_at(q.generated_at.with_timezone(&q.time_zone).naive_local()))
}

/// The period's instants in microseconds: from the first day's midnight (included) to
/// the midnight after the last day (excluded), in the school's zone.
pub(super) fn period_us(q: &ReportQuery) -> (i64, i64) {
    (
        midnight_us(q, q.from),
        midnight_us(q, q.to + Duration::days(1)),
    )
}

fn midnight_us(q: &ReportQuery, day: NaiveDate) -> i64 {
    let local = day.and_time(NaiveTime::MIN);
    q.time_zone
        .from_local_datetime(&local)
        .earliest()
        // A zone whose clocks skip midnight that day: the hour after.
        .or_else(|| {
            q.time_zone
                .from_local_datetime(&(local + Duration::hours(1)))
                .earliest()
        })
        .map_or_else(
            || local.and_utc().timestamp_micros(),
            |t| t.timestamp_micros(),
        )
}
