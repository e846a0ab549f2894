//! The journal as the admin and the director see it: its hash chain checked end to end,
//! and its events page by page, newest first.

use super::{Workstation, JOURNAL_PAGE_MAX};
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
                "payload": serde_json::from_str::<Value>(&r.get::<_, String>(6)?).unwrap_or(Value::Null),
            }))
        })?;
        Ok(Value::Array(rows.collect::<Result<_, _>>()?))
    }
}
