//! Secure Channel (OSDP v2.2 Annex D), the control panel's side: session keys,
//! cryptograms, the MAC chain and data encryption. Pure functions over bytes; the
//! handshake's messages are [`Command::Chlng`](super::message::Command::Chlng) →
//! [`Reply::CCrypt`](super::message::Reply::CCrypt) →
//! [`Command::Scrypt`](super::message::Command::Scrypt) →
//! [`Reply::RMacI`](super::message::Reply::RMacI):
//!
//! ```text
//! Handshake::start(scbk, RND.A, CCRYPT)  checks the client cryptogram
//!   .server_cryptogram()                 goes in SCRYPT
//!   .confirm(RMAC_I)                     → SecureSession
//! SecureSession::seal(frame)             SCB 15/17 + MAC (+ AES-CBC data)
//! SecureSession::open(reply frame)       checks SCB 16/18 + MAC, decrypts
//! ```
//!
//! - Session keys: AES-128-ECB with the SCBK over `01 82|RND.A[0..6]|00×8` (S-ENC),
//!   `01 01|…` (S-MAC1), `01 02|…` (S-MAC2).
//! - Client cryptogram `AES(S-ENC, RND.A|RND.B)`, server cryptogram
//!   `AES(S-ENC, RND.B|RND.A)`, initial R-MAC `AES(S-MAC2, AES(S-MAC1, server
//!   cryptogram))`.
//! - MAC: CBC-MAC over `SOM..DATA` (with the final `LEN`), padded `80 00…` only when not
//!   a whole number of blocks, S-MAC1 for all blocks but the last, S-MAC2 for the last;
//!   its IV is the previous MAC on the line (either direction), the first being the
//!   initial R-MAC. The first 4 bytes go on the wire.
//! - Data (SCB 17/18): AES-CBC with S-ENC, IV = the previous MAC inverted bit by bit,
//!   always padded `80 00…`.
//!
//! Checked against the `osdp` crate 0.3.1 (itself verified against libosdp) in the
//! tests. Keys are plain arrays and are not wiped on drop.

use aes::cipher::{BlockDecrypt, BlockEncrypt, KeyInit};
use aes::Aes128;

use super::frame::{EncodeError, Frame, MAC_LEN_BYTES};
use super::message::KEY_LEN_BYTES;

/// An AES-128 key.
pub type Key = [u8; KEY_LEN_BYTES];

/// One AES block.
pub type Block = [u8; BLOCK_LEN_BYTES];

/// Bytes in an AES block.
pub const BLOCK_LEN_BYTES: usize = 16;

/// Bytes of RND.A and RND.B.
pub const RANDOM_LEN_BYTES: usize = 8;

/// The install-mode base key SCBK-D, `30 31 … 3F`: every PD accepts it until KEYSET
/// gives it a real key. A site must not stay on it.
pub const SCBK_D: Key = [
    0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3A, 0x3B, 0x3C, 0x3D, 0x3E, 0x3F,
];

/// SCB type of a MAC-only command.
const SCS_15: u8 = 0x15;
/// SCB type of a MAC-only reply.
const SCS_16: u8 = 0x16;
/// SCB type of a command with MAC and encrypted data.
const SCS_17: u8 = 0x17;
/// SCB type of a reply with MAC and encrypted data.
const SCS_18: u8 = 0x18;

/// Padding marker after data or MAC input.
const PAD_MARK: u8 = 0x80;

/// Why a secure channel step failed. After any of these the session is not to be trusted:
/// the control panel starts a new handshake.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecureError {
    /// The PD's client cryptogram does not match: it holds another key.
    #[error("client cryptogram does not match: the PD has another key")]
    ClientCryptogram,
    /// The PD's initial R-MAC does not match.
    #[error("initial R-MAC does not match")]
    InitialRMac,
    /// A reply without a MAC-carrying reply SCB (16 or 18).
    #[error("reply is not secured (SCB type 16 or 18 expected)")]
    NotSecured,
    /// A reply whose MAC does not match.
    #[error("reply MAC does not match")]
    Mac,
    /// Encrypted data that is not whole blocks or whose padding is wrong.
    #[error("encrypted data is malformed")]
    Padding,
    /// The frame cannot be encoded.
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

fn encrypt_block(key: &Key, block: &Block) -> Block {
    let mut buffer = (*block).into();
    Aes128::new(key.into()).encrypt_block(&mut buffer);
    buffer.into()
}

fn decrypt_block(key: &Key, block: &Block) -> Block {
    let mut buffer = (*block).into();
    Aes128::new(key.into()).decrypt_block(&mut buffer);
    buffer.into()
}

fn xor(left: &Block, right: &[u8]) -> Block {
    core::array::from_fn(|index| left[index] ^ right[index])
}

/// Compares without an early exit, so timing does not tell how many bytes matched.
fn same(left: &[u8], right: &[u8]) -> bool {
    left.len() == right.len()
        && left
            .iter()
            .zip(right)
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0
}

