//! One loop per core: [`per_core`] starts N event loops on N threads and runs the same async
//! setup on each, the way asyncio programs scale with one loop per worker process and Rust's
//! thread-per-core runtimes with one single-threaded loop per core. Each loop is an ordinary
//! evloop [`Runtime`](crate::Runtime): its tasks stay `!Send` and never move between loops.
//!
//! ```
//! use std::time::Duration;
//!
//! use evloop::{OnExit, PerCore};
//!
//! // Each loop computes a result: one that finishes first must not stop the other.
//! let loops = PerCore::new().loops(2).on_exit(OnExit::StopOnPanic).run(|core| async move {
//!     evloop::sleep(Duration::from_millis(1)).await;
//!     core.index() * 10
//! });
//! let answers: Vec<usize> = loops.into_iter().map(|l| l.outcome.unwrap()).collect();
//! assert_eq!(answers, [0, 10]);
//! ```
//!
//! What happens when a loop's setup returns or panics is the [`OnExit`] policy: by default
//! every other loop is stopped (its setup future dropped, its tasks given the drain timeout to
//! finish, then cancelled, as when [`run`](crate::run) returns); with [`OnExit::Restart`] a loop whose setup panicked gets a
//! fresh loop and runs the setup again, a bounded number of times. Restarting relies on panics
//! unwinding: a program built with `panic = "abort"` ends at the first panic instead.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::builder::Builder;
use crate::observe::monitor::MonitorThread;
use crate::observe::stats::Stats;
use crate::scheduler::default_pool::GroupPools;
use crate::task::harness::panic_message;

mod group;
mod listener;
mod serve;
mod sys;

use group::Group;
pub use group::LoopStats;
pub use listener::{GroupListener, ListenMode};
pub use serve::Connection;

/// What one loop is told about itself: its index and the group's size, a handle to every loop
/// of the group, and when the group's stop has begun.
#[derive(Clone)]
pub struct Core {
    index: usize,
    loops: usize,
    group: Arc<Group>,
    handles: Arc<[LoopHandle]>,
}

impl Core {
    /// This loop's index, from 0 to [`loops`](Self::loops)` - 1`.
    pub fn index(&self) -> usize {
        self.index
    }

    /// How many loops the group has.
    pub fn loops(&self) -> usize {
        self.loops
    }

    /// Resolves when the group's stop has begun: another loop's setup returned or panicked
    /// under [`OnExit::StopAll`]. The setup future is dropped right after, so a task that
    /// must see the stop awaits this on its own.
    pub fn stopping(&self) -> impl Future<Output = ()> + 'static {
        let group = self.group.clone();
        async move { group.stop.wait().await }
    }

    /// Whether the group's stop has begun.
    pub fn is_stopping(&self) -> bool {
        self.group.stop.begun()
    }

    /// Loop `index`'s stats so far (its `busy` time is known once it has ended).
    ///
    /// # Panics
    ///
    /// If `index` is not below [`loops`](Self::loops).
    pub fn loop_stats(&self, index: usize) -> LoopStats {
        self.group.stats(index)
    }

    /// The handle of loop `index` of the group, to run work there.
    ///
    /// # Panics
    ///
    /// If `index` is not below [`loops`](Self::loops).
    pub fn handle(&self, index: usize) -> &LoopHandle {
        &self.handles[index]
    }

    /// The handles of every loop of the group, in index order.
    pub fn handles(&self) -> &[LoopHandle] {
        &self.handles
    }
}

impl GroupListener {
    /// The listener of `core`'s loop, registered with that loop: in shared mode the group's
    /// socket, in `SO_REUSEPORT` mode the loop's own socket of the group (made at its first
    /// call, kept for a restarted loop). Call it on the loop, in its setup.
    ///
    /// # Errors
    ///
    /// The OS's error of binding, duplicating or registering the socket.
    pub fn for_loop(&self, core: &Core) -> io::Result<crate::net::TcpListener> {
        self.for_index(core.index)
    }

