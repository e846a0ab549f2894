use super::*;
use crate::osdp::message::{
    command_code, reply_code, BuzzerTone, LedColor, LedPattern, LedPermanent, LedTemporary,
    OutputCode,
};
use crate::osdp::secure::{Block, Key, SessionKeys, SCBK_D};
use std::fmt::Write as _;

/// A 26-bit card with correct parity: `123,45678` (see `card/tests.rs`).
const CARD_OK: [u8; 4] = [0xbd, 0xd9, 0x37, 0x40];
/// HARDWARE.md's RAW example: 26 bits whose leading even parity fails.
const CARD_BAD_PARITY: [u8; 4] = [0x01, 0x02, 0x03, 0x0c];

/// The fake PD's RND.B.
const RND_B: [u8; 8] = [0xB0, 0xB1, 0xB2, 0xB3, 0xB4, 0xB5, 0xB6, 0xB7];
/// The fake PD's client UID.
const CLIENT_UID: [u8; 8] = [0xC0, 0xC1, 0xC2, 0xC3, 0xC4, 0xC5, 0xC6, 0xC7];
/// A site key.
const SITE_KEY: Key = [0x5A; 16];

/// The PD side of a Secure Channel, written from the SessionKeys primitives (not from
/// `SecureSession`), so the panel's sealing is checked by an independent chain.
struct PdChannel {
    keys: SessionKeys,
    rnd_a: [u8; 8],
    /// The last MAC on the line, once SCRYPT has been answered.
    last_mac: Option<Block>,
}

impl std::fmt::Debug for PdChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PdChannel")
            .field("established", &self.last_mac.is_some())
            .finish()
    }
}

/// The bytes a MAC covers: the encoded frame without its MAC and CRC.
fn mac_input(wire: &[u8]) -> &[u8] {
    &wire[..wire.len() - 2 - 4]
}

/// A PD in the test: decodes commands, answers like a reader would.
#[derive(Debug)]
struct FakePd {
    addr: u8,
    /// Its SCBK; `None`: it has no Secure Channel and NAKs CHLNG with 5 (unless in
    /// install mode and asked for SCBK-D).
    scbk: Option<Key>,
    /// In install mode: a CHLNG whose SCB asks for key 0 gets a session on SCBK-D, and a
    /// KEYSET in a session sets `scbk` and ends install mode (as libosdp does).
    install_mode: bool,
    /// NAKs KEYSET with 6 (as libosdp does when its application refuses the key).
    refuse_keyset: bool,
    /// ACKs KEYSET in clear, having dropped the session first (some PDs do).
    keyset_ack_in_clear: bool,
    /// The key byte of every CHLNG's SCB.
    chlng_key_bytes: Vec<u8>,
    channel: Option<PdChannel>,
    /// Answers nothing while set.
    silent: bool,
    /// Replies computed but lost on the way back, before the next one goes through.
    drop_replies: usize,
    /// Flip a bit in the next reply's CRC.
    corrupt_next: bool,
    /// Cards waiting for a POLL, as RAW data bytes (26 bits each).
    cards: VecDeque<[u8; 4]>,
    /// Input reports waiting for a POLL (after the cards), one byte per input.
    input_reports: VecDeque<Vec<u8>>,
    /// What it executed: (SQN, code, data). A repeated SQN is not executed again.
    executed: Vec<(u8, u8, Vec<u8>)>,
    /// The last command frame and the reply to it, for a repeat.
    last: Option<(Vec<u8>, Vec<u8>)>,
}

impl FakePd {
    fn new(addr: u8) -> FakePd {
        FakePd {
            addr,
            scbk: None,
            install_mode: false,
            refuse_keyset: false,
            keyset_ack_in_clear: false,
            chlng_key_bytes: Vec::new(),
            channel: None,
            silent: false,
            drop_replies: 0,
            corrupt_next: false,
            cards: VecDeque::new(),
            input_reports: VecDeque::new(),
            executed: Vec::new(),
            last: None,
        }
    }

    /// The reply bytes to a command frame, if any reach the CP.
    fn answer(&mut self, command: &Frame, command_bytes: &[u8]) -> Option<Vec<u8>> {
        if self.silent {
            return None;
        }
        let repeat = self
            .last
            .as_ref()
            .filter(|(last, _)| command.sqn != 0 && last == command_bytes)
            .map(|(_, reply)| reply.clone());
        let mut reply = match repeat {
            Some(reply) => reply,
            None => {
                let reply = self.respond(command, command_bytes);
                self.last = Some((command_bytes.to_vec(), reply.clone()));
                reply
            }
        };
        if self.drop_replies > 0 {
            self.drop_replies -= 1;
            return None;
        }
        if self.corrupt_next {
            self.corrupt_next = false;
            let last = reply.len() - 1;
            reply[last] ^= 0x01;
        }
        Some(reply)
    }

