//! Process pool: round trip of a trivial registered function against a raw ping-pong between two processes through a pipe and through a socket pair (the floors), awaited from an evloop task and from a blocked thread; `map` of 100,000 small items in chunks against one submit per item; CPU-bound throughput on one worker and on one worker per core.

use std::hint::black_box;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion};
use evloop_bridge::process::{self, ProcessFn, Registry};
use evloop_bridge::ProcessPool;

/// The trivial function of the round trip: a small argument, a small result.
const ADD_ONE: ProcessFn<u64, u64> = ProcessFn::new("add_one", |x| x + 1);

/// CPU-bound work: counts the primes below the argument by trial division.
const COUNT_PRIMES: ProcessFn<u64, u64> = ProcessFn::new("count_primes", |below| {
    (2..below)
        .filter(|&n| (2..).take_while(|d| d * d <= n).all(|d| n % d != 0))
        .count() as u64
});

fn functions() -> Registry {
    Registry::new().register(ADD_ONE).register(COUNT_PRIMES)
}

/// Set in the child of the raw pipe floor: echo 8-byte messages on stdin to stdout.
const ECHO_ENV: &str = "EVLOOP_BENCH_PIPE_ECHO";

/// The floor's child: echo until end-of-file.
fn echo() {
    let (mut input, mut output) = (std::io::stdin().lock(), std::io::stdout().lock());
    let mut message = [0; 8];
    while input.read_exact(&mut message).is_ok() {
        if output
            .write_all(&message)
            .and_then(|()| output.flush())
            .is_err()
        {
            break;
        }
    }
}

fn round_trip(c: &mut Criterion) {
    let mut group = c.benchmark_group("process_pool_round_trip");

    // The floor: this executable again, echoing 8 bytes over a pipe pair; no pool, no framing.
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env(ECHO_ENV, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut to_child = child.stdin.take().unwrap();
    let mut from_child = child.stdout.take().unwrap();
    group.bench_function("raw_pipe_floor", |b| {
        let mut message = [0u8; 8];
        b.iter(|| {
            to_child.write_all(black_box(&7u64.to_le_bytes())).unwrap();
            from_child.read_exact(&mut message).unwrap();
            black_box(message)
        })
    });
    drop(to_child);
    child.wait().unwrap();

    // The same through a Unix socket pair (the process pool's own kind of channel): the
    // child's stdin and stdout are both its end of the pair.
    let (mut ours, theirs) = UnixStream::pair().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env(ECHO_ENV, "1")
        .stdin(Stdio::from(OwnedFd::from(theirs.try_clone().unwrap())))
        .stdout(Stdio::from(OwnedFd::from(theirs)))
        .spawn()
        .unwrap();
    group.bench_function("raw_socketpair_floor", |b| {
        let mut message = [0u8; 8];
        b.iter(|| {
            ours.write_all(black_box(&7u64.to_le_bytes())).unwrap();
            ours.read_exact(&mut message).unwrap();
            black_box(message)
        })
    });
    ours.shutdown(std::net::Shutdown::Write).unwrap();
    child.wait().unwrap();

    let pool = ProcessPool::builder(functions())
        .max_workers(1)
        .prestart(true)
        .build()
        .unwrap();
    assert_eq!(pool.submit(&ADD_ONE, 1).wait(), Ok(2)); // the worker is up
    group.bench_function("submit_wait", |b| {
        b.iter(|| black_box(pool.submit(&ADD_ONE, black_box(7)).wait().unwrap()))
    });

    let rt = evloop::Builder::new().build().unwrap();
    group.bench_function("run_in_process_await", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let job = evloop::run_in_process(&pool, &ADD_ONE, black_box(7));
                    black_box(job.await.unwrap());
                }
                start.elapsed()
            })
        })
    });
    group.finish();
}

fn map(c: &mut Criterion) {
    const ITEMS: u64 = 100_000;
    let mut group = c.benchmark_group("process_pool_map_100k");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    let pool = ProcessPool::builder(functions())
        .prestart(true)
        .build()
        .unwrap();
    assert_eq!(pool.submit(&ADD_ONE, 1).wait(), Ok(2));
    group.bench_function("map_chunks_of_1000", |b| {
        b.iter(|| {
            let results = pool.map(&ADD_ONE, 0..ITEMS, 1000).wait().unwrap();
            black_box(results.len())
        })
    });
    group.bench_function("submit_per_item", |b| {
        b.iter_batched(
            || (),
            |()| {
                let handles: Vec<_> = (0..ITEMS).map(|x| pool.submit(&ADD_ONE, x)).collect();
                let sum: u64 = handles.into_iter().map(|h| h.wait().unwrap()).sum();
                black_box(sum)
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

fn cpu_throughput(c: &mut Criterion) {
    const JOBS: u64 = 16;
    let mut group = c.benchmark_group("process_pool_cpu_16_jobs");
    group.sample_size(10);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    for workers in [1, cores] {
        let pool = ProcessPool::builder(functions())
            .max_workers(workers)
            .prestart(true)
            .build()
            .unwrap();
        assert_eq!(pool.submit(&COUNT_PRIMES, 10).wait(), Ok(4));
        group.bench_function(format!("{workers}_workers"), |b| {
            b.iter(|| {
                let handles: Vec<_> = (0..JOBS)
                    .map(|_| pool.submit(&COUNT_PRIMES, black_box(100_000)))
                    .collect();
                let total: u64 = handles.into_iter().map(|h| h.wait().unwrap()).sum();
                black_box(total)
            })
        });
    }
    group.finish();
}

/// A hand-written `main` instead of `criterion_main!`: workers are this bench binary started
/// again, and `process::init` must run before anything else.
fn main() {
    process::init(functions);
    if std::env::var_os(ECHO_ENV).is_some() {
        echo();
        return;
    }
    let mut criterion = Criterion::default().configure_from_args();
    round_trip(&mut criterion);
    map(&mut criterion);
    cpu_throughput(&mut criterion);
    criterion.final_summary();
}
