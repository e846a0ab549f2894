//! Device wiring: the workstation's configured readers and gates, running.
//!
//! ```text
//! core: peripherals_here() ──reload──▶ DeviceHub ── one driver per peripheral
//!   SerialReader (USB reader, or a simulated one on a pty) ─┐
//!   OsdpLine (one per RS-485 port, its PDs named by id)   ──┼─ CardRead ──▶ pump ──▶ "card-read"
//!   PcscReaders (one for every PC/SC reader)              ──┘
//!   LcusRelayGate / SimulatedTurnstile ── GateEvent ──▶ forwarder ──▶ "gate-event"
//! health thread: every HEALTH_POLL_MS, snapshot ──changed?──▶ "device-health";
//!                reopens relay boards and OSDP lines whose port failed, with back-off
//! ```
//!
//! The hub knows nothing of pupils: it reports what was read where. Drivers supervise
//! their own ports (serial readers and PC/SC reconnect by themselves); the hub restarts
//! what ends on a port failure (OSDP lines, relay boards). A reload stops every driver and
//! starts the configuration anew: it happens when an admin saves or removes a device.

mod entrance;
pub(crate) mod wiring;

use chrono::{DateTime, Utc};
use schoolcard_core::events::{EmergencySource, EventBody, GateFailure};
use schoolcard_core::gatepost::post::{GatePost, Presented};
use schoolcard_core::gatepost::queue::JournalQueue;
use schoolcard_core::peripherals::{Connection, Direction, Paper, Peripheral, PeripheralId, Post};
use schoolcard_readers::gate::{Gate, GateEvent, LcusRelayGate, SIMULATED_WALK_THROUGH_MS};
use schoolcard_readers::osdp::line::{LineEvent, OsdpLine};
use schoolcard_readers::osdp::panel::PanelEvent;
use schoolcard_readers::pcsc::{PcscConfig, PcscReaders};
use schoolcard_readers::printer::ReceiptPrinter;
use schoolcard_readers::serial::{SerialReader, SerialReaderConfig};
use schoolcard_readers::serial_line::LineFormat;
use schoolcard_readers::simulator::{
    RelayTurnstileConfig, SimulatedRelayTurnstile, SimulatedSerialReader,
};
use schoolcard_readers::{CardId, CardRead};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

/// How often device health is looked at, in milliseconds: a reader unplugged shows as
/// offline on the screen within a quarter of a second of the driver noticing.
pub const HEALTH_POLL_MS: u64 = 250;
/// Wait before reopening a relay board or an OSDP line whose port failed, in
/// milliseconds: an unplugged board costs one failed open every 5 s, and is back within
/// 5 s of being plugged in.
pub const PORT_RETRY_MS: u64 = 5_000;
/// Name of the event carrying a [`CardReadDto`] to the UI.
pub const CARD_READ_EVENT: &str = "card-read";
/// Name of the event carrying every device's [`DeviceHealth`] when anything changed.
pub const DEVICE_HEALTH_EVENT: &str = "device-health";
/// Name of the event carrying what a gate's pass sensor reported.
pub const GATE_EVENT: &str = "gate-event";
/// Name of the event saying the gates were unlocked for an emergency, or locked again.
pub const EMERGENCY_EVENT: &str = "emergency";

/// How the hub tells the window: an event name and its JSON payload.
pub type Emit = Arc<dyn Fn(&'static str, Value) + Send + Sync>;

/// One device's state, for the device screen.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceHealth {
    pub device_id: PeripheralId,
    pub name: String,
    /// `online`, `offline`, `starting`, `misconfigured` or `disabled`.
    pub state: &'static str,
    /// Why it is not online, or what it is (the pty path of a simulated reader).
    pub detail: Option<String>,
    pub last_frame_at: Option<DateTime<Utc>>,
    /// Cards read (readers), passages reported (gates).
    pub frames: u64,
    /// Lines or frames that made no sense, port failures.
    pub errors: u64,
    pub reconnects: u64,
}

/// A card read, as the UI receives it.
#[derive(Debug, Clone, Serialize)]
pub struct CardReadDto {
    pub device_id: Option<PeripheralId>,
    pub device_name: String,
    pub post: Option<Post>,
    pub direction: Option<Direction>,
    /// Canonical (`40:55007EE424`).
    pub card: String,
    pub raw: String,
    pub at: DateTime<Utc>,
}

/// Why a device command was not carried out.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error("no running device {0}")]
    NoSuchDevice(PeripheralId),
    #[error("the device {0} is not a simulated reader")]
    NotSimulated(String),
    #[error("the device {0} is not a working gate")]
    NotAGate(String),
    #[error("{0}")]
    Driver(String),
    #[error("the gates stand unlocked for an emergency")]
    Emergency,
    #[error("no receipt printer is configured for this post")]
    NoPrinter,
}

/// Per-device counts kept by the hub itself, for drivers that keep none per device
/// (PC/SC, OSDP PDs) and for gates.
#[derive(Debug, Clone, Default)]
struct Counter {
    frames: u64,
    errors: u64,
    reconnects: u64,
    last_frame_at: Option<SystemTime>,
}

/// An OSDP PD as its line's events describe it.
#[derive(Debug, Clone, Default)]
struct PdState {
    online: bool,
    secure: bool,
    was_online: bool,
    refused: Option<String>,
}

enum Driver {
    Disabled,
    Misconfigured(String),
    Serial(SerialReader),
    Simulated {
        simulator: SimulatedSerialReader,
        reader: SerialReader,
    },
    Pcsc,
    /// A PD on the line `lines[key]`.
    Osdp(LineKey),
    Gate(GateRun),
    /// A receipt printer: opened for each receipt, one at a time.
    Printer(PrinterRun),
    /// A vending machine, served by the hub's vending API.
    Vending,
}

struct PrinterRun {
    connection: schoolcard_readers::printer::PrinterConnection,
    paper: schoolcard_core::peripherals::Paper,
    /// One receipt at a time on the roll.
    busy: Arc<Mutex<()>>,
}

/// Opens a gate's port and makes the gate, or says why not.
type OpenGate = Box<dyn Fn() -> Result<Arc<dyn Gate>, String> + Send>;

