//! Simulated readers that speak a real protocol on a pseudo-terminal: for the demo of
//! `make run` and for trying the system without hardware.
//!
//! ```text
//! present(card) ──IronLogic Z-2 line──▶ pty master ═══ kernel tty ═══ pty slave (path)
//!                                                                      │
//!                                         SerialReader (as for /dev/ttyUSB0) ◀┘
//! ```
//!
//! A [`SimulatedRelayTurnstile`] is the other side of a relay board: the workstation
//! drives an ordinary [`crate::gate::LcusRelayGate`] on its path, and the simulator reads
//! the LCUS frames, plays a tripod turnstile that unlocks while its relay is closed, and
//! reports a pass (its "pass sensor") a walk-through time after a pulse.
//!
//! A [`SimulatedSerialReader`] owns both ends of a pseudo-terminal pair. The workstation
//! starts an ordinary [`crate::serial::SerialReader`] on [`SimulatedSerialReader::path`]
//! with the [`crate::serial_line::LineFormat::IronLogicZ2`] format, so a simulated tap
//! takes the same path through the kernel, the line decoder and the supervisor as a tap
//! on a USB reader. The slave end stays open here so the path is valid before the reader
//! opens it and after it closes it (a reconnect finds it again).

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use serialport::{SerialPort, TTYPort};

use crate::gate::{lcus, Direction, GateEvent};
use crate::CardId;

/// How long the simulated turnstile's reading thread waits for a frame before it looks
/// at its stop flag, in milliseconds.
const TURNSTILE_POLL_MS: u64 = 20;

/// The line a Z-2 reader prints when the card leaves its field.
pub const Z2_NO_CARD_LINE: &str = "No card";

/// Why a card cannot be presented on a simulated reader.
#[derive(Debug, thiserror::Error)]
pub enum SimulatorError {
    /// A Z-2 reader prints Em-Marine ids (40 bits, or the 24 bits of a Wiegand-26 pair)
    /// and Mifare UIDs (4 or 7 bytes); nothing else reaches it.
    #[error("a Z-2 reader cannot read a {bits}-bit card")]
    Unsupported {
        /// The card's length in bits.
        bits: u8,
    },
    /// Writing to the pseudo-terminal failed.
    #[error("simulated reader: {0}")]
    Io(#[from] io::Error),
}

/// The line an IronLogic Z-2 USB reader prints for `card`, as the reader would see the
/// physical card:
/// - 40 bits (Em-Marine): `Em-Marine[5500] 126,58404` (the top 16 bits in brackets, the
///   low 24 as a Wiegand-26 pair);
/// - 24 bits (a card known only by its Wiegand-26 pair): an Em-Marine line whose unknown
///   top bits read as zero, which the store matches by the low 24 bits;
/// - 32 and 56 bits (Mifare 1K, Ultralight): `Mifare[BCD14264] 1K (0004,08) 066,53692`.
pub fn z2_line(card: &CardId) -> Result<String, SimulatorError> {
    let pair = |(facility, number): (u8, u16)| format!("{facility:03},{number:05}");
    match card.bits() {
        schoolcard_proto::EM_MARINE_BITS => {
            let bracket = card.value() >> schoolcard_proto::WIEGAND26_DATA_BITS;
            Ok(format!(
                "Em-Marine[{bracket:04X}] {}",
                pair(card.wiegand26_pair())
            ))
        }
        schoolcard_proto::WIEGAND26_DATA_BITS => {
            Ok(format!("Em-Marine[0000] {}", pair(card.wiegand26_pair())))
        }
        schoolcard_proto::MIFARE_4_BYTE_BITS => {
            // A Z-2 prints a 4-byte UID's pair from its first three bytes, low byte first
            // (`BCD14264` → `066,53692`); the decoder reads only the bracket.
            let bytes = card.to_bytes();
            let number = u16::from_le_bytes([bytes[0], bytes[1]]);
            Ok(format!(
                "Mifare[{}] 1K (0004,08) {}",
                card.hex(),
                pair((bytes[2], number))
            ))
        }
        schoolcard_proto::MIFARE_7_BYTE_BITS => Ok(format!(
            "Mifare[{}] UL (0144,00) {}",
            card.hex(),
            pair(card.wiegand26_pair())
        )),
        bits => Err(SimulatorError::Unsupported { bits }),
    }
}

/// A USB reader in COM-port mode, played on a pseudo-terminal.
#[derive(Debug)]
pub struct SimulatedSerialReader {
    master: Mutex<TTYPort>,
    // Held so the slave path exists whether or not a reader has it open.
    _slave: TTYPort,
    path: String,
}

impl SimulatedSerialReader {
    /// Opens a pseudo-terminal pair.
    pub fn new() -> Result<SimulatedSerialReader, SimulatorError> {
        let (master, slave) = TTYPort::pair().map_err(io::Error::from)?;
        let path = slave
            .name()
            .ok_or_else(|| io::Error::other("the pseudo-terminal has no path"))?;
        Ok(SimulatedSerialReader {
            master: Mutex::new(master),
            _slave: slave,
            path,
        })
    }

