//! The same hyper HTTP server on every runtime: a service answering every request with a 13-byte
//! body, the I/O adapters that put it on evloop, tokio and smol, and the report's keep-alive
//! workload, in which a plain client thread sends requests one at a time over one connection
//! while the runtime's thread serves them.
//!
//! The server's CPU time per request is read on its own thread (`CLOCK_THREAD_CPUTIME_ID`)
//! from inside the service, at two requests: the client's thread, in the same process, is not
//! counted, and neither are the connection's setup and warm-up.

use std::convert::Infallible;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use async_executor::LocalExecutor;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};

use crate::workloads::cpu::thread_cpu;

/// The body of every response.
pub const BODY: &[u8] = b"Hello, world!";

/// The CPU time a request for [`SERVER_BOUND_PATH`] costs the server on top of the usual
/// answer: a server-bound request.
pub const SERVER_BOUND_CPU: Duration = Duration::from_micros(100);

/// The path of a server-bound request.
pub const SERVER_BOUND_PATH: &str = "/cpu";

/// Requests sent before the measured ones.
const WARM_UP: u64 = 50;

/// The response to every request.
pub fn hello() -> Response<Full<Bytes>> {
    Response::new(Full::new(Bytes::from_static(BODY)))
}

/// Counts the requests a server has received and stamps its thread's CPU time at two of them.
#[derive(Debug, Default)]
pub struct CpuStamps {
    from: u64,
    to: u64,
    received: AtomicU64,
    start_ns: AtomicU64,
    end_ns: AtomicU64,
}

impl CpuStamps {
    /// Stamps at the `from`th and the `to`th request (counting from 1).
    pub fn new(from: u64, to: u64) -> Arc<CpuStamps> {
        Arc::new(CpuStamps {
            from,
            to,
            ..CpuStamps::default()
        })
    }

    /// Called by the service, on the server's thread, for every request.
    fn received(&self) {
        let n = self.received.fetch_add(1, Ordering::Relaxed) + 1;
        if n == self.from || n == self.to {
            let now = thread_cpu().as_nanos() as u64;
            let stamp = if n == self.from {
                &self.start_ns
            } else {
                &self.end_ns
            };
            stamp.store(now, Ordering::Relaxed);
        }
    }

    /// The server thread's CPU time between the two stamps, once both were taken.
    pub fn between(&self) -> Option<Duration> {
        if self.received.load(Ordering::Relaxed) < self.to {
            return None;
        }
        let (start, end) = (
            self.start_ns.load(Ordering::Relaxed),
            self.end_ns.load(Ordering::Relaxed),
        );
        Some(Duration::from_nanos(end.saturating_sub(start)))
    }
}

/// Serves HTTP/1.1 on `io` until the client closes the connection, answering with [`hello`]
/// (after burning [`SERVER_BOUND_CPU`] for a request of [`SERVER_BOUND_PATH`]) and counting
/// requests in `stamps`, if any.
///
/// # Errors
///
/// hyper's, for a connection that broke or a request that could not be parsed.
pub async fn serve_http1<I>(io: I, stamps: Option<Arc<CpuStamps>>) -> Result<(), hyper::Error>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin,
{
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        if let Some(stamps) = &stamps {
            stamps.received();
        }
        if request.uri().path() == SERVER_BOUND_PATH {
            crate::workloads::cpu::burn_cpu(SERVER_BOUND_CPU);
        }
        std::future::ready(Ok::<_, Infallible>(hello()))
    });
    hyper::server::conn::http1::Builder::new()
        .serve_connection(io, service)
        .await
}

/// What one keep-alive run measured, over its measured requests.
#[derive(Clone, Copy, Debug)]
pub struct KeepAlive {
    /// The client's wall time, each request from writing it to reading the whole response.
    pub took: Duration,
    /// The server thread's CPU time.
    pub server_cpu: Duration,
}

/// Starts the client thread: it connects to `addr`, sends [`WARM_UP`] requests and then `ops`
/// timed ones, each after the previous response was read in full, and returns the time the
/// timed ones took.
fn start_client(addr: SocketAddr, ops: u64) -> JoinHandle<io::Result<Duration>> {
    std::thread::spawn(move || {
        let mut client = Client::connect(addr, "/")?;
        for _ in 0..WARM_UP {
            client.get()?;
        }
        let start = Instant::now();
        for _ in 0..ops {
            client.get()?;
        }
        Ok(start.elapsed())
    })
}

/// A keep-alive HTTP/1.1 connection that sends GET requests for one path, each after the
/// whole response to the last: the client of the report's HTTP rows and of the loads in
/// [`http_load`](crate::workloads::http_load).
pub(crate) struct Client {
    reader: BufReader<TcpStream>,
    request: Vec<u8>,
    head: String,
    body: Vec<u8>,
}

