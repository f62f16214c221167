//! Slides 7 and 8 with real libraries: an HTTP server on evloop that calls a slow upstream
//! service for every request, in the three ways a program can.
//!
//! 1. A blocking HTTP client (`ureq`, the `requests` of Rust) called in the handler: every
//!    request waits for the one before it, because the call blocks the loop thread.
//! 2. The same blocking client through `evloop::to_thread` (Strategy 2, `run_in_executor`): the
//!    loop stays free, but the default pool's few threads are the limit.
//! 3. An async client (hyper on evloop, Strategy 1): every call waits in the loop together.
//!
//! Concurrent clients measure the latency they see. `cargo run --release --example
//! slow_upstream --features hyper` (`-- --clients N --requests M --upstream-ms MS`).

use std::cell::Cell;
use std::convert::Infallible;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use evloop::hyper::{EvloopIo, EvloopTimer};
use evloop::net::{TcpListener, TcpStream};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};

/// How the server calls the upstream service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `ureq` in the handler: blocks the loop.
    BlockingInLoop,
    /// `ureq` through `evloop::to_thread`.
    BlockingOnPool,
    /// hyper's client on evloop.
    Async,
}

impl Mode {
    /// Every mode, in the order they are shown.
    pub const ALL: [Mode; 3] = [Mode::BlockingInLoop, Mode::BlockingOnPool, Mode::Async];

    fn label(self) -> &'static str {
        match self {
            Mode::BlockingInLoop => "blocking client in the loop",
            Mode::BlockingOnPool => "blocking client via to_thread",
            Mode::Async => "async client (hyper)",
        }
    }
}

/// The size of a run.
#[derive(Clone, Copy, Debug)]
pub struct Load {
    /// Concurrent clients of the server.
    pub clients: usize,
    /// Requests each client makes, one after another.
    pub requests: usize,
    /// How long the upstream service takes per request.
    pub upstream: Duration,
}

/// Latency percentiles the clients saw.
#[derive(Clone, Copy, Debug)]
pub struct Latency {
    /// Median.
    pub p50: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Worst.
    pub max: Duration,
}

fn main() {
    let mut load = Load {
        clients: 20,
        requests: 5,
        upstream: Duration::from_millis(50),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().and_then(|v| v.parse::<u64>().ok());
        match (flag.as_str(), value) {
            ("--clients", Some(n)) => load.clients = n as usize,
            ("--requests", Some(n)) => load.requests = n as usize,
            ("--upstream-ms", Some(ms)) => load.upstream = Duration::from_millis(ms),
            _ => {
                eprintln!("usage: slow_upstream [--clients N] [--requests M] [--upstream-ms MS]");
                std::process::exit(2);
            }
        }
    }
    println!(
        "{} clients x {} requests; each request calls an upstream service that takes {:?}",
        load.clients, load.requests, load.upstream
    );
    for mode in Mode::ALL {
        let l = measure(mode, load);
        println!(
            "{:<30} p50 {:>9.1?}  p99 {:>9.1?}  max {:>9.1?}",
            mode.label(),
            l.p50,
            l.p99,
            l.max
        );
    }
}

/// Runs the upstream service, the evloop server calling it in `mode`, and the clients; returns
/// the latency the clients saw.
pub fn measure(mode: Mode, load: Load) -> Latency {
    let upstream = slow_upstream(load.upstream);
    let (addr_tx, addr_rx) = mpsc::channel();
    let server = thread::spawn(move || serve(mode, upstream, addr_tx));
    let addr = addr_rx.recv().expect("the server started");
    let clients: Vec<_> = (0..load.clients)
        .map(|_| {
            thread::spawn(move || {
                let url = format!("http://{addr}/");
                (0..load.requests)
                    .map(|_| {
                        let start = Instant::now();
                        let body = ureq::get(&url).call().expect("the server answers");
                        assert_eq!(body.into_string().expect("a text body"), "ok");
                        start.elapsed()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut latencies: Vec<Duration> = clients
        .into_iter()
        .flat_map(|c| c.join().expect("a client failed"))
        .collect();
    // Ask the server to stop: a request to /stop ends its loop.
    let _ = ureq::get(&format!("http://{addr}/stop")).call();
    server.join().expect("the server failed");
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
    Latency {
        p50: at(0.5),
        p99: at(0.99),
        max: at(1.0),
    }
}

/// The evloop server: for every request, one call to `upstream` made as `mode` says; a
/// request to `/stop` ends it.
fn serve(mode: Mode, upstream: SocketAddr, addr: mpsc::Sender<SocketAddr>) {
    evloop::run(async move {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        addr.send(listener.local_addr().expect("local address"))
            .expect("the caller waits");
        // Shared by the loop's tasks: `Rc<Cell>` is enough on one thread.
        let stop = Rc::new(Cell::new(false));
        let stopping = stop.clone();
        let accept = evloop::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let stop = stop.clone();
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let stop = stop.clone();
                    async move {
                        if req.uri().path() == "/stop" {
                            stop.set(true);
                            return Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())));
                        }
                        let body = call_upstream(mode, upstream).await;
                        Ok(Response::new(Full::new(Bytes::from(body))))
                    }
                });
                evloop::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .timer(EvloopTimer::new())
                        .serve_connection(EvloopIo::new(stream), service),
                );
            }
        });
        while !stopping.get() {
            evloop::sleep(Duration::from_millis(5)).await;
        }
        accept.abort();
    });
}

/// Calls the upstream service once, as `mode` says; returns its body.
async fn call_upstream(mode: Mode, upstream: SocketAddr) -> String {
    let url = format!("http://{upstream}/");
    match mode {
        // Blocks this thread, and so every task of the loop, until the answer comes.
        Mode::BlockingInLoop => ureq_get(&url),
        Mode::BlockingOnPool => evloop::to_thread(move || ureq_get(&url))
            .await
            .expect("the pool runs the call"),
        Mode::Async => {
            let stream = TcpStream::connect(upstream)
                .await
                .expect("connect upstream");
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake(EvloopIo::new(stream))
                    .await
                    .expect("HTTP handshake");
            evloop::spawn(connection);
            let request = Request::get(url)
                .header("host", upstream.to_string())
                .body(Empty::<Bytes>::new())
                .expect("a valid request");
            let response = sender
                .send_request(request)
                .await
                .expect("upstream answers");
            let body = response.into_body().collect().await.expect("a body");
            String::from_utf8_lossy(&body.to_bytes()).into_owned()
        }
    }
}

fn ureq_get(url: &str) -> String {
    ureq::get(url)
        .call()
        .expect("upstream answers")
        .into_string()
        .expect("a text body")
}

/// A slow HTTP service on loopback, one thread per connection: it answers `ok` after `delay`.
fn slow_upstream(delay: Duration) -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind upstream");
    let addr = listener.local_addr().expect("upstream address");
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            thread::spawn(move || answer_slowly(stream, delay));
        }
    });
    addr
}

/// Answers every request on `stream` with `ok`, after `delay`.
fn answer_slowly(mut stream: std::net::TcpStream, delay: Duration) {
    let mut buf = [0; 4096];
    let mut pending = Vec::new();
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        pending.extend_from_slice(&buf[..n]);
        while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            pending.drain(..end + 4);
            thread::sleep(delay);
            let reply = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
            if stream.write_all(reply).is_err() {
                return;
            }
        }
    }
}
