//! Dropping the last pool clone shuts down gracefully; dropping a handle detaches its job.

mod util;

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use evloop_bridge::ThreadPool;
use util::{eventually, finish, threads_named, within, Gate, Rendezvous, PATIENCE};

/// Worker threads of the drop test whose thread-local destructors have completed.
static EXITED: AtomicUsize = AtomicUsize::new(0);

/// A thread-local value whose destructor, run as its thread exits, takes a while: a pool that
/// did not join its workers would return from `drop` before it finished.
struct SlowExit;

impl Drop for SlowExit {
    fn drop(&mut self) {
        thread::sleep(Duration::from_millis(100));
        EXITED.fetch_add(1, Ordering::SeqCst);
    }
}

thread_local! {
    static SLOW_EXIT: RefCell<Option<SlowExit>> = const { RefCell::new(None) };
}

#[test]
fn dropping_the_pool_runs_queued_jobs_and_joins_every_worker() {
    const WORKERS: usize = 4;
    assert_eq!(threads_named("xb-drop"), 0);
    let pool = ThreadPool::builder()
        .max_workers(WORKERS)
        .thread_name_prefix("xb-drop")
        .build()
        .unwrap();
    let finished = Arc::new(AtomicUsize::new(0));
    let meet = Rendezvous::new(WORKERS);
    for _ in 0..WORKERS {
        let (meet, finished) = (meet.clone(), finished.clone());
        drop(pool.submit(move || {
            SLOW_EXIT.with(|slow| *slow.borrow_mut() = Some(SlowExit));
            meet.meet();
            thread::sleep(Duration::from_millis(50));
            finished.fetch_add(1, Ordering::SeqCst);
        }));
    }
    for _ in 0..100 {
        let finished = finished.clone();
        drop(pool.submit(move || {
            finished.fetch_add(1, Ordering::SeqCst);
        }));
    }
    assert!(eventually(|| threads_named("xb-drop") == WORKERS));

    within("drop(pool)", move || drop(pool));
    assert_eq!(
        finished.load(Ordering::SeqCst),
        WORKERS + 100,
        "drop returned before the queued jobs ran"
    );
    // The threads were joined, not merely told to stop: each one has run its thread-local
    // destructors and is gone once `drop` returns.
    assert_eq!(
        EXITED.load(Ordering::SeqCst),
        WORKERS,
        "drop did not join the workers"
    );
    assert_eq!(
        threads_named("xb-drop"),
        0,
        "drop left worker threads behind"
    );
}

#[test]
fn the_last_clone_dropped_by_a_job_does_not_deadlock() {
    let pool = ThreadPool::builder()
        .max_workers(2)
        .thread_name_prefix("xb-lastjob")
        .build()
        .unwrap();
    let gate = Gate::new();
    let last_clone = pool.clone();
    let handle = pool.submit({
        let gate = gate.clone();
        move || {
            gate.pass();
            drop(last_clone); // the last clone: shuts the pool down from its own worker
            "dropped"
        }
    });
    drop(pool);
    gate.open();
    assert_eq!(finish(handle), Ok("dropped"));
    assert!(
        eventually(|| threads_named("xb-lastjob") == 0),
        "the worker that dropped its pool did not exit"
    );
}

#[test]
fn dropping_a_handle_lets_the_job_finish_and_drops_its_result() {
    let pool = ThreadPool::new();
    let (done_tx, done) = mpsc::channel();
    let payload = Arc::new(());
    let gate = Gate::new();
    let handle = pool.submit({
        let (gate, payload) = (gate.clone(), payload.clone());
        move || {
            gate.pass();
            done_tx.send("ran").unwrap();
            payload // the result, which nobody will take
        }
    });
    drop(handle);
    gate.open();
    assert_eq!(done.recv_timeout(PATIENCE), Ok("ran"));
    // Both the closure and its result were dropped: only this reference is left.
    assert!(
        eventually(|| Arc::strong_count(&payload) == 1),
        "the result leaked"
    );
}

#[test]
fn dropping_a_handle_of_a_queued_job_still_runs_it() {
    let pool = ThreadPool::builder().max_workers(1).build().unwrap();
    let gate = Gate::new();
    let blocker = pool.submit({
        let gate = gate.clone();
        move || gate.pass()
    });
    let (done_tx, done) = mpsc::channel();
    drop(pool.submit(move || done_tx.send(()).unwrap()));
    gate.open();
    assert_eq!(done.recv_timeout(PATIENCE), Ok(()));
    assert_eq!(finish(blocker), Ok(()));
}
