//! A TCP echo server on one loop per core: `evloop::PerCore` with a `GroupListener` served on
//! every loop (`Auto` mode: an `SO_REUSEPORT` group on Linux, hand-off elsewhere; or the mode
//! given). Ctrl-C (or SIGTERM) stops it: every loop accepts what is already queued, stops
//! accepting, lets its connections finish within the drain timeout, and the server prints
//! what each loop served; a second Ctrl-C exits at once.
//!
//! `cargo run --release -p evloop --example per_core_echo -- [ADDR] [LOOPS] [MODE]`
//! (default `127.0.0.1:7979`, one loop per CPU, `auto`; MODE is `auto`, `reuseport`, `shared`
//! or `handoff`), then for example `nc 127.0.0.1 7979`.

use std::io;
use std::time::Duration;

use evloop::{GroupListener, ListenMode, PerCore};
use futures_lite::{AsyncReadExt, AsyncWriteExt};

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args
        .next()
        .unwrap_or_else(|| "127.0.0.1:7979".to_owned())
        .parse()
        .map_err(io::Error::other)?;
    let mut group = PerCore::new().drain_timeout(Duration::from_secs(5));
    if let Some(loops) = args.next() {
        group = group.loops(loops.parse().map_err(io::Error::other)?);
    }
    let mode = match args.next().as_deref() {
        None | Some("auto") => ListenMode::Auto,
        Some("reuseport") => ListenMode::ReusePort,
        Some("shared") => ListenMode::Shared,
        Some("handoff") => ListenMode::HandOff,
        Some(other) => {
            return Err(io::Error::other(format!(
                "unknown mode {other:?}: auto, reuseport, shared or handoff"
            )))
        }
    };
    let listener = GroupListener::bind(addr, mode)?;
    println!(
        "echo on {} ({:?} mode); Ctrl-C stops it",
        listener.local_addr(),
        listener.mode()
    );
    let results = group.run(move |core| {
        let listener = listener.clone();
        async move {
            // Resolves only if accepting failed: the stop drops the setup first.
            listener
                .serve(&core, |mut conn| async move {
                    let mut buf = [0u8; 4096];
                    while let Ok(n) = conn.read(&mut buf).await {
                        if n == 0 || conn.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                })
                .await
        }
    });
    for r in results {
        let s = &r.loop_stats;
        let ended = match r.outcome {
            Ok(Ok(())) => "its setup returned".to_owned(),
            Ok(Err(e)) => format!("accepting failed: {e}"),
            Err(e) => e.to_string(),
        };
        println!(
            "loop {}: {} connections ({} handed to other loops, {} cut when the loop closed), \
             {:?} of CPU; {ended}",
            r.core,
            s.accepted,
            s.handed_off,
            s.cut_at_close,
            s.busy.unwrap_or_default(),
        );
    }
    Ok(())
}
