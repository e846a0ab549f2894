use super::*;
use proptest::prelude::*;

fn hex(text: &str) -> Vec<u8> {
    text.split_whitespace()
        .map(|pair| u8::from_str_radix(pair, 16).expect("test hex is valid"))
        .collect()
}

const STEADY_GREEN: LedPattern = LedPattern {
    on_100ms: 1,
    off_100ms: 0,
    on_color: LedColor::Green,
    off_color: LedColor::Black,
};

const BLINK_RED: LedPattern = LedPattern {
    on_100ms: 5,
    off_100ms: 5,
    on_color: LedColor::Red,
    off_color: LedColor::Black,
};

/// Each command and its (code, data), written out byte by byte.
#[test]
fn commands() {
    let cases: Vec<(Command, u8, &str)> = vec![
        (Command::Poll, 0x60, ""),
        (Command::Id, 0x61, "00"),
        (Command::Cap, 0x62, "00"),
        (
            // HARDWARE.md: pulse relay 0 for 3 s.
            Command::Out(vec![OutputCommand {
                output: 0,
                code: OutputCode::TemporaryOn,
                timer_100ms: 30,
            }]),
            0x68,
            "00 05 1e 00",
        ),
        (
            Command::Out(vec![
                OutputCommand {
                    output: 1,
                    code: OutputCode::PermanentOnAbortTimer,
                    timer_100ms: 0,
                },
                OutputCommand {
                    output: 2,
                    code: OutputCode::TemporaryOff,
                    timer_100ms: 0x1234,
                },
            ]),
            0x68,
            "01 02 00 00 02 06 34 12",
        ),
        (Command::Out(vec![]), 0x68, ""),
        (
            Command::Led(vec![LedCommand {
                reader: 0,
                led: 1,
                temporary: LedTemporary::Set {
                    pattern: BLINK_RED,
                    timer_100ms: 300,
                },
                permanent: LedPermanent::Set(STEADY_GREEN),
            }]),
            0x69,
            "00 01 02 05 05 01 00 2c 01 01 01 00 02 00",
        ),
        (
            Command::Led(vec![
                LedCommand {
                    reader: 0,
                    led: 0,
                    temporary: LedTemporary::Cancel,
                    permanent: LedPermanent::Nop,
                },
                LedCommand {
                    reader: 1,
                    led: 0,
                    temporary: LedTemporary::Nop,
                    permanent: LedPermanent::Nop,
                },
            ]),
            0x69,
            "00 00 01 00 00 00 00 00 00 00 00 00 00 00 \
             01 00 00 00 00 00 00 00 00 00 00 00 00 00",
        ),
        (
            Command::Buzzer(BuzzerCommand {
                reader: 0,
                tone: BuzzerTone::Default,
                on_100ms: 2,
                off_100ms: 1,
                count: 3,
            }),
            0x6a,
            "00 02 02 01 03",
        ),
        (
            Command::ComSet {
                addr: 5,
                baud_rate: 115_200,
            },
            0x6e,
            "05 00 c2 01 00",
        ),
        (
            Command::KeySet {
                scbk: core::array::from_fn(|index| 0x30 + index as u8),
            },
            0x75,
            "01 10 30 31 32 33 34 35 36 37 38 39 3a 3b 3c 3d 3e 3f",
        ),
        (
            Command::Chlng {
                rnd_a: [1, 2, 3, 4, 5, 6, 7, 8],
            },
            0x76,
            "01 02 03 04 05 06 07 08",
        ),
        (
            Command::Scrypt {
                server_cryptogram: [0xaa; 16],
            },
            0x77,
            "aa aa aa aa aa aa aa aa aa aa aa aa aa aa aa aa",
        ),
    ];
    for (command, code, data) in cases {
        assert_eq!(command.encode(), (code, hex(data)), "{command:?}");
        assert_eq!(command.code(), code);
    }
}

