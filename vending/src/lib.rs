//! The vending machines' local HTTP API (Автобуфет).
//!
//! A vending controller on the school's network asks, for the card a pupil holds to its
//! reader, whether a basket may be sold (`authorize`), then says whether it was dispensed
//! (`confirm`) or not (`cancel`); an authorization neither confirmed nor cancelled within
//! its time lapses. The canteen's own rules decide — bans, limits, balance, the same as
//! at the till — through a [`Till`], and only a confirmed authorization becomes a sale.
//!
//! ```text
//! controller ── POST /v1/authorize {request_id, card, items} ──▶ api (machine key)
//!                                                               └▶ Ledger::authorize ─▶ Till::quote
//!            ◀─ approved {authorization_id, amount, expires_at} | denied {reason}
//!            ── POST /v1/authorizations/{id}/confirm ─────────▶ Ledger::confirm ─▶ Till::sell
//!            ── POST /v1/authorizations/{id}/cancel ──────────▶ Ledger::cancel
//! ```
//!
//! - `machines` — [`machines::Machine`]: a machine's name and the digest of its key.
//! - `ledger` — [`ledger::Ledger`]: authorizations in flight, their holds on a holder's
//!   money, replays answered as first answered, lapses.
//! - `api` — [`api::router`]: the HTTP routes, wire types and errors (`openapi.yaml`
//!   describes them).
//! - `host` — [`host::Host`]: the API on a thread and runtime of its own, for the app.
//! - `core_till` — [`core_till::CoreTill`]: the [`Till`] of the school's own books — the
//!   canteen's rules and balances in `schoolcard-core`, on a connection of its own.

pub mod api;
pub mod core_till;
pub mod host;
pub mod ledger;
pub mod machines;

use chrono::{DateTime, Utc};
use schoolcard_proto::CardId;
use serde::Serialize;

/// One product of a basket, as the machine names it (the product's code in the catalogue).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Item {
    pub product: String,
    pub quantity: u32,
}

/// What the rules are asked about a basket.
#[derive(Debug, Clone)]
pub struct QuoteRequest<'a> {
    pub card: CardId,
    pub machine_id: &'a str,
    pub items: &'a [Item],
    pub at: DateTime<Utc>,
}

/// A basket the rules allow: whose card it is and what it costs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Quote {
    /// The cardholder (a person id): holds and sales are theirs.
    pub holder: String,
    pub lines: Vec<QuotedLine>,
    pub amount_kopecks: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuotedLine {
    pub product: String,
    pub name: String,
    pub category: String,
    pub quantity: u32,
    pub price_kopecks: i64,
}

/// A refusal by the rules, with the stable code the till shows too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Denial {
    pub reason: String,
    pub message: String,
}

impl Denial {
    pub fn new(reason: &str, message: impl Into<String>) -> Denial {
        Denial {
            reason: reason.to_owned(),
            message: message.into(),
        }
    }
}

/// The till could not be asked (its database is unavailable): nothing was decided.
#[derive(Debug, thiserror::Error)]
#[error("the till is unavailable: {0}")]
pub struct TillUnavailable(pub String);

/// An authorization confirmed: the sale the till records.
#[derive(Debug, Clone)]
pub struct Sale<'a> {
    /// The authorization's id: the sale's id, so a repeated confirmation sells once.
    pub sale_id: uuid::Uuid,
    pub machine_id: &'a str,
    pub quote: &'a Quote,
    pub at: DateTime<Utc>,
}

/// The canteen's rules and books, as the vending API uses them.
pub trait Till: Send + Sync + 'static {
    /// Prices `request`'s basket for the card's holder and checks it as the till would,
    /// counting `held(holder)` kopecks as already spent (other machines' authorizations
    /// of the same holder still in flight).
    fn quote(
        &self,
        request: &QuoteRequest<'_>,
        held: &dyn Fn(&str) -> i64,
    ) -> Result<Result<Quote, Denial>, TillUnavailable>;

    /// Records the sale; a sale id already recorded is not recorded again.
    fn sell(&self, sale: &Sale<'_>) -> Result<(), TillUnavailable>;
}
