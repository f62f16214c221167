//! [`ProcessPool`]: the `concurrent.futures.ProcessPoolExecutor` of the bridge.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::ExecError;
use crate::finished::Finished;
use crate::handle::Handle;
use crate::process::builder::ProcessPoolBuilder;
use crate::process::cell::{Decode, JobCell, Task};
use crate::process::frame::{self, Bytes, Call, CALL};
use crate::process::function::{ProcessFn, Registry};
use crate::process::map::Map;
use crate::process::shared::{Pending, Shared};

/// A pool of worker processes that runs registered functions: the
/// `concurrent.futures.ProcessPoolExecutor` equivalent, for CPU-bound work that must neither
/// hold up an event loop nor share its process.
///
/// Workers are this program's own executable started again in worker mode (see
/// [`init`](crate::process::init)), each with a private channel; one supervisor thread per
/// pool watches them all. [`submit`](Self::submit) returns the same [`Handle`] as the thread
/// pool. What a process pool adds:
///
/// - **A running job can be stopped**: [`Handle::cancel`] (and a [job
///   timeout](ProcessPoolBuilder::job_timeout), and with
///   [`cancel_on_drop`](ProcessPoolBuilder::cancel_on_drop) dropping the handle) kills the
///   worker running it, resolves the job to [`ExecError::Cancelled`] /
///   [`ExecError::TimedOut`] at once and starts a replacement. No thread pool can do this:
///   pick the process pool for long CPU work that may have to be abandoned.
/// - **A dead worker fails only its own job** with [`ExecError::WorkerDied`] (pid, status or
///   signal, stderr tail); the pool replaces it and every other job completes.
/// - **A panic** resolves to [`ExecError::Panicked`] and the worker goes on.
///
/// `ProcessPool` is a cheap handle: clones share the workers. Dropping the last clone shuts
/// the pool down without blocking the dropping thread: queued jobs still run, then the
/// workers are told to exit and are reaped by the supervisor thread, which then exits.
/// [`finished`](Self::finished) awaits that, [`shutdown(true, ..)`](Self::shutdown) blocks
/// for it.
///
/// # Examples
///
/// ```
/// use evloop_bridge::process::{self, ProcessFn, Registry};
/// use evloop_bridge::ProcessPool;
///
/// fn fib(n: u32) -> u64 {
///     if n < 2 { n as u64 } else { fib(n - 1) + fib(n - 2) }
/// }
/// const FIB: ProcessFn<u32, u64> = ProcessFn::new("fib", fib);
/// fn functions() -> Registry {
///     Registry::new().register(FIB)
/// }
///
/// fn main() {
///     process::init(functions);
///     let pool = ProcessPool::builder(functions()).build().unwrap();
///     let result = futures_lite::future::block_on(pool.submit(&FIB, 30));
///     assert_eq!(result, Ok(832_040));
/// }
/// ```
#[derive(Clone)]
pub struct ProcessPool {
    /// The state all clones share; dropping the last clone shuts the pool down.
    inner: Arc<Inner>,
}

/// The parts of a pool its builder assembles.
pub(crate) struct PoolParts {
    /// Shared with the supervisor.
    pub(crate) shared: Arc<Shared>,
    /// The functions jobs may call.
    pub(crate) registry: Registry,
    /// Most workers at once.
    pub(crate) max_workers: usize,
    /// The largest frame.
    pub(crate) max_frame: usize,
    /// The default job timeout.
    pub(crate) job_timeout: Option<Duration>,
    /// Whether dropping a handle cancels its job.
    pub(crate) cancel_on_drop: bool,
}

/// The state of a pool shared by its clones.
struct Inner {
    /// See [`PoolParts`].
    parts: PoolParts,
}

impl ProcessPool {
    /// A builder for a pool calling the functions of `registry`; see [`ProcessPoolBuilder`].
    pub fn builder(registry: Registry) -> ProcessPoolBuilder {
        ProcessPoolBuilder::new(registry)
    }

    /// Creates the pool from its builder's parts.
    pub(crate) fn from_parts(parts: PoolParts) -> Self {
        ProcessPool {
            inner: Arc::new(Inner { parts }),
        }
    }

