//! Poll timing: how long polls take and how long woken tasks wait for their turn
//! ([`PollTiming`]), and the public [`Histogram`] and [`LongestPoll`] it reports in.
//!
//! Measured in *poll timing* mode only ([`Builder::poll_timing`](crate::Builder::poll_timing)):
//! it reads the clock once per poll (about 23 ns here, more than half the cost of a
//! `yield_now`), so it is on in debug builds and opt-in in release builds. The longest poll is
//! also known without it, to within the monitor thread's tick, for polls longer than a tick.

use std::collections::HashMap;
use std::fmt;
use std::panic::Location;
use std::time::{Duration, Instant};

use crate::task::meta::{MetaKey, TaskId, TaskMeta};
use crate::util::IdHasher;

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

/// The poll-timing measurements of one loop. Loop thread only.
#[derive(Debug)]
pub(crate) struct PollTiming {
    /// Durations of task polls.
    polls: Histogram,
    /// Time from a task becoming ready to its poll.
    delays: Histogram,
    /// The longest task poll so far (its `name` is filled in by the caller, which knows names).
    longest: Option<LongestPoll>,
    /// The latest clock reading: the end of the last poll, or of the last wait in the poller.
    /// A task woken now became ready then, to within one poll; the next poll starts then.
    clock: Instant,
    /// When the task being polled became ready.
    ready_at: Instant,
    /// Total poll time of each live task that has waited at least once (entered by
    /// [`track`](Self::track), left by [`forget`](Self::forget)): a task that completes at its
    /// first poll never appears, and one that completes later leaves before its last poll ends.
    busy: HashMap<MetaKey, Duration, IdHasher>,
}

impl PollTiming {
    pub(crate) fn new() -> Self {
        let now = Instant::now();
        PollTiming {
            polls: Histogram::new(),
            delays: Histogram::new(),
            longest: None,
            clock: now,
            ready_at: now,
            busy: HashMap::default(),
        }
    }

    /// The clock reading that stamps a task becoming ready now.
    pub(crate) fn clock(&self) -> Instant {
        self.clock
    }

    /// Reads the clock (after a wait in the poller: tasks it woke became ready now).
    pub(crate) fn tick(&mut self) {
        self.clock = Instant::now();
    }

    /// A poll of a task that became ready at `ready_at` (`None`: unknown, take the clock) starts.
    pub(crate) fn start(&mut self, ready_at: Option<Instant>) {
        self.ready_at = ready_at.unwrap_or(self.clock);
    }

    /// The poll started last ended now; returns whether it is the longest so far (then the
    /// caller names it with [`name_longest`](Self::name_longest)).
    pub(crate) fn finish(
        &mut self,
        key: MetaKey,
        meta: (TaskId, &'static Location<'static>),
    ) -> bool {
        let start = self.clock;
        let end = Instant::now();
        self.clock = end;
        let took = end - start;
        self.delays
            .record(start.saturating_duration_since(self.ready_at));
        self.polls.record(took);
        if let Some(busy) = self.busy.get_mut(&key) {
            *busy += took;
        }
        if self.longest.as_ref().is_some_and(|l| took <= l.duration) {
            return false;
        }
        self.longest = Some(LongestPoll {
            duration: took,
            task: meta.0,
            name: None,
            spawned_at: meta.1,
        });
        true
    }

    /// Names the longest poll's task.
    pub(crate) fn name_longest(&mut self, name: Option<String>) {
        if let Some(longest) = &mut self.longest {
            longest.name = name;
        }
    }

    /// Starts counting the poll time of a task that waits for the first time.
    pub(crate) fn track(&mut self, key: MetaKey) {
        self.busy.insert(key, Duration::ZERO);
    }

    /// Stops counting the poll time of a task whose future is being dropped.
    pub(crate) fn forget(&mut self, key: MetaKey) {
        self.busy.remove(&key);
    }

    /// Total poll time of a live task so far.
    pub(crate) fn busy(&self, meta: &TaskMeta) -> Duration {
        self.busy
            .get(&MetaKey::of(meta))
            .copied()
            .unwrap_or_default()
    }

    /// The histograms and the longest poll, for a [`Stats`](crate::observe::stats::Stats).
    pub(crate) fn report(&self) -> (Histogram, Histogram, Option<LongestPoll>) {
        (
            self.polls.clone(),
            self.delays.clone(),
            self.longest.clone(),
        )
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::Histogram;

    #[test]
    fn durations_land_in_power_of_two_buckets() {
        let mut h = Histogram::new();
        for nanos in [0, 1, 2, 3, 4, 1023, 1024] {
            h.record(Duration::from_nanos(nanos));
        }
        assert_eq!(h.counts[0], 2, "0 and 1 ns");
        assert_eq!(h.counts[1], 2, "2 and 3 ns");
        assert_eq!(h.counts[2], 1, "4 ns");
        assert_eq!(h.counts[9], 1, "1023 ns");
        assert_eq!(h.counts[10], 1, "1024 ns");
        assert_eq!(h.count(), 7);
    }

    #[test]
    fn huge_durations_land_in_the_last_bucket() {
        let mut h = Histogram::new();
        h.record(Duration::MAX);
        h.record(Duration::from_secs(3600));
        assert_eq!(h.counts[Histogram::BUCKETS - 1], 2);
    }

    #[test]
    fn percentiles_are_bucket_tops() {
        let mut h = Histogram::new();
        assert_eq!(h.percentile(50.0), None);
        for _ in 0..99 {
            h.record(Duration::from_nanos(100)); // bucket 6: [64, 128)
        }
        h.record(Duration::from_micros(10)); // bucket 13: [8192, 16384)
        assert_eq!(h.percentile(50.0), Some(Duration::from_nanos(128)));
        assert_eq!(h.percentile(99.0), Some(Duration::from_nanos(128)));
        assert_eq!(h.max(), Some(Duration::from_nanos(16384)));
        assert_eq!(h.percentile(0.0), Some(Duration::from_nanos(128)));
    }
}
