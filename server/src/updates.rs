//! Workstation updates: the server hands out the newest signed build a release left in
//! its updates folder (`updates_dir`): the release's `latest.json` (Tauri's static
//! manifest, see `schoolcard_proto::updates::ReleaseManifest`) beside its packages.
//!
//! `GET /updates/{target}/{current_version}` — `204` when `current_version` is the newest
//! or no release is there, an `UpdateOffer` when a newer one is; `GET
//! /updates/files/{name}` — a package from the folder. The server never signs anything:
//! the release's signature travels as it is and the workstation checks it with the key
//! it carries built in, so a server (or whoever sits between) cannot slip in a build.

use crate::http::AppState;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use schoolcard_proto::updates::{ReleaseManifest, UpdateOffer};

/// The manifest's name in the updates folder.
pub const MANIFEST_FILE: &str = "latest.json";
/// The longest manifest read, in bytes (a release's is well under 4 KiB).
const MANIFEST_BYTES_MAX: u64 = 64 * 1024;

pub async fn offer_route(
    State(state): State<AppState>,
    Path((target, current)): Path<(String, String)>,
) -> Response {
    let Some(folder) = state.updates_dir.clone() else {
        return StatusCode::NO_CONTENT.into_response();
    };
    let Ok(current) = semver::Version::parse(current.trim_start_matches('v')) else {
        return (
            StatusCode::BAD_REQUEST,
            "the current version is not a version",
        )
            .into_response();
    };
    let manifest = match read_manifest(&folder.join(MANIFEST_FILE)).await {
        Ok(Some(manifest)) => manifest,
        Ok(None) => return StatusCode::NO_CONTENT.into_response(),
        Err(message) => {
            tracing::error!(%message, "the updates folder's manifest is unreadable");
            return (StatusCode::SERVICE_UNAVAILABLE, message).into_response();
        }
    };
    let newer = semver::Version::parse(manifest.version.trim_start_matches('v'))
        .is_ok_and(|offered| offered > current);
    match manifest.platforms.get(&target) {
        Some(package) if newer => Json(UpdateOffer {
            version: manifest.version.clone(),
            notes: manifest.notes.clone(),
            pub_date: manifest.pub_date.clone(),
            url: package_url(&state.public_url, &package.url),
            signature: package.signature.clone(),
        })
        .into_response(),
        _ => StatusCode::NO_CONTENT.into_response(),
    }
}

pub async fn file_route(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    let Some(folder) = state.updates_dir.clone() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if !plain_file_name(&name) || name == MANIFEST_FILE {
        return StatusCode::NOT_FOUND.into_response();
    }
    match tokio::fs::File::open(folder.join(&name)).await {
        Ok(file) => {
            let stream = chunks(file);
            (
                [(header::CONTENT_TYPE, "application/octet-stream")],
                Body::from_stream(stream),
            )
                .into_response()
        }
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The file as a stream of chunks, so a 15 MB package is not held in memory per request.
fn chunks(
    file: tokio::fs::File,
) -> impl futures_util::Stream<Item = std::io::Result<Vec<u8>>> + Send {
    use tokio::io::AsyncReadExt;
    /// One read, in bytes.
    const CHUNK_BYTES: usize = 64 * 1024;
    futures_util::stream::unfold(file, move |mut file| async move {
        let mut chunk = vec![0; CHUNK_BYTES];
        match file.read(&mut chunk).await {
            Ok(0) => None,
            Ok(n) => {
                chunk.truncate(n);
                Some((Ok(chunk), file))
            }
            Err(e) => Some((Err(e), file)),
        }
    })
}

/// A name of a file directly in the folder: letters, digits, `.`, `_`, `-`, `+`, not
/// starting with a dot (no `..`, no hidden files, no separators).
fn plain_file_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+'))
}

/// The package's address as the workstation will fetch it: absolute URLs stay; a bare
/// name or a relative path becomes this server's `/updates/files/{name}`.
fn package_url(public_url: &str, url: &str) -> String {
    if url.starts_with("https://") || url.starts_with("http://") {
        return url.to_owned();
    }
    let name = url.rsplit('/').next().unwrap_or_default();
    let path = format!("updates/files/{name}");
    if public_url.is_empty() {
        path
    } else {
        format!("{}/{path}", public_url.trim_end_matches('/'))
    }
}

async fn read_manifest(path: &std::path::Path) -> Result<Option<ReleaseManifest>, String> {
    let metadata = match tokio::fs::metadata(path).await {
        Ok(metadata) => metadata,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    if metadata.len() > MANIFEST_BYTES_MAX {
        return Err(format!(
            "{} is larger than {MANIFEST_BYTES_MAX} bytes",
            path.display()
        ));
    }
    let text = tokio::fs::read_to_string(path)
        .await
        .map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_names_are_served() {
        for good in [
            "schoolcard_0.2.0_amd64.deb",
            "schoolcard_0.2.0_amd64.deb.sig",
        ] {
            assert!(plain_file_name(good), "{good}");
        }
        for bad in [
            "",
            "..",
            ".hidden",
            "../etc/passwd",
            "a/b",
            "a\\b",
            "%2e%2e",
        ] {
            assert!(!plain_file_name(bad), "{bad}");
        }
    }

    #[test]
    fn a_relative_package_is_fetched_from_this_server() {
        assert_eq!(
            package_url("https://city.example.ru/", "schoolcard_0.2.0_amd64.deb"),
            "https://city.example.ru/updates/files/schoolcard_0.2.0_amd64.deb"
        );
        assert_eq!(
            package_url("", "files/schoolcard_0.2.0_amd64.deb"),
            "updates/files/schoolcard_0.2.0_amd64.deb"
        );
        assert_eq!(
            package_url("https://a", "https://cdn.example.ru/p.deb"),
            "https://cdn.example.ru/p.deb"
        );
    }
}
