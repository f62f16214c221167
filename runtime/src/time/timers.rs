//! [`Timers`]: the pending timers of one loop, in a hierarchical timing wheel.
//!
//! Deadlines are nanoseconds since the process's time origin ([`nanos`]). The wheel has
//! [`LEVELS`] levels of 64 slots: a slot of level `L` spans 64^`L` ns, so level 0 holds timers
//! due within 64 ns of the wheel's position (one slot per nanosecond), level 3 within 16.7 ms,
//! and level 10 the rest of the 64-bit range. A timer sits at the level of the highest base-64
//! digit in which its deadline differs from the wheel's position; when the position reaches
//! a slot of a higher level, the slot's timers move down ("cascade") to where they now belong,
//! and a timer fires when the slot of its exact deadline is reached. Inserting and removing a
//! timer cost a few array writes, whatever the number of timers.
//!
//! Timers live in a slab of 32-byte entries, allocated in pages, and a slot is a doubly linked
//! list of slab indices, so a pending timer costs 32 bytes and no allocation of its own. A timer
//! is inserted on the first poll of its future and removed when it fires or when the future is
//! dropped: cancelled timers never linger. Timers with equal deadlines fire in the order they
//! were inserted (a slot's list is first in, first out, and cascading keeps the order).
//!
//! Precision: the loop sleeps until the exact deadline (to the nanosecond) of the nearest timer.
//! A slot of level 0 holds one deadline; in a slot above, the earliest deadline is found by
//! walking the slot once, and kept for that level. Removing the timer that had it leaves its
//! deadline as a lower bound instead of walking the slot again (a server's timeouts are
//! removed far more often than they fire): the loop may then wake at that deadline, never
//! after the nearest one, move the slot down, and go back to sleep until the exact deadline.

use std::cell::{Cell, RefCell};
use std::sync::OnceLock;
use std::task::Waker;
use std::time::{Duration, Instant};

/// Levels of the wheel: 6 bits of the deadline each, 66 bits in all.
const LEVELS: usize = 11;
/// Slots per level.
const SLOTS: usize = 64;
/// Bits of a deadline per level.
const BITS: u32 = 6;
/// The end of a list; a slab index that no entry has.
const NIL: u32 = u32::MAX;
/// Entries per page of the slab (8 KiB pages).
const PAGE: usize = 256;

/// The instant deadlines are counted from: a year before the process first asked for one (or
/// as far back as the platform's clock goes), so that past instants the program may still hold
/// keep their value.
fn origin() -> Instant {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    *ORIGIN.get_or_init(|| {
        let now = Instant::now();
        [86400 * 365, 86400, 60]
            .into_iter()
            .find_map(|secs| now.checked_sub(Duration::from_secs(secs)))
            .unwrap_or(now)
    })
}

/// `instant` as nanoseconds since the process's time origin, saturating: an instant before the
/// origin is 0, one more than 584 years after it is `u64::MAX`.
#[inline]
pub(crate) fn nanos(instant: Instant) -> u64 {
    let since = instant.saturating_duration_since(origin()).as_nanos();
    u64::try_from(since).unwrap_or(u64::MAX)
}

/// The instant `nanos` nanoseconds after the process's time origin.
#[inline]
pub(crate) fn instant(nanos: u64) -> Instant {
    origin() + Duration::from_nanos(nanos)
}

/// Where a pending timer is: its index in the slab. Valid until the timer fires or is removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimerKey(
    /// The slab index.
    u32,
);

/// The pending timers of one loop. Loop thread only.
pub(crate) struct Timers {
    /// The wheel and its slab.
    wheel: RefCell<Wheel>,
    /// The wheel's position: every timer with a deadline up to this (nanoseconds since the
    /// origin) has fired and left the wheel, and every timer in it is due later. A `Sleep`
    /// compares its deadline with it instead of reading the clock.
    elapsed: Cell<u64>,
    /// The loop has closed and dropped its timers: keys no longer name slab entries.
    closed: Cell<bool>,
}

