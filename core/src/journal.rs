//! The event journal (DESIGN.md §3): append-only, hash-chained, verifiable.
//!
//! Each row stores the hash of its predecessor (in local `seq` order) and its own hash
//! over its content and that predecessor hash. `verify` walks the chain and names every
//! row that was edited, inserted or deleted behind the program's back.

use crate::error::StoreError;
use crate::events::EventBody;
use crate::time::{from_micros, to_micros};
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, Row};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::fmt;
use uuid::Uuid;

pub type Hash = [u8; 32];

/// The predecessor hash of the first event.
pub const GENESIS_HASH: Hash = [0u8; 32];

/// Who wrote an event: a workstation (`ws-…`) or the central server.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct DeviceId(String);

impl DeviceId {
    pub fn new(id: impl Into<String>) -> Self {
        DeviceId(id.into())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One fact, as appended.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: Uuid,
    pub origin: DeviceId,
    /// Gap-free per origin, starting at 1.
    pub origin_seq: u64,
    pub occurred_at: DateTime<Utc>,
    /// `staff:<person id>` for a signed-in person, `device:<id>` for the machine itself.
    pub actor: String,
    pub body: EventBody,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainHead {
    pub seq: i64,
    pub hash: Hash,
}

pub(crate) const EVENT_COLUMNS: &str =
    "seq, id, origin, origin_seq, occurred_at_us, actor, kind, payload, prev_hash, hash";

/// A journal row exactly as stored, before its payload is decoded.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub seq: i64,
    pub id: Vec<u8>,
    pub origin: String,
    pub origin_seq: i64,
    pub occurred_at_us: i64,
    pub actor: String,
    pub kind: String,
    pub payload: String,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

impl StoredEvent {
    pub(crate) fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(StoredEvent {
            seq: row.get(0)?,
            id: row.get(1)?,
            origin: row.get(2)?,
            origin_seq: row.get(3)?,
            occurred_at_us: row.get(4)?,
            actor: row.get(5)?,
            kind: row.get(6)?,
            payload: row.get(7)?,
            prev_hash: row.get(8)?,
            hash: row.get(9)?,
        })
    }

    /// The hash this row should carry, given its stored predecessor hash.
    pub fn expected_hash(&self) -> Hash {
        content_hash(
            &self.prev_hash,
            &self.id,
            &self.origin,
            self.origin_seq,
            self.occurred_at_us,
            &self.actor,
            &self.kind,
            &self.payload,
        )
    }

    pub fn decode(&self) -> Result<Event, StoreError> {
        let corrupt = |message: String| StoreError::CorruptEvent {
            seq: self.seq,
            message,
        };
        let id = Uuid::from_slice(&self.id).map_err(|e| corrupt(format!("bad id: {e}")))?;
        let body = EventBody::from_parts(&self.kind, &self.payload)
            .map_err(|e| corrupt(format!("bad {} payload: {e}", self.kind)))?;
        Ok(Event {
            id,
            origin: DeviceId::new(self.origin.clone()),
            origin_seq: self.origin_seq as u64,
            occurred_at: from_micros(self.occurred_at_us),
            actor: self.actor.clone(),
            body,
        })
    }
}

#[allow(clippy::too_many_arguments)]
fn content_hash(
    prev_hash: &[u8],
    id: &[u8],
    origin: &str,
    origin_seq: i64,
    occurred_at_us: i64,
    actor: &str,
    kind: &str,
    payload: &str,
) -> Hash {
    let mut h = Sha256::new();
    // Every variable-length field is length-prefixed, so no two rows hash alike by
    // moving bytes from one field to the next.
    for part in [
        prev_hash,
        id,
        origin.as_bytes(),
        actor.as_bytes(),
        kind.as_bytes(),
        payload.as_bytes(),
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    h.update(origin_seq.to_be_bytes());
    h.update(occurred_at_us.to_be_bytes());
    h.finalize().into()
}

/// Inserts `event` after `head`; returns the new head. Projections are the caller's.
pub(crate) fn insert(
    conn: &Connection,
    head: &ChainHead,
    event: &Event,
) -> Result<ChainHead, StoreError> {
    let (kind, payload) = event.body.to_parts();
    insert_parts(
        conn,
        head,
        &RawEvent {
            id: event.id.as_bytes(),
            origin: event.origin.as_str(),
            origin_seq: event.origin_seq as i64,
            occurred_at_us: to_micros(event.occurred_at),
            actor: &event.actor,
            kind: &kind,
            payload: &payload,
        },
    )
}

/// An event's stored fields, as they came (a pulled event is kept byte for byte, even
/// one of a kind this build does not know).
pub(crate) struct RawEvent<'a> {
    pub id: &'a [u8],
    pub origin: &'a str,
    pub origin_seq: i64,
    pub occurred_at_us: i64,
    pub actor: &'a str,
    pub kind: &'a str,
    pub payload: &'a str,
}

/// Inserts a raw event after `head`; returns the new head.
pub(crate) fn insert_parts(
    conn: &Connection,
    head: &ChainHead,
    raw: &RawEvent<'_>,
) -> Result<ChainHead, StoreError> {
    let hash = content_hash(
        &head.hash,
        raw.id,
        raw.origin,
        raw.origin_seq,
        raw.occurred_at_us,
        raw.actor,
        raw.kind,
        raw.payload,
    );
    conn.prepare_cached(
        "INSERT INTO journal (id, origin, origin_seq, occurred_at_us, actor, kind, payload, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        raw.id,
        raw.origin,
        raw.origin_seq,
        raw.occurred_at_us,
        raw.actor,
        raw.kind,
        raw.payload,
        head.hash.as_slice(),
        hash.as_slice()
    ])?;
    Ok(ChainHead {
        seq: conn.last_insert_rowid(),
        hash,
    })
}

