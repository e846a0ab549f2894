//! Hardware protocols and the device supervisor.
//!
//! This crate turns wires into typed events and commands: card readers yield
//! [`CardRead`]s, gates and indicators take commands. It knows nothing of pupils, meals or
//! the database, and never depends on `schoolcard-core`; card identities come from
//! `schoolcard-proto` so both sides agree on them.
//!
//! Codemap:
//! - [`serial_line`] — USB readers in COM-port mode that print one ASCII line per card
//!   (IronLogic Z-2 USB and alike): byte chunks → lines → [`serial_line::ReaderEvent`]s.

use std::time::SystemTime;

pub use schoolcard_proto::CardId;

pub mod serial_line;

/// A card presented to a reader: the event the rest of the system consumes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardRead {
    /// The reader's configured name (e.g. `entrance-in`), not its port path.
    pub reader: String,
    /// The card, in canonical form.
    pub card: CardId,
    /// What the reader sent, as text, for the journal and for diagnosing odd readers.
    pub raw: String,
    /// When the driver received it (wall clock of the workstation).
    pub at: SystemTime,
}
