//! [`Shared`]: the half of a loop that other threads reach.

use std::sync::Arc;

use concurrent_queue::ConcurrentQueue;
use polling::Poller;

use crate::task::meta::Runnable;

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
    pub(crate) poller: Arc<Poller>,
}

impl Shared {
    pub(crate) fn new(poller: Arc<Poller>) -> Self {
        Shared {
            injected: ConcurrentQueue::unbounded(),
            poller,
        }
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
