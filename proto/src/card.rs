//! The canonical card identity: [`CardId`].
//!
//! Readers print the same card in different forms. An IronLogic reader prints an
//! Em-Marine card as `Em-Marine[5500] 126,58404`, a keyboard-wedge reader types its
//! 10-digit decimal `0008314916`, a PC/SC reader answers its UID bytes. A `CardId` is the
//! one value behind all of them: the identifier as a bit string, `bits` long.
//!
//! Invariants (kept by every constructor; there are no setters):
//! - `1 <= bits <= CARD_BITS_MAX`;
//! - `value < 2^bits`.
//!
//! The canonical text form, used as the database key and on the wire, is
//! `"{bits}:{HEX}"` with exactly `ceil(bits / 4)` upper-case hex digits, e.g.
//! `40:55007EE424` or `24:7EE424`. [`fmt::Display`] writes it and
//! [`CardId::parse_canonical`] reads it back. [`FromStr`] is different: it reads what a
//! person or a keyboard-wedge reader types (see its documentation for the rules).

use std::fmt;
use std::str::FromStr;

/// Longest card identifier we keep: 16 bytes, enough for every UID in ISO 14443
/// (10 bytes at most) and for raw Wiegand/OSDP formats up to 128 data bits.
pub const CARD_BITS_MAX: u8 = 128;

/// Data bits of a Wiegand-26 frame (8-bit facility + 16-bit number, parity bits dropped).
/// An id of this length is a *partial* id: the low 24 bits of some longer card id.
pub const WIEGAND26_DATA_BITS: u8 = 24;

/// A 4-byte Mifare UID (also the 32 data bits of Wiegand-34).
pub const MIFARE_4_BYTE_BITS: u8 = 32;

/// An Em-Marine (EM4100) card id: 40 bits.
pub const EM_MARINE_BITS: u8 = 40;

/// A 7-byte Mifare UID (Ultralight, DESFire, Classic EV1 with double-size UID).
pub const MIFARE_7_BYTE_BITS: u8 = 56;

/// Longest text [`FromStr`] and [`CardId::parse_canonical`] look at, in bytes. The longest
/// legitimate input is 16 bytes written as `AA:BB:…` with `": "` separators (62 bytes);
/// anything much longer is not a card number, and the bound keeps parsing work fixed.
pub const CARD_TEXT_LEN_MAX_BYTES: usize = 80;

/// Bytes in the longest identifier, [`CARD_BITS_MAX`] / 8.
const CARD_BYTES_MAX: usize = CARD_BITS_MAX as usize / 8;

/// Largest value a decimal UID may have: decimal input is classified as 24, 32 or 56 bits
/// (see [`CardId::from_decimal`]), so anything at or above 2^56 is out of range.
const DECIMAL_BITS_MAX: u8 = MIFARE_7_BYTE_BITS;

/// Characters that may separate the bytes of a hex UID typed by a person.
const HEX_BYTE_SEPARATORS: [char; 3] = [':', '-', ' '];

/// The identifier of a physical card, as a bit string of known length.
///
/// Construct it with [`CardId::from_bytes`], [`CardId::from_bits`],
/// [`CardId::em_marine`], [`CardId::wiegand26`], the text parsers ([`FromStr`],
/// [`CardId::from_hex`], [`CardId::from_decimal`], [`CardId::from_wiegand26_text`]) or
/// [`CardId::parse_canonical`]. Serde reads and writes the canonical text form.
///
/// Ordering is by bit length, then value; it exists so ids can key ordered maps and has no
/// meaning beyond that.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CardId {
    bits: u8,
    value: u128,
}

