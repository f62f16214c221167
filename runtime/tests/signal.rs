//! Signals: real signals sent to this process and to a child running the `echo` example's
//! server, which must shut down gracefully.
//!
//! Tests in this file run in parallel in one process, and signals go to the whole process, so
//! each test watches a signal of its own (`SIGUSR1`, `SIGUSR2` with `SIGWINCH`, `SIGINT`).
//! Such a signal may be handled on any thread of the process, so its handler can run after
//! `kill` returned: the tests wait for arrivals, never assume them done.

mod util;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use evloop::signal::{SignalError, Signals, SIGUSR1, SIGUSR2, SIGWINCH};
use futures_lite::StreamExt;
use rustix::process::{getpid, kill_process, Signal};

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/echo.rs"]
mod echo;

/// How long anything that should happen at once may take on a loaded machine.
const LIMIT: Duration = Duration::from_secs(20);

fn raise(signal: Signal) {
    kill_process(getpid(), signal).expect("kill");
}

#[test]
fn a_signal_sent_to_the_process_is_received_by_every_stream_watching_it() {
    util::within(LIMIT, || {
        evloop::run(async {
            let mut first = Signals::new([SIGUSR1])?;
            let mut second = Signals::new([SIGUSR1])?;
            raise(Signal::USR1);
            assert_eq!(
                evloop::timeout(LIMIT, first.recv()).await.unwrap()?,
                SIGUSR1
            );
            assert_eq!(
                evloop::timeout(LIMIT, second.next())
                    .await
                    .unwrap()
                    .unwrap()?,
                SIGUSR1
            );
            // Nothing else arrived: the next wait times out.
            assert!(evloop::timeout(Duration::from_millis(50), first.recv())
                .await
                .is_err());
            // The stream goes on: a second arrival is received too.
            raise(Signal::USR1);
            assert_eq!(
                evloop::timeout(LIMIT, first.recv()).await.unwrap()?,
                SIGUSR1
            );
            Ok::<_, SignalError>(())
        })
        .unwrap();
    });
}

#[test]
fn one_stream_tells_its_signals_apart() {
    util::within(LIMIT, || {
        evloop::run(async {
            let mut signals = Signals::new([SIGUSR2])?;
            signals.add(SIGWINCH)?;
            // Three arrivals before the task reads: two kinds, one repeated. Arrivals of one
            // signal before a read are merged, but the handler may run on another thread
            // after the read began, so the repeat may or may not be merged.
            raise(Signal::USR2);
            raise(Signal::WINCH);
            raise(Signal::USR2);
            let mut got = Vec::new();
            while !(got.contains(&SIGUSR2) && got.contains(&SIGWINCH)) {
                got.push(evloop::timeout(LIMIT, signals.recv()).await.unwrap()?);
            }
            while let Ok(signal) = evloop::timeout(Duration::from_millis(100), signals.recv()).await
            {
                got.push(signal?);
            }
            let usr2 = got.iter().filter(|&&s| s == SIGUSR2).count();
            let winch = got.iter().filter(|&&s| s == SIGWINCH).count();
            assert!(
                winch == 1 && (1..=2).contains(&usr2) && got.len() == usr2 + winch,
                "{got:?}"
            );
            Ok::<_, SignalError>(())
        })
        .unwrap();
    });
}

#[test]
fn ctrl_c_completes_on_sigint() {
    util::within(LIMIT, || {
        evloop::run(async {
            let waiter = evloop::spawn(evloop::signal::ctrl_c());
            // The spawned task runs (and installs its handler) before this one resumes.
            evloop::yield_now().await;
            raise(Signal::INT);
            evloop::timeout(LIMIT, waiter).await.unwrap().unwrap()
        })
        .unwrap();
    });
}

#[test]
fn signals_that_cannot_be_watched_are_typed_errors() {
    evloop::run(async {
        for signal in [9, 19, 11] {
            // SIGKILL, SIGSTOP, SIGSEGV
            let err = Signals::new([signal]).unwrap_err();
            assert!(matches!(err, SignalError::Forbidden { signal: s } if s == signal));
            assert!(err.to_string().contains("SIGTERM"), "{err}");
        }
        for signal in [0, -3, 128, 100] {
            let err = Signals::new([signal]).unwrap_err();
            assert!(
                matches!(err, SignalError::Invalid { signal: s } if s == signal),
                "{signal}: {err:?}"
            );
        }
        let signals = Signals::new([SIGUSR1]).unwrap();
        assert!(matches!(
            signals.add(9),
            Err(SignalError::Forbidden { signal: 9 })
        ));
    });
}

