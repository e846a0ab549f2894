//! The sync client (DESIGN.md §4): this workstation's side of the protocol in
//! `schoolcard_proto::sync`.
//!
//! - The **outbox** is the journal itself: own events past `sync_state.acked_through`,
//!   pushed in bounded batches in `origin_seq` order. Nothing is copied or marked, so a
//!   crash at any instant leaves nothing to repair: the next push resends what the server
//!   has not acknowledged, and the server takes a replay as the same event.
//! - **Pulled** events are appended to the journal and applied to the projections in the
//!   same transaction that moves `sync_state.cursor` past them.
//! - **Conflicts**: two edits of the same master data ([`keys::master_key`]) made without
//!   seeing each other are settled by the server's order, the later one standing. When a
//!   pulled edit comes before this workstation's own later (or not yet pushed) edit, it is
//!   kept in the journal but not applied ([`Skipped::Superseded`]), exactly as every other
//!   workstation, applying both in server order, ends up. Every such case is listed in
//!   `sync_conflicts`, never dropped.
//! - [`worker`] runs the cycle in the background with time-outs and exponential back-off;
//!   [`http`] is the transport.

pub mod http;
pub mod keys;
pub mod update;
pub mod worker;

#[cfg(test)]
mod tests;

pub use keys::master_key;

use crate::error::StoreError;
use crate::events::EventBody;
use crate::journal::{DeviceId, Event, RawEvent};
use crate::store::{Store, Writer};
use crate::time::{from_micros, to_micros};
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use schoolcard_proto::sync::{
    ErrorCode, PullResponse, PulledEvent, PushRequest, PushResponse, WireEvent,
};
use serde::Serialize;
use uuid::Uuid;

/// Name of the device secret in `local_secrets`.
const SECRET_NAME: &str = "sync.secret";

/// What went wrong talking to the server.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The server could not be reached or did not answer in time.
    #[error("the server cannot be reached: {0}")]
    Offline(String),
    /// The server answered with an error.
    #[error("the server refused ({status}): {message}")]
    Refused {
        status: u16,
        code: Option<ErrorCode>,
        message: String,
    },
    /// The answer breaks the protocol (a cursor going back, an event of ours).
    #[error("the server's answer makes no sense: {0}")]
    Protocol(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SyncError {
    /// Whether retrying later can help (an outage) or a person has to act (a revoked
    /// device, an app too old for the server, a conflicting replay).
    pub fn needs_attention(&self) -> bool {
        match self {
            SyncError::Offline(_) => false,
            SyncError::Refused { status, .. } => !matches!(status, 408 | 429 | 500..=599),
            SyncError::Protocol(_) | SyncError::Store(_) => true,
        }
    }
}

impl From<rusqlite::Error> for SyncError {
    fn from(e: rusqlite::Error) -> Self {
        SyncError::Store(StoreError::from(e))
    }
}

/// The two calls of the protocol; [`http::HttpTransport`] makes them over HTTP, tests
/// may answer them in memory.
pub trait Transport {
    fn push(&self, request: &PushRequest) -> Result<PushResponse, SyncError>;
    fn pull(&self, after: u64, limit: u32) -> Result<PullResponse, SyncError>;
}

/// Where this workstation syncs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Enrolment {
    pub server_url: String,
    pub school_id: String,
    pub school_name: String,
    pub enrolled_at: DateTime<Utc>,
}

/// The enrolment and the device secret, or `None` on a standalone workstation.
pub fn enrolment(conn: &Connection) -> Result<Option<(Enrolment, String)>, StoreError> {
    let found = conn
        .query_row(
            "SELECT c.server_url, c.school_id, c.school_name, c.enrolled_at_us, s.value
             FROM sync_config c JOIN local_secrets s ON s.name = ?1",
            [SECRET_NAME],
            |r| {
                let secret: Vec<u8> = r.get(4)?;
                Ok((
                    Enrolment {
                        server_url: r.get(0)?,
                        school_id: r.get(1)?,
                        school_name: r.get(2)?,
                        enrolled_at: from_micros(r.get(3)?),
                    },
                    String::from_utf8_lossy(&secret).into_owned(),
                ))
            },
        )
        .optional()?;
    Ok(found)
}