/// The state behind [`Timers`]'s `RefCell`.
struct Wheel {
    /// The slab: pages of [`PAGE`] entries, entry `i` at `pages[i / PAGE][i % PAGE]`. Pages are
    /// never freed before the loop closes; a freed entry is reused by the next timer.
    pages: Vec<Box<[Entry]>>,
    /// The first free entry, chained through `Entry::next`; [`NIL`] when every entry is taken.
    free: u32,
    /// Pending timers.
    len: usize,
    /// `slots[level][slot]`: the timers of that slot, in insertion order.
    slots: [[List; SLOTS]; LEVELS],
    /// Bit `slot` of `occupied[level]` is set when that slot's list is not empty.
    occupied: [u64; LEVELS],
    /// Scratch space of `fire_expired`: the due timers of a slot, as `(deadline, index)`.
    due: Vec<(u64, u32)>,
    /// `earliest[level]`: `(slot, deadline)`, no deadline in that slot of `level` is earlier
    /// than `deadline`. Exact when the slot was walked; it stays a lower bound when the timer
    /// that had it is removed (so that removing timers never makes the loop walk a slot
    /// again). Dropped when the slot empties or moves down, or once the wheel has passed it.
    earliest: [Option<(u8, u64)>; LEVELS],
}

/// A timer in the slab, or a free entry.
struct Entry {
    /// The deadline, in nanoseconds since the origin.
    when: u64,
    /// The waker to wake at the deadline; `None` in a free entry.
    waker: Option<Waker>,
    /// The previous timer of the slot; [`NIL`] for the first.
    prev: u32,
    /// The next timer of the slot, or the next free entry; [`NIL`] for the last.
    next: u32,
}

/// A slot's list of timers.
#[derive(Clone, Copy)]
struct List {
    /// The first timer; [`NIL`] when empty.
    head: u32,
    /// The last timer; [`NIL`] when empty.
    tail: u32,
}

impl List {
    const EMPTY: List = List {
        head: NIL,
        tail: NIL,
    };
}

/// The level of a timer due at `when`, for a wheel at `elapsed` (`when > elapsed`): the
/// highest base-64 digit in which they differ.
#[inline]
fn level_for(elapsed: u64, when: u64) -> usize {
    let differ = (elapsed ^ when) | (SLOTS as u64 - 1);
    ((63 - differ.leading_zeros()) / BITS) as usize
}

/// The slot of a timer due at `when` in `level`.
#[inline]
fn slot_for(when: u64, level: usize) -> usize {
    ((when >> (BITS * level as u32)) % SLOTS as u64) as usize
}

/// When slot `slot` of `level` starts, for a wheel at `elapsed`: the digits of `elapsed` above
/// `level`, then `slot`, then zeros.
#[inline]
fn slot_start(elapsed: u64, level: usize, slot: usize) -> u64 {
    let shift = BITS * level as u32;
    let above = elapsed
        .checked_shr(shift + BITS)
        .and_then(|high| high.checked_shl(shift + BITS))
        .unwrap_or(0);
    above | ((slot as u64) << shift)
}

impl Wheel {
    fn new() -> Self {
        Wheel {
            pages: Vec::new(),
            free: NIL,
            len: 0,
            slots: [[List::EMPTY; SLOTS]; LEVELS],
            occupied: [0; LEVELS],
            due: Vec::new(),
            earliest: [None; LEVELS],
        }
    }

    #[inline]
    fn entry(&mut self, index: u32) -> &mut Entry {
        let index = index as usize;
        &mut self.pages[index / PAGE][index % PAGE]
    }

    /// A free entry holding `when` and `waker`, in no list yet.
    fn allocate(&mut self, when: u64, waker: Waker) -> u32 {
        if self.free == NIL {
            let first = self.pages.len() * PAGE;
            let page: Box<[Entry]> = (0..PAGE)
                .map(|i| Entry {
                    when: 0,
                    waker: None,
                    prev: NIL,
                    next: if i + 1 < PAGE {
                        (first + i + 1) as u32
                    } else {
                        NIL
                    },
                })
                .collect();
            assert!(
                first + PAGE <= NIL as usize,
                "evloop: more than 4 billion pending timers"
            );
            self.pages.push(page);
            self.free = first as u32;
        }
        let index = self.free;
        let entry = self.entry(index);
        let next_free = entry.next;
        entry.when = when;
        entry.waker = Some(waker);
        self.free = next_free;
        self.len += 1;
        index
    }

