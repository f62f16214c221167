//! Cost of one `yield_now().await` in a spawned task that yields in a loop.

use async_executor::LocalExecutor;
use criterion::{criterion_group, criterion_main, Criterion};
use evloop_bench::yield_loop;
use futures_lite::future;

fn yield_now(c: &mut Criterion) {
    let mut group = c.benchmark_group("yield_now");

    let rt = evloop::Builder::new().build().unwrap();
    group.bench_function("evloop", |b| {
        b.iter_custom(|iters| {
            rt.block_on(rt.spawn(yield_loop(iters, evloop::yield_now)))
                .unwrap()
        })
    });

    // Plain `spawn` on the current-thread runtime: it measured at least as fast as a `LocalSet`.
    let rt = evloop_bench::tokio_current_thread();
    group.bench_function("tokio", |b| {
        b.iter_custom(|iters| {
            rt.block_on(rt.spawn(yield_loop(iters, tokio::task::yield_now)))
                .unwrap()
        })
    });

    // `async_io::block_on` is `smol::block_on`: it drives the async-io reactor on this thread.
    let ex = LocalExecutor::new();
    group.bench_function("smol", |b| {
        b.iter_custom(|iters| {
            async_io::block_on(ex.run(ex.spawn(yield_loop(iters, future::yield_now))))
        })
    });

    group.finish();
}

criterion_group!(benches, yield_now);
criterion_main!(benches);
