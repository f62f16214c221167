//! A process-pool job's cell: what its [`Handle`](crate::Handle) and the pool's supervisor
//! share.
//!
//! The supervisor sees a [`Task`] (start it, complete it from a reply, fail it); the handle
//! sees an [`Outcome`]. Unlike a thread-pool job, a running job can be cancelled: the cell
//! resolves at once to [`ExecError::Cancelled`] and asks the pool, through [`StopJob`], to
//! kill the worker running it.

use std::sync::{Mutex, MutexGuard, PoisonError, Weak};
use std::task::{Poll, Waker};

use crate::error::ExecError;
use crate::outcome::{poll_state, Outcome, Stage, State};

/// The pool, as a cell sees it: the only thing a cell asks of it is to stop a job.
pub(crate) trait StopJob: Send + Sync {
    /// Job `job` was cancelled: drop it if it is still queued, kill its worker if it runs.
    fn stop_job(&self, job: u64);
}

/// The supervisor's view of a job, erased over its result type.
pub(crate) trait Task: Send + Sync {
    /// A worker is about to run the job: `Queued` → `Running` (or `Running` again, for a job
    /// whose first worker died before it took it). False if it already has an outcome
    /// (cancelled), in which case it must not run.
    fn start(&self) -> bool;

    /// The worker's reply arrived: decodes it and stores the outcome, unless the job already
    /// has one.
    fn complete(&self, payload: &[u8]);

    /// Stores `error` as the outcome, unless the job already has one.
    fn fail(&self, error: ExecError);
}

/// Turns a reply payload into a job's result.
pub(crate) type Decode<T> = Box<dyn Fn(&[u8]) -> Result<T, ExecError> + Send + Sync>;

/// A job's cell.
pub(crate) struct JobCell<T> {
    /// The job's id in its pool (the frames' job id).
    id: u64,
    /// Decodes the worker's reply into the result.
    decode: Decode<T>,
    /// Where the job is, and the waiting side's waker.
    state: Mutex<State<(), T>>,
    /// The pool, to stop the job on cancel; dangling once the pool has finished.
    pool: Weak<dyn StopJob>,
    /// Whether dropping the handle cancels the job.
    cancel_on_drop: bool,
}

impl<T> JobCell<T> {
    /// A queued job.
    pub(crate) fn new(
        id: u64,
        decode: Decode<T>,
        pool: Weak<dyn StopJob>,
        cancel_on_drop: bool,
    ) -> Self {
        JobCell {
            id,
            decode,
            state: Mutex::new(State::queued(())),
            pool,
            cancel_on_drop,
        }
    }

    /// Locks the state; nothing panics under the lock except a foreign `Waker::clone`, after
    /// which the state is still consistent.
    fn lock(&self) -> MutexGuard<'_, State<(), T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stores `outcome` if the job has none yet, and wakes the waiting side; returns the
    /// stage the job was in, or `None` if it already had an outcome.
    fn settle(&self, outcome: Result<T, ExecError>) -> Option<bool> {
        let (waker, was_running) = {
            let mut state = self.lock();
            let was_running = match state.stage {
                Stage::Queued(()) => false,
                Stage::Running => true,
                Stage::Done(_) | Stage::Taken => return None,
            };
            state.stage = Stage::Done(outcome);
            (state.waker.take(), was_running)
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        Some(was_running)
    }
}

impl<T: Send> Task for JobCell<T> {
    fn start(&self) -> bool {
        let mut state = self.lock();
        if matches!(state.stage, Stage::Queued(()) | Stage::Running) {
            state.stage = Stage::Running;
            true
        } else {
            false
        }
    }

    fn complete(&self, payload: &[u8]) {
        if matches!(self.lock().stage, Stage::Running) {
            self.settle((self.decode)(payload));
        }
    }

    fn fail(&self, error: ExecError) {
        self.settle(Err(error));
    }
}

impl<T: Send> Outcome<T> for JobCell<T> {
    fn poll_outcome(&self, waker: &Waker) -> Poll<Result<T, ExecError>> {
        poll_state(self.lock(), waker)
    }

    /// Cancels the job whether queued or running: the outcome is `Cancelled` at once, and
    /// the pool drops the queued job or kills the worker running it.
    fn cancel(&self) -> bool {
        if self.settle(Err(ExecError::Cancelled)).is_some() {
            if let Some(pool) = self.pool.upgrade() {
                pool.stop_job(self.id);
            }
            return true;
        }
        matches!(self.lock().stage, Stage::Done(Err(ExecError::Cancelled)))
    }

    fn is_done(&self) -> bool {
        matches!(self.lock().stage, Stage::Done(_) | Stage::Taken)
    }

    fn settle_unstarted(&self, error: ExecError) -> bool {
        let queued = matches!(self.lock().stage, Stage::Queued(()));
        queued && self.settle(Err(error)).is_some()
    }

    fn handle_dropped(&self) {
        if self.cancel_on_drop {
            self.cancel();
        }
    }
}
