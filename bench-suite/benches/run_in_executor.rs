//! Round trip of a trivial blocking job (`|| 1`) sent to a thread pool and awaited by a task: `run_in_executor(None, ..)`, tokio's `spawn_blocking`, smol's `unblock`.

use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion};
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

criterion_group!(benches, run_in_executor);
criterion_main!(benches);
