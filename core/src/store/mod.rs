//! The workstation's one SQLite file: opening it safely, migrating it forward, and the
//! write path through which every event is appended.

mod migrations;

pub use migrations::{MIGRATIONS, PROJECTION_TABLES};

use crate::error::StoreError;
use crate::journal::{ChainHead, DeviceId, Event, GENESIS_HASH};
use crate::projection;
use crate::time::to_micros;
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Marks the file as ours (`PRAGMA application_id`): "SCRD".
pub const APPLICATION_ID: i64 = 0x5343_5244;

/// The schema this binary writes. A file with a higher `user_version` is refused.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// How long a writer waits for another writer (the app and a backup, a second process)
/// before giving up. Long enough to ride out a group commit, short enough that a stuck
/// peer surfaces as an error the user sees rather than a frozen screen.
pub const BUSY_TIMEOUT_MS: u64 = 5_000;

pub struct Store {
    conn: Connection,
    device: DeviceId,
    path: PathBuf,
}

impl Store {
    /// Opens (creating if absent) and migrates the database at `path`.
    ///
    /// A file written by a newer binary, or a file that is not ours, is refused before
    /// anything is written to it.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(Duration::from_millis(BUSY_TIMEOUT_MS))?;

        let found_version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let found_app: i64 = conn.query_row("PRAGMA application_id", [], |r| r.get(0))?;
        let table_count: i64 =
            conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?;
        if found_app != APPLICATION_ID && (found_app != 0 || table_count > 0) {
            return Err(StoreError::NotOurs {
                path: path.display().to_string(),
                found: found_app,
            });
        }
        if found_version > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                found: found_version,
                supported: SCHEMA_VERSION,
            });
        }

        // WAL lets readers (reports, the UI) run beside the writer; FULL makes every
        // commit durable on power loss — a confirmed pass or a sale is never lost.
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(
                mode,
                "SQLite refused WAL mode; continuing in the mode it chose"
            );
        }
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", true)?;

        let mut conn = conn;
        // Before migrating a file that holds data, keep it as it was (a backup named
        // `… before-migration-to-vN.sqlite`), so an update that goes wrong can be undone.
        // A fresh file needs none. No backup, no migration: its error is returned.
        if found_version > 0 && found_version < SCHEMA_VERSION {
            backup_before_migration(&conn, path)?;
        }
        migrate(&mut conn, found_version)?;
        let device = ensure_device(&mut conn)?;
        Ok(Store {
            conn,
            device,
            path: path.to_owned(),
        })
    }

    pub fn device(&self) -> &DeviceId {
        &self.device
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The connection, for reads. Writes go through [`Store::write`].
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// After `crate::backup::restore_into` replaced the file's content under this
    /// connection: migrates it if the backup is older and re-reads the device id.
    pub(crate) fn reload_after_restore(&mut self) -> Result<(), StoreError> {
        let found_version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if found_version > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                found: found_version,
                supported: SCHEMA_VERSION,
            });
        }
        migrate(&mut self.conn, found_version)?;
        self.device = ensure_device(&mut self.conn)?;
        Ok(())
    }

    /// The connection itself, for copying a backup into the open file.
    pub(crate) fn conn_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction and commits if it returns `Ok`.
    /// Every event appended inside lands together (a group commit) or not at all.
    pub fn write<T, E>(&mut self, f: impl FnOnce(&mut Writer<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(StoreError::from)?;
        let head = read_head(&tx).map_err(StoreError::from)?;
        let mut writer = Writer {
            tx,
            device: &self.device,
            head,
            next_origin_seq: None,
        };
        let value = f(&mut writer)?;
        let Writer { tx, head, .. } = writer;
        write_head(&tx, &head).map_err(StoreError::from)?;
        tx.commit().map_err(StoreError::from)?;
        Ok(value)
    }

    /// Empties every projection and replays the whole journal into it, in one transaction.
    pub fn rebuild_projections(&mut self) -> Result<u64, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        for table in PROJECTION_TABLES {
            tx.execute(&format!("DELETE FROM {table}"), [])?;
        }
        let mut count = 0u64;
        {
            // Rows set aside on arrival (superseded or unreadable) stay out, as they did
            // when they came.
            let mut stmt = tx.prepare(&format!(
                "SELECT {} FROM journal WHERE seq NOT IN (SELECT seq FROM sync_skipped) ORDER BY seq",
                crate::journal::EVENT_COLUMNS
            ))?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                let stored = crate::journal::StoredEvent::from_row(row)?;
                let event = stored.decode()?;
                projection::apply(&tx, &event)?;
                count += 1;
            }
        }
        tx.commit()?;
        Ok(count)
    }
}

