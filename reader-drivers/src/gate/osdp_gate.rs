//! A turnstile or door whose Unlock inputs are wired to the outputs (relays) of an OSDP
//! PD: a reader or I/O module on an [`OsdpLine`](crate::osdp::line::OsdpLine).
//!
//! The gate only queues OUT commands on the line, through its [`LineCommands`]; the PD
//! times pulses itself. One OUT command per call, its records applied by the PD in order:
//!
//! ```text
//! open(direction)    output of that direction: 1 permanent off (abort timer),
//!                                              5 temporary on for the pulse
//! lock               every wired output:       1 permanent off (abort timer)
//! emergency_unlock   every wired output:       2 permanent on (abort timer)
//! ```
//!
//! "Permanent off" before the pulse makes the output fall back to off when the pulse
//! ends, whatever state an earlier command left it in. Lock and emergency unlock
//! supersede what is still queued for the PD
//! ([`LineCommands::outputs_superseding`]), so a pulse queued before them cannot undo
//! them.
//!
//! Passes ([`OsdpPassSource`]): either an input of the PD is wired to the turnstile's
//! pass contact, and an opening ends in [`GateEvent::PassConfirmed`] when that input goes
//! active within the pass window or in [`GateEvent::PassTimedOut`] otherwise; or there is
//! no sensor and, as with [`LcusRelayGate`](super::LcusRelayGate), [`PassReport`] says
//! whether a pass is assumed once the pulse has had time to end. The gate does not read
//! the line's events itself: whoever receives them feeds them to
//! [`OsdpGate::on_panel_event`], which takes the input reports of the gate's PD and
//! restores the outputs when the PD comes online.
//!
//! Emergency unlock depends on nothing but the line: no store, no rules. It needs the PD
//! online; otherwise it fails with the line's error (the turnstile's own fire-alarm input
//! remains the way to open it) but is still held: [`OsdpGate::restore`] sends it, and
//! [`OsdpGate::on_panel_event`] calls `restore` on every [`PanelEvent::PdOnline`] of the
//! gate's PD (a PD that restarted has its outputs off).

use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::Duration;

use super::{
    Direction, Gate, GateError, GateEvent, PassReport, RELAY_PULSE_HOLD_DEFAULT_MS,
    RELAY_PULSE_HOLD_MIN_MS,
};
use crate::osdp::line::LineCommands;
use crate::osdp::message::{OutputCode, OutputCommand, TIMER_UNIT_MS};
use crate::osdp::panel::PanelEvent;

/// Longest pulse, in milliseconds. A pulse lets one person through; a gate held open
/// longer than a minute is a configuration mistake (emergency unlock holds it open), and
/// [`PassReport::AssumeAfterPulse`] waits out the pulse in [`Gate::open`].
pub const OSDP_PULSE_MAX_MS: u64 = 60_000;

/// Longest pass window, in milliseconds: turnstiles close again after about 5 s; a
/// minute leaves room for a slow door. Each opening with a sensor keeps a timer thread
/// for its window.
pub const OSDP_PASS_WINDOW_MAX_MS: u64 = 60_000;

/// Where an [`OsdpGate`] learns that someone went through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OsdpPassSource {
    /// No sensor: [`PassReport`] says whether a pass is assumed after the pulse.
    Assumed(PassReport),
    /// Input `input` of the PD (from 0) follows the turnstile's pass contact: its going
    /// active within `window` of an opening is the pass; no such edge, and the opening
    /// ends in [`GateEvent::PassTimedOut`]. `window` is at least the pulse and at most
    /// [`OSDP_PASS_WINDOW_MAX_MS`].
    Input {
        /// The input, from 0.
        input: u8,
        /// How long after an opening a pass counts.
        window: Duration,
    },
}

/// Which outputs of which PD drive the turnstile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OsdpGateConfig {
    /// The PD's name on its line ([`PdConfig::name`](crate::osdp::panel::PdConfig::name)).
    pub pd: String,
    /// Output wired to the turnstile's Unlock A (entry) input, from 0.
    pub entry_output: u8,
    /// Output wired to Unlock B (exit), from 0; may equal `entry_output` for a door.
    pub exit_output: u8,
    /// How long a pulse holds the output on: at least [`RELAY_PULSE_HOLD_MIN_MS`], at
    /// most [`OSDP_PULSE_MAX_MS`], rounded up to whole [`TIMER_UNIT_MS`] (100 ms), the
    /// unit of the OUT timer.
    pub pulse: Duration,
    /// Where passes come from.
    pub pass: OsdpPassSource,
}

impl OsdpGateConfig {
    /// Outputs 0 (entry) and 1 (exit) of the PD called `pd`, the default pulse, no
    /// sensor and no assumed passes.
    pub fn new(pd: impl Into<String>) -> OsdpGateConfig {
        OsdpGateConfig {
            pd: pd.into(),
            entry_output: 0,
            exit_output: 1,
            pulse: Duration::from_millis(RELAY_PULSE_HOLD_DEFAULT_MS),
            pass: OsdpPassSource::Assumed(PassReport::None),
        }
    }

