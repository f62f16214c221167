//! A round trip to another loop: from a task on one single-threaded loop, run a task on a
//! second loop (on its own thread) and await its output, `ops` times in a row. evloop sends a
//! closure through the other loop's `LoopHandle` (`evloop::PerCore`, 2 loops); tokio spawns on
//! the other `current_thread` runtime's `Handle` and awaits the `JoinHandle`; smol spawns on an
//! `async-executor` run by the other thread and awaits the `Task`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// evloop: loop 0 runs `ops` empty tasks on loop 1 through its handle.
pub fn on_evloop(ops: u64) -> Result<Duration, String> {
    let results = evloop::PerCore::new()
        .loops(2)
        .signals(false)
        .run(move |core| async move {
            if core.index() != 0 {
                // Loop 1 serves messages until loop 0's setup returns and stops the group.
                std::future::pending::<()>().await;
                return Ok(Duration::ZERO);
            }
            let other = core.handle(1);
            let start = Instant::now();
            for i in 0..ops {
                black_box(other.run(move || async move { i }).await).map_err(|e| e.to_string())?;
            }
            Ok(start.elapsed())
        });
    results
        .into_iter()
        .next()
        .ok_or("the group ran no loop")?
        .outcome
        .map_err(|e| e.to_string())?
}

/// tokio: a `current_thread` runtime spawns `ops` empty tasks on another one, on another thread.
pub fn on_tokio(ops: u64) -> Result<Duration, String> {
    let build = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())
    };
    let (other, here) = (build()?, build()?);
    let handle = other.handle().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let _ = other.block_on(stopped);
    });
    let took = here.block_on(async {
        let start = Instant::now();
        for i in 0..ops {
            black_box(
                handle
                    .spawn(async move { i })
                    .await
                    .map_err(|e| e.to_string())?,
            );
        }
        Ok::<_, String>(start.elapsed())
    });
    let _ = stop.send(());
    thread.join().map_err(|_| "tokio's other thread panicked")?;
    took
}

/// smol: a thread spawns `ops` empty tasks on an executor run by another thread.
pub fn on_smol(ops: u64) -> Result<Duration, String> {
    let ex = Arc::new(async_executor::Executor::new());
    let (stop, stopped) = async_channel::bounded::<()>(1);
    let runner = ex.clone();
    let thread = std::thread::spawn(move || {
        let _ = async_io::block_on(runner.run(stopped.recv()));
    });
    let took = async_io::block_on(async {
        let start = Instant::now();
        for i in 0..ops {
            black_box(ex.spawn(async move { i }).await);
        }
        start.elapsed()
    });
    drop(stop);
    thread.join().map_err(|_| "smol's other thread panicked")?;
    Ok(took)
}
