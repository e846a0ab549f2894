//! One OSDP line driven for real: a thread owns the port and a [`ControlPanel`].
//!
//! ```text
//! OsdpLine / LineCommands::output/outputs/led/buzzer ──request channel──▶ thread ──panel
//! thread: next_frame(now) ──write──▶ port ──read (short timeout)──▶ on_bytes(now, …)
//!         reply_deadline() passed ──▶ on_timeout(now)
//! thread ──LineEvent::Panel(PanelEvent) / PortFailed──▶ events channel
//! ```
//!
//! The port is anything `Read + Write + Send` whose reads give up after a short time
//! ([`io::ErrorKind::TimedOut`] or [`io::ErrorKind::WouldBlock`]): a serial port opened
//! with a [`READ_TIMEOUT_MS`] timeout ([`OsdpLine::open`]), a pseudo-terminal in a test,
//! or a scripted fake. The read timeout is the loop's tick: frames go out at most that
//! late and requests are taken up at most that late.
//!
//! RND.A for Secure Channel handshakes comes from the OS (`getrandom`).
//!
//! [`OsdpLine::commands`] hands out [`LineCommands`]: a cloneable, `Send + Sync` handle
//! that only queues commands, for whoever drives the PDs' outputs and indicators (an
//! [`OsdpGate`](crate::gate::OsdpGate), the card-tap feedback). It does not keep the
//! thread alive: once the line is stopped, its commands fail with
//! [`LineError::NotRunning`].
//!
//! The thread ends when the line is stopped ([`OsdpLine::stop`] or drop), when the
//! events receiver is gone, or when the port fails (reported as
//! [`LineEvent::PortFailed`]; reopening is the supervisor's job).

use std::io::{self, Read, Write};
use std::sync::mpsc::{self, TryRecvError};
use std::thread;
use std::time::{Duration, Instant};

use super::message::{BuzzerCommand, LedCommand, OutputCommand};
use super::panel::{CommandError, ConfigError, ControlPanel, PanelConfig, PanelEvent};
use super::secure::RANDOM_LEN_BYTES;
use crate::serial::PortSettings;

/// Read timeout of the port, in milliseconds: the loop's tick. Small next to the 50 ms
/// poll interval and the 200 ms reply timeout, large enough not to spin.
pub const READ_TIMEOUT_MS: u64 = 10;

/// Bytes taken from the port per read: more than the longest frame a PD sends in one go
/// is not needed, the decoder takes any chunking.
pub const READ_CHUNK_BYTES: usize = 512;

/// How long [`OsdpLine::output`] and friends wait for the thread to take the command, in
/// milliseconds: many ticks; the thread answers within one unless it is stuck in a write.
pub const REQUEST_REPLY_TIMEOUT_MS: u64 = 1_000;

/// How long [`OsdpLine::stop`] waits for the thread to end, in milliseconds: many ticks.
/// A thread still stuck in the kernel after that is left to end on its own.
pub const STOP_JOIN_TIMEOUT_MS: u64 = 1_000;

/// What the line reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineEvent {
    /// What the panel saw.
    Panel(PanelEvent),
    /// The port failed to read or write; the thread has ended.
    PortFailed(String),
}

/// Why a command was not queued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    /// The panel refused it (unknown PD, not online, queue full).
    #[error(transparent)]
    Command(#[from] CommandError),
    /// The line's thread has ended or did not answer within [`REQUEST_REPLY_TIMEOUT_MS`].
    #[error("the OSDP line is not running")]
    NotRunning,
}

/// Why a line did not start.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    /// The configuration is refused.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The port did not open, the OS has no random source, or no thread could be made.
    #[error(transparent)]
    Io(#[from] io::Error),
    /// The serial port did not open.
    #[error(transparent)]
    Port(#[from] serialport::Error),
}

enum Action {
    Output(OutputCommand),
    Outputs(Vec<OutputCommand>),
    OutputsSuperseding(Vec<OutputCommand>),
    Led(LedCommand),
    Buzzer(BuzzerCommand),
}

struct Request {
    pd: String,
    action: Action,
    reply: mpsc::Sender<Result<(), CommandError>>,
}

/// A running OSDP line. Dropping it stops the thread, as [`OsdpLine::stop`] does.
#[derive(Debug)]
pub struct OsdpLine {
    commands: LineCommands,
    /// Dropped to stop the thread; never sent on.
    stop: Option<mpsc::Sender<()>>,
    done_rx: mpsc::Receiver<()>,
    thread: Option<thread::JoinHandle<()>>,
}

/// The command side of a running line: queues OUT, LED and BUZ commands for its PDs.
/// Cloneable and shareable between threads; see the module documentation.
#[derive(Clone)]
pub struct LineCommands {
    requests: mpsc::Sender<Request>,
}

impl std::fmt::Debug for LineCommands {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LineCommands").finish_non_exhaustive()
    }
}

