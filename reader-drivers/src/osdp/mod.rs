//! OSDP v2.2 (SIA; IEC 60839-11-5), the control-panel side: readers on an RS-485 bus.
//!
//! ```text
//! bytes ──FrameDecoder──▶ Frame ──Reply::parse──▶ Reply ──card::card_id──▶ CardId
//! Command ──encode──▶ (code, data) ──Frame::encode──▶ bytes
//! ```
//!
//! Pure code, no I/O, no clock and no randomness (the instant and RND.A are passed in):
//! the port I/O loop that feeds bytes in and sends what [`panel::ControlPanel`] asks for
//! is the caller's.
//!
//! - [`frame`] — CRC/checksum, [`frame::Frame`] and the streaming [`frame::FrameDecoder`].
//! - [`message`] — typed [`message::Command`]s and [`message::Reply`]s.
//! - [`card`] — card bits of a RAW reply (Wiegand-26/34 with parity checks) → `CardId`.
//! - [`panel`] — the control panel of one line: [`panel::ControlPanel`] schedules ID, CAP,
//!   the Secure Channel handshake, POLL and queued commands over several PDs (SQN,
//!   retries, offline, secure-only refusal), clock injected.
//! - [`secure`] — Secure Channel (Annex D): session keys, cryptograms, the MAC chain
//!   ([`secure::Handshake`] → [`secure::SecureSession`]), AES-CBC data.

pub mod card;
pub mod frame;
pub mod message;
pub mod panel;
pub mod secure;
