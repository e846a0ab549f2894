//! The shape of a report, independent of how it is rendered.

use std::fmt;

use chrono::{NaiveDate, NaiveDateTime};
use serde::Serialize;

/// What a column holds; every cell in it is of this kind or empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnKind {
    /// Free text (names, classes, comments).
    Text,
    /// A whole number (counts).
    Integer,
    /// An amount of money in integer kopecks, shown as rubles with two decimals.
    Money,
    /// A calendar date in the school's time zone.
    Date,
}

impl fmt::Display for ColumnKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ColumnKind::Text => "text",
            ColumnKind::Integer => "integer",
            ColumnKind::Money => "money",
            ColumnKind::Date => "date",
        })
    }
}

/// A column: its heading and its kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Column {
    /// The heading, as the reader sees it (`"Класс"`).
    pub title: String,
    /// What its cells hold.
    pub kind: ColumnKind,
}

impl Column {
    /// A column of the given kind.
    pub fn new(title: impl Into<String>, kind: ColumnKind) -> Column {
        Column {
            title: title.into(),
            kind,
        }
    }
}

/// One cell of a row or of the totals row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Cell {
    /// Nothing; allowed in any column.
    Empty,
    /// Text.
    Text(String),
    /// A whole number.
    Integer(i64),
    /// Money in integer kopecks.
    Money {
        /// The amount in kopecks (1 ruble = 100 kopecks); negative for debts and refunds.
        kopecks: i64,
    },
    /// A calendar date.
    Date(NaiveDate),
}

impl Cell {
    /// A text cell.
    pub fn text(text: impl Into<String>) -> Cell {
        Cell::Text(text.into())
    }

    /// A money cell from kopecks.
    pub fn money(kopecks: i64) -> Cell {
        Cell::Money { kopecks }
    }

    /// The column kind this cell belongs in; `None` for [`Cell::Empty`], which fits any.
    pub fn kind(&self) -> Option<ColumnKind> {
        match self {
            Cell::Empty => None,
            Cell::Text(_) => Some(ColumnKind::Text),
            Cell::Integer(_) => Some(ColumnKind::Integer),
            Cell::Money { .. } => Some(ColumnKind::Money),
            Cell::Date(_) => Some(ColumnKind::Date),
        }
    }
}

/// Why a document could not be built as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    /// A report needs at least one column.
    #[error("a report needs at least one column")]
    NoColumns,
    /// A row with the wrong number of cells.
    #[error("row {row} has {found} cells, the report has {expected} columns")]
    RowWidth {
        /// 0-based index of the rejected row (the number of rows before it).
        row: usize,
        /// The number of columns.
        expected: usize,
        /// The number of cells given.
        found: usize,
    },
    /// A cell of another kind than its column.
    #[error("row {row}, column {column}: the column holds {expected} values, the cell is {found}")]
    CellKind {
        /// 0-based index of the rejected row.
        row: usize,
        /// 0-based index of the column.
        column: usize,
        /// The column's kind.
        expected: ColumnKind,
        /// The cell's kind.
        found: ColumnKind,
    },
    /// A totals row with the wrong number of cells.
    #[error("the totals row has {found} cells, the report has {expected} columns")]
    TotalsWidth {
        /// The number of columns.
        expected: usize,
        /// The number of cells given.
        found: usize,
    },
    /// A totals cell of another kind than its column (text labels are allowed anywhere).
    #[error("totals, column {column}: the column holds {expected} values, the cell is {found}")]
    TotalsCellKind {
        /// 0-based index of the column.
        column: usize,
        /// The column's kind.
        expected: ColumnKind,
        /// The cell's kind.
        found: ColumnKind,
    },
    /// A group whose heading is empty or only spaces: a heading is what a reader looks for.
    #[error("a group heading must not be blank")]
    BlankGroupHeading,
}

/// A run of rows under a heading, e.g. one class of the evacuation list («5А — 27 чел.»).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Group {
    heading: String,
    /// Index of the group's first row in [`Document::rows`]; the group runs to the next
    /// group's first row or to the end.
    first_row: usize,
}

/// A part of a document as renderers walk it: rows before the first group (no heading),
/// then each group with its heading. See [`Document::sections`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Section<'a> {
    /// The group's heading; `None` for rows before the first group.
    pub heading: Option<&'a str>,
    /// The section's rows, in order; may be empty for a group.
    pub rows: &'a [Vec<Cell>],
}

