//! The card bits of an OSDP RAW reply → [`CardId`].
//!
//! A RAW reply (`50`) carries a bit count and the bits, most significant first, padded
//! with zeros to whole bytes. In Wiegand format the first and last bits are parity bits:
//!
//! - Wiegand-26: even parity over the next 12 bits, 8-bit facility, 16-bit number, odd
//!   parity over the 12 bits before it → [`CardId::wiegand26`] (a 24-bit partial id).
//! - Wiegand-34: even parity over the next 16 bits, 32 data bits, odd parity over the 16
//!   bits before it → a 32-bit id, often a Mifare UID whose byte order varies by vendor
//!   ([`Wiegand34ByteOrder`], a reader setting).
//!
//! Any other length, and any length in the raw format, is kept as the bits received
//! ([`CardId::from_bits`]), parity included: without knowing the layout, dropping bits
//! could make two cards one.

use schoolcard_proto::{CardId, CardIdError, CARD_BITS_MAX};

/// RAW format byte: bits with no known layout.
pub const FORMAT_RAW_UNSPECIFIED: u8 = 0x00;

/// RAW format byte: Wiegand, a parity bit at each end.
pub const FORMAT_WIEGAND: u8 = 0x01;

/// Bits in a Wiegand-26 frame, parity included.
const WIEGAND26_BITS: u16 = 26;

/// Bits in a Wiegand-34 frame, parity included.
const WIEGAND34_BITS: u16 = 34;

/// How the 32 data bits of Wiegand-34 map to a 4-byte UID. Readers differ; it is a
/// setting of the reader, not something the bits tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Wiegand34ByteOrder {
    /// The first data byte sent is the first UID byte.
    #[default]
    AsSent,
    /// The first data byte sent is the last UID byte (readers that send the UID
    /// little-endian).
    Reversed,
}

/// Why the bits of a RAW reply do not make a card id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CardBitsError {
    /// The data is not exactly the bytes the bit count needs.
    #[error("{bits} bits need {} bytes, got {data_len_bytes}", bits.div_ceil(8))]
    DataLength {
        /// The bit count of the reply.
        bits: u16,
        /// Bytes of data the reply carried.
        data_len_bytes: usize,
    },
    /// The leading (even) parity bit does not match: a misread card.
    #[error("Wiegand-{bits} leading even parity fails")]
    EvenParity {
        /// The frame length, 26 or 34.
        bits: u16,
    },
    /// The trailing (odd) parity bit does not match: a misread card.
    #[error("Wiegand-{bits} trailing odd parity fails")]
    OddParity {
        /// The frame length, 26 or 34.
        bits: u16,
    },
    /// The bits are too many (or none) for a card id.
    #[error(transparent)]
    Card(#[from] CardIdError),
}

/// The card id in a RAW reply's `format`, bit count and data.
pub fn card_id(
    format: u8,
    bits: u16,
    data: &[u8],
    order: Wiegand34ByteOrder,
) -> Result<CardId, CardBitsError> {
    if data.len() != usize::from(bits.div_ceil(8)) {
        return Err(CardBitsError::DataLength {
            bits,
            data_len_bytes: data.len(),
        });
    }
    let bit = |index: u16| -> u32 {
        let byte = data[usize::from(index / 8)];
        u32::from((byte >> (7 - index % 8)) & 1)
    };
    let ones = |range: std::ops::Range<u16>| -> u32 { range.map(bit).sum() };
    let value = |range: std::ops::Range<u16>| -> u128 {
        range.fold(0, |value, index| (value << 1) | u128::from(bit(index)))
    };
    if format == FORMAT_WIEGAND && (bits == WIEGAND26_BITS || bits == WIEGAND34_BITS) {
        let half = bits / 2;
        if ones(0..half) % 2 != 0 {
            return Err(CardBitsError::EvenParity { bits });
        }
        if ones(half..bits) % 2 != 1 {
            return Err(CardBitsError::OddParity { bits });
        }
        let payload = value(1..bits - 1);
        return if bits == WIEGAND26_BITS {
            // 24 bits: facility in the top 8, number in the low 16.
            Ok(CardId::wiegand26((payload >> 16) as u8, payload as u16))
        } else {
            let uid = (payload as u32).to_be_bytes();
            match order {
                Wiegand34ByteOrder::AsSent => Ok(CardId::from_bytes(&uid)?),
                Wiegand34ByteOrder::Reversed => {
                    let mut reversed = uid;
                    reversed.reverse();
                    Ok(CardId::from_bytes(&reversed)?)
                }
            }
        };
    }
    // Checked before folding the bits, which would lose all but the last 128.
    let bits_u8 = match u8::try_from(bits) {
        Ok(bits_u8) if (1..=CARD_BITS_MAX).contains(&bits_u8) => bits_u8,
        _ => {
            return Err(CardIdError::BitLength {
                bits: usize::from(bits),
            }
            .into())
        }
    };
    Ok(CardId::from_bits(bits_u8, value(0..bits))?)
}

#[cfg(test)]
mod tests;
