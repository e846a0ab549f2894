//! Contactless readers through PC/SC (`pcscd` on Linux, WinSCard on Windows).
//!
//! ```text
//! establish context ──▶ list readers (+ \\?PnP?\Notification) ──▶ GetStatusChange ◀─┐
//!     ▲                                                               │ card in      │
//!     │                                  connect, FF CA 00 00 00 ◀────┘ card out ────┤
//!     │                                        │ UID ──▶ CardRead ──▶ channel         │
//!     └── back-off (250 ms … 10 s) ◀── service gone (pcscd stopped / restarted) ──────┘
//! ```
//!
//! [`PcscReaders::spawn`] starts one thread that watches every PC/SC reader of the
//! machine. A card entering a reader's field is connected, asked for its UID with the
//! PC/SC Part 3 pseudo-APDU `FF CA 00 00 00`, and reported as a [`CardRead`] whose
//! `reader` is the PC/SC reader name (e.g. `ACS ACR122U PICC Interface 00 00`); the card
//! is [`CardId::from_bytes`] of the UID, `raw` its hex. Removals are counted in
//! [`Health`]. Readers plugged in or out are noticed through the PnP pseudo-reader. When
//! the service goes away (`pcscd` restarted, `SCARD_E_NO_SERVICE`), the context is
//! established anew with exponential back-off.
//!
//! [`PcscReaders::stop`] (or dropping the handle) wakes a blocked `SCardGetStatusChange`
//! with `SCardCancel` and ends the thread within [`STOP_JOIN_TIMEOUT_MS`].
//! [`list_readers`] is a one-shot listing for the installer's tool.

use std::ffi::{CStr, CString};
use std::io;
use std::sync::mpsc::{self, RecvTimeoutError, TryRecvError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

pub use pcsc::Error;
use pcsc::{Card, Context, Disposition, Protocols, ReaderState, Scope, ShareMode, State};

use crate::serial::Backoff;
use crate::{CardId, CardRead};

/// The PC/SC Part 3 pseudo-APDU "Get Data: UID", answered by the reader itself.
pub const GET_UID_APDU: [u8; 5] = [0xFF, 0xCA, 0x00, 0x00, 0x00];

/// Longest wait of one `SCardGetStatusChange`, in milliseconds. Stop normally wakes it at
/// once with `SCardCancel`; this bounds the wait if that cancel comes just before the call.
pub const STATUS_POLL_MS: u64 = 500;

/// How long [`PcscReaders::stop`] waits for the thread to end, in milliseconds: several
/// status polls plus one card exchange.
pub const STOP_JOIN_TIMEOUT_MS: u64 = 2_000;

/// How often [`PcscReaders::stop`] repeats `SCardCancel` while waiting, in milliseconds.
pub const CANCEL_RETRY_MS: u64 = 20;

/// Largest reply to the UID APDU, in bytes: a short APDU's 256 data bytes and SW1 SW2.
pub const RESPONSE_BUFFER_BYTES: usize = 258;

/// Wait before listing readers again after a reader vanished under the watcher's feet
/// (`SCARD_E_UNKNOWN_READER`), in milliseconds. Keeps a flapping USB reader from making
/// a busy loop.
pub const RELIST_DELAY_MS: u64 = 50;

/// How the watcher runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PcscConfig {
    /// Waits between attempts to reach the PC/SC service.
    pub backoff: Backoff,
}

/// A snapshot of the watcher's state, for the device status screen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Health {
    /// A context with the PC/SC service is established.
    pub online: bool,
    /// The readers being watched, by PC/SC name.
    pub readers: Vec<String>,
    /// Readers that have a card in their field now.
    pub cards_present: Vec<String>,
    /// Cards read and sent.
    pub cards_read: u64,
    /// When the last card was read.
    pub last_card_at: Option<SystemTime>,
    /// Cards that left a reader's field.
    pub removals: u64,
    /// The reader the last card was removed from, and when.
    pub last_removal: Option<(String, SystemTime)>,
    /// Cards seen but not read: connect failed, the reader refused `FF CA`, a bad UID.
    pub read_errors: u64,
    /// Failures to establish a context and losses of the service.
    pub service_errors: u64,
    /// Times a context was established again after it had been lost.
    pub reconnects: u64,
    /// The last failure, for display.
    pub last_error: Option<String>,
}

/// Names of the PC/SC readers on this machine now, without the PnP pseudo-reader. An
/// empty list when the service runs without readers.
pub fn list_readers() -> Result<Vec<String>, Error> {
    let context = Context::establish(Scope::User)?;
    match context.list_readers_owned() {
        Ok(names) => Ok(names
            .iter()
            .filter(|name| name.as_c_str() != pcsc::PNP_NOTIFICATION())
            .map(|name| name.to_string_lossy().into_owned())
            .collect()),
        Err(Error::NoReadersAvailable) => Ok(Vec::new()),
        Err(error) => Err(error),
    }
}

