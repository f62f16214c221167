//! The process pool: CPU-bound functions run in worker processes and awaited without blocking
//! the loop (the lecture's `ProcessPoolExecutor`, slide 8), with everything a program needs
//! for it: [`init`] first in `main`, functions declared as [`ProcessFn`]s and collected in a
//! [`Registry`], a [`ProcessPool`], and [`run_in_process`].
//!
//! The pool comes from `evloop-bridge` ([`evloop_bridge::process`], re-exported here, so that
//! `evloop` is the one dependency); this module adds [`run_in_process`] and [`ProcessJob`],
//! which waits for a job's reply on its worker's channel in the loop's own poller: the reply
//! wakes the loop directly, not through the pool's supervisor thread.
//!
//! The items re-exported from the bridge ([`ProcessFn`], [`Registry`], [`ProcessPoolBuilder`],
//! ...) keep the bridge's own examples, written with `evloop_bridge::` paths, since the bridge
//! does not depend on evloop: through evloop the same items are here, in `evloop::process`
//! (and [`ProcessPool`], [`ExecError`] at the top of the crate too), so
//! read `evloop_bridge::process::X` as `evloop::process::X` and `evloop_bridge::X` as
//! `evloop::X`.
//!
//! # Examples
//!
//! ```
//! use evloop::process::{self, ProcessFn, ProcessPool, Registry};
//!
//! const SQUARE: ProcessFn<u64, u64> = ProcessFn::new("square", |x| x * x);
//!
//! fn functions() -> Registry {
//!     Registry::new().register(SQUARE)
//! }
//!
//! fn main() -> std::io::Result<()> {
//!     process::init(functions); // a worker serves jobs here and never returns
//!     let pool = ProcessPool::builder(functions()).build()?;
//!     evloop::run(async {
//!         let squared = evloop::run_in_process(&pool, &SQUARE, 12).await?;
//!         assert_eq!(squared, 144);
//!         Ok(())
//!     })
//! }
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use serde::de::DeserializeOwned;
use serde::Serialize;

pub use evloop_bridge::process::{Map, ProcessFn, Registry, ReplySource};
use evloop_bridge::{ExecError, Handle};
pub use evloop_bridge::{ProcessPool, ProcessPoolBuilder};

use crate::io::async_fd::Async;
use crate::io::reactor::Dir;
use crate::scheduler::context::{in_loop, with_core};

/// Turns this process into a process-pool worker if it was started as one, and does nothing
/// otherwise. Call it **first thing in `main`** of every program that builds a [`ProcessPool`],
/// with the function building the program's [`Registry`]; as the first line of an
/// `#[evloop::main]` function's body works too.
///
/// A pool starts its workers by running the program's own executable again with the
/// environment variable `EVLOOP_PROCESS_WORKER` set. In such a process `init` never returns:
/// it builds the registry, serves calls on the private channel the pool gave it, and exits when
/// the pool closes that channel. In any other process it returns at once (without calling
/// `registry`). Everything `main` does before this call also runs in every worker, each time
/// one starts: keep it to nothing, or to what workers need too (logging set-up, say).
///
/// Called inside a running loop (the body of `#[evloop::main]`, or `evloop::run`), it first
/// tells the loop that it is not being driven, so that a worker, which serves jobs here for its
/// whole life, is never reported as a stalled loop.
///
/// In an integration test, whose `main` is the test harness's, write a `#[test]` function
/// whose body is `init(functions)` and point the pool at it with
/// [`ProcessPoolBuilder::test_worker`]; [`evloop_bridge::process::init`] says more.
///
/// # Examples
///
/// ```
/// use evloop::process::{self, ProcessFn, ProcessPool, Registry};
///
/// const SQUARE: ProcessFn<u64, u64> = ProcessFn::new("square", |x| x * x);
///
/// fn functions() -> Registry {
///     Registry::new().register(SQUARE)
/// }
///
/// #[evloop::main]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     process::init(functions); // a worker never gets past this line
///     let pool = ProcessPool::builder(functions()).build()?;
///     assert_eq!(evloop::run_in_process(&pool, &SQUARE, 12).await?, 144);
///     Ok(())
/// }
/// ```
pub fn init(registry: impl FnOnce() -> Registry) {
    let in_loop = in_loop();
    if in_loop {
        with_core("evloop::process::init", |core| {
            core.observer().driven(false)
        });
    }
    evloop_bridge::process::init(registry);
    if in_loop {
        with_core("evloop::process::init", |core| core.observer().driven(true));
    }
}

