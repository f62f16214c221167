//! `run_in_executor` and `to_thread`: blocking calls on a thread pool, awaited without blocking
//! the loop (the lecture's Strategy 2).
//!
//! The pool and its [`Handle`]s come from the `evloop-bridge` crate, which does not depend on
//! evloop: the runtime depends on the bridge, never the reverse, so the handles are plain
//! futures that any executor can await, and the bridge stays usable (and testable) on its own.
//! This module adds the loop's *default pool*, created the first time it is needed and shut
//! down when the loop is: like `asyncio.run`'s `shutdown_default_executor`, it lets the jobs
//! already submitted finish (a dropped `fs::File` flushes its last writes there) and joins the
//! threads, so none outlives the loop.

use std::cell::RefCell;
use std::io;

use evloop_bridge::{Handle, ThreadPool};

use crate::runtime::with_core;

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
            core.default_pool.submit(f)
        }),
    }
}

/// Runs the blocking function `f` on the loop's default pool: the `asyncio.to_thread`
/// equivalent, `run_in_executor(None, f)`.
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
    with_core("evloop::to_thread", |core| core.default_pool.submit(f))
}

/// Runs the blocking I/O call `f` on the loop's default pool; a job that failed (it panicked,
/// or the pool shut down) becomes an `io::Error` of kind `Other`. For `fs` and name resolution.
pub(crate) async fn unblock<T, F>(f: F) -> io::Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> io::Result<T> + Send + 'static,
{
    to_thread(f).await.map_err(io::Error::other)?
}

/// A loop's default pool: created on first use, shut down with the loop.
#[derive(Debug, Default)]
pub(crate) struct DefaultPool {
    /// `None` until the first job.
    pool: RefCell<Option<ThreadPool>>,
}

impl DefaultPool {
    pub(crate) fn submit<F, T>(&self, f: F) -> Handle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let mut pool = self.pool.borrow_mut();
        pool.get_or_insert_with(|| {
            ThreadPool::builder()
                .thread_name_prefix("evloop-default")
                .build()
                .expect("the default pool's settings are valid")
        })
        .submit(f)
    }

    /// Shuts the pool down, if it was created: submitted jobs finish and the threads are
    /// joined, so no thread outlives the loop.
    pub(crate) fn shutdown(&self) {
        let pool = self.pool.borrow_mut().take();
        if let Some(pool) = pool {
            pool.shutdown(true, false);
        }
    }
}
