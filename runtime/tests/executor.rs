//! `run_in_executor` and `to_thread`: blocking work on a pool while the loop keeps running.

use std::time::{Duration, Instant};

use evloop::{ExecError, ThreadPool};

/// Threads of this process whose name starts with `prefix`.
fn threads_named(prefix: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.unwrap().path().join("comm")).ok())
        .filter(|comm| comm.starts_with(prefix))
        .count()
}

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
    evloop::run(async {
        assert_eq!(evloop::to_thread(|| 7).await, Ok(7));
        let name = evloop::to_thread(|| std::thread::current().name().map(str::to_owned))
            .await
            .unwrap()
            .unwrap();
        assert!(name.starts_with("evloop-default"), "{name}");
    });
    // Other tests in this binary run their own loops; wait for ours to be joined, then no
    // default-pool thread may remain once no loop with a started pool is alive.
    let deadline = Instant::now() + Duration::from_secs(10);
    while threads_named("evloop-default") > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
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
