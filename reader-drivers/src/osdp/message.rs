//! Typed OSDP commands (control panel → PD) and replies (PD → control panel).
//!
//! A [`Command`] becomes the `(code, data)` of a [`Frame`](super::frame::Frame); the
//! `(code, data)` of a received frame becomes a [`Reply`]. Neither knows addresses,
//! sequence numbers or the secure channel: framing is [`super::frame`]'s business.

use schoolcard_proto::CardId;

use super::card::{self, CardBitsError, Wiegand34ByteOrder};

/// Command codes.
pub mod command_code {
    /// POLL: anything to report?
    pub const POLL: u8 = 0x60;
    /// ID: report identification (→ PDID).
    pub const ID: u8 = 0x61;
    /// CAP: report capabilities (→ PDCAP).
    pub const CAP: u8 = 0x62;
    /// OUT: drive outputs (relays).
    pub const OUT: u8 = 0x68;
    /// LED: drive reader LEDs.
    pub const LED: u8 = 0x69;
    /// BUZ: drive the reader buzzer.
    pub const BUZ: u8 = 0x6A;
    /// COMSET: change the PD's address and baud rate.
    pub const COMSET: u8 = 0x6E;
    /// KEYSET: install a secure channel base key.
    pub const KEYSET: u8 = 0x75;
    /// CHLNG: start a secure channel session (RND.A).
    pub const CHLNG: u8 = 0x76;
    /// SCRYPT: the server cryptogram.
    pub const SCRYPT: u8 = 0x77;
}

/// Reply codes.
pub mod reply_code {
    /// ACK: done, nothing to report.
    pub const ACK: u8 = 0x40;
    /// NAK: refused, with a reason.
    pub const NAK: u8 = 0x41;
    /// PDID: identification.
    pub const PDID: u8 = 0x45;
    /// PDCAP: capabilities.
    pub const PDCAP: u8 = 0x46;
    /// ISTATR: the state of the PD's inputs (contacts), one byte each.
    pub const ISTATR: u8 = 0x49;
    /// RAW: card data as bits.
    pub const RAW: u8 = 0x50;
    /// KEYPAD: keys pressed.
    pub const KEYPAD: u8 = 0x53;
    /// CCRYPT: client UID, RND.B and client cryptogram.
    pub const CCRYPT: u8 = 0x76;
    /// RMAC_I: the initial reply MAC.
    pub const RMAC_I: u8 = 0x78;
    /// BUSY: ask again later.
    pub const BUSY: u8 = 0x79;
}

/// The only key type KEYSET defines: a secure channel base key.
const KEY_TYPE_SCBK: u8 = 0x01;

/// Bytes of a secure channel key (AES-128).
pub const KEY_LEN_BYTES: usize = 16;

/// Bytes of one OUT record.
const OUT_RECORD_LEN_BYTES: usize = 4;
/// Bytes of one LED record.
pub const LED_RECORD_LEN_BYTES: usize = 14;
/// Bytes of one PDCAP record.
const CAP_RECORD_LEN_BYTES: usize = 3;
/// Bytes of a PDID reply.
const PDID_LEN_BYTES: usize = 12;
/// Bytes of a CCRYPT reply: cUID, RND.B, client cryptogram.
const CCRYPT_LEN_BYTES: usize = 8 + 8 + 16;
/// Bytes of an RMAC_I reply.
const RMAC_I_LEN_BYTES: usize = 16;

