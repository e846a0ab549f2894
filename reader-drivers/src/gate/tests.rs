use std::io::Read;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use serialport::{SerialPort, TTYPort};

use super::lcus::{self, DecodeError, RelayCommand};
use super::*;
use crate::serial::PortSettings;

/// Longest a test waits for bytes or events, in milliseconds.
const WAIT_MS_MAX: u64 = 3_000;

#[test]
fn lcus_frames() {
    let cases: &[(u8, bool, [u8; 4])] = &[
        (1, true, [0xA0, 0x01, 0x01, 0xA2]),
        (1, false, [0xA0, 0x01, 0x00, 0xA1]),
        (2, true, [0xA0, 0x02, 0x01, 0xA3]),
        (4, false, [0xA0, 0x04, 0x00, 0xA4]),
        (0x60, true, [0xA0, 0x60, 0x01, 0x01]), // the sum wraps
    ];
    for &(channel, on, frame) in cases {
        assert_eq!(lcus::encode(channel, on), frame, "encode {channel} {on}");
        assert_eq!(lcus::decode(&frame), Ok(RelayCommand { channel, on }));
    }
    let bad: &[(&[u8], DecodeError)] = &[
        (&[0xA0, 0x01, 0x01], DecodeError::Length { len: 3 }),
        (
            &[0xA0, 0x01, 0x01, 0xA2, 0x00],
            DecodeError::Length { len: 5 },
        ),
        (&[0xA1, 0x01, 0x01, 0xA3], DecodeError::Start(0xA1)),
        (&[0xA0, 0x01, 0x02, 0xA3], DecodeError::State(0x02)),
        (
            &[0xA0, 0x01, 0x01, 0xA1],
            DecodeError::Checksum {
                found: 0xA1,
                expected: 0xA2,
            },
        ),
    ];
    for (frame, error) in bad {
        assert_eq!(lcus::decode(frame).as_ref(), Err(error), "{frame:02x?}");
    }
}

#[test]
fn lcus_codec_round_trips_every_frame() {
    for channel in 0..=u8::MAX {
        for on in [false, true] {
            assert_eq!(
                lcus::decode(&lcus::encode(channel, on)),
                Ok(RelayCommand { channel, on })
            );
        }
    }
}

/// The relay board's side of a pty: the test reads what the gate writes.
struct FakeBoard {
    master: TTYPort,
    _slave: TTYPort,
    path: String,
}

impl FakeBoard {
    fn new() -> FakeBoard {
        let (master, slave) = TTYPort::pair().expect("pseudo-terminal");
        let path = slave.name().expect("slave has a path");
        FakeBoard {
            master,
            _slave: slave,
            path,
        }
    }

    /// Reads `count` frames, each with the instant its last byte arrived.
    fn frames(&mut self, count: usize) -> Vec<(RelayCommand, Instant)> {
        let deadline = Instant::now() + Duration::from_millis(WAIT_MS_MAX);
        let mut bytes = Vec::new();
        let mut frames = Vec::new();
        let mut buffer = [0u8; 64];
        while frames.len() < count {
            assert!(Instant::now() < deadline, "timed out; got {frames:?}");
            match self.master.read(&mut buffer) {
                Ok(n) => bytes.extend_from_slice(&buffer[..n]),
                Err(error) if error.kind() == std::io::ErrorKind::TimedOut => continue,
                Err(error) => panic!("pty read: {error}"),
            }
            let at = Instant::now();
            while bytes.len() >= lcus::FRAME_LEN_BYTES {
                let frame: Vec<u8> = bytes.drain(..lcus::FRAME_LEN_BYTES).collect();
                frames.push((lcus::decode(&frame).expect("a relay frame"), at));
            }
        }
        assert!(bytes.is_empty(), "stray bytes {bytes:02x?}");
        frames
    }

    fn assert_silent(&mut self) {
        self.master
            .set_timeout(Duration::from_millis(50))
            .expect("timeout");
        let mut buffer = [0u8; 16];
        match self.master.read(&mut buffer) {
            Err(error) if error.kind() == std::io::ErrorKind::TimedOut => {}
            other => panic!("expected silence, got {other:?}"),
        }
    }
}

fn cmd(channel: u8, on: bool) -> RelayCommand {
    RelayCommand { channel, on }
}

