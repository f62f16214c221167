//! `run_in_executor` and `to_thread`: blocking work on a pool while the loop keeps running.

use std::time::{Duration, Instant};

use evloop::{ExecError, ThreadPool};

mod util;

#[test]
fn tickers_keep_ticking_while_a_job_blocks_a_pool_thread() {
    const TICKERS: usize = 100;
    let (ticks, (job_start, job_end)) = evloop::run(async {
        let job = evloop::run_in_executor(None, || {
            let start = Instant::now();
            std::thread::sleep(Duration::from_millis(300));
            (start, Instant::now())
        });
        let tickers: Vec<_> = (0..TICKERS)
            .map(|_| {
                evloop::spawn(async {
                    let mut ticks = Vec::new();
                    let mut next = Instant::now();
                    for _ in 0..80 {
                        next += Duration::from_millis(5);
                        evloop::sleep_until(next).await;
                        ticks.push(Instant::now());
                    }
                    ticks
                })
            })
            .collect();
        let window = job.await.unwrap();
        let mut ticks = Vec::new();
        for t in tickers {
            ticks.push(t.await.unwrap());
        }
        (ticks, window)
    });
    assert!(job_end - job_start >= Duration::from_millis(300));
    // Ticks every ticker made while the job blocked its pool thread. Had the job blocked the
    // loop instead, there would be none: every ticker would wait for the whole 300 ms. A quiet
    // machine makes about 60 in the window; a loaded one fewer, but never none.
    let mut during: Vec<usize> = ticks
        .iter()
        .map(|t| {
            t.iter()
                .filter(|&&at| at > job_start && at < job_end)
                .count()
        })
        .collect();
    during.sort();
    assert!(
        during[0] >= 3,
        "a ticker stopped while the job ran: {during:?}"
    );
    assert!(
        during[TICKERS / 2] >= 10,
        "tickers barely ticked while the job ran: {during:?}"
    );
}

#[test]
fn the_default_pool_starts_on_demand_and_its_threads_are_gone_after_run() {
    if std::env::var_os("EVLOOP_DEFAULT_POOL_CHILD").is_none() {
        // In a child process of its own: other tests' loops start default pools too.
        let out = util::run_child(
            "the_default_pool_starts_on_demand_and_its_threads_are_gone_after_run",
            &[("EVLOOP_DEFAULT_POOL_CHILD", "1")],
            Duration::from_secs(60),
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        return;
    }
    evloop::run(async {
        assert_eq!(evloop::to_thread(|| 7).await, Ok(7));
        let name = evloop::to_thread(|| std::thread::current().name().map(str::to_owned))
            .await
            .unwrap()
            .unwrap();
        assert!(name.starts_with("evloop-default"), "{name}");
        // evloop's own file calls run on its I/O pool, which also ends with the loop.
        let dir = std::env::temp_dir();
        assert!(evloop::fs::metadata(dir).await.unwrap().is_dir());
    });
    // Linux only: other threads' names are listed nowhere else (testing/os.rs).
    #[cfg(target_os = "linux")]
    for pool in ["evloop-default", "evloop-io"] {
        let deadline = Instant::now() + Duration::from_secs(10);
        while util::os::threads_named(pool) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(
            util::os::threads_named(pool),
            0,
            "the threads of {pool} outlive the loop by 10 s"
        );
    }
}

#[test]
fn run_in_executor_uses_the_given_pool() {
    let pool = ThreadPool::builder()
        .max_workers(2)
        .thread_name_prefix("my-pool")
        .build()
        .unwrap();
    let name = evloop::run(async {
        evloop::run_in_executor(Some(&pool), || {
            std::thread::current().name().map(str::to_owned)
        })
        .await
        .unwrap()
        .unwrap()
    });
    assert!(name.starts_with("my-pool"), "{name}");
}

#[test]
fn a_panicking_job_is_an_error_and_the_loop_and_pool_go_on() {
    evloop::run(async {
        let err = evloop::to_thread(|| -> u8 { panic!("job exploded") })
            .await
            .unwrap_err();
        assert_eq!(err, ExecError::Panicked("job exploded".into()));
        assert!(err.to_string().contains("job exploded"), "{err}");
        assert_eq!(evloop::to_thread(|| 1 + 1).await, Ok(2));
    });
}

#[test]
#[should_panic(expected = "no loop is running on this thread")]
fn to_thread_outside_a_loop_panics_with_an_explanation() {
    drop(evloop::to_thread(|| ()));
}

#[test]
fn many_concurrent_jobs_all_complete() {
    let total = evloop::run(async {
        let jobs: Vec<_> = (0..1000u64).map(|i| evloop::to_thread(move || i)).collect();
        let mut total = 0;
        for job in jobs {
            total += job.await.unwrap();
        }
        total
    });
    assert_eq!(total, (0..1000).sum());
}

#[test]
fn jobs_whose_handle_was_dropped_still_finish_before_run_returns() {
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let d = done.clone();
    evloop::run(async move {
        drop(evloop::to_thread(move || {
            std::thread::sleep(Duration::from_millis(100));
            d.store(true, std::sync::atomic::Ordering::SeqCst);
        }));
    });
    assert!(
        done.load(std::sync::atomic::Ordering::SeqCst),
        "closing the loop waits for its default pool's jobs"
    );
}

/// Set in the child process of the test below.
const STUCK_CHILD: &str = "EVLOOP_STUCK_JOB_CHILD";

#[test]
fn a_job_that_never_returns_is_reported_and_does_not_keep_the_loop_from_closing() {
    if std::env::var_os(STUCK_CHILD).is_some() {
        let rt = evloop::Builder::new()
            .shutdown_timeout(Duration::from_millis(300))
            .build()
            .unwrap();
        rt.block_on(async {
            // Never returns (the process ends first); its handle is dropped.
            drop(evloop::to_thread(|| loop {
                std::thread::park();
            }));
        });
        let start = Instant::now();
        drop(rt);
        println!("closed in {} ms", start.elapsed().as_millis());
        return;
    }
    let out = util::run_child(
        "a_job_that_never_returns_is_reported_and_does_not_keep_the_loop_from_closing",
        &[(STUCK_CHILD, "1")],
        Duration::from_secs(60),
    );
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}{stderr}");
    let ms: u64 = stdout
        .split("closed in ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!((300..10_000).contains(&ms), "closed in {ms} ms");
    assert!(
        stderr.contains("still run after the 300ms grace"),
        "{stderr}"
    );
    // Where the stuck job was submitted.
    assert!(stderr.contains("runtime/tests/executor.rs:"), "{stderr}");
}