/// Each reply code with good and bad data.
#[test]
fn replies() {
    let length = |code, len_bytes, expected| {
        Err(ReplyError::Length {
            code,
            len_bytes,
            expected,
        })
    };
    let cases: Vec<(u8, &str, Result<Reply, ReplyError>)> = vec![
        (0x40, "", Ok(Reply::Ack)),
        (0x79, "", Ok(Reply::Busy)),
        (
            0x49,
            "00 01 00 02",
            Ok(Reply::InputStatus(vec![false, true, false, true])),
        ),
        (0x49, "", Ok(Reply::InputStatus(vec![]))),
        (
            0x41,
            "01",
            Ok(Reply::Nak {
                reason: NakReason::Check,
                detail: vec![],
            }),
        ),
        (
            0x41,
            "06 01",
            Ok(Reply::Nak {
                reason: NakReason::SecureChannelConditions,
                detail: vec![1],
            }),
        ),
        (
            0x41,
            "09",
            Ok(Reply::Nak {
                reason: NakReason::Other(9),
                detail: vec![],
            }),
        ),
        (0x41, "", length(0x41, 0, "at least 1")),
        (
            0x45,
            "5c 26 23 01 02 78 56 34 12 03 04 05",
            Ok(Reply::PdId {
                vendor: [0x5c, 0x26, 0x23],
                model: 1,
                version: 2,
                serial: 0x1234_5678,
                firmware: FirmwareVersion {
                    major: 3,
                    minor: 4,
                    build: 5,
                },
            }),
        ),
        (
            0x45,
            "5c 26 23 01 02 78 56 34 12 03 04",
            length(0x45, 11, "12"),
        ),
        (
            0x46,
            "01 02 04 02 02 01 0a 00 01",
            Ok(Reply::PdCap(vec![
                Capability {
                    function: 1,
                    compliance: 2,
                    count: 4,
                },
                Capability {
                    function: 2,
                    compliance: 2,
                    count: 1,
                },
                Capability {
                    function: 10,
                    compliance: 0,
                    count: 1,
                },
            ])),
        ),
        (0x46, "", Ok(Reply::PdCap(vec![]))),
        (0x46, "01 02", length(0x46, 2, "a multiple of 3")),
        (
            // HARDWARE.md's RAW reply.
            0x50,
            "00 01 1a 00 01 02 03 0c",
            Ok(Reply::RawCard(RawCard {
                reader: 0,
                format: 1,
                bits: 26,
                data: vec![1, 2, 3, 0x0c],
            })),
        ),
        (0x50, "00 01 1a", length(0x50, 3, "at least 4")),
        (
            0x50,
            "00 01 1a 00 01 02 03",
            length(0x50, 7, "4 + the bit count / 8, rounded up"),
        ),
        (
            0x53,
            "00 03 31 32 7f",
            Ok(Reply::Keypad {
                reader: 0,
                digits: vec![0x31, 0x32, 0x7f],
            }),
        ),
        (0x53, "00 03 31 32", length(0x53, 4, "2 + the digit count")),
        (0x53, "00", length(0x53, 1, "at least 2")),
        (
            0x76,
            "00 01 02 03 04 05 06 07 10 11 12 13 14 15 16 17 \
             20 21 22 23 24 25 26 27 28 29 2a 2b 2c 2d 2e 2f",
            Ok(Reply::CCrypt {
                client_uid: [0, 1, 2, 3, 4, 5, 6, 7],
                rnd_b: [0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17],
                client_cryptogram: core::array::from_fn(|index| 0x20 + index as u8),
            }),
        ),
        (0x76, "00 01", length(0x76, 2, "32")),
        (
            0x78,
            "00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f",
            Ok(Reply::RMacI {
                rmac: core::array::from_fn(|index| index as u8),
            }),
        ),
        (0x78, "", length(0x78, 0, "16")),
        (
            0x48,
            "00 01",
            Ok(Reply::Unknown {
                code: 0x48,
                data: vec![0, 1],
            }),
        ),
    ];
    for (code, data, expected) in cases {
        assert_eq!(
            Reply::parse(code, &hex(data)),
            expected,
            "{code:#04x} {data}"
        );
    }
}

/// From the wire to a card id: the HARDWARE.md example and a good Wiegand-26 read.
#[test]
fn raw_card_to_card_id() {
    let raw = |data: &[u8]| RawCard {
        reader: 0,
        format: card::FORMAT_WIEGAND,
        bits: 26,
        data: data.to_vec(),
    };
    assert_eq!(
        raw(&[1, 2, 3, 0x0c]).card_id(Wiegand34ByteOrder::AsSent),
        Err(CardBitsError::EvenParity { bits: 26 })
    );
    assert_eq!(
        raw(&[0xbd, 0xd9, 0x37, 0x40]).card_id(Wiegand34ByteOrder::AsSent),
        Ok(CardId::wiegand26(123, 45678))
    );
}

proptest! {
    #[test]
    fn arbitrary_replies_never_panic(code in any::<u8>(), data in prop::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(Reply::RawCard(raw)) = Reply::parse(code, &data) {
            let _ = raw.card_id(Wiegand34ByteOrder::AsSent);
        }
    }
}
