//! The [`Observer`]: everything the loop records about itself, behind plain hooks that the
//! three steps of the cycle call (the steps themselves hold no observability branch).

use std::cell::{Cell, RefCell};
use std::panic::Location;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::observe::probe::Probe;
use crate::observe::stats::Stats;
use crate::observe::timing::PollTiming;
use crate::observe::trace::{CycleRecord, Skip};
use crate::task::meta::{MetaKey, TaskId, TaskMeta};

/// Which instruments an [`Observer`] runs, as the builder resolved them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Instruments {
    /// Publish every poll in the probe (a monitor thread reads it).
    pub(crate) publish: bool,
    /// Time every poll ([`PollTiming`]).
    pub(crate) poll_timing: bool,
    /// Report each cycle ([`CycleRecord`]).
    pub(crate) trace: bool,
}

/// What a loop records about itself: its counters, the probe the monitor thread reads, poll
/// timing and the cycle trace, and the names of named tasks.
///
/// Loop thread only (its probe is the part shared with other threads). Every hook costs a
/// counter update or a predictable branch when its instrument is off.
#[derive(Debug)]
pub(crate) struct Observer {
    /// Counters behind [`Stats`].
    counters: Counters,
    /// What the loop publishes for the monitor thread and reports; also holds task names.
    probe: Arc<Probe>,
    /// Whether a monitor thread reads the probe; if not, polls are not published.
    publish: bool,
    /// Poll timing measurements, when poll timing is on.
    timing: Option<RefCell<PollTiming>>,
    /// The cycle being traced, when the cycle trace is on.
    trace: Option<RefCell<CycleRecord>>,
    /// How many live tasks have a name (kept in the probe); while zero, nobody takes its lock.
    named_tasks: Cell<usize>,
    /// Tasks that ended during the current step, whose names are forgotten at the step's end
    /// (so the step's bookkeeping after a task's last poll can still name it).
    dead_names: RefCell<Vec<TaskId>>,
}

/// The loop-local counters; plain cells, as only the loop thread touches them.
#[derive(Debug, Default)]
struct Counters {
    /// See [`Stats::cycles`].
    cycles: Cell<u64>,
    /// See [`Stats::task_polls`].
    task_polls: Cell<u64>,
    /// See [`Stats::tasks_spawned`].
    tasks_spawned: Cell<u64>,
    /// See [`Stats::io_polls`].
    io_polls: Cell<u64>,
    /// See [`Stats::io_events`].
    io_events: Cell<u64>,
    /// See [`Stats::timers_fired`].
    timers_fired: Cell<u64>,
    /// See [`Stats::forced_yields`].
    forced_yields: Cell<u64>,
    /// See [`Stats::wakes_while_spinning`].
    wakes_while_spinning: Cell<u64>,
}

/// Adds `n` to a counter.
#[inline]
fn bump(counter: &Cell<u64>, n: u64) {
    counter.set(counter.get().wrapping_add(n));
}

impl Observer {
    pub(crate) fn new(probe: Arc<Probe>, instruments: Instruments, name: Option<&str>) -> Self {
        Observer {
            counters: Counters::default(),
            probe,
            publish: instruments.publish,
            timing: instruments
                .poll_timing
                .then(|| RefCell::new(PollTiming::new())),
            trace: instruments
                .trace
                .then(|| RefCell::new(CycleRecord::new(name))),
            named_tasks: Cell::new(0),
            dead_names: RefCell::new(Vec::new()),
        }
    }

    // ---- Step 1: Run ----

    /// The future given to `block_on` (at `location`) is about to be polled.
    #[inline]
    pub(crate) fn main_poll(&self, location: &'static Location<'static>) {
        bump(&self.counters.task_polls, 1);
        if self.publish {
            self.probe.begin_poll(TaskId::MAIN, location);
        }
    }

