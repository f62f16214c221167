//! TCP echo on loopback, server and clients on the same runtime thread: the round trip of a 64-byte message on one connection, and the time per message with 64 connections busy at once; a hand-written mio loop is the floor.

use std::time::Duration;

use async_executor::LocalExecutor;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use evloop_bench::workloads::{echo, floors};

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

    // No runtime: a hand-written mio loop holding both ends.
    group.bench_function("mio_floor", |b| {
        b.iter_custom(|iters| floors::mio_echo(1, iters).unwrap())
    });

    group.finish();
}

/// Connections of `tcp_echo_64_connections`.
const CONNS: usize = 64;

/// Messages each connection sends for `iters` messages in all (at least one).
fn per_conn(iters: u64) -> u64 {
    iters.div_ceil(CONNS as u64).max(1)
}

/// Scales the time of `CONNS * per_conn(iters)` messages to `iters` messages.
fn scaled(took: Duration, iters: u64) -> Duration {
    took.mul_f64(iters as f64 / (CONNS as u64 * per_conn(iters)) as f64)
}

/// Throughput with 64 connections busy at once on one thread: time per message (the inverse
/// of messages per second), next to the mio floor.
fn tcp_echo_64(c: &mut Criterion) {
    let mut group = c.benchmark_group("tcp_echo_64_connections");
    group.throughput(Throughput::Elements(1));

    let rt = evloop::Builder::new().build().unwrap();
    let mut clients = rt.block_on(echo::evloop_clients(CONNS)).unwrap();
    group.bench_function("evloop", |b| {
        b.iter_custom(|iters| {
            let took = rt
                .block_on(echo::evloop_throughput(&mut clients, per_conn(iters)))
                .unwrap();
            scaled(took, iters)
        })
    });

    let rt = evloop_bench::tokio_current_thread();
    let mut clients = rt.block_on(echo::tokio_clients(CONNS)).unwrap();
    group.bench_function("tokio", |b| {
        b.iter_custom(|iters| {
            let took = rt
                .block_on(echo::tokio_throughput(&mut clients, per_conn(iters)))
                .unwrap();
            scaled(took, iters)
        })
    });

    let ex = LocalExecutor::new();
    let mut clients = async_io::block_on(ex.run(echo::smol_clients(&ex, CONNS))).unwrap();
    group.bench_function("smol", |b| {
        b.iter_custom(|iters| {
            let took = async_io::block_on(ex.run(echo::smol_throughput(
                &ex,
                &mut clients,
                per_conn(iters),
            )))
            .unwrap();
            scaled(took, iters)
        })
    });

    group.bench_function("mio_floor", |b| {
        b.iter_custom(|iters| scaled(floors::mio_echo(CONNS, per_conn(iters)).unwrap(), iters))
    });

    group.finish();
}

criterion_group!(benches, tcp_echo, tcp_echo_64);
criterion_main!(benches);
