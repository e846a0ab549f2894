//! tauri-driver for the tests that drive the real window over WebDriver (`e2e`,
//! `install`): started on free ports, stopped with SIGTERM so it takes WebKitWebDriver
//! down with it (BUILD.md), by its own process id.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long tauri-driver may take to listen.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(10);
/// How long it may take to exit after SIGTERM before it is killed.
const EXIT_TIMEOUT: Duration = Duration::from_secs(5);

pub struct Driver {
    child: Child,
    /// The WebDriver port to connect to (`http://127.0.0.1:{port}`).
    pub port: u16,
}

impl Driver {
    /// tauri-driver (`TAURI_DRIVER`, which `make test` sets), with `env` added to the
    /// environment the app inherits.
    pub fn start(env: &[(&str, &OsStr)]) -> Driver {
        let bin = PathBuf::from(
            std::env::var_os("TAURI_DRIVER")
                .expect("TAURI_DRIVER: the tauri-driver binary (make test sets it)"),
        );
        assert!(
            bin.exists(),
            "{} is missing: run `make test`, which installs it",
            bin.display()
        );
        let port = free_port();
        let native_port = free_port();
        let child = Command::new(bin)
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native_port.to_string(),
            ])
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("tauri-driver starts");
        let deadline = Instant::now() + LISTEN_TIMEOUT;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "tauri-driver did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Driver { child, port }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // SAFETY: kill has no memory preconditions; the pid is our own child's.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + EXIT_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port free at the moment of asking.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
