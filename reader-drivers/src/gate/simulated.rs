//! A turnstile with a pass sensor, in software: for the demo and for tests.

use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::Duration;

use super::{Direction, Gate, GateError, GateEvent};

/// Default time a simulated pupil takes to walk through, in milliseconds: about what a
/// tripod turnstile allows at 20–30 passages a minute.
pub const SIMULATED_WALK_THROUGH_MS: u64 = 1_500;

/// Default time a simulated turnstile stays open for nobody, in milliseconds: the usual
/// pulse-mode window of a real turnstile (about 5 s).
pub const SIMULATED_PASS_TIMEOUT_MS: u64 = 5_000;

/// Timings of a [`SimulatedTurnstile`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimulatedTurnstileConfig {
    /// From `open` to [`GateEvent::PassConfirmed`].
    pub walk_through: Duration,
    /// From `open` to [`GateEvent::PassTimedOut`] when nobody comes.
    pub pass_timeout: Duration,
}

impl Default for SimulatedTurnstileConfig {
    fn default() -> SimulatedTurnstileConfig {
        SimulatedTurnstileConfig {
            walk_through: Duration::from_millis(SIMULATED_WALK_THROUGH_MS),
            pass_timeout: Duration::from_millis(SIMULATED_PASS_TIMEOUT_MS),
        }
    }
}

/// What a simulated turnstile is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TurnstileState {
    /// Closed both ways.
    Locked,
    /// Open one way for one passage.
    Open(Direction),
    /// Open both ways until locked.
    EmergencyUnlocked,
}

#[derive(Debug)]
struct Sim {
    state: TurnstileState,
    /// Bumped by every command, so a timer of a superseded opening does nothing.
    generation: u64,
    no_pass_armed: bool,
}

/// A software turnstile: `open` leads to [`GateEvent::PassConfirmed`] after the walk-through
/// time, or to [`GateEvent::PassTimedOut`] after the pass timeout if
/// [`SimulatedTurnstile::simulate_no_pass`] was called before. A new command (open, lock,
/// emergency unlock) supersedes an opening in progress, which then reports nothing.
#[derive(Debug, Clone)]
pub struct SimulatedTurnstile {
    config: SimulatedTurnstileConfig,
    sim: Arc<Mutex<Sim>>,
    events: mpsc::Sender<GateEvent>,
}

fn lock_sim(sim: &Mutex<Sim>) -> MutexGuard<'_, Sim> {
    sim.lock().unwrap_or_else(PoisonError::into_inner)
}

impl SimulatedTurnstile {
    /// A locked turnstile reporting to `events`.
    pub fn new(
        config: SimulatedTurnstileConfig,
        events: mpsc::Sender<GateEvent>,
    ) -> SimulatedTurnstile {
        SimulatedTurnstile {
            config,
            sim: Arc::new(Mutex::new(Sim {
                state: TurnstileState::Locked,
                generation: 0,
                no_pass_armed: false,
            })),
            events,
        }
    }

    /// Makes the next opening end with nobody passing.
    pub fn simulate_no_pass(&self) {
        lock_sim(&self.sim).no_pass_armed = true;
    }

    /// What the turnstile is doing now.
    pub fn state(&self) -> TurnstileState {
        lock_sim(&self.sim).state
    }
}

impl Gate for SimulatedTurnstile {
    fn open(&self, direction: Direction) -> Result<(), GateError> {
        let mut sim = lock_sim(&self.sim);
        if sim.state == TurnstileState::EmergencyUnlocked {
            return Ok(());
        }
        let no_pass = std::mem::take(&mut sim.no_pass_armed);
        let (wait, event) = if no_pass {
            (
                self.config.pass_timeout,
                GateEvent::PassTimedOut { direction },
            )
        } else {
            (
                self.config.walk_through,
                GateEvent::PassConfirmed { direction },
            )
        };
        sim.generation += 1;
        let generation = sim.generation;
        let shared = Arc::clone(&self.sim);
        let events = self.events.clone();
        thread::Builder::new()
            .name("simulated turnstile".to_owned())
            .spawn(move || {
                thread::sleep(wait);
                let mut sim = lock_sim(&shared);
                if sim.generation == generation {
                    sim.state = TurnstileState::Locked;
                    let _ = events.send(event);
                }
            })
            .map_err(GateError::Thread)?;
        sim.state = TurnstileState::Open(direction);
        Ok(())
    }

    fn lock(&self) -> Result<(), GateError> {
        let mut sim = lock_sim(&self.sim);
        sim.generation += 1;
        sim.state = TurnstileState::Locked;
        Ok(())
    }

    fn emergency_unlock(&self) -> Result<(), GateError> {
        let mut sim = lock_sim(&self.sim);
        sim.generation += 1;
        sim.state = TurnstileState::EmergencyUnlocked;
        Ok(())
    }
}
