//! The library desk (Библиотека): the catalogue of titles and their copies, and the loan
//! rules. Pure functions over plain data, today's date passed in; nothing here reads the
//! clock, the store or the devices.
//!
//! - [`BookTitle`] — a title with its authors, a checked and normalised [`Isbn`], and its
//!   age mark (возрастная маркировка, 436-ФЗ: 0+, 6+, 12+, 16+, 18+);
//! - [`BookCopy`] — one copy on the shelf under its inventory barcode, with its
//!   [`ItemType`]; its [`CopyState`] lives in the projection;
//! - the loan rules: [`issue_due`] (who may take which copy, and until when), [`renew_due`]
//!   (at most [`RENEWALS_MAX`] renewals) and [`days_overdue`], refusing with a stable
//!   [`LoanRefusal`] code;
//! - [`import`]: the catalogue from a MARC file ([`marc`]) or a table, previewed and
//!   committed like the roster (this one reads files: the shell hands it a path).

pub mod import;
pub mod marc;
pub mod stocktake;
#[cfg(test)]
mod tests;

pub use stocktake::StocktakeId;

use chrono::{Datelike, Duration, NaiveDate};
use serde::{Deserialize, Serialize};

crate::domain::uuid_id!(
    /// A title in the catalogue (one book, however many copies).
    TitleId
);
crate::domain::uuid_id!(
    /// One loan of one copy to one reader, open until the copy comes back.
    LoanId
);

/// Days a pupil keeps fiction or other lendable books; a renewal adds the same from today.
pub const PUPIL_LOAN_DAYS: i64 = 14;
/// Days a staff member keeps a book that is not a textbook.
pub const STAFF_LOAN_DAYS: i64 = 30;
/// Renewals of one loan: after two the book comes back to the desk to be seen.
pub const RENEWALS_MAX: u32 = 2;
/// Textbooks are due on this day and month (31 May), the end of the school year.
const TEXTBOOK_DUE_MONTH: u32 = 5;
const TEXTBOOK_DUE_DAY: u32 = 31;
/// Books other than textbooks a pupil holds at once: a reader with more is asked to
/// bring one back first. Textbooks are not counted (a class set is a dozen).
pub const PUPIL_BOOKS_MAX: u32 = 5;
/// Books other than textbooks a staff member holds at once.
pub const STAFF_BOOKS_MAX: u32 = 10;
/// Without a birth date a pupil's age is taken as their grade plus this (first grade at 7).
pub const AGE_OVER_GRADE_YEARS: u32 = 6;

/// An ISBN, checked by its check digit and kept as the 13 digits of ISBN-13 (an ISBN-10
/// is converted under the 978 prefix), so one book is found however it was typed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Isbn(String);