    /// The device path a serial reader task opens (`/dev/pts/N`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Presents `card`: writes its Z-2 line and, as the reader does when the card is
    /// taken away, a "No card" line. Returns the card's line.
    pub fn present(&self, card: &CardId) -> Result<String, SimulatorError> {
        let line = z2_line(card)?;
        self.write_lines(&[&line, Z2_NO_CARD_LINE])?;
        Ok(line)
    }

    /// Writes raw bytes, as a faulty reader or a noisy line would.
    pub fn write_raw(&self, bytes: &[u8]) -> Result<(), SimulatorError> {
        let mut master = self.master.lock().unwrap_or_else(PoisonError::into_inner);
        master.write_all(bytes)?;
        master.flush()?;
        Ok(())
    }

    fn write_lines(&self, lines: &[&str]) -> Result<(), SimulatorError> {
        let text: String = lines.iter().map(|line| format!("{line}\r\n")).collect();
        self.write_raw(text.as_bytes())
    }
}

/// What the simulated turnstile does when its relays move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayTurnstileConfig {
    /// Relay wired to Unlock A (entry), from 1.
    pub entry_channel: u8,
    /// Relay wired to Unlock B (exit), from 1.
    pub exit_channel: u8,
    /// From a pulse to the pass sensor's report.
    pub walk_through: Duration,
}

/// A tripod turnstile behind a relay board, on a pseudo-terminal: the board's side reads
/// LCUS frames; a pulse on a direction's relay lets one person through, reported as
/// [`GateEvent::PassConfirmed`] after the walk-through time; a relay held closed (an
/// emergency unlock) reports nothing. Dropping it stops its thread.
pub struct SimulatedRelayTurnstile {
    path: String,
    relays: Arc<Mutex<[bool; 8]>>,
    // Held so the board's path exists whether or not a gate has it open.
    _slave: TTYPort,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl SimulatedRelayTurnstile {
    /// Opens a pseudo-terminal pair and starts the turnstile; passes go to `events`.
    pub fn new(
        config: RelayTurnstileConfig,
        events: mpsc::Sender<GateEvent>,
    ) -> Result<SimulatedRelayTurnstile, SimulatorError> {
        let (mut master, slave) = TTYPort::pair().map_err(io::Error::from)?;
        master
            .set_timeout(Duration::from_millis(TURNSTILE_POLL_MS))
            .map_err(io::Error::from)?;
        let path = slave
            .name()
            .ok_or_else(|| io::Error::other("the pseudo-terminal has no path"))?;
        let relays = Arc::new(Mutex::new([false; 8]));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (relays, stop) = (Arc::clone(&relays), Arc::clone(&stop));
            thread::Builder::new()
                .name("simulated turnstile".into())
                .spawn(move || play_turnstile(&mut master, config, &relays, &stop, &events))?
        };
        Ok(SimulatedRelayTurnstile {
            path,
            relays,
            _slave: slave,
            stop,
            thread: Some(thread),
        })
    }

    /// The relay board's device path, for [`crate::gate::LcusRelayGate::open_port`].
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Whether relay `channel` (from 1) is closed now.
    pub fn relay_closed(&self, channel: u8) -> bool {
        let relays = self.relays.lock().unwrap_or_else(PoisonError::into_inner);
        usize::from(channel)
            .checked_sub(1)
            .and_then(|i| relays.get(i).copied())
            .unwrap_or(false)
    }
}

impl Drop for SimulatedRelayTurnstile {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn play_turnstile(
    board: &mut TTYPort,
    config: RelayTurnstileConfig,
    relays: &Mutex<[bool; 8]>,
    stop: &AtomicBool,
    events: &mpsc::Sender<GateEvent>,
) {
    let mut frame = Vec::with_capacity(lcus::FRAME_LEN_BYTES);
    // Passes under way: when the person is through, which way, and the relay's pulse.
    let mut walking: Vec<(Instant, Direction)> = Vec::new();
    let mut byte = [0u8; 1];
    while !stop.load(Ordering::SeqCst) {
        let now = Instant::now();
        walking.retain(|(through_at, direction)| {
            if *through_at > now {
                return true;
            }
            let _ = events.send(GateEvent::PassConfirmed {
                direction: *direction,
            });
            false
        });
        match board.read(&mut byte) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::TimedOut => continue,
            Err(_) => return,
        }
        // Frames start with 0xA0; anything else before one is line noise.
        if frame.is_empty() && byte[0] != lcus::FRAME_START {
            continue;
        }
        frame.push(byte[0]);
        if frame.len() < lcus::FRAME_LEN_BYTES {
            continue;
        }
        let decoded = lcus::decode(&frame);
        frame.clear();
        let Ok(command) = decoded else { continue };
        let index = usize::from(command.channel.saturating_sub(1));
        let mut state = relays.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(relay) = state.get_mut(index) else {
            continue;
        };
        let was_closed = *relay;
        *relay = command.on;
        let emergency = state
            .iter()
            .enumerate()
            .filter(|(_, closed)| **closed)
            .count()
            > 1;
        drop(state);
        if command.on && !was_closed && !emergency {
            let direction = if command.channel == config.exit_channel {
                Direction::Exit
            } else {
                Direction::Entry
            };
            walking.push((Instant::now() + config.walk_through, direction));
        }
        if emergency {
            // Both ways held open: nobody is counted.
            walking.clear();
        }
    }
}

#[cfg(test)]
mod tests;
