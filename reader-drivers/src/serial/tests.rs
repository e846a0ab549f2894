//! The reader task against real pseudo-terminals: the test holds the master side and plays
//! the reader; the task opens the slave path as it would open `/dev/ttyUSB0`.

use std::io::Write;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serialport::TTYPort;

use super::*;
use crate::CardId;

/// Longest a test waits for the task to react, in milliseconds: many read polls and
/// back-off steps, far below a hung test.
const WAIT_MS_MAX: u64 = 3_000;

/// A fast back-off so reconnection tests take a fraction of a second.
const TEST_BACKOFF: Backoff = Backoff {
    initial: Duration::from_millis(20),
    max: Duration::from_millis(80),
};

/// A pseudo-terminal standing in for a USB reader: `master` is the reader's side.
struct FakeReader {
    master: TTYPort,
    // Keeps the slave side open so the path stays valid until the task opens it.
    _slave: TTYPort,
    path: String,
}

impl FakeReader {
    fn new() -> FakeReader {
        let (master, slave) = TTYPort::pair().expect("pseudo-terminal");
        let path = slave.name().expect("slave has a path");
        FakeReader {
            master,
            _slave: slave,
            path,
        }
    }

    fn write(&mut self, bytes: &[u8]) {
        self.master.write_all(bytes).expect("write to pty");
        self.master.flush().expect("flush pty");
    }
}

fn card(canonical: &str) -> CardId {
    CardId::parse_canonical(canonical).expect("test ids are canonical")
}

fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_millis(WAIT_MS_MAX);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(5));
    }
}

fn spawn_on(path: Arc<Mutex<Option<String>>>) -> (SerialReader, mpsc::Receiver<CardRead>) {
    let source: PathSource = Box::new(move || path.lock().unwrap().clone());
    let mut config =
        SerialReaderConfig::with_path_source("entrance-in", source, LineFormat::IronLogicZ2);
    config.backoff = TEST_BACKOFF;
    let (tx, rx) = mpsc::channel();
    (SerialReader::spawn(config, tx).expect("thread"), rx)
}

fn next_reads(rx: &mpsc::Receiver<CardRead>, count: usize) -> Vec<(String, CardId, String)> {
    (0..count)
        .map(|_| {
            let read = rx
                .recv_timeout(Duration::from_millis(WAIT_MS_MAX))
                .expect("a card read");
            (read.reader, read.card, read.raw)
        })
        .collect()
}

#[test]
fn lines_split_across_writes_with_garbage_become_card_reads() {
    let mut fake = FakeReader::new();
    let path = Arc::new(Mutex::new(Some(fake.path.clone())));
    let (reader, rx) = spawn_on(path);
    wait_until("online", || reader.health().online);

    let stream: &[&[u8]] = &[
        b"Em-Mar",
        b"ine[5500] 126,5",
        b"8404\r\n\xff\xfe\x00garbage\r\nNo card\r\nMifare[BCD14264] 1K (0004,08) 066,53692\r",
        b"\nHID[1234] 1,2\r\nEm-Marine[5500] 126,58404,\r\n",
    ];
    for chunk in stream {
        fake.write(chunk);
        thread::sleep(Duration::from_millis(20));
    }

    let expected = vec![
        (
            "entrance-in".to_owned(),
            card("40:55007EE424"),
            "Em-Marine[5500] 126,58404".to_owned(),
        ),
        (
            "entrance-in".to_owned(),
            card("32:BCD14264"),
            "Mifare[BCD14264] 1K (0004,08) 066,53692".to_owned(),
        ),
        (
            "entrance-in".to_owned(),
            card("40:55007EE424"),
            "Em-Marine[5500] 126,58404,".to_owned(),
        ),
    ];
    assert_eq!(next_reads(&rx, 3), expected);
    wait_until("counts", || reader.health().frames == 4);
    let health = reader.health();
    // Two card lines, one removal, one card line again; garbage and the HID line dropped.
    assert_eq!(
        (health.frames, health.line_errors, health.port_errors),
        (4, 2, 0)
    );
    assert!(health.last_frame_at.is_some());
    assert!(rx.try_recv().is_err(), "no more reads");
    assert!(reader.stop(), "stopped in time");
}

#[test]
fn unplugged_reader_goes_offline_and_comes_back_on_a_new_path() {
    let fake = FakeReader::new();
    let path = Arc::new(Mutex::new(Some(fake.path.clone())));
    let (reader, rx) = spawn_on(Arc::clone(&path));
    wait_until("online", || reader.health().online);

    // Unplugged: the reader's side of the pty closes, the device node is gone.
    *path.lock().unwrap() = None;
    drop(fake);
    wait_until("offline", || !reader.health().online);
    wait_until("port errors counted", || reader.health().port_errors >= 2);
    let health = reader.health();
    assert_eq!(health.reconnects, 0);
    assert!(health.last_error.is_some());

    // Plugged back in under a new name.
    let mut fake = FakeReader::new();
    *path.lock().unwrap() = Some(fake.path.clone());
    wait_until("back online", || reader.health().online);
    let health = reader.health();
    assert_eq!(health.reconnects, 1);
    assert_eq!(health.port_path.as_deref(), Some(fake.path.as_str()));

    fake.write(b"Em-Marine[5500] 126,58404\r\n");
    let reads = next_reads(&rx, 1);
    assert_eq!(reads[0].1, card("40:55007EE424"));

    let started = Instant::now();
    assert!(reader.stop());
    assert!(started.elapsed() < Duration::from_millis(STOP_JOIN_TIMEOUT_MS));
}

#[test]
fn a_port_that_never_opens_is_retried_with_growing_waits_and_stops_promptly() {
    let path = Arc::new(Mutex::new(Some("/dev/schoolcard-no-such-port".to_owned())));
    let (reader, _rx) = spawn_on(path);
    wait_until("several attempts", || reader.health().port_errors >= 4);
    let health = reader.health();
    assert!(!health.online);
    assert_eq!(health.frames, 0);
    let started = Instant::now();
    assert!(reader.stop());
    assert!(started.elapsed() < Duration::from_millis(READ_POLL_MS * 2));
}

#[test]
fn reader_stops_when_nobody_listens() {
    let mut fake = FakeReader::new();
    let path = Arc::new(Mutex::new(Some(fake.path.clone())));
    let (reader, rx) = spawn_on(path);
    wait_until("online", || reader.health().online);
    drop(rx);
    fake.write(b"Em-Marine[5500] 126,58404\r\n");
    wait_until("offline", || !reader.health().online);
    assert!(reader.stop());
}

#[test]
fn backoff_doubles_up_to_the_max() {
    let backoff = Backoff::default();
    let mut delay = backoff.initial;
    let mut delays_ms = vec![];
    for _ in 0..8 {
        delays_ms.push(delay.as_millis());
        delay = backoff.next(delay);
    }
    assert_eq!(
        delays_ms,
        vec![250, 500, 1_000, 2_000, 4_000, 8_000, 10_000, 10_000]
    );
}
