//! The header → which column holds what; each row → a checked [`ParsedRow`] or the list of
//! what is wrong with its cells. Nothing here looks at other rows or at the store.

use super::read::{Cell, Table};
use super::{
    ColumnMatch, FileIssue, Reason, RowIssue, SourceInfo, Ticker, HEADER_SEARCH_ROWS_MAX,
    ROSTER_COLUMNS_MAX, ROSTER_ROWS_MAX,
};
use crate::domain::{ClassName, FullName};
use crate::workstation::{check_details, parse_date, DetailsInput, Progress};
use crate::CoreError;
use chrono::{Datelike, NaiveDate};
use schoolcard_proto::CardId;
use serde::Serialize;
use std::collections::HashMap;

/// What a roster column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// The school's own pupil id (the match key between files, and photo file names).
    Id,
    Surname,
    Name,
    Patronymic,
    /// «ФИО» in one column, used only when there are no separate surname and name columns.
    FullName,
    Class,
    BirthDate,
    Card,
    /// A legal representative's full name, «Фамилия Имя Отчество».
    Guardian,
    GuardianPhone,
    GuardianEmail,
}

/// Header names accepted for each field, in normalised form (see [`normalise_header`]):
/// lower case, «ё» as «е», hyphens dropped, other punctuation as spaces.
const HEADER_NAMES: &[(Field, &[&str])] = &[
    (
        Field::Id,
        &[
            "идентификатор",
            "id",
            "номер",
            "личный номер",
            "ид",
            "pupil id",
            "student id",
            "external id",
        ],
    ),
    (
        Field::Surname,
        &["фамилия", "surname", "last name", "family name"],
    ),
    (Field::Name, &["имя", "name", "first name", "given name"]),
    (
        Field::Patronymic,
        &["отчество", "patronymic", "middle name"],
    ),
    (
        Field::FullName,
        &["фио", "фио ученика", "фио обучающегося", "full name"],
    ),
    (Field::Class, &["класс", "class", "form"]),
    (
        Field::BirthDate,
        &["дата рождения", "birth date", "date of birth", "birthday"],
    ),
    (
        Field::Card,
        &["карта", "номер карты", "card", "card number"],
    ),
    (
        Field::Guardian,
        &[
            "родитель",
            "законный представитель",
            "фио родителя",
            "фио законного представителя",
            "parent",
            "guardian",
        ],
    ),
    (
        Field::GuardianPhone,
        &[
            "телефон родителя",
            "телефон законного представителя",
            "parent phone",
            "guardian phone",
        ],
    ),
    (
        Field::GuardianEmail,
        &[
            "email родителя",
            "email законного представителя",
            "эл почта родителя",
            "электронная почта родителя",
            "parent email",
            "guardian email",
        ],
    ),
];

/// The name a missing required column is asked for by.
fn expected_name(field: Field) -> &'static str {
    match field {
        Field::Id => "Идентификатор",
        Field::Surname => "Фамилия",
        Field::Name => "Имя",
        Field::Class => "Класс",
        _ => "",
    }
}

/// Lower case, «ё» as «е», hyphens dropped («E-mail» → «email»), any other character that
/// is not a letter or digit as a space, spaces collapsed.
pub(super) fn normalise_header(text: &str) -> String {
    let mapped: String = text
        .to_lowercase()
        .chars()
        .filter(|c| *c != '-')
        .map(|c| match c {
            'ё' => 'е',
            c if c.is_alphanumeric() => c,
            _ => ' ',
        })
        .collect();
    mapped.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn field_for_header(header: &str) -> Option<Field> {
    let key = normalise_header(header);
    HEADER_NAMES
        .iter()
        .find(|(_, names)| names.contains(&key.as_str()))
        .map(|(field, _)| *field)
}

/// Longest external id accepted, in characters (ids are short codes like `P000123`).
pub const EXTERNAL_ID_LEN_MAX_CHARS: usize = 64;
/// Birth dates before this year are typing errors, not pupils.
pub const BIRTH_YEAR_MIN: i32 = 1900;
pub const BIRTH_YEAR_MAX: i32 = 2100;

/// A guardian as one row gives them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct GuardianInput {
    pub name: FullName,
    pub phone: Option<String>,
    pub email: Option<String>,
}

