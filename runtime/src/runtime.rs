//! The event loop: [`Builder`], [`Runtime`], [`run`] and the three-step cycle.
//!
//! One cycle is the lecture's Run → Poll → Resume (slide 5):
//!
//! 1. [`Core::run_ready`] runs every task that was in the ready queue when the cycle began;
//! 2. [`Core::poll_io`] asks the OS multiplexer (through [`polling`]) for I/O readiness, without
//!    waiting when work is ready, otherwise until the nearest timer deadline, otherwise for ever;
//! 3. [`Core::resume_woken`] moves the tasks whose I/O completed, whose timer expired or that
//!    were woken from another thread back into the ready queue.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::io;
use std::num::NonZeroUsize;
use std::panic;
use std::pin::pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, Wake, Waker};

use concurrent_queue::ConcurrentQueue;
use polling::Poller;

use crate::reactor::Reactor;
use crate::stats::{bump, Counters, Stats};
use crate::task::{self, JoinHandle, Runnable, TaskId};
use crate::timer::Timers;

thread_local! {
    /// The loop running on this thread, if any: set by [`Runtime::block_on`] (and while a runtime
    /// is being dropped), reset by [`Enter`] even when the loop unwinds.
    static CONTEXT: RefCell<Option<Rc<Core>>> = const { RefCell::new(None) };
}

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
    if in_loop() {
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

/// Configures and creates a [`Runtime`].
///
/// # Examples
///
/// ```
/// let rt = evloop::Builder::new().name("api-server").build()?;
/// assert_eq!(rt.block_on(async { 1 + 1 }), 2);
/// # std::io::Result::Ok(())
/// ```
#[derive(Debug, Clone)]
pub struct Builder {
    /// Name of the loop, shown in reports.
    name: Option<String>,
    /// How many OS events one call to the poller can return.
    event_capacity: NonZeroUsize,
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl Builder {
    /// A builder with the defaults: no name, 1024 events per poll.
    pub fn new() -> Self {
        Builder {
            name: None,
            event_capacity: NonZeroUsize::new(1024).unwrap(),
        }
    }

    /// Names the loop; the name appears in reports and in [`Runtime`]'s `Debug` output.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets how many OS events a single poll can return (default 1024). More events than this
    /// are simply returned by the next poll.
    pub fn event_capacity(mut self, capacity: NonZeroUsize) -> Self {
        self.event_capacity = capacity;
        self
    }

    /// Creates the runtime: the OS poller, the ready queue, the timers and the I/O registry.
    ///
    /// # Errors
    ///
    /// Returns the OS error if the poller cannot be created (for example when the process is out
    /// of file descriptors), and [`io::ErrorKind::Unsupported`] on platforms whose poller has no
    /// edge-triggered mode.
    pub fn build(self) -> io::Result<Runtime> {
        let poller = Poller::new()?;
        if !poller.supports_edge() {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "evloop needs an edge-triggered OS poller (epoll or kqueue); this platform's has none",
            ));
        }
        let shared = Arc::new(Shared {
            injected: ConcurrentQueue::unbounded(),
            poller,
        });
        let core = Rc::new(Core {
            name: self.name,
            ready: RefCell::new(VecDeque::new()),
            waiting: RefCell::new(HashMap::default()),
            tasks_alive: Cell::new(0),
            timers: Rc::new(Timers::new()),
            reactor: Rc::new(Reactor::new(shared.clone(), self.event_capacity)),
            weak_shared: Arc::downgrade(&shared),
            shared,
            counters: Counters::default(),
            task_names: RefCell::new(HashMap::default()),
            next_task_id: Cell::new(1),
            wake_buf: RefCell::new(Vec::new()),
        });
        Ok(Runtime { core })
    }
}

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
    core: Rc<Core>,
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("name", &self.core.name)
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
        let main = Arc::new(MainWaker {
            woken: AtomicBool::new(true),
            shared: self.core.weak_shared.clone(),
        });
        let waker = Waker::from(main.clone());
        let mut cx = Context::from_waker(&waker);
        let mut future = pin!(future);
        loop {
            // The future given to `block_on` takes its turn first in step 1, when it was woken.
            if main.woken.swap(false, Ordering::Acquire) {
                bump(&self.core.counters.polls, 1);
                if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                    return output;
                }
            }
            self.core.run_ready();
            self.core.poll_io(main.woken.load(Ordering::Relaxed));
            self.core.resume_woken();
        }
    }

    /// Spawns a task on this runtime; it starts running at the next [`block_on`](Self::block_on).
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        task::spawn_on(&self.core, future, None, std::panic::Location::caller())
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
        let previous = CONTEXT.with(|c| c.borrow_mut().replace(self.core.clone()));
        let _restore = RestoreContext(previous);
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
        if !is_loop_of(&self.shared) {
            if let Some(shared) = self.shared.upgrade() {
                let _ = shared.poller.notify();
            }
        }
    }
}

