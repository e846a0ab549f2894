//! OSDP v2.2 framing: one [`Frame`] ⇄ bytes on the RS-485 line.
//!
//! ```text
//! [FF] 53 ADDR LEN_lo LEN_hi CTRL [SCB…] CODE DATA… [MAC×4] CRC_lo CRC_hi | CKSUM
//! ```
//!
//! `LEN` counts from `SOM` (`53`) to the trailer inclusive; the optional leading `FF` mark
//! is not counted. [`Frame::encode`] builds a frame; [`FrameDecoder`] finds frames in a
//! byte stream cut into arbitrary chunks. Nothing here panics on what a line delivers:
//! noise, half frames, bad lengths and bad checks come out as [`FrameError`]s.

use std::collections::VecDeque;

/// Start of message, the first byte of every frame.
pub const SOM: u8 = 0x53;

/// Optional mark byte a sender may put before `SOM` to let the line settle.
pub const MARK: u8 = 0xFF;

/// Broadcast address: every PD on the bus takes the command.
pub const ADDR_BROADCAST: u8 = 0x7F;

/// Bit 7 of the address byte: set in replies (PD 101 `65` answers as `E5`).
const ADDR_REPLY_BIT: u8 = 0x80;

/// `CTRL` bits 0–1: the sequence number.
const CTRL_SQN_MASK: u8 = 0x03;
/// `CTRL` bit: the trailer is a 2-byte CRC rather than a 1-byte checksum.
const CTRL_CRC: u8 = 0x04;
/// `CTRL` bit: a security control block follows `CTRL`.
const CTRL_SCB: u8 = 0x08;

/// Bytes before the SCB or code: `SOM`, `ADDR`, `LEN` (2), `CTRL`.
const HEADER_LEN_BYTES: usize = 5;

/// Bytes of the message authentication code that secure-channel frames carry before
/// the trailer.
pub const MAC_LEN_BYTES: usize = 4;

/// Security block types (`SCS_15`–`SCS_18`) whose frames carry a MAC.
const SCB_TYPES_WITH_MAC: std::ops::RangeInclusive<u8> = 0x15..=0x18;

/// Largest frame accepted or built, in bytes from `SOM` to the trailer inclusive.
///
/// The commands a control panel sends are under 100 bytes, and libosdp's default packet
/// buffer is 256 bytes; 1024 leaves room for multi-record LED/OUT commands and long
/// PDCAP replies while bounding the decoder's buffer (and the work of re-scanning it
/// after a bad frame) to a fixed size, whatever the line delivers.
pub const FRAME_LEN_MAX_BYTES: usize = 1024;

/// Smallest possible frame: header, code and a 1-byte checksum.
const FRAME_LEN_MIN_BYTES: usize = HEADER_LEN_BYTES + 1 + 1;

