//! Timers: the cost of arming and cancelling one, the cost of firing one, and how long a 1 ms sleep takes.

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::time::{Duration, Instant};

use async_executor::LocalExecutor;
use async_io::Timer;
use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, SamplingMode};
use futures_lite::future;

/// Runs `make(iters)` in a spawned task on each runtime; the future returns its own timing.
fn bench_each<FE, FT, FS>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    evloop_fn: fn(u64) -> FE,
    tokio_fn: fn(u64) -> FT,
    smol_fn: fn(u64) -> FS,
) where
    FE: Future<Output = Duration> + 'static,
    FT: Future<Output = Duration> + Send + 'static,
    FS: Future<Output = Duration> + 'static,
{
    let rt = evloop::Builder::new().build().unwrap();
    group.bench_function("evloop", |b| {
        b.iter_custom(|iters| rt.block_on(rt.spawn(evloop_fn(iters))).unwrap())
    });

    // Plain `spawn` on the current-thread runtime: it measured at least as fast as a `LocalSet`.
    let rt = evloop_bench::tokio_current_thread();
    group.bench_function("tokio", |b| {
        b.iter_custom(|iters| rt.block_on(rt.spawn(tokio_fn(iters))).unwrap())
    });

    // `async_io::block_on` is `smol::block_on`: it drives the async-io reactor on this thread.
    let ex = LocalExecutor::new();
    group.bench_function("smol", |b| {
        b.iter_custom(|iters| async_io::block_on(ex.run(ex.spawn(smol_fn(iters)))))
    });
}

/// Arms a one-second timer (polls it once) and drops it, `iters` times.
async fn arm_cancel<F: Future>(iters: u64, sleep: fn(Duration) -> F) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        let mut timer = pin!(sleep(black_box(Duration::from_secs(1))));
        assert!(future::poll_once(timer.as_mut()).await.is_none());
    }
    start.elapsed()
}

/// Timers armed per round of `timer_fire`, all with the same deadline.
const ROUND: u64 = 5_000;

/// A deadline far enough ahead that `n` tasks can be spawned and polled (arming their timers)
/// before it, on any of the runtimes.
fn round_deadline(n: u64) -> Instant {
    Instant::now() + Duration::from_millis(2) + Duration::from_nanos(600 * n)
}

/// Fires `iters` timers, `ROUND` at a time: each round spawns one task per timer, all sleeping
/// until one deadline, and awaits them. The time counted runs from the deadline to the last
/// task's completion: firing the timers, waking and finishing the tasks, and the kernel's
/// wake-up latency once per round (about 10 ns per timer at this round size, the same for every
/// runtime). Spawning and arming are not counted.
macro_rules! fire_rounds {
    ($iters:expr, |$deadline:ident| $spawn_sleep:expr) => {{
        let mut counted = Duration::ZERO;
        let mut left = $iters;
        while left > 0 {
            let n = left.min(ROUND);
            left -= n;
            let $deadline = round_deadline(n);
            let tasks: Vec<_> = (0..n).map(|_| $spawn_sleep).collect();
            for task in tasks {
                task.await;
            }
            counted += $deadline.elapsed();
        }
        counted
    }};
}

fn timer_arm_cancel(c: &mut Criterion) {
    let mut group = c.benchmark_group("timer_arm_cancel");
    bench_each(
        &mut group,
        |iters| arm_cancel(iters, evloop::sleep),
        |iters| arm_cancel(iters, tokio::time::sleep),
        |iters| arm_cancel(iters, Timer::after),
    );
    group.finish();
}

fn timer_fire(c: &mut Criterion) {
    let mut group = c.benchmark_group("timer_fire");
    group.sampling_mode(SamplingMode::Linear);
    group.sample_size(10);

    let rt = evloop::Builder::new().build().unwrap();
    group.bench_function("evloop", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                fire_rounds!(iters, |deadline| {
                    let task = evloop::spawn(evloop::sleep_until(deadline));
                    async move { task.await.unwrap() }
                })
            })
        })
    });

    let rt = evloop_bench::tokio_current_thread();
    group.bench_function("tokio", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                fire_rounds!(iters, |deadline| async move {
                    let deadline = tokio::time::Instant::from_std(deadline);
                    tokio::spawn(tokio::time::sleep_until(deadline))
                        .await
                        .unwrap()
                })
            })
        })
    });

    let ex = LocalExecutor::new();
    group.bench_function("smol", |b| {
        b.iter_custom(|iters| {
            async_io::block_on(ex.run(async {
                fire_rounds!(iters, |deadline| ex.spawn(async move {
                    Timer::at(deadline).await;
                }))
            }))
        })
    });
    group.finish();
}

/// Sleeps `iters` times for 1 ms and returns the time it took.
async fn sleep_loop<F: Future>(iters: u64, sleep: fn(Duration) -> F) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        sleep(black_box(Duration::from_millis(1))).await;
    }
    start.elapsed()
}

fn sleep_1ms_latency(c: &mut Criterion) {
    let mut group = c.benchmark_group("sleep_1ms_latency");
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(20);
    bench_each(
        &mut group,
        |iters| sleep_loop(iters, evloop::sleep),
        |iters| sleep_loop(iters, tokio::time::sleep),
        |iters| sleep_loop(iters, Timer::after),
    );
    group.finish();
}

criterion_group!(benches, timer_arm_cancel, timer_fire, sleep_1ms_latency);
criterion_main!(benches);