impl Isbn {
    /// Reads an ISBN-10 or ISBN-13 with or without hyphens and spaces (`978-5-17-…`,
    /// `5-17-012345-X`).
    pub fn parse(typed: &str) -> Result<Isbn, String> {
        let chars: Vec<char> = typed
            .chars()
            .filter(|c| !matches!(c, '-' | ' ' | '\u{2010}'..='\u{2013}'))
            .collect();
        let text: String = chars.iter().collect();
        let text = text
            .strip_prefix("ISBN")
            .or_else(|| text.strip_prefix("isbn"))
            .map(|t| t.trim_start_matches(':').to_owned())
            .unwrap_or(text);
        match text.len() {
            10 => {
                let digits: Vec<u32> = text
                    .chars()
                    .enumerate()
                    .map(|(i, c)| match c {
                        'X' | 'x' if i == 9 => Some(10),
                        c => c.to_digit(10),
                    })
                    .collect::<Option<_>>()
                    .ok_or("an ISBN-10 is nine digits and a digit or X")?;
                let sum: u32 = digits
                    .iter()
                    .enumerate()
                    .map(|(i, d)| d * (10 - i as u32))
                    .sum();
                if !sum.is_multiple_of(11) {
                    return Err("the ISBN-10 check digit does not match".into());
                }
                let body: String = format!("978{}", &text[..9]);
                let check = isbn13_check(&body);
                Ok(Isbn(format!("{body}{check}")))
            }
            13 => {
                if !text.chars().all(|c| c.is_ascii_digit()) {
                    return Err("an ISBN-13 is thirteen digits".into());
                }
                if !(text.starts_with("978") || text.starts_with("979")) {
                    return Err("an ISBN-13 begins with 978 or 979".into());
                }
                if isbn13_check(&text[..12]) != text[12..].parse::<u32>().expect("a digit") {
                    return Err("the ISBN-13 check digit does not match".into());
                }
                Ok(Isbn(text))
            }
            _ => Err("an ISBN has 10 or 13 digits".into()),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The check digit of twelve ISBN-13 digits (weights 1, 3, 1, 3, …).
fn isbn13_check(twelve: &str) -> u32 {
    let sum: u32 = twelve
        .chars()
        .enumerate()
        .map(|(i, c)| c.to_digit(10).expect("digits") * if i % 2 == 0 { 1 } else { 3 })
        .sum();
    (10 - sum % 10) % 10
}

impl TryFrom<String> for Isbn {
    type Error = String;
    fn try_from(s: String) -> Result<Isbn, String> {
        Isbn::parse(&s)
    }
}

impl From<Isbn> for String {
    fn from(i: Isbn) -> String {
        i.0
    }
}

/// The age mark printed on a book (436-ФЗ «О защите детей от информации…»).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum AgeMark {
    #[serde(rename = "0+")]
    Zero,
    #[serde(rename = "6+")]
    Six,
    #[serde(rename = "12+")]
    Twelve,
    #[serde(rename = "16+")]
    Sixteen,
    #[serde(rename = "18+")]
    Eighteen,
}

impl AgeMark {
    /// The youngest age the mark allows, in years.
    pub fn min_age_years(self) -> u32 {
        match self {
            AgeMark::Zero => 0,
            AgeMark::Six => 6,
            AgeMark::Twelve => 12,
            AgeMark::Sixteen => 16,
            AgeMark::Eighteen => 18,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AgeMark::Zero => "0+",
            AgeMark::Six => "6+",
            AgeMark::Twelve => "12+",
            AgeMark::Sixteen => "16+",
            AgeMark::Eighteen => "18+",
        }
    }

    pub fn parse(s: &str) -> Option<AgeMark> {
        [
            AgeMark::Zero,
            AgeMark::Six,
            AgeMark::Twelve,
            AgeMark::Sixteen,
            AgeMark::Eighteen,
        ]
        .into_iter()
        .find(|m| m.as_str() == s)
    }
}

/// What kind of book a copy is: it sets the loan period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemType {
    /// Учебник: kept until the end of the school year.
    Textbook,
    /// Художественная литература.
    Fiction,
    /// Справочная литература: read in the library, never lent.
    Reference,
    Other,
}

impl ItemType {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemType::Textbook => "textbook",
            ItemType::Fiction => "fiction",
            ItemType::Reference => "reference",
            ItemType::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<ItemType> {
        [
            ItemType::Textbook,
            ItemType::Fiction,
            ItemType::Reference,
            ItemType::Other,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
    }
}

/// Where a copy is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CopyState {
    OnShelf,
    OnLoan,
    Lost,
    /// Списан: taken off the inventory (worn out, outdated).
    WrittenOff,
}

impl CopyState {
    pub fn as_str(self) -> &'static str {
        match self {
            CopyState::OnShelf => "on_shelf",
            CopyState::OnLoan => "on_loan",
            CopyState::Lost => "lost",
            CopyState::WrittenOff => "written_off",
        }
    }

    pub fn parse(s: &str) -> Option<CopyState> {
        [
            CopyState::OnShelf,
            CopyState::OnLoan,
            CopyState::Lost,
            CopyState::WrittenOff,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
    }
}

/// A title of the catalogue, saved as a whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookTitle {
    pub title_id: TitleId,
    pub title: String,
    #[serde(default)]
    pub authors: Vec<String>,
    #[serde(default)]
    pub isbn: Option<Isbn>,
    #[serde(default)]
    pub publisher: String,
    #[serde(default)]
    pub year: Option<u16>,
    #[serde(default)]
    pub subject: String,
    pub age_mark: AgeMark,
}

/// One copy of a title under its inventory barcode (инвентарный номер), unique in the
/// school.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookCopy {
    pub barcode: String,
    pub title_id: TitleId,
    #[serde(default)]
    pub location: String,
    pub item_type: ItemType,
}

/// Who borrows: the category sets the loan period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReaderCategory {
    Pupil,
    Staff,
}

/// A reader as the loan rules see them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reader {
    pub category: ReaderCategory,
    /// The person is active and, when they came by card, the card is active.
    pub active: bool,
    pub birth_date: Option<NaiveDate>,
    /// A pupil's grade (1–11), for the age when the birth date is not known.
    pub grade: Option<u8>,
    /// Books other than textbooks the reader holds now (the basket being lent included,
    /// copy by copy).
    pub books_held: u32,
    /// Loans of the reader past their due date.
    pub overdue: u32,
}

impl Reader {
    /// Books other than textbooks this reader may hold at once.
    pub fn books_max(&self) -> u32 {
        match self.category {
            ReaderCategory::Pupil => PUPIL_BOOKS_MAX,
            ReaderCategory::Staff => STAFF_BOOKS_MAX,
        }
    }

    /// Full years on `today`: from the birth date, else the grade plus
    /// [`AGE_OVER_GRADE_YEARS`]; `None` for staff or a pupil with neither.
    pub fn age_years(&self, today: NaiveDate) -> Option<u32> {
        if self.category == ReaderCategory::Staff {
            return None;
        }
        match (self.birth_date, self.grade) {
            (Some(born), _) => Some(today.years_since(born).unwrap_or(0)),
            (None, Some(grade)) => Some(u32::from(grade) + AGE_OVER_GRADE_YEARS),
            (None, None) => None,
        }
    }
}