    /// Serves this listener on `core`'s loop, in every mode: a task of the loop accepts (or,
    /// in hand-off mode, receives the connections placed on this loop) and starts `handler`
    /// on each connection as a task of its own (named after the peer), counted in the loop's
    /// [`LoopStats`] while it lives. When the group's stop begins, the accepting task takes
    /// what the socket has queued (until `EAGAIN`), serves it, and ends; the handlers get the
    /// drain timeout to finish. Resolves when the accepting task has ended (so, when called
    /// in the setup, only if it failed: the stop drops the setup first).
    ///
    /// Call it once per loop, in the setup; a restarted loop calls it again and takes its
    /// place back.
    ///
    /// # Errors
    ///
    /// The OS's error of registering the socket, or an accept error other than those of one
    /// connection (`ECONNABORTED`...) and running out of file descriptors (`EMFILE`, after
    /// which the loop pauses 100 ms and accepts again).
    pub async fn serve<H, Fut>(&self, core: &Core, handler: H) -> io::Result<()>
    where
        H: FnMut(Connection) -> Fut + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let server = serve::Server {
            listener: self.clone(),
            index: core.index,
            group: core.group.clone(),
            handler: std::rc::Rc::new(std::cell::RefCell::new(handler)),
        };
        crate::task::spawn::Builder::new()
            .name(format!("accept on {}", self.local_addr()))
            .spawn(server.run())
            .await?
    }
}

/// A job in a loop's inbox: spawns its future on that loop.
type Job = Box<dyn FnOnce() + Send>;

/// How many messages a loop's inbox holds: a sender to a full inbox waits, without blocking
/// its thread, until the loop has taken one. An inbox holds at most this many boxed closures
/// (a pointer and a length each, 16 bytes, plus what each closure captures).
pub const INBOX_CAPACITY: usize = 1024;

/// A handle to one loop of a [`PerCore`] group, from any thread: it runs work on that loop.
/// `Send + Sync + Clone`.
#[derive(Clone)]
pub struct LoopHandle {
    index: usize,
    inbox: async_channel::Sender<Job>,
    group: Arc<Group>,
}

impl fmt::Debug for LoopHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoopHandle")
            .field("index", &self.index)
            .field("queued", &self.inbox.len())
            .finish()
    }
}

impl LoopHandle {
    /// The loop's index.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Runs `f` on this loop: `f` is sent there (it must be `Send`), called on the loop's
    /// thread, and the future it returns (which need not be `Send`) is spawned there as a task;
    /// resolves to the future's output. A full inbox makes this wait for room; the calling
    /// thread is never blocked.
    ///
    /// # Errors
    ///
    /// [`LoopError::Stopped`] if the loop has stopped (or stops before running the task to its
    /// end), [`LoopError::Panicked`] if the task panicked.
    pub async fn run<F, Fut>(&self, f: F) -> Result<Fut::Output, LoopError>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future + 'static,
        Fut::Output: Send + 'static,
    {
        use futures_lite::FutureExt;
        let (reply, answer) = async_channel::bounded(1);
        let job: Job = Box::new(move || {
            drop(crate::task::spawn::spawn(async move {
                let out = AssertUnwindSafe(async move { f().await })
                    .catch_unwind()
                    .await
                    .map_err(|payload| panic_message(&*payload));
                let _ = reply.try_send(out);
            }));
        });
        self.inbox.send(job).await.map_err(|_| LoopError::Stopped)?;
        self.group.message(self.index);
        match answer.recv().await {
            Ok(Ok(out)) => Ok(out),
            Ok(Err(msg)) => Err(LoopError::Panicked(msg)),
            Err(_) => Err(LoopError::Stopped),
        }
    }
}

impl fmt::Debug for Core {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Core")
            .field("index", &self.index)
            .field("loops", &self.loops)
            .field("stopping", &self.is_stopping())
            .finish()
    }
}

/// What happens when a loop's setup returns or panics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OnExit {
    /// Stop every other loop when one's setup returns or panics (the default): their setup
    /// futures are dropped and their tasks get the drain timeout to finish.
    StopAll,
    /// Stop every other loop when one's setup panics; a setup that returns ends only its own
    /// loop (for groups whose loops each compute a result).
    StopOnPanic,
    /// A loop whose setup panicked gets a fresh loop and runs the setup again, at most `max`
    /// times within any `per` (then the group stops as with [`StopAll`](Self::StopAll)). A
    /// setup that returns ends its loop; the others go on.
    Restart {
        /// Restarts allowed within `per`.
        max: u32,
        /// The window of the cap.
        per: Duration,
    },
}