impl Client {
    /// Connects to `addr`, to ask for `path`.
    pub(crate) fn connect(addr: SocketAddr, path: &str) -> io::Result<Client> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        // A server that stopped answering fails the run rather than hanging it.
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        Ok(Client {
            reader: BufReader::new(stream),
            request: format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").into_bytes(),
            head: String::new(),
            body: Vec::new(),
        })
    }

    /// Sends one request and reads its whole response.
    pub(crate) fn get(&mut self) -> io::Result<()> {
        self.reader.get_mut().write_all(&self.request)?;
        self.head.clear();
        loop {
            let start = self.head.len();
            if self.reader.read_line(&mut self.head)? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the server closed the connection in the middle of a response",
                ));
            }
            if self.head[start..].trim_end().is_empty() {
                break;
            }
        }
        let length = content_length(&self.head).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("a response without a content-length: {:?}", self.head),
            )
        })?;
        self.body.resize(length, 0);
        self.reader.read_exact(&mut self.body)
    }
}

/// The `content-length` of a response head.
fn content_length(head: &str) -> Option<usize> {
    head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse().ok())
            .flatten()
    })
}

/// Waits for the client thread (whose connection the server saw close) and combines its time
/// with the server's stamps.
fn finish(client: JoinHandle<io::Result<Duration>>, stamps: &CpuStamps) -> io::Result<KeepAlive> {
    let took = client
        .join()
        .map_err(|_| io::Error::other("the HTTP client thread panicked"))??;
    let cpu = stamps.between().ok_or_else(|| {
        io::Error::other("the HTTP server saw fewer requests than the client sent")
    })?;
    Ok(KeepAlive {
        took,
        server_cpu: cpu,
    })
}

/// `ops` keep-alive requests served by `rt`.
///
/// # Errors
///
/// A socket that could not be opened, or a connection that broke.
pub fn on_evloop(rt: &evloop::Runtime, ops: u64) -> io::Result<KeepAlive> {
    let stamps = CpuStamps::new(WARM_UP, WARM_UP + ops);
    let client = rt.block_on(async {
        let listener = evloop::net::TcpListener::bind("127.0.0.1:0").await?;
        let client = start_client(listener.local_addr()?, ops);
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let io = evloop::hyper::EvloopIo::new(stream);
        serve_http1(io, Some(stamps.clone()))
            .await
            .map_err(io::Error::other)?;
        io::Result::Ok(client)
    })?;
    finish(client, &stamps)
}

/// `ops` keep-alive requests served by tokio's `rt`.
///
/// # Errors
///
/// A socket that could not be opened, or a connection that broke.
pub fn on_tokio(rt: &tokio::runtime::Runtime, ops: u64) -> io::Result<KeepAlive> {
    let stamps = CpuStamps::new(WARM_UP, WARM_UP + ops);
    let client = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let client = start_client(listener.local_addr()?, ops);
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let io = hyper_util::rt::TokioIo::new(stream);
        serve_http1(io, Some(stamps.clone()))
            .await
            .map_err(io::Error::other)?;
        io::Result::Ok(client)
    })?;
    finish(client, &stamps)
}

/// `ops` keep-alive requests served by smol's `ex`, on the calling thread.
///
/// # Errors
///
/// A socket that could not be opened, or a connection that broke.
pub fn on_smol(ex: &LocalExecutor<'_>, ops: u64) -> io::Result<KeepAlive> {
    let stamps = CpuStamps::new(WARM_UP, WARM_UP + ops);
    let client = async_io::block_on(ex.run(async {
        let listener = async_net::TcpListener::bind("127.0.0.1:0").await?;
        let client = start_client(listener.local_addr()?, ops);
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let io = smol_hyper::rt::FuturesIo::new(stream);
        serve_http1(io, Some(stamps.clone()))
            .await
            .map_err(io::Error::other)?;
        io::Result::Ok(client)
    }))?;
    finish(client, &stamps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_runtime_serves_the_requests_and_the_server_cpu_is_counted() {
        let ops = 200;
        let evloop = evloop::Builder::new().build().unwrap();
        let tokio = crate::workloads::peers::tokio_current_thread();
        let smol = LocalExecutor::new();
        for (name, run) in [
            ("evloop", on_evloop(&evloop, ops)),
            ("tokio", on_tokio(&tokio, ops)),
            ("smol", on_smol(&smol, ops)),
        ] {
            let run = run.unwrap_or_else(|e| panic!("{name}: {e}"));
            // Serving a request (parse, answer, two system calls at least) costs CPU time.
            assert!(
                run.server_cpu > Duration::ZERO,
                "{name}: the server's thread used no CPU time over {ops} requests ({run:?})"
            );
            assert!(
                run.took > Duration::ZERO,
                "{name}: {ops} requests took no time ({run:?})"
            );
        }
    }

    #[test]
    fn the_content_length_is_found_whatever_its_case() {
        let head = "HTTP/1.1 200 OK\r\nContent-Length: 13\r\ndate: x";
        assert_eq!(content_length(head), Some(13));
        assert_eq!(
            content_length("HTTP/1.1 200 OK\r\ncontent-length:7"),
            Some(7)
        );
        assert_eq!(content_length("HTTP/1.1 200 OK\r\ndate: x"), None);
    }
}
