//! [`Shared`]: the half of a loop that other threads reach, and how they wake a waiting loop.

use std::io;
use std::sync::atomic::{fence, AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;
use std::thread::{self, Thread};
use std::time::Instant;

use concurrent_queue::ConcurrentQueue;

use crate::io::poller::Poller;

use crate::task::meta::Runnable;

/// The loop is running (not waiting): it takes in the injection queue at every step 3, so a
/// wake from another thread needs no system call.
const RUNNING: u8 = 0;
/// The loop waits in the OS poller: a wake notifies the poller.
const IN_POLLER: u8 = 1;
/// The loop has neither I/O source nor timer and waits parked on its thread: a wake unparks it.
const PARKED: u8 = 2;

/// State shared between threads: wakers of the loop's tasks hold a `Weak` to it, and wake the
/// loop through it.
///
/// Its destructor may run on another thread (the last strong reference can be one that a
/// waker upgraded), so it must never drop a runnable: see its `Drop`.
#[derive(Debug)]
pub(crate) struct Shared {
    /// Tasks woken from other threads; drained into the ready queue in step 3.
    pub(crate) injected: ConcurrentQueue<Runnable>,
    /// The OS multiplexer (also the loop's reactor's); other threads only call
    /// [`Poller::notify`] on it.
    poller: Arc<Poller>,
    /// How the loop waits, if it does: `RUNNING`, `IN_POLLER` or `PARKED`. Written by the loop
    /// before and after each wait, and by the first waker that wakes it (back to `RUNNING`).
    waiting: AtomicU8,
    /// The loop's thread, unparked when the loop waits `PARKED`.
    thread: Thread,
}

impl Shared {
    /// The shared half of a loop that runs on the calling thread and polls `poller`.
    pub(crate) fn new(poller: Arc<Poller>) -> Self {
        Shared {
            injected: ConcurrentQueue::unbounded(),
            poller,
            waiting: AtomicU8::new(RUNNING),
            thread: thread::current(),
        }
    }

    /// Wakes the loop after something it must see (a task in the injection queue, the
    /// `block_on` future's flag) was published: nothing if it is running, a poller notification
    /// or an unpark if it waits. One system call at most, from the first waker only.
    pub(crate) fn wake(&self) {
        // Orders the caller's publication before the read of `waiting` (see `wait`).
        fence(Ordering::SeqCst);
        if self.waiting.load(Ordering::Relaxed) == RUNNING {
            return;
        }
        match self.waiting.swap(RUNNING, Ordering::Relaxed) {
            // Notification failures only happen when the poller is gone, i.e. the loop closed.
            IN_POLLER => drop(self.poller.notify()),
            PARKED => self.thread.unpark(),
            _ => {}
        }
    }

    /// Waits for a wake from another thread and, with `in_poller`, in the OS poller with `poll`
    /// until `deadline` (`None`: no deadline) or an I/O event; without (no I/O source, no
    /// timer: only another thread can wake the loop), parked on its thread, which costs two
    /// futex calls per wake-up instead of the poller's five system calls. (Timers stay in the
    /// poller: its timerfd fires at the deadline, where a timed park would add the kernel's
    /// timer slack, 50 us by default.) Returns at once if the injection queue is not empty or
    /// `main_woken` is set.
    ///
    /// # Errors
    ///
    /// The poller's error.
    pub(crate) fn wait(
        &self,
        deadline: Option<Instant>,
        in_poller: bool,
        main_woken: &AtomicBool,
        poll: impl FnOnce(Option<Instant>) -> io::Result<()>,
    ) -> io::Result<()> {
        let how = if in_poller { IN_POLLER } else { PARKED };
        self.waiting.store(how, Ordering::Relaxed);
        // Pairs with the fence in `wake`: either the waker sees `how` and wakes this thread, or
        // this thread sees what the waker published and does not wait.
        fence(Ordering::SeqCst);
        let result = if !self.injected.is_empty() || main_woken.load(Ordering::Relaxed) {
            Ok(())
        } else if in_poller {
            poll(deadline)
        } else {
            thread::park();
            Ok(())
        };
        self.waiting.store(RUNNING, Ordering::Relaxed);
        result
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Runnables of `!Send` futures must not be dropped off the loop thread. The queue is
        // empty here in practice (shutdown drains it until no task is alive, and no task can
        // be scheduled after that), but if one were left, leaking it is the safe choice.
        while let Ok(runnable) = self.injected.pop() {
            std::mem::forget(runnable);
        }
    }
}
