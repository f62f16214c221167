//! [`IdleSpin`]: whether step 2 spins for a wake from another thread before it sleeps, learnt
//! from how the loop's recent waits ended. Loop thread only.

use std::cell::Cell;
use std::time::{Duration, Instant};

/// Checks for a wake between two clock reads while spinning.
const SPIN_BATCH: u32 = 32;

/// Sleeps in a row that another thread ended within the spin limit before the loop spins.
const SPIN_AFTER: u8 = 2;

/// Every this many idle waits while the pattern holds, the loop tries the way of waiting it
/// does not prefer, so that both averages stay current.
const PROBE_EVERY: u32 = 64;

/// Every this many idle waits while the pattern holds, the loop looks again at how many
/// threads the machine has ready to run (a few microseconds), and spins only while they
/// leave a core free.
const LOAD_EVERY: u32 = 64;

/// What step 2 knows about its idle waits (see [`Builder::idle_spin`](crate::Builder::idle_spin)).
///
/// The loop spins only while the waits it would spin through keep being ended by another
/// thread within the limit, only while spinning gets the wake sooner than sleeping did (a
/// spin that keeps the core the waking thread needs makes the wake come later), and only
/// while the machine has no more threads ready to run than it has cores (where the OS says:
/// Linux's `/proc/loadavg`): on a machine whose cores are all wanted, a spin takes CPU time
/// from other programs and makes the loop's own wake-ups wait longer for a core.
#[derive(Debug)]
pub(crate) struct IdleSpin {
    /// The longest spin; zero turns spinning off.
    limit: Duration,
    /// Consecutive sleeps that another thread ended within `limit` (saturating).
    quick_wakes: Cell<u8>,
    /// Average time (nanoseconds) from falling asleep to being woken by another thread, over
    /// recent such sleeps within `limit`.
    asleep: Cell<Option<u64>>,
    /// Average time (nanoseconds) from starting to spin to seeing a wake, over recent spins
    /// (a spin that saw none counts as `limit`).
    spinning: Cell<Option<u64>>,
    /// Idle waits while the pattern held, to schedule the probes.
    waits: Cell<u32>,
    /// The machine's cores (0 when unknown: the load is not looked at).
    cores: usize,
    /// Whether the machine had more threads ready to run than cores when last looked at.
    crowded: Cell<bool>,
}

/// How many threads the machine has ready to run or running now (the caller included),
/// where the OS tells it cheaply (Linux's `/proc/loadavg`); the bridge's OS layer, which its
/// process workers use for the same decision, reads it.
pub(crate) use evloop_bridge::process::runnable_threads;

/// `old` moved an eighth of the way to `sample`.
fn average(old: Option<u64>, sample: u64) -> u64 {
    match old {
        None => sample,
        Some(old) if sample >= old => old + (sample - old) / 8,
        Some(old) => old - (old - sample) / 8,
    }
}

