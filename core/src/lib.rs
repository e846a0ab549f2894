//! `schoolcard-core`: everything a school card workstation knows, with no window and no
//! hardware. Domain rules are plain functions over plain data (time passed in); the store
//! is one SQLite file holding the append-only, hash-chained event journal and the
//! projections (current state) that each append updates in the same transaction.
//! `Workstation` is the one door the desktop shell calls: it authorizes every command.
//!
//! Never imported from here: tauri, any window toolkit, any hardware driver.

pub mod access;
pub mod auth;
pub mod backup;
pub mod canteen;
pub mod demo;
pub mod director;
pub mod domain;
pub mod error;
pub mod events;
pub mod gatepost;
pub mod journal;
pub mod library;
pub mod money;
pub mod peripherals;
pub mod projection;
pub mod roster;
pub mod store;
pub mod sync;
pub mod time;
pub mod workstation;

pub use error::{CoreError, CoreResult};
pub use schoolcard_proto::CardId;
pub use store::Store;
pub use workstation::{Command, Workstation};