/// A report: title, optional period, typed columns, rows (optionally in groups under
/// headings) and an optional totals row; optionally the organisation it is about and when
/// it was made.
///
/// Invariants, checked as the document is built: at least one column; every row and the
/// totals row have one cell per column; each cell is empty or of its column's kind (the
/// totals row may also hold text anywhere, for labels such as «Итого»); group headings are
/// not blank and groups follow each other in row order. Renderers can therefore not fail on
/// the document's shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Document {
    #[serde(skip_serializing_if = "Option::is_none")]
    organization: Option<String>,
    title: String,
    period: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    generated_at: Option<NaiveDateTime>,
    columns: Vec<Column>,
    rows: Vec<Vec<Cell>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    groups: Vec<Group>,
    totals: Option<Vec<Cell>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    notes: Vec<String>,
}

impl Document {
    /// An empty report with these columns.
    pub fn new(title: impl Into<String>, columns: Vec<Column>) -> Result<Document, DocumentError> {
        if columns.is_empty() {
            return Err(DocumentError::NoColumns);
        }
        Ok(Document {
            organization: None,
            title: title.into(),
            period: None,
            generated_at: None,
            columns,
            rows: Vec::new(),
            groups: Vec::new(),
            totals: None,
            notes: Vec::new(),
        })
    }

    /// Sets the organisation the report is about, shown above the title (the school's
    /// name, «МБОУ «Лицей «Держава»»).
    pub fn with_organization(self, organization: impl Into<String>) -> Document {
        Document {
            organization: Some(organization.into()),
            ..self
        }
    }

    /// Sets when the report was made, as wall-clock time in the school's zone (the caller
    /// converts its UTC instant; this crate reads no clock). Shown under the title and used
    /// as the XLSX creation date, so the same instant gives the same bytes.
    pub fn with_generated_at(self, generated_at: NaiveDateTime) -> Document {
        Document {
            generated_at: Some(generated_at),
            ..self
        }
    }

    /// Starts a group: the rows pushed from now on, up to the next group, go under
    /// `heading`. Rows pushed before the first group stand ungrouped above it.
    pub fn begin_group(&mut self, heading: impl Into<String>) -> Result<(), DocumentError> {
        let heading = heading.into();
        if heading.trim().is_empty() {
            return Err(DocumentError::BlankGroupHeading);
        }
        self.groups.push(Group {
            heading,
            first_row: self.rows.len(),
        });
        Ok(())
    }

    /// Sets the line under the title, e.g. `"1–30 сентября 2024"` or a school's name.
    pub fn with_period(self, period: impl Into<String>) -> Document {
        Document {
            period: Some(period.into()),
            ..self
        }
    }

    /// Appends a row.
    pub fn push_row(&mut self, row: Vec<Cell>) -> Result<(), DocumentError> {
        let row_index = self.rows.len();
        if row.len() != self.columns.len() {
            return Err(DocumentError::RowWidth {
                row: row_index,
                expected: self.columns.len(),
                found: row.len(),
            });
        }
        for (column, (cell, spec)) in row.iter().zip(&self.columns).enumerate() {
            match cell.kind() {
                Some(found) if found != spec.kind => {
                    return Err(DocumentError::CellKind {
                        row: row_index,
                        column,
                        expected: spec.kind,
                        found,
                    })
                }
                _ => {}
            }
        }
        self.rows.push(row);
        Ok(())
    }

    /// Sets the totals row, shown after the rows.
    pub fn set_totals(&mut self, totals: Vec<Cell>) -> Result<(), DocumentError> {
        if totals.len() != self.columns.len() {
            return Err(DocumentError::TotalsWidth {
                expected: self.columns.len(),
                found: totals.len(),
            });
        }
        for (column, (cell, spec)) in totals.iter().zip(&self.columns).enumerate() {
            match cell.kind() {
                Some(found) if found != spec.kind && found != ColumnKind::Text => {
                    return Err(DocumentError::TotalsCellKind {
                        column,
                        expected: spec.kind,
                        found,
                    })
                }
                _ => {}
            }
        }
        self.totals = Some(totals);
        Ok(())
    }

    /// Appends a line printed under the table: a remark, a summary, a signature line
    /// («Директор ____________»). An empty note is an empty line. Notes are for people: the
    /// PDF and the XLSX show them, the CSV (for machines) leaves them out.
    pub fn push_note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    /// The lines under the table, in order.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// The organisation the report is about, if set.
    pub fn organization(&self) -> Option<&str> {
        self.organization.as_deref()
    }

    /// When the report was made (school wall-clock time), if set.
    pub fn generated_at(&self) -> Option<NaiveDateTime> {
        self.generated_at
    }