impl OnExit {
    /// Restart panicking loops, at most 5 times a minute each.
    pub const fn restart() -> OnExit {
        OnExit::Restart {
            max: 5,
            per: Duration::from_secs(60),
        }
    }
}

/// Why a loop has no result.
#[derive(Debug)]
#[non_exhaustive]
pub enum LoopError {
    /// The setup panicked (for the last time, under [`OnExit::Restart`]); the panic's message.
    Panicked(String),
    /// The loop was stopped: the group's stop began (SIGINT or SIGTERM, or another loop's
    /// setup returned or panicked).
    Stopped,
    /// The loop could not be built (the OS refused its poller).
    Build(io::Error),
}

impl fmt::Display for LoopError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoopError::Panicked(msg) => write!(f, "the loop's setup panicked: {msg}"),
            LoopError::Stopped => f.write_str(
                "the loop was stopped: the group's stop began (a signal, or another loop of the \
                 group returned or panicked)",
            ),
            LoopError::Build(e) => write!(f, "the loop could not be built: {e}"),
        }
    }
}

impl std::error::Error for LoopError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LoopError::Build(e) => Some(e),
            _ => None,
        }
    }
}

/// How one loop ended.
#[derive(Debug)]
#[non_exhaustive]
pub struct LoopResult<T> {
    /// The loop's index.
    pub core: usize,
    /// The setup's output, or why there is none.
    pub outcome: Result<T, LoopError>,
    /// The counters of the loop's last runtime when it ended (its inbox is one task of its
    /// own, in `tasks_spawned`).
    pub stats: Option<Stats>,
    /// How many times the loop was restarted.
    pub restarts: u32,
    /// The CPU the loop's thread was pinned to, if pinning was asked for and worked.
    pub pinned_to: Option<usize>,
    /// Tasks still alive when a stopped loop's drain timeout passed, cancelled then (each was
    /// named on stderr).
    pub cancelled_at_close: usize,
    /// What the group counted for this loop: connections, messages, CPU time.
    pub loop_stats: LoopStats,
}

/// How long a stopped loop lets its tasks finish, unless [`PerCore::drain_timeout`] says.
const DEFAULT_DRAIN: Duration = Duration::from_secs(10);

/// A group of loops, one per core by default: [`PerCore::new`], its settings, then
/// [`run`](Self::run).
pub struct PerCore {
    loops: Option<usize>,
    pin: bool,
    signals: bool,
    drain: Duration,
    on_exit: OnExit,
    builder: Arc<dyn Fn(usize) -> Builder + Send + Sync>,
}

impl fmt::Debug for PerCore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PerCore")
            .field("loops", &self.loops)
            .field("pin", &self.pin)
            .field("signals", &self.signals)
            .field("drain_timeout", &self.drain)
            .field("on_exit", &self.on_exit)
            .finish_non_exhaustive()
    }
}

impl Default for PerCore {
    fn default() -> Self {
        PerCore::new()
    }
}

impl PerCore {
    /// A group with one loop per available CPU
    /// ([`std::thread::available_parallelism`], read before any pinning), no pinning,
    /// [`OnExit::StopAll`], and `Builder::new()` for every loop.
    pub fn new() -> PerCore {
        PerCore {
            loops: None,
            pin: false,
            signals: true,
            drain: DEFAULT_DRAIN,
            on_exit: OnExit::StopAll,
            builder: Arc::new(|_| Builder::new()),
        }
    }

    /// How many loops (at least 1).
    pub fn loops(mut self, loops: usize) -> PerCore {
        self.loops = Some(loops.max(1));
        self
    }

    /// Pins loop `i`'s thread to CPU `i` (modulo the CPUs this process may use). Linux only: on
    /// other systems the loops run unpinned and the first one says so on stderr, once.
    pub fn pin(mut self, pin: bool) -> PerCore {
        self.pin = pin;
        self
    }

