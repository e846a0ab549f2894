//! The installer's tool, run as a process against real pseudo-terminals: the test holds
//! the master side and plays the reader or the relay board; the tool opens the slave path
//! as it would open `/dev/ttyUSB0`.
#![cfg(unix)]

use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::AsRawFd;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use serialport::{SerialPort, TTYPort};

const BIN: &str = env!("CARGO_BIN_EXE_schoolcard-readers");

/// Longest a test waits for the tool to react, in milliseconds: many read polls, far
/// below a hung test. A child still running after it is killed.
const WAIT_MS_MAX: u64 = 3_000;

/// Held while a pseudo-terminal is made and while a tool is started. `TTYPort::pair`
/// opens both sides without close-on-exec; were a child started by a parallel test in
/// between, it would keep this test's master open and a hang-up would never be seen.
static FD_INHERIT_LOCK: Mutex<()> = Mutex::new(());

fn close_on_exec(fd: &impl AsRawFd) {
    // SAFETY: F_SETFD on a descriptor this process owns.
    let result = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) };
    assert_eq!(result, 0, "fcntl(FD_CLOEXEC)");
}

/// A pseudo-terminal standing in for a USB device: `master` is the device's side.
struct FakeDevice {
    master: TTYPort,
    // Keeps the slave side open so the path stays valid until the tool opens it.
    _slave: TTYPort,
    path: String,
}

impl FakeDevice {
    fn new() -> FakeDevice {
        let (master, slave) = {
            let _inherit = FD_INHERIT_LOCK
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let (master, slave) = TTYPort::pair().expect("pseudo-terminal");
            close_on_exec(&master);
            close_on_exec(&slave);
            (master, slave)
        };
        let path = slave.name().expect("slave has a path");
        FakeDevice {
            master,
            _slave: slave,
            path,
        }
    }

    fn write(&mut self, bytes: &[u8]) {
        self.master.write_all(bytes).expect("write to pty");
        self.master.flush().expect("flush pty");
    }

    /// Reads until `len` bytes came or the wait is over.
    fn read(&mut self, len: usize) -> Vec<u8> {
        self.master
            .set_timeout(Duration::from_millis(50))
            .expect("pty timeout");
        let deadline = Instant::now() + Duration::from_millis(WAIT_MS_MAX);
        let mut received = Vec::new();
        let mut buffer = [0u8; 64];
        while received.len() < len && Instant::now() < deadline {
            match self.master.read(&mut buffer) {
                Ok(count) => received.extend_from_slice(&buffer[..count]),
                Err(error) if error.kind() == std::io::ErrorKind::TimedOut => {}
                Err(error) => panic!("reading the pty: {error}"),
            }
        }
        received
    }
}

/// The tool running, its stdout delivered line by line.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Running {
    fn start(args: &[&str]) -> Running {
        let _inherit = FD_INHERIT_LOCK
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut child = Command::new(BIN)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("tool starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Running {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for a stdout line containing `text`.
    fn wait_for(&mut self, text: &str) {
        let deadline = Instant::now() + Duration::from_millis(WAIT_MS_MAX);
        while !self.seen.iter().any(|line| line.contains(text)) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(_) => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    panic!("no line with {text:?}; stdout so far: {:#?}", self.seen);
                }
            }
        }
    }

    /// Waits for the tool to exit (killing it if it overstays); its status and stdout.
    fn finish(mut self) -> (ExitStatus, Vec<String>) {
        let deadline = Instant::now() + Duration::from_millis(WAIT_MS_MAX);
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("child status") {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("tool did not exit in time; stdout: {:#?}", self.seen);
            }
            thread::sleep(Duration::from_millis(10));
        };
        // The pipe closes with the process: the rest of stdout is already on its way.
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(WAIT_MS_MAX)) {
            self.seen.push(line);
        }
        (status, self.seen)
    }
}

/// Runs the tool to completion without a device; status, stdout, stderr.
fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let mut running = Running::start(args);
    let mut stderr = String::new();
    running
        .child
        .stderr
        .take()
        .expect("piped stderr")
        .read_to_string(&mut stderr)
        .expect("stderr");
    let (status, stdout) = running.finish();
    (status.code(), stdout.join("\n"), stderr)
}

