//! The readers and gates wired to a workstation ("devices" on screen): what is plugged in
//! where, as an admin configured it.
//!
//! A configuration is journaled like any other fact (`peripheral_configured`,
//! `peripheral_removed`), so who changed a reader's port and when is on record; it belongs
//! to the workstation whose journal it came from (its `origin`), because a port path means
//! something only on the machine it was typed on. The shell starts the drivers from
//! [`Peripheral`]s; this crate never touches hardware.
//!
//! [`check_spec`] is the rule for a configuration: a pure function of the typed spec and
//! the workstation's other peripherals.

use crate::error::{CoreError, CoreResult, Refusal};
use regex::Regex;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

/// A peripheral's name is a label on a list: «Вход 1 — считыватель».
pub const PERIPHERAL_NAME_LEN_MAX_CHARS: usize = 80;
/// A port path: `/dev/serial/by-id/usb-…` names run long, but not this long.
pub const PORT_LEN_MAX_CHARS: usize = 300;
/// A configured line pattern is one regular expression for one line of text.
pub const PATTERN_LEN_MAX_CHARS: usize = 300;
/// The serial speed of USB readers and relay boards unless configured otherwise.
pub const BAUD_RATE_DEFAULT: u32 = 9_600;
/// The speeds a serial reader, relay board or RS-485 line can be set to.
pub const BAUD_RATES: &[u32] = &[1_200, 2_400, 4_800, 9_600, 19_200, 38_400, 57_600, 115_200];
/// OSDP unicast addresses are `0x00..=0x7E`; `0x7F` is broadcast.
pub const OSDP_ADDRESS_MAX: u8 = 0x7E;
/// OSDP PDs number their inputs from 0; readers with I/O have a handful, controllers a
/// few dozen.
pub const OSDP_INPUT_MAX: u8 = 63;
/// Relay boards sold for turnstiles have 1, 2, 4 or 8 channels, numbered from 1.
pub const RELAY_CHANNEL_MAX: u8 = 8;
/// Shortest relay pulse a turnstile controller reliably takes as "unlock" (HARDWARE.md).
pub const RELAY_PULSE_MIN_MS: u32 = 100;
/// Longest relay pulse: beyond this the gate is effectively held open, which is the
/// emergency unlock's job, not a passage's.
pub const RELAY_PULSE_MAX_MS: u32 = 10_000;
/// The pulse a new relay gate gets.
pub const RELAY_PULSE_DEFAULT_MS: u32 = 300;
/// Named groups a line pattern may hold the card number in, as the serial driver reads
/// them: hex bytes, a decimal UID, or a Wiegand-26 facility and number pair.
const PATTERN_GROUPS: &[&[&str]] = &[&["hex"], &["dec"], &["fac", "num"]];

/// A reader or gate attached to one workstation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PeripheralId(pub Uuid);

impl PeripheralId {
    /// A fresh, time-ordered id (UUID v7).
    pub fn new_v7() -> PeripheralId {
        PeripheralId(Uuid::now_v7())
    }
}

impl fmt::Display for PeripheralId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for PeripheralId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<PeripheralId, uuid::Error> {
        Uuid::parse_str(s).map(PeripheralId)
    }
}

/// Which post a peripheral serves: the screen its card reads go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Post {
    /// The guard's post at the building's door.
    Entrance,
    /// The canteen till.
    Canteen,
    /// The library desk.
    Library,
    /// The office (enrolling cards).
    Office,
}

/// Which way a reader's passage goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Into the building.
    Entry,
    /// Out of the building.
    Exit,
}

/// The text a serial reader prints per card, by preset (see `schoolcard-readers`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineFormatName {
    /// IronLogic Z-2 USB and alike: `Em-Marine[5500] 126,58404`, `Mifare[…] 1K …`.
    IronLogicZ2,
    /// One UID in hex per line.
    HexUid,
    /// One UID in decimal per line.
    DecimalUid,
    /// The configured regular expression in `pattern`.
    Pattern,
}