struct GateRun {
    gate: Option<Arc<dyn Gate>>,
    /// Opens `gate` for passages on a thread kept for it (see [`start_opener`]).
    opener: Option<mpsc::Sender<schoolcard_readers::gate::Direction>>,
    /// How to open it again after a failure (relay boards); `None`: it does not fail.
    reopen: Option<OpenGate>,
    error: Option<String>,
    retry_at: Instant,
    /// The simulated turnstile behind a simulated relay board, kept running with it.
    _simulator: Option<SimulatedRelayTurnstile>,
    /// The board's device path, watched: a board unplugged takes its node with it.
    port: Option<String>,
}

type LineKey = (String, u32);

struct LineRun {
    line: Option<OsdpLine>,
    start: Box<dyn Fn() -> Result<OsdpLine, String> + Send>,
    error: Option<String>,
    retry_at: Instant,
}

struct Running {
    peripheral: Peripheral,
    driver: Driver,
}

#[derive(Default)]
struct Fleet {
    devices: Vec<Running>,
    lines: HashMap<LineKey, LineRun>,
    pcsc: Option<PcscReaders>,
}

struct Shared {
    fleet: Mutex<Fleet>,
    counters: Mutex<HashMap<PeripheralId, Counter>>,
    pds: Mutex<HashMap<String, PdState>>,
    /// What a card read's `reader` names: a peripheral id, or a PC/SC reader's name.
    routes: Mutex<Routes>,
    last_health: Mutex<Vec<DeviceHealth>>,
    stopping: AtomicBool,
    /// The gates stand unlocked for an emergency: nothing opens or locks them one by one.
    emergency: AtomicBool,
    /// Where gate events go in the journal; `None` for a hub without a database.
    journal: Option<Arc<JournalQueue>>,
    /// OSDP PDs (by name) whose input `n` is the fire alarm, and its last state.
    alarm_inputs: Mutex<HashMap<String, (u8, bool)>>,
    /// The core's decision service for entrance readers; `None` without a database.
    post: Option<Mutex<GatePost>>,
    /// Passages whose gate was opened, waiting for its pass sensor, per gate and way.
    gate_waits: Mutex<HashMap<(PeripheralId, Direction), VecDeque<uuid::Uuid>>>,
    /// Recent denials, for a guard's override.
    recent_denials: Mutex<VecDeque<Presented>>,
    /// The vending machines' API, while machines are configured.
    vending: Mutex<VendingRun>,
    emit: Emit,
}

/// The vending API as configured and as running.
#[derive(Default)]
struct VendingRun {
    /// The school's database: the machines' sales go there. `None`: no API.
    database: Option<std::path::PathBuf>,
    config: Option<VendingConfig>,
    /// Serving, or why not.
    host: Option<Result<schoolcard_vending::host::Host, String>>,
}

/// Where the vending API listens and which machines it serves.
#[derive(Debug, Clone, PartialEq, Eq)]
struct VendingConfig {
    listen: String,
    machines: Vec<VendingMachineConfig>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct VendingMachineConfig {
    id: String,
    name: String,
    key_sha256: String,
}

/// How long a vending machine's authorization holds the pupil's money if the machine
/// says neither «dispensed» nor «not dispensed».
const VENDING_AUTHORIZATION_TTL_S: i64 = 60;

#[derive(Default)]
struct Routes {
    by_id: HashMap<String, Peripheral>,
    /// PC/SC peripherals by reader name; `""` is the one for any reader.
    pcsc: BTreeMap<String, Peripheral>,
}

/// The running devices of one workstation.
pub struct DeviceHub {
    shared: Arc<Shared>,
    reads: mpsc::Sender<CardRead>,
    threads: Vec<thread::JoinHandle<()>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere must not take the gates down with it.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl DeviceHub {
    /// A hub with nothing running yet; its pump and health threads start here.
    /// `journal` receives what the gates do (emergency unlocks); `post` decides the cards
    /// of entrance readers and journals their passages.
    pub fn new(
        emit: Emit,
        journal: Option<Arc<JournalQueue>>,
        post: Option<GatePost>,
    ) -> std::io::Result<DeviceHub> {
        let shared = Arc::new(Shared {
            fleet: Mutex::new(Fleet::default()),
            counters: Mutex::new(HashMap::new()),
            pds: Mutex::new(HashMap::new()),
            routes: Mutex::new(Routes::default()),
            last_health: Mutex::new(Vec::new()),
            stopping: AtomicBool::new(false),
            emergency: AtomicBool::new(false),
            journal,
            alarm_inputs: Mutex::new(HashMap::new()),
            post: post.map(Mutex::new),
            gate_waits: Mutex::new(HashMap::new()),
            recent_denials: Mutex::new(VecDeque::new()),
            vending: Mutex::new(VendingRun::default()),
            emit,
        });
        let (reads, reads_rx) = mpsc::channel::<CardRead>();
        let pump = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name("card reads".into())
                .spawn(move || pump(&shared, reads_rx))?
        };
        let health = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name("device health".into())
                .spawn(move || {
                    while !shared.stopping.load(Ordering::SeqCst) {
                        thread::sleep(Duration::from_millis(HEALTH_POLL_MS));
                        retry_failed(&shared);
                        entrance::expire(&shared);
                        publish_health(&shared);
                    }
                })?
        };
        Ok(DeviceHub {
            shared,
            reads,
            threads: vec![pump, health],
        })
    }

    /// Stops every driver and starts `peripherals` (this workstation's, from the core).
    /// The vending machines' sales go to `database` (the app's school file): without it
    /// the hub serves no vending API.
    pub fn serve_vending_from(&self, database: &std::path::Path) {
        lock(&self.shared.vending).database = Some(database.to_owned());
    }

