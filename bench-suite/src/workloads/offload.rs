//! Round trips to a thread pool: a job sent from a task and awaited, on each runtime's pool.

use std::hint::black_box;
use std::time::{Duration, Instant};

/// Sends `iters` jobs, one at a time, to the loop's default pool (`run_in_executor(None, ..)`)
/// and awaits each; returns the time it took. Must run inside an evloop loop.
pub async fn evloop_round_trips<F>(iters: u64, job: F) -> Duration
where
    F: Fn() -> u64 + Clone + Send + 'static,
{
    let start = Instant::now();
    for _ in 0..black_box(iters) {
        black_box(evloop::run_in_executor(None, job.clone()).await.unwrap());
    }
    start.elapsed()
}

/// [`evloop_round_trips`] through tokio's `spawn_blocking`.
pub async fn tokio_round_trips<F>(iters: u64, job: F) -> Duration
where
    F: Fn() -> u64 + Clone + Send + 'static,
{
    let start = Instant::now();
    for _ in 0..black_box(iters) {
        black_box(tokio::task::spawn_blocking(job.clone()).await.unwrap());
    }
    start.elapsed()
}

/// [`evloop_round_trips`] through smol's `blocking::unblock`.
pub async fn smol_round_trips<F>(iters: u64, job: F) -> Duration
where
    F: Fn() -> u64 + Clone + Send + 'static,
{
    let start = Instant::now();
    for _ in 0..black_box(iters) {
        black_box(blocking::unblock(job.clone()).await);
    }
    start.elapsed()
}
