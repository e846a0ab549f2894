use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::*;
use crate::osdp::card::Wiegand34ByteOrder;
use crate::osdp::frame::{Frame, FrameDecoder};
use crate::osdp::line::{LineError, LineEvent, OsdpLine};
use crate::osdp::message::{command_code, reply_code};
use crate::osdp::panel::{CommandError, PanelConfig, PanelEvent, PdConfig, PdKey};

/// The PD's address and name on the test line.
const PD_ADDR: u8 = 7;
const PD_NAME: &str = "turnstile";

/// Longest a test waits for the line, in milliseconds: many 50 ms polls.
const WAIT_MS_MAX: u64 = 3_000;

/// What the scripted PD has seen, shared with the test.
#[derive(Debug, Default)]
struct PdLog {
    /// Answers nothing while set.
    silent: bool,
    /// How long each reply takes, as a slow PD's would.
    reply_delay: Duration,
    /// The data of every OUT command, in order.
    outs: Vec<Vec<u8>>,
    /// Input reports for the next POLLs (ISTATR, one byte per input).
    input_reports: VecDeque<Vec<u8>>,
}

/// A port with a PD behind it that answers at once, in clear: PDID, PDCAP with two
/// outputs, ACK to everything else, and logs OUT commands.
struct ScriptedPdPort {
    log: Arc<Mutex<PdLog>>,
    decoder: FrameDecoder,
    /// Reply bytes, each with the instant it may be read.
    replies: VecDeque<(Instant, u8)>,
}

impl ScriptedPdPort {
    fn reply(&self, command: &Frame) -> Vec<u8> {
        let (code, data) = match command.code {
            command_code::ID => (
                reply_code::PDID,
                vec![0x0A, 0x00, 0xEA, 1, 2, 0x78, 0x56, 0x34, 0x12, 3, 4, 5],
            ),
            // Contact status monitoring: two inputs; output control: two outputs.
            command_code::CAP => (reply_code::PDCAP, vec![1, 1, 2, 2, 1, 2]),
            command_code::POLL => match self.log.lock().unwrap().input_reports.pop_front() {
                Some(report) => (reply_code::ISTATR, report),
                None => (reply_code::ACK, vec![]),
            },
            _ => (reply_code::ACK, vec![]),
        };
        Frame {
            addr: PD_ADDR,
            reply: true,
            sqn: command.sqn,
            use_crc: true,
            scb: None,
            code,
            data,
            mac: None,
        }
        .encode()
        .expect("replies encode")
    }
}

impl Write for ScriptedPdPort {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        for frame in self.decoder.push(buf) {
            let frame = frame.expect("the panel sends valid frames");
            let mut log = self.log.lock().unwrap();
            if log.silent {
                continue;
            }
            if frame.code == command_code::OUT {
                log.outs.push(frame.data.clone());
            }
            let ready_at = Instant::now() + log.reply_delay;
            drop(log);
            let reply = self.reply(&frame);
            self.replies
                .extend(reply.into_iter().map(|byte| (ready_at, byte)));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Read for ScriptedPdPort {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let now = Instant::now();
        let ready = self
            .replies
            .iter()
            .take_while(|(ready_at, _)| *ready_at <= now)
            .count();
        if ready == 0 {
            thread::sleep(Duration::from_millis(1));
            return Err(io::Error::from(io::ErrorKind::TimedOut));
        }
        let len = buf.len().min(ready);
        for (slot, (_, byte)) in buf.iter_mut().zip(self.replies.drain(..len)) {
            *slot = byte;
        }
        Ok(len)
    }
}

/// A line with the scripted PD, its log and its events.
struct Rig {
    line: OsdpLine,
    events: mpsc::Receiver<LineEvent>,
    log: Arc<Mutex<PdLog>>,
}

impl Rig {
    fn start(silent: bool) -> Rig {
        Rig::with_delay(silent, Duration::ZERO)
    }

    fn with_delay(silent: bool, reply_delay: Duration) -> Rig {
        let log = Arc::new(Mutex::new(PdLog {
            silent,
            reply_delay,
            outs: Vec::new(),
            input_reports: VecDeque::new(),
        }));
        let port = ScriptedPdPort {
            log: Arc::clone(&log),
            decoder: FrameDecoder::new(),
            replies: VecDeque::new(),
        };
        let config = PanelConfig {
            pds: vec![PdConfig {
                addr: PD_ADDR,
                name: PD_NAME.to_owned(),
                key: PdKey::Clear,
                wiegand34: Wiegand34ByteOrder::AsSent,
            }],
            secure_only: false,
        };
        let (events_tx, events) = mpsc::channel();
        let line = OsdpLine::spawn(port, config, events_tx).expect("line starts");
        let rig = Rig { line, events, log };
        if !silent {
            rig.wait_online();
        }
        rig
    }

