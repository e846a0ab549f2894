//! USB card readers in COM-port mode: one ASCII line per card event.
//!
//! IronLogic Z-2 USB, Z-2 USB MF, Matrix-III and many cheaper readers show up as a serial
//! port (9600 8N1) and print a line when a card is presented, some also when it is
//! removed. The path is:
//!
//! ```text
//! bytes from the port ──LineAssembler──▶ lines ──decode(LineFormat)──▶ ReaderEvent
//! ```
//!
//! [`LineDecoder`] joins the two steps for a driver loop. Nothing here panics on what a
//! reader sends: noise, binary garbage, half lines and overlong lines come out as
//! [`LineError`] values for the supervisor to log and count.

use std::fmt;

use regex::{Regex, RegexBuilder};
use schoolcard_proto::{CardId, CardIdError};

/// Longest line kept, in bytes, without its terminator. The longest line an IronLogic
/// reader prints is about 50 bytes (`Mifare[F274238004DEC2] UL (0144,00) 004,57026,`);
/// 256 leaves room for other readers' formats and bounds the buffer when a port delivers
/// garbage with no line ends.
pub const LINE_LEN_MAX_BYTES: usize = 256;

/// Largest compiled size of a configured [`LinePattern`], in bytes. A line pattern is a
/// short expression typed in the device settings; the bound stops a pasted monster from
/// eating memory (the regex crate's own default is 10 MiB).
pub const PATTERN_COMPILED_SIZE_MAX_BYTES: usize = 256 * 1024;

/// What a reader reported in one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReaderEvent {
    /// A card was put on the reader.
    CardPresented {
        /// The card, in canonical form.
        card: CardId,
        /// The line as received, without its terminator and surrounding whitespace.
        raw: String,
    },
    /// The card was taken away (`No card` on IronLogic readers).
    CardRemoved,
}

/// Why a chunk of input did not give an event. Every variant is an ordinary outcome of a
/// noisy line: the supervisor logs and counts it and carries on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    /// A line reached [`LINE_LEN_MAX_BYTES`] without a terminator; it is dropped up to
    /// the next line end.
    #[error("line longer than {max_bytes} bytes dropped")]
    Overlong {
        /// The limit, [`LINE_LEN_MAX_BYTES`].
        max_bytes: usize,
    },
    /// The line holds bytes that are not printable ASCII (line noise, a wrong baud rate).
    /// It is dropped whole: a corrupted digit must not become another card's number.
    #[error("line is not printable text: {escaped}")]
    NotText {
        /// The line with non-printable bytes escaped (`\xff`).
        escaped: String,
    },
    /// The line is text but not in the configured format.
    #[error("line not recognised as {format}: {line:?}")]
    Unrecognised {
        /// The configured format's name.
        format: &'static str,
        /// The line.
        line: String,
    },
    /// An IronLogic line for a card technology we do not decode.
    #[error("unsupported card type {card_type:?} in line {line:?}")]
    UnsupportedCardType {
        /// The name before the bracket, e.g. `HID`.
        card_type: String,
        /// The line.
        line: String,
    },
    /// The line has the right shape but its card number is invalid.
    #[error("bad card number in line {line:?}: {source}")]
    BadCard {
        /// The line.
        line: String,
        /// What is wrong with the number.
        source: CardIdError,
    },
}

/// How a reader writes its lines. Chosen per reader in the device settings.
#[derive(Debug, Clone)]
pub enum LineFormat {
    /// IronLogic Z-2 USB / Z-2 USB MF / Matrix-III:
    /// - `Em-Marine[5500] 126,58404` → the 40-bit id `bracket << 24 | facility << 16 |
    ///   number` (`40:55007EE424`);
    /// - `Mifare[BCD14264] 1K (0004,08) 066,53692` → the UID in the bracket, read as hex
    ///   bytes (`32:BCD14264`); the rest of the line is not interpreted;
    /// - `No card` (any case) → [`ReaderEvent::CardRemoved`].
    ///
    /// One trailing comma, which some firmwares add, is ignored; the card type name is
    /// matched without regard to case.
    IronLogicZ2,
    /// A line of hex: whole bytes, optionally `0x`-prefixed or separated by `:`, `-` or
    /// spaces (see [`CardId::from_hex`]).
    HexUid,
    /// A line of decimal digits; the bit length follows from the value (see
    /// [`CardId::from_decimal`]).
    DecimalUid,
    /// A configured regular expression (see [`LinePattern`]).
    Pattern(LinePattern),
}

