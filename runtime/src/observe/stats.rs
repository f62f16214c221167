//! [`Stats`]: a snapshot of what the loop did.

use crate::observe::timing::{Histogram, LongestPoll};

/// A snapshot of an event loop's counters, from [`stats`](crate::stats) or
/// [`Runtime::stats`](crate::Runtime::stats).
///
/// Counters start at zero when the runtime is built and only grow, except `tasks_alive`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// evloop::run(async {
///     evloop::sleep(Duration::from_millis(1)).await;
///     for _ in 0..3 {
///         evloop::yield_now().await;
///     }
///     let stats = evloop::stats();
///     assert_eq!(stats.timers_fired, 1);
///     assert!(stats.cycles >= 4, "each yield takes one cycle");
///     assert_eq!(stats.timers_pending, 0);
/// });
/// ```
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
    /// Times a task was made to yield because it spent its cooperative budget: it completed
    /// [`Builder::coop_budget`](crate::Builder::coop_budget) operations in one poll without
    /// ever waiting. A high count points to a task that busy-loops on always-ready I/O.
    pub forced_yields: u64,
    /// Times the loop, about to sleep, was woken from another thread while it spun for a wake
    /// instead (see [`Builder::idle_spin`](crate::Builder::idle_spin)): wake-ups that cost
    /// neither the loop a sleep nor the waking thread a system call.
    pub wakes_while_spinning: u64,
    /// Timers waiting for their deadline (cancelled timers are removed at once).
    pub timers_pending: usize,
    /// I/O sources registered with the poller.
    pub io_sources: usize,
    /// The longest task poll and its task: exact with poll timing; otherwise as seen by the
    /// monitor thread, which only sees polls longer than its tick (a few milliseconds).
    pub longest_poll: Option<LongestPoll>,
    /// Durations of task polls, with poll timing ([`Builder::poll_timing`](crate::Builder::poll_timing)).
    pub poll_durations: Option<Histogram>,
    /// Scheduling delay, the time from a task becoming ready (woken) to its poll, with poll
    /// timing. Long delays are the "mysteriously slow under load" of a blocked loop.
    pub scheduling_delays: Option<Histogram>,
}
