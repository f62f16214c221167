//! The [`Probe`]: what the loop publishes, with relaxed atomic stores, for the monitor thread
//! and for reports made from any thread.
//!
//! The loop thread never reads a clock for it. Before every poll it stores the id and the spawn
//! location of the task; at the end of every cycle, the number of cycles completed; around its
//! wait in the OS poller (and whenever it is not being driven by `block_on` at all), that it is
//! parked. A task is polled at most once per cycle, so the cycle count and the task id together
//! identify a poll.
//!
//! A monitor that finds the loop parked for a while goes to sleep until the loop unparks
//! ([`Probe::monitor_may_sleep`]); the loop wakes it when it leaves its wait, which costs the
//! loop one load per wait, and one system call only for the first wait after such a sleep.

use std::collections::HashMap;
use std::panic::Location;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::thread::Thread;
use std::time::{Duration, Instant};

use crate::observe::timing::LongestPoll;
use crate::task::meta::TaskId;
use crate::util::IdHasher;

/// What the loop publishes for the monitor thread.
///
/// Shared between threads: written by the loop thread (and the coarse clock by the monitor
/// too), read by the monitor thread and by reports.
#[derive(Debug)]
pub(crate) struct Probe {
    /// Id of the task polled last (0: the future given to `block_on`).
    task: AtomicU64,
    /// Spawn location of the task polled last; none before the first poll.
    location: StaticLocation,
    /// Cycles completed.
    cycles: AtomicU64,
    /// Whether the loop is waiting in the OS poller, or not running at all (idle, not stalled).
    parked: AtomicBool,
    /// Whether the monitor thread sleeps until the loop unparks (see `monitor_may_sleep`).
    monitor_asleep: AtomicBool,
    /// The monitor thread, to wake it; set by the monitor when it starts.
    monitor: OnceLock<Thread>,
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

/// What the monitor samples: the poll in progress (cycle and task; `None` when parked).
pub(crate) type Sample = (u64, Option<(u64, u64)>);

impl Probe {
    pub(crate) fn new() -> Self {
        Probe {
            task: AtomicU64::new(0),
            location: StaticLocation::new(),
            cycles: AtomicU64::new(0),
            parked: AtomicBool::new(true),
            monitor_asleep: AtomicBool::new(false),
            monitor: OnceLock::new(),
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
        self.location.store(location);
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
        if parked {
            self.parked.store(true, Ordering::Relaxed);
        } else {
            // Sequentially consistent with the monitor's `monitor_may_sleep`: either the monitor
            // sees the loop unparked and stays awake, or the loop sees it asleep and wakes it.
            self.parked.store(false, Ordering::SeqCst);
            if self.monitor_asleep.load(Ordering::SeqCst) {
                self.wake_monitor();
            }
        }
    }

    /// Wakes the monitor thread if it sleeps.
    #[cold]
    pub(crate) fn wake_monitor(&self) {
        if self.monitor_asleep.swap(false, Ordering::SeqCst) {
            if let Some(monitor) = self.monitor.get() {
                monitor.unpark();
            }
        }
    }

    /// The monitor thread registers itself, so that the loop can wake it.
    pub(crate) fn set_monitor(&self, thread: Thread) {
        let _ = self.monitor.set(thread);
    }

    /// The monitor, having found the loop parked at `cycle` for a while, asks to sleep: returns
    /// `true` (and marks it asleep) if the loop is still parked at that cycle, so that the
    /// loop's next unpark wakes it; `false` if the loop moved meanwhile.
    pub(crate) fn monitor_may_sleep(&self, cycle: u64) -> bool {
        self.monitor_asleep.store(true, Ordering::SeqCst);
        let still =
            self.parked.load(Ordering::SeqCst) && self.cycles.load(Ordering::SeqCst) == cycle;
        if !still {
            self.monitor_asleep.store(false, Ordering::SeqCst);
        }
        still
    }

    /// Whether the monitor is marked asleep (the loop has not woken it yet).
    pub(crate) fn monitor_asleep(&self) -> bool {
        self.monitor_asleep.load(Ordering::SeqCst)
    }

    /// Cycles completed, and the poll in progress: its cycle and task, `None` when parked.
    pub(crate) fn sample(&self) -> Sample {
        let cycle = self.cycles.load(Ordering::Relaxed);
        let parked = self.parked.load(Ordering::Relaxed);
        let poll = (!parked).then(|| (cycle, self.task.load(Ordering::Relaxed)));
        (cycle, poll)
    }

    /// Milliseconds since the loop started, by the coarse clock.
    #[inline]
    pub(crate) fn coarse_ms(&self) -> u64 {
        self.coarse_ms.load(Ordering::Relaxed)
    }

    /// Advances the coarse clock to `now`.
    #[inline]
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

    fn lock_names(&self) -> MutexGuard<'_, HashMap<TaskId, Arc<str>, IdHasher>> {
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
    pub(crate) fn saw_poll(&self, duration: Duration) {
        let id = self.task.load(Ordering::Relaxed);
        let Some(location) = self.location.load() else {
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
    pub(crate) fn running_task(&self) -> String {
        let id = self.task.load(Ordering::Relaxed);
        let at = self
            .location
            .load()
            .map_or_else(|| "an unknown place".to_owned(), |l| l.to_string());
        if id == TaskId::MAIN.as_u64() {
            return format!("the future passed to block_on (at {at})");
        }
        let id = TaskId::new(id);
        match self.name(id) {
            Some(name) => format!("task {id} {name:?} (spawned at {at})"),
            None => format!("task {id} (spawned at {at})"),
        }
    }
}

/// An atomic `Option<&'static Location<'static>>`: a pointer that is only ever null or taken
/// from a `&'static Location`, which makes every non-null load a valid `'static` reference.
#[derive(Debug)]
struct StaticLocation(
    /// Null, or a `&'static Location<'static>` cast to a pointer (never written through).
    AtomicPtr<Location<'static>>,
);

impl StaticLocation {
    fn new() -> Self {
        StaticLocation(AtomicPtr::new(ptr::null_mut()))
    }

    fn store(&self, location: &'static Location<'static>) {
        self.0
            .store(ptr::from_ref(location).cast_mut(), Ordering::Relaxed);
    }

    fn load(&self) -> Option<&'static Location<'static>> {
        let location = self.0.load(Ordering::Relaxed);
        // SAFETY: the type's invariant: the pointer is null (checked by `as_ref`) or came from
        // a `&'static Location<'static>` in `store`, so it is valid for ever, and nothing
        // writes through it.
        unsafe { location.as_ref() }
    }
}