// ---- the echo example's server as a child process ----

/// The server of the `echo` example with the options in `EVLOOP_ECHO_ARGS`; run only as the
/// child process of the tests below.
#[test]
#[ignore = "runs as a child process of the echo shutdown tests"]
fn echo_server_child() {
    let args = std::env::var("EVLOOP_ECHO_ARGS").expect("EVLOOP_ECHO_ARGS");
    echo::main_with_args(args.split_whitespace().map(str::to_owned)).expect("echo server");
}

/// A running echo server and its output, line by line.
struct EchoServer {
    server: util::ChildServer,
    addr: SocketAddr,
}

impl EchoServer {
    fn start(grace_secs: f64) -> EchoServer {
        let args = format!("--addr 127.0.0.1:0 --grace {grace_secs}");
        let mut server =
            util::ChildServer::start("echo_server_child", &[("EVLOOP_ECHO_ARGS", &args)], LIMIT);
        let addr = server.value_after("echo server listening on ", &[';']);
        EchoServer {
            server,
            addr: addr.parse().unwrap(),
        }
    }

    fn wait_for(&mut self, text: &str) -> String {
        self.server.wait_for(text)
    }

    fn signal(&self, signal: Signal) {
        self.server.signal(signal);
    }

    fn finish_with(self, expected: &[&str]) -> Vec<String> {
        self.server.finish_with(expected)
    }
}

fn echo_round_trip(stream: &mut TcpStream, message: &[u8]) {
    stream.write_all(message).unwrap();
    let mut reply = vec![0; message.len()];
    stream.read_exact(&mut reply).unwrap();
    assert_eq!(reply, message);
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(LIMIT)).unwrap();
    stream
}

#[test]
fn echo_stops_accepting_on_sigterm_and_lets_open_connections_finish() {
    let mut server = EchoServer::start(60.0);
    let mut client = connect(server.addr);
    echo_round_trip(&mut client, b"hello");

    server.signal(Signal::TERM);
    server.wait_for("SIGTERM: stopped accepting; waiting up to 60s for 1 open connection(s)");
    // The listener is closed: a new client is refused.
    let err = TcpStream::connect(server.addr).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    // The open connection is still served until its client is done.
    echo_round_trip(&mut client, b"goodbye");
    client.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(client.read(&mut [0; 8]).unwrap(), 0);

    let lines = server.finish_with(&[
        "all connections finished",
        "served 1 connection(s), echoed 12 bytes, closed 0 at shutdown",
    ]);
    assert!(lines.iter().any(|l| l.starts_with("loop: ")), "{lines:#?}");
}

#[test]
fn echo_closes_connections_still_open_at_the_deadline_after_ctrl_c() {
    let server = EchoServer::start(0.5);
    let mut idle = connect(server.addr);
    echo_round_trip(&mut idle, b"ping");
    let mut busy = connect(server.addr);
    echo_round_trip(&mut busy, b"pong!");
    busy.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(busy.read(&mut [0; 8]).unwrap(), 0);

    server.signal(Signal::INT);
    server.finish_with(&[
        "grace period over: closing 1 connection(s) still open",
        "served 2 connection(s), echoed 9 bytes, closed 1 at shutdown",
    ]);
    // The idle client sees its connection closed.
    assert_eq!(idle.read(&mut [0; 8]).unwrap(), 0);
}

#[test]
fn a_second_signal_closes_everything_at_once() {
    let mut server = EchoServer::start(600.0);
    let mut client = connect(server.addr);
    echo_round_trip(&mut client, b"hi");
    server.signal(Signal::INT);
    server.wait_for("stopped accepting; waiting up to 600s for 1 open connection(s)");
    server.signal(Signal::TERM);
    server.finish_with(&["SIGTERM: closing 1 connection(s) now"]);
    assert_eq!(client.read(&mut [0; 8]).unwrap(), 0);
}