/// Why a card id could not be built or parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CardIdError {
    /// No digits at all (empty or blank input, no bytes).
    #[error("card number is empty")]
    Empty,
    /// Input longer than [`CARD_TEXT_LEN_MAX_BYTES`].
    #[error("card number is too long: {len_bytes} bytes, at most {max_bytes} allowed")]
    TooLong {
        /// Length of the rejected input, in bytes.
        len_bytes: usize,
        /// The limit, [`CARD_TEXT_LEN_MAX_BYTES`].
        max_bytes: usize,
    },
    /// A character that has no place in this form of card number.
    #[error("unexpected character {character:?} at position {position} of the card number")]
    InvalidCharacter {
        /// The offending character.
        character: char,
        /// 1-based position of the character in the input, counted in characters.
        position: usize,
    },
    /// A hex UID must be whole bytes: an even number of hex digits.
    #[error("hex card number has an odd number of digits ({digits}); a UID is whole bytes")]
    OddHexDigits {
        /// How many hex digits the input had.
        digits: usize,
    },
    /// With separators, every group between them must be one byte: two hex digits.
    #[error("{group:?} is not a byte: separated hex card numbers are written as pairs of hex digits, like 04:A2:3B:1C")]
    HexGroup {
        /// The group that is not two hex digits.
        group: String,
    },
    /// Bit length outside `1..=CARD_BITS_MAX`.
    #[error("a card id of {bits} bits is not supported: 1 to 128 bits")]
    BitLength {
        /// The requested or implied bit length.
        bits: usize,
    },
    /// A value that needs more bits than the stated bit length.
    #[error("value {value:#X} does not fit in {bits} bits")]
    ValueTooWide {
        /// The stated bit length.
        bits: u8,
        /// The value that does not fit.
        value: u128,
    },
    /// A Wiegand-26 pair that is not `facility,number`.
    #[error("a Wiegand-26 pair is two decimal numbers separated by one comma, like 126,58404")]
    MalformedPair,
    /// Wiegand-26 facility code above 255.
    #[error("Wiegand-26 facility code {text} is out of range (0 to 255)")]
    FacilityOutOfRange {
        /// The facility code as written.
        text: String,
    },
    /// Wiegand-26 card number above 65535.
    #[error("Wiegand-26 card number {text} is out of range (0 to 65535)")]
    NumberOutOfRange {
        /// The card number as written.
        text: String,
    },
    /// A decimal UID at or above 2^56.
    #[error("decimal card number {text} is too large: at most 72057594037927935 (56 bits)")]
    DecimalOutOfRange {
        /// The number as written.
        text: String,
    },
    /// Text given to [`CardId::parse_canonical`] that is not exactly the canonical form.
    #[error("not a canonical card id (expected bits:HEX, like 40:55007EE424): {reason}")]
    NotCanonical {
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl CardId {
    /// A card id from its bit length and value.
    ///
    /// Fails if `bits` is outside `1..=CARD_BITS_MAX` or `value` needs more than `bits`
    /// bits.
    pub fn from_bits(bits: u8, value: u128) -> Result<CardId, CardIdError> {
        if bits == 0 || bits > CARD_BITS_MAX {
            return Err(CardIdError::BitLength { bits: bits.into() });
        }
        if bits < CARD_BITS_MAX && value >> bits != 0 {
            return Err(CardIdError::ValueTooWide { bits, value });
        }
        Ok(CardId { bits, value })
    }

    /// A card id from UID bytes, most significant first, as a PC/SC reader answers them.
    /// The bit length is 8 × the number of bytes, so leading zero bytes count.
    ///
    /// Fails on no bytes or more than 16.
    pub fn from_bytes(bytes: &[u8]) -> Result<CardId, CardIdError> {
        if bytes.is_empty() {
            return Err(CardIdError::Empty);
        }
        if bytes.len() > CARD_BYTES_MAX {
            return Err(CardIdError::BitLength {
                bits: bytes.len() * 8,
            });
        }
        let value = bytes
            .iter()
            .fold(0u128, |value, &byte| (value << 8) | u128::from(byte));
        // The length fits: at most 16 bytes, so at most 128 bits.
        Ok(CardId {
            bits: (bytes.len() * 8) as u8,
            value,
        })
    }

    /// The 40-bit id of an Em-Marine card from the three fields an IronLogic reader
    /// prints, `Em-Marine[bracket] facility,number`:
    /// `bracket << 24 | facility << 16 | number`.
    ///
    /// `Em-Marine[5500] 126,58404` is `em_marine(0x5500, 126, 58404)` = `40:55007EE424`.
    pub fn em_marine(bracket: u16, facility: u8, number: u16) -> CardId {
        let value = (u128::from(bracket) << 24) | (u128::from(facility) << 16) | u128::from(number);
        CardId {
            bits: EM_MARINE_BITS,
            value,
        }
    }

    /// The 24-bit partial id of a Wiegand-26 "facility,number" pair:
    /// `facility × 65536 + number`. `wiegand26(123, 45678)` has the value 8106606.
    pub fn wiegand26(facility: u8, number: u16) -> CardId {
        let value = (u128::from(facility) << 16) | u128::from(number);
        CardId {
            bits: WIEGAND26_DATA_BITS,
            value,
        }
    }

    /// A hex UID: whole bytes written as hex digits, either run together (`55007EE424`,
    /// optionally after `0x`) or as two-digit groups with `:`, `-` or spaces between them
    /// (`04:A2:3B:1C`, `04 a2 3b 1c`; a run of separators counts as one). Case does not
    /// matter; leading zeros count towards the length (`007EE424` is 32 bits).
    ///
    /// Unlike [`FromStr`], an all-digit string is read as hex here: use this when the
    /// source is known to print hex.
    pub fn from_hex(text: &str) -> Result<CardId, CardIdError> {
        let (trimmed, offset_chars) = bounded_trim(text)?;
        if let Some(digits) = strip_hex_prefix(trimmed) {
            parse_hex_run(digits, offset_chars + 2)
        } else if trimmed.contains(HEX_BYTE_SEPARATORS) {
            parse_hex_groups(trimmed, offset_chars)
        } else {
            parse_hex_run(trimmed, offset_chars)
        }
    }

    /// A decimal UID, digits only (leading zeros allowed and ignored). The bit length is
    /// not written, so it is inferred from the value:
    ///
    /// - below 2^24 → 24 bits, a partial id: the 10-digit number printed on Em-Marine
    ///   cards and typed by most keyboard-wedge readers is the 24-bit Wiegand-26 value
    ///   (`0008106606` is `123,45678`);
    /// - below 2^32 → 32 bits (a 4-byte Mifare UID);
    /// - below 2^56 → 56 bits (a 7-byte UID);
    /// - larger → [`CardIdError::DecimalOutOfRange`].
    ///
    /// The heuristic cannot tell a 4-byte UID whose top byte is zero from a 24-bit
    /// partial; such a card then matches by its low 24 bits (see [`CardId::matches`]).
    pub fn from_decimal(text: &str) -> Result<CardId, CardIdError> {
        let (trimmed, offset_chars) = bounded_trim(text)?;
        parse_decimal(trimmed, offset_chars)
    }

    /// A Wiegand-26 pair from its two decimal fields, as readers print them
    /// (`"126"`, `"58404"`; leading zeros allowed, as in `066`).
    pub fn from_wiegand26_text(facility: &str, number: &str) -> Result<CardId, CardIdError> {
        let facility_text = facility.trim();
        let number_text = number.trim();
        let all_digits = |text: &str| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(facility_text) || !all_digits(number_text) {
            return Err(CardIdError::MalformedPair);
        }
        let facility = decimal_value(facility_text)
            .and_then(|value| u8::try_from(value).ok())
            .ok_or_else(|| CardIdError::FacilityOutOfRange {
                text: facility_text.to_owned(),
            })?;
        let number = decimal_value(number_text)
            .and_then(|value| u16::try_from(value).ok())
            .ok_or_else(|| CardIdError::NumberOutOfRange {
                text: number_text.to_owned(),
            })?;
        Ok(CardId::wiegand26(facility, number))
    }

    /// Reads the canonical form written by [`fmt::Display`], `"{bits}:{HEX}"`, and nothing
    /// else: no spaces, no lower case, no leading zeros in the bit length, exactly
    /// `ceil(bits / 4)` hex digits. So every card has exactly one canonical text and it
    /// can key a database.
    pub fn parse_canonical(text: &str) -> Result<CardId, CardIdError> {
        if text.len() > CARD_TEXT_LEN_MAX_BYTES {
            return Err(CardIdError::TooLong {
                len_bytes: text.len(),
                max_bytes: CARD_TEXT_LEN_MAX_BYTES,
            });
        }
        let not_canonical = |reason| Err(CardIdError::NotCanonical { reason });
        let Some((bits_text, hex_text)) = text.split_once(':') else {
            return not_canonical("no ':' between the bit length and the hex value");
        };
        if bits_text.is_empty() || !bits_text.bytes().all(|b| b.is_ascii_digit()) {
            return not_canonical("the bit length is not a decimal number");
        }
        if bits_text.len() > 1 && bits_text.starts_with('0') {
            return not_canonical("the bit length has a leading zero");
        }
        if bits_text.len() > 3 {
            return not_canonical("the bit length is not 1 to 128");
        }
        let bits = match decimal_value(bits_text) {
            Some(bits) if (1..=u128::from(CARD_BITS_MAX)).contains(&bits) => bits as u8,
            // At most three digits (checked above), so the value fits in usize.
            Some(bits) => {
                return Err(CardIdError::BitLength {
                    bits: bits as usize,
                })
            }
            None => return not_canonical("the bit length is not 1 to 128"),
        };
        if !hex_text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
        {
            return not_canonical("the value is not upper-case hex digits");
        }
        if hex_text.len() != hex_width(bits) {
            return not_canonical("the number of hex digits does not match the bit length");
        }
        let value = hex_value(hex_text).ok_or(CardIdError::NotCanonical {
            reason: "the value is not upper-case hex digits",
        })?;
        CardId::from_bits(bits, value)
    }

    /// Length of the identifier in bits.
    pub fn bits(&self) -> u8 {
        self.bits
    }

    /// The identifier as an unsigned number.
    pub fn value(&self) -> u128 {
        self.value
    }

    /// Upper-case hex, `ceil(bits / 4)` digits with leading zeros: `55007EE424`.
    pub fn hex(&self) -> String {
        format!("{:0width$X}", self.value, width = hex_width(self.bits))
    }

    /// The whole value in decimal, no padding. (The 10-digit number printed on an
    /// Em-Marine card is `format!("{:010}", id.low24())`.)
    pub fn decimal(&self) -> String {
        self.value.to_string()
    }

    /// The bytes, most significant first: `ceil(bits / 8)` of them.
    pub fn to_bytes(&self) -> Vec<u8> {
        let len = usize::from(self.bits).div_ceil(8);
        self.value.to_be_bytes()[16 - len..].to_vec()
    }

    /// The low 24 bits: what a Wiegand-26 reader sends and a "facility,number" pair
    /// shows.
    pub fn low24(&self) -> u32 {
        (self.value & 0xFF_FFFF) as u32
    }

    /// The low 24 bits as a Wiegand-26 `(facility, number)` pair.
    pub fn wiegand26_pair(&self) -> (u8, u16) {
        let low24 = self.low24();
        ((low24 >> 16) as u8, (low24 & 0xFFFF) as u16)
    }

    /// Whether this is a 24-bit partial id (the low 24 bits of some card, e.g. enrolled
    /// from a Wiegand-26 pair).
    pub fn is_partial(&self) -> bool {
        self.bits == WIEGAND26_DATA_BITS
    }

    /// The 24-bit partial id of this card: what a Wiegand-26 reader would see. A store
    /// that finds no exact match looks this key up next.
    pub fn to_partial(&self) -> CardId {
        CardId {
            bits: WIEGAND26_DATA_BITS.min(self.bits),
            value: u128::from(self.low24()),
        }
    }

    /// Whether two ids may name the same card: they are equal, or one is a 24-bit partial
    /// and the other is longer with the same low 24 bits. Symmetric.
    ///
    /// The partial rule exists because a card enrolled by its printed pair is known only
    /// by its low 24 bits. Prefer an exact match when one exists: match a card enrolled by
    /// its pair only when nothing longer is known for it.
    pub fn matches(&self, other: &CardId) -> bool {
        let partial_of = |partial: &CardId, full: &CardId| {
            partial.is_partial()
                && full.bits > WIEGAND26_DATA_BITS
                && u128::from(full.low24()) == partial.value
        };
        self == other || partial_of(self, other) || partial_of(other, self)
    }
}

impl fmt::Display for CardId {
    /// The canonical form, `"{bits}:{HEX}"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{:0width$X}",
            self.bits,
            self.value,
            width = hex_width(self.bits)
        )
    }
}

