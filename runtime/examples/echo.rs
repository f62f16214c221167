//! A TCP echo server on one thread, which shuts down gracefully.
//!
//! `cargo run --release --example echo` serves on 127.0.0.1:7878 (try `nc 127.0.0.1 7878`).
//! On Ctrl-C or `SIGTERM` it stops accepting, lets the open connections finish for up to a
//! grace period (5 s; `--grace SECS`), closes those still open, prints what it served and
//! exits; a second signal closes everything at once. `--addr ADDR` serves elsewhere (port 0
//! picks a free port). With `--clients N`, it instead opens N concurrent client connections on
//! the same loop, has each exchange messages with the server, prints what the loop did, and
//! exits.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use evloop::net::{TcpListener, TcpStream};
use evloop::signal::{Signals, SIGINT, SIGTERM};
use evloop::JoinHandle;
use futures_lite::{future, AsyncReadExt, AsyncWriteExt};

/// Messages each client sends and reads back.
const ROUNDS: usize = 20;

/// What the command line asks for.
#[derive(Debug)]
pub struct Options {
    /// Where to listen.
    pub addr: String,
    /// How long open connections may take to finish once a signal asked to stop.
    pub grace: Duration,
    /// Run this many clients against the server, then exit, instead of serving until a signal.
    pub clients: Option<usize>,
}

fn main() -> std::io::Result<()> {
    main_with_args(std::env::args().skip(1))
}

/// Parses the command line and runs.
///
/// # Errors
///
/// Returns an error for a malformed option or if the server fails.
pub fn main_with_args(args: impl IntoIterator<Item = String>) -> std::io::Result<()> {
    let options = parse(args)?;
    evloop::run(async move {
        match options.clients {
            None => serve_until_signal(&options.addr, options.grace).await,
            Some(n) => {
                let listener = TcpListener::bind("127.0.0.1:0").await?;
                let addr = listener.local_addr()?;
                evloop::spawn(async move {
                    // Serves the clients until the loop ends.
                    let echoed = Rc::new(Cell::new(0));
                    loop {
                        match listener.accept().await {
                            Ok((stream, _)) => drop(evloop::spawn(echo(stream, echoed.clone()))),
                            Err(e) => {
                                eprintln!("accept failed: {e}");
                                evloop::sleep(Duration::from_millis(10)).await;
                            }
                        }
                    }
                });
                run_clients(addr, n).await
            }
        }
    })
}

fn parse(args: impl IntoIterator<Item = String>) -> std::io::Result<Options> {
    let invalid = |what: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, what);
    let mut options = Options {
        addr: "127.0.0.1:7878".to_owned(),
        grace: Duration::from_secs(5),
        clients: None,
    };
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| {
            invalid(format!(
                "usage: echo [--addr ADDR] [--grace SECS] [--clients N]; {flag} needs a value"
            ))
        })?;
        match flag.as_str() {
            "--addr" => options.addr = value,
            "--grace" => {
                let secs: f64 = value
                    .parse()
                    .map_err(|e| invalid(format!("--grace: {e}")))?;
                options.grace = Duration::try_from_secs_f64(secs)
                    .map_err(|e| invalid(format!("--grace: {e}")))?;
            }
            "--clients" => {
                options.clients = Some(
                    value
                        .parse()
                        .map_err(|e| invalid(format!("--clients: {e}")))?,
                )
            }
            _ => {
                return Err(invalid(format!(
                    "usage: echo [--addr ADDR] [--grace SECS] [--clients N]; unknown option {flag}"
                )))
            }
        }
    }
    Ok(options)
}

/// What woke the accept loop.
enum Event {
    /// A connection, or the error of `accept`.
    Accepted(std::io::Result<(TcpStream, std::net::SocketAddr)>),
    /// A signal asking to stop.
    Signal(Result<i32, evloop::signal::SignalError>),
}

/// How the grace period ended.
enum Drain {
    /// Every connection finished.
    Finished,
    /// The grace period passed first.
    Deadline,
    /// A second signal arrived first.
    SecondSignal(i32),
}

