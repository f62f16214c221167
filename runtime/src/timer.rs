//! Timers: [`sleep`], [`sleep_until`], [`timeout`], [`interval`].
//!
//! All pending timers of a loop live in one ordered map keyed by `(deadline, id)`: the first key
//! is the nearest deadline, which bounds how long step 2 of the cycle may wait in the poller.
//! A timer is inserted on the first poll of its future and removed when it fires or when the
//! future is dropped, so cancelled timers never linger. Deadlines are passed to the poller with
//! nanosecond precision (no rounding up to whole milliseconds).

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use futures_core::Stream;
use pin_project_lite::pin_project;

use crate::runtime::with_core;

/// The pending timers of one loop.
pub(crate) struct Timers {
    /// Pending timers by `(deadline, id)`, the deadline in nanoseconds since `epoch`: a 16-byte
    /// key instead of 24 for `(Instant, u64)`, which makes the map about a quarter smaller.
    /// The id makes equal deadlines distinct keys and keeps them in creation order.
    map: RefCell<BTreeMap<(u64, u64), Waker>>,
    /// The instant deadlines are counted from: when the loop was created.
    epoch: Instant,
    /// Every timer with a deadline up to this (nanoseconds since `epoch`) has fired and left the
    /// map: a `Sleep` compares its deadline with it instead of reading the clock.
    fired_up_to: Cell<u64>,
    /// Id given to the next timer.
    next_id: Cell<u64>,
}

impl Timers {
    pub(crate) fn new() -> Self {
        Timers {
            map: RefCell::new(BTreeMap::new()),
            epoch: Instant::now(),
            fired_up_to: Cell::new(0),
            next_id: Cell::new(0),
        }
    }

    /// The map key of `deadline` (which is after the epoch: only future deadlines are added).
    fn key(&self, deadline: Instant, id: u64) -> (u64, u64) {
        let nanos = deadline.saturating_duration_since(self.epoch).as_nanos();
        (u64::try_from(nanos).unwrap_or(u64::MAX), id)
    }

    /// Whether the timer with this deadline has fired (and so left the map).
    fn has_fired(&self, deadline: Instant) -> bool {
        self.key(deadline, 0).0 <= self.fired_up_to.get()
    }

    fn insert(&self, deadline: Instant, waker: Waker) -> u64 {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        self.map.borrow_mut().insert(self.key(deadline, id), waker);
        id
    }

    fn update_waker(&self, deadline: Instant, id: u64, waker: &Waker) {
        if let Some(w) = self.map.borrow_mut().get_mut(&self.key(deadline, id)) {
            if !w.will_wake(waker) {
                w.clone_from(waker);
            }
        }
    }

    fn remove(&self, deadline: Instant, id: u64) {
        self.map.borrow_mut().remove(&self.key(deadline, id));
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.map.borrow().is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.map.borrow().len()
    }

    /// The nearest deadline, if any timer is pending.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let map = self.map.borrow();
        let (&(nanos, _), _) = map.first_key_value()?;
        Some(self.epoch + Duration::from_nanos(nanos))
    }

    /// Removes every timer whose deadline is at or before `now`, collecting their wakers in
    /// deadline order; returns how many fired.
    pub(crate) fn fire_expired(&self, now: Instant, wakers: &mut Vec<Waker>) -> usize {
        let (now, _) = self.key(now, 0);
        self.fired_up_to.set(now);
        let mut map = self.map.borrow_mut();
        if map
            .first_key_value()
            .is_none_or(|(&(first, _), _)| first > now)
        {
            return 0;
        }
        // Detach the expired prefix in one split rather than one removal per timer.
        let pending = match now.checked_add(1) {
            Some(after) => map.split_off(&(after, 0)),
            None => BTreeMap::new(),
        };
        let expired = std::mem::replace(&mut *map, pending);
        let fired = expired.len();
        wakers.extend(expired.into_values());
        fired
    }

    /// Drops every pending timer (at shutdown, once their tasks are gone).
    pub(crate) fn clear(&self) {
        let map = std::mem::take(&mut *self.map.borrow_mut());
        drop(map);
    }
}

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
        deadline,
        state: SleepState::Idle(Phase::NotPolled),
    }
}

/// A deadline so far away that it never fires (about 30 years), for durations that overflow.
fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86400 * 365 * 30)
}

/// Future returned by [`sleep`] and [`sleep_until`].
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Sleep {
    /// When the sleep ends.
    deadline: Instant,
    /// Where the timer is in the loop's timer map.
    state: SleepState,
}

/// Where a [`Sleep`] is. Two variants, so that the phases share the space of the registration
/// (16 bytes instead of 24): every byte counts in a sleeping task.
enum SleepState {
    /// In the timer map of `timers` under `(deadline, id)`.
    Registered { timers: Rc<Timers>, id: u64 },
    /// Not in the timer map.
    Idle(Phase),
}