    fn wait_online(&self) {
        let deadline = Instant::now() + Duration::from_millis(WAIT_MS_MAX);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(LineEvent::Panel(PanelEvent::PdOnline { .. })) => return,
                Ok(_) => {}
                Err(error) => panic!("PD not online: {error}"),
            }
        }
    }

    /// Waits until the PD has seen `count` OUT commands and returns them all.
    fn outs(&self, count: usize) -> Vec<Vec<u8>> {
        let deadline = Instant::now() + Duration::from_millis(WAIT_MS_MAX);
        loop {
            let outs = self.log.lock().unwrap().outs.clone();
            if outs.len() >= count {
                return outs;
            }
            assert!(
                Instant::now() < deadline,
                "{count} OUTs not seen: {outs:02x?}"
            );
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Feeds the line's events to `gate` for `wait_ms`, as the application does.
    fn pump(&self, gate: &OsdpGate, wait_ms: u64) {
        let deadline = Instant::now() + Duration::from_millis(wait_ms);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.events.recv_timeout(left) {
                Ok(LineEvent::Panel(event)) => gate.on_panel_event(&event).expect("fed"),
                Ok(LineEvent::PortFailed(error)) => panic!("port failed: {error}"),
                Err(_) => return,
            }
        }
    }

    fn gate(&self, config: OsdpGateConfig) -> (OsdpGate, mpsc::Receiver<GateEvent>) {
        let (tx, rx) = mpsc::channel();
        let gate = OsdpGate::new(self.line.commands(), config, tx).expect("gate config");
        (gate, rx)
    }
}

/// OUT data: output, control code, timer LE.
const PULSE_EXIT_200MS: [u8; 8] = [1, 1, 0, 0, 1, 5, 2, 0];
const PULSE_ENTRY_200MS: [u8; 8] = [0, 1, 0, 0, 0, 5, 2, 0];
const BOTH_OFF: [u8; 8] = [0, 1, 0, 0, 1, 1, 0, 0];
const BOTH_ON: [u8; 8] = [0, 2, 0, 0, 1, 2, 0, 0];

/// Each call, once the line has sent what it queued: the OUT command that reached the
/// PD (none for an opening while held open).
#[test]
fn open_lock_and_emergency_unlock_become_out_commands() {
    let rig = Rig::start(false);
    let (gate, events) = rig.gate(OsdpGateConfig::new(PD_NAME));
    type Call = fn(&OsdpGate) -> Result<(), GateError>;
    let steps: &[(Call, Option<[u8; 8]>)] = &[
        (|gate| gate.open(Direction::Exit), Some(PULSE_EXIT_200MS)),
        (|gate| gate.open(Direction::Entry), Some(PULSE_ENTRY_200MS)),
        (|gate| gate.emergency_unlock(), Some(BOTH_ON)),
        // Held open: an opening sends nothing (a pulse would end in "off").
        (|gate| gate.open(Direction::Entry), None),
        (|gate| gate.lock(), Some(BOTH_OFF)),
        (|gate| gate.open(Direction::Entry), Some(PULSE_ENTRY_200MS)),
    ];
    let mut expected = Vec::new();
    for (at, (call, out)) in steps.iter().enumerate() {
        call(&gate).unwrap_or_else(|error| panic!("step {at}: {error}"));
        match out {
            Some(out) => {
                expected.push(out.to_vec());
                assert_eq!(rig.outs(expected.len()), expected, "step {at}");
            }
            None => {
                // Several poll turns: anything queued would have gone by now.
                thread::sleep(Duration::from_millis(200));
                assert_eq!(rig.log.lock().unwrap().outs, expected, "step {at}");
            }
        }
    }
    assert!(events.try_recv().is_err(), "no sensor, no assumed passes");
}

