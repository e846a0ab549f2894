//! The Debian package (`installers/server/build-deb.sh`): built from this build's binary,
//! its metadata and files checked, installed with dpkg, the server started with its
//! unit's own command line, a workstation enrolled and synced, a backup made by the
//! packaged script as the service user, and the package purged without a trace. It needs
//! root (dpkg) and changes the machine, so it is ignored by default:
//!
//! ```sh
//! sudo -E cargo test -p schoolcard-server --test it -- --ignored package --test-threads=1
//! ```
//!
//! `SCHOOLCARD_SERVER_DEB=<path>` tests that .deb (the release one) instead of building one.

use crate::harness::*;
use schoolcard_server::{db, ThrowawayCluster};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

const PACKAGE: &str = "schoolcard-server";
const UNIT: &str = "/usr/lib/systemd/system/schoolcard-server.service";
const BACKUP_UNIT: &str = "/usr/lib/systemd/system/schoolcard-server-backup.service";
const CONFIG: &str = "/etc/schoolcard/server.toml";
/// The server answers /health within this after its start.
const START_TIMEOUT_S: u64 = 30;

fn run(program: &str, args: &[&str]) -> Output {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|error| panic!("{program}: {error}"));
    output
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn ok(program: &str, args: &[&str]) -> String {
    let output = run(program, args);
    assert!(
        output.status.success(),
        "{program} {args:?}: {}",
        text(&output)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The value of `Key=` in a unit file's text.
fn unit_value(unit: &str, key: &str) -> String {
    unit.lines()
        .find_map(|line| line.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key}= in the unit"))
        .trim()
        .to_owned()
}

/// Undoes what the test did to the machine, even when an assertion fails midway.
struct Installed {
    server: Option<Child>,
    user_existed: bool,
    backups_existed: bool,
    backup_files: Vec<PathBuf>,
}

impl Drop for Installed {
    fn drop(&mut self) {
        if let Some(mut server) = self.server.take() {
            let _ = server.kill();
            let _ = server.wait();
        }
        for file in &self.backup_files {
            let _ = std::fs::remove_file(file);
        }
        let _ = Command::new("dpkg").args(["--purge", PACKAGE]).output();
        if !self.backups_existed {
            let _ = std::fs::remove_dir("/var/backups/schoolcard");
        }
        if !self.user_existed {
            let _ = Command::new("deluser")
                .args(["--system", "schoolcard"])
                .output();
            let _ = Command::new("delgroup")
                .args(["--system", "schoolcard"])
                .output();
        }
    }
}

#[test]
#[ignore = "builds and installs the .deb: run by make test"]
fn the_package_installs_serves_a_workstation_and_purges_cleanly() {
    // SCHOOLCARD_SERVER_DEB: a .deb built beforehand (the release artefact); else one is
    // built here from this test build's binary.
    let out = tempfile::tempdir().unwrap();
    let deb = match std::env::var("SCHOOLCARD_SERVER_DEB") {
        Ok(deb) => deb,
        Err(_) => {
            let script =
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../installers/server/build-deb.sh");
            let built = Command::new(&script)
                .args(["--binary", env!("CARGO_BIN_EXE_schoolcard-server"), "--out"])
                .arg(out.path())
                .output()
                .expect("build-deb.sh runs");
            assert!(built.status.success(), "{}", text(&built));
            String::from_utf8_lossy(&built.stdout)
                .lines()
                .last()
                .expect("the .deb's path")
                .to_owned()
        }
    };
    assert!(Path::new(&deb).is_file(), "{deb}");

    let info = ok("dpkg-deb", &["--info", &deb]);
    for needed in [
        "Package: schoolcard-server",
        "Depends: libc6 (>= 2.",
        "postgresql-client",
        "adduser",
        "Recommends: postgresql",
        "conffiles",
        "postinst",
        "postrm",
    ] {
        assert!(info.contains(needed), "no {needed:?} in\n{info}");
    }
    let control = tempfile::tempdir().unwrap();
    ok(
        "dpkg-deb",
        &["--control", &deb, control.path().to_str().unwrap()],
    );
    assert_eq!(
        std::fs::read_to_string(control.path().join("conffiles")).unwrap(),
        format!("{CONFIG}\n")
    );
    let contents = ok("dpkg-deb", &["--contents", &deb]);
    for (mode, path) in [
        ("-rwxr-xr-x", "./usr/bin/schoolcard-server"),
        ("-rwxr-xr-x", "./usr/bin/schoolcard-server-backup"),
        ("-rw-r-----", "./etc/schoolcard/server.toml"),
        (
            "-rw-r--r--",
            "./usr/lib/systemd/system/schoolcard-server.service",
        ),
        (
            "-rw-r--r--",
            "./usr/lib/systemd/system/schoolcard-server-backup.service",
        ),
        (
            "-rw-r--r--",
            "./usr/lib/systemd/system/schoolcard-server-backup.timer",
        ),
        ("-rw-r--r--", "./usr/share/doc/schoolcard-server/README.md"),
        (
            "-rw-r--r--",
            "./usr/share/doc/schoolcard-server/examples/nginx-schoolcard.conf",
        ),
    ] {
        assert!(
            contents.lines().any(|line| line.starts_with(mode)
                && line.contains("root/root")
                && line.ends_with(&format!(" {path}"))),
            "no {mode} root/root {path} in\n{contents}"
        );
    }

    if std::env::var_os("SCHOOLCARD_DEB_NO_INSTALL").is_some() {
        eprintln!(
            "SCHOOLCARD_DEB_NO_INSTALL is set: the package is built and checked, not installed"
        );
        return;
    }
    assert_eq!(
        ok("id", &["-u"]).trim(),
        "0",
        "installing needs root (or set SCHOOLCARD_DEB_NO_INSTALL=1 to stop after the checks)"
    );
    assert!(
        !run("dpkg", &["-s", PACKAGE]).status.success(),
        "{PACKAGE} is already installed on this machine: the test will not replace it"
    );
    let mut installed = Installed {
        server: None,
        user_existed: run("getent", &["passwd", "schoolcard"]).status.success(),
        backups_existed: Path::new("/var/backups/schoolcard").exists(),
        backup_files: Vec::new(),
    };
    ok("dpkg", &["-i", &deb]);
    ok("getent", &["passwd", "schoolcard"]);
    assert_eq!(
        ok("stat", &["-c", "%a %U:%G", CONFIG]).trim(),
        "640 root:schoolcard",
        "the config holds the database password"
    );
    assert_eq!(
        ok("stat", &["-c", "%a %U:%G", "/var/backups/schoolcard"]).trim(),
        "750 schoolcard:schoolcard"
    );
    if Path::new("/usr/bin/systemd-analyze").exists() {
        let verified = run(
            "systemd-analyze",
            &[
                "verify",
                UNIT,
                BACKUP_UNIT,
                "/usr/lib/systemd/system/schoolcard-server-backup.timer",
            ],
        );
        assert!(verified.status.success(), "{}", text(&verified));
    }

    // A database for it, set up as README.md says, and the installed config pointed at it.
    let cluster = ThrowawayCluster::start().expect("a throwaway cluster");
    let app_password = "Pa:ss/w@rd-1";
    let admin_url = block_on(db::create_database(&cluster.admin_url(), "schoolcard")).unwrap();
    // As README.md: the postgres OS user, over the cluster's socket.
    let socket_url = format!(
        "postgres:///schoolcard?host={}&port={}",
        cluster.data_dir().display(),
        cluster.port()
    );
    let setup = Command::new("runuser")
        .args(["-u", "postgres", "--", "/usr/bin/schoolcard-server"])
        .args([
            "db-setup",
            "--admin-url",
            &socket_url,
            "--app-role",
            "schoolcard_app",
            "--app-password",
            app_password,
        ])
        .output()
        .unwrap();
    assert!(setup.status.success(), "{}", text(&setup));
    let app_url = db::url_as(&admin_url, "schoolcard_app", app_password).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let shipped = std::fs::read_to_string(CONFIG).unwrap();
    assert!(
        shipped
            .lines()
            .all(|line| line.is_empty() || line.starts_with('#')),
        "every shipped setting is commented out"
    );
    for name in [
        "database_url",
        "listen",
        "public_url",
        "sandbox_key",
        "smtp_host",
        "smtp_port",
        "mail_from",
        "insecure_cookies",
        "metrics_token",
    ] {
        assert!(
            shipped.contains(&format!("\n#{name} = ")),
            "{name} is documented in the shipped config"
        );
    }
    let configured = shipped
        .replace(
            "#database_url = \"postgres://schoolcard_app:CHANGE-ME@127.0.0.1:5432/schoolcard\"",
            &format!("database_url = \"{app_url}\""),
        )
        .replace(
            "#listen = \"127.0.0.1:8787\"",
            &format!("listen = \"127.0.0.1:{port}\""),
        );
    assert_ne!(configured, shipped);
    std::fs::write(CONFIG, configured).unwrap();

    // The unit's own command line, as its user.
    let unit = std::fs::read_to_string(UNIT).unwrap();
    let user = unit_value(&unit, "User");
    assert_eq!(user, "schoolcard");
    let exec_start = unit_value(&unit, "ExecStart");
    assert_eq!(
        exec_start,
        format!("/usr/bin/schoolcard-server serve --config {CONFIG}")
    );
    for hardening in [
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "Restart=on-failure",
    ] {
        assert!(unit.lines().any(|line| line == hardening), "no {hardening}");
    }
    // setpriv execs (runuser would fork): the child is the server, and SIGTERM reaches it.
    let mut command = Command::new("setpriv");
    command.args(["--reuid", &user, "--regid", &user, "--clear-groups", "--"]);
    command.args(exec_start.split_whitespace());
    installed.server = Some(command.spawn().expect("the server starts"));
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(START_TIMEOUT_S);
    loop {
        if let Ok(response) = ureq::get(&format!("{url}/health")).call() {
            assert_eq!(response.status(), 200);
            let body: serde_json::Value = response.into_json().unwrap();
            assert_eq!(body["status"], "ok", "{body}");
            break;
        }
        if let Some(status) = installed.server.as_mut().unwrap().try_wait().unwrap() {
            panic!("the server exited: {status}");
        }
        assert!(
            Instant::now() < deadline,
            "no /health within {START_TIMEOUT_S} s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // A municipal admin, a school, an enrolment code, and a workstation enrolling and
    // pushing over HTTP as the real one does.
    let mut add_admin = Command::new("/usr/bin/schoolcard-server")
        .args(["add-admin", "--login", ADMIN_LOGIN, "--config", CONFIG])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = add_admin.stdin.take().unwrap();
        writeln!(stdin, "{ADMIN_PASSWORD}").unwrap();
    }
    let added = add_admin.wait_with_output().unwrap();
    assert!(added.status.success(), "{}", text(&added));
    let login = call(
        "POST",
        &format!("{url}/v1/auth/login"),
        &[],
        Some(&json!({"login": ADMIN_LOGIN, "password": ADMIN_PASSWORD})),
    );
    assert_eq!(login.0, 200, "{login:?}");
    let bearer = format!("Bearer {}", login.1["token"].as_str().unwrap());
    let school = call(
        "POST",
        &format!("{url}/v1/admin/schools"),
        &[("authorization", &bearer)],
        Some(&json!({"name": "Лицей «Держава»", "time_zone": "Europe/Moscow"})),
    );
    assert_eq!(school.0, 201, "{school:?}");
    let school_id = school.1["id"].as_str().unwrap().to_owned();
    let code = call(
        "POST",
        &format!("{url}/v1/admin/schools/{school_id}/enrolment-codes"),
        &[("authorization", &bearer)],
        None,
    );
    assert_eq!(code.0, 201, "{code:?}");
    let enrolled = call(
        "POST",
        &format!("{url}/v1/enrol"),
        &[],
        Some(&json!({
            "code": code.1["code"], "device_id": "ws-entrance", "name": "Вход", "app_version": "0.1.0"
        })),
    );
    assert_eq!(enrolled.0, 200, "{enrolled:?}");
    assert_eq!(enrolled.1["school_id"], school_id.as_str());
    let device = Credential {
        device_id: "ws-entrance".into(),
        secret: enrolled.1["secret"].as_str().unwrap().to_owned(),
    };
    let version = schoolcard_proto::sync::PROTOCOL_VERSION.to_string();
    let authorization = device.authorization();
    let pushed = call(
        "POST",
        &format!("{url}/v1/sync/push"),
        &[
            (schoolcard_proto::sync::PROTOCOL_HEADER, &version),
            ("authorization", &authorization),
        ],
        Some(&json!({
            "origin": "ws-entrance", "seen_through": 0,
            "events": passages("ws-entrance", 1, 3),
        })),
    );
    assert_eq!(pushed.0, 200, "{pushed:?}");
    assert_eq!(pushed.1["acked_through"], 3);
    let metrics = ureq::get(&format!("{url}/metrics"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    let samples = crate::ops::parse_exposition(&metrics);
    assert!(
        samples.contains_key(&(
            "schoolcard_sync_lag_seconds".to_owned(),
            format!("{{school=\"{school_id}\"}}")
        )),
        "{metrics}"
    );

    // The packaged backup, as its timer's service runs it: its user, its config.
    let backup_unit = std::fs::read_to_string(BACKUP_UNIT).unwrap();
    let mut backup = Command::new("runuser");
    backup
        .args(["-u", &unit_value(&backup_unit, "User"), "--"])
        .args(unit_value(&backup_unit, "ExecStart").split_whitespace());
    let backed_up = backup.output().unwrap();
    assert!(backed_up.status.success(), "{}", text(&backed_up));
    let dumps: Vec<PathBuf> = std::fs::read_dir("/var/backups/schoolcard")
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("schoolcard-schoolcard-")
        })
        .collect();
    installed.backup_files = dumps.clone();
    assert_eq!(dumps.len(), 1, "{}", text(&backed_up));
    let listing = ok("pg_restore", &["--list", dumps[0].to_str().unwrap()]);
    assert!(listing.contains("TABLE DATA public events"), "{listing}");

    // Stopped (SIGTERM, as systemd stops it) and purged.
    let server = installed.server.take().unwrap();
    ok("kill", &["-TERM", &server.id().to_string()]);
    let mut server = server;
    let status = server.wait().unwrap();
    assert!(status.success(), "a clean stop on SIGTERM: {status}");
    ok("dpkg", &["--purge", PACKAGE]);
    assert!(!run("dpkg", &["-s", PACKAGE]).status.success());
    for gone in [
        "/usr/bin/schoolcard-server",
        "/usr/bin/schoolcard-server-backup",
        UNIT,
        BACKUP_UNIT,
        "/usr/lib/systemd/system/schoolcard-server-backup.timer",
        CONFIG,
        "/etc/schoolcard",
        "/var/lib/schoolcard",
    ] {
        assert!(!Path::new(gone).exists(), "{gone} is left after the purge");
    }
    assert!(
        dumps[0].exists(),
        "a purge keeps the backups (they may be all that is left of the data)"
    );
    drop(installed);
    drop(cluster);
}