/// A row whose every cell is valid on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ParsedRow {
    pub row: u32,
    pub external_id: String,
    pub name: FullName,
    pub class: ClassName,
    /// `None`: the file has no such column or the cell is empty (the stored date is kept).
    pub birth_date: Option<NaiveDate>,
    /// The card and the text it was written as.
    pub card: Option<(CardId, String)>,
    pub guardian: Option<GuardianInput>,
}

/// The file, read and checked cell by cell.
pub(super) struct Sheet {
    pub source: Option<SourceInfo>,
    pub columns: Vec<ColumnMatch>,
    pub unknown_columns: Vec<String>,
    pub file_errors: Vec<FileIssue>,
    /// Every data row: checked, or the problems found in its cells.
    pub rows: Vec<Result<ParsedRow, Vec<RowIssue>>>,
    /// The id cell of every data row (also of bad rows), for duplicates and "not in file".
    pub ids: Vec<(u32, String)>,
    /// Column names as the file writes them, for row issues found later.
    pub id_column: String,
    pub card_column: String,
    pub guardian_column: String,
}

impl Sheet {
    pub(super) fn unreadable(issue: FileIssue) -> Sheet {
        let mut sheet = Sheet::empty(None);
        sheet.file_errors.push(issue);
        sheet
    }

    fn empty(source: Option<SourceInfo>) -> Sheet {
        Sheet {
            source,
            columns: Vec::new(),
            unknown_columns: Vec::new(),
            file_errors: Vec::new(),
            rows: Vec::new(),
            ids: Vec::new(),
            id_column: String::new(),
            card_column: String::new(),
            guardian_column: String::new(),
        }
    }

    pub(super) fn from_table(
        source: SourceInfo,
        table: Table,
        progress: &dyn Fn(Progress),
    ) -> Sheet {
        let mut sheet = Sheet::empty(Some(source));
        // The header is the first row naming at least two known columns (a title or the
        // export date may stand above it); failing that, the first row.
        let header_at = table
            .rows
            .iter()
            .take(HEADER_SEARCH_ROWS_MAX)
            .position(|r| {
                r.cells
                    .iter()
                    .filter(|c| field_for_header(&c.text()).is_some())
                    .count()
                    >= 2
            })
            .unwrap_or(0);
        let Some(header_row) = table.rows.get(header_at) else {
            sheet
                .file_errors
                .push(FileIssue::new(Reason::NoHeader, "the file is empty"));
            return sheet;
        };
        if header_row.cells.len() > ROSTER_COLUMNS_MAX {
            sheet.file_errors.push(FileIssue::new(
                Reason::TooManyColumns,
                format!("the header has more than {ROSTER_COLUMNS_MAX} columns"),
            ));
            return sheet;
        }
        let header: Vec<String> = header_row
            .cells
            .iter()
            .map(|c| c.text().into_owned())
            .collect();
        let data_rows = &table.rows[header_at + 1..];
        if data_rows.len() > ROSTER_ROWS_MAX {
            sheet.file_errors.push(FileIssue::new(
                Reason::TooManyRows,
                format!(
                    "the file has {} rows; at most {ROSTER_ROWS_MAX} are read",
                    data_rows.len()
                ),
            ));
            return sheet;
        }

        let mut index: HashMap<Field, usize> = HashMap::new();
        for (i, column) in header.iter().enumerate() {
            let field = field_for_header(column);
            sheet.columns.push(ColumnMatch {
                column: column.clone(),
                field,
            });
            match field {
                None if column.trim().is_empty() => {}
                None => sheet.unknown_columns.push(column.clone()),
                Some(field) => {
                    if let Some(&first) = index.get(&field) {
                        sheet.file_errors.push(FileIssue {
                            code: Reason::DuplicateColumn,
                            column: Some(column.clone()),
                            message: format!(
                                "columns «{}» and «{column}» both hold the {field:?} field; keep one",
                                header[first]
                            ),
                        });
                    } else {
                        index.insert(field, i);
                    }
                }
            }
        }
        // «ФИО» stands in for surname and name only when they are not there on their own.
        let split_names = index.contains_key(&Field::Surname) || index.contains_key(&Field::Name);
        if split_names {
            if let Some(i) = index.remove(&Field::FullName) {
                sheet.columns[i].field = None;
                sheet.unknown_columns.push(header[i].clone());
            }
        }
        let mut required = vec![Field::Id, Field::Class];
        if !index.contains_key(&Field::FullName) {
            required.extend([Field::Surname, Field::Name]);
        }
        for field in required {
            if !index.contains_key(&field) {
                let name = expected_name(field);
                sheet.file_errors.push(FileIssue {
                    code: Reason::MissingColumn,
                    column: Some(name.to_owned()),
                    message: format!(
                        "the file has no «{name}» column ({field:?}); the header row must name it"
                    ),
                });
            }
        }
        if !sheet.file_errors.is_empty() {
            return sheet;
        }

        let columns = Columns { index, header };
        sheet.id_column = columns.name(Field::Id).to_owned();
        sheet.card_column = columns.name(Field::Card).to_owned();
        sheet.guardian_column = columns.name(Field::Guardian).to_owned();
        let ticker = Ticker::new("read", data_rows.len() as u64, progress);
        for (done, row) in data_rows.iter().enumerate() {
            sheet
                .ids
                .push((row.row, columns.text(&row.cells, Field::Id)));
            sheet.rows.push(columns.parse_row(row.row, &row.cells));
            ticker.tick(done as u64 + 1);
        }
        sheet
    }
}