impl fmt::Debug for CardId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CardId({self})")
    }
}

impl FromStr for CardId {
    type Err = CardIdError;

    /// Reads a card number as a person or a keyboard-wedge reader types it. Surrounding
    /// whitespace is ignored; then the first rule that applies decides the form:
    ///
    /// 0. `bits:HEX` with one colon and more than two hex digits after it → the canonical
    ///    form this type displays (`40:55007EE424`), so a card shown on screen can be
    ///    typed or pasted back;
    /// 1. contains a comma → a Wiegand-26 pair `facility,number` (`126,58404`), a 24-bit
    ///    partial id;
    /// 2. starts with `0x` → hex digits run together (`0x55007EE424`);
    /// 3. contains `:`, `-` or a space → hex bytes in two-digit groups (`04:A2:3B:1C`,
    ///    `04 a2 3b 1c`);
    /// 4. digits only → a decimal UID, bit length inferred from the value (see
    ///    [`CardId::from_decimal`]);
    /// 5. hex digits with at least one letter A–F → hex run together (`55007EE424`).
    ///
    /// So an all-digit string is decimal: hex that happens to have no letter must be
    /// written with `0x` or separators. Use [`CardId::from_hex`] when the source is known
    /// to be hex. This is not the inverse of [`fmt::Display`]; that is
    /// [`CardId::parse_canonical`].
    fn from_str(text: &str) -> Result<CardId, CardIdError> {
        let (trimmed, offset_chars) = bounded_trim(text)?;
        if let Some((bits, hex)) = trimmed.split_once(':') {
            // Hex bytes in groups have exactly two digits after a colon; more is canonical.
            if !hex.contains(':')
                && hex.len() > 2
                && !bits.is_empty()
                && bits.bytes().all(|b| b.is_ascii_digit())
            {
                return CardId::parse_canonical(trimmed);
            }
        }
        if trimmed.contains(',') {
            parse_pair(trimmed, offset_chars)
        } else if let Some(digits) = strip_hex_prefix(trimmed) {
            parse_hex_run(digits, offset_chars + 2)
        } else if trimmed.contains(HEX_BYTE_SEPARATORS) {
            parse_hex_groups(trimmed, offset_chars)
        } else if trimmed.bytes().all(|b| b.is_ascii_digit()) {
            parse_decimal(trimmed, offset_chars)
        } else {
            parse_hex_run(trimmed, offset_chars)
        }
    }
}

