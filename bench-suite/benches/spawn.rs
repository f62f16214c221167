//! Cost of spawning an empty task and awaiting its completion, spawned in batches of 1000.

use std::hint::black_box;
use std::time::Instant;

use async_executor::LocalExecutor;
use criterion::{criterion_group, criterion_main, Criterion};
use evloop_bench::{batches, evloop_spawn_batches, BATCH};

fn spawn_complete(c: &mut Criterion) {
    let mut group = c.benchmark_group("spawn_complete");

    let rt = evloop::Builder::new().build().unwrap();
    group.bench_function("evloop", |b| {
        b.iter_custom(|iters| rt.block_on(evloop_spawn_batches(iters)))
    });

    // Plain `spawn` on the current-thread runtime: it measured at least as fast as a `LocalSet`.
    let rt = evloop_bench::tokio_current_thread();
    group.bench_function("tokio", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut handles = Vec::with_capacity(BATCH as usize);
                let start = Instant::now();
                for n in batches(black_box(iters)) {
                    handles.extend((0..n).map(|_| tokio::spawn(async {})));
                    for handle in handles.drain(..) {
                        handle.await.unwrap();
                    }
                }
                start.elapsed()
            })
        })
    });

    // `async_io::block_on` is `smol::block_on`: it drives the async-io reactor on this thread.
    let ex = LocalExecutor::new();
    group.bench_function("smol", |b| {
        b.iter_custom(|iters| {
            async_io::block_on(ex.run(async {
                let mut tasks = Vec::with_capacity(BATCH as usize);
                let start = Instant::now();
                for n in batches(black_box(iters)) {
                    tasks.extend((0..n).map(|_| ex.spawn(async {})));
                    for task in tasks.drain(..) {
                        task.await;
                    }
                }
                start.elapsed()
            }))
        })
    });

    group.finish();
}

criterion_group!(benches, spawn_complete);
criterion_main!(benches);
