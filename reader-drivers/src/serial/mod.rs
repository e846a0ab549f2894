//! The device task of a serial text reader: a port, a [`LineDecoder`], a supervisor.
//!
//! ```text
//! port path ──open (9600 8N1)──▶ reads ──LineDecoder──▶ CardRead ──▶ channel
//!     ▲                               │ read error / EOF / hang-up
//!     └──── back-off (250 ms … 10 s) ◀┘
//! ```
//!
//! [`SerialReader::spawn`] starts one thread per reader. The thread never panics on what
//! the port delivers: garbage lines are logged at debug level and counted, port failures
//! are logged, counted and retried with exponential back-off. [`SerialReader::health`]
//! returns a [`Health`] snapshot at any time; [`SerialReader::stop`] (or dropping the
//! handle) ends the thread within [`STOP_JOIN_TIMEOUT_MS`].
//!
//! The port path is asked for anew before every open ([`PathSource`]), so a reader that
//! comes back under another name (`/dev/ttyUSB1` instead of `/dev/ttyUSB0`) can be found
//! by a lookup; a stable `/dev/serial/by-id/…` path needs no lookup.

use std::fmt;
use std::io::{self, Read};
use std::sync::mpsc::{self, RecvTimeoutError, TryRecvError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

pub use serialport::{DataBits, Parity, StopBits};
use serialport::{FlowControl, SerialPort};

use crate::serial_line::{LineDecoder, LineFormat, ReaderEvent};
use crate::CardRead;

/// First wait before reopening a port that failed, in milliseconds. Short enough that a
/// reader plugged back in works again before the next pupil reaches it.
pub const RECONNECT_DELAY_INITIAL_MS: u64 = 250;

/// Longest wait between attempts to reopen a port, in milliseconds. The delay doubles
/// after each failure up to this; a reader left unplugged then costs one failed `open` and
/// one log line every 10 s, and is back within 10 s of being plugged in.
pub const RECONNECT_DELAY_MAX_MS: u64 = 10_000;

/// How long a blocking read waits before the task looks at its stop signal, in
/// milliseconds. Bounds how long [`SerialReader::stop`] waits for the thread.
pub const READ_POLL_MS: u64 = 100;

/// Largest read from the port at once, in bytes. A card line is about 50 bytes; at 9600
/// baud a read poll brings at most about 100 bytes.
pub const READ_CHUNK_BYTES: usize = 256;

/// How long [`SerialReader::stop`] waits for the thread to end, in milliseconds: ten read
/// polls. A thread still stuck in the kernel after that is left to end on its own.
pub const STOP_JOIN_TIMEOUT_MS: u64 = 1_000;

/// Line settings of a serial port. The default is what USB card readers and relay
/// boards use: 9600 baud, 8 data bits, no parity, 1 stop bit, no flow control.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortSettings {
    /// Bits per second.
    pub baud_rate: u32,
    /// Data bits per character.
    pub data_bits: DataBits,
    /// Parity bit.
    pub parity: Parity,
    /// Stop bits.
    pub stop_bits: StopBits,
}

impl Default for PortSettings {
    fn default() -> PortSettings {
        PortSettings {
            baud_rate: 9600,
            data_bits: DataBits::Eight,
            parity: Parity::None,
            stop_bits: StopBits::One,
        }
    }
}

impl PortSettings {
    /// Opens `path` with these settings, in exclusive mode, with reads that give up after
    /// `read_timeout` (a timed-out read is [`io::ErrorKind::TimedOut`], not a failure).
    pub fn open(
        &self,
        path: &str,
        read_timeout: Duration,
    ) -> serialport::Result<Box<dyn SerialPort>> {
        serialport::new(path, self.baud_rate)
            .data_bits(self.data_bits)
            .parity(self.parity)
            .stop_bits(self.stop_bits)
            .flow_control(FlowControl::None)
            .timeout(read_timeout)
            .open()
    }
}

/// Where the port is: asked before every open. `None` means "not plugged in now".
pub type PathSource = Box<dyn FnMut() -> Option<String> + Send>;

/// Exponential back-off between attempts to reopen a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Wait after the first failure.
    pub initial: Duration,
    /// Longest wait.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff {
            initial: Duration::from_millis(RECONNECT_DELAY_INITIAL_MS),
            max: Duration::from_millis(RECONNECT_DELAY_MAX_MS),
        }
    }
}