struct Columns {
    index: HashMap<Field, usize>,
    header: Vec<String>,
}

impl Columns {
    fn name(&self, field: Field) -> &str {
        self.index
            .get(&field)
            .map_or("", |&i| self.header[i].as_str())
    }

    fn cell<'c>(&self, cells: &'c [Cell], field: Field) -> Option<&'c Cell> {
        self.index.get(&field).and_then(|&i| cells.get(i))
    }

    fn text(&self, cells: &[Cell], field: Field) -> String {
        self.cell(cells, field)
            .map(|c| c.text().into_owned())
            .unwrap_or_default()
    }

    fn parse_row(&self, row: u32, cells: &[Cell]) -> Result<ParsedRow, Vec<RowIssue>> {
        let mut issues = Vec::new();
        let mut issue = |field: Field, code: Reason, value: &str, message: String| {
            issues.push(RowIssue {
                row,
                column: self.name(field).to_owned(),
                code,
                value: value.to_owned(),
                message,
            });
        };
        // An Excel error value in any column that is read makes that cell unusable.
        for (&field, &i) in &self.index {
            if let Some(Cell::Error(e)) = cells.get(i) {
                issue(
                    field,
                    Reason::BadCell,
                    e,
                    format!("the cell holds the spreadsheet error {e}"),
                );
            }
        }
        let cell_ok = |field: Field| !matches!(self.cell(cells, field), Some(Cell::Error(_)));

        let external_id = self.text(cells, Field::Id);
        if cell_ok(Field::Id) {
            if let Err((code, message)) = check_external_id(&external_id) {
                issue(Field::Id, code, &external_id, message);
            }
        }

        let name = if self.index.contains_key(&Field::FullName) {
            let text = self.text(cells, Field::FullName);
            split_full_name(&text)
                .map_err(|(code, m)| issue(Field::FullName, code, &text, m))
                .ok()
        } else {
            let [surname, name, patronymic] =
                [Field::Surname, Field::Name, Field::Patronymic].map(|f| self.text(cells, f));
            FullName::new(&surname, &name, &patronymic)
                .map_err(|(part, m)| {
                    let (field, value) = match part {
                        "surname" => (Field::Surname, &surname),
                        "name" => (Field::Name, &name),
                        _ => (Field::Patronymic, &patronymic),
                    };
                    issue(field, name_reason(&m), value, format!("{part} {m}"));
                })
                .ok()
        };

        let class_text = self.text(cells, Field::Class);
        let class = match class_text.parse::<ClassName>() {
            Ok(class) => Some(class),
            Err(m) => {
                if cell_ok(Field::Class) {
                    let m = if class_text.is_empty() {
                        "the class is empty".to_owned()
                    } else {
                        m
                    };
                    issue(Field::Class, Reason::BadClass, &class_text, m);
                }
                None
            }
        };

        let birth_date = match self.cell(cells, Field::BirthDate) {
            None | Some(Cell::Error(_)) => None,
            Some(cell) if cell.is_blank() => None,
            Some(cell) => match birth_date_of(cell) {
                Ok(date) => Some(date),
                Err(m) => {
                    issue(Field::BirthDate, Reason::BadDate, &cell.text(), m);
                    None
                }
            },
        };

        let card_text = self.text(cells, Field::Card);
        let card = if card_text.is_empty() || !cell_ok(Field::Card) {
            None
        } else {
            match card_text.parse::<CardId>() {
                Ok(card) => Some((card, card_text.clone())),
                Err(e) => {
                    issue(Field::Card, Reason::BadCard, &card_text, format!("{e}"));
                    None
                }
            }
        };

        let guardian_text = self.text(cells, Field::Guardian);
        let phone = Some(self.text(cells, Field::GuardianPhone)).filter(|s| !s.is_empty());
        let email = Some(self.text(cells, Field::GuardianEmail)).filter(|s| !s.is_empty());
        let mut guardian = None;
        if guardian_text.is_empty() {
            if let Some(field) = [
                (Field::GuardianPhone, &phone),
                (Field::GuardianEmail, &email),
            ]
            .into_iter()
            .find_map(|(f, v)| v.as_ref().map(|_| f))
            {
                let value = self.text(cells, field);
                issue(
                    field,
                    Reason::BadGuardian,
                    &value,
                    "a guardian's contact without the guardian's name".into(),
                );
            }
        } else if cell_ok(Field::Guardian) {
            let name = split_full_name(&guardian_text)
                .map_err(|(_, m)| issue(Field::Guardian, Reason::BadGuardian, &guardian_text, m))
                .ok();
            let input = DetailsInput {
                phone: phone.clone(),
                email: email.clone(),
                ..Default::default()
            };
            let contacts = match check_details(input) {
                Ok(details) => Some((details.phone, details.email)),
                Err(CoreError::Invalid { field, message, .. }) => {
                    let (field, code, value) = if field == "email" {
                        (
                            Field::GuardianEmail,
                            Reason::BadEmail,
                            email.clone().unwrap_or_default(),
                        )
                    } else {
                        (
                            Field::GuardianPhone,
                            Reason::BadPhone,
                            phone.clone().unwrap_or_default(),
                        )
                    };
                    issue(field, code, &value, message);
                    None
                }
                Err(other) => {
                    issue(
                        Field::GuardianPhone,
                        Reason::BadPhone,
                        "",
                        other.to_string(),
                    );
                    None
                }
            };
            if let (Some(name), Some((phone, email))) = (name, contacts) {
                guardian = Some(GuardianInput { name, phone, email });
            }
        }

        match (issues.is_empty(), name, class) {
            (true, Some(name), Some(class)) => Ok(ParsedRow {
                row,
                external_id,
                name,
                class,
                birth_date,
                card,
                guardian,
            }),
            _ => {
                issues.sort_by_key(|i| self.header.iter().position(|h| *h == i.column));
                Err(issues)
            }
        }
    }
}

