//! The same hyper server on evloop, on tokio's `current_thread` runtime or on smol (an
//! `async-executor` driven by `async_io::block_on` on one thread), for
//! `bench-suite/scripts/http.sh`: it answers every request with a 13-byte body, speaks HTTP/1.1
//! (keep-alive unless the client asks to close) or HTTP/2 over cleartext with prior knowledge
//! (`h2`, as `h2load` connects), prints `listening on ADDR` and serves until it is killed.
//!
//! `cargo run --release -p evloop-bench --bin http_server -- evloop 127.0.0.1:0 h1`
//! (or `tokio`, `smol`; `h2`). Every runtime uses hyper's connection builders with the same
//! settings and the same service ([`evloop_bench::workloads::http`]), so the runtimes differ
//! only in how they wait for and move bytes.

use std::io::Write;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;

use evloop_bench::workloads::http::{hello, serve_http1};

type Error = Box<dyn std::error::Error>;

/// HTTP/1.1 or HTTP/2.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Protocol {
    H1,
    H2,
}

fn announce(addr: std::net::SocketAddr) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "listening on {addr}");
    let _ = out.flush();
}

/// A response, ready at once.
type Answer = std::future::Ready<Result<hyper::Response<Full<Bytes>>, std::convert::Infallible>>;

/// The HTTP/2 service's function: the same answer as HTTP/1.1's.
fn answer(_: hyper::Request<hyper::body::Incoming>) -> Answer {
    std::future::ready(Ok(hello()))
}

fn evloop(addr: &str, protocol: Protocol) -> Result<(), Error> {
    use evloop::hyper::{EvloopExecutor, EvloopIo};
    evloop::run(async {
        let listener = evloop::net::TcpListener::bind(addr).await?;
        announce(listener.local_addr()?);
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let io = EvloopIo::new(stream);
            evloop::spawn(async move {
                let _ = match protocol {
                    Protocol::H1 => serve_http1(io, None).await,
                    Protocol::H2 => {
                        hyper::server::conn::http2::Builder::new(EvloopExecutor::new())
                            .serve_connection(io, hyper::service::service_fn(answer))
                            .await
                    }
                };
            });
        }
    })
}

fn tokio(addr: &str, protocol: Protocol) -> Result<(), Error> {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        announce(listener.local_addr()?);
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let io = TokioIo::new(stream);
            tokio::spawn(async move {
                let _ = match protocol {
                    Protocol::H1 => serve_http1(io, None).await,
                    Protocol::H2 => {
                        hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                            .serve_connection(io, hyper::service::service_fn(answer))
                            .await
                    }
                };
            });
        }
    })
}

fn smol(addr: &str, protocol: Protocol) -> Result<(), Error> {
    use smol_hyper::rt::{FuturesIo, SmolExecutor};
    let ex = Arc::new(async_executor::Executor::new());
    async_io::block_on(ex.run(async {
        let listener = async_net::TcpListener::bind(addr).await?;
        announce(listener.local_addr()?);
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let io = FuturesIo::new(stream);
            let exec = SmolExecutor::new(ex.clone());
            ex.spawn(async move {
                let _ = match protocol {
                    Protocol::H1 => serve_http1(io, None).await,
                    Protocol::H2 => {
                        hyper::server::conn::http2::Builder::new(exec)
                            .serve_connection(io, hyper::service::service_fn(answer))
                            .await
                    }
                };
            })
            .detach();
        }
    }))
}

fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: http_server evloop|tokio|smol [ADDR] [h1|h2]";
    let runtime = args.next().ok_or(usage)?;
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:0".to_owned());
    let protocol = match args.next().as_deref() {
        None | Some("h1") => Protocol::H1,
        Some("h2") => Protocol::H2,
        Some(_) => return Err(usage.into()),
    };
    match runtime.as_str() {
        "evloop" => evloop(&addr, protocol),
        "tokio" => tokio(&addr, protocol),
        "smol" => smol(&addr, protocol),
        _ => Err(usage.into()),
    }
}