    fn output(&self, direction: Direction) -> u8 {
        match direction {
            Direction::Entry => self.entry_output,
            Direction::Exit => self.exit_output,
        }
    }

    /// Every wired output, once each.
    fn outputs(&self) -> Vec<u8> {
        let mut outputs = vec![self.entry_output];
        if self.exit_output != self.entry_output {
            outputs.push(self.exit_output);
        }
        outputs
    }

    /// The pulse in OUT timer units, rounded up; refused outside the limits.
    fn pulse_units(&self) -> Result<u16, GateError> {
        let pulse_ms = self.pulse.as_millis();
        if pulse_ms < u128::from(RELAY_PULSE_HOLD_MIN_MS) {
            return Err(GateError::Config(format!(
                "output pulse of {:?} is shorter than the {RELAY_PULSE_HOLD_MIN_MS} ms a turnstile needs",
                self.pulse
            )));
        }
        if pulse_ms > u128::from(OSDP_PULSE_MAX_MS) {
            return Err(GateError::Config(format!(
                "output pulse of {:?} is longer than {OSDP_PULSE_MAX_MS} ms",
                self.pulse
            )));
        }
        if let OsdpPassSource::Input { window, .. } = self.pass {
            if window < self.pulse || window > Duration::from_millis(OSDP_PASS_WINDOW_MAX_MS) {
                return Err(GateError::Config(format!(
                    "pass window of {window:?} is not between the pulse ({:?}) and {OSDP_PASS_WINDOW_MAX_MS} ms",
                    self.pulse
                )));
            }
        }
        let units = pulse_ms.div_ceil(u128::from(TIMER_UNIT_MS));
        // At most OSDP_PULSE_MAX_MS / TIMER_UNIT_MS = 600.
        u16::try_from(units).map_err(|_| GateError::Config("output pulse too long".to_owned()))
    }
}

/// The records of one pulse on `output`: back to permanent off, then on for the timer.
fn pulse_records(output: u8, pulse_units: u16) -> [OutputCommand; 2] {
    [
        OutputCommand {
            output,
            code: OutputCode::PermanentOffAbortTimer,
            timer_100ms: 0,
        },
        OutputCommand {
            output,
            code: OutputCode::TemporaryOn,
            timer_100ms: pulse_units,
        },
    ]
}

/// One record per output, each with `code` and no timer.
fn permanent_records(outputs: &[u8], code: OutputCode) -> Vec<OutputCommand> {
    outputs
        .iter()
        .map(|&output| OutputCommand {
            output,
            code,
            timer_100ms: 0,
        })
        .collect()
}

#[derive(Debug)]
struct GateState {
    emergency: bool,
    /// Bumped by every command, so a pass assumed for a superseded opening is not
    /// reported.
    generation: u64,
    /// With a pass input: the opening whose pass is awaited, and its generation.
    awaiting_pass: Option<(Direction, u64)>,
    /// With a pass input: its last reported state.
    input_active: bool,
}

fn lock_state(state: &Mutex<GateState>) -> MutexGuard<'_, GateState> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A turnstile driven through the outputs of an OSDP PD. See the module documentation.
pub struct OsdpGate {
    config: OsdpGateConfig,
    pulse_units: u16,
    line: LineCommands,
    /// Shared with the pass-window timers.
    state: Arc<Mutex<GateState>>,
    events: mpsc::Sender<GateEvent>,
}

