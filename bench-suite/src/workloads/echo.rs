//! TCP echo on loopback: a server task per connection echoing 64-byte messages, and clients
//! timing round trips, with the server and the clients on the same runtime thread.

use std::hint::black_box;
use std::io;
use std::time::{Duration, Instant};

use async_executor::LocalExecutor;
use futures_lite::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Bytes sent and echoed back per message.
pub const MSG_LEN: usize = 64;

/// Echoes everything it reads until the peer closes the connection (or the connection fails:
/// the echo side has no one to report to, and the client sees the failure).
pub async fn echo<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S) {
    let mut buf = [0; MSG_LEN];
    while let Ok(n @ 1..) = stream.read(&mut buf).await {
        if stream.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
}

/// Sends `iters` messages, reading each one back before the next; returns the time it took.
///
/// # Errors
///
/// Returns the error of a failed write or read (`UnexpectedEof` if the server closed).
pub async fn round_trips<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    iters: u64,
) -> io::Result<Duration> {
    let msg = [7; MSG_LEN];
    let mut reply = [0; MSG_LEN];
    let start = Instant::now();
    for _ in 0..iters {
        stream.write_all(black_box(&msg)).await?;
        stream.read_exact(&mut reply).await?;
        black_box(&reply);
    }
    Ok(start.elapsed())
}

/// The tokio counterparts of [`echo`] and [`round_trips`] (tokio has its own I/O traits).
pub mod with_tokio {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    /// [`super::echo`] on a tokio stream.
    pub async fn echo(mut stream: TcpStream) {
        let mut buf = [0; MSG_LEN];
        while let Ok(n @ 1..) = stream.read(&mut buf).await {
            if stream.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    }

    /// [`super::round_trips`] on a tokio stream.
    ///
    /// # Errors
    ///
    /// As [`super::round_trips`].
    pub async fn round_trips(stream: &mut TcpStream, iters: u64) -> io::Result<Duration> {
        let msg = [7; MSG_LEN];
        let mut reply = [0; MSG_LEN];
        let start = Instant::now();
        for _ in 0..iters {
            stream.write_all(black_box(&msg)).await?;
            stream.read_exact(&mut reply).await?;
            black_box(&reply);
        }
        Ok(start.elapsed())
    }
}

/// Opens `conns` connections to an echo server on the current evloop loop (one server task
/// per connection, Nagle off on both ends) and returns the client ends.
///
/// # Errors
///
/// Returns the OS error of a failed bind, connect or accept.
pub async fn evloop_clients(conns: usize) -> io::Result<Vec<evloop::net::TcpStream>> {
    let listener = evloop::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let mut clients = Vec::with_capacity(conns);
    for _ in 0..conns {
        let client = evloop::net::TcpStream::connect(addr).await?;
        client.set_nodelay(true)?;
        let (server, _) = listener.accept().await?;
        server.set_nodelay(true)?;
        drop(evloop::spawn(echo(server)));
        clients.push(client);
    }
    Ok(clients)
}

/// [`evloop_clients`] on tokio.
///
/// # Errors
///
/// As [`evloop_clients`].
pub async fn tokio_clients(conns: usize) -> io::Result<Vec<tokio::net::TcpStream>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let mut clients = Vec::with_capacity(conns);
    for _ in 0..conns {
        let client = tokio::net::TcpStream::connect(addr).await?;
        client.set_nodelay(true)?;
        let (server, _) = listener.accept().await?;
        server.set_nodelay(true)?;
        tokio::spawn(with_tokio::echo(server));
        clients.push(client);
    }
    Ok(clients)
}

/// [`evloop_clients`] on smol, spawning the server tasks on `ex`.
///
/// # Errors
///
/// As [`evloop_clients`].
pub async fn smol_clients(
    ex: &LocalExecutor<'_>,
    conns: usize,
) -> io::Result<Vec<async_net::TcpStream>> {
    let listener = async_net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let mut clients = Vec::with_capacity(conns);
    for _ in 0..conns {
        let client = async_net::TcpStream::connect(addr).await?;
        client.set_nodelay(true)?;
        let (server, _) = listener.accept().await?;
        server.set_nodelay(true)?;
        ex.spawn(echo(server)).detach();
        clients.push(client);
    }
    Ok(clients)
}

/// Every client makes `per_conn` round trips, all clients at once, each in its own evloop task;
/// returns the time until the last finished. Messages per second are
/// `clients.len() * per_conn / time`.
///
/// # Errors
///
/// Returns the first client's error.
pub async fn evloop_throughput(
    clients: &mut Vec<evloop::net::TcpStream>,
    per_conn: u64,
) -> io::Result<Duration> {
    let start = Instant::now();
    let tasks: Vec<_> = clients
        .drain(..)
        .map(|mut c| {
            evloop::spawn(async move {
                round_trips(&mut c, per_conn).await?;
                io::Result::Ok(c)
            })
        })
        .collect();
    for task in tasks {
        clients.push(task.await.map_err(io::Error::other)??);
    }
    Ok(start.elapsed())
}

/// [`evloop_throughput`] on tokio.
///
/// # Errors
///
/// As [`evloop_throughput`].
pub async fn tokio_throughput(
    clients: &mut Vec<tokio::net::TcpStream>,
    per_conn: u64,
) -> io::Result<Duration> {
    let start = Instant::now();
    let tasks: Vec<_> = clients
        .drain(..)
        .map(|mut c| {
            tokio::spawn(async move {
                with_tokio::round_trips(&mut c, per_conn).await?;
                io::Result::Ok(c)
            })
        })
        .collect();
    for task in tasks {
        clients.push(task.await.map_err(io::Error::other)??);
    }
    Ok(start.elapsed())
}

/// [`evloop_throughput`] on smol, spawning on `ex`.
///
/// # Errors
///
/// As [`evloop_throughput`].
pub async fn smol_throughput(
    ex: &LocalExecutor<'_>,
    clients: &mut Vec<async_net::TcpStream>,
    per_conn: u64,
) -> io::Result<Duration> {
    let start = Instant::now();
    let tasks: Vec<_> = clients
        .drain(..)
        .map(|mut c| {
            ex.spawn(async move {
                round_trips(&mut c, per_conn).await?;
                io::Result::Ok(c)
            })
        })
        .collect();
    for task in tasks {
        clients.push(task.await?);
    }
    Ok(start.elapsed())
}