    /// A task that became ready at `ready_at` (known with poll timing) is about to be polled.
    #[inline(always)]
    pub(crate) fn before_poll(&self, meta: &TaskMeta, ready_at: Option<Instant>) {
        if self.publish {
            self.probe.begin_poll(meta.id, meta.location);
        }
        if let Some(timing) = &self.timing {
            timing.borrow_mut().start(ready_at);
        }
    }

    /// The poll announced by [`before_poll`](Self::before_poll) returned. The task may be gone:
    /// `key` is only compared, never dereferenced.
    #[inline(always)]
    pub(crate) fn after_poll(
        &self,
        key: MetaKey,
        id: TaskId,
        location: &'static Location<'static>,
    ) {
        if let Some(timing) = &self.timing {
            let mut timing = timing.borrow_mut();
            if timing.finish(key, (id, location)) {
                timing.name_longest(self.task_name(id).map(|n| n.to_string()));
            }
        }
    }

    /// Step 1 is over: it polled `n` tasks.
    #[inline]
    pub(crate) fn ran(&self, n: usize) {
        bump(&self.counters.task_polls, n as u64);
        bump(&self.counters.cycles, 1);
        if self.named_tasks.get() > 0 {
            self.purge_names();
        }
        if self.publish {
            self.probe.cycle_done(self.counters.cycles.get());
        }
        if let Some(trace) = &self.trace {
            trace.borrow_mut().ran(n);
        }
    }

    /// A task spent its cooperative budget and was made to yield.
    pub(crate) fn forced_yield(&self) {
        bump(&self.counters.forced_yields, 1);
    }

    // ---- Step 2: Poll ----

    /// Step 2 did not call the poller.
    #[inline]
    pub(crate) fn poll_skipped(&self, why: Skip) {
        if let Skip::WokenWhileSpinning(_) = why {
            bump(&self.counters.wakes_while_spinning, 1);
        }
        if let Some(trace) = &self.trace {
            trace.borrow_mut().skipped(why);
        }
    }

    /// The loop is about to wait in the OS poller until `deadline` (`None`: no deadline).
    #[inline]
    pub(crate) fn parking(&self, deadline: Option<Instant>) {
        if let Some(trace) = &self.trace {
            trace.borrow_mut().parking(deadline);
        }
        if self.publish {
            self.probe.set_parked(true);
        }
    }

    /// The loop's wait ended: in the OS poller if `polled`, otherwise parked on its thread
    /// (it has neither I/O source nor timer).
    #[inline]
    pub(crate) fn unparked(&self, polled: bool) {
        if self.publish {
            self.probe.set_parked(false);
        }
        if polled {
            bump(&self.counters.io_polls, 1);
        }
        if let Some(timing) = &self.timing {
            // Tasks woken by this poll became ready now.
            timing.borrow_mut().tick();
        }
        if let Some(trace) = &self.trace {
            trace.borrow_mut().unparked(polled);
        }
    }

    // ---- Step 3: Resume ----

    /// The loop read the clock to fire timers: the coarse clock (task ages) advances for free.
    #[inline]
    pub(crate) fn clock_read(&self, now: Instant) {
        self.probe.advance_clock(now);
    }

    /// Step 3 is over: `events` readiness events woke `by_io` wakers, `by_timers` timers fired,
    /// and `from_threads` tasks woken by other threads joined the ready queue.
    #[inline]
    pub(crate) fn resumed(
        &self,
        events: usize,
        by_io: usize,
        by_timers: usize,
        from_threads: usize,
    ) {
        bump(&self.counters.io_events, events as u64);
        bump(&self.counters.timers_fired, by_timers as u64);
        if let Some(trace) = &self.trace {
            trace
                .borrow_mut()
                .resumed(events, by_io, by_timers, from_threads);
        }
    }

    /// The cycle is over.
    #[inline]
    pub(crate) fn cycle_done(&self) {
        if let Some(trace) = &self.trace {
            trace.borrow().emit(self.counters.cycles.get());
        }
    }