/// Why a copy cannot be lent or a loan renewed. The codes are stable (`refusal.<code>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoanRefusal {
    /// No copy under that barcode.
    CopyNotFound,
    /// The copy is on loan, lost or written off.
    CopyNotOnShelf,
    /// Reference books are read in the library.
    NotLendable,
    /// The loan was renewed [`RENEWALS_MAX`] times already.
    RenewLimit,
    /// The pupil is younger than the book's age mark.
    AgeMark,
    /// The reader (or the card they came with) is not active.
    ReaderBlocked,
    /// The reader holds [`Reader::books_max`] books already (textbooks aside).
    BooksLimit,
    /// The reader has a book past its due date: it comes back before another is lent
    /// (textbooks are still handed out).
    HasOverdue,
}

impl LoanRefusal {
    pub fn as_str(self) -> &'static str {
        match self {
            LoanRefusal::CopyNotFound => "copy_not_found",
            LoanRefusal::CopyNotOnShelf => "copy_not_on_shelf",
            LoanRefusal::NotLendable => "not_lendable",
            LoanRefusal::RenewLimit => "renew_limit",
            LoanRefusal::AgeMark => "age_mark",
            LoanRefusal::ReaderBlocked => "reader_blocked",
            LoanRefusal::BooksLimit => "books_limit",
            LoanRefusal::HasOverdue => "has_overdue",
        }
    }
}

/// The end of the school year `today` belongs to for a textbook: 31 May, or the next
/// 31 May when the summer has begun.
pub fn school_year_end(today: NaiveDate) -> NaiveDate {
    let this_year = NaiveDate::from_ymd_opt(today.year(), TEXTBOOK_DUE_MONTH, TEXTBOOK_DUE_DAY)
        .expect("31 May exists");
    if today <= this_year {
        this_year
    } else {
        NaiveDate::from_ymd_opt(today.year() + 1, TEXTBOOK_DUE_MONTH, TEXTBOOK_DUE_DAY)
            .expect("31 May exists")
    }
}

/// The due date of a loan made (or renewed) `today`, or why the item is not lent.
pub fn loan_due(
    category: ReaderCategory,
    item: ItemType,
    today: NaiveDate,
) -> Result<NaiveDate, LoanRefusal> {
    match (category, item) {
        (_, ItemType::Reference) => Err(LoanRefusal::NotLendable),
        (_, ItemType::Textbook) => Ok(school_year_end(today)),
        (ReaderCategory::Pupil, ItemType::Fiction | ItemType::Other) => {
            Ok(today + Duration::days(PUPIL_LOAN_DAYS))
        }
        (ReaderCategory::Staff, ItemType::Fiction | ItemType::Other) => {
            Ok(today + Duration::days(STAFF_LOAN_DAYS))
        }
    }
}

/// May `reader` take a copy in `state` of `item` marked `mark` today? The due date if so.
/// Checked in this order: the reader, the copy's state, lendability, the age mark, and —
/// for books other than textbooks, which a class is handed whatever else it owes — an
/// overdue book and the number of books held.
pub fn issue_due(
    reader: &Reader,
    state: CopyState,
    item: ItemType,
    mark: AgeMark,
    today: NaiveDate,
) -> Result<NaiveDate, LoanRefusal> {
    if !reader.active {
        return Err(LoanRefusal::ReaderBlocked);
    }
    if state != CopyState::OnShelf {
        return Err(LoanRefusal::CopyNotOnShelf);
    }
    let due = loan_due(reader.category, item, today)?;
    if let Some(age) = reader.age_years(today) {
        if age < mark.min_age_years() {
            return Err(LoanRefusal::AgeMark);
        }
    }
    if item != ItemType::Textbook {
        if reader.overdue > 0 {
            return Err(LoanRefusal::HasOverdue);
        }
        if reader.books_held >= reader.books_max() {
            return Err(LoanRefusal::BooksLimit);
        }
    }
    Ok(due)
}

/// The new due date of a loan renewed today (the original period again, from today), or
/// why not: the reader is blocked, or the loan was renewed [`RENEWALS_MAX`] times.
pub fn renew_due(
    reader: &Reader,
    item: ItemType,
    renewals: u32,
    today: NaiveDate,
) -> Result<NaiveDate, LoanRefusal> {
    if !reader.active {
        return Err(LoanRefusal::ReaderBlocked);
    }
    if renewals >= RENEWALS_MAX {
        return Err(LoanRefusal::RenewLimit);
    }
    loan_due(reader.category, item, today)
}

/// Days past the due date on `today` (school time zone); 0 when not overdue.
pub fn days_overdue(due: NaiveDate, today: NaiveDate) -> i64 {
    (today - due).num_days().max(0)
}
