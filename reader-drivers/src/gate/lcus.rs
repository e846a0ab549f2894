//! Frames of LCUS-1 style USB relay boards (CH340 serial, 9600 8N1).
//!
//! A frame is `A0 channel state sum`: state 1 closes the relay, 0 opens it; the sum is
//! the first three bytes mod 256. Channel 1 on: `A0 01 01 A2`; off: `A0 01 00 A1`. The
//! board answers nothing.

/// First byte of every frame.
pub const FRAME_START: u8 = 0xA0;

/// Bytes in a frame.
pub const FRAME_LEN_BYTES: usize = 4;

/// One relay command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayCommand {
    /// Relay number, from 1.
    pub channel: u8,
    /// Closed (on) or open (off).
    pub on: bool,
}

/// Why bytes are not a relay frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Not [`FRAME_LEN_BYTES`] bytes.
    #[error("relay frame must be 4 bytes, got {len}")]
    Length {
        /// The length given.
        len: usize,
    },
    /// The first byte is not [`FRAME_START`].
    #[error("relay frame starts with {0:#04x}, not 0xa0")]
    Start(u8),
    /// The state byte is neither 0 nor 1.
    #[error("relay state {0:#04x} is neither 0 nor 1")]
    State(u8),
    /// The checksum does not match.
    #[error("relay frame checksum {found:#04x}, expected {expected:#04x}")]
    Checksum {
        /// The last byte of the frame.
        found: u8,
        /// The sum of the first three.
        expected: u8,
    },
}

/// The frame that switches relay `channel` on or off.
pub fn encode(channel: u8, on: bool) -> [u8; FRAME_LEN_BYTES] {
    let state = u8::from(on);
    let sum = FRAME_START.wrapping_add(channel).wrapping_add(state);
    [FRAME_START, channel, state, sum]
}

/// Reads one frame (for tests and for a simulated board).
pub fn decode(frame: &[u8]) -> Result<RelayCommand, DecodeError> {
    let &[start, channel, state, sum] = frame else {
        return Err(DecodeError::Length { len: frame.len() });
    };
    if start != FRAME_START {
        return Err(DecodeError::Start(start));
    }
    let expected = start.wrapping_add(channel).wrapping_add(state);
    if sum != expected {
        return Err(DecodeError::Checksum {
            found: sum,
            expected,
        });
    }
    let on = match state {
        0 => false,
        1 => true,
        other => return Err(DecodeError::State(other)),
    };
    Ok(RelayCommand { channel, on })
}
