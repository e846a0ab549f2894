//! The gate post: cards at the readers of the entrance become decisions, gate commands
//! and passages in the journal.
//!
//! - `queue` — [`queue::JournalQueue`], the gates' journal writer with group commit.
//! - `holders` — [`holders::Holders`], the school's cards and cardholders in memory.
//! - `post` — [`post::GatePost`], a card at a reader to a decision and a passage.

pub mod holders;
pub mod post;
pub mod queue;

#[cfg(test)]
mod tests;
