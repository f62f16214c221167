//! The cycle trace: what each step of one cycle did, reported as three lines per cycle
//! (`Builder::trace_cycles` or `EVLOOP_TRACE_CYCLES=1`).

use std::time::{Duration, Instant};

use crate::observe::report;

/// What one cycle did, filled in by the observer's hooks as the cycle runs. Loop thread only.
#[derive(Debug)]
pub(crate) struct CycleRecord {
    /// What each line starts with: the loop's name and a colon when it has one (several loops
    /// may trace at once), otherwise nothing.
    prefix: String,
    /// Step 1: tasks polled.
    ran: usize,
    /// Step 2: what the poll did.
    poll: Poll,
    /// Step 3: readiness events for registered sources.
    events: usize,
    /// Step 3: wakers woken by I/O readiness.
    by_io: usize,
    /// Step 3: wakers woken by expired timers.
    by_timers: usize,
    /// Step 3: tasks woken from other threads, moved from the injection queue.
    from_threads: usize,
}

/// Why step 2 did not call the poller although sources are registered or may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Skip {
    /// Tasks are ready and no source is registered: the poller has nothing to report.
    NoSources,
    /// Tasks are ready and the poller was called this long ago, less than the loop's I/O poll
    /// interval: readiness can wait for the next cycle.
    PolledRecently(Duration),
    /// Tasks are ready and the clock was not read: it is read one cycle in
    /// `CYCLES_PER_CLOCK_READ`, to decide whether the I/O poll interval has passed.
    ClockNotRead,
    /// Nothing was ready and the loop spun for a wake from another thread instead of sleeping;
    /// one came after this long.
    WokenWhileSpinning(Duration),
}

/// What step 2 did.
#[derive(Debug, Clone, Copy)]
enum Poll {
    /// Skipped, for this reason.
    Skipped(Skip),
    /// Waiting in the poller since `since`, with `timeout` (`None`: none).
    Waiting {
        /// When the wait began.
        since: Instant,
        /// The timeout given to the poller.
        timeout: Option<Duration>,
    },
    /// Waited `waited` with `timeout`.
    Waited {
        /// The timeout given to the poller.
        timeout: Option<Duration>,
        /// How long the wait took.
        waited: Duration,
        /// In the OS poller; otherwise parked on the loop's thread (no source registered).
        polled: bool,
    },
}

impl CycleRecord {
    /// The record of a loop named `name`, if it has a name.
    pub(crate) fn new(name: Option<&str>) -> Self {
        CycleRecord {
            prefix: name.map_or_else(String::new, |name| format!("{name}: ")),
            ran: 0,
            poll: Poll::Skipped(Skip::NoSources),
            events: 0,
            by_io: 0,
            by_timers: 0,
            from_threads: 0,
        }
    }

    /// Step 1 polled `n` tasks.
    pub(crate) fn ran(&mut self, n: usize) {
        self.ran = n;
    }

    /// Step 2 skipped the poller.
    pub(crate) fn skipped(&mut self, why: Skip) {
        self.poll = Poll::Skipped(why);
    }

    /// Step 2 waits in the poller until `deadline`.
    pub(crate) fn parking(&mut self, deadline: Option<Instant>) {
        let since = Instant::now();
        self.poll = Poll::Waiting {
            since,
            timeout: deadline.map(|d| d.saturating_duration_since(since)),
        };
    }

    /// Step 2's wait ended; it was in the OS poller if `polled`.
    pub(crate) fn unparked(&mut self, polled: bool) {
        if let Poll::Waiting { since, timeout } = self.poll {
            self.poll = Poll::Waited {
                timeout,
                waited: since.elapsed(),
                polled,
            };
        }
    }

    /// What step 3 did.
    pub(crate) fn resumed(
        &mut self,
        events: usize,
        by_io: usize,
        by_timers: usize,
        from_threads: usize,
    ) {
        self.events = events;
        self.by_io = by_io;
        self.by_timers = by_timers;
        self.from_threads = from_threads;
    }

    /// Reports the cycle, the `cycle`-th.
    pub(crate) fn emit(&self, cycle: u64) {
        let p = &self.prefix;
        report::trace(format_args!(
            "{p}cycle {cycle} run:    {} task(s) polled",
            self.ran
        ));
        match self.poll {
            Poll::Skipped(Skip::NoSources) => report::trace(format_args!(
                "{p}cycle {cycle} poll:   skipped (tasks ready, no I/O source registered)"
            )),
            Poll::Skipped(Skip::PolledRecently(ago)) => report::trace(format_args!(
                "{p}cycle {cycle} poll:   skipped (tasks ready, last I/O poll {ago:.1?} ago)"
            )),
            Poll::Skipped(Skip::ClockNotRead) => report::trace(format_args!(
                "{p}cycle {cycle} poll:   skipped (tasks ready; the clock is read every few cycles)"
            )),
            Poll::Skipped(Skip::WokenWhileSpinning(after)) => report::trace(format_args!(
                "{p}cycle {cycle} poll:   skipped (woken from another thread {after:.1?} into a spin before sleeping)"
            )),
            Poll::Waiting { .. } => {}
            Poll::Waited {
                timeout,
                waited,
                polled,
            } => {
                let timeout = match timeout {
                    Some(t) if t.is_zero() => "timeout 0 (tasks ready)".to_owned(),
                    Some(t) => format!("timeout {t:.1?} (next timer)"),
                    None => "no timeout (nothing ready, no timer)".to_owned(),
                };
                if polled {
                    report::trace(format_args!(
                        "{p}cycle {cycle} poll:   {timeout}, waited {waited:.1?}, {} I/O event(s)",
                        self.events
                    ));
                } else {
                    report::trace(format_args!(
                        "{p}cycle {cycle} poll:   {timeout}, no I/O source or timer: parked {waited:.1?}"
                    ));
                }
            }
        }
        report::trace(format_args!(
            "{p}cycle {cycle} resume: {} woken by I/O, {} by timers, {} from other threads",
            self.by_io, self.by_timers, self.from_threads
        ));
    }
}
