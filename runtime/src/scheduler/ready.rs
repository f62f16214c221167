//! The ready queue: the lecture's queue of tasks that can run now.

use std::collections::VecDeque;
use std::time::Instant;

use crate::task::meta::Runnable;

/// Entries a ready queue keeps room for however small it gets (32 KiB of runnables): below
/// this, memory kept after a burst is not worth a reallocation.
const KEEP: usize = 4096;

/// Runnable tasks in the order they became ready and, in poll timing mode, when each became
/// ready (a second queue kept in step, so the queue of runnables stays dense). Loop thread
/// only.
#[derive(Debug)]
pub(crate) struct ReadyQueue {
    /// The runnables.
    runnables: VecDeque<Runnable>,
    /// When each runnable became ready, in poll timing mode; `None` otherwise.
    since: Option<VecDeque<Instant>>,
}

impl ReadyQueue {
    /// An empty queue; `timing`: keep the instant each task became ready.
    pub(crate) fn new(timing: bool) -> Self {
        ReadyQueue {
            runnables: VecDeque::new(),
            since: timing.then(VecDeque::new),
        }
    }

    /// Queues a task that became ready at `ready_at` (in poll timing mode; `None`: now).
    #[inline]
    pub(crate) fn push_back(&mut self, runnable: Runnable, ready_at: Option<Instant>) {
        self.runnables.push_back(runnable);
        if let Some(since) = &mut self.since {
            since.push_back(ready_at.unwrap_or_else(Instant::now));
        }
    }

    /// The next task, and when it became ready in poll timing mode.
    #[inline]
    pub(crate) fn pop_front(&mut self) -> Option<(Runnable, Option<Instant>)> {
        let runnable = self.runnables.pop_front()?;
        let since = self.since.as_mut().and_then(VecDeque::pop_front);
        Some((runnable, since))
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.runnables.len()
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.runnables.is_empty()
    }

    /// Gives memory back after a burst: at the end of step 1, a queue holding less than a
    /// sixteenth of its capacity (and more than [`KEEP`] entries of room) shrinks to twice its
    /// length, at least [`KEEP`]. Spawning 100,000 tasks at once grows the queue to 1 MiB, which
    /// would otherwise stay with the loop for good; a loop whose cycles alternate between tens
    /// of thousands of ready tasks and a few pays one reallocation per burst, small next to
    /// polling the burst's tasks.
    #[inline]
    pub(crate) fn trim(&mut self) {
        let (len, capacity) = (self.runnables.len(), self.runnables.capacity());
        if capacity > KEEP && len <= capacity / 16 {
            self.shrink(len);
        }
    }

    #[cold]
    fn shrink(&mut self, len: usize) {
        let keep = KEEP.max(2 * len);
        self.runnables.shrink_to(keep);
        if let Some(since) = &mut self.since {
            since.shrink_to(keep);
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Runnable> {
        self.runnables.iter()
    }
}

#[cfg(test)]
mod tests {
    use std::panic::Location;

    use super::{ReadyQueue, KEEP};
    use crate::task::meta::{Runnable, TaskId, TaskMeta};

    /// A runnable of a task that does nothing, never scheduled again.
    fn runnable() -> Runnable {
        let meta = TaskMeta::new(TaskId::new(1), Location::caller(), 0);
        let (runnable, task) = async_task::Builder::new()
            .metadata(meta)
            .spawn(|_| async {}, |_| {});
        task.detach();
        runnable
    }

    #[test]
    fn a_drained_burst_gives_its_memory_back_and_a_steady_queue_keeps_it() {
        let mut queue = ReadyQueue::new(true);
        for _ in 0..100_000 {
            queue.push_back(runnable(), None);
        }
        let burst = queue.runnables.capacity();
        // Still busy: nothing to give back.
        queue.trim();
        assert_eq!(queue.runnables.capacity(), burst);
        while queue.len() > 3 {
            queue.pop_front();
        }
        queue.trim();
        assert_eq!(queue.len(), 3);
        assert!(
            queue.runnables.capacity() < 2 * KEEP,
            "{}",
            queue.runnables.capacity()
        );
        assert!(queue.since.as_ref().unwrap().capacity() < 2 * KEEP);
        // In a queue that never held more than its floor, trimming changes nothing.
        let small = queue.runnables.capacity();
        queue.trim();
        assert_eq!(queue.runnables.capacity(), small);
        assert_eq!(queue.iter().count(), 3);
    }
}