/// How a peripheral is reached, and what it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Connection {
    /// A USB reader in COM-port mode printing one line per card.
    SerialReader {
        port: String,
        format: LineFormatName,
        /// The regular expression, for [`LineFormatName::Pattern`] only.
        #[serde(default)]
        pattern: Option<String>,
        #[serde(default = "default_baud_rate")]
        baud_rate: u32,
    },
    /// A contactless reader through PC/SC, by its name; empty: every PC/SC reader.
    PcscReader {
        #[serde(default)]
        reader: String,
    },
    /// An OSDP reader on an RS-485 line; several share a port at distinct addresses.
    OsdpReader {
        port: String,
        #[serde(default = "default_baud_rate")]
        baud_rate: u32,
        address: u8,
        /// The line refuses readers that will not use the Secure Channel.
        #[serde(default)]
        secure_only: bool,
        /// The PD input (from 0) wired to the fire alarm panel's contact: when it goes
        /// active, every gate of the workstation unlocks.
        #[serde(default)]
        fire_alarm_input: Option<u8>,
    },
    /// A turnstile's dry-contact inputs driven by a USB relay board (LCUS-1 style).
    RelayGate {
        port: String,
        entry_channel: u8,
        exit_channel: u8,
        pulse_ms: u32,
    },
    /// A thermal receipt printer speaking ESC/POS, on a serial port or a USB printer node
    /// (`/dev/usb/lp0`): the canteen's till prints its sales' receipts there.
    ReceiptPrinter {
        port: String,
        #[serde(default = "default_baud_rate")]
        baud_rate: u32,
        #[serde(default)]
        paper: Paper,
    },
    /// A vending machine (Автобуфет) asking the workstation's vending API over the network,
    /// with its own key, kept here as its SHA-256 digest (the key is shown once when made).
    /// Every machine of a workstation is served on one `listen` address.
    VendingMachine {
        key_sha256: String,
        #[serde(default = "default_vending_listen")]
        listen: String,
    },
    /// A reader the workstation plays itself on a pseudo-terminal, speaking the IronLogic
    /// Z-2 line protocol: for the demo and for trying the system without hardware.
    SimulatedReader,
    /// A turnstile with a pass sensor, played by the workstation.
    SimulatedTurnstile,
}

/// A receipt printer's roll.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Paper {
    /// 58 mm: 32 characters a line.
    #[default]
    #[serde(rename = "58")]
    Mm58,
    /// 80 mm: 48 characters a line.
    #[serde(rename = "80")]
    Mm80,
}

/// Where the vending API listens unless told otherwise: every interface, so machines on
/// the school's network reach it; their keys keep anyone else out.
pub const VENDING_LISTEN_DEFAULT: &str = "0.0.0.0:8787";

fn default_vending_listen() -> String {
    VENDING_LISTEN_DEFAULT.to_owned()
}

fn default_baud_rate() -> u32 {
    BAUD_RATE_DEFAULT
}

impl Connection {
    /// Gates open; readers read cards.
    pub fn is_gate(&self) -> bool {
        matches!(
            self,
            Connection::RelayGate { .. } | Connection::SimulatedTurnstile
        )
    }

    /// Prints receipts.
    pub fn is_printer(&self) -> bool {
        matches!(self, Connection::ReceiptPrinter { .. })
    }

    /// Reads no cards and opens nothing: a printer, a vending machine.
    pub fn reads_no_cards(&self) -> bool {
        self.is_gate()
            || matches!(
                self,
                Connection::ReceiptPrinter { .. } | Connection::VendingMachine { .. }
            )
    }

    /// The serial port it occupies, if any.
    pub fn port(&self) -> Option<&str> {
        match self {
            Connection::SerialReader { port, .. }
            | Connection::OsdpReader { port, .. }
            | Connection::RelayGate { port, .. }
            | Connection::ReceiptPrinter { port, .. } => Some(port),
            Connection::PcscReader { .. }
            | Connection::VendingMachine { .. }
            | Connection::SimulatedReader
            | Connection::SimulatedTurnstile => None,
        }
    }
}

/// A peripheral as an admin configures it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeripheralSpec {
    pub name: String,
    pub post: Post,
    /// Entrance readers only: which way a passage through their gate goes.
    #[serde(default)]
    pub direction: Option<Direction>,
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    pub connection: Connection,
    /// Readers only: the gate a card accepted here opens.
    #[serde(default)]
    pub gate_id: Option<PeripheralId>,
    /// Readers only: who confirms a card before the gate opens.
    #[serde(default)]
    pub verification: VerificationMode,
}

