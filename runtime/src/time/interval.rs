//! [`interval`]: ticks on a fixed grid.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_core::Stream;

use crate::time::sleep::{far_future, sleep_until, Sleep};

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
        self.sleep
            .reset(next_tick(tick, self.period, Instant::now()));
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

/// The tick after `tick`, seen at `now`: one period later, or, when that is already past (the
/// task was late by a period or more), the first instant of the grid `tick + k * period` after
/// `now` (missed ticks are skipped, not delivered in a burst). A period too long to add to an
/// instant gives a tick that never comes.
fn next_tick(tick: Instant, period: Duration, now: Instant) -> Instant {
    let Some(next) = tick.checked_add(period) else {
        return far_future();
    };
    if next > now {
        return next;
    }
    let period = period.as_nanos();
    let into_period = (now - tick).as_nanos() % period;
    // `period - into_period` is at most `period`, and `next` (at least `tick + period`) exists,
    // so only an instant past `next` could fail to exist: then the tick never comes.
    u64::try_from(period - into_period)
        .ok()
        .and_then(|wait| now.checked_add(Duration::from_nanos(wait)))
        .unwrap_or_else(far_future)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::next_tick;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn on_time_ticks_follow_each_other_by_one_period() {
        let t0 = Instant::now();
        assert_eq!(next_tick(t0, 10 * MS, t0), t0 + 10 * MS);
        assert_eq!(next_tick(t0, 10 * MS, t0 + 9 * MS), t0 + 10 * MS);
    }

    #[test]
    fn late_ticks_skip_to_the_next_point_of_the_grid() {
        let t0 = Instant::now();
        // 25 ms late for a 10 ms period: 10 and 20 are missed, 30 is next.
        assert_eq!(next_tick(t0, 10 * MS, t0 + 25 * MS), t0 + 30 * MS);
        // Exactly on a grid point that is already past: the following one.
        assert_eq!(next_tick(t0, 10 * MS, t0 + 10 * MS), t0 + 20 * MS);
        assert_eq!(next_tick(t0, 10 * MS, t0 + 20 * MS), t0 + 30 * MS);
    }

    #[test]
    fn a_period_too_long_to_add_never_ticks_again() {
        let t0 = Instant::now();
        let next = next_tick(t0, Duration::MAX, t0);
        assert!(next > t0 + Duration::from_secs(86400 * 365));
    }
}
