//! `schoolcard-readers`: the installer's tool for installation day.
//!
//! - `ports` lists the serial ports, so the installer can tell which one is the reader;
//! - `watch` opens a reader port through [`SerialReader`], exactly as the workstation
//!   does, and prints every card live in all the forms a card may have been enrolled by;
//! - `pulse` closes one LCUS relay once, to check the wiring to the turnstile.
//!
//! Exit codes: 0 done, 1 the hardware failed (port cannot be opened or written),
//! 2 the command line is wrong (one line on stderr says why).

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use schoolcard_readers::gate::{
    lcus, Direction, Gate, LcusGateConfig, LcusRelayGate, PassReport, RELAY_PULSE_HOLD_DEFAULT_MS,
    RELAY_PULSE_HOLD_MIN_MS,
};
use schoolcard_readers::ports::{list_serial_ports, DEV_DIR};
use schoolcard_readers::serial::{
    Health, PortSettings, SerialReader, SerialReaderConfig, STOP_JOIN_TIMEOUT_MS,
};
use schoolcard_readers::serial_line::{LineFormat, LinePattern};
use schoolcard_readers::CardRead;

const USAGE: &str = "\
schoolcard-readers — check card readers and relay boards on installation day

Usage:
  schoolcard-readers ports                 list serial ports
  schoolcard-readers watch --port PATH     print cards read by a reader, live
  schoolcard-readers pulse --port PATH --channel N
                                           pulse one LCUS relay once

Run `schoolcard-readers COMMAND --help` for a command's options.
Exit codes: 0 done, 1 hardware failure, 2 wrong command line.
";

const PORTS_USAGE: &str = "\
Usage: schoolcard-readers ports

Lists serial ports, one a line, with what is known of each: USB vendor:product id,
manufacturer, product, serial number. IronLogic Z-2 readers show up as FTDI 0403:1234,
LCUS relay boards as CH340 1a86:7523.
";

const WATCH_USAGE: &str = "\
Usage: schoolcard-readers watch --port PATH [--format FORMAT] [--baud RATE]
                                [--count N] [--seconds S]

Opens the reader's port (8N1, reopened when unplugged) and prints one line per card:
time (UTC), reader, canonical card id, hex, Wiegand-26 pair, decimal, the raw line.
Port going offline and online again, and lines not in FORMAT, are printed too.
Stops on Ctrl-C, after N cards, or after S seconds, whichever comes first.

Options:
  --port PATH       the reader's serial port, e.g. /dev/ttyUSB0 (required)
  --format FORMAT   ironlogic (default): IronLogic Z-2 USB / Matrix-III lines
                    hex: a line of hex bytes; decimal: a line of decimal digits
                    pattern:REGEX: a regex with a named group hex, dec, or fac+num
  --baud RATE       bits per second (default 9600)
  --count N         stop after N cards
  --seconds S       stop after S seconds
";

const PULSE_USAGE: &str = "\
Usage: schoolcard-readers pulse --port PATH --channel N [--hold-ms MS] [--baud RATE]

Closes relay N of an LCUS-1 style USB relay board, holds it, opens it again, and prints
each frame sent. Check that the turnstile opens one passage.

Options:
  --port PATH       the relay board's serial port, e.g. /dev/ttyUSB1 (required)
  --channel N       relay number, 1 to 255 (required)
  --hold-ms MS      how long the relay stays closed, 100 to 10000 (default 200)
  --baud RATE       bits per second (default 9600)
";

/// Exit code for a wrong command line, as sysexits' and most tools' usage errors.
const EXIT_USAGE: u8 = 2;

/// Exit code when the port cannot be opened or written.
const EXIT_HARDWARE: u8 = 1;

/// Longest relay pulse the tool sends, in milliseconds. A turnstile needs 100 ms; ten
/// seconds is already far more than any test of the wiring, and a typo (`--hold-ms
/// 20000`) must not leave a school's turnstile open for minutes.
const RELAY_PULSE_HOLD_MAX_MS: u64 = 10_000;

/// How often `watch` looks at the reader's health and the stop conditions, in
/// milliseconds: fast enough that Ctrl-C and `--seconds` feel immediate.
const WATCH_POLL_MS: u64 = 100;

/// Longest `--seconds` accepted: a school day. Bounds the run and the arithmetic.
const WATCH_SECONDS_MAX: u64 = 24 * 60 * 60;

/// How long writing one relay frame may take, in milliseconds, as the gate's own
/// `open_port` allows: four bytes take about 4 ms at 9600 baud.
const PULSE_WRITE_TIMEOUT_MS: u64 = 500;

