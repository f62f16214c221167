//! Cost of spawning an empty task and awaiting its completion, spawned in batches of 1000.

use async_executor::LocalExecutor;
use criterion::{criterion_group, criterion_main, Criterion};
use evloop_bench::workloads::spawn;

fn spawn_complete(c: &mut Criterion) {
    let mut group = c.benchmark_group("spawn_complete");

    let rt = evloop::Builder::new().build().unwrap();
    group.bench_function("evloop", |b| {
        b.iter_custom(|iters| rt.block_on(spawn::evloop_batches(iters)))
    });

    // Plain `spawn` on the current-thread runtime: it measured at least as fast as a `LocalSet`.
    let rt = evloop_bench::tokio_current_thread();
    group.bench_function("tokio", |b| {
        b.iter_custom(|iters| rt.block_on(spawn::tokio_batches(iters)))
    });

    // `async_io::block_on` is `smol::block_on`: it drives the async-io reactor on this thread.
    let ex = LocalExecutor::new();
    group.bench_function("smol", |b| {
        b.iter_custom(|iters| async_io::block_on(ex.run(spawn::smol_batches(&ex, iters))))
    });

    group.finish();
}

criterion_group!(benches, spawn_complete);
criterion_main!(benches);
