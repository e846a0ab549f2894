//! The gate post: cards at the readers of the entrance become decisions, gate commands
//! and passages in the journal.
//!
//! - `queue` — [`queue::JournalQueue`], the gates' journal writer with group commit.
//! - `post` — [`post::GatePost`], a card at a reader to a decision and a passage.

pub mod post;
pub mod queue;

#[cfg(test)]
mod tests;