/// Pads with `80 00…` to whole blocks.
fn pad(bytes: &mut Vec<u8>) {
    bytes.push(PAD_MARK);
    let rem = bytes.len() % BLOCK_LEN_BYTES;
    if rem != 0 {
        bytes.resize(bytes.len() + BLOCK_LEN_BYTES - rem, 0);
    }
}

/// The three session keys.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionKeys {
    /// S-ENC: cryptograms and data encryption.
    pub s_enc: Key,
    /// S-MAC1: MAC of all blocks but the last.
    pub s_mac1: Key,
    /// S-MAC2: MAC of the last block.
    pub s_mac2: Key,
}

/// Keys stay out of logs.
impl std::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKeys(..)")
    }
}

impl SessionKeys {
    /// The session keys for a base key and the control panel's challenge.
    pub fn derive(scbk: &Key, rnd_a: &[u8; RANDOM_LEN_BYTES]) -> SessionKeys {
        let key = |tag: u8| {
            let mut block = [0; BLOCK_LEN_BYTES];
            block[0] = 0x01;
            block[1] = tag;
            block[2..8].copy_from_slice(&rnd_a[..6]);
            encrypt_block(scbk, &block)
        };
        SessionKeys {
            s_enc: key(0x82),
            s_mac1: key(0x01),
            s_mac2: key(0x02),
        }
    }

    /// The PD's proof of the key: `AES(S-ENC, RND.A|RND.B)`.
    pub fn client_cryptogram(
        &self,
        rnd_a: &[u8; RANDOM_LEN_BYTES],
        rnd_b: &[u8; RANDOM_LEN_BYTES],
    ) -> Block {
        let mut block = [0; BLOCK_LEN_BYTES];
        block[..8].copy_from_slice(rnd_a);
        block[8..].copy_from_slice(rnd_b);
        encrypt_block(&self.s_enc, &block)
    }

    /// The control panel's proof of the key: `AES(S-ENC, RND.B|RND.A)`.
    pub fn server_cryptogram(
        &self,
        rnd_a: &[u8; RANDOM_LEN_BYTES],
        rnd_b: &[u8; RANDOM_LEN_BYTES],
    ) -> Block {
        let mut block = [0; BLOCK_LEN_BYTES];
        block[..8].copy_from_slice(rnd_b);
        block[8..].copy_from_slice(rnd_a);
        encrypt_block(&self.s_enc, &block)
    }

    /// The initial R-MAC: `AES(S-MAC2, AES(S-MAC1, server cryptogram))`.
    pub fn initial_rmac(&self, server_cryptogram: &Block) -> Block {
        encrypt_block(
            &self.s_mac2,
            &encrypt_block(&self.s_mac1, server_cryptogram),
        )
    }

    /// The full 16-byte MAC of `bytes` chained on `previous_mac`.
    pub fn mac(&self, previous_mac: &Block, bytes: &[u8]) -> Block {
        let mut padded = bytes.to_vec();
        if padded.is_empty() || !padded.len().is_multiple_of(BLOCK_LEN_BYTES) {
            pad(&mut padded);
        }
        let blocks = padded.len() / BLOCK_LEN_BYTES;
        let mut state = *previous_mac;
        for (index, block) in padded.chunks_exact(BLOCK_LEN_BYTES).enumerate() {
            let key = if index + 1 == blocks {
                &self.s_mac2
            } else {
                &self.s_mac1
            };
            state = encrypt_block(key, &xor(&state, block));
        }
        state
    }

    /// Data encrypted with AES-CBC under S-ENC, IV = `!previous_mac`, padded `80 00…`.
    pub fn encrypt_data(&self, previous_mac: &Block, data: &[u8]) -> Vec<u8> {
        let mut padded = data.to_vec();
        pad(&mut padded);
        let mut chain: Block = previous_mac.map(|byte| !byte);
        let mut out = Vec::with_capacity(padded.len());
        for block in padded.chunks_exact(BLOCK_LEN_BYTES) {
            chain = encrypt_block(&self.s_enc, &xor(&chain, block));
            out.extend_from_slice(&chain);
        }
        out
    }

    /// The inverse of [`SessionKeys::encrypt_data`].
    pub fn decrypt_data(&self, previous_mac: &Block, data: &[u8]) -> Result<Vec<u8>, SecureError> {
        if data.is_empty() || !data.len().is_multiple_of(BLOCK_LEN_BYTES) {
            return Err(SecureError::Padding);
        }
        let mut chain: Block = previous_mac.map(|byte| !byte);
        let mut out = Vec::with_capacity(data.len());
        for block in data.chunks_exact(BLOCK_LEN_BYTES) {
            let mut cipher_block = [0; BLOCK_LEN_BYTES];
            cipher_block.copy_from_slice(block);
            out.extend_from_slice(&xor(&decrypt_block(&self.s_enc, &cipher_block), &chain));
            chain = cipher_block;
        }
        // The padding is `80` then up to 15 zeros.
        let mark = out
            .iter()
            .rposition(|&byte| byte != 0)
            .filter(|&at| out[at] == PAD_MARK && out.len() - at <= BLOCK_LEN_BYTES)
            .ok_or(SecureError::Padding)?;
        out.truncate(mark);
        Ok(out)
    }
}

