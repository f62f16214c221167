//! The process pool: registered functions run in worker processes that can be killed,
//! replaced and timed out, behind the same [`Handle`](crate::Handle) as the thread pool.
//!
//! This is the lecture's `ProcessPoolExecutor` (slide 8): CPU-bound work leaves the event
//! loop's process altogether, so it holds neither the loop's thread nor its memory, and a
//! runaway or crashing job costs one worker, not the program.
//!
//! | `concurrent.futures` | evloop-bridge |
//! |---|---|
//! | `ProcessPoolExecutor(max_workers, initializer, max_tasks_per_child)` | [`ProcessPool::builder`](crate::ProcessPool::builder) → [`ProcessPoolBuilder`] |
//! | a picklable top-level function | a [`ProcessFn`] in a [`Registry`] |
//! | `if __name__ == "__main__":` guard | [`init`] first thing in `main` |
//! | `executor.submit(fn, arg)` | [`ProcessPool::submit`](crate::ProcessPool::submit) → [`Handle`](crate::Handle) |
//! | `executor.map(fn, items, chunksize)` | [`ProcessPool::map`](crate::ProcessPool::map) → [`Map`] (a `Stream`) |
//! | `future.cancel()` (queued jobs only) | [`Handle::cancel`](crate::Handle::cancel) (running jobs too) |
//! | `BrokenProcessPool` (every job fails) | [`ExecError::WorkerDied`](crate::ExecError::WorkerDied) (only the dead worker's job) |
//!
//! # Implementation
//!
//! - **Workers** are this program's own executable, started again (`std::process::Command`)
//!   with the variable `EVLOOP_PROCESS_WORKER` set; [`init`], called first in `main`, sees it
//!   and serves calls instead of returning. Each worker gets a private Unix socket pair for its
//!   frames, so its stdout stays the program's and a function that prints cannot corrupt the
//!   protocol, and a second one, its lifeline, whose end-of-file tells each side that the other
//!   died: a worker kills itself at once when the pool's process dies. Both are handed over by
//!   number and set close-on-exec again in the worker, so nothing a job starts inherits them.
//!   Its stderr is a pipe the pool reads: forwarded to the parent's stderr, and its last 4 KiB
//!   kept for the error reported if the worker dies.
//! - **Frames** are `[length u32][kind u8][job id u64][postcard payload]`, with a maximum
//!   size; the worker's first frame is a hello carrying the fingerprint of its registry,
//!   which must equal the pool's. Calls carry a function name and one or more encoded
//!   arguments (one for `submit`, a chunk for `map`).
//! - **One supervisor thread** per pool waits in `epoll` or `kqueue` (through `polling`) on
//!   every worker's channel, exit (a pidfd on Linux, kqueue's process filter on macOS and the
//!   BSDs, the lifeline elsewhere) and stderr, and on a notification from submitters. It always
//!   knows which job each worker runs; a worker's death is reaped at once and fails exactly
//!   that job if the worker had read its call, or sends the job to another worker if not. It wakes only on events or on the next
//!   deadline (job timeouts, start-up timeouts, idle expiry): no periodic polling.
//! - **Submitting** (any thread, an event loop's included) encodes the argument. While nothing
//!   is queued, an idle worker is lent to submitters and the call is written straight to its
//!   channel; otherwise the job goes on a mutex-protected inbox and the supervisor is woken.
//! - **The reply** is read by the caller itself when it waits for it: [`Handle::wait`]
//!   (blocking in `poll(2)` on the worker's channel) or an evloop loop awaiting
//!   `run_in_process` (the channel in the loop's own poller), through
//!   [`Handle::poll_claim`](crate::Handle::poll_claim) and [`ReplySource`]. A back-to-back round
//!   trip then wakes no thread of the pool. Otherwise (another executor, a dropped handle) the
//!   supervisor reads it and wakes the handle's waker.
//!
//! [`Handle::wait`]: crate::Handle::wait
//!
//! `docs/process-pool.md` in the repository describes the start-up, the frame format, the
//! supervision and every fault in detail.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use evloop_bridge::process::{self, ProcessFn, Registry};
//! use evloop_bridge::{ExecError, ProcessPool};
//!
//! fn spin(ms: u64) -> u64 {
//!     let end = std::time::Instant::now() + Duration::from_millis(ms);
//!     let mut n = 0u64;
//!     while std::time::Instant::now() < end {
//!         n += 1;
//!     }
//!     n
//! }
//! const SPIN: ProcessFn<u64, u64> = ProcessFn::new("spin", spin);
//!
//! fn functions() -> Registry {
//!     Registry::new().register(SPIN)
//! }
//!
//! fn main() {
//!     process::init(functions); // workers stop here
//!     let pool = ProcessPool::builder(functions()).max_workers(2).build().unwrap();
//!     let long = pool.submit(&SPIN, 10_000);
//!     assert!(long.cancel()); // kills the worker running it
//!     assert_eq!(long.wait(), Err(ExecError::Cancelled));
//!     assert!(pool.submit(&SPIN, 1).wait().is_ok()); // a replacement took over
//! }
//! ```

mod builder;
mod cell;
mod child;
mod frame;
mod function;
mod link;
mod map;
mod pool;
mod shared;
mod source;
mod spawn;
mod supervisor;
mod sys;
mod worker;

pub use self::builder::ProcessPoolBuilder;
pub use self::child::init;
pub use self::function::{ProcessFn, Registry};
pub use self::map::Map;
pub use self::pool::ProcessPool;
pub use self::source::ReplySource;
/// Shared with evloop's idle spin, which decides the same way whether to spin; not part of
/// the API.
#[doc(hidden)]
pub use self::sys::runnable_threads;
pub use crate::finished::Finished;
