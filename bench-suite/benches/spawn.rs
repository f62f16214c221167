//! Cost of spawning an empty task and awaiting its completion, spawned in batches of 1000.

use std::hint::black_box;
use std::time::Instant;

use async_executor::LocalExecutor;
use criterion::{criterion_group, criterion_main, Criterion};

/// Tasks spawned before their handles are awaited. One benchmark iteration is one task.
const BATCH: u64 = 1000;

/// Sizes of the batches that spawn `tasks` tasks in all.
fn batches(tasks: u64) -> impl Iterator<Item = usize> {
    (0..tasks.div_ceil(BATCH)).map(move |i| BATCH.min(tasks - i * BATCH) as usize)
}

fn spawn_complete(c: &mut Criterion) {
    let mut group = c.benchmark_group("spawn_complete");

    let rt = evloop::Builder::new().build().unwrap();
    group.bench_function("evloop", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut handles = Vec::with_capacity(BATCH as usize);
                let start = Instant::now();
                for n in batches(black_box(iters)) {
                    handles.extend((0..n).map(|_| evloop::spawn(async {})));
                    for handle in handles.drain(..) {
                        handle.await.unwrap();
                    }
                }
                start.elapsed()
            })
        })
    });

    // Plain `spawn` on the current-thread runtime: it measured at least as fast as a `LocalSet`.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
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
