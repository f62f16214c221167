//! Dropping a thread pool inside a task never blocks the loop, and loses no queued job.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use evloop::ThreadPool;

/// How long each queued job blocks its worker.
const JOB: Duration = Duration::from_millis(100);

/// Jobs queued on a one-worker pool: run one after another, they take 8 × [`JOB`].
const JOBS: usize = 8;

#[test]
fn dropping_a_pool_with_queued_slow_jobs_in_a_task_does_not_stall_a_heartbeat() {
    let ran = Arc::new(AtomicUsize::new(0));
    let (worst, drop_took) = evloop::run({
        let ran = ran.clone();
        async move {
            let heartbeat = evloop::spawn(async {
                let mut worst = Duration::ZERO;
                let mut next = Instant::now();
                for _ in 0..60 {
                    next += Duration::from_millis(5);
                    evloop::sleep_until(next).await;
                    worst = worst.max(next.elapsed());
                }
                worst
            });
            let pool = ThreadPool::builder().max_workers(1).build().unwrap();
            for _ in 0..JOBS {
                let ran = ran.clone();
                drop(pool.submit(move || {
                    std::thread::sleep(JOB);
                    ran.fetch_add(1, Ordering::SeqCst);
                }));
            }
            let finished = pool.finished();
            let dropper = evloop::spawn(async move {
                let start = Instant::now();
                drop(pool);
                start.elapsed()
            });
            let drop_took = dropper.await.unwrap();
            let worst = heartbeat.await.unwrap();
            // The awaitable wait: every queued job has run once the pool has finished.
            evloop::timeout(Duration::from_secs(30), finished)
                .await
                .expect("the dropped pool's workers did not finish");
            (worst, drop_took)
        }
    });
    assert_eq!(ran.load(Ordering::SeqCst), JOBS, "a queued job was lost");
    // A drop that waited for the queue would take 8 × 100 ms and make the heartbeat that
    // late; a non-blocking one returns in microseconds. Bounds far from both, for a loaded
    // machine.
    assert!(
        drop_took < JOB * 2,
        "drop blocked the loop for {drop_took:?}"
    );
    assert!(worst < JOB * 3, "the heartbeat stalled for {worst:?}");
}
