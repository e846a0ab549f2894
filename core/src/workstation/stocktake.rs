//! Stocktaking (Инвентаризация) at the library desk: start one (of a shelf or room, or
//! the whole library), scan the shelves in batches, read the report, close it. The
//! comparison is `crate::library::stocktake::report`; this file reads the projections it
//! needs and appends the events. Marking a missing copy lost is the desk's `mark_copy`.

use super::library::{BARCODE_LEN_MAX_CHARS, LOCATION_LEN_MAX_CHARS};
use super::{check_title, parse_col, Workstation};
use crate::error::{CoreError, CoreResult, Refusal};
use crate::events::EventBody;
use crate::library::stocktake::{judge, report, CatalogueCopy, Scan};
use crate::library::{CopyState, StocktakeId};
use crate::time::from_micros;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Value};

/// Barcodes in one scan batch: the UI sends every twenty beeps or so; a few hundred is a
/// shelf typed in from a list, never more.
pub const STOCKTAKE_BATCH_MAX: usize = 500;
/// Open stocktakes listed at once.
pub const OPEN_STOCKTAKES_MAX: u32 = 50;

/// A stocktake as stored.
struct StocktakeRow {
    scope_location: String,
    started_at_us: i64,
    closed_at_us: Option<i64>,
}

impl Workstation {
    pub(super) fn start_stocktake(
        &mut self,
        actor: &str,
        location: &str,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        let scope_location = optional_location(location)?;
        let stocktake_id = StocktakeId::new_v7();
        self.store.write(|w| {
            w.append(
                actor,
                now,
                EventBody::StocktakeStarted {
                    stocktake_id,
                    scope_location: scope_location.clone(),
                },
            )?;
            Ok::<_, CoreError>(())
        })?;
        Ok(json!({ "stocktake_id": stocktake_id, "scope_location": scope_location }))
    }

    /// Records a batch of barcodes scanned on one shelf. Unknown barcodes are recorded
    /// and named in the answer, never refused: they are what the stocktake is for.
    pub(super) fn stocktake_scan(
        &mut self,
        actor: &str,
        stocktake_id: StocktakeId,
        location: &str,
        barcodes: Vec<String>,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        if barcodes.is_empty() {
            return Err(CoreError::invalid(
                "barcodes",
                Refusal::Empty,
                "no barcodes scanned",
            ));
        }
        if barcodes.len() > STOCKTAKE_BATCH_MAX {
            return Err(CoreError::invalid(
                "barcodes",
                Refusal::TooMany,
                "too many barcodes at once",
            )
            .with("max", STOCKTAKE_BATCH_MAX));
        }
        let location = optional_location(location)?;
        let barcodes = barcodes
            .iter()
            .map(|b| check_title("barcode", b, BARCODE_LEN_MAX_CHARS))
            .collect::<CoreResult<Vec<_>>>()?;
        self.store.write(|w| {
            open_stocktake(w.conn(), stocktake_id)?;
            let mut beeps = Vec::with_capacity(barcodes.len());
            for barcode in &barcodes {
                beeps.push(beep(w.conn(), barcode, &location)?);
            }
            w.append(
                actor,
                now,
                EventBody::StocktakeScanned {
                    stocktake_id,
                    barcodes: barcodes.clone(),
                    location: location.clone(),
                },
            )?;
            Ok(json!({ "stocktake_id": stocktake_id, "location": location, "scans": beeps }))
        })
    }

