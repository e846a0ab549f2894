//! Pupils' photos from a folder or a ZIP of files named by the school's pupil id
//! (`P000123.jpg`; `.jpeg`, `.png`, `.webp`; any case; subfolders are searched too).
//!
//! Files are read and checked before any write, outside the store's lock; the photos
//! are then written in batches of bounded size, so a large archive never holds the write
//! lock long enough to stall the entrance. A photo the person already has (same SHA-256)
//! is skipped, so importing the same set again appends nothing.

use super::{Reason, Ticker};
use crate::domain::PersonId;
use crate::error::{CoreError, CoreResult, Refusal};
use crate::events::EventBody;
use crate::store::Store;
use crate::workstation::{cannot_read, sniff_image, Progress, PHOTO_BYTES_MAX};
use chrono::{DateTime, Utc};
use rusqlite::OptionalExtension;
use serde::Serialize;
use sha2::Digest;
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Files (or archive entries) looked at in one import: a city's pupils, with room.
pub const PHOTO_FILES_MAX: usize = 50_000;
/// Bytes read from all photos of one import (a 5 MiB cap per photo stays in force). An
/// archive that declares or inflates to more is refused, whatever its size on disk: a
/// ZIP bomb stops here. 4 GiB is 10,000 photos of 400 KiB.
pub const PHOTO_IMPORT_BYTES_MAX: u64 = 4 * 1024 * 1024 * 1024;
/// Folder depth searched below the chosen folder (and a bound on symlink loops).
pub const PHOTO_FOLDER_DEPTH_MAX: usize = 8;
/// Photo bytes written per transaction: large enough to amortise the commit, small enough
/// that the write lock is held for well under a second.
pub const PHOTO_BATCH_BYTES_MAX: usize = 16 * 1024 * 1024;

