//! A hyper server on evloop that shuts down gracefully.
//!
//! `cargo run --example hyper_shutdown --features hyper` serves HTTP/1.1 on 127.0.0.1:3000:
//! `curl localhost:3000/` answers at once, `curl 'localhost:3000/slow?ms=5000'` after five
//! seconds. On Ctrl-C or `SIGTERM` the server
//!
//! 1. stops accepting (the listener is closed, so new connections are refused);
//! 2. asks every open connection to finish gracefully: hyper closes an idle keep-alive
//!    connection at once, and lets a connection with a request in flight send its response
//!    (marked `Connection: close`) before it closes;
//! 3. waits for the connections up to a grace period (`--grace SECS`, 10 s by default), then
//!    closes those still open; a second signal closes them at once;
//! 4. prints what it served and exits.
//!
//! `--addr ADDR` serves elsewhere (port 0 picks a free port).
//!
//! The pieces: [`Signals`] for the signals, [`future::or`] to wait for whichever comes first,
//! an `async-channel` channel closed to tell every connection at once (closing a channel wakes
//! all its receivers, also those that start waiting later), and hyper's
//! `Connection::graceful_shutdown`. Dependencies: `evloop` with feature `hyper`, `hyper` with
//! `server` and `http1`, `http-body-util`, `bytes`, `futures-lite` and `async-channel`.

use std::cell::Cell;
use std::convert::Infallible;
use std::pin::pin;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use evloop::hyper::{EvloopIo, EvloopTimer, Request, Response, StatusCode};
use evloop::net::{TcpListener, TcpStream};
use evloop::signal::{Signals, SIGINT, SIGTERM};
use evloop::JoinHandle;
use futures_lite::future;
use http_body_util::Full;
use hyper::body::Incoming;

type Error = Box<dyn std::error::Error>;

/// What the command line asks for.
#[derive(Debug)]
pub struct Options {
    /// Where to listen.
    pub addr: String,
    /// How long requests in flight may take to finish once a signal asked to stop.
    pub grace: Duration,
}

fn main() -> Result<(), Error> {
    main_with_args(std::env::args().skip(1))
}

/// Parses the command line and serves until a signal.
///
/// # Errors
///
/// Returns an error for a malformed option or if the server cannot listen.
pub fn main_with_args(args: impl IntoIterator<Item = String>) -> Result<(), Error> {
    let options = parse(args)?;
    evloop::run(serve_until_signal(options))
}

/// What the server counts, shared by its connections on the loop thread.
#[derive(Default)]
struct Counts {
    requests: Cell<u64>,
    in_flight: Cell<u64>,
}

/// Answers `/slow?ms=N` after N milliseconds, anything else at once.
async fn handle(
    req: Request<Incoming>,
    counts: Rc<Counts>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    println!("{} {}", req.method(), req.uri());
    let _in_flight = InFlight::new(&counts);
    let response = match req.uri().path() {
        "/slow" => match slow_ms(req.uri().query()) {
            Some(ms) => {
                evloop::sleep(Duration::from_millis(ms)).await;
                text(StatusCode::OK, format!("slept {ms} ms\n"))
            }
            None => text(StatusCode::BAD_REQUEST, "usage: /slow?ms=N\n".to_owned()),
        },
        _ => text(StatusCode::OK, "hello from evloop\n".to_owned()),
    };
    Ok(response)
}

/// Counts a request as in flight while it lives: also a request whose client went away, or
/// whose connection was closed at the deadline, is counted out when hyper drops it.
struct InFlight(Rc<Counts>);