/// The UID in a reply to [`GET_UID_APDU`]: everything before a `90 00` status word.
pub fn uid_from_response(response: &[u8]) -> Result<&[u8], String> {
    match response {
        [uid @ .., 0x90, 0x00] if !uid.is_empty() => Ok(uid),
        [.., 0x90, 0x00] => Err("empty UID".to_owned()),
        [.., sw1, sw2] => Err(format!("UID refused: status {sw1:02X} {sw2:02X}")),
        _ => Err(format!("short reply to FF CA: {} bytes", response.len())),
    }
}

/// Upper-case hex without separators, as [`CardRead::raw`] carries a UID.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02X}")).collect()
}

/// The running watcher. Dropping it stops the thread, as [`PcscReaders::stop`] does.
pub struct PcscReaders {
    health: Arc<Mutex<Health>>,
    /// The context the thread uses now, for `SCardCancel` on stop.
    context: Arc<Mutex<Option<Context>>>,
    stop_tx: Option<mpsc::Sender<()>>,
    done_rx: mpsc::Receiver<()>,
    thread: Option<thread::JoinHandle<()>>,
}

impl PcscReaders {
    /// Starts the watcher's thread. Card reads go to `events`; the thread ends when it is
    /// stopped or when `events`' receiver is gone. Fails only if the thread cannot be
    /// created: an absent service is retried in the thread.
    pub fn spawn(config: PcscConfig, events: mpsc::Sender<CardRead>) -> io::Result<PcscReaders> {
        let health = Arc::new(Mutex::new(Health::default()));
        let context = Arc::new(Mutex::new(None));
        let (stop_tx, stop_rx) = mpsc::channel();
        let (done_tx, done_rx) = mpsc::channel::<()>();
        let task = Watcher {
            config,
            events,
            health: Arc::clone(&health),
            context: Arc::clone(&context),
            stop_rx,
        };
        let thread = thread::Builder::new()
            .name("pcsc readers".to_owned())
            .spawn(move || {
                // Dropped when the task ends, however it ends: `stop` waits for that.
                let _done = done_tx;
                task.run();
            })?;
        Ok(PcscReaders {
            health,
            context,
            stop_tx: Some(stop_tx),
            done_rx,
            thread: Some(thread),
        })
    }

    /// The watcher's state now.
    pub fn health(&self) -> Health {
        lock(&self.health).clone()
    }

    /// Stops the thread and waits for it at most [`STOP_JOIN_TIMEOUT_MS`]; returns whether
    /// it ended in time.
    pub fn stop(mut self) -> bool {
        self.stop_and_join()
    }

    fn stop_and_join(&mut self) -> bool {
        // Dropping the sender wakes a back-off wait at once; the cancel wakes a blocked
        // GetStatusChange (repeated every CANCEL_RETRY_MS); the status poll bounds the rest.
        self.stop_tx.take();
        let Some(thread) = self.thread.take() else {
            return true;
        };
        let timeout = Duration::from_millis(STOP_JOIN_TIMEOUT_MS);
        let context = &self.context;
        crate::device_thread::join_within(
            thread,
            &self.done_rx,
            timeout,
            Duration::from_millis(CANCEL_RETRY_MS),
            "pcsc watcher",
            // Again and again: a cancel that lands between two GetStatusChange calls
            // wakes nothing.
            || {
                if let Some(context) = lock(context).as_ref() {
                    if let Err(error) = context.cancel() {
                        tracing::debug!(%error, "SCardCancel on stop");
                    }
                }
            },
        )
    }
}

impl std::fmt::Debug for PcscReaders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PcscReaders")
            .field("health", &self.health())
            .finish_non_exhaustive()
    }
}

impl Drop for PcscReaders {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Why a session with one context ended.
enum SessionEnd {
    Stopped,
    ServiceLost(Error),
}

/// Errors after which the context is worthless and must be established anew.
fn is_service_lost(error: Error) -> bool {
    matches!(
        error,
        Error::NoService
            | Error::ServiceStopped
            | Error::InvalidHandle
            | Error::CommError
            | Error::InternalError
            | Error::NoMemory
            | Error::UnknownError
    )
}

/// One watched reader: PC/SC's state record and whether we saw a card in it.
struct Watched {
    state: ReaderState,
    card_in: bool,
    /// The event count when the card in it was read: an insertion between two polls
    /// shows as the same "present" state with a new count.
    read_at_count: Option<u32>,
}

struct Watcher {
    config: PcscConfig,
    events: mpsc::Sender<CardRead>,
    health: Arc<Mutex<Health>>,
    context: Arc<Mutex<Option<Context>>>,
    stop_rx: mpsc::Receiver<()>,
}

impl Watcher {
    fn stopped(&self) -> bool {
        match self.stop_rx.try_recv() {
            Err(TryRecvError::Empty) => false,
            Ok(()) | Err(TryRecvError::Disconnected) => true,
        }
    }

