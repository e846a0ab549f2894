use super::*;
use proptest::prelude::*;

/// The expected outcome of a case: the canonical text of the id, or the error.
type Expected = Result<String, CardIdError>;

fn canonical(result: Result<CardId, CardIdError>) -> Expected {
    result.map(|id| id.to_string())
}

fn ok(text: &str) -> Expected {
    Ok(text.to_owned())
}

fn invalid(character: char, position: usize) -> Expected {
    Err(CardIdError::InvalidCharacter {
        character,
        position,
    })
}

fn id(text: &str) -> CardId {
    CardId::parse_canonical(text).expect("test ids are canonical")
}

/// What a person or a keyboard-wedge reader types → canonical id or error.
#[test]
fn from_str_reads_typed_card_numbers() {
    let cases: &[(&str, Expected)] = &[
        // HARDWARE.md: Em-Marine[5500] 126,58404 is 55007EE424.
        ("55007EE424", ok("40:55007EE424")),
        ("55007ee424", ok("40:55007EE424")),
        ("0x55007EE424", ok("40:55007EE424")),
        ("0X55007ee424", ok("40:55007EE424")),
        ("  55007EE424\t", ok("40:55007EE424")),
        ("126,58404", ok("24:7EE424")),
        (" 126 , 58404 ", ok("24:7EE424")),
        ("066,53692", ok("24:42D1BC")),
        // HARDWARE.md: "123,45678" = 123 × 65536 + 45678 = 8106606.
        ("123,45678", ok("24:7BB26E")),
        ("8106606", ok("24:7BB26E")),
        ("0008106606", ok("24:7BB26E")),
        ("0,0", ok("24:000000")),
        ("255,65535", ok("24:FFFFFF")),
        // The canonical form shown on screen reads back as itself.
        ("40:55007EE424", ok("40:55007EE424")),
        (" 24:7EE424 ", ok("24:7EE424")),
        ("56:F274238004DEC2", ok("56:F274238004DEC2")),
        // …but two digits after one colon are two hex bytes.
        ("12:34", ok("16:1234")),
        // Hex with separators: whole bytes in two-digit groups.
        ("04:A2:3B:1C", ok("32:04A23B1C")),
        ("04 a2 3b 1c", ok("32:04A23B1C")),
        ("04-A2-3B-1C", ok("32:04A23B1C")),
        ("04  a2 : 3b 1c", ok("32:04A23B1C")),
        ("12 34", ok("16:1234")),
        ("BCD14264", ok("32:BCD14264")),
        ("F274238004DEC2", ok("56:F274238004DEC2")),
        ("7ee424", ok("24:7EE424")),
        ("0x00", ok("8:00")),
        ("0x12345678", ok("32:12345678")),
        (
            "0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF",
            ok("128:FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"),
        ),
        // Decimal: bit length from the value.
        ("0", ok("24:000000")),
        ("16777215", ok("24:FFFFFF")),
        ("16777216", ok("32:01000000")),
        ("4294967295", ok("32:FFFFFFFF")),
        ("4294967296", ok("56:00000100000000")),
        ("72057594037927935", ok("56:FFFFFFFFFFFFFF")),
        // Errors.
        ("", Err(CardIdError::Empty)),
        ("   ", Err(CardIdError::Empty)),
        ("0x", Err(CardIdError::Empty)),
        ("ABC", Err(CardIdError::OddHexDigits { digits: 3 })),
        ("0x7EE42", Err(CardIdError::OddHexDigits { digits: 5 })),
        ("12G4", invalid('G', 3)),
        (" 12G4", invalid('G', 4)),
        ("0x12G4", invalid('G', 5)),
        ("126;58404", invalid(';', 4)),
        ("Ж123", invalid('Ж', 1)),
        ("04:A2:3B:1G", invalid('G', 11)),
        ("0x04:A2", invalid(':', 5)),
        ("126,5840a", invalid('a', 9)),
        ("04:A2:3", Err(CardIdError::HexGroup { group: "3".into() })),
        (
            "04:A2:3B1C",
            Err(CardIdError::HexGroup {
                group: "3B1C".into(),
            }),
        ),
        ("-5", Err(CardIdError::HexGroup { group: "5".into() })),
        (
            "126 58404",
            Err(CardIdError::HexGroup {
                group: "126".into(),
            }),
        ),
        (
            "256,1",
            Err(CardIdError::FacilityOutOfRange { text: "256".into() }),
        ),
        (
            "1,65536",
            Err(CardIdError::NumberOutOfRange {
                text: "65536".into(),
            }),
        ),
        (
            "1,99999999999999999999999999999999999999999",
            Err(CardIdError::NumberOutOfRange {
                text: "99999999999999999999999999999999999999999".into(),
            }),
        ),
        ("126,", Err(CardIdError::MalformedPair)),
        (",58404", Err(CardIdError::MalformedPair)),
        ("1,2,3", Err(CardIdError::MalformedPair)),
        ("12 6,58404", Err(CardIdError::MalformedPair)),
        (
            "72057594037927936",
            Err(CardIdError::DecimalOutOfRange {
                text: "72057594037927936".into(),
            }),
        ),
        (
            "99999999999999999999999999999999999999999999",
            Err(CardIdError::DecimalOutOfRange {
                text: "99999999999999999999999999999999999999999999".into(),
            }),
        ),
        (&"AB".repeat(17), Err(CardIdError::BitLength { bits: 136 })),
        (
            &["AB"; 17].join(":"),
            Err(CardIdError::BitLength { bits: 136 }),
        ),
        (
            &"1".repeat(81),
            Err(CardIdError::TooLong {
                len_bytes: 81,
                max_bytes: 80,
            }),
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(&canonical(input.parse()), expected, "input {input:?}");
    }
}

/// `from_hex` reads an all-digit string as hex; `from_decimal` never reads hex.
#[test]
fn explicit_hex_and_decimal_parsers() {
    let cases: &[(&str, Expected, Expected)] = &[
        // input, from_hex, from_decimal
        ("12345678", ok("32:12345678"), ok("24:BC614E")),
        ("0008106606", ok("40:0008106606"), ok("24:7BB26E")),
        ("55007EE424", ok("40:55007EE424"), invalid('E', 6)),
        ("04:A2:3B:1C", ok("32:04A23B1C"), invalid(':', 3)),
        ("0x7EE424", ok("24:7EE424"), invalid('x', 2)),
        ("", Err(CardIdError::Empty), Err(CardIdError::Empty)),
    ];
    for (input, hex, decimal) in cases {
        assert_eq!(
            &canonical(CardId::from_hex(input)),
            hex,
            "from_hex {input:?}"
        );
        assert_eq!(
            &canonical(CardId::from_decimal(input)),
            decimal,
            "from_decimal {input:?}"
        );
    }
}

#[test]
fn constructors() {
    let cases: &[(Result<CardId, CardIdError>, Expected)] = &[
        (
            Ok(CardId::em_marine(0x5500, 126, 58404)),
            ok("40:55007EE424"),
        ),
        (
            Ok(CardId::em_marine(0xFFFF, 255, 65535)),
            ok("40:FFFFFFFFFF"),
        ),
        (Ok(CardId::wiegand26(123, 45678)), ok("24:7BB26E")),
        (CardId::from_wiegand26_text("066", "53692"), ok("24:42D1BC")),
        (
            CardId::from_wiegand26_text("", "1"),
            Err(CardIdError::MalformedPair),
        ),
        (
            CardId::from_bytes(&[0x55, 0x00, 0x7E, 0xE4, 0x24]),
            ok("40:55007EE424"),
        ),
        (CardId::from_bytes(&[0, 0, 0, 1]), ok("32:00000001")),
        (CardId::from_bytes(&[]), Err(CardIdError::Empty)),
        (
            CardId::from_bytes(&[0xAB; 16]),
            ok(&format!("128:{}", "AB".repeat(16))),
        ),
        (
            CardId::from_bytes(&[0xAB; 17]),
            Err(CardIdError::BitLength { bits: 136 }),
        ),
        (CardId::from_bits(26, 0x3FF_FFFF), ok("26:3FFFFFF")),
        (CardId::from_bits(1, 1), ok("1:1")),
        (
            CardId::from_bits(128, u128::MAX),
            ok(&format!("128:{}", "F".repeat(32))),
        ),
        (
            CardId::from_bits(0, 0),
            Err(CardIdError::BitLength { bits: 0 }),
        ),
        (
            CardId::from_bits(129, 0),
            Err(CardIdError::BitLength { bits: 129 }),
        ),
        (
            CardId::from_bits(8, 256),
            Err(CardIdError::ValueTooWide {
                bits: 8,
                value: 256,
            }),
        ),
    ];
    for (built, expected) in cases {
        assert_eq!(&canonical(built.clone()), expected);
    }
    assert_eq!(CardId::wiegand26(123, 45678).value(), 8_106_606);
    assert_eq!(
        CardId::em_marine(0x5500, 126, 58404).value(),
        0x55_007E_E424
    );
}

#[test]
fn parse_canonical_accepts_only_the_canonical_form() {
    let not_canonical = |reason| Err(CardIdError::NotCanonical { reason });
    let cases: &[(&str, Expected)] = &[
        ("40:55007EE424", ok("40:55007EE424")),
        ("24:7EE424", ok("24:7EE424")),
        ("1:0", ok("1:0")),
        ("26:3FFFFFF", ok("26:3FFFFFF")),
        ("56:00000100000000", ok("56:00000100000000")),
        (
            "55007EE424",
            not_canonical("no ':' between the bit length and the hex value"),
        ),
        (
            "40:55007ee424",
            not_canonical("the value is not upper-case hex digits"),
        ),
        (
            "040:55007EE424",
            not_canonical("the bit length has a leading zero"),
        ),
        (
            " 40:55007EE424",
            not_canonical("the bit length is not a decimal number"),
        ),
        (
            ":55007EE424",
            not_canonical("the bit length is not a decimal number"),
        ),
        ("1000:0", not_canonical("the bit length is not 1 to 128")),
        (
            "40:5007EE424",
            not_canonical("the number of hex digits does not match the bit length"),
        ),
        (
            "40:",
            not_canonical("the number of hex digits does not match the bit length"),
        ),
        (
            "24:7EE424 ",
            not_canonical("the value is not upper-case hex digits"),
        ),
        (
            "24:7E:E4:24",
            not_canonical("the value is not upper-case hex digits"),
        ),
        ("0:0", Err(CardIdError::BitLength { bits: 0 })),
        ("129:0", Err(CardIdError::BitLength { bits: 129 })),
        ("1:2", Err(CardIdError::ValueTooWide { bits: 1, value: 2 })),
        (
            "26:4000000",
            Err(CardIdError::ValueTooWide {
                bits: 26,
                value: 0x400_0000,
            }),
        ),
        (
            &"1".repeat(81),
            Err(CardIdError::TooLong {
                len_bytes: 81,
                max_bytes: 80,
            }),
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(
            &canonical(CardId::parse_canonical(input)),
            expected,
            "input {input:?}"
        );
    }
}

/// id → hex, decimal, low24, pair, partial?, bytes.
#[test]
fn views() {
    type View = (
        &'static str,
        &'static str,
        u32,
        (u8, u16),
        bool,
        &'static [u8],
    );
    let cases: &[(&str, View)] = &[
        (
            "40:55007EE424",
            (
                "55007EE424",
                "365080536100",
                0x7E_E424,
                (126, 58404),
                false,
                &[0x55, 0x00, 0x7E, 0xE4, 0x24],
            ),
        ),
        (
            "24:7BB26E",
            (
                "7BB26E",
                "8106606",
                8_106_606,
                (123, 45678),
                true,
                &[0x7B, 0xB2, 0x6E],
            ),
        ),
        (
            "32:04A23B1C",
            (
                "04A23B1C",
                "77740828",
                0xA2_3B1C,
                (0xA2, 0x3B1C),
                false,
                &[4, 0xA2, 0x3B, 0x1C],
            ),
        ),
        (
            "16:E424",
            ("E424", "58404", 58404, (0, 58404), false, &[0xE4, 0x24]),
        ),
        (
            "26:3FFFFFF",
            (
                "3FFFFFF",
                "67108863",
                0xFF_FFFF,
                (255, 65535),
                false,
                &[3, 0xFF, 0xFF, 0xFF],
            ),
        ),
        ("1:1", ("1", "1", 1, (0, 1), false, &[1])),
    ];
    for (canonical_text, (hex, decimal, low24, pair, partial, bytes)) in cases {
        let card = id(canonical_text);
        assert_eq!(card.hex(), *hex, "{canonical_text}");
        assert_eq!(card.decimal(), *decimal, "{canonical_text}");
        assert_eq!(card.low24(), *low24, "{canonical_text}");
        assert_eq!(card.wiegand26_pair(), *pair, "{canonical_text}");
        assert_eq!(card.is_partial(), *partial, "{canonical_text}");
        assert_eq!(card.to_bytes(), *bytes, "{canonical_text}");
    }
    assert_eq!(format!("{:010}", id("40:55007EE424").low24()), "0008315940");
    assert_eq!(id("40:55007EE424").to_partial(), id("24:7EE424"));
    assert_eq!(id("16:E424").to_partial(), id("16:E424"));
}

#[test]
fn matching_rule() {
    let cases: &[(&str, &str, bool)] = &[
        ("40:55007EE424", "40:55007EE424", true),
        // A card enrolled by its printed pair matches the full Em-Marine id.
        ("24:7EE424", "40:55007EE424", true),
        ("24:42D1BC", "32:6442D1BC", true),
        ("24:04DEC2", "56:F274238004DEC2", true),
        ("24:7EE424", "24:7EE425", false),
        ("24:7EE424", "40:55007EE425", false),
        // Two full ids that share their low 24 bits are different cards.
        ("40:55007EE424", "40:56007EE424", false),
        ("32:007EE424", "40:55007EE424", false),
        // Shorter than 24 bits is not a partial of anything.
        ("16:E424", "24:00E424", false),
        ("24:00E424", "16:E424", false),
        ("24:7EE424", "26:07EE424", true),
    ];
    for (a, b, expected) in cases {
        assert_eq!(id(a).matches(&id(b)), *expected, "{a} vs {b}");
        assert_eq!(id(b).matches(&id(a)), *expected, "{b} vs {a}");
    }
}

#[test]
fn serde_uses_the_canonical_form() {
    let card = CardId::em_marine(0x5500, 126, 58404);
    assert_eq!(
        serde_json::to_string(&card).ok().as_deref(),
        Some("\"40:55007EE424\"")
    );
    let cases: &[(&str, Option<CardId>)] = &[
        ("\"40:55007EE424\"", Some(card)),
        ("\"24:7EE424\"", Some(CardId::wiegand26(126, 58404))),
        ("\"55007EE424\"", None),
        ("\"40:55007ee424\"", None),
        ("\"1:2\"", None),
        ("5", None),
        ("null", None),
    ];
    for (json, expected) in cases {
        assert_eq!(
            &serde_json::from_str::<CardId>(json).ok(),
            expected,
            "{json}"
        );
    }
}

#[test]
fn error_messages_say_what_is_wrong() {
    let cases: &[(&str, &str)] = &[
        ("", "card number is empty"),
        ("12G4", "unexpected character 'G' at position 3 of the card number"),
        ("ABC", "hex card number has an odd number of digits (3); a UID is whole bytes"),
        ("256,1", "Wiegand-26 facility code 256 is out of range (0 to 255)"),
        ("1,70000", "Wiegand-26 card number 70000 is out of range (0 to 65535)"),
        (
            "04:A2:3",
            "\"3\" is not a byte: separated hex card numbers are written as pairs of hex digits, like 04:A2:3B:1C",
        ),
    ];
    for (input, message) in cases {
        let error = input.parse::<CardId>().err().map(|e| e.to_string());
        assert_eq!(error.as_deref(), Some(*message), "input {input:?}");
    }
}

fn any_card_id() -> impl Strategy<Value = CardId> {
    (1..=CARD_BITS_MAX, any::<u128>()).prop_map(|(bits, value)| {
        let masked = if bits == CARD_BITS_MAX {
            value
        } else {
            value & ((1u128 << bits) - 1)
        };
        CardId::from_bits(bits, masked).expect("masked value fits")
    })
}

proptest! {
    #[test]
    fn canonical_text_round_trips(card in any_card_id()) {
        let text = card.to_string();
        prop_assert!(text.len() <= CARD_TEXT_LEN_MAX_BYTES);
        prop_assert_eq!(CardId::parse_canonical(&text), Ok(card));
        let json = serde_json::to_string(&card).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(serde_json::from_str::<CardId>(&json).ok(), Some(card));
    }

    #[test]
    fn bytes_round_trip_through_typed_hex(bytes in prop::collection::vec(any::<u8>(), 1..=16)) {
        let card = CardId::from_bytes(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(card.to_bytes(), bytes.clone());
        prop_assert_eq!(card.hex().len(), bytes.len() * 2);
        // Hex without a letter would read as decimal, so the typed form carries 0x.
        prop_assert_eq!(format!("0x{}", card.hex()).parse::<CardId>(), Ok(card));
        prop_assert_eq!(CardId::from_hex(&card.hex()), Ok(card));
        // One byte has no separator to show, so it would read as decimal too.
        if bytes.len() >= 2 {
            let separated: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
            prop_assert_eq!(separated.join(":").parse::<CardId>(), Ok(card));
            prop_assert_eq!(separated.join(" ").parse::<CardId>(), Ok(card));
        }
    }

    #[test]
    fn wiegand26_pair_round_trips(facility: u8, number: u16) {
        let card = CardId::wiegand26(facility, number);
        prop_assert_eq!(format!("{facility},{number}").parse::<CardId>(), Ok(card));
        prop_assert_eq!(format!("{facility:03},{number:05}").parse::<CardId>(), Ok(card));
        prop_assert_eq!(card.wiegand26_pair(), (facility, number));
        prop_assert_eq!(card.decimal().parse::<CardId>(), Ok(card));
    }

    #[test]
    fn em_marine_keeps_its_pair(bracket: u16, facility: u8, number: u16) {
        let card = CardId::em_marine(bracket, facility, number);
        prop_assert_eq!(card.wiegand26_pair(), (facility, number));
        prop_assert!(CardId::wiegand26(facility, number).matches(&card));
        prop_assert_eq!(card.to_partial(), CardId::wiegand26(facility, number));
    }

    #[test]
    fn decimal_bit_length_follows_the_value(value in 0u128..(1u128 << 56)) {
        let card = value.to_string().parse::<CardId>().map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(card.value(), value);
        let expected_bits = if value < 1 << 24 { 24 } else if value < 1 << 32 { 32 } else { 56 };
        prop_assert_eq!(card.bits(), expected_bits);
    }

    #[test]
    fn matching_is_symmetric_and_reflexive(a in any_card_id(), b in any_card_id()) {
        prop_assert!(a.matches(&a));
        prop_assert_eq!(a.matches(&b), b.matches(&a));
        if a.bits() > 24 {
            prop_assert!(a.to_partial().matches(&a));
        }
    }

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,100}") {
        if let Ok(card) = text.parse::<CardId>() {
            prop_assert_eq!(CardId::parse_canonical(&card.to_string()), Ok(card));
        }
        let _ = CardId::parse_canonical(&text);
        let _ = CardId::from_hex(&text);
        let _ = CardId::from_decimal(&text);
    }

    #[test]
    fn card_like_text_never_panics(text in "[0-9a-fA-FxX:, -]{0,90}") {
        if let Ok(card) = text.parse::<CardId>() {
            prop_assert_eq!(CardId::parse_canonical(&card.to_string()), Ok(card));
        }
        let _ = CardId::parse_canonical(&text);
    }
}

/// Cases per property below: each is a handful of parses, and a couple of hundred cover
/// the shapes without slowing `make test`.
const PARSER_CASES: u32 = 256;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(PARSER_CASES))]

    /// The canonical form is unique: whatever `parse_canonical` accepts, from any text or
    /// from text shaped like the canonical form, is exactly what `Display` writes back.
    #[test]
    fn parse_canonical_accepts_only_the_text_display_writes(
        text in prop_oneof![".{0,100}", "[0-9]{1,4}:[0-9A-Fa-f ]{0,34}"],
    ) {
        if let Ok(card) = CardId::parse_canonical(&text) {
            prop_assert_eq!(card.to_string(), text);
        }
    }

    /// A card shown on screen can be typed or pasted back: the canonical text, with or
    /// without surrounding blanks, reads as the same card wherever it has more than two
    /// hex digits (one or two digits after a colon read as a hex byte group instead).
    #[test]
    fn typed_canonical_text_reads_back(card in any_card_id(), blanks in "[ \t]{0,3}") {
        let text = card.to_string();
        let parsed = format!("{blanks}{text}{blanks}").parse::<CardId>();
        if card.bits() > 8 {
            prop_assert_eq!(parsed, Ok(card));
        }
    }

    /// Bit length and value: accepted exactly when the invariants hold, and then the
    /// canonical text round-trips.
    #[test]
    fn from_bits_keeps_the_invariants(bits: u8, value: u128) {
        let valid = (1..=CARD_BITS_MAX).contains(&bits)
            && (bits == CARD_BITS_MAX || value >> bits == 0);
        match CardId::from_bits(bits, value) {
            Ok(card) => {
                prop_assert!(valid);
                prop_assert_eq!((card.bits(), card.value()), (bits, value));
                prop_assert_eq!(CardId::parse_canonical(&card.to_string()), Ok(card));
            }
            Err(_) => prop_assert!(!valid),
        }
    }

    /// UID bytes of any length: one to sixteen make a card that gives its bytes back,
    /// anything else is an error, never a panic.
    #[test]
    fn from_bytes_takes_one_to_sixteen(bytes in prop::collection::vec(any::<u8>(), 0..24)) {
        match CardId::from_bytes(&bytes) {
            Ok(card) => {
                prop_assert!((1..=16).contains(&bytes.len()));
                prop_assert_eq!(card.to_bytes(), bytes);
            }
            Err(_) => prop_assert!(bytes.is_empty() || bytes.len() > 16),
        }
    }

    /// A Wiegand-26 pair from any two texts: no panic, and an accepted pair is the
    /// partial id of the numbers written.
    #[test]
    fn wiegand26_text_never_panics(
        facility in prop_oneof![".{0,12}", "[0-9 ]{0,6}"],
        number in prop_oneof![".{0,12}", "[0-9 ]{0,8}"],
    ) {
        if let Ok(card) = CardId::from_wiegand26_text(&facility, &number) {
            let facility: u8 = facility.trim().parse().map_err(|_| TestCaseError::fail("facility"))?;
            let number: u16 = number.trim().parse().map_err(|_| TestCaseError::fail("number"))?;
            prop_assert_eq!(card, CardId::wiegand26(facility, number));
        }
    }
}