    /// Whether the thread that calls [`run`](Self::run) watches SIGINT and SIGTERM (default:
    /// yes): the first one begins the group's stop, as a loop's exit does; a second one exits
    /// the process at once (status 130 for SIGINT, 143 for SIGTERM). Once watched, the signals
    /// stay caught after `run` returns (signal handlers are never uninstalled: see
    /// [`evloop::signal`](crate::signal)); other watchers of the same signals, such as
    /// [`signal::ctrl_c`](crate::signal::ctrl_c) in a loop, still get every arrival.
    pub fn signals(mut self, watch: bool) -> PerCore {
        self.signals = watch;
        self
    }

    /// How long a stopped loop lets its tasks finish (default 10 s): when the group's stop
    /// begins, each loop's setup future is dropped (an accept loop in it ends), and the tasks
    /// it spawned keep running until they are all done or this time has passed; the tasks
    /// still alive then are named on stderr and cancelled. (`Builder::shutdown_timeout` is
    /// another wait: the one for the default pool's jobs when a loop closes.)
    pub fn drain_timeout(mut self, drain: Duration) -> PerCore {
        self.drain = drain;
        self
    }

    /// What happens when a loop's setup returns or panics.
    pub fn on_exit(mut self, on_exit: OnExit) -> PerCore {
        self.on_exit = on_exit;
        self
    }

    /// The builder of loop `i`'s runtime (called on that loop's thread, again at each restart);
    /// its name defaults to `loop-i`.
    pub fn builder(
        mut self,
        builder: impl Fn(usize) -> Builder + Send + Sync + 'static,
    ) -> PerCore {
        self.builder = Arc::new(builder);
        self
    }

    /// Starts the loops, each on a thread of its own (`evloop-core-i`), runs `setup` on each,
    /// and returns when every loop has ended, with each loop's result in the order of their
    /// indices. The threads have ended when it returns.
    pub fn run<F, Fut>(self, setup: F) -> Vec<LoopResult<Fut::Output>>
    where
        F: Fn(Core) -> Fut + Send + Sync + 'static,
        Fut: Future + 'static,
        Fut::Output: Send + 'static,
    {
        let loops = self
            .loops
            .unwrap_or_else(|| thread::available_parallelism().map_or(1, |n| n.get()));
        let group = Arc::new(Group::new(loops));
        // One default pool, one I/O pool and one monitor thread for every loop, ended once all
        // loops have (without a monitor thread of its own, each loop starts one).
        let pools = Arc::new(GroupPools::default());
        let monitor = MonitorThread::start().ok().map(Arc::new);
        let setup = Arc::new(setup);
        let (senders, mut inboxes): (Vec<_>, Vec<_>) = (0..loops)
            .map(|_| async_channel::bounded::<Job>(INBOX_CAPACITY))
            .unzip();
        let handles: Arc<[LoopHandle]> = senders
            .into_iter()
            .enumerate()
            .map(|(index, inbox)| LoopHandle {
                index,
                inbox,
                group: group.clone(),
            })
            .collect();
        let cpus = self.pin.then(sys::allowed_cpus);
        let signals = if self.signals {
            use signal_hook::consts::signal::{SIGINT, SIGTERM};
            match signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) {
                Ok(signals) => Some(signals),
                Err(e) => {
                    eprintln!("evloop: per_core: SIGINT and SIGTERM are not watched: {e}");
                    None
                }
            }
        } else {
            None
        };
        // The last loop to end closes the signal watch, which ends the caller's wait below.
        let running = Arc::new(std::sync::atomic::AtomicUsize::new(loops));
        let closer = signals.as_ref().map(|s| s.handle());
        let threads: Vec<_> = (0..loops)
            .map(|index| {
                let (group, setup, builder) = (group.clone(), setup.clone(), self.builder.clone());
                let (pools, monitor) = (pools.clone(), monitor.clone());
                let (handles, inbox) = (handles.clone(), inboxes.remove(0));
                let (running, closer) = (running.clone(), closer.clone());
                let cpu = cpus.as_ref().map(|cpus| cpus[index % cpus.len().max(1)]);
                let (on_exit, drain) = (self.on_exit, self.drain);
                thread::Builder::new()
                    .name(format!("evloop-core-{index}"))
                    .spawn(move || {
                        let pinned_to = cpu.and_then(sys::pin_current_thread);
                        let core = Core {
                            index,
                            loops,
                            group,
                            handles,
                        };
                        // Whatever happens below, the count goes down when this thread ends.
                        let _ended = LoopEnded { running, closer };
                        let build = || builder(index).in_group(pools.clone(), monitor.clone());
                        let mut result = one_loop(&core, &inbox, &*setup, &build, on_exit, drain);
                        // Messages still queued can no longer run: dropping them tells their
                        // senders (handles elsewhere keep the channel itself alive).
                        inbox.close();
                        while inbox.try_recv().is_ok() {}
                        result.pinned_to = pinned_to;
                        result.loop_stats = core.group.stats(index);
                        result.loop_stats.busy = sys::thread_cpu_time();
                        result
                    })
            })
            .collect();
        // A loop whose thread did not start never counts itself out.
        for _ in threads.iter().filter(|t| t.is_err()) {
            group.stop.begin();
            if running.fetch_sub(1, Ordering::SeqCst) == 1 {
                if let Some(closer) = &closer {
                    closer.close();
                }
            }
        }
        if let Some(mut signals) = signals {
            for signal in signals.forever() {
                if group.stop.begun() {
                    eprintln!("evloop: per_core: signal {signal} again: exiting at once");
                    std::process::exit(128 + signal);
                }
                eprintln!(
                    "evloop: per_core: signal {signal}: stopping the loops (their tasks get the \
                     {:?} drain timeout; a second signal exits at once)",
                    self.drain
                );
                group.stop.begin();
            }
        }
        let results: Vec<_> = threads
            .into_iter()
            .enumerate()
            .map(|(index, spawned)| {
                let failed = |msg: String| LoopResult {
                    core: index,
                    outcome: Err(LoopError::Panicked(msg)),
                    stats: None,
                    restarts: 0,
                    pinned_to: None,
                    cancelled_at_close: 0,
                    loop_stats: group.stats(index),
                };
                match spawned {
                    Ok(handle) => handle.join().unwrap_or_else(|payload| {
                        group.stop.begin();
                        failed(panic_message(&*payload))
                    }),
                    Err(e) => {
                        // A loop that never started leaves the group short: stop it.
                        group.stop.begin();
                        LoopResult {
                            outcome: Err(LoopError::Build(e)),
                            ..failed(String::new())
                        }
                    }
                }
            })
            .collect();
        // Every loop has ended: the pools they shared close now (their jobs get the longest
        // `shutdown_timeout` of the loops), on this thread.
        pools.shutdown();
        drop(monitor);
        results
    }
}

