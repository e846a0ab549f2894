//! A receipt printer as a byte sink: the till hands it a finished ESC/POS buffer (made by
//! `schoolcard-reports`) and it gets the bytes to the printer, completely or with an error
//! that says what to check.
//!
//! Two ways a thermal printer is attached:
//! - a serial port (RS-232, or a USB-serial adapter: `/dev/ttyUSB0`, `COM3`), opened with
//!   the crate's [`PortSettings`] — receipt printers ship at 9600 or 19200 baud, 8N1;
//! - a USB printer-class device node (`/dev/usb/lp0` on Linux, the `usblp` driver): a
//!   file opened for writing, nothing to configure.
//!
//! A printer that stops taking bytes (paper out, cover open, flow control held) must not
//! hang the till: every wait for the printer to take more bytes is bounded by
//! [`PrinterConnection::write_stall_timeout`], and a stall is reported as
//! [`PrinterError::WriteTimeout`] with how far the buffer got.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::{AsRawFd, FromRawFd, IntoRawFd};
use std::path::PathBuf;
use std::time::Duration;

use crate::serial::PortSettings;

/// Default longest wait for the printer to take more bytes, in milliseconds. A thermal
/// printer at 9600 baud takes about a kilobyte a second and prints a receipt in two or
/// three seconds; one that takes nothing for 5 s is out of paper, open or gone.
pub const PRINTER_WRITE_STALL_TIMEOUT_MS: u64 = 5_000;

/// Where the printer is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrinterPort {
    /// A serial port and its line settings (9600 8N1 by default; many printers ship at
    /// 19200).
    Serial {
        /// What to open (`/dev/ttyUSB0`, `COM3`).
        path: String,
        /// Baud rate and framing.
        settings: PortSettings,
    },
    /// A device node opened for writing as a file: a USB printer-class device such as
    /// `/dev/usb/lp0`.
    DeviceFile {
        /// The node's path.
        path: PathBuf,
    },
}

/// A printer's port and how long it may stall.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrinterConnection {
    /// Where the printer is.
    pub port: PrinterPort,
    /// Longest wait for the printer to take more bytes (not for the whole buffer: a long
    /// receipt at 9600 baud legitimately takes seconds).
    pub write_stall_timeout: Duration,
}

impl PrinterConnection {
    /// A printer on a serial port, with the default stall timeout.
    pub fn serial(path: impl Into<String>, settings: PortSettings) -> PrinterConnection {
        PrinterConnection {
            port: PrinterPort::Serial {
                path: path.into(),
                settings,
            },
            write_stall_timeout: Duration::from_millis(PRINTER_WRITE_STALL_TIMEOUT_MS),
        }
    }

    /// A printer behind a device node (`/dev/usb/lp0`), with the default stall timeout.
    pub fn device_file(path: impl Into<PathBuf>) -> PrinterConnection {
        PrinterConnection {
            port: PrinterPort::DeviceFile { path: path.into() },
            write_stall_timeout: Duration::from_millis(PRINTER_WRITE_STALL_TIMEOUT_MS),
        }
    }

    /// The port's path, as shown in errors.
    pub fn path(&self) -> String {
        match &self.port {
            PrinterPort::Serial { path, .. } => path.clone(),
            PrinterPort::DeviceFile { path } => path.display().to_string(),
        }
    }
}

/// Why a receipt did not reach the printer.
#[derive(Debug, thiserror::Error)]
pub enum PrinterError {
    /// Nothing at that path: unplugged, or another port name.
    #[error("no printer at {path}: is it plugged in and switched on?")]
    Missing {
        /// The port's path.
        path: String,
    },
    /// The port exists but this user may not open it (Linux: not in the `dialout` or `lp`
    /// group).
    #[error("no permission to open the printer at {path}")]
    AccessDenied {
        /// The port's path.
        path: String,
    },
    /// The port is held by another program.
    #[error("the printer at {path} is in use by another program")]
    Busy {
        /// The port's path.
        path: String,
    },
    /// Opening failed otherwise.
    #[error("cannot open the printer at {path}: {reason}")]
    Open {
        /// The port's path.
        path: String,
        /// The system's words.
        reason: String,
    },
    /// The printer stopped taking bytes (paper out, cover open, offline).
    #[error("the printer at {path} stopped taking data after {written} of {total} bytes (paper out, cover open?)")]
    WriteTimeout {
        /// The port's path.
        path: String,
        /// Bytes the printer took.
        written: usize,
        /// Bytes of the receipt.
        total: usize,
    },
    /// Writing failed otherwise (unplugged while printing).
    #[error("writing to the printer at {path} failed after {written} of {total} bytes: {reason}")]
    Write {
        /// The port's path.
        path: String,
        /// Bytes the printer took.
        written: usize,
        /// Bytes of the receipt.
        total: usize,
        /// The system's words.
        reason: String,
    },
}

