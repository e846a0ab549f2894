use super::*;
use chrono::Utc;

fn reader(name: &str, connection: Connection) -> PeripheralSpec {
    PeripheralSpec {
        name: name.to_owned(),
        post: Post::Entrance,
        direction: Some(Direction::Entry),
        enabled: true,
        connection,
        gate_id: None,
        verification: VerificationMode::Automatic,
    }
}

fn serial(port: &str) -> Connection {
    Connection::SerialReader {
        port: port.to_owned(),
        format: LineFormatName::IronLogicZ2,
        pattern: None,
        baud_rate: BAUD_RATE_DEFAULT,
    }
}

fn osdp(port: &str, address: u8) -> Connection {
    Connection::OsdpReader {
        port: port.to_owned(),
        baud_rate: BAUD_RATE_DEFAULT,
        address,
        secure_only: true,
        fire_alarm_input: None,
    }
}

fn relay(port: &str) -> Connection {
    Connection::RelayGate {
        port: port.to_owned(),
        entry_channel: 1,
        exit_channel: 2,
        pulse_ms: RELAY_PULSE_DEFAULT_MS,
    }
}

fn stored(spec: PeripheralSpec) -> Peripheral {
    Peripheral {
        id: PeripheralId::new_v7(),
        spec,
        updated_at: Utc::now(),
    }
}

