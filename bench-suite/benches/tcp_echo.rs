//! Round-trip time of a 64-byte message through a loopback TCP echo server on the same runtime.

use async_executor::LocalExecutor;
use criterion::{criterion_group, criterion_main, Criterion};
use evloop_bench::workloads::echo;

fn tcp_echo(c: &mut Criterion) {
    let mut group = c.benchmark_group("tcp_echo");

    let rt = evloop::Builder::new().build().unwrap();
    let mut client = rt.block_on(echo::evloop_clients(1)).unwrap();
    group.bench_function("evloop", |b| {
        b.iter_custom(|iters| {
            rt.block_on(echo::round_trips(&mut client[0], iters))
                .unwrap()
        })
    });

    // Plain `spawn` on the current-thread runtime: it measured at least as fast as a `LocalSet`.
    let rt = evloop_bench::tokio_current_thread();
    let mut client = rt.block_on(echo::tokio_clients(1)).unwrap();
    group.bench_function("tokio", |b| {
        b.iter_custom(|iters| {
            rt.block_on(echo::with_tokio::round_trips(&mut client[0], iters))
                .unwrap()
        })
    });

    // `async_io::block_on` is `smol::block_on`: it drives the async-io reactor on this thread.
    let ex = LocalExecutor::new();
    let mut client = async_io::block_on(ex.run(echo::smol_clients(&ex, 1))).unwrap();
    group.bench_function("smol", |b| {
        b.iter_custom(|iters| {
            async_io::block_on(ex.run(echo::round_trips(&mut client[0], iters))).unwrap()
        })
    });

    group.finish();
}

criterion_group!(benches, tcp_echo);
criterion_main!(benches);