/// CRC-16/AUG-CCITT as OSDP uses it: polynomial 0x1021, initial value 0x1D0F, no
/// reflection, no final XOR. The check value of `"123456789"` is 0xE5CC. On the wire it
/// is sent least significant byte first.
pub fn crc16(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0x1D0F;
    for &byte in bytes {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// The 1-byte checksum variant: the two's complement of the byte sum, so that the sum
/// of all bytes including the checksum is 0 modulo 256.
pub fn checksum(bytes: &[u8]) -> u8 {
    bytes
        .iter()
        .fold(0u8, |sum, &byte| sum.wrapping_add(byte))
        .wrapping_neg()
}

/// One OSDP message, command or reply, without its wire encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// PD address, `0x00..=0x7E`, or [`ADDR_BROADCAST`]; without the reply bit.
    pub addr: u8,
    /// A reply from a PD (address bit 7 set on the wire) rather than a command.
    pub reply: bool,
    /// Sequence number, `0..=3`: 0 resets the PD, then 1, 2, 3, 1, …
    pub sqn: u8,
    /// Trailer is the 2-byte CRC (`true`) or the 1-byte checksum (`false`).
    pub use_crc: bool,
    /// The security control block as on the wire, its length byte first
    /// (`03 11 01` for CHLNG). `None` outside the secure channel.
    pub scb: Option<Vec<u8>>,
    /// Command or reply code (`60` POLL, `40` ACK, …).
    pub code: u8,
    /// The command or reply data.
    pub data: Vec<u8>,
    /// The MAC, present exactly when the SCB type is `15`–`18`.
    pub mac: Option<[u8; MAC_LEN_BYTES]>,
}

/// Why a [`Frame`] cannot be encoded. Each is a caller's mistake, caught before anything
/// goes on the line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The address needs bit 7, which is the reply flag.
    #[error("address {addr:#04x} is above 0x7f")]
    Address {
        /// The address given.
        addr: u8,
    },
    /// The sequence number is outside `0..=3`.
    #[error("sequence number {sqn} is outside 0..=3")]
    Sequence {
        /// The sequence number given.
        sqn: u8,
    },
    /// The SCB is empty, shorter than its length and type bytes, or its length byte does
    /// not match its length.
    #[error("security block is malformed")]
    SecurityBlock,
    /// A MAC without a MAC-carrying SCB (`15`–`18`), or such an SCB without a MAC.
    #[error("MAC presence does not match the security block type")]
    Mac,
    /// The frame would be longer than [`FRAME_LEN_MAX_BYTES`].
    #[error("frame of {len_bytes} bytes is over the {max_bytes}-byte limit")]
    TooLong {
        /// Length the frame would have.
        len_bytes: usize,
        /// The limit, [`FRAME_LEN_MAX_BYTES`].
        max_bytes: usize,
    },
}

impl Frame {
    /// The frame's bytes, from `SOM` to the trailer; no leading mark.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        if self.addr > ADDR_BROADCAST {
            return Err(EncodeError::Address { addr: self.addr });
        }
        if self.sqn > CTRL_SQN_MASK {
            return Err(EncodeError::Sequence { sqn: self.sqn });
        }
        let scb = self.scb.as_deref().unwrap_or(&[]);
        if self.scb.is_some() && (scb.len() < 2 || usize::from(scb[0]) != scb.len()) {
            return Err(EncodeError::SecurityBlock);
        }
        let mac_expected = self.scb.is_some() && SCB_TYPES_WITH_MAC.contains(&scb[1]);
        if mac_expected != self.mac.is_some() {
            return Err(EncodeError::Mac);
        }
        let mac = self.mac.as_ref().map_or(&[][..], |mac| &mac[..]);
        let trailer_len_bytes = if self.use_crc { 2 } else { 1 };
        let len_bytes =
            HEADER_LEN_BYTES + scb.len() + 1 + self.data.len() + mac.len() + trailer_len_bytes;
        if len_bytes > FRAME_LEN_MAX_BYTES {
            return Err(EncodeError::TooLong {
                len_bytes,
                max_bytes: FRAME_LEN_MAX_BYTES,
            });
        }
        let mut ctrl = self.sqn;
        if self.use_crc {
            ctrl |= CTRL_CRC;
        }
        if self.scb.is_some() {
            ctrl |= CTRL_SCB;
        }
        let addr = if self.reply {
            self.addr | ADDR_REPLY_BIT
        } else {
            self.addr
        };
        // Fits: len_bytes <= FRAME_LEN_MAX_BYTES < 65536.
        let [len_lo, len_hi] = (len_bytes as u16).to_le_bytes();
        let mut bytes = Vec::with_capacity(len_bytes);
        bytes.extend_from_slice(&[SOM, addr, len_lo, len_hi, ctrl]);
        bytes.extend_from_slice(scb);
        bytes.push(self.code);
        bytes.extend_from_slice(&self.data);
        bytes.extend_from_slice(mac);
        if self.use_crc {
            let crc = crc16(&bytes);
            bytes.extend_from_slice(&crc.to_le_bytes());
        } else {
            let sum = checksum(&bytes);
            bytes.push(sum);
        }
        Ok(bytes)
    }
}

