//! Workstation updates end to end: a release signed with `tauri signer` (the tool a
//! release manager uses) left in a real server's updates folder, offered to an older
//! workstation only, downloaded and written only when its signature verifies with the
//! release key — a package changed on the way, or signed by another key, never is.

use schoolcard_core::sync::http::Timeouts;
use schoolcard_core::sync::update::{check, download_verified, UpdateError};
use schoolcard_proto::updates::TARGET_LINUX_X86_64;
use schoolcard_tests::central::Central;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The Tauri CLI `make test` installs with the UI's packages.
fn tauri_cli() -> PathBuf {
    let cli = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/node_modules/.bin/tauri");
    assert!(
        cli.exists(),
        "{} is missing: run installers/setup.sh test (it installs the UI's npm packages)",
        cli.display()
    );
    cli
}

/// A fresh release key pair in `dir`: (private key text, public key as base64).
fn release_key(dir: &Path, name: &str) -> (String, String) {
    let path = dir.join(name);
    let status = Command::new(tauri_cli())
        .args(["signer", "generate", "--ci", "-p", ""])
        .arg("-w")
        .arg(&path)
        .output()
        .expect("tauri signer generate runs");
    assert!(status.status.success(), "{status:?}");
    let private = std::fs::read_to_string(&path).unwrap();
    let public = std::fs::read_to_string(path.with_extension("key.pub"))
        .or_else(|_| std::fs::read_to_string(format!("{}.pub", path.display())))
        .unwrap();
    (private, public.trim().to_owned())
}

/// `tauri signer sign`'s signature of `file` (base64 of the minisign signature file).
fn sign(file: &Path, private_key: &str) -> String {
    let output = Command::new(tauri_cli())
        .args(["signer", "sign", "-p", ""])
        .arg("-k")
        .arg(private_key)
        .arg(file)
        .output()
        .expect("tauri signer sign runs");
    assert!(output.status.success(), "{output:?}");
    std::fs::read_to_string(format!("{}.sig", file.display()))
        .unwrap()
        .trim()
        .to_owned()
}

#[test]
fn a_signed_release_reaches_an_older_workstation_and_a_tampered_one_never_does() {
    let dir = tempfile::tempdir().unwrap();
    let updates = dir.path().join("updates");
    std::fs::create_dir(&updates).unwrap();
    let (private, public) = release_key(dir.path(), "release.key");
    let (_, other_public) = release_key(dir.path(), "other.key");

    // The release: a package, its signature, the manifest naming it relatively.
    let name = "schoolcard_9.1.0_amd64.deb";
    let package: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(updates.join(name), &package).unwrap();
    let signature = sign(&updates.join(name), &private);
    let manifest = |signature: &str| {
        json!({
            "version": "9.1.0",
            "notes": "Сверка питания быстрее.",
            "pub_date": "2026-11-27T12:00:00Z",
            "platforms": {TARGET_LINUX_X86_64: {"signature": signature, "url": name}}
        })
        .to_string()
    };
    std::fs::write(updates.join("latest.json"), manifest(&signature)).unwrap();

    let folder = updates.clone();
    let central = Central::start_with(move |state| state.with_updates_dir(folder));
    let timeouts = Timeouts::default();

    // An older workstation is offered it; the same or a newer one is not; another target
    // has nothing.
    let offer = check(&central.url, TARGET_LINUX_X86_64, "0.1.0", timeouts)
        .unwrap()
        .expect("an offer for 0.1.0");
    assert_eq!(offer.version, "9.1.0");
    assert_eq!(offer.notes, "Сверка питания быстрее.");
    assert!(offer.url.starts_with(&central.url), "{}", offer.url);
    for current in ["9.1.0", "10.0.0"] {
        assert_eq!(
            check(&central.url, TARGET_LINUX_X86_64, current, timeouts).unwrap(),
            None
        );
    }
    assert_eq!(
        check(&central.url, "windows-x86_64", "0.1.0", timeouts).unwrap(),
        None
    );

    // Downloaded and verified with the release key: written, byte for byte.
    let downloads = dir.path().join("downloads");
    let path = download_verified(&offer, &public, &downloads, timeouts).unwrap();
    assert_eq!(path.file_name().unwrap(), name);
    assert_eq!(std::fs::read(&path).unwrap(), package);
    std::fs::remove_file(&path).unwrap();

    // With another key's public half: refused, nothing written.
    let refused = download_verified(&offer, &other_public, &downloads, timeouts).unwrap_err();
    assert!(matches!(refused, UpdateError::BadSignature(_)), "{refused}");
    // The package changed on the server after signing: refused, nothing written.
    let mut tampered = package.clone();
    tampered[100_000] ^= 0xff;
    std::fs::write(updates.join(name), &tampered).unwrap();
    let refused = download_verified(&offer, &public, &downloads, timeouts).unwrap_err();
    assert!(matches!(refused, UpdateError::BadSignature(_)), "{refused}");
    assert_eq!(std::fs::read_dir(&downloads).unwrap().count(), 0);

    // The folder serves packages only: not its manifest, nothing outside it.
    for path in [
        "/updates/files/latest.json",
        "/updates/files/..%2Flatest.json",
        "/updates/files/.hidden",
    ] {
        let status = match ureq::get(&format!("{}{path}", central.url)).call() {
            Ok(response) => response.status(),
            Err(ureq::Error::Status(status, _)) => status,
            Err(e) => panic!("{path}: {e}"),
        };
        assert_eq!(status, 404, "{path}");
    }
}
