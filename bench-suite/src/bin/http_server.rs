//! The same hyper HTTP/1.1 server on evloop or on tokio's `current_thread` runtime, for
//! `bench-suite/scripts/http.sh`: it answers every request with a 13-byte body, keeps
//! connections alive unless the client asks to close, prints `listening on ADDR` and serves until
//! it is killed.
//!
//! `cargo run --release -p evloop-bench --features http --bin http_server -- evloop 127.0.0.1:0`
//! (or `tokio`). Both use hyper's HTTP/1.1 connection with the same settings and a service that
//! needs nothing from its runtime, so the runtimes differ only in how they wait for and move
//! bytes.

use std::convert::Infallible;
use std::io::Write;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};

type Error = Box<dyn std::error::Error>;

async fn hello(_: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(
        b"Hello, world!",
    ))))
}

fn announce(addr: std::net::SocketAddr) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "listening on {addr}");
    let _ = out.flush();
}

fn evloop(addr: &str) -> Result<(), Error> {
    use evloop::hyper::EvloopIo;
    evloop::run(async {
        let listener = evloop::net::TcpListener::bind(addr).await?;
        announce(listener.local_addr()?);
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            evloop::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(EvloopIo::new(stream), hyper::service::service_fn(hello))
                    .await;
            });
        }
    })
}

fn tokio(addr: &str) -> Result<(), Error> {
    use hyper_util::rt::TokioIo;
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
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), hyper::service::service_fn(hello))
                    .await;
            });
        }
    })
}

fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: http_server evloop|tokio ADDR";
    let runtime = args.next().ok_or(usage)?;
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:0".to_owned());
    match runtime.as_str() {
        "evloop" => evloop(&addr),
        "tokio" => tokio(&addr),
        _ => Err(usage.into()),
    }
}
