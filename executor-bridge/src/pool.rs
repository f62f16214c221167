//! [`ThreadPool`]: the `concurrent.futures.ThreadPoolExecutor` of the bridge.

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use crossbeam_channel::{Sender, TrySendError};

use crate::builder::{FullQueuePolicy, ThreadPoolBuilder};
use crate::error::ExecError;
use crate::finished::Finished;
use crate::handle::Handle;
use crate::job::{self, Job};
use crate::worker::Shared;

/// A pool of worker threads that runs blocking functions: the
/// `concurrent.futures.ThreadPoolExecutor` equivalent, the executor of the lecture's
/// `loop.run_in_executor(executor, fn)`.
///
/// [`submit`](Self::submit) queues a closure and returns a [`Handle`] that an async task
/// awaits while its loop keeps serving every other task. Workers start on demand, up to
/// [`max_workers`](ThreadPoolBuilder::max_workers), and exit after
/// [`keep_alive`](ThreadPoolBuilder::keep_alive) without work. A panicking job resolves its
/// handle to [`ExecError::Panicked`]; its worker goes on serving (the panic hook still reports
/// the panic on stderr, as for any thread).
///
/// `ThreadPool` is a cheap handle: clones share the same workers and queue. When the last
/// clone is dropped the pool shuts down gracefully without blocking the dropping thread (which
/// may be an event loop's), as with [`shutdown(false, false)`](Self::shutdown): queued jobs
/// still run, and the workers exit on their own once the queue is empty. To wait for them,
/// call [`shutdown(true, false)`](Self::shutdown) from a thread that may block, or await
/// [`finished`](Self::finished) from async code.
///
/// # Examples
///
/// ```
/// use evloop_bridge::ThreadPool;
///
/// let pool = ThreadPool::new();
/// let checksum = futures_lite::future::block_on(async {
///     // A blocking computation, run on a worker while this task is suspended.
///     pool.submit(|| (0..1_000u32).fold(0u32, |h, x| h.rotate_left(5) ^ x)).await
/// })
/// .unwrap();
/// assert_ne!(checksum, 0);
/// ```
#[derive(Clone)]
pub struct ThreadPool {
    /// The state all clones share; dropping the last clone shuts the pool down.
    inner: Arc<Inner>,
}

/// The state of a pool shared by its clones (the workers share only [`Shared`], so this is
/// dropped with the last [`ThreadPool`] clone).
struct Inner {
    /// The sending side of the job queue, `None` once the pool is shut down. Submitters hold
    /// the read lock while they queue a job; [`shutdown`](ThreadPool::shutdown) takes the write
    /// lock, so no job can be queued after it, and dropping the sender tells the workers (once
    /// they have emptied the queue) to exit.
    sender: RwLock<Option<Sender<Job>>>,
    /// What the workers share.
    shared: Arc<Shared>,
    /// The queue's bound, if it has one.
    queue_bound: Option<usize>,
    /// What `submit` does when the bounded queue is full.
    full_queue_policy: FullQueuePolicy,
}

impl ThreadPool {
    /// A pool with the default settings (see [`ThreadPoolBuilder`]): up to
    /// `min(32, CPUs + 4)` workers, an unbounded queue, 10 s keep-alive. No thread starts
    /// until the first job is submitted.
    pub fn new() -> Self {
        ThreadPoolBuilder::new()
            .build()
            .expect("the default thread pool settings are valid")
    }

    /// A builder to configure a pool.
    pub fn builder() -> ThreadPoolBuilder {
        ThreadPoolBuilder::new()
    }

    /// Creates the pool from the parts its builder assembled: the sending side of the job
    /// queue, the workers' shared state (holding the receiving side), and the queue's bound
    /// and policy.
    pub(crate) fn from_parts(
        sender: Sender<Job>,
        shared: Shared,
        queue_bound: Option<usize>,
        full_queue_policy: FullQueuePolicy,
    ) -> Self {
        ThreadPool {
            inner: Arc::new(Inner {
                sender: RwLock::new(Some(sender)),
                shared: Arc::new(shared),
                queue_bound,
                full_queue_policy,
            }),
        }
    }