/// Records what enrolment returned. Own master data already written gets its keys, so a
/// later pulled edit is ordered against it.
pub fn save_enrolment(
    w: &mut Writer<'_>,
    enrolment: &Enrolment,
    secret: &str,
) -> Result<(), StoreError> {
    let conn = w.conn();
    conn.execute(
        "INSERT INTO sync_config (singleton, server_url, school_id, school_name, enrolled_at_us)
         VALUES (1, ?1, ?2, ?3, ?4)
         ON CONFLICT (singleton) DO UPDATE SET server_url = excluded.server_url,
             school_id = excluded.school_id, school_name = excluded.school_name,
             enrolled_at_us = excluded.enrolled_at_us",
        params![
            enrolment.server_url,
            enrolment.school_id,
            enrolment.school_name,
            to_micros(enrolment.enrolled_at)
        ],
    )?;
    conn.execute(
        "INSERT INTO local_secrets (name, value, created_at_us) VALUES (?1, ?2, ?3)
         ON CONFLICT (name) DO UPDATE SET value = excluded.value, created_at_us = excluded.created_at_us",
        params![SECRET_NAME, secret.as_bytes(), to_micros(enrolment.enrolled_at)],
    )?;
    backfill_own_keys(conn, w.device())?;
    Ok(())
}

/// Fills `sync_keys` from the own events written before the key table existed.
fn backfill_own_keys(conn: &Connection, device: &DeviceId) -> Result<(), StoreError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {} FROM journal WHERE origin = ?1 ORDER BY origin_seq",
        crate::journal::EVENT_COLUMNS
    ))?;
    let rows = stmt.query_map([device.as_str()], crate::journal::StoredEvent::from_row)?;
    for row in rows {
        let stored = row?;
        let Ok(event) = stored.decode() else { continue };
        if let Some(key) = master_key(&event.body) {
            record_own_key(conn, &key, event.origin_seq)?;
        }
    }
    Ok(())
}

/// Notes this workstation's own edit of `key` (called on every own append).
pub(crate) fn record_own_key(
    conn: &Connection,
    key: &str,
    origin_seq: u64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO sync_keys (key, own_origin_seq) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET own_origin_seq = excluded.own_origin_seq",
    )?
    .execute(params![key, origin_seq as i64])?;
    Ok(())
}

/// Where this file stands with the server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Position {
    /// The last global seq applied here.
    pub cursor: u64,
    /// The highest own origin_seq the server holds without a gap.
    pub acked_through: u64,
}

pub fn position(conn: &Connection) -> Result<Position, StoreError> {
    Ok(
        conn.query_row("SELECT cursor, acked_through FROM sync_state", [], |r| {
            Ok(Position {
                cursor: r.get::<_, i64>(0)? as u64,
                acked_through: r.get::<_, i64>(1)? as u64,
            })
        })?,
    )
}