/// Reads events in local order, `limit` at most, starting after `after_seq`.
pub fn read_after(
    conn: &Connection,
    after_seq: i64,
    limit: u32,
) -> Result<Vec<(i64, Event)>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {EVENT_COLUMNS} FROM journal WHERE seq > ?1 ORDER BY seq LIMIT ?2"
    ))?;
    let rows = stmt.query_map(params![after_seq, limit], StoredEvent::from_row)?;
    let mut out = Vec::new();
    for row in rows {
        let stored = row?;
        out.push((stored.seq, stored.decode()?));
    }
    Ok(out)
}

/// What `verify` found wrong, row by row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum ChainFault {
    /// The row's content no longer matches its own hash.
    Edited { seq: i64 },
    /// A row whose predecessor hash points past it: it was slipped in.
    Inserted { seq: i64 },
    /// The chain breaks before this row: one or more rows before it are gone.
    MissingBefore { seq: i64 },
    /// The last rows are gone: the recorded head is past the end.
    MissingAtEnd { head_seq: i64, last_seq: i64 },
    /// An origin's sequence skips numbers (a deleted event of that device).
    OriginGap {
        origin: String,
        after: i64,
        next: i64,
    },
    /// The payload no longer decodes.
    Unreadable { seq: i64, message: String },
}

impl fmt::Display for ChainFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChainFault::Edited { seq } => write!(f, "row {seq} was edited"),
            ChainFault::Inserted { seq } => write!(f, "row {seq} was inserted"),
            ChainFault::MissingBefore { seq } => write!(f, "rows are missing before row {seq}"),
            ChainFault::MissingAtEnd { head_seq, last_seq } => {
                write!(
                    f,
                    "rows {}..={head_seq} are missing at the end",
                    last_seq + 1
                )
            }
            ChainFault::OriginGap {
                origin,
                after,
                next,
            } => {
                write!(f, "events of {origin} jump from number {after} to {next}")
            }
            ChainFault::Unreadable { seq, message } => {
                write!(f, "row {seq} cannot be read: {message}")
            }
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    pub events: u64,
    pub faults: Vec<ChainFault>,
}

