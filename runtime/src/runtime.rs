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
use std::time::{Duration, Instant};

use concurrent_queue::ConcurrentQueue;
use polling::Poller;

use crate::executor::DefaultPool;
use crate::lag::Lag;
use crate::monitor::{Monitor, MonitorConfig, Probe};
use crate::reactor::Reactor;
use crate::stats::{bump, Counters, Stats};
use crate::task::{self, JoinHandle, MetaKey, Runnable, TaskId};
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

/// The id published for the future passed to `block_on`, which is not a task.
const MAIN_TASK: TaskId = TaskId::new(0);

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
    /// Set by [`Builder::slow_poll_threshold`]; otherwise `EVLOOP_SLOW_POLL_MS`, or 100 ms.
    slow_poll_threshold: Option<Duration>,
    /// Set by [`Builder::slow_poll_reports`]; on by default.
    slow_poll_reports: bool,
    /// Set by [`Builder::stall_watchdog`]; otherwise on when `EVLOOP_WATCHDOG` is `1`.
    stall_watchdog: Option<bool>,
    /// Set by [`Builder::poll_timing`]; otherwise `EVLOOP_POLL_TIMING`, or on in debug builds.
    poll_timing: Option<bool>,
    /// Set by [`Builder::trace_cycles`]; otherwise on when `EVLOOP_TRACE_CYCLES` is `1`.
    trace_cycles: Option<bool>,
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
            slow_poll_threshold: None,
            slow_poll_reports: true,
            stall_watchdog: None,
            poll_timing: None,
            trace_cycles: None,
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

    /// Sets how long one poll of a task may take before it is reported as blocking the loop
    /// (default 100 ms, asyncio's `slow_callback_duration`, or the `EVLOOP_SLOW_POLL_MS`
    /// environment variable). The same threshold tells the stall watchdog when to speak.
    ///
    /// A zero threshold, or one over an hour, makes [`build`](Self::build) fail.
    pub fn slow_poll_threshold(mut self, threshold: Duration) -> Self {
        self.slow_poll_threshold = Some(threshold);
        self
    }

    /// Whether polls longer than the threshold are reported (default: on).
    ///
    /// Reports name the task (id, name, spawn location) and how long its poll took. They come
    /// from a monitor thread that watches what the loop publishes with a few relaxed atomic
    /// stores per poll, so the loop itself never reads a clock for them; see
    /// [`stall_watchdog`](Self::stall_watchdog). With reports and watchdog both off, no monitor
    /// thread runs.
    pub fn slow_poll_reports(mut self, on: bool) -> Self {
        self.slow_poll_reports = on;
        self
    }

    /// Whether the monitor thread also reports stalls while they last (default: off, or on when
    /// the `EVLOOP_WATCHDOG` environment variable is `1`).
    ///
    /// A stall is a time longer than the threshold in which no cycle of the loop completes
    /// although the loop is not idle in the poller. The watchdog reports it while the loop is
    /// still stuck, naming the task that is running, and again when the loop recovers, with the
    /// total. An idle loop is never reported and never woken.
    pub fn stall_watchdog(mut self, on: bool) -> Self {
        self.stall_watchdog = Some(on);
        self
    }

    /// Whether every task poll is timed, for [`Stats::poll_durations`],
    /// [`Stats::scheduling_delays`] and an exact [`Stats::longest_poll`] (default: on in debug
    /// builds, off in release builds, or as the `EVLOOP_POLL_TIMING` environment variable, `0`
    /// or `1`, says).
    ///
    /// It reads the clock once per poll, which costs more than half of a `yield_now` here; the
    /// slow-poll reports and the watchdog do not need it.
    pub fn poll_timing(mut self, on: bool) -> Self {
        self.poll_timing = Some(on);
        self
    }

    /// Whether the loop reports each step of each cycle, to watch Run → Poll → Resume happen
    /// (default: off, or on when the `EVLOOP_TRACE_CYCLES` environment variable is `1`).
    ///
    /// Three lines per cycle, through `tracing` (target `evloop::cycle`, level `INFO`) or on
    /// stderr: the tasks polled in step 1, the poller's timeout, wait and events in step 2, and
    /// what woke the tasks resumed in step 3. When off, it costs one branch per cycle.
    pub fn trace_cycles(mut self, on: bool) -> Self {
        self.trace_cycles = Some(on);
        self
    }

    /// Creates the runtime: the OS poller, the ready queue, the timers and the I/O registry,
    /// and the monitor thread when slow-poll reports or the watchdog are on.
    ///
    /// # Errors
    ///
    /// Returns the OS error if the poller or the monitor thread cannot be created (for example
    /// when the process is out of file descriptors), [`io::ErrorKind::Unsupported`] on platforms
    /// whose poller has no edge-triggered mode, and [`io::ErrorKind::InvalidInput`] for a
    /// slow-poll threshold of zero or over an hour, or an unreadable `EVLOOP_SLOW_POLL_MS` or
    /// `EVLOOP_WATCHDOG`.
    pub fn build(self) -> io::Result<Runtime> {
        let threshold = match self.slow_poll_threshold {
            Some(threshold) => threshold,
            None => env_threshold()?.unwrap_or(Duration::from_millis(100)),
        };
        if threshold.is_zero() || threshold > MAX_THRESHOLD {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "evloop: slow-poll threshold must be between 1 ms and 1 hour, got {threshold:?}"
                ),
            ));
        }
        let watchdog = setting(self.stall_watchdog, "EVLOOP_WATCHDOG", false)?;
        let trace = setting(self.trace_cycles, "EVLOOP_TRACE_CYCLES", false)?;
        let poll_timing = setting(
            self.poll_timing,
            "EVLOOP_POLL_TIMING",
            cfg!(debug_assertions),
        )?;
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
            probe: Probe::new(),
        });
        let monitor = if self.slow_poll_reports || watchdog {
            let config = MonitorConfig {
                threshold,
                slow_polls: self.slow_poll_reports,
                watchdog,
            };
            Some(Monitor::start(shared.clone(), config)?)
        } else {
            None
        };
        let core = Rc::new(Core {
            name: self.name,
            ready: RefCell::new(ReadyQueue::new(poll_timing)),
            lag: poll_timing.then(|| RefCell::new(Lag::new())),
            waiting: RefCell::new(HashMap::default()),
            tasks_alive: Cell::new(0),
            timers: Rc::new(Timers::new()),
            reactor: Rc::new(Reactor::new(shared.clone(), self.event_capacity)),
            weak_shared: Arc::downgrade(&shared),
            shared,
            counters: Counters::default(),
            named_tasks: Cell::new(0),
            dead_names: RefCell::new(Vec::new()),
            next_task_id: Cell::new(1),
            running: Cell::new(None),
            publish: monitor.is_some(),
            trace,
            default_pool: DefaultPool::default(),
            wake_buf: RefCell::new(Vec::new()),
        });
        Ok(Runtime {
            core,
            _monitor: monitor,
        })
    }
}

