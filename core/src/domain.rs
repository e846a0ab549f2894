//! Domain vocabulary: people, classes, cards, roles. Constructors check their inputs, so a
//! value of these types is valid wherever it is met.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, ::serde::Serialize, ::serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub ::uuid::Uuid);

        impl $name {
            /// A fresh, time-ordered id (UUID v7).
            pub fn new_v7() -> Self {
                Self(::uuid::Uuid::now_v7())
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = ::uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                ::uuid::Uuid::parse_str(s).map(Self)
            }
        }
    };
}

/// For other modules' ids (`crate::canteen`).
pub(crate) use uuid_id;

uuid_id!(
    /// A pupil, a staff member or a legal representative.
    PersonId
);
uuid_id!(
    /// A class (1А … 11Б).
    ClassId
);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PersonKind {
    Pupil,
    Staff,
    /// A legal representative (parent or guardian) of one or more pupils.
    Guardian,
    /// Someone let in on a temporary pass (a visitor card, returned at the exit).
    Visitor,
}

impl PersonKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PersonKind::Pupil => "pupil",
            PersonKind::Staff => "staff",
            PersonKind::Guardian => "guardian",
            PersonKind::Visitor => "visitor",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pupil" => PersonKind::Pupil,
            "staff" => PersonKind::Staff,
            "guardian" => PersonKind::Guardian,
            "visitor" => PersonKind::Visitor,
            _ => return None,
        })
    }
}

/// Whether a person is currently part of the school.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PersonStatus {
    Active,
    /// Temporarily barred (e.g. a staff member on leave); cards do not open doors.
    Suspended,
    /// Left the school (graduated, moved, dismissed). Kept for history, never deleted.
    Left,
}

impl PersonStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PersonStatus::Active => "active",
            PersonStatus::Suspended => "suspended",
            PersonStatus::Left => "left",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "active" => PersonStatus::Active,
            "suspended" => PersonStatus::Suspended,
            "left" => PersonStatus::Left,
            _ => return None,
        })
    }
}

/// The life cycle of a physical card. A card is bound to at most one person at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardState {
    Active,
    /// Reported lost by its holder; a presented lost card is refused and flagged.
    Lost,
    /// Blocked by the school (e.g. misuse).
    Blocked,
    /// Handed back to the school; free to be bound again.
    Returned,
}

impl CardState {
    pub fn as_str(self) -> &'static str {
        match self {
            CardState::Active => "active",
            CardState::Lost => "lost",
            CardState::Blocked => "blocked",
            CardState::Returned => "returned",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "active" => CardState::Active,
            "lost" => CardState::Lost,
            "blocked" => CardState::Blocked,
            "returned" => CardState::Returned,
            _ => return None,
        })
    }
}

/// What a staff member may do at a workstation. One person may hold several roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Охранник: the entrance post.
    Guard,
    /// Кассир столовой: the canteen till.
    Cashier,
    /// Библиотекарь: the library desk.
    Librarian,
    /// Директор: reads everything, changes little.
    Director,
    /// Администратор: school settings, roster, staff, cards.
    Admin,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Guard,
        Role::Cashier,
        Role::Librarian,
        Role::Director,
        Role::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Guard => "guard",
            Role::Cashier => "cashier",
            Role::Librarian => "librarian",
            Role::Director => "director",
            Role::Admin => "admin",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// A class name such as «5А»: grade 1–11 and a Cyrillic letter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ClassName {
    pub grade: u8,
    pub letter: String,
}

pub const GRADE_MIN: u8 = 1;
pub const GRADE_MAX: u8 = 11;

impl ClassName {
    pub fn new(grade: u8, letter: &str) -> Result<Self, String> {
        if !(GRADE_MIN..=GRADE_MAX).contains(&grade) {
            return Err(format!(
                "grade must be {GRADE_MIN}–{GRADE_MAX}, not {grade}"
            ));
        }
        let letter = letter.trim().to_uppercase();
        let mut chars = letter.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) if is_cyrillic_upper(c) => Ok(ClassName { grade, letter }),
            _ => Err(format!(
                "class letter must be one Cyrillic letter, not {letter:?}"
            )),
        }
    }
}