const PHOTO_EXTENSIONS: [&str; 4] = ["jpg", "jpeg", "png", "webp"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MatchedPhoto {
    pub file: String,
    pub external_id: String,
    pub person_id: PersonId,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BadPhotoFile {
    pub file: String,
    pub code: Reason,
    pub message: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct PhotoImportOutcome {
    /// Files and archive entries looked at (folders and system files aside).
    pub files: u32,
    /// Photos set (a new or different picture for the pupil).
    pub matched: Vec<MatchedPhoto>,
    /// Photos the pupil already had: nothing written.
    pub unchanged: u32,
    /// File names whose id names no pupil.
    pub unknown_ids: Vec<String>,
    pub bad_files: Vec<BadPhotoFile>,
    /// Journal events appended.
    pub events: u32,
}

/// One candidate file: where it is and what it is called.
struct Entry {
    /// The path inside the folder or archive, with `/` separators (for messages).
    name: String,
    source: EntrySource,
}

enum EntrySource {
    File(PathBuf),
    ZipIndex(usize),
}

struct Pending {
    person_id: PersonId,
    mime: &'static str,
    sha256: String,
    bytes: Vec<u8>,
    matched: MatchedPhoto,
}

/// How much one import may read: [`PHOTO_FILES_MAX`] and [`PHOTO_IMPORT_BYTES_MAX`]
/// (smaller in tests, to show the bounds hold without writing gigabytes).
#[derive(Debug, Clone, Copy)]
pub(super) struct Bounds {
    pub files_max: usize,
    pub bytes_max: u64,
}

/// Sets the photos found in the folder or ZIP at `path`; see the module documentation.
pub fn import_photos(
    store: &mut Store,
    actor: &str,
    now: DateTime<Utc>,
    path: &Path,
    progress: &dyn Fn(Progress),
) -> CoreResult<PhotoImportOutcome> {
    let bounds = Bounds {
        files_max: PHOTO_FILES_MAX,
        bytes_max: PHOTO_IMPORT_BYTES_MAX,
    };
    import_photos_within(store, actor, now, path, progress, bounds)
}

pub(super) fn import_photos_within(
    store: &mut Store,
    actor: &str,
    now: DateTime<Utc>,
    path: &Path,
    progress: &dyn Fn(Progress),
    bounds: Bounds,
) -> CoreResult<PhotoImportOutcome> {
    let cannot = |e: std::io::Error| cannot_read(path, e);
    let meta = std::fs::metadata(path).map_err(cannot)?;
    let mut archive = None;
    let entries = if meta.is_dir() {
        folder_entries(path, bounds)?
    } else {
        let file = std::fs::File::open(path).map_err(cannot)?;
        let zip = zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(|e| {
            CoreError::invalid(
                "path",
                Refusal::NotFolderOrZip,
                format!(
                    "{} is neither a folder nor a ZIP archive: {e}",
                    path.display()
                ),
            )
            .with("path", path.display())
        })?;
        let mut zip = zip;
        let entries = zip_entries(&mut zip, bounds)?;
        archive = Some(zip);
        entries
    };

    let pupils = pupils_by_id(store.conn())?;
    let mut outcome = PhotoImportOutcome::default();
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut pending: Vec<Pending> = Vec::new();
    let mut pending_bytes = 0usize;
    let mut read_bytes: u64 = 0;
    let ticker = Ticker::new("photos", entries.len() as u64, progress);
    for (done, entry) in entries.iter().enumerate() {
        ticker.tick(done as u64 + 1);
        let file_name = entry.name.rsplit('/').next().unwrap_or(&entry.name);
        if is_system_file(&entry.name) {
            continue;
        }
        outcome.files += 1;
        let bad = |code, message: String| BadPhotoFile {
            file: entry.name.clone(),
            code,
            message,
        };
        let Some(id) = photo_id(file_name) else {
            outcome.bad_files.push(bad(
                Reason::NotAPhoto,
                "not a photo name: name files <pupil id>.jpg, .jpeg, .png or .webp".into(),
            ));
            continue;
        };
        let Some((person_id, current_sha)) = pupils.get(&id.to_uppercase()) else {
            outcome.unknown_ids.push(entry.name.clone());
            continue;
        };
        if let Some(first) = seen.get(&id.to_uppercase()) {
            outcome.bad_files.push(bad(
                Reason::DuplicatePhoto,
                format!("{first} is already this pupil's photo"),
            ));
            continue;
        }
        seen.insert(id.to_uppercase(), entry.name.clone());

        let bytes = match read_entry(entry, archive.as_mut()) {
            Ok(bytes) => bytes,
            Err(message) => {
                outcome.bad_files.push(bad(Reason::Unreadable, message));
                continue;
            }
        };
        read_bytes += bytes.len() as u64;
        if read_bytes > bounds.bytes_max {
            return Err(too_many_bytes(bounds));
        }
        if bytes.len() > PHOTO_BYTES_MAX {
            outcome.bad_files.push(bad(
                Reason::TooLarge,
                format!("larger than {} MiB", PHOTO_BYTES_MAX / 1024 / 1024),
            ));
            continue;
        }
        let mime = match sniff_image(&bytes) {
            Some(mime @ ("image/jpeg" | "image/png" | "image/webp")) => mime,
            _ => {
                outcome.bad_files.push(bad(
                    Reason::BadImage,
                    "not a JPEG, PNG or WebP picture".into(),
                ));
                continue;
            }
        };
        let sha256 = hex::encode(sha2::Sha256::digest(&bytes));
        if current_sha.as_deref() == Some(sha256.as_str()) {
            outcome.unchanged += 1;
            continue;
        }
        pending_bytes += bytes.len();
        let matched = MatchedPhoto {
            file: entry.name.clone(),
            external_id: id.to_owned(),
            person_id: *person_id,
        };
        pending.push(Pending {
            person_id: *person_id,
            mime,
            sha256,
            bytes,
            matched,
        });
        if pending_bytes >= PHOTO_BATCH_BYTES_MAX {
            write_batch(
                store,
                actor,
                now,
                std::mem::take(&mut pending),
                &mut outcome,
            )?;
            pending_bytes = 0;
        }
    }
    write_batch(store, actor, now, pending, &mut outcome)?;
    Ok(outcome)
}

/// Writes one batch in one transaction. The current photo is read again inside it, so a
/// photo set meanwhile (or by an earlier batch) is not set twice.
fn write_batch(
    store: &mut Store,
    actor: &str,
    now: DateTime<Utc>,
    batch: Vec<Pending>,
    outcome: &mut PhotoImportOutcome,
) -> CoreResult<()> {
    if batch.is_empty() {
        return Ok(());
    }
    store.write(|w| {
        for p in batch {
            let current: Option<String> = w
                .conn()
                .query_row(
                    "SELECT photo_sha256 FROM persons WHERE id = ?1",
                    [p.person_id.to_string()],
                    |r| r.get(0),
                )
                .optional()?
                .flatten();
            if current.as_deref() == Some(p.sha256.as_str()) {
                outcome.unchanged += 1;
                continue;
            }
            let sha256 = w.put_photo(p.mime, &p.bytes)?;
            w.append(
                actor,
                now,
                EventBody::PhotoSet {
                    person_id: p.person_id,
                    sha256,
                    mime: p.mime.to_owned(),
                },
            )?;
            outcome.events += 1;
            outcome.matched.push(p.matched);
        }
        Ok::<_, CoreError>(())
    })
}

/// Pupils by upper-cased external id → (person, current photo's SHA-256).
fn pupils_by_id(
    conn: &rusqlite::Connection,
) -> CoreResult<HashMap<String, (PersonId, Option<String>)>> {
    let mut stmt = conn.prepare(
        "SELECT id, external_id, photo_sha256 FROM persons WHERE kind = 'pupil' AND external_id IS NOT NULL",
    )?;
    let mut rows = stmt.query([])?;
    let mut pupils = HashMap::new();
    while let Some(r) = rows.next()? {
        let Ok(id) = r.get::<_, String>(0)?.parse::<PersonId>() else {
            continue;
        };
        let external_id: String = r.get(1)?;
        pupils.insert(external_id.to_uppercase(), (id, r.get(2)?));
    }
    Ok(pupils)
}

/// `P000123.JPG` → `P000123`; `None` for any other extension or an empty stem.
fn photo_id(file_name: &str) -> Option<&str> {
    let (stem, ext) = file_name.rsplit_once('.')?;
    let stem = stem.trim();
    (PHOTO_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()) && !stem.is_empty())
        .then_some(stem)
}

/// Files that archivers and file managers leave beside photos: never reported.
fn is_system_file(name: &str) -> bool {
    let file_name = name.rsplit('/').next().unwrap_or(name);
    name.split('/').any(|part| part == "__MACOSX")
        || file_name.starts_with('.')
        || file_name.eq_ignore_ascii_case("thumbs.db")
        || file_name.eq_ignore_ascii_case("desktop.ini")
}

fn too_many_files(bounds: Bounds) -> CoreError {
    CoreError::invalid(
        "path",
        Refusal::TooManyFiles,
        format!(
            "more than {} files; import the photos in parts",
            bounds.files_max
        ),
    )
    .with("max", bounds.files_max)
}

fn folder_entries(root: &Path, bounds: Bounds) -> CoreResult<Vec<Entry>> {
    let mut entries = Vec::new();
    let mut stack: Vec<(PathBuf, usize)> = vec![(root.to_owned(), 0)];
    while let Some((dir, depth)) = stack.pop() {
        let listing = std::fs::read_dir(&dir).map_err(|e| cannot_read(&dir, e))?;
        for item in listing {
            let item = item.map_err(|e| cannot_read(&dir, e))?;
            let path = item.path();
            let is_dir = std::fs::metadata(&path)
                .map(|m| m.is_dir())
                .unwrap_or(false);
            if is_dir {
                if depth < PHOTO_FOLDER_DEPTH_MAX {
                    stack.push((path, depth + 1));
                }
                continue;
            }
            if entries.len() == bounds.files_max {
                return Err(too_many_files(bounds));
            }
            let name = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            entries.push(Entry {
                name,
                source: EntrySource::File(path),
            });
        }
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(entries)
}

fn zip_entries<R: std::io::Read + std::io::Seek>(
    zip: &mut zip::ZipArchive<R>,
    bounds: Bounds,
) -> CoreResult<Vec<Entry>> {
    if zip.len() > bounds.files_max {
        return Err(too_many_files(bounds));
    }
    let damaged = |e: zip::result::ZipError| {
        CoreError::invalid(
            "path",
            Refusal::DamagedZip,
            format!("damaged ZIP archive: {e}"),
        )
    };
    let mut entries = Vec::new();
    let mut declared_bytes: u64 = 0;
    for i in 0..zip.len() {
        let file = zip.by_index_raw(i).map_err(damaged)?;
        if file.is_dir() {
            continue;
        }
        declared_bytes = declared_bytes.saturating_add(file.size());
        entries.push(Entry {
            name: file.name().to_owned(),
            source: EntrySource::ZipIndex(i),
        });
    }
    // What the entries claim is checked first; what they really inflate to is bounded
    // again while reading (a header may lie).
    if declared_bytes > bounds.bytes_max {
        return Err(too_many_bytes(bounds));
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(entries)
}

fn too_many_bytes(bounds: Bounds) -> CoreError {
    CoreError::invalid(
        "path",
        Refusal::TooManyBytes,
        format!(
            "the photos add up to more than {} bytes; import them in parts",
            bounds.bytes_max
        ),
    )
    .with("max_mib", bounds.bytes_max / 1024 / 1024)
}

/// Reads at most one byte past the photo limit, whatever size the entry declares.
fn read_entry<R: std::io::Read + std::io::Seek>(
    entry: &Entry,
    archive: Option<&mut zip::ZipArchive<R>>,
) -> Result<Vec<u8>, String> {
    let limit = PHOTO_BYTES_MAX as u64 + 1;
    let mut bytes = Vec::new();
    match (&entry.source, archive) {
        (EntrySource::File(path), _) => {
            let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
            file.take(limit)
                .read_to_end(&mut bytes)
                .map_err(|e| e.to_string())?;
        }
        (EntrySource::ZipIndex(i), Some(zip)) => {
            let file = zip.by_index(*i).map_err(|e| e.to_string())?;
            file.take(limit)
                .read_to_end(&mut bytes)
                .map_err(|e| e.to_string())?;
        }
        (EntrySource::ZipIndex(_), None) => return Err("no archive".into()),
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn photo_names_give_ids() {
        for (name, id) in [
            ("P000123.jpg", Some("P000123")),
            ("p000123.JPEG", Some("p000123")),
            ("P1.Png", Some("P1")),
            ("P1.webp", Some("P1")),
            ("P1.gif", None),
            ("P1", None),
            (".jpg", None),
        ] {
            assert_eq!(photo_id(name), id, "{name}");
        }
        assert!(is_system_file("__MACOSX/photos/._P1.jpg"));
        assert!(is_system_file("photos/Thumbs.db"));
        assert!(!is_system_file("photos/P1.jpg"));
    }
}
