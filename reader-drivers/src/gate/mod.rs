//! Turnstiles and doors: commands in, pass-sensor events out.
//!
//! A [`Gate`] opens one direction for one passage, locks, or unlocks for an emergency. What
//! its pass sensor saw comes back as [`GateEvent`]s on the channel given when the gate was
//! made. Implementations:
//! - [`LcusRelayGate`] — an LCUS-1 style USB relay board wired to a turnstile's dry-contact
//!   inputs (Unlock A / Unlock B); the board has no inputs, so it reports a pass only when
//!   configured to assume one ([`PassReport::AssumeAfterPulse`]);
//! - [`OsdpGate`] — a turnstile wired to the outputs of an OSDP PD, driven by OUT
//!   commands on its line;
//! - [`SimulatedTurnstile`] — a turnstile with a pass sensor, for the demo and tests.
//!
//! Software emergency unlock is in addition to the turnstile's own fire-alarm input, never
//! instead; it depends on nothing but the gate's port.

use std::io;

mod lcus_gate;
mod osdp_gate;
mod simulated;

pub mod lcus;

pub use lcus_gate::{
    LcusGateConfig, LcusRelayGate, PassReport, RELAY_PULSE_HOLD_DEFAULT_MS, RELAY_PULSE_HOLD_MIN_MS,
};
pub use osdp_gate::{
    OsdpGate, OsdpGateConfig, OsdpPassSource, OSDP_PASS_WINDOW_MAX_MS, OSDP_PULSE_MAX_MS,
};
pub use simulated::{
    SimulatedTurnstile, SimulatedTurnstileConfig, TurnstileState, SIMULATED_PASS_TIMEOUT_MS,
    SIMULATED_WALK_THROUGH_MS,
};

/// Which way a passage goes. Turnstiles call these A and B; here they are named after
/// the school: into the building or out of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Into the building (turnstile side A).
    Entry,
    /// Out of the building (turnstile side B).
    Exit,
}

/// What a gate's pass sensor reported after an [`Gate::open`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateEvent {
    /// Someone went through.
    PassConfirmed {
        /// The direction that was opened.
        direction: Direction,
    },
    /// The gate was opened but nobody went through before it closed again.
    PassTimedOut {
        /// The direction that was opened.
        direction: Direction,
    },
}

/// Why a gate command failed.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    /// Writing to the gate's port failed (unplugged, broken cable).
    #[error("gate port: {0}")]
    Port(#[from] io::Error),
    /// A simulated gate could not start its timer thread.
    #[error("cannot start gate timer: {0}")]
    Thread(io::Error),
    /// The gate's configuration is not usable.
    #[error("gate configuration: {0}")]
    Config(String),
    /// The gate's OSDP line did not take the command (PD offline, line stopped).
    #[error("gate's OSDP line: {0}")]
    Osdp(#[from] crate::osdp::line::LineError),
}

/// A turnstile or door that the software can open.
///
/// Methods take `&self` so the guard's emergency button can reach a gate shared with the
/// card-tap path (`Arc<dyn Gate>`).
pub trait Gate: Send + Sync {
    /// Opens `direction` for one passage. The outcome comes later as a [`GateEvent`] (or
    /// not at all from a gate without a sensor). While the gate is emergency-unlocked it
    /// is already open: nothing is done and nothing is reported.
    fn open(&self, direction: Direction) -> Result<(), GateError>;

    /// Locks both directions, cancelling a passage in progress and ending an emergency
    /// unlock.
    fn lock(&self) -> Result<(), GateError>;

    /// Opens both directions and holds them open until [`Gate::lock`].
    fn emergency_unlock(&self) -> Result<(), GateError>;
}

#[cfg(test)]
mod tests;