impl InFlight {
    fn new(counts: &Rc<Counts>) -> InFlight {
        counts.requests.set(counts.requests.get() + 1);
        counts.in_flight.set(counts.in_flight.get() + 1);
        InFlight(counts.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.set(self.0.in_flight.get() - 1);
    }
}

fn slow_ms(query: Option<&str>) -> Option<u64> {
    query?.strip_prefix("ms=")?.parse().ok()
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
}

/// Serves one connection until it ends, or until `stop` is closed; then finishes it
/// gracefully: the request in flight, if any, is answered, and the connection closes.
async fn serve(stream: TcpStream, counts: Rc<Counts>, stop: async_channel::Receiver<()>) {
    let service = hyper::service::service_fn(move |req| handle(req, counts.clone()));
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(EvloopTimer::new())
        .header_read_timeout(Duration::from_secs(10))
        .serve_connection(EvloopIo::new(stream), service);
    let mut connection = pin!(connection);
    let served = future::or(async { Some(connection.as_mut().await) }, async {
        // Nothing is ever sent: `recv` returns when the server closes the channel.
        let _ = stop.recv().await;
        None
    })
    .await;
    let result = match served {
        Some(result) => result,
        None => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(e) = result {
        eprintln!("connection ended: {e}");
    }
}

/// What woke the accept loop.
enum Event {
    Accepted(std::io::Result<(TcpStream, std::net::SocketAddr)>),
    Signal(Result<i32, evloop::signal::SignalError>),
}

/// How the grace period ended.
enum Drain {
    Finished,
    Deadline,
    SecondSignal(i32),
}

async fn serve_until_signal(options: Options) -> Result<(), Error> {
    // Watch the signals before anything else, so that none can stop the process abruptly.
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    let listener = TcpListener::bind(&options.addr).await?;
    println!(
        "listening on http://{}/ (Ctrl-C or SIGTERM to stop)",
        listener.local_addr()?
    );
    let counts = Rc::new(Counts::default());
    let (stop, stopped) = async_channel::bounded::<()>(1);
    let mut connections: Vec<JoinHandle<()>> = Vec::new();
    let signal = loop {
        let accepted = async { Event::Accepted(listener.accept().await) };
        let signalled = async { Event::Signal(signals.recv().await) };
        match future::or(signalled, accepted).await {
            Event::Accepted(Ok((stream, _))) => {
                connections.retain(|c| !c.is_finished());
                connections.push(evloop::spawn(serve(
                    stream,
                    counts.clone(),
                    stopped.clone(),
                )));
            }
            // Out of file descriptors, for instance: report it and keep serving.
            Event::Accepted(Err(e)) => {
                eprintln!("accept failed: {e}");
                evloop::sleep(Duration::from_millis(10)).await;
            }
            Event::Signal(signal) => break signal?,
        }
    };
    drop(listener);
    stop.close();
    connections.retain(|c| !c.is_finished());
    println!(
        "{}: stopped accepting; {} connection(s) open, {} request(s) in flight; waiting up to {:?}",
        signal_name(signal),
        connections.len(),
        counts.in_flight.get(),
        options.grace
    );
    let drain = {
        let all_finished = async {
            for connection in &mut connections {
                let _ = connection.await;
            }
        };
        let deadline = async {
            match evloop::timeout(options.grace, all_finished).await {
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
    let cut_off = counts.in_flight.get();
    for connection in &still_open {
        connection.abort();
    }
    println!(
        "served {} request(s); {cut_off} cut off at shutdown",
        counts.requests.get()
    );
    Ok(())
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        SIGINT => "SIGINT (Ctrl-C)",
        SIGTERM => "SIGTERM",
        _ => "signal",
    }
}

fn parse(args: impl IntoIterator<Item = String>) -> Result<Options, Error> {
    let mut options = Options {
        addr: "127.0.0.1:3000".to_owned(),
        grace: Duration::from_secs(10),
    };
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        let usage = "usage: hyper_shutdown [--addr ADDR] [--grace SECS]";
        let value = args
            .next()
            .ok_or_else(|| format!("{usage}; {flag} needs a value"))?;
        match flag.as_str() {
            "--addr" => options.addr = value,
            "--grace" => {
                let secs: f64 = value.parse().map_err(|e| format!("--grace: {e}"))?;
                options.grace =
                    Duration::try_from_secs_f64(secs).map_err(|e| format!("--grace: {e}"))?;
            }
            _ => return Err(format!("{usage}; unknown option {flag}").into()),
        }
    }
    Ok(options)
}
