//! [`sleep`] and [`sleep_until`]: the `asyncio.sleep()` equivalents.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::scheduler::budget;
use crate::scheduler::context::with_core;
use crate::time::timers::{self, TimerKey, Timers};

/// Waits until `duration` has elapsed: the `asyncio.sleep()` equivalent.
///
/// Unlike `std::thread::sleep`, which blocks the whole loop (slide 6), this suspends only the
/// calling task. `sleep(Duration::ZERO)` behaves like [`yield_now`](crate::yield_now): the task
/// goes to the back of the ready queue for one cycle, as `asyncio.sleep(0)` does.
///
/// # Panics
///
/// The returned future panics if it is polled outside an evloop event loop.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
///
/// evloop::run(async {
///     let start = Instant::now();
///     evloop::sleep(Duration::from_millis(20)).await;
///     assert!(start.elapsed() >= Duration::from_millis(20));
/// });
/// ```
pub fn sleep(duration: Duration) -> Sleep {
    sleep_until(
        Instant::now()
            .checked_add(duration)
            .unwrap_or_else(far_future),
    )
}

/// Waits until `deadline`; a deadline already passed yields once, like `sleep(Duration::ZERO)`.
///
/// # Panics
///
/// The returned future panics if it is polled outside an evloop event loop.
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep {
        deadline: timers::nanos(deadline),
        state: SleepState::Idle(Phase::NotPolled),
    }
}

/// A deadline so far away that it never fires (about 30 years), for durations that overflow.
pub(crate) fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86400 * 365 * 30)
}

/// Future returned by [`sleep`] and [`sleep_until`].
///
/// A `Sleep` is `!Send`: its timer lives in the loop of the thread that first polled it. If
/// that loop closes first, nothing wakes the sleep any more; polled again, it completes once
/// its deadline has passed.
///
/// ```compile_fail
/// fn assert_send<T: Send>() {}
/// assert_send::<evloop::Sleep>();
/// ```
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Sleep {
    /// When the sleep ends, in nanoseconds since the process's time origin (8 bytes instead of
    /// an `Instant`'s 16: with the state, a `Sleep` takes 24 bytes of its task).
    deadline: u64,
    /// Where the timer is in the loop's timers.
    state: SleepState,
}

/// Where a [`Sleep`] is. Two variants, so that the phases share the space of the registration
/// (16 bytes instead of 24): every byte counts in a sleeping task.
enum SleepState {
    /// Pending in `timers` under `key`.
    Registered { timers: Rc<Timers>, key: TimerKey },
    /// Not in the loop's timers.
    Idle(Phase),
}

/// The phases of a [`Sleep`] that is not in the loop's timers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Not polled yet (or [`Sleep::reset`]).
    NotPolled,
    /// The deadline had already passed at the first poll; the task yielded once.
    Yielded,
    /// The deadline was reached.
    Done,
}

impl Sleep {
    /// When this sleep ends.
    ///
    /// A deadline more than a year before the process first created one (so long past) is
    /// reported as that year's start.
    pub fn deadline(&self) -> Instant {
        timers::instant(self.deadline)
    }

    /// Whether the deadline has been reached (as seen by this future's last poll).
    pub fn is_elapsed(&self) -> bool {
        matches!(self.state, SleepState::Idle(Phase::Done))
    }

    /// Moves the deadline, whether or not this sleep already completed.
    pub fn reset(&mut self, deadline: Instant) {
        self.deregister();
        self.deadline = timers::nanos(deadline);
        self.state = SleepState::Idle(Phase::NotPolled);
    }

    fn deregister(&mut self) {
        if let SleepState::Registered { timers, key } = &self.state {
            timers.remove(*key, self.deadline);
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        match &this.state {
            // A deadline already reached spends a unit of the task's cooperative budget.
            SleepState::Idle(Phase::Done) => return budget::ready_or_yield(cx, Poll::Ready(())),
            SleepState::Idle(Phase::Yielded) => {
                this.state = SleepState::Idle(Phase::Done);
                return Poll::Ready(());
            }
            SleepState::Registered { timers, key } => {
                // Timers fire in step 3 of the cycle, which removes them from the wheel.
                if timers.has_fired(this.deadline) {
                    this.state = SleepState::Idle(Phase::Done);
                    return budget::ready_or_yield(cx, Poll::Ready(()));
                }
                if timers.is_closed() {
                    // The loop is gone and nothing will fire the timer: the clock decides.
                    if timers::nanos(Instant::now()) >= this.deadline {
                        this.state = SleepState::Idle(Phase::Done);
                        return Poll::Ready(());
                    }
                    return Poll::Pending;
                }
                timers.update_waker(*key, this.deadline, cx.waker());
                return Poll::Pending;
            }
            SleepState::Idle(Phase::NotPolled) => {}
        }
        let timers = with_core("evloop::sleep", |core| core.timers().clone());
        if timers::nanos(Instant::now()) >= this.deadline {
            // Already due: yield for one cycle, as `asyncio.sleep(0)` does.
            this.state = SleepState::Idle(Phase::Yielded);
            cx.waker().wake_by_ref();
        } else {
            let key = timers.insert(this.deadline, cx.waker().clone());
            this.state = SleepState::Registered { timers, key };
        }
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.deregister();
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline())
            .field("elapsed", &self.is_elapsed())
            .finish()
    }
}