/// The open write transaction. Appends events and keeps projections in step.
pub struct Writer<'s> {
    tx: rusqlite::Transaction<'s>,
    device: &'s DeviceId,
    head: ChainHead,
    next_origin_seq: Option<u64>,
}

impl Writer<'_> {
    /// Reads inside the transaction (they see this transaction's own appends).
    pub fn conn(&self) -> &Connection {
        &self.tx
    }

    pub fn device(&self) -> &DeviceId {
        self.device
    }

    /// Appends an event authored on this device and applies it to the projections.
    pub fn append(
        &mut self,
        actor: &str,
        occurred_at: chrono::DateTime<chrono::Utc>,
        body: crate::events::EventBody,
    ) -> Result<Event, StoreError> {
        let origin_seq = match self.next_origin_seq {
            Some(seq) => seq,
            None => {
                let max: Option<i64> = self.tx.query_row(
                    "SELECT max(origin_seq) FROM journal WHERE origin = ?1",
                    [self.device.as_str()],
                    |r| r.get(0),
                )?;
                max.map_or(1, |m| m as u64 + 1)
            }
        };
        let event = Event {
            id: uuid::Uuid::now_v7(),
            origin: self.device.clone(),
            origin_seq,
            occurred_at,
            actor: actor.to_owned(),
            body,
        };
        self.head = crate::journal::insert(&self.tx, &self.head, &event)?;
        projection::apply(&self.tx, &event)?;
        if let Some(key) = crate::sync::master_key(&event.body) {
            crate::sync::record_own_key(&self.tx, &key, origin_seq)?;
        }
        self.next_origin_seq = Some(origin_seq + 1);
        Ok(event)
    }

    /// Inserts an event as it came from elsewhere (its own origin and number) after the
    /// chain head; returns its local seq. Projections are the caller's.
    pub(crate) fn insert_raw(
        &mut self,
        raw: &crate::journal::RawEvent<'_>,
    ) -> Result<i64, StoreError> {
        self.head = crate::journal::insert_parts(&self.tx, &self.head, raw)?;
        Ok(self.head.seq)
    }

    /// The local secret `name`, made by `make` and stored the first time it is asked for.
    /// Local secrets (the OSDP site key) never enter the journal.
    pub fn local_secret(
        &mut self,
        name: &str,
        created_at: chrono::DateTime<chrono::Utc>,
        make: impl FnOnce() -> Vec<u8>,
    ) -> Result<Vec<u8>, StoreError> {
        use rusqlite::OptionalExtension;
        let stored: Option<Vec<u8>> = self
            .tx
            .query_row(
                "SELECT value FROM local_secrets WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(value) = stored {
            return Ok(value);
        }
        let value = make();
        self.tx.execute(
            "INSERT INTO local_secrets (name, value, created_at_us) VALUES (?1, ?2, ?3)",
            rusqlite::params![name, value, crate::time::to_micros(created_at)],
        )?;
        Ok(value)
    }

    /// Stores content-addressed photo bytes; returns the SHA-256 hex they are filed under.
    pub fn put_photo(&mut self, mime: &str, bytes: &[u8]) -> Result<String, StoreError> {
        use sha2::Digest;
        let sha = hex::encode(sha2::Sha256::digest(bytes));
        self.tx.execute(
            "INSERT OR IGNORE INTO photos (sha256, mime, bytes) VALUES (?1, ?2, ?3)",
            rusqlite::params![sha, mime, bytes],
        )?;
        Ok(sha)
    }
}

