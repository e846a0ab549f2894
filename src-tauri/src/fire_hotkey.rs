//! The guard's fire key outside the web view: [`SHORTCUT`] pressed twice within
//! [`CONFIRM_WINDOW`] unlocks every gate of this workstation.
//!
//! The shell grabs the key from the OS itself (X11 on Linux, through the global-shortcut
//! plugin), so it works whatever the screens are doing — frozen, on another window, or
//! before anyone signs in, like a break-glass button — and, as the on-screen button, it
//! waits for neither the database nor the core: the hub unlocks, the journal hears of it
//! afterwards (source `hotkey`). The first press arms it and tells the screen
//! ([`ARMED_EVENT`]), which asks for the second; the second press is the confirmation.

use crate::commands::Devices;
use schoolcard_core::events::EmergencySource;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tauri::{AppHandle, Emitter, Manager, Runtime};
use tauri_plugin_global_shortcut::{Shortcut, ShortcutEvent, ShortcutState};

/// The key: not Ctrl+Alt+F-n, which switches the Linux console.
pub const SHORTCUT: &str = "ctrl+shift+F12";
/// The second press confirms within this long after the first.
pub const CONFIRM_WINDOW: Duration = Duration::from_secs(3);
/// Told to the screens when the first press arms the key, with the seconds left.
pub const ARMED_EVENT: &str = "fire-hotkey-armed";

/// What a press of the key does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Press {
    /// The first press: waiting for the second.
    Armed,
    /// The second within the window: unlock.
    Confirmed,
}

/// Two presses within [`CONFIRM_WINDOW`] make a confirmation.
#[derive(Default)]
pub struct Confirmation {
    armed_at: Mutex<Option<Instant>>,
}

impl Confirmation {
    pub fn press(&self, now: Instant) -> Press {
        let mut armed_at = self
            .armed_at
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match armed_at.take() {
            Some(at) if now.saturating_duration_since(at) <= CONFIRM_WINDOW => Press::Confirmed,
            _ => {
                *armed_at = Some(now);
                Press::Armed
            }
        }
    }
}

/// The plugin with the key registered and its handler. A key the OS will not give (no
/// X server, another program holds it) leaves a warning; the on-screen button and the
/// alarm inputs still work.
pub fn plugin<R: Runtime>() -> tauri::plugin::TauriPlugin<R> {
    let confirmation = Confirmation::default();
    let builder = tauri_plugin_global_shortcut::Builder::new().with_handler(
        move |app: &AppHandle<R>, _: &Shortcut, event: ShortcutEvent| {
            if event.state() != ShortcutState::Pressed {
                return;
            }
            match confirmation.press(Instant::now()) {
                Press::Armed => {
                    tracing::warn!("the fire key pressed once: press it again to unlock");
                    let _ = app.emit(ARMED_EVENT, CONFIRM_WINDOW.as_secs());
                }
                Press::Confirmed => unlock(app),
            }
        },
    );
    match builder.with_shortcut(SHORTCUT) {
        Ok(builder) => builder.build(),
        Err(e) => {
            tracing::warn!("the fire key {SHORTCUT} cannot be registered: {e}");
            tauri_plugin_global_shortcut::Builder::new().build()
        }
    }
}

fn unlock<R: Runtime>(app: &AppHandle<R>) {
    let Some(devices) = app.try_state::<Devices>() else {
        return;
    };
    match devices.hub() {
        Ok(hub) => {
            let report = hub.emergency_unlock(EmergencySource::Hotkey);
            tracing::warn!(
                "the fire key unlocked {} gate(s), {} failed",
                report.done.len(),
                report.failed.len()
            );
        }
        Err(e) => tracing::error!("the fire key found no gates: {}", e.message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_second_press_within_the_window_confirms_and_a_late_one_arms_again() {
        let confirmation = Confirmation::default();
        let t0 = Instant::now();
        assert_eq!(confirmation.press(t0), Press::Armed);
        assert_eq!(
            confirmation.press(t0 + Duration::from_millis(800)),
            Press::Confirmed
        );
        // Confirmed: the next press starts over.
        assert_eq!(
            confirmation.press(t0 + Duration::from_secs(1)),
            Press::Armed
        );
        // Too late for a confirmation: that press arms again, and the one after confirms.
        let late = t0 + Duration::from_secs(1) + CONFIRM_WINDOW + Duration::from_millis(1);
        assert_eq!(confirmation.press(late), Press::Armed);
        assert_eq!(
            confirmation.press(late + Duration::from_millis(200)),
            Press::Confirmed
        );
    }
}