    /// Whether the rows are grouped under headings.
    pub fn has_groups(&self) -> bool {
        !self.groups.is_empty()
    }

    /// The rows in reading order: the ungrouped rows before the first group (if any, or all
    /// rows when there are no groups), then each group with its heading and rows.
    pub fn sections(&self) -> Vec<Section<'_>> {
        let mut sections = Vec::with_capacity(self.groups.len() + 1);
        let first_grouped = self.groups.first().map_or(self.rows.len(), |g| g.first_row);
        if first_grouped > 0 || self.groups.is_empty() {
            sections.push(Section {
                heading: None,
                rows: &self.rows[..first_grouped],
            });
        }
        for (index, group) in self.groups.iter().enumerate() {
            let end = self
                .groups
                .get(index + 1)
                .map_or(self.rows.len(), |next| next.first_row);
            sections.push(Section {
                heading: Some(&group.heading),
                rows: &self.rows[group.first_row..end],
            });
        }
        sections
    }

    /// The report's title.
    pub fn title(&self) -> &str {
        &self.title
    }

    /// The line under the title, if any.
    pub fn period(&self) -> Option<&str> {
        self.period.as_deref()
    }

    /// The columns, in order.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// The rows, in order; each has one cell per column.
    pub fn rows(&self) -> &[Vec<Cell>] {
        &self.rows
    }

    /// The totals row, if any; one cell per column.
    pub fn totals(&self) -> Option<&[Cell]> {
        self.totals.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(year: i32, month: u32, day: u32) -> Cell {
        Cell::Date(NaiveDate::from_ymd_opt(year, month, day).expect("valid test date"))
    }

    fn columns() -> Vec<Column> {
        vec![
            Column::new("Дата", ColumnKind::Date),
            Column::new("Класс", ColumnKind::Text),
            Column::new("Пришли", ColumnKind::Integer),
            Column::new("Сумма", ColumnKind::Money),
        ]
    }

    #[test]
    fn rows_must_fit_the_columns() {
        let cases: Vec<(Vec<Cell>, Result<(), DocumentError>)> = vec![
            (
                vec![
                    date(2024, 9, 2),
                    Cell::text("1А"),
                    Cell::Integer(25),
                    Cell::money(312_500),
                ],
                Ok(()),
            ),
            (
                vec![Cell::Empty, Cell::Empty, Cell::Empty, Cell::Empty],
                Ok(()),
            ),
            (
                vec![date(2024, 9, 2), Cell::text("1А"), Cell::Integer(25)],
                Err(DocumentError::RowWidth {
                    row: 0,
                    expected: 4,
                    found: 3,
                }),
            ),
            (
                vec![],
                Err(DocumentError::RowWidth {
                    row: 0,
                    expected: 4,
                    found: 0,
                }),
            ),
            (
                vec![
                    date(2024, 9, 2),
                    Cell::text("1А"),
                    Cell::money(25),
                    Cell::money(312_500),
                ],
                Err(DocumentError::CellKind {
                    row: 0,
                    column: 2,
                    expected: ColumnKind::Integer,
                    found: ColumnKind::Money,
                }),
            ),
            (
                vec![
                    Cell::text("2 сентября"),
                    Cell::text("1А"),
                    Cell::Integer(25),
                    Cell::Empty,
                ],
                Err(DocumentError::CellKind {
                    row: 0,
                    column: 0,
                    expected: ColumnKind::Date,
                    found: ColumnKind::Text,
                }),
            ),
        ];
        for (row, expected) in cases {
            let mut document = Document::new("Посещаемость", columns()).expect("has columns");
            let result = document.push_row(row.clone());
            assert_eq!(result, expected, "row {row:?}");
            assert_eq!(document.rows().len(), usize::from(expected.is_ok()));
        }
    }

    #[test]
    fn totals_may_hold_labels() {
        let cases: Vec<(Vec<Cell>, Result<(), DocumentError>)> = vec![
            (
                vec![
                    Cell::text("Итого"),
                    Cell::Empty,
                    Cell::Integer(50),
                    Cell::money(625_000),
                ],
                Ok(()),
            ),
            (
                vec![
                    Cell::Empty,
                    Cell::text("—"),
                    Cell::text("н/д"),
                    Cell::money(0),
                ],
                Ok(()),
            ),
            (
                vec![Cell::text("Итого"), Cell::Empty, Cell::Integer(50)],
                Err(DocumentError::TotalsWidth {
                    expected: 4,
                    found: 3,
                }),
            ),
            (
                vec![
                    Cell::text("Итого"),
                    Cell::Empty,
                    Cell::Integer(50),
                    Cell::Integer(625_000),
                ],
                Err(DocumentError::TotalsCellKind {
                    column: 3,
                    expected: ColumnKind::Money,
                    found: ColumnKind::Integer,
                }),
            ),
        ];
        for (totals, expected) in cases {
            let mut document = Document::new("Посещаемость", columns()).expect("has columns");
            assert_eq!(
                document.set_totals(totals.clone()),
                expected,
                "totals {totals:?}"
            );
            assert_eq!(document.totals().is_some(), expected.is_ok());
        }
    }

    #[test]
    fn groups_split_the_rows_into_sections() {
        let mut document = Document::new("Список", vec![Column::new("ФИО", ColumnKind::Text)])
            .expect("has columns");
        let row = |name: &str| vec![Cell::text(name)];
        document.push_row(row("без класса")).expect("fits");
        document.begin_group("5А — 2 чел.").expect("not blank");
        document
            .push_row(row("Ёлкина Софья Андреевна"))
            .expect("fits");
        document.push_row(row("Иванов Пётр")).expect("fits");
        document.begin_group("Гости — 0 чел.").expect("not blank");
        document
            .begin_group("Сотрудники — 1 чел.")
            .expect("not blank");
        document.push_row(row("Смирнова Анна")).expect("fits");
        assert_eq!(
            document.begin_group("  "),
            Err(DocumentError::BlankGroupHeading)
        );

        let sections: Vec<(Option<&str>, Vec<&Cell>)> = document
            .sections()
            .iter()
            .map(|s| (s.heading, s.rows.iter().map(|r| &r[0]).collect()))
            .collect();
        let name = Cell::text;
        assert_eq!(
            sections,
            vec![
                (None, vec![&name("без класса")]),
                (
                    Some("5А — 2 чел."),
                    vec![&name("Ёлкина Софья Андреевна"), &name("Иванов Пётр")]
                ),
                (Some("Гости — 0 чел."), vec![]),
                (Some("Сотрудники — 1 чел."), vec![&name("Смирнова Анна")]),
            ]
        );
        assert!(document.has_groups());
        assert_eq!(document.rows().len(), 4);
    }

    #[test]
    fn ungrouped_documents_have_one_section() {
        let mut document =
            Document::new("T", vec![Column::new("A", ColumnKind::Integer)]).expect("has columns");
        assert_eq!(document.sections().len(), 1);
        document.push_row(vec![Cell::Integer(1)]).expect("fits");
        let sections = document.sections();
        assert_eq!(sections.len(), 1);
        assert_eq!(sections[0].heading, None);
        assert_eq!(sections[0].rows.len(), 1);
        assert!(!document.has_groups());
    }

    #[test]
    fn a_report_needs_columns() {
        assert_eq!(
            Document::new("Пусто", vec![]),
            Err(DocumentError::NoColumns)
        );
    }

    #[test]
    fn error_messages() {
        let cases: &[(DocumentError, &str)] = &[
            (
                DocumentError::RowWidth {
                    row: 3,
                    expected: 4,
                    found: 2,
                },
                "row 3 has 2 cells, the report has 4 columns",
            ),
            (
                DocumentError::CellKind {
                    row: 0,
                    column: 2,
                    expected: ColumnKind::Integer,
                    found: ColumnKind::Money,
                },
                "row 0, column 2: the column holds integer values, the cell is money",
            ),
        ];
        for (error, message) in cases {
            assert_eq!(error.to_string(), *message);
        }
    }

    #[test]
    fn serializes_for_the_screen() {
        let mut document = Document::new("Продажи", vec![Column::new("Сумма", ColumnKind::Money)])
            .expect("has columns")
            .with_period("сентябрь 2024");
        document.push_row(vec![Cell::money(-12345)]).expect("fits");
        document.push_row(vec![Cell::Empty]).expect("fits");
        let json = serde_json::to_string(&document).expect("serializes");
        assert_eq!(
            json,
            r#"{"title":"Продажи","period":"сентябрь 2024","columns":[{"title":"Сумма","kind":"money"}],"rows":[[{"kind":"money","value":{"kopecks":-12345}}],[{"kind":"empty"}]],"totals":null}"#
        );
        let dated = serde_json::to_string(&date(2024, 9, 2)).expect("serializes");
        assert_eq!(dated, r#"{"kind":"date","value":"2024-09-02"}"#);
    }
}