/// Who confirms a card at a reader before its gate opens.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum VerificationMode {
    /// The rules alone.
    #[default]
    Automatic,
    /// The guard sees the photo and the rules' verdict and answers (Enter allows, Esc
    /// denies); no answer within `timeout_s` denies.
    Guard {
        #[serde(default = "default_guard_timeout_s")]
        timeout_s: u32,
    },
    /// An external verifier (a face-recognition system) is asked over HTTP: a POST of the
    /// passage to `url`, answered `{"allow": true|false}` within `deadline_ms`; no answer
    /// in time (or an error) hands the passage to the guard, who has `timeout_s`.
    External {
        url: String,
        #[serde(default = "default_external_deadline_ms")]
        deadline_ms: u32,
        #[serde(default = "default_guard_timeout_s")]
        timeout_s: u32,
    },
}

/// How long an external verifier has by default, in milliseconds: a face check takes a
/// few hundred; more than a second and the queue at the turnstile notices.
pub const EXTERNAL_DEADLINE_DEFAULT_MS: u32 = 1_000;
/// The shortest and longest deadlines a school may give a verifier, in milliseconds.
pub const EXTERNAL_DEADLINE_MIN_MS: u32 = 100;
pub const EXTERNAL_DEADLINE_MAX_MS: u32 = 10_000;
/// Longest verifier address.
pub const VERIFIER_URL_LEN_MAX_CHARS: usize = 500;

fn default_external_deadline_ms() -> u32 {
    EXTERNAL_DEADLINE_DEFAULT_MS
}

/// How long the guard has to answer, by default, in seconds: long enough to look at a
/// face and a photo, short enough that the queue behind does not grow.
pub const GUARD_TIMEOUT_DEFAULT_S: u32 = 10;
/// The shortest and longest answer times a school may configure, in seconds.
pub const GUARD_TIMEOUT_MIN_S: u32 = 3;
pub const GUARD_TIMEOUT_MAX_S: u32 = 120;

fn default_guard_timeout_s() -> u32 {
    GUARD_TIMEOUT_DEFAULT_S
}

fn enabled_by_default() -> bool {
    true
}

/// A configured peripheral of this workstation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Peripheral {
    #[serde(rename = "device_id")]
    pub id: PeripheralId,
    #[serde(flatten)]
    pub spec: PeripheralSpec,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// Checks `spec` as the configuration of peripheral `id` beside the workstation's
/// `others` (which may include `id`'s own current configuration: it is skipped), and
/// returns it cleaned (names and paths trimmed, fields that do not apply cleared).
pub fn check_spec(
    id: PeripheralId,
    spec: PeripheralSpec,
    others: &[Peripheral],
) -> CoreResult<PeripheralSpec> {
    let others: Vec<&Peripheral> = others.iter().filter(|p| p.id != id).collect();
    let mut spec = spec;
    spec.name = crate::workstation::check_title("name", &spec.name, PERIPHERAL_NAME_LEN_MAX_CHARS)?;
    let lower = spec.name.to_lowercase();
    if let Some(other) = others.iter().find(|p| p.spec.name.to_lowercase() == lower) {
        return Err(CoreError::conflict(
            Refusal::DeviceNameTaken,
            format!("another device is named {:?}", other.spec.name),
        )
        .with("name", &other.spec.name));
    }
    spec.connection = check_connection(spec.connection, &others)?;
    let reads_no_cards = spec.connection.reads_no_cards();
    if reads_no_cards || spec.post != Post::Entrance {
        spec.direction = None;
    } else if spec.direction.is_none() {
        return Err(CoreError::invalid(
            "direction",
            Refusal::Empty,
            "an entrance reader needs a direction",
        ));
    }
    if reads_no_cards {
        spec.gate_id = None;
        spec.verification = VerificationMode::Automatic;
    }
    match &mut spec.verification {
        VerificationMode::Automatic => {}
        VerificationMode::Guard { timeout_s } => {
            check_range(
                "timeout_s",
                *timeout_s,
                GUARD_TIMEOUT_MIN_S,
                GUARD_TIMEOUT_MAX_S,
            )?;
        }
        VerificationMode::External {
            url,
            deadline_ms,
            timeout_s,
        } => {
            check_range(
                "timeout_s",
                *timeout_s,
                GUARD_TIMEOUT_MIN_S,
                GUARD_TIMEOUT_MAX_S,
            )?;
            check_range(
                "deadline_ms",
                *deadline_ms,
                EXTERNAL_DEADLINE_MIN_MS,
                EXTERNAL_DEADLINE_MAX_MS,
            )?;
            *url = check_url(url)?;
        }
    }
    if let Some(gate_id) = spec.gate_id {
        let gate = others.iter().find(|p| p.id == gate_id);
        if !gate.is_some_and(|g| g.spec.connection.is_gate()) {
            return Err(CoreError::invalid(
                "gate_id",
                Refusal::NotAGate,
                "the chosen gate is not a gate of this workstation",
            ));
        }
    }
    Ok(spec)
}