fn migrate(conn: &mut Connection, found_version: i64) -> Result<(), StoreError> {
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(found_version as usize) {
        let version = index as i64 + 1;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Another process may have migrated while we waited for the write lock.
        let now_version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if now_version >= version {
            tx.commit()?;
            continue;
        }
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "application_id", APPLICATION_ID)?;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
        tracing::info!(version, "database migrated");
    }
    Ok(())
}

/// The `before-migration-to-v{SCHEMA_VERSION}` backup, named by the clock: `Store::open`
/// is the shell's door, not a rule, and a migration happens once per update.
fn backup_before_migration(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let reason = crate::backup::BackupReason::BeforeMigration {
        to_version: SCHEMA_VERSION,
    };
    crate::backup::make_backup(conn, path, reason, chrono::Utc::now()).map_err(|e| match e {
        crate::CoreError::Store(e) => e,
        other => StoreError::Io(std::io::Error::other(format!(
            "the backup before the migration failed: {other}"
        ))),
    })?;
    Ok(())
}

fn ensure_device(conn: &mut Connection) -> Result<DeviceId, StoreError> {
    let existing: Option<String> = conn
        .query_row("SELECT device_id FROM device", [], |r| r.get(0))
        .optional()?;
    if let Some(id) = existing {
        return Ok(DeviceId::new(id));
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let id = format!("ws-{}", uuid::Uuid::now_v7().simple());
    tx.execute(
        "INSERT OR IGNORE INTO device (singleton, device_id, created_at_us) VALUES (1, ?1, ?2)",
        rusqlite::params![id, to_micros(chrono::Utc::now())],
    )?;
    let id: String = tx.query_row("SELECT device_id FROM device", [], |r| r.get(0))?;
    tx.commit()?;
    Ok(DeviceId::new(id))
}

fn read_head(conn: &Connection) -> rusqlite::Result<ChainHead> {
    Ok(conn
        .query_row("SELECT seq, hash FROM journal_head", [], |r| {
            let hash: Vec<u8> = r.get(1)?;
            Ok(ChainHead {
                seq: r.get(0)?,
                hash: hash.try_into().unwrap_or(GENESIS_HASH),
            })
        })
        .optional()?
        .unwrap_or(ChainHead {
            seq: 0,
            hash: GENESIS_HASH,
        }))
}

fn write_head(conn: &Connection, head: &ChainHead) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO journal_head (singleton, seq, hash) VALUES (1, ?1, ?2)
         ON CONFLICT (singleton) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
        rusqlite::params![head.seq, head.hash.as_slice()],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_newer_database_is_refused_and_left_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ws.sqlite");
        drop(Store::open(&path).unwrap());
        {
            let conn = Connection::open(&path).unwrap();
            conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
                .unwrap();
        }
        let before = std::fs::read(&path).unwrap();
        let err = Store::open(&path)
            .err()
            .expect("newer schema must be refused");
        assert!(
            matches!(err, StoreError::NewerSchema { found, supported } if found == SCHEMA_VERSION + 1 && supported == SCHEMA_VERSION)
        );
        assert!(err.to_string().contains("newer version"));
        assert_eq!(
            std::fs::read(&path).unwrap(),
            before,
            "the refused file must not change"
        );
    }

    #[test]
    fn a_foreign_database_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("other.sqlite");
        Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE t (x)")
            .unwrap();
        assert!(matches!(
            Store::open(&path),
            Err(StoreError::NotOurs { .. })
        ));
    }

    #[test]
    fn opening_sets_the_durability_pragmas_and_keeps_the_device_id() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ws.sqlite");
        let store = Store::open(&path).unwrap();
        let conn = store.conn();
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        let sync: i64 = conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .unwrap();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!((mode.as_str(), sync, version), ("wal", 2, SCHEMA_VERSION));
        let device = store.device().clone();
        drop(store);
        assert_eq!(Store::open(&path).unwrap().device(), &device);
    }
}