    /// Queues `f` to run on a worker thread and returns a [`Handle`] to its result.
    ///
    /// A worker that is waiting takes the job; if none is and fewer than `max_workers` are
    /// alive, a new one starts (on this thread's time: starting a thread takes tens of
    /// microseconds, once). Otherwise the job waits for a worker to finish its current one.
    ///
    /// With the default unbounded queue this never blocks and the job is never refused. With
    /// a [`queue_bound`](ThreadPoolBuilder::queue_bound), a full queue makes the handle
    /// resolve to [`ExecError::QueueFull`] at once, or blocks this thread until there is room,
    /// as the [`FullQueuePolicy`] says. After [`shutdown`](Self::shutdown), the handle resolves
    /// to [`ExecError::ShutDown`] at once.
    ///
    /// As with `ThreadPoolExecutor`, a job that blocks on the result of another job of the same
    /// pool can deadlock: when every worker runs such a job, none is left for the jobs they
    /// wait for.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use futures_lite::future;
    ///
    /// let pool = evloop_bridge::ThreadPool::new();
    /// let (a, b) = future::block_on(async {
    ///     // Both jobs run on workers while this task is suspended in `zip`.
    ///     let a = pool.submit(|| std::thread::sleep(Duration::from_millis(20)));
    ///     let b = pool.submit(|| "second");
    ///     future::zip(a, b).await
    /// });
    /// assert_eq!((a, b), (Ok(()), Ok("second")));
    /// ```
    #[track_caller]
    pub fn submit<F, T>(&self, f: F) -> Handle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (job, cell) = job::new(f, std::panic::Location::caller());
        let handle = Handle::new(cell);
        let sender = self
            .inner
            .sender
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let Some(sender) = sender.as_ref() else {
            job.settle(ExecError::ShutDown);
            return handle;
        };
        let shared = &self.inner.shared;
        if let (Some(capacity), FullQueuePolicy::Reject) =
            (self.inner.queue_bound, self.inner.full_queue_policy)
        {
            // Queue first: a rejected job must not start a worker.
            match sender.try_send(job) {
                Ok(()) => {
                    if let Err(error) = shared.reserve_worker() {
                        handle.settle_unstarted(ExecError::SpawnFailed(error.to_string()));
                    }
                }
                Err(TrySendError::Full(job)) => job.settle(ExecError::QueueFull { capacity }),
                // The pool keeps a receiver: never happens, but a job is never lost.
                Err(TrySendError::Disconnected(job)) => job.settle(ExecError::ShutDown),
            }
        } else {
            // Count the job before it becomes visible, so no worker misjudges itself idle.
            if let Err(error) = shared.reserve_worker() {
                job.settle(ExecError::SpawnFailed(error.to_string()));
                return handle;
            }
            // Blocks only with a full bounded queue and `FullQueuePolicy::Block`.
            if let Err(error) = sender.send(job) {
                shared.unreserve();
                error.into_inner().settle(ExecError::ShutDown);
            }
        }
        handle
    }

    /// Shuts the pool down, with the semantics of Python's
    /// `Executor.shutdown(wait, cancel_futures)`.
    ///
    /// From now on, [`submit`](Self::submit) returns handles that resolve to
    /// [`ExecError::ShutDown`] at once. If `cancel_pending` is true, the jobs still queued are
    /// dropped without running (on this thread) and their handles resolve to
    /// [`ExecError::ShutDown`]; otherwise they still run. Running jobs are never interrupted.
    /// If `wait` is true, this returns once every job that is to run has finished and every
    /// worker thread has been joined; otherwise it returns at once, and the workers exit on
    /// their own when the queue is empty. Calling it again is harmless.
    ///
    /// Called from a job running on this pool, it does not wait for that job's own worker,
    /// which exits after the job returns.
    ///
    /// With `wait`, this blocks the calling thread: do not call it on an event-loop thread
    /// while jobs may run for long. Async code calls `shutdown(false, ..)` and awaits
    /// [`finished`](Self::finished) instead.
    ///
    /// # Examples
    ///
    /// ```
    /// use evloop_bridge::{ExecError, ThreadPool};
    ///
    /// let pool = ThreadPool::new();
    /// let before = pool.submit(|| "ran");
    /// pool.shutdown(true, false);
    /// assert_eq!(before.wait(), Ok("ran"));
    /// assert_eq!(pool.submit(|| "too late").wait(), Err(ExecError::ShutDown));
    /// ```
    pub fn shutdown(&self, wait: bool, cancel_pending: bool) {
        self.inner.shutdown(wait, cancel_pending);
    }

    /// A future that resolves once the pool is shut down (by [`shutdown`](Self::shutdown) or
    /// by dropping its last clone) and every worker thread has finished its last job and
    /// exited: the awaitable counterpart of `shutdown(true, ..)`, for async code. It does not
    /// shut the pool down itself, nor keep it alive: take it, then drop the pool.
    ///
    /// A worker counts as exited once it has left its job loop; its thread-local destructors
    /// may still be running.
    ///
    /// # Examples
    ///
    /// ```
    /// use evloop_bridge::ThreadPool;
    ///
    /// let pool = ThreadPool::new();
    /// let job = pool.submit(|| std::thread::sleep(std::time::Duration::from_millis(20)));
    /// let finished = pool.finished();
    /// drop(pool); // returns at once; the queued job still runs
    /// futures_lite::future::block_on(finished);
    /// assert!(job.is_done());
    /// ```
    pub fn finished(&self) -> Finished {
        Finished::new(self.inner.shared.clone())
    }

    /// Where the jobs running now were submitted (the callers of [`submit`](Self::submit)),
    /// one entry per running job: for reports about jobs that take too long.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::mpsc;
    ///
    /// let pool = evloop_bridge::ThreadPool::new();
    /// let (started, release) = (mpsc::channel(), mpsc::channel::<()>());
    /// let (started_tx, started_rx) = started;
    /// let (release_tx, release_rx) = release;
    /// let line = line!() + 1;
    /// let job = pool.submit(move || {
    ///     started_tx.send(()).unwrap();
    ///     release_rx.recv().unwrap();
    /// });
    /// started_rx.recv().unwrap();
    /// let running = pool.running_jobs();
    /// assert_eq!(running.len(), 1);
    /// assert_eq!(running[0].line(), line);
    /// release_tx.send(()).unwrap();
    /// job.wait().unwrap();
    /// ```
    pub fn running_jobs(&self) -> Vec<&'static std::panic::Location<'static>> {
        self.inner.shared.running_jobs()
    }

    /// The most worker threads this pool runs at once.
    pub fn max_workers(&self) -> usize {
        self.inner.shared.max_workers
    }

    /// The worker threads alive now (busy or idle).
    pub fn worker_count(&self) -> usize {
        self.inner.shared.workers()
    }
}