/// Serves until SIGINT or SIGTERM, then shuts down gracefully and prints what it served.
async fn serve_until_signal(addr: &str, grace: Duration) -> std::io::Result<()> {
    // Watch the signals before anything else, so that none can stop the process abruptly.
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    let listener = TcpListener::bind(addr).await?;
    println!(
        "echo server listening on {}; try `nc {}` (Ctrl-C or SIGTERM to stop)",
        listener.local_addr()?,
        listener.local_addr()?.to_string().replace(':', " ")
    );
    let echoed = Rc::new(Cell::new(0u64));
    let mut served = 0u64;
    let mut connections: Vec<JoinHandle<()>> = Vec::new();
    let signal = loop {
        let accepted = async { Event::Accepted(listener.accept().await) };
        let signalled = async { Event::Signal(signals.recv().await) };
        match future::or(signalled, accepted).await {
            Event::Accepted(Ok((stream, _))) => {
                served += 1;
                connections.retain(|c| !c.is_finished());
                connections.push(evloop::spawn(echo(stream, echoed.clone())));
            }
            // Out of file descriptors, for instance: report it and keep serving.
            Event::Accepted(Err(e)) => {
                eprintln!("accept failed: {e}");
                evloop::sleep(Duration::from_millis(10)).await;
            }
            Event::Signal(signal) => break signal?,
        }
    };
    // Stop accepting: new connects are refused from here on.
    drop(listener);
    connections.retain(|c| !c.is_finished());
    println!(
        "{}: stopped accepting; waiting up to {grace:?} for {} open connection(s)",
        signal_name(signal),
        connections.len()
    );
    let drain = {
        let all_finished = async {
            for connection in &mut connections {
                let _ = connection.await;
            }
        };
        let deadline = async {
            match evloop::timeout(grace, all_finished).await {
                Ok(()) => Drain::Finished,
                Err(_) => Drain::Deadline,
            }
        };
        let second = async {
            match signals.recv().await {
                Ok(signal) => Drain::SecondSignal(signal),
                Err(_) => std::future::pending().await,
            }
        };
        future::or(deadline, second).await
    };
    let still_open: Vec<_> = connections.iter().filter(|c| !c.is_finished()).collect();
    match drain {
        Drain::Finished => println!("all connections finished"),
        Drain::Deadline => println!(
            "grace period over: closing {} connection(s) still open",
            still_open.len()
        ),
        Drain::SecondSignal(signal) => println!(
            "{}: closing {} connection(s) now",
            signal_name(signal),
            still_open.len()
        ),
    }
    for connection in &still_open {
        connection.abort();
    }
    let stats = evloop::stats();
    println!(
        "served {served} connection(s), echoed {} bytes, closed {} at shutdown",
        echoed.get(),
        still_open.len()
    );
    println!(
        "loop: {} cycles, {} task polls, {} I/O polls, {} I/O events, {} tasks spawned",
        stats.cycles, stats.task_polls, stats.io_polls, stats.io_events, stats.tasks_spawned
    );
    Ok(())
}

/// Sends what the peer sends back to it until it closes its side; counts the bytes.
async fn echo(mut stream: TcpStream, echoed: Rc<Cell<u64>>) {
    let _ = stream.set_nodelay(true);
    let mut buf = vec![0; 16 * 1024];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if stream.write_all(&buf[..n]).await.is_err() {
                    return;
                }
                echoed.set(echoed.get() + n as u64);
            }
        }
    }
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        SIGINT => "SIGINT (Ctrl-C)",
        SIGTERM => "SIGTERM",
        _ => "signal",
    }
}

/// Runs `n` concurrent clients against the server and prints a summary.
async fn run_clients(addr: std::net::SocketAddr, n: usize) -> std::io::Result<()> {
    let start = Instant::now();
    let clients: Vec<_> = (0..n)
        .map(|i| {
            evloop::spawn(async move {
                let mut stream = TcpStream::connect(addr).await?;
                stream.set_nodelay(true)?;
                let message = format!("hello from client {i}\n");
                let mut reply = vec![0; message.len()];
                for _ in 0..ROUNDS {
                    stream.write_all(message.as_bytes()).await?;
                    stream.read_exact(&mut reply).await?;
                    assert_eq!(reply, message.as_bytes(), "the echo differs");
                }
                std::io::Result::Ok(())
            })
        })
        .collect();
    let mut failed = 0;
    for client in clients {
        if let Err(e) = client.await.expect("client task") {
            failed += 1;
            eprintln!("client failed: {e}");
        }
    }
    let took = start.elapsed();
    let stats = evloop::stats();
    let round_trips = (n - failed) * ROUNDS;
    println!("{n} clients, {ROUNDS} round trips each, on one thread: {round_trips} echoes in {took:.2?} ({:.0} round trips/s), {failed} failed", round_trips as f64 / took.as_secs_f64());
    println!(
        "loop: {} cycles, {} task polls, {} I/O polls, {} I/O events, {} tasks spawned",
        stats.cycles, stats.task_polls, stats.io_polls, stats.io_events, stats.tasks_spawned
    );
    Ok(())
}
