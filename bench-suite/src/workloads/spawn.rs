//! Spawning an empty task and awaiting its completion, in batches.

use std::hint::black_box;
use std::time::{Duration, Instant};

use async_executor::LocalExecutor;

/// Tasks spawned before their handles are awaited.
pub const BATCH: u64 = 1000;

/// Sizes of the batches that spawn `tasks` tasks in all.
pub fn batches(tasks: u64) -> impl Iterator<Item = usize> {
    (0..tasks.div_ceil(BATCH)).map(move |i| BATCH.min(tasks - i * BATCH) as usize)
}

/// Spawns `iters` empty evloop tasks, [`BATCH`] at a time, awaits them all, and returns the
/// time it took. Must run inside an evloop loop.
pub async fn evloop_batches(iters: u64) -> Duration {
    let mut handles = Vec::with_capacity(BATCH as usize);
    let start = Instant::now();
    for n in batches(black_box(iters)) {
        handles.extend((0..n).map(|_| evloop::spawn(async {})));
        for handle in handles.drain(..) {
            handle.await.unwrap();
        }
    }
    start.elapsed()
}

/// The tokio counterpart of [`evloop_batches`]: plain `tokio::spawn` on the current-thread
/// runtime (it measured at least as fast as a `LocalSet`).
pub async fn tokio_batches(iters: u64) -> Duration {
    let mut handles = Vec::with_capacity(BATCH as usize);
    let start = Instant::now();
    for n in batches(black_box(iters)) {
        handles.extend((0..n).map(|_| tokio::spawn(async {})));
        for handle in handles.drain(..) {
            handle.await.unwrap();
        }
    }
    start.elapsed()
}

/// The smol counterpart of [`evloop_batches`], spawning on `ex`; run it inside `ex.run(..)`.
pub async fn smol_batches(ex: &LocalExecutor<'_>, iters: u64) -> Duration {
    let mut tasks = Vec::with_capacity(BATCH as usize);
    let start = Instant::now();
    for n in batches(black_box(iters)) {
        tasks.extend((0..n).map(|_| ex.spawn(async {})));
        for task in tasks.drain(..) {
            task.await;
        }
    }
    start.elapsed()
}