/// State shared with other threads: wakers of the loop's tasks hold a [`Weak`] to it.
///
/// Its destructor may run on another thread (the last strong reference can be one that a
/// waker upgraded), so it must never drop a runnable: see its `Drop`.
pub(crate) struct Shared {
    /// Tasks woken from other threads; drained into the ready queue in step 3.
    pub(crate) injected: ConcurrentQueue<Runnable>,
    /// The OS multiplexer; other threads only call [`Poller::notify`] on it.
    pub(crate) poller: Poller,
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Runnables of `!Send` futures must not be dropped off the loop thread. The queue is
        // empty here in practice (shutdown drains it until no task is alive, and no task can
        // be scheduled after that), but if one were left, leaking it is the safe choice.
        while let Ok(runnable) = self.injected.pop() {
            std::mem::forget(runnable);
        }
    }
}

/// The loop-local state of one event loop.
pub(crate) struct Core {
    /// Name given by [`Builder::name`].
    name: Option<String>,
    /// Tasks that can run now, in the order they became ready (the lecture's ready queue).
    pub(crate) ready: RefCell<VecDeque<Runnable>>,
    /// The wakers of the live tasks that have waited at least once, by task id: how shutdown
    /// and `abort` reach a task that is not in a ready queue. Every other live task is in the
    /// ready queue or the injection queue (it was scheduled when spawned and has not run yet).
    pub(crate) waiting: RefCell<HashMap<TaskId, Waker, IdHasher>>,
    /// Tasks spawned and not yet completed or cancelled.
    pub(crate) tasks_alive: Cell<usize>,
    /// Pending timers; the nearest deadline bounds the poll timeout.
    pub(crate) timers: Rc<Timers>,
    /// I/O sources registered with the poller (the lecture's I/O registry).
    pub(crate) reactor: Rc<Reactor>,
    /// The cross-thread half of the loop.
    pub(crate) shared: Arc<Shared>,
    /// What task schedule functions hold, so a late waker never keeps the poller alive.
    pub(crate) weak_shared: Weak<Shared>,
    /// Counters behind [`Stats`].
    pub(crate) counters: Counters,
    /// Names of the named live tasks; unnamed tasks cost nothing here.
    pub(crate) task_names: RefCell<HashMap<TaskId, Rc<str>, IdHasher>>,
    /// Id given to the next spawned task.
    next_task_id: Cell<u64>,
    /// Reused buffer of wakers collected in step 3, woken once no borrow is held.
    wake_buf: RefCell<Vec<Waker>>,
}

impl Core {
    /// Step 1 — "Run all coroutines in the ready queue until each one voluntarily yields at an
    /// `await`."
    ///
    /// Only the tasks that were ready when the step began run; a task woken meanwhile (including
    /// one that wakes itself, as [`yield_now`](crate::yield_now) does) is queued behind them and
    /// runs in the next cycle, after the next I/O poll, so it cannot starve I/O.
    fn run_ready(&self) {
        let n = self.ready.borrow().len();
        for _ in 0..n {
            let Some(runnable) = self.ready.borrow_mut().pop_front() else {
                break;
            };
            if runnable.metadata().aborted.load(Ordering::Relaxed) {
                // Cancelled by `JoinHandle::abort`: dropping the runnable drops the future here,
                // on the loop thread, and resolves the handle to `Cancelled`.
                drop(runnable);
            } else {
                runnable.run();
            }
        }
        bump(&self.counters.polls, n as u64);
        bump(&self.counters.cycles, 1);
    }

