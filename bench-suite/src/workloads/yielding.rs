//! `yield_now` in a loop, alone or next to registered sockets.

use std::future::Future;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Yields `iters` times with `yield_now` and returns the time it took.
pub async fn yield_loop<F: Future<Output = ()>>(iters: u64, yield_now: fn() -> F) -> Duration {
    let start = Instant::now();
    for _ in 0..black_box(iters) {
        yield_now().await;
    }
    start.elapsed()
}

/// Idle loopback connections registered with a runtime, so that its reactor has sockets to
/// poll: a listener and `n` connected client/server pairs that never send anything.
///
/// Generic over the runtime's socket types: `L` is the listener, `S` a stream.
#[derive(Debug)]
pub struct IdleSockets<L, S> {
    /// The listener, registered and never accepting again.
    pub listener: L,
    /// Both ends of every connection.
    pub streams: Vec<S>,
}

/// Opens a listener and `n` idle connections on evloop.
///
/// # Errors
///
/// Returns the OS error of a failed bind, connect or accept (for example `EMFILE` when the
/// file-descriptor limit is lower than `2 * n + 1`).
pub async fn evloop_idle_sockets(
    n: usize,
) -> std::io::Result<IdleSockets<evloop::net::TcpListener, evloop::net::TcpStream>> {
    let listener = evloop::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let mut streams = Vec::with_capacity(2 * n);
    for _ in 0..n {
        streams.push(evloop::net::TcpStream::connect(addr).await?);
        streams.push(listener.accept().await?.0);
    }
    Ok(IdleSockets { listener, streams })
}

/// Opens a listener and `n` idle connections on tokio.
///
/// # Errors
///
/// As [`evloop_idle_sockets`].
pub async fn tokio_idle_sockets(
    n: usize,
) -> std::io::Result<IdleSockets<tokio::net::TcpListener, tokio::net::TcpStream>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let mut streams = Vec::with_capacity(2 * n);
    for _ in 0..n {
        streams.push(tokio::net::TcpStream::connect(addr).await?);
        streams.push(listener.accept().await?.0);
    }
    Ok(IdleSockets { listener, streams })
}

/// Opens a listener and `n` idle connections on smol (`async-net`).
///
/// # Errors
///
/// As [`evloop_idle_sockets`].
pub async fn smol_idle_sockets(
    n: usize,
) -> std::io::Result<IdleSockets<async_net::TcpListener, async_net::TcpStream>> {
    let listener = async_net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let mut streams = Vec::with_capacity(2 * n);
    for _ in 0..n {
        streams.push(async_net::TcpStream::connect(addr).await?);
        streams.push(listener.accept().await?.0);
    }
    Ok(IdleSockets { listener, streams })
}
