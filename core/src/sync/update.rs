//! Newer builds of the workstation, from the central server it is enrolled with: ask
//! whether one waits ([`check`]), fetch it and check its signature against the release
//! key ([`download_verified`]). Installing — after the outbox is drained and the database
//! backed up — is the shell's.
//!
//! The signature is minisign's (the format `tauri signer sign` writes): a package whose
//! signature does not verify with the built-in public key is never written to disk.

use super::http::{agent_for_updates, base, failure, Timeouts};
use super::SyncError;
use schoolcard_proto::updates::UpdateOffer;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The largest package accepted, in bytes: a release .deb is ~15 MB; a server answering
/// without end is cut off here.
pub const UPDATE_BYTES_MAX: u64 = 300 * 1024 * 1024;

/// The longest a package download may take (a slow school line: 15 MB at 256 kbit/s is
/// ~8 minutes).
pub const DOWNLOAD_TIMEOUT_S: u64 = 20 * 60;

#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    #[error(transparent)]
    Server(#[from] SyncError),
    /// The package does not carry the release key's signature: never installed.
    #[error("the package's signature does not verify: {0}")]
    BadSignature(String),
    #[error("the package is larger than {max_bytes} bytes")]
    TooLarge { max_bytes: u64 },
    #[error("the offer's version {0:?} is not a version")]
    BadVersion(String),
    #[error("writing the package: {0}")]
    Io(#[from] std::io::Error),
}

/// Asks the server at `server_url` whether a build newer than `current` waits for
/// `target`; `None` when this one is the newest. An offer not newer than `current` is
/// treated as none (a server with an older release must not downgrade anyone).
pub fn check(
    server_url: &str,
    target: &str,
    current: &str,
    timeouts: Timeouts,
) -> Result<Option<UpdateOffer>, UpdateError> {
    let response = agent_for_updates(timeouts)?
        .get(&format!("{}/updates/{target}/{current}", base(server_url)))
        .call()
        .map_err(failure)?;
    if response.status() == 204 {
        return Ok(None);
    }
    let mut offer: UpdateOffer = response
        .into_json()
        .map_err(|e| SyncError::Protocol(format!("the update offer is unreadable: {e}")))?;
    if !is_newer(&offer.version, current)? {
        return Ok(None);
    }
    if !offer.url.starts_with("http://") && !offer.url.starts_with("https://") {
        offer.url = format!("{}/{}", base(server_url), offer.url.trim_start_matches('/'));
    }
    Ok(Some(offer))
}

/// Is `offered` a later version than `current` (semver)?
pub fn is_newer(offered: &str, current: &str) -> Result<bool, UpdateError> {
    let parse = |v: &str| {
        semver::Version::parse(v.trim().trim_start_matches('v'))
            .map_err(|_| UpdateError::BadVersion(v.to_owned()))
    };
    Ok(parse(offered)? > parse(current)?)
}

/// Checks `bytes` against `signature_b64` (base64 of a minisign signature file) with
/// `public_key_b64` (base64 of a minisign public key file, as `tauri signer generate`
/// writes `*.pub`).
pub fn verify_signature(
    bytes: &[u8],
    signature_b64: &str,
    public_key_b64: &str,
) -> Result<(), UpdateError> {
    use base64::Engine;
    let decode = |what: &str, b64: &str| {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|e| UpdateError::BadSignature(format!("the {what} is not base64: {e}")))?;
        String::from_utf8(raw)
            .map_err(|_| UpdateError::BadSignature(format!("the {what} is not text")))
    };
    let key = minisign_verify::PublicKey::decode(&decode("public key", public_key_b64)?)
        .map_err(|e| UpdateError::BadSignature(format!("the public key: {e}")))?;
    let signature = minisign_verify::Signature::decode(&decode("signature", signature_b64)?)
        .map_err(|e| UpdateError::BadSignature(format!("the signature: {e}")))?;
    key.verify(bytes, &signature, false)
        .map_err(|e| UpdateError::BadSignature(e.to_string()))
}

/// Downloads `offer`'s package (at most [`UPDATE_BYTES_MAX`]), checks its signature with
/// `public_key_b64`, and only then writes it into `folder` (created if missing), synced
/// to disk. Returns the file's path.
pub fn download_verified(
    offer: &UpdateOffer,
    public_key_b64: &str,
    folder: &Path,
    timeouts: Timeouts,
) -> Result<PathBuf, UpdateError> {
    let timeouts = Timeouts {
        call: std::time::Duration::from_secs(DOWNLOAD_TIMEOUT_S),
        ..timeouts
    };
    let response = agent_for_updates(timeouts)?
        .get(&offer.url)
        .call()
        .map_err(failure)?;
    let mut bytes = Vec::new();
    response
        .into_reader()
        .take(UPDATE_BYTES_MAX + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| SyncError::Offline(format!("the download was cut: {e}")))?;
    if bytes.len() as u64 > UPDATE_BYTES_MAX {
        return Err(UpdateError::TooLarge {
            max_bytes: UPDATE_BYTES_MAX,
        });
    }
    verify_signature(&bytes, &offer.signature, public_key_b64)?;
    std::fs::create_dir_all(folder)?;
    let name = package_file_name(&offer.url, &offer.version);
    let path = folder.join(name);
    let mut file = std::fs::File::create(&path)?;
    file.write_all(&bytes)?;
    file.sync_all()?;
    Ok(path)
}

/// The package's file name: the URL's last segment when it is a plain name, else one
/// made from the version (never a path the server chose).
fn package_file_name(url: &str, version: &str) -> String {
    let last = url
        .split(['?', '#'])
        .next()
        .unwrap_or_default()
        .rsplit('/')
        .next()
        .unwrap_or_default();
    let plain = !last.is_empty()
        && last != ".."
        && last != "."
        && last
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+'));
    if plain {
        last.to_owned()
    } else {
        format!("schoolcard_{version}.deb")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_later_version_is_newer() {
        assert!(is_newer("0.2.0", "0.1.0").unwrap());
        assert!(is_newer("v0.1.1", "0.1.0").unwrap());
        assert!(!is_newer("0.1.0", "0.1.0").unwrap());
        assert!(!is_newer("0.0.9", "0.1.0").unwrap());
        assert!(!is_newer("0.2.0-rc.1", "0.2.0").unwrap());
        assert!(matches!(
            is_newer("latest", "0.1.0"),
            Err(UpdateError::BadVersion(_))
        ));
    }

    #[test]
    fn a_package_is_named_by_its_url_only_when_the_name_is_plain() {
        assert_eq!(
            package_file_name(
                "https://s/updates/files/schoolcard_0.2.0_amd64.deb",
                "0.2.0"
            ),
            "schoolcard_0.2.0_amd64.deb"
        );
        assert_eq!(
            package_file_name("https://s/updates/files/..", "0.2.0"),
            "schoolcard_0.2.0.deb"
        );
        assert_eq!(
            package_file_name("https://s/x/a%2F..%2Fetc?x=1", "0.2.0"),
            "schoolcard_0.2.0.deb"
        );
    }

    #[test]
    fn garbage_is_no_signature() {
        let refused = verify_signature(b"package", "bm90IGEgc2lnbmF0dXJl", "bm90IGEga2V5");
        assert!(matches!(refused, Err(UpdateError::BadSignature(_))));
    }
}
