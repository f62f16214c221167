//! A thread pool and a process pool for evloop's `run_in_executor` and `run_in_process`, whose
//! job handles are runtime-agnostic futures.
//!
//! This is the lecture's "Strategy 2": a blocking function (a file read, a CPU-heavy
//! computation, a library without async support) runs on a pool thread while the coroutine
//! that needs its result awaits a [`Handle`], and the event loop keeps serving every other
//! task. [`ThreadPool`] is the `concurrent.futures.ThreadPoolExecutor` equivalent and
//! [`Handle`] its `Future`: awaitable on any executor (evloop, tokio, smol, a bare
//! `block_on`), and usable without one through [`Handle::wait`], [`Handle::wait_timeout`],
//! [`Handle::is_done`] and [`Handle::cancel`]. The crate needs no runtime; the runtime builds
//! `run_in_executor` on top of it.
//!
//! [`ProcessPool`] is the `ProcessPoolExecutor` equivalent, in the [`process`] module: it runs
//! registered functions in worker processes (this program's own executable, started again),
//! returns the same [`Handle`], and can stop a running job by killing its worker, which no
//! thread pool can. The rest of this page is about the thread pool; see [`process`] for the
//! process pool.
//!
//! | `concurrent.futures` | evloop-bridge |
//! |---|---|
//! | `ThreadPoolExecutor(max_workers, thread_name_prefix)` | [`ThreadPool::builder`] → [`ThreadPoolBuilder`] |
//! | `executor.submit(fn)` | [`ThreadPool::submit`] → [`Handle`] |
//! | `await loop.run_in_executor(executor, fn)` | `pool.submit(f).await` |
//! | `future.result(timeout)` | [`Handle::wait`], [`Handle::wait_timeout`] |
//! | `future.cancel()`, `future.done()` | [`Handle::cancel`], [`Handle::is_done`] |
//! | `executor.shutdown(wait, cancel_futures)` | [`ThreadPool::shutdown`] |
//!
//! # Implementation
//!
//! - **The submitting thread** (typically the event loop's) allocates the job's cell, the only
//!   allocation per job: the closure, later its outcome, and the waiting side's
//!   [`Waker`](std::task::Waker), behind one uncontended `Mutex`. It pushes the job onto the
//!   queue, a [`crossbeam_channel`] (unbounded by default), and never waits for it. If no
//!   worker is waiting and fewer than `max_workers` are alive, it starts one
//!   (`std::thread::Builder::spawn`): workers start lazily, one per job that finds no idle
//!   worker. One atomic counter, idle workers minus queued jobs, answers "is a worker waiting
//!   for this job?" without a lock (see `worker.rs`).
//! - **Worker threads** (named `{prefix}-{n}`) take jobs from the queue and run each inside
//!   `catch_unwind`: a panic becomes [`ExecError::Panicked`] and the worker goes on. A worker
//!   stores the outcome in the cell and wakes the waker registered there, from its own thread;
//!   if nobody is waiting yet, no wake-up happens at all. It then polls the queue for 50 µs
//!   ([`ThreadPoolBuilder::spin`]) before it parks (crossbeam parks it on a futex), since a task that awaited one job often
//!   submits the next one as soon as it resumes; a worker still polling takes that job without
//!   being woken. A worker idle for `keep_alive` exits.
//! - **The awaiting side** is whatever polls the [`Handle`]: it registers its waker and
//!   returns `Pending`; the worker's wake makes its executor poll it again (evloop's waker
//!   pushes the task onto the loop's injection queue and wakes the loop's `epoll_wait`), and
//!   the outcome is taken. Blocking waits use a waker that unparks the waiting thread.
//! - **Shutdown** ([`ThreadPool::shutdown`], or dropping the last [`ThreadPool`] clone) drops
//!   the queue's sender: workers finish the queued jobs, find the queue disconnected and exit.
//!   Dropping never waits for them, so a pool dropped on an event-loop thread does not freeze
//!   the loop; `shutdown(true, ..)` joins them, and [`ThreadPool::finished`] is a future that
//!   resolves once they are gone. A job that shuts its own pool down is not waited for by its
//!   own worker, which exits after the job: no self-join deadlock.
//!
//! Most of a round trip is thread wake-ups: on an idle pool, the worker's and then the
//! awaiting thread's. The polling worker removes the first one for a task that awaits jobs one
//! after another, and the second one too when the job is done before its handle is polled.
//! Awaiting `pool.submit(|| 1)` in a loop under evloop (the `run_in_executor` bench, 2 cores)
//! took 2.3 µs per job, against 23 µs for tokio's `spawn_blocking` and 21 µs for smol's
//! `blocking::unblock` in the same run; without the 50 µs of polling, 7.8 µs. The cell's lock
//! does not show in a profile next to the loop's system calls, so the crate keeps it and has no
//! `unsafe` code.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use evloop_bridge::{ExecError, ThreadPool};
//!
//! let pool = ThreadPool::builder().max_workers(4).build()?;
//!
//! // Await from any executor; here a bare `block_on`.
//! let contents = futures_lite::future::block_on(async {
//!     let read = pool.submit(|| std::fs::read_to_string("Cargo.toml"));
//!     read.await.expect("the job did not panic")
//! })?;
//! assert!(contents.contains("evloop-bridge"));
//!
//! // A panicking job does not take its worker down.
//! let failed = pool.submit(|| -> u32 { panic!("bad input") });
//! assert_eq!(failed.wait(), Err(ExecError::Panicked("bad input".into())));
//! assert_eq!(pool.submit(|| 7).wait(), Ok(7));
//!
//! // Outside async code: block with a timeout.
//! let mut slow = pool.submit(|| std::thread::sleep(Duration::from_millis(10)));
//! assert_eq!(slow.wait_timeout(Duration::from_secs(30)), Some(Ok(())));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(unsafe_code)] // allowed only where the process pool starts and watches workers