/// Counts a loop thread's end; the last one closes the caller's signal watch.
struct LoopEnded {
    running: Arc<std::sync::atomic::AtomicUsize>,
    closer: Option<signal_hook::iterator::Handle>,
}

impl Drop for LoopEnded {
    fn drop(&mut self) {
        if self.running.fetch_sub(1, Ordering::SeqCst) == 1 {
            if let Some(closer) = &self.closer {
                closer.close();
            }
        }
    }
}

/// Runs `setup` on loop `core` until it ends, restarting it as `on_exit` says.
fn one_loop<F, Fut>(
    core: &Core,
    inbox: &async_channel::Receiver<Job>,
    setup: &F,
    builder: &dyn Fn() -> Builder,
    on_exit: OnExit,
    drain: Duration,
) -> LoopResult<Fut::Output>
where
    F: Fn(Core) -> Fut,
    Fut: Future + 'static,
{
    let mut restarts = 0;
    let mut recent: VecDeque<Instant> = VecDeque::new();
    loop {
        let runtime = match builder()
            .name_if_unset(format!("loop-{}", core.index))
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                core.group.stop.begin();
                return LoopResult {
                    core: core.index,
                    outcome: Err(LoopError::Build(e)),
                    stats: None,
                    restarts,
                    pinned_to: None,
                    cancelled_at_close: 0,
                    loop_stats: LoopStats::default(),
                };
            }
        };
        core.group.running(core.index);
        let group = core.group.clone();
        // The inbox: every job builds and spawns its task here, until the stop begins.
        let (jobs, inbox_group) = (inbox.clone(), core.group.clone());
        drop(runtime.spawn(futures_lite::future::or(
            async move {
                while let Ok(job) = jobs.recv().await {
                    job();
                }
            },
            async move { inbox_group.stop.wait().await },
        )));
        let future = setup(core.clone());
        let ran = catch_unwind(AssertUnwindSafe(|| {
            runtime.block_on(futures_lite::future::or(
                async { Some(future.await) },
                async {
                    group.stop.wait().await;
                    None
                },
            ))
        }));
        // Stopped: the setup future is gone; its tasks get the drain timeout to finish.
        let mut cancelled = 0;
        if matches!(ran, Ok(None)) {
            cancelled = runtime.block_on(drain_tasks(core.index, drain));
        }
        // The connections this loop's tasks still hold close with them: lost if the setup
        // panicked, cut otherwise.
        match ran {
            Err(_) => core.group.died(core.index),
            Ok(_) => core.group.cutting(core.index),
        }
        let stats = Some(runtime.stats());
        // Cancel this loop's tasks (their destructors run here) before anything else.
        drop(runtime);
        let done = |outcome| LoopResult {
            core: core.index,
            outcome,
            stats,
            restarts,
            pinned_to: None,
            cancelled_at_close: cancelled,
            loop_stats: LoopStats::default(),
        };
        match ran {
            Ok(Some(output)) => {
                if on_exit == OnExit::StopAll {
                    core.group.stop.begin();
                }
                // Under `StopOnPanic` and `Restart`, a setup that returns ends its loop only.
                return done(Ok(output));
            }
            Ok(None) => return done(Err(LoopError::Stopped)),
            Err(payload) => {
                let message = panic_message(&*payload);
                if let OnExit::Restart { max, per } = on_exit {
                    let now = Instant::now();
                    while recent.front().is_some_and(|t| now.duration_since(*t) > per) {
                        recent.pop_front();
                    }
                    if (recent.len() as u32) < max && !core.group.stop.begun() {
                        recent.push_back(now);
                        restarts += 1;
                        tracing::warn!(
                            loop_index = core.index,
                            restarts,
                            "evloop: loop {} panicked ({message}); restarting it",
                            core.index
                        );
                        continue;
                    }
                    core.group.stop.begin();
                    return done(Err(LoopError::Panicked(format!(
                        "{message} (restarted {restarts} times; the cap is {max} within {per:?})"
                    ))));
                }
                core.group.stop.begin();
                return done(Err(LoopError::Panicked(message)));
            }
        }
    }
}

