//! The workstation's .deb as a school's IT person meets it: its metadata and contents
//! checked, installed with dpkg, the INSTALLED `/usr/bin/schoolcard` started on a fresh
//! database under Xvfb (through tauri-driver, as in `e2e.rs`) until the first-run set-up
//! screen shows, and on a demo school where the admin writes the support archive; then
//! removed: the program is gone, the school's database is not.
//!
//! `make test` builds the debug .deb once and passes it in `SCHOOLCARD_DEB`; without it
//! the test builds one itself. Installing needs root (CI runs as root): as another user
//! the package is checked and the install is skipped with a message.

use fantoccini::{Client, ClientBuilder, Locator};
use schoolcard_tests::webdriver::Driver;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Command as Process, Stdio};
use std::time::{Duration, Instant};

const PACKAGE: &str = "schoolcard";
const INSTALLED_BIN: &str = "/usr/bin/schoolcard";
const DESKTOP_FILE: &str = "/usr/share/applications/schoolcard.desktop";
const UDEV_RULE: &str = "/lib/udev/rules.d/60-schoolcard.rules";
/// What the package must depend on: the bundler adds WebKitGTK and GTK by itself,
/// `bundle.linux.deb.depends` the PC/SC service and library.
const DEPENDS: [&str; 4] = ["libwebkit2gtk-4.1-0", "libgtk-3-0", "pcscd", "libpcsclite1"];
/// App start and the first screen, on a cold debug build under Xvfb.
const SCREEN_TIMEOUT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "current_thread")]
#[ignore = "builds and installs the .deb: run by make test"]
async fn the_deb_installs_starts_on_a_fresh_database_and_removes_without_it() {
    let deb = deb_path();

    // The package's metadata and files, before anything is installed.
    let info = run("dpkg-deb", &["--info".as_ref(), deb.as_os_str()]);
    assert!(info.contains(&format!("Package: {PACKAGE}")), "{info}");
    let depends = info
        .lines()
        .find_map(|l| l.trim().strip_prefix("Depends:"))
        .unwrap_or_else(|| panic!("no Depends in:\n{info}"));
    for needed in DEPENDS {
        assert!(
            depends.contains(needed),
            "Depends lacks {needed}: {depends}"
        );
    }
    for script in ["postinst", "postrm"] {
        assert!(
            info.lines()
                .any(|l| l.split_whitespace().any(|w| w == script)),
            "no {script} in:\n{info}"
        );
    }
    let contents = run("dpkg-deb", &["--contents".as_ref(), deb.as_os_str()]);
    let files: Vec<&str> = contents
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .collect();
    for wanted in [INSTALLED_BIN, DESKTOP_FILE, UDEV_RULE] {
        assert!(
            files.contains(&wanted.trim_start_matches('/')),
            "{wanted} is not in the package:\n{contents}"
        );
    }
    assert!(
        files
            .iter()
            .any(|f| f.starts_with("usr/share/icons/hicolor/")
                && f.ends_with("/apps/schoolcard.png")),
        "no icon in the package:\n{contents}"
    );
    let desktop = file_in_deb(&deb, DESKTOP_FILE);
    for line in [
        "Name=Проход и питание",
        "Exec=schoolcard",
        "Icon=schoolcard",
        "Categories=Education;",
    ] {
        assert!(
            desktop.lines().any(|l| l.starts_with(line)),
            "the desktop entry lacks {line:?}:\n{desktop}"
        );
    }
    let rule = file_in_deb(&deb, UDEV_RULE);
    for needle in [
        r#"ATTRS{idVendor}=="1a86", ATTRS{idProduct}=="7523"#,
        r#"TAG+="uaccess""#,
        r#"GROUP="dialout", MODE="0660""#,
        r#"SUBSYSTEM=="hidraw""#,
    ] {
        assert!(
            rule.contains(needle),
            "the udev rule lacks {needle}:\n{rule}"
        );
    }

    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!(
            "install test: not root, so {} was checked but not installed (CI runs as root)",
            deb.display()
        );
        return;
    }

    // A clean slate: whatever schoolcard was installed goes first.
    if Process::new("dpkg-query")
        .args(["-W", PACKAGE])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
    {
        run("dpkg", &["-r".as_ref(), PACKAGE.as_ref()]);
    }
    assert!(!Path::new(INSTALLED_BIN).exists(), "{INSTALLED_BIN} stayed");

    let installed = Installed;
    run("dpkg", &["-i".as_ref(), deb.as_os_str()]);
    for path in [INSTALLED_BIN, DESKTOP_FILE, UDEV_RULE] {
        assert!(Path::new(path).exists(), "{path} is not installed");
    }

    // The installed program on a fresh database: the first-run set-up screen.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("school.sqlite");
    {
        let driver = Driver::start(&[]);
        let caps = json!({"tauri:options": {
            "application": INSTALLED_BIN,
            "args": ["--db", db, "--lang", "ru"],
        }});
        let client = ClientBuilder::native()
            .capabilities(caps.as_object().unwrap().clone())
            .connect(&format!("http://127.0.0.1:{}", driver.port))
            .await
            .expect("a WebDriver session with the installed app");
        wait_for_testid(&client, "setup-form").await;
        let _ = client.close().await;
    }
    assert!(db.exists(), "the app did not create {}", db.display());
    let logs = dir.path().join("logs");
    let log_files = std::fs::read_dir(&logs)
        .map(|d| d.count())
        .unwrap_or_default();
    assert!(log_files > 0, "no log file in {}", logs.display());

    // The installed program's support archive: the demo school's admin presses
    // «Диагностика для поддержки» and a ZIP appears under diagnostics/ beside the database.
    let demo_dir = tempfile::tempdir().unwrap();
    let demo_db = demo_dir.path().join("school.sqlite");
    {
        let driver = Driver::start(&[]);
        let caps = json!({"tauri:options": {
            "application": INSTALLED_BIN,
            "args": ["--demo", "--db", demo_db, "--lang", "ru"],
        }});
        let client = ClientBuilder::native()
            .capabilities(caps.as_object().unwrap().clone())
            .connect(&format!("http://127.0.0.1:{}", driver.port))
            .await
            .expect("a WebDriver session with the installed app");
        for id in [
            "demo-use-admin",
            "signin-submit",
            "nav-school",
            "diagnostics-export",
        ] {
            click_testid(&client, id).await;
        }
        wait_for_testid(&client, "diagnostics-path").await;
        let _ = client.close().await;
    }
    let archives: Vec<PathBuf> = std::fs::read_dir(demo_dir.path().join("diagnostics"))
        .expect("a diagnostics folder beside the database")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    assert!(
        archives.len() == 1 && archives[0].extension().is_some_and(|x| x == "zip"),
        "{archives:?}"
    );

    // Removal: the program and its files go, the school's database stays.
    drop(installed);
    for path in [INSTALLED_BIN, DESKTOP_FILE, UDEV_RULE] {
        assert!(!Path::new(path).exists(), "{path} outlived dpkg -r");
    }
    assert!(db.exists(), "dpkg -r took the database {}", db.display());
}