    /// Step 2 — "Call the OS I/O multiplexer with all pending file descriptors — wait until at
    /// least one is ready."
    ///
    /// The timeout is zero when tasks are ready, the nearest timer deadline otherwise, and
    /// infinite when there is neither. With tasks ready, the poll is skipped only when it could
    /// not report anything: no source is registered and no cross-thread wake is pending.
    fn poll_io(&self, main_woken: bool) {
        let work_ready = main_woken || !self.ready.borrow().is_empty();
        let injected = !self.shared.injected.is_empty();
        let deadline = if work_ready || injected {
            if !injected && self.reactor.is_empty() {
                return;
            }
            Some(std::time::Instant::now())
        } else {
            self.timers.next_deadline()
        };
        if let Err(e) = self.reactor.wait(deadline) {
            panic!("evloop: the OS poller failed: {e}");
        }
        bump(&self.counters.io_polls, 1);
    }

    /// Step 3 — "Move coroutines whose I/O completed from the I/O registry back into the ready
    /// queue."
    ///
    /// Wakes the tasks whose sources became ready or whose timers expired, and moves the tasks
    /// woken from other threads from the injection queue into the ready queue.
    fn resume_woken(&self) {
        let mut wakers = std::mem::take(&mut *self.wake_buf.borrow_mut());
        let events = self.reactor.dispatch(&mut wakers);
        bump(&self.counters.io_events, events as u64);
        if !self.timers.is_empty() {
            let fired = self
                .timers
                .fire_expired(std::time::Instant::now(), &mut wakers);
            bump(&self.counters.timers_fired, fired as u64);
        }
        for waker in wakers.drain(..) {
            waker.wake();
        }
        *self.wake_buf.borrow_mut() = wakers;
        if !self.shared.injected.is_empty() {
            let mut ready = self.ready.borrow_mut();
            while let Ok(runnable) = self.shared.injected.pop() {
                ready.push_back(runnable);
            }
        }
    }

    /// Cancels every live task: each is scheduled, then its runnable is dropped here, which drops
    /// its future (running its destructors on the loop thread) and wakes its `JoinHandle` with
    /// "cancelled". Repeats while destructors spawn new tasks.
    fn shutdown(&self) {
        loop {
            let wakers: Vec<Waker> = self.waiting.borrow().values().cloned().collect();
            for waker in wakers {
                waker.wake();
            }
            let mut dropped = false;
            loop {
                let next = self.ready.borrow_mut().pop_front();
                let Some(runnable) = next.or_else(|| self.shared.injected.pop().ok()) else {
                    break;
                };
                drop(runnable);
                dropped = true;
            }
            if self.tasks_alive.get() == 0 {
                break;
            }
            if !dropped {
                // A task woken by another thread just before shutdown is on its way into the
                // injection queue; let that thread finish pushing it.
                std::thread::yield_now();
            }
        }
        self.timers.clear();
    }

    pub(crate) fn stats(&self) -> Stats {
        self.counters.snapshot(
            self.tasks_alive.get(),
            self.timers.len(),
            self.reactor.len(),
        )
    }

    /// A fresh task id.
    pub(crate) fn next_task_id(&self) -> TaskId {
        let id = self.next_task_id.get();
        self.next_task_id.set(id + 1);
        TaskId::new(id)
    }
}