fn name_reason(message: &str) -> Reason {
    if message.contains("empty") {
        Reason::EmptyName
    } else {
        Reason::BadName
    }
}

fn check_external_id(id: &str) -> Result<(), (Reason, String)> {
    if id.is_empty() {
        return Err((Reason::EmptyId, "the pupil id is empty".into()));
    }
    if id.chars().count() > EXTERNAL_ID_LEN_MAX_CHARS {
        return Err((
            Reason::BadId,
            format!("the pupil id is longer than {EXTERNAL_ID_LEN_MAX_CHARS} characters"),
        ));
    }
    if let Some(bad) = id
        .chars()
        .find(|c| !(c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '/')))
    {
        return Err((
            Reason::BadId,
            format!("the pupil id contains {bad:?}; use letters, digits and - _ . /"),
        ));
    }
    Ok(())
}

/// «Фамилия Имя Отчество» (the patronymic may be several words, or absent).
fn split_full_name(text: &str) -> Result<FullName, (Reason, String)> {
    let words: Vec<&str> = text.split_whitespace().collect();
    match words.as_slice() {
        [] => Err((Reason::EmptyName, "the full name is empty".into())),
        [_] => Err((
            Reason::BadName,
            "write the full name: surname, name and patronymic".into(),
        )),
        [surname, name, rest @ ..] => FullName::new(surname, name, &rest.join(" "))
            .map_err(|(part, m)| (name_reason(&m), format!("{part} {m}"))),
    }
}