/// Where the bytes go. Both kinds of port end up as a non-blocking file
/// descriptor, because a blocking write to a tty does not return until every byte is
/// taken — a printer out of paper would hang the till whatever the port's timeout says.
struct Sink {
    file: File,
    /// A serial port: wait for the UART to send what the kernel holds before reporting
    /// the receipt printed.
    drain: bool,
}

/// An open receipt printer. Not shared: the till owns it and prints one receipt at a time.
pub struct ReceiptPrinter {
    path: String,
    stall_timeout: Duration,
    sink: Sink,
}

impl std::fmt::Debug for ReceiptPrinter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceiptPrinter")
            .field("path", &self.path)
            .field("stall_timeout", &self.stall_timeout)
            .finish_non_exhaustive()
    }
}

impl ReceiptPrinter {
    /// Opens the printer's port.
    pub fn open(connection: &PrinterConnection) -> Result<ReceiptPrinter, PrinterError> {
        let path = connection.path();
        let stall_timeout = connection.write_stall_timeout;
        let sink = match &connection.port {
            PrinterPort::Serial {
                path: port,
                settings,
            } => {
                let file = open_serial(port, settings, stall_timeout)
                    .map_err(|error| open_error(&path, serial_open_error_kind(&error), error))?;
                Sink { file, drain: true }
            }
            PrinterPort::DeviceFile { path: node } => {
                let file = open_device_file(node)
                    .map_err(|error| open_error(&path, error.kind(), error))?;
                Sink { file, drain: false }
            }
        };
        Ok(ReceiptPrinter {
            path,
            stall_timeout,
            sink,
        })
    }

    /// The port's path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Writes all of `bytes` and flushes. On error the printer may have printed part of
    /// the receipt; the error says how many bytes it took.
    pub fn print(&mut self, bytes: &[u8]) -> Result<(), PrinterError> {
        let total = bytes.len();
        let mut written = 0;
        while written < total {
            match write_within(&mut self.sink.file, &bytes[written..], self.stall_timeout) {
                Ok(0) => {
                    return Err(self.write_error(written, total, "the port took no bytes".into()))
                }
                Ok(count) => written += count,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(self.failure(written, total, &error)),
            }
        }
        let mut flushed = self.sink.file.flush();
        if flushed.is_ok() && self.sink.drain {
            flushed = drain(&self.sink.file, self.stall_timeout);
        }
        flushed.map_err(|error| self.failure(written, total, &error))
    }

    fn failure(&self, written: usize, total: usize, error: &io::Error) -> PrinterError {
        match error.kind() {
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => PrinterError::WriteTimeout {
                path: self.path.clone(),
                written,
                total,
            },
            _ => self.write_error(written, total, error.to_string()),
        }
    }

    fn write_error(&self, written: usize, total: usize, reason: String) -> PrinterError {
        PrinterError::Write {
            path: self.path.clone(),
            written,
            total,
            reason,
        }
    }
}

fn serial_open_error_kind(error: &serialport::Error) -> io::ErrorKind {
    match error.kind() {
        // serialport reports EBUSY (another program holds the port exclusively) as this.
        serialport::ErrorKind::NoDevice => io::ErrorKind::ResourceBusy,
        serialport::ErrorKind::Io(kind) => kind,
        _ => io::ErrorKind::Other,
    }
}

fn open_error(path: &str, kind: io::ErrorKind, error: impl std::fmt::Display) -> PrinterError {
    let path = path.to_owned();
    match kind {
        io::ErrorKind::NotFound => PrinterError::Missing { path },
        io::ErrorKind::PermissionDenied => PrinterError::AccessDenied { path },
        io::ErrorKind::ResourceBusy => PrinterError::Busy { path },
        _ => PrinterError::Open {
            path,
            reason: error.to_string(),
        },
    }
}

/// Opens a serial port with the crate's line settings (exclusive, no flow control), then
/// keeps only its file descriptor, made non-blocking: the line settings stay with it.
fn open_serial(path: &str, settings: &PortSettings, timeout: Duration) -> serialport::Result<File> {
    let port = serialport::new(path, settings.baud_rate)
        .data_bits(settings.data_bits)
        .parity(settings.parity)
        .stop_bits(settings.stop_bits)
        .flow_control(serialport::FlowControl::None)
        .timeout(timeout)
        .open_native()?;
    // SAFETY: `into_raw_fd` hands over the only owner of an open descriptor.
    let file = unsafe { File::from_raw_fd(port.into_raw_fd()) };
    set_nonblocking(&file)?;
    Ok(file)
}