/// A command to a PD.
///
/// OUT and LED take any number of records; a list too long for one frame is refused by
/// [`Frame::encode`](super::frame::Frame::encode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// POLL.
    Poll,
    /// ID, asking for the standard PDID report.
    Id,
    /// CAP, asking for the capability list.
    Cap,
    /// OUT: one record per output.
    Out(Vec<OutputCommand>),
    /// LED: one record per LED.
    Led(Vec<LedCommand>),
    /// BUZ.
    Buzzer(BuzzerCommand),
    /// COMSET: the PD answers with its new settings, then uses them.
    ComSet {
        /// New address, `0x00..=0x7E`.
        addr: u8,
        /// New baud rate (9600–230400).
        baud_rate: u32,
    },
    /// KEYSET: install this secure channel base key (sent only inside a secure session).
    KeySet {
        /// The new SCBK.
        scbk: [u8; KEY_LEN_BYTES],
    },
    /// CHLNG: start a secure channel session.
    Chlng {
        /// The control panel's random challenge RND.A.
        rnd_a: [u8; 8],
    },
    /// SCRYPT: answer the PD's cryptogram.
    Scrypt {
        /// The server cryptogram.
        server_cryptogram: [u8; 16],
    },
}

/// What an OUT record does to its output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum OutputCode {
    /// Leave the output as it is.
    Nop = 0,
    /// Permanent off now, cancelling any timer.
    PermanentOffAbortTimer = 1,
    /// Permanent on now, cancelling any timer.
    PermanentOnAbortTimer = 2,
    /// Permanent off once a running timer ends.
    PermanentOffAfterTimer = 3,
    /// Permanent on once a running timer ends.
    PermanentOnAfterTimer = 4,
    /// On for the timer, then back (a relay pulse).
    TemporaryOn = 5,
    /// Off for the timer, then back.
    TemporaryOff = 6,
}

/// The unit of OUT, LED and BUZ timers, in milliseconds.
pub const TIMER_UNIT_MS: u64 = 100;

/// One OUT record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputCommand {
    /// Output number on the PD, from 0.
    pub output: u8,
    /// What to do.
    pub code: OutputCode,
    /// Timer for the temporary codes, in units of [`TIMER_UNIT_MS`] (100 ms).
    pub timer_100ms: u16,
}

/// LED colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum LedColor {
    /// Off.
    Black = 0,
    /// Red.
    Red = 1,
    /// Green.
    Green = 2,
    /// Amber.
    Amber = 3,
    /// Blue.
    Blue = 4,
    /// Magenta.
    Magenta = 5,
    /// Cyan.
    Cyan = 6,
    /// White.
    White = 7,
}

/// An LED blink pattern: `on_100ms` in `on_color`, `off_100ms` in `off_color`, repeated.
/// A steady colour is `on_100ms = 1, off_100ms = 0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LedPattern {
    /// Time in the on colour, in units of 100 ms.
    pub on_100ms: u8,
    /// Time in the off colour, in units of 100 ms.
    pub off_100ms: u8,
    /// Colour during the on time.
    pub on_color: LedColor,
    /// Colour during the off time.
    pub off_color: LedColor,
}

/// The temporary part of an LED record: shown for a while, then the permanent state
/// returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LedTemporary {
    /// Leave the temporary state alone (control code 0).
    Nop,
    /// End the temporary state now (control code 1).
    Cancel,
    /// Show `pattern` for `timer_100ms` × 100 ms (control code 2).
    Set {
        /// The pattern.
        pattern: LedPattern,
        /// How long, in units of 100 ms.
        timer_100ms: u16,
    },
}

/// The permanent part of an LED record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LedPermanent {
    /// Leave the permanent state alone (control code 0).
    Nop,
    /// Show `pattern` until told otherwise (control code 1).
    Set(LedPattern),
}

/// One LED record (14 bytes on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LedCommand {
    /// Reader number on the PD, from 0.
    pub reader: u8,
    /// LED number on the reader, from 0.
    pub led: u8,
    /// The temporary state.
    pub temporary: LedTemporary,
    /// The permanent state.
    pub permanent: LedPermanent,
}

/// Buzzer tone codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum BuzzerTone {
    /// No tone (deprecated in v2.2, kept for old PDs).
    None = 0,
    /// Off.
    Off = 1,
    /// The PD's default tone.
    Default = 2,
}

