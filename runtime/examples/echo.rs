//! A TCP echo server on one thread.
//!
//! `cargo run --release --example echo` serves on 127.0.0.1:7878 until interrupted
//! (try `nc 127.0.0.1 7878`). With `-- --clients N`, it also opens N concurrent client
//! connections on the same loop, has each exchange messages with the server, prints what the
//! loop did, and exits.

use std::time::{Duration, Instant};

use evloop::net::{TcpListener, TcpStream};
use futures_lite::{AsyncReadExt, AsyncWriteExt};

/// Messages each client sends and reads back.
const ROUNDS: usize = 20;

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let clients = match args.as_slice() {
        [] => None,
        [flag, n] if flag == "--clients" => Some(n.parse::<usize>().map_err(|e| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("--clients: {e}"))
        })?),
        _ => {
            eprintln!("usage: echo [--clients N]");
            std::process::exit(2);
        }
    };
    evloop::run(async move {
        let addr = if clients.is_some() {
            "127.0.0.1:0"
        } else {
            "127.0.0.1:7878"
        };
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        evloop::spawn(serve(listener));
        match clients {
            None => {
                println!(
                    "echo server listening on {addr}; try `nc {addr}` (Ctrl-C to stop)",
                    addr = addr.to_string().replace(':', " ")
                );
                std::future::pending::<std::io::Result<()>>().await
            }
            Some(n) => run_clients(addr, n).await,
        }
    })
}

/// Accepts connections for ever, one task per connection.
async fn serve(listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                evloop::spawn(async move {
                    let _ = stream.set_nodelay(true);
                    let _ = futures_lite::io::copy(&stream, &mut &stream).await;
                });
            }
            // Out of file descriptors, for instance: report it and keep serving.
            Err(e) => {
                eprintln!("accept failed: {e}");
                evloop::sleep(Duration::from_millis(10)).await;
            }
        }
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