    /// Starts, restarts or stops the vending API for the configured machines.
    fn reload_vending(&self, peripherals: &[Peripheral]) {
        let mut listen = None;
        let machines: Vec<VendingMachineConfig> = peripherals
            .iter()
            .filter(|p| p.spec.enabled)
            .filter_map(|p| match &p.spec.connection {
                Connection::VendingMachine {
                    key_sha256,
                    listen: address,
                } => {
                    // The core keeps every machine of a workstation on one address.
                    listen.get_or_insert_with(|| address.clone());
                    Some(VendingMachineConfig {
                        id: p.id.to_string(),
                        name: p.spec.name.clone(),
                        key_sha256: key_sha256.clone(),
                    })
                }
                _ => None,
            })
            .collect();
        let config = listen.map(|listen| VendingConfig { listen, machines });
        let mut run = lock(&self.shared.vending);
        if run.config == config && run.host.as_ref().is_some_and(|h| h.is_ok()) {
            return;
        }
        // The old API stops (and frees its address) before the new one binds.
        run.host = None;
        run.config = config.clone();
        let (Some(config), Some(database)) = (config, run.database.clone()) else {
            return;
        };
        run.host = Some(start_vending(&config, &database));
    }

    pub fn reload(&self, peripherals: Vec<Peripheral>, site_key: [u8; 16]) {
        self.reload_vending(&peripherals);
        let old = std::mem::take(&mut *lock(&self.shared.fleet));
        // Dropping the drivers stops their threads, each within its bounded stop.
        drop(old);
        lock(&self.shared.pds).clear();
        lock(&self.shared.counters).clear();
        *lock(&self.shared.alarm_inputs) = peripherals
            .iter()
            .filter(|p| p.spec.enabled)
            .filter_map(|p| match &p.spec.connection {
                Connection::OsdpReader {
                    fire_alarm_input: Some(input),
                    ..
                } => Some((p.id.to_string(), (*input, false))),
                _ => None,
            })
            .collect();

        let mut routes = Routes::default();
        for p in &peripherals {
            if let Connection::PcscReader { reader } = &p.spec.connection {
                if p.spec.enabled {
                    routes.pcsc.insert(reader.clone(), p.clone());
                }
            }
            routes.by_id.insert(p.id.to_string(), p.clone());
        }
        *lock(&self.shared.routes) = routes;

        let mut fleet = Fleet::default();
        // OSDP readers sharing a port and speed share one line.
        let mut lines: BTreeMap<LineKey, (Vec<_>, bool)> = BTreeMap::new();
        for p in peripherals.iter().filter(|p| p.spec.enabled) {
            if let Connection::OsdpReader {
                address,
                secure_only,
                ..
            } = &p.spec.connection
            {
                let key = wiring::osdp_line_key(&p.spec.connection).expect("an OSDP reader");
                let entry = lines.entry(key).or_default();
                entry
                    .0
                    .push(wiring::pd_config(p.id, *address, *secure_only, site_key));
                entry.1 |= *secure_only;
            }
        }
        for ((port, baud_rate), (pds, secure_only)) in lines {
            let config = wiring::panel_config(pds, secure_only);
            let shared = Arc::clone(&self.shared);
            let reads = self.reads.clone();
            let path = port.clone();
            let start = Box::new(move || {
                let (events, events_rx) = mpsc::channel();
                let line = OsdpLine::open(
                    &path,
                    &wiring::port_settings(baud_rate),
                    config.clone(),
                    events,
                )
                .map_err(|e| e.to_string())?;
                let shared = Arc::clone(&shared);
                let reads = reads.clone();
                let key = (path.clone(), baud_rate);
                thread::Builder::new()
                    .name(format!("osdp events {path}"))
                    .spawn(move || forward_line_events(&shared, &key, events_rx, &reads))
                    .map_err(|e| e.to_string())?;
                Ok(line)
            });
            let mut run = LineRun {
                line: None,
                start,
                error: None,
                retry_at: Instant::now(),
            };
            start_line(&mut run);
            fleet.lines.insert((port, baud_rate), run);
        }
        if peripherals
            .iter()
            .any(|p| p.spec.enabled && matches!(p.spec.connection, Connection::PcscReader { .. }))
        {
            match PcscReaders::spawn(PcscConfig::default(), self.reads.clone()) {
                Ok(watcher) => fleet.pcsc = Some(watcher),
                Err(e) => tracing::error!("cannot start the PC/SC watcher: {e}"),
            }
        }
        for peripheral in peripherals {
            let driver = self.start(&peripheral);
            fleet.devices.push(Running { peripheral, driver });
        }
        *lock(&self.shared.fleet) = fleet;
        if self.shared.emergency.load(Ordering::SeqCst) {
            // Gates started during an emergency stand unlocked like the others.
            let gates = all_gates(&self.shared);
            on_every_gate(&gates, |gate| gate.emergency_unlock(), Instant::now());
        }
        publish_health(&self.shared);
    }

    fn start(&self, p: &Peripheral) -> Driver {
        if !p.spec.enabled {
            return Driver::Disabled;
        }
        let name = p.id.to_string();
        match &p.spec.connection {
            Connection::SerialReader {
                port,
                format,
                pattern,
                baud_rate,
            } => {
                let format = match wiring::line_format(*format, pattern.as_deref()) {
                    Ok(format) => format,
                    Err(e) => return Driver::Misconfigured(e),
                };
                let mut config = SerialReaderConfig::new(name, port.clone(), format);
                config.settings = wiring::port_settings(*baud_rate);
                match SerialReader::spawn(config, self.reads.clone()) {
                    Ok(reader) => Driver::Serial(reader),
                    Err(e) => Driver::Misconfigured(e.to_string()),
                }
            }
            Connection::VendingMachine { .. } => Driver::Vending,
            Connection::ReceiptPrinter {
                port,
                baud_rate,
                paper,
            } => Driver::Printer(PrinterRun {
                connection: wiring::printer_connection(port, *baud_rate),
                paper: *paper,
                busy: Arc::new(Mutex::new(())),
            }),
            Connection::SimulatedReader => {
                let simulator = match SimulatedSerialReader::new() {
                    Ok(simulator) => simulator,
                    Err(e) => return Driver::Misconfigured(e.to_string()),
                };
                let config =
                    SerialReaderConfig::new(name, simulator.path(), LineFormat::IronLogicZ2);
                match SerialReader::spawn(config, self.reads.clone()) {
                    Ok(reader) => Driver::Simulated { simulator, reader },
                    Err(e) => Driver::Misconfigured(e.to_string()),
                }
            }
            Connection::PcscReader { .. } => Driver::Pcsc,
            Connection::OsdpReader { .. } => {
                Driver::Osdp(wiring::osdp_line_key(&p.spec.connection).expect("an OSDP reader"))
            }
            Connection::RelayGate {
                port,
                entry_channel,
                exit_channel,
                pulse_ms,
            } => {
                let (port_path, port, config) = (
                    port.clone(),
                    port.clone(),
                    wiring::relay_config(*entry_channel, *exit_channel, *pulse_ms),
                );
                let shared = Arc::clone(&self.shared);
                let id = p.id;
                let open = move || -> Result<Arc<dyn Gate>, String> {
                    let events = gate_events(&shared, id).map_err(|e| e.to_string())?;
                    let gate = LcusRelayGate::open_port(
                        &port,
                        &wiring::port_settings(schoolcard_core::peripherals::BAUD_RATE_DEFAULT),
                        config,
                        events,
                    )
                    .map_err(|e| e.to_string())?;
                    Ok(Arc::new(gate))
                };
                let mut run = GateRun {
                    gate: None,
                    opener: None,
                    reopen: Some(Box::new(open)),
                    error: None,
                    retry_at: Instant::now(),
                    _simulator: None,
                    port: Some(port_path),
                };
                open_gate_run(&self.shared, p.id, &mut run);
                Driver::Gate(run)
            }
            Connection::SimulatedTurnstile => match simulated_turnstile(&self.shared, p.id) {
                Ok((gate, simulator)) => Driver::Gate(GateRun {
                    opener: start_opener(&self.shared, p.id, &gate),
                    gate: Some(gate),
                    reopen: None,
                    error: None,
                    retry_at: Instant::now(),
                    _simulator: Some(simulator),
                    port: None,
                }),
                Err(e) => Driver::Misconfigured(e),
            },
        }
    }