/// A BUZ command: `count` beeps of `on_100ms`, `off_100ms` apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuzzerCommand {
    /// Reader number on the PD, from 0.
    pub reader: u8,
    /// The tone.
    pub tone: BuzzerTone,
    /// Beep length, in units of 100 ms.
    pub on_100ms: u8,
    /// Pause length, in units of 100 ms.
    pub off_100ms: u8,
    /// Number of beeps; 0 beeps until cancelled.
    pub count: u8,
}

impl LedPattern {
    fn bytes(&self) -> [u8; 4] {
        [
            self.on_100ms,
            self.off_100ms,
            self.on_color as u8,
            self.off_color as u8,
        ]
    }
}

/// Control code and pattern bytes of an LED part that is not set.
const LED_PART_UNSET: [u8; 4] = [0, 0, LedColor::Black as u8, LedColor::Black as u8];

impl LedCommand {
    fn bytes(&self) -> [u8; LED_RECORD_LEN_BYTES] {
        let (temporary_code, temporary_pattern, timer_100ms) = match self.temporary {
            LedTemporary::Nop => (0, LED_PART_UNSET, 0u16),
            LedTemporary::Cancel => (1, LED_PART_UNSET, 0),
            LedTemporary::Set {
                pattern,
                timer_100ms,
            } => (2, pattern.bytes(), timer_100ms),
        };
        let (permanent_code, permanent_pattern) = match self.permanent {
            LedPermanent::Nop => (0, LED_PART_UNSET),
            LedPermanent::Set(pattern) => (1, pattern.bytes()),
        };
        let [timer_lo, timer_hi] = timer_100ms.to_le_bytes();
        let [t_on, t_off, t_on_color, t_off_color] = temporary_pattern;
        let [p_on, p_off, p_on_color, p_off_color] = permanent_pattern;
        [
            self.reader,
            self.led,
            temporary_code,
            t_on,
            t_off,
            t_on_color,
            t_off_color,
            timer_lo,
            timer_hi,
            permanent_code,
            p_on,
            p_off,
            p_on_color,
            p_off_color,
        ]
    }
}

impl Command {
    /// The command code.
    pub fn code(&self) -> u8 {
        match self {
            Command::Poll => command_code::POLL,
            Command::Id => command_code::ID,
            Command::Cap => command_code::CAP,
            Command::Out(_) => command_code::OUT,
            Command::Led(_) => command_code::LED,
            Command::Buzzer(_) => command_code::BUZ,
            Command::ComSet { .. } => command_code::COMSET,
            Command::KeySet { .. } => command_code::KEYSET,
            Command::Chlng { .. } => command_code::CHLNG,
            Command::Scrypt { .. } => command_code::SCRYPT,
        }
    }

    /// The command code and data for a frame.
    pub fn encode(&self) -> (u8, Vec<u8>) {
        let data = match self {
            Command::Poll => Vec::new(),
            // 0: the standard report, the only one defined.
            Command::Id | Command::Cap => vec![0x00],
            Command::Out(records) => {
                let mut data = Vec::with_capacity(records.len() * OUT_RECORD_LEN_BYTES);
                for record in records {
                    data.push(record.output);
                    data.push(record.code as u8);
                    data.extend_from_slice(&record.timer_100ms.to_le_bytes());
                }
                data
            }
            Command::Led(records) => records.iter().flat_map(LedCommand::bytes).collect(),
            Command::Buzzer(buzzer) => vec![
                buzzer.reader,
                buzzer.tone as u8,
                buzzer.on_100ms,
                buzzer.off_100ms,
                buzzer.count,
            ],
            Command::ComSet { addr, baud_rate } => {
                let mut data = vec![*addr];
                data.extend_from_slice(&baud_rate.to_le_bytes());
                data
            }
            Command::KeySet { scbk } => {
                let mut data = vec![KEY_TYPE_SCBK, KEY_LEN_BYTES as u8];
                data.extend_from_slice(scbk);
                data
            }
            Command::Chlng { rnd_a } => rnd_a.to_vec(),
            Command::Scrypt { server_cryptogram } => server_cryptogram.to_vec(),
        };
        (self.code(), data)
    }
}

