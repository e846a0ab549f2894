//! Hardware protocols and the device supervisor.
//!
//! This crate turns wires into typed events and commands: card readers yield
//! [`CardRead`]s, gates and indicators take commands. It knows nothing of pupils, meals or
//! the database, and never depends on `schoolcard-core`; card identities come from
//! `schoolcard-proto` so both sides agree on them.
//!
//! Codemap:
//! - `device_thread` — the bounded stop every device thread's handle shares.
//! - [`osdp`] — OSDP v2.2 control-panel side for RS-485 readers: frames
//!   ([`osdp::frame::FrameDecoder`]), typed commands and replies, Wiegand card bits,
//!   Secure Channel primitives ([`osdp::secure::SecureSession`]);
//!   [`osdp::panel::ControlPanel`], the clock-injected state machine of one line (polling
//!   several PDs, SQN and retries, online/offline, the Secure Channel handshake, install
//!   mode with KEYSET to the site key ([`osdp::panel::PdKey`]), secure-only refusal);
//!   [`osdp::line::OsdpLine`], the port thread around it, with a shareable
//!   [`osdp::line::LineCommands`] handle for OUT, LED and buzzer commands.
//! - [`serial_line`] — USB readers in COM-port mode that print one ASCII line per card
//!   (IronLogic Z-2 USB and alike): byte chunks → lines → [`serial_line::ReaderEvent`]s.
//! - [`serial`] — the device task of a serial reader: [`serial::SerialReader`] opens the
//!   port, decodes lines into [`CardRead`]s, reopens with back-off when unplugged, and
//!   reports a [`serial::Health`] snapshot.
//! - [`pcsc`] — contactless readers through PC/SC: [`pcsc::PcscReaders`] watches every
//!   reader of `pcscd` (readers come and go via the PnP pseudo-reader), reads a card's UID
//!   with `FF CA 00 00 00` into a [`CardRead`], reconnects with back-off when the service
//!   restarts; [`pcsc::list_readers`] for the installer's tool.
//! - [`gate`] — turnstiles and doors: the [`gate::Gate`] trait (open a direction, lock,
//!   emergency unlock) and [`gate::GateEvent`]s from pass sensors;
//!   [`gate::LcusRelayGate`] drives an LCUS-1 USB relay board ([`gate::lcus`] is its
//!   frame codec), [`gate::OsdpGate`] drives a turnstile from an OSDP PD's outputs (its
//!   pass sensor optionally on a PD input), [`gate::SimulatedTurnstile`] plays a
//!   turnstile with a pass sensor.
//! - [`ports`] — the serial ports of the machine, described for an installer.
//! - [`printer`] — a receipt printer as a byte sink: [`printer::ReceiptPrinter`] on a serial
//!   port or a USB printer-class device node (`/dev/usb/lp0`), every stall bounded.
//! - [`simulator`] — readers played on a pseudo-terminal in a real line protocol
//!   ([`simulator::SimulatedSerialReader`]): the demo's readers, driven by a click.

use std::time::SystemTime;

pub use schoolcard_proto::CardId;

mod device_thread;
pub mod gate;
pub mod osdp;
pub mod pcsc;
pub mod ports;
#[cfg(unix)]
pub mod printer;
pub mod serial;
pub mod serial_line;
pub mod simulator;

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
