//! The journal as the admin and the director see it: its hash chain checked end to end,
//! and its events page by page, newest first — with the hashes of passwords and PINs
//! blanked out: a hash on a screen is a hash someone can photograph and attack offline.

use super::{Workstation, JOURNAL_PAGE_MAX, REDACTED};
use crate::error::CoreResult;
use crate::journal::{self, VerifyReport};
use crate::time::from_micros;
use rusqlite::params;
use serde_json::{json, Value};

impl Workstation {
    pub(super) fn verify_journal(&self) -> CoreResult<Value> {
        let report: VerifyReport = journal::verify(self.store.conn())?;
        Ok(
            json!({ "events": report.events, "intact": report.is_intact(), "faults": report.faults }),
        )
    }
}

impl Workstation {
    pub(super) fn journal_page(
        &self,
        before_seq: Option<i64>,
        limit: Option<u32>,
    ) -> CoreResult<Value> {
        let limit = limit.unwrap_or(100).min(JOURNAL_PAGE_MAX);
        let mut stmt = self.store.conn().prepare(
            "SELECT seq, origin, origin_seq, occurred_at_us, actor, kind, payload FROM journal
             WHERE seq < ?1 ORDER BY seq DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![before_seq.unwrap_or(i64::MAX), limit], |r| {
            Ok(json!({
                "seq": r.get::<_, i64>(0)?,
                "origin": r.get::<_, String>(1)?,
                "origin_seq": r.get::<_, i64>(2)?,
                "occurred_at": from_micros(r.get(3)?),
                "actor": r.get::<_, String>(4)?,
                "kind": r.get::<_, String>(5)?,
                "payload": redact(serde_json::from_str::<Value>(&r.get::<_, String>(6)?).unwrap_or(Value::Null)),
            }))
        })?;
        Ok(Value::Array(rows.collect::<Result<_, _>>()?))
    }
}

/// Keys whose values are secrets' hashes: never shown, at any depth of a payload.
const SECRET_KEYS: [&str; 2] = ["password_hash", "pin_hash"];

/// A payload with every secret's hash replaced by [`REDACTED`]. Payloads are a few levels
/// deep at most; the recursion follows the value's own depth.
fn redact(mut payload: Value) -> Value {
    match &mut payload {
        Value::Object(fields) => {
            for (key, value) in fields.iter_mut() {
                *value = if SECRET_KEYS.contains(&key.as_str()) && !value.is_null() {
                    Value::String(REDACTED.to_owned())
                } else {
                    redact(std::mem::take(value))
                };
            }
        }
        Value::Array(items) => {
            for item in items.iter_mut() {
                *item = redact(std::mem::take(item));
            }
        }
        _ => {}
    }
    payload
}
