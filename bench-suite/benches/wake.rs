//! Cross-thread wake of a loop parked in its poller: a thread wakes a task, the task answers through a channel; the round trip, next to two threads ping-ponging with no runtime.

use std::time::Duration;

use async_executor::LocalExecutor;
use criterion::{criterion_group, criterion_main, Criterion};
use evloop_bench::workloads::{floors, wake};

/// Runs one measurement: starts the ringing thread, answers on the runtime with `block_on`.
fn round_trips(
    iters: u64,
    block_on: impl FnOnce(wake::Bell, std::sync::mpsc::Sender<()>),
) -> Duration {
    let bell = wake::Bell::default();
    let (reply, ringer) = wake::ringer(bell.clone(), iters);
    block_on(bell, reply);
    ringer.join().unwrap()
}

fn cross_thread_wake(c: &mut Criterion) {
    let mut group = c.benchmark_group("cross_thread_wake");

    let rt = evloop::Builder::new().build().unwrap();
    group.bench_function("evloop", |b| {
        b.iter_custom(|iters| {
            round_trips(iters, |bell, tx| rt.block_on(wake::answer(bell, tx, iters)))
        })
    });

    let rt = evloop_bench::tokio_current_thread();
    group.bench_function("tokio", |b| {
        b.iter_custom(|iters| {
            round_trips(iters, |bell, tx| rt.block_on(wake::answer(bell, tx, iters)))
        })
    });

    let ex = LocalExecutor::new();
    group.bench_function("smol", |b| {
        b.iter_custom(|iters| {
            round_trips(iters, |bell, tx| {
                async_io::block_on(ex.run(wake::answer(bell, tx, iters)))
            })
        })
    });

    group.bench_function("thread_floor", |b| b.iter_custom(floors::thread_ping_pong));

    group.finish();
}

criterion_group!(benches, cross_thread_wake);
criterion_main!(benches);