    /// Runs `func(args)` in a worker process and returns a [`Handle`] to its result, with the
    /// pool's default [`job_timeout`](ProcessPoolBuilder::job_timeout).
    ///
    /// Never blocks (unless the pool has a [bound](ProcessPoolBuilder::max_in_flight) with
    /// the blocking policy): the argument is encoded here, the job queued, and the supervisor
    /// thread sends it to the first idle worker, starting workers as needed. A job that cannot
    /// be accepted resolves at once: [`ExecError::UnknownFunction`] if `func` is not in the
    /// pool's registry, [`ExecError::Serialization`] or [`ExecError::TooLarge`] if the
    /// argument does not encode or fit, [`ExecError::ShutDown`] after a shutdown,
    /// [`ExecError::StartFailed`] if the pool can no longer start workers,
    /// [`ExecError::QueueFull`] at the bound.
    ///
    /// # Examples
    ///
    /// ```
    /// # use evloop_bridge::process::{ProcessFn, Registry};
    /// # const SQUARE: ProcessFn<u64, u64> = ProcessFn::new("square", |x| x * x);
    /// # fn functions() -> Registry { Registry::new().register(SQUARE) }
    /// # evloop_bridge::process::init(functions);
    /// # let pool = evloop_bridge::ProcessPool::builder(functions()).build()?;
    /// let squares: Vec<_> = (0..4u64).map(|x| pool.submit(&SQUARE, x)).collect();
    /// let squares: Vec<_> = squares.into_iter().map(|h| h.wait().unwrap()).collect();
    /// assert_eq!(squares, [0, 1, 4, 9]);
    /// # Ok::<(), evloop_bridge::BuildError>(())
    /// ```
    pub fn submit<A, R>(&self, func: &ProcessFn<A, R>, args: A) -> Handle<R>
    where
        A: Serialize,
        R: DeserializeOwned + Send + 'static,
    {
        self.submit_with_timeout(func, args, self.inner.parts.job_timeout)
    }

    /// [`submit`](Self::submit) with this job's own timeout (`None` for none), counted from
    /// when a worker starts it. On expiry the job resolves to [`ExecError::TimedOut`] and its
    /// worker is killed and replaced.
    pub fn submit_with_timeout<A, R>(
        &self,
        func: &ProcessFn<A, R>,
        args: A,
        timeout: Option<Duration>,
    ) -> Handle<R>
    where
        A: Serialize,
        R: DeserializeOwned + Send + 'static,
    {
        let name = func.name();
        let decode: Decode<R> = Box::new(move |payload| {
            let replies = frame::replies(payload)?;
            match <[_; 1]>::try_from(replies) {
                Ok([reply]) => frame::outcome(reply, name),
                Err(replies) => Err(wrong_count(replies.len(), 1)),
            }
        });
        let items = postcard::to_allocvec(&args).map(|bytes| vec![bytes]);
        self.submit_items(func, items, decode, timeout)
    }

    /// Queues a call of `func` on encoded `items`, decoding the reply with `decode`.
    pub(crate) fn submit_items<A, R, T>(
        &self,
        func: &ProcessFn<A, R>,
        items: Result<Vec<Vec<u8>>, postcard::Error>,
        decode: Decode<T>,
        timeout: Option<Duration>,
    ) -> Handle<T>
    where
        T: Send + 'static,
    {
        let parts = &self.inner.parts;
        let id = parts.shared.next_id();
        let pool = Arc::downgrade(&parts.shared);
        let cell = Arc::new(JobCell::new(id, decode, pool, parts.cancel_on_drop));
        let handle = Handle::new(cell.clone());
        match self.call_frame(func, items, id) {
            Ok(frame) => {
                let job = Pending {
                    id,
                    frame,
                    task: cell,
                    timeout,
                };
                parts.shared.enqueue(job);
            }
            Err(error) => cell.fail(error),
        }
        handle
    }

    /// The call frame of job `id`.
    fn call_frame<A, R>(
        &self,
        func: &ProcessFn<A, R>,
        items: Result<Vec<Vec<u8>>, postcard::Error>,
        id: u64,
    ) -> Result<Vec<u8>, ExecError> {
        let parts = &self.inner.parts;
        let name = func.name();
        if !parts.registry.matches(name, ProcessFn::<A, R>::signature()) {
            let (args, result) = ProcessFn::<A, R>::signature();
            return Err(ExecError::UnknownFunction(format!(
                "no function is registered as {name:?} with type fn({args}) -> {result} in \
                 the pool's registry"
            )));
        }
        let items = items.map_err(|error| {
            ExecError::Serialization(format!(
                "the argument of {name:?} did not serialize in the parent ({error})"
            ))
        })?;
        let envelope = Call {
            func: name,
            items: items.iter().map(|item| Bytes(item)).collect(),
        };
        let mut frame = Vec::new();
        frame::push(&mut frame, CALL, id, &envelope).map_err(|error| {
            ExecError::Serialization(format!("the call of {name:?} did not encode ({error})"))
        })?;
        if frame.len() > parts.max_frame {
            return Err(ExecError::TooLarge {
                bytes: frame.len(),
                limit: parts.max_frame,
            });
        }
        Ok(frame)
    }