impl LineFormat {
    /// A short name for messages.
    pub fn name(&self) -> &'static str {
        match self {
            LineFormat::IronLogicZ2 => "IronLogic Z-2",
            LineFormat::HexUid => "hex UID",
            LineFormat::DecimalUid => "decimal UID",
            LineFormat::Pattern(_) => "configured pattern",
        }
    }
}

/// A configured line format: a regular expression with one named capture group that
/// holds the card number, and optionally a second expression for card removal.
///
/// The card group is one of:
/// - `hex` — hex bytes, read with [`CardId::from_hex`];
/// - `dec` — a decimal UID, read with [`CardId::from_decimal`];
/// - `fac` and `num` — a Wiegand-26 pair, read with [`CardId::from_wiegand26_text`].
///
/// Expressions use the `regex` crate's syntax and search the line (trimmed of
/// surrounding whitespace) anywhere; anchor them with `^…$` to match whole lines.
#[derive(Debug, Clone)]
pub struct LinePattern {
    card: Regex,
    card_field: CardField,
    removal: Option<Regex>,
}

/// Which named group of a [`LinePattern`] holds the card number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CardField {
    Hex,
    Decimal,
    Pair,
}

/// Why a configured line pattern was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PatternError {
    /// Not a valid regular expression, or too large.
    #[error("invalid line pattern: {source}")]
    Invalid {
        /// The regex crate's explanation.
        source: regex::Error,
    },
    /// No `hex`, `dec` or `fac`+`num` group.
    #[error("the card pattern needs a named group: (?P<hex>…), (?P<dec>…), or (?P<fac>…) with (?P<num>…)")]
    NoCardGroup,
    /// More than one way to read the card number.
    #[error("the card pattern must have only one of the groups hex, dec, or fac+num")]
    AmbiguousGroups,
    /// `fac` without `num` or the other way round.
    #[error("a Wiegand-26 card pattern needs both groups fac and num")]
    IncompletePair,
}

impl LinePattern {
    /// A card-line pattern; see the type's documentation for the named groups.
    pub fn new(card_pattern: &str) -> Result<LinePattern, PatternError> {
        let card = compile(card_pattern)?;
        let has = |name: &str| card.capture_names().flatten().any(|group| group == name);
        let (hex, dec, fac, num) = (has("hex"), has("dec"), has("fac"), has("num"));
        if fac != num {
            return Err(PatternError::IncompletePair);
        }
        let card_field = match (hex, dec, fac) {
            (true, false, false) => CardField::Hex,
            (false, true, false) => CardField::Decimal,
            (false, false, true) => CardField::Pair,
            (false, false, false) => return Err(PatternError::NoCardGroup),
            _ => return Err(PatternError::AmbiguousGroups),
        };
        Ok(LinePattern {
            card,
            card_field,
            removal: None,
        })
    }

    /// Adds a pattern for lines that report the card taken away.
    pub fn with_removal(self, removal_pattern: &str) -> Result<LinePattern, PatternError> {
        Ok(LinePattern {
            removal: Some(compile(removal_pattern)?),
            ..self
        })
    }

    /// The card-line expression as configured.
    pub fn card_pattern(&self) -> &str {
        self.card.as_str()
    }

    /// The removal expression as configured, if any.
    pub fn removal_pattern(&self) -> Option<&str> {
        self.removal.as_ref().map(Regex::as_str)
    }
}

