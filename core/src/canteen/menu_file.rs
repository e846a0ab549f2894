//! A day's menu from a spreadsheet or CSV (the supplier's file): one row per product with
//! its name and the day's price, optionally its category and allergens. The file is read
//! as the roster is (`crate::roster::read`); this turns its table into menu rows, every
//! bad cell listed, nothing taken from a file with any.

use super::Allergen;
use crate::money::Kopecks;
use crate::roster::read::{Cell, Table};
use serde::Serialize;

/// The header is looked for in the first rows: a title or a date may stand above it.
pub const MENU_HEADER_SEARCH_ROWS_MAX: usize = 10;
/// Rows in one menu file: a buffet sells dozens of products, not thousands.
pub const MENU_ROWS_MAX: usize = 500;
/// Issues listed: past this many, the file needs fixing as a whole anyway.
pub const MENU_ISSUES_LISTED_MAX: usize = 200;

/// The columns a menu file may have, by the names people give them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MenuColumn {
    Name,
    Price,
    Category,
    Allergens,
}

const ALIASES: &[(MenuColumn, &[&str])] = &[
    (
        MenuColumn::Name,
        &[
            "наименование",
            "название",
            "блюдо",
            "товар",
            "продукт",
            "name",
            "product",
        ],
    ),
    (
        MenuColumn::Price,
        &["цена", "цена, руб.", "цена, ₽", "стоимость", "price"],
    ),
    (MenuColumn::Category, &["категория", "раздел", "category"]),
    (MenuColumn::Allergens, &["аллергены", "allergens"]),
];

/// One product of the day as the file gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MenuRow {
    /// As Excel numbers it.
    pub row: u32,
    pub name: String,
    pub price: Kopecks,
    pub category: Option<String>,
    pub allergens: Vec<Allergen>,
}

/// What is wrong with the file or one of its cells (`code`, stable snake_case).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MenuIssue {
    /// 0 for the file as a whole.
    pub row: u32,
    pub column: Option<MenuColumn>,
    /// `no_header`, `too_many_rows`, `empty_name`, `bad_price`, `bad_allergen`,
    /// `duplicate_name`, `needs_category` (a product not yet known, without a category).
    pub code: &'static str,
    pub value: String,
}

/// The menu rows of `table`, or every issue found (at most [`MENU_ISSUES_LISTED_MAX`]).
pub(crate) fn read_menu(table: &Table) -> Result<Vec<MenuRow>, Vec<MenuIssue>> {
    let whole = |code: &'static str| {
        Err(vec![MenuIssue {
            row: 0,
            column: None,
            code,
            value: String::new(),
        }])
    };
    let Some((header_at, columns)) = table
        .rows
        .iter()
        .take(MENU_HEADER_SEARCH_ROWS_MAX)
        .enumerate()
        .map(|(i, row)| (i, header_columns(&row.cells)))
        .find(|(_, cols)| {
            cols.contains(&Some(MenuColumn::Name)) && cols.contains(&Some(MenuColumn::Price))
        })
    else {
        return whole("no_header");
    };
    let body = &table.rows[header_at + 1..];
    if body.len() > MENU_ROWS_MAX {
        return whole("too_many_rows");
    }
    let cell = |cells: &[Cell], column: MenuColumn| -> String {
        columns
            .iter()
            .position(|c| *c == Some(column))
            .and_then(|i| cells.get(i))
            .map(|c| c.text().into_owned())
            .unwrap_or_default()
    };
    let mut rows = Vec::new();
    let mut issues = Vec::new();
    for row in body {
        let mut issue = |column, code, value: &str| {
            issues.push(MenuIssue {
                row: row.row,
                column: Some(column),
                code,
                value: value.to_owned(),
            })
        };
        let name = cell(&row.cells, MenuColumn::Name)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let price_text = cell(&row.cells, MenuColumn::Price);
        if name.is_empty() {
            issue(MenuColumn::Name, "empty_name", &name);
            continue;
        }
        let Some(price) = parse_price(&price_text) else {
            issue(MenuColumn::Price, "bad_price", &price_text);
            continue;
        };
        if rows
            .iter()
            .any(|r: &MenuRow| r.name.to_lowercase() == name.to_lowercase())
        {
            issue(MenuColumn::Name, "duplicate_name", &name);
            continue;
        }
        let mut allergens = Vec::new();
        let allergen_text = cell(&row.cells, MenuColumn::Allergens);
        for tag in allergen_text
            .split([',', ';'])
            .filter(|t| !t.trim().is_empty())
        {
            match Allergen::new(tag) {
                Ok(a) if !allergens.contains(&a) => allergens.push(a),
                Ok(_) => {}
                Err(_) => issue(MenuColumn::Allergens, "bad_allergen", tag),
            }
        }
        let category = cell(&row.cells, MenuColumn::Category);
        rows.push(MenuRow {
            row: row.row,
            name,
            price,
            category: (!category.is_empty()).then_some(category),
            allergens,
        });
    }
    if issues.is_empty() {
        Ok(rows)
    } else {
        issues.truncate(MENU_ISSUES_LISTED_MAX);
        Err(issues)
    }
}

