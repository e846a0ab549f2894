//! The OSDP line against the reference reader: libosdp 3.2.9 (PyPI) running as a PD in a
//! Python child process on the slave side of a pseudo-terminal; the line owns the master.
//!
//! The interpreter is `SCHOOLCARD_OSDP_PYTHON`, by default
//! `$HOME/.cache/schoolcard/venv/bin/python` (made by `installers/setup.sh`). Without it
//! the tests fail: a skipped peer test would pass while proving nothing.
#![cfg(unix)]

use std::io::{BufRead, BufReader, Write};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{mpsc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use schoolcard_readers::osdp::card::Wiegand34ByteOrder;
use schoolcard_readers::osdp::line::{LineEvent, OsdpLine, READ_TIMEOUT_MS};
use schoolcard_readers::osdp::message::{OutputCode, OutputCommand};
use schoolcard_readers::osdp::panel::{
    PanelConfig, PanelEvent, PdConfig, PdKey, OFFLINE_AFTER_MS, REPLY_TIMEOUT_MS,
};
use schoolcard_readers::CardId;
use serialport::{SerialPort, TTYPort};

const PEER_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/osdp_pd.py");

/// The PD's address on the line.
const PD_ADDR: u8 = 101;
/// The PD's name in the panel's configuration.
const PD_NAME: &str = "gate";

/// Longest wait for the Python peer to import libosdp and start, in milliseconds.
const PEER_START_MS_MAX: u64 = 10_000;
/// Longest wait for one step on the line (online, a card, a command), in milliseconds:
/// many 50 ms polls; a handshake takes a handful.
const STEP_MS_MAX: u64 = 3_000;

/// Held while a pseudo-terminal is made and while the peer is started: `TTYPort::pair`
/// opens both sides without close-on-exec, and a peer started by a parallel test in
/// between would inherit this test's descriptors.
static FD_INHERIT_LOCK: Mutex<()> = Mutex::new(());

fn close_on_exec(fd: &impl AsRawFd) {
    // SAFETY: F_SETFD on a descriptor this process owns.
    let result = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) };
    assert_eq!(result, 0, "fcntl(FD_CLOEXEC)");
}

fn python() -> PathBuf {
    let path = match std::env::var_os("SCHOOLCARD_OSDP_PYTHON") {
        Some(path) => PathBuf::from(path),
        None => {
            let home = std::env::var_os("HOME").expect("HOME is not set");
            PathBuf::from(home).join(".cache/schoolcard/venv/bin/python")
        }
    };
    assert!(
        path.exists(),
        "the OSDP reference peer needs a Python with libosdp==3.2.9 at {} \
         (run installers/setup.sh, or set SCHOOLCARD_OSDP_PYTHON)",
        path.display()
    );
    path
}

/// The libosdp PD in its child process. Dropping it kills the child by its pid.
struct Peer {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
}

impl Peer {
    fn start(pty_path: &str, scbk: Option<[u8; 16]>) -> Peer {
        let key = scbk.map_or_else(
            || "none".to_owned(),
            |key| key.iter().map(|byte| format!("{byte:02x}")).collect(),
        );
        let mut child = Command::new(python())
            .arg("-u")
            .arg(PEER_SCRIPT)
            .arg(pty_path)
            .arg(PD_ADDR.to_string())
            .arg(key)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the Python OSDP peer");
        let stdin = child.stdin.take().expect("peer stdin");
        let stdout = child.stdout.take().expect("peer stdout");
        let (lines_tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                eprintln!("peer: {line}");
                if lines_tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut peer = Peer {
            child,
            stdin,
            lines,
        };
        peer.expect_line(PEER_START_MS_MAX, |line| line.contains("\"ready\""));
        peer
    }

    fn pid(&self) -> libc::pid_t {
        libc::pid_t::try_from(self.child.id()).expect("pid")
    }

    fn send(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").expect("write to the peer");
        self.stdin.flush().expect("flush to the peer");
    }

    fn expect_line(&mut self, wait_ms: u64, wanted: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_millis(wait_ms);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if wanted(&line) => return line,
                Ok(_) => {}
                Err(error) => panic!("peer line not seen in {wait_ms} ms: {error}"),
            }
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child's pid, not yet reaped (so not reused).
        unsafe { libc::kill(self.pid(), libc::SIGKILL) };
        let _ = self.child.wait();
    }
}

/// A line on the master side of a fresh pseudo-terminal, with the peer on its slave side.
struct Rig {
    // Declared first: the line stops before the peer is killed.
    line: OsdpLine,
    events: mpsc::Receiver<LineEvent>,
    peer: Peer,
    // Keeps the slave open so a dying peer does not hang up the master.
    _slave: TTYPort,
}

impl Rig {
    fn start(scbk: Option<[u8; 16]>) -> Rig {
        let (mut master, slave, peer) = {
            let _guard = FD_INHERIT_LOCK
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let (master, slave) = TTYPort::pair().expect("pseudo-terminal pair");
            close_on_exec(&master);
            close_on_exec(&slave);
            let path = slave.name().expect("slave path");
            // The peer first: it makes its end raw before any frame is sent.
            let peer = Peer::start(&path, scbk);
            (master, slave, peer)
        };
        master
            .set_timeout(Duration::from_millis(READ_TIMEOUT_MS))
            .expect("read timeout");
        let config = PanelConfig {
            pds: vec![PdConfig {
                addr: PD_ADDR,
                name: PD_NAME.to_owned(),
                key: scbk.map_or(PdKey::Clear, PdKey::Scbk),
                wiegand34: Wiegand34ByteOrder::AsSent,
            }],
            secure_only: scbk.is_some(),
        };
        let (events_tx, events) = mpsc::channel();
        let line = OsdpLine::spawn(master, config, events_tx).expect("start the line");
        Rig {
            line,
            events,
            peer,
            _slave: slave,
        }
    }

