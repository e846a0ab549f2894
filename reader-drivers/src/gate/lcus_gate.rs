//! A turnstile driven by an LCUS-1 style USB relay board.

use std::io::Write;
use std::sync::mpsc;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::Duration;

use super::{lcus, Direction, Gate, GateError, GateEvent};
use crate::serial::PortSettings;

/// Shortest time a relay is held closed for a pulse, in milliseconds: turnstiles (PERCo TTR
/// and alike) ignore an Unlock input shorter than 100 ms.
pub const RELAY_PULSE_HOLD_MIN_MS: u64 = 100;

/// Default pulse length, in milliseconds: twice the minimum, so USB latency or a slow
/// relay coil cannot cut a pulse below what the turnstile needs.
pub const RELAY_PULSE_HOLD_DEFAULT_MS: u64 = 200;

/// How long a write of one frame may take before the board counts as gone, in
/// milliseconds. Four bytes take about 4 ms at 9600 baud.
pub const RELAY_WRITE_TIMEOUT_MS: u64 = 500;

/// Whether a gate without a pass sensor reports passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PassReport {
    /// Reports nothing: the journal records the opening only.
    None,
    /// Reports [`GateEvent::PassConfirmed`] as soon as the pulse ends ("without sensor"
    /// mode: the school accepts that an opened turnstile is a passage).
    AssumeAfterPulse,
}

/// How the relays are wired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LcusGateConfig {
    /// Relay wired to the turnstile's Unlock A (entry) input, from 1.
    pub entry_channel: u8,
    /// Relay wired to Unlock B (exit), from 1; may equal `entry_channel` for a door.
    pub exit_channel: u8,
    /// How long a pulse holds the relay closed; at least [`RELAY_PULSE_HOLD_MIN_MS`].
    pub pulse_hold: Duration,
    /// Whether passes are reported without a sensor.
    pub pass_report: PassReport,
}

impl Default for LcusGateConfig {
    /// A two-relay board: relay 1 entry, relay 2 exit, default pulse, no pass reports.
    fn default() -> LcusGateConfig {
        LcusGateConfig {
            entry_channel: 1,
            exit_channel: 2,
            pulse_hold: Duration::from_millis(RELAY_PULSE_HOLD_DEFAULT_MS),
            pass_report: PassReport::None,
        }
    }
}

impl LcusGateConfig {
    fn channel(&self, direction: Direction) -> u8 {
        match direction {
            Direction::Entry => self.entry_channel,
            Direction::Exit => self.exit_channel,
        }
    }

    /// Every wired relay, once each.
    fn channels(&self) -> Vec<u8> {
        let mut channels = vec![self.entry_channel];
        if self.exit_channel != self.entry_channel {
            channels.push(self.exit_channel);
        }
        channels
    }
}

struct Board {
    port: Box<dyn Write + Send>,
    emergency: bool,
}

impl Board {
    fn send(&mut self, channel: u8, on: bool) -> Result<(), GateError> {
        self.port.write_all(&lcus::encode(channel, on))?;
        self.port.flush()?;
        Ok(())
    }
}

/// A turnstile whose Unlock inputs are wired to the relays of an LCUS-1 style board.
///
/// Commands are serialised: an [`Gate::emergency_unlock`] that arrives during a pulse
/// waits for the pulse to end (at most the configured hold) and then closes every relay
/// and keeps them closed.
pub struct LcusRelayGate {
    config: LcusGateConfig,
    board: Mutex<Board>,
    events: mpsc::Sender<GateEvent>,
}

impl LcusRelayGate {
    /// A gate on an already open port (anything that takes bytes).
    pub fn new(
        port: Box<dyn Write + Send>,
        config: LcusGateConfig,
        events: mpsc::Sender<GateEvent>,
    ) -> Result<LcusRelayGate, GateError> {
        if config.pulse_hold < Duration::from_millis(RELAY_PULSE_HOLD_MIN_MS) {
            return Err(GateError::Config(format!(
                "relay pulse of {:?} is shorter than the {RELAY_PULSE_HOLD_MIN_MS} ms a turnstile needs",
                config.pulse_hold
            )));
        }
        if config.entry_channel == 0 || config.exit_channel == 0 {
            return Err(GateError::Config("relay channels count from 1".to_owned()));
        }
        Ok(LcusRelayGate {
            config,
            board: Mutex::new(Board {
                port,
                emergency: false,
            }),
            events,
        })
    }

    /// A gate on the board at `path`, opened with `settings` (9600 8N1 by default).
    pub fn open_port(
        path: &str,
        settings: &PortSettings,
        config: LcusGateConfig,
        events: mpsc::Sender<GateEvent>,
    ) -> Result<LcusRelayGate, GateError> {
        let port = settings
            .open(path, Duration::from_millis(RELAY_WRITE_TIMEOUT_MS))
            .map_err(std::io::Error::from)?;
        LcusRelayGate::new(Box::new(port), config, events)
    }

    /// The wiring.
    pub fn config(&self) -> &LcusGateConfig {
        &self.config
    }

    fn board(&self) -> MutexGuard<'_, Board> {
        self.board.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Gate for LcusRelayGate {
    fn open(&self, direction: Direction) -> Result<(), GateError> {
        let mut board = self.board();
        if board.emergency {
            return Ok(());
        }
        let channel = self.config.channel(direction);
        board.send(channel, true)?;
        thread::sleep(self.config.pulse_hold);
        if let Err(error) = board.send(channel, false) {
            tracing::error!(channel, %error, "relay may be stuck closed: gate open");
            return Err(error);
        }
        if self.config.pass_report == PassReport::AssumeAfterPulse {
            // Nobody listening is not the gate's failure.
            let _ = self.events.send(GateEvent::PassConfirmed { direction });
        }
        Ok(())
    }

    fn lock(&self) -> Result<(), GateError> {
        let mut board = self.board();
        board.emergency = false;
        for channel in self.config.channels() {
            board.send(channel, false)?;
        }
        Ok(())
    }

    fn emergency_unlock(&self) -> Result<(), GateError> {
        let mut board = self.board();
        board.emergency = true;
        // Try every relay even if one write fails: each opened direction helps.
        let mut result = Ok(());
        for channel in self.config.channels() {
            if let Err(error) = board.send(channel, true) {
                tracing::error!(channel, %error, "emergency unlock: relay not closed");
                result = Err(error);
            }
        }
        result
    }
}
