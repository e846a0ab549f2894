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

/// The no-break space between thousands in [`format_rubles_grouped`], so an amount is never
/// split across lines.
pub const THOUSANDS_SEPARATOR: char = '\u{a0}';

/// Rubles as a person reads them on paper: thousands apart by a no-break space, two
/// decimals, a minus sign for negative amounts: `123456789` → `1 234 567,89` (with
/// [`DecimalSeparator::Comma`]). Exact for every `i64`.
pub fn format_rubles_grouped(kopecks: i64, separator: DecimalSeparator) -> String {
    let plain = format_rubles(kopecks, separator);
    // The last three characters are the separator and the two kopeck digits.
    let (rubles, fraction) = plain.split_at(plain.len() - 3);
    let mut grouped = group_thousands(rubles);
    grouped.push_str(fraction);
    grouped
}

/// The ruble sign, after an amount in running text.
pub const RUBLE_SIGN: char = '₽';

/// An amount as a sentence or a receipt writes it: [`format_rubles_grouped`] with a comma,
/// a no-break space and the ruble sign: `123450` → `1 234,50 ₽`.
pub fn format_rubles_with_sign(kopecks: i64) -> String {
    format!(
        "{}{THOUSANDS_SEPARATOR}{RUBLE_SIGN}",
        format_rubles_grouped(kopecks, DecimalSeparator::Comma)
    )
}

/// An optionally signed run of digits with [`THOUSANDS_SEPARATOR`] between thousands:
/// `-1234567` → `-1 234 567`.
pub(crate) fn group_thousands(number: &str) -> String {
    let (sign, digits) = match number.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", number),
    };
    let mut grouped = String::with_capacity(number.len() + digits.len() / 3 * 2);
    grouped.push_str(sign);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            grouped.push(THOUSANDS_SEPARATOR);
        }
        grouped.push(digit);
    }
    grouped
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

    #[test]
    fn grouped_rubles_text() {
        let cases: &[(i64, &str)] = &[
            (0, "0,00"),
            (-5, "-0,05"),
            (99_999, "999,99"),
            (100_000, "1 000,00"),
            (-12_345_678, "-123 456,78"),
            (6_141_264_000, "61 412 640,00"),
            (i64::MIN, "-92 233 720 368 547 758,08"),
        ];
        for (kopecks, expected) in cases {
            let text = format_rubles_grouped(*kopecks, DecimalSeparator::Comma);
            assert_eq!(
                text.replace(THOUSANDS_SEPARATOR, " "),
                *expected,
                "{kopecks}"
            );
        }
    }

    #[test]
    fn rubles_with_sign() {
        let cases: &[(i64, &str)] = &[(0, "0,00 ₽"), (123_450, "1 234,50 ₽"), (-5, "-0,05 ₽")];
        for (kopecks, expected) in cases {
            let text = format_rubles_with_sign(*kopecks);
            assert_eq!(
                text.replace(THOUSANDS_SEPARATOR, " "),
                *expected,
                "{kopecks}"
            );
        }
    }

    proptest! {
        /// Without its separators the grouped text is the plain text.
        #[test]
        fn grouping_only_adds_separators(kopecks: i64) {
            let grouped = format_rubles_grouped(kopecks, DecimalSeparator::Point);
            prop_assert_eq!(grouped.replace(THOUSANDS_SEPARATOR, ""), format_rubles(kopecks, DecimalSeparator::Point));
        }

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
