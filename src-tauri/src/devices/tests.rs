//! The hub with real drivers on pseudo-terminals: simulated readers, a serial reader
//! whose port goes away and comes back, a relay board, a simulated turnstile.

use super::*;
use schoolcard_core::gatepost::post::GatePost;
use schoolcard_core::peripherals::{LineFormatName, PeripheralSpec};
use serialport::{SerialPort, TTYPort};
use std::io::{Read, Write};
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::Receiver;

/// Longest a test waits for the hub to react, in milliseconds: many health polls.
const WAIT_MS_MAX: u64 = 5_000;

fn peripheral(
    name: &str,
    post: Post,
    direction: Option<Direction>,
    connection: Connection,
) -> Peripheral {
    Peripheral {
        id: PeripheralId::new_v7(),
        spec: PeripheralSpec {
            name: name.into(),
            post,
            direction,
            enabled: true,
            connection,
            gate_id: None,
            verification: Default::default(),
        },
        updated_at: Utc::now(),
    }
}

/// What the hub tells the window, as the tests receive it.
type Events = Receiver<(&'static str, Value)>;

/// A hub whose events land on a channel, with the gates' journal and the gate post given.
fn hub_with(journal: Option<Arc<JournalQueue>>, post: Option<GatePost>) -> (DeviceHub, Events) {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let emit: Emit = Arc::new(move |name, payload| {
        let _ = lock(&tx).send((name, payload));
    });
    (DeviceHub::new(emit, journal, post).unwrap(), rx)
}

/// A hub without a database.
fn hub() -> (DeviceHub, Events) {
    hub_with(None, None)
}

/// A relay board on a pseudo-terminal: the board's side (read what the gate writes), the
/// slave side held open, and the gate configured on its path (relay 1 entry, 2 exit).
fn relay_board(name: &str, pulse_ms: u32) -> (TTYPort, TTYPort, Peripheral) {
    let (mut board, slave) = TTYPort::pair().unwrap();
    board
        .set_timeout(Duration::from_millis(WAIT_MS_MAX))
        .unwrap();
    let gate = peripheral(
        name,
        Post::Entrance,
        None,
        Connection::RelayGate {
            port: slave.name().unwrap(),
            entry_channel: 1,
            exit_channel: 2,
            pulse_ms,
        },
    );
    (board, slave, gate)
}

fn next_event(rx: &Receiver<(&'static str, Value)>, wanted: &str) -> Value {
    let deadline = Instant::now() + Duration::from_millis(WAIT_MS_MAX);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok((name, payload)) if name == wanted => return payload,
            Ok(_) => {}
            Err(_) => panic!("no {wanted} event within {WAIT_MS_MAX} ms"),
        }
    }
}

fn wait_for(hub: &DeviceHub, what: &str, mut ok: impl FnMut(&[DeviceHealth]) -> bool) {
    let deadline = Instant::now() + Duration::from_millis(WAIT_MS_MAX);
    loop {
        let health = hub.health();
        if ok(&health) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {health:#?}"
        );
        thread::sleep(Duration::from_millis(20));
    }
}

fn state_of(health: &[DeviceHealth], id: PeripheralId) -> &DeviceHealth {
    health
        .iter()
        .find(|h| h.device_id == id)
        .expect("the device is listed")
}

#[test]
fn a_simulated_tap_arrives_as_a_card_read_of_its_device() {
    let (hub, events) = hub();
    let entry = peripheral(
        "Вход",
        Post::Entrance,
        Some(Direction::Entry),
        Connection::SimulatedReader,
    );
    let canteen = peripheral("Столовая", Post::Canteen, None, Connection::SimulatedReader);
    let (entry_id, canteen_id) = (entry.id, canteen.id);
    hub.reload(vec![entry, canteen], [7; 16]);
    wait_for(&hub, "both readers online", |h| {
        h.iter().all(|d| d.state == "online")
    });

    let card = CardId::parse_canonical("40:55007EE424").unwrap();
    hub.simulate_card(entry_id, &card).unwrap();
    let read = next_event(&events, CARD_READ_EVENT);
    assert_eq!(read["device_id"], entry_id.to_string());
    assert_eq!(read["device_name"], "Вход");
    assert_eq!(read["direction"], "entry");
    assert_eq!(read["post"], "entrance");
    assert_eq!(read["card"], "40:55007EE424");
    assert_eq!(read["raw"], "Em-Marine[5500] 126,58404");

    hub.simulate_card(canteen_id, &CardId::parse_canonical("32:BCD14264").unwrap())
        .unwrap();
    let read = next_event(&events, CARD_READ_EVENT);
    assert_eq!(
        (read["device_name"].as_str(), read["direction"].is_null()),
        (Some("Столовая"), true)
    );
    // Two frames each: the card's line and the "No card" after it.
    wait_for(&hub, "frame counts", |h| {
        state_of(h, entry_id).frames == 2 && state_of(h, canteen_id).frames == 2
    });
    // Health changes are pushed, not only polled.
    let pushed = next_event(&events, DEVICE_HEALTH_EVENT);
    assert!(
        pushed.as_array().is_some_and(|list| list.len() == 2),
        "{pushed}"
    );

    let gate = peripheral(
        "Турникет",
        Post::Entrance,
        None,
        Connection::SimulatedTurnstile,
    );
    assert!(matches!(
        hub.simulate_card(PeripheralId::new_v7(), &card),
        Err(HubError::NoSuchDevice(_))
    ));
    hub.reload(vec![gate.clone()], [7; 16]);
    assert!(matches!(
        hub.simulate_card(gate.id, &card),
        Err(HubError::NotSimulated(_))
    ));
    assert!(matches!(
        hub.simulate_card(entry_id, &card),
        Err(HubError::NoSuchDevice(_))
    ));
    drop(hub);
}