/// Lock and emergency unlock supersede what is still queued: a pulse queued before an
/// unlock never reaches the PD after it (its "off" would lock the gate again).
#[test]
fn lock_and_unlock_supersede_queued_pulses() {
    // A PD that takes 100 ms per reply (under the 200 ms timeout): the line is busy
    // with a POLL or the first pulse while the other pulses and the unlock are queued,
    // a few ms apart.
    let rig = Rig::with_delay(false, Duration::from_millis(100));
    let (gate, _events) = rig.gate(OsdpGateConfig::new(PD_NAME));
    let pulses = [PULSE_EXIT_200MS, PULSE_ENTRY_200MS, PULSE_EXIT_200MS].map(|out| out.to_vec());
    gate.open(Direction::Exit).unwrap();
    gate.open(Direction::Entry).unwrap();
    gate.open(Direction::Exit).unwrap();
    gate.emergency_unlock().unwrap();
    let deadline = Instant::now() + Duration::from_millis(WAIT_MS_MAX);
    while rig.log.lock().unwrap().outs.last() != Some(&BOTH_ON.to_vec()) {
        assert!(Instant::now() < deadline, "no unlock");
        thread::sleep(Duration::from_millis(5));
    }
    thread::sleep(Duration::from_millis(300));
    let mut outs = rig.log.lock().unwrap().outs.clone();
    assert_eq!(
        outs.pop(),
        Some(BOTH_ON.to_vec()),
        "nothing after the unlock"
    );
    let dropped: Vec<_> = std::iter::from_fn(|| rig.events.try_recv().ok())
        .filter_map(|event| match event {
            LineEvent::Panel(PanelEvent::CommandDropped { command, .. }) => {
                Some(command.encode().1)
            }
            _ => None,
        })
        .collect();
    // What went out before the unlock, then what was dropped: the three pulses in order.
    assert!(
        dropped.len() >= 2,
        "sent {outs:02x?}, dropped {dropped:02x?}"
    );
    assert_eq!([outs, dropped].concat(), pulses);
}

#[test]
fn a_door_on_one_output_and_an_assumed_pass_after_the_pulse() {
    let rig = Rig::start(false);
    let config = OsdpGateConfig {
        entry_output: 0,
        exit_output: 0,
        pulse: Duration::from_millis(150),
        pass: OsdpPassSource::Assumed(PassReport::AssumeAfterPulse),
        ..OsdpGateConfig::new(PD_NAME)
    };
    let (gate, events) = rig.gate(config);
    assert_eq!(gate.pulse(), Duration::from_millis(200), "rounded up");
    let opened = Instant::now();
    gate.open(Direction::Exit).unwrap();
    assert!(opened.elapsed() >= gate.pulse(), "the pulse is waited out");
    assert_eq!(
        events.try_recv(),
        Ok(GateEvent::PassConfirmed {
            direction: Direction::Exit
        })
    );
    gate.lock().unwrap();
    assert_eq!(
        rig.outs(2),
        vec![PULSE_ENTRY_200MS.to_vec(), vec![0, 1, 0, 0]]
    );
}

/// A PD that does not answer: every command fails with the line's reason. An emergency
/// unlock that could not be sent is still held: openings do nothing, and `restore` sends
/// it once the PD is online; after a lock, `restore` sends "off".
#[test]
fn an_unlock_missed_while_offline_is_held_and_restored() {
    let rig = Rig::start(true);
    let (gate, _events) = rig.gate(OsdpGateConfig::new(PD_NAME));
    let not_online = |result: Result<(), GateError>| {
        matches!(
            result,
            Err(GateError::Osdp(LineError::Command(
                CommandError::NotOnline { .. }
            )))
        )
    };
    assert!(not_online(gate.open(Direction::Entry)));
    assert!(not_online(gate.emergency_unlock()));
    assert!(not_online(gate.restore()));
    rig.log.lock().unwrap().silent = false;
    // The application feeds the gate its line's events: PdOnline restores.
    rig.pump(&gate, 2_000);
    assert_eq!(rig.outs(1), vec![BOTH_ON.to_vec()]);
    gate.open(Direction::Exit)
        .expect("held open: nothing to do");
    // One at a time: a superseding command would drop one still queued.
    gate.lock().unwrap();
    assert_eq!(rig.outs(2)[1], BOTH_OFF);
    gate.restore().unwrap();
    assert_eq!(rig.outs(3)[2], BOTH_OFF);
    gate.open(Direction::Exit).unwrap();
    assert_eq!(rig.outs(4)[3], PULSE_EXIT_200MS);
}