    /// Frees the entry `index` (in no list) and returns its waker.
    fn release(&mut self, index: u32) -> Option<Waker> {
        let free = self.free;
        let entry = self.entry(index);
        let waker = entry.waker.take();
        entry.next = free;
        entry.prev = NIL;
        self.free = index;
        self.len -= 1;
        waker
    }

    /// Appends entry `index` to the slot of its deadline, for a wheel at `elapsed`.
    fn link(&mut self, index: u32, elapsed: u64) {
        let when = self.entry(index).when;
        let level = level_for(elapsed, when);
        let slot = slot_for(when, level);
        let tail = self.slots[level][slot].tail;
        {
            let entry = self.entry(index);
            entry.prev = tail;
            entry.next = NIL;
        }
        if tail == NIL {
            self.slots[level][slot].head = index;
            self.occupied[level] |= 1 << slot;
        } else {
            self.entry(tail).next = index;
        }
        self.slots[level][slot].tail = index;
        if let Some((known, earliest)) = &mut self.earliest[level] {
            if usize::from(*known) == slot {
                *earliest = (*earliest).min(when);
            }
        }
    }

    /// Takes entry `index` out of its slot's list, for a wheel at `elapsed`.
    fn unlink(&mut self, index: u32, elapsed: u64) {
        let (when, prev, next) = {
            let entry = self.entry(index);
            (entry.when, entry.prev, entry.next)
        };
        let level = level_for(elapsed, when);
        let slot = slot_for(when, level);
        match prev {
            NIL => self.slots[level][slot].head = next,
            prev => self.entry(prev).next = next,
        }
        match next {
            NIL => self.slots[level][slot].tail = prev,
            next => self.entry(next).prev = prev,
        }
        if self.slots[level][slot].head == NIL {
            self.occupied[level] &= !(1 << slot);
            self.forget_earliest(level, slot);
        }
    }

    /// Drops what is known of the earliest deadline of slot `slot` of `level`.
    #[inline]
    fn forget_earliest(&mut self, level: usize, slot: usize) {
        if matches!(self.earliest[level], Some((known, _)) if usize::from(known) == slot) {
            self.earliest[level] = None;
        }
    }

    /// Takes slot `slot` of `level` out of the wheel and returns its first timer.
    fn take_slot(&mut self, level: usize, slot: usize) -> u32 {
        self.occupied[level] &= !(1 << slot);
        self.forget_earliest(level, slot);
        std::mem::replace(&mut self.slots[level][slot], List::EMPTY).head
    }

    /// The slot that holds the nearest timers: the first occupied slot of the lowest occupied
    /// level (every occupied slot of a level lies after the wheel's position in that level,
    /// and a level's timers are all due before those of the levels above).
    #[inline]
    fn nearest_slot(&self) -> Option<(usize, usize)> {
        let level = self.occupied.iter().position(|&bits| bits != 0)?;
        Some((level, self.occupied[level].trailing_zeros() as usize))
    }

    /// The earliest deadline in slot `slot` of `level`.
    fn earliest_in(&mut self, level: usize, slot: usize) -> u64 {
        let mut index = self.slots[level][slot].head;
        let mut earliest = u64::MAX;
        while index != NIL {
            let entry = self.entry(index);
            earliest = earliest.min(entry.when);
            index = entry.next;
        }
        earliest
    }
}

impl Timers {
    pub(crate) fn new() -> Self {
        Timers {
            wheel: RefCell::new(Wheel::new()),
            elapsed: Cell::new(nanos(Instant::now())),
            closed: Cell::new(false),
        }
    }

    /// Whether the timer due at `when` has fired (and so left the wheel).
    #[inline]
    pub(crate) fn has_fired(&self, when: u64) -> bool {
        when <= self.elapsed.get()
    }

    /// Adds a timer due at `when` that wakes `waker`. A deadline that has already fired is
    /// moved to the next nanosecond: it fires at the next step 3.
    #[inline]
    pub(crate) fn insert(&self, when: u64, waker: Waker) -> TimerKey {
        let elapsed = self.elapsed.get();
        let when = when.max(elapsed.saturating_add(1));
        let mut wheel = self.wheel.borrow_mut();
        let index = wheel.allocate(when, waker);
        wheel.link(index, elapsed);
        TimerKey(index)
    }

