//! `Handle::cancel`: succeeds only before a worker starts the job.

mod util;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use evloop_bridge::{ExecError, ThreadPool};
use futures_lite::future;
use util::{eventually, finish, submit_gated, Gate};

/// Sets its flag when dropped.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[test]
fn cancel_before_start_succeeds_and_the_job_never_runs() {
    let pool = ThreadPool::builder().max_workers(1).build().unwrap();
    let gate = Gate::new();
    let blocker = pool.submit({
        let gate = gate.clone();
        move || gate.pass()
    });

    let ran = Arc::new(AtomicBool::new(false));
    let dropped = Arc::new(AtomicBool::new(false));
    let queued = pool.submit({
        let ran = ran.clone();
        let guard = DropFlag(dropped.clone());
        move || {
            let _guard = guard;
            ran.store(true, Ordering::SeqCst);
        }
    });
    assert!(!queued.is_done());
    assert!(queued.cancel());
    assert!(
        dropped.load(Ordering::SeqCst),
        "cancel drops the closure at once"
    );
    assert!(queued.is_done());
    assert!(
        queued.cancel(),
        "cancelling again still reports a cancelled job"
    );

    gate.open();
    assert_eq!(finish(blocker), Ok(()));
    // A job queued after the cancelled one has run, so the worker went past it.
    assert_eq!(finish(pool.submit(|| ())), Ok(()));
    assert!(!ran.load(Ordering::SeqCst), "a cancelled job ran");
    let error = finish(queued).unwrap_err();
    assert_eq!(error, ExecError::Cancelled);
    assert!(error.is_cancelled());
}

#[test]
fn cancel_after_start_fails_and_the_result_arrives() {
    let pool = ThreadPool::new();
    let gate = Gate::new();
    let running = submit_gated(&pool, &gate, "finished");
    assert!(!running.cancel(), "a running job cannot be cancelled");
    gate.open();
    assert_eq!(finish(running), Ok("finished"));
}

#[test]
fn cancel_after_completion_fails() {
    let pool = ThreadPool::new();
    let done = pool.submit(|| 5);
    assert!(eventually(|| done.is_done()));
    assert!(!done.cancel());
    assert_eq!(finish(done), Ok(5));
}

#[test]
fn cancel_after_a_pending_poll_resolves_the_handle() {
    let pool = ThreadPool::builder().max_workers(1).build().unwrap();
    let gate = Gate::new();
    let blocker = pool.submit({
        let gate = gate.clone();
        move || gate.pass()
    });
    let mut queued = pool.submit(|| 1);
    // A poll registers a waker and returns Pending; then the job is cancelled.
    assert_eq!(future::block_on(future::poll_once(&mut queued)), None);
    assert!(queued.cancel());
    assert_eq!(
        future::block_on(future::poll_once(&mut queued)),
        Some(Err(ExecError::Cancelled))
    );
    gate.open();
    assert_eq!(finish(blocker), Ok(()));
}