impl serde::Serialize for CardId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for CardId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<CardId, D::Error> {
        struct CanonicalVisitor;

        impl serde::de::Visitor<'_> for CanonicalVisitor {
            type Value = CardId;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a canonical card id such as \"40:55007EE424\"")
            }

            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<CardId, E> {
                CardId::parse_canonical(text).map_err(E::custom)
            }
        }

        deserializer.deserialize_str(CanonicalVisitor)
    }
}

/// Number of hex digits that show `bits` bits.
fn hex_width(bits: u8) -> usize {
    usize::from(bits).div_ceil(4)
}

/// Checks the length bound, trims whitespace and rejects blank input. Returns the trimmed
/// text and how many characters were trimmed off its front (for error positions).
fn bounded_trim(text: &str) -> Result<(&str, usize), CardIdError> {
    if text.len() > CARD_TEXT_LEN_MAX_BYTES {
        return Err(CardIdError::TooLong {
            len_bytes: text.len(),
            max_bytes: CARD_TEXT_LEN_MAX_BYTES,
        });
    }
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(CardIdError::Empty);
    }
    let trimmed_front = text.trim_start();
    let offset_chars = text[..text.len() - trimmed_front.len()].chars().count();
    Ok((trimmed, offset_chars))
}

fn strip_hex_prefix(text: &str) -> Option<&str> {
    text.strip_prefix("0x").or_else(|| text.strip_prefix("0X"))
}

