//! The event loop's cycle, Run → Poll → Resume (slide 5), one step per function.
//!
//! ```text
//! loop {
//!     run_ready()     // 1. run the tasks that were ready when the cycle began
//!     poll_io()       // 2. ask the OS which sources are ready: timeout 0 if work is ready,
//!                     //    else until the nearest timer deadline, else for ever
//!     resume_woken()  // 3. wake the tasks of ready sources and expired timers, and take in
//!                     //    the tasks other threads woke
//! }
//! ```
//!
//! Each step reports what it did to the loop's observer through plain hooks; the counters, the
//! monitor probe, poll timing and the cycle trace all live behind them.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::observe::trace::Skip;
use crate::scheduler::{budget, Core};
use crate::task::meta::{MetaKey, Runnable};

/// How long a loop with ready tasks may go without asking the OS for I/O readiness.
///
/// Every cycle with ready tasks could poll with timeout zero, but each poll costs a system call
/// (five with `polling`'s epoll backend: about 1.3 µs here, 40 times a `yield_now`). So while
/// tasks are ready, step 2 polls only once this much time has passed since the last poll: a
/// socket's readiness is seen at most this long (plus the cycles until the clock is next read,
/// see [`CYCLES_PER_CLOCK_READ`]) after the OS reported it, however busy the loop is, and a
/// loop of yielding tasks pays one poll per 100 µs instead of one per cycle. An idle loop is
/// unaffected: it blocks in the poller.
pub(crate) const IO_POLL_INTERVAL: Duration = Duration::from_micros(100);

/// With tasks ready, step 2 reads the clock (to compare with [`IO_POLL_INTERVAL`]) one cycle in
/// this many: a clock read costs more than half of a `yield_now`, so reading it every cycle
/// made a loop with one socket registered yield 1.7 times slower than one without. The bound
/// on how late readiness is seen grows by as many cycles, a few microseconds for a loop of
/// short tasks.
pub(crate) const CYCLES_PER_CLOCK_READ: u32 = 16;

impl Core {
    /// One cycle: the three steps. `main_woken`: the future given to `block_on` is ready to be
    /// polled too (it counts as ready work for step 2).
    pub(crate) fn cycle(&self, main_woken: &AtomicBool) {
        self.run_ready();
        let polled = self.poll_io(main_woken);
        self.resume_woken(polled);
        self.observer.cycle_done();
    }

    /// Step 1 — "Run all coroutines in the ready queue until each one voluntarily yields at an
    /// `await`."
    ///
    /// Only the tasks that were ready when the step began run; a task woken meanwhile (including
    /// one that wakes itself, as [`yield_now`](crate::yield_now) does) is queued behind them and
    /// runs in the next cycle, after the next I/O poll, so it cannot starve I/O.
    fn run_ready(&self) {
        let n = self.ready.borrow().len();
        for _ in 0..n {
            let Some((runnable, ready_at)) = self.ready.borrow_mut().pop_front() else {
                break;
            };
            self.run_task(runnable, ready_at);
        }
        self.ready.borrow_mut().trim();
        self.observer.ran(n);
    }

    /// Polls one task, or drops it if it was aborted.
    #[inline(always)]
    fn run_task(&self, runnable: Runnable, ready_at: Option<Instant>) {
        let meta = runnable.metadata();
        let state = meta.state();
        if state.is_aborted() {
            // Cancelled by `JoinHandle::abort`: dropping the runnable drops the future here,
            // on the loop thread, and resolves the handle to `Cancelled`.
            drop(runnable);
            return;
        }
        meta.set_state(state.polled());
        // Only compared after the poll, which may free the task: never dereferenced then.
        let (key, id, location) = (MetaKey::of(meta), meta.id, meta.location);
        self.observer.before_poll(meta, ready_at);
        budget::reset(self.coop_budget);
        self.running.set(Some(key));
        runnable.run();
        self.running.set(None);
        self.observer.after_poll(key, id, location);
    }

    /// Step 2 — "Call the OS I/O multiplexer with all pending file descriptors — wait until at
    /// least one is ready."
    ///
    /// With tasks ready (or woken from other threads), the loop only looks at the OS
    /// ([`poll_now`](Self::poll_now)); with nothing ready, it waits for work
    /// ([`wait_for_work`](Self::wait_for_work)). Returns whether the poller was called.
    fn poll_io(&self, main_woken: &AtomicBool) -> bool {
        let work_ready = main_woken.load(Ordering::Relaxed)
            || !self.ready.borrow().is_empty()
            || !self.shared.injected.is_empty();
        let polled = if work_ready {
            self.poll_now()
        } else {
            self.wait_for_work(main_woken)
        };
        let polled = polled.unwrap_or_else(|e| panic!("evloop: the OS poller failed: {e}"));
        if let Some(polled) = polled {
            self.observer.unparked(polled);
            return polled;
        }
        false
    }