impl Backoff {
    /// The wait after `delay`: doubled, capped at `max`.
    pub fn next(&self, delay: Duration) -> Duration {
        delay.saturating_mul(2).min(self.max)
    }
}

/// How to run one serial reader.
pub struct SerialReaderConfig {
    /// The reader's configured name, copied into every [`CardRead`].
    pub name: String,
    /// Where the port is.
    pub path: PathSource,
    /// Line settings.
    pub settings: PortSettings,
    /// How the reader writes its lines.
    pub format: LineFormat,
    /// Waits between attempts to reopen the port.
    pub backoff: Backoff,
}

impl SerialReaderConfig {
    /// A reader on a fixed path with 9600 8N1 and the default back-off.
    pub fn new(name: impl Into<String>, path: impl Into<String>, format: LineFormat) -> Self {
        let path = path.into();
        SerialReaderConfig::with_path_source(name, Box::new(move || Some(path.clone())), format)
    }

    /// A reader whose path is looked up before every open.
    pub fn with_path_source(
        name: impl Into<String>,
        path: PathSource,
        format: LineFormat,
    ) -> SerialReaderConfig {
        SerialReaderConfig {
            name: name.into(),
            path,
            settings: PortSettings::default(),
            format,
            backoff: Backoff::default(),
        }
    }
}

impl fmt::Debug for SerialReaderConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SerialReaderConfig")
            .field("name", &self.name)
            .field("settings", &self.settings)
            .field("format", &self.format)
            .field("backoff", &self.backoff)
            .finish_non_exhaustive()
    }
}

/// A snapshot of a reader's state, for the device status screen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Health {
    /// The port is open and reading.
    pub online: bool,
    /// The path last opened or tried.
    pub port_path: Option<String>,
    /// When the last line was decoded (a card or a card removal).
    pub last_frame_at: Option<SystemTime>,
    /// Lines decoded into events.
    pub frames: u64,
    /// Lines dropped: noise, unknown formats, bad numbers, overlong lines.
    pub line_errors: u64,
    /// Failures to open the port, and read errors, end of file or hang-ups on it.
    pub port_errors: u64,
    /// Times the port was opened again after it had been lost.
    pub reconnects: u64,
    /// The last port failure, for display.
    pub last_error: Option<String>,
}

/// A running serial reader. Dropping it stops the thread, as [`SerialReader::stop`] does.
#[derive(Debug)]
pub struct SerialReader {
    name: String,
    health: Arc<Mutex<Health>>,
    stop_tx: Option<mpsc::Sender<()>>,
    done_rx: mpsc::Receiver<()>,
    thread: Option<thread::JoinHandle<()>>,
}

impl SerialReader {
    /// Starts the reader's thread. Card reads go to `events`; the thread ends when it is
    /// stopped or when `events`' receiver is gone. Fails only if the thread cannot be
    /// created.
    pub fn spawn(
        config: SerialReaderConfig,
        events: mpsc::Sender<CardRead>,
    ) -> io::Result<SerialReader> {
        let name = config.name.clone();
        let health = Arc::new(Mutex::new(Health::default()));
        let (stop_tx, stop_rx) = mpsc::channel();
        let (done_tx, done_rx) = mpsc::channel::<()>();
        let task = ReaderTask {
            config,
            events,
            health: Arc::clone(&health),
            stop_rx,
        };
        let thread = thread::Builder::new()
            .name(format!("reader {name}"))
            .spawn(move || {
                // Dropped when the task ends, however it ends: `stop` waits for that.
                let _done = done_tx;
                task.run();
            })?;
        Ok(SerialReader {
            name,
            health,
            stop_tx: Some(stop_tx),
            done_rx,
            thread: Some(thread),
        })
    }

    /// The reader's configured name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The reader's state now.
    pub fn health(&self) -> Health {
        lock(&self.health).clone()
    }

    /// Stops the thread and waits for it at most [`STOP_JOIN_TIMEOUT_MS`]; returns
    /// whether it ended in time.
    pub fn stop(mut self) -> bool {
        self.stop_and_join()
    }

    fn stop_and_join(&mut self) -> bool {
        // Dropping the sender wakes a back-off wait at once; a read notices within a poll.
        self.stop_tx.take();
        let Some(thread) = self.thread.take() else {
            return true;
        };
        let timeout = Duration::from_millis(STOP_JOIN_TIMEOUT_MS);
        crate::device_thread::join_within(
            thread,
            &self.done_rx,
            timeout,
            timeout,
            &self.name,
            || {},
        )
    }
}

