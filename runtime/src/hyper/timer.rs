//! [`EvloopTimer`] and [`EvloopSleep`]: hyper's timeouts on evloop's timers.
//!
//! hyper's [`Sleep`](::hyper::rt::Sleep) must be `Send + Sync`, while an evloop
//! [`Sleep`](crate::Sleep) is bound to its loop (it holds the loop's timers through an `Rc`).
//! So the handle given to hyper holds only plain data: the deadline and, once polled, the
//! thread it belongs to and a key into a thread-local table. The loop-bound `evloop::Sleep`
//! lives in that table, on the loop thread; the handle reaches it only from that thread and
//! panics with an explanation anywhere else. No `unsafe` is involved.
//!
//! A handle dropped on its own thread removes its entry at once. One dropped on another
//! thread cannot reach the table; it drops its liveness token instead, and the loop thread
//! removes entries whose token is gone the next time the table grows past twice its size at
//! the last sweep.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use slab::Slab;

thread_local! {
    /// The loop-bound sleeps of this thread's [`EvloopSleep`] handles.
    static SLEEPS: RefCell<Table> = RefCell::new(Table::new());
}

/// The loop-bound halves of the [`EvloopSleep`]s polled on one thread.
struct Table {
    /// One entry per polled handle; the key is stored in the handle.
    entries: Slab<Entry>,
    /// Sweep out entries of handles dropped elsewhere when the table reaches this size.
    sweep_at: usize,
}

/// The loop-bound half of one [`EvloopSleep`].
struct Entry {
    /// Dead once the handle is dropped (on any thread): the entry may be removed.
    handle: Weak<()>,
    /// The timer registered with the loop.
    sleep: crate::time::sleep::Sleep,
}

impl Table {
    /// Smallest size at which the table looks for entries of handles dropped elsewhere.
    const MIN_SWEEP: usize = 64;

    fn new() -> Self {
        Table {
            entries: Slab::new(),
            sweep_at: Self::MIN_SWEEP,
        }
    }

    fn insert(&mut self, entry: Entry) -> usize {
        if self.entries.len() >= self.sweep_at {
            self.entries.retain(|_, e| e.handle.strong_count() > 0);
            self.sweep_at = (2 * self.entries.len()).max(Self::MIN_SWEEP);
        }
        self.entries.insert(entry)
    }
}

/// hyper's [`Timer`](::hyper::rt::Timer) on evloop's timers: sleeps are [`EvloopSleep`]s.
///
/// Give it to hyper's connection builders (`.timer(EvloopTimer::new())`) to make their
/// timeouts work: `header_read_timeout` for HTTP/1 servers, keep-alive pings for HTTP/2.
/// Without a timer hyper leaves those timeouts off (or panics when one is set explicitly).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use evloop::hyper::EvloopTimer;
///
/// let mut http1 = hyper::server::conn::http1::Builder::new();
/// http1.timer(EvloopTimer::new()).header_read_timeout(Duration::from_secs(10));
/// ```
#[derive(Debug, Default, Clone, Copy)]
#[non_exhaustive]
pub struct EvloopTimer;

impl EvloopTimer {
    /// The timer; it holds nothing and is `Send + Sync`, as hyper requires.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use hyper::rt::Timer;
    ///
    /// evloop::run(async {
    ///     evloop::hyper::EvloopTimer::new().sleep(Duration::from_millis(5)).await;
    /// });
    /// ```
    pub fn new() -> Self {
        EvloopTimer
    }
}