    /// Executes a command and encodes the reply, through the Secure Channel if set up.
    fn respond(&mut self, command: &Frame, command_bytes: &[u8]) -> Vec<u8> {
        let mut reply = Frame {
            addr: self.addr,
            reply: true,
            sqn: command.sqn,
            use_crc: true,
            scb: None,
            code: reply_code::NAK,
            data: vec![],
            mac: None,
        };
        if command.sqn == 0 {
            // A new connection: any session is over.
            self.channel = None;
        }
        let mut chlng_key = self.scbk;
        if command.code == command_code::CHLNG {
            let key_byte = command.scb.as_deref().expect("CHLNG has an SCB")[2];
            self.chlng_key_bytes.push(key_byte);
            if self.install_mode && key_byte == 0 {
                chlng_key = Some(SCBK_D);
            }
        }
        match (command.code, &mut self.channel, chlng_key) {
            (command_code::CHLNG, _, None) => reply.data = vec![5],
            (command_code::CHLNG, _, Some(scbk)) => {
                let rnd_a: [u8; 8] = command.data.as_slice().try_into().expect("RND.A");
                let keys = SessionKeys::derive(&scbk, &rnd_a);
                reply.scb = Some(vec![0x03, 0x12, 0x01]);
                reply.code = reply_code::CCRYPT;
                reply.data = [
                    &CLIENT_UID[..],
                    &RND_B,
                    &keys.client_cryptogram(&rnd_a, &RND_B),
                ]
                .concat();
                self.channel = Some(PdChannel {
                    keys,
                    rnd_a,
                    last_mac: None,
                });
            }
            (command_code::SCRYPT, Some(channel), _) => {
                let expected = channel.keys.server_cryptogram(&channel.rnd_a, &RND_B);
                if command.data == expected {
                    let rmac = channel.keys.initial_rmac(&expected);
                    channel.last_mac = Some(rmac);
                    reply.scb = Some(vec![0x03, 0x14, 0x01]);
                    reply.code = reply_code::RMAC_I;
                    reply.data = rmac.to_vec();
                } else {
                    reply.data = vec![6];
                }
            }
            (
                code,
                Some(PdChannel {
                    keys,
                    last_mac: Some(last_mac),
                    ..
                }),
                _,
            ) => {
                // A secured command: check the MAC, decrypt, execute, seal the reply.
                let scs = command.scb.as_deref().expect("commands are secured")[1];
                let mac = keys.mac(last_mac, mac_input(command_bytes));
                assert_eq!(
                    command.mac,
                    Some(mac[..4].try_into().unwrap()),
                    "command MAC"
                );
                let data = if scs == 0x17 {
                    keys.decrypt_data(last_mac, &command.data).expect("padding")
                } else {
                    assert!(scs == 0x15 && command.data.is_empty(), "SCB {scs:#04x}");
                    command.data.clone()
                };
                *last_mac = mac;
                self.executed.push((command.sqn, code, data.clone()));
                let (code, data) = self.reply_to(code, &data);
                let key_taken = command.code == command_code::KEYSET && code == reply_code::ACK;
                if key_taken && self.keyset_ack_in_clear {
                    self.take_keyset_key();
                    reply.code = code;
                    return reply.encode().expect("fake replies encode");
                }
                let Some(PdChannel {
                    keys,
                    last_mac: Some(last_mac),
                    ..
                }) = &mut self.channel
                else {
                    unreachable!("the channel is established");
                };
                reply.code = code;
                if data.is_empty() {
                    reply.scb = Some(vec![0x02, 0x16]);
                } else {
                    reply.scb = Some(vec![0x02, 0x18]);
                    reply.data = keys.encrypt_data(last_mac, &data);
                }
                reply.mac = Some([0; 4]);
                let unsealed = reply.encode().expect("fake replies encode");
                let mac = keys.mac(last_mac, mac_input(&unsealed));
                reply.mac = Some(mac[..4].try_into().unwrap());
                *last_mac = mac;
                if key_taken {
                    self.take_keyset_key();
                }
            }
            (code, _, _) => {
                self.executed
                    .push((command.sqn, command.code, command.data.clone()));
                (reply.code, reply.data) = if code == command_code::KEYSET {
                    // Outside a session: SC conditions not met.
                    (reply_code::NAK, vec![6])
                } else {
                    self.reply_to(code, &command.data)
                };
            }
        }
        reply.encode().expect("fake replies encode")
    }

    /// The key of the KEYSET just executed becomes the key of the next session; this
    /// one is over.
    fn take_keyset_key(&mut self) {
        let executed = &self.executed.last().expect("KEYSET executed").2;
        self.scbk = Some(executed[2..].try_into().expect("16-byte key"));
        self.install_mode = false;
        self.channel = None;
    }

    fn reply_to(&mut self, code: u8, data: &[u8]) -> (u8, Vec<u8>) {
        match code {
            command_code::ID => (
                reply_code::PDID,
                vec![0x0A, 0x00, 0xEA, 1, 2, 0x78, 0x56, 0x34, 0x12, 3, 4, 5],
            ),
            // Contact status (1 input), output control (2 outputs), card format.
            command_code::CAP => (reply_code::PDCAP, vec![1, 1, 1, 2, 1, 2, 3, 1, 0]),
            command_code::POLL => match (self.cards.pop_front(), self.input_reports.pop_front()) {
                (Some(bits), report) => {
                    self.input_reports.extend(report);
                    let mut data = vec![0x00, 0x01, 26, 0x00];
                    data.extend_from_slice(&bits);
                    (reply_code::RAW, data)
                }
                (None, Some(report)) => (reply_code::ISTATR, report),
                (None, None) => (reply_code::ACK, vec![]),
            },
            command_code::OUT | command_code::LED | command_code::BUZ => (reply_code::ACK, vec![]),
            command_code::KEYSET if self.refuse_keyset => (reply_code::NAK, vec![6]),
            command_code::KEYSET => {
                assert_eq!(data[..2], [1, 16], "key type SCBK, 16 bytes");
                (reply_code::ACK, vec![])
            }
            _ => (reply_code::NAK, vec![3]),
        }
    }
}

/// A line: the panel, the fake PDs, a virtual clock and a transcript.
struct Line {
    panel: ControlPanel,
    pds: Vec<FakePd>,
    start: Instant,
    now: Instant,
    /// One line per frame sent and per event, stamped with virtual milliseconds.
    transcript: Vec<String>,
}