impl std::fmt::Debug for OsdpGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OsdpGate")
            .field("config", &self.config)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl OsdpGate {
    /// A gate on the line behind `line`, wired as `config` says; pass reports go to
    /// `events`. Nothing is sent until the first command.
    pub fn new(
        line: LineCommands,
        config: OsdpGateConfig,
        events: mpsc::Sender<GateEvent>,
    ) -> Result<OsdpGate, GateError> {
        let pulse_units = config.pulse_units()?;
        if config.pd.is_empty() {
            return Err(GateError::Config("the gate's PD has no name".to_owned()));
        }
        Ok(OsdpGate {
            config,
            pulse_units,
            line,
            state: Arc::new(Mutex::new(GateState {
                emergency: false,
                generation: 0,
                awaiting_pass: None,
                input_active: false,
            })),
            events,
        })
    }

    /// The wiring.
    pub fn config(&self) -> &OsdpGateConfig {
        &self.config
    }

    /// The pulse as the PD times it: the configured one rounded up to whole 100 ms.
    pub fn pulse(&self) -> Duration {
        Duration::from_millis(u64::from(self.pulse_units) * TIMER_UNIT_MS)
    }

    /// Sends the held state again: every wired output on while emergency-unlocked, off
    /// otherwise. For when the PD comes (back) online: it may have restarted with its
    /// outputs off, or missed an emergency unlock while offline.
    pub fn restore(&self) -> Result<(), GateError> {
        let state = self.state();
        let code = if state.emergency {
            OutputCode::PermanentOnAbortTimer
        } else {
            OutputCode::PermanentOffAbortTimer
        };
        let records = permanent_records(&self.config.outputs(), code);
        self.line.outputs_superseding(&self.config.pd, &records)?;
        Ok(())
    }

    /// Feeds the gate an event of its line (any event; others' are ignored): the input
    /// reports of its PD (the pass sensor), and its PD coming online ([`OsdpGate::restore`]).
    pub fn on_panel_event(&self, event: &PanelEvent) -> Result<(), GateError> {
        match event {
            PanelEvent::PdOnline { name, .. } if *name == self.config.pd => self.restore(),
            PanelEvent::InputStatus { name, inputs } if *name == self.config.pd => {
                let OsdpPassSource::Input { input, .. } = self.config.pass else {
                    return Ok(());
                };
                let active = inputs.get(usize::from(input)).copied().unwrap_or(false);
                let mut state = self.state();
                let rising = active && !state.input_active;
                state.input_active = active;
                if !rising {
                    return Ok(());
                }
                match state.awaiting_pass.take() {
                    // Nobody listening is not the gate's failure.
                    Some((direction, _)) => {
                        let _ = self.events.send(GateEvent::PassConfirmed { direction });
                    }
                    None => tracing::info!(pd = %self.config.pd, "pass without an opening"),
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Starts the pass window of the opening `generation`: when it ends with the pass
    /// still awaited, the opening timed out.
    fn start_pass_window(
        &self,
        direction: Direction,
        generation: u64,
        window: Duration,
    ) -> Result<(), GateError> {
        let state = Arc::clone(&self.state);
        let events = self.events.clone();
        thread::Builder::new()
            .name("osdp gate pass window".to_owned())
            .spawn(move || {
                thread::sleep(window);
                let mut state = lock_state(&state);
                if state.awaiting_pass == Some((direction, generation)) {
                    state.awaiting_pass = None;
                    let _ = events.send(GateEvent::PassTimedOut { direction });
                }
            })
            .map_err(GateError::Thread)?;
        Ok(())
    }

    fn state(&self) -> MutexGuard<'_, GateState> {
        lock_state(&self.state)
    }
}

impl Gate for OsdpGate {
    /// Queues the pulse and returns; with a pass input, the pass or its timeout comes
    /// later; with [`PassReport::AssumeAfterPulse`], waits out the pulse first and reports
    /// the pass. A lock or emergency unlock meanwhile cancels either report.
    fn open(&self, direction: Direction) -> Result<(), GateError> {
        let mut state = self.state();
        if state.emergency {
            return Ok(());
        }
        let output = self.config.output(direction);
        self.line
            .outputs(&self.config.pd, &pulse_records(output, self.pulse_units))?;
        state.generation += 1;
        let generation = state.generation;
        match self.config.pass {
            OsdpPassSource::Input { window, .. } => {
                state.awaiting_pass = Some((direction, generation));
                drop(state);
                if let Err(error) = self.start_pass_window(direction, generation, window) {
                    self.state().awaiting_pass = None;
                    return Err(error);
                }
            }
            OsdpPassSource::Assumed(PassReport::AssumeAfterPulse) => {
                drop(state);
                thread::sleep(self.pulse());
                if self.state().generation == generation {
                    // Nobody listening is not the gate's failure.
                    let _ = self.events.send(GateEvent::PassConfirmed { direction });
                }
            }
            OsdpPassSource::Assumed(PassReport::None) => {}
        }
        Ok(())
    }

    fn lock(&self) -> Result<(), GateError> {
        let mut state = self.state();
        state.emergency = false;
        state.generation += 1;
        state.awaiting_pass = None;
        let records = permanent_records(&self.config.outputs(), OutputCode::PermanentOffAbortTimer);
        self.line.outputs_superseding(&self.config.pd, &records)?;
        Ok(())
    }

    /// Holds every wired output on until [`Gate::lock`]. If the command cannot be queued
    /// (PD offline, line stopped) the error is returned, but the unlock is still held:
    /// openings do nothing and [`OsdpGate::restore`] sends it.
    fn emergency_unlock(&self) -> Result<(), GateError> {
        let mut state = self.state();
        state.emergency = true;
        state.generation += 1;
        state.awaiting_pass = None;
        let records = permanent_records(&self.config.outputs(), OutputCode::PermanentOnAbortTimer);
        if let Err(error) = self.line.outputs_superseding(&self.config.pd, &records) {
            tracing::error!(pd = %self.config.pd, %error, "emergency unlock not sent");
            return Err(error.into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
