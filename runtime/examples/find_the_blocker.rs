//! A small server where one rarely-hit handler blocks the loop, and the report that names it.
//!
//! `cargo run --release --example find_the_blocker` serves a line protocol on loopback and
//! drives it with 20 concurrent clients. Every request takes microseconds, except `REPORT`,
//! hit by 1 request in 50, whose handler calls a blocking function (a synchronous "database"
//! call): the whole loop freezes for 300 ms each time. Nothing crashes; every client just sees
//! mysteriously slow answers. evloop's monitor thread names the handler and where it was
//! spawned, while it happens.

use std::time::{Duration, Instant};

use evloop::net::{TcpListener, TcpStream};
use futures_lite::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// Requests each client sends.
const REQUESTS: usize = 50;
/// Concurrent clients.
const CLIENTS: usize = 20;

fn main() -> std::io::Result<()> {
    let rt = evloop::Builder::new()
        .name("find-the-blocker")
        .stall_watchdog(true)
        .build()?;
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        evloop::spawn(serve(listener));

        let clients: Vec<_> = (0..CLIENTS)
            .map(|c| evloop::spawn(client(addr, c)))
            .collect();
        let mut latencies = Vec::new();
        for client in clients {
            latencies.extend(client.await.expect("client task")?);
        }
        latencies.sort();
        let pct = |p: usize| latencies[(latencies.len() * p / 100).min(latencies.len() - 1)];
        println!(
            "{} requests: p50 {:.1?}, p90 {:.1?}, p99 {:.1?}",
            latencies.len(),
            pct(50),
            pct(90),
            pct(99)
        );
        if let Some(longest) = evloop::stats().longest_poll {
            println!(
                "longest poll: {:.0?} in task {} {:?} spawned at {}",
                longest.duration,
                longest.task,
                longest.name.unwrap_or_default(),
                longest.spawned_at
            );
        }
        std::io::Result::Ok(())
    })
}

/// Accepts connections; each one is served by its own task.
async fn serve(listener: TcpListener) {
    while let Ok((stream, _)) = listener.accept().await {
        evloop::spawn(connection(stream));
    }
}

/// Reads one request per line and answers it; each request is handled by a named task.
async fn connection(stream: TcpStream) -> std::io::Result<()> {
    let mut lines = BufReader::new(&stream).lines();
    let mut writer = &stream;
    while let Some(line) = futures_lite::StreamExt::next(&mut lines).await {
        let request = line?;
        let handler = evloop::task::Builder::new()
            .name(format!("handler {request}"))
            .spawn(handle(request));
        let reply = handler.await.expect("handler task");
        writer.write_all(reply.as_bytes()).await?;
    }
    Ok(())
}

/// The application: fast handlers, and one that blocks.
async fn handle(request: String) -> String {
    match request.as_str() {
        "REPORT" => monthly_report(),
        _ => format!("ok {request}\n"),
    }
}

/// A synchronous call hidden in a rarely used code path: it blocks the thread (and so the
/// whole loop) for 300 ms. The fix: `evloop::to_thread(monthly_report).await` (or
/// `run_in_executor`), which runs it on a thread pool while the loop serves everyone else.
fn monthly_report() -> String {
    std::thread::sleep(Duration::from_millis(300));
    "report ready\n".to_owned()
}

/// Sends `REQUESTS` requests, one in 50 of them `REPORT`, and returns each one's latency.
async fn client(addr: std::net::SocketAddr, id: usize) -> std::io::Result<Vec<Duration>> {
    let stream = TcpStream::connect(addr).await?;
    let mut lines = BufReader::new(&stream).lines();
    let mut writer = &stream;
    let mut latencies = Vec::with_capacity(REQUESTS);
    for i in 0..REQUESTS {
        let request = if (id * REQUESTS + i) % 50 == 7 && id % 10 == 0 {
            "REPORT".to_owned()
        } else {
            format!("GET /item/{i}")
        };
        let start = Instant::now();
        writer.write_all(format!("{request}\n").as_bytes()).await?;
        futures_lite::StreamExt::next(&mut lines)
            .await
            .transpose()?;
        latencies.push(start.elapsed());
        evloop::sleep(Duration::from_millis(2)).await;
    }
    Ok(latencies)
}
