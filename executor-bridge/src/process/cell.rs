//! A process-pool job's cell: what its [`Handle`](crate::Handle) and the pool's supervisor
//! share.
//!
//! The supervisor sees a [`Task`] (start it, complete it from a reply, fail it); the handle
//! sees an [`Outcome`]. Unlike a thread-pool job, a running job can be cancelled: the cell
//! resolves at once to [`ExecError::Cancelled`] and asks the pool, through [`StopJob`], to
//! kill the worker running it.
//!
//! A job that a submitter sent straight to a lent worker is *attached* to that worker's
//! [`Link`]: its handle may then read the reply from the worker's channel itself, without the
//! supervisor (see `link.rs`).

use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::task::{Poll, Waker};

use crate::error::ExecError;
use crate::outcome::{poll_state, Outcome, Stage, State};
use crate::process::link::{Ask, Link, Look};
use crate::process::shared::{Notice, Shared};
use crate::process::source::ReplySource;

/// The pool, as a cell sees it.
pub(crate) trait StopJob: Send + Sync {
    /// Job `job` was cancelled: drop it if it is still queued, kill its worker if it runs.
    fn stop_job(&self, job: u64);
}

/// The supervisor's (and submitters') view of a job, erased over its result type.
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

    /// Attaches the job to the worker it was sent to directly (`Some`), or detaches it.
    fn attach(&self, link: Option<Arc<Link>>);
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
    /// The worker the job was sent to directly, while the job may be running there: its
    /// handle reads the reply itself when it can.
    via: Mutex<Option<Arc<Link>>>,
    /// The pool, to stop the job, to give a worker back and to tell the supervisor who reads
    /// a reply; dangling once the pool has finished.
    pool: Weak<Shared>,
    /// Whether dropping the handle cancels the job.
    cancel_on_drop: bool,
}

impl<T> JobCell<T> {
    /// A queued job.
    pub(crate) fn new(
        id: u64,
        decode: Decode<T>,
        pool: Weak<Shared>,
        cancel_on_drop: bool,
    ) -> Self {
        JobCell {
            id,
            decode,
            state: Mutex::new(State::queued(())),
            via: Mutex::new(None),
            pool,
            cancel_on_drop,
        }
    }

    /// Locks the state; nothing panics under the lock except a foreign `Waker::clone`, after
    /// which the state is still consistent.
    fn lock(&self) -> MutexGuard<'_, State<(), T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Attaches the job to the worker it was sent to directly, or detaches it.
    fn set_via(&self, link: Option<Arc<Link>>) {
        let old = std::mem::replace(
            &mut *self.via.lock().unwrap_or_else(PoisonError::into_inner),
            link,
        );
        drop(old); // outside the lock: the last reference to a link closes its channel
    }

    /// The worker the job was sent to directly, if it is still attached.
    fn via(&self) -> Option<Arc<Link>> {
        self.via
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Stores `outcome` if the job has none yet, and wakes the waiting side (unless `quiet`:
    /// the waiting side is the caller, about to take it); returns the stage the job was in, or
    /// `None` if it already had an outcome.
    fn settle(&self, outcome: Result<T, ExecError>, quiet: bool) -> Option<bool> {
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
        match waker {
            Some(waker) if !quiet => waker.wake(),
            stale => drop(stale),
        }
        Some(was_running)
    }

    /// Looks at the reply on the worker the job was sent to (if it still runs there), reading
    /// what the channel holds. Delivers the outcome if the reply is complete (giving the worker
    /// back first, so that the caller's next job finds it lent), waking the registered waker
    /// unless `quiet` (the asker is the waiting side, about to take the outcome); tells the
    /// supervisor if the reply is now its to read. Returns the channel to wait for if the caller
    /// reads the reply (`Ask::Claim`, or `Ask::Poll` after a claim) and it is not complete yet.
    fn look(&self, ask: Ask, quiet: bool) -> Option<Arc<Link>> {
        let link = self.via()?;
        match link.look(self.id, ask) {
            Look::Reply(payload) => {
                self.set_via(None);
                if let Some(pool) = self.pool.upgrade() {
                    link.give_back(&pool);
                }
                if matches!(self.lock().stage, Stage::Running) {
                    self.settle((self.decode)(&payload), quiet);
                }
                if let Some(pool) = self.pool.upgrade() {
                    pool.jobs_done(1);
                }
                None
            }
            Look::Pending { claimed, notify } => {
                if notify {
                    if let Some(pool) = self.pool.upgrade() {
                        pool.notice(Notice::Read(link.generation()));
                    }
                }
                claimed.then_some(link)
            }
            Look::Gone => {
                self.set_via(None);
                None
            }
        }
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
        self.set_via(None);
        if matches!(self.lock().stage, Stage::Running) {
            self.settle((self.decode)(payload), false);
        }
    }

    fn fail(&self, error: ExecError) {
        self.set_via(None);
        self.settle(Err(error), false);
    }

    fn attach(&self, link: Option<Arc<Link>>) {
        self.set_via(link);
    }
}

impl<T: Send> Outcome<T> for JobCell<T> {
    fn poll_outcome(&self, waker: &Waker) -> Poll<Result<T, ExecError>> {
        self.look(Ask::Poll, true);
        poll_state(self.lock(), waker)
    }

    fn poll_claim(&self, waker: &Waker) -> (Poll<Result<T, ExecError>>, Option<ReplySource>) {
        let source = self.look(Ask::Claim, true);
        match poll_state(self.lock(), waker) {
            Poll::Ready(outcome) => (Poll::Ready(outcome), None),
            Poll::Pending => (Poll::Pending, source.map(ReplySource::new)),
        }
    }

    fn reply_source(&self) -> Option<ReplySource> {
        let link = self.via()?;
        link.is_read_by_caller(self.id)
            .then(|| ReplySource::new(link))
    }

    /// Cancels the job whether queued or running: the outcome is `Cancelled` at once, and
    /// the pool drops the queued job or kills the worker running it.
    fn cancel(&self) -> bool {
        if self.settle(Err(ExecError::Cancelled), false).is_some() {
            if let Some(pool) = self.pool.upgrade() {
                pool.stop_job(self.id);
            }
            return true;
        }
        matches!(self.lock().stage, Stage::Done(Err(ExecError::Cancelled)))
    }

    fn is_done(&self) -> bool {
        self.look(Ask::Poll, false);
        matches!(self.lock().stage, Stage::Done(_) | Stage::Taken)
    }

    fn settle_unstarted(&self, error: ExecError) -> bool {
        let queued = matches!(self.lock().stage, Stage::Queued(()));
        queued && self.settle(Err(error), false).is_some()
    }

    fn handle_dropped(&self) {
        if self.cancel_on_drop {
            self.cancel();
        }
        // Nobody will read the reply here any more: the supervisor does (and frees the worker).
        if let Some(link) = self.via() {
            self.set_via(None);
            if link.abandon(self.id) {
                if let Some(pool) = self.pool.upgrade() {
                    pool.notice(Notice::Read(link.generation()));
                }
            }
        }
    }
}