fn compile(pattern: &str) -> Result<Regex, PatternError> {
    RegexBuilder::new(pattern)
        .size_limit(PATTERN_COMPILED_SIZE_MAX_BYTES)
        .build()
        .map_err(|source| PatternError::Invalid { source })
}

/// Turns byte chunks, as reads from a serial port deliver them, into complete lines.
///
/// A line ends at CR, LF or CRLF (any run of them); blank lines are skipped. Each line
/// comes out as text without its terminator, or as an error: [`LineError::NotText`] if it
/// holds anything but printable ASCII and tabs, [`LineError::Overlong`] (once) if it
/// reaches [`LINE_LEN_MAX_BYTES`], after which the rest up to the next line end is
/// dropped. The result does not depend on how the stream was split into chunks.
#[derive(Debug, Clone, Default)]
pub struct LineAssembler {
    line: Vec<u8>,
    dropping_overlong: bool,
}

impl LineAssembler {
    /// An assembler with nothing buffered.
    pub fn new() -> LineAssembler {
        LineAssembler::default()
    }

    /// Feeds one chunk; returns the lines it completed, in order.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<Result<String, LineError>> {
        let mut lines = Vec::new();
        for &byte in chunk {
            if byte == b'\r' || byte == b'\n' {
                if self.dropping_overlong {
                    self.dropping_overlong = false;
                } else if let Some(line) = self.finish_line() {
                    lines.push(line);
                }
                self.line.clear();
            } else if self.dropping_overlong {
                // Still inside an overlong line: wait for its end.
            } else if self.line.len() == LINE_LEN_MAX_BYTES {
                lines.push(Err(LineError::Overlong {
                    max_bytes: LINE_LEN_MAX_BYTES,
                }));
                self.line.clear();
                self.dropping_overlong = true;
            } else {
                self.line.push(byte);
            }
        }
        lines
    }

    /// Drops a partial line, e.g. after the port was reopened.
    pub fn reset(&mut self) {
        self.line.clear();
        self.dropping_overlong = false;
    }

    /// Bytes of the partial line waiting for its terminator.
    pub fn pending_len_bytes(&self) -> usize {
        self.line.len()
    }

    fn finish_line(&self) -> Option<Result<String, LineError>> {
        let line = self.line.trim_ascii();
        if line.is_empty() {
            return None;
        }
        let printable = |&byte: &u8| byte == b'\t' || (b' '..=b'~').contains(&byte);
        Some(if line.iter().all(printable) {
            // Printable ASCII is valid UTF-8, so nothing is replaced here.
            Ok(String::from_utf8_lossy(line).into_owned())
        } else {
            Err(LineError::NotText {
                escaped: line.escape_ascii().to_string(),
            })
        })
    }
}

/// Decodes one line (without its terminator) in the given format.
pub fn decode(format: &LineFormat, line: &str) -> Result<ReaderEvent, LineError> {
    if line.len() > LINE_LEN_MAX_BYTES {
        return Err(LineError::Overlong {
            max_bytes: LINE_LEN_MAX_BYTES,
        });
    }
    let line = line.trim();
    let presented = |card: Result<CardId, CardIdError>| match card {
        Ok(card) => Ok(ReaderEvent::CardPresented {
            card,
            raw: line.to_owned(),
        }),
        Err(source) => Err(LineError::BadCard {
            line: line.to_owned(),
            source,
        }),
    };
    match format {
        LineFormat::IronLogicZ2 => decode_iron_logic(line),
        LineFormat::HexUid => presented(CardId::from_hex(line)),
        LineFormat::DecimalUid => presented(CardId::from_decimal(line)),
        LineFormat::Pattern(pattern) => {
            if pattern
                .removal
                .as_ref()
                .is_some_and(|removal| removal.is_match(line))
            {
                return Ok(ReaderEvent::CardRemoved);
            }
            let unrecognised = || LineError::Unrecognised {
                format: format.name(),
                line: line.to_owned(),
            };
            let captures = pattern.card.captures(line).ok_or_else(unrecognised)?;
            let group = |name| {
                captures
                    .name(name)
                    .map(|m| m.as_str())
                    .ok_or_else(unrecognised)
            };
            presented(match pattern.card_field {
                CardField::Hex => CardId::from_hex(group("hex")?),
                CardField::Decimal => CardId::from_decimal(group("dec")?),
                CardField::Pair => CardId::from_wiegand26_text(group("fac")?, group("num")?),
            })
        }
    }
}

