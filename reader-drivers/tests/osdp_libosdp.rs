//! The OSDP line against the reference reader: libosdp 3.2.9 (PyPI) running as a PD in a
//! Python child process on the slave side of a pseudo-terminal; the line owns the master.
//!
//! Covered: plain and Secure Channel sessions, a card read becoming an event, OUT
//! commands arriving at the PD, a silent PD going offline and coming back, install mode
//! (KEYSET to a site key, then sessions on it), a plain PD refused on a secure-only line,
//! and an [`OsdpGate`] driving the PD's outputs.
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

use schoolcard_readers::gate::{
    Direction, Gate, GateEvent, OsdpGate, OsdpGateConfig, OsdpPassSource, PassReport,
};
use schoolcard_readers::osdp::card::Wiegand34ByteOrder;
use schoolcard_readers::osdp::line::{LineError, LineEvent, OsdpLine, READ_TIMEOUT_MS};
use schoolcard_readers::osdp::message::{
    BuzzerCommand, BuzzerTone, LedColor, LedCommand, LedPattern, LedPermanent, LedTemporary,
    OutputCode, OutputCommand,
};
use schoolcard_readers::osdp::panel::{
    CommandError, PanelConfig, PanelEvent, PdConfig, PdKey, RefusalReason, OFFLINE_AFTER_MS,
    POLL_INTERVAL_MS, REPLY_TIMEOUT_MS, RETRY_AFTER_MS,
};
use schoolcard_readers::osdp::secure::SecureError;
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

/// How the peer is set up (see `osdp_pd.py`).
#[derive(Debug, Clone, Copy)]
enum PeerKey {
    /// No key, no flags: a reader set up for clear.
    Clear,
    /// No key, install mode: it accepts one SCBK-D session, for KEYSET.
    Install,
    /// Its own SCBK, Secure Channel enforced.
    Scbk([u8; 16]),
}

impl PeerKey {
    fn arg(self) -> String {
        match self {
            PeerKey::Clear => "none".to_owned(),
            PeerKey::Install => "install".to_owned(),
            PeerKey::Scbk(key) => hex(&key),
        }
    }
}

/// The libosdp PD in its child process. Dropping it kills the child by its pid.
struct Peer {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
}

