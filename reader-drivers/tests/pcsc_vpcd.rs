//! The PC/SC watcher against a real `pcscd` with the `vsmartcard-vpcd` driver: vpcd makes
//! readers "Virtual PCD 00 00" / "00 01" that forward to a card over TCP
//! 127.0.0.1:35963 / 35964. The card is played here ([`VirtualCard`]), not by the stock
//! `vicc`, which crashes on `FF CA`.
//!
//! The test starts `pcscd --foreground` itself and needs the Debian packages `pcscd`,
//! `vsmartcard-vpcd` and `libpcsclite-dev` (installed by `installers/setup.sh`), and no
//! other `pcscd` running. Without them it fails: a skipped peer test would pass while
//! proving nothing.
#![cfg(target_os = "linux")]

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use schoolcard_readers::pcsc::{self, Health, PcscConfig, PcscReaders, STATUS_POLL_MS};
use schoolcard_readers::serial::Backoff;
use schoolcard_readers::{CardId, CardRead};

const PCSCD: &str = "/usr/sbin/pcscd";
const PCSCD_SOCKET: &str = "/run/pcscd/pcscd.comm";
/// The vpcd reader the card goes into, and its TCP port.
const READER: &str = "Virtual PCD 00 00";
const VPCD_ADDR: &str = "127.0.0.1:35963";

/// A Mifare Classic 1K's ATR as a PC/SC contactless reader builds it.
const MIFARE_1K_ATR: [u8; 20] = [
    0x3B, 0x8F, 0x80, 0x01, 0x80, 0x4F, 0x0C, 0xA0, 0x00, 0x00, 0x03, 0x06, 0x03, 0x00, 0x01, 0x00,
    0x00, 0x00, 0x00, 0x6A,
];

/// Longest wait for `pcscd` to list the vpcd readers, in milliseconds.
const PCSCD_START_MS_MAX: u64 = 5_000;
/// Longest wait for `pcscd` to exit after SIGTERM before it is killed, in milliseconds.
const PCSCD_STOP_MS_MAX: u64 = 3_000;
/// Longest wait for one step (a card read, a removal, a reconnect), in milliseconds:
/// vpcd polls card presence a few times a second, the watcher's back-off starts at 50 ms.
const STEP_MS_MAX: u64 = 5_000;
/// Longest [`PcscReaders::stop`], in milliseconds: half a status poll, so a stop within
/// it was woken by `SCardCancel`, not by the poll running out.
const STOP_MS_MAX: u64 = STATUS_POLL_MS / 2;
/// Poll interval of the waits above, in milliseconds.
const WAIT_POLL_MS: u64 = 20;
/// Read timeout of the card's socket, in milliseconds: how soon its thread notices a
/// close.
const CARD_READ_POLL_MS: u64 = 100;

fn wait_until<T>(what: &str, wait_ms: u64, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_millis(wait_ms);
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: not within {wait_ms} ms");
        thread::sleep(Duration::from_millis(WAIT_POLL_MS));
    }
}

/// `pcscd` in the foreground, as this test's child. Dropping it stops it by its pid.
struct Pcscd {
    child: Child,
}

impl Pcscd {
    fn start() -> Pcscd {
        assert!(
            Path::new(PCSCD).exists(),
            "{PCSCD} missing: install pcscd, vsmartcard-vpcd and libpcsclite-dev \
             (installers/setup.sh)"
        );
        assert!(
            UnixStream::connect(PCSCD_SOCKET).is_err(),
            "another pcscd answers on {PCSCD_SOCKET}: stop it first (this test starts its own)"
        );
        let child = Command::new(PCSCD)
            .arg("--foreground")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start pcscd");
        let pcscd = Pcscd { child };
        let started = Instant::now();
        wait_until("pcscd lists the vpcd reader", PCSCD_START_MS_MAX, || {
            pcsc::list_readers()
                .ok()
                .filter(|readers| readers.iter().any(|name| name == READER))
        });
        eprintln!("pcscd up in {:?}", started.elapsed());
        pcscd
    }

    fn pid(&self) -> libc::pid_t {
        libc::pid_t::try_from(self.child.id()).expect("pid")
    }
}

impl Drop for Pcscd {
    fn drop(&mut self) {
        // SIGTERM first: pcscd then removes its socket and pid file. SAFETY: kill(2) on
        // our own child's pid, not yet reaped (so not reused).
        unsafe { libc::kill(self.pid(), libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_millis(PCSCD_STOP_MS_MAX);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(WAIT_POLL_MS));
        }
        // SAFETY: as above; still not reaped.
        unsafe { libc::kill(self.pid(), libc::SIGKILL) };
        let _ = self.child.wait();
    }
}

/// A card in vpcd's reader: a TCP client speaking vpcd's protocol (2-byte big-endian
/// length + payload; one-byte control messages 0 power off, 1 power on, 2 reset, 4 get
/// ATR; anything longer is an APDU). The card is in the field while the socket is open;
/// dropping it takes the card away.
struct VirtualCard {
    stream: TcpStream,
    thread: Option<thread::JoinHandle<()>>,
}