/// The next batch of own events the server has not acknowledged, oldest first.
pub fn outbox(
    conn: &Connection,
    device: &DeviceId,
    acked_through: u64,
    limit: usize,
) -> Result<Vec<WireEvent>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, origin_seq, occurred_at_us, actor, kind, payload FROM journal
         WHERE origin = ?1 AND origin_seq > ?2 ORDER BY origin_seq LIMIT ?3",
    )?;
    let rows = stmt.query_map(
        params![device.as_str(), acked_through as i64, limit as i64],
        |r| {
            let id: Vec<u8> = r.get(0)?;
            Ok(WireEvent {
                id: Uuid::from_slice(&id).map_or_else(|_| hex::encode(&id), |u| u.to_string()),
                origin: device.as_str().to_owned(),
                origin_seq: r.get::<_, i64>(1)? as u64,
                occurred_at_us: r.get(2)?,
                actor: r.get(3)?,
                kind: r.get(4)?,
                payload: r.get(5)?,
            })
        },
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Own events the server does not hold yet.
pub fn pending(conn: &Connection, device: &DeviceId) -> Result<u64, StoreError> {
    let acked = position(conn)?.acked_through;
    let n: i64 = conn.query_row(
        "SELECT count(*) FROM journal WHERE origin = ?1 AND origin_seq > ?2",
        params![device.as_str(), acked as i64],
        |r| r.get(0),
    )?;
    Ok(n as u64)
}

/// What the authors of own events from `origin_seq` on had seen of the server: the
/// cursor at the time the earliest of them was written (a lower bound for the batch).
pub fn seen_through(conn: &Connection, origin_seq: u64) -> Result<u64, StoreError> {
    let cursor: Option<i64> = conn
        .query_row(
            "SELECT cursor FROM sync_cursor_marks WHERE from_origin_seq <= ?1
             ORDER BY from_origin_seq DESC LIMIT 1",
            [origin_seq as i64],
            |r| r.get(0),
        )
        .optional()?;
    Ok(cursor.unwrap_or(0) as u64)
}

/// Takes in a push's answer: how far the server holds our events, and where it put them.
pub fn record_push(store: &mut Store, answer: &PushResponse) -> Result<(), StoreError> {
    store.write(|w| {
        let conn = w.conn();
        conn.execute(
            "UPDATE sync_state SET acked_through = max(acked_through, ?1)",
            [answer.acked_through as i64],
        )?;
        // Only the places of own edits still standing are asked for later (a pulled edit
        // of the same key is ordered against them); passages and sales need none.
        let (first, last) = match (answer.placements.first(), answer.placements.last()) {
            (Some(first), Some(last)) => (first.origin_seq as i64, last.origin_seq as i64),
            _ => (0, -1),
        };
        let keyed: std::collections::HashSet<i64> = conn
            .prepare_cached(
                "SELECT own_origin_seq FROM sync_keys WHERE own_origin_seq BETWEEN ?1 AND ?2",
            )?
            .query_map([first.min(last), first.max(last)], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let mut placed = conn.prepare_cached(
            "INSERT INTO sync_placements (origin_seq, global_seq) VALUES (?1, ?2)
             ON CONFLICT (origin_seq) DO NOTHING",
        )?;
        for p in &answer.placements {
            if keyed.contains(&(p.origin_seq as i64)) {
                placed.execute(params![p.origin_seq as i64, p.global_seq as i64])?;
            }
        }
        // Marks wholly behind the acknowledged events are no longer asked for.
        conn.execute(
            "DELETE FROM sync_cursor_marks WHERE from_origin_seq < (
                 SELECT coalesce(max(from_origin_seq), 0) FROM sync_cursor_marks
                 WHERE from_origin_seq <= ?1)",
            [answer.acked_through as i64 + 1],
        )?;
        Ok(())
    })
}

/// What happened to one pulled event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    Applied,
    /// Already in this journal (the same event): nothing written.
    AlreadyHeld,
    Skipped(Skipped),
}

/// Why a pulled event is kept but not applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Skipped {
    /// The server orders it before this workstation's own edit of the same thing.
    Superseded,
    /// This build cannot read it (a kind from a newer version, a broken payload).
    Unreadable,
}

impl Skipped {
    fn as_str(self) -> &'static str {
        match self {
            Skipped::Superseded => "superseded",
            Skipped::Unreadable => "unreadable",
        }
    }
}

/// How a conflict was settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Our edit stands: the server orders it after theirs.
    OursStands,
    /// Their edit stands over ours: its author had not seen ours.
    TheirsStands,
    /// Two other workstations edited the same thing; the later in server order stands.
    LaterStands,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::OursStands => "ours_stands",
            Outcome::TheirsStands => "theirs_stands",
            Outcome::LaterStands => "later_stands",
        }
    }
}

/// Counts of one applied page.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PageApplied {
    pub applied: u32,
    pub already_held: u32,
    pub superseded: u32,
    pub unreadable: u32,
}

