//! Closing a loop: every live task is cancelled, its destructors running on the loop thread.

use crate::observe::report;
use crate::scheduler::Core;
use crate::task::meta::{Runnable, TaskLabel};

/// Rounds of cancellation before shutdown gives up on destructors that keep spawning tasks.
const MAX_SHUTDOWN_ROUNDS: u32 = 64;

impl Core {
    /// Cancels every live task: each is scheduled, then its runnable is dropped here, which
    /// drops its future (running its destructors on the loop thread) and wakes its
    /// `JoinHandle` with "cancelled". Repeats while destructors spawn new tasks, for at most
    /// [`MAX_SHUTDOWN_ROUNDS`] rounds: then the tasks left are reported and leaked (never
    /// dropped, so that their destructors cannot spawn for ever), and the loop closes.
    pub(crate) fn shutdown(&self) {
        let mut rounds = 0;
        while self.tasks.alive() > 0 {
            if rounds == MAX_SHUTDOWN_ROUNDS {
                self.abandon_tasks(rounds);
                break;
            }
            rounds += 1;
            for waker in self.tasks.wakers() {
                waker.wake();
            }
            // Only the tasks queued now: the ones their destructors spawn wait for the next
            // round, so that every round ends.
            while let Ok(runnable) = self.shared.injected.pop() {
                self.ready.borrow_mut().push_back(runnable, None);
            }
            let queued = self.ready.borrow().len();
            for _ in 0..queued {
                let next = self.ready.borrow_mut().pop_front();
                drop(next);
            }
            if queued == 0 {
                // A task woken by another thread just before shutdown is on its way into the
                // injection queue; let that thread finish pushing it.
                std::thread::yield_now();
            }
        }
        self.timers.clear();
        self.observer.purge_names();
        self.default_pool.shutdown();
    }

    /// The next queued task, from the ready queue or the injection queue.
    fn next_runnable(&self) -> Option<Runnable> {
        let next = self.ready.borrow_mut().pop_front().map(|(r, _)| r);
        next.or_else(|| self.shared.injected.pop().ok())
    }

    /// Gives up on the tasks still alive after `rounds` rounds: reports them and leaks the
    /// queued ones.
    #[cold]
    fn abandon_tasks(&self, rounds: u32) {
        let mut example = None;
        while let Some(runnable) = self.next_runnable() {
            let meta = runnable.metadata();
            example.get_or_insert_with(|| TaskLabel::new(meta, self.task_name(meta.id)));
            std::mem::forget(runnable);
        }
        let example = example.map_or_else(String::new, |label| format!(" (among them {label})"));
        report::warn(format_args!(
            "closing the event loop: task destructors were still spawning tasks after {rounds} \
             rounds of cancellation; {} task(s) were left alive with their destructors not \
             run{example}. A destructor that spawns a task every time it runs keeps the loop \
             from closing: do not spawn from destructors",
            self.tasks.alive()
        ));
    }
}