/// The largest slow-poll threshold accepted.
const MAX_THRESHOLD: Duration = Duration::from_secs(3600);

/// `EVLOOP_SLOW_POLL_MS`, if set.
fn env_threshold() -> io::Result<Option<Duration>> {
    let Some(value) = std::env::var_os("EVLOOP_SLOW_POLL_MS") else {
        return Ok(None);
    };
    let value = value.to_string_lossy();
    match value.trim().parse::<u64>() {
        Ok(ms) => Ok(Some(Duration::from_millis(ms))),
        Err(_) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "evloop: EVLOOP_SLOW_POLL_MS must be a whole number of milliseconds (1 to \
                 3600000), got {value:?}"
            ),
        )),
    }
}

/// A boolean setting: as set on the builder, otherwise as the environment variable `name`
/// says (`0` or `1`), otherwise `default`.
fn setting(set: Option<bool>, name: &str, default: bool) -> io::Result<bool> {
    if let Some(on) = set {
        return Ok(on);
    }
    match std::env::var_os(name) {
        None => Ok(default),
        Some(v) if v.is_empty() => Ok(default),
        Some(v) if v == "1" => Ok(true),
        Some(v) if v == "0" => Ok(false),
        Some(v) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "evloop: {name} must be 0 or 1, got {:?}",
                v.to_string_lossy()
            ),
        )),
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
    /// The loop.
    core: Rc<Core>,
    /// The monitor thread, stopped and joined when the runtime is dropped (after the loop shut
    /// down: field order).
    _monitor: Option<Monitor>,
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
        let _driven = Driven::new(&self.core);
        let main = Arc::new(MainWaker {
            woken: AtomicBool::new(true),
            shared: self.core.weak_shared.clone(),
        });
        let waker = Waker::from(main.clone());
        let mut cx = Context::from_waker(&waker);
        let mut future = pin!(future);
        let location = std::panic::Location::caller();
        loop {
            // The future given to `block_on` takes its turn first in step 1, when it was woken.
            if main.woken.swap(false, Ordering::Acquire) {
                bump(&self.core.counters.polls, 1);
                self.core.publish_poll(MAIN_TASK, location);
                let poll = future.as_mut().poll(&mut cx);
                if let Poll::Ready(output) = poll {
                    return output;
                }
            }
            let ran = self.core.run_ready();
            let polled = self.core.poll_io(main.woken.load(Ordering::Relaxed));
            let resumed = self.core.resume_woken(polled.is_some());
            if self.core.trace {
                self.core.trace_cycle(ran, polled, resumed);
            }
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
        self.core.default_pool.shutdown();
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
    /// What the loop publishes for the monitor thread.
    pub(crate) probe: Probe,
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
    pub(crate) ready: RefCell<ReadyQueue>,
    /// Poll timing measurements, when poll timing is on.
    lag: Option<RefCell<Lag>>,
    /// The wakers of the live tasks that have waited at least once, by task: how shutdown
    /// and `abort` reach a task that is not in a ready queue. Every other live task is in the
    /// ready queue or the injection queue (it was scheduled when spawned and has not run yet).
    pub(crate) waiting: RefCell<HashMap<MetaKey, Waker, IdHasher>>,
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
    /// How many live tasks have a name (kept in the probe); while zero, nobody takes its lock.
    named_tasks: Cell<usize>,
    /// Tasks that ended during the current step and whose names are still to be forgotten.
    dead_names: RefCell<Vec<TaskId>>,
    /// Id given to the next spawned task.
    next_task_id: Cell<u64>,
    /// The task being polled, if a task poll is in progress (its runnable, consumed by the
    /// poll, keeps the task alive meanwhile).
    running: Cell<Option<MetaKey>>,
    /// Whether a monitor thread reads the probe; if not, polls are not published.
    publish: bool,
    /// Whether each cycle is traced ([`Builder::trace_cycles`]).
    trace: bool,
    /// The pool of `run_in_executor(None, ..)`, `to_thread`, `fs` and name resolution.
    pub(crate) default_pool: DefaultPool,
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
    fn run_ready(&self) -> usize {
        let n = self.ready.borrow().len();
        match &self.lag {
            None => {
                for _ in 0..n {
                    let Some(runnable) = self.ready.borrow_mut().pop_untimed() else {
                        break;
                    };
                    self.run_task(runnable);
                }
            }
            Some(lag) => self.run_ready_timed(n, lag),
        }
        bump(&self.counters.polls, n as u64);
        bump(&self.counters.cycles, 1);
        if self.named_tasks.get() > 0 {
            self.purge_task_names();
        }
        if self.publish {
            self.shared.probe.cycle_done(self.counters.cycles.get());
        }
        n
    }

    /// Step 1 in poll timing mode: the same, timing each poll and each task's wait for it.
    fn run_ready_timed(&self, n: usize, lag: &RefCell<Lag>) {
        let mut clock = Instant::now();
        for _ in 0..n {
            let Some((runnable, ready_at)) = self.ready.borrow_mut().pop_front() else {
                break;
            };
            // Only a map key: never dereferenced after the poll, which may free the task.
            let key = MetaKey::of(runnable.metadata());
            lag.borrow_mut().finished = false;
            let Some((id, location)) = self.run_task(runnable) else {
                continue;
            };
            let end = Instant::now();
            let ready_at = ready_at.unwrap_or(clock);
            let mut lag = lag.borrow_mut();
            if !lag.finished {
                *lag.busy.entry(key).or_default() += end - clock;
            }
            if lag.record(id, location, ready_at, clock, end) {
                if let Some(longest) = &mut lag.longest {
                    longest.name = self.task_name(id).map(|n| n.to_string());
                }
            }
            clock = end;
        }
    }

    /// Polls one task, or drops it if it was aborted; returns its id and spawn location if it
    /// ran.
    #[inline(always)]
    fn run_task(
        &self,
        runnable: Runnable,
    ) -> Option<(TaskId, &'static std::panic::Location<'static>)> {
        let meta = runnable.metadata();
        let state = meta.state();
        if state.is_aborted() {
            // Cancelled by `JoinHandle::abort`: dropping the runnable drops the future here,
            // on the loop thread, and resolves the handle to `Cancelled`.
            drop(runnable);
            return None;
        }
        meta.set_state(state.polled());
        let ran = (meta.id, meta.location);
        self.running.set(Some(MetaKey::of(meta)));
        self.publish_poll(ran.0, ran.1);
        runnable.run();
        self.running.set(None);
        Some(ran)
    }

    /// When a task that becomes ready now became ready, in poll timing mode: the loop's latest
    /// clock reading, at most one poll old.
    pub(crate) fn ready_stamp(&self) -> Option<Instant> {
        self.lag.as_ref().map(|lag| lag.borrow().clock)
    }

    /// Step 2 — "Call the OS I/O multiplexer with all pending file descriptors — wait until at
    /// least one is ready."
    ///
    /// The timeout is zero when tasks are ready, the nearest timer deadline otherwise, and
    /// infinite when there is neither. With tasks ready, the poll is skipped only when it could
    /// not report anything: no source is registered and no cross-thread wake is pending.
    fn poll_io(&self, main_woken: bool) -> Option<Polled> {
        let work_ready = main_woken || !self.ready.borrow().is_empty();
        let injected = !self.shared.injected.is_empty();
        let deadline = if work_ready || injected {
            if !injected && self.reactor.is_empty() {
                return None;
            }
            Some(Instant::now())
        } else {
            self.timers.next_deadline()
        };
        let traced = self.trace.then(Instant::now);
        if self.publish {
            self.shared.probe.set_parked(true);
        }
        let waited = self.reactor.wait(deadline);
        if self.publish {
            self.shared.probe.set_parked(false);
        }
        if let Some(lag) = &self.lag {
            // Tasks woken by this poll became ready now.
            lag.borrow_mut().clock = Instant::now();
        }
        if let Err(e) = waited {
            panic!("evloop: the OS poller failed: {e}");
        }
        bump(&self.counters.io_polls, 1);
        Some(Polled {
            timeout: deadline.map(|d| d.saturating_duration_since(traced.unwrap_or(d))),
            waited: traced.map_or(Duration::ZERO, |t| t.elapsed()),
        })
    }

    /// Step 3 — "Move coroutines whose I/O completed from the I/O registry back into the ready
    /// queue."
    ///
    /// Wakes the tasks whose sources became ready or whose timers expired, and moves the tasks
    /// woken from other threads from the injection queue into the ready queue.
    fn resume_woken(&self, polled: bool) -> Resumed {
        let mut resumed = Resumed::default();
        if polled || !self.timers.is_empty() {
            let mut wakers = std::mem::take(&mut *self.wake_buf.borrow_mut());
            if polled {
                resumed.events = self.reactor.dispatch(&mut wakers);
                bump(&self.counters.io_events, resumed.events as u64);
                resumed.by_io = wakers.len();
            }
            if !self.timers.is_empty() {
                let now = Instant::now();
                self.shared.probe.advance_clock(now);
                let fired = self.timers.fire_expired(now, &mut wakers);
                bump(&self.counters.timers_fired, fired as u64);
                resumed.by_timers = fired;
            }
            for waker in wakers.drain(..) {
                waker.wake();
            }
            *self.wake_buf.borrow_mut() = wakers;
        }
        if !self.shared.injected.is_empty() {
            // Counting costs a few atomic loads: only the cycle trace needs the number.
            resumed.from_threads = if self.trace {
                self.shared.injected.len()
            } else {
                1
            };
            let stamp = self.ready_stamp();
            let mut ready = self.ready.borrow_mut();
            while let Ok(runnable) = self.shared.injected.pop() {
                ready.push_back(runnable, stamp);
            }
        }
        resumed
    }

    /// Emits the cycle trace: one event per step of the cycle just completed.
    fn trace_cycle(&self, ran: usize, polled: Option<Polled>, resumed: Resumed) {
        let cycle = self.counters.cycles.get();
        crate::report::trace(format_args!("cycle {cycle} run:    {ran} task(s) polled"));
        match polled {
            None => crate::report::trace(format_args!(
                "cycle {cycle} poll:   skipped (tasks ready, no I/O source registered)"
            )),
            Some(p) => {
                let timeout = match p.timeout {
                    Some(t) if t.is_zero() => "timeout 0 (tasks ready)".to_owned(),
                    Some(t) => format!("timeout {t:.1?} (next timer)"),
                    None => "no timeout (nothing ready, no timer)".to_owned(),
                };
                crate::report::trace(format_args!(
                    "cycle {cycle} poll:   {timeout}, waited {:.1?}, {} I/O event(s)",
                    p.waited, resumed.events
                ));
            }
        }
        crate::report::trace(format_args!(
            "cycle {cycle} resume: {} woken by I/O, {} by timers, {} from other threads",
            resumed.by_io, resumed.by_timers, resumed.from_threads
        ));
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
                let next = self.ready.borrow_mut().pop_front().map(|(r, _)| r);
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
        self.purge_task_names();
    }

    pub(crate) fn stats(&self) -> Stats {
        let mut stats = self.counters.snapshot(
            self.tasks_alive.get(),
            self.timers.len(),
            self.reactor.len(),
        );
        match &self.lag {
            Some(lag) => {
                let lag = lag.borrow();
                stats.poll_durations = Some(lag.polls.clone());
                stats.scheduling_delays = Some(lag.delays.clone());
                stats.longest_poll = lag.longest.clone();
            }
            None => stats.longest_poll = self.shared.probe.longest_poll(),
        }
        stats
    }

    /// Publishes the start of a poll of `task` for the monitor thread, if there is one.
    #[inline(always)]
    fn publish_poll(&self, task: TaskId, location: &'static std::panic::Location<'static>) {
        if self.publish {
            self.shared.probe.begin_poll(task, location);
        }
    }

    pub(crate) fn probe(&self) -> &Probe {
        &self.shared.probe
    }

    pub(crate) fn set_task_name(&self, task: TaskId, name: Arc<str>) {
        self.named_tasks.set(self.named_tasks.get() + 1);
        self.shared.probe.set_name(task, name);
    }

    pub(crate) fn task_name(&self, task: TaskId) -> Option<Arc<str>> {
        if self.named_tasks.get() == 0 {
            return None;
        }
        self.shared.probe.name(task)
    }

    /// Forgets the name of a task that is gone, at the end of the current step (so the step's
    /// bookkeeping after the task's last poll can still name it).
    pub(crate) fn forget_task_name(&self, task: TaskId) {
        if self.named_tasks.get() > 0 {
            self.dead_names.borrow_mut().push(task);
        }
    }

    /// Forgets the names of the tasks that ended.
    fn purge_task_names(&self) {
        let mut dead = self.dead_names.borrow_mut();
        for task in dead.drain(..) {
            if self.shared.probe.forget_name(task) {
                self.named_tasks.set(self.named_tasks.get() - 1);
            }
        }
    }

    /// Total poll time of a live task so far, with poll timing.
    pub(crate) fn busy(&self, meta: &crate::task::TaskMeta) -> Option<Duration> {
        let lag = self.lag.as_ref()?.borrow();
        Some(
            lag.busy
                .get(&MetaKey::of(meta))
                .copied()
                .unwrap_or_default(),
        )
    }

    /// Forgets the poll time of a task whose future is being dropped.
    pub(crate) fn task_finished(&self, meta: &crate::task::TaskMeta) {
        if let Some(lag) = &self.lag {
            let mut lag = lag.borrow_mut();
            lag.busy.remove(&MetaKey::of(meta));
            lag.finished = true;
        }
    }

    /// The task being polled now, if the caller is a task (not the `block_on` future).
    pub(crate) fn running_task(&self) -> Option<MetaKey> {
        self.running.get()
    }

    /// A fresh task id.
    pub(crate) fn next_task_id(&self) -> TaskId {
        let id = self.next_task_id.get();
        self.next_task_id.set(id + 1);
        TaskId::new(id)
    }
}

