//! `schoolcard`: the desktop workstation of «Проход и питание».
//!
//! A thin Tauri shell around `schoolcard_core::Workstation`: it parses the command line,
//! opens (or seeds) the school's database, and gives the web view one door into the core
//! (`execute`). Files the user picks are read by the core; rules live in `core`, never here.

// No console window behind the app on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod args;
mod backups;
mod commands;
mod devices;
mod diagnostics;
mod fire_hotkey;
mod logs;
mod meal_orders;
mod receipts;
mod reports_export;
mod sync;
mod updates;

use args::{Environment, Invocation, Options};
use chrono::Utc;
use commands::{AppInfo, ErrorDto, Shell};
use schoolcard_core::gatepost::post::GatePost;
use schoolcard_core::gatepost::queue::JournalQueue;
use schoolcard_core::{demo, Workstation};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tauri::Manager;

fn main() -> ExitCode {
    let started = Instant::now();
    prefer_light_webkit_renderer();
    let options = match args::parse(std::env::args_os().skip(1), &Environment::of_process()) {
        Ok(Invocation::Run(options)) => options,
        Ok(Invocation::Help) => {
            println!("{}", args::USAGE);
            return ExitCode::SUCCESS;
        }
        Ok(Invocation::Version) => {
            println!("schoolcard {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("schoolcard: {message}");
            return ExitCode::from(2);
        }
    };
    if options.verify_journal {
        return verify_journal(&options.db_path);
    }
    // stderr and a daily file under `logs/` next to the database (logs.rs).
    logs::init(&options.db_path);
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        db = %options.db_path.display(),
        "schoolcard starting"
    );
    // Before anything touches GTK, which would abort with a message nobody understands.
    if let Some(message) = args::missing_display(|name| std::env::var_os(name)) {
        eprintln!("{message}");
        return ExitCode::from(2);
    }
    // A database that cannot be opened (written by a newer version, not ours, unreadable)
    // is said on stderr and, for whoever double-clicked the icon, in the window too.
    let workstation = open_workstation(&options)
        .map(|w| Arc::new(Mutex::new(w)))
        .inspect_err(|e| {
            eprintln!(
                "schoolcard: cannot open {}: {}",
                options.db_path.display(),
                e.message
            );
        });
    let shell = Shell {
        workstation,
        info: AppInfo {
            version: env!("CARGO_PKG_VERSION"),
            db_path: options.db_path.display().to_string(),
            lang: options.lang.map(|l| l.as_str()),
        },
        started,
        report_ready: options.report_ready,
        ready_reported: AtomicBool::new(false),
    };
    let workstation_for_devices = shell.workstation.clone().ok();
    let db_for_sync = shell.workstation.is_ok().then(|| options.db_path.clone());
    let db_for_backups = db_for_sync.clone();
    let run = tauri::Builder::default()
        .plugin(tauri_plugin_dialog::init())
        .plugin(fire_hotkey::plugin())
        .manage(shell)
        .setup(move |app| {
            app.manage(start_devices(app.handle(), workstation_for_devices));
            app.manage(sync::SyncWorker::start(app.handle(), db_for_sync));
            app.manage(backups::BackupSchedule::start(db_for_backups));
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::execute,
            commands::app_info,
            commands::ui_ready,
            commands::device_health,
            commands::list_ports,
            commands::simulate_card,
            commands::open_gate,
            commands::fire_unlock,
            commands::end_emergency,
            commands::emergency_state,
            commands::guard_decide,
            commands::evacuation_pdf,
            commands::pass_without_card,
            receipts::print_receipt,
            receipts::shift_report_pdf,
            meal_orders::export_meal_order,
            reports_export::export_report,
            sync::sync_now,
            updates::check_update,
            updates::install_update,
            diagnostics::export_diagnostics,
            backups::backup_schedule,
        ])
        .run(tauri::generate_context!());
    match run {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("schoolcard: the window could not start: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Starts this workstation's readers and gates. Without a database there is nothing to
/// start; a hub that cannot start (no threads) leaves the rest of the app working.
fn start_devices(
    app: &tauri::AppHandle,
    workstation: Option<Arc<Mutex<Workstation>>>,
) -> commands::Devices {
    use tauri::Emitter;
    let handle = app.clone();
    let emit: devices::Emit = Arc::new(move |name, payload| {
        let _ = handle.emit(name, payload);
    });
    // The gates' journal writer: its own connection, so a pass is written even while a
    // screen's long command holds the workstation.
    let journal = workstation.as_ref().and_then(|w| {
        let path = w
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .store()
            .path()
            .to_owned();
        JournalQueue::start(&path)
            .inspect_err(|e| eprintln!("schoolcard: the gates' journal cannot start: {e}"))
            .ok()
            .map(Arc::new)
    });
    let post = workstation
        .as_ref()
        .zip(journal.as_ref())
        .and_then(|(w, journal)| {
            let path = w
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .store()
                .path()
                .to_owned();
            GatePost::open(&path, Arc::clone(journal), chrono::Utc::now())
                .inspect_err(|e| eprintln!("schoolcard: the gate post cannot start: {e}"))
                .ok()
        });
    let hub = match devices::DeviceHub::new(emit, journal, post) {
        Ok(hub) => Arc::new(hub),
        Err(e) => {
            eprintln!("schoolcard: the devices cannot start: {e}");
            return commands::Devices(None);
        }
    };
    if let Some(workstation) = workstation {
        let mut workstation = workstation
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        hub.serve_vending_from(workstation.store().path());
        commands::reload_devices(&hub, &mut workstation);
    }
    commands::Devices(Some(hub))
}

/// Opens the database, first generating the demo school into it when asked and absent.
fn open_workstation(options: &Options) -> Result<Workstation, ErrorDto> {
    let path = &options.db_path;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| ErrorDto::new("store", format!("cannot create {}: {e}", dir.display())))?;
    }
    if options.demo {
        // Generates only into a database with no school yet; another process racing us is
        // settled inside core's write transaction.
        let generated = demo::ensure_demo(path, demo::DEMO_SEED, Utc::now())?;
        if let Some(summary) = generated {
            eprintln!(
                "schoolcard: generated the demo school «{}» in {}: {} pupils in {} classes, {} staff",
                summary.school,
                path.display(),
                summary.pupils,
                summary.classes,
                summary.staff
            );
        }
    }
    Ok(Workstation::open(path)?)
}

/// `--verify-journal`: the hash-chain check for an IT person at a terminal, no window.
fn verify_journal(db_path: &std::path::Path) -> ExitCode {
    if !db_path.exists() {
        eprintln!("schoolcard: {} does not exist", db_path.display());
        return ExitCode::from(2);
    }
    let report = schoolcard_core::Store::open(db_path)
        .map_err(|e| e.to_string())
        .and_then(|store| {
            schoolcard_core::journal::verify(store.conn()).map_err(|e| e.to_string())
        });
    match report {
        Err(e) => {
            eprintln!("schoolcard: cannot check {}: {e}", db_path.display());
            ExitCode::from(2)
        }
        Ok(report) if report.is_intact() => {
            println!(
                "{}: {} events, the journal is intact",
                db_path.display(),
                report.events
            );
            ExitCode::SUCCESS
        }
        Ok(report) => {
            println!(
                "{}: {} events, {} problems:",
                db_path.display(),
                report.events,
                report.faults.len()
            );
            for fault in &report.faults {
                println!("  {fault}");
            }
            ExitCode::from(1)
        }
    }
}

/// WebKitGTK's DMA-BUF renderer loads Mesa (and with it LLVM, ~40 MiB) into the web
/// process even on machines without a GPU, as most school PCs are; the shared-memory
/// renderer draws these screens just as well for about 90 MiB less in all (measured in
/// BENCHMARKS.md). It also avoids the blank window some GPU drivers show. A value the
/// user set (to 0, say) is left alone.
fn prefer_light_webkit_renderer() {
    const VAR: &str = "WEBKIT_DISABLE_DMABUF_RENDERER";
    if cfg!(target_os = "linux") && std::env::var_os(VAR).is_none() {
        // First thing in `main`: no other thread exists yet to read the environment.
        std::env::set_var(VAR, "1");
    }
}