#[test]
fn watch_prints_each_card_in_every_form_and_stops_after_count() {
    let mut reader = FakeDevice::new();
    let mut tool = Running::start(&["watch", "--port", &reader.path, "--count", "2"]);
    tool.wait_for("online");
    reader.write(b"Em-Marine[5500] 126,58404\r\n");
    reader.write(b"line noise\r\nNo card\r\n");
    reader.write(b"Mifare[BCD14264] 1K (0004,08) 066,53692,\r\n");
    let (status, stdout) = tool.finish();
    assert!(status.success(), "{status}; stdout: {stdout:#?}");

    let cards: Vec<&String> = stdout
        .iter()
        .filter(|line| line.contains(" card "))
        .collect();
    let expected = [
        // canonical, hex, Wiegand-26 pair, decimal, raw
        (
            "card 40:55007EE424",
            "hex 55007EE424",
            "w26 126,58404",
            "dec 365080536100",
            "raw \"Em-Marine[5500] 126,58404\"",
        ),
        (
            "card 32:BCD14264",
            "hex BCD14264",
            "w26 209,16996",
            "dec 3167830628",
            "raw \"Mifare[BCD14264] 1K (0004,08) 066,53692,\"",
        ),
    ];
    assert_eq!(cards.len(), expected.len(), "stdout: {stdout:#?}");
    for (line, (canonical, hex, pair, decimal, raw)) in cards.iter().zip(expected) {
        for part in [canonical, hex, pair, decimal, raw, &reader.path] {
            assert!(line.contains(part), "{part:?} missing from {line:?}");
        }
    }
    assert!(
        stdout
            .iter()
            .any(|line| line.contains("1 line(s) not understood")),
        "noise not reported: {stdout:#?}"
    );
    assert!(
        stdout
            .iter()
            .any(|line| line.starts_with("stopped: 2 cards, 1 lines not understood")),
        "no summary: {stdout:#?}"
    );
}

#[test]
fn watch_reads_the_configured_pattern() {
    let mut reader = FakeDevice::new();
    let pattern = r"pattern:^CARD (?P<fac>\d+)/(?P<num>\d+)$";
    let mut tool = Running::start(&[
        "watch",
        "--port",
        &reader.path,
        "--format",
        pattern,
        "--count",
        "1",
    ]);
    tool.wait_for("online");
    reader.write(b"CARD 123/45678\n");
    let (status, stdout) = tool.finish();
    assert!(status.success(), "{status}; stdout: {stdout:#?}");
    assert!(
        stdout
            .iter()
            .any(|line| line.contains("card 24:7BB26E") && line.contains("dec 8106606")),
        "stdout: {stdout:#?}"
    );
}

#[test]
fn watch_reports_the_port_going_offline() {
    let reader = FakeDevice::new();
    let mut tool = Running::start(&["watch", "--port", &reader.path, "--seconds", "2"]);
    tool.wait_for("online");
    // The device side hangs up: the slave read fails and the pts path disappears.
    drop(reader);
    tool.wait_for("offline");
    let (status, _) = tool.finish();
    assert!(status.success());
}

#[test]
fn watch_stops_cleanly_on_ctrl_c() {
    let reader = FakeDevice::new();
    let mut tool = Running::start(&["watch", "--port", &reader.path]);
    tool.wait_for("online");
    let pid = libc::pid_t::try_from(tool.child.id()).expect("pid fits");
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let (status, stdout) = tool.finish();
    assert!(status.success(), "{status}; stdout: {stdout:#?}");
    assert!(
        stdout
            .iter()
            .any(|line| line.starts_with("stopped: 0 cards")),
        "stdout: {stdout:#?}"
    );
}