/// What step 2 did, for the cycle trace.
#[derive(Debug, Clone, Copy)]
struct Polled {
    /// The timeout given to the poller (`None`: none); measured only when tracing.
    timeout: Option<Duration>,
    /// How long the poll took; measured only when tracing.
    waited: Duration,
}

/// What step 3 did, for the cycle trace.
#[derive(Debug, Clone, Copy, Default)]
struct Resumed {
    /// Readiness events for registered sources.
    events: usize,
    /// Wakers woken by I/O readiness.
    by_io: usize,
    /// Wakers woken by expired timers.
    by_timers: usize,
    /// Tasks woken from other threads, moved from the injection queue.
    from_threads: usize,
}

/// The ready queue: runnable tasks in the order they became ready and, in poll timing mode,
/// when each became ready (a second queue kept in step, so the queue of runnables stays dense).
pub(crate) struct ReadyQueue {
    /// The runnables.
    runnables: VecDeque<Runnable>,
    /// When each runnable became ready, in poll timing mode.
    since: Option<VecDeque<Instant>>,
}

impl ReadyQueue {
    fn new(timing: bool) -> Self {
        ReadyQueue {
            runnables: VecDeque::new(),
            since: timing.then(VecDeque::new),
        }
    }

    pub(crate) fn push_back(&mut self, runnable: Runnable, ready_at: Option<Instant>) {
        self.runnables.push_back(runnable);
        if let Some(since) = &mut self.since {
            since.push_back(ready_at.unwrap_or_else(Instant::now));
        }
    }