/// The first character of `text` that `allowed` rejects, as an error with its 1-based
/// position in the original input.
fn check_characters(
    text: &str,
    offset_chars: usize,
    allowed: impl Fn(char) -> bool,
) -> Result<(), CardIdError> {
    match text.chars().enumerate().find(|&(_, c)| !allowed(c)) {
        Some((index, character)) => Err(CardIdError::InvalidCharacter {
            character,
            position: offset_chars + index + 1,
        }),
        None => Ok(()),
    }
}

/// Decimal digits to a number; `None` on overflow. The caller has checked the digits.
fn decimal_value(digits: &str) -> Option<u128> {
    digits.bytes().try_fold(0u128, |value, b| {
        value.checked_mul(10)?.checked_add(u128::from(b - b'0'))
    })
}

/// Hex digits (at most 32) to a number; `None` on a non-hex character or overflow.
fn hex_value(digits: &str) -> Option<u128> {
    digits.chars().try_fold(0u128, |value, c| {
        let digit = c.to_digit(16)?;
        value.checked_mul(16)?.checked_add(u128::from(digit))
    })
}

fn parse_pair(text: &str, offset_chars: usize) -> Result<CardId, CardIdError> {
    check_characters(text, offset_chars, |c| {
        c.is_ascii_digit() || c == ',' || c == ' '
    })?;
    let Some((facility, number)) = text.split_once(',') else {
        return Err(CardIdError::MalformedPair);
    };
    if number.contains(',') {
        return Err(CardIdError::MalformedPair);
    }
    // A space inside a field ("12 6,58404") is not a number.
    if facility.trim().contains(' ') || number.trim().contains(' ') {
        return Err(CardIdError::MalformedPair);
    }
    CardId::from_wiegand26_text(facility, number)
}

