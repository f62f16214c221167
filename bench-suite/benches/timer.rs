//! Timers: the cost of arming and cancelling one, the cost of firing one, how long a 1 ms sleep takes, and the CPU per timer when deadlines are spread over 1–1,000 µs.

use std::future::Future;
use std::hint::black_box;
use std::time::{Duration, Instant};

use async_executor::LocalExecutor;
use async_io::Timer;
use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, SamplingMode};
use evloop_bench::workloads::timer::{self, arm_cancel};

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
    // One poll runs all `iters` operations (millions of timers armed and cancelled): long on
    // purpose, so no slow-poll or stall report (tokio and smol have no such monitor).
    let rt = evloop_bench::evloop_blocking_on_purpose().build().unwrap();
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

    // Every runtime spawns its tasks eagerly (the spawn call runs before the first await), so
    // all three fire the same timers in the same shape.
    let rt = evloop::Builder::new().build().unwrap();
    group.bench_function("evloop", |b| {
        b.iter_custom(|iters| rt.block_on(timer::evloop_fire(iters)))
    });

    let rt = evloop_bench::tokio_current_thread();
    group.bench_function("tokio", |b| {
        b.iter_custom(|iters| rt.block_on(timer::tokio_fire(iters)))
    });

    let ex = LocalExecutor::new();
    group.bench_function("smol", |b| {
        b.iter_custom(|iters| async_io::block_on(ex.run(timer::smol_fire(&ex, iters))))
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

/// CPU time (of the whole process, not wall time) per timer when 1,000 tasks sleep 1 to 1,000 µs
/// each: tokio rounds deadlines to its 1 ms wheel and fires many per wake-up, evloop and smol
/// fire each at its own deadline (evloop also with a 1 ms `timer_slack`, which coalesces them).
fn timer_spread_cpu(c: &mut Criterion) {
    let mut group = c.benchmark_group("timer_spread_cpu");
    group.sample_size(20);

    let rt = evloop::Builder::new().build().unwrap();
    group.bench_function("evloop", |b| {
        b.iter_custom(|iters| rt.block_on(timer::evloop_spread(iters)).cpu)
    });

    let rt = evloop::Builder::new()
        .timer_slack(Duration::from_millis(1))
        .build()
        .unwrap();
    group.bench_function("evloop_slack_1ms", |b| {
        b.iter_custom(|iters| rt.block_on(timer::evloop_spread(iters)).cpu)
    });

    let rt = evloop_bench::tokio_current_thread();
    group.bench_function("tokio", |b| {
        b.iter_custom(|iters| rt.block_on(timer::tokio_spread(iters)).cpu)
    });

    let ex = LocalExecutor::new();
    group.bench_function("smol", |b| {
        b.iter_custom(|iters| async_io::block_on(ex.run(timer::smol_spread(&ex, iters))).cpu)
    });
    group.finish();
}

criterion_group!(
    benches,
    timer_arm_cancel,
    timer_fire,
    sleep_1ms_latency,
    timer_spread_cpu
);
criterion_main!(benches);
