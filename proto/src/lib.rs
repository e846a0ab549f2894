//! Wire types shared by the workstation and the central server.
//!
//! Everything here crosses a process or network boundary and is versioned with the sync
//! protocol, so it changes only in backward-compatible steps. The crate depends on nothing
//! of ours: both `schoolcard-core` and `schoolcard-readers` may use it.
//!
//! It holds the sync protocol ([`sync`]), the updates the server offers ([`updates`]) and the canonical card identity, [`CardId`]: one value for a card however a
//! reader prints it (Em-Marine hex, Wiegand-26 "facility,number", decimal or hex UID), so
//! a card enrolled on one reader matches on another.

mod card;

pub use card::{
    CardId, CardIdError, CARD_BITS_MAX, CARD_TEXT_LEN_MAX_BYTES, EM_MARINE_BITS,
    MIFARE_4_BYTE_BITS, MIFARE_7_BYTE_BITS, WIEGAND26_DATA_BITS,
};

pub mod sync;
pub mod updates;
