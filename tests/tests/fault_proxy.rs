//! The fault-injecting proxy does what each fault says, to a real server on the loopback:
//! the sync tests (issue 6) rely on it to break connections exactly so.

use schoolcard_tests::fault_proxy::{Fault, FaultProxy, Plan};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// A server answering each line with `ok <line>`, counting the lines it got.
fn upstream() -> (std::net::SocketAddr, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let heard = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&heard);
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let counter = Arc::clone(&counter);
            thread::spawn(move || {
                let mut writer = stream.try_clone().unwrap();
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { return };
                    counter.fetch_add(1, Ordering::SeqCst);
                    if writer.write_all(format!("ok {line}\n").as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (address, heard)
}

/// Sends `line` through the proxy and reads what comes back within `wait`.
fn ask(proxy: &FaultProxy, line: &str, wait: Duration) -> Result<String, std::io::Error> {
    let mut stream = TcpStream::connect(proxy.address())?;
    stream.set_read_timeout(Some(wait))?;
    stream.write_all(format!("{line}\n").as_bytes())?;
    let mut answer = Vec::new();
    let mut buf = [0u8; 256];
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
        if answer.ends_with(b"\n") {
            break;
        }
    }
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

#[test]
fn each_fault_breaks_the_connection_as_it_says() {
    let (server, heard) = upstream();
    let proxy = FaultProxy::start(server, Plan::Always(Fault::None)).unwrap();
    let wait = Duration::from_secs(5);
    assert_eq!(ask(&proxy, "push 1", wait).unwrap(), "ok push 1\n");

    proxy.set_plan(Plan::Always(Fault::Delay(Duration::from_millis(150))));
    let started = Instant::now();
    assert_eq!(ask(&proxy, "push 2", wait).unwrap(), "ok push 2\n");
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "both ways delayed"
    );

    // Swallowed: the server never hears it; the client waits in vain.
    proxy.set_plan(Plan::Always(Fault::Blackhole));
    let before = heard.load(Ordering::SeqCst);
    let err = ask(&proxy, "push 3", Duration::from_millis(300)).unwrap_err();
    assert!(
        matches!(
            err.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
        "{err:?}"
    );
    assert_eq!(heard.load(Ordering::SeqCst), before);

    // Cut after 4 bytes: the request arrives broken, the client sees the end.
    proxy.set_plan(Plan::Always(Fault::CutAfter(4)));
    let answer = ask(&proxy, "push 4", wait).unwrap_or_default();
    assert_eq!(answer, "", "nothing comes back through a cut connection");

    // Reset after the request: the server did hear it, the client gets a reset.
    proxy.set_plan(Plan::Always(Fault::ResetAfterRequest));
    let before = heard.load(Ordering::SeqCst);
    let err = ask(&proxy, "push 5", wait).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset, "{err:?}");
    let deadline = Instant::now() + wait;
    while heard.load(Ordering::SeqCst) == before {
        assert!(
            Instant::now() < deadline,
            "the server never heard the request"
        );
        thread::sleep(Duration::from_millis(10));
    }
    let counts = proxy.counts();
    assert_eq!((counts.connections, counts.resets), (5, 1), "{counts:?}");
    assert_eq!(counts.cuts, 1, "{counts:?}");
}

#[test]
fn a_random_plan_is_the_same_every_run_and_faults_about_as_often_as_asked() {
    let (server, _) = upstream();
    let plan = Plan::Random {
        seed: 7,
        percent: 30,
        delay_max: Duration::from_millis(5),
        cut_max: 8,
    };
    let outcomes = |plan: Plan| {
        let proxy = FaultProxy::start(server, plan).unwrap();
        let answers: Vec<bool> = (0..60)
            .map(|i| {
                ask(&proxy, &format!("n {i}"), Duration::from_millis(200))
                    .is_ok_and(|a| a == format!("ok n {i}\n"))
            })
            .collect();
        (answers, proxy.counts().faults)
    };
    let (first, faults) = outcomes(plan);
    let (second, again) = outcomes(plan);
    assert_eq!(first, second, "the same seed breaks the same connections");
    assert_eq!(faults, again);
    assert!((8..=30).contains(&faults), "{faults} faults in 60 at 30 %");
}