/// Applies one pulled page: every event, the balances and the new cursor in one
/// transaction.
pub fn apply_page(store: &mut Store, page: &PullResponse) -> Result<PageApplied, SyncError> {
    let now = Utc::now();
    store.write(|w| {
        let before = position(w.conn())?;
        if page.cursor < before.cursor {
            return Err(SyncError::Protocol(format!(
                "the cursor went back from {} to {}",
                before.cursor, page.cursor
            )));
        }
        let mut counts = PageApplied::default();
        let mut last_global = before.cursor;
        for pulled in &page.events {
            if pulled.global_seq <= last_global || pulled.global_seq > page.cursor {
                return Err(SyncError::Protocol(format!(
                    "event at global seq {} is outside the page ({}..={})",
                    pulled.global_seq, before.cursor, page.cursor
                )));
            }
            last_global = pulled.global_seq;
            match w.append_pulled(pulled, now)? {
                Arrival::Applied => counts.applied += 1,
                Arrival::AlreadyHeld => counts.already_held += 1,
                Arrival::Skipped(Skipped::Superseded) => counts.superseded += 1,
                Arrival::Skipped(Skipped::Unreadable) => counts.unreadable += 1,
            }
        }
        let conn = w.conn();
        let mut balance = conn.prepare_cached(
            "INSERT INTO server_balances (person_id, balance, position) VALUES (?1, ?2, ?3)
             ON CONFLICT (person_id) DO UPDATE SET balance = excluded.balance,
                 position = excluded.position
             WHERE excluded.position >= server_balances.position",
        )?;
        for b in &page.balances {
            balance.execute(params![b.person_id, b.balance, b.position as i64])?;
        }
        if page.cursor > before.cursor {
            conn.execute("UPDATE sync_state SET cursor = ?1", [page.cursor as i64])?;
            // Own events written from now on were written having seen this far.
            let next_own: i64 = conn.query_row(
                "SELECT coalesce(max(origin_seq), 0) + 1 FROM journal WHERE origin = ?1",
                [w.device().as_str()],
                |r| r.get(0),
            )?;
            conn.execute(
                "INSERT INTO sync_cursor_marks (from_origin_seq, cursor) VALUES (?1, ?2)
                 ON CONFLICT (from_origin_seq) DO UPDATE SET cursor = excluded.cursor",
                params![next_own, page.cursor as i64],
            )?;
        }
        Ok(counts)
    })
}

impl Writer<'_> {
    /// Appends an event authored elsewhere, as pulled, and applies it to the projections
    /// unless server order has it superseded or this build cannot read it.
    pub fn append_pulled(
        &mut self,
        pulled: &PulledEvent,
        now: DateTime<Utc>,
    ) -> Result<Arrival, SyncError> {
        let wire = &pulled.event;
        if wire.origin == self.device().as_str() {
            return Err(SyncError::Protocol(format!(
                "the server sent back our own event {}",
                wire.origin_seq
            )));
        }
        let id = Uuid::parse_str(&wire.id)
            .map_err(|e| SyncError::Protocol(format!("event id {:?}: {e}", wire.id)))?;
        let held: Option<Vec<u8>> = self
            .conn()
            .prepare_cached("SELECT id FROM journal WHERE origin = ?1 AND origin_seq = ?2")?
            .query_row(params![wire.origin, wire.origin_seq as i64], |r| r.get(0))
            .optional()?;
        if let Some(held) = held {
            return if held == id.as_bytes() {
                Ok(Arrival::AlreadyHeld)
            } else {
                Err(SyncError::Protocol(format!(
                    "event {} of {} differs from the one held here",
                    wire.origin_seq, wire.origin
                )))
            };
        }
        let seq = self.insert_raw(&RawEvent {
            id: id.as_bytes(),
            origin: &wire.origin,
            origin_seq: wire.origin_seq as i64,
            occurred_at_us: wire.occurred_at_us,
            actor: &wire.actor,
            kind: &wire.kind,
            payload: &wire.payload,
        })?;
        let conn = self.conn();
        conn.prepare_cached(
            "INSERT INTO sync_pulled (seq, global_seq, seen_through) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![
            seq,
            pulled.global_seq as i64,
            pulled.seen_through as i64
        ])?;
        let body = match EventBody::from_parts(&wire.kind, &wire.payload) {
            Ok(body) => body,
            Err(e) => {
                tracing::warn!(kind = %wire.kind, origin = %wire.origin, error = %e,
                    "a pulled event cannot be read by this version; kept, not applied");
                skip(conn, seq, Skipped::Unreadable)?;
                return Ok(Arrival::Skipped(Skipped::Unreadable));
            }
        };
        if let Some(key) = master_key(&body) {
            if settle(conn, &key, seq, pulled, now)? == Some(Skipped::Superseded) {
                skip(conn, seq, Skipped::Superseded)?;
                return Ok(Arrival::Skipped(Skipped::Superseded));
            }
        }
        let event = Event {
            id,
            origin: DeviceId::new(wire.origin.clone()),
            origin_seq: wire.origin_seq,
            occurred_at: from_micros(wire.occurred_at_us),
            actor: wire.actor.clone(),
            body,
        };
        crate::projection::apply(conn, &event)?;
        Ok(Arrival::Applied)
    }
}