/// Why bytes from the line did not make a frame. Every variant is an ordinary outcome of
/// a noisy bus: the caller logs and counts it and carries on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Bytes other than the mark were skipped while looking for `SOM`. Reported when the
    /// next `SOM` arrives.
    #[error("{len_bytes} bytes of noise before a frame")]
    Noise {
        /// How many bytes were skipped.
        len_bytes: usize,
    },
    /// The `LEN` field is below the smallest frame its `CTRL` allows or above
    /// [`FRAME_LEN_MAX_BYTES`].
    #[error("frame length {len_bytes} is out of range")]
    Length {
        /// The `LEN` field.
        len_bytes: u16,
    },
    /// The CRC trailer does not match the frame.
    #[error("CRC {received:#06x} does not match the computed {computed:#06x}")]
    Crc {
        /// CRC over the received bytes.
        computed: u16,
        /// CRC in the trailer.
        received: u16,
    },
    /// The checksum trailer does not match the frame.
    #[error("checksum {received:#04x} does not match the computed {computed:#04x}")]
    Checksum {
        /// Checksum over the received bytes.
        computed: u8,
        /// Checksum in the trailer.
        received: u8,
    },
    /// The security block's length byte is below 2 or runs past the code, or its frame
    /// has no room for the MAC its type requires.
    #[error("security block is malformed")]
    SecurityBlock,
}

/// Finds [`Frame`]s in a byte stream delivered in arbitrary chunks.
///
/// Works byte by byte, so the result does not depend on how the stream is cut. After a
/// bad frame (bad length, bad check, malformed SCB) it looks for the next `SOM` from the
/// byte after the rejected one, so a frame hidden behind a corrupted one is not lost.
/// The buffer never exceeds [`FRAME_LEN_MAX_BYTES`].
#[derive(Debug, Default)]
pub struct FrameDecoder {
    /// Bytes of the frame being assembled, `SOM` first; empty while hunting for `SOM`.
    pending: Vec<u8>,
    /// Noise bytes skipped since the last frame start.
    noise_len_bytes: usize,
}

impl FrameDecoder {
    /// A decoder waiting for the first `SOM`.
    pub fn new() -> FrameDecoder {
        FrameDecoder::default()
    }

    /// Bytes held for an incomplete frame.
    pub fn pending_len_bytes(&self) -> usize {
        self.pending.len()
    }