/// A parsed command line.
#[derive(Debug)]
enum Command {
    Help(&'static str),
    Ports,
    Watch(WatchArgs),
    Pulse(PulseArgs),
}

#[derive(Debug)]
struct WatchArgs {
    port: String,
    format: LineFormat,
    baud: u32,
    count: Option<u64>,
    seconds: Option<u64>,
}

#[derive(Debug)]
struct PulseArgs {
    port: String,
    channel: u8,
    hold: Duration,
    baud: u32,
}

/// A wrong command line, said in one line.
#[derive(Debug)]
struct UsageError(String);

fn usage_error(message: impl Into<String>) -> UsageError {
    UsageError(message.into())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = match parse(&args) {
        Ok(command) => command,
        Err(UsageError(message)) => {
            eprintln!("schoolcard-readers: {message} (see --help)");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let result = match command {
        Command::Help(text) => {
            print!("{text}");
            Ok(())
        }
        Command::Ports => ports(),
        Command::Watch(args) => watch(&args),
        Command::Pulse(args) => pulse(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("schoolcard-readers: {message}");
            ExitCode::from(EXIT_HARDWARE)
        }
    }
}

fn parse(args: &[String]) -> Result<Command, UsageError> {
    let Some((command, rest)) = args.split_first() else {
        return Ok(Command::Help(USAGE));
    };
    match command.as_str() {
        "-h" | "--help" | "help" => Ok(Command::Help(USAGE)),
        "ports" => parse_ports(rest),
        "watch" => parse_watch(rest),
        "pulse" => parse_pulse(rest),
        other => Err(usage_error(format!("unknown command {other:?}"))),
    }
}

/// Splits `--name value` options; `--help` anywhere wins.
fn options<'a>(
    args: &'a [String],
    known: &[&str],
) -> Result<Option<Vec<(&'a str, &'a str)>>, UsageError> {
    if args.iter().any(|arg| arg == "-h" || arg == "--help") {
        return Ok(None);
    }
    let mut pairs = Vec::new();
    let mut rest = args.iter();
    while let Some(name) = rest.next() {
        let (name, inline) = match name.split_once('=') {
            Some((name, value)) if name.starts_with("--") => (name, Some(value)),
            _ => (name.as_str(), None),
        };
        if !known.contains(&name) {
            return Err(usage_error(format!("unknown option {name:?}")));
        }
        if pairs.iter().any(|&(seen, _)| seen == name) {
            return Err(usage_error(format!("{name} given twice")));
        }
        let value = match inline {
            Some(value) => value,
            None => rest
                .next()
                .ok_or_else(|| usage_error(format!("{name} needs a value")))?,
        };
        pairs.push((name, value));
    }
    Ok(Some(pairs))
}

fn parse_ports(args: &[String]) -> Result<Command, UsageError> {
    match options(args, &[])? {
        None => Ok(Command::Help(PORTS_USAGE)),
        Some(_) => Ok(Command::Ports),
    }
}

fn parse_watch(args: &[String]) -> Result<Command, UsageError> {
    let known = ["--port", "--format", "--baud", "--count", "--seconds"];
    let Some(options) = options(args, &known)? else {
        return Ok(Command::Help(WATCH_USAGE));
    };
    let mut watch = WatchArgs {
        port: String::new(),
        format: LineFormat::IronLogicZ2,
        baud: PortSettings::default().baud_rate,
        count: None,
        seconds: None,
    };
    for (name, value) in options {
        match name {
            "--port" => watch.port = value.to_owned(),
            "--format" => watch.format = parse_format(value)?,
            "--baud" => watch.baud = parse_number(name, value, 1, u64::from(u32::MAX))? as u32,
            "--count" => watch.count = Some(parse_number(name, value, 1, u64::MAX)?),
            "--seconds" => watch.seconds = Some(parse_number(name, value, 1, WATCH_SECONDS_MAX)?),
            _ => unreachable!("options() admits only known names"),
        }
    }
    if watch.port.is_empty() {
        return Err(usage_error("watch needs --port PATH"));
    }
    Ok(Command::Watch(watch))
}

fn parse_pulse(args: &[String]) -> Result<Command, UsageError> {
    let known = ["--port", "--channel", "--hold-ms", "--baud"];
    let Some(options) = options(args, &known)? else {
        return Ok(Command::Help(PULSE_USAGE));
    };
    let mut port = None;
    let mut channel = None;
    let mut hold_ms = RELAY_PULSE_HOLD_DEFAULT_MS;
    let mut baud = PortSettings::default().baud_rate;
    for (name, value) in options {
        match name {
            "--port" => port = Some(value.to_owned()),
            "--channel" => channel = Some(parse_number(name, value, 1, u64::from(u8::MAX))? as u8),
            "--hold-ms" => {
                hold_ms = parse_number(
                    name,
                    value,
                    RELAY_PULSE_HOLD_MIN_MS,
                    RELAY_PULSE_HOLD_MAX_MS,
                )?
            }
            "--baud" => baud = parse_number(name, value, 1, u64::from(u32::MAX))? as u32,
            _ => unreachable!("options() admits only known names"),
        }
    }
    let port = port
        .filter(|port| !port.is_empty())
        .ok_or_else(|| usage_error("pulse needs --port PATH"))?;
    let channel = channel.ok_or_else(|| usage_error("pulse needs --channel N"))?;
    Ok(Command::Pulse(PulseArgs {
        port,
        channel,
        hold: Duration::from_millis(hold_ms),
        baud,
    }))
}

fn parse_format(value: &str) -> Result<LineFormat, UsageError> {
    match value {
        "ironlogic" => Ok(LineFormat::IronLogicZ2),
        "hex" => Ok(LineFormat::HexUid),
        "decimal" => Ok(LineFormat::DecimalUid),
        _ => match value.strip_prefix("pattern:") {
            Some(pattern) => LinePattern::new(pattern)
                .map(LineFormat::Pattern)
                .map_err(|error| {
                    // The regex crate explains over several lines; one is enough here.
                    let error = error
                        .to_string()
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" ");
                    usage_error(format!("bad --format pattern: {error}"))
                }),
            None => Err(usage_error(format!(
                "bad --format {value:?}: expected ironlogic, hex, decimal or pattern:REGEX"
            ))),
        },
    }
}

fn parse_number(name: &str, value: &str, min: u64, max: u64) -> Result<u64, UsageError> {
    match value.parse::<u64>() {
        Ok(number) if (min..=max).contains(&number) => Ok(number),
        _ => Err(usage_error(format!(
            "bad {name} {value:?}: expected a whole number from {min} to {max}"
        ))),
    }
}

// ── ports ────────────────────────────────────────────────────────────────────────────

fn ports() -> Result<(), String> {
    let (ports, failure) = list_serial_ports();
    if let Some(error) = failure {
        eprintln!("schoolcard-readers: port enumeration failed ({error}); scanned {DEV_DIR}");
    }
    let mut out = io::stdout().lock();
    if ports.is_empty() {
        let _ = writeln!(out, "no serial ports found (is the reader plugged in?)");
    }
    for port in ports {
        let _ = writeln!(out, "{}\t{}", port.path, port.description);
    }
    Ok(())
}

// ── watch ────────────────────────────────────────────────────────────────────────────

/// Set by the SIGINT handler; `watch` polls it.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

#[cfg(unix)]
extern "C" fn on_sigint(_signal: libc::c_int) {
    // Only an atomic store: anything else is not async-signal-safe.
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Makes Ctrl-C end `watch` cleanly (reader stopped, summary printed) instead of killing
/// the process mid-line.
#[cfg(unix)]
fn catch_sigint() {
    let handler: extern "C" fn(libc::c_int) = on_sigint;
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, handler as libc::sighandler_t);
    }
}