/// Milliseconds the fake PD takes to answer.
const TURNAROUND_MS: u64 = 5;

fn pd(addr: u8, name: &str) -> PdConfig {
    PdConfig {
        addr,
        name: name.to_owned(),
        key: PdKey::Clear,
        wiegand34: Wiegand34ByteOrder::AsSent,
    }
}

fn command_name(code: u8) -> String {
    match code {
        command_code::POLL => "POLL".to_owned(),
        command_code::ID => "ID".to_owned(),
        command_code::CAP => "CAP".to_owned(),
        command_code::OUT => "OUT".to_owned(),
        command_code::LED => "LED".to_owned(),
        command_code::BUZ => "BUZ".to_owned(),
        command_code::CHLNG => "CHLNG".to_owned(),
        command_code::SCRYPT => "SCRYPT".to_owned(),
        command_code::KEYSET => "KEYSET".to_owned(),
        other => format!("{other:#04x}"),
    }
}

fn describe(event: &PanelEvent) -> String {
    match event {
        PanelEvent::PdOnline {
            name,
            id,
            caps,
            secure,
        } => {
            let secure = if *secure { " secure" } else { "" };
            format!(
                "{name} online serial={:#x} caps={}{secure}",
                id.serial,
                caps.len()
            )
        }
        PanelEvent::PdOffline { name } => format!("{name} offline"),
        PanelEvent::KeySet { name } => format!("{name} keyset"),
        PanelEvent::CardRead { name, card, .. } => match card {
            Ok(card) => format!("{name} card {}", card.decimal()),
            Err(error) => format!("{name} card error: {error}"),
        },
        PanelEvent::Keypad { name, digits, .. } => format!("{name} keypad {digits}"),
        PanelEvent::InputStatus { name, inputs } => format!("{name} inputs {inputs:?}"),
        PanelEvent::CommandAcked { name, command } => {
            format!("{name} ack {}", command_name(command.code()))
        }
        PanelEvent::CommandNakked {
            name,
            command,
            reason,
        } => format!("{name} nak {} {reason:?}", command_name(command.code())),
        PanelEvent::CommandDropped { name, command } => {
            format!("{name} dropped {}", command_name(command.code()))
        }
        PanelEvent::Refused { name, reason } => format!("{name} refused {reason:?}"),
        PanelEvent::ProtocolError { name, error } => {
            format!("{} protocol error: {error}", name.as_deref().unwrap_or("-"))
        }
    }
}

impl Line {
    fn new(pds: &[(u8, &str)], secure_only: bool) -> Line {
        let config = PanelConfig {
            pds: pds.iter().map(|&(addr, name)| pd(addr, name)).collect(),
            secure_only,
        };
        Line::with_config(config)
    }

    fn with_config(config: PanelConfig) -> Line {
        let fakes = config.pds.iter().map(|pd| FakePd::new(pd.addr)).collect();
        let start = Instant::now();
        // RND.A: 1, 2, 3, … in every byte.
        let mut challenge = 0u8;
        let challenges: Challenges = Box::new(move || {
            challenge = challenge.wrapping_add(1);
            [challenge; 8]
        });
        Line {
            panel: ControlPanel::new(config, challenges).expect("test config is valid"),
            pds: fakes,
            start,
            now: start,
            transcript: Vec::new(),
        }
    }

    fn ms(&self) -> u64 {
        u64::try_from(self.now.duration_since(self.start).as_millis()).expect("short test")
    }

    fn fake(&mut self, addr: u8) -> &mut FakePd {
        self.pds
            .iter_mut()
            .find(|pd| pd.addr == addr)
            .expect("fake PD exists")
    }

    fn record(&mut self, events: Vec<PanelEvent>) {
        let ms = self.ms();
        for event in events {
            self.transcript
                .push(format!("{ms:>5} {}", describe(&event)));
        }
    }

    /// Runs the line until virtual time `end_ms`. Bounded: each step moves the clock
    /// forward by at least a millisecond.
    fn run_until(&mut self, end_ms: u64) {
        let end = self.start + Duration::from_millis(end_ms);
        while self.now < end {
            let Some((addr, bytes)) = self.panel.next_frame(self.now) else {
                let wakeup = self.panel.next_wakeup(self.now).unwrap_or(end);
                self.now = wakeup.max(self.now + Duration::from_millis(1)).min(end);
                continue;
            };
            let mut decoded = FrameDecoder::new().push(&bytes);
            assert_eq!(decoded.len(), 1, "one command frame per send");
            let command = decoded.remove(0).expect("the panel sends valid frames");
            assert_eq!(command.addr, addr);
            let line = format!(
                "{:>5} {} {} sqn={}",
                self.ms(),
                addr,
                command_name(command.code),
                command.sqn
            );
            self.transcript.push(line);
            let reply = self.fake(addr).answer(&command, &bytes);
            self.now += Duration::from_millis(TURNAROUND_MS);
            if let Some(reply) = reply {
                let events = self.panel.on_bytes(self.now, &reply);
                self.record(events);
            }
            if let Some(deadline) = self.panel.reply_deadline() {
                self.now = self.now.max(deadline);
                let events = self.panel.on_timeout(self.now);
                self.record(events);
            }
        }
    }

    /// The transcript without routine POLLs to `addr` (kept: everything else).
    fn without_polls(&self) -> Vec<String> {
        self.transcript
            .iter()
            .filter(|line| !line.contains(" POLL "))
            .cloned()
            .collect()
    }
}

fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(|line| {
            let (ms, rest) = line.split_once(' ').expect("stamped line");
            format!("{ms:>5} {rest}")
        })
        .collect()
}

fn pulse_relay_0() -> OutputCommand {
    // HARDWARE.md: pulse relay 0 for 3 s.
    OutputCommand {
        output: 0,
        code: OutputCode::TemporaryOn,
        timer_100ms: 30,
    }
}

/// ID at SQN 0, CAP at 1, then POLL every 50 ms at 2, 3, 1, 2, …
#[test]
fn connect_sequence_and_sqn_progression() {
    let mut line = Line::new(&[(101, "entrance-in")], false);
    line.run_until(231);
    let expected = lines(
        "
        0 101 ID sqn=0
        5 101 CAP sqn=1
        10 entrance-in online serial=0x12345678 caps=3
        10 101 POLL sqn=2
        65 101 POLL sqn=3
        120 101 POLL sqn=1
        175 101 POLL sqn=2
        230 101 POLL sqn=3
        ",
    );
    assert_eq!(line.transcript, expected);
    assert_eq!(line.panel.link("entrance-in"), Some(LinkState::Online));
}

/// A card at the reader becomes a `CardRead` with its id, or its parity error.
#[test]
fn card_read() {
    let cases: &[([u8; 4], Result<CardId, CardBitsError>)] = &[
        (CARD_OK, Ok(CardId::wiegand26(123, 45678))),
        (CARD_BAD_PARITY, Err(CardBitsError::EvenParity { bits: 26 })),
    ];
    for (bits, expected) in cases {
        let mut line = Line::new(&[(101, "entrance-in")], false);
        line.run_until(100);
        line.fake(101).cards.push_back(*bits);
        let mut events = Vec::new();
        // Bounded: a POLL goes out every 50 ms.
        for _ in 0..10 {
            let Some((_, bytes)) = line.panel.next_frame(line.now) else {
                line.now += Duration::from_millis(10);
                continue;
            };
            let command = FrameDecoder::new().push(&bytes).remove(0).unwrap();
            let reply = line.fake(101).answer(&command, &bytes).unwrap();
            events.extend(line.panel.on_bytes(line.now, &reply));
            if !events.is_empty() {
                break;
            }
        }
        let [PanelEvent::CardRead { name, card, raw }] = events.as_slice() else {
            panic!("expected one card read, got {events:?}");
        };
        assert_eq!(name, "entrance-in");
        assert_eq!(card, expected);
        assert_eq!(
            (raw.format, raw.bits, raw.data.as_slice()),
            (1, 26, &bits[..])
        );
    }
}

/// A queued OUT goes before the next POLL, reaches the PD byte for byte, and is ACKed.
#[test]
fn output_reaches_the_pd() {
    let mut line = Line::new(&[(101, "entrance-in")], false);
    line.run_until(30);
    line.panel
        .output("entrance-in", pulse_relay_0())
        .expect("queued");
    line.run_until(130);
    let expected = lines(
        "
        0 101 ID sqn=0
        5 101 CAP sqn=1
        10 entrance-in online serial=0x12345678 caps=3
        10 101 POLL sqn=2
        30 101 OUT sqn=3
        35 entrance-in ack OUT
        65 101 POLL sqn=1
        120 101 POLL sqn=2
        ",
    );
    assert_eq!(line.transcript, expected);
    let outs: Vec<_> = line
        .fake(101)
        .executed
        .iter()
        .filter(|(_, code, _)| *code == command_code::OUT)
        .cloned()
        .collect();
    assert_eq!(
        outs,
        vec![(3, command_code::OUT, vec![0x00, 0x05, 0x1e, 0x00])]
    );
}

/// A lost reply: the same frame goes again with the same SQN, the PD repeats its reply
/// instead of pulsing the relay twice, and the sequence carries on.
#[test]
fn retry_after_a_dropped_reply() {
    let mut line = Line::new(&[(101, "entrance-in")], false);
    line.run_until(30);
    line.panel.output("entrance-in", pulse_relay_0()).unwrap();
    line.fake(101).drop_replies = 1;
    line.run_until(300);
    let expected = lines(
        "
        0 101 ID sqn=0
        5 101 CAP sqn=1
        10 entrance-in online serial=0x12345678 caps=3
        10 101 POLL sqn=2
        30 101 OUT sqn=3
        230 101 OUT sqn=3
        235 entrance-in ack OUT
        235 101 POLL sqn=1
        290 101 POLL sqn=2
        ",
    );
    assert_eq!(line.transcript, expected);
    let outs = line
        .fake(101)
        .executed
        .iter()
        .filter(|(_, code, _)| *code == command_code::OUT)
        .count();
    assert_eq!(outs, 1, "the retry is a repeat, not a second pulse");
}

/// A reply with a bad CRC is a protocol error; the frame is resent with the same SQN
/// after the reply timeout, and the PD's repeated reply counts.
#[test]
fn bad_crc_reply_is_a_protocol_error() {
    let mut line = Line::new(&[(101, "entrance-in")], false);
    line.run_until(20);
    line.fake(101).corrupt_next = true;
    line.run_until(330);
    // CRC values vary with the frame: compare the text before them.
    let transcript: Vec<String> = line
        .transcript
        .iter()
        .map(|line| match line.split_once(" CRC ") {
            Some((head, _)) => format!("{head} CRC …"),
            None => line.clone(),
        })
        .collect();
    let expected = lines(
        "
        0 101 ID sqn=0
        5 101 CAP sqn=1
        10 entrance-in online serial=0x12345678 caps=3
        10 101 POLL sqn=2
        65 101 POLL sqn=3
        70 entrance-in protocol error: CRC …
        265 101 POLL sqn=3
        270 entrance-in protocol error: 7 bytes of noise before a frame
        320 101 POLL sqn=1
        ",
    );
    // The noise: after a bad frame the decoder looks for a SOM again from the byte after
    // the rejected one, and the corrupted frame's other 7 bytes hold none.
    assert_eq!(transcript, expected);
    assert_eq!(line.panel.link("entrance-in"), Some(LinkState::Online));
}