/// A handshake between CCRYPT and RMAC_I: the PD has proved it holds the key.
#[derive(Debug, Clone)]
pub struct Handshake {
    keys: SessionKeys,
    server_cryptogram: Block,
}

impl Handshake {
    /// Checks the PD's CCRYPT reply to our CHLNG with `rnd_a`.
    pub fn start(
        scbk: &Key,
        rnd_a: &[u8; RANDOM_LEN_BYTES],
        rnd_b: &[u8; RANDOM_LEN_BYTES],
        client_cryptogram: &Block,
    ) -> Result<Handshake, SecureError> {
        let keys = SessionKeys::derive(scbk, rnd_a);
        if !same(&keys.client_cryptogram(rnd_a, rnd_b), client_cryptogram) {
            return Err(SecureError::ClientCryptogram);
        }
        let server_cryptogram = keys.server_cryptogram(rnd_a, rnd_b);
        Ok(Handshake {
            keys,
            server_cryptogram,
        })
    }

    /// What to send in SCRYPT.
    pub fn server_cryptogram(&self) -> Block {
        self.server_cryptogram
    }

    /// Checks the PD's RMAC_I reply; the session is then established.
    pub fn confirm(self, rmac_i: &Block) -> Result<SecureSession, SecureError> {
        let expected = self.keys.initial_rmac(&self.server_cryptogram);
        if !same(&expected, rmac_i) {
            return Err(SecureError::InitialRMac);
        }
        Ok(SecureSession {
            keys: self.keys,
            last_mac: expected,
        })
    }
}

/// How a command travels inside the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protection {
    /// MAC only (SCB 15).
    Mac,
    /// MAC and encrypted data (SCB 17). A command with no data goes as [`Protection::Mac`]:
    /// there is nothing to hide, and libosdp sends such frames that way.
    Encrypted,
}

/// An established secure channel: the session keys and the last MAC on the line.
#[derive(Debug, Clone)]
pub struct SecureSession {
    keys: SessionKeys,
    last_mac: Block,
}

impl SecureSession {
    /// Secures a command: replaces its SCB, encrypts its data if asked, adds the MAC, and
    /// advances the MAC chain. On error the chain is unchanged.
    pub fn seal(&mut self, mut frame: Frame, protection: Protection) -> Result<Frame, SecureError> {
        let encrypt = protection == Protection::Encrypted && !frame.data.is_empty();
        let scs = match (frame.reply, encrypt) {
            (false, false) => SCS_15,
            (true, false) => SCS_16,
            (false, true) => SCS_17,
            (true, true) => SCS_18,
        };
        if encrypt {
            frame.data = self.keys.encrypt_data(&self.last_mac, &frame.data);
        }
        frame.scb = Some(vec![2, scs]);
        frame.mac = Some([0; MAC_LEN_BYTES]);
        let mac = self.keys.mac(&self.last_mac, mac_input(&frame)?.as_slice());
        let mut wire_mac = [0; MAC_LEN_BYTES];
        wire_mac.copy_from_slice(&mac[..MAC_LEN_BYTES]);
        frame.mac = Some(wire_mac);
        self.last_mac = mac;
        Ok(frame)
    }

    /// Checks a secured reply and returns its code and plain data, advancing the MAC
    /// chain. On error the chain is unchanged.
    pub fn open(&mut self, frame: &Frame) -> Result<(u8, Vec<u8>), SecureError> {
        let scs = match (frame.reply, frame.scb.as_deref(), frame.mac) {
            (true, Some([_, scs @ (SCS_16 | SCS_18), ..]), Some(_)) => *scs,
            _ => return Err(SecureError::NotSecured),
        };
        let mac = self.keys.mac(&self.last_mac, &mac_input(frame)?);
        let received = frame.mac.unwrap_or_default();
        if !same(&mac[..MAC_LEN_BYTES], &received) {
            return Err(SecureError::Mac);
        }
        let data = if scs == SCS_18 && !frame.data.is_empty() {
            self.keys.decrypt_data(&self.last_mac, &frame.data)?
        } else {
            frame.data.clone()
        };
        self.last_mac = mac;
        Ok((frame.code, data))
    }
}

/// The bytes a frame's MAC covers: `SOM` to the end of the data, with the final `LEN`.
fn mac_input(frame: &Frame) -> Result<Vec<u8>, EncodeError> {
    let mut bytes = frame.encode()?;
    let trailer_len_bytes = if frame.use_crc { 2 } else { 1 };
    bytes.truncate(bytes.len() - trailer_len_bytes - MAC_LEN_BYTES);
    Ok(bytes)
}

#[cfg(test)]
mod tests;
