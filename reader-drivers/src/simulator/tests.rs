use std::sync::mpsc;
use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::serial::{SerialReader, SerialReaderConfig};
use crate::serial_line::{decode, LineFormat, ReaderEvent};

/// Longest a test waits for the reader thread to pass a card on, in milliseconds.
const WAIT_MS_MAX: u64 = 3_000;

fn card(canonical: &str) -> CardId {
    CardId::parse_canonical(canonical).expect("test ids are canonical")
}

#[test]
fn z2_lines_are_what_the_reader_prints() {
    assert_eq!(
        z2_line(&card("40:55007EE424")).unwrap(),
        "Em-Marine[5500] 126,58404"
    );
    assert_eq!(
        z2_line(&card("32:BCD14264")).unwrap(),
        "Mifare[BCD14264] 1K (0004,08) 066,53692"
    );
    assert_eq!(
        z2_line(&card("56:F274238004DEC2")).unwrap(),
        "Mifare[F274238004DEC2] UL (0144,00) 004,57026"
    );
    assert_eq!(
        z2_line(&card("24:7EE424")).unwrap(),
        "Em-Marine[0000] 126,58404"
    );
    assert!(matches!(
        z2_line(&card("34:012345678")),
        Err(SimulatorError::Unsupported { bits: 34 })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever card a Z-2 reader can read, its line decodes back to the same card (a
    /// 24-bit one to an Em-Marine id with the same low 24 bits, which matches it).
    #[test]
    fn z2_lines_decode_to_the_card(bits in prop::sample::select(vec![24u8, 32, 40, 56]), value: u64) {
        let value = u128::from(value) & ((1u128 << bits) - 1);
        let card = CardId::from_bits(bits, value).unwrap();
        let line = z2_line(&card).unwrap();
        match decode(&LineFormat::IronLogicZ2, &line) {
            Ok(ReaderEvent::CardPresented { card: read, raw }) => {
                prop_assert_eq!(raw, line);
                if bits == 24 {
                    prop_assert!(read.matches(&card), "{} does not match {}", read, card);
                } else {
                    prop_assert_eq!(read, card);
                }
            }
            other => prop_assert!(false, "{line:?} gave {other:?}"),
        }
    }
}

#[test]
fn a_presented_card_reaches_a_serial_reader_through_the_pty() {
    let simulated = SimulatedSerialReader::new().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = SerialReader::spawn(
        SerialReaderConfig::new("demo-in", simulated.path(), LineFormat::IronLogicZ2),
        tx,
    )
    .unwrap();
    let wait = Duration::from_millis(WAIT_MS_MAX);
    // The reader may open the port after the first write: present until it is seen.
    let deadline = std::time::Instant::now() + wait;
    while !reader.health().online {
        assert!(
            std::time::Instant::now() < deadline,
            "reader never opened the pty"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    for canonical in ["40:55007EE424", "32:BCD14264"] {
        let line = simulated.present(&card(canonical)).unwrap();
        let read = rx.recv_timeout(wait).expect("a card read");
        assert_eq!(
            (read.card, read.reader.as_str(), read.raw),
            (card(canonical), "demo-in", line)
        );
    }
    // Garbage on the line is counted, not passed on, and the next card still arrives.
    simulated.write_raw(b"\x00\xff garbage\r\n").unwrap();
    simulated.present(&card("40:0000000001")).unwrap();
    let read = rx.recv_timeout(wait).expect("a card read after garbage");
    assert_eq!(read.card, card("40:0000000001"));
    assert!(reader.health().line_errors >= 1);
    assert!(reader.stop());
}

#[test]
fn a_relay_pulse_lets_one_through_and_an_emergency_counts_nobody() {
    use crate::gate::{Direction, Gate, GateEvent, LcusGateConfig, LcusRelayGate, PassReport};
    use crate::serial::PortSettings;
    let (tx, events) = mpsc::channel();
    let turnstile = SimulatedRelayTurnstile::new(
        RelayTurnstileConfig {
            entry_channel: 1,
            exit_channel: 2,
            walk_through: Duration::from_millis(50),
        },
        tx.clone(),
    )
    .unwrap();
    let gate = LcusRelayGate::open_port(
        turnstile.path(),
        &PortSettings::default(),
        LcusGateConfig {
            entry_channel: 1,
            exit_channel: 2,
            pulse_hold: Duration::from_millis(100),
            pass_report: PassReport::None,
        },
        tx,
    )
    .unwrap();
    let wait = Duration::from_millis(WAIT_MS_MAX);
    gate.open(Direction::Exit).unwrap();
    assert_eq!(
        events.recv_timeout(wait).unwrap(),
        GateEvent::PassConfirmed {
            direction: Direction::Exit
        }
    );
    gate.open(Direction::Entry).unwrap();
    assert_eq!(
        events.recv_timeout(wait).unwrap(),
        GateEvent::PassConfirmed {
            direction: Direction::Entry
        }
    );
    gate.emergency_unlock().unwrap();
    let deadline = std::time::Instant::now() + wait;
    while !(turnstile.relay_closed(1) && turnstile.relay_closed(2)) {
        assert!(
            std::time::Instant::now() < deadline,
            "relays not held closed"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(events.recv_timeout(Duration::from_millis(200)).is_err());
    gate.lock().unwrap();
}