/// Silent for 8 s → offline (queued commands dropped), probed every 800 ms from SQN 0,
/// online again once it answers.
#[test]
fn offline_after_silence_and_back() {
    let mut line = Line::new(&[(101, "entrance-in")], false);
    line.run_until(1_000);
    line.fake(101).silent = true;
    line.panel
        .led(
            "entrance-in",
            LedCommand {
                reader: 0,
                led: 0,
                temporary: LedTemporary::Nop,
                permanent: LedPermanent::Set(LedPattern {
                    on_100ms: 1,
                    off_100ms: 0,
                    on_color: LedColor::Green,
                    off_color: LedColor::Black,
                }),
            },
        )
        .unwrap();
    line.run_until(12_000);
    line.fake(101).silent = false;
    line.run_until(14_000);
    let events: Vec<_> = line
        .without_polls()
        .into_iter()
        .filter(|line| !line.contains(" LED ") && !line.contains(" ID sqn=0"))
        .collect();
    let expected = lines(
        "
        5 101 CAP sqn=1
        10 entrance-in online serial=0x12345678 caps=3
        9000 entrance-in dropped LED
        9000 entrance-in offline
        12805 101 CAP sqn=1
        12810 entrance-in online serial=0x12345678 caps=3
        ",
    );
    assert_eq!(events, expected, "{}", line.transcript.join("\n"));
    // Offline from 9000: an ID (SQN 0) 800 ms after each failed one (200 ms timeout):
    // 9800, 10800, 11800 unanswered, 12800 answered.
    let probes = line
        .transcript
        .iter()
        .filter(|line| line.contains(" ID sqn=0"))
        .count();
    assert_eq!(probes, 1 + 3 + 1);
}

/// Two PDs share the line turn by turn.
#[test]
fn two_pds_round_robin() {
    let mut line = Line::new(&[(1, "in"), (2, "out")], false);
    line.run_until(81);
    let expected = lines(
        "
        0 1 ID sqn=0
        5 2 ID sqn=0
        10 1 CAP sqn=1
        15 in online serial=0x12345678 caps=3
        15 2 CAP sqn=1
        20 out online serial=0x12345678 caps=3
        20 1 POLL sqn=2
        25 2 POLL sqn=2
        75 1 POLL sqn=3
        80 2 POLL sqn=3
        ",
    );
    assert_eq!(line.transcript, expected);
}

/// A silent PD does not stop the other one.
#[test]
fn a_dead_pd_does_not_block_the_line() {
    let mut line = Line::new(&[(1, "in"), (2, "out")], false);
    line.fake(2).silent = true;
    line.fake(1).cards.push_back(CARD_OK);
    line.run_until(2_000);
    let cards = line
        .transcript
        .iter()
        .filter(|line| line.contains("in card 8106606"))
        .count();
    assert_eq!(cards, 1, "{}", line.transcript.join("\n"));
    let polls_in = line
        .transcript
        .iter()
        .filter(|line| line.contains(" 1 POLL "))
        .count();
    // 50 ms polls, minus the line time the probes of the dead PD take.
    assert!(polls_in > 20, "{polls_in}");
}

/// The command queue is bounded and only open to an online PD of this line.
#[test]
fn command_queue_limits() {
    let mut line = Line::new(&[(101, "entrance-in")], false);
    assert_eq!(
        line.panel.output("entrance-in", pulse_relay_0()),
        Err(CommandError::NotOnline {
            name: "entrance-in".to_owned()
        })
    );
    line.run_until(20);
    let buzz = BuzzerCommand {
        reader: 0,
        tone: BuzzerTone::Default,
        on_100ms: 2,
        off_100ms: 0,
        count: 1,
    };
    let results: Vec<_> = (0..COMMAND_QUEUE_LEN_MAX + 1)
        .map(|_| line.panel.buzzer("entrance-in", buzz))
        .collect();
    assert!(results[..COMMAND_QUEUE_LEN_MAX].iter().all(Result::is_ok));
    assert_eq!(
        results[COMMAND_QUEUE_LEN_MAX],
        Err(CommandError::QueueFull {
            name: "entrance-in".to_owned(),
            len_max: COMMAND_QUEUE_LEN_MAX
        })
    );
    assert_eq!(
        line.panel.buzzer("exit", buzz),
        Err(CommandError::UnknownPd {
            name: "exit".to_owned()
        })
    );
    line.run_until(200);
    let acks = line
        .transcript
        .iter()
        .filter(|line| line.contains("ack BUZ"))
        .count();
    assert_eq!(acks, COMMAND_QUEUE_LEN_MAX);
    assert!(line.panel.buzzer("entrance-in", buzz).is_ok(), "drained");
}

