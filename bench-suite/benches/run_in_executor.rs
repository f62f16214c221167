//! Round trip of a blocking job sent to a thread pool and awaited by a task: `run_in_executor(None, ..)`, tokio's `spawn_blocking`, smol's `unblock`; with a trivial job (`|| 1`) and with 10 µs and 1 ms of CPU work.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use evloop_bench::workloads::cpu::burn_cpu;
use evloop_bench::workloads::offload;
use evloop_bridge::ThreadPool;

fn run_in_executor(c: &mut Criterion) {
    let mut group = c.benchmark_group("run_in_executor");

    // The loop's default pool, as `run_in_executor(None, ..)` uses it: one runtime for the
    // whole run, so its worker starts during warm-up, never in a measurement.
    let rt = evloop::Builder::new().build().unwrap();
    group.bench_function("evloop", |b| {
        b.iter_custom(|iters| rt.block_on(offload::evloop_round_trips(iters, || black_box(1))))
    });

    // A pool of one's own, through the bridge directly.
    let pool = ThreadPool::new();
    group.bench_function("evloop_own_pool", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..black_box(iters) {
                    black_box(pool.submit(|| black_box(1)).await.unwrap());
                }
                start.elapsed()
            })
        })
    });

    // The runtime's own blocking pool, as `spawn_blocking` uses it.
    let rt = evloop_bench::tokio_current_thread();
    group.bench_function("tokio", |b| {
        b.iter_custom(|iters| rt.block_on(offload::tokio_round_trips(iters, || black_box(1))))
    });

    // `async_io::block_on` is `smol::block_on`; `blocking` is smol's global thread pool.
    group.bench_function("smol", |b| {
        b.iter_custom(|iters| async_io::block_on(offload::smol_round_trips(iters, || black_box(1))))
    });

    group.finish();
}

/// The same round trip with a job of real CPU work (`burn_cpu`: 10 µs or 1 ms of the worker
/// thread's CPU time), on each runtime's pool.
fn run_in_executor_work(c: &mut Criterion) {
    for (name, work) in [
        ("run_in_executor_10us_job", Duration::from_micros(10)),
        ("run_in_executor_1ms_job", Duration::from_millis(1)),
    ] {
        let mut group = c.benchmark_group(name);
        if work >= Duration::from_millis(1) {
            group.sample_size(10);
        }
        let job = move || burn_cpu(black_box(work)).as_nanos() as u64;

        let rt = evloop::Builder::new().build().unwrap();
        group.bench_function("evloop", |b| {
            b.iter_custom(|iters| rt.block_on(offload::evloop_round_trips(iters, job)))
        });

        let rt = evloop_bench::tokio_current_thread();
        group.bench_function("tokio", |b| {
            b.iter_custom(|iters| rt.block_on(offload::tokio_round_trips(iters, job)))
        });

        group.bench_function("smol", |b| {
            b.iter_custom(|iters| async_io::block_on(offload::smol_round_trips(iters, job)))
        });
        group.finish();
    }
}

criterion_group!(benches, run_in_executor, run_in_executor_work);
criterion_main!(benches);