    /// Tasks are ready: polls the OS with timeout zero, unless it cannot report anything (no
    /// source is registered) or the last poll was less than [`IO_POLL_INTERVAL`] ago. Returns
    /// `None` if it skipped the poll, otherwise whether it polled.
    fn poll_now(&self) -> io::Result<Option<bool>> {
        let now = match self.may_skip_poll() {
            Ok(now) => now,
            Err(why) => {
                self.observer.poll_skipped(why);
                return Ok(None);
            }
        };
        self.observer.parking(Some(now));
        self.last_io_poll.set(now);
        self.reactor.wait(Some(now)).map(|()| Some(true))
    }

    /// Nothing is ready: waits until the nearest timer deadline, or for ever, in the poller, or,
    /// with no source registered and no timer, parked on the thread (see [`Shared::wait`]).
    /// With an idle spin, first, when its recent waits call for it, it spins for a wake from
    /// another thread and skips the wait if one comes ([`IdleSpin::spin_for_wake`]). Returns
    /// `None` if a spin caught the wake, otherwise whether it waited in the poller.
    fn wait_for_work(&self, main_woken: &AtomicBool) -> io::Result<Option<bool>> {
        // `last_io_poll` keeps its older value: a blocking wait is an I/O poll too, but
        // reading the clock after it would cost every wake-up a clock read, and an older value
        // only makes the next zero-timeout poll come sooner.
        let deadline = self.timers.next_deadline().map(|d| d + self.timer_slack);
        let woken = || !self.shared.injected.is_empty() || main_woken.load(Ordering::Relaxed);
        if let Some(after) = self.idle_spin.spin_for_wake(deadline, woken) {
            self.observer.poll_skipped(Skip::WokenWhileSpinning(after));
            return Ok(None);
        }
        let in_poller = !self.reactor.is_empty() || deadline.is_some();
        self.observer.parking(deadline);
        let began = self.idle_spin.is_on().then(Instant::now);
        let waited = self
            .shared
            .wait(deadline, in_poller, main_woken, |d| self.reactor.wait(d));
        if let Some(began) = began {
            self.idle_spin.slept(began.elapsed(), woken());
        }
        waited.map(|()| Some(in_poller))
    }

    /// With tasks ready: `Ok(now)` if the poller must be called now (with timeout zero),
    /// otherwise why not.
    #[inline]
    fn may_skip_poll(&self) -> Result<Instant, Skip> {
        if self.reactor.is_empty() {
            return Err(Skip::NoSources);
        }
        let skips = self.clock_skips.get();
        if skips > 0 {
            self.clock_skips.set(skips - 1);
            return Err(Skip::ClockNotRead);
        }
        self.clock_skips.set(CYCLES_PER_CLOCK_READ - 1);
        let now = Instant::now();
        let ago = now.saturating_duration_since(self.last_io_poll.get());
        if ago < IO_POLL_INTERVAL {
            return Err(Skip::PolledRecently(ago));
        }
        Ok(now)
    }

    /// Step 3 — "Move coroutines whose I/O completed from the I/O registry back into the ready
    /// queue."
    ///
    /// Wakes the tasks whose sources became ready (if step 2 `polled`) or whose timers expired,
    /// and moves the tasks woken from other threads from the injection queue into the ready
    /// queue.
    fn resume_woken(&self, polled: bool) {
        let (mut events, mut by_io, mut by_timers) = (0, 0, 0);
        if polled || !self.timers.is_empty() {
            let mut wakers = std::mem::take(&mut *self.wake_buf.borrow_mut());
            if polled {
                events = self.reactor.dispatch(&mut wakers);
                by_io = wakers.len();
            }
            if !self.timers.is_empty() {
                let now = Instant::now();
                self.observer.clock_read(now);
                by_timers = self.timers.fire_expired(now, &mut wakers);
            }
            for waker in wakers.drain(..) {
                waker.wake();
            }
            *self.wake_buf.borrow_mut() = wakers;
        }
        let from_threads = self.take_injected();
        self.observer
            .resumed(events, by_io, by_timers, from_threads);
    }

    /// Moves the tasks woken from other threads into the ready queue; returns how many.
    fn take_injected(&self) -> usize {
        if self.shared.injected.is_empty() {
            return 0;
        }
        let stamp = self.observer.ready_stamp();
        let mut ready = self.ready.borrow_mut();
        let mut n = 0;
        while let Ok(runnable) = self.shared.injected.pop() {
            ready.push_back(runnable, stamp);
            n += 1;
        }
        n
    }
}
