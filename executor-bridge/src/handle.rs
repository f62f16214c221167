//! [`Handle`]: the awaitable result of a submitted job, the `concurrent.futures.Future` of the
//! bridge.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use crate::error::ExecError;
use crate::outcome::Outcome;
use crate::process::ReplySource;

/// The result of a job submitted with [`ThreadPool::submit`](crate::ThreadPool::submit) or
/// [`ProcessPool::submit`](crate::ProcessPool::submit): the same type for both pools.
///
/// A `Handle` is a plain [`Future`]: awaiting it suspends the awaiting task (not its thread)
/// until the job finishes, on any executor (evloop, tokio, `futures_lite::future::block_on`...),
/// because the worker simply wakes the [`Waker`] of the last poll. It resolves to `Ok(output)`
/// or to an [`ExecError`] saying why there is none: the job panicked, was cancelled, or was
/// refused by the pool.
///
/// Code that is not async can block on it with [`wait`](Self::wait) or
/// [`wait_timeout`](Self::wait_timeout), check it with [`is_done`](Self::is_done), and
/// [`cancel`](Self::cancel) a job that has not started.
///
/// **Dropping a handle detaches the job**, as with a spawned task: a job that has not started
/// still runs, a running one is not interrupted, and its result is dropped when it finishes.
/// Nothing leaks. To stop the job, [`cancel`](Self::cancel) it before dropping the handle (or,
/// on a process pool, build it with
/// [`cancel_on_drop`](crate::ProcessPoolBuilder::cancel_on_drop)).
///
/// A `Handle<T>` is `Send + Sync + Unpin` (given `T: Send`, which `submit` requires).
///
/// # Examples
///
/// ```
/// use evloop_bridge::ThreadPool;
///
/// let pool = ThreadPool::new();
/// let handle = pool.submit(|| "computed off the loop");
/// // In async code: `handle.await`. Here, outside any executor:
/// assert_eq!(handle.wait(), Ok("computed off the loop"));
/// ```
pub struct Handle<T> {
    /// The job's cell, shared with the worker that runs it.
    cell: Arc<dyn Outcome<T>>,
}

impl<T> Handle<T> {
    /// Wraps a job's cell.
    pub(crate) fn new(cell: Arc<dyn Outcome<T>>) -> Self {
        Handle { cell }
    }

    /// Gives the job the outcome `error` if it has not started (used when the pool cannot
    /// accept it after all).
    pub(crate) fn settle_unstarted(&self, error: ExecError) {
        self.cell.settle_unstarted(error);
    }

    /// Blocks this thread until the job has an outcome, and returns it.
    ///
    /// Do not call this on an event-loop thread: it would freeze every task of the loop until
    /// the job finishes. Await the handle there instead.
    ///
    /// # Errors
    ///
    /// The job's [`ExecError`] if it panicked, was cancelled or was refused by the pool.
    ///
    /// # Panics
    ///
    /// Panics if the outcome was already taken (by [`wait_timeout`](Self::wait_timeout) or by
    /// awaiting the handle).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = evloop_bridge::ThreadPool::new();
    /// let sum = pool.submit(|| (1..=100u32).sum::<u32>());
    /// assert_eq!(sum.wait(), Ok(5050));
    /// ```
    pub fn wait(self) -> Result<T, ExecError> {
        let waker = thread_waker();
        loop {
            match self.cell.poll_claim(&waker) {
                (Poll::Ready(outcome), _) => return outcome,
                // The reply comes on a worker's channel: wait for it there, not for the pool's
                // supervisor thread to relay it.
                (Poll::Pending, Some(source)) => source.wait_readable(None),
                (Poll::Pending, None) => thread::park(),
            }
        }
    }

    /// Blocks this thread until the job has an outcome or `timeout` has passed.
    ///
    /// Returns `Some(outcome)` if the job finished in time. Returns `None` on timeout: the job
    /// keeps going and its result is not lost; the handle still delivers it, through another
    /// `wait_timeout`, [`wait`](Self::wait) or `.await`. Once this returned `Some`, the handle
    /// is spent.
    ///
    /// Do not call this on an event-loop thread: it would freeze every task of the loop.
    ///
    /// # Panics
    ///
    /// Panics if the outcome was already taken.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::{sync::mpsc, time::Duration};
    ///
    /// let pool = evloop_bridge::ThreadPool::new();
    /// let (release, blocked) = mpsc::channel::<()>();
    /// let mut handle = pool.submit(move || {
    ///     blocked.recv().unwrap();
    ///     "done"
    /// });
    /// assert_eq!(handle.wait_timeout(Duration::from_millis(10)), None); // still running
    /// release.send(()).unwrap();
    /// assert_eq!(handle.wait_timeout(Duration::from_secs(30)), Some(Ok("done")));
    /// ```
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<Result<T, ExecError>> {
        let deadline = Instant::now().checked_add(timeout);
        let waker = thread_waker();
        loop {
            let source = match self.cell.poll_claim(&waker) {
                (Poll::Ready(outcome), _) => return Some(outcome),
                (Poll::Pending, source) => source,
            };
            // `None`: a timeout beyond any representable instant.
            let left = deadline.map(|deadline| deadline.saturating_duration_since(Instant::now()));
            if left.is_some_and(|left| left.is_zero()) {
                return None;
            }
            match (source, left) {
                (Some(source), left) => source.wait_readable(left),
                (None, None) => thread::park(),
                (None, Some(left)) => thread::park_timeout(left),
            }
        }
    }

