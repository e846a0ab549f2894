//! «Книговыдача и задолженности»: the library's loans over a period, by class — every
//! loan issued or returned in it — and the loans overdue as of the period's end (or as of
//! the day the document is made, if that is earlier), whenever they were issued.
//!
//! One row per loan: the reader, the book, the copy's barcode, when it was issued, when
//! due, when returned, and the days overdue. A group per class (staff and pupils without
//! a class last), its heading counting what was issued, returned and is overdue.

use super::document_error;
use super::meals::{begin, period_us};
use super::ReportQuery;
use crate::error::CoreResult;
use crate::library::days_overdue;
use crate::workstation::name_at;
use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{params, Connection};
use schoolcard_reports::{Cell, Column, ColumnKind, Document};

pub const LIBRARY_CIRCULATION_TITLE: &str = "Книговыдача и задолженности";

/// The heading of readers without a class (staff).
const NO_CLASS: &str = "Сотрудники и читатели без класса";

/// Loans listed at most: a school's year of lending (a thousand pupils, a dozen textbooks
/// each, and fiction) fits.
pub const LOANS_LISTED_MAX: i64 = 50_000;

struct Loan {
    class: Option<String>,
    reader: String,
    title: String,
    barcode: String,
    issued: NaiveDate,
    due: NaiveDate,
    /// Brought back (not lost or written off) before the period's end.
    returned: Option<NaiveDate>,
    issued_in_period: bool,
    days_overdue: i64,
}

#[derive(Default)]
struct Counts {
    issued: i64,
    returned: i64,
    overdue: i64,
}

impl Counts {
    fn add(&mut self, loan: &Loan) {
        self.issued += i64::from(loan.issued_in_period);
        self.returned += i64::from(loan.returned.is_some());
        self.overdue += i64::from(loan.days_overdue > 0);
    }
}