/// The phases of a [`Sleep`] that is not in the timer map.
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
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Whether the deadline has been reached (as seen by this future's last poll).
    pub fn is_elapsed(&self) -> bool {
        matches!(self.state, SleepState::Idle(Phase::Done))
    }

    /// Moves the deadline, whether or not this sleep already completed.
    pub fn reset(&mut self, deadline: Instant) {
        self.deregister();
        self.deadline = deadline;
        self.state = SleepState::Idle(Phase::NotPolled);
    }

    fn deregister(&mut self) {
        if let SleepState::Registered { timers, id } = &self.state {
            timers.remove(self.deadline, *id);
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        match &this.state {
            SleepState::Idle(Phase::Done) => return Poll::Ready(()),
            SleepState::Idle(Phase::Yielded) => {
                this.state = SleepState::Idle(Phase::Done);
                return Poll::Ready(());
            }
            SleepState::Registered { timers, id } => {
                // Timers fire in step 3 of the cycle, which removes them from the map.
                if timers.has_fired(this.deadline) {
                    this.state = SleepState::Idle(Phase::Done);
                    return Poll::Ready(());
                }
                timers.update_waker(this.deadline, *id, cx.waker());
                return Poll::Pending;
            }
            SleepState::Idle(Phase::NotPolled) => {}
        }
        let timers = with_core("evloop::sleep", |core| core.timers.clone());
        if Instant::now() >= this.deadline {
            // Already due: yield for one cycle, as `asyncio.sleep(0)` does.
            this.state = SleepState::Idle(Phase::Yielded);
            cx.waker().wake_by_ref();
        } else {
            let id = timers.insert(this.deadline, cx.waker().clone());
            this.state = SleepState::Registered { timers, id };
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
            .field("deadline", &self.deadline)
            .field("elapsed", &self.is_elapsed())
            .finish()
    }
}

/// Runs `future` for at most `duration`.
///
/// Gives `Ok(output)` if the future completes first, or `Err(Elapsed)` once the duration has
/// passed, in which case the future is dropped.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// evloop::run(async {
///     let slow = evloop::sleep(Duration::from_secs(10));
///     let err = evloop::timeout(Duration::from_millis(10), slow).await.unwrap_err();
///     assert_eq!(err.duration(), Duration::from_millis(10));
///
///     let fast = async { 5 };
///     assert_eq!(evloop::timeout(Duration::from_secs(1), fast).await, Ok(5));
/// });
/// ```
pub fn timeout<F: Future>(duration: Duration, future: F) -> Timeout<F> {
    Timeout {
        future,
        sleep: sleep(duration),
        duration,
    }
}

pin_project! {
    /// Future returned by [`timeout`].
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct Timeout<F> {
        #[pin]
        future: F,
        sleep: Sleep,
        duration: Duration,
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(output) = this.future.poll(cx) {
            return Poll::Ready(Ok(output));
        }
        match Pin::new(this.sleep).poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed {
                duration: *this.duration,
            })),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<F> fmt::Debug for Timeout<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeout")
            .field("duration", &self.duration)
            .field("sleep", &self.sleep)
            .finish_non_exhaustive()
    }
}

/// The error of a [`timeout`] whose duration elapsed before its future completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed {
    /// The timeout's duration.
    duration: Duration,
}

impl Elapsed {
    /// The duration the future was given.
    pub fn duration(&self) -> Duration {
        self.duration
    }
}

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "deadline elapsed: the operation did not complete within {:?}",
            self.duration
        )
    }
}

impl std::error::Error for Elapsed {}

impl From<Elapsed> for std::io::Error {
    fn from(e: Elapsed) -> Self {
        std::io::Error::new(std::io::ErrorKind::TimedOut, e)
    }
}

/// Ticks every `period`, the first tick right away.
///
/// Ticks stay on the grid `start + k * period`; ticks missed because the task was late are
/// skipped, not delivered in a burst.
///
/// # Panics
///
/// Panics if `period` is zero.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// evloop::run(async {
///     let mut ticks = evloop::interval(Duration::from_millis(5));
///     let first = ticks.tick().await;
///     let second = ticks.tick().await;
///     assert_eq!(second - first, Duration::from_millis(5));
/// });
/// ```
pub fn interval(period: Duration) -> Interval {
    assert!(
        !period.is_zero(),
        "evloop::interval: the period must be non-zero"
    );
    let start = Instant::now();
    Interval {
        period,
        sleep: sleep_until(start),
    }
}

/// Stream of ticks returned by [`interval`]; each item is the tick's scheduled instant.
#[derive(Debug)]
pub struct Interval {
    /// Time between ticks.
    period: Duration,
    /// Sleeps until the next tick.
    sleep: Sleep,
}

impl Interval {
    /// Waits for the next tick and returns its scheduled instant.
    pub async fn tick(&mut self) -> Instant {
        std::future::poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Polls for the next tick.
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        if Pin::new(&mut self.sleep).poll(cx).is_pending() {
            return Poll::Pending;
        }
        let tick = self.sleep.deadline();
        let now = Instant::now();
        let mut next = tick + self.period;
        if next <= now {
            // Late by at least one period: skip the missed ticks, stay on the grid.
            let period = self.period.as_nanos();
            let into_period = (now - tick).as_nanos() % period;
            next = now + Duration::from_nanos((period - into_period) as u64);
        }
        self.sleep.reset(next);
        Poll::Ready(tick)
    }

    /// The interval's period.
    pub fn period(&self) -> Duration {
        self.period
    }
}

impl Stream for Interval {
    type Item = Instant;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Instant>> {
        self.get_mut().poll_tick(cx).map(Some)
    }
}
