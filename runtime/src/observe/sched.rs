//! How the loop's thread spent a stretch of time, as the OS scheduler counts it: on a CPU,
//! waiting for a CPU (runnable, but other threads had them), or asleep in the kernel (a
//! blocking call). The monitor uses it to tell a blocking call from a CPU-bound poll from a
//! machine that starved the loop, which CPU time alone cannot: a thread blocked in `read` uses
//! no CPU, and neither does a runnable thread the machine has no CPU for.
//!
//! Where the OS does not say (see each `#[cfg]`), [`ThreadSched::current`] returns `None` and
//! the reports stay as they were.

use std::time::Duration;

/// What the scheduler counted for a thread so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SchedTimes {
    /// Time on a CPU.
    pub(crate) on_cpu: Duration,
    /// Time runnable but waiting for a CPU.
    pub(crate) waiting: Duration,
}

/// What a stretch of the loop thread's time was mostly spent on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cause {
    /// Waiting for a CPU for at least [`MOST`] of it, with less CPU time of its own than the
    /// report's threshold: the machine is overloaded, and the code is not to blame.
    Starved { waited: Duration },
    /// On a CPU for at least [`MOST`] of it, or for longer than the threshold: a computation.
    Computing { on_cpu: Duration },
    /// Asleep in the kernel for at least [`MOST`] of it: a blocking call.
    Blocked { asleep: Duration },
    /// None of these.
    Mixed,
}

/// The share of a stretch that decides its [`Cause`]: half.
pub(crate) const MOST: f64 = 0.5;

/// What the `elapsed` stretch between the counts `before` and `after` was mostly spent on, for
/// a report whose threshold is `threshold`: a stretch that used the threshold's worth of CPU
/// time is a computation however long it also waited for a CPU (it would have been reported
/// on an idle machine too).
pub(crate) fn classify(
    elapsed: Duration,
    before: SchedTimes,
    after: SchedTimes,
    threshold: Duration,
) -> Cause {
    let on_cpu = after.on_cpu.saturating_sub(before.on_cpu);
    let waited = after.waiting.saturating_sub(before.waiting);
    let asleep = elapsed.saturating_sub(on_cpu + waited);
    let most = elapsed.mul_f64(MOST);
    if elapsed.is_zero() {
        Cause::Mixed
    } else if asleep >= most {
        Cause::Blocked { asleep }
    } else if on_cpu >= most || on_cpu >= threshold {
        Cause::Computing { on_cpu }
    } else if waited >= most {
        Cause::Starved { waited }
    } else {
        Cause::Mixed
    }
}

pub(crate) use imp::{load_average, ThreadSched};

// Linux: /proc/<pid>/task/<tid>/schedstat holds the time on a CPU and the time spent waiting on
// a run queue, in nanoseconds (the kernel's schedstats, present since 2.6 unless configured
// out); the descriptor is opened by the loop thread and read again from the monitor's.
#[cfg(any(target_os = "linux", target_os = "android"))]
mod imp {
    use std::fs::File;
    use std::os::unix::fs::FileExt;
    use std::time::Duration;

    use super::SchedTimes;

    /// The scheduler's counts of one thread, readable from any thread.
    #[derive(Debug)]
    pub(crate) struct ThreadSched(File);

    impl ThreadSched {
        /// The calling thread's counts, if the OS keeps them.
        pub(crate) fn current() -> Option<ThreadSched> {
            let sched = ThreadSched(File::open("/proc/thread-self/schedstat").ok()?);
            sched.read().map(|_| sched)
        }

        /// The counts now.
        pub(crate) fn read(&self) -> Option<SchedTimes> {
            let mut buf = [0u8; 96];
            let n = self.0.read_at(&mut buf, 0).ok()?;
            let text = std::str::from_utf8(&buf[..n]).ok()?;
            let mut fields = text.split_ascii_whitespace().map(str::parse::<u64>);
            Some(SchedTimes {
                on_cpu: Duration::from_nanos(fields.next()?.ok()?),
                waiting: Duration::from_nanos(fields.next()?.ok()?),
            })
        }
    }

    /// The one-minute load average, from /proc/loadavg.
    pub(crate) fn load_average() -> Option<f64> {
        let text = std::fs::read_to_string("/proc/loadavg").ok()?;
        text.split_ascii_whitespace().next()?.parse().ok()
    }
}

// macOS and the BSDs: another thread's run-queue wait is not published where a process can read
// it cheaply (Mach's `thread_info` gives run state and CPU time, not time spent waiting).
#[cfg(not(any(target_os = "linux", target_os = "android")))]
mod imp {
    use super::SchedTimes;

    /// Never available here.
    #[derive(Debug)]
    pub(crate) struct ThreadSched(());

    impl ThreadSched {
        pub(crate) fn current() -> Option<ThreadSched> {
            None
        }

        pub(crate) fn read(&self) -> Option<SchedTimes> {
            None
        }
    }

    pub(crate) fn load_average() -> Option<f64> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn times(on_cpu_ms: u64, waiting_ms: u64) -> SchedTimes {
        SchedTimes {
            on_cpu: Duration::from_millis(on_cpu_ms),
            waiting: Duration::from_millis(waiting_ms),
        }
    }

    #[test]
    fn a_stretch_is_named_by_what_took_at_least_half_of_it() {
        let ms = Duration::from_millis;
        let limit = ms(100);
        let base = times(1_000, 500);
        assert_eq!(
            classify(ms(112), base, times(1_006, 604), limit),
            Cause::Starved { waited: ms(104) }
        );
        assert_eq!(
            classify(ms(100), base, times(1_098, 501), limit),
            Cause::Computing { on_cpu: ms(98) }
        );
        assert_eq!(
            classify(ms(100), base, times(1_001, 500), limit),
            Cause::Blocked { asleep: ms(99) }
        );
        assert_eq!(
            classify(ms(100), base, times(1_040, 540), limit),
            Cause::Mixed
        );
        assert_eq!(classify(Duration::ZERO, base, base, limit), Cause::Mixed);
        // 250 ms of computing that waited as long again for a CPU is still a computation: it
        // would have been reported on an idle machine too.
        assert_eq!(
            classify(ms(500), base, times(1_250, 750), limit),
            Cause::Computing { on_cpu: ms(250) }
        );
    }

    // Linux: the one system where the counts must be there (see `imp`).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[test]
    fn the_calling_threads_counts_grow_while_it_computes() {
        let sched = ThreadSched::current().expect("Linux keeps schedstats");
        let before = sched.read().unwrap();
        let start = std::time::Instant::now();
        while start.elapsed() < Duration::from_millis(30) {
            std::hint::spin_loop();
        }
        let after = sched.read().unwrap();
        assert!(
            after.on_cpu > before.on_cpu,
            "30 ms of spinning added no CPU time: {before:?} then {after:?}"
        );
    }
}