/// Why a PD refused a command (NAK error codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NakReason {
    /// 1: the command's CRC or checksum was wrong.
    Check,
    /// 2: the command's length was wrong.
    Length,
    /// 3: the PD does not know the command.
    UnknownCommand,
    /// 4: unexpected sequence number.
    Sequence,
    /// 5: the PD does not support the secure channel.
    SecureChannelUnsupported,
    /// 6: the secure channel is required, or its conditions were not met.
    SecureChannelConditions,
    /// Any other code (0, biometrics, record processing, vendor codes).
    Other(u8),
}

impl NakReason {
    /// The reason for a NAK error code.
    pub fn from_code(code: u8) -> NakReason {
        match code {
            1 => NakReason::Check,
            2 => NakReason::Length,
            3 => NakReason::UnknownCommand,
            4 => NakReason::Sequence,
            5 => NakReason::SecureChannelUnsupported,
            6 => NakReason::SecureChannelConditions,
            other => NakReason::Other(other),
        }
    }
}

/// PD firmware version from PDID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FirmwareVersion {
    /// Major version.
    pub major: u8,
    /// Minor version.
    pub minor: u8,
    /// Build number.
    pub build: u8,
}

/// One PDCAP record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capability {
    /// Function code (1 contact status monitoring, 2 output control, … 9 check
    /// character, 10 receive buffer size, …).
    pub function: u8,
    /// Compliance level; its meaning depends on the function.
    pub compliance: u8,
    /// Number of items (outputs, readers, …), or a function-specific value.
    pub count: u8,
}

/// A reply from a PD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// ACK.
    Ack,
    /// NAK.
    Nak {
        /// The error code.
        reason: NakReason,
        /// Any bytes after the error code.
        detail: Vec<u8>,
    },
    /// PDID.
    PdId {
        /// IEEE OUI of the vendor, as sent.
        vendor: [u8; 3],
        /// Model number.
        model: u8,
        /// Model version.
        version: u8,
        /// Serial number.
        serial: u32,
        /// Firmware version.
        firmware: FirmwareVersion,
    },
    /// PDCAP.
    PdCap(Vec<Capability>),
    /// ISTATR: the PD's inputs, from input 0; `true` is active (a closed contact, or an
    /// open one on a normally closed input: the PD's own setting). Any byte but 0 counts
    /// as active.
    InputStatus(Vec<bool>),
    /// RAW card data.
    RawCard(RawCard),
    /// KEYPAD.
    Keypad {
        /// Reader number on the PD.
        reader: u8,
        /// The keys as sent: `0x30`–`0x39` for digits, `0x7F` for `*`, `0x0D` for `#`.
        digits: Vec<u8>,
    },
    /// BUSY: the PD cannot answer now; repeat the command with the same SQN.
    Busy,
    /// CCRYPT.
    CCrypt {
        /// The PD's client UID.
        client_uid: [u8; 8],
        /// The PD's random challenge RND.B.
        rnd_b: [u8; 8],
        /// The client cryptogram.
        client_cryptogram: [u8; 16],
    },
    /// RMAC_I: the initial reply MAC.
    RMacI {
        /// The initial R-MAC.
        rmac: [u8; 16],
    },
    /// A reply this module does not interpret (status reports, vendor replies, …).
    Unknown {
        /// The reply code.
        code: u8,
        /// The reply data.
        data: Vec<u8>,
    },
}

/// A RAW card reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawCard {
    /// Reader number on the PD.
    pub reader: u8,
    /// Format: [`card::FORMAT_RAW_UNSPECIFIED`] or [`card::FORMAT_WIEGAND`].
    pub format: u8,
    /// Number of bits.
    pub bits: u16,
    /// The bits, most significant first, padded with zeros to whole bytes.
    pub data: Vec<u8>,
}

impl RawCard {
    /// The card id in the bits; see [`card::card_id`].
    pub fn card_id(&self, order: Wiegand34ByteOrder) -> Result<CardId, CardBitsError> {
        card::card_id(self.format, self.bits, &self.data, order)
    }
}