fn os_random() -> io::Result<[u8; RANDOM_LEN_BYTES]> {
    let mut random = [0; RANDOM_LEN_BYTES];
    getrandom::getrandom(&mut random).map_err(|error| io::Error::other(error.to_string()))?;
    Ok(random)
}

impl OsdpLine {
    /// Opens the serial port at `path` with `settings` and a [`READ_TIMEOUT_MS`] read
    /// timeout, and starts the line on it.
    pub fn open(
        path: &str,
        settings: &PortSettings,
        config: PanelConfig,
        events: mpsc::Sender<LineEvent>,
    ) -> Result<OsdpLine, SpawnError> {
        let port = settings.open(path, Duration::from_millis(READ_TIMEOUT_MS))?;
        OsdpLine::spawn(port, config, events)
    }

    /// Starts the line's thread on `port`, whose reads must time out after a short while
    /// (see the module documentation). Events go to `events`.
    pub fn spawn<P>(
        port: P,
        config: PanelConfig,
        events: mpsc::Sender<LineEvent>,
    ) -> Result<OsdpLine, SpawnError>
    where
        P: Read + Write + Send + 'static,
    {
        // Checked once here so that a handshake never finds the source missing.
        os_random()?;
        let challenges = Box::new(|| {
            os_random().unwrap_or_else(|error| {
                // The OS source worked at spawn; it does not stop working afterwards.
                panic!("OS random source failed after working: {error}")
            })
        });
        let panel = ControlPanel::new(config, challenges)?;
        let (requests, requests_rx) = mpsc::channel();
        let (stop, stop_rx) = mpsc::channel::<()>();
        let (done_tx, done_rx) = mpsc::channel::<()>();
        let task = LineTask {
            port,
            panel,
            events,
            requests: requests_rx,
            stop: stop_rx,
        };
        let thread = thread::Builder::new()
            .name("osdp line".to_owned())
            .spawn(move || {
                // Dropped when the task ends, however it ends: `stop` waits for that.
                let _done = done_tx;
                task.run();
            })?;
        Ok(OsdpLine {
            commands: LineCommands { requests },
            stop: Some(stop),
            done_rx,
            thread: Some(thread),
        })
    }

    /// A handle that queues commands on this line, for other threads.
    pub fn commands(&self) -> LineCommands {
        self.commands.clone()
    }

    /// Queues an OUT record for the PD called `pd`.
    pub fn output(&self, pd: &str, command: OutputCommand) -> Result<(), LineError> {
        self.commands.output(pd, command)
    }

    /// Queues an LED record for the PD called `pd`.
    pub fn led(&self, pd: &str, command: LedCommand) -> Result<(), LineError> {
        self.commands.led(pd, command)
    }

    /// Queues a buzzer command for the PD called `pd`.
    pub fn buzzer(&self, pd: &str, command: BuzzerCommand) -> Result<(), LineError> {
        self.commands.buzzer(pd, command)
    }

    /// Stops the thread and waits for it at most [`STOP_JOIN_TIMEOUT_MS`]; returns
    /// whether it ended in time.
    pub fn stop(mut self) -> bool {
        self.stop_and_join()
    }

    fn stop_and_join(&mut self) -> bool {
        // The thread sees the stop channel closed within one tick.
        self.stop.take();
        let Some(thread) = self.thread.take() else {
            return true;
        };
        let timeout = Duration::from_millis(STOP_JOIN_TIMEOUT_MS);
        crate::device_thread::join_within(
            thread,
            &self.done_rx,
            timeout,
            timeout,
            "OSDP line",
            || {},
        )
    }
}

impl LineCommands {
    /// Queues an OUT record for the PD called `pd`.
    pub fn output(&self, pd: &str, command: OutputCommand) -> Result<(), LineError> {
        self.request(pd, Action::Output(command))
    }

