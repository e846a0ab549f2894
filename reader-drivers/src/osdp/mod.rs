//! OSDP v2.2 (SIA; IEC 60839-11-5), the control-panel side: readers on an RS-485 bus.
//!
//! ```text
//! bytes ──FrameDecoder──▶ Frame ──Reply::parse──▶ Reply ──card::card_id──▶ CardId
//! Command ──encode──▶ (code, data) ──Frame::encode──▶ bytes
//! ```
//!
//! Everything but [`line`](mod@line) is pure code, with no I/O, no clock and no randomness
//! (the instant and RND.A are passed in); `line` is the thread that owns the port, feeds
//! bytes to a [`panel::ControlPanel`], sends what it asks for and draws RND.A from the OS.
//!
//! - [`frame`] — CRC/checksum, [`frame::Frame`] and the streaming [`frame::FrameDecoder`].
//! - [`message`] — typed [`message::Command`]s and [`message::Reply`]s.
//! - [`card`] — card bits of a RAW reply (Wiegand-26/34 with parity checks) → `CardId`.
//! - [`panel`] — the control panel of one line: [`panel::ControlPanel`] schedules ID, CAP,
//!   the Secure Channel handshake, POLL and queued commands over several PDs (SQN,
//!   retries, offline, secure-only refusal), clock injected. Each PD's
//!   [`panel::PdKey`] says how it is reached: in clear, with its own SCBK, or in install
//!   mode, where the panel gives it the site key by KEYSET inside an SCBK-D session and
//!   reports [`panel::PanelEvent::KeySet`].
//! - [`line`](mod@line) — [`line::OsdpLine`]: the thread that owns a port and a panel, sends
//!   frames when due, feeds replies and timeouts in, forwards events and takes commands;
//!   [`line::LineCommands`] is its cloneable command handle (used by
//!   [`OsdpGate`](crate::gate::OsdpGate) to drive a turnstile through a PD's outputs).
//! - [`secure`] — Secure Channel (Annex D): session keys, cryptograms, the MAC chain
//!   ([`secure::Handshake`] → [`secure::SecureSession`]), AES-CBC data.

pub mod card;
pub mod frame;
pub mod line;
pub mod message;
pub mod panel;
pub mod secure;