    /// Presents `card` on the simulated reader `id`: its Z-2 line goes through the pty.
    pub fn simulate_card(&self, id: PeripheralId, card: &CardId) -> Result<(), HubError> {
        let fleet = lock(&self.shared.fleet);
        let running = fleet
            .devices
            .iter()
            .find(|r| r.peripheral.id == id)
            .ok_or(HubError::NoSuchDevice(id))?;
        match &running.driver {
            Driver::Simulated { simulator, .. } => simulator
                .present(card)
                .map(|_| ())
                .map_err(|e| HubError::Driver(e.to_string())),
            _ => Err(HubError::NotSimulated(running.peripheral.spec.name.clone())),
        }
    }

    /// Opens gate `id` one way, as the installer's "test" button does.
    pub fn open_gate(&self, id: PeripheralId, direction: Direction) -> Result<(), HubError> {
        if self.shared.emergency.load(Ordering::SeqCst) {
            return Err(HubError::Emergency);
        }
        let gate = {
            let fleet = lock(&self.shared.fleet);
            let running = fleet
                .devices
                .iter()
                .find(|r| r.peripheral.id == id)
                .ok_or(HubError::NoSuchDevice(id))?;
            match &running.driver {
                Driver::Gate(GateRun {
                    gate: Some(gate), ..
                }) => Arc::clone(gate),
                _ => return Err(HubError::NotAGate(running.peripheral.spec.name.clone())),
            }
        };
        // Outside the lock: a relay pulse holds the caller for its length.
        gate.open(wiring::gate_direction(direction)).map_err(|e| {
            gate_failed(&self.shared, id, &e);
            HubError::Driver(e.to_string())
        })
    }

    /// Unlocks every gate at once; see [`emergency_unlock_all`].
    pub fn emergency_unlock(&self, source: EmergencySource) -> EmergencyReport {
        emergency_unlock_all(&self.shared, source)
    }

    /// Ends an emergency: every gate locked again, one by one openings back. (The core
    /// journals who ended it, before this is called.)
    pub fn end_emergency(&self) -> EmergencyReport {
        let started = Instant::now();
        let gates = all_gates(&self.shared);
        let report = on_every_gate(&gates, |gate| gate.lock(), started);
        self.shared.emergency.store(false, Ordering::SeqCst);
        (self.shared.emit)(EMERGENCY_EVENT, json!({"active": false, "report": &report}));
        report
    }

    /// The guard's answer to a passage (see `entrance::guard_decide`).
    pub fn guard_decide(
        &self,
        passage_id: uuid::Uuid,
        allow: bool,
    ) -> Result<Presented, schoolcard_core::CoreError> {
        entrance::guard_decide(&self.shared, passage_id, allow)
    }

    /// A person let through without a card (see `entrance::without_card`).
    pub fn pass_without_card(
        &self,
        person_id: schoolcard_core::domain::PersonId,
        reader_id: PeripheralId,
        note: &str,
    ) -> Result<Presented, schoolcard_core::CoreError> {
        entrance::without_card(&self.shared, person_id, reader_id, note)
    }

    /// The roll of the first enabled receipt printer of `post`, with its name.
    pub fn printer(&self, post: Post) -> Option<(String, Paper)> {
        lock(&self.shared.fleet)
            .devices
            .iter()
            .find_map(|running| match &running.driver {
                Driver::Printer(run) if running.peripheral.spec.post == post => {
                    Some((running.peripheral.spec.name.clone(), run.paper))
                }
                _ => None,
            })
    }

    /// Prints `bytes` on the first enabled receipt printer of `post`; its name when done.
    /// The port is opened for this receipt only, outside the fleet's lock.
    pub fn print(&self, post: Post, bytes: &[u8]) -> Result<String, HubError> {
        let found =
            lock(&self.shared.fleet)
                .devices
                .iter()
                .find_map(|running| match &running.driver {
                    Driver::Printer(run) if running.peripheral.spec.post == post => Some((
                        running.peripheral.id,
                        running.peripheral.spec.name.clone(),
                        run.connection.clone(),
                        Arc::clone(&run.busy),
                    )),
                    _ => None,
                });
        let Some((id, name, connection, busy)) = found else {
            return Err(HubError::NoPrinter);
        };
        let printed = {
            let _one_at_a_time = lock(&busy);
            ReceiptPrinter::open(&connection).and_then(|mut printer| printer.print(bytes))
        };
        {
            let mut counters = lock(&self.shared.counters);
            let counter = counters.entry(id).or_default();
            match &printed {
                Ok(()) => {
                    counter.frames += 1;
                    counter.last_frame_at = Some(SystemTime::now());
                }
                Err(_) => counter.errors += 1,
            }
        }
        publish_health(&self.shared);
        printed
            .map(|()| name)
            .map_err(|e| HubError::Driver(e.to_string()))
    }

