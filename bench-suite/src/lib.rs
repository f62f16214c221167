//! Benchmarks and reports for evloop: workloads shared by the criterion benches.

use std::future::Future;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Tasks spawned before their handles are awaited, in [`evloop_spawn_batches`].
pub const BATCH: u64 = 1000;

/// Sizes of the batches that spawn `tasks` tasks in all.
pub fn batches(tasks: u64) -> impl Iterator<Item = usize> {
    (0..tasks.div_ceil(BATCH)).map(move |i| BATCH.min(tasks - i * BATCH) as usize)
}

/// Spawns `iters` empty evloop tasks, `BATCH` at a time, awaits them all, and returns the time
/// it took. Must run inside an evloop loop.
pub async fn evloop_spawn_batches(iters: u64) -> Duration {
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

/// Yields `iters` times with `yield_now` and returns the time it took.
pub async fn yield_loop<F: Future<Output = ()>>(iters: u64, yield_now: fn() -> F) -> Duration {
    let start = Instant::now();
    for _ in 0..black_box(iters) {
        yield_now().await;
    }
    start.elapsed()
}

/// tokio's single-threaded runtime (`current_thread`, all drivers on), the peer evloop is
/// measured against.
pub fn tokio_current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("create a tokio runtime")
}
