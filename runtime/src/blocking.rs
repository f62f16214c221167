//! `run_in_executor` and `to_thread`: blocking calls on a thread pool, awaited without blocking
//! the loop (the lecture's Strategy 2).
//!
//! The pool and its [`Handle`]s come from the `evloop-bridge` crate, which does not depend on
//! evloop: the runtime depends on the bridge, never the reverse, so the handles are plain
//! futures that any executor can await, and the bridge stays usable (and testable) on its own.
//! With `None`, jobs go to the loop's *default pool* (`scheduler/default_pool.rs`), created the
//! first time it is needed and shut down when the loop is.

use std::io;

use evloop_bridge::{Handle, ThreadPool};

use crate::scheduler::context::with_core;

/// Runs the blocking function `f` on a thread pool and returns a handle that resolves to its
/// result: the `loop.run_in_executor(executor, fn)` equivalent.
///
/// `executor` is the pool to use, or `None` for the loop's default pool (like Python's default
/// `ThreadPoolExecutor`: `min(32, cores + 4)` threads, created on first use, shut down when the
/// loop is). The loop keeps running every other task while `f` runs; the task that awaits the
/// handle resumes once `f` has returned.
///
/// # Errors
///
/// The handle resolves to [`ExecError::Panicked`](crate::ExecError::Panicked) if `f` panics
/// (the pool keeps its threads), and to [`ExecError::ShutDown`](crate::ExecError::ShutDown) if
/// the pool was shut down.
///
/// # Panics
///
/// With `executor` `None`, panics if no event loop is running on this thread (a given pool
/// needs no loop).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// evloop::run(async {
///     // A legacy, blocking call: on the default pool, the loop stays free.
///     let answer = evloop::run_in_executor(None, || {
///         std::thread::sleep(Duration::from_millis(20));
///         42
///     });
///     assert_eq!(answer.await, Ok(42));
/// });
/// ```
#[track_caller]
pub fn run_in_executor<F, T>(executor: Option<&ThreadPool>, f: F) -> Handle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    match executor {
        Some(pool) => pool.submit(f),
        None => with_core("evloop::run_in_executor(None, ..)", |core| {
            core.default_pool().get()
        })
        .submit(f),
    }
}

/// Runs the blocking function `f` on the loop's default pool: the `asyncio.to_thread`
/// equivalent, `run_in_executor(None, f)`.
///
/// The default pool has `min(32, cores + 4)` threads (asyncio's figure), created as jobs
/// arrive. Jobs beyond that wait for a thread. evloop's own blocking calls ([`fs`](crate::fs)
/// and host-name resolution) do not use this pool but a small one of their own (up to 8
/// `evloop-io` threads), so they never wait behind these jobs: a file read answers at once even
/// while every default-pool thread runs a long job. asyncio shares one executor for both.
///
/// # Errors
///
/// As [`run_in_executor`].
///
/// # Panics
///
/// Panics if no event loop is running on this thread.
///
/// # Examples
///
/// ```
/// evloop::run(async {
///     let sum = evloop::to_thread(|| (1..=100u64).sum::<u64>()).await;
///     assert_eq!(sum, Ok(5050));
/// });
/// ```
#[track_caller]
pub fn to_thread<F, T>(f: F) -> Handle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    with_core("evloop::to_thread", |core| core.default_pool().get()).submit(f)
}

/// Runs the blocking I/O call `f` on the loop's I/O pool (never behind the user's `to_thread`
/// jobs); a job that failed (it panicked, or the pool shut down) becomes an `io::Error` of kind
/// `Other`. For `fs` and name resolution.
pub(crate) async fn unblock<T, F>(f: F) -> io::Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> io::Result<T> + Send + 'static,
{
    io_job(f).await.map_err(io::Error::other)?
}

/// Runs `f` on the loop's I/O pool (`fs`, name resolution), which the user's `to_thread` jobs
/// never occupy.
///
/// # Panics
///
/// Outside a loop.
#[track_caller]
pub(crate) fn io_job<F, T>(f: F) -> Handle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    with_core("evloop::fs", |core| core.default_pool().io()).submit(f)
}