/// The Secure Channel policy: which key the panel has, which the PD has, and whether the
/// line demands the channel → how the connection ends.
#[test]
fn secure_channel_policy() {
    let online = "online serial=0x12345678 caps=3";
    let cases: &[(bool, Option<Key>, Option<Key>, String)] = &[
        (false, None, None, online.to_owned()),
        (false, None, Some(SITE_KEY), online.to_owned()),
        (true, None, Some(SITE_KEY), "refused NoKey".to_owned()),
        (
            false,
            Some(SITE_KEY),
            Some(SITE_KEY),
            format!("{online} secure"),
        ),
        (
            true,
            Some(SITE_KEY),
            Some(SITE_KEY),
            format!("{online} secure"),
        ),
        (true, Some(SCBK_D), Some(SCBK_D), format!("{online} secure")),
        // The PD has no Secure Channel: NAK 5 to CHLNG.
        (false, Some(SITE_KEY), None, online.to_owned()),
        (
            true,
            Some(SITE_KEY),
            None,
            "refused SecureChannelRefused(SecureChannelUnsupported)".to_owned(),
        ),
        // The PD holds another key.
        (false, Some(SITE_KEY), Some(SCBK_D), online.to_owned()),
        (
            true,
            Some(SITE_KEY),
            Some(SCBK_D),
            "refused Handshake(ClientCryptogram)".to_owned(),
        ),
    ];
    for (secure_only, cp_key, pd_key, outcome) in cases {
        let mut line = Line::with_config(PanelConfig {
            pds: vec![PdConfig {
                key: cp_key.map_or(PdKey::Clear, PdKey::Scbk),
                ..pd(101, "entrance-in")
            }],
            secure_only: *secure_only,
        });
        line.fake(101).scbk = *pd_key;
        line.run_until(500);
        let outcome = format!("entrance-in {outcome}");
        let at = line
            .transcript
            .iter()
            .position(|line| line.ends_with(&outcome))
            .unwrap_or_else(|| {
                panic!(
                    "{secure_only} {cp_key:?} {pd_key:?}: no {outcome:?} in\n{}",
                    line.transcript.join("\n")
                )
            });
        let refused = outcome.contains("refused");
        assert_eq!(
            line.transcript.len(),
            at + 1 + usize::from(!refused) * 9,
            "nothing after a refusal; 9 polls in the rest of the 500 ms otherwise:\n{}",
            line.transcript.join("\n")
        );
        let expected_link = if refused {
            LinkState::Refused
        } else {
            LinkState::Online
        };
        assert_eq!(line.panel.link("entrance-in"), Some(expected_link));
        if refused {
            assert_eq!(line.panel.next_wakeup(line.now), None);
        }
    }
}

/// Inside a session: the connect sequence, a sealed OUT the PD decrypts, a sealed RAW
/// card, and a retry that resends the same sealed bytes without breaking the MAC chain.
#[test]
fn secure_session() {
    let mut line = Line::with_config(PanelConfig {
        pds: vec![PdConfig {
            key: PdKey::Scbk(SITE_KEY),
            ..pd(101, "entrance-in")
        }],
        secure_only: true,
    });
    line.fake(101).scbk = Some(SITE_KEY);
    line.run_until(30);
    line.panel.output("entrance-in", pulse_relay_0()).unwrap();
    line.fake(101).drop_replies = 1;
    line.run_until(300);
    line.fake(101).cards.push_back(CARD_OK);
    line.run_until(360);
    let expected = lines(
        "
        0 101 ID sqn=0
        5 101 CAP sqn=1
        10 101 CHLNG sqn=2
        15 101 SCRYPT sqn=3
        20 entrance-in online serial=0x12345678 caps=3 secure
        20 101 POLL sqn=1
        30 101 OUT sqn=2
        230 101 OUT sqn=2
        235 entrance-in ack OUT
        235 101 POLL sqn=3
        290 101 POLL sqn=1
        345 101 POLL sqn=2
        350 entrance-in card 8106606
        ",
    );
    assert_eq!(line.transcript, expected);
    let outs: Vec<_> = line
        .fake(101)
        .executed
        .iter()
        .filter(|(_, code, _)| *code == command_code::OUT)
        .cloned()
        .collect();
    assert_eq!(
        outs,
        vec![(2, command_code::OUT, vec![0x00, 0x05, 0x1e, 0x00])]
    );
}

#[test]
fn config_errors() {
    let cases: Vec<(Vec<PdConfig>, ConfigError)> = vec![
        (vec![], ConfigError::PdCount { count: 0, max: 127 }),
        (
            vec![pd(0x7F, "a")],
            ConfigError::Address {
                name: "a".to_owned(),
                addr: 0x7F,
            },
        ),
        (
            vec![pd(1, "a"), pd(1, "b")],
            ConfigError::DuplicateAddress { addr: 1 },
        ),
        (
            vec![pd(1, "a"), pd(2, "a")],
            ConfigError::Name {
                name: "a".to_owned(),
            },
        ),
        (
            vec![pd(1, "")],
            ConfigError::Name {
                name: String::new(),
            },
        ),
        (
            vec![PdConfig {
                key: PdKey::Install { site_key: SCBK_D },
                ..pd(1, "a")
            }],
            ConfigError::SiteKey {
                name: "a".to_owned(),
            },
        ),
    ];
    for (pds, expected) in cases {
        let result = ControlPanel::new(
            PanelConfig {
                pds,
                secure_only: false,
            },
            Box::new(|| [0; 8]),
        );
        assert_eq!(result.err(), Some(expected));
    }
}