    /// The next runnable, when poll timing is off (no stamps are kept).
    #[inline(always)]
    fn pop_untimed(&mut self) -> Option<Runnable> {
        debug_assert!(self.since.is_none());
        self.runnables.pop_front()
    }

    fn pop_front(&mut self) -> Option<(Runnable, Option<Instant>)> {
        let runnable = self.runnables.pop_front()?;
        let since = self.since.as_mut().and_then(VecDeque::pop_front);
        Some((runnable, since))
    }

    pub(crate) fn len(&self) -> usize {
        self.runnables.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.runnables.is_empty()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Runnable> {
        self.runnables.iter()
    }
}

/// Hashes the keys of the loop-local maps of tasks: task ids, and task metadata addresses
/// divided by their alignment.
///
/// Both are distinct integers that are mostly consecutive for tasks spawned one after another
/// (ids by construction, addresses because the allocator hands out neighbouring blocks), and
/// tasks tend to be spawned, to wait and to finish in that order. hashbrown picks the bucket from the low bits of the hash and a 7-bit tag
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

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
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
                if let Some(runnable) = runnable.take() {
                    let stamp = core.ready_stamp();
                    core.ready.borrow_mut().push_back(runnable, stamp);
                }
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

/// Tells the monitor thread that the loop is being driven by `block_on` (not parked) until
/// dropped, also during unwinding: a runtime nobody drives is idle, not stalled.
struct Driven<'a>(&'a Core);

impl<'a> Driven<'a> {
    fn new(core: &'a Core) -> Self {
        if core.publish {
            core.shared.probe.set_parked(false);
        }
        Driven(core)
    }
}

impl Drop for Driven<'_> {
    fn drop(&mut self) {
        if self.0.publish {
            self.0.shared.probe.set_parked(true);
        }
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
