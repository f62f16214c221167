//! A job's one allocation: the closure, then its outcome, and the waker of whoever awaits it.
//!
//! [`ThreadPool::submit`](crate::ThreadPool::submit) allocates one [`JobCell`] behind an `Arc`
//! and hands out two views of it: a [`Job`] for the queue (type-erased over the closure and its
//! output, through [`Run`]) and an [`Outcome`] cell that the pool wraps in the caller's
//! [`Handle`](crate::Handle) (type-erased over the closure). No other allocation is made per job.
//!
//! The cell's state sits behind one `Mutex`, taken about four times per awaited job (the worker
//! takes the closure, then stores the outcome; the awaiting side registers its waker, then takes
//! the outcome), never while user code runs. Each of those locks is uncontended or held for a
//! few instructions: next to the thread wake-ups a round trip may need (microseconds each), they
//! do not show in a profile, and they keep the crate free of `unsafe`.

use std::mem;
use std::panic::Location;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Poll, Waker};

use crate::error::{panic_message, ExecError};
use crate::outcome::{poll_state, Outcome, Stage, State};

/// Creates a job running `f`, submitted at `location`: the part that goes into the queue and
/// the outcome cell the caller's handle reads.
pub(crate) fn new<F, T>(f: F, location: &'static Location<'static>) -> (Job, Arc<dyn Outcome<T>>)
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let cell = Arc::new(JobCell {
        state: Mutex::new(State::queued(f)),
    });
    let job = Job {
        cell: Some(cell.clone()),
        location,
    };
    (job, cell)
}

/// What a job's handle and the worker that runs it share.
struct JobCell<F, T> {
    /// The stage and the waker; see the module docs for why one lock.
    state: Mutex<State<F, T>>,
}

impl<F, T> JobCell<F, T> {
    /// Locks the state. A panic never happens while the lock is held (user code runs outside
    /// it), except in a foreign `Waker::clone`; the state is consistent even then, so a
    /// poisoned lock is used as is.
    fn lock(&self) -> MutexGuard<'_, State<F, T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Gives the job the outcome `error` if it has not started; returns whether it had not.
    ///
    /// The waiting side is woken before the closure is dropped, so a closure whose destructor
    /// panics cannot leave it waiting for ever.
    fn settle_unstarted(&self, error: ExecError) -> bool {
        let (f, waker) = {
            let mut state = self.lock();
            if !matches!(state.stage, Stage::Queued(_)) {
                return false;
            }
            let Stage::Queued(f) = mem::replace(&mut state.stage, Stage::Done(Err(error))) else {
                unreachable!("checked above");
            };
            (f, state.waker.take())
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        drop(f);
        true
    }
}

/// The queue's view of a job, erased over its closure and output types.
trait Run: Send + Sync {
    /// Runs the closure, catching a panic, calls `finished`, then stores the outcome and wakes
    /// the waiting side. If the job was cancelled or settled before it started, only calls
    /// `finished`.
    fn run(&self, finished: &mut dyn FnMut());

    /// See [`JobCell::settle_unstarted`].
    fn settle_unstarted(&self, error: ExecError) -> bool;
}

impl<F, T> Run for JobCell<F, T>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    fn run(&self, finished: &mut dyn FnMut()) {
        let f = {
            let mut state = self.lock();
            match mem::replace(&mut state.stage, Stage::Running) {
                Stage::Queued(f) => f,
                settled => {
                    state.stage = settled; // cancelled, rejected or shut down: never runs
                    drop(state);
                    finished();
                    return;
                }
            }
        };
        let outcome = panic::catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
            let message = panic_message(payload.as_ref());
            drop_payload(payload);
            ExecError::Panicked(message)
        });
        // Before the outcome is visible: whoever sees it and submits again finds the worker
        // already counted as waiting, instead of starting another one.
        finished();
        let waker = {
            let mut state = self.lock();
            state.stage = Stage::Done(outcome);
            state.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    fn settle_unstarted(&self, error: ExecError) -> bool {
        JobCell::settle_unstarted(self, error)
    }
}

/// Drops a panic payload; a payload whose destructor panics in turn is forgotten, so the
/// worker survives even that.
fn drop_payload(payload: Box<dyn std::any::Any + Send>) {
    if let Err(second) = panic::catch_unwind(AssertUnwindSafe(move || drop(payload))) {
        mem::forget(second);
    }
}

impl<F, T> Outcome<T> for JobCell<F, T>
where
    F: Send,
    T: Send,
{
    fn poll_outcome(&self, waker: &Waker) -> Poll<Result<T, ExecError>> {
        poll_state(self.lock(), waker)
    }

    fn cancel(&self) -> bool {
        if self.settle_unstarted(ExecError::Cancelled) {
            return true;
        }
        matches!(self.lock().stage, Stage::Done(Err(ExecError::Cancelled)))
    }

    fn is_done(&self) -> bool {
        matches!(self.lock().stage, Stage::Done(_) | Stage::Taken)
    }

    fn settle_unstarted(&self, error: ExecError) -> bool {
        JobCell::settle_unstarted(self, error)
    }
}

/// A job in the queue.
///
/// A job dropped without [`run`](Self::run) or [`settle`](Self::settle) (left in a queue nobody
/// will drain) resolves its handle to [`ExecError::ShutDown`], so no handle waits for a job that
/// can no longer run.
pub(crate) struct Job {
    /// The cell; `None` once `run` or `settle` consumed it.
    cell: Option<Arc<dyn Run>>,
    /// Where the job was submitted, for reports about jobs that run for long.
    location: &'static Location<'static>,
}

impl Job {
    /// Runs the job on this thread, calling `finished` once the closure returned (or at once if
    /// the job was settled without running), before its outcome is published; see [`Run::run`].
    pub(crate) fn run(mut self, finished: &mut dyn FnMut()) {
        if let Some(cell) = self.cell.take() {
            cell.run(finished);
        }
    }

    /// Gives the job the outcome `error` unless it already started (or was cancelled).
    pub(crate) fn settle(mut self, error: ExecError) {
        if let Some(cell) = self.cell.take() {
            cell.settle_unstarted(error);
        }
    }
}

impl Job {
    /// Where the job was submitted.
    pub(crate) fn location(&self) -> &'static Location<'static> {
        self.location
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        if let Some(cell) = self.cell.take() {
            cell.settle_unstarted(ExecError::ShutDown);
        }
    }
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job").finish_non_exhaustive()
    }
}