#[test]
fn pulse_closes_and_opens_the_relay_once() {
    for (channel, expected) in [
        ("1", [0xA0, 0x01, 0x01, 0xA2, 0xA0, 0x01, 0x00, 0xA1]),
        ("2", [0xA0, 0x02, 0x01, 0xA3, 0xA0, 0x02, 0x00, 0xA2]),
    ] {
        let mut board = FakeDevice::new();
        let tool = Running::start(&[
            "pulse",
            "--port",
            &board.path,
            "--channel",
            channel,
            "--hold-ms",
            "100",
        ]);
        let received = board.read(expected.len());
        let (status, stdout) = tool.finish();
        assert!(status.success(), "{status}; stdout: {stdout:#?}");
        assert_eq!(received, expected, "channel {channel}");
        let sent: Vec<&String> = stdout
            .iter()
            .filter(|line| line.contains(" sent "))
            .collect();
        assert_eq!(sent.len(), 2, "stdout: {stdout:#?}");
        assert!(
            sent[0].contains(&format!("sent A0 0{channel} 01")),
            "{}",
            sent[0]
        );
        assert!(
            sent[1].contains(&format!("sent A0 0{channel} 00")),
            "{}",
            sent[1]
        );
    }
}

#[test]
fn wrong_command_lines_exit_2_with_one_line() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["watch", "--port", "/dev/null", "--format", "wiegand"],
            "bad --format \"wiegand\"",
        ),
        (
            &["watch", "--port", "/dev/null", "--format", "pattern:("],
            "bad --format pattern",
        ),
        (
            &["watch", "--port", "/dev/null", "--format", "pattern:\\d+"],
            "named group",
        ),
        (&["watch", "--format", "hex"], "watch needs --port"),
        (&["watch", "--port"], "--port needs a value"),
        (
            &["watch", "--port", "/dev/null", "--count", "0"],
            "bad --count",
        ),
        (
            &["watch", "--port", "/dev/null", "--speed", "1"],
            "unknown option \"--speed\"",
        ),
        (&["pulse", "--channel", "1"], "pulse needs --port"),
        (&["pulse", "--port", "/dev/null"], "pulse needs --channel"),
        (
            &["pulse", "--port", "/dev/null", "--channel", "0"],
            "bad --channel",
        ),
        (
            &[
                "pulse",
                "--port",
                "/dev/null",
                "--channel",
                "1",
                "--hold-ms",
                "50",
            ],
            "bad --hold-ms",
        ),
        (&["ports", "--all", "x"], "unknown option"),
        (&["listen"], "unknown command \"listen\""),
    ];
    for &(args, message) in cases {
        let (code, stdout, stderr) = run(args);
        assert_eq!(code, Some(2), "{args:?}: stderr {stderr:?}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: stderr {stderr:?}");
        assert!(
            stderr.contains(message),
            "{args:?}: {stderr:?} lacks {message:?}"
        );
        assert!(stdout.is_empty(), "{args:?}: stdout {stdout:?}");
    }
}

#[test]
fn missing_ports_fail_with_exit_1() {
    let path = "/dev/schoolcard-no-such-port";
    for args in [
        &["watch", "--port", path][..],
        &["pulse", "--port", path, "--channel", "1"][..],
    ] {
        let (code, _, stderr) = run(args);
        assert_eq!(code, Some(1), "{args:?}: stderr {stderr:?}");
        assert!(stderr.contains(path), "{args:?}: {stderr:?}");
    }
}

#[test]
fn help_is_printed_for_the_tool_and_each_command() {
    for (args, first_line) in [
        (&[][..], "schoolcard-readers — "),
        (&["--help"][..], "schoolcard-readers — "),
        (&["ports", "--help"][..], "Usage: schoolcard-readers ports"),
        (
            &["watch", "--help"][..],
            "Usage: schoolcard-readers watch --port PATH",
        ),
        (
            &["pulse", "-h"][..],
            "Usage: schoolcard-readers pulse --port PATH --channel N",
        ),
    ] {
        let (code, stdout, stderr) = run(args);
        assert_eq!(code, Some(0), "{args:?}: {stderr:?}");
        assert!(stdout.starts_with(first_line), "{args:?}: {stdout}");
    }
}

#[test]
fn ports_lists_without_failing() {
    let (code, stdout, stderr) = run(&["ports"]);
    assert_eq!(code, Some(0), "{stderr:?}");
    assert!(!stdout.is_empty());
}