fn check_connection(connection: Connection, others: &[&Peripheral]) -> CoreResult<Connection> {
    let connection = match connection {
        Connection::SerialReader {
            port,
            format,
            pattern,
            baud_rate,
        } => {
            let pattern = match format {
                LineFormatName::Pattern => Some(check_pattern(pattern.as_deref().unwrap_or(""))?),
                _ => None,
            };
            Connection::SerialReader {
                port: check_port(&port)?,
                format,
                pattern,
                baud_rate: check_baud_rate(baud_rate)?,
            }
        }
        Connection::PcscReader { reader } => Connection::PcscReader {
            reader: reader.trim().to_owned(),
        },
        Connection::OsdpReader {
            port,
            baud_rate,
            address,
            secure_only,
            fire_alarm_input,
        } => {
            check_range(
                "address",
                u32::from(address),
                0,
                u32::from(OSDP_ADDRESS_MAX),
            )?;
            if let Some(input) = fire_alarm_input {
                check_range(
                    "fire_alarm_input",
                    u32::from(input),
                    0,
                    u32::from(OSDP_INPUT_MAX),
                )?;
            }
            Connection::OsdpReader {
                port: check_port(&port)?,
                baud_rate: check_baud_rate(baud_rate)?,
                address,
                secure_only,
                fire_alarm_input,
            }
        }
        Connection::RelayGate {
            port,
            entry_channel,
            exit_channel,
            pulse_ms,
        } => {
            let max = u32::from(RELAY_CHANNEL_MAX);
            check_range("entry_channel", u32::from(entry_channel), 1, max)?;
            check_range("exit_channel", u32::from(exit_channel), 1, max)?;
            if entry_channel == exit_channel {
                return Err(CoreError::invalid(
                    "exit_channel",
                    Refusal::SameRelayChannel,
                    "entry and exit need their own relay channels",
                ));
            }
            check_range("pulse_ms", pulse_ms, RELAY_PULSE_MIN_MS, RELAY_PULSE_MAX_MS)?;
            Connection::RelayGate {
                port: check_port(&port)?,
                entry_channel,
                exit_channel,
                pulse_ms,
            }
        }
        Connection::ReceiptPrinter {
            port,
            baud_rate,
            paper,
        } => Connection::ReceiptPrinter {
            port: check_port(&port)?,
            baud_rate: check_baud_rate(baud_rate)?,
            paper,
        },
        Connection::VendingMachine { key_sha256, listen } => {
            let key_sha256 = key_sha256.trim().to_ascii_lowercase();
            if key_sha256.len() != 64 || !key_sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(CoreError::invalid(
                    "key_sha256",
                    Refusal::BadKeyDigest,
                    "make the machine's key in the app",
                ));
            }
            let listen = listen.trim().to_owned();
            if listen.parse::<std::net::SocketAddr>().is_err() {
                return Err(CoreError::invalid(
                    "listen",
                    Refusal::BadListenAddress,
                    format!("{listen:?} is not an address and port"),
                )
                .with("value", &listen));
            }
            let elsewhere = others.iter().find(|p| {
                matches!(&p.spec.connection,
                    Connection::VendingMachine { listen: theirs, .. } if *theirs != listen)
            });
            if let Some(other) = elsewhere {
                let theirs = match &other.spec.connection {
                    Connection::VendingMachine { listen, .. } => listen.clone(),
                    _ => String::new(),
                };
                return Err(CoreError::invalid(
                    "listen",
                    Refusal::VendingListenDiffers,
                    format!("{:?} listens on {theirs}", other.spec.name),
                )
                .with("name", &other.spec.name)
                .with("listen", theirs));
            }
            Connection::VendingMachine { key_sha256, listen }
        }
        Connection::SimulatedReader => Connection::SimulatedReader,
        Connection::SimulatedTurnstile => Connection::SimulatedTurnstile,
    };
    check_port_free(&connection, others)?;
    Ok(connection)
}

