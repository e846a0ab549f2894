//! Authorizations in flight between `authorize` and `confirm` or `cancel`.
//!
//! An approved authorization holds its amount on the holder's money until it is confirmed
//! (it becomes a sale), cancelled, or lapses after the ledger's time to live: another
//! machine asking for the same pupil meanwhile sees the hold. Every answer is kept by the
//! machine's request id for [`KEPT_FOR`]: a controller that repeats a request after a lost
//! reply gets the same answer and never a second hold; the same id with another body is
//! refused. A repeated confirmation is answered as the first and sells once.

use crate::{Denial, Item, Quote, QuoteRequest, Sale, Till, TillUnavailable};
use chrono::{DateTime, Duration, Utc};
use schoolcard_proto::CardId;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use uuid::Uuid;

/// How long answers and finished authorizations are remembered for replays.
pub const KEPT_FOR: Duration = Duration::hours(24);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Pending,
    Confirmed,
    Cancelled,
    /// Neither confirmed nor cancelled in time: nothing was sold.
    Expired,
}

#[derive(Debug, Clone, Serialize)]
pub struct Authorization {
    pub id: Uuid,
    pub machine_id: String,
    pub quote: Quote,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub state: State,
}

/// What `authorize` answered.
#[derive(Debug, Clone)]
pub enum Answer {
    Approved(Authorization),
    Denied(Denial),
}

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("request id {0:?} was already used for another request")]
    RequestIdReused(String),
    #[error("no such authorization for this machine")]
    NotFound,
    #[error("the authorization lapsed at {0}: nothing was sold")]
    Expired(DateTime<Utc>),
    #[error("the authorization was cancelled")]
    AlreadyCancelled,
    #[error("the authorization was confirmed: it is a sale now")]
    AlreadyConfirmed,
    #[error(transparent)]
    Till(#[from] TillUnavailable),
}

struct Answered {
    body_sha256: [u8; 32],
    answer: Answer,
    at: DateTime<Utc>,
}

#[derive(Default)]
struct Books {
    authorizations: HashMap<Uuid, Authorization>,
    /// (machine id, request id) → the answer given.
    answered: HashMap<(String, String), Answered>,
}

pub struct Ledger {
    time_to_live: Duration,
    books: Mutex<Books>,
}

impl Ledger {
    /// Authorizations lapse `time_to_live` after they are given.
    pub fn new(time_to_live: Duration) -> Ledger {
        Ledger {
            time_to_live,
            books: Mutex::new(Books::default()),
        }
    }

    pub fn time_to_live(&self) -> Duration {
        self.time_to_live
    }

    fn books(&self) -> MutexGuard<'_, Books> {
        self.books.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Decides `items` for `card` at `machine_id`, or repeats the answer given to the
    /// same request id. The rules are asked under the ledger's lock, so two machines
    /// authorizing for one pupil at once each see the other's hold.
    pub fn authorize(
        &self,
        till: &dyn Till,
        machine_id: &str,
        request_id: &str,
        card: CardId,
        items: &[Item],
        now: DateTime<Utc>,
    ) -> Result<Answer, LedgerError> {
        let body_sha256 = request_digest(&card, items);
        let mut books = self.books();
        sweep(&mut books, now);
        let key = (machine_id.to_owned(), request_id.to_owned());
        if let Some(answered) = books.answered.get(&key) {
            if answered.body_sha256 != body_sha256 {
                return Err(LedgerError::RequestIdReused(request_id.to_owned()));
            }
            return Ok(match &answered.answer {
                // The authorization as it stands now (confirmed, lapsed…).
                Answer::Approved(first) => Answer::Approved(
                    books
                        .authorizations
                        .get(&first.id)
                        .cloned()
                        .unwrap_or_else(|| first.clone()),
                ),
                denied => denied.clone(),
            });
        }
        let held = |holder: &str| -> i64 {
            books
                .authorizations
                .values()
                .filter(|a| a.state == State::Pending && a.quote.holder == holder)
                .map(|a| a.quote.amount_kopecks)
                .sum()
        };
        let request = QuoteRequest {
            card,
            machine_id,
            items,
            at: now,
        };
        let answer = match till.quote(&request, &held)? {
            Ok(quote) => Answer::Approved(Authorization {
                id: Uuid::now_v7(),
                machine_id: machine_id.to_owned(),
                quote,
                created_at: now,
                expires_at: now + self.time_to_live,
                state: State::Pending,
            }),
            Err(denial) => Answer::Denied(denial),
        };
        if let Answer::Approved(authorization) = &answer {
            books
                .authorizations
                .insert(authorization.id, authorization.clone());
        }
        books.answered.insert(
            key,
            Answered {
                body_sha256,
                answer: answer.clone(),
                at: now,
            },
        );
        Ok(answer)
    }