#[cfg(not(unix))]
fn catch_sigint() {
    // Ctrl-C keeps its default: the process ends at once, which is acceptable for a
    // diagnostic tool.
}

fn watch(args: &WatchArgs) -> Result<(), String> {
    // A path that does not exist at all is a typo more often than an unplugged reader;
    // once it has been opened, unplugging shows as offline and the reader is reopened.
    if !Path::new(&args.port).exists() {
        return Err(format!(
            "{}: no such port (try `schoolcard-readers ports`)",
            args.port
        ));
    }
    catch_sigint();
    let mut config =
        SerialReaderConfig::new(args.port.clone(), args.port.clone(), args.format.clone());
    config.settings.baud_rate = args.baud;
    let (reads_tx, reads_rx) = mpsc::channel();
    let reader = SerialReader::spawn(config, reads_tx)
        .map_err(|error| format!("cannot start the reader thread: {error}"))?;
    println!(
        "watching {} as {} at {} baud; Ctrl-C stops",
        args.port,
        args.format.name(),
        args.baud
    );
    let deadline = args
        .seconds
        .map(|seconds| Instant::now() + Duration::from_secs(seconds));
    let mut cards: u64 = 0;
    let mut shown = Health::default();
    loop {
        let health = reader.health();
        report_health_change(&shown, &health);
        shown = health;
        if args.count.is_some_and(|count| cards >= count)
            || deadline.is_some_and(|deadline| Instant::now() >= deadline)
            || INTERRUPTED.load(Ordering::SeqCst)
        {
            break;
        }
        match reads_rx.recv_timeout(Duration::from_millis(WATCH_POLL_MS)) {
            Ok(read) => {
                cards += 1;
                println!("{}", card_line(&read));
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        let _ = io::stdout().flush();
    }
    let health = reader.health();
    if !reader.stop() {
        eprintln!(
            "schoolcard-readers: reader thread did not stop within {STOP_JOIN_TIMEOUT_MS} ms"
        );
    }
    println!(
        "stopped: {cards} cards, {} lines not understood, {} port errors, {} reconnects",
        health.line_errors, health.port_errors, health.reconnects
    );
    Ok(())
}

fn report_health_change(before: &Health, now: &Health) {
    let at = utc_time(SystemTime::now());
    if now.online != before.online {
        if now.online {
            let path = now.port_path.as_deref().unwrap_or("?");
            println!("{at}  online  {path}");
        } else {
            let error = now.last_error.as_deref().unwrap_or("port closed");
            println!("{at}  offline  {error}");
        }
    } else if !now.online && now.port_errors > before.port_errors {
        let error = now.last_error.as_deref().unwrap_or("?");
        println!("{at}  still offline  {error}");
    }
    if now.line_errors > before.line_errors {
        let dropped = now.line_errors - before.line_errors;
        println!("{at}  {dropped} line(s) not understood (wrong --format or --baud?)");
    }
}

/// One card, in every form it may have been enrolled by.
fn card_line(read: &CardRead) -> String {
    let (facility, number) = read.card.wiegand26_pair();
    format!(
        "{}  {}  card {}  hex {}  w26 {facility},{number:05}  dec {}  raw {:?}",
        utc_time(read.at),
        read.reader,
        read.card,
        read.card.hex(),
        read.card.decimal(),
        read.raw,
    )
}

/// `HH:MM:SS.mmm UTC`. The crate has no time-zone database; the installer compares
/// reads with each other, not with the wall clock.
fn utc_time(at: SystemTime) -> String {
    let since_epoch = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds_of_day = since_epoch.as_secs() % 86_400;
    format!(
        "{:02}:{:02}:{:02}.{:03} UTC",
        seconds_of_day / 3600,
        seconds_of_day / 60 % 60,
        seconds_of_day % 60,
        since_epoch.subsec_millis()
    )
}

// ── pulse ────────────────────────────────────────────────────────────────────────────

/// The relay board's port, printing every write as hex so the installer sees the frames.
struct EchoingPort<W> {
    port: W,
}

impl<W: Write> Write for EchoingPort<W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let written = self.port.write(bytes)?;
        let hex: Vec<String> = bytes[..written]
            .iter()
            .map(|byte| format!("{byte:02X}"))
            .collect();
        let meaning = match lcus::decode(&bytes[..written]) {
            Ok(command) => format!(
                "  (relay {} {})",
                command.channel,
                if command.on { "on" } else { "off" }
            ),
            Err(_) => String::new(),
        };
        println!(
            "{}  sent {}{meaning}",
            utc_time(SystemTime::now()),
            hex.join(" ")
        );
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.port.flush()
    }
}

fn pulse(args: &PulseArgs) -> Result<(), String> {
    let settings = PortSettings {
        baud_rate: args.baud,
        ..PortSettings::default()
    };
    let port = settings
        .open(&args.port, Duration::from_millis(PULSE_WRITE_TIMEOUT_MS))
        .map_err(|error| format!("cannot open {}: {error}", args.port))?;
    let config = LcusGateConfig {
        entry_channel: args.channel,
        exit_channel: args.channel,
        pulse_hold: args.hold,
        pass_report: PassReport::None,
    };
    // The board has no inputs; nothing comes back on this channel.
    let (events_tx, _events_rx) = mpsc::channel();
    let gate = LcusRelayGate::new(Box::new(EchoingPort { port }), config, events_tx)
        .map_err(|error| error.to_string())?;
    println!(
        "pulsing relay {} on {} for {} ms",
        args.channel,
        args.port,
        args.hold.as_millis()
    );
    gate.open(Direction::Entry)
        .map_err(|error| format!("{}: {error}", args.port))?;
    println!("done");
    Ok(())
}