/// Why a reply's data does not fit its code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    /// The data has the wrong length for the reply code.
    #[error("reply {code:#04x} has {len_bytes} data bytes, expected {expected}")]
    Length {
        /// The reply code.
        code: u8,
        /// Bytes of data received.
        len_bytes: usize,
        /// What the code requires, in words.
        expected: &'static str,
    },
}

impl Reply {
    /// The reply in a frame's code and data.
    pub fn parse(code: u8, data: &[u8]) -> Result<Reply, ReplyError> {
        let length = |expected: &'static str| ReplyError::Length {
            code,
            len_bytes: data.len(),
            expected,
        };
        let reply = match code {
            reply_code::ACK => Reply::Ack,
            reply_code::BUSY => Reply::Busy,
            reply_code::NAK => {
                let (&reason, detail) = data.split_first().ok_or(length("at least 1"))?;
                Reply::Nak {
                    reason: NakReason::from_code(reason),
                    detail: detail.to_vec(),
                }
            }
            reply_code::PDID => {
                let bytes: &[u8; PDID_LEN_BYTES] = data.try_into().map_err(|_| length("12"))?;
                let [v0, v1, v2, model, version, s0, s1, s2, s3, major, minor, build] = *bytes;
                Reply::PdId {
                    vendor: [v0, v1, v2],
                    model,
                    version,
                    serial: u32::from_le_bytes([s0, s1, s2, s3]),
                    firmware: FirmwareVersion {
                        major,
                        minor,
                        build,
                    },
                }
            }
            reply_code::ISTATR => {
                Reply::InputStatus(data.iter().map(|&state| state != 0).collect())
            }
            reply_code::PDCAP => {
                if !data.len().is_multiple_of(CAP_RECORD_LEN_BYTES) {
                    return Err(length("a multiple of 3"));
                }
                let records = data
                    .chunks_exact(CAP_RECORD_LEN_BYTES)
                    .map(|record| Capability {
                        function: record[0],
                        compliance: record[1],
                        count: record[2],
                    })
                    .collect();
                Reply::PdCap(records)
            }
            reply_code::RAW => {
                let [reader, format, bits_lo, bits_hi, ref bytes @ ..] = *data else {
                    return Err(length("at least 4"));
                };
                let bits = u16::from_le_bytes([bits_lo, bits_hi]);
                if bytes.len() != usize::from(bits.div_ceil(8)) {
                    return Err(length("4 + the bit count / 8, rounded up"));
                }
                Reply::RawCard(RawCard {
                    reader,
                    format,
                    bits,
                    data: bytes.to_vec(),
                })
            }
            reply_code::KEYPAD => {
                let [reader, count, ref digits @ ..] = *data else {
                    return Err(length("at least 2"));
                };
                if digits.len() != usize::from(count) {
                    return Err(length("2 + the digit count"));
                }
                Reply::Keypad {
                    reader,
                    digits: digits.to_vec(),
                }
            }
            reply_code::CCRYPT => {
                let bytes: &[u8; CCRYPT_LEN_BYTES] = data.try_into().map_err(|_| length("32"))?;
                let mut client_uid = [0; 8];
                let mut rnd_b = [0; 8];
                let mut client_cryptogram = [0; 16];
                client_uid.copy_from_slice(&bytes[..8]);
                rnd_b.copy_from_slice(&bytes[8..16]);
                client_cryptogram.copy_from_slice(&bytes[16..]);
                Reply::CCrypt {
                    client_uid,
                    rnd_b,
                    client_cryptogram,
                }
            }
            reply_code::RMAC_I => {
                let rmac: [u8; RMAC_I_LEN_BYTES] = data.try_into().map_err(|_| length("16"))?;
                Reply::RMacI { rmac }
            }
            _ => Reply::Unknown {
                code,
                data: data.to_vec(),
            },
        };
        Ok(reply)
    }
}

#[cfg(test)]
mod tests;