#[test]
fn a_serial_reader_that_goes_away_goes_offline_and_comes_back() {
    let (hub, events) = hub();
    let (mut master, slave) = TTYPort::pair().unwrap();
    let path = slave.name().unwrap();
    let reader = peripheral(
        "Z-2",
        Post::Office,
        None,
        Connection::SerialReader {
            port: path.clone(),
            format: LineFormatName::IronLogicZ2,
            pattern: None,
            baud_rate: 9_600,
        },
    );
    let missing = peripheral(
        "Нет порта",
        Post::Library,
        None,
        Connection::SerialReader {
            port: "/dev/does-not-exist".into(),
            format: LineFormatName::HexUid,
            pattern: None,
            baud_rate: 9_600,
        },
    );
    let bad_pattern = peripheral(
        "Шаблон",
        Post::Library,
        None,
        Connection::SerialReader {
            port: "/dev/also-missing".into(),
            format: LineFormatName::Pattern,
            pattern: Some("(?P<nothing>x)".into()),
            baud_rate: 9_600,
        },
    );
    let mut disabled = peripheral("Выключен", Post::Library, None, Connection::SimulatedReader);
    disabled.spec.enabled = false;
    let id = reader.id;
    hub.reload(
        vec![
            reader,
            missing.clone(),
            bad_pattern.clone(),
            disabled.clone(),
        ],
        [7; 16],
    );
    wait_for(&hub, "the reader online, the missing port offline", |h| {
        state_of(h, id).state == "online" && state_of(h, missing.id).state == "offline"
    });
    let health = hub.health();
    assert_eq!(state_of(&health, bad_pattern.id).state, "misconfigured");
    assert_eq!(state_of(&health, disabled.id).state, "disabled");
    assert!(state_of(&health, missing.id).detail.is_some());

    master
        .write_all(b"garbage\r\nEm-Marine[0000] 001,00002\r\n")
        .unwrap();
    let read = next_event(&events, CARD_READ_EVENT);
    assert_eq!(read["card"], "40:0000010002");
    wait_for(&hub, "the garbage counted", |h| state_of(h, id).errors >= 1);

    // Unplugged: both ends of the pty close.
    drop(master);
    drop(slave);
    wait_for(&hub, "the reader offline", |h| {
        state_of(h, id).state == "offline"
    });
    drop(hub);
}

#[test]
fn gates_open_by_hand_and_report_passes() {
    let (hub, events) = hub();
    let (mut board, _board_slave, relay) = relay_board("Реле", 100);
    let turnstile = peripheral(
        "Турникет",
        Post::Entrance,
        None,
        Connection::SimulatedTurnstile,
    );
    let reader = peripheral(
        "Вход",
        Post::Entrance,
        Some(Direction::Entry),
        Connection::SimulatedReader,
    );
    hub.reload(
        vec![relay.clone(), turnstile.clone(), reader.clone()],
        [7; 16],
    );
    wait_for(&hub, "gates online", |h| {
        state_of(h, relay.id).state == "online" && state_of(h, turnstile.id).state == "online"
    });

    hub.open_gate(relay.id, Direction::Exit).unwrap();
    // The board got relay 2 on, then off: two LCUS frames.
    let mut frames = [0u8; 8];
    board.read_exact(&mut frames).unwrap();
    assert_eq!(frames, [0xA0, 0x02, 0x01, 0xA3, 0xA0, 0x02, 0x00, 0xA2]);
    let pass = next_event(&events, GATE_EVENT);
    assert_eq!(pass["device_id"], relay.id.to_string());
    assert_eq!(
        (pass["event"].as_str(), pass["direction"].as_str()),
        (Some("pass_confirmed"), Some("exit"))
    );

    hub.open_gate(turnstile.id, Direction::Entry).unwrap();
    let pass = next_event(&events, GATE_EVENT);
    assert_eq!(pass["device_id"], turnstile.id.to_string());
    assert_eq!(pass["event"], "pass_confirmed");
    wait_for(&hub, "passes counted", |h| {
        state_of(h, relay.id).frames == 1 && state_of(h, turnstile.id).frames == 1
    });
    assert!(matches!(
        hub.open_gate(reader.id, Direction::Entry),
        Err(HubError::NotAGate(_))
    ));
    drop(hub);
}

