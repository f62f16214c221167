//! Round-trip time of a 64-byte message through a loopback TCP echo server on the same runtime.

use std::hint::black_box;
use std::time::{Duration, Instant};

use async_executor::LocalExecutor;
use criterion::{criterion_group, criterion_main, Criterion};
use futures_lite::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Bytes sent and echoed back per round trip.
const MSG_LEN: usize = 64;

/// Echoes everything it reads until the peer closes the connection.
async fn echo<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S) {
    let mut buf = [0; MSG_LEN];
    loop {
        let n = stream.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        stream.write_all(&buf[..n]).await.unwrap();
    }
}

/// Sends `iters` messages, reading each one back before the next; returns the time it took.
async fn round_trips<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S, iters: u64) -> Duration {
    let msg = [7; MSG_LEN];
    let mut reply = [0; MSG_LEN];
    let start = Instant::now();
    for _ in 0..iters {
        stream.write_all(black_box(&msg)).await.unwrap();
        stream.read_exact(&mut reply).await.unwrap();
        black_box(&reply);
    }
    start.elapsed()
}

/// The tokio counterparts of [`echo`] and [`round_trips`].
mod with_tokio {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    pub async fn echo(mut stream: TcpStream) {
        let mut buf = [0; MSG_LEN];
        loop {
            let n = stream.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            stream.write_all(&buf[..n]).await.unwrap();
        }
    }

    pub async fn round_trips(stream: &mut TcpStream, iters: u64) -> Duration {
        let msg = [7; MSG_LEN];
        let mut reply = [0; MSG_LEN];
        let start = Instant::now();
        for _ in 0..iters {
            stream.write_all(black_box(&msg)).await.unwrap();
            stream.read_exact(&mut reply).await.unwrap();
            black_box(&reply);
        }
        start.elapsed()
    }
}

fn tcp_echo(c: &mut Criterion) {
    let mut group = c.benchmark_group("tcp_echo");

    let rt = evloop::Builder::new().build().unwrap();
    let mut client = rt.block_on(async {
        let listener = evloop::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(evloop::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            stream.set_nodelay(true).unwrap();
            echo(stream).await;
        }));
        let client = evloop::net::TcpStream::connect(addr).await.unwrap();
        client.set_nodelay(true).unwrap();
        client
    });
    group.bench_function("evloop", |b| {
        b.iter_custom(|iters| rt.block_on(round_trips(&mut client, iters)))
    });

    // Plain `spawn` on the current-thread runtime: it measured at least as fast as a `LocalSet`.
    let rt = evloop_bench::tokio_current_thread();
    let mut client = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            stream.set_nodelay(true).unwrap();
            with_tokio::echo(stream).await;
        });
        let client = tokio::net::TcpStream::connect(addr).await.unwrap();
        client.set_nodelay(true).unwrap();
        client
    });
    group.bench_function("tokio", |b| {
        b.iter_custom(|iters| rt.block_on(with_tokio::round_trips(&mut client, iters)))
    });

    // `async_io::block_on` is `smol::block_on`: it drives the async-io reactor on this thread.
    let ex = LocalExecutor::new();
    let mut client = async_io::block_on(ex.run(async {
        let listener = async_net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        ex.spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            stream.set_nodelay(true).unwrap();
            echo(stream).await;
        })
        .detach();
        let client = async_net::TcpStream::connect(addr).await.unwrap();
        client.set_nodelay(true).unwrap();
        client
    }));
    group.bench_function("smol", |b| {
        b.iter_custom(|iters| async_io::block_on(ex.run(round_trips(&mut client, iters))))
    });

    group.finish();
}

criterion_group!(benches, tcp_echo);
criterion_main!(benches);
