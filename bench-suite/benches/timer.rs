//! Cost of creating and firing a zero-duration timer, and the wall time of a 1 ms sleep.

use std::future::Future;
use std::hint::black_box;
use std::time::{Duration, Instant};

use async_executor::LocalExecutor;
use async_io::Timer;
use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, SamplingMode};

/// Sleeps `iters` times for `duration` and returns the time it took.
async fn sleep_loop<F: Future>(
    iters: u64,
    duration: Duration,
    sleep: fn(Duration) -> F,
) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        sleep(black_box(duration)).await;
    }
    start.elapsed()
}

/// Benchmarks `sleep(duration)` in a spawned task on each runtime.
fn bench_sleep(group: &mut BenchmarkGroup<'_, WallTime>, duration: Duration) {
    let rt = evloop::Builder::new().build().unwrap();
    group.bench_function("evloop", |b| {
        b.iter_custom(|iters| {
            rt.block_on(rt.spawn(sleep_loop(iters, duration, evloop::sleep)))
                .unwrap()
        })
    });

    // Plain `spawn` on the current-thread runtime: it measured at least as fast as a `LocalSet`.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    group.bench_function("tokio", |b| {
        b.iter_custom(|iters| {
            rt.block_on(rt.spawn(sleep_loop(iters, duration, tokio::time::sleep)))
                .unwrap()
        })
    });

    // `async_io::block_on` is `smol::block_on`: it drives the async-io reactor on this thread.
    let ex = LocalExecutor::new();
    group.bench_function("smol", |b| {
        b.iter_custom(|iters| {
            async_io::block_on(ex.run(ex.spawn(sleep_loop(iters, duration, Timer::after))))
        })
    });
}

fn timer_fire(c: &mut Criterion) {
    let mut group = c.benchmark_group("timer_fire");
    bench_sleep(&mut group, Duration::ZERO);
    group.finish();
}

fn sleep_1ms_latency(c: &mut Criterion) {
    let mut group = c.benchmark_group("sleep_1ms_latency");
    group.sampling_mode(SamplingMode::Flat);
    bench_sleep(&mut group, Duration::from_millis(1));
    group.finish();
}

criterion_group!(timer_fire_group, timer_fire);
criterion_group! {
    name = latency_group;
    config = Criterion::default().sample_size(20);
    targets = sleep_1ms_latency
}
criterion_main!(timer_fire_group, latency_group);
