//! The workstation's commands about the central server: where it stands, the conflicts
//! settled, enrolling with a one-time code, and going back to standalone.

use super::Workstation;
use crate::error::{CoreError, CoreResult, Refusal};
use crate::sync::{self, http, Enrolment, SyncError};
use chrono::{DateTime, Utc};
use schoolcard_proto::sync::EnrolRequest;
use serde_json::{json, Value};
use std::time::Duration;

/// The most conflicts one page lists.
const CONFLICTS_MAX: u32 = 500;

impl Workstation {
    pub(super) fn sync_status(&self) -> CoreResult<Value> {
        let status = sync::status(self.store.conn(), self.store.device())?;
        Ok(serde_json::to_value(status).expect("the sync status serializes"))
    }

    pub(super) fn sync_conflicts(&self, limit: Option<u32>) -> CoreResult<Value> {
        let limit = limit.unwrap_or(100).min(CONFLICTS_MAX);
        let list = sync::conflicts(self.store.conn(), limit)?;
        Ok(json!({ "conflicts": list }))
    }

    /// Exchanges `code` for this workstation's credential at `server_url` and keeps it.
    /// The shell wakes the sync worker afterwards.
    pub(super) fn connect_server(
        &mut self,
        server_url: &str,
        code: &str,
        name: &str,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        let url = server_url.trim().trim_end_matches('/');
        let scheme_ok = url.starts_with("https://") || url.starts_with("http://");
        if !scheme_ok || url.len() < "http://x".len() || url.contains(char::is_whitespace) {
            return Err(CoreError::invalid(
                "server_url",
                Refusal::BadServerUrl,
                "not an http(s) address",
            )
            .with("value", server_url));
        }
        let code = code.trim();
        if code.is_empty() {
            return Err(
                CoreError::invalid("code", Refusal::Empty, "the code is blank")
                    .with("field", "code"),
            );
        }
        let request = EnrolRequest {
            code: code.to_owned(),
            device_id: self.store.device().as_str().to_owned(),
            name: name.trim().to_owned(),
            app_version: env!("CARGO_PKG_VERSION").to_owned(),
        };
        let timeouts = http::Timeouts {
            call: Duration::from_secs(15),
            ..http::Timeouts::default()
        };
        let answer = http::enrol(url, &request, timeouts).map_err(|e| match e {
            SyncError::Offline(detail) => CoreError::conflict(
                Refusal::ServerUnreachable,
                format!("{url} cannot be reached"),
            )
            .with("url", url)
            .with("detail", detail),
            other => CoreError::conflict(Refusal::ServerRefused, "the server refused").with(
                "detail",
                match other {
                    SyncError::Refused { message, .. } => message,
                    e => e.to_string(),
                },
            ),
        })?;
        let enrolment = Enrolment {
            server_url: url.to_owned(),
            school_id: answer.school_id,
            school_name: answer.school_name,
            enrolled_at: now,
        };
        self.store
            .write(|w| sync::save_enrolment(w, &enrolment, &answer.secret))?;
        tracing::info!(url, school = %enrolment.school_name, "enrolled with the server");
        self.sync_status()
    }

    /// Forgets the server: the workstation goes on standalone with everything it holds.
    pub(super) fn disconnect_server(&mut self) -> CoreResult<Value> {
        self.store.write(|w| -> CoreResult<()> {
            w.conn().execute("DELETE FROM sync_config", [])?;
            w.conn()
                .execute("DELETE FROM local_secrets WHERE name = 'sync.secret'", [])?;
            Ok(())
        })?;
        self.sync_status()
    }
}