fn skip(conn: &Connection, seq: i64, why: Skipped) -> Result<(), StoreError> {
    conn.prepare_cached("INSERT INTO sync_skipped (seq, reason) VALUES (?1, ?2)")?
        .execute(params![seq, why.as_str()])?;
    Ok(())
}

/// Orders a pulled edit of `key` against the last edits of it known here; records a
/// conflict when the two authors had not seen each other's edit. Returns
/// `Some(Superseded)` when our own edit stands over it.
fn settle(
    conn: &Connection,
    key: &str,
    seq: i64,
    pulled: &PulledEvent,
    now: DateTime<Utc>,
) -> Result<Option<Skipped>, StoreError> {
    let last: Option<(Option<i64>, Option<i64>, Option<String>)> = conn
        .prepare_cached(
            "SELECT own_origin_seq, pulled_global_seq, pulled_origin FROM sync_keys WHERE key = ?1",
        )?
        .query_row([key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    let (own, last_pulled, last_origin) = last.unwrap_or((None, None, None));
    let global = pulled.global_seq as i64;
    let seen = pulled.seen_through as i64;
    if let Some(own) = own {
        let own_seq: i64 = conn
            .prepare_cached("SELECT seq FROM journal WHERE origin = (SELECT device_id FROM device) AND origin_seq = ?1")?
            .query_row([own], |r| r.get(0))?;
        let own_global: Option<i64> = conn
            .prepare_cached("SELECT global_seq FROM sync_placements WHERE origin_seq = ?1")?
            .query_row([own], |r| r.get(0))
            .optional()?;
        // Not pushed yet, or placed after theirs: ours comes later in server order.
        if own_global.is_none_or(|g| g > global) {
            record_conflict(conn, now, key, Outcome::OursStands, own_seq, seq)?;
            return Ok(Some(Skipped::Superseded));
        }
        if own_global.is_some_and(|g| seen < g) {
            record_conflict(conn, now, key, Outcome::TheirsStands, seq, own_seq)?;
        }
    } else if let (Some(prev_global), Some(prev_origin)) = (last_pulled, last_origin.as_deref()) {
        if prev_origin != pulled.event.origin && seen < prev_global {
            let prev_seq: i64 = conn
                .prepare_cached("SELECT seq FROM sync_pulled WHERE global_seq = ?1")?
                .query_row([prev_global], |r| r.get(0))?;
            record_conflict(conn, now, key, Outcome::LaterStands, seq, prev_seq)?;
        }
    }
    // Theirs is now the last edit: our older one no longer stands.
    conn.prepare_cached(
        "INSERT INTO sync_keys (key, own_origin_seq, pulled_global_seq, pulled_origin)
         VALUES (?1, NULL, ?2, ?3)
         ON CONFLICT (key) DO UPDATE SET own_origin_seq = NULL,
             pulled_global_seq = excluded.pulled_global_seq, pulled_origin = excluded.pulled_origin",
    )?
    .execute(params![key, global, pulled.event.origin])?;
    Ok(None)
}

fn record_conflict(
    conn: &Connection,
    now: DateTime<Utc>,
    key: &str,
    outcome: Outcome,
    winner_seq: i64,
    loser_seq: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO sync_conflicts (detected_at_us, key, outcome, winner_seq, loser_seq)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        to_micros(now),
        key,
        outcome.as_str(),
        winner_seq,
        loser_seq
    ])?;
    Ok(())
}