fn birth_date_of(cell: &Cell) -> Result<NaiveDate, String> {
    let date = match cell {
        Cell::Date(d) => Some(*d),
        Cell::Number(serial) => excel_serial_date(*serial),
        // ISO date-times from spreadsheets (`2014-03-25T00:00:00`) are read by their date.
        Cell::Text(t) => parse_date(t.trim().split('T').next().unwrap_or("")),
        Cell::Error(_) => None,
    };
    let date = date.ok_or_else(|| {
        format!(
            "{:?} is not a date; write 25.03.2014 or 2014-03-25",
            cell.text()
        )
    })?;
    if !(BIRTH_YEAR_MIN..=BIRTH_YEAR_MAX).contains(&date.year()) {
        return Err(format!("{date} is not a plausible birth date"));
    }
    Ok(date)
}

/// An Excel serial day number (1900 date system) as a date: a date cell whose format was
/// lost on the way still holds its serial.
fn excel_serial_date(serial: f64) -> Option<NaiveDate> {
    if !(1.0..2_958_466.0).contains(&serial) {
        return None;
    }
    let epoch = NaiveDate::from_ymd_opt(1899, 12, 30)?;
    // Excel counts 29 Feb 1900, which never was; serials before it are one day off.
    let days = if serial < 61.0 {
        serial as i64 + 1
    } else {
        serial as i64
    };
    epoch.checked_add_signed(chrono::Duration::days(days))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_match_in_both_languages_and_any_case() {
        for (header, field) in [
            ("Идентификатор", Some(Field::Id)),
            (" ЛИЧНЫЙ  НОМЕР ", Some(Field::Id)),
            ("ID", Some(Field::Id)),
            ("Номер", Some(Field::Id)),
            ("Номер карты", Some(Field::Card)),
            ("фамилия", Some(Field::Surname)),
            ("Отчество:", Some(Field::Patronymic)),
            ("Дата рождения", Some(Field::BirthDate)),
            ("Date of birth", Some(Field::BirthDate)),
            ("Законный представитель", Some(Field::Guardian)),
            ("E-mail родителя", Some(Field::GuardianEmail)),
            ("e-mail Родителя", Some(Field::GuardianEmail)),
            ("Телефон родителя", Some(Field::GuardianPhone)),
            ("Класс", Some(Field::Class)),
            ("Ёмкость", None),
            ("№", None),
        ] {
            assert_eq!(field_for_header(header), field, "{header:?}");
        }
        assert_eq!(normalise_header("Фамилия Ребёнка"), "фамилия ребенка");
    }

    #[test]
    fn excel_serials_are_dates() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day);
        assert_eq!(excel_serial_date(41723.0), d(2014, 3, 25));
        assert_eq!(excel_serial_date(1.0), d(1900, 1, 1));
        assert_eq!(excel_serial_date(61.0), d(1900, 3, 1));
        assert_eq!(excel_serial_date(0.0), None);
        assert_eq!(
            birth_date_of(&Cell::Text("25.03.2014".into())),
            Ok(d(2014, 3, 25).unwrap())
        );
        assert_eq!(
            birth_date_of(&Cell::Text("2014-03-25T00:00:00".into())),
            Ok(d(2014, 3, 25).unwrap())
        );
        assert!(birth_date_of(&Cell::Text("25.03.1814".into())).is_err());
        assert!(birth_date_of(&Cell::Text("вчера".into())).is_err());
    }

    #[test]
    fn full_names_split_into_parts() {
        let n = split_full_name("  Соколова  Анна Петровна ").unwrap();
        assert_eq!(
            (n.surname.as_str(), n.name.as_str(), n.patronymic.as_str()),
            ("Соколова", "Анна", "Петровна")
        );
        assert_eq!(
            split_full_name("Мамедов Рашид Ильхам оглы")
                .unwrap()
                .patronymic,
            "Ильхам оглы"
        );
        assert_eq!(split_full_name("Соколова").unwrap_err().0, Reason::BadName);
        assert_eq!(split_full_name("").unwrap_err().0, Reason::EmptyName);
    }
}