impl VerifyReport {
    pub fn is_intact(&self) -> bool {
        self.faults.is_empty()
    }
}

/// Walks the whole journal and reports every edited, inserted or deleted row.
pub fn verify(conn: &Connection) -> Result<VerifyReport, StoreError> {
    let mut report = VerifyReport::default();
    let mut stmt = conn.prepare(&format!("SELECT {EVENT_COLUMNS} FROM journal ORDER BY seq"))?;
    let mut rows = stmt.query([])?;
    // Hashes of the last two rows seen: an inserted row is recognised when the row after
    // it links to the row before it.
    let mut prev: Option<StoredEvent> = None;
    let mut before_prev_hash: Vec<u8> = GENESIS_HASH.to_vec();
    let mut last_origin_seq: std::collections::HashMap<String, i64> = Default::default();
    let unreadable_on_arrival: std::collections::HashSet<i64> = conn
        .prepare("SELECT seq FROM sync_skipped WHERE reason = 'unreadable'")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    while let Some(row) = rows.next()? {
        let ev = StoredEvent::from_row(row)?;
        report.events += 1;
        if ev.expected_hash().as_slice() != ev.hash.as_slice() {
            report.faults.push(ChainFault::Edited { seq: ev.seq });
        }
        let prev_hash = prev
            .as_ref()
            .map_or(GENESIS_HASH.to_vec(), |p| p.hash.clone());
        if ev.prev_hash != prev_hash {
            match &prev {
                Some(p) if ev.prev_hash == before_prev_hash => {
                    report.faults.push(ChainFault::Inserted { seq: p.seq })
                }
                // A row whose own content was edited (and rehashed) shows up here too,
                // unless its hash was left alone, which `Edited` above already reported.
                Some(p) if p.expected_hash().as_slice() != p.hash.as_slice() => {}
                _ => report
                    .faults
                    .push(ChainFault::MissingBefore { seq: ev.seq }),
            }
        }
        // A pulled event this build could not read was kept as it came and set aside
        // (`sync_skipped`); its hash still guards it.
        if !unreadable_on_arrival.contains(&ev.seq) {
            if let Err(e) = ev.decode() {
                report.faults.push(ChainFault::Unreadable {
                    seq: ev.seq,
                    message: e.to_string(),
                });
            }
        }
        let last = last_origin_seq.entry(ev.origin.clone()).or_insert(0);
        if ev.origin_seq != *last + 1 {
            report.faults.push(ChainFault::OriginGap {
                origin: ev.origin.clone(),
                after: *last,
                next: ev.origin_seq,
            });
        }
        *last = ev.origin_seq.max(*last);
        before_prev_hash = prev_hash;
        prev = Some(ev);
    }
    let head: Option<(i64, Vec<u8>)> = {
        use rusqlite::OptionalExtension;
        conn.query_row("SELECT seq, hash FROM journal_head", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?
    };
    let last_seq = prev.as_ref().map_or(0, |p| p.seq);
    if let Some((head_seq, head_hash)) = head {
        if head_seq > last_seq {
            report
                .faults
                .push(ChainFault::MissingAtEnd { head_seq, last_seq });
        } else if head_seq < last_seq {
            // Rows past the recorded head were appended behind the program's back.
            let first_extra: i64 = conn.query_row(
                "SELECT min(seq) FROM journal WHERE seq > ?1",
                [head_seq],
                |r| r.get(0),
            )?;
            report
                .faults
                .push(ChainFault::Inserted { seq: first_extra });
        } else {
            let last_hash = prev
                .as_ref()
                .map_or(GENESIS_HASH.to_vec(), |p| p.hash.clone());
            if head_hash != last_hash {
                report.faults.push(ChainFault::Edited { seq: last_seq });
            }
        }
    }
    let mut seen = Vec::with_capacity(report.faults.len());
    report.faults.retain(|f| {
        let new = !seen.contains(f);
        if new {
            seen.push(f.clone());
        }
        new
    });
    Ok(report)
}