    /// Whether the job has an outcome: it finished (with a result or a panic), or it was
    /// cancelled or refused by the pool. Awaiting a done handle returns at once.
    pub fn is_done(&self) -> bool {
        self.cell.is_done()
    }

    /// Polls the outcome as [`Future::poll`] does, for an executor that can also wait for a
    /// descriptor to become readable: when the job is a process-pool job whose reply this
    /// caller may read from its worker's channel itself, it claims that reading, and
    /// [`reply_source`](Self::reply_source) then gives the channel. Wait until it is readable,
    /// then poll again; the task's waker is registered too, for outcomes that come another way
    /// (cancelled, timed out, a dead worker). The reply then wakes no thread of the pool.
    ///
    /// Once claimed, the reply is read only by polling this handle: an executor that claims it
    /// must watch the source while the job is pending. Any other job (a thread-pool job, a job
    /// the pool's supervisor sent) never has a source, and this is `Future::poll`.
    ///
    /// # Panics
    ///
    /// Panics if the outcome was already taken.
    pub fn poll_claim(&mut self, cx: &mut Context<'_>) -> Poll<Result<T, ExecError>> {
        self.cell.poll_claim(cx.waker()).0
    }

    /// The channel on which this job's reply arrives, while this caller claimed its reading
    /// (with [`poll_claim`](Self::poll_claim)) and it has not arrived whole; `None` otherwise.
    pub fn reply_source(&self) -> Option<ReplySource> {
        self.cell.reply_source()
    }

    /// Cancels the job: on a thread pool, if no worker has started it yet; on a process pool,
    /// also while it runs.
    ///
    /// Returns `true` if the job is cancelled: the handle resolves to
    /// [`ExecError::Cancelled`] at once. A thread-pool job's closure is dropped (on this
    /// thread) without running; a process-pool job is dropped from the queue, or, if it runs,
    /// its worker process is killed (and replaced), so it stops mid-way. Returns `false` if the
    /// job already has another outcome, or, on a thread pool, if a worker already started it
    /// (a thread cannot be interrupted: the job finishes and the handle delivers its outcome
    /// as usual). As with `concurrent.futures.Future.cancel`, cancelling a cancelled job
    /// returns `true` again.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::mpsc;
    /// use evloop_bridge::{ExecError, ThreadPool};
    ///
    /// let pool = ThreadPool::builder().max_workers(1).build()?;
    /// let (release, blocked) = mpsc::channel::<()>();
    /// let busy = pool.submit(move || blocked.recv().unwrap()); // occupies the only worker
    /// let queued = pool.submit(|| unreachable!("cancelled before it started"));
    /// assert!(queued.cancel());
    /// assert_eq!(queued.wait(), Err(ExecError::Cancelled));
    /// release.send(()).unwrap();
    /// assert_eq!(busy.wait(), Ok(()));
    /// # Ok::<(), evloop_bridge::BuildError>(())
    /// ```
    pub fn cancel(&self) -> bool {
        self.cell.cancel()
    }
}

impl<T> Future for Handle<T> {
    type Output = Result<T, ExecError>;

    /// Returns the outcome if the job has one; otherwise registers the task's waker, which the
    /// worker wakes (from its thread) when it stores the outcome.
    ///
    /// # Panics
    ///
    /// Panics if polled again after it returned `Ready`.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.cell.poll_outcome(cx.waker())
    }
}

impl<T> Drop for Handle<T> {
    /// Detaches the job (or, on a process pool configured to cancel on drop, cancels it).
    fn drop(&mut self) {
        self.cell.handle_dropped();
    }
}

impl<T> fmt::Debug for Handle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("done", &self.is_done())
            .finish()
    }
}

/// Unparks the thread that created it: the waker of the blocking waits.
struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

thread_local! {
    /// This thread's [`Unpark`] waker, made once so a blocking wait allocates nothing.
    static THREAD_WAKER: Waker = Waker::from(Arc::new(Unpark(thread::current())));
}

/// A waker that unparks the current thread.
fn thread_waker() -> Waker {
    THREAD_WAKER
        .try_with(Waker::clone)
        // Only while this thread's thread-locals are being destroyed.
        .unwrap_or_else(|_| Waker::from(Arc::new(Unpark(thread::current()))))
}
