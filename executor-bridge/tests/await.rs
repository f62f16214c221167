//! Awaiting handles on an executor that knows nothing of evloop, and results delivered intact.

mod util;

use std::sync::mpsc;
use std::thread;

use evloop_bridge::ThreadPool;
use futures_lite::future;
use util::{block_on, eventually, within, PATIENCE};

#[test]
fn handle_is_awaited_under_futures_lite_block_on() {
    let pool = ThreadPool::new();
    let answer = block_on({
        let pool = pool.clone();
        async move { pool.submit(|| 6 * 7).await }
    });
    assert_eq!(answer, Ok(42));

    // An owned, heap-allocated result crosses threads intact.
    let text = block_on(pool.submit(|| "x".repeat(1000)));
    assert_eq!(text.unwrap(), "x".repeat(1000));
}

#[test]
fn awaiting_suspends_the_task_not_its_thread() {
    // The job finishes only once another future of the same `block_on` has run. If awaiting
    // the handle blocked the thread, that future would never run and the job would give up.
    let pool = ThreadPool::new();
    let (release, released) = mpsc::channel::<()>();
    let job = pool.submit(move || released.recv_timeout(PATIENCE).is_ok());
    let (job_saw_release, ()) = block_on(future::zip(job, async move {
        future::yield_now().await; // let the handle be polled (and return Pending) first
        release.send(()).unwrap();
    }));
    assert_eq!(job_saw_release, Ok(true));
}

#[test]
fn ten_thousand_concurrent_jobs_all_complete_with_their_results() {
    let pool = ThreadPool::builder().max_workers(8).build().unwrap();
    let handles: Vec<_> = (0..10_000u64).map(|i| pool.submit(move || i * i)).collect();
    let results = block_on(async move {
        let mut results = Vec::with_capacity(handles.len());
        for handle in handles {
            results.push(handle.await.unwrap());
        }
        results
    });
    let expected: Vec<u64> = (0..10_000u64).map(|i| i * i).collect();
    assert_eq!(results, expected);
    assert!(pool.worker_count() <= 8);
}

#[test]
fn jobs_submitted_and_awaited_on_many_threads_all_complete() {
    let pool = ThreadPool::builder().max_workers(4).build().unwrap();
    let total = within("the producers", move || {
        let producers: Vec<_> = (0..4u64)
            .map(|p| {
                let pool = pool.clone();
                thread::spawn(move || {
                    let handles: Vec<_> = (0..2_500u64)
                        .map(|i| pool.submit(move || p * 1_000_000 + i))
                        .collect();
                    // Handles are Send: await them on yet another thread.
                    thread::spawn(move || {
                        handles
                            .into_iter()
                            .map(|h| future::block_on(h).unwrap())
                            .sum::<u64>()
                    })
                    .join()
                    .unwrap()
                })
            })
            .collect();
        producers
            .into_iter()
            .map(|p| p.join().unwrap())
            .sum::<u64>()
    });
    let expected: u64 = (0..4u64)
        .map(|p| (0..2_500u64).map(|i| p * 1_000_000 + i).sum::<u64>())
        .sum();
    assert_eq!(total, expected);
}

#[test]
fn a_finished_job_is_ready_at_the_first_poll() {
    let pool = ThreadPool::new();
    let handle = pool.submit(|| "early");
    assert!(eventually(|| handle.is_done()));
    // `poll_once` polls exactly once: no wake-up is needed for a job that already finished.
    assert_eq!(
        future::block_on(future::poll_once(handle)),
        Some(Ok("early"))
    );
}