impl Inner {
    /// See [`ThreadPool::shutdown`].
    fn shutdown(&self, wait: bool, cancel_pending: bool) {
        // Waits for the submissions in progress; dropping the sender disconnects the queue.
        let sender = self
            .sender
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        drop(sender);
        self.shared.close();
        if cancel_pending {
            while let Ok(job) = self.shared.receiver.try_recv() {
                job.settle(ExecError::ShutDown);
            }
        }
        if wait {
            self.shared.join_workers();
        }
    }
}

impl Drop for Inner {
    /// The last [`ThreadPool`] clone is gone: the queued jobs still run and the workers exit
    /// once the queue is empty, but nothing here waits for them, so the dropping thread (maybe
    /// an event loop's) never blocks. [`ThreadPool::finished`] waits for them if needed.
    fn drop(&mut self) {
        self.shutdown(false, false);
    }
}

impl Default for ThreadPool {
    fn default() -> Self {
        ThreadPool::new()
    }
}

impl fmt::Debug for ThreadPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shut_down = self
            .inner
            .sender
            .try_read()
            .map(|sender| sender.is_none())
            .ok();
        f.debug_struct("ThreadPool")
            .field("max_workers", &self.max_workers())
            .field("workers", &self.worker_count())
            .field("queued", &self.inner.shared.receiver.len())
            .field("queue_bound", &self.inner.queue_bound)
            .field("shut_down", &shut_down)
            .finish()
    }
}
