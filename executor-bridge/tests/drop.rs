//! Dropping the last pool clone shuts down gracefully without blocking; dropping a handle detaches its job.

mod util;

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};

use evloop_bridge::ThreadPool;
use util::{eventually, finish, within, Gate, Rendezvous, PATIENCE};

/// Worker threads of the drop test whose thread-local destructors have completed.
static EXITED: AtomicUsize = AtomicUsize::new(0);

/// A thread-local value whose destructor, run as its thread exits, records the exit.
struct ExitMark;

impl Drop for ExitMark {
    fn drop(&mut self) {
        EXITED.fetch_add(1, Ordering::SeqCst);
    }
}

thread_local! {
    static EXIT_MARK: RefCell<Option<ExitMark>> = const { RefCell::new(None) };
}

#[test]
fn dropping_the_pool_returns_at_once_and_the_queued_jobs_still_run() {
    const WORKERS: usize = 4;
    // Linux only: other threads' names are listed nowhere else (testing/os.rs).
    #[cfg(target_os = "linux")]
    assert_eq!(util::os::threads_named("xb-drop"), 0);
    let pool = ThreadPool::builder()
        .max_workers(WORKERS)
        .thread_name_prefix("xb-drop")
        .build()
        .unwrap();
    let finished = Arc::new(AtomicUsize::new(0));
    let meet = Rendezvous::new(WORKERS);
    let gate = Gate::new();
    for _ in 0..WORKERS {
        let (meet, finished, gate) = (meet.clone(), finished.clone(), gate.clone());
        drop(pool.submit(move || {
            EXIT_MARK.with(|mark| *mark.borrow_mut() = Some(ExitMark));
            meet.meet();
            gate.pass();
            finished.fetch_add(1, Ordering::SeqCst);
        }));
    }
    for _ in 0..100 {
        let finished = finished.clone();
        drop(pool.submit(move || {
            finished.fetch_add(1, Ordering::SeqCst);
        }));
    }
    // Linux only: other threads' names are listed nowhere else (testing/os.rs).
    #[cfg(target_os = "linux")]
    assert!(eventually(|| util::os::threads_named("xb-drop") == WORKERS));
    let all_exited = pool.finished();

    // Every worker is blocked on the gate: a drop that waited for them would never return.
    within("drop(pool)", move || drop(pool));
    assert_eq!(
        finished.load(Ordering::SeqCst),
        0,
        "the jobs ran before the gate opened"
    );
    gate.open();
    within("awaiting Finished", move || {
        futures_lite::future::block_on(all_exited)
    });
    assert_eq!(
        finished.load(Ordering::SeqCst),
        WORKERS + 100,
        "a queued job was lost when the pool was dropped"
    );
    assert!(
        eventually(|| EXITED.load(Ordering::SeqCst) == WORKERS),
        "the workers did not exit after the pool was dropped"
    );
    // Linux only: other threads' names are listed nowhere else (testing/os.rs).
    #[cfg(target_os = "linux")]
    assert!(
        eventually(|| util::os::threads_named("xb-drop") == 0),
        "the workers' threads outlive the pool"
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
    // Linux only: other threads' names are listed nowhere else (testing/os.rs).
    #[cfg(target_os = "linux")]
    assert!(
        eventually(|| util::os::threads_named("xb-lastjob") == 0),
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