impl Drop for SerialReader {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Why a session on an open port ended.
enum SessionEnd {
    Stopped,
    PortLost(String),
}

struct ReaderTask {
    config: SerialReaderConfig,
    events: mpsc::Sender<CardRead>,
    health: Arc<Mutex<Health>>,
    stop_rx: mpsc::Receiver<()>,
}

impl ReaderTask {
    fn run(mut self) {
        let reader = self.config.name.clone();
        let mut delay = self.config.backoff.initial;
        let mut was_online = false;
        loop {
            let path = (self.config.path)();
            let opened = match &path {
                None => Err("port not present".to_owned()),
                Some(path) => self
                    .config
                    .settings
                    .open(path, Duration::from_millis(READ_POLL_MS))
                    .map_err(|error| error.to_string()),
            };
            match opened {
                Ok(port) => {
                    tracing::info!(%reader, path = ?path, "reader online");
                    {
                        let mut health = lock(&self.health);
                        health.online = true;
                        health.port_path = path;
                        if was_online {
                            health.reconnects += 1;
                        }
                    }
                    was_online = true;
                    let opened_at = Instant::now();
                    let end = self.read_session(port);
                    lock(&self.health).online = false;
                    match end {
                        SessionEnd::Stopped => return,
                        SessionEnd::PortLost(error) => {
                            tracing::warn!(%reader, %error, "reader port lost");
                            self.count_port_error(error);
                        }
                    }
                    // A port that stayed up longer than the longest wait was healthy: its
                    // next failure starts the back-off afresh. One that drops at once keeps
                    // growing it, so a flapping adapter cannot make a busy loop.
                    if opened_at.elapsed() >= self.config.backoff.max {
                        delay = self.config.backoff.initial;
                    }
                }
                Err(error) => {
                    tracing::warn!(%reader, path = ?path, %error, ?delay, "cannot open reader port");
                    lock(&self.health).port_path = path;
                    self.count_port_error(error);
                }
            }
            match self.stop_rx.recv_timeout(delay) {
                Err(RecvTimeoutError::Timeout) => {}
                Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
            }
            delay = self.config.backoff.next(delay);
        }
    }

    fn count_port_error(&self, error: String) {
        let mut health = lock(&self.health);
        health.port_errors += 1;
        health.last_error = Some(error);
    }

    fn read_session(&mut self, mut port: Box<dyn SerialPort>) -> SessionEnd {
        let mut decoder = LineDecoder::new(self.config.format.clone());
        let mut buffer = [0u8; READ_CHUNK_BYTES];
        loop {
            match self.stop_rx.try_recv() {
                Err(TryRecvError::Empty) => {}
                Ok(()) | Err(TryRecvError::Disconnected) => return SessionEnd::Stopped,
            }
            let count = match port.read(&mut buffer) {
                Ok(0) => return SessionEnd::PortLost("end of file".to_owned()),
                Ok(count) => count,
                Err(error) if error.kind() == io::ErrorKind::TimedOut => continue,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return SessionEnd::PortLost(error.to_string()),
            };
            let at = SystemTime::now();
            for event in decoder.push(&buffer[..count]) {
                if !self.deliver(event, at) {
                    return SessionEnd::Stopped;
                }
            }
        }
    }

    /// Counts and sends one decoded line; false when nobody listens any more.
    fn deliver(
        &mut self,
        event: Result<ReaderEvent, crate::serial_line::LineError>,
        at: SystemTime,
    ) -> bool {
        let reader = &self.config.name;
        match event {
            Ok(event) => {
                {
                    let mut health = lock(&self.health);
                    health.frames += 1;
                    health.last_frame_at = Some(at);
                }
                if let ReaderEvent::CardPresented { card, raw } = event {
                    let read = CardRead {
                        reader: reader.clone(),
                        card,
                        raw,
                        at,
                    };
                    if self.events.send(read).is_err() {
                        tracing::info!(%reader, "card reads no longer consumed; reader stops");
                        return false;
                    }
                }
            }
            Err(error) => {
                tracing::debug!(%reader, %error, "reader line dropped");
                lock(&self.health).line_errors += 1;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests;