    fn expect_event(&self, wait_ms: u64, wanted: impl Fn(&PanelEvent) -> bool) -> PanelEvent {
        let deadline = Instant::now() + Duration::from_millis(wait_ms);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(LineEvent::Panel(event)) if wanted(&event) => return event,
                Ok(other) => eprintln!("line: {other:?}"),
                Err(error) => panic!("line event not seen in {wait_ms} ms: {error}"),
            }
        }
    }
}

/// The bits of a Wiegand-26 card, left-aligned in 4 bytes as a RAW reply carries them:
/// even parity over the first 12 data bits, facility, number, odd parity over the last 12.
fn wiegand26_bytes(facility: u8, number: u16) -> [u8; 4] {
    let data = (u32::from(facility) << 16) | u32::from(number);
    let even = (data >> 12).count_ones() % 2;
    let odd = 1 - (data & 0xFFF).count_ones() % 2;
    let bits26 = (even << 25) | (data << 1) | odd;
    (bits26 << 6).to_be_bytes()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Online, a card from the PD, a relay pulse to the PD: the whole round on one line.
fn card_and_relay_round(scbk: Option<[u8; 16]>) {
    let started = Instant::now();
    let mut rig = Rig::start(scbk);
    let online = rig.expect_event(STEP_MS_MAX, |event| {
        matches!(event, PanelEvent::PdOnline { .. })
    });
    let PanelEvent::PdOnline {
        name, id, secure, ..
    } = online
    else {
        unreachable!()
    };
    assert_eq!(name, PD_NAME);
    assert_eq!(secure, scbk.is_some());
    // The identity given to the peer: vendor 0xC0FFEE (sent LSB first), model 3,
    // version 2, serial 0x12345678, firmware 1.2.3.
    assert_eq!(id.vendor, [0xEE, 0xFF, 0xC0]);
    assert_eq!((id.model, id.version, id.serial), (3, 2, 0x1234_5678));
    assert_eq!(
        (id.firmware.major, id.firmware.minor, id.firmware.build),
        (1, 2, 3)
    );
    eprintln!("online after {:?}", started.elapsed());

    let card = wiegand26_bytes(123, 45678);
    rig.peer.send(&format!("card 26 {}", hex(&card)));
    let read = rig.expect_event(STEP_MS_MAX, |event| {
        matches!(event, PanelEvent::CardRead { .. })
    });
    let PanelEvent::CardRead { name, card, raw } = read else {
        unreachable!()
    };
    assert_eq!(name, PD_NAME);
    assert_eq!(card, Ok(CardId::wiegand26(123, 45678)));
    assert_eq!(raw.bits, 26);
    eprintln!("card read after {:?}", started.elapsed());

    let pulse = OutputCommand {
        output: 0,
        code: OutputCode::TemporaryOn,
        timer_100ms: 30,
    };
    rig.line.output(PD_NAME, pulse).expect("queue OUT");
    rig.expect_event(
        STEP_MS_MAX,
        |event| matches!(event, PanelEvent::CommandAcked { name, .. } if name == PD_NAME),
    );
    let seen = rig
        .peer
        .expect_line(STEP_MS_MAX, |line| line.contains("\"command\""));
    for field in [
        "\"command\": 1",
        "\"output_no\": 0",
        "\"control_code\": 5",
        "\"timer_count\": 30",
    ] {
        assert!(seen.contains(field), "{field} not in {seen}");
    }
    eprintln!("relay pulse after {:?}", started.elapsed());
}

#[test]
fn libosdp_pd_in_clear_comes_online_reads_a_card_and_takes_a_relay_pulse() {
    card_and_relay_round(None);
}

/// The install-mode key of OSDP, SCBK-D: `30 31 … 3F`.
const SCBK_D: [u8; 16] = [
    0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3A, 0x3B, 0x3C, 0x3D, 0x3E, 0x3F,
];

#[test]
fn libosdp_pd_in_secure_channel_comes_online_reads_a_card_and_takes_a_relay_pulse() {
    card_and_relay_round(Some(SCBK_D));
}

#[test]
fn a_stopped_libosdp_pd_goes_offline() {
    let rig = Rig::start(None);
    rig.expect_event(STEP_MS_MAX, |event| {
        matches!(event, PanelEvent::PdOnline { .. })
    });
    // SAFETY: kill(2) on the peer's pid; the guard kills it for good at the end.
    assert_eq!(unsafe { libc::kill(rig.peer.pid(), libc::SIGSTOP) }, 0);
    let stopped = Instant::now();
    rig.expect_event(
        OFFLINE_AFTER_MS + STEP_MS_MAX,
        |event| matches!(event, PanelEvent::PdOffline { name } if name == PD_NAME),
    );
    let silent = stopped.elapsed();
    eprintln!("offline after {silent:?} of silence");
    assert!(silent >= Duration::from_millis(OFFLINE_AFTER_MS - REPLY_TIMEOUT_MS));
}