fn relay_gate(
    board: &FakeBoard,
    pass_report: PassReport,
) -> (LcusRelayGate, mpsc::Receiver<GateEvent>) {
    let (tx, rx) = mpsc::channel();
    let config = LcusGateConfig {
        entry_channel: 1,
        exit_channel: 2,
        pass_report,
        ..LcusGateConfig::default()
    };
    let gate = LcusRelayGate::open_port(&board.path, &PortSettings::default(), config, tx)
        .expect("gate on the pty");
    (gate, rx)
}

#[test]
fn relay_pulse_is_on_hold_off_on_the_direction_channel() {
    let mut board = FakeBoard::new();
    let (gate, rx) = relay_gate(&board, PassReport::None);

    let opener = thread::spawn(move || {
        gate.open(Direction::Exit).expect("pulse");
        gate
    });
    let frames = board.frames(2);
    let gate = opener.join().expect("opener");
    assert_eq!(
        frames.iter().map(|(c, _)| *c).collect::<Vec<_>>(),
        vec![cmd(2, true), cmd(2, false)]
    );
    let held = frames[1].1 - frames[0].1;
    assert!(
        held >= Duration::from_millis(RELAY_PULSE_HOLD_MIN_MS),
        "relay held {held:?}"
    );
    // No sensor, not configured to assume passes: nothing reported.
    assert!(rx.try_recv().is_err());

    gate.lock().expect("lock");
    assert_eq!(
        board.frames(2).iter().map(|(c, _)| *c).collect::<Vec<_>>(),
        vec![cmd(1, false), cmd(2, false)]
    );
}

#[test]
fn relay_gate_without_sensor_assumes_the_pass_after_the_pulse() {
    let mut board = FakeBoard::new();
    let (gate, rx) = relay_gate(&board, PassReport::AssumeAfterPulse);
    gate.open(Direction::Entry).expect("pulse");
    assert_eq!(
        board.frames(2).iter().map(|(c, _)| *c).collect::<Vec<_>>(),
        vec![cmd(1, true), cmd(1, false)]
    );
    assert_eq!(
        rx.try_recv(),
        Ok(GateEvent::PassConfirmed {
            direction: Direction::Entry
        })
    );
}

#[test]
fn emergency_unlock_closes_every_relay_and_holds_until_lock() {
    let mut board = FakeBoard::new();
    let (gate, rx) = relay_gate(&board, PassReport::AssumeAfterPulse);
    gate.emergency_unlock().expect("unlock");
    assert_eq!(
        board.frames(2).iter().map(|(c, _)| *c).collect::<Vec<_>>(),
        vec![cmd(1, true), cmd(2, true)]
    );
    // Already open: an opening must not pulse (its "off" would lock the gate).
    gate.open(Direction::Entry).expect("no-op");
    board.assert_silent();
    assert!(rx.try_recv().is_err());

    gate.lock().expect("lock");
    assert_eq!(
        board.frames(2).iter().map(|(c, _)| *c).collect::<Vec<_>>(),
        vec![cmd(1, false), cmd(2, false)]
    );
}

#[test]
fn relay_gate_refuses_short_pulses_and_channel_zero() {
    let (tx, _rx) = mpsc::channel();
    let short = LcusGateConfig {
        pulse_hold: Duration::from_millis(RELAY_PULSE_HOLD_MIN_MS - 1),
        ..LcusGateConfig::default()
    };
    assert!(matches!(
        LcusRelayGate::new(Box::new(Vec::new()), short, tx.clone()),
        Err(GateError::Config(_))
    ));
    let zero = LcusGateConfig {
        exit_channel: 0,
        ..LcusGateConfig::default()
    };
    assert!(matches!(
        LcusRelayGate::new(Box::new(Vec::new()), zero, tx),
        Err(GateError::Config(_))
    ));
}

#[test]
fn relay_gate_reports_a_port_that_is_not_there() {
    let (tx, _rx) = mpsc::channel();
    let result = LcusRelayGate::open_port(
        "/dev/schoolcard-no-such-relay",
        &PortSettings::default(),
        LcusGateConfig::default(),
        tx,
    );
    assert!(matches!(result, Err(GateError::Port(_))));
}

const FAST: SimulatedTurnstileConfig = SimulatedTurnstileConfig {
    walk_through: Duration::from_millis(30),
    pass_timeout: Duration::from_millis(60),
};

fn next_event(rx: &mpsc::Receiver<GateEvent>) -> GateEvent {
    rx.recv_timeout(Duration::from_millis(WAIT_MS_MAX))
        .expect("an event")
}

