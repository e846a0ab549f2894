//! `schoolcard`: the desktop workstation of «Проход и питание».
//!
//! A thin Tauri shell around `schoolcard_core::Workstation`: it parses the command line,
//! opens (or seeds) the school's database, and gives the web view one door into the core
//! (`execute`). Files the user picks are read by the core; rules live in `core`, never here.

// No console window behind the app on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod args;
mod commands;

use args::{Environment, Invocation, Options};
use chrono::Utc;
use commands::{AppInfo, ErrorDto, Shell};
use schoolcard_core::{demo, Workstation};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Instant;

fn main() -> ExitCode {
    let started = Instant::now();
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
    let run = tauri::Builder::default()
        .plugin(tauri_plugin_dialog::init())
        .manage(shell)
        .invoke_handler(tauri::generate_handler![
            commands::execute,
            commands::app_info,
            commands::ui_ready,
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