fn parse_decimal(text: &str, offset_chars: usize) -> Result<CardId, CardIdError> {
    check_characters(text, offset_chars, |c| c.is_ascii_digit())?;
    let out_of_range = || CardIdError::DecimalOutOfRange {
        text: text.to_owned(),
    };
    let value = decimal_value(text).ok_or_else(out_of_range)?;
    let bits = [WIEGAND26_DATA_BITS, MIFARE_4_BYTE_BITS, DECIMAL_BITS_MAX]
        .into_iter()
        .find(|&bits| value >> bits == 0)
        .ok_or_else(out_of_range)?;
    Ok(CardId { bits, value })
}

fn parse_hex_run(digits: &str, offset_chars: usize) -> Result<CardId, CardIdError> {
    check_characters(digits, offset_chars, |c| c.is_ascii_hexdigit())?;
    let count = digits.len();
    if count == 0 {
        return Err(CardIdError::Empty);
    }
    if !count.is_multiple_of(2) {
        return Err(CardIdError::OddHexDigits { digits: count });
    }
    if count > hex_width(CARD_BITS_MAX) {
        return Err(CardIdError::BitLength { bits: count * 4 });
    }
    let value = hex_value(digits).ok_or(CardIdError::BitLength { bits: count * 4 })?;
    // count is even and at most 32, so bits is 8..=128.
    CardId::from_bits((count * 4) as u8, value)
}

fn parse_hex_groups(text: &str, offset_chars: usize) -> Result<CardId, CardIdError> {
    check_characters(text, offset_chars, |c| {
        c.is_ascii_hexdigit() || HEX_BYTE_SEPARATORS.contains(&c)
    })?;
    // A run of separators counts as one ("04 - A2"): the groups are what matter.
    let groups: Vec<&str> = text
        .split(HEX_BYTE_SEPARATORS)
        .filter(|group| !group.is_empty())
        .collect();
    if groups.len() > CARD_BYTES_MAX {
        return Err(CardIdError::BitLength {
            bits: groups.len() * 8,
        });
    }
    let bytes = groups
        .iter()
        .map(|group| {
            match group.len() {
                2 => u8::from_str_radix(group, 16).ok(),
                _ => None,
            }
            .ok_or_else(|| CardIdError::HexGroup {
                group: (*group).to_owned(),
            })
        })
        .collect::<Result<Vec<u8>, CardIdError>>()?;
    CardId::from_bytes(&bytes)
}

#[cfg(test)]
mod tests;
