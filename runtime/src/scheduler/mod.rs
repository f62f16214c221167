//! The scheduler: [`Core`], the loop-local state of one event loop, and what surrounds it.
//!
//! - [`Core`] (this file) owns everything loop-local: the ready queue, the registry of live
//!   tasks, the timers, the I/O registry, the observer and the default pool.
//! - [`cycle`] is the loop itself: Run → Poll → Resume, the lecture's slide 5.
//! - [`shared::Shared`] is the half other threads reach: the injection queue and the poller.
//! - [`context`] is the thread-local "loop running on this thread", and `schedule`, which sends
//!   a woken task to its loop.
//! - [`shutdown`] cancels every task when the loop closes.

pub(crate) mod budget;
pub(crate) mod context;
pub(crate) mod cycle;
pub(crate) mod default_pool;
pub(crate) mod ready;
pub(crate) mod registry;
pub(crate) mod shared;
pub(crate) mod shutdown;
pub(crate) mod spin;

use std::cell::{Cell, RefCell};
use std::fmt;
use std::panic::Location;
use std::rc::Rc;
use std::sync::{Arc, Weak};
use std::task::Waker;
use std::time::{Duration, Instant};

use crate::io::poller::{Events, Poller};
use crate::io::reactor::Reactor;
use crate::observe::observer::{Instruments, Observer};
use crate::observe::probe::Probe;
use crate::observe::stats::Stats;
use crate::scheduler::default_pool::{DefaultPool, GroupPools};
use crate::scheduler::ready::ReadyQueue;
use crate::scheduler::registry::TaskRegistry;
use crate::scheduler::shared::Shared;
use crate::scheduler::spin::IdleSpin;
use crate::task::meta::{MetaKey, Runnable, TaskId, TaskMeta};
use crate::time::timers::Timers;

/// The loop-local state of one event loop: a capability token for the loop thread.
///
/// `Core` is `!Send` and `!Sync` (it holds `Rc`s and `Cell`s): only the thread that created the
/// loop ever touches it, through the thread's context while the loop runs, or through the
/// `!Send` `Runtime` that owns it. Nothing in it is locked.
pub(crate) struct Core {
    /// Name given by `Builder::name`.
    name: Option<String>,
    /// Tasks that can run now, in the order they became ready (the lecture's ready queue).
    ready: RefCell<ReadyQueue>,
    /// Every live task: how many, and the wakers of those that wait.
    tasks: TaskRegistry,
    /// Pending timers; the nearest deadline bounds the poll timeout.
    timers: Rc<Timers>,
    /// I/O sources registered with the poller (the lecture's I/O registry).
    reactor: Rc<Reactor>,
    /// The cross-thread half of the loop.
    shared: Arc<Shared>,
    /// What task schedule functions hold, so a late waker never keeps the poller alive.
    weak_shared: Weak<Shared>,
    /// Counters, probe, poll timing and cycle trace, called from the cycle's hooks.
    observer: Observer,
    /// Id given to the next spawned task.
    next_task_id: Cell<u64>,
    /// The task being polled, if a task poll is in progress (its runnable, consumed by the
    /// poll, keeps the task alive meanwhile).
    running: Cell<Option<MetaKey>>,
    /// The pool of `run_in_executor(None, ..)`, `to_thread`, `fs` and name resolution.
    default_pool: DefaultPool,
    /// Reused buffer of wakers collected in step 3, woken once no borrow is held.
    wake_buf: RefCell<Vec<Waker>>,
    /// Operations one poll may complete without waiting before the task must yield.
    coop_budget: u32,
    /// How late a timer may fire to fire with others: step 2 sleeps until the nearest
    /// deadline plus this.
    timer_slack: Duration,
    /// How long closing the loop waits for the default pool's jobs.
    shutdown_timeout: Duration,
    /// Whether step 2 spins for a wake from another thread before it sleeps, learnt from how
    /// its recent waits ended.
    idle_spin: IdleSpin,
    /// When step 2 last called the poller (or when the loop started): with tasks ready, the
    /// next poll waits until `cycle::IO_POLL_INTERVAL` has passed since then.
    last_io_poll: Cell<Instant>,
    /// Cycles with tasks ready that step 2 still skips without reading the clock
    /// (`cycle::CYCLES_PER_CLOCK_READ`).
    clock_skips: Cell<u32>,
}

impl fmt::Debug for Core {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Core")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// How a loop is configured, as the builder resolved it.
#[derive(Debug)]
pub(crate) struct LoopConfig {
    /// The loop's name, for reports.
    pub(crate) name: Option<String>,
    /// Which instruments the observer runs.
    pub(crate) instruments: Instruments,
    /// Operations one poll may complete without waiting.
    pub(crate) coop_budget: u32,
    /// How late a timer may fire to fire with others.
    pub(crate) timer_slack: Duration,
    /// How long closing the loop waits for the default pool's jobs.
    pub(crate) shutdown_timeout: Duration,
    /// How long step 2 may spin for a wake from another thread before it sleeps.
    pub(crate) idle_spin: Duration,
    /// The pools of the `per_core` group the loop belongs to, if it does.
    pub(crate) group_pools: Option<Arc<GroupPools>>,
}

impl Core {
    /// A loop configured by `config`, on `poller` (whose waits fill `events`), reporting into
    /// `probe`.
    pub(crate) fn new(
        config: LoopConfig,
        poller: Arc<Poller>,
        events: Events,
        probe: Arc<Probe>,
    ) -> Rc<Core> {
        let LoopConfig {
            name,
            instruments,
            coop_budget,
            timer_slack,
            shutdown_timeout,
            idle_spin,
            group_pools,
        } = config;
        let shared = Arc::new(Shared::new(poller.clone()));
        let observer = Observer::new(probe, instruments, name.as_deref());
        Rc::new(Core {
            name,
            ready: RefCell::new(ReadyQueue::new(instruments.poll_timing)),
            tasks: TaskRegistry::default(),
            timers: Rc::new(Timers::new()),
            reactor: Rc::new(Reactor::new(poller, events)),
            weak_shared: Arc::downgrade(&shared),
            shared,
            observer,
            next_task_id: Cell::new(1),
            running: Cell::new(None),
            default_pool: DefaultPool::new(group_pools),
            wake_buf: RefCell::new(Vec::new()),
            coop_budget,
            timer_slack,
            shutdown_timeout,
            idle_spin: IdleSpin::new(
                idle_spin,
                if idle_spin.is_zero() {
                    0
                } else {
                    std::thread::available_parallelism().map_or(0, usize::from)
                },
            ),
            last_io_poll: Cell::new(Instant::now()),
            clock_skips: Cell::new(0),
        })
    }

