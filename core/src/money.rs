//! Money is integer kopecks, never floats.

use serde::{Deserialize, Serialize};
use std::fmt;

/// An amount of money in kopecks (1 ₽ = 100 kopecks). Signed: balances may go negative
/// when food already eaten is reconciled after the fact (DESIGN.md §4).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Kopecks(pub i64);

impl Kopecks {
    pub const ZERO: Kopecks = Kopecks(0);

    pub fn checked_add(self, other: Kopecks) -> Option<Kopecks> {
        self.0.checked_add(other.0).map(Kopecks)
    }
}

impl fmt::Display for Kopecks {
    /// `1234567` → `12 345,67 ₽` (Russian grouping and decimal comma).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "−" } else { "" };
        let abs = self.0.unsigned_abs();
        let rubles = (abs / 100).to_string();
        let mut grouped = String::new();
        for (i, ch) in rubles.chars().enumerate() {
            if i > 0 && (rubles.len() - i).is_multiple_of(3) {
                grouped.push('\u{a0}');
            }
            grouped.push(ch);
        }
        write!(f, "{sign}{grouped},{:02}\u{a0}₽", abs % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_in_russian_format() {
        for (k, s) in [
            (0, "0,00\u{a0}₽"),
            (5, "0,05\u{a0}₽"),
            (12345, "123,45\u{a0}₽"),
            (123456789, "1\u{a0}234\u{a0}567,89\u{a0}₽"),
            (-4500, "−45,00\u{a0}₽"),
        ] {
            assert_eq!(Kopecks(k).to_string(), s);
        }
    }
}