/// A port serves one peripheral, except an RS-485 line, which OSDP readers share at
/// distinct addresses and one speed.
fn check_port_free(connection: &Connection, others: &[&Peripheral]) -> CoreResult<()> {
    let Some(port) = connection.port() else {
        return Ok(());
    };
    for other in others {
        if other.spec.connection.port() != Some(port) {
            continue;
        }
        match (connection, &other.spec.connection) {
            (
                Connection::OsdpReader {
                    address, baud_rate, ..
                },
                Connection::OsdpReader {
                    address: other_address,
                    baud_rate: other_baud_rate,
                    ..
                },
            ) if baud_rate == other_baud_rate => {
                if address == other_address {
                    return Err(CoreError::conflict(
                        Refusal::OsdpAddressTaken,
                        format!("address {address} on {port} is {:?}'s", other.spec.name),
                    )
                    .with("address", address)
                    .with("name", &other.spec.name));
                }
            }
            _ => {
                return Err(CoreError::conflict(
                    Refusal::DevicePortTaken,
                    format!("{port} is used by {:?}", other.spec.name),
                )
                .with("port", port)
                .with("name", &other.spec.name))
            }
        }
    }
    Ok(())
}

/// An `http://` or `https://` address with a host.
fn check_url(url: &str) -> CoreResult<String> {
    let url = url.trim();
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    let has_host = rest.is_some_and(|r| {
        let host = r.split(['/', '?', '#']).next().unwrap_or("");
        !host.is_empty() && !host.contains(char::is_whitespace)
    });
    if !has_host || url.chars().count() > VERIFIER_URL_LEN_MAX_CHARS {
        return Err(CoreError::invalid(
            "url",
            Refusal::BadUrl,
            format!("{url:?} is not an http:// or https:// address"),
        )
        .with("value", url));
    }
    Ok(url.to_owned())
}

fn check_port(port: &str) -> CoreResult<String> {
    let port = port.trim();
    if port.is_empty() {
        return Err(CoreError::invalid("port", Refusal::Empty, "choose a port"));
    }
    if port.chars().count() > PORT_LEN_MAX_CHARS {
        return Err(
            CoreError::invalid("port", Refusal::TooLong, "the port path is too long")
                .with("max", PORT_LEN_MAX_CHARS),
        );
    }
    Ok(port.to_owned())
}

fn check_baud_rate(baud_rate: u32) -> CoreResult<u32> {
    if BAUD_RATES.contains(&baud_rate) {
        return Ok(baud_rate);
    }
    let listed: Vec<String> = BAUD_RATES.iter().map(u32::to_string).collect();
    Err(CoreError::invalid(
        "baud_rate",
        Refusal::BadBaudRate,
        format!("{baud_rate} is not one of {}", listed.join(", ")),
    )
    .with("value", baud_rate)
    .with("allowed", listed.join(", ")))
}

fn check_range(field: &'static str, value: u32, min: u32, max: u32) -> CoreResult<()> {
    if (min..=max).contains(&value) {
        return Ok(());
    }
    Err(CoreError::invalid(
        field,
        Refusal::OutOfRange,
        format!("{value} is outside {min}..={max}"),
    )
    .with("value", value)
    .with("min", min)
    .with("max", max))
}

/// A line pattern must compile and name where the card number is: a `hex` or `dec`
/// group, or `fac` and `num` together.
fn check_pattern(pattern: &str) -> CoreResult<String> {
    let pattern = pattern.trim();
    if pattern.is_empty() {
        return Err(CoreError::invalid(
            "pattern",
            Refusal::Empty,
            "type the line pattern",
        ));
    }
    if pattern.chars().count() > PATTERN_LEN_MAX_CHARS {
        return Err(
            CoreError::invalid("pattern", Refusal::TooLong, "the pattern is too long")
                .with("max", PATTERN_LEN_MAX_CHARS),
        );
    }
    let regex = Regex::new(pattern).map_err(|error| {
        CoreError::invalid("pattern", Refusal::BadPattern, error.to_string())
            .with("detail", error.to_string())
    })?;
    let names: Vec<&str> = regex.capture_names().flatten().collect();
    let has_card_group = PATTERN_GROUPS
        .iter()
        .any(|group| group.iter().all(|name| names.contains(name)));
    if !has_card_group {
        return Err(CoreError::invalid(
            "pattern",
            Refusal::PatternWithoutCard,
            "the pattern needs a group named hex, dec, or fac and num",
        ));
    }
    Ok(pattern.to_owned())
}

#[cfg(test)]
mod tests;