#[test]
fn simulated_turnstile_scenario() {
    let (tx, rx) = mpsc::channel();
    let turnstile = SimulatedTurnstile::new(FAST, tx);
    let entry = Direction::Entry;
    let exit = Direction::Exit;

    turnstile.open(entry).expect("open");
    assert_eq!(turnstile.state(), TurnstileState::Open(entry));
    assert_eq!(
        next_event(&rx),
        GateEvent::PassConfirmed { direction: entry }
    );
    assert_eq!(turnstile.state(), TurnstileState::Locked);

    turnstile.simulate_no_pass();
    turnstile.open(exit).expect("open");
    assert_eq!(next_event(&rx), GateEvent::PassTimedOut { direction: exit });

    // Armed once: the next opening passes again.
    turnstile.open(exit).expect("open");
    assert_eq!(
        next_event(&rx),
        GateEvent::PassConfirmed { direction: exit }
    );

    // Locked before anyone passed: the opening reports nothing.
    turnstile.open(entry).expect("open");
    turnstile.lock().expect("lock");
    assert_eq!(turnstile.state(), TurnstileState::Locked);
    thread::sleep(FAST.pass_timeout * 2);
    assert!(rx.try_recv().is_err());

    // Emergency: held open, openings do nothing, until locked.
    turnstile.emergency_unlock().expect("unlock");
    turnstile.open(entry).expect("no-op");
    thread::sleep(FAST.pass_timeout * 2);
    assert_eq!(turnstile.state(), TurnstileState::EmergencyUnlocked);
    assert!(rx.try_recv().is_err());
    turnstile.lock().expect("lock");
    assert_eq!(turnstile.state(), TurnstileState::Locked);

    // Usable through the trait, shared with another thread.
    let shared: std::sync::Arc<dyn Gate> = std::sync::Arc::new(turnstile);
    let other = std::sync::Arc::clone(&shared);
    thread::spawn(move || other.open(exit))
        .join()
        .expect("thread")
        .expect("open");
    assert_eq!(
        next_event(&rx),
        GateEvent::PassConfirmed { direction: exit }
    );
}

/// The LCUS relay codec against generated bytes: what a line or a fuzzer could deliver.
mod lcus_properties {
    use proptest::prelude::*;

    use crate::gate::lcus::{self, DecodeError, RelayCommand, FRAME_LEN_BYTES, FRAME_START};

    /// Cases per property: the frame is four bytes, so a few hundred reach every branch.
    const CASES: u32 = 256;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(CASES))]

        /// Any bytes: no panic, and a frame is accepted only if it is exactly what
        /// `encode` writes for the command it decodes to (one spelling per command).
        #[test]
        fn decode_accepts_only_encoded_frames(
            bytes in prop::collection::vec(any::<u8>(), 0..12),
        ) {
            if let Ok(RelayCommand { channel, on }) = lcus::decode(&bytes) {
                prop_assert_eq!(&lcus::encode(channel, on)[..], &bytes[..]);
            }
        }

        /// Four bytes starting with the start byte, so the checks past the length and start
        /// are reached: each rejection names the first check that fails.
        #[test]
        fn decode_reports_the_first_failed_check(
            channel: u8,
            // Half the cases a valid state, half the cases a matching sum, so every
            // outcome comes up often.
            state in prop_oneof![0u8..=1, any::<u8>()],
            sum_error in prop_oneof![Just(0u8), any::<u8>()],
        ) {
            let expected_sum = FRAME_START.wrapping_add(channel).wrapping_add(state);
            let sum = expected_sum.wrapping_add(sum_error);
            let frame = [FRAME_START, channel, state, sum];
            let expected = if sum != expected_sum {
                Err(DecodeError::Checksum { found: sum, expected: expected_sum })
            } else if state > 1 {
                Err(DecodeError::State(state))
            } else {
                Ok(RelayCommand { channel, on: state == 1 })
            };
            prop_assert_eq!(lcus::decode(&frame), expected);
        }

        /// Encode → decode gives the command back, and any single flipped bit of the
        /// frame is caught: the sum changes by a power of two, never by 0 mod 256.
        #[test]
        fn round_trip_and_single_bit_errors_are_caught(
            channel: u8,
            on: bool,
            bit in 0..FRAME_LEN_BYTES * 8,
        ) {
            let frame = lcus::encode(channel, on);
            prop_assert_eq!(lcus::decode(&frame), Ok(RelayCommand { channel, on }));
            let mut flipped = frame;
            flipped[bit / 8] ^= 1 << (bit % 8);
            prop_assert!(lcus::decode(&flipped).is_err(), "{:02x?} accepted", flipped);
        }
    }
}