    // ---- The loop as a whole ----

    /// `block_on` starts (`true`) or stops (`false`) driving the loop: a loop nobody drives is
    /// idle, not stalled.
    pub(crate) fn driven(&self, driven: bool) {
        if self.publish {
            self.probe.set_parked(!driven);
        }
    }

    /// When a task that becomes ready now became ready, with poll timing: the latest clock
    /// reading, at most one poll old.
    #[inline]
    pub(crate) fn ready_stamp(&self) -> Option<Instant> {
        self.timing.as_ref().map(|timing| timing.borrow().clock())
    }

    // ---- Tasks ----

    /// A task was spawned, with `name` if it has one; returns the coarse clock reading that
    /// stamps its spawn time.
    #[inline]
    pub(crate) fn spawned(&self, id: TaskId, name: Option<Arc<str>>) -> u64 {
        bump(&self.counters.tasks_spawned, 1);
        if let Some(name) = name {
            self.named_tasks.set(self.named_tasks.get() + 1);
            self.probe.set_name(id, name);
        }
        self.probe.coarse_ms()
    }

    /// A task waits for the first time.
    #[inline]
    pub(crate) fn task_waits(&self, key: MetaKey) {
        if let Some(timing) = &self.timing {
            timing.borrow_mut().track(key);
        }
    }

    /// A task's future is being dropped (it completed, was aborted or cancelled).
    #[inline]
    pub(crate) fn task_gone(&self, key: MetaKey, id: TaskId) {
        if let Some(timing) = &self.timing {
            timing.borrow_mut().forget(key);
        }
        if self.named_tasks.get() > 0 {
            self.dead_names.borrow_mut().push(id);
        }
    }

    /// The name of a live task (or of one that ended in the current step).
    #[inline]
    pub(crate) fn task_name(&self, id: TaskId) -> Option<Arc<str>> {
        if self.named_tasks.get() == 0 {
            return None;
        }
        self.probe.name(id)
    }

    /// Total poll time of a live task so far, with poll timing.
    pub(crate) fn busy(&self, meta: &TaskMeta) -> Option<Duration> {
        Some(self.timing.as_ref()?.borrow().busy(meta))
    }

    /// Forgets the names of the tasks that ended.
    pub(crate) fn purge_names(&self) {
        let mut dead = self.dead_names.borrow_mut();
        for task in dead.drain(..) {
            if self.probe.forget_name(task) {
                self.named_tasks.set(self.named_tasks.get() - 1);
            }
        }
    }

    /// Milliseconds since the loop started by the coarse clock, advanced to now first.
    pub(crate) fn now_ms(&self) -> u64 {
        self.probe.advance_clock(Instant::now());
        self.probe.coarse_ms()
    }

    /// The counters, with `tasks_alive`, `timers_pending` and `io_sources` as given.
    pub(crate) fn stats(
        &self,
        tasks_alive: usize,
        timers_pending: usize,
        io_sources: usize,
    ) -> Stats {
        let c = &self.counters;
        let mut stats = Stats {
            cycles: c.cycles.get(),
            task_polls: c.task_polls.get(),
            tasks_spawned: c.tasks_spawned.get(),
            tasks_alive,
            io_polls: c.io_polls.get(),
            io_events: c.io_events.get(),
            timers_fired: c.timers_fired.get(),
            forced_yields: c.forced_yields.get(),
            wakes_while_spinning: c.wakes_while_spinning.get(),
            timers_pending,
            io_sources,
            ..Stats::default()
        };
        match &self.timing {
            Some(timing) => {
                let (polls, delays, longest) = timing.borrow().report();
                stats.poll_durations = Some(polls);
                stats.scheduling_delays = Some(delays);
                stats.longest_poll = longest;
            }
            None => stats.longest_poll = self.probe.longest_poll(),
        }
        stats
    }
}