impl Peer {
    fn start(pty_path: &str, key: PeerKey) -> Peer {
        let mut child = Command::new(python())
            .arg("-u")
            .arg(PEER_SCRIPT)
            .arg(pty_path)
            .arg(PD_ADDR.to_string())
            .arg(key.arg())
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

    /// The next `count` OUT records the PD executed, as `"output code timer"`.
    fn outs(&mut self, count: usize) -> Vec<String> {
        (0..count)
            .map(|_| {
                let line = self.expect_line(STEP_MS_MAX, |line| line.contains("\"out\""));
                let (_, out) = line.split_once("\"out\": \"").expect("an out field");
                out.split('"').next().expect("a closing quote").to_owned()
            })
            .collect()
    }

    /// Asserts that no OUT record arrives within `wait_ms`.
    fn no_outs_within(&mut self, wait_ms: u64) {
        let deadline = Instant::now() + Duration::from_millis(wait_ms);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => assert!(!line.contains("\"out\""), "unexpected {line}"),
                Err(_) => return,
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
    /// A peer and a line with a secure-only policy where a key is configured.
    fn start(scbk: Option<[u8; 16]>) -> Rig {
        let peer = scbk.map_or(PeerKey::Clear, PeerKey::Scbk);
        let key = scbk.map_or(PdKey::Clear, PdKey::Scbk);
        Rig::with(peer, key, scbk.is_some())
    }

    /// The peer set up as `peer`, the panel reaching it with `key`.
    fn with(peer_key: PeerKey, key: PdKey, secure_only: bool) -> Rig {
        let (mut master, slave, peer) = {
            let _guard = FD_INHERIT_LOCK
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let (master, slave) = TTYPort::pair().expect("pseudo-terminal pair");
            close_on_exec(&master);
            close_on_exec(&slave);
            let path = slave.name().expect("slave path");
            // The peer first: it makes its end raw before any frame is sent.
            let peer = Peer::start(&path, peer_key);
            (master, slave, peer)
        };
        master
            .set_timeout(Duration::from_millis(READ_TIMEOUT_MS))
            .expect("read timeout");
        let config = PanelConfig {
            pds: vec![PdConfig {
                addr: PD_ADDR,
                name: PD_NAME.to_owned(),
                key,
                wiegand34: Wiegand34ByteOrder::AsSent,
            }],
            secure_only,
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

    /// The events of the next `wait_ms`.
    fn events_for(&self, wait_ms: u64) -> Vec<LineEvent> {
        let deadline = Instant::now() + Duration::from_millis(wait_ms);
        let mut seen = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.events.recv_timeout(left) {
                Ok(event) => seen.push(event),
                Err(_) => break,
            }
        }
        seen
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
    let mut rig = Rig::start(scbk);
    rig_round(&mut rig, scbk.is_some());
}

/// The round on a line already started: online (`secure` or not), a card, a relay pulse,
/// an LED and a beep.
fn rig_round(rig: &mut Rig, expected_secure: bool) {
    let started = Instant::now();
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
    assert_eq!(secure, expected_secure);
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

    let green = LedPattern {
        on_100ms: 1,
        off_100ms: 0,
        on_color: LedColor::Green,
        off_color: LedColor::Black,
    };
    let led = LedCommand {
        reader: 0,
        led: 0,
        temporary: LedTemporary::Set {
            pattern: green,
            timer_100ms: 20,
        },
        permanent: LedPermanent::Nop,
    };
    rig.line.led(PD_NAME, led).expect("queue LED");
    let seen = rig
        .peer
        .expect_line(STEP_MS_MAX, |line| line.contains("\"command\""));
    eprintln!("LED at the PD: {seen}");
    for field in [
        "\"led_number\": 0",
        "\"on_color\": 2",
        "\"timer_count\": 20",
    ] {
        assert!(seen.contains(field), "{field} not in {seen}");
    }
    let beep = BuzzerCommand {
        reader: 0,
        tone: BuzzerTone::Default,
        on_100ms: 3,
        off_100ms: 1,
        count: 2,
    };
    rig.line.buzzer(PD_NAME, beep).expect("queue BUZ");
    let seen = rig
        .peer
        .expect_line(STEP_MS_MAX, |line| line.contains("\"command\""));
    eprintln!("BUZ at the PD: {seen}");
    for field in ["\"on_count\": 3", "\"off_count\": 1", "\"rep_count\": 2"] {
        assert!(seen.contains(field), "{field} not in {seen}");
    }
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

    // SAFETY: as above.
    assert_eq!(unsafe { libc::kill(rig.peer.pid(), libc::SIGCONT) }, 0);
    let resumed = Instant::now();
    rig.expect_event(
        RETRY_AFTER_MS + STEP_MS_MAX,
        |event| matches!(event, PanelEvent::PdOnline { name, .. } if name == PD_NAME),
    );
    eprintln!("online again {:?} after it resumed", resumed.elapsed());
}

/// A site key (any 16 bytes but SCBK-D).
const SITE_KEY: [u8; 16] = [
    0x5C, 0x00, 0x1C, 0xA2, 0xD0, 0x51, 0x7E, 0x9B, 0x44, 0x13, 0xE8, 0x6F, 0x20, 0xA7, 0x3D, 0xC5,
];

/// Install mode: the reference PD in install mode takes the site key by KEYSET inside an
/// SCBK-D session, the panel reports it and comes online on a session with the site key;
/// then the PD, restarted with the site key as its own and no install mode, is reached
/// with that key by a panel configured the way the caller stores it.
#[test]
fn a_libosdp_pd_in_install_mode_is_given_the_site_key_and_then_reached_with_it() {
    let mut rig = Rig::with(
        PeerKey::Install,
        PdKey::Install { site_key: SITE_KEY },
        true,
    );
    let keyset = rig
        .peer
        .expect_line(STEP_MS_MAX, |line| line.contains("\"command\""));
    eprintln!("KEYSET at the PD: {keyset}");
    assert!(keyset.contains(&hex(&SITE_KEY)), "the site key in {keyset}");
    rig.expect_event(
        STEP_MS_MAX,
        |event| matches!(event, PanelEvent::KeySet { name } if name == PD_NAME),
    );
    rig_round(&mut rig, true);
    rig.peer.send("status");
    let status = rig
        .peer
        .expect_line(STEP_MS_MAX, |line| line.contains("sc_active"));
    assert!(status.contains("true"), "{status}");
    drop(rig);

    card_and_relay_round(Some(SITE_KEY));
}

/// A PD that took the site key earlier (its ACK lost, or set up by hand) is found out by
/// an install configuration's handshake: reported as holding the key, online on it.
#[test]
fn a_libosdp_pd_that_already_holds_the_site_key_is_recognised() {
    let mut rig = Rig::with(
        PeerKey::Scbk(SITE_KEY),
        PdKey::Install { site_key: SITE_KEY },
        true,
    );
    rig.expect_event(
        STEP_MS_MAX,
        |event| matches!(event, PanelEvent::KeySet { name } if name == PD_NAME),
    );
    rig_round(&mut rig, true);
}

/// A reader set up for clear, on a line that demands the Secure Channel: refused (the
/// panel has a key for it, which it does not hold; or no key at all), never polled, and
/// a card shown to it never becomes an event.
#[test]
fn a_plain_libosdp_pd_is_refused_on_a_secure_only_line() {
    let cases = [
        (
            PdKey::Scbk(SITE_KEY),
            RefusalReason::Handshake(SecureError::ClientCryptogram),
        ),
        (PdKey::Clear, RefusalReason::NoKey),
    ];
    for (key, expected) in cases {
        let mut rig = Rig::with(PeerKey::Clear, key, true);
        let refused = rig.expect_event(STEP_MS_MAX, |event| {
            matches!(
                event,
                PanelEvent::Refused { .. } | PanelEvent::PdOnline { .. }
            )
        });
        assert_eq!(
            refused,
            PanelEvent::Refused {
                name: PD_NAME.to_owned(),
                reason: expected
            }
        );
        rig.peer
            .send(&format!("card 26 {}", hex(&wiegand26_bytes(123, 45678))));
        rig.peer
            .expect_line(STEP_MS_MAX, |line| line.contains("submitted"));
        // Many poll intervals: a polled PD would have handed the card over.
        let events = rig.events_for(20 * POLL_INTERVAL_MS);
        assert!(events.is_empty(), "nothing after the refusal: {events:?}");
        let pulse = OutputCommand {
            output: 0,
            code: OutputCode::TemporaryOn,
            timer_100ms: 1,
        };
        assert!(matches!(
            rig.line.output(PD_NAME, pulse),
            Err(LineError::Command(CommandError::NotOnline { .. }))
        ));
    }
}

/// An [`OsdpGate`] on the reference PD's two outputs, through a Secure Channel session:
/// the records of an opening, an emergency unlock (openings then send nothing) and a lock
/// arrive at the PD with the right output numbers, control codes and timers, and the
/// pass is assumed after the pulse.
#[test]
fn an_osdp_gate_drives_the_libosdp_pd_outputs() {
    let mut rig = Rig::start(Some(SITE_KEY));
    rig.expect_event(STEP_MS_MAX, |event| {
        matches!(event, PanelEvent::PdOnline { secure: true, .. })
    });
    let (gate_events_tx, gate_events) = mpsc::channel();
    let config = OsdpGateConfig {
        pulse: Duration::from_millis(300),
        pass: OsdpPassSource::Assumed(PassReport::AssumeAfterPulse),
        ..OsdpGateConfig::new(PD_NAME)
    };
    let gate = OsdpGate::new(rig.line.commands(), config, gate_events_tx).expect("gate");

    gate.open(Direction::Exit).expect("open");
    assert_eq!(
        gate_events.try_recv(),
        Ok(GateEvent::PassConfirmed {
            direction: Direction::Exit
        })
    );
    // Output 1: permanent off, then on for 3 × 100 ms.
    assert_eq!(rig.peer.outs(2), ["1 1 0", "1 5 3"]);

    gate.emergency_unlock().expect("unlock");
    assert_eq!(rig.peer.outs(2), ["0 2 0", "1 2 0"]);
    gate.open(Direction::Entry).expect("no-op while held open");
    rig.peer.no_outs_within(10 * POLL_INTERVAL_MS);
    assert!(gate_events.try_recv().is_err());

    gate.lock().expect("lock");
    assert_eq!(rig.peer.outs(2), ["0 1 0", "1 1 0"]);
}

/// An [`OsdpGate`] whose pass sensor is input 0 of the reference PD: the PD's input
/// report, fed to the gate from the line's events, confirms the opening.
#[test]
fn an_osdp_gate_hears_the_pass_from_a_libosdp_pd_input() {
    let mut rig = Rig::start(Some(SITE_KEY));
    rig.expect_event(STEP_MS_MAX, |event| {
        matches!(event, PanelEvent::PdOnline { secure: true, .. })
    });
    let (gate_events_tx, gate_events) = mpsc::channel();
    let config = OsdpGateConfig {
        pass: OsdpPassSource::Input {
            input: 0,
            window: Duration::from_millis(STEP_MS_MAX),
        },
        ..OsdpGateConfig::new(PD_NAME)
    };
    let gate = OsdpGate::new(rig.line.commands(), config, gate_events_tx).expect("gate");
    gate.open(Direction::Entry).expect("open");
    assert_eq!(rig.peer.outs(2), ["0 1 0", "0 5 2"]);
    rig.peer.send("inputs 0100");
    // The application's part: the line's events go to the gate.
    let deadline = Instant::now() + Duration::from_millis(STEP_MS_MAX);
    let pass = loop {
        if let Ok(event) = gate_events.try_recv() {
            break event;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match rig.events.recv_timeout(left) {
            Ok(LineEvent::Panel(event)) => {
                eprintln!("line: {event:?}");
                gate.on_panel_event(&event).expect("fed to the gate");
            }
            Ok(other) => panic!("{other:?}"),
            Err(error) => panic!("no pass: {error}"),
        }
    };
    assert_eq!(
        pass,
        GateEvent::PassConfirmed {
            direction: Direction::Entry
        }
    );
}