/// One side of a conflict, as the conflicts view shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConflictSide {
    pub seq: i64,
    pub origin: String,
    pub ours: bool,
    pub occurred_at: DateTime<Utc>,
    pub actor: String,
    pub kind: String,
    pub payload: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Conflict {
    pub id: i64,
    pub detected_at: DateTime<Utc>,
    pub key: String,
    pub outcome: Outcome,
    pub winner: ConflictSide,
    pub loser: ConflictSide,
}

/// The conflicts settled here, newest first.
pub fn conflicts(conn: &Connection, limit: u32) -> Result<Vec<Conflict>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT c.id, c.detected_at_us, c.key, c.outcome,
                w.seq, w.origin, w.occurred_at_us, w.actor, w.kind, w.payload,
                l.seq, l.origin, l.occurred_at_us, l.actor, l.kind, l.payload,
                (SELECT device_id FROM device)
         FROM sync_conflicts c
         JOIN journal w ON w.seq = c.winner_seq
         JOIN journal l ON l.seq = c.loser_seq
         ORDER BY c.id DESC LIMIT ?1",
    )?;
    let rows = stmt.query_map([limit], |r| {
        let me: String = r.get(16)?;
        let side = |at: usize| -> rusqlite::Result<ConflictSide> {
            let origin: String = r.get(at + 1)?;
            Ok(ConflictSide {
                seq: r.get(at)?,
                ours: origin == me,
                origin,
                occurred_at: from_micros(r.get(at + 2)?),
                actor: r.get(at + 3)?,
                kind: r.get(at + 4)?,
                payload: r.get(at + 5)?,
            })
        };
        let outcome: String = r.get(3)?;
        Ok(Conflict {
            id: r.get(0)?,
            detected_at: from_micros(r.get(1)?),
            key: r.get(2)?,
            outcome: match outcome.as_str() {
                "ours_stands" => Outcome::OursStands,
                "theirs_stands" => Outcome::TheirsStands,
                _ => Outcome::LaterStands,
            },
            winner: side(4)?,
            loser: side(10)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// What this till has taken from `person_id`'s balance that the server does not hold yet
/// (sales and pre-orders past the acknowledgement), or `None` on a standalone workstation,
/// whose balance is the authority. Bounded by the offline budget at the till.
pub fn unsynced_debits(conn: &Connection, person_id: &str) -> Result<Option<i64>, StoreError> {
    let enrolled: bool =
        conn.query_row("SELECT count(*) > 0 FROM sync_config", [], |r| r.get(0))?;
    if !enrolled {
        return Ok(None);
    }
    let debits: i64 = conn
        .prepare_cached(
            "SELECT coalesce(sum(CASE kind WHEN 'sale_made' THEN json_extract(payload, '$.total')
                                          ELSE json_extract(payload, '$.price') END), 0)
             FROM journal
             WHERE origin = (SELECT device_id FROM device)
               AND origin_seq > (SELECT acked_through FROM sync_state)
               AND kind IN ('sale_made', 'pre_order_placed')
               AND json_extract(payload, '$.person_id') = ?1",
        )?
        .query_row([person_id], |r| r.get(0))?;
    Ok(Some(debits))
}

/// What the status bar shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyncStatus {
    pub device_id: String,
    /// `None`: standalone.
    pub enrolment: Option<Enrolment>,
    /// The last attempt reached the server and finished.
    pub online: bool,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    /// Attempts failed in a row since the last success.
    pub failures: u32,
    pub last_error: String,
    /// Own events the server does not hold yet.
    pub pending: u64,
    pub cursor: u64,
    pub conflicts: u64,
    /// Pulled events this version could not read (written by a newer one): kept in the
    /// journal, not applied until an update can read them.
    pub set_aside: u64,
}

pub fn status(conn: &Connection, device: &DeviceId) -> Result<SyncStatus, StoreError> {
    let (last_attempt, last_success, failures, last_error): (
        Option<i64>,
        Option<i64>,
        i64,
        String,
    ) = conn.query_row(
        "SELECT last_attempt_us, last_success_us, failures, last_error FROM sync_state",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )?;
    let conflicts: i64 = conn.query_row("SELECT count(*) FROM sync_conflicts", [], |r| r.get(0))?;
    let set_aside: i64 = conn.query_row(
        "SELECT count(*) FROM sync_skipped WHERE reason = 'unreadable'",
        [],
        |r| r.get(0),
    )?;
    Ok(SyncStatus {
        device_id: device.as_str().to_owned(),
        enrolment: enrolment(conn)?.map(|(e, _)| e),
        online: last_attempt.is_some() && failures == 0,
        last_attempt_at: last_attempt.map(from_micros),
        last_success_at: last_success.map(from_micros),
        failures: failures as u32,
        last_error,
        pending: pending(conn, device)?,
        cursor: position(conn)?.cursor,
        conflicts: conflicts as u64,
        set_aside: set_aside as u64,
    })
}

/// Records the end of a sync attempt for the status bar.
pub fn record_attempt(
    store: &mut Store,
    at: DateTime<Utc>,
    result: Result<(), &SyncError>,
) -> Result<(), StoreError> {
    store.write(|w| {
        match result {
            Ok(()) => w.conn().execute(
                "UPDATE sync_state SET last_attempt_us = ?1, last_success_us = ?1, failures = 0,
                     last_error = ''",
                [to_micros(at)],
            )?,
            Err(e) => w.conn().execute(
                "UPDATE sync_state SET last_attempt_us = ?1, failures = failures + 1,
                     last_error = ?2",
                params![to_micros(at), e.to_string()],
            )?,
        };
        Ok(())
    })
}

/// What one sync cycle did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CycleReport {
    pub pushed: u64,
    pub pulled: u64,
    pub superseded: u64,
    pub unreadable: u64,
}