    /// Reads the school's zone, the access rules and who is where again.
    pub fn reload_rules(&self) {
        if let Some(post) = &self.shared.post {
            if let Err(e) = lock(post).reload(Utc::now()) {
                tracing::error!("the gate post cannot reload its rules: {e}");
            }
        }
    }

    /// Whether the gates stand unlocked for an emergency.
    pub fn in_emergency(&self) -> bool {
        self.shared.emergency.load(Ordering::SeqCst)
    }

    /// Every device's state now.
    pub fn health(&self) -> Vec<DeviceHealth> {
        snapshot(&self.shared)
    }

    fn stop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        drop(std::mem::take(&mut *lock(&self.shared.fleet)));
        // The pump ends when every sender is gone: ours, and the drivers' (just dropped).
        let (dead, _) = mpsc::channel();
        self.reads = dead;
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// Dropping the hub stops every driver and the hub's threads.
impl Drop for DeviceHub {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What an emergency command did to the gates.
#[derive(Debug, Clone, Serialize)]
pub struct EmergencyReport {
    /// Gates that took the command.
    pub done: Vec<PeripheralId>,
    /// Gates that did not, with why.
    pub failed: Vec<GateFailure>,
    /// From the trigger to the last gate's answer, in milliseconds.
    pub elapsed_ms: u64,
}

/// A gate by id: running, or why not.
type GateHandle = (PeripheralId, Result<Arc<dyn Gate>, String>);

/// The gates that are running now, with their ids. Holds the fleet's lock only to clone.
fn all_gates(shared: &Shared) -> Vec<GateHandle> {
    lock(&shared.fleet)
        .devices
        .iter()
        .filter_map(|running| match &running.driver {
            Driver::Gate(run) => Some((
                running.peripheral.id,
                run.gate.clone().ok_or_else(|| {
                    run.error
                        .clone()
                        .unwrap_or_else(|| "the gate's port is not open".into())
                }),
            )),
            _ => None,
        })
        .collect()
}

/// Runs `command` on every gate at once, one thread each: a relay board finishing a pulse
/// or an OSDP line waiting for its PD delays only its own gate.
fn on_every_gate(
    gates: &[GateHandle],
    command: impl Fn(&dyn Gate) -> Result<(), schoolcard_readers::gate::GateError> + Sync,
    started: Instant,
) -> EmergencyReport {
    let results: Vec<(PeripheralId, Result<(), String>)> = thread::scope(|scope| {
        let handles: Vec<_> = gates
            .iter()
            .map(|(id, gate)| {
                let command = &command;
                (
                    *id,
                    scope.spawn(move || match gate {
                        Ok(gate) => command(gate.as_ref()).map_err(|e| e.to_string()),
                        Err(why) => Err(why.clone()),
                    }),
                )
            })
            .collect();
        handles
            .into_iter()
            .map(|(id, handle)| {
                let result = handle
                    .join()
                    .unwrap_or_else(|_| Err("the gate's command panicked".into()));
                (id, result)
            })
            .collect()
    });
    let mut report = EmergencyReport {
        done: Vec::new(),
        failed: Vec::new(),
        elapsed_ms: 0,
    };
    for (gate_id, result) in results {
        match result {
            Ok(()) => report.done.push(gate_id),
            Err(error) => report.failed.push(GateFailure { gate_id, error }),
        }
    }
    report.elapsed_ms = started.elapsed().as_millis() as u64;
    report
}

/// Unlocks every gate of the workstation at once (the fire alarm, the guard's button).
/// Touches only the gates' ports: no database, no window. What happened is queued for the
/// journal afterwards and told to the window, neither of which it waits for.
fn emergency_unlock_all(shared: &Shared, source: EmergencySource) -> EmergencyReport {
    let started = Instant::now();
    shared.emergency.store(true, Ordering::SeqCst);
    let gates = all_gates(shared);
    let report = on_every_gate(&gates, |gate| gate.emergency_unlock(), started);
    for failure in &report.failed {
        // A gate whose port failed is reopened, and then unlocked, by the health thread.
        let mut fleet = lock(&shared.fleet);
        if let Some(running) = fleet
            .devices
            .iter_mut()
            .find(|r| r.peripheral.id == failure.gate_id)
        {
            if let Driver::Gate(run) = &mut running.driver {
                if run.gate.is_some() {
                    mark_gate_failed(run, failure.error.clone());
                }
            }
        }
    }
    tracing::warn!(
        ?source,
        unlocked = report.done.len(),
        failed = report.failed.len(),
        elapsed_ms = report.elapsed_ms,
        "emergency unlock"
    );
    if let Some(journal) = &shared.journal {
        journal.append(
            journal.device_actor(),
            Utc::now(),
            EventBody::EmergencyUnlocked {
                source,
                gates: report.done.clone(),
                failed: report.failed.clone(),
            },
        );
    }
    (shared.emit)(
        EMERGENCY_EVENT,
        json!({"active": true, "source": source, "report": &report}),
    );
    report
}

/// The demo's turnstile: a simulated tripod behind a simulated relay board on a pty,
/// driven by an ordinary relay-board gate, so a demo passage takes the real relay
/// protocol and the pass comes from the turnstile's "sensor" after a walk-through.
fn simulated_turnstile(
    shared: &Arc<Shared>,
    id: PeripheralId,
) -> Result<(Arc<dyn Gate>, SimulatedRelayTurnstile), String> {
    let events = gate_events(shared, id).map_err(|e| e.to_string())?;
    let simulator = SimulatedRelayTurnstile::new(
        RelayTurnstileConfig {
            entry_channel: SIMULATED_ENTRY_CHANNEL,
            exit_channel: SIMULATED_EXIT_CHANNEL,
            walk_through: Duration::from_millis(SIMULATED_WALK_THROUGH_MS),
        },
        events.clone(),
    )
    .map_err(|e| e.to_string())?;
    let mut config = wiring::relay_config(
        SIMULATED_ENTRY_CHANNEL,
        SIMULATED_EXIT_CHANNEL,
        schoolcard_core::peripherals::RELAY_PULSE_DEFAULT_MS,
    );
    // The simulated turnstile has a pass sensor: it reports, the gate does not assume.
    config.pass_report = schoolcard_readers::gate::PassReport::None;
    let gate = LcusRelayGate::open_port(
        simulator.path(),
        &wiring::port_settings(schoolcard_core::peripherals::BAUD_RATE_DEFAULT),
        config,
        events,
    )
    .map_err(|e| e.to_string())?;
    Ok((Arc::new(gate), simulator))
}

/// The simulated relay board's wiring: relay 1 entry, relay 2 exit.
const SIMULATED_ENTRY_CHANNEL: u8 = 1;
const SIMULATED_EXIT_CHANNEL: u8 = 2;

/// A channel for a gate's events, and the thread that passes them to the window.
fn gate_events(shared: &Arc<Shared>, id: PeripheralId) -> std::io::Result<mpsc::Sender<GateEvent>> {
    let (events, events_rx) = mpsc::channel::<GateEvent>();
    let shared = Arc::clone(shared);
    thread::Builder::new()
        .name(format!("gate {id}"))
        .spawn(move || {
            // Ends when the gate (the only sender) is dropped.
            for event in events_rx {
                let (kind, direction) = match event {
                    GateEvent::PassConfirmed { direction } => ("pass_confirmed", direction),
                    GateEvent::PassTimedOut { direction } => ("pass_timed_out", direction),
                };
                if kind == "pass_confirmed" {
                    let mut counters = lock(&shared.counters);
                    let counter = counters.entry(id).or_default();
                    counter.frames += 1;
                    counter.last_frame_at = Some(SystemTime::now());
                }
                let direction = match direction {
                    schoolcard_readers::gate::Direction::Entry => Direction::Entry,
                    schoolcard_readers::gate::Direction::Exit => Direction::Exit,
                };
                entrance::on_gate_event(&shared, id, direction, kind == "pass_confirmed");
                (shared.emit)(
                    GATE_EVENT,
                    json!({"device_id": id, "event": kind, "direction": direction}),
                );
            }
        })?;
    Ok(events)
}

/// A gate whose port failed: dropped, and reopened by the health thread after the wait.
/// Gates that cannot be reopened (simulated) are kept.
fn mark_gate_failed(run: &mut GateRun, error: String) {
    if run.reopen.is_none() {
        return;
    }
    run.gate = None;
    run.opener = None;
    run.error = Some(error);
    run.retry_at = Instant::now() + port_retry();
}

/// The wait before reopening a failed port ([`PORT_RETRY_MS`]; tests shorten it).
fn port_retry() -> Duration {
    Duration::from_millis(PORT_RETRY_OVERRIDE_MS.load(Ordering::Relaxed))
}

/// [`PORT_RETRY_MS`] unless a test set another wait.
static PORT_RETRY_OVERRIDE_MS: std::sync::atomic::AtomicU64 =
    std::sync::atomic::AtomicU64::new(PORT_RETRY_MS);

/// A gate command failed on gate `id`: a port failure takes the gate down for reopening.
fn gate_failed(shared: &Shared, id: PeripheralId, error: &schoolcard_readers::gate::GateError) {
    if !matches!(error, schoolcard_readers::gate::GateError::Port(_)) {
        return;
    }
    let mut fleet = lock(&shared.fleet);
    if let Some(running) = fleet.devices.iter_mut().find(|r| r.peripheral.id == id) {
        if let Driver::Gate(run) = &mut running.driver {
            tracing::warn!(gate = %running.peripheral.spec.name, "gate port failed: {error}");
            mark_gate_failed(run, error.to_string());
        }
    }
    drop(fleet);
    lock(&shared.counters).entry(id).or_default().errors += 1;
}

/// A thread that opens `gate` for each direction sent to it, one after another (a relay
/// pulse holds its caller for the pulse): the card reads' thread hands over and goes on,
/// and no thread is started per card. It ends when the gate's run is dropped.
fn start_opener(
    shared: &Arc<Shared>,
    id: PeripheralId,
    gate: &Arc<dyn Gate>,
) -> Option<mpsc::Sender<schoolcard_readers::gate::Direction>> {
    let (requests, directions) = mpsc::channel();
    let (gate, shared) = (Arc::clone(gate), Arc::downgrade(shared));
    thread::Builder::new()
        .name(format!("gate {id} opener"))
        .spawn(move || {
            for direction in directions {
                if let Err(e) = gate.open(direction) {
                    tracing::error!("the gate did not open: {e}");
                    if let Some(shared) = shared.upgrade() {
                        gate_failed(&shared, id, &e);
                    }
                }
            }
        })
        .inspect_err(|e| tracing::error!("no thread for a gate's opener: {e}"))
        .ok()?;
    Some(requests)
}

fn open_gate_run(shared: &Arc<Shared>, id: PeripheralId, run: &mut GateRun) {
    let Some(open) = &run.reopen else { return };
    match open() {
        Ok(gate) => {
            run.opener = start_opener(shared, id, &gate);
            run.gate = Some(gate);
            run.error = None;
        }
        Err(e) => {
            tracing::warn!("gate port: {e}");
            run.error = Some(e);
            run.retry_at = Instant::now() + port_retry();
        }
    }
}

fn start_line(run: &mut LineRun) {
    match (run.start)() {
        Ok(line) => {
            run.line = Some(line);
            run.error = None;
        }
        Err(e) => {
            tracing::warn!("OSDP line: {e}");
            run.line = None;
            run.error = Some(e);
            run.retry_at = Instant::now() + port_retry();
        }
    }
}

/// Reopens relay boards and OSDP lines whose port failed, once their wait is over.
fn retry_failed(shared: &Arc<Shared>) {
    let now = Instant::now();
    let mut fleet = lock(&shared.fleet);
    for running in &mut fleet.devices {
        if let Driver::Gate(run) = &mut running.driver {
            let unplugged = run
                .port
                .as_deref()
                .is_some_and(|port| !std::path::Path::new(port).exists());
            if run.gate.is_some() && unplugged {
                tracing::warn!(gate = %running.peripheral.spec.name, "relay board unplugged");
                mark_gate_failed(run, "the relay board's port is gone (unplugged?)".into());
                lock(&shared.counters)
                    .entry(running.peripheral.id)
                    .or_default()
                    .errors += 1;
            }
            if run.gate.is_none() && run.reopen.is_some() && now >= run.retry_at {
                open_gate_run(shared, running.peripheral.id, run);
                if let Some(gate) = &run.gate {
                    lock(&shared.counters)
                        .entry(running.peripheral.id)
                        .or_default()
                        .reconnects += 1;
                    // Back during an emergency: unlocked like the others.
                    if shared.emergency.load(Ordering::SeqCst) {
                        if let Err(e) = gate.emergency_unlock() {
                            tracing::error!("a reconnected gate did not unlock: {e}");
                        }
                    }
                }
            }
        }
    }
    for run in fleet.lines.values_mut() {
        if run.line.is_none() && now >= run.retry_at {
            start_line(run);
        }
    }
}

/// Marks the line failed (its thread has ended) so the health thread reopens it.
fn line_failed(shared: &Shared, key: &LineKey, error: String) {
    let mut fleet = lock(&shared.fleet);
    if let Some(run) = fleet.lines.get_mut(key) {
        run.line = None;
        run.error = Some(error);
        run.retry_at = Instant::now() + port_retry();
    }
}

fn forward_line_events(
    shared: &Shared,
    key: &LineKey,
    events: mpsc::Receiver<LineEvent>,
    reads: &mpsc::Sender<CardRead>,
) {
    for event in events {
        let panel_event = match event {
            LineEvent::PortFailed(error) => {
                tracing::warn!(port = %key.0, "OSDP line failed: {error}");
                for pd in lock(&shared.pds).values_mut() {
                    pd.online = false;
                }
                line_failed(shared, key, error);
                return;
            }
            LineEvent::Panel(event) => event,
        };
        let count_error = |name: &str| {
            if let Ok(id) = name.parse::<PeripheralId>() {
                lock(&shared.counters).entry(id).or_default().errors += 1;
            }
        };
        match panel_event {
            PanelEvent::CardRead { name, card, raw } => match card {
                Ok(card) => {
                    let raw = format!(
                        "{} bits {}",
                        raw.bits,
                        raw.data
                            .iter()
                            .map(|b| format!("{b:02X}"))
                            .collect::<String>()
                    );
                    let _ = reads.send(CardRead {
                        reader: name,
                        card,
                        raw,
                        at: SystemTime::now(),
                    });
                }
                Err(error) => {
                    tracing::debug!(pd = %name, "OSDP card bits refused: {error}");
                    count_error(&name);
                }
            },
            PanelEvent::PdOnline { name, secure, .. } => {
                let back = {
                    let mut pds = lock(&shared.pds);
                    let pd = pds.entry(name.clone()).or_default();
                    let back = pd.was_online;
                    pd.online = true;
                    pd.was_online = true;
                    pd.secure = secure;
                    pd.refused = None;
                    back
                };
                // Counters after PDs are let go: `snapshot` takes them in the other order.
                if let (true, Ok(id)) = (back, name.parse::<PeripheralId>()) {
                    lock(&shared.counters).entry(id).or_default().reconnects += 1;
                }
            }
            PanelEvent::PdOffline { name } => {
                lock(&shared.pds).entry(name).or_default().online = false;
            }
            PanelEvent::Refused { name, reason } => {
                let mut pds = lock(&shared.pds);
                let pd = pds.entry(name).or_default();
                pd.online = false;
                pd.refused = Some(format!("{reason:?}"));
            }
            PanelEvent::ProtocolError {
                name: Some(name), ..
            } => count_error(&name),
            PanelEvent::InputStatus { name, inputs } => {
                let raised = {
                    let mut alarms = lock(&shared.alarm_inputs);
                    match alarms.get_mut(&name) {
                        Some((input, was_active)) => {
                            let active = inputs.get(usize::from(*input)).copied().unwrap_or(false);
                            let raised = active && !*was_active;
                            *was_active = active;
                            raised
                        }
                        None => false,
                    }
                };
                if raised {
                    tracing::warn!(pd = %name, "fire alarm input active");
                    emergency_unlock_all(shared, EmergencySource::AlarmInput);
                }
            }
            PanelEvent::KeySet { name } => {
                tracing::info!(pd = %name, "OSDP reader now holds the site key");
            }
            _ => {}
        }
    }
}

/// Routes card reads to the window, with the device they came from.
fn pump(shared: &Arc<Shared>, reads: mpsc::Receiver<CardRead>) {
    loop {
        let read = match reads.recv_timeout(Duration::from_millis(HEALTH_POLL_MS)) {
            Ok(read) => read,
            Err(RecvTimeoutError::Timeout) if !shared.stopping.load(Ordering::SeqCst) => continue,
            Err(_) => return,
        };
        let peripheral = {
            let routes = lock(&shared.routes);
            routes
                .by_id
                .get(&read.reader)
                .or_else(|| routes.pcsc.get(&read.reader))
                .or_else(|| routes.pcsc.get(""))
                .cloned()
        };
        if let Some(p) = &peripheral {
            let mut counters = lock(&shared.counters);
            let counter = counters.entry(p.id).or_default();
            counter.frames += 1;
            counter.last_frame_at = Some(read.at);
        }
        // The entrance first: the gate opens before anything else is done with the read.
        if let Some(reader) = peripheral
            .as_ref()
            .filter(|p| entrance::is_entrance_reader(p))
        {
            entrance::on_card(shared, reader, &read.card, &read.raw);
        }
        let dto = CardReadDto {
            device_id: peripheral.as_ref().map(|p| p.id),
            device_name: peripheral
                .as_ref()
                .map_or_else(|| read.reader.clone(), |p| p.spec.name.clone()),
            post: peripheral.as_ref().map(|p| p.spec.post),
            direction: peripheral.as_ref().and_then(|p| p.spec.direction),
            card: read.card.to_string(),
            raw: read.raw,
            at: read.at.into(),
        };
        // Every tap at info level would put the school's card numbers in the log files:
        // debug only, and masked even there.
        tracing::debug!(device = %dto.device_name, card = %crate::logs::mask_card(&dto.card), "card read");
        (shared.emit)(
            CARD_READ_EVENT,
            serde_json::to_value(&dto).expect("card reads serialize"),
        );
    }
}

fn publish_health(shared: &Shared) {
    let now = snapshot(shared);
    let mut last = lock(&shared.last_health);
    if *last != now {
        (shared.emit)(
            DEVICE_HEALTH_EVENT,
            serde_json::to_value(&now).expect("health serializes"),
        );
        *last = now;
    }
}

fn snapshot(shared: &Shared) -> Vec<DeviceHealth> {
    let fleet = lock(&shared.fleet);
    let counters = lock(&shared.counters);
    let pds = lock(&shared.pds);
    let pcsc = fleet.pcsc.as_ref().map(PcscReaders::health);
    fleet
        .devices
        .iter()
        .map(|running| {
            let p = &running.peripheral;
            let counter = counters.get(&p.id).cloned().unwrap_or_default();
            let mut health = DeviceHealth {
                device_id: p.id,
                name: p.spec.name.clone(),
                state: "online",
                detail: None,
                last_frame_at: counter.last_frame_at.map(Into::into),
                frames: counter.frames,
                errors: counter.errors,
                reconnects: counter.reconnects,
            };
            match &running.driver {
                Driver::Disabled => health.state = "disabled",
                Driver::Vending => {
                    let run = lock(&shared.vending);
                    match &run.host {
                        Some(Ok(host)) => {
                            health.detail = Some(format!("http://{}", host.address()));
                        }
                        Some(Err(why)) => {
                            health.state = "offline";
                            health.detail = Some(why.clone());
                        }
                        None => {
                            health.state = "misconfigured";
                            health.detail = Some("no database to sell from".into());
                        }
                    }
                }
                Driver::Printer(run) => {
                    // Opened per receipt: between receipts, there is its node or not.
                    let path = run.connection.path();
                    let present = std::path::Path::new(&path).exists();
                    health.state = if present { "online" } else { "offline" };
                    health.detail = Some(if present {
                        path
                    } else {
                        format!("{path}: no such port")
                    });
                }
                Driver::Misconfigured(why) => {
                    health.state = "misconfigured";
                    health.detail = Some(why.clone());
                }
                Driver::Serial(reader) | Driver::Simulated { reader, .. } => {
                    let h = reader.health();
                    health.state = if h.online {
                        "online"
                    } else if h.port_errors == 0 {
                        "starting"
                    } else {
                        "offline"
                    };
                    health.detail = h.last_error.filter(|_| !h.online).or(h.port_path);
                    health.last_frame_at = h.last_frame_at.map(Into::into);
                    health.frames = h.frames;
                    health.errors = h.line_errors + h.port_errors;
                    health.reconnects = h.reconnects;
                }
                Driver::Pcsc => match &pcsc {
                    Some(h) if h.online => {
                        let wanted = match &p.spec.connection {
                            Connection::PcscReader { reader } => reader.as_str(),
                            _ => "",
                        };
                        let present = wanted.is_empty() && !h.readers.is_empty()
                            || h.readers.iter().any(|r| r == wanted);
                        health.state = if present { "online" } else { "offline" };
                        health.detail = Some(if present {
                            h.readers.join(", ")
                        } else {
                            format!("PC/SC: no reader {wanted:?}")
                        });
                        health.errors += h.read_errors;
                    }
                    Some(h) => {
                        health.state = "offline";
                        health.detail = h.last_error.clone();
                    }
                    None => {
                        health.state = "offline";
                        health.detail = Some("PC/SC watcher not running".into());
                    }
                },
                Driver::Osdp(key) => {
                    let line = fleet.lines.get(key);
                    let pd = pds.get(&p.id.to_string());
                    match (line.and_then(|l| l.error.clone()), pd) {
                        (Some(error), _) => {
                            health.state = "offline";
                            health.detail = Some(error);
                        }
                        (None, Some(pd)) if pd.refused.is_some() => {
                            health.state = "offline";
                            health.detail = pd.refused.clone();
                        }
                        (None, Some(pd)) if pd.online => {
                            health.detail =
                                Some(if pd.secure { "secure channel" } else { "clear" }.into());
                        }
                        (None, Some(_)) => health.state = "offline",
                        (None, None) => health.state = "starting",
                    }
                }
                Driver::Gate(run) => {
                    if run.gate.is_none() {
                        health.state = "offline";
                        health.detail = run.error.clone();
                    }
                }
            }
            health
        })
        .collect()
}

#[cfg(test)]
mod tests;

/// The vending API as `config` says, selling from the school's `database` on a
/// connection of its own.
fn start_vending(
    config: &VendingConfig,
    database: &std::path::Path,
) -> Result<schoolcard_vending::host::Host, String> {
    use schoolcard_vending::{api::Vending, core_till::CoreTill, ledger::Ledger, machines};
    let listen = &config.listen;
    let address: std::net::SocketAddr = listen
        .parse()
        .map_err(|_| format!("{listen} is not an address and port"))?;
    let machines = config
        .machines
        .iter()
        .filter_map(|m| {
            let mut digest = [0u8; 32];
            hex_digest(&m.key_sha256, &mut digest)
                .then(|| machines::Machine::with_digest(&m.id, &m.name, digest))
        })
        .collect();
    let till = CoreTill::open(database).map_err(|e| e.to_string())?;
    let vending = Arc::new(Vending {
        machines,
        ledger: Ledger::new(chrono::Duration::seconds(VENDING_AUTHORIZATION_TTL_S)),
        till: Arc::new(till),
    });
    schoolcard_vending::host::Host::start(address, vending)
        .map_err(|e| format!("cannot listen on {listen}: {e}"))
}

/// 64 hex digits into 32 bytes; false if `text` is not that.
fn hex_digest(text: &str, out: &mut [u8; 32]) -> bool {
    if text.len() != 64 {
        return false;
    }
    for (i, byte) in out.iter_mut().enumerate() {
        match u8::from_str_radix(&text[2 * i..2 * i + 2], 16) {
            Ok(b) => *byte = b,
            Err(_) => return false,
        }
    }
    true
}