    /// Queues one OUT command with `records` for the PD called `pd`; see
    /// [`ControlPanel::outputs`].
    pub fn outputs(&self, pd: &str, records: &[OutputCommand]) -> Result<(), LineError> {
        self.request(pd, Action::Outputs(records.to_vec()))
    }

    /// Replaces everything queued for the PD called `pd` with one OUT command; see
    /// [`ControlPanel::outputs_superseding`]. The dropped commands are reported on the
    /// line's events as [`PanelEvent::CommandDropped`].
    pub fn outputs_superseding(
        &self,
        pd: &str,
        records: &[OutputCommand],
    ) -> Result<(), LineError> {
        self.request(pd, Action::OutputsSuperseding(records.to_vec()))
    }

    /// Queues an LED record for the PD called `pd`.
    pub fn led(&self, pd: &str, command: LedCommand) -> Result<(), LineError> {
        self.request(pd, Action::Led(command))
    }

    /// Queues a buzzer command for the PD called `pd`.
    pub fn buzzer(&self, pd: &str, command: BuzzerCommand) -> Result<(), LineError> {
        self.request(pd, Action::Buzzer(command))
    }

    fn request(&self, pd: &str, action: Action) -> Result<(), LineError> {
        let (reply, reply_rx) = mpsc::channel();
        self.requests
            .send(Request {
                pd: pd.to_owned(),
                action,
                reply,
            })
            .map_err(|_| LineError::NotRunning)?;
        match reply_rx.recv_timeout(Duration::from_millis(REQUEST_REPLY_TIMEOUT_MS)) {
            Ok(result) => Ok(result?),
            Err(_) => Err(LineError::NotRunning),
        }
    }
}

impl Drop for OsdpLine {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

struct LineTask<P> {
    port: P,
    panel: ControlPanel,
    events: mpsc::Sender<LineEvent>,
    requests: mpsc::Receiver<Request>,
    /// Closed by [`OsdpLine`] to stop the thread. Separate from `requests`, whose senders
    /// ([`LineCommands`]) may outlive the line.
    stop: mpsc::Receiver<()>,
}

/// Why the loop ended.
enum End {
    Stopped,
    PortFailed(String),
}

impl<P: Read + Write> LineTask<P> {
    fn run(mut self) {
        let end = self.run_loop();
        if let End::PortFailed(error) = end {
            tracing::error!(%error, "OSDP line port failed");
            // The receiver may be gone too; nothing more to do then.
            let _ = self.events.send(LineEvent::PortFailed(error));
        }
    }

    fn run_loop(&mut self) -> End {
        let mut buffer = vec![0; READ_CHUNK_BYTES];
        loop {
            match self.stop.try_recv() {
                Err(TryRecvError::Empty) => {}
                Ok(()) | Err(TryRecvError::Disconnected) => return End::Stopped,
            }
            // Requests first: a command queued now goes out on this PD's next turn.
            // Bounded by the callers: each waits for its request to be taken.
            while let Ok(request) = self.requests.try_recv() {
                if !self.take(request) {
                    return End::Stopped;
                }
            }
            let now = Instant::now();
            if self
                .panel
                .reply_deadline()
                .is_some_and(|deadline| deadline <= now)
            {
                let events = self.panel.on_timeout(now);
                if !self.forward(events) {
                    return End::Stopped;
                }
            }
            if let Some((addr, bytes)) = self.panel.next_frame(now) {
                tracing::trace!(addr, len = bytes.len(), "OSDP frame out");
                if let Err(error) = self.port.write_all(&bytes).and_then(|()| self.port.flush()) {
                    return End::PortFailed(format!("write: {error}"));
                }
            }
            match self.port.read(&mut buffer) {
                // End of file from a port that should not have one: wait a tick, do not spin.
                Ok(0) => thread::sleep(Duration::from_millis(READ_TIMEOUT_MS)),
                Ok(len) => {
                    let events = self.panel.on_bytes(Instant::now(), &buffer[..len]);
                    if !self.forward(events) {
                        return End::Stopped;
                    }
                }
                Err(error)
                    if matches!(
                        error.kind(),
                        io::ErrorKind::TimedOut
                            | io::ErrorKind::WouldBlock
                            | io::ErrorKind::Interrupted
                    ) => {}
                Err(error) => return End::PortFailed(format!("read: {error}")),
            }
        }
    }