/// A duration in nanoseconds, saturating.
fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl IdleSpin {
    /// Spinning for at most `limit` (zero: never) on a machine of `cores` cores (zero: the
    /// load is not looked at).
    pub(crate) fn new(limit: Duration, cores: usize) -> Self {
        IdleSpin {
            limit,
            quick_wakes: Cell::new(0),
            asleep: Cell::new(None),
            spinning: Cell::new(None),
            waits: Cell::new(0),
            cores,
            crowded: Cell::new(false),
        }
    }

    /// Whether the loop keeps track of how its waits end (spinning is on).
    #[inline]
    pub(crate) fn is_on(&self) -> bool {
        !self.limit.is_zero()
    }

    /// Whether the loop, about to wait, should spin first.
    #[inline]
    pub(crate) fn should_spin(&self) -> bool {
        if !self.is_on() || self.quick_wakes.get() < SPIN_AFTER {
            return false;
        }
        let waits = self.waits.get().wrapping_add(1);
        self.waits.set(waits);
        if self.cores > 0 && waits % LOAD_EVERY == 1 {
            self.look_at_load(runnable_threads());
        }
        if self.crowded.get() {
            return false;
        }
        let spinning_pays = match (self.spinning.get(), self.asleep.get()) {
            (Some(spinning), Some(asleep)) => spinning <= asleep,
            _ => true,
        };
        spinning_pays != (waits % PROBE_EVERY == 0)
    }

    /// With nothing ready, and [`should_spin`](Self::should_spin) saying so, spins (for at
    /// most the limit, and never past `deadline`) until `woken` says another thread queued a
    /// task or woke the main future; returns how long that took, or `None` if it did not
    /// happen. While the loop spins its state stays "running", so a waking thread only queues
    /// the task: no system call on either side.
    pub(crate) fn spin_for_wake(
        &self,
        deadline: Option<Instant>,
        woken: impl Fn() -> bool,
    ) -> Option<Duration> {
        if !self.should_spin() {
            return None;
        }
        let start = Instant::now();
        let limit = deadline.map_or(self.limit, |d| {
            self.limit.min(d.saturating_duration_since(start))
        });
        loop {
            for _ in 0..SPIN_BATCH {
                if woken() {
                    let after = start.elapsed();
                    self.caught(after);
                    return Some(after);
                }
                std::hint::spin_loop();
            }
            if start.elapsed() >= limit {
                self.missed();
                return None;
            }
            // Lets a thread that shares this core (the one about to wake the loop, on a busy
            // machine) run.
            std::thread::yield_now();
        }
    }

    /// Takes note of the machine's `runnable` threads (the loop's included; `None`: unknown,
    /// taken as room to spin). The thread that is about to wake the loop counts too, so the
    /// machine is crowded only with more runnable threads than cores.
    fn look_at_load(&self, runnable: Option<usize>) {
        self.crowded
            .set(runnable.is_some_and(|runnable| runnable > self.cores));
    }

    /// A spin saw a wake `after` this long.
    pub(crate) fn caught(&self, after: Duration) {
        self.spinning
            .set(Some(average(self.spinning.get(), nanos(after))));
    }

    /// A spin saw no wake within the limit: the pattern is gone.
    pub(crate) fn missed(&self) {
        self.spinning
            .set(Some(average(self.spinning.get(), nanos(self.limit))));
        self.quick_wakes.set(0);
    }

    /// A sleep ended after `took`; `by_thread`: another thread ended it (not I/O, not a timer).
    pub(crate) fn slept(&self, took: Duration, by_thread: bool) {
        if by_thread && took < self.limit {
            self.quick_wakes
                .set(self.quick_wakes.get().saturating_add(1));
            self.asleep
                .set(Some(average(self.asleep.get(), nanos(took))));
        } else {
            self.quick_wakes.set(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{average, IdleSpin, LOAD_EVERY, PROBE_EVERY, SPIN_AFTER};

    const US: Duration = Duration::from_micros(1);

    #[test]
    fn off_never_spins() {
        let spin = IdleSpin::new(Duration::ZERO, 2);
        for _ in 0..10 {
            spin.slept(US, true);
        }
        assert!(!spin.should_spin());
    }

    #[test]
    fn spins_after_quick_wakes_from_threads_and_stops_when_the_pattern_goes() {
        let spin = IdleSpin::new(50 * US, 0);
        for _ in 0..SPIN_AFTER {
            assert!(!spin.should_spin());
            spin.slept(20 * US, true);
        }
        assert!(spin.should_spin());
        spin.caught(2 * US);
        assert!(spin.should_spin());
        // A wake by I/O (or a timer), or one that took longer than the limit, breaks the run.
        spin.slept(20 * US, false);
        assert!(!spin.should_spin());
        for _ in 0..SPIN_AFTER {
            spin.slept(20 * US, true);
        }
        assert!(spin.should_spin());
        spin.slept(80 * US, true);
        assert!(!spin.should_spin());
        // So does a spin that sees no wake.
        for _ in 0..SPIN_AFTER {
            spin.slept(20 * US, true);
        }
        spin.missed();
        assert!(!spin.should_spin());
    }

    #[test]
    fn a_spin_that_makes_wakes_later_gives_way_to_sleeping_but_is_tried_again() {
        let spin = IdleSpin::new(50 * US, 0);
        for _ in 0..SPIN_AFTER {
            spin.slept(13 * US, true);
        }
        // Spinning makes the wake come later than sleeping did.
        for _ in 0..20 {
            spin.caught(22 * US);
        }
        let spins = (0..PROBE_EVERY * 4).filter(|_| spin.should_spin()).count();
        assert_eq!(spins, 4, "one probe every {PROBE_EVERY} waits");
        // And the other way round: spinning is preferred, sleeping is probed.
        let spin = IdleSpin::new(50 * US, 0);
        for _ in 0..SPIN_AFTER {
            spin.slept(30 * US, true);
        }
        spin.caught(11 * US);
        let spins = (0..PROBE_EVERY * 4).filter(|_| spin.should_spin()).count();
        assert_eq!(spins, PROBE_EVERY as usize * 4 - 4);
    }

    #[test]
    fn a_crowded_machine_stops_spinning_until_it_has_a_core_free() {
        let spin = IdleSpin::new(50 * US, 2);
        for _ in 0..SPIN_AFTER {
            spin.slept(20 * US, true);
        }
        // The first wait looks at this machine's real load; the next 63 do not.
        let _ = spin.should_spin();
        // The loop and the thread about to wake it, on two cores: room to spin.
        spin.look_at_load(Some(2));
        assert!(spin.should_spin());
        spin.look_at_load(Some(3));
        assert!(!spin.should_spin());
        spin.look_at_load(None);
        assert!(spin.should_spin(), "an unknown load does not stop the spin");
        // Checked on the first wait and then once every LOAD_EVERY waits.
        let spin = IdleSpin::new(50 * US, usize::MAX);
        for _ in 0..SPIN_AFTER {
            spin.slept(20 * US, true);
        }
        spin.crowded.set(true);
        assert!(
            spin.should_spin(),
            "no machine has usize::MAX runnable threads"
        );
        spin.crowded.set(true);
        for _ in 1..LOAD_EVERY {
            assert!(!spin.should_spin());
        }
        assert!(spin.should_spin(), "looked again after LOAD_EVERY waits");
    }

    #[test]
    fn averages_move_an_eighth_of_the_way() {
        assert_eq!(average(None, 80), 80);
        assert_eq!(average(Some(80), 160), 90);
        assert_eq!(average(Some(80), 0), 70);
        assert_eq!(average(Some(u64::MAX), 0), u64::MAX - u64::MAX / 8);
    }
}
