//! A small school set up through the public commands, for the integration tests.
#![allow(dead_code)]

use chrono::{DateTime, TimeZone, Utc};
use schoolcard_core::workstation::{Command, Progress};
use schoolcard_core::Workstation;
use serde_json::{json, Value};

pub const PASSWORD: &str = "correct horse";

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 9, 1, 5, 0, 0).unwrap()
}

pub fn no_progress(_: Progress) {}

pub fn cmd(value: Value) -> Command {
    serde_json::from_value(value.clone()).unwrap_or_else(|e| panic!("bad command {value}: {e}"))
}

pub fn run(ws: &mut Workstation, value: Value, now: DateTime<Utc>) -> Value {
    ws.execute(cmd(value.clone()), now, &no_progress)
        .unwrap_or_else(|e| panic!("{value} failed: {e}"))
}

/// A fresh workstation database with the school and its first admin, signed in as admin.
pub fn school(dir: &std::path::Path) -> Workstation {
    let mut ws = Workstation::open(&dir.join("school.sqlite")).unwrap();
    run(
        &mut ws,
        json!({"type": "set_up_school", "school_name": "Лицей «Держава»", "time_zone": "Europe/Moscow",
               "admin_name": {"surname": "Админова", "name": "Анна"}, "login": "admin", "password": PASSWORD}),
        t0(),
    );
    run(
        &mut ws,
        json!({"type": "sign_in_password", "login": "admin", "password": PASSWORD}),
        t0(),
    );
    ws
}

pub fn id(v: &Value, path: &str) -> String {
    v.pointer(path)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no {path} in {v}"))
        .to_owned()
}
