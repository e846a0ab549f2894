//! A PostgreSQL cluster of its own in a temporary folder, for tests, the benchmark and
//! `make server`: `initdb`, started on a free loopback port with its socket in the same
//! folder (so it coexists with a system cluster on 5432), stopped and removed on drop.
//!
//! `initdb` refuses to run as root, so under root the cluster belongs to the `postgres`
//! OS user (`runuser -u postgres --`). A watchdog process stops the cluster and removes the
//! folder if the process that started it dies without dropping it (a test binary's
//! statics are never dropped; Ctrl+C), so no postmaster outlives its owner.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// How long `pg_ctl` may take to start or stop the server: initdb'd clusters start in
/// well under a second; a loaded CI machine gets a generous margin.
const PG_CTL_TIMEOUT_S: u32 = 60;
/// Attempts to start on a free port: another process may take the port between our probe
/// and the postmaster's bind.
const START_ATTEMPTS_MAX: u32 = 3;

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("PostgreSQL's server programs (initdb, pg_ctl) were not found: install PostgreSQL (Debian: apt-get install postgresql) or set SCHOOLCARD_PG_BINDIR")]
    NoBinaries,
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("{what} failed: {output}")]
    Command { what: String, output: String },
}

pub struct ThrowawayCluster {
    /// Removed on drop (after the server stops).
    root: Option<tempfile::TempDir>,
    data_dir: PathBuf,
    bin_dir: PathBuf,
    port: u16,
    as_postgres_user: bool,
    watchdog: Option<Child>,
}