/// Two pseudo-terminals joined back to back, like a null-modem cable: whatever is written
/// on one slave path comes out of the other. The hub opens one path as its RS-485 port,
/// the reference OSDP reader the other.
struct NullModem {
    a: String,
    b: String,
    _slaves: (TTYPort, TTYPort),
    stop: Arc<AtomicBool>,
}

impl NullModem {
    fn new() -> NullModem {
        let (mut master_a, slave_a) = TTYPort::pair().unwrap();
        let (mut master_b, slave_b) = TTYPort::pair().unwrap();
        for master in [&mut master_a, &mut master_b] {
            master.set_timeout(Duration::from_millis(10)).unwrap();
        }
        let stop = Arc::new(AtomicBool::new(false));
        for (mut from, mut to) in [
            (
                master_a.try_clone_native().unwrap(),
                master_b.try_clone_native().unwrap(),
            ),
            (master_b, master_a),
        ] {
            let stop = Arc::clone(&stop);
            thread::spawn(move || {
                let mut buffer = [0u8; 512];
                while !stop.load(Ordering::SeqCst) {
                    match from.read(&mut buffer) {
                        Ok(0) => return,
                        Ok(n) => {
                            if to.write_all(&buffer[..n]).is_err() {
                                return;
                            }
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
                        Err(_) => return,
                    }
                }
            });
        }
        NullModem {
            a: slave_a.name().unwrap(),
            b: slave_b.name().unwrap(),
            _slaves: (slave_a, slave_b),
            stop,
        }
    }
}

impl Drop for NullModem {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// The reference OSDP reader (libosdp 3.2.9, the peer script of the readers' tests) as a
/// child process, killed by its pid when dropped.
struct OsdpPeer {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    lines: Receiver<String>,
}

/// The address the peer answers at.
const PEER_ADDRESS: u8 = 101;

impl OsdpPeer {
    fn start(path: &str) -> OsdpPeer {
        use std::io::BufRead;
        let python = std::env::var_os("SCHOOLCARD_OSDP_PYTHON").map_or_else(
            || {
                std::path::PathBuf::from(std::env::var_os("HOME").expect("HOME"))
                    .join(".cache/schoolcard/venv/bin/python")
            },
            std::path::PathBuf::from,
        );
        assert!(
            python.exists(),
            "libosdp's Python is missing: run installers/setup.sh"
        );
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../reader-drivers/tests/peers/osdp_pd.py"
        );
        let mut child = std::process::Command::new(python)
            .args(["-u", script, path, &PEER_ADDRESS.to_string(), "none"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("the OSDP peer starts");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let peer = OsdpPeer {
            child,
            stdin,
            lines,
        };
        let deadline = Instant::now() + Duration::from_millis(WAIT_MS_MAX * 2);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = peer
                .lines
                .recv_timeout(left)
                .expect("the peer says it is ready");
            if line.contains("\"ready\"") {
                return peer;
            }
        }
    }

    fn send(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").unwrap();
        self.stdin.flush().unwrap();
    }
}

impl Drop for OsdpPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A relay board's side of a pty: reads what the gate writes.
fn read_frames(board: &mut TTYPort, frames: usize) -> Vec<[u8; 4]> {
    let mut bytes = vec![0u8; frames * 4];
    board.read_exact(&mut bytes).unwrap();
    bytes.chunks(4).map(|c| [c[0], c[1], c[2], c[3]]).collect()
}

#[test]
fn the_fire_alarm_unlocks_every_gate_while_the_database_is_locked() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ws.sqlite");
    let mut other_writer = schoolcard_core::Store::open(&db).unwrap();
    let journal = Arc::new(JournalQueue::start(&db).unwrap());
    let (hub, events) = hub_with(Some(Arc::clone(&journal)), None);

    let line = NullModem::new();
    let mut peer = OsdpPeer::start(&line.b);
    let reader = peripheral(
        "Вход OSDP",
        Post::Entrance,
        Some(Direction::Entry),
        Connection::OsdpReader {
            port: line.a.clone(),
            baud_rate: 9_600,
            address: PEER_ADDRESS,
            secure_only: false,
            fire_alarm_input: Some(0),
        },
    );
    let mut boards = Vec::new();
    let mut gates = Vec::new();
    for name in ["Турникет 1", "Турникет 2"] {
        let (board, slave, gate) = relay_board(name, 300);
        gates.push(gate);
        boards.push((board, slave));
    }
    let turnstile = peripheral(
        "Калитка",
        Post::Entrance,
        None,
        Connection::SimulatedTurnstile,
    );
    gates.push(turnstile);
    let mut all = vec![reader.clone()];
    all.extend(gates.iter().cloned());
    hub.reload(all, [7; 16]);
    wait_for(&hub, "the reader and the gates online", |h| {
        h.iter().all(|d| d.state == "online")
    });

