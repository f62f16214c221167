//! Finding the blocking call while it happens: the [`Probe`] the loop publishes into, and the
//! monitor thread that watches it.
//!
//! The loop thread never reads a clock for this. Before every poll it stores, with two relaxed
//! atomic stores, the id and the spawn location of the task; at the end of every cycle, the
//! number of cycles completed; around its wait in the OS poller (and whenever it is not being
//! driven by `block_on` at all), that it is parked. A task is polled at most once per cycle, so
//! the cycle count and the task id together identify a poll. The monitor thread samples those
//! values every `tick` (a twentieth of the threshold, between 1 and 50 ms) and so notices,
//! without disturbing the loop:
//!
//! - a **slow poll**: the same cycle and task, not parked, for at least the threshold. When the
//!   poll ends, it is reported once with its task and its duration (to within one tick);
//! - a **stall** (when the watchdog is on): no cycle completed for at least the threshold while
//!   the loop is not parked in the poller. It is reported while it lasts, naming the task that
//!   is running, and again when the loop recovers, with the total. An idle loop is parked, so it
//!   is never reported, and the monitor never wakes it.

use std::collections::HashMap;
use std::io;
use std::panic::Location;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::lag::LongestPoll;
use crate::runtime::{IdHasher, Shared};
use crate::task::TaskId;

/// What the loop publishes for the monitor thread. Written only by the loop thread.
#[derive(Debug)]
pub(crate) struct Probe {
    /// Id of the task polled last (0: the future given to `block_on`).
    task: AtomicU64,
    /// Spawn location of the task polled last; null before the first poll.
    location: AtomicPtr<Location<'static>>,
    /// Cycles completed.
    cycles: AtomicU64,
    /// Whether the loop is waiting in the OS poller, or not running at all (idle, not stalled).
    parked: AtomicBool,
    /// A coarse clock, in milliseconds since `epoch`: advanced by the monitor at every tick and
    /// by the loop whenever it reads the clock anyway. Read for task ages.
    coarse_ms: AtomicU64,
    /// When the loop was created.
    epoch: Instant,
    /// The longest poll the monitor has seen (polls longer than its tick).
    longest: Mutex<Option<LongestPoll>>,
    /// Names of the named live tasks, for reports from any thread. Unnamed tasks (the common
    /// case) never touch the lock.
    names: Mutex<HashMap<TaskId, Arc<str>, IdHasher>>,
}

impl Probe {
    pub(crate) fn new() -> Self {
        Probe {
            task: AtomicU64::new(0),
            location: AtomicPtr::new(ptr::null_mut()),
            cycles: AtomicU64::new(0),
            parked: AtomicBool::new(true),
            coarse_ms: AtomicU64::new(0),
            epoch: Instant::now(),
            longest: Mutex::new(None),
            names: Mutex::new(HashMap::default()),
        }
    }

    /// The loop starts a poll of `task`.
    #[inline]
    pub(crate) fn begin_poll(&self, task: TaskId, location: &'static Location<'static>) {
        self.task.store(task.as_u64(), Ordering::Relaxed);
        self.location
            .store(ptr::from_ref(location).cast_mut(), Ordering::Relaxed);
    }

    /// The loop completed its `n`-th cycle.
    #[inline]
    pub(crate) fn cycle_done(&self, n: u64) {
        self.cycles.store(n, Ordering::Relaxed);
    }

    /// The loop enters (`true`) or leaves (`false`) its wait in the OS poller, or stops (`true`)
    /// or starts (`false`) being driven by `block_on`.
    #[inline]
    pub(crate) fn set_parked(&self, parked: bool) {
        self.parked.store(parked, Ordering::Relaxed);
    }

    /// Milliseconds since the loop started, by the coarse clock.
    pub(crate) fn coarse_ms(&self) -> u64 {
        self.coarse_ms.load(Ordering::Relaxed)
    }

    /// Advances the coarse clock to `now`.
    pub(crate) fn advance_clock(&self, now: Instant) {
        let ms = now.saturating_duration_since(self.epoch).as_millis() as u64;
        self.coarse_ms.fetch_max(ms, Ordering::Relaxed);
    }

    pub(crate) fn set_name(&self, task: TaskId, name: Arc<str>) {
        self.lock_names().insert(task, name);
    }

    pub(crate) fn name(&self, task: TaskId) -> Option<Arc<str>> {
        self.lock_names().get(&task).cloned()
    }

    /// Forgets a task's name; returns whether it had one.
    pub(crate) fn forget_name(&self, task: TaskId) -> bool {
        self.lock_names().remove(&task).is_some()
    }