impl ThrowawayCluster {
    /// Creates, starts and waits for a new cluster. Its superuser is `postgres`, trusted
    /// on loopback and the folder's socket only.
    pub fn start() -> Result<Self, ClusterError> {
        let bin_dir = find_bin_dir().ok_or(ClusterError::NoBinaries)?;
        let as_postgres_user = effective_uid_is_root();
        let root = tempfile::Builder::new()
            .prefix("schoolcard-pg-")
            .tempdir()
            .map_err(|source| io("creating the cluster's folder", source))?;
        let data_dir = root.path().join("data");
        std::fs::create_dir(&data_dir).map_err(|source| io("creating the data folder", source))?;
        if as_postgres_user {
            use std::os::unix::fs::PermissionsExt;
            // The postgres user must reach the data folder inside our temp folder.
            std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755))
                .map_err(|source| io("opening the cluster's folder to postgres", source))?;
            run(
                "chown",
                Command::new("chown")
                    .arg("postgres:postgres")
                    .arg(&data_dir),
            )?;
        }
        let mut cluster = ThrowawayCluster {
            root: Some(root),
            data_dir,
            bin_dir,
            port: 0,
            as_postgres_user,
            watchdog: None,
        };
        let mut initdb = cluster.pg_command("initdb");
        initdb.arg("-D").arg(&cluster.data_dir).args([
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        ]);
        run("initdb", &mut initdb)?;
        cluster.watchdog = Some(cluster.spawn_watchdog()?);
        let mut last_error = None;
        for _ in 0..START_ATTEMPTS_MAX {
            cluster.port = free_port()?;
            match cluster.pg_ctl_start() {
                Ok(()) => return Ok(cluster),
                Err(error) => last_error = Some(error),
            }
        }
        Err(last_error.expect("at least one attempt"))
    }

    /// The superuser's URL, for the `postgres` database.
    pub fn admin_url(&self) -> String {
        self.url_for("postgres")
    }

    /// The superuser's URL for another database of the cluster.
    pub fn url_for(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    fn pg_command(&self, program: &str) -> Command {
        let path = self.bin_dir.join(program);
        if self.as_postgres_user {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        }
    }

    fn pg_ctl_start(&self) -> Result<(), ClusterError> {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c max_connections=200",
            self.port,
            self.data_dir.display()
        );
        let mut start = self.pg_command("pg_ctl");
        start
            .arg("-D")
            .arg(&self.data_dir)
            .arg("-l")
            .arg(self.data_dir.join("server.log"))
            .args([
                "-o",
                &options,
                "-w",
                "-t",
                &PG_CTL_TIMEOUT_S.to_string(),
                "start",
            ]);
        run("pg_ctl start", &mut start).map_err(|error| {
            let log = std::fs::read_to_string(self.data_dir.join("server.log")).unwrap_or_default();
            ClusterError::Command {
                what: "starting PostgreSQL".into(),
                output: format!("{error}\n{log}"),
            }
        })
    }

    /// A detached shell that waits for this process to end, then stops the cluster and
    /// removes its folder. A no-op when `Drop` has already done both.
    fn spawn_watchdog(&self) -> Result<Child, ClusterError> {
        let root = self.root.as_ref().expect("root while running").path();
        let pg_ctl = self.bin_dir.join("pg_ctl");
        let runner = if self.as_postgres_user {
            "runuser -u postgres -- "
        } else {
            ""
        };
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
             {runner}'{pg_ctl}' -D '{data}' stop -m immediate >/dev/null 2>&1; rm -rf '{root}'",
            pid = std::process::id(),
            pg_ctl = pg_ctl.display(),
            data = self.data_dir.display(),
            root = root.display(),
        );
        // setsid: out of our process group, so a Ctrl+C that kills us does not kill it.
        Command::new("setsid")
            .args(["sh", "-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|source| io("starting the cluster's watchdog", source))
    }

    fn stop(&mut self) {
        let mut stop = self.pg_command("pg_ctl");
        stop.arg("-D")
            .arg(&self.data_dir)
            .args([
                "-m",
                "fast",
                "-w",
                "-t",
                &PG_CTL_TIMEOUT_S.to_string(),
                "stop",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let _ = stop.status();
        // Still there (a stuck stop): kill the postmaster by the pid it wrote.
        if let Ok(pid_file) = std::fs::read_to_string(self.data_dir.join("postmaster.pid")) {
            if let Some(pid) = pid_file
                .lines()
                .next()
                .and_then(|line| line.trim().parse::<u32>().ok())
            {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
        }
    }
}

impl Drop for ThrowawayCluster {
    fn drop(&mut self) {
        self.stop();
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
        if let Some(root) = self.root.take() {
            let _ = root.close();
        }
    }
}

/// `SCHOOLCARD_PG_BINDIR`, else `pg_config --bindir` when it holds initdb, else the
/// highest `/usr/lib/postgresql/<n>/bin` (Debian keeps initdb off PATH), else PATH.
fn find_bin_dir() -> Option<PathBuf> {
    let has_initdb = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Some(dir) = std::env::var_os("SCHOOLCARD_PG_BINDIR").map(PathBuf::from) {
        return has_initdb(&dir).then_some(dir);
    }
    if let Ok(output) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        if output.status.success() && has_initdb(&dir) {
            return Some(dir);
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let dir = entry.path().join("bin");
            has_initdb(&dir).then_some((version, dir))
        })
        .collect();
    versions.sort();
    if let Some((_, dir)) = versions.pop() {
        return Some(dir);
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .find(|dir| has_initdb(dir))
}

fn effective_uid_is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
        .unwrap_or(false)
}

fn free_port() -> Result<u16, ClusterError> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|source| io("finding a free port", source))?;
    let port = listener
        .local_addr()
        .map_err(|source| io("finding a free port", source))?
        .port();
    Ok(port)
}

fn run(what: &str, command: &mut Command) -> Result<(), ClusterError> {
    let output = command.output().map_err(|source| io(what, source))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(ClusterError::Command {
            what: what.into(),
            output: format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        })
    }
}

fn io(what: &str, source: std::io::Error) -> ClusterError {
    ClusterError::Io {
        what: what.into(),
        source,
    }
}