/// Longest Em-Marine bracket: 16 bits, four hex digits.
const EM_MARINE_BRACKET_DIGITS_MAX: usize = 4;

/// `Type[HEX] rest` lines of IronLogic readers; see [`LineFormat::IronLogicZ2`].
fn decode_iron_logic(line: &str) -> Result<ReaderEvent, LineError> {
    let unrecognised = || LineError::Unrecognised {
        format: LineFormat::IronLogicZ2.name(),
        line: line.to_owned(),
    };
    let bad_card = |source| LineError::BadCard {
        line: line.to_owned(),
        source,
    };
    let text = line.strip_suffix(',').unwrap_or(line).trim_end();
    if text.eq_ignore_ascii_case("no card") {
        return Ok(ReaderEvent::CardRemoved);
    }
    let (card_type, after_type) = text.split_once('[').ok_or_else(unrecognised)?;
    let (bracket, rest) = after_type.split_once(']').ok_or_else(unrecognised)?;
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '-';
    if card_type.is_empty() || !card_type.chars().all(is_name) {
        return Err(unrecognised());
    }
    let card = if card_type.eq_ignore_ascii_case("Em-Marine") {
        let bracket_ok = (1..=EM_MARINE_BRACKET_DIGITS_MAX).contains(&bracket.len())
            && bracket.bytes().all(|b| b.is_ascii_hexdigit());
        let bracket = bracket_ok
            .then(|| u16::from_str_radix(bracket, 16).ok())
            .flatten()
            .ok_or_else(unrecognised)?;
        let (facility, number) = rest
            .split_once(',')
            .ok_or(bad_card(CardIdError::MalformedPair))?;
        let pair = CardId::from_wiegand26_text(facility, number).map_err(bad_card)?;
        let (facility, number) = pair.wiegand26_pair();
        CardId::em_marine(bracket, facility, number)
    } else if card_type.eq_ignore_ascii_case("Mifare") {
        if !bracket.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(unrecognised());
        }
        CardId::from_hex(bracket).map_err(bad_card)?
    } else {
        return Err(LineError::UnsupportedCardType {
            card_type: card_type.to_owned(),
            line: line.to_owned(),
        });
    };
    Ok(ReaderEvent::CardPresented {
        card,
        raw: line.to_owned(),
    })
}

/// A [`LineAssembler`] and a [`LineFormat`] together: what a serial reader's driver loop
/// feeds its reads to.
#[derive(Debug, Clone)]
pub struct LineDecoder {
    format: LineFormat,
    assembler: LineAssembler,
}

impl LineDecoder {
    /// A decoder for a reader that writes lines in `format`.
    pub fn new(format: LineFormat) -> LineDecoder {
        LineDecoder {
            format,
            assembler: LineAssembler::new(),
        }
    }

    /// Feeds one chunk read from the port; returns the events (or errors) of the lines it
    /// completed, in order.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<Result<ReaderEvent, LineError>> {
        self.assembler
            .push(chunk)
            .into_iter()
            .map(|line| line.and_then(|line| decode(&self.format, &line)))
            .collect()
    }

    /// Drops a partial line, e.g. after the port was reopened.
    pub fn reset(&mut self) {
        self.assembler.reset();
    }

    /// The configured format.
    pub fn format(&self) -> &LineFormat {
        &self.format
    }
}

impl fmt::Display for LineFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LineFormat::Pattern(pattern) => write!(f, "pattern {}", pattern.card_pattern()),
            other => f.write_str(other.name()),
        }
    }
}

#[cfg(test)]
mod tests;