impl VirtualCard {
    fn insert(uid: &[u8]) -> VirtualCard {
        let stream = wait_until("vpcd accepts the card", STEP_MS_MAX, || {
            TcpStream::connect(VPCD_ADDR).ok()
        });
        stream
            .set_read_timeout(Some(Duration::from_millis(CARD_READ_POLL_MS)))
            .expect("card read timeout");
        stream.set_nodelay(true).expect("nodelay");
        let mut card_side = stream.try_clone().expect("clone the card socket");
        let uid = uid.to_vec();
        let thread = thread::spawn(move || {
            while let Some(message) = read_message(&mut card_side) {
                let reply = match message.as_slice() {
                    [0] | [1] | [2] => continue,
                    [4] => MIFARE_1K_ATR.to_vec(),
                    [0xFF, 0xCA, 0x00, 0x00, 0x00] => [uid.as_slice(), &[0x90, 0x00]].concat(),
                    [_] => continue,
                    _ => vec![0x6D, 0x00],
                };
                let length = u16::try_from(reply.len()).expect("reply length");
                let sent = card_side
                    .write_all(&length.to_be_bytes())
                    .and_then(|()| card_side.write_all(&reply));
                if sent.is_err() {
                    break;
                }
            }
        });
        VirtualCard {
            stream,
            thread: Some(thread),
        }
    }
}

/// One message from vpcd; `None` when the socket is closed (by vpcd or by the test).
fn read_message(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut length = [0u8; 2];
    read_full(stream, &mut length)?;
    let mut message = vec![0u8; usize::from(u16::from_be_bytes(length))];
    read_full(stream, &mut message)?;
    Some(message)
}

fn read_full(stream: &mut TcpStream, buffer: &mut [u8]) -> Option<()> {
    let mut filled = 0;
    while filled < buffer.len() {
        match stream.read(&mut buffer[filled..]) {
            Ok(0) => return None,
            Ok(count) => filled += count,
            Err(error)
                if matches!(
                    error.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) => {}
            Err(_) => return None,
        }
    }
    Some(())
}

impl Drop for VirtualCard {
    fn drop(&mut self) {
        let _ = self.stream.shutdown(Shutdown::Both);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The next card read must be `card` from the vpcd reader.
fn expect_read(events: &mpsc::Receiver<CardRead>, card: &str, raw: &str) {
    let started = Instant::now();
    let read = events
        .recv_timeout(Duration::from_millis(STEP_MS_MAX))
        .unwrap_or_else(|error| panic!("card {card} not read in {STEP_MS_MAX} ms: {error}"));
    eprintln!("read {} in {:?}", read.card, started.elapsed());
    assert_eq!(read.reader, READER);
    assert_eq!(read.card, card.parse::<CardId>().expect("card id"));
    assert_eq!(read.card.to_string(), card);
    assert_eq!(read.raw, raw);
}

fn wait_health(readers: &PcscReaders, what: &str, check: impl Fn(&Health) -> bool) -> Health {
    let started = Instant::now();
    let health = wait_until(what, STEP_MS_MAX, || {
        Some(readers.health()).filter(|health| check(health))
    });
    eprintln!("{what} in {:?}", started.elapsed());
    health
}

#[test]
fn cards_in_a_vpcd_reader_are_read_across_a_pcscd_restart() {
    let started = Instant::now();
    let mut pcscd = Pcscd::start();
    let (events_tx, events) = mpsc::channel();
    let config = PcscConfig {
        backoff: Backoff {
            initial: Duration::from_millis(50),
            max: Duration::from_millis(500),
        },
    };
    let readers = PcscReaders::spawn(config, events_tx).expect("start the watcher");
    wait_health(&readers, "watcher sees the vpcd reader", |health| {
        health.online && health.readers.iter().any(|name| name == READER)
    });

    // A 4-byte UID (Mifare Classic).
    let card = VirtualCard::insert(&[0x04, 0xA2, 0x3B, 0x1C]);
    expect_read(&events, "32:04A23B1C", "04A23B1C");
    drop(card);
    let health = wait_health(&readers, "removal of the first card", |health| {
        health.removals == 1 && health.cards_present.is_empty()
    });
    assert_eq!(health.last_removal.expect("last removal").0, READER);

    // A 7-byte UID (Mifare Ultralight, DESFire).
    let card = VirtualCard::insert(&[0x04, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66]);
    expect_read(&events, "56:04112233445566", "04112233445566");
    drop(card);
    wait_health(&readers, "removal of the second card", |health| {
        health.removals == 2
    });

    // pcscd restarts: the watcher loses its context and establishes a new one.
    drop(pcscd);
    wait_health(&readers, "watcher notices pcscd gone", |health| {
        !health.online
    });
    pcscd = Pcscd::start();
    wait_health(&readers, "watcher reconnects", |health| {
        health.online && health.reconnects == 1 && health.readers.iter().any(|n| n == READER)
    });
    let card = VirtualCard::insert(&[0x04, 0xA2, 0x3B, 0x1C]);
    expect_read(&events, "32:04A23B1C", "04A23B1C");

    let health = readers.health();
    assert_eq!(health.cards_read, 3);
    assert_eq!(health.read_errors, 0, "{health:?}");
    assert_eq!(health.cards_present, vec![READER.to_owned()]);
    assert!(events.try_recv().is_err(), "no card read twice");

    // Stop wakes the blocked GetStatusChange with SCardCancel.
    let stopping = Instant::now();
    assert!(readers.stop(), "watcher thread ended in time");
    let stop_took = stopping.elapsed();
    eprintln!(
        "stopped in {stop_took:?}; whole test {:?}",
        started.elapsed()
    );
    assert!(
        stop_took < Duration::from_millis(STOP_MS_MAX),
        "stop took {stop_took:?}"
    );
    drop(card);
    drop(pcscd);
}