/// The circulation of `q`'s period (of `q`'s class, when narrowed).
pub fn library_circulation(conn: &Connection, q: &ReportQuery) -> CoreResult<Document> {
    let mut document = begin(
        conn,
        q,
        LIBRARY_CIRCULATION_TITLE,
        vec![
            Column::new("Читатель", ColumnKind::Text),
            Column::new("Книга", ColumnKind::Text),
            Column::new("Штрихкод", ColumnKind::Text),
            Column::new("Выдана", ColumnKind::Date),
            Column::new("Срок", ColumnKind::Date),
            Column::new("Возвращена", ColumnKind::Date),
            Column::new("Просрочка, дн.", ColumnKind::Integer),
        ],
    )?;
    let (from_us, to_us) = period_us(q);
    // Overdue as of the period's last day, or the day the document is made if earlier: a
    // September report made on the 15th does not foresee the 30th.
    let made_on = q.generated_at.with_timezone(&q.time_zone).date_naive();
    let as_of = q.to.min(made_on);
    let as_of_end_us = period_us(&ReportQuery {
        to: as_of,
        ..q.clone()
    })
    .1
    .min(to_us);
    let school_day = |us: i64| {
        DateTime::<Utc>::from_timestamp_micros(us)
            .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
            .with_timezone(&q.time_zone)
            .date_naive()
    };
    let mut st = conn.prepare_cached(
        "SELECT k.grade, k.letter, p.surname, p.name, p.patronymic, coalesce(t.title, ''),
                l.barcode, l.issued_at_us, l.due, l.returned_at_us, l.outcome
         FROM library_loans l
         JOIN persons p ON p.id = l.person_id
         LEFT JOIN classes k ON k.id = p.class_id
         LEFT JOIN library_copies c ON c.barcode = l.barcode
         LEFT JOIN library_titles t ON t.title_id = c.title_id
         WHERE (?3 IS NULL OR p.class_id = ?3)
           AND l.issued_at_us < ?2
           AND ((l.issued_at_us >= ?1)
                OR (l.returned_at_us >= ?1 AND l.returned_at_us < ?2)
                OR ((l.returned_at_us IS NULL OR l.returned_at_us >= ?4) AND l.due < ?5))
         ORDER BY k.grade IS NULL, k.grade, k.letter, p.search_key, l.issued_at_us, l.barcode
         LIMIT ?6",
    )?;
    let rows = st.query_map(
        params![
            from_us,
            to_us,
            q.class_id.map(|c| c.to_string()),
            as_of_end_us,
            as_of.to_string(),
            LOANS_LISTED_MAX
        ],
        |r| {
            let grade: Option<u8> = r.get(0)?;
            let letter: Option<String> = r.get(1)?;
            Ok((
                grade.zip(letter).map(|(g, l)| format!("{g}{l}")),
                name_at(r, 2)?,
                r.get::<_, String>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, i64>(7)?,
                r.get::<_, String>(8)?,
                r.get::<_, Option<i64>>(9)?,
                r.get::<_, Option<String>>(10)?,
            ))
        },
    )?;
    let mut loans = Vec::new();
    for row in rows {
        let (class, reader, title, barcode, issued_us, due, returned_us, outcome) = row?;
        let due: NaiveDate = due.parse().map_err(|_| {
            rusqlite::Error::InvalidColumnType(8, "due".into(), rusqlite::types::Type::Text)
        })?;
        let out_at_as_of = returned_us.is_none_or(|at| at >= as_of_end_us);
        let returned = returned_us
            .filter(|at| (from_us..to_us).contains(at) && outcome.as_deref() == Some("returned"))
            .map(school_day);
        loans.push(Loan {
            class,
            reader,
            title,
            barcode,
            issued: school_day(issued_us),
            due,
            returned,
            issued_in_period: issued_us >= from_us,
            days_overdue: if out_at_as_of {
                days_overdue(due, as_of)
            } else {
                0
            },
        });
    }
    let mut all = Counts::default();
    let mut start = 0;
    while start < loans.len() {
        let class = &loans[start].class;
        let end = loans[start..]
            .iter()
            .position(|l| &l.class != class)
            .map_or(loans.len(), |n| start + n);
        let mut counts = Counts::default();
        for loan in &loans[start..end] {
            counts.add(loan);
        }
        document
            .begin_group(format!(
                "{} — выдано {}, возвращено {}, просрочено {}",
                class.as_deref().unwrap_or(NO_CLASS),
                counts.issued,
                counts.returned,
                counts.overdue
            ))
            .map_err(document_error)?;
        for loan in &loans[start..end] {
            document
                .push_row(vec![
                    Cell::text(loan.reader.clone()),
                    Cell::text(loan.title.clone()),
                    Cell::text(loan.barcode.clone()),
                    Cell::Date(loan.issued),
                    Cell::Date(loan.due),
                    loan.returned.map_or(Cell::Empty, Cell::Date),
                    if loan.days_overdue > 0 {
                        Cell::Integer(loan.days_overdue)
                    } else {
                        Cell::Empty
                    },
                ])
                .map_err(document_error)?;
        }
        all.issued += counts.issued;
        all.returned += counts.returned;
        all.overdue += counts.overdue;
        start = end;
    }
    document
        .set_totals(vec![
            Cell::text("Итого"),
            Cell::Empty,
            Cell::Empty,
            Cell::text(format!("выдано {}", all.issued)),
            Cell::Empty,
            Cell::text(format!("возвращено {}", all.returned)),
            Cell::text(format!("просрочено {}", all.overdue)),
        ])
        .map_err(document_error)?;
    document.push_note(format!(
        "Просрочка — на {}: книги, не сданные к этому дню после срока, выданы в любое время.",
        as_of.format("%d.%m.%Y")
    ));
    if i64::try_from(loans.len()).unwrap_or(i64::MAX) >= LOANS_LISTED_MAX {
        document.push_note(format!(
            "Показаны первые {LOANS_LISTED_MAX} выдач; выберите период короче или класс."
        ));
    }
    Ok(document)
}