/// A pass input: its rising edge within the window confirms the opening's direction;
/// no edge, and the opening times out; a lock cancels the wait; an edge without an
/// opening reports nothing; an input already active must go inactive first.
#[test]
fn pass_input() {
    let rig = Rig::start(false);
    let window_ms = 400;
    let config = OsdpGateConfig {
        pass: OsdpPassSource::Input {
            input: 1,
            window: Duration::from_millis(window_ms),
        },
        ..OsdpGateConfig::new(PD_NAME)
    };
    let (gate, events) = rig.gate(config);
    let report = |inputs: &[u8]| {
        rig.log
            .lock()
            .unwrap()
            .input_reports
            .push_back(inputs.to_vec())
    };

    gate.open(Direction::Entry).unwrap();
    report(&[0, 1]);
    rig.pump(&gate, 200);
    assert_eq!(
        events.try_recv(),
        Ok(GateEvent::PassConfirmed {
            direction: Direction::Entry
        })
    );

    // Still active: no new edge, so this opening times out.
    gate.open(Direction::Exit).unwrap();
    report(&[1, 1]);
    rig.pump(&gate, window_ms + 200);
    assert_eq!(
        events.try_recv(),
        Ok(GateEvent::PassTimedOut {
            direction: Direction::Exit
        })
    );

    report(&[0, 0]);
    rig.pump(&gate, 200);
    gate.open(Direction::Exit).unwrap();
    gate.lock().unwrap();
    report(&[0, 1]);
    rig.pump(&gate, window_ms + 200);
    assert!(
        events.try_recv().is_err(),
        "cancelled by the lock; an edge without an opening"
    );
}

#[test]
fn pulse_limits() {
    let cases: &[(u64, Option<u64>)] = &[
        (RELAY_PULSE_HOLD_MIN_MS - 1, None),
        (RELAY_PULSE_HOLD_MIN_MS, Some(100)),
        (101, Some(200)),
        (RELAY_PULSE_HOLD_DEFAULT_MS, Some(200)),
        (OSDP_PULSE_MAX_MS, Some(OSDP_PULSE_MAX_MS)),
        (OSDP_PULSE_MAX_MS + 1, None),
    ];
    let (line_tx, _line_rx) = mpsc::channel();
    let line = OsdpLine::spawn(
        ScriptedPdPort {
            log: Arc::default(),
            decoder: FrameDecoder::new(),
            replies: VecDeque::new(),
        },
        PanelConfig {
            pds: vec![PdConfig {
                addr: PD_ADDR,
                name: PD_NAME.to_owned(),
                key: PdKey::Clear,
                wiegand34: Wiegand34ByteOrder::AsSent,
            }],
            secure_only: false,
        },
        line_tx,
    )
    .unwrap();
    for &(pulse_ms, held_ms) in cases {
        let (tx, _rx) = mpsc::channel();
        let config = OsdpGateConfig {
            pulse: Duration::from_millis(pulse_ms),
            ..OsdpGateConfig::new(PD_NAME)
        };
        let gate = OsdpGate::new(line.commands(), config, tx);
        match (gate, held_ms) {
            (Ok(gate), Some(held_ms)) => {
                assert_eq!(gate.pulse(), Duration::from_millis(held_ms), "{pulse_ms}")
            }
            (Err(GateError::Config(_)), None) => {}
            (other, _) => panic!("{pulse_ms} ms: {other:?}"),
        }
    }
    let windows: &[(u64, bool)] = &[
        (RELAY_PULSE_HOLD_DEFAULT_MS - 1, false),
        (RELAY_PULSE_HOLD_DEFAULT_MS, true),
        (OSDP_PASS_WINDOW_MAX_MS, true),
        (OSDP_PASS_WINDOW_MAX_MS + 1, false),
    ];
    for &(window_ms, valid) in windows {
        let (tx, _rx) = mpsc::channel();
        let config = OsdpGateConfig {
            pass: OsdpPassSource::Input {
                input: 0,
                window: Duration::from_millis(window_ms),
            },
            ..OsdpGateConfig::new(PD_NAME)
        };
        let gate = OsdpGate::new(line.commands(), config, tx);
        assert_eq!(gate.is_ok(), valid, "window {window_ms} ms: {gate:?}");
    }
    let (tx, _rx) = mpsc::channel();
    assert!(matches!(
        OsdpGate::new(line.commands(), OsdpGateConfig::new(""), tx),
        Err(GateError::Config(_))
    ));
}

#[test]
fn records() {
    assert_eq!(
        pulse_records(3, 30),
        [
            OutputCommand {
                output: 3,
                code: OutputCode::PermanentOffAbortTimer,
                timer_100ms: 0
            },
            OutputCommand {
                output: 3,
                code: OutputCode::TemporaryOn,
                timer_100ms: 30
            },
        ]
    );
    let door = OsdpGateConfig {
        exit_output: 0,
        ..OsdpGateConfig::new(PD_NAME)
    };
    assert_eq!(door.outputs(), vec![0]);
    assert_eq!(OsdpGateConfig::new(PD_NAME).outputs(), vec![0, 1]);
}