/// Hashes task ids for the loop-local maps keyed by id.
///
/// Ids are distinct, mostly consecutive integers, and tasks tend to be spawned, to wait and to
/// finish in id order. hashbrown picks the bucket from the low bits of the hash and a 7-bit tag
/// from the top bits, so the hash keeps the id itself in its low bits (consecutive ids land in
/// neighbouring buckets: the map is walked in order rather than at random, which saves a cache
/// miss per insert and per removal) and puts well-mixed bits in the top seven (distinct tags).
/// The maps are loop-local and their keys are not chosen by untrusted input.
#[derive(Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

impl std::hash::BuildHasher for IdHasher {
    type Hasher = IdHasher;

    fn build_hasher(&self) -> IdHasher {
        IdHasher(0)
    }
}

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(self.0.rotate_left(8) ^ u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        const TOP_SEVEN: u64 = 0xFE00_0000_0000_0000;
        self.0 = n ^ (n.wrapping_mul(0x9E37_79B9_7F4A_7C15) & TOP_SEVEN);
    }
}

/// Whether an event loop is running on this thread.
pub(crate) fn in_loop() -> bool {
    CONTEXT.with(|c| c.borrow().is_some())
}

/// Runs `f` with the loop running on this thread.
///
/// # Panics
///
/// Panics with an explanation when no loop runs on this thread, which is what happens when a
/// runtime future is polled by another executor.
#[track_caller]
pub(crate) fn with_core<R>(what: &str, f: impl FnOnce(&Rc<Core>) -> R) -> R {
    CONTEXT.with(|c| match &*c.borrow() {
        Some(core) => f(core),
        None => panic!(
            "{what} must be used inside an evloop event loop (evloop::run or Runtime::block_on), \
             but no loop is running on this thread; a runtime future polled by another executor \
             ends up here"
        ),
    })
}

/// Whether `shared` belongs to the loop running on this thread.
fn is_loop_of(shared: &Weak<Shared>) -> bool {
    CONTEXT
        .try_with(|c| match &*c.borrow() {
            Some(core) => std::ptr::eq(Arc::as_ptr(&core.shared), shared.as_ptr()),
            None => false,
        })
        .unwrap_or(false)
}

/// Pushes a woken task to its loop: straight into the ready queue when woken on the loop's own
/// thread, otherwise into the injection queue followed by a poller notification.
pub(crate) fn schedule(shared: &Weak<Shared>, runnable: Runnable) {
    let mut runnable = Some(runnable);
    let _ = CONTEXT.try_with(|c| {
        if let Some(core) = &*c.borrow() {
            if std::ptr::eq(Arc::as_ptr(&core.shared), shared.as_ptr()) {
                core.ready.borrow_mut().extend(runnable.take());
            }
        }
    });
    if let Some(runnable) = runnable {
        remote_schedule(shared, runnable);
    }
}

fn remote_schedule(shared: &Weak<Shared>, runnable: Runnable) {
    match shared.upgrade() {
        Some(shared) => {
            // An unbounded queue only refuses a push once closed, and it is never closed.
            let _ = shared.injected.push(runnable);
            // Notification failures only happen when the poller is gone, i.e. the loop closed.
            let _ = shared.poller.notify();
        }
        // The loop is gone: every task was cancelled when it closed, so no live task can be
        // scheduled any more. Never drop a runnable here: its future is not `Send`.
        None => std::mem::forget(runnable),
    }
}

/// Marks the current loop on this thread and restores the previous state on drop.
struct Enter {
    _restore: RestoreContext,
}

impl Enter {
    fn new(core: &Rc<Core>) -> Option<Enter> {
        CONTEXT.with(|c| {
            let mut c = c.borrow_mut();
            if c.is_some() {
                return None;
            }
            *c = Some(core.clone());
            Some(Enter {
                _restore: RestoreContext(None),
            })
        })
    }
}

/// Puts back the loop that was current before, also during unwinding.
struct RestoreContext(Option<Rc<Core>>);

impl Drop for RestoreContext {
    fn drop(&mut self) {
        let previous = self.0.take();
        let _ = CONTEXT.try_with(|c| *c.borrow_mut() = previous);
    }
}
