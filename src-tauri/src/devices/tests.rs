//! The hub with real drivers on pseudo-terminals: simulated readers, a serial reader
//! whose port goes away and comes back, a relay board, a simulated turnstile.

use super::*;
use schoolcard_core::peripherals::{LineFormatName, PeripheralSpec};
use serialport::{SerialPort, TTYPort};
use std::io::{Read, Write};
use std::sync::mpsc::Receiver;

/// Longest a test waits for the hub to react, in milliseconds: many health polls.
const WAIT_MS_MAX: u64 = 5_000;

fn peripheral(
    name: &str,
    post: Post,
    direction: Option<Direction>,
    connection: Connection,
) -> Peripheral {
    Peripheral {
        id: PeripheralId::new_v7(),
        spec: PeripheralSpec {
            name: name.into(),
            post,
            direction,
            enabled: true,
            connection,
            gate_id: None,
        },
        updated_at: Utc::now(),
    }
}

/// A hub whose events land on a channel.
fn hub() -> (DeviceHub, Receiver<(&'static str, Value)>) {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let emit: Emit = Arc::new(move |name, payload| {
        let _ = lock(&tx).send((name, payload));
    });
    (DeviceHub::new(emit).unwrap(), rx)
}

fn next_event(rx: &Receiver<(&'static str, Value)>, wanted: &str) -> Value {
    let deadline = Instant::now() + Duration::from_millis(WAIT_MS_MAX);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok((name, payload)) if name == wanted => return payload,
            Ok(_) => {}
            Err(_) => panic!("no {wanted} event within {WAIT_MS_MAX} ms"),
        }
    }
}

fn wait_for(hub: &DeviceHub, what: &str, mut ok: impl FnMut(&[DeviceHealth]) -> bool) {
    let deadline = Instant::now() + Duration::from_millis(WAIT_MS_MAX);
    loop {
        let health = hub.health();
        if ok(&health) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {health:#?}"
        );
        thread::sleep(Duration::from_millis(20));
    }
}

fn state_of(health: &[DeviceHealth], id: PeripheralId) -> &DeviceHealth {
    health
        .iter()
        .find(|h| h.device_id == id)
        .expect("the device is listed")
}

#[test]
fn a_simulated_tap_arrives_as_a_card_read_of_its_device() {
    let (hub, events) = hub();
    let entry = peripheral(
        "Вход",
        Post::Entrance,
        Some(Direction::Entry),
        Connection::SimulatedReader,
    );
    let canteen = peripheral("Столовая", Post::Canteen, None, Connection::SimulatedReader);
    let (entry_id, canteen_id) = (entry.id, canteen.id);
    hub.reload(vec![entry, canteen], [7; 16]);
    wait_for(&hub, "both readers online", |h| {
        h.iter().all(|d| d.state == "online")
    });

    let card = CardId::parse_canonical("40:55007EE424").unwrap();
    hub.simulate_card(entry_id, &card).unwrap();
    let read = next_event(&events, CARD_READ_EVENT);
    assert_eq!(read["device_id"], entry_id.to_string());
    assert_eq!(read["device_name"], "Вход");
    assert_eq!(read["direction"], "entry");
    assert_eq!(read["post"], "entrance");
    assert_eq!(read["card"], "40:55007EE424");
    assert_eq!(read["raw"], "Em-Marine[5500] 126,58404");

    hub.simulate_card(canteen_id, &CardId::parse_canonical("32:BCD14264").unwrap())
        .unwrap();
    let read = next_event(&events, CARD_READ_EVENT);
    assert_eq!(
        (read["device_name"].as_str(), read["direction"].is_null()),
        (Some("Столовая"), true)
    );
    // Two frames each: the card's line and the "No card" after it.
    wait_for(&hub, "frame counts", |h| {
        state_of(h, entry_id).frames == 2 && state_of(h, canteen_id).frames == 2
    });
    // Health changes are pushed, not only polled.
    let pushed = next_event(&events, DEVICE_HEALTH_EVENT);
    assert!(
        pushed.as_array().is_some_and(|list| list.len() == 2),
        "{pushed}"
    );

    let gate = peripheral(
        "Турникет",
        Post::Entrance,
        None,
        Connection::SimulatedTurnstile,
    );
    assert!(matches!(
        hub.simulate_card(PeripheralId::new_v7(), &card),
        Err(HubError::NoSuchDevice(_))
    ));
    hub.reload(vec![gate.clone()], [7; 16]);
    assert!(matches!(
        hub.simulate_card(gate.id, &card),
        Err(HubError::NotSimulated(_))
    ));
    assert!(matches!(
        hub.simulate_card(entry_id, &card),
        Err(HubError::NoSuchDevice(_))
    ));
    drop(hub);
}