    /// Replaces the waker of the pending timer `key` (due at `when`) if it would not wake the
    /// same task.
    #[inline]
    pub(crate) fn update_waker(&self, key: TimerKey, when: u64, waker: &Waker) {
        if self.has_fired(when) || self.closed.get() {
            return;
        }
        let mut wheel = self.wheel.borrow_mut();
        let entry = wheel.entry(key.0);
        debug_assert_eq!(entry.when, when, "a timer key outlived its timer");
        if let Some(w) = &mut entry.waker {
            if !w.will_wake(waker) {
                w.clone_from(waker);
            }
        }
    }

    /// Removes the timer `key` due at `when`, unless it has fired.
    #[inline]
    pub(crate) fn remove(&self, key: TimerKey, when: u64) {
        if self.has_fired(when) || self.closed.get() {
            return;
        }
        let waker = {
            let mut wheel = self.wheel.borrow_mut();
            debug_assert_eq!(
                wheel.entry(key.0).when,
                when,
                "a timer key outlived its timer"
            );
            wheel.unlink(key.0, self.elapsed.get());
            wheel.release(key.0)
        };
        // Dropped once the wheel is no longer borrowed.
        drop(waker);
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.wheel.borrow().len == 0
    }

    /// Whether the loop has closed and dropped its timers.
    #[inline]
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.get()
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.wheel.borrow().len
    }

    /// When the loop must wake up for the nearest timer, if any is pending: its deadline, or,
    /// after that timer was removed, the deadline it had (never later than the nearest).
    #[inline]
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let elapsed = self.elapsed.get();
        let mut wheel = self.wheel.borrow_mut();
        let (level, slot) = wheel.nearest_slot()?;
        if level == 0 {
            // One deadline per slot: the slot's start.
            return Some(instant(slot_start(elapsed, level, slot)));
        }
        let when = match wheel.earliest[level] {
            Some((known, earliest)) if usize::from(known) == slot && earliest > elapsed => earliest,
            _ => {
                let earliest = wheel.earliest_in(level, slot);
                wheel.earliest[level] = Some((slot as u8, earliest));
                earliest
            }
        };
        Some(instant(when))
    }

    /// Removes every timer whose deadline is at or before `now`, collecting their wakers in
    /// deadline order (insertion order for equal deadlines); returns how many fired.
    pub(crate) fn fire_expired(&self, now: Instant, wakers: &mut Vec<Waker>) -> usize {
        let now = nanos(now);
        let mut elapsed = self.elapsed.get();
        if now <= elapsed {
            return 0;
        }
        let mut wheel = self.wheel.borrow_mut();
        let mut due = std::mem::take(&mut wheel.due);
        let mut fired = 0;
        while let Some((level, slot)) = wheel.nearest_slot() {
            let start = slot_start(elapsed, level, slot);
            if start > now {
                break;
            }
            // The wheel moves to the slot's start. The slot's timers due by `now` fire, in
            // deadline order (a slot above level 0 spans several deadlines, in insertion order;
            // every other timer is due later than all of them); the others move down to the
            // level they now belong to.
            elapsed = start;
            let mut index = wheel.take_slot(level, slot);
            while index != NIL {
                let (when, next) = {
                    let entry = wheel.entry(index);
                    (entry.when, entry.next)
                };
                if when <= now {
                    due.push((when, index));
                } else {
                    wheel.link(index, elapsed);
                }
                index = next;
            }
            // Stable: equal deadlines keep their insertion order.
            due.sort_by_key(|&(when, _)| when);
            for &(_, index) in &due {
                wakers.extend(wheel.release(index));
            }
            fired += due.len();
            due.clear();
        }
        if due.capacity() > PAGE {
            due = Vec::new();
        }
        wheel.due = due;
        self.elapsed.set(now);
        fired
    }

    /// Drops every pending timer (at shutdown, once their tasks are gone). Removing the timer
    /// of a `Sleep` that outlives the loop, or replacing its waker, then does nothing.
    pub(crate) fn clear(&self) {
        self.closed.set(true);
        let wheel = std::mem::replace(&mut *self.wheel.borrow_mut(), Wheel::new());
        drop(wheel);
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::sync::Arc;
    use std::task::{Wake, Waker};
    use std::time::{Duration, Instant};

    use super::{instant, level_for, nanos, slot_start, Timers, LEVELS};

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

    /// An empty wheel placed at a multiple of 2^48 ns (about 78 hours), so that the level of
    /// a deadline depends only on its distance from the position.
    fn wheel() -> (Timers, Instant) {
        let timers = Timers::new();
        let aligned = ((timers.elapsed.get() >> 48) + 1) << 48;
        timers.elapsed.set(aligned);
        (timers, instant(aligned))
    }

    fn insert(timers: &Timers, at: Instant, n: usize) -> super::TimerKey {
        timers.insert(nanos(at), waker(n))
    }

    #[test]
    fn fires_exactly_the_timers_due_by_now_in_deadline_order() {
        let (timers, t0) = wheel();
        let ms = Duration::from_millis(1);
        insert(&timers, t0 + 3 * ms, 3);
        insert(&timers, t0 + ms, 1);
        insert(&timers, t0 + 2 * ms, 2);
        insert(&timers, t0 + 4 * ms, 4);
        assert!(timers.next_deadline().unwrap() <= t0 + ms);

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
    fn equal_deadlines_fire_in_insertion_order_across_levels() {
        let (timers, t0) = wheel();
        let at = t0 + Duration::from_millis(5);
        for n in 0..10 {
            insert(&timers, at, n);
        }
        // Later insertions of the same deadline, made when the wheel is closer to it (at a
        // lower level), still fire after the earlier ones.
        fire(&timers, at - Duration::from_micros(100));
        for n in 10..15 {
            insert(&timers, at, n);
        }
        fire(&timers, at - Duration::from_nanos(10));
        insert(&timers, at, 15);
        assert_eq!(fire(&timers, at), (0..16).collect::<Vec<_>>());
    }

    #[test]
    fn the_nearest_deadline_is_exact_at_every_level() {
        let (timers, t0) = wheel();
        // Odd offsets, so that no deadline falls on a slot boundary.
        for offset in [
            Duration::from_nanos(37),
            Duration::from_nanos(3_001),
            Duration::from_micros(203) + Duration::from_nanos(7),
            Duration::from_millis(9) + Duration::from_nanos(11),
            Duration::from_secs(60) + Duration::from_nanos(13),
            Duration::from_secs(86_400 * 400) + Duration::from_nanos(17),
        ] {
            let at = t0 + offset;
            let key = timers.insert(nanos(at), waker(0));
            assert_eq!(timers.next_deadline(), Some(at), "{offset:?}");
            timers.remove(key, nanos(at));
        }
        assert!(timers.is_empty());
    }

    #[test]
    fn after_the_nearest_timer_is_removed_the_loop_may_wake_early_but_never_late() {
        let (timers, t0) = wheel();
        // Three timers in one level-4 slot (16.7 ms wide).
        let at = |us: u64| t0 + Duration::from_millis(20) + Duration::from_micros(us);
        let first = insert(&timers, at(100), 1);
        insert(&timers, at(300), 3);
        insert(&timers, at(200), 2);
        assert_eq!(timers.next_deadline(), Some(at(100)));
        timers.remove(first, nanos(at(100)));
        // The slot is not walked again: the removed deadline stays as a bound.
        let next = timers.next_deadline().unwrap();
        assert!(next <= at(200));
        // Waking then moves the slot down, after which the deadline is exact again.
        assert_eq!(fire(&timers, next), Vec::<usize>::new());
        assert_eq!(timers.next_deadline(), Some(at(200)));
        assert_eq!(fire(&timers, at(300)), [2, 3]);
    }

    #[test]
    fn what_is_known_of_a_slot_does_not_outlive_it() {
        let (timers, t0) = wheel();
        // A level-2 slot (4 us wide) is looked at, then emptied by a removal.
        let a = t0 + Duration::from_micros(10);
        let key = insert(&timers, a, 1);
        assert_eq!(timers.next_deadline(), Some(a));
        timers.remove(key, nanos(a));
        // The wheel moves one level-3 block (262 us) on, and the same slot number, now a
        // later time, gets a timer: its deadline, not the old one, is the nearest.
        let block = Duration::from_nanos(1 << 18);
        fire(&timers, t0 + block);
        let b = t0 + block + Duration::from_micros(10) + Duration::from_nanos(5);
        insert(&timers, b, 2);
        assert_eq!(timers.next_deadline(), Some(b));
        assert_eq!(fire(&timers, b), [2]);
    }

    #[test]
    fn a_far_timer_moves_down_and_fires_at_its_exact_deadline_in_one_wake_up() {
        // One minute ahead, from positions on and just before boundaries of high levels, and
        // one hour ahead.
        let (_, aligned) = wheel();
        let minute = Duration::from_secs(60) + Duration::from_nanos(12_345);
        let cases = [
            (aligned, minute),
            (aligned - Duration::from_nanos(1), minute),
            (aligned - Duration::from_secs(30), minute),
            (aligned - Duration::from_secs(1), minute),
            (
                aligned,
                Duration::from_secs(3600) + Duration::from_nanos(12_345),
            ),
        ];
        for (position, ahead) in cases {
            let timers = Timers::new();
            timers.elapsed.set(nanos(position));
            let at = position + ahead;
            insert(&timers, at, 7);
            // Follow the loop: wake up when asked, fire, ask again.
            let mut early = 0;
            loop {
                let next = timers.next_deadline().expect("the timer is pending");
                assert!(next <= at);
                let fired = fire(&timers, next);
                if !fired.is_empty() {
                    assert_eq!(fired, [7]);
                    assert_eq!(next, at, "fired at its exact deadline");
                    break;
                }
                early += 1;
                assert!(early < LEVELS, "no progress");
                assert!(timers.len() == 1);
            }
            assert_eq!(early, 0, "{early} early wake-ups for {ahead:?}");
            assert!(timers.has_fired(nanos(at)));
        }
    }

    #[test]
    fn timers_of_one_slot_fired_together_fire_in_deadline_order() {
        let (timers, t0) = wheel();
        // One level-3 slot, deadlines inserted out of order, some equal.
        let offsets = [70u64, 10, 50, 10, 90, 30, 50, 20];
        for (n, us) in offsets.iter().enumerate() {
            insert(&timers, t0 + Duration::from_micros(300 + us), n);
        }
        // Part of the slot is due: only that part fires, in order.
        assert_eq!(fire(&timers, t0 + Duration::from_micros(345)), [1, 3, 7, 5]);
        assert_eq!(fire(&timers, t0 + Duration::from_secs(1)), [2, 6, 0, 4]);
        assert!(timers.is_empty());
    }

    #[test]
    fn a_fired_deadline_is_known_without_the_wheel() {
        let (timers, t0) = wheel();
        let ms = Duration::from_millis(1);
        let key = insert(&timers, t0 + 2 * ms, 0);
        assert!(!timers.has_fired(nanos(t0 + 2 * ms)));
        fire(&timers, t0 + 2 * ms);
        assert!(timers.has_fired(nanos(t0 + 2 * ms)));
        assert!(!timers.has_fired(nanos(t0 + 3 * ms)));
        // Removing a timer that already fired is harmless, even once its entry is reused.
        let other = insert(&timers, t0 + 3 * ms, 1);
        assert_eq!(other, key);
        timers.remove(key, nanos(t0 + 2 * ms));
        assert_eq!(timers.len(), 1);
        assert_eq!(fire(&timers, t0 + 3 * ms), [1]);
    }

    #[test]
    fn removed_timers_never_fire_and_wakers_can_be_replaced() {
        let (timers, t0) = wheel();
        let at = t0 + Duration::from_millis(1);
        let a = insert(&timers, at, 1);
        let b = insert(&timers, at, 2);
        let c = insert(&timers, at, 3);
        timers.remove(b, nanos(at));
        timers.update_waker(c, nanos(at), &waker(30));
        timers.remove(a, nanos(at));
        assert_eq!(fire(&timers, at), [30]);
    }

    #[test]
    fn thousands_of_timers_fire_in_order_and_free_entries_are_reused() {
        let (timers, t0) = wheel();
        // Deadlines over every level's range, in a scrambled order.
        let deadlines: Vec<Duration> = (0..3000u64)
            .map(|i| Duration::from_nanos((i * 7_919_993 % 3001).pow(3) + 1))
            .collect();
        let keys: Vec<_> = deadlines
            .iter()
            .enumerate()
            .map(|(n, &d)| insert(&timers, t0 + d, n))
            .collect();
        // Remove every third.
        for (n, key) in keys.iter().enumerate().filter(|(n, _)| n % 3 == 0) {
            timers.remove(*key, nanos(t0 + deadlines[n]));
        }
        let mut expected: Vec<(Duration, usize)> = deadlines
            .iter()
            .enumerate()
            .filter(|(n, _)| n % 3 != 0)
            .map(|(n, &d)| (d, n))
            .collect();
        expected.sort();
        let mut woken = Vec::new();
        let end = t0 + *deadlines.iter().max().unwrap();
        while let Some(next) = timers.next_deadline() {
            woken.extend(fire(&timers, next.min(end)));
        }
        assert_eq!(woken, expected.iter().map(|&(_, n)| n).collect::<Vec<_>>());
        // The freed entries are reused before a new page is taken.
        let pages = timers.wheel.borrow().pages.len();
        for n in 0..1000 {
            insert(&timers, end + Duration::from_millis(1), n);
        }
        assert_eq!(timers.wheel.borrow().pages.len(), pages);
    }

    #[test]
    fn levels_and_slot_starts() {
        assert_eq!(level_for(0, 1), 0);
        assert_eq!(level_for(0, 63), 0);
        assert_eq!(level_for(0, 64), 1);
        assert_eq!(level_for(63, 64), 1);
        assert_eq!(level_for(64, 127), 0);
        assert_eq!(level_for(0, u64::MAX), 10);
        assert_eq!(slot_start(130, 0, 5), 133);
        assert_eq!(slot_start(130, 1, 3), 3 * 64);
        assert_eq!(slot_start(u64::MAX - 1, 10, 15), 15 << 60);
        assert_eq!(slot_start(u64::MAX - 1, 0, 63), u64::MAX);
    }

    #[test]
    fn the_wheel_agrees_with_an_ordered_map_under_random_operations() {
        use std::collections::BTreeMap;

        // xorshift64: deterministic, so a failure replays.
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut random = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let (timers, _) = wheel();
        // The model: (deadline, insertion number) -> (key, timer number).
        let mut model: BTreeMap<(u64, u64), (super::TimerKey, usize)> = BTreeMap::new();
        let mut inserted = 0u64;
        for step in 0..20_000 {
            let now = timers.elapsed.get();
            match random() % 8 {
                // Insert, with a delay spread over every level (log-uniform up to 2^40 ns).
                0..=3 => {
                    let bits = random() % 41;
                    let delay = 1 + random() % (1u64 << bits);
                    let when = now + delay;
                    let n = inserted as usize;
                    let key = timers.insert(when, waker(n));
                    model.insert((when, inserted), (key, n));
                    inserted += 1;
                }
                // Remove a pending timer.
                4 if !model.is_empty() => {
                    let nth = (random() % model.len() as u64) as usize;
                    let (&(when, seq), &(key, _)) = model.iter().nth(nth).unwrap();
                    timers.remove(key, when);
                    model.remove(&(when, seq));
                }
                // Fire: at the deadline the wheel asks for, or somewhat later.
                _ => {
                    let Some(next) = timers.next_deadline() else {
                        continue;
                    };
                    let next = nanos(next);
                    let earliest = model.keys().next().unwrap().0;
                    assert!(
                        next <= earliest,
                        "step {step}: the loop would wake too late"
                    );
                    assert!(next > now, "step {step}: the wheel asks for the past");
                    let at = match random() % 3 {
                        0 => next,
                        1 => next + random() % 100_000,
                        _ => next + random() % (1 << 32),
                    };
                    let due: Vec<usize> =
                        model.range(..(at + 1, 0)).map(|(_, &(_, n))| n).collect();
                    model.retain(|&(when, _), _| when > at);
                    assert_eq!(fire(&timers, instant(at)), due, "step {step}");
                }
            }
            assert_eq!(timers.len(), model.len(), "step {step}");
        }
    }

    #[test]
    fn the_last_nanosecond_does_not_overflow() {
        let (timers, _) = wheel();
        timers.elapsed.set(u64::MAX - 100);
        timers.insert(u64::MAX, waker(9));
        // The deadline saturates at u64::MAX nanoseconds, and finding and firing it must not
        // overflow.
        let last = instant(u64::MAX);
        assert_eq!(nanos(last), u64::MAX);
        assert_eq!(timers.next_deadline(), Some(last));
        assert_eq!(fire(&timers, last), [9]);
        assert!(timers.has_fired(u64::MAX));
    }
}