    // Another writer holds the database, as a long import would.
    let (locked_tx, locked_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let holder = thread::spawn(move || {
        other_writer
            .write(|_| {
                locked_tx.send(()).unwrap();
                release_rx.recv().unwrap();
                Ok::<(), schoolcard_core::error::StoreError>(())
            })
            .unwrap();
    });
    locked_rx.recv().unwrap();

    let alarm = Instant::now();
    peer.send("inputs 0100");
    for (board, _) in &mut boards {
        // Both relays closed and kept closed: the turnstile's Unlock A and B held.
        let frames = read_frames(board, 2);
        assert_eq!(frames, [[0xA0, 0x01, 0x01, 0xA2], [0xA0, 0x02, 0x01, 0xA3]]);
    }
    let elapsed = alarm.elapsed();
    assert!(
        elapsed < Duration::from_millis(500),
        "the gates took {elapsed:?} to unlock"
    );
    let told = next_event(&events, EMERGENCY_EVENT);
    assert_eq!(told["active"], true);
    assert_eq!(told["source"], "alarm_input");
    assert_eq!(told["report"]["done"].as_array().unwrap().len(), 3);
    assert!(hub.in_emergency());
    assert!(matches!(
        hub.open_gate(gates[2].id, Direction::Entry),
        Err(HubError::Emergency)
    ));

    // The journal hears of it once the other writer lets go, and nothing is lost.
    assert_eq!(journal.stats().written, 0);
    release_tx.send(()).unwrap();
    holder.join().unwrap();
    assert!(journal.flush(Duration::from_millis(WAIT_MS_MAX * 4)));
    let store = schoolcard_core::Store::open(&db).unwrap();
    let payload: String = store
        .conn()
        .query_row(
            "SELECT payload FROM journal WHERE kind = 'emergency_unlocked'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(payload.contains("alarm_input"), "{payload}");

    // Over: every gate locked again.
    let report = hub.end_emergency();
    assert_eq!(report.done.len(), 3);
    for (board, _) in &mut boards {
        let frames = read_frames(board, 2);
        assert_eq!(frames, [[0xA0, 0x01, 0x00, 0xA1], [0xA0, 0x02, 0x00, 0xA2]]);
    }
    assert!(!hub.in_emergency());
    drop(hub);
    drop(peer);
}

/// The school's rules made to let pupils in and out at any hour of any day: these tests
/// run at night, at weekends and during lessons too, when the school's own rules would
/// deny (and the guard's answer would become an override).
fn open_at_all_hours(db: &std::path::Path) {
    let mut ws = schoolcard_core::Workstation::open(db).unwrap();
    let mut run = |command: Value| -> Value {
        ws.execute(
            serde_json::from_value(command).unwrap(),
            Utc::now(),
            &|_| {},
        )
        .unwrap()
    };
    run(json!({"type": "sign_in_password", "login": "admin",
               "password": schoolcard_core::demo::DEMO_PASSWORD}));
    let mut rules = run(json!({"type": "get_access_rules"}))["rules"].clone();
    let always = rules["policy"]["role_windows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["role"] == "guard")
        .expect("the default policy lets the guard in at any hour")["window"]
        .clone();
    rules["policy"]["pupils"] = always;
    rules["policy"]["grade_windows"] = json!([]);
    rules["policy"]["class_windows"] = json!([]);
    rules["policy"]["no_leaving"] = json!([]);
    run(json!({"type": "configure_access_rules", "rules": rules}));
}

/// The demo school in a temporary database, a gate post on it, and a hub deciding its
/// entrance with a relay board on a pty (the test holds the board's side).
struct Entrance {
    _dir: tempfile::TempDir,
    db: std::path::PathBuf,
    journal: Arc<JournalQueue>,
    hub: DeviceHub,
    events: Events,
    board: TTYPort,
    _board_slave: TTYPort,
    reader: Peripheral,
}

impl Entrance {
    fn start(verification: schoolcard_core::peripherals::VerificationMode) -> Entrance {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("ws.sqlite");
        schoolcard_core::demo::ensure_demo(&db, schoolcard_core::demo::DEMO_SEED, Utc::now())
            .unwrap();
        open_at_all_hours(&db);
        let journal = Arc::new(JournalQueue::start(&db).unwrap());
        let post = GatePost::open(&db, Arc::clone(&journal), Utc::now()).unwrap();
        let (hub, events) = hub_with(Some(Arc::clone(&journal)), Some(post));
        let (board, board_slave, gate) = relay_board("Турникет", 100);
        let mut reader = peripheral(
            "Вход",
            Post::Entrance,
            Some(Direction::Entry),
            Connection::SimulatedReader,
        );
        reader.spec.gate_id = Some(gate.id);
        reader.spec.verification = verification;
        hub.reload(vec![gate, reader.clone()], [7; 16]);
        wait_for(&hub, "reader and gate online", |h| {
            h.iter().all(|d| d.state == "online")
        });
        Entrance {
            _dir: dir,
            db,
            journal,
            hub,
            events,
            board,
            _board_slave: board_slave,
            reader,
        }
    }

    /// A pupil's active card, from the demo.
    fn pupil_card(&self, state: &str) -> (CardId, String) {
        let store = schoolcard_core::Store::open(&self.db).unwrap();
        store
            .conn()
            .query_row(
                "SELECT c.card_key, p.surname FROM cards c JOIN persons p ON p.id = c.person_id
                 JOIN classes cl ON cl.id = p.class_id
                 WHERE c.state = ?1 AND p.kind = 'pupil' AND p.status = 'active'
                 ORDER BY c.card_key LIMIT 1",
                [state],
                |r| {
                    Ok((
                        CardId::parse_canonical(&r.get::<_, String>(0)?).unwrap(),
                        r.get(1)?,
                    ))
                },
            )
            .unwrap()
    }

    /// The holder of `card` goes out through an exit reader without a gate.
    fn pass_out(&mut self, card: &CardId) {
        let exit = peripheral(
            "Выход",
            Post::Entrance,
            Some(Direction::Exit),
            Connection::SimulatedReader,
        );
        let post = self.hub.shared.post.as_ref().unwrap();
        let mut post = lock(post);
        let out = post.present(card, "", &exit, Utc::now()).unwrap();
        assert!(out.decision.allowed, "{out:?}");
        post.outcome(
            out.passage_id,
            schoolcard_core::events::PassOutcome::Passed,
            Utc::now(),
        );
    }

    fn passages(&self) -> Vec<(String, String, String)> {
        assert!(self.journal.flush(Duration::from_millis(WAIT_MS_MAX)));
        let store = schoolcard_core::Store::open(&self.db).unwrap();
        let mut statement = store
            .conn()
            .prepare("SELECT reason, verified_by, outcome FROM passages ORDER BY at_us")
            .unwrap();
        let rows = statement
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap();
        rows.collect::<Result<_, _>>().unwrap()
    }
}

#[test]
fn a_guard_confirmed_pupil_opens_the_relay_and_the_pass_is_journaled() {
    let mut entrance =
        Entrance::start(schoolcard_core::peripherals::VerificationMode::Guard { timeout_s: 30 });
    let (card, surname) = entrance.pupil_card("active");
    entrance
        .hub
        .simulate_card(entrance.reader.id, &card)
        .unwrap();
    let passage = next_event(&entrance.events, entrance::PASSAGE_EVENT);
    assert_eq!(passage["awaiting"], "guard");
    assert_eq!(passage["decision"]["allowed"], true, "{passage}");
    assert!(passage["person"]["full_name"]
        .as_str()
        .unwrap()
        .starts_with(&surname));
    assert!(passage["person"]["photo"]
        .as_str()
        .unwrap()
        .starts_with("data:image/"));
    assert!(passage["person"]["class_name"].is_string());

    let id: uuid::Uuid = passage["passage_id"].as_str().unwrap().parse().unwrap();
    let decided = entrance.hub.guard_decide(id, true).unwrap();
    assert_eq!(
        decided.verified_by,
        Some(schoolcard_core::events::Verification::Guard)
    );
    // The relay board: entry relay on, then off after the pulse.
    let frames = read_frames(&mut entrance.board, 2);
    assert_eq!(frames, [[0xA0, 0x01, 0x01, 0xA2], [0xA0, 0x01, 0x00, 0xA1]]);
    let outcome = next_event(&entrance.events, entrance::PASSAGE_OUTCOME_EVENT);
    assert_eq!(outcome["passage_id"], id.to_string());
    assert_eq!(outcome["outcome"], "passed");
    assert_eq!(
        entrance.passages(),
        [(
            "allowed".to_owned(),
            "guard".to_owned(),
            "passed".to_owned()
        )]
    );
}

#[test]
fn denials_never_open_the_gate_and_an_unanswered_check_is_denied() {
    let mut entrance =
        Entrance::start(schoolcard_core::peripherals::VerificationMode::Guard { timeout_s: 3 });
    // An unknown card: denied at once, no question to the guard.
    let stranger = CardId::parse_canonical("40:FFFFFFFFFF").unwrap();
    entrance
        .hub
        .simulate_card(entrance.reader.id, &stranger)
        .unwrap();
    let passage = next_event(&entrance.events, entrance::PASSAGE_EVENT);
    assert_eq!(passage["decision"]["reason"], "unknown_card");
    assert_eq!(passage["outcome"], "denied");
    assert!(passage["awaiting"].is_null());
    // A blocked card is refused without asking the guard, and cannot be overridden.
    let (blocked, _) = entrance.pupil_card("blocked");
    entrance
        .hub
        .simulate_card(entrance.reader.id, &blocked)
        .unwrap();
    let passage = next_event(&entrance.events, entrance::PASSAGE_EVENT);
    assert_eq!(
        (
            passage["decision"]["reason"].as_str(),
            passage["outcome"].as_str()
        ),
        (Some("card_blocked"), Some("denied"))
    );
    assert!(passage["awaiting"].is_null());
    let id: uuid::Uuid = passage["passage_id"].as_str().unwrap().parse().unwrap();
    let refused = entrance.hub.guard_decide(id, true).unwrap_err();
    assert_eq!(
        refused.reason().map(|r| r.as_str()),
        Some("not_overridable")
    );
    // A pupil nobody answers for: denied at the deadline.
    let (card, _) = entrance.pupil_card("active");
    entrance
        .hub
        .simulate_card(entrance.reader.id, &card)
        .unwrap();
    let passage = next_event(&entrance.events, entrance::PASSAGE_EVENT);
    assert_eq!(passage["awaiting"], "guard");
    let outcome = next_event(&entrance.events, entrance::PASSAGE_OUTCOME_EVENT);
    assert_eq!(outcome["outcome"], "denied");
    let mut nothing = [0u8; 1];
    entrance
        .board
        .set_timeout(Duration::from_millis(200))
        .unwrap();
    assert!(
        entrance.board.read(&mut nothing).is_err(),
        "the relay moved"
    );
    let passages = entrance.passages();
    let outcomes: Vec<&str> = passages.iter().map(|p| p.2.as_str()).collect();
    assert_eq!(outcomes, ["denied", "denied", "denied"], "{passages:?}");
    assert_eq!(passages[2].0, "guard_denied");
}

#[test]
fn a_relay_board_unplugged_goes_offline_and_works_again_when_plugged_back() {
    PORT_RETRY_OVERRIDE_MS.store(100, Ordering::Relaxed);
    let (hub, _events) = hub();
    // The board is configured by a stable name, as /dev/serial/by-id/… links are.
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("usb-relay-board");
    let plug = |link: &std::path::Path| {
        let (mut board, slave) = TTYPort::pair().unwrap();
        board
            .set_timeout(Duration::from_millis(WAIT_MS_MAX))
            .unwrap();
        let _ = std::fs::remove_file(link);
        std::os::unix::fs::symlink(slave.name().unwrap(), link).unwrap();
        (board, slave)
    };
    let (board, slave) = plug(&link);
    let gate = peripheral(
        "Реле",
        Post::Entrance,
        None,
        Connection::RelayGate {
            port: link.display().to_string(),
            entry_channel: 1,
            exit_channel: 2,
            pulse_ms: 100,
        },
    );
    hub.reload(vec![gate.clone()], [7; 16]);
    wait_for(&hub, "the board online", |h| {
        state_of(h, gate.id).state == "online"
    });

    // Unplugged: the board's node goes away with its other end.
    std::fs::remove_file(&link).unwrap();
    drop(board);
    drop(slave);
    wait_for(&hub, "the board offline", |h| {
        state_of(h, gate.id).state == "offline"
    });
    assert!(hub.open_gate(gate.id, Direction::Entry).is_err());

    // Plugged back (another pty behind the same name): reopened, and it pulses again.
    let (mut board, _slave) = plug(&link);
    wait_for(&hub, "the board back online", |h| {
        let state = state_of(h, gate.id);
        state.state == "online" && state.reconnects == 1
    });
    hub.open_gate(gate.id, Direction::Entry).unwrap();
    let frames = read_frames(&mut board, 2);
    assert_eq!(frames, [[0xA0, 0x01, 0x01, 0xA2], [0xA0, 0x01, 0x00, 0xA1]]);
    drop(hub);
}

/// An external verifier on loopback: answers each POST with `{"allow": …}` as told, or
/// too late.
struct Verifier {
    url: String,
    answer: Arc<Mutex<&'static str>>,
    asked: Arc<Mutex<Vec<Value>>>,
}

impl Verifier {
    fn start() -> Verifier {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/verify", listener.local_addr().unwrap());
        let answer = Arc::new(Mutex::new("allow"));
        let asked = Arc::new(Mutex::new(Vec::new()));
        let (mode, log) = (Arc::clone(&answer), Arc::clone(&asked));
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut request = Vec::new();
                let mut buffer = [0u8; 4096];
                // Headers, then as many body bytes as Content-Length says.
                let body = loop {
                    let n = stream.read(&mut buffer).unwrap_or(0);
                    if n == 0 {
                        break None;
                    }
                    request.extend_from_slice(&buffer[..n]);
                    let text = String::from_utf8_lossy(&request).to_string();
                    let Some((head, body)) = text.split_once("\r\n\r\n") else {
                        continue;
                    };
                    let length: usize = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if body.len() >= length {
                        break Some(body.to_owned());
                    }
                };
                let Some(body) = body else { continue };
                lock(&log).push(serde_json::from_str(&body).unwrap_or(Value::Null));
                let reply = match *lock(&mode) {
                    "deny" => r#"{"allow": false}"#,
                    "slow" => {
                        thread::sleep(Duration::from_millis(1_000));
                        r#"{"allow": true}"#
                    }
                    _ => r#"{"allow": true}"#,
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
                    reply.len()
                );
            }
        });
        Verifier { url, answer, asked }
    }
}

#[test]
fn an_external_verifier_decides_and_its_silence_falls_back_to_the_guard() {
    let verifier = Verifier::start();
    let mut entrance = Entrance::start(schoolcard_core::peripherals::VerificationMode::External {
        url: verifier.url.clone(),
        deadline_ms: 300,
        timeout_s: 30,
    });
    let (card, surname) = entrance.pupil_card("active");

    // Allowed: the gate opens on the verifier's word.
    entrance
        .hub
        .simulate_card(entrance.reader.id, &card)
        .unwrap();
    let asking = next_event(&entrance.events, entrance::PASSAGE_EVENT);
    assert_eq!(asking["awaiting"], "external");
    let decided = next_event(&entrance.events, entrance::PASSAGE_EVENT);
    assert_eq!(decided["verified_by"], "external");
    assert_eq!(
        read_frames(&mut entrance.board, 2),
        [[0xA0, 0x01, 0x01, 0xA2], [0xA0, 0x01, 0x00, 0xA1]]
    );
    let outcome = next_event(&entrance.events, entrance::PASSAGE_OUTCOME_EVENT);
    assert_eq!(outcome["outcome"], "passed");
    let question = lock(&verifier.asked)[0].clone();
    assert!(question["person"]["full_name"]
        .as_str()
        .unwrap()
        .starts_with(&surname));
    // The card as the reader read it (a 24-bit enrolment reads back as the full id).
    let read = CardId::parse_canonical(question["card"].as_str().unwrap()).unwrap();
    assert!(read.matches(&card), "{read} is not {card}");

    // Denied by the verifier: no relay moves. (She goes out first: a second entry would
    // be a passback, which the rules deny without asking anyone.)
    entrance.pass_out(&card);
    *lock(&verifier.answer) = "deny";
    entrance
        .hub
        .simulate_card(entrance.reader.id, &card)
        .unwrap();
    next_event(&entrance.events, entrance::PASSAGE_EVENT);
    let denied = next_event(&entrance.events, entrance::PASSAGE_EVENT);
    assert_eq!(denied["outcome"], "denied");
    assert_eq!(denied["verified_by"], "external");

    // Too slow: the guard is asked instead and lets the pupil through.
    entrance.pass_out(&card);
    *lock(&verifier.answer) = "slow";
    entrance
        .hub
        .simulate_card(entrance.reader.id, &card)
        .unwrap();
    next_event(&entrance.events, entrance::PASSAGE_EVENT);
    let to_guard = next_event(&entrance.events, entrance::PASSAGE_EVENT);
    assert_eq!(to_guard["awaiting"], "guard");
    let id: uuid::Uuid = to_guard["passage_id"].as_str().unwrap().parse().unwrap();
    entrance.hub.guard_decide(id, true).unwrap();
    assert_eq!(
        read_frames(&mut entrance.board, 2),
        [[0xA0, 0x01, 0x01, 0xA2], [0xA0, 0x01, 0x00, 0xA1]]
    );
    let outcome = next_event(&entrance.events, entrance::PASSAGE_OUTCOME_EVENT);
    assert_eq!(outcome["outcome"], "passed");
    let verified: Vec<String> = entrance.passages().into_iter().map(|p| p.1).collect();
    assert_eq!(
        verified,
        ["external", "automatic", "external", "automatic", "guard"]
    );
}

#[test]
fn the_tests_rules_let_pupils_through_at_night_on_a_sunday_during_lessons() {
    use chrono::TimeZone;
    let entrance = Entrance::start(Default::default());
    let (card, _) = entrance.pupil_card("active");
    let journal = Arc::new(JournalQueue::start(&entrance.db).unwrap());
    // Sunday 29 November 2026, 03:00 in Moscow; then Tuesday 10:00, in the second lesson.
    for at in [
        Utc.with_ymd_and_hms(2026, 11, 29, 0, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(2026, 12, 1, 7, 0, 0).unwrap(),
    ] {
        let mut post = GatePost::open(&entrance.db, Arc::clone(&journal), at).unwrap();
        let entry = post.present(&card, "", &entrance.reader, at).unwrap();
        assert!(entry.decision.allowed, "{at}: {:?}", entry.decision);
        post.outcome(
            entry.passage_id,
            schoolcard_core::events::PassOutcome::Passed,
            at,
        );
        let mut exit = entrance.reader.clone();
        exit.spec.direction = Some(Direction::Exit);
        let out = post.present(&card, "", &exit, at).unwrap();
        assert!(out.decision.allowed, "{at}: {:?}", out.decision);
        post.outcome(
            out.passage_id,
            schoolcard_core::events::PassOutcome::Passed,
            at,
        );
    }
}

#[test]
fn the_canteens_receipt_printer_gets_the_receipt_and_says_when_it_is_gone() {
    use schoolcard_core::peripherals::Paper;

    let (hub, _events) = hub();
    let (mut printer_side, slave) = TTYPort::pair().unwrap();
    printer_side
        .set_timeout(Duration::from_millis(WAIT_MS_MAX))
        .unwrap();
    let printer = peripheral(
        "Принтер чеков",
        Post::Canteen,
        None,
        Connection::ReceiptPrinter {
            port: slave.name().unwrap(),
            baud_rate: 9_600,
            paper: Paper::Mm80,
        },
    );
    // A printer of another post is not the canteen's.
    let (_, library_slave) = TTYPort::pair().unwrap();
    let library = peripheral(
        "Принтер библиотеки",
        Post::Library,
        None,
        Connection::ReceiptPrinter {
            port: library_slave.name().unwrap(),
            baud_rate: 9_600,
            paper: Paper::Mm58,
        },
    );
    hub.reload(vec![library.clone(), printer.clone()], [7; 16]);
    assert_eq!(
        hub.printer(Post::Canteen),
        Some(("Принтер чеков".to_owned(), Paper::Mm80))
    );
    assert_eq!(state_of(&hub.health(), printer.id).state, "online");

    let receipt = b"\x1b@\x1bt\x11Bulochka 45.00\n\x1dVB\x00";
    assert_eq!(hub.print(Post::Canteen, receipt).unwrap(), "Принтер чеков");
    let mut got = vec![0u8; receipt.len()];
    printer_side.read_exact(&mut got).unwrap();
    assert_eq!(got, receipt);
    let health = hub.health();
    let printed = state_of(&health, printer.id);
    assert_eq!((printed.frames, printed.errors), (1, 0));

    // Unplugged: the port's node is gone; printing says so, and the health shows it.
    drop(printer_side);
    drop(slave);
    let error = hub.print(Post::Canteen, receipt).unwrap_err();
    assert!(matches!(error, HubError::Driver(_)), "{error:?}");
    let health = hub.health();
    let gone = state_of(&health, printer.id);
    assert_eq!((gone.state, gone.errors), ("offline", 1), "{gone:?}");
    assert!(matches!(
        hub.print(Post::Office, receipt),
        Err(HubError::NoPrinter)
    ));
}

#[test]
fn the_hub_serves_the_vending_machines_it_is_given_and_says_when_it_cannot() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ws.sqlite");
    drop(schoolcard_core::Workstation::open(&db).unwrap());
    let (hub, _events) = hub();
    hub.serve_vending_from(&db);
    let key = "6b65792d6f662d7468652d6779";
    let digest = {
        use std::fmt::Write as _;
        let bytes = <sha2::Sha256 as sha2::Digest>::digest(key.as_bytes());
        bytes.iter().fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
    };
    let machine = |name: &str, listen: &str| {
        peripheral(
            name,
            Post::Canteen,
            None,
            Connection::VendingMachine {
                key_sha256: digest.clone(),
                listen: listen.into(),
            },
        )
    };
    let gym = machine("Автомат у спортзала", "127.0.0.1:0");
    hub.reload(vec![gym.clone()], [7; 16]);
    let health = hub.health();
    let served = state_of(&health, gym.id);
    assert_eq!(served.state, "online", "{served:?}");
    let base = served.detail.clone().unwrap();
    let answer: Value = ureq::get(&format!("{base}/v1/health"))
        .set("Authorization", &format!("Bearer {key}"))
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    assert_eq!(answer["machine"], "Автомат у спортзала");

    // Another listener holds the address: the machine is offline, and says why.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hall = machine("Автомат в холле", &taken.local_addr().unwrap().to_string());
    hub.reload(vec![hall.clone()], [7; 16]);
    let health = hub.health();
    let refused = state_of(&health, hall.id);
    assert_eq!(refused.state, "offline", "{refused:?}");
    assert!(refused.detail.as_deref().unwrap().contains("cannot listen"));
    // The old API stopped when its machine went.
    assert!(ureq::get(&format!("{base}/v1/health")).call().is_err());
}
