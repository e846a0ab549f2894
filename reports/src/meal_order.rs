//! The supplier's daily meal order (заявка на питание): how many portions of each complex
//! each class takes tomorrow (or today), free ones by the budget that pays for them and
//! paid ones, in portions and in money, with the corrections made after the cut-off for
//! pupils who arrived late, and the lines for the responsible person's and the director's
//! signatures. Built as a [`Document`], so it prints (PDF), opens in Excel (XLSX) and goes
//! to machines (CSV) like every other report.
//!
//! The table: one group per complex («Завтрак — 85,00 ₽ за порцию»), a row per class in
//! school order, the corrections after them, and the complex's subtotal row («Итого:
//! Завтрак»); the totals row («Итого по заявке») adds the subtotals. Columns: portions
//! free at the municipal budget's cost, free at the regional budget's, paid, all; then
//! the same in rubles.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

use crate::document::{Cell, Column, ColumnKind, Document, DocumentError};
use crate::evacuation::ClassKey;
use crate::money::format_rubles_with_sign;

/// The order's title, before its date.
pub const MEAL_ORDER_TITLE: &str = "Заявка на питание";

/// The label of a complex's subtotal row, before the complex's name.
pub const COMPLEX_TOTAL_LABEL: &str = "Итого:";

/// The label of the totals row.
pub const ORDER_TOTAL_LABEL: &str = "Итого по заявке";

/// Which budget pays for a free meal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BudgetSource {
    /// The municipality's budget (муниципальный бюджет).
    Municipal,
    /// The region's budget (региональный бюджет), federal co-financing included.
    Regional,
}

impl BudgetSource {
    /// Every source, in the order of the columns.
    pub const ALL: [BudgetSource; 2] = [BudgetSource::Municipal, BudgetSource::Regional];

    /// The source as a reader sees it: «муниципальный бюджет».
    pub fn label(self) -> &'static str {
        match self {
            BudgetSource::Municipal => "муниципальный бюджет",
            BudgetSource::Regional => "региональный бюджет",
        }
    }
}

/// Portions of one complex for one class, by who pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Portions {
    /// Free, paid by the municipal budget.
    pub free_municipal: u32,
    /// Free, paid by the regional budget.
    pub free_regional: u32,
    /// Paid by parents (from the pupils' balances).
    pub paid: u32,
}

impl Portions {
    /// All portions.
    pub fn total(&self) -> u64 {
        u64::from(self.free_municipal) + u64::from(self.free_regional) + u64::from(self.paid)
    }
}

/// One class's order of one complex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassPortions {
    /// The class as the school writes it («5А»).
    pub class: String,
    /// Its portions.
    pub portions: Portions,
}

/// A change to a class's order after the cut-off: pupils who arrived late (more portions)
/// or went home (fewer), agreed with the supplier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LateCorrection {
    /// The class («5А»).
    pub class: String,
    /// When it was made, school wall-clock time.
    pub at: NaiveTime,
    /// Portions added (positive) or removed (negative), free by source.
    pub free_municipal: i32,
    /// See `free_municipal`.
    pub free_regional: i32,
    /// Paid portions added or removed.
    pub paid: i32,
    /// Why («опоздали 3 ученика»); may be empty.
    pub reason: String,
}

/// One meal complex (комплекс: завтрак, обед, полдник) and what each class orders of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComplexOrder {
    /// The complex as the menu names it («Завтрак», «Обед 1–4 кл.», «Полдник»).
    pub name: String,
    /// The supplier's price of one portion, in kopecks; the same whoever pays.
    pub price_kopecks: i64,
    /// The classes' orders, in any order; a class may be absent (orders nothing).
    pub classes: Vec<ClassPortions>,
    /// Corrections after the cut-off, in any order.
    pub corrections: Vec<LateCorrection>,
}

/// Everything the order is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MealOrderInput {
    /// The school's name.
    pub school: String,
    /// The supplier (комбинат питания); may be empty.
    pub supplier: String,
    /// The day the meals are for.
    pub date: NaiveDate,
    /// The time orders for `date` close; later changes are corrections.
    pub cut_off: NaiveTime,
    /// When the order is printed, school wall-clock time.
    pub generated_at: NaiveDateTime,
    /// The complexes, in the order of the school day (breakfast, lunch, snack).
    pub complexes: Vec<ComplexOrder>,
    /// Who is responsible for meals (ответственный за питание), printed at the signature.
    pub responsible: String,
    /// The director's name, printed at the signature.
    pub director: String,
}

/// One line of the table in numbers: portions by payer and their cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Line {
    municipal: i64,
    regional: i64,
    paid: i64,
}

impl Line {
    fn total(&self) -> i64 {
        self.municipal
            .saturating_add(self.regional)
            .saturating_add(self.paid)
    }

    fn add(&mut self, other: &Line) {
        self.municipal = self.municipal.saturating_add(other.municipal);
        self.regional = self.regional.saturating_add(other.regional);
        self.paid = self.paid.saturating_add(other.paid);
    }

    fn cost(&self, price_kopecks: i64) -> Line {
        Line {
            municipal: self.municipal.saturating_mul(price_kopecks),
            regional: self.regional.saturating_mul(price_kopecks),
            paid: self.paid.saturating_mul(price_kopecks),
        }
    }

    /// The row's cells after the label: portions, then money.
    fn cells(&self, price_kopecks: i64) -> Vec<Cell> {
        let money = self.cost(price_kopecks);
        Line::cells_of(self, &money)
    }

    fn cells_of(portions: &Line, money: &Line) -> Vec<Cell> {
        vec![
            Cell::Integer(portions.municipal),
            Cell::Integer(portions.regional),
            Cell::Integer(portions.paid),
            Cell::Integer(portions.total()),
            Cell::money(money.municipal),
            Cell::money(money.regional),
            Cell::money(money.paid),
            Cell::money(money.total()),
        ]
    }
}

