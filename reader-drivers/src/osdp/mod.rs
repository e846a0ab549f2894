//! OSDP v2.2 (SIA; IEC 60839-11-5), the control-panel side: readers on an RS-485 bus.
//!
//! ```text
//! bytes ──FrameDecoder──▶ Frame ──Reply::parse──▶ Reply ──card::card_id──▶ CardId
//! Command ──encode──▶ (code, data) ──Frame::encode──▶ bytes
//! ```
//!
//! Pure code, no I/O, no clock and no randomness (RND.A is passed in): the poll
//! scheduler, per-PD state, SQN handling and port I/O live elsewhere and feed bytes in.
//!
//! - [`frame`] — CRC/checksum, [`frame::Frame`] and the streaming [`frame::FrameDecoder`].
//! - [`message`] — typed [`message::Command`]s and [`message::Reply`]s.
//! - [`card`] — card bits of a RAW reply (Wiegand-26/34 with parity checks) → `CardId`.
//! - [`secure`] — Secure Channel (Annex D): session keys, cryptograms, the MAC chain
//!   ([`secure::Handshake`] → [`secure::SecureSession`]), AES-CBC data.

pub mod card;
pub mod frame;
pub mod message;
pub mod secure;
