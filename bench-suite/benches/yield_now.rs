//! Cost of one `yield_now().await` in a spawned task that yields in a loop, with no socket open and with 1,000 idle connections registered.

use async_executor::LocalExecutor;
use criterion::{criterion_group, criterion_main, Criterion};
use evloop_bench::workloads::yielding;
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

/// Idle connections registered next to the yielding task in `yield_now_with_sockets`.
const IDLE: usize = 1_000;

/// `yield_now` once a listener and 1,000 idle connections are registered: a server's situation,
/// where the reactor has sockets to poll between task polls.
fn yield_now_with_sockets(c: &mut Criterion) {
    let mut group = c.benchmark_group("yield_now_with_1000_idle_connections");

    let rt = evloop::Builder::new().build().unwrap();
    let sockets = rt.block_on(yielding::evloop_idle_sockets(IDLE)).unwrap();
    group.bench_function("evloop", |b| {
        b.iter_custom(|iters| {
            rt.block_on(rt.spawn(yield_loop(iters, evloop::yield_now)))
                .unwrap()
        })
    });
    drop(sockets);

    let rt = evloop_bench::tokio_current_thread();
    let sockets = rt.block_on(yielding::tokio_idle_sockets(IDLE)).unwrap();
    group.bench_function("tokio", |b| {
        b.iter_custom(|iters| {
            rt.block_on(rt.spawn(yield_loop(iters, tokio::task::yield_now)))
                .unwrap()
        })
    });
    rt.block_on(async move { drop(sockets) });

    let ex = LocalExecutor::new();
    let sockets = async_io::block_on(yielding::smol_idle_sockets(IDLE)).unwrap();
    group.bench_function("smol", |b| {
        b.iter_custom(|iters| {
            async_io::block_on(ex.run(ex.spawn(yield_loop(iters, future::yield_now))))
        })
    });
    drop(sockets);

    group.finish();
}

criterion_group!(benches, yield_now, yield_now_with_sockets);
criterion_main!(benches);