fn is_cyrillic_upper(c: char) -> bool {
    ('А'..='Я').contains(&c) || c == 'Ё'
}

impl FromStr for ClassName {
    type Err = String;
    /// Accepts «5А», «5 а», «5-А», «11Б» (also a Latin look-alike such as "5A", which is
    /// mapped to its Cyrillic twin, because spreadsheets are typed on both layouts).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t: String = s
            .trim()
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect();
        let digits: String = t.chars().take_while(|c| c.is_ascii_digit()).collect();
        let rest: String = t.chars().skip(digits.len()).collect();
        let grade: u8 = digits
            .parse()
            .map_err(|_| format!("class {s:?} does not start with a grade"))?;
        let letter: String = rest.chars().map(latin_twin_to_cyrillic).collect();
        ClassName::new(grade, &letter)
    }
}

fn latin_twin_to_cyrillic(c: char) -> char {
    match c.to_ascii_uppercase() {
        'A' => 'А',
        'B' => 'В',
        'E' => 'Е',
        'K' => 'К',
        'M' => 'М',
        'H' => 'Н',
        'O' => 'О',
        'P' => 'Р',
        'C' => 'С',
        'T' => 'Т',
        'X' => 'Х',
        _ => c,
    }
}

impl fmt::Display for ClassName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.grade, self.letter)
    }
}

/// A person's name as Russian documents write it. Surname and name are required.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FullName {
    pub surname: String,
    pub name: String,
    #[serde(default)]
    pub patronymic: String,
}

pub const NAME_PART_LEN_MAX_CHARS: usize = 80;

impl FullName {
    pub fn new(
        surname: &str,
        name: &str,
        patronymic: &str,
    ) -> Result<Self, (&'static str, String)> {
        let clean = |field: &'static str,
                     v: &str,
                     required: bool|
         -> Result<String, (&'static str, String)> {
            let v = v.split_whitespace().collect::<Vec<_>>().join(" ");
            if required && v.is_empty() {
                return Err((field, "must not be empty".into()));
            }
            if v.chars().count() > NAME_PART_LEN_MAX_CHARS {
                return Err((
                    field,
                    format!("longer than {NAME_PART_LEN_MAX_CHARS} characters"),
                ));
            }
            if let Some(bad) = v
                .chars()
                .find(|c| !(c.is_alphabetic() || matches!(c, ' ' | '-' | '\'' | '.' | '’')))
            {
                return Err((field, format!("contains {bad:?}")));
            }
            Ok(v)
        };
        Ok(FullName {
            surname: clean("surname", surname, true)?,
            name: clean("name", name, true)?,
            patronymic: clean("patronymic", patronymic, false)?,
        })
    }

    /// «Иванов Иван Иванович».
    pub fn display(&self) -> String {
        [
            self.surname.as_str(),
            self.name.as_str(),
            self.patronymic.as_str(),
        ]
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ")
    }
}

/// The form names are searched in: lower case, «ё» as «е», single spaces.
pub fn search_key(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
        .replace('ё', "е")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_names_parse_as_typed_in_spreadsheets() {
        for (input, expected) in [
            ("5А", Some("5А")),
            ("5 а", Some("5А")),
            ("11-Б", Some("11Б")),
            ("5A", Some("5А")),
            (" 1в ", Some("1В")),
            ("12А", None),
            ("0А", None),
            ("5", None),
            ("5АБ", None),
            ("А5", None),
            ("5Z", None),
            ("", None),
        ] {
            let got = input.parse::<ClassName>().ok().map(|c| c.to_string());
            assert_eq!(got.as_deref(), expected, "input {input:?}");
        }
    }

    #[test]
    fn names_are_cleaned_and_checked() {
        let n = FullName::new("  Иванова ", "Анна-Мария", "").unwrap();
        assert_eq!(n.display(), "Иванова Анна-Мария");
        assert_eq!(FullName::new("", "Иван", "").unwrap_err().0, "surname");
        assert_eq!(FullName::new("Иванов", "Иван2", "").unwrap_err().0, "name");
        assert_eq!(search_key("  Ёлкин  Пётр "), "елкин петр");
    }
}