/// Limits of one cycle.
#[derive(Debug, Clone, Copy)]
pub struct Batches {
    pub push: usize,
    pub pull: u32,
}

impl Batches {
    /// About a megabyte a push; a pull page the same.
    pub const DEFAULT: Batches = Batches {
        push: 2_000,
        pull: 2_000,
    };
}

impl Default for Batches {
    fn default() -> Self {
        Batches::DEFAULT
    }
}

/// Pushes every own event the server lacks, then pulls until the server has no more.
/// Pulling waits for a drained outbox, so the cursor each push reports is what its
/// events' authors had seen. Safe to stop at any instant: each step commits on its own.
pub fn sync_once(
    store: &mut Store,
    transport: &dyn Transport,
    batches: Batches,
) -> Result<CycleReport, SyncError> {
    let pushed = push_all(store, transport, batches.push)?;
    let mut report = pull_all(store, transport, batches.pull)?;
    report.pushed = pushed;
    Ok(report)
}

/// Pushes own events in batches of `batch` until the server holds them all; returns how
/// many the server newly acknowledged.
pub fn push_all(
    store: &mut Store,
    transport: &dyn Transport,
    batch: usize,
) -> Result<u64, SyncError> {
    let device = store.device().clone();
    let mut pushed = 0;
    loop {
        let acked = position(store.conn())?.acked_through;
        let events = outbox(store.conn(), &device, acked, batch)?;
        let Some(first) = events.first() else {
            return Ok(pushed);
        };
        let request = PushRequest {
            origin: device.as_str().to_owned(),
            seen_through: seen_through(store.conn(), first.origin_seq)?,
            events,
        };
        let answer = transport.push(&request)?;
        record_push(store, &answer)?;
        if answer.acked_through <= acked {
            return Err(SyncError::Protocol(format!(
                "the server acknowledged nothing past {acked} (missing from {:?})",
                answer.missing_from
            )));
        }
        pushed += answer.acked_through - acked;
    }
}

/// Pulls pages of `batch` events until the server has no more.
pub fn pull_all(
    store: &mut Store,
    transport: &dyn Transport,
    batch: u32,
) -> Result<CycleReport, SyncError> {
    let mut report = CycleReport::default();
    loop {
        let cursor = position(store.conn())?.cursor;
        let page = transport.pull(cursor, batch)?;
        let applied = apply_page(store, &page)?;
        report.pulled += u64::from(applied.applied + applied.superseded + applied.unreadable);
        report.superseded += u64::from(applied.superseded);
        report.unreadable += u64::from(applied.unreadable);
        if !page.more || page.cursor == cursor {
            return Ok(report);
        }
    }
}
