//! Money as text: integer kopecks to rubles with two decimals, never through floats.

/// Kopecks (копейки) in a ruble.
pub const KOPECKS_PER_RUBLE: u64 = 100;

/// The character between rubles and kopecks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DecimalSeparator {
    /// `123.45`: machines, and Excel in English locales.
    #[default]
    Point,
    /// `123,45`: Russian practice, and what Excel in a Russian locale reads as a number.
    Comma,
}

impl DecimalSeparator {
    /// The separator character.
    pub fn as_char(self) -> char {
        match self {
            DecimalSeparator::Point => '.',
            DecimalSeparator::Comma => ',',
        }
    }
}

/// Rubles with exactly two decimals, a minus sign for negative amounts and no grouping:
/// `12345` → `123.45`, `-5` → `-0.05`. Exact for every `i64`.
pub fn format_rubles(kopecks: i64, separator: DecimalSeparator) -> String {
    let sign = if kopecks < 0 { "-" } else { "" };
    // unsigned_abs: i64::MIN has no positive i64 counterpart.
    let magnitude = kopecks.unsigned_abs();
    format!(
        "{sign}{rubles}{separator}{kopecks:02}",
        rubles = magnitude / KOPECKS_PER_RUBLE,
        separator = separator.as_char(),
        kopecks = magnitude % KOPECKS_PER_RUBLE,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rubles_text() {
        let cases: &[(i64, &str, &str)] = &[
            (0, "0.00", "0,00"),
            (5, "0.05", "0,05"),
            (-5, "-0.05", "-0,05"),
            (99, "0.99", "0,99"),
            (100, "1.00", "1,00"),
            (12345, "123.45", "123,45"),
            (-12345, "-123.45", "-123,45"),
            (-100, "-1.00", "-1,00"),
            // A year's meal budget of the city in DESIGN.md.
            (6_141_264_000, "61412640.00", "61412640,00"),
            (i64::MAX, "92233720368547758.07", "92233720368547758,07"),
            (i64::MIN, "-92233720368547758.08", "-92233720368547758,08"),
        ];
        for (kopecks, point, comma) in cases {
            assert_eq!(
                format_rubles(*kopecks, DecimalSeparator::Point),
                *point,
                "{kopecks}"
            );
            assert_eq!(
                format_rubles(*kopecks, DecimalSeparator::Comma),
                *comma,
                "{kopecks}"
            );
        }
    }

    proptest! {
        /// The text reads back as the same number of kopecks.
        #[test]
        fn rubles_text_is_exact(kopecks: i64) {
            let text = format_rubles(kopecks, DecimalSeparator::Point);
            let (rubles, fraction) = text.split_once('.').ok_or_else(|| TestCaseError::fail("no point"))?;
            prop_assert_eq!(fraction.len(), 2);
            let digits = format!("{rubles}{fraction}");
            prop_assert_eq!(digits.parse::<i64>().ok(), Some(kopecks));
        }
    }
}