#[test]
fn a_serial_reader_that_goes_away_goes_offline_and_comes_back() {
    let (hub, events) = hub();
    let (mut master, slave) = TTYPort::pair().unwrap();
    let path = slave.name().unwrap();
    let reader = peripheral(
        "Z-2",
        Post::Office,
        None,
        Connection::SerialReader {
            port: path.clone(),
            format: LineFormatName::IronLogicZ2,
            pattern: None,
            baud_rate: 9_600,
        },
    );
    let missing = peripheral(
        "Нет порта",
        Post::Library,
        None,
        Connection::SerialReader {
            port: "/dev/does-not-exist".into(),
            format: LineFormatName::HexUid,
            pattern: None,
            baud_rate: 9_600,
        },
    );
    let bad_pattern = peripheral(
        "Шаблон",
        Post::Library,
        None,
        Connection::SerialReader {
            port: "/dev/also-missing".into(),
            format: LineFormatName::Pattern,
            pattern: Some("(?P<nothing>x)".into()),
            baud_rate: 9_600,
        },
    );
    let mut disabled = peripheral("Выключен", Post::Library, None, Connection::SimulatedReader);
    disabled.spec.enabled = false;
    let id = reader.id;
    hub.reload(
        vec![
            reader,
            missing.clone(),
            bad_pattern.clone(),
            disabled.clone(),
        ],
        [7; 16],
    );
    wait_for(&hub, "the reader online, the missing port offline", |h| {
        state_of(h, id).state == "online" && state_of(h, missing.id).state == "offline"
    });
    let health = hub.health();
    assert_eq!(state_of(&health, bad_pattern.id).state, "misconfigured");
    assert_eq!(state_of(&health, disabled.id).state, "disabled");
    assert!(state_of(&health, missing.id).detail.is_some());

    master
        .write_all(b"garbage\r\nEm-Marine[0000] 001,00002\r\n")
        .unwrap();
    let read = next_event(&events, CARD_READ_EVENT);
    assert_eq!(read["card"], "40:0000010002");
    wait_for(&hub, "the garbage counted", |h| state_of(h, id).errors >= 1);

    // Unplugged: both ends of the pty close.
    drop(master);
    drop(slave);
    wait_for(&hub, "the reader offline", |h| {
        state_of(h, id).state == "offline"
    });
    drop(hub);
}

#[test]
fn gates_open_by_hand_and_report_passes() {
    let (hub, events) = hub();
    let (mut board, board_slave) = TTYPort::pair().unwrap();
    board
        .set_timeout(Duration::from_millis(WAIT_MS_MAX))
        .unwrap();
    let relay = peripheral(
        "Реле",
        Post::Entrance,
        None,
        Connection::RelayGate {
            port: board_slave.name().unwrap(),
            entry_channel: 1,
            exit_channel: 2,
            pulse_ms: 100,
        },
    );
    let turnstile = peripheral(
        "Турникет",
        Post::Entrance,
        None,
        Connection::SimulatedTurnstile,
    );
    let reader = peripheral(
        "Вход",
        Post::Entrance,
        Some(Direction::Entry),
        Connection::SimulatedReader,
    );
    hub.reload(
        vec![relay.clone(), turnstile.clone(), reader.clone()],
        [7; 16],
    );
    wait_for(&hub, "gates online", |h| {
        state_of(h, relay.id).state == "online" && state_of(h, turnstile.id).state == "online"
    });

    hub.open_gate(relay.id, Direction::Exit).unwrap();
    // The board got relay 2 on, then off: two LCUS frames.
    let mut frames = [0u8; 8];
    board.read_exact(&mut frames).unwrap();
    assert_eq!(frames, [0xA0, 0x02, 0x01, 0xA3, 0xA0, 0x02, 0x00, 0xA2]);
    let pass = next_event(&events, GATE_EVENT);
    assert_eq!(pass["device_id"], relay.id.to_string());
    assert_eq!(
        (pass["event"].as_str(), pass["direction"].as_str()),
        (Some("pass_confirmed"), Some("exit"))
    );

    hub.open_gate(turnstile.id, Direction::Entry).unwrap();
    let pass = next_event(&events, GATE_EVENT);
    assert_eq!(pass["device_id"], turnstile.id.to_string());
    assert_eq!(pass["event"], "pass_confirmed");
    wait_for(&hub, "passes counted", |h| {
        state_of(h, relay.id).frames == 1 && state_of(h, turnstile.id).frames == 1
    });
    assert!(matches!(
        hub.open_gate(reader.id, Direction::Entry),
        Err(HubError::NotAGate(_))
    ));
    drop(hub);
}