fn set_nonblocking(file: &File) -> io::Result<()> {
    let fd = file.as_raw_fd();
    // SAFETY: fcntl on a descriptor we own, with integer arguments only.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    if unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// How often [`drain`] looks at the bytes still queued for the UART, in milliseconds.
const DRAIN_POLL_MS: u64 = 10;

/// Waits until the serial driver has sent every queued byte, failing when the queue does
/// not shrink for `stall_timeout` (flow control held by a printer that is out of paper).
fn drain(file: &File, stall_timeout: Duration) -> io::Result<()> {
    use std::time::Instant;
    let mut last_pending = libc::c_int::MAX;
    let mut last_progress = Instant::now();
    loop {
        let mut pending: libc::c_int = 0;
        // SAFETY: TIOCOUTQ writes one int through a valid pointer.
        if unsafe { libc::ioctl(file.as_raw_fd(), libc::TIOCOUTQ, &mut pending) } < 0 {
            // Not a tty after all (or the driver cannot say): nothing to wait for.
            return Ok(());
        }
        if pending == 0 {
            return Ok(());
        }
        if pending < last_pending {
            last_pending = pending;
            last_progress = Instant::now();
        } else if last_progress.elapsed() >= stall_timeout {
            return Err(io::Error::from(io::ErrorKind::TimedOut));
        }
        std::thread::sleep(Duration::from_millis(DRAIN_POLL_MS));
    }
}

/// Opens a device node for writing only, never creating it (a typo must not make a file
/// in `/dev`). Non-blocking, so [`write_within`] can bound the wait.
fn open_device_file(path: &std::path::Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).custom_flags(libc::O_NONBLOCK);
    options.open(path)
}

