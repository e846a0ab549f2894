//! `sync_peer --db PATH [--push-batch N] [--pull-batch N]`: one workstation's sync, as a
//! process of its own, for the tests that kill it with SIGKILL mid-push and mid-pull.
//!
//! It syncs the enrolled database at PATH until the server has every own event and the
//! database every event of the school, retrying after any failure, then prints the
//! totals and exits 0.

use schoolcard_core::sync::http::{HttpTransport, Timeouts};
use schoolcard_core::sync::{enrolment, sync_once, Batches};
use schoolcard_core::Store;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

fn main() -> ExitCode {
    let mut db = None;
    let mut batches = Batches::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_default();
        match arg.as_str() {
            "--db" => db = Some(PathBuf::from(value())),
            "--push-batch" => batches.push = value().parse().unwrap_or(batches.push),
            "--pull-batch" => batches.pull = value().parse().unwrap_or(batches.pull),
            other => {
                eprintln!("sync_peer: unknown argument {other}");
                return ExitCode::from(2);
            }
        }
    }
    let Some(db) = db else {
        eprintln!("usage: sync_peer --db PATH [--push-batch N] [--pull-batch N]");
        return ExitCode::from(2);
    };
    let mut store = match Store::open(&db) {
        Ok(store) => store,
        Err(e) => {
            eprintln!("sync_peer: {}: {e}", db.display());
            return ExitCode::FAILURE;
        }
    };
    let Ok(Some((enrolled, secret))) = enrolment(store.conn()) else {
        eprintln!("sync_peer: {} is not enrolled", db.display());
        return ExitCode::FAILURE;
    };
    let transport = HttpTransport::new(
        &enrolled.server_url,
        store.device().as_str(),
        &secret,
        Timeouts::default(),
    )
    .expect("an HTTP client");
    let (mut pushed, mut pulled) = (0, 0);
    for attempt in 1..=50 {
        match sync_once(&mut store, &transport, batches) {
            Ok(report) => {
                pushed += report.pushed;
                pulled += report.pulled;
                println!("pushed {pushed} pulled {pulled}");
                return ExitCode::SUCCESS;
            }
            Err(e) => {
                eprintln!("sync_peer: attempt {attempt}: {e}");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
    ExitCode::FAILURE
}