/// Replies that are not the awaited one: other address, other SQN, a command, junk.
#[test]
fn unexpected_frames() {
    let mut line = Line::new(&[(101, "entrance-in")], false);
    line.run_until(20);
    line.now = line.start + Duration::from_millis(65);
    let (_, bytes) = line.panel.next_frame(line.now).expect("a POLL is due");
    let sqn = FrameDecoder::new().push(&bytes).remove(0).unwrap().sqn;
    let wrong_sqn = sqn_after(sqn);
    let reply = |addr: u8, reply: bool, sqn: u8| {
        Frame {
            addr,
            reply,
            sqn,
            use_crc: true,
            scb: None,
            code: reply_code::ACK,
            data: vec![],
            mac: None,
        }
        .encode()
        .unwrap()
    };
    let cases: Vec<(Vec<u8>, String)> = vec![
        (
            reply(100, true, sqn),
            format!("unexpected frame from address 0x64 (reply true, SQN {sqn})"),
        ),
        (
            reply(101, true, wrong_sqn),
            format!("unexpected frame from address 0x65 (reply true, SQN {wrong_sqn})"),
        ),
        (
            reply(101, false, sqn),
            format!("unexpected frame from address 0x65 (reply false, SQN {sqn})"),
        ),
        (
            vec![0x00, 0x11],
            "2 bytes of noise before a frame".to_owned(),
        ),
    ];
    let mut text = String::new();
    for (bytes, _) in &cases {
        for event in line.panel.on_bytes(line.now, bytes) {
            writeln!(text, "{}", describe(&event)).unwrap();
        }
    }
    // The noise is only reported when the next SOM arrives.
    for event in line.panel.on_bytes(line.now, &reply(101, true, sqn)) {
        writeln!(text, "{}", describe(&event)).unwrap();
    }
    let expected: String = cases
        .iter()
        .map(|(_, error)| format!("entrance-in protocol error: {error}\n"))
        .collect();
    assert_eq!(text, expected);
    assert_eq!(
        line.panel.reply_deadline(),
        None,
        "the right reply still counts"
    );
}

#[test]
fn sqn_cycle() {
    let sqns: Vec<u8> = std::iter::successors(Some(0), |&sqn| Some(sqn_after(sqn)))
        .take(8)
        .collect();
    assert_eq!(sqns, vec![0, 1, 2, 3, 1, 2, 3, 1]);
    assert_eq!(keypad_text(&[0x31, 0x32, 0x7F, 0x0D, 0x01]), "12*#?");
}

/// A line whose one PD, `entrance-in` at 101, is configured for install with
/// [`SITE_KEY`]; the fake PD is in install mode and knows no key of its own.
fn install_line(secure_only: bool) -> Line {
    let mut line = Line::with_config(PanelConfig {
        pds: vec![PdConfig {
            key: PdKey::Install { site_key: SITE_KEY },
            ..pd(101, "entrance-in")
        }],
        secure_only,
    });
    line.fake(101).install_mode = true;
    line
}

/// Install mode: a session on SCBK-D (key byte 0), KEYSET with the site key inside it,
/// the event, a new session on the site key (key byte 1), and only then online; the PD
/// now holds the site key and a card read comes through the new session.
#[test]
fn install_mode_keyset_then_a_session_on_the_site_key() {
    let mut line = install_line(true);
    line.run_until(40);
    line.fake(101).cards.push_back(CARD_OK);
    line.run_until(100);
    let expected = lines(
        "
        0 101 ID sqn=0
        5 101 CAP sqn=1
        10 101 CHLNG sqn=2
        15 101 SCRYPT sqn=3
        20 101 KEYSET sqn=1
        25 entrance-in keyset
        25 101 CHLNG sqn=2
        30 101 SCRYPT sqn=3
        35 entrance-in online serial=0x12345678 caps=3 secure
        35 101 POLL sqn=1
        90 101 POLL sqn=2
        95 entrance-in card 8106606
        ",
    );
    assert_eq!(line.transcript, expected);
    let fake = line.fake(101);
    assert_eq!(
        fake.chlng_key_bytes,
        vec![0, 1],
        "SCBK-D first, then the SCBK"
    );
    assert_eq!(fake.scbk, Some(SITE_KEY));
    assert!(!fake.install_mode);
    let keysets: Vec<_> = fake
        .executed
        .iter()
        .filter(|(_, code, _)| *code == command_code::KEYSET)
        .map(|(_, _, data)| data.clone())
        .collect();
    assert_eq!(keysets, vec![[&[1, 16][..], &SITE_KEY].concat()]);
    assert_eq!(line.panel.link("entrance-in"), Some(LinkState::Online));
}

/// A NAK to KEYSET refuses the PD, even on a line that allows clear: it must not stay
/// on SCBK-D, and it was meant to be secured.
#[test]
fn a_refused_keyset_refuses_the_pd() {
    for secure_only in [true, false] {
        let mut line = install_line(secure_only);
        line.fake(101).refuse_keyset = true;
        line.run_until(500);
        let expected = lines(
            "
            0 101 ID sqn=0
            5 101 CAP sqn=1
            10 101 CHLNG sqn=2
            15 101 SCRYPT sqn=3
            20 101 KEYSET sqn=1
            25 entrance-in refused KeySetRefused(SecureChannelConditions)
            ",
        );
        assert_eq!(line.transcript, expected, "secure_only {secure_only}");
        assert_eq!(line.panel.link("entrance-in"), Some(LinkState::Refused));
        assert_eq!(line.fake(101).scbk, None);
    }
}