    fn lock_names(&self) -> std::sync::MutexGuard<'_, HashMap<TaskId, Arc<str>, IdHasher>> {
        // A panic while holding this lock cannot leave the map inconsistent.
        self.names.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The longest poll seen by the monitor.
    pub(crate) fn longest_poll(&self) -> Option<LongestPoll> {
        self.longest
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Records a poll of `duration` of the task published now, if it is the longest seen.
    fn saw_poll(&self, duration: Duration) {
        let id = self.task.load(Ordering::Relaxed);
        let location = self.location.load(Ordering::Relaxed);
        // SAFETY: as in `running_task`: a `&'static Location` or null.
        let Some(location) = (unsafe { location.as_ref() }) else {
            return;
        };
        let mut longest = self.longest.lock().unwrap_or_else(|e| e.into_inner());
        if longest.as_ref().is_none_or(|l| duration > l.duration) {
            let task = TaskId::new(id);
            *longest = Some(LongestPoll {
                duration,
                task,
                name: self.name(task).map(|n| n.to_string()),
                spawned_at: location,
            });
        }
    }

    /// Describes the task being polled now, e.g. `task 7 "db-writer" (spawned at src/main.rs:42:5)`.
    fn running_task(&self) -> String {
        let id = self.task.load(Ordering::Relaxed);
        let location = self.location.load(Ordering::Relaxed);
        // SAFETY: every pointer stored in `location` comes from a `&'static Location<'static>`
        // (see `begin_poll`): it is valid for ever and never written through. Null is checked.
        let location = unsafe { location.as_ref() };
        let at = location.map_or_else(|| "an unknown place".to_owned(), |l| l.to_string());
        if id == 0 {
            return format!("the future passed to block_on (at {at})");
        }
        let id = TaskId::new(id);
        match self.name(id) {
            Some(name) => format!("task {id} {name:?} (spawned at {at})"),
            None => format!("task {id} (spawned at {at})"),
        }
    }
}

/// What the monitor thread reports.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MonitorConfig {
    /// A poll, or a time without a completed cycle, longer than this is reported.
    pub(crate) threshold: Duration,
    /// Report each slow poll once it returns.
    pub(crate) slow_polls: bool,
    /// Report stalls while they last, and when they end.
    pub(crate) watchdog: bool,
}

/// The running monitor thread; dropping it stops and joins the thread.
#[derive(Debug)]
pub(crate) struct Monitor {
    /// Dropped to tell the thread to stop.
    stop: Option<mpsc::Sender<()>>,
    /// Joined on drop, so no thread outlives the loop.
    thread: Option<thread::JoinHandle<()>>,
}

impl Monitor {
    /// Starts the monitor thread for the loop whose probe is in `shared`.
    pub(crate) fn start(shared: Arc<Shared>, config: MonitorConfig) -> io::Result<Monitor> {
        let (stop, stopped) = mpsc::channel();
        let thread = thread::Builder::new()
            .name("evloop-monitor".into())
            .spawn(move || watch(&shared.probe, config, &stopped))?;
        Ok(Monitor {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The monitor thread's loop: sample the probe every tick until told to stop.
fn watch(probe: &Probe, config: MonitorConfig, stopped: &mpsc::Receiver<()>) {
    let tick = (config.threshold / 20).clamp(Duration::from_millis(1), Duration::from_millis(50));
    let start = Instant::now();
    // The poll seen at the last sample (its cycle and task; `None` when parked), and since when.
    let mut poll: (Option<(u64, u64)>, Instant) = (None, start);
    // The description of the task of a poll seen running for at least the threshold.
    let mut slow_task: Option<String> = None;
    // The cycle count at the last sample, and since when it has not changed.
    let mut cycles = (probe.cycles.load(Ordering::Relaxed), start);
    // When the stall being reported began.
    let mut stall: Option<Instant> = None;

    while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(tick) {
        let now = Instant::now();
        probe.advance_clock(now);
        let cycle = probe.cycles.load(Ordering::Relaxed);
        let parked = probe.parked.load(Ordering::Relaxed);

        let current = (!parked).then(|| (cycle, probe.task.load(Ordering::Relaxed)));
        if current != poll.0 {
            if let Some(task) = slow_task.take() {
                if config.slow_polls {
                    report_slow_poll(&task, now - poll.1, config.threshold);
                }
            }
            poll = (current, now);
        } else if current.is_some() {
            // The same poll is still running: it has run for at least `running_for`, and at
            // most one tick more.
            let running_for = now - poll.1;
            probe.saw_poll(running_for + tick);
            if slow_task.is_none() && running_for >= config.threshold {
                slow_task = Some(probe.running_task());
            }
        }

        if cycle != cycles.0 || parked {
            if let Some(began) = stall.take() {
                crate::report::warn(format_args!(
                    "the event loop recovered after a stall of about {} ms",
                    (now - began).as_millis()
                ));
            }
            cycles = (cycle, now);
        } else if config.watchdog && stall.is_none() && now - cycles.1 >= config.threshold {
            stall = Some(cycles.1);
            crate::report::warn(format_args!(
                "the event loop has been stalled for {} ms so far (no cycle completed); running \
                 now: {}. Every other task is waiting: move blocking calls to \
                 evloop::run_in_executor / evloop::to_thread, and await evloop::yield_now() \
                 every few milliseconds in long computations",
                (now - cycles.1).as_millis(),
                probe.running_task()
            ));
        }
    }
}

fn report_slow_poll(task: &str, took: Duration, threshold: Duration) {
    crate::report::warn(format_args!(
        "{task} blocked the event loop for about {} ms in one poll (threshold {} ms); every other \
         task waited meanwhile. Move blocking calls to evloop::run_in_executor / \
         evloop::to_thread, and await evloop::yield_now() every few milliseconds in long \
         computations",
        took.as_millis(),
        threshold.as_millis()
    ));
}
