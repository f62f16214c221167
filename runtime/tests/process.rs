//! `run_in_process`: a CPU-bound job on the process pool leaves an evloop heartbeat ticking.

use std::time::{Duration, Instant};

mod util;

use evloop_bridge::process::{self, ProcessFn, Registry};
use evloop_bridge::ProcessPool;

/// How long the CPU-bound job computes.
const JOB: Duration = Duration::from_millis(1000);

/// The heartbeat's period.
const BEAT: Duration = Duration::from_millis(5);

/// Keeps a CPU busy for the given milliseconds; returns the iterations.
fn spin(ms: u64) -> u64 {
    let end = Instant::now() + Duration::from_millis(ms);
    let mut n = 0u64;
    while Instant::now() < end {
        n = std::hint::black_box(n + 1);
    }
    n
}

const SPIN: ProcessFn<u64, u64> = ProcessFn::new("spin", spin);

fn functions() -> Registry {
    Registry::new().register(SPIN)
}

/// The workers' entry point: this test binary, filtered to this test, is the worker program.
#[test]
fn worker() {
    process::init(functions);
}

/// Ticks every [`BEAT`] until `done` returns true; returns the worst lateness.
async fn heartbeat(done: impl Fn() -> bool) -> Duration {
    let mut worst = Duration::ZERO;
    let mut next = Instant::now();
    while !done() {
        next += BEAT;
        evloop::sleep_until(next).await;
        worst = worst.max(next.elapsed());
        next = next.max(Instant::now() - BEAT); // no burst of catch-up ticks after a stall
    }
    worst
}

#[test]
fn a_cpu_bound_job_on_the_process_pool_leaves_the_heartbeat_on_time() {
    let pool = ProcessPool::builder(functions())
        .test_worker("worker")
        .max_workers(1)
        .prestart(true)
        .build()
        .unwrap();
    let (in_loop, offloaded) = evloop::run(async {
        // The worker is up before anything is measured.
        assert!(evloop::run_in_process(&pool, &SPIN, 0).await.is_ok());

        // In the loop: the job blocks the loop's thread, so the heartbeat cannot tick.
        let finished = std::rc::Rc::new(std::cell::Cell::new(false));
        let beat = evloop::spawn({
            let finished = finished.clone();
            heartbeat(move || finished.get())
        });
        evloop::yield_now().await; // the heartbeat arms its first tick
        let computed = spin(JOB.as_millis() as u64);
        evloop::yield_now().await;
        finished.set(true);
        let in_loop = beat.await.unwrap();
        assert!(computed > 0);

        // On the process pool: the loop stays free while the worker computes.
        let finished = std::rc::Rc::new(std::cell::Cell::new(false));
        let beat = evloop::spawn({
            let finished = finished.clone();
            heartbeat(move || finished.get())
        });
        let computed = evloop::run_in_process(&pool, &SPIN, JOB.as_millis() as u64).await;
        finished.set(true);
        assert!(computed.unwrap() > 0);
        let offloaded = beat.await.unwrap();
        (in_loop, offloaded)
    });
    eprintln!("worst heartbeat lateness: {in_loop:?} in the loop, {offloaded:?} offloaded");
    assert!(
        in_loop >= JOB / 2,
        "the in-loop job did not stall the loop: {in_loop:?}"
    );
    // A small fraction of the in-loop stall; generous for a loaded 2-core machine, where the
    // worker, the loop and two other busy processes share the cores (measured there: 4-75 ms
    // offloaded against 0.5-0.6 s in the loop for a 0.5 s job).
    assert!(
        offloaded * 4 < in_loop,
        "offloaded lateness {offloaded:?} is not a small fraction of {in_loop:?}"
    );
}

/// The `cpu_offload` example, whose workers are the example's own executable, runs its three
/// modes. (Built and run through cargo, since the example is another target.)
#[test]
fn the_cpu_offload_example_runs_in_the_loop_on_threads_and_on_processes() {
    let output = std::process::Command::new(env!("CARGO"))
        .args([
            "run",
            "--quiet",
            "-p",
            "evloop",
            "--example",
            "cpu_offload",
            "--",
            "quick",
        ])
        .output()
        .expect("cargo runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    for mode in ["in the loop", "thread pool", "process pool"] {
        assert!(stdout.contains(mode), "no {mode:?} row in:\n{stdout}");
    }
}

/// A worker entry that calls `init` inside a running loop, as the first line of an
/// `#[evloop::main]` body does (a no-op in a normal test run).
#[test]
fn worker_in_a_loop() {
    evloop::run(async { evloop::process::init(functions) });
}

#[test]
fn a_worker_that_calls_init_inside_a_loop_is_not_reported_as_stalled() {
    if std::env::var_os("EVLOOP_INIT_IN_LOOP_CHILD").is_some() {
        let pool = evloop::process::ProcessPool::builder(functions())
            .test_worker("worker_in_a_loop")
            .max_workers(1)
            .prestart(true)
            .build()
            .unwrap();
        // Idle for several stall thresholds: the worker waits for its first job in `init`.
        std::thread::sleep(Duration::from_millis(500));
        let n = evloop::run(evloop::run_in_process(&pool, &SPIN, 1)).unwrap();
        println!("job done: {}", n > 0);
        return;
    }
    let out = util::run_child(
        "a_worker_that_calls_init_inside_a_loop_is_not_reported_as_stalled",
        &[("EVLOOP_INIT_IN_LOOP_CHILD", "1")],
        Duration::from_secs(60),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("job done: true"), "{stdout}{stderr}");
    assert!(
        !stderr.contains("stalled") && !stderr.contains("blocked the event loop"),
        "the worker's loop was reported while it waited for jobs in init: {stderr}"
    );
}