/// The PD takes the key but its ACK is lost: KEYSET unanswered is reported, the PD goes
/// offline, and the next connection finds the site key in the handshake (CCRYPT does not
/// match SCBK-D but matches the site key): the event, then online on the site key.
#[test]
fn a_lost_keyset_ack_is_found_out_by_the_next_handshake() {
    let mut line = install_line(true);
    // SCRYPT has been answered at 20; KEYSET goes next.
    line.run_until(20);
    line.fake(101).drop_replies = 1;
    line.run_until(1_100);
    let expected = lines(
        "
        0 101 ID sqn=0
        5 101 CAP sqn=1
        10 101 CHLNG sqn=2
        15 101 SCRYPT sqn=3
        20 101 KEYSET sqn=1
        220 entrance-in protocol error: KEYSET unanswered
        1020 101 ID sqn=0
        1025 101 CAP sqn=1
        1030 101 CHLNG sqn=2
        1035 101 SCRYPT sqn=3
        1040 entrance-in keyset
        1040 entrance-in online serial=0x12345678 caps=3 secure
        ",
    );
    assert_eq!(line.without_polls(), expected);
    assert_eq!(line.fake(101).scbk, Some(SITE_KEY));
    assert_eq!(line.panel.link("entrance-in"), Some(LinkState::Online));
}

/// Several OUT records travel as one command; a superseding OUT drops what was queued
/// (reported) and goes first; the record count is bounded.
#[test]
fn out_records_and_superseding() {
    let mut line = Line::new(&[(101, "entrance-in")], false);
    line.run_until(20);
    let off = |output| OutputCommand {
        output,
        code: OutputCode::PermanentOffAbortTimer,
        timer_100ms: 0,
    };
    let pulse = OutputCommand {
        output: 1,
        code: OutputCode::TemporaryOn,
        timer_100ms: 2,
    };
    line.panel.outputs("entrance-in", &[off(1), pulse]).unwrap();
    line.panel.output("entrance-in", pulse_relay_0()).unwrap();
    let dropped = line
        .panel
        .outputs_superseding("entrance-in", &[off(0), off(1)])
        .unwrap();
    let dropped: Vec<_> = dropped.iter().map(describe).collect();
    assert_eq!(
        dropped,
        vec!["entrance-in dropped OUT", "entrance-in dropped OUT"]
    );
    line.run_until(200);
    let outs: Vec<_> = line
        .fake(101)
        .executed
        .iter()
        .filter(|(_, code, _)| *code == command_code::OUT)
        .map(|(_, _, data)| data.clone())
        .collect();
    assert_eq!(outs, vec![vec![0, 1, 0, 0, 1, 1, 0, 0]]);

    line.panel.outputs("entrance-in", &[off(1), pulse]).unwrap();
    line.run_until(300);
    let last_out = line
        .fake(101)
        .executed
        .iter()
        .rev()
        .find(|(_, code, _)| *code == command_code::OUT)
        .map(|(_, _, data)| data.clone());
    assert_eq!(last_out, Some(vec![1, 1, 0, 0, 1, 5, 2, 0]));

    let too_many = [off(0); OUT_RECORDS_PER_COMMAND_MAX + 1];
    for records in [&[][..], &too_many[..]] {
        let expected = CommandError::Records {
            count: records.len(),
            max: OUT_RECORDS_PER_COMMAND_MAX,
        };
        assert_eq!(
            line.panel.outputs("entrance-in", records),
            Err(expected.clone())
        );
        assert_eq!(
            line.panel.outputs_superseding("entrance-in", records),
            Err(expected)
        );
    }
    assert_eq!(
        line.panel.outputs_superseding("exit", &[off(0)]),
        Err(CommandError::UnknownPd {
            name: "exit".to_owned()
        })
    );
}

/// Variants of an install: a PD that answers KEYSET in clear (session already dropped)
/// is taken at its word; a PD without Secure Channel on a line that allows clear comes
/// online in clear and never gets KEYSET (the key must not travel in clear).
#[test]
fn install_variants() {
    let mut line = install_line(true);
    line.fake(101).keyset_ack_in_clear = true;
    line.run_until(40);
    let expected = lines(
        "
        0 101 ID sqn=0
        5 101 CAP sqn=1
        10 101 CHLNG sqn=2
        15 101 SCRYPT sqn=3
        20 101 KEYSET sqn=1
        25 entrance-in keyset
        25 101 CHLNG sqn=2
        30 101 SCRYPT sqn=3
        35 entrance-in online serial=0x12345678 caps=3 secure
        35 101 POLL sqn=1
        ",
    );
    assert_eq!(line.transcript, expected);
    assert_eq!(line.fake(101).scbk, Some(SITE_KEY));

    let mut line = install_line(false);
    line.fake(101).install_mode = false;
    line.run_until(20);
    let expected = lines(
        "
        0 101 ID sqn=0
        5 101 CAP sqn=1
        10 101 CHLNG sqn=2
        15 entrance-in online serial=0x12345678 caps=3
        15 101 POLL sqn=3
        ",
    );
    assert_eq!(line.transcript, expected);
    assert!(line
        .fake(101)
        .executed
        .iter()
        .all(|(_, code, _)| *code != command_code::KEYSET));
}

/// An input report in answer to POLL becomes an event, in clear and in a session.
#[test]
fn input_status() {
    for key in [None, Some(SITE_KEY)] {
        let mut line = Line::with_config(PanelConfig {
            pds: vec![PdConfig {
                key: key.map_or(PdKey::Clear, PdKey::Scbk),
                ..pd(101, "entrance-in")
            }],
            secure_only: false,
        });
        line.fake(101).scbk = key;
        line.run_until(30);
        line.fake(101).input_reports.push_back(vec![1, 0]);
        line.run_until(100);
        let inputs: Vec<_> = line
            .transcript
            .iter()
            .filter(|line| line.contains("inputs"))
            .map(|line| line[6..].to_owned())
            .collect();
        assert_eq!(inputs, vec!["entrance-in inputs [true, false]"], "{key:?}");
    }
}
