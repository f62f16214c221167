//! The same CPU-heavy function run in the loop, on a thread pool and on a process pool, next
//! to a heartbeat task: how late the heartbeat gets, and how many jobs per second each runs.
//!
//! `cargo run --release --example cpu_offload` (add `quick` for a short run). Each mode runs
//! `JOBS` calls of `count_primes` while a task ticks every 5 ms and records its lateness:
//!
//! - **in the loop**: the calls run on the loop's thread, one after another; the heartbeat
//!   freezes for each whole call (the lecture's slide 7);
//! - **thread pool**: `run_in_executor(Some(&threads), ..)`, one thread per core;
//! - **process pool**: `run_in_process(&procs, &COUNT_PRIMES, ..)`, one worker process per
//!   core. Its workers are this very executable, started again: `process::init` is the first
//!   line of `main`.

use std::time::{Duration, Instant};

use evloop::process::{self, ProcessFn, ProcessPool, Registry};
use evloop::ThreadPool;

/// Counts the primes below `below` by trial division: pure CPU work.
fn count_primes(below: u64) -> u64 {
    let mut count = 0;
    for n in 2..below {
        let mut divisor = 2;
        let mut prime = true;
        while divisor * divisor <= n {
            if n % divisor == 0 {
                prime = false;
                break;
            }
            divisor += 1;
        }
        count += u64::from(prime);
    }
    count
}

const COUNT_PRIMES: ProcessFn<u64, u64> = ProcessFn::new("count_primes", count_primes);

/// The functions the workers may run.
fn functions() -> Registry {
    Registry::new().register(COUNT_PRIMES)
}

/// One mode's figures.
struct Figures {
    /// Worst heartbeat lateness.
    worst: Duration,
    /// Median heartbeat lateness.
    median: Duration,
    /// Wall time for all jobs.
    took: Duration,
}

/// Ticks every 5 ms until `done`; returns the worst and median lateness.
async fn heartbeat(done: std::rc::Rc<std::cell::Cell<bool>>) -> (Duration, Duration) {
    let mut late = Vec::new();
    let mut next = Instant::now();
    while !done.get() {
        next += Duration::from_millis(5);
        evloop::sleep_until(next).await;
        late.push(next.elapsed());
        next = next.max(Instant::now() - Duration::from_millis(5));
    }
    late.sort();
    (late[late.len() - 1], late[late.len() / 2])
}

/// Runs `jobs` (a future computing all jobs) next to a heartbeat.
async fn measure<F: std::future::Future<Output = u64>>(jobs: F) -> (Figures, u64) {
    let done = std::rc::Rc::new(std::cell::Cell::new(false));
    let beat = evloop::spawn(heartbeat(done.clone()));
    evloop::yield_now().await;
    let start = Instant::now();
    let total = jobs.await;
    let took = start.elapsed();
    done.set(true);
    let (worst, median) = beat.await.unwrap();
    (
        Figures {
            worst,
            median,
            took,
        },
        total,
    )
}

fn main() {
    process::init(functions); // a worker never gets past this line
    let quick = std::env::args().any(|arg| arg == "quick");
    let (jobs, size) = if quick { (4, 20_000) } else { (16, 400_000) };
    let cores = num_cpus();
    let threads = ThreadPool::builder().max_workers(cores).build().unwrap();
    let procs = ProcessPool::builder(functions())
        .max_workers(cores)
        .prestart(true)
        .build()
        .unwrap();

    let rows = evloop::run(async {
        // Workers up before anything is measured.
        assert!(evloop::run_in_process(&procs, &COUNT_PRIMES, 10)
            .await
            .is_ok());

        let in_loop = measure(async {
            let mut total = 0;
            for _ in 0..jobs {
                total += count_primes(size);
                evloop::yield_now().await; // let the heartbeat see each stall end
            }
            total
        })
        .await;
        let on_threads = measure(async {
            let handles: Vec<_> = (0..jobs)
                .map(|_| evloop::run_in_executor(Some(&threads), move || count_primes(size)))
                .collect();
            let mut total = 0;
            for handle in handles {
                total += handle.await.unwrap();
            }
            total
        })
        .await;
        let on_processes = measure(async {
            let handles: Vec<_> = (0..jobs)
                .map(|_| evloop::run_in_process(&procs, &COUNT_PRIMES, size))
                .collect();
            let mut total = 0;
            for handle in handles {
                total += handle.await.unwrap();
            }
            total
        })
        .await;
        [
            ("in the loop", in_loop),
            ("thread pool", on_threads),
            ("process pool", on_processes),
        ]
    });

    println!("{jobs} x count_primes({size}), {cores} workers per pool, heartbeat every 5 ms\n");
    println!(
        "{:<14} {:>14} {:>14} {:>10} {:>10}",
        "mode", "worst late", "median late", "wall", "jobs/s"
    );
    let expected = rows[0].1 .1;
    for (mode, (figures, total)) in &rows {
        assert_eq!(*total, expected, "{mode} computed another result");
        println!(
            "{:<14} {:>14.1?} {:>14.1?} {:>10.1?} {:>10.1}",
            mode,
            figures.worst,
            figures.median,
            figures.took,
            jobs as f64 / figures.took.as_secs_f64()
        );
    }
}

/// The number of CPUs (the default size of a process pool).
fn num_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
