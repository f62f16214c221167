//! Counters of what the loop did: [`stats`] and [`Stats`].

use std::cell::Cell;

use crate::lag::{Histogram, LongestPoll};
use crate::runtime::with_core;
#[cfg(doc)]
use crate::Builder;

/// A snapshot of an event loop's counters, from [`stats`] or [`Runtime::stats`](crate::Runtime::stats).
///
/// Counters start at zero when the runtime is built and only grow, except `tasks_alive`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Completed Run → Poll → Resume cycles.
    pub cycles: u64,
    /// Task polls, including the polls of the future given to `block_on`.
    pub task_polls: u64,
    /// Tasks spawned since the loop was created.
    pub tasks_spawned: u64,
    /// Tasks spawned and not yet completed or cancelled.
    pub tasks_alive: usize,
    /// Calls to the OS multiplexer (step 2 of the cycle, when not skipped).
    pub io_polls: u64,
    /// Readiness events the OS multiplexer reported for registered sources.
    pub io_events: u64,
    /// Timers that expired and woke their task.
    pub timers_fired: u64,
    /// Timers waiting for their deadline (cancelled timers are removed at once).
    pub timers_pending: usize,
    /// I/O sources registered with the poller.
    pub io_sources: usize,
    /// The longest task poll and its task: exact with poll timing; otherwise as seen by the
    /// monitor thread, which only sees polls longer than its tick (a few milliseconds).
    pub longest_poll: Option<LongestPoll>,
    /// Durations of task polls, with poll timing ([`Builder::poll_timing`]).
    pub poll_durations: Option<Histogram>,
    /// Scheduling delay, the time from a task becoming ready (woken) to its poll, with poll
    /// timing. Long delays are the "mysteriously slow under load" of a blocked loop.
    pub scheduling_delays: Option<Histogram>,
}

/// Returns the counters of the event loop running on this thread.
///
/// # Panics
///
/// Panics if no event loop is running on this thread.
///
/// # Examples
///
/// ```
/// evloop::run(async {
///     evloop::spawn(async {}).await.unwrap();
///     let stats = evloop::stats();
///     assert_eq!(stats.tasks_spawned, 1);
///     assert_eq!(stats.tasks_alive, 0);
/// });
/// ```
#[track_caller]
pub fn stats() -> Stats {
    with_core("evloop::stats()", |core| core.stats())
}

/// The loop-local counters; plain cells, as only the loop thread touches them.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// See [`Stats::cycles`].
    pub(crate) cycles: Cell<u64>,
    /// See [`Stats::task_polls`].
    pub(crate) polls: Cell<u64>,
    /// See [`Stats::tasks_spawned`].
    pub(crate) spawned: Cell<u64>,
    /// See [`Stats::io_polls`].
    pub(crate) io_polls: Cell<u64>,
    /// See [`Stats::io_events`].
    pub(crate) io_events: Cell<u64>,
    /// See [`Stats::timers_fired`].
    pub(crate) timers_fired: Cell<u64>,
}

impl Counters {
    pub(crate) fn snapshot(
        &self,
        tasks_alive: usize,
        timers_pending: usize,
        io_sources: usize,
    ) -> Stats {
        Stats {
            cycles: self.cycles.get(),
            task_polls: self.polls.get(),
            tasks_spawned: self.spawned.get(),
            tasks_alive,
            io_polls: self.io_polls.get(),
            io_events: self.io_events.get(),
            timers_fired: self.timers_fired.get(),
            timers_pending,
            io_sources,
            longest_poll: None,
            poll_durations: None,
            scheduling_delays: None,
        }
    }
}

/// Adds `n` to a counter.
#[inline]
pub(crate) fn bump(counter: &Cell<u64>, n: u64) {
    counter.set(counter.get().wrapping_add(n));
}
