use super::*;
use proptest::prelude::*;

use Wiegand34ByteOrder::{AsSent, Reversed};

/// Format, bit count, data, byte order, expected.
type Case<'a> = (
    u8,
    u16,
    &'a [u8],
    Wiegand34ByteOrder,
    Result<CardId, CardBitsError>,
);

fn card(canonical: &str) -> Result<CardId, CardBitsError> {
    Ok(CardId::parse_canonical(canonical).expect("test ids are canonical"))
}

/// (format, bit count, data, byte order, expected). Wiegand frames worked out by hand:
/// `123,45678` is `1 01111011 1011001001101110 1`.
#[test]
fn raw_card_bits() {
    let cases: &[Case] = &[
        // Wiegand-26.
        (
            1,
            26,
            &[0xbd, 0xd9, 0x37, 0x40],
            AsSent,
            Ok(CardId::wiegand26(123, 45678)),
        ),
        (
            1,
            26,
            &[0x00, 0x00, 0x00, 0x40],
            AsSent,
            Ok(CardId::wiegand26(0, 0)),
        ),
        (
            1,
            26,
            &[0x7f, 0xff, 0xff, 0xc0],
            AsSent,
            Ok(CardId::wiegand26(255, 65535)),
        ),
        (
            1,
            26,
            &[0xbf, 0x72, 0x12, 0x00],
            AsSent,
            Ok(CardId::wiegand26(126, 58404)),
        ),
        // Pad bits after the frame are ignored.
        (
            1,
            26,
            &[0xbd, 0xd9, 0x37, 0x7f],
            AsSent,
            Ok(CardId::wiegand26(123, 45678)),
        ),
        // Leading parity flipped, a data bit in each half flipped, trailing parity flipped.
        (
            1,
            26,
            &[0x3d, 0xd9, 0x37, 0x40],
            AsSent,
            Err(CardBitsError::EvenParity { bits: 26 }),
        ),
        (
            1,
            26,
            &[0xbd, 0x59, 0x37, 0x40],
            AsSent,
            Err(CardBitsError::EvenParity { bits: 26 }),
        ),
        (
            1,
            26,
            &[0xbd, 0xd9, 0x36, 0x40],
            AsSent,
            Err(CardBitsError::OddParity { bits: 26 }),
        ),
        (
            1,
            26,
            &[0xbd, 0xd9, 0x37, 0x00],
            AsSent,
            Err(CardBitsError::OddParity { bits: 26 }),
        ),
        // HARDWARE.md's RAW example (libosdp's sample event) fails the leading parity.
        (
            1,
            26,
            &[0x01, 0x02, 0x03, 0x0c],
            AsSent,
            Err(CardBitsError::EvenParity { bits: 26 }),
        ),
        // The same bits in the raw format are kept whole.
        (0, 26, &[0x01, 0x02, 0x03, 0x0c], AsSent, card("26:004080C")),
        // Wiegand-34.
        (
            1,
            34,
            &[0x02, 0x51, 0x1d, 0x8e, 0x40],
            AsSent,
            card("32:04A23B1C"),
        ),
        (
            1,
            34,
            &[0x02, 0x51, 0x1d, 0x8e, 0x40],
            Reversed,
            card("32:1C3BA204"),
        ),
        (
            1,
            34,
            &[0x00, 0x00, 0x00, 0x00, 0x40],
            AsSent,
            card("32:00000000"),
        ),
        (
            1,
            34,
            &[0x7f, 0xff, 0xff, 0xff, 0xc0],
            AsSent,
            card("32:FFFFFFFF"),
        ),
        (
            1,
            34,
            &[0x82, 0x51, 0x1d, 0x8e, 0x40],
            AsSent,
            Err(CardBitsError::EvenParity { bits: 34 }),
        ),
        (
            1,
            34,
            &[0x02, 0x51, 0x1d, 0x8e, 0x00],
            AsSent,
            Err(CardBitsError::OddParity { bits: 34 }),
        ),
        // Other lengths: the bits as received.
        (
            1,
            37,
            &[0x12, 0x34, 0x56, 0x78, 0x90],
            AsSent,
            card("37:02468ACF12"),
        ),
        (1, 8, &[0xa5], AsSent, card("8:A5")),
        (
            1,
            128,
            &[0xff; 16],
            AsSent,
            card("128:FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"),
        ),
        // Lengths a card id cannot hold, and data that does not match the count.
        (
            1,
            0,
            &[],
            AsSent,
            Err(CardIdError::BitLength { bits: 0 }.into()),
        ),
        (
            1,
            129,
            &[0; 17],
            AsSent,
            Err(CardIdError::BitLength { bits: 129 }.into()),
        ),
        (
            1,
            300,
            &[0; 38],
            AsSent,
            Err(CardIdError::BitLength { bits: 300 }.into()),
        ),
        (
            1,
            26,
            &[0xbd, 0xd9, 0x37],
            AsSent,
            Err(CardBitsError::DataLength {
                bits: 26,
                data_len_bytes: 3,
            }),
        ),
        (
            1,
            26,
            &[0; 5],
            AsSent,
            Err(CardBitsError::DataLength {
                bits: 26,
                data_len_bytes: 5,
            }),
        ),
        (
            1,
            65535,
            &[],
            AsSent,
            Err(CardBitsError::DataLength {
                bits: 65535,
                data_len_bytes: 0,
            }),
        ),
    ];
    for (format, bits, data, order, expected) in cases {
        assert_eq!(
            &card_id(*format, *bits, data, *order),
            expected,
            "format {format}, {bits} bits {data:02x?}"
        );
    }
}