    /// Missing, misplaced, anomalous and unknown copies, as of now.
    pub(super) fn stocktake_report(&self, stocktake_id: StocktakeId) -> CoreResult<Value> {
        let conn = self.store.conn();
        let row = stocktake_row(conn, stocktake_id)?
            .ok_or_else(|| CoreError::not_found(format!("stocktake {stocktake_id}")))?;
        // The whole catalogue: a school library's copies are tens of thousands at most.
        let mut st = conn.prepare_cached(
            "SELECT c.barcode, coalesce(t.title, ''), c.location, c.state
             FROM library_copies c LEFT JOIN library_titles t ON t.title_id = c.title_id",
        )?;
        let copies = st
            .query_map([], |r| {
                Ok(CatalogueCopy {
                    barcode: r.get(0)?,
                    title: r.get(1)?,
                    location: r.get(2)?,
                    state: CopyState::parse(&r.get::<_, String>(3)?)
                        .unwrap_or(CopyState::WrittenOff),
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut st = conn.prepare_cached(
            "SELECT barcode, location FROM stocktake_scans WHERE stocktake_id = ?1",
        )?;
        let scans = st
            .query_map([stocktake_id.to_string()], |r| {
                Ok(Scan {
                    barcode: r.get(0)?,
                    location: r.get(1)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let found = report(&row.scope_location, &copies, &scans);
        Ok(json!({
            "stocktake_id": stocktake_id,
            "scope_location": row.scope_location,
            "started_at": from_micros(row.started_at_us),
            "closed_at": row.closed_at_us.map(from_micros),
            "report": found,
        }))
    }

    pub(super) fn close_stocktake(
        &mut self,
        actor: &str,
        stocktake_id: StocktakeId,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        self.store.write(|w| {
            open_stocktake(w.conn(), stocktake_id)?;
            w.append(actor, now, EventBody::StocktakeClosed { stocktake_id })?;
            Ok::<_, CoreError>(())
        })?;
        Ok(json!({ "stocktake_id": stocktake_id, "closed_at": now }))
    }

    /// Stocktakes not closed yet, newest first, with how many barcodes each has.
    pub(super) fn open_stocktakes(&self) -> CoreResult<Value> {
        let mut st = self.store.conn().prepare_cached(
            "SELECT s.stocktake_id, s.scope_location, s.started_at_us,
                    (SELECT count(*) FROM stocktake_scans x WHERE x.stocktake_id = s.stocktake_id)
             FROM stocktakes s WHERE s.closed_at_us IS NULL
             ORDER BY s.started_at_us DESC, s.stocktake_id LIMIT ?1",
        )?;
        let rows = st
            .query_map([OPEN_STOCKTAKES_MAX], |r| {
                Ok(json!({
                    "stocktake_id": parse_col::<StocktakeId>(r, 0)?,
                    "scope_location": r.get::<_, String>(1)?,
                    "started_at": from_micros(r.get(2)?),
                    "scanned": r.get::<_, i64>(3)?,
                }))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(json!({ "stocktakes": rows }))
    }
}

fn optional_location(location: &str) -> CoreResult<String> {
    if location.trim().is_empty() {
        Ok(String::new())
    } else {
        check_title("location", location, LOCATION_LEN_MAX_CHARS)
    }
}

fn stocktake_row(conn: &Connection, stocktake_id: StocktakeId) -> CoreResult<Option<StocktakeRow>> {
    Ok(conn
        .query_row(
            "SELECT scope_location, started_at_us, closed_at_us FROM stocktakes WHERE stocktake_id = ?1",
            [stocktake_id.to_string()],
            |r| {
                Ok(StocktakeRow {
                    scope_location: r.get(0)?,
                    started_at_us: r.get(1)?,
                    closed_at_us: r.get(2)?,
                })
            },
        )
        .optional()?)
}

/// The stocktake, refused when unknown or closed.
fn open_stocktake(conn: &Connection, stocktake_id: StocktakeId) -> CoreResult<StocktakeRow> {
    let row = stocktake_row(conn, stocktake_id)?
        .ok_or_else(|| CoreError::not_found(format!("stocktake {stocktake_id}")))?;
    if let Some(closed) = row.closed_at_us {
        return Err(
            CoreError::conflict(Refusal::StocktakeClosed, "the stocktake is closed")
                .with("closed_at", from_micros(closed).to_rfc3339()),
        );
    }
    Ok(row)
}

/// What one scanned barcode is, for the scanner's beep (`judge`), with the catalogue's
/// title, shelf and state of the copy.
fn beep(conn: &Connection, barcode: &str, found_at: &str) -> CoreResult<Value> {
    let copy = conn
        .query_row(
            "SELECT coalesce(t.title, ''), c.location, c.state
             FROM library_copies c LEFT JOIN library_titles t ON t.title_id = c.title_id
             WHERE c.barcode = ?1",
            params![barcode],
            |r| {
                Ok(CatalogueCopy {
                    barcode: barcode.to_owned(),
                    title: r.get(0)?,
                    location: r.get(1)?,
                    state: CopyState::parse(&r.get::<_, String>(2)?)
                        .unwrap_or(CopyState::WrittenOff),
                })
            },
        )
        .optional()?;
    let verdict = judge(copy.as_ref(), found_at);
    Ok(match copy {
        None => json!({ "barcode": barcode, "verdict": verdict }),
        Some(c) => json!({
            "barcode": barcode, "verdict": verdict, "title": c.title, "location": c.location,
            "state": c.state,
        }),
    })
}
