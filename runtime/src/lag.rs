//! Loop lag: how long polls take and how long woken tasks wait for their turn.
//!
//! Measured in *poll timing* mode only ([`Builder::poll_timing`](crate::Builder::poll_timing)):
//! it reads the clock once per poll (about 23 ns here, more than half the cost of a
//! `yield_now`), so it is on in debug builds and opt-in in release builds. The longest poll is
//! also known without it, to within the monitor thread's tick, for polls longer than a tick.

use std::collections::HashMap;
use std::fmt;
use std::panic::Location;
use std::time::{Duration, Instant};

use crate::runtime::IdHasher;
use crate::task::{MetaKey, TaskId};

/// A histogram of durations in power-of-two buckets of nanoseconds: bucket `i` counts the
/// durations in `[2^i, 2^(i+1))` ns (bucket 0 also counts zero).
#[derive(Clone, PartialEq, Eq)]
pub struct Histogram {
    /// Counts per bucket.
    counts: [u64; Self::BUCKETS],
}

impl Histogram {
    /// Enough buckets for about 9 minutes (2^39 ns); longer durations land in the last one.
    const BUCKETS: usize = 40;

    pub(crate) fn new() -> Self {
        Histogram {
            counts: [0; Self::BUCKETS],
        }
    }

    pub(crate) fn record(&mut self, duration: Duration) {
        let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        let bucket = (63 - (nanos | 1).leading_zeros()) as usize;
        self.counts[bucket.min(Self::BUCKETS - 1)] += 1;
    }

    /// How many durations were recorded.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// An upper bound of the `p`-th percentile (`p` in `0.0..=100.0`): the top of the bucket
    /// that holds it; `None` when nothing was recorded.
    pub fn percentile(&self, p: f64) -> Option<Duration> {
        let count = self.count();
        if count == 0 {
            return None;
        }
        let rank = ((p.clamp(0.0, 100.0) / 100.0) * count as f64)
            .ceil()
            .max(1.0) as u64;
        let mut seen = 0;
        for (bucket, n) in self.counts.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Some(Duration::from_nanos(2u64 << bucket));
            }
        }
        None
    }

    /// An upper bound of the largest duration recorded.
    pub fn max(&self) -> Option<Duration> {
        self.percentile(100.0)
    }
}

impl fmt::Debug for Histogram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Histogram({self})")
    }
}

impl fmt::Display for Histogram {
    /// `n=1200 p50<=4.1µs p90<=8.2µs p99<=131µs max<=2.1ms`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "n={}", self.count())?;
        for (label, p) in [("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("max", 100.0)] {
            if let Some(d) = self.percentile(p) {
                write!(f, " {label}<={d:.1?}")?;
            }
        }
        Ok(())
    }
}

/// The longest poll seen, in [`Stats::longest_poll`](crate::Stats::longest_poll).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LongestPoll {
    /// How long it took (exact with poll timing; otherwise to within the monitor's tick).
    pub duration: Duration,
    /// The task polled.
    pub task: TaskId,
    /// Its name, if it has one.
    pub name: Option<String>,
    /// Where it was spawned.
    pub spawned_at: &'static Location<'static>,
}

/// The poll-timing measurements of one loop.
#[derive(Debug)]
pub(crate) struct Lag {
    /// Durations of task polls.
    pub(crate) polls: Histogram,
    /// Time from a task becoming ready to its poll.
    pub(crate) delays: Histogram,
    /// The longest task poll so far (its `name` is filled in by the loop, which knows names).
    pub(crate) longest: Option<LongestPoll>,
    /// The loop's latest clock reading: when a task woken now became ready, to within one poll.
    pub(crate) clock: Instant,
    /// Total poll time of each live task that has been polled.
    pub(crate) busy: HashMap<MetaKey, Duration, IdHasher>,
    /// Set when a task's future is dropped, so that the poll that completed it does not enter
    /// it in `busy` again.
    pub(crate) finished: bool,
}

impl Lag {
    pub(crate) fn new() -> Self {
        Lag {
            polls: Histogram::new(),
            delays: Histogram::new(),
            longest: None,
            clock: Instant::now(),
            busy: HashMap::default(),
            finished: false,
        }
    }

    /// Records one poll of `task` that became ready at `ready_at`, ran from `start` to `end`;
    /// returns whether it is the longest so far.
    pub(crate) fn record(
        &mut self,
        task: TaskId,
        location: &'static Location<'static>,
        ready_at: Instant,
        start: Instant,
        end: Instant,
    ) -> bool {
        let took = end - start;
        self.delays
            .record(start.saturating_duration_since(ready_at));
        self.polls.record(took);
        self.clock = end;
        if self.longest.as_ref().is_some_and(|l| took <= l.duration) {
            return false;
        }
        self.longest = Some(LongestPoll {
            duration: took,
            task,
            name: None,
            spawned_at: location,
        });
        true
    }
}
