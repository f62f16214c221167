//! Bounded queues: `Reject` refuses at once, `Block` applies backpressure.

mod util;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use evloop_bridge::{ExecError, FullQueuePolicy, Handle, ThreadPool};
use util::{eventually, finish, submit_gated, within, Gate};

/// A pool with one worker and a queue of `bound`, its worker blocked on `gate`.
fn blocked_pool(bound: usize, policy: FullQueuePolicy, gate: &Gate) -> (ThreadPool, Handle<()>) {
    let pool = ThreadPool::builder()
        .max_workers(1)
        .queue_bound(Some(bound))
        .full_queue_policy(policy)
        .build()
        .unwrap();
    let blocker = submit_gated(&pool, gate, ());
    (pool, blocker)
}

#[test]
fn reject_gives_queue_full_at_once_under_thousands_of_submissions() {
    const BOUND: usize = 8;
    let gate = Gate::new();
    let (pool, blocker) = blocked_pool(BOUND, FullQueuePolicy::Reject, &gate);
    let ran = Arc::new(AtomicUsize::new(0));
    // `within`: a `submit` that blocked on the full queue would fail the test, not hang it.
    let (pool, handles) = within("submissions to a full queue", {
        let ran = ran.clone();
        move || {
            let handles: Vec<_> = (0..5_000)
                .map(|_| {
                    let ran = ran.clone();
                    pool.submit(move || {
                        ran.fetch_add(1, Ordering::SeqCst);
                    })
                })
                .collect();
            (pool, handles)
        }
    });
    let (rejected, accepted): (Vec<_>, Vec<_>) = handles.into_iter().partition(|h| h.is_done());
    assert_eq!(accepted.len(), BOUND, "the queue holds exactly its bound");
    assert_eq!(rejected.len(), 5_000 - BOUND);
    for handle in rejected {
        let error = finish(handle).unwrap_err();
        assert_eq!(error, ExecError::QueueFull { capacity: BOUND });
        assert!(error.to_string().contains("full"), "{error}");
    }
    gate.open();
    assert_eq!(finish(blocker), Ok(()));
    for handle in accepted {
        assert_eq!(finish(handle), Ok(()));
    }
    assert_eq!(ran.load(Ordering::SeqCst), BOUND);
    // Room again: submissions are accepted.
    assert_eq!(finish(pool.submit(|| 1)), Ok(1));
}

#[test]
fn block_applies_backpressure_and_every_job_runs() {
    const BOUND: usize = 4;
    const JOBS: usize = 2_000;
    let gate = Gate::new();
    let (pool, blocker) = blocked_pool(BOUND, FullQueuePolicy::Block, &gate);
    let submitted = Arc::new(AtomicUsize::new(0));
    let ran = Arc::new(AtomicUsize::new(0));
    let producer = thread::spawn({
        let (pool, submitted, ran) = (pool.clone(), submitted.clone(), ran.clone());
        move || {
            (0..JOBS)
                .map(|i| {
                    let ran = ran.clone();
                    let handle = pool.submit(move || {
                        ran.fetch_add(1, Ordering::SeqCst);
                        i
                    });
                    submitted.fetch_add(1, Ordering::SeqCst);
                    handle
                })
                .collect::<Vec<_>>()
        }
    });
    // The producer fills the queue, then blocks in `submit` while the worker is busy.
    assert!(eventually(|| submitted.load(Ordering::SeqCst) == BOUND));
    thread::sleep(Duration::from_millis(100));
    assert_eq!(
        submitted.load(Ordering::SeqCst),
        BOUND,
        "submit did not block on a full queue"
    );
    assert_eq!(ran.load(Ordering::SeqCst), 0);

    gate.open();
    assert!(
        eventually(|| producer.is_finished()),
        "the producer stayed blocked"
    );
    let handles = producer.join().unwrap();
    for (i, handle) in handles.into_iter().enumerate() {
        assert_eq!(finish(handle), Ok(i));
    }
    assert_eq!(ran.load(Ordering::SeqCst), JOBS);
    assert_eq!(finish(blocker), Ok(()));
}