impl From<&Portions> for Line {
    fn from(portions: &Portions) -> Line {
        Line {
            municipal: i64::from(portions.free_municipal),
            regional: i64::from(portions.free_regional),
            paid: i64::from(portions.paid),
        }
    }
}

impl From<&LateCorrection> for Line {
    fn from(correction: &LateCorrection) -> Line {
        Line {
            municipal: i64::from(correction.free_municipal),
            regional: i64::from(correction.free_regional),
            paid: i64::from(correction.paid),
        }
    }
}

/// Column headings abbreviate the budgets as budget documents do (МБ, РБ); a note under
/// the table spells them out. Numbers' headings do not wrap, so short ones keep the order
/// on one landscape page.
fn columns() -> Vec<Column> {
    vec![
        Column::new("Класс", ColumnKind::Text),
        Column::new("Бесплатно (МБ), порц.", ColumnKind::Integer),
        Column::new("Бесплатно (РБ), порц.", ColumnKind::Integer),
        Column::new("Платно, порц.", ColumnKind::Integer),
        Column::new("Всего, порц.", ColumnKind::Integer),
        Column::new("МБ, ₽", ColumnKind::Money),
        Column::new("РБ, ₽", ColumnKind::Money),
        Column::new("Платно, ₽", ColumnKind::Money),
        Column::new("Всего, ₽", ColumnKind::Money),
    ]
}

/// The note that spells out the headings' abbreviations.
pub const BUDGET_ABBREVIATIONS_NOTE: &str =
    "МБ — бесплатно за счёт муниципального бюджета, РБ — за счёт регионального бюджета.";

fn labelled(label: String, mut cells: Vec<Cell>) -> Vec<Cell> {
    cells.insert(0, Cell::Text(label));
    cells
}

/// The order as a [`Document`] (see the module's description). The document is valid by
/// construction; the `Result` only passes on the model's own checks.
pub fn meal_order(input: &MealOrderInput) -> Result<Document, DocumentError> {
    let title = format!("{MEAL_ORDER_TITLE} на {}", input.date.format("%d.%m.%Y"));
    let mut period = format!("Приём заявок до {}", input.cut_off.format("%H:%M"));
    if !input.supplier.trim().is_empty() {
        period = format!("Поставщик: {} · {period}", input.supplier.trim());
    }
    let mut document = Document::new(title, columns())?
        .with_organization(input.school.clone())
        .with_period(period)
        .with_generated_at(input.generated_at);

    let mut portions_total = Line::default();
    let mut money_total = Line::default();
    let mut corrections_total = Line::default();
    for complex in &input.complexes {
        let price = complex.price_kopecks;
        document.begin_group(format!(
            "{} — {} за порцию",
            complex.name.trim(),
            format_rubles_with_sign(price)
        ))?;
        let mut classes: Vec<&ClassPortions> = complex.classes.iter().collect();
        classes.sort_by_key(|c| ClassKey::parse(&c.class));
        let mut subtotal = Line::default();
        for class in classes {
            let line = Line::from(&class.portions);
            subtotal.add(&line);
            document.push_row(labelled(class.class.trim().to_owned(), line.cells(price)))?;
        }
        let mut corrections: Vec<&LateCorrection> = complex.corrections.iter().collect();
        corrections.sort_by_key(|c| (c.at, ClassKey::parse(&c.class)));
        for correction in corrections {
            let line = Line::from(correction);
            subtotal.add(&line);
            corrections_total.add(&line);
            let mut label = format!(
                "{}: корректировка в {}",
                correction.class.trim(),
                correction.at.format("%H:%M")
            );
            if !correction.reason.trim().is_empty() {
                label = format!("{label} ({})", correction.reason.trim());
            }
            document.push_row(labelled(label, line.cells(price)))?;
        }
        document.push_row(labelled(
            format!("{COMPLEX_TOTAL_LABEL} {}", complex.name.trim()),
            subtotal.cells(price),
        ))?;
        portions_total.add(&subtotal);
        money_total.add(&subtotal.cost(price));
    }
    document.set_totals(labelled(
        ORDER_TOTAL_LABEL.to_owned(),
        Line::cells_of(&portions_total, &money_total),
    ))?;

    document.push_note(BUDGET_ABBREVIATIONS_NOTE);
    for source in BudgetSource::ALL {
        let (portions, money) = match source {
            BudgetSource::Municipal => (portions_total.municipal, money_total.municipal),
            BudgetSource::Regional => (portions_total.regional, money_total.regional),
        };
        document.push_note(format!(
            "Бесплатно, {}: {portions} порц. на {}",
            source.label(),
            format_rubles_with_sign(money)
        ));
    }
    document.push_note(format!(
        "Платно: {} порц. на {}",
        portions_total.paid,
        format_rubles_with_sign(money_total.paid)
    ));
    if corrections_total != Line::default() {
        document.push_note(format!(
            "Корректировки после {} учтены в итогах: {:+} порц.",
            input.cut_off.format("%H:%M"),
            corrections_total.total()
        ));
    }
    document.push_note("");
    document.push_note(signature_line(
        "Ответственный за питание",
        &input.responsible,
    ));
    document.push_note("");
    document.push_note(signature_line("Директор", &input.director));
    Ok(document)
}

/// «Директор ____________________ / Петрова А. С. /».
fn signature_line(role: &str, name: &str) -> String {
    let name = if name.trim().is_empty() {
        "____________________"
    } else {
        name.trim()
    };
    format!("{role} ____________________ / {name} /")
}
