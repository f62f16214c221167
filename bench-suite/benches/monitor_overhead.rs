//! What finding the blocking call costs the loop: spawn and `yield_now` with the monitor thread off, on (the default), and with poll timing.

use criterion::{criterion_group, criterion_main, Criterion};
use evloop_bench::{evloop_spawn_batches, yield_loop};

/// The configurations compared, by name.
fn runtimes() -> [(&'static str, evloop::Runtime); 3] {
    let build = |reports: bool, timing: bool| {
        evloop::Builder::new()
            .slow_poll_reports(reports)
            .stall_watchdog(false)
            .poll_timing(timing)
            .build()
            .unwrap()
    };
    [
        ("monitor_off", build(false, false)),
        ("monitor_on", build(true, false)),
        ("poll_timing", build(true, true)),
    ]
}

fn spawn_complete(c: &mut Criterion) {
    let mut group = c.benchmark_group("overhead_spawn_complete");
    for (name, rt) in runtimes() {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| rt.block_on(evloop_spawn_batches(iters)))
        });
    }
    group.finish();
}

fn yield_now(c: &mut Criterion) {
    let mut group = c.benchmark_group("overhead_yield_now");
    for (name, rt) in runtimes() {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                rt.block_on(rt.spawn(yield_loop(iters, evloop::yield_now)))
                    .unwrap()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, spawn_complete, yield_now);
criterion_main!(benches);