// The process pool is built on Unix processes, socket pairs and signals.
#[cfg(not(unix))]
compile_error!(
    "evloop-bridge runs on Unix only (Linux, macOS, FreeBSD and the other BSDs): on Windows, \
     build and run it inside WSL 2 (https://learn.microsoft.com/windows/wsl/install)"
);

mod builder;
mod error;
mod finished;
mod handle;
mod job;
mod outcome;
mod pool;
pub mod process;
mod worker;

pub use crate::builder::{FullQueuePolicy, ThreadPoolBuilder};
pub use crate::error::{BuildError, ExecError};
pub use crate::finished::Finished;
pub use crate::handle::Handle;
pub use crate::pool::ThreadPool;
pub use crate::process::{ProcessPool, ProcessPoolBuilder};

/// Compile-time checks of the auto traits users rely on: pools and handles cross threads
/// (a `Handle<T>` is `Send + Sync` as soon as `T: Send`, even if `T` is not `Sync`).
#[allow(dead_code)]
fn _assert_auto_traits() {
    fn send_sync<T: Send + Sync + 'static>() {}
    fn unpin<T: Unpin>() {}
    fn send<T: Send>() {}
    send_sync::<ThreadPool>();
    send_sync::<ThreadPoolBuilder>();
    send_sync::<Finished>();
    send_sync::<Handle<std::cell::Cell<u8>>>();
    send_sync::<Handle<Vec<u8>>>();
    unpin::<Handle<std::cell::Cell<u8>>>();
    send_sync::<ProcessPool>();
    send_sync::<ProcessPoolBuilder>();
    send::<process::Map<std::cell::Cell<u8>>>();
    send_sync::<process::Registry>();
    send_sync::<process::ProcessFn<std::rc::Rc<u8>, std::rc::Rc<u8>>>();
    send_sync::<ExecError>();
    send_sync::<BuildError>();
}
