//! evloop: a single-threaded, poll-based async event loop.
//!
//! One thread runs every task. The loop owns two structures, as the lecture's slide 4 puts it:
//! a **ready queue** of tasks that can run now, and an **I/O registry** of suspended tasks, each
//! waiting on a file descriptor or a timer. It repeats one three-step cycle (slide 5):
//!
//! 1. **Run** — `run_ready` (in `scheduler/cycle.rs`) runs every task that was ready when the cycle
//!    began, each until it returns `Pending` at an `.await`. Tasks woken during this step run in
//!    the next cycle, so a task that keeps waking itself cannot starve I/O; a cooperative budget
//!    makes a task yield after 128 operations that completed without waiting.
//! 2. **Poll** — `poll_io` calls the OS multiplexer: epoll on Linux (evloop's own backend, one
//!    system call per wait), kqueue on the BSDs and macOS (through [`polling`], which Linux can
//!    use too: [`Builder::poller`]): with timeout zero when tasks are ready (at most every 100 µs),
//!    otherwise until the nearest timer deadline, otherwise indefinitely. An idle loop sleeps in
//!    the kernel and uses no CPU.
//! 3. **Resume** — `resume_woken` moves the tasks whose I/O completed, whose timer expired, or
//!    that another thread woke, back into the ready queue.
//!
//! The loop is cooperative: it never interrupts a task. A task that blocks the thread (with
//! `std::thread::sleep`, a blocking file read or a long computation) freezes every other task
//! until it returns (slide 7). Await [`sleep`] instead of sleeping, and call [`yield_now`] every
//! few milliseconds inside long computations (slide 9).
//!
//! # Implementation
//!
//! - The loop thread owns everything loop-local: the ready queue (a `VecDeque`), the task
//!   registry, the timers (a hierarchical timing wheel over a slab) and the I/O registry. None of it is
//!   locked; tasks need not be `Send`.
//! - Tasks are [`async_task`] tasks. Their wakers are `Send + Sync`: a wake on the loop thread
//!   pushes the task onto the ready queue directly; a wake from another thread pushes it onto a
//!   lock-free injection queue ([`concurrent_queue`]) and wakes the loop only if it waits
//!   (`Poller::notify`, or an unpark when the loop has no source and no timer).
//! - Sockets are registered once, edge-triggered, for both directions. An operation is tried
//!   first; `WouldBlock` clears the readiness flag and suspends the task until the next edge.
//! - Deadlines are handed to the poller with nanosecond precision (`epoll_pwait2` on Linux
//!   5.11+, with the loop thread's timer slack at 1 ns; a timerfd with `polling`), so a 1 ms
//!   sleep takes 1 ms plus the kernel's wake-up latency, not 2 ms.
//! - Blocking work goes to a thread pool: [`run_in_executor`] / [`to_thread`] on the loop's
//!   default pool (from the `evloop-bridge` crate, created on first use and shut down with the
//!   loop); every [`fs`] call and host-name resolution in [`net`] (`getaddrinfo` blocks) go to
//!   a small I/O pool of their own, so they never wait behind those jobs. A monitor thread
//!   reports slow polls. Nothing in the runtime blocks the loop thread.
//!
//! # Paths
//!
//! The names used in every program are at the top: [`run`], [`spawn`], [`sleep`],
//! [`timeout`], [`run_in_executor`], [`run_in_process`]... Modules group them as tokio's do,
//! for those who look there: [`time`] (`evloop::time::sleep` is [`evloop::sleep`](sleep)),
//! [`task`], [`process`] (the process pool, with everything a pool needs: `init`, `ProcessFn`,
//! `Registry`), and [`net`], [`fs`], [`signal`], `hyper` (feature `hyper`), whose items live
//! only there. Either path names the same item; the top-level one is the one this
//! documentation uses. Everything a program needs is reachable from `evloop`: the bridge crate
//! (`evloop-bridge`) need not be a dependency.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use futures_lite::{AsyncReadExt, AsyncWriteExt};
//! use evloop::net::{TcpListener, TcpStream};
//!
//! evloop::run(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let addr = listener.local_addr()?;
//!
//!     // The server: echo one message back.
//!     let server = evloop::spawn(async move {
//!         let (mut stream, _) = listener.accept().await?;
//!         let mut buf = [0; 5];
//!         stream.read_exact(&mut buf).await?;
//!         stream.write_all(&buf).await?;
//!         std::io::Result::Ok(())
//!     });
//!
//!     let mut client = TcpStream::connect(addr).await?;
//!     client.write_all(b"hello").await?;
//!     let mut reply = [0; 5];
//!     evloop::timeout(Duration::from_secs(5), client.read_exact(&mut reply)).await??;
//!     assert_eq!(&reply, b"hello");
//!     server.await.unwrap()
//! })?;
//! # std::io::Result::Ok(())
//! ```
// The loop is built on Unix descriptors (epoll on Linux, kqueue on macOS and the BSDs).
#[cfg(not(unix))]
compile_error!(
    "evloop runs on Unix only (Linux, macOS, FreeBSD and the other BSDs): on Windows, build \
     and run it inside WSL 2 (https://learn.microsoft.com/windows/wsl/install)"
);