    /// The basket was dispensed: the sale is recorded (once, however often confirmed).
    pub fn confirm(
        &self,
        till: &dyn Till,
        machine_id: &str,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Authorization, LedgerError> {
        let mut books = self.books();
        sweep(&mut books, now);
        let authorization = find(&mut books, machine_id, id)?;
        match authorization.state {
            State::Confirmed => return Ok(authorization.clone()),
            State::Cancelled => return Err(LedgerError::AlreadyCancelled),
            State::Expired => return Err(LedgerError::Expired(authorization.expires_at)),
            State::Pending => {}
        }
        till.sell(&Sale {
            sale_id: authorization.id,
            machine_id,
            quote: &authorization.quote,
            at: now,
        })?;
        authorization.state = State::Confirmed;
        Ok(authorization.clone())
    }

    /// The basket was not dispensed: the hold is released.
    pub fn cancel(
        &self,
        machine_id: &str,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Authorization, LedgerError> {
        let mut books = self.books();
        sweep(&mut books, now);
        let authorization = find(&mut books, machine_id, id)?;
        match authorization.state {
            State::Confirmed => Err(LedgerError::AlreadyConfirmed),
            State::Pending => {
                authorization.state = State::Cancelled;
                Ok(authorization.clone())
            }
            // Nothing held any more either way: cancelling again is harmless.
            State::Cancelled | State::Expired => Ok(authorization.clone()),
        }
    }

    /// Authorizations still holding money.
    pub fn pending(&self, now: DateTime<Utc>) -> Vec<Authorization> {
        let mut books = self.books();
        sweep(&mut books, now);
        books
            .authorizations
            .values()
            .filter(|a| a.state == State::Pending)
            .cloned()
            .collect()
    }
}

fn find<'a>(
    books: &'a mut Books,
    machine_id: &str,
    id: Uuid,
) -> Result<&'a mut Authorization, LedgerError> {
    books
        .authorizations
        .get_mut(&id)
        // Another machine's authorization is none of this one's business.
        .filter(|a| a.machine_id == machine_id)
        .ok_or(LedgerError::NotFound)
}

/// Lapses what is past its time, and forgets what is older than [`KEPT_FOR`].
fn sweep(books: &mut Books, now: DateTime<Utc>) {
    for authorization in books.authorizations.values_mut() {
        if authorization.state == State::Pending && now > authorization.expires_at {
            authorization.state = State::Expired;
        }
    }
    books
        .authorizations
        .retain(|_, a| now - a.created_at <= KEPT_FOR);
    books.answered.retain(|_, a| now - a.at <= KEPT_FOR);
}

/// What makes two requests with one id the same request: the card and the basket.
fn request_digest(card: &CardId, items: &[Item]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(card.to_string().as_bytes());
    for item in items {
        hasher.update([0]);
        hasher.update(item.product.as_bytes());
        hasher.update([0]);
        hasher.update(item.quantity.to_le_bytes());
    }
    hasher.finalize().into()
}