/// How often a draining loop looks whether its tasks are done.
const DRAIN_CHECK: Duration = Duration::from_millis(5);

/// Runs loop `index`'s tasks until none is left or `drain` has passed; names on stderr the
/// tasks still alive then and returns how many there are (the caller cancels them).
async fn drain_tasks(index: usize, drain: Duration) -> usize {
    let deadline = Instant::now() + drain;
    while crate::inspect::stats().tasks_alive > 0 && Instant::now() < deadline {
        crate::time::sleep::sleep(DRAIN_CHECK.min(deadline - Instant::now())).await;
    }
    let left = crate::inspect::tasks();
    if !left.is_empty() {
        let names: Vec<String> = left
            .iter()
            .take(10)
            .map(|t| match &t.name {
                Some(name) => format!("task {} \"{name}\" (spawned at {})", t.id, t.spawned_at),
                None => format!("task {} (spawned at {})", t.id, t.spawned_at),
            })
            .collect();
        eprintln!(
            "evloop: loop {index} stopped: {} task(s) still alive after the {:?} drain timeout are \
             cancelled now: {}{}",
            left.len(),
            drain,
            names.join(", "),
            if left.len() > names.len() { ", ..." } else { "" }
        );
    }
    left.len()
}

/// [`PerCore::new`]`.run(setup)`: one loop per available CPU, each running `setup`.
pub fn per_core<F, Fut>(setup: F) -> Vec<LoopResult<Fut::Output>>
where
    F: Fn(Core) -> Fut + Send + Sync + 'static,
    Fut: Future + 'static,
    Fut::Output: Send + 'static,
{
    PerCore::new().run(setup)
}
