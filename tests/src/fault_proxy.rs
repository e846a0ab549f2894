//! A TCP proxy that breaks connections on purpose, for the sync tests (issue 6): it sits
//! between a workstation and the server and, per connection, passes bytes through, delays
//! them, swallows them, cuts the connection after some bytes, or — the nastiest — forwards
//! the whole request and resets the client's connection when the answer starts to come
//! back, so the server has done the work and the client never hears of it.
//!
//! Each accepted connection takes its fault from the proxy's [`Plan`]: one fault for all,
//! or a seeded random draw, so a run of a thousand faults is the same run every time.
//! Plain threads and blocking sockets: two pumps per connection, nothing shared but
//! counters.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::Duration;

/// How long a pump waits in one read before it looks whether the proxy is stopping.
const POLL_MS: u64 = 50;
/// Bytes per read.
const CHUNK_BYTES: usize = 16 * 1024;

/// What happens to one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Bytes pass both ways.
    None,
    /// Every chunk waits this long before it is passed on, both ways.
    Delay(Duration),
    /// The client's bytes go nowhere and nothing ever comes back; the connection stays
    /// open until the client gives up.
    Blackhole,
    /// After this many bytes have passed (both ways together), both sides are closed.
    CutAfter(usize),
    /// The request reaches the server whole; when the server's answer begins, the client's
    /// connection is reset (RST) and the answer dropped.
    ResetAfterRequest,
}

/// Which fault each new connection gets.
#[derive(Debug, Clone, Copy)]
pub enum Plan {
    /// The same for every connection.
    Always(Fault),
    /// With `percent` % chance a fault drawn at random (delays up to `delay_max`, cuts
    /// within the first `cut_max` bytes), otherwise none; the draws follow `seed`.
    Random {
        seed: u64,
        percent: u64,
        delay_max: Duration,
        cut_max: usize,
    },
}

/// What the proxy has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub connections: u64,
    /// Connections given a fault other than [`Fault::None`].
    pub faults: u64,
    pub resets: u64,
    pub cuts: u64,
}

struct Shared {
    upstream: SocketAddr,
    plan: Mutex<(Plan, u64)>,
    stopping: AtomicBool,
    connections: AtomicU64,
    faults: AtomicU64,
    resets: AtomicU64,
    cuts: AtomicU64,
}

/// A running proxy; stopped (its listener closed, its connections dropped) when dropped.
pub struct FaultProxy {
    address: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<thread::JoinHandle<()>>,
}

impl FaultProxy {
    /// Listens on a free loopback port and forwards to `upstream` under `plan`.
    pub fn start(upstream: SocketAddr, plan: Plan) -> io::Result<FaultProxy> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let address = listener.local_addr()?;
        let seed = match plan {
            Plan::Random { seed, .. } => seed,
            Plan::Always(_) => 0,
        };
        let shared = Arc::new(Shared {
            upstream,
            plan: Mutex::new((plan, seed)),
            stopping: AtomicBool::new(false),
            connections: AtomicU64::new(0),
            faults: AtomicU64::new(0),
            resets: AtomicU64::new(0),
            cuts: AtomicU64::new(0),
        });
        let acceptor = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name("fault proxy".into())
                .spawn(move || accept(&listener, &shared))?
        };
        Ok(FaultProxy {
            address,
            shared,
            acceptor: Some(acceptor),
        })
    }

    /// Where clients connect.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// From now on, new connections follow `plan`.
    pub fn set_plan(&self, plan: Plan) {
        let seed = match plan {
            Plan::Random { seed, .. } => seed,
            Plan::Always(_) => 0,
        };
        *self
            .shared
            .plan
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = (plan, seed);
    }

    pub fn counts(&self) -> Counts {
        let s = &self.shared;
        Counts {
            connections: s.connections.load(Ordering::SeqCst),
            faults: s.faults.load(Ordering::SeqCst),
            resets: s.resets.load(Ordering::SeqCst),
            cuts: s.cuts.load(Ordering::SeqCst),
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

fn accept(listener: &TcpListener, shared: &Arc<Shared>) {
    while !shared.stopping.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((client, _)) => {
                let fault = next_fault(shared);
                shared.connections.fetch_add(1, Ordering::SeqCst);
                if fault != Fault::None {
                    shared.faults.fetch_add(1, Ordering::SeqCst);
                }
                let shared = Arc::clone(shared);
                let _ = thread::Builder::new()
                    .name("fault proxy connection".into())
                    .spawn(move || serve(client, fault, &shared));
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                thread::sleep(Duration::from_millis(POLL_MS / 5));
            }
            Err(_) => thread::sleep(Duration::from_millis(POLL_MS)),
        }
    }
}