fn header_columns(cells: &[Cell]) -> Vec<Option<MenuColumn>> {
    cells
        .iter()
        .map(|c| {
            let text = c.text().trim().to_lowercase();
            ALIASES
                .iter()
                .find(|(_, names)| names.contains(&text.as_str()))
                .map(|(column, _)| *column)
        })
        .collect()
}

/// Longest price: 100 000 ₽ with kopecks is 9 characters; a longer one is no price.
const PRICE_LEN_MAX_CHARS: usize = 12;

/// `35`, `35,5`, `35.50`, `1 200,00`, `35 ₽`, `35 руб.` → kopecks; decimal text, never a
/// float: at most two digits after the separator, not negative.
pub fn parse_price(text: &str) -> Option<Kopecks> {
    let cleaned: String = text
        .trim()
        .trim_end_matches("руб.")
        .trim_end_matches("руб")
        .trim_end_matches('₽')
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    if cleaned.is_empty() || cleaned.chars().count() > PRICE_LEN_MAX_CHARS {
        return None;
    }
    let (rubles, kopecks) = match cleaned.split_once([',', '.']) {
        Some((r, k)) => (r, k),
        None => (cleaned.as_str(), ""),
    };
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    if !digits(rubles) || (!kopecks.is_empty() && (!digits(kopecks) || kopecks.len() > 2)) {
        return None;
    }
    let rubles: i64 = rubles.parse().ok()?;
    let kopecks: i64 = match kopecks.len() {
        0 => 0,
        1 => kopecks.parse::<i64>().ok()? * 10,
        _ => kopecks.parse().ok()?,
    };
    Some(Kopecks(rubles * 100 + kopecks))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roster::read::TableRow;

    fn table(rows: &[&[&str]]) -> Table {
        Table {
            rows: rows
                .iter()
                .enumerate()
                .map(|(i, cells)| TableRow {
                    row: i as u32 + 1,
                    cells: cells.iter().map(|c| Cell::Text((*c).to_owned())).collect(),
                })
                .collect(),
        }
    }

    #[test]
    fn prices_read_as_people_write_them() {
        for (text, kopecks) in [
            ("35", Some(3_500)),
            ("35,5", Some(3_550)),
            ("35.50", Some(3_550)),
            ("1 200,00", Some(120_000)),
            ("45 ₽", Some(4_500)),
            ("45 руб.", Some(4_500)),
            ("0,05", Some(5)),
            ("35,555", None),
            ("-5", None),
            ("", None),
            ("сорок", None),
            ("1e3", None),
        ] {
            assert_eq!(parse_price(text), kopecks.map(Kopecks), "{text:?}");
        }
    }

    #[test]
    fn a_menu_file_with_a_title_above_the_header() {
        let t = table(&[
            &["Меню на 05.10.2026", ""],
            &["Наименование", "Цена", "Категория", "Аллергены"],
            &["Булочка с маком", "35,00", "выпечка", "gluten, Кунжут"],
            &["Сок", "45", "", ""],
        ]);
        let rows = read_menu(&t).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].row, 3);
        assert_eq!(rows[0].price, Kopecks(3_500));
        assert_eq!(
            rows[0]
                .allergens
                .iter()
                .map(|a| a.as_str())
                .collect::<Vec<_>>(),
            ["gluten", "кунжут"]
        );
        assert_eq!(rows[1].category, None);
    }

    #[test]
    fn every_bad_row_is_listed() {
        let t = table(&[
            &["name", "price"],
            &["", "10"],
            &["Чай", "дорого"],
            &["Чай", "10"],
            &["чай", "12"],
        ]);
        let issues: Vec<(u32, &str)> = read_menu(&t)
            .unwrap_err()
            .iter()
            .map(|i| (i.row, i.code))
            .collect();
        assert_eq!(
            issues,
            [(2, "empty_name"), (3, "bad_price"), (5, "duplicate_name")]
        );
        let no_header = table(&[&["Товар", "Количество"], &["Чай", "1"]]);
        assert_eq!(read_menu(&no_header).unwrap_err()[0].code, "no_header");
    }
}