/// One write, waiting at most `stall_timeout` for the device to take bytes.
fn write_within(file: &mut File, bytes: &[u8], stall_timeout: Duration) -> io::Result<usize> {
    use std::time::Instant;
    let deadline = Instant::now() + stall_timeout;
    loop {
        match file.write(bytes) {
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
            other => return other,
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::from(io::ErrorKind::TimedOut));
        }
        let mut poll = libc::pollfd {
            fd: file.as_raw_fd(),
            events: libc::POLLOUT,
            revents: 0,
        };
        // Rounded up, so a wait of less than a millisecond is not a busy loop.
        let left_ms = i32::try_from(left.as_millis() + 1).unwrap_or(i32::MAX);
        // SAFETY: `poll` points at one valid pollfd for the duration of the call.
        let ready = unsafe { libc::poll(&mut poll, 1, left_ms) };
        if ready < 0 {
            let error = io::Error::last_os_error();
            if error.kind() != io::ErrorKind::Interrupted {
                return Err(error);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::thread;
    use std::time::Instant;

    use serialport::{SerialPort, TTYPort};

    /// Longest a test waits for bytes to arrive, in milliseconds.
    const WAIT_MS_MAX: u64 = 5_000;
    /// A short stall timeout, so the timeout cases end quickly.
    const TEST_STALL_MS: u64 = 200;

    /// A receipt-sized buffer with every byte value, ESC/POS commands included.
    fn receipt_bytes(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 % 256) as u8).collect()
    }

    /// Reads from `source` until `count` bytes came or the wait ran out.
    fn read_exactly(mut source: impl Read, count: usize) -> Vec<u8> {
        let deadline = Instant::now() + Duration::from_millis(WAIT_MS_MAX);
        let mut received = Vec::with_capacity(count);
        let mut buffer = [0u8; 4096];
        while received.len() < count && Instant::now() < deadline {
            match source.read(&mut buffer) {
                Ok(0) => thread::sleep(Duration::from_millis(5)),
                Ok(n) => received.extend_from_slice(&buffer[..n]),
                Err(error)
                    if matches!(
                        error.kind(),
                        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
                    ) =>
                {
                    thread::sleep(Duration::from_millis(5))
                }
                Err(error) => panic!("read: {error}"),
            }
        }
        received
    }

    fn pty() -> (TTYPort, TTYPort, String) {
        let (master, slave) = TTYPort::pair().expect("pseudo-terminal");
        let path = slave.name().expect("slave has a path");
        (master, slave, path)
    }

    #[test]
    fn a_receipt_arrives_intact_on_a_serial_port() {
        for baud_rate in [9600, 19200] {
            let (mut master, _slave, path) = pty();
            master
                .set_timeout(Duration::from_millis(50))
                .expect("timeout");
            // Bigger than a pty's buffer, so the writer must wait for the reader.
            let bytes = receipt_bytes(20_000);
            let expected = bytes.len();
            let reader = thread::spawn(move || read_exactly(master, expected));
            let settings = PortSettings {
                baud_rate,
                ..PortSettings::default()
            };
            let mut printer =
                ReceiptPrinter::open(&PrinterConnection::serial(&path, settings)).expect("opens");
            printer.print(&bytes).expect("prints");
            let received = reader.join().expect("reader thread");
            assert_eq!(received.len(), bytes.len(), "{baud_rate} baud");
            assert!(
                received == bytes,
                "bytes changed on the way at {baud_rate} baud"
            );
        }
    }

    #[test]
    fn a_printer_that_takes_nothing_is_a_write_timeout() {
        let (_master, _slave, path) = pty();
        let mut connection = PrinterConnection::serial(&path, PortSettings::default());
        connection.write_stall_timeout = Duration::from_millis(TEST_STALL_MS);
        let mut printer = ReceiptPrinter::open(&connection).expect("opens");
        let bytes = receipt_bytes(1 << 20);
        let started = Instant::now();
        match printer.print(&bytes) {
            Err(PrinterError::WriteTimeout { written, total, .. }) => {
                assert!(written < total, "{written} of {total}");
                assert_eq!(total, bytes.len());
            }
            other => panic!("expected a write timeout, got {other:?}"),
        }
        assert!(started.elapsed() < Duration::from_millis(WAIT_MS_MAX));
    }

    #[test]
    fn a_missing_port_says_so() {
        let serial =
            PrinterConnection::serial("/dev/schoolcard-no-such-printer", PortSettings::default());
        let device = PrinterConnection::device_file("/dev/usb/schoolcard-no-such-lp");
        for connection in [serial, device] {
            match ReceiptPrinter::open(&connection) {
                Err(PrinterError::Missing { path }) => assert_eq!(path, connection.path()),
                other => panic!("expected a missing printer, got {other:?}"),
            }
        }
    }

    /// A named pipe standing in for `/dev/usb/lp0`: a node opened for writing as a file.
    struct Fifo {
        path: PathBuf,
    }

    impl Fifo {
        fn new(name: &str) -> Fifo {
            use std::os::unix::ffi::OsStrExt;
            let path = std::env::temp_dir()
                .join(format!("schoolcard-printer-{}-{name}", std::process::id()));
            let _ = std::fs::remove_file(&path);
            let c_path =
                std::ffi::CString::new(path.as_os_str().as_bytes()).expect("no NUL in path");
            // SAFETY: a valid NUL-terminated path.
            let made = unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) };
            assert_eq!(made, 0, "mkfifo: {}", io::Error::last_os_error());
            Fifo { path }
        }

        /// The printer's side: opened first, so the writer finds a reader.
        fn open_reader(&self) -> File {
            OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(&self.path)
                .expect("open the fifo for reading")
        }
    }

    impl Drop for Fifo {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.path);
        }
    }

    #[test]
    fn a_receipt_arrives_intact_through_a_device_file() {
        let fifo = Fifo::new("intact");
        let reader = fifo.open_reader();
        let bytes = receipt_bytes(200_000);
        let expected = bytes.len();
        let reading = thread::spawn(move || read_exactly(reader, expected));
        let mut printer =
            ReceiptPrinter::open(&PrinterConnection::device_file(&fifo.path)).expect("opens");
        printer.print(&bytes).expect("prints");
        let received = reading.join().expect("reader thread");
        assert!(
            received == bytes,
            "{} of {} bytes",
            received.len(),
            expected
        );
    }

    #[test]
    fn a_device_that_takes_nothing_is_a_write_timeout() {
        let fifo = Fifo::new("stalled");
        let _reader = fifo.open_reader();
        let mut connection = PrinterConnection::device_file(&fifo.path);
        connection.write_stall_timeout = Duration::from_millis(TEST_STALL_MS);
        let mut printer = ReceiptPrinter::open(&connection).expect("opens");
        match printer.print(&receipt_bytes(1 << 20)) {
            Err(PrinterError::WriteTimeout { written, total, .. }) => {
                assert!(written > 0 && written < total, "{written} of {total}");
            }
            other => panic!("expected a write timeout, got {other:?}"),
        }
    }
}
