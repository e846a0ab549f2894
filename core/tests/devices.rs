//! A workstation's readers and gates: saved, listed, changed and removed through commands,
//! journaled, and scoped to the workstation that configured them.

mod common;

use common::{run, school, t0};
use schoolcard_core::peripherals::Connection;
use schoolcard_core::{CoreError, Workstation};
use serde_json::{json, Value};

fn save(ws: &mut Workstation, device: Value) -> Result<String, CoreError> {
    let command = serde_json::from_value(json!({"type": "save_device", "device": device}))
        .expect("a save_device command");
    ws.execute(command, t0(), &|_| {})
        .map(|answer| answer["device_id"].as_str().unwrap().to_owned())
}

fn names(ws: &mut Workstation) -> Vec<String> {
    let list = run(ws, json!({"type": "list_devices"}), t0());
    list["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap().to_owned())
        .collect()
}

fn turnstile() -> Value {
    json!({"name": "Турникет", "post": "entrance", "connection": {"type": "relay_gate",
           "port": "/dev/ttyUSB1", "entry_channel": 1, "exit_channel": 2, "pulse_ms": 300}})
}

fn entry_reader(gate: &str) -> Value {
    json!({"name": "Вход", "post": "entrance", "direction": "entry", "gate_id": gate,
           "connection": {"type": "serial_reader", "port": "/dev/ttyUSB0", "format": "iron_logic_z2"}})
}

#[test]
fn devices_are_saved_listed_changed_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let mut ws = school(dir.path());
    let gate = save(&mut ws, turnstile()).unwrap();
    let reader = save(&mut ws, entry_reader(&gate)).unwrap();
    assert_eq!(names(&mut ws), ["Вход", "Турникет"]);

    let listed = run(&mut ws, json!({"type": "list_devices"}), t0());
    let first = &listed["devices"][0];
    assert_eq!(first["device_id"], reader.as_str());
    assert_eq!(first["gate_id"], gate.as_str());
    assert_eq!(first["connection"]["baud_rate"], 9600);
    assert_eq!(first["direction"], "entry");

    // A change is a whole new spec under the same id; saving it unchanged journals nothing.
    let journal_rows = |ws: &Workstation| -> i64 {
        ws.store()
            .conn()
            .query_row("SELECT count(*) FROM journal", [], |r| r.get(0))
            .unwrap()
    };
    let mut changed = entry_reader(&gate);
    changed["connection"]["port"] = json!("/dev/ttyACM0");
    let command = json!({"type": "save_device", "device_id": reader, "device": changed});
    run(&mut ws, command.clone(), t0());
    let after_change = journal_rows(&ws);
    run(&mut ws, command, t0());
    assert_eq!(
        journal_rows(&ws),
        after_change,
        "an unchanged save appended"
    );
    let here = ws.peripherals_here().unwrap();
    assert!(matches!(
        &here[0].spec.connection,
        Connection::SerialReader { port, .. } if port == "/dev/ttyACM0"
    ));

    // The gate stays while a reader opens it.
    let refused = ws
        .execute(
            serde_json::from_value(json!({"type": "remove_device", "device_id": gate})).unwrap(),
            t0(),
            &|_| {},
        )
        .unwrap_err();
    assert_eq!(refused.reason().map(|r| r.as_str()), Some("gate_in_use"));
    run(
        &mut ws,
        json!({"type": "remove_device", "device_id": reader}),
        t0(),
    );
    run(
        &mut ws,
        json!({"type": "remove_device", "device_id": gate}),
        t0(),
    );
    assert!(names(&mut ws).is_empty());

    let kinds: Vec<String> = {
        let conn = ws.store().conn();
        let mut statement = conn
            .prepare("SELECT kind FROM journal WHERE kind LIKE 'peripheral%' ORDER BY seq")
            .unwrap();
        let rows = statement.query_map([], |r| r.get(0)).unwrap();
        rows.collect::<Result<_, _>>().unwrap()
    };
    assert_eq!(
        kinds,
        [
            "peripheral_configured",
            "peripheral_configured",
            "peripheral_configured",
            "peripheral_removed",
            "peripheral_removed"
        ]
    );
}

#[test]
fn a_port_taken_twice_is_refused_with_who_has_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut ws = school(dir.path());
    save(&mut ws, turnstile()).unwrap();
    let mut clash = entry_reader("");
    clash["gate_id"] = Value::Null;
    clash["connection"]["port"] = json!("/dev/ttyUSB1");
    let refused = save(&mut ws, clash).unwrap_err();
    assert_eq!(refused.code(), "conflict");
    assert_eq!(
        refused.reason().map(|r| r.as_str()),
        Some("device_port_taken")
    );
    assert_eq!(refused.params().unwrap()["name"], "Турникет");
    assert_eq!(names(&mut ws), ["Турникет"]);
}

#[test]
fn devices_belong_to_the_workstation_that_configured_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut ws = school(dir.path());
    save(&mut ws, turnstile()).unwrap();
    // Another workstation's device, as sync would bring it: in the journal, not here.
    ws.store()
        .conn()
        .execute(
            "INSERT INTO peripherals (id, workstation, name, spec, updated_at_us)
             SELECT '0192f3a0-0000-7000-8000-000000000001', 'another-workstation', name, spec, 0
             FROM peripherals",
            [],
        )
        .unwrap();
    assert_eq!(ws.peripherals_here().unwrap().len(), 1);
    assert_eq!(names(&mut ws), ["Турникет"]);
}

#[test]
fn the_osdp_site_key_is_made_once_and_never_journaled() {
    let dir = tempfile::tempdir().unwrap();
    let mut ws = school(dir.path());
    let journal_rows = |ws: &Workstation| -> i64 {
        ws.store()
            .conn()
            .query_row("SELECT count(*) FROM journal", [], |r| r.get(0))
            .unwrap()
    };
    let before = journal_rows(&ws);
    let key = ws.osdp_site_key(t0()).unwrap();
    assert_ne!(key, [0; 16]);
    assert_eq!(ws.osdp_site_key(t0()).unwrap(), key);
    assert_eq!(journal_rows(&ws), before);
    let path = ws.store().path().to_owned();
    drop(ws);
    let mut reopened = Workstation::open(&path).unwrap();
    assert_eq!(reopened.osdp_site_key(t0()).unwrap(), key);
    // Another database (another workstation) has its own key.
    let other_dir = tempfile::tempdir().unwrap();
    assert_ne!(school(other_dir.path()).osdp_site_key(t0()).unwrap(), key);
}

#[test]
fn a_gate_opened_by_hand_is_on_record_and_only_gates_open() {
    let dir = tempfile::tempdir().unwrap();
    let mut ws = school(dir.path());
    let gate = save(&mut ws, turnstile()).unwrap();
    let reader = save(&mut ws, entry_reader(&gate)).unwrap();
    run(
        &mut ws,
        json!({"type": "open_gate", "device_id": gate, "direction": "exit"}),
        t0(),
    );
    let (actor, payload): (String, String) = ws
        .store()
        .conn()
        .query_row(
            "SELECT actor, payload FROM journal WHERE kind = 'gate_opened_by_hand'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(actor.starts_with("staff:"), "{actor}");
    assert!(
        payload.contains(&gate) && payload.contains("exit"),
        "{payload}"
    );
    let refused = ws
        .execute(
            serde_json::from_value(
                json!({"type": "open_gate", "device_id": reader, "direction": "entry"}),
            )
            .unwrap(),
            t0(),
            &|_| {},
        )
        .unwrap_err();
    assert_eq!(refused.reason().map(|r| r.as_str()), Some("not_a_gate"));
}