/// Builds a Wiegand frame around `data_bits` (MSB first) with correct parity.
fn wiegand(data_bits: &[bool]) -> (u16, Vec<u8>) {
    let half = data_bits.len() / 2;
    let even = data_bits[..half].iter().filter(|&&bit| bit).count() % 2 == 1;
    let odd = data_bits[half..].iter().filter(|&&bit| bit).count() % 2 == 0;
    let mut all = vec![even];
    all.extend_from_slice(data_bits);
    all.push(odd);
    let mut bytes = vec![0u8; all.len().div_ceil(8)];
    for (index, &bit) in all.iter().enumerate() {
        if bit {
            bytes[index / 8] |= 0x80 >> (index % 8);
        }
    }
    (all.len() as u16, bytes)
}

fn bits_of(value: u32, count: usize) -> Vec<bool> {
    (0..count)
        .rev()
        .map(|shift| (value >> shift) & 1 == 1)
        .collect()
}

proptest! {
    #[test]
    fn wiegand26_any_pair(facility in any::<u8>(), number in any::<u16>(), flip in 0usize..26) {
        let value = (u32::from(facility) << 16) | u32::from(number);
        let (bits, data) = wiegand(&bits_of(value, 24));
        prop_assert_eq!(card_id(1, bits, &data, AsSent), Ok(CardId::wiegand26(facility, number)));
        // Any single flipped bit fails one parity.
        let mut damaged = data.clone();
        damaged[flip / 8] ^= 0x80 >> (flip % 8);
        let parity_failed = matches!(
            card_id(1, bits, &damaged, AsSent),
            Err(CardBitsError::EvenParity { .. } | CardBitsError::OddParity { .. })
        );
        prop_assert!(parity_failed);
    }

    #[test]
    fn wiegand34_any_uid(uid in any::<u32>(), flip in 0usize..34) {
        let (bits, data) = wiegand(&bits_of(uid, 32));
        prop_assert_eq!(card_id(1, bits, &data, AsSent), Ok(CardId::from_bytes(&uid.to_be_bytes()).expect("4 bytes")));
        prop_assert_eq!(card_id(1, bits, &data, Reversed), Ok(CardId::from_bytes(&uid.to_le_bytes()).expect("4 bytes")));
        let mut damaged = data.clone();
        damaged[flip / 8] ^= 0x80 >> (flip % 8);
        prop_assert!(card_id(1, bits, &damaged, AsSent).is_err());
    }

    #[test]
    fn arbitrary_bits_never_panic(format in any::<u8>(), bits in any::<u16>(), data in prop::collection::vec(any::<u8>(), 0..40)) {
        let _ = card_id(format, bits, &data, AsSent);
        let _ = card_id(format, bits, &data, Reversed);
    }
}