/// SplitMix64 on the plan's state: the next connection's fault.
fn next_fault(shared: &Shared) -> Fault {
    let mut plan = shared.plan.lock().unwrap_or_else(PoisonError::into_inner);
    let (kind, state) = &mut *plan;
    match *kind {
        Plan::Always(fault) => fault,
        Plan::Random {
            percent,
            delay_max,
            cut_max,
            ..
        } => {
            let mut draw = || {
                *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
                let mut z = *state;
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                z ^ (z >> 31)
            };
            if draw() % 100 >= percent {
                return Fault::None;
            }
            match draw() % 4 {
                0 => Fault::Delay(Duration::from_millis(
                    draw() % (delay_max.as_millis() as u64).max(1),
                )),
                1 => Fault::Blackhole,
                2 => Fault::CutAfter((draw() as usize) % cut_max.max(1)),
                _ => Fault::ResetAfterRequest,
            }
        }
    }
}

fn serve(client: TcpStream, fault: Fault, shared: &Arc<Shared>) {
    let _ = client.set_read_timeout(Some(Duration::from_millis(POLL_MS)));
    if fault == Fault::Blackhole {
        swallow(client, shared);
        return;
    }
    let Ok(server) = TcpStream::connect(shared.upstream) else {
        return;
    };
    let _ = server.set_read_timeout(Some(Duration::from_millis(POLL_MS)));
    let budget = Arc::new(AtomicU64::new(match fault {
        Fault::CutAfter(n) => n as u64,
        _ => u64::MAX,
    }));
    let (Ok(client_in), Ok(server_out)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    let upward = {
        let shared = Arc::clone(shared);
        let budget = Arc::clone(&budget);
        thread::spawn(move || pump(client_in, server_out, fault, &budget, &shared, false))
    };
    pump(server, client, fault, &budget, shared, true);
    let _ = upward.join();
}

/// Reads the client's bytes and drops them until it closes or the proxy stops.
fn swallow(mut client: TcpStream, shared: &Shared) {
    let mut buf = [0u8; CHUNK_BYTES];
    while !shared.stopping.load(Ordering::SeqCst) {
        match client.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if timed_out(&e) => {}
            Err(_) => return,
        }
    }
}

/// Copies `from` to `to` under `fault` until either side closes; `answer` is the server's
/// direction (where a reset after the request strikes).
fn pump(
    mut from: TcpStream,
    mut to: TcpStream,
    fault: Fault,
    budget: &AtomicU64,
    shared: &Shared,
    answer: bool,
) {
    let mut buf = [0u8; CHUNK_BYTES];
    loop {
        if shared.stopping.load(Ordering::SeqCst) {
            break;
        }
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if timed_out(&e) => continue,
            Err(_) => break,
        };
        if answer && fault == Fault::ResetAfterRequest {
            // The server has answered: the client never hears it.
            shared.resets.fetch_add(1, Ordering::SeqCst);
            reset(&to);
            let _ = from.shutdown(Shutdown::Both);
            return;
        }
        if let Fault::Delay(delay) = fault {
            thread::sleep(delay);
        }
        let left = budget.load(Ordering::SeqCst);
        let pass = (n as u64).min(left) as usize;
        if pass > 0 && to.write_all(&buf[..pass]).is_err() {
            break;
        }
        if budget
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |b| {
                Some(b.saturating_sub(n as u64))
            })
            .is_ok_and(|before| before <= n as u64 && before != u64::MAX)
        {
            shared.cuts.fetch_add(1, Ordering::SeqCst);
            let _ = from.shutdown(Shutdown::Both);
            let _ = to.shutdown(Shutdown::Both);
            return;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

/// Closes `stream` with a reset instead of an orderly end (SO_LINGER 0), once every copy
/// of it is dropped.
fn reset(stream: &TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket descriptor we hold and a pointer to a linger we own.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            std::ptr::addr_of!(linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
    // No FIN: reading is stopped, so the other pump lets go of its copy of the socket, and
    // the last close sends the RST.
    let _ = stream.shutdown(Shutdown::Read);
}

fn timed_out(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}