/// The package installed by the test: removed when the test ends, passed or not, and the
/// removal's message checked to say the databases stay.
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        let out = Process::new("dpkg")
            .args(["-r", PACKAGE])
            .output()
            .expect("dpkg runs");
        let text = String::from_utf8_lossy(&out.stdout);
        if !std::thread::panicking() {
            assert!(out.status.success(), "dpkg -r {PACKAGE}: {out:?}");
            assert!(
                text.contains("databases were NOT deleted"),
                "postrm did not say the databases stay:\n{text}"
            );
        }
    }
}

/// `SCHOOLCARD_DEB`, or a debug .deb built now (as `make deb-debug` does).
fn deb_path() -> PathBuf {
    if let Some(path) = std::env::var_os("SCHOOLCARD_DEB").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        assert!(
            path.exists(),
            "SCHOOLCARD_DEB={} does not exist",
            path.display()
        );
        return path;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let status = Process::new("npm")
        .args([
            "run",
            "--silent",
            "tauri",
            "--",
            "build",
            "--debug",
            "--bundles",
            "deb",
        ])
        .current_dir(root.join("ui"))
        .status()
        .expect("npm runs the Tauri CLI");
    assert!(status.success(), "the debug .deb did not build: {status}");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let dir = target.join("debug").join("bundle").join("deb");
    std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "deb"))
        .max_by_key(|p| p.metadata().and_then(|m| m.modified()).ok())
        .unwrap_or_else(|| panic!("no .deb in {}", dir.display()))
}

/// Runs a command that must succeed; its stdout.
fn run(program: &str, args: &[&std::ffi::OsStr]) -> String {
    let out = Process::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// One file of the package, read without installing it.
fn file_in_deb(deb: &Path, path: &str) -> String {
    let mut tar = Process::new("dpkg-deb")
        .arg("--fsys-tarfile")
        .arg(deb)
        .stdout(Stdio::piped())
        .spawn()
        .expect("dpkg-deb runs");
    let out = Process::new("tar")
        .args(["-xO", path.trim_start_matches('/')])
        .stdin(tar.stdout.take().expect("a pipe"))
        .output()
        .expect("tar runs");
    // tar stops reading once it has the file: dpkg-deb may end on a broken pipe.
    let _ = tar.wait();
    assert!(out.status.success(), "{path} is not in {}", deb.display());
    String::from_utf8(out.stdout).expect("a text file")
}

async fn wait_for_testid(client: &Client, id: &str) {
    let deadline = Instant::now() + SCREEN_TIMEOUT;
    let css = format!("[data-testid='{id}']");
    while client.find(Locator::Css(&css)).await.is_err() {
        if Instant::now() > deadline {
            let page = client.source().await.unwrap_or_default();
            panic!(
                "no [{id}] within {SCREEN_TIMEOUT:?}; page:\n{}",
                &page[..page.len().min(4000)]
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Clicks an element once it is there (a moment after, so the screen has settled).
async fn click_testid(client: &Client, id: &str) {
    wait_for_testid(client, id).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    client
        .find(Locator::Css(&format!("[data-testid='{id}']")))
        .await
        .unwrap_or_else(|e| panic!("[{id}]: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("click [{id}]: {e}"));
}
