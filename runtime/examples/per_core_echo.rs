//! A TCP echo server on one loop per core: `evloop::PerCore` with a `GroupListener` (an
//! `SO_REUSEPORT` group on Linux, one shared socket elsewhere), each loop serving the
//! connections it accepts. Ctrl-C (or SIGTERM) stops it: every loop stops accepting, lets its
//! connections finish within the drain timeout, and the server prints what each loop served; a
//! second Ctrl-C exits at once.
//!
//! `cargo run --release -p evloop --example per_core_echo -- [ADDR] [LOOPS]`
//! (default `127.0.0.1:7979`, one loop per CPU), then for example `nc 127.0.0.1 7979`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use evloop::{GroupListener, ListenMode, PerCore};
use futures_lite::{AsyncReadExt, AsyncWriteExt};

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args
        .next()
        .unwrap_or_else(|| "127.0.0.1:7979".to_owned())
        .parse()
        .map_err(std::io::Error::other)?;
    let mut group = PerCore::new().drain_timeout(Duration::from_secs(5));
    if let Some(loops) = args.next() {
        group = group.loops(loops.parse().map_err(std::io::Error::other)?);
    }
    let listener = GroupListener::bind(addr, ListenMode::Auto)?;
    // Connections accepted per loop, read after the loops end (a setup stopped by a signal
    // returns nothing).
    let accepted: Arc<Vec<AtomicU64>> = Arc::new((0..256).map(|_| AtomicU64::new(0)).collect());
    let counts = accepted.clone();
    println!(
        "echo on {} ({:?} mode); Ctrl-C stops it",
        listener.local_addr(),
        listener.mode()
    );
    let results = group.run(move |core| {
        let (listener, counts) = (listener.clone(), counts.clone());
        async move {
            // The setup's output: the error that ended this loop's accepting.
            let l = match listener.for_loop(&core) {
                Ok(l) => l,
                Err(e) => return e,
            };
            loop {
                let mut stream = match l.accept().await {
                    Ok((stream, _)) => stream,
                    Err(e) => return e,
                };
                if let Some(count) = counts.get(core.index()) {
                    count.fetch_add(1, Ordering::Relaxed);
                }
                drop(evloop::spawn(async move {
                    let mut buf = [0u8; 4096];
                    while let Ok(n) = stream.read(&mut buf).await {
                        if n == 0 || stream.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                }));
            }
        }
    });
    for r in results {
        let served = accepted
            .get(r.core)
            .map_or(0, |c| c.load(Ordering::Relaxed));
        match r.outcome {
            Ok(e) => println!("loop {}: failed after {served} connections: {e}", r.core),
            Err(e) => println!("loop {}: {served} connections; {e}", r.core),
        }
    }
    Ok(())
}
