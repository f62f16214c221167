//! [`Outcome`]: what a [`Handle`](crate::Handle) needs from the cell of the job it stands for.
//!
//! Each pool keeps its jobs in its own kind of cell (the thread pool's holds the closure, the
//! process pool's the encoded call); both implement this trait, so one `Handle<T>` type serves
//! them all. Neither the handle nor the cells know each other: the pools put them together.

use std::mem;
use std::sync::MutexGuard;
use std::task::{Poll, Waker};

use crate::error::ExecError;
use crate::process::ReplySource;

/// The handle's view of a job, erased over how and where the job runs.
pub(crate) trait Outcome<T>: Send + Sync {
    /// Takes the outcome if there is one, otherwise registers `waker` to be woken when there is.
    ///
    /// # Panics
    ///
    /// Panics if the outcome was already taken.
    fn poll_outcome(&self, waker: &Waker) -> Poll<Result<T, ExecError>>;

    /// [`poll_outcome`](Self::poll_outcome) for a caller that can wait for a descriptor: a
    /// process-pool job whose reply this caller may read itself comes back `Pending` with the
    /// channel to wait for. Other jobs never have one.
    fn poll_claim(&self, waker: &Waker) -> (Poll<Result<T, ExecError>>, Option<ReplySource>) {
        (self.poll_outcome(waker), None)
    }

    /// The channel this caller reads the job's reply from, if it claimed it (through
    /// [`poll_claim`](Self::poll_claim)) and the reply is not complete yet.
    fn reply_source(&self) -> Option<ReplySource> {
        None
    }

    /// Cancels the job if the pool can still stop it; whether it is (now) cancelled.
    fn cancel(&self) -> bool;

    /// Whether the job has an outcome (or had one, since taken).
    fn is_done(&self) -> bool;

    /// Gives the job the outcome `error` if it has not started; whether it had not.
    fn settle_unstarted(&self, error: ExecError) -> bool;

    /// The handle was dropped (whether or not it took the outcome). By default the job is
    /// detached and goes on; a pool configured to cancel on drop stops it here.
    fn handle_dropped(&self) {}
}

/// The mutable part of either pool's job cell, behind the cell's one lock.
pub(crate) struct State<Q, T> {
    /// Where the job is in its life.
    pub(crate) stage: Stage<Q, T>,
    /// The waker of the last poll that returned `Pending`, woken when the outcome is stored.
    /// `None` while nobody waits: a job whose handle is first polled after it finished (or
    /// never) costs no wake-up.
    pub(crate) waker: Option<Waker>,
}

/// A job's life: `Queued` → `Running` → `Done` → `Taken`, or straight to `Done` with an error
/// when it is cancelled, refused or shut down (the process pool also fails running jobs: a
/// cancelled or timed-out job, a dead worker).
pub(crate) enum Stage<Q, T> {
    /// Submitted, not started. `Q` is what the queue holds for it: the thread pool's closure,
    /// nothing for the process pool (its call frame waits in the pool's own queue).
    Queued(Q),
    /// A worker runs it.
    Running,
    /// The outcome, waiting for the handle to take it.
    Done(Result<T, ExecError>),
    /// The handle took the outcome.
    Taken,
}

impl<Q, T> State<Q, T> {
    /// A queued job that nobody waits for yet.
    pub(crate) fn queued(queued: Q) -> Self {
        State {
            stage: Stage::Queued(queued),
            waker: None,
        }
    }
}

/// [`Outcome::poll_outcome`] for either cell, given its locked state: takes the outcome if
/// there is one, otherwise registers `waker`. The lock is released before a replaced waker is
/// dropped (its destructor is foreign code) and before the panic.
///
/// # Panics
///
/// Panics if the outcome was already taken.
pub(crate) fn poll_state<Q, T>(
    mut state: MutexGuard<'_, State<Q, T>>,
    waker: &Waker,
) -> Poll<Result<T, ExecError>> {
    match &state.stage {
        Stage::Done(_) => {
            let Stage::Done(outcome) = mem::replace(&mut state.stage, Stage::Taken) else {
                unreachable!("matched above");
            };
            let stale = state.waker.take();
            drop(state);
            drop(stale);
            Poll::Ready(outcome)
        }
        Stage::Taken => {
            drop(state);
            panic!("evloop_bridge::Handle used after it returned the job's result")
        }
        Stage::Queued(_) | Stage::Running => {
            let stale = match &mut state.waker {
                Some(registered) if registered.will_wake(waker) => None,
                slot => slot.replace(waker.clone()),
            };
            drop(state);
            drop(stale);
            Poll::Pending
        }
    }
}
