//! The same hyper server on evloop, tokio and smol, on one thread or two, for
//! `bench-suite/scripts/http.sh` (through the `http_server` binary) and the report's loops
//! section (through a hidden command): it answers every request with a 13-byte body (after
//! 100 µs of CPU for `/cpu`), speaks HTTP/1.1 (keep-alive unless the client asks to close) or
//! HTTP/2 over cleartext with prior knowledge (`h2`, as `h2load` connects), prints
//! `listening on ADDR` and serves until the process ends. Every runtime uses hyper's
//! connection builders with the same settings and the same service
//! ([`crate::workloads::http`]), so the runtimes differ only in how they wait for and move
//! bytes.
//!
//! On one thread: `evloop`, `tokio` (`current_thread`), `smol` (an `async-executor` driven by
//! `async_io::block_on`). On two threads (HTTP/1.1): `evloop2` (`evloop::PerCore`, 2 loops,
//! `ListenMode::Auto`: an `SO_REUSEPORT` group on Linux, hand-off elsewhere),
//! `evloop2-handoff` (2 loops, hand-off mode), `tokio-mt2` (tokio's `multi_thread` runtime, 2
//! workers), `tokio-2ct` (two `current_thread` runtimes on an `SO_REUSEPORT` group) and `smol2`
//! (one `async-executor` run by 2 threads).

use std::io::Write;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;

use crate::workloads::http::{hello, serve_http1};

/// A server's error: binding, or a runtime that could not start.
pub type Error = Box<dyn std::error::Error>;

/// HTTP/1.1 or HTTP/2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// HTTP/1.1.
    H1,
    /// HTTP/2 over cleartext, with prior knowledge.
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
    let ex = Arc::new(async_executor::Executor::new());
    async_io::block_on(ex.run(smol_accept(ex.clone(), addr.to_owned(), protocol)))?;
    Ok(())
}

/// Accepts on `addr` and serves each connection as a task of `ex`, until accepting fails.
async fn smol_accept(
    ex: Arc<async_executor::Executor<'static>>,
    addr: String,
    protocol: Protocol,
) -> std::io::Result<()> {
    use smol_hyper::rt::{FuturesIo, SmolExecutor};
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
}

/// Serves HTTP/1.1 on 2 evloop loops, the listener in `mode`.
fn evloop2(addr: &str, mode: evloop::ListenMode) -> Result<(), Error> {
    use evloop::hyper::EvloopIo;
    let addr: std::net::SocketAddr = addr.parse()?;
    let listener = evloop::GroupListener::bind(addr, mode)?;
    announce(listener.local_addr());
    let results = evloop::PerCore::new().loops(2).run(move |core| {
        let listener = listener.clone();
        async move {
            listener
                .serve(&core, |conn| async move {
                    let _ = conn.set_nodelay(true);
                    let _ = serve_http1(EvloopIo::new(conn), None).await;
                })
                .await
        }
    });
    // What each loop served, for the script's log.
    for r in &results {
        let s = &r.loop_stats;
        println!(
            "loop {}: accepted {}, handed off {}, widest gap at hand-off {}, imbalance warnings \
             {}, CPU {:?}",
            r.core,
            s.accepted,
            s.handed_off,
            s.widest_gap_at_hand_off,
            s.imbalance_warnings,
            s.busy.unwrap_or_default()
        );
    }
    for r in results {
        if let Ok(Err(e)) = r.outcome {
            return Err(e.into());
        }
    }
    Ok(())
}

/// Serves HTTP/1.1 on tokio's `multi_thread` runtime with 2 workers.
fn tokio_mt2(addr: &str) -> Result<(), Error> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        announce(listener.local_addr()?);
        tokio_accept(listener).await
    })
}

/// Accepts and serves HTTP/1.1 on tokio until accepting fails.
async fn tokio_accept(listener: tokio::net::TcpListener) -> Result<(), Error> {
    use hyper_util::rt::TokioIo;
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let _ = serve_http1(TokioIo::new(stream), None).await;
        });
    }
}

/// A listening socket on `addr` in an `SO_REUSEPORT` group.
fn reuseport_listener(addr: std::net::SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        None,
    )?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

/// Serves HTTP/1.1 on two tokio `current_thread` runtimes, each on its thread with its own
/// socket of an `SO_REUSEPORT` group.
fn tokio_2ct(addr: &str) -> Result<(), Error> {
    let first = reuseport_listener(addr.parse()?)?;
    let addr = first.local_addr()?;
    let second = reuseport_listener(addr)?;
    announce(addr);
    let threads: Vec<_> = [first, second]
        .into_iter()
        .map(|socket| {
            std::thread::spawn(move || -> Result<(), String> {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| e.to_string())?;
                rt.block_on(async {
                    let listener =
                        tokio::net::TcpListener::from_std(socket).map_err(|e| e.to_string())?;
                    tokio_accept(listener).await.map_err(|e| e.to_string())
                })
            })
        })
        .collect();
    for t in threads {
        t.join().map_err(|_| "a runtime's thread panicked")??;
    }
    Ok(())
}

/// Serves HTTP/1.1 on one `async-executor` run by 2 threads.
fn smol2(addr: &str) -> Result<(), Error> {
    let ex = Arc::new(async_executor::Executor::new());
    for _ in 0..2 {
        let ex = ex.clone();
        std::thread::spawn(move || async_io::block_on(ex.run(std::future::pending::<()>())));
    }
    let accept = ex.spawn(smol_accept(ex.clone(), addr.to_owned(), Protocol::H1));
    async_io::block_on(accept)?;
    Ok(())
}

/// The runtimes on two threads, in the order the report shows them.
pub const TWO_THREADS: [&str; 5] = [
    "evloop2",
    "evloop2-handoff",
    "tokio-mt2",
    "tokio-2ct",
    "smol2",
];

/// Serves on `addr` with `runtime` (a name of the module's docs) until the process ends.
///
/// # Errors
///
/// An unknown runtime, HTTP/2 asked of a two-thread server, or the server's error.
pub fn serve(runtime: &str, addr: &str, protocol: Protocol) -> Result<(), Error> {
    let two_threads = || -> Result<(), Error> {
        if protocol == Protocol::H2 {
            return Err("the two-thread servers speak HTTP/1.1 only".into());
        }
        Ok(())
    };
    match runtime {
        "evloop2" => two_threads().and_then(|()| evloop2(addr, evloop::ListenMode::Auto)),
        "evloop2-handoff" => two_threads().and_then(|()| evloop2(addr, evloop::ListenMode::HandOff)),
        "tokio-mt2" => two_threads().and_then(|()| tokio_mt2(addr)),
        "tokio-2ct" => two_threads().and_then(|()| tokio_2ct(addr)),
        "smol2" => two_threads().and_then(|()| smol2(addr)),
        "evloop" => evloop(addr, protocol),
        "tokio" => tokio(addr, protocol),
        "smol" => smol(addr, protocol),
        _ => Err(format!(
            "unknown server {runtime:?}: evloop, tokio, smol, evloop2, evloop2-handoff, tokio-mt2, tokio-2ct or smol2"
        )
        .into()),
    }
}
