//! «Резервные копии»: the admin's backups of this workstation's database — the list, a
//! copy made now, what a backup holds, and a restore while the app runs
//! (`crate::backup` does the copying).

use super::Workstation;
use crate::backup::{self, BackupReason};
use crate::error::{CoreError, CoreResult, Refusal};
use chrono::{DateTime, Utc};
use rusqlite::OptionalExtension;
use serde_json::{json, Value};

impl Workstation {
    pub(super) fn list_backups(&self) -> CoreResult<Value> {
        let dir = backup::backup_dir(self.store.path());
        let backups = backup::list_backups(&dir)?;
        Ok(json!({ "dir": dir, "backups": backups }))
    }

    pub(super) fn make_manual_backup(&self, now: DateTime<Utc>) -> CoreResult<Value> {
        let info = backup::make_backup(
            self.store.conn(),
            self.store.path(),
            BackupReason::Manual,
            now,
        )?;
        Ok(serde_json::to_value(info).expect("backup infos serialize"))
    }

    pub(super) fn preview_backup(&self, file: &str) -> CoreResult<Value> {
        let dir = backup::backup_dir(self.store.path());
        let preview = backup::preview(&backup::backup_path(&dir, file)?)?;
        Ok(serde_json::to_value(preview).expect("previews serialize"))
    }

    /// Copies the backup into the open database through the workstation's own connection
    /// (so it stays valid, and every other connection sees the restored content), migrates
    /// it if older, then journals `backup_restored`. The session stays only if its
    /// account is in the restored database.
    pub(super) fn restore_backup(
        &mut self,
        actor: &str,
        file: &str,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        let db_path = self.store.path().to_owned();
        let path = backup::backup_path(&backup::backup_dir(&db_path), file)?;
        // Restoring under a server's feet would give new events numbers the server holds
        // already: an enrolled post gets its data back from the server instead.
        let enrolled: Option<i64> = self
            .store
            .conn()
            .query_row("SELECT 1 FROM sync_config", [], |r| r.get(0))
            .optional()?;
        if enrolled.is_some() {
            return Err(CoreError::invalid(
                "file",
                Refusal::RestoreWhileEnrolled,
                "this workstation is enrolled with a server",
            )
            .with("file", file));
        }
        let outcome = backup::restore_into(self.store.conn_mut(), &db_path, &path, now)?;
        self.store.reload_after_restore()?;
        if let Some(session) = &self.session {
            let still_there: Option<i64> = self
                .store
                .conn()
                .query_row(
                    "SELECT 1 FROM staff_accounts WHERE person_id = ?1",
                    [session.person_id.to_string()],
                    |r| r.get(0),
                )
                .optional()?;
            if still_there.is_none() {
                self.session = None;
            }
        }
        backup::journal_restore(&mut self.store, actor, &outcome, now)?;
        Ok(json!({
            "restored": outcome.restored,
            "saved_before": outcome.saved_before,
            "signed_out": self.session.is_none(),
        }))
    }
}