impl ::hyper::rt::Timer for EvloopTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn ::hyper::rt::Sleep>> {
        Box::pin(EvloopSleep::after(duration))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn ::hyper::rt::Sleep>> {
        Box::pin(EvloopSleep::until(deadline))
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn ::hyper::rt::Sleep>>, new_deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<EvloopSleep>() {
            Some(sleep) => sleep.get_mut().reset(new_deadline),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}

/// A `Send + Sync` handle to an evloop timer, as hyper's [`Sleep`](::hyper::rt::Sleep)
/// requires; it completes at its deadline.
///
/// It may be created and moved anywhere. Its first poll registers an evloop timer with the
/// loop of the polling thread, and from then on it must be polled on that thread: polling it
/// on another thread panics (its timer lives in the first loop, which alone can fire it). It
/// may be dropped on any thread. [`reset`](Self::reset) on another thread detaches it from
/// its first thread: its next poll registers it afresh. The check is by thread: a handle kept
/// after its loop ended and polled by a later loop on the same thread still waits on the first
/// loop's timer, which never fires; hyper's handles live in the connection tasks, which end
/// with their loop, so this only concerns handles stored elsewhere (reset them first).
///
/// # Panics
///
/// Polling panics if no event loop runs on the polling thread, or if the handle was first
/// polled on another thread.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// use evloop::hyper::EvloopSleep;
///
/// fn send_sync<T: Send + Sync>(t: T) -> T { t }
///
/// evloop::run(async {
///     let start = Instant::now();
///     send_sync(EvloopSleep::after(Duration::from_millis(10))).await;
///     assert!(start.elapsed() >= Duration::from_millis(10));
/// });
/// ```
pub struct EvloopSleep {
    /// When the sleep completes.
    deadline: Instant,
    /// Where the loop-bound timer is, once the handle was polled.
    local: Option<Local>,
}

/// Where the loop-bound half of an [`EvloopSleep`] is.
struct Local {
    /// The thread whose table holds it: the loop thread that first polled the handle.
    thread: ThreadId,
    /// Its key in that table.
    key: usize,
    /// Keeps the entry alive; the entry holds the `Weak` side.
    _alive: Arc<()>,
}

impl EvloopSleep {
    /// A sleep that completes `duration` from now.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// evloop::run(async {
    ///     evloop::hyper::EvloopSleep::after(Duration::from_millis(1)).await;
    /// });
    /// ```
    pub fn after(duration: Duration) -> Self {
        // Too far to represent: never, in practice (about 30 years).
        let deadline = Instant::now()
            .checked_add(duration)
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(86400 * 365 * 30));
        Self::until(deadline)
    }

    /// A sleep that completes at `deadline` (at once, after yielding, if it has passed).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// evloop::run(async {
    ///     let deadline = Instant::now() + Duration::from_millis(5);
    ///     evloop::hyper::EvloopSleep::until(deadline).await;
    ///     assert!(Instant::now() >= deadline);
    /// });
    /// ```
    pub fn until(deadline: Instant) -> Self {
        EvloopSleep {
            deadline,
            local: None,
        }
    }

    /// When this sleep completes.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Instant;
    ///
    /// let deadline = Instant::now();
    /// assert_eq!(evloop::hyper::EvloopSleep::until(deadline).deadline(), deadline);
    /// ```
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Moves the deadline, whether or not the sleep has completed.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use evloop::hyper::EvloopSleep;
    ///
    /// evloop::run(async {
    ///     let mut sleep = EvloopSleep::after(Duration::from_secs(3600));
    ///     sleep.reset(Instant::now() + Duration::from_millis(5));
    ///     sleep.await; // in 5 ms, not in an hour
    /// });
    /// ```
    pub fn reset(&mut self, deadline: Instant) {
        self.deadline = deadline;
        let Some(local) = &self.local else { return };
        if local.thread == thread::current().id() {
            let key = local.key;
            SLEEPS.with(|table| table.borrow_mut().entries[key].sleep.reset(deadline));
        } else {
            // The entry is out of reach; dropping the token lets its thread sweep it.
            self.local = None;
        }
    }
}

impl Future for EvloopSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let here = thread::current().id();
        let key = match &this.local {
            Some(local) if local.thread == here => local.key,
            Some(local) => panic!(
                "an evloop::hyper::EvloopSleep was polled on thread {here:?}, but its timer \
                 belongs to the event loop on thread {:?}, which first polled it; hyper's \
                 connections must stay on the loop that created them (spawn them with \
                 evloop::spawn or EvloopExecutor, not on another runtime or thread)",
                local.thread
            ),
            None => {
                let alive = Arc::new(());
                let entry = Entry {
                    handle: Arc::downgrade(&alive),
                    sleep: crate::time::sleep::sleep_until(this.deadline),
                };
                let key = SLEEPS.with(|table| table.borrow_mut().insert(entry));
                this.local = Some(Local {
                    thread: here,
                    key,
                    _alive: alive,
                });
                key
            }
        };
        SLEEPS.with(|table| Pin::new(&mut table.borrow_mut().entries[key].sleep).poll(cx))
    }
}

impl ::hyper::rt::Sleep for EvloopSleep {}

impl Drop for EvloopSleep {
    fn drop(&mut self) {
        let Some(local) = &self.local else { return };
        if local.thread != thread::current().id() {
            // `alive` drops with `self`; the owning thread sweeps the entry.
            return;
        }
        // During thread exit the table may be gone already, and a drop from inside a poll of
        // the table must not panic: in both cases the entry is left for a sweep.
        let removed = SLEEPS
            .try_with(|table| {
                table
                    .try_borrow_mut()
                    .ok()
                    .and_then(|mut t| t.entries.try_remove(local.key))
            })
            .ok()
            .flatten();
        // Deregisters the loop timer, outside the table's borrow.
        drop(removed);
    }
}

impl fmt::Debug for EvloopSleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EvloopSleep")
            .field("deadline", &self.deadline)
            .field("thread", &self.local.as_ref().map(|l| l.thread))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_of_handles_dropped_on_other_threads_are_swept() {
        crate::run(async {
            let waker = std::task::Waker::noop();
            let mut cx = Context::from_waker(waker);
            let mut far = Vec::new();
            for _ in 0..200 {
                let mut sleep = EvloopSleep::after(Duration::from_secs(60));
                assert!(Pin::new(&mut sleep).poll(&mut cx).is_pending());
                far.push(sleep);
            }
            // Dropped elsewhere: their entries stay until a sweep.
            std::thread::spawn(move || drop(far)).join().unwrap();
            assert_eq!(SLEEPS.with(|t| t.borrow().entries.len()), 200);
            // The table swept at 64 and 128 entries (all alive), so the next sweep is at 256:
            // the 57th new entry finds the 200 dead ones and removes them.
            let mut kept = Vec::new();
            for _ in 0..60 {
                let mut sleep = EvloopSleep::after(Duration::from_secs(60));
                assert!(Pin::new(&mut sleep).poll(&mut cx).is_pending());
                kept.push(sleep);
            }
            assert_eq!(SLEEPS.with(|t| t.borrow().entries.len()), 60);
            // Dropped here: removed at once.
            drop(kept);
            assert_eq!(SLEEPS.with(|t| t.borrow().entries.len()), 0);
        });
    }
}