    /// Feeds a chunk; returns the frames and errors it completed, in stream order.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<Result<Frame, FrameError>> {
        let mut out = Vec::new();
        let mut queue = VecDeque::new();
        for &byte in chunk {
            queue.push_back(byte);
            // Bounded: a replay re-queues at most FRAME_LEN_MAX_BYTES - 1 bytes, and each
            // replay starts one byte later than the rejected frame did.
            while let Some(byte) = queue.pop_front() {
                if let Some(replay) = self.step(byte, &mut out) {
                    for &byte in replay.iter().rev() {
                        queue.push_front(byte);
                    }
                }
            }
        }
        out
    }

    /// Takes one byte. On a rejected frame, returns the bytes after its `SOM` to be fed
    /// again.
    fn step(&mut self, byte: u8, out: &mut Vec<Result<Frame, FrameError>>) -> Option<Vec<u8>> {
        if self.pending.is_empty() {
            if byte == SOM {
                if self.noise_len_bytes > 0 {
                    out.push(Err(FrameError::Noise {
                        len_bytes: self.noise_len_bytes,
                    }));
                    self.noise_len_bytes = 0;
                }
                self.pending.push(byte);
            } else if byte != MARK {
                self.noise_len_bytes = self.noise_len_bytes.saturating_add(1);
            }
            return None;
        }
        self.pending.push(byte);
        if self.pending.len() < HEADER_LEN_BYTES {
            return None;
        }
        let len_field = u16::from_le_bytes([self.pending[2], self.pending[3]]);
        let ctrl = self.pending[4];
        let trailer_len_bytes = if ctrl & CTRL_CRC != 0 { 2 } else { 1 };
        let scb_min_len_bytes = if ctrl & CTRL_SCB != 0 { 2 } else { 0 };
        let len_min_bytes = HEADER_LEN_BYTES + scb_min_len_bytes + 1 + trailer_len_bytes;
        let len_bytes = usize::from(len_field);
        if !(len_min_bytes.max(FRAME_LEN_MIN_BYTES)..=FRAME_LEN_MAX_BYTES).contains(&len_bytes) {
            return Some(self.reject(
                FrameError::Length {
                    len_bytes: len_field,
                },
                out,
            ));
        }
        if self.pending.len() < len_bytes {
            return None;
        }
        match parse(&self.pending, ctrl, trailer_len_bytes) {
            Ok(frame) => {
                self.pending.clear();
                out.push(Ok(frame));
                None
            }
            Err(error) => Some(self.reject(error, out)),
        }
    }

    /// Reports `error`, drops the frame start and hands back the bytes after it.
    fn reject(&mut self, error: FrameError, out: &mut Vec<Result<Frame, FrameError>>) -> Vec<u8> {
        out.push(Err(error));
        let mut replay = std::mem::take(&mut self.pending);
        replay.remove(0);
        replay
    }
}

/// Checks and splits a complete frame; `bytes` is exactly `LEN` long.
fn parse(bytes: &[u8], ctrl: u8, trailer_len_bytes: usize) -> Result<Frame, FrameError> {
    let (body, trailer) = bytes.split_at(bytes.len() - trailer_len_bytes);
    if let [lo, hi] = *trailer {
        let received = u16::from_le_bytes([lo, hi]);
        let computed = crc16(body);
        if received != computed {
            return Err(FrameError::Crc { computed, received });
        }
    } else {
        let received = trailer[0];
        let computed = checksum(body);
        if received != computed {
            return Err(FrameError::Checksum { computed, received });
        }
    }
    let rest = &body[HEADER_LEN_BYTES..];
    let (scb, rest) = if ctrl & CTRL_SCB != 0 {
        let scb_len_bytes = usize::from(rest[0]);
        // The SCB must leave at least the code byte.
        if scb_len_bytes < 2 || scb_len_bytes >= rest.len() {
            return Err(FrameError::SecurityBlock);
        }
        let (scb, rest) = rest.split_at(scb_len_bytes);
        (Some(scb.to_vec()), rest)
    } else {
        (None, rest)
    };
    let has_mac = scb
        .as_ref()
        .is_some_and(|scb| SCB_TYPES_WITH_MAC.contains(&scb[1]));
    let (code_and_data, mac) = if has_mac {
        if rest.len() < 1 + MAC_LEN_BYTES {
            return Err(FrameError::SecurityBlock);
        }
        let (code_and_data, mac) = rest.split_at(rest.len() - MAC_LEN_BYTES);
        let mut mac_bytes = [0; MAC_LEN_BYTES];
        mac_bytes.copy_from_slice(mac);
        (code_and_data, Some(mac_bytes))
    } else {
        (rest, None)
    };
    let addr_byte = bytes[1];
    Ok(Frame {
        addr: addr_byte & !ADDR_REPLY_BIT,
        reply: addr_byte & ADDR_REPLY_BIT != 0,
        sqn: ctrl & CTRL_SQN_MASK,
        use_crc: ctrl & CTRL_CRC != 0,
        scb,
        code: code_and_data[0],
        data: code_and_data[1..].to_vec(),
        mac,
    })
}

#[cfg(test)]
mod tests;
