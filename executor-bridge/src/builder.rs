//! [`ThreadPoolBuilder`]: sizing, thread names, idle timeout and queue bound of a
//! [`ThreadPool`].

use std::time::Duration;

use crate::error::BuildError;
use crate::pool::ThreadPool;
use crate::worker::Shared;

/// What [`ThreadPool::submit`] does when a bounded queue is full; see
/// [`ThreadPoolBuilder::queue_bound`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum FullQueuePolicy {
    /// `submit` returns at once with a handle that resolves to
    /// [`ExecError::QueueFull`](crate::ExecError::QueueFull). It never blocks, so it is safe
    /// on an event-loop thread. The default.
    #[default]
    Reject,
    /// `submit` blocks the submitting thread until the queue has room: backpressure for a
    /// producer that outruns the workers.
    ///
    /// **Only for producers that are not an event-loop thread**: blocking a loop thread freezes
    /// every task of the loop (and, if the job queue is full of jobs awaited by that loop's
    /// tasks, may never end). Nor from a job of the same pool: with every worker blocked
    /// submitting, nobody would make room.
    Block,
}

/// Configures a [`ThreadPool`]; created by [`ThreadPool::builder`].
///
/// The defaults are those of Python's `ThreadPoolExecutor`: at most
/// `min(32, number of CPUs + 4)` workers, started on demand, and an unbounded queue.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use evloop_bridge::{FullQueuePolicy, ThreadPool};
///
/// let pool = ThreadPool::builder()
///     .max_workers(4)
///     .thread_name_prefix("resize")
///     .keep_alive(Duration::from_secs(30))
///     .queue_bound(Some(1000))
///     .full_queue_policy(FullQueuePolicy::Reject)
///     .build()?;
/// assert_eq!(pool.submit(|| 2 + 2).wait(), Ok(4));
/// # Ok::<(), evloop_bridge::BuildError>(())
/// ```
#[derive(Debug, Clone)]
pub struct ThreadPoolBuilder {
    /// Most worker threads alive at once.
    max_workers: usize,
    /// Worker `n` is named `{prefix}-{n}`.
    thread_name_prefix: String,
    /// How long an idle worker waits for a job before it exits.
    keep_alive: Duration,
    /// How long a worker that finished a job polls the queue before it parks.
    spin: Duration,
    /// Most jobs waiting in the queue (not counting running ones); `None` for no bound.
    queue_bound: Option<usize>,
    /// What `submit` does when the bounded queue is full.
    full_queue_policy: FullQueuePolicy,
}

impl ThreadPoolBuilder {
    /// A builder with the default settings.
    pub fn new() -> Self {
        ThreadPoolBuilder {
            max_workers: default_max_workers(),
            thread_name_prefix: "evloop-pool".to_owned(),
            keep_alive: Duration::from_secs(10),
            spin: crate::worker::DEFAULT_SPIN,
            queue_bound: None,
            full_queue_policy: FullQueuePolicy::Reject,
        }
    }

    /// Sets the most worker threads alive at once (Python's `max_workers`).
    ///
    /// Default: `min(32, number of CPUs + 4)`, Python's default, which suits jobs that mostly
    /// wait (files, name resolution, blocking libraries). Zero is refused by
    /// [`build`](Self::build).
    pub fn max_workers(mut self, n: usize) -> Self {
        self.max_workers = n;
        self
    }

    /// Sets the name prefix of the worker threads: worker `n` is named `{prefix}-{n}`, as shown
    /// by debuggers, `top -H` and `/proc/<pid>/task/*/comm` (Linux keeps the first 15 bytes).
    ///
    /// Default: `"evloop-pool"`.
    pub fn thread_name_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.thread_name_prefix = prefix.into();
        self
    }

    /// Sets how long an idle worker waits for a job before its thread exits. A later job
    /// starts a new worker.
    ///
    /// Default: 10 seconds.
    pub fn keep_alive(mut self, keep_alive: Duration) -> Self {
        self.keep_alive = keep_alive;
        self
    }

    /// Sets how long a worker that finished a job keeps polling the queue for the next one
    /// before it parks on a futex.
    ///
    /// A caller that awaits each job and then submits the next finds the worker still polling
    /// and saves two wake-ups per job (the submitter's futex wake and the worker's scheduling
    /// latency); the price is at most this much CPU time after each job, and none while the
    /// pool is idle. `Duration::ZERO` parks at once: the least CPU, for pools whose jobs
    /// arrive far apart or on machines where every core is busy.
    ///
    /// Default: 50 µs (the reasoning and the measurements are next to the constant in
    /// `src/worker.rs`).
    pub fn spin(mut self, spin: Duration) -> Self {
        self.spin = spin;
        self
    }

    /// Bounds the number of jobs waiting in the queue (jobs being run do not count), or
    /// removes the bound with `None`. What happens to a job submitted while the queue is full
    /// is set by [`full_queue_policy`](Self::full_queue_policy).
    ///
    /// Default: `None`, an unbounded queue: `submit` never blocks and never rejects.
    /// `Some(0)` is refused by [`build`](Self::build).
    pub fn queue_bound(mut self, bound: Option<usize>) -> Self {
        self.queue_bound = bound;
        self
    }

    /// Sets what `submit` does when the bounded queue is full; ignored without a bound.
    ///
    /// Default: [`FullQueuePolicy::Reject`].
    pub fn full_queue_policy(mut self, policy: FullQueuePolicy) -> Self {
        self.full_queue_policy = policy;
        self
    }

    /// Creates the pool. No thread starts yet: workers start on demand, as jobs arrive.
    ///
    /// # Errors
    ///
    /// A [`BuildError`] if `max_workers` is zero, the queue bound is `Some(0)`, or the thread
    /// name prefix contains a NUL byte.
    pub fn build(self) -> Result<ThreadPool, BuildError> {
        if self.max_workers == 0 {
            return Err(BuildError::ZeroWorkers);
        }
        if self.queue_bound == Some(0) {
            return Err(BuildError::ZeroQueueBound);
        }
        if self.thread_name_prefix.contains('\0') {
            return Err(BuildError::NulInThreadName);
        }
        let (sender, receiver) = match self.queue_bound {
            Some(bound) => crossbeam_channel::bounded(bound),
            None => crossbeam_channel::unbounded(),
        };
        let shared = Shared::new(
            receiver,
            self.max_workers,
            self.keep_alive,
            self.spin,
            self.thread_name_prefix,
        );
        Ok(ThreadPool::from_parts(
            sender,
            shared,
            self.queue_bound,
            self.full_queue_policy,
        ))
    }
}

impl Default for ThreadPoolBuilder {
    fn default() -> Self {
        ThreadPoolBuilder::new()
    }
}

/// Python's default `max_workers`: `min(32, os.cpu_count() + 4)`.
fn default_max_workers() -> usize {
    (num_cpus::get() + 4).min(32)
}