    /// Runs `func` on every item in worker processes, `chunksize` items per call, and yields
    /// the results in input order as a [`Stream`](futures_core::Stream) (Python's
    /// `executor.map(fn, items, chunksize=n)`).
    ///
    /// Chunks are submitted as the stream is polled, at most two per worker ahead of the
    /// item being yielded, so an endless iterator is fine. Sending many small items one by
    /// one costs a round trip each; a chunk costs one round trip for all its items. A failed
    /// item yields its own error; a chunk whose worker died yields the error for each of its
    /// items. [`Map::try_collect`] and [`Map::wait`] collect the results.
    ///
    /// A `chunksize` of 0 is taken as 1.
    ///
    /// # Examples
    ///
    /// ```
    /// # use evloop_bridge::process::{ProcessFn, Registry};
    /// # const SQUARE: ProcessFn<u64, u64> = ProcessFn::new("square", |x| x * x);
    /// # fn functions() -> Registry { Registry::new().register(SQUARE) }
    /// # evloop_bridge::process::init(functions);
    /// # let pool = evloop_bridge::ProcessPool::builder(functions()).build()?;
    /// let squares = pool.map(&SQUARE, 0..1000u64, 100).wait();
    /// assert_eq!(squares.unwrap()[999], 998_001);
    /// # Ok::<(), evloop_bridge::BuildError>(())
    /// ```
    pub fn map<A, R, I>(&self, func: &ProcessFn<A, R>, items: I, chunksize: usize) -> Map<R>
    where
        A: Serialize + 'static,
        R: DeserializeOwned + Send + 'static,
        I: IntoIterator<Item = A>,
        I::IntoIter: Send + 'static,
    {
        Map::new(self.clone(), *func, items.into_iter(), chunksize.max(1))
    }

    /// Shuts the pool down, with the semantics of Python's
    /// `Executor.shutdown(wait, cancel_futures)`.
    ///
    /// From now on, [`submit`](Self::submit) returns handles that resolve to
    /// [`ExecError::ShutDown`]. With `cancel_pending`, queued jobs resolve to
    /// [`ExecError::ShutDown`] without running; otherwise they still run. Running jobs finish
    /// (cancel their handles to stop them). Then every worker is told to exit and reaped. With
    /// `wait`, this blocks until all of that is done; otherwise it returns at once and
    /// [`finished`](Self::finished) can be awaited. Calling it again is harmless.
    ///
    /// With `wait`, this blocks the calling thread: not on an event loop.
    pub fn shutdown(&self, wait: bool, cancel_pending: bool) {
        let shared = &self.inner.parts.shared;
        shared.close(cancel_pending);
        if wait {
            shared.wait_finished();
        }
    }

    /// A future that resolves once the pool is shut down (by [`shutdown`](Self::shutdown) or
    /// by dropping its last clone), every job that was to run has run, and every worker
    /// process has exited and been reaped. It does not keep the pool alive.
    pub fn finished(&self) -> Finished {
        Finished::new(self.inner.parts.shared.clone())
    }

    /// The most workers taking jobs at once.
    pub fn max_workers(&self) -> usize {
        self.inner.parts.max_workers
    }

    /// The functions this pool may call.
    pub fn registry(&self) -> &Registry {
        &self.inner.parts.registry
    }
}

/// A reply with the wrong number of outcomes.
pub(crate) fn wrong_count(got: usize, expected: usize) -> ExecError {
    ExecError::Protocol(format!(
        "a worker replied with {got} outcomes to a call of {expected} items; the worker was \
         replaced"
    ))
}

impl Drop for Inner {
    /// The last clone is gone: shut down without waiting (the supervisor finishes the queued
    /// jobs and reaps the workers in the background).
    fn drop(&mut self) {
        self.parts.shared.close(false);
    }
}

impl fmt::Debug for ProcessPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (shut_down, broken, in_flight) = self.inner.parts.shared.status();
        f.debug_struct("ProcessPool")
            .field("max_workers", &self.max_workers())
            .field("in_flight", &in_flight)
            .field("shut_down", &shut_down)
            .field("broken", &broken)
            .finish()
    }
}