    /// Operations one poll may complete without waiting; see `budget.rs`.
    #[inline]
    pub(crate) fn coop_budget(&self) -> u32 {
        self.coop_budget
    }

    /// The loop's name, if it was given one.
    pub(crate) fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The loop's timers.
    #[inline]
    pub(crate) fn timers(&self) -> &Rc<Timers> {
        &self.timers
    }

    /// The loop's I/O registry.
    #[inline]
    pub(crate) fn reactor(&self) -> &Rc<Reactor> {
        &self.reactor
    }

    /// The loop's default thread pool.
    #[inline]
    pub(crate) fn default_pool(&self) -> &DefaultPool {
        &self.default_pool
    }

    /// The loop's observer.
    #[inline]
    pub(crate) fn observer(&self) -> &Observer {
        &self.observer
    }

    /// What wakers hold to reach this loop.
    #[inline]
    pub(crate) fn weak_shared(&self) -> &Weak<Shared> {
        &self.weak_shared
    }

    /// Whether `shared` is this loop's.
    #[inline]
    pub(crate) fn owns(&self, shared: &Weak<Shared>) -> bool {
        std::ptr::eq(Arc::as_ptr(&self.shared), shared.as_ptr())
    }

    /// Queues a task woken on the loop thread.
    #[inline]
    pub(crate) fn push_ready(&self, runnable: Runnable) {
        let stamp = self.observer.ready_stamp();
        self.ready.borrow_mut().push_back(runnable, stamp);
    }

    // ---- Tasks ----

    /// The metadata of a new task named `name`, spawned at `location`; the task counts as
    /// alive from now on.
    #[inline]
    pub(crate) fn new_task(
        &self,
        name: Option<Arc<str>>,
        location: &'static Location<'static>,
    ) -> TaskMeta {
        let id = TaskId::new(self.next_task_id.get());
        self.next_task_id.set(id.as_u64() + 1);
        self.tasks.spawned();
        let spawned_ms = self.observer.spawned(id, name);
        TaskMeta::new(id, location, spawned_ms)
    }

    /// The task of `meta` waits for the first time; `waker` is its own waker.
    #[inline]
    pub(crate) fn task_waits(&self, meta: &TaskMeta, waker: Waker) {
        self.tasks.enter(meta, waker);
        meta.set_state(meta.state().waiting());
        self.observer.task_waits(MetaKey::of(meta));
    }

    /// The future of the task of `meta` is being dropped (it completed, was aborted or
    /// cancelled): the task is no longer alive.
    #[inline]
    pub(crate) fn task_dropped(&self, meta: &TaskMeta) {
        self.tasks.leave(meta);
        self.observer.task_gone(MetaKey::of(meta), meta.id);
    }

    /// The waker of a task that has waited at least once.
    #[inline]
    pub(crate) fn waker_of(&self, meta: &TaskMeta) -> Option<Waker> {
        self.tasks.waker(meta)
    }

    /// The name of a live task.
    #[inline]
    pub(crate) fn task_name(&self, id: TaskId) -> Option<Arc<str>> {
        self.observer.task_name(id)
    }

    /// Total poll time of a live task so far, with poll timing.
    pub(crate) fn busy(&self, meta: &TaskMeta) -> Option<Duration> {
        self.observer.busy(meta)
    }

    /// Calls `f` with every live task the loop can see and where it is: in the ready queue,
    /// being polled now (the caller's own task), or waiting. A task may appear twice (waiting
    /// and already woken into the ready queue); never-polled tasks are ready.
    pub(crate) fn for_each_task(&self, mut f: impl FnMut(&TaskMeta, Place)) {
        for runnable in self.ready.borrow().iter() {
            f(runnable.metadata(), Place::Ready);
        }
        if let Some(running) = self.running.get() {
            // SAFETY: `running` is set only while the task's runnable runs, which keeps the
            // task's allocation alive; the caller is that task's poll.
            f(unsafe { running.meta() }, Place::Running);
        }
        self.tasks.for_each(|meta| f(meta, Place::Waiting));
    }

    /// A snapshot of this loop's counters.
    pub(crate) fn stats(&self) -> Stats {
        self.observer
            .stats(self.tasks.alive(), self.timers.len(), self.reactor.len())
    }
}

/// Where [`Core::for_each_task`] found a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    /// Being polled now.
    Running,
    /// In the ready queue.
    Ready,
    /// In the registry of waiting tasks.
    Waiting,
}
