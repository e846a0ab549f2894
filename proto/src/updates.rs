//! Workstation updates offered by the central server.
//!
//! `GET /updates/{target}/{current_version}` answers `204 No Content` when the
//! workstation is up to date and an [`UpdateOffer`] when a newer build waits. The offer is
//! Tauri's dynamic updater format, so the files a release produces with `tauri signer
//! sign` serve as they are: `signature` is the base64 of a minisign signature file, made
//! with the project's release key, whose public half the workstation carries built in.

use serde::{Deserialize, Serialize};

/// The target a Debian/Ubuntu x86-64 workstation asks for.
pub const TARGET_LINUX_X86_64: &str = "linux-x86_64";

/// A newer build of the workstation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateOffer {
    /// Its version (semver, `0.2.0`).
    pub version: String,
    /// What changed, as the release says it (shown to the admin before installing).
    #[serde(default)]
    pub notes: String,
    /// When it was published (RFC 3339), if the release says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pub_date: Option<String>,
    /// Where the package is: absolute, or relative to the server's address.
    pub url: String,
    /// Base64 of the minisign signature file of the package.
    pub signature: String,
}

/// A release's `latest.json` as `tauri` tooling writes it: one version, a package per
/// target. The server keeps it in its updates folder beside the packages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseManifest {
    pub version: String,
    #[serde(default)]
    pub notes: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pub_date: Option<String>,
    pub platforms: std::collections::BTreeMap<String, PlatformPackage>,
}

/// One target's package in a [`ReleaseManifest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformPackage {
    pub signature: String,
    pub url: String,
}
