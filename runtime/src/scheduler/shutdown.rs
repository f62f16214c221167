//! Closing a loop: every live task is cancelled, its destructors running on the loop thread.

use crate::scheduler::Core;

impl Core {
    /// Cancels every live task: each is scheduled, then its runnable is dropped here, which
    /// drops its future (running its destructors on the loop thread) and wakes its
    /// `JoinHandle` with "cancelled". Repeats while destructors spawn new tasks.
    pub(crate) fn shutdown(&self) {
        loop {
            for waker in self.tasks.wakers() {
                waker.wake();
            }
            let mut dropped = false;
            loop {
                let next = self.ready.borrow_mut().pop_front().map(|(r, _)| r);
                let Some(runnable) = next.or_else(|| self.shared.injected.pop().ok()) else {
                    break;
                };
                drop(runnable);
                dropped = true;
            }
            if self.tasks.alive() == 0 {
                break;
            }
            if !dropped {
                // A task woken by another thread just before shutdown is on its way into the
                // injection queue; let that thread finish pushing it.
                std::thread::yield_now();
            }
        }
        self.timers.clear();
        self.observer.purge_names();
        self.default_pool.shutdown();
    }
}