/// Runs the registered function `func` on `args` in a worker process of `pool` and returns a
/// handle that resolves to its result: the
/// `await loop.run_in_executor(process_pool, func, args)` equivalent, the sibling of
/// [`run_in_executor`](crate::run_in_executor) for CPU-bound work.
///
/// The loop keeps running every other task meanwhile; unlike a thread-pool job, the job can be
/// stopped while it runs ([`Handle::cancel`], a per-job timeout), which kills its worker.
/// Submitting never blocks the loop (unless the pool was built with a blocking bound on jobs in
/// flight, which a loop should not use).
///
/// # Errors
///
/// The job resolves to an [`ExecError`] if the job panicked, its worker died while running it,
/// it was cancelled or timed out, or the pool refused it; see [`ProcessPool::submit`].
///
/// # Examples
///
/// ```
/// use evloop::process::{self, ProcessFn, ProcessPool, Registry};
///
/// fn count_primes(below: u64) -> usize {
///     (2..below).filter(|n| (2..*n).take_while(|d| d * d <= *n).all(|d| n % d != 0)).count()
/// }
/// const COUNT_PRIMES: ProcessFn<u64, usize> = ProcessFn::new("count_primes", count_primes);
/// fn functions() -> Registry {
///     Registry::new().register(COUNT_PRIMES)
/// }
///
/// fn main() {
///     process::init(functions); // workers stop here
///     let procs = ProcessPool::builder(functions()).build().unwrap();
///     evloop::run(async {
///         let primes = evloop::run_in_process(&procs, &COUNT_PRIMES, 100_000).await;
///         assert_eq!(primes, Ok(9_592));
///     });
/// }
/// ```
pub fn run_in_process<A, R>(pool: &ProcessPool, func: &ProcessFn<A, R>, args: A) -> ProcessJob<R>
where
    A: Serialize,
    R: DeserializeOwned + Send + 'static,
{
    ProcessJob {
        handle: pool.submit(func, args),
        watch: None,
    }
}

/// A process-pool job awaited on the loop: the future [`run_in_process`] returns. It resolves
/// to the job's result, or to the [`ExecError`] saying why there is none.
///
/// It is the pool's [`Handle`] plus one thing: when the job runs on a worker whose reply the
/// caller may read itself (the pool sent it there directly), the worker's channel is
/// registered with this loop's poller while the job is pending, so the reply wakes the loop
/// directly, instead of waking the pool's supervisor thread, which would then wake the loop.
/// That is one thread wake-up fewer per round trip, which is most of a round trip's cost on a
/// busy machine. Outside an evloop loop it behaves as the plain handle.
///
/// Like the loop's other I/O objects it is `!Send`: use [`into_handle`](Self::into_handle) to
/// wait for the job on another thread.
///
/// ```compile_fail
/// fn assert_send<T: Send>() {}
/// assert_send::<evloop::ProcessJob<u64>>();
/// ```
#[must_use = "futures do nothing unless awaited; dropping it detaches the job"]
pub struct ProcessJob<R> {
    /// The pool's handle of the job.
    handle: Handle<R>,
    /// The worker's channel, registered with this loop while the job waits for its reply
    /// there.
    watch: Option<Async<ReplySource>>,
}

impl<R> ProcessJob<R> {
    /// Cancels the job, queued or running (its worker is killed and replaced): see
    /// [`Handle::cancel`].
    pub fn cancel(&self) -> bool {
        self.handle.cancel()
    }

    /// Whether the job has an outcome: see [`Handle::is_done`].
    pub fn is_done(&self) -> bool {
        self.handle.is_done()
    }

    /// The pool's handle of the job, which any thread can wait for.
    pub fn into_handle(self) -> Handle<R> {
        self.handle
    }
}

impl<R> Future for ProcessJob<R> {
    type Output = Result<R, ExecError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if !in_loop() {
            this.watch = None;
            return Pin::new(&mut this.handle).poll(cx);
        }
        loop {
            // Reads what the worker's channel holds, if the reply is this caller's to read.
            if let Poll::Ready(outcome) = this.handle.poll_claim(cx) {
                this.watch = None;
                return Poll::Ready(outcome);
            }
            let Some(source) = this.handle.reply_source() else {
                // The pool's supervisor reads the reply and wakes this task.
                this.watch = None;
                return Poll::Pending;
            };
            let same = this
                .watch
                .as_ref()
                .is_some_and(|watch| watch.get_ref().same_as(&source));
            if !same {
                // The channel is non-blocking (the pool made it so).
                this.watch = match Async::new_nonblocking(source) {
                    Ok(watch) => Some(watch),
                    Err(_) => {
                        // The poller refused the channel (out of memory, or of epoll
                        // watches): poll the handle once per cycle instead.
                        cx.waker().wake_by_ref();
                        return Poll::Pending;
                    }
                };
            }
            let watch = this.watch.as_ref().expect("registered above");
            // `poll_claim` read until the channel would block: wait for its next edge.
            watch.clear_ready(Dir::Read);
            if watch.poll_readable(cx).is_pending() {
                return Poll::Pending;
            }
        }
    }
}

impl<R> fmt::Debug for ProcessJob<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessJob")
            .field("handle", &self.handle)
            .field("watching_its_worker", &self.watch.is_some())
            .finish()
    }
}