    fn run(self) {
        let mut delay = self.config.backoff.initial;
        let mut was_online = false;
        loop {
            if self.stopped() {
                return;
            }
            match Context::establish(Scope::User) {
                Ok(context) => {
                    tracing::info!("pcsc context established");
                    {
                        let mut health = lock(&self.health);
                        health.online = true;
                        if was_online {
                            health.reconnects += 1;
                        }
                    }
                    was_online = true;
                    *lock(&self.context) = Some(context.clone());
                    let opened_at = Instant::now();
                    let end = self.session(&context);
                    lock(&self.context).take();
                    {
                        let mut health = lock(&self.health);
                        health.online = false;
                        health.readers.clear();
                        health.cards_present.clear();
                    }
                    drop(context);
                    match end {
                        SessionEnd::Stopped => return,
                        SessionEnd::ServiceLost(error) => {
                            tracing::warn!(%error, "pcsc service lost");
                            self.count_service_error(error.to_string());
                        }
                    }
                    if opened_at.elapsed() >= self.config.backoff.max {
                        delay = self.config.backoff.initial;
                    } else if opened_at.elapsed() >= delay {
                        // A context that worked for a while: retry soon, pcscd is
                        // probably being restarted.
                        delay = self.config.backoff.initial;
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, ?delay, "cannot reach the pcsc service");
                    self.count_service_error(error.to_string());
                }
            }
            match self.stop_rx.recv_timeout(delay) {
                Err(RecvTimeoutError::Timeout) => {}
                Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
            }
            delay = self.config.backoff.next(delay);
        }
    }

    fn count_service_error(&self, error: String) {
        let mut health = lock(&self.health);
        health.service_errors += 1;
        health.last_error = Some(error);
    }

    fn count_read_error(&self, reader: &str, error: String) {
        tracing::warn!(%reader, %error, "card not read");
        let mut health = lock(&self.health);
        health.read_errors += 1;
        health.last_error = Some(format!("{reader}: {error}"));
    }

    /// Lists readers: keeps the records of known ones, adds new ones as unaware.
    fn relist(&self, context: &Context, watched: &mut Vec<Watched>) -> Result<(), Error> {
        let names = match context.list_readers_owned() {
            Ok(names) => names,
            Err(Error::NoReadersAvailable) => Vec::new(),
            Err(error) => return Err(error),
        };
        let names: Vec<CString> = names
            .into_iter()
            .filter(|name| name.as_c_str() != pcsc::PNP_NOTIFICATION())
            .collect();
        let before = watched.len();
        watched.retain(|w| names.iter().any(|name| name.as_c_str() == w.state.name()));
        let removed_readers = before - watched.len();
        for name in &names {
            if !watched.iter().any(|w| w.state.name() == name.as_c_str()) {
                tracing::info!(reader = %name.to_string_lossy(), "pcsc reader appeared");
                watched.push(Watched {
                    state: ReaderState::new(name.clone(), State::UNAWARE),
                    card_in: false,
                    read_at_count: None,
                });
            }
        }
        if removed_readers > 0 {
            tracing::info!(count = removed_readers, "pcsc readers gone");
        }
        let readers: Vec<String> = watched
            .iter()
            .map(|w| w.state.name().to_string_lossy().into_owned())
            .collect();
        let mut health = lock(&self.health);
        health
            .cards_present
            .retain(|reader| readers.contains(reader));
        health.readers = readers;
        Ok(())
    }

