//! [`Timers`]: the pending timers of one loop, in deadline order.
//!
//! All pending timers of a loop live in one ordered map keyed by `(deadline, id)`: the first key
//! is the nearest deadline, which bounds how long step 2 of the cycle may wait in the poller.
//! A timer is inserted on the first poll of its future and removed when it fires or when the
//! future is dropped, so cancelled timers never linger. Deadlines are passed to the poller with
//! nanosecond precision (no rounding up to whole milliseconds).

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::task::Waker;
use std::time::{Duration, Instant};

/// The pending timers of one loop. Loop thread only.
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
    #[inline]
    fn key(&self, deadline: Instant, id: u64) -> (u64, u64) {
        let nanos = deadline.saturating_duration_since(self.epoch).as_nanos();
        (u64::try_from(nanos).unwrap_or(u64::MAX), id)
    }

    /// Whether the timer with this deadline has fired (and so left the map).
    #[inline]
    pub(crate) fn has_fired(&self, deadline: Instant) -> bool {
        self.key(deadline, 0).0 <= self.fired_up_to.get()
    }

    #[inline]
    pub(crate) fn insert(&self, deadline: Instant, waker: Waker) -> u64 {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        self.map.borrow_mut().insert(self.key(deadline, id), waker);
        id
    }

    #[inline]
    pub(crate) fn update_waker(&self, deadline: Instant, id: u64, waker: &Waker) {
        if let Some(w) = self.map.borrow_mut().get_mut(&self.key(deadline, id)) {
            if !w.will_wake(waker) {
                w.clone_from(waker);
            }
        }
    }

    #[inline]
    pub(crate) fn remove(&self, deadline: Instant, id: u64) {
        self.map.borrow_mut().remove(&self.key(deadline, id));
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.map.borrow().is_empty()
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.map.borrow().len()
    }

    /// The nearest deadline, if any timer is pending.
    #[inline]
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

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::sync::Arc;
    use std::task::{Wake, Waker};
    use std::time::{Duration, Instant};

    use super::Timers;

    /// Fires the timers due at `now` and returns the numbers of the wakers woken, in order.
    fn fire(timers: &Timers, now: Instant) -> Vec<usize> {
        let mut wakers = Vec::new();
        let fired = timers.fire_expired(now, &mut wakers);
        assert_eq!(fired, wakers.len());
        wakers.into_iter().for_each(Waker::wake);
        LOG.with(|l| std::mem::take(&mut *l.borrow_mut()))
    }

    thread_local! {
        static LOG: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
    }

    /// A waker that records `n` in this thread's log (tests wake on their own thread).
    fn waker(n: usize) -> Waker {
        struct Logged(usize);
        impl Wake for Logged {
            fn wake(self: Arc<Self>) {
                LOG.with(|l| l.borrow_mut().push(self.0));
            }
        }
        Waker::from(Arc::new(Logged(n)))
    }

    #[test]
    fn fires_exactly_the_timers_due_by_now_in_deadline_order() {
        let timers = Timers::new();
        let t0 = timers.epoch;
        let ms = Duration::from_millis(1);
        timers.insert(t0 + 3 * ms, waker(3));
        timers.insert(t0 + ms, waker(1));
        timers.insert(t0 + 2 * ms, waker(2));
        timers.insert(t0 + 4 * ms, waker(4));
        assert_eq!(timers.next_deadline(), Some(t0 + ms));

        assert_eq!(fire(&timers, t0), Vec::<usize>::new());
        // A deadline equal to `now` is due; one a nanosecond later is not.
        assert_eq!(fire(&timers, t0 + 2 * ms), [1, 2]);
        assert_eq!(
            fire(&timers, t0 + 3 * ms - Duration::from_nanos(1)),
            Vec::<usize>::new()
        );
        assert_eq!(timers.len(), 2);
        assert_eq!(fire(&timers, t0 + 10 * ms), [3, 4]);
        assert!(timers.is_empty());
        assert_eq!(timers.next_deadline(), None);
    }

    #[test]
    fn equal_deadlines_fire_in_creation_order() {
        let timers = Timers::new();
        let at = timers.epoch + Duration::from_millis(5);
        for n in 0..10 {
            timers.insert(at, waker(n));
        }
        assert_eq!(fire(&timers, at), (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn a_fired_deadline_is_known_without_the_map() {
        let timers = Timers::new();
        let t0 = timers.epoch;
        let ms = Duration::from_millis(1);
        let id = timers.insert(t0 + 2 * ms, waker(0));
        assert!(!timers.has_fired(t0 + 2 * ms));
        fire(&timers, t0 + 2 * ms);
        assert!(timers.has_fired(t0 + 2 * ms));
        assert!(!timers.has_fired(t0 + 3 * ms));
        // Removing a timer that already fired is harmless.
        timers.remove(t0 + 2 * ms, id);
        assert!(timers.is_empty());
    }

    #[test]
    #[inline]
    fn removed_timers_never_fire_and_wakers_can_be_replaced() {
        let timers = Timers::new();
        let t0 = timers.epoch;
        let ms = Duration::from_millis(1);
        let a = timers.insert(t0 + ms, waker(1));
        let b = timers.insert(t0 + ms, waker(2));
        timers.remove(t0 + ms, a);
        timers.update_waker(t0 + ms, b, &waker(20));
        assert_eq!(fire(&timers, t0 + ms), [20]);
    }

    #[test]
    fn the_last_nanosecond_does_not_overflow() {
        let timers = Timers::new();
        let far = timers.epoch + Duration::from_secs(u64::MAX / 1_000_000_000 + 1);
        timers.insert(far, waker(9));
        // The key saturates at u64::MAX nanoseconds, and firing at that key must not overflow.
        assert_eq!(fire(&timers, far), [9]);
    }
}