    /// Hands a request to the panel; false when the events receiver is gone.
    fn take(&mut self, request: Request) -> bool {
        let pd = &request.pd;
        let (result, events) = match request.action {
            Action::Output(command) => (self.panel.output(pd, command), Vec::new()),
            Action::Outputs(records) => (self.panel.outputs(pd, &records), Vec::new()),
            Action::OutputsSuperseding(records) => {
                match self.panel.outputs_superseding(pd, &records) {
                    Ok(dropped) => (Ok(()), dropped),
                    Err(error) => (Err(error), Vec::new()),
                }
            }
            Action::Led(command) => (self.panel.led(pd, command), Vec::new()),
            Action::Buzzer(command) => (self.panel.buzzer(pd, command), Vec::new()),
        };
        // The caller may have given up waiting; the command stays queued either way.
        let _ = request.reply.send(result);
        self.forward(events)
    }

    /// Sends `events` on; false when the receiver is gone.
    fn forward(&self, events: Vec<PanelEvent>) -> bool {
        events
            .into_iter()
            .all(|event| self.events.send(LineEvent::Panel(event)).is_ok())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::osdp::card::Wiegand34ByteOrder;
    use crate::osdp::message::OutputCode;
    use crate::osdp::panel::{PdConfig, PdKey};

    /// A port that never answers and records what was written; `fail_reads` makes reads
    /// fail as an unplugged USB adapter does.
    struct SilentPort {
        written: Arc<Mutex<Vec<u8>>>,
        fail_reads: bool,
    }

    impl Read for SilentPort {
        fn read(&mut self, _buf: &mut [u8]) -> io::Result<usize> {
            if self.fail_reads {
                return Err(io::Error::from(io::ErrorKind::BrokenPipe));
            }
            thread::sleep(Duration::from_millis(1));
            Err(io::Error::from(io::ErrorKind::TimedOut))
        }
    }

    impl Write for SilentPort {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.written.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn config() -> PanelConfig {
        PanelConfig {
            pds: vec![PdConfig {
                addr: 101,
                name: "gate".to_owned(),
                key: PdKey::Clear,
                wiegand34: Wiegand34ByteOrder::AsSent,
            }],
            secure_only: false,
        }
    }

    #[test]
    fn probes_with_id_at_sqn_0_refuses_commands_offline_and_stops_in_time() {
        let written = Arc::new(Mutex::new(Vec::new()));
        let port = SilentPort {
            written: Arc::clone(&written),
            fail_reads: false,
        };
        let (events, _events_rx) = mpsc::channel();
        let line = OsdpLine::spawn(port, config(), events).unwrap();
        let started = Instant::now();
        while written.lock().unwrap().is_empty() {
            assert!(started.elapsed() < Duration::from_secs(2), "no frame sent");
            thread::sleep(Duration::from_millis(5));
        }
        // ID (61 00) to PD 101, SQN 0 with CRC: 53 65 09 00 04 61 00 + CRC.
        assert_eq!(
            written.lock().unwrap()[..7],
            [0x53, 0x65, 0x09, 0x00, 0x04, 0x61, 0x00]
        );
        let out = OutputCommand {
            output: 0,
            code: OutputCode::TemporaryOn,
            timer_100ms: 30,
        };
        assert_eq!(
            line.output("gate", out),
            Err(LineError::Command(CommandError::NotOnline {
                name: "gate".to_owned()
            }))
        );
        assert!(matches!(
            line.output("nobody", out),
            Err(LineError::Command(CommandError::UnknownPd { .. }))
        ));
        // A handle that outlives the line does not keep its thread alive.
        let commands = line.commands();
        let stopping = Instant::now();
        assert!(line.stop());
        assert!(stopping.elapsed() < Duration::from_millis(STOP_JOIN_TIMEOUT_MS));
        assert_eq!(commands.outputs("gate", &[out]), Err(LineError::NotRunning));
    }

    #[test]
    fn a_failing_port_is_reported_and_ends_the_thread() {
        let port = SilentPort {
            written: Arc::default(),
            fail_reads: true,
        };
        let (events, events_rx) = mpsc::channel();
        let line = OsdpLine::spawn(port, config(), events).unwrap();
        let event = events_rx.recv_timeout(Duration::from_secs(2)).unwrap();
        assert!(matches!(event, LineEvent::PortFailed(ref error) if error.starts_with("read:")));
        let out = OutputCommand {
            output: 0,
            code: OutputCode::TemporaryOn,
            timer_100ms: 30,
        };
        assert_eq!(line.output("gate", out), Err(LineError::NotRunning));
        assert!(line.stop());
    }
}
