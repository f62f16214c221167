//! Lab 3, the frozen server: the reference solution (statement: `docs/labs/03-frozen-server.md`).
//!
//! A line server on evloop. Each request is one line, each reply one line:
//!
//! - `ECHO <text>` answers `<text>`;
//! - `UPPER <text>` answers `<text>` in capitals;
//! - `SAVE <name>` saves a snapshot of the connection's counters to the slow disk
//!   (`disk::save_snapshot`) and answers `saved <name>`.
//!
//! Clients say the server is "mysteriously slow" now and then, although every request takes
//! microseconds. Find out why with the loop's slow-poll reports (`lab check 3` prints them),
//! and fix it without changing the protocol. Check with
//! `cargo run --release -p evloop-bench -- lab check 3`.

use std::io;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use evloop::net::{TcpListener, TcpStream};
use futures_lite::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use futures_lite::StreamExt;

use crate::labs::lab03::disk;

/// Accepts connections and serves each one in its own task; snapshots go to `snapshots`.
pub async fn serve(listener: TcpListener, snapshots: PathBuf) {
    let snapshots = Rc::new(snapshots);
    while let Ok((stream, peer)) = listener.accept().await {
        evloop::task::Builder::new()
            .name(format!("connection {peer}"))
            .spawn(connection(stream, snapshots.clone()));
    }
}

/// Reads requests line by line and answers each one.
async fn connection(stream: TcpStream, snapshots: Rc<PathBuf>) -> io::Result<()> {
    let mut requests = BufReader::new(&stream).lines();
    let mut writer = &stream;
    let mut counters = Counters::default();
    while let Some(line) = requests.next().await {
        let reply = handle(&line?, &mut counters, &snapshots).await;
        writer.write_all(reply.as_bytes()).await?;
    }
    Ok(())
}

/// What a connection has done so far.
#[derive(Debug, Default)]
struct Counters {
    /// Requests answered.
    requests: u64,
    /// Bytes of text echoed.
    echoed: u64,
}

/// Answers one request.
async fn handle(request: &str, counters: &mut Counters, snapshots: &Path) -> String {
    counters.requests += 1;
    match request.split_once(' ') {
        Some(("ECHO", text)) => {
            counters.echoed += text.len() as u64;
            format!("{text}\n")
        }
        Some(("UPPER", text)) => format!("{}\n", text.to_uppercase()),
        Some(("SAVE", name)) => save(name, counters, snapshots).await,
        _ => "error: unknown request\n".to_owned(),
    }
}

/// Saves a snapshot of the counters under `name`.
async fn save(name: &str, counters: &Counters, snapshots: &Path) -> String {
    let contents = format!(
        "requests {}\nechoed {}\n",
        counters.requests, counters.echoed
    );
    // `save_snapshot` blocks its thread for as long as the disk takes: on the loop thread, it
    // would freeze every connection (slide 7). A thread of the default pool runs it instead,
    // and this task waits for it without blocking the loop (slide 8, strategy 2).
    let (dir, file) = (snapshots.to_owned(), name.to_owned());
    match evloop::to_thread(move || disk::save_snapshot(&dir, &file, &contents)).await {
        Ok(Ok(())) => format!("saved {name}\n"),
        Ok(Err(e)) => format!("error: {e}\n"),
        Err(e) => format!("error: {e}\n"),
    }
}
