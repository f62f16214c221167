//! [`run`] and [`Runtime`]: an event loop, and the `asyncio.run()` entry point.

use std::fmt;
use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, Wake, Waker};

use crate::builder::Builder;
use crate::observe::monitor::Monitor;
use crate::observe::stats::Stats;
use crate::scheduler::budget;
use crate::scheduler::context::{self, Enter};
use crate::scheduler::shared::Shared;
use crate::scheduler::Core;
use crate::task::join::JoinHandle;
use crate::task::spawn::spawn_on;

/// Runs `future` to completion on a fresh event loop and returns its output.
///
/// This is the `asyncio.run()` equivalent: it creates a new loop, runs the future (and every task
/// it spawns) until the future completes, then cancels every task that is still alive (their
/// destructors run on this thread), releases the OS poller and returns.
///
/// # Panics
///
/// Panics if called from inside a running event loop (blocking the loop on a future would freeze
/// every other task: `.await` the future or [`spawn`](crate::spawn) it instead), if the OS refuses
/// to create a poller, or if `future` itself panics (the panic is resumed here).
///
/// # Examples
///
/// ```
/// let answer = evloop::run(async {
///     let task = evloop::spawn(async { 6 * 7 });
///     task.await.unwrap()
/// });
/// assert_eq!(answer, 42);
/// ```
#[track_caller]
pub fn run<F: Future>(future: F) -> F::Output {
    if context::in_loop() {
        panic!("{NESTED_RUN}");
    }
    let runtime = Builder::new()
        .build()
        .unwrap_or_else(|e| panic!("evloop::run: cannot create the event loop: {e}"));
    runtime.block_on(future)
}

const NESTED_RUN: &str =
    "evloop::run / Runtime::block_on called from inside a running event loop: \
     blocking this thread on a future would freeze every other task of the loop. \
     `.await` the future or `evloop::spawn` it instead";

/// An event loop: one thread, a ready queue, timers and an I/O registry.
///
/// Tasks spawned on a runtime stay alive across [`block_on`](Runtime::block_on) calls; dropping
/// the runtime cancels every task still alive and runs their destructors on the dropping thread.
/// A `Runtime` is `!Send`: its tasks need not be `Send`, so they must stay on the thread that
/// created them.
///
/// ```compile_fail
/// fn assert_send<T: Send>() {}
/// assert_send::<evloop::Runtime>();
/// ```
pub struct Runtime {
    /// The loop.
    core: Rc<Core>,
    /// The monitor thread, stopped and joined when the runtime is dropped (after the loop shut
    /// down: field order).
    _monitor: Option<Monitor>,
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("name", &self.core.name())
            .field("stats", &self.core.stats())
            .finish()
    }
}

impl Runtime {
    /// Runs `future` to completion on this loop, running every other ready task meanwhile.
    ///
    /// # Panics
    ///
    /// Panics if called from inside a running event loop, or if `future` panics (the panic is
    /// resumed here; other tasks are unaffected and stay alive on the runtime).
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        let _enter = Enter::new(&self.core).unwrap_or_else(|| panic!("{NESTED_RUN}"));
        let _driven = Driven::new(&self.core);
        let main = Arc::new(MainWaker {
            woken: AtomicBool::new(true),
            shared: self.core.weak_shared().clone(),
        });
        let waker = Waker::from(main.clone());
        let mut cx = Context::from_waker(&waker);
        let mut future = pin!(future);
        let location = std::panic::Location::caller();
        loop {
            // The future given to `block_on` takes its turn first in step 1, when it was woken.
            if main.woken.swap(false, Ordering::Acquire) {
                self.core.observer().main_poll(location);
                budget::reset(self.core.coop_budget());
                if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                    return output;
                }
            }
            self.core.cycle(&main.woken);
        }
    }

    /// Spawns a task on this runtime; it starts running at the next [`block_on`](Self::block_on).
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        spawn_on(&self.core, future, None, std::panic::Location::caller())
    }

    /// A snapshot of this loop's counters.
    pub fn stats(&self) -> Stats {
        self.core.stats()
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        // Destructors of cancelled tasks may touch the loop (deregister sockets, cancel timers),
        // so the loop is current while they run, even if another loop runs on this thread.
        let _restore = context::replace(&self.core);
        self.core.shutdown();
    }
}

/// The waker of the future passed to [`Runtime::block_on`], which is polled by the loop itself
/// rather than spawned (it may borrow from the caller's stack).
struct MainWaker {
    /// Set when the future must be polled again.
    woken: AtomicBool,
    /// To wake the poller when the wake comes from another thread.
    shared: Weak<Shared>,
}

impl Wake for MainWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        if !context::is_current(&self.shared) {
            context::notify(&self.shared);
        }
    }
}

impl Runtime {
    /// The runtime of `core`, watched by `monitor` if there is one.
    pub(crate) fn new(core: Rc<Core>, monitor: Option<Monitor>) -> Self {
        Runtime {
            core,
            _monitor: monitor,
        }
    }
}

/// Tells the monitor thread that the loop is being driven by `block_on` (not parked) until
/// dropped, also during unwinding: a runtime nobody drives is idle, not stalled.
struct Driven<'a>(
    /// The loop being driven.
    &'a Core,
);

impl<'a> Driven<'a> {
    fn new(core: &'a Core) -> Self {
        core.observer().driven(true);
        Driven(core)
    }
}

impl Drop for Driven<'_> {
    fn drop(&mut self) {
        self.0.observer().driven(false);
    }
}