// Layers, bottom to top (docs/architecture.md): a module imports only from its own layer or
// the layers below it, and no two modules import each other (`tests/layout.rs` checks both).
// 0. utilities
mod util;
// 1. leaf data structures: timers, the I/O registry, task metadata, observability
mod io;
mod observe;
pub mod time;
// 2. the scheduler: Core, the cycle, Shared, the ready queue, the task registry
mod scheduler;
// 3. the user-facing API
mod blocking;
pub mod fs;
#[cfg(feature = "hyper")]
pub mod hyper;
mod inspect;
pub mod net;
pub mod process;
pub mod signal;
pub mod task;
// 4. the entry points
mod builder;
mod per_core;
mod runtime;

pub use crate::blocking::{run_in_executor, to_thread};
pub use crate::builder::Builder;
pub use crate::inspect::{print_tasks, stats, tasks, TaskInfo, TaskStatus, TaskTable};
pub use crate::io::async_fd::Async;
pub use crate::io::poller::Backend as PollerBackend;
pub use crate::observe::stats::Stats;
pub use crate::observe::timing::{Histogram, LongestPoll};
pub use crate::per_core::{
    per_core, Connection, Core, GroupListener, ListenMode, LoopError, LoopHandle, LoopResult,
    LoopStats, OnExit, PerCore, INBOX_CAPACITY,
};
#[doc(inline)]
pub use crate::process::{run_in_process, ProcessJob, ProcessPool, ProcessPoolBuilder};
pub use crate::runtime::{run, Runtime};
#[doc(inline)]
pub use crate::task::{spawn, yield_now, JoinError, JoinHandle, TaskId, YieldNow};
pub use crate::time::interval::{interval, Interval};
pub use crate::time::sleep::{sleep, sleep_until, Sleep};
pub use crate::time::timeout::{timeout, Elapsed, Timeout};
pub use evloop_bridge::{
    BuildError, ExecError, FullQueuePolicy, Handle, ThreadPool, ThreadPoolBuilder,
};

/// Runs `async fn main` on an evloop event loop, as `#[tokio::main]` does on tokio's: the
/// function becomes a plain `main` that builds a loop with [`Builder`] and blocks on the body.
/// `main` may return what a `main` may return (`()`, `io::Result<()>`, `Result<(), E>`...).
///
/// Options (each one `Builder` setting; an unknown one, or a value of the wrong kind, is a
/// compile error pointing at it): `name = "..."`, `slow_poll_threshold_ms = 10`,
/// `slow_poll_reports = false`, `stall_watchdog = false`, `poll_timing = true`,
/// `trace_cycles = true`, `coop_budget = 128`, `timer_slack_us = 1000`, `idle_spin_us = 0`,
/// `shutdown_timeout_ms = 5000`, and `crate = "..."` for a renamed dependency. A loop that
/// cannot be built panics with the builder's error.
///
/// A program with a process pool calls [`process::init`] as the first line of the body: in a
/// worker it serves jobs there, and the loop around it is not reported as stalled.
///
/// The attribute costs nothing at run time. Its compile time, measured in a clean debug build
/// on the 2-core development machine: about 3 s once, 0.7 s for the macro crate itself and the
/// rest for the `full` feature of its parser `syn`, which serde's derive already builds.
///
/// A wrong option does not compile, and the error points at it:
///
/// ```compile_fail
/// #[evloop::main(workers = 4)] // error: #[evloop::main] has no option `workers`; its options are: ...
/// async fn main() {}
/// ```
///
/// # Examples
///
/// ```
/// #[evloop::main(name = "api", shutdown_timeout_ms = 2000)]
/// async fn main() -> std::io::Result<()> {
///     let listener = evloop::net::TcpListener::bind("127.0.0.1:0").await?;
///     println!("would serve on {}", listener.local_addr()?);
///     Ok(())
/// }
/// ```
pub use evloop_macros::main;

/// Runs an `async fn` test on its own evloop event loop, as `#[tokio::test]` does: the function
/// becomes a `#[test]` that builds a loop with [`Builder`] and blocks on the body. It takes the
/// options of [`main`](macro@main).
///
/// # Examples
///
/// ```
/// #[evloop::test(trace_cycles = true)]
/// async fn a_sleep_lasts_at_least_its_duration() {
///     let start = std::time::Instant::now();
///     evloop::sleep(std::time::Duration::from_millis(5)).await;
///     assert!(start.elapsed() >= std::time::Duration::from_millis(5));
/// }
/// # fn main() {}
/// ```
pub use evloop_macros::test;

/// `docs/asyncio-to-evloop.md`, whose examples run as doctests, so that the page cannot drift
/// from the API.
#[cfg(doctest)]
#[doc = include_str!("../../docs/asyncio-to-evloop.md")]
pub struct AsyncioToEvloopPage;

/// Compile-time checks of the auto traits users rely on: errors, reports and wakers cross
/// threads. (The loop-local types, `Runtime`, `JoinHandle`, `Async`, the sockets and `Sleep`,
/// are `!Send` on purpose; `compile_fail` examples in their docs check it.)
#[allow(dead_code)]
fn _assert_auto_traits() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<JoinError>();
    send_sync::<TaskId>();
    send_sync::<Elapsed>();
    send_sync::<Stats>();
    send_sync::<Histogram>();
    send_sync::<LongestPoll>();
    send_sync::<TaskInfo>();
    send_sync::<TaskTable>();
    send_sync::<ExecError>();
    send_sync::<Handle<u8>>();
    send_sync::<ThreadPool>();
    send_sync::<std::task::Waker>();
}