    fn session(&self, context: &Context) -> SessionEnd {
        let mut pnp = ReaderState::new(pcsc::PNP_NOTIFICATION(), State::UNAWARE);
        let mut watched: Vec<Watched> = Vec::new();
        let mut relist = true;
        let poll = Duration::from_millis(STATUS_POLL_MS);
        loop {
            if self.stopped() {
                return SessionEnd::Stopped;
            }
            if relist {
                if let Err(error) = self.relist(context, &mut watched) {
                    if is_service_lost(error) {
                        return SessionEnd::ServiceLost(error);
                    }
                    tracing::warn!(%error, "cannot list pcsc readers");
                }
                relist = false;
            }
            // The PnP pseudo-reader goes first; the records are moved into one slice for
            // the call and back afterwards.
            let mut states: Vec<ReaderState> = Vec::with_capacity(watched.len() + 1);
            states.push(std::mem::replace(
                &mut pnp,
                ReaderState::new(CString::default(), State::UNAWARE),
            ));
            let mut rest: Vec<(bool, Option<u32>)> = Vec::with_capacity(watched.len());
            for w in watched.drain(..) {
                rest.push((w.card_in, w.read_at_count));
                states.push(w.state);
            }
            let result = context.get_status_change(poll, &mut states);
            let mut states = states.into_iter();
            pnp = states.next().expect("pnp record");
            watched = states
                .zip(rest)
                .map(|(state, (card_in, read_at_count))| Watched {
                    state,
                    card_in,
                    read_at_count,
                })
                .collect();
            match result {
                Ok(()) => {}
                Err(Error::Timeout) | Err(Error::Cancelled) => continue,
                Err(Error::UnknownReader) | Err(Error::ReaderUnavailable) => {
                    relist = true;
                    thread::sleep(Duration::from_millis(RELIST_DELAY_MS));
                    continue;
                }
                Err(error) if is_service_lost(error) => return SessionEnd::ServiceLost(error),
                Err(error) => {
                    tracing::warn!(%error, "SCardGetStatusChange");
                    relist = true;
                    thread::sleep(Duration::from_millis(RELIST_DELAY_MS));
                    continue;
                }
            }
            if pnp.event_state().contains(State::CHANGED) {
                pnp.sync_current_state();
                relist = true;
            }
            for w in &mut watched {
                let event = w.state.event_state();
                if !event.contains(State::CHANGED) {
                    continue;
                }
                w.state.sync_current_state();
                if event.intersects(State::UNKNOWN | State::IGNORE | State::UNAVAILABLE) {
                    relist = true;
                }
                let present = event.contains(State::PRESENT) && !event.contains(State::MUTE);
                let reader = w.state.name().to_string_lossy().into_owned();
                let count = w.state.event_count();
                if w.card_in && (!present || w.read_at_count != Some(count)) {
                    // Gone, or replaced by another card between two polls.
                    self.note_removal(&reader);
                    w.card_in = false;
                    w.read_at_count = None;
                }
                if present && !w.card_in {
                    w.card_in = true;
                    w.read_at_count = Some(count);
                    {
                        let mut health = lock(&self.health);
                        if !health.cards_present.contains(&reader) {
                            health.cards_present.push(reader.clone());
                        }
                    }
                    match self.read_card(context, w.state.name()) {
                        Ok(read) => {
                            if !self.deliver(read) {
                                return SessionEnd::Stopped;
                            }
                        }
                        Err(error) => match error.service_lost() {
                            Some(lost) => return SessionEnd::ServiceLost(lost),
                            None => self.count_read_error(&reader, error.to_string()),
                        },
                    }
                }
            }
        }
    }

    fn note_removal(&self, reader: &str) {
        tracing::debug!(%reader, "card removed");
        let mut health = lock(&self.health);
        health.removals += 1;
        health.last_removal = Some((reader.to_owned(), SystemTime::now()));
        health.cards_present.retain(|name| name != reader);
    }

    fn read_card(&self, context: &Context, reader: &CStr) -> Result<CardRead, ReadError> {
        let card: Card = context
            .connect(reader, ShareMode::Shared, Protocols::ANY)
            .map_err(ReadError::Pcsc)?;
        let mut buffer = [0u8; RESPONSE_BUFFER_BYTES];
        let result = card
            .transmit(&GET_UID_APDU, &mut buffer)
            .map_err(ReadError::Pcsc)
            .and_then(|response| {
                let uid = uid_from_response(response).map_err(ReadError::Card)?;
                let card =
                    CardId::from_bytes(uid).map_err(|error| ReadError::Card(error.to_string()))?;
                Ok(CardRead {
                    reader: reader.to_string_lossy().into_owned(),
                    card,
                    raw: hex(uid),
                    at: SystemTime::now(),
                })
            });
        // Leave the card as it is: other applications may share the reader.
        if let Err((_card, error)) = card.disconnect(Disposition::LeaveCard) {
            tracing::debug!(%error, "SCardDisconnect");
        }
        result
    }

    /// Counts and sends one read; false when nobody listens any more.
    fn deliver(&self, read: CardRead) -> bool {
        {
            let mut health = lock(&self.health);
            health.cards_read += 1;
            health.last_card_at = Some(read.at);
        }
        tracing::debug!(reader = %read.reader, card = %read.card, "card read");
        if self.events.send(read).is_err() {
            tracing::info!("card reads no longer consumed; pcsc watcher stops");
            return false;
        }
        true
    }
}

/// Why one card was not read.
#[derive(Debug)]
enum ReadError {
    Pcsc(Error),
    Card(String),
}

impl ReadError {
    /// The PC/SC error if it means the context is lost.
    fn service_lost(&self) -> Option<Error> {
        match self {
            ReadError::Pcsc(error) if is_service_lost(*error) => Some(*error),
            _ => None,
        }
    }
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Pcsc(error) => write!(f, "{error}"),
            ReadError::Card(error) => f.write_str(error),
        }
    }
}

#[cfg(test)]
mod tests;