fn refusal(result: CoreResult<PeripheralSpec>) -> (Option<String>, Refusal) {
    match result {
        Err(CoreError::Invalid { field, reason, .. }) => (Some(field), reason),
        Err(CoreError::Conflict { reason, .. }) => (None, reason),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn a_good_spec_comes_back_cleaned() {
    let mut spec = reader("  Вход   1 ", serial(" /dev/ttyUSB0 "));
    spec.gate_id = None;
    let checked = check_spec(PeripheralId::new_v7(), spec, &[]).unwrap();
    assert_eq!(checked.name, "Вход 1");
    assert_eq!(checked.connection.port(), Some("/dev/ttyUSB0"));
}

#[test]
fn names_are_unique_per_workstation_regardless_of_case() {
    let first = stored(reader("Вход", serial("/dev/ttyUSB0")));
    let others = vec![first.clone()];
    let (_, reason) = refusal(check_spec(
        PeripheralId::new_v7(),
        reader("ВХОД", serial("/dev/ttyUSB1")),
        &others,
    ));
    assert_eq!(reason, Refusal::DeviceNameTaken);
    // Saving the same device again under its own name is no conflict.
    assert!(check_spec(first.id, first.spec.clone(), &others).is_ok());
}

#[test]
fn a_port_serves_one_device_but_osdp_readers_share_a_line() {
    let others = vec![
        stored(reader("Вход", serial("/dev/ttyUSB0"))),
        stored(reader("OSDP 1", osdp("/dev/ttyUSB1", 1))),
    ];
    let new = PeripheralId::new_v7();
    let (_, reason) = refusal(check_spec(
        new,
        reader("Реле", relay("/dev/ttyUSB0")),
        &others,
    ));
    assert_eq!(reason, Refusal::DevicePortTaken);
    assert!(check_spec(new, reader("OSDP 2", osdp("/dev/ttyUSB1", 2)), &others).is_ok());
    let (_, reason) = refusal(check_spec(
        new,
        reader("OSDP 2", osdp("/dev/ttyUSB1", 1)),
        &others,
    ));
    assert_eq!(reason, Refusal::OsdpAddressTaken);
    // A serial reader cannot join an RS-485 line, nor an OSDP reader at another speed.
    let (_, reason) = refusal(check_spec(
        new,
        reader("Z-2", serial("/dev/ttyUSB1")),
        &others,
    ));
    assert_eq!(reason, Refusal::DevicePortTaken);
    let mut fast = osdp("/dev/ttyUSB1", 3);
    if let Connection::OsdpReader { baud_rate, .. } = &mut fast {
        *baud_rate = 115_200;
    }
    let (_, reason) = refusal(check_spec(new, reader("OSDP 3", fast), &others));
    assert_eq!(reason, Refusal::DevicePortTaken);
}

#[test]
fn numbers_out_of_their_range_are_refused_by_field() {
    let id = PeripheralId::new_v7();
    let (field, reason) = refusal(check_spec(
        id,
        reader("OSDP", osdp("/dev/ttyS0", 0x7F)),
        &[],
    ));
    assert_eq!(
        (field.as_deref(), reason),
        (Some("address"), Refusal::OutOfRange)
    );

    let mut spec = reader("Реле", relay("/dev/ttyS0"));
    spec.connection = Connection::RelayGate {
        port: "/dev/ttyS0".into(),
        entry_channel: 1,
        exit_channel: 2,
        pulse_ms: RELAY_PULSE_MIN_MS - 1,
    };
    let (field, reason) = refusal(check_spec(id, spec.clone(), &[]));
    assert_eq!(
        (field.as_deref(), reason),
        (Some("pulse_ms"), Refusal::OutOfRange)
    );
    spec.connection = Connection::RelayGate {
        port: "/dev/ttyS0".into(),
        entry_channel: 2,
        exit_channel: 2,
        pulse_ms: RELAY_PULSE_MIN_MS,
    };
    let (field, reason) = refusal(check_spec(id, spec.clone(), &[]));
    assert_eq!(
        (field.as_deref(), reason),
        (Some("exit_channel"), Refusal::SameRelayChannel)
    );
    spec.connection = Connection::RelayGate {
        port: "/dev/ttyS0".into(),
        entry_channel: 0,
        exit_channel: 2,
        pulse_ms: RELAY_PULSE_MIN_MS,
    };
    let (field, _) = refusal(check_spec(id, spec, &[]));
    assert_eq!(field.as_deref(), Some("entry_channel"));

    let mut slow = serial("/dev/ttyS0");
    if let Connection::SerialReader { baud_rate, .. } = &mut slow {
        *baud_rate = 9_601;
    }
    let (field, reason) = refusal(check_spec(id, reader("Z-2", slow), &[]));
    assert_eq!(
        (field.as_deref(), reason),
        (Some("baud_rate"), Refusal::BadBaudRate)
    );

    let (field, reason) = refusal(check_spec(id, reader("Z-2", serial("   ")), &[]));
    assert_eq!((field.as_deref(), reason), (Some("port"), Refusal::Empty));
}

#[test]
fn a_pattern_must_compile_and_say_where_the_card_is() {
    let with = |pattern: &str| {
        reader(
            "Свой",
            Connection::SerialReader {
                port: "/dev/ttyACM0".into(),
                format: LineFormatName::Pattern,
                pattern: Some(pattern.into()),
                baud_rate: BAUD_RATE_DEFAULT,
            },
        )
    };
    let id = PeripheralId::new_v7();
    assert!(check_spec(id, with(r"^UID=(?P<hex>[0-9A-F]+)$"), &[]).is_ok());
    assert!(check_spec(id, with(r"^(?P<fac>\d+),(?P<num>\d+)$"), &[]).is_ok());
    let (field, reason) = refusal(check_spec(id, with(r"^(?P<hex>[0-9A-F+$"), &[]));
    assert_eq!(
        (field.as_deref(), reason),
        (Some("pattern"), Refusal::BadPattern)
    );
    let (_, reason) = refusal(check_spec(id, with(r"^(?P<fac>\d+),(\d+)$"), &[]));
    assert_eq!(reason, Refusal::PatternWithoutCard);
    let (_, reason) = refusal(check_spec(id, with(""), &[]));
    assert_eq!(reason, Refusal::Empty);
    // A preset keeps no pattern even if one was sent along.
    let mut preset = with("anything");
    if let Connection::SerialReader { format, .. } = &mut preset.connection {
        *format = LineFormatName::HexUid;
    }
    let checked = check_spec(id, preset, &[]).unwrap();
    assert!(matches!(
        checked.connection,
        Connection::SerialReader { pattern: None, .. }
    ));
}

#[test]
fn entrance_readers_need_a_direction_others_drop_it() {
    let id = PeripheralId::new_v7();
    let mut spec = reader("Вход", Connection::SimulatedReader);
    spec.direction = None;
    let (field, _) = refusal(check_spec(id, spec.clone(), &[]));
    assert_eq!(field.as_deref(), Some("direction"));
    spec.post = Post::Canteen;
    spec.direction = Some(Direction::Exit);
    assert_eq!(check_spec(id, spec, &[]).unwrap().direction, None);
    let mut gate = reader("Турникет", Connection::SimulatedTurnstile);
    gate.direction = Some(Direction::Entry);
    assert_eq!(check_spec(id, gate, &[]).unwrap().direction, None);
}

#[test]
fn a_reader_opens_only_a_gate_of_this_workstation() {
    let gate = stored(reader("Турникет", Connection::SimulatedTurnstile));
    let other_reader = stored(reader("Выход", Connection::SimulatedReader));
    let others = vec![gate.clone(), other_reader.clone()];
    let mut spec = reader("Вход", Connection::SimulatedReader);
    spec.gate_id = Some(gate.id);
    assert_eq!(
        check_spec(PeripheralId::new_v7(), spec.clone(), &others)
            .unwrap()
            .gate_id,
        Some(gate.id)
    );
    for wrong in [other_reader.id, PeripheralId::new_v7()] {
        spec.gate_id = Some(wrong);
        let (field, reason) = refusal(check_spec(PeripheralId::new_v7(), spec.clone(), &others));
        assert_eq!(
            (field.as_deref(), reason),
            (Some("gate_id"), Refusal::NotAGate)
        );
    }
}

#[test]
fn specs_read_back_from_the_json_the_ui_sends() {
    let spec: PeripheralSpec = serde_json::from_value(serde_json::json!({
        "name": "Вход",
        "post": "entrance",
        "direction": "entry",
        "connection": {"type": "serial_reader", "port": "/dev/ttyUSB0", "format": "iron_logic_z2"}
    }))
    .unwrap();
    assert!(spec.enabled);
    assert_eq!(
        spec.connection,
        Connection::SerialReader {
            port: "/dev/ttyUSB0".into(),
            format: LineFormatName::IronLogicZ2,
            pattern: None,
            baud_rate: BAUD_RATE_DEFAULT,
        }
    );
    let back: PeripheralSpec =
        serde_json::from_str(&serde_json::to_string(&spec).unwrap()).unwrap();
    assert_eq!(back, spec);
}

#[test]
fn an_external_verifier_needs_an_http_address_and_a_sane_deadline() {
    let id = PeripheralId::new_v7();
    let with = |url: &str, deadline_ms: u32| {
        let mut spec = reader("Вход", Connection::SimulatedReader);
        spec.verification = VerificationMode::External {
            url: url.into(),
            deadline_ms,
            timeout_s: GUARD_TIMEOUT_DEFAULT_S,
        };
        spec
    };
    let checked = check_spec(id, with("  http://10.0.0.5:8080/verify ", 500), &[]).unwrap();
    assert!(matches!(
        checked.verification,
        VerificationMode::External { ref url, .. } if url == "http://10.0.0.5:8080/verify"
    ));
    for bad in ["10.0.0.5/verify", "ftp://x", "http://", "http:// x"] {
        let (field, reason) = refusal(check_spec(id, with(bad, 500), &[]));
        assert_eq!(
            (field.as_deref(), reason),
            (Some("url"), Refusal::BadUrl),
            "{bad}"
        );
    }
    let (field, _) = refusal(check_spec(id, with("http://x", 50), &[]));
    assert_eq!(field.as_deref(), Some("deadline_ms"));
}
